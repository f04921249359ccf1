/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log: one place where messages leave the program — the journal with structured
 * fields when stderr is connected to it, plain lines on stderr otherwise. */
#ifndef LEAKWATCH_LOG_H
#define LEAKWATCH_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

#include "util.h"

/* A structured field for the journal, e.g. { "LEAKWATCH_PID", "1234" }. Keys follow
 * journal rules (upper case, digits, underscore). On stderr the fields are appended
 * as " key=value" in lower case so a plain log keeps the context too. */
struct log_field {
        const char *key;
        const char *value;
};

/* Chooses the journal when $JOURNAL_STREAM names our stderr (systemd's documented
 * test) or when force_journal is set; stderr otherwise. ident prefixes stderr lines. */
void log_open(const char *ident, bool force_journal);
void log_set_max_level(int prio);
int log_get_max_level(void);
bool log_to_journal(void);

/* Logs at prio (LOG_ERR ... LOG_DEBUG). Text from outside (process names, command
 * lines, hook output) must be passed as a field or through %s: either way it is
 * escaped on stderr so it cannot forge lines. Returns nothing: logging never fails
 * the caller. */
void log_fields(int prio, const struct log_field *fields, size_t n, const char *fmt, ...) PRINTF(4, 5);
#define log_msg(prio, ...) log_fields((prio), NULL, 0, __VA_ARGS__)
#define log_error(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_DEBUG, __VA_ARGS__)

/* A rate limit for messages that could repeat every tick: at most burst messages per
 * interval; the first message after a quiet spell reports how many were suppressed. */
struct ratelimit {
        usec_t interval;        /* window length, CLOCK_MONOTONIC */
        unsigned burst;         /* messages allowed per window */
        usec_t begin;
        unsigned num;
        unsigned suppressed;
};
#define RATELIMIT_INIT(interval_usec, burst_n) { .interval = (interval_usec), .burst = (burst_n) }

/* Returns true if a message may be logged now; counts it. On the first allowed message
 * after suppression, *ret_suppressed (if not NULL) gets the number that were dropped. */
bool ratelimit_allow(struct ratelimit *rl, usec_t now, unsigned *ret_suppressed);

#endif
