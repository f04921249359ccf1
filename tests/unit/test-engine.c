/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for engine: samples in, verdicts and alert events out, on a simulated clock —
 * a leak opens one alert with its evidence, its limit and its kind (from the samples
 * and the agents' reports the engine has already seen), a near limit escalates it once,
 * recovery and the process's end close it; alerts left open by an earlier run are taken
 * over, closed or expired; and the same input gives the same events, whatever the time. */
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

#include "classify.h"
#include "settings.h"
#include "engine.h"
#include "store.h"
#include "util.h"
#include "tmpdir.h"

#define MIB (1024.0 * 1024.0)
/* The simulated clock starts in 2001: nothing the engine says may come from the real one. */
#define T0_MS INT64_C(1000000000000)
#define WINDOW 60.0
#define STEP_MS 500
/* Every verdict and alert event of a test: an open alert is updated at each bucket. */
#define EVENTS_MAX 1024

struct event {
        char kind;                      /* 'v' verdict, 'a' alert, 't' trouble */
        int64_t t_ms;
        int64_t alert_id;
        enum alert_event event;
        char state[16], previous[16];
        char reason[96], kind_text[CLASSIFY_TEXT_MAX];
        const char *limit_kind;
        const char *kind_class;
        bool kind_changed;
        bool first_sites;
        double slope, forecast;
        double scale;                   /* the time scale the evidence is from */
        char ev_reason[96];             /* the evidence's reason: the limit judge's phrase */
        char cause[8], raised_cause[8]; /* the latest evaluation's judge; what it was raised on */
        int64_t raised_t_ms;
        double raised_room_max, latest_room_max, raised_slope;
        double raised_scale, latest_scale;      /* the evidence rows' scale_s */
};

struct fixture {
        char dir[64], path[128];
        struct config cfg;
        struct store *st;
        struct engine *e;
        struct sampler_listener l;
        struct sampler_proc p;
        double room;                    /* what the fake limit leaves, bytes; NAN: no limit */
        unsigned limit_reads;
        double memory_max;              /* the fake cgroup's memory.max, bytes; NAN: none */
        double nofile;                  /* the fake RLIMIT_NOFILE; NAN: unlimited */
        unsigned set_reads;
        struct event ev[EVENTS_MAX];
        size_t n_ev;
        /* The fake JVM's performance data: its old generation grows at jvm_old_rate
         * bytes/s from T0, read at the time of the latest sample. */
        int64_t now_ms;
        double jvm_old_rate;
        unsigned jvm_reads;
};

static double fake_headroom(void *userdata, const struct sampler_proc *p UNUSED, enum detect_kind m, double level,
                            const char **ret_kind)
{
        struct fixture *f = userdata;

        f->limit_reads++;
        if (m != DETECT_MEMORY || isnan(f->room))
                return NAN;
        *ret_kind = "cgroup";
        return isnan(level) ? f->room : f->room - level;
}

static int fake_jvm(void *userdata, const struct sampler_proc *p UNUSED, struct hsperf_jvm *ret)
{
        struct fixture *f = userdata;
        double s = (double)(f->now_ms - T0_MS) / 1000;

        f->jvm_reads++;
        *ret = (struct hsperf_jvm){ .old_used = (int64_t)(50 * MIB + f->jvm_old_rate * s),
                                    .old_capacity = (int64_t)(1024 * MIB), .young_used = (int64_t)(10 * MIB),
                                    .metaspace_used = (int64_t)(20 * MIB), .young_gcs = (int64_t)s,
                                    .old_gcs = (int64_t)(s / 30), .threads = 12 };
        return 0;
}

/* The fake limits: the process alone in a cgroup with memory.max, and RLIMIT_NOFILE. */
static void fake_read(void *userdata, const struct sampler_proc *p UNUSED, const struct sample *smp, enum detect_kind m,
                      struct limit_set *ret)
{
        struct fixture *f = userdata;
        double level;

        f->set_reads++;
        limit_set_init(ret);
        if (!detect_value(smp, m, &level))
                return;
        ret->level = level;
        if (m == DETECT_MEMORY && !isnan(f->memory_max))
                ret->room[LIMIT_MEMORY_MAX] = fmax(f->memory_max - level, 0);
        if (m == DETECT_FDS && !isnan(f->nofile))
                ret->room[LIMIT_NOFILE] = fmax(f->nofile - level, 0);
}

static struct event *add_event(struct fixture *f, char kind)
{
        assert_true(f->n_ev < EVENTS_MAX);
        f->ev[f->n_ev] = (struct event){ .kind = kind };
        return &f->ev[f->n_ev++];
}

static void on_verdict(void *userdata, const struct sampler_proc *p UNUSED, const struct store_verdict *v)
{
        struct event *e = add_event(userdata, 'v');

        e->t_ms = v->t_ms;
        e->alert_id = v->alert_id;
        snprintf(e->state, sizeof(e->state), "%s", v->state);
        snprintf(e->previous, sizeof(e->previous), "%s", v->previous);
        snprintf(e->reason, sizeof(e->reason), "%s", v->ev.reason ? v->ev.reason : "");
        e->slope = v->ev.slope;
}

static void on_alert(void *userdata, const struct sampler_proc *p UNUSED, const struct alert *a)
{
        struct event *e = add_event(userdata, 'a');

        e->t_ms = a->t_ms;
        e->alert_id = a->row.id;
        e->event = a->event;
        snprintf(e->state, sizeof(e->state), "%s", a->row.state);
        snprintf(e->reason, sizeof(e->reason), "%s", a->row.end_reason ? a->row.end_reason : "");
        snprintf(e->kind_text, sizeof(e->kind_text), "%s", a->row.kind ? a->row.kind : "");
        e->limit_kind = a->row.limit_kind;
        e->kind_changed = a->kind_changed;
        e->first_sites = a->first_sites;
        e->kind_class = a->kind_class;
        e->slope = a->row.ev.slope;
        e->forecast = a->row.ev.forecast;
        e->scale = a->row.ev.scale;
        snprintf(e->ev_reason, sizeof(e->ev_reason), "%s", a->row.ev.reason ? a->row.ev.reason : "");
        snprintf(e->cause, sizeof(e->cause), "%s", a->row.latest.cause ? a->row.latest.cause : "");
        snprintf(e->raised_cause, sizeof(e->raised_cause), "%s", a->row.raised.cause ? a->row.raised.cause : "");
        e->raised_t_ms = a->row.raised.t_ms;
        e->raised_room_max = a->row.raised.room[LIMIT_MEMORY_MAX];
        e->raised_slope = a->row.raised.slope;
        e->raised_scale = a->row.raised.scale;
        e->latest_scale = a->row.latest.scale;
        e->latest_room_max = a->row.latest.room[LIMIT_MEMORY_MAX];
}

static void on_trouble(void *userdata, const struct sampler_proc *p UNUSED, int error UNUSED, const char *what)
{
        struct event *e = add_event(userdata, 't');

        snprintf(e->reason, sizeof(e->reason), "%s", what);
}

static void open_engine(struct fixture *f)
{
        struct engine_env env = {
                .store = f->st,
                .boot_id = "boot",
                .limits = { .headroom = fake_headroom, .read = fake_read, .userdata = f },
                .jvm = { .read = fake_jvm, .userdata = f },
                .sink = { .verdict = on_verdict, .alert = on_alert, .trouble = on_trouble, .userdata = f },
        };

        assert_int_equal(engine_new(&env, &f->cfg, &f->e), 0);
        engine_listener(f->e, &f->l);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-engine-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/lw.db", f->dir);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, NULL, 0), 0);
        assert_int_equal(config_defaults(&f->cfg), 0);
        f->cfg.window = WINDOW;
        assert_int_equal(config_add_manual_rule(&f->cfg), 0);
        f->room = NAN;
        f->memory_max = NAN;
        f->nofile = NAN;
        f->p = (struct sampler_proc){ .id = 1, .slot = 0, .pid = 4242, .start_ms = T0_MS, .comm = "leaky",
                                      .cmdline = "leaky --forever", .unit = "", .cgroup = "/test.slice", .uid = 1000,
                                      .rule = 0, .rule_id = 1, .generation = 1, .is_new = true };
        open_engine(f);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        engine_free(f->e);
        store_close(f->st);
        config_free(&f->cfg);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

/* One sample of the process at t_ms: anonymous memory, no swap, a steady descriptor
 * count, file-backed memory flat. */
static void sample_at(struct fixture *f, int64_t t_ms, double anon)
{
        struct sample s = { .t_ms = t_ms };

        sample_set(&s, M_ANON, (int64_t)anon / 1024 * 1024);
        sample_set(&s, M_SWAP, 0);
        sample_set(&s, M_FILE, 20 * 1024 * 1024);
        sample_set(&s, M_SHMEM, 0);
        sample_set(&s, M_FDS, 12);
        f->now_ms = t_ms;
        f->l.sampled(f->l.userdata, &f->p, &s);
}

/* Feeds samples every STEP_MS from `from` (s after T0) to `to`, anonymous memory from
 * base growing at rate bytes/s from `from` on. */
static void feed(struct fixture *f, double from, double to, double base, double rate)
{
        for (int64_t t = (int64_t)(from * 1000); t < (int64_t)(to * 1000); t += STEP_MS)
                sample_at(f, T0_MS + t, base + rate * (double)(t - (int64_t)(from * 1000)) / 1000);
}

/* The first event of that kind (and alert event, unless ev < 0) from index from on; the
 * test fails if there is none. */
static const struct event *find(const struct fixture *f, char kind, int ev, size_t from)
{
        static const struct event none = { .kind = '?' };

        for (size_t i = from; i < f->n_ev; i++)
                if (f->ev[i].kind == kind && (ev < 0 || (int)f->ev[i].event == ev))
                        return &f->ev[i];
        fail_msg("no event '%c' %d among %zu", kind, ev, f->n_ev);
        return &none;
}

static size_t count(const struct fixture *f, char kind, int ev)
{
        size_t n = 0;

        for (size_t i = 0; i < f->n_ev; i++)
                n += f->ev[i].kind == kind && (ev < 0 || (int)f->ev[i].event == ev);
        return n;
}

/* A steady leak of 1 MiB/s opens one alert, with its evidence and the limit in sight; a
 * flat spell of a window closes it as recovered. Every time is the samples' own. */
static void test_leak_opens_and_recovers(void **state)
{
        struct fixture *f = *state;
        const struct event *start, *end, *suspect;
        struct engine_stats st;

        f->room = 64 * 1024 * MIB;      /* far: a forecast, no escalation */
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 200, 100 * MIB, MIB);
        start = find(f, 'a', ALERT_EVENT_START, 0);
        suspect = find(f, 'v', -1, 0);
        assert_string_equal(suspect->state, "suspect");
        assert_true(start->t_ms > T0_MS && start->t_ms < T0_MS + 200 * 1000);
        assert_int_equal(start->alert_id, 1);
        assert_string_equal(start->state, "leaking");
        assert_true(fabs(start->slope - MIB) < 0.1 * MIB);
        assert_non_null(start->limit_kind);
        assert_string_equal(start->limit_kind, "cgroup");
        assert_true(isfinite(start->forecast) && start->forecast > WINDOW);
        /* Without agents the outside data says anonymous memory, and no more. */
        assert_true(start->kind_changed);
        assert_string_equal(start->kind_class, "anonymous");
        assert_non_null(strstr(start->kind_text, "anonymous memory growing"));
        /* The limit was asked per verdict due, not per sample: 400 samples of two
         * metrics, in buckets of 2.5 s (5 samples). */
        assert_true(f->limit_reads > 0 && f->limit_reads <= 2 * 400 / 5);
        engine_get_stats(f->e, &st);
        assert_int_equal(st.open_alerts, 1);
        assert_int_equal(st.alerts, 1);

        /* Flat for two windows: no new floor high for half a window, it has recovered. */
        feed(f, 200, 200 + 2 * WINDOW, 100 * MIB + 200 * MIB, 0);
        end = find(f, 'a', ALERT_EVENT_END, 0);
        assert_int_equal(end->alert_id, 1);
        assert_string_equal(end->state, "recovered");
        assert_true(end->t_ms > T0_MS + 200 * 1000);
        assert_int_equal(count(f, 'a', ALERT_EVENT_START), 1);
        engine_get_stats(f->e, &st);
        assert_int_equal(st.open_alerts, 0);
}

/* With no window pinned, every time scale judges: a leak of 100 %/h of the level,
 * 10 s samples, starting 30 min into a flat life, is alerted within 15 min by the
 * 12-minute scale, and the alert says so; a slow one of 10 %/h in a 3-hour-old process
 * within the hour, by the 45-minute scale. */
static void test_every_scale_by_default(void **state)
{
        struct fixture *f = *state;
        const struct event *start;

        engine_free(f->e);
        f->cfg.window = 0;
        f->cfg.interval = 10;
        open_engine(f);
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        for (int64_t t = 10; t <= 3600; t += 10)
                sample_at(f, T0_MS + t * 1000, 100 * MIB + (t > 1800 ? 100 * MIB * (double)(t - 1800) / 3600 : 0));
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_true(start->t_ms <= T0_MS + (1800 + 900) * 1000);
        assert_true(start->scale == 12 * 60);
        /* The evidence it is raised on names the raising scale too. */
        assert_string_equal(start->raised_cause, "leak");
        assert_true(start->raised_scale == 12 * 60 && start->latest_scale == 12 * 60);

        f->p.id = 2;
        f->p.start_ms = T0_MS + 10 * 3600 * 1000;
        f->n_ev = 0;
        f->l.started(f->l.userdata, &f->p, false, f->p.start_ms);
        for (int64_t t = 10; t <= 5 * 3600; t += 10)
                sample_at(f, f->p.start_ms + t * 1000,
                          300 * MIB + (t > 3 * 3600 ? 300 * MIB * 0.1 * (double)(t - 3 * 3600) / 3600 : 0));
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_true(start->t_ms <= f->p.start_ms + (3 * 3600 + 3600) * 1000);
        assert_true(start->scale == 45 * 60);
        assert_true(start->raised_scale == 45 * 60 && start->latest_scale == 45 * 60);
}

/* A limit that comes close after the alert opened escalates it, once. */
static void test_near_limit_escalates_once(void **state)
{
        struct fixture *f = *state;
        const struct event *start, *esc;

        f->room = 64 * 1024 * MIB;
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 120, 100 * MIB, MIB);
        start = find(f, 'a', ALERT_EVENT_START, 0);
        /* The cgroup's limit is now a few seconds of growth away. */
        f->room = 100 * MIB + 160 * MIB;
        feed(f, 120, 180, 100 * MIB + 120 * MIB, MIB);
        esc = find(f, 'a', ALERT_EVENT_ESCALATE, 0);
        assert_int_equal(esc->alert_id, start->alert_id);
        assert_true(esc->forecast < WINDOW);
        assert_int_equal(count(f, 'a', ALERT_EVENT_ESCALATE), 1);
}

