/* alert: when a detector verdict becomes an alert, and what an alert tells the world —
 * the journal message, the hook's environment and its JSON document. Pure: no I/O.
 *
 * The detector's own hysteresis (suspect before leaking, recovery after a quiet spell,
 * a cool-down before it may leak again) already keeps one leak to one LEAKING stretch;
 * this module maps that stretch to one alert: opened when it begins, escalated at most
 * once when a limit comes close, closed when it recovers or the process ends. */
#ifndef LEAKWATCH_ALERT_H
#define LEAKWATCH_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "detect.h"

enum alert_action {
        ALERT_NONE,
        ALERT_OPEN,             /* a leak begins: hooks get "start" */
        ALERT_ESCALATE,         /* it gets worse (close to a limit): "escalate" */
        ALERT_UPDATE,           /* still open: refresh the stored numbers, no hook */
        ALERT_CLOSE,            /* it recovered: "end" */
};

enum alert_event { ALERT_EVENT_START, ALERT_EVENT_ESCALATE, ALERT_EVENT_END, ALERT__EVENT_MAX };
extern const char *const alert_event_name[ALERT__EVENT_MAX];        /* "start", "escalate", "end" */

/* What to do with verdict v, given whether an alert is open for that process and
 * metric and whether it was already escalated. */
enum alert_action alert_decide(bool open, bool escalated, const struct detect_verdict *v);

/* Everything an alert says. Text fields from the process (name, cmdline, unit, cgroup)
 * are untrusted bytes; the builders below escape them for their destination. */
struct alert_context {
        enum alert_event event;
        int64_t alert_id;
        int64_t t_ms;                   /* when this happened */
        enum detect_kind metric;
        const char *state;              /* "leaking", "recovered", "ended" */
        const char *end_reason;         /* for "end", else NULL */
        /* the process */
        int64_t process_id;
        pid_t pid;
        uid_t uid;
        int64_t start_ms;
        const char *name, *cmdline, *unit, *cgroup, *rule, *boot_id;
        /* the evidence */
        double slope, slope_low, slope_high;    /* units per second */
        double growth, growth_rel, level, p_value;
        double forecast_s;              /* INFINITY: no limit in sight */
        const char *limit_kind;         /* "cgroup", "memory", "fd limit" or NULL */
        int64_t evidence_from_ms, evidence_to_ms;
        int64_t alert_start_ms;
        const char *reason;             /* the detector's phrase */
        const char *kind;               /* what kind of leak */
};

/* The one-line summary for the log, e.g. "pid 4242 (python3), rule web: memory leak,
 * floor rising 2.0 MiB/min (at least 1.5 MiB/min), +48 MiB over 2h; limit in 3h12m". */
void alert_summary(const struct alert_context *c, char *buf, size_t sz);

/* The hook's JSON document (json-c), NUL-terminated, caller frees. Returns 0 or
 * -ENOMEM. Invalid UTF-8 in process text is replaced by U+FFFD so the document is
 * always valid JSON. */
int alert_json(const struct alert_context *c, char **ret);

/* The hook's environment: LEAKWATCH_* variables plus a fixed PATH and LANG, in envp
 * (a NULL-terminated array of at most ALERT_ENV_MAX entries) with strings in buf.
 * Process text is passed with control characters escaped (a value must not smuggle a
 * newline into a log line or a shell's `read`). Returns 0 or -E2BIG if buf is small. */
#define ALERT_ENV_MAX 40
int alert_env(const struct alert_context *c, char **envp, char *buf, size_t bufsz);

#endif
