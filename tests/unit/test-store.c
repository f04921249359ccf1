/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for store: migrations, refusal of foreign or newer databases, batched writes,
 * folding, rollups, retention, the size cap (a stand-in for a full disk), and reads. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "query.h"
#include "raw.h"
#include "sql-migrations.h"
#include "store.h"
#include "util.h"
#include "tmpdir.h"
#include "sample-eq.h"

#define MIB (1024 * 1024)

struct fixture {
        char dir[64];
        char path[128];
        struct store *st;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        char err[256];

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-store-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/lw.db", f->dir);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, err, sizeof(err)), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        store_close(f->st);
        /* Everything the test left in its directory: databases, -wal and -shm files. */
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

/* Runs SQL on a separate raw connection, for white-box setup and checks. */
static void raw_exec(const char *path, const char *sql)
{
        assert_int_equal(store_raw_exec(path, sql), 0);
}

static int64_t raw_int(const char *path, const char *sql)
{
        int64_t v = -1;

        assert_int_equal(store_raw_int64(path, sql, &v), 0);
        return v;
}

/* Rows, as the writer would put them. */
static int put_sample(struct store *st, int64_t id, const struct sample *s)
{
        return store_put(st, &(struct store_row){ .kind = STORE_SAMPLE, .sample = { .id = id, .s = *s } });
}

static int end_process(struct store *st, int64_t id, int64_t end_ms, const char *reason)
{
        return store_put(st, &(struct store_row){ .kind = STORE_PROCESS_END,
                                                  .end = { .id = id, .t_ms = end_ms, .reason = reason } });
}

static int reopen_process(struct store *st, int64_t id, int64_t rule_id, int64_t generation)
{
        return store_put(st, &(struct store_row){ .kind = STORE_PROCESS_REOPEN,
                                                  .reopen = { .id = id, .rule_id = rule_id,
                                                              .generation = generation } });
}

static int put_agent(struct store *st, int64_t process_id, const struct agent_report *a)
{
        return store_put(st, &(struct store_row){ .kind = STORE_AGENT_SAMPLE,
                                                  .agent = { .process_id = process_id, .report = a } });
}

static int put_kind(struct store *st, int64_t alert_id, int64_t t_ms, const char *cls, const char *agents)
{
        return store_put(st, &(struct store_row){ .kind = STORE_ALERT_KIND,
                                                  .alert_kind = { .alert_id = alert_id, .t_ms = t_ms, .cls = cls,
                                                                  .agents = agents } });
}

static struct sample mk_sample(int64_t t_ms, int64_t rss)
{
        struct sample s = { .t_ms = t_ms };

        sample_set(&s, M_RSS, rss);
        sample_set(&s, M_ANON, rss / 2);
        sample_set(&s, M_FDS, 7);
        sample_set_unknown(&s, G_SMAPS, UNK_SKIPPED);
        sample_set_unknown(&s, G_HEAP, UNK_DENIED);
        return s;
}

static int64_t add_process(struct store *st, int64_t id, int32_t pid, int64_t rule_id, int64_t t0)
{
        struct store_process p = {
                .id = id, .pid = pid, .start_ticks = 1000 + pid, .ppid = 1, .uid = 0,
                .comm = "wor ker)", .comm_len = 8, .cmdline = "wor ker) --x", .cmdline_len = 12,
                .rule_id = rule_id, .generation = 1, .first_ms = t0,
        };

        snprintf(p.boot_id, sizeof(p.boot_id), "boot-a");
        assert_int_equal(store_put(st, &(struct store_row){ .kind = STORE_PROCESS, .process = p }), 0);
        return id;
}

static void test_create_mode_and_version(void **state)
{
        struct fixture *f = *state;
        struct stat sb;

        assert_int_equal(stat(f->path, &sb), 0);
        /* Process names and command lines of every user: never world-readable. */
        assert_int_equal(sb.st_mode & 0007, 0);
        assert_int_equal(store_schema_version(f->st), store_latest_schema_version());
        assert_true(store_latest_schema_version() >= 1);
        store_close(f->st);
        /* WAL mode is recorded in the file itself: bytes 18 and 19 of the header, the
         * read and write format versions, are 2 (1 for a rollback journal). */
        {
                unsigned char version[2] = { 0 };
                int fd = open(f->path, O_RDONLY | O_CLOEXEC);

                assert_true(fd >= 0);
                assert_int_equal(pread(fd, version, 2, 18), 2);
                close(fd);
                assert_int_equal(version[0], 2);
                assert_int_equal(version[1], 2);
        }
        /* Reopening migrates nothing and keeps the version. */
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, NULL, 0), 0);
        assert_int_equal(store_schema_version(f->st), store_latest_schema_version());
}

static void test_existing_world_readable_file_is_tightened(void **state)
{
        struct fixture *f = *state;
        struct stat sb;

        store_close(f->st);
        assert_int_equal(chmod(f->path, 0644), 0);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, NULL, 0), 0);
        assert_int_equal(stat(f->path, &sb), 0);
        assert_int_equal(sb.st_mode & 0007, 0);
}

static void test_refuses_foreign_and_newer(void **state)
{
        struct fixture *f = *state;
        char other[160], err[256];
        struct store *s2 = NULL;

        snprintf(other, sizeof(other), "%s/other.db", f->dir);
        raw_exec(other, "CREATE TABLE t (x)");
        assert_int_equal(store_open(other, STORE_RW, &s2, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "not a leakwatch database"));
        assert_int_equal(store_open(other, STORE_RO, &s2, err, sizeof(err)), -EBADMSG);
        unlink(other);
        /* Refusing must not have turned someone else's database to WAL mode either. */
        snprintf(other, sizeof(other), "%s/other.db-wal", f->dir);
        assert_int_equal(access(other, F_OK), -1);

        store_close(f->st);
        f->st = NULL;
        raw_exec(f->path, "PRAGMA user_version = 999");
        assert_int_equal(store_open(f->path, STORE_RW, &s2, err, sizeof(err)), -EPROTO);
        assert_non_null(strstr(err, "newer"));
        assert_int_equal(store_open(f->path, STORE_RO, &s2, err, sizeof(err)), -EPROTO);
        {
                char sql[64];
                snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store_latest_schema_version());
                raw_exec(f->path, sql);
        }
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, err, sizeof(err)), 0);
}

/* A database at version 1 is brought to the latest version, step by step, keeping its
 * data. */
static void test_migrates_old_schema(void **state)
{
        struct fixture *f = *state;
        char old[160];
        struct store *s2 = NULL;

        snprintf(old, sizeof(old), "%s/v1.db", f->dir);
        assert_int_equal(sql_migrations[0].version, 1);
        raw_exec(old, sql_migrations[0].sql);
        raw_exec(old, "PRAGMA user_version = 1; "
                      "INSERT INTO rule (name, spec, first_ms, last_ms) VALUES ('old', 'x', 1, 1)");
        assert_int_equal(store_open(old, STORE_RW, &s2, NULL, 0), 0);
        assert_int_equal(store_schema_version(s2), store_latest_schema_version());
        store_close(s2);
        assert_int_equal(raw_int(old, "SELECT count(*) FROM rule WHERE name = 'old'"), 1);
        assert_int_equal(raw_int(old, "SELECT count(*) FROM sqlite_master WHERE name = 'alert'"), 1);
        unlink(old);
}

/* A database at version 7 (before time scales) is read as it is, its alerts without a
 * scale, and upgraded to carry one on the next write open. */
