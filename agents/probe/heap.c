/* SPDX-License-Identifier: GPL-2.0-or-later */
/* heap: malloc and friends interposed, one allocation sampled per ~mean bytes, its stack
 * and its liveness tracked in bounded tables (heap.h is the contract). */
#include "heap.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
/* The probe is preloaded at start-up, so its thread-local variables sit in the static
 * TLS block: initial-exec access is one load off %fs, no __tls_get_addr call. */
#define TLS __thread __attribute__((tls_model("initial-exec")))

/* glibc's allocator under its own names: what the interposed functions forward to.
 * Exported by glibc for exactly this (replacing malloc while still using its arenas);
 * no dlsym() bootstrap, which would itself allocate. */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

/* Distinct stacks: at 112 bytes each, 4096 is 448 KiB of address space, touched as
 * stacks come. A program has far fewer allocating stacks that hold memory than that;
 * stacks whose samples are all gone are reused (heap_tick reclaims them). */
#define STACKS 4096
#define STACK_INDEX (2 * STACKS)        /* open addressing, at most half full */
/* Live samples: slots of 24 bytes, filled to 3/4, from 2^10 (24 KiB, 768 samples,
 * 384 MiB of live heap at the default 512 KiB period) doubling up to 2^16 (1.5 MiB,
 * 24 GiB of live heap); past that new samples are not kept. Grown, not made at its
 * largest: the slots are hashed, so a table of 1.5 MiB has every one of its 384
 * pages touched within the first 20,000 samples however few live at once, and a
 * page fault costs some 12 us in a virtual machine (1% of a run of
 * bench/agents-malloc.c). */
#define LIVE_BITS_FIRST 10
#define LIVE_BITS_MAX 16
/* The filter free() reads: one bit per KiB of address space (modulo 64 MiB), set while
 * a live sample lies in that KiB, beside a one-byte count of those samples that only
 * the sampler (under the lock) reads and writes. A free of an unsampled pointer finds
 * its bit clear unless a sample lives within the same KiB (or 64 MiB away): with 2,000
 * live samples (a heap of 1 GiB) for some 3% of frees, which then look in the table.
 * In address order, not hashed: the bits of a heap of 5 MiB are 640 bytes, 10 cache
 * lines that stay in the L1 cache however the program walks its heap (hashed, the
 * filter's reads alone cost bench/agents-malloc.c 5%; one byte per KiB, 80 lines that
 * the heap's own traffic evicted about one free in seven). A count that reached 255
 * stays there, its bit set (a few more lookups). Static arrays, not a mapping made when
 * sampling starts: free() loads one byte at a fixed offset and nothing else (with a
 * pointer to load and test first, two more instructions on every free). Until a sample
 * is counted their pages are never written; read, they are the kernel's shared zero
 * page, no memory of the program's. */
#define FILTER_BITS 16
#define FILTER_SLOTS (1u << FILTER_BITS)
/* Frames captured: ours (the sampler, the interposed function) plus HEAP_FRAMES. Both
 * unwinders start at their caller's return address. */
#define CAPTURE (HEAP_FRAMES + 2)
/* Before heap_init(), a thread looks whether sampling has started after this many bytes. */
#define RECHECK (512 * 1024)

struct stack {
        uint32_t hash;
        uint32_t depth;         /* 0: slot free */
        uintptr_t frames[HEAP_FRAMES];
        uint64_t live_bytes, live_count;
        uint64_t base_bytes;
        uint32_t samples, base_samples, floor;
        uint32_t freed;         /* samples freed since tracing started */
        int32_t next_free;
};

struct live {
        uintptr_t ptr;          /* 0: empty */
        uint64_t bytes;         /* what this sample stands for */
        uint32_t count;         /* allocations it stands for */
        uint32_t stack;
};

