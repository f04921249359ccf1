/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for leakwatch run's pure parts (the verdict, the exit status, which rows belong
 * to a run, the child's environment, the default interval, the chart's trend line) and
 * for ctl, the client's side of the control socket, against a fake daemon that answers
 * each way a daemon, or something else on that path, might. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctl.h"
#include "run.h"
#include "trend.h"
#include "verdict.h"
#include "tmpdir.h"

/* ---- verdict ---- */

static void test_needs(void **state)
{
        (void)state;
        /* Warm-up (a quarter), a window, confirmation (a quarter): 90 s at the shortest
         * window, what the man page promises. */
        assert_true(fabs(run_needs_seconds(60) - 90) < 1e-9);
        assert_true(fabs(run_needs_seconds(120) - 180) < 1e-9);
}

static void test_outcome(void **state)
{
        (void)state;
        /* watched, watch_failed, alert, suspect, ran, needs */
        assert_int_equal(run_outcome_of(true, false, true, false, 10, 90), RUN_LEAK);
        assert_int_equal(run_outcome_of(true, false, true, true, 200, 90), RUN_LEAK);
        assert_int_equal(run_outcome_of(true, false, false, false, 20, 90), RUN_TOO_SHORT);
        assert_int_equal(run_outcome_of(true, false, false, true, 89.9, 90), RUN_TOO_SHORT);
        assert_int_equal(run_outcome_of(true, false, false, true, 90, 90), RUN_SUSPECT);
        assert_int_equal(run_outcome_of(true, false, false, false, 120, 90), RUN_NO_LEAK);
        /* Gone before it could be watched: it ran too short, nothing failed. */
        assert_int_equal(run_outcome_of(false, false, false, false, 0.01, 90), RUN_TOO_SHORT);
        assert_int_equal(run_outcome_of(false, false, false, false, 300, 90), RUN_NOT_WATCHED);
        /* A failure to watch is said even for a short command. */
        assert_int_equal(run_outcome_of(false, true, false, false, 1, 90), RUN_NOT_WATCHED);
        assert_string_equal(run_outcome_name[RUN_TOO_SHORT], "too short");
}

static int status_of(void (*child)(void))
{
        int ws;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                child();
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        return ws;
}

static void exit_3(void)
{
        _exit(3);
}

static void die_by_term(void)
{
        signal(SIGTERM, SIG_DFL);
        raise(SIGTERM);
        _exit(0);
}

static void test_exit_status(void **state)
{
        int three = status_of(exit_3), term = status_of(die_by_term);

        (void)state;
        assert_int_equal(run_exit_status(RUN_NO_LEAK, three), 3);
        assert_int_equal(run_exit_status(RUN_TOO_SHORT, three), 3);
        /* As a shell gives it: 128 + the signal. */
        assert_int_equal(run_exit_status(RUN_NO_LEAK, term), 128 + SIGTERM);
        /* A leak wins over the command's own status, whatever it was. */
        assert_int_equal(run_exit_status(RUN_LEAK, three), EXIT_LEAK);
        assert_int_equal(run_exit_status(RUN_LEAK, term), EXIT_LEAK);
        assert_int_equal(EXIT_LEAK, 10);
}

static void test_tree(void **state)
{
        /* Rows of the rule "run": two runs interleaved. Run A is 3 with children 5
         * and 8 (a grandchild via 5); run B is 4 with child 6; 7 is a child of an
         * earlier run (2) that still runs. */
        const int64_t ids[] = { 2, 3, 4, 5, 6, 7, 8 };
        const int64_t parents[] = { 0, 0, 0, 3, 4, 2, 5 };
        bool in[7];

        (void)state;
        run_tree_select(ids, parents, 7, 3, in);
        assert_true(!in[0] && in[1] && !in[2] && in[3] && !in[4] && !in[5] && in[6]);
        run_tree_select(ids, parents, 7, 4, in);
        assert_true(!in[0] && !in[1] && in[2] && !in[3] && in[4] && !in[5] && !in[6]);
        run_tree_select(ids, parents, 7, 99, in);
        for (int i = 0; i < 7; i++)
                assert_false(in[i]);
        run_tree_select(ids, parents, 0, 3, in);
}

/* The value env gives name, or NULL; fails the test if it is set twice. */
static const char *env_get(char **env, const char *name)
{
        size_t len = strlen(name);
        const char *v = NULL;

        for (size_t i = 0; env[i]; i++)
                if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') {
                        assert_null(v);
                        v = env[i] + len + 1;
                }
        return v;
}

