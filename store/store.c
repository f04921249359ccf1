/* SPDX-License-Identifier: GPL-2.0-or-later */
/* store: the only owner of SQLite — schema and migrations, the daemon's batched writes,
 * retention (rollups and pruning), and the read queries the client and the daemon share.
 *
 * Layout (sql/001-initial.sql, 006, 012). A commit's samples of every process go into
 * one row of sample_batch, packed (block.h), so a tick of ten thousand processes is one
 * insert, not ten thousand. Every few minutes store_fold() moves them, process by
 * process, into sample_block, whose key starts with the process, so one process's series
 * is one range scan; the same fold computes the per-minute and per-hour rollups of
 * exactly those samples, so retention never has to scan the big tables by time. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "block.h"
#include "db.h"
#include "sql-migrations.h"
#include "util.h"

/* The daemon must never wait long on a lock (it would stall sampling), so it gives up
 * quickly and keeps the batch for the next commit; a reader can afford to wait. */
#define BUSY_TIMEOUT_WRITER_MS 200
#define BUSY_TIMEOUT_READER_MS 5000
/* Page cache per connection, in KiB (negative cache_size means KiB): enough for the hot
 * pages of a tick and an index walk, small enough to keep the daemon's RSS flat. */
#define CACHE_KIB 4096
/* After a checkpoint the WAL file is truncated back to at most this size, so a burst of
 * writes does not leave a large file behind for good. */
#define WAL_SIZE_LIMIT (16 * 1024 * 1024)

static const char *const file_suffix[F__MAX] = { "", "-wal", "-shm" };

const char *store_errmsg(const struct store *s)
{
        return s && s->errmsg[0] ? s->errmsg : "no error";
}

int store_latest_schema_version(void)
{
        return sql_migrations_count ? (int)sql_migrations[sql_migrations_count - 1].version : 0;
}

int store_schema_version(struct store *s)
{
        int64_t v;
        int r = db_int64(s, "PRAGMA user_version", 0, &v);

        return r < 0 ? r : (int)v;
}

/* A database that has tables but no version is someone else's: refuse to touch it. */
static int check_foreign(struct store *s, int version)
{
        int64_t n;
        int r;

        if (version != 0)
                return 0;
        r = db_int64(s, "SELECT count(*) FROM sqlite_master", 0, &n);
        if (r < 0)
                return r;
        if (n > 0) {
                snprintf(s->errmsg, sizeof(s->errmsg), "not a leakwatch database (unversioned tables)");
                return -EBADMSG;
        }
        return 0;
}

/* The schema as this program's migrations leave it at version, in a database of its own
 * in memory: what a leakwatch database of that version holds, to the byte. */
static int schema_of_version(int version, sqlite3 **ret)
{
        sqlite3 *db = NULL;
        int rc = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

        for (unsigned i = 0; rc == SQLITE_OK && i < sql_migrations_count; i++)
                if ((int)sql_migrations[i].version <= version)
                        rc = sqlite3_exec(db, sql_migrations[i].sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
                sqlite3_close(db);
                return db_errno(rc);
        }
        *ret = db;
        return 0;
}

/* A flipped byte in the schema's text can leave a valid schema that is not ours (a
 * column renamed, an index on another column): SQLite reads it without complaint, and
 * statements fail or indexes disagree with their tables. So the schema must be exactly
 * what the migrations made at the version the file says. Otherwise it is damaged. */
static int check_schema(struct store *s, int version)
{
        static const char q[] = "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema ORDER BY 1, 2";
        sqlite3_stmt *have = NULL, *want = NULL;
        sqlite3 *ref = NULL;
        int r, a = SQLITE_DONE, b = SQLITE_DONE;

        if (version <= 0 || version > store_latest_schema_version())
                return 0;
        r = schema_of_version(version, &ref);
        if (r < 0)
                return r;
        r = db_prepare(s, q, &have);
        if (r == 0 && sqlite3_prepare_v2(ref, q, -1, &want, NULL) != SQLITE_OK)
                r = -ENOMEM;
        while (r == 0) {
                a = sqlite3_step(have);
                b = sqlite3_step(want);
                if (a != SQLITE_ROW && a != SQLITE_DONE) {
                        r = db_fail(s, a);
                        break;
                }
                if (a == SQLITE_DONE && b == SQLITE_DONE)
                        break;
                if (a != b || strcmp((const char *)sqlite3_column_text(have, 1),
                                     (const char *)sqlite3_column_text(want, 1)) != 0) {
                        r = -EBADMSG;
                        break;
                }
                for (int c = 0; c < 4 && r == 0; c++)
                        if (strcmp((const char *)sqlite3_column_text(have, c),
                                   (const char *)sqlite3_column_text(want, c)) != 0)
                                r = -EBADMSG;
        }
        if (r == -EBADMSG) {
                s->damaged = true;
                snprintf(s->errmsg, sizeof(s->errmsg), "its schema is not the one of leakwatch's version %d "
                         "(changed at %.64s)", version, a == SQLITE_ROW ? (const char *)sqlite3_column_text(have, 1) :
                         b == SQLITE_ROW ? (const char *)sqlite3_column_text(want, 1) : "?");
        }
        sqlite3_finalize(have);
        sqlite3_finalize(want);
        sqlite3_close(ref);
        return r;
}

/* Schema version 6: the rows of `sample`, in key order (process, time), packed into
 * blocks as the fold packs them. Every row is kept: the migration fails rather than
 * drop one. */
static int pack_samples(struct store *s)
{
        struct block_writer bw;
        sqlite3_stmt *st = NULL;
        char cols[512], sql[1024];
        int64_t id = 0;
        int rc, r;

        block_writer_init(&bw);
        db_metric_columns(cols, sizeof(cols));
        snprintf(sql, sizeof(sql), "SELECT process_id, t, %s, unknown FROM sample ORDER BY process_id, t", cols);
        r = db_prepare(s, sql, &st);
        if (r < 0)
                goto out;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct sample smp = { .t_ms = sqlite3_column_int64(st, 1) };
                int64_t pid = sqlite3_column_int64(st, 0);

                db_read_metrics(st, 2, &smp);
                if (bw.n > 0 && pid != id) {
                        r = db_put_block(s, id, &bw);
                        if (r < 0)
                                goto out;
                        block_writer_reset(&bw);
                }
                id = pid;
                r = db_pack(s, id, &bw, &smp);
                if (r < 0)
                        goto out;
        }
        if (rc != SQLITE_DONE)
                r = db_fail(s, rc);
        else if (bw.n > 0)
                r = db_put_block(s, id, &bw);
out:
        if (r < 0 && r != -ENOMEM && !s->errmsg[0])
                snprintf(s->errmsg, sizeof(s->errmsg), "packing the samples of process %" PRId64 ": %s", id,
                         strerror(-r));
        sqlite3_finalize(st);
        block_writer_free(&bw);
        return r;
}

/* Schema version 12: the rows of sample_recent, in key order (time, process), into
 * batches as the writer fills them. Every row is kept: the migration fails rather than
 * drop one (a row of no process, which no fold would ever have moved, is not a sample). */
static int batch_recent(struct store *s)
{
        sqlite3_stmt *st = NULL;
        char cols[512], sql[1024];
        int64_t pid = 0, t = 0;
        int rc, r;

        db_metric_columns(cols, sizeof(cols));
        snprintf(sql, sizeof(sql), "SELECT process_id, t, %s, unknown FROM sample_recent WHERE process_id > 0 "
                 "ORDER BY t, process_id", cols);
        r = db_prepare(s, sql, &st);
        if (r < 0)
                goto out;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct sample smp = { .t_ms = t = sqlite3_column_int64(st, 1) };

                pid = sqlite3_column_int64(st, 0);
                db_read_metrics(st, 2, &smp);
                r = db_batch_add(s, pid, &smp);
                if (r < 0)
                        goto out;
        }
        r = rc == SQLITE_DONE ? db_flush_batch(s) : db_fail(s, rc);
out:
        if (r < 0 && r != -ENOMEM && !s->errmsg[0])
                snprintf(s->errmsg, sizeof(s->errmsg), "batching the sample of process %" PRId64 " at %" PRId64
                         ": %s", pid, t, strerror(-r));
        if (r < 0)
                db_drop_batch(s);
        sqlite3_finalize(st);
        return r;
}

/* A migration's SQL may name a step written in C at a line "-- step: NAME": the SQL
 * before the line runs, then the step, then the rest, in the migration's transaction.
 * A database made from the SQL alone (schema_of_version) has no rows to convert. */
#define STEP_MARK "\n-- step: "
static const struct {
        const char *name;
        int (*run)(struct store *s);
} migration_steps[] = {
        { "pack samples", pack_samples },
        { "batch recent samples", batch_recent },
};

static int migrate_sql(struct store *s, const char *sql)
{
        const char *mark = strstr(sql, STEP_MARK), *name, *eol;
        char *head;
        int r;

        if (!mark)
                return db_exec(s, sql);
        name = mark + strlen(STEP_MARK);
        eol = strchr(name, '\n');
        if (!eol)
                eol = name + strlen(name);
        head = strndup(sql, (size_t)(mark - sql) + 1);
        if (!head)
                return -ENOMEM;
        r = db_exec(s, head);
        free(head);
        if (r < 0)
                return r;
        r = -ENOSYS;
        for (size_t i = 0; i < ELEMENTSOF(migration_steps); i++)
                if (strlen(migration_steps[i].name) == (size_t)(eol - name) &&
                    strncmp(migration_steps[i].name, name, (size_t)(eol - name)) == 0) {
                        s->errmsg[0] = '\0';
                        r = migration_steps[i].run(s);
                        break;
                }
        if (r == -ENOSYS)
                snprintf(s->errmsg, sizeof(s->errmsg), "no step \"%.*s\" in this program", (int)(eol - name), name);
        if (r < 0)
                return r;
        return migrate_sql(s, eol);
}

