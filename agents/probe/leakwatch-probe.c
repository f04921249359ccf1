/* SPDX-License-Identifier: GPL-2.0-or-later */
/* leakwatch-probe: a preloaded library that reports the glibc allocator's statistics
 * (mallinfo2) to leakwatchd's agent socket, so an alert can tell a leak in the
 * program's allocations from memory the allocator holds but does not use, and, while
 * the daemon asks for it, the call stacks whose live allocations grow.
 *
 *     LD_PRELOAD=/usr/local/lib/leakwatch/libleakwatch-probe.so ./program
 *
 * malloc and its relatives are interposed (heap.c): one allocation per ~512 KiB
 * allocated is sampled with its stack, and the sampled allocations that stay live are
 * tracked. A constructor starts one thread. Every LEAKWATCH_PROBE_INTERVAL seconds (10
 * by default, at least 0.1) the thread calls mallinfo2() (which takes each arena's lock
 * for the time of a walk over the free lists), looks whether RUNDIR/trace/PID exists
 * (RUNDIR: the socket's directory), and sends one datagram without waiting; when the
 * daemon is absent or busy the report is dropped. While that file exists the report is
 * of version 2 and carries `site` lines: the stacks whose sampled live bytes grew since
 * it appeared, symbolised by this thread (symbols.c). Otherwise the thread never
 * allocates, so it creates no arena of its own and leaves the program's heap as it
 * was.
 *
 * fork: the child has no such thread (only the forking thread survives a fork) and the
 * probe does not start one there: between fork and exec a multithreaded program's child
 * may only call async-signal-safe functions, and most children exec at once. After
 * exec, LD_PRELOAD (inherited) loads the probe again in the new program, which reports
 * about itself. The socket is opened with SOCK_CLOEXEC.
 *
 * Environment: LEAKWATCH_AGENT_SOCKET (default /run/leakwatch/agent.sock),
 * LEAKWATCH_PROBE_INTERVAL, LEAKWATCH_PROBE_SAMPLE (mean bytes between samples, 0: no
 * sampling), LEAKWATCH_AGENT=0 (neither sample nor start). */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "heap.h"
#include "proto.h"
#include "symbols.h"

#define DEFAULT_SOCKET RUNTIME_DIR_DEFAULT "/" AGENT_SOCKET_NAME
/* As often as the Python agent: minutes of growth make a leak, seconds are plenty. */
#define DEFAULT_INTERVAL 10.0
/* The thread's stack: the report's 8 KiB buffer and the sites, and libdwfl's walk of
 * the DWARF while tracing; 256 KiB keeps the probe's own footprint small (the default
 * would reserve 8 MiB of address space), and is touched only as deep as it is used. */
#define STACK_SIZE (256 * 1024)
/* One sample per 512 KiB allocated on average, tcmalloc's default: a few thousand
 * samples for a heap of gigabytes, and a leak of a few MiB per interval is seen. */
#define DEFAULT_SAMPLE (512 * 1024)
/* Seconds before sampling starts: a program that ends sooner (most commands a shell
 * runs) pays nothing for it. */
#define SAMPLE_DELAY 0.1
/* The report format's limit on site lines. */
#define MAX_SITES 10

static struct sockaddr_un probe_addr = { .sun_family = AF_UNIX };
static double probe_interval = DEFAULT_INTERVAL;
static uint64_t probe_sample = DEFAULT_SAMPLE;
/* RUNDIR/trace/PID: the daemon asks for sites by creating it (docs/agents.md). */
static char trace_path[sizeof(probe_addr.sun_path) + 32];

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

/* A decimal byte count, or def when it is missing or not one. */
static uint64_t env_bytes(const char *name, uint64_t def)
{
        const char *s = getenv(name);
        uint64_t v = 0;

        if (!s || !*s)
                return def;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > (UINT64_C(1) << 40))
                        return def;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        return v;
}

static void sleep_for(double seconds)
{
        struct timespec ts = { .tv_sec = (time_t)seconds, .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9) };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Whether the daemon asks for this process's sites now: a regular file. */
