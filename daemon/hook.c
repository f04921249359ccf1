/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hook: runs alert hooks — programs opened through trusted directories only and
 * executed from that descriptor with an argv (never a shell), context in the
 * environment and one JSON document on stdin, output captured with a bound, a timeout
 * that ends in SIGTERM and then SIGKILL, every process a run started ended with it,
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

#include "log.h"
#include "trust.h"

/* Timer slack for hook timeouts: they are seconds long, a little lateness is harmless. */
#define HOOK_TIMER_ACCURACY_USEC (100 * USEC_PER_MSEC)

struct hook_job {
        struct hooks *h;
        struct hook_job *prev, *next;   /* the running list, or the queue (next only) */
        int64_t tag;
        char **argv, **envp;
        char *input;
        size_t input_len;
        struct reap_run run;            /* run.pid: the hook, or its reaper */
        int out_fd;
        sd_event_source *child_src, *io_src, *timer_src, *events_src;
        char *output;
        size_t output_len;
        bool output_cut, timed_out, killed;
        bool exited;                    /* the hook is gone; waiting for what it left */
        int exit_code, signal;          /* how the hook ended, once exited */
        usec_t started;
};

struct hooks {
        sd_event *event;
        struct hooks_opts o;
        struct reap *reap;
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
        sd_event_source_disable_unref(j->events_src);
        if (j->h)
                (void)reap_run_done(j->h->reap, &j->run);
        safe_close(j->out_fd);
        strv_free(j->argv);
        strv_free(j->envp);
        free(j->input);
        free(j->output);
        free(j);
}

int hooks_new(sd_event *event, const struct hooks_opts *opts, struct hooks **ret, char *why, size_t whysz)
{
        struct hooks *h = calloc(1, sizeof(*h));
        int r;

        if (!h)
                return -ENOMEM;
        r = reap_new(opts->reap, &h->reap, why, whysz);
        if (r < 0) {
                free(h);
                return r;
        }
        h->event = sd_event_ref(event);
        h->o = *opts;
        if (h->o.max_running == 0)
                h->o.max_running = 1;
        if (h->o.kill_grace == 0)
                h->o.kill_grace = HOOK_KILL_GRACE_USEC;
        *ret = h;
        return 0;
}

const char *hooks_reap_describe(const struct hooks *h) { return reap_describe(h->reap); }
enum reap_mode hooks_reap_mode(const struct hooks *h) { return reap_mode(h->reap); }

