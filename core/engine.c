/* SPDX-License-Identifier: GPL-2.0-or-later */
/* engine: turns each watched process's samples into detector verdicts, and verdicts into
 * alert events for the sink. */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "nearlimit.h"
#include "scales.h"

/* A restarted daemon rebuilds a detector from this many windows of stored history: one
 * for the trend, one for the "highest floor before the window" and the confirmation
 * stretch, one more so a leak that recovered shortly before the restart is not
 * mistaken for new. Bounded so a restart with a thousand processes stays quick. The
 * minute-fed scales replay minute rollups (a point a minute, kept 14 days), the
 * shortest scale raw samples. */
#define REPLAY_WINDOWS 3
/* Raw samples replayed at least this far back: the shortest scale's three windows
 * (36 min) fit with room, and they are past the last fold, so the minutes before them
 * are in the rollups. */
#define REPLAY_RAW_MIN_S 3600

struct metric_state {
        struct scales d;                /* every time scale of this metric */
        enum detect_status status;
        int64_t alert_id;               /* open alert, or 0 */
        int64_t alert_start_ms;
        int64_t escalated_ms;           /* 0: not escalated */
        bool escalated;
        struct detect_verdict last;     /* the latest evaluation, for closing numbers */
        bool has_last;
        char kind[CLASSIFY_TEXT_MAX];   /* what kind of leak the open alert is; "" unknown */
        int kind_class;                 /* enum classify_class recorded, -1 none */
        const char *kind_agents;
        struct nearlimit nl;            /* growth toward a limit, on the short scale */
        const char *cause;              /* the open alert's: "leak" or "limit" */
        char reason[80];                /* the limit judge's phrase: "will reach memory.max in 12 min" */
        struct store_alert_evidence latest;     /* the open alert's latest evaluation */
        struct detect_verdict limit_v;  /* the limit judge's, when it made the latest */
        bool sited;                     /* the open alert was classified with allocation sites */
};

/* What a JVM's performance data said at each evaluation: the evidence window's worth
 * (an evaluation a bucket), kept for the processes whose runtime is java. */
#define JVM_POINTS DETECT_MAX_BUCKETS
struct jvm_trail {
        double t[JVM_POINTS];
        struct hsperf_jvm j[JVM_POINTS];
        size_t next, n;
};

struct eproc {
        bool used;
        int64_t process_id;
        size_t rule;
        double window;                  /* the pinned window its detectors were built with; 0:
                                         * every scale */
        double sig;                     /* and the scales: scales_sig() */
        int64_t start_ms;               /* process start, for detect_init */
        pid_t pid;
        bool own;                       /* judged with its own window (own_params) */
        struct scales_params own_params[DETECT__KIND_MAX];
        struct metric_state m[DETECT__KIND_MAX];
        struct classify_trail *trail;   /* on the memory detector's grid; NULL: out of memory */
        const char *runtime;            /* classify_runtime() of its name and command line */
        struct jvm_trail *jvm;          /* runtime java: its performance data; else NULL */
        struct sample last;             /* the latest sample, for the limits read against it */
        bool has_last;
};

/* An alert found open in the database at start, waiting for its process to resume. */
struct open_alert {
        int64_t id, process_id, start_ms, escalated_ms;
        enum detect_kind metric;
        bool escalated;
        bool taken;
        bool by_limit;                  /* raised by the limit judge */
        char kind[CLASSIFY_TEXT_MAX];
};

struct engine {
        struct engine_env env;
        const struct config *cfg;
        struct scales_params *params;   /* [rule * DETECT__KIND_MAX + metric] */
        double *sigs;                   /* [rule]: scales_sig() of its memory bank, asked at
                                         * every sample */
        struct nearlimit_params nl_params[DETECT__KIND_MAX];
        struct eproc *procs;            /* indexed by the sampler's slot */
        size_t cap_procs;
        struct open_alert *open;
        size_t n_open;
        int64_t next_alert, next_verdict;
        struct engine_stats stats;
};

/* The window a rule pins its detectors to, or 0: every time scale. */
static double rule_window(const struct config *cfg, size_t rule)
{
        return rule < cfg->n_rules && cfg->rules[rule].window > 0 ? cfg->rules[rule].window : cfg->window;
}

/* The bank of scales a pinned window (or none: 0) gives at this sampling interval;
 * longer: the window is only the shortest scale. */
static void bank_params(struct scales_params *sp, enum detect_kind m, double window, double interval, bool longer)
{
        if (window > 0 && longer)
                scales_params_from(sp, m, window, interval, SCALES_MIN_SAMPLES);
        else if (window > 0)
                scales_params_pinned(sp, m, window);
        else
                scales_params_default(sp, m, interval, SCALES_MIN_SAMPLES);
}

/* What identifies a bank's scales, to tell when a reload changed them. */
static double scales_sig(const struct scales_params *sp)
{
        double sig = 0;

        for (unsigned i = 0; i < sp->n; i++)
                sig = sig * 31 + sp->p[i].window;
        return sig;
}

