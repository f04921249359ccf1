/* SPDX-License-Identifier: GPL-2.0-or-later */
/* notify: what leakwatchd tells its service manager over sd_notify(3) — ready, status,
 * reloading, stopping, failed — and nothing at all when $NOTIFY_SOCKET is unset.
 *
 * The protocol, as systemd 252 reads it for a Type=notify service:
 *
 *   READY=1                      startup or a reload is complete
 *   STATUS=text                  one line shown by `systemctl status`
 *   RELOADING=1                  a reload begins; READY=1 must follow, also when the
 *     MONOTONIC_USEC=N           reload fails (the old configuration keeps running).
 *                                N is CLOCK_MONOTONIC when it began: 252 ignores it,
 *                                Type=notify-reload (253 and later) requires it
 *   STOPPING=1                   shutdown begins
 *   ERRNO=N                      why startup failed
 *
 * WATCHDOG=1 is not sent from here: sd-event pings from its own loop
 * (sd_event_set_watchdog), so a loop that stops turning stops the pings.
 *
 * Every call returns what sd_notify() returns: > 0 sent, 0 when there is no service
 * manager to tell, -errno when sending failed. Nothing here is worth failing over;
 * callers ignore the result. */
#ifndef LEAKWATCH_NOTIFY_H
#define LEAKWATCH_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The longest STATUS= text sent: one line in `systemctl status`, which has no use for
 * more than a terminal's width or two. */
#define NOTIFY_STATUS_MAX 256

/* What the daemon is doing, as one status line. */
struct notify_status {
        unsigned processes;             /* watched now */
        size_t rules;                   /* rules (targets) configured */
        int64_t alerts;                 /* alerts open now; < 0: nothing counts them, and
                                         * the line leaves them out */
        usec_t last_tick;               /* how long the last tick took; 0: none yet */
        bool db_failing;                /* writes fail; samples wait in the backlog */
        bool reload_failed;             /* the last reload was refused */
};

/* Formats the status line, e.g. "Watching 12 processes (3 rules); 1 alert; last tick
 * took 4ms", into buf (at most bufsz - 1 bytes, NUL-terminated, cut if it must be).
 * Returns buf. */
const char *notify_status_format(const struct notify_status *st, char *buf, size_t bufsz);

/* STATUS= with the line above. */
int notify_status(const struct notify_status *st);

/* READY=1: startup (the first pass is stored) or a reload (done or refused) is over. */
int notify_ready(void);

/* RELOADING=1 with MONOTONIC_USEC=now_mono (CLOCK_MONOTONIC, microseconds). */
int notify_reloading(usec_t now_mono);

/* STOPPING=1. */
int notify_stopping(void);

/* Startup failed: STATUS="Failed to start: <what>: <strerror(-err)>" and ERRNO=-err.
 * what may be NULL. err is a negative errno. */
int notify_failed(const char *what, int err);

#endif
