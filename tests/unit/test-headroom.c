/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-headroom: every known limit read for a process, relative to fixture roots — a
 * proc root with its /proc/PID/limits, the cgroup fixture tree — against its latest
 * sample: RLIMIT_AS and RLIMIT_DATA against VmSize and VmData, RLIMIT_NOFILE against
 * the descriptors, memory.max and memory.high up the cgroup tree, the host's memory;
 * memory.limit_in_bytes and memory.soft_limit_in_bytes for a process whose memory
 * cgroup is on a legacy (v1) hierarchy, found from its /proc/PID/cgroup. */
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

static void write_file(const char *dir, const char *name, const char *text)
{
        char path[PATH_MAX];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_non_null(f = fopen(path, "w"));
        fputs(text, f);
        fclose(f);
}

static void subdir(const char *dir, const char *name)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(mkdir(path, 0755), 0);
}

/* A /proc with one process, 4242, whose limits file says text. */
static int proc_with_limits(const char *dir, const char *text)
{
        subdir(dir, "4242");
        write_file(dir, "4242/limits", text);
        return proc_root_open(dir);
}

static void test_every_limit(void **state)
{
        const char *fixtures = getenv("LEAKWATCH_TEST_FIXTURES");
        char dir[] = "/tmp/leakwatch-test-headroom-XXXXXX", path[PATH_MAX];
        struct sampler_proc p = { .pid = 4242 };
        struct sample s = { .t_ms = 1 };
        struct limit_set set;
        struct headroom h;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/cgroup", fixtures ? fixtures : "tests/fixtures");
        h = (struct headroom){ .proc_root = proc_with_limits(dir,
                                 "Limit                     Soft Limit           Hard Limit           Units     \n"
                                 "Max data size             419430400            unlimited            bytes     \n"
                                 "Max address space         1073741824           unlimited            bytes     \n"
                                 "Max open files            1024                 4096                 files     \n"),
                               .cgroup_root = cgroup_root_open(path),
                               .cgroup_v1_root = -1, .host_headroom = host_room };
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

/* The BPF pass reads RLIMIT_NOFILE with the descriptor count: the descriptors' room is
 * then that limit's, with no read of /proc/PID/limits (here: none to read, a
 * different limit in the file). Without it, /proc's. */
static void test_nofile_from_the_pass(void **state)
{
        char dir[] = "/tmp/leakwatch-test-headroom-XXXXXX";
        struct sampler_proc p = { .pid = 4242, .cgroup = "", .has_nofile = true, .nofile = 256 };
        struct sample s = { .t_ms = 1 };
        struct limit_set set;
        const char *kind;
        struct headroom h;

        (void)state;
        assert_non_null(mkdtemp(dir));
        h = (struct headroom){ .proc_root = proc_with_limits(dir,
                                 "Limit                     Soft Limit           Hard Limit           Units     \n"
                                 "Max data size             unlimited            unlimited            bytes     \n"
                                 "Max address space         unlimited            unlimited            bytes     \n"
                                 "Max open files            1024                 4096                 files     \n"),
                               .cgroup_root = -1, .cgroup_v1_root = -1,
                               .host_headroom = host_room };
        assert_true(h.proc_root >= 0);
        sample_set(&s, M_FDS, 24);

        assert_true(headroom_left(&h, &p, DETECT_FDS, 24, &kind) == 232);
        assert_string_equal(kind, "descriptor");
        headroom_read(&h, &p, &s, DETECT_FDS, &set);
        assert_true(set.room[LIMIT_NOFILE] == 232);

        p.nofile = UINT64_MAX;
        assert_true(isnan(headroom_left(&h, &p, DETECT_FDS, 24, &kind)));
        assert_null(kind);
        headroom_read(&h, &p, &s, DETECT_FDS, &set);
        assert_true(isnan(set.room[LIMIT_NOFILE]));

        p.has_nofile = false;
        assert_true(headroom_left(&h, &p, DETECT_FDS, 24, &kind) == 1000);
        headroom_read(&h, &p, &s, DETECT_FDS, &set);
        assert_true(set.room[LIMIT_NOFILE] == 1000);
        close(h.proc_root);
        tmpdir_remove(dir);
}

/* A hybrid host: v1 memory, cgroup2 mounted beside it. The v1 limits are read for the
 * process's v1 memory cgroup (the sampler's cgroup_v1), never memory.max for the unified
 * path it keeps as well. */
static void test_v1_limits(void **state)
{
        const char *fixtures = getenv("LEAKWATCH_TEST_FIXTURES");
        char dir[] = "/tmp/leakwatch-test-headroom-XXXXXX", path[PATH_MAX];
        struct sampler_proc p = { .pid = 4242, .cgroup = "/system.slice/app.service", .cgroup_v1 = "/docker/abc" };
        struct sample s = { .t_ms = 1 };
        struct limit_set set;
        const char *kind;
        struct headroom h;
        int v2;

        (void)state;
        assert_non_null(mkdtemp(dir));
        subdir(dir, "4242");
        subdir(dir, "4343");
        snprintf(path, sizeof(path), "%s/cgroup-v1", fixtures ? fixtures : "tests/fixtures");
        h = (struct headroom){ .proc_root = proc_root_open(dir), .cgroup_root = cgroup_root_open(path),
                               .host_headroom = host_room };
        assert_true(h.proc_root >= 0 && h.cgroup_root >= 0);
        h.cgroup_v1_root = headroom_open_v1(h.cgroup_root);
        assert_true(h.cgroup_v1_root >= 0);
        sample_set(&s, M_ANON, 100 * MIB);

        headroom_read(&h, &p, &s, DETECT_MEMORY, &set);
        assert_true(set.room[LIMIT_V1_LIMIT] == 268435456.0 - 200000000);
        assert_true(isnan(set.room[LIMIT_V1_SOFT]));
        assert_true(isnan(set.room[LIMIT_MEMORY_MAX]) && isnan(set.room[LIMIT_MEMORY_HIGH]));
        assert_true(headroom_left(&h, &p, DETECT_MEMORY, 100 * MIB, &kind) == 268435456.0 - 200000000);
        assert_string_equal(kind, "cgroup");

        p.pid = 4343;
        p.cgroup_v1 = "/batch.slice/job.scope";
        headroom_read(&h, &p, &s, DETECT_MEMORY, &set);
        assert_true(isnan(set.room[LIMIT_V1_LIMIT]));
        assert_true(set.room[LIMIT_V1_SOFT] == 100000000.0 - 60000000);
        assert_true(set.room[LIMIT_HOST] == 3000.0 * MIB);

        /* Gone: unknown, never an error. */
        p.pid = 4444;
        p.cgroup_v1 = "/gone.scope";
        headroom_read(&h, &p, &s, DETECT_MEMORY, &set);
        assert_true(isnan(set.room[LIMIT_V1_LIMIT]) && isnan(set.room[LIMIT_V1_SOFT]));
        close(h.cgroup_v1_root);

        /* A v2 tree has no v1 memory hierarchy in it. */
        snprintf(path, sizeof(path), "%s/cgroup", fixtures ? fixtures : "tests/fixtures");
        v2 = cgroup_root_open(path);
        assert_true(v2 >= 0);
        assert_int_equal(headroom_open_v1(v2), -ENOENT);
        close(v2);
        close(h.proc_root);
        close(h.cgroup_root);
        tmpdir_remove(dir);
}

static unsigned host_reads;

static int64_t host_room_counted(void)
{
        host_reads++;
        return 3000 * (int64_t)MIB;
}

/* The evaluations of one tick ask about the host and about a few cgroups again and
 * again: each is read once a tick, and each cgroup keeps its own answer. */
static void test_left_read_once_a_tick(void **state)
{
        const char *fixtures = getenv("LEAKWATCH_TEST_FIXTURES");
        struct sampler_proc limited = { .pid = 1, .cgroup = "/limited.slice/child.service" };
        struct sampler_proc nolimit = { .pid = 2, .cgroup = "/system.slice/nolimit.service" };
        char path[PATH_MAX];
        const char *kind;
        struct headroom h;

        (void)state;
        snprintf(path, sizeof(path), "%s/cgroup", fixtures ? fixtures : "tests/fixtures");
        h = (struct headroom){ .proc_root = -1, .cgroup_root = cgroup_root_open(path), .cgroup_v1_root = -1,
                               .host_headroom = host_room_counted };
        assert_true(h.cgroup_root >= 0);
        host_reads = 0;
        for (int tick = 1; tick <= 2; tick++) {
                headroom_tick(&h);
                for (int i = 0; i < 1000; i++) {
                        assert_true(headroom_left(&h, &limited, DETECT_MEMORY, 0, &kind) == 100000);
                        assert_string_equal(kind, "cgroup");
                        assert_true(headroom_left(&h, &nolimit, DETECT_MEMORY, 0, &kind) == 3000.0 * MIB);
                        assert_string_equal(kind, "memory");
                }
                assert_int_equal(host_reads, tick);
        }
        close(h.cgroup_root);
}

/* On a v1 hierarchy too, each cgroup's room is read once a tick, whatever the number
 * of evaluations that ask: a new limit is seen at the next tick. */
static void test_v1_left_read_once_a_tick(void **state)
{
        char dir[] = "/tmp/leakwatch-test-headroom-XXXXXX";
        struct sampler_proc job = { .pid = 1, .cgroup = "/", .cgroup_v1 = "/job" };
        struct sampler_proc other = { .pid = 2, .cgroup = "/", .cgroup_v1 = "/other" };
        const char *kind;
        struct headroom h;

        (void)state;
        assert_non_null(mkdtemp(dir));
        subdir(dir, "memory");
        subdir(dir, "memory/job");
        subdir(dir, "memory/other");
        write_file(dir, "memory/memory.limit_in_bytes", "9223372036854771712\n");
        write_file(dir, "memory/job/memory.limit_in_bytes", "1000000\n");
        write_file(dir, "memory/job/memory.usage_in_bytes", "400000\n");
        write_file(dir, "memory/other/memory.limit_in_bytes", "5000000\n");
        write_file(dir, "memory/other/memory.usage_in_bytes", "1000000\n");
        h = (struct headroom){ .proc_root = -1, .cgroup_root = cgroup_root_open(dir), .host_headroom = host_room };
        assert_true(h.cgroup_root >= 0);
        h.cgroup_v1_root = headroom_open_v1(h.cgroup_root);
        assert_true(h.cgroup_v1_root >= 0);

        headroom_tick(&h);
        assert_true(headroom_left(&h, &job, DETECT_MEMORY, 0, &kind) == 600000);
        assert_string_equal(kind, "cgroup");
        assert_true(headroom_left(&h, &other, DETECT_MEMORY, 0, &kind) == 4000000);
        write_file(dir, "memory/job/memory.limit_in_bytes", "2000000\n");
        for (int i = 0; i < 100; i++) {
                assert_true(headroom_left(&h, &job, DETECT_MEMORY, 0, &kind) == 600000);
                assert_true(headroom_left(&h, &other, DETECT_MEMORY, 0, &kind) == 4000000);
        }
        headroom_tick(&h);
        assert_true(headroom_left(&h, &job, DETECT_MEMORY, 0, &kind) == 1600000);
        assert_true(headroom_left(&h, &other, DETECT_MEMORY, 0, &kind) == 4000000);
        close(h.cgroup_v1_root);
        close(h.cgroup_root);
        tmpdir_remove(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_limit),
                cmocka_unit_test(test_v1_limits),
                cmocka_unit_test(test_nofile_from_the_pass),
                cmocka_unit_test(test_left_read_once_a_tick),
                cmocka_unit_test(test_v1_left_read_once_a_tick),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
