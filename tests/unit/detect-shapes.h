/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect-shapes: a deterministic generator of synthetic memory series — the shapes
 * that fool slope rules and the leaks that hide in them — for the detector's unit test
 * and its benchmark. Header-only (static functions), included by both.
 *
 * A series is drawn from a seed: the shape's parameters (sizes, periods, onsets) are
 * drawn once, then each call to shape_next() gives the next sample. Times start at the
 * process start, t = 0 (plus an offset the caller may choose); sample intervals are
 * uniform in [dt_min, dt_max]. Every value carries noise: Gaussian jitter of 0.3% of
 * the base level, and upward spikes (5% of samples, exponential, mean 2% of the base)
 * for transient allocations. Values are rounded to a quantum (a 4 KiB page for bytes,
 * 1 for counts) and never negative.
 *
 * The parameters of each shape are chosen to be realistic *and* hard: big enough that
 * a slope rule with the detector's own minimum growth fires on them, slow enough (for
 * the leaks) to sit within a few times the minimum growth. */
#ifndef LEAKWATCH_DETECT_SHAPES_H
#define LEAKWATCH_DETECT_SHAPES_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "baseline.h"
#include "detect.h"

/* Every program including this uses only some of the functions. */
#define SHAPE_FN static __attribute__((unused))

enum shape {
        /* not leaks */
        SHAPE_FLAT,             /* a steady level with noise */
        SHAPE_SAWTOOTH,         /* a garbage collector: grows, collects, grows */
        SHAPE_CACHE,            /* a cache warms up (exponentially or linearly), then stays */
        SHAPE_STEP,             /* one step up at a random time */
        SHAPE_BATCH,            /* batches: grow for a while, release, idle, again */
        SHAPE_FRAG,             /* fragmentation: steps up ever more rarely, then a plateau */
        SHAPE_FILE,             /* RSS with page cache: fills to a cap, reclaimed now and then */
        SHAPE_WANDER,           /* a mean-reverting wander (Ornstein-Uhlenbeck) */
        SHAPE_WALK,             /* a random walk without drift */
        /* leaks */
        SHAPE_LINEAR,           /* a slow steady leak from the start */
        SHAPE_STAIRS,           /* a leak in repeated steps */
        SHAPE_SAWLEAK,          /* a leak under a GC sawtooth: the floor rises */
        SHAPE_LATE,             /* flat, then a leak starts after one or two windows */
        SHAPE_BURSTY,           /* leaks only under load: bursts of growth, flat between */
        /* known limits: reported by the benchmark, not asserted by the tests */
        SHAPE_WALK_WIDE,        /* a random walk twice as wide: 4% of the level per window */
        SHAPE_SLOW_SAWLEAK,     /* a leak under a GC sawtooth slower than W/8 */
        SHAPE__MAX
};

static const struct {
        const char *name;
        bool leak;
        bool limit;             /* beyond what the detector promises: measured, not asserted */
} shape_info[SHAPE__MAX] = {
        [SHAPE_FLAT] = { "flat", false },
        [SHAPE_SAWTOOTH] = { "gc-sawtooth", false },
        [SHAPE_CACHE] = { "cache-warmup", false },
        [SHAPE_STEP] = { "one-step", false },
        [SHAPE_BATCH] = { "batch", false },
        [SHAPE_FRAG] = { "fragmentation", false },
        [SHAPE_FILE] = { "file-backed", false },
        [SHAPE_WANDER] = { "wander", false },
        [SHAPE_WALK] = { "random-walk", false },
        [SHAPE_LINEAR] = { "linear-leak", true },
        [SHAPE_STAIRS] = { "stairs-leak", true },
        [SHAPE_SAWLEAK] = { "sawtooth-leak", true },
        [SHAPE_LATE] = { "late-leak", true },
        [SHAPE_BURSTY] = { "bursty-leak", true },
        [SHAPE_WALK_WIDE] = { "wide-walk", false, true },
        [SHAPE_SLOW_SAWLEAK] = { "slow-saw-leak", true, true },
};

#define SHAPE_FRAG_EVENTS 40
/* The wander's standard deviation and the random walk's spread per window, relative
 * to the base. 1.5% is 0.3 times the detector's 5% minimum growth: what it promises
 * to ignore. Wider ones alert now and then (docs/detector.md has the sweep; build
 * the benchmark with -DSHAPE_WALK_SIGMA=0.03 to see it). */
#ifndef SHAPE_WANDER_SIGMA
#define SHAPE_WANDER_SIGMA 0.015
#endif
#ifndef SHAPE_WALK_SIGMA
#define SHAPE_WALK_SIGMA 0.015
#endif

