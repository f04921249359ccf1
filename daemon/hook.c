/* hook: runs alert hooks — programs executed directly with an argv (never a shell),
 * context in the environment and one JSON document on stdin, output captured with a
 * bound, a timeout that ends in SIGTERM and then SIGKILL to the hook's process group,
 * and at most N running at once. */
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Timer slack for hook timeouts: they are seconds long, a little lateness is harmless. */
#define HOOK_TIMER_ACCURACY_USEC (100 * USEC_PER_MSEC)

struct hook_job {
        struct hooks *h;
        struct hook_job *prev, *next;   /* the running list, or the queue (next only) */
        int64_t tag;
        char **argv, **envp;
        char *input;
        size_t input_len;
        pid_t pid;
        int out_fd;
        sd_event_source *child_src, *io_src, *timer_src;
        char *output;
        size_t output_len;
        bool output_cut, timed_out, killed;
        usec_t started;
};

struct hooks {
        sd_event *event;
        struct hooks_opts o;
        struct hook_job *running;
        struct hook_job *queue_head, *queue_tail;
        unsigned n_running, n_queued;
};

static void strv_free(char **v)
{
        if (!v)
                return;
        for (size_t i = 0; v[i]; i++)
                free(v[i]);
        free(v);
}

static char **strv_copy(const char *const v[])
{
        size_t n = 0;
        char **c;

        while (v && v[n])
                n++;
        c = calloc(n + 1, sizeof(*c));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(v[i]))) {
                        strv_free(c);
                        return NULL;
                }
        return c;
}

static void job_free(struct hook_job *j)
{
        if (!j)
                return;
        sd_event_source_disable_unref(j->child_src);
        sd_event_source_disable_unref(j->io_src);
        sd_event_source_disable_unref(j->timer_src);
        safe_close(j->out_fd);
        strv_free(j->argv);
        strv_free(j->envp);
        free(j->input);
        free(j->output);
        free(j);
}

int hooks_new(sd_event *event, const struct hooks_opts *opts, struct hooks **ret)
{
        struct hooks *h = calloc(1, sizeof(*h));

        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(event);
        h->o = *opts;
        if (h->o.max_running == 0)
                h->o.max_running = 1;
        *ret = h;
        return 0;
}

void hooks_free(struct hooks *h)
{
        struct hook_job *j, *next;

        if (!h)
                return;
        for (j = h->running; j; j = next) {
                next = j->next;
                /* The daemon is going away: do not leave hooks running unattended. */
                if (j->pid > 0)
                        (void)kill(-j->pid, SIGTERM);
                job_free(j);
        }
        for (j = h->queue_head; j; j = next) {
                next = j->next;
                job_free(j);
        }
        sd_event_unref(h->event);
        free(h);
}

void hooks_set_limits(struct hooks *h, usec_t timeout, unsigned max_running)
{
        h->o.timeout = timeout;
        h->o.max_running = max_running ? max_running : 1;
}

unsigned hooks_running(const struct hooks *h) { return h->n_running; }
unsigned hooks_queued(const struct hooks *h) { return h->n_queued; }

static int check_stat(const struct stat *st, uid_t owner, char *why, size_t whysz)
{
        if (!S_ISREG(st->st_mode)) {
                snprintf(why, whysz, "not a regular file");
                return -EINVAL;
        }
        if (!(st->st_mode & S_IXUSR)) {
                snprintf(why, whysz, "not executable");
                return -EACCES;
        }
        if (st->st_mode & (S_IWGRP | S_IWOTH)) {
                snprintf(why, whysz, "writable by group or others (mode %04o): anyone who can change it "
                         "runs code as leakwatchd", (unsigned)(st->st_mode & 07777));
                return -EPERM;
        }
        if (st->st_uid != 0 && st->st_uid != owner) {
                snprintf(why, whysz, "owned by uid %u, not by root or leakwatchd's user", (unsigned)st->st_uid);
                return -EPERM;
        }
        return 0;
}

int hook_check_program(const char *path, uid_t owner, char *why, size_t whysz)
{
        struct stat st;

        if (!path || path[0] != '/') {
                snprintf(why, whysz, "not an absolute path");
                return -EINVAL;
        }
        if (stat(path, &st) < 0) {
                int r = -errno;
                snprintf(why, whysz, "%s", strerror(errno));
                return r;
        }
        return check_stat(&st, owner, why, whysz);
}