/* What the agents reported names the kind: Python objects piling up, by type. */
static void test_agent_reports_name_the_kind(void **state)
{
        struct fixture *f = *state;
        const struct event *start;

        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        for (int64_t t = 0; t < 200 * 1000; t += STEP_MS) {
                double grown = (double)t / 1000;

                sample_at(f, T0_MS + t, 100 * MIB + MIB * grown);
                if (t % 2000 == 0) {
                        struct agent_report a;

                        agent_report_init(&a);
                        a.agent = AGENT_PYTHON;
                        a.t_ms = T0_MS + t + 1;
                        a.gc_enabled = 0;
                        a.blocks = (int64_t)(100000 + 10000 * grown);
                        a.objects = 500000;
                        a.stride = 1;
                        snprintf(a.types[0].name, sizeof(a.types[0].name), "dict");
                        a.types[0].count = (int64_t)(1000 + 500 * grown);
                        snprintf(a.types[1].name, sizeof(a.types[1].name), "str");
                        a.types[1].count = 5000;
                        a.n_types = 2;
                        engine_agent_report(f->e, f->p.slot, f->p.id, &a);
                        /* A report about another process in the slot is not this one's. */
                        engine_agent_report(f->e, f->p.slot, f->p.id + 1, &a);
                }
        }
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_string_equal(start->kind_class, "python-objects");
        assert_non_null(strstr(start->kind_text, "python objects growing: dict +"));
        assert_non_null(strstr(start->kind_text, "gc disabled"));
        assert_null(strstr(start->kind_text, "str"));
}

