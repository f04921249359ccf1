/* SPDX-License-Identifier: GPL-2.0-or-later */
/* scales: one detector per time scale over the same samples, and the one alarm they
 * raise together. docs/detector.md ("Time scales") tells the design. */
#include "scales.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define MINUTE 60.0
/* The start-up check runs every this many minutes per process (check_startup). */
#define STARTUP_EVERY 4

/* The scales, shortest first. Each is placed by its target (the rate it must catch and
 * how soon, at 10 s samples): the detector needs about 1.2 windows from a leak's onset
 * (a window of floors, plus a quarter of confirmation), so each window is the target
 * time / 1.2, rounded down. Its minimum growth, tested at Sen's lower bound, sits at
 * about half the target rate: a leak at the target rate clears it with room for the
 * bound's spread, and the healthy growth of the other list (docs/detector.md, "Why the
 * two lists agree") stays under it for longer than the window plus the confirmation.
 *
 *   12 min  100 %/h within 15 min   bar 10 % a window   (50 %/h)
 *   45 min   10 %/h within  1 h     bar  4 % a window   (5.3 %/h)
 *   16 h      1 %/h within  1 day   bar  8 % a window   (0.5 %/h)
 *   54 h    0.2 %/h within  3 days  bar 5.4 % a window  (0.1 %/h)
 *
 * The longer three are fed minute floors: a point a minute instead of six keeps the
 * floors the same (a bucket is 112 s and longer, every one of its minima is a minimum
 * of minute minima) and lets a restart rebuild them from the minute rollups, which are
 * kept 14 days while raw samples are kept 2. The 12-minute scale needs every sample: a
 * 30 s bucket would hold half a minute point. */
const struct scales_def scales_defaults[SCALES_MAX] = {
        { .window = 12 * MINUTE, .min_growth_rel = 0.10, .target_rate = 1.00, .target_time = 15 * MINUTE },
        { .window = 45 * MINUTE, .min_growth_rel = 0.04, .target_rate = 0.10, .target_time = 60 * MINUTE,
          .minute = true },
        { .window = 16 * 3600.0, .min_growth_rel = 0.08, .target_rate = 0.01, .target_time = 86400.0,
          .minute = true },
        { .window = 54 * 3600.0, .min_growth_rel = 0.054, .target_rate = 0.002, .target_time = 3 * 86400.0,
          .minute = true },
};

static void scale_params(struct detect_params *p, double *ret_startup, enum detect_kind kind,
                         const struct scales_def *def)
{
        double sp_startup = 0;

        detect_params_init(p, kind, def->window);
        if (kind == DETECT_MEMORY)
                p->min_growth_rel = def->min_growth_rel;
        /* The random-walk check guards a bar that a walk can reach; the fast scale's
         * bar (50 %/h) is out of any healthy walk's reach in 12 min, while its floors,
         * three samples a bucket, are noisy under a collector cycling every few samples:
         * a looser check there. For the same reason it may confirm a rise that already
         * held for a window and a quarter when its window first passes (detect.c,
         * confirm_back): an accelerating leak, whose window's early quarters rise too
         * little until about a window after its onset, is told then, not W/4 later. At
         * the 45-minute scale a healthy wander rises past the bar for that long (2 false
         * alarms in 1,000 healthy days, docs/detector.md). */
        if (!def->minute) {
                p->rw_z = 2.0;
                p->confirm_back = true;
        }
        /* The longer scales do not judge a process in its first two hours: a start-up
         * that fills pools and caches at 10-30 %/h for an hour or two (a slow warm-up,
         * time constant 1-6 h) is healthy, and the 12-minute scale watches those hours
         * for the fast leaks. Unless the start-up is seen over: a process whose floor
         * stayed flat for 12 minutes is not warming up any more (a warm-up fast enough
         * to reach the 45-minute scale's bar, 5.3 %/h, rises 1 % in 12 minutes, far
         * beyond the noise of minute floors), and from then on the 45-minute scale
         * takes its floors after its own warm-up of W/4. Measured (docs/detector.md):
         * the 45-minute scale at W/4 without this wait alarms on 10 of the 120 healthy
         * days (slow warm-ups, fragmentation creep); with it, on none. */
        if (def->minute && p->warmup < 2 * 3600)
                sp_startup = 2 * 3600;
        *ret_startup = sp_startup;
}

