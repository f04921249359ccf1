/* SPDX-License-Identifier: GPL-2.0-or-later */
/* host: facts about the machine as a whole — boot time, clock ticks, available memory —
 * read through libproc2, which already parses /proc/stat and /proc/meminfo. */
#include "host.h"

#include <errno.h>
#include <libproc2/meminfo.h>
#include <libproc2/misc.h>
#include <libproc2/stat.h>
#include <unistd.h>

int host_boot_time_ms(int64_t *ret)
{
        struct stat_info *info = NULL;
        struct stat_result *r;
        int rc;

        rc = procps_stat_new(&info);
        if (rc < 0)
                return rc;
        r = procps_stat_get(info, STAT_SYS_TIME_OF_BOOT);
        rc = r ? 0 : -errno ? -errno : -EIO;
        if (r)
                *ret = (int64_t)r->result.ul_int * 1000;
        procps_stat_unref(&info);
        return rc;
}

long host_clock_ticks(void)
{
        long hz = procps_hertz_get();

        /* Every Linux architecture reports USER_HZ = 100 to user space; fall back to it. */
        return hz > 0 ? hz : 100;
}

/* procps_meminfo_get() returns a pointer to one result slot that the next call
 * overwrites: take each value before asking for the next. */
static int meminfo_kib(struct meminfo_info *info, enum meminfo_item item, uint64_t *ret)
{
        struct meminfo_result *r = procps_meminfo_get(info, item);

        if (!r)
                return -EIO;
        *ret = (uint64_t)r->result.ul_int;
        return 0;
}

int host_memory(struct host_memory *ret)
{
        struct meminfo_info *info = NULL;
        uint64_t total, avail, swap;
        int rc;

        rc = procps_meminfo_new(&info);
        if (rc < 0)
                return rc;
        rc = meminfo_kib(info, MEMINFO_MEM_TOTAL, &total);
        if (rc == 0)
                rc = meminfo_kib(info, MEMINFO_MEM_AVAILABLE, &avail);
        if (rc == 0)
                rc = meminfo_kib(info, MEMINFO_SWAP_FREE, &swap);
        if (rc == 0) {
                /* libproc2 reports these in KiB, as the kernel does. */
                ret->total = total * 1024;
                ret->available = avail * 1024;
                ret->swap_free = swap * 1024;
        }
        procps_meminfo_unref(&info);
        return rc;
}
