/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of proc: every parser over fixture text and hostile text, every reader over the
 * fixture tree in tests/fixtures/proc/root (see its README), and the kernel behaviour
 * proc.c relies on, observed on real children of this test. Values read from a live
 * child are checked against libproc2, the library ps and top use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libproc2/pids.h>

#include "proc.h"
#include "util.h"

/* ---- helpers ---- */

static char fixtures[PATH_MAX];
static int root = -1;           /* tests/fixtures/proc/root */
static int live = -1;           /* /proc */

static const char *fixtures_dir(void)
{
        const char *e = getenv("LEAKWATCH_TEST_FIXTURES");
        char *slash;

        if (e && *e)
                return e;
        /* Run by hand from the top of the tree: tests/unit/../fixtures. */
        snprintf(fixtures, sizeof(fixtures), "%s", __FILE__);
        slash = strrchr(fixtures, '/');
        if (!slash)
                return "tests/fixtures";
        snprintf(slash, sizeof(fixtures) - (size_t)(slash - fixtures), "/../fixtures");
        return fixtures;
}

static int group_setup(void **state)
{
        char path[PATH_MAX];

        (void)state;
        snprintf(path, sizeof(path), "%s/proc/root", fixtures_dir());
        root = proc_root_open(path);
        if (root < 0)
                fprintf(stderr, "no fixtures at %s: set LEAKWATCH_TEST_FIXTURES\n", path);
        live = proc_root_open("/proc");
        return root >= 0 && live >= 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
        (void)state;
        root = safe_close(root);
        live = safe_close(live);
        return 0;
}

/* A whole fixture file, malloc'ed to its exact size (no terminator), so ASan catches
 * a parser that reads past len. */
static char *fixture(const char *name, size_t *ret_len)
{
        char path[PATH_MAX];
        struct stat st;
        char *buf;
        int fd;

        snprintf(path, sizeof(path), "%s/proc/root/%s", fixtures_dir(), name);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
        assert_non_null(buf);
        assert_int_equal(pread_full(fd, buf, (size_t)st.st_size, 0), st.st_size);
        close(fd);
        *ret_len = (size_t)st.st_size;
        return buf;
}

/* An exact-size copy of the first len bytes of s. */
static char *exact(const char *s, size_t len)
{
        char *b = malloc(len ? len : 1);

        assert_non_null(b);
        memcpy(b, s, len);
        return b;
}

#define ST(s) (s), (sizeof(s) - 1)

/* ---- stat ---- */

