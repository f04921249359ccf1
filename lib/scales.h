/* SPDX-License-Identifier: GPL-2.0-or-later */
/* scales: a bank of detectors at several time scales over one sample stream, so a fast
 * leak is told in minutes and a slow one in days without anyone choosing a window.
 * docs/detector.md ("Time scales") gives the scales, their reasons and measurements;
 * this header is the contract.
 *
 * Pure, like lib/detect: samples, parameters and time go in, verdicts come out; no
 * clock, no I/O, no allocation. struct scales is a fixed-size value without pointers.
 *
 * The shortest scale is fed every sample. The longer ones are fed one point a minute,
 * the minute's floor, computed exactly as the store's minute rollups compute it (the
 * sum of each part's minimum: anon_min + swap_min for memory, fds_min for descriptors),
 * so after a restart scales_add_minute() over the stored rollups rebuilds what
 * scales_add() built live. An evaluation, due when a bucket closes, is made a
 * per-process phase later (scales_init): a long scale's at the minute's end plus the
 * phase, the shortest scale's up to a bucket late. Ten thousand processes whose
 * minutes all close in the same tick (or that all started in the same second) so
 * spread their evaluations over the minute instead of judging them all in one tick.
 *
 * The alarm: any scale that becomes LEAKING raises it and carries it. It stays raised
 * while the carrying scale is still leaking; when that scale stops, another scale that
 * is leaking takes it over, and the alarm closes only when no scale is leaking or even
 * suspects a leak, and the next longer scale has judged and no longer sees its floor
 * rise, even weakly — a leak still growing at some time scale is never closed. */
#ifndef LEAKWATCH_SCALES_H
#define LEAKWATCH_SCALES_H

#include <stdbool.h>
#include <stdint.h>

#include "detect.h"
#include "sample.h"

/* The most scales in a bank: minutes, an hour, a day, days. */
#define SCALES_MAX 4
/* A value is the sum of at most this many parts (anon and swap); their minute minima
 * add up to the minute's floor. */
#define SCALES_PARTS 2

/* A scale is used when its window holds a sample in each of its 24 buckets at the
 * sampling interval, as the configuration asks of a pinned window: the min_samples the
 * daemon and `leakwatch backtest` give scales_params_default(). */
#define SCALES_MIN_SAMPLES 24

/* The default scales (docs/detector.md gives the reason for each number). */
struct scales_def {
        double window;                  /* seconds */
        double min_growth_rel;          /* memory: least growth per window, relative */
        double target_rate;             /* relative growth per hour this scale must catch... */
        double target_time;             /* ...within this many seconds of its onset */
        bool minute;                    /* fed minute floors rather than every sample */
};
extern const struct scales_def scales_defaults[SCALES_MAX];

struct scales_params {
        enum detect_kind kind;
        unsigned n;                     /* scales in use, 1..SCALES_MAX, shortest first */
        struct detect_params p[SCALES_MAX];
        bool minute[SCALES_MAX];
        /* A minute-fed scale takes no point before the process is this old (seconds)
         * unless its floor was seen flat before (its start-up over); 0: from the start
         * (its own warm-up alone). */
        double startup[SCALES_MAX];
};

/* The start-up check: the last this many minute floors (12 minutes, the shortest
 * scale's window) not even weakly rising (p >= 0.10) end a process's start-up. */
#define SCALES_STARTUP_POINTS 12

/* Every default scale whose window holds at least min_samples samples taken every
 * interval seconds (0: all of them); at least the longest. */
void scales_params_default(struct scales_params *sp, enum detect_kind kind, double interval,
                           unsigned min_samples);
/* One scale only, of this window, fed every sample: the `window` override. */
void scales_params_pinned(struct scales_params *sp, enum detect_kind kind, double window);
/* This window as the shortest scale, then every default scale longer than twice it that
 * the interval allows (as scales_params_default): a short job judged on its own time
 * scale, and on the longer ones if it runs long enough (`leakwatch run`). */
