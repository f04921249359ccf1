/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nearlimit: is a process growing fast enough to reach one of its limits soon? A judge
 * on a short time scale, beside the detector (lib/detect), for growth that leaves no
 * time to be proven a leak: "will reach memory.max in 12 min".
 *
 * Pure, like the detector: samples, parameters and time in; the growth and a small
 * state out. The samples are cut into buckets that keep their minimum (the floor: a
 * garbage collector's peaks and a burst of temporary allocations say nothing), and at
 * each closed bucket once a whole window was watched, the floors of the last window
 * are judged: growing when Sen's lower
 * bound of the Theil-Sen rate (autocorrelation-corrected, as the detector's) is above
 * zero and says at least `min_growth` over a window, the floor rises from each third
 * of the window to the next, and the current floor is above every floor held before
 * (those that left the window, and those before the window's lowest floor: a sawtooth
 * or a batch that rose this high before and fell back is not new growth). What that growth means for the process's limits is lib/forecast's; the
 * caller reads the limits only when this says growing, and tells nearlimit_judge()
 * whether one is within the horizon. One state per process and metric, a plain value
 * of under 1 KiB; a replay of the same samples gives the same state. */
#ifndef LEAKWATCH_NEARLIMIT_H
#define LEAKWATCH_NEARLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include "detect.h"

/* Buckets in a window: 16 floors judge a trend with 120 pairwise slopes, and at the
 * default 10 s interval (30 s buckets of three samples) make an 8-minute window, which
 * is what lets a leak that reaches its limit within the hour be told within 10 minutes
 * of its start. */
#define NEARLIMIT_BUCKETS 16

struct nearlimit_params {
        enum detect_kind kind;
        double bucket;                  /* seconds a floor covers */
        double window;                  /* NEARLIMIT_BUCKETS buckets */
        unsigned min_buckets;           /* floors in the window worth a judgement */
        double alpha;                   /* one-sided level of the rate's lower bound */
        double min_growth;              /* units per window the lower bound must reach */
        double horizon;                 /* a limit this close (seconds) is told; 0: never */
        double clear;                   /* no limit within the horizon this long: over */
};

/* The parameters for a metric sampled every `interval` seconds, with the configured
 * horizon (limit-horizon, seconds; 0 turns the judge off). */
void nearlimit_params_init(struct nearlimit_params *p, enum detect_kind kind, double interval, double horizon);

struct nearlimit {
        double t_last;                  /* last accepted sample */
        int64_t cur_idx;                /* the bucket being filled: floor(t / bucket) */
        double cur_min;
        uint32_t cur_n;                 /* its samples; 0: none open */
        uint32_t ring_len, ring_head;   /* closed buckets, oldest first from head - len */
        int64_t ring_idx[NEARLIMIT_BUCKETS];
        double ring_floor[NEARLIMIT_BUCKETS];
        double past_high;               /* highest floor that left the window; -INFINITY */
        uint32_t imminent;              /* 1: a limit is within the horizon (told) */
        uint32_t started;               /* 1: first_idx is set */
        int64_t first_idx;              /* the first bucket: judged once a window is seen */
        double last_near;               /* last judgement with a limit within the horizon */
};

void nearlimit_init(struct nearlimit *n);

/* Adds one sample (t strictly increasing, value finite and >= 0; others are ignored).
 * Returns true when it closed a bucket: a judgement is due. */
bool nearlimit_add(struct nearlimit *n, const struct nearlimit_params *p, double t, double value);

/* The growth over the window of closed buckets. */
struct nearlimit_growth {
        bool growing;                   /* every check passed */
        double rate, rate_low;          /* units per second: Theil-Sen, Sen's lower bound; NAN */
        double level;                   /* the newest floor; NAN if no bucket */
        double t_from, t_to;            /* the window judged (first bucket's start, last's end) */
        const char *why;                /* static phrase: why it is growing or not */
};
void nearlimit_growth(const struct nearlimit *n, const struct nearlimit_params *p, struct nearlimit_growth *ret);
/* false when nearlimit_growth() would not say growing, told by its checks that need no
 * rate (enough floors, a window watched, the floor rising through it and above where it
 * was by NEW_HIGH_SHARE of min_growth): a judge acting on growth alone asks this first
 * and skips the rates of a flat process. true: nearlimit_growth() may say either. */
bool nearlimit_may_grow(const struct nearlimit *n, const struct nearlimit_params *p);

enum nearlimit_change {
        NEARLIMIT_SAME,
        NEARLIMIT_RAISE,                /* a limit came within the horizon: tell it */
        NEARLIMIT_CLEAR,                /* none has been for `clear`: it is over */
};
/* Moves the state at time now: near says whether the forecast (at this judgement) puts
 * a limit within the horizon. */
enum nearlimit_change nearlimit_judge(struct nearlimit *n, const struct nearlimit_params *p, double now, bool near);

/* Restores the told state after a restart (an alert raised by it is still open): it
 * stays until `clear` passes without a limit near. */
void nearlimit_resume(struct nearlimit *n, double now);

#endif
