/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-budget: the CPU-time token bucket that bounds smaps_rollup reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "budget.h"

#define SEC USEC_PER_SEC

/* A full bucket allows reads until their cost is spent, then none until time refills it. */
static void test_spends_and_refills(void **state)
{
        struct budget b;

        (void)state;
        budget_init(&b, 0.01, 10000, SEC); /* 1% of a core, 10 ms banked */
        assert_true(budget_allow(&b, SEC));
        budget_spend(&b, 6000);
        assert_true(budget_allow(&b, SEC));
        budget_spend(&b, 6000); /* 2 ms in debt */
        assert_false(budget_allow(&b, SEC));
        /* 1% of 100 ms is 1 ms: still 1 ms short. */
        assert_false(budget_allow(&b, SEC + SEC / 10));
        /* 1% of another 150 ms: 0.5 ms to spare. */
        assert_true(budget_allow(&b, SEC + SEC / 4));
        assert_int_equal(b.allowed, 3);
        assert_int_equal(b.denied, 2);
}

/* Idle time banks no more than the burst: a quiet hour does not buy a storm of reads. */
static void test_burst_caps_the_balance(void **state)
{
        struct budget b;
        int reads = 0;

        (void)state;
        budget_init(&b, 0.01, 10000, 0);
        while (budget_allow(&b, 3600 * SEC)) {
                budget_spend(&b, 1000);
                reads++;
        }
        assert_int_equal(reads, 10);
}

/* Over a long run the CPU spent stays within the share, whatever a read costs: the
 * overshoot is at most one read. */
static void test_long_run_share(void **state)
{
        static const usec_t costs[] = { 1, 300, 5000, 250000 };

        (void)state;
        for (size_t c = 0; c < sizeof(costs) / sizeof(costs[0]); c++) {
                struct budget b;
                usec_t spent = 0, t;

                budget_init(&b, 0.02, 20000, 0);
                for (t = 0; t <= 600 * SEC; t += SEC / 10)
                        while (budget_allow(&b, t)) {
                                budget_spend(&b, costs[c]);
                                spent += costs[c];
                        }
                /* The share of 600 s, plus the initial burst, plus one read's overshoot. */
                assert_true(spent <= 600 * SEC / 50 + 20000 + costs[c]);
                /* And it is used, not wasted: at least the share less one read. */
                assert_true(spent + costs[c] >= 600 * SEC / 50);
        }
}

/* A reload keeps the debt, caps savings at the new burst, and a clock that goes back
 * refills nothing. */
static void test_set_and_clock(void **state)
{
        struct budget b;

        (void)state;
        budget_init(&b, 0.01, 10000, 10 * SEC);
        budget_set(&b, 0.5, 100);
        assert_true(b.tokens == 100);
        budget_spend(&b, 1000);
        assert_false(budget_allow(&b, 5 * SEC));
        assert_false(budget_allow(&b, 10 * SEC + 1000)); /* +500 µs: still 400 short */
        assert_true(budget_allow(&b, 10 * SEC + 2000));
        budget_set(&b, 0.5, 50);
        assert_true(b.tokens <= 50);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spends_and_refills),
                cmocka_unit_test(test_burst_caps_the_balance),
                cmocka_unit_test(test_long_run_share),
                cmocka_unit_test(test_set_and_clock),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