static size_t env_count(char **env)
{
        size_t n = 0;

        while (env[n])
                n++;
        return n;
}

static void test_environment(void **state)
{
        char e0[] = "PATH=/usr/bin", e1[] = "LEAKWATCH_RUN=0", e2[] = "HOME=/root", e3[] = "LEAKWATCH_RUNX=keep";
        char *base[] = { e0, e1, e2, e3, NULL };
        char **env;
        size_t n = 0, marks = 0;

        (void)state;
        /* --no-agent: LEAKWATCH_RUN=1 and nothing else. */
        env = run_child_environment(base, NULL);
        assert_non_null(env);
        for (; env[n]; n++)
                marks += strcmp(env[n], "LEAKWATCH_RUN=1") == 0;
        /* Everything passed through but an old marker, which is replaced, once. */
        assert_int_equal(n, 4);
        assert_int_equal(marks, 1);
        assert_string_equal(env[0], "PATH=/usr/bin");
        assert_string_equal(env[1], "HOME=/root");
        assert_string_equal(env[2], "LEAKWATCH_RUNX=keep");
        free(env);
        env = run_child_environment(NULL, NULL);
        assert_non_null(env);
        assert_string_equal(env[0], "LEAKWATCH_RUN=1");
        assert_null(env[1]);
        free(env);
        /* No agent file found: nothing of the agents, whatever else is known. */
        env = run_child_environment(base, &(struct run_agents){ .socket = "/run/x/agent.sock", .interval = 2 });
        assert_non_null(env);
        assert_int_equal(env_count(env), 4);
        assert_null(env_get(env, "LEAKWATCH_AGENT"));
        assert_null(env_get(env, "LEAKWATCH_AGENT_SOCKET"));
        free(env);
}

static void test_environment_agents(void **state)
{
        const struct run_agents both = { .python_dir = "/lib/lw/python", .probe = "/lib/lw/libleakwatch-probe.so",
                                         .socket = "/tmp/r/agent.sock", .interval = 2.5 };
        char e0[] = "PATH=/usr/bin", e1[] = "PYTHONPATH=/opt/mine:/opt/theirs", e2[] = "LD_PRELOAD=/lib/a.so",
             e3[] = "LEAKWATCH_AGENT=0", e4[] = "LEAKWATCH_AGENT_SOCKET=/elsewhere", e5[] = "LEAKWATCH_RUN=x",
             e6[] = "LEAKWATCH_AGENT_INTERVAL=60", e7[] = "LEAKWATCH_PROBE_INTERVAL=60", e8[] = "PYTHONPATH=/second",
             e9[] = "LEAKWATCH_AGENT_BUDGET=0.05", e10[] = "PYTHONPATH=";
        char *full[] = { e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, NULL };
        char *some[] = { e0, e1, e2, e3, e6, NULL };
        char *bare[] = { e0, NULL };
        char *empty[] = { e10, NULL };
        char **env;

        (void)state;
        /* Nothing there before: ours alone. */
        env = run_child_environment(bare, &both);
        assert_non_null(env);
        assert_int_equal(env_count(env), 8);
        assert_string_equal(env[0], "PATH=/usr/bin");
        assert_string_equal(env_get(env, "PYTHONPATH"), "/lib/lw/python");
        assert_string_equal(env_get(env, "LD_PRELOAD"), "/lib/lw/libleakwatch-probe.so");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT"), "1");
        assert_string_equal(env_get(env, "LEAKWATCH_RUN"), "1");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT_SOCKET"), "/tmp/r/agent.sock");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT_INTERVAL"), "2.5");
        assert_string_equal(env_get(env, "LEAKWATCH_PROBE_INTERVAL"), "2.5");
        free(env);

        /* Inherited: the lists keep their (first) value, PYTHONPATH after ours and
         * LD_PRELOAD before ours; the run's own variables replace theirs, once each; a
         * variable the run does not set passes through. */
        env = run_child_environment(full, &both);
        assert_non_null(env);
        assert_int_equal(env_count(env), 9);
        assert_string_equal(env_get(env, "PYTHONPATH"), "/lib/lw/python:/opt/mine:/opt/theirs");
        assert_string_equal(env_get(env, "LD_PRELOAD"), "/lib/a.so:/lib/lw/libleakwatch-probe.so");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT"), "1");
        assert_string_equal(env_get(env, "LEAKWATCH_RUN"), "1");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT_SOCKET"), "/tmp/r/agent.sock");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT_INTERVAL"), "2.5");
        assert_string_equal(env_get(env, "LEAKWATCH_PROBE_INTERVAL"), "2.5");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT_BUDGET"), "0.05");
        free(env);

        /* An empty PYTHONPATH is not kept: an empty entry would add the current
         * directory to the program's path. */
        env = run_child_environment(empty, &both);
        assert_non_null(env);
        assert_string_equal(env_get(env, "PYTHONPATH"), "/lib/lw/python");
        free(env);

        /* The probe alone: PYTHONPATH is left as it was. */
        env = run_child_environment(some, &(struct run_agents){ .probe = "/p.so", .socket = "/s" });
        assert_non_null(env);
        assert_string_equal(env_get(env, "PYTHONPATH"), "/opt/mine:/opt/theirs");
        assert_string_equal(env_get(env, "LD_PRELOAD"), "/lib/a.so:/p.so");
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT"), "1");
        /* No interval given: theirs stays (the agents' own default otherwise). */
        assert_string_equal(env_get(env, "LEAKWATCH_AGENT_INTERVAL"), "60");
        free(env);

        /* The Python agent alone: LD_PRELOAD is left as it was. */
        env = run_child_environment(bare, &(struct run_agents){ .python_dir = "/py", .interval = 2 });
        assert_non_null(env);
        assert_null(env_get(env, "LD_PRELOAD"));
        assert_null(env_get(env, "LEAKWATCH_AGENT_SOCKET"));
        assert_string_equal(env_get(env, "PYTHONPATH"), "/py");
        assert_string_equal(env_get(env, "LEAKWATCH_PROBE_INTERVAL"), "2");
        free(env);
}

