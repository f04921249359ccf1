/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect: decides, from a series of (time, value) samples of one process, whether the
 * value keeps growing — and stays silent when it does not. docs/detector.md is the
 * design; this header is the contract.
 *
 * The module is pure. Samples and parameters go in; a verdict and a new state come
 * out. It reads no clock (time is an argument), does no I/O and allocates nothing:
 * struct detect is a fixed-size value without pointers, so the daemon keeps an array
 * of them, and after a restart it rebuilds the exact same state (bit for bit) by
 * replaying the stored history through detect_add() and detect_evaluate().
 *
 * How it looks at a series, in one paragraph: samples are grouped into buckets of
 * window/24 seconds and each bucket keeps only its minimum, the floor, so a garbage
 * collector's sawtooth, a burst of temporary allocations or a spike says nothing. Once
 * a bucket closes, the floors of the last window are judged: a Mann-Kendall trend test
 * whose variance is corrected for autocorrelated floors (Hamed and Rao), the
 * Theil-Sen slope with Sen's confidence bound, a minimum absolute and relative growth
 * that even the lower bound must reach, a drift check against a random walk, a new
 * floor high above anything held before the window, and a shape check — the floor
 * must rise in every quarter of the window, the latest quarter not much slower than
 * the others. A series that passes them all is suspect; it is leaking if the whole
 * stretch since then still passes after a confirmation time (or, if asked, at once when
 * the rise already held that long before). A leak that sets no new floor high for a
 * while has recovered, and may alert again only after a cool-down.
 * When the caller knows how much room is left (headroom), the verdict forecasts when
 * it runs out, and a near limit skips the confirmation.
 *
 * Use: one struct detect per process and metric, one struct detect_params per kind and
 * window. Feed every sample to detect_add(); when it returns true (a bucket closed),
 * call detect_evaluate() with now = that sample's time. Replaying the same samples the
 * same way gives the same states and verdicts. A state must always be used with the
 * same parameters: after changing them, detect_init() and replay.
 *
 * Costs: detect_add() is O(1) (O(block) when a bucket closes); detect_evaluate() is
 * O(B^2) in the number B of buckets per window, a constant (24 by default,
 * DETECT_MAX_BUCKETS at most; the confirming evaluation judges up to 48). */
#ifndef LEAKWATCH_DETECT_H
#define LEAKWATCH_DETECT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "sample.h"

/* What is watched. The machinery is the same; the defaults differ (see
 * detect_params_init). */
enum detect_kind {
        DETECT_MEMORY,          /* bytes: the caller feeds anon + swap, not RSS */
        DETECT_FDS,             /* open descriptors: a count */
        DETECT__KIND_MAX
};

/* "memory", "fds": what the database, the client, the hooks, the log and the metrics
 * call the two things judged. */
extern const char *const detect_kind_name[DETECT__KIND_MAX];
/* The kind of that name, or -1. */
int detect_kind_from_name(const char *name);

/* What a detector of kind k judges in a sample: for memory, resident anonymous memory
 * plus swap — what a heap leak grows, wherever the kernel put it; file-backed and
 * shared memory are not heap leaks — and for fds the open descriptors. Returns false,
 * *ret untouched, if the sample does not hold it. */
bool detect_value(const struct sample *smp, enum detect_kind k, double *ret);

/* The alert states. Only LEAKING alerts: SUSPECT is internal bookkeeping (the evidence
 * is there but not yet confirmed) that a daemon may show but must not alert on. */
enum detect_status {
        DETECT_OK,              /* nothing to report */
        DETECT_SUSPECT,         /* the floor rises significantly; waiting for confirmation */
        DETECT_LEAKING,         /* confirmed: the floor keeps rising */
        DETECT_RECOVERED,       /* was leaking, has stopped; quiet until the cool-down ends */
        DETECT__MAX
};

/* "ok", "suspect", "leaking", "recovered". */
extern const char *const detect_status_name[DETECT__MAX];

/* The most buckets a window may be cut into, and the size of the ring that keeps them.
 * It bounds evaluation (B(B-1)/2 pairwise slopes on the stack: 1,128 doubles, 9 KiB)
 * and the state (16 bytes a bucket). 48 is twice the default: room to ask for finer
 * resolution without making a struct detect larger than about 900 bytes. */
#define DETECT_MAX_BUCKETS 48