static int build_params(struct engine *e, const struct config *cfg)
{
        struct scales_params *p = calloc(cfg->n_rules * DETECT__KIND_MAX + DETECT__KIND_MAX, sizeof(*p));
        double *sigs = calloc(cfg->n_rules + 1, sizeof(*sigs));

        if (!p || !sigs) {
                free(p);
                free(sigs);
                return -ENOMEM;
        }
        for (size_t i = 0; i < cfg->n_rules; i++)
                for (int m = 0; m < DETECT__KIND_MAX; m++)
                        bank_params(&p[i * DETECT__KIND_MAX + (size_t)m], (enum detect_kind)m, rule_window(cfg, i),
                                    cfg->interval, cfg->window_and_longer);
        for (size_t i = 0; i <= cfg->n_rules; i++)
                sigs[i] = scales_sig(&p[i * DETECT__KIND_MAX + DETECT_MEMORY]);
        free(e->params);
        e->params = p;
        free(e->sigs);
        e->sigs = sigs;
        e->cfg = cfg;
        for (int m = 0; m < DETECT__KIND_MAX; m++)
                nearlimit_params_init(&e->nl_params[m], (enum detect_kind)m, cfg->interval, cfg->limit_horizon);
        return 0;
}

static const struct scales_params *params_of(const struct engine *e, const struct eproc *ep, enum detect_kind m)
{
        return ep->own ? &ep->own_params[m] : &e->params[ep->rule * DETECT__KIND_MAX + m];
}

static void trouble(struct engine *e, const struct sampler_proc *p, int error, const char *what)
{
        if (e->env.sink.trouble)
                e->env.sink.trouble(e->env.sink.userdata, p, error, what);
}

