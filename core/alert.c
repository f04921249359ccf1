/* SPDX-License-Identifier: GPL-2.0-or-later */
/* alert: when a detector verdict becomes an alert, and what an alert tells the world —
 * the journal message, the hook's environment and its JSON document. Pure: no I/O. */
#include "alert.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonval.h"
#include "proto.h"
#include "util.h"

const char *const alert_event_name[ALERT__EVENT_MAX] = { "start", "escalate", "end", "update", "expire" };

enum alert_action alert_decide(bool open, bool escalated, const struct detect_verdict *v)
{
        if (!open)
                /* Also a process that was already leaking when the daemon took it over:
                 * its alert starts now. */
                return v->status == DETECT_LEAKING ? ALERT_OPEN : ALERT_NONE;
        if (v->status != DETECT_LEAKING)
                return ALERT_CLOSE;
        /* The detector raises `escalated` when a process becomes leaking (that was the
         * open) and when the forecast first falls inside its horizon: only the latter,
         * once, is an escalation. */
        if (v->escalated && !v->changed && !escalated)
                return ALERT_ESCALATE;
        return ALERT_UPDATE;
}

/* Formats a rate in the metric's unit per minute or per hour, whichever reads better. */
static void format_rate(enum detect_kind m, double per_s, char *buf, size_t sz)
{
        char v[32];
        double per_min = per_s * 60;

        if (m == DETECT_FDS) {
                if (per_min >= 1)
                        snprintf(buf, sz, "%.1f fds/min", per_min);
                else
                        snprintf(buf, sz, "%.1f fds/h", per_s * 3600);
                return;
        }
        if (!isfinite(per_s) || per_s < 0)
                per_s = 0;
        if (per_min >= 1024 * 1024)
                snprintf(buf, sz, "%s/min", format_size((uint64_t)per_min, v, sizeof(v)));
        else
                snprintf(buf, sz, "%s/h", format_size((uint64_t)(per_s * 3600), v, sizeof(v)));
}

static void format_amount(enum detect_kind m, double units, char *buf, size_t sz)
{
        if (m == DETECT_FDS)
                snprintf(buf, sz, "%.0f fds", units);
        else
                format_size(units > 0 ? (uint64_t)units : 0, buf, sz);
}

/* The time to each known limit at the latest evaluation's rate: "; limits: memory.max in
 * 12 min, host in 3h". */
static void summary_limits(const struct alert *a, char *buf, size_t sz)
{
        struct forecast f;
        size_t o = 0;
        char when[32];

        alert_forecast(a, &f);
        for (int k = 0; k < LIMIT__MAX && o < sz; k++) {
                if (isnan(f.room[k]))
                        continue;
                forecast_format(f.seconds[k], when, sizeof(when));
                o += (size_t)snprintf(buf + o, sz - o, "%s%s %s%s", o ? ", " : "; limits: ", limit_name[k],
                                      isfinite(f.seconds[k]) ? "in " : "", when);
        }
}

void alert_forecast(const struct alert *a, struct forecast *ret)
{
        const struct store_alert_evidence *l = &a->row.latest;

        forecast_from_rooms(l->room, a->metric, l->slope, l->slope_low, ret);
}

void alert_summary(const struct alert *a, char *buf, size_t sz)
{
        char name[64], rate[48], low[48], growth[32], span[32], fc[32], level[32], scale[32];
        double span_s;
        size_t o;

        str_escape(a->name ? a->name : "", a->name ? strlen(a->name) : 0, name, sizeof(name));
        o = (size_t)snprintf(buf, sz, "pid %d (%s), rule %s: ", (int)a->pid, name, a->rule ? a->rule : "?");
        if (o >= sz)
                return;
        if (a->event == ALERT_EVENT_END) {
                snprintf(buf + o, sz - o, "%s leak alert ended: %s", detect_kind_name[a->metric],
                         a->row.end_reason ? a->row.end_reason : a->row.state);
                return;
        }
        format_rate(a->metric, a->row.ev.slope, rate, sizeof(rate));
        format_rate(a->metric, a->row.ev.slope_low, low, sizeof(low));
        format_amount(a->metric, a->row.ev.growth, growth, sizeof(growth));
        format_amount(a->metric, a->row.ev.level, level, sizeof(level));
        span_s = a->row.ev.t_to - a->row.ev.t_from;
        format_duration(isfinite(span_s) ? span_s : 0, span, sizeof(span));
        if (a->row.latest.cause && strcmp(a->row.latest.cause, "limit") == 0)
                /* The limit judge's: what will happen first, then the growth it saw. */
                o += (size_t)snprintf(buf + o, sz - o, "%s %s, %s rising %s (at least %s), +%s over %s, now %s",
                                      detect_kind_name[a->metric], a->row.ev.reason ? a->row.ev.reason : "near a limit",
                                      a->metric == DETECT_FDS ? "descriptors" : "floor", rate, low, growth, span,
                                      level);
        else
                o += (size_t)snprintf(buf + o, sz - o, "%s%s leak, %s rising %s (at least %s), +%s over %s, now %s",
                                      a->event == ALERT_EVENT_ESCALATE ? "worsening " : "",
                                      detect_kind_name[a->metric], a->metric == DETECT_FDS ? "descriptors" : "floor",
                                      rate, low, growth, span, level);
        /* The time scale that raised it: how fast a leak this is. */
        if (o < sz && isfinite(a->row.ev.scale))
                o += (size_t)snprintf(buf + o, sz - o, ", at the %s scale",
                                      format_duration(a->row.ev.scale, scale, sizeof(scale)));
        if (o < sz && a->row.latest.t_ms)
                summary_limits(a, buf + o, sz - o);
        else if (o < sz && isfinite(a->row.ev.forecast))
                snprintf(buf + o, sz - o, "; %s limit in %s", a->row.limit_kind ? a->row.limit_kind : "a",
                         format_duration(a->row.ev.forecast, fc, sizeof(fc)));
}