static void test_migrates_v7_to_scales(void **state)
{
        struct fixture *f = *state;
        const char *col = "SELECT count(*) FROM pragma_table_info('alert') WHERE name = 'scale_s'";
        char old[160];
        struct store *s2 = NULL;
        struct query *q = NULL;
        struct query_alert *a = NULL;
        size_t n = 0;

        snprintf(old, sizeof(old), "%s/v7.db", f->dir);
        for (unsigned i = 0; i < sql_migrations_count && sql_migrations[i].version <= 7; i++)
                raw_exec(old, sql_migrations[i].sql);
        raw_exec(old, "PRAGMA user_version = 7; "
                      "INSERT INTO rule (id, name, spec, first_ms, last_ms) VALUES (1, 'old', 'x', 1, 1); "
                      "INSERT INTO process (id, boot_id, pid, start_ticks, comm, cmdline, rule_id, generation, "
                      "first_ms, last_ms) VALUES (1, 'b', 10, 1, 'w', 'w', 1, 0, 1, 1); "
                      "INSERT INTO alert (id, process_id, rule_id, metric, state, start_ms, slope) "
                      "VALUES (1, 1, 1, 'memory', 'leaking', 1000, 5.0)");
        assert_int_equal(raw_int(old, col), 0);
        assert_int_equal(query_open(old, &q, NULL, 0), 0);
        assert_int_equal(query_alerts(q, &(struct query_alert_filter){ 0 }, &a, &n), 0);
        assert_int_equal(n, 1);
        assert_true(isnan(a[0].scale_s));
        query_alerts_free(a, n);
        query_close(q);

        assert_int_equal(store_open(old, STORE_RW, &s2, NULL, 0), 0);
        assert_int_equal(store_schema_version(s2), store_latest_schema_version());
        assert_int_equal(store_schema_version(s2), store_latest_schema_version());
        store_close(s2);
        assert_int_equal(raw_int(old, col), 1);
        assert_int_equal(raw_int(old, "SELECT count(*) FROM pragma_table_info('verdict') WHERE name = 'scale_s'"), 1);
        assert_int_equal(raw_int(old, "SELECT count(*) FROM alert WHERE id = 1 AND scale_s IS NULL"), 1);
        unlink(old);
}

static void test_read_only_open(void **state)
{
        struct fixture *f = *state;
        char missing[160], err[256];
        struct store *ro = NULL;

        snprintf(missing, sizeof(missing), "%s/missing.db", f->dir);
        assert_true(store_open(missing, STORE_RO, &ro, err, sizeof(err)) < 0);
        assert_int_equal(access(missing, F_OK), -1); /* a reader never creates */

        assert_int_equal(store_open(f->path, STORE_RO, &ro, err, sizeof(err)), 0);
        /* The reader does not block the writer: the writer commits while it is open. */
        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 1, 100, 1, 1000);
        assert_int_equal(store_commit(f->st), 0);
        store_close(ro);
}

/* Someone who may read the database but not write its directory (the leakwatch group,
 * with the daemon stopped) can still read it. */
static void test_reader_without_write_access(void **state)
{
        struct fixture *f = *state;
        int status;
        pid_t pid;

        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 1, 100, 1, 1000);
        assert_int_equal(store_commit(f->st), 0);
        store_close(f->st);
        f->st = NULL;
        assert_int_equal(chmod(f->path, 0644), 0);
        assert_int_equal(chmod(f->dir, getuid() == 0 ? 0755 : 0555), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct store *ro = NULL;
                char err[256];
                int r;

                /* Root may write anywhere: read as nobody instead. */
                if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(2);
                r = store_open(f->path, STORE_RO, &ro, err, sizeof(err));
                if (r == 0 && store_schema_version(ro) == store_latest_schema_version()) {
                        store_close(ro);
                        _exit(0);
                }
                fprintf(stderr, "store_open: %s\n", err);
                _exit(1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(chmod(f->dir, 0700), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* The reader created nothing next to it. */
        {
                char shm[160];
                snprintf(shm, sizeof(shm), "%s-shm", f->path);
                assert_int_equal(access(shm, F_OK), -1);
        }
}

static void test_rules(void **state)
{
        struct fixture *f = *state;
        int64_t a, b, c, g;

        assert_int_equal(store_put_rule(f->st, "web", "name=nginx*", 1000, &a), 0);
        assert_int_equal(store_put_rule(f->st, "db", "name=postgres", 1000, &b), 0);
        assert_int_equal(store_put_rule(f->st, "web", "name=nginx* children", 2000, &c), 0);
        assert_int_not_equal(a, b);
        assert_int_equal(a, c);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rule WHERE spec = 'name=nginx* children'"), 1);
        assert_int_equal(store_rule_generation(f->st, a, &g), 0);
        assert_int_equal(g, 0);
}

struct collect {
        struct sample s[4096];
        size_t n;
};

static int collect_cb(const struct sample *smp, void *userdata)
{
        struct collect *c = userdata;

        assert_true(c->n < ELEMENTSOF(c->s));
        c->s[c->n++] = *smp;
        return 0;
}

static void test_samples_roundtrip_and_unknown(void **state)
{
        struct fixture *f = *state;
        struct collect *c = calloc(1, sizeof(*c));
        int64_t id = 7;

        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, id, 4242, 1, 1000);
        for (int i = 0; i < 100; i++) {
                struct sample s = mk_sample(1000 + i * 1000, (int64_t)(10 + i) * MIB);
                assert_int_equal(put_sample(f->st, id, &s), 0);
        }
        assert_int_equal(store_commit(f->st), 0);

        assert_int_equal(store_for_each_sample(f->st, id, 0, INT64_MAX, collect_cb, c), 0);
        assert_int_equal(c->n, 100);
        for (size_t i = 0; i < c->n; i++) {
                assert_int_equal(c->s[i].t_ms, 1000 + (int64_t)i * 1000);
                assert_true(sample_has(&c->s[i], M_RSS));
                assert_int_equal(c->s[i].v[M_RSS], (int64_t)(10 + i) * MIB);
                assert_int_equal(c->s[i].v[M_ANON], (int64_t)(10 + i) * MIB / 2);
                assert_int_equal(c->s[i].v[M_FDS], 7);
                /* Unknown stays unknown, with its reason, never 0. */
                assert_false(sample_has(&c->s[i], M_PSS));
                assert_int_equal(c->s[i].why[G_SMAPS], UNK_SKIPPED);
                assert_int_equal(c->s[i].why[G_HEAP], UNK_DENIED);
        }
        /* A replayed batch (retry after a failed commit) does not duplicate. */
        assert_int_equal(store_begin(f->st), 0);
        {
                struct sample s = mk_sample(1000, 99 * MIB);
                assert_int_equal(put_sample(f->st, id, &s), 0);
        }
        add_process(f->st, id, 4242, 1, 1000);
        assert_int_equal(store_commit(f->st), 0);
        c->n = 0;
        assert_int_equal(store_for_each_sample(f->st, id, 0, INT64_MAX, collect_cb, c), 0);
        assert_int_equal(c->n, 100);
        assert_int_equal(c->s[0].v[M_RSS], 10 * MIB);
        free(c);
}

/* Random samples as the sampler makes them: memory in whole KiB, some groups unknown
 * with a reason, faults counting up, now and then a jump. */
static uint64_t xs_state = 88172645463325252u;

static uint64_t xs(void)
{
        xs_state ^= xs_state << 13;
        xs_state ^= xs_state >> 7;
        xs_state ^= xs_state << 17;
        return xs_state;
}

static struct sample random_sample(int64_t t, const struct sample *prev)
{
        struct sample s = { .t_ms = t };

        for (int m = 0; m < M__MAX; m++) {
                int64_t v = prev && sample_has(prev, (enum metric)m) && xs() % 3 ? prev->v[m] : (int64_t)(xs() % (1u << 30));

                if (metric_info[m].unit == UNIT_BYTES)
                        v = v / 1024 * 1024;
                sample_set(&s, (enum metric)m, v);
        }
        if (xs() % 4 == 0)
                sample_set_unknown(&s, G_SMAPS, UNK_SKIPPED);
        if (xs() % 9 == 0)
                sample_set_unknown(&s, G_HEAP, UNK_DENIED);
        if (xs() % 50 == 0)
                sample_set_unknown(&s, G_STATUS, UNK_GONE);
        return s;
}

/* Every sample written comes back exactly, from the recent table and from blocks, across
 * folds that cut through a process's series at arbitrary times and blocks that fill up. */
static void test_fold_keeps_every_sample_exactly(void **state)
{
        struct fixture *f = *state;
        enum { PROCS = 4, N = 2000 };
        struct sample *want = calloc(PROCS * N, sizeof(*want));
        struct collect *c = calloc(1, sizeof(*c));
        const int64_t t0 = 1795521600000;
        int64_t folded, total = 0;

        assert_int_equal(store_begin(f->st), 0);
        for (int p = 0; p < PROCS; p++) {
                int64_t t = t0;

                add_process(f->st, p + 1, 100 + p, 1, t0);
                for (int i = 0; i < N; i++) {
                        t += xs() % 20 == 0 ? (int64_t)(xs() % 600000) + 1 : 1000 + (int64_t)(xs() % 5);
                        want[p * N + i] = random_sample(t, i ? &want[p * N + i - 1] : NULL);
                        assert_int_equal(put_sample(f->st, p + 1, &want[p * N + i]), 0);
                }
        }
        assert_int_equal(store_commit(f->st), 0);
        for (int k = 1; k <= 5; k++) {
                int64_t cut = want[k * N / 5 - 1].t_ms + (k == 5 ? 1 : 0);

                assert_int_equal(store_fold(f->st, cut, &folded), 0);
                total += folded;
                for (int p = 0; p < PROCS; p++) {
                        c->n = 0;
                        assert_int_equal(store_for_each_sample(f->st, p + 1, 0, INT64_MAX, collect_cb, c), 0);
                        assert_int_equal(c->n, N);
                        for (int i = 0; i < N; i++)
                                assert_same_sample(&want[p * N + i], &c->s[i]);
                }
        }
        assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM sample_block"), total);
        assert_true(raw_int(f->path, "SELECT count(*) FROM sample_block") > 5);
        /* A range inside one block gives exactly its samples. */
        c->n = 0;
        assert_int_equal(store_for_each_sample(f->st, 2, want[N + 100].t_ms, want[N + 110].t_ms, collect_cb, c), 0);
        assert_int_equal(c->n, 10);
        assert_same_sample(&want[N + 100], &c->s[0]);
        free(want);
        free(c);
}

/* store_put() writes a commit's samples into a batch, between other rows (a rule
 * sum a tick): every sample comes back exactly, in its process's order; a sample of a
 * time the process already has (same process and time) is read as the first one
 * written, and folded once. */
static void test_put_rows_batches_samples(void **state)
{
        struct fixture *f = *state;
        enum { PROCS = 45, TICKS = 20 };
        struct sample *want = calloc(PROCS * TICKS, sizeof(*want));
        struct store_row *rows = calloc(PROCS * TICKS + TICKS + 1, sizeof(*rows));
        struct collect *c = calloc(1, sizeof(*c));
        const int64_t t0 = 1795521600000;
        size_t n = 0;

        assert_int_equal(store_begin(f->st), 0);
        for (int p = 0; p < PROCS; p++)
                add_process(f->st, p + 1, 100 + p, 1, t0);
        /* The first sample of process 1 is there already: its duplicate below is ignored. */
        want[0] = random_sample(t0 + 1000, NULL);
        assert_int_equal(put_sample(f->st, 1, &want[0]), 0);
        for (int i = 0; i < TICKS; i++) {
                for (int p = 0; p < PROCS; p++) {
                        struct sample *w = &want[p * TICKS + i];

                        if (i > 0 || p > 0)
                                *w = random_sample(t0 + 1000 * (i + 1) + p, i ? w - 1 : NULL);
                        rows[n] = (struct store_row){ .kind = STORE_SAMPLE, .sample = { .id = p + 1, .s = *w } };
                        if (i == 0 && p == 0)
                                rows[n].sample.s = random_sample(t0 + 1000, NULL); /* another value */
                        n++;
                }
                /* A rule's sum every tick: it breaks the run of samples wherever it falls. */
                rows[n++] = (struct store_row){ .kind = STORE_RULE_SAMPLE,
                                                .sample = { .id = 1, .generation = 1, .nproc = PROCS,
                                                            .s = mk_sample(t0 + 1000 * (i + 1), 1 << 20) } };
        }
        for (size_t i = 0; i < n; i++)
                assert_int_equal(store_put(f->st, &rows[i]), 0);
        assert_int_equal(store_commit(f->st), 0);
        /* The batch holds the duplicate too; readers and the fold take the first. */
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), PROCS * TICKS + 1);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rule_sample"), TICKS);
        for (int p = 0; p < PROCS; p++) {
                c->n = 0;
                assert_int_equal(store_for_each_sample(f->st, p + 1, 0, INT64_MAX, collect_cb, c), 0);
                assert_int_equal(c->n, TICKS);
                for (int i = 0; i < TICKS; i++)
                        assert_same_sample(&want[p * TICKS + i], &c->s[i]);
        }
        free(want);
        free(rows);
        free(c);
}

