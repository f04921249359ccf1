/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bpfread: every process on the host in one read — the BPF task iterator behind the
 * sampler's tick (taskiter.bpf.c, its records in taskiter.h).
 *
 * bpfread_new() loads the program and attaches it as an iterator link; from then on a
 * pass (bpfread_pass()) creates an iterator from the link, reads its whole stream and
 * indexes the processes by PID. Only the load and the attach need privileges
 * (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN): a pass needs none, so the program may
 * drop them once bpfread_new() returned. A pass reads no per-process file and keeps no
 * per-process descriptor.
 *
 * The counters are the kernel's own (docs/bpf.md): memory from mm->rss_stat as
 * get_mm_counter() reads it, sizes from the mm, faults summed over the threads as
 * /proc/PID/stat sums them, the start time in ns since boot (start_ticks() below turns
 * it into /proc's clock ticks, so identities agree with the /proc backend). */
#ifndef LEAKWATCH_BPFREAD_H
#define LEAKWATCH_BPFREAD_H

#include <stdint.h>
#include <sys/types.h>

#include "proc.h"
#include "taskiter.h"

struct bpfread;

struct bpfread_stats {
        uint64_t passes;                /* passes read whole */
        uint64_t pass_errors;           /* passes that failed (the tick fell back to /proc) */
        uint64_t last_tasks;            /* tasks (threads included) in the last pass */
        uint64_t last_procs;            /* processes in the last pass */
};

/* Loads and attaches the iterator. Returns 0, -ENOTSUP (built without it), -EPERM
 * (not allowed: no CAP_BPF/CAP_PERFMON), -ENOENT (the kernel has no BTF or no task
 * iterator), -EXDEV (not in the initial PID namespace: the iterator's PIDs would not
 * be the proc root's), or another -errno of the load. */
int bpfread_new(struct bpfread **ret);
void bpfread_free(struct bpfread *b);

/* Reads one pass: every process on the host now. Returns 0 or -errno (the last pass is
 * then forgotten: bpfread_find() finds nothing). */
int bpfread_pass(struct bpfread *b);
/* The process of that PID in the last pass (its faults summed over its threads), or
 * NULL: it was not running when the pass went by. */
const struct taskiter_proc *bpfread_find(const struct bpfread *b, pid_t pid);
/* The processes of the last pass, by ascending PID: bpfread_count() of them. */
size_t bpfread_count(const struct bpfread *b);
const struct taskiter_proc *bpfread_at(const struct bpfread *b, size_t i);
/* What /proc/PID/stat would say of the record, as far as the record has it: comm,
 * state (Z for a zombie, S otherwise), ppid, PF_KTHREAD, faults, threads, start time,
 * RSS pages (the counters' global counts, as stat's rss is); the rest 0. */
void bpfread_stat(const struct taskiter_proc *p, long hz, struct proc_stat *ret);
/* A record's start time in clock ticks since boot (hz: sysconf(_SC_CLK_TCK)), exactly
 * as /proc/PID/stat's field 22 says it (nsec_to_clock_t of start_boottime). */
uint64_t bpfread_start_ticks(const struct taskiter_proc *p, long hz);

void bpfread_get_stats(const struct bpfread *b, struct bpfread_stats *ret);

#endif