static int load_open_alert(const struct store_alert *a, void *userdata)
{
        struct engine *e = userdata;
        struct open_alert *n;

        n = realloc(e->open, (e->n_open + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        e->open = n;
        e->open[e->n_open++] = (struct open_alert){
                .id = a->id,
                .process_id = a->process_id,
                .start_ms = a->start_ms,
                .metric = a->metric && detect_kind_from_name(a->metric) == DETECT_FDS ? DETECT_FDS : DETECT_MEMORY,
                .escalated = a->escalated_ms != 0,
                .escalated_ms = a->escalated_ms,
                .by_limit = a->raised.cause && strcmp(a->raised.cause, "limit") == 0,
        };
        snprintf(e->open[e->n_open - 1].kind, sizeof(e->open[0].kind), "%s", a->kind ? a->kind : "");
        return 0;
}

int engine_new(const struct engine_env *env, const struct config *cfg, struct engine **ret)
{
        struct engine *e = calloc(1, sizeof(*e));
        int64_t next_run;
        int r;

        if (!e)
                return -ENOMEM;
        e->env = *env;
        r = build_params(e, cfg);
        if (r >= 0)
                r = store_max_ids(env->store, &e->next_alert, &e->next_verdict, &next_run);
        if (r >= 0)
                r = store_for_each_open_alert(env->store, load_open_alert, e);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        e->next_alert++;
        e->next_verdict++;
        *ret = e;
        return 0;
}

void engine_free(struct engine *e)
{
        if (!e)
                return;
        for (size_t i = 0; i < e->cap_procs; i++) {
                classify_trail_free(e->procs[i].trail);
                free(e->procs[i].jvm);
        }
        free(e->params);
        free(e->sigs);
        free(e->procs);
        free(e->open);
        free(e);
}

static struct eproc *proc_slot(struct engine *e, size_t slot, bool grow)
{
        if (slot >= e->cap_procs) {
                size_t cap = e->cap_procs ? e->cap_procs : 64;
                struct eproc *n;

                if (!grow)
                        return NULL;
                while (cap <= slot)
                        cap *= 2;
                n = realloc(e->procs, cap * sizeof(*n));
                if (!n)
                        return NULL;
                memset(n + e->cap_procs, 0, (cap - e->cap_procs) * sizeof(*n));
                e->procs = n;
                e->cap_procs = cap;
        }
        return &e->procs[slot];
}

/* The slot's process, if it is the one with this id. */
static struct eproc *proc_of(struct engine *e, size_t slot, int64_t process_id)
{
        struct eproc *ep = proc_slot(e, slot, false);

        return ep && ep->used && ep->process_id == process_id ? ep : NULL;
}

/* ---- alerts ---- */

static bool limit_made_latest(const struct metric_state *ms)
{
        return ms->latest.cause && strcmp(ms->latest.cause, "limit") == 0;
}

static void fill_alert(struct engine *e, const struct sampler_proc *p, const struct eproc *ep, enum detect_kind m,
                       const struct detect_verdict *v, int64_t t_ms, enum alert_event event, struct alert *a)
{
        const struct metric_state *ms = &ep->m[m];

        *a = (struct alert){
                .event = event,
                .t_ms = t_ms,
                .metric = m,
                .row = {
                        .id = ms->alert_id,
                        .process_id = p->id,
                        .rule_id = p->rule_id,
                        .metric = detect_kind_name[m],
                        .state = "leaking",
                        .start_ms = ms->alert_start_ms,
                        .escalated_ms = ms->escalated_ms,
                        .ev = v ? v->ev : DETECT_EVIDENCE_NONE,
                        /* Outside data tells anonymous memory (the heap, anonymous mappings)
                         * from descriptors, and no more. */
                        .kind = ms->kind[0] ? ms->kind : m == DETECT_FDS ? "descriptors" : "anonymous memory",
                },
                .pid = p->pid,
                .uid = p->uid,
                .start_ms = p->start_ms,
                .name = p->comm,
                .cmdline = p->cmdline,
                .unit = p->unit,
                .cgroup = p->cgroup,
                .rule = ep->rule < e->cfg->n_rules ? e->cfg->rules[ep->rule].name : "?",
                .boot_id = e->env.boot_id,
        };
        a->row.latest = ms->latest;
        /* The limit judge's phrase lives in ms (which moves when the table grows), so
         * it is pointed at here, never kept. */
        if (limit_made_latest(ms))
                a->row.latest.reason = ms->reason;
        if (event == ALERT_EVENT_START)
                a->row.raised = ms->latest;
}

static void emit(struct engine *e, const struct sampler_proc *p, const struct alert *a)
{
        if (e->env.sink.alert)
                e->env.sink.alert(e->env.sink.userdata, p, a);
}

/* The room left before the process hits a limit, in the metric's unit; NAN if none. */
static double headroom(struct engine *e, const struct sampler_proc *p, enum detect_kind m, double level,
                       const char **ret_kind)
{
        *ret_kind = NULL;
        if (!e->env.limits.headroom)
                return NAN;
        return e->env.limits.headroom(e->env.limits.userdata, p, m, level, ret_kind);
}

/* The room each known limit of metric m leaves the process, as of its latest sample. */
static void read_limits(struct engine *e, const struct sampler_proc *p, const struct eproc *ep, enum detect_kind m,
                        struct limit_set *ret)
{
        limit_set_init(ret);
        if (e->env.limits.read && ep->has_last)
                e->env.limits.read(e->env.limits.userdata, p, &ep->last, m, ret);
}

/* Records the evaluation an alert event tells (and, when it raises the alert, what it
 * is raised on): which judge made it (cause), the time scale of its rate, its numbers
 * and the room each limit leaves now. set: the limits as read for it; NULL: read now. */
static void set_latest(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                       int64_t t_ms, const char *cause, double scale, const struct detect_evidence *ev,
                       const struct limit_set *set)
{
        struct metric_state *ms = &ep->m[m];
        struct limit_set own;
        struct forecast f;

        if (!set) {
                read_limits(e, p, ep, m, &own);
                set = &own;
        }
        forecast_limits(set, m, ev->level, ev->slope, ev->slope_low, &f);
        ms->latest = (struct store_alert_evidence){
                .t_ms = t_ms, .cause = cause, .scale = scale,
                .slope = ev->slope, .slope_low = ev->slope_low, .level = ev->level,
                .t_from = ev->t_from, .t_to = ev->t_to, .reason = ev->reason,
        };
        memcpy(ms->latest.room, f.room, sizeof(f.room));
}

/* Names the kind of leak (lib/classify) from the evidence window of v, as the trail
 * holds it; a new class goes into the alert event a (kind_changed). */
static void update_kind(const struct sampler_proc *p UNUSED, struct eproc *ep, enum detect_kind m,
                        const struct detect_verdict *v, struct alert *a)
{
        struct metric_state *ms = &ep->m[m];
        struct classify_input in;
        struct classify_result res;

        if (!v || !isfinite(v->ev.t_from) || !isfinite(v->ev.t_to) || !ms->alert_id || !ep->trail)
                return;
        classify_trail_input(ep->trail, v->ev.t_from, v->ev.t_to, m == DETECT_FDS, v->ev.growth, &in);
        in.runtime = ep->runtime;
        /* Oldest first: the classification keeps the latest of each series. */
        for (size_t i = 0; ep->jvm && i < ep->jvm->n; i++) {
                size_t k = (ep->jvm->next + JVM_POINTS - ep->jvm->n + i) % JVM_POINTS;

                classify_add_jvm(&in, ep->jvm->t[k], &ep->jvm->j[k]);
        }
        classify(&in, &res);
        a->row.kind = ms->kind;
        /* Named with its sites, the process is traced no more (engine_wants_sites): a
         * later window has none, knows less, and would lose the site from the alert or
         * even change its class (large Python buffers read as native without them). */
        if (ms->sited && !res.sites)
                return;
        snprintf(ms->kind, sizeof(ms->kind), "%s", res.text);
        a->first_sites = res.sites && !ms->sited;
        ms->sited = ms->sited || res.sites;
        if (ms->kind_class != (int)res.cls || ms->kind_agents != classify_agents(&res)) {
                ms->kind_class = (int)res.cls;
                ms->kind_agents = classify_agents(&res);
                a->kind_changed = true;
                a->kind_class = classify_class_name[res.cls];
                a->kind_agents = ms->kind_agents;
        }
}

/* Tells the sink of an alert event for metric m; v is the verdict behind it (NULL:
 * none since the process was watched again). */
static void announce(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                     const struct detect_verdict *v, int64_t t_ms, enum alert_event event, const char *limit_kind)
{
        struct alert a;

        fill_alert(e, p, ep, m, v, t_ms, event, &a);
        if (event != ALERT_EVENT_END)
                update_kind(p, ep, m, v, &a);
        a.row.limit_kind = isfinite(a.row.ev.forecast) ? limit_kind : NULL;
        emit(e, p, &a);
}

static void open_alert(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                       const struct detect_verdict *v, int64_t t_ms, const char *limit_kind, const char *cause)
{
        struct metric_state *ms = &ep->m[m];

        ms->cause = cause;
        ms->alert_id = e->next_alert++;
        ms->alert_start_ms = t_ms;
        ms->escalated = false;
        ms->escalated_ms = 0;
        ms->kind_class = -1;
        ms->kind[0] = '\0';
        ms->sited = false;
        e->stats.alerts++;
        announce(e, p, ep, m, v, t_ms, ALERT_EVENT_START, limit_kind);
}

static void close_alert(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                        int64_t t_ms, const char *state, const char *reason)
{
        struct metric_state *ms = &ep->m[m];
        struct detect_verdict lv = ms->limit_v;
        struct alert a;

        if (!ms->alert_id)
                return;
        /* Its numbers stay those of the latest evaluation: the limit judge's if it made it. */
        lv.ev.reason = ms->reason;
        fill_alert(e, p, ep, m, limit_made_latest(ms) ? &lv : ms->has_last ? &ms->last : NULL, t_ms,
                   ALERT_EVENT_END, &a);
        a.row.state = state;
        a.row.end_ms = t_ms;
        a.row.end_reason = reason;
        a.row.limit_kind = NULL;
        emit(e, p, &a);
        ms->alert_id = 0;
        ms->escalated = false;
        ms->escalated_ms = 0;
        ms->sited = false;
        ms->kind[0] = '\0';
        ms->latest = (struct store_alert_evidence){ 0 };
}

/* Acts on one scale's evaluation sv (the bank's verdict) of metric m, made at the
 * sample of time t. */
static void conclude(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                     const struct scales_verdict *sv, double t, const char *limit_kind)
{
        struct metric_state *ms = &ep->m[m];
        const struct detect_verdict *vp = &sv->v;
        int64_t t_ms = (int64_t)llround(t * 1000);
        enum alert_action act;

        e->stats.evaluations++;
        ms->status = vp->status;
        /* What the process shows: the alarm's carrier, or any scale's evidence when no
         * alarm is raised. */
        if (sv->carrier || (scales_carrier(&ms->d) < 0 && !isnan(vp->ev.slope)) || !ms->has_last) {
                ms->last = *vp;
                ms->has_last = true;
        }

        act = alert_decide(ms->alert_id != 0, ms->escalated, vp);
        /* Fresh numbers for an open alert come from the scale that carries it. */
        if (act == ALERT_UPDATE && !sv->carrier)
                act = ALERT_NONE;
        /* An alert the limit judge raised is its to end (limit_evaluate). */
        if (act == ALERT_CLOSE && ms->nl.imminent)
                act = ALERT_NONE;
        if (act == ALERT_OPEN || act == ALERT_ESCALATE || act == ALERT_UPDATE)
                set_latest(e, p, ep, m, t_ms, "leak", params_of(e, ep, m)->p[sv->scale].window, &vp->ev, NULL);
        if (act == ALERT_OPEN) {
                /* The verdict row below refers to the alert it opens. */
                ms->alert_id = e->next_alert;
        }
        if (vp->changed || act == ALERT_ESCALATE) {
                struct store_verdict row = {
                        .id = e->next_verdict++, .process_id = p->id, .alert_id = ms->alert_id, .t_ms = t_ms,
                        .metric = detect_kind_name[m], .state = detect_status_name[vp->status],
                        .previous = detect_status_name[vp->previous], .escalated = act == ALERT_ESCALATE,
                        .ev = vp->ev,
                };

                e->stats.verdicts++;
                if (e->env.sink.verdict)
                        e->env.sink.verdict(e->env.sink.userdata, p, &row);
        }
        switch (act) {
        case ALERT_OPEN:
                open_alert(e, p, ep, m, vp, t_ms, limit_kind, "leak");
                break;
        case ALERT_ESCALATE:
                ms->escalated = true;
                ms->escalated_ms = t_ms;
                announce(e, p, ep, m, vp, t_ms, ALERT_EVENT_ESCALATE, limit_kind);
                break;
        case ALERT_UPDATE:
                /* Fresh numbers (and kind) for the open alert; nobody is told. */
                announce(e, p, ep, m, vp, t_ms, ALERT_EVENT_UPDATE, limit_kind);
                break;
        case ALERT_CLOSE:
                close_alert(e, p, ep, m, t_ms, "recovered", "recovered");
                break;
        case ALERT_NONE:
                break;
        }
}

/* Makes every evaluation of metric m that is due at sample time t. The room left before
 * a limit is asked once, when the first is due. */
static void evaluate(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                     double t)
{
        struct metric_state *ms = &ep->m[m];
        const struct scales_params *par = params_of(e, ep, m);
        struct scales_verdict sv;
        const char *limit_kind = NULL;
        double room = NAN;
        bool asked = false;

        while (scales_due(&ms->d, par, t)) {
                if (!asked) {
                        room = headroom(e, p, m, ms->has_last ? ms->last.ev.level : NAN, &limit_kind);
                        asked = true;
                        if (m == DETECT_MEMORY && ep->jvm && e->env.jvm.read) {
                                struct jvm_trail *jt = ep->jvm;

                                /* A JVM without the file (-XX:-UsePerfData) or not ready yet adds nothing. */
                                if (e->env.jvm.read(e->env.jvm.userdata, p, &jt->j[jt->next]) == 0) {
                                        jt->t[jt->next] = t;
                                        jt->next = (jt->next + 1) % JVM_POINTS;
                                        jt->n = MIN(jt->n + 1, (size_t)JVM_POINTS);
                                }
                        }
                }
                if (!scales_evaluate(&ms->d, par, t, room, &sv))
                        return;
                conclude(e, p, ep, m, &sv, t, limit_kind);
        }
}

/* ---- limits ---- */

/* The limit judge's evidence for the alert row: its rate, window and forecast. */
static void limit_evidence(const struct nearlimit_growth *g, const struct forecast *f, int k, const char *reason,
                           struct detect_evidence *ret)
{
        *ret = DETECT_EVIDENCE_NONE;
        ret->slope = g->rate;
        ret->slope_low = g->rate_low;
        ret->growth = g->rate * (g->t_to - g->t_from);
        ret->level = g->level;
        ret->forecast = k >= 0 ? f->seconds[k] : INFINITY;
        ret->t_from = g->t_from;
        ret->t_to = g->t_to;
        ret->reason = reason;
}

/* At each closed bucket of the limit judge: when the growth it sees will reach a known
 * limit within limit-horizon, an alert says so ("will reach memory.max in 12 min") —
 * raised if none is open, escalated once if a leak alert is — whether or not the
 * detector has proven a leak; when no limit has been near for a while, an alert it
 * raised ends, unless the detector holds it as a leak. Limits are read only for growth. */
static void limit_evaluate(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                           double t)
{
        struct metric_state *ms = &ep->m[m];
        const struct nearlimit_params *par = &e->nl_params[m];
        struct nearlimit_growth g = { .growing = false };
        struct limit_set set;
        struct forecast f;
        struct detect_verdict lv = { 0 };
        int64_t t_ms = (int64_t)llround(t * 1000);
        int k = -1;
        char when[32];

        if (!(par->horizon > 0) || !e->env.limits.read)
                return;
        /* Most processes are flat: the checks that need no rate refuse them, and their
         * rates (two robust slopes a bucket) would go unused. */
        if (nearlimit_may_grow(&ms->nl, par))
                nearlimit_growth(&ms->nl, par, &g);
        if (g.growing) {
                read_limits(e, p, ep, m, &set);
                forecast_limits(&set, m, g.level, g.rate, g.rate_low, &f);
                k = forecast_within(&f, par->horizon);
        }
        switch (nearlimit_judge(&ms->nl, par, t, k >= 0)) {
        case NEARLIMIT_SAME:
                /* Fresh numbers for an alert it raised, while the limit is near. */
                if (k < 0 || !ms->alert_id || ms->status == DETECT_LEAKING)
                        return;
                break;
        case NEARLIMIT_RAISE:
                break;
        case NEARLIMIT_CLEAR:
                if (ms->alert_id && ms->status != DETECT_LEAKING)
                        close_alert(e, p, ep, m, t_ms, "recovered", "no longer heading for a limit");
                return;
        }
        forecast_format(f.seconds[k], when, sizeof(when));
        snprintf(ms->reason, sizeof(ms->reason), "will %s in %s", limit_phrase[k], when);
        limit_evidence(&g, &f, k, ms->reason, &lv.ev);
        ms->limit_v = lv;
        ms->limit_v.ev.reason = NULL;   /* ms->reason, pointed at when used */
        set_latest(e, p, ep, m, t_ms, "limit", par->window, &lv.ev, &set);
        ms->latest.reason = NULL;       /* likewise */
        if (!ms->alert_id)
                open_alert(e, p, ep, m, &lv, t_ms, limit_name[k], "limit");
        else if (!ms->escalated && ms->cause && strcmp(ms->cause, "limit") != 0) {
                ms->escalated = true;
                ms->escalated_ms = t_ms;
                announce(e, p, ep, m, &lv, t_ms, ALERT_EVENT_ESCALATE, limit_name[k]);
        } else
                announce(e, p, ep, m, &lv, t_ms, ALERT_EVENT_UPDATE, limit_name[k]);
}

/* ---- feeding ---- */

/* The evaluations due in a replay: what they concluded was recorded when it happened
 * (or, if the watch was stopped, is reconciled after the replay). */
static void replay_evaluate(struct engine *e, struct eproc *ep, enum detect_kind m, double t)
{
        struct metric_state *ms = &ep->m[m];
        const struct scales_params *par = params_of(e, ep, m);
        struct scales_verdict sv;

        while (scales_evaluate(&ms->d, par, t, NAN, &sv)) {
                ms->status = sv.v.status;
                if (sv.carrier || (scales_carrier(&ms->d) < 0 && !isnan(sv.v.ev.slope)) || !ms->has_last) {
                        ms->last = sv.v;
                        ms->has_last = true;
                }
        }
}

/* Feeds one sample to a process's detectors (evaluating when one is due, if p is given;
 * a replay only rebuilds state) and to its trail. */
static void feed(struct engine *e, const struct sampler_proc *p, struct eproc *ep, const struct sample *smp)
{
        double t = (double)smp->t_ms / 1000, parts[SCALES_PARTS], v;

        if (ep->trail)
                classify_trail_add_sample(ep->trail, smp);
        ep->last = *smp;
        ep->has_last = true;
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                struct metric_state *ms = &ep->m[m];
                const struct scales_params *par = params_of(e, ep, (enum detect_kind)m);

                if (!scales_parts(smp, (enum detect_kind)m, parts))
                        continue;
                /* The limit judge sees every sample, on its own short scale. */
                if (detect_value(smp, (enum detect_kind)m, &v) && nearlimit_add(&ms->nl, &e->nl_params[m], t, v) && p)
                        limit_evaluate(e, p, ep, (enum detect_kind)m, t);
                if (!scales_add(&ms->d, par, t, parts))
                        continue;
                if (p)
                        evaluate(e, p, ep, (enum detect_kind)m, t);
                else
                        replay_evaluate(e, ep, (enum detect_kind)m, t);
        }
}

/* A stored minute (its rollup's minima) for the minute-fed scales of a rebuild. */
static void feed_minute(struct engine *e, struct eproc *ep, const struct sample *smp)
{
        double t = (double)smp->t_ms / 1000, parts[SCALES_PARTS];

        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                struct metric_state *ms = &ep->m[m];
                const struct scales_params *par = params_of(e, ep, (enum detect_kind)m);

                if (!scales_parts(smp, (enum detect_kind)m, parts) || !scales_add_minute(&ms->d, par, t, parts))
                        continue;
                /* Any time past the minute's nominal evaluation: made as live. */
                replay_evaluate(e, ep, (enum detect_kind)m, t + 120);
        }
}

