/* restart: a leaking service restarted over D-Bus when its rule allows it, each decision recorded. */
#include "restart.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-bus.h>

#include "escalate.h"
#include "proc.h"
#include "util.h"

/* What was recorded for one alert. */
struct seen {
        int64_t alert_id;
        int reason;                     /* the last refusal recorded, -1 none */
        bool acted;                     /* requested or dry run: never again for this alert */
};

struct restarter {
        struct restarter_env env;
        char self_unit[PROC_UNIT_MAX + 1];
        struct restart_book *book;
        sd_bus *bus;
        int64_t next_id;
        struct seen *seen;
        size_t n_seen;
        unsigned pending;
};

/* A request waiting for systemd's answer: the record to complete. */
struct request {
        struct restarter *x;
        struct store_restart row;
        char unit[PROC_UNIT_MAX + 1];
        char limit_kind[32];
        usec_t sent;                    /* CLOCK_MONOTONIC */
};

static int load_book(const char *unit, int64_t t_ms, void *userdata)
{
        return restart_book_add(userdata, unit, t_ms);
}

int restarter_new(const struct restarter_env *env, const char *self_unit, int64_t now_ms, struct restarter **ret)
{
        struct restarter *x = calloc(1, sizeof(*x));
        int r;

        if (!x)
                return -ENOMEM;
        x->env = *env;
        snprintf(x->self_unit, sizeof(x->self_unit), "%s", self_unit ? self_unit : "");
        r = restart_book_new(&x->book);
        if (r >= 0)
                r = store_max_restart_id(env->store, &x->next_id);
        /* restart-max counts the last day, across restarts of the daemon too. */
        if (r >= 0)
                r = store_for_each_restart_since(env->store, now_ms - RESTART_PERIOD_MS, load_book, x->book);
        if (r < 0) {
                restarter_free(x);
                return r;
        }
        x->next_id++;
        *ret = x;
        return 0;
}

void restarter_free(struct restarter *x)
{
        if (!x)
                return;
        /* Frees the requests still waiting (their slots' destroy callbacks). */
        sd_bus_flush_close_unref(x->bus);
        restart_book_free(x->book);
        free(x->seen);
        free(x);
}

unsigned restarter_pending(const struct restarter *x)
{
        return x->pending;
}

static struct seen *seen_of(struct restarter *x, int64_t alert_id, bool add)
{
        for (size_t i = 0; i < x->n_seen; i++)
                if (x->seen[i].alert_id == alert_id)
                        return &x->seen[i];
        if (!add)
                return NULL;
        if (x->n_seen == RESTART_ALERTS_MAX) {
                /* The oldest goes: at worst its refusal is recorded once more. */
                memmove(x->seen, x->seen + 1, (x->n_seen - 1) * sizeof(*x->seen));
                x->n_seen--;
        } else {
                struct seen *n = realloc(x->seen, (x->n_seen + 1) * sizeof(*n));

                if (!n)
                        return NULL;
                x->seen = n;
        }
        x->seen[x->n_seen] = (struct seen){ .alert_id = alert_id, .reason = -1 };
        return &x->seen[x->n_seen++];
}

static void forget(struct restarter *x, int64_t alert_id)
{
        struct seen *s = seen_of(x, alert_id, false);

        if (s)
                *s = x->seen[--x->n_seen];
}

/* ---- the D-Bus call ---- */

static void request_free(void *userdata)
{
        struct request *q = userdata;

        q->x->pending--;
        free(q);
}

/* systemd's answer: the request's record completed, stamped with the decision's clock
 * advanced by the time the answer took. */
static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error UNUSED)
{
        struct request *q = userdata;
        char detail[RESTART_DETAIL_MAX * 4 + 1], name[RESTART_DETAIL_MAX * 4 + 1];
        const char *job = NULL;
        int level = LOG_NOTICE;

        q->row.end_ms = q->row.t_ms + (int64_t)((now_usec(CLOCK_MONOTONIC) - q->sent) / 1000);
        if (sd_bus_message_is_method_error(m, NULL)) {
                const sd_bus_error *e = sd_bus_message_get_error(m);

                /* Whoever answered wrote these: escaped and bounded before they reach a
                 * log line or the database. */
                if (e && e->name)
                        str_escape(e->name, strnlen(e->name, RESTART_DETAIL_MAX), name, sizeof(name));
                else
                        snprintf(name, sizeof(name), "unknown");
                if (e && e->message)
                        str_escape(e->message, strnlen(e->message, RESTART_DETAIL_MAX), detail, sizeof(detail));
                else
                        detail[0] = '\0';
                q->row.decision = "failed";
                q->row.reason = name;
                q->row.detail = detail;
                level = LOG_WARNING;
        } else if (sd_bus_message_read(m, "o", &job) < 0 || !job) {
                q->row.decision = "failed";
                q->row.reason = "bad-reply";
                q->row.detail = "systemd's answer holds no job";
                level = LOG_WARNING;
        } else {
                str_escape(job, strnlen(job, RESTART_DETAIL_MAX), detail, sizeof(detail));
                q->row.decision = "restarted";
                q->row.detail = detail;
        }
        q->x->env.record(q->x->env.userdata, &q->row, level);
        return 0;
}

