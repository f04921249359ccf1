/* SPDX-License-Identifier: GPL-2.0-or-later */
/* scales-shapes: process lives in absolute time for the bank of time scales (lib/scales)
 * — the healthy shapes it must stay silent on and the leaks, by rate and shape, it must
 * catch in time — and a runner that replays one life through the bank and through the
 * rules people write instead. Header-only (static functions), for the unit test and
 * bench/detect-scales.
 *
 * Samples every 10 s (the daemon's default), a level of 200 MiB to 2.5 GiB, Gaussian
 * jitter of 0.3 % and upward spikes (5 % of samples, mean 2 %) for transient
 * allocations, rounded to 4 KiB pages. A life is drawn from a seed. The reasons for
 * each healthy shape's ranges are in docs/detector.md ("Why the two lists agree"). */
#ifndef LEAKWATCH_SCALES_SHAPES_H
#define LEAKWATCH_SCALES_SHAPES_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "baseline.h"
#include "scales.h"

#define SS_FN static __attribute__((unused))
#define SS_DT 10.0
#define SS_HOUR 3600.0
#define SS_DAY 86400.0
#define SS_MIB (1024.0 * 1024)

enum ss_shape {
        /* healthy */
        SS_FLAT,
        SS_SAWTOOTH,            /* GC: period 10 s to 20 min */
        SS_WARM_FAST,           /* to a plateau, time constant 1-10 min */
        SS_WARM_SLOW,           /* to a plateau, time constant 1-6 h */
        SS_HEAP_STEPS,          /* a managed heap expanding in steps in its first minutes */
        SS_FRAG,                /* log-shaped fragmentation creep */
        SS_STEP,                /* one-off step */
        SS_BATCH,               /* grows up to 30 min, released, again */
        SS_WANDER,              /* mean-reverting */
        SS_DAILY,               /* a daily load cycle of +-12 %, no new high */
        SS__HEALTHY,
        /* leaks: rate relative to the level at onset, per hour */
        SS_LINEAR = SS__HEALTHY,
        SS_STAIRS,              /* steps with flats longer than half the short scale */
        SS_SAWLEAK,             /* under a GC sawtooth: the floor rises */
        SS_ACCEL,               /* the rate ramps up from 0 */
        SS_LOAD,                /* grows only under load, in bursts */
        SS_LATE_YOUNG,          /* starts 3 min into the life */
        SS_LATE_WARM,           /* starts as a 30 min warm-up ends */
        SS_LATE_HOUR,           /* starts 1 h into the life, a start-up of minutes over */
        SS__MAX
};

static const char *const ss_name[SS__MAX] = {
        "flat", "gc-sawtooth", "warmup-fast", "warmup-slow", "heap-steps", "frag-creep", "one-step",
        "batch", "wander", "daily-cycle",
        "linear", "stairs", "sawtooth-hidden", "accelerating", "load-driven", "young (3 min)",
        "after warm-up", "young (1 h)",
};

struct ss_gen {
        int shape;
        uint64_t rng;
        double t, base, rate, onset;
        double amp, period, phase, tau, size, x;
        double next, end, ramp, idle, start;
        double extra;                   /* leak: grown so far (bursty, stairs) */
        double target;                  /* leak: the time it must be caught in */
        int n_steps;
        double step_t[8], step_v[8];
};

