/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hook: runs alert hooks — programs opened through trusted directories only (trust.h)
 * and executed from that descriptor with an argv (never a shell), context in the
 * environment and one JSON document on stdin, output captured with a bound, a timeout
 * that ends in SIGTERM and then SIGKILL, every process a run started ended with the run
 * (reap.h), and at most N running at once. Everything happens inside the daemon's event
 * loop, so a slow or hung hook never delays sampling. */
#ifndef LEAKWATCH_HOOK_H
#define LEAKWATCH_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "reap.h"
#include "trust.h"
#include "util.h"

/* Output kept per run (stdout and stderr together); the rest is read and dropped so a
 * chatty hook cannot block on a full pipe or fill the log. */
#define HOOK_OUTPUT_MAX (16 * 1024)
/* Runs waiting for a free slot; beyond this an alert storm drops hook runs (and says
 * so) rather than queue work without bound. */
#define HOOK_QUEUE_MAX 64
/* After SIGTERM, a hook gets this long to exit before SIGKILL; and after SIGKILL, what
 * a run left gets this long to die before its cgroup is given up as stuck. */
#define HOOK_KILL_GRACE_USEC (5 * USEC_PER_SEC)
/* At hooks_free(), how long the daemon waits for the runs it kills to be gone. */
#define HOOK_FREE_WAIT_USEC (2 * USEC_PER_SEC)
/* Room for a reason a hook is refused (it names a path). */
#define HOOK_WHY_MAX TRUST_WHY_MAX

struct hook_result {
        int64_t tag;                    /* the caller's id for this run */
        const char *program;
        int exit_code;                  /* -1 when killed by a signal or never started */
        int signal;                     /* the signal that ended it, or 0 */
        bool timed_out;
        const char *error;              /* why it did not run (refused, queue full), or NULL */
        const char *output;             /* captured stdout+stderr, not NUL-terminated */
        size_t output_len;
        bool output_cut;                /* more was written than HOOK_OUTPUT_MAX */
        usec_t duration;
};

struct hooks_opts {
        usec_t timeout;
        usec_t kill_grace;              /* 0: HOOK_KILL_GRACE_USEC */
        unsigned max_running;
        uid_t owner;                    /* besides root, who may own a hook program */
        enum reap_mode reap;            /* how a run's processes are ended: AUTO picks */
        void (*started)(void *userdata, int64_t tag, const char *program, pid_t pid);
        void (*done)(void *userdata, const struct hook_result *res);
        void *userdata;
};

struct hooks;

/* Returns 0, or -errno with why (only when opts->reap asks for a mechanism that
 * cannot be had here). */
int hooks_new(sd_event *event, const struct hooks_opts *opts, struct hooks **ret, char *why, size_t whysz);
/* Kills every running hook with everything it started, waits up to
 * HOOK_FREE_WAIT_USEC for them to be gone, and frees the rest. Accepts NULL. */
void hooks_free(struct hooks *h);
/* Which mechanism ends a run's processes, in words for the log. */
const char *hooks_reap_describe(const struct hooks *h);
enum reap_mode hooks_reap_mode(const struct hooks *h);
void hooks_set_limits(struct hooks *h, usec_t timeout, unsigned max_running);

/* Runs argv (argv[0] an absolute path) with envp and stdin_data, now or when a slot
 * frees up. Everything is copied. Returns 0, or -EAGAIN when the queue is full (done()
 * is called with the error as well, so every submission gets exactly one result). */
int hooks_submit(struct hooks *h, int64_t tag, const char *const argv[], const char *const envp[], const char *stdin_data,
                 size_t stdin_len);

/* Whether path may be run as a hook: a regular, executable file reached through
 * directories only root or owner can change, without a symbolic link on the way
 * (trust_open_program(); a hook runs with the daemon's privileges). The same check is
 * made again at each run, on the descriptor then executed; a run that fails it ends
 * with exit code 126 and the reason as its output. Returns 0, or -errno with a reason
 * naming the component at fault in why (HOOK_WHY_MAX). */
int hook_check_program(const char *path, uid_t owner, char *why, size_t whysz);

unsigned hooks_running(const struct hooks *h);
unsigned hooks_queued(const struct hooks *h);

#endif