static void test_stat_fixture(void **state)
{
        struct proc_stat st;
        size_t len;
        char *b;

        (void)state;
        b = fixture("100/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &st), 0);
        assert_string_equal(st.comm, "sleep");
        assert_int_equal(st.state, 'S');
        assert_int_equal(st.ppid, 1);
        assert_int_equal(st.pgrp, 5095);
        assert_int_equal(st.session, 2465);
        assert_int_equal(st.flags, 4194304);
        assert_int_equal(st.minflt, 100);
        assert_int_equal(st.majflt, 0);
        assert_int_equal(st.utime, 0);
        assert_int_equal(st.stime, 0);
        assert_int_equal(st.num_threads, 1);
        assert_int_equal(st.starttime, 96434);
        assert_int_equal(st.vsize, 2990080);
        assert_int_equal(st.rss_pages, 387);
        assert_int_equal(st.start_brk, UINT64_C(94009115811840));
        assert_false(proc_stat_is_kthread(&st));
        assert_false(proc_stat_is_zombie(&st));
        free(b);

        b = fixture("2/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &st), 0);
        assert_string_equal(st.comm, "kthreadd");
        assert_true(proc_stat_is_kthread(&st));
        assert_false(proc_stat_is_zombie(&st));
        assert_int_equal(st.vsize, 0);
        assert_int_equal(st.ppid, 0);
        free(b);

        b = fixture("104/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &st), 0);
        assert_true(proc_stat_is_zombie(&st));
        assert_false(proc_stat_is_kthread(&st));
        assert_int_equal(st.vsize, 0);
        assert_int_equal(st.start_brk, 0);
        free(b);

        /* Before Linux 3.3 there was no start_brk: still a stat line. */
        b = fixture("105/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &st), 0);
        assert_string_equal(st.comm, "oldkernel");
        assert_int_equal(st.rss_pages, 387);
        assert_int_equal(st.start_brk, 0);
        free(b);

        /* Cut within field 20. */
        b = fixture("106/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &st), -EINVAL);
        free(b);

        b = fixture("102/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &st), 0);
        assert_string_equal(st.comm, "x\nVmRSS: 999999");
        assert_int_equal(st.rss_pages, 387);
        free(b);

        b = fixture("103/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &st), 0);
        assert_string_equal(st.comm, "\xff\xfe(\xc3");
        assert_int_equal(st.state, 'S');
        free(b);
}

/* The fields after the name of fixture 100, with its newline. */
static const char stat_tail[] =
        " S 7 5095 2465 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 96434 2990080 387 "
        "18446744073709551615 94008568172544 94008568190473 140731288405872 0 0 0 0 0 0 1 0 0 "
        "17 0 0 0 0 0 0 94008568204560 94008568205824 94009115811840 140731288410564 "
        "140731288410575 140731288410575 140731288412137 0\n";

static void test_stat_adversarial_names(void **state)
{
        static const struct {
                const char *name;
                const char *comm;       /* expected; NULL: same as name */
        } table[] = {
                { "a) (b", NULL },
                { ")", NULL },
                { "(", NULL },
                { "))((", NULL },
                { "", NULL },
                { "a b c", NULL },
                { "x) R 1 1 1 0 -1 2097152", NULL },    /* forges state and the kthread flag */
                { "x\nVmRSS: 999999", NULL },
                { "\xff\xfe\xc3", NULL },
                { "\t\\n\x1b[31m", NULL },
                { ") Z 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 2 3 4 5\n", NULL },
                /* 64 bytes, the most the struct holds, and 70, cut to 64. */
                { "0123456789012345678901234567890123456789012345678901234567890123", NULL },
                { "0123456789012345678901234567890123456789012345678901234567890123456789",
                  "0123456789012345678901234567890123456789012345678901234567890123" },
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char line[512];
                struct proc_stat st;
                int n;
                char *b;

                n = snprintf(line, sizeof(line), "4242 (%s)%s", table[i].name, stat_tail);
                assert_true(n > 0 && (size_t)n < sizeof(line));
                b = exact(line, (size_t)n);
                assert_int_equal(proc_parse_stat(b, (size_t)n, &st), 0);
                assert_string_equal(st.comm, table[i].comm ? table[i].comm : table[i].name);
                assert_int_equal(st.state, 'S');
                assert_int_equal(st.ppid, 7);
                assert_int_equal(st.flags, 4194304);
                assert_false(proc_stat_is_kthread(&st));
                assert_int_equal(st.rss_pages, 387);
                assert_int_equal(st.start_brk, UINT64_C(94009115811840));
                free(b);
        }
}

static void test_stat_garbage(void **state)
{
        static const char *const bad[] = {
                "",
                "garbage\n",
                "(sleep) S 1 2 3\n",
                "12 sleep S 1 2 3\n",
                "12 (sleep S 1 2 3\n",
                "12 (sleep) S 1 2 3 4 5\n",
                "12(sleep) S 1 5095 2465 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 96434 2990080 387\n",
                /* a number that is not one, in a field read */
                "12 (x) S 1 5095 2465 0 -1 4194304 1x0 0 0 0 0 0 0 0 20 0 1 0 96434 2990080 387\n",
                /* state of two letters */
                "12 (x) SS 1 5095 2465 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 96434 2990080 387\n",
                /* a negative ppid */
                "12 (x) S -1 5095 2465 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 96434 2990080 387\n",
                /* flags beyond 32 bits */
                "12 (x) S 1 5095 2465 0 -1 4294967296 100 0 0 0 0 0 0 0 20 0 1 0 96434 2990080 387\n",
                /* minflt beyond 64 bits */
                "12 (x) S 1 5095 2465 0 -1 4194304 18446744073709551616 0 0 0 0 0 0 0 20 0 1 0 9 9 9\n",
                /* two spaces: an empty field */
                "12 (x) S  1 5095 2465 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 96434 2990080 387\n",
        };
        struct proc_stat st;

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *b = exact(bad[i], strlen(bad[i]));
                assert_int_equal(proc_parse_stat(b, strlen(bad[i]), &st), -EINVAL);
                free(b);
        }
        /* Exactly 24 fields and the newline: enough. */
        {
                const char *ok = "12 (x) S 1 5095 2465 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 -3 0 96434 2990080 387\n";
                char *b = exact(ok, strlen(ok));
                assert_int_equal(proc_parse_stat(b, strlen(ok), &st), 0);
                assert_int_equal(st.num_threads, -3);
                assert_int_equal(st.rss_pages, 387);
                free(b);
        }
}

/* Every prefix of the line: an answer is either -EINVAL or the full line's values,
 * never a number cut by the buffer. */
static void test_stat_prefixes(void **state)
{
        struct proc_stat full, st;
        size_t len, ok = 0;
        char *b;

        (void)state;
        b = fixture("100/stat", &len);
        assert_int_equal(proc_parse_stat(b, len, &full), 0);
        for (size_t n = 0; n <= len; n++) {
                char *p = exact(b, n);
                int r = proc_parse_stat(p, n, &st);

                if (r == 0) {
                        ok++;
                        assert_string_equal(st.comm, full.comm);
                        assert_int_equal(st.rss_pages, full.rss_pages);
                        assert_int_equal(st.vsize, full.vsize);
                        assert_true(st.start_brk == 0 || st.start_brk == full.start_brk);
                } else {
                        assert_int_equal(r, -EINVAL);
                }
                free(p);
        }
        /* From the space after rss on, every prefix parses. */
        assert_true(ok > 100);
        free(b);
}

/* ---- status ---- */

static void test_status_fixture(void **state)
{
        struct proc_status st;
        size_t len;
        char *b;

        (void)state;
        b = fixture("100/status", &len);
        assert_int_equal(proc_parse_status(b, len, &st), 0);
        assert_int_equal(st.have, (1u << PS__MAX) - 1);
        assert_int_equal(st.uid_real, 1000);
        assert_int_equal(st.uid_eff, 1001);
        assert_int_equal(st.ppid, 1);
        assert_int_equal(st.tgid, 100);
        assert_int_equal(st.vmsize_kb, 2920);
        assert_int_equal(st.vmrss_kb, 1744);
        assert_int_equal(st.rssanon_kb, 108);
        assert_int_equal(st.rssfile_kb, 1636);
        assert_int_equal(st.rssshmem_kb, 0);
        assert_int_equal(st.vmdata_kb, 224);
        assert_int_equal(st.vmswap_kb, 0);
        assert_int_equal(st.threads, 1);
        free(b);

        /* The forged "VmRSS: 999999" line in the name is not the VmRSS. */
        b = fixture("102/status", &len);
        assert_int_equal(proc_parse_status(b, len, &st), 0);
        assert_true(st.have & (1u << PS_VMRSS));
        assert_int_equal(st.vmrss_kb, 1744);
        free(b);

        b = fixture("103/status", &len);
        assert_int_equal(proc_parse_status(b, len, &st), 0);
        assert_int_equal(st.vmrss_kb, 1744);
        assert_int_equal(st.tgid, 103);
        free(b);

        /* Kernel thread and zombie: no memory lines, the rest is there. */
        for (int i = 0; i < 2; i++) {
                b = fixture(i == 0 ? "2/status" : "104/status", &len);
                assert_int_equal(proc_parse_status(b, len, &st), 0);
                assert_int_equal(st.have, (1u << PS_UID) | (1u << PS_PPID) | (1u << PS_TGID) |
                                          (1u << PS_THREADS));
                assert_int_equal(st.threads, 1);
                free(b);
        }

        /* An old kernel: no Rss* lines, no VmSwap. */
        b = fixture("105/status", &len);
        assert_int_equal(proc_parse_status(b, len, &st), 0);
        assert_int_equal(st.have & ((1u << PS_RSSANON) | (1u << PS_RSSFILE) | (1u << PS_RSSSHMEM) |
                                    (1u << PS_VMSWAP)), 0);
        assert_true(st.have & (1u << PS_VMRSS));
        assert_int_equal(st.vmrss_kb, 1744);
        free(b);

        /* Cut within the VmRSS line: not a VmRSS of 17. */
        b = fixture("106/status", &len);
        assert_int_equal(proc_parse_status(b, len, &st), 0);
        assert_false(st.have & (1u << PS_VMRSS));
        assert_true(st.have & (1u << PS_VMSIZE));
        assert_false(st.have & (1u << PS_THREADS));
        free(b);
}

static void test_status_hostile(void **state)
{
        static const struct {
                const char *text;
                int ret;
                uint32_t have_vmrss;    /* 1: VmRSS must be present with value vmrss */
                uint64_t vmrss;
        } table[] = {
                /* A zombie whose name forged a memory line: there is no real one after. */
                { "Name:\tx\nVmRSS:\t999999 kB\nState:\tZ (zombie)\nPPid:\t1\n", 0, 0, 0 },
                { "Name:\tx\nVmRSS:\t999999 kB\nUmask:\t0022\nState:\tS\nVmRSS:\t12 kB\n", 0, 1, 12 },
                /* Last occurrence wins. */
                { "Umask:\t0022\nVmRSS:\t1 kB\nVmRSS:\t2 kB\n", 0, 1, 2 },
                /* An unreadable last occurrence makes the field unknown. */
                { "Umask:\t0022\nVmRSS:\t1 kB\nVmRSS:\t2 MB\nPPid:\t1\n", 0, 0, 0 },
                /* Keys count only at the start of a line, and only whole. */
                { "PPid:\t1\nFoo: VmRSS:\t5 kB\n VmRSS:\t6 kB\nVmRSSx:\t7 kB\nxVmRSS:\t8 kB\n", 0, 0, 0 },
                /* No Name: line at all is fine. */
                { "VmRSS:\t5 kB\n", 0, 1, 5 },
                { "VmRSS:5 kB\n", 0, 1, 5 },
                { "VmRSS:\t   5 kB \n", -EINVAL, 0, 0 },
                { "VmRSS:\t18446744073709551616 kB\n", -EINVAL, 0, 0 },
                /* A Name: line with no newline after it. */
                { "Name:\tsleep", -EINVAL, 0, 0 },
                { "", -EINVAL, 0, 0 },
                { "garbage\n", -EINVAL, 0, 0 },
                { "VmRSS:\t5 kB", -EINVAL, 0, 0 },      /* no newline: may be cut */
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = strlen(table[i].text);
                struct proc_status st;
                char *b = exact(table[i].text, n);
                int r = proc_parse_status(b, n, &st);

                assert_int_equal(r, table[i].ret);
                if (r == 0) {
                        assert_int_equal(!!(st.have & (1u << PS_VMRSS)), table[i].have_vmrss);
                        if (table[i].have_vmrss)
                                assert_int_equal(st.vmrss_kb, table[i].vmrss);
                }
                free(b);
        }

        /* Uid: needs four ids. */
        {
                struct proc_status st;
                assert_int_equal(proc_parse_status(ST("Uid:\t1\t2\t3\t4\nPPid:\t1\n"), &st), 0);
                assert_int_equal(st.uid_real, 1);
                assert_int_equal(st.uid_eff, 2);
                assert_int_equal(proc_parse_status(ST("Uid:\t1\t2\nPPid:\t1\n"), &st), 0);
                assert_false(st.have & (1u << PS_UID));
                assert_int_equal(proc_parse_status(ST("Uid:\t4294967295\t0\t0\t0\nPPid:\t1\n"), &st), 0);
                assert_false(st.have & (1u << PS_UID));
        }
}

static void test_status_prefixes(void **state)
{
        struct proc_status full, st;
        size_t len;
        char *b;

        (void)state;
        b = fixture("100/status", &len);
        assert_int_equal(proc_parse_status(b, len, &full), 0);
        for (size_t n = 0; n <= len; n++) {
                char *p = exact(b, n);
                int r = proc_parse_status(p, n, &st);

                if (r == 0) {
                        assert_int_equal(st.have & ~full.have, 0);
                        if (st.have & (1u << PS_VMRSS))
                                assert_int_equal(st.vmrss_kb, full.vmrss_kb);
                        if (st.have & (1u << PS_VMSIZE))
                                assert_int_equal(st.vmsize_kb, full.vmsize_kb);
                        if (st.have & (1u << PS_THREADS))
                                assert_int_equal(st.threads, full.threads);
                        if (st.have & (1u << PS_TGID))
                                assert_int_equal(st.tgid, full.tgid);
                } else {
                        assert_int_equal(r, -EINVAL);
                }
                free(p);
        }
        free(b);
}

/* ---- smaps_rollup ---- */

static void test_rollup(void **state)
{
        struct proc_rollup r;
        size_t len;
        char *b;

        (void)state;
        b = fixture("100/smaps_rollup", &len);
        assert_int_equal(proc_parse_smaps_rollup(b, len, &r), 0);
        assert_int_equal(r.have, (1u << PR__MAX) - 1);
        assert_int_equal(r.kb[PR_RSS], 1744);
        assert_int_equal(r.kb[PR_PSS], 391);
        assert_int_equal(r.kb[PR_PSS_ANON], 108);
        assert_int_equal(r.kb[PR_PSS_FILE], 283);
        assert_int_equal(r.kb[PR_PSS_SHMEM], 0);
        assert_int_equal(r.kb[PR_SHARED_CLEAN], 1596);
        assert_int_equal(r.kb[PR_SHARED_DIRTY], 0);
        assert_int_equal(r.kb[PR_PRIVATE_CLEAN], 40);
        assert_int_equal(r.kb[PR_PRIVATE_DIRTY], 108);
        assert_int_equal(r.kb[PR_ANONYMOUS], 108);
        assert_int_equal(r.kb[PR_SWAP], 0);
        assert_int_equal(r.kb[PR_SWAP_PSS], 0);

        /* Every prefix: -ENODATA (empty), -EINVAL (header cut) or values that are the
         * file's, never cut ones. */
        for (size_t n = 0; n <= len; n++) {
                char *p = exact(b, n);
                struct proc_rollup q;
                int ret = proc_parse_smaps_rollup(p, n, &q);

                if (n == 0)
                        assert_int_equal(ret, -ENODATA);
                else if (ret != 0)
                        assert_int_equal(ret, -EINVAL);
                else
                        for (int i = 0; i < PR__MAX; i++)
                                if (q.have & (1u << i))
                                        assert_int_equal(q.kb[i], r.kb[i]);
                free(p);
        }
        free(b);

        b = fixture("106/smaps_rollup", &len);
        assert_int_equal(proc_parse_smaps_rollup(b, len, &r), -EINVAL);
        free(b);

        assert_int_equal(proc_parse_smaps_rollup(ST("garbage\n"), &r), -EINVAL);
        assert_int_equal(proc_parse_smaps_rollup(ST("Rss: 5 kB\n"), &r), -EINVAL);
        /* An ordinary mapping's header is not the rollup's. */
        assert_int_equal(proc_parse_smaps_rollup(
                ST("55d0c0a00000-55d0c0a21000 rw-p 00000000 00:00 0                          [heap]\n"
                   "Rss: 5 kB\n"), &r), -EINVAL);
        assert_int_equal(proc_parse_smaps_rollup(
                ST("55d0c0a00000-55d0c0a21000 ---p 00000000 00:00 0                          [rollup]\n"
                   "Rss:   5 kB\nPss: x kB\n"), &r), 0);
        assert_int_equal(r.have, 1u << PR_RSS);
        assert_int_equal(r.kb[PR_RSS], 5);
}

/* ---- smaps [heap] ---- */

static void test_heap_fixture(void **state)
{
        struct proc_heap h = { 0 };
        struct proc_stat st;
        size_t len, slen;
        char *b, *s;
        int found = 0;

        (void)state;
        b = fixture("100/smaps", &len);
        assert_int_equal(proc_parse_smaps_heap(b, len, true, &h), 0);
        assert_int_equal(h.size_kb, 132);
        assert_int_equal(h.rss_kb, 16);

        /* Every prefix, told more may follow: -EAGAIN until the heap's Rss: line is
         * whole, then the right answer; never an error, never a cut number. */
        for (size_t n = 0; n <= len; n++) {
                char *p = exact(b, n);
                struct proc_heap q;
                int r = proc_parse_smaps_heap(p, n, false, &q);

                if (r == 0) {
                        found++;
                        assert_int_equal(q.size_kb, 132);
                        assert_int_equal(q.rss_kb, 16);
                } else {
                        assert_int_equal(r, -EAGAIN);
                        assert_int_equal(found, 0);
                }
                free(p);
        }
        assert_true(found > 0);

        /* With its start_brk, the same. */
        s = fixture("100/stat", &slen);
        assert_int_equal(proc_parse_stat(s, slen, &st), 0);
        assert_int_equal(proc_parse_smaps_heap_brk(b, len, true, st.start_brk, &h), 0);
        assert_int_equal(h.rss_kb, 16);
        free(s);
        free(b);

        /* No heap in a Go-like program; with start_brk known the search ends at the
         * first mapping above it, long before the end of the file. */
        b = fixture("107/smaps", &len);
        assert_int_equal(proc_parse_smaps_heap(b, len, true, &h), -ENOENT);
        s = fixture("107/stat", &slen);
        assert_int_equal(proc_parse_stat(s, slen, &st), 0);
        assert_int_equal(st.start_brk, 0x5f0000);
        {
                const char *arena = memmem(b, len, "\nc000000000-", 12);
                size_t upto;

                assert_non_null(arena);
                upto = (size_t)(arena - b) + 1 + 80;    /* the arena's header and no more */
                assert_int_equal(proc_parse_smaps_heap(b, upto, false, &h), -EAGAIN);
                assert_int_equal(proc_parse_smaps_heap_brk(b, upto, false, st.start_brk, &h), -ENOENT);
                /* Before the arena: undecided either way. */
                assert_int_equal(proc_parse_smaps_heap_brk(b, (size_t)(arena - b) + 1, false,
                                                           st.start_brk, &h), -EAGAIN);
        }
        free(s);
        free(b);

        /* The legacy layout: 40 library mappings below the executable and its heap;
         * start_brk must not end the search early there. */
        b = fixture("108/smaps", &len);
        s = fixture("108/stat", &slen);
        assert_int_equal(proc_parse_stat(s, slen, &st), 0);
        assert_int_equal(proc_parse_smaps_heap(b, len, true, &h), 0);
        assert_int_equal(h.size_kb, 132);
        assert_int_equal(h.rss_kb, 44);
        assert_int_equal(proc_parse_smaps_heap_brk(b, len, true, st.start_brk, &h), 0);
        assert_int_equal(h.rss_kb, 44);
        free(s);
        free(b);
}

static void test_heap_hostile(void **state)
{
#define HDR(range, name) range " rw-p 00000000 00:00 0                          " name "\n"
        static const struct {
                const char *text;
                bool complete;
                int ret;
        } table[] = {
                { "", true, -ENODATA },
                { "", false, -EAGAIN },
                { "garbage\n", true, -EINVAL },
                { "Rss:  4 kB\n", true, -EINVAL },
                /* Names that merely contain "[heap]". */
                { "00400000-00401000 rw-p 00000000 fe:00 12                         /tmp/[heap]\nRss: 4 kB\n", true, -ENOENT },
                { HDR("00400000-00401000", "[anon:[heap]]") "Rss: 4 kB\n", true, -ENOENT },
                { HDR("00400000-00401000", "[heap] (deleted)") "Rss: 4 kB\n", true, -ENOENT },
                { HDR("00400000-00401000", "[heap]x") "Rss: 4 kB\n", true, -ENOENT },
                /* The heap's record without Rss:. */
                { HDR("00400000-00401000", "[heap]") "Size: 4 kB\n" HDR("00401000-00402000", ""), true, -EINVAL },
                { HDR("00400000-00401000", "[heap]") "Size: 4 kB\n", true, -EINVAL },
                { HDR("00400000-00401000", "[heap]") "Size: 4 kB\n", false, -EAGAIN },
                /* Rss: cut by the buffer. */
                { HDR("00400000-00401000", "[heap]") "Rss:   4", false, -EAGAIN },
                { HDR("00400000-00401000", "[heap]") "Rss:   4 MB\n", true, -EINVAL },
                /* Malformed headers. */
                { "00401000-00400000 rw-p 00000000 00:00 0 [heap]\nRss: 4 kB\n", true, -EINVAL },
                { "00400000-00401000 rw-p 0000zz00 00:00 0 [heap]\nRss: 4 kB\n", true, -EINVAL },
                { "00400000-00401000 rw-p 00000000 00:00 x [heap]\nRss: 4 kB\n", true, -EINVAL },
                { "00400000-00401000 rw-q 00000000 00:00 0 [heap]\nRss: 4 kB\n", true, -EINVAL },
                /* A complete file whose last line has no newline. */
                { HDR("00400000-00402000", "[heap]") "Rss:   4 kB", true, 0 },
                /* Header with no name at all, then the heap. */
                { "00400000-00401000 rw-p 00000000 00:00 0 \nRss: 4 kB\n"
                  HDR("00401000-00403000", "[heap]") "Rss:   8 kB\n", true, 0 },
                /* Found, but the heap may go on in the next record. */
                { HDR("00400000-00402000", "[heap]") "Rss:   4 kB\n", false, -EAGAIN },
                { HDR("00400000-00402000", "[heap]") "Rss:   4 kB\n" HDR("00402000-00403000", "[heap]"), false, -EAGAIN },
                { HDR("00400000-00402000", "[heap]") "Rss:   4 kB\nRss:   4 kB\n", true, -EINVAL },
        };
#undef HDR

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = strlen(table[i].text);
                struct proc_heap h;
                char *b = exact(table[i].text, n);

                assert_int_equal(proc_parse_smaps_heap(b, n, table[i].complete, &h), table[i].ret);
                free(b);
        }

        /* A heap of three records (a fork's child grew it; an mprotect split it): the
         * sum, known when the next record begins. */
        {
                static const char text[] =
                        "55e292a70000-55e292a91000 rw-p 00000000 00:00 0                          [heap]\n"
                        "Size:                132 kB\nRss:                 100 kB\n"
                        "55e292a91000-55e292a92000 r--p 00000000 00:00 0                          [heap]\n"
                        "Size:                  4 kB\nRss:                   4 kB\n"
                        "55e292a92000-55e292e91000 rw-p 00000000 00:00 0                          [heap]\n"
                        "Size:               4092 kB\nRss:                4092 kB\n"
                        "7f9798585000-7f979858a000 rw-p 00000000 00:00 0 \n"
                        "Size:                 20 kB\nRss:                  20 kB\n";
                const char *next = strstr(text, "7f9798585000");
                struct proc_heap h;
                char *b;

                b = exact(text, sizeof(text) - 1);
                assert_int_equal(proc_parse_smaps_heap(b, sizeof(text) - 1, false, &h), 0);
                assert_int_equal(h.size_kb, 132 + 4 + 4092);
                assert_int_equal(h.rss_kb, 100 + 4 + 4092);
                free(b);
                b = exact(text, (size_t)(next - text));
                assert_int_equal(proc_parse_smaps_heap(b, (size_t)(next - text), false, &h), -EAGAIN);
                assert_int_equal(proc_parse_smaps_heap(b, (size_t)(next - text), true, &h), 0);
                assert_int_equal(h.rss_kb, 100 + 4 + 4092);
                free(b);
        }
}

/* ---- cgroup ---- */

static void test_cgroup(void **state)
{
        static const struct {
                const char *text;
                int ret;
                const char *path;
        } table[] = {
                { "0::/system.slice/demo.service\n", 0, "/system.slice/demo.service" },
                /* A hybrid host, as this machine's: both hierarchies, unified wins. */
                { "9:name=systemd:/system.slice/a.service\n4:memory:/x\n0::/system.slice/b.service\n", 0,
                  "/system.slice/b.service" },
                { "9:name=systemd:/\n4:memory:/machine/0123\n0::/\n", 0, "/" },
                /* A legacy host. */
                { "9:pids:/p\n1:name=systemd:/system.slice/legacy.service\n", 0, "/system.slice/legacy.service" },
                { "1:cpu,name=systemd:/system.slice/l.service\n", 0, "/system.slice/l.service" },
                /* cgroup2 mounted and unused: everyone is in its root. */
                { "1:name=systemd:/system.slice/goapp.service\n0::/\n", 0, "/system.slice/goapp.service" },
                { "0::/user.slice/a b:c\n", 0, "/user.slice/a b:c" },
                { "0::/system.slice/x.service (deleted)\n", 0, "/system.slice/x.service (deleted)" },
                { "4:memory:/x\n", -ENOENT, NULL },
                { "", -ENOENT, NULL },
                { "0::relative\n", -ENOENT, NULL },
                { "1:name=systemdx:/x\n", -ENOENT, NULL },
                { "0::/cut.service", -ENOENT, NULL },            /* no newline: may be cut */
                /* A hierarchy twice: forged, trust neither. */
                { "0::/a\n0::/b\n", -EINVAL, NULL },
                { "1:name=systemd:/a\n0::/x\n1:name=systemd:/b\n", -EINVAL, NULL },
        };
        char path[PROC_CGROUP_MAX];
        size_t len;
        char *b;

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = strlen(table[i].text);
                char *t = exact(table[i].text, n);

                assert_int_equal(proc_parse_cgroup(t, n, path, sizeof(path)), table[i].ret);
                if (table[i].ret == 0)
                        assert_string_equal(path, table[i].path);
                free(t);
        }

        /* The path must fit with its terminator. */
        assert_int_equal(proc_parse_cgroup(ST("0::/abcd\n"), path, 6), 0);
        assert_string_equal(path, "/abcd");
        assert_int_equal(proc_parse_cgroup(ST("0::/abcd\n"), path, 5), -ENAMETOOLONG);

        b = fixture("101/cgroup", &len);
        assert_int_equal(proc_parse_cgroup(b, len, path, sizeof(path)), 0);
        assert_string_equal(path, "/system.slice/legacy.service");
        free(b);
        b = fixture("107/cgroup", &len);
        assert_int_equal(proc_parse_cgroup(b, len, path, sizeof(path)), 0);
        assert_string_equal(path, "/system.slice/goapp.service");
        free(b);
        b = fixture("106/cgroup", &len);
        assert_int_equal(proc_parse_cgroup(b, len, path, sizeof(path)), -ENOENT);
        free(b);
}

/* The memory controller's cgroup: a v1 hierarchy listing "memory" wins, else the
 * unified one's. */
static void test_cgroup_memory(void **state)
{
        static const struct {
                const char *text;
                int ret;
                const char *path;
                bool v1;
        } table[] = {
                /* This host's kind: v1 memory, cgroup2 mounted without it. */
                { "9:name=systemd:/\n4:memory:/process_api/43ae\n3:cpuset:/\n0::/\n", 0, "/process_api/43ae", true },
                { "5:cpu,memory,pids:/docker/abc\n", 0, "/docker/abc", true },
                { "4:memory:/x (deleted)\n0::/\n", 0, "/x (deleted)", true },
                /* A v2 host: the unified hierarchy. */
                { "0::/system.slice/a.service\n", 0, "/system.slice/a.service", false },
                { "9:name=systemd:/s\n4:memoryx:/m\n0::/u\n", 0, "/u", false },
                { "4:name=memory:/m\n0::/u\n", 0, "/u", false },
                /* Forged (the kernel lists controllers only on v1 hierarchies, ID > 0),
                 * and read as the name=systemd line is. */
                { "0:memory:/m\n", 0, "/m", true },
                { "4:memory:relative\n", -ENOENT, NULL, false },
                { "4:memory:/cut", -ENOENT, NULL, false },       /* no newline: may be cut */
                { "", -ENOENT, NULL, false },
                /* Forged: a controller on two hierarchies, the unified one twice. */
                { "4:memory:/a\n6:memory,cpu:/b\n", -EINVAL, NULL, false },
                { "0::/a\n0::/b\n", -EINVAL, NULL, false },
        };
        char path[PROC_CGROUP_MAX];
        bool v1;

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                size_t n = strlen(table[i].text);
                char *t = exact(table[i].text, n);

                strcpy(path, "untouched");
                v1 = !table[i].v1;
                assert_int_equal(proc_parse_cgroup_memory(t, n, path, sizeof(path), &v1), table[i].ret);
                if (table[i].ret == 0) {
                        assert_string_equal(path, table[i].path);
                        assert_true(v1 == table[i].v1);
                } else
                        assert_string_equal(path, "untouched");
                free(t);
        }
        assert_int_equal(proc_parse_cgroup_memory(ST("4:memory:/abcd\n"), path, 6, &v1), 0);
        assert_string_equal(path, "/abcd");
        assert_int_equal(proc_parse_cgroup_memory(ST("4:memory:/abcd\n"), path, 5, &v1), -ENAMETOOLONG);
}

static void test_cgroup_unit(void **state)
{
        static const struct {
                const char *path;
                int ret;
                const char *unit, *system_unit;
        } table[] = {
                { "/system.slice/demo.service", 0, "demo.service", "demo.service" },
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", 0,
                  "foo.service", "user@1000.service" },
                { "/user.slice/user-1000.slice/user@1000.service/init.scope", 0, "init.scope",
                  "user@1000.service" },
                { "/user.slice/user-1000.slice/user@1000.service", 0, "user@1000.service",
                  "user@1000.service" },
                { "/user.slice/user-1000.slice/user@1000.service/app.slice/x/y", 0,
                  "user@1000.service", "user@1000.service" },
                { "/user.slice/user-1000.slice/session-2.scope", 0, "session-2.scope", "session-2.scope" },
                { "/init.scope", 0, "init.scope", "init.scope" },
                { "/system.slice/docker-0123abcd.scope/init", 0, "docker-0123abcd.scope",
                  "docker-0123abcd.scope" },
                /* A delegated subtree names its cgroups as it likes: not a unit. */
                { "/system.slice/foo.service/sshd.service", 0, "foo.service", "foo.service" },
                { "/system.slice/foo.service/payload/x.scope", 0, "foo.service", "foo.service" },
                { "/system.slice/var-lib.mount", 0, "var-lib.mount", "var-lib.mount" },
                { "/system.slice/dev-sda2.swap", 0, "dev-sda2.swap", "dev-sda2.swap" },
                { "/system.slice/sshd.socket", 0, "sshd.socket", "sshd.socket" },
                { "/system.slice/system-getty.slice/getty@tty1.service", 0, "getty@tty1.service",
                  "getty@tty1.service" },
                /* systemd's escape of a unit name that starts with '_'. */
                { "/system.slice/__odd.service", 0, "_odd.service", "_odd.service" },
                { "//system.slice///demo.service/", 0, "demo.service", "demo.service" },
                { "/", -ENOENT, NULL, NULL },
                { "", -ENOENT, NULL, NULL },
                { "/system.slice", -ENOENT, NULL, NULL },
                { "/machine/0123456789abcdef", -ENOENT, NULL, NULL },
                { "/docker/0123/x.service", -ENOENT, NULL, NULL },
                { "/../../system.slice/x.service", -ENOENT, NULL, NULL },
                { "/system.slice/x.service (deleted)", -ENOENT, NULL, NULL },
                { "/system.slice/a b.service", -ENOENT, NULL, NULL },
                { "/system.slice/.service", -ENOENT, NULL, NULL },
                { "/system.slice/x.timer", -ENOENT, NULL, NULL },
                { "/system.slice/\xff.service", -ENOENT, NULL, NULL },
        };
        char unit[PROC_UNIT_MAX];
        char longpath[600], *p;

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_int_equal(proc_cgroup_unit(table[i].path, unit, sizeof(unit)), table[i].ret);
                if (table[i].ret == 0)
                        assert_string_equal(unit, table[i].unit);
                assert_int_equal(proc_cgroup_system_unit(table[i].path, unit, sizeof(unit)), table[i].ret);
                if (table[i].ret == 0)
                        assert_string_equal(unit, table[i].system_unit);
        }
        assert_int_equal(proc_cgroup_unit("/system.slice/demo.service", unit, 13), 0);
        assert_string_equal(unit, "demo.service");
        assert_int_equal(proc_cgroup_unit("/system.slice/demo.service", unit, 12), -ENAMETOOLONG);

        /* A component longer than any unit name is not one. */
        p = longpath + sprintf(longpath, "/system.slice/");
        memset(p, 'a', 300);
        strcpy(p + 300, ".service");
        assert_int_equal(proc_cgroup_unit(longpath, unit, sizeof(unit)), -ENOENT);
}

/* ---- cmdline ---- */

static void test_cmdline(void **state)
{
        static const struct {
                const char *buf;
                size_t len, outsz;
                const char *out;
        } table[] = {
                { "sleep\0" "1000\0", 11, 64, "sleep 1000" },
                { "a\0b\0\0\0", 6, 64, "a b" },
                { "a\0\0b\0", 5, 64, "a  b" },
                { "abc", 3, 64, "abc" },                /* rewritten, no NUL at all */
                { "", 0, 64, "" },                      /* kernel thread */
                { "\0\0", 2, 64, "" },
                { "sleep\0" "1000\0", 11, 4, "sle" },
                { "sleep\0" "1000\0", 11, 1, "" },
                { "sleep\0" "1000\0", 3, 64, "sle" },   /* len shorter than the text */
                { "sleep\0" "1000\0", 6, 64, "sleep" },
                { "a\nb\0", 4, 64, "a\nb" },            /* joined, not escaped */
        };

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                char out[64];
                char *b = exact(table[i].buf, table[i].len);

                memset(out, 'X', sizeof(out));
                assert_int_equal(proc_cmdline_join(b, table[i].len, out, table[i].outsz), strlen(table[i].out));
                assert_string_equal(out, table[i].out);
                free(b);
        }
        {
                char out[4] = "XYZ";
                assert_int_equal(proc_cmdline_join("ab\0", 3, out, 0), 0);
                assert_string_equal(out, "XYZ");
        }
}

