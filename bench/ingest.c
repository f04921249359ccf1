/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ingest: how fast the storage takes samples, through the daemon's own path — the writer
 * queue, one transaction per tick, and a fold every 64 ticks — and what it leaves on disk.
 *
 *     ingest DB [PROCESSES [TICKS]]        (default 1000 processes, 1280 ticks)
 *     ingest --prune DB [PROCESSES [TICKS]]
 *
 * A synthetic host: PROCESSES processes sampled every second of synthetic time (the clock
 * is not read, so the database holds exactly TICKS seconds of history whatever the
 * machine's speed). Values move the way real ones do — a resident set of 4..512 MiB
 * drifting by a few pages, fault counters rising, smaps figures once a minute per
 * process (the daemon's default) and unknown in between — so records have real sizes.
 * Like the daemon, it folds complete minutes every 64 ticks (core/watch.c FOLD_TICKS), and at
 * the end folds every complete minute and closes the database (which checkpoints the
 * WAL into the file) and keeps it for inspection.
 *
 * Prints "key value" lines:
 *   samples            process samples written (rule sums not counted)
 *   tick_cpu_us        median CPU µs of one tick's queueing + commit, per sample
 *   fold_cpu_us        median CPU µs of one fold, per sample folded
 *   fold_first_cpu_us  the same for the first fold and the last: the per-process table
 *   fold_last_cpu_us   grows under the folds
 *   total_wall_s       wall time of the whole run (queue, commits, folds)
 *   rate_wall          samples / total_wall_s: the sustained ingest rate
 *   rate_cpu           samples / total CPU time of the run
 *   file_bytes         size of the database file after closing
 * With --prune, on a database the first form wrote with the same arguments: one
 * retention pass (store_maintain) that keeps the newer half of the raw samples, as the
 * daemon's pass does every ten minutes once raw retention is reached; prints
 *   pruned             rows deleted
 *   prune_cpu_us       CPU µs of the pass per row deleted */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sample.h"
#include "store.h"
#include "util.h"
#include "writer.h"

/* Samples are folded every this many ticks, as the daemon does (core/watch.c). */
#define FOLD_TICKS 64
/* smaps figures come once a minute per process at the defaults (10 s interval, every
 * 6th tick, at most once a minute); at one tick a second that is every 60th sample. */
#define SMAPS_PERIOD 60
#define MINUTE_MS INT64_C(60000)
/* A fixed synthetic start (2025-01-01 00:00:00 UTC), on a whole hour. */
#define T0_MS INT64_C(1735689600000)
#define KIB INT64_C(1024)
#define MIB (KIB * KIB)

struct proc {
        int64_t rss, anon, file, shmem, data, vsize, threads, fds, minflt, majflt, heap;
};

/* xorshift64*: a fixed seed, so every run writes the same bytes. */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);
static uint64_t rng(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}
static int64_t rnd(int64_t lo, int64_t hi)
{
        return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

static double cpu_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void make_sample(struct proc *p, size_t i, long tick, struct sample *s)
{
        /* A page or two of drift each second, and a slow leak in every tenth process. */
        p->anon += (rnd(-2, 2) + (i % 10 == 0)) * 4 * KIB;
        p->file += rnd(-1, 1) * 4 * KIB;
        if (p->anon < MIB)
                p->anon = MIB;
        if (p->file < MIB)
                p->file = MIB;
        p->rss = p->anon + p->file + p->shmem;
        p->minflt += rnd(0, 50);
        if (rnd(0, 999) == 0)
                p->majflt++;
        if (rnd(0, 99) == 0)
                p->fds += rnd(-1, 1);

        *s = (struct sample){ .t_ms = T0_MS + tick * 1000 };
        sample_set(s, M_RSS, p->rss);
        sample_set(s, M_ANON, p->anon);
        sample_set(s, M_FILE, p->file);
        sample_set(s, M_SHMEM, p->shmem);
        sample_set(s, M_SWAP, 0);
        sample_set(s, M_DATA, p->data + p->anon);
        sample_set(s, M_VSIZE, p->vsize);
        sample_set(s, M_THREADS, p->threads);
        sample_set(s, M_FDS, p->fds);
        sample_set(s, M_MINFLT, p->minflt);
        sample_set(s, M_MAJFLT, p->majflt);
        if ((tick + (long)i) % SMAPS_PERIOD == 0) {
                sample_set(s, M_PSS, p->anon + p->file / 3 + p->shmem / 4);
                sample_set(s, M_USS, p->anon + p->file / 4);
                sample_set(s, M_PSS_ANON, p->anon);
                sample_set(s, M_SWAP_PSS, 0);
                sample_set(s, M_HEAP_SIZE, p->heap + 132 * KIB);
                sample_set(s, M_HEAP_RSS, p->heap);
        } else {
                sample_set_unknown(s, G_SMAPS, UNK_SKIPPED);
                sample_set_unknown(s, G_HEAP, UNK_SKIPPED);
        }
}

static int prune(const char *path, long ticks)
{
        struct store_retention rt = {
                .raw_ms = ticks / 2 * 1000,
                /* Rollups and rule sums stay: only raw samples are due. */
                .minute_ms = INT64_C(400) * 86400 * 1000,
                .hour_ms = INT64_C(400) * 86400 * 1000,
        };
        struct store_maintenance m;
        struct store *st;
        char err[256];
        double c;
        int r;

        r = store_open(path, STORE_RW, &st, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "ingest: %s: %s\n", path, err);
                return 1;
        }
        c = cpu_s();
        r = store_maintain(st, T0_MS + ticks * 1000, &rt, &m);
        c = cpu_s() - c;
        if (r < 0) {
                fprintf(stderr, "ingest: prune: %s\n", store_errmsg(st));
                store_close(st);
                return 1;
        }
        store_close(st);
        printf("pruned %" PRId64 "\n", m.pruned);
        printf("prune_cpu_us %.3f\n", m.pruned ? c / (double)m.pruned * 1e6 : 0.0);
        return 0;
}

static int die(struct store *st, const char *what, int r)
{
        fprintf(stderr, "ingest: %s: %s (%s)\n", what, strerror(-r), st ? store_errmsg(st) : "");
        return 1;
}

int main(int argc, char **argv)
{
        bool prune_mode = argc > 1 && strcmp(argv[1], "--prune") == 0;
        long nproc, ticks;
        double *tick_cost, *fold_cost, cpu0, wall0;
        size_t n_fold = 0;
        struct proc *procs;
        struct writer *w;
        struct store *st;
        int64_t rule_id, samples = 0;
        char err[256];
        struct stat sb;
        int r;

        if (prune_mode) {
                argc--;
                argv++;
        }
        nproc = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
        ticks = argc > 3 ? strtol(argv[3], NULL, 10) : 1280;
        if (argc < 2 || argc > 4 || nproc < 1 || nproc > 100000 || ticks < FOLD_TICKS || ticks > 1000000) {
                fprintf(stderr, "usage: ingest [--prune] DB [PROCESSES (1..100000) [TICKS (%d..1000000)]]\n",
                        FOLD_TICKS);
                return 2;
        }
        if (prune_mode)
                return prune(argv[1], ticks);
        if (unlink(argv[1]) < 0 && errno != ENOENT) {
                perror(argv[1]);
                return 1;
        }
        r = store_open(argv[1], STORE_RW, &st, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "ingest: %s: %s\n", argv[1], err);
                return 1;
        }
        r = writer_new(st, 100000, &w);
        if (r < 0)
                return die(st, "writer", r);
        procs = calloc((size_t)nproc, sizeof(*procs));
        tick_cost = calloc((size_t)ticks, sizeof(*tick_cost));
        fold_cost = calloc((size_t)ticks / FOLD_TICKS + 2, sizeof(*fold_cost));
        if (!procs || !tick_cost || !fold_cost)
                return die(st, "memory", -ENOMEM);

        r = store_put_rule(st, "bench", "name lwb-*", T0_MS, &rule_id);
        if (r < 0)
                return die(st, "rule", r);
        for (long i = 0; i < nproc; i++) {
                char comm[16], cmdline[64];
                struct store_process row = {
                        .id = i + 1,
                        .pid = (int32_t)(1000 + i),
                        .start_ticks = 4200 + i,
                        .start_ms = T0_MS - 3600 * 1000,
                        .ppid = 1,
                        .uid = 33,
                        .rule_id = rule_id,
                        .generation = 1,
                        .first_ms = T0_MS,
                };

                snprintf(row.boot_id, sizeof(row.boot_id), "8c2b0c3e-6a0f-4a7e-9d6b-2f0e1c7d5a%02ld", i % 100);
                snprintf(comm, sizeof(comm), "worker-%ld", i % 50);
                snprintf(cmdline, sizeof(cmdline), "/usr/sbin/worker-%ld --config /etc/worker.conf", i % 50);
                row.comm = comm;
                row.comm_len = strlen(comm);
                row.cmdline = cmdline;
                row.cmdline_len = strlen(cmdline);
                r = writer_put(w, &(struct store_row){ .kind = STORE_PROCESS, .process = row });
                if (r < 0)
                        return die(st, "process", r);
                procs[i] = (struct proc){
                        .anon = rnd(2, 400) * MIB, .file = rnd(2, 100) * MIB, .shmem = rnd(0, 8) * MIB,
                        .data = rnd(8, 64) * MIB, .vsize = rnd(100, 4000) * MIB, .threads = rnd(1, 64),
                        .fds = rnd(4, 200), .minflt = rnd(1000, 10000000), .heap = rnd(1, 200) * MIB,
                };
        }
        r = writer_flush(w);
        if (r < 0)
                return die(st, "flush", r);

        cpu0 = cpu_s();
        wall0 = wall_s();
        for (long t = 0; t < ticks; t++) {
                double c = cpu_s();
                struct sample sum = { .t_ms = T0_MS + t * 1000 };

                for (long i = 0; i < nproc; i++) {
                        struct sample s;

                        make_sample(&procs[i], (size_t)i, t, &s);
                        sum.v[M_RSS] += s.v[M_RSS];
                        (void)writer_put(w, &(struct store_row){ .kind = STORE_SAMPLE,
                                                                 .sample = { .id = i + 1, .s = s } });
                }
                sum.have = 1u << M_RSS;
                (void)writer_put(w, &(struct store_row){
                        .kind = STORE_RULE_SAMPLE,
                        .sample = { .id = rule_id, .generation = 1, .nproc = (unsigned)nproc, .s = sum } });
                r = writer_flush(w);
                if (r < 0)
                        return die(st, "flush", r);
                samples += nproc;
                tick_cost[t] = (cpu_s() - c) / (double)nproc;
                if ((t + 1) % FOLD_TICKS == 0) {
                        int64_t now = T0_MS + t * 1000, folded = 0;

                        c = cpu_s();
                        r = store_fold(st, now - now % MINUTE_MS, &folded);
                        if (r < 0)
                                return die(st, "fold", r);
                        if (folded > 0)
                                fold_cost[n_fold++] = (cpu_s() - c) / (double)folded;
                }
        }
        {
                double total_cpu = cpu_s() - cpu0, total_wall = wall_s() - wall0;
                int64_t end = T0_MS + ticks * 1000;

                /* What a later fold would move: every complete minute (not timed). */
                r = store_fold(st, end - end % MINUTE_MS, NULL);
                if (r < 0)
                        return die(st, "fold", r);
                writer_free(w);
                store_close(st);
                if (stat(argv[1], &sb) < 0) {
                        perror(argv[1]);
                        return 1;
                }
                printf("samples %" PRId64 "\n", samples);
                printf("tick_cpu_us %.3f\n", median(tick_cost, (size_t)ticks) * 1e6);
                printf("fold_first_cpu_us %.3f\n", n_fold ? fold_cost[0] * 1e6 : 0.0);
                printf("fold_last_cpu_us %.3f\n", n_fold ? fold_cost[n_fold - 1] * 1e6 : 0.0);
                printf("fold_cpu_us %.3f\n", n_fold ? median(fold_cost, n_fold) * 1e6 : 0.0);
                printf("total_wall_s %.3f\n", total_wall);
                printf("rate_wall %.0f\n", (double)samples / total_wall);
                printf("rate_cpu %.0f\n", (double)samples / total_cpu);
                printf("file_bytes %lld\n", (long long)sb.st_size);
        }
        free(procs);
        free(tick_cost);
        free(fold_cost);
        return 0;
}
