/* escalate: what a rule's escalation does beyond the alert, decided without I/O — whether
 * a leaking process's systemd service may be restarted now, and why not when it may not.
 *
 * A restart is the one action leakwatch takes on its own against a watched process, so
 * it is refused unless every condition holds: the rule opts in (escalate = restart); the
 * process belongs to a system service (its cgroup names the unit) that the rule names in
 * restart-units; that unit is not leakwatchd's own and the process is not PID 1; the
 * forecast says a limit will be hit within restart-horizon; and the unit has been
 * restarted fewer than restart-max times in the last day, the last one long enough ago
 * (each restart doubles the wait before the next). The daemon (daemon/restart.c) asks
 * systemd; this module keeps the book of what was asked, per unit, and decides. */
#ifndef LEAKWATCH_ESCALATE_H
#define LEAKWATCH_ESCALATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "detect.h"
#include "forecast.h"
#include "settings.h"

/* "warn", "evidence", "restart" (settings.h's enum escalate_mode). */
extern const char *const escalate_mode_name[ESCALATE__MAX];
/* The mode of that name, or -EINVAL. */
int escalate_mode_from_name(const char *name);

/* Restarts of one unit are counted over this long: restart-max is "per day". */
#define RESTART_PERIOD_MS (24 * 3600 * 1000LL)
/* After the first restart of a unit, the next may come only this long after it, and
 * each later one twice as long after the one before: a leak that a restart does not
 * cure must not turn into a service restarted in a loop. Ten minutes is longer than
 * any detection window's warm-up after a restart, so the restarted service has shown
 * whether it still leaks before it may be restarted again. */
#define RESTART_BACKOFF_MS (10 * 60 * 1000LL)

/* Whether a unit name is one restart-units may hold: a service of the system manager,
 * "NAME.service" in systemd's unit-name characters (letters, digits, ":-_.\\@"), at most
 * PROC_UNIT_MAX bytes. Templates and their instances ("getty@tty1.service") qualify. */
bool escalate_unit_valid(const char *unit);

/* The seconds until the limit a restart is judged against is reached, and which limit
 * (*ret_limit: enum limit_kind, -1 when f knows none): the nearest of every known limit
 * when the alert's latest evaluation read them (f, lib/forecast; NULL: not read), else
 * the seconds the verdict's evidence holds to the tightest limit headroom found.
 * INFINITY: not reached at this rate; NAN: no limit in sight. */
double escalate_forecast(const struct forecast *f, const struct detect_evidence *ev, int *ret_limit);

/* The forecast check a restart rests on: whether escalate_forecast() says a limit will be
 * reached within horizon seconds (INFINITY or NAN: never within). The one place that reads
 * the forecast for this decision. */
bool escalate_limit_within(const struct forecast *f, const struct detect_evidence *ev, double horizon);

/* What a restart decision concluded. */
enum restart_decision {
        RESTART_REQUEST,                /* ask systemd now */
        RESTART_DRY_RUN,                /* would have asked: restart-dry-run = yes */
        RESTART_REFUSED,                /* one of the conditions does not hold */
};

/* Why, for the record and the log: a short token each. */
enum restart_reason {
        RESTART_OK,                     /* requested or dry run */
        RESTART_NOT_OPTED_IN,           /* the rule's escalate is not restart */
        RESTART_NO_UNIT,                /* the process is in no system service */
        RESTART_NOT_NAMED,              /* the unit is not in restart-units */
        RESTART_OWN_UNIT,               /* leakwatchd's own unit */
        RESTART_PID1,                   /* the process is PID 1 */
        RESTART_TOO_FAR,                /* no limit within restart-horizon */
        RESTART_RATE_LIMIT,             /* restart-max reached in the last day */
        RESTART_BACKOFF,                /* too soon after the unit's last restart */
        RESTART__REASON_MAX
};
/* "ok", "not-opted-in", "no-unit", "not-named", "own-unit", "pid1", "too-far",
 * "rate-limit", "backoff". */
extern const char *const restart_reason_name[RESTART__REASON_MAX];

/* What the decision is about: the leaking process and where it stands. */
struct restart_input {
        pid_t pid;
        const char *unit;               /* its system unit (proc_cgroup_system_unit), "" none */
        const char *self_unit;          /* leakwatchd's own system unit, "" none */
        const struct detect_evidence *ev;
        const struct forecast *fc;      /* the time to each known limit (alert_forecast()); NULL: not read */
};

/* The restarts asked of systemd (and dry runs) per unit over the last RESTART_PERIOD_MS.
 * Opaque; owned by the caller. */
struct restart_book;

int restart_book_new(struct restart_book **ret);
void restart_book_free(struct restart_book *b);
/* Records that unit was asked to restart at t_ms (a dry run counts too: it is what
 * the rule would have done, and its rate is what restart-max should be tried with). */
int restart_book_add(struct restart_book *b, const char *unit, int64_t t_ms);
/* How many times unit was restarted in (now_ms - RESTART_PERIOD_MS, now_ms], and when
 * last (0 if never). */
unsigned restart_book_count(const struct restart_book *b, const char *unit, int64_t now_ms, int64_t *ret_last_ms);

/* Decides for rule r. On RESTART_REFUSED *ret_reason says why; *ret_wait_ms is, for
 * RESTART_BACKOFF, how long until the unit may be restarted again. Pure. */
enum restart_decision restart_decide(const struct rule_cfg *r, const struct restart_input *in,
                                     const struct restart_book *b, int64_t now_ms,
                                     enum restart_reason *ret_reason, int64_t *ret_wait_ms);

#endif