/* ---- readers over the fixture tree ---- */

static void test_read_file(void **state)
{
        char buf[4096], small[16];
        size_t len;
        ssize_t n;
        char *b;

        (void)state;
        b = fixture("100/stat", &len);
        n = proc_read_file(root, "100/stat", buf, sizeof(buf));
        assert_int_equal(n, len);
        assert_memory_equal(buf, b, len);
        assert_int_equal(buf[len], '\0');

        /* Exactly fits; one byte short; far too short (prefix kept). */
        assert_true(len + 1 <= sizeof(buf));
        assert_int_equal(proc_read_file(root, "100/stat", buf, len + 1), len);
        assert_int_equal(proc_read_file(root, "100/stat", buf, len), -E2BIG);
        assert_int_equal(strlen(buf), len - 1);
        assert_int_equal(proc_read_file(root, "100/stat", small, sizeof(small)), -E2BIG);
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_memory_equal(small, b, sizeof(small) - 1);
        assert_int_equal(proc_read_file(root, "100/stat", small, 1), -E2BIG);
        assert_string_equal(small, "");
        free(b);

        assert_int_equal(proc_read_file(root, "2/cmdline", buf, sizeof(buf)), 0);
        assert_int_equal(proc_read_file(root, "2/cmdline", small, 1), 0);
        assert_int_equal(proc_read_file(root, "999/stat", buf, sizeof(buf)), -ENOENT);
        assert_int_equal(proc_read_file(root, "101/smaps", buf, sizeof(buf)), -ENOENT);
        assert_int_equal(proc_read_file(root, "100/stat", buf, 0), -EINVAL);
        assert_int_equal(proc_read_file(-1, "100/stat", buf, sizeof(buf)), -EBADF);
}

