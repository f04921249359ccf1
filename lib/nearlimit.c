/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nearlimit: growth on a short time scale, for the time to a process's limits. */
#include "nearlimit.h"

#include <math.h>
#include <string.h>

/* The most growth of the floors a leak can hide from one third of the window to the
 * next, as a share of the mean rise per third: a straight rise gives each third its
 * full share; a one-off step gives one third all of it and the other none, which is
 * what this refuses. A quarter, as the detector's quarters. */
#define THIRD_SHARE 0.25
/* How far the current floor must be above every floor held before, as a share of what
 * the rate's lower bound grows in a window: a leak's floor is above its past by all it
 * grew since, a sawtooth's rise back to the heights it held only by noise. */
#define NEW_HIGH_SHARE 0.25

void nearlimit_params_init(struct nearlimit_params *p, enum detect_kind kind, double interval, double horizon)
{
        *p = (struct nearlimit_params){
                .kind = kind,
                /* Three samples, so a floor sees past one high sample: 30 s buckets and
                 * an 8-minute window at the default 10 s interval, a 48 s window for a
                 * `leakwatch run` sampling every second. */
                .bucket = 3 * interval,
                /* Three of four floors: a trend is still judged over a missed tick or two. */
                .min_buckets = NEARLIMIT_BUCKETS * 3 / 4,
                /* The detector's level: one chance in a hundred that a flat series shows a
                 * lower bound above zero, before the shape and new-high checks. */
                .alpha = 0.01,
                /* 1 MiB a window (7.5 MiB/h at the default 8 min) is below any leak that
                 * reaches a limit within an hour unless it is already at it, and above the
                 * page-by-page jitter of a flat process; 4 descriptors a window, for the
                 * sockets and files a busy flat server opens and closes. */
                .min_growth = kind == DETECT_FDS ? 4 : 1024.0 * 1024.0,
                .horizon = horizon,
        };
        p->window = p->bucket * NEARLIMIT_BUCKETS;
        /* Two windows without a limit within the horizon: a growth that paused for one
         * window (a step-wise leak) does not end and raise again. */
        p->clear = 2 * p->window;
}

void nearlimit_init(struct nearlimit *n)
{
        memset(n, 0, sizeof(*n));
        n->t_last = -INFINITY;
        n->past_high = -INFINITY;
        n->last_near = -INFINITY;
}

static int64_t newest_idx(const struct nearlimit *n)
{
        return n->ring_idx[(n->ring_head + NEARLIMIT_BUCKETS - 1) % NEARLIMIT_BUCKETS];
}

/* Drops the oldest floors that are out of a window ending at bucket last (or that the
 * ring has no room for), folding them into the past high. */
static void expire(struct nearlimit *n, int64_t last, bool make_room)
{
        while (n->ring_len > 0) {
                uint32_t oldest = (n->ring_head + NEARLIMIT_BUCKETS - n->ring_len) % NEARLIMIT_BUCKETS;

                if (!(make_room && n->ring_len == NEARLIMIT_BUCKETS) &&
                    n->ring_idx[oldest] > last - NEARLIMIT_BUCKETS)
                        break;
                n->past_high = fmax(n->past_high, n->ring_floor[oldest]);
                n->ring_len--;
        }
}

bool nearlimit_add(struct nearlimit *n, const struct nearlimit_params *p, double t, double value)
{
        int64_t idx;
        bool closed = false;

        if (!isfinite(t) || !isfinite(value) || value < 0 || !(t > n->t_last))
                return false;
        n->t_last = t;
        idx = (int64_t)floor(t / p->bucket);
        if (n->cur_n > 0 && idx != n->cur_idx) {
                expire(n, n->cur_idx, true);
                n->ring_idx[n->ring_head] = n->cur_idx;
                n->ring_floor[n->ring_head] = n->cur_min;
                n->ring_head = (n->ring_head + 1) % NEARLIMIT_BUCKETS;
                n->ring_len++;
                n->cur_n = 0;
                closed = true;
        }
        if (n->cur_n == 0) {
                if (n->ring_len == 0 && !n->started) {
                        n->first_idx = idx;
                        n->started = 1;
                }
                n->cur_idx = idx;
                n->cur_min = value;
        } else if (value < n->cur_min)
                n->cur_min = value;
        n->cur_n++;
        return closed;
}

