/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for hook, trust and reap: real children under a real sd-event loop — argv
 * without a shell, stdin and environment, bounded output, the timeout's SIGTERM then
 * SIGKILL, the concurrency cap and its queue; which programs may run (every directory
 * on the way trusted, no symbolic link anywhere, checked at each run on the descriptor
 * executed, with both resolvers); and that nothing a run started outlives it (a
 * background child, a setsid() double fork, a hook that ignores SIGTERM), with a cgroup
 * per run and with a reaper process per run, nor the daemon that ran it (cgroups left by
 * a daemon that died are swept at the next start). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hook.h"
#include "reap.h"
#include "trust.h"

#define MAX_RESULTS 80

/* The shell by its real path: on a merged-/usr system /bin is a symbolic link, and
 * /usr/bin/sh another, which a hook path may not go through. */
static char sh[PATH_MAX];
/* The grace between SIGTERM and SIGKILL here: short, the tests wait it out. */
#define GRACE_USEC (1 * USEC_PER_SEC)
/* How runs are reaped in the group being run, and why that group skips. */
static enum reap_mode mode = REAP_AUTO;
static char skip_why[PATH_MAX + 640];

struct results {
        struct hook_result r[MAX_RESULTS];
        char out[MAX_RESULTS][512];
        size_t n;
        unsigned max_seen_running;
        struct hooks *h;
        sd_event *event;
        size_t want;
};

static void on_started(void *userdata, int64_t tag, const char *program, pid_t pid)
{
        struct results *res = userdata;

        (void)tag;
        (void)program;
        (void)pid;
        if (hooks_running(res->h) > res->max_seen_running)
                res->max_seen_running = hooks_running(res->h);
}

static void on_done(void *userdata, const struct hook_result *r)
{
        struct results *res = userdata;

        assert_true(res->n < MAX_RESULTS);
        res->r[res->n] = *r;
        memcpy(res->out[res->n], r->output ? r->output : "", MIN(r->output_len, sizeof(res->out[0]) - 1));
        res->out[res->n][MIN(r->output_len, sizeof(res->out[0]) - 1)] = '\0';
        res->r[res->n].output = res->out[res->n];
        res->r[res->n].program = NULL; /* not valid after the callback */
        res->r[res->n].error = r->error ? "error" : NULL;
        res->n++;
        if (res->n >= res->want)
                sd_event_exit(res->event, 0);
}

static struct results *run_setup(usec_t timeout, unsigned max_running)
{
        struct results *res = calloc(1, sizeof(*res));
        struct hooks_opts o = {
                .timeout = timeout,
                .max_running = max_running,
                .kill_grace = GRACE_USEC,
                .owner = getuid(),
                .reap = mode,
                .started = on_started,
                .done = on_done,
                .userdata = res,
        };
        char why[HOOK_WHY_MAX];
        sigset_t ss;

        if (skip_why[0]) {
                free(res);
                print_message("SKIP: %s\n", skip_why);
                skip();
        }
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        assert_int_equal(sd_event_new(&res->event), 0);
        assert_int_equal(hooks_new(res->event, &o, &res->h, why, sizeof(why)), 0);
        if (mode != REAP_AUTO)
                assert_int_equal(hooks_reap_mode(res->h), mode);
        res->want = SIZE_MAX; /* results that arrive during submission must not stop the loop */
        return res;
}

static void run_loop(struct results *res, size_t want)
{
        res->want = want;
        if (res->n < want)
                assert_int_equal(sd_event_loop(res->event), 0);
        assert_int_equal(res->n, want);
}

static void run_teardown(struct results *res)
{
        hooks_free(res->h);
        sd_event_unref(res->event);
        free(res);
}

static const char *const no_env[] = { "PATH=/usr/bin:/bin", NULL };

/* A directory for hook files where every component is trusted: /run as root, the
 * user's runtime directory otherwise (/tmp is world-writable, so nothing under it
 * may be run). Skips the test when there is none. */
static void trusted_dir(char *dir, size_t sz)
{
        const char *parent = geteuid() == 0 ? "/run" : getenv("XDG_RUNTIME_DIR");

        if (!parent || access(parent, W_OK) != 0) {
                print_message("SKIP: no trusted directory to put hook files in (/run as root, $XDG_RUNTIME_DIR)\n");
                skip();
        }
        snprintf(dir, sz, "%s/leakwatch-test-hook-XXXXXX", parent);
        assert_non_null(mkdtemp(dir));
        assert_int_equal(chmod(dir, 0755), 0);
}

static void write_file(const char *path, const char *text, mode_t m)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        assert_int_equal(chmod(path, m), 0);
}