static int migrate(struct store *s)
{
        int version = store_schema_version(s);
        int r;

        if (version < 0)
                return version;
        r = check_foreign(s, version);
        if (r < 0)
                return r;
        if (version > store_latest_schema_version()) {
                snprintf(s->errmsg, sizeof(s->errmsg), "schema version %d is newer than this program's %d",
                         version, store_latest_schema_version());
                return -EPROTO;
        }
        for (unsigned i = 0; i < sql_migrations_count; i++) {
                const struct sql_migration *m = &sql_migrations[i];
                char pragma[64];

                if ((int)m->version <= version)
                        continue;
                /* Each file and its version bump commit together or not at all. */
                r = db_exec(s, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %u", m->version);
                r = migrate_sql(s, m->sql);
                if (r >= 0)
                        r = db_exec(s, pragma);
                if (r >= 0)
                        r = db_exec(s, "COMMIT");
                if (r < 0) {
                        char why[200];

                        memcpy(why, s->errmsg, sizeof(why) - 1);
                        why[sizeof(why) - 1] = '\0';
                        (void)db_exec(s, "ROLLBACK");
                        snprintf(s->errmsg, sizeof(s->errmsg), "migration %.40s: %s", m->name, why);
                        return r;
                }
        }
        return 0;
}

/* The columns of agent_sample after (process_id, t, agent), in the order
 * put_agent_sample() binds them and store_for_each_agent_sample() reads them. */
#define AGENT_COLUMNS "gc_enabled, gc_threshold0, gc_threshold1, gc_threshold2, gc_count0, gc_count1, " \
        "gc_count2, gc_collections0, gc_collections1, gc_collections2, gc_collected0, gc_collected1, " \
        "gc_collected2, gc_uncollectable0, gc_uncollectable1, gc_uncollectable2, gc_garbage, blocks, traced, " \
        "traced_peak, objects, stride, arena, in_use, free, mmapped, keepcost"
#define AGENT_NCOLUMNS 27

/* The columns of alert_evidence after (alert_id, raised, t, cause), in the order
 * put_alert_evidence() binds them and query reads them; the rooms in enum limit_kind's
 * order. */
#define EVIDENCE_COLUMNS "scale_s, slope, slope_low, level, evidence_from, evidence_to, reason, " \
        "room_memory_max, room_memory_high, room_host, room_rlimit_as, room_rlimit_data, room_rlimit_nofile, " \
        "room_v1_limit, room_v1_soft_limit"

/* The writer's statements whose text is fixed. */
static const struct {
        enum db_stmt id;
        const char *sql;
} writer_sql[] = {
        { ST_PUT_PROCESS, "INSERT OR IGNORE INTO process (id, boot_id, pid, start_ticks, start_ms, ppid, uid, comm, "
                          "cmdline, unit, cgroup, rule_id, generation, parent_id, first_ms, last_ms) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
        { ST_END_PROCESS, "UPDATE process SET end_ms = ?2, end_reason = ?3, last_ms = max(last_ms, ?2) "
                          "WHERE id = ?1 AND end_ms IS NULL" },
        { ST_PUT_RULE, "INSERT INTO rule (name, spec, first_ms, last_ms) VALUES (?1, ?2, ?3, ?3) "
                       "ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, last_ms = excluded.last_ms "
                       "RETURNING id" },
        { ST_PUT_EVENT, "INSERT INTO daemon_event (t, kind, detail) VALUES (?, ?, ?)" },
        { ST_PUT_ALERT, "INSERT OR REPLACE INTO alert (id, process_id, rule_id, metric, state, start_ms, end_ms, "
                        "end_reason, escalated_ms, slope, slope_low, slope_high, growth, growth_rel, level, p_value, "
                        "forecast_s, limit_kind, evidence_from, evidence_to, reason, kind, scale_s) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
        { ST_PUT_VERDICT, "INSERT OR IGNORE INTO verdict (id, process_id, alert_id, t, metric, state, previous, "
                          "escalated, slope, slope_low, slope_high, growth, growth_rel, level, p_value, forecast_s, "
                          "evidence_from, evidence_to, reason, scale_s) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
        { ST_PUT_HOOK_RUN, "INSERT OR REPLACE INTO hook_run (id, alert_id, event, program, start_ms, end_ms, "
                           "exit_code, signal, timed_out, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
        { ST_PUT_AGENT_TYPE, "INSERT OR IGNORE INTO agent_type (process_id, t, type, count) VALUES (?, ?, ?, ?)" },
        { ST_PUT_AGENT_SITE, "INSERT OR IGNORE INTO agent_site (process_id, t, agent, rank, live_bytes, live_count, "
                             "growth, frames) VALUES (?, ?, ?, ?, ?, ?, ?, ?)" },
        { ST_PUT_ALERT_KIND, "INSERT OR REPLACE INTO alert_kind (alert_id, t, class, agents) VALUES (?, ?, ?, ?)" },
        { ST_PUT_RESTART, "INSERT OR REPLACE INTO restart (id, alert_id, process_id, t, unit, decision, reason, detail, "
                          "end_t, forecast_s, limit_kind, level, slope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
        { ST_PUT_ALERT_BUNDLE, "INSERT OR REPLACE INTO alert_bundle (alert_id, t, event, path, bytes, files, note) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)" },
        /* What an alert was raised on is written once; its latest evaluation replaced. */
        { ST_PUT_ALERT_RAISED, "INSERT OR IGNORE INTO alert_evidence (alert_id, raised, t, cause, " EVIDENCE_COLUMNS
                               ") VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
        { ST_PUT_ALERT_LATEST, "INSERT OR REPLACE INTO alert_evidence (alert_id, raised, t, cause, " EVIDENCE_COLUMNS
                               ") VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" },
};

/* Prepares the statements the writer runs for every row of every commit. */
static int prepare_writer(struct store *s)
{
        char cols[512], marks[4 * M__MAX + 1], agent_marks[AGENT_NCOLUMNS * 3 + 1], sql[1024];
        size_t o = 0;
        int r;

        db_metric_columns(cols, sizeof(cols));
        for (int m = 0; m < M__MAX; m++)
                o += (size_t)snprintf(marks + o, sizeof(marks) - o, ", ?");
        snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO rule_sample (rule_id, generation, nproc, t, %s, unknown) "
                 "VALUES (?, ?, ?, ?%s, ?)", cols, marks);
        r = db_keep(s, ST_PUT_RULE_SAMPLE, sql);
        if (r < 0)
                return r;
        o = 0;
        for (int i = 0; i < AGENT_NCOLUMNS; i++)
                o += (size_t)snprintf(agent_marks + o, sizeof(agent_marks) - o, ", ?");
        snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO agent_sample (process_id, t, agent, " AGENT_COLUMNS ") "
                 "VALUES (?, ?, ?%s)", agent_marks);
        r = db_keep(s, ST_PUT_AGENT, sql);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(writer_sql); i++)
                r = db_keep(s, writer_sql[i].id, writer_sql[i].sql);
        return r;
}

/* The database holds process names and command lines of every user: not for the world.
 * SQLite creates the -wal and -shm files with the main file's mode. Never through a
 * symlink: the daemon writes as root, and a link planted in its directory would make it
 * write into any file. excl: a new file only (a repair's). */
static int create_private(const char *path, bool excl, char *why, size_t whysz)
{
        struct stat st;
        int fd;

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (excl ? O_EXCL : 0), 0640);
        if (fd < 0) {
                int e = errno;

                if (e == ELOOP)
                        snprintf(why, whysz, "%s is a symbolic link: refused (the database is written as root)",
                                 path);
                else
                        snprintf(why, whysz, "%s", strerror(e));
                return -e;
        }
        if (fstat(fd, &st) == 0 && (st.st_mode & 0007))
                (void)fchmod(fd, st.st_mode & 0770);
        close(fd);
        return 0;
}

/* A file URI for path with query (e.g. "immutable=1"), percent-encoding everything a
 * URI would read as syntax. */
static int path_uri(const char *path, const char *query, char *uri, size_t sz)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = (size_t)snprintf(uri, sz, "file:");

        for (const char *p = path; *p; p++) {
                unsigned char ch = (unsigned char)*p;

                if (o + 4 >= sz)
                        return -ENAMETOOLONG;
                if (ch == '%' || ch == '?' || ch == '#' || ch < 0x21 || ch >= 0x7f) {
                        uri[o++] = '%';
                        uri[o++] = hex[ch >> 4];
                        uri[o++] = hex[ch & 0xf];
                } else {
                        uri[o++] = (char)ch;
                }
        }
        if ((size_t)snprintf(uri + o, sz - o, "?%s", query) >= sz - o)
                return -ENAMETOOLONG;
        return 0;
}

/* A reader of a WAL database needs its -shm file, and creates it if the writer is not
 * running — which a user who may read the database but not write its directory cannot.
 * When there is no -wal file (the daemon stopped and checkpointed everything), nothing
 * can change under the reader: open it as immutable, which needs no -shm. */
static int reopen_immutable(struct store *s)
{
        char uri[PATH_MAX * 3 + 32], wal[PATH_MAX];
        int rc, r;

        if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", s->path) >= sizeof(wal) || access(wal, F_OK) == 0)
                return -EACCES;
        r = path_uri(s->path, "immutable=1", uri, sizeof(uri));
        if (r < 0)
                return r;
        sqlite3_close_v2(s->db);
        s->db = NULL;
        rc = sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX |
                             SQLITE_OPEN_EXRESCODE, NULL);
        return rc == SQLITE_OK ? 0 : db_fail(s, rc);
}

/* The path with its directory's symlinks resolved: SQLITE_OPEN_NOFOLLOW refuses a link
 * anywhere in the path, and only the file itself is the daemon's to guard (its directory
 * is the operator's choice, /var/lib through a link included). */
static int resolve_dir(const char *path, char **ret)
{
        _cleanup_free_ char *dir = strdup(path);
        char *slash, real[PATH_MAX];
        const char *base;

        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (!slash) {
                base = path;
                if (!realpath(".", real))
                        return -errno;
        } else {
                base = path + (slash - dir) + 1;
                if (slash == dir)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                if (!realpath(dir, real))
                        return -errno;
        }
        if (!*base)
                return -EISDIR;
        if (asprintf(ret, "%s%s%s", real, strcmp(real, "/") == 0 ? "" : "/", base) < 0)
                return -ENOMEM;
        return 0;
}

/* path + suffix, in buf. */
static int file_name(const struct store *s, enum db_file f, char *buf, size_t sz)
{
        return (size_t)snprintf(buf, sz, "%s%s", s->path, file_suffix[f]) < sz ? 0 : -ENAMETOOLONG;
}

/* Notes which files the paths name now, for store_check() to compare with later. The
 * -wal and -shm files exist from the first read in WAL mode until the connection closes. */
static void remember_files(struct store *s)
{
        for (int f = 0; f < F__MAX; f++) {
                char name[PATH_MAX + 8];
                struct stat st;

                s->files[f] = (struct db_file_id){ 0 };
                if (file_name(s, f, name, sizeof(name)) == 0 && lstat(name, &st) == 0 && S_ISREG(st.st_mode))
                        s->files[f] = (struct db_file_id){ .dev = st.st_dev, .ino = st.st_ino, .known = true,
                                                        .mtime = st.st_mtim, .size = st.st_size };
        }
}

/* After a write of this connection (a commit may checkpoint): the database file's time
 * and size as it left them. */
static void remember_write(struct store *s)
{
        struct stat st;

        if (s->files[F_DB].known && lstat(s->path, &st) == 0 && st.st_dev == s->files[F_DB].dev &&
            st.st_ino == s->files[F_DB].ino) {
                s->files[F_DB].mtime = st.st_mtim;
                s->files[F_DB].size = st.st_size;
        }
}

static void close_db(struct store *s)
{
        for (int i = 0; i < ST__MAX; i++) {
                sqlite3_finalize(s->stmt[i]);
                s->stmt[i] = NULL;
        }
        /* close_v2 defers the close if a statement were still open rather than leaking. */
        if (s->db)
                sqlite3_close_v2(s->db);
        s->db = NULL;
}

/* WAL: readers never block the writer. synchronous=NORMAL: in WAL mode a crash of the
 * daemon loses nothing; a power cut may lose the last commits, which for monitoring
 * samples is the right trade against an fsync per tick. */
static int set_pragmas(struct store *s)
{
        char pragmas[256];

        snprintf(pragmas, sizeof(pragmas),
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
                 "PRAGMA cache_size = -%d; PRAGMA temp_store = MEMORY; "
                 "PRAGMA journal_size_limit = %d; PRAGMA foreign_keys = OFF;",
                 CACHE_KIB, WAL_SIZE_LIMIT);
        return db_exec(s, pragmas);
}

static int apply_size_limit(struct store *s);

/* The tables the daemon reads as it starts (ids to go on from, its rules, the processes
 * and alerts it takes over) are checked at each open: they are small, and damage in
 * them would stop the daemon before store_check() ever runs. Damage elsewhere fails the
 * statement that meets it, and store_check() acts on that. */
static const char *const start_tables[] = { "meta", "rule", "process", "alert", "verdict", "hook_run" };

static int check_start_tables(struct store *s)
{
        for (size_t i = 0; i < ELEMENTSOF(start_tables); i++) {
                char sql[64];
                sqlite3_stmt *st;
                int rc, r;

                snprintf(sql, sizeof(sql), "PRAGMA quick_check(%s)", start_tables[i]);
                r = db_prepare(s, sql, &st);
                if (r < 0)
                        return r;
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
                        snprintf(s->errmsg, sizeof(s->errmsg), "%s", (const char *)sqlite3_column_text(st, 0));
                        s->damaged = true;
                        r = -EBADMSG;
                } else if (rc != SQLITE_ROW) {
                        r = db_fail(s, rc);
                }
                sqlite3_finalize(st);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Opens s->path for writing: created if missing, migrated, statements prepared.
 * excl: the file must not exist yet. On failure s->db is closed. */
static int open_rw(struct store *s, bool excl)
{
        int rc, r, v;

        s->damaged = false;
        r = create_private(s->path, excl, s->errmsg, sizeof(s->errmsg));
        if (r < 0)
                return r;
        /* NOMUTEX: each connection is used by one thread; EXRESCODE: detailed codes;
         * NOFOLLOW: never through a link, even one made after create_private looked;
         * URI: store_repair attaches the damaged file read-only by its URI (a path that
         * starts with '/' is not one, so it reads as before). */
        rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_URI |
                             SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
        if (rc != SQLITE_OK) {
                r = db_fail(s, rc);
                goto fail;
        }
        sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_WRITER_MS);
        sqlite3_extended_result_codes(s->db, 1);
        /* Look before touching: someone else's database keeps its journal mode. */
        v = store_schema_version(s);
        r = v < 0 ? v : check_foreign(s, v);
        if (r >= 0)
                r = check_schema(s, v);
        /* A file we may write that SQLite opens read-only says so in its header (a
         * write version from the future, or a flipped byte). */
        if (r >= 0 && sqlite3_db_readonly(s->db, "main") == 1 && access(s->path, W_OK) == 0) {
                s->damaged = true;
                snprintf(s->errmsg, sizeof(s->errmsg), "its header forbids writing it (damaged, or from a newer "
                         "SQLite)");
                r = -EBADMSG;
        }
        if (r >= 0)
                r = set_pragmas(s);
        if (r >= 0)
                r = migrate(s);
        if (r >= 0)
                r = check_start_tables(s);
        if (r >= 0)
                r = prepare_writer(s);
        if (r >= 0 && s->size_limit > 0)
                r = apply_size_limit(s);
        if (r < 0)
                goto fail;
        remember_files(s);
        return 0;
fail:
        close_db(s);
        return r;
}

static int rebuild(struct store *s, char *aside, size_t asidesz);

int store_open(const char *path, enum store_mode mode, struct store **ret, char *errbuf, size_t errsz)
{
        struct store *s;
        int rc, r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->mode = mode;
        if (mode == STORE_RW) {
                char aside[PATH_MAX + 64];

                r = resolve_dir(path, &s->path);
                if (r < 0) {
                        if (r == -ENOMEM)
                                goto fail;
                        snprintf(s->errmsg, sizeof(s->errmsg), "%s", strerror(-r));
                        goto fail;
                }
                r = open_rw(s, false);
                /* A damaged database is set aside, not given up on: what can still be
                 * read of it goes into a new one (store_check() does the same while
                 * running). Only a file that starts as SQLite's do: the path might name
                 * anything, and anything else is refused as it is. */
                if (r < 0 && s->damaged) {
                        r = rebuild(s, aside, sizeof(aside));
                        if (r == 0 && !(s->set_aside = strdup(aside)))
                                r = -ENOMEM;
                }
                if (r < 0)
                        goto fail;
        } else {
                int v;

                s->path = strdup(path);
                if (!s->path) {
                        r = -ENOMEM;
                        goto fail;
                }
                rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                                     NULL);
                if (rc != SQLITE_OK) {
                        r = db_fail(s, rc);
                        goto fail;
                }
                sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_READER_MS);
                sqlite3_extended_result_codes(s->db, 1);
                v = store_schema_version(s);
                if ((v == -EACCES || v == -EROFS) && reopen_immutable(s) == 0)
                        v = store_schema_version(s);
                if (v < 0) {
                        r = v;
                        goto fail;
                }
                r = check_foreign(s, v);
                if (r < 0)
                        goto fail;
                if (v == 0) {
                        snprintf(s->errmsg, sizeof(s->errmsg), "empty database (the daemon has not written it yet)");
                        r = -EBADMSG;
                        goto fail;
                }
                if (v > store_latest_schema_version()) {
                        snprintf(s->errmsg, sizeof(s->errmsg), "schema version %d is newer than this program's %d",
                                 v, store_latest_schema_version());
                        r = -EPROTO;
                        goto fail;
                }
                r = db_exec(s, "PRAGMA cache_size = -8192; PRAGMA query_only = ON;");
                if (r < 0)
                        goto fail;
        }
        *ret = s;
        return 0;
