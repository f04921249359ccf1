/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chart: pictures in the terminal — a series as a braille chart across the terminal's
 * width, with its trend line and alert spans marked, and sparklines for tables.
 * Without a UTF-8 locale the same pictures are drawn in ASCII.
 *
 * A chart has a fixed number of columns; each point lands in the column of its time,
 * and a column shows the range [lowest min, highest max] of its points, so a garbage
 * collector's sawtooth is a band and a spike is visible however many points a column
 * holds. Consecutive columns are joined, so a line has no holes. */
#ifndef LEAKWATCH_CHART_H
#define LEAKWATCH_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output.h"

#define CHART_MAX_SPANS 8

struct chart_span {
        int64_t from_ms, to_ms;
};

struct chart {
        int64_t from_ms, to_ms;
        unsigned cols;                  /* character columns of the plot */
        unsigned dots;                  /* horizontal resolution: 2 per column in braille */
        unsigned label_w;               /* width of the value labels on the left */
        bool braille;
        bool is_bytes;
        double *lo, *hi;                /* per horizontal dot: the range of the points, NAN if none */
        bool have_trend;
        double trend_slope;             /* units per ms */
        double trend_at_from;           /* value at from_ms */
        struct chart_span spans[CHART_MAX_SPANS];
        size_t nspans;
};

/* Sizes a chart of [from_ms, to_ms) to the output's width. Returns 0, -EINVAL for an
 * empty range, -ENOMEM. */
int chart_init(struct chart *c, const struct out *o, int64_t from_ms, int64_t to_ms, bool is_bytes);
void chart_done(struct chart *c);

/* Adds a point (or a bucket: its min and max) at time t_ms; outside the range or not
 * finite: ignored. */
void chart_add(struct chart *c, int64_t t_ms, double min, double max);
/* The straight line value(t) = at_from + slope * (t - from_ms), slope in units per ms. */
void chart_set_trend(struct chart *c, double slope_per_ms, double at_from);
/* Marks [from_ms, to_ms) under the time axis (an alert); at most CHART_MAX_SPANS. */
void chart_add_span(struct chart *c, int64_t from_ms, int64_t to_ms);

/* Draws the chart: height rows of plot, the value labels, the time axis and its labels
 * (local time or UTC per o->utc), and a row marking the spans if there are any. Prints
 * "(no data in this range)" when no point was added. */
void chart_render(const struct chart *c, const struct out *o, unsigned height);

/* A round step for about ticks value labels over [lo, hi]: 1, 2 or 5 times a power of
 * ten — with iec, of the IEC unit the labels are printed in (KiB, MiB, GiB), and never
 * finer than the three digits such a label shows. Never below 1 (counts and exact
 * bytes are whole numbers) unless iec. Pure; for the chart and the SVG. */
double chart_nice_step(double lo, double hi, unsigned ticks, bool iec);

/* n values as n glyphs (eight levels, ▁ to █; "_.-~=+*#" without UTF-8), scaled from
 * the lowest to the highest value but over at least min_span, so noise on a flat line
 * stays flat; NAN is a blank. buf gets at most bufsz - 1 bytes. */
void chart_sparkline(const double *v, size_t n, double min_span, bool utf8, char *buf, size_t bufsz);

#endif
