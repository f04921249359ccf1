/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-headroom: every known limit read for a process, relative to fixture roots — a
 * proc root with its /proc/PID/limits, the cgroup fixture tree — against its latest
 * sample: RLIMIT_AS and RLIMIT_DATA against VmSize and VmData, RLIMIT_NOFILE against
 * the descriptors, memory.max and memory.high up the cgroup tree, the host's memory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"
#include "headroom.h"
#include "proc.h"
#include "util.h"
#include "tmpdir.h"

#define MIB (1024 * 1024)

static int64_t host_room(void)
{
        return 3000 * (int64_t)MIB;
}

static void test_every_limit(void **state)
{
        const char *fixtures = getenv("LEAKWATCH_TEST_FIXTURES");
        char dir[] = "/tmp/leakwatch-test-headroom-XXXXXX", path[PATH_MAX];
        struct sampler_proc p = { .pid = 4242 };
        struct sample s = { .t_ms = 1 };
        struct limit_set set;
        struct headroom h;
        FILE *f;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/4242", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/4242/limits", dir);
        assert_non_null(f = fopen(path, "w"));
        fputs("Limit                     Soft Limit           Hard Limit           Units     \n"
              "Max data size             419430400            unlimited            bytes     \n"
              "Max address space         1073741824           unlimited            bytes     \n"
              "Max open files            1024                 4096                 files     \n", f);
        fclose(f);
        snprintf(path, sizeof(path), "%s/cgroup", fixtures ? fixtures : "tests/fixtures");
        h = (struct headroom){ .proc_root = proc_root_open(dir), .cgroup_root = cgroup_root_open(path),
                               .host_headroom = host_room };
        assert_true(h.proc_root >= 0 && h.cgroup_root >= 0);
        p.cgroup = "/limited.slice/child.service";
        sample_set(&s, M_ANON, 100 * MIB);
        sample_set(&s, M_SWAP, 0);
        sample_set(&s, M_VSIZE, 600 * MIB);
        sample_set(&s, M_DATA, 300 * MIB);
        sample_set(&s, M_FDS, 24);

        headroom_read(&h, &p, &s, DETECT_MEMORY, &set);
        assert_true(set.level == 100 * MIB);
        assert_true(set.room[LIMIT_AS] == 1073741824.0 - 600 * MIB);
        assert_true(set.room[LIMIT_DATA] == 419430400.0 - 300 * MIB);
        assert_true(set.room[LIMIT_MEMORY_MAX] == 100000);
        assert_true(set.room[LIMIT_MEMORY_HIGH] == 50000);
        assert_true(set.room[LIMIT_HOST] == 3000.0 * MIB);
        assert_true(isnan(set.room[LIMIT_NOFILE]));

        headroom_read(&h, &p, &s, DETECT_FDS, &set);
        assert_true(set.level == 24);
        assert_true(set.room[LIMIT_NOFILE] == 1000);
        assert_true(isnan(set.room[LIMIT_AS]) && isnan(set.room[LIMIT_HOST]));

        /* Gone, or unlimited: unknown, never an error. */
        p.pid = 4343;
        p.cgroup = "/system.slice/nolimit.service";
        headroom_read(&h, &p, &s, DETECT_MEMORY, &set);
        assert_true(isnan(set.room[LIMIT_AS]) && isnan(set.room[LIMIT_DATA]));
        assert_true(isnan(set.room[LIMIT_MEMORY_MAX]) && isnan(set.room[LIMIT_MEMORY_HIGH]));
        assert_true(set.room[LIMIT_HOST] == 3000.0 * MIB);

        close(h.proc_root);
        close(h.cgroup_root);
        tmpdir_remove(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_limit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