fail:
        /* The caller gets no handle back, so it gets the reason here. */
        if (errbuf && errsz)
                snprintf(errbuf, errsz, "%s", s->errmsg[0] ? s->errmsg : strerror(-r));
        store_close(s);
        return r;
}

const char *store_set_aside(const struct store *s, int64_t *ret_salvaged)
{
        if (ret_salvaged)
                *ret_salvaged = s->salvaged;
        return s->set_aside;
}

void store_close(struct store *s)
{
        if (!s)
                return;
        close_db(s);
        batch_writer_free(&s->batch);
        if (s->bulk_block)
                block_writer_free(s->bulk_block);
        free(s->bulk_block);
        free(s->set_aside);
        free(s->path);
        free(s);
}

/* ---- transactions ---- */

int store_begin(struct store *s)
{
        /* IMMEDIATE takes the write lock now, so a locked database fails here, before
         * any work, rather than at COMMIT. */
        return db_exec(s, "BEGIN IMMEDIATE");
}

int store_commit(struct store *s)
{
        int r = db_flush_batch(s);

        if (r == 0)
                r = db_exec(s, "COMMIT");

        if (r == 0)
                remember_write(s);
        return r;
}

void store_rollback(struct store *s)
{
        db_drop_batch(s);
        if (s->db && !sqlite3_get_autocommit(s->db))
                (void)db_exec(s, "ROLLBACK");
}

/* ---- identities ---- */

/* Runs sql with (process_id, from, to) bound as ?1..?3; its one value, to if NULL. */
static int first_time(struct store *s, const char *sql, int64_t process_id, int64_t from, int64_t to,
                      int64_t *ret)
{
        sqlite3_stmt *st;
        int rc, r;

        r = db_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, from);
        sqlite3_bind_int64(st, 3, to);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_type(st, 0) == SQLITE_NULL ? to : sqlite3_column_int64(st, 0);
        r = rc == SQLITE_ROW ? 0 : db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

int store_put_rule(struct store *s, const char *name, const char *spec, int64_t now_ms, int64_t *ret_id)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_RULE];
        int rc, r = 0;

        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, spec, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, now_ms);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret_id = sqlite3_column_int64(st, 0);
        else
                r = db_fail(s, rc);
        /* RETURNING rows must be stepped to the end for the statement to finish. */
        while (rc == SQLITE_ROW)
                rc = sqlite3_step(st);
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(s, rc);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return r;
}

int store_put_rule_id(struct store *s, int64_t id, const char *name, const char *spec, int64_t now_ms)
{
        sqlite3_stmt *st;
        int r;

        r = db_prepare(s, "INSERT OR IGNORE INTO rule (id, name, spec, first_ms, last_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
                    &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, spec, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_ms);
        r = db_step_done(s, st);
        sqlite3_finalize(st);
        return r;
}

int store_rule_generation(struct store *s, int64_t rule_id, int64_t *ret)
{
        int64_t g = 0;
        int r;

        r = first_time(s, "SELECT coalesce(max(generation), 0) FROM process WHERE rule_id = ?1 AND ?2 <= ?3",
                       rule_id, 0, 0, &g);
        if (r < 0)
                return r;
        *ret = g;
        return 0;
}

int store_max_process_id(struct store *s, int64_t *ret)
{
        return db_int64(s, "SELECT coalesce(max(id), 0) FROM process", 0, ret);
}

static int put_process(struct store *s, const struct store_process *p)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_PROCESS];

        sqlite3_bind_int64(st, 1, p->id);
        sqlite3_bind_text(st, 2, p->boot_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 3, p->pid);
        sqlite3_bind_int64(st, 4, p->start_ticks);
        if (p->start_ms)
                sqlite3_bind_int64(st, 5, p->start_ms);
        sqlite3_bind_int64(st, 6, p->ppid);
        if (p->uid >= 0)
                sqlite3_bind_int64(st, 7, p->uid);
        db_bind_text(st, 8, p->comm ? p->comm : "", p->comm ? p->comm_len : 0);
        db_bind_text(st, 9, p->cmdline ? p->cmdline : "", p->cmdline ? p->cmdline_len : 0);
        db_bind_text(st, 10, p->unit, p->unit ? strlen(p->unit) : 0);
        db_bind_text(st, 11, p->cgroup, p->cgroup ? strlen(p->cgroup) : 0);
        sqlite3_bind_int64(st, 12, p->rule_id);
        sqlite3_bind_int64(st, 13, p->generation);
        if (p->parent_id)
                sqlite3_bind_int64(st, 14, p->parent_id);
        sqlite3_bind_int64(st, 15, p->first_ms);
        sqlite3_bind_int64(st, 16, p->first_ms);
        return db_step_done(s, st);
}
static int end_process(struct store *s, const struct store_end *e)
{
        sqlite3_stmt *st = s->stmt[ST_END_PROCESS];

        sqlite3_bind_int64(st, 1, e->id);
        sqlite3_bind_int64(st, 2, e->t_ms);
        sqlite3_bind_text(st, 3, e->reason ? e->reason : "exited", -1, SQLITE_TRANSIENT);
        return db_step_done(s, st);
}
int store_for_each_live_process(struct store *s, const char *boot_id, store_process_cb cb, void *userdata)
{
        sqlite3_stmt *st;
        int rc, r;

        r = db_prepare(s, "SELECT id, boot_id, pid, start_ticks, coalesce(start_ms, 0), coalesce(ppid, 0), "
                       "coalesce(uid, -1), comm, cmdline, unit, cgroup, rule_id, generation, "
                       "coalesce(parent_id, 0), first_ms, last_ms FROM process "
                       "WHERE end_ms IS NULL AND boot_id = ? ORDER BY id", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, boot_id, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_process p = {
                        .id = sqlite3_column_int64(st, 0),
                        .pid = (int32_t)sqlite3_column_int64(st, 2),
                        .start_ticks = sqlite3_column_int64(st, 3),
                        .start_ms = sqlite3_column_int64(st, 4),
                        .ppid = (int32_t)sqlite3_column_int64(st, 5),
                        .uid = sqlite3_column_int64(st, 6),
                        .rule_id = sqlite3_column_int64(st, 11),
                        .generation = sqlite3_column_int64(st, 12),
                        .parent_id = sqlite3_column_int64(st, 13),
                        .first_ms = sqlite3_column_int64(st, 14),
                };
                const char *b = db_column_text(st, 1, NULL);

                snprintf(p.boot_id, sizeof(p.boot_id), "%s", b ? b : "");
                p.comm = db_column_text(st, 7, &p.comm_len);
                p.cmdline = db_column_text(st, 8, &p.cmdline_len);
                p.unit = db_column_text(st, 9, NULL);
                p.cgroup = db_column_text(st, 10, NULL);
                r = cb(&p, sqlite3_column_int64(st, 15), userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

static int end_other_boots(struct store *s, const char *boot_id)
{
        sqlite3_stmt *st;
        int r;

        r = db_cached(s, ST_END_OTHER_BOOTS, "UPDATE process SET end_ms = last_ms, end_reason = 'reboot' "
                                             "WHERE end_ms IS NULL AND boot_id != ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, boot_id, -1, SQLITE_TRANSIENT);
        return db_step_done(s, st);
}
/* ---- samples ---- */

/* Into the batch being filled: one row of sample_batch per commit (db_batch_add). */
static int put_sample(struct store *s, const struct store_sample *ps)
{
        return db_batch_add(s, ps->id, &ps->s);
}

static int put_rule_sample(struct store *s, const struct store_sample *rs)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_RULE_SAMPLE];

        sqlite3_bind_int64(st, 1, rs->id);
        sqlite3_bind_int64(st, 2, rs->generation);
        sqlite3_bind_int64(st, 3, rs->nproc);
        sqlite3_bind_int64(st, 4, rs->s.t_ms);
        db_bind_metrics(st, 5, &rs->s);
        return db_step_done(s, st);
}
static int put_event(struct store *s, const struct store_event *e)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_EVENT];

        sqlite3_bind_int64(st, 1, e->t_ms);
        sqlite3_bind_text(st, 2, e->kind, -1, SQLITE_TRANSIENT);
        db_bind_str(st, 3, e->detail);
        return db_step_done(s, st);
}
/* ---- verdicts, alerts, hook runs ---- */

/* The evidence's numbers, bound from idx on in the column order slope, slope_low,
 * slope_high, growth, growth_rel, level, p_value, forecast_s. Returns the next index. */
static int bind_evidence(sqlite3_stmt *st, int idx, const struct detect_evidence *ev)
{
        const double v[] = { ev->slope, ev->slope_low, ev->slope_high, ev->growth, ev->growth_rel, ev->level,
                             ev->p, ev->forecast };

        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                db_bind_real(st, idx++, v[i]);
        return idx;
}

/* An evidence time (seconds since the epoch) as the ms a column holds; 0 (NULL) if none. */
static int64_t evidence_ms(double t)
{
        return isfinite(t) ? (int64_t)(t * 1000) : 0;
}

/* The evidence read back from the columns bind_evidence() fills, and its window's. */
static void read_evidence(sqlite3_stmt *st, int col, int col_window, int col_reason, struct detect_evidence *ev)
{
        double *v[] = { &ev->slope, &ev->slope_low, &ev->slope_high, &ev->growth, &ev->growth_rel, &ev->level,
                        &ev->p, &ev->forecast };
        int64_t from = db_column_or(st, col_window, 0), to = db_column_or(st, col_window + 1, 0);

        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                *v[i] = db_column_real(st, col++);
        if (isnan(ev->forecast))
                ev->forecast = INFINITY;        /* stored as NULL: no limit in sight */
        ev->t_from = from ? (double)from / 1000 : NAN;
        ev->t_to = to ? (double)to / 1000 : NAN;
        ev->reason = db_column_text(st, col_reason, NULL);
}

static int put_alert_evidence(struct store *s, enum db_stmt which, int64_t alert_id,
                              const struct store_alert_evidence *e)
{
        sqlite3_stmt *st = s->stmt[which];
        int idx = 1;

        sqlite3_bind_int64(st, idx++, alert_id);
        sqlite3_bind_int64(st, idx++, e->t_ms);
        db_bind_str(st, idx++, e->cause ? e->cause : "leak");
        db_bind_real(st, idx++, e->scale);
        db_bind_real(st, idx++, e->slope);
        db_bind_real(st, idx++, e->slope_low);
        db_bind_real(st, idx++, e->level);
        db_bind_time(st, idx++, evidence_ms(e->t_from));
        db_bind_time(st, idx++, evidence_ms(e->t_to));
        db_bind_str(st, idx++, e->reason);
        for (int k = 0; k < LIMIT__MAX; k++)
                db_bind_real(st, idx++, e->room[k]);
        return db_step_done(s, st);
}

static int put_alert(struct store *s, const struct store_alert *a)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_ALERT];
        int idx, r;

        sqlite3_bind_int64(st, 1, a->id);
        sqlite3_bind_int64(st, 2, a->process_id);
        sqlite3_bind_int64(st, 3, a->rule_id);
        db_bind_str(st, 4, a->metric);
        db_bind_str(st, 5, a->state);
        sqlite3_bind_int64(st, 6, a->start_ms);
        db_bind_time(st, 7, a->end_ms);
        db_bind_str(st, 8, a->end_reason);
        db_bind_time(st, 9, a->escalated_ms);
        idx = bind_evidence(st, 10, &a->ev);
        db_bind_str(st, idx, a->limit_kind);
        db_bind_time(st, idx + 1, evidence_ms(a->ev.t_from));
        db_bind_time(st, idx + 2, evidence_ms(a->ev.t_to));
        db_bind_str(st, idx + 3, a->ev.reason);
        db_bind_str(st, idx + 4, a->kind);
        db_bind_real(st, idx + 5, a->ev.scale);
        r = db_step_done(s, st);
        if (r >= 0 && a->raised.t_ms)
                r = put_alert_evidence(s, ST_PUT_ALERT_RAISED, a->id, &a->raised);
        if (r >= 0 && a->latest.t_ms)
                r = put_alert_evidence(s, ST_PUT_ALERT_LATEST, a->id, &a->latest);
        return r;
}

static int put_verdict(struct store *s, const struct store_verdict *v)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_VERDICT];
        int idx;

        sqlite3_bind_int64(st, 1, v->id);
        sqlite3_bind_int64(st, 2, v->process_id);
        db_bind_time(st, 3, v->alert_id);
        sqlite3_bind_int64(st, 4, v->t_ms);
        db_bind_str(st, 5, v->metric);
        db_bind_str(st, 6, v->state);
        db_bind_str(st, 7, v->previous);
        sqlite3_bind_int(st, 8, v->escalated);
        idx = bind_evidence(st, 9, &v->ev);
        db_bind_time(st, idx, evidence_ms(v->ev.t_from));
        db_bind_time(st, idx + 1, evidence_ms(v->ev.t_to));
        db_bind_str(st, idx + 2, v->ev.reason);
        db_bind_real(st, idx + 3, v->ev.scale);
        return db_step_done(s, st);
}
static int put_hook_run(struct store *s, const struct store_hook_run *h)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_HOOK_RUN];

        sqlite3_bind_int64(st, 1, h->id);
        db_bind_time(st, 2, h->alert_id);
        db_bind_str(st, 3, h->event);
        db_bind_str(st, 4, h->program);
        sqlite3_bind_int64(st, 5, h->start_ms);
        db_bind_time(st, 6, h->end_ms);
        if (h->exit_code >= 0)
                sqlite3_bind_int(st, 7, h->exit_code);
        if (h->signal)
                sqlite3_bind_int(st, 8, h->signal);
        sqlite3_bind_int(st, 9, h->timed_out);
        db_bind_text(st, 10, h->output, h->output_len);
        return db_step_done(s, st);
}

