/* SPDX-License-Identifier: GPL-2.0-or-later */
/* raw: SQL text on a database file for the tests, bulk loading for the benchmarks. */
#include "raw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "db.h"
#include "util.h"

/* A bulk load of a month of 1000 processes touches a few GiB of pages: a big cache
 * keeps the B-trees' inner pages in memory (KiB; negative cache_size means KiB). */
#define BULK_CACHE_KIB (256 * 1024)

/* A bare connection: no migration, no pragmas, the busy timeout of a reader. */
static int raw_open(const char *path, int flags, struct store *s)
{
        int rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);

        if (rc != SQLITE_OK)
                return db_fail(s, rc);
        sqlite3_busy_timeout(s->db, 2000);
        return 0;
}

int store_raw_connect(const char *path, bool writable, struct store **ret)
{
        struct store *s = calloc(1, sizeof(*s));
        int r;

        if (!s)
                return -ENOMEM;
        r = raw_open(path, writable ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY, s);
        if (r < 0) {
                store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

int store_raw_query(struct store *s, const char *sql, int64_t *ret)
{
        return db_int64(s, sql, 0, ret);
}

int store_raw_run(struct store *s, const char *sql)
{
        return db_exec(s, sql);
}

int store_raw_int64(const char *path, const char *sql, int64_t *ret)
{
        struct store *s;
        int r = store_raw_connect(path, false, &s);

        if (r < 0)
                return r;
        r = store_raw_query(s, sql, ret);
        store_close(s);
        return r;
}

int store_raw_exec(const char *path, const char *sql)
{
        struct store *s;
        int r = store_raw_connect(path, true, &s);

        if (r < 0)
                return r;
        r = store_raw_run(s, sql);
        store_close(s);
        return r;
}

/* ---- bulk loading ---- */

int store_bulk_open(const char *path, struct store **ret, char *err, size_t errsz)
{
        char pragmas[160];
        struct store *s;
        int r;

        if (access(path, F_OK) == 0) {
                snprintf(err, errsz, "%s exists", path);
                return -EEXIST;
        }
        r = store_open(path, STORE_RW, &s, err, errsz);
        if (r < 0)
                return r;
        /* A bulk load that starts over on failure needs no journal. */
        snprintf(pragmas, sizeof(pragmas), "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
                 "PRAGMA cache_size = -%d; BEGIN", BULK_CACHE_KIB);
        r = db_exec(s, pragmas);
        if (r < 0) {
                snprintf(err, errsz, "%s", store_errmsg(s));
                store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int bulk_flush(struct store *s)
{
        int r;

        if (!s->bulk_block || s->bulk_block->n == 0)
                return 0;
        r = db_put_block(s, s->bulk_process, s->bulk_block);
        block_writer_reset(s->bulk_block);
        return r;
}

int store_bulk_finish(struct store *s)
{
        int r = bulk_flush(s);

        if (r == 0)
                r = db_flush_batch(s);
        if (r == 0)
                r = db_exec(s, "COMMIT; PRAGMA journal_mode = WAL");

        store_close(s);
        return r;
}

/* Folded samples are packed as the fold packs them: one block per run of samples of
 * a process, closed when the next sample is of another process or earlier, or when it is
 * full. */
static int bulk_folded(struct store *s, int64_t process_id, const struct sample *smp)
{
        struct block_writer *w = s->bulk_block;
        int r;

        if (!w) {
                w = s->bulk_block = malloc(sizeof(*w));
                if (!w)
                        return -ENOMEM;
                block_writer_init(w);
        }
        if (w->n > 0 && (process_id != s->bulk_process || smp->t_ms <= w->t)) {
                r = bulk_flush(s);
                if (r < 0)
                        return r;
        }
        s->bulk_process = process_id;
        return db_pack(s, process_id, w, smp);
}

int store_raw_unbatch(const char *path, const char *name)
{
        char cols[512], marks[4 * M__MAX + 1], sql[2048];
        struct db_batches it = { 0 };
        sqlite3_stmt *ins = NULL;
        struct store *s;
        struct sample smp;
        int64_t id;
        size_t o = 0;
        int r;

        r = store_raw_connect(path, true, &s);
        if (r < 0)
                return r;
        db_metric_columns(cols, sizeof(cols));
        for (int m = 0; m < M__MAX; m++)
                o += (size_t)snprintf(marks + o, sizeof(marks) - o, ", ?");
        snprintf(sql, sizeof(sql), "CREATE TABLE \"%s\" (process_id INTEGER NOT NULL, t INTEGER NOT NULL, %s, "
                 "unknown INTEGER NOT NULL); BEGIN", name, cols);
        r = db_exec(s, sql);
        if (r < 0)
                goto out;
        snprintf(sql, sizeof(sql), "INSERT INTO \"%s\" (process_id, t, %s, unknown) VALUES (?, ?%s, ?)", name, cols,
                 marks);
        r = db_prepare(s, sql, &ins);
        if (r == 0)
                r = db_batches_open(s, INT64_MIN, INT64_MAX, false, &it);
        while (r == 0 && (r = db_batches_next(&it, &id, &smp)) == 1) {
                sqlite3_bind_int64(ins, 1, id);
                sqlite3_bind_int64(ins, 2, smp.t_ms);
                db_bind_metrics(ins, 3, &smp);
                r = db_step_done(s, ins);
        }
        db_batches_close(&it);
        if (r == 0)
                r = db_exec(s, "COMMIT");
out:
        sqlite3_finalize(ins);
        store_close(s);
        return r;
}

int store_bulk_sample(struct store *s, bool folded, int64_t process_id, const struct sample *smp)
{
        if (folded)
                return bulk_folded(s, process_id, smp);
        /* Into a batch, as the writer's samples go (written at store_bulk_finish()). */
        return db_batch_add(s, process_id, smp);
}

int store_bulk_rollup(struct store *s, int64_t process_id, const struct store_rollup *b)
{
        char sql[1024];
        size_t o;
        sqlite3_stmt *st;
        int col = 5, r;

        o = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO rollup (process_id, res, t, n");
        for (size_t i = 0; i < DB_N_ROLLUP && o < sizeof(sql); i++) {
                const char *c = metric_info[db_rollup_metrics[i]].name;

                o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", %s_min, %s_max, %s_avg", c, c, c);
        }
        if (o < sizeof(sql))
                o += (size_t)snprintf(sql + o, sizeof(sql) - o, ") VALUES (?, ?, ?, ?");
        for (size_t i = 0; i < DB_N_ROLLUP && o < sizeof(sql); i++)
                o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", ?, ?, ?");
        if (o < sizeof(sql))
                o += (size_t)snprintf(sql + o, sizeof(sql) - o, ")");
        if (o >= sizeof(sql))
                return -E2BIG;
        r = db_cached(s, ST_BULK_ROLLUP, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, b->res_ms);
        sqlite3_bind_int64(st, 3, b->t_ms);
        sqlite3_bind_int64(st, 4, b->n);
        for (size_t i = 0; i < DB_N_ROLLUP; i++, col += 3) {
                enum metric m = db_rollup_metrics[i];
                int64_t scale = metric_info[m].unit == UNIT_BYTES ? 1024 : 1;

                if (b->cnt[m] == 0)
                        continue; /* unbound: NULL */
                sqlite3_bind_int64(st, col, b->min[m] / scale);
                sqlite3_bind_int64(st, col + 1, b->max[m] / scale);
                sqlite3_bind_double(st, col + 2, b->mean[m] / (double)scale);
        }
        return db_step_done(s, st);
}
