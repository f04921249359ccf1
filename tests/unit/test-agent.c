/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for agent: the report format parsed strictly (every refusal has its reason),
 * the socket's life (mode, stale and live sockets, removal), reports kept only for
 * the watched process the kernel names as sender, the per-process rate, descriptors
 * pushed at the daemon closed, and what reaches the database. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "config.h"
#include "proc.h"
#include "sampler.h"
#include "store.h"
#include "writer.h"
#include "tmpdir.h"

#define PY "leakwatch-agent 1\nagent python\n"
#define ML "leakwatch-agent 1\nagent malloc\n"
#define PY_MIN PY "gc.enabled 1\ngc.count 1 2 3\nblocks 10\n"

/* ---- the format ---- */

static int parse(const char *text, struct agent_report *a, const char **why)
{
        return agent_parse(text, strlen(text), a, why);
}

static void test_parse_python(void **state)
{
        const char *text = PY "gc.enabled 0\ngc.threshold 700 10 10\ngc.count 5 1 0\ngc.collections 30 2 1\n"
                              "gc.collected 100 5 0\ngc.uncollectable 0 0 2\ngc.garbage 2\nblocks 123456\n"
                              "traced 1000 2000\nobjects 5000 3\ntype dict 1200\ntype __main__.Person 900\n";
        struct agent_report a, b;
        const char *why = NULL;
        char again[AGENT_MSG_MAX];

        (void)state;
        assert_int_equal(parse(text, &a, &why), 0);
        assert_int_equal(a.agent, AGENT_PYTHON);
        assert_int_equal(a.gc_enabled, 0);
        assert_int_equal(a.gc_threshold[0], 700);
        assert_int_equal(a.gc_count[2], 0);
        assert_int_equal(a.gc_collections[0], 30);
        assert_int_equal(a.gc_uncollectable[2], 2);
        assert_int_equal(a.gc_garbage, 2);
        assert_int_equal(a.blocks, 123456);
        assert_int_equal(a.traced, 1000);
        assert_int_equal(a.traced_peak, 2000);
        assert_int_equal(a.objects, 5000);
        assert_int_equal(a.stride, 3);
        assert_int_equal(a.n_types, 2);
        assert_string_equal(a.types[1].name, "__main__.Person");
        assert_int_equal(a.types[1].count, 900);
        assert_int_equal(a.in_use, -1);
        /* What the agents send, the daemon reads back the same. */
        assert_int_equal(agent_format(&a, again, sizeof(again)), (int)strlen(text));
        assert_string_equal(again, text);
        assert_int_equal(parse(again, &b, &why), 0);
        assert_int_equal(agent_report_size(&a), agent_report_size(&b));
        assert_memory_equal(&a, &b, agent_report_size(&a));
}

#define PY2 "leakwatch-agent 2\nagent python\ngc.enabled 1\ngc.count 1 2 3\nblocks 10\n"

static void test_parse_sites(void **state)
{
        const char *text = PY2 "traced 5000 6000\n"
                               "site 4194304 4 4194304 /srv/app%20x/leak.py:12 /srv/app%20x/main.py:40:run\n"
                               "site 1000 20 900 caf\xc3\xa9.py:3\n"
                               "site 64 1 0 %25odd%0A.py:1 ?@libc.so.6+0x1a2b malloc@libc.so.6+0x10:malloc.c:3022\n";
        const char *mall = "leakwatch-agent 2\nagent malloc\nmallinfo2 1 2 3 4 5\n"
                           "site 524288 1 524288 grow@prog+0x1139:prog.c:12 main@prog+0x1180\n";
        struct agent_report a, b;
        const char *why = NULL;
        char again[AGENT_MSG_MAX];

        (void)state;
        assert_int_equal(parse(text, &a, &why), 0);
        assert_int_equal(a.version, 2);
        assert_int_equal(a.n_sites, 3);
        assert_int_equal(a.sites[0].live_bytes, 4194304);
        assert_int_equal(a.sites[0].live_count, 4);
        assert_int_equal(a.sites[0].growth, 4194304);
        assert_int_equal(a.sites[0].n_frames, 2);
        assert_string_equal(agent_site_frames(&a, 0), "/srv/app%20x/leak.py:12 /srv/app%20x/main.py:40:run");
        assert_string_equal(agent_site_frames(&a, 1), "caf\xc3\xa9.py:3");
        assert_int_equal(a.sites[2].n_frames, 3);
        assert_int_equal(a.sites[2].growth, 0);
        /* Written back the same, read back the same. */
        assert_int_equal(agent_format(&a, again, sizeof(again)), (int)strlen(text));
        assert_string_equal(again, text);
        assert_int_equal(parse(again, &b, &why), 0);
        assert_int_equal(agent_report_size(&a), agent_report_size(&b));
        assert_memory_equal(&a, &b, agent_report_size(&a));
        /* The probe's sites too. */
        assert_int_equal(parse(mall, &a, &why), 0);
        assert_int_equal(a.agent, AGENT_MALLOC);
        assert_int_equal(a.n_sites, 1);
        assert_string_equal(agent_site_frames(&a, 0), "grow@prog+0x1139:prog.c:12 main@prog+0x1180");
        /* Version 2 without sites is a version 2 report. */
        assert_int_equal(parse(PY2, &a, &why), 0);
        assert_int_equal(a.version, 2);
        assert_int_equal(a.n_sites, 0);
}

