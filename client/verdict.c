/* SPDX-License-Identifier: GPL-2.0-or-later */
/* verdict: leakwatch run's verdict, table, chart and JSON, read from the database. */
#include "verdict.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "aftermath.h"
#include "chart.h"
#include "detect.h"
#include "proto.h"
#include "objects.h"
#include "sites.h"
#include "trend.h"

/* Processes listed in the table: the command and those with something to say; a build
 * that forks thousands of compilers gets a count for the rest. */
#define MAX_LISTED 20
/* Chart rows by default: the chart is one part of a report that also holds the verdict
 * and the table, and should fit a terminal with them. */
#define DEFAULT_HEIGHT 10

const char *const run_outcome_name[RUN__MAX] = {
        [RUN_LEAK] = "leak",
        [RUN_SUSPECT] = "suspect",
        [RUN_NO_LEAK] = "no leak",
        [RUN_TOO_SHORT] = "too short",
        [RUN_NOT_WATCHED] = "not watched",
};

double run_needs_seconds(double window)
{
        struct detect_params p;

        detect_params_init(&p, DETECT_MEMORY, window);
        return p.warmup + p.window + p.confirm;
}

enum run_outcome run_outcome_of(bool watched, bool watch_failed, bool any_alert, bool any_suspect, double ran_s,
                                double needs_s)
{
        if (any_alert)
                return RUN_LEAK;
        if (!watched && watch_failed)
                return RUN_NOT_WATCHED;
        /* A command that ended before it could even be watched simply ran too short. */
        if (ran_s < needs_s)
                return RUN_TOO_SHORT;
        if (!watched)
                return RUN_NOT_WATCHED;
        return any_suspect ? RUN_SUSPECT : RUN_NO_LEAK;
}

int run_exit_status(enum run_outcome o, int wait_status)
{
        if (o == RUN_LEAK)
                return EXIT_LEAK;
        if (WIFEXITED(wait_status))
                return WEXITSTATUS(wait_status);
        if (WIFSIGNALED(wait_status))
                return 128 + WTERMSIG(wait_status);
        return EXIT_FAIL;
}

/* ---- the processes of a run ---- */

void run_tree_select(const int64_t *ids, const int64_t *parent_ids, size_t n, int64_t root_id, bool *ret_in)
{
        for (size_t i = 0; i < n; i++) {
                ret_in[i] = ids[i] == root_id;
                for (size_t j = 0; j < i && !ret_in[i] && parent_ids[i]; j++)
                        ret_in[i] = ret_in[j] && ids[j] == parent_ids[i];
        }
}