void scales_params_default(struct scales_params *sp, enum detect_kind kind, double interval, unsigned min_samples)
{
        memset(sp, 0, sizeof(*sp));
        sp->kind = kind;
        for (unsigned i = 0; i < SCALES_MAX; i++) {
                const struct scales_def *def = &scales_defaults[i];

                /* A scale too short for the sampling interval would never be judged. */
                if (interval > 0 && min_samples > 0 && def->window < interval * min_samples && i + 1 < SCALES_MAX)
                        continue;
                scale_params(&sp->p[sp->n], &sp->startup[sp->n], kind, def);
                sp->minute[sp->n] = def->minute;
                sp->n++;
        }
}

void scales_params_pinned(struct scales_params *sp, enum detect_kind kind, double window)
{
        memset(sp, 0, sizeof(*sp));
        sp->kind = kind;
        sp->n = 1;
        detect_params_init(&sp->p[0], kind, window);
}

void scales_params_from(struct scales_params *sp, enum detect_kind kind, double window, double interval,
                        unsigned min_samples)
{
        scales_params_pinned(sp, kind, window);
        for (unsigned i = 0; i < SCALES_MAX && sp->n < SCALES_MAX; i++) {
                const struct scales_def *def = &scales_defaults[i];

                /* A scale close to the window adds nothing it does not judge already. */
                if (!(def->window > 2 * window))
                        continue;
                if (interval > 0 && min_samples > 0 && def->window < interval * min_samples)
                        continue;
                /* Minute floors need buckets of a minute or more. */
                scale_params(&sp->p[sp->n], &sp->startup[sp->n], kind, def);
                sp->minute[sp->n] = def->minute && sp->p[sp->n].bucket >= MINUTE;
                if (!sp->minute[sp->n])
                        sp->startup[sp->n] = 0;
                sp->n++;
        }
}

double scales_longest(const struct scales_params *sp)
{
        return sp->n ? sp->p[sp->n - 1].window : 0;
}

int scales_params_check(const struct scales_params *sp)
{
        if (sp->n < 1 || sp->n > SCALES_MAX)
                return -EINVAL;
        for (unsigned i = 0; i < sp->n; i++) {
                if (detect_params_check(&sp->p[i]) < 0 || sp->p[i].kind != sp->kind)
                        return -EINVAL;
                /* A minute point must fall into a bucket of its own or share it. */
                if (sp->minute[i] && sp->p[i].bucket < MINUTE)
                        return -EINVAL;
                if (i > 0 && !(sp->p[i].window > sp->p[i - 1].window))
                        return -EINVAL;
                /* Only minute points wait for the start-up: the check runs on them. */
                if (!(sp->startup[i] >= 0 && isfinite(sp->startup[i])) || (sp->startup[i] > 0 && !sp->minute[i]))
                        return -EINVAL;
        }
        return 0;
}

double scales_phase(int64_t id)
{
        return (double)(((uint64_t)id * UINT64_C(2654435761)) % 60000) / 1000;
}

void scales_init(struct scales *s, const struct scales_params *sp, double t_start, double phase)
{
        memset(s, 0, sizeof(*s));
        for (unsigned i = 0; i < SCALES_MAX; i++)
                detect_init(&s->d[i], t_start);
        (void)sp;
        s->minute_t = NAN;
        for (unsigned k = 0; k < SCALES_PARTS; k++)
                s->minute_min[k] = INFINITY;
        s->phase = isfinite(phase) && phase >= 0 && phase < MINUTE ? phase : 0;
        for (unsigned i = 0; i < SCALES_MAX; i++)
                s->due_at[i] = NAN;
        s->queued_t = NAN;
        s->carrier = -1;
        s->status = DETECT_OK;
        s->t_start = t_start;
        s->startup_over = NAN;
}

