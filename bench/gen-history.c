/* SPDX-License-Identifier: GPL-2.0-or-later */
/* gen-history: writes a leakwatch database as the daemon leaves it after a month of
 * watching many processes, for the client's query benchmark (bench/client-queries.sh).
 *
 *   gen-history PATH [PROCESSES [DAYS]]      (defaults: 1000 processes, 30 days)
 *
 * The schema comes from store_open() (the daemon's own migrations); the rows are then
 * written in bulk (store/raw.h), in key order, as retention keeps them with the default settings
 * (leakwatch.conf(5)): raw samples every 10 s for the last 2 days (in `sample`, the last
 * 10 minutes still in `sample_batch`, as between two folds), minute rollups for 14
 * days, hour rollups for the whole span, rule sums for 14 days. Rollups are computed
 * from the same samples, as the daemon's fold computes them, so every query sees a
 * consistent history. A tenth of the processes leak, and have an open alert.
 *
 * Deterministic: the clock is GEN_NOW_MS and the noise a hash of (process, time). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raw.h"
#include "store.h"
#include "util.h"

#define GEN_NOW_MS INT64_C(1795521600000)     /* 2026-11-24T12:00:00Z */
#define INTERVAL_MS INT64_C(10000)              /* the daemon's default interval */
#define MINUTE_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)
#define RAW_KEEP_MS (2 * DAY_MS)                /* retention-raw */
#define MINUTE_KEEP_MS (14 * DAY_MS)            /* retention-minute */
#define FOLD_MS (GEN_NOW_MS - 10 * MINUTE_MS)   /* samples after this wait in sample_batch */
#define RULES 10
#define KIB 1024

/* The rollup metrics, in the column order of sql/001-initial.sql. */
enum { R_RSS, R_ANON, R_FILE, R_SHMEM, R_SWAP, R_VSIZE, R_FDS, R_PSS, R_USS, R__MAX };

struct proc_model {
        double base, saw, period, phase, slope, onset;  /* KiB, KiB, ms, ms, KiB/ms, ms */
        int fds;
};

static uint64_t mix(uint64_t x)
{
        x ^= x >> 33;
        x *= UINT64_C(0xff51afd7ed558ccd);
        x ^= x >> 33;
        x *= UINT64_C(0xc4ceb9fe1a85ec53);
        return x ^ (x >> 33);
}

static double unit(uint64_t seed)
{
        return (double)(mix(seed) >> 11) / 9007199254740992.0;
}

static void model(int64_t id, struct proc_model *m)
{
        m->base = (50 + 450 * unit((uint64_t)id * 7 + 1)) * 1024;          /* 50..500 MiB */
        m->saw = m->base * (0.02 + 0.2 * unit((uint64_t)id * 7 + 2));
        m->period = (60 + 1800 * unit((uint64_t)id * 7 + 3)) * 1000;       /* GC every 1..31 min */
        m->phase = m->period * unit((uint64_t)id * 7 + 4);
        /* One in ten leaks 1..20 MiB/h from some time in the month. */
        m->slope = id % 10 == 3 ? (1 + 19 * unit((uint64_t)id * 7 + 5)) * 1024 / (double)HOUR_MS : 0;
        m->onset = (double)(GEN_NOW_MS - (int64_t)(unit((uint64_t)id * 7 + 6) * 20 * DAY_MS));
        m->fds = 10 + (int)(200 * unit((uint64_t)id * 7 + 7));
}

/* The values of one sample (KiB, counts), rollup metrics only; the others follow. */
static void sample_at(int64_t id, const struct proc_model *m, int64_t t, int64_t v[R__MAX])
{
        double anon = m->base + m->saw * fmod((double)t + m->phase, m->period) / m->period +
                      256 * unit((uint64_t)id << 40 ^ (uint64_t)t);

        if (m->slope > 0 && (double)t > m->onset)
                anon += m->slope * ((double)t - m->onset);
        v[R_ANON] = (int64_t)anon;
        v[R_FILE] = 24 * KIB;
        v[R_SHMEM] = 2 * KIB;
        v[R_SWAP] = 0;
        v[R_RSS] = v[R_ANON] + v[R_FILE] + v[R_SHMEM];
        v[R_VSIZE] = v[R_ANON] + 400 * KIB;
        v[R_FDS] = m->fds;
        v[R_PSS] = v[R_ANON] + v[R_FILE] / 2;
        v[R_USS] = v[R_ANON];
}