/* ---- JSON ---- */

/* An evidence time (seconds) as the ms a JSON time is written from; 0 (null) if none. */
static int64_t evidence_ms(double t)
{
        return isfinite(t) ? (int64_t)(t * 1000) : 0;
}

/* {"memory.max": seconds, ...} for each known limit (null: not reached at this rate);
 * NULL (JSON null) without an evaluation. */
static struct json_object *json_limits(const struct alert *a)
{
        struct json_object *o;
        struct forecast f;

        if (!a->row.latest.t_ms || !(o = json_object_new_object()))
                return NULL;
        alert_forecast(a, &f);
        for (int k = 0; k < LIMIT__MAX; k++)
                if (!isnan(f.room[k]))
                        json_object_object_add(o, limit_name[k], json_num(f.seconds[k]));
        return o;
}

int alert_json(const struct alert *a, char **ret)
{
        struct json_object *o = json_object_new_object();
        struct {
                const char *key;
                struct json_object *val;
        } f[] = {
                { "event", json_object_new_string(alert_event_name[a->event]) },
                { "alert_id", json_object_new_int64(a->row.id) },
                { "time", json_time(a->t_ms) },
                { "time_ms", json_object_new_int64(a->t_ms) },
                { "metric", json_object_new_string(detect_kind_name[a->metric]) },
                { "state", json_str(a->row.state) },
                { "end_reason", json_str(a->row.end_reason) },
                { "pid", json_object_new_int(a->pid) },
                { "uid", a->uid == (uid_t)-1 ? NULL : json_object_new_int64(a->uid) },
                { "name", json_str(a->name) },
                { "cmdline", json_str(a->cmdline) },
                { "unit", a->unit && a->unit[0] ? json_str(a->unit) : NULL },
                { "cgroup", a->cgroup && a->cgroup[0] ? json_str(a->cgroup) : NULL },
                { "rule", json_str(a->rule) },
                { "boot_id", json_str(a->boot_id) },
                { "process_id", json_object_new_int64(a->row.process_id) },
                { "process_start", json_time(a->start_ms) },
                { "alert_start", json_time(a->row.start_ms) },
                { "slope", json_num(a->row.ev.slope) },
                { "slope_low", json_num(a->row.ev.slope_low) },
                { "slope_high", json_num(a->row.ev.slope_high) },
                { "growth", json_num(a->row.ev.growth) },
                { "growth_rel", json_num(a->row.ev.growth_rel) },
                { "level", json_num(a->row.ev.level) },
                { "p_value", json_num(a->row.ev.p) },
                { "forecast_s", json_num(a->row.ev.forecast) },
                { "scale_s", json_num(a->row.ev.scale) },
                { "limit", json_str(a->row.limit_kind) },
                { "evidence_from", json_time(evidence_ms(a->row.ev.t_from)) },
                { "evidence_to", json_time(evidence_ms(a->row.ev.t_to)) },
                { "reason", json_str(a->row.ev.reason) },
                { "kind", json_str(a->row.kind) },
                { "cause", json_str(a->row.latest.cause) },
                { "limits", json_limits(a) },
        };
        const char *text;

        if (!o)
                return -ENOMEM;
        /* Absent values are JSON null: the document always has the same keys. */
        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                json_object_object_add(o, f[i].key, f[i].val);
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        *ret = text ? strdup(text) : NULL;
        json_object_put(o);
        return *ret ? 0 : -ENOMEM;
}