static uint32_t minute_mask(const struct scales_params *sp)
{
        uint32_t m = 0;

        for (unsigned i = 0; i < sp->n; i++)
                if (sp->minute[i])
                        m |= 1u << i;
        return m;
}

/* Whether a minute scale waits for the start-up still. */
static bool waits(const struct scales *s, const struct scales_params *sp, unsigned i, double minute_t)
{
        return sp->startup[i] > 0 && minute_t - s->t_start < sp->startup[i] && isnan(s->startup_over);
}

/* The start-up check on the latest minute floors: over when they do not rise, even
 * weakly. Only while a scale waits for it. */
static void check_startup(struct scales *s, const struct scales_params *sp, double minute_t, double v)
{
        double x[SCALES_STARTUP_POINTS], y[SCALES_STARTUP_POINTS];
        struct detect_slope st;
        bool waiting = false;
        unsigned n;

        for (unsigned i = 0; i < sp->n; i++)
                waiting |= waits(s, sp, i, minute_t);
        if (!waiting)
                return;
        memmove(s->startup_t, s->startup_t + 1, sizeof(s->startup_t) - sizeof(s->startup_t[0]));
        memmove(s->startup_v, s->startup_v + 1, sizeof(s->startup_v) - sizeof(s->startup_v[0]));
        s->startup_t[SCALES_STARTUP_POINTS - 1] = minute_t;
        s->startup_v[SCALES_STARTUP_POINTS - 1] = v;
        if (s->startup_n < SCALES_STARTUP_POINTS)
                s->startup_n++;
        n = s->startup_n;
        /* The check is a robust slope on 12 points; the minutes of every process close
         * in the same tick, so each process makes it every STARTUP_EVERY minutes, at a
         * minute its phase picks: a fleet started at once does not pay it all in one
         * tick (measured: the p99 tick of 10,000 young processes 81 ms checking every
         * minute, the bench's cost part). The start-up is seen over a few minutes later
         * at most. */
        if (((int64_t)floor(minute_t / MINUTE) + (int64_t)s->phase) % STARTUP_EVERY != 0)
                return;
        /* Twelve floors that span twelve minutes: a gap in the samples is not a flat. */
        if (n < SCALES_STARTUP_POINTS ||
            s->startup_t[SCALES_STARTUP_POINTS - 1] - s->startup_t[0] > (SCALES_STARTUP_POINTS - 1) * MINUTE)
                return;
        for (unsigned k = 0; k < n; k++) {
                x[k] = (s->startup_t[k] - s->startup_t[0]) / MINUTE;
                y[k] = s->startup_v[k];
        }
        /* alpha only places Sen's bound, unused here; blocks of 3 minutes. */
        detect_robust_slope(x, y, n, 0.10, 3, &st);
        if (!(st.p < 0.10 && st.slope > 0))
                s->startup_over = minute_t;
}

/* Feeds a finished minute's floor to the minute scales. Every evaluation they had
 * pending has been made. */
static void feed_minute(struct scales *s, const struct scales_params *sp, double minute_t, const double mins[])
{
        double v = 0;

        for (unsigned k = 0; k < SCALES_PARTS; k++)
                v += mins[k];
        check_startup(s, sp, minute_t, v);
        for (unsigned i = 0; i < sp->n; i++)
                if (sp->minute[i] && !waits(s, sp, i, minute_t) && detect_add(&s->d[i], &sp->p[i], minute_t, v)) {
                        s->due |= 1u << i;
                        s->due_at[i] = minute_t + MINUTE + s->phase;
                }
}

