/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-nearlimit: the time to each limit (lib/forecast) and the short-scale judge that
 * tells growth heading for one (lib/nearlimit), on a simulated clock at the default
 * 10 s sampling: a leak that reaches its limit within the hour is told within 10
 * minutes of its start, with the right limit and time; a process flat near its limit, a
 * garbage collector's sawtooth below it, a one-off step and noise are not. Random
 * series come from fixed seeds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "forecast.h"
#include "nearlimit.h"

#define MIB (1024.0 * 1024.0)
#define INTERVAL 10.0
#define HOUR 3600.0

static void assert_near_at(double a, double b, double eps, const char *expr, const char *file, int line)
{
        if (fabs(a - b) <= eps)
                return;
        print_error("%s:%d: %s is %.17g, expected %.17g within %g\n", file, line, expr, a, b, eps);
        fail();
}
#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), #a, __FILE__, __LINE__)

/* ---- forecast ---- */

static void test_forecast_each_limit(void **state)
{
        struct limit_set s;
        struct forecast f;
        char buf[32];

        (void)state;
        limit_set_init(&s);
        s.level = 100 * MIB;
        s.room[LIMIT_MEMORY_MAX] = 60 * MIB;
        s.room[LIMIT_HOST] = 600 * MIB;
        s.room[LIMIT_AS] = 30 * MIB;
        s.room[LIMIT_NOFILE] = 10;
        /* 1 MiB/s, at least 0.5 MiB/s; 10 MiB grown since the reading. */
        forecast_limits(&s, DETECT_MEMORY, 110 * MIB, 1 * MIB, 0.5 * MIB, &f);
        assert_near(f.room[LIMIT_MEMORY_MAX], 50 * MIB, 1);
        assert_near(f.seconds[LIMIT_MEMORY_MAX], 50, 1e-9);
        assert_near(f.seconds_low[LIMIT_MEMORY_MAX], 100, 1e-9);
        assert_near(f.seconds[LIMIT_HOST], 590, 1e-9);
        assert_near(f.seconds[LIMIT_AS], 20, 1e-9);
        assert_true(isnan(f.seconds[LIMIT_MEMORY_HIGH]));
        assert_true(isnan(f.seconds[LIMIT_DATA]));
        /* The descriptor limit is no memory limit. */
        assert_true(isnan(f.seconds[LIMIT_NOFILE]));
        assert_int_equal(f.nearest, LIMIT_AS);
        assert_int_equal(forecast_within(&f, 30), LIMIT_AS);
        assert_int_equal(forecast_within(&f, 10), -1);

        /* Not growing: every known limit is never reached; already over: now. */
        s.room[LIMIT_AS] = 0;
        forecast_limits(&s, DETECT_MEMORY, 100 * MIB, 0, NAN, &f);
        assert_true(isinf(f.seconds[LIMIT_MEMORY_MAX]));
        assert_near(f.seconds[LIMIT_AS], 0, 0);
        assert_int_equal(f.nearest, LIMIT_AS);

        forecast_limits(&s, DETECT_FDS, 20, 0.1, NAN, &f);
        assert_near(f.seconds[LIMIT_NOFILE], 100, 1e-9);
        assert_true(isnan(f.seconds[LIMIT_MEMORY_MAX]));
        assert_int_equal(f.nearest, LIMIT_NOFILE);

        forecast_format(12 * 60 + 59, buf, sizeof(buf));
        assert_string_equal(buf, "12 min");
        forecast_format(INFINITY, buf, sizeof(buf));
        assert_string_equal(buf, "never at this rate");
        assert_int_equal(limit_from_name("memory.high"), LIMIT_MEMORY_HIGH);
        assert_int_equal(limit_from_name("nope"), -1);
}

/* ---- the judge on a simulated clock ---- */

