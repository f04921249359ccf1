/* SPDX-License-Identifier: GPL-2.0-or-later */
/* agents-malloc: a malloc-heavy workload for the allocator probe's benchmark
 * (bench/agents.py): ROUNDS rounds (or argv[1]) of replacing a random block among LIVE
 * live blocks of 16 to 1024 bytes, touching each new block, after IDLE of sleep.
 * Prints nothing; its CPU time is the measurement. A fixed seed makes every run do the
 * same work. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIVE 10000
#define ROUNDS 20000000L
/* The probe starts sampling 0.01 to 0.1 s after the program starts (its first report
 * at LEAKWATCH_PROBE_INTERVAL=0.1, or SAMPLE_DELAY): idle first (no CPU time), so
 * every allocation measured is made with sampling on, not the first sixth of them
 * without. */
#define IDLE_NS 150000000L

int main(int argc, char **argv)
{
        static char *live[LIVE];
        uint64_t x = 88172645463325252ULL;     /* xorshift64: same sequence every run */
        long rounds = argc > 1 ? atol(argv[1]) : ROUNDS;
        struct timespec idle = { .tv_nsec = IDLE_NS };

        nanosleep(&idle, NULL);

        for (long r = 0; r < rounds; r++) {
                size_t i, sz;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                i = (size_t)(x % LIVE);
                sz = 16 + (size_t)((x >> 20) % 1009);
                free(live[i]);
                live[i] = malloc(sz);
                if (!live[i])
                        return 1;
                live[i][0] = (char)r;
        }
        for (size_t i = 0; i < LIVE; i++)
                free(live[i]);
        return 0;
}
