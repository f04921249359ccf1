/* alert: when a detector verdict becomes an alert, and what an alert tells the world —
 * the journal message, the hook's environment and its JSON document. Pure: no I/O. */
#include "alert.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

const char *const alert_metric_name[ALERT__METRIC_MAX] = { "memory", "fds" };
const char *const alert_event_name[ALERT__EVENT_MAX] = { "start", "escalate", "end" };

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
static void format_rate(enum alert_metric m, double per_s, char *buf, size_t sz)
{
        char v[32];
        double per_min = per_s * 60;

        if (m == ALERT_FDS) {
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

static void format_amount(enum alert_metric m, double units, char *buf, size_t sz)
{
        if (m == ALERT_FDS)
                snprintf(buf, sz, "%.0f fds", units);
        else
                format_size(units > 0 ? (uint64_t)units : 0, buf, sz);
}

void alert_summary(const struct alert_context *c, char *buf, size_t sz)
{
        char name[64], rate[48], low[48], growth[32], span[32], fc[32], level[32];
        size_t o;

        str_escape(c->name ? c->name : "", c->name ? strlen(c->name) : 0, name, sizeof(name));
        o = (size_t)snprintf(buf, sz, "pid %d (%s), rule %s: ", (int)c->pid, name, c->rule ? c->rule : "?");
        if (o >= sz)
                return;
        if (c->event == ALERT_EVENT_END) {
                snprintf(buf + o, sz - o, "%s leak alert ended: %s", alert_metric_name[c->metric],
                         c->end_reason ? c->end_reason : c->state);
                return;
        }
        format_rate(c->metric, c->slope, rate, sizeof(rate));
        format_rate(c->metric, c->slope_low, low, sizeof(low));
        format_amount(c->metric, c->growth, growth, sizeof(growth));
        format_amount(c->metric, c->level, level, sizeof(level));
        format_duration((double)(c->evidence_to_ms - c->evidence_from_ms) / 1000, span, sizeof(span));
        o += (size_t)snprintf(buf + o, sz - o, "%s%s leak, %s rising %s (at least %s), +%s over %s, now %s",
                              c->event == ALERT_EVENT_ESCALATE ? "worsening " : "",
                              alert_metric_name[c->metric], c->metric == ALERT_FDS ? "descriptors" : "floor",
                              rate, low, growth, span, level);
        if (o < sz && isfinite(c->forecast_s))
                snprintf(buf + o, sz - o, "; %s limit in %s", c->limit_kind ? c->limit_kind : "a",
                         format_duration(c->forecast_s, fc, sizeof(fc)));
}

/* ---- JSON ---- */

/* Process text as a JSON string: invalid UTF-8 bytes become U+FFFD (json-c would emit
 * them raw, making the document invalid). */
static struct json_object *json_text(const char *s)
{
        struct json_object *o;
        size_t len, cap, k = 0;
        char *clean;

        if (!s)
                return NULL;
        len = strlen(s);
        if (utf8_valid(s, len))
                return json_object_new_string_len(s, (int)len);
        cap = len * 3 + 1;
        clean = malloc(cap);
        if (!clean)
                return NULL;
        for (size_t i = 0; i < len;) {
                size_t n = utf8_decode((const unsigned char *)s + i, len - i, NULL);

                if (n > 0) {
                        memcpy(clean + k, s + i, n);
                        k += n;
                        i += n;
                } else {
                        memcpy(clean + k, "\xef\xbf\xbd", 3);
                        k += 3;
                        i++;
                }
        }
        o = json_object_new_string_len(clean, (int)k);
        free(clean);
        return o;
}

static struct json_object *json_real(double v)
{
        return isfinite(v) ? json_object_new_double(v) : NULL;
}

static struct json_object *json_time(int64_t ms)
{
        char buf[40];
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (ms <= 0 || !gmtime_r(&t, &tm))
                return NULL;
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return json_object_new_string(buf);
}

int alert_json(const struct alert_context *c, char **ret)
{
        struct json_object *o = json_object_new_object();
        struct {
                const char *key;
                struct json_object *val;
        } f[] = {
                { "event", json_object_new_string(alert_event_name[c->event]) },
                { "alert_id", json_object_new_int64(c->alert_id) },
                { "time", json_time(c->t_ms) },
                { "time_ms", json_object_new_int64(c->t_ms) },
                { "metric", json_object_new_string(alert_metric_name[c->metric]) },
                { "state", json_text(c->state) },
                { "end_reason", json_text(c->end_reason) },
                { "pid", json_object_new_int(c->pid) },
                { "uid", c->uid == (uid_t)-1 ? NULL : json_object_new_int64(c->uid) },
                { "name", json_text(c->name) },
                { "cmdline", json_text(c->cmdline) },
                { "unit", c->unit && c->unit[0] ? json_text(c->unit) : NULL },
                { "cgroup", c->cgroup && c->cgroup[0] ? json_text(c->cgroup) : NULL },
                { "rule", json_text(c->rule) },
                { "boot_id", json_text(c->boot_id) },
                { "process_id", json_object_new_int64(c->process_id) },
                { "process_start", json_time(c->start_ms) },
                { "alert_start", json_time(c->alert_start_ms) },
                { "slope", json_real(c->slope) },
                { "slope_low", json_real(c->slope_low) },
                { "slope_high", json_real(c->slope_high) },
                { "growth", json_real(c->growth) },
                { "growth_rel", json_real(c->growth_rel) },
                { "level", json_real(c->level) },
                { "p_value", json_real(c->p_value) },
                { "forecast_s", json_real(c->forecast_s) },
                { "limit", json_text(c->limit_kind) },
                { "evidence_from", json_time(c->evidence_from_ms) },
                { "evidence_to", json_time(c->evidence_to_ms) },
                { "reason", json_text(c->reason) },
                { "kind", json_text(c->kind) },
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

int alert_env(const struct alert_context *c, char **envp, char *buf, size_t bufsz)
{
        struct env_builder b = { .envp = envp, .buf = buf, .size = bufsz };

        /* A fixed, minimal environment: nothing of the daemon's leaks into the hook. */
        env_add(&b, "PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env_add(&b, "LANG", "C.UTF-8");
        env_add(&b, "LEAKWATCH_EVENT", "%s", alert_event_name[c->event]);
        env_add(&b, "LEAKWATCH_ALERT_ID", "%" PRId64, c->alert_id);
        env_add(&b, "LEAKWATCH_TIME_MS", "%" PRId64, c->t_ms);
        env_add(&b, "LEAKWATCH_METRIC", "%s", alert_metric_name[c->metric]);
        env_add(&b, "LEAKWATCH_STATE", "%s", c->state ? c->state : "");
        if (c->end_reason)
                env_add(&b, "LEAKWATCH_END_REASON", "%s", c->end_reason);
        env_add(&b, "LEAKWATCH_PID", "%d", (int)c->pid);
        /* With the PID, what tells this process from a later one given the same PID. */
        if (c->start_ms > 0)
                env_add(&b, "LEAKWATCH_START_MS", "%" PRId64, c->start_ms);
        if (c->uid != (uid_t)-1)
                env_add(&b, "LEAKWATCH_UID", "%u", (unsigned)c->uid);
        env_add(&b, "LEAKWATCH_NAME", "%s", c->name ? c->name : "");
        env_add(&b, "LEAKWATCH_CMDLINE", "%s", c->cmdline ? c->cmdline : "");
        if (c->unit && c->unit[0])
                env_add(&b, "LEAKWATCH_UNIT", "%s", c->unit);
        if (c->cgroup && c->cgroup[0])
                env_add(&b, "LEAKWATCH_CGROUP", "%s", c->cgroup);
        env_add(&b, "LEAKWATCH_RULE", "%s", c->rule ? c->rule : "");
        env_add(&b, "LEAKWATCH_PROCESS_ID", "%" PRId64, c->process_id);
        if (c->boot_id)
                env_add(&b, "LEAKWATCH_BOOT_ID", "%s", c->boot_id);
        env_real(&b, "LEAKWATCH_SLOPE", c->slope);
        env_real(&b, "LEAKWATCH_SLOPE_LOW", c->slope_low);
        env_real(&b, "LEAKWATCH_SLOPE_HIGH", c->slope_high);
        env_real(&b, "LEAKWATCH_GROWTH", c->growth);
        env_real(&b, "LEAKWATCH_LEVEL", c->level);
        env_real(&b, "LEAKWATCH_FORECAST_S", c->forecast_s);
        if (c->limit_kind)
                env_add(&b, "LEAKWATCH_LIMIT", "%s", c->limit_kind);
        if (c->kind)
                env_add(&b, "LEAKWATCH_KIND", "%s", c->kind);
        if (b.overflow)
                return -E2BIG;
        envp[b.n] = NULL;
        return 0;
}