/* An old database at path: the migrations before the first whose SQL holds marker. The
 * index of that one (so migrations[ret - 1] made the schema). */
static unsigned schema_before(const char *path, const char *marker)
{
        unsigned prev = 0;

        for (unsigned i = 0; i < sql_migrations_count; i++)
                if (strstr(sql_migrations[i].sql, marker) == NULL && prev == i) {
                        raw_exec(path, sql_migrations[i].sql);
                        prev = i + 1;
                }
        assert_true(prev > 0 && prev < sql_migrations_count);
        return prev;
}

/* The start of an old database's rows: its version, a transaction, a rule and procs
 * processes (ids 1..procs). Returns the bytes written. */
static size_t old_rows_head(char *sql, size_t cap, unsigned version, int procs)
{
        size_t o = (size_t)snprintf(sql, cap, "PRAGMA user_version = %u; BEGIN; "
                                    "INSERT INTO rule (id, name, spec, first_ms, last_ms) VALUES (1, 'r', 'x', 1, 1);",
                                    version);

        for (int p = 0; p < procs; p++)
                o += (size_t)snprintf(sql + o, cap - o, "INSERT INTO process (id, boot_id, pid, start_ticks, comm, "
                                      "cmdline, rule_id, generation, first_ms, last_ms) VALUES (%d, 'b', %d, 1, 'c', "
                                      "'c', 1, 1, 1, 1);", p + 1, 100 + p);
        return o;
}

/* A sample as an INSERT into one of the old plain-row tables (process_id, t, the
 * metrics in KiB, unknown). Returns the bytes written. */
static size_t old_sample_row(char *sql, size_t cap, const char *table, int id, const struct sample *w)
{
        size_t o = (size_t)snprintf(sql, cap, "INSERT INTO %s VALUES (%d, %" PRId64, table, id, w->t_ms);

        for (int m = 0; m < M__MAX; m++) {
                if (sample_has(w, (enum metric)m))
                        o += (size_t)snprintf(sql + o, cap - o, ", %" PRId64, w->v[m] /
                                              (metric_info[m].unit == UNIT_BYTES ? 1024 : 1));
                else
                        o += (size_t)snprintf(sql + o, cap - o, ", NULL");
        }
        return o + (size_t)snprintf(sql + o, cap - o, ", %" PRId64 ");", sample_pack_why(w));
}

/* A database of version 11, whose recent samples are rows of sample_recent, is upgraded
 * without losing one: they go into batches, come back exactly (through the batches, and
 * again once folded into blocks), and the old table is gone. */
static void test_migrates_recent_into_batches(void **state)
{
        struct fixture *f = *state;
        enum { PROCS = 3, N = 400 };
        struct sample *want = calloc(PROCS * N, sizeof(*want));
        struct collect *c = calloc(1, sizeof(*c));
        size_t cap = 16 * 1024 * 1024, o = 0;
        char *sql = malloc(cap), old[160];
        struct store *s2 = NULL;
        int64_t folded = 0;
        unsigned prev = 0;

        snprintf(old, sizeof(old), "%s/v11.db", f->dir);
        prev = schema_before(old, "CREATE TABLE sample_batch");
        o = old_rows_head(sql, cap, sql_migrations[prev - 1].version, PROCS);
        /* Ticks a second apart over nearly seven minutes, the processes of each tick a
         * few milliseconds apart, as the daemon wrote them. */
        for (int i = 0; i < N; i++)
                for (int p = 0; p < PROCS; p++) {
                        struct sample *w = &want[p * N + i];
                        int64_t t = 1795521600000 + 1000 * i + p;

                        *w = random_sample(t, i ? w - 1 : NULL);
                        o += old_sample_row(sql + o, cap - o, "sample_recent", p + 1, w);
                }
        snprintf(sql + o, cap - o, "COMMIT;");
        assert_true(o < cap - 16);
        raw_exec(old, sql);
        assert_int_equal(raw_int(old, "SELECT count(*) FROM sample_recent"), PROCS * N);

        assert_int_equal(store_open(old, STORE_RW, &s2, NULL, 0), 0);
        assert_int_equal(store_schema_version(s2), store_latest_schema_version());
        assert_int_equal(raw_int(old, "SELECT count(*) FROM sqlite_master WHERE name = 'sample_recent'"), 0);
        assert_int_equal(raw_int(old, "SELECT sum(n) FROM sample_batch"), PROCS * N);
        /* A batch within a minute: seven minutes, at least seven batches. */
        assert_true(raw_int(old, "SELECT count(*) FROM sample_batch") >= 7);
        for (int round = 0; round < 2; round++) {
                for (int p = 0; p < PROCS; p++) {
                        c->n = 0;
                        assert_int_equal(store_for_each_sample(s2, p + 1, 0, INT64_MAX, collect_cb, c), 0);
                        assert_int_equal(c->n, N);
                        for (int i = 0; i < N; i++)
                                assert_same_sample(&want[p * N + i], &c->s[i]);
                }
                if (round == 0) {
                        assert_int_equal(store_fold(s2, INT64_C(1795521600000) + 1000 * N, &folded), 0);
                        assert_true(folded > 0);
                        assert_int_equal(raw_int(old, "SELECT coalesce(sum(n), 0) FROM sample_batch") + folded,
                                         PROCS * N);
                }
        }
        store_close(s2);
        assert_int_equal(store_open(old, STORE_RW, &s2, NULL, 0), 0);
        store_close(s2);
        unlink(old);
        free(sql);
        free(want);
        free(c);
}