static void touch(const char *dir, const char *name)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fclose(f);
}

static void test_find_agents(void **state)
{
        char root[] = "/tmp/leakwatch-test-agents-XXXXXX", a[256], b[256], c[256], d[256], e[256], sub[300];
        struct run_agent_files f;
        const char *dirs[4];

        (void)state;
        assert_non_null(mkdtemp(root));
        snprintf(a, sizeof(a), "%s/a", root);   /* nothing */
        snprintf(b, sizeof(b), "%s/b", root);   /* not regular files, half an agent */
        snprintf(c, sizeof(c), "%s/c", root);   /* the probe only */
        snprintf(d, sizeof(d), "%s/d", root);   /* both */
        assert_int_equal(mkdir(a, 0755), 0);
        assert_int_equal(mkdir(b, 0755), 0);
        assert_int_equal(mkdir(c, 0755), 0);
        assert_int_equal(mkdir(d, 0755), 0);
        snprintf(sub, sizeof(sub), "%s/libleakwatch-probe.so", b);
        assert_int_equal(mkdir(sub, 0755), 0);
        snprintf(sub, sizeof(sub), "%s/python", b);
        assert_int_equal(mkdir(sub, 0755), 0);
        touch(sub, "sitecustomize.py");
        /* A link to nothing is no agent. */
        snprintf(sub, sizeof(sub), "%s/python/leakwatch_agent.py", b);
        assert_int_equal(symlink("/nonexistent/leakwatch_agent.py", sub), 0);
        touch(c, "libleakwatch-probe.so");
        snprintf(sub, sizeof(sub), "%s/python", d);
        assert_int_equal(mkdir(sub, 0755), 0);
        touch(sub, "sitecustomize.py");
        touch(sub, "leakwatch_agent.py");
        touch(d, "libleakwatch-probe.so");
        /* Both, but at a path the loaders would split. */
        snprintf(e, sizeof(e), "%s/e:x", root);
        assert_int_equal(mkdir(e, 0755), 0);
        touch(e, "libleakwatch-probe.so");

        /* Missing files add nothing. */
        dirs[0] = e;
        dirs[1] = b;
        dirs[2] = NULL;
        dirs[3] = "/nonexistent/leakwatch";
        assert_int_equal(run_find_agents(dirs, 4, &f), -ENOENT);
        assert_string_equal(f.probe, "");
        assert_string_equal(f.python_dir, "");
        dirs[0] = a;
        assert_int_equal(run_find_agents(dirs, 4, &f), -ENOENT);
        /* The first directory that holds either, with what it holds. */
        dirs[2] = c;
        dirs[3] = d;
        assert_int_equal(run_find_agents(dirs, 4, &f), 0);
        snprintf(sub, sizeof(sub), "%s/libleakwatch-probe.so", c);
        assert_string_equal(f.probe, sub);
        assert_string_equal(f.python_dir, "");
        assert_string_equal(f.dir, c);
        assert_int_equal(run_find_agents(dirs + 3, 1, &f), 0);
        snprintf(sub, sizeof(sub), "%s/python", d);
        assert_string_equal(f.python_dir, sub);
        assert_string_equal(f.dir, d);

        assert_int_equal(tmpdir_remove(root), 0);
}

