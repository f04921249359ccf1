/* engine: turns each watched process's samples into detector verdicts, and verdicts into
 * stored, logged alerts with their hooks. */
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "alert.h"
#include "cgroup.h"
#include "detect.h"
#include "log.h"
#include "proc.h"

/* A restarted daemon rebuilds a detector from this many windows of stored history: one
 * for the trend, one for the "highest floor before the window" and the confirmation
 * stretch, one more so a leak that recovered shortly before the restart is not
 * mistaken for new. Bounded so a restart with a thousand processes stays quick. */
#define REPLAY_WINDOWS 3
/* Hook output lines copied into the log per run; the whole (bounded) output is stored. */
#define HOOK_LOG_LINES 20
/* A journal MESSAGE_ID for leak alerts, so `journalctl MESSAGE_ID=...` finds them all
 * (made once with systemd-id128 new). */
#define MESSAGE_ID_LEAK "0f6c1b9e8a3d4c2fb7e15a9d3c4b6e21"

struct metric_state {
        struct detect d;
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
};

struct eproc {
        bool used;
        int64_t process_id;
        size_t rule;
        double window;                  /* the window its detectors were built with */
        int64_t start_ms;               /* process start, for detect_init */
        pid_t pid;                      /* for messages */
        bool own;                       /* judged with its own window (own_params) */
        struct detect_params own_params[DETECT__KIND_MAX];
        struct metric_state m[DETECT__KIND_MAX];
};

/* An alert found open in the database at start, waiting for its process to resume. */
struct open_alert {
        int64_t id, process_id, start_ms, escalated_ms;
        enum detect_kind metric;
        bool escalated;
        bool taken;
        char kind[CLASSIFY_TEXT_MAX];
};

/* A hook run between submission and its result. */
struct pending_run {
        int64_t id, alert_id, start_ms;
        enum alert_event event;
};

struct engine {
        struct engine_env env;
        const struct config *cfg;
        struct detect_params *params;   /* [rule * 2 + metric] */
        struct eproc *procs;            /* indexed by the sampler's slot */
        size_t cap_procs;
        struct open_alert *open;
        size_t n_open;
        struct pending_run *runs;
        size_t n_runs, cap_runs;
        int64_t next_alert, next_verdict, next_run;
        struct engine_stats stats;
};

static int64_t wall_now_ms(void)
{
        return (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
}

static double rule_window(const struct config *cfg, size_t rule)
{
        return rule < cfg->n_rules && cfg->rules[rule].window > 0 ? cfg->rules[rule].window : cfg->window;
}

static int build_params(struct engine *e, const struct config *cfg)
{
        struct detect_params *p = calloc(cfg->n_rules * 2 + 2, sizeof(*p));

        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < cfg->n_rules; i++) {
                detect_params_init(&p[i * 2 + DETECT_MEMORY], DETECT_MEMORY, rule_window(cfg, i));
                detect_params_init(&p[i * 2 + DETECT_FDS], DETECT_FDS, rule_window(cfg, i));
        }
        free(e->params);
        e->params = p;
        e->cfg = cfg;
        return 0;
}

static const struct detect_params *params_of(const struct engine *e, const struct eproc *ep, enum detect_kind m)
{
        return ep->own ? &ep->own_params[m] : &e->params[ep->rule * 2 + m];
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
        };
        snprintf(e->open[e->n_open - 1].kind, sizeof(e->open[0].kind), "%s", a->kind ? a->kind : "");
        return 0;
}

int engine_new(const struct engine_env *env, const struct config *cfg, struct engine **ret)
{
        struct engine *e = calloc(1, sizeof(*e));
        int r;

        if (!e)
                return -ENOMEM;
        e->env = *env;
        r = build_params(e, cfg);
        if (r >= 0)
                r = store_max_ids(env->store, &e->next_alert, &e->next_verdict, &e->next_run);
        if (r >= 0)
                r = store_for_each_open_alert(env->store, load_open_alert, e);
        if (r < 0) {
                engine_free(e);
                return r;
        }
        e->next_alert++;
        e->next_verdict++;
        e->next_run++;
        *ret = e;
        return 0;
}

