/* SPDX-License-Identifier: GPL-2.0-or-later */
/* headroom: the room a watched process has left before it hits a limit, for the engine's
 * forecasts (engine_limits): its cgroup's memory.max and memory.high (the tightest of
 * the cgroup and its ancestors) — or, where its memory controller sits on a legacy (v1)
 * hierarchy, memory.limit_in_bytes and memory.soft_limit_in_bytes —, the host's
 * available memory and swap, its RLIMIT_AS and RLIMIT_DATA for memory, its
 * RLIMIT_NOFILE for descriptors (the BPF pass's, sampler_proc.nofile, when it read one;
 * /proc/PID/limits otherwise). The reads happen here, when the engine asks (once per
 * verdict due, and when short-scale growth is seen), relative to the roots the watch
 * opened. On a host with a v1 memory hierarchy, the v1 cgroup that charges the process
 * is the one the sampler read from /proc/PID/cgroup when it began watching it
 * (sampler_proc.cgroup_v1), as the unified one is: a process moved to another cgroup
 * later is judged against its first one's limits. */
#ifndef LEAKWATCH_HEADROOM_H
#define LEAKWATCH_HEADROOM_H

#include "detect.h"
#include "forecast.h"
#include "proc.h"
#include "sampler.h"

/* Opens the v1 memory hierarchy under a cgroup root ("memory" in /sys/fs/cgroup, or a
 * fixture), if one is mounted there. Returns an fd or -errno (-ENOENT: none, a v2-only
 * host). */
int headroom_open_v1(int cgroup_root);

/* A tick's evaluations ask about a few cgroups: this many are remembered. */
#define HEADROOM_CGROUPS 8

struct headroom {
        int proc_root;                  /* for /proc/PID/limits and /proc/PID/cgroup */
        int cgroup_root;                /* for memory.max; -1 if unavailable */
        int cgroup_v1_root;             /* a legacy (v1) memory hierarchy's root, for
                                         * memory.limit_in_bytes; -1 if none is mounted */
        /* Bytes the host can still give before it swaps or kills (MemAvailable +
         * SwapFree), or -1; NULL: read /proc/meminfo. For tests. */
        int64_t (*host_headroom)(void);
        /* What headroom_left() has read since the last headroom_tick(): the host's room,
         * and the room of the last cgroups it was asked about. Ten thousand processes'
         * evaluations in one tick would otherwise read /proc/meminfo (some 20 µs
         * through libproc2) and their cgroup's files each, for the same figures: on a v1
         * hierarchy the limit files of the cgroup and every ancestor. */
        bool host_read;
        int64_t host;
        struct headroom_cgroup {
                char path[PROC_CGROUP_MAX];
                bool v1;                /* path is in the v1 memory hierarchy */
                int r;                  /* cgroup_memory_headroom()'s result, or v1's */
                uint64_t room;
        } cgroups[HEADROOM_CGROUPS];
        unsigned n_cgroups, next_cgroup;
};

/* A new tick: what headroom_left() read before is read again when next asked. */
void headroom_tick(struct headroom *l);

/* engine_limits.headroom with a struct headroom as userdata: the nearest limit's room in
 * the metric's unit, given the process's level (descriptors), or NAN if none is known. */
double headroom_left(void *userdata, const struct sampler_proc *p, enum detect_kind m, double level,
                       const char **ret_kind);

/* engine_limits.read with a struct headroom as userdata: every limit of metric m that is
 * known, as the room it leaves the process whose latest sample is smp (VmSize and
 * VmData for the rlimits, the descriptors for RLIMIT_NOFILE). An unreadable limit is
 * unknown (NAN), never an error: a process may be gone, a cgroup removed. */
void headroom_read(void *userdata, const struct sampler_proc *p, const struct sample *smp, enum detect_kind m,
                   struct limit_set *ret);

#endif