struct shape_gen {
        enum shape shape;
        uint64_t rng;                   /* splitmix64 state */
        double window, dt_min, dt_max, base, quantum, t_offset;
        double t;                       /* time of the last sample, from process start */
        double onset;                   /* when the leak starts (leaks), else 0 */
        double rate;                    /* leak: units/s */
        /* shape parameters and state */
        double amp, period, phase, tau, size;
        double x;                       /* wander/walk/file/batch state */
        double next_event, event_end, cycle_start, ramp, idle;
        int variant;
        double ev_t[SHAPE_FRAG_EVENTS], ev_v[SHAPE_FRAG_EVENTS];
};

/* ---- the PRNG: splitmix64, tiny and good enough for test data ---- */

SHAPE_FN uint64_t shape_rand(struct shape_gen *g)
{
        uint64_t z = (g->rng += UINT64_C(0x9e3779b97f4a7c15));
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
SHAPE_FN double shape_unif(struct shape_gen *g)
{
        return (double)(shape_rand(g) >> 11) * 0x1.0p-53;
}

SHAPE_FN double shape_range(struct shape_gen *g, double lo, double hi)
{
        return lo + (hi - lo) * shape_unif(g);
}

SHAPE_FN double shape_normal(struct shape_gen *g)
{
        /* Box-Muller; one of the pair is thrown away to keep the state simple. */
        double u = shape_unif(g), v = shape_unif(g);
        return sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v);
}

SHAPE_FN double shape_exp(struct shape_gen *g, double mean)
{
        return -mean * log(1 - shape_unif(g));
}

/* ---- the shapes ---- */

/* Sets up a series. base: the steady level; quantum: rounding (4096 for bytes, 1 for
 * counts). Leaks grow by 8% to 30% of base per window: from just above the detector's
 * 5% minimum to brisk. */
SHAPE_FN void shape_init(struct shape_gen *g, enum shape s, uint64_t seed, double window, double dt_min,
                       double dt_max, double base, double quantum)
{
        double W = window;

        memset(g, 0, sizeof(*g));
        g->shape = s;
        g->rng = seed * UINT64_C(0x2545f4914f6cdd1d) + (uint64_t)s;
        g->window = W;
        g->dt_min = dt_min;
        g->dt_max = dt_max;
        g->base = base;
        g->quantum = quantum;
        g->rate = base * shape_range(g, 0.08, 0.30) / W;

        switch (s) {
        case SHAPE_FLAT:
                break;
        case SHAPE_SAWTOOTH:
        case SHAPE_SAWLEAK:
        case SHAPE_SLOW_SAWLEAK:
                /* From a GC every W/100 (shorter than a bucket) to every W/6 (several
                 * buckets: the floors themselves then saw). Under a leak, the detector
                 * promises to see through cycles up to W/10, within its 3-bucket
                 * blocks; slower ones are a known limit. */
                g->period = W * exp(shape_range(g, log(1 / 100.0), log(1 / 6.0)));
                if (s == SHAPE_SAWLEAK)
                        g->period = W * exp(shape_range(g, log(1 / 100.0), log(1 / 10.0)));
                else if (s == SHAPE_SLOW_SAWLEAK)
                        g->period = W * shape_range(g, 1 / 10.0, 1 / 5.0);
                g->amp = base * shape_range(g, 0.1, 0.5);
                g->phase = shape_unif(g);
                /* The promise under a sawtooth: a leak of at least 12% a window under a
                 * sawtooth of at most 40%. Fainter leaks under wider teeth, sampled a
                 * handful of times per bucket, are the slow-saw-leak limit's business. */
                if (s == SHAPE_SAWLEAK) {
                        g->amp = base * shape_range(g, 0.1, 0.4);
                        g->rate = base * shape_range(g, 0.12, 0.30) / W;
                }
                break;
        case SHAPE_CACHE:
                g->variant = shape_rand(g) & 1;
                g->size = base * shape_range(g, 0.2, 0.6);
                /* Exponential with a time constant of W/16..W/6, or a linear fill that ends
                 * between W/8 and W/2. */
                g->tau = g->variant ? W * shape_range(g, 1 / 16.0, 1 / 6.0) : W * shape_range(g, 1 / 8.0, 1 / 2.0);
                break;
        case SHAPE_STEP:
                g->next_event = W * shape_range(g, 0.5, 3);
                g->size = base * shape_range(g, 0.1, 0.5);
                break;
        case SHAPE_BATCH:
                g->cycle_start = W * shape_range(g, 0, 0.5);
                g->ramp = W * shape_range(g, 1 / 8.0, 1 / 2.0);
                g->idle = W * shape_range(g, 1 / 8.0, 1 / 3.0);
                g->size = base * shape_range(g, 0.2, 0.8);
                break;
        case SHAPE_FRAG:
                /* Event times exponential with mean tau: the rate of new fragments decays
                 * as e^(-t/tau), so the growth flattens into a plateau. */
                g->tau = W * shape_range(g, 1 / 8.0, 1 / 4.0);
                g->size = base * shape_range(g, 0.1, 0.3);
                for (int i = 0; i < SHAPE_FRAG_EVENTS; i++) {
                        g->ev_t[i] = shape_exp(g, g->tau);
                        g->ev_v[i] = shape_exp(g, g->size / SHAPE_FRAG_EVENTS);
                }
                break;
        case SHAPE_FILE:
                g->size = base * shape_range(g, 0.2, 0.5);              /* cap */
                g->rate = g->size / (W * shape_range(g, 0.15, 0.4));     /* fill speed */
                g->next_event = shape_exp(g, W / 3);                     /* next reclaim */
                break;
        case SHAPE_WANDER:
                g->tau = W / 4;
                g->amp = base * SHAPE_WANDER_SIGMA;     /* stationary standard deviation */
                break;
        case SHAPE_WALK:
        case SHAPE_WALK_WIDE:
                /* SHAPE_WALK_SIGMA of the base over one window (4% for the wide one,
                 * beyond what the detector promises). Over a 6-window run the walk
                 * strays by 3.7% (10%). */
                g->amp = base * (s == SHAPE_WALK ? SHAPE_WALK_SIGMA : 0.04) / sqrt(W);
                break;
        case SHAPE_LINEAR:
                break;
        case SHAPE_STAIRS:
                g->period = W * shape_range(g, 1 / 12.0, 1 / 6.0);
                g->next_event = g->period * shape_range(g, 0.2, 1.2);
                break;
        case SHAPE_LATE:
                g->onset = W * shape_range(g, 1, 2);
                break;
        case SHAPE_BURSTY:
                /* Load comes in bursts every W/10 on average, lasting W/40..W/15; the
                 * leak grows only then, at a rate that averages out to g->rate. */
                g->next_event = shape_exp(g, W / 10);
                g->event_end = -1;
                break;
        case SHAPE__MAX:
                break;
        }
}

