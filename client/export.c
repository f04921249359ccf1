/* SPDX-License-Identifier: GPL-2.0-or-later */
/* export: leakwatch export — a series with exact values, as CSV or JSON lines.
 *
 * One row per raw sample or rollup bucket, the finest kept for each stretch of time
 * (query_series()), in time order. Raw values are the stored integers (memory in
 * bytes); a rollup row carries the bucket's mean in the metric's column and its
 * minimum and maximum in the _min and _max columns, which for a raw row repeat the
 * value. Unknown values are empty (CSV) or null (JSON). */
#include "export.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "target.h"

/* The longest --metric list: every metric once, with commas. */
#define MAX_METRIC_LIST 512

struct export {
        struct cli *c;
        bool rule;
        int metrics[QM__MAX];
        size_t nmetrics;
        size_t rows;
};

static int parse_metrics(const char *arg, struct export *e)
{
        char buf[MAX_METRIC_LIST], *save = NULL;

        if (!arg || strcmp(arg, "all") == 0) {
                e->metrics[e->nmetrics++] = QM_MEMORY;
                for (int m = 0; m < M__MAX; m++)
                        e->metrics[e->nmetrics++] = m;
                return EXIT_OK;
        }
        if (strlen(arg) >= sizeof(buf))
                return cli_error(EXIT_USAGE, "--metric: list too long");
        memcpy(buf, arg, strlen(arg) + 1);
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int m = query_metric_from_name(tok);

                if (m < 0)
                        return cli_error(EXIT_USAGE, "--metric: unknown metric '%s' (memory, rss, anon, file, "
                                         "shmem, swap, data, vsize, threads, fds, minflt, majflt, pss, uss, pss_anon, "
                                         "swap_pss, heap_size, heap_rss, or all)", tok);
                for (size_t i = 0; i < e->nmetrics; i++)
                        if (e->metrics[i] == m)
                                return cli_error(EXIT_USAGE, "--metric: '%s' given twice", tok);
                e->metrics[e->nmetrics++] = m;
        }
        if (e->nmetrics == 0)
                return cli_error(EXIT_USAGE, "--metric: empty list");
        return EXIT_OK;
}

static void csv_header(const struct export *e)
{
        const struct out *o = &e->c->out;
        char name[64];

        out_csv_field(o, "time", 4, true);
        out_csv_field(o, "time_ms", 7, false);
        out_csv_field(o, "source", 6, false);
        out_csv_field(o, "n", 1, false);
        if (e->rule)
                out_csv_field(o, "nproc", 5, false);
        for (size_t i = 0; i < e->nmetrics; i++) {
                const char *m = query_metric_name(e->metrics[i]);

                out_csv_field(o, m, strlen(m), false);
                if (!query_metric_has_rollup(e->metrics[i]))
                        continue;
                snprintf(name, sizeof(name), "%s_min", m);
                out_csv_field(o, name, strlen(name), false);
                snprintf(name, sizeof(name), "%s_max", m);
                out_csv_field(o, name, strlen(name), false);
        }
        out_csv_end(o);
}

static void csv_value(const struct out *o, const struct query_value *v, double x)
{
        char buf[40];

        format_number(v->known ? x : NAN, buf, sizeof(buf));
        out_csv_field(o, buf, strlen(buf), false);
}