struct replay_ctx {
        struct engine *e;
        struct eproc *ep;
};

static int replay_sample(const struct sample *smp, void *userdata)
{
        struct replay_ctx *c = userdata;

        feed(c->e, NULL, c->ep, smp);
        return 0;
}

static int replay_minute(const struct sample *smp, void *userdata)
{
        struct replay_ctx *c = userdata;

        feed_minute(c->e, c->ep, smp);
        return 0;
}

static int replay_report(const struct agent_report *a, void *userdata)
{
        struct replay_ctx *c = userdata;

        /* Out of memory for the agents' part: the class rests on the outside data. */
        if (c->ep->trail)
                (void)classify_trail_add_agent(c->ep->trail, a);
        return 0;
}

/* Starts a process's detectors and trail over with the parameters it is judged by now,
 * and replays the stored history of the last REPLAY_WINDOWS windows up to now_ms.
 * replay: false for a process the database knows nothing about yet, whose history would
 * be empty: the query would still walk every recent sample (that table is ordered by
 * time), which on a host where processes come and go was most of the daemon's work. */
static void rebuild(struct engine *e, const struct sampler_proc *p, struct eproc *ep, bool replay, int64_t now_ms)
{
        struct replay_ctx c = { .e = e, .ep = ep };
        const struct scales_params *mem;
        double window = ep->own ? ep->window : rule_window(e->cfg, ep->rule);
        int64_t from, raw_from;
        bool minutes = false;
        int r = 0;

        ep->window = window;
        mem = params_of(e, ep, DETECT_MEMORY);
        ep->sig = scales_sig(mem);
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                scales_init(&ep->m[m].d, params_of(e, ep, (enum detect_kind)m), (double)ep->start_ms / 1000,
                            scales_phase(ep->process_id));
                nearlimit_init(&ep->m[m].nl);
                ep->m[m].status = DETECT_OK;
                ep->m[m].has_last = false;
                for (unsigned i = 0; i < mem->n; i++)
                        minutes |= mem->minute[i];
        }
        /* The trail follows the shortest scale's buckets: an evidence window starts and
         * ends on their edges. */
        if (ep->trail)
                classify_trail_reset(ep->trail, (double)ep->start_ms / 1000 + mem->p[0].warmup, mem->p[0].bucket);
        else if (classify_trail_new((double)ep->start_ms / 1000 + mem->p[0].warmup, mem->p[0].bucket,
                                    &ep->trail) < 0)
                trouble(e, p, -ENOMEM, "its alerts name no kind of leak");
        if (!replay)
                return;
        from = now_ms - (int64_t)(scales_longest(mem) * REPLAY_WINDOWS * 1000);
        raw_from = from;
        if (minutes) {
                /* The minutes before the last hour from the rollups, whole minutes. */
                int64_t raw_span = (int64_t)(fmax(REPLAY_RAW_MIN_S, mem->p[0].window * REPLAY_WINDOWS) * 1000);

                raw_from = now_ms - raw_span;
                raw_from -= raw_from % 60000;
                if (raw_from > from) {
                        from -= from % 60000;
                        r = store_for_each_minute(e->env.store, ep->process_id, from, raw_from, replay_minute, &c);
                } else
                        raw_from = from;
        }
        if (r >= 0)
                r = store_for_each_sample(e->env.store, ep->process_id, raw_from, INT64_MAX, replay_sample, &c);
        if (r >= 0)
                r = store_for_each_agent_sample(e->env.store, ep->process_id, from, INT64_MAX, replay_report, &c);
        if (r < 0)
                trouble(e, p, r, "its history could not be read: its detector starts afresh");
}

