/* Tests for hook: real children under a real sd-event loop — argv without a shell,
 * stdin and environment, bounded output, the timeout's SIGTERM then SIGKILL to the whole
 * process group, the concurrency cap and its queue, and refusal of unsafe programs. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hook.h"

#define MAX_RESULTS 80

struct results {
        struct hook_result r[MAX_RESULTS];
        char out[MAX_RESULTS][256];
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
                .owner = getuid(),
                .started = on_started,
                .done = on_done,
                .userdata = res,
        };
        sigset_t ss;

        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        assert_int_equal(sd_event_new(&res->event), 0);
        assert_int_equal(hooks_new(res->event, &o, &res->h), 0);
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

static void test_argv_stdin_env_output(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 2);
        /* The arguments arrive as given: a semicolon or $(...) is just text. */
        const char *const argv[] = { "/bin/sh", "-c", "printf '%s|%s|' \"$1\" \"$LEAKWATCH_NAME\"; cat; exit 3",
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
        /* Count the hook's open descriptors: only 0, 1 and 2 (ls itself opens one). */
        const char *const argv[] = { "/bin/sh", "-c", "ls /proc/self/fd | wc -l", NULL };
        int fd = open("/dev/null", O_RDONLY); /* a daemon descriptor, without CLOEXEC */

        (void)state;
        assert_true(fd >= 0);
        assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        run_loop(res, 1);
        /* sh's 0,1,2 plus ls's own directory descriptor and the pipe's... at most 5. */
        assert_true(atoi(res->out[0]) <= 5);
        close(fd);
        run_teardown(res);
}

static void test_timeout_kills_the_group(void **state)
{
        struct results *res = run_setup(300 * USEC_PER_MSEC, 1);
        /* The hook ignores SIGTERM and leaves a child behind: both must die. */
        const char *const argv[] = { "/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo started; while :; do sleep 1; done",
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
        const char *const argv[] = { "/bin/sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x", NULL };
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
        const char *const argv[] = { "/bin/sh", "-c", "sleep 0.2", NULL };

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
        const char *const argv[] = { "/bin/sh", "-c", "sleep 0.1", NULL };
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

static void test_refuses_unsafe_programs(void **state)
{
        char dir[] = "/tmp/leakwatch-test-hook-XXXXXX", path[128], why[256];
        struct results *res;
        int fd;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/hook", dir);
        fd = open(path, O_WRONLY | O_CREAT, 0755);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "#!/bin/sh\necho ran\n", 19), 19);
        close(fd);
        assert_int_equal(chmod(path, 0755), 0);
        assert_int_equal(hook_check_program(path, getuid(), why, sizeof(why)), 0);
        assert_int_equal(chmod(path, 0757), 0);
        assert_int_equal(hook_check_program(path, getuid(), why, sizeof(why)), -EPERM);
        assert_non_null(strstr(why, "writable by group or others"));
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(hook_check_program(path, getuid(), why, sizeof(why)), -EACCES);
        assert_int_equal(hook_check_program("relative/hook", getuid(), why, sizeof(why)), -EINVAL);
        assert_int_equal(hook_check_program("/nonexistent/hook", getuid(), why, sizeof(why)), -ENOENT);
        assert_int_equal(hook_check_program(dir, getuid(), why, sizeof(why)), -EINVAL);

        /* Made unsafe after the configuration was checked: refused at run time too. */
        assert_int_equal(chmod(path, 0777), 0);
        res = run_setup(10 * USEC_PER_SEC, 1);
        {
                const char *const argv[] = { path, NULL };
                assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        }
        run_loop(res, 1);
        assert_int_equal(res->r[0].exit_code, 126);
        assert_non_null(strstr(res->out[0], "refused"));
        assert_null(strstr(res->out[0], "ran"));
        run_teardown(res);
        unlink(path);
        rmdir(dir);
}

static void test_missing_program(void **state)
{
        struct results *res = run_setup(10 * USEC_PER_SEC, 1);
        const char *const argv[] = { "/nonexistent/leakwatch-hook", NULL };

        (void)state;
        assert_int_equal(hooks_submit(res->h, 1, argv, no_env, NULL, 0), 0);
        run_loop(res, 1);
        assert_int_equal(res->r[0].exit_code, 127);
        assert_non_null(strstr(res->out[0], "No such file"));
        run_teardown(res);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_argv_stdin_env_output),
                cmocka_unit_test(test_no_descriptors_leak_into_hook),
                cmocka_unit_test(test_timeout_kills_the_group),
                cmocka_unit_test(test_output_is_bounded),
                cmocka_unit_test(test_cap_and_queue),
                cmocka_unit_test(test_queue_overflow_reports),
                cmocka_unit_test(test_refuses_unsafe_programs),
                cmocka_unit_test(test_missing_program),
        };

        return cmocka_run_group_tests_name("hook", tests, NULL, NULL);
}
