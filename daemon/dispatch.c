/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dispatch: alert events to the journal and the hooks; hook results to the log and rows. */
#include "dispatch.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "log.h"
#include "proc.h"

/* Hook output lines copied into the log per run; the whole (bounded) output is stored. */
#define HOOK_LOG_LINES 20
/* A journal MESSAGE_ID for leak alerts, so `journalctl MESSAGE_ID=...` finds them all
 * (made once with systemd-id128 new). */
#define MESSAGE_ID_LEAK "0f6c1b9e8a3d4c2fb7e15a9d3c4b6e21"
/* The hook's environment: its variables (ALERT_ENV_MAX of them) fit in this. */
#define HOOK_ENV_SIZE (16 * 1024)

/* A hook run between submission and its result. */
struct pending_run {
        int64_t id, alert_id, start_ms;
        enum alert_event event;
};

struct dispatch {
        struct dispatch_env env;
        struct pending_run *runs;
        size_t n_runs, cap_runs;
        int64_t next_run;
        struct dispatch_stats stats;
        struct restarter *restarter;
        struct evidence *evidence;
};

static void record_restart(void *userdata, const struct store_restart *x, int level);

/* Evidence bundles go to the state directory, the database's. */
static int evidence_start(struct dispatch *d)
{
        const struct config *cfg = *d->env.cfg;
        char dir[PATH_MAX];
        const char *slash = strrchr(cfg->db_path, '/');

        if (!slash)
                snprintf(dir, sizeof(dir), ".");
        else
                snprintf(dir, sizeof(dir), "%.*s", (int)MAX(slash - cfg->db_path, 1), cfg->db_path);
        return evidence_new(dir, cfg->proc_root, cfg->cgroup_root, watch_store(d->env.watch), &d->evidence);
}

int dispatch_new(const struct dispatch_env *env, struct dispatch **ret)
{
        struct dispatch *d = calloc(1, sizeof(*d));
        int64_t alert, verdict;
        int r;

        if (!d)
                return -ENOMEM;
        d->env = *env;
        r = store_max_ids(watch_store(env->watch), &alert, &verdict, &d->next_run);
        if (r >= 0 && env->event)
                r = evidence_start(d);
        if (r >= 0 && env->event)
                r = restarter_new(&(struct restarter_env){ .event = env->event, .store = watch_store(env->watch),
                                                           .record = record_restart, .userdata = d },
                                  env->self_unit, env->now_ms(env->userdata), &d->restarter);
        if (r < 0) {
                free(d);
                return r;
        }
        d->next_run++;
        *ret = d;
        return 0;
}

void dispatch_free(struct dispatch *d)
{
        if (!d)
                return;
        restarter_free(d->restarter);
        evidence_free(d->evidence);
        free(d->runs);
        free(d);
}

void dispatch_stop(struct dispatch *d)
{
        if (!d)
                return;
        restarter_free(d->restarter);
        d->restarter = NULL;
}

/* ---- the journal ---- */

static void log_alert(const struct alert *a)
{
        char summary[512], pid[16], id[24], slope[32], low[32], growth[32], level[32], fc[32];
        const struct detect_evidence *ev = &a->row.ev;
        struct log_field f[] = {
                { "MESSAGE_ID", MESSAGE_ID_LEAK },
                { "LEAKWATCH_EVENT", alert_event_name[a->event] },
                { "LEAKWATCH_ALERT_ID", id },
                { "LEAKWATCH_PID", pid },
                { "LEAKWATCH_NAME", a->name },
                { "LEAKWATCH_RULE", a->rule },
                { "LEAKWATCH_UNIT", a->unit && a->unit[0] ? a->unit : NULL },
                { "LEAKWATCH_METRIC", detect_kind_name[a->metric] },
                { "LEAKWATCH_STATE", a->row.state },
                { "LEAKWATCH_KIND", a->row.kind },
                { "LEAKWATCH_SLOPE", isfinite(ev->slope) ? slope : NULL },
                { "LEAKWATCH_SLOPE_LOW", isfinite(ev->slope_low) ? low : NULL },
                { "LEAKWATCH_GROWTH", isfinite(ev->growth) ? growth : NULL },
                { "LEAKWATCH_LEVEL", isfinite(ev->level) ? level : NULL },
                { "LEAKWATCH_FORECAST_S", isfinite(ev->forecast) ? fc : NULL },
        };

        snprintf(pid, sizeof(pid), "%d", (int)a->pid);
        snprintf(id, sizeof(id), "%" PRId64, a->row.id);
        snprintf(slope, sizeof(slope), "%.6g", ev->slope);
        snprintf(low, sizeof(low), "%.6g", ev->slope_low);
        snprintf(growth, sizeof(growth), "%.0f", ev->growth);
        snprintf(level, sizeof(level), "%.0f", ev->level);
        snprintf(fc, sizeof(fc), "%.0f", ev->forecast);
        alert_summary(a, summary, sizeof(summary));
        log_fields(a->event == ALERT_EVENT_END ? LOG_NOTICE : LOG_WARNING, f, ELEMENTSOF(f), "%s", summary);
}