/* ---- environment ---- */

struct env_builder {
        char **envp;
        size_t n;
        char *buf;
        size_t used, size;
        bool overflow;
};

static void env_add(struct env_builder *b, const char *key, const char *fmt, ...) PRINTF(3, 4);
static void env_add(struct env_builder *b, const char *key, const char *fmt, ...)
{
        char value[1024], esc[2048];
        va_list ap;
        int n;

        va_start(ap, fmt);
        vsnprintf(value, sizeof(value), fmt, ap);
        va_end(ap);
        str_escape(value, strlen(value), esc, sizeof(esc));
        if (b->n + 1 >= ALERT_ENV_MAX) {
                b->overflow = true;
                return;
        }
        n = snprintf(b->buf + b->used, b->size - b->used, "%s=%s", key, esc);
        if (n < 0 || (size_t)n >= b->size - b->used) {
                b->overflow = true;
                return;
        }
        b->envp[b->n++] = b->buf + b->used;
        b->used += (size_t)n + 1;
}

static void env_real(struct env_builder *b, const char *key, double v)
{
        if (isfinite(v))
                env_add(b, key, "%.17g", v);
}

int alert_env(const struct alert *a, char **envp, char *buf, size_t bufsz)
{
        struct env_builder b = { .envp = envp, .buf = buf, .size = bufsz };

        /* A fixed, minimal environment: nothing of the daemon's leaks into the hook. */
        env_add(&b, "PATH", "%s", HOOK_ENV_PATH);
        env_add(&b, "LANG", "C.UTF-8");
        env_add(&b, "LEAKWATCH_EVENT", "%s", alert_event_name[a->event]);
        env_add(&b, "LEAKWATCH_ALERT_ID", "%" PRId64, a->row.id);
        env_add(&b, "LEAKWATCH_TIME_MS", "%" PRId64, a->t_ms);
        env_add(&b, "LEAKWATCH_METRIC", "%s", detect_kind_name[a->metric]);
        env_add(&b, "LEAKWATCH_STATE", "%s", a->row.state ? a->row.state : "");
        if (a->row.end_reason)
                env_add(&b, "LEAKWATCH_END_REASON", "%s", a->row.end_reason);
        env_add(&b, "LEAKWATCH_PID", "%d", (int)a->pid);
        /* With the PID, what tells this process from a later one given the same PID. */
        if (a->start_ms > 0)
                env_add(&b, "LEAKWATCH_START_MS", "%" PRId64, a->start_ms);
        if (a->uid != (uid_t)-1)
                env_add(&b, "LEAKWATCH_UID", "%u", (unsigned)a->uid);
        env_add(&b, "LEAKWATCH_NAME", "%s", a->name ? a->name : "");
        env_add(&b, "LEAKWATCH_CMDLINE", "%s", a->cmdline ? a->cmdline : "");
        if (a->unit && a->unit[0])
                env_add(&b, "LEAKWATCH_UNIT", "%s", a->unit);
        if (a->cgroup && a->cgroup[0])
                env_add(&b, "LEAKWATCH_CGROUP", "%s", a->cgroup);
        env_add(&b, "LEAKWATCH_RULE", "%s", a->rule ? a->rule : "");
        env_add(&b, "LEAKWATCH_PROCESS_ID", "%" PRId64, a->row.process_id);
        if (a->boot_id)
                env_add(&b, "LEAKWATCH_BOOT_ID", "%s", a->boot_id);
        env_real(&b, "LEAKWATCH_SLOPE", a->row.ev.slope);
        env_real(&b, "LEAKWATCH_SLOPE_LOW", a->row.ev.slope_low);
        env_real(&b, "LEAKWATCH_SLOPE_HIGH", a->row.ev.slope_high);
        env_real(&b, "LEAKWATCH_GROWTH", a->row.ev.growth);
        env_real(&b, "LEAKWATCH_LEVEL", a->row.ev.level);
        env_real(&b, "LEAKWATCH_FORECAST_S", a->row.ev.forecast);
        env_real(&b, "LEAKWATCH_SCALE_S", a->row.ev.scale);
        if (a->row.limit_kind)
                env_add(&b, "LEAKWATCH_LIMIT", "%s", a->row.limit_kind);
        if (a->row.kind)
                env_add(&b, "LEAKWATCH_KIND", "%s", a->row.kind);
        if (a->row.latest.cause)
                env_add(&b, "LEAKWATCH_CAUSE", "%s", a->row.latest.cause);
        if (b.overflow)
                return -E2BIG;
        envp[b.n] = NULL;
        return 0;
}
