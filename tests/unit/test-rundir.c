/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for rundir: the runtime directory is made when missing (mode 0755 whatever the
 * umask), refused when someone else could change it (a link, a group- or world-writable
 * directory or parent, another owner), and locked: a second opener is told who holds
 * it. */
#include <errno.h>
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

#include "rundir.h"
#include "util.h"

static char base[] = "/tmp/leakwatch-test-rundir-XXXXXX";

static int setup(void **state)
{
        (void)state;
        if (!mkdtemp(base))
                return -1;
        /* mkdtemp makes it 0700; a parent only needs to be trusted, not private. */
        return chmod(base, 0755);
}

static int teardown(void **state)
{
        char cmd[sizeof(base) + 16];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
        return system(cmd) == 0 ? 0 : -1;
}

static const char *at(const char *name)
{
        static char path[4][256];
        static int i;

        i = (i + 1) % 4;
        snprintf(path[i], sizeof(path[i]), "%s/%s", base, name);
        return path[i];
}

static void test_made_and_locked(void **state)
{
        struct rundir *r, *r2;
        char why[512];
        struct stat st;
        pid_t holder;
        mode_t old;

        (void)state;
        old = umask(077);
        assert_int_equal(rundir_open(at("run"), getuid(), &r, &holder, why, sizeof(why)), 0);
        umask(old);
        assert_string_equal(rundir_path(r), at("run"));
        assert_int_equal(lstat(at("run"), &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(lstat(at("run/" RUNDIR_LOCK_NAME), &st), 0);

        /* A second daemon: refused, with the first one's PID. */
        assert_int_equal(rundir_open(at("run"), getuid(), &r2, &holder, why, sizeof(why)), -EBUSY);
        assert_int_equal(holder, getpid());
        assert_non_null(strstr(why, "another leakwatchd"));
        /* Through another spelling of the same directory too. */
        assert_int_equal(rundir_open(at("./run/"), getuid(), &r2, &holder, why, sizeof(why)), -EBUSY);

        rundir_free(r);
        /* Free again once the first is gone; the lock file stayed. */
        assert_int_equal(rundir_open(at("run"), getuid(), &r, &holder, why, sizeof(why)), 0);
        rundir_free(r);
        rundir_free(NULL);
}

static void test_refused(void **state)
{
        struct rundir *r;
        char why[512];
        pid_t holder;

        (void)state;
        /* Writable by others, or by its group. */
        assert_int_equal(mkdir(at("open"), 0755), 0);
        assert_int_equal(chmod(at("open"), 0777), 0);
        assert_int_equal(rundir_open(at("open"), getuid(), &r, &holder, why, sizeof(why)), -EPERM);
        assert_non_null(strstr(why, "writable by others"));
        assert_int_equal(chmod(at("open"), 01777), 0);  /* sticky is no excuse for the directory itself */
        assert_int_equal(rundir_open(at("open"), getuid(), &r, &holder, why, sizeof(why)), -EPERM);
        assert_int_equal(chmod(at("open"), 0775), 0);
        assert_int_equal(rundir_open(at("open"), getuid(), &r, &holder, why, sizeof(why)), -EPERM);
        assert_non_null(strstr(why, "its group"));

        /* A planted link, even to a good directory. */
        assert_int_equal(mkdir(at("good"), 0755), 0);
        assert_int_equal(symlink(at("good"), at("link")), 0);
        assert_int_equal(rundir_open(at("link"), getuid(), &r, &holder, why, sizeof(why)), -EPERM);
        assert_non_null(strstr(why, "symbolic link"));
        assert_int_equal(rundir_open(at("good"), getuid(), &r, &holder, why, sizeof(why)), 0);
        rundir_free(r);
        /* A file where the directory should be. */
        fclose(fopen(at("file"), "w"));
        assert_int_equal(rundir_open(at("file"), getuid(), &r, &holder, why, sizeof(why)), -EPERM);

        /* A parent anyone may write (not sticky): they could rename ours away. */
        assert_int_equal(mkdir(at("shared"), 0755), 0);
        assert_int_equal(chmod(at("shared"), 0777), 0);
        assert_int_equal(rundir_open(at("shared/run"), getuid(), &r, &holder, why, sizeof(why)), -EPERM);
        assert_non_null(strstr(why, "shared is writable by others"));
        /* Sticky, as /tmp is: only an entry's owner may rename it. */
        assert_int_equal(chmod(at("shared"), 01777), 0);
        assert_int_equal(rundir_open(at("shared/run"), getuid(), &r, &holder, why, sizeof(why)), 0);
        rundir_free(r);

        /* Someone else's directory. */
        assert_int_equal(mkdir(at("theirs"), 0755), 0);
        if (getuid() == 0) {
                assert_int_equal(chown(at("theirs"), 65534, 65534), 0);
                assert_int_equal(rundir_open(at("theirs"), 0, &r, &holder, why, sizeof(why)), -EPERM);
                assert_non_null(strstr(why, "owned by uid 65534"));
                /* ...unless the daemon runs as that user. */
                assert_int_equal(rundir_open(at("theirs"), 65534, &r, &holder, why, sizeof(why)), 0);
                rundir_free(r);
        } else {
                assert_int_equal(rundir_open(at("theirs"), getuid() + 1, &r, &holder, why, sizeof(why)), -EPERM);
                assert_non_null(strstr(why, "owned by uid"));
        }

        /* No parent: not made, and not an error of trust. */
        assert_int_equal(rundir_open(at("missing/run"), getuid(), &r, &holder, why, sizeof(why)), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_made_and_locked),
                cmocka_unit_test(test_refused),
        };

        return cmocka_run_group_tests_name("rundir", tests, setup, teardown);
}