/* ---- hooks ---- */

static void run_hooks_of(struct dispatch *d, const struct hook_cfg *hooks, size_t n, const struct alert *a)
{
        static const unsigned event_bit[ALERT__EVENT_MAX] = {
                [ALERT_EVENT_START] = HOOK_ON_START, [ALERT_EVENT_ESCALATE] = HOOK_ON_ESCALATE,
                [ALERT_EVENT_END] = HOOK_ON_END,
        };
        char *envp[ALERT_ENV_MAX + 1];
        char envbuf[HOOK_ENV_SIZE];
        char *json = NULL;

        for (size_t i = 0; i < n; i++) {
                struct pending_run *run;
                struct store_row row;

                if (!(hooks[i].events & event_bit[a->event]))
                        continue;
                if (!json && (alert_json(a, &json) < 0 || alert_env(a, envp, envbuf, sizeof(envbuf)) < 0)) {
                        log_error("alert %" PRId64 ": cannot prepare the hooks' context", a->row.id);
                        free(json);
                        return;
                }
                if (d->n_runs == d->cap_runs) {
                        size_t cap = d->cap_runs ? d->cap_runs * 2 : 16;
                        struct pending_run *r = realloc(d->runs, cap * sizeof(*r));

                        if (!r)
                                break;
                        d->runs = r;
                        d->cap_runs = cap;
                }
                run = &d->runs[d->n_runs++];
                *run = (struct pending_run){ .id = d->next_run++, .alert_id = a->row.id, .start_ms = a->t_ms,
                                             .event = a->event };
                row = (struct store_row){ .kind = STORE_HOOK_RUN,
                                          .hook_run = { .id = run->id, .alert_id = a->row.id,
                                                        .event = alert_event_name[a->event],
                                                        .program = hooks[i].argv[0], .start_ms = a->t_ms,
                                                        .exit_code = -1 } };
                (void)writer_put(watch_writer(d->env.watch), &row);
                d->stats.hook_runs++;
                (void)hooks_submit(d->env.hooks, run->id, (const char *const *)hooks[i].argv,
                                   (const char *const *)envp, json, strlen(json));
        }
        free(json);
}

/* The global hooks, then those of the alert's rule (by name: during a reload the rule
 * that is going away still runs its own). */
static void run_hooks(struct dispatch *d, const struct alert *a)
{
        const struct config *cfg = *d->env.cfg;

        if (!d->env.hooks)
                return;
        run_hooks_of(d, cfg->hooks, cfg->n_hooks, a);
        for (size_t i = 0; a->rule && i < cfg->n_rules; i++)
                if (strcmp(cfg->rules[i].name, a->rule) == 0)
                        run_hooks_of(d, cfg->rules[i].hooks, cfg->rules[i].n_hooks, a);
}

void dispatch_hook_done(struct dispatch *d, const struct hook_result *res)
{
        struct pending_run run = { .id = res->tag };
        char ids[32], why[96], esc[512];
        struct log_field f[] = { { "LEAKWATCH_ALERT_ID", ids }, { "LEAKWATCH_HOOK", res->program } };
        const char *p = res->output, *end = res->output + res->output_len;
        int64_t now = d->env.now_ms(d->env.userdata);
        struct store_row row;

        for (size_t i = 0; i < d->n_runs; i++)
                if (d->runs[i].id == res->tag) {
                        run = d->runs[i];
                        d->runs[i] = d->runs[--d->n_runs];
                        break;
                }
        snprintf(ids, sizeof(ids), "%" PRId64, run.alert_id);
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
                d->stats.hook_failures++;
                log_fields(LOG_WARNING, f, ELEMENTSOF(f), "hook %s for alert %" PRId64 " (%s) %s", res->program,
                           run.alert_id, alert_event_name[run.event], why);
        }
        row = (struct store_row){ .kind = STORE_HOOK_RUN, .hook_run = {
                .id = run.id, .alert_id = run.alert_id, .event = alert_event_name[run.event],
                .program = res->program, .start_ms = run.start_ms ? run.start_ms : now, .end_ms = now,
                .exit_code = res->error ? -1 : res->exit_code, .signal = res->signal, .timed_out = res->timed_out,
                .output = res->output, .output_len = res->output_len,
        } };
        (void)writer_put(watch_writer(d->env.watch), &row);
}

/* ---- restarts ---- */

