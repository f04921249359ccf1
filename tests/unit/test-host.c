/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for host: what libproc2 reports agrees with the kernel's own files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host.h"

static uint64_t file_value(const char *path, const char *key)
{
        char line[256];
        uint64_t v = 0;
        FILE *f = fopen(path, "re");

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0) {
                        sscanf(line + strlen(key), "%lu", &v);
                        break;
                }
        fclose(f);
        return v;
}

static void test_memory(void **state)
{
        struct host_memory m;
        uint64_t total = file_value("/proc/meminfo", "MemTotal:") * 1024;
        uint64_t swap_total = file_value("/proc/meminfo", "SwapTotal:") * 1024;

        (void)state;
        assert_int_equal(host_memory(&m), 0);
        /* Each value is its own: the library hands out one result slot per call. */
        assert_int_equal(m.total, total);
        assert_true(m.available > 0 && m.available <= m.total);
        assert_true(m.swap_free <= swap_total);
}

static void test_boot_time_and_ticks(void **state)
{
        int64_t ms = 0;

        (void)state;
        assert_int_equal(host_boot_time_ms(&ms), 0);
        assert_int_equal(ms, (int64_t)file_value("/proc/stat", "btime ") * 1000);
        assert_int_equal(host_clock_ticks(), sysconf(_SC_CLK_TCK));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_memory),
                cmocka_unit_test(test_boot_time_and_ticks),
        };

        return cmocka_run_group_tests_name("host", tests, NULL, NULL);
}
