/* SPDX-License-Identifier: GPL-2.0-or-later */
/* svg: a series as an SVG image, with axes, trend and alert spans. */
#include "svg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plot.h"
#include "util.h"

/* Margins, pixels: room for the value axis's title and value labels on the left (an
 * IEC size in 12 px type is about 60 px), for the title and subtitle on top, for time
 * labels, the time axis's title and the legend below. */
#define MARGIN_LEFT 84
#define MARGIN_RIGHT 24
#define MARGIN_TOP 58
#define MARGIN_BOTTOM 72
/* Left edge of the title and the legend when they do not fit from the plot's edge. */
#define EDGE 8
/* Average advance of a character, pixels per pixel of type size, in the sans-serif
 * faces named (DejaVu Sans is the widest of them): for fitting text without a font. */
#define CHAR_EM 0.62
/* Time labels need about this much room each ("11-24 10:00" in 12 px type). */
#define TICK_LABEL_PX 90
/* About this many value gridlines: enough to read a level off, few enough to stay quiet;
 * fewer in a low plot, so that labels stay this far apart (12 px type and air). */
#define Y_TICKS 5
#define Y_TICK_PX 36

static const char *const color_series = "#2563eb";
static const char *const color_trend = "#d97706";
static const char *const color_alert = "#dc2626";

int svg_init(struct svg_plot *p, int64_t from_ms, int64_t to_ms, unsigned width, unsigned height, bool is_bytes)
{
        if (to_ms <= from_ms || width < SVG_MIN_WIDTH || height < SVG_MIN_HEIGHT || width > SVG_MAX_SIDE ||
            height > SVG_MAX_SIDE)
                return -EINVAL;
        *p = (struct svg_plot){ .from_ms = from_ms, .to_ms = to_ms, .width = width, .height = height,
                                .is_bytes = is_bytes };
        p->plot_x = MARGIN_LEFT;
        p->plot_y = MARGIN_TOP;
        p->plot_w = width - MARGIN_LEFT - MARGIN_RIGHT;
        p->plot_h = height - MARGIN_TOP - MARGIN_BOTTOM;
        p->lo = malloc(p->plot_w * sizeof(double));
        p->hi = malloc(p->plot_w * sizeof(double));
        if (!p->lo || !p->hi) {
                svg_done(p);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < p->plot_w; i++)
                p->lo[i] = p->hi[i] = NAN;
        return 0;
}

void svg_done(struct svg_plot *p)
{
        free(p->lo);
        free(p->hi);
        p->lo = p->hi = NULL;
}

void svg_add(struct svg_plot *p, int64_t t_ms, double min, double max)
{
        unsigned x;

        if (t_ms < p->from_ms || t_ms >= p->to_ms || !isfinite(min) || !isfinite(max))
                return;
        x = (unsigned)((double)(t_ms - p->from_ms) * p->plot_w / (double)(p->to_ms - p->from_ms));
        if (x >= p->plot_w)
                x = p->plot_w - 1;
        if (isnan(p->lo[x]) || min < p->lo[x])
                p->lo[x] = min;
        if (isnan(p->hi[x]) || max > p->hi[x])
                p->hi[x] = max;
}

void svg_set_trend(struct svg_plot *p, double slope_per_ms, double at_from, int64_t from_ms, int64_t to_ms)
{
        if (!isfinite(slope_per_ms) || !isfinite(at_from) || to_ms <= from_ms)
                return;
        p->have_trend = true;
        p->trend_slope = slope_per_ms;
        p->trend_at_from = at_from;
        p->trend_from_ms = from_ms;
        p->trend_to_ms = to_ms;
}

void svg_set_y_title(struct svg_plot *p, const char *title)
{
        p->y_title = title;
}

/* The width of text in type of size px, estimated. */
static double text_px(size_t chars, double px)
{
        return (double)chars * px * CHAR_EM;
}

/* Code points in the UTF-8 string s. */
static size_t chars_of(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char)*s & 0xc0) != 0x80;
        return n;
}

