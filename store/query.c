/* SPDX-License-Identifier: GPL-2.0-or-later */
/* query: the read-only questions the client asks of the database, in SQL.
 *
 * Where the data lives (sql/001-initial.sql, 006, 012): the newest samples sit in
 * sample_batch, a row per commit of every process's samples, until the daemon folds them
 * into sample_block, keyed by process; the fold also writes the minute and hour rollups
 * of the samples it moves, so every folded sample has rollups, and retention later drops
 * raw samples first, then minute rollups. A process's history is therefore: hour
 * rollups, then minute rollups, then raw samples, the finest kept for each stretch, the
 * rule query_series() follows. Lookups by process are keyed range scans; the batches are
 * a fold's worth of time, so questions about many processes read them once, not once
 * per process. */
#include "query.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "detect.h"
#include "util.h"

/* A floor bucket at least this many times as wide as a rollup bucket loses at most a
 * tenth of its width at each edge when judged on whole rollup buckets, which does not
 * change a minimum that matters; it reads a sixth of the rows (at 10 s samples) or
 * fewer. */
#define ROLLUP_FACTOR 10

const char *const query_source_name[3] = { "raw", "minute", "hour" };

/* A query handle is a read-only store in one read transaction. */
struct query {
        struct store *store;
};

const char *query_errmsg(const struct query *q)
{
        return q ? store_errmsg(q->store) : "no error";
}

/* ---- open, close ---- */

int query_open(const char *path, struct query **ret, char *errbuf, size_t errsz)
{
        struct query *q;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        r = store_open(path, STORE_RO, &q->store, errbuf, errsz);
        if (r < 0) {
                free(q);
                return r;
        }
        /* One snapshot for the whole command: the list and the numbers next to it agree
         * even while the daemon commits. */
        r = db_exec(q->store, "BEGIN");
        if (r < 0) {
                if (errbuf && errsz)
                        snprintf(errbuf, errsz, "%s", store_errmsg(q->store));
                store_close(q->store);
                free(q);
                return r;
        }
        *ret = q;
        return 0;
}

void query_close(struct query *q)
{
        if (!q)
                return;
        if (!sqlite3_get_autocommit(q->store->db))
                (void)db_exec(q->store, "COMMIT");
        store_close(q->store);
        free(q);
}

/* ---- metrics ---- */

const char *query_metric_name(int m)
{
        if (m == QM_MEMORY)
                return detect_kind_name[DETECT_MEMORY];
        return m >= 0 && m < M__MAX ? metric_info[m].name : "?";
}

int query_metric_from_name(const char *name)
{
        if (detect_kind_from_name(name) == DETECT_MEMORY)
                return QM_MEMORY;
        return metric_from_name(name);
}

bool query_metric_is_bytes(int m)
{
        return m == QM_MEMORY || (m >= 0 && m < M__MAX && metric_info[m].unit == UNIT_BYTES);
}

bool query_metric_has_rollup(int m)
{
        if (m == QM_MEMORY)
                return true;
        return m >= 0 && m < M__MAX && db_has_rollup((enum metric)m);
}

/* ---- overview, events ---- */

int query_newest_ms(struct query *q, int64_t *ret_ms)
{
        int64_t t = 0;
        int r;

        /* The batches are few (a fold's worth): their end is cheap. When a fold has just
         * moved them all, the folded table is keyed by process: one keyed lookup each. */
        r = db_int64(q->store, "SELECT max(t1) FROM sample_batch", 0, &t);
        if (r >= 0 && t == 0)
                r = db_int64(q->store, "SELECT max((SELECT max(t1) FROM sample_block s WHERE s.process_id = p.id)) "
                                   "FROM process p", 0, &t);
        if (r < 0)
                return r;
        if (t == 0)
                return -ENOENT;
        *ret_ms = t;
        return 0;
}

int query_overview(struct query *q, struct query_overview *ret)
{
        struct query_overview o = { 0 };
        int64_t recent_first = 0;
        sqlite3_stmt *st;
        int r, rc;

        o.schema = store_schema_version(q->store);
        if (o.schema < 0)
                return o.schema;
        r = db_int64(q->store, "SELECT count(*) FROM rule", 0, &o.rules);
        if (r >= 0)
                r = db_int64(q->store, "SELECT count(*) FROM process", 0, &o.processes);
        if (r >= 0)
                r = db_int64(q->store, "SELECT count(*) FROM process WHERE end_ms IS NULL", 0, &o.live);
        if (r >= 0)
                r = db_int64(q->store, "SELECT count(*) FROM alert", 0, &o.alerts);
        if (r >= 0)
                r = db_int64(q->store, "SELECT count(*) FROM alert WHERE end_ms IS NULL", 0, &o.alerts_open);
        if (r >= 0) {
                r = query_newest_ms(q, &o.last_ms);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0)
                r = db_int64(q->store, "SELECT min(t0) FROM sample_batch", 0, &recent_first);
        /* A folded sample always has an hour rollup (the fold writes both), and hour
         * rollups are the last to be pruned, so the oldest hour bucket is the oldest
         * data kept: one keyed lookup per process. */
        if (r >= 0)
                r = db_int64(q->store, "SELECT min((SELECT min(t) FROM rollup r WHERE r.process_id = p.id "
                                   "AND r.res = 3600000)) FROM process p", 0, &o.first_ms);
        if (r < 0)
                return r;
        if (recent_first && (o.first_ms == 0 || recent_first < o.first_ms))
                o.first_ms = recent_first;
        r = store_disk_usage(q->store, &o.db_bytes);
        if (r < 0)
                return r;
        r = db_prepare(q->store, "SELECT boot_id FROM process ORDER BY id DESC LIMIT 1", &st);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                db_column_copy(st, 0, o.boot_id, sizeof(o.boot_id));
        else if (rc != SQLITE_DONE)
                r = db_fail(q->store, rc);
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        *ret = o;
        return 0;
}

void query_events_free(struct query_event *e, size_t n)
{
        for (size_t i = 0; e && i < n; i++) {
                free(e[i].kind);
                free(e[i].detail);
        }
        free(e);
}

static int event_row(sqlite3_stmt *st, void *elem)
{
        struct query_event *e = elem;

        e->id = sqlite3_column_int64(st, 0);
        e->t_ms = sqlite3_column_int64(st, 1);
        if (db_column_str(st, 2, &e->kind, NULL) < 0 || db_column_dup(st, 3, &e->detail, NULL) < 0)
                return -ENOMEM;
        return 0;
}