int run_tree_load(struct query *q, int64_t root_id, struct run_tree *ret)
{
        struct query_filter f = { .by = QUERY_ID, .num = root_id };
        struct query_process *root = NULL, *all = NULL;
        _cleanup_free_ int64_t *ids = NULL, *parents = NULL;
        _cleanup_free_ bool *in = NULL;
        size_t nroot = 0, n = 0, k = 0;
        int r;

        r = query_processes(q, &f, &root, &nroot);
        if (r < 0)
                return r;
        if (nroot == 0) {
                query_processes_free(root, nroot);
                return -ENOENT;
        }
        /* Its descendants are under its rule, seen while it ran or after. */
        f = (struct query_filter){ .by = QUERY_RULE, .num = root->rule_id, .active_from = root->first_ms,
                                   .active_to = INT64_MAX };
        query_processes_free(root, nroot);
        r = query_processes(q, &f, &all, &n);
        if (r < 0)
                return r;
        ids = calloc(n + 1, sizeof(*ids));
        parents = calloc(n + 1, sizeof(*parents));
        in = calloc(n + 1, sizeof(*in));
        if (!ids || !parents || !in) {
                query_processes_free(all, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                ids[i] = all[i].id;
                parents[i] = all[i].parent_id;
        }
        run_tree_select(ids, parents, n, root_id, in);
        for (size_t i = 0; i < n; i++) {
                if (in[i])
                        all[k++] = all[i];
                else
                        query_process_clear(&all[i]);
        }
        if (k == 0) {
                query_processes_free(all, k);
                return -ENOENT;
        }
        *ret = (struct run_tree){ .p = all, .n = k };
        return 0;
}

void run_tree_free(struct run_tree *t)
{
        query_processes_free(t->p, t->n);
        *t = (struct run_tree){ 0 };
}

/* ---- words for numbers ---- */

/* A signed rate per second: a run is judged on seconds and minutes, not hours. */
static const char *rate_s(const struct out *o, double per_s, bool is_bytes, char *buf, size_t bufsz)
{
        char tmp[32];

        if (!isfinite(per_s)) {
                snprintf(buf, bufsz, "-");
                return buf;
        }
        out_amount(o, fabs(per_s), is_bytes, tmp, sizeof(tmp));
        snprintf(buf, bufsz, "%s%s/s", per_s < 0 ? "-" : per_s > 0 ? "+" : "", tmp);
        return buf;
}

/* "+1m12s" from the start of the run. */
static const char *since_start(const struct run_info *ri, int64_t t_ms, char *buf, size_t bufsz)
{
        char d[32];

        snprintf(buf, bufsz, "+%s", format_duration((double)MAX(t_ms - ri->start_ms, (int64_t)0) / 1000, d, sizeof(d)));
        return buf;
}

static enum out_color state_color(const char *s)
{
        return strcmp(s, "leaking") == 0 ? C_RED : strcmp(s, "suspect") == 0 ? C_YELLOW
             : strcmp(s, "ok") == 0 ? C_GREEN : C_NONE;
}

/* How the command ended, in words. */
static void describe_exit(int ws, char *buf, size_t bufsz)
{
        if (WIFEXITED(ws))
                snprintf(buf, bufsz, "exited with status %d", WEXITSTATUS(ws));
        else if (WIFSIGNALED(ws))
                snprintf(buf, bufsz, "killed by signal %d (%s)%s", WTERMSIG(ws), strsignal(WTERMSIG(ws)),
                         WCOREDUMP(ws) ? ", core dumped" : "");
        else
                snprintf(buf, bufsz, "ended (wait status %d)", ws);
}

/* ---- events while it runs ---- */

static void print_event(const struct out *o, const struct run_info *ri, const struct query_process *p,
                        const struct query_verdict *v)
{
        _cleanup_free_ char *name = out_escape(p->comm, p->comm_len);
        bool bytes = detect_kind_from_name(v->metric) != DETECT_FDS;
        char when[40], rate[48], low[48], why[256];

        str_escape(v->reason ? v->reason : "", v->reason ? strlen(v->reason) : 0, why, sizeof(why));
        fprintf(o->f, "leakwatch: %s %s (pid %" PRId32 ") %s %s%s%s: %s (at least %s)%s%s\n",
                since_start(ri, v->t_ms, when, sizeof(when)), name ? name : "?", p->pid, v->metric,
                out_color(o, state_color(v->state)), v->state, out_reset(o),
                rate_s(o, v->slope, bytes, rate, sizeof(rate)), rate_s(o, v->slope_low, bytes, low, sizeof(low)),
                why[0] ? ", " : "", why);
}

int run_print_events(const struct out *o, struct query *q, const struct run_info *ri, int64_t *last_verdict_id)
{
        struct run_tree t = { 0 };
        int64_t last = *last_verdict_id;
        int r;

        r = run_tree_load(q, ri->root_id, &t);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        /* Process by process: a poll rarely finds more than one change, so their order
         * across processes matters less than one query per process. */
        for (size_t i = 0; r >= 0 && i < t.n; i++) {
                struct query_verdict *v = NULL;
                size_t nv = 0;

                r = query_verdicts(q, t.p[i].id, NULL, 0, INT64_MAX, &v, &nv);
                for (size_t j = 0; r >= 0 && j < nv; j++)
                        if (v[j].id > *last_verdict_id) {
                                print_event(o, ri, &t.p[i], &v[j]);
                                last = MAX(last, v[j].id);
                        }
                query_verdicts_free(v, nv);
        }
        fflush(o->f);
        *last_verdict_id = last;
        run_tree_free(&t);
        return r < 0 ? r : 0;
}

/* ---- the report ---- */

struct proc_view {
        const struct query_process *p;
        struct query_verdict *v;        /* all its verdicts, in time order */
        size_t nv;
        const struct query_verdict *last[DETECT__KIND_MAX];
        struct query_alert *alerts;
        size_t nalerts;
        struct query_site *sites;       /* the newest its agents reported, if it alerted */
        size_t nsites;
        struct aftermath *after;        /* what came of each alert */
        double lived_s;
        bool listed;
};

struct report {
        struct run_tree t;
        struct proc_view *pv;
        enum run_outcome outcome;
        int exit_status;
        double needs_s, ran_s;
        size_t listed, nalerts;
        const struct proc_view *charted;
        const struct query_alert *first_alert;
        /* the chart's series */
        int64_t *ts;
        double *lo, *hi;
        size_t n, cap;
        int64_t from_ms, to_ms;
        bool have_trend;
        double slope_ms, at_from, vmin, vmax;
};

static void report_free(struct report *rp)
{
        for (size_t i = 0; rp->pv && i < rp->t.n; i++) {
                query_verdicts_free(rp->pv[i].v, rp->pv[i].nv);
                query_alerts_free(rp->pv[i].alerts, rp->pv[i].nalerts);
                query_sites_free(rp->pv[i].sites, rp->pv[i].nsites);
                for (size_t k = 0; rp->pv[i].after && k < rp->pv[i].nalerts; k++)
                        aftermath_free(&rp->pv[i].after[k]);
                free(rp->pv[i].after);
        }
        free(rp->pv);
        run_tree_free(&rp->t);
        free(rp->ts);
        free(rp->lo);
        free(rp->hi);
}

static int collect(const struct query_row *row, void *userdata)
{
        struct report *rp = userdata;
        const struct query_value *qv = &row->m[QM_MEMORY];

        if (rp->n == rp->cap) {
                size_t cap = rp->cap ? rp->cap * 2 : 1024;
                int64_t *ts = reallocarray(rp->ts, cap, sizeof(*ts));
                double *lo, *hi;

                if (ts)
                        rp->ts = ts;
                lo = reallocarray(rp->lo, cap, sizeof(*lo));
                if (lo)
                        rp->lo = lo;
                hi = reallocarray(rp->hi, cap, sizeof(*hi));
                if (hi)
                        rp->hi = hi;
                if (!ts || !lo || !hi)
                        return -ENOMEM;
                rp->cap = cap;
        }
        rp->ts[rp->n] = row->t_ms;
        rp->lo[rp->n] = qv->known ? qv->min : NAN;
        rp->hi[rp->n] = qv->known ? qv->max : NAN;
        rp->n++;
        return 0;
}

static double lived_seconds(const struct query_process *p)
{
        int64_t from = p->start_ms ? p->start_ms : p->first_ms, to = p->end_ms ? p->end_ms : p->last_ms;

        return to > from ? (double)(to - from) / 1000 : 0;
}

/* Reads everything the report shows and decides the verdict. */
static int load(struct query *q, const struct run_info *ri, struct report *rp)
{
        bool any_suspect = false;
        int r = 0;

        rp->needs_s = run_needs_seconds(ri->window);
        rp->ran_s = (double)MAX(ri->end_ms - ri->start_ms, (int64_t)0) / 1000;
        if (q && ri->root_id) {
                r = run_tree_load(q, ri->root_id, &rp->t);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r < 0)
                return r;
        rp->pv = calloc(rp->t.n + 1, sizeof(*rp->pv));
        if (!rp->pv)
                return -ENOMEM;
        for (size_t i = 0; i < rp->t.n; i++) {
                struct proc_view *pv = &rp->pv[i];
                struct query_alert_filter af = { .process_id = rp->t.p[i].id };

                pv->p = &rp->t.p[i];
                pv->lived_s = lived_seconds(pv->p);
                r = query_verdicts(q, pv->p->id, NULL, 0, INT64_MAX, &pv->v, &pv->nv);
                if (r >= 0)
                        r = query_alerts(q, &af, &pv->alerts, &pv->nalerts);
                if (r >= 0 && pv->nalerts)
                        r = query_sites(q, pv->p->id, 0, INT64_MAX, &pv->sites, &pv->nsites);
                if (r >= 0 && !(pv->after = calloc(pv->nalerts + 1, sizeof(*pv->after))))
                        r = -ENOMEM;
                for (size_t k = 0; r >= 0 && k < pv->nalerts; k++)
                        r = aftermath_read(q, &pv->alerts[k], &pv->after[k]);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < pv->nv; j++)
                        for (int m = 0; m < DETECT__KIND_MAX; m++)
                                if (strcmp(pv->v[j].metric, detect_kind_name[m]) == 0)
                                        pv->last[m] = &pv->v[j];
                for (int m = 0; m < DETECT__KIND_MAX; m++)
                        any_suspect |= pv->last[m] && strcmp(pv->last[m]->state, "suspect") == 0;
                /* Alerts come newest first; the report tells the first one found. */
                if (pv->nalerts && (!rp->first_alert ||
                                    pv->alerts[pv->nalerts - 1].start_ms < rp->first_alert->start_ms)) {
                        rp->first_alert = &pv->alerts[pv->nalerts - 1];
                        rp->charted = pv;
                }
                rp->nalerts += pv->nalerts;
                pv->listed = rp->listed < MAX_LISTED && (i == 0 || pv->nv > 0 || pv->nalerts > 0);
                rp->listed += pv->listed;
        }
        if (!rp->charted && rp->t.n)
                rp->charted = &rp->pv[0];
        rp->outcome = run_outcome_of(rp->t.n > 0, ri->watch_error != NULL, rp->nalerts > 0, any_suspect, rp->ran_s,
                                     rp->needs_s);
        rp->exit_status = run_exit_status(rp->outcome, ri->wait_status);
        if (!rp->charted)
                return 0;
        rp->from_ms = rp->charted->p->first_ms;
        rp->to_ms = MAX(rp->charted->p->end_ms ? rp->charted->p->end_ms : rp->charted->p->last_ms, rp->from_ms) + 1;
        r = query_series(q, rp->charted->p->id, rp->from_ms, rp->to_ms, collect, rp);
        if (r < 0)
                return r;
        rp->vmin = rp->vmax = NAN;
        for (size_t i = 0; i < rp->n; i++) {
                if (isnan(rp->lo[i]))
                        continue;
                rp->vmin = isnan(rp->vmin) || rp->lo[i] < rp->vmin ? rp->lo[i] : rp->vmin;
                rp->vmax = isnan(rp->vmax) || rp->hi[i] > rp->vmax ? rp->hi[i] : rp->vmax;
        }
        rp->have_trend = trend_floor_fit(rp->ts, rp->lo, rp->n, rp->from_ms, rp->to_ms, &rp->slope_ms, &rp->at_from) == 0;
        return 0;
}

