/* SPDX-License-Identifier: GPL-2.0-or-later */
/* procread: reading a watched process from /proc — the sampler's backend.
 *
 * The sampler decides who is watched and when (the scan, the rules, the ticks, the
 * rule sums, its listeners); the backend reads. It opens a process once, through
 * descriptors kept open across ticks (stat, status, the fd directory, the pid
 * directory), and proves on the descriptors themselves that they hold the process the
 * scan saw: a reused PID can never continue another process's series. Each tick it
 * preads stat and status, counts descriptors (after a refusal, again a minute later),
 * and now and then reads smaps_rollup and the heap record: every smaps-every-th tick, per
 * process between smaps-min-interval (the detector has its eye on it) and
 * smaps-max-interval (stable), and host-wide within smaps-budget of one core (budget.h),
 * measured in the CPU time the reads really took.
 *
 * Given a BPF pass (bpfread.h, procread_use_pass()), it reads the counters of stat,
 * status and the descriptor count from the pass instead, which the sampler reads once
 * at the start of each tick (procread_begin_tick()): a process then keeps no descriptor
 * at all (PROCREAD_PASS_FDS), the pass proving at each tick by the start time that its
 * record is the process watched. What is still read through /proc — smaps, the command
 * line (procread_dir()), a process the pass did not list and every process of a tick
 * whose pass failed — opens the pid directory when it is needed, proves the process's
 * identity by the start time read through it, and closes it again. */
#ifndef LEAKWATCH_PROCREAD_H
#define LEAKWATCH_PROCREAD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpfread.h"
#include "proc.h"
#include "sample.h"
#include "settings.h"
#include "util.h"

struct procread;

/* One watched process, as the backend keeps it. */
struct procread_proc {
        struct proc_files files;        /* with a pass: none open */
        pid_t pid;
        uint64_t start_ticks;           /* its start time, which every directory opened
                                         * later must show */
        usec_t last_rollup;             /* last smaps_rollup read (monotonic) */
        bool rollup_read;               /* read at least once while watched */
        usec_t next_fds;                /* fd count not before this, after a refusal */
        uint8_t fds_why;                /* why the fd count is unknown meanwhile */
        bool has_nofile;                /* the latest sample came with nofile: the pass's */
        uint64_t nofile;                /* RLIMIT_NOFILE's soft limit then (UINT64_MAX:
                                         * unlimited), so that the descriptors' room needs
                                         * no read of /proc/PID/limits */
        char comm[PROC_COMM_MAX + 1];   /* its name in the latest stat: a new one means exec;
                                         * "" if the backend does not read it */
};

struct procread_stats {
        uint64_t rollups, rollups_skipped;      /* smaps_rollup reads, and reads deferred */
        uint64_t rollups_over_budget;   /* of those deferred: due, but smaps-budget was spent */
        uint64_t read_errors;           /* unexpected /proc errors */
        uint64_t pass_errors;           /* BPF passes that failed: the tick read /proc */
};

/* Descriptors a watched process holds with a pass: none (and at most one while it is
 * read, then closed). */
#define PROCREAD_PASS_FDS 0

enum procread_result {
        PROCREAD_SAMPLED,               /* a sample of a running process */
        PROCREAD_LAST,                  /* its last sample: it exited (a zombie) */
        PROCREAD_GONE,                  /* nothing to record: it exited, or its PID is another's */
};

/* cpu_clock: the CPU time smaps reads are charged in; NULL: this thread's
 * (CLOCK_THREAD_CPUTIME_ID). For tests. Returns 0 or -ENOMEM. */
int procread_new(int proc_root, usec_t (*cpu_clock)(void), struct procread **ret);
void procread_free(struct procread *r);
/* Samples from the passes of b from now on (b outlives r; hz: clock ticks per second,
 * for start times). Processes opened before keep their descriptors. */
void procread_use_pass(struct procread *r, struct bpfread *b, long hz);
/* Reads the pass of the tick at mono, if there is one to read and it was not read at
 * mono already (the scan reads it first, the tick then uses it). Returns 0 or the
 * pass's -errno (the tick's processes are then read through /proc). */
int procread_begin_tick(struct procread *r, usec_t mono);
/* The pass read at mono, or NULL: none, it failed, or it was read at another time. */
const struct bpfread *procread_pass(const struct procread *r, usec_t mono);
/* The smaps policy and budget of cfg (the budget's balance is kept across calls). */
void procread_configure(struct procread *r, const struct config *cfg);

/* Opens the process of that PID and start time (clock ticks since boot). Returns 0,
 * -ESRCH if the PID now holds another process (or none), or the -errno of opening.
 * With a pass nothing is opened (and 0 returned): the first procread_dir() checks. */
int procread_open(struct procread *r, pid_t pid, uint64_t start_ticks, usec_t mono, struct procread_proc *ret);
void procread_close(struct procread_proc *pp);
/* The pid directory of pp, for reads of its own (the command line, its cgroup): the
 * kept one, or, with a pass, one opened now whose start time was checked. Returns the
 * descriptor (give it back with procread_dir_done()), -ESRCH if the PID now holds
 * another process or none, or the -errno of opening. Uses r's scratch buffer. */
int procread_dir(struct procread *r, const struct procread_proc *pp);
void procread_dir_done(const struct procread_proc *pp, int dir);

/* Reads one tick's sample of pp into smp. rollup_tick: smaps may be read this tick;
 * attention(userdata) is asked, only when smaps are due in between their two
 * intervals, whether the detector has its eye on the process. *ret_over_budget: smaps
 * were due and the budget refused (the sampler then starts its next tick here). */
enum procread_result procread_sample(struct procread *r, struct procread_proc *pp, uint64_t start_ticks, usec_t mono,
                                     bool rollup_tick, bool (*attention)(void *userdata), void *userdata,
                                     struct sample *smp, bool *ret_over_budget);

void procread_get_stats(const struct procread *r, struct procread_stats *ret);

#endif