int query_events(struct query *q, const char *kind, size_t limit, struct query_event **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        void *arr;
        size_t n;
        int r;

        r = db_prepare(q->store, "SELECT id, t, kind, detail FROM daemon_event WHERE ?1 IS NULL OR kind = ?1 "
                       "ORDER BY t DESC, id DESC LIMIT ?2", &st);
        if (r < 0)
                return r;
        if (kind)
                sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
        r = db_collect(q->store, st, sizeof(struct query_event), event_row, &arr, &n);
        if (r < 0) {
                query_events_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

/* ---- rules ---- */

#define RULE_COLUMNS "r.id, r.name, r.spec, r.first_ms, r.last_ms, " \
        "(SELECT count(*) FROM process p WHERE p.rule_id = r.id), " \
        "(SELECT count(*) FROM process p WHERE p.rule_id = r.id AND p.end_ms IS NULL)"

void query_rule_clear(struct query_rule *r)
{
        if (!r)
                return;
        free(r->name);
        free(r->spec);
        r->name = r->spec = NULL;
}

void query_rules_free(struct query_rule *r, size_t n)
{
        for (size_t i = 0; r && i < n; i++)
                query_rule_clear(&r[i]);
        free(r);
}

static int rule_row(sqlite3_stmt *st, void *elem)
{
        struct query_rule *r = elem;

        r->id = sqlite3_column_int64(st, 0);
        r->first_ms = sqlite3_column_int64(st, 3);
        r->last_ms = sqlite3_column_int64(st, 4);
        r->processes = sqlite3_column_int64(st, 5);
        r->live = sqlite3_column_int64(st, 6);
        if (db_column_dup(st, 1, &r->name, NULL) < 0 || db_column_dup(st, 2, &r->spec, NULL) < 0) {
                query_rule_clear(r);
                return -ENOMEM;
        }
        return 0;
}

int query_rules(struct query *q, struct query_rule **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        void *arr;
        size_t n;
        int r;

        r = db_prepare(q->store, "SELECT " RULE_COLUMNS " FROM rule r ORDER BY r.name", &st);
        if (r < 0)
                return r;
        r = db_collect(q->store, st, sizeof(struct query_rule), rule_row, &arr, &n);
        if (r < 0) {
                query_rules_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

int query_rule_newest_ms(struct query *q, int64_t rule_id, int64_t *ret_ms)
{
        sqlite3_stmt *st;
        int64_t t = 0;
        int r;

        r = db_prepare(q->store, "SELECT max(t) FROM rule_sample WHERE rule_id = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rule_id);
        r = db_step_int64(q->store, st, 0, &t);
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        if (t == 0)
                return -ENOENT;
        *ret_ms = t;
        return 0;
}

int query_rule_by_name(struct query *q, const char *name, struct query_rule *ret)
{
        struct query_rule rule = { 0 };
        sqlite3_stmt *st;
        int r, rc;

        r = db_prepare(q->store, "SELECT " RULE_COLUMNS " FROM rule r WHERE r.name = ?1", &st);
        if (r < 0)
                return r;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                r = rule_row(st, &rule);
        else
                r = rc == SQLITE_DONE ? -ENOENT : db_fail(q->store, rc);
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        *ret = rule;
        return 0;
}

/* ---- processes ---- */

void query_process_clear(struct query_process *p)
{
        if (!p)
                return;
        free(p->comm);
        free(p->cmdline);
        free(p->unit);
        free(p->cgroup);
        free(p->rule);
        free(p->end_reason);
        p->comm = p->cmdline = p->unit = p->cgroup = p->rule = p->end_reason = NULL;
}

void query_processes_free(struct query_process *p, size_t n)
{
        for (size_t i = 0; p && i < n; i++)
                query_process_clear(&p[i]);
        free(p);
}

static int process_row(sqlite3_stmt *st, void *elem)
{
        struct query_process *p = elem;

        p->id = sqlite3_column_int64(st, 0);
        db_column_copy(st, 1, p->boot_id, sizeof(p->boot_id));
        p->pid = (int32_t)sqlite3_column_int64(st, 2);
        p->ppid = (int32_t)db_column_or(st, 3, 0);
        p->start_ticks = sqlite3_column_int64(st, 4);
        p->start_ms = db_column_or(st, 5, 0);
        p->uid = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
        p->rule_id = sqlite3_column_int64(st, 11);
        p->generation = sqlite3_column_int64(st, 13);
        p->parent_id = db_column_or(st, 14, 0);
        p->first_ms = sqlite3_column_int64(st, 15);
        p->last_ms = sqlite3_column_int64(st, 16);
        p->end_ms = db_column_or(st, 17, 0);
        db_column_copy(st, 19, p->state_memory, sizeof(p->state_memory));
        db_column_copy(st, 20, p->state_fds, sizeof(p->state_fds));
        p->alert_id = db_column_or(st, 21, 0);
        if (db_column_dup(st, 7, &p->comm, &p->comm_len) < 0 ||
            db_column_dup(st, 8, &p->cmdline, &p->cmdline_len) < 0 ||
            db_column_dup(st, 9, &p->unit, NULL) < 0 || db_column_dup(st, 10, &p->cgroup, NULL) < 0 ||
            db_column_dup(st, 12, &p->rule, NULL) < 0 || db_column_dup(st, 18, &p->end_reason, NULL) < 0)
                goto oom;
        /* NOT NULL in the schema; a rule row pruned under a process is possible. */
        if (!p->comm && !(p->comm = strdup("")))
                goto oom;
        if (!p->cmdline && !(p->cmdline = strdup("")))
                goto oom;
        if (!p->rule && !(p->rule = strdup("")))
                goto oom;
        return 0;
oom:
        query_process_clear(p);
        return -ENOMEM;
}

int query_processes(struct query *q, const struct query_filter *f, struct query_process **ret, size_t *ret_n)
{
        static const char *const by_sql[] = {
                [QUERY_ALL] = "1",
                [QUERY_ID] = "p.id = ?1",
                [QUERY_PID] = "p.pid = ?1",
                [QUERY_NAME] = "p.comm = ?2",
                [QUERY_UNIT] = "p.unit = ?2",
                [QUERY_RULE] = "p.rule_id = ?1",
        };
        sqlite3_stmt *st;
        char sql[2048];
        void *arr;
        size_t n;
        int r;

        if ((unsigned)f->by >= ELEMENTSOF(by_sql))
                return -EINVAL;
        /* Only fixed fragments go into the text; every value is bound. The latest
         * verdicts walk the (process_id, t) index backwards. */
        snprintf(sql, sizeof(sql),
                 "SELECT p.id, p.boot_id, p.pid, p.ppid, p.start_ticks, p.start_ms, p.uid, p.comm, p.cmdline, "
                 "p.unit, p.cgroup, p.rule_id, r.name, p.generation, p.parent_id, p.first_ms, p.last_ms, "
                 "p.end_ms, p.end_reason, "
                 "(SELECT v.state FROM verdict v WHERE v.process_id = p.id AND v.metric = 'memory' "
                 " ORDER BY v.t DESC, v.id DESC LIMIT 1), "
                 "(SELECT v.state FROM verdict v WHERE v.process_id = p.id AND v.metric = 'fds' "
                 " ORDER BY v.t DESC, v.id DESC LIMIT 1), "
                 "(SELECT a.id FROM alert a WHERE a.process_id = p.id AND a.end_ms IS NULL "
                 " ORDER BY a.id DESC LIMIT 1) "
                 "FROM process p LEFT JOIN rule r ON r.id = p.rule_id "
                 "WHERE %s%s%s%s ORDER BY p.id",
                 by_sql[f->by], f->live_only ? " AND p.end_ms IS NULL" : "",
                 f->boot_id ? " AND p.boot_id = ?3" : "",
                 f->active_from && f->active_to ? " AND p.first_ms < ?5 AND (p.end_ms IS NULL OR p.end_ms >= ?4)"
                                                : "");
        r = db_prepare(q->store, sql, &st);
        if (r < 0)
                return r;
        if (f->by == QUERY_ID || f->by == QUERY_PID || f->by == QUERY_RULE)
                sqlite3_bind_int64(st, 1, f->num);
        if (f->by == QUERY_NAME || f->by == QUERY_UNIT)
                sqlite3_bind_text(st, 2, f->text ? f->text : "", f->text ? (int)MIN(f->text_len, (size_t)INT_MAX) : 0,
                                  SQLITE_STATIC);
        if (f->boot_id)
                sqlite3_bind_text(st, 3, f->boot_id, -1, SQLITE_STATIC);
        if (f->active_from && f->active_to) {
                sqlite3_bind_int64(st, 4, f->active_from);
                sqlite3_bind_int64(st, 5, f->active_to);
        }
        r = db_collect(q->store, st, sizeof(struct query_process), process_row, &arr, &n);
        if (r < 0) {
                query_processes_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

struct id_index {
        int64_t id;
        size_t pos;
};

static int cmp_id_index(const void *a, const void *b)
{
        const struct id_index *x = a, *y = b;
        return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorted (id, position) pairs, for mapping rows of a scan back to the caller's order. */
static struct id_index *index_ids(const int64_t *ids, size_t n)
{
        struct id_index *ix = calloc(n ? n : 1, sizeof(*ix));

        if (!ix)
                return NULL;
        for (size_t i = 0; i < n; i++)
                ix[i] = (struct id_index){ .id = ids[i], .pos = i };
        qsort(ix, n, sizeof(*ix), cmp_id_index);
        return ix;
}

static const struct id_index *find_id(const struct id_index *ix, size_t n, int64_t id)
{
        struct id_index key = { .id = id };
        return bsearch(&key, ix, n, sizeof(*ix), cmp_id_index);
}

static int keep_sample(const struct sample *smp, void *userdata)
{
        *(struct sample *)userdata = *smp;
        return 0;
}

/* The first column of a kept statement's row, bound to one value; INT64_MIN for NULL. */
static int db_int64_bound(struct store *s, enum db_stmt id, const char *sql, int64_t a, int64_t *ret)
{
        sqlite3_stmt *st;
        int r;

        r = db_cached(s, id, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, a);
        r = db_step_int64(s, st, INT64_MIN, ret);
        sqlite3_reset(st);
        return r;
}

int query_latest_samples(struct query *q, const int64_t *ids, size_t n, struct sample *ret)
{
        _cleanup_free_ struct id_index *ix = NULL;
        _cleanup_free_ struct sample *out = NULL;
        _cleanup_free_ uint64_t *in = NULL;
        struct db_batches it;
        struct sample smp;
        uint64_t last_in = 0;
        size_t left = n;
        int64_t id;
        int r = 0;

        if (n == 0)
                return 0;
        ix = index_ids(ids, n);
        out = calloc(n, sizeof(*out));
        in = calloc(n, sizeof(*in));
        if (!ix || !out || !in)
                return -ENOMEM;
        /* Newest batch first: the first batch that holds a process holds its newest
         * sample (a batch can hold several, of a commit of several ticks), so a running
         * process is found within its last commit and the walk ends when all are. */
        r = db_batches_open(q->store, INT64_MIN, INT64_MAX, true, &it);
        while (r == 0 && (r = db_batches_next(&it, &id, &smp)) == 1) {
                const struct id_index *hit;

                r = 0;
                /* All found, and the batch the last was found in is read to its end. */
                if (left == 0 && it.seq != last_in)
                        break;
                hit = find_id(ix, n, id);
                if (!hit || (in[hit->pos] && in[hit->pos] != it.seq))
                        continue;
                if (!in[hit->pos]) {
                        in[hit->pos] = last_in = it.seq;
                        left--;
                }
                if (smp.t_ms > out[hit->pos].t_ms)
                        out[hit->pos] = smp;
        }
        db_batches_close(&it);
        if (r < 0)
                return r;
        /* The others (ended, or just folded): the last sample of their newest block. */
        for (size_t i = 0; i < n && r == 0; i++) {
                int64_t last;

                if (out[i].t_ms)
                        continue;
                r = db_int64_bound(q->store, ST_LATEST, "SELECT max(t0) FROM sample_block WHERE process_id = ?1",
                                   ids[i], &last);
                if (r == 0 && last != INT64_MIN)
                        r = db_for_each_folded(q->store, ids[i], last, INT64_MAX, keep_sample, &out[i]);
        }
        if (r < 0)
                return r;
        memcpy(ret, out, n * sizeof(*out));
        return 0;
}

/* ---- series ---- */

/* Fills the "memory" value of a row from anon and swap: unknown if anon is (both come
 * from the same status file); a missing swap reading counts as none swapped. */
static void row_memory(struct query_row *row)
{
        const struct query_value *a = &row->m[M_ANON], *s = &row->m[M_SWAP];
        struct query_value *mem = &row->m[QM_MEMORY];

        if (!a->known) {
                *mem = (struct query_value){ .why = a->why };
                return;
        }
        mem->known = true;
        mem->v = a->v + (s->known ? s->v : 0);
        mem->min = a->min + (s->known ? s->min : 0);
        mem->max = a->max + (s->known ? s->max : 0);
}

static void row_from_sample(const struct sample *smp, struct query_row *row)
{
        *row = (struct query_row){ .t_ms = smp->t_ms, .source = QSRC_RAW, .n = 1 };
        for (int m = 0; m < M__MAX; m++) {
                struct query_value *v = &row->m[m];

                if (sample_has(smp, (enum metric)m)) {
                        v->known = true;
                        v->v = v->min = v->max = (double)smp->v[m];
                } else {
                        v->why = smp->why[metric_info[m].group];
                }
        }
        row_memory(row);
}

struct raw_ctx {
        query_row_cb cb;
        void *userdata;
};

static int raw_row(const struct sample *smp, void *userdata)
{
        struct raw_ctx *c = userdata;
        struct query_row row;

        row_from_sample(smp, &row);
        return c->cb(&row, c->userdata);
}

/* The first time of a process's data of one kind in [from, to), or def if none. */
static int first_sample(const struct sample *smp, void *userdata)
{
        *(int64_t *)userdata = smp->t_ms;
        return 1;
}

/* The time of process_id's first recent sample in [from, to), or def. */
static int first_recent(struct query *q, int64_t process_id, int64_t from, int64_t to, int64_t def, int64_t *ret)
{
        struct db_batches it;
        struct sample smp;
        int64_t id, t = def;
        int r;

        r = db_batches_open(q->store, from, to, false, &it);
        while (r == 0 && (r = db_batches_next(&it, &id, &smp)) == 1) {
                r = 0;
                if (id != process_id || (t != def && smp.t_ms >= t))
                        continue;
                t = smp.t_ms;
        }
        db_batches_close(&it);
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

static int first_raw(struct query *q, int64_t process_id, int64_t from, int64_t to, int64_t def, int64_t *ret)
{
        int64_t t = def;
        int r;

        /* Recent rows are newer than folded ones, so the folded samples answer when they
         * have any in the range. */
        r = db_for_each_folded(q->store, process_id, from, to, first_sample, &t);
        if (r < 0)
                return r;
        if (r == 1) {
                *ret = t;
                return 0;
        }
        return first_recent(q, process_id, from, to, def, ret);
}

static int first_rollup(struct query *q, int64_t process_id, int64_t res, int64_t from, int64_t to, int64_t def,
                        int64_t *ret)
{
        sqlite3_stmt *st;
        int r;

        r = db_cached(q->store, ST_FLOOR_MINUTE_FIRST,
                   "SELECT min(t) FROM rollup WHERE process_id = ?1 AND res = ?2 AND t >= ?3 AND t < ?4", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, res);
        sqlite3_bind_int64(st, 3, from);
        sqlite3_bind_int64(st, 4, to);
        r = db_step_int64(q->store, st, def, ret);
        sqlite3_reset(st);
        return r;
}

/* Where each source takes over for a process in [from, to): hour rollups before
 * *ret_minute (aligned down to the hour), minute rollups from *ret_minute to *ret_raw
 * (aligned down to the minute), raw samples from *ret_raw. */
static int split_sources(struct query *q, int64_t process_id, int64_t from, int64_t to, int64_t *ret_minute,
                         int64_t *ret_raw)
{
        int64_t raw, minute;
        int r;

        r = first_raw(q, process_id, from, to, to, &raw);
        if (r < 0)
                return r;
        r = first_rollup(q, process_id, MINUTE_MS, from, raw, raw, &minute);
        if (r < 0)
                return r;
        *ret_minute = minute;
        *ret_raw = raw;
        return 0;
}

static int64_t align_down(int64_t t, int64_t res)
{
        int64_t m = t % res;
        return m < 0 ? t - m - res : t - m;
}

/* Emits the rollup buckets of width res in [from, to) as rows. */
static int series_rollup(struct query *q, int64_t process_id, int64_t res, int64_t from, int64_t to,
                         query_row_cb cb, void *userdata)
{
        char sql[1024];
        size_t o = 0;
        sqlite3_stmt *st;
        int r, rc;

        if (from >= to)
                return 0;
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, "SELECT t, n");
        for (size_t i = 0; i < DB_N_ROLLUP; i++) {
                const char *c = metric_info[db_rollup_metrics[i]].name;
                o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", %s_min, %s_max, %s_avg", c, c, c);
        }
        snprintf(sql + o, sizeof(sql) - o, " FROM rollup WHERE process_id = ?1 AND res = ?2 AND t >= ?3 AND t < ?4 "
                 "ORDER BY t");
        r = db_prepare(q->store, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, res);
        sqlite3_bind_int64(st, 3, from);
        sqlite3_bind_int64(st, 4, to);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct query_row row = {
                        .t_ms = sqlite3_column_int64(st, 0),
                        .source = res == HOUR_MS ? QSRC_HOUR : QSRC_MINUTE,
                        .n = sqlite3_column_int64(st, 1),
                };

                for (int m = 0; m < M__MAX; m++)
                        row.m[m].why = UNK_ABSENT;
                for (size_t i = 0; i < DB_N_ROLLUP; i++) {
                        int col = 2 + 3 * (int)i;
                        enum metric m = db_rollup_metrics[i];
                        double scale = metric_info[m].unit == UNIT_BYTES ? 1024 : 1;
                        struct query_value *v = &row.m[m];

                        if (sqlite3_column_type(st, col + 2) == SQLITE_NULL) {
                                /* Every sample of the bucket lacked it; the reasons are
                                 * not kept in rollups. */
                                *v = (struct query_value){ .why = UNK_ERROR };
                                continue;
                        }
                        v->known = true;
                        v->min = (double)sqlite3_column_int64(st, col) * scale;
                        v->max = (double)sqlite3_column_int64(st, col + 1) * scale;
                        v->v = sqlite3_column_double(st, col + 2) * scale;
                }
                row_memory(&row);
                r = cb(&row, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(q->store, rc);
        sqlite3_finalize(st);
        return r;
}

int query_series(struct query *q, int64_t process_id, int64_t from_ms, int64_t to_ms, query_row_cb cb,
                 void *userdata)
{
        struct raw_ctx ctx = { .cb = cb, .userdata = userdata };
        int64_t minute, raw;
        int r;

        if (from_ms >= to_ms)
                return 0;
        r = split_sources(q, process_id, from_ms, to_ms, &minute, &raw);
        if (r < 0)
                return r;
        /* A rollup bucket that overlaps the next finer source is left to that source. */
        r = series_rollup(q, process_id, HOUR_MS, from_ms, align_down(minute, HOUR_MS), cb, userdata);
        if (r != 0)
                return r;
        r = series_rollup(q, process_id, MINUTE_MS, minute, align_down(raw, MINUTE_MS), cb, userdata);
        if (r != 0)
                return r;
        return store_for_each_sample(q->store, process_id, raw, to_ms, raw_row, &ctx);
}

int query_rule_series(struct query *q, int64_t rule_id, int64_t from_ms, int64_t to_ms, query_row_cb cb,
                      void *userdata)
{
        char sql[1024];
        size_t o = 0;
        sqlite3_stmt *st;
        int r, rc;

        /* Generations follow each other in time; summing by time merges a tick that two
         * generations share (a restart between two samples). */
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, "SELECT t, sum(nproc)");
        for (int m = 0; m < M__MAX; m++)
                o += (size_t)snprintf(sql + o, sizeof(sql) - o, ", sum(%s)", metric_info[m].name);
        snprintf(sql + o, sizeof(sql) - o, ", max(unknown) FROM rule_sample WHERE rule_id = ?1 AND t >= ?2 AND t < ?3 "
                 "GROUP BY t ORDER BY t");
        r = db_prepare(q->store, sql, &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, rule_id);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct sample smp = { .t_ms = sqlite3_column_int64(st, 0) };
                struct query_row row;

                db_read_metrics(st, 2, &smp);
                row_from_sample(&smp, &row);
                row.nproc = sqlite3_column_int64(st, 1);
                r = cb(&row, userdata);
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(q->store, rc);
        sqlite3_finalize(st);
        return r;
}

/* ---- floors ---- */

struct floors {
        int64_t from, span;
        unsigned nb;
        double *f;                      /* nb floors of one process */
};

static void floor_add(struct floors *fl, int64_t t, double v)
{
        int64_t b;

        if (t < fl->from || t >= fl->from + fl->span || !isfinite(v))
                return;
        /* (t - from) * nb stays far below 2^63: spans are ms over at most centuries. */
        b = (t - fl->from) * (int64_t)fl->nb / fl->span;
        if (isnan(fl->f[b]) || v < fl->f[b])
                fl->f[b] = v;
}

/* Adds the memory column pair (anon, swap) at col of the current row, in KiB. */
static void floor_add_row(struct floors *fl, sqlite3_stmt *st, int tcol, int col)
{
        double v;

        if (sqlite3_column_type(st, col) == SQLITE_NULL)
                return;
        v = (double)sqlite3_column_int64(st, col) * 1024;
        if (sqlite3_column_type(st, col + 1) != SQLITE_NULL)
                v += (double)sqlite3_column_int64(st, col + 1) * 1024;
        floor_add(fl, sqlite3_column_int64(st, tcol), v);
}

static int floors_rollup(struct query *q, struct floors *fl, int64_t process_id, int64_t res, int64_t from,
                         int64_t to)
{
        sqlite3_stmt *st;
        int r = 0, rc;

        if (from >= to)
                return 0;
        r = db_cached(q->store, ST_FLOOR_ROLLUP, "SELECT t, anon_min, swap_min FROM rollup WHERE process_id = ?1 "
                                        "AND res = ?2 AND t >= ?3 AND t < ?4", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, res);
        sqlite3_bind_int64(st, 3, from);
        sqlite3_bind_int64(st, 4, to);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                floor_add_row(fl, st, 0, 1);
        if (rc != SQLITE_DONE)
                r = db_fail(q->store, rc);
        sqlite3_reset(st);
        return r;
}

static int floor_add_sample(const struct sample *smp, void *userdata)
{
        double v;

        if (!sample_has(smp, M_ANON))
                return 0;
        v = (double)smp->v[M_ANON];
        if (sample_has(smp, M_SWAP))
                v += (double)smp->v[M_SWAP];
        floor_add(userdata, smp->t_ms, v);
        return 0;
}

static int floors_raw(struct query *q, struct floors *fl, int64_t process_id, int64_t from, int64_t to)
{
        return db_for_each_folded(q->store, process_id, from, to, floor_add_sample, fl);
}

/* The folded part of one process's floors. *ret_recent_from gets the time from which
 * the recent samples (the batches') count for it. */
static int floors_folded(struct query *q, struct floors *fl, int64_t process_id, int64_t from, int64_t to,
                         int64_t *ret_recent_from)
{
        int64_t width = fl->span / fl->nb, minute, raw;
        int r;

        if (width >= ROLLUP_FACTOR * MINUTE_MS) {
                /* Coarse buckets: the rollups cover every folded sample (the fold writes
                 * them), so raw samples are needed only from the batches. */
                *ret_recent_from = from;
                if (width >= ROLLUP_FACTOR * HOUR_MS)
                        return floors_rollup(q, fl, process_id, HOUR_MS, from, to);
                r = first_rollup(q, process_id, MINUTE_MS, from, to, to, &minute);
                if (r >= 0)
                        r = floors_rollup(q, fl, process_id, HOUR_MS, from, align_down(minute, HOUR_MS));
                if (r >= 0)
                        r = floors_rollup(q, fl, process_id, MINUTE_MS, minute, to);
                return r;
        }
        r = split_sources(q, process_id, from, to, &minute, &raw);
        if (r < 0)
                return r;
        r = floors_rollup(q, fl, process_id, HOUR_MS, from, align_down(minute, HOUR_MS));
        if (r >= 0)
                r = floors_rollup(q, fl, process_id, MINUTE_MS, minute, align_down(raw, MINUTE_MS));
        if (r >= 0)
                r = floors_raw(q, fl, process_id, raw, to);
        *ret_recent_from = raw;
        return r;
}

int query_floors(struct query *q, const int64_t *ids, size_t n_ids, int64_t from_ms, int64_t to_ms,
                 unsigned nb, double *ret)
{
        _cleanup_free_ struct id_index *ix = NULL;
        _cleanup_free_ int64_t *recent_from = NULL;
        _cleanup_free_ double *out = NULL;
        struct db_batches it;
        struct sample smp;
        int64_t id;
        int r = 0;

        if (nb == 0 || to_ms <= from_ms)
                return -EINVAL;
        if (n_ids == 0)
                return 0;
        if (n_ids > SIZE_MAX / nb / sizeof(double))
                return -ENOMEM;
        out = malloc(n_ids * nb * sizeof(double));
        recent_from = calloc(n_ids, sizeof(*recent_from));
        ix = index_ids(ids, n_ids);
        if (!out || !recent_from || !ix)
                return -ENOMEM;
        for (size_t i = 0; i < n_ids * nb; i++)
                out[i] = NAN;
        for (size_t i = 0; i < n_ids; i++) {
                struct floors fl = { .from = from_ms, .span = to_ms - from_ms, .nb = nb, .f = out + i * nb };

                r = floors_folded(q, &fl, ids[i], from_ms, to_ms, &recent_from[i]);
                if (r < 0)
                        return r;
        }
        /* The batches: one walk for every process. */
        r = db_batches_open(q->store, from_ms, to_ms, false, &it);
        while (r == 0 && (r = db_batches_next(&it, &id, &smp)) == 1) {
                const struct id_index *hit = find_id(ix, n_ids, id);
                struct floors fl;

                r = 0;
                if (!hit || smp.t_ms < recent_from[hit->pos])
                        continue;
                fl = (struct floors){ .from = from_ms, .span = to_ms - from_ms, .nb = nb, .f = out + hit->pos * nb };
                floor_add_sample(&smp, &fl);
        }
        db_batches_close(&it);
        if (r < 0)
                return r;
        memcpy(ret, out, n_ids * nb * sizeof(double));
        return 0;
}

/* ---- alerts ---- */

static void alert_clear(struct query_alert *a)
{
        free(a->name);
        free(a->cmdline);
        free(a->unit);
        free(a->rule);
        free(a->metric);
        free(a->state);
        free(a->end_reason);
        free(a->limit_kind);
        free(a->reason);
        free(a->kind);
}

void query_alerts_free(struct query_alert *a, size_t n)
{
        for (size_t i = 0; a && i < n; i++)
                alert_clear(&a[i]);
        free(a);
}

static int alert_row(sqlite3_stmt *st, void *elem)
{
        struct query_alert *a = elem;

        a->id = sqlite3_column_int64(st, 0);
        a->process_id = sqlite3_column_int64(st, 1);
        a->rule_id = sqlite3_column_int64(st, 2);
        a->start_ms = sqlite3_column_int64(st, 5);
        a->end_ms = db_column_or(st, 6, 0);
        a->escalated_ms = db_column_or(st, 8, 0);
        a->slope = db_column_real(st, 9);
        a->slope_low = db_column_real(st, 10);
        a->slope_high = db_column_real(st, 11);
        a->growth = db_column_real(st, 12);
        a->growth_rel = db_column_real(st, 13);
        a->level = db_column_real(st, 14);
        a->p_value = db_column_real(st, 15);
        a->forecast_s = db_column_real(st, 16);
        a->evidence_from = db_column_or(st, 18, 0);
        a->evidence_to = db_column_or(st, 19, 0);
        a->scale_s = db_column_real(st, 28);
        a->pid = (int32_t)db_column_or(st, 22, 0);
        db_column_copy(st, 26, a->boot_id, sizeof(a->boot_id));
        if (db_column_dup(st, 3, &a->metric, NULL) < 0 || db_column_dup(st, 4, &a->state, NULL) < 0 ||
            db_column_dup(st, 7, &a->end_reason, NULL) < 0 || db_column_dup(st, 17, &a->limit_kind, NULL) < 0 ||
            db_column_dup(st, 20, &a->reason, NULL) < 0 || db_column_dup(st, 21, &a->kind, NULL) < 0 ||
            db_column_dup(st, 23, &a->name, &a->name_len) < 0 ||
            db_column_dup(st, 24, &a->cmdline, &a->cmdline_len) < 0 ||
            db_column_dup(st, 25, &a->unit, NULL) < 0 || db_column_dup(st, 27, &a->rule, NULL) < 0)
                goto oom;
        /* The process or rule row may have been pruned before the alert. */
        if ((!a->name && !(a->name = strdup(""))) || (!a->cmdline && !(a->cmdline = strdup(""))) ||
            (!a->rule && !(a->rule = strdup(""))) || (!a->metric && !(a->metric = strdup(""))) ||
            (!a->state && !(a->state = strdup(""))))
                goto oom;
        return 0;
oom:
        alert_clear(a);
        memset(a, 0, sizeof(*a));
        return -ENOMEM;
}

int query_alerts(struct query *q, const struct query_alert_filter *f, struct query_alert **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        char sql[2048];
        void *arr;
        size_t n;
        int r;

        snprintf(sql, sizeof(sql),
                 "SELECT a.id, a.process_id, a.rule_id, a.metric, a.state, a.start_ms, a.end_ms, a.end_reason, "
                 "a.escalated_ms, a.slope, a.slope_low, a.slope_high, a.growth, a.growth_rel, a.level, a.p_value, "
                 "a.forecast_s, a.limit_kind, a.evidence_from, a.evidence_to, a.reason, a.kind, "
                 "p.pid, p.comm, p.cmdline, p.unit, p.boot_id, r.name, %s "
                 "FROM alert a LEFT JOIN process p ON p.id = a.process_id LEFT JOIN rule r ON r.id = a.rule_id "
                 "WHERE 1%s%s%s%s%s ORDER BY a.start_ms DESC, a.id DESC",
                 /* A database the daemon has not upgraded yet (read-only) has no scale_s
                  * before schema 8 (sql/008-scale.sql). */
                 store_schema_version(q->store) < 8 ? "NULL" : "a.scale_s",
                 f->id ? " AND a.id = ?1" : "", f->open_only ? " AND a.end_ms IS NULL" : "",
                 f->process_id ? " AND a.process_id = ?2" : "", f->rule_id ? " AND a.rule_id = ?3" : "",
                 f->from_ms && f->to_ms ? " AND a.start_ms < ?5 AND (a.end_ms IS NULL OR a.end_ms >= ?4)" : "");
        r = db_prepare(q->store, sql, &st);
        if (r < 0)
                return r;
        if (f->id)
                sqlite3_bind_int64(st, 1, f->id);
        if (f->process_id)
                sqlite3_bind_int64(st, 2, f->process_id);
        if (f->rule_id)
                sqlite3_bind_int64(st, 3, f->rule_id);
        if (f->from_ms && f->to_ms) {
                sqlite3_bind_int64(st, 4, f->from_ms);
                sqlite3_bind_int64(st, 5, f->to_ms);
        }
        r = db_collect(q->store, st, sizeof(struct query_alert), alert_row, &arr, &n);
        if (r < 0) {
                query_alerts_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

/* ---- verdicts ---- */

void query_verdicts_free(struct query_verdict *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i].reason);
        free(v);
}

static int verdict_row(sqlite3_stmt *st, void *elem)
{
        struct query_verdict *v = elem;

        v->id = sqlite3_column_int64(st, 0);
        v->process_id = sqlite3_column_int64(st, 1);
        v->alert_id = db_column_or(st, 2, 0);
        v->t_ms = sqlite3_column_int64(st, 3);
        db_column_copy(st, 4, v->metric, sizeof(v->metric));
        db_column_copy(st, 5, v->state, sizeof(v->state));
        db_column_copy(st, 6, v->previous, sizeof(v->previous));
        v->escalated = sqlite3_column_int64(st, 7) != 0;
        v->slope = db_column_real(st, 8);
        v->slope_low = db_column_real(st, 9);
        v->slope_high = db_column_real(st, 10);
        v->growth = db_column_real(st, 11);
        v->growth_rel = db_column_real(st, 12);
        v->level = db_column_real(st, 13);
        v->p_value = db_column_real(st, 14);
        v->forecast_s = db_column_real(st, 15);
        v->evidence_from = db_column_or(st, 16, 0);
        v->evidence_to = db_column_or(st, 17, 0);
        return db_column_dup(st, 18, &v->reason, NULL) < 0 ? -ENOMEM : 0;
}

/* Reads st's rows into *ret and finalizes st. */
static int collect_verdicts(struct query *q, sqlite3_stmt *st, struct query_verdict **ret, size_t *ret_n)
{
        void *arr;
        size_t n;
        int r;

        r = db_collect(q->store, st, sizeof(struct query_verdict), verdict_row, &arr, &n);
        if (r < 0) {
                query_verdicts_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

#define VERDICT_COLUMNS "id, process_id, alert_id, t, metric, state, previous, escalated, slope, slope_low, " \
        "slope_high, growth, growth_rel, level, p_value, forecast_s, evidence_from, evidence_to, reason"

int query_verdicts(struct query *q, int64_t process_id, const char *metric, int64_t from_ms, int64_t to_ms,
                   struct query_verdict **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        int r;

        r = db_prepare(q->store, "SELECT " VERDICT_COLUMNS " FROM verdict WHERE process_id = ?1 AND t >= ?2 AND t < ?3 "
                       "AND (?4 IS NULL OR metric = ?4) ORDER BY t, id", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        if (metric)
                sqlite3_bind_text(st, 4, metric, -1, SQLITE_STATIC);
        return collect_verdicts(q, st, ret, ret_n);
}

int query_alert_verdicts(struct query *q, const struct query_alert *a, struct query_verdict **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        int r;

        /* Walks the (process_id, t) index; the alert_id test catches a verdict the
         * daemon tied to the alert outside that stretch. */
        r = db_prepare(q->store, "SELECT " VERDICT_COLUMNS " FROM verdict WHERE process_id = ?1 AND metric = ?2 AND ("
                       "(t >= coalesce((SELECT max(t) FROM verdict WHERE process_id = ?1 AND metric = ?2 "
                       "AND state = 'ok' AND t < ?3), 0) AND t <= ?4) OR alert_id = ?5) ORDER BY t, id", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, a->process_id);
        sqlite3_bind_text(st, 2, a->metric, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, a->start_ms);
        sqlite3_bind_int64(st, 4, a->end_ms ? a->end_ms : INT64_MAX);
        sqlite3_bind_int64(st, 5, a->id);
        return collect_verdicts(q, st, ret, ret_n);
}

/* ---- hook runs ---- */

void query_hook_runs_free(struct query_hook_run *h, size_t n)
{
        for (size_t i = 0; h && i < n; i++) {
                free(h[i].event);
                free(h[i].program);
                free(h[i].output);
        }
        free(h);
}

static int site_row(sqlite3_stmt *st, void *elem)
{
        struct query_site *x = elem;
        size_t len;
        const char *agent;

        x->t_ms = sqlite3_column_int64(st, 0);
        agent = db_column_text(st, 1, &len);
        str_copy(x->agent, sizeof(x->agent), agent ? agent : "?", agent ? len : 1);
        x->rank = sqlite3_column_int(st, 2);
        x->live_bytes = sqlite3_column_int64(st, 3);
        x->live_count = sqlite3_column_int64(st, 4);
        x->growth = sqlite3_column_int64(st, 5);
        return db_column_str(st, 6, &x->frames, &x->frames_len);
}

int query_sites(struct query *q, int64_t process_id, int64_t from_ms, int64_t to_ms, struct query_site **ret,
                size_t *ret_n)
{
        sqlite3_stmt *st;
        void *arr;
        size_t n;
        int r;

        r = db_prepare(q->store, "SELECT s.t, s.agent, s.rank, s.live_bytes, s.live_count, s.growth, s.frames "
                       "FROM agent_site s JOIN (SELECT agent, max(t) AS t FROM agent_site WHERE process_id = ?1 "
                       "AND t >= ?2 AND t < ?3 GROUP BY agent) n ON n.agent = s.agent AND n.t = s.t "
                       "WHERE s.process_id = ?1 ORDER BY s.agent = 'python' DESC, s.agent, s.rank", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, process_id);
        sqlite3_bind_int64(st, 2, from_ms);
        sqlite3_bind_int64(st, 3, to_ms);
        r = db_collect(q->store, st, sizeof(struct query_site), site_row, &arr, &n);
        if (r < 0) {
                query_sites_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

void query_sites_free(struct query_site *s, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                free(s[i].frames);
        free(s);
}

static int hook_run_row(sqlite3_stmt *st, void *elem)
{
        struct query_hook_run *h = elem;

        h->id = sqlite3_column_int64(st, 0);
        h->alert_id = db_column_or(st, 1, 0);
        h->start_ms = sqlite3_column_int64(st, 4);
        h->end_ms = db_column_or(st, 5, 0);
        h->exit_code = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 6);
        h->signal = sqlite3_column_type(st, 7) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 7);
        h->timed_out = sqlite3_column_int(st, 8) != 0;
        if (db_column_str(st, 2, &h->event, NULL) < 0 || db_column_str(st, 3, &h->program, NULL) < 0 ||
            db_column_dup(st, 9, &h->output, &h->output_len) < 0)
                return -ENOMEM;
        return 0;
}

int query_hook_runs(struct query *q, int64_t alert_id, struct query_hook_run **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        void *arr;
        size_t n;
        int r;

        r = db_prepare(q->store, "SELECT id, alert_id, event, program, start_ms, end_ms, exit_code, signal, timed_out, "
                                 "output "
                       "FROM hook_run WHERE alert_id = ?1 ORDER BY start_ms, id", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, alert_id);
        r = db_collect(q->store, st, sizeof(struct query_hook_run), hook_run_row, &arr, &n);
        if (r < 0) {
                query_hook_runs_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

int query_alert_evidence(struct query *q, int64_t alert_id, struct query_alert_evidence ret[2])
{
        sqlite3_stmt *st;
        int r, rc;

        for (int i = 0; i < 2; i++)
                ret[i] = (struct query_alert_evidence){ .present = false };
        if (store_schema_version(q->store) < 5)
                return 0;
        /* The v1 cgroup limits' rooms came with schema 11: unknown before. */
        r = db_prepare(q->store, store_schema_version(q->store) < 11
                                         ? "SELECT raised, t, cause, scale_s, slope, slope_low, level, evidence_from, "
                                           "evidence_to, reason, room_memory_max, room_memory_high, room_host, "
                                           "room_rlimit_as, room_rlimit_data, room_rlimit_nofile, NULL, NULL "
                                           "FROM alert_evidence WHERE alert_id = ?1"
                                         : "SELECT raised, t, cause, scale_s, slope, slope_low, level, evidence_from, "
                                           "evidence_to, reason, room_memory_max, room_memory_high, room_host, "
                                           "room_rlimit_as, room_rlimit_data, room_rlimit_nofile, room_v1_limit, "
                                           "room_v1_soft_limit FROM alert_evidence WHERE alert_id = ?1",
                       &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, alert_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct query_alert_evidence *e = &ret[sqlite3_column_int(st, 0) ? 0 : 1];
                const char *cause = db_column_text(st, 2, NULL);

                free(e->reason);
                *e = (struct query_alert_evidence){
                        .present = true,
                        .t_ms = sqlite3_column_int64(st, 1),
                        .scale = db_column_real(st, 3),
                        .slope = db_column_real(st, 4),
                        .slope_low = db_column_real(st, 5),
                        .level = db_column_real(st, 6),
                        .evidence_from = db_column_or(st, 7, 0),
                        .evidence_to = db_column_or(st, 8, 0),
                };
                /* The cause is one of two words; anything else (a tampered file) reads as
                 * the detector's. */
                snprintf(e->cause, sizeof(e->cause), "%s", cause && strcmp(cause, "limit") == 0 ? "limit" : "leak");
                for (int k = 0; k < LIMIT__MAX; k++)
                        e->room[k] = db_column_real(st, 10 + k);
                if (db_column_dup(st, 9, &e->reason, NULL) < 0) {
                        r = -ENOMEM;
                        break;
                }
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(q->store, rc);
        sqlite3_finalize(st);
        if (r < 0)
                query_alert_evidence_free(ret);
        return r;
}

void query_alert_evidence_free(struct query_alert_evidence ev[2])
{
        for (int i = 0; i < 2; i++) {
                free(ev[i].reason);
                ev[i].reason = NULL;
        }
}

/* ---- restart decisions ---- */

void query_restarts_free(struct query_restart *x, size_t n)
{
        for (size_t i = 0; x && i < n; i++) {
                free(x[i].unit);
                free(x[i].decision);
                free(x[i].reason);
                free(x[i].detail);
                free(x[i].limit_kind);
        }
        free(x);
}

static int restart_row(sqlite3_stmt *st, void *elem)
{
        struct query_restart *x = elem;

        x->id = sqlite3_column_int64(st, 0);
        x->alert_id = sqlite3_column_int64(st, 1);
        x->t_ms = sqlite3_column_int64(st, 2);
        x->end_ms = db_column_or(st, 3, 0);
        x->forecast = db_column_real(st, 9);
        x->level = db_column_real(st, 10);
        x->slope = db_column_real(st, 11);
        if (db_column_dup(st, 4, &x->unit, NULL) < 0 || db_column_str(st, 5, &x->decision, NULL) < 0 ||
            db_column_str(st, 6, &x->reason, NULL) < 0 || db_column_dup(st, 7, &x->detail, NULL) < 0 ||
            db_column_dup(st, 8, &x->limit_kind, NULL) < 0)
                return -ENOMEM;
        return 0;
}

int query_restarts(struct query *q, int64_t alert_id, struct query_restart **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        void *arr;
        size_t n;
        int r;

        r = db_prepare(q->store, "SELECT id, alert_id, t, end_t, unit, decision, reason, detail, limit_kind, "
                                 "forecast_s, level, slope FROM restart WHERE alert_id = ?1 ORDER BY t, id", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, alert_id);
        r = db_collect(q->store, st, sizeof(struct query_restart), restart_row, &arr, &n);
        if (r < 0) {
                query_restarts_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}

/* ---- evidence bundles ---- */

void query_alert_bundles_free(struct query_bundle *x, size_t n)
{
        for (size_t i = 0; x && i < n; i++) {
                free(x[i].event);
                free(x[i].path);
                free(x[i].note);
        }
        free(x);
}

static int bundle_row(sqlite3_stmt *st, void *elem)
{
        struct query_bundle *x = elem;

        x->alert_id = sqlite3_column_int64(st, 0);
        x->t_ms = sqlite3_column_int64(st, 1);
        x->bytes = sqlite3_column_int64(st, 4);
        x->files = sqlite3_column_int64(st, 5);
        if (db_column_str(st, 2, &x->event, NULL) < 0 || db_column_str(st, 3, &x->path, NULL) < 0 ||
            db_column_dup(st, 6, &x->note, NULL) < 0)
                return -ENOMEM;
        return 0;
}

int query_alert_bundles(struct query *q, int64_t alert_id, struct query_bundle **ret, size_t *ret_n)
{
        sqlite3_stmt *st;
        void *arr;
        size_t n;
        int r;

        r = db_prepare(q->store, "SELECT alert_id, t, event, path, bytes, files, note FROM alert_bundle "
                                 "WHERE alert_id = ?1 ORDER BY t", &st);
        if (r < 0)
                return r;
        sqlite3_bind_int64(st, 1, alert_id);
        r = db_collect(q->store, st, sizeof(struct query_bundle), bundle_row, &arr, &n);
        if (r < 0) {
                query_alert_bundles_free(arr, n);
                return r;
        }
        *ret = arr;
        *ret_n = n;
        return 0;
}