static struct stack *stacks;
static int32_t *stack_index;    /* slot + 1; 0: empty (a fresh mapping is all empty) */
static int32_t stack_free = -1;
static uint32_t stack_used;     /* slots ever handed out, the free list aside */
static struct live *live;
static uint32_t live_n;
static unsigned live_bits = LIVE_BITS_FIRST;
/* All zero until the first sample: a free() finds nothing to look up. */
static uint64_t filter[FILTER_SLOTS / 64] __attribute__((aligned(64)));
static uint8_t filter_count[FILTER_SLOTS];
/* Per KiB, where its sample is when it holds exactly one: 1 + its 16-byte granule
 * (glibc's blocks start on 16 bytes, at most one block in each); SPOT_MANY: more than
 * one, or one after more (the table decides); 0: none. A free whose KiB has its bit
 * set reads this before taking the lock: the others in a sample's KiB (some 1 in 512
 * frees at the default period) then stop here instead of missing the cache in the
 * table of live samples. */
static uint8_t filter_spot[FILTER_SLOTS];
#define SPOT_MANY UINT8_MAX
static int lock;
static uint64_t mean_bytes;
/* 0 until heap_init() has made the tables, then 1; -1: never (heap_disable). */
static int sampling;
static uintptr_t self_lo, self_hi;      /* our own code: frames skipped */
/* libunwind's unw_backtrace() (libunwind8), when it loads; else glibc's backtrace().
 * Both walk the .eh_frame tables (Debian builds have no frame pointers), but libgcc,
 * behind backtrace(), finds and interprets each frame's CFI anew at every call, some
 * 13,000 instructions (~3 us) a stack of 10 frames here, while libunwind keeps each
 * return address's frame layout in a per-thread cache and then steps a frame in a few
 * dozen: ~850 instructions a stack. Declared here rather than from libunwind.h: the
 * probe dlopen()s the library, so only this one stable signature is needed. */
static int (*unwind_fast)(void **buffer, int size);

static TLS int64_t tl_left;     /* bytes until this thread's next sample */
static TLS uint64_t tl_rand;
static TLS bool tl_busy;        /* in the sampler, or the probe's own thread */
static TLS bool tl_started;     /* tl_left holds a first draw */

static void lock_take(void)
{
        while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
                while (__atomic_load_n(&lock, __ATOMIC_RELAXED))
                        sched_yield();
}

