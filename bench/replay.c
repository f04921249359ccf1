/* SPDX-License-Identifier: GPL-2.0-or-later */
/* replay: runs the detector and the two simple slope rules over the series a leakwatchd
 * stored, as the daemon's detection engine runs the detector, and prints what each said.
 *
 *     replay --db FILE --window DURATION [--json] PROCESS[@START_MS]...
 *
 * PROCESS is a row id of the process table; START_MS its start (process.start_ms), from
 * which the warm-up is measured; without it, the first sample's time. The database is
 * opened read-only, so it can run while the daemon writes.
 *
 * Per process and metric — "memory" (anonymous + swap bytes) and "fds" (open
 * descriptors), the two the engine judges — every sample goes to detect_add(); when a
 * bucket closes, detect_evaluate() runs at that sample's time with no headroom (the
 * database keeps no limits: the forecast never shortens a confirmation here), and so do
 * the two baselines of bench/baseline.h: a Prometheus-style deriv() rule and a linear
 * regression with R^2 >= 0.8. As in bench/detect-shapes.c, the baselines see only
 * samples after the warm-up, alert above the detector's own minimum growth per window
 * (taken at the level of the first sample after the warm-up) and hold for its
 * confirmation time: the comparison is about statistics, not thresholds or patience.
 *
 * Output: per process and metric, the detector's state changes and each rule's alerts
 * with their times (seconds after the process start); with --json, one JSON object a
 * line instead (fields in print_json). Exit status 0, 1 on a database error, 2 on bad
 * arguments. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "detect.h"
#include "jsonval.h"
#include "sample.h"
#include "store.h"
#include "util.h"

/* Alert episodes kept per rule and series: one leak gives one, a flapping rule many; the
 * rest are counted, not kept. */
#define EPISODES_MAX 64
/* Detector state changes kept per series, likewise. */
#define CHANGES_MAX 256


/* An alert from raise to clear; end_s is NAN while still raised at the last sample. */
struct episode {
        double start_s, end_s;
};

struct rule_log {
        struct episode ep[EPISODES_MAX];
        unsigned n, total;              /* kept, and raised in all */
        bool on;
};

struct change {
        double t_s;
        struct detect_verdict v;
};

/* One metric of one process: the detector, both baselines, and what they said. */
struct series {
        struct detect d;
        struct detect_params p;
        struct baseline b;              /* large (the ring): one per metric, reused */
        struct baseline_params bp;
        bool bp_ready;                  /* baseline threshold fixed at the first post-warm-up sample */
        uint64_t samples, evaluations;
        double first_s, last_s;
        struct change change[CHANGES_MAX];
        unsigned n_change, total_change;
        struct rule_log leak, deriv, linreg;
};

struct replay {
        int64_t start_ms;
        bool have_start;
        struct series s[DETECT__KIND_MAX];
};

static void rule_step(struct rule_log *r, bool alert, double t)
{
        if (alert && !r->on) {
                if (r->n < EPISODES_MAX)
                        r->ep[r->n++] = (struct episode){ t, NAN };
                r->total++;
        } else if (!alert && r->on && r->n > 0 && r->total == r->n) {
                r->ep[r->n - 1].end_s = t;
        }
        r->on = alert;
}

static void series_sample(struct series *s, double t, double v)
{
        struct detect_verdict dv;
        struct baseline_verdict bv;

        if (s->samples++ == 0)
                s->first_s = t;
        s->last_s = t;
        if (t >= s->d.t_start + s->p.warmup) {
                if (!s->bp_ready) {
                        double per_window = fmax(s->p.min_growth, s->p.min_growth_rel * v);

                        baseline_params_init(&s->bp, s->p.window, per_window / s->p.window);
                        s->bp_ready = true;
                }
                baseline_add(&s->b, &s->bp, t, v);
        }
        if (!detect_add(&s->d, &s->p, t, v))
                return;
        detect_evaluate(&s->d, &s->p, t, NAN, &dv);
        s->evaluations++;
        if (dv.changed) {
                if (s->n_change < CHANGES_MAX)
                        s->change[s->n_change++] = (struct change){ t, dv };
                s->total_change++;
        }
        rule_step(&s->leak, dv.status == DETECT_LEAKING, t);
        if (s->bp_ready) {
                baseline_evaluate(&s->b, &s->bp, t, &bv);
                rule_step(&s->deriv, bv.deriv_alert, t);
                rule_step(&s->linreg, bv.linreg_alert, t);
        }
}

