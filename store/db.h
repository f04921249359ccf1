/* SPDX-License-Identifier: GPL-2.0-or-later */
/* db: what the files of store/ share and nothing else sees — the connection, the
 * statements kept for its lifetime, SQLite's result codes as -errno, and the helpers
 * that bind values and read columns. This is the only header that includes sqlite3.h:
 * the rest of leakwatch speaks to the database through store.h and query.h.
 *
 * Conventions: every function that can fail returns 0 (or a count) or -errno, and
 * leaves SQLite's own words in s->errmsg for store_errmsg(). Memory is bound and read
 * in KiB, the kernel's granularity, and is bytes on the C side (lib/sample.h). */
#ifndef LEAKWATCH_STORE_DB_H
#define LEAKWATCH_STORE_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "block.h"
#include "sample.h"
#include "store.h"

#define MINUTE_MS INT64_C(60000)
#define HOUR_MS   INT64_C(3600000)

/* Statements prepared once and kept: the writer's, run for every row of every commit,
 * and the client's per-process lookups, run once per process of a listing; preparing
 * them each time would cost more than running them. */
enum db_stmt {
        /* store.c: the writer's rows, prepared when a database is opened for writing */
        ST_PUT_BATCH,
        ST_PUT_RULE_SAMPLE,
        ST_PUT_PROCESS,
        ST_END_PROCESS,
        ST_PUT_RULE,
        ST_PUT_EVENT,
        ST_PUT_ALERT,
        ST_PUT_VERDICT,
        ST_PUT_HOOK_RUN,
        ST_PUT_AGENT,
        ST_PUT_AGENT_TYPE,
        ST_PUT_AGENT_SITE,
        ST_PUT_ALERT_KIND,
        ST_PUT_RESTART,
        ST_PUT_ALERT_BUNDLE,
        ST_PUT_ALERT_RAISED,
        ST_PUT_ALERT_LATEST,
        /* store.c: prepared at first use */
        ST_REOPEN_PROCESS,
        ST_EXEC_PROCESS,
        ST_END_ALERT,
        ST_END_OTHER_BOOTS,
        /* query.c: prepared at first use */
        ST_FLOOR_MINUTE_FIRST,
        ST_FLOOR_ROLLUP,
        ST_LATEST,
        /* db.c: blocks of folded samples */
        ST_PUT_BLOCK,
        ST_BLOCKS,
        /* raw.c: bulk loading */
        ST_BULK_ROLLUP,
        ST__MAX
};

/* The files of a WAL database: the database, its write-ahead log, the log's index. */
enum db_file { F_DB, F_WAL, F_SHM, F__MAX };

/* Which file a path named when the daemon opened it. */
struct db_file_id {
        dev_t dev;
        ino_t ino;
        bool known;                     /* false: it did not exist (yet) */
        /* F_DB: as the connection's last write left it. Only a checkpoint writes the
         * database file, and only this connection checkpoints (or a writer that takes the
         * lock from it): a change it did not make is someone writing behind SQLite's back,
         * or another writer; either way the file is checked. */
        struct timespec mtime;
        off_t size;
};

struct store {
        sqlite3 *db;                    /* NULL only while a repair could not reopen it */
        char *path;                     /* STORE_RW: its directory with symlinks resolved */
        enum store_mode mode;
        sqlite3_stmt *stmt[ST__MAX];
        char errmsg[256];
        /* STORE_RW: what store_check() compares the paths with. */
        struct db_file_id files[F__MAX];
        int64_t size_limit;             /* store_set_size_limit's, set again after a reopen */
        bool damaged;                   /* SQLite said the file is corrupt */
        char *set_aside;                /* where store_open moved a damaged file, or NULL */
        int64_t salvaged;               /* rows copied from it into the new file */
        /* raw.c's bulk load: the block of folded samples it fills, and its process */
        struct block_writer *bulk_block;
        int64_t bulk_process;
        /* The processes the last fold moved samples of: the next fold's table is sized
         * for them at once rather than grown (and rehashed) on the way. */
        size_t fold_procs;
        /* The samples put since the last batch was written: written as one row of
         * sample_batch at the commit (db_flush_batch), or before when full or when a
         * sample falls in another minute. */
        struct batch_writer batch;
};