/* A batch changed behind the store's back (a flipped byte, a row whose count or times
 * disagree with what it holds) fails the read that meets it with -EBADMSG and a message
 * naming it; the fold passes over it, moves the others, and leaves it where it is. */
static void test_damaged_batch_reported(void **state)
{
        struct fixture *f = *state;
        struct collect *c = calloc(1, sizeof(*c));
        const char *const damage[] = {
                "UPDATE sample_batch SET data = CAST(zeroblob(40) AS BLOB) WHERE id = 2",
                "UPDATE sample_batch SET data = substr(data, 1, 20) WHERE id = 2",
                "UPDATE sample_batch SET n = n + 1 WHERE id = 2",
                "UPDATE sample_batch SET t1 = t1 - 1 WHERE id = 2",
                "UPDATE sample_batch SET t0 = t0 + 1 WHERE id = 2",
                "UPDATE sample_batch SET data = 'text' WHERE id = 2",
        };
        int64_t folded = 0;

        for (size_t k = 0; k < ELEMENTSOF(damage); k++) {
                raw_exec(f->path, "DELETE FROM sample_batch; DELETE FROM sample_block; DELETE FROM rollup");
                assert_int_equal(store_begin(f->st), 0);
                if (k == 0) {
                        add_process(f->st, 1, 100, 1, 1000);
                        add_process(f->st, 2, 101, 1, 1000);
                }
                /* Three minutes: three batches (ids 1, 2, 3 here). */
                for (int i = 0; i < 180; i++) {
                        struct sample s = mk_sample(60000 + i * 1000, (int64_t)(10 + i) * MIB);

                        assert_int_equal(put_sample(f->st, 1, &s), 0);
                        assert_int_equal(put_sample(f->st, 2, &s), 0);
                }
                assert_int_equal(store_commit(f->st), 0);
                raw_exec(f->path, "UPDATE sample_batch SET id = id - (SELECT min(id) FROM sample_batch) + 1");
                assert_int_equal(raw_int(f->path, "SELECT count(*) FROM sample_batch"), 3);
                raw_exec(f->path, damage[k]);
                c->n = 0;
                assert_int_equal(store_for_each_sample(f->st, 1, 0, INT64_MAX, collect_cb, c), -EBADMSG);
                assert_non_null(strstr(store_errmsg(f->st), "batch 2"));
                /* The fold moves the two sound minutes and keeps the damaged one. */
                assert_int_equal(store_fold(f->st, 60000 + 180 * 1000, &folded), 0);
                assert_int_equal(folded, 2 * 120);
                assert_int_equal(raw_int(f->path, "SELECT group_concat(id) FROM sample_batch"), 2);
                c->n = 0;
                assert_int_equal(store_for_each_sample(f->st, 2, 0, 120000, collect_cb, c), 0);
                assert_int_equal(c->n, 60);
        }
        free(c);
}

/* A block changed behind the store's back (a flipped byte, a row whose count or times
 * disagree with its block) fails the read that meets it with -EBADMSG and a message
 * naming it; the process's other samples and other processes stay readable. */
static void test_damaged_block_reported(void **state)
{
        struct fixture *f = *state;
        struct collect *c = calloc(1, sizeof(*c));
        const char *const damage[] = {
                "UPDATE sample_block SET data = CAST(zeroblob(40) AS BLOB) WHERE process_id = 1",
                "UPDATE sample_block SET data = substr(data, 1, 20) WHERE process_id = 1",
                "UPDATE sample_block SET n = n + 1 WHERE process_id = 1",
                "UPDATE sample_block SET t1 = t1 - 1 WHERE process_id = 1",
                "UPDATE sample_block SET data = 'text' WHERE process_id = 1",
                "UPDATE sample_block SET t0 = t0 - 5 WHERE process_id = 1",
        };

        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 1, 100, 1, 1000);
        add_process(f->st, 2, 101, 1, 1000);
        for (int i = 0; i < 100; i++) {
                struct sample s = mk_sample(60000 + i * 1000, (int64_t)(10 + i) * MIB);

                assert_int_equal(put_sample(f->st, 1, &s), 0);
                assert_int_equal(put_sample(f->st, 2, &s), 0);
        }
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(store_fold(f->st, 200000, NULL), 0);
        raw_exec(f->path, "CREATE TABLE good AS SELECT * FROM sample_block");
        for (size_t i = 0; i < ELEMENTSOF(damage); i++) {
                struct query *q;
                struct sample latest[2];
                int64_t ids[2] = { 1, 2 };

                raw_exec(f->path, "DELETE FROM sample_block; INSERT INTO sample_block SELECT * FROM good");
                raw_exec(f->path, damage[i]);
                c->n = 0;
                assert_int_equal(store_for_each_sample(f->st, 1, 0, INT64_MAX, collect_cb, c), -EBADMSG);
                assert_non_null(strstr(store_errmsg(f->st), "process 1 "));
                assert_non_null(strstr(store_errmsg(f->st), "damaged"));
                c->n = 0;
                assert_int_equal(store_for_each_sample(f->st, 2, 0, INT64_MAX, collect_cb, c), 0);
                assert_int_equal(c->n, 100);
                /* The client's reads say the same. */
                assert_int_equal(query_open(f->path, &q, NULL, 0), 0);
                assert_int_equal(query_latest_samples(q, ids, 2, latest), -EBADMSG);
                query_close(q);
                /* Retention leaves it for the readers to report, and does not fail. */
                {
                        struct store_retention rt = { .raw_ms = 10000, .minute_ms = INT64_MAX / 4,
                                                      .hour_ms = INT64_MAX / 4 };
                        raw_exec(f->path, "DELETE FROM meta WHERE key = 'raw_pruned_upto'");
                        assert_int_equal(store_maintain(f->st, 110000, &rt, NULL), 0);
                }
        }
        free(c);
}

/* A database of the schema before blocks (version 5 or lower), with samples in the
 * plain `sample` table, is upgraded without losing one: each comes back exactly, and
 * the old table is gone. */
static void test_migrates_samples_into_blocks(void **state)
{
        struct fixture *f = *state;
        enum { PROCS = 3, N = 1500 };
        struct sample *want = calloc(PROCS * N, sizeof(*want));
        struct collect *c = calloc(1, sizeof(*c));
        size_t cap = 64 * 1024 * 1024, o = 0;
        char *sql = malloc(cap), old[160];
        struct store *s2 = NULL;
        unsigned prev = 0;

        snprintf(old, sizeof(old), "%s/v5.db", f->dir);
        prev = schema_before(old, "CREATE TABLE sample_block");
        o = old_rows_head(sql, cap, sql_migrations[prev - 1].version, PROCS);
        for (int p = 0; p < PROCS; p++) {
                int64_t t = 1795521600000;

                for (int i = 0; i < N; i++) {
                        struct sample *w = &want[p * N + i];

                        t += 997 + (int64_t)(xs() % 9);
                        *w = random_sample(t, i ? w - 1 : NULL);
                        o += old_sample_row(sql + o, cap - o, "sample", p + 1, w);
                }
        }
        snprintf(sql + o, cap - o, "COMMIT;");
        assert_true(o < cap - 16);
        raw_exec(old, sql);
        assert_int_equal(raw_int(old, "SELECT count(*) FROM sample"), PROCS * N);

        assert_int_equal(store_open(old, STORE_RW, &s2, NULL, 0), 0);
        assert_int_equal(store_schema_version(s2), store_latest_schema_version());
        assert_int_equal(raw_int(old, "SELECT count(*) FROM sqlite_master WHERE name = 'sample'"), 0);
        assert_int_equal(raw_int(old, "SELECT sum(n) FROM sample_block"), PROCS * N);
        for (int p = 0; p < PROCS; p++) {
                c->n = 0;
                assert_int_equal(store_for_each_sample(s2, p + 1, 0, INT64_MAX, collect_cb, c), 0);
                assert_int_equal(c->n, N);
                for (int i = 0; i < N; i++)
                        assert_same_sample(&want[p * N + i], &c->s[i]);
        }
        /* The upgraded file is the schema a new one gets (store_open checks it again). */
        store_close(s2);
        assert_int_equal(store_open(old, STORE_RW, &s2, NULL, 0), 0);
        store_close(s2);
        unlink(old);
        free(sql);
        free(want);
        free(c);
}

