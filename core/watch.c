/* SPDX-License-Identifier: GPL-2.0-or-later */
/* watch: the loop both programs run — scan, sample, commit, fold, maintain — and the
 * wiring of the modules it drives. */
#include "watch.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "headroom.h"
#include "jvm.h"
#include "host.h"
#include "proc.h"
#include "trace.h"

/* Samples are folded into the per-process table when about this many ticks of them
 * have gathered: each process then gains about one B-tree page per fold. */
#define FOLD_TICKS 64
/* ...but at least this often, so the time-ordered table stays small. */
#define FOLD_MAX_USEC (15 * 60 * USEC_PER_SEC)
/* Retention work (pruning) runs this often; it is incremental, so often is cheap. */
#define MAINTAIN_USEC (10 * 60 * USEC_PER_SEC)
/* While the database refuses writes, the backlog is offered to it again at most this
 * often: each attempt writes the whole backlog before it fails again (a full disk), or
 * waits for a lock up to the busy timeout (another writer), and a tick spent on that is
 * a tick not sampled. Once a second keeps sampling on schedule and still resumes within
 * a second of the database taking writes again. */
#define DB_RETRY_USEC (1 * USEC_PER_SEC)
/* Turns of the watch's own event loop per tick, none of them waiting: each reads up to
 * a batch of agent reports (AGENT_BATCH) or ends a pause of the socket; a few are ample
 * for the handful of processes of a run reporting every couple of seconds. */
#define EVENT_TURNS_MAX 8
/* Rollups are computed for whole minutes only: a fold moves samples before the last one. */
#define FOLD_GRAIN_MS 60000

/* Sites asked for by hand: until a time, for one process (its pid and row). */
struct trace_demand {
        pid_t pid;
        int64_t process_id;
        usec_t until;
};

struct watch {
        struct watch_env env;
        const struct config *cfg;
        int proc_root, cgroup_root, cgroup_v1_root;
        char boot_id[PROC_BOOT_ID_LEN + 1];
        int64_t *rule_ids, *generations;        /* of cfg->rules[], as recorded */
        struct store *store;
        struct writer *writer;
        struct engine *engine;
        struct sampler *sampler;
        struct headroom headroom;
        struct engine_sink sink;        /* the program's, told after recording */
        struct agent *agent;            /* NULL: none asked for, or agent_error */
        int agent_error;
        char agent_path[PATH_MAX];
        sd_event *own_event;            /* the agents' loop when the program has none */
        struct trace *trace;            /* requests for allocation sites; NULL: none */
        int trace_error;
        struct trace_demand *demands;   /* asked for by hand (watch_trace), one per pid */
        size_t n_demands;

        int64_t anchor_ms;
        usec_t anchor_mono;
        usec_t next_tick, next_scan, next_commit, next_fold, next_maintain;
        usec_t next_retry;              /* db_failing: the backlog's next try (DB_RETRY_USEC) */
        bool db_failing;
        uint64_t reported_drops;        /* samples dropped by the time of the last recovery */
        enum store_fault store_fault;   /* being repaired (store_check) */
        char repaired[PATH_MAX + 160];  /* what the last repair did, in words */
        struct sampler_listener engine_listener;        /* the sampler's, through the watch */
        struct watch_cost cost;
};

/* ---- what a tick costs ----
 *
 * The thread's CPU time at the edges of each part of the tick (a handful of clock reads a
 * tick). The engine's share of sampling is timed on the same clock around its calls: a
 * start or an end each time, and one in SAMPLED_EVERY of its samples, counted that many
 * times (the thread's CPU clock is a system call, about as long as the engine's work on
 * a sample; a wall clock would count every preemption on a busy host as detection). One
 * in 64: at 10,000 processes that is still 156 timed samples a tick, and the clock's
 * three reads cost 0.05 µs a sample instead of 0.2.
 * What reading the clock itself costs is measured each time by a read just before and
 * taken off: counted 64 times over, it would otherwise be most of the figure. */

#define SAMPLED_EVERY 64