static int on_sample(const struct sample *smp, void *userdata)
{
        struct replay *r = userdata;
        double t, v;

        if (!r->have_start) {
                r->start_ms = smp->t_ms;
                r->have_start = true;
        }
        t = (double)(smp->t_ms - r->start_ms) / 1000.0;
        /* A zombie's last sample has no memory values: it is simply not a sample. */
        for (int m = 0; m < DETECT__KIND_MAX; m++)
                if (detect_value(smp, (enum detect_kind)m, &v))
                        series_sample(&r->s[m], t, v);
        return 0;
}

static json_object *json_episodes(const struct rule_log *r)
{
        json_object *a = json_object_new_array();

        for (unsigned i = 0; i < r->n; i++) {
                json_object *e = json_object_new_object();

                json_object_object_add(e, "start_s", json_num(r->ep[i].start_s));
                json_object_object_add(e, "end_s", json_num(r->ep[i].end_s));
                json_object_array_add(a, e);
        }
        return a;
}

/* {"process": ID, "metric": "memory"|"fds", "start_ms": MS, "samples": N,
 *  "evaluations": N, "first_s": S, "last_s": S, "rejected": N,
 *  "changes": [{"t_s", "state", "previous", "slope", "slope_low", "growth",
 *               "growth_rel", "level", "p", "reason"}], "changes_total": N,
 *  "leakwatch"|"deriv"|"linreg": {"alerts": [{"start_s", "end_s"}], "total": N}}
 * Times are seconds after start_ms; null where a number is unknown. */
static void print_json(int64_t id, const struct replay *r, int m)
{
        const struct series *s = &r->s[m];
        json_object *o = json_object_new_object(), *ch = json_object_new_array();
        const struct rule_log *rules[] = { &s->leak, &s->deriv, &s->linreg };
        static const char *const rule_names[] = { "leakwatch", "deriv", "linreg" };

        json_object_object_add(o, "process", json_object_new_int64(id));
        json_object_object_add(o, "metric", json_object_new_string(detect_kind_name[m]));
        json_object_object_add(o, "start_ms", json_object_new_int64(r->start_ms));
        json_object_object_add(o, "samples", json_object_new_int64((int64_t)s->samples));
        json_object_object_add(o, "evaluations", json_object_new_int64((int64_t)s->evaluations));
        json_object_object_add(o, "first_s", json_num(s->samples ? s->first_s : NAN));
        json_object_object_add(o, "last_s", json_num(s->samples ? s->last_s : NAN));
        json_object_object_add(o, "rejected", json_object_new_int64((int64_t)s->d.n_rejected));
        for (unsigned i = 0; i < s->n_change; i++) {
                const struct change *c = &s->change[i];
                json_object *e = json_object_new_object();

                json_object_object_add(e, "t_s", json_num(c->t_s));
                json_object_object_add(e, "state", json_object_new_string(detect_status_name[c->v.status]));
                json_object_object_add(e, "previous", json_object_new_string(detect_status_name[c->v.previous]));
                json_object_object_add(e, "slope", json_num(c->v.ev.slope));
                json_object_object_add(e, "slope_low", json_num(c->v.ev.slope_low));
                json_object_object_add(e, "growth", json_num(c->v.ev.growth));
                json_object_object_add(e, "growth_rel", json_num(c->v.ev.growth_rel));
                json_object_object_add(e, "level", json_num(c->v.ev.level));
                json_object_object_add(e, "p", json_num(c->v.ev.p));
                json_object_object_add(e, "reason", c->v.ev.reason ? json_object_new_string(c->v.ev.reason) : NULL);
                json_object_array_add(ch, e);
        }
        json_object_object_add(o, "changes", ch);
        json_object_object_add(o, "changes_total", json_object_new_int64(s->total_change));
        for (size_t k = 0; k < ELEMENTSOF(rules); k++) {
                json_object *e = json_object_new_object();

                json_object_object_add(e, "alerts", json_episodes(rules[k]));
                json_object_object_add(e, "total", json_object_new_int64(rules[k]->total));
                json_object_object_add(o, rule_names[k], e);
        }
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
}

