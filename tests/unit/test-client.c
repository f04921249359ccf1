/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for the client's pure modules: output (escaping, widths, numbers, JSON, CSV,
 * tables), timearg (the times people type), trend (Theil-Sen, floor growth), chart
 * (sparklines, gaps, rendering) and svg (a well-formed, escaped document). */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "chart.h"
#include "output.h"
#include "plot.h"
#include "svg.h"
#include "timearg.h"
#include "trend.h"

#define NOW INT64_C(1795521600000)      /* 2026-11-24T12:00:00Z */
#define HOUR INT64_C(3600000)
#define MIB (1024.0 * 1024)

/* An output into memory, 80 columns, UTF-8, no colour, UTC. */
struct memout {
        char *buf;
        size_t len;
        struct out o;
};

static void memout_open(struct memout *m, bool utf8, unsigned width)
{
        memset(m, 0, sizeof(*m));
        m->o.f = open_memstream(&m->buf, &m->len);
        assert_non_null(m->o.f);
        m->o.width = width;
        m->o.utf8 = utf8;
        m->o.utc = true;
}

static char *memout_close(struct memout *m)
{
        fclose(m->o.f);
        return m->buf;
}

/* ---- output ---- */

static void test_escape(void **state)
{
        static const struct {
                const char *in;
                size_t len;
                const char *out;
        } cases[] = {
                { "plain", 5, "plain" },
                { "evil\x1b[31mred\x07", 13, "evil\\x1b[31mred\\x07" },
                { "a\nb\tc\\", 6, "a\\nb\\tc\\\\" },
                { "bad\xff\xfe", 5, "bad\\xff\\xfe" },
                { "caf\xc3\xa9", 5, "caf\xc3\xa9" },                    /* valid UTF-8 is kept */
                { "rl\xe2\x80\xaeo", 6, "rl\\xe2\\x80\\xaeo" },         /* a bidi override is not */
                { "c1\xc2\x9b", 4, "c1\\xc2\\x9b" },                    /* nor a C1 control (CSI) */
                { "nul\0x", 5, "nul\\x00x" },
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *e = out_escape(cases[i].in, cases[i].len);

                assert_string_equal(e, cases[i].out);
                free(e);
        }
}

static void test_width_and_fit(void **state)
{
        struct out o = { .utf8 = true };
        char buf[64];

        (void)state;
        assert_int_equal(out_text_width("abc"), 3);
        assert_int_equal(out_text_width("caf\xc3\xa9"), 4);
        assert_int_equal(out_text_width("\xe2\xa3\xbf\xe2\xa3\xbf"), 2);       /* braille */
        assert_int_equal(out_text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);       /* wide CJK */
        assert_string_equal(out_fit(&o, "short", 10, buf, sizeof(buf)), "short");
        assert_string_equal(out_fit(&o, "webapp-worker", 8, buf, sizeof(buf)), "webapp-\xe2\x80\xa6");
        assert_int_equal(out_text_width(out_fit(&o, "\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5", 4, buf, sizeof(buf))), 3);
        o.utf8 = false;
        assert_string_equal(out_fit(&o, "webapp-worker", 8, buf, sizeof(buf)), "webap...");
}

static void test_amounts_and_rates(void **state)
{
        struct out o = { 0 };
        char buf[64];

        (void)state;
        assert_string_equal(out_amount(&o, 512 * MIB, true, buf, sizeof(buf)), "512 MiB");
        assert_string_equal(out_amount(&o, NAN, true, buf, sizeof(buf)), "-");
        assert_string_equal(out_amount(&o, -2 * MIB, true, buf, sizeof(buf)), "-2.00 MiB");
        assert_string_equal(out_amount(&o, 37, false, buf, sizeof(buf)), "37");
        assert_string_equal(out_amount(&o, 2.5, false, buf, sizeof(buf)), "2.5");
        assert_string_equal(out_rate(&o, 2 * MIB / 3600, true, buf, sizeof(buf)), "+2.00 MiB/h");
        assert_string_equal(out_rate(&o, -MIB / 3600, true, buf, sizeof(buf)), "-1.00 MiB/h");
        assert_string_equal(out_rate(&o, 0, true, buf, sizeof(buf)), "0 B/h");
        assert_string_equal(out_rate(&o, 1.0 / 600, false, buf, sizeof(buf)), "+6/h");
        o.bytes = true;
        assert_string_equal(out_amount(&o, 536870912, true, buf, sizeof(buf)), "536870912");
}