void nearlimit_growth(const struct nearlimit *n, const struct nearlimit_params *p, struct nearlimit_growth *ret)
{
        double x[NEARLIMIT_BUCKETS], y[NEARLIMIT_BUCKETS], q[3] = { INFINITY, INFINITY, INFINITY }, rise;
        double high = n->past_high, gate;
        int64_t last, first;
        unsigned m = 0, low = 0;
        struct detect_slope s;

        *ret = (struct nearlimit_growth){ .rate = NAN, .rate_low = NAN, .level = NAN, .t_from = NAN, .t_to = NAN,
                                          .why = "not enough data yet" };
        if (n->ring_len == 0)
                return;
        last = newest_idx(n);
        first = last - NEARLIMIT_BUCKETS + 1;
        ret->level = n->ring_floor[(n->ring_head + NEARLIMIT_BUCKETS - 1) % NEARLIMIT_BUCKETS];
        ret->t_from = (double)first * p->bucket;
        ret->t_to = (double)(last + 1) * p->bucket;
        for (uint32_t i = n->ring_len; i > 0; i--) {
                uint32_t k = (n->ring_head + NEARLIMIT_BUCKETS - i) % NEARLIMIT_BUCKETS;
                int third;

                if (n->ring_idx[k] < first)
                        continue;
                x[m] = (double)(n->ring_idx[k] - first);
                y[m] = n->ring_floor[k];
                third = (int)(x[m] * 3 / NEARLIMIT_BUCKETS);
                q[third] = fmin(q[third], y[m]);
                if (y[m] <= y[low])
                        low = m;     /* the last of the lowest */
                m++;
        }
        if (m < p->min_buckets)
                return;
        /* What the floor held before its lowest point in the window counts as held
         * before: a sawtooth that fell inside the window rises back to where it was. */
        for (unsigned i = 0; i < low; i++)
                high = fmax(high, y[i]);
        if (n->first_idx > first) {
                ret->why = "watched for less than a window";
                return;
        }
        detect_robust_slope(x, y, m, p->alpha, 2, &s);
        gate = s.slope_low;
        /* The rate is that of the newest half of the window: a leak that began inside
         * the window grows at its own pace, not at the pace averaged with the flat
         * stretch before it, which would put its limit later than it is; the checks
         * below still judge the whole window. */
        if (m >= NEARLIMIT_BUCKETS / 2)
                detect_robust_slope(x + m - NEARLIMIT_BUCKETS / 2, y + m - NEARLIMIT_BUCKETS / 2,
                                    NEARLIMIT_BUCKETS / 2, p->alpha, 2, &s);
        ret->rate = s.slope / p->bucket;
        ret->rate_low = s.slope_low / p->bucket;
        rise = (q[2] - q[0]) / 2;
        if (!(gate > 0))
                ret->why = "no significant growth";
        else if (ret->rate_low * p->window < p->min_growth)
                ret->why = "growth too small to matter";
        else if (!isfinite(rise) || q[1] - q[0] < THIRD_SHARE * rise || q[2] - q[1] < THIRD_SHARE * rise)
                ret->why = "floor not rising through the window";
        else if (!(ret->level > high + NEW_HIGH_SHARE * ret->rate_low * p->window))
                ret->why = "floor below where it was before";
        else {
                ret->growing = true;
                ret->why = "floor rising through the window";
        }
}

enum nearlimit_change nearlimit_judge(struct nearlimit *n, const struct nearlimit_params *p, double now, bool near)
{
        if (near && p->horizon > 0) {
                n->last_near = now;
                if (n->imminent)
                        return NEARLIMIT_SAME;
                n->imminent = 1;
                return NEARLIMIT_RAISE;
        }
        if (n->imminent && now - n->last_near >= p->clear) {
                n->imminent = 0;
                return NEARLIMIT_CLEAR;
        }
        return NEARLIMIT_SAME;
}

void nearlimit_resume(struct nearlimit *n, double now)
{
        n->imminent = 1;
        n->last_near = now;
}