/* A Java process's alert is named from its performance data: the old generation that
 * grows with the anonymous memory is the Java heap; one that stays flat leaves the
 * growth to native memory. Only a process whose runtime is java is read. */
static void test_jvm_names_the_kind(void **state)
{
        struct fixture *f = *state;
        const struct event *start;

        f->p.comm = "leaky";
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 200, 100 * MIB, MIB);
        assert_int_equal(f->jvm_reads, 0);
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_string_equal(start->kind_class, "anonymous");

        f->n_ev = 0;
        f->p = (struct sampler_proc){ .id = 2, .slot = 1, .pid = 4343, .start_ms = T0_MS, .comm = "java",
                                      .cmdline = "java -jar app.jar", .unit = "", .cgroup = "" };
        f->jvm_old_rate = 0.9 * MIB;
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 200, 100 * MIB, MIB);
        assert_true(f->jvm_reads > 0);
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_string_equal(start->kind_class, "java-heap");
        assert_non_null(strstr(start->kind_text, "Java heap (old generation) growing: +"));
        assert_non_null(strstr(start->kind_text, "after collections (2 old collections in the window)"));
        assert_non_null(strstr(start->kind_text, "of 1.00 GiB"));

        f->n_ev = 0;
        f->p = (struct sampler_proc){ .id = 3, .slot = 2, .pid = 4444, .start_ms = T0_MS, .comm = "java",
                                      .cmdline = "java -jar app.jar", .unit = "", .cgroup = "" };
        f->jvm_old_rate = 0;
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 200, 100 * MIB, MIB);
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_string_equal(start->kind_class, "java-native");
        assert_non_null(strstr(start->kind_text, "outside the Java heap"));
}