static void on_started(void *userdata, const struct sampler_proc *p, bool resumed UNUSED, int64_t now_ms)
{
        struct engine *e = userdata;
        struct eproc *ep = proc_slot(e, p->slot, true);
        struct classify_trail *trail;
        struct jvm_trail *jvm;

        if (!ep) {
                trouble(e, p, -ENOMEM, "not judged");
                return;
        }
        trail = ep->trail;              /* a slot's trail is reused by its next process */
        jvm = ep->jvm;
        memset(ep, 0, sizeof(*ep));
        ep->trail = trail;
        ep->runtime = classify_runtime(p->comm, p->cmdline);
        if (ep->runtime && strcmp(ep->runtime, "java") == 0 && e->env.jvm.read) {
                ep->jvm = jvm ? jvm : calloc(1, sizeof(*ep->jvm));
                if (ep->jvm)
                        *ep->jvm = (struct jvm_trail){ 0 };
                jvm = NULL;
        }
        free(jvm);
        ep->used = true;
        ep->process_id = p->id;
        ep->rule = p->rule;
        ep->start_ms = p->start_ms;
        ep->pid = p->pid;
        rebuild(e, p, ep, !p->is_new, now_ms);
        /* Alerts that were open when the daemon stopped belong to this process again. */
        for (size_t i = 0; i < e->n_open; i++) {
                struct open_alert *oa = &e->open[i];
                struct metric_state *ms = &ep->m[oa->metric];

                if (oa->taken || oa->process_id != p->id)
                        continue;
                oa->taken = true;
                ms->alert_id = oa->id;
                ms->alert_start_ms = oa->start_ms;
                ms->escalated = oa->escalated;
                ms->escalated_ms = oa->escalated_ms;
                snprintf(ms->kind, sizeof(ms->kind), "%s", oa->kind);
                ms->kind_class = -1;
                ms->cause = oa->by_limit ? "limit" : "leak";
                /* Raised by the limit judge: it stays until a spell with no limit near. */
                if (oa->by_limit)
                        nearlimit_resume(&ms->nl, (double)now_ms / 1000);
                ms->sited = false;
        }
        /* Reconcile what the history says with what the database says. */
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                struct metric_state *ms = &ep->m[m];

                if (ms->alert_id && ms->status != DETECT_LEAKING && !ms->nl.imminent)
                        close_alert(e, p, ep, (enum detect_kind)m, now_ms, "recovered",
                                    "no longer leaking when leakwatchd took over");
                else if (!ms->alert_id && ms->status == DETECT_LEAKING && ms->has_last)
                        /* It began leaking while the daemon was down (or before it watched
                         * the process): the alert starts now. */
                {
                        set_latest(e, p, ep, (enum detect_kind)m, now_ms, "leak", ms->last.ev.scale, &ms->last.ev,
                                   NULL);
                        open_alert(e, p, ep, (enum detect_kind)m, &ms->last, now_ms, NULL, "leak");
                }
        }
}

