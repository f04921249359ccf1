/* SPDX-License-Identifier: GPL-2.0-or-later */
/* proc-floor: the least CPU that reading the daemon's per-tick /proc files can cost — the
 * floor the daemon's own cost is compared with.
 *
 *     proc-floor MODE INTERVAL ROUNDS < PIDS       (PIDS: one decimal PID per line)
 *
 * Every round reads, for each PID in order, exactly what a tick of leakwatchd reads, with
 * the fewest system calls that can do it and no parsing:
 *   open    open, one read, close of /proc/PID/stat and /proc/PID/status, and the
 *           descriptor count as fstatat() of /proc/PID/fd (its st_size, Linux 6.2+);
 *   kept    the same through descriptors opened once before the first round: one
 *           pread() at offset 0 of each file, fstatat() of "fd" below an O_PATH PID
 *           directory (the daemon's own way of keeping them);
 *   rollup  kept, plus open, read, close of smaps_rollup and of smaps as far as the end
 *           of the [heap] record in 4 KiB reads (what a smaps tick adds);
 *   smaps-rollup  kept, plus open, read, close of smaps_rollup alone (what tools that
 *           report PSS and USS without the heap's own record read: bench/peers.py).
 * Rounds are paced INTERVAL seconds apart, like the daemon's ticks, so caches are as
 * cold or as warm as the daemon finds them. Each round prints one line:
 *     CPU_NS PROCESSES
 * the process CPU time (user + system, CLOCK_PROCESS_CPUTIME_ID) the round took and the
 * processes it read. A read that fails (a process gone) makes the program fail: a floor
 * over fewer files than claimed would be no floor. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Far more than stat (~300 bytes) or status (~1.5 KiB) or smaps_rollup (~1 KiB) hold,
 * so one read returns the whole text; the daemon's scratch buffer is this size too. */
#define BUF_SIZE (64 * 1024)
/* The daemon reads smaps in pieces of a page (lib/proc.c SMAPS_CHUNK). */
#define SMAPS_CHUNK 4096
/* pid_max's largest value is 4194304; a list longer than the default 32768 is a mistake. */
#define PIDS_MAX 100000

enum mode { M_OPEN, M_KEPT, M_ROLLUP, M_SMAPS_ROLLUP };

struct target {
        int pid;
        char stat_path[32], status_path[32], fd_path[32];
        int dir, stat, status;
};

static char buf[BUF_SIZE];

static void fail(const struct target *t, const char *what)
{
        fprintf(stderr, "proc-floor: pid %d: %s: %s\n", t->pid, what, strerror(errno));
        exit(1);
}

static void read_once(const struct target *t, int fd, const char *what)
{
        ssize_t n = pread(fd, buf, sizeof(buf), 0);

        if (n <= 0 || (size_t)n == sizeof(buf))
                fail(t, what);
}

static void open_read_close(const struct target *t, int dirfd, const char *path)
{
        int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        ssize_t n;

        if (fd < 0)
                fail(t, path);
        n = read(fd, buf, sizeof(buf));
        if (n <= 0 || (size_t)n == sizeof(buf))
                fail(t, path);
        close(fd);
}

/* True if the text holds "[heap]" and, after it, the header line of the next mapping
 * (mapping headers start with a hex address, field lines with a capital letter). */
static bool heap_done(const char *text, size_t len)
{
        const char *h = memmem(text, len, "[heap]\n", 7), *end = text + len;

        if (!h)
                return false;
        for (const char *p = h + 7; p < end; p++) {
                if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
                        return true;
                p = memchr(p, '\n', (size_t)(end - p));
                if (!p)
                        return false;
        }
        return false;
}