static uint64_t thread_cpu_ns(void)
{
        struct timespec ts;

        if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
                return 0;
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void timed_started(void *userdata, const struct sampler_proc *p, bool resumed, int64_t now_ms)
{
        struct watch *w = userdata;
        uint64_t t0 = thread_cpu_ns();

        w->engine_listener.started(w->engine_listener.userdata, p, resumed, now_ms);
        w->cost.detect_ns += thread_cpu_ns() - t0;
}

static void timed_sampled(void *userdata, const struct sampler_proc *p, const struct sample *smp)
{
        struct watch *w = userdata;
        uint64_t t0, t1, t2;

        if (w->cost.samples++ % SAMPLED_EVERY) {
                w->engine_listener.sampled(w->engine_listener.userdata, p, smp);
                return;
        }
        t0 = thread_cpu_ns();
        t1 = thread_cpu_ns();
        w->engine_listener.sampled(w->engine_listener.userdata, p, smp);
        t2 = thread_cpu_ns();
        if (t2 - t1 > t1 - t0)
                w->cost.detect_ns += (t2 - t1 - (t1 - t0)) * SAMPLED_EVERY;
}

static void timed_ended(void *userdata, const struct sampler_proc *p, int64_t end_ms, const char *reason)
{
        struct watch *w = userdata;
        uint64_t t0 = thread_cpu_ns();

        w->engine_listener.ended(w->engine_listener.userdata, p, end_ms, reason);
        w->cost.detect_ns += thread_cpu_ns() - t0;
}

static bool timed_attention(void *userdata, const struct sampler_proc *p)
{
        struct watch *w = userdata;

        return w->engine_listener.attention &&
               w->engine_listener.attention(w->engine_listener.userdata, p);
}

const struct watch_cost *watch_cost(const struct watch *w)
{
        return &w->cost;
}

int64_t watch_wall_ms(const struct watch *w, usec_t mono)
{
        return w->anchor_ms + ((int64_t)mono - (int64_t)w->anchor_mono) / (int64_t)USEC_PER_MSEC;
}

static void notice(const struct watch *w, int prio, const char *fmt, ...) PRINTF(3, 4);
static void notice(const struct watch *w, int prio, const char *fmt, ...)
{
        char msg[512];
        va_list ap;

        if (!w->env.notice)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        w->env.notice(w->env.userdata, prio, msg);
}

/* ---- what the engine concludes, and the agents report ---- */

static void on_verdict(void *userdata, const struct sampler_proc *p, const struct store_verdict *v)
{
        struct watch *w = userdata;

        (void)writer_put(w->writer, &(struct store_row){ .kind = STORE_VERDICT, .verdict = *v });
        if (w->sink.verdict)
                w->sink.verdict(w->sink.userdata, p, v);
}

static void on_alert(void *userdata, const struct sampler_proc *p, const struct alert *a)
{
        struct watch *w = userdata;

        if (a->kind_changed)
                (void)writer_put(w->writer, &(struct store_row){
                        .kind = STORE_ALERT_KIND,
                        .alert_kind = { .alert_id = a->row.id, .t_ms = a->t_ms, .cls = a->kind_class,
                                        .agents = a->kind_agents } });
        if (a->event == ALERT_EVENT_EXPIRE)
                /* Its numbers stay those of its last verdict before the stop. */
                (void)writer_put(w->writer, &(struct store_row){
                        .kind = STORE_ALERT_END,
                        .end = { .id = a->row.id, .t_ms = a->row.end_ms, .state = a->row.state,
                                 .reason = a->row.end_reason } });
        else
                (void)writer_put(w->writer, &(struct store_row){ .kind = STORE_ALERT, .alert = a->row });
        if (w->sink.alert)
                w->sink.alert(w->sink.userdata, p, a);
}

static void on_trouble(void *userdata, const struct sampler_proc *p, int error, const char *what)
{
        struct watch *w = userdata;

        if (w->sink.trouble)
                w->sink.trouble(w->sink.userdata, p, error, what);
}

static void on_report(void *userdata, size_t slot, int64_t process_id, const struct agent_report *a)
{
        struct watch *w = userdata;

        (void)writer_put(w->writer, &(struct store_row){ .kind = STORE_AGENT_SAMPLE,
                                                         .agent = { .process_id = process_id, .report = a } });
        engine_agent_report(w->engine, slot, process_id, a);
}

void watch_set_sink(struct watch *w, const struct engine_sink *sink)
{
        w->sink = *sink;
}

/* ---- setting up ---- */

/* What rule i of cfg selects, in words, for its row. */
static void rule_spec(const struct watch *w, const struct config *cfg, size_t i, char *buf, size_t sz)
{
        if (w->env.rule_spec)
                snprintf(buf, sz, "%s", w->env.rule_spec);
        else
                config_rule_spec(&cfg->rules[i], buf, sz);
}

/* Records the rules of cfg; their ids and last generations into *ret_ids, *ret_gens. */
static int register_rules(struct watch *w, const struct config *cfg, int64_t now_ms, int64_t **ret_ids,
                          int64_t **ret_gens)
{
        int64_t *ids = calloc(cfg->n_rules + 1, sizeof(*ids));
        int64_t *gens = calloc(cfg->n_rules + 1, sizeof(*gens));
        int r;

        if (!ids || !gens) {
                free(ids);
                free(gens);
                return -ENOMEM;
        }
        r = store_begin(w->store);
        for (size_t i = 0; r >= 0 && i < cfg->n_rules; i++) {
                char spec[1024];

                rule_spec(w, cfg, i, spec, sizeof(spec));
                r = store_put_rule(w->store, cfg->rules[i].name, spec, now_ms, &ids[i]);
                if (r >= 0)
                        r = store_rule_generation(w->store, ids[i], &gens[i]);
        }
        if (r >= 0)
                r = store_commit(w->store);
        if (r < 0) {
                store_rollback(w->store);
                free(ids);
                free(gens);
                return r;
        }
        *ret_ids = ids;
        *ret_gens = gens;
        return 0;
}

static int open_store(struct watch *w, char *err, size_t errsz)
{
        const char *path = w->cfg->db_path;
        char why[256];
        struct stat st;
        int r;

        /* Appending to someone's database would mix their processes into a run's verdict. */
        if (w->env.new_database && lstat(path, &st) == 0) {
                snprintf(err, errsz, "%s exists (the samples of a run go into a new database)", path);
                return -EEXIST;
        }
        r = store_open(path, STORE_RW, &w->store, why, sizeof(why));
        if (r < 0) {
                snprintf(err, errsz, "cannot open database %s: %s", path, why);
                return r;
        }
        {
                int64_t kept = 0;
                const char *aside = store_set_aside(w->store, &kept);

                if (aside)
                        notice(w, LOG_ERR, "database %s was damaged: moved to %s; %" PRId64 " rows of it kept in a "
                               "new one", path, aside, kept);
        }
        if (w->cfg->max_db_size > 0 && store_set_size_limit(w->store, (int64_t)w->cfg->max_db_size) < 0)
                notice(w, LOG_WARNING, "cannot cap the database size: %s", store_errmsg(w->store));
        return 0;
}

/* Says that the proc root hides processes (hidepid), and names each configured PID it
 * hides: those are unreadable, not absent. */
static void warn_hidden(const struct watch *w)
{
        if (!proc_root_hides(w->proc_root))
                return;
        notice(w, LOG_WARNING, "%s is mounted with hidepid and this process may not see through it "
               "(CAP_SYS_PTRACE): processes of other users are invisible and cannot be watched", w->cfg->proc_root);
        for (size_t i = 0; i < w->cfg->n_rules; i++)
                for (size_t j = 0; j < w->cfg->rules[i].n_pids; j++)
                        if (proc_pid_hidden(w->proc_root, w->cfg->rules[i].pids[j]))
                                notice(w, LOG_WARNING, "rule %s: pid %d runs but is hidden by hidepid: unreadable, "
                                       "not watched", w->cfg->rules[i].name, (int)w->cfg->rules[i].pids[j]);
}

/* Listens for agents in agent_dir; they only add detail, so a failure is kept in
 * agent_error for the program to tell, and the watch goes on without them. */
static void setup_agent(struct watch *w)
{
        struct agent_env aenv;
        sd_event *event = w->env.event;
        int r;

        w->agent_error = -ENOENT;
        if (!w->env.agent_dir)
                return;
        if (!event) {
                r = sd_event_new(&w->own_event);
                if (r < 0) {
                        w->agent_error = r;
                        return;
                }
                event = w->own_event;
        }
        aenv = (struct agent_env){ .event = event, .runtime_dir = w->env.agent_dir, .sampler = w->sampler,
                                   .report = on_report, .userdata = w, .anchor_real_ms = w->anchor_ms,
                                   .anchor_mono = w->anchor_mono };
        r = agent_new(&aenv, w->cfg, &w->agent);
        if (r < 0) {
                w->agent_error = r;
                w->own_event = sd_event_unref(w->own_event);
                return;
        }
        w->agent_error = 0;
        snprintf(w->agent_path, sizeof(w->agent_path), "%s/%s", w->env.agent_dir, AGENT_SOCKET_NAME);
        /* Without it the agents still report; they are only never asked for sites. */
        w->trace_error = trace_new(w->env.agent_dir, &w->trace);
        if (w->trace_error < 0)
                notice(w, LOG_WARNING, "%s/%s: %s; agents will not be asked for allocation sites",
                       w->env.agent_dir, TRACE_DIR_NAME, strerror(-w->trace_error));
}

/* A Java process's performance data, through the watch's proc root. */
static int read_jvm(void *userdata, const struct sampler_proc *p, struct hsperf_jvm *ret)
{
        const struct watch *w = userdata;

        return jvm_read(w->proc_root, p->pid, p->uid, ret);
}

int watch_new(const struct watch_env *env, struct watch **ret, char *err, size_t errsz)
{
        struct sampler_listener listener;
        struct engine_env eenv;
        struct sampler_env senv;
        int64_t btime_ms = 0;
        struct watch *w;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w) {
                snprintf(err, errsz, "out of memory");
                return -ENOMEM;
        }
        w->env = *env;
        w->cfg = env->cfg;
        w->proc_root = w->cgroup_root = w->cgroup_v1_root = -1;
        w->anchor_mono = now_usec(CLOCK_MONOTONIC);
        w->anchor_ms = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);

        w->proc_root = proc_root_open(w->cfg->proc_root);
        if (w->proc_root < 0) {
                r = w->proc_root;
                snprintf(err, errsz, "cannot open proc root %s: %s", w->cfg->proc_root, strerror(-r));
                goto fail;
        }
        r = proc_read_boot_id(w->proc_root, w->boot_id, sizeof(w->boot_id));
        if (r < 0) {
                snprintf(err, errsz, "cannot read the boot id under %s: %s", w->cfg->proc_root, strerror(-r));
                goto fail;
        }
        warn_hidden(w);
        /* Without these, start times and the cgroup's limit are unknown: the detector
         * then measures warm-up from the first sample and forecasts against the host. */
        if (host_boot_time_ms(&btime_ms) < 0)
                notice(w, LOG_WARNING, "cannot read the boot time; process start times will be unknown");
        w->cgroup_root = cgroup_root_open(w->cfg->cgroup_root);
        if (w->cgroup_root < 0)
                notice(w, LOG_INFO, "no cgroup hierarchy at %s (%s): forecasts use the host's memory only",
                       w->cfg->cgroup_root, strerror(-w->cgroup_root));
        /* A legacy or hybrid host keeps memory limits in a v1 hierarchy beside it. */
        w->cgroup_v1_root = headroom_open_v1(w->cgroup_root);

        r = open_store(w, err, errsz);
        if (r < 0)
                goto fail;
        r = register_rules(w, w->cfg, watch_wall_ms(w, w->anchor_mono), &w->rule_ids, &w->generations);
        if (r < 0) {
                struct store_repair sr;

                /* Damage the opening's checks do not read (a page of the free list, met
                 * when the rules' write takes a page) is set aside as damage found at
                 * the opening is, and the rules go into the new file. */
                if (store_check(w->store, &sr) == 0 && sr.fault == STORE_FAULT_DAMAGED) {
                        notice(w, LOG_ERR, "database %s was damaged: moved to %s; %" PRId64 " rows of it kept in "
                               "a new one", w->cfg->db_path, sr.aside, sr.salvaged);
                        r = register_rules(w, w->cfg, watch_wall_ms(w, w->anchor_mono), &w->rule_ids,
                                           &w->generations);
                }
        }
        if (r < 0) {
                snprintf(err, errsz, "cannot record rules in database %s: %s", w->cfg->db_path,
                         store_errmsg(w->store));
                goto fail;
        }
        r = writer_new(w->store, w->cfg->backlog, &w->writer);
        if (r < 0) {
                snprintf(err, errsz, "out of memory");
                goto fail;
        }
        w->headroom = (struct headroom){ .proc_root = w->proc_root, .cgroup_root = w->cgroup_root,
                                         .cgroup_v1_root = w->cgroup_v1_root };
        eenv = (struct engine_env){
                .store = w->store,
                .boot_id = w->boot_id,
                .limits = { .headroom = headroom_left, .read = headroom_read, .userdata = &w->headroom },
                .jvm = { .read = read_jvm, .userdata = w },
                .sink = { .verdict = on_verdict, .alert = on_alert, .trouble = on_trouble, .userdata = w },
        };
        r = engine_new(&eenv, w->cfg, &w->engine);
        if (r < 0) {
                snprintf(err, errsz, "cannot set up detection: %s (%s)", strerror(-r), store_errmsg(w->store));
                goto fail;
        }
        engine_listener(w->engine, &w->engine_listener);
        listener = (struct sampler_listener){
                .started = timed_started,
                .sampled = timed_sampled,
                .ended = timed_ended,
                .attention = timed_attention,
                .userdata = w,
        };
        senv = (struct sampler_env){
                .proc_root = w->proc_root,
                .boot_id = w->boot_id,
                .btime_ms = btime_ms,
                .hz = host_clock_ticks(),
                .self = env->self,
                .store = w->store,
                .writer = w->writer,
                .max_watch = env->max_watch,
                .bpf = env->bpf,
        };
        r = sampler_new(&senv, w->cfg, w->rule_ids, w->generations, &listener, &w->sampler);
        if (r < 0) {
                snprintf(err, errsz, "cannot set up sampling: %s", strerror(-r));
                goto fail;
        }
        setup_agent(w);
        w->next_tick = w->next_scan = w->next_maintain = w->anchor_mono;
        w->next_commit = w->anchor_mono + usec_of(w->cfg->commit_interval);
        w->next_fold = w->anchor_mono + MIN(usec_of(w->cfg->interval) * FOLD_TICKS, FOLD_MAX_USEC);
        *ret = w;
        return 0;