static void lock_give(void)
{
        __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

/* fork(): only the forking thread goes on in the child; the tables must not be left
 * half-changed by a thread that no longer exists. */
static void fork_prepare(void)
{
        lock_take();
}

static void fork_done(void)
{
        lock_give();
}

static inline uint64_t mix(uintptr_t p)
{
        /* Fibonacci hashing of the address without its alignment bits. */
        return ((uint64_t)p >> 4) * 0x9e3779b97f4a7c15ULL;
}

static inline uint32_t filter_slot(uintptr_t p)
{
        return (uint32_t)(p >> 10) & (FILTER_SLOTS - 1);
}

static inline uint8_t spot_of(uintptr_t p)
{
        return (uint8_t)(1 + ((p >> 4) & 63));
}

/* Under the lock, the only writer: free() reads the bits without it. */
static void filter_count_up(uintptr_t p)
{
        uint32_t i = filter_slot(p);

        if (filter_count[i] == UINT8_MAX)
                return;
        /* The spot before the bit: a free that sees the bit finds the spot set. */
        __atomic_store_n(&filter_spot[i], filter_count[i] ? SPOT_MANY : spot_of(p), __ATOMIC_RELAXED);
        if (filter_count[i]++ == 0)
                __atomic_store_n(&filter[i / 64], filter[i / 64] | (1ull << (i % 64)), __ATOMIC_RELEASE);
}

static void filter_count_down(uintptr_t p)
{
        uint32_t i = filter_slot(p);

        if (filter_count[i] == UINT8_MAX)
                return;
        if (--filter_count[i] == 0) {
                __atomic_store_n(&filter[i / 64], filter[i / 64] & ~(1ull << (i % 64)), __ATOMIC_RELAXED);
                __atomic_store_n(&filter_spot[i], 0, __ATOMIC_RELAXED);
        }
}

/* The next countdown: exponentially distributed with the mean period, so sampling is a
 * Poisson process over the bytes allocated. */
static int64_t next_period(void)
{
        double u;

        if (!tl_rand)
                tl_rand = (uint64_t)(uintptr_t)&tl_rand ^ (uint64_t)time(NULL) ^ 0x2545f4914f6cdd1dULL;
        tl_rand ^= tl_rand << 13;
        tl_rand ^= tl_rand >> 7;
        tl_rand ^= tl_rand << 17;
        u = (double)((tl_rand >> 11) + 1) * 0x1p-53;   /* (0, 1] */
        return (int64_t)(-log(u) * (double)mean_bytes) + 1;
}

static uint32_t stack_hash(const uintptr_t *f, unsigned n)
{
        uint64_t h = n;

        for (unsigned i = 0; i < n; i++)
                h = (h ^ f[i]) * 0x100000001b3ULL;
        return (uint32_t)(h ^ (h >> 32));
}

static void index_insert(uint32_t hash, int32_t idx)
{
        uint32_t i = hash & (STACK_INDEX - 1);

        while (stack_index[i])
                i = (i + 1) & (STACK_INDEX - 1);
        stack_index[i] = idx + 1;
}

/* The stack's slot, made when new; -1 when the table is full. Under the lock. */
static int32_t stack_get(const uintptr_t *f, unsigned n)
{
        uint32_t h = stack_hash(f, n), i = h & (STACK_INDEX - 1);
        int32_t idx;
        struct stack *s;

        for (; (idx = stack_index[i] - 1) >= 0; i = (i + 1) & (STACK_INDEX - 1)) {
                s = &stacks[idx];
                if (s->hash == h && s->depth == n && memcmp(s->frames, f, n * sizeof(*f)) == 0)
                        return idx;
        }
        if (stack_free >= 0) {
                idx = stack_free;
                stack_free = stacks[idx].next_free;
        } else if (stack_used < STACKS) {
                idx = (int32_t)stack_used++;
        } else {
                return -1;
        }
        s = &stacks[idx];
        memset(s, 0, sizeof(*s));
        s->hash = h;
        s->depth = n;
        memcpy(s->frames, f, n * sizeof(*f));
        index_insert(h, idx);
        return idx;
}

static void *map(size_t bytes)
{
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        return p == MAP_FAILED ? NULL : p;
}

static void live_put(struct live *table, unsigned bits, const struct live *l)
{
        uint32_t mask = (1u << bits) - 1, i = (uint32_t)(mix(l->ptr) >> (64 - bits));

        while (table[i].ptr)
                i = (i + 1) & mask;
        table[i] = *l;
}

/* Room for one more sample (under the lock): false when the table is at its largest
 * and full, or a larger one cannot be mapped. Rehashed into a table twice the size;
 * free() reads the table only under the lock, so the old one goes at once. */
static bool live_room(void)
{
        struct live *bigger;

        if (live_n < (1u << live_bits) / 4 * 3)
                return true;
        if (live_bits == LIVE_BITS_MAX)
                return false;
        bigger = map(sizeof(*live) << (live_bits + 1));
        if (!bigger)
                return false;
        for (uint32_t i = 0; i < 1u << live_bits; i++)
                if (live[i].ptr)
                        live_put(bigger, live_bits + 1, &live[i]);
        munmap(live, sizeof(*live) << live_bits);
        live = bigger;
        live_bits++;
        return true;
}

static void live_insert(uintptr_t p, uint64_t bytes, uint32_t count, uint32_t stack)
{
        live_put(live, live_bits, &(struct live){ .ptr = p, .bytes = bytes, .count = count, .stack = stack });
        live_n++;
        filter_count_up(p);
}

/* Removes p's sample into ret (under the lock); false when p was not sampled. Linear
 * probing with backward-shift deletion: no tombstones, lookups stay short. */
static bool live_remove(uintptr_t p, struct live *ret)
{
        uint32_t mask = (1u << live_bits) - 1, i = (uint32_t)(mix(p) >> (64 - live_bits)), j;

        for (; live[i].ptr != p; i = (i + 1) & mask)
                if (!live[i].ptr)
                        return false;
        *ret = live[i];
        for (j = i;;) {
                uint32_t home;

                j = (j + 1) & mask;
                if (!live[j].ptr)
                        break;
                home = (uint32_t)(mix(live[j].ptr) >> (64 - live_bits));
                /* live[j] may fill the hole at i unless its home lies in (i, j]. */
                if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
                        live[i] = live[j];
                        i = j;
                }
        }
        live[i].ptr = 0;
        live_n--;
        filter_count_down(p);
        return true;
}