static void print_episodes(const char *name, const struct rule_log *r)
{
        printf("  %-10s", name);
        if (r->total == 0)
                printf(" no alert");
        for (unsigned i = 0; i < r->n; i++) {
                if (isnan(r->ep[i].end_s))
                        printf(" alert %.1fs..", r->ep[i].start_s);
                else
                        printf(" alert %.1fs..%.1fs", r->ep[i].start_s, r->ep[i].end_s);
        }
        if (r->total > r->n)
                printf(" (and %u more)", r->total - r->n);
        putchar('\n');
}

static void print_text(int64_t id, const struct replay *r, int m)
{
        const struct series *s = &r->s[m];
        char a[32], b[32];

        printf("process %" PRId64 " %s: %" PRIu64 " samples, %" PRIu64 " evaluations\n", id, detect_kind_name[m],
               s->samples, s->evaluations);
        for (unsigned i = 0; i < s->n_change; i++) {
                const struct detect_verdict *v = &s->change[i].v;

                printf("  %7.1fs %-9s", s->change[i].t_s, detect_status_name[v->status]);
                if (m == DETECT_MEMORY)
                        printf(" level %s, growth %s/window", format_size((uint64_t)fmax(0, v->ev.level), a, sizeof(a)),
                               isfinite(v->ev.growth) ? format_size((uint64_t)fabs(v->ev.growth), b, sizeof(b)) : "?");
                else
                        printf(" level %.0f, growth %.1f/window", v->ev.level, v->ev.growth);
                printf(" (%s)\n", v->ev.reason ? v->ev.reason : "");
        }
        print_episodes("leakwatch", &s->leak);
        print_episodes("deriv()", &s->deriv);
        print_episodes("linreg", &s->linreg);
}

static void usage(FILE *f)
{
        fprintf(f, "usage: replay --db FILE --window DURATION [--json] PROCESS[@START_MS]...\n");
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "db", required_argument, NULL, 'd' },
                { "window", required_argument, NULL, 'w' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const char *db = NULL;
        double window = 0;
        bool json = false;
        struct store *st;
        char err[256];
        struct replay *r;
        int c, ret = 0;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'd': db = optarg; break;
                case 'w':
                        /* The daemon's own bounds for a window. */
                        if (parse_duration(optarg, &window) < 0 || window < 60 || window > 90 * 86400) {
                                fprintf(stderr, "replay: --window '%s': expected a duration from 1m to 90d\n", optarg);
                                return 2;
                        }
                        break;
                case 'j': json = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (!db || window <= 0 || optind == argc) {
                usage(stderr);
                return 2;
        }
        if (store_open(db, STORE_RO, &st, err, sizeof(err)) < 0) {
                fprintf(stderr, "replay: cannot open %s: %s\n", db, err);
                return 1;
        }
        r = malloc(sizeof(*r));
        if (!r) {
                store_close(st);
                fprintf(stderr, "replay: out of memory\n");
                return 1;
        }
        for (int i = optind; i < argc; i++) {
                char *at = strchr(argv[i], '@');
                int64_t id, start = 0;
                int k;

                if (at)
                        *at = '\0';
                if (parse_int64(argv[i], 1, INT64_MAX, &id) < 0 ||
                    (at && parse_int64(at + 1, 1, INT64_MAX, &start) < 0)) {
                        if (at)
                                *at = '@';
                        fprintf(stderr, "replay: '%s': expected PROCESS[@START_MS] (positive integers)\n", argv[i]);
                        ret = 2;
                        break;
                }
                memset(r, 0, sizeof(*r));
                r->start_ms = start;
                r->have_start = at != NULL;
                for (int m = 0; m < DETECT__KIND_MAX; m++) {
                        detect_params_init(&r->s[m].p, (enum detect_kind)m, window);
                        /* Times are seconds after the start: the process starts at 0. */
                        detect_init(&r->s[m].d, 0);
                        baseline_init(&r->s[m].b);
                }
                k = store_for_each_sample(st, id, INT64_MIN, INT64_MAX, on_sample, r);
                if (k < 0) {
                        fprintf(stderr, "replay: process %" PRId64 ": %s\n", id, store_errmsg(st));
                        ret = 1;
                        break;
                }
                for (int m = 0; m < DETECT__KIND_MAX; m++) {
                        if (json)
                                print_json(id, r, m);
                        else
                                print_text(id, r, m);
                }
        }
        free(r);
        store_close(st);
        return ret;
}
