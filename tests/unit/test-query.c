/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for query, the client's read-only questions: over a database written through
 * the daemon's own store API (samples, folds, rollups, retention, alerts), each answer
 * is checked against what was written — filters, latest samples by both paths, series
 * sources in order, floors, alerts with their verdicts and hook runs — and a reader's
 * snapshot holds while a writer commits. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "query.h"
#include "store.h"
#include "util.h"
#include "tmpdir.h"

#define T0 INT64_C(1794999600000)       /* a round time: 60000 and 3600000 divide it */
#define MINUTE INT64_C(60000)
#define HOUR INT64_C(3600000)
#define KIB 1024

struct fixture {
        char dir[64];
        char path[128];
        struct store *st;
        int64_t rule;
};

/* anon of process id at time t, in KiB: a line, so floors and means are known. */
static int64_t anon_kib(int64_t id, int64_t t)
{
        return 1000 * id + (t - T0) / MINUTE;
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

static struct sample mk_sample(int64_t id, int64_t t)
{
        struct sample s = { .t_ms = t };

        sample_set(&s, M_ANON, anon_kib(id, t) * KIB);
        sample_set(&s, M_SWAP, 10 * KIB);
        sample_set(&s, M_RSS, anon_kib(id, t) * KIB + 100 * KIB);
        sample_set(&s, M_FDS, 7);
        sample_set_unknown(&s, G_SMAPS, UNK_SKIPPED);
        return s;
}

static void add_process(struct fixture *f, int64_t id, int32_t pid, const char *comm, const char *unit,
                        int64_t parent)
{
        struct store_process p = {
                .id = id, .pid = pid, .start_ticks = 100 + id, .start_ms = T0 - 1000, .ppid = 1, .uid = 0,
                .comm = comm, .comm_len = strlen(comm), .cmdline = comm, .cmdline_len = strlen(comm), .unit = unit,
                .rule_id = f->rule, .generation = 1, .parent_id = parent, .first_ms = T0,
        };

        snprintf(p.boot_id, sizeof(p.boot_id), "%s", id == 9 ? "old-boot" : "boot-a");
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_PROCESS, .process = p }), 0);
}

/* Three hours of samples a minute for processes 1..3 (3 ends after two hours); a fold
 * before the last ten minutes; retention keeps raw samples for the last 90 minutes
 * and minute rollups for the last two hours. Process 9, of another boot, ended long ago. */
