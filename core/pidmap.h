/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pidmap: PID -> slot index, an open-addressing hash table that grows only when the
 * host's process count does, so the per-tick path never allocates. */
#ifndef LEAKWATCH_PIDMAP_H
#define LEAKWATCH_PIDMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct pidmap {
        pid_t *keys;            /* 0 = empty, -1 = deleted (PIDs are positive) */
        int32_t *vals;
        size_t cap;             /* power of two */
        size_t used;            /* live keys */
        size_t tombs;           /* deleted markers */
};

void pidmap_init(struct pidmap *m);
void pidmap_free(struct pidmap *m);
/* Returns the value for pid, or -1. */
int32_t pidmap_get(const struct pidmap *m, pid_t pid);
/* Sets pid -> val (val >= 0). Returns 0 or -ENOMEM. */
int pidmap_put(struct pidmap *m, pid_t pid, int32_t val);
void pidmap_del(struct pidmap *m, pid_t pid);
void pidmap_clear(struct pidmap *m);

#endif