fail:
        watch_free(w);
        return r;
}

void watch_free(struct watch *w)
{
        if (!w)
                return;
        /* The receiver reads the sampler's watched set: it goes first. */
        trace_free(w->trace);
        free(w->demands);
        agent_free(w->agent);
        sd_event_unref(w->own_event);
        sampler_free(w->sampler);
        engine_free(w->engine);
        writer_free(w->writer);
        store_close(w->store);
        safe_close(w->proc_root);
        safe_close(w->cgroup_root);
        safe_close(w->cgroup_v1_root);
        free(w->rule_ids);
        free(w->generations);
        free(w);
}

int watch_resume(struct watch *w, usec_t mono)
{
        int64_t now_ms = watch_wall_ms(w, mono);
        int r;

        r = sampler_resume(w->sampler, now_ms);
        engine_finish_resume(w->engine, now_ms);
        return r;
}

/* ---- the loop ---- */

usec_t watch_next_tick(const struct watch *w)
{
        return w->next_tick;
}

bool watch_db_failing(const struct watch *w)
{
        return w->db_failing;
}

/* After a damaged database was replaced by what could be read of it: the rules and the
 * processes watched now are written again under the ids the watch uses (rows that were
 * read back are left as they are), so what it writes from here on has its rows. */
static void reannounce(struct watch *w, int64_t now_ms)
{
        int r = store_begin(w->store);

        for (size_t i = 0; r >= 0 && i < w->cfg->n_rules; i++) {
                char spec[1024];

                rule_spec(w, w->cfg, i, spec, sizeof(spec));
                r = store_put_rule_id(w->store, w->rule_ids[i], w->cfg->rules[i].name, spec, now_ms);
        }
        if (r >= 0)
                r = store_commit(w->store);
        if (r < 0)
                store_rollback(w->store);
        sampler_put_processes(w->sampler, now_ms);
}

