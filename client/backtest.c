/* SPDX-License-Identifier: GPL-2.0-or-later */
/* backtest: leakwatch backtest — the daemon's bank of time scales (lib/scales.h), or one
 * pinned window, replayed over a stored series or a CSV file, printing the verdicts it
 * gives and the scale that gave each.
 *
 * The replay is the daemon's own use of the bank (core/engine): the same scales for the
 * samples' spacing (scales_params_default with SCALES_MIN_SAMPLES), the same phase for a
 * stored process; every raw sample goes to scales_add() and the evaluations due are made
 * at that sample's time; a stored minute or hour rollup goes to the minute-fed scales
 * as their floor, as a restarted daemon replays its rollups. The series is gathered
 * first, since the bank depends on its spacing. A pinned window (--window) is one
 * detector fed every point, rollups too: each rollup bucket is one sample, its minimum
 * at the bucket's start, which gives the detector the floors it would have seen (a
 * little lower, as rollups sum the minima of anon and swap). */
#include "backtest.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "objects.h"
#include "scales.h"
#include "target.h"

/* Times from this value on are taken for Unix time (2001-09-09) and printed as dates;
 * smaller ones are offsets from some start, printed as durations from the first. */
#define EPOCH_THRESHOLD_S 1e9
struct verdict_rec {
        double t;
        struct detect_verdict v;        /* the bank's; v.ev is the evaluated scale's */
};

/* One point of the series: a raw sample, or a rollup's floor at its bucket's start. */
struct point {
        double t, v;
        enum query_source source;
};

struct replay {
        struct cli *c;
        enum detect_kind kind;
        double window;                  /* --window: one pinned scale; 0: the bank */
        struct scales_params sp;
        struct scales s;
        double t_start;                 /* warm-up counts from here */
        double phase;                   /* the daemon's for this process; 0 for a file */
        bool is_bytes;
        double limit;                   /* headroom = limit - value; 0: unknown */
        struct point *pts;              /* the series, gathered before the replay */
        size_t npts, cappts;
        double interval;                /* the samples' typical spacing; NAN: unknown */
        size_t samples, evaluations;
        size_t per_source[3];
        double t_first, t_last;
        struct verdict_rec *recs;
        size_t nrecs, cap;
};

/* A scale the samples are too sparse for: fewer of its buckets can hold one than a
 * judgement needs, or its window holds fewer than the daemon asks to run it. */
struct sparse_scale {
        struct detect_params p;
        unsigned floors;                /* buckets the samples can fill */
        bool used;                      /* in the bank all the same (the longest is) */
};

/* The samples' typical spacing (the median gap, so a few gaps in the data do not count)
 * and the scales it does not suit. */
