/* SPDX-License-Identifier: GPL-2.0-or-later */
/* backtest: leakwatch backtest — the detector (lib/detect.h) replayed over a stored
 * series or a CSV file, printing the verdicts it gives.
 *
 * The replay is the daemon's own use of the detector: every sample goes to
 * detect_add(), and when a bucket closes detect_evaluate() runs at that sample's time.
 * Where raw samples are gone, each rollup bucket is fed as one sample, its minimum at
 * the bucket's start: the detector keeps only bucket minima, so this gives it the
 * floors it would have seen (a little lower, as rollups sum the minima of anon and
 * swap). */
#include "backtest.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "objects.h"
#include "target.h"

/* Times from this value on are taken for Unix time (2001-09-09) and printed as dates;
 * smaller ones are offsets from some start, printed as durations from the first. */
#define EPOCH_THRESHOLD_S 1e9
/* The daemon's default detection window (leakwatch.conf(5), window). */
#define DEFAULT_WINDOW_S (6 * 3600.0)

struct verdict_rec {
        double t;
        struct detect_verdict v;
};

struct replay {
        struct cli *c;
        struct detect d;
        struct detect_params p;
        bool is_bytes;
        double limit;                   /* headroom = limit - value; 0: unknown */
        size_t samples, rejected, evaluations;
        size_t per_source[3];
        double t_first, t_last;
        struct verdict_rec *recs;
        size_t nrecs, cap;
        double *gaps;                   /* between consecutive samples, for their spacing */
        size_t ngaps, capgaps;
        int error;
};

/* Whether the samples were too sparse for the window: their typical spacing (the median
 * gap, so a few gaps in the data do not count), and how many of a window's buckets that
 * fills. */
struct sparsity {
        bool sparse;
        double interval;
        unsigned floors;
};

static int record(struct replay *rp, double t, const struct detect_verdict *v)
{
        if (rp->nrecs == rp->cap) {
                size_t nc = rp->cap ? rp->cap * 2 : 64;
                struct verdict_rec *n = reallocarray(rp->recs, nc, sizeof(*n));

                if (!n)
                        return -ENOMEM;
                rp->recs = n;
                rp->cap = nc;
        }
        rp->recs[rp->nrecs++] = (struct verdict_rec){ .t = t, .v = *v };
        return 0;
}

static int feed(struct replay *rp, double t, double value)
{
        struct detect_verdict v;

        if (!isfinite(value))
                return 0;
        if (rp->samples == 0)
                rp->t_first = t;
        else {
                if (rp->ngaps == rp->capgaps) {
                        size_t nc = rp->capgaps ? rp->capgaps * 2 : 1024;
                        double *n = reallocarray(rp->gaps, nc, sizeof(*n));

                        if (!n)
                                return -ENOMEM;
                        rp->gaps = n;
                        rp->capgaps = nc;
                }
                rp->gaps[rp->ngaps++] = t - rp->t_last;
        }
        rp->samples++;
        rp->t_last = t;
        if (!detect_add(&rp->d, &rp->p, t, value))
                return 0;
        detect_evaluate(&rp->d, &rp->p, t, rp->limit > 0 ? MAX(rp->limit - value, 0.0) : NAN, &v);
        rp->evaluations++;
        if (v.changed || v.escalated || rp->c->all)
                return record(rp, t, &v);
        return 0;
}

struct row_ctx {
        struct replay *rp;
        int metric;
};

static int feed_row(const struct query_row *row, void *userdata)
{
        struct row_ctx *x = userdata;
        const struct query_value *v = &row->m[x->metric];

        if (!v->known)
                return 0;
        x->rp->per_source[row->source]++;
        /* The minimum: the raw value, or a bucket's floor. */
        return feed(x->rp, (double)row->t_ms / 1000, v->min);
}

/* ---- CSV input ---- */

