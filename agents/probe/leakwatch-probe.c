/* leakwatch-probe: a preloaded library that reports the glibc allocator's statistics
 * (mallinfo2) to leakwatchd's agent socket, so an alert can tell a leak in the
 * program's allocations from memory the allocator holds but does not use.
 *
 *     LD_PRELOAD=/usr/local/lib/leakwatch/libleakwatch-probe.so ./program
 *
 * A constructor starts one thread; malloc and free are not interposed, so the program
 * runs at its own speed. Every LEAKWATCH_PROBE_INTERVAL seconds (10 by default, at
 * least 0.1) the thread calls mallinfo2() (which takes each arena's lock for the time
 * of a walk over the free lists) and sends one datagram without waiting; when the
 * daemon is absent or busy the report is dropped. The thread never allocates, so it
 * creates no arena of its own and leaves the program's heap as it was.
 *
 * fork: the child has no such thread (only the forking thread survives a fork) and the
 * probe does not start one there: between fork and exec a multithreaded program's child
 * may only call async-signal-safe functions, and most children exec at once. After
 * exec, LD_PRELOAD (inherited) loads the probe again in the new program, which reports
 * about itself. The socket is opened with SOCK_CLOEXEC.
 *
 * Environment: LEAKWATCH_AGENT_SOCKET (default /run/leakwatch/agent.sock),
 * LEAKWATCH_PROBE_INTERVAL, LEAKWATCH_AGENT=0 (do not start). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

#define DEFAULT_SOCKET RUNTIME_DIR_DEFAULT "/" AGENT_SOCKET_NAME
/* As often as the Python agent: minutes of growth make a leak, seconds are plenty. */
#define DEFAULT_INTERVAL 10.0
/* The thread's stack: it calls snprintf and sendto, nothing deep; 64 KiB keeps the
 * probe's own footprint small (the default would reserve 8 MiB of address space). */
#define STACK_SIZE (64 * 1024)

static struct sockaddr_un probe_addr = { .sun_family = AF_UNIX };
static double probe_interval = DEFAULT_INTERVAL;

/* A decimal number of seconds, or def when it is missing or out of range. Parsed by
 * hand: strtod() would follow the program's locale. */
static double env_seconds(const char *name, double def)
{
        const char *s = getenv(name);
        double v = 0, scale = 0;

        if (!s || !*s)
                return def;
        for (; *s; s++) {
                if (*s == '.' && scale == 0) {
                        scale = 1;
                } else if (*s >= '0' && *s <= '9') {
                        if (scale > 0)
                                v += (*s - '0') * (scale /= 10);
                        else
                                v = v * 10 + (*s - '0');
                        if (v > 86400)
                                return def;
                } else {
                        return def;
                }
        }
        return v >= 0.1 ? v : def;
}

static void sleep_for(double seconds)
{
        struct timespec ts = { .tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9) };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void *probe_main(void *arg)
{
        char msg[512];
        int fd;

        (void)arg;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return NULL;
        /* A start spread over the interval: many processes started together do not
         * report together. The pid is as good a spread as any and needs no state. */
        sleep_for(probe_interval * (0.1 + 0.9 * (double)(getpid() % 97) / 97));
        for (;;) {
                struct mallinfo2 mi = mallinfo2();
                int n = snprintf(msg, sizeof(msg),
                                 "leakwatch-agent 1\nagent malloc\nmallinfo2 %zu %zu %zu %zu %zu\n",
                                 mi.arena, mi.uordblks, mi.fordblks, mi.hblkhd, mi.keepcost);

                /* ENOENT, ECONNREFUSED (no daemon), EAGAIN (busy): dropped, tried again
                 * next time. MSG_NOSIGNAL: never a SIGPIPE in the program. */
                if (n > 0 && (size_t)n < sizeof(msg))
                        (void)sendto(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
                                     (const struct sockaddr *)&probe_addr, sizeof(probe_addr));
                sleep_for(probe_interval);
        }
        return NULL;
}

__attribute__((constructor)) static void probe_start(void)
{
        const char *path = getenv("LEAKWATCH_AGENT_SOCKET");
        const char *off = getenv("LEAKWATCH_AGENT");
        pthread_attr_t attr;
        sigset_t all, old;
        pthread_t t;

        if (off && strcmp(off, "0") == 0)
                return;
        if (!path || !*path)
                path = DEFAULT_SOCKET;
        if (strlen(path) >= sizeof(probe_addr.sun_path))
                return;
        memcpy(probe_addr.sun_path, path, strlen(path) + 1);
        probe_interval = env_seconds("LEAKWATCH_PROBE_INTERVAL", DEFAULT_INTERVAL);
        if (pthread_attr_init(&attr) != 0)
                return;
        (void)pthread_attr_setstacksize(&attr, STACK_SIZE);
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* The program's signals stay the program's: the thread blocks them all. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        if (pthread_create(&t, &attr, probe_main, NULL) == 0)
                (void)pthread_setname_np(t, "leakwatch-probe");
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
}