/* In the child, between fork and exec: only async-signal-safe calls. */
_Noreturn static void child_exec(struct hook_job *j, int in_fd, int out_fd)
{
        char why[160];
        struct stat st;
        sigset_t none;
        int fd;

        /* The daemon blocks the signals its event loop reads through signalfd; a hook
         * starts with none blocked and default dispositions (exec resets handlers). */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Its own session and process group, so a timeout can end it and everything it
         * started with one kill(-pid). */
        setsid();
        /* Under systemd the daemon holds CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH as ambient
         * capabilities, which exec would pass on: a hook would read any file on the
         * host. It gets none (an old kernel without ambient capabilities has none to
         * clear, and the EINVAL is ignored). */
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)
                _exit(127);
        /* Nothing of the daemon's (the database, /proc descriptors) reaches the hook. */
        close_range(3, ~0U, 0);
        /* Open and check what is executed, not a path that could change in between;
         * without O_CLOEXEC, so fexecve() of a script can pass /dev/fd/N on. */
        fd = open(j->argv[0], O_RDONLY | O_NOCTTY);
        if (fd < 0) {
                dprintf(STDERR_FILENO, "leakwatchd: hook %s: %s\n", j->argv[0], strerror(errno));
                _exit(127);
        }
        if (fstat(fd, &st) < 0 || check_stat(&st, j->h->o.owner, why, sizeof(why)) < 0) {
                dprintf(STDERR_FILENO, "leakwatchd: hook %s refused: %s\n", j->argv[0], why);
                close(fd);
                _exit(126);
        }
        fexecve(fd, j->argv, j->envp);
        dprintf(STDERR_FILENO, "leakwatchd: hook %s: %s\n", j->argv[0], strerror(errno));
        close(fd);
        _exit(127);
}

static void start_next(struct hooks *h);

static void finish(struct hook_job *j, int exit_code, int sig, const char *error)
{
        struct hooks *h = j->h;
        struct hook_result res = {
                .tag = j->tag,
                .program = j->argv[0],
                .exit_code = exit_code,
                .signal = sig,
                .timed_out = j->timed_out,
                .error = error,
                .output = j->output,
                .output_len = j->output_len,
                .output_cut = j->output_cut,
                .duration = j->started ? now_usec(CLOCK_MONOTONIC) - j->started : 0,
        };

        /* A hook that had to be killed may have left children in its group. */
        if (j->timed_out && j->pid > 0)
                (void)kill(-j->pid, SIGKILL);
        if (j->prev)
                j->prev->next = j->next;
        else if (h->running == j)
                h->running = j->next;
        if (j->next)
                j->next->prev = j->prev;
        h->n_running--;
        if (h->o.done)
                h->o.done(h->o.userdata, &res);
        job_free(j);
        start_next(h);
}

static void drain(struct hook_job *j)
{
        char buf[4096];
        ssize_t n;

        if (j->out_fd < 0)
                return;
        while ((n = read(j->out_fd, buf, sizeof(buf))) > 0) {
                size_t keep = MIN((size_t)n, HOOK_OUTPUT_MAX - j->output_len);

                if (keep > 0) {
                        memcpy(j->output + j->output_len, buf, keep);
                        j->output_len += keep;
                }
                if (keep < (size_t)n)
                        j->output_cut = true;
        }
        if (n == 0) {
                /* EOF: every writer is gone. */
                j->io_src = sd_event_source_disable_unref(j->io_src);
                j->out_fd = safe_close(j->out_fd);
        }
}

static int on_output(sd_event_source *s UNUSED, int fd UNUSED, uint32_t revents UNUSED, void *userdata)
{
        drain(userdata);
        return 0;
}

