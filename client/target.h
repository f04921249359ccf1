/* SPDX-License-Identifier: GPL-2.0-or-later */
/* target: what a command is about — one process or one rule — from what was typed:
 *
 *   1234          the process with that PID: a running one if there is one, else the
 *                 latest (--boot ID limits the search to one boot; --all makes several
 *                 matches ambiguous instead)
 *   NAME          the process of that name (its comm); name:NAME for a numeric name
 *   unit:NAME     the process of that systemd unit
 *   rule:NAME     the rule: the sum over its processes
 *   id:N          the database row of a process, as the lists print it
 *
 * A name or unit picks the running process that is not a watched child; when several
 * remain (or none runs and several ended), it is ambiguous: the candidates are listed
 * on stderr and the exit code says so. */
#ifndef LEAKWATCH_TARGET_H
#define LEAKWATCH_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "query.h"

enum target_kind { TARGET_PROCESS, TARGET_RULE };

struct target {
        enum target_kind kind;
        struct query_process proc;      /* TARGET_PROCESS */
        struct query_rule rule;         /* TARGET_RULE */
        size_t same_pid;                /* a PID: how many other processes had it */
};

/* Resolves arg; on failure prints why (not found, ambiguous with the candidates) and
 * returns the exit code. Returns EXIT_OK and fills *ret otherwise. */
int target_resolve(struct cli *c, const char *arg, struct target *ret);
void target_clear(struct target *t);

/* The range a command shows by default: the last day of the target's data (up to its
 * newest sample, which is now while the daemon runs), not before it was first seen;
 * --since and --until replace either end. */
int target_default_range(struct cli *c, const struct target *t, int64_t *ret_from, int64_t *ret_to);

/* The target's series over [from_ms, to_ms), as query_series()/query_rule_series(). */
int target_series(struct cli *c, const struct target *t, int64_t from_ms, int64_t to_ms, query_row_cb cb,
                  void *userdata);

/* "name (pid 1234, id:17)" or "rule web", escaped, into buf. */
const char *target_title(const struct target *t, char *buf, size_t bufsz);

#endif