/* Untrusted text made printable (str_escape()), malloc'ed; NULL on OOM. */
static char *escape(const char *s)
{
        size_t len = strlen(s), sz;
        char *buf;

        /* The longest escape is four characters for one byte ("\xNN"). */
        if (len > (SIZE_MAX - 1) / 4)
                return NULL;
        sz = len * 4 + 1;
        buf = malloc(sz);
        if (buf)
                str_escape(s, len, buf, sz);
        return buf;
}

/* Escapes for XML what escape() has made printable, cut to at most max_px wide in
 * type of size px (an ellipsis ends a cut text). */
static void xml_text_fit(FILE *f, const char *s, double px, double max_px)
{
        _cleanup_free_ char *e = escape(s);
        size_t keep = (size_t)-1, n = 0;
        const char *c;

        if (e && text_px(chars_of(e), px) > max_px) {
                keep = max_px > px ? (size_t)(max_px / (px * CHAR_EM)) : 1;
                keep = keep > 1 ? keep - 1 : 0;
        }
        for (c = e ? e : ""; *c; c++) {
                if (((unsigned char)*c & 0xc0) != 0x80 && n++ == keep) {
                        fputs("\u2026", f);
                        break;
                }
                switch (*c) {
                case '&': fputs("&amp;", f); break;
                case '<': fputs("&lt;", f); break;
                case '>': fputs("&gt;", f); break;
                case '"': fputs("&quot;", f); break;
                case '\'': fputs("&apos;", f); break;
                default: fputc(*c, f);
                }
        }
}

/* Escapes for XML what escape() has made printable. */
static void xml_text(FILE *f, const char *s)
{
        xml_text_fit(f, s, 12, INFINITY);
}

void svg_add_span(struct svg_plot *p, int64_t from_ms, int64_t to_ms, const char *label)
{
        if (p->nspans >= SVG_MAX_SPANS || to_ms <= p->from_ms || from_ms >= p->to_ms)
                return;
        p->spans[p->nspans] = (struct svg_span){ .from_ms = from_ms, .to_ms = to_ms };
        snprintf(p->spans[p->nspans].label, sizeof(p->spans[0].label), "%s", label ? label : "");
        p->nspans++;
}

static double x_of(const struct svg_plot *p, int64_t t)
{
        double x = (double)(t - p->from_ms) / (double)(p->to_ms - p->from_ms) * p->plot_w;
        return p->plot_x + MAX(0.0, MIN(x, (double)p->plot_w));
}

static double y_of(const struct svg_plot *p, double v, double lo, double hi)
{
        return p->plot_y + p->plot_h - (v - lo) / (hi - lo) * p->plot_h;
}

/* A round step near span / ticks: 1, 2 or 5 times a power of ten of unit. */
static double nice_step(double span, double unit, unsigned ticks)
{
        double raw = span / unit / ticks, mag = pow(10, floor(log10(raw))), f = raw / mag;

        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag * unit;
}

static void value_label(const struct svg_plot *p, double v, double unit, const char *unit_name, char *buf,
                        size_t sz)
{
        if (!p->is_bytes)
                snprintf(buf, sz, "%g", v);
        else
                snprintf(buf, sz, "%g %s", v / unit, unit_name);
}

