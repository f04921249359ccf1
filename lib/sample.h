/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sample: what one measurement of a process holds — the metrics, their units, and why
 * a value is unknown. Shared by the sampler, the storage and the client. */
#ifndef LEAKWATCH_SAMPLE_H
#define LEAKWATCH_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

/* Every metric a sample can carry. Memory is in bytes in this API (the database keeps
 * KiB, the kernel's own granularity; see store.c). Order is the stored column order:
 * append new metrics at the end. */
enum metric {
        M_RSS,          /* resident set: anon + file + shmem (status VmRSS) */
        M_ANON,         /* resident anonymous memory (status RssAnon) */
        M_FILE,         /* resident file-backed memory (status RssFile) */
        M_SHMEM,        /* resident shared memory: tmpfs, SysV, shared anon (status RssShmem) */
        M_SWAP,         /* swapped-out anonymous memory (status VmSwap) */
        M_DATA,         /* data segment + heap + private anon mappings (status VmData) */
        M_VSIZE,        /* virtual size (status VmSize) */
        M_THREADS,      /* threads (status Threads) */
        M_FDS,          /* open file descriptors (the fd directory) */
        M_MINFLT,       /* minor faults since start, cumulative (stat) */
        M_MAJFLT,       /* major faults since start, cumulative (stat) */
        M_PSS,          /* proportional set size (smaps_rollup Pss), every k-th tick */
        M_USS,          /* unique set: Private_Clean + Private_Dirty (smaps_rollup) */
        M_PSS_ANON,     /* anonymous PSS (smaps_rollup Pss_Anon) */
        M_SWAP_PSS,     /* proportional swap (smaps_rollup SwapPss) */
        M_HEAP_SIZE,    /* size of the brk heap mapping ([heap] in smaps) */
        M_HEAP_RSS,     /* resident part of the brk heap */
        M__MAX
};

/* Where a metric comes from; a reason for "unknown" is kept per group. */
enum metric_group {
        G_STAT,         /* /proc/PID/stat: faults */
        G_STATUS,       /* /proc/PID/status: memory parts, threads */
        G_FDS,          /* /proc/PID/fd */
        G_SMAPS,        /* /proc/PID/smaps_rollup, rate-limited */
        G_HEAP,         /* the [heap] record of /proc/PID/smaps, rate-limited */
        G__MAX
};

/* Why a group of values is unknown. Never stored as 0: a 0 is a real reading. */
enum unknown_reason {
        UNK_NONE = 0,           /* read (or, for rate-limited groups, not due this tick) */
        UNK_DENIED = 1,         /* EACCES/EPERM: ptrace access mode, hidepid, capability */
        UNK_KTHREAD = 2,        /* a kernel thread has no user memory */
        UNK_ZOMBIE = 3,         /* exited but not reaped: memory already released */
        UNK_GONE = 4,           /* the process exited between two reads */
        UNK_ABSENT = 5,         /* this kernel does not report it */
        UNK_ERROR = 6,          /* another I/O or parse error */
        UNK_SKIPPED = 7,        /* not read this time: rate limit or CPU budget */
        UNK__MAX
};

enum metric_unit { UNIT_BYTES, UNIT_COUNT };

struct metric_info {
        const char *name;       /* stable short name: column name and client/JSON key */
        enum metric_unit unit;
        enum metric_group group;
        bool cumulative;        /* a counter that only rises (faults): rate, not level */
        const char *help;       /* one line for man pages and --help */
};

extern const struct metric_info metric_info[M__MAX];
extern const char *const unknown_reason_name[UNK__MAX];

/* Returns the metric with that name, or -1. */
int metric_from_name(const char *name);

struct sample {
        int64_t t_ms;                   /* wall-clock ms since the epoch (see sampler.c) */
        int64_t v[M__MAX];              /* value, valid where bit m of have is set */
        uint32_t have;                  /* bit m set: v[m] is a reading */
        uint8_t why[G__MAX];            /* per group, why its unset metrics are unknown */
};

static inline bool sample_has(const struct sample *s, enum metric m) { return s->have & (1u << m); }
static inline void sample_set(struct sample *s, enum metric m, int64_t v)
{
        s->v[m] = v;
        s->have |= 1u << m;
}

/* Marks every metric of group g unknown for reason r. */
void sample_set_unknown(struct sample *s, enum metric_group g, enum unknown_reason r);

/* Packs the per-group reasons into one integer (4 bits per group) for storage, and back. */
int64_t sample_pack_why(const struct sample *s);
void sample_unpack_why(struct sample *s, int64_t packed);

#endif