/* A Python report at t_ms; with sites, one site grown by growth bytes. */
static void python_report(struct fixture *f, int64_t t_ms, double grown, int64_t growth)
{
        struct agent_report a;

        agent_report_init(&a);
        a.agent = AGENT_PYTHON;
        a.t_ms = t_ms;
        a.gc_enabled = 1;
        a.blocks = (int64_t)(100000 + 10000 * grown);
        if (growth >= 0) {
                a.version = 2;
                a.traced = a.traced_peak = growth;
                a.n_sites = 1;
                a.sites[0] = (struct agent_site){ .live_bytes = growth, .live_count = 1, .growth = growth,
                                                  .n_frames = 1 };
                a.site_text_len = (size_t)snprintf(a.site_text, sizeof(a.site_text), "app.py:7") + 1;
                a.sites[0].len = (uint16_t)(a.site_text_len - 1);
        }
        engine_agent_report(f->e, f->p.slot, f->p.id, &a);
}

/* Sites are asked for while the memory is suspect and, once it leaks, until its alert
 * names one; never for a process without an agent, nor for one judged ok. */
static void test_sites_asked_on_suspicion(void **state)
{
        struct fixture *f = *state;
        struct engine_proc_state ps;
        bool asked_suspect = false, asked_leaking = false, judged = false;
        int64_t site_from = -1, t;
        size_t judged_at;

        /* Without an agent, never: nobody would answer. */
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        for (t = 0; t < 200 * 1000; t += STEP_MS) {
                sample_at(f, T0_MS + t, 100 * MIB + MIB * (double)t / 1000);
                assert_false(engine_wants_sites(f->e, f->p.slot));
        }
        f->l.ended(f->l.userdata, &f->p, T0_MS + 200 * 1000, "exited");
        assert_false(engine_wants_sites(f->e, f->p.slot));

        f->p.id++;
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        for (t = 0; t < 300 * 1000; t += STEP_MS) {
                double grown = (double)t / 1000;
                bool wants;

                sample_at(f, T0_MS + t, 100 * MIB + MIB * grown);
                if (t % 2000 == 0)
                        python_report(f, T0_MS + t + 1, grown, site_from < 0 ? -1 : (int64_t)(MIB * (t - site_from) / 1000));
                assert_int_equal(engine_proc_state(f->e, f->p.slot, DETECT_MEMORY, &ps), 0);
                wants = engine_wants_sites(f->e, f->p.slot);
                if (ps.status == DETECT_OK)
                        assert_false(wants);
                if (ps.status == DETECT_SUSPECT) {
                        assert_true(wants);
                        asked_suspect = true;
                }
                if (ps.status == DETECT_LEAKING && wants)
                        asked_leaking = true;
                if (ps.status == DETECT_LEAKING && !wants && asked_suspect)
                        judged = true;
                /* The agent answers: it traces from when it is asked. */
                if (wants && site_from < 0)
                        site_from = t;
                if (judged)
                        break;
        }
        assert_true(asked_suspect);
        assert_true(judged);
        (void)asked_leaking;
        assert_non_null(strstr(f->ev[f->n_ev - 1].kind_text, "; growing at app.py:7 ("));
        /* The first event whose kind names the site says so, and no other: the daemon
         * takes the evidence again then, to keep the sites. */
        {
                size_t firsts = 0, first = f->n_ev;

                for (size_t i = 0; i < f->n_ev; i++)
                        if (f->ev[i].first_sites) {
                                firsts++;
                                first = i;
                        }
                assert_int_equal(firsts, 1);
                assert_non_null(strstr(f->ev[first].kind_text, "; growing at app.py:7 ("));
                for (size_t i = 0; i < first; i++)
                        assert_null(strstr(f->ev[i].kind_text, "; growing at "));
        }
        /* Judged, it is traced no more: its reports carry no sites, and the windows
         * after keep the kind the sites gave (without them, what the outside and the
         * blocks say would replace it, and the site would be lost from the alert). */
        judged_at = f->n_ev;
        for (int64_t end = t + 300 * 1000; t < end; t += STEP_MS) {
                sample_at(f, T0_MS + t, 100 * MIB + MIB * (double)t / 1000);
                if (t % 2000 == 0)
                        python_report(f, T0_MS + t + 1, (double)t / 1000, -1);
                assert_false(engine_wants_sites(f->e, f->p.slot));
        }
        assert_true(f->n_ev > judged_at);
        for (size_t i = judged_at; i < f->n_ev; i++)
                assert_non_null(strstr(f->ev[i].kind_text, "; growing at app.py:7 ("));
}

