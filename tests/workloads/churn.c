/* SPDX-License-Identifier: GPL-2.0-or-later */
/* churn: a test workload that starts and ends short-lived children as fast as asked —
 * processes that exit while the watcher reads them, some left as zombies for a while.
 *
 *   churn [--rate N] [--seconds S] [--max-life-ms N] [--zombie-every N] [--prefix P]
 *
 * About --rate children a second (default 1000) for --seconds (default 5). Child i
 * touches K MiB of anonymous memory (K = i % 4 + 1) and only then names itself
 * PREFIX-K (default prefix "lwch"; churn itself is PREFIX-0, and so is each child
 * until it renames itself), so whatever reads a child under that name should
 * see about that much anonymous memory (the kernel's per-CPU counters may lag by a few
 * hundred KiB), never a neighbour's K - 1 or K + 1 MiB; it lives 0 to
 * --max-life-ms (default 100) and exits. One child in --zombie-every (default 4) is
 * left unreaped for about 200 ms after it ends (by a holder process between it and
 * churn), so it stays a zombie. Prints the children started,
 * the zombies left and the rate reached on standard output. Exits on SIGTERM too. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a zombie is kept before it is reaped. */
#define ZOMBIE_MS 200

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
        (void)sig;
        stop = 1;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
        struct timespec ts;

        if (s <= 0)
                return;
        ts.tv_sec = (time_t)s;
        ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
        while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void child(long i, long max_life_ms, const char *prefix)
{
        long k = i % 4 + 1;
        size_t size = (size_t)k * 1024 * 1024;
        char name[16];
        char *p = malloc(size);

        if (p)
                memset(p, 1, size);
        snprintf(name, sizeof(name), "%s-%ld", prefix, k);
        prctl(PR_SET_NAME, name);
        if (max_life_ms > 0) {
                long ms = (long)((unsigned long)(i * 2654435761UL) % (unsigned long)(max_life_ms + 1));
                struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
                nanosleep(&ts, NULL);
        }
        _exit(0);
}

static long arg_long(const char *s, const char *what)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < 0) {
                fprintf(stderr, "churn: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "rate", required_argument, NULL, 'r' },
                { "seconds", required_argument, NULL, 's' },
                { "max-life-ms", required_argument, NULL, 'l' },
                { "zombie-every", required_argument, NULL, 'z' },
                { "prefix", required_argument, NULL, 'p' },
                {}
        };
        long rate = 1000, seconds = 5, max_life_ms = 100, zombie_every = 4, started = 0, zombies = 0;
        const char *prefix = "lwch";
        double t0, deadline;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'r': rate = arg_long(optarg, "--rate"); break;
                case 's': seconds = arg_long(optarg, "--seconds"); break;
                case 'l': max_life_ms = arg_long(optarg, "--max-life-ms"); break;
                case 'z': zombie_every = arg_long(optarg, "--zombie-every"); break;
                case 'p': prefix = optarg; break;
                default: return 2;
                }
        }
        if (rate == 0)
                rate = 1;
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        /* PREFIX-0: churn itself, and each child until it took its own name, so a
         * watcher selecting PREFIX-* finds a child from its first moment. */
        {
                char name[16];

                snprintf(name, sizeof(name), "%s-0", prefix);
                prctl(PR_SET_NAME, name);
        }
        t0 = now_s();
        deadline = t0 + (double)seconds;
        while (!stop && now_s() < deadline) {
                bool zombie = zombie_every > 0 && started % zombie_every == 0;
                pid_t pid = fork();

                if (pid == 0 && !zombie)
                        child(started, max_life_ms, prefix);
                if (pid == 0) {
                        /* A holder that reaps its one child only ZOMBIE_MS after
                         * starting it: the child ends as a zombie and stays one. */
                        pid_t kid = fork();

                        if (kid == 0)
                                child(started, max_life_ms, prefix);
                        prctl(PR_SET_NAME, "lwchurn-holder");
                        sleep_s(ZOMBIE_MS / 1000.0 + max_life_ms / 1000.0);
                        if (kid > 0)
                                waitpid(kid, NULL, 0);
                        _exit(0);
                }
                if (pid > 0) {
                        started++;
                        zombies += zombie;
                }
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
                sleep_s(t0 + (double)started / (double)rate - now_s());
        }
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
                ;
        printf("started %ld zombies %ld rate %.0f\n", started, zombies, (double)started / (now_s() - t0));
        return 0;
}
