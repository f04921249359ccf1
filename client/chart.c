/* SPDX-License-Identifier: GPL-2.0-or-later */
/* chart: pictures in the terminal — braille charts with a trend line and alert spans,
 * and sparklines. */
#include "chart.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plot.h"
#include "util.h"

/* Fewer plot columns than this cannot show a shape; a narrower terminal gets a
 * chart wider than itself rather than none. */
#define MIN_COLS 20
/* Value labels: an IEC size takes at most 8 characters ("1023 MiB"), an exact byte
 * count (--bytes) up to 15 digits (a petabyte), a count of descriptors or threads 8. */
#define LABEL_IEC 8
#define LABEL_EXACT 15
/* A value label every this many rows or so: enough to read a level, few enough to keep
 * the plot uncluttered. */
#define LABEL_EVERY 3
/* An IEC label ("291 MiB") shows three significant digits: a step finer than a
 * hundredth of the largest value would print two labels alike. */
#define IEC_DIGITS_STEP 100.0

/* The smallest of 1, 2, 5 times a power of ten that is at least x (> 0). */
static double ceil125(double x)
{
        double p = pow(10, floor(log10(x))), m = x / p;

        /* Rounding: 0.3 / 0.1 is 2.9999999999999996. */
        if (m <= 1 + 1e-9)
                return p;
        if (m <= 2 + 1e-9)
                return 2 * p;
        if (m <= 5 + 1e-9)
                return 5 * p;
        return 10 * p;
}

double chart_nice_step(double lo, double hi, unsigned ticks, bool iec)
{
        double big = MAX(fabs(lo), fabs(hi)), unit = 1, raw;

        if (!isfinite(lo) || !isfinite(hi))
                return 1;
        while (iec && unit * 1024 <= big && unit < 1e18)
                unit *= 1024;
        raw = (hi - lo) / MAX(ticks, 1u) / unit;
        if (iec)
                raw = MAX(raw, big / unit / IEC_DIGITS_STEP);
        else
                raw = MAX(raw, 1.0);
        if (!(raw > 0))
                return unit;
        return ceil125(raw) * unit;
}

int chart_init(struct chart *c, const struct out *o, int64_t from_ms, int64_t to_ms, bool is_bytes)
{
        unsigned w;

        if (to_ms <= from_ms)
                return -EINVAL;
        *c = (struct chart){ .from_ms = from_ms, .to_ms = to_ms, .is_bytes = is_bytes, .braille = o->utf8 };
        c->label_w = is_bytes && o->bytes ? LABEL_EXACT : LABEL_IEC;
        /* The label, a space and the axis take label_w + 2 columns. */
        w = o->width > c->label_w + 2 ? o->width - c->label_w - 2 : 0;
        c->cols = MAX(w, (unsigned)MIN_COLS);
        c->dots = c->cols * (c->braille ? 2 : 1);
        c->lo = malloc(c->dots * sizeof(double));
        c->hi = malloc(c->dots * sizeof(double));
        if (!c->lo || !c->hi) {
                chart_done(c);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < c->dots; i++)
                c->lo[i] = c->hi[i] = NAN;
        return 0;
}

void chart_done(struct chart *c)
{
        free(c->lo);
        free(c->hi);
        c->lo = c->hi = NULL;
}

void chart_add(struct chart *c, int64_t t_ms, double min, double max)
{
        unsigned x;

        if (t_ms < c->from_ms || t_ms >= c->to_ms || !isfinite(min) || !isfinite(max))
                return;
        x = (unsigned)((double)(t_ms - c->from_ms) * c->dots / (double)(c->to_ms - c->from_ms));
        if (x >= c->dots)
                x = c->dots - 1;
        if (isnan(c->lo[x]) || min < c->lo[x])
                c->lo[x] = min;
        if (isnan(c->hi[x]) || max > c->hi[x])
                c->hi[x] = max;
}

void chart_set_trend(struct chart *c, double slope_per_ms, double at_from)
{
        if (!isfinite(slope_per_ms) || !isfinite(at_from))
                return;
        c->have_trend = true;
        c->trend_slope = slope_per_ms;
        c->trend_at_from = at_from;
}

