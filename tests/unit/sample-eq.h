/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sample-eq: asserts that two samples say the same (include after cmocka.h). */
#pragma once

#include "sample.h"

/* Same time, same metrics present with the same values, same reasons for the rest. */
static inline void assert_same_sample(const struct sample *a, const struct sample *b)
{
        assert_int_equal(a->t_ms, b->t_ms);
        assert_int_equal(a->have, b->have);
        for (int m = 0; m < M__MAX; m++)
                if (sample_has(a, (enum metric)m))
                        assert_int_equal(a->v[m], b->v[m]);
        assert_memory_equal(a->why, b->why, sizeof(a->why));
}