static void test_root_open(void **state)
{
        char path[PATH_MAX];

        (void)state;
        assert_int_equal(proc_root_open("/nonexistent/leakwatch-proc"), -ENOENT);
        snprintf(path, sizeof(path), "%s/proc/root/sys/kernel/random/boot_id", fixtures_dir());
        assert_int_equal(proc_root_open(path), -ENOTDIR);
        assert_int_equal(proc_root_open(NULL), -EINVAL);
}

static void test_files_open(void **state)
{
        struct proc_files f = PROC_FILES_INIT;
        struct proc_status ps;
        struct proc_stat st;
        uint64_t fds = 0;
        char buf[4096];
        ssize_t n;

        (void)state;
        assert_int_equal(proc_files_open(root, 100, &f), 0);
        /* A fixture is not procfs: its fd directory's size is no count. */
        assert_false(f.procfs);
        assert_int_equal(proc_files_count_fds(&f, &fds), 0);
        assert_int_equal(fds, 4);
        assert_int_equal(proc_files_count_fds(NULL, &fds), -EINVAL);
        for (int i = 0; i < 2; i++) {   /* re-read from offset 0 */
                n = proc_pread(f.stat, buf, sizeof(buf));
                assert_true(n > 0);
                assert_int_equal(proc_parse_stat(buf, (size_t)n, &st), 0);
                assert_string_equal(st.comm, "sleep");
                n = proc_pread(f.status, buf, sizeof(buf));
                assert_true(n > 0);
                assert_int_equal(proc_parse_status(buf, (size_t)n, &ps), 0);
                assert_int_equal(ps.vmrss_kb, 1744);
        }
        assert_int_equal(proc_pread(f.stat, buf, 10), -E2BIG);
        assert_int_equal(strlen(buf), 9);
        assert_int_equal(proc_pread(f.stat, buf, 0), -EINVAL);
        proc_files_close(&f);
        assert_int_equal(f.dir, -1);
        assert_int_equal(f.stat, -1);
        assert_int_equal(f.status, -1);
        proc_files_close(&f);           /* twice is harmless */
        proc_files_close(NULL);

        f = (struct proc_files) { .dir = 7, .stat = 8, .status = 9 };
        assert_int_equal(proc_files_open(root, 999, &f), -ENOENT);
        assert_int_equal(f.dir, 7);     /* not written on failure */
        assert_int_equal(proc_files_open(root, 0, &f), -EINVAL);
        assert_int_equal(proc_files_open(root, -1, &f), -EINVAL);
        assert_int_equal(proc_pread(-1, buf, sizeof(buf)), -EINVAL);
}

