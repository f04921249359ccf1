/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for sampler over a synthetic proc root written by the test: which processes the
 * rules pick (by name, as children, past a min-rss, after an exec), that the daemon and
 * its descendants are never picked, that a reused PID never continues another process's
 * series, and what a kernel thread, a zombie and an exit look like in the samples. */
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

#include "config.h"
#include "proc.h"
#include "sampler.h"
#include "store.h"
#include "writer.h"
#include "tmpdir.h"

#define MIB (1024 * 1024)
#define SELF 900                        /* the daemon, in the synthetic tree */
#define MAX_EVENTS 64

struct event {
        char kind;                      /* 's'tarted, 'e'nded */
        pid_t pid;
        int64_t id, parent_id;
        size_t rule;
        char reason[64];
        char cgroup[64];                /* started: the unified cgroup, and the v1 memory one */
        char cgroup_v1[64];             /* ("-": none) */
};

struct fixture {
        char dir[64];
        char root[96];
        char db[96];
        int rootfd;
        struct store *st;
        struct writer *w;
        struct config cfg;
        int64_t rule_ids[8];
        struct sampler *s;
        struct event ev[MAX_EVENTS];
        size_t n_ev;
        struct sample last[1024];       /* by pid */
        unsigned smaps_reads[1024];     /* by pid: samples whose smaps were read */
        bool attention[1024];           /* by pid: what the attention listener says */
        uint64_t max_watch;             /* the descriptor limit's room, as main passes it */
        int64_t now_ms;
};

/* ---- the synthetic proc root ---- */

/* Writes PID/stat as the kernel does: the name in parentheses, then fields 3..52. */
static void write_proc(struct fixture *f, pid_t pid, pid_t ppid, const char *comm, char state, uint64_t start,
                       uint64_t rss_kib, bool kthread)
{
        char path[160], buf[1024];
        int fd, n;

        snprintf(path, sizeof(path), "%s/%d", f->root, (int)pid);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%d/fd", f->root, (int)pid);
        mkdir(path, 0755);
        /* In place (O_TRUNC), so descriptors the sampler keeps open see the change, as
         * they would see a real process's. */
        snprintf(path, sizeof(path), "%s/%d/stat", f->root, (int)pid);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        n = snprintf(buf, sizeof(buf),
                     "%d (%s) %c %d %d %d 0 -1 %u 100 0 2 0 5 6 0 0 20 0 1 0 %lu %lu %lu "
                     "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                     (int)pid, comm, state, (int)ppid, (int)pid, (int)pid, kthread ? 0x00200000u : 0x400000u,
                     (unsigned long)start, (unsigned long)(rss_kib * 1024 * 4), (unsigned long)(rss_kib / 4));
        assert_int_equal(write(fd, buf, (size_t)n), n);
        close(fd);

        snprintf(path, sizeof(path), "%s/%d/status", f->root, (int)pid);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        if (kthread || state == 'Z')
                n = snprintf(buf, sizeof(buf), "Name:\t%s\nUmask:\t0000\nState:\t%c\nTgid:\t%d\nPid:\t%d\n"
                             "PPid:\t%d\nUid:\t0\t0\t0\t0\nThreads:\t1\n", comm, state, (int)pid, (int)pid, (int)ppid);
        else
                n = snprintf(buf, sizeof(buf), "Name:\t%s\nUmask:\t0022\nState:\t%c\nTgid:\t%d\nPid:\t%d\n"
                             "PPid:\t%d\nUid:\t1000\t1000\t1000\t1000\nVmSize:\t%lu kB\nVmRSS:\t%lu kB\n"
                             "RssAnon:\t%lu kB\nRssFile:\t%lu kB\nRssShmem:\t0 kB\nVmData:\t%lu kB\n"
                             "VmSwap:\t0 kB\nThreads:\t1\n",
                             comm, state, (int)pid, (int)pid, (int)ppid, (unsigned long)(rss_kib * 4),
                             (unsigned long)rss_kib, (unsigned long)(rss_kib - rss_kib / 4),
                             (unsigned long)(rss_kib / 4), (unsigned long)rss_kib);
        assert_int_equal(write(fd, buf, (size_t)n), n);
        close(fd);

        snprintf(path, sizeof(path), "%s/%d/cmdline", f->root, (int)pid);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (!kthread) {
                n = snprintf(buf, sizeof(buf), "/usr/bin/%s%c--serve%c", comm, 0, 0);
                assert_int_equal(write(fd, buf, (size_t)n), n);
        }
        close(fd);
        snprintf(path, sizeof(path), "%s/%d/cgroup", f->root, (int)pid);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        n = snprintf(buf, sizeof(buf), "0::/system.slice/%s.service\n", comm);
        assert_int_equal(write(fd, buf, (size_t)n), n);
        close(fd);
}