static int on_child(sd_event_source *s UNUSED, const siginfo_t *si, void *userdata)
{
        struct hook_job *j = userdata;

        /* What is already in the pipe belongs to this run; a background child the hook
         * left holding the pipe must not keep the run open. */
        drain(j);
        if (si->si_code == CLD_EXITED)
                finish(j, si->si_status, 0, NULL);
        else
                finish(j, -1, si->si_status, NULL);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec UNUSED, void *userdata)
{
        struct hook_job *j = userdata;

        if (!j->timed_out) {
                j->timed_out = true;
                (void)kill(-j->pid, SIGTERM);
                (void)sd_event_source_set_time_relative(s, HOOK_KILL_GRACE_USEC);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else if (!j->killed) {
                j->killed = true;
                (void)kill(-j->pid, SIGKILL);
        }
        return 0;
}

static int spawn(struct hook_job *j)
{
        struct hooks *h = j->h;
        int in[2] = { -1, -1 }, out[2] = { -1, -1 };
        int r;

        j->output = malloc(HOOK_OUTPUT_MAX);
        if (!j->output)
                return -ENOMEM;
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        j->started = now_usec(CLOCK_MONOTONIC);
        j->pid = fork();
        if (j->pid < 0) {
                r = -errno;
                goto fail;
        }
        if (j->pid == 0)
                child_exec(j, in[0], out[1]);
        in[0] = safe_close(in[0]);
        out[1] = safe_close(out[1]);
        j->out_fd = out[0];
        out[0] = -1;
        /* The document is a few KiB and the pipe holds 64 KiB: one non-blocking write
         * either fits or the hook gets a cut document, never a stalled daemon. */
        (void)fcntl(in[1], F_SETFL, O_NONBLOCK);
        if (j->input_len > 0)
                (void)!write(in[1], j->input, j->input_len);
        in[1] = safe_close(in[1]);
        (void)fcntl(j->out_fd, F_SETFL, O_NONBLOCK);

        r = sd_event_add_io(h->event, &j->io_src, j->out_fd, EPOLLIN, on_output, j);
        if (r >= 0)
                r = sd_event_add_child(h->event, &j->child_src, j->pid, WEXITED, on_child, j);
        if (r >= 0)
                r = sd_event_add_time_relative(h->event, &j->timer_src, CLOCK_MONOTONIC, h->o.timeout,
                                               HOOK_TIMER_ACCURACY_USEC, on_timeout, j);
        if (r < 0) {
                /* Cannot supervise it: do not let it run unsupervised. */
                (void)kill(-j->pid, SIGKILL);
                (void)waitpid(j->pid, NULL, 0);
                j->pid = 0;
                return r;
        }
        if (h->o.started)
                h->o.started(h->o.userdata, j->tag, j->argv[0], j->pid);
        return 0;
fail:
        safe_close(in[0]);
        safe_close(in[1]);
        safe_close(out[0]);
        safe_close(out[1]);
        return r;
}

static void run_job(struct hooks *h, struct hook_job *j)
{
        char why[128];
        int r;

        j->next = h->running;
        j->prev = NULL;
        if (h->running)
                h->running->prev = j;
        h->running = j;
        h->n_running++;
        r = spawn(j);
        if (r < 0) {
                snprintf(why, sizeof(why), "cannot start: %s", strerror(-r));
                finish(j, -1, 0, why);
        }
}

static void start_next(struct hooks *h)
{
        while (h->queue_head && h->n_running < h->o.max_running) {
                struct hook_job *j = h->queue_head;

                h->queue_head = j->next;
                if (!h->queue_head)
                        h->queue_tail = NULL;
                h->n_queued--;
                run_job(h, j);
        }
}

int hooks_submit(struct hooks *h, int64_t tag, const char *const argv[], const char *const envp[], const char *stdin_data,
                 size_t stdin_len)
{
        struct hook_job *j = calloc(1, sizeof(*j));

        if (!j)
                return -ENOMEM;
        j->h = h;
        j->tag = tag;
        j->out_fd = -1;
        j->argv = strv_copy(argv);
        j->envp = strv_copy(envp);
        if (stdin_len) {
                j->input = malloc(stdin_len);
                if (j->input)
                        memcpy(j->input, stdin_data, stdin_len);
                j->input_len = stdin_len;
        }
        if (!j->argv || !j->argv[0] || !j->envp || (stdin_len && !j->input)) {
                job_free(j);
                return -ENOMEM;
        }
        if (h->n_running < h->o.max_running) {
                run_job(h, j);
                return 0;
        }
        if (h->n_queued >= HOOK_QUEUE_MAX) {
                struct hook_result res = {
                        .tag = tag, .program = j->argv[0], .exit_code = -1,
                        .error = "not run: too many hooks waiting",
                };

                if (h->o.done)
                        h->o.done(h->o.userdata, &res);
                job_free(j);
                return -EAGAIN;
        }
        if (h->queue_tail)
                h->queue_tail->next = j;
        else
                h->queue_head = j;
        h->queue_tail = j;
        h->n_queued++;
        return 0;
}
