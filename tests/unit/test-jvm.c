/* Tests for jvm: the performance-data file of a process found in its /tmp through the
 * real /proc (this test process stands in for the JVM, with a captured file planted as
 * /tmp/hsperfdata_USER/PID), and what is refused: a symbolic link where the file or its
 * directory should be, a file another user owns, a FIFO, a file too large. */
#include <errno.h>
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

#include "jvm.h"
#include "tmpdir.h"

struct fixture {
        char dir[64], file[96];
        int proc;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        /* A user name no JVM here has: the directory is this test's alone. */
        snprintf(f->dir, sizeof(f->dir), "/tmp/hsperfdata_lwtest%d", (int)getpid());
        assert_int_equal(mkdir(f->dir, 0755), 0);
        snprintf(f->file, sizeof(f->file), "%s/%d", f->dir, (int)getpid());
        f->proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->proc >= 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        close(f->proc);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static void plant(const struct fixture *f)
{
        const char *dir = getenv("LEAKWATCH_TEST_FIXTURES");
        char src[512], buf[65536];
        FILE *in, *out;
        size_t n;

        snprintf(src, sizeof(src), "%s/hsperfdata/g1", dir ? dir : "tests/fixtures");
        in = fopen(src, "rb");
        assert_non_null(in);
        out = fopen(f->file, "wb");
        assert_non_null(out);
        n = fread(buf, 1, sizeof(buf), in);
        assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        fclose(out);
}

static void test_found_and_read(void **state)
{
        struct fixture *f = *state;
        struct hsperf_jvm j;

        assert_int_equal(jvm_read(f->proc, getpid(), getuid(), &j), -ENOENT);
        plant(f);
        assert_int_equal(jvm_read(f->proc, getpid(), getuid(), &j), 0);
        assert_int_equal(j.old_capacity, 254803976);
        assert_int_equal(j.threads, 6);
        /* Owned by someone else: not the process's own file. */
        assert_int_equal(jvm_read(f->proc, getpid(), getuid() + 1, &j), -EPERM);
}

static void test_link_refused(void **state)
{
        struct fixture *f = *state;
        char target[128];
        struct hsperf_jvm j;

        snprintf(target, sizeof(target), "%s/real", f->dir);
        plant(f);
        assert_int_equal(rename(f->file, target), 0);
        assert_int_equal(symlink(target, f->file), 0);
        assert_int_equal(jvm_read(f->proc, getpid(), getuid(), &j), -ELOOP);
}

static void test_dir_link_refused(void **state)
{
        struct fixture *f = *state;
        char hidden[80], link[80];
        struct hsperf_jvm j;

        plant(f);
        /* The file's directory under a name the scan skips, and hsperfdata_X a link to it. */
        snprintf(hidden, sizeof(hidden), "/tmp/lwtest-hidden-%d", (int)getpid());
        snprintf(link, sizeof(link), "/tmp/hsperfdata_lwlink%d", (int)getpid());
        assert_int_equal(rename(f->dir, hidden), 0);
        assert_int_equal(symlink(hidden, link), 0);
        assert_int_equal(jvm_read(f->proc, getpid(), getuid(), &j), -ELOOP);
        assert_int_equal(unlink(link), 0);
        assert_int_equal(rename(hidden, f->dir), 0);
}

static void test_fifo_and_size_refused(void **state)
{
        struct fixture *f = *state;
        struct hsperf_jvm j;
        int fd;

        assert_int_equal(mkfifo(f->file, 0600), 0);
        /* Opened non-blocking, then refused: not a regular file. */
        assert_int_equal(jvm_read(f->proc, getpid(), getuid(), &j), -EPERM);
        assert_int_equal(unlink(f->file), 0);
        fd = open(f->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, HSPERF_FILE_MAX + 1), 0);
        close(fd);
        assert_int_equal(jvm_read(f->proc, getpid(), getuid(), &j), -EFBIG);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_found_and_read, setup, teardown),
                cmocka_unit_test_setup_teardown(test_link_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dir_link_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fifo_and_size_refused, setup, teardown),
        };

        return cmocka_run_group_tests_name("jvm", tests, NULL, NULL);
}
