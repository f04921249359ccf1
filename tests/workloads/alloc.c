/* SPDX-License-Identifier: GPL-2.0-or-later */
/* alloc: a test workload that allocates memory on a schedule — the controllable
 * "process that grows" the integration tests and benchmarks watch.
 *
 *   alloc [--step-kib N] [--every-ms N] [--steps N] [--hold-ms N] [--name NAME]
 *         [--children N] [--fds-per-step N] [--file-kib N] [--free]
 *
 * Every --every-ms it allocates --step-kib of anonymous memory and touches every page
 * (so it is resident), --steps times, then holds for --hold-ms and exits 0. --free
 * releases each step right after touching it (a flat process). --name sets the process
 * name (prctl), which may hold any bytes a test wants to see escaped. --children forks
 * that many copies that do the same. --fds-per-step opens descriptors to /dev/null each
 * step. --file-kib maps and reads a file of that size once (file-backed memory).
 * It exits on SIGTERM, and after at most --steps * --every-ms + --hold-ms. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
        (void)sig;
        stop = 1;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static long arg_long(const char *s, const char *what)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < 0) {
                fprintf(stderr, "alloc: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

static void map_file(long kib)
{
        char path[] = "/tmp/leakwatch-alloc-XXXXXX";
        volatile const char *p;
        char block[4096] = { 1 };
        int fd = mkstemp(path);

        if (fd < 0)
                return;
        unlink(path);
        for (long i = 0; i < kib / 4; i++)
                if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
                        break;
        p = mmap(NULL, (size_t)kib * 1024, PROT_READ, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
                /* Touch every page so it counts as resident file-backed memory. */
                for (long i = 0; i < kib * 1024; i += 4096)
                        (void)p[i];
        }
        close(fd);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "step-kib", required_argument, NULL, 's' },
                { "every-ms", required_argument, NULL, 'e' },
                { "steps", required_argument, NULL, 'n' },
                { "hold-ms", required_argument, NULL, 'h' },
                { "name", required_argument, NULL, 'N' },
                { "children", required_argument, NULL, 'c' },
                { "fds-per-step", required_argument, NULL, 'f' },
                { "file-kib", required_argument, NULL, 'F' },
                { "free", no_argument, NULL, 'x' },
                {}
        };
        long step_kib = 1024, every_ms = 100, steps = 10, hold_ms = 0, children = 0, fds = 0, file_kib = 0;
        const char *name = NULL;
        pid_t kids[64];
        long n_kids = 0;
        int do_free = 0, c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 's': step_kib = arg_long(optarg, "--step-kib"); break;
                case 'e': every_ms = arg_long(optarg, "--every-ms"); break;
                case 'n': steps = arg_long(optarg, "--steps"); break;
                case 'h': hold_ms = arg_long(optarg, "--hold-ms"); break;
                case 'N': name = optarg; break;
                case 'c': children = arg_long(optarg, "--children"); break;
                case 'f': fds = arg_long(optarg, "--fds-per-step"); break;
                case 'F': file_kib = arg_long(optarg, "--file-kib"); break;
                case 'x': do_free = 1; break;
                default: return 2;
                }
        }
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        /* Children die with the parent, so a killed test leaves nothing behind. */
        if (children > (long)(sizeof(kids) / sizeof(kids[0])))
                children = (long)(sizeof(kids) / sizeof(kids[0]));
        for (long i = 0; i < children; i++) {
                pid_t pid = fork();
                if (pid == 0) {
                        prctl(PR_SET_PDEATHSIG, SIGTERM);
                        n_kids = 0;
                        break;
                }
                if (pid > 0)
                        kids[n_kids++] = pid;
        }
        if (name)
                prctl(PR_SET_NAME, name);
        if (file_kib)
                map_file(file_kib);
        for (long i = 0; i < steps && !stop; i++) {
                char *p = malloc((size_t)step_kib * 1024);

                if (p) {
                        memset(p, (int)(i & 0xff) | 1, (size_t)step_kib * 1024);
                        if (do_free)
                                free(p);
                }
                for (long j = 0; j < fds; j++)
                        (void)open("/dev/null", O_RDONLY);
                sleep_ms(every_ms);
        }
        sleep_ms(hold_ms);
        /* Only our own children, by PID: never a process group we may share. */
        for (long i = 0; i < n_kids; i++)
                kill(kids[i], SIGTERM);
        for (long i = 0; i < n_kids; i++)
                waitpid(kids[i], NULL, 0);
        return 0;
}