static void test_parse_site_refusals(void **state)
{
        static const struct {
                const char *text;
                const char *why;
        } cases[] = {
                { PY_MIN "site 1 1 1 a.py:1\n", "a site line in a version 1 report" },
                { PY2 "site 1 1 1\n", "a site without frames" },
                { PY2 "site 1 1 a.py:1\n", "a site without frames" },
                { PY2 "site 1 1 1 a:1 b:1 c:1 d:1 e:1 f:1 g:1 h:1 i:1\n", "a site with too many frames" },
                { PY2 "site 1 -1 1 a.py:1\n", "bad site values" },
                { PY2 "site 1 1 1000000000000000000 a.py:1\n", "bad site values" },
                { PY2 "site 1 1 1 a.py:1\nsite 1 1 2 b.py:1\n", "sites not sorted by growth" },
                { PY2 "site 1 1 1 a.py:1\ntraced 1 1\n", "a key after the sites" },
                { PY2 "site 1 1 1 a%2.py:1\n", "bad site frame" },
                { PY2 "site 1 1 1 a%2g.py:1\n", "bad site frame" },
                { PY2 "site 1 1 1 a%2f.py:1\n", "bad site frame" },
                { PY2 "site 1 1 1 a%41.py:1\n", "bad site frame" },           /* 'A' needs no escape */
                { PY2 "site 1 1 1 a.py:1%\n", "bad site frame" },
                { PY2 "site 1 1 1 a\x01.py:1\n", "bad site frame" },
                { PY2 "site 1 1 1 a\x7f.py:1\n", "bad site frame" },
                { PY2 "site 1 1 1 \xc3(.py:1\n", "bad site frame" },
                { PY2 "site 1 1 1 \xed\xa0\x80.py:1\n", "bad site frame" },  /* a surrogate */
                { PY2 "site 1 1 1  a.py:1\n", "a line without a value" },
                { PY2 "site 1 1 1 a.py:1 \n", "a line without a value" },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct agent_report a;
                const char *why = NULL;

                print_message("  case %zu\n", i);
                assert_int_equal(parse(cases[i].text, &a, &why), -EBADMSG);
                assert_string_equal(why, cases[i].why);
        }
}

/* Ten sites of eight frames of 256 bytes would not fit a datagram; what fits is taken,
 * an eleventh site and a 257-byte frame are not. */