/* A restart decision: one log line, and its row. */
static void record_restart(void *userdata, const struct store_restart *x, int level)
{
        struct dispatch *d = userdata;
        char ids[24], unit[PROC_UNIT_MAX * 4 + 1];
        struct log_field f[] = { { "LEAKWATCH_ALERT_ID", ids }, { "LEAKWATCH_RESTART", x->decision },
                                 { "LEAKWATCH_UNIT", x->unit } };
        struct store_row row = { .kind = STORE_RESTART, .restart = *x };

        snprintf(ids, sizeof(ids), "%" PRId64, x->alert_id);
        str_escape(x->unit ? x->unit : "", x->unit ? strlen(x->unit) : 0, unit, sizeof(unit));
        if (strcmp(x->decision, "requested") == 0)
                d->stats.restarts++;
        log_fields(level, f, ELEMENTSOF(f), "alert %" PRId64 ": restart of %s %s: %s%s%s", x->alert_id,
                   unit[0] ? unit : "(no service)", x->decision, x->reason, x->detail ? ": " : "",
                   x->detail ? x->detail : "");
        (void)writer_put(watch_writer(d->env.watch), &row);
}

/* ---- evidence ---- */

/* Keeps the evidence of an alert that starts or gets worse, for a rule that asks; and
 * once more when its kind first names an allocation site (the agents trace from the
 * suspicion on, and their sites often come after the start's bundle was taken). */
static void take_evidence(struct dispatch *d, const struct sampler_proc *p, const struct alert *a,
                          const struct rule_cfg *r)
{
        char ids[24], why[EVIDENCE_WHY_MAX], size[32];
        struct log_field f[] = { { "LEAKWATCH_ALERT_ID", ids } };
        struct evidence_result res;
        struct store_row row;

        if (!d->evidence || !p || !r || r->escalate < ESCALATE_EVIDENCE ||
            (a->event != ALERT_EVENT_START && a->event != ALERT_EVENT_ESCALATE &&
             !(a->event == ALERT_EVENT_UPDATE && a->first_sites)))
                return;
        snprintf(ids, sizeof(ids), "%" PRId64, a->row.id);
        /* The bundle reads the samples and the agents' reports up to now from the
         * database: what is still queued goes first. If it cannot, the bundle's chart
         * ends earlier, and its note says so. */
        (void)watch_write_pending(d->env.watch);
        if (evidence_take(d->evidence, p, a, &res, why, sizeof(why)) < 0) {
                log_fields(LOG_WARNING, f, ELEMENTSOF(f), "alert %" PRId64 ": no evidence kept: %s", a->row.id, why);
                return;
        }
        log_fields(LOG_NOTICE, f, ELEMENTSOF(f), "alert %" PRId64 ": evidence kept in %s (%u files, %s)%s%s",
                   a->row.id, res.path, res.files, format_size(res.bytes, size, sizeof(size)),
                   res.note[0] ? ": " : "", res.note);
        row = (struct store_row){ .kind = STORE_ALERT_BUNDLE, .bundle = {
                .alert_id = a->row.id, .t_ms = a->t_ms, .event = alert_event_name[a->event], .path = res.path,
                .bytes = res.bytes, .files = res.files, .note = res.note[0] ? res.note : NULL } };
        (void)writer_put(watch_writer(d->env.watch), &row);
}

/* The rule of that name in the current configuration, or NULL. */
static const struct rule_cfg *rule_named(const struct dispatch *d, const char *name)
{
        const struct config *cfg = *d->env.cfg;

        for (size_t i = 0; name && i < cfg->n_rules; i++)
                if (strcmp(cfg->rules[i].name, name) == 0)
                        return &cfg->rules[i];
        return NULL;
}

/* ---- the sink ---- */

static void on_verdict(void *userdata, const struct sampler_proc *p, const struct store_verdict *v)
{
        (void)userdata;
        log_debug("pid %d (%s): %s %s -> %s: %s", (int)p->pid, p->comm, v->metric, v->previous, v->state,
                  v->ev.reason);
}

static void on_alert(void *userdata, const struct sampler_proc *p, const struct alert *a)
{
        struct dispatch *d = userdata;
        const struct rule_cfg *r = rule_named(d, a->rule);

        if (alert_event_told(a->event)) {
                log_alert(a);
                /* Before the hooks and a restart: the process as it was when alerted on. */
                take_evidence(d, p, a, r);
                run_hooks(d, a);
        } else {
                take_evidence(d, p, a, r);
        }
        if (d->restarter)
                restarter_alert(d->restarter, r, a, d->env.now_ms(d->env.userdata));
}

static void on_trouble(void *userdata UNUSED, const struct sampler_proc *p, int error, const char *what)
{
        if (p)
                log_warning("pid %d (%s): %s: %s", (int)p->pid, p->comm, strerror(-error), what);
        else
                log_warning("%s: %s", strerror(-error), what);
}

void dispatch_sink(struct dispatch *d, struct engine_sink *ret)
{
        *ret = (struct engine_sink){ .verdict = on_verdict, .alert = on_alert, .trouble = on_trouble, .userdata = d };
}

void dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *ret)
{
        *ret = d->stats;
}
