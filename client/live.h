/* SPDX-License-Identifier: GPL-2.0-or-later */
/* live: what goes through leakwatchd's control socket rather than the database —
 * leakwatch watch, unwatch and reload, the daemon's live view for status, and the
 * words and exit codes for a daemon that is not there or will not talk to us. */
#ifndef LEAKWATCH_LIVE_H
#define LEAKWATCH_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "ctl.h"

int cmd_watch(struct cli *c, int argc, char **argv);
int cmd_unwatch(struct cli *c, int argc, char **argv);
/* Asks the daemon for a watched process's allocation sites for a while. */
int cmd_trace(struct cli *c, int argc, char **argv);
int cmd_reload(struct cli *c, int argc, char **argv);

enum live_state {
        LIVE_RUNNING,                   /* it answered the status request */
        LIVE_NOT_RUNNING,               /* no socket, or nobody listening on it */
        LIVE_DENIED,                    /* the socket's mode or the daemon's peer check */
        LIVE_NO_ANSWER,                 /* anything else: timeout, a broken reply */
};

/* The daemon's status reply, as status shows it. Numbers are -1 when the reply left
 * them out (an older or newer daemon). */
struct live_status {
        enum live_state state;
        char why[320];                  /* not running, denied, no answer: in words, escaped */
        int64_t pid, uptime_s, watched, known, open_alerts, alerts_total, last_tick_us;
        int64_t samples_written, samples_pending, samples_dropped, database_bytes;
        double interval_s, window_s;    /* NAN when left out */
        bool database_failing;
        char version[32];               /* escaped */
        char sampler[16];               /* "bpf", "proc"; "" from a daemon that does not say */
        char database[1024];            /* as the daemon names it (raw bytes) */
        struct ctl_reply reply;         /* the whole reply, while LIVE_RUNNING */
};

/* Asks the daemon under c->runtime_dir for its status. Never fails: what went wrong
 * is in ret->state and ret->why. */
void live_status_get(const struct cli *c, struct live_status *ret);
void live_status_clear(struct live_status *s);

/* Takes the database a running daemon named in its status reply as c's database,
 * when none was given: an absolute path, at most sizeof(c->db_buf) - 1 bytes. Returns
 * whether it did. */
bool live_take_database(struct cli *c, const struct live_status *s);

/* Prints why a request could not be made or was refused (r from ctl_call(), reply when
 * r is 0) and returns the exit code: EXIT_DAEMON when the daemon is not running or
 * denied access, EXIT_NOTFOUND when it said ENOENT, EXIT_FAIL otherwise. what names
 * the request ("watch 1234"). */
int live_error(const struct cli *c, int r, const struct ctl_reply *reply, const char *what);

/* Writes why the daemon could not be asked (r from ctl_call(), not 0) into buf:
 * "leakwatchd is not running (no socket /run/leakwatch/control)" and the like. */
const char *live_describe(const struct cli *c, int r, char *buf, size_t bufsz);

#endif