/* Before each commit: are the database's files still the ones the connection holds, and
 * sound? (A deleted -wal would take every commit since the last checkpoint with it.) A
 * repair that must wait (a reader still needs the old log) is tried again at the next
 * commit; one that is done is recorded as a "repaired" event. */
static void check_store(struct watch *w, usec_t mono, struct watch_report *rep)
{
        struct store_repair sr;
        int r;

        r = store_check(w->store, &sr);
        if (sr.fault == STORE_FAULT_NONE)
                return;
        rep->fault = sr.fault;
        rep->fault_first = w->store_fault == STORE_FAULT_NONE;
        w->store_fault = sr.fault;
        if (r < 0) {
                rep->repair_error = r;
                return;
        }
        if (sr.fault == STORE_FAULT_DAMAGED || (sr.fault == STORE_FAULT_CLOSED && sr.aside[0])) {
                snprintf(w->repaired, sizeof(w->repaired), "damaged file moved to %s, %" PRId64 " rows kept",
                         sr.aside, sr.salvaged);
                reannounce(w, watch_wall_ms(w, mono));
        } else if (sr.aside[0]) {
                snprintf(w->repaired, sizeof(w->repaired), "every commit kept; what took its place moved to %s",
                         sr.aside);
        } else {
                snprintf(w->repaired, sizeof(w->repaired), "every commit kept");
        }
        rep->repaired = w->repaired;
        watch_event(w, "repaired", w->repaired);
        w->store_fault = STORE_FAULT_NONE;
}