static int put_restart(struct store *s, const struct store_restart *x)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_RESTART];

        sqlite3_bind_int64(st, 1, x->id);
        sqlite3_bind_int64(st, 2, x->alert_id);
        sqlite3_bind_int64(st, 3, x->process_id);
        sqlite3_bind_int64(st, 4, x->t_ms);
        db_bind_str(st, 5, x->unit);
        db_bind_str(st, 6, x->decision);
        db_bind_str(st, 7, x->reason);
        db_bind_str(st, 8, x->detail);
        db_bind_time(st, 9, x->end_ms);
        db_bind_real(st, 10, x->forecast);
        db_bind_str(st, 11, x->limit_kind);
        db_bind_real(st, 12, x->level);
        db_bind_real(st, 13, x->slope);
        return db_step_done(s, st);
}

static int put_alert_bundle(struct store *s, const struct store_alert_bundle *x)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_ALERT_BUNDLE];

        sqlite3_bind_int64(st, 1, x->alert_id);
        sqlite3_bind_int64(st, 2, x->t_ms);
        db_bind_str(st, 3, x->event);
        db_bind_str(st, 4, x->path);
        sqlite3_bind_int64(st, 5, (int64_t)x->bytes);
        sqlite3_bind_int64(st, 6, x->files);
        db_bind_str(st, 7, x->note);
        return db_step_done(s, st);
}

static int end_alert(struct store *s, const struct store_end *e)
{
        sqlite3_stmt *st;
        int r;

        r = db_cached(s, ST_END_ALERT, "UPDATE alert SET end_ms = ?2, state = ?3, end_reason = ?4 "
                                       "WHERE id = ?1 AND end_ms IS NULL", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, e->id);
        sqlite3_bind_int64(st, 2, e->t_ms);
        db_bind_str(st, 3, e->state);
        db_bind_str(st, 4, e->reason);
        return db_step_done(s, st);
}
int store_max_ids(struct store *s, int64_t *ret_alert, int64_t *ret_verdict, int64_t *ret_hook_run)
{
        int r;

        r = db_int64(s, "SELECT coalesce(max(id), 0) FROM alert", 0, ret_alert);
        if (r >= 0)
                r = db_int64(s, "SELECT coalesce(max(id), 0) FROM verdict", 0, ret_verdict);
        if (r >= 0)
                r = db_int64(s, "SELECT coalesce(max(id), 0) FROM hook_run", 0, ret_hook_run);
        return r;
}

int store_max_restart_id(struct store *s, int64_t *ret)
{
        return db_int64(s, "SELECT coalesce(max(id), 0) FROM restart", 0, ret);
}

int store_for_each_restart_since(struct store *s, int64_t since_ms, store_restart_cb cb, void *userdata)
{
        sqlite3_stmt *st;
        int rc, r;

        r = db_prepare(s, "SELECT unit, t FROM restart WHERE t >= ?1 AND unit IS NOT NULL "
                          "AND decision IN ('requested', 'restarted', 'failed', 'dry-run') ORDER BY t", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, since_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

int store_for_each_open_alert(struct store *s, store_alert_cb cb, void *userdata)
{
        sqlite3_stmt *st;
        int rc, r;

        r = db_prepare(s, "SELECT id, process_id, rule_id, metric, state, start_ms, coalesce(escalated_ms, 0), slope, "
                       "slope_low, slope_high, growth, growth_rel, level, p_value, forecast_s, limit_kind, "
                       "evidence_from, evidence_to, reason, kind, (SELECT cause FROM alert_evidence e "
                       "WHERE e.alert_id = alert.id AND e.raised = 1) FROM alert WHERE end_ms IS NULL ORDER BY id", &st);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct store_alert a = {
                        .id = sqlite3_column_int64(st, 0),
                        .process_id = sqlite3_column_int64(st, 1),
                        .rule_id = sqlite3_column_int64(st, 2),
                        .metric = db_column_text(st, 3, NULL),
                        .state = db_column_text(st, 4, NULL),
                        .start_ms = sqlite3_column_int64(st, 5),
                        .escalated_ms = sqlite3_column_int64(st, 6),
                        .limit_kind = db_column_text(st, 15, NULL),
                        .kind = db_column_text(st, 19, NULL),
                        .raised = { .cause = db_column_text(st, 20, NULL) },
                };

                read_evidence(st, 7, 16, 18, &a.ev);
                r = cb(&a, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

/* ---- in-process agents ---- */

static int put_agent_sample(struct store *s, int64_t process_id, const struct agent_report *a)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_AGENT];
        const int64_t *gens[] = { a->gc_threshold, a->gc_count, a->gc_collections, a->gc_collected,
                                  a->gc_uncollectable };
        const int64_t rest[] = { a->gc_garbage, a->blocks, a->traced, a->traced_peak, a->objects, a->stride,
                                 a->arena, a->in_use, a->free, a->mmapped, a->keepcost };
        int idx = 1, r;

        if ((unsigned)a->agent >= AGENT__KIND_MAX || a->n_types > AGENT_TYPES_MAX || a->n_sites > AGENT_SITES_MAX)
                return -EINVAL;
        sqlite3_bind_int64(st, idx++, process_id);
        sqlite3_bind_int64(st, idx++, a->t_ms);
        sqlite3_bind_text(st, idx++, agent_kind_name[a->agent], -1, SQLITE_STATIC);
        db_bind_known(st, idx++, a->gc_enabled);
        for (size_t i = 0; i < ELEMENTSOF(gens); i++)
                for (int g = 0; g < 3; g++)
                        db_bind_known(st, idx++, gens[i][g]);
        for (size_t i = 0; i < ELEMENTSOF(rest); i++)
                db_bind_known(st, idx++, rest[i]);
        r = db_step_done(s, st);
        /* A replayed batch inserts nothing new: its types are ignored the same way. */
        st = s->stmt[ST_PUT_AGENT_TYPE];
        for (size_t i = 0; r >= 0 && i < a->n_types; i++) {
                sqlite3_bind_int64(st, 1, process_id);
                sqlite3_bind_int64(st, 2, a->t_ms);
                sqlite3_bind_text(st, 3, a->types[i].name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, a->types[i].count);
                r = db_step_done(s, st);
        }
        st = s->stmt[ST_PUT_AGENT_SITE];
        for (size_t i = 0; r >= 0 && i < a->n_sites && i < AGENT_SITES_MAX; i++) {
                sqlite3_bind_int64(st, 1, process_id);
                sqlite3_bind_int64(st, 2, a->t_ms);
                sqlite3_bind_text(st, 3, agent_kind_name[a->agent], -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 4, (int64_t)i);
                sqlite3_bind_int64(st, 5, a->sites[i].live_bytes);
                sqlite3_bind_int64(st, 6, a->sites[i].live_count);
                sqlite3_bind_int64(st, 7, a->sites[i].growth);
                sqlite3_bind_text(st, 8, agent_site_frames(a, i), a->sites[i].len, SQLITE_STATIC);
                r = db_step_done(s, st);
        }
        return r;
}

/* Reads the types of the report at time t into a. */
static int read_agent_types(struct store *s, sqlite3_stmt *st, int64_t process_id, int64_t t,
                            struct agent_report *a)
{
        int rc;

        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, t);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && a->n_types < AGENT_TYPES_MAX) {
                struct agent_report_type *ty = &a->types[a->n_types++];
                size_t len;
                const char *name = db_column_text(st, 0, &len);

                str_copy(ty->name, sizeof(ty->name), name, len);
                ty->count = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, rc);
}

/* The allocation sites stored with a report (agent_site), by rank, into a: a version 2
 * report again. Frames longer than the report's room for them are left out with their
 * site (the put path stored what a report held, so they fit unless the row was edited). */
static int read_agent_sites(struct store *s, sqlite3_stmt *st, int64_t process_id, const char *agent,
                            struct agent_report *a)
{
        int rc;

        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, a->t_ms);
        sqlite3_bind_text(st, 3, agent, -1, SQLITE_STATIC);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW && a->n_sites < AGENT_SITES_MAX) {
                struct agent_site *x = &a->sites[a->n_sites];
                size_t len;
                const char *frames = db_column_text(st, 3, &len);

                if (!frames || len > UINT16_MAX || a->site_text_len + len + 1 > sizeof(a->site_text))
                        continue;
                x->live_bytes = sqlite3_column_int64(st, 0);
                x->live_count = sqlite3_column_int64(st, 1);
                x->growth = sqlite3_column_int64(st, 2);
                x->off = (uint16_t)a->site_text_len;
                x->len = (uint16_t)len;
                x->n_frames = 1;
                for (size_t i = 0; i < len; i++)
                        x->n_frames += frames[i] == ' ';
                memcpy(a->site_text + a->site_text_len, frames, len);
                a->site_text[a->site_text_len + len] = '\0';
                a->site_text_len += len + 1;
                a->n_sites++;
        }
        sqlite3_reset(st);
        if (a->n_sites > 0)
                a->version = 2;
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(s, rc);
}

