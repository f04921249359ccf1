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

/* The closed buckets of the window that ends at the newest: their floors (x counted
 * from the window's first bucket), the lowest of each third, and the highest floor held
 * before the window's lowest point. */
struct window {
        double x[NEARLIMIT_BUCKETS], y[NEARLIMIT_BUCKETS], q[3];
        double high, level;
        int64_t first, last;
        unsigned m;
};

/* false: no bucket closed yet. */
static bool gather(const struct nearlimit *n, struct window *w)
{
        unsigned low = 0;

        w->m = 0;
        w->high = n->past_high;
        w->q[0] = w->q[1] = w->q[2] = INFINITY;
        if (n->ring_len == 0)
                return false;
        w->last = newest_idx(n);
        w->first = w->last - NEARLIMIT_BUCKETS + 1;
        w->level = n->ring_floor[(n->ring_head + NEARLIMIT_BUCKETS - 1) % NEARLIMIT_BUCKETS];
        for (uint32_t i = n->ring_len; i > 0; i--) {
                uint32_t k = (n->ring_head + NEARLIMIT_BUCKETS - i) % NEARLIMIT_BUCKETS;
                unsigned m = w->m;
                int third;

                if (n->ring_idx[k] < w->first)
                        continue;
                w->x[m] = (double)(n->ring_idx[k] - w->first);
                w->y[m] = n->ring_floor[k];
                third = (int)(w->x[m] * 3 / NEARLIMIT_BUCKETS);
                /* fmin() without its call: the floors are never NAN. */
                if (w->y[m] < w->q[third])
                        w->q[third] = w->y[m];
                if (w->y[m] <= w->y[low])
                        low = m;     /* the last of the lowest */
                w->m++;
        }
        /* What the floor held before its lowest point in the window counts as held
         * before: a sawtooth that fell inside the window rises back to where it was. */
        for (unsigned i = 0; i < low; i++)
                w->high = fmax(w->high, w->y[i]);
        return true;
}

/* The floor does not rise from each third of the window to the next. */
static bool thirds_refuse(const struct window *w)
{
        double rise = (w->q[2] - w->q[0]) / 2;

        return !isfinite(rise) || w->q[1] - w->q[0] < THIRD_SHARE * rise || w->q[2] - w->q[1] < THIRD_SHARE * rise;
}

bool nearlimit_may_grow(const struct nearlimit *n, const struct nearlimit_params *p)
{
        struct window w;

        /* nearlimit_growth() asks rate_low x window >= min_growth and then the level above
         * the high held before by NEW_HIGH_SHARE of that product: both at once ask at
         * least this (the scaling by a power of two and the rounding of the sum keep the
         * order). The high is at least the past high: a steady process is told here,
         * without a look at the window. */
        if (n->ring_len == 0 ||
            !(n->ring_floor[(n->ring_head + NEARLIMIT_BUCKETS - 1) % NEARLIMIT_BUCKETS] >
              n->past_high + NEW_HIGH_SHARE * p->min_growth))
                return false;
        if (!gather(n, &w) || w.m < p->min_buckets || n->first_idx > w.first || thirds_refuse(&w))
                return false;
        return w.level > w.high + NEW_HIGH_SHARE * p->min_growth;
}

void nearlimit_growth(const struct nearlimit *n, const struct nearlimit_params *p, struct nearlimit_growth *ret)
{
        struct window w;
        double *x = w.x, *y = w.y, high, gate;
        unsigned m;
        struct detect_slope s;

        *ret = (struct nearlimit_growth){ .rate = NAN, .rate_low = NAN, .level = NAN, .t_from = NAN, .t_to = NAN,
                                          .why = "not enough data yet" };
        if (!gather(n, &w))
                return;
        m = w.m;
        high = w.high;
        ret->level = w.level;
        ret->t_from = (double)w.first * p->bucket;
        ret->t_to = (double)(w.last + 1) * p->bucket;
        if (m < p->min_buckets)
                return;
        if (n->first_idx > w.first) {
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
        if (!(gate > 0))
                ret->why = "no significant growth";
        else if (ret->rate_low * p->window < p->min_growth)
                ret->why = "growth too small to matter";
        else if (thirds_refuse(&w))
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