static void test_identity_queries(void **state)
{
        struct fixture *f = *state;
        int64_t id, last, max;

        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 3, 300, 1, 5000);
        add_process(f->st, 4, 400, 1, 5000);
        {
                struct sample s = mk_sample(9000, MIB);
                assert_int_equal(put_sample(f->st, 3, &s), 0);
        }
        assert_int_equal(store_commit(f->st), 0);

        assert_int_equal(store_find_process(f->st, "boot-a", 300, 1300, &id), 0);
        assert_int_equal(id, 3);
        /* Same PID, another start time: another process. */
        assert_int_equal(store_find_process(f->st, "boot-a", 300, 9999, &id), -ENOENT);
        assert_int_equal(store_find_process(f->st, "boot-b", 300, 1300, &id), -ENOENT);
        assert_int_equal(store_last_sample_ms(f->st, 3, &last), 0);
        assert_int_equal(last, 9000);
        assert_int_equal(store_last_sample_ms(f->st, 4, &last), -ENOENT);
        assert_int_equal(store_max_process_id(f->st, &max), 0);
        assert_int_equal(max, 4);

        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(end_process(f->st, 4, 9500, "exited"), 0);
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(raw_int(f->path, "SELECT end_ms FROM process WHERE id = 4"), 9500);
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(reopen_process(f->st, 4, 1, 2), 0);
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(raw_int(f->path, "SELECT end_ms IS NULL AND generation = 2 FROM process WHERE id = 4"), 1);

        /* Another boot's open processes end at their last sample. */
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_OTHER_BOOTS_END,
                                                               .boot_id = "boot-b" }), 0);
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM process WHERE end_ms IS NULL"), 0);
}

static int count_live(const struct store_process *p, int64_t last_ms, void *userdata)
{
        (void)last_ms;
        assert_string_equal(p->boot_id, "boot-a");
        assert_int_equal(p->comm_len, 8);
        assert_memory_equal(p->comm, "wor ker)", 8);
        (*(int *)userdata)++;
        return 0;
}

static void test_live_processes(void **state)
{
        struct fixture *f = *state;
        int n = 0;

        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 1, 10, 1, 0);
        add_process(f->st, 2, 20, 1, 0);
        assert_int_equal(end_process(f->st, 2, 10, "exited"), 0);
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(store_for_each_live_process(f->st, "boot-a", count_live, &n), 0);
        assert_int_equal(n, 1);
}

struct points {
        struct query_row p[4096];
        size_t n;
};

static int points_cb(const struct query_row *row, void *userdata)
{
        struct points *c = userdata;

        assert_true(c->n < ELEMENTSOF(c->p));
        c->p[c->n++] = *row;
        return 0;
}

/* A process's series as the client reads it, from its own snapshot. */
static void read_series(const struct fixture *f, int64_t id, int64_t from, int64_t to, struct points *pts)
{
        struct query *q;

        pts->n = 0;
        assert_int_equal(query_open(f->path, &q, NULL, 0), 0);
        assert_int_equal(query_series(q, id, from, to, points_cb, pts), 0);
        query_close(q);
}

struct minutes {
        unsigned n;
        int64_t first_t, first_anon, fds;
        bool swap;
};

static int count_minute(const struct sample *smp, void *userdata)
{
        struct minutes *mc = userdata;

        if (mc->n++ == 0) {
                mc->first_t = smp->t_ms;
                mc->first_anon = smp->v[M_ANON];
        }
        mc->fds = smp->v[M_FDS];
        mc->swap |= sample_has(smp, M_SWAP);
        return 0;
}

/* 3 hours of 10-second samples rising 1 MiB a minute; fold; rollups must hold exact
 * minute minima, maxima and means. */
static void test_fold_rollups_retention_series(void **state)
{
        struct fixture *f = *state;
        struct points *pts = calloc(1, sizeof(*pts));
        const int64_t t0 = 1700000000000 - 1700000000000 % 3600000; /* an hour boundary */
        struct store_maintenance m;
        int64_t folded = 0;
        const int n = 3 * 360;

        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 1, 10, 1, t0);
        for (int i = 0; i < n; i++) {
                struct sample s = mk_sample(t0 + i * 10000, 100 * MIB + (int64_t)(i / 6) * MIB);
                assert_int_equal(put_sample(f->st, 1, &s), 0);
        }
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), n);

        /* Fold two hours. */
        assert_int_equal(store_fold(f->st, t0 + 2 * 3600000, &folded), 0);
        assert_int_equal(folded, 2 * 360);
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), n - 2 * 360);
        assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM sample_block"), 2 * 360);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup WHERE res = 60000"), 120);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup WHERE res = 3600000"), 2);
        /* Minute k holds 6 samples of the same value 100 + k MiB (in KiB in the table). */
        assert_int_equal(raw_int(f->path, "SELECT rss_min FROM rollup WHERE res = 60000 ORDER BY t LIMIT 1 OFFSET 5"),
                         (100 + 5) * 1024);
        assert_int_equal(raw_int(f->path, "SELECT n FROM rollup WHERE res = 3600000 ORDER BY t LIMIT 1"), 360);
        assert_int_equal(raw_int(f->path, "SELECT rss_max FROM rollup WHERE res = 3600000 ORDER BY t LIMIT 1"),
                         (100 + 59) * 1024);
        /* The minutes as the detector's long scales take them back: a sample at each
         * minute's start with its minima, in bytes. */
        {
                struct minutes mc = { 0 };
                assert_int_equal(store_for_each_minute(f->st, 1, t0 + 60000, t0 + 11 * 60000, count_minute, &mc), 0);
                assert_int_equal(mc.n, 10);
                assert_int_equal(mc.first_t, t0 + 60000);
                assert_true(mc.first_anon == (100 + 1) * MIB / 2 && mc.fds == 7 && !mc.swap);
        }
        /* Reading across the fold gives every sample once, in order. */
        read_series(f, 1, t0, t0 + n * 10000, pts);
        assert_int_equal(pts->n, n);
        for (size_t i = 1; i < pts->n; i++)
                assert_true(pts->p[i].t_ms > pts->p[i - 1].t_ms);

        /* Folding the rest in two steps, with the boundary mid-hour: the hour rollup is
         * merged, not replaced. */
        assert_int_equal(store_fold(f->st, t0 + 2 * 3600000 + 1800000, &folded), 0);
        assert_int_equal(store_fold(f->st, t0 + 3 * 3600000, &folded), 0);
        assert_int_equal(raw_int(f->path, "SELECT n FROM rollup WHERE res = 3600000 ORDER BY t LIMIT 1 OFFSET 2"), 360);
        assert_int_equal(raw_int(f->path, "SELECT rss_min FROM rollup WHERE res = 3600000 ORDER BY t LIMIT 1 OFFSET 2"),
                         (100 + 120) * 1024);

        /* Retention: raw for 1 hour, minutes for 2, hours for ever. */
        {
                struct store_retention rt = { .raw_ms = 3600000, .minute_ms = 2 * 3600000, .hour_ms = INT64_MAX / 4 };
                assert_int_equal(store_maintain(f->st, t0 + 3 * 3600000, &rt, &m), 0);
        }
        assert_int_equal(raw_int(f->path, "SELECT sum(n) FROM sample_block"), 360);
        assert_int_equal(raw_int(f->path, "SELECT min(t0) FROM sample_block"), t0 + 2 * 3600000);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup WHERE res = 60000"), 120);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rollup WHERE res = 3600000"), 3);
        /* A second pass is a no-op. */
        {
                struct store_retention rt = { .raw_ms = 3600000, .minute_ms = 2 * 3600000, .hour_ms = INT64_MAX / 4 };
                assert_int_equal(store_maintain(f->st, t0 + 3 * 3600000, &rt, &m), 0);
                assert_int_equal(m.pruned, 0);
        }
        /* The series now comes from hour rollups, then minutes, then raw samples. */
        read_series(f, 1, t0, t0 + n * 10000, pts);
        assert_int_equal(pts->n, 1 + 60 + 360);
        assert_int_equal(pts->p[0].n, 360);
        assert_int_equal(pts->p[0].source, QSRC_HOUR);
        assert_true(pts->p[0].m[M_RSS].min == 100.0 * MIB && pts->p[0].m[M_RSS].max == 159.0 * MIB);
        assert_int_equal(pts->p[1].t_ms, t0 + 3600000);
        assert_int_equal(pts->p[1].n, 6);
        assert_int_equal(pts->p[61].n, 1);
        for (size_t i = 1; i < pts->n; i++)
                assert_true(pts->p[i].t_ms > pts->p[i - 1].t_ms);
        free(pts);
}