static void remove_tree(const char *path)
{
        char cmd[PATH_MAX + 32];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
        assert_int_equal(system(cmd), 0);
}

/* Live processes whose environment holds marker (zombies have none), and whose name
 * is comm unless that is NULL. */
static int count_marked(const char *marker, const char *comm)
{
        DIR *d = opendir("/proc");
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                char path[NAME_MAX + 32], buf[8192];
                ssize_t len;
                int fd;

                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/environ", de->d_name);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                len = read(fd, buf, sizeof(buf));
                close(fd);
                if (len <= 0 || !memmem(buf, (size_t)len, marker, strlen(marker)))
                        continue;
                if (comm) {
                        snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
                        fd = open(path, O_RDONLY | O_CLOEXEC);
                        if (fd < 0)
                                continue;
                        len = read(fd, buf, sizeof(buf) - 1);
                        close(fd);
                        if (len <= 0)
                                continue;
                        buf[len] = '\0';
                        buf[strcspn(buf, "\n")] = '\0';
                        if (strcmp(buf, comm) != 0)
                                continue;
                }
                n++;
        }
        closedir(d);
        return n;
}

/* ---- running ---- */

static void test_argv_stdin_env_output(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 2);
        /* The arguments arrive as given: a semicolon or $(...) is just text. */
        const char *const argv[] = { sh, "-c", "printf '%s|%s|' \"$1\" \"$LEAKWATCH_NAME\"; cat; exit 3",
                               "sh", "a;b $(touch /tmp/leakwatch-pwned)", NULL };
        const char *const env[] = { "PATH=/usr/bin:/bin", "LEAKWATCH_NAME=x\\ny", NULL };

        (void)state;
        assert_int_equal(hooks_submit(res->h, 1, argv, env, "{\"a\":1}", 7), 0);
        run_loop(res, 1);
        assert_int_equal(res->r[0].tag, 1);
        assert_int_equal(res->r[0].exit_code, 3);
        assert_int_equal(res->r[0].signal, 0);
        assert_false(res->r[0].timed_out);
        assert_string_equal(res->out[0], "a;b $(touch /tmp/leakwatch-pwned)|x\\ny|{\"a\":1}");
        assert_int_equal(access("/tmp/leakwatch-pwned", F_OK), -1);
        run_teardown(res);
}

static void test_no_descriptors_leak_into_hook(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 1);
        /* The hook's own descriptors, listed by a child (ls) so that the listing does
         * not count itself: exactly 0, 1 and 2. */
        const char *const argv[] = { sh, "-c", "ls /proc/$$/fd; exit 0", NULL };
        int fd = open("/dev/null", O_RDONLY); /* a daemon descriptor, without CLOEXEC */

        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        run_loop(res, 1);
        assert_string_equal(res->out[0], "0\n1\n2\n");
        close(fd);
        run_teardown(res);
}

static void test_script_gets_only_itself(void **state)
{
        char dir[PATH_MAX], hook[PATH_MAX + 16];
        struct results *res;
        const char *argv[] = { hook, NULL };
        bool seen[4] = { false };

        (void)state;
        trusted_dir(dir, sizeof(dir));
        snprintf(hook, sizeof(hook), "%s/hook", dir);
        /* A script is run by its interpreter from /dev/fd/3: descriptor 3 is the
         * script itself, read-only; the interpreter may open it again (dash keeps it
         * at 10); nothing of the daemon's is open. The listing is made by ls, a child,
         * so that it does not count itself. */
        write_file(hook, "#!/bin/sh\nls -l /proc/$$/fd\nexit 0\n", 0755);
        res = run_setup(10 * USEC_PER_SEC, 1);
        assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        run_loop(res, 1);
        assert_int_equal(res->r[0].exit_code, 0);
        for (char *line = strtok(res->out[0], "\n"); line; line = strtok(NULL, "\n")) {
                char *arrow = strstr(line, " -> "), *sp;
                int fd;

                if (!arrow)
                        continue; /* "total 0" */
                *arrow = '\0';
                sp = strrchr(line, ' ');
                assert_non_null(sp);
                fd = atoi(sp + 1);
                if (fd <= 2)
                        seen[fd] = true;
                else if (strcmp(arrow + 4, hook) == 0)
                        seen[3] = seen[3] || fd == 3;
                else
                        fail_msg("descriptor %d -> %s open in the hook", fd, arrow + 4);
        }
        assert_true(seen[0] && seen[1] && seen[2] && seen[3]);
        run_teardown(res);
        remove_tree(dir);
}

