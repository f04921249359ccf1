/* SPDX-License-Identifier: GPL-2.0-or-later */
/* host: facts about the machine as a whole — boot time, clock ticks, available memory —
 * read through libproc2, which already parses /proc/stat and /proc/meminfo. */
#ifndef LEAKWATCH_HOST_H
#define LEAKWATCH_HOST_H

#include <stdint.h>

/* Boot time in ms since the epoch (/proc/stat btime). Returns 0 or -errno. */
int host_boot_time_ms(int64_t *ret);

/* Clock ticks per second, the unit of start times in /proc/PID/stat. */
long host_clock_ticks(void);

struct host_memory {
        uint64_t total;                 /* bytes: MemTotal */
        uint64_t available;             /* bytes: MemAvailable, what can be had without swapping */
        uint64_t swap_free;             /* bytes: SwapFree */
};
/* Returns 0 or -errno. */
int host_memory(struct host_memory *ret);

#endif
