/* SPDX-License-Identifier: GPL-2.0-or-later */
/* shape: a C workload whose anonymous memory follows one named shape over time — the
 * leaks and the look-alikes the detector is judged on (tests/scenarios/).
 *
 *   shape NAME [--window SECONDS] [--duration SECONDS] [--seed N] [--name COMM]
 *              [--dir DIR] [--tag WORD]
 *
 * Leaks:      linear, stairs, saw-leak, late-leak, bursty
 * Look-alikes: sawtooth, warmup, frag, mapfile, idle
 *
 * Every time scale is a fraction of --window (the detector's window, default 120 s) and
 * every rate is bytes per window, so one suite runs at any window. The program holds a
 * base of BASE_BYTES (a mid-sized service; idle holds nothing) and exits 0 after
 * --duration seconds (default five windows) or on SIGTERM. What it adds is bounded:
 * leaks stop at LEAK_MAX, the cache at 24 MiB, the fragmented heap at about twice
 * FRAG_LIVE_MAX, the mapping at MAP_BYTES, and the sawtooth and churn add transient
 * peaks of at most SAW_BYTES + CHURN_MAX. --name sets the process name (default
 * "lw-" NAME); --tag is ignored: it puts a word in the command line for a rule to
 * select the run by. --dir is where mapfile creates (and at once unlinks) its file. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024.0 * 1024.0)

/* What a running service holds before anything happens: 32 MiB makes the detector's
 * relative bar (5% of the level per window, 1.6 MiB) the binding one for a while, as
 * on a real server, instead of the 1 MiB absolute floor. */
#define BASE_BYTES (32 * 1024 * 1024)
/* The leaks grow 8 MiB per window on average (linear, the slow one, half that): 25% of
 * the base per window, well above the detector's minimum growth (max(1 MiB, 5% of the
 * level)) even at its lower confidence bound, and slow enough that five windows stay
 * under 100 MiB. */
#define LEAK_PER_WINDOW (8 * 1024 * 1024)
/* No leak goes past 1 GiB: the suite's leak 40 MiB in five windows, and a mistyped
 * --duration must not take the machine down. */
#define LEAK_MAX (1024.0 * 1024 * 1024)
/* A garbage collector's sawtooth: garbage piles up to 24 MiB (75% of the base) and is
 * freed at once, 16 times a window — cycles of 1.5 detector buckets, which the floor of
 * each bucket (or of a block of three) does not see. */
#define SAW_BYTES (24 * 1024 * 1024)
#define SAW_PER_WINDOW 16
/* Request churn: in about one tick in three a request allocates a temporary buffer of
 * 256 KiB to 2 MiB and frees it before the tick ends, so the samples have upward
 * spikes like a service's. */
#define CHURN_MIN (256 * 1024)
#define CHURN_MAX (2 * 1024 * 1024)
/* Leaked records are small heap allocations (they come from brk, like most leaks);
 * garbage and churn come in chunks above the mmap threshold, so freeing them returns
 * the memory at once, as a compacting collector's heap would. */
#define RECORD_BYTES 4096
#define CHUNK_BYTES (256 * 1024)
/* The tick: 10 a second, finer than the sampling interval of any run of the suite
 * (0.25 s at its shortest window), so every sample sees the shape as it is then. */
#define TICK_NS 100000000L

enum shape {
        S_LINEAR, S_STAIRS, S_SAW_LEAK, S_LATE_LEAK, S_BURSTY,
        S_SAWTOOTH, S_WARMUP, S_FRAG, S_MAPFILE, S_IDLE,
        S__MAX
};

static const char *const shape_name[S__MAX] = {
        [S_LINEAR] = "linear", [S_STAIRS] = "stairs", [S_SAW_LEAK] = "saw-leak",
        [S_LATE_LEAK] = "late-leak", [S_BURSTY] = "bursty", [S_SAWTOOTH] = "sawtooth",
        [S_WARMUP] = "warmup", [S_FRAG] = "frag", [S_MAPFILE] = "mapfile", [S_IDLE] = "idle",
};

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