/* A scratch directory for trees the repository cannot hold (an empty directory) or
 * should not (malformed boot ids). */
struct scratch {
        char dir[64];
        int fd;
};

static void scratch_make(struct scratch *s)
{
        strcpy(s->dir, "/tmp/leakwatch-test-proc-XXXXXX");
        assert_non_null(mkdtemp(s->dir));
        s->fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(s->fd >= 0);
}

static void scratch_write(struct scratch *s, const char *name, const char *text)
{
        int fd = openat(s->fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write_full(fd, text, strlen(text)), 0);
        close(fd);
}

/* A FIFO in a proc root that is not procfs: opening it for reading must not wait for a
 * writer (nobody writes it), and it reads as an error, never as text. The test would
 * hang without the non-blocking open, so an alarm turns a hang into a failure. */
static void test_read_fifo(void **state)
{
        struct proc_files f = PROC_FILES_INIT;
        struct proc_heap heap;
        struct scratch s;
        char buf[256];

        (void)state;
        scratch_make(&s);
        alarm(10);
        assert_int_equal(mkfifoat(s.fd, "cmdline", 0600), 0);
        assert_true(proc_read_file(s.fd, "cmdline", buf, sizeof(buf)) < 0);
        assert_int_equal(mkdirat(s.fd, "7", 0755), 0);
        assert_int_equal(mkfifoat(s.fd, "7/stat", 0600), 0);
        assert_int_equal(mkfifoat(s.fd, "7/status", 0600), 0);
        assert_int_equal(mkfifoat(s.fd, "7/smaps", 0600), 0);
        assert_int_equal(proc_files_open(s.fd, 7, &f), 0);
        assert_true(proc_pread(f.stat, buf, sizeof(buf)) < 0);
        assert_true(proc_pread(f.status, buf, sizeof(buf)) < 0);
        assert_true(proc_read_heap(f.dir, buf, sizeof(buf), &heap) < 0 || heap.size_kb == 0);
        proc_files_close(&f);
        alarm(0);
        assert_int_equal(unlinkat(s.fd, "7/stat", 0), 0);
        assert_int_equal(unlinkat(s.fd, "7/status", 0), 0);
        assert_int_equal(unlinkat(s.fd, "7/smaps", 0), 0);
        assert_int_equal(unlinkat(s.fd, "7", AT_REMOVEDIR), 0);
        assert_int_equal(unlinkat(s.fd, "cmdline", 0), 0);
        close(s.fd);
        assert_int_equal(rmdir(s.dir), 0);
}

/* hidepid itself needs a mount of its own (tests/adversarial/test_procfs.py mounts one);
 * here: a fixture tree never hides, nor does this test's own /proc, and a PID that does
 * not exist, or whose directory is there, is not hidden. */
