/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz: helpers every harness links, with libFuzzer or with the replay driver. */
#include "fuzz.h"

#include <stdlib.h>

size_t fuzz_whole_lines(const uint8_t *data, size_t len)
{
        while (len > 0 && data[len - 1] != '\n')
                len--;
        return len;
}

const char *fuzz_fixtures(void)
{
        const char *e = getenv("LEAKWATCH_TEST_FIXTURES");

        return e && *e ? e : "tests/fixtures";
}