static char *trim(char *s)
{
        char *e;

        while (isspace((unsigned char)*s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
                *--e = '\0';
        return s;
}

static bool parse_row(char *line, double *ret_t, double *ret_v)
{
        char *comma = strchr(line, ','), *ts, *vs;
        uint64_t v;

        if (!comma)
                return false;
        *comma = '\0';
        ts = trim(line);
        vs = trim(comma + 1);
        if (strchr(vs, ','))
                return false;
        if (parse_duration(ts, ret_t) < 0 || parse_size(vs, &v) < 0)
                return false;
        *ret_v = (double)v;
        return true;
}

ssize_t backtest_read_csv(FILE *f, double **ret_t, double **ret_v, size_t *ret_line)
{
        char line[BACKTEST_MAX_LINE + 2];
        double *t = NULL, *v = NULL;
        size_t n = 0, cap = 0, lineno = 0;
        bool header_seen = false;
        ssize_t r = 0;

        *ret_line = 0;
        while (fgets(line, sizeof(line), f)) {
                size_t len = strlen(line);
                char *s;
                double tv, vv;

                lineno++;
                if (len > 0 && line[len - 1] == '\n')
                        line[--len] = '\0';
                else if (!feof(f)) {
                        r = -E2BIG;
                        break;
                }
                s = trim(line);
                if (*s == '\0' || *s == '#')
                        continue;
                if (!parse_row(s, &tv, &vv)) {
                        /* A header: only as the first row. */
                        if (n == 0 && !header_seen) {
                                header_seen = true;
                                continue;
                        }
                        r = -EINVAL;
                        break;
                }
                header_seen = true;
                if (n > 0 && tv <= t[n - 1]) {
                        r = -EINVAL;
                        break;
                }
                if (n >= BACKTEST_MAX_ROWS) {
                        r = -E2BIG;
                        lineno = 0;
                        break;
                }
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 1024;
                        double *nt = reallocarray(t, nc, sizeof(*t)), *nv;

                        if (nt)
                                t = nt;
                        nv = nt ? reallocarray(v, nc, sizeof(*v)) : NULL;
                        if (nv)
                                v = nv;
                        if (!nt || !nv) {
                                r = -ENOMEM;
                                break;
                        }
                        cap = nc;
                }
                t[n] = tv;
                v[n] = vv;
                n++;
        }
        if (r == 0 && ferror(f))
                r = -EIO;
        if (r < 0) {
                free(t);
                free(v);
                *ret_line = lineno;
                return r;
        }
        *ret_t = t;
        *ret_v = v;
        return (ssize_t)n;
}

/* ---- output ---- */

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static void check_sparsity(struct replay *rp, struct sparsity *ret)
{
        *ret = (struct sparsity){ .interval = NAN, .floors = rp->p.buckets };
        if (rp->ngaps == 0)
                return;
        qsort(rp->gaps, rp->ngaps, sizeof(*rp->gaps), cmp_double);
        ret->interval = rp->gaps[rp->ngaps / 2];
        ret->floors = detect_floors_per_window(&rp->p, ret->interval);
        ret->sparse = ret->floors < rp->p.min_buckets;
}

/* "the 1m window (buckets of 2.5s) is too short for samples every 10s: at most 6 of its
 * 24 buckets hold one, and a judgement needs 16; a window of 2m40s or more can judge them" */
static void sparsity_text(const struct replay *rp, const struct sparsity *sp, char *buf, size_t sz)
{
        char w[32], b[32], i[32], need[32];

        snprintf(buf, sz,
                 "the %s window (buckets of %s) is too short for samples every %s: at most %u of its %u "
                 "buckets hold one, and a judgement needs %u; a window of %s or more can judge them",
                 format_duration(rp->p.window, w, sizeof(w)), format_duration(rp->p.bucket, b, sizeof(b)),
                 format_duration(sp->interval, i, sizeof(i)), sp->floors, rp->p.buckets, rp->p.min_buckets,
                 format_duration(sp->interval * rp->p.min_buckets, need, sizeof(need)));
}

static const char *when(const struct replay *rp, double t, char *buf, size_t sz)
{
        char d[32];

        if (rp->t_first >= EPOCH_THRESHOLD_S)
                return out_time(&rp->c->out, llround(t * 1000), TIME_SECONDS, buf, sz);
        snprintf(buf, sz, "+%s", format_duration(t - rp->t_first, d, sizeof(d)));
        return buf;
}

static void print_human(struct replay *rp, const char *title, const struct sparsity *sp)
{
        static const struct table_col cols[] = {
                { "TIME", ALIGN_LEFT, 0, false }, { "STATE", ALIGN_LEFT, 0, false }, { "FROM", ALIGN_LEFT, 0, false },
                { "SLOPE", ALIGN_RIGHT, 0, false }, { "GROWTH", ALIGN_RIGHT, 0, false }, { "LEVEL", ALIGN_RIGHT, 0, false },
                { "LIMIT IN", ALIGN_RIGHT, 0, false }, { "REASON", ALIGN_LEFT, 10, false },
        };
        const struct out *o = &rp->c->out;
        char b1[64], b2[64], b3[64], b4[64];
        size_t leaks = 0;
        double leak_start = NAN;
        struct table t;

        if (rp->c->legend) {
                fprintf(o->f, "Backtest of %s: %s\n", title, rp->p.kind == DETECT_FDS ? "descriptors" : "memory");
                fprintf(o->f, "%10s: %s (buckets of %s, warm-up %s, confirmation %s)\n", "Window",
                        format_duration(rp->p.window, b1, sizeof(b1)), format_duration(rp->p.bucket, b2, sizeof(b2)),
                        format_duration(rp->p.warmup, b3, sizeof(b3)), format_duration(rp->p.confirm, b4, sizeof(b4)));
                fprintf(o->f, "%10s: %zu", "Samples", rp->samples);
                if (rp->per_source[QSRC_MINUTE] || rp->per_source[QSRC_HOUR])
                        fprintf(o->f, " (%zu raw, %zu minute and %zu hour rollup floors)", rp->per_source[QSRC_RAW],
                                rp->per_source[QSRC_MINUTE], rp->per_source[QSRC_HOUR]);
                if (rp->samples)
                        fprintf(o->f, " from %s to %s", when(rp, rp->t_first, b1, sizeof(b1)),
                                when(rp, rp->t_last, b2, sizeof(b2)));
                fprintf(o->f, "; %zu evaluation%s\n\n", rp->evaluations, rp->evaluations == 1 ? "" : "s");
        }
        if (rp->nrecs && table_init(&t, cols, ELEMENTSOF(cols)) == 0) {
                for (size_t i = 0; i < rp->nrecs; i++) {
                        const struct detect_verdict *v = &rp->recs[i].v;
                        const char *st = detect_status_name[v->status];
                        char buf[128];
                        int row = table_add_row(&t);

                        if (row < 0)
                                break;
                        table_set(&t, (size_t)row, 0, when(rp, rp->recs[i].t, buf, sizeof(buf)), C_NONE);
                        snprintf(buf, sizeof(buf), "%s%s", st, v->escalated ? "!" : "");
                        table_set(&t, (size_t)row, 1, buf, v->status == DETECT_LEAKING ? C_RED
                                                           : v->status == DETECT_SUSPECT ? C_YELLOW : C_NONE);
                        table_set(&t, (size_t)row, 2, detect_status_name[v->previous], C_NONE);
                        table_set(&t, (size_t)row, 3, out_rate(o, v->ev.slope, rp->is_bytes, buf, sizeof(buf)), C_NONE);
                        snprintf(b1, sizeof(b1), "%s%s", v->ev.growth > 0 ? "+" : "",
                                 out_amount(o, v->ev.growth, rp->is_bytes, buf, sizeof(buf)));
                        table_set(&t, (size_t)row, 4, b1, C_NONE);
                        table_set(&t, (size_t)row, 5, out_amount(o, v->ev.level, rp->is_bytes, buf, sizeof(buf)), C_NONE);
                        table_set(&t, (size_t)row, 6, isfinite(v->ev.forecast) ? format_duration(v->ev.forecast, buf,
                                                                                               sizeof(buf)) : "-",
                                  C_NONE);
                        table_set(&t, (size_t)row, 7, v->ev.reason ? v->ev.reason : "", C_NONE);
                }
                table_layout(&t, o, rp->c->legend);
                table_print(&t, o, rp->c->legend);
                table_done(&t);
        }
        if (!rp->c->legend)
                return;
        if (rp->nrecs)
                fputc('\n', o->f);
        for (size_t i = 0; i < rp->nrecs; i++) {
                const struct detect_verdict *v = &rp->recs[i].v;

                if (v->status == DETECT_LEAKING && v->previous != DETECT_LEAKING) {
                        leaks++;
                        leak_start = rp->recs[i].t;
                } else if (v->previous == DETECT_LEAKING && v->status != DETECT_LEAKING && !isnan(leak_start)) {
                        fprintf(o->f, "Leak: %s .. %s\n", when(rp, leak_start, b1, sizeof(b1)),
                                when(rp, rp->recs[i].t, b2, sizeof(b2)));
                        leak_start = NAN;
                }
        }
        if (!isnan(leak_start))
                fprintf(o->f, "Leak: %s .. still leaking at the end\n", when(rp, leak_start, b1, sizeof(b1)));
        if (leaks == 0 && sp->sparse)
                fprintf(o->f, "No leak judged: the samples are too sparse for this window (see the warning).\n");
        else if (leaks == 0)
                fprintf(o->f, "No leak found%s.\n", rp->evaluations ? "" : " (too few samples for one evaluation)");
}

static struct json_object *verdict_json(const struct replay *rp, const struct verdict_rec *rec)
{
        const struct detect_verdict *v = &rec->v;
        struct json_object *o = json_object_new_object();
        bool epoch = rp->t_first >= EPOCH_THRESHOLD_S;
        int r = o ? 0 : -ENOMEM;

        if (r == 0)
                r = json_add(o, "t_s", json_num(rec->t));
        if (r == 0)
                r = json_add(o, "time", epoch ? json_time(llround(rec->t * 1000)) : NULL);
        if (r == 0)
                r = json_add(o, "state", json_str(detect_status_name[v->status]));
        if (r == 0)
                r = json_add(o, "previous", json_str(detect_status_name[v->previous]));
        if (r == 0)
                r = json_add(o, "escalated", json_object_new_boolean(v->escalated));
        if (r == 0)
                r = json_add(o, "evidence", json_object_new_boolean(v->evidence));
        if (r == 0)
                r = json_add(o, "slope", json_num(v->ev.slope));
        if (r == 0)
                r = json_add(o, "slope_low", json_num(v->ev.slope_low));
        if (r == 0)
                r = json_add(o, "slope_high", json_num(v->ev.slope_high));
        if (r == 0)
                r = json_add(o, "growth", json_num(v->ev.growth));
        if (r == 0)
                r = json_add(o, "growth_rel", json_num(v->ev.growth_rel));
        if (r == 0)
                r = json_add(o, "level", json_num(v->ev.level));
        if (r == 0)
                r = json_add(o, "p_value", json_num(v->ev.p));
        if (r == 0)
                r = json_add(o, "forecast_s", json_num(v->ev.forecast));
        if (r == 0)
                r = json_add(o, "buckets", json_object_new_int((int)v->n));
        if (r == 0)
                r = json_add(o, "evidence_from_s", json_num(v->ev.t_from));
        if (r == 0)
                r = json_add(o, "evidence_to_s", json_num(v->ev.t_to));
        if (r == 0)
                r = json_add(o, "reason", json_str(v->ev.reason));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int print_json(struct replay *rp, struct json_object *source, const struct sparsity *sp)
{
        struct json_object *doc = json_object_new_object(), *arr = json_object_new_array();
        struct json_object *warn = json_object_new_array();
        int r = doc && arr && warn && source ? 0 : -ENOMEM;
        char text[512];

        if (r == 0 && sp->sparse) {
                struct json_object *w = json_object_new_object();

                sparsity_text(rp, sp, text, sizeof(text));
                r = w ? 0 : -ENOMEM;
                if (r == 0)
                        r = json_add(w, "window_s", json_num(rp->p.window));
                if (r == 0)
                        r = json_add(w, "interval_s", json_num(sp->interval));
                if (r == 0)
                        r = json_add(w, "floors", json_object_new_int((int)sp->floors));
                if (r == 0)
                        r = json_add(w, "needed", json_object_new_int((int)rp->p.min_buckets));
                if (r == 0)
                        r = json_add(w, "text", json_str(text));
                if (r == 0)
                        r = json_object_array_add(warn, w);
                else
                        json_object_put(w);
        }
        if (r == 0)
                r = json_add(doc, "warnings", warn), warn = NULL;

        for (size_t i = 0; r == 0 && i < rp->nrecs; i++) {
                struct json_object *o = verdict_json(rp, &rp->recs[i]);
                r = o ? json_object_array_add(arr, o) : -ENOMEM;
        }
        if (r == 0)
                r = json_add(doc, "source", source), source = NULL;
        if (r == 0)
                r = json_add(doc, "kind", json_str(detect_kind_name[rp->p.kind]));
        if (r == 0)
                r = json_add(doc, "window_s", json_num(rp->p.window));
        if (r == 0)
                r = json_add(doc, "samples", json_object_new_int64((int64_t)rp->samples));
        if (r == 0)
                r = json_add(doc, "evaluations", json_object_new_int64((int64_t)rp->evaluations));
        if (r == 0)
                r = json_add(doc, "first_s", rp->samples ? json_num(rp->t_first) : NULL);
        if (r == 0)
                r = json_add(doc, "last_s", rp->samples ? json_num(rp->t_last) : NULL);
        if (r == 0)
                r = json_add(doc, "verdicts", arr), arr = NULL;
        if (r == 0)
                r = out_json(&rp->c->out, doc, rp->c->json_pretty);
        json_object_put(source);
        json_object_put(arr);
        json_object_put(warn);
        json_object_put(doc);
        return r < 0 ? cli_error(EXIT_FAIL, "out of memory") : EXIT_OK;
}

static int print_csv(struct replay *rp)
{
        static const char *const header[] = {
                "t_s", "time", "state", "previous", "escalated", "slope", "slope_low", "slope_high", "growth",
                "growth_rel", "level", "p_value", "forecast_s", "reason",
        };
        const struct out *o = &rp->c->out;

        if (rp->c->legend) {
                for (size_t i = 0; i < ELEMENTSOF(header); i++)
                        out_csv_field(o, header[i], strlen(header[i]), i == 0);
                out_csv_end(o);
        }
        for (size_t i = 0; i < rp->nrecs; i++) {
                const struct detect_verdict *v = &rp->recs[i].v;
                const double nums[] = { v->ev.slope, v->ev.slope_low, v->ev.slope_high, v->ev.growth, v->ev.growth_rel, v->ev.level,
                                        v->ev.p, v->ev.forecast };
                char buf[48] = "";

                format_number(rp->recs[i].t, buf, sizeof(buf));
                out_csv_field(o, buf, strlen(buf), true);
                buf[0] = '\0';
                if (rp->t_first >= EPOCH_THRESHOLD_S)
                        format_iso8601(llround(rp->recs[i].t * 1000), buf, sizeof(buf));
                out_csv_field(o, buf, strlen(buf), false);
                out_csv_field(o, detect_status_name[v->status], strlen(detect_status_name[v->status]), false);
                out_csv_field(o, detect_status_name[v->previous], strlen(detect_status_name[v->previous]), false);
                out_csv_field(o, v->escalated ? "yes" : "no", v->escalated ? 3 : 2, false);
                for (size_t k = 0; k < ELEMENTSOF(nums); k++) {
                        format_number(nums[k], buf, sizeof(buf));
                        out_csv_field(o, buf, strlen(buf), false);
                }
                out_csv_field(o, v->ev.reason ? v->ev.reason : "", v->ev.reason ? strlen(v->ev.reason) : 0, false);
                out_csv_end(o);
        }
        return EXIT_OK;
}

static int finish(struct replay *rp, const char *title, struct json_object *source)
{
        struct sparsity sp;
        char text[512];
        int r;

        /* Said on stderr whatever the format, so a script sees it too; and in the JSON. */
        check_sparsity(rp, &sp);
        if (sp.sparse) {
                sparsity_text(rp, &sp, text, sizeof(text));
                fprintf(stderr, "leakwatch: warning: %s\n", text);
        }
        if (rp->c->format == FORMAT_JSON)
                return print_json(rp, source, &sp);
        json_object_put(source);
        if (rp->c->format == FORMAT_CSV) {
                r = print_csv(rp);
        } else {
                print_human(rp, title, &sp);
                r = EXIT_OK;
        }
        return r;
}

/* ---- sources ---- */

static int parse_kind(const struct cli *c, int *ret_metric, enum detect_kind *ret_kind)
{
        int m = query_metric_from_name(c->metric_arg ? c->metric_arg : "memory");

        if (m < 0)
                return cli_error(EXIT_USAGE, "--metric: unknown metric '%s' (memory, fds, or another metric "
                                 "leakwatch export lists)", c->metric_arg);
        *ret_metric = m;
        *ret_kind = query_metric_is_bytes(m) ? DETECT_MEMORY : DETECT_FDS;
        return EXIT_OK;
}

static int from_file(struct replay *rp)
{
        struct cli *c = rp->c;
        FILE *f = strcmp(c->file, "-") == 0 ? stdin : fopen(c->file, "re");
        double *t = NULL, *v = NULL;
        size_t line = 0;
        ssize_t n;
        int r = 0;

        if (!f)
                return cli_error(EXIT_FAIL, "cannot read %s: %s", c->file, strerror(errno));
        n = backtest_read_csv(f, &t, &v, &line);
        if (f != stdin)
                fclose(f);
        if (n == -EINVAL)
                return cli_error(EXIT_FAIL, "%s:%zu: not a \"t,value\" row with t (seconds) rising", c->file, line);
        if (n == -E2BIG)
                return line ? cli_error(EXIT_FAIL, "%s:%zu: line longer than %d bytes", c->file, line, BACKTEST_MAX_LINE)
                            : cli_error(EXIT_FAIL, "%s: more than %d rows", c->file, BACKTEST_MAX_ROWS);
        if (n < 0)
                return cli_error(EXIT_FAIL, "reading %s: %s", c->file, strerror((int)-n));
        detect_init(&rp->d, n > 0 ? t[0] : 0);
        for (ssize_t i = 0; r == 0 && i < n; i++) {
                rp->per_source[QSRC_RAW]++;
                r = feed(rp, t[i], v[i]);
        }
        free(t);
        free(v);
        if (r < 0)
                return cli_error(EXIT_FAIL, "out of memory");
        {
                struct json_object *src = json_object_new_object();

                if (src && json_add(src, "file", json_str(c->file)) < 0) {
                        json_object_put(src);
                        src = NULL;
                }
                return finish(rp, c->file, src);
        }
}

static int from_db(struct replay *rp, const char *arg, int metric)
{
        struct cli *c = rp->c;
        struct row_ctx x = { .rp = rp, .metric = metric };
        struct target t = { 0 };
        struct json_object *src = NULL, *subject;
        char title[256];
        int64_t from, to;
        int r;

        r = cli_open_db(c);
        if (r != EXIT_OK)
                return r;
        r = target_resolve(c, arg, &t);
        if (r != EXIT_OK)
                return r;
        /* All the history kept, unless a range is asked for. */
        r = target_default_range(c, &t, &from, &to);
        if (r < 0) {
                target_clear(&t);
                return cli_query_error(c, r, "reading the series");
        }
        cli_range(c, t.kind == TARGET_PROCESS ? t.proc.first_ms : t.rule.first_ms, to, &from, &to);
        /* The warm-up counts from the process's start, as in the daemon. */
        detect_init(&rp->d, t.kind == TARGET_PROCESS && t.proc.start_ms ? (double)t.proc.start_ms / 1000
                                                                           : (double)from / 1000);
        r = target_series(c, &t, from, to, feed_row, &x);
        if (r < 0) {
                target_clear(&t);
                return r == -ENOMEM ? cli_error(EXIT_FAIL, "out of memory") : cli_query_error(c, r, "reading the series");
        }
        target_title(&t, title, sizeof(title));
        subject = t.kind == TARGET_RULE ? obj_rule(&t.rule) : obj_process(&t.proc);
        src = json_object_new_object();
        if (src && subject && json_add(src, t.kind == TARGET_RULE ? "rule" : "process", subject) == 0)
                subject = NULL;
        if (src && json_add(src, "metric", json_str(query_metric_name(metric))) < 0) {
                json_object_put(src);
                src = NULL;
        }
        json_object_put(subject);
        target_clear(&t);
        return finish(rp, title, src);
}

int cmd_backtest(struct cli *c, int argc, char **argv)
{
        struct replay rp = { .c = c, .limit = c->memory_limit };
        double window = c->window_s > 0 ? c->window_s : DEFAULT_WINDOW_S;
        enum detect_kind kind = DETECT_MEMORY;
        int metric = QM_MEMORY, r;

        if ((c->file && argc != 0) || (!c->file && argc != 1))
                return cli_error(EXIT_USAGE, "backtest needs one TARGET, or -f FILE.csv");
        if (c->file && (c->since_ms || c->until_ms))
                return cli_error(EXIT_USAGE, "--since and --until apply to stored history, not to -f");
        r = parse_kind(c, &metric, &kind);
        if (r != EXIT_OK)
                return r;
        detect_params_init(&rp.p, kind, window);
        if (detect_params_check(&rp.p) < 0)
                return cli_error(EXIT_USAGE, "--window: the detector cannot work with %g s", window);
        rp.is_bytes = kind == DETECT_MEMORY;
        r = c->file ? from_file(&rp) : from_db(&rp, argv[0], metric);
        free(rp.recs);
        free(rp.gaps);
        return r;
}
