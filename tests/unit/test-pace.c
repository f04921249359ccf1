/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-pace: the sampling tick's schedule — on the grid, late ticks skipped, and an
 * overrun that slows sampling down instead of falling behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pace.h"

#define MS USEC_PER_MSEC

static void test_on_time(void **state)
{
        usec_t next = 1000 * MS;

        (void)state;
        /* A tick due at 1 s took 30 ms: the next is due at 2 s. */
        assert_int_equal(pace_next(&next, 1000 * MS, 1030 * MS, 30 * MS), PACE_ON_TIME);
        assert_int_equal(next, 2000 * MS);
}

/* A tick made late by a fold (or a stalled host) skips the missed grid points: no burst
 * of catch-up ticks, and the grid stays where it was. */
static void test_late_skips_to_the_grid(void **state)
{
        usec_t next = 1000 * MS;

        (void)state;
        assert_int_equal(pace_next(&next, 1000 * MS, 4500 * MS, 40 * MS), PACE_SKIPPED);
        assert_int_equal(next, 5000 * MS);
        next = 1000 * MS;
        /* Finished exactly on a grid point: that point is past, the next one is due. */
        assert_int_equal(pace_next(&next, 1000 * MS, 3000 * MS, 40 * MS), PACE_SKIPPED);
        assert_int_equal(next, 4000 * MS);
}

/* Sampling that outlasts the interval leaves as much idle time as it took: over many
 * such ticks the daemon is busy at most half the time and the ticks it takes stay
 * bounded by the work, never queued behind each other. */
static void test_overrun_slows_down(void **state)
{
        usec_t next = 1000 * MS, now = 1000 * MS;
        unsigned ticks = 0;

        (void)state;
        for (;;) {
                usec_t work = 1500 * MS; /* every tick takes 1.5 intervals */
                usec_t start = next > now ? next : now;

                if (start >= 61000 * MS)
                        break;
                now = start + work;
                assert_int_equal(pace_next(&next, 1000 * MS, now, work), PACE_OVERRUN);
                assert_true(next >= now + work);
                ticks++;
        }
        /* Ticks starting in 60 s, each 1.5 s of work and 1.5 s of rest: 20, where the grid
         * asked for 60. */
        assert_int_equal(ticks, 20);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_on_time),
                cmocka_unit_test(test_late_skips_to_the_grid),
                cmocka_unit_test(test_overrun_slows_down),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