static uint64_t rng_state;
static double noise(double amplitude)
{
        rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        return amplitude * ((double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1);
}

typedef double (*shape_fn)(double t);

struct run {
        double raised_at;               /* first raise, seconds from the start; NAN: none */
        int raised_limit;
        double raised_seconds;          /* the time to it then */
        unsigned raises, clears;
        unsigned judged, skipped;       /* judgements; those nearlimit_may_grow() refused */
};

/* Samples shape every 10 s for `length` seconds, alone in a cgroup whose memory.max is
 * `limit` (its room is the limit less the sample), the host not known; judges at every
 * closed bucket as the engine does. */
static void run_shape(shape_fn shape, double length, double limit, uint64_t seed, struct run *r)
{
        struct nearlimit_params p;
        struct nearlimit n;

        rng_state = seed;
        nearlimit_params_init(&p, DETECT_MEMORY, INTERVAL, HOUR);
        nearlimit_init(&n);
        *r = (struct run){ .raised_at = NAN, .raised_limit = -1 };
        /* The clock starts in 2001, off the buckets' edges. */
        for (double t = 0; t < length; t += INTERVAL) {
                double now = 1e9 + 7 + t, v = shape(t);
                struct nearlimit_growth g;
                struct forecast f;
                bool near = false;

                if (!nearlimit_add(&n, &p, now, v))
                        continue;
                nearlimit_growth(&n, &p, &g);
                /* The engine asks nearlimit_may_grow() first and skips the rates when it
                 * says no: it may never say no to a window that grows. */
                r->judged++;
                if (!nearlimit_may_grow(&n, &p)) {
                        assert_false(g.growing);
                        r->skipped++;
                }
                if (g.growing) {
                        struct limit_set s;

                        limit_set_init(&s);
                        s.level = v;
                        s.room[LIMIT_MEMORY_MAX] = fmax(limit - v, 0);
                        forecast_limits(&s, DETECT_MEMORY, g.level, g.rate, g.rate_low, &f);
                        near = forecast_within(&f, p.horizon) >= 0;
                }
                switch (nearlimit_judge(&n, &p, now, near)) {
                case NEARLIMIT_RAISE:
                        if (!r->raises++) {
                                r->raised_at = t;
                                r->raised_limit = f.nearest;
                                r->raised_seconds = f.seconds[f.nearest];
                        }
                        break;
                case NEARLIMIT_CLEAR:
                        r->clears++;
                        break;
                case NEARLIMIT_SAME:
                        break;
                }
        }
}

#define LIMIT (1024 * MIB)
#define BASE (400 * MIB)
#define ONSET (1800.0)

/* Flat at 400 MiB for half an hour, then leaks so it reaches the limit `minutes` after. */
static double leak_minutes;
static double leak(double t)
{
        double rate = (LIMIT - BASE) / (leak_minutes * 60);

        return BASE + noise(2 * MIB) + (t > ONSET ? rate * (t - ONSET) : 0);
}

static void test_leak_to_limit_within_ten_minutes(void **state)
{
        static const double minutes[] = { 15, 30, 45, 60 };

        (void)state;
        for (size_t i = 0; i < sizeof(minutes) / sizeof(minutes[0]); i++)
                for (uint64_t seed = 1; seed <= 5; seed++) {
                        struct run r;

                        leak_minutes = minutes[i];
                        run_shape(leak, ONSET + minutes[i] * 60, LIMIT, seed, &r);
                        if (!(r.raised_at - ONSET <= 600 && r.raised_at > ONSET))
                                print_error("limit in %.0f min, seed %llu: raised at %+.0f s from the onset\n",
                                            minutes[i], (unsigned long long)seed, r.raised_at - ONSET);
                        assert_true(r.raised_at > ONSET && r.raised_at - ONSET <= 600);
                        assert_int_equal(r.raised_limit, LIMIT_MEMORY_MAX);
                        /* The time it told is the time left, within a fifth. */
                        double left = ONSET + minutes[i] * 60 - r.raised_at;
                        assert_near(r.raised_seconds, left, left / 5);
                        assert_int_equal(r.raises, 1);
                }
}

/* A leak that would take three hours to reach it is no business of this judge. */
static void test_slow_leak_not_near(void **state)
{
        struct run r;

        (void)state;
        leak_minutes = 180;
        run_shape(leak, ONSET + 90 * 60, LIMIT, 3, &r);
        assert_int_equal(r.raises, 0);
}

/* Flat 8 MiB under the limit, with noise of +-4 MiB for six hours. */
static double flat_near(double t)
{
        (void)t;
        return LIMIT - 8 * MIB + noise(4 * MIB);
}

static double sawtooth_period;
/* A collector's heap: rises from 500 to 950 MiB, then drops back, every period. */
static double sawtooth(double t)
{
        double phase = fmod(t, sawtooth_period) / sawtooth_period;

        return 500 * MIB + 450 * MIB * phase + noise(1 * MIB);
}

/* One step of 100 MiB, 100 MiB under the limit. */
static double step(double t)
{
        return (t < 2 * HOUR ? 800 * MIB : 900 * MIB) + noise(1 * MIB);
}

static void test_silent_near_limit(void **state)
{
        /* Up to the window (8 min): a whole cycle is seen before the first judgement. */
        static const double periods[] = { 20, 60, 180, 300, 420 };
        struct run r;

        (void)state;
        for (uint64_t seed = 1; seed <= 5; seed++) {
                run_shape(flat_near, 6 * HOUR, LIMIT, seed, &r);
                assert_int_equal(r.raises, 0);
                /* A flat process's judgements mostly need no rate. */
                assert_true(r.skipped * 4 >= r.judged * 3);
                run_shape(step, 6 * HOUR, LIMIT, seed, &r);
                assert_int_equal(r.raises, 0);
                for (size_t i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
                        sawtooth_period = periods[i];
                        run_shape(sawtooth, 6 * HOUR, LIMIT, seed, &r);
                        if (r.raises)
                                print_error("sawtooth of %.0f s, seed %llu: raised at %.0f s\n", periods[i],
                                            (unsigned long long)seed, r.raised_at);
                        assert_int_equal(r.raises, 0);
                }
        }
}

/* A sawtooth slower than the window: its first rise, watched from the trough, is growth
 * toward the limit like any other and is told; once it has fallen back, its later rises
 * stay below the floors it held and are not. */
static void test_slow_sawtooth_told_once(void **state)
{
        struct run r;

        (void)state;
        for (sawtooth_period = 470; sawtooth_period <= 1200; sawtooth_period *= 1.6) {
                run_shape(sawtooth, 6 * HOUR, LIMIT, 1, &r);
                assert_true(r.raises <= 1);
                assert_true(isnan(r.raised_at) || r.raised_at <= sawtooth_period);
        }
}

/* Growth near the judge's bar (1 MiB a window of 8 min), from under it to a few times
 * it: run_shape() checks at each judgement that nearlimit_may_grow() does not refuse a
 * window nearlimit_growth() says grows, where the two are closest. */
static double bar_rate;
static double near_bar(double t)
{
        return BASE + noise(0.25 * MIB) + bar_rate * t;
}

static void test_may_grow_at_the_bar(void **state)
{
        unsigned growing = 0;
        struct run r;

        (void)state;
        for (double per_window = 0.5; per_window <= 4; per_window *= 1.15)
                for (uint64_t seed = 1; seed <= 4; seed++) {
                        bar_rate = per_window * MIB / 480;
                        run_shape(near_bar, 2 * HOUR, LIMIT, seed, &r);
                        growing += r.judged - r.skipped;
                }
        /* Some windows were close enough to be judged with their rates. */
        assert_true(growing > 0);
}

/* After a leak stops, the alert is over once two windows pass without a limit near. */
static double leak_then_stop(double t)
{
        double rate = 300 * MIB / 1800;

        return BASE + noise(1 * MIB) + (t > ONSET ? rate * (fmin(t, ONSET + 1200) - ONSET) : 0);
}

static void test_clears_when_growth_stops(void **state)
{
        struct run r;

        (void)state;
        run_shape(leak_then_stop, 3 * HOUR, 800 * MIB, 2, &r);
        assert_int_equal(r.raises, 1);
        assert_int_equal(r.clears, 1);
}

/* Replaying the same samples gives the same state, byte for byte. */
static void test_replay_same_state(void **state)
{
        struct nearlimit_params p;
        struct nearlimit a, b;

        (void)state;
        nearlimit_params_init(&p, DETECT_MEMORY, INTERVAL, HOUR);
        nearlimit_init(&a);
        nearlimit_init(&b);
        rng_state = 9;
        leak_minutes = 30;
        for (double t = 0; t < 3 * HOUR; t += INTERVAL) {
                double v = leak(t);
                (void)nearlimit_add(&a, &p, 1e9 + t, v);
                (void)nearlimit_add(&b, &p, 1e9 + t, v);
                /* Out of order and non-finite samples are ignored. */
                assert_false(nearlimit_add(&b, &p, 1e9 + t - 1, v));
                assert_false(nearlimit_add(&b, &p, 1e9 + t + 0.5, NAN));
        }
        assert_memory_equal(&a, &b, sizeof(a));
        /* With sampling every minute the buckets widen, so a floor still sees three. */
        nearlimit_params_init(&p, DETECT_MEMORY, 60, HOUR);
        assert_near(p.bucket, 180, 0);
        assert_near(p.window, 180 * NEARLIMIT_BUCKETS, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_forecast_each_limit),
                cmocka_unit_test(test_leak_to_limit_within_ten_minutes),
                cmocka_unit_test(test_slow_leak_not_near),
                cmocka_unit_test(test_silent_near_limit),
                cmocka_unit_test(test_slow_sawtooth_told_once),
                cmocka_unit_test(test_may_grow_at_the_bar),
                cmocka_unit_test(test_clears_when_growth_stops),
                cmocka_unit_test(test_replay_same_state),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
