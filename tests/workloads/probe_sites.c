/* probe_sites: a C program with two allocation paths for the allocator probe's sites
 * (tests/integration/test_probe.py). `leak`: churn() allocates and frees ten times as
 * many bytes as leak() keeps; `healthy`: churn() alone. Runs until killed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING 2000       /* blocks churn() keeps live at a time */

static char *ring[RING];
static uint64_t seed = 88172645463325252ULL;

static uint64_t next(void)
{
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
}

/* Replaces n random blocks of the ring (fill: all of them, in order): a steady live
 * set, many bytes allocated. */
static __attribute__((noinline)) void churn(int n, int fill)
{
        for (int i = 0; i < n; i++) {
                size_t at = fill ? (size_t)i : next() % RING, size = 64 + next() % 8192;

                free(ring[at]);
                ring[at] = malloc(size); /* churn-line */
                if (ring[at])
                        memset(ring[at], 1, size);
        }
}

/* Keeps what it allocates: 32 KiB a call, never freed. */
static __attribute__((noinline)) void *leak(void *list)
{
        void **block = malloc(32768); /* leak-line */

        if (!block)
                return list;
        memset(block, 2, 32768);
        *block = list;
        return block;
}

int main(int argc, char **argv)
{
        int leaking = argc > 1 && strcmp(argv[1], "leak") == 0;
        struct timespec ms = { 0, 1000000 };
        void *kept = NULL;

        /* The ring is full from the first round: the live set is steady from the
         * start, as in a program past its warm-up. */
        for (int round = 0;; round++) {
                churn(round ? 40 : RING, !round);
                if (leaking)
                        kept = leak(kept);
                nanosleep(&ms, NULL);
        }
        return kept != NULL;
}