/* Every threshold and time scale. detect_params_init() derives all of them from one
 * knob, window; a caller may then override single fields (and should call
 * detect_params_check()). Times are seconds; growth is in the metric's unit. The
 * reason for each default is given in detect.c, next to the value. */
struct detect_params {
        enum detect_kind kind;
        double window;          /* the evidence window: how far back a trend is judged */
        unsigned buckets;       /* buckets per window (at most DETECT_MAX_BUCKETS) */
        double bucket;          /* width of a bucket: window / buckets */
        unsigned min_buckets;   /* fewest non-empty buckets worth a judgement */
        double warmup;          /* after process start, samples are not evidence */
        double confirm;         /* suspect this long (with evidence) before leaking */
        double recovery;        /* leaking without a new floor high this long: recovered;
                                 * suspect without fresh evidence this long: ok again */
        double cooldown;        /* recovered this long before ok (and before a new alert) */
        double horizon;         /* a forecast closer than this skips the confirmation */
        double alpha;           /* one-sided p-value below which the trend is significant */
        double alpha_stay;      /* weaker p-value that keeps a suspicion alive */
        double min_growth;      /* absolute growth per window to care about (units) */
        double min_growth_rel;  /* growth per window relative to the level (fraction) */
        double quarter_share;   /* each quarter's floor rise >= this x the mean quarter rise */
        double last_quarter;    /* the last quarter's rise >= this x the largest earlier one */
        double new_high;        /* a floor counts as a new high when it beats the old one by
                                 * this fraction of the minimum growth per window */
        unsigned block;         /* buckets in a block: the current level and the random-walk
                                 * check use block minima */
        bool confirm_back;      /* a window that passes every check is confirmed at once
                                 * when the stretch of a window and `confirm` before it
                                 * passes them too (the rise already held that long) */
        double rw_z;            /* drift / random-walk spread must exceed this (0: off) */
        double pair_smooth;     /* the minima of adjacent buckets are the floors when
                                 * their path is shorter than this fraction of the
                                 * floors' (a sawtooth at random phases); 0: never */
};

/* Fills p with the defaults for kind at this window (seconds, > 0). */
void detect_params_init(struct detect_params *p, enum detect_kind kind, double window_seconds);

/* Returns 0 if p is usable, -EINVAL if a field is out of range or the fields disagree
 * (bucket != window / buckets, min_buckets < 8 or > buckets, ...). */
int detect_params_check(const struct detect_params *p);

/* The state of one series. A plain value: no pointers, every byte (padding included)
 * written by detect_init(), so two states can be compared with memcmp(). Fields are
 * private to detect.c; they are listed so the caller can allocate it. */
struct detect {
        /* the series */
        double t_start;                 /* process start: warm-up is measured from here */
        double t_last;                  /* last accepted sample */
        double v_last;                  /* and its value */
        uint64_t n_accepted;            /* samples taken */
        uint64_t n_rejected;            /* samples refused: bad value or time not increasing */

        /* the bucket being filled */
        int64_t cur_idx;                /* its number, counted from t_start + warmup */
        double cur_min;
        uint64_t cur_n;                 /* samples in it; 0: no bucket open */

        /* closed buckets, oldest first from ring_head - ring_len */
        int64_t ring_idx[DETECT_MAX_BUCKETS];
        double ring_floor[DETECT_MAX_BUCKETS];
        uint32_t ring_head;             /* where the next closed bucket goes */
        uint32_t ring_len;

        /* the floors that have left the window */
        double past_high;               /* highest block floor before the window */
        int64_t past_upto;              /* buckets up to this number are folded in */

        /* the hysteresis */
        uint32_t status;                /* enum detect_status */
        uint32_t imminent;              /* 1: leaking and the forecast is inside the horizon */
        double since;                   /* when status was entered */
        double last_evidence;           /* last evaluation with full evidence */
        double suspect_floor;           /* the evidence's starting floor when suspicion began */
        int64_t suspect_from;           /* and the number of its first bucket */
        double high;                    /* leaking: highest floor so far */
        double high_t;                  /* and the end of the bucket that set it (data time) */
        uint64_t n_alerts;              /* times LEAKING was entered */
};

/* What one evaluation found. Numbers describe the evidence window at this evaluation;
 * they are NAN when there was not enough data to compute them (n < min_buckets). */
