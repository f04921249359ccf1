/* SPDX-License-Identifier: GPL-2.0-or-later */
/* db: the plumbing store.c, query.c and raw.c share — errors, statements, binding,
 * reading. */
#include "db.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "util.h"

const enum metric db_rollup_metrics[DB_N_ROLLUP] = { M_RSS, M_ANON, M_FILE, M_SHMEM, M_SWAP, M_VSIZE, M_FDS,
                                                     M_PSS, M_USS };

bool db_has_rollup(enum metric m)
{
        for (size_t i = 0; i < DB_N_ROLLUP; i++)
                if (db_rollup_metrics[i] == m)
                        return true;
        return false;
}

/* ---- errors ---- */

int db_errno(int rc)
{
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_IOERR:
                return -EIO;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_CANTOPEN:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
        case SQLITE_ERROR:      /* a missing table or column: not the schema we know */
                return -EBADMSG;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_TOOBIG:
        case SQLITE_RANGE:
                return -E2BIG;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        default:
                return -EIO;
        }
}

bool db_rc_damaged(int rc)
{
        return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB;
}

int db_fail(struct store *s, int rc)
{
        if (db_rc_damaged(rc))
                s->damaged = true;
        if (s->db)
                snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
        else
                snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errstr(rc));
        return db_errno(rc);
}

int db_closed(struct store *s)
{
        snprintf(s->errmsg, sizeof(s->errmsg), "the database is closed after a failed repair");
        return -EIO;
}

/* ---- statements ---- */

int db_exec(struct store *s, const char *sql)
{
        char *msg = NULL;
        int rc;

        if (!s->db)
                return db_closed(s);
        rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
        if (rc != SQLITE_OK) {
                if (db_rc_damaged(rc))
                        s->damaged = true;
                snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg ? msg : sqlite3_errstr(rc));
                sqlite3_free(msg);
                return db_errno(rc);
        }
        return 0;
}

int db_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
        int rc;

        *ret = NULL;
        if (!s->db)
                return db_closed(s);
        rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
        return rc == SQLITE_OK ? 0 : db_fail(s, rc);
}

int db_keep(struct store *s, enum db_stmt id, const char *sql)
{
        int rc;

        sqlite3_finalize(s->stmt[id]);
        s->stmt[id] = NULL;
        if (!s->db)
                return db_closed(s);
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
        return rc == SQLITE_OK ? 0 : db_fail(s, rc);
}

int db_cached(struct store *s, enum db_stmt id, const char *sql, sqlite3_stmt **ret)
{
        int r;

        if (!s->stmt[id]) {
                r = db_keep(s, id, sql);
                if (r < 0)
                        return r;
        }
        sqlite3_reset(s->stmt[id]);
        sqlite3_clear_bindings(s->stmt[id]);
        *ret = s->stmt[id];
        return 0;
}

int db_step_rebound(struct store *s, sqlite3_stmt *st)
{
        int rc, r;

        if (!st)
                return db_closed(s);
        rc = sqlite3_step(st);
        r = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : db_fail(s, rc);
        sqlite3_reset(st);
        return r;
}

int db_step_done(struct store *s, sqlite3_stmt *st)
{
        int r = db_step_rebound(s, st);

        if (st)
                sqlite3_clear_bindings(st);
        return r;
}

int db_step_int64(struct store *s, sqlite3_stmt *st, int64_t def, int64_t *ret)
{
        int rc = sqlite3_step(st);

        if (rc == SQLITE_ROW) {
                *ret = db_column_or(st, 0, def);
                return 0;
        }
        return rc == SQLITE_DONE ? -ENOENT : db_fail(s, rc);
}

int db_int64(struct store *s, const char *sql, int64_t def, int64_t *ret)
{
        sqlite3_stmt *st;
        int r;

        r = db_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = db_step_int64(s, st, def, ret);
        sqlite3_finalize(st);
        return r;
}

/* ---- binding ---- */

void db_bind_text(sqlite3_stmt *st, int idx, const char *text, size_t len)
{
        if (text)
                sqlite3_bind_text(st, idx, text, (int)MIN(len, (size_t)INT_MAX), SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, idx);
}

void db_bind_str(sqlite3_stmt *st, int idx, const char *v)
{
        db_bind_text(st, idx, v, v ? strlen(v) : 0);
}

void db_bind_real(sqlite3_stmt *st, int idx, double v)
{
        if (isfinite(v))
                sqlite3_bind_double(st, idx, v);
        else
                sqlite3_bind_null(st, idx);
}