/* Agent reports: stored with their types, read back in order, pruned with the raw
 * samples; an alert's class goes with its alert. */
static void test_agent_reports_and_retention(void **state)
{
        struct fixture *f = *state;
        const int64_t t0 = 1700000000000;
        struct store_maintenance m;
        struct agent_report a;

        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 1, 10, 1, t0);
        for (int i = 0; i < 4; i++) {
                agent_report_init(&a);
                a.t_ms = t0 + i * 3600000;
                a.agent = i % 2 ? AGENT_MALLOC : AGENT_PYTHON;
                a.gc_enabled = 1;
                a.blocks = 100 + i;
                a.in_use = 1000 + i;
                a.objects = 50;
                a.stride = 1;
                snprintf(a.types[0].name, sizeof(a.types[0].name), "dict");
                a.types[0].count = 40;
                snprintf(a.types[1].name, sizeof(a.types[1].name), "__main__.Person");
                a.types[1].count = 10;
                a.n_types = 2;
                /* Two allocation sites, stored as they came (escaped). */
                a.version = 2;
                a.n_sites = 2;
                a.site_text_len = (size_t)snprintf(a.site_text, sizeof(a.site_text), "a%%20b.py:1 main.py:2") + 1;
                a.sites[0] = (struct agent_site){ .live_bytes = 4096, .live_count = 4, .growth = 4000, .n_frames = 2,
                                                  .len = (uint16_t)(a.site_text_len - 1) };
                a.sites[1] = (struct agent_site){ .live_bytes = 64, .live_count = 1, .growth = 64, .n_frames = 1,
                                                  .off = (uint16_t)a.site_text_len };
                a.site_text_len += (size_t)snprintf(a.site_text + a.site_text_len,
                                                    sizeof(a.site_text) - a.site_text_len, "x.py:9") + 1;
                a.sites[1].len = 6;
                assert_int_equal(put_agent(f->st, 1, &a), 0);
                /* The same report again (a replayed batch): ignored. */
                assert_int_equal(put_agent(f->st, 1, &a), 0);
        }
        a.n_types = AGENT_TYPES_MAX + 1;
        assert_int_equal(put_agent(f->st, 1, &a), -EINVAL);
        a.n_types = 0;
        a.n_sites = AGENT_SITES_MAX + 1;
        assert_int_equal(put_agent(f->st, 1, &a), -EINVAL);
        assert_int_equal(put_kind(f->st, 7, t0, "python-objects", "python"), 0);
        assert_int_equal(put_kind(f->st, 7, t0 + 1, "native", NULL), 0);
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_sample"), 4);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_type"), 8);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_site"), 8);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_site WHERE rank = 0 AND growth = 4000 AND "
                                          "live_bytes = 4096 AND live_count = 4 AND frames = 'a%20b.py:1 main.py:2'"), 4);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_site WHERE rank = 1 AND frames = 'x.py:9'"), 4);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM alert_kind WHERE class = 'native'"), 1);
        assert_int_equal(raw_int(f->path, "SELECT blocks FROM agent_sample WHERE agent = 'python' ORDER BY t LIMIT 1"),
                         100);

        /* Raw retention of 1.5 hours at t0 + 3 h: the first two reports go. The alert
         * behind the class is not in the table: its class goes once old enough. */
        {
                struct store_retention rt = { .raw_ms = 5400000, .minute_ms = 5400000, .hour_ms = 5400000 };
                assert_int_equal(store_maintain(f->st, t0 + 3 * 3600000, &rt, &m), 0);
        }
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_sample"), 2);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_type"), 4);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM agent_site"), 4);
        assert_int_equal(raw_int(f->path, "SELECT min(t) FROM agent_site"), t0 + 2 * 3600000);
        assert_int_equal(raw_int(f->path, "SELECT min(t) FROM agent_sample"), t0 + 2 * 3600000);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM alert_kind"), 0);
}

/* A size cap makes writes fail like a full disk; after a rollback, nothing committed is
 * lost and writing works again once room is made. */
static void test_size_limit_behaves_like_full_disk(void **state)
{
        struct fixture *f = *state;
        int64_t size, count;
        int r = 0, i;

        assert_int_equal(store_disk_usage(f->st, &size), 0);
        assert_int_equal(store_set_size_limit(f->st, size + 64 * 1024), 0);
        assert_int_equal(store_begin(f->st), 0);
        add_process(f->st, 1, 10, 1, 0);
        assert_int_equal(store_commit(f->st), 0);
        for (i = 0; i < 100000 && r == 0; i++) {
                struct sample s = mk_sample(i * 1000, MIB + i);

                r = store_begin(f->st);
                if (r == 0)
                        r = put_sample(f->st, 1, &s);
                if (r == 0)
                        r = store_commit(f->st);
                if (r < 0)
                        store_rollback(f->st);
        }
        assert_int_equal(r, -ENOSPC);
        count = raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch");
        assert_int_equal(count, i - 1);
        assert_int_equal(store_set_size_limit(f->st, 0), 0);
        {
                struct sample s = mk_sample(i * 1000, MIB);
                assert_int_equal(store_begin(f->st), 0);
                assert_int_equal(put_sample(f->st, 1, &s), 0);
                assert_int_equal(store_commit(f->st), 0);
        }
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), count + 1);
}

/* A second writer holding the lock makes begin fail with -EBUSY after a short wait,
 * instead of stalling the daemon. */
static void test_locked_database(void **state)
{
        struct fixture *f = *state;
        struct store *other;

        assert_int_equal(store_open(f->path, STORE_RW, &other, NULL, 0), 0);
        assert_int_equal(store_begin(other), 0);
        assert_int_equal(store_begin(f->st), -EBUSY);
        assert_int_equal(store_commit(other), 0);
        store_close(other);
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_commit(f->st), 0);
}

/* ---- the files under the connection ---- */

/* n samples of process 1 (created by the first call), committed one per transaction
 * from time t0 on, as the daemon commits them. */
static void commit_samples(struct store *st, int64_t t0, int n)
{
        int64_t max_id = 0;

        assert_int_equal(store_max_process_id(st, &max_id), 0);
        for (int i = 0; i < n; i++) {
                struct sample smp = mk_sample(t0 + i, MIB + i);

                assert_int_equal(store_begin(st), 0);
                if (max_id == 0 && i == 0)
                        add_process(st, 1, 10, 1, t0);
                assert_int_equal(put_sample(st, 1, &smp), 0);
                assert_int_equal(store_commit(st), 0);
        }
}

static int64_t sample_count(const char *path)
{
        return raw_int(path, "SELECT (SELECT coalesce(sum(n), 0) FROM sample_batch) + "
                             "(SELECT coalesce(sum(n), 0) FROM sample_block)");
}

static void expect_sound(const char *path)
{
        /* integrity_check says "ok", one row, when nothing is wrong. */
        assert_int_equal(raw_int(path, "SELECT group_concat(integrity_check, '; ') = 'ok' FROM pragma_integrity_check"),
                         1);
}

static void expect_nothing_wrong(struct store *st)
{
        struct store_repair rep;

        assert_int_equal(store_check(st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_NONE);
}

/* Closes the store as the daemon does at a stop, then finds n samples in a sound file,
 * which opens again. */
static void expect_kept_after_close(struct fixture *f, int64_t n)
{
        store_close(f->st);
        f->st = NULL;
        assert_int_equal(sample_count(f->path), n);
        expect_sound(f->path);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, NULL, 0), 0);
}

/* A file the daemon must never write, at dir/victim. */
static void write_victim(const struct fixture *f, char *path, size_t sz)
{
        FILE *v;

        snprintf(path, sz, "%s/victim", f->dir);
        v = fopen(path, "w");
        assert_non_null(v);
        fputs("precious\n", v);
        fclose(v);
}

/* The -wal deleted while open, with a reader looking meanwhile: everything committed
 * before and after is kept (it was a 4 KiB file without a schema after the daemon
 * stopped), the reader reads again, and later commits go where readers look. */
