/* SPDX-License-Identifier: GPL-2.0-or-later */
/* reap: ends every process a hook run started, when the run ends — whatever it did to
 * escape (a background child, setsid(), a double fork) — and nothing else.
 *
 * Where the daemon can make cgroups (cgroup v2 with cgroup.kill, Linux 5.14 and later),
 * each run gets a cgroup of its own, and the hook is moved into it before it execs, so
 * everything it starts is born inside; at the end cgroup.kill ends them all and the
 * cgroup is removed once cgroup.events says it is empty. Under systemd the unit must
 * delegate its cgroup (Delegate=yes): the daemon then moves itself into a leaf,
 * "leakwatchd", and makes the runs' cgroups beside it, as cgroup v2 wants processes
 * only in leaves. Outside systemd the runs' cgroups go in "leakwatchd-PID" under the
 * daemon's own cgroup.
 *
 * Elsewhere each run gets a reaper: a process forked from the daemon that is a child
 * subreaper (PR_SET_CHILD_SUBREAPER) for that hook alone, so every orphan of the run,
 * and nothing else the daemon started, becomes its child. When the hook exits (or is
 * killed at its timeout) the reaper kills what is left, generation by generation,
 * reports the hook's wait status on a pipe, and exits. The daemon itself never adopts
 * an orphan, so its own child handling (sd-event) sees only processes it started. */
#ifndef LEAKWATCH_REAP_H
#define LEAKWATCH_REAP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum reap_mode {
        REAP_AUTO,              /* a cgroup per run if one can be made, else a reaper */
        REAP_CGROUP,
        REAP_PROCESS,
};

struct reap;

/* One run. */
struct reap_run {
        pid_t pid;              /* what the daemon waits for: the hook (cgroup) or its reaper */
        int cgroup_fd;          /* the run's cgroup directory, or -1 */
        int events_fd;          /* its cgroup.events (poll for EPOLLPRI), or -1 */
        int status_fd;          /* from the reaper: the hook's wait status, or -1 */
        char name[32];          /* the cgroup's name in the daemon's hook cgroup */
};

/* Sets up the mechanism. REAP_AUTO always succeeds (a reaper where no cgroup can be
 * made, the reason in reap_describe()); REAP_CGROUP fails with -errno and why when no
 * cgroup can be made. Cgroups left by an earlier daemon that died (its PID gone) are
 * emptied and removed. */
int reap_new(enum reap_mode mode, struct reap **ret, char *why, size_t whysz);
/* Removes the daemon's hook cgroup (runs must be over). Accepts NULL. */
void reap_free(struct reap *r);
enum reap_mode reap_mode(const struct reap *r);
/* For the log: which mechanism, and where the cgroups are or why there are none. */
const char *reap_describe(const struct reap *r);
/* After a run could not be given a cgroup and the mechanism fell back to reapers for
 * good: why, once (then NULL). */
const char *reap_take_fallback(struct reap *r);

/* Starts a run, like fork(): returns 0 in the process that is to exec the hook (its
 * signals still blocked as the daemon's were; already in its cgroup, or a child of its
 * reaper), and in the daemon the PID it must wait for (also in run->pid); or -errno. */
int reap_spawn(struct reap *r, struct reap_run *run);
/* Sends sig to the hook's process group (the hook calls setsid() first thing). Only
 * while the process in run->pid has not been waited for. */
int reap_run_signal(struct reap_run *run, int sig);
/* Kills every process of the run now: cgroup.kill, or SIGKILL through the reaper. */
int reap_run_kill(struct reap_run *run);
/* Cgroup mode: 1 while processes remain in the run's cgroup, 0 once it is empty, or
 * -errno. Process mode: 0 (the reaper exits only once it has reaped everything). */
int reap_run_populated(struct reap_run *run);
/* Process mode, after the reaper exited: the hook's wait status. Returns 0, or
 * -ENODATA when the reaper died without saying. */
int reap_run_status(struct reap_run *run, int *ret_status);
/* Closes the run's descriptors and removes its cgroup (with any the hook made inside
 * it). Returns 0, or -EBUSY when processes remain (the cgroup is left behind). */
int reap_run_done(struct reap *r, struct reap_run *run);
/* A run's descriptors, empty. */
void reap_run_init(struct reap_run *run);

/* ---- parsers, exposed for tests ---- */

/* The cgroup v2 path ("0::PATH") in the text of /proc/PID/cgroup. Returns 0, -ENOENT
 * (no v2 line), -EINVAL, or -ENAMETOOLONG. */
int reap_parse_cgroup(const char *buf, size_t len, char *ret_path, size_t sz);
/* Where the cgroup at path (as /proc/self/cgroup says it) is in the file system: the
 * mount point of a cgroup2 mount in the text of /proc/self/mountinfo whose root holds
 * path, joined with the rest of path. Mount points are unescaped (\040 is a blank).
 * Returns 0, -ENOENT (no such mount), -EINVAL, or -ENAMETOOLONG. */
int reap_parse_mountinfo(const char *buf, size_t len, const char *path, char *ret_dir, size_t sz);

#endif