static void test_timeout_kills_the_group(void **state)
{
        /* Long enough for the shell to have set its trap before the timeout, even on a
         * loaded machine under valgrind. */
        struct results *res = run_setup(1500 * USEC_PER_MSEC, 1);
        /* The hook ignores SIGTERM and leaves a child behind: both must die. */
        const char *const argv[] = { sh, "-c", "trap '' TERM; sleep 1000 & echo started; while :; do sleep 1; done",
                               NULL };

        (void)state;
        assert_int_equal(hooks_submit(res->h, 9, argv, no_env, NULL, 0), 0);
        run_loop(res, 1);
        assert_true(res->r[0].timed_out);
        assert_int_equal(res->r[0].signal, SIGKILL);
        assert_int_equal(res->r[0].exit_code, -1);
        assert_string_equal(res->out[0], "started\n");
        run_teardown(res);
}

static void test_output_is_bounded(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 1);
        const char *const argv[] = { sh, "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL };
        size_t len;

        (void)state;
        assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        run_loop(res, 1);
        len = res->r[0].output_len;
        assert_int_equal(res->r[0].exit_code, 0);
        assert_int_equal(len, HOOK_OUTPUT_MAX);
        assert_true(res->r[0].output_cut);
        run_teardown(res);
}

static void test_cap_and_queue(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 2);
        const char *const argv[] = { sh, "-c", "sleep 0.2", NULL };

        (void)state;
        for (int i = 0; i < 6; i++)
                assert_int_equal(hooks_submit(res->h, i, argv, no_env, NULL, 0), 0);
        assert_int_equal(hooks_running(res->h), 2);
        assert_int_equal(hooks_queued(res->h), 4);
        run_loop(res, 6);
        assert_int_equal(res->max_seen_running, 2);
        for (int i = 0; i < 6; i++)
                assert_int_equal(res->r[i].exit_code, 0);
        run_teardown(res);
}

static void test_queue_overflow_reports(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 1);
        const char *const argv[] = { sh, "-c", "sleep 0.1", NULL };
        int refused = 0;

        (void)state;
        for (int i = 0; i < HOOK_QUEUE_MAX + 3; i++)
                if (hooks_submit(res->h, i, argv, no_env, NULL, 0) == -EAGAIN)
                        refused++;
        assert_int_equal(refused, 2);
        /* Every submission gets one result: two refusals now, the rest when they ran. */
        run_loop(res, HOOK_QUEUE_MAX + 3);
        run_teardown(res);
}

static void test_missing_program(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 1);
        const char *const argv[] = { "/nonexistent/leakwatch-hook", NULL };

        (void)state;
        assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        run_loop(res, 1);
        assert_int_equal(res->r[0].exit_code, 126);
        assert_non_null(strstr(res->out[0], "/nonexistent: No such file"));
        run_teardown(res);
}

/* ---- nothing a run started outlives it ---- */

/* Runs script (with marker in its environment, so every descendant carries it) and
 * checks that when the result arrives no process with the marker is left. */
static void run_and_count(const char *script, usec_t timeout, struct hook_result *ret, char *out, size_t outsz)
{
        char marker[64];
        struct results *res = run_setup(timeout, 1);
        const char *argv[] = { sh, "-c", script, NULL };
        const char *env[] = { "PATH=/usr/bin:/bin", marker, NULL };

        snprintf(marker, sizeof(marker), "LWTEST_MARK=%d-%d-%ld", (int)getpid(), (int)mode, (long)random());
        assert_int_equal(hooks_submit(res->h, 1, argv, env, NULL, 0), 0);
        run_loop(res, 1);
        assert_int_equal(count_marked(marker, NULL), 0);
        *ret = res->r[0];
        snprintf(out, outsz, "%s", res->out[0]);
        run_teardown(res);
}

static void test_background_child_ends_with_the_run(void **state)
{
        struct hook_result r;
        char out[512];

        (void)state;
        /* Exits 0 at once; its child would sleep on. The child's PID is printed so the
         * test knows it existed. */
        run_and_count("sleep 1000 & echo $!; exit 0", 10 * USEC_PER_SEC, &r, out, sizeof(out));
        assert_int_equal(r.exit_code, 0);
        assert_false(r.timed_out);
        assert_true(atoi(out) > 0);
}

static void test_setsid_grandchild_ends_with_the_run(void **state)
{
        struct hook_result r;
        char out[512];

        (void)state;
        /* A double fork into a session of its own: out of the hook's process group,
         * and an orphan once its parent exits. */
        run_and_count("( setsid sh -c 'echo $$; exec sleep 1000' & ); sleep 0.2; exit 0", 10 * USEC_PER_SEC, &r, out,
                      sizeof(out));
        assert_int_equal(r.exit_code, 0);
        assert_true(atoi(out) > 0);
}

