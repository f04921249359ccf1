/* SPDX-License-Identifier: GPL-2.0-or-later */
/* agent: the socket in-process agents report to (agent.sock under the runtime
 * directory), and what a report may say.
 *
 * A report is one datagram of text (docs/agents.md has the format). The kernel tells
 * which process sent it (SCM_CREDENTIALS): a report is kept only for that process, and
 * only if the daemon watches it; nothing in the message can name another process. A
 * report is at most AGENT_MSG_MAX bytes, parsed strictly, and each process may send
 * one per agent-interval on average (a token bucket with a burst of AGENT_BURST);
 * everything else is dropped and counted. A report that passes goes to the caller's
 * report function (the watch records it and hands it to the engine's trail).
 *
 * The socket is open to every local user (mode 0666): any process may report about
 * itself, and about nothing else, so no report can change what the daemon says about
 * another user's process. */
#ifndef LEAKWATCH_AGENT_H
#define LEAKWATCH_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "proto.h"
#include "report.h"
#include "sampler.h"
#include "settings.h"

/* Reports a process may send at once after a quiet spell: a Python agent and a probe in
 * the same process, a few reports delayed together, are not flooding. */
#define AGENT_BURST 10

struct agent;

struct agent_env {
        sd_event *event;
        const char *runtime_dir;
        const struct sampler *sampler;  /* who is watched */
        /* A report that passed, about the watched process in the sampler's slot (with that
         * row id); its t_ms is set. */
        void (*report)(void *userdata, size_t slot, int64_t process_id, const struct agent_report *a);
        void *userdata;
        /* The daemon's clock: a row's time is anchor_real_ms + the monotonic time since
         * anchor_mono, as for samples, so agent rows line up with them. */
        int64_t anchor_real_ms;
        usec_t anchor_mono;
};

struct agent_stats {
        uint64_t received;              /* datagrams read */
        uint64_t stored;                /* reports queued for the database */
        uint64_t unwatched;             /* from processes the daemon does not watch */
        uint64_t rate_limited;          /* over the sender's rate */
        uint64_t invalid;               /* too long, malformed, or without credentials */
        uint64_t deferred;              /* times the socket was paused: too many reports */
};

/* Creates the socket (replacing a stale one) and listens in the event loop. Returns 0,
 * or -errno (the daemon runs on without agents). */
int agent_new(const struct agent_env *env, const struct config *cfg, struct agent **ret);
/* Stops listening and removes the socket. Accepts NULL. */
void agent_free(struct agent *a);
/* A reload: the rate (agent-interval) may change; the socket stays. Accepts NULL. */
void agent_reconfigure(struct agent *a, const struct config *cfg);
void agent_get_stats(const struct agent *a, struct agent_stats *ret);

/* Handles one datagram as if pid had sent it, at monotonic time now (the socket's path,
 * and the tests'). */
void agent_handle(struct agent *a, pid_t pid, const char *buf, size_t len, usec_t now);

/* Parses one report. Returns 0, or -EBADMSG with the reason (a static phrase) in
 * *ret_why. Pure. */
int agent_parse(const char *buf, size_t len, struct agent_report *ret, const char **ret_why);

/* Formats a report the way the agents do (for the tests and the benchmark). Returns the
 * length, or -E2BIG if it does not fit. Pure. */
int agent_format(const struct agent_report *a, char *buf, size_t sz);

#endif
