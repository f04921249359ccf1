/* SPDX-License-Identifier: GPL-2.0-or-later */
/* raw: the database below the store's API, for the tests that check what the store
 * wrote and the benchmark that needs a month of history in minutes. Never linked into
 * leakwatchd or leakwatch: they read and write only through store.h and query.h.
 *
 *   - inspection: SQL text on a database file, over a connection of its own (so a
 *     test can also hold a reader, or a second writer's lock, open);
 *   - bulk loading: a new database with the daemon's own schema, filled in one
 *     transaction without a journal, with raw samples and rollups written straight into
 *     the tables the fold and retention would otherwise produce.
 * Errors are -errno as in store.h; the inspection functions print nothing. */
#ifndef LEAKWATCH_STORE_RAW_H
#define LEAKWATCH_STORE_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"
#include "store.h"

/* Runs sql on the database at path and returns its first column of its first row
 * (NULL reads as 0). -ENOENT if there is no row. */
int store_raw_int64(const char *path, const char *sql, int64_t *ret);
/* Runs sql (any number of statements, no results) on the database at path, which is
 * created if missing. */
int store_raw_exec(const char *path, const char *sql);

/* A bare connection to the database at path, as another program opens it (no schema
 * check, no pragmas; writable: created if missing): for a test that holds a reader, or
 * another database's writer, open across the store's calls. Only the two calls below
 * and store_close() take it. */
int store_raw_connect(const char *path, bool writable, struct store **ret);
/* store_raw_int64() and store_raw_exec() on such a connection. */
int store_raw_query(struct store *s, const char *sql, int64_t *ret);
int store_raw_run(struct store *s, const char *sql);

/* Creates table `name` in the database at path laid out as the recent samples' table
 * was before schema version 12 (process_id, t, the metric columns in KiB, unknown), one
 * row per sample of sample_batch, decoded: for a test that checks what the writer wrote
 * with SQL's own aggregates. -EBADMSG if a batch is damaged. */
int store_raw_unbatch(const char *path, const char *name);

/* Creates path (it must not exist) with the current schema and opens it for a bulk
 * load: one transaction, no journal, no fsync, until store_bulk_finish(). Rows go in
 * with store_put_*() and the two functions below. On failure err gets the reason. */
int store_bulk_open(const char *path, struct store **ret, char *err, size_t errsz);
/* Commits, puts the database back in WAL mode, and closes it (also on failure). */
int store_bulk_finish(struct store *s);

/* A raw sample, into the per-process table (folded) or the recent one. */
int store_bulk_sample(struct store *s, bool folded, int64_t process_id, const struct sample *smp);

/* One rollup bucket of a process: what the fold writes for the samples of a minute or
 * an hour. Values are in the sample API's units (bytes, counts); a metric without
 * values (cnt 0) is stored as NULL. */
struct store_rollup {
        int64_t res_ms;                 /* 60000 or 3600000 */
        int64_t t_ms;                   /* bucket start */
        int64_t n;                      /* samples */
        int64_t cnt[M__MAX];            /* samples with a value, per metric */
        int64_t min[M__MAX], max[M__MAX];
        double mean[M__MAX];
};
/* Writes the bucket; metrics without rollup columns are ignored. */
int store_bulk_rollup(struct store *s, int64_t process_id, const struct store_rollup *b);

#endif