static void sleep_until(double t)
{
        double d = t - now_s();
        struct timespec ts;

        if (d <= 0)
                return;
        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        while (!stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* splitmix64: a seeded, portable generator, so a seed names one run exactly. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
        uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static double rng_unit(void)
{
        return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static void *touched(size_t n, int fill)
{
        char *p = malloc(n);

        if (!p) {
                fprintf(stderr, "shape: out of memory\n");
                exit(1);
        }
        memset(p, fill, n);
        return p;
}

/* Leaks records until `target` bytes (at most LEAK_MAX) have leaked in all: the
 * pointers are dropped. */
static void leak_to(double *leaked, double target)
{
        if (target > LEAK_MAX)
                target = LEAK_MAX;
        while (*leaked + RECORD_BYTES <= target) {
                (void)touched(RECORD_BYTES, 0x5a);
                *leaked += RECORD_BYTES;
        }
}

/* A cache: records held in a chain until the program exits. */
static void *cache_head;

static void cache_to(double *held, double target)
{
        while (*held + RECORD_BYTES <= target) {
                void **rec = touched(RECORD_BYTES, 0x5b);

                *rec = cache_head;
                cache_head = rec;
                *held += RECORD_BYTES;
        }
}

static void cache_free(void)
{
        while (cache_head) {
                void *next = *(void **)cache_head;

                free(cache_head);
                cache_head = next;
        }
}

/* The collector's garbage: chunks that pile up and are all freed at the end of a cycle. */
struct garbage {
        void *chunk[SAW_BYTES / CHUNK_BYTES];
        size_t n;
};

static void garbage_to(struct garbage *g, double target)
{
        size_t want = (size_t)(target / CHUNK_BYTES);

        if (want > sizeof(g->chunk) / sizeof(g->chunk[0]))
                want = sizeof(g->chunk) / sizeof(g->chunk[0]);
        if (want < g->n) {
                while (g->n > 0)
                        free(g->chunk[--g->n]);
        }
        while (g->n < want)
                g->chunk[g->n++] = touched(CHUNK_BYTES, 0x33);
}

/* One request's temporary buffer, freed before the next tick. */
static void churn(double probability)
{
        size_t n;
        void *p;

        if (rng_unit() >= probability)
                return;
        n = CHURN_MIN + (size_t)(rng_unit() * (CHURN_MAX - CHURN_MIN));
        p = touched(n, 0x11);
        free(p);
}

/* ---- fragmentation: small blocks of mixed sizes, every other one freed ---- */

/* The live blocks stop growing at 12 MiB (about 24 MiB of heap with its holes), the
 * size of a busy service's small-object working set. */
#define FRAG_LIVE_MAX (12 * 1024 * 1024)
#define FRAG_BLOCKS (FRAG_LIVE_MAX / 64)

struct frag {
        void **block;
        size_t *size;
        size_t n;
        size_t rounds;
        double live;
};

/* Rounds of FRAG_ROUND blocks, every other one of which is freed once the round is
 * allocated, until the live set reaches `target` bytes. The holes sit between live
 * blocks, so they cannot merge; and each round's objects are 16 bytes larger than the
 * last one's (a program's records grow as it runs: from 32 bytes to about 2 KiB here),
 * so no later request fits an earlier hole: the heap ends up twice the live set. */
#define FRAG_ROUND 192

static void frag_to(struct frag *f, double target)
{
        if (target > FRAG_LIVE_MAX)
                target = FRAG_LIVE_MAX;
        while (f->live < target && f->n + FRAG_ROUND <= FRAG_BLOCKS) {
                size_t first = f->n, sz = 32 + 16 * f->rounds++;

                for (size_t i = 0; i < FRAG_ROUND; i++) {
                        f->size[f->n] = sz;
                        f->block[f->n] = touched(sz, 0x77);
                        f->n++;
                }
                /* Keep the even ones, packed at the front of the round. */
                for (size_t i = 0; i < FRAG_ROUND; i++) {
                        size_t k = first + i;

                        if (i % 2) {
                                free(f->block[k]);
                                continue;
                        }
                        f->block[first + i / 2] = f->block[k];
                        f->size[first + i / 2] = f->size[k];
                        f->live += (double)f->size[k];
                }
                f->n = first + FRAG_ROUND / 2;
        }
}

/* At the plateau: replaces random live blocks by blocks of the same size, which the
 * allocator serves from the hole just left — the heap stays where it is. */
static void frag_steady(struct frag *f, size_t count)
{
        for (size_t i = 0; i < count && f->n > 0; i++) {
                size_t k = (size_t)(rng_unit() * (double)f->n);

                free(f->block[k]);
                f->block[k] = touched(f->size[k], 0x78);
        }
}

/* ---- mapped file ---- */

/* 64 MiB of file-backed memory, touched over three windows: RSS climbs by twice the
 * base while anonymous memory stays flat. */
#define MAP_BYTES (64 * 1024 * 1024)

struct mapped {
        volatile const char *p;
        size_t touched;
};

static int map_open(struct mapped *m, const char *dir)
{
        char path[4096];
        char block[65536];
        int fd;

        if (snprintf(path, sizeof(path), "%s/leakwatch-shape-XXXXXX", dir) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        fd = mkstemp(path);
        if (fd < 0)
                return -errno;
        unlink(path);
        memset(block, 0x42, sizeof(block));
        for (size_t off = 0; off < MAP_BYTES; off += sizeof(block)) {
                if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block)) {
                        int r = errno ? -errno : -EIO;
                        close(fd);
                        return r;
                }
        }
        m->p = mmap(NULL, MAP_BYTES, PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (m->p == MAP_FAILED)
                return -errno;
        m->touched = 0;
        return 0;
}

static void map_touch_to(struct mapped *m, double target)
{
        size_t want = target > MAP_BYTES ? MAP_BYTES : (size_t)target;

        for (; m->touched < want; m->touched += 4096)
                (void)m->p[m->touched];
}

static int parse_double(const char *s, double lo, double hi, double *ret)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || *end || !(v >= lo && v <= hi))
                return -EINVAL;
        *ret = v;
        return 0;
}

static void usage(void)
{
        fprintf(stderr, "usage: shape NAME [--window S] [--duration S] [--seed N] [--name COMM] [--dir DIR] [--tag WORD]\n"
                        "shapes:");
        for (int s = 0; s < S__MAX; s++)
                fprintf(stderr, " %s", shape_name[s]);
        fputc('\n', stderr);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "window", required_argument, NULL, 'w' },
                { "duration", required_argument, NULL, 'd' },
                { "seed", required_argument, NULL, 's' },
                { "name", required_argument, NULL, 'N' },
                { "dir", required_argument, NULL, 'D' },
                { "tag", required_argument, NULL, 'T' },
                {}
        };
        double W = 120, duration = -1, seed = 1;
        const char *name = NULL, *dir = "/tmp";
        char comm[16];
        int shape = -1, c;
        double t0, t, leaked = 0, burst_due = 0, next_burst, burst_end = -1;
        struct garbage g = { .n = 0 };
        struct frag f = { 0 };
        struct mapped m = { 0 };
        void *base;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'w':
                        /* From 1 s (a quick look at a shape) to a day; runs of a week. */
                        if (parse_double(optarg, 1, 86400, &W) < 0) {
                                fprintf(stderr, "shape: bad --window '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'd':
                        if (parse_double(optarg, 0, 7 * 86400, &duration) < 0) {
                                fprintf(stderr, "shape: bad --duration '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 's':
                        if (parse_double(optarg, 0, 1e15, &seed) < 0) {
                                fprintf(stderr, "shape: bad --seed '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'N': name = optarg; break;
                case 'D': dir = optarg; break;
                case 'T': break;
                default: usage(); return 2;
                }
        }
        if (optind + 1 != argc) {
                usage();
                return 2;
        }
        for (int s = 0; s < S__MAX; s++)
                if (strcmp(argv[optind], shape_name[s]) == 0)
                        shape = s;
        if (shape < 0) {
                usage();
                return 2;
        }
        if (duration < 0)
                duration = 5 * W;
        rng_state = (uint64_t)seed * 1000003u + (uint64_t)shape;
        snprintf(comm, sizeof(comm), "lw-%s", shape_name[shape]);
        prctl(PR_SET_NAME, name ? name : comm);
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        /* glibc's default threshold, fixed (setting it turns off the dynamic one, which
         * moves up after the first free of a large chunk): chunks and churn buffers stay
         * mmap'ed and return to the kernel when freed, in every run alike. */
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);

        t0 = now_s();
        base = shape == S_IDLE ? NULL : touched(BASE_BYTES, 0x01);
        if (shape == S_FRAG) {
                f.block = calloc(FRAG_BLOCKS, sizeof(*f.block));
                f.size = calloc(FRAG_BLOCKS, sizeof(*f.size));
                if (!f.block || !f.size) {
                        fprintf(stderr, "shape: out of memory\n");
                        return 1;
                }
        }
        if (shape == S_MAPFILE) {
                int r = map_open(&m, dir);
                if (r < 0) {
                        fprintf(stderr, "shape: cannot map a file in %s: %s\n", dir, strerror(-r));
                        return 1;
                }
        }
        /* Load bursts (bursty): gaps exponential with mean W/10, each burst W/20 long,
         * so a third of the time is under load. */
        next_burst = -log(1 - rng_unit()) * W / 10;

        for (long tick = 1; !stop; tick++) {
                double rate = LEAK_PER_WINDOW / W;      /* bytes per second */

                t = now_s() - t0;
                if (t >= duration)
                        break;
                switch (shape) {
                case S_LINEAR:
                        /* The slow one: half the others' rate, 4 MiB a window, 12% of
                         * the base (the detector's bar is 5% of the level). */
                        leak_to(&leaked, rate / 2 * t);
                        churn(0.3);
                        break;
                case S_STAIRS:
                        /* A step of a window's leak / 8 every W/8: one batch of records
                         * per step, nothing in between. */
                        leak_to(&leaked, LEAK_PER_WINDOW / 8.0 * floor(t / (W / 8)));
                        churn(0.3);
                        break;
                case S_SAW_LEAK:
                case S_SAWTOOTH: {
                        double period = W / SAW_PER_WINDOW, phase = fmod(t, period) / period;

                        garbage_to(&g, SAW_BYTES * phase);
                        if (shape == S_SAW_LEAK)
                                leak_to(&leaked, rate * t);
                        churn(0.3);
                        break;
                }
                case S_LATE_LEAK:
                        /* Flat for the detector's warm-up (W/4) and a whole window after
                         * it: only then does the leak begin. */
                        if (t > 1.25 * W)
                                leak_to(&leaked, rate * (t - 1.25 * W));
                        churn(0.3);
                        break;
                case S_BURSTY:
                        if (t >= next_burst && burst_end < 0) {
                                burst_end = t + W / 20;
                        } else if (burst_end >= 0 && t >= burst_end) {
                                burst_end = -1;
                                next_burst = t - log(1 - rng_unit()) * W / 10;
                        }
                        /* Under load the leak runs at three times the mean rate: the mean
                         * over bursts and pauses is the same 8 MiB a window. */
                        if (burst_end >= 0) {
                                burst_due += 3 * rate * TICK_NS / 1e9;
                                leak_to(&leaked, burst_due);
                                churn(0.9);
                        } else {
                                churn(0.1);
                        }
                        break;
                case S_WARMUP:
                        /* A cache filling: 24 MiB approached with a time constant of
                         * W/8, 98% full after half a window, then flat. */
                        cache_to(&leaked, 24 * MIB * (1 - exp(-t / (W / 8))));
                        churn(0.3);
                        break;
                case S_FRAG:
                        /* The live set approaches its bound like the cache above (98% after
                         * half a window); then blocks are only replaced. */
                        if (t < W / 2)
                                frag_to(&f, FRAG_LIVE_MAX * (1 - exp(-t / (W / 8))));
                        else
                                frag_steady(&f, 2000);
                        churn(0.3);
                        break;
                case S_MAPFILE:
                        map_touch_to(&m, MAP_BYTES * t / (3 * W));
                        churn(0.3);
                        break;
                case S_IDLE:
                        break;
                }
                sleep_until(t0 + (double)tick * TICK_NS / 1e9);
        }
        /* What a healthy program holds it gives back; the leaked records are lost on
         * purpose (valgrind reports them, and only them). */
        garbage_to(&g, 0);
        cache_free();
        for (size_t i = 0; i < f.n; i++)
                free(f.block[i]);
        free(f.block);
        free(f.size);
        if (m.p)
                munmap((void *)m.p, MAP_BYTES);
        free(base);
        return 0;
}