static void test_hidden(void **state)
{
        int proc = proc_root_open("/proc");
        uint64_t n;
        int dir;

        (void)state;
        assert_false(proc_root_hides(root));
        assert_false(proc_pid_hidden(root, 100));
        assert_false(proc_pid_hidden(root, getpid()));
        assert_true(proc >= 0);
        if (!proc_root_hides(proc)) {
                assert_false(proc_pid_hidden(proc, getpid()));
                assert_false(proc_pid_hidden(proc, 1));
        }
        assert_false(proc_pid_hidden(proc, 0));
        assert_false(proc_pid_hidden(proc, 4194304 + 1));
        /* A fixture's missing fd directory stays "absent", never "denied". */
        dir = openat(root, "101", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        assert_int_equal(proc_count_fds(dir, &n), -ENOENT);
        close(dir);
        close(proc);
}

static void test_count_fds(void **state)
{
        struct scratch s;
        uint64_t n = 12345;
        int dir;

        (void)state;
        dir = openat(root, "100", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        assert_int_equal(proc_count_fds(dir, &n), 0);
        assert_int_equal(n, 4);
        close(dir);

        dir = openat(root, "101", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        n = 12345;
        assert_int_equal(proc_count_fds(dir, &n), -ENOENT);
        assert_int_equal(n, 12345);
        close(dir);

        /* No descriptors at all; and fd not a directory. */
        scratch_make(&s);
        assert_int_equal(mkdirat(s.fd, "fd", 0755), 0);
        assert_int_equal(proc_count_fds(s.fd, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(unlinkat(s.fd, "fd", AT_REMOVEDIR), 0);
        scratch_write(&s, "fd", "");
        assert_int_equal(proc_count_fds(s.fd, &n), -ENOTDIR);
        assert_int_equal(unlinkat(s.fd, "fd", 0), 0);
        close(s.fd);
        assert_int_equal(rmdir(s.dir), 0);
}

static void test_read_rollup_heap(void **state)
{
        static const struct {
                const char *pid;
                int rollup, heap;
                uint64_t heap_rss;
        } table[] = {
                { "100", 0, 0, 16 },
                { "2", -ENODATA, -ENODATA, 0 },         /* kernel thread */
                { "104", -ENODATA, -ENODATA, 0 },       /* zombie */
                { "105", -ENOENT, 0, 16 },              /* before 4.14; no start_brk */
                { "106", -EINVAL, -ENOENT, 0 },         /* cut rollup; no smaps */
                { "107", -ENOENT, -ENOENT, 0 },         /* no heap */
                { "108", -ENOENT, 0, 44 },              /* heap after 42 records */
        };
        char buf[65536];

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                struct proc_rollup r;
                struct proc_heap h = { 0 };
                int dir = openat(root, table[i].pid, O_PATH | O_DIRECTORY | O_CLOEXEC);

                assert_true(dir >= 0);
                assert_int_equal(proc_read_rollup(dir, buf, 4096, &r), table[i].rollup);
                assert_int_equal(proc_read_heap(dir, buf, sizeof(buf), &h), table[i].heap);
                if (table[i].heap == 0)
                        assert_int_equal(h.rss_kb, table[i].heap_rss);
                close(dir);
        }

        /* The bound: 108's heap lies beyond 8 KiB, and 100's within. 107 has no heap
         * and is decided early, by start_brk, however small the bound. */
        {
                struct proc_rollup r;
                struct proc_heap h;
                int d100 = openat(root, "100", O_PATH | O_DIRECTORY | O_CLOEXEC);
                int d107 = openat(root, "107", O_PATH | O_DIRECTORY | O_CLOEXEC);
                int d108 = openat(root, "108", O_PATH | O_DIRECTORY | O_CLOEXEC);

                assert_true(d100 >= 0 && d107 >= 0 && d108 >= 0);
                assert_int_equal(proc_read_heap(d108, buf, 8192, &h), -E2BIG);
                assert_int_equal(proc_read_heap(d100, buf, 8192, &h), 0);
                assert_int_equal(proc_read_heap(d100, buf, 1024, &h), -E2BIG);
                assert_int_equal(proc_read_heap(d107, buf, 8192, &h), -ENOENT);
                assert_int_equal(proc_read_heap(d107, buf, 0, &h), -EINVAL);
                assert_int_equal(proc_read_rollup(d100, buf, 100, &r), -E2BIG);
                close(d100);
                close(d107);
                close(d108);
        }
}

static void test_boot_id(void **state)
{
        static const struct {
                const char *text;
                int ret;
        } table[] = {
                { "0c6f3e1a-8b5d-4f2e-9a47-3d1b2c5e7f92\n", 0 },
                { "0c6f3e1a-8b5d-4f2e-9a47-3d1b2c5e7f92", -EINVAL },
                { "0c6f3e1a-8b5d-4f2e-9a47-3d1b2c5e7f9\n", -EINVAL },
                { "0c6f3e1a-8b5d-4f2e-9a47-3d1b2c5e7f923\n", -EINVAL },
                { "0c6f3e1a-8b5d-4f2e-9a47-3d1b2c5e7f92\nx", -EINVAL },
                { "0c6f3e1a-8b5d-4f2e-9a47-3d1b2c5e7f92\n\n\n\n\n", -EINVAL },
                { "0c6f3e1ax8b5d-4150-8a67-2e9f7a41ef82\n", -EINVAL },
                { "0C6F3E1A-8b5d-4f2e-9a47-3d1b2c5e7f92\n", -EINVAL },
                { "", -EINVAL },
        };
        char id[PROC_BOOT_ID_LEN + 1], expect[64];
        struct scratch s;
        size_t len;
        char *b;

        (void)state;
        b = fixture("sys/kernel/random/boot_id", &len);
        assert_int_equal(len, PROC_BOOT_ID_LEN + 1);
        assert_int_equal(proc_read_boot_id(root, id, sizeof(id)), 0);
        assert_memory_equal(id, b, PROC_BOOT_ID_LEN);
        assert_int_equal(id[PROC_BOOT_ID_LEN], '\0');
        free(b);
        assert_int_equal(proc_read_boot_id(root, id, PROC_BOOT_ID_LEN), -EINVAL);

        scratch_make(&s);
        assert_int_equal(proc_read_boot_id(s.fd, id, sizeof(id)), -ENOENT);
        assert_int_equal(mkdirat(s.fd, "sys", 0755), 0);
        assert_int_equal(mkdirat(s.fd, "sys/kernel", 0755), 0);
        assert_int_equal(mkdirat(s.fd, "sys/kernel/random", 0755), 0);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                memset(id, 'Z', sizeof(id));
                scratch_write(&s, "sys/kernel/random/boot_id", table[i].text);
                assert_int_equal(proc_read_boot_id(s.fd, id, sizeof(id)), table[i].ret);
                if (table[i].ret == 0) {
                        snprintf(expect, sizeof(expect), "%.*s", PROC_BOOT_ID_LEN, table[i].text);
                        assert_string_equal(id, expect);
                } else {
                        assert_int_equal(id[0], 'Z');
                }
        }
        assert_int_equal(unlinkat(s.fd, "sys/kernel/random/boot_id", 0), 0);
        assert_int_equal(unlinkat(s.fd, "sys/kernel/random", AT_REMOVEDIR), 0);
        assert_int_equal(unlinkat(s.fd, "sys/kernel", AT_REMOVEDIR), 0);
        assert_int_equal(unlinkat(s.fd, "sys", AT_REMOVEDIR), 0);
        close(s.fd);
        assert_int_equal(rmdir(s.dir), 0);
}

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
        return (x > y) - (x < y);
}

static void test_list_pids(void **state)
{
        static const pid_t expect[] = { 2, 100, 101, 102, 103, 104, 105, 106, 107, 108 };
        pid_t *pids = NULL;
        size_t cap = 0;
        ssize_t n;

        (void)state;
        n = proc_list_pids(root, &pids, &cap);
        assert_int_equal(n, ELEMENTSOF(expect));
        assert_true(cap >= (size_t)n);
        qsort(pids, (size_t)n, sizeof(pid_t), cmp_pid);
        assert_memory_equal(pids, expect, sizeof(expect));
        free(pids);

        /* Growing from a one-element array. */
        pids = malloc(sizeof(pid_t));
        assert_non_null(pids);
        cap = 1;
        n = proc_list_pids(root, &pids, &cap);
        assert_int_equal(n, ELEMENTSOF(expect));
        assert_true(cap >= ELEMENTSOF(expect));
        /* Called again: the same, with no new growth. */
        {
                size_t cap0 = cap;
                assert_int_equal(proc_list_pids(root, &pids, &cap), ELEMENTSOF(expect));
                assert_int_equal(cap, cap0);
        }
        free(pids);

        pids = NULL;
        cap = 0;
        assert_int_equal(proc_list_pids(-1, &pids, &cap), -EBADF);
        assert_null(pids);
}

static void test_errno_reason(void **state)
{
        (void)state;
        assert_int_equal(proc_errno_reason(0), UNK_NONE);
        assert_int_equal(proc_errno_reason(-EACCES), UNK_DENIED);
        assert_int_equal(proc_errno_reason(-EPERM), UNK_DENIED);
        assert_int_equal(proc_errno_reason(-ESRCH), UNK_GONE);
        assert_int_equal(proc_errno_reason(-ENOENT), UNK_GONE);
        assert_int_equal(proc_errno_reason(-ENODATA), UNK_ZOMBIE);
        assert_int_equal(proc_errno_reason(-EINVAL), UNK_ERROR);
        assert_int_equal(proc_errno_reason(-E2BIG), UNK_ERROR);
        assert_int_equal(proc_errno_reason(-EIO), UNK_ERROR);
}

/* ---- live processes ---- */

/* A child that does what it is told through a pipe, then waits for the next word,
 * idle, so its counters hold still while the test reads them. It is always ended with
 * SIGKILL, so it runs no exit handlers (nor valgrind's report) of the parent's. */
struct child {
        pid_t pid;
        int cmd;        /* write end */
        int ack;        /* read end */
};

#define CHILD_ANON_MIB 20
#define CHILD_BRK_MIB 4

static void child_main(int cmd, int ack)
{
        char c;

        for (;;) {
                if (read(cmd, &c, 1) != 1)
                        _exit(1);
                if (c == 'a') {
                        /* Anonymous memory, touched so it is resident. */
                        size_t n = (size_t)CHILD_ANON_MIB << 20;
                        char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED)
                                _exit(2);
                        memset(p, 1, n);
                } else if (c == 'b') {
                        /* brk memory: the [heap] mapping. */
                        size_t n = (size_t)CHILD_BRK_MIB << 20;
                        char *p = sbrk((intptr_t)n);
                        if (p == (void *)-1)
                                _exit(3);
                        memset(p, 1, n);
                }
                if (write(ack, "k", 1) != 1)
                        _exit(4);
        }
}

static void child_start(struct child *c)
{
        int to[2], from[2];

        assert_int_equal(pipe2(to, O_CLOEXEC), 0);
        assert_int_equal(pipe2(from, O_CLOEXEC), 0);
        c->pid = fork();
        assert_true(c->pid >= 0);
        if (c->pid == 0) {
                close(to[1]);
                close(from[0]);
                child_main(to[0], from[1]);
        }
        close(to[0]);
        close(from[1]);
        c->cmd = to[1];
        c->ack = from[0];
}

static void child_do(struct child *c, char what)
{
        char k;

        assert_int_equal(write(c->cmd, &what, 1), 1);
        assert_int_equal(read(c->ack, &k, 1), 1);
}

/* Kills the child and waits until it is a zombie, without reaping it. */
static void child_zombie(struct child *c)
{
        siginfo_t si;

        assert_int_equal(kill(c->pid, SIGKILL), 0);
        assert_int_equal(waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOWAIT), 0);
}

static void child_reap(struct child *c)
{
        int status;

        assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
        close(c->cmd);
        close(c->ack);
        c->pid = 0;
}

static void child_end(struct child *c)
{
        child_zombie(c);
        child_reap(c);
}

static void read_stat(int fd, struct proc_stat *st)
{
        char buf[2048];
        ssize_t n = proc_pread(fd, buf, sizeof(buf));

        assert_true(n > 0);
        assert_int_equal(proc_parse_stat(buf, (size_t)n, st), 0);
}

static void read_status(int fd, struct proc_status *ps)
{
        char buf[8192];
        ssize_t n = proc_pread(fd, buf, sizeof(buf));

        assert_true(n > 0);
        assert_int_equal(proc_parse_status(buf, (size_t)n, ps), 0);
}

/* Observation: pread at offset 0 regenerates a kept-open status and stat. */
static void test_live_pread_rereads(void **state)
{
        struct proc_files f = PROC_FILES_INIT;
        struct proc_status a, b;
        struct proc_stat sa, sb;
        struct child c;

        (void)state;
        child_start(&c);
        child_do(&c, 'n');
        assert_int_equal(proc_files_open(live, c.pid, &f), 0);
        read_status(f.status, &a);
        read_stat(f.stat, &sa);
        child_do(&c, 'a');
        read_status(f.status, &b);
        read_stat(f.stat, &sb);
        assert_true(a.have & (1u << PS_RSSANON));
        assert_true(b.rssanon_kb >= a.rssanon_kb + (CHILD_ANON_MIB - 1) * 1024);
        assert_true(b.vmrss_kb >= a.vmrss_kb + (CHILD_ANON_MIB - 1) * 1024);
        /* One minor fault per touched page at least (a huge page would fault once per
         * 2 MiB, so only a tenth of that is asserted). */
        assert_true(sb.minflt >= sa.minflt + 10);
        assert_true(sb.vsize >= sa.vsize + ((uint64_t)CHILD_ANON_MIB << 20));
        proc_files_close(&f);
        child_end(&c);
}