/* A finished minute goes in now, or, if the previous one's evaluations are still
 * pending, waits for them (scales_evaluate makes them at their nominal time, then feeds
 * it). At most one waits: the caller evaluates until nothing is due after every add,
 * and a waiting minute makes the pending evaluations due at once. */
static void finish_minute(struct scales *s, const struct scales_params *sp, double minute_t, const double mins[])
{
        if (s->due & minute_mask(sp)) {
                s->queued_t = minute_t;
                memcpy(s->queued_min, mins, sizeof(s->queued_min));
        } else
                feed_minute(s, sp, minute_t, mins);
}

bool scales_add_minute(struct scales *s, const struct scales_params *sp, double minute_t,
                       const double parts_min[SCALES_PARTS])
{
        for (unsigned k = 0; k < SCALES_PARTS; k++)
                if (!isfinite(parts_min[k]) || parts_min[k] < 0)
                        return s->due != 0;
        if (!isfinite(minute_t) || !isnan(s->queued_t))
                return s->due != 0;
        finish_minute(s, sp, minute_t, parts_min);
        return s->due != 0;
}

bool scales_add(struct scales *s, const struct scales_params *sp, double t, const double parts[SCALES_PARTS])
{
        double v = 0;

        for (unsigned k = 0; k < SCALES_PARTS; k++) {
                if (!isfinite(parts[k]) || parts[k] < 0)
                        return s->due != 0;
                v += parts[k];
        }
        if (!isfinite(t))
                return s->due != 0;
        for (unsigned i = 0; i < sp->n; i++)
                if (!sp->minute[i] && detect_add(&s->d[i], &sp->p[i], t, v) && !(s->due & (1u << i))) {
                        /* Judged up to a bucket later, by the process's phase: the buckets
                         * of processes started in the same second close together. */
                        s->due |= 1u << i;
                        s->due_at[i] = t + s->phase / MINUTE * sp->p[i].bucket;
                }
        if (minute_mask(sp)) {
                double m = floor(t / MINUTE) * MINUTE;

                if (isnan(s->minute_t) || m > s->minute_t) {
                        if (!isnan(s->minute_t) && isnan(s->queued_t))
                                finish_minute(s, sp, s->minute_t, s->minute_min);
                        s->minute_t = m;
                        memcpy(s->minute_min, parts, sizeof(s->minute_min));
                } else if (m == s->minute_t)
                        for (unsigned k = 0; k < SCALES_PARTS; k++)
                                if (parts[k] < s->minute_min[k])
                                        s->minute_min[k] = parts[k];
                /* m < minute_t: time went backwards; the detectors refused it too. */
        }
        return s->due != 0;
}

/* The bank's status from its scales' after an evaluation of scale i. */
static void combine(struct scales *s, const struct scales_params *sp, unsigned i)
{
        int leaking = -1;
        bool suspect = false, recovered = false;

        if (s->d[i].status == DETECT_LEAKING)
                leaking = (int)i;
        for (unsigned j = 0; j < sp->n; j++) {
                enum detect_status st = (enum detect_status)s->d[j].status;

                if (st == DETECT_LEAKING && leaking < 0)
                        leaking = (int)j;
                suspect |= st == DETECT_SUSPECT;
                recovered |= st == DETECT_RECOVERED;
        }
        if (s->carrier >= 0) {
                if (s->d[s->carrier].status == DETECT_LEAKING)
                        return;
                if (leaking >= 0) {
                        /* Still growing at another scale: it carries the alarm on. */
                        s->carrier = leaking;
                        return;
                }
                if (suspect)
                        return;         /* growing still, not yet proven gone */
                /* The next longer scale still sees its floor rise, even weakly: a leak
                 * that paused longer than the carrier's recovery time (load that comes
                 * and goes, steps far apart) is still growing at that scale. */
                if ((unsigned)s->carrier + 1 < sp->n && (s->rising & (1u << (s->carrier + 1))))
                        return;
                /* ...or cannot judge yet (a young process): not proven either way. */
                if ((unsigned)s->carrier + 1 < sp->n && !(s->judged & (1u << (s->carrier + 1))))
                        return;
                s->carrier = -1;
                s->status = DETECT_RECOVERED;
                return;
        }
        if (leaking >= 0) {
                s->carrier = leaking;
                s->status = DETECT_LEAKING;
        } else if (suspect)
                s->status = DETECT_SUSPECT;
        else if (s->status == DETECT_RECOVERED && recovered)
                s->status = DETECT_RECOVERED;
        else
                s->status = DETECT_OK;
}

