/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for trace: the request files agents look for — the directory made with its
 * mode, stale requests removed and other files kept, the set of files made exactly the
 * pids asked for, a planted link or a foreign directory refused, everything removed at
 * the end. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
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

#include "trace.h"
#include "tmpdir.h"

struct fixture {
        char dir[64];
        char trace[96];
        char trace_notes[128];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->dir, sizeof(f->dir), "/tmp/lw-trace-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->trace, sizeof(f->trace), "%s/%s", f->dir, TRACE_DIR_NAME);
        snprintf(f->trace_notes, sizeof(f->trace_notes), "%s/notes", f->trace);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(tmpdir_remove(f->dir), 0);
        free(f);
        return 0;
}

static bool exists(const struct fixture *f, const char *name)
{
        char p[160];

        snprintf(p, sizeof(p), "%s/%s", f->trace, name);
        return access(p, F_OK) == 0;
}

static void touch(const struct fixture *f, const char *name)
{
        char p[160];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", f->trace, name);
        fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
}

static void test_files_follow_the_set(void **state)
{
        struct fixture *f = *state;
        struct trace *t;
        struct stat st;
        pid_t want[] = { 300, 20, 300, 4000 }, none[1], some[] = { 4000, 55 };
        const pid_t *on;
        size_t n;
        char p[160];

        /* What a crashed daemon left: its requests go, anything else stays. */
        assert_int_equal(mkdir(f->trace, 0700), 0);
        touch(f, "12345");
        touch(f, "notes");
        assert_int_equal(trace_new(f->dir, &t), 0);
        assert_int_equal(stat(f->trace, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_false(exists(f, "12345"));
        assert_true(exists(f, "notes"));

        assert_int_equal(trace_sync(t, want, 4), 0);
        assert_true(exists(f, "20") && exists(f, "300") && exists(f, "4000"));
        snprintf(p, sizeof(p), "%s/300", f->trace);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(st.st_size, 0);
        on = trace_pids(t, &n);
        assert_int_equal(n, 3);
        assert_int_equal(on[0], 20);
        assert_int_equal(on[2], 4000);

        /* Another set: what left goes, what came is made, what stayed is untouched. */
        assert_int_equal(trace_sync(t, some, 2), 0);
        assert_false(exists(f, "20") || exists(f, "300"));
        assert_true(exists(f, "4000") && exists(f, "55"));
        /* Someone removed one behind its back: made again only when asked again. */
        snprintf(p, sizeof(p), "%s/55", f->trace);
        assert_int_equal(unlink(p), 0);
        assert_int_equal(trace_sync(t, none, 0), 0);
        assert_false(exists(f, "4000"));
        trace_pids(t, &n);
        assert_int_equal(n, 0);

        some[0] = 4000;
        some[1] = 55;
        assert_int_equal(trace_sync(t, some, 2), 0);
        trace_free(t);
        assert_false(exists(f, "4000") || exists(f, "55"));
        /* Not empty: left where it is. Empty: removed with the watch. */
        assert_true(exists(f, "notes"));
        assert_int_equal(trace_new(f->dir, &t), 0);
        assert_int_equal(trace_sync(t, some, 2), 0);
        assert_int_equal(unlink(f->trace_notes), 0);
        trace_free(t);
        assert_int_equal(access(f->trace, F_OK), -1);
}

static void test_planted_and_foreign(void **state)
{
        struct fixture *f = *state;
        struct trace *t = NULL;
        char target[96];

        /* A link where the directory should be: refused, not followed. */
        snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
        assert_int_equal(mkdir(target, 0755), 0);
        assert_int_equal(symlink(target, f->trace), 0);
        assert_int_equal(trace_new(f->dir, &t), -ENOTDIR);
        assert_null(t);
        assert_int_equal(unlink(f->trace), 0);
        /* A plain file: refused. */
        close(open(f->trace, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        assert_int_equal(trace_new(f->dir, &t), -ENOTDIR);
        assert_int_equal(unlink(f->trace), 0);
        /* A directory of another user: refused (when there is another user to be). */
        if (geteuid() == 0) {
                assert_int_equal(mkdir(f->trace, 0777), 0);
                assert_int_equal(chown(f->trace, 65534, 65534), 0);
                assert_int_equal(trace_new(f->dir, &t), -EPERM);
        }
        trace_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_files_follow_the_set, setup, teardown),
                cmocka_unit_test_setup_teardown(test_planted_and_foreign, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