static void test_numbers_exact(void **state)
{
        static const double values[] = { 0.1, 1.0 / 3, 220760251.73333332, 582.5422222222222, 1e-7, 6e23 };
        char buf[48];

        (void)state;
        assert_string_equal(format_number(1048576, buf, sizeof(buf)), "1048576");
        assert_string_equal(format_number(0.1, buf, sizeof(buf)), "0.1");
        assert_string_equal(format_number(NAN, buf, sizeof(buf)), "");
        assert_string_equal(format_number(INFINITY, buf, sizeof(buf)), "");
        /* Every double reads back as itself. */
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                format_number(values[i], buf, sizeof(buf));
                assert_true(strtod(buf, NULL) == values[i]);
        }
}

static void test_times(void **state)
{
        struct out o = { .utc = true };
        char buf[64];

        (void)state;
        assert_string_equal(format_iso8601(NOW + 123, buf, sizeof(buf)), "2026-11-24T12:00:00.123Z");
        assert_string_equal(format_iso8601(-1, buf, sizeof(buf)), "1969-12-31T23:59:59.999Z");
        assert_string_equal(out_time(&o, NOW, TIME_FULL, buf, sizeof(buf)), "2026-11-24 12:00:00 UTC");
        assert_string_equal(out_time(&o, NOW, TIME_SHORT, buf, sizeof(buf)), "2026-11-24 12:00");
        assert_string_equal(out_time(&o, 0, TIME_SHORT, buf, sizeof(buf)), "-");
        assert_string_equal(out_ago(NOW - 3 * HOUR, NOW, buf, sizeof(buf)), "3h ago");
        assert_string_equal(out_ago(NOW + 120000, NOW, buf, sizeof(buf)), "in 2m");
        assert_string_equal(out_ago(NOW - 400, NOW, buf, sizeof(buf)), "now");
}

static void test_json_text_and_output(void **state)
{
        struct memout m;
        struct json_object *o = json_object_new_object();
        char *s;

        (void)state;
        json_add(o, "name", json_text("bad\xff" "n\x1b\x7f\xc2\x9b\xe2\x80\xae/", 13));
        json_add(o, "num", json_num(0.1));
        json_add(o, "nan", json_num(NAN));
        json_add(o, "t", json_time(NOW));
        memout_open(&m, true, 80);
        assert_int_equal(out_json(&m.o, o, false), 0);
        s = memout_close(&m);
        /* U+FFFD for the invalid byte, \u escapes for every control, '/' left alone. */
        assert_string_equal(s, "{\"name\":\"bad\xef\xbf\xbdn\\u001b\\u007f\\u009b\\u202e/\",\"num\":0.1,\"nan\":null,"
                               "\"t\":\"2026-11-24T12:00:00.000Z\"}\n");
        free(s);
        json_object_put(o);
}

static void test_csv(void **state)
{
        struct memout m;
        char *s;

        (void)state;
        memout_open(&m, true, 80);
        out_csv_field(&m.o, "plain", 5, true);
        out_csv_field(&m.o, "a,b", 3, false);
        out_csv_field(&m.o, "say \"hi\"", 8, false);
        out_csv_field(&m.o, "two\nlines\x1b", 10, false);
        out_csv_end(&m.o);
        s = memout_close(&m);
        assert_string_equal(s, "plain,\"a,b\",\"say \"\"hi\"\"\",two\\nlines\\x1b\n");
        free(s);
}