/* The process's end closes its open alert with the sampler's reason and time. */
static void test_end_closes(void **state)
{
        struct fixture *f = *state;
        const struct event *end;

        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 200, 100 * MIB, MIB);
        (void)find(f, 'a', ALERT_EVENT_START, 0);
        f->l.ended(f->l.userdata, &f->p, T0_MS + 200 * 1000, "exited");
        end = find(f, 'a', ALERT_EVENT_END, 0);
        assert_string_equal(end->state, "ended");
        assert_string_equal(end->reason, "exited");
        assert_int_equal(end->t_ms, T0_MS + 200 * 1000);
        /* Samples of the ended process, or of another one in its slot, judge nothing. */
        f->n_ev = 0;
        feed(f, 200, 300, 300 * MIB, MIB);
        assert_int_equal(f->n_ev, 0);
}

/* An earlier run left two alerts open: one process comes back no longer leaking and its
 * alert is closed at the time given; the other never comes back and its alert expires. */
static void test_takes_over_open_alerts(void **state)
{
        struct fixture *f = *state;
        struct store_alert a = { .process_id = 7, .rule_id = 1, .metric = "memory", .state = "leaking",
                                 .start_ms = T0_MS - 3600000, .ev = DETECT_EVIDENCE_NONE, .kind = "native" };
        const struct event *closed, *expired;
        const int64_t now = T0_MS + 5000;

        engine_free(f->e);
        assert_int_equal(store_begin(f->st), 0);
        a.id = 11;
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_ALERT, .alert = a }), 0);
        a.id = 12;
        a.process_id = 8;
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_ALERT, .alert = a }), 0);
        assert_int_equal(store_commit(f->st), 0);
        open_engine(f);

        f->p.id = 7;
        f->p.is_new = false;
        f->l.started(f->l.userdata, &f->p, true, now);
        engine_finish_resume(f->e, now);
        closed = find(f, 'a', ALERT_EVENT_END, 0);
        assert_int_equal(closed->alert_id, 11);
        assert_int_equal(closed->t_ms, now);
        assert_string_equal(closed->reason, "no longer leaking when leakwatchd took over");
        expired = find(f, 'a', ALERT_EVENT_EXPIRE, 0);
        assert_int_equal(expired->alert_id, 12);
        assert_int_equal(expired->t_ms, now);
        assert_false(alert_event_told(ALERT_EVENT_EXPIRE));
        /* New alerts count on from the highest id the database holds. */
        feed(f, 0, 200, 100 * MIB, MIB);
        assert_int_equal(find(f, 'a', ALERT_EVENT_START, 0)->alert_id, 13);
}