/* The state a table row shows: the latest verdict's, or what its silence means. */
static const char *row_state(const struct report *rp, const struct proc_view *pv, int m)
{
        if (pv->last[m])
                return pv->last[m]->state;
        return pv->lived_s >= rp->needs_s ? "ok" : "too short";
}

/* Appends one argument of the command line, escaped (out_escape) and quoted as a shell
 * would need it, so the line reads back as the argv. Returns the length written. */
static size_t quote_arg(const char *arg, bool space, char *buf, size_t bufsz)
{
        _cleanup_free_ char *esc = out_escape(arg, strlen(arg));
        size_t o = 0;
        bool quote;

        if (!esc)
                return 0;
        quote = !*esc || strspn(esc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=/.,:@%") !=
                                 strlen(esc);
#define PUT(s) do { if (o < bufsz) o += (size_t)snprintf(buf + o, bufsz - o, "%s", (s)); } while (0)
        if (space)
                PUT(" ");
        if (quote)
                PUT("'");
        for (const char *p = esc; *p; p++) {
                char one[2] = { *p, '\0' };

                PUT(*p == '\'' ? "'\\''" : one);
        }
        if (quote)
                PUT("'");
#undef PUT
        return MIN(o, bufsz ? bufsz - 1 : 0);
}

static void field(const struct out *o, const char *name, const char *value)
{
        fprintf(o->f, "%-10s %s\n", name, value);
}

static void print_head(const struct out *o, const struct run_info *ri, const struct report *rp)
{
        char line[1024], fit[1024], d[32], iv[32], w[32], how[128];
        size_t len = 0;

        for (size_t i = 0; ri->argv[i] && len + 1 < sizeof(line); i++)
                len += quote_arg(ri->argv[i], i > 0, line + len, sizeof(line) - len);
        field(o, "Command:", out_fit(o, line, o->full ? SIZE_MAX : MAX(o->width, 40u) - 11, fit, sizeof(fit)));
        describe_exit(ri->wait_status, how, sizeof(how));
        snprintf(line, sizeof(line), "pid %d, %s after %s", (int)ri->pid, how,
                 format_duration(rp->ran_s, d, sizeof(d)));
        field(o, "Ran:", line);
        if (ri->daemon)
                snprintf(line, sizeof(line), "by leakwatchd (pid %" PRId64 "), a sample every %s, window %s",
                         ri->daemon_pid, format_duration(ri->interval, iv, sizeof(iv)),
                         format_duration(ri->window, w, sizeof(w)));
        else
                snprintf(line, sizeof(line), "in-process, a sample every %s, window %s%s%s%s",
                         format_duration(ri->interval, iv, sizeof(iv)), format_duration(ri->window, w, sizeof(w)),
                         ri->note ? " (" : "", ri->note ? ri->note : "", ri->note ? ")" : "");
        field(o, "Watched:", line);
}

static void print_verdict(const struct out *o, const struct run_info *ri, const struct report *rp)
{
        char d[32], n[32], w[32];

        fprintf(o->f, "%-10s ", "Verdict:");
        switch (rp->outcome) {
        case RUN_LEAK:
                fprintf(o->f, "%sLEAK DETECTED%s: %zu alert%s\n", out_color(o, C_RED), out_reset(o), rp->nalerts,
                        rp->nalerts == 1 ? "" : "s");
                for (size_t i = 0; i < rp->t.n; i++) {
                        const struct proc_view *pv = &rp->pv[i];

                        for (size_t k = pv->nalerts; k-- > 0;) {
                                const struct query_alert *a = &pv->alerts[k];
                                _cleanup_free_ char *name = out_escape(a->name, a->name_len);
                                bool bytes = detect_kind_from_name(a->metric) != DETECT_FDS;
                                char rate[48], low[48], when[40], why[256];

                                str_escape(a->reason ? a->reason : "", a->reason ? strlen(a->reason) : 0, why,
                                           sizeof(why));
                                fprintf(o->f, "%-10s #%" PRId64 " %s (pid %" PRId32 ") %s from %s: %s (at least %s)%s%s\n",
                                        "", a->id, name ? name : "?", a->pid, a->metric,
                                        since_start(ri, a->start_ms, when, sizeof(when)),
                                        rate_s(o, a->slope, bytes, rate, sizeof(rate)),
                                        rate_s(o, a->slope_low, bytes, low, sizeof(low)), why[0] ? ", " : "", why);
                                /* What kind of leak, in the classification's words
                                 * (docs/agents.md); names come from the program. */
                                if (a->kind) {
                                        _cleanup_free_ char *kind = out_escape(a->kind, strlen(a->kind));

                                        fprintf(o->f, "%-10s    %s\n", "", kind ? kind : "?");
                                }
                                /* The evidence kept for it, when the rule asked. */
                                aftermath_print_bundles(o, pv->after[k].bundles, pv->after[k].nbundles, 14);
                        }
                        sites_print(o, pv->sites, pv->nsites);
                }
                break;
        case RUN_SUSPECT:
                fprintf(o->f, "%sno leak confirmed%s, but the floor was rising when the command ended (suspect)\n",
                        out_color(o, C_YELLOW), out_reset(o));
                break;
        case RUN_NO_LEAK:
                fprintf(o->f, "%sno leak%s: nothing kept growing over %s (judged at a %s window)\n",
                        out_color(o, C_GREEN), out_reset(o), format_duration(rp->ran_s, d, sizeof(d)),
                        format_duration(ri->window, w, sizeof(w)));
                break;
        case RUN_TOO_SHORT:
                fprintf(o->f, "%snot enough data to judge%s: ran %s, needs about 1.5 windows (%s at a %s window%s)\n",
                        out_color(o, C_YELLOW), out_reset(o), format_duration(rp->ran_s, d, sizeof(d)),
                        format_duration(rp->needs_s, n, sizeof(n)), format_duration(ri->window, w, sizeof(w)),
                        ri->window > WINDOW_MIN ? "; --window 1m judges sooner" : "");
                break;
        case RUN_NOT_WATCHED:
        case RUN__MAX:
                fprintf(o->f, "%snot judged%s: %s\n", out_color(o, C_YELLOW), out_reset(o),
                        ri->watch_error ? ri->watch_error : "the command was never sampled");
                break;
        }
        if (rp->outcome == RUN_LEAK)
                fprintf(o->f, "%-10s %d (a leak; the command's own status was %d)\n", "Exit:", rp->exit_status,
                        run_exit_status(RUN_NO_LEAK, ri->wait_status));
}

static void print_table(struct cli *c, const struct out *o, const struct report *rp)
{
        static const struct table_col cols[] = {
                { "PID", ALIGN_RIGHT, 0, false }, { "PROCESS", ALIGN_LEFT, 8, false },
                { "METRIC", ALIGN_LEFT, 0, false }, { "STATE", ALIGN_LEFT, 0, false },
                { "SLOPE", ALIGN_RIGHT, 0, false }, { "AT LEAST", ALIGN_RIGHT, 0, true },
                { "GROWTH", ALIGN_RIGHT, 0, true }, { "REASON", ALIGN_LEFT, 12, true },
        };
        struct table t;

        if (rp->t.n == 0 || table_init(&t, cols, ELEMENTSOF(cols)) < 0)
                return;
        for (size_t i = 0; i < rp->t.n; i++) {
                const struct proc_view *pv = &rp->pv[i];

                if (!pv->listed)
                        continue;
                for (int m = 0; m < DETECT__KIND_MAX; m++) {
                        const struct query_verdict *v = pv->last[m];
                        const char *state = row_state(rp, pv, m);
                        bool bytes = m == 0;
                        char buf[64];
                        int row = table_add_row(&t);

                        if (row < 0)
                                break;
                        snprintf(buf, sizeof(buf), "%" PRId32, pv->p->pid);
                        table_set(&t, (size_t)row, 0, buf, C_NONE);
                        table_set_untrusted(&t, (size_t)row, 1, pv->p->comm, pv->p->comm_len);
                        table_set(&t, (size_t)row, 2, detect_kind_name[m], C_NONE);
                        table_set(&t, (size_t)row, 3, state, state_color(state));
                        table_set(&t, (size_t)row, 4, rate_s(o, v ? v->slope : NAN, bytes, buf, sizeof(buf)), C_NONE);
                        table_set(&t, (size_t)row, 5, rate_s(o, v ? v->slope_low : NAN, bytes, buf, sizeof(buf)),
                                  C_NONE);
                        table_set(&t, (size_t)row, 6, out_amount(o, v ? v->growth : NAN, bytes, buf, sizeof(buf)),
                                  C_NONE);
                        if (v && v->reason)
                                table_set_untrusted(&t, (size_t)row, 7, v->reason, strlen(v->reason));
                        else
                                table_set(&t, (size_t)row, 7, "-", C_NONE);
                }
        }
        fputc('\n', o->f);
        table_layout(&t, o, c->legend);
        table_print(&t, o, c->legend);
        table_done(&t);
        if (rp->t.n > rp->listed)
                fprintf(o->f, "... and %zu more process%s, none judged anything but ok\n", rp->t.n - rp->listed,
                        rp->t.n - rp->listed == 1 ? "" : "es");
}

static void print_chart(struct cli *c, const struct out *o, const struct report *rp)
{
        const struct proc_view *pv = rp->charted;
        _cleanup_free_ char *name = NULL;
        char a[32], b[32], r[48];
        struct chart ch;

        /* One value makes no picture. */
        if (!pv || isnan(rp->vmin) || rp->n < 2 || chart_init(&ch, o, rp->from_ms, rp->to_ms, true) < 0)
                return;
        name = out_escape(pv->p->comm, pv->p->comm_len);
        for (size_t i = 0; i < rp->n; i++)
                chart_add(&ch, rp->ts[i], rp->lo[i], rp->hi[i]);
        if (rp->have_trend)
                chart_set_trend(&ch, rp->slope_ms, rp->at_from);
        for (size_t i = 0; i < pv->nalerts && i < CHART_MAX_SPANS; i++)
                chart_add_span(&ch, pv->alerts[i].start_ms, pv->alerts[i].end_ms ? pv->alerts[i].end_ms : rp->to_ms);
        fprintf(o->f, "\n%*s memory (anon+swap) of %s (pid %" PRId32 ")\n", (int)ch.label_w, "", name ? name : "?",
                pv->p->pid);
        chart_render(&ch, o, c->height ? c->height : DEFAULT_HEIGHT);
        if (c->legend && (rp->have_trend || pv->nalerts)) {
                fprintf(o->f, "%*s  ", (int)ch.label_w, "");
                if (rp->have_trend)
                        fprintf(o->f, "%s%s%s trend of the floor", out_color(o, C_YELLOW), o->utf8 ? "\u00b7" : ".",
                                out_reset(o));
                if (pv->nalerts)
                        fprintf(o->f, "%s%s%s%s alert", rp->have_trend ? "   " : "", out_color(o, C_RED),
                                o->utf8 ? "\u2501" : "=", out_reset(o));
                fputc('\n', o->f);
        }
        chart_done(&ch);
        fprintf(o->f, "%-10s lowest %s, highest %s", "Memory:", out_amount(o, rp->vmin, true, a, sizeof(a)),
                out_amount(o, rp->vmax, true, b, sizeof(b)));
        if (rp->have_trend)
                fprintf(o->f, "; trend of the floor %s", rate_s(o, rp->slope_ms * 1000, true, r, sizeof(r)));
        fputc('\n', o->f);
}

static void print_where(const struct out *o, const struct run_info *ri, const struct report *rp)
{
        _cleanup_free_ char *path = NULL;

        if (!ri->db_kept || rp->t.n == 0)
                return;
        path = out_escape(ri->db_path, strlen(ri->db_path));
        fprintf(o->f, "%-10s %s (leakwatch --db %s show id:%" PRId64 ")\n", "Samples:", path ? path : "?",
                path ? path : "?", ri->root_id);
}

/* ---- JSON ---- */

static struct json_object *proc_json(const struct report *rp, const struct proc_view *pv)
{
        struct json_object *o = obj_process(pv->p);
        int r = o ? 0 : -ENOMEM;

        if (r == 0)
                r = json_add(o, "lived_s", json_num(pv->lived_s));
        for (int m = 0; m < DETECT__KIND_MAX && r == 0; m++) {
                char key[32];

                snprintf(key, sizeof(key), "judged_%s", detect_kind_name[m]);
                r = json_add(o, key, json_str(row_state(rp, pv, m)));
                snprintf(key, sizeof(key), "verdict_%s", detect_kind_name[m]);
                if (r == 0 && pv->last[m]) {
                        struct json_object *v = obj_verdict(pv->last[m]);

                        r = v ? json_add(o, key, v) : -ENOMEM;
                } else if (r == 0) {
                        r = json_add(o, key, NULL);
                }
        }
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int print_json(struct cli *c, const struct out *o, const struct run_info *ri, const struct report *rp)
{
        struct json_object *doc = json_object_new_object(), *argv = json_object_new_array(),
                           *procs = json_object_new_array(), *alerts = json_object_new_array();
        int ws = ri->wait_status, r = doc && argv && procs && alerts ? 0 : -ENOMEM;

        for (size_t i = 0; r == 0 && ri->argv[i]; i++)
                r = json_object_array_add(argv, json_text(ri->argv[i], strlen(ri->argv[i])));
        for (size_t i = 0; r == 0 && i < rp->t.n; i++) {
                struct json_object *p = proc_json(rp, &rp->pv[i]);

                r = p ? json_object_array_add(procs, p) : -ENOMEM;
                for (size_t k = rp->pv[i].nalerts; r == 0 && k-- > 0;) {
                        struct json_object *a = obj_alert(&rp->pv[i].alerts[k]);

                        /* As alerts --json and show --json give an alert. */
                        r = a ? aftermath_json(a, &rp->pv[i].after[k]) : -ENOMEM;
                        if (r == 0)
                                r = json_object_array_add(alerts, a);
                        else
                                json_object_put(a);
                }
        }
        if (r == 0)
                r = json_add(doc, "verdict", json_str(run_outcome_name[rp->outcome]));
        if (r == 0)
                r = json_add(doc, "leak", json_object_new_boolean(rp->outcome == RUN_LEAK));
        if (r == 0)
                r = json_add(doc, "exit_status", json_object_new_int(rp->exit_status));
        if (r == 0)
                r = json_add(doc, "command", argv), argv = NULL;
        if (r == 0)
                r = json_add(doc, "pid", json_object_new_int(ri->pid));
        if (r == 0)
                r = json_add(doc, "exit_code", WIFEXITED(ws) ? json_object_new_int(WEXITSTATUS(ws)) : NULL);
        if (r == 0)
                r = json_add(doc, "signal", WIFSIGNALED(ws) ? json_object_new_int(WTERMSIG(ws)) : NULL);
        if (r == 0)
                r = json_add(doc, "command_status", json_object_new_int(run_exit_status(RUN_NO_LEAK, ws)));
        if (r == 0)
                r = json_add_time(doc, "start", ri->start_ms);
        if (r == 0)
                r = json_add_time(doc, "end", ri->end_ms);
        if (r == 0)
                r = json_add(doc, "ran_s", json_num(rp->ran_s));
        if (r == 0)
                r = json_add(doc, "needs_s", json_num(rp->needs_s));
        if (r == 0)
                r = json_add(doc, "mode", json_str(ri->daemon ? "daemon" : "in-process"));
        if (r == 0)
                r = json_add(doc, "mode_note", json_str(ri->note));
        if (r == 0)
                r = json_add(doc, "daemon_pid", ri->daemon ? json_object_new_int64(ri->daemon_pid) : NULL);
        if (r == 0)
                r = json_add(doc, "window_s", json_num(ri->window));
        if (r == 0)
                r = json_add(doc, "interval_s", json_num(ri->interval));
        if (r == 0)
                r = json_add(doc, "database", ri->db_kept ? json_text(ri->db_path, strlen(ri->db_path)) : NULL);
        if (r == 0)
                r = json_add(doc, "watch_error", json_str(rp->t.n ? NULL : ri->watch_error));
        if (r == 0)
                r = json_add(doc, "processes", procs), procs = NULL;
        if (r == 0)
                r = json_add(doc, "alerts", alerts), alerts = NULL;
        if (r == 0)
                r = out_json(o, doc, c->json_pretty);
        json_object_put(argv);
        json_object_put(procs);
        json_object_put(alerts);
        json_object_put(doc);
        return r;
}

int run_report(struct cli *c, const struct out *o, struct query *q, const struct run_info *ri, int *ret_status)
{
        struct report rp = { 0 };
        int r;

        r = load(q, ri, &rp);
        if (r < 0) {
                (void)cli_error(EXIT_FAIL, "run: reading the verdict from %s: %s (%s)", ri->db_path, strerror(-r),
                                q ? query_errmsg(q) : "no database");
                report_free(&rp);
                return r;
        }
        if (c->format == FORMAT_JSON) {
                r = print_json(c, o, ri, &rp);
                if (r < 0) {
                        (void)cli_error(EXIT_FAIL, "run: out of memory");
                        report_free(&rp);
                        return r;
                }
        } else {
                print_head(o, ri, &rp);
                print_verdict(o, ri, &rp);
                print_table(c, o, &rp);
                print_chart(c, o, &rp);
                print_where(o, ri, &rp);
        }
        *ret_status = rp.exit_status;
        report_free(&rp);
        return 0;
}