static void test_table_fits(void **state)
{
        static const struct table_col cols[] = {
                { "PID", ALIGN_RIGHT, 0, false }, { "NAME", ALIGN_LEFT, 4, false },
                { "EXTRA", ALIGN_LEFT, 0, true }, { "LAST", ALIGN_LEFT, 0, false },
        };
        struct memout m;
        struct table t;
        char *s;

        (void)state;
        assert_int_equal(table_init(&t, cols, ELEMENTSOF(cols)), 0);
        assert_int_equal(table_add_row(&t), 0);
        table_set(&t, 0, 0, "4242", C_NONE);
        table_set_untrusted(&t, 0, 1, "a-very-long-name\x1b", 17);
        table_set(&t, 0, 2, "something optional", C_NONE);
        table_set(&t, 0, 3, "end", C_NONE);
        memout_open(&m, false, 20);
        table_layout(&t, &m.o, true);
        table_print(&t, &m.o, true);
        s = memout_close(&m);
        /* The optional column goes first; the name then shrinks to what is left. */
        assert_string_equal(s, " PID NAME       LAST\n4242 a-very-... end\n");
        free(s);
        table_done(&t);
}

/* ---- timearg ---- */

static void test_timearg(void **state)
{
        static const struct {
                const char *in;
                int64_t want;
        } ok[] = {
                { "now", NOW },
                { "today", NOW - 12 * HOUR },
                { "yesterday", NOW - 36 * HOUR },
                { "tomorrow", NOW + 12 * HOUR },
                { "-1h", NOW - HOUR },
                { "+30m", NOW + 30 * 60000 },
                { "-1h30m", NOW - 90 * 60000 },
                { "1 hour ago", NOW - HOUR },
                { "2 days ago", NOW - 48 * HOUR },
                { "30min ago", NOW - 30 * 60000 },
                { "1 hour 30 minutes ago", NOW - 90 * 60000 },
                { "2026-11-24 10:00", NOW - 2 * HOUR },
                { "2026-11-24 10:00:30", NOW - 2 * HOUR + 30000 },
                { "2026-11-24", NOW - 12 * HOUR },
                { "2026-11-24T10:00:00Z", NOW - 2 * HOUR },
                { "2026-11-24T10:00:00.250Z", NOW - 2 * HOUR + 250 },
                { "2026-11-24T11:00:00+01:00", NOW - 2 * HOUR },
                { "2026-11-24T05:00:00-0500", NOW - 2 * HOUR },
                { "2026-11-24 10:00 UTC", NOW - 2 * HOUR },
                { "10:00", NOW - 2 * HOUR },
                { "@1795521600", NOW },
                { "  -1h  ", NOW - HOUR },
                { "-1 week", NOW - 7 * 24 * HOUR },
                { "-2 days", NOW - 48 * HOUR },
                { "-1 h", NOW - HOUR },
                { "+2 hours", NOW + 2 * HOUR },
                { "-1 hour 30 minutes", NOW - 90 * 60000 },
                { "-1week", NOW - 7 * 24 * HOUR },
        };
        static const char *const bad[] = {
                "", "soon", "-", "-x", "1h", "2026-13-01", "2026-02-30", "2026-11-24 25:00", "2026-11-24x",
                "10:61", "@-5", "1 fortnight ago", "2026-11-24T10:00:00+25:00", "0999-01-01",
                "-1 fortnight", "-1 week ago", "-1 2 h",
        };
        int64_t t;

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                int r = timearg_parse(ok[i].in, NOW, true, &t);

                if (r != 0 || t != ok[i].want)
                        fail_msg("'%s': r=%d t=%lld, want %lld", ok[i].in, r, (long long)t, (long long)ok[i].want);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (timearg_parse(bad[i], NOW, true, &t) == 0)
                        fail_msg("'%s' was accepted", bad[i]);
}

static void test_timearg_local(void **state)
{
        int64_t t;

        (void)state;
        /* Local time follows $TZ; an explicit zone does not. */
        setenv("TZ", "Europe/Berlin", 1);
        tzset();
        assert_int_equal(timearg_parse("2026-11-24 13:00", NOW, false, &t), 0);
        assert_int_equal(t, NOW);
        assert_int_equal(timearg_parse("2026-11-24T12:00:00Z", NOW, false, &t), 0);
        assert_int_equal(t, NOW);
        assert_int_equal(timearg_parse("today", NOW, false, &t), 0);
        assert_int_equal(t, NOW - 13 * HOUR);
        setenv("TZ", "UTC", 1);
        tzset();
}