static void test_term_ignoring_hook_and_children_end(void **state)
{
        struct hook_result r;
        char out[512];
        usec_t t0 = now_usec(CLOCK_MONOTONIC), took;

        (void)state;
        run_and_count("trap '' TERM; ( trap '' TERM; setsid sh -c 'trap \"\" TERM; exec sleep 1000' & ); "
                      "echo started; while :; do sleep 1; done",
                      200 * USEC_PER_MSEC, &r, out, sizeof(out));
        took = now_usec(CLOCK_MONOTONIC) - t0;
        assert_true(r.timed_out);
        assert_int_equal(r.signal, SIGKILL);
        /* The timeout, the grace after SIGTERM, and little more. */
        assert_true(took >= 200 * USEC_PER_MSEC + GRACE_USEC);
        assert_true(took < 200 * USEC_PER_MSEC + GRACE_USEC + 3 * USEC_PER_SEC);
}

static void test_free_ends_running_hooks(void **state)
{
        char marker[64];
        struct results *res = run_setup(60 * USEC_PER_SEC, 1);
        const char *argv[] = { sh, "-c", "( setsid sleep 1000 & ); echo up; sleep 1000", NULL };
        const char *env[] = { "PATH=/usr/bin:/bin", marker, NULL };

        (void)state;
        snprintf(marker, sizeof(marker), "LWTEST_MARK=free-%d-%d", (int)getpid(), (int)mode);
        assert_int_equal(hooks_submit(res->h, 1, argv, env, NULL, 0), 0);
        /* Until both sleeps exist. */
        /* Until both sleeps exist (the subshell that starts one comes and goes). */
        for (int i = 0; i < 1000 && count_marked(marker, "sleep") < 2; i++)
                usleep(10 * 1000);
        assert_int_equal(count_marked(marker, "sleep"), 2);
        run_teardown(res);
        assert_int_equal(count_marked(marker, NULL), 0);
}

/* The directory of this process's cgroup (v2), found the way reap finds it. */
static void own_cgroup_dir(char *dir, size_t sz)
{
        char buf[65536], own[PATH_MAX];
        ssize_t n;
        int fd;

        fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        close(fd);
        assert_int_equal(reap_parse_cgroup(buf, (size_t)n, own, sizeof(own)), 0);
        fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        close(fd);
        assert_int_equal(reap_parse_mountinfo(buf, (size_t)n, own, dir, sz), 0);
}

/* Moves the calling process into the cgroup directory dir. */
static void move_self(const char *dir)
{
        char procs[PATH_MAX + 64];
        int fd;

        snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
        fd = open(procs, O_WRONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "0", 1), 1);
        close(fd);
}

/* A PID no process has (one that just exited). */
static pid_t dead_pid(void)
{
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        return pid;
}

static void test_stale_cgroups_are_swept(void **state)
{
        char parent[PATH_MAX], own[PATH_MAX + 32], stale[PATH_MAX + 96], held[PATH_MAX + 96], run[PATH_MAX + 112];
        char procs[PATH_MAX + 128], marker[64];
        struct reap *r;
        char why[PATH_MAX + 160];
        int lock;
        pid_t child;

        (void)state;
        if (reap_new(REAP_CGROUP, &r, why, sizeof(why)) < 0) {
                print_message("SKIP: no cgroup per hook run here: %s\n", why);
                skip();
        }
        reap_free(r);
        /* A cgroup of the test's own: a daemon started beside it (another test's, a
         * benchmark's) sweeps its own cgroup's directory, which would otherwise be this
         * one's, and takes the stale run below before this reap can. */
        own_cgroup_dir(parent, sizeof(parent));
        snprintf(own, sizeof(own), "%s/lwtest-hook-%d", parent, (int)getpid());
        assert_int_equal(mkdir(own, 0755), 0);
        move_self(own);
        /* What a daemon that died left: its directory, a run in it, and a process the
         * run started, still alive. */
        snprintf(stale, sizeof(stale), "%s/leakwatchd-%d", own, (int)dead_pid());
        snprintf(run, sizeof(run), "%s/hook-1", stale);
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", run);
        assert_int_equal(mkdir(stale, 0755), 0);
        assert_int_equal(mkdir(run, 0755), 0);
        snprintf(marker, sizeof(marker), "LWTEST_MARK=stale-%d", (int)getpid());
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                char a0[] = "sleep", a1[] = "1000";
                char *argv[] = { a0, a1, NULL }, *envp[] = { marker, NULL };
                int fd = open(procs, O_WRONLY);

                if (fd < 0 || write(fd, "0", 1) != 1)
                        _exit(1);
                close(fd);
                execve("/usr/bin/sleep", argv, envp);
                _exit(1);
        }
        for (int i = 0; i < 500 && count_marked(marker, "sleep") < 1; i++)
                usleep(10 * 1000);
        assert_int_equal(count_marked(marker, "sleep"), 1);
        /* And one whose number is free here but whose daemon lives on elsewhere (another
         * PID namespace): it holds the lock on its directory. */
        snprintf(held, sizeof(held), "%s/leakwatchd-%d", own, (int)dead_pid());
        assert_int_equal(mkdir(held, 0755), 0);
        lock = open(held, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(lock >= 0);
        assert_int_equal(flock(lock, LOCK_EX | LOCK_NB), 0);

        assert_int_equal(reap_new(REAP_CGROUP, &r, why, sizeof(why)), 0);
        assert_int_equal(access(stale, F_OK), -1);
        assert_int_equal(waitpid(child, NULL, 0), child);
        assert_int_equal(count_marked(marker, NULL), 0);
        assert_int_equal(access(held, F_OK), 0);
        reap_free(r);
        close(lock);
        assert_int_equal(rmdir(held), 0);
        move_self(parent);
        assert_int_equal(rmdir(own), 0);
}