static void write_axes(const struct svg_plot *p, bool utc, FILE *f, double lo, double hi, double step,
                       double unit, const char *unit_name)
{
        static const int64_t steps[] = {
                1000, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000, 7200000, 10800000, 21600000, 43200000,
                86400000, 2 * 86400000LL, 7 * 86400000LL, 14 * 86400000LL, 28 * 86400000LL, 91 * 86400000LL,
        };
        int64_t range = p->to_ms - p->from_ms, tstep = steps[ELEMENTSOF(steps) - 1], off = 0, t;
        time_t secs = (time_t)(p->from_ms / 1000);
        enum plot_tick_style style;
        struct tm tm;

        fprintf(f, "<g stroke=\"#e5e7eb\" stroke-width=\"1\">\n");
        for (double v = lo; v <= hi + step / 2; v += step)
                fprintf(f, "<line x1=\"%u\" x2=\"%u\" y1=\"%.1f\" y2=\"%.1f\"/>\n", p->plot_x, p->plot_x + p->plot_w,
                        y_of(p, v, lo, hi), y_of(p, v, lo, hi));
        fprintf(f, "</g>\n<g fill=\"#374151\" text-anchor=\"end\">\n");
        for (double v = lo; v <= hi + step / 2; v += step) {
                char lab[48];

                value_label(p, v, unit, unit_name, lab, sizeof(lab));
                fprintf(f, "<text x=\"%u\" y=\"%.1f\">%s</text>\n", p->plot_x - 6, y_of(p, v, lo, hi) + 4, lab);
        }
        fprintf(f, "</g>\n");

        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                if ((double)p->plot_w * (double)steps[i] / (double)range >= TICK_LABEL_PX) {
                        tstep = steps[i];
                        break;
                }
        style = plot_tick_style(tstep, range);
        if (!utc && localtime_r(&secs, &tm))
                off = (int64_t)tm.tm_gmtoff * 1000;
        t = ((p->from_ms + off + tstep - 1) / tstep) * tstep - off;
        fprintf(f, "<g fill=\"#374151\" text-anchor=\"middle\">\n");
        for (; t < p->to_ms; t += tstep) {
                char lab[32];

                if (plot_tick_label(utc, t, style, lab, sizeof(lab)) == 0)
                        continue;
                fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%u\" y2=\"%u\" stroke=\"#9ca3af\"/>\n", x_of(p, t),
                        x_of(p, t), p->plot_y + p->plot_h, p->plot_y + p->plot_h + 5);
                fprintf(f, "<text x=\"%.1f\" y=\"%u\">%s</text>\n", x_of(p, t), p->plot_y + p->plot_h + 18, lab);
        }
        fprintf(f, "</g>\n");
}

/* The series as closed bands, one per run of columns with data. */
static void write_series(const struct svg_plot *p, FILE *f, double lo, double hi)
{
        unsigned x = 0;

        fprintf(f, "<g fill=\"%s\" fill-opacity=\"0.35\" stroke=\"%s\" stroke-width=\"1.5\" "
                   "stroke-linejoin=\"round\">\n", color_series, color_series);
        while (x < p->plot_w) {
                unsigned start, end;

                while (x < p->plot_w && isnan(p->lo[x]))
                        x++;
                if (x >= p->plot_w)
                        break;
                start = x;
                while (x < p->plot_w && !isnan(p->lo[x]))
                        x++;
                end = x;
                fprintf(f, "<path d=\"");
                for (unsigned i = start; i < end; i++)
                        fprintf(f, "%c%.1f %.1f ", i == start ? 'M' : 'L', p->plot_x + i + 0.5,
                                y_of(p, p->hi[i], lo, hi));
                for (unsigned i = end; i-- > start;)
                        fprintf(f, "L%.1f %.1f ", p->plot_x + i + 0.5, y_of(p, p->lo[i], lo, hi));
                fprintf(f, "Z\"/>\n");
        }
        fprintf(f, "</g>\n");
}

/* The trend over the stretch it describes, cut where it leaves the plot's values. */
static void write_trend(const struct svg_plot *p, FILE *f, double lo, double hi)
{
        double t0 = (double)MAX(p->trend_from_ms, p->from_ms), t1 = (double)MIN(p->trend_to_ms, p->to_ms);
        double base = (double)p->trend_from_ms, s = p->trend_slope, a = p->trend_at_from;

        if (s != 0) {
                /* Where the line crosses the bottom and the top of the value axis. */
                double ta = base + (lo - a) / s, tb = base + (hi - a) / s;

                t0 = MAX(t0, MIN(ta, tb));
                t1 = MIN(t1, MAX(ta, tb));
        } else if (a < lo || a > hi) {
                return;
        }
        if (!(t1 > t0))
                return;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
                   "stroke-dasharray=\"7 5\" clip-path=\"url(#plot)\"/>\n",
                x_of(p, (int64_t)llround(t0)), y_of(p, a + s * (t0 - base), lo, hi), x_of(p, (int64_t)llround(t1)),
                y_of(p, a + s * (t1 - base), lo, hi), color_trend);
}