/* The metrics that have rollup columns (min, max and mean per minute and per hour):
 * what a leak is judged on and what people plot. In column order. */
#define DB_N_ROLLUP 9
extern const enum metric db_rollup_metrics[DB_N_ROLLUP];
bool db_has_rollup(enum metric m);

/* ---- errors ---- */

/* The -errno for an SQLite result code (the table at the top of store.h). */
int db_errno(int rc);
/* SQLite's words for a file that is not (or no longer) a sound database. */
bool db_rc_damaged(int rc);
/* Keeps SQLite's message in s->errmsg, notes a damaged file (s->damaged), and returns
 * db_errno(rc). */
int db_fail(struct store *s, int rc);
/* For every call while a repair could not open the database again (s->db NULL), until
 * store_check() does: says so in s->errmsg and returns -EIO. */
int db_closed(struct store *s);

/* ---- statements ---- */

/* Runs SQL text without results (several statements allowed). */
int db_exec(struct store *s, const char *sql);
/* A statement to run once and finalize. */
int db_prepare(struct store *s, const char *sql, sqlite3_stmt **ret);
/* Prepares sql into the kept slot id, now. */
int db_keep(struct store *s, enum db_stmt id, const char *sql);
/* The kept statement id, prepared from sql at its first use, reset and unbound. */
int db_cached(struct store *s, enum db_stmt id, const char *sql, sqlite3_stmt **ret);
/* Runs a statement to its end and resets it (its bindings cleared). */
int db_step_done(struct store *s, sqlite3_stmt *st);
/* The same for a statement whose every parameter is bound again before each step (a
 * sample's insert): its bindings are left, not cleared — a cost per row otherwise. */
int db_step_rebound(struct store *s, sqlite3_stmt *st);
/* Steps a statement that yields one row: its first column (def if NULL). -ENOENT if
 * there is no row. The statement is not reset. */
int db_step_int64(struct store *s, sqlite3_stmt *st, int64_t def, int64_t *ret);
/* db_step_int64() of SQL text. */
int db_int64(struct store *s, const char *sql, int64_t def, int64_t *ret);

/* ---- binding ---- */

void db_bind_text(sqlite3_stmt *st, int idx, const char *text, size_t len);    /* NULL: NULL */
void db_bind_str(sqlite3_stmt *st, int idx, const char *v);                     /* NULL: NULL */
void db_bind_real(sqlite3_stmt *st, int idx, double v);                         /* not finite: NULL */
void db_bind_time(sqlite3_stmt *st, int idx, int64_t ms);                       /* 0: NULL */
void db_bind_known(sqlite3_stmt *st, int idx, int64_t v);                       /* < 0: NULL */
/* Binds a sample's metric columns from idx (memory in KiB), then its packed reasons.
 * Returns the next index. */
int db_bind_metrics(sqlite3_stmt *st, int idx, const struct sample *smp);

/* ---- reading ---- */

/* A text column and its length (it may hold NUL bytes); NULL for NULL. Valid until the
 * next step. */
const char *db_column_text(sqlite3_stmt *st, int col, size_t *ret_len);
/* A malloc'd copy of a text column, NUL-terminated; NULL stays NULL. -ENOMEM only when
 * a non-NULL value could not be copied. */