/* ---- which programs may run ---- */

struct trust_case {
        const char *rel;        /* under the test directory, or absolute */
        int err;
        const char *why;        /* a part of the reason */
};

/* A script's interpreter is run by the kernel by name: every step of its path must be as
 * trusted as the script's, links included, and so must what "#!/usr/bin/env NAME" runs.
 * dir is trusted and holds ww/ (writable by others). */
/* line with each '@' replaced by dir. */
static void expand(char *buf, size_t sz, const char *line, const char *dir)
{
        size_t n = 0;

        for (; *line && n + 1 < sz; line++)
                n += *line == '@' ? (size_t)snprintf(buf + n, sz - n, "%s", dir) : (buf[n] = *line, 1);
        buf[MIN(n, sz - 1)] = '\0';
}

static void check_interpreters(const char *dir)
{
        char p[PATH_MAX + 64], text[PATH_MAX + 128], why[TRUST_WHY_MAX];
        bool script;
        struct {
                const char *name;
                const char *line;       /* @ stands for dir */
                int err;
                const char *why;
        } cases[] = {
                { "i-sh", "#!/bin/sh -e\n", 0, NULL },                     /* /bin: a trusted link */
                { "i-env", "#!/usr/bin/env sh\n", 0, NULL },
                { "i-env-s", "#!/usr/bin/env -S sh -e\n", 0, NULL },
                { "i-env-missing", "#!/usr/bin/env no-such-program-lw\n", 0, NULL },
                { "i-ww", "#!@/ww/interp\n", -EPERM, "/i-ww: its interpreter " },
                { "i-ww-via-link", "#!@/to-ww\n", -EPERM, "/ww: a directory writable by others" },
                { "i-env-abs-ww", "#!/usr/bin/env @/ww/interp\n", -EPERM, "/ww: a directory writable by others" },
                { "i-nested-ww", "#!@/i-ww\n", -EPERM, "/ww: a directory writable by others" },
                { "i-env-opt", "#!/usr/bin/env -i sh\n", -EINVAL, "options of env" },
                { "i-env-var", "#!/usr/bin/env A=1 sh\n", -EINVAL, "env with variables" },
                { "i-none", "#!  \n", -ENOEXEC, "names no interpreter" },
                { "i-relative", "#!sh\n", -EINVAL, "not an absolute path" },
                { "i-missing", "#!@/no-such-interp\n", -ENOENT, "no-such-interp" },
                { "i-dir", "#!@/sub\n", -EINVAL, "not a regular file" },
                { "i-loop-1", "#!@/i-loop-2\n", -ELOOP, "nested more than" },
                { "i-loop-2", "#!@/i-loop-1\n", -ELOOP, "nested more than" },
        };

        snprintf(p, sizeof(p), "%s/ww/interp", dir);
        write_file(p, "#!/bin/sh\n", 0755);
        snprintf(text, sizeof(text), "%s/ww/interp", dir);
        snprintf(p, sizeof(p), "%s/to-ww", dir);
        assert_int_equal(symlink(text, p), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, cases[i].name);
                expand(text, sizeof(text), cases[i].line, dir);
                write_file(p, text, 0755);
        }
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int fd;

                snprintf(p, sizeof(p), "%s/%s", dir, cases[i].name);
                why[0] = '\0';
                fd = trust_open_program(p, getuid(), &script, why, sizeof(why));
                if (fd >= 0)
                        close(fd);
                if ((fd >= 0 ? 0 : fd) != cases[i].err || (cases[i].why && !strstr(why, cases[i].why)))
                        fail_msg("%s: got %d '%s', want %d '%s'", cases[i].name, fd >= 0 ? 0 : fd, why,
                                 cases[i].err, cases[i].why ? cases[i].why : "");
        }
        /* A link on the interpreter's way owned by someone else: only root can make that. */
        if (geteuid() == 0) {
                snprintf(p, sizeof(p), "%s/to-sh", dir);
                assert_int_equal(symlink("/usr/bin/sh", p), 0);
                assert_int_equal(lchown(p, 65534, 65534), 0);
                snprintf(p, sizeof(p), "%s/i-foreign-link", dir);
                expand(text, sizeof(text), "#!@/to-sh\n", dir);
                write_file(p, text, 0755);
                assert_int_equal(trust_open_program(p, getuid(), &script, why, sizeof(why)), -EPERM);
                assert_non_null(strstr(why, "a link owned by uid 65534"));
        }
}