void hooks_free(struct hooks *h)
{
        struct hook_job *j, *next;
        usec_t deadline;

        if (!h)
                return;
        /* The daemon is going away: end every run and what it started, rather than
         * leave them unattended. */
        for (j = h->running; j; j = j->next) {
                j->child_src = sd_event_source_disable_unref(j->child_src);
                if (!j->exited)
                        (void)reap_run_kill(&j->run);
        }
        deadline = now_usec(CLOCK_MONOTONIC) + HOOK_FREE_WAIT_USEC;
        for (j = h->running; j; j = next) {
                next = j->next;
                while (j->run.pid > 0) {
                        bool waited = j->exited || waitpid(j->run.pid, NULL, WNOHANG) != 0;

                        if ((waited && reap_run_populated(&j->run) <= 0) || now_usec(CLOCK_MONOTONIC) > deadline)
                                break;
                        usleep(10 * 1000);
                }
                job_free(j);
        }
        for (j = h->queue_head; j; j = next) {
                next = j->next;
                job_free(j);
        }
        reap_free(h->reap);
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

int hook_check_program(const char *path, uid_t owner, char *why, size_t whysz)
{
        int fd = trust_open_program(path, owner, NULL, why, whysz);

        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
_Noreturn static void child_exec(struct hook_job *j, int in_fd, int out_fd, int exec_fd, bool script)
{
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;
        int in, out, x;

        /* The daemon blocks the signals its event loop reads through signalfd; a hook
         * starts with none blocked and every disposition at its default (exec resets
         * handlers, but not signals set to be ignored). */
        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Its own session and process group, so that SIGTERM at the timeout reaches it
         * and what it started with one kill(-pid). */
        setsid();
        /* Under systemd the daemon holds CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH as ambient
         * capabilities, which exec would pass on: a hook would read any file on the
         * host. It gets none (an old kernel without ambient capabilities has none to
         * clear, and the EINVAL is ignored). */
        (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        /* Above 2 first, so that no dup2() below overwrites a descriptor still needed
         * (a daemon started with 0-2 closed gets its pipes there). */
        in = fcntl(in_fd, F_DUPFD_CLOEXEC, 3);
        out = fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
        x = fcntl(exec_fd, F_DUPFD_CLOEXEC, 3);
        if (in < 0 || out < 0 || x < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
            dup2(out, STDERR_FILENO) < 0)
                _exit(127);
        /* The program's descriptor at 3. An ELF binary gets it closed by exec; for a
         * script the kernel passes /dev/fd/3 to the interpreter, which opens it after
         * exec, so it stays open (the hook's own file, read-only). */
        if (x != 3 ? dup3(x, 3, script ? 0 : O_CLOEXEC) < 0 : fcntl(3, F_SETFD, script ? 0 : FD_CLOEXEC) < 0)
                _exit(127);
        /* Nothing else of the daemon's (the database, /proc descriptors) reaches the hook. */
        close_range(4, ~0U, 0);
        /* What was checked is what runs: the descriptor, not the path again. */
        fexecve(3, j->argv, j->envp);
        dprintf(STDERR_FILENO, "leakwatchd: hook %s: %s\n", j->argv[0], strerror(errno));
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

/* The hook and everything it started are gone: the run is over. */
static void complete(struct hook_job *j, const char *error)
{
        /* What background children wrote before they died belongs to the run too. */
        drain(j);
        if (reap_run_done(j->h->reap, &j->run) == -EBUSY)
                log_warning("hook %s: processes it started did not die; their cgroup is left behind", j->argv[0]);
        finish(j, j->exit_code, j->signal, error);
}

static int on_events(sd_event_source *s UNUSED, int fd UNUSED, uint32_t revents UNUSED, void *userdata)
{
        struct hook_job *j = userdata;

        if (reap_run_populated(&j->run) <= 0)
                complete(j, NULL);
        return 0;
}

static int on_child(sd_event_source *s UNUSED, const siginfo_t *si, void *userdata)
{
        struct hook_job *j = userdata;
        int status, r;

        /* What is already in the pipe belongs to this run; a background child the hook
         * left holding the pipe must not keep the run open. */
        drain(j);
        j->exited = true;
        j->child_src = sd_event_source_disable_unref(j->child_src);
        if (j->run.status_fd >= 0) {
                /* Its reaper exited: it has ended and reaped everything the hook left,
                 * and says how the hook itself ended. */
                if (reap_run_status(&j->run, &status) < 0) {
                        j->exit_code = -1;
                        j->signal = si->si_code == CLD_EXITED ? 0 : si->si_status;
                        complete(j, "its reaper process died");
                        return 0;
                }
                j->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                j->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
                complete(j, NULL);
                return 0;
        }
        j->exit_code = si->si_code == CLD_EXITED ? si->si_status : -1;
        j->signal = si->si_code == CLD_EXITED ? 0 : si->si_status;
        /* The hook is gone; what it left in its cgroup goes now, setsid() or not. */
        (void)reap_run_kill(&j->run);
        if (reap_run_populated(&j->run) <= 0) {
                complete(j, NULL);
                return 0;
        }
        /* SIGKILL takes a moment to take effect; cgroup.events says when the cgroup is
         * empty. The timer bounds the wait for a process stuck in the kernel. */
        r = sd_event_add_io(j->h->event, &j->events_src, j->run.events_fd, EPOLLPRI, on_events, j);
        if (r >= 0)
                r = sd_event_source_set_time_relative(j->timer_src, j->h->o.kill_grace);
        if (r >= 0)
                r = sd_event_source_set_enabled(j->timer_src, SD_EVENT_ONESHOT);
        if (r < 0)
                complete(j, NULL);
        else if (reap_run_populated(&j->run) <= 0)
                /* Emptied between the check and the watch. */
                complete(j, NULL);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec UNUSED, void *userdata)
{
        struct hook_job *j = userdata;

        if (j->exited) {
                /* Its processes did not die within the grace after SIGKILL. */
                complete(j, NULL);
        } else if (!j->timed_out) {
                j->timed_out = true;
                (void)reap_run_signal(&j->run, SIGTERM);
                (void)sd_event_source_set_time_relative(s, j->h->o.kill_grace);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        } else if (!j->killed) {
                j->killed = true;
                (void)reap_run_kill(&j->run);
        }
        return 0;
}

/* A run refused before it started: reported like a program that cannot be executed
 * (126), with the reason as its output, so it is logged and stored with the run. */
static void refuse(struct hook_job *j, const char *why)
{
        int n = snprintf(j->output, HOOK_OUTPUT_MAX, "leakwatchd: hook %s refused: %s\n", j->argv[0], why);

        j->output_len = n < 0 ? 0 : MIN((size_t)n, HOOK_OUTPUT_MAX - 1);
        finish(j, 126, 0, NULL);
}

/* Returns 0 with the run started, 1 if it was refused (and finished), or -errno. */
static int spawn(struct hook_job *j)
{
        struct hooks *h = j->h;
        int in[2] = { -1, -1 }, out[2] = { -1, -1 };
        char why[TRUST_WHY_MAX];
        const char *fallback;
        bool script = false;
        int exec_fd, r;
        pid_t pid;

        j->output = malloc(HOOK_OUTPUT_MAX);
        if (!j->output)
                return -ENOMEM;
        /* Checked again at every run, on the descriptor that is then executed: a
         * directory or file made unsafe since the configuration was loaded is refused. */
        exec_fd = trust_open_program(j->argv[0], h->o.owner, &script, why, sizeof(why));
        if (exec_fd < 0) {
                refuse(j, why);
                return 1;
        }
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        j->started = now_usec(CLOCK_MONOTONIC);
        pid = reap_spawn(h->reap, &j->run);
        if (pid < 0) {
                r = pid;
                goto fail;
        }
        if (pid == 0)
                child_exec(j, in[0], out[1], exec_fd, script);
        fallback = reap_take_fallback(h->reap);
        if (fallback)
                log_warning("hooks: %s", fallback);
        exec_fd = safe_close(exec_fd);
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
                r = sd_event_add_child(h->event, &j->child_src, j->run.pid, WEXITED, on_child, j);
        if (r >= 0)
                r = sd_event_add_time_relative(h->event, &j->timer_src, CLOCK_MONOTONIC, h->o.timeout,
                                               HOOK_TIMER_ACCURACY_USEC, on_timeout, j);
        if (r < 0) {
                /* Cannot supervise it: do not let it run unsupervised. */
                (void)reap_run_kill(&j->run);
                (void)waitpid(j->run.pid, NULL, 0);
                j->run.pid = 0;
                return r;
        }
        if (h->o.started)
                h->o.started(h->o.userdata, j->tag, j->argv[0], j->run.pid);
        return 0;
fail:
        safe_close(exec_fd);
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
                (void)reap_run_done(h->reap, &j->run);
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
        reap_run_init(&j->run);
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