/* The commit: the store checked first, then the writer's queue. While the database
 * refuses writes, a tick's commit is tried at most every DB_RETRY_USEC; a final one
 * (watch_flush) always is. */
static void commit(struct watch *w, usec_t mono, bool final, struct watch_report *rep)
{
        struct writer_stats ws;
        int r;

        w->next_commit = mono + usec_of(w->cfg->commit_interval);
        check_store(w, mono, rep);
        if (!final && w->db_failing && mono < w->next_retry)
                return;
        r = writer_flush(w->writer);
        rep->committed = true;
        rep->commit_error = r;
        if (r < 0) {
                w->db_failing = true;
                w->next_retry = mono + DB_RETRY_USEC;
                return;
        }
        if (!w->db_failing)
                return;
        writer_get_stats(w->writer, &ws);
        rep->recovered = true;
        rep->dropped = ws.dropped - w->reported_drops;
        if (rep->dropped > 0) {
                char detail[128];

                snprintf(detail, sizeof(detail), "%" PRIu64 " samples dropped: database unwritable", rep->dropped);
                watch_event(w, "dropped", detail);
        }
        w->reported_drops = ws.dropped;
        w->db_failing = false;
}

/* The fold and the retention pass, when due, unless the database refuses writes: a
 * fold rewrites rows, which a full disk would only make fuller. */