static void check_trust_cases(void)
{
        char dir[PATH_MAX], p[PATH_MAX + 64], why[TRUST_WHY_MAX];
        bool script;
        int fd;
        const struct trust_case cases[] = {
                { "hook", 0, NULL },
                { "gw/hook", -EPERM, "/gw: a directory writable by group (mode 0775)" },
                { "ww/hook", -EPERM, "/ww: a directory writable by others (mode 0757)" },
                { "sticky/hook", -EPERM, "sticky does not stop others" },
                { "hook-gw", -EPERM, "/hook-gw: a file writable by group" },
                { "hook-noexec", -EACCES, "not executable" },
                { "link", -ELOOP, "/link: a symbolic link (to /usr/bin/true)" },
                { "linkdir/hook", -ELOOP, "/linkdir: a symbolic link" },
                { "sub", -EINVAL, "not a regular file" },
                { "fifo", -EINVAL, "/fifo: not a regular file" },
                { "sub/../hook", -EINVAL, "'..' in the path" },
                { "./hook", -EINVAL, "'.' in the path" },
                { "hook/", -ENOTDIR, "/hook: not a directory" },
                { "missing", -ENOENT, "/missing: No such file" },
                { "hook/x", -ENOTDIR, "not a directory" },
        };

        trusted_dir(dir, sizeof(dir));
#define AT(rel) (snprintf(p, sizeof(p), "%s/%s", dir, rel), p)
        write_file(AT("hook"), "#!/bin/sh\necho ran\n", 0755);
        write_file(AT("hook-gw"), "#!/bin/sh\n", 0775);
        write_file(AT("hook-noexec"), "#!/bin/sh\n", 0644);
        assert_int_equal(symlink("/usr/bin/true", AT("link")), 0);
        assert_int_equal(mkdir(AT("sub"), 0755), 0);
        assert_int_equal(mkfifo(AT("fifo"), 0755), 0);
        for (size_t i = 0; i < 3; i++) {
                static const char *const names[] = { "gw", "ww", "sticky" };
                static const mode_t modes[] = { 0775, 0757, 01777 };
                char f[PATH_MAX + 80];

                assert_int_equal(mkdir(AT(names[i]), 0700), 0);
                assert_int_equal(chmod(p, modes[i]), 0);
                snprintf(f, sizeof(f), "%s/hook", p);
                write_file(f, "#!/bin/sh\n", 0755);
        }
        assert_int_equal(symlink("sub", AT("linkdir")), 0);
        write_file(AT("sub/hook"), "#!/bin/sh\n", 0755);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                why[0] = '\0';
                fd = trust_open_program(AT(cases[i].rel), getuid(), &script, why, sizeof(why));
                if (fd >= 0)
                        close(fd);
                if ((fd >= 0 ? 0 : fd) != cases[i].err || (cases[i].why && !strstr(why, cases[i].why)))
                        fail_msg("%s (resolver %d): got %d '%s', want %d '%s'", cases[i].rel, (int)trust_resolver(),
                                 fd >= 0 ? 0 : fd, why, cases[i].err, cases[i].why ? cases[i].why : "");
        }
        /* A script and a binary. */
        fd = trust_open_program(AT("hook"), getuid(), &script, why, sizeof(why));
        assert_true(fd >= 0);
        assert_true(script);
        close(fd);
        fd = trust_open_program(sh, getuid(), &script, why, sizeof(why));
        assert_true(fd >= 0);
        assert_false(script);
        close(fd);
        /* Owned by someone else: only root can make that. */
        if (geteuid() == 0) {
                assert_int_equal(chown(AT("sub"), 65534, 65534), 0);
                fd = trust_open_program(AT("sub/hook"), getuid(), &script, why, sizeof(why));
                assert_int_equal(fd, -EPERM);
                assert_non_null(strstr(why, "/sub: owned by uid 65534"));
                assert_int_equal(chown(AT("sub"), 0, 0), 0);
        }
        check_interpreters(dir);