/* The sampled allocation p of size bytes: its stack and its share of the heap. Kept
 * out of line so the interposed functions stay small. */
static __attribute__((noinline)) void sample(void *p, size_t size)
{
        uintptr_t raw[CAPTURE];
        unsigned n, skip = 0, depth;
        double s = size ? (double)size : 1, w;
        int32_t idx;

        switch (__atomic_load_n(&sampling, __ATOMIC_ACQUIRE)) {
        case 0:
                /* Not yet: look again after as many bytes. */
                tl_left = RECHECK;
                return;
        case -1:
                tl_left = INT64_MAX;
                return;
        }
        /* A thread's first countdown is a draw like any other, not zero. */
        if (!tl_started) {
                tl_started = true;
                tl_left += next_period();
                if (tl_left > 0)
                        return;
        }
        tl_left = next_period();
        if (tl_busy)
                return;
        tl_busy = true;
        n = (unsigned)(unwind_fast ? unwind_fast : backtrace)((void **)raw, CAPTURE);
        while (skip < n && raw[skip] >= self_lo && raw[skip] < self_hi)
                skip++;
        depth = n - skip > HEAP_FRAMES ? HEAP_FRAMES : n - skip;
        /* What one sample stands for: size / P(sampled). expm1 keeps small sizes exact. */
        w = s / -expm1(-s / (double)mean_bytes);
        lock_take();
        idx = depth ? stack_get(raw + skip, depth) : -1;
        /* A table full: the sample is not kept (its stack is a growth not seen). */
        if (idx >= 0 && live_room()) {
                struct stack *st = &stacks[idx];
                uint32_t count = (uint32_t)(w / s + 0.5);

                live_insert((uintptr_t)p, (uint64_t)w, count ? count : 1, (uint32_t)idx);
                st->live_bytes += (uint64_t)w;
                st->live_count += count ? count : 1;
                st->samples++;
        }
        lock_give();
        tl_busy = false;
}

/* The allocation of size bytes at p is counted against the thread's countdown. */
static inline void *note(void *p, size_t size)
{
        if (likely(p) && unlikely((tl_left -= (int64_t)size) <= 0))
                sample(p, size);
        return p;
}

static __attribute__((noinline)) void forget(void *p)
{
        struct live l;
        uint8_t spot;

        /* NULL's bit stands for the samples at multiples of 64 MiB; NULL is in no
         * table (0 marks an empty slot there). */
        if (!p)
                return;
        /* Not p's spot: p was not sampled. A sample of p was counted before p's
         * malloc() returned, so its spot (or SPOT_MANY) is seen here; a change made
         * meanwhile for another sample of the same KiB only ever leads to the table. */
        spot = __atomic_load_n(&filter_spot[filter_slot((uintptr_t)p)], __ATOMIC_RELAXED);
        if (spot != SPOT_MANY && spot != spot_of((uintptr_t)p))
                return;
        lock_take();
        if (live_remove((uintptr_t)p, &l)) {
                struct stack *st = &stacks[l.stack];

                st->live_bytes -= l.bytes;
                st->live_count -= l.count;
                st->samples--;
                st->freed++;
                if (st->samples < st->floor)
                        st->floor = st->samples;
        }
        lock_give();
}

/* Before the memory goes back: once freed, another thread may get the same address
 * and sample it. The fewest instructions on the path every free() takes: one load of
 * its bit (clear while nothing is sampled, and always without sampling); free(NULL)
 * is told apart in forget(), on the rare path. Relaxed: a sample is counted before
 * its malloc() returns, and the program orders that before its free(). */