static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct store_retention rt = { .raw_ms = 90 * MINUTE, .minute_ms = 2 * HOUR, .hour_ms = 100 * HOUR };
        char err[256];

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-query-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/lw.db", f->dir);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, err, sizeof(err)), 0);
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put_rule(f->st, "web", "name=web*", T0, &f->rule), 0);
        add_process(f, 1, 100, "web", "web.service", 0);
        add_process(f, 2, 101, "web", "web.service", 1);
        add_process(f, 3, 102, "batch\x1b", NULL, 0);
        add_process(f, 9, 100, "old", NULL, 0);
        for (int64_t t = T0; t < T0 + 3 * HOUR; t += MINUTE)
                for (int64_t id = 1; id <= 3; id++) {
                        struct sample s = mk_sample(id, t);

                        if (id == 3 && t >= T0 + 2 * HOUR)
                                continue;
                        assert_int_equal(put_sample(f->st, id, &s), 0);
                }
        assert_int_equal(end_process(f->st, 3, T0 + 2 * HOUR, "exited"), 0);
        assert_int_equal(end_process(f->st, 9, T0 - HOUR, "reboot"), 0);
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(store_fold(f->st, T0 + 3 * HOUR - 10 * MINUTE, NULL), 0);
        assert_int_equal(store_maintain(f->st, T0 + 3 * HOUR, &rt, NULL), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        store_close(f->st);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static struct query *open_q(struct fixture *f)
{
        struct query *q = NULL;
        char err[256];

        assert_int_equal(query_open(f->path, &q, err, sizeof(err)), 0);
        return q;
}

static void test_open_errors(void **state)
{
        struct fixture *f = *state;
        struct query *q = NULL;
        char path[160], err[256];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/missing.db", f->dir);
        assert_int_equal(query_open(path, &q, err, sizeof(err)), -EACCES);
        assert_null(q);
        snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
        fp = fopen(path, "w");
        assert_non_null(fp);
        for (int i = 0; i < 200; i++)
                fputs("not a database ", fp);
        fclose(fp);
        assert_int_equal(query_open(path, &q, err, sizeof(err)), -EBADMSG);
}

static void test_overview_and_rules(void **state)
{
        struct fixture *f = *state;
        struct query *q = open_q(f);
        struct query_overview o;
        struct query_rule *rules, rule;
        size_t n;
        int64_t t;

        assert_int_equal(query_overview(q, &o), 0);
        assert_int_equal(o.schema, store_latest_schema_version());
        assert_int_equal(o.processes, 4);
        assert_int_equal(o.live, 2);
        assert_int_equal(o.last_ms, T0 + 3 * HOUR - MINUTE);
        assert_int_equal(o.first_ms, T0);
        assert_true(o.db_bytes > 0);
        assert_int_equal(query_newest_ms(q, &t), 0);
        assert_int_equal(t, T0 + 3 * HOUR - MINUTE);
        assert_int_equal(query_rules(q, &rules, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(rules[0].name, "web");
        assert_int_equal(rules[0].processes, 4);
        assert_int_equal(rules[0].live, 2);
        query_rules_free(rules, n);
        assert_int_equal(query_rule_by_name(q, "web", &rule), 0);
        assert_string_equal(rule.spec, "name=web*");
        query_rule_clear(&rule);
        assert_int_equal(query_rule_by_name(q, "nope", &rule), -ENOENT);
        query_close(q);
}

static size_t count(struct query *q, struct query_filter f)
{
        struct query_process *p;
        size_t n;

        assert_int_equal(query_processes(q, &f, &p, &n), 0);
        query_processes_free(p, n);
        return n;
}

static void test_process_filters(void **state)
{
        struct fixture *f = *state;
        struct query *q = open_q(f);
        struct query_process *p;
        size_t n;

        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_ALL }), 4);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_ALL, .live_only = true }), 2);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_PID, .num = 100 }), 2);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_PID, .num = 100, .boot_id = "boot-a" }), 1);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_NAME, .text = "web", .text_len = 3 }), 2);
        /* A name is bytes, compared whole: no pattern, no prefix. */
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_NAME, .text = "we%", .text_len = 3 }), 0);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_NAME, .text = "batch\x1b", .text_len = 6 }), 1);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_UNIT, .text = "web.service", .text_len = 11 }), 2);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_RULE, .num = f->rule }), 4);
        assert_int_equal(count(q, (struct query_filter){ .by = QUERY_ALL, .active_from = T0 + 150 * MINUTE,
                                                        .active_to = T0 + 160 * MINUTE }), 2);
        assert_int_equal(query_processes(q, &(struct query_filter){ .by = QUERY_ID, .num = 3 }, &p, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(p[0].pid, 102);
        assert_int_equal(p[0].comm_len, 6);
        assert_memory_equal(p[0].comm, "batch\x1b", 6);
        assert_int_equal(p[0].end_ms, T0 + 2 * HOUR);
        assert_string_equal(p[0].end_reason, "exited");
        assert_string_equal(p[0].rule, "web");
        assert_null(p[0].unit);
        query_processes_free(p, n);
        query_close(q);
}

static void test_latest_samples_both_paths(void **state)
{
        struct fixture *f = *state;
        struct query *q = open_q(f);
        int64_t few[] = { 3, 1, 42 }, many[12];
        struct sample a[3], b[12];

        /* Few: one by one; the ended process's newest row is in the folded table. */
        assert_int_equal(query_latest_samples(q, few, 3, a), 0);
        assert_int_equal(a[0].t_ms, T0 + 2 * HOUR - MINUTE);
        assert_int_equal(a[1].t_ms, T0 + 3 * HOUR - MINUTE);
        assert_int_equal(a[1].v[M_ANON], anon_kib(1, T0 + 3 * HOUR - MINUTE) * KIB);
        assert_int_equal(a[1].why[G_SMAPS], UNK_SKIPPED);
        assert_false(sample_has(&a[1], M_PSS));
        assert_int_equal(a[2].t_ms, 0);
        /* Many: one pass over the recent table; the same answers. */
        for (int i = 0; i < 12; i++)
                many[i] = i < 3 ? few[i] : 100 + i;
        assert_int_equal(query_latest_samples(q, many, 12, b), 0);
        assert_memory_equal(&a[0], &b[0], sizeof(a[0]));
        assert_memory_equal(&a[1], &b[1], sizeof(a[1]));
        assert_int_equal(b[2].t_ms, 0);
        query_close(q);
}

struct collected {
        int64_t t[400];
        enum query_source src[400];
        double mem[400], mem_min[400];
        bool pss_known[400];
        size_t n;
};

static int collect(const struct query_row *row, void *userdata)
{
        struct collected *c = userdata;

        assert_true(c->n < 400);
        c->t[c->n] = row->t_ms;
        c->src[c->n] = row->source;
        c->mem[c->n] = row->m[QM_MEMORY].v;
        c->mem_min[c->n] = row->m[QM_MEMORY].min;
        c->pss_known[c->n] = row->m[M_PSS].known;
        c->n++;
        return 0;
}

static void test_series_sources(void **state)
{
        struct fixture *f = *state;
        struct query *q = open_q(f);
        struct collected *c = calloc(1, sizeof(*c));

        assert_int_equal(query_series(q, 1, T0, T0 + 3 * HOUR, collect, c), 0);
        /* Hour rollups where minute ones are gone (the first hour), minute rollups up
         * to the raw samples, raw samples for the last 90 minutes: in time order, no
         * overlap. */
        assert_int_equal(c->src[0], QSRC_HOUR);
        assert_int_equal(c->t[0], T0);
        assert_int_equal(c->src[1], QSRC_MINUTE);
        assert_int_equal(c->t[1], T0 + HOUR);
        assert_int_equal(c->src[31], QSRC_RAW);
        assert_int_equal(c->t[31], T0 + 90 * MINUTE);
        assert_int_equal(c->n, 1 + 30 + 90);
        for (size_t i = 1; i < c->n; i++)
                assert_true(c->t[i] > c->t[i - 1]);
        /* memory = anon + swap; an hour bucket's mean and minimum of a line. */
        assert_float_equal(c->mem_min[0], (double)(anon_kib(1, T0) + 10) * KIB, 0.5);
        assert_float_equal(c->mem[0], (double)(anon_kib(1, T0) + 29.5 + 10) * KIB, 0.5);
        assert_float_equal(c->mem[120], (double)(anon_kib(1, T0 + 3 * HOUR - MINUTE) + 10) * KIB, 0.5);
        /* Not read (rate limit) in raw samples; no sample had it in the rollups. */
        assert_false(c->pss_known[120]);
        assert_false(c->pss_known[1]);
        free(c);
        query_close(q);
}

static void test_floors(void **state)
{
        struct fixture *f = *state;
        struct query *q = open_q(f);
        int64_t ids[] = { 1, 3, 2 };
        double fl[3 * 4];

        /* The last hour in four buckets: raw samples, partly still in the recent table. */
        assert_int_equal(query_floors(q, ids, 3, T0 + 2 * HOUR, T0 + 3 * HOUR, 4, fl), 0);
        for (int b = 0; b < 4; b++) {
                assert_float_equal(fl[b], (double)(anon_kib(1, T0 + 2 * HOUR + b * 15 * MINUTE) + 10) * KIB, 0.5);
                assert_true(isnan(fl[4 + b]));
                assert_float_equal(fl[8 + b], (double)(anon_kib(2, T0 + 2 * HOUR + b * 15 * MINUTE) + 10) * KIB, 0.5);
        }
        /* Three hours in two buckets of 90 minutes: judged on rollups (hour, then minute). */
        assert_int_equal(query_floors(q, ids, 1, T0, T0 + 3 * HOUR, 2, fl), 0);
        assert_float_equal(fl[0], (double)(anon_kib(1, T0) + 10) * KIB, 0.5);
        assert_float_equal(fl[1], (double)(anon_kib(1, T0 + 90 * MINUTE) + 10) * KIB, 0.5);
        assert_int_equal(query_floors(q, ids, 1, T0, T0, 2, fl), -EINVAL);
        query_close(q);
}

static void test_alerts_verdicts_hooks(void **state)
{
        struct fixture *f = *state;
        struct store_alert a = {
                .id = 5, .process_id = 1, .rule_id = f->rule, .metric = "memory", .state = "leaking",
                .start_ms = T0 + HOUR,
                .ev = { .slope = 100, .slope_low = 80, .slope_high = 120, .growth = NAN, .growth_rel = NAN,
                        .level = 1e6, .p = 0.001, .forecast = INFINITY, .t_from = NAN, .t_to = NAN, .reason = "r" },
        };
        struct detect_evidence none = DETECT_EVIDENCE_NONE, slope90 = none, slope100 = none;
        struct store_verdict v[4];
        struct store_hook_run h = { .id = 7, .alert_id = 5, .event = "start", .program = "/bin/true",
                                    .start_ms = T0 + HOUR, .end_ms = T0 + HOUR + 5, .exit_code = 0,
                                    .output = "ok\n", .output_len = 3 };
        struct query_alert_filter af = { .open_only = true };
        struct query *q;
        struct query_alert *al;
        struct query_verdict *vs;
        struct query_hook_run *hs;
        struct query_process *p;
        size_t n, nv, nh;

        none.forecast = NAN;
        slope90 = slope100 = none;
        slope90.slope = 90, slope90.slope_low = 70, slope90.slope_high = 110;
        slope100.slope = 100, slope100.slope_low = 80, slope100.slope_high = 120;
        v[0] = (struct store_verdict){ .id = 1, .process_id = 1, .t_ms = T0, .metric = "memory", .state = "ok",
                                       .previous = "ok", .ev = none };
        v[1] = (struct store_verdict){ .id = 2, .process_id = 1, .t_ms = T0 + 30 * MINUTE, .metric = "memory",
                                       .state = "suspect", .previous = "ok", .ev = slope90 };
        v[2] = (struct store_verdict){ .id = 3, .process_id = 1, .alert_id = 5, .t_ms = T0 + HOUR, .metric = "memory",
                                       .state = "leaking", .previous = "suspect", .escalated = true, .ev = slope100 };
        v[3] = (struct store_verdict){ .id = 4, .process_id = 1, .t_ms = T0 + 90 * MINUTE, .metric = "fds",
                                       .state = "suspect", .previous = "ok", .ev = none };

        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_ALERT, .alert = a }), 0);
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_VERDICT, .verdict = v[i] }), 0);
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_HOOK_RUN, .hook_run = h }), 0);
        assert_int_equal(store_commit(f->st), 0);

        q = open_q(f);
        assert_int_equal(query_alerts(q, &af, &al, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(al[0].pid, 100);
        assert_string_equal(al[0].name, "web");
        assert_string_equal(al[0].rule, "web");
        assert_string_equal(al[0].unit, "web.service");
        assert_float_equal(al[0].slope_low, 80, 0);
        assert_true(isnan(al[0].growth));
        assert_true(isnan(al[0].forecast_s));  /* stored as NULL: none */
        assert_int_equal(al[0].end_ms, 0);
        assert_int_equal(query_alert_verdicts(q, &al[0], &vs, &nv), 0);
        assert_int_equal(nv, 3);
        assert_string_equal(vs[0].state, "ok");
        assert_string_equal(vs[2].state, "leaking");
        assert_true(vs[2].escalated);
        assert_int_equal(vs[2].alert_id, 5);
        query_verdicts_free(vs, nv);
        assert_int_equal(query_verdicts(q, 1, "fds", 0, INT64_MAX, &vs, &nv), 0);
        assert_int_equal(nv, 1);
        query_verdicts_free(vs, nv);
        assert_int_equal(query_hook_runs(q, 5, &hs, &nh), 0);
        assert_int_equal(nh, 1);
        assert_string_equal(hs[0].program, "/bin/true");
        assert_int_equal(hs[0].output_len, 3);
        assert_int_equal(hs[0].signal, 0);
        query_hook_runs_free(hs, nh);
        /* The process list carries the latest state per metric and the open alert. */
        assert_int_equal(query_processes(q, &(struct query_filter){ .by = QUERY_ID, .num = 1 }, &p, &nv), 0);
        assert_string_equal(p[0].state_memory, "leaking");
        assert_string_equal(p[0].state_fds, "suspect");
        assert_int_equal(p[0].alert_id, 5);
        query_processes_free(p, nv);
        query_alerts_free(al, n);
        af = (struct query_alert_filter){ .from_ms = T0, .to_ms = T0 + HOUR };
        assert_int_equal(query_alerts(q, &af, &al, &n), 0);
        assert_int_equal(n, 0);
        query_alerts_free(al, n);
        query_close(q);
}

/* What an alert was raised on is written once and stays; its latest evaluation is
 * replaced beside it; an alert with neither (raised before schema 5) has neither. */
static void test_alert_evidence_kept(void **state)
{
        struct fixture *f = *state;
        struct store_alert a = {
                .id = 6, .process_id = 1, .rule_id = f->rule, .metric = "memory", .state = "leaking",
                .start_ms = T0 + HOUR, .ev = DETECT_EVIDENCE_NONE,
        };
        struct store_alert_evidence raised = {
                .t_ms = T0 + HOUR, .cause = "limit", .scale = 480, .slope = 4096, .slope_low = 2048,
                .level = 5e8, .t_from = NAN, .t_to = NAN, .reason = "will reach memory.max in 12 min",
        };
        struct query_alert_evidence ev[2];
        struct query *q;

        for (int k = 0; k < LIMIT__MAX; k++)
                raised.room[k] = NAN;
        raised.room[LIMIT_MEMORY_MAX] = 4096.0 * 720;
        a.raised = a.latest = raised;
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_ALERT, .alert = a }), 0);
        /* Later: growth slowed and the alert recovered; a stray raised record is ignored. */
        a.state = "recovered";
        a.end_ms = T0 + 2 * HOUR;
        a.latest = (struct store_alert_evidence){ .t_ms = T0 + 2 * HOUR, .cause = "leak", .scale = 21600,
                                                  .slope = 1, .slope_low = 0.5, .level = 6e8, .reason = "floor stopped rising" };
        for (int k = 0; k < LIMIT__MAX; k++)
                a.latest.room[k] = NAN;
        a.latest.room[LIMIT_MEMORY_MAX] = 81000;
        a.raised.t_ms = T0 + 2 * HOUR;
        a.raised.reason = "forecast 22h32m";
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_ALERT, .alert = a }), 0);
        a.id = 7;
        a.raised.t_ms = a.latest.t_ms = 0;
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_ALERT, .alert = a }), 0);
        assert_int_equal(store_commit(f->st), 0);

        q = open_q(f);
        assert_int_equal(query_alert_evidence(q, 6, ev), 0);
        assert_true(ev[0].present && ev[1].present);
        assert_int_equal(ev[0].t_ms, T0 + HOUR);
        assert_string_equal(ev[0].cause, "limit");
        assert_string_equal(ev[0].reason, "will reach memory.max in 12 min");
        assert_float_equal(ev[0].slope, 4096, 0);
        assert_float_equal(ev[0].scale, 480, 0);
        assert_float_equal(ev[0].room[LIMIT_MEMORY_MAX], 4096.0 * 720, 0);
        assert_true(isnan(ev[0].room[LIMIT_HOST]));
        assert_int_equal(ev[1].t_ms, T0 + 2 * HOUR);
        assert_string_equal(ev[1].cause, "leak");
        assert_string_equal(ev[1].reason, "floor stopped rising");
        assert_float_equal(ev[1].room[LIMIT_MEMORY_MAX], 81000, 0);
        query_alert_evidence_free(ev);
        assert_int_equal(query_alert_evidence(q, 7, ev), 0);
        assert_false(ev[0].present || ev[1].present);
        query_alert_evidence_free(ev);
        query_close(q);
}