struct sparsity {
        double interval;
        unsigned n;
        struct sparse_scale sc[SCALES_MAX];
        bool all;                       /* not one scale of the replay can judge */
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

static int gather(struct replay *rp, double t, double value, enum query_source source)
{
        if (!isfinite(value) || !isfinite(t))
                return 0;
        if (rp->npts == rp->cappts) {
                size_t nc = rp->cappts ? rp->cappts * 2 : 1024;
                struct point *n = reallocarray(rp->pts, nc, sizeof(*n));

                if (!n)
                        return -ENOMEM;
                rp->pts = n;
                rp->cappts = nc;
        }
        rp->pts[rp->npts++] = (struct point){ .t = t, .v = value, .source = source };
        rp->per_source[source]++;
        return 0;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* The median gap between consecutive raw samples (between all points if fewer than two
 * are raw: rollups only), NAN with fewer than two points. */
static int spacing(const struct replay *rp, double *ret)
{
        bool raw_only = rp->per_source[QSRC_RAW] >= 2;
        double *gaps = malloc(rp->npts * sizeof(*gaps)), prev = NAN;
        size_t n = 0;

        *ret = NAN;
        if (!gaps)
                return rp->npts ? -ENOMEM : 0;
        for (size_t i = 0; i < rp->npts; i++) {
                if (raw_only && rp->pts[i].source != QSRC_RAW)
                        continue;
                if (!isnan(prev))
                        gaps[n++] = rp->pts[i].t - prev;
                prev = rp->pts[i].t;
        }
        if (n) {
                qsort(gaps, n, sizeof(*gaps), cmp_double);
                *ret = gaps[n / 2];
        }
        free(gaps);
        return 0;
}

static int record_verdict(struct replay *rp, double t, const struct scales_verdict *sv)
{
        if (!(sv->v.changed || sv->v.escalated || rp->c->all))
                return 0;
        return record(rp, t, &sv->v);
}

/* The evaluations due at t, as the daemon makes them. */
static int evaluate(struct replay *rp, double t, double value)
{
        double room = rp->limit > 0 ? MAX(rp->limit - value, 0.0) : NAN;
        struct scales_verdict sv;
        int r = 0;

        while (r == 0 && scales_evaluate(&rp->s, &rp->sp, t, room, &sv)) {
                rp->evaluations++;
                r = record_verdict(rp, t, &sv);
        }
        return r;
}

/* Replays the gathered series through the scales: the bank the daemon would run at the
 * samples' spacing, or the pinned window. */
static int replay(struct replay *rp)
{
        int r = spacing(rp, &rp->interval);

        if (r < 0)
                return r;
        if (rp->window > 0)
                scales_params_pinned(&rp->sp, rp->kind, rp->window);
        else
                scales_params_default(&rp->sp, rp->kind, isnan(rp->interval) ? 0 : rp->interval, SCALES_MIN_SAMPLES);
        scales_init(&rp->s, &rp->sp, rp->t_start, rp->phase);
        for (size_t i = 0; r == 0 && i < rp->npts; i++) {
                const struct point *pt = &rp->pts[i];
                double parts[SCALES_PARTS] = { pt->v, 0 };

                if (rp->samples == 0)
                        rp->t_first = pt->t;
                rp->samples++;
                rp->t_last = pt->t;
                if (pt->source == QSRC_RAW || rp->window > 0) {
                        if (scales_add(&rp->s, &rp->sp, pt->t, parts))
                                r = evaluate(rp, pt->t, pt->v);
                } else if (scales_add_minute(&rp->s, &rp->sp, pt->t, parts)) {
                        /* Any time past the minute's nominal evaluation: as a restarted
                         * daemon replays its rollups. */
                        r = evaluate(rp, pt->t + 120, pt->v);
                }
        }
        return r;
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
        /* The minimum: the raw value, or a bucket's floor. */
        return gather(x->rp, (double)row->t_ms / 1000, v->min, row->source);
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

/* A short name for a scale: "12m", "16h". */
static const char *scale_name(double window, char *buf, size_t sz)
{
        return format_duration(window, buf, sz);
}

static bool in_bank(const struct replay *rp, double window)
{
        for (unsigned i = 0; i < rp->sp.n; i++)
                if (rp->sp.p[i].window == window)
                        return true;
        return false;
}

/* The scales the samples do not suit: for a pinned window, that one when too sparse to
 * judge; for the bank, each default scale the daemon would leave out at this spacing or
 * could not judge with it. */
static void check_sparsity(const struct replay *rp, struct sparsity *ret)
{
        struct scales_params all;
        unsigned judging = 0;

        memset(ret, 0, sizeof(*ret));
        ret->interval = rp->interval;
        if (rp->window > 0)
                all = rp->sp;
        else
                scales_params_default(&all, rp->kind, 0, 0);
        for (unsigned i = 0; i < all.n; i++) {
                const struct detect_params *p = &all.p[i];
                unsigned floors = isnan(rp->interval) ? p->buckets : detect_floors_per_window(p, rp->interval);
                bool used = rp->window > 0 || in_bank(rp, p->window);

                if (used && floors >= p->min_buckets) {
                        judging++;
                        continue;
                }
                ret->sc[ret->n++] = (struct sparse_scale){ .p = *p, .floors = floors, .used = used };
        }
        ret->all = judging == 0;
}

/* A pinned window: "the 1m window (buckets of 2.5s) is too short for samples every 10s: at
 * most 6 of its 24 buckets hold one, and a judgement needs 16; a window of 2m40s or more
 * can judge them". A scale of the bank: "the 12m scale (buckets of 30s) is left out for
 * samples every 1m: at most 12 of its 24 buckets hold one, and a judgement needs 16", or
 * "...: its window holds 18 of them, and the daemon runs a scale only on 24". */
static void sparsity_text(const struct replay *rp, const struct sparsity *sp, const struct sparse_scale *sc,
                          char *buf, size_t sz)
{
        const struct detect_params *p = &sc->p;
        char w[32], b[32], i[32], need[32];

        format_duration(p->window, w, sizeof(w));
        format_duration(p->bucket, b, sizeof(b));
        format_duration(sp->interval, i, sizeof(i));
        if (rp->window > 0)
                snprintf(buf, sz,
                         "the %s window (buckets of %s) is too short for samples every %s: at most %u of its %u "
                         "buckets hold one, and a judgement needs %u; a window of %s or more can judge them", w, b,
                         i, sc->floors, p->buckets, p->min_buckets,
                         format_duration(sp->interval * p->min_buckets, need, sizeof(need)));
        else if (sc->floors < p->min_buckets)
                snprintf(buf, sz,
                         "the %s scale (buckets of %s) %s for samples every %s: at most %u of its %u buckets hold "
                         "one, and a judgement needs %u", w, b, sc->used ? "cannot judge" : "is left out", i,
                         sc->floors, p->buckets, p->min_buckets);
        else
                snprintf(buf, sz,
                         "the %s scale (buckets of %s) is left out for samples every %s: its window holds %u of "
                         "them, and the daemon runs a scale only on %u", w, b, i, sc->floors, (unsigned)SCALES_MIN_SAMPLES);
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
        /* The bank's verdicts say which scale gave them; a pinned window's are all its own. */
        static const struct table_col cols[] = {
                { "TIME", ALIGN_LEFT, 0, false }, { "STATE", ALIGN_LEFT, 0, false }, { "FROM", ALIGN_LEFT, 0, false },
                { "SCALE", ALIGN_RIGHT, 0, false }, { "SLOPE", ALIGN_RIGHT, 0, false },
                { "GROWTH", ALIGN_RIGHT, 0, false }, { "LEVEL", ALIGN_RIGHT, 0, false },
                { "LIMIT IN", ALIGN_RIGHT, 0, false }, { "REASON", ALIGN_LEFT, 10, false },
        };
        static const struct table_col cols_pinned[] = {
                { "TIME", ALIGN_LEFT, 0, false }, { "STATE", ALIGN_LEFT, 0, false }, { "FROM", ALIGN_LEFT, 0, false },
                { "SLOPE", ALIGN_RIGHT, 0, false }, { "GROWTH", ALIGN_RIGHT, 0, false }, { "LEVEL", ALIGN_RIGHT, 0, false },
                { "LIMIT IN", ALIGN_RIGHT, 0, false }, { "REASON", ALIGN_LEFT, 10, false },
        };
        const struct out *o = &rp->c->out;
        const struct detect_params *p0 = &rp->sp.p[0];
        bool bank = rp->window <= 0;
        char b1[64], b2[64], b3[64], b4[64];
        size_t leaks = 0;
        double leak_start = NAN, leak_scale = NAN;
        struct table t;

        if (rp->c->legend) {
                fprintf(o->f, "Backtest of %s: %s\n", title, rp->kind == DETECT_FDS ? "descriptors" : "memory");
                if (bank) {
                        fprintf(o->f, "%10s: ", "Scales");
                        for (unsigned i = 0; i < rp->sp.n; i++)
                                fprintf(o->f, "%s%s", i ? ", " : "", scale_name(rp->sp.p[i].window, b1, sizeof(b1)));
                        fprintf(o->f, " (the daemon's bank");
                        if (!isnan(rp->interval))
                                fprintf(o->f, " for samples every %s", format_duration(rp->interval, b1, sizeof(b1)));
                        fprintf(o->f, ")\n");
                } else
                        fprintf(o->f, "%10s: %s (buckets of %s, warm-up %s, confirmation %s)\n", "Window",
                                format_duration(p0->window, b1, sizeof(b1)), format_duration(p0->bucket, b2, sizeof(b2)),
                                format_duration(p0->warmup, b3, sizeof(b3)), format_duration(p0->confirm, b4, sizeof(b4)));
                fprintf(o->f, "%10s: %zu", "Samples", rp->samples);
                if (rp->per_source[QSRC_MINUTE] || rp->per_source[QSRC_HOUR])
                        fprintf(o->f, " (%zu raw, %zu minute and %zu hour rollup floors)", rp->per_source[QSRC_RAW],
                                rp->per_source[QSRC_MINUTE], rp->per_source[QSRC_HOUR]);
                if (rp->samples)
                        fprintf(o->f, " from %s to %s", when(rp, rp->t_first, b1, sizeof(b1)),
                                when(rp, rp->t_last, b2, sizeof(b2)));
                fprintf(o->f, "; %zu evaluation%s\n\n", rp->evaluations, rp->evaluations == 1 ? "" : "s");
        }
        if (rp->nrecs && table_init(&t, bank ? cols : cols_pinned, bank ? ELEMENTSOF(cols) : ELEMENTSOF(cols_pinned)) == 0) {
                for (size_t i = 0; i < rp->nrecs; i++) {
                        const struct detect_verdict *v = &rp->recs[i].v;
                        const char *st = detect_status_name[v->status];
                        char buf[128];
                        int row = table_add_row(&t);
                        size_t c = 0;

                        if (row < 0)
                                break;
                        table_set(&t, (size_t)row, c++, when(rp, rp->recs[i].t, buf, sizeof(buf)), C_NONE);
                        snprintf(buf, sizeof(buf), "%s%s", st, v->escalated ? "!" : "");
                        table_set(&t, (size_t)row, c++, buf, v->status == DETECT_LEAKING ? C_RED
                                                             : v->status == DETECT_SUSPECT ? C_YELLOW : C_NONE);
                        table_set(&t, (size_t)row, c++, detect_status_name[v->previous], C_NONE);
                        if (bank)
                                table_set(&t, (size_t)row, c++, scale_name(v->ev.scale, buf, sizeof(buf)), C_NONE);
                        table_set(&t, (size_t)row, c++, out_rate(o, v->ev.slope, rp->is_bytes, buf, sizeof(buf)), C_NONE);
                        snprintf(b1, sizeof(b1), "%s%s", v->ev.growth > 0 ? "+" : "",
                                 out_amount(o, v->ev.growth, rp->is_bytes, buf, sizeof(buf)));
                        table_set(&t, (size_t)row, c++, b1, C_NONE);
                        table_set(&t, (size_t)row, c++, out_amount(o, v->ev.level, rp->is_bytes, buf, sizeof(buf)), C_NONE);
                        table_set(&t, (size_t)row, c++, isfinite(v->ev.forecast) ? format_duration(v->ev.forecast, buf,
                                                                                                 sizeof(buf)) : "-",
                                  C_NONE);
                        table_set(&t, (size_t)row, c++, v->ev.reason ? v->ev.reason : "", C_NONE);
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
                        leak_scale = v->ev.scale;
                } else if (v->previous == DETECT_LEAKING && v->status != DETECT_LEAKING && !isnan(leak_start)) {
                        fprintf(o->f, "Leak: %s .. %s", when(rp, leak_start, b1, sizeof(b1)),
                                when(rp, rp->recs[i].t, b2, sizeof(b2)));
                        if (bank)
                                fprintf(o->f, " (raised at the %s scale)", scale_name(leak_scale, b3, sizeof(b3)));
                        fputc('\n', o->f);
                        leak_start = NAN;
                }
        }
        if (!isnan(leak_start)) {
                fprintf(o->f, "Leak: %s .. still leaking at the end", when(rp, leak_start, b1, sizeof(b1)));
                if (bank)
                        fprintf(o->f, " (raised at the %s scale)", scale_name(leak_scale, b3, sizeof(b3)));
                fputc('\n', o->f);
        }
        if (leaks == 0 && sp->all)
                fprintf(o->f, "No leak judged: the samples are too sparse for %s (see the warning%s).\n",
                        bank ? "every scale" : "this window", sp->n == 1 ? "" : "s");
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
                r = json_add(o, "scale_s", json_num(v->ev.scale));
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
        struct json_object *warn = json_object_new_array(), *scales = json_object_new_array();
        int r = doc && arr && warn && scales && source ? 0 : -ENOMEM;
        char text[512];

        for (unsigned i = 0; r == 0 && i < sp->n; i++) {
                const struct sparse_scale *sc = &sp->sc[i];
                struct json_object *w = json_object_new_object();

                sparsity_text(rp, sp, sc, text, sizeof(text));
                r = w ? 0 : -ENOMEM;
                if (r == 0)
                        r = json_add(w, "window_s", json_num(sc->p.window));
                if (r == 0)
                        r = json_add(w, "used", json_object_new_boolean(sc->used));
                if (r == 0)
                        r = json_add(w, "interval_s", json_num(sp->interval));
                if (r == 0)
                        r = json_add(w, "floors", json_object_new_int((int)sc->floors));
                if (r == 0)
                        r = json_add(w, "needed", json_object_new_int((int)sc->p.min_buckets));
                if (r == 0)
                        r = json_add(w, "text", json_str(text));
                if (r == 0)
                        r = json_object_array_add(warn, w);
                else
                        json_object_put(w);
        }
        if (r == 0)
                r = json_add(doc, "warnings", warn), warn = NULL;
        for (unsigned i = 0; r == 0 && i < rp->sp.n; i++)
                r = json_object_array_add(scales, json_num(rp->sp.p[i].window));

        for (size_t i = 0; r == 0 && i < rp->nrecs; i++) {
                struct json_object *o = verdict_json(rp, &rp->recs[i]);
                r = o ? json_object_array_add(arr, o) : -ENOMEM;
        }
        if (r == 0)
                r = json_add(doc, "source", source), source = NULL;
        if (r == 0)
                r = json_add(doc, "kind", json_str(detect_kind_name[rp->kind]));
        if (r == 0)
                r = json_add(doc, "window_s", rp->window > 0 ? json_num(rp->window) : NULL);
        if (r == 0)
                r = json_add(doc, "scales_s", scales), scales = NULL;
        if (r == 0)
                r = json_add(doc, "interval_s", json_num(rp->interval));
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
        json_object_put(scales);
        json_object_put(doc);
        return r < 0 ? cli_error(EXIT_FAIL, "out of memory") : EXIT_OK;
}

static int print_csv(struct replay *rp)
{
        static const char *const header[] = {
                "t_s", "time", "state", "previous", "escalated", "slope", "slope_low", "slope_high", "growth",
                "growth_rel", "level", "p_value", "forecast_s", "reason", "scale_s",
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
                format_number(v->ev.scale, buf, sizeof(buf));
                out_csv_field(o, buf, strlen(buf), false);
                out_csv_end(o);
        }
        return EXIT_OK;
}

static int finish(struct replay *rp, const char *title, struct json_object *source)
{
        struct sparsity sp;
        char text[512];
        int r = replay(rp);

        if (r < 0) {
                json_object_put(source);
                return cli_error(EXIT_FAIL, "out of memory");
        }
        /* Said on stderr whatever the format, so a script sees it too; and in the JSON. */
        check_sparsity(rp, &sp);
        for (unsigned i = 0; i < sp.n; i++) {
                sparsity_text(rp, &sp, &sp.sc[i], text, sizeof(text));
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
        rp->t_start = n > 0 ? t[0] : 0;
        for (ssize_t i = 0; r == 0 && i < n; i++)
                r = gather(rp, t[i], v[i], QSRC_RAW);
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
        /* The warm-up counts from the process's start, and its evaluations fall at its
         * phase, as in the daemon. */
        rp->t_start = t.kind == TARGET_PROCESS && t.proc.start_ms ? (double)t.proc.start_ms / 1000 : (double)from / 1000;
        rp->phase = t.kind == TARGET_PROCESS && rp->window <= 0 ? scales_phase(t.proc.id) : 0;
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
        struct replay rp = { .c = c, .limit = c->memory_limit, .window = c->window_s, .interval = NAN };
        enum detect_kind kind = DETECT_MEMORY;
        int metric = QM_MEMORY, r;

        if ((c->file && argc != 0) || (!c->file && argc != 1))
                return cli_error(EXIT_USAGE, "backtest needs one TARGET, or -f FILE.csv");
        if (c->file && (c->since_ms || c->until_ms))
                return cli_error(EXIT_USAGE, "--since and --until apply to stored history, not to -f");
        r = parse_kind(c, &metric, &kind);
        if (r != EXIT_OK)
                return r;
        rp.kind = kind;
        if (rp.window > 0) {
                scales_params_pinned(&rp.sp, kind, rp.window);
                if (scales_params_check(&rp.sp) < 0)
                        return cli_error(EXIT_USAGE, "--window: the detector cannot work with %g s", rp.window);
        }
        rp.is_bytes = kind == DETECT_MEMORY;
        r = c->file ? from_file(&rp) : from_db(&rp, argv[0], metric);
        free(rp.recs);
        free(rp.pts);
        return r;
}