int store_for_each_agent_sample(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                                store_agent_cb cb, void *userdata)
{
        sqlite3_stmt *st = NULL, *types = NULL, *sites = NULL;
        int rc = SQLITE_DONE, r;

        r = db_prepare(s, "SELECT t, agent, " AGENT_COLUMNS " FROM agent_sample "
                       "WHERE process_id = ?1 AND t >= ?2 AND t < ?3 ORDER BY t, agent", &st);
        if (r == 0)
                r = db_prepare(s, "SELECT type, count FROM agent_type WHERE process_id = ?1 AND t = ?2 "
                               "ORDER BY count DESC, type", &types);
        if (r == 0)
                r = db_prepare(s, "SELECT live_bytes, live_count, growth, frames FROM agent_site "
                               "WHERE process_id = ?1 AND t = ?2 AND agent = ?3 ORDER BY rank", &sites);
        if (r < 0)
                goto out;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct agent_report a;
                const char *agent = db_column_text(st, 1, NULL);
                int col = 2;

                agent_report_init(&a);
                a.t_ms = sqlite3_column_int64(st, 0);
                if (!agent)
                        continue;
                if (strcmp(agent, "python") == 0)
                        a.agent = AGENT_PYTHON;
                else if (strcmp(agent, "malloc") == 0)
                        a.agent = AGENT_MALLOC;
                else
                        continue;       /* a newer program's agent: not ours to read */
                a.gc_enabled = (int)db_column_or(st, col++, -1);
                for (int g = 0; g < 3; g++)
                        a.gc_threshold[g] = db_column_or(st, col++, -1);
                for (int g = 0; g < 3; g++)
                        a.gc_count[g] = db_column_or(st, col++, -1);
                for (int g = 0; g < 3; g++)
                        a.gc_collections[g] = db_column_or(st, col++, -1);
                for (int g = 0; g < 3; g++)
                        a.gc_collected[g] = db_column_or(st, col++, -1);
                for (int g = 0; g < 3; g++)
                        a.gc_uncollectable[g] = db_column_or(st, col++, -1);
                a.gc_garbage = db_column_or(st, col++, -1);
                a.blocks = db_column_or(st, col++, -1);
                a.traced = db_column_or(st, col++, -1);
                a.traced_peak = db_column_or(st, col++, -1);
                a.objects = db_column_or(st, col++, -1);
                a.stride = db_column_or(st, col++, -1);
                a.arena = db_column_or(st, col++, -1);
                a.in_use = db_column_or(st, col++, -1);
                a.free = db_column_or(st, col++, -1);
                a.mmapped = db_column_or(st, col++, -1);
                a.keepcost = db_column_or(st, col++, -1);
                if (a.objects >= 0) {
                        r = read_agent_types(s, types, process_id, a.t_ms, &a);
                        if (r < 0)
                                break;
                }
                r = read_agent_sites(s, sites, process_id, agent_kind_name[a.agent], &a);
                if (r < 0)
                        break;
                r = cb(&a, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(s, rc);
out:
        sqlite3_finalize(st);
        sqlite3_finalize(types);
        sqlite3_finalize(sites);
        return r;
}

static int put_alert_kind(struct store *s, const struct store_alert_kind *k)
{
        sqlite3_stmt *st = s->stmt[ST_PUT_ALERT_KIND];

        sqlite3_bind_int64(st, 1, k->alert_id);
        sqlite3_bind_int64(st, 2, k->t_ms);
        db_bind_str(st, 3, k->cls);
        db_bind_str(st, 4, k->agents);
        return db_step_done(s, st);
}

/* ---- the put path ---- */

static int reopen_process(struct store *s, const struct store_reopen *ro);
static int exec_process(struct store *s, const struct store_exec *ex);

int store_put(struct store *s, const struct store_row *row)
{
        switch (row->kind) {
        case STORE_PROCESS:
                return put_process(s, &row->process);
        case STORE_PROCESS_REOPEN:
                return reopen_process(s, &row->reopen);
        case STORE_PROCESS_END:
                return end_process(s, &row->end);
        case STORE_PROCESS_EXEC:
                return exec_process(s, &row->exec);
        case STORE_OTHER_BOOTS_END:
                return end_other_boots(s, row->boot_id);
        case STORE_SAMPLE:
                return put_sample(s, &row->sample);
        case STORE_RULE_SAMPLE:
                return put_rule_sample(s, &row->sample);
        case STORE_AGENT_SAMPLE:
                return put_agent_sample(s, row->agent.process_id, row->agent.report);
        case STORE_EVENT:
                return put_event(s, &row->event);
        case STORE_VERDICT:
                return put_verdict(s, &row->verdict);
        case STORE_ALERT:
                return put_alert(s, &row->alert);
        case STORE_ALERT_END:
                return end_alert(s, &row->end);
        case STORE_ALERT_KIND:
                return put_alert_kind(s, &row->alert_kind);
        case STORE_HOOK_RUN:
                return put_hook_run(s, &row->hook_run);
        case STORE_RESTART:
                return put_restart(s, &row->restart);
        case STORE_ALERT_BUNDLE:
                return put_alert_bundle(s, &row->bundle);
        case STORE__ROW_MAX:
        default:
                break;
        }
        return -EINVAL;
}

/* Strings of a row: where each is and how long (len_of: its length field, or NULL for a
 * NUL-terminated string). */
struct row_text {
        const char **text;
        const size_t *len_of;
};

static size_t row_texts(struct store_row *r, struct row_text *t)
{
        size_t n = 0;

#define TEXT(field) (t[n++] = (struct row_text){ &(field), NULL })
#define BYTES(field, len) (t[n++] = (struct row_text){ &(field), &(len) })
        switch (r->kind) {
        case STORE_PROCESS:
                BYTES(r->process.comm, r->process.comm_len);
                BYTES(r->process.cmdline, r->process.cmdline_len);
                TEXT(r->process.unit);
                TEXT(r->process.cgroup);
                break;
        case STORE_PROCESS_EXEC:
                BYTES(r->exec.comm, r->exec.comm_len);
                BYTES(r->exec.cmdline, r->exec.cmdline_len);
                break;
        case STORE_PROCESS_END:
        case STORE_ALERT_END:
                TEXT(r->end.state);
                TEXT(r->end.reason);
                break;
        case STORE_OTHER_BOOTS_END:
                TEXT(r->boot_id);
                break;
        case STORE_EVENT:
                TEXT(r->event.kind);
                TEXT(r->event.detail);
                break;
        case STORE_VERDICT:
                TEXT(r->verdict.metric);
                TEXT(r->verdict.state);
                TEXT(r->verdict.previous);
                TEXT(r->verdict.ev.reason);
                break;
        case STORE_ALERT:
                TEXT(r->alert.metric);
                TEXT(r->alert.state);
                TEXT(r->alert.end_reason);
                TEXT(r->alert.ev.reason);
                TEXT(r->alert.limit_kind);
                TEXT(r->alert.kind);
                TEXT(r->alert.raised.cause);
                TEXT(r->alert.raised.reason);
                TEXT(r->alert.latest.cause);
                TEXT(r->alert.latest.reason);
                break;
        case STORE_ALERT_KIND:
                TEXT(r->alert_kind.cls);
                TEXT(r->alert_kind.agents);
                break;
        case STORE_HOOK_RUN:
                TEXT(r->hook_run.event);
                TEXT(r->hook_run.program);
                BYTES(r->hook_run.output, r->hook_run.output_len);
                break;
        case STORE_RESTART:
                TEXT(r->restart.unit);
                TEXT(r->restart.decision);
                TEXT(r->restart.reason);
                TEXT(r->restart.detail);
                TEXT(r->restart.limit_kind);
                break;
        case STORE_ALERT_BUNDLE:
                TEXT(r->bundle.event);
                TEXT(r->bundle.path);
                TEXT(r->bundle.note);
                break;
        case STORE_PROCESS_REOPEN:
        case STORE_SAMPLE:
        case STORE_RULE_SAMPLE:
        case STORE_AGENT_SAMPLE:
        case STORE__ROW_MAX:
        default:
                break;
        }
#undef TEXT
#undef BYTES
        return n;
}

/* The most strings a row holds (an alert's). */
#define ROW_TEXTS_MAX 10

int store_row_copy(const struct store_row *row, struct store_row *ret, void **ret_blob)
{
        struct row_text t[ROW_TEXTS_MAX];
        struct store_row r = *row;
        size_t n = row_texts(&r, t), size = 0, lens[ROW_TEXTS_MAX];
        char *blob, *p;

        for (size_t i = 0; i < n; i++) {
                lens[i] = !*t[i].text ? 0 : t[i].len_of ? *t[i].len_of : strlen(*t[i].text);
                size += *t[i].text ? lens[i] + 1 : 0;
        }
        /* A report without its unused site text: most reports have no sites. */
        if (r.kind == STORE_AGENT_SAMPLE && r.agent.report)
                size += agent_report_size(r.agent.report);
        if (size == 0) {
                *ret = r;
                *ret_blob = NULL;
                return 0;
        }
        /* The report first: the blob is malloc's, aligned for it. */
        blob = p = malloc(size);
        if (!blob)
                return -ENOMEM;
        if (r.kind == STORE_AGENT_SAMPLE && r.agent.report) {
                size_t rs = agent_report_size(r.agent.report);

                memcpy(p, r.agent.report, rs);
                r.agent.report = (const struct agent_report *)(void *)p;
                /* The strings after it stay aligned as char. */
                p += rs;
        }
        for (size_t i = 0; i < n; i++) {
                if (!*t[i].text)
                        continue;
                memcpy(p, *t[i].text, lens[i]);
                p[lens[i]] = '\0';
                *t[i].text = p;
                p += lens[i] + 1;
        }
        *ret = r;
        *ret_blob = blob;
        return 0;
}
/* ---- retention ---- */

static int meta_get(struct store *s, const char *key, int64_t *ret)
{
        sqlite3_stmt *st;
        int rc, r;

        r = db_prepare(s, "SELECT value FROM meta WHERE key = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int64(st, 0);
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

static int meta_set(struct store *s, const char *key, int64_t value)
{
        sqlite3_stmt *st;
        int r;

        r = db_prepare(s, "INSERT INTO meta (key, value) VALUES (?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, value);
        r = db_step_done(s, st);
        sqlite3_finalize(st);
        return r;
}

/* Builds the rollup upsert for one bucket: ?1 process, ?2 width, ?3 start, ?4 count,
 * then min, max and mean of each rollup metric. It merges into an existing bucket row
 * (late samples after a full disk, or a bucket that spans two folds) instead of
 * replacing it. */
static int rollup_sql(char *sql, size_t sz)
{
        size_t o = 0;

#define OUT(...) do { o += (size_t)snprintf(sql + o, o < sz ? sz - o : 0, __VA_ARGS__); } while (0)
        OUT("INSERT INTO rollup (process_id, res, t, n");
        for (size_t i = 0; i < DB_N_ROLLUP; i++) {
                const char *c = metric_info[db_rollup_metrics[i]].name;
                OUT(", %s_min, %s_max, %s_avg", c, c, c);
        }
        OUT(") VALUES (?, ?, ?, ?");
        for (size_t i = 0; i < DB_N_ROLLUP; i++)
                OUT(", ?, ?, ?");
        OUT(") ON CONFLICT (process_id, res, t) DO UPDATE SET n = n + excluded.n");
        for (size_t i = 0; i < DB_N_ROLLUP; i++) {
                const char *c = metric_info[db_rollup_metrics[i]].name;
                /* min()/max() of two values is NULL if either is: merge by hand. */
                OUT(", %s_min = CASE WHEN %s_min IS NULL THEN excluded.%s_min "
                    "WHEN excluded.%s_min IS NULL THEN %s_min ELSE min(%s_min, excluded.%s_min) END",
                    c, c, c, c, c, c, c);
                OUT(", %s_max = CASE WHEN %s_max IS NULL THEN excluded.%s_max "
                    "WHEN excluded.%s_max IS NULL THEN %s_max ELSE max(%s_max, excluded.%s_max) END",
                    c, c, c, c, c, c, c);
                OUT(", %s_avg = CASE WHEN %s_avg IS NULL THEN excluded.%s_avg "
                    "WHEN excluded.%s_avg IS NULL THEN %s_avg "
                    "ELSE (%s_avg * n + excluded.%s_avg * excluded.n) / (n + excluded.n) END",
                    c, c, c, c, c, c, c);
        }
#undef OUT
        return o < sz ? 0 : -E2BIG;
}

/* ---- the fold's rollups ----
 *
 * The rollups are summed in one pass over the samples being folded, in the order the
 * batches hold them (by time, each tick's processes together), so nothing is sorted for
 * them: each process keeps one open minute bucket and one open hour bucket, and a bucket
 * is written when a sample of that process falls past it (a process's samples come in
 * time order, so it is complete for this fold) or at the end; a bucket written twice
 * (a clock set back) is merged by the upsert. What is written is what SQL's count(*),
 * min(), max() and avg() give over the same samples: NULLs are skipped, a metric with
 * no value stays NULL, and the mean is the sum in double precision over the count, as
 * SQLite's avg() computes it. */

#define N_ROLLUP DB_N_ROLLUP
/* The two rollup levels; their widths are the `res` column. */
static const int64_t rollup_res[] = { MINUTE_MS, HOUR_MS };
#define N_LEVELS ELEMENTSOF(rollup_res)
/* The first table holds this many processes; it doubles when half full, so a fold of
 * a typical host (up to max-processes' default 1000) never rehashes. */
#define FOLD_TABLE_MIN 2048

struct bucket {
        int64_t t;                      /* start; n == 0: none open */
        int64_t n;
        int64_t cnt[N_ROLLUP];          /* rows with a value */
        int64_t min[N_ROLLUP], max[N_ROLLUP];
        double sum[N_ROLLUP];
};

struct fold_proc {
        int64_t id;
        bool seen;                      /* a sample of it was folded: last_t is its time */
        int64_t last_t;
        struct bucket b[N_LEVELS];
        struct block_writer bw;         /* the process's samples of this fold, packed */
};

/* The processes of a fold: their entries side by side in the order first seen, and an
 * open-addressing index from process id to entry. Samples come a tick at a time, so
 * consecutive samples belong to different processes: the index probes a table of 16
 * bytes an entry, not the entries (some 800 bytes each, megabytes for a large host). */
struct fold_slot {
        int64_t id;                     /* 0: free (process ids start at 1) */
        size_t at;
};

struct fold_table {
        struct fold_slot *ix;
        size_t cap;                     /* of ix, a power of two */
        struct fold_proc *e;
        size_t used, room;              /* entries, and room for them in e */
};

static size_t fold_hash(int64_t id, size_t cap)
{
        /* Fibonacci hashing: process ids are dense, this spreads them. */
        return (size_t)(((uint64_t)id * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & (cap - 1);
}

/* Room for at least want processes without rehashing (the index at most half full). */
static int fold_table_reserve(struct fold_table *ft, size_t want)
{
        size_t cap = ft->cap ? ft->cap : FOLD_TABLE_MIN;
        struct fold_slot *ix;

        while (cap < want * 2)
                cap *= 2;
        if (want > ft->room) {
                size_t room = MAX(want, ft->room * 2);
                struct fold_proc *e = reallocarray(ft->e, room, sizeof(*e));

                if (!e)
                        return -ENOMEM;
                ft->e = e;
                ft->room = room;
        }
        if (cap == ft->cap)
                return 0;
        ix = calloc(cap, sizeof(*ix));
        if (!ix)
                return -ENOMEM;
        for (size_t i = 0; i < ft->cap; i++) {
                size_t j;

                if (ft->ix[i].id == 0)
                        continue;
                for (j = fold_hash(ft->ix[i].id, cap); ix[j].id != 0; j = (j + 1) & (cap - 1))
                        ;
                ix[j] = ft->ix[i];
        }
        free(ft->ix);
        ft->ix = ix;
        ft->cap = cap;
        return 0;
}

static struct fold_proc *fold_table_get(struct fold_table *ft, int64_t id)
{
        size_t j;

        if ((ft->used + 1) * 2 > ft->cap && fold_table_reserve(ft, ft->used + 1) < 0)
                return NULL;
        for (j = fold_hash(id, ft->cap); ft->ix[j].id != 0; j = (j + 1) & (ft->cap - 1))
                if (ft->ix[j].id == id)
                        return &ft->e[ft->ix[j].at];
        if (ft->used == ft->room && fold_table_reserve(ft, ft->used + 1) < 0)
                return NULL;
        ft->ix[j] = (struct fold_slot){ .id = id, .at = ft->used };
        ft->e[ft->used] = (struct fold_proc){ .id = id };
        return &ft->e[ft->used++];
}

static int bucket_write(struct store *s, sqlite3_stmt *up, int64_t id, int64_t res, const struct bucket *b)
{
        int col = 5;

        sqlite3_bind_int64(up, 1, id);
        sqlite3_bind_int64(up, 2, res);
        sqlite3_bind_int64(up, 3, b->t);
        sqlite3_bind_int64(up, 4, b->n);
        for (size_t i = 0; i < N_ROLLUP; i++, col += 3) {
                if (b->cnt[i] == 0)
                        continue; /* cleared bindings are NULL */
                sqlite3_bind_int64(up, col, b->min[i]);
                sqlite3_bind_int64(up, col + 1, b->max[i]);
                sqlite3_bind_double(up, col + 2, b->sum[i] / (double)b->cnt[i]);
        }
        return db_step_done(s, up);
}

/* v, known: a row's rollup metrics in rollup order, as the table stores them. */
static void bucket_add(struct bucket *b, int64_t t, const int64_t *vals, const bool *known)
{
        if (b->n == 0) {
                memset(b, 0, sizeof(*b));
                b->t = t;
        }
        b->n++;
        for (size_t i = 0; i < N_ROLLUP; i++) {
                int64_t v = vals[i];

                if (!known[i])
                        continue;
                if (b->cnt[i] == 0 || v < b->min[i])
                        b->min[i] = v;
                if (b->cnt[i] == 0 || v > b->max[i])
                        b->max[i] = v;
                b->sum[i] += (double)v;
                b->cnt[i]++;
        }
}

/* A row's rollup metrics as the table stores them (memory in KiB), from its sample. */
static void rollup_values(const struct sample *smp, int64_t *vals, bool *known)
{
        for (size_t i = 0; i < N_ROLLUP; i++) {
                enum metric m = db_rollup_metrics[i];

                known[i] = sample_has(smp, m);
                vals[i] = known[i] ? smp->v[m] / (metric_info[m].unit == UNIT_BYTES ? 1024 : 1) : 0;
        }
}

static int exec_bound(struct store *s, const char *sql, int64_t a, int64_t *ret_changes);

/* The fold's one pass over the batches that begin before fold_before_ms, oldest first:
 * their minute and hour rollups, and their samples packed into one block per process (or
 * more, for a process with many or busy samples); then the batches it moved go. A
 * damaged batch is passed over and left as it is, for the readers to report (and
 * retention to remove): the fold goes on with the others rather than stop for good. */
static int fold_pass(struct store *s, int64_t fold_before_ms, int64_t *ret_folded)
{
        struct fold_table ft = { 0 };
        struct db_batches it = { 0 };
        sqlite3_stmt *up = NULL, *del = NULL;
        _cleanup_free_ int64_t *moved = NULL;
        size_t n_moved = 0, moved_cap = 0;
        char sql[8192];
        int64_t folded = 0, id;
        struct sample smp;
        int r;

        r = rollup_sql(sql, sizeof(sql));
        if (r == 0)
                r = db_prepare(s, sql, &up);
        if (r == 0)
                r = fold_table_reserve(&ft, s->fold_procs);
        if (r == 0)
                r = db_batches_open(s, INT64_MIN, INT64_MAX, false, &it);
        if (r < 0)
                goto out;
        it.skip_damaged = true;
        while ((r = db_batches_next(&it, &id, &smp)) == 1) {
                int64_t vals[N_ROLLUP];
                bool known[N_ROLLUP];
                struct fold_proc *p;

                /* Whole batches: the one this sample is of began before the cut, or none
                 * after it does. */
                if (it.t0 >= fold_before_ms) {
                        r = 0;
                        break;
                }
                if (n_moved == 0 || moved[n_moved - 1] != it.id) {
                        int64_t *slot = db_grow((void **)&moved, &n_moved, &moved_cap, sizeof(*moved));

                        if (!slot) {
                                r = -ENOMEM;
                                goto out;
                        }
                        *slot = it.id;
                }
                p = fold_table_get(&ft, id);
                if (!p) {
                        r = -ENOMEM;
                        goto out;
                }
                /* A sample of a time the process already has (a commit written twice)
                 * is the same sample. */
                if (p->seen && smp.t_ms == p->last_t)
                        continue;
                rollup_values(&smp, vals, known);
                for (size_t l = 0; l < N_LEVELS; l++) {
                        struct bucket *b = &p->b[l];
                        int64_t start = smp.t_ms - smp.t_ms % rollup_res[l];

                        if (b->n > 0 && b->t != start) {
                                r = bucket_write(s, up, id, rollup_res[l], b);
                                if (r < 0)
                                        goto out;
                                b->n = 0;
                        }
                        bucket_add(b, start, vals, known);
                }
                /* Into the process's block; a full block is written and another begun,
                 * and so is one that a sample older than its last would not follow (the
                 * clock set back). */
                if (p->seen && smp.t_ms < p->last_t && p->bw.n > 0) {
                        r = db_put_block(s, p->id, &p->bw);
                        if (r < 0)
                                goto out;
                        block_writer_reset(&p->bw);
                }
                r = db_pack(s, p->id, &p->bw, &smp);
                if (r < 0)
                        goto out;
                p->seen = true;
                p->last_t = smp.t_ms;
                folded++;
        }
        if (r < 0)
                goto out;
        for (size_t i = 0; i < ft.used && r == 0; i++) {
                struct fold_proc *p = &ft.e[i];

                for (size_t l = 0; l < N_LEVELS && r == 0; l++)
                        if (p->b[l].n > 0)
                                r = bucket_write(s, up, p->id, rollup_res[l], &p->b[l]);
                if (r == 0 && p->bw.n > 0)
                        r = db_put_block(s, p->id, &p->bw);
        }
        /* The batches moved: those before the cut in one range, unless a damaged one
         * stays among them. */
        if (r == 0 && it.damaged == 0)
                r = exec_bound(s, "DELETE FROM sample_batch WHERE t0 < ?1", fold_before_ms, NULL);
        else if (r == 0)
                r = db_prepare(s, "DELETE FROM sample_batch WHERE id = ?1", &del);
        for (size_t i = 0; r == 0 && del && i < n_moved; i++) {
                sqlite3_bind_int64(del, 1, moved[i]);
                r = db_step_done(s, del);
        }
        if (r == 0) {
                *ret_folded = folded;
                s->fold_procs = ft.used;
        }
out:
        db_batches_close(&it);
        sqlite3_finalize(up);
        sqlite3_finalize(del);
        for (size_t i = 0; i < ft.used; i++)
                block_writer_free(&ft.e[i].bw);
        free(ft.e);
        free(ft.ix);
        return r;
}

static int exec_bound(struct store *s, const char *sql, int64_t a, int64_t *ret_changes)
{
        sqlite3_stmt *st;
        int r;

        r = db_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, a);
        r = db_step_done(s, st);
        if (r == 0 && ret_changes)
                *ret_changes += sqlite3_changes64(s->db);
        sqlite3_finalize(st);
        return r;
}

int store_fold(struct store *s, int64_t fold_before_ms, int64_t *ret_folded)
{
        int64_t folded = 0;
        int r;

        r = store_begin(s);
        if (r < 0)
                return r;
        r = fold_pass(s, fold_before_ms, &folded);
        if (r == 0)
                r = meta_set(s, "folded_upto", fold_before_ms);
        if (r == 0)
                r = store_commit(s);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        /* Committed data lives in the -wal file until a checkpoint copies it into the
         * database, and SQLite checkpoints by itself only after 1000 pages, which a
         * quiet host fills in hours. Whoever deletes the -wal file takes that much with
         * it if the daemon dies before store_check() sees the loss and copies it back:
         * a checkpoint here bounds it by the fold period. Passive: never waits for a
         * reader; what a reader still needs is copied at the next one. */
        (void)sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        remember_write(s);
        if (ret_folded)
                *ret_folded = folded;
        return 0;
}

/* Deletes one process's rows older than cutoff from table (with an extra condition),
 * for every process that can still have such rows: those seen before the cutoff and not
 * ended before the previous pass's cutoff (their old rows are already gone). Walking by
 * process keeps every delete a range scan of the clustered key. */
/* Drops one process's folded samples older than cutoff: whole blocks, and the older
 * part of a block that holds samples on both sides of it, which is packed again. A
 * damaged block is left as it is, for the readers to report. */
static int trim_blocks(struct store *s, sqlite3_stmt *del, int64_t id, int64_t cutoff, int64_t *ret_pruned)
{
        struct block_writer bw = { 0 };
        sqlite3_stmt *st = NULL;
        int rc, r;

        sqlite3_bind_int64(del, 1, id);
        sqlite3_bind_int64(del, 2, cutoff);
        r = db_step_done(s, del);
        if (r < 0)
                return r;
        *ret_pruned += sqlite3_changes64(s->db);
        r = db_prepare(s, "SELECT t0, data FROM sample_block WHERE process_id = ?1 AND t0 < ?2 AND t1 >= ?2 "
                          "ORDER BY t0 LIMIT 1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, cutoff);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                int64_t t0 = sqlite3_column_int64(st, 0);
                struct block_reader br;
                struct sample smp;
                char sql[128];
                int k;

                block_writer_reset(&bw);
                if (block_reader_init(&br, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)) < 0)
                        break;
                while ((k = block_reader_next(&br, &smp)) == 1)
                        if (smp.t_ms >= cutoff && (r = block_writer_add(&bw, &smp)) < 0)
                                goto out;
                if (k < 0)
                        break;
                sqlite3_reset(st);
                snprintf(sql, sizeof(sql), "DELETE FROM sample_block WHERE process_id = %" PRId64 " AND t0 = %" PRId64,
                         id, t0);
                r = db_exec(s, sql);
                if (r == 0 && bw.n > 0)
                        r = db_put_block(s, id, &bw);
                if (r < 0)
                        goto out;
                (*ret_pruned)++;
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_int64(st, 2, cutoff);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                r = db_fail(s, rc);
out:
        sqlite3_finalize(st);
        block_writer_free(&bw);
        return r;
}

static int prune_by_process(struct store *s, const char *meta_key, int64_t cutoff, const char *delete_sql,
                            int64_t *ret_pruned)
{
        sqlite3_stmt *ids = NULL, *del = NULL;
        bool blocks = strstr(delete_sql, "sample_block") != NULL;
        int64_t prev = 0;
        int rc, r;

        r = meta_get(s, meta_key, &prev);
        if (r < 0 && r != -ENOENT)
                return r;
        if (cutoff <= prev)
                return 0;
        r = db_prepare(s, "SELECT id FROM process WHERE first_ms < ?1 AND (end_ms IS NULL OR end_ms >= ?2)", &ids);
        if (r < 0)
                return r;
        r = db_prepare(s, delete_sql, &del);
        if (r < 0)
                goto out;
        sqlite3_bind_int64(ids, 1, cutoff);
        sqlite3_bind_int64(ids, 2, prev);
        while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
                if (blocks) {
                        r = trim_blocks(s, del, sqlite3_column_int64(ids, 0), cutoff, ret_pruned);
                        if (r < 0)
                                goto out;
                        continue;
                }
                sqlite3_bind_int64(del, 1, sqlite3_column_int64(ids, 0));
                sqlite3_bind_int64(del, 2, cutoff);
                r = db_step_done(s, del);
                if (r < 0)
                        goto out;
                *ret_pruned += sqlite3_changes64(s->db);
        }
        if (rc != SQLITE_DONE) {
                r = db_fail(s, rc);
                goto out;
        }
        r = meta_set(s, meta_key, cutoff);
out:
        sqlite3_finalize(ids);
        sqlite3_finalize(del);
        return r;
}

int store_maintain(struct store *s, int64_t now_ms, const struct store_retention *rt,
                   struct store_maintenance *ret)
{
        struct store_maintenance m = { 0 };
        int64_t raw_cut = now_ms - rt->raw_ms;
        int64_t min_cut = now_ms - rt->minute_ms;
        int64_t hour_cut = now_ms - rt->hour_ms;
        int r;

        r = store_begin(s);
        if (r < 0)
                return r;
        /* Whole blocks older than the cut go; the one across it is packed again with its
         * newer samples (trim_blocks). m.pruned counts blocks here, rows elsewhere. */
        r = prune_by_process(s, "raw_pruned_upto", raw_cut,
                             "DELETE FROM sample_block WHERE process_id = ?1 AND t1 < ?2", &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM sample_batch WHERE t1 < ?1", raw_cut, &m.pruned);
        if (r == 0)
                r = prune_by_process(s, "minute_pruned_upto", min_cut,
                                     "DELETE FROM rollup WHERE process_id = ?1 AND res = 60000 AND t < ?2",
                                     &m.pruned);
        if (r == 0)
                r = prune_by_process(s, "hour_pruned_upto", hour_cut,
                                     "DELETE FROM rollup WHERE process_id = ?1 AND res = 3600000 AND t < ?2",
                                     &m.pruned);
        /* Rule sums are few rows per tick (one per rule); they are kept as long as the
         * per-minute rollups so a rule's history outlives its raw process samples. */
        if (r == 0)
                r = exec_bound(s, "DELETE FROM rule_sample WHERE t < ?1", min_cut, &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM process WHERE end_ms IS NOT NULL AND end_ms < ?1", hour_cut,
                               &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM daemon_event WHERE t < ?1", hour_cut, &m.pruned);
        /* Alerts and their evidence live as long as the coarsest history they explain. */
        if (r == 0)
                r = exec_bound(s, "DELETE FROM verdict WHERE t < ?1", hour_cut, &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM hook_run WHERE start_ms < ?1", hour_cut, &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM restart WHERE t < ?1", hour_cut, &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM alert_bundle WHERE t < ?1", hour_cut, &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM alert WHERE end_ms IS NOT NULL AND end_ms < ?1", hour_cut, &m.pruned);
        /* Agent reports are raw data and go with the raw samples; an alert's class with
         * its alert. */
        if (r == 0)
                r = prune_by_process(s, "agent_pruned_upto", raw_cut,
                                     "DELETE FROM agent_sample WHERE process_id = ?1 AND t < ?2", &m.pruned);
        if (r == 0)
                r = prune_by_process(s, "agent_type_pruned_upto", raw_cut,
                                     "DELETE FROM agent_type WHERE process_id = ?1 AND t < ?2", &m.pruned);
        if (r == 0)
                r = prune_by_process(s, "agent_site_pruned_upto", raw_cut,
                                     "DELETE FROM agent_site WHERE process_id = ?1 AND t < ?2", &m.pruned);
        if (r == 0)
                r = exec_bound(s, "DELETE FROM alert_kind WHERE alert_id NOT IN (SELECT id FROM alert) AND t < ?1",
                               hour_cut, &m.pruned);
        if (r == 0)
                r = exec_bound(s,
                               "DELETE FROM alert_evidence WHERE alert_id NOT IN (SELECT id FROM alert) AND t < ?1",
                               hour_cut, &m.pruned);
        if (r == 0)
                r = store_commit(s);
        if (r < 0) {
                store_rollback(s);
                return r;
        }
        if (ret)
                *ret = m;
        return 0;
}

/* ---- reads ---- */

/* The minima of a minute rollup row, from column 1 on, as a sample's readings. */
static void read_minute_minima(sqlite3_stmt *st, struct sample *smp)
{
        for (size_t i = 0; i < DB_N_ROLLUP; i++) {
                enum metric m = db_rollup_metrics[i];

                if (sqlite3_column_type(st, 1 + (int)i) == SQLITE_NULL)
                        continue;
                /* Stored as raw samples are: KiB for bytes. */
                sample_set(smp, m, sqlite3_column_int64(st, 1 + (int)i) * (metric_info[m].unit == UNIT_BYTES ? 1024 : 1));
        }
}

/* Runs sql (?1 process, ?2 from, ?3 to; column 0 the time) and gives each row, read into a
 * sample by read, to cb; a non-zero return of cb stops and is returned. */
static int for_each_row(struct store *s, const char *sql, int64_t process_id, int64_t from_ms, int64_t to_ms,
                        void (*read)(sqlite3_stmt *st, struct sample *smp), store_sample_cb cb, void *userdata)
{
        sqlite3_stmt *st;
        int rc, r;

        r = db_prepare(s, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct sample smp = { .t_ms = sqlite3_column_int64(st, 0) };

                read(st, &smp);
                r = cb(&smp, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

int store_for_each_sample(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                          store_sample_cb cb, void *userdata)
{
        struct db_batches it;
        struct sample smp;
        int64_t id, last = INT64_MIN;
        int r;

        /* Folded samples are older than the recent ones of the same process. */
        r = db_for_each_folded(s, process_id, from_ms, to_ms, cb, userdata);
        if (r != 0)
                return r;
        r = db_batches_open(s, from_ms, to_ms, false, &it);
        while (r == 0 && (r = db_batches_next(&it, &id, &smp)) == 1) {
                r = 0;
                /* In time order, once each (a commit written twice holds a sample twice). */
                if (id != process_id || smp.t_ms <= last)
                        continue;
                last = smp.t_ms;
                r = cb(&smp, userdata);
        }
        db_batches_close(&it);
        return r;
}

int store_for_each_minute(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                          store_sample_cb cb, void *userdata)
{
        char sql[2048];
        size_t o;

        o = (size_t)snprintf(sql, sizeof(sql), "SELECT t");
        for (size_t i = 0; i < DB_N_ROLLUP && o < sizeof(sql); i++)
                o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", %s_min", metric_info[db_rollup_metrics[i]].name);
        if (o < sizeof(sql))
                snprintf(sql + o, sizeof(sql) - o,
                         " FROM rollup WHERE process_id = ?1 AND res = %d AND t >= ?2 AND t < ?3 ORDER BY t",
                         (int)MINUTE_MS);
        return for_each_row(s, sql, process_id, from_ms, to_ms, read_minute_minima, cb, userdata);
}

int store_disk_usage(struct store *s, int64_t *ret_bytes)
{
        int64_t pages, page_size;
        char wal[PATH_MAX];
        struct stat st;
        int r;

        r = db_int64(s, "PRAGMA page_count", 0, &pages);
        if (r < 0)
                return r;
        r = db_int64(s, "PRAGMA page_size", 0, &page_size);
        if (r < 0)
                return r;
        *ret_bytes = pages * page_size;
        if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", s->path) < sizeof(wal) && stat(wal, &st) == 0)
                *ret_bytes += st.st_size;
        return 0;
}

int store_set_size_limit(struct store *s, int64_t bytes)
{
        s->size_limit = bytes;
        return apply_size_limit(s);
}

/* The cap is the connection's (max_page_count), so a repair's new connection sets it
 * again. */
static int apply_size_limit(struct store *s)
{
        int64_t page_size, pages, bytes = s->size_limit;
        char sql[80];
        int r;

        r = db_int64(s, "PRAGMA page_size", 0, &page_size);
        if (r < 0)
                return r;
        /* max_page_count cannot go below the current size; 0 means "no cap". */
        pages = bytes > 0 ? MAX(bytes / page_size, 1) : INT64_C(4294967294);
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %" PRId64, pages);
        return db_int64(s, sql, 0, &pages);
}

int store_find_process(struct store *s, const char *boot_id, int32_t pid, int64_t start_ticks, int64_t *ret_id)
{
        sqlite3_stmt *st;
        int rc, r;

        r = db_prepare(s, "SELECT id FROM process WHERE boot_id = ? AND pid = ? AND start_ticks = ?", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, boot_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, pid);
        sqlite3_bind_int64(st, 3, start_ticks);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret_id = sqlite3_column_int64(st, 0);
        r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_fail(s, rc);
        sqlite3_finalize(st);
        return r;
}

int store_last_sample_ms(struct store *s, int64_t process_id, int64_t *ret_ms)
{
        struct db_batches it;
        struct sample smp;
        int64_t t = INT64_MAX, folded = INT64_MAX, id;
        uint64_t found_in = 0;
        int r;

        r = first_time(s, "SELECT max(t1) FROM sample_block WHERE process_id = ?1 AND t0 >= ?2 AND t0 < ?3",
                       process_id, 0, INT64_MAX, &folded);
        if (r < 0)
                return r;
        /* The newest batch that holds the process has its newest sample; only batches
         * after its folded samples can. */
        r = db_batches_open(s, folded == INT64_MAX ? INT64_MIN : folded + 1, INT64_MAX, true, &it);
        while (r == 0 && (r = db_batches_next(&it, &id, &smp)) == 1) {
                r = 0;
                if (found_in && it.seq != found_in)
                        break;
                if (id == process_id && (!found_in || smp.t_ms > t)) {
                        t = smp.t_ms;
                        found_in = it.seq;
                }
        }
        db_batches_close(&it);
        if (r < 0)
                return r;
        if (!found_in)
                t = folded;
        if (t == INT64_MAX)
                return -ENOENT;
        *ret_ms = t;
        return 0;
}

static int reopen_process(struct store *s, const struct store_reopen *ro)
{
        sqlite3_stmt *st;
        int r;

        r = db_cached(s, ST_REOPEN_PROCESS, "UPDATE process SET end_ms = NULL, end_reason = NULL, rule_id = ?2, "
                                            "generation = ?3 WHERE id = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, ro->id);
        sqlite3_bind_int64(st, 2, ro->rule_id);
        sqlite3_bind_int64(st, 3, ro->generation);
        return db_step_done(s, st);
}

static int exec_process(struct store *s, const struct store_exec *ex)
{
        sqlite3_stmt *st;
        int r;

        r = db_cached(s, ST_EXEC_PROCESS, "UPDATE process SET comm = ?2, cmdline = ?3 WHERE id = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, ex->id);
        db_bind_text(st, 2, ex->comm ? ex->comm : "", ex->comm ? ex->comm_len : 0);
        db_bind_text(st, 3, ex->cmdline ? ex->cmdline : "", ex->cmdline ? ex->cmdline_len : 0);
        return db_step_done(s, st);
}

/* ---- the files under the connection ----
 *
 * SQLite holds the database, its -wal and its -shm open and never looks at the paths
 * again. If someone deletes the -wal file, SQLite goes on writing into the deleted file:
 * the commits since the last checkpoint exist only there, readers that open the database
 * afterwards fail ("disk I/O error"), and when the daemon closes, its checkpoint either
 * copies them into the database (no reader open) or nothing does and they are gone. So
 * store_check() compares each path with the file the connection holds, and repairs:
 *
 *  - -wal or -shm deleted or replaced: a TRUNCATE checkpoint copies every committed page
 *    from the deleted log (still open, still whole) into the database and resets the
 *    index to an empty log; then the connection is closed and opened again on the paths.
 *    Nothing committed is lost and nothing held in memory is touched (the writer keeps
 *    its batch until a commit succeeds). Relinking the deleted file is not possible (the
 *    kernel refuses to link a file whose link count is 0) and copying it back would race
 *    with the readers' index; the checkpoint moves exactly the committed pages under
 *    SQLite's own locks. A reader that still reads an old snapshot makes the checkpoint
 *    wait (-EBUSY): until it succeeds, commits go on into the deleted log, where a
 *    checkpoint finds them later; only a crash before then loses them, and store_fold()'s
 *    checkpoint bounds what is in the log at any time.
 *  - the database deleted, moved, replaced by another file or by a symlink: after the
 *    same checkpoint the connection's file is whole; a copy of it (SQLite's backup)
 *    goes in its place under a new name and is renamed over the path, whatever had been
 *    put there moved aside first (PATH.displaced-TIME, never followed, never written).
 *  - damage (SQLite says SQLITE_CORRUPT or SQLITE_NOTADB): the file is set aside
 *    (PATH.damaged-TIME, with its -wal) and a new one takes its place, holding every row
 *    that can still be read from it: each table copied whole, or row by row up to the
 *    damage from both ends. Ids are kept, so the daemon's processes and alerts in
 *    memory still name their rows. */

/* A message for store_errmsg() (cut to its buffer: a path may be long). */
static void PRINTF(2, 3) errorf(struct store *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(s->errmsg, sizeof(s->errmsg), fmt, ap);
        va_end(ap);
}

#define SET_ASIDE_TRIES 100

/* Moves path to "<path>.<what>-<UTC time>" (-N if taken), suffix included for the
 * -wal of a damaged file. Returns 0 and the new name, or -errno. */
static int move_aside(const char *path, const char *what, const char *suffix, char *ret, size_t sz)
{
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;

        if (!gmtime_r(&now, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) == 0)
                return -EINVAL;
        for (int i = 1; i <= SET_ASIDE_TRIES; i++) {
                char src[PATH_MAX + 8];
                int n;

                if (i == 1)
                        n = snprintf(ret, sz, "%s.%s-%s", path, what, stamp);
                else
                        n = snprintf(ret, sz, "%s.%s-%s-%d", path, what, stamp, i);
                if (n < 0 || (size_t)n + strlen(suffix) >= sz ||
                    (size_t)snprintf(src, sizeof(src), "%s%s", path, suffix) >= sizeof(src))
                        return -ENAMETOOLONG;
                strcat(ret, suffix);
                /* NOREPLACE: an earlier file set aside is never overwritten. */
                if (renameat2(AT_FDCWD, src, AT_FDCWD, ret, RENAME_NOREPLACE) == 0)
                        return 0;
                if (errno != EEXIST)
                        return -errno;
                ret[n] = '\0';
        }
        return -EEXIST;
}

/* The directory's entries are durable once it is synced: a rename is not, alone. */
static void sync_dir(const char *path)
{
        _cleanup_free_ char *dir = strdup(path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        int fd;

        if (!slash)
                return;
        slash[slash == dir] = '\0';
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                (void)fsync(fd);
                close(fd);
        }
}

/* Which file no longer is at its path, or F__MAX if none. *ret_written: the database
 * file is the connection's, but was written since its last write. */
static enum db_file moved_file(const struct store *s, bool *ret_written)
{
        *ret_written = false;
        for (int f = 0; f < F__MAX; f++) {
                const struct db_file_id *id = &s->files[f];
                char name[PATH_MAX + 8];
                struct stat st;

                if (!id->known || file_name(s, f, name, sizeof(name)) < 0)
                        continue;
                if (lstat(name, &st) < 0 || !S_ISREG(st.st_mode) || st.st_dev != id->dev || st.st_ino != id->ino)
                        return f;
                if (f == F_DB && (st.st_size != id->size || st.st_mtim.tv_sec != id->mtime.tv_sec ||
                                  st.st_mtim.tv_nsec != id->mtime.tv_nsec))
                        *ret_written = true;
        }
        return F__MAX;
}

/* The database file changed behind the connection: is it still sound? Read through a
 * connection of its own, whose cache holds nothing (this one's may still hold the pages
 * as they were, and would answer for them). quick_check reads every page once and skips
 * only the cross-checks of indexes against tables; it runs only after such a change. */
static int verify(struct store *s)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE, NULL);
        if (rc == SQLITE_OK) {
                sqlite3_busy_timeout(db, BUSY_TIMEOUT_WRITER_MS);
                rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
        }
        if (rc == SQLITE_OK) {
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        rc = strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
        }
        if (rc != SQLITE_OK && db_rc_damaged(rc)) {
                s->damaged = true;
                errorf(s, "%s", db && st && sqlite3_column_text(st, 0) && rc == SQLITE_CORRUPT ?
                                        (const char *)sqlite3_column_text(st, 0) : sqlite3_errstr(rc));
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        return rc == SQLITE_OK ? 0 : s->damaged ? -EBADMSG : db_errno(rc);
}

/* Copies every committed page into the database file and empties the log (its index
 * too). -EBUSY while a reader still needs the log. */
static int checkpoint_all(struct store *s)
{
        int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);

        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
                errorf(s, "a reader still uses the write-ahead log; retrying");
                return -EBUSY;
        }
        return rc == SQLITE_OK ? 0 : db_fail(s, rc);
}

/* Before the connection opens the paths again: a -wal that is not the connection's and
 * holds frames was written by someone else and must not be replayed into this database,
 * so it is set aside; an empty one (a reader made it after the loss) is taken as it is.
 * A -shm that is not the connection's describes a log as some reader found it, maybe
 * the one just emptied: it is removed, and the index built again from the log by this
 * connection (such a reader reads again once it reconnects). Anything else (a link, a
 * directory) is moved away, since SQLite would refuse it. */
static int clear_foreign(struct store *s, char *aside, size_t asidesz)
{
        for (int f = F_WAL; f < F__MAX; f++) {
                char name[PATH_MAX + 8], moved[PATH_MAX + 64];
                struct stat st;
                int r;

                if (file_name(s, f, name, sizeof(name)) < 0 || lstat(name, &st) < 0)
                        continue;
                if (s->files[f].known && st.st_dev == s->files[f].dev && st.st_ino == s->files[f].ino)
                        continue;
                if (S_ISREG(st.st_mode) && f == F_WAL && st.st_size == 0)
                        continue;
                if (S_ISREG(st.st_mode) && f == F_SHM) {
                        if (unlink(name) < 0 && errno != ENOENT) {
                                r = -errno;
                                errorf(s, "cannot remove %s: %s", name, strerror(-r));
                                return r;
                        }
                        continue;
                }
                r = move_aside(name, "displaced", "", moved, sizeof(moved));
                if (r < 0) {
                        errorf(s, "cannot move %s aside: %s", name, strerror(-r));
                        return r;
                }
                if (!aside[0])
                        snprintf(aside, asidesz, "%s", moved);
        }
        return 0;
}

/* A name for a new file beside the database. */
static int new_name(const struct store *s, char *buf, size_t sz)
{
        static unsigned counter;

        return (size_t)snprintf(buf, sz, "%s.new-%ld-%u", s->path, (long)getpid(), ++counter) < sz ? 0 :
                                                                                              -ENAMETOOLONG;
}

/* Puts a copy of the connection's database (whole: the log is empty after
 * checkpoint_all) at s->path, moving aside whatever is there now. */
static int restore_copy(struct store *s, char *aside, size_t asidesz)
{
        char tmp[PATH_MAX + 64], moved[PATH_MAX + 64];
        sqlite3 *dst = NULL;
        sqlite3_backup *b;
        struct stat st;
        int rc, r;

        r = new_name(s, tmp, sizeof(tmp));
        if (r == 0)
                r = create_private(tmp, true, s->errmsg, sizeof(s->errmsg));
        if (r < 0)
                return r;
        rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE, NULL);
        if (rc == SQLITE_OK) {
                b = sqlite3_backup_init(dst, "main", s->db, "main");
                if (!b) {
                        rc = sqlite3_errcode(dst);
                } else {
                        int done = sqlite3_backup_step(b, -1);

                        rc = sqlite3_backup_finish(b);
                        if (done != SQLITE_DONE && rc == SQLITE_OK)
                                rc = done;
                }
        }
        if (rc != SQLITE_OK)
                errorf(s, "copying the database to %s: %s", tmp,
                         dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
        if (sqlite3_close(dst) != SQLITE_OK && rc == SQLITE_OK)
                rc = SQLITE_IOERR;
        if (rc != SQLITE_OK) {
                (void)unlink(tmp);
                return db_errno(rc);
        }
        if (lstat(s->path, &st) == 0) {
                r = move_aside(s->path, "displaced", "", moved, sizeof(moved));
                if (r < 0) {
                        errorf(s, "cannot move %s aside: %s", s->path, strerror(-r));
                        (void)unlink(tmp);
                        return r;
                }
                snprintf(aside, asidesz, "%s", moved);
        }
        if (rename(tmp, s->path) < 0) {
                r = -errno;
                errorf(s, "cannot rename %s to %s: %s", tmp, s->path, strerror(-r));
                (void)unlink(tmp);
                return r;
        }
        sync_dir(s->path);
        return 0;
}

/* Copies the rows of table from `damaged` (attached) into main: in one statement, or,
 * when that meets the damage, row by row from each end up to it. Returns the rows
 * copied. */
static int64_t salvage_table(struct store *fresh, const char *table)
{
        _cleanup_free_ char *cols = NULL, *order = NULL, *sql = NULL, *ins = NULL;
        const char *ends[2];
        sqlite3_stmt *st = NULL;
        int64_t rows = 0;
        int rc, n = 0;

        /* The columns and the key of our own schema's table (the names are ours). */
        if (db_prepare(fresh, "SELECT group_concat('\"' || name || '\"', ', '), count(*) FROM pragma_table_info(?1)",
                    &st) < 0)
                return 0;
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
                cols = strdup((const char *)sqlite3_column_text(st, 0));
                n = sqlite3_column_int(st, 1);
        }
        sqlite3_finalize(st);
        if (db_prepare(fresh, "SELECT group_concat(c, ', ') FROM (SELECT '\"' || name || '\" DESC' AS c "
                           "FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk)", &st) < 0)
                return 0;
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                order = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "rowid DESC");
        sqlite3_finalize(st);
        if (!cols || !order || n <= 0)
                return 0;
        if (asprintf(&sql, "INSERT OR IGNORE INTO main.\"%s\" (%s) SELECT %s FROM damaged.\"%s\"", table, cols, cols,
                     table) < 0) {
                sql = NULL;
                return 0;
        }
        /* A transaction per table: damage met in one (SQLite may then refuse the
         * whole transaction) costs that table only. */
        if (db_exec(fresh, "BEGIN") == 0) {
                if (db_exec(fresh, sql) == 0) {
                        rows = sqlite3_changes64(fresh->db);
                        if (db_exec(fresh, "COMMIT") == 0)
                                return rows;
                }
                store_rollback(fresh);
                rows = 0;
        }
        /* Row by row: forward up to the damage, then backward up to it. */
        {
                _cleanup_free_ char *marks = malloc(3 * (size_t)n + 1);

                if (!marks)
                        return rows;
                marks[0] = '\0';
                for (int c = 0; c < n; c++)
                        strcat(marks, c ? ", ?" : "?");
                if (asprintf(&ins, "INSERT OR IGNORE INTO main.\"%s\" (%s) VALUES (%s)", table, cols, marks) < 0) {
                        ins = NULL;
                        return rows;
                }
        }
        ends[0] = "";
        ends[1] = order;
        if (db_exec(fresh, "BEGIN") < 0)
                return 0;
        for (size_t e = 0; e < ELEMENTSOF(ends); e++) {
                _cleanup_free_ char *q = NULL;
                sqlite3_stmt *sel = NULL, *put = NULL;

                if (asprintf(&q, "SELECT %s FROM damaged.\"%s\"%s%s", cols, table, e ? " ORDER BY " : "",
                             ends[e]) < 0) {
                        q = NULL;
                        break;
                }
                if (sqlite3_prepare_v2(fresh->db, q, -1, &sel, NULL) != SQLITE_OK ||
                    sqlite3_prepare_v2(fresh->db, ins, -1, &put, NULL) != SQLITE_OK) {
                        sqlite3_finalize(sel);
                        sqlite3_finalize(put);
                        continue;
                }
                while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
                        for (int c = 0; c < n; c++)
                                sqlite3_bind_value(put, c + 1, sqlite3_column_value(sel, c));
                        if (sqlite3_step(put) == SQLITE_DONE)
                                rows += sqlite3_changes64(fresh->db);
                        sqlite3_reset(put);
                }
                sqlite3_finalize(sel);
                sqlite3_finalize(put);
        }
        if (db_exec(fresh, "COMMIT") < 0) {
                store_rollback(fresh);
                rows = 0;
        }
        return rows;
}

/* Copies what can be read of the database at `from` into fresh (same schema version
 * only: an older one would need its migrations, which its damage may stop). */
static int64_t salvage(struct store *fresh, const char *from)
{
        char uri[PATH_MAX * 3 + 32];
        sqlite3_stmt *st = NULL;
        int64_t rows = 0, v = -1;

        if (path_uri(from, "mode=ro", uri, sizeof(uri)) < 0 || db_prepare(fresh, "ATTACH ?1 AS damaged", &st) < 0)
                return 0;
        sqlite3_bind_text(st, 1, uri, -1, SQLITE_STATIC);
        if (db_step_done(fresh, st) < 0) {
                sqlite3_finalize(st);
                return 0;
        }
        sqlite3_finalize(st);
        if (db_int64(fresh, "PRAGMA damaged.user_version", 0, &v) == 0 && v == store_latest_schema_version() &&
            db_prepare(fresh, "SELECT name FROM main.sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
                           "ORDER BY name", &st) == 0) {
                /* The names first: a table's copy must not run under this statement. */
                char *names[64];
                size_t n = 0;

                while (n < ELEMENTSOF(names) && sqlite3_step(st) == SQLITE_ROW)
                        if ((names[n] = strdup((const char *)sqlite3_column_text(st, 0))))
                                n++;
                sqlite3_finalize(st);
                for (size_t i = 0; i < n; i++) {
                        rows += salvage_table(fresh, names[i]);
                        free(names[i]);
                }
        }
        (void)db_exec(fresh, "DETACH damaged");
        return rows;
}

/* "SQLite format 3\0": the first 16 bytes of every SQLite database. */
static bool looks_like_sqlite(const char *path)
{
        char head[16];
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        bool yes;

        if (fd < 0)
                return false;
        yes = pread_full(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) && memcmp(head, "SQLite format 3", 16) == 0;
        close(fd);
        return yes;
}

/* Sets the damaged database aside and opens a new one in its place with what could be
 * read of it. s->db is open (damage found while running) or closed (at start); a file
 * opened at start must look like an SQLite database to be moved: the path may name
 * anything, and what is not SQLite's is not ours to move. */
static int rebuild(struct store *s, char *aside, size_t asidesz)
{
        char tmp[PATH_MAX + 64], moved[PATH_MAX + 64];
        struct store fresh = { .mode = STORE_RW, .path = tmp };
        struct stat st;
        int r;

        aside[0] = '\0';
        if (!s->db && !looks_like_sqlite(s->path))
                return -EBADMSG;        /* s->errmsg: SQLite's words */
        r = new_name(s, tmp, sizeof(tmp));
        if (r == 0)
                r = open_rw(&fresh, true);
        if (r < 0) {
                errorf(s, "cannot create %s for what is left of the damaged database: %s",
                         tmp, fresh.errmsg[0] ? fresh.errmsg : strerror(-r));
                (void)unlink(tmp);
                return r;
        }
        if (s->db)
                (void)sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
        s->salvaged = salvage(&fresh, s->path);
        close_db(&fresh);       /* checkpoints it and removes its -wal and -shm */
        close_db(s);
        r = move_aside(s->path, "damaged", "", moved, sizeof(moved));
        if (r < 0) {
                errorf(s, "cannot move the damaged %s aside: %s", s->path, strerror(-r));
                (void)unlink(tmp);
                goto reopen;
        }
        snprintf(aside, asidesz, "%s", moved);
        /* Its log goes with it (a forensic copy is the pair); its index is rebuilt from
         * the log by whoever opens it. */
        {
                char wal[PATH_MAX + 8], shm[PATH_MAX + 8], to[PATH_MAX + 80];

                if (file_name(s, F_WAL, wal, sizeof(wal)) == 0 && lstat(wal, &st) == 0 && S_ISREG(st.st_mode)) {
                        if (st.st_size == 0)
                                (void)unlink(wal);
                        else if ((size_t)snprintf(to, sizeof(to), "%s-wal", moved) < sizeof(to))
                                (void)renameat2(AT_FDCWD, wal, AT_FDCWD, to, RENAME_NOREPLACE);
                }
                if (file_name(s, F_SHM, shm, sizeof(shm)) == 0)
                        (void)unlink(shm);
        }
        if (rename(tmp, s->path) < 0) {
                r = -errno;
                errorf(s, "cannot rename %s to %s: %s", tmp, s->path, strerror(-r));
                (void)unlink(tmp);
                goto reopen;
        }
        sync_dir(s->path);
reopen:
        {
                int r2 = open_rw(s, false);

                return r < 0 ? r : r2;
        }
}

const char *store_fault_name(enum store_fault f)
{
        switch (f) {
        case STORE_FAULT_NONE:
                return "no fault";
        case STORE_FAULT_WAL:
                return "its write-ahead log (-wal or -shm) was deleted or replaced while open";
        case STORE_FAULT_DB:
                return "the database file was deleted, moved or replaced while open";
        case STORE_FAULT_DAMAGED:
                return "SQLite found the database damaged";
        case STORE_FAULT_CLOSED:
                return "it is closed after a failed repair";
        }
        return "?";
}

int store_check(struct store *s, struct store_repair *ret)
{
        enum db_file moved = F__MAX;
        bool written = false;
        int r;

        *ret = (struct store_repair){ .fault = STORE_FAULT_NONE };
        if (s->mode != STORE_RW)
                return 0;
        if (s->db && !s->damaged) {
                moved = moved_file(s, &written);
                /* Written behind our back and still sound (another SQLite writer, say):
                 * nothing to repair. Not readable now (locked): looked at again next time. */
                if (moved == F__MAX && written && verify(s) == 0)
                        remember_write(s);
        }
        if (!s->db)
                ret->fault = STORE_FAULT_CLOSED;
        else if (s->damaged)
                ret->fault = STORE_FAULT_DAMAGED;
        else if (moved != F__MAX)
                ret->fault = moved == F_DB ? STORE_FAULT_DB : STORE_FAULT_WAL;
        else
                return 0;

        switch (ret->fault) {
        case STORE_FAULT_WAL:
        case STORE_FAULT_DB:
                store_rollback(s);
                r = checkpoint_all(s);
                if (r == 0 && ret->fault == STORE_FAULT_DB)
                        r = restore_copy(s, ret->aside, sizeof(ret->aside));
                if (r == 0)
                        r = clear_foreign(s, ret->aside, sizeof(ret->aside));
                if (r < 0)
                        return r;
                close_db(s);
                r = open_rw(s, false);
                break;
        case STORE_FAULT_DAMAGED:
                r = rebuild(s, ret->aside, sizeof(ret->aside));
                ret->salvaged = s->salvaged;
                break;
        default:
                r = open_rw(s, false);
                if (r < 0 && s->damaged) {
                        r = rebuild(s, ret->aside, sizeof(ret->aside));
                        ret->salvaged = s->salvaged;
                }
                break;
        }
        ret->repaired = r == 0;
        return r;
}
