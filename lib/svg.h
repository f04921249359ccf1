/* SPDX-License-Identifier: GPL-2.0-or-later */
/* svg: a series as an SVG image for a report, a ticket or an evidence bundle — axes
 * with round values and times, the series as a band (its min..max per pixel column, a
 * line where they agree), the trend as a dashed line, alert spans shaded and labelled.
 * Self-contained SVG 1.1, no scripts, no external references; text from processes is
 * escaped (str_escape(), then for XML). Written by the client (`leakwatch plot`) and
 * by the daemon (the chart of an evidence bundle). */
#ifndef LEAKWATCH_SVG_H
#define LEAKWATCH_SVG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SVG_MAX_SPANS 8
/* Images smaller than this have no room for axes; larger than this are a typo. */
#define SVG_MIN_WIDTH 320
#define SVG_MIN_HEIGHT 200
#define SVG_MAX_SIDE 10000

struct svg_span {
        int64_t from_ms, to_ms;
        char label[96];                 /* escaped */
};

struct svg_plot {
        int64_t from_ms, to_ms;
        unsigned width, height;         /* of the image, pixels */
        unsigned plot_x, plot_y, plot_w, plot_h;
        bool is_bytes;
        double *lo, *hi;                /* per pixel column of the plot, NAN if none */
        bool have_trend;
        double trend_slope, trend_at_from;      /* units per ms; value at trend_from_ms */
        int64_t trend_from_ms, trend_to_ms;     /* where the line is drawn */
        const char *y_title;                    /* NULL: none */
        struct svg_span spans[SVG_MAX_SPANS];
        size_t nspans;
};

/* Returns 0, -EINVAL (empty range, size out of bounds), -ENOMEM. */
int svg_init(struct svg_plot *p, int64_t from_ms, int64_t to_ms, unsigned width, unsigned height, bool is_bytes);
void svg_done(struct svg_plot *p);
void svg_add(struct svg_plot *p, int64_t t_ms, double min, double max);
/* The trend line, drawn over [from_ms, to_ms) only (the growth it describes) and within
 * the plot: value(t) = at_from + slope * (t - from_ms). */
void svg_set_trend(struct svg_plot *p, double slope_per_ms, double at_from, int64_t from_ms, int64_t to_ms);
/* The value axis's title ("memory (anon+swap)"); the time axis is titled by itself. */
void svg_set_y_title(struct svg_plot *p, const char *title);
/* label: untrusted text is fine, it is escaped. */
void svg_add_span(struct svg_plot *p, int64_t from_ms, int64_t to_ms, const char *label);

/* Writes the document (joining a sparse series across its empty pixels first). title
 * and subtitle may hold untrusted text (escaped here); times are labelled in UTC or
 * local time as utc says, sizes as IEC units. Returns 0 or -EIO (f's error). */
int svg_write(struct svg_plot *p, bool utc, FILE *f, const char *title, const char *subtitle);

#endif
