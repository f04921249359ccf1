/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for cgroup: the room under memory.max on a fixture tree, the nearest limit on
 * the way up winning, and refusal of paths that are not a cgroup's; the same under a
 * legacy (v1) memory hierarchy's memory.limit_in_bytes and memory.soft_limit_in_bytes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup.h"

static int root = -1;

static int setup(void **state)
{
        const char *fixtures = getenv("LEAKWATCH_TEST_FIXTURES");
        char path[PATH_MAX];

        (void)state;
        snprintf(path, sizeof(path), "%s/cgroup", fixtures ? fixtures : "tests/fixtures");
        root = cgroup_root_open(path);
        return root < 0 ? -1 : 0;
}

static int teardown(void **state)
{
        (void)state;
        close(root);
        return 0;
}

static void test_headroom(void **state)
{
        uint64_t room = 0;

        (void)state;
        assert_int_equal(cgroup_memory_headroom(root, "/system.slice/app.service", &room), 0);
        assert_int_equal(room, 1048576 - 524288);
        /* Its own limit is "max": the parent's limit is the one it will hit. */
        assert_int_equal(cgroup_memory_headroom(root, "/limited.slice/child.service", &room), 0);
        assert_int_equal(room, 100000);
        assert_int_equal(cgroup_memory_headroom(root, "/over.slice", &room), 0);
        assert_int_equal(room, 0);
}

/* memory.high is read the same way, each limit on its own: the tightest of each. */
static void test_memory_high(void **state)
{
        uint64_t room = 7;

        (void)state;
        assert_int_equal(cgroup_memory_room(root, "/limited.slice/child.service", "memory.high", &room), 0);
        assert_int_equal(room, 50000);
        assert_int_equal(cgroup_memory_room(root, "/limited.slice/child.service", "memory.max", &room), 0);
        assert_int_equal(room, 100000);
        room = 7;
        assert_int_equal(cgroup_memory_room(root, "/system.slice/app.service", "memory.high", &room), -ENOENT);
        assert_int_equal(room, 7);
}

static void test_no_limit(void **state)
{
        uint64_t room = 7;

        (void)state;
        assert_int_equal(cgroup_memory_headroom(root, "/system.slice/nolimit.service", &room), -ENOENT);
        assert_int_equal(cgroup_memory_headroom(root, "/", &room), -ENOENT);
        assert_int_equal(cgroup_memory_headroom(root, "/no/such/cgroup", &room), -ENOENT);
        assert_int_equal(cgroup_memory_headroom(root, "/system.slice/gone.service (deleted)", &room), -ENOENT);
        assert_int_equal(room, 7); /* not written on failure */
}

static void test_bad_input(void **state)
{
        uint64_t room;

        (void)state;
        assert_int_equal(cgroup_memory_headroom(root, "system.slice", &room), -EINVAL);
        assert_int_equal(cgroup_memory_headroom(root, "/system.slice/../../etc", &room), -EINVAL);
        assert_int_equal(cgroup_memory_headroom(root, NULL, &room), -EINVAL);
        assert_int_equal(cgroup_memory_headroom(root, "/broken.slice", &room), -EINVAL);
        assert_int_equal(cgroup_root_open("/nonexistent/cgroup"), -ENOENT);
}

/* A v1 hierarchy: the hard and the soft limit against memory.usage_in_bytes, the page
 * counter's maximum (at any page size) taken for no limit. */
static void test_v1(void **state)
{
        const char *fixtures = getenv("LEAKWATCH_TEST_FIXTURES");
        char path[PATH_MAX];
        uint64_t room = 7;
        int v1;

        (void)state;
        snprintf(path, sizeof(path), "%s/cgroup-v1/memory", fixtures ? fixtures : "tests/fixtures");
        v1 = cgroup_root_open(path);
        assert_true(v1 >= 0);
        assert_int_equal(cgroup_v1_memory_room(v1, "/docker/abc", "memory.limit_in_bytes", &room), 0);
        assert_int_equal(room, 268435456 - 200000000);
        room = 7;
        assert_int_equal(cgroup_v1_memory_room(v1, "/docker/abc", "memory.soft_limit_in_bytes", &room), -ENOENT);
        assert_int_equal(room, 7);
        /* No limit of its own nor above (the 64 KiB-page maximum too); its parent's soft one. */
        assert_int_equal(cgroup_v1_memory_room(v1, "/batch.slice/job.scope", "memory.limit_in_bytes", &room), -ENOENT);
        assert_int_equal(cgroup_v1_memory_room(v1, "/batch.slice/job.scope", "memory.soft_limit_in_bytes", &room), 0);
        assert_int_equal(room, 100000000 - 60000000);
        assert_int_equal(cgroup_v1_memory_room(v1, "/", "memory.limit_in_bytes", &room), -ENOENT);
        assert_int_equal(cgroup_v1_memory_room(v1, "/broken", "memory.limit_in_bytes", &room), -EINVAL);
        assert_int_equal(cgroup_v1_memory_room(v1, "/docker/../../etc", "memory.limit_in_bytes", &room), -EINVAL);
        /* A v2 file name finds nothing there. */
        assert_int_equal(cgroup_memory_room(v1, "/docker/abc", "memory.max", &room), -ENOENT);
        close(v1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_headroom),
                cmocka_unit_test(test_memory_high),
                cmocka_unit_test(test_no_limit),
                cmocka_unit_test(test_bad_input),
                cmocka_unit_test(test_v1),
        };

        return cmocka_run_group_tests_name("cgroup", tests, setup, teardown);
}