void db_bind_time(sqlite3_stmt *st, int idx, int64_t ms)
{
        if (ms)
                sqlite3_bind_int64(st, idx, ms);
        else
                sqlite3_bind_null(st, idx);
}

void db_bind_known(sqlite3_stmt *st, int idx, int64_t v)
{
        if (v >= 0)
                sqlite3_bind_int64(st, idx, v);
        else
                sqlite3_bind_null(st, idx);
}

int db_bind_metrics(sqlite3_stmt *st, int idx, const struct sample *smp)
{
        for (int m = 0; m < M__MAX; m++, idx++) {
                if (!sample_has(smp, (enum metric)m))
                        sqlite3_bind_null(st, idx);
                else if (metric_info[m].unit == UNIT_BYTES)
                        sqlite3_bind_int64(st, idx, smp->v[m] / 1024);
                else
                        sqlite3_bind_int64(st, idx, smp->v[m]);
        }
        sqlite3_bind_int64(st, idx, sample_pack_why(smp));
        return idx + 1;
}

/* ---- reading ---- */

const char *db_column_text(sqlite3_stmt *st, int col, size_t *ret_len)
{
        const char *t = (const char *)sqlite3_column_text(st, col);

        if (ret_len)
                *ret_len = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
        return t;
}

int db_column_dup(sqlite3_stmt *st, int col, char **ret, size_t *ret_len)
{
        const unsigned char *t;
        size_t n;
        char *c;

        if (sqlite3_column_type(st, col) == SQLITE_NULL) {
                *ret = NULL;
                if (ret_len)
                        *ret_len = 0;
                return 0;
        }
        t = sqlite3_column_text(st, col);
        n = (size_t)sqlite3_column_bytes(st, col);
        c = malloc(n + 1);
        if (!c)
                return -ENOMEM;
        if (n)
                memcpy(c, t, n);
        c[n] = '\0';
        *ret = c;
        if (ret_len)
                *ret_len = n;
        return 0;
}

int db_column_str(sqlite3_stmt *st, int col, char **ret, size_t *ret_len)
{
        if (db_column_dup(st, col, ret, ret_len) < 0)
                return -ENOMEM;
        if (!*ret && !(*ret = strdup("")))
                return -ENOMEM;
        return 0;
}

void db_column_copy(sqlite3_stmt *st, int col, char *buf, size_t sz)
{
        const unsigned char *t = sqlite3_column_text(st, col);

        snprintf(buf, sz, "%s", t ? (const char *)t : "");
}

double db_column_real(sqlite3_stmt *st, int col)
{
        return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

int64_t db_column_or(sqlite3_stmt *st, int col, int64_t def)
{
        return sqlite3_column_type(st, col) == SQLITE_NULL ? def : sqlite3_column_int64(st, col);
}

void db_read_metrics(sqlite3_stmt *st, int col, struct sample *smp)
{
        for (int m = 0; m < M__MAX; m++, col++) {
                if (sqlite3_column_type(st, col) == SQLITE_NULL)
                        continue;
                sample_set(smp, (enum metric)m, sqlite3_column_int64(st, col) *
                                                        (metric_info[m].unit == UNIT_BYTES ? 1024 : 1));
        }
        sample_unpack_why(smp, sqlite3_column_int64(st, col));
}

void db_metric_columns(char *buf, size_t bufsz)
{
        size_t o = 0;

        buf[0] = '\0';
        for (int m = 0; m < M__MAX && o < bufsz; m++)
                o += (size_t)snprintf(buf + o, bufsz - o, "%s%s", m ? ", " : "", metric_info[m].name);
}

void *db_grow(void **arr, size_t *n, size_t *cap, size_t sz)
{
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                void *na = reallocarray(*arr, nc, sz);

                if (!na)
                        return NULL;
                *arr = na;
                *cap = nc;
        }
        memset((char *)*arr + *n * sz, 0, sz);
        return (char *)*arr + (*n)++ * sz;
}