static void housekeeping(struct watch *w, usec_t mono, struct watch_report *rep)
{
        int64_t now_ms = watch_wall_ms(w, mono);
        usec_t t0;

        if (w->db_failing)
                return;
        if (mono >= w->next_fold) {
                /* Only whole minutes move, so each minute's rollup is computed once. Said
                 * before it starts: a fold that never ends is told from one not begun. */
                notice(w, LOG_DEBUG, "folding samples older than %" PRId64, now_ms - now_ms % FOLD_GRAIN_MS);
                t0 = now_usec(CLOCK_MONOTONIC);
                rep->folded = true;
                rep->fold_error = store_fold(w->store, now_ms - now_ms % FOLD_GRAIN_MS, &rep->folded_rows);
                rep->housekeeping += now_usec(CLOCK_MONOTONIC) - t0;
                if (w->cost.samples > 0)
                        notice(w, LOG_DEBUG, "CPU per sample so far (%" PRIu64 " samples, %" PRIu64 " ticks): "
                               "scan %.2f µs, read %.2f, detect %.2f, store %.2f, fold %.2f",
                               w->cost.samples, w->cost.ticks,
                               (double)w->cost.scan_ns / 1e3 / (double)w->cost.samples,
                               (double)w->cost.read_ns / 1e3 / (double)w->cost.samples,
                               (double)w->cost.detect_ns / 1e3 / (double)w->cost.samples,
                               (double)w->cost.store_ns / 1e3 / (double)w->cost.samples,
                               (double)w->cost.fold_ns / 1e3 / (double)w->cost.samples);
                w->next_fold = mono + MIN(usec_of(w->cfg->interval) * FOLD_TICKS, FOLD_MAX_USEC);
        }
        if (mono >= w->next_maintain) {
                struct store_retention rt = {
                        .raw_ms = (int64_t)(w->cfg->retention_raw * 1000),
                        .minute_ms = (int64_t)(w->cfg->retention_minute * 1000),
                        .hour_ms = (int64_t)(w->cfg->retention_hour * 1000),
                };
                struct store_maintenance m = { 0 };

                t0 = now_usec(CLOCK_MONOTONIC);
                rep->maintained = true;
                rep->maintain_error = store_maintain(w->store, now_ms, &rt, &m);
                rep->pruned_rows = m.pruned;
                rep->housekeeping += now_usec(CLOCK_MONOTONIC) - t0;
                w->next_maintain = mono + MAINTAIN_USEC;
        }
}

/* ---- allocation sites ---- */

struct wanted {
        const struct watch *w;
        usec_t now;
        pid_t *pids;
        size_t n, cap;
        bool oom;
};

static const struct trace_demand *demand_of(const struct watch *w, const struct sampler_proc *p, usec_t now)
{
        for (size_t i = 0; i < w->n_demands; i++)
                if (w->demands[i].pid == p->pid && w->demands[i].process_id == p->id && w->demands[i].until > now)
                        return &w->demands[i];
        return NULL;
}

static void collect_wanted(void *userdata, const struct sampler_proc *p, const struct sample *last UNUSED)
{
        struct wanted *wt = userdata;

        if (!engine_wants_sites(wt->w->engine, p->slot) && !demand_of(wt->w, p, wt->now))
                return;
        if (wt->n == wt->cap) {
                size_t cap = wt->cap ? wt->cap * 2 : 16;
                pid_t *n = reallocarray(wt->pids, cap, sizeof(*n));

                if (!n) {
                        wt->oom = true;
                        return;
                }
                wt->pids = n;
                wt->cap = cap;
        }
        wt->pids[wt->n++] = p->pid;
}