static bool traced(void)
{
        struct stat st;

        return trace_path[0] && stat(trace_path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The site lines after the report's first len bytes of msg[AGENT_MSG_MAX]; returns the
 * new length. The last sites, then the last frames of a site, are left out to fit. */
static size_t add_sites(char *msg, size_t len, struct symbols **syms)
{
        struct heap_site sites[MAX_SITES];
        size_t n = heap_growing(sites, MAX_SITES);

        if (n > 0 && !*syms)
                *syms = symbols_open();
        for (size_t i = 0; i < n; i++) {
                const struct heap_site *h = &sites[i];
                char frame[FRAME_MAX + 1];
                size_t at = len, frames = 0;
                int k = snprintf(msg + at, AGENT_MSG_MAX - at, "site %" PRIu64 " %" PRIu64 " %" PRIu64,
                                 h->live_bytes, h->live_count, h->growth_bytes);

                if (k < 0 || (size_t)k >= AGENT_MSG_MAX - at)
                        break;
                at += (size_t)k;
                for (unsigned f = 0; f < h->depth; f++) {
                        size_t flen = symbols_frame(*syms, h->frames[f], frame);

                        /* A space, the frame, and the line's newline must fit. */
                        if (at + 1 + flen + 1 > AGENT_MSG_MAX)
                                break;
                        msg[at++] = ' ';
                        memcpy(msg + at, frame, flen);
                        at += flen;
                        frames++;
                }
                if (frames == 0)
                        break;
                msg[at++] = '\n';
                len = at;
        }
        return len;
}

static void *probe_main(void *arg)
{
        char msg[AGENT_MSG_MAX];
        struct symbols *syms = NULL;
        bool tracing = false;
        double first;
        int fd;

        (void)arg;
        heap_thread_private();
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
                heap_disable();
                return NULL;
        }
        /* A start spread over the interval: many processes started together do not
         * report together. The pid is as good a spread as any and needs no state. */
        first = probe_interval * (0.1 + 0.9 * (double)(getpid() % 97) / 97);
        /* Sampling starts after SAMPLE_DELAY (or the first report, if sooner), not in
         * the constructor: its set-up (the unwinder loaded, the tables' first pages)
         * is then not paid by short programs, nor on the program's own start-up path.
         * A table that cannot be mapped leaves the program unsampled, and reported on. */
        sleep_for(first < SAMPLE_DELAY ? first : SAMPLE_DELAY);
        (void)heap_init(probe_sample);
        if (first > SAMPLE_DELAY)
                sleep_for(first - SAMPLE_DELAY);
        for (;;) {
                struct mallinfo2 mi;
                size_t len;
                int n;

                if (traced() != tracing) {
                        tracing = !tracing;
                        if (tracing) {
                                heap_trace_start();
                        } else {
                                /* What tracing holds goes with it: libdwfl's tables. */
                                symbols_close(syms);
                                syms = NULL;
                        }
                }
                heap_tick();
                mi = mallinfo2();
                /* Version 1 unless there are sites: a daemon that reads version 1
                 * only still takes every report it can. */
                n = snprintf(msg, sizeof(msg), "leakwatch-agent 1\nagent malloc\nmallinfo2 %zu %zu %zu %zu %zu\n",
                             mi.arena, mi.uordblks, mi.fordblks, mi.hblkhd, mi.keepcost);
                if (n <= 0 || (size_t)n >= sizeof(msg))
                        continue;
                len = (size_t)n;
                if (tracing) {
                        size_t with = add_sites(msg, len, &syms);

                        if (with > len)
                                msg[sizeof("leakwatch-agent ") - 1] = '2';
                        len = with;
                }
                /* ENOENT, ECONNREFUSED (no daemon), EAGAIN (busy): dropped, tried again
                 * next time. MSG_NOSIGNAL: never a SIGPIPE in the program. */
                (void)sendto(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&probe_addr,
                             sizeof(probe_addr));
                sleep_for(probe_interval);
        }
        return NULL;
}

__attribute__((constructor)) static void probe_start(void)
{
        const char *path = getenv("LEAKWATCH_AGENT_SOCKET");
        const char *off = getenv("LEAKWATCH_AGENT");
        const char *slash;
        pthread_attr_t attr;
        sigset_t all, old;
        pthread_t t;
        int r;

        if (!path || !*path)
                path = DEFAULT_SOCKET;
        /* Without the thread nothing would report: nothing is sampled either. */
        if ((off && strcmp(off, "0") == 0) || strlen(path) >= sizeof(probe_addr.sun_path) ||
            pthread_attr_init(&attr) != 0) {
                heap_disable();
                return;
        }
        probe_sample = env_bytes("LEAKWATCH_PROBE_SAMPLE", DEFAULT_SAMPLE);
        memcpy(probe_addr.sun_path, path, strlen(path) + 1);
        slash = strrchr(path, '/');
        if (slash)
                snprintf(trace_path, sizeof(trace_path), "%.*s/trace/%d", (int)(slash - path), path, (int)getpid());
        else
                snprintf(trace_path, sizeof(trace_path), "trace/%d", (int)getpid());
        probe_interval = env_seconds("LEAKWATCH_PROBE_INTERVAL", DEFAULT_INTERVAL);
        (void)pthread_attr_setstacksize(&attr, STACK_SIZE);
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* The program's signals stay the program's: the thread blocks them all. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        r = pthread_create(&t, &attr, probe_main, NULL);
        if (r == 0)
                (void)pthread_setname_np(t, "leakwatch-probe");
        else
                heap_disable();
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
}