int db_collect(struct store *s, sqlite3_stmt *st, size_t sz, int (*row)(sqlite3_stmt *st, void *elem), void **arr,
               size_t *n)
{
        size_t cap = 0;
        int r = 0, rc;

        *arr = NULL;
        *n = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                void *e = db_grow(arr, n, &cap, sz);

                r = e ? row(st, e) : -ENOMEM;
                if (r < 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

/* ---- blocks of folded samples ---- */

int db_put_block(struct store *s, int64_t process_id, struct block_writer *w)
{
        const uint8_t *data;
        sqlite3_stmt *st;
        size_t len;
        int r;

        r = db_cached(s, ST_PUT_BLOCK, "INSERT OR IGNORE INTO sample_block (process_id, t0, t1, n, data) "
                                       "VALUES (?1, ?2, ?3, ?4, ?5)", &st);
        if (r < 0)
                return r;
        data = block_writer_finish(w, &len);
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, w->t0);
        sqlite3_bind_int64(st, 3, w->t);
        sqlite3_bind_int64(st, 4, w->n);
        sqlite3_bind_blob(st, 5, data, (int)len, SQLITE_STATIC);
        return db_step_done(s, st);
}

int db_pack(struct store *s, int64_t process_id, struct block_writer *w, const struct sample *smp)
{
        int r = block_writer_add(w, smp);

        if (r != -ENOSPC)
                return r;
        r = db_put_block(s, process_id, w);
        if (r < 0)
                return r;
        block_writer_reset(w);
        return block_writer_add(w, smp);
}

static int damaged_block(struct store *s, int r, int64_t process_id, int64_t t0, const char *why)
{
        snprintf(s->errmsg, sizeof(s->errmsg), "the samples of process %" PRId64 " from %" PRId64
                 " (a block of sample_block) are %s", process_id, t0,
                 r == -EPROTO ? "of a later version of leakwatch" : why);
        return r;
}

int db_for_each_folded(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                       int (*cb)(const struct sample *smp, void *userdata), void *userdata)
{
        sqlite3_stmt *st;
        int r, rc;

        if (from_ms >= to_ms)
                return 0;
        /* From the last block that starts at or before from_ms: one range of the key. */
        r = db_cached(s, ST_BLOCKS, "SELECT t0, t1, n, data FROM sample_block WHERE process_id = ?1 "
                                    "AND t0 >= coalesce((SELECT max(t0) FROM sample_block WHERE process_id = ?1 "
                                    "AND t0 <= ?2), ?2) AND t0 < ?3 ORDER BY t0", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t t0 = sqlite3_column_int64(st, 0), t1 = sqlite3_column_int64(st, 1);
                int64_t n = sqlite3_column_int64(st, 2), got = 0, last = 0;
                const void *data = sqlite3_column_blob(st, 3);
                struct block_reader br;
                struct sample smp;

                if (t1 < from_ms)
                        continue;
                r = block_reader_init(&br, data, (size_t)sqlite3_column_bytes(st, 3));
                if (r < 0) {
                        damaged_block(s, r, process_id, t0, "damaged");
                        goto out;
                }
                while ((r = block_reader_next(&br, &smp)) == 1) {
                        if (++got == 1 && smp.t_ms != t0) {
                                r = -EBADMSG; /* the row's key is not its first sample */
                                break;
                        }
                        last = smp.t_ms;
                        if (smp.t_ms < from_ms || smp.t_ms >= to_ms)
                                continue;
                        r = cb(&smp, userdata);
                        if (r != 0)
                                goto out;
                }
                /* The row's own columns must agree with what the block holds. */
                if (r < 0 || got != n || last != t1) {
                        r = damaged_block(s, r < 0 ? r : -EBADMSG, process_id, t0, "damaged");
                        goto out;
                }
        }
        if (rc != SQLITE_DONE)
                r = db_fail(s, rc);
out:
        sqlite3_reset(st);
        return r;
}

/* ---- batches of recent samples ---- */

int db_flush_batch(struct store *s)
{
        struct batch_writer *w = &s->batch;
        const uint8_t *data;
        sqlite3_stmt *st;
        size_t len;
        int r;

        if (w->n == 0)
                return 0;
        if (!s->db)
                return db_closed(s);
        r = db_cached(s, ST_PUT_BATCH, "INSERT INTO sample_batch (t0, t1, n, data) VALUES (?1, ?2, ?3, ?4)", &st);
        if (r < 0)
                return r;
        data = batch_writer_finish(w, &len);
        sqlite3_bind_int64(st, 1, w->t_min);
        sqlite3_bind_int64(st, 2, w->t_max);
        sqlite3_bind_int64(st, 3, w->n);
        sqlite3_bind_blob(st, 4, data, (int)len, SQLITE_STATIC);
        r = db_step_done(s, st);
        if (r == 0)
                batch_writer_reset(w);
        return r;
}

void db_drop_batch(struct store *s)
{
        batch_writer_reset(&s->batch);
}

static int64_t minute_of(int64_t t)
{
        return t - (t % MINUTE_MS + MINUTE_MS) % MINUTE_MS;
}

int db_batch_add(struct store *s, int64_t process_id, const struct sample *smp)
{
        struct batch_writer *w = &s->batch;
        int r;

        if (process_id <= 0)
                return -EINVAL;
        /* A batch within one minute: a fold, which moves whole minutes, moves whole
         * batches. */
        if (w->n > 0 && minute_of(smp->t_ms) != minute_of(w->t_min)) {
                r = db_flush_batch(s);
                if (r < 0)
                        return r;
        }
        r = batch_writer_add(w, process_id, smp);
        if (r == -ENOSPC) {
                r = db_flush_batch(s);
                if (r == 0)
                        r = batch_writer_add(w, process_id, smp);
        }
        if (r == 0 && s->db && sqlite3_get_autocommit(s->db))
                r = db_flush_batch(s);
        return r;
}

/* A batch spans less than a minute, so one with a sample at or after from_ms began
 * after from_ms - MINUTE_MS. */
int db_batches_open(struct store *s, int64_t from_ms, int64_t to_ms, bool newest_first, struct db_batches *ret)
{
        int64_t lo = from_ms > INT64_MIN + MINUTE_MS ? from_ms - MINUTE_MS : INT64_MIN;
        int r;

        *ret = (struct db_batches){ .s = s, .from = from_ms, .to = to_ms };
        r = db_flush_batch(s);
        if (r < 0)
                return r;
        r = db_prepare(s, newest_first ? "SELECT id, t0, t1, n, data FROM sample_batch WHERE t0 > ?1 AND t0 < ?2 "
                                         "ORDER BY t0 DESC, id DESC"
                                       : "SELECT id, t0, t1, n, data FROM sample_batch WHERE t0 > ?1 AND t0 < ?2 "
                                         "ORDER BY t0, id", &ret->st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(ret->st, 1, lo);
        sqlite3_bind_int64(ret->st, 2, to_ms);
        return 0;
}

/* The whole batch read once: its row's count and times must agree with what it holds. */
static int check_batch(struct db_batches *it)
{
        struct batch_reader br = it->br;
        struct sample smp;
        int64_t id, got = 0;
        int r;

        while ((r = batch_reader_next(&br, &id, &smp)) == 1) {
                if (smp.t_ms < it->t0 || smp.t_ms > it->t1)
                        return -EBADMSG;
                got++;
        }
        return r < 0 ? r : got == it->n ? 0 : -EBADMSG;
}

static int damaged_batch(struct db_batches *it, int r)
{
        snprintf(it->s->errmsg, sizeof(it->s->errmsg), "the samples of batch %" PRId64 " from %" PRId64
                 " (a row of sample_batch) are %s", it->id, it->t0,
                 r == -EPROTO ? "of a later version of leakwatch" : "damaged");
        return r == -EPROTO ? r : -EBADMSG;
}

int db_batches_next(struct db_batches *it, int64_t *ret_id, struct sample *ret)
{
        for (;;) {
                int64_t id;
                struct sample smp;
                int r, rc;

                if (!it->in_batch) {
                        rc = sqlite3_step(it->st);
                        if (rc == SQLITE_DONE)
                                return 0;
                        if (rc != SQLITE_ROW)
                                return db_fail(it->s, rc);
                        it->id = sqlite3_column_int64(it->st, 0);
                        it->t0 = sqlite3_column_int64(it->st, 1);
                        it->t1 = sqlite3_column_int64(it->st, 2);
                        it->n = sqlite3_column_int64(it->st, 3);
                        it->got = 0;
                        it->seq++;
                        if (it->t1 < it->from)
                                continue;
                        r = batch_reader_init(&it->br, sqlite3_column_blob(it->st, 4),
                                              (size_t)sqlite3_column_bytes(it->st, 4));
                        if (r == 0)
                                r = check_batch(it);
                        if (r < 0 && it->skip_damaged) {
                                it->damaged++;
                                continue;
                        }
                        if (r < 0)
                                return damaged_batch(it, r);
                        it->in_batch = true;
                }
                r = batch_reader_next(&it->br, &id, &smp);
                if (r < 0)
                        return damaged_batch(it, r); /* checked: cannot happen */
                if (r == 0) {
                        it->in_batch = false;
                        continue;
                }
                it->got++;
                if (smp.t_ms < it->from || smp.t_ms >= it->to)
                        continue;
                *ret_id = id;
                *ret = smp;
                return 1;
        }
}

void db_batches_close(struct db_batches *it)
{
        sqlite3_finalize(it->st);
        it->st = NULL;
}