/* The request files: the processes the engine suspects (until judged) and those asked
 * for by hand, among those watched now (one that ended, or was unwatched, loses its). */
static void sync_trace(struct watch *w, usec_t mono)
{
        struct wanted wt = { .w = w, .now = mono };
        size_t k = 0;

        if (!w->trace)
                return;
        for (size_t i = 0; i < w->n_demands; i++)
                if (w->demands[i].until > mono)
                        w->demands[k++] = w->demands[i];
        w->n_demands = k;
        sampler_for_each(w->sampler, collect_wanted, &wt);
        /* Out of memory: the files stay as they are until a tick that has some. */
        if (!wt.oom)
                (void)trace_sync(w->trace, wt.pids, wt.n);
        free(wt.pids);
}

struct find_pid {
        pid_t pid;
        int64_t id;
};

static void match_pid(void *userdata, const struct sampler_proc *p, const struct sample *last UNUSED)
{
        struct find_pid *f = userdata;

        if (p->pid == f->pid)
                f->id = p->id;
}

int watch_trace(struct watch *w, pid_t pid, double seconds, usec_t mono)
{
        struct find_pid f = { .pid = pid };
        struct trace_demand *d = NULL;

        if (!w->trace)
                return w->trace_error < 0 ? w->trace_error : -EOPNOTSUPP;
        sampler_for_each(w->sampler, match_pid, &f);
        if (!f.id)
                return -ENOENT;
        for (size_t i = 0; i < w->n_demands; i++)
                if (w->demands[i].pid == pid)
                        d = &w->demands[i];
        if (!d) {
                struct trace_demand *n = reallocarray(w->demands, w->n_demands + 1, sizeof(*n));

                if (!n)
                        return -ENOMEM;
                w->demands = n;
                d = &w->demands[w->n_demands++];
        }
        *d = (struct trace_demand){ .pid = pid, .process_id = f.id, .until = mono + usec_of(seconds) };
        sync_trace(w, mono);
        return 0;
}

void watch_tick(struct watch *w, usec_t mono, struct watch_report *ret)
{
        struct watch_report rep = { 0 };
        int64_t now_ms = watch_wall_ms(w, mono);
        uint64_t c0, c1, c2, c3, c4, detect0;
        usec_t finished;

        c0 = thread_cpu_ns();
        headroom_tick(&w->headroom);
        /* Reports that came since the last tick, before the samples they go with. */
        for (int i = 0; w->own_event && i < EVENT_TURNS_MAX; i++)
                if (sd_event_run(w->own_event, 0) <= 0)
                        break;
        if (mono >= w->next_scan) {
                rep.scan_error = sampler_scan(w->sampler, mono, now_ms);
                w->next_scan = mono + usec_of(w->cfg->scan_interval);
        }
        c1 = thread_cpu_ns();
        detect0 = w->cost.detect_ns;
        (void)sampler_tick(w->sampler, mono, now_ms);
        c2 = thread_cpu_ns();
        sync_trace(w, mono);
        if (mono >= w->next_commit)
                commit(w, mono, false, &rep);
        c3 = thread_cpu_ns();
        housekeeping(w, mono, &rep);
        c4 = thread_cpu_ns();
        /* The engine's calls during the scan (a process started) count as detection. */
        w->cost.scan_ns += c1 - c0;
        w->cost.read_ns += (c2 - c1) - MIN(w->cost.detect_ns - detect0, c2 - c1);
        w->cost.store_ns += c3 - c2;
        w->cost.fold_ns += c4 - c3;
        w->cost.ticks++;
        finished = now_usec(CLOCK_MONOTONIC);
        rep.cost = finished - mono;
        rep.work = rep.cost - MIN(rep.housekeeping, rep.cost);
        rep.pace = pace_next(&w->next_tick, usec_of(w->cfg->interval), finished, rep.work);
        if (ret)
                *ret = rep;
}

void watch_flush(struct watch *w, usec_t mono, struct watch_report *ret)
{
        struct watch_report rep = { 0 };

        commit(w, mono, true, &rep);
        if (ret)
                *ret = rep;
}

int watch_write_pending(struct watch *w)
{
        if (w->db_failing)
                return -EAGAIN;
        /* A failure is left for the tick's commit to find again, count and report. */
        return writer_flush(w->writer);
}

void watch_wake(struct watch *w, usec_t mono)
{
        w->next_tick = mono;
}

/* ---- changes ---- */