/* The agents report as often as the run samples, within what the receiver keeps and
 * never less often than their own default. */
static void test_agent_interval(void **state)
{
        (void)state;
        assert_true(fabs(run_agent_interval(0.5) - 2) < 1e-9);
        assert_true(fabs(run_agent_interval(5) - 5) < 1e-9);
        assert_true(fabs(run_agent_interval(60) - 10) < 1e-9);
}

static void test_default_interval(void **state)
{
        (void)state;
        assert_true(fabs(run_default_interval(60) - 0.5) < 1e-9);
        assert_true(fabs(run_default_interval(120) - 1) < 1e-9);
        /* Never coarser than the daemon's default. */
        assert_true(fabs(run_default_interval(6 * 3600) - 10) < 1e-9);
}

static void test_floor_fit(void **state)
{
        int64_t t[200];
        double lo[200], slope, at;

        (void)state;
        /* A sawtooth on a rising floor: 1000 units per second, 100 ms apart; the line
         * follows the floor, not the teeth. */
        for (int i = 0; i < 200; i++) {
                t[i] = 1000000 + i * 100;
                lo[i] = 5000 + i * 100.0 + (i % 10) * 700.0;
        }
        assert_int_equal(trend_floor_fit(t, lo, 200, 1000000, 1020000, &slope, &at), 0);
        assert_true(fabs(slope * 1000 - 1000) < 60);
        assert_true(fabs(at - 5000) < 700);
        /* Three known buckets make no line; nor does an empty range. */
        assert_int_equal(trend_floor_fit(t, lo, 3, 1000000, 1020000, &slope, &at), -EINVAL);
        assert_int_equal(trend_floor_fit(t, lo, 200, 1000000, 1000000, &slope, &at), -EINVAL);
}

/* ---- ctl against a fake daemon ---- */

struct fake {
        char dir[64];
        pid_t pid;
};

/* Listens on dir/control and answers one connection with reply (len bytes; none
 * when len is 0: it hangs up), after reading the request when read_first is set. */
static void fake_start(struct fake *f, const char *reply, size_t len, bool read_first)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, c;

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-ctl-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control", f->dir);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);
        f->pid = fork();
        assert_true(f->pid >= 0);
        if (f->pid == 0) {
                char buf[65536];

                c = accept(fd, NULL, NULL);
                if (c < 0)
                        _exit(1);
                if (read_first && recv(c, buf, sizeof(buf), 0) <= 0)
                        _exit(1);
                if (len && send(c, reply, len, MSG_NOSIGNAL) < 0)
                        _exit(1);
                close(c);
                _exit(0);
        }
        close(fd);
}

static void fake_stop(struct fake *f)
{
        char path[128];

        assert_int_equal(waitpid(f->pid, NULL, 0), f->pid);
        snprintf(path, sizeof(path), "%s/control", f->dir);
        unlink(path);
        rmdir(f->dir);
}

static int ask(const char *reply, size_t len, bool read_first, struct ctl_reply *ret)
{
        struct json_object *req = json_object_new_object();
        struct fake f;
        int r;

        json_object_object_add(req, "cmd", json_object_new_string("status"));
        fake_start(&f, reply, len, read_first);
        r = ctl_call(f.dir, req, 5000, ret);
        fake_stop(&f);
        json_object_put(req);
        return r;
}