/* Observations: a zombie's kept descriptors still read; its memory files have nothing;
 * once reaped every kept descriptor and every open under the PID directory gives
 * ESRCH, and the PID directory itself is gone (ENOENT). */
static void test_live_zombie_then_reaped(void **state)
{
        struct proc_files f = PROC_FILES_INIT;
        struct proc_status ps;
        struct proc_rollup r;
        struct proc_stat st;
        struct proc_heap h;
        char buf[65536];
        struct child c;
        uint64_t fds;
        int rollup;
        pid_t pid;
        ssize_t n;

        (void)state;
        child_start(&c);
        child_do(&c, 'b');
        pid = c.pid;
        assert_int_equal(proc_files_open(live, pid, &f), 0);
        rollup = openat(f.dir, "smaps_rollup", O_RDONLY | O_CLOEXEC);
        assert_true(rollup >= 0);
        assert_int_equal(proc_read_rollup(f.dir, buf, 4096, &r), 0);
        assert_true(r.kb[PR_RSS] > 0);
        assert_int_equal(proc_count_fds(f.dir, &fds), 0);
        assert_true(fds >= 2);
        assert_true(f.procfs);
        fds = 0;
        assert_int_equal(proc_files_count_fds(&f, &fds), 0);
        assert_true(fds >= 2);

        child_zombie(&c);
        read_stat(f.stat, &st);
        assert_true(proc_stat_is_zombie(&st));
        assert_int_equal(st.vsize, 0);
        read_status(f.status, &ps);
        assert_int_equal(ps.have & ((1u << PS_VMRSS) | (1u << PS_VMSIZE) | (1u << PS_RSSANON)), 0);
        assert_true(ps.have & (1u << PS_PPID));
        assert_int_equal(ps.ppid, getpid());
        assert_int_equal(proc_read_rollup(f.dir, buf, 4096, &r), -ENODATA);
        assert_int_equal(proc_read_heap(f.dir, buf, sizeof(buf), &h), -ENODATA);
        /* What the readers above cope with, either way: 6.18 gives ESRCH for the
         * rollup opened while alive and 0 bytes for smaps; other kernels may give 0
         * bytes or ESRCH for either. */
        n = pread(rollup, buf, 4096, 0);
        assert_true(n == 0 || (n < 0 && errno == ESRCH));
        n = proc_read_file(f.dir, "smaps", buf, sizeof(buf));
        assert_true(n == 0 || n == -ESRCH);
        assert_int_equal(proc_count_fds(f.dir, &fds), 0);
        assert_int_equal(fds, 0);
        fds = 1;
        assert_int_equal(proc_files_count_fds(&f, &fds), 0);
        assert_int_equal(fds, 0);

        /* Once reaped, ESRCH everywhere: a kept seq_file finds no task, and a lookup
         * below the PID directory fails its permission check for want of one. */
        child_reap(&c);
        assert_int_equal(proc_pread(f.stat, buf, sizeof(buf)), -ESRCH);
        assert_int_equal(proc_pread(f.status, buf, sizeof(buf)), -ESRCH);
        assert_int_equal(pread(rollup, buf, 4096, 0), -1);
        assert_int_equal(errno, ESRCH);
        assert_int_equal(proc_read_file(f.dir, "stat", buf, sizeof(buf)), -ESRCH);
        assert_int_equal(proc_read_rollup(f.dir, buf, 4096, &r), -ESRCH);
        assert_int_equal(proc_read_heap(f.dir, buf, sizeof(buf), &h), -ESRCH);
        assert_int_equal(proc_count_fds(f.dir, &fds), -ESRCH);
        close(rollup);
        proc_files_close(&f);
        /* A fresh open finds no such process (unless the PID was reused at once, which
         * takes a wrap of pid_max between two lines of this test). */
        assert_int_equal(proc_files_open(live, pid, &f), -ENOENT);
}

/* Observation: a kernel thread's smaps_rollup fails to open with ESRCH (6.18) and its
 * smaps is empty; the readers call either answer "no mm". PID 2 is kthreadd on a host,
 * but not in every PID namespace, so the test only runs where it is a kernel thread. */
