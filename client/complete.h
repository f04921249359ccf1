/* SPDX-License-Identifier: GPL-2.0-or-later */
/* complete: the words shell completion offers that only the database knows — the
 * PIDs and names of watched processes, the rules, the open alerts — printed one a line
 * by the hidden "leakwatch __complete" that the bash and zsh scripts (shell/) call.
 * Names are process-controlled: only those that are plain printable words are offered. */
#ifndef LEAKWATCH_COMPLETE_H
#define LEAKWATCH_COMPLETE_H

#include "cli.h"

/* what: "targets" (PIDs, names, rule:NAME of running processes), "pids" or "alerts"
 * (open alert IDs). Prints nothing and returns EXIT_OK when the database cannot be
 * read: a completion never prints an error into the command line. */
int complete_from_db(struct cli *c, const char *what);

#endif