/* The evidence of a verdict: what the detector measured over its window, and its
 * phrase for it. This one record goes with a verdict wherever it is told — the alert,
 * the hooks' environment and JSON, the journal, the verdict and alert rows — so its
 * fields are named once, here. NAN where not computed (not enough data). */
struct detect_evidence {
        double slope, slope_low, slope_high;    /* floor, units/s: Theil-Sen and Sen's bounds */
        double growth;                  /* slope x (t_to - t_from): floor growth over the window */
        double growth_rel;              /* growth / level at the start of the window */
        double level;                   /* current floor: minimum of the last block of buckets */
        double p;                       /* the trend's one-sided p-value (small: rising) */
        double forecast;                /* seconds until headroom is used up at the current
                                         * slope; INFINITY if not growing or headroom unknown */
        double t_from, t_to;            /* the evidence window: start of the first bucket, end of
                                         * the last (the samples' time base) */
        double scale;                   /* the time scale judged: the detector's window, seconds */
        const char *reason;             /* short static phrase, e.g. "floor rising in every quarter" */
};

/* The evidence of no evaluation: every number unknown, no limit in sight. */
#define DETECT_EVIDENCE_NONE                                                                  \
        ((struct detect_evidence){ .slope = NAN, .slope_low = NAN, .slope_high = NAN,         \
                                   .growth = NAN, .growth_rel = NAN, .level = NAN, .p = NAN,  \
                                   .forecast = INFINITY, .t_from = NAN, .t_to = NAN,      \
                                   .scale = NAN })

struct detect_verdict {
        enum detect_status status, previous;
        bool changed;                   /* status differs from the previous evaluation */
        bool escalated;                 /* became leaking, or the forecast crossed the horizon */
        bool evidence;                  /* every check passed at this evaluation */
        struct detect_evidence ev;
        double z;                       /* Mann-Kendall statistic after the correction */
        double correction;              /* Hamed-Rao variance factor n/n* (>= 1) */
        double z_rw;                    /* the rise against a random walk's spread */
        unsigned n;                     /* buckets in the evidence */
};

/* Starts a series for a process that started at t_start (same time base as the
 * samples; for a process already running when watching begins, its real start time,
 * so a long-running process is not given a warm-up again). */
void detect_init(struct detect *d, double t_start);

/* Adds one sample. t must be strictly greater than the last accepted t; a sample with
 * a non-increasing or non-finite time, or a value that is NAN, infinite or negative,
 * is ignored (counted in n_rejected) and the state is otherwise unchanged. Samples
 * before t_start + warmup are accepted but are not evidence. Returns true when this
 * sample closed a bucket, i.e. an evaluation is due. O(1). Gaps are fine: buckets with
 * no sample simply do not exist. */
bool detect_add(struct detect *d, const struct detect_params *p, double t, double value);

/* Judges the closed buckets of the last window at time now (normally the time of the
 * sample that made detect_add() return true), moves the state machine, and fills
 * *ret. headroom: units left before a known limit (cgroup memory.max minus usage,
 * MemAvailable...), NAN if unknown. Calling it when no bucket closed is allowed (the
 * evidence is then the same as at the last call; only transitions that wait for time
 * can happen), but a replay reproduces the state only if evaluations happen at the
 * same moments. */
void detect_evaluate(struct detect *d, const struct detect_params *p, double now, double headroom,
                     struct detect_verdict *ret);

/* The detector's statistics alone, for a judge on another time scale (lib/nearlimit):
 * over n points (x increasing, in any unit; 3 <= n <= DETECT_MAX_BUCKETS) the Theil-Sen
 * slope, Sen's one-sided lower bound at alpha and the Mann-Kendall p-value, with the
 * variance corrected for autocorrelated points (Hamed-Rao), and the drift against a
 * random walk's spread over blocks of `block` points. Slopes are per unit of x. All NAN
 * for n out of range. */
struct detect_slope {
        double slope, slope_low, p, z_rw;
};
void detect_robust_slope(const double *x, const double *y, unsigned n, double alpha, unsigned block,
                         struct detect_slope *ret);

/* How many of a window's buckets samples `interval` seconds apart can fill: all of them
 * when a sample comes at least once a bucket, else one per sample. Below min_buckets the
 * detector never judges: the samples are too sparse for that window, which a caller
 * should say rather than report "no leak". */
unsigned detect_floors_per_window(const struct detect_params *p, double interval);

#endif
