/* Tests for evidence bundles: what a bundle holds and how it is made (mode 0700, files
 * 0600, never through a symbolic link, never into a directory others could use), the
 * process read only once its start time matches, and the oldest bundles pruned. */
#include <dirent.h>
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

#include "evidence.h"
#include "proc.h"
#include "store.h"
#include "util.h"
#include "tmpdir.h"

struct fixture {
        char dir[64], db[128];
        struct store *st;
        struct evidence *e;
        struct sampler_proc p;
        struct alert a;
};

static uint64_t my_start_ticks(void)
{
        char buf[4096];
        struct proc_stat st;
        ssize_t n = proc_read_file(AT_FDCWD, "/proc/self/stat", buf, sizeof(buf));

        assert_true(n > 0);
        assert_int_equal(proc_parse_stat(buf, (size_t)n, &st), 0);
        return st.starttime;
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-evidence-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        assert_int_equal(chmod(f->dir, 0755), 0);
        snprintf(f->db, sizeof(f->db), "%s/lw.db", f->dir);
        assert_int_equal(store_open(f->db, STORE_RW, &f->st, NULL, 0), 0);
        assert_int_equal(evidence_new(f->dir, "/proc", NULL, f->st, &f->e), 0);
        f->p = (struct sampler_proc){ .id = 1, .pid = getpid(), .start_ticks = my_start_ticks(), .comm = "test",
                                      .cmdline = "test", .unit = "", .cgroup = "" };
        f->a = (struct alert){ .event = ALERT_EVENT_START, .t_ms = 1700000000000LL, .metric = DETECT_MEMORY,
                               .row = { .id = 7, .process_id = 1, .metric = "memory", .state = "leaking",
                                        .ev = DETECT_EVIDENCE_NONE },
                               .pid = getpid(), .uid = 0, .name = "test", .rule = "r" };
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        evidence_free(f->e);
        store_close(f->st);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static bool exists_in(const char *dir, const char *name, mode_t *ret_mode)
{
        char path[PATH_MAX + 64];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if (lstat(path, &st) < 0)
                return false;
        if (ret_mode)
                *ret_mode = st.st_mode;
        return true;
}

static void test_bundle(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX], evdir[128];
        mode_t mode = 0;

        assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), 0);
        assert_string_equal(res.note, "");
        assert_non_null(strstr(res.path, "/evidence/alert-7-start-1700000000"));
        snprintf(evdir, sizeof(evdir), "%s/evidence", f->dir);
        assert_true(exists_in(f->dir, "evidence", &mode));
        assert_int_equal(mode & 07777, 0700);
        assert_true(exists_in(res.path, ".", &mode));
        assert_int_equal(mode & 07777, 0700);
        for (const char *const *n = (const char *const[]){ "alert.json", "status", "limits", "smaps_rollup", "smaps",
                                                            NULL }; *n; n++) {
                assert_true(exists_in(res.path, *n, &mode));
                assert_true(S_ISREG(mode));
                assert_int_equal(mode & 07777, 0600);
        }
        assert_true(res.files >= 5);
        assert_true(res.bytes > 0 && res.bytes <= EVIDENCE_BUNDLE_MAX);
        /* A second event of the same alert in the same second gets a directory of its own. */
        {
                struct evidence_result again;

                assert_int_equal(evidence_take(f->e, &f->p, &f->a, &again, why, sizeof(why)), 0);
                assert_string_not_equal(again.path, res.path);
        }
}

/* A process that is not the one alerted on (its PID reused) is not read. */
static void test_pid_reused(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX];

        f->p.start_ticks++;
        assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), 0);
        assert_string_equal(res.note, "its PID now belongs to another process");
        assert_true(exists_in(res.path, "alert.json", NULL));
        assert_false(exists_in(res.path, "status", NULL));
        assert_false(exists_in(res.path, "smaps", NULL));
}

/* STATE/evidence planted as a link to elsewhere: nothing is written through it. */
static void test_symlink_refused(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX], link[128], target[128];

        snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
        snprintf(link, sizeof(link), "%s/evidence", f->dir);
        assert_int_equal(mkdir(target, 0700), 0);
        assert_int_equal(symlink(target, link), 0);
        assert_true(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)) < 0);
        assert_non_null(strstr(why, "not a directory: a symbolic link?"));
        assert_int_equal(rmdir(target), 0);     /* still empty */
}

/* A directory others may enter is not used: what a bundle holds is private. */
static void test_open_dir_refused(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX], ev[128];

        snprintf(ev, sizeof(ev), "%s/evidence", f->dir);
        assert_int_equal(mkdir(ev, 0700), 0);
        assert_int_equal(chmod(ev, 0755), 0);
        assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), -EPERM);
        assert_non_null(strstr(why, "must be owned by leakwatchd's user with mode 0700"));
        /* Nor a state directory others may write in. */
        assert_int_equal(chmod(ev, 0700), 0);
        assert_int_equal(chmod(f->dir, 0777), 0);
        assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), -EPERM);
        assert_int_equal(chmod(f->dir, 0755), 0);
}

/* At most EVIDENCE_KEEP bundles: the oldest alert's goes. */
static void test_pruned(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX], ev[128], first[PATH_MAX];
        unsigned n = 0;
        struct stat st;
        DIR *d;

        f->p.start_ticks++;     /* the alert only: quick */
        snprintf(ev, sizeof(ev), "%s/evidence", f->dir);
        for (int i = 1; i <= EVIDENCE_KEEP + 1; i++) {
                f->a.row.id = i;
                assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), 0);
                if (i == 1)
                        snprintf(first, sizeof(first), "%s", res.path);
        }
        d = opendir(ev);
        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.';
        closedir(d);
        assert_int_equal(n, EVIDENCE_KEEP);
        assert_int_equal(stat(first, &st), -1);
        assert_int_equal(errno, ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_bundle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pid_reused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_dir_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pruned, setup, teardown),
        };

        return cmocka_run_group_tests_name("evidence", tests, NULL, NULL);
}