void engine_free(struct engine *e)
{
        if (!e)
                return;
        free(e->params);
        free(e->procs);
        free(e->open);
        free(e->runs);
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

/* ---- hooks ---- */

static void run_hooks_of(struct engine *e, const struct hook_cfg *hooks, size_t n, const struct alert *c)
{
        static const unsigned event_bit[ALERT__EVENT_MAX] = { HOOK_ON_START, HOOK_ON_ESCALATE, HOOK_ON_END };
        char *envp[ALERT_ENV_MAX + 1];
        char envbuf[16 * 1024];
        char *json = NULL;

        for (size_t i = 0; i < n; i++) {
                struct pending_run *run;
                struct store_row row;

                if (!(hooks[i].events & event_bit[c->event]))
                        continue;
                if (!json && (alert_json(c, &json) < 0 || alert_env(c, envp, envbuf, sizeof(envbuf)) < 0)) {
                        log_error("alert %" PRId64 ": cannot prepare the hooks' context", c->row.id);
                        free(json);
                        return;
                }
                if (e->n_runs == e->cap_runs) {
                        size_t cap = e->cap_runs ? e->cap_runs * 2 : 16;
                        struct pending_run *r = realloc(e->runs, cap * sizeof(*r));
                        if (!r)
                                break;
                        e->runs = r;
                        e->cap_runs = cap;
                }
                run = &e->runs[e->n_runs++];
                *run = (struct pending_run){ .id = e->next_run++, .alert_id = c->row.id, .start_ms = c->t_ms,
                                             .event = c->event };
                row = (struct store_row){ .kind = STORE_HOOK_RUN,
                                          .hook_run = { .id = run->id, .alert_id = c->row.id,
                                                        .event = alert_event_name[c->event],
                                                        .program = hooks[i].argv[0], .start_ms = c->t_ms,
                                                        .exit_code = -1 } };
                (void)writer_put(e->env.writer, &row);
                e->stats.hook_runs++;
                (void)hooks_submit(e->env.hooks, run->id, (const char *const *)hooks[i].argv,
                                   (const char *const *)envp, json, strlen(json));
        }
        free(json);
}

static void run_hooks(struct engine *e, size_t rule, const struct alert *c)
{
        if (!e->env.hooks)
                return;
        run_hooks_of(e, e->cfg->hooks, e->cfg->n_hooks, c);
        if (rule < e->cfg->n_rules)
                run_hooks_of(e, e->cfg->rules[rule].hooks, e->cfg->rules[rule].n_hooks, c);
}

void engine_hook_done(void *userdata, const struct hook_result *res)
{
        struct engine *e = userdata;
        struct pending_run run = { .id = res->tag };
        char ids[32], why[96], esc[512];
        struct store_row row;
        size_t i;

        for (i = 0; i < e->n_runs; i++)
                if (e->runs[i].id == res->tag) {
                        run = e->runs[i];
                        e->runs[i] = e->runs[--e->n_runs];
                        break;
                }
        snprintf(ids, sizeof(ids), "%" PRId64, run.alert_id);
        {
                struct log_field f[] = { { "LEAKWATCH_ALERT_ID", ids }, { "LEAKWATCH_HOOK", res->program } };
                const char *p = res->output, *end = res->output + res->output_len;

                /* What the hook printed, line by line, escaped: its output is untrusted. */
                for (int lines = 0; p && p < end && lines < HOOK_LOG_LINES; lines++) {
                        const char *nl = memchr(p, '\n', (size_t)(end - p));
                        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

                        str_escape(p, len, esc, sizeof(esc));
                        log_fields(LOG_INFO, f, ELEMENTSOF(f), "hook %s: %s", res->program, esc);
                        p = nl ? nl + 1 : end;
                }
                if (res->error)
                        snprintf(why, sizeof(why), "%s", res->error);
                else if (res->timed_out)
                        snprintf(why, sizeof(why), "timed out and was killed");
                else if (res->signal)
                        snprintf(why, sizeof(why), "killed by signal %d (%s)", res->signal, strsignal(res->signal));
                else if (res->exit_code != 0)
                        snprintf(why, sizeof(why), "exited with status %d", res->exit_code);
                else
                        why[0] = '\0';
                if (why[0]) {
                        e->stats.hook_failures++;
                        log_fields(LOG_WARNING, f, ELEMENTSOF(f), "hook %s for alert %" PRId64 " (%s) %s",
                                   res->program, run.alert_id, alert_event_name[run.event], why);
                }
        }
        row = (struct store_row){ .kind = STORE_HOOK_RUN, .hook_run = {
                .id = run.id, .alert_id = run.alert_id, .event = alert_event_name[run.event],
                .program = res->program, .start_ms = run.start_ms ? run.start_ms : wall_now_ms(),
                .end_ms = wall_now_ms(), .exit_code = res->error ? -1 : res->exit_code, .signal = res->signal,
                .timed_out = res->timed_out, .output = res->output, .output_len = res->output_len,
        } };
        (void)writer_put(e->env.writer, &row);
}

/* ---- alerts ---- */

static void fill_alert(struct engine *e, const struct sampler_proc *p, size_t rule, enum detect_kind m,
                       const struct metric_state *ms, const struct detect_verdict *v, int64_t t_ms, struct alert *a)
{
        *a = (struct alert){
                .t_ms = t_ms,
                .metric = m,
                .row = {
                        .id = ms->alert_id,
                        .process_id = p->id,
                        .rule_id = p->rule_id,
                        .metric = detect_kind_name[m],
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
                .rule = rule < e->cfg->n_rules ? e->cfg->rules[rule].name : "?",
                .boot_id = e->env.boot_id,
        };
}
static void store_alert_row(struct engine *e, struct alert *a)
{
        if (!isfinite(a->row.ev.forecast))
                a->row.limit_kind = NULL;
        (void)writer_put(e->env.writer, &(struct store_row){ .kind = STORE_ALERT, .alert = a->row });
}
static void log_alert(const struct alert *c, int prio)
{
        char summary[512], pid[16], id[24], slope[32], low[32], growth[32], level[32], fc[32];
        struct log_field f[] = {
                { "MESSAGE_ID", MESSAGE_ID_LEAK },
                { "LEAKWATCH_EVENT", alert_event_name[c->event] },
                { "LEAKWATCH_ALERT_ID", id },
                { "LEAKWATCH_PID", pid },
                { "LEAKWATCH_NAME", c->name },
                { "LEAKWATCH_RULE", c->rule },
                { "LEAKWATCH_UNIT", c->unit && c->unit[0] ? c->unit : NULL },
                { "LEAKWATCH_METRIC", detect_kind_name[c->metric] },
                { "LEAKWATCH_STATE", c->row.state },
                { "LEAKWATCH_KIND", c->row.kind },
                { "LEAKWATCH_SLOPE", isfinite(c->row.ev.slope) ? slope : NULL },
                { "LEAKWATCH_SLOPE_LOW", isfinite(c->row.ev.slope_low) ? low : NULL },
                { "LEAKWATCH_GROWTH", isfinite(c->row.ev.growth) ? growth : NULL },
                { "LEAKWATCH_LEVEL", isfinite(c->row.ev.level) ? level : NULL },
                { "LEAKWATCH_FORECAST_S", isfinite(c->row.ev.forecast) ? fc : NULL },
        };

        snprintf(pid, sizeof(pid), "%d", (int)c->pid);
        snprintf(id, sizeof(id), "%" PRId64, c->row.id);
        snprintf(slope, sizeof(slope), "%.6g", c->row.ev.slope);
        snprintf(low, sizeof(low), "%.6g", c->row.ev.slope_low);
        snprintf(growth, sizeof(growth), "%.0f", c->row.ev.growth);
        snprintf(level, sizeof(level), "%.0f", c->row.ev.level);
        snprintf(fc, sizeof(fc), "%.0f", c->row.ev.forecast);
        alert_summary(c, summary, sizeof(summary));
        log_fields(prio, f, ELEMENTSOF(f), "%s", summary);
}

/* The room left before the process hits a limit, in the metric's unit; NAN if none. */
static double headroom(struct engine *e, const struct sampler_proc *p, enum detect_kind m, double level,
                       const char **ret_kind)
{
        double best = NAN;
        char buf[2048], path[32];
        uint64_t v;
        ssize_t n;

        *ret_kind = NULL;
        if (m == DETECT_FDS) {
                snprintf(path, sizeof(path), "%d/limits", (int)p->pid);
                n = proc_read_file(e->env.proc_root, path, buf, sizeof(buf));
                if (n > 0 && proc_parse_limits_nofile(buf, (size_t)n, &v) == 0 && v != UINT64_MAX) {
                        *ret_kind = "descriptor";
                        return MAX((double)v - level, 0);
                }
                return NAN;
        }
        if (e->env.cgroup_root >= 0 && p->cgroup[0] &&
            cgroup_memory_headroom(e->env.cgroup_root, p->cgroup, &v) == 0) {
                best = (double)v;
                *ret_kind = "cgroup";
        }
        if (e->env.host_headroom) {
                int64_t h = e->env.host_headroom(e->env.userdata);

                if (h >= 0 && !(best <= (double)h)) {
                        best = (double)h;
                        *ret_kind = "memory";
                }
        }
        return best;
}

/* Names the kind of leak (lib/classify) from the evidence window's stored samples and
 * agent reports; its class is recorded when it changes. */
static void update_kind(struct engine *e, const struct sampler_proc *p, struct metric_state *ms, enum detect_kind m,
                        const struct detect_verdict *v, int64_t t_ms)
{
        struct classify_result res;

        if (!v || !isfinite(v->ev.t_from) || !isfinite(v->ev.t_to) || !ms->alert_id)
                return;
        if (agent_classify(e->env.store, p->id, m == DETECT_FDS, (int64_t)(v->ev.t_from * 1000),
                           (int64_t)(v->ev.t_to * 1000), v->ev.growth, &res) < 0)
                log_debug("pid %d: cannot read its history to classify the alert: %s", (int)p->pid,
                          store_errmsg(e->env.store));
        snprintf(ms->kind, sizeof(ms->kind), "%s", res.text);
        if (ms->kind_class != (int)res.cls || ms->kind_agents != classify_agents(&res)) {
                ms->kind_class = (int)res.cls;
                ms->kind_agents = classify_agents(&res);
                (void)writer_put(e->env.writer, &(struct store_row){
                        .kind = STORE_ALERT_KIND,
                        .alert_kind = { .alert_id = ms->alert_id, .t_ms = t_ms, .cls = classify_class_name[res.cls],
                                        .agents = ms->kind_agents } });
        }
}

/* Writes, logs and announces an alert event for metric m of the process. */
static void announce(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                     const struct detect_verdict *v, int64_t t_ms, enum alert_event event, const char *state,
                     const char *limit_kind, const char *end_reason, bool closing)
{
        struct metric_state *ms = &ep->m[m];
        struct alert c;

        fill_alert(e, p, ep->rule, m, ms, v, t_ms, &c);
        c.event = event;
        c.row.state = state;
        c.row.limit_kind = limit_kind;
        c.row.end_reason = end_reason;
        c.row.end_ms = closing ? t_ms : 0;
        store_alert_row(e, &c);
        log_alert(&c, event == ALERT_EVENT_END ? LOG_NOTICE : LOG_WARNING);
        run_hooks(e, ep->rule, &c);
}

static void open_alert(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                       const struct detect_verdict *v, int64_t t_ms, const char *limit_kind)
{
        struct metric_state *ms = &ep->m[m];

        ms->alert_id = e->next_alert++;
        ms->alert_start_ms = t_ms;
        ms->escalated = false;
        ms->escalated_ms = 0;
        ms->kind_class = -1;
        update_kind(e, p, ms, m, v, t_ms);
        e->stats.alerts++;
        announce(e, p, ep, m, v, t_ms, ALERT_EVENT_START, "leaking", limit_kind, NULL, false);
}

static void close_alert(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                        int64_t t_ms, const char *state, const char *reason)
{
        struct metric_state *ms = &ep->m[m];

        if (!ms->alert_id)
                return;
        announce(e, p, ep, m, ms->has_last ? &ms->last : NULL, t_ms, ALERT_EVENT_END, state, NULL, reason, true);
        ms->alert_id = 0;
        ms->escalated = false;
        ms->escalated_ms = 0;
        ms->kind[0] = '\0';
}

static void evaluate(struct engine *e, const struct sampler_proc *p, struct eproc *ep, enum detect_kind m,
                     double t)
{
        struct metric_state *ms = &ep->m[m];
        const struct detect_params *par = params_of(e, ep, m);
        struct detect_verdict v;
        const char *limit_kind = NULL;
        int64_t t_ms = (int64_t)llround(t * 1000);
        enum alert_action act;
        double room;

        room = headroom(e, p, m, ms->has_last ? ms->last.ev.level : NAN, &limit_kind);
        detect_evaluate(&ms->d, par, t, room, &v);
        e->stats.evaluations++;
        ms->status = v.status;
        ms->last = v;
        ms->has_last = true;

        act = alert_decide(ms->alert_id != 0, ms->escalated, &v);
        if (act == ALERT_OPEN) {
                /* The verdict row below refers to the alert it opens. */
                ms->alert_id = e->next_alert;
        }
        if (v.changed || act == ALERT_ESCALATE) {
                struct store_row row = { .kind = STORE_VERDICT, .verdict = {
                        .id = e->next_verdict++, .process_id = p->id, .alert_id = ms->alert_id, .t_ms = t_ms,
                        .metric = detect_kind_name[m], .state = detect_status_name[v.status],
                        .previous = detect_status_name[v.previous], .escalated = act == ALERT_ESCALATE, .ev = v.ev,
                } };

                (void)writer_put(e->env.writer, &row);
                e->stats.verdicts++;
                log_debug("pid %d (%s): %s %s -> %s: %s", (int)p->pid, p->comm, detect_kind_name[m],
                          detect_status_name[v.previous], detect_status_name[v.status], v.ev.reason);
        }
        switch (act) {
        case ALERT_OPEN:
                open_alert(e, p, ep, m, &v, t_ms, limit_kind);
                break;
        case ALERT_ESCALATE:
                ms->escalated = true;
                ms->escalated_ms = t_ms;
                update_kind(e, p, ms, m, &v, t_ms);
                announce(e, p, ep, m, &v, t_ms, ALERT_EVENT_ESCALATE, "leaking", limit_kind, NULL, false);
                break;
        case ALERT_UPDATE: {
                struct alert c;

                /* Fresh numbers (and kind) for the open alert; nobody is told. */
                update_kind(e, p, ms, m, &v, t_ms);
                fill_alert(e, p, ep->rule, m, ms, &v, t_ms, &c);
                c.event = ALERT_EVENT_UPDATE;
                c.row.state = "leaking";
                c.row.limit_kind = limit_kind;
                store_alert_row(e, &c);
                break;
        }
        case ALERT_CLOSE:
                close_alert(e, p, ep, m, t_ms, "recovered", "recovered");
                break;
        case ALERT_NONE:
                break;
        }
}

/* ---- feeding ---- */

struct replay_ctx {
        struct engine *e;
        struct eproc *ep;
};

static int replay_sample(const struct sample *smp, void *userdata)
{
        struct replay_ctx *c = userdata;
        double t = (double)smp->t_ms / 1000, v;

        /* Rebuilding state only: what these evaluations concluded was recorded when it
         * happened (or, if the daemon was down, is reconciled after the replay). */
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                struct metric_state *ms = &c->ep->m[m];
                const struct detect_params *par = params_of(c->e, c->ep, (enum detect_kind)m);
                struct detect_verdict dv;

                if (!detect_value(smp, (enum detect_kind)m, &v))
                        continue;
                if (detect_add(&ms->d, par, t, v)) {
                        detect_evaluate(&ms->d, par, t, NAN, &dv);
                        ms->status = dv.status;
                        ms->last = dv;
                        ms->has_last = true;
                }
        }
        return 0;
}

/* replay: false for a process the database knows nothing about yet, whose history would
 * be empty: the query would still walk every recent sample (that table is ordered by
 * time), which on a host where processes come and go was most of the daemon's work. */
static void rebuild(struct engine *e, const struct sampler_proc *p, struct eproc *ep, bool replay)
{
        struct replay_ctx c = { .e = e, .ep = ep };
        double window = ep->own ? ep->window : rule_window(e->cfg, p->rule);
        int64_t now = wall_now_ms();
        int r;

        ep->window = window;
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                detect_init(&ep->m[m].d, (double)p->start_ms / 1000);
                ep->m[m].status = DETECT_OK;
                ep->m[m].has_last = false;
        }
        if (!replay)
                return;
        r = store_for_each_sample(e->env.store, p->id, now - (int64_t)(window * REPLAY_WINDOWS * 1000), INT64_MAX,
                                  replay_sample, &c);
        if (r < 0)
                log_warning("pid %d (%s): cannot read its history (%s); its detector starts afresh", (int)p->pid,
                            p->comm, store_errmsg(e->env.store));
}

