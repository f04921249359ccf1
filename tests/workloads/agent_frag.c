/* SPDX-License-Identifier: GPL-2.0-or-later */
/* agent_frag: a C heap that glibc's allocator holds without the program using it.
 *
 *     agent_frag [--kib-per-round N] [--every-ms N] [--rounds N]
 *
 * Every round allocates a burst of small blocks (1 KiB each), frees every other one,
 * allocates one larger block that lands above the burst (no hole left by a small block
 * fits it), then frees the rest of the burst and the previous round's top block. The
 * burst grows by --kib-per-round each round. Between rounds the program holds one
 * block, so malloc's bytes in use stay flat; but the freed burst lies below a live
 * block and the heap can only shrink from the top, so the memory stays resident and
 * grows with each larger burst: allocator retention, not a leak. For the agent tests
 * with the allocator probe preloaded (tests/integration/test_agents.py). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define BLOCK 1024
/* Larger than any hole a freed small block leaves, so it comes from the heap's top. */
#define TOP_BLOCK (8 * BLOCK)

static long arg_long(const char *s, const char *what)
{
        char *end;
        long v = strtol(s, &end, 10);

        if (*s == '\0' || *end || v < 0) {
                fprintf(stderr, "agent_frag: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "kib-per-round", required_argument, NULL, 'k' },
                { "every-ms", required_argument, NULL, 'e' },
                { "rounds", required_argument, NULL, 'r' },
                {}
        };
        long kib = 128, every_ms = 250, rounds = 2400;
        char *top = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'k': kib = arg_long(optarg, "--kib-per-round"); break;
                case 'e': every_ms = arg_long(optarg, "--every-ms"); break;
                case 'r': rounds = arg_long(optarg, "--rounds"); break;
                default: return 2;
                }
        }
        for (long r = 1; r <= rounds; r++) {
                size_t n = (size_t)(r * kib * 1024 / BLOCK);
                /* The pointer array outside the heap, so only the blocks shape it. */
                char **p = mmap(NULL, n * sizeof(*p), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                struct timespec ts = { every_ms / 1000, (every_ms % 1000) * 1000000L };
                char *next_top;

                if (p == MAP_FAILED)
                        return 1;
                for (size_t i = 0; i < n; i++) {
                        p[i] = malloc(BLOCK);
                        if (!p[i])
                                return 1;
                        p[i][0] = 1;    /* resident */
                }
                for (size_t i = 1; i < n; i += 2)
                        free(p[i]);
                next_top = malloc(TOP_BLOCK);
                if (!next_top)
                        return 1;
                memset(next_top, 1, TOP_BLOCK);
                for (size_t i = 0; i < n; i += 2)
                        free(p[i]);
                free(top);
                top = next_top;
                munmap(p, n * sizeof(*p));
                nanosleep(&ts, NULL);
        }
        free(top);
        return 0;
}
