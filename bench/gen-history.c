/* gen-history: writes a leakwatch database as the daemon leaves it after a month of
 * watching many processes, for the client's query benchmark (bench/client-queries.sh).
 *
 *   gen-history PATH [PROCESSES [DAYS]]      (defaults: 1000 processes, 30 days)
 *
 * The schema comes from store_open() (the daemon's own migrations); the rows are then
 * written in bulk, in key order, as retention keeps them with the default settings
 * (leakwatch.conf(5)): raw samples every 10 s for the last 2 days (in `sample`, the last
 * 10 minutes still in `sample_recent`, as between two folds), minute rollups for 14
 * days, hour rollups for the whole span, rule sums for 14 days. Rollups are computed
 * from the same samples, as the daemon's fold computes them, so every query sees a
 * consistent history. A tenth of the processes leak, and have an open alert.
 *
 * Deterministic: the clock is GEN_NOW_MS and the noise a hash of (process, time). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util.h"

#define GEN_NOW_MS INT64_C(1795521600000)     /* 2026-11-24T12:00:00Z */
#define INTERVAL_MS INT64_C(10000)              /* the daemon's default interval */
#define MINUTE_MS INT64_C(60000)
#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)
#define RAW_KEEP_MS (2 * DAY_MS)                /* retention-raw */
#define MINUTE_KEEP_MS (14 * DAY_MS)            /* retention-minute */
#define FOLD_MS (GEN_NOW_MS - 10 * MINUTE_MS)   /* samples after this wait in sample_recent */
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

static int exec(sqlite3 *db, const char *sql)
{
        char *msg = NULL;

        if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
                fprintf(stderr, "gen-history: %s: %s\n", sql, msg ? msg : "?");
                sqlite3_free(msg);
                return -EIO;
        }
        return 0;
}

static int step(sqlite3 *db, sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);

        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                fprintf(stderr, "gen-history: %s\n", sqlite3_errmsg(db));
                return -EIO;
        }
        return 0;
}

/* Binds a raw sample: the rollup metrics, and the rest derived; smaps every 6th tick. */
static void bind_sample(sqlite3_stmt *st, int col, const int64_t v[R__MAX], int64_t k)
{
        bool smaps = k % 6 == 0;

        sqlite3_bind_int64(st, col++, v[R_RSS]);
        sqlite3_bind_int64(st, col++, v[R_ANON]);
        sqlite3_bind_int64(st, col++, v[R_FILE]);
        sqlite3_bind_int64(st, col++, v[R_SHMEM]);
        sqlite3_bind_int64(st, col++, v[R_SWAP]);
        sqlite3_bind_int64(st, col++, v[R_ANON] + 4 * KIB);    /* data */
        sqlite3_bind_int64(st, col++, v[R_VSIZE]);
        sqlite3_bind_int64(st, col++, 8);                       /* threads */
        sqlite3_bind_int64(st, col++, v[R_FDS]);
        sqlite3_bind_int64(st, col++, 1000 + k * 3);            /* minflt */
        sqlite3_bind_int64(st, col++, 2);                       /* majflt */
        for (int i = 0; i < 6; i++, col++) {
                if (smaps)
                        sqlite3_bind_int64(st, col, i < 2 ? v[i == 0 ? R_PSS : R_USS] : v[R_ANON] / (i + 1));
                else
                        sqlite3_bind_null(st, col);
        }
        /* smaps and heap "skipped" between their reads (lib/sample.h: 7, groups 3 and 4). */
        sqlite3_bind_int64(st, col, smaps ? 0 : (7 << 12) | (7 << 16));
}

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

static int bucket_put(sqlite3 *db, sqlite3_stmt *st, int64_t id, int64_t res, int64_t t, struct bucket *b)
{
        int col = 5;
        int r;

        if (b->n == 0)
                return 0;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, res);
        sqlite3_bind_int64(st, 3, t);
        sqlite3_bind_int64(st, 4, b->n);
        for (int i = 0; i < R__MAX; i++) {
                sqlite3_bind_int64(st, col++, b->min[i]);
                sqlite3_bind_int64(st, col++, b->max[i]);
                sqlite3_bind_double(st, col++, b->sum[i] / (double)b->n);
        }
        r = step(db, st);
        memset(b, 0, sizeof(*b));
        return r;
}

#define SAMPLE_COLS "rss, anon, file, shmem, swap, data, vsize, threads, fds, minflt, majflt, pss, uss, pss_anon, " \
        "swap_pss, heap_size, heap_rss, unknown"
#define SAMPLE_MARKS "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"