static void on_started(void *userdata, const struct sampler_proc *p, bool resumed)
{
        struct engine *e = userdata;
        struct eproc *ep = proc_slot(e, p->slot, true);

        (void)resumed;
        if (!ep) {
                log_error("pid %d: out of memory, not judged", (int)p->pid);
                return;
        }
        memset(ep, 0, sizeof(*ep));
        ep->used = true;
        ep->process_id = p->id;
        ep->rule = p->rule;
        ep->start_ms = p->start_ms;
        ep->pid = p->pid;
        rebuild(e, p, ep, !p->is_new);
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
        }
        /* Reconcile what the history says with what the database says. */
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                struct metric_state *ms = &ep->m[m];

                if (ms->alert_id && ms->status != DETECT_LEAKING)
                        close_alert(e, p, ep, (enum detect_kind)m, wall_now_ms(), "recovered",
                                    "no longer leaking when leakwatchd took over");
                else if (!ms->alert_id && ms->status == DETECT_LEAKING && ms->has_last)
                        /* It began leaking while the daemon was down (or before it watched
                         * the process): the alert starts now. */
                        open_alert(e, p, ep, (enum detect_kind)m, &ms->last, wall_now_ms(), NULL);
        }
}

static void on_sampled(void *userdata, const struct sampler_proc *p, const struct sample *smp)
{
        struct engine *e = userdata;
        struct eproc *ep = proc_slot(e, p->slot, false);
        double t = (double)smp->t_ms / 1000, v;

        if (!ep || !ep->used || ep->process_id != p->id)
                return;
        /* A reload may have moved the process to another rule index or changed its
         * window: a detector is only valid with the parameters it was built with. */
        if (!ep->own && (ep->rule != p->rule || rule_window(e->cfg, p->rule) != ep->window)) {
                ep->rule = p->rule;
                if (rule_window(e->cfg, p->rule) != ep->window)
                        rebuild(e, p, ep, true);
        }
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                if (!detect_value(smp, (enum detect_kind)m, &v))
                        continue;
                if (detect_add(&ep->m[m].d, params_of(e, ep, (enum detect_kind)m), t, v))
                        evaluate(e, p, ep, (enum detect_kind)m, t);
        }
}