/* ---- trend ---- */

static void test_trend_fit(void **state)
{
        double x[40], y[40], slope, icpt;

        (void)state;
        for (int i = 0; i < 40; i++) {
                x[i] = i;
                /* A line under a sawtooth, and two wild points: the median ignores them. */
                y[i] = 100 + 2 * i + (i % 4) * 0.5;
        }
        y[5] = 1e9;
        y[30] = -1e9;
        x[7] = NAN;
        assert_int_equal(trend_fit(x, y, 40, &slope, &icpt), 0);
        assert_float_equal(slope, 2.0, 0.2);
        assert_float_equal(icpt, 100.75, 1.0);
        assert_int_equal(trend_fit(x, y, 1, &slope, &icpt), -EINVAL);
        assert_int_equal(trend_fit(x, y, TREND_MAX_POINTS + 1, &slope, &icpt), -EINVAL);
}

static void test_trend_growth(void **state)
{
        double f[16];
        struct trend_growth g;

        (void)state;
        for (int i = 0; i < 16; i++)
                f[i] = 100 * MIB + i * MIB;
        assert_int_equal(trend_growth(f, 16, 3600, &g), 0);
        /* Floors of the first and last eighth (two buckets each): 100 and 114 MiB, their
         * centres 3/4 of the window apart... 14 MiB in 2700 s. */
        assert_float_equal(g.first, 100 * MIB, 1);
        assert_float_equal(g.last, 114 * MIB, 1);
        assert_float_equal(g.rate, 14 * MIB / 3150, 1);
        /* A process younger than the window: measured from its first bucket. */
        for (int i = 0; i < 10; i++)
                f[i] = NAN;
        assert_int_equal(trend_growth(f, 16, 3600, &g), 0);
        assert_float_equal(g.first, 110 * MIB, 1);
        for (int i = 0; i < 13; i++)
                f[i] = NAN;
        assert_int_equal(trend_growth(f, 16, 3600, &g), -EINVAL);
}

static void test_trend_growth_span(void **state)
{
        int64_t t[600], a, b;
        double lo[600];

        (void)state;
        /* Flat for 4 h, growing 1 MiB/h for 4 h, flat (grown) for 2 h: the span is the
         * growth's, to a bucket. */
        for (int i = 0; i < 600; i++) {
                double h = i / 60.0;

                t[i] = NOW - 10 * HOUR + i * 60000;
                lo[i] = 100 * MIB + (h < 4 ? 0 : h < 8 ? (h - 4) * MIB : 4 * MIB);
        }
        assert_int_equal(trend_growth_span(t, lo, 600, NOW - 10 * HOUR, NOW, &a, &b), 0);
        assert_true(llabs(a - (NOW - 6 * HOUR)) <= 10 * HOUR / TREND_BUCKETS);
        assert_true(llabs(b - (NOW - 2 * HOUR)) <= 10 * HOUR / TREND_BUCKETS);
        /* Growth, then the memory released: the line ends where the growth did. */
        for (int i = 0; i < 600; i++)
                lo[i] = 100 * MIB + (i < 400 ? i * MIB / 60 : 0);
        assert_int_equal(trend_growth_span(t, lo, 600, NOW - 10 * HOUR, NOW, &a, &b), 0);
        assert_int_equal(a, NOW - 10 * HOUR);
        assert_true(llabs(b - (NOW - 10 * HOUR + 400 * 60000)) <= 10 * HOUR / TREND_BUCKETS);
        /* Steady growth: all of it. Flat: none. */
        for (int i = 0; i < 600; i++)
                lo[i] = 100 * MIB + i * MIB / 60;
        assert_int_equal(trend_growth_span(t, lo, 600, NOW - 10 * HOUR, NOW, &a, &b), 0);
        assert_int_equal(a, NOW - 10 * HOUR);
        assert_int_equal(b, NOW);
        for (int i = 0; i < 600; i++)
                lo[i] = 100 * MIB + (i % 7) * 1024;
        assert_int_equal(trend_growth_span(t, lo, 600, NOW - 10 * HOUR, NOW, &a, &b), -ENODATA);
}