static void test_wal_deleted_while_open(void **state)
{
        struct fixture *f = *state;
        char wal[160];
        struct store_repair rep;
        struct store *reader;
        struct stat st;
        int64_t n = 0;

        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        commit_samples(f->st, 1000, 50);
        expect_nothing_wrong(f->st);
        assert_int_equal(unlink(wal), 0);
        commit_samples(f->st, 2000, 50);
        /* A reader that opens now finds no log where the index says there is one. */
        assert_int_equal(store_raw_connect(f->path, false, &reader), 0);
        assert_int_not_equal(store_raw_query(reader, "SELECT coalesce(sum(n), 0) FROM sample_batch", &n), 0);

        assert_int_equal(store_check(f->st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_WAL);
        assert_true(rep.repaired);
        assert_string_equal(rep.aside, "");
        assert_int_equal(store_raw_query(reader, "SELECT coalesce(sum(n), 0) FROM sample_batch", &n), 0);
        assert_int_equal(n, 100);
        /* Once repaired, all is well, and new commits reach the reader. */
        expect_nothing_wrong(f->st);
        assert_int_equal(lstat(wal, &st), 0);
        commit_samples(f->st, 3000, 10);
        assert_int_equal(store_raw_query(reader, "SELECT coalesce(sum(n), 0) FROM sample_batch", &n), 0);
        assert_int_equal(n, 110);
        /* Closed with the reader still open, as after a clean stop of the daemon. */
        store_close(f->st);
        f->st = NULL;
        store_close(reader);
        assert_int_equal(sample_count(f->path), 110);
        expect_sound(f->path);
}

/* The -shm deleted while open, and a reader that came after built another one from the
 * log: repaired, everything kept, and the reader that opens next sees what the writer
 * writes. */
static void test_shm_deleted_while_open(void **state)
{
        struct fixture *f = *state;
        char shm[160];
        struct store_repair rep;
        struct store *reader;

        snprintf(shm, sizeof(shm), "%s-shm", f->path);
        commit_samples(f->st, 1000, 30);
        assert_int_equal(unlink(shm), 0);
        commit_samples(f->st, 2000, 30);
        assert_int_equal(store_raw_connect(f->path, false, &reader), 0);
        assert_int_equal(store_raw_run(reader, "SELECT coalesce(sum(n), 0) FROM sample_batch"), 0);
        assert_int_equal(store_check(f->st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_WAL);
        /* The writer goes on whatever that reader does meanwhile. */
        commit_samples(f->st, 3000, 30);
        (void)store_raw_run(reader, "SELECT coalesce(sum(n), 0) FROM sample_batch");
        commit_samples(f->st, 4000, 30);
        store_close(reader);
        assert_int_equal(sample_count(f->path), 120);
        expect_nothing_wrong(f->st);
        expect_kept_after_close(f, 120);
}

/* The -wal replaced by another database's log, with frames: set aside, never replayed
 * into this one. */
static void test_wal_replaced(void **state)
{
        struct fixture *f = *state;
        char wal[160], other[160], other_wal[170];
        struct store_repair rep;
        struct store *db;
        struct stat st;

        snprintf(wal, sizeof(wal), "%s-wal", f->path);
        snprintf(other, sizeof(other), "%s/other.db", f->dir);
        snprintf(other_wal, sizeof(other_wal), "%s-wal", other);
        commit_samples(f->st, 1000, 20);
        /* Another database, left open so its log stays full. */
        assert_int_equal(store_raw_connect(other, true, &db), 0);
        assert_int_equal(store_raw_run(db, "PRAGMA journal_mode = WAL; CREATE TABLE x (a); INSERT INTO x VALUES (1)"),
                         0);
        assert_int_equal(unlink(wal), 0);
        assert_int_equal(link(other_wal, wal), 0);
        assert_int_equal(store_check(f->st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_WAL);
        assert_non_null(strstr(rep.aside, "-wal.displaced-"));
        assert_int_equal(lstat(rep.aside, &st), 0);
        store_close(db);
        commit_samples(f->st, 2000, 5);
        expect_kept_after_close(f, 25);
}

/* The database file deleted, then replaced by another file, then by a symlink: each
 * time a copy of the connection's database takes the path back, what took its place is
 * moved aside (never followed, never written), and nothing committed is lost. */
static void test_database_deleted_replaced_linked(void **state)
{
        struct fixture *f = *state;
        char victim[160], moved[160], buf[32];
        struct store_repair rep;
        struct stat st;
        FILE *v;

        snprintf(moved, sizeof(moved), "%s/moved.db", f->dir);
        commit_samples(f->st, 1000, 30);

        assert_int_equal(unlink(f->path), 0);
        commit_samples(f->st, 2000, 10);
        assert_int_equal(store_check(f->st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_DB);
        assert_string_equal(rep.aside, "");
        assert_int_equal(sample_count(f->path), 40);
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 0007, 0);
        expect_nothing_wrong(f->st);

        /* Moved away, an empty file in its place. */
        assert_int_equal(rename(f->path, moved), 0);
        v = fopen(f->path, "w");
        assert_non_null(v);
        fclose(v);
        assert_int_equal(store_check(f->st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_DB);
        assert_non_null(strstr(rep.aside, "lw.db.displaced-"));
        assert_int_equal(stat(rep.aside, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_int_equal(sample_count(f->path), 40);

        /* A symlink to a file the daemon must never write. */
        write_victim(f, victim, sizeof(victim));
        assert_int_equal(unlink(f->path), 0);
        assert_int_equal(symlink(victim, f->path), 0);
        commit_samples(f->st, 3000, 10);
        assert_int_equal(store_check(f->st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_DB);
        assert_int_equal(lstat(rep.aside, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        v = fopen(victim, "r");
        assert_non_null(v);
        assert_non_null(fgets(buf, sizeof(buf), v));
        fclose(v);
        assert_string_equal(buf, "precious\n");
        commit_samples(f->st, 4000, 10);
        expect_kept_after_close(f, 60);
}

/* A symlink in the database's place at start is refused, and its target left alone. */
static void test_symlink_refused_at_open(void **state)
{
        struct fixture *f = *state;
        char victim[160], err[256];
        struct store *s2 = NULL;
        struct stat st;

        snprintf(victim, sizeof(victim), "%s/victim", f->dir);
        store_close(f->st);
        f->st = NULL;
        /* The database itself behind the link: even that is not opened through it. */
        assert_int_equal(rename(f->path, victim), 0);
        assert_int_equal(symlink(victim, f->path), 0);
        assert_int_equal(store_open(f->path, STORE_RW, &s2, err, sizeof(err)), -ELOOP);
        assert_non_null(strstr(err, "is a symbolic link: refused"));
        assert_int_equal(lstat(f->path, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(unlink(f->path), 0);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, NULL, 0), 0);
}

/* Overwrites the first bytes of the root page of table in the database at path (closed)
 * with garbage. */
static void damage_table(const char *path, const char *table)
{
        char sql[128];
        int64_t root, page_size;
        FILE *fp;

        snprintf(sql, sizeof(sql), "SELECT rootpage FROM sqlite_schema WHERE name = '%s'", table);
        root = raw_int(path, sql);
        page_size = raw_int(path, "PRAGMA page_size");
        assert_true(root > 1);
        fp = fopen(path, "r+b");
        assert_non_null(fp);
        assert_int_equal(fseek(fp, (long)((root - 1) * page_size), SEEK_SET), 0);
        assert_int_equal(fwrite("\x0b\xff\xff\xff\xff\xff\xff\xff", 1, 8, fp), 8);
        fclose(fp);
}

/* A damaged database found at start is set aside with its log, and a new one opened in
 * its place holding what could still be read: here everything but the damaged table. */
static void test_damaged_at_open_set_aside_and_salvaged(void **state)
{
        struct fixture *f = *state;
        struct store *s2 = NULL;
        const char *aside;
        int64_t kept = 0;
        struct stat st;

        commit_samples(f->st, 1000, 40);
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_EVENT,
                                                                .event = { .t_ms = 5, .kind = "start" } }), 0);
        assert_int_equal(store_commit(f->st), 0);
        store_close(f->st);
        f->st = NULL;
        /* A table the daemon reads as it starts. */
        damage_table(f->path, "alert");

        assert_int_equal(store_open(f->path, STORE_RW, &s2, NULL, 0), 0);
        aside = store_set_aside(s2, &kept);
        assert_non_null(aside);
        assert_non_null(strstr(aside, "lw.db.damaged-"));
        assert_int_equal(lstat(aside, &st), 0);
        assert_true(kept >= 41);        /* 40 samples, the process, the rules and meta rows */
        store_close(s2);
        assert_int_equal(sample_count(f->path), 40);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM process"), 1);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM daemon_event"), 1);
        expect_sound(f->path);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, NULL, 0), 0);
        assert_null(store_set_aside(f->st, NULL));
}

/* What does not begin as an SQLite database does is not ours to move: refused, left
 * as it is. */
static void test_not_a_database_refused(void **state)
{
        struct fixture *f = *state;
        char other[160];
        struct store *s2 = NULL;
        struct stat st;
        FILE *fp;

        snprintf(other, sizeof(other), "%s/passwd", f->dir);
        fp = fopen(other, "w");
        assert_non_null(fp);
        for (int i = 0; i < 200; i++)
                fputs("root:x:0:0:root:/root:/bin/bash\n", fp);
        fclose(fp);
        assert_int_equal(store_open(other, STORE_RW, &s2, NULL, 0), -EBADMSG);
        assert_int_equal(stat(other, &st), 0);
        assert_int_equal(st.st_size, 200 * 32);
}

/* Damage written behind the connection's back while it is open (its cache would hide
 * it): found at the next check, set aside, and the rows the daemon writes next have
 * their process row (store_put_rule_id and the daemon's own process rows). */
static void test_damaged_while_open(void **state)
{
        struct fixture *f = *state;
        struct store_repair rep;
        int64_t rule = 0;

        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put_rule(f->st, "r", "all", 1, &rule), 0);
        assert_int_equal(store_commit(f->st), 0);
        commit_samples(f->st, 1000, 40);
        /* Checkpointed into the file, as a fold or SQLite's own checkpoint does. */
        assert_int_equal(store_fold(f->st, 0, NULL), 0);
        expect_nothing_wrong(f->st);
        damage_table(f->path, "sample_batch");
        assert_int_equal(store_check(f->st, &rep), 0);
        assert_int_equal(rep.fault, STORE_FAULT_DAMAGED);
        assert_true(rep.repaired);
        assert_non_null(strstr(rep.aside, "lw.db.damaged-"));
        assert_true(rep.salvaged >= 2);         /* the process and the rule at least */
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put_rule_id(f->st, rule, "r", "all", 2), 0);
        assert_int_equal(store_commit(f->st), 0);
        commit_samples(f->st, 5000, 5);
        expect_nothing_wrong(f->st);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM process"), 1);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM rule WHERE name = 'r'"), 1);
        assert_int_equal(sample_count(f->path), 5);
        expect_sound(f->path);
}