static int generate(sqlite3 *db, int64_t nproc, int64_t days)
{
        sqlite3_stmt *ins_proc = NULL, *ins_sample = NULL, *ins_recent = NULL, *ins_rollup = NULL, *ins_rule = NULL,
                     *ins_alert = NULL;
        int64_t start = GEN_NOW_MS - days * DAY_MS;
        int64_t (*rule_sum)[R__MAX] = NULL;
        int64_t ticks = MINUTE_KEEP_MS / INTERVAL_MS;
        int r = -EIO;

        if (sqlite3_prepare_v2(db, "INSERT INTO process (id, boot_id, pid, start_ticks, start_ms, ppid, uid, comm, "
                                   "cmdline, unit, cgroup, rule_id, generation, first_ms, last_ms) VALUES "
                                   "(?1, 'bench-boot', ?2, ?1, ?3, 1, 1000, ?4, ?5, ?6, ?7, ?8, 1, ?3, ?3)", -1,
                               &ins_proc, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO sample (process_id, t, " SAMPLE_COLS ") VALUES (?, ?, " SAMPLE_MARKS ")",
                               -1, &ins_sample, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO sample_recent (process_id, t, " SAMPLE_COLS ") VALUES (?, ?, "
                                   SAMPLE_MARKS ")", -1, &ins_recent, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                   "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &ins_rollup, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO rule_sample (rule_id, generation, t, nproc, rss, anon, file, shmem, "
                                   "swap, vsize, fds, unknown) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)", -1,
                               &ins_rule, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(db, "INSERT INTO alert (id, process_id, rule_id, metric, state, start_ms, slope, "
                                   "slope_low, slope_high, growth, growth_rel, level, p_value, evidence_from, "
                                   "evidence_to, reason, kind) VALUES (?1, ?1, ?2, 'memory', 'leaking', ?3, ?4, "
                                   "?4 * 0.8, ?4 * 1.2, ?4 * 21600, 0.1, ?5, 0.001, ?3 - 21600000, ?3, "
                                   "'floor rising in every quarter', 'steady')", -1, &ins_alert, NULL) != SQLITE_OK) {
                fprintf(stderr, "gen-history: %s\n", sqlite3_errmsg(db));
                goto out;
        }
        rule_sum = calloc((size_t)(RULES * ticks), sizeof(*rule_sum));
        if (!rule_sum) {
                r = -ENOMEM;
                goto out;
        }
        for (int rl = 1; rl <= RULES; rl++) {
                char sql[256];

                snprintf(sql, sizeof(sql), "INSERT INTO rule (id, name, spec, first_ms, last_ms) VALUES (%d, 'svc%d', "
                         "'name=svc-*%d', %" PRId64 ", %" PRId64 ")", rl, rl, rl, start, start);
                if (exec(db, sql) < 0)
                        goto out;
        }
        for (int64_t id = 1; id <= nproc; id++) {
                struct proc_model m;
                struct bucket minute = { 0 }, hour = { 0 };
                int64_t minute_t = -1, hour_t = -1, rule = 1 + (id - 1) % RULES;
                char comm[32], cmdline[96], unit_name[48];

                model(id, &m);
                snprintf(comm, sizeof(comm), "svc-%04" PRId64, id);
                snprintf(cmdline, sizeof(cmdline), "/usr/bin/svc --instance %" PRId64 " --config /etc/svc.conf", id);
                snprintf(unit_name, sizeof(unit_name), "svc@%" PRId64 ".service", id);
                sqlite3_bind_int64(ins_proc, 1, id);
                sqlite3_bind_int64(ins_proc, 2, 10000 + id);
                sqlite3_bind_int64(ins_proc, 3, start);
                sqlite3_bind_text(ins_proc, 4, comm, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(ins_proc, 5, cmdline, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(ins_proc, 6, unit_name, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(ins_proc, 7, "/system.slice", -1, SQLITE_STATIC);
                sqlite3_bind_int64(ins_proc, 8, rule);
                if (step(db, ins_proc) < 0)
                        goto out;
                /* Hour rollups for the whole span, minute rollups and raw samples for their
                 * retention: rows of one process are written in key order, table by table. */
                for (int pass = 0; pass < 3; pass++) {
                        int64_t from = pass == 0 ? start : pass == 1 ? GEN_NOW_MS - MINUTE_KEEP_MS
                                                                     : GEN_NOW_MS - RAW_KEEP_MS;

                        for (int64_t t = from, k = (from - start) / INTERVAL_MS; t < FOLD_MS; t += INTERVAL_MS, k++) {
                                int64_t v[R__MAX];

                                sample_at(id, &m, t, v);
                                if (pass == 0) {
                                        if (t - t % HOUR_MS != hour_t &&
                                            bucket_put(db, ins_rollup, id, HOUR_MS, hour_t, &hour) < 0)
                                                goto out;
                                        hour_t = t - t % HOUR_MS;
                                        bucket_add(&hour, v);
                                } else if (pass == 1) {
                                        int64_t tick = (t - (GEN_NOW_MS - MINUTE_KEEP_MS)) / INTERVAL_MS;

                                        if (t - t % MINUTE_MS != minute_t &&
                                            bucket_put(db, ins_rollup, id, MINUTE_MS, minute_t, &minute) < 0)
                                                goto out;
                                        minute_t = t - t % MINUTE_MS;
                                        bucket_add(&minute, v);
                                        for (int i = 0; i < R__MAX; i++)
                                                rule_sum[(rule - 1) * ticks + tick][i] += v[i];
                                } else {
                                        sqlite3_bind_int64(ins_sample, 1, id);
                                        sqlite3_bind_int64(ins_sample, 2, t);
                                        bind_sample(ins_sample, 3, v, k);
                                        if (step(db, ins_sample) < 0)
                                                goto out;
                                }
                        }
                        if (pass == 0 && bucket_put(db, ins_rollup, id, HOUR_MS, hour_t, &hour) < 0)
                                goto out;
                        if (pass == 1 && bucket_put(db, ins_rollup, id, MINUTE_MS, minute_t, &minute) < 0)
                                goto out;
                }
                if (m.slope > 0) {
                        sqlite3_bind_int64(ins_alert, 1, id);
                        sqlite3_bind_int64(ins_alert, 2, rule);
                        sqlite3_bind_int64(ins_alert, 3, MAX((int64_t)m.onset + 6 * HOUR_MS, start + 6 * HOUR_MS));
                        sqlite3_bind_double(ins_alert, 4, m.slope * 1024 * 1000);
                        sqlite3_bind_double(ins_alert, 5, m.base * 1024);
                        if (step(db, ins_alert) < 0)
                                goto out;
                }
                if (id % 100 == 0)
                        fprintf(stderr, "gen-history: %" PRId64 "/%" PRId64 " processes\n", id, nproc);
        }
        /* The recent table is keyed by time: a tick of every process, tick after tick. */
        for (int64_t t = FOLD_MS, k = (FOLD_MS - start) / INTERVAL_MS; t <= GEN_NOW_MS; t += INTERVAL_MS, k++)
                for (int64_t id = 1; id <= nproc; id++) {
                        struct proc_model m;
                        int64_t v[R__MAX];

                        model(id, &m);
                        sample_at(id, &m, t, v);
                        sqlite3_bind_int64(ins_recent, 1, id);
                        sqlite3_bind_int64(ins_recent, 2, t);
                        bind_sample(ins_recent, 3, v, k);
                        if (step(db, ins_recent) < 0)
                                goto out;
                }
        for (int rl = 1; rl <= RULES; rl++)
                for (int64_t tick = 0; tick < (FOLD_MS - (GEN_NOW_MS - MINUTE_KEEP_MS)) / INTERVAL_MS; tick++) {
                        const int64_t *s = rule_sum[(rl - 1) * ticks + tick];

                        sqlite3_bind_int64(ins_rule, 1, rl);
                        sqlite3_bind_int64(ins_rule, 2, GEN_NOW_MS - MINUTE_KEEP_MS + tick * INTERVAL_MS);
                        sqlite3_bind_int64(ins_rule, 3, (nproc + RULES - rl) / RULES);
                        for (int i = 0; i < R_PSS; i++)
                                sqlite3_bind_int64(ins_rule, 4 + i, s[i]);
                        if (step(db, ins_rule) < 0)
                                goto out;
                }
        r = exec(db, "INSERT INTO daemon_event (t, kind) VALUES (1795521600000 - 30 * 86400000, 'start')");
out:
        free(rule_sum);
        sqlite3_finalize(ins_proc);
        sqlite3_finalize(ins_sample);
        sqlite3_finalize(ins_recent);
        sqlite3_finalize(ins_rollup);
        sqlite3_finalize(ins_rule);
        sqlite3_finalize(ins_alert);
        return r;
}

int main(int argc, char **argv)
{
        int64_t nproc = 1000, days = 30;
        struct store *st;
        sqlite3 *db;
        char err[256];
        int r;

        if (argc < 2 || argc > 4 || (argc > 2 && parse_int64(argv[2], 1, 100000, &nproc) < 0) ||
            (argc > 3 && parse_int64(argv[3], 3, 400, &days) < 0)) {
                fprintf(stderr, "usage: gen-history PATH [PROCESSES [DAYS]]\n");
                return 2;
        }
        (void)remove(argv[1]);
        /* The daemon's own schema and settings. */
        r = store_open(argv[1], STORE_RW, &st, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "gen-history: %s: %s\n", argv[1], err);
                return 1;
        }
        store_close(st);
        if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
                fprintf(stderr, "gen-history: %s: %s\n", argv[1], sqlite3_errmsg(db));
                return 1;
        }
        /* A bulk load that starts over on failure needs no journal. */
        r = exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; BEGIN");
        if (r == 0)
                r = generate(db, nproc, days);
        if (r == 0)
                r = exec(db, "COMMIT; PRAGMA journal_mode = WAL");
        sqlite3_close(db);
        if (r < 0) {
                (void)remove(argv[1]);
                return 1;
        }
        return 0;
}
