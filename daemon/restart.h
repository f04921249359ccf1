/* restart: the escalation that restarts a leaking process's systemd service — for each
 * alert event of a rule with escalate = restart it takes the decision (core/escalate.h)
 * once per alert and reason, and asks systemd over D-Bus to restart the unit with
 * org.freedesktop.systemd1.Manager.RestartUnit(unit, "replace").
 *
 * The call is asynchronous on the daemon's event loop (sd-bus attached to sd-event): a
 * slow or absent systemd never delays sampling. The system bus is opened at the first
 * request (DBUS_SYSTEM_BUS_ADDRESS points elsewhere, as the tests do) and again after it
 * was lost. Each decision becomes a record handed to the caller — when it is taken, and
 * for a request again when systemd answers — and an alert is acted on at most once: a
 * request that fails is recorded and logged, never retried (it counts against
 * restart-max like one that succeeded). */
#ifndef LEAKWATCH_RESTART_H
#define LEAKWATCH_RESTART_H

#include <stdint.h>
#include <systemd/sd-event.h>

#include "alert.h"
#include "settings.h"
#include "store.h"

/* Alerts whose decision is remembered (to record each once); beyond this the oldest is
 * forgotten and may be recorded again. An open alert per watched process at most. */
#define RESTART_ALERTS_MAX 4096
/* Bytes of systemd's error name or message kept: it comes from another process. */
#define RESTART_DETAIL_MAX 256

struct restarter;

struct restarter_env {
        sd_event *event;
        struct store *store;            /* read at start: the last day's restarts, the ids */
        /* A decision, to record and log; called again for a request when systemd answers
         * (same id). level: the syslog priority it deserves. */
        void (*record)(void *userdata, const struct store_restart *row, int level);
        void *userdata;
};

/* self_unit: leakwatchd's own system unit ("" if it runs in none); now_ms: the wall
 * clock, to count the last day's restarts from. Returns 0 or -errno (the store could
 * not be read). */
int restarter_new(const struct restarter_env *env, const char *self_unit, int64_t now_ms, struct restarter **ret);
/* Closes the bus; requests still waiting for systemd's answer stay recorded as
 * requested. Accepts NULL. */
void restarter_free(struct restarter *x);

/* An alert event of rule r (start, escalate, update: the forecast may come within the
 * horizon at any evaluation; end forgets the alert). now_ms stamps the decision. */
void restarter_alert(struct restarter *x, const struct rule_cfg *r, const struct alert *a, int64_t now_ms);

/* Requests sent and not yet answered. */
unsigned restarter_pending(const struct restarter *x);

#endif