/* The value axis's title, turned along it, and the time axis's, under its labels. */
static void write_axis_titles(const struct svg_plot *p, bool utc, FILE *f)
{
        unsigned cy = p->plot_y + p->plot_h / 2;
        char zone[48] = "local";
        time_t secs = (time_t)(p->from_ms / 1000);
        struct tm tm;

        if (!utc && localtime_r(&secs, &tm))
                strftime(zone, sizeof(zone), "%Z", &tm);

        if (p->y_title) {
                fprintf(f, "<text x=\"0\" y=\"0\" transform=\"translate(14 %u) rotate(-90)\" text-anchor=\"middle\" "
                           "font-size=\"11\" fill=\"#374151\">", cy);
                /* Along the plot's height and into the margins a little. */
                xml_text_fit(f, p->y_title, 11, (double)p->plot_h + MARGIN_TOP / 2.0);
                fprintf(f, "</text>\n");
        }
        fprintf(f, "<text x=\"%u\" y=\"%u\" text-anchor=\"middle\" font-size=\"11\" fill=\"#374151\">time (",
                p->plot_x + p->plot_w / 2, p->plot_y + p->plot_h + 34);
        xml_text(f, utc ? "UTC" : zone);
        fprintf(f, ")</text>\n");
}

/* The legend, under the time axis: its entries side by side from the plot's edge, or
 * from the image's, in short words when the long ones do not fit. */
static void write_legend(const struct svg_plot *p, FILE *f)
{
        static const char *const words[2][3] = { { "series (min..max)", "trend of the floor", "alert" },
                                                  { "series", "trend", "alert" } };
        const bool shown[3] = { true, p->have_trend, p->nspans > 0 };
        /* Each entry: a 14 px swatch (30 px for the dashed line), 6 px, the words, 18 px. */
        const double swatch[3] = { 14, 30, 14 };
        unsigned y = p->height - 12, pick = 1, x0 = EDGE;
        double x;

        for (unsigned w = 0; w < 2; w++)
                for (unsigned start = 0; start < 2; start++) {
                        unsigned from = start == 0 ? p->plot_x : EDGE;
                        double need = from;

                        for (unsigned i = 0; i < 3; i++)
                                if (shown[i])
                                        need += swatch[i] + 6 + text_px(strlen(words[w][i]), 11) + 18;
                        if (need <= (double)p->width) {
                                pick = w;
                                x0 = from;
                                goto found;
                        }
                }
found:
        x = x0;
        fprintf(f, "<g font-size=\"11\" fill=\"#374151\">\n");
        for (unsigned i = 0; i < 3; i++) {
                if (!shown[i])
                        continue;
                if (i == 0)
                        fprintf(f, "<rect x=\"%.0f\" y=\"%u\" width=\"14\" height=\"8\" fill=\"%s\" fill-opacity=\"0.35\" "
                                   "stroke=\"%s\"/>", x, y - 8, color_series, color_series);
                else if (i == 1)
                        fprintf(f, "<line x1=\"%.0f\" y1=\"%u\" x2=\"%.0f\" y2=\"%u\" stroke=\"%s\" stroke-width=\"2\" "
                                   "stroke-dasharray=\"7 5\"/>", x, y - 4, x + 30, y - 4, color_trend);
                else
                        fprintf(f, "<rect x=\"%.0f\" y=\"%u\" width=\"14\" height=\"8\" fill=\"%s\" fill-opacity=\"0.25\"/>",
                                x, y - 8, color_alert);
                fprintf(f, "<text x=\"%.0f\" y=\"%u\">%s</text>\n", x + swatch[i] + 6, y, words[pick][i]);
                x += swatch[i] + 6 + text_px(strlen(words[pick][i]), 11) + 18;
        }
        fprintf(f, "</g>\n");
}

