/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pidmap: PID -> slot index, an open-addressing hash table that grows only when the
 * host's process count does, so the per-tick path never allocates. */
#include "pidmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY 0
#define TOMB (-1)

void pidmap_init(struct pidmap *m)
{
        memset(m, 0, sizeof(*m));
}

void pidmap_free(struct pidmap *m)
{
        free(m->keys);
        free(m->vals);
        pidmap_init(m);
}

void pidmap_clear(struct pidmap *m)
{
        if (m->keys)
                memset(m->keys, 0, m->cap * sizeof(*m->keys));
        m->used = m->tombs = 0;
}

/* Fibonacci hashing spreads sequential PIDs over the table. */
static size_t slot_of(const struct pidmap *m, pid_t pid)
{
        return (size_t)(((uint64_t)(uint32_t)pid * UINT64_C(11400714819323198485)) >> 32) & (m->cap - 1);
}

int32_t pidmap_get(const struct pidmap *m, pid_t pid)
{
        if (m->cap == 0 || pid <= 0)
                return -1;
        for (size_t i = slot_of(m, pid), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
                if (m->keys[i] == EMPTY)
                        return -1;
                if (m->keys[i] == pid)
                        return m->vals[i];
        }
        return -1;
}

static int rehash(struct pidmap *m, size_t cap)
{
        struct pidmap n = { .cap = cap };

        n.keys = calloc(cap, sizeof(*n.keys));
        n.vals = calloc(cap, sizeof(*n.vals));
        if (!n.keys || !n.vals) {
                free(n.keys);
                free(n.vals);
                return -ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++)
                if (m->keys[i] > 0) {
                        size_t j = slot_of(&n, m->keys[i]);
                        while (n.keys[j] != EMPTY)
                                j = (j + 1) & (cap - 1);
                        n.keys[j] = m->keys[i];
                        n.vals[j] = m->vals[i];
                        n.used++;
                }
        free(m->keys);
        free(m->vals);
        *m = n;
        return 0;
}

int pidmap_put(struct pidmap *m, pid_t pid, int32_t val)
{
        size_t i, tomb = SIZE_MAX;

        if (pid <= 0 || val < 0)
                return -EINVAL;
        /* Keep the load (live + deleted) under 1/2 so probes stay short. */
        if ((m->used + m->tombs + 1) * 2 > m->cap) {
                size_t cap = m->cap ? m->cap : 64;

                /* Rehashing at the same size clears tombstones; double while the live
                 * keys alone would fill more than a quarter, to leave room to grow. */
                while ((m->used + 1) * 4 > cap)
                        cap *= 2;
                if (rehash(m, cap) < 0)
                        return -ENOMEM;
        }
        for (i = slot_of(m, pid);; i = (i + 1) & (m->cap - 1)) {
                if (m->keys[i] == pid) {
                        m->vals[i] = val;
                        return 0;
                }
                if (m->keys[i] == TOMB && tomb == SIZE_MAX)
                        tomb = i;
                if (m->keys[i] == EMPTY)
                        break;
        }
        if (tomb != SIZE_MAX) {
                i = tomb;
                m->tombs--;
        }
        m->keys[i] = pid;
        m->vals[i] = val;
        m->used++;
        return 0;
}

void pidmap_del(struct pidmap *m, pid_t pid)
{
        if (m->cap == 0 || pid <= 0)
                return;
        for (size_t i = slot_of(m, pid), n = 0; n < m->cap; i = (i + 1) & (m->cap - 1), n++) {
                if (m->keys[i] == EMPTY)
                        return;
                if (m->keys[i] == pid) {
                        m->keys[i] = TOMB;
                        m->used--;
                        m->tombs++;
                        return;
                }
        }
}