/* The next sample: returns its time (plus the offset) in *t and value in *v. */
SHAPE_FN void shape_next(struct shape_gen *g, double *ret_t, double *ret_v)
{
        double W = g->window, dt = shape_range(g, g->dt_min, g->dt_max), t = g->t + dt, v = 0;

        g->t = t;
        switch (g->shape) {
        case SHAPE_FLAT:
                break;
        case SHAPE_SAWTOOTH:
        case SHAPE_SAWLEAK:
        case SHAPE_SLOW_SAWLEAK: {
                double ph = t / g->period + g->phase;
                v = g->amp * (ph - floor(ph));
                if (g->shape != SHAPE_SAWTOOTH)
                        v += g->rate * t;
                break;
        }
        case SHAPE_CACHE:
                if (g->variant)
                        v = g->size * (1 - exp(-t / g->tau));
                else
                        v = g->size * fmin(t / g->tau, 1);
                break;
        case SHAPE_STEP:
                v = t >= g->next_event ? g->size : 0;
                break;
        case SHAPE_BATCH:
                while (t >= g->cycle_start + g->ramp + g->idle) {
                        g->cycle_start += g->ramp + g->idle;
                        g->ramp = W * shape_range(g, 1 / 8.0, 1 / 2.0);
                        g->idle = W * shape_range(g, 1 / 8.0, 1 / 3.0);
                        g->size = g->base * shape_range(g, 0.2, 0.8);
                }
                if (t >= g->cycle_start && t < g->cycle_start + g->ramp)
                        v = g->size * (t - g->cycle_start) / g->ramp;
                break;
        case SHAPE_FRAG:
                for (int i = 0; i < SHAPE_FRAG_EVENTS; i++)
                        if (g->ev_t[i] <= t)
                                v += g->ev_v[i];
                break;
        case SHAPE_FILE:
                g->x = fmin(g->x + g->rate * dt, g->size);
                if (t >= g->next_event) {
                        g->x *= 1 - shape_range(g, 0.3, 1);
                        g->next_event = t + shape_exp(g, W / 3);
                }
                v = g->x;
                break;
        case SHAPE_WANDER: {
                double a = exp(-dt / g->tau);
                g->x = g->x * a + g->amp * sqrt(1 - a * a) * shape_normal(g);
                v = g->x;
                break;
        }
        case SHAPE_WALK:
        case SHAPE_WALK_WIDE:
                g->x += g->amp * sqrt(dt) * shape_normal(g);
                v = g->x;
                break;
        case SHAPE_LINEAR:
                v = g->rate * t;
                break;
        case SHAPE_STAIRS:
                while (t >= g->next_event) {
                        g->x += g->rate * g->period;
                        g->next_event += g->period * shape_range(g, 0.8, 1.2);
                }
                v = g->x;
                break;
        case SHAPE_LATE:
                v = t > g->onset ? g->rate * (t - g->onset) : 0;
                break;
        case SHAPE_BURSTY:
                /* A burst starts at next_event and ends at event_end; bursts take about
                 * 30% of the time, so the floor grows at 3.2x the mean rate during them,
                 * and requests add transient memory on top. */
                if (t >= g->next_event) {
                        g->event_end = g->next_event + W * shape_range(g, 1 / 40.0, 1 / 15.0);
                        g->next_event = g->event_end + shape_exp(g, W / 10);
                }
                if (t < g->event_end) {
                        g->x += 3.2 * g->rate * dt;
                        v = g->x + g->base * 0.05 * shape_unif(g);
                } else
                        v = g->x;
                break;
        case SHAPE__MAX:
                break;
        }

        v += g->base + g->base * 0.003 * shape_normal(g);
        if (shape_unif(g) < 0.05)
                v += shape_exp(g, g->base * 0.02);
        v = g->quantum * nearbyint(v / g->quantum);
        *ret_t = t + g->t_offset;
        *ret_v = v < 0 ? 0 : v;
}