int svg_write(struct svg_plot *p, bool utc, FILE *f, const char *title, const char *subtitle)
{
        static const char *const iec[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double ymin = NAN, ymax = NAN, lo, hi, step, unit = 1;
        const char *unit_name = "";
        bool any = false;

        /* Sparse series are joined across the pixels between their points. */
        plot_fill_gaps(p->lo, p->hi, p->plot_w);
        for (unsigned x = 0; x < p->plot_w; x++) {
                if (isnan(p->lo[x]))
                        continue;
                any = true;
                ymin = isnan(ymin) || p->lo[x] < ymin ? p->lo[x] : ymin;
                ymax = isnan(ymax) || p->hi[x] > ymax ? p->hi[x] : ymax;
        }
        if (!any)
                ymin = 0, ymax = 1;
        if (ymax - ymin < fabs(ymax) * 1e-9 + 1e-9) {
                /* A flat line in the middle of a band of 1% (or one unit). */
                double pad = MAX(fabs(ymax) * 0.01, 1.0);
                ymin -= pad;
                ymax += pad;
        }
        if (p->is_bytes) {
                for (size_t i = 0; i < ELEMENTSOF(iec); i++, unit *= 1024) {
                        unit_name = iec[i];
                        if (MAX(fabs(ymax), fabs(ymin)) < unit * 1024 || i + 1 == ELEMENTSOF(iec))
                                break;
                }
        }
        step = nice_step(ymax - ymin, unit, MAX(2u, MIN((unsigned)Y_TICKS, p->plot_h / Y_TICK_PX)));
        lo = floor(ymin / step) * step;
        hi = ceil(ymax / step) * step;
        if (hi <= lo)
                hi = lo + step;

        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%u\" height=\"%u\" "
                   "viewBox=\"0 0 %u %u\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
                   "font-size=\"12\">\n", p->width, p->height, p->width, p->height);
        fprintf(f, "<rect width=\"%u\" height=\"%u\" fill=\"#ffffff\"/>\n", p->width, p->height);
        fprintf(f, "<defs><clipPath id=\"plot\"><rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\"/></clipPath></defs>\n",
                p->plot_x, p->plot_y, p->plot_w, p->plot_h);
        /* Title and subtitle from the plot's edge, or from the image's when that leaves
         * them too little room; cut to the image's width either way. */
        {
                unsigned tx = p->width < 2 * SVG_MIN_WIDTH ? EDGE : p->plot_x;
                double room = (double)(p->width - tx - EDGE);

                fprintf(f, "<text x=\"%u\" y=\"22\" font-size=\"15\" font-weight=\"bold\" fill=\"#111827\">", tx);
                xml_text_fit(f, title ? title : "", 15 * 1.05, room);
                fprintf(f, "</text>\n<text x=\"%u\" y=\"40\" fill=\"#4b5563\">", tx);
                xml_text_fit(f, subtitle ? subtitle : "", 12, room);
                fprintf(f, "</text>\n");
        }

        for (size_t i = 0; i < p->nspans; i++) {
                double x1 = x_of(p, p->spans[i].from_ms), x2 = x_of(p, p->spans[i].to_ms);

                fprintf(f, "<rect x=\"%.1f\" y=\"%u\" width=\"%.1f\" height=\"%u\" fill=\"%s\" fill-opacity=\"0.12\"/>\n",
                        x1, p->plot_y, MAX(x2 - x1, 1.0), p->plot_h, color_alert);
                /* The label inside the plot: from the span's start, or ending at the
                 * plot's right edge when it would run past it. */
                if (x1 + 4 + text_px(chars_of(p->spans[i].label), 12) <= p->plot_x + p->plot_w)
                        fprintf(f, "<text x=\"%.1f\" y=\"%u\" fill=\"%s\">", x1 + 4, p->plot_y + 14, color_alert);
                else
                        fprintf(f, "<text x=\"%u\" y=\"%u\" text-anchor=\"end\" fill=\"%s\">", p->plot_x + p->plot_w - 4,
                                p->plot_y + 14, color_alert);
                xml_text_fit(f, p->spans[i].label, 12, (double)p->plot_w - 8);
                fprintf(f, "</text>\n");
        }
        write_axes(p, utc, f, lo, hi, step, unit, unit_name);
        if (any)
                write_series(p, f, lo, hi);
        else
                fprintf(f, "<text x=\"%u\" y=\"%u\" text-anchor=\"middle\" fill=\"#6b7280\">no data in this range</text>\n",
                        p->plot_x + p->plot_w / 2, p->plot_y + p->plot_h / 2);
        if (p->have_trend)
                write_trend(p, f, lo, hi);
        write_axis_titles(p, utc, f);
        fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"%u\" fill=\"none\" stroke=\"#6b7280\"/>\n",
                p->plot_x, p->plot_y, p->plot_w, p->plot_h);
        write_legend(p, f);
        fprintf(f, "</svg>\n");
        return ferror(f) ? -EIO : 0;
}