static inline void unnote(void *p)
{
        uintptr_t a = (uintptr_t)p;

        /* The word of p's KiB, then its bit: filter_slot() split in two shifts. */
        if (unlikely((__atomic_load_n(&filter[(a >> 16) & (FILTER_SLOTS / 64 - 1)], __ATOMIC_RELAXED) >> ((a >> 10) % 64)) & 1))
                forget(p);
}

EXPORT void *malloc(size_t size)
{
        return note(__libc_malloc(size), size);
}

EXPORT void free(void *ptr)
{
        unnote(ptr);
        __libc_free(ptr);
}

EXPORT void *calloc(size_t n, size_t size)
{
        size_t total;

        if (__builtin_mul_overflow(n, size, &total))
                total = SIZE_MAX;
        return note(__libc_calloc(n, size), total);
}

EXPORT void *realloc(void *ptr, size_t size)
{
        void *p;

        /* A realloc() that moves or frees its block frees the old address. Counted as
         * an allocation of the new size, as the sampled profilers do. */
        unnote(ptr);
        p = __libc_realloc(ptr, size);
        return size ? note(p, size) : p;
}

EXPORT void *reallocarray(void *ptr, size_t n, size_t size)
{
        size_t total;

        if (__builtin_mul_overflow(n, size, &total)) {
                errno = ENOMEM;
                return NULL;
        }
        return realloc(ptr, total);
}

EXPORT void *memalign(size_t align, size_t size)
{
        return note(__libc_memalign(align, size), size);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
        return note(__libc_memalign(align, size), size);
}

EXPORT int posix_memalign(void **ret, size_t align, size_t size)
{
        void *p;

        if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0 || align == 0)
                return EINVAL;
        p = __libc_memalign(align, size);
        if (!p)
                return ENOMEM;
        *ret = note(p, size);
        return 0;
}

EXPORT void *valloc(size_t size)
{
        return note(__libc_valloc(size), size);
}

EXPORT void *pvalloc(size_t size)
{
        return note(__libc_pvalloc(size), size);
}

/* Our own code's address range, from the loaded segments of the object holding this
 * function: frames inside it are the sampler's, not the program's. */
static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
        uintptr_t me = (uintptr_t)data, lo = UINTPTR_MAX, hi = 0;

        (void)size;
        for (int i = 0; i < info->dlpi_phnum; i++) {
                const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

                if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
                        continue;
                if (info->dlpi_addr + ph->p_vaddr < lo)
                        lo = info->dlpi_addr + ph->p_vaddr;
                if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
                        hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        }
        if (me < lo || me >= hi)
                return 0;
        self_lo = lo;
        self_hi = hi;
        return 1;
}

int heap_init(uint64_t mean)
{
        void *warm[2], *unwind_lib;
        if (mean == 0) {
                heap_disable();
                return 0;
        }
        stacks = map(sizeof(*stacks) * STACKS);
        stack_index = map(sizeof(*stack_index) * STACK_INDEX);
        live = map(sizeof(*live) << live_bits);
        if (!stacks || !stack_index || !live) {
                heap_disable();
                return -ENOMEM;
        }
        (void)dl_iterate_phdr(find_self, (void *)(uintptr_t)&sample);
        /* Loaded and tried once here, from the probe's thread, outside any
         * allocation: dlopen() and backtrace()'s first call (which loads libgcc's
         * unwinder) allocate. A thread's first sample sets up libunwind's cache for
         * that thread; whatever that allocates is not sampled (tl_busy). RTLD_LOCAL:
         * libunwind's own backtrace() and _Unwind_* stay out of the program's
         * namespace. Without libunwind, backtrace() does the same work slower. Once
         * loaded it stays (unloading a library from someone else's program is not
         * safe). */
        unwind_lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
        if (unwind_lib) {
                unwind_fast = (int (*)(void **, int))dlsym(unwind_lib, "unw_backtrace");
                if (unwind_fast && unwind_fast(warm, 2) <= 0)
                        unwind_fast = NULL;
        }
        (void)backtrace(warm, 2);
        if (pthread_atfork(fork_prepare, fork_done, fork_done) != 0) {
                heap_disable();
                return -ENOMEM;
        }
        mean_bytes = mean;
        __atomic_store_n(&sampling, 1, __ATOMIC_RELEASE);
        return 0;
}