#undef AT
        /* Whatever is under a world-writable directory such as /tmp. */
        {
                struct stat st;

                if (stat("/tmp", &st) == 0 && (st.st_mode & S_IWOTH)) {
                        assert_int_equal(trust_open_program("/tmp/anything", getuid(), &script, why, sizeof(why)),
                                         -EPERM);
                        assert_non_null(strstr(why, "/tmp: a directory writable by group and others (mode 1777"));
                }
                /* Through a link: /bin on a merged-/usr system. */
                if (lstat("/bin", &st) == 0 && S_ISLNK(st.st_mode)) {
                        assert_int_equal(trust_open_program("/bin/sh", getuid(), &script, why, sizeof(why)), -ELOOP);
                        assert_non_null(strstr(why, "/bin: a symbolic link"));
                }
        }
        assert_int_equal(trust_open_program("relative/hook", getuid(), &script, why, sizeof(why)), -EINVAL);
        assert_int_equal(trust_open_program("/", getuid(), &script, why, sizeof(why)), -EINVAL);
        remove_tree(dir);
}

static void test_trust_openat2(void **state)
{
        enum trust_resolver old = trust_set_resolver(TRUST_RESOLVE_AUTO);

        (void)state;
        /* Linux 5.6 and later have it; the CI kernel is newer. */
        if (trust_resolver() != TRUST_RESOLVE_OPENAT2) {
                trust_set_resolver(old);
                print_message("SKIP: this kernel has no openat2()\n");
                skip();
        }
        trust_set_resolver(TRUST_RESOLVE_OPENAT2);
        check_trust_cases();
        trust_set_resolver(old);
}

static void test_trust_nofollow_walk(void **state)
{
        enum trust_resolver old = trust_set_resolver(TRUST_RESOLVE_NOFOLLOW);

        (void)state;
        assert_int_equal(trust_resolver(), TRUST_RESOLVE_NOFOLLOW);
        check_trust_cases();
        trust_set_resolver(old);
}

static void test_unsafe_at_run_time_is_refused(void **state)
{
        char dir[PATH_MAX], hook[PATH_MAX + 16], real[PATH_MAX + 16], why[HOOK_WHY_MAX];
        struct results *res;
        const char *const argv[] = { hook, NULL };

        (void)state;
        trusted_dir(dir, sizeof(dir));
        snprintf(hook, sizeof(hook), "%s/hook", dir);
        snprintf(real, sizeof(real), "%s/real", dir);
        write_file(hook, "#!/bin/sh\necho ran\n", 0755);
        assert_int_equal(hook_check_program(hook, getuid(), why, sizeof(why)), 0);

        res = run_setup(10 * USEC_PER_SEC, 1);
        /* Checked when the configuration was loaded; then made writable by others. */
        assert_int_equal(chmod(hook, 0777), 0);
        assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        /* Then replaced by a link to the shell (which would read stdin as commands). */
        assert_int_equal(chmod(hook, 0755), 0);
        assert_int_equal(rename(hook, real), 0);
        assert_int_equal(symlink(sh, hook), 0);
        assert_int_equal(hooks_submit(res->h, 2, argv, no_env, "echo shell ran\n", 15), 0);
        /* Then its directory made writable by others. */
        assert_int_equal(unlink(hook), 0);
        assert_int_equal(rename(real, hook), 0);
        assert_int_equal(chmod(dir, 0777), 0);
        assert_int_equal(hooks_submit(res->h, 3, argv, no_env, NULL, 0), 0);
        run_loop(res, 3);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(res->r[i].exit_code, 126);
                assert_non_null(strstr(res->out[i], "refused"));
                assert_null(strstr(res->out[i], "ran"));
        }
        assert_non_null(strstr(res->out[0], "/hook: a file writable by group and others (mode 0777)"));
        assert_non_null(strstr(res->out[1], "/hook: a symbolic link"));
        assert_non_null(strstr(res->out[2], "a directory writable by group and others (mode 0777)"));
        run_teardown(res);
        remove_tree(dir);
}

/* ---- reap's parsers ---- */