/* ---- one run: a series through the detector and both baselines ---- */

/* The base level of the memory series: 200 MiB, a mid-sized server process. */
#define SHAPE_BASE (200.0 * 1024 * 1024)

struct shape_result {
        double onset;                   /* when the leak starts (0 for non-leaks) */
        double detect_t;                /* first LEAKING, seconds after onset; NAN: never */
        double deriv_t, linreg_t;       /* first alert of each baseline, after onset; NAN: never */
        unsigned alerts;                /* times LEAKING was entered */
        unsigned suspects;              /* times SUSPECT was entered */
        unsigned evaluations;
};

/* Runs shape s from seed for `duration` seconds after the leak's onset (leaks) or
 * from the start (the rest), sampling every dt_min..dt_max, evaluating the detector at
 * each closed bucket and the baselines at the same moments. The baselines see the
 * same samples after the warm-up (so they are not blamed for start-up) and alert at
 * the detector's own minimum growth, for the detector's confirmation time. */
SHAPE_FN void shape_run(enum shape s, uint64_t seed, double window, double dt_min, double dt_max,
                      double duration, struct shape_result *r)
{
        struct shape_gen g;
        struct detect_params p;
        struct baseline_params bp;
        static struct detect d;
        static struct baseline b;
        double t, v, end;

        shape_init(&g, s, seed, window, dt_min, dt_max, SHAPE_BASE, 4096);
        detect_params_init(&p, DETECT_MEMORY, window);
#ifdef SHAPE_TUNING
        SHAPE_TUNING(&p);
#endif
        baseline_params_init(&bp, window, fmax(p.min_growth, p.min_growth_rel * SHAPE_BASE) / window);
        detect_init(&d, 0);
        baseline_init(&b);
        memset(r, 0, sizeof(*r));
        r->onset = g.onset;
        r->detect_t = r->deriv_t = r->linreg_t = NAN;
        end = g.onset + duration;

        for (;;) {
                struct detect_verdict dv;
                struct baseline_verdict bv;

                shape_next(&g, &t, &v);
                if (t > end)
                        break;
                if (t >= p.warmup)
                        baseline_add(&b, &bp, t, v);
                if (!detect_add(&d, &p, t, v))
                        continue;
                detect_evaluate(&d, &p, t, NAN, &dv);
                baseline_evaluate(&b, &bp, t, &bv);
                r->evaluations++;
                if (dv.changed && dv.status == DETECT_SUSPECT)
                        r->suspects++;
                if (dv.changed && dv.status == DETECT_LEAKING) {
                        r->alerts++;
                        if (isnan(r->detect_t))
                                r->detect_t = t - g.onset;
                }
                if (bv.deriv_alert && isnan(r->deriv_t) && t >= g.onset)
                        r->deriv_t = t - g.onset;
                if (bv.linreg_alert && isnan(r->linreg_t) && t >= g.onset)
                        r->linreg_t = t - g.onset;
        }
}

#endif