int db_column_dup(sqlite3_stmt *st, int col, char **ret, size_t *ret_len);
/* The same, with NULL read as "": for columns whose readers want a string always. */
int db_column_str(sqlite3_stmt *st, int col, char **ret, size_t *ret_len);
/* A text column into buf, cut to fit; "" for NULL. */
void db_column_copy(sqlite3_stmt *st, int col, char *buf, size_t sz);
double db_column_real(sqlite3_stmt *st, int col);               /* NULL: NAN */
int64_t db_column_or(sqlite3_stmt *st, int col, int64_t def);   /* NULL: def */
/* Reads the metric columns from col (memory in KiB) and the packed reasons after them. */
void db_read_metrics(sqlite3_stmt *st, int col, struct sample *smp);
/* "rss, anon, ...": the sample tables' metric columns, in metric order. */
void db_metric_columns(char *buf, size_t bufsz);

/* ---- blocks of folded samples (sql/006-sample-block.sql, block.h) ---- */

struct block_writer;
/* Writes a finished block of process_id's samples as a row of sample_block. */
int db_put_block(struct store *s, int64_t process_id, struct block_writer *w);
/* Adds smp to a process's block, writing the block out and beginning another when it is
 * full. */
int db_pack(struct store *s, int64_t process_id, struct block_writer *w, const struct sample *smp);
/* Calls cb for each folded sample of process_id in [from_ms, to_ms), in time order,
 * until cb returns non-zero (which is returned). A damaged block fails the read with
 * -EBADMSG (-EPROTO: of a later version), and s->errmsg names the block. */
int db_for_each_folded(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                       int (*cb)(const struct sample *smp, void *userdata), void *userdata);

/* ---- batches of recent samples (sql/012-sample-batch.sql, block.h) ---- */

/* Adds process_id's sample to the batch being filled; the batch is written out first if
 * smp falls in another minute than it or it is full, and at once outside a transaction.
 * A process id that is not positive was never given by the store: -EINVAL. */
int db_batch_add(struct store *s, int64_t process_id, const struct sample *smp);
/* Writes the batch being filled as a row of sample_batch (nothing if it is empty). */
int db_flush_batch(struct store *s);
/* Forgets the batch being filled (its transaction was rolled back). */
void db_drop_batch(struct store *s);

/* A walk over the recent samples in [from_ms, to_ms), batch by batch: oldest batch first
 * or newest first, each batch's samples in the order they were put. The batch being
 * filled is written out first. Each batch is checked whole before any of its samples is
 * given: a damaged one ends the walk with -EBADMSG (-EPROTO: of a later version),
 * s->errmsg naming it, or, with skip_damaged set after opening, is passed over and
 * counted. */
struct db_batches {
        struct store *s;
        sqlite3_stmt *st;
        struct batch_reader br;
        bool in_batch;
        int64_t from, to;
        int64_t id, t0, t1, n, got;     /* the batch being read: its row, and samples read */
        uint64_t seq;                   /* batches begun: tells a caller where one ends */
        bool skip_damaged;              /* pass over a damaged batch instead of failing */
        size_t damaged;                 /* batches passed over */
};
int db_batches_open(struct store *s, int64_t from_ms, int64_t to_ms, bool newest_first, struct db_batches *ret);
/* The next sample and its process: 1, 0 at the end, or -errno. */
int db_batches_next(struct db_batches *it, int64_t *ret_id, struct sample *ret);
void db_batches_close(struct db_batches *it);

/* Grows an array of elements of size sz by one slot; returns the new slot, zeroed, or
 * NULL when out of memory (the array is then unchanged). */
void *db_grow(void **arr, size_t *n, size_t *cap, size_t sz);
/* Steps the bound statement st to its end and finalizes it: one element of sz bytes a
 * row, zeroed, filled by row(st, elem), which returns 0 or -errno to stop. The array
 * and its count go to *arr and *n whatever happens, so that the caller's free function
 * releases what a failed read had filled. 0 or -errno. */
int db_collect(struct store *s, sqlite3_stmt *st, size_t sz, int (*row)(sqlite3_stmt *st, void *elem), void **arr,
               size_t *n);

#endif