static void test_snapshot_while_writer_commits(void **state)
{
        struct fixture *f = *state;
        struct query *q = open_q(f);
        struct query_overview before, after;
        struct sample s = mk_sample(1, T0 + 3 * HOUR);

        assert_int_equal(query_overview(q, &before), 0);
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(put_sample(f->st, 1, &s), 0);
        add_process(f, 4, 104, "late", NULL, 0);
        assert_int_equal(store_commit(f->st), 0);
        /* The writer was not blocked, and the reader still sees its snapshot. */
        assert_int_equal(query_overview(q, &after), 0);
        assert_int_equal(after.processes, before.processes);
        assert_int_equal(after.last_ms, before.last_ms);
        query_close(q);
        q = open_q(f);
        assert_int_equal(query_overview(q, &after), 0);
        assert_int_equal(after.processes, before.processes + 1);
        assert_int_equal(after.last_ms, T0 + 3 * HOUR);
        query_close(q);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_overview_and_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_process_filters, setup, teardown),
                cmocka_unit_test_setup_teardown(test_latest_samples_both_paths, setup, teardown),
                cmocka_unit_test_setup_teardown(test_series_sources, setup, teardown),
                cmocka_unit_test_setup_teardown(test_floors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_alerts_verdicts_hooks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_alert_evidence_kept, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_while_writer_commits, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