/* ---- chart ---- */

static void test_sparkline(void **state)
{
        const double rising[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
        const double flat[4] = { 100 * MIB, 100 * MIB + 10, 100 * MIB, 100 * MIB + 20 };
        const double gap[3] = { 1, NAN, 2 };
        char buf[64];

        (void)state;
        chart_sparkline(rising, 8, 0, true, buf, sizeof(buf));
        assert_string_equal(buf, "\xe2\x96\x81\xe2\x96\x82\xe2\x96\x83\xe2\x96\x84\xe2\x96\x85\xe2\x96\x86\xe2\x96\x87"
                                 "\xe2\x96\x88");
        chart_sparkline(rising, 8, 0, false, buf, sizeof(buf));
        assert_string_equal(buf, "_.-~=+*#");
        /* Noise below the minimum span stays at the bottom. */
        chart_sparkline(flat, 4, MIB, false, buf, sizeof(buf));
        assert_string_equal(buf, "____");
        chart_sparkline(gap, 3, 0, false, buf, sizeof(buf));
        assert_string_equal(buf, "_ #");
        /* A short buffer is cut at a glyph. */
        chart_sparkline(rising, 8, 0, true, buf, 8);
        assert_int_equal(strlen(buf), 6);
}

static void test_fill_gaps(void **state)
{
        double lo[40], hi[40];

        (void)state;
        for (int i = 0; i < 40; i++)
                lo[i] = hi[i] = NAN;
        /* Five points in 40 columns: 8 apart on average. Those 4 apart are joined; the
         * hole of 27 columns after them (over three times 8) is a gap in the data. */
        for (int i = 0; i <= 12; i += 4)
                lo[i] = hi[i] = i;
        lo[39] = hi[39] = 39;
        plot_fill_gaps(lo, hi, 40);
        assert_float_equal(lo[2], 2, 1e-9);
        assert_float_equal(hi[6], 6, 1e-9);
        assert_true(isnan(lo[20]));
        assert_true(isnan(lo[38]));
}

static void test_nice_step(void **state)
{
        (void)state;
        /* 1-2-5 steps of the unit the labels print in. */
        assert_true(chart_nice_step(212 * MIB, 281 * MIB, 3, true) == 50 * MIB);
        assert_true(chart_nice_step(212 * MIB, 281 * MIB, 8, true) == 10 * MIB);
        assert_true(chart_nice_step(0, 700 * 1024.0, 4, true) == 200 * 1024.0);
        assert_true(chart_nice_step(1.5 * 1024 * MIB, 3.5 * 1024 * MIB, 4, true) == 512 * MIB);
        /* Never finer than the three digits of "291 MiB". */
        assert_true(chart_nice_step(290 * MIB, 291 * MIB, 4, true) == 5 * MIB);
        /* Counts: whole numbers. */
        assert_true(chart_nice_step(0, 1000, 5, false) == 200);
        assert_true(chart_nice_step(30, 33, 4, false) == 1);
        assert_true(chart_nice_step(0, 0.3, 3, false) == 1);
        assert_true(chart_nice_step(100, 1100, 2, false) == 500);
}

/* The widest line of s, in terminal columns. */
static size_t widest(char *s)
{
        size_t w = 0;

        for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n"))
                w = MAX(w, out_text_width(line));
        return w;
}

static void test_chart_render(void **state)
{
        static const unsigned widths[] = { 60, 80, 160, 250 };
        struct memout m;
        size_t w;
        struct chart c;
        char *s, *line;
        int rows = 0;

        (void)state;
        memout_open(&m, true, 60);
        assert_int_equal(chart_init(&c, &m.o, NOW - 6 * HOUR, NOW, true), 0);
        for (int64_t t = NOW - 6 * HOUR; t < NOW; t += 60000)
                chart_add(&c, t, 100 * MIB + (double)(t - (NOW - 6 * HOUR)) / HOUR * MIB,
                          100 * MIB + (double)(t - (NOW - 6 * HOUR)) / HOUR * MIB);
        chart_set_trend(&c, MIB / HOUR, 100 * MIB);
        chart_add_span(&c, NOW - 2 * HOUR, NOW);
        chart_render(&c, &m.o, 6);
        chart_done(&c);
        s = memout_close(&m);
        /* Six plot rows, the axis, the time labels, the alert row. */
        for (line = s; (line = strchr(line, '\n')); line++)
                rows++;
        assert_int_equal(rows, 9);
        /* Round labels: 100 to 106 MiB in six rows is labelled every 5 MiB (every 2
         * would crowd), each on the row its value is drawn in. */
        assert_non_null(strstr(s, "\n 105 MiB \xe2\x94\xa4"));
        assert_non_null(strstr(s, "\n 100 MiB \xe2\x94\xa4"));
        assert_null(strstr(s, "106 MiB"));
        assert_null(strstr(s, "110 MiB"));
        assert_non_null(strstr(s, "07:00"));
        assert_non_null(strstr(s, "\xe2\x94\x81"));
        free(s);

        /* Nothing is wider than the terminal, however wide, labels of the last tick
         * included (a day across 160 columns put one past the edge). */
        for (size_t i = 0; i < ELEMENTSOF(widths); i++)
                for (int64_t range = HOUR / 2; range <= 8 * 24 * HOUR; range = range * 3 / 2 + 7 * 60000) {
                        memout_open(&m, true, widths[i]);
                        /* The range ends a minute after a round time: a tick there. */
                        assert_int_equal(chart_init(&c, &m.o, NOW - range, NOW + 60000, true), 0);
                        for (int64_t t = NOW - range; t < NOW; t += range / 500)
                                chart_add(&c, t, 3 * MIB + (double)(t - NOW + range) / range * MIB, 4 * MIB);
                        chart_render(&c, &m.o, 8);
                        chart_done(&c);
                        s = memout_close(&m);
                        w = widest(s);

                        if (w > widths[i])
                                fail_msg("%lld min in %u columns: %zu wide", (long long)(range / 60000), widths[i], w);
                        free(s);
                }

        memout_open(&m, false, 40);
        assert_int_equal(chart_init(&c, &m.o, NOW - HOUR, NOW, false), 0);
        chart_render(&c, &m.o, 4);
        chart_done(&c);
        s = memout_close(&m);
        assert_non_null(strstr(s, "(no data in this range)"));
        free(s);
}

/* ---- svg ---- */

static void test_svg(void **state)
{
        struct memout m;
        struct svg_plot p;
        char *s;

        (void)state;
        assert_int_equal(svg_init(&p, NOW - HOUR, NOW, 100, 100, true), -EINVAL);
        assert_int_equal(svg_init(&p, NOW, NOW, 640, 300, true), -EINVAL);
        assert_int_equal(svg_init(&p, NOW - HOUR, NOW, 640, 300, true), 0);
        for (int64_t t = NOW - HOUR; t < NOW; t += 10000)
                svg_add(&p, t, 50 * MIB, 52 * MIB);
        svg_set_trend(&p, 0, 50 * MIB, NOW - HOUR, NOW);
        svg_add_span(&p, NOW - HOUR / 2, NOW, "alert #1 <leaking>");
        memout_open(&m, true, 80);
        assert_int_equal(svg_write(&p, m.o.utc, m.o.f, "evil\x1b<script>&\"", "sub"), 0);
        svg_done(&p);
        s = memout_close(&m);
        assert_non_null(strstr(s, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_non_null(strstr(s, "evil\\x1b&lt;script&gt;&amp;&quot;"));
        assert_non_null(strstr(s, "alert #1 &lt;leaking&gt;"));
        assert_non_null(strstr(s, "MiB</text>"));
        assert_null(strstr(s, "<script"));
        assert_non_null(strstr(s, "</svg>\n"));
        free(s);

        /* Small: the title, the alert's label and the legend stay inside; the axes have
         * titles; the trend is drawn over its stretch only and never off the plot. */
        assert_int_equal(svg_init(&p, NOW - 10 * HOUR, NOW, 400, 250, true), 0);
        for (int64_t t = NOW - 10 * HOUR; t < NOW; t += 60000)
                svg_add(&p, t, 50 * MIB, 52 * MIB);
        svg_set_y_title(&p, "memory (anon+swap)");
        svg_set_trend(&p, 100 * MIB / HOUR, 50 * MIB, NOW - 6 * HOUR, NOW - 2 * HOUR);
        svg_add_span(&p, NOW - HOUR / 2, NOW, "alert #12345 leaking since long ago");
        memout_open(&m, true, 80);
        assert_int_equal(svg_write(&p, m.o.utc, m.o.f, "a-very-long-process-name-indeed (pid 4242) \u2014 memory "
                                   "(anon+swap)", "sub"), 0);
        svg_done(&p);
        s = memout_close(&m);
        assert_non_null(strstr(s, "rotate(-90)"));
        assert_non_null(strstr(s, ">memory (anon+swap)</text>"));
        assert_non_null(strstr(s, ">time (UTC)</text>"));
        assert_non_null(strstr(s, "\u2026</text>"));
        {
                double x1, y1, x2, y2;
                const char *l = strstr(s, "stroke-dasharray=\"7 5\" clip-path");

                assert_non_null(l);
                while (l > s && strncmp(l, "<line", 5) != 0)
                        l--;
                assert_int_equal(sscanf(l, "<line x1=\"%lf\" y1=\"%lf\" x2=\"%lf\" y2=\"%lf\"", &x1, &y1, &x2, &y2), 4);
                /* From 6 h before the end (x 84 + 4/10 of 292), up to where it leaves
                 * the values on show (52 MiB: right away, as it climbs 100 MiB/h). */
                assert_true(fabs(x1 - (84 + 292 * 0.4)) < 1);
                assert_true(x2 > x1 && x2 < 84 + 292 * 0.6);
                assert_true(y1 >= 58 && y1 <= 58 + 120 && y2 >= 58 && y2 <= 58 + 120);
        }
        for (const char *x = s; (x = strstr(x, "<text x=\"")); x++) {
                double tx = strtod(x + 9, NULL);
                const char *end = strstr(x, "</text>"), *gt = strchr(x, '>');
                size_t chars = 0;

                if (strstr(x, "text-anchor=\"end\"") && strstr(x, "text-anchor=\"end\"") < gt)
                        continue; /* checked by its anchor being inside */
                for (const char *c = gt + 1; c < end; c++)
                        chars += ((unsigned char)*c & 0xc0) != 0x80;
                if (tx <= 0 || strstr(x, "text-anchor=\"middle\"") - x < gt - x)
                        continue;
                if (tx + chars * 12 * 0.62 > 400 + 1)
                        fail_msg("past the right edge: %.60s", x);
        }
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_width_and_fit),
                cmocka_unit_test(test_amounts_and_rates),
                cmocka_unit_test(test_numbers_exact),
                cmocka_unit_test(test_times),
                cmocka_unit_test(test_json_text_and_output),
                cmocka_unit_test(test_csv),
                cmocka_unit_test(test_table_fits),
                cmocka_unit_test(test_timearg),
                cmocka_unit_test(test_timearg_local),
                cmocka_unit_test(test_trend_fit),
                cmocka_unit_test(test_trend_growth),
                cmocka_unit_test(test_trend_growth_span),
                cmocka_unit_test(test_sparkline),
                cmocka_unit_test(test_fill_gaps),
                cmocka_unit_test(test_nice_step),
                cmocka_unit_test(test_chart_render),
                cmocka_unit_test(test_svg),
        };

        /* Display widths need a UTF-8 character table; times are UTC unless a test says. */
        if (!setlocale(LC_CTYPE, "C.UTF-8")) {
                printf("SKIP: the C.UTF-8 locale is not available\n");
                return 0;
        }
        setenv("TZ", "UTC", 1);
        tzset();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