static void write_cgroup(struct fixture *f, pid_t pid, const char *text)
{
        char path[160];
        int fd;

        snprintf(path, sizeof(path), "%s/%d/cgroup", f->root, (int)pid);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static void end_proc(struct fixture *f, pid_t pid)
{
        char path[160];
        int fd;

        /* A kept descriptor of an exited process reads nothing (or ESRCH). */
        snprintf(path, sizeof(path), "%s/%d/stat", f->root, (int)pid);
        fd = open(path, O_WRONLY | O_TRUNC);
        close(fd);
}

static void remove_proc(struct fixture *f, pid_t pid)
{
        char path[160];

        snprintf(path, sizeof(path), "%s/%d", f->root, (int)pid);
        tmpdir_remove(path);
}

/* ---- the sampler under test ---- */

static void on_started(void *userdata, const struct sampler_proc *p, bool resumed, int64_t now_ms)
{
        struct fixture *f = userdata;

        (void)resumed;
        (void)now_ms;
        assert_true(f->n_ev < MAX_EVENTS);
        f->ev[f->n_ev] = (struct event){ .kind = 's', .pid = p->pid, .id = p->id, .parent_id = p->parent_id,
                                         .rule = p->rule };
        snprintf(f->ev[f->n_ev].cgroup, sizeof(f->ev[0].cgroup), "%s", p->cgroup);
        snprintf(f->ev[f->n_ev].cgroup_v1, sizeof(f->ev[0].cgroup_v1), "%s", p->cgroup_v1 ? p->cgroup_v1 : "-");
        f->n_ev++;
}

static void on_sampled(void *userdata, const struct sampler_proc *p, const struct sample *smp)
{
        struct fixture *f = userdata;

        if (p->pid >= 0 && p->pid < 1024) {
                f->last[p->pid] = *smp;
                if (smp->why[G_SMAPS] != UNK_SKIPPED && smp->why[G_SMAPS] != UNK_KTHREAD)
                        f->smaps_reads[p->pid]++;
        }
}

static bool on_attention(void *userdata, const struct sampler_proc *p)
{
        struct fixture *f = userdata;

        return p->pid >= 0 && p->pid < 1024 && f->attention[p->pid];
}

/* A CPU clock for smaps reads: each read costs exactly fake_read_cost µs. */
static usec_t fake_cpu, fake_read_cost;
static bool fake_in_read;

static usec_t fake_cpu_clock(void)
{
        /* Called before and after each read: the second call has moved on by the cost. */
        if (fake_in_read)
                fake_cpu += fake_read_cost;
        fake_in_read = !fake_in_read;
        return fake_cpu;
}

static void on_ended(void *userdata, const struct sampler_proc *p, int64_t end_ms, const char *reason)
{
        struct fixture *f = userdata;

        (void)end_ms;
        assert_true(f->n_ev < MAX_EVENTS);
        f->ev[f->n_ev] = (struct event){ .kind = 'e', .pid = p->pid, .id = p->id, .rule = p->rule };
        snprintf(f->ev[f->n_ev].reason, sizeof(f->ev[0].reason), "%s", reason);
        f->n_ev++;
}

static const struct event *find_event(struct fixture *f, char kind, pid_t pid)
{
        for (size_t i = 0; i < f->n_ev; i++)
                if (f->ev[i].kind == kind && f->ev[i].pid == pid)
                        return &f->ev[i];
        return NULL;
}

/* The event, which must exist (abort() tells the compiler so, too). */
static const struct event *must(const struct event *e)
{
        if (!e) {
                fail_msg("expected event missing");
                abort();
        }
        return e;
}

static size_t count_events(struct fixture *f, char kind, pid_t pid)
{
        size_t n = 0;

        for (size_t i = 0; i < f->n_ev; i++)
                n += f->ev[i].kind == kind && f->ev[i].pid == pid;
        return n;
}

static void load_rules(struct fixture *f, const char *text)
{
        char path[160];
        struct config_diag diag = { 0 };
        FILE *c;

        snprintf(path, sizeof(path), "%s/test.conf", f->dir);
        c = fopen(path, "w");
        assert_non_null(c);
        fputs(text, c);
        fclose(c);
        assert_int_equal(config_defaults(&f->cfg), 0);
        if (config_load(&f->cfg, path, true, &diag) < 0) {
                for (size_t i = 0; i < diag.n; i++)
                        fprintf(stderr, "%s\n", diag.msgs[i]);
                fail();
        }
        config_diag_free(&diag);
        for (size_t i = 0; i < f->cfg.n_rules; i++)
                assert_int_equal(store_put_rule(f->st, f->cfg.rules[i].name, "", 1, &f->rule_ids[i]), 0);
}

static void start(struct fixture *f, const char *rules)
{
        struct sampler_listener l = { .started = on_started, .sampled = on_sampled, .ended = on_ended,
                                      .attention = on_attention, .userdata = f };
        struct sampler_env env;

        load_rules(f, rules);
        env = (struct sampler_env){ .proc_root = f->rootfd, .boot_id = "boot", .btime_ms = 1000, .hz = 100,
                                    .self = SELF, .store = f->st, .writer = f->w,
                                    .cpu_clock = fake_read_cost ? fake_cpu_clock : NULL,
                                    .max_watch = f->max_watch };
        assert_int_equal(sampler_new(&env, &f->cfg, f->rule_ids, NULL, &l, &f->s), 0);
}

static void scan_and_tick(struct fixture *f)
{
        f->now_ms += 1000;
        assert_int_equal(sampler_scan(f->s, (usec_t)f->now_ms * 1000, f->now_ms), 0);
        assert_int_equal(sampler_tick(f->s, (usec_t)f->now_ms * 1000, f->now_ms), 0);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-sampler-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->root, sizeof(f->root), "%s/proc", f->dir);
        snprintf(f->db, sizeof(f->db), "%s/lw.db", f->dir);
        assert_int_equal(mkdir(f->root, 0755), 0);
        f->rootfd = proc_root_open(f->root);
        assert_true(f->rootfd >= 0);
        assert_int_equal(store_open(f->db, STORE_RW, &f->st, NULL, 0), 0);
        assert_int_equal(writer_new(f->st, 10000, &f->w), 0);
        f->now_ms = 1700000000000;
        /* The daemon itself, and its hook with a grandchild named like a target. */
        write_proc(f, SELF, 1, "leakwatchd", 'S', 500, 8 * 1024, false);
        write_proc(f, 901, SELF, "web-hook", 'S', 600, 64 * 1024, false);
        write_proc(f, 902, 901, "web-hookchild", 'S', 601, 64 * 1024, false);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        sampler_free(f->s);
        writer_free(f->w);
        store_close(f->st);
        config_free(&f->cfg);
        close(f->rootfd);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

/* ---- tests ---- */

static void test_rules_children_and_self(void **state)
{
        struct fixture *f = *state;
        const struct event *parent, *child;

        write_proc(f, 100, 1, "web", 'S', 1000, 40 * 1024, false);
        write_proc(f, 101, 1, "db", 'S', 1001, 40 * 1024, false);
        write_proc(f, 102, 100, "worker", 'S', 1002, 40 * 1024, false);
        write_proc(f, 103, 102, "helper", 'S', 1003, 40 * 1024, false);
        /* A child with a higher PID classified before its parent (PIDs wrap). */
        write_proc(f, 50, 300, "late-child", 'S', 1100, 40 * 1024, false);
        write_proc(f, 300, 1, "web2", 'S', 1050, 40 * 1024, false);
        start(f, "[rule web]\nname = web*\nchildren = yes\n");
        scan_and_tick(f);

        parent = must(find_event(f, 's', 100));
        assert_non_null(parent);
        assert_null(find_event(f, 's', 101));
        child = must(find_event(f, 's', 102));
        assert_non_null(child);
        assert_int_equal(child->parent_id, parent->id);
        /* Grandchildren too. */
        assert_non_null(find_event(f, 's', 103));
        assert_non_null(find_event(f, 's', 50));
        assert_int_equal(must(find_event(f, 's', 50))->parent_id, must(find_event(f, 's', 300))->id);
        /* Never the daemon, nor its children and theirs, whatever their names. */
        assert_null(find_event(f, 's', SELF));
        assert_null(find_event(f, 's', 901));
        assert_null(find_event(f, 's', 902));

        /* Every watched process got a full status sample. */
        assert_true(sample_has(&f->last[100], M_RSS));
        assert_int_equal(f->last[100].v[M_RSS], 40 * MIB);
        assert_int_equal(f->last[100].v[M_ANON], 30 * MIB);
        assert_int_equal(f->last[100].v[M_MINFLT], 100);
        assert_int_equal(f->last[100].v[M_MAJFLT], 2);
        assert_int_equal(f->last[100].v[M_FDS], 0);
}

static void test_pid_reuse_is_a_new_process(void **state)
{
        struct fixture *f = *state;
        const struct event *first, *second;

        write_proc(f, 100, 1, "web", 'S', 1000, 40 * 1024, false);
        start(f, "[rule web]\nname = web\n");
        scan_and_tick(f);
        first = find_event(f, 's', 100);
        assert_non_null(first);

        /* The process exits and another one gets PID 100 before the next tick: only the
         * start time tells them apart. */
        write_proc(f, 100, 1, "web", 'S', 5000, 80 * 1024, false);
        scan_and_tick(f);
        assert_int_equal(count_events(f, 'e', 100), 1);
        assert_string_equal(must(find_event(f, 'e', 100))->reason, "exited");
        scan_and_tick(f);
        assert_int_equal(count_events(f, 's', 100), 2);
        second = &f->ev[f->n_ev - 1];
        for (size_t i = 0; i < f->n_ev; i++)
                if (f->ev[i].kind == 's' && f->ev[i].pid == 100)
                        second = &f->ev[i];
        assert_int_not_equal(second->id, must(find_event(f, 's', 100))->id);
        assert_int_equal(f->last[100].v[M_RSS], 80 * MIB);
}

static void test_exit_and_zombie(void **state)
{
        struct fixture *f = *state;

        write_proc(f, 100, 1, "web", 'S', 1000, 40 * 1024, false);
        write_proc(f, 101, 1, "web", 'S', 1001, 40 * 1024, false);
        start(f, "[rule web]\nname = web\n");
        scan_and_tick(f);
        assert_int_equal(count_events(f, 's', 100) + count_events(f, 's', 101), 2);

        end_proc(f, 100);
        write_proc(f, 101, 1, "web", 'Z', 1001, 0, false);
        scan_and_tick(f);
        assert_int_equal(count_events(f, 'e', 100), 1);
        /* The zombie's last sample says why its memory is unknown, then it ends. */
        assert_int_equal(count_events(f, 'e', 101), 1);
        assert_false(sample_has(&f->last[101], M_RSS));
        assert_int_equal(f->last[101].why[G_STATUS], UNK_ZOMBIE);
        assert_true(sample_has(&f->last[101], M_MINFLT));
        /* A zombie is not picked up again while it lingers. */
        remove_proc(f, 100);
        scan_and_tick(f);
        scan_and_tick(f);
        assert_int_equal(count_events(f, 's', 101), 1);
        assert_int_equal(count_events(f, 's', 100), 1);
}

static void test_kernel_thread_by_pid(void **state)
{
        struct fixture *f = *state;

        write_proc(f, 2, 0, "kthreadd", 'S', 1, 0, true);
        write_proc(f, 3, 2, "kworker/0:0", 'I', 2, 0, true);
        start(f, "[rule k]\npid = 2\n[rule all]\nall = yes\n");
        scan_and_tick(f);
        /* A listed PID may be a kernel thread; `all` never picks one. */
        assert_non_null(find_event(f, 's', 2));
        assert_null(find_event(f, 's', 3));
        assert_false(sample_has(&f->last[2], M_RSS));
        assert_int_equal(f->last[2].why[G_STATUS], UNK_KTHREAD);
        assert_int_equal(f->last[2].why[G_SMAPS], UNK_KTHREAD);
        assert_true(sample_has(&f->last[2], M_THREADS));
}

static void test_exec_and_min_rss_reclassify(void **state)
{
        struct fixture *f = *state;

        write_proc(f, 100, 1, "sh", 'S', 1000, 4 * 1024, false);
        write_proc(f, 101, 1, "small", 'S', 1001, 4 * 1024, false);
        start(f, "[rule web]\nname = web\n[rule big]\nall = yes\nmin-rss = 32M\n");
        scan_and_tick(f);
        assert_null(find_event(f, 's', 100));
        assert_null(find_event(f, 's', 101));

        /* sh execs into web (same PID and start time, a new name). */
        write_proc(f, 100, 1, "web", 'S', 1000, 4 * 1024, false);
        /* small grows past min-rss. */
        write_proc(f, 101, 1, "small", 'S', 1001, 64 * 1024, false);
        /* A process that matched nothing is read again every 10 s, not at every scan. */
        scan_and_tick(f);
        assert_null(find_event(f, 's', 100));
        assert_null(find_event(f, 's', 101));
        f->now_ms += 9000;
        scan_and_tick(f);
        assert_non_null(find_event(f, 's', 100));
        assert_int_equal(must(find_event(f, 's', 100))->rule, 0);
        assert_non_null(find_event(f, 's', 101));
        assert_int_equal(must(find_event(f, 's', 101))->rule, 1);
}

/* A process scanned in the middle of execve has its new name but an empty command line
 * for a moment: it is judged again at the next scan, not ten seconds later on a name
 * that no longer changes. */
static void test_empty_cmdline_judged_again(void **state)
{
        struct fixture *f = *state;
        char path[160];
        int fd;

        write_proc(f, 100, 1, "web", 'S', 1000, 4 * 1024, false);
        snprintf(path, sizeof(path), "%s/100/cmdline", f->root);
        fd = open(path, O_WRONLY | O_TRUNC);
        close(fd);
        start(f, "[rule web]\ncmdline = ^/usr/bin/web --serve\n");
        scan_and_tick(f);
        assert_null(find_event(f, 's', 100));
        write_proc(f, 100, 1, "web", 'S', 1000, 4 * 1024, false);
        scan_and_tick(f);
        assert_non_null(find_event(f, 's', 100));
}

static void test_reconfigure_and_cap(void **state)
{
        struct fixture *f = *state;
        struct config next;
        int64_t ids[2];
        struct sampler_stats ss;

        for (pid_t p = 100; p < 110; p++)
                write_proc(f, p, 1, "web", 'S', (uint64_t)p, 8 * 1024, false);
        write_proc(f, 200, 1, "db", 'S', 200, 8 * 1024, false);
        start(f, "[daemon]\nmax-processes = 4\n[rule web]\nname = web\n[rule db]\nname = db\n");
        scan_and_tick(f);
        sampler_get_stats(f->s, &ss);
        assert_int_equal(ss.watched, 4);
        assert_true(ss.capped >= 7);

        /* The web rule goes away: its processes stop being watched, db stays. */
        {
                char path[160];
                struct config_diag diag = { 0 };
                FILE *c;

                snprintf(path, sizeof(path), "%s/next.conf", f->dir);
                c = fopen(path, "w");
                fputs("[daemon]\nmax-processes = 4\n[rule db]\nname = db\n", c);
                fclose(c);
                assert_int_equal(config_defaults(&next), 0);
                assert_int_equal(config_load(&next, path, true, &diag), 0);
                config_diag_free(&diag);
        }
        assert_int_equal(store_put_rule(f->st, "db", "", 1, &ids[0]), 0);
        assert_int_equal(sampler_reconfigure(f->s, &next, ids, NULL, f->now_ms), 0);
        for (pid_t p = 100; p < 110; p++)
                if (find_event(f, 's', p))
                        assert_string_equal(must(find_event(f, 'e', p))->reason, "rule removed");
        scan_and_tick(f);
        assert_non_null(find_event(f, 's', 200));
        sampler_get_stats(f->s, &ss);
        assert_int_equal(ss.watched, 1);
        sampler_free(f->s);
        f->s = NULL;
        config_free(&next);
}

static void test_rows_written(void **state)
{
        struct fixture *f = *state;
        int64_t id;

        write_proc(f, 100, 1, "web", 'S', 1000, 40 * 1024, false);
        write_proc(f, 101, 100, "web", 'S', 1001, 40 * 1024, false);
        start(f, "[rule web]\nname = web\nchildren = yes\n");
        scan_and_tick(f);
        scan_and_tick(f);
        assert_int_equal(writer_flush(f->w), 0);
        assert_int_equal(store_find_process(f->st, "boot", 101, 1001, &id), 0);
        assert_int_equal(id, must(find_event(f, 's', 101))->id);
        /* Start time is boot time + ticks / hz. */
        {
                struct writer_stats ws;
                writer_get_stats(f->w, &ws);
                /* Two process samples and one rule sum per tick. */
                assert_int_equal(ws.written, 6);
        }
}

/* smaps are read every smaps-min-interval for a process the detector has its eye on,
 * every smaps-max-interval for a stable one, and never for a kernel thread. */
static void test_smaps_follow_attention(void **state)
{
        struct fixture *f = *state;
        struct sampler_stats ss;

        write_proc(f, 100, 1, "web", 'S', 1000, 40 * 1024, false);
        write_proc(f, 101, 1, "web", 'S', 1001, 40 * 1024, false);
        write_proc(f, 2, 0, "kthreadd", 'S', 1, 0, true);
        f->attention[101] = true;
        start(f, "[daemon]\ninterval = 1\nsmaps-every = 1\nsmaps-min-interval = 2\nsmaps-max-interval = 5\n"
                 "smaps-budget = 100%\n[rule web]\nname = web\n[rule k]\npid = 2\n");
        for (int i = 0; i < 10; i++)
                scan_and_tick(f);
        /* Ticks at 1..10 s: the first reads both; then 101 every 2 s (3, 5, 7, 9) and 100
         * every 5 s (6). */
        assert_int_equal(f->smaps_reads[101], 5);
        assert_int_equal(f->smaps_reads[100], 2);
        assert_int_equal(f->smaps_reads[2], 0);
        assert_int_equal(f->last[2].why[G_SMAPS], UNK_KTHREAD);
        sampler_get_stats(f->s, &ss);
        assert_int_equal(ss.rollups, 7);
        assert_int_equal(ss.rollups_over_budget, 0);
        /* Suspicion ends: back to the slow pace. */
        f->attention[101] = false;
        for (int i = 0; i < 5; i++)
                scan_and_tick(f);
        assert_int_equal(f->smaps_reads[101], 6);
}

/* The budget bounds the CPU spent on smaps host-wide, charged at what each read really
 * cost, and when it cannot cover every process, they take turns. */
static void test_smaps_budget_round_robin(void **state)
{
        struct fixture *f = *state;
        struct sampler_stats ss;

        for (pid_t p = 100; p < 104; p++)
                write_proc(f, p, 1, "web", 'S', (uint64_t)(1000 + p), 40 * 1024, false);
        /* 0.1% of a core with a tick a second earns 1 ms a tick, and a read costs 1 ms:
         * one read a tick, though all four are due every tick. */
        fake_read_cost = 1000;
        start(f, "[daemon]\ninterval = 1\nsmaps-every = 1\nsmaps-min-interval = 0\nsmaps-max-interval = 0\n"
                 "smaps-budget = 0.1%\n[rule web]\nname = web\n");
        fake_read_cost = 1000;
        for (int i = 0; i < 8; i++)
                scan_and_tick(f);
        for (pid_t p = 100; p < 104; p++)
                assert_int_equal(f->smaps_reads[p], 2);
        sampler_get_stats(f->s, &ss);
        assert_int_equal(ss.rollups, 8);
        assert_int_equal(ss.rollups_over_budget, 8 * 3);
        /* A dearer read leaves a debt that the next ticks pay off: 3 ms, then two idle
         * ticks. */
        fake_read_cost = 3000;
        for (int i = 0; i < 6; i++)
                scan_and_tick(f);
        sampler_get_stats(f->s, &ss);
        assert_int_equal(ss.rollups, 8 + 2);
        fake_read_cost = 0;
}

/* When descriptors leave room for fewer processes than max-processes, the room is the
 * cap, counted like max-processes. */
static void test_descriptor_room_caps(void **state)
{
        struct fixture *f = *state;
        struct sampler_stats ss;

        for (pid_t p = 100; p < 103; p++)
                write_proc(f, p, 1, "web", 'S', (uint64_t)(1000 + p), 40 * 1024, false);
        f->max_watch = 2;
        start(f, "[rule web]\nname = web\n");
        scan_and_tick(f);
        sampler_get_stats(f->s, &ss);
        assert_int_equal(ss.watched, 2);
        assert_true(ss.capped >= 1);
}

static void cgroup_v1_of(void *userdata, const struct sampler_proc *p, const struct sample *last)
{
        char *out = userdata;

        (void)last;
        if (p->pid == 101)
                snprintf(out, 64, "%s", p->cgroup_v1 ? p->cgroup_v1 : "-");
}

/* The v1 memory cgroup that charges a process (a hybrid host's) is read with the unified
 * one when it is first watched, for the limits' reads; a process on the unified
 * hierarchy alone has none. Moving later changes neither. */
static void test_cgroups_read_at_start(void **state)
{
        struct fixture *f = *state;
        char v1[64] = "";

        write_proc(f, 100, 1, "web", 'S', 1000, 40 * 1024, false);
        write_proc(f, 101, 1, "web", 'S', 1001, 40 * 1024, false);
        write_cgroup(f, 101, "12:pids:/system.slice/web.service\n4:memory:/docker/abc\n"
                             "1:name=systemd:/system.slice/web.service\n0::/\n");
        start(f, "[rule web]\nname = web\n");
        scan_and_tick(f);
        assert_string_equal(must(find_event(f, 's', 100))->cgroup, "/system.slice/web.service");
        assert_string_equal(must(find_event(f, 's', 100))->cgroup_v1, "-");
        assert_string_equal(must(find_event(f, 's', 101))->cgroup, "/system.slice/web.service");
        assert_string_equal(must(find_event(f, 's', 101))->cgroup_v1, "/docker/abc");
        write_cgroup(f, 101, "4:memory:/batch.slice\n0::/\n");
        for (int i = 0; i < 3; i++)
                scan_and_tick(f);
        assert_int_equal(count_events(f, 's', 101), 1);
        sampler_for_each(f->s, cgroup_v1_of, v1);
        assert_string_equal(v1, "/docker/abc");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_rules_children_and_self, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pid_reuse_is_a_new_process, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_and_zombie, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kernel_thread_by_pid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exec_and_min_rss_reclassify, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_cmdline_judged_again, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reconfigure_and_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rows_written, setup, teardown),
                cmocka_unit_test_setup_teardown(test_smaps_follow_attention, setup, teardown),
                cmocka_unit_test_setup_teardown(test_smaps_budget_round_robin, setup, teardown),
                cmocka_unit_test_setup_teardown(test_descriptor_room_caps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cgroups_read_at_start, setup, teardown),
        };

        return cmocka_run_group_tests_name("sampler", tests, NULL, NULL);
}