/* The fold's rollups are what SQL's count(*), min(), max() and avg() give over the same
 * rows, grouped by process and bucket: checked against that query over the rows the fold
 * moved, for thousands of processes (more than the fold's first table holds) sampled at
 * irregular times across several hours, with metrics unknown now and then. */
static void test_fold_rollups_match_sql_aggregates(void **state)
{
        struct fixture *f = *state;
        const int64_t t0 = 1700000000000 - 1700000000000 % 3600000 + 3300000; /* 55 min into an hour */
        const int procs = 3000, ticks = 90;
        uint64_t x = 88172645463325252u;
        int64_t folded = 0, n = 0;
        char sql[4096];

        assert_int_equal(store_begin(f->st), 0);
        for (int p = 1; p <= procs; p++)
                add_process(f->st, p, p, 1, t0);
        for (int k = 0; k < ticks; k++) {
                for (int p = 1; p <= procs; p++) {
                        struct sample s;
                        int64_t t;

                        /* xorshift: a fixed sequence, so a failure repeats. */
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        if (x % 7 == 0)
                                continue; /* not every process at every tick */
                        t = t0 + k * 97000 + (int64_t)(x % 1000);
                        s = mk_sample(t, (int64_t)(x >> 24));
                        sample_set(&s, M_VSIZE, (int64_t)(x % 100000) * 4096);
                        if (x % 5 == 0) {
                                sample_set(&s, M_PSS, (int64_t)(x % 65536) * 1024);
                                sample_set(&s, M_USS, (int64_t)(x % 32768) * 1024);
                        }
                        if (x % 11 == 0)
                                sample_set_unknown(&s, G_FDS, UNK_DENIED);
                        if (x % 13 == 0)
                                sample_set_unknown(&s, G_STATUS, UNK_ERROR);
                        assert_int_equal(put_sample(f->st, p, &s), 0);
                        n++;
                }
        }
        assert_int_equal(store_commit(f->st), 0);
        /* The rows the fold is about to pack, kept for SQL's own aggregates. */
        assert_int_equal(store_raw_unbatch(f->path, "folded"), 0);
        assert_int_equal(store_fold(f->st, t0 + ticks * 97000 + 1000, &folded), 0);
        assert_int_equal(folded, n);

        for (int res = 0; res < 2; res++) {
                int64_t w = res ? 3600000 : 60000;
                const char *cols = "rss, anon, file, shmem, swap, vsize, fds, pss, uss";
                char agg[1024];
                size_t o = 0;
                char *save = NULL, *tok, list[128];

                snprintf(list, sizeof(list), "%s", cols);
                for (tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
                        o += (size_t)snprintf(agg + o, sizeof(agg) - o, ", min(%s), max(%s), avg(%s)", tok, tok, tok);
                /* Rows in one and not the other, both ways. */
                snprintf(sql, sizeof(sql),
                         "SELECT count(*) FROM (SELECT * FROM (SELECT process_id, t, n, rss_min, rss_max, rss_avg, "
                         "anon_min, anon_max, anon_avg, file_min, file_max, file_avg, shmem_min, shmem_max, "
                         "shmem_avg, swap_min, swap_max, swap_avg, vsize_min, vsize_max, vsize_avg, fds_min, "
                         "fds_max, fds_avg, pss_min, pss_max, pss_avg, uss_min, uss_max, uss_avg FROM rollup "
                         "WHERE res = %" PRId64 " EXCEPT SELECT process_id, t - t %% %" PRId64 ", count(*)%s "
                         "FROM folded GROUP BY 1, 2) UNION ALL SELECT * FROM (SELECT process_id, t - t %% %"
                         PRId64 ", count(*)%s FROM folded GROUP BY 1, 2 EXCEPT SELECT process_id, t, n, rss_min, "
                         "rss_max, rss_avg, anon_min, anon_max, anon_avg, file_min, file_max, file_avg, "
                         "shmem_min, shmem_max, shmem_avg, swap_min, swap_max, swap_avg, vsize_min, vsize_max, "
                         "vsize_avg, fds_min, fds_max, fds_avg, pss_min, pss_max, pss_avg, uss_min, uss_max, "
                         "uss_avg FROM rollup WHERE res = %" PRId64 "))",
                         w, w, agg, w, agg, w);
                assert_int_equal(raw_int(f->path, sql), 0);
        }
        /* The comparison is not vacuous: buckets of both widths exist, some with a metric
         * known in only part of their rows and some with it never known. */
        assert_true(raw_int(f->path, "SELECT count(*) FROM rollup WHERE res = 60000") > procs * 50);
        assert_true(raw_int(f->path, "SELECT count(*) FROM rollup WHERE res = 3600000") >= procs * 2);
        assert_true(raw_int(f->path, "SELECT count(*) FROM rollup WHERE pss_min IS NULL") > 0);
        assert_true(raw_int(f->path, "SELECT count(*) FROM rollup WHERE res = 3600000 AND pss_min IS NOT NULL") > 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_mode_and_version, setup, teardown),
                cmocka_unit_test_setup_teardown(test_agent_reports_and_retention, setup, teardown),
                cmocka_unit_test_setup_teardown(test_existing_world_readable_file_is_tightened, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refuses_foreign_and_newer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrates_old_schema, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrates_v7_to_scales, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_only_open, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reader_without_write_access, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fold_keeps_every_sample_exactly, setup, teardown),
                cmocka_unit_test_setup_teardown(test_put_rows_batches_samples, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_batch_reported, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_block_reported, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrates_recent_into_batches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_migrates_samples_into_blocks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_samples_roundtrip_and_unknown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_identity_queries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_live_processes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fold_rollups_retention_series, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fold_rollups_match_sql_aggregates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_size_limit_behaves_like_full_disk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_locked_database, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wal_deleted_while_open, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wal_replaced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shm_deleted_while_open, setup, teardown),
                cmocka_unit_test_setup_teardown(test_database_deleted_replaced_linked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_refused_at_open, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_at_open_set_aside_and_salvaged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_a_database_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_damaged_while_open, setup, teardown),
        };

        return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
