/* SPDX-License-Identifier: GPL-2.0-or-later */
/* engine-feed: what the engine's per-sample path costs at scale — CPU nanoseconds per
 * process-sample when N processes are each sampled once a simulated second, in turn,
 * as the sampler hands them over (core/sampler.c's tick loop), through the engine's
 * own listener: the detectors of every time scale, the limit judge and the
 * classification trail, with their evaluations as they fall due.
 *
 *     engine-feed [PROCESSES [WARM_S [TIMED_S]]]     (default 10000 900 300)
 *
 * Between two samples of one process the others' samples pass: at 10,000 processes
 * their state does not stay in the caches, which is what the daemon pays. The first
 * WARM_S simulated seconds fill the windows (untimed); the next TIMED_S are timed, the
 * tick's samples made beforehand so only the engine is. One process in fifty leaks
 * (5 %/min from the tenth minute on); the others are steady, a page or a descriptor
 * more now and then. The
 * last line is a digest of every verdict and alert event: two builds that judge alike
 * print the same one. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "settings.h"
#include "store.h"

#define MIB (1024.0 * 1024.0)
/* The simulated clock starts in 2001; the processes started a week before, past every
 * warm-up and start-up wait, as on a host the daemon has watched for long. */
#define T0_MS INT64_C(1000000000000)
#define STARTED_MS (T0_MS - INT64_C(7) * 86400 * 1000)

struct digest {
        uint64_t h;
        unsigned long verdicts, alerts;
};

static void mix(struct digest *d, uint64_t v)
{
        d->h = (d->h ^ v) * UINT64_C(0x100000001b3);
}

static void on_verdict(void *userdata, const struct sampler_proc *p, const struct store_verdict *v)
{
        struct digest *d = userdata;

        d->verdicts++;
        mix(d, (uint64_t)p->id);
        mix(d, (uint64_t)v->t_ms);
        mix(d, (uint64_t)v->state[0] << 8 | (uint64_t)v->previous[0]);
}

static void on_alert(void *userdata, const struct sampler_proc *p UNUSED, const struct alert *a)
{
        struct digest *d = userdata;

        d->alerts++;
        mix(d, (uint64_t)a->row.process_id);
        mix(d, (uint64_t)a->t_ms);
        mix(d, (uint64_t)a->event);
}

static double no_headroom(void *userdata UNUSED, const struct sampler_proc *p UNUSED, enum detect_kind m UNUSED,
                          double level UNUSED, const char **ret_kind)
{
        *ret_kind = NULL;
        return NAN;
}

/* Each process's cgroup has a memory.max 100 MiB above its steady size: a leaker comes
 * within the limit horizon and is told by the limit judge too. */
static void memory_max(void *userdata UNUSED, const struct sampler_proc *p, const struct sample *smp,
                       enum detect_kind m, struct limit_set *ret)
{
        double level;

        limit_set_init(ret);
        if (m != DETECT_MEMORY || !detect_value(smp, m, &level))
                return;
        ret->level = level;
        ret->room[LIMIT_MEMORY_MAX] = fmax(50 * MIB + (double)((size_t)(p->id - 1) % 97) * MIB + 100 * MIB - level, 0);
}

static double cpu_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A deterministic generator, so both builds see the same samples. */
static uint64_t rnd(uint64_t *s)
{
        *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        return *s >> 33;
}

static void make_sample(struct sample *smp, size_t i, int64_t t_ms, uint64_t *seed)
{
        /* A process that sleeps, as the daemon's measured farm: its memory steady, a
         * page more or less now and then, a descriptor opened and closed. */
        double anon = 50 * MIB + (double)(i % 97) * MIB + (double)(rnd(seed) % 64 == 0) * 4096;
        int64_t fds = 20 + (int64_t)(rnd(seed) % 64 == 0);

        /* One in fifty leaks 5 % a minute of its base from the tenth minute on. */
        if (i % 50 == 7 && t_ms > T0_MS + 600000)
                anon += (50 * MIB) * 0.05 * (double)(t_ms - T0_MS - 600000) / 60000;
        *smp = (struct sample){ .t_ms = t_ms };
        sample_set(smp, M_ANON, (int64_t)anon);
        sample_set(smp, M_SWAP, 0);
        sample_set(smp, M_FILE, 8 * 1024 * 1024);
        sample_set(smp, M_SHMEM, 0);
        sample_set(smp, M_RSS, (int64_t)anon + 8 * 1024 * 1024);
        sample_set(smp, M_FDS, fds);
}

int main(int argc, char **argv)
{
        size_t n = argc > 1 ? (size_t)atol(argv[1]) : 10000;
        unsigned warm = argc > 2 ? (unsigned)atoi(argv[2]) : 900, timed = argc > 3 ? (unsigned)atoi(argv[3]) : 300;
        char dir[] = "/tmp/leakwatch-engine-feed-XXXXXX", path[64];
        struct sampler_proc *procs;
        struct sample *smps;
        struct sampler_listener l;
        struct digest dg = { .h = UINT64_C(0xcbf29ce484222325) };
        struct config cfg;
        struct store *st;
        struct engine *e;
        uint64_t seed = 1;
        double spent = 0;
        int r;

        if (n == 0 || !mkdtemp(dir))
                return 1;
        snprintf(path, sizeof(path), "%s/lw.db", dir);
        if (store_open(path, STORE_RW, &st, NULL, 0) < 0 || config_defaults(&cfg) < 0 ||
            config_add_manual_rule(&cfg) < 0) {
                fprintf(stderr, "engine-feed: no store or configuration\n");
                return 1;
        }
        cfg.interval = 1;
        r = engine_new(&(struct engine_env){ .store = st, .boot_id = "boot",
                                            .limits = { .headroom = no_headroom, .read = memory_max },
                                            .sink = { .verdict = on_verdict, .alert = on_alert, .userdata = &dg } },
                       &cfg, &e);
        procs = calloc(n, sizeof(*procs));
        smps = calloc(n, sizeof(*smps));
        if (r < 0 || !procs || !smps) {
                fprintf(stderr, "engine-feed: out of memory\n");
                return 1;
        }
        engine_listener(e, &l);
        for (size_t i = 0; i < n; i++) {
                procs[i] = (struct sampler_proc){ .id = (int64_t)i + 1, .slot = i, .pid = (pid_t)(1000 + i),
                                                  .start_ms = STARTED_MS, .comm = "worker", .cmdline = "worker",
                                                  .unit = "", .cgroup = "/bench.slice", .uid = 1000, .rule = 0,
                                                  .rule_id = 1, .generation = 1, .is_new = true };
                l.started(l.userdata, &procs[i], false, T0_MS);
        }
        for (unsigned s = 0; s < warm + timed; s++) {
                int64_t t_ms = T0_MS + (int64_t)s * 1000;
                double a;

                for (size_t i = 0; i < n; i++)
                        make_sample(&smps[i], i, t_ms, &seed);
                a = cpu_ns();
                for (size_t i = 0; i < n; i++)
                        l.sampled(l.userdata, &procs[i], &smps[i]);
                if (s >= warm)
                        spent += cpu_ns() - a;
        }
        printf("engine-feed: %zu processes, one sample a second each; %u s warm, %u s timed\n", n, warm, timed);
        printf("per sample: %.1f ns CPU\n", spent / ((double)n * timed));
        printf("decisions: %lu verdicts, %lu alert events, digest %016" PRIx64 "\n", dg.verdicts, dg.alerts, dg.h);
        engine_free(e);
        store_close(st);
        config_free(&cfg);
        free(procs);
        free(smps);
        unlink(path);
        (void)rmdir(dir);
        return 0;
}
