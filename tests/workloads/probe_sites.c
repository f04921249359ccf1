/* SPDX-License-Identifier: GPL-2.0-or-later */
/* probe_sites: a C program with two allocation paths for the allocator probe's sites
 * (tests/integration/test_probe.py). `leak`: churn() allocates and frees ten times as
 * many bytes as leak() keeps; `healthy`: churn() alone; `threads`: three threads churn
 * while the main thread leaks and, every 20th time, forks a child that allocates and
 * exits, so a fork that deadlocks on the probe's lock stops the leak. Prints `ready`
 * once the churning live sets are full; runs until killed; exits 1 when a child
 * fails. Allocates nothing before it reads a line on standard input: the test sends it
 * once the probe has reported, that is once it samples, so that every block of the
 * live sets is allocated while the probe samples. */
#include <stdio.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RING 2000       /* blocks churn() keeps live at a time */

static __thread char *ring[RING];
static pthread_barrier_t filled;
static __thread uint64_t seed = 88172645463325252ULL;

static uint64_t next(void)
{
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
}

/* Replaces n random blocks of the thread's ring (fill: all of them, in order): a
 * steady live set, many bytes allocated. */
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

static void *churner(void *arg)
{
        struct timespec ms = { 0, 1000000 };
        /* Volatile: the first round (the fill) is not peeled into a call of its own,
         * which would be another stack. */
        volatile int n = RING, fill = 1;

        seed += (uintptr_t)arg;
        for (;;) {
                churn(n, fill);
                if (fill)
                        pthread_barrier_wait(&filled);
                n = 40;
                fill = 0;
                nanosleep(&ms, NULL);
        }
        return NULL;
}

/* A child that allocates (through the probe, with its lock as fork left it) and
 * exits; 0 when it did. */
static int forked(void)
{
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -1;
        if (pid == 0) {
                void *p = malloc(100000);

                free(p);
                _exit(p ? 0 : 1);
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -1;
        return 0;
}

int main(int argc, char **argv)
{
        int leaking = argc > 1 && strcmp(argv[1], "healthy") != 0;
        int threads = argc > 1 && strcmp(argv[1], "threads") == 0;
        struct timespec ms = { 0, 1000000 };
        char go;
        volatile int n = RING, fill = 1;        /* as in churner() */
        void *kept = NULL;

        /* What is allocated before the probe samples is never seen, and a live set
         * made then would look like growth while its blocks turn over: the probe
         * starts sampling 0.1 s after the program starts, later on a loaded machine.
         * read(), not stdio, which would allocate its buffer first. */
        if (read(0, &go, 1) != 1)
                return 1;
        if (threads) {
                pthread_barrier_init(&filled, NULL, 4);
                for (uintptr_t i = 0; i < 3; i++) {
                        pthread_t t;

                        if (pthread_create(&t, NULL, churner, (void *)(i + 1)) != 0)
                                return 1;
                }
        }
        /* The live set is filled by the call that churns it: one stack. */
        for (int round = 0;; round++) {
                if (!threads)
                        churn(n, fill);
                else if (!round)
                        pthread_barrier_wait(&filled);
                else if (round % 20 == 0 && forked() < 0)
                        return 1;
                if (!round) {
                        puts("ready");
                        fflush(stdout);
                }
                /* Four times as much with threads, which slow this one. */
                for (int i = 0; leaking && i < (threads ? 4 : 1); i++)
                        kept = leak(kept);
                n = 40;
                fill = 0;
                nanosleep(&ms, NULL);
        }
        return kept != NULL;
}