int watch_reconfigure(struct watch *w, const struct config *cfg, char *err, size_t errsz)
{
        int64_t now_ms = watch_wall_ms(w, now_usec(CLOCK_MONOTONIC));
        int64_t *ids = NULL, *gens = NULL;
        int r;

        r = register_rules(w, cfg, now_ms, &ids, &gens);
        if (r < 0) {
                snprintf(err, errsz, "cannot record rules in the database (%s)", store_errmsg(w->store));
                return r;
        }
        r = sampler_reconfigure(w->sampler, cfg, ids, gens, now_ms);
        if (r < 0) {
                snprintf(err, errsz, "%s", strerror(-r));
                free(ids);
                free(gens);
                return r;
        }
        /* After the sampler: processes it stops watching close their alerts under the
         * old rules. From here on the new configuration is in force. */
        r = engine_reconfigure(w->engine, cfg);
        if (r < 0)
                notice(w, LOG_ERR, "reload: detection keeps the old parameters: %s", strerror(-r));
        agent_reconfigure(w->agent, cfg);
        if (cfg->max_db_size != w->cfg->max_db_size &&
            store_set_size_limit(w->store, (int64_t)cfg->max_db_size) < 0)
                notice(w, LOG_WARNING, "reload: cannot change the database size cap: %s", store_errmsg(w->store));
        free(w->rule_ids);
        free(w->generations);
        w->rule_ids = ids;
        w->generations = gens;
        w->cfg = cfg;
        w->next_scan = 0;
        return 0;
}

int watch_pid(struct watch *w, pid_t pid, const char *rule, double window, bool longer, int64_t *ret_id)
{
        int64_t now_ms = watch_wall_ms(w, now_usec(CLOCK_MONOTONIC)), id = 0;
        size_t slot = 0;
        int r;

        r = sampler_watch_pid(w->sampler, pid, rule, now_ms, &slot, &id);
        if (r < 0)
                return r;
        if (window > 0)
                (void)engine_set_window(w->engine, slot, window, longer, now_ms);
        /* Its children are found by a scan: make the next tick do one, rather than wait
         * for scan-interval (a short job's children may not live that long). */
        w->next_scan = 0;
        if (ret_id)
                *ret_id = id;
        return 0;
}

int watch_unwatch(struct watch *w, pid_t pid)
{
        return sampler_unwatch_pid(w->sampler, pid, watch_wall_ms(w, now_usec(CLOCK_MONOTONIC)));
}

struct watched_pids {
        pid_t *pids;
        size_t n, cap;
        bool oom;
};

static void collect_pid(void *userdata, const struct sampler_proc *p, const struct sample *last UNUSED)
{
        struct watched_pids *wp = userdata;

        if (wp->n == wp->cap) {
                size_t cap = wp->cap ? wp->cap * 2 : 16;
                pid_t *n = reallocarray(wp->pids, cap, sizeof(*n));

                if (!n) {
                        wp->oom = true;
                        return;
                }
                wp->pids = n;
                wp->cap = cap;
        }
        wp->pids[wp->n++] = p->pid;
}

int watch_unwatch_all(struct watch *w)
{
        struct watched_pids wp = { 0 };

        /* Collected first: unwatching changes what sampler_for_each() walks. */
        sampler_for_each(w->sampler, collect_pid, &wp);
        for (size_t i = 0; i < wp.n; i++)
                (void)watch_unwatch(w, wp.pids[i]);
        free(wp.pids);
        return wp.oom ? -ENOMEM : 0;
}

void watch_event(struct watch *w, const char *kind, const char *detail)
{
        struct store_row row = {
                .kind = STORE_EVENT,
                .event = { .t_ms = watch_wall_ms(w, now_usec(CLOCK_MONOTONIC)), .kind = kind, .detail = detail },
        };

        (void)writer_put(w->writer, &row);
}

/* ---- what it holds ---- */

int watch_agent_socket(const struct watch *w, const char **ret_path)
{
        if (!w->agent)
                return w->agent_error;
        *ret_path = w->agent_path;
        return 0;
}

const struct config *watch_config(const struct watch *w)
{
        return w->cfg;
}

struct store *watch_store(struct watch *w)
{
        return w->store;
}

struct writer *watch_writer(struct watch *w)
{
        return w->writer;
}

const struct sampler *watch_sampler(const struct watch *w)
{
        return w->sampler;
}

const struct engine *watch_engine(const struct watch *w)
{
        return w->engine;
}

const struct agent *watch_agent(const struct watch *w)
{
        return w->agent;
}

const char *watch_boot_id(const struct watch *w)
{
        return w->boot_id;
}