/* The same samples give the same events: nothing depends on when the test runs. */
static void test_same_input_same_events(void **state)
{
        struct fixture *f = *state;
        struct event *first = calloc(EVENTS_MAX, sizeof(*first));
        size_t n;

        f->room = 300 * MIB;
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 200, 100 * MIB, MIB);
        feed(f, 200, 300, 300 * MIB, 0);
        n = f->n_ev;
        assert_true(n >= 3);
        assert_non_null(first);
        memcpy(first, f->ev, n * sizeof(*first));

        engine_free(f->e);
        f->n_ev = 0;
        f->room = 300 * MIB;
        open_engine(f);
        usleep(20000);  /* a real clock would have moved on */
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
        feed(f, 0, 200, 100 * MIB, MIB);
        feed(f, 200, 300, 300 * MIB, 0);
        assert_int_equal(f->n_ev, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(f->ev[i].kind, first[i].kind);
                assert_int_equal(f->ev[i].t_ms, first[i].t_ms);
                assert_int_equal(f->ev[i].event, first[i].event);
                assert_string_equal(f->ev[i].state, first[i].state);
                assert_true(f->ev[i].slope == first[i].slope || (isnan(f->ev[i].slope) && isnan(first[i].slope)));
        }
        free(first);
}

/* ---- growth that will reach a limit (lib/nearlimit), at the defaults ---- */