/* The system bus, opened (again) if need be. */
static int bus_get(struct restarter *x, sd_bus **ret)
{
        int r;

        if (x->bus && !sd_bus_is_open(x->bus))
                x->bus = sd_bus_flush_close_unref(x->bus);
        if (!x->bus) {
                r = sd_bus_open_system(&x->bus);
                if (r >= 0)
                        r = sd_bus_attach_event(x->bus, x->env.event, SD_EVENT_PRIORITY_NORMAL);
                if (r < 0) {
                        x->bus = sd_bus_flush_close_unref(x->bus);
                        return r;
                }
                (void)sd_bus_set_description(x->bus, "leakwatchd-restart");
        }
        *ret = x->bus;
        return 0;
}

/* Sends RestartUnit for q, which the bus then owns; on failure q is the caller's. */
static int send_request(struct restarter *x, struct request *q)
{
        sd_bus_slot *slot = NULL;
        sd_bus *bus;
        int r;

        r = bus_get(x, &bus);
        if (r < 0)
                return r;
        r = sd_bus_call_method_async(bus, &slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", "RestartUnit", on_reply, q, "ss",
                                     q->unit, "replace");
        if (r < 0)
                return r;
        /* From here the slot owns q: freed after the answer, or when the bus goes. */
        x->pending++;
        (void)sd_bus_slot_set_destroy_callback(slot, request_free);
        (void)sd_bus_slot_set_floating(slot, 1);
        sd_bus_slot_unref(slot);
        return 0;
}

/* ---- decisions ---- */

void restarter_alert(struct restarter *x, const struct rule_cfg *r, const struct alert *a, int64_t now_ms)
{
        char unit[PROC_UNIT_MAX + 1] = "", wait[64], why[160];
        struct restart_input in;
        struct forecast fc;
        double seconds;
        int limit;
        enum restart_decision dec;
        enum restart_reason reason;
        struct store_restart row;
        struct request *q;
        int64_t wait_ms;
        struct seen *s;
        int e;

        if (a->event == ALERT_EVENT_END || a->event == ALERT_EVENT_EXPIRE) {
                forget(x, a->row.id);
                return;
        }
        /* Only rules that opt in are recorded at all: every other alert would otherwise
         * carry a refusal nobody asked for. */
        if (!r || r->escalate != ESCALATE_RESTART)
                return;
        s = seen_of(x, a->row.id, true);
        if (!s || s->acted)
                return;
        if (a->cgroup)
                (void)proc_cgroup_system_unit(a->cgroup, unit, sizeof(unit));
        /* The time to each limit as the alert's latest evaluation read them (t_ms 0: it
         * has none, and its rooms are not readings). */
        if (a->row.latest.t_ms)
                alert_forecast(a, &fc);
        in = (struct restart_input){ .pid = a->pid, .unit = unit, .self_unit = x->self_unit, .ev = &a->row.ev,
                                     .fc = a->row.latest.t_ms ? &fc : NULL };
        dec = restart_decide(r, &in, x->book, now_ms, &reason, &wait_ms);
        /* Recorded as judged: the time to the limit the decision weighed, and its name. */
        seconds = escalate_forecast(in.fc, &a->row.ev, &limit);
        if (dec == RESTART_REFUSED && s->reason == (int)reason)
                return;
        row = (struct store_restart){
                .id = x->next_id++, .alert_id = a->row.id, .process_id = a->row.process_id, .t_ms = now_ms,
                .unit = unit[0] ? unit : NULL, .reason = restart_reason_name[reason],
                .forecast = seconds, .level = a->row.ev.level, .slope = a->row.ev.slope,
                .limit_kind = limit >= 0 ? limit_name[limit] : a->row.limit_kind,
        };
        if (dec == RESTART_REFUSED) {
                s->reason = (int)reason;
                row.decision = "refused";
                if (reason == RESTART_BACKOFF) {
                        snprintf(why, sizeof(why), "may restart again in %s",
                                 format_duration((double)wait_ms / 1000, wait, sizeof(wait)));
                        row.detail = why;
                }
                x->env.record(x->env.userdata, &row, LOG_INFO);
                return;
        }
        s->acted = true;
        (void)restart_book_add(x->book, unit, now_ms);
        if (dec == RESTART_DRY_RUN) {
                row.decision = "dry-run";
                row.detail = "restart-dry-run = yes: systemd was not asked";
                x->env.record(x->env.userdata, &row, LOG_NOTICE);
                return;
        }
        q = calloc(1, sizeof(*q));
        if (!q) {
                row.decision = "failed";
                row.reason = "internal";
                row.detail = strerror(ENOMEM);
                x->env.record(x->env.userdata, &row, LOG_WARNING);
                return;
        }
        q->x = x;
        q->sent = now_usec(CLOCK_MONOTONIC);
        snprintf(q->unit, sizeof(q->unit), "%s", unit);
        snprintf(q->limit_kind, sizeof(q->limit_kind), "%s", row.limit_kind ? row.limit_kind : "");
        q->row = row;
        q->row.unit = q->unit;
        q->row.limit_kind = q->limit_kind[0] ? q->limit_kind : NULL;
        e = send_request(x, q);
        if (e < 0) {
                snprintf(why, sizeof(why), "cannot ask systemd on the system bus: %s", strerror(-e));
                row.decision = "failed";
                row.reason = "bus";
                row.detail = why;
                row.end_ms = now_ms;
                free(q);
                x->env.record(x->env.userdata, &row, LOG_WARNING);
                return;
        }
        row.decision = "requested";
        x->env.record(x->env.userdata, &row, LOG_INFO);
}
