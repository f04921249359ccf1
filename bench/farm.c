/* SPDX-License-Identifier: GPL-2.0-or-later */
/* farm: a target farm for the benchmarks — forks COUNT children that each touch MIB MiB
 * of heap and then sleep, prints their PIDs, and kills exactly those PIDs when told to.
 *
 *     farm COUNT MIB [NAME [CHURN]]   (NAME, the children's process name: default
 *                                      lwb-target; CHURN, children replaced per second)
 *
 * With CHURN, after "ready" the farm kills its oldest children and forks new ones in
 * their place, CHURN a second in ten steps, so COUNT stay alive while processes come and
 * go (the scale benchmark's churn). It prints "churned N" on stderr when it stops.
 *
 * Output on stdout: one PID per line, then "ready" once every child has touched its
 * memory. SIGTERM, SIGINT or end of stdin kill every child by its PID (SIGKILL) and reap
 * it. Nothing outlives the harness: the farm dies with its parent and each child with the
 * farm (PR_SET_PDEATHSIG), so a killed benchmark leaves no processes behind.
 *
 * The memory is malloc()ed in blocks below glibc's mmap threshold, so it lands in the brk
 * heap the way a long-running program's small allocations do (the sampler reads that
 * [heap] record), and every page is written so it is resident, private and dirty. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* Below glibc's default M_MMAP_THRESHOLD (128 KiB), so every block comes from brk. */
#define BLOCK (64 * 1024)
/* pid_max is 4194304 at most; a farm larger than the default 32768 makes no sense. */
#define COUNT_MAX 100000
/* 1 TiB per child would be a typo, not a benchmark. */
#define MIB_MAX (1024 * 1024)

static void die(const char *what)
{
        fprintf(stderr, "farm: %s: %s\n", what, strerror(errno));
        exit(1);
}

static void child(pid_t farm, int ready_fd, unsigned mib, const char *name)
{
        long page = sysconf(_SC_PAGESIZE);
        int devnull;

        /* The farm may have died between fork() and prctl(): then nobody would kill us. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != farm)
                _exit(1);
        (void)prctl(PR_SET_NAME, name);
        /* The harness reads the farm's stdout until "ready": children must not hold it. */
        devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
                (void)dup2(devnull, STDIN_FILENO);
                (void)dup2(devnull, STDOUT_FILENO);
                close(devnull);
        }
        for (size_t done = 0; done < (size_t)mib * 1024 * 1024; done += BLOCK) {
                char *b = malloc(BLOCK);

                if (!b)
                        _exit(1);
                /* Not zeros: a page that reads as zero could be deduplicated (KSM). */
                for (size_t i = 0; i < BLOCK; i += (size_t)page)
                        b[i] = (char)(1 + (i / (size_t)page) % 255);
        }
        if (write(ready_fd, "", 1) != 1)
                _exit(1);
        close(ready_fd);
        for (;;)
                pause();
}

int main(int argc, char **argv)
{
        const char *name = argc > 3 ? argv[3] : "lwb-target";
        unsigned long count, mib, churn = 0, churned = 0, next_victim = 0;
        double owed = 0;
        int devnull;
        struct pollfd pfd;
        sigset_t mask;
        pid_t *pids, farm = getpid();
        int ready[2];
        char *end;

        if (argc < 3 || argc > 5) {
                fprintf(stderr, "usage: farm COUNT MIB [NAME [CHURN]]\n");
                return 2;
        }
        errno = 0;
        count = strtoul(argv[1], &end, 10);
        if (errno || *end || count == 0 || count > COUNT_MAX) {
                fprintf(stderr, "farm: COUNT must be 1..%d\n", COUNT_MAX);
                return 2;
        }
        mib = strtoul(argv[2], &end, 10);
        if (errno || *end || mib > MIB_MAX) {
                fprintf(stderr, "farm: MIB must be 0..%d\n", MIB_MAX);
                return 2;
        }
        if (argc > 4) {
                churn = strtoul(argv[4], &end, 10);
                if (errno || *end || churn > COUNT_MAX) {
                        fprintf(stderr, "farm: CHURN must be 0..%d\n", COUNT_MAX);
                        return 2;
                }
        }
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                die("prctl");
        /* Blocked before the first fork, so a SIGTERM during setup still cleans up. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                die("sigprocmask");
        pids = calloc(count, sizeof(*pids));
        if (!pids || pipe2(ready, O_CLOEXEC) < 0)
                die("setup");

        for (unsigned long i = 0; i < count; i++) {
                pids[i] = fork();
                if (pids[i] < 0) {
                        fprintf(stderr, "farm: fork %lu of %lu: %s\n", i + 1, count, strerror(errno));
                        count = i;
                        goto out;
                }
                if (pids[i] == 0) {
                        sigprocmask(SIG_UNBLOCK, &mask, NULL);
                        close(ready[0]);
                        child(farm, ready[1], (unsigned)mib, name);
                }
        }
        close(ready[1]);
        for (unsigned long got = 0; got < count;) {
                char buf[256];
                ssize_t n = read(ready[0], buf, sizeof(buf));

                if (n <= 0) {
                        fprintf(stderr, "farm: a child failed to start\n");
                        goto out;
                }
                got += (unsigned long)n;
        }
        for (unsigned long i = 0; i < count; i++)
                printf("%d\n", (int)pids[i]);
        printf("ready\n");
        fflush(stdout);

        /* Wait for a signal or the end of stdin (the harness holds a pipe to it), whichever
         * comes first; 100 ms is how late the farm may notice the harness is gone. */
        pfd = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
        for (;;) {
                const struct timespec zero = { 0 };
                char c;

                if (sigtimedwait(&mask, NULL, &zero) > 0)
                        break;
                if (poll(&pfd, 1, 100) > 0 && read(STDIN_FILENO, &c, 1) <= 0)
                        break;
                /* A tenth of a second's share of the churn, the remainder carried over. */
                for (owed += (double)churn / 10; owed >= 1; owed -= 1) {
                        unsigned long i = next_victim;
                        pid_t pid;

                        next_victim = (next_victim + 1) % count;
                        (void)kill(pids[i], SIGKILL);
                        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
                                ;
                        pids[i] = 0;
                        pid = fork();
                        if (pid < 0) {
                                fprintf(stderr, "farm: churn fork: %s\n", strerror(errno));
                                goto out;
                        }
                        if (pid == 0) {
                                sigprocmask(SIG_UNBLOCK, &mask, NULL);
                                /* Nobody waits for a replacement to be ready. */
                                devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
                                child(farm, devnull, (unsigned)mib, name);
                        }
                        pids[i] = pid;
                        churned++;
                }
        }
        if (churn)
                fprintf(stderr, "churned %lu\n", churned);
out:
        for (unsigned long i = 0; i < count; i++)
                if (pids[i] > 0)
                        (void)kill(pids[i], SIGKILL);
        for (unsigned long i = 0; i < count; i++)
                if (pids[i] > 0)
                        while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
                                ;
        free(pids);
        return 0;
}
