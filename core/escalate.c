/* escalate: whether a leaking process's service may be restarted now, and why not. */
#include "escalate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "util.h"

const char *const escalate_mode_name[ESCALATE__MAX] = { "warn", "evidence", "restart" };

const char *const restart_reason_name[RESTART__REASON_MAX] = {
        "ok", "not-opted-in", "no-unit", "not-named", "own-unit", "pid1", "too-far", "rate-limit", "backoff",
};

int escalate_mode_from_name(const char *name)
{
        for (int i = 0; i < ESCALATE__MAX; i++)
                if (strcmp(name, escalate_mode_name[i]) == 0)
                        return i;
        return -EINVAL;
}

bool escalate_unit_valid(const char *unit)
{
        static const char suffix[] = ".service";
        size_t n = strlen(unit);

        if (n <= sizeof(suffix) - 1 || n > PROC_UNIT_MAX || strcmp(unit + n - (sizeof(suffix) - 1), suffix) != 0)
                return false;
        /* systemd's unit-name characters (unit_name_is_valid()); a leading '.' would be
         * a hidden name no unit file has. */
        if (unit[0] == '.' || unit[0] == '@')
                return false;
        for (const char *c = unit; *c; c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      strchr(":-_.\\@", *c)))
                        return false;
        return true;
}

double escalate_forecast(const struct forecast *f, const struct detect_evidence *ev, int *ret_limit)
{
        if (f && f->nearest >= 0) {
                *ret_limit = f->nearest;
                return f->seconds[f->nearest];
        }
        *ret_limit = -1;
        return ev->forecast;
}

bool escalate_limit_within(const struct forecast *f, const struct detect_evidence *ev, double horizon)
{
        int k;
        double s = escalate_forecast(f, ev, &k);

        return isfinite(s) && s >= 0 && s <= horizon;
}

/* ---- the book ---- */

struct restart_entry {
        char unit[PROC_UNIT_MAX + 1];
        int64_t t_ms;
};

struct restart_book {
        struct restart_entry *e;
        size_t n, cap;
};

int restart_book_new(struct restart_book **ret)
{
        *ret = calloc(1, sizeof(**ret));
        return *ret ? 0 : -ENOMEM;
}

void restart_book_free(struct restart_book *b)
{
        if (!b)
                return;
        free(b->e);
        free(b);
}

int restart_book_add(struct restart_book *b, const char *unit, int64_t t_ms)
{
        size_t keep = 0;

        if (strlen(unit) > PROC_UNIT_MAX)
                return -ENAMETOOLONG;
        /* Entries older than a period count for nothing: dropped here, so the book holds
         * at most restart-max entries per unit and rule. */
        for (size_t i = 0; i < b->n; i++)
                if (b->e[i].t_ms > t_ms - RESTART_PERIOD_MS)
                        b->e[keep++] = b->e[i];
        b->n = keep;
        if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 8;
                struct restart_entry *n = realloc(b->e, cap * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                b->e = n;
                b->cap = cap;
        }
        snprintf(b->e[b->n].unit, sizeof(b->e[0].unit), "%s", unit);
        b->e[b->n++].t_ms = t_ms;
        return 0;
}

unsigned restart_book_count(const struct restart_book *b, const char *unit, int64_t now_ms, int64_t *ret_last_ms)
{
        unsigned n = 0;
        int64_t last = 0;

        for (size_t i = 0; i < b->n; i++)
                if (strcmp(b->e[i].unit, unit) == 0 && b->e[i].t_ms > now_ms - RESTART_PERIOD_MS &&
                    b->e[i].t_ms <= now_ms) {
                        n++;
                        last = MAX(last, b->e[i].t_ms);
                }
        if (ret_last_ms)
                *ret_last_ms = last;
        return n;
}

/* ---- the decision ---- */

static bool rule_names(const struct rule_cfg *r, const char *unit)
{
        for (size_t i = 0; i < r->n_restart_units; i++)
                if (strcmp(r->restart_units[i], unit) == 0)
                        return true;
        return false;
}

enum restart_decision restart_decide(const struct rule_cfg *r, const struct restart_input *in,
                                     const struct restart_book *b, int64_t now_ms,
                                     enum restart_reason *ret_reason, int64_t *ret_wait_ms)
{
        enum restart_reason why = RESTART_OK;
        int64_t last, wait = 0;
        unsigned n;

        if (r->escalate != ESCALATE_RESTART)
                why = RESTART_NOT_OPTED_IN;
        else if (in->pid == 1)
                why = RESTART_PID1;
        else if (!in->unit || !in->unit[0])
                why = RESTART_NO_UNIT;
        else if (in->self_unit && in->self_unit[0] && strcmp(in->unit, in->self_unit) == 0)
                why = RESTART_OWN_UNIT;
        else if (!rule_names(r, in->unit))
                why = RESTART_NOT_NAMED;
        else if (!escalate_limit_within(in->fc, in->ev, r->restart_horizon))
                why = RESTART_TOO_FAR;
        else {
                n = restart_book_count(b, in->unit, now_ms, &last);
                if (n >= r->restart_max) {
                        why = RESTART_RATE_LIMIT;
                } else if (n > 0) {
                        /* The n-th restart of the period waits 2^(n-1) backoffs after the
                         * one before it; n is at most restart-max (<= 100), the shift is
                         * capped well below overflow. */
                        int64_t gap = RESTART_BACKOFF_MS << MIN(n - 1, 20u);

                        if (now_ms - last < gap) {
                                why = RESTART_BACKOFF;
                                wait = gap - (now_ms - last);
                        }
                }
        }
        *ret_reason = why;
        if (ret_wait_ms)
                *ret_wait_ms = wait;
        if (why != RESTART_OK)
                return RESTART_REFUSED;
        return r->restart_dry_run ? RESTART_DRY_RUN : RESTART_REQUEST;
}