void heap_disable(void)
{
        __atomic_store_n(&sampling, -1, __ATOMIC_RELEASE);
}

void heap_thread_private(void)
{
        tl_busy = true;
}

void heap_trace_start(void)
{
        if (__atomic_load_n(&sampling, __ATOMIC_ACQUIRE) <= 0)
                return;
        lock_take();
        for (uint32_t i = 0; i < stack_used; i++) {
                struct stack *s = &stacks[i];

                s->base_bytes = s->live_bytes;
                s->base_samples = s->floor = s->samples;
                s->freed = 0;
        }
        lock_give();
}

static uint32_t isqrt(uint32_t v)
{
        uint32_t r = 0;

        while ((r + 1) * (r + 1) <= v)
                r++;
        return r;
}

/* Stacks without samples now and none at the baseline go back to the free list, and
 * the index is rebuilt without them. Under the lock. */
static void reclaim(void)
{
        memset(stack_index, 0, sizeof(*stack_index) * STACK_INDEX);
        for (uint32_t i = 0; i < stack_used; i++) {
                struct stack *s = &stacks[i];

                if (!s->depth)
                        continue;
                if (s->samples == 0 && s->base_samples == 0) {
                        s->depth = 0;
                        s->next_free = stack_free;
                        stack_free = (int32_t)i;
                        continue;
                }
                index_insert(s->hash, (int32_t)i);
        }
}

void heap_tick(void)
{
        uint32_t held = 0;

        if (__atomic_load_n(&sampling, __ATOMIC_ACQUIRE) <= 0)
                return;
        lock_take();
        /* Reclaimed when every slot is taken and at most half hold samples. */
        if (stack_used == STACKS && stack_free < 0) {
                for (uint32_t i = 0; i < STACKS; i++)
                        held += stacks[i].samples != 0 || stacks[i].base_samples != 0;
                if (held <= STACKS / 2)
                        reclaim();
        }
        lock_give();
}

size_t heap_growing(struct heap_site *ret_sites, size_t max)
{
        size_t n = 0;

        if (__atomic_load_n(&sampling, __ATOMIC_ACQUIRE) <= 0)
                return 0;
        lock_take();
        for (uint32_t i = 0; i < stack_used; i++) {
                struct stack *s = &stacks[i];
                /* The spread of the live samples comes from their turnover: a stack
                 * that freed nothing since the baseline cannot have wandered off it;
                 * one that turned its live set over is a new Poisson draw of mean B,
                 * and the difference of two draws has a spread of sqrt(2B). */
                uint32_t floor = s->floor, sd = isqrt(s->freed < s->base_samples ? s->freed : s->base_samples);
                struct heap_site site;
                size_t at;

                s->floor = s->samples;
                if (!s->depth)
                        continue;
                /* Growth: now 3 samples and 4 sqrt(B) (2.8 spreads of the difference)
                 * above the baseline B, and even at the lowest point since the last
                 * report 1 + sqrt(B) above it. A stack whose allocations come and go
                 * visits its low values between two reports (at the baseline it stood
                 * at a random one); a leak's lowest point is where it stood at the
                 * last report. */
                if (s->samples < s->base_samples + 3 + 4 * sd || floor < s->base_samples + 1 + sd ||
                    s->live_bytes <= s->base_bytes)
                        continue;
                site = (struct heap_site){ .live_bytes = s->live_bytes, .live_count = s->live_count,
                                           .growth_bytes = s->live_bytes - s->base_bytes, .depth = s->depth };
                memcpy(site.frames, s->frames, sizeof(site.frames));
                for (at = n; at > 0 && ret_sites[at - 1].growth_bytes < site.growth_bytes; at--)
                        if (at < max)
                                ret_sites[at] = ret_sites[at - 1];
                if (at < max) {
                        ret_sites[at] = site;
                        if (n < max)
                                n++;
                }
        }
        lock_give();
        return n;
}
