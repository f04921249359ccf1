/* SPDX-License-Identifier: GPL-2.0-or-later */
/* trace: the files that ask a watched process's agents for its allocation sites.
 *
 * The watch asks for the sites of process PID by creating the empty file
 * RUNDIR/trace/PID (RUNDIR: the directory of the agent socket), and stops asking by
 * removing it; an agent looks for its file once per report interval (docs/agents.md,
 * "Allocation sites"). This module owns the directory and the files in it: it makes
 * the directory (mode 0755, owned by the watch's user), removes files an earlier run
 * left, keeps the files exactly to the set of pids it is given, and removes them (and
 * the directory) when freed. Agents only read the directory. */
#ifndef LEAKWATCH_TRACE_H
#define LEAKWATCH_TRACE_H

#include <stddef.h>
#include <sys/types.h>

/* The directory's name under RUNDIR. */
#define TRACE_DIR_NAME "trace"

struct trace;

/* Makes (or takes over) runtime_dir/trace, removing the request files an earlier run
 * left. Returns 0, or -errno (-ENOTDIR: trace is not a directory; -EPERM: it belongs to
 * another user). */
int trace_new(const char *runtime_dir, struct trace **ret);
/* Removes every file it made, and the directory if it is then empty. Accepts NULL. */
void trace_free(struct trace *t);

/* Makes the request files exactly those of the pids want[0..n) (any order, repeats
 * allowed; want is sorted in place). Returns 0, or the first -errno met (the other
 * files are still made or removed). */
int trace_sync(struct trace *t, pid_t *want, size_t n);

/* The pids asked for now, sorted (valid until the next call). */
const pid_t *trace_pids(const struct trace *t, size_t *ret_n);

#endif
