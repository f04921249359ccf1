/* headroom: the room a watched process has left before it hits a limit, for the engine's
 * forecasts (engine_limits): its cgroup's memory.max and the host's available memory and
 * swap for memory, its RLIMIT_NOFILE for descriptors. The reads happen here, when the
 * engine asks (once per verdict due), relative to the roots the watch opened. */
#ifndef LEAKWATCH_HEADROOM_H
#define LEAKWATCH_HEADROOM_H

#include "detect.h"
#include "sampler.h"

struct headroom {
        int proc_root;                  /* for /proc/PID/limits */
        int cgroup_root;                /* for memory.max; -1 if unavailable */
        /* Bytes the host can still give before it swaps or kills (MemAvailable +
         * SwapFree), or -1; NULL: read /proc/meminfo. For tests. */
        int64_t (*host_headroom)(void);
};

/* engine_limits.headroom with a struct headroom as userdata: the nearest limit's room in
 * the metric's unit, given the process's level (descriptors), or NAN if none is known. */
double headroom_left(void *userdata, const struct sampler_proc *p, enum detect_kind m, double level,
                       const char **ret_kind);

#endif
