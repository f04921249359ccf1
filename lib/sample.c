/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sample: what one measurement of a process holds — the metrics, their units, and why
 * a value is unknown. Shared by the sampler, the storage and the client. */
#include "sample.h"

#include <string.h>

#include "util.h"

const struct metric_info metric_info[M__MAX] = {
        [M_RSS]       = { "rss", UNIT_BYTES, G_STATUS, false, "resident set size" },
        [M_ANON]      = { "anon", UNIT_BYTES, G_STATUS, false, "resident anonymous memory" },
        [M_FILE]      = { "file", UNIT_BYTES, G_STATUS, false, "resident file-backed memory" },
        [M_SHMEM]     = { "shmem", UNIT_BYTES, G_STATUS, false, "resident shared memory" },
        [M_SWAP]      = { "swap", UNIT_BYTES, G_STATUS, false, "swapped-out anonymous memory" },
        [M_DATA]      = { "data", UNIT_BYTES, G_STATUS, false, "data segment and private mappings" },
        [M_VSIZE]     = { "vsize", UNIT_BYTES, G_STATUS, false, "virtual size" },
        [M_THREADS]   = { "threads", UNIT_COUNT, G_STATUS, false, "threads" },
        [M_FDS]       = { "fds", UNIT_COUNT, G_FDS, false, "open file descriptors" },
        [M_MINFLT]    = { "minflt", UNIT_COUNT, G_STAT, true, "minor page faults since start" },
        [M_MAJFLT]    = { "majflt", UNIT_COUNT, G_STAT, true, "major page faults since start" },
        [M_PSS]       = { "pss", UNIT_BYTES, G_SMAPS, false, "proportional set size" },
        [M_USS]       = { "uss", UNIT_BYTES, G_SMAPS, false, "unique (private) set size" },
        [M_PSS_ANON]  = { "pss_anon", UNIT_BYTES, G_SMAPS, false, "anonymous proportional set size" },
        [M_SWAP_PSS]  = { "swap_pss", UNIT_BYTES, G_SMAPS, false, "proportional swap" },
        [M_HEAP_SIZE] = { "heap_size", UNIT_BYTES, G_HEAP, false, "size of the brk heap" },
        [M_HEAP_RSS]  = { "heap_rss", UNIT_BYTES, G_HEAP, false, "resident part of the brk heap" },
};

const char *const unknown_reason_name[UNK__MAX] = {
        [UNK_NONE] = "none",
        [UNK_DENIED] = "permission denied",
        [UNK_KTHREAD] = "kernel thread",
        [UNK_ZOMBIE] = "zombie",
        [UNK_GONE] = "exited",
        [UNK_ABSENT] = "not reported by this kernel",
        [UNK_ERROR] = "read error",
        [UNK_SKIPPED] = "not read (rate limit)",
};

int metric_from_name(const char *name)
{
        for (int m = 0; m < M__MAX; m++)
                if (strcmp(metric_info[m].name, name) == 0)
                        return m;
        return -1;
}

void sample_set_unknown(struct sample *s, enum metric_group g, enum unknown_reason r)
{
        for (int m = 0; m < M__MAX; m++)
                if (metric_info[m].group == g)
                        s->have &= ~(1u << m);
        s->why[g] = (uint8_t)r;
}

int64_t sample_pack_why(const struct sample *s)
{
        int64_t packed = 0;

        for (int g = 0; g < G__MAX; g++)
                packed |= (int64_t)(s->why[g] & 0xf) << (4 * g);
        return packed;
}

void sample_unpack_why(struct sample *s, int64_t packed)
{
        for (int g = 0; g < G__MAX; g++) {
                unsigned r = (unsigned)(packed >> (4 * g)) & 0xf;
                s->why[g] = (uint8_t)(r < UNK__MAX ? r : UNK_ERROR);
        }
}