static void test_parse_site_bounds(void **state)
{
        char buf[AGENT_MSG_MAX + 4096], frame[AGENT_FRAME_MAX + 2];
        struct agent_report a;
        const char *why = NULL;
        size_t o;

        (void)state;
        memset(frame, 'f', AGENT_FRAME_MAX);
        frame[AGENT_FRAME_MAX] = '\0';
        o = (size_t)snprintf(buf, sizeof(buf), PY2 "site 9 9 9 %s\n", frame);
        assert_int_equal(agent_parse(buf, o, &a, &why), 0);
        assert_int_equal(a.sites[0].len, AGENT_FRAME_MAX);
        frame[AGENT_FRAME_MAX] = 'f';
        frame[AGENT_FRAME_MAX + 1] = '\0';
        o = (size_t)snprintf(buf, sizeof(buf), PY2 "site 9 9 9 %s\n", frame);
        assert_int_equal(agent_parse(buf, o, &a, &why), -EBADMSG);
        assert_string_equal(why, "bad site frame");
        /* Ten sites of eight short frames: taken; an eleventh: refused. */
        o = (size_t)snprintf(buf, sizeof(buf), PY2);
        for (int i = 0; i < AGENT_SITES_MAX; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "site 1 1 1 a:1 b:2 c:3 d:4 e:5 f:6 g:7 h:8\n");
        assert_int_equal(agent_parse(buf, o, &a, &why), 0);
        assert_int_equal(a.n_sites, AGENT_SITES_MAX);
        assert_int_equal(a.sites[9].n_frames, AGENT_SITE_FRAMES_MAX);
        assert_string_equal(agent_site_frames(&a, 9), "a:1 b:2 c:3 d:4 e:5 f:6 g:7 h:8");
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "site 1 1 1 a:1\n");
        assert_int_equal(agent_parse(buf, o, &a, &why), -EBADMSG);
        assert_string_equal(why, "too many sites");
        /* The whole report stays within AGENT_MSG_MAX, sites or not. */
        o = (size_t)snprintf(buf, sizeof(buf), PY2);
        while (o < AGENT_MSG_MAX)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "site 1 1 1 %.200s\n", frame);
        assert_int_equal(agent_parse(buf, o, &a, &why), -EBADMSG);
        assert_string_equal(why, "too long");
}

static void test_parse_malloc(void **state)
{
        struct agent_report a;
        const char *why = NULL;

        (void)state;
        assert_int_equal(parse(ML "mallinfo2 1 2 3 4 5\n", &a, &why), 0);
        assert_int_equal(a.agent, AGENT_MALLOC);
        assert_int_equal(a.arena, 1);
        assert_int_equal(a.in_use, 2);
        assert_int_equal(a.free, 3);
        assert_int_equal(a.mmapped, 4);
        assert_int_equal(a.keepcost, 5);
        assert_int_equal(a.blocks, -1);
        assert_int_equal(a.gc_enabled, -1);
        /* The largest value allowed, and one digit more. */
        assert_int_equal(parse(ML "mallinfo2 999999999999999999 0 0 0 0\n", &a, &why), 0);
        assert_int_equal(a.arena, INT64_C(999999999999999999));
        assert_int_equal(parse(ML "mallinfo2 1000000000000000000 0 0 0 0\n", &a, &why), -EBADMSG);
}

static void test_parse_refusals(void **state)
{
        static const struct {
                const char *text;
                const char *why;
        } cases[] = {
                { "", "not a version 1 or 2 report" },
                { "leakwatch-agent 3\nagent python\n", "not a version 1 or 2 report" },
                { "LEAKWATCH-AGENT 1\n", "not a version 1 or 2 report" },
                { PY "gc.enabled 1\ngc.count 1 2 3\nblocks 10", "a NUL byte or an unterminated line" },
                { ML "mallinfo2 1 2 3 4 5\r\n", "bad mallinfo2 line" },
                { "leakwatch-agent 1\n", "no agent line" },
                { "leakwatch-agent 1\nblocks 1\nagent python\n", "the agent line must come first" },
                { "leakwatch-agent 1\nagent perl\n", "unknown agent" },
                { "leakwatch-agent 1\nagent python\nagent python\n", "a key given twice" },
                { PY_MIN "blocks 11\n", "a key given twice" },
                { PY_MIN "pid 1\n", "unknown key" },
                { PY_MIN "mallinfo2 1 2 3 4 5\n", "a key of the other agent" },
                { ML "blocks 1\n", "a key of the other agent" },
                { PY_MIN "\n", "a line without a value" },
                { PY "gc.enabled 1\ngc.count 1  2 3\nblocks 10\n", "a line without a value" },
                { PY "gc.enabled 1\ngc.count 1 2 3 \nblocks 10\n", "a line without a value" },
                { PY "gc.enabled 2\ngc.count 1 2 3\nblocks 10\n", "bad gc.enabled" },
                { PY "gc.enabled 1\ngc.count 1 2\nblocks 10\n", "bad per-generation values" },
                { PY "gc.enabled 1\ngc.count 1 2 3 4\nblocks 10\n", "bad per-generation values" },
                { PY "gc.enabled 1\ngc.count 1 -2 3\nblocks 10\n", "bad per-generation values" },
                { PY "gc.enabled 1\ngc.count 1 +2 3\nblocks 10\n", "bad per-generation values" },
                { PY "gc.enabled 1\ngc.count 1 0x2 3\nblocks 10\n", "bad per-generation values" },
                { PY "gc.enabled 1\ngc.count 1 2 3\nblocks 1e3\n", "bad count" },
                { PY_MIN "traced 10 5\n", "bad traced line" },
                { PY_MIN "objects 10 0\n", "bad objects line" },
                { PY_MIN "type dict 5\n", "a type before the objects line" },
                { PY_MIN "objects 10 1\ntype dict\n", "bad type line" },
                { PY_MIN "objects 10 1\ntype di\x01ct 5\n", "bad type line" },
                { PY_MIN "objects 10 1\ntype di\x7f" "ct 5\n", "bad type line" },
                { PY_MIN "objects 10 1\ntype \xff\xfe 5\n", "bad type line" },
                { PY_MIN "objects 10 1\ntype "
                  "x123456789x123456789x123456789x123456789x123456789x123456789x1234 5\n", "bad type line" },
                { PY_MIN "objects 10 1\ntype dict 5\ntype dict 6\n", "a type given twice" },
                { PY "gc.enabled 1\nblocks 10\n", "a python report needs gc.enabled, gc.count and blocks" },
                { ML, "a malloc report needs mallinfo2" },
                { ML "mallinfo2 1 2 3 4\n", "bad mallinfo2 line" },
        };

        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct agent_report a;
                const char *why = NULL;

                print_message("  case %zu\n", i);
                assert_int_equal(parse(cases[i].text, &a, &why), -EBADMSG);
                assert_string_equal(why, cases[i].why);
        }
}