void scales_params_from(struct scales_params *sp, enum detect_kind kind, double window, double interval,
                        unsigned min_samples);
/* The longest window of the bank. */
double scales_longest(const struct scales_params *sp);
/* 0 if usable, -EINVAL if not. */
int scales_params_check(const struct scales_params *sp);

/* The state of one series. Fields are private to scales.c. */
struct scales {
        struct detect d[SCALES_MAX];
        double minute_t;                /* start of the minute being gathered; NAN: none */
        double minute_min[SCALES_PARTS];
        double phase;                   /* seconds into the next minute a long-scale
                                         * evaluation is made */
        double due_at[SCALES_MAX];      /* when scale i's pending evaluation is made */
        double queued_t;                /* a finished minute waiting for them; NAN: none */
        double queued_min[SCALES_PARTS];
        uint32_t due;                   /* bit i: scale i has a closed bucket to evaluate */
        int32_t carrier;                /* scale carrying the raised alarm, -1: none */
        uint32_t status;                /* enum detect_status of the bank */
        uint32_t rising;                /* bit i: scale i's last evaluation saw its floor rise
                                         * (p < alpha_stay), if only weakly */
        uint32_t judged;                /* bit i: scale i has had enough data to judge */
        uint32_t startup_n;             /* minute floors in startup_t/_v (a ring) */
        double t_start;                 /* the process's start */
        double startup_over;            /* when its start-up was seen over; NAN: not yet */
        double startup_t[SCALES_STARTUP_POINTS];        /* the latest minute floors */
        double startup_v[SCALES_STARTUP_POINTS];
};

/* The verdict of one scale's evaluation, told as the bank's: status, previous,
 * changed and escalated are the bank's (the alarm's); ev is the evaluated scale's
 * evidence, ev.scale its window. */
struct scales_verdict {
        struct detect_verdict v;
        unsigned scale;                 /* the scale evaluated */
        bool carrier;                   /* it carries the alarm (or raised it now): its
                                         * evidence is the alarm's */
};

/* A stable phase in [0, 60) s for a process, from its database id: where in a minute its
 * evaluations fall (the daemon's and a replay's the same). */
double scales_phase(int64_t id);

/* Starts a series for a process started at t_start; phase in [0, 60): where in a
 * minute this process's long-scale evaluations fall (derive it from a stable id). */
void scales_init(struct scales *s, const struct scales_params *sp, double t_start, double phase);

/* Adds one sample (parts summed; unused parts 0). Returns true when an evaluation is
 * or will be due: call scales_evaluate() until it returns false, after every add. */
bool scales_add(struct scales *s, const struct scales_params *sp, double t, const double parts[SCALES_PARTS]);

/* Adds a whole stored minute (the rollup starting at minute_t: each part's minimum) to
 * the minute-fed scales only, for a rebuild; samples of the same minute must not also
 * be added. Then call scales_evaluate() with t = minute_t + 120 (any time past the
 * nominal one) until it returns false, as scales_add() would have. */
bool scales_add_minute(struct scales *s, const struct scales_params *sp, double minute_t,
                       const double parts_min[SCALES_PARTS]);

/* Makes one due evaluation at time t (the time of the latest sample added; a minute
 * scale is judged at its own nominal time) and returns true with *ret filled, or
 * returns false when none is due. headroom as for detect_evaluate(). */
bool scales_evaluate(struct scales *s, const struct scales_params *sp, double t, double headroom,
                     struct scales_verdict *ret);

/* Whether scales_evaluate() at t would make an evaluation: ask the limits only then. */
bool scales_due(const struct scales *s, const struct scales_params *sp, double t);

/* The bank's status (enum detect_status) and the scale carrying its alarm (-1: none). */
enum detect_status scales_status(const struct scales *s);
int scales_carrier(const struct scales *s);

/* The parts of a sample's value for kind k (see detect_value); false if absent. */
bool scales_parts(const struct sample *smp, enum detect_kind k, double ret[SCALES_PARTS]);

#endif