/* Asks the CPU for the memory a range covers, line by line (the range's last byte
 * too: a field need not start a line). */
static void prefetch_range(const void *from, size_t len)
{
        const char *c = from;

        for (size_t off = 0; off < len; off += 64)
                __builtin_prefetch(c + off, 1);
        __builtin_prefetch(c + len - 1, 1);
}

/* Brings in, ahead of its sample, the state feed() touches for the process in slot
 * `slot`: at 10,000 processes the other samples between two of one process evict it,
 * and a miss waited for at each of its dozen places was most of feed()'s time. The
 * sampler hands samples over in slot order (sampler_tick), so the next slots are what
 * comes next; the state is asked for in stages, each on what an earlier stage brought:
 * three samples ahead the process's own lines (its header, latest sample and, for each
 * metric, the limit judge's open bucket and ring, the shortest scale's open bucket and
 * the minute being gathered), two ahead its trail's header, one ahead the trail's newest
 * bucket. A guess that misses (a slot that is free, or the end of a tick) costs a few
 * loads. */
static void prefetch_next(const struct engine *e, size_t slot)
{
        const struct eproc *ep;

        if (slot + 3 < e->cap_procs) {
                ep = &e->procs[slot + 3];
                prefetch_range(ep, offsetof(struct eproc, own) + sizeof(ep->own));
                prefetch_range(&ep->trail, sizeof(ep->trail));
                prefetch_range(&ep->last, sizeof(ep->last) + sizeof(ep->has_last));
                for (int m = 0; m < DETECT__KIND_MAX; m++) {
                        const struct metric_state *ms = &ep->m[m];

                        prefetch_range(&ms->nl, offsetof(struct nearlimit, past_high));
                        prefetch_range(&ms->d.d[0], offsetof(struct detect, cur_n) + sizeof(ms->d.d[0].cur_n));
                        prefetch_range(&ms->d.minute_t, (size_t)((const char *)(&ms->d.due + 1) -
                                                                  (const char *)&ms->d.minute_t));
                }
        }
        if (slot + 2 < e->cap_procs)
                classify_trail_prefetch(e->procs[slot + 2].trail, 0);
        if (slot + 1 < e->cap_procs)
                classify_trail_prefetch(e->procs[slot + 1].trail, 1);
}

