/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heap: the allocator probe's sampled view of the program's heap — which call stacks
 * hold the sampled allocations that are still live, and how that changed since tracing
 * started.
 *
 * heap.c interposes malloc, free and their relatives (forwarding to glibc's own
 * __libc_* entry points) and samples one allocation per `mean` bytes allocated on
 * average: each thread counts its allocated bytes down from an exponentially
 * distributed draw, so an allocation of s bytes is sampled with probability
 * 1 - exp(-s/mean) and stands for s / (1 - exp(-s/mean)) bytes (unbiased for big and
 * small allocations alike, as tcmalloc's and jemalloc's heap profilers do). A sampled
 * allocation's stack goes into a bounded table of stacks; the allocation itself into a
 * bounded table of live samples that free() and realloc() consult through a small
 * counting filter, so a free of an unsampled pointer costs one byte load.
 *
 * Nothing here allocates from malloc: both tables and the filter are mmap()ed once by
 * heap_init(). One spinlock guards the tables; it is taken only by a sampled
 * allocation, a free the filter cannot rule out, and the reporting thread. fork() takes
 * it in the prepare handler, so the child starts with consistent tables. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Frames kept per stack: what a site line carries at most (the report format's limit). */
#define HEAP_FRAMES 8

struct heap_site {
        uint64_t live_bytes;    /* estimated bytes live now from this stack */
        uint64_t live_count;    /* estimated allocations live now */
        uint64_t growth_bytes;  /* estimated live bytes gained since heap_trace_start() */
        unsigned depth;         /* frames[0..depth) valid, 1..HEAP_FRAMES */
        uintptr_t frames[HEAP_FRAMES];  /* return addresses, innermost first */
};

/* Maps the tables and starts sampling every `mean` bytes on average (0: interpose but
 * never sample). Until it is called nothing is sampled, and a thread looks again every
 * 512 KiB it allocates. Called once, from the probe's own thread: the unwinder's
 * warm-up and the tables' first pages cost milliseconds a program that ends early need
 * not pay. Returns 0 or -errno (then nothing is sampled; the allocator still works). */
int heap_init(uint64_t mean);

/* Nothing will be sampled (LEAKWATCH_AGENT=0, or no thread to report). */
void heap_disable(void);

/* The calling thread's allocations are never sampled (the probe's own thread, whose
 * symbolisation allocates). */
void heap_thread_private(void);

/* Tracing starts: every stack's live samples now are its baseline. */
void heap_trace_start(void);

/* The stacks whose live sampled memory grew since heap_trace_start(), at most `max`,
 * sorted by growth_bytes descending, into ret_sites; returns how many. Grew: now by at
 * least 3 + 4*S samples over the baseline B, and at the lowest point since the
 * previous call by 1 + S, where S = sqrt(min(B, samples freed since the baseline)): a
 * stack whose allocations come and go is not growth, a stack that frees nothing and
 * gains 3 samples is. Each call starts the next lowest-point window. */
size_t heap_growing(struct heap_site *ret_sites, size_t max);

/* Once per report interval: when the table of stacks is full and at most half of them
 * hold samples, those without (and without a baseline) are freed for new stacks. */
void heap_tick(void);