#define LIMIT_STEP_MS 10000             /* the default interval */

/* The detector at its default window, six hours: it cannot prove any leak within these
 * tests, so every alert is the limit judge's. */
static void default_window(struct fixture *f)
{
        f->cfg.window = 6 * 3600.0;
        assert_int_equal(engine_reconfigure(f->e, &f->cfg), 0);
        f->l.started(f->l.userdata, &f->p, false, T0_MS);
}

/* Samples every 10 s from `from` to `to` (seconds after T0) of shape(t). */
static void feed_shape(struct fixture *f, double from, double to, double (*anon)(double), double (*fds)(double))
{
        for (int64_t t = (int64_t)(from * 1000); t < (int64_t)(to * 1000); t += LIMIT_STEP_MS) {
                struct sample s = { .t_ms = T0_MS + t };
                double sec = (double)t / 1000;

                sample_set(&s, M_ANON, (int64_t)anon(sec) / 4096 * 4096);
                sample_set(&s, M_SWAP, 0);
                sample_set(&s, M_FILE, 20 * 1024 * 1024);
                sample_set(&s, M_FDS, fds ? (int64_t)fds(sec) : 12);
                f->l.sampled(f->l.userdata, &f->p, &s);
        }
}

#define ONSET 1800.0

/* Flat at 400 MiB for half an hour, then a leak that reaches 1 GiB in 45 minutes, then
 * (at 60 min, before it does) it stops. */
static double leak_45(double t)
{
        double rate = 624 * MIB / 2700, wobble = (double)((int64_t)t % 70) * 16 * 1024;

        return 400 * MIB + wobble + (t > ONSET ? rate * (fmin(t, ONSET + 3600 * 0.75 - 600) - ONSET) : 0);
}

/* A leak that will reach memory.max within the hour is alerted within 10 minutes of its
 * start, as what it is — before the detector can prove a leak — with the time to the
 * limit, what it was raised on kept apart from later evaluations; when the growth stops
 * the alert ends. */
static void test_limit_alert(void **state)
{
        struct fixture *f = *state;
        const struct event *start, *end;
        unsigned minutes;
        double left;

        f->memory_max = 1024 * MIB;
        default_window(f);
        feed_shape(f, 0, ONSET, leak_45, NULL);
        assert_int_equal(count(f, 'a', -1), 0);
        feed_shape(f, ONSET, ONSET + 600, leak_45, NULL);
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_true(start->t_ms > T0_MS + ONSET * 1000 && start->t_ms <= T0_MS + (ONSET + 600) * 1000);
        assert_string_equal(start->limit_kind, "memory.max");
        assert_string_equal(start->cause, "limit");
        assert_string_equal(start->raised_cause, "limit");
        assert_int_equal(start->raised_t_ms, start->t_ms);
        /* "will reach memory.max in N min", N the minutes truly left, within a fifth. */
        assert_int_equal(sscanf(start->ev_reason, "will reach memory.max in %u min", &minutes), 1);
        left = (ONSET + 2700 - (double)(start->t_ms - T0_MS) / 1000) / 60;
        assert_true(fabs(minutes - left) <= left / 5 + 1);
        assert_true(fabs(start->forecast / 60 - left) <= left / 5 + 1);
        assert_true(start->raised_room_max > 0 && start->raised_room_max < 624 * MIB);
        assert_true(fabs(start->raised_slope - 624 * MIB / 2700) < 624 * MIB / 2700 / 5);

        /* Later evaluations update the latest numbers; what it was raised on is sent once. */
        feed_shape(f, ONSET + 600, ONSET + 2100, leak_45, NULL);
        for (size_t i = 0; i < f->n_ev; i++)
                if (f->ev[i].kind == 'a' && f->ev[i].event != ALERT_EVENT_START)
                        assert_int_equal(f->ev[i].raised_t_ms, 0);
        assert_int_equal(count(f, 'a', ALERT_EVENT_START), 1);
        assert_true(count(f, 'a', ALERT_EVENT_UPDATE) > 0);

        /* Flat from minute 35: two windows with no limit near, and it is over. */
        feed_shape(f, ONSET + 2100, ONSET + 4200, leak_45, NULL);
        end = find(f, 'a', ALERT_EVENT_END, 0);
        assert_string_equal(end->state, "recovered");
        assert_string_equal(end->reason, "no longer heading for a limit");
        /* Its numbers stay those of its latest evaluation, the limit judge's: not the
         * detector's, which had none. */
        assert_true(isfinite(end->slope) && end->slope >= 0);
        assert_string_equal(end->cause, "limit");
        assert_int_equal(count(f, 'a', ALERT_EVENT_START), 1);
}