/* One raw sample of the model at tick k: the rollup metrics, and the rest derived from
 * them; smaps and the heap record every 6th tick, "skipped" in between. */
static void make_sample(const int64_t v[R__MAX], int64_t t, int64_t k, struct sample *smp)
{
        bool smaps = k % 6 == 0;

        *smp = (struct sample){ .t_ms = t };
        sample_set(smp, M_RSS, v[R_RSS] * KIB);
        sample_set(smp, M_ANON, v[R_ANON] * KIB);
        sample_set(smp, M_FILE, v[R_FILE] * KIB);
        sample_set(smp, M_SHMEM, v[R_SHMEM] * KIB);
        sample_set(smp, M_SWAP, v[R_SWAP] * KIB);
        sample_set(smp, M_DATA, (v[R_ANON] + 4 * KIB) * KIB);
        sample_set(smp, M_VSIZE, v[R_VSIZE] * KIB);
        sample_set(smp, M_THREADS, 8);
        sample_set(smp, M_FDS, v[R_FDS]);
        sample_set(smp, M_MINFLT, 1000 + k * 3);
        sample_set(smp, M_MAJFLT, 2);
        if (smaps) {
                sample_set(smp, M_PSS, v[R_PSS] * KIB);
                sample_set(smp, M_USS, v[R_USS] * KIB);
                sample_set(smp, M_PSS_ANON, v[R_ANON] / 3 * KIB);
                sample_set(smp, M_SWAP_PSS, v[R_ANON] / 4 * KIB);
                sample_set(smp, M_HEAP_SIZE, v[R_ANON] / 5 * KIB);
                sample_set(smp, M_HEAP_RSS, v[R_ANON] / 6 * KIB);
        } else {
                sample_set_unknown(smp, G_SMAPS, UNK_SKIPPED);
                sample_set_unknown(smp, G_HEAP, UNK_SKIPPED);
        }
}

/* The rollup metrics in R_ order, as the sample API knows them. */
static const enum metric r_metric[R__MAX] = { M_RSS, M_ANON, M_FILE, M_SHMEM, M_SWAP, M_VSIZE, M_FDS, M_PSS, M_USS };

struct bucket {
        int64_t n;
        int64_t min[R__MAX], max[R__MAX];
        double sum[R__MAX];
};

static void bucket_add(struct bucket *b, const int64_t v[R__MAX])
{
        for (int i = 0; i < R__MAX; i++) {
                if (b->n == 0 || v[i] < b->min[i])
                        b->min[i] = v[i];
                if (b->n == 0 || v[i] > b->max[i])
                        b->max[i] = v[i];
                b->sum[i] += (double)v[i];
        }
        b->n++;
}

/* Writes the bucket (KiB and counts, as the model keeps them) and empties it. */
static int bucket_put(struct store *st, int64_t id, int64_t res, int64_t t, struct bucket *b)
{
        struct store_rollup ru = { .res_ms = res, .t_ms = t, .n = b->n };
        int r;

        if (b->n == 0)
                return 0;
        for (int i = 0; i < R__MAX; i++) {
                enum metric m = r_metric[i];
                int64_t scale = metric_info[m].unit == UNIT_BYTES ? KIB : 1;

                ru.cnt[m] = b->n;
                ru.min[m] = b->min[i] * scale;
                ru.max[m] = b->max[i] * scale;
                ru.mean[m] = b->sum[i] / (double)b->n * (double)scale;
        }
        r = store_bulk_rollup(st, id, &ru);
        memset(b, 0, sizeof(*b));
        return r;
}