static int csv_row(const struct query_row *row, void *userdata)
{
        struct export *e = userdata;
        const struct out *o = &e->c->out;
        char buf[48];

        format_iso8601(row->t_ms, buf, sizeof(buf));
        out_csv_field(o, buf, strlen(buf), true);
        snprintf(buf, sizeof(buf), "%" PRId64, row->t_ms);
        out_csv_field(o, buf, strlen(buf), false);
        out_csv_field(o, query_source_name[row->source], strlen(query_source_name[row->source]), false);
        snprintf(buf, sizeof(buf), "%" PRId64, row->n);
        out_csv_field(o, buf, strlen(buf), false);
        if (e->rule) {
                snprintf(buf, sizeof(buf), "%" PRId64, row->nproc);
                out_csv_field(o, buf, strlen(buf), false);
        }
        for (size_t i = 0; i < e->nmetrics; i++) {
                const struct query_value *v = &row->m[e->metrics[i]];

                csv_value(o, v, v->v);
                if (!query_metric_has_rollup(e->metrics[i]))
                        continue;
                csv_value(o, v, v->min);
                csv_value(o, v, v->max);
        }
        out_csv_end(o);
        e->rows++;
        return ferror(o->f) ? -EIO : 0;
}

/* An exact value: an integer where it is one (every raw value), else a double. */
static struct json_object *json_value(const struct query_value *v, double x)
{
        if (!v->known || !isfinite(x))
                return NULL;
        if (x == floor(x) && fabs(x) < 9007199254740992.0)     /* 2^53: every integer below is exact */
                return json_object_new_int64((int64_t)x);
        return json_num(x);
}

static int json_row(const struct query_row *row, void *userdata)
{
        struct export *e = userdata;
        struct json_object *o = json_object_new_object();
        char key[64];
        int r = o ? 0 : -ENOMEM;

        if (r == 0)
                r = json_add_time(o, "time", row->t_ms);
        if (r == 0)
                r = json_add(o, "source", json_str(query_source_name[row->source]));
        if (r == 0)
                r = json_add(o, "n", json_object_new_int64(row->n));
        if (r == 0 && e->rule)
                r = json_add(o, "nproc", json_object_new_int64(row->nproc));
        for (size_t i = 0; r == 0 && i < e->nmetrics; i++) {
                const struct query_value *v = &row->m[e->metrics[i]];
                const char *m = query_metric_name(e->metrics[i]);

                r = json_add(o, m, json_value(v, v->v));
                if (r < 0 || !query_metric_has_rollup(e->metrics[i]))
                        continue;
                snprintf(key, sizeof(key), "%s_min", m);
                r = json_add(o, key, json_value(v, v->min));
                snprintf(key, sizeof(key), "%s_max", m);
                if (r == 0)
                        r = json_add(o, key, json_value(v, v->max));
        }
        if (r == 0)
                r = out_json(&e->c->out, o, false);
        json_object_put(o);
        e->rows++;
        return r < 0 ? r : ferror(e->c->out.f) ? -EIO : 0;
}

int cmd_export(struct cli *c, int argc, char **argv)
{
        struct export e = { .c = c };
        struct target t = { 0 };
        int64_t from, to, def_from;
        int r;

        if (argc != 1)
                return cli_error(EXIT_USAGE, "export needs one TARGET (a PID, a name, unit:NAME, rule:NAME or id:N)");
        r = parse_metrics(c->metric_arg, &e);
        if (r != EXIT_OK)
                return r;
        r = cli_open_db(c);
        if (r != EXIT_OK)
                return r;
        r = target_resolve(c, argv[0], &t);
        if (r != EXIT_OK)
                return r;
        e.rule = t.kind == TARGET_RULE;
        /* Everything that is kept, unless a range is asked for. */
        r = target_default_range(c, &t, &def_from, &to);
        if (r < 0) {
                target_clear(&t);
                return cli_query_error(c, r, "reading the series");
        }
        def_from = t.kind == TARGET_PROCESS ? t.proc.first_ms : t.rule.first_ms;
        cli_range(c, def_from, to, &from, &to);
        if (c->format != FORMAT_JSON && c->legend)
                csv_header(&e);
        r = target_series(c, &t, from, to, c->format == FORMAT_JSON ? json_row : csv_row, &e);
        target_clear(&t);
        if (r == -EIO)
                return cli_error(EXIT_FAIL, "writing the output: %s", strerror(errno));
        if (r < 0)
                return cli_query_error(c, r, "reading the series");
        return EXIT_OK;
}