static double flat_near(double t)
{
        return 1024 * MIB - 6 * MIB + (double)((int64_t)t % 90) * 40 * 1024;
}

static double sawtooth_below(double t)
{
        return 500 * MIB + 450 * MIB * fmod(t, 240) / 240;
}

/* Flat just under the limit, or a collector's sawtooth whose peaks come near it: no alert. */
static void test_no_limit_alert_flat_or_sawtooth(void **state)
{
        struct fixture *f = *state;

        f->memory_max = 1024 * MIB;
        default_window(f);
        feed_shape(f, 0, 3 * 3600, flat_near, NULL);
        f->l.ended(f->l.userdata, &f->p, T0_MS + 3 * 3600 * 1000, "exited");
        f->p.id = 2;
        f->l.started(f->l.userdata, &f->p, false, T0_MS + 3 * 3600 * 1000);
        feed_shape(f, 3 * 3600, 6 * 3600, sawtooth_below, NULL);
        assert_int_equal(count(f, 'a', -1), 0);
        /* The limits were read only for growth, not every bucket. */
        assert_true(f->set_reads < 6 * 3600 / 30 / 4);
}

static double fds_leak(double t)
{
        return 100 + (t > ONSET ? (t - ONSET) / 3 : 0);
}

/* Descriptors toward RLIMIT_NOFILE: "will reach RLIMIT_NOFILE in N min". */
static void test_limit_alert_descriptors(void **state)
{
        struct fixture *f = *state;
        const struct event *start;
        unsigned minutes;

        f->nofile = 1024;
        default_window(f);
        feed_shape(f, 0, ONSET + 600, flat_near, fds_leak);
        start = find(f, 'a', ALERT_EVENT_START, 0);
        assert_string_equal(start->limit_kind, "RLIMIT_NOFILE");
        assert_int_equal(sscanf(start->ev_reason, "will reach RLIMIT_NOFILE in %u min", &minutes), 1);
        /* (1024 - 100) descriptors at 20 a minute: 46 min from the onset. */
        assert_true(minutes >= 30 && minutes <= 46);
}

/* limit-horizon = 0 turns it off. */
static void test_limit_horizon_off(void **state)
{
        struct fixture *f = *state;

        f->memory_max = 1024 * MIB;
        f->cfg.limit_horizon = 0;
        default_window(f);
        feed_shape(f, 0, ONSET + 1200, leak_45, NULL);
        assert_int_equal(count(f, 'a', -1), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_leak_opens_and_recovers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_near_limit_escalates_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_every_scale_by_default, setup, teardown),
                cmocka_unit_test_setup_teardown(test_agent_reports_name_the_kind, setup, teardown),
                cmocka_unit_test_setup_teardown(test_jvm_names_the_kind, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sites_asked_on_suspicion, setup, teardown),
                cmocka_unit_test_setup_teardown(test_end_closes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_takes_over_open_alerts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_same_input_same_events, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_alert, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_limit_alert_flat_or_sawtooth, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_alert_descriptors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_horizon_off, setup, teardown),
        };

        return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