static void on_sampled(void *userdata, const struct sampler_proc *p, const struct sample *smp)
{
        struct engine *e = userdata;
        struct eproc *ep = proc_of(e, p->slot, p->id);

        prefetch_next(e, p->slot);
        if (!ep)
                return;
        /* A reload may have moved the process to another rule index or changed its
         * window: a detector is only valid with the parameters it was built with. */
        if (!ep->own && (ep->rule != p->rule || rule_window(e->cfg, p->rule) != ep->window ||
                         e->sigs[p->rule] != ep->sig)) {
                ep->rule = p->rule;
                if (rule_window(e->cfg, p->rule) != ep->window || e->sigs[p->rule] != ep->sig)
                        rebuild(e, p, ep, true, smp->t_ms);
        }
        feed(e, p, ep, smp);
}

static void on_ended(void *userdata, const struct sampler_proc *p, int64_t end_ms, const char *reason)
{
        struct engine *e = userdata;
        struct eproc *ep = proc_of(e, p->slot, p->id);

        if (!ep)
                return;
        for (int m = 0; m < DETECT__KIND_MAX; m++)
                close_alert(e, p, ep, (enum detect_kind)m, end_ms, "ended", reason);
        ep->used = false;
}

/* A process whose memory the detector suspects, or that leaks, gets its smaps read
 * sooner: an alert's classification wants fresh PSS and heap figures. */
