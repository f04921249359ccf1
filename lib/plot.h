/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plot: what every picture of a series shares, whoever draws it (the client's terminal
 * chart, the SVG image of a report or of an evidence bundle) — a sparse series joined
 * across the empty columns between its points, and the time axis's labels. Pure but for
 * the local time zone the labels are written in. */
#ifndef LEAKWATCH_PLOT_H
#define LEAKWATCH_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Joins the points of a sparse series across the empty columns between them
 * (linearly), in place: a series with fewer points than columns would otherwise be
 * drawn as dots. lo and hi are n columns, NAN where a column has no point. A gap much
 * wider than the usual spacing (more than PLOT_GAP_FACTOR times it) is a real gap in
 * the data and stays empty. */
void plot_fill_gaps(double *lo, double *hi, unsigned n);

/* Labels of a time axis: the finest part that changes between ticks. */
enum plot_tick_style {
        TICK_SECONDS,                   /* 10:00:05 */
        TICK_TIME,                      /* 10:00 */
        TICK_DAY_TIME,                  /* 11-24 10:00 */
        TICK_DAY,                       /* 11-24 */
};
/* The style for ticks step_ms apart on an axis range_ms long. */
enum plot_tick_style plot_tick_style(int64_t step_ms, int64_t range_ms);
/* The label of the tick at ms, in UTC or local time; returns its length (0: none). */
size_t plot_tick_label(bool utc, int64_t ms, enum plot_tick_style style, char *buf, size_t bufsz);

#endif