static void read_heap(const struct target *t)
{
        int fd = openat(t->dir, "smaps", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t used = 0;

        if (fd < 0)
                fail(t, "smaps");
        while (used + SMAPS_CHUNK <= sizeof(buf)) {
                ssize_t n = read(fd, buf + used, SMAPS_CHUNK);

                if (n < 0)
                        fail(t, "smaps");
                if (n == 0)
                        break;
                used += (size_t)n;
                if (heap_done(buf, used))
                        break;
        }
        close(fd);
}

static void round_open(const struct target *t, int rootfd)
{
        struct stat st;

        open_read_close(t, rootfd, t->stat_path);
        open_read_close(t, rootfd, t->status_path);
        if (fstatat(rootfd, t->fd_path, &st, 0) < 0)
                fail(t, "fd");
}

static void round_kept(const struct target *t)
{
        struct stat st;

        read_once(t, t->stat, "stat");
        read_once(t, t->status, "status");
        if (fstatat(t->dir, "fd", &st, 0) < 0)
                fail(t, "fd");
}

static int64_t cpu_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int main(int argc, char **argv)
{
        struct target *t;
        struct timespec next;
        size_t n = 0;
        enum mode mode;
        double interval;
        long rounds;
        int rootfd, pid;

        if (argc != 4) {
                fprintf(stderr, "usage: proc-floor open|kept|rollup|smaps-rollup INTERVAL ROUNDS < PIDS\n");
                return 2;
        }
        if (strcmp(argv[1], "open") == 0)
                mode = M_OPEN;
        else if (strcmp(argv[1], "kept") == 0)
                mode = M_KEPT;
        else if (strcmp(argv[1], "rollup") == 0)
                mode = M_ROLLUP;
        else if (strcmp(argv[1], "smaps-rollup") == 0)
                mode = M_SMAPS_ROLLUP;
        else {
                fprintf(stderr, "proc-floor: unknown mode '%s'\n", argv[1]);
                return 2;
        }
        interval = strtod(argv[2], NULL);
        rounds = strtol(argv[3], NULL, 10);
        if (!(interval >= 0 && interval <= 60) || rounds < 1 || rounds > 100000) {
                fprintf(stderr, "proc-floor: INTERVAL 0..60 s, ROUNDS 1..100000\n");
                return 2;
        }
        t = calloc(PIDS_MAX, sizeof(*t));
        if (!t)
                return 1;
        while (n < PIDS_MAX && scanf("%d", &pid) == 1) {
                if (pid <= 0)
                        continue;
                t[n].pid = pid;
                snprintf(t[n].stat_path, sizeof(t[n].stat_path), "%d/stat", pid);
                snprintf(t[n].status_path, sizeof(t[n].status_path), "%d/status", pid);
                snprintf(t[n].fd_path, sizeof(t[n].fd_path), "%d/fd", pid);
                n++;
        }
        if (n == 0) {
                fprintf(stderr, "proc-floor: no PIDs on stdin\n");
                return 2;
        }
        raise_nofile();
        rootfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0) {
                perror("proc-floor: /proc");
                return 1;
        }
        if (mode != M_OPEN)
                for (size_t i = 0; i < n; i++) {
                        char name[16];

                        snprintf(name, sizeof(name), "%d", t[i].pid);
                        t[i].dir = openat(rootfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (t[i].dir < 0)
                                fail(&t[i], "open");
                        t[i].stat = openat(t[i].dir, "stat", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        t[i].status = openat(t[i].dir, "status", O_RDONLY | O_CLOEXEC | O_NOCTTY);
                        if (t[i].stat < 0 || t[i].status < 0)
                                fail(&t[i], "open");
                }

        clock_gettime(CLOCK_MONOTONIC, &next);
        for (long r = 0; r < rounds; r++) {
                int64_t before = cpu_ns();

                for (size_t i = 0; i < n; i++) {
                        if (mode == M_OPEN) {
                                round_open(&t[i], rootfd);
                        } else {
                                round_kept(&t[i]);
                                if (mode != M_KEPT)
                                        open_read_close(&t[i], t[i].dir, "smaps_rollup");
                                if (mode == M_ROLLUP)
                                        read_heap(&t[i]);
                        }
                }
                printf("%lld %zu\n", (long long)(cpu_ns() - before), n);

                next.tv_nsec += (long)((interval - (double)(long)interval) * 1e9);
                next.tv_sec += (time_t)interval + next.tv_nsec / 1000000000;
                next.tv_nsec %= 1000000000;
                while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
                        ;
        }
        if (mode != M_OPEN)
                for (size_t i = 0; i < n; i++) {
                        close(t[i].dir);
                        close(t[i].stat);
                        close(t[i].status);
                }
        close(rootfd);
        free(t);
        return 0;
}