static void test_parse_bounds(void **state)
{
        char buf[AGENT_MSG_MAX + 64];
        struct agent_report a;
        const char *why = NULL;
        size_t o;

        (void)state;
        /* A NUL inside the message. */
        memcpy(buf, PY_MIN, sizeof(PY_MIN));
        buf[sizeof(PY) + 2] = '\0';
        assert_int_equal(agent_parse(buf, sizeof(PY_MIN) - 1, &a, &why), -EBADMSG);
        assert_string_equal(why, "a NUL byte or an unterminated line");
        /* Exactly 16 types pass; a 17th does not. */
        o = (size_t)snprintf(buf, sizeof(buf), PY_MIN "objects 10 1\n");
        for (int i = 0; i < AGENT_TYPES_MAX; i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "type t%d 1\n", i);
        assert_int_equal(agent_parse(buf, o, &a, &why), 0);
        assert_int_equal(a.n_types, AGENT_TYPES_MAX);
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "type t99 1\n");
        assert_int_equal(agent_parse(buf, o, &a, &why), -EBADMSG);
        assert_string_equal(why, "too many types");
        /* Too many bytes. */
        memset(buf, 'x', sizeof(buf));
        memcpy(buf, PY_MIN, strlen(PY_MIN));
        buf[AGENT_MSG_MAX] = '\n';
        assert_int_equal(agent_parse(buf, AGENT_MSG_MAX + 1, &a, &why), -EBADMSG);
        assert_string_equal(why, "too long");
}

/* ---- the socket, the watched set, the rate ---- */

struct fixture {
        char dir[48];
        char run[80];
        char sock[100];
        char db[96];
        int proc;
        char boot_id[PROC_BOOT_ID_LEN + 1];
        struct config cfg;
        int64_t rule_ids[2], gens[2];
        struct store *st;
        struct writer *w;
        struct sampler *s;
        sd_event *event;
        struct agent *a;
};

static void on_started(void *u UNUSED, const struct sampler_proc *p UNUSED, bool r UNUSED, int64_t t UNUSED) {}
static void on_sampled(void *u UNUSED, const struct sampler_proc *p UNUSED, const struct sample *s UNUSED) {}
static void on_ended(void *u UNUSED, const struct sampler_proc *p UNUSED, int64_t t UNUSED, const char *r UNUSED) {}

/* A report that passed goes to the writer, as the watch records it. */
static void on_report(void *userdata, size_t slot UNUSED, int64_t process_id, const struct agent_report *a)
{
        struct fixture *f = userdata;

        assert_int_equal(writer_put(f->w, &(struct store_row){ .kind = STORE_AGENT_SAMPLE,
                                                               .agent = { .process_id = process_id, .report = a } }),
                         0);
}