static void evaluate_one(struct scales *s, const struct scales_params *sp, unsigned i, double now, double headroom,
                         struct scales_verdict *ret)
{
        enum detect_status prev = (enum detect_status)s->status;
        int carrier = s->carrier;
        struct detect_verdict v;

        detect_evaluate(&s->d[i], &sp->p[i], now, headroom, &v);
        s->due &= ~(1u << i);
        if (!isnan(v.ev.p))
                s->judged |= 1u << i;
        if (v.ev.p < sp->p[i].alpha_stay && v.ev.slope > 0)
                s->rising |= 1u << i;
        else
                s->rising &= ~(1u << i);
        combine(s, sp, i);

        ret->scale = i;
        ret->carrier = s->carrier == (int)i;
        ret->v = v;
        ret->v.previous = prev;
        ret->v.status = (enum detect_status)s->status;
        ret->v.changed = ret->v.status != prev;
        /* Escalation: the alarm begins, or its carrier's forecast comes inside the
         * horizon. A hand-over to another scale is no news. */
        ret->v.escalated = (ret->v.changed && ret->v.status == DETECT_LEAKING) ||
                           (v.escalated && ret->carrier && carrier == (int)i && !ret->v.changed);
}

/* The scale whose evaluation is due at t, or -1. Every-sample scales are judged at the
 * first sample past their time; minute scales at their nominal time, or at once if a
 * finished minute waits behind them. */
static int next_due(const struct scales *s, const struct scales_params *sp, double t)
{
        for (unsigned i = 0; i < sp->n; i++) {
                if (!(s->due & (1u << i)))
                        continue;
                if (t >= s->due_at[i] || (sp->minute[i] && !isnan(s->queued_t)))
                        return (int)i;
        }
        return -1;
}

bool scales_due(const struct scales *s, const struct scales_params *sp, double t)
{
        return next_due(s, sp, t) >= 0;
}

bool scales_evaluate(struct scales *s, const struct scales_params *sp, double t, double headroom,
                     struct scales_verdict *ret)
{
        int d = next_due(s, sp, t);

        if (d >= 0) {
                unsigned i = (unsigned)d;

                if (!sp->minute[i]) {
                        evaluate_one(s, sp, i, t, headroom, ret);
                        return true;
                }
                evaluate_one(s, sp, i, s->due_at[i], headroom, ret);
                if (!(s->due & minute_mask(sp)) && !isnan(s->queued_t)) {
                        feed_minute(s, sp, s->queued_t, s->queued_min);
                        s->queued_t = NAN;
                }
                return true;
        }
        return false;
}

enum detect_status scales_status(const struct scales *s)
{
        return (enum detect_status)s->status;
}

int scales_carrier(const struct scales *s)
{
        return s->carrier;
}

bool scales_parts(const struct sample *smp, enum detect_kind k, double ret[SCALES_PARTS])
{
        if (k == DETECT_FDS) {
                if (!sample_has(smp, M_FDS))
                        return false;
                ret[0] = (double)smp->v[M_FDS];
                ret[1] = 0;
                return true;
        }
        if (!sample_has(smp, M_ANON))
                return false;
        ret[0] = (double)smp->v[M_ANON];
        ret[1] = sample_has(smp, M_SWAP) ? (double)smp->v[M_SWAP] : 0;
        return true;
}