static int generate(struct store *st, int64_t nproc, int64_t days)
{
        int64_t start = GEN_NOW_MS - days * DAY_MS;
        int64_t (*rule_sum)[R__MAX] = NULL;
        int64_t ticks = MINUTE_KEEP_MS / INTERVAL_MS;
        int r = 0;

        rule_sum = calloc((size_t)(RULES * ticks), sizeof(*rule_sum));
        if (!rule_sum)
                return -ENOMEM;
        for (int rl = 1; r == 0 && rl <= RULES; rl++) {
                char name[16], spec[32];
                int64_t id;

                snprintf(name, sizeof(name), "svc%d", rl);
                snprintf(spec, sizeof(spec), "name=svc-*%d", rl);
                r = store_put_rule(st, name, spec, start, &id);
                if (r == 0 && id != rl)
                        r = -EIO;       /* rules are numbered from 1 in a new database */
        }
        for (int64_t id = 1; r == 0 && id <= nproc; id++) {
                struct proc_model m;
                struct bucket minute = { 0 }, hour = { 0 };
                int64_t minute_t = -1, hour_t = -1, rule = 1 + (id - 1) % RULES;
                char comm[32], cmdline[96], unit_name[48];
                struct store_process p;

                model(id, &m);
                snprintf(comm, sizeof(comm), "svc-%04" PRId64, id);
                snprintf(cmdline, sizeof(cmdline), "/usr/bin/svc --instance %" PRId64 " --config /etc/svc.conf", id);
                snprintf(unit_name, sizeof(unit_name), "svc@%" PRId64 ".service", id);
                p = (struct store_process){
                        .id = id, .boot_id = "bench-boot", .pid = (int32_t)(10000 + id), .start_ticks = id,
                        .start_ms = start, .ppid = 1, .uid = 1000, .comm = comm, .comm_len = strlen(comm),
                        .cmdline = cmdline, .cmdline_len = strlen(cmdline), .unit = unit_name,
                        .cgroup = "/system.slice", .rule_id = rule, .generation = 1, .first_ms = start,
                };
                r = store_put(st, &(struct store_row){ .kind = STORE_PROCESS, .process = p });
                /* Hour rollups for the whole span, minute rollups and raw samples for their
                 * retention: rows of one process are written in key order, table by table. */
                for (int pass = 0; r == 0 && pass < 3; pass++) {
                        int64_t from = pass == 0 ? start : pass == 1 ? GEN_NOW_MS - MINUTE_KEEP_MS
                                                                     : GEN_NOW_MS - RAW_KEEP_MS;

                        for (int64_t t = from, k = (from - start) / INTERVAL_MS; r == 0 && t < FOLD_MS;
                             t += INTERVAL_MS, k++) {
                                int64_t v[R__MAX];

                                sample_at(id, &m, t, v);
                                if (pass == 0) {
                                        if (t - t % HOUR_MS != hour_t)
                                                r = bucket_put(st, id, HOUR_MS, hour_t, &hour);
                                        hour_t = t - t % HOUR_MS;
                                        bucket_add(&hour, v);
                                } else if (pass == 1) {
                                        int64_t tick = (t - (GEN_NOW_MS - MINUTE_KEEP_MS)) / INTERVAL_MS;

                                        if (t - t % MINUTE_MS != minute_t)
                                                r = bucket_put(st, id, MINUTE_MS, minute_t, &minute);
                                        minute_t = t - t % MINUTE_MS;
                                        bucket_add(&minute, v);
                                        for (int i = 0; i < R__MAX; i++)
                                                rule_sum[(rule - 1) * ticks + tick][i] += v[i];
                                } else {
                                        struct sample smp;

                                        make_sample(v, t, k, &smp);
                                        r = store_bulk_sample(st, true, id, &smp);
                                }
                        }
                        if (r == 0 && pass == 0)
                                r = bucket_put(st, id, HOUR_MS, hour_t, &hour);
                        if (r == 0 && pass == 1)
                                r = bucket_put(st, id, MINUTE_MS, minute_t, &minute);
                }
                if (r == 0 && m.slope > 0) {
                        int64_t opened = MAX((int64_t)m.onset + 6 * HOUR_MS, start + 6 * HOUR_MS);
                        double slope = m.slope * 1024 * 1000;
                        struct store_alert a = {
                                .id = id, .process_id = id, .rule_id = rule, .metric = "memory", .state = "leaking",
                                .start_ms = opened, .kind = "steady",
                                .ev = { .slope = slope, .slope_low = slope * 0.8, .slope_high = slope * 1.2,
                                        .growth = slope * 21600, .growth_rel = 0.1, .level = m.base * 1024,
                                        .p = 0.001, .forecast = NAN, .t_from = (double)(opened - 21600000) / 1000,
                                        .t_to = (double)opened / 1000, .reason = "floor rising in every quarter" },
                        };

                        r = store_put(st, &(struct store_row){ .kind = STORE_ALERT, .alert = a });
                }
                if (id % 100 == 0)
                        fprintf(stderr, "gen-history: %" PRId64 "/%" PRId64 " processes\n", id, nproc);
        }
        /* The recent samples come as the writer puts them: a tick of every process, tick
         * after tick, into batches. */
        for (int64_t t = FOLD_MS, k = (FOLD_MS - start) / INTERVAL_MS; r == 0 && t <= GEN_NOW_MS;
             t += INTERVAL_MS, k++)
                for (int64_t id = 1; r == 0 && id <= nproc; id++) {
                        struct proc_model m;
                        struct sample smp;
                        int64_t v[R__MAX];

                        model(id, &m);
                        sample_at(id, &m, t, v);
                        make_sample(v, t, k, &smp);
                        r = store_bulk_sample(st, false, id, &smp);
                }
        for (int rl = 1; r == 0 && rl <= RULES; rl++)
                for (int64_t tick = 0; r == 0 && tick < (FOLD_MS - (GEN_NOW_MS - MINUTE_KEEP_MS)) / INTERVAL_MS;
                     tick++) {
                        const int64_t *v = rule_sum[(rl - 1) * ticks + tick];
                        struct sample sum = { .t_ms = GEN_NOW_MS - MINUTE_KEEP_MS + tick * INTERVAL_MS };

                        for (int i = 0; i < R_PSS; i++)
                                sample_set(&sum, r_metric[i],
                                           v[i] * (metric_info[r_metric[i]].unit == UNIT_BYTES ? KIB : 1));
                        r = store_put(st, &(struct store_row){
                                .kind = STORE_RULE_SAMPLE,
                                .sample = { .id = rl, .generation = 1, .nproc = (unsigned)((nproc + RULES - rl) / RULES),
                                            .s = sum } });
                }
        if (r == 0)
                r = store_put(st, &(struct store_row){ .kind = STORE_EVENT,
                                                       .event = { .t_ms = GEN_NOW_MS - 30 * DAY_MS, .kind = "start" } });
        free(rule_sum);
        return r;
}

int main(int argc, char **argv)
{
        int64_t nproc = 1000, days = 30;
        struct store *st;
        char err[256];
        int r;

        if (argc < 2 || argc > 4 || (argc > 2 && parse_int64(argv[2], 1, 100000, &nproc) < 0) ||
            (argc > 3 && parse_int64(argv[3], 3, 400, &days) < 0)) {
                fprintf(stderr, "usage: gen-history PATH [PROCESSES [DAYS]]\n");
                return 2;
        }
        (void)remove(argv[1]);
        /* The daemon's own schema and settings, then one unjournalled transaction. */
        r = store_bulk_open(argv[1], &st, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "gen-history: %s: %s\n", argv[1], err);
                return 1;
        }
        r = generate(st, nproc, days);
        if (r < 0)
                fprintf(stderr, "gen-history: %s: %s\n", argv[1], store_errmsg(st));
        if (store_bulk_finish(st) < 0 && r == 0)
                r = -EIO;
        if (r < 0) {
                (void)remove(argv[1]);
                return 1;
        }
        return 0;
}