static void test_live_kthread(void **state)
{
        struct proc_rollup r;
        struct proc_heap h;
        struct proc_stat st;
        char buf[4096];
        ssize_t n;
        int dir;

        (void)state;
        n = proc_read_file(live, "2/stat", buf, sizeof(buf));
        if (n < 0 || proc_parse_stat(buf, (size_t)n, &st) < 0 || !proc_stat_is_kthread(&st))
                skip();
        dir = openat(live, "2", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        /* 6.18: the open fails with ESRCH; kernels before the change read 0 bytes. */
        n = proc_read_file(dir, "smaps_rollup", buf, sizeof(buf));
        assert_true(n == 0 || n == -ESRCH);
        n = proc_read_file(dir, "smaps", buf, sizeof(buf));
        assert_true(n == 0 || n == -ESRCH);
        assert_int_equal(proc_read_rollup(dir, buf, sizeof(buf), &r), -ENODATA);
        assert_int_equal(proc_read_heap(dir, buf, sizeof(buf), &h), -ENODATA);
        close(dir);
}

/* The heap reader agrees with a full read of smaps: it finds [heap] exactly when the
 * file has one, and then at least the brk memory the child touched. (Under valgrind
 * the brk area is a mapping valgrind made, with no [heap] name.) */
static void test_live_heap(void **state)
{
        static char full[1 << 20];
        struct proc_heap h = { 0 };
        struct child c;
        char small[65536];
        ssize_t n;
        int dir, r;
        char name[16];

        (void)state;
        child_start(&c);
        child_do(&c, 'b');
        snprintf(name, sizeof(name), "%d", (int)c.pid);
        dir = openat(live, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        n = proc_read_file(dir, "smaps", full, sizeof(full));
        assert_true(n > 0);
        r = proc_read_heap(dir, small, sizeof(small), &h);
        if (memmem(full, (size_t)n, "[heap]\n", 7)) {
                assert_int_equal(r, 0);
                assert_true(h.rss_kb >= CHILD_BRK_MIB * 1024);
                assert_true(h.size_kb >= h.rss_kb);
        } else {
                /* Under valgrind the child has hundreds of mappings and no start_brk
                 * the search can use, so the bound may end it first. */
                assert_true(r == -ENOENT || r == -E2BIG);
        }
        close(dir);
        child_end(&c);
}

static void test_live_fds_self(void **state)
{
        uint64_t before, after, listed = 0;
        int dir, p[2], extra;
        struct dirent *de;
        DIR *d;

        (void)state;
        dir = openat(live, "self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        assert_true(dir >= 0);
        assert_int_equal(proc_count_fds(dir, &before), 0);
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        extra = dup(p[0]);
        assert_true(extra >= 0);
        assert_int_equal(proc_count_fds(dir, &after), 0);
        assert_int_equal(after, before + 3);

        /* The same count by listing (which holds one more descriptor: its own). */
        d = opendir("/proc/self/fd");
        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        listed++;
        closedir(d);
        assert_int_equal(listed, after + 1);
        close(p[0]);
        close(p[1]);
        close(extra);
        close(dir);
}

static void test_live_misc(void **state)
{
        char id[PROC_BOOT_ID_LEN + 1], path[PROC_CGROUP_MAX], buf[8192];
        pid_t *pids = NULL;
        size_t cap = 0;
        bool self = false;
        ssize_t n;
        int r;

        (void)state;
        assert_int_equal(proc_read_boot_id(live, id, sizeof(id)), 0);
        n = proc_list_pids(live, &pids, &cap);
        assert_true(n > 0);
        for (ssize_t i = 0; i < n; i++)
                self |= pids[i] == getpid();
        assert_true(self);
        free(pids);
        n = proc_read_file(live, "self/cgroup", buf, sizeof(buf));
        assert_true(n > 0);
        r = proc_parse_cgroup(buf, (size_t)n, path, sizeof(path));
        assert_true(r == 0 || r == -ENOENT);
        if (r == 0)
                assert_int_equal(path[0], '/');
}

/* ---- cross-check with libproc2 ---- */

enum {
        X_PPID, X_PGRP, X_SESSION, X_FLAGS, X_STATE, X_BEGAN, X_VSIZE, X_NLWP, X_FLT_MIN,
        X_FLT_MAJ, X_UTIME, X_STIME, X_RSS, X_ANON, X_FILE, X_SHMEM, X_VMSIZE, X_DATA,
        X_SWAP, X_RES, X_RUID, X_EUID, X_TGID, X_CMD, X_CMDLINE,
};

static enum pids_item xitems[] = {
        [X_PPID] = PIDS_ID_PPID,
        [X_PGRP] = PIDS_ID_PGRP,
        [X_SESSION] = PIDS_ID_SESSION,
        [X_FLAGS] = PIDS_FLAGS,
        [X_STATE] = PIDS_STATE,
        [X_BEGAN] = PIDS_TICS_BEGAN,
        [X_VSIZE] = PIDS_VSIZE_BYTES,
        [X_NLWP] = PIDS_NLWP,
        [X_FLT_MIN] = PIDS_FLT_MIN,
        [X_FLT_MAJ] = PIDS_FLT_MAJ,
        [X_UTIME] = PIDS_TICS_USER,
        [X_STIME] = PIDS_TICS_SYSTEM,
        [X_RSS] = PIDS_VM_RSS,
        [X_ANON] = PIDS_VM_RSS_ANON,
        [X_FILE] = PIDS_VM_RSS_FILE,
        [X_SHMEM] = PIDS_VM_RSS_SHARED,
        [X_VMSIZE] = PIDS_VM_SIZE,
        [X_DATA] = PIDS_VM_DATA,
        [X_SWAP] = PIDS_VM_SWAP,
        [X_RES] = PIDS_MEM_RES,
        [X_RUID] = PIDS_ID_RUID,
        [X_EUID] = PIDS_ID_EUID,
        [X_TGID] = PIDS_ID_TGID,
        [X_CMD] = PIDS_CMD,
        [X_CMDLINE] = PIDS_CMDLINE,
};

/* Readings of an idle process agree exactly; a tolerance of a few pages is allowed
 * where the kernel's own accounting may lag (per-CPU RSS counters are folded in
 * batches). */
#define KB_SLACK 256
#define COUNT_SLACK 16
#define TICK_SLACK 2

#define assert_near(a, b, slack) assert_near_((a), (b), (slack), #a)
static void assert_near_(uint64_t a, uint64_t b, uint64_t slack, const char *what)
{
        uint64_t d = a > b ? a - b : b - a;

        if (d > slack)
                fail_msg("%s: %llu and %llu differ by more than %llu", what, (unsigned long long)a,
                         (unsigned long long)b, (unsigned long long)slack);
}

static void test_live_libproc2(void **state)
{
        struct proc_files f = PROC_FILES_INIT;
        struct pids_info *info = NULL;
        struct pids_fetch *fetch;
        struct pids_stack *s;
        struct proc_status ps;
        struct proc_stat st;
        char buf[PROC_CMDLINE_MAX], cmdline[PROC_CMDLINE_MAX];
        unsigned pid;
        struct child c;
        long page_kb = sysconf(_SC_PAGESIZE) / 1024;
        ssize_t n;

        (void)state;
        child_start(&c);
        child_do(&c, 'a');
        child_do(&c, 'b');
        pid = (unsigned)c.pid;

        assert_int_equal(proc_files_open(live, c.pid, &f), 0);
        read_stat(f.stat, &st);
        read_status(f.status, &ps);
        n = proc_read_file(f.dir, "cmdline", buf, sizeof(buf));
        assert_true(n > 0);
        proc_cmdline_join(buf, (size_t)n, cmdline, sizeof(cmdline));

        assert_true(procps_pids_new(&info, xitems, (int)ELEMENTSOF(xitems)) >= 0);
        fetch = procps_pids_select(info, &pid, 1, PIDS_SELECT_PID);
        assert_non_null(fetch);
        assert_int_equal(fetch->counts->total, 1);
        s = fetch->stacks[0];

        assert_int_equal(PIDS_VAL(X_PPID, s_int, s, info), st.ppid);
        assert_int_equal(st.ppid, getpid());
        assert_int_equal(PIDS_VAL(X_PGRP, s_int, s, info), st.pgrp);
        assert_int_equal(PIDS_VAL(X_SESSION, s_int, s, info), st.session);
        assert_int_equal(PIDS_VAL(X_FLAGS, ul_int, s, info), st.flags);
        /* The child may still be on its way from write() to read() at either look. */
        assert_true(PIDS_VAL(X_STATE, s_ch, s, info) == 'R' || PIDS_VAL(X_STATE, s_ch, s, info) == 'S');
        assert_true(st.state == 'R' || st.state == 'S');
        assert_int_equal(PIDS_VAL(X_BEGAN, ull_int, s, info), st.starttime);
        assert_int_equal(PIDS_VAL(X_VSIZE, ul_int, s, info), st.vsize);
        assert_int_equal(PIDS_VAL(X_NLWP, s_int, s, info), st.num_threads);
        assert_int_equal(st.num_threads, ps.threads);
        assert_near(PIDS_VAL(X_FLT_MIN, ul_int, s, info), st.minflt, COUNT_SLACK);
        assert_near(PIDS_VAL(X_FLT_MAJ, ul_int, s, info), st.majflt, COUNT_SLACK);
        assert_near(PIDS_VAL(X_UTIME, ull_int, s, info), st.utime, TICK_SLACK);
        assert_near(PIDS_VAL(X_STIME, ull_int, s, info), st.stime, TICK_SLACK);

        assert_int_equal(ps.have & ((1u << PS_VMRSS) | (1u << PS_RSSANON) | (1u << PS_RSSFILE) |
                                    (1u << PS_RSSSHMEM) | (1u << PS_VMSIZE) | (1u << PS_VMDATA) |
                                    (1u << PS_VMSWAP)),
                         (1u << PS_VMRSS) | (1u << PS_RSSANON) | (1u << PS_RSSFILE) |
                         (1u << PS_RSSSHMEM) | (1u << PS_VMSIZE) | (1u << PS_VMDATA) | (1u << PS_VMSWAP));
        assert_near(PIDS_VAL(X_RSS, ul_int, s, info), ps.vmrss_kb, KB_SLACK);
        assert_near(PIDS_VAL(X_ANON, ul_int, s, info), ps.rssanon_kb, KB_SLACK);
        assert_near(PIDS_VAL(X_FILE, ul_int, s, info), ps.rssfile_kb, KB_SLACK);
        assert_near(PIDS_VAL(X_SHMEM, ul_int, s, info), ps.rssshmem_kb, KB_SLACK);
        assert_near(PIDS_VAL(X_VMSIZE, ul_int, s, info), ps.vmsize_kb, KB_SLACK);
        assert_near(PIDS_VAL(X_DATA, ul_int, s, info), ps.vmdata_kb, KB_SLACK);
        assert_near(PIDS_VAL(X_SWAP, ul_int, s, info), ps.vmswap_kb, KB_SLACK);
        /* statm's resident is exact, like status; stat's rss is the kernel's per-CPU
         * counters read without summing them (observed on 6.18: 200 kB short for an
         * idle child whose statm and VmRSS agreed), off by less than batch pages per
         * CPU for each of the three counters, batch = max(32, 2 * CPUs). */
        assert_near(PIDS_VAL(X_RES, ul_int, s, info), ps.vmrss_kb, KB_SLACK);
        {
                uint64_t cpus = (uint64_t)sysconf(_SC_NPROCESSORS_CONF);
                uint64_t batch = cpus * 2 > 32 ? cpus * 2 : 32;

                assert_true(st.rss_pages >= 0);
                assert_near((uint64_t)st.rss_pages * (uint64_t)page_kb, ps.vmrss_kb,
                            3 * cpus * batch * (uint64_t)page_kb + KB_SLACK);
        }
        assert_int_equal(PIDS_VAL(X_RUID, u_int, s, info), ps.uid_real);
        assert_int_equal(PIDS_VAL(X_EUID, u_int, s, info), ps.uid_eff);
        assert_int_equal(PIDS_VAL(X_TGID, s_int, s, info), ps.tgid);
        assert_string_equal(PIDS_VAL(X_CMD, str, s, info), st.comm);
        assert_string_equal(PIDS_VAL(X_CMDLINE, str, s, info), cmdline);

        /* And the parts add up, and hold what the child touched. */
        assert_int_equal(ps.vmrss_kb, ps.rssanon_kb + ps.rssfile_kb + ps.rssshmem_kb);
        assert_true(ps.rssanon_kb >= (CHILD_ANON_MIB + CHILD_BRK_MIB) * 1024);
        assert_true(st.vsize / 1024 == ps.vmsize_kb);

        procps_pids_unref(&info);
        proc_files_close(&f);
        child_end(&c);
}

/* /proc/PID/limits as the kernel writes it: the soft limits a leak runs into. */
static void test_parse_limits(void **state)
{
        static const char text[] =
                "Limit                     Soft Limit           Hard Limit           Units     \n"
                "Max cpu time              unlimited            unlimited            seconds   \n"
                "Max data size             536870912            unlimited            bytes     \n"
                "Max stack size            8388608              unlimited            bytes     \n"
                "Max address space         unlimited            unlimited            bytes     \n"
                "Max open files            1024                 524288               files     \n";
        static const char no_as[] = "Max data size             1 2 bytes\nMax open files 3 4 files\n";
        static const char bad[] = "Max address space 12x unlimited bytes\nMax data size 1 1 bytes\n"
                                  "Max open files 1 1 files\n";
        struct proc_limits l = { 0 };

        (void)state;
        assert_int_equal(proc_parse_limits(text, sizeof(text) - 1, &l), 0);
        assert_true(l.as == UINT64_MAX);
        assert_int_equal(l.data, 536870912);
        assert_int_equal(l.nofile, 1024);
        l.nofile = 7;
        assert_int_equal(proc_parse_limits(no_as, sizeof(no_as) - 1, &l), -ENOENT);
        assert_int_equal(proc_parse_limits(bad, sizeof(bad) - 1, &l), -EINVAL);
        assert_int_equal(l.nofile, 7);  /* not written on failure */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_limits),
                cmocka_unit_test(test_stat_fixture),
                cmocka_unit_test(test_stat_adversarial_names),
                cmocka_unit_test(test_stat_garbage),
                cmocka_unit_test(test_stat_prefixes),
                cmocka_unit_test(test_status_fixture),
                cmocka_unit_test(test_status_hostile),
                cmocka_unit_test(test_status_prefixes),
                cmocka_unit_test(test_rollup),
                cmocka_unit_test(test_heap_fixture),
                cmocka_unit_test(test_heap_hostile),
                cmocka_unit_test(test_cgroup),
                cmocka_unit_test(test_cgroup_memory),
                cmocka_unit_test(test_cgroup_unit),
                cmocka_unit_test(test_cmdline),
                cmocka_unit_test(test_root_open),
                cmocka_unit_test(test_read_file),
                cmocka_unit_test(test_read_fifo),
                cmocka_unit_test(test_hidden),
                cmocka_unit_test(test_files_open),
                cmocka_unit_test(test_count_fds),
                cmocka_unit_test(test_read_rollup_heap),
                cmocka_unit_test(test_boot_id),
                cmocka_unit_test(test_list_pids),
                cmocka_unit_test(test_errno_reason),
                cmocka_unit_test(test_live_pread_rereads),
                cmocka_unit_test(test_live_zombie_then_reaped),
                cmocka_unit_test(test_live_kthread),
                cmocka_unit_test(test_live_heap),
                cmocka_unit_test(test_live_fds_self),
                cmocka_unit_test(test_live_misc),
                cmocka_unit_test(test_live_libproc2),
        };

        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
