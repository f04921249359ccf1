/* SPDX-License-Identifier: GPL-2.0-or-later */
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
#include "forecast.h"
#include "store.h"

enum alert_action {
        ALERT_NONE,
        ALERT_OPEN,             /* a leak begins: hooks get "start" */
        ALERT_ESCALATE,         /* it gets worse (close to a limit): "escalate" */
        ALERT_UPDATE,           /* still open: refresh the stored numbers, no hook */
        ALERT_CLOSE,            /* it recovered: "end" */
};

/* What happens to an alert. The first three are told (the journal, the hooks); the
 * others only change its row. */
enum alert_event {
        ALERT_EVENT_START,              /* a leak begins */
        ALERT_EVENT_ESCALATE,           /* it gets worse: a limit comes close */
        ALERT_EVENT_END,                /* it recovered, or its process ended */
        ALERT_EVENT_UPDATE,             /* still open: fresh numbers (and kind) */
        ALERT_EVENT_EXPIRE,             /* open when the watch last stopped, and its process never
                                         * came back: closed, its numbers kept */
        ALERT__EVENT_MAX
};
/* "start", "escalate", "end", "update", "expire": the first three are the hooks' events. */
extern const char *const alert_event_name[ALERT__EVENT_MAX];
/* Whether an event is told to people (journal, hooks), or only recorded. */
static inline bool alert_event_told(enum alert_event e)
{
        return e == ALERT_EVENT_START || e == ALERT_EVENT_ESCALATE || e == ALERT_EVENT_END;
}

/* What to do with verdict v, given whether an alert is open for that process and
 * metric and whether it was already escalated. */
enum alert_action alert_decide(bool open, bool escalated, const struct detect_verdict *v);

/* An alert event: everything an alert says. The row is the alert as the database keeps
 * it — its id, process and rule, metric, state, times, the verdict's evidence, the limit
 * in sight and the kind of leak — and the rest names the process for the journal and the
 * hooks. Text fields from the process (name, cmdline, unit, cgroup) are untrusted bytes;
 * the builders below escape them for their destination. */
struct alert {
        enum alert_event event;
        int64_t t_ms;                   /* when this happened */
        enum detect_kind metric;        /* row.metric is its name */
        struct store_alert row;
        /* the kind's class (lib/classify.h), recorded when kind_changed */
        bool kind_changed;
        const char *kind_class, *kind_agents;
        /* the kind names an allocation site for the first time (the agents' sites came
         * after the alert started: an evidence bundle is taken again to hold them) */
        bool first_sites;
        /* the process */
        pid_t pid;
        uid_t uid;
        int64_t start_ms;
        const char *name, *cmdline, *unit, *cgroup, *rule, *boot_id;
};

/* The time to each known limit at the alert's latest evaluation (row.latest). */
void alert_forecast(const struct alert *a, struct forecast *ret);

/* The one-line summary for the log, e.g. "pid 4242 (python3), rule web: memory leak,
 * floor rising 2.0 MiB/min (at least 1.5 MiB/min), +48 MiB over 2h, now 1.2 GiB; limits:
 * memory.max in 3h12m, host in 2d", or for growth that will reach a limit within
 * limit-horizon "pid 4242 (python3), rule web: memory will reach memory.max in 12 min,
 * floor rising ...". */
void alert_summary(const struct alert *a, char *buf, size_t sz);

/* The hook's JSON document (json-c), NUL-terminated, caller frees. Returns 0 or
 * -ENOMEM. Invalid UTF-8 in process text is replaced by U+FFFD so the document is
 * always valid JSON. */
int alert_json(const struct alert *a, char **ret);

/* The hook's environment: LEAKWATCH_* variables plus a fixed PATH and LANG, in envp
 * (a NULL-terminated array of at most ALERT_ENV_MAX entries) with strings in buf.
 * Process text is passed with control characters escaped (a value must not smuggle a
 * newline into a log line or a shell's `read`). Returns 0 or -E2BIG if buf is small. */
#define ALERT_ENV_MAX 40
int alert_env(const struct alert *a, char **envp, char *buf, size_t bufsz);

#endif