/* A real sampler over /proc that watches this test process. */
static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct sampler_listener l = { .started = on_started, .sampled = on_sampled, .ended = on_ended };
        struct sampler_env env;
        struct agent_env aenv;

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-agent-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->run, sizeof(f->run), "%s/run", f->dir);
        snprintf(f->sock, sizeof(f->sock), "%s/agent.sock", f->run);
        snprintf(f->db, sizeof(f->db), "%s/lw.db", f->dir);
        assert_int_equal(config_defaults(&f->cfg), 0);
        assert_int_equal(config_add_pid_rule(&f->cfg, getpid(), NULL), 0);
        assert_int_equal(store_open(f->db, STORE_RW, &f->st, NULL, 0), 0);
        assert_int_equal(store_put_rule(f->st, "pid", "pid", 1000, &f->rule_ids[0]), 0);
        assert_int_equal(writer_new(f->st, 1000, &f->w), 0);
        f->proc = proc_root_open("/proc");
        assert_true(f->proc >= 0);
        assert_int_equal(proc_read_boot_id(f->proc, f->boot_id, sizeof(f->boot_id)), 0);
        /* self: a pid no process has, so this test process may be watched. */
        env = (struct sampler_env){ .proc_root = f->proc, .boot_id = f->boot_id, .hz = 100, .self = -1,
                                    .store = f->st, .writer = f->w };
        assert_int_equal(sampler_new(&env, &f->cfg, f->rule_ids, f->gens, &l, &f->s), 0);
        assert_int_equal(sampler_scan(f->s, now_usec(CLOCK_MONOTONIC), 1000), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        aenv = (struct agent_env){ .event = f->event, .runtime_dir = f->run, .sampler = f->s, .report = on_report,
                                   .userdata = f, .anchor_real_ms = 5000000, .anchor_mono = 0 };
        assert_int_equal(agent_new(&aenv, &f->cfg, &f->a), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        agent_free(f->a);
        sd_event_unref(f->event);
        sampler_free(f->s);
        writer_free(f->w);
        store_close(f->st);
        close(f->proc);
        config_free(&f->cfg);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static int count_reports(const struct agent_report *a UNUSED, void *userdata)
{
        (*(int *)userdata)++;
        return 0;
}

static int stored(struct fixture *f)
{
        int n = 0;

        assert_int_equal(writer_flush(f->w), 0);
        assert_int_equal(store_for_each_agent_sample(f->st, 1, 0, INT64_MAX, count_reports, &n), 0);
        return n;
}

static void test_socket_mode_and_life(void **state)
{
        struct fixture *f = *state;
        struct agent_env aenv = { .runtime_dir = f->run, .report = on_report, .userdata = f };
        struct agent *second;
        struct stat st;

        assert_int_equal(lstat(f->sock, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0666);
        /* A live daemon's socket is not taken over. */
        assert_int_equal(agent_new(&aenv, &f->cfg, &second), -EADDRINUSE);
        assert_int_equal(lstat(f->sock, &st), 0);
        /* A stale one is: */
        agent_free(f->a);
        f->a = NULL;
        assert_int_equal(lstat(f->sock, &st), -1);
        {
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

                snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
                assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
                close(fd);      /* left behind, as by a crash */
        }
        assert_int_equal(agent_new(&aenv, &f->cfg, &f->a), 0);
        agent_free(f->a);
        f->a = NULL;
        /* Something that is not a socket is never removed. */
        close(open(f->sock, O_WRONLY | O_CREAT, 0600));
        assert_int_equal(agent_new(&aenv, &f->cfg, &second), -EEXIST);
        assert_int_equal(lstat(f->sock, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        unlink(f->sock);
}

static void test_only_watched_senders_within_their_rate(void **state)
{
        struct fixture *f = *state;
        const char *good = ML "mallinfo2 1 2 3 4 5\n";
        struct agent_stats s;
        usec_t t = 10 * USEC_PER_SEC;

        /* Not watched: dropped before anything else. */
        agent_handle(f->a, getppid(), good, strlen(good), t);
        agent_handle(f->a, 0, good, strlen(good), t);
        agent_get_stats(f->a, &s);
        assert_int_equal(s.unwatched, 2);
        assert_int_equal(stored(f), 0);

        /* Watched: a burst of AGENT_BURST, then one per agent-interval (1 s). Each at its
         * own millisecond, as real reports are. */
        for (int i = 0; i < AGENT_BURST + 5; i++)
                agent_handle(f->a, getpid(), good, strlen(good), t + (usec_t)i * 1000);
        agent_get_stats(f->a, &s);
        assert_int_equal(s.stored, AGENT_BURST);
        assert_int_equal(s.rate_limited, 5);
        agent_handle(f->a, getpid(), good, strlen(good), t + USEC_PER_SEC / 2);
        agent_handle(f->a, getpid(), good, strlen(good), t + 2 * USEC_PER_SEC);
        agent_get_stats(f->a, &s);
        assert_int_equal(s.stored, AGENT_BURST + 1);
        assert_int_equal(stored(f), AGENT_BURST + 1);

        /* Malformed: refused and counted (after the rate, which it used). */
        agent_handle(f->a, getpid(), "garbage\n", 8, t + 10 * USEC_PER_SEC);
        agent_get_stats(f->a, &s);
        assert_int_equal(s.invalid, 1);
        assert_int_equal(stored(f), AGENT_BURST + 1);

        /* A reload halves the interval: two a second. */
        f->cfg.agent_interval = 0.5;
        agent_reconfigure(f->a, &f->cfg);
        for (int i = 0; i < AGENT_BURST + 2; i++)
                agent_handle(f->a, getpid(), good, strlen(good), t + 100 * USEC_PER_SEC + (usec_t)i * 1000);
        agent_handle(f->a, getpid(), good, strlen(good), t + 101 * USEC_PER_SEC);
        agent_handle(f->a, getpid(), good, strlen(good), t + 101 * USEC_PER_SEC + 1000);
        agent_get_stats(f->a, &s);
        assert_int_equal(s.stored, 2 * AGENT_BURST + 1 + 2);
}

static int count_fds(void)
{
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static void test_datagrams_through_the_socket(void **state)
{
        struct fixture *f = *state;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *good = ML "mallinfo2 10 20 30 40 50\n";
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } ctl;
        struct iovec iov = { .iov_base = (void *)good, .iov_len = strlen(good) };
        struct msghdr msg = { .msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
        struct cmsghdr *c;
        struct agent_stats s;
        char big[AGENT_MSG_MAX + 100];
        int fd, pipefd[2], before;

        memset(&ctl, 0, sizeof(ctl));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        /* A good report from us (watched), with a descriptor pushed along. */
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        c = CMSG_FIRSTHDR(&msg);
        assert_non_null(c);
        if (!c)
                return;
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pipefd[0], sizeof(int));
        assert_int_equal(sendmsg(fd, &msg, 0), (ssize_t)strlen(good));
        close(pipefd[0]);
        close(pipefd[1]);
        /* A truncated one: longer than any report. */
        memset(big, 'x', sizeof(big));
        memcpy(big, good, strlen(good));
        assert_int_equal(sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)sizeof(big));
        before = count_fds();
        while (sd_event_run(f->event, 0) > 0)
                ;
        /* The pushed descriptor was closed, not kept. */
        assert_int_equal(count_fds(), before);
        agent_get_stats(f->a, &s);
        assert_int_equal(s.received, 2);
        assert_int_equal(s.stored, 1);
        assert_int_equal(s.invalid, 1);
        assert_int_equal(stored(f), 1);
        close(fd);
}

static int keep_first(const struct agent_report *a, void *userdata)
{
        *(struct agent_report *)userdata = *a;
        return 1;
}

static void test_reports_reach_the_database(void **state)
{
        struct fixture *f = *state;
        const char *text = PY "gc.enabled 0\ngc.count 5 1 0\nblocks 777\nobjects 10 1\ntype dict 9\ntype str 8\n";
        struct agent_report a;
        struct writer_stats ws;

        agent_handle(f->a, getpid(), text, strlen(text), 3 * USEC_PER_SEC);
        assert_int_equal(writer_flush(f->w), 0);
        writer_get_stats(f->w, &ws);
        assert_int_equal(ws.agent_written, 1);
        assert_int_equal(store_for_each_agent_sample(f->st, 1, 0, INT64_MAX, keep_first, &a), 1);
        /* Stamped with the daemon's clock: anchor + monotonic time. */
        assert_int_equal(a.t_ms, 5000000 + 3000);
        assert_int_equal(a.agent, AGENT_PYTHON);
        assert_int_equal(a.gc_enabled, 0);
        assert_int_equal(a.blocks, 777);
        assert_int_equal(a.n_types, 2);
        assert_string_equal(a.types[0].name, "dict");
        assert_int_equal(a.types[1].count, 8);
        assert_int_equal(a.gc_threshold[0], -1);
}

/* A report's allocation sites come back with it, as they were parsed: what the
 * evidence bundle and a resumed engine read. */
static void test_sites_come_back_from_the_database(void **state)
{
        struct fixture *f = *state;
        const char *text = PY2 "traced 5000 6000\n"
                               "site 4194304 4 4194304 /srv/app%20x/leak.py:12 /srv/app%20x/main.py:40:run\n"
                               "site 1000 20 900 caf\xc3\xa9.py:3\n";
        struct agent_report a, want;
        const char *why = NULL;

        assert_int_equal(parse(text, &want, &why), 0);
        agent_handle(f->a, getpid(), text, strlen(text), 3 * USEC_PER_SEC);
        assert_int_equal(writer_flush(f->w), 0);
        assert_int_equal(store_for_each_agent_sample(f->st, 1, 0, INT64_MAX, keep_first, &a), 1);
        assert_int_equal(a.version, 2);
        assert_int_equal(a.traced, 5000);
        assert_int_equal(a.n_sites, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(a.sites[i].live_bytes, want.sites[i].live_bytes);
                assert_int_equal(a.sites[i].live_count, want.sites[i].live_count);
                assert_int_equal(a.sites[i].growth, want.sites[i].growth);
                assert_int_equal(a.sites[i].n_frames, want.sites[i].n_frames);
                assert_string_equal(agent_site_frames(&a, i), agent_site_frames(&want, i));
        }
}

static int collect_times(const struct agent_report *a, void *userdata)
{
        int64_t *t = userdata;

        for (int i = 0; i < 8; i++)
                if (t[i] == 0) {
                        t[i] = a->t_ms;
                        assert_int_equal(a->n_types, a->agent == AGENT_PYTHON ? 1 : 0);
                        return 0;
                }
        fail();
        return 1;
}

/* Reports read in one batch share the moment they were read: each keeps a time of its
 * own (the row's key), so every one is stored — none replaces another. */
static void test_reports_read_together_all_kept(void **state)
{
        struct fixture *f = *state;
        const char *malloc_report = ML "mallinfo2 1 2 3 4 5\n";
        const char *py = PY "gc.enabled 1\ngc.count 1 1 1\nblocks 1\nobjects 1 1\ntype dict 1\n";
        usec_t now = 7 * USEC_PER_SEC;
        int64_t t[8] = { 0 };

        for (int i = 0; i < 5; i++)
                agent_handle(f->a, getpid(), malloc_report, strlen(malloc_report), now);
        for (int i = 0; i < 2; i++)
                agent_handle(f->a, getpid(), py, strlen(py), now);
        assert_int_equal(stored(f), 7);
        assert_int_equal(store_for_each_agent_sample(f->st, 1, 0, INT64_MAX, collect_times, t), 0);
        /* In order, a millisecond apart per agent, starting at the moment they were read. */
        assert_int_equal(t[0], 5000000 + 7000);
        assert_int_equal(t[1], 5000000 + 7000);
        assert_int_equal(t[2], 5000000 + 7001);
        assert_int_equal(t[3], 5000000 + 7001);
        assert_int_equal(t[4], 5000000 + 7002);
        assert_int_equal(t[6], 5000000 + 7004);
        /* Later reports get their own moment again. */
        agent_handle(f->a, getpid(), malloc_report, strlen(malloc_report), now + USEC_PER_SEC);
        assert_int_equal(stored(f), 8);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_python),
                cmocka_unit_test(test_parse_malloc),
                cmocka_unit_test(test_parse_sites),
                cmocka_unit_test(test_parse_site_refusals),
                cmocka_unit_test(test_parse_site_bounds),
                cmocka_unit_test(test_parse_refusals),
                cmocka_unit_test(test_parse_bounds),
                cmocka_unit_test_setup_teardown(test_socket_mode_and_life, setup, teardown),
                cmocka_unit_test_setup_teardown(test_only_watched_senders_within_their_rate, setup, teardown),
                cmocka_unit_test_setup_teardown(test_datagrams_through_the_socket, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reports_reach_the_database, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sites_come_back_from_the_database, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reports_read_together_all_kept, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