static void on_ended(void *userdata, const struct sampler_proc *p, int64_t end_ms, const char *reason)
{
        struct engine *e = userdata;
        struct eproc *ep = proc_slot(e, p->slot, false);

        if (!ep || !ep->used || ep->process_id != p->id)
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
        st = e->procs[p->slot].m[DETECT_MEMORY].status;
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

int engine_finish_resume(struct engine *e, int64_t now_ms)
{
        for (size_t i = 0; i < e->n_open; i++) {
                struct open_alert *oa = &e->open[i];

                /* Its process did not come back: it ended while the daemon was down. */
                if (!oa->taken)
                        (void)writer_put(e->env.writer, &(struct store_row){
                                .kind = STORE_ALERT_END,
                                .end = { .id = oa->id, .t_ms = now_ms, .state = "ended",
                                         .reason = "process ended while leakwatchd was stopped" } });
        }
        free(e->open);
        e->open = NULL;
        e->n_open = 0;
        return 0;
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

int engine_set_window(struct engine *e, size_t slot, double window)
{
        struct eproc *ep = slot < e->cap_procs ? &e->procs[slot] : NULL;
        struct sampler_proc p;

        if (!ep || !ep->used)
                return -ENOENT;
        ep->own = true;
        ep->window = window;
        detect_params_init(&ep->own_params[DETECT_MEMORY], DETECT_MEMORY, window);
        detect_params_init(&ep->own_params[DETECT_FDS], DETECT_FDS, window);
        /* Nothing but its identity is needed to replay its history. */
        memset(&p, 0, sizeof(p));
        p.id = ep->process_id;
        p.pid = ep->pid;
        p.comm = "";
        p.rule = ep->rule;
        p.start_ms = ep->start_ms;
        rebuild(e, &p, ep, true);
        return 0;
}

int engine_proc_state(const struct engine *e, size_t slot, int m, struct engine_proc_state *ret)
{
        const struct metric_state *ms;

        if (slot >= e->cap_procs || !e->procs[slot].used || m < 0 || m >= DETECT__KIND_MAX)
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