static void test_parse_cgroup(void **state)
{
        char p[256];
        const char v1v2[] = "12:memory:/x\n1:name=systemd:/y\n0::/system.slice/leakwatchd.service\n";

        (void)state;
        assert_int_equal(reap_parse_cgroup(v1v2, strlen(v1v2), p, sizeof(p)), 0);
        assert_string_equal(p, "/system.slice/leakwatchd.service");
        assert_int_equal(reap_parse_cgroup("0::/\n", 5, p, sizeof(p)), 0);
        assert_string_equal(p, "/");
        assert_int_equal(reap_parse_cgroup("4:memory:/a\n", 12, p, sizeof(p)), -ENOENT);
        assert_int_equal(reap_parse_cgroup("0::\n", 4, p, sizeof(p)), -EINVAL);
        assert_int_equal(reap_parse_cgroup("0::/abc", 7, p, 3), -ENAMETOOLONG);
}

static void test_parse_mountinfo(void **state)
{
        char d[256];
        const char mi[] =
                "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
                "30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - tmpfs tmpfs rw\n"
                "40 30 0:37 / /sys/fs/cgroup/uni\\040fied rw,relatime - cgroup2 cgroup2 rw\n";
        const char sub[] = "50 22 0:37 /system.slice /mnt/cg rw master:2 - cgroup2 cgroup2 rw\n";

        (void)state;
        assert_int_equal(reap_parse_mountinfo(mi, strlen(mi), "/", d, sizeof(d)), 0);
        assert_string_equal(d, "/sys/fs/cgroup/uni fied");
        assert_int_equal(reap_parse_mountinfo(mi, strlen(mi), "/a/b", d, sizeof(d)), 0);
        assert_string_equal(d, "/sys/fs/cgroup/uni fied/a/b");
        /* A mount of a subtree holds only what is below its root. */
        assert_int_equal(reap_parse_mountinfo(sub, strlen(sub), "/system.slice/x.service", d, sizeof(d)), 0);
        assert_string_equal(d, "/mnt/cg/x.service");
        assert_int_equal(reap_parse_mountinfo(sub, strlen(sub), "/system.slicey", d, sizeof(d)), -ENOENT);
        assert_int_equal(reap_parse_mountinfo(sub, strlen(sub), "/user.slice", d, sizeof(d)), -ENOENT);
        assert_int_equal(reap_parse_mountinfo(mi, 60, "/", d, sizeof(d)), -ENOENT);
}

/* ---- groups: the run tests once per way of reaping ---- */

static int setup_cgroup(void **state)
{
        struct reap *r;
        char why[PATH_MAX + 160];

        (void)state;
        mode = REAP_CGROUP;
        if (reap_new(REAP_CGROUP, &r, why, sizeof(why)) < 0) {
                snprintf(skip_why, sizeof(skip_why), "no cgroup per hook run here: %s", why);
                return 0;
        }
        reap_free(r);
        return 0;
}

static int setup_process(void **state)
{
        (void)state;
        mode = REAP_PROCESS;
        skip_why[0] = '\0';
        return 0;
}

static int setup_auto(void **state)
{
        (void)state;
        mode = REAP_AUTO;
        skip_why[0] = '\0';
        return 0;
}

int main(void)
{
        /* What depends on how runs are reaped: once per way. */
        const struct CMUnitTest runs[] = {
                cmocka_unit_test(test_argv_stdin_env_output),
                cmocka_unit_test(test_no_descriptors_leak_into_hook),
                cmocka_unit_test(test_script_gets_only_itself),
                cmocka_unit_test(test_timeout_kills_the_group),
                cmocka_unit_test(test_background_child_ends_with_the_run),
                cmocka_unit_test(test_setsid_grandchild_ends_with_the_run),
                cmocka_unit_test(test_term_ignoring_hook_and_children_end),
                cmocka_unit_test(test_free_ends_running_hooks),
        };
        const struct CMUnitTest once[] = {
                cmocka_unit_test(test_output_is_bounded),
                cmocka_unit_test(test_cap_and_queue),
                cmocka_unit_test(test_queue_overflow_reports),
                cmocka_unit_test(test_missing_program),
                cmocka_unit_test(test_unsafe_at_run_time_is_refused),
                cmocka_unit_test(test_stale_cgroups_are_swept),
                cmocka_unit_test(test_trust_openat2),
                cmocka_unit_test(test_trust_nofollow_walk),
                cmocka_unit_test(test_parse_cgroup),
                cmocka_unit_test(test_parse_mountinfo),
        };
        int failed = 0;

        if (!realpath("/bin/sh", sh)) {
                perror("realpath /bin/sh");
                return 1;
        }
        srandom((unsigned)getpid());
        failed += cmocka_run_group_tests_name("hook (cgroup per run)", runs, setup_cgroup, NULL);
        failed += cmocka_run_group_tests_name("hook (reaper per run)", runs, setup_process, NULL);
        failed += cmocka_run_group_tests_name("hook: the rest", once, setup_auto, NULL);
        return failed;
}