SS_FN uint64_t ss_rand(struct ss_gen *g)
{
        uint64_t z = (g->rng += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}
SS_FN double ss_unif(struct ss_gen *g) { return (double)(ss_rand(g) >> 11) * 0x1.0p-53; }
SS_FN double ss_range(struct ss_gen *g, double lo, double hi) { return lo + (hi - lo) * ss_unif(g); }
SS_FN double ss_logrange(struct ss_gen *g, double lo, double hi) { return lo * pow(hi / lo, ss_unif(g)); }
SS_FN double ss_normal(struct ss_gen *g)
{
        double u = ss_unif(g), v = ss_unif(g);
        return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

/* The target time for a leak at this rate (1.0 = 100 %/h), from the scale table: the
 * slowest target the rate still meets. */
SS_FN double ss_target(double rate)
{
        double best = INFINITY;

        for (unsigned i = 0; i < SCALES_MAX; i++)
                if (rate >= scales_defaults[i].target_rate && scales_defaults[i].target_time < best)
                        best = scales_defaults[i].target_time;
        return best;
}

/* rate: for leaks, growth per hour relative to the level at onset (1.0 = 100 %/h). */
SS_FN void ss_init(struct ss_gen *g, int shape, uint64_t seed, double rate)
{
        memset(g, 0, sizeof(*g));
        g->shape = shape;
        g->rng = seed * UINT64_C(0x2545f4914f6cdd1d) + (uint64_t)shape * 7919;
        g->base = ss_logrange(g, 200 * SS_MIB, 2560 * SS_MIB);
        g->rate = rate * g->base / SS_HOUR;
        /* A fast leak starts an hour into the life; a slower one in a process that has
         * run for 3 h, past the longer scales' start-up (docs/detector.md). */
        g->onset = rate >= 1.0 ? 1 * SS_HOUR : 3 * SS_HOUR;
        g->target = rate > 0 ? ss_target(rate) : SS_DAY;

        switch (shape) {
        case SS_SAWTOOTH:
        case SS_SAWLEAK:
                g->period = ss_logrange(g, 10, 20 * 60);
                /* A cycle is a ramp held for its period: slower than 5 min, it must
                 * grow slower than 40 %/h (under the 12-minute scale's bar of 50 %/h)
                 * or its first ramp is a fast leak held for the target time. */
                g->amp = ss_range(g, 0.10, 0.40);
                if (g->period > 300)
                        g->amp = fmin(g->amp, 0.4 * g->period / SS_HOUR);
                g->next = -ss_unif(g) * g->period;
                g->start = g->next - g->period;
                g->ramp = g->period;
                break;
        case SS_WARM_FAST:
                /* Over (below the fast scale's bar) within about the target time of
                 * the 100 %/h scale: a time constant up to 5 min for a doubling. */
                g->tau = ss_range(g, 60, 300);
                g->amp = ss_range(g, 0.2, 1.0);
                break;
        case SS_WARM_SLOW:
                g->tau = ss_range(g, 1 * SS_HOUR, 6 * SS_HOUR);
                g->amp = ss_range(g, 0.10, 0.30);
                break;
        case SS_HEAP_STEPS:
                g->n_steps = 1 + (int)(ss_unif(g) * 6);
                for (int i = 0; i < g->n_steps; i++) {
                        g->step_t[i] = ss_range(g, 0, 10 * 60);
                        g->step_v[i] = ss_range(g, 0.05, 0.30);
                }
                break;
        case SS_FRAG:
                g->amp = ss_range(g, 0.02, 0.08);
                g->tau = ss_logrange(g, 300, 2 * SS_HOUR);
                break;
        case SS_STEP:
                g->next = ss_range(g, 0, SS_DAY);
                g->amp = ss_range(g, 0.05, 0.50);
                break;
        case SS_BATCH:
                g->next = ss_range(g, 0, SS_HOUR);
                break;
        case SS_WANDER:
                g->amp = ss_range(g, 0.01, 0.025);
                g->tau = ss_logrange(g, 600, 3 * SS_HOUR);
                g->x = ss_normal(g) * g->amp;
                break;
        case SS_DAILY:
                g->phase = ss_unif(g) * SS_DAY;
                /* It has run for days: the detector saw the previous day (the caller
                 * starts the life one day early and counts only the second day). */
                break;
        case SS_STAIRS:
                /* A step every 1/24 to 1/12 of the target time: 37 to 75 s at
                 * 100 %/h, 3 to 6 h at 0.2 %/h; a dozen steps or more before the
                 * target time, so it can be told from one-off steps. */
                g->period = ss_range(g, 1.0 / 24, 1.0 / 12) * g->target;
                g->next = g->onset + ss_unif(g) * g->period;
                break;
        case SS_LOAD:
                g->next = g->onset;
                break;
        case SS_LATE_YOUNG:
                g->onset = 3 * 60;
                break;
        case SS_LATE_WARM:
                g->tau = 5 * 60;
                g->amp = ss_range(g, 0.2, 0.5);
                g->onset = 30 * 60;
                break;
        case SS_LATE_HOUR:
                /* A fast warm-up's start-up (a doubling at most, time constant up to
                 * 5 min) is long over when the leak starts. */
                g->tau = ss_range(g, 60, 300);
                g->amp = ss_range(g, 0.2, 0.5);
                g->onset = SS_HOUR;
                break;
        }
        if (shape == SS_SAWLEAK) {
                /* GC cycles from 3 samples (30 s) to a fifteenth of the target time
                 * (60 s at 100 %/h, 4 min from 10 %/h: a tenth of the catching scale's
                 * window), where the floor is seen. Shorter cycles put each sample at a
                 * random phase of the cycle (a known limit, docs/detector.md). */
                g->period = ss_logrange(g, 30, fmin(240, g->target / 15));
                g->amp = ss_range(g, 0.10, 0.30);
        }
}

/* The healthy part and the leak's growth at time t (from process start). */
SS_FN double ss_level(struct ss_gen *g, double t)
{
        double L = g->base, v = L, lt = t - g->onset;

        switch (g->shape) {
        case SS_SAWTOOTH:
        case SS_SAWLEAK:
                /* Each cycle 0.8-1.2 times the period: a collector runs when the heap
                 * has grown, not on a clock. */
                while (t >= g->next) {
                        g->start = g->next;
                        g->ramp = g->period * ss_range(g, 0.8, 1.2);
                        g->next = g->start + g->ramp;
                }
                v += L * g->amp * (t - g->start) / g->ramp;
                break;
        case SS_WARM_FAST:
        case SS_WARM_SLOW:
        case SS_LATE_WARM:
        case SS_LATE_HOUR:
                v = L * (1 - g->amp * exp(-t / g->tau));
                break;
        case SS_HEAP_STEPS:
                for (int i = 0; i < g->n_steps; i++)
                        if (t >= g->step_t[i])
                                v += L * g->step_v[i];
                break;
        case SS_FRAG:
                v += L * g->amp * log1p(t / g->tau);
                break;
        case SS_STEP:
                if (t >= g->next)
                        v += L * g->amp;
                break;
        case SS_BATCH:
                if (t >= g->next && g->ramp == 0) {
                        g->ramp = ss_range(g, 2 * 60, 30 * 60);
                        g->size = ss_range(g, 0.05, 0.25);
                        /* Growing for longer than 10 min, slower than 40 %/h: faster, it
                         * would be a fast leak held for the fast scale's target time. */
                        if (g->ramp > 600)
                                g->size = fmin(g->size, 0.4 * g->ramp / SS_HOUR);
                        g->start = g->next;
                        g->end = g->start + g->ramp;
                        g->next = g->end + ss_range(g, 10 * 60, 2 * SS_HOUR);
                }
                if (g->ramp > 0 && t >= g->start && t < g->end)
                        v += L * g->size * (t - g->start) / g->ramp;
                if (g->ramp > 0 && t >= g->end)
                        g->ramp = 0;
                break;
        case SS_WANDER: {
                double a = exp(-SS_DT / g->tau);
                g->x = g->x * a + g->amp * sqrt(1 - a * a) * ss_normal(g);
                v += L * g->x;
                break;
        }
        case SS_DAILY:
                v += L * 0.12 * sin(2 * M_PI * (t + g->phase) / SS_DAY);
                break;
        default:
                break;
        }
        if (g->shape < SS__HEALTHY || lt <= 0)
                return v;
        switch (g->shape) {
        case SS_STAIRS:
                while (t >= g->next) {
                        g->extra += g->rate * g->period;
                        g->next += g->period;
                }
                return v + g->extra;
        case SS_ACCEL:
                /* The rate ramps up from 0, through the nominal rate at half the target
                 * time: over the target time it grew as much as a steady leak would. */
                return v + g->rate * lt * lt / g->target;
        case SS_LOAD:
                /* Bursts of load (0.5-1.5 times 1/48 of the target time, gaps 0.5-1.5
                 * times 1/24) carry 3x the rate: the rate, in about 16 bursts before the
                 * target time. Not exponential lengths: with those, a life's growth by
                 * its target time ranged from 40 % to 130 % of the rate's (its tenth of
                 * lives grew at under half the rate), a leak of another rate than the
                 * one the cell names. */
                if (t >= g->next && g->end <= g->next) {
                        g->end = g->next + g->target / 48 * ss_range(g, 0.5, 1.5);
                        g->idle = g->end + g->target / 24 * ss_range(g, 0.5, 1.5);
                }
                if (t >= g->next && t < g->end)
                        g->extra += 3 * g->rate * SS_DT;
                if (t >= g->end && g->end > g->next)
                        g->next = g->idle;
                return v + g->extra;
        default:
                return v + g->rate * lt;
        }
}

/* The next sample: time and value (bytes, page-rounded). */
SS_FN void ss_next(struct ss_gen *g, double *ret_t, double *ret_v)
{
        double v;

        g->t += SS_DT;
        v = ss_level(g, g->t);
        v += g->base * 0.003 * ss_normal(g);
        if (ss_unif(g) < 0.05)
                v += g->base * 0.02 * -log(1 - ss_unif(g));
        v = fmax(0, floor(v / 4096) * 4096);
        *ret_t = g->t;
        *ret_v = v;
}

/* ---- one life through the bank and the rules people write ---- */

enum ss_rule {
        SS_LEAKWATCH,           /* the bank at its defaults */
        SS_PREDICT,             /* predict_linear(x[6h], 1h) > limit, for 5 min */
        SS_COROOT,              /* deriv(x[1h]) > 10 MB/h for 1 h */
        SS_LSQ,                 /* least-squares slope over 1 h > 10 %/h of the level, for 15 min */
        SS__RULES
};
static const char *const ss_rule_name[SS__RULES] = {
        "leakwatch", "predict_linear", "deriv 10MB/h", "lsq 10%/h",
};

struct ss_result {
        double first[SS__RULES];        /* first alert, seconds from the count's start; NAN none */
        unsigned alerts;                /* leakwatch alarms raised */
        bool closed_growing;            /* leakwatch closed an alarm while the leak still grew */
        double closed_t;                /* when */
        int scale;                      /* the scale that raised the first alarm, -1 */
};

/* The working state, large (the rules' rings): static in the caller, one at a time. */
struct ss_run {
        struct scales bank;
        struct scales_params sp;
        struct baseline b[3];
        struct baseline_params bp[3];
        double pred_on;
};

/* Replays one life of `length` seconds (leaks: counted from the onset; healthy: from
 * the start, or the second day for SS_DAILY). The limit for predict_linear is twice
 * the level at onset: a cgroup sized with room for the healthy shapes. */
SS_FN void ss_run(struct ss_run *r, int shape, uint64_t seed, double rate, double length, struct ss_result *ret)
{
        struct ss_gen g;
        double count_from, t, v, limit;
        bool open = false;

        ss_init(&g, shape, seed, rate);
        count_from = shape >= SS__HEALTHY ? g.onset : shape == SS_DAILY ? SS_DAY : 0;
        limit = 2 * g.base;
        scales_params_default(&r->sp, DETECT_MEMORY, SS_DT, 24);
        scales_init(&r->bank, &r->sp, 0, (double)(seed % 60));
        baseline_params_init(&r->bp[0], 6 * SS_HOUR, 0);
        r->bp[0].hold = 300;
        baseline_params_init(&r->bp[1], SS_HOUR, 10e6 / SS_HOUR);
        r->bp[1].hold = SS_HOUR;
        baseline_params_init(&r->bp[2], SS_HOUR, 0);
        r->bp[2].hold = 15 * 60;
        for (int i = 0; i < 3; i++)
                baseline_init(&r->b[i]);
        r->pred_on = NAN;
        for (int i = 0; i < SS__RULES; i++)
                ret->first[i] = NAN;
        ret->alerts = 0;
        ret->closed_growing = false;
        ret->scale = -1;

        for (;;) {
                struct scales_verdict sv;
                struct baseline_verdict bv;
                double parts[SCALES_PARTS];

                ss_next(&g, &t, &v);
                if (t - count_from > length)
                        break;
                parts[0] = v;
                parts[1] = 0;
                if (scales_add(&r->bank, &r->sp, t, parts))
                        while (scales_evaluate(&r->bank, &r->sp, t, NAN, &sv)) {
                                if (!sv.v.changed)
                                        continue;
                                if (sv.v.status == DETECT_LEAKING && !open) {
                                        open = true;
                                        if (t >= count_from) {
                                                ret->alerts++;
                                                if (isnan(ret->first[SS_LEAKWATCH])) {
                                                        ret->first[SS_LEAKWATCH] = t - count_from;
                                                        ret->scale = (int)sv.scale;
                                                }
                                        }
                                } else if (sv.v.status != DETECT_LEAKING && open) {
                                        open = false;
                                        if (shape >= SS__HEALTHY && t >= count_from) {
                                                ret->closed_growing = true;
                                                ret->closed_t = t - count_from;
                                        }
                                }
                        }
                for (int i = 0; i < 3; i++)
                        baseline_add(&r->b[i], &r->bp[i], t, v);
                if (t < count_from && shape != SS_DAILY)
                        continue;
                /* predict_linear(x[6h], 1h): the fitted line one hour ahead. */
                baseline_evaluate(&r->b[0], &r->bp[0], t, &bv);
                if (bv.n >= 2 && isfinite(bv.slope)) {
                        double mean_t = r->b[0].sx / bv.n + r->b[0].t0, mean_v = r->b[0].sy / bv.n + r->b[0].v0;
                        double at = mean_v + bv.slope * (t + SS_HOUR - mean_t);
                        if (at > limit) {
                                if (isnan(r->pred_on))
                                        r->pred_on = t;
                                if (t - r->pred_on >= r->bp[0].hold && isnan(ret->first[SS_PREDICT]) &&
                                    t >= count_from)
                                        ret->first[SS_PREDICT] = t - count_from;
                        } else
                                r->pred_on = NAN;
                }
                baseline_evaluate(&r->b[1], &r->bp[1], t, &bv);
                if (bv.deriv_alert && isnan(ret->first[SS_COROOT]) && t >= count_from)
                        ret->first[SS_COROOT] = t - count_from;
                /* The slope's bar follows the level: 10 %/h of the current mean. */
                r->bp[2].slope_min = 0.10 * (r->b[2].len ? r->b[2].sy / r->b[2].len + r->b[2].v0 : g.base) / SS_HOUR;
                baseline_evaluate(&r->b[2], &r->bp[2], t, &bv);
                if (bv.deriv_alert && isnan(ret->first[SS_LSQ]) && t >= count_from)
                        ret->first[SS_LSQ] = t - count_from;
        }
}

#endif
