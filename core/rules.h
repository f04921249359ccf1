/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rules: whether a process is one a rule watches. A pure function over what was read
 * from /proc; everything in struct proc_desc but the pid and uid was chosen by the
 * process itself (name, command line) or by whoever started it (cgroup, unit), so each
 * is only ever compared, as a NUL-terminated string, never interpreted. */
#ifndef LEAKWATCH_RULES_H
#define LEAKWATCH_RULES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "settings.h"

/* What a rule is matched against: the process as read from /proc. */
struct proc_desc {
        pid_t pid;
        uid_t uid;                      /* effective */
        const char *comm;               /* name from stat */
        const char *cmdline;            /* joined with spaces; "" for kernel threads */
        const char *cgroup;             /* "" if unknown */
        const char *unit;               /* "" if none */
        uint64_t rss;                   /* bytes */
        bool kthread;
};

/* True if every selector of the rule matches d. `all` and the name/cmdline/user/unit/
 * cgroup selectors never match kernel threads; a listed pid does. min_rss is applied
 * here too, so a small process is not watched until it grows past it. A process with
 * no unit ("") never matches a unit glob, nor one with an unknown cgroup ("") a cgroup
 * prefix, which matches whole path components only (/a/b matches /a/b and /a/b/c, not
 * /a/bc). NULL strings in d read as "". Pure. */
bool rule_matches(const struct rule_cfg *r, const struct proc_desc *d);

#endif