static bool on_attention(void *userdata, const struct sampler_proc *p)
{
        const struct engine *e = userdata;
        enum detect_status st;

        if (p->slot >= e->cap_procs || !e->procs[p->slot].used)
                return false;
        st = scales_status(&e->procs[p->slot].m[DETECT_MEMORY].d);
        return st == DETECT_SUSPECT || st == DETECT_LEAKING;
}

void engine_listener(struct engine *e, struct sampler_listener *ret)
{
        *ret = (struct sampler_listener){
                .started = on_started,
                .sampled = on_sampled,
                .ended = on_ended,
                .attention = on_attention,
                .userdata = e,
        };
}

void engine_agent_report(struct engine *e, size_t slot, int64_t process_id, const struct agent_report *a)
{
        struct eproc *ep = proc_of(e, slot, process_id);

        if (ep && ep->trail && classify_trail_add_agent(ep->trail, a) < 0)
                trouble(e, NULL, -ENOMEM, "an agent's report is not used to classify");
}

void engine_finish_resume(struct engine *e, int64_t now_ms)
{
        for (size_t i = 0; i < e->n_open; i++) {
                struct open_alert *oa = &e->open[i];
                struct alert a;

                if (oa->taken)
                        continue;
                /* Its process did not come back: it ended while the daemon was down. */
                a = (struct alert){
                        .event = ALERT_EVENT_EXPIRE,
                        .t_ms = now_ms,
                        .metric = oa->metric,
                        .row = { .id = oa->id, .process_id = oa->process_id, .metric = detect_kind_name[oa->metric],
                                 .state = "ended", .start_ms = oa->start_ms, .end_ms = now_ms,
                                 .end_reason = "process ended while leakwatchd was stopped",
                                 .ev = DETECT_EVIDENCE_NONE },
                };
                emit(e, NULL, &a);
        }
        free(e->open);
        e->open = NULL;
        e->n_open = 0;
}

int engine_reconfigure(struct engine *e, const struct config *cfg)
{
        return build_params(e, cfg);
}

void engine_get_stats(const struct engine *e, struct engine_stats *ret)
{
        *ret = e->stats;
        ret->open_alerts = 0;
        for (size_t i = 0; i < e->cap_procs; i++)
                if (e->procs[i].used)
                        for (int m = 0; m < DETECT__KIND_MAX; m++)
                                ret->open_alerts += e->procs[i].m[m].alert_id != 0;
}

int engine_set_window(struct engine *e, size_t slot, double window, bool longer, int64_t now_ms)
{
        struct eproc *ep = slot < e->cap_procs ? &e->procs[slot] : NULL;

        if (!ep || !ep->used)
                return -ENOENT;
        ep->own = true;
        ep->window = window;
        for (int m = 0; m < DETECT__KIND_MAX; m++)
                bank_params(&ep->own_params[m], (enum detect_kind)m, window, e->cfg->interval, longer);
        rebuild(e, NULL, ep, true, now_ms);
        return 0;
}

int engine_proc_state(const struct engine *e, size_t slot, enum detect_kind m, struct engine_proc_state *ret)
{
        const struct metric_state *ms;

        if (slot >= e->cap_procs || !e->procs[slot].used || (unsigned)m >= DETECT__KIND_MAX)
                return -ENOENT;
        ms = &e->procs[slot].m[m];
        *ret = (struct engine_proc_state){
                .status = ms->status,
                .evaluated = ms->has_last,
                .slope = ms->has_last ? ms->last.ev.slope : NAN,
                .slope_low = ms->has_last ? ms->last.ev.slope_low : NAN,
                .level = ms->has_last ? ms->last.ev.level : NAN,
                .forecast = ms->has_last ? ms->last.ev.forecast : INFINITY,
                .alert_id = ms->alert_id,
        };
        return 0;
}

bool engine_wants_sites(const struct engine *e, size_t slot)
{
        const struct metric_state *ms;

        if (slot >= e->cap_procs || !e->procs[slot].used)
                return false;
        ms = &e->procs[slot].m[DETECT_MEMORY];
        /* Suspect: where is it growing? Leaking: until the alert has said where. The
         * status first: the watch asks about every process at every tick, and few are
         * suspects, so the trail (memory of its own) is seldom looked at. */
        return (ms->status == DETECT_SUSPECT || (ms->status == DETECT_LEAKING && ms->alert_id && !ms->sited)) &&
               classify_trail_has_agents(e->procs[slot].trail);
}