void chart_add_span(struct chart *c, int64_t from_ms, int64_t to_ms)
{
        if (c->nspans < CHART_MAX_SPANS && to_ms > c->from_ms && from_ms < c->to_ms)
                c->spans[c->nspans++] = (struct chart_span){ from_ms, to_ms };
}

/* The time at the middle of character column col. */
static int64_t col_time(const struct chart *c, unsigned col)
{
        return c->from_ms + (int64_t)(((double)col + 0.5) * (double)(c->to_ms - c->from_ms) / c->cols);
}

static bool in_span(const struct chart *c, unsigned col)
{
        int64_t t = col_time(c, col);

        for (size_t i = 0; i < c->nspans; i++)
                if (t >= c->spans[i].from_ms && t < c->spans[i].to_ms)
                        return true;
        return false;
}

/* Appends a code point below U+10000 as UTF-8. */
static size_t put_utf8(char *buf, unsigned cp)
{
        if (cp < 0x80) {
                buf[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                buf[0] = (char)(0xc0 | (cp >> 6));
                buf[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        buf[0] = (char)(0xe0 | (cp >> 12));
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        buf[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
}

/* Braille dot bits by position in a cell: [column][row], row 0 at the top. */
static const uint8_t braille_bit[2][4] = { { 0x01, 0x02, 0x04, 0x40 }, { 0x08, 0x10, 0x20, 0x80 } };

/* A tick step whose labels do not collide. */
static int64_t tick_step(const struct chart *c)
{
        static const int64_t steps[] = {
                1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000,
                43200000, 86400000, 2 * 86400000LL, 7 * 86400000LL, 14 * 86400000LL, 28 * 86400000LL,
                91 * 86400000LL, 364 * 86400000LL,
        };
        int64_t range = c->to_ms - c->from_ms;

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                /* Room for the label ("10:00", "11-24 10:00", "11-24") and two blanks. */
                static const double width[] = { [TICK_SECONDS] = 8, [TICK_TIME] = 5, [TICK_DAY_TIME] = 11,
                                                [TICK_DAY] = 5 };
                double need = width[plot_tick_style(steps[i], range)] + 2;

                if ((double)c->cols * (double)steps[i] / (double)range >= need)
                        return steps[i];
        }
        return steps[ELEMENTSOF(steps) - 1];
}

static void render_axis(const struct chart *c, const struct out *o, FILE *f)
{
        int64_t step = tick_step(c), off = 0, t;
        enum plot_tick_style style = plot_tick_style(step, c->to_ms - c->from_ms);
        char *axis = calloc(c->cols, 1), *labels = calloc(c->cols + 64, 1);
        time_t secs = (time_t)(c->from_ms / 1000);
        struct tm tm;
        size_t next_free = 0;

        if (!axis || !labels)
                goto out;
        memset(labels, ' ', c->cols + 63);
        /* Ticks fall on round local times: whole hours, local midnight. */
        if (!o->utc && localtime_r(&secs, &tm))
                off = (int64_t)tm.tm_gmtoff * 1000;
        t = c->from_ms + off;
        t = ((t + step - 1) / step) * step - off;
        for (; t < c->to_ms; t += step) {
                unsigned col = (unsigned)((double)(t - c->from_ms) * c->cols / (double)(c->to_ms - c->from_ms));
                char lab[32];
                size_t n;

                if (col >= c->cols)
                        break;
                axis[col] = 1;
                n = plot_tick_label(o->utc, t, style, lab, sizeof(lab));
                /* A label starts at its tick and must end within the plot: past its
                 * right edge it would run off the terminal. */
                if (n == 0 || col < next_free || col + n > c->cols)
                        continue;
                memcpy(labels + col, lab, n);
                next_free = col + n + 2;
        }
        fprintf(f, "%*s %s%s", (int)c->label_w, "", out_color(o, C_DIM), c->braille ? "\u2514" : "+");
        for (unsigned i = 0; i < c->cols; i++)
                fputs(axis[i] ? (c->braille ? "\u252c" : "+") : (c->braille ? "\u2500" : "-"), f);
        fprintf(f, "%s\n", o->color ? out_reset(o) : "");
        /* Trailing blanks would make saved output fragile. */
        for (size_t n = c->cols + 63; n > 0 && labels[n - 1] == ' '; n--)
                labels[n - 1] = '\0';
        if (labels[0])
                fprintf(f, "%*s  %s\n", (int)c->label_w, "", labels);
out:
        free(axis);
        free(labels);
}

void chart_render(const struct chart *c, const struct out *o, unsigned height)
{
        unsigned rows = MAX(height, 2u), per = c->braille ? 4 : 1, dots_y = rows * per;
        double ymin = NAN, ymax = NAN, *lo = NULL, *hi = NULL, *label_of = NULL, step, first;
        uint8_t *bits = NULL;
        FILE *f = o->f;
        int prev_a = -1, prev_b = -1;

        for (unsigned x = 0; x < c->dots; x++) {
                if (isnan(c->lo[x]))
                        continue;
                if (isnan(ymin) || c->lo[x] < ymin)
                        ymin = c->lo[x];
                if (isnan(ymax) || c->hi[x] > ymax)
                        ymax = c->hi[x];
        }
        if (isnan(ymin)) {
                fprintf(f, "%*s (no data in this range)\n", (int)c->label_w, "");
                return;
        }
        if (ymax - ymin < fabs(ymax) * 1e-9 + 1e-9) {
                /* A flat line sits in the middle of a band of 1% (or one unit). */
                double pad = MAX(fabs(ymax) * 0.01, 1.0);
                ymin -= pad;
                ymax += pad;
        }
        /* Labels at round values, two rows apart at least: the multiples of a round
         * step inside the range, each on the row its value is drawn in; if fewer than
         * two fall inside, the range grows to multiples of the step. */
        for (unsigned ticks = MAX((rows + 1) / LABEL_EVERY + 1, 2u);; ticks--) {
                step = chart_nice_step(ymin, ymax, ticks, c->is_bytes && !o->bytes);
                first = ceil(ymin / step - 1e-9) * step;
                if (first + step > ymax + step * 1e-9) {
                        ymin = floor(ymin / step) * step;
                        ymax = MAX(ceil(ymax / step) * step, ymin + step);
                        first = ymin;
                        break;
                }
                if (ticks <= 2 || step / (ymax - ymin) * (dots_y - 1) >= 2.0 * per)
                        break;
        }
        bits = calloc((size_t)rows * c->cols, 1);
        label_of = malloc(rows * sizeof(double));
        if (label_of) {
                for (unsigned r = 0; r < rows; r++)
                        label_of[r] = NAN;
                for (double v = first; v <= ymax + step * 1e-9; v += step) {
                        long y = lround((v - ymin) / (ymax - ymin) * (dots_y - 1));
                        long r = ((long)dots_y - 1 - MAX(y, 0L)) / (long)per;

                        if (r >= 0 && r < (long)rows && isnan(label_of[r]))
                                label_of[r] = fabs(v) < step / 2 ? 0 : v;
                }
        }
        lo = malloc(c->dots * sizeof(double));
        hi = malloc(c->dots * sizeof(double));
        if (!bits || !lo || !hi || !label_of)
                goto out;
        memcpy(lo, c->lo, c->dots * sizeof(double));
        memcpy(hi, c->hi, c->dots * sizeof(double));
        plot_fill_gaps(lo, hi, c->dots);
        for (unsigned x = 0; x < c->dots; x++) {
                int a, b;

                if (isnan(lo[x])) {
                        prev_a = prev_b = -1;
                        continue;
                }
                a = (int)lround((lo[x] - ymin) / (ymax - ymin) * (dots_y - 1));
                b = (int)lround((hi[x] - ymin) / (ymax - ymin) * (dots_y - 1));
                /* Join to the previous column, so a jump is drawn as a line. */
                if (prev_a >= 0) {
                        int na = MIN(a, prev_b), nb = MAX(b, prev_a);
                        prev_a = a, prev_b = b;
                        a = na, b = nb;
                } else {
                        prev_a = a, prev_b = b;
                }
                for (int y = MAX(a, 0); y <= b && y < (int)dots_y; y++) {
                        unsigned top = dots_y - 1 - (unsigned)y;        /* from the top */
                        unsigned row = top / per, col = x / (c->braille ? 2 : 1);

                        bits[row * c->cols + col] |= c->braille ? braille_bit[x % 2][top % 4] : 1;
                }
        }
        for (unsigned r = 0; r < rows; r++) {
                bool labelled = !isnan(label_of[r]);
                double v = label_of[r];
                char lab[40] = "", *line = NULL;
                size_t linesz = 0;
                FILE *lf = open_memstream(&line, &linesz);

                if (!lf)
                        break;
                if (labelled)
                        out_amount(o, v, c->is_bytes, lab, sizeof(lab));
                fprintf(lf, "%*s %s%s%s", (int)c->label_w, lab, out_color(o, C_DIM),
                        labelled ? (c->braille ? "\u2524" : "+") : (c->braille ? "\u2502" : "|"),
                        o->color ? out_reset(o) : "");
                for (unsigned col = 0; col < c->cols; col++) {
                        uint8_t b = bits[r * c->cols + col];
                        char g[8];
                        size_t n;

                        if (b) {
                                n = c->braille ? put_utf8(g, 0x2800 + b) : put_utf8(g, '*');
                                g[n] = '\0';
                                if (in_span(c, col))
                                        fprintf(lf, "%s%s%s", out_color(o, C_RED), g, out_reset(o));
                                else
                                        fputs(g, lf);
                                continue;
                        }
                        if (c->have_trend) {
                                double tv = c->trend_at_from + c->trend_slope * (double)(col_time(c, col) - c->from_ms);
                                double pos = (tv - ymin) / (ymax - ymin) * (dots_y - 1);

                                if (pos >= -0.5 && pos <= dots_y - 0.5 &&
                                    (dots_y - 1 - (unsigned)lround(MAX(pos, 0))) / per == r) {
                                        fprintf(lf, "%s%s%s", out_color(o, C_YELLOW), c->braille ? "\u00b7" : ".",
                                                out_reset(o));
                                        continue;
                                }
                        }
                        fputc(' ', lf);
                }
                if (fclose(lf) == 0 && line) {
                        /* Trailing blanks would make saved output fragile. */
                        while (linesz > 0 && line[linesz - 1] == ' ')
                                line[--linesz] = '\0';
                        fprintf(f, "%s\n", line);
                }
                free(line);
        }
        render_axis(c, o, f);
        if (c->nspans) {
                unsigned last = 0;

                for (unsigned col = 0; col < c->cols; col++)
                        if (in_span(c, col))
                                last = col + 1;
                fprintf(f, "%*s  %s", (int)c->label_w, "", out_color(o, C_RED));
                for (unsigned col = 0; col < last; col++)
                        fputs(in_span(c, col) ? (c->braille ? "\u2501" : "=") : " ", f);
                fprintf(f, "%s\n", o->color ? out_reset(o) : "");
        }
out:
        free(bits);
        free(lo);
        free(hi);
        free(label_of);
}

void chart_sparkline(const double *v, size_t n, double min_span, bool utf8, char *buf, size_t bufsz)
{
        static const char *const blocks[8] = { "\u2581", "\u2582", "\u2583", "\u2584",
                                               "\u2585", "\u2586", "\u2587", "\u2588" };
        static const char ascii[8] = { '_', '.', '-', '~', '=', '+', '*', '#' };
        double lo = NAN, hi = NAN, span;
        size_t o = 0;

        if (bufsz == 0)
                return;
        for (size_t i = 0; i < n; i++) {
                if (isnan(v[i]))
                        continue;
                lo = isnan(lo) || v[i] < lo ? v[i] : lo;
                hi = isnan(hi) || v[i] > hi ? v[i] : hi;
        }
        span = MAX(hi - lo, min_span);
        for (size_t i = 0; i < n; i++) {
                const char *g;
                char a[2] = { 0, 0 };
                size_t len;
                int level;

                if (isnan(v[i]) || isnan(lo)) {
                        g = " ";
                } else {
                        level = span > 0 ? (int)((v[i] - lo) / span * 8) : 0;
                        level = MAX(0, MIN(level, 7));
                        if (utf8) {
                                g = blocks[level];
                        } else {
                                a[0] = ascii[level];
                                g = a;
                        }
                }
                len = strlen(g);
                if (o + len >= bufsz)
                        break;
                memcpy(buf + o, g, len);
                o += len;
        }
        buf[o] = '\0';
}
