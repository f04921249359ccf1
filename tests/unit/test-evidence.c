/* Tests for evidence bundles: what a bundle holds (the process's files, the agents'
 * census and sites, the chart) and how it is made (mode 0700, files 0600, never through
 * a symbolic link, never into a directory others could use), the process read only
 * once its start time matches, and the oldest bundles pruned. */
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

#include "agent.h"
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

/* The whole file name under dir, NUL-terminated, malloc'ed. */
static char *slurp(const char *dir, const char *name)
{
        char path[PATH_MAX + 64];
        FILE *f;
        char *buf = calloc(1, 1 << 20);
        size_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "r");
        assert_non_null(f);
        assert_non_null(buf);
        n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

#define T0 (1700000000000LL - 600000)

/* The process as the database knows it: ten minutes of memory growing 1 MiB a minute,
 * the Python agent's report with a count of types, and one with allocation sites (one
 * of them in a file whose name holds an escape sequence and a right-to-left override). */
static void fill_database(struct fixture *f)
{
        struct store_process p = { .id = 1, .pid = 4242, .start_ticks = 1, .ppid = 1, .uid = 0, .comm = "test",
                                   .comm_len = 4, .cmdline = "test", .cmdline_len = 4, .rule_id = 0,
                                   .generation = 1, .first_ms = T0 };
        const char *census = "leakwatch-agent 1\nagent python\ngc.enabled 0\ngc.count 1 2 3\nblocks 5000\nobjects 900 1\n"
                             "type __main__.Person 400\ntype list 300\n";
        const char *sites = "leakwatch-agent 2\nagent python\ngc.enabled 0\ngc.count 1 2 3\nblocks 6000\ntraced 5000 6000\n"
                            "site 4194304 4 4194304 /srv/app%20x/leak.py:12 /srv/app%20x/main.py:40:run\n"
                            "site 1000 20 900 evil%1B[31m\xe2\x80\xaered.py:3\n";
        struct agent_report a;
        const char *why;

        snprintf(p.boot_id, sizeof(p.boot_id), "boot-a");
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_PROCESS, .process = p }), 0);
        for (int i = 0; i <= 600; i += 5) {
                struct store_row row = { .kind = STORE_SAMPLE, .sample = { .id = 1 } };

                row.sample.s.t_ms = T0 + i * 1000LL;
                sample_set(&row.sample.s, M_ANON, (100 << 20) + (int64_t)i * (1 << 20) / 60);
                sample_set(&row.sample.s, M_SWAP, 0);
                assert_int_equal(store_put(f->st, &row), 0);
        }
        assert_int_equal(agent_parse(census, strlen(census), &a, &why), 0);
        a.t_ms = T0 + 300000;
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_AGENT_SAMPLE,
                                                               .agent = { .process_id = 1, .report = &a } }), 0);
        assert_int_equal(agent_parse(sites, strlen(sites), &a, &why), 0);
        a.t_ms = T0 + 500000;
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_AGENT_SAMPLE,
                                                               .agent = { .process_id = 1, .report = &a } }), 0);
        assert_int_equal(store_commit(f->st), 0);
        f->a.row.ev = (struct detect_evidence){ .slope = (1 << 20) / 60.0, .level = 110 << 20, .t_from = T0 / 1000.0 + 120,
                                                .t_to = T0 / 1000.0 + 600, .slope_low = NAN, .slope_high = NAN,
                                                .growth = NAN, .growth_rel = NAN, .p = NAN, .forecast = INFINITY,
                                                .scale = 480 };
        f->a.row.start_ms = T0 + 540000;
        f->a.name = "evil\x1b]0;<svg>&";
}

/* The agents' files and the chart: each present and well formed, process text escaped. */
static void test_bundle_agents_and_chart(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX];
        char *census, *sites, *svg;

        fill_database(f);
        assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), 0);
        assert_string_equal(res.note, "");
        census = slurp(res.path, "census");
        assert_non_null(strstr(census, "agent python, report of 2023-11-14T22:08:20Z\n"));
        assert_non_null(strstr(census, "\ntype __main__.Person 400\ntype list 300\n"));
        sites = slurp(res.path, "sites");
        assert_string_equal(sites, "agent python, report of 2023-11-14T22:11:40Z\n"
                                   "site 0 growth 4194304 live_bytes 4194304 live_count 4\n"
                                   "frame /srv/app%20x/leak.py:12\n"
                                   "frame /srv/app%20x/main.py:40:run\n"
                                   "site 1 growth 900 live_bytes 1000 live_count 20\n"
                                   "frame evil%1B[31m\\xe2\\x80\\xaered.py:3\n\n");
        svg = slurp(res.path, "chart.svg");
        assert_true(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 44) == 0);
        assert_non_null(strstr(svg, "</svg>\n"));
        assert_int_equal(strlen(strstr(svg, "</svg>\n")), 7);
        /* The series, the trend, the alert's span and its label, the title escaped. */
        assert_non_null(strstr(svg, "<path d=\"M"));
        assert_non_null(strstr(svg, "stroke-dasharray=\"7 5\" clip-path"));
        assert_non_null(strstr(svg, ">alert 7</text>"));
        assert_non_null(strstr(svg, "evil\\x1b]0;&lt;svg&gt;&amp; (pid "));
        assert_null(strchr(svg, '\x1b'));
        assert_non_null(strstr(svg, "memory (anon+swap)"));
        free(census);
        free(sites);
        free(svg);
}

/* Without samples in the database there is no chart, and the note says so. */
static void test_bundle_without_samples(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX];

        assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), 0);
        assert_string_equal(res.note, "no chart: no samples in the database yet");
        assert_false(exists_in(res.path, "chart.svg", NULL));
        assert_false(exists_in(res.path, "sites", NULL));
        assert_false(exists_in(res.path, "census", NULL));
}

static void test_bundle(void **state)
{
        struct fixture *f = *state;
        struct evidence_result res;
        char why[EVIDENCE_WHY_MAX], evdir[128];
        mode_t mode = 0;

        fill_database(f);
        assert_int_equal(evidence_take(f->e, &f->p, &f->a, &res, why, sizeof(why)), 0);
        assert_string_equal(res.note, "");
        assert_non_null(strstr(res.path, "/evidence/alert-7-start-1700000000"));
        snprintf(evdir, sizeof(evdir), "%s/evidence", f->dir);
        assert_true(exists_in(f->dir, "evidence", &mode));
        assert_int_equal(mode & 07777, 0700);
        assert_true(exists_in(res.path, ".", &mode));
        assert_int_equal(mode & 07777, 0700);
        for (const char *const *n = (const char *const[]){ "alert.json", "status", "limits", "smaps_rollup", "smaps",
                                                            "census", "sites", "chart.svg", NULL }; *n; n++) {
                assert_true(exists_in(res.path, *n, &mode));
                assert_true(S_ISREG(mode));
                assert_int_equal(mode & 07777, 0600);
        }
        assert_true(res.files >= 8);
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

        fill_database(f);
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
                cmocka_unit_test_setup_teardown(test_bundle_agents_and_chart, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bundle_without_samples, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_dir_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pruned, setup, teardown),
        };

        return cmocka_run_group_tests_name("evidence", tests, NULL, NULL);
}