static void test_ctl_replies(void **state)
{
        static const char ok[] = "{\"ok\": true, \"pid\": 42, \"interval_s\": 0.5, \"database\": \"/x.db\"}";
        static const char gone[] = "{\"ok\": false, \"error\": \"no process 7\", \"code\": \"ENOENT\"}";
        static const char denied[] = "{\"ok\": false, \"error\": \"permission denied: root or the leakwatch group only\"}";
        static const char hostile[] = "{\"ok\": false, \"error\": \"\\u001b]0;pwned\\u0007\"}";
        struct ctl_reply r;
        int64_t pid = 0;
        double iv = 0;

        (void)state;
        assert_int_equal(ask(ok, strlen(ok), true, &r), 0);
        assert_true(r.ok);
        assert_true(ctl_get_int(&r, "pid", &pid) && pid == 42);
        assert_true(ctl_get_double(&r, "interval_s", &iv) && iv == 0.5);
        assert_string_equal(ctl_get_string(&r, "database"), "/x.db");
        assert_null(ctl_get_string(&r, "pid"));
        assert_false(ctl_get_int(&r, "database", &pid));
        ctl_reply_clear(&r);

        assert_int_equal(ask(gone, strlen(gone), true, &r), 0);
        assert_false(r.ok);
        assert_int_equal(r.error, -ENOENT);
        assert_string_equal(r.message, "no process 7");
        assert_false(ctl_denied(0, &r));
        ctl_reply_clear(&r);

        /* A refused peer is answered before its request is read; no code from an
         * older daemon, the words say it. */
        assert_int_equal(ask(denied, strlen(denied), false, &r), 0);
        assert_int_equal(r.error, -EACCES);
        assert_true(ctl_denied(0, &r));
        ctl_reply_clear(&r);

        /* The daemon's words reach the terminal escaped. */
        assert_int_equal(ask(hostile, strlen(hostile), true, &r), 0);
        assert_string_equal(r.message, "\\x1b]0;pwned\\x07");
        assert_int_equal(r.error, -EREMOTEIO);
        ctl_reply_clear(&r);
}

static void test_ctl_bad_replies(void **state)
{
        static const char *const bad[] = {
                "not json", "[1, 2]", "{\"ok\": 1}", "{\"pid\": 3}", "{\"ok\": true} trailing",
                "{\"ok\": true, \"a\": [[[[[[[[[[1]]]]]]]]]]}",
        };
        _cleanup_free_ char *huge = malloc(20000);
        struct ctl_reply r;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(ask(bad[i], strlen(bad[i]), true, &r), -EBADMSG);
        /* Hung up without a word. */
        assert_int_equal(ask(NULL, 0, true, &r), -ECONNRESET);
        /* Longer than any reply may be: refused, not cut. */
        assert_non_null(huge);
        memset(huge, ' ', 20000);
        huge[0] = '{';
        memcpy(huge + 1, "\"ok\":true", 9);
        huge[19999] = '}';
        assert_int_equal(ask(huge, 20000, true, &r), -EMSGSIZE);
}

static void test_ctl_not_there(void **state)
{
        struct json_object *req = json_object_new_object();
        char dir[] = "/tmp/leakwatch-ctl-XXXXXX", path[64], longdir[200];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ctl_reply r;
        int fd;

        (void)state;
        json_object_object_add(req, "cmd", json_object_new_string("status"));
        assert_non_null(mkdtemp(dir));
        /* No socket: not running. */
        assert_int_equal(ctl_call(dir, req, 1000, &r), -ENOENT);
        assert_true(ctl_not_running(-ENOENT));
        /* A socket nobody listens on (a daemon that died): not running either. */
        snprintf(path, sizeof(path), "%s/control", dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
        assert_int_equal(ctl_call(dir, req, 1000, &r), -ECONNREFUSED);
        assert_true(ctl_not_running(-ECONNREFUSED));
        /* A socket this user may not open is a denial, told apart from the rest. */
        if (geteuid() != 0) {
                chmod(path, 0);
                assert_int_equal(ctl_call(dir, req, 1000, &r), -EACCES);
        }
        assert_true(ctl_denied(-EACCES, NULL));
        assert_false(ctl_denied(-ENOENT, NULL));
        unlink(path);
        rmdir(dir);
        /* A path that cannot be a socket's. */
        memset(longdir, 'x', sizeof(longdir) - 1);
        longdir[0] = '/';
        longdir[sizeof(longdir) - 1] = '\0';
        assert_int_equal(ctl_call(longdir, req, 1000, &r), -ENAMETOOLONG);
        json_object_put(req);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_needs),
                cmocka_unit_test(test_outcome),
                cmocka_unit_test(test_exit_status),
                cmocka_unit_test(test_tree),
                cmocka_unit_test(test_environment),
                cmocka_unit_test(test_environment_agents),
                cmocka_unit_test(test_find_agents),
                cmocka_unit_test(test_agent_interval),
                cmocka_unit_test(test_default_interval),
                cmocka_unit_test(test_floor_fit),
                cmocka_unit_test(test_ctl_replies),
                cmocka_unit_test(test_ctl_bad_replies),
                cmocka_unit_test(test_ctl_not_there),
        };

        return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
