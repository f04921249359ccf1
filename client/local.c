/* local: the daemon's sampler, engine, writer and agent receiver run in-process for
 * leakwatch run. */
#include "local.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "cgroup.h"
#include "settings.h"
#include "engine.h"
#include "headroom.h"
#include "host.h"
#include "proc.h"
#include "record.h"
#include "sampler.h"
#include "store.h"
#include "writer.h"

/* Commits at most this often: each is a transaction with an fsync, and the run's
 * events are read back from the database, so about once a second is both cheap and
 * prompt. */
#define COMMIT_MIN_SECONDS 1.0
/* Samples are folded into the per-process table about every this many ticks, as the
 * daemon does (FOLD_TICKS in daemon/main.c): it keeps the time-ordered table small on
 * a long run. */
#define FOLD_TICKS 64
/* What the rule's row says it selects, for `leakwatch --db FILE status`. */
#define RULE_SPEC "the command of leakwatch run and its children"
/* Turns of the event loop per tick, none of them waiting: each reads up to a batch of
 * agent reports (AGENT_BATCH) or ends a pause of the socket; a few are ample for the
 * handful of processes of a run reporting every couple of seconds. */
#define EVENT_TURNS_MAX 8

struct local {
        struct config cfg;
        int proc_root, cgroup_root;
        char boot_id[PROC_BOOT_ID_LEN + 1];
        int64_t rule_id, generation;
        struct store *store;
        struct writer *writer;
        struct engine *engine;
        struct headroom headroom;
        struct sampler *sampler;
        sd_event *event;                /* the agent receiver's, turned at each tick */
        struct agent *agent;            /* NULL: none asked for, or agent_error */
        int agent_error;
        char agent_socket[PATH_MAX];

        /* Wall clock anchored once: timestamps follow the monotonic clock, as in the
         * daemon, so a clock step cannot reorder samples. */
        int64_t anchor_ms;
        usec_t anchor_mono;

        usec_t interval, commit_interval;
        usec_t next_tick, next_scan, next_commit;
        unsigned ticks;
};

static int64_t wall_ms(const struct local *l, usec_t mono)
{
        return l->anchor_ms + (int64_t)((mono - l->anchor_mono) / USEC_PER_MSEC);
}

static usec_t usec_of(double seconds)
{
        return (usec_t)llround(seconds * (double)USEC_PER_SEC);
}

static void on_verdict(void *userdata, const struct sampler_proc *p UNUSED, const struct store_verdict *v)
{
        struct local *l = userdata;

        record_verdict(l->writer, v);
}

static void on_alert(void *userdata, const struct sampler_proc *p UNUSED, const struct alert *a)
{
        struct local *l = userdata;

        record_alert(l->writer, a);
}

static void on_report(void *userdata, size_t slot, int64_t process_id, const struct store_agent_sample *a)
{
        struct local *l = userdata;

        record_report(l->writer, process_id, a);
        engine_agent_report(l->engine, slot, process_id, a);
}

static int setup_config(struct local *l, const struct local_opts *o)
{
        char *db;
        int r;

        r = config_defaults(&l->cfg);
        if (r < 0)
                return r;
        db = strdup(o->db_path);
        if (!db)
                return -ENOMEM;
        free(l->cfg.db_path);
        l->cfg.db_path = db;
        l->cfg.interval = o->interval;
        /* A child is picked up within one tick, as a new process is in the daemon. */
        l->cfg.scan_interval = o->interval;
        l->cfg.commit_interval = MAX(o->interval, COMMIT_MIN_SECONDS);
        l->cfg.window = o->window;
        return config_add_manual_rule(&l->cfg);
}

static int open_store(struct local *l, const char *path, char *err, size_t errsz)
{
        struct stat st;
        int r;

        /* A new file only: appending to someone's database would mix their processes
         * into the run's verdict. */
        if (lstat(path, &st) == 0) {
                snprintf(err, errsz, "%s exists (the samples of a run go into a new database)", path);
                return -EEXIST;
        }
        r = store_open(path, STORE_RW, &l->store, err, errsz);
        if (r < 0)
                return r;
        r = store_begin(l->store);
        if (r >= 0)
                r = store_put_rule(l->store, CONFIG_MANUAL_RULE, RULE_SPEC, wall_ms(l, l->anchor_mono), &l->rule_id);
        if (r >= 0)
                r = store_rule_generation(l->store, l->rule_id, &l->generation);
        if (r >= 0)
                r = store_commit(l->store);
        if (r < 0) {
                snprintf(err, errsz, "%s: %s", path, store_errmsg(l->store));
                store_rollback(l->store);
        }
        return r;
}

/* Listens for agents in o->agent_dir; they only add detail, so a failure is kept in
 * l->agent_error for the caller to tell and the run goes on without them. */
static void setup_agent(struct local *l, const struct local_opts *o)
{
        struct agent_env aenv;
        int r;

        l->agent_error = -ENOENT;
        if (!o->agent_dir)
                return;
        r = sd_event_new(&l->event);
        if (r < 0) {
                l->agent_error = r;
                return;
        }
        aenv = (struct agent_env){ .event = l->event, .runtime_dir = o->agent_dir, .sampler = l->sampler,
                                   .report = on_report, .userdata = l, .anchor_real_ms = l->anchor_ms,
                                   .anchor_mono = l->anchor_mono };
        r = agent_new(&aenv, &l->cfg, &l->agent);
        if (r < 0) {
                l->agent_error = r;
                l->event = sd_event_unref(l->event);
                return;
        }
        l->agent_error = 0;
        snprintf(l->agent_socket, sizeof(l->agent_socket), "%s/%s", o->agent_dir, AGENT_SOCKET_NAME);
}

int local_new(const struct local_opts *o, struct local **ret, char *err, size_t errsz)
{
        struct sampler_listener listener;
        struct engine_env eenv;
        struct sampler_env senv;
        struct local *l;
        int64_t btime_ms = 0;
        int r;

        l = calloc(1, sizeof(*l));
        if (!l) {
                snprintf(err, errsz, "out of memory");
                return -ENOMEM;
        }
        l->proc_root = l->cgroup_root = -1;
        l->anchor_mono = now_usec(CLOCK_MONOTONIC);
        l->anchor_ms = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
        r = setup_config(l, o);
        if (r < 0) {
                snprintf(err, errsz, "cannot set up the configuration: %s", strerror(-r));
                goto fail;
        }
        l->proc_root = proc_root_open(l->cfg.proc_root);
        if (l->proc_root < 0) {
                r = l->proc_root;
                snprintf(err, errsz, "cannot open %s: %s", l->cfg.proc_root, strerror(-r));
                goto fail;
        }
        r = proc_read_boot_id(l->proc_root, l->boot_id, sizeof(l->boot_id));
        if (r < 0) {
                snprintf(err, errsz, "cannot read the boot id: %s", strerror(-r));
                goto fail;
        }
        /* Without these, start times and the cgroup's limit are unknown: the detector
         * then measures warm-up from the first sample and forecasts against the host. */
        (void)host_boot_time_ms(&btime_ms);
        l->cgroup_root = cgroup_root_open(l->cfg.cgroup_root);
        r = open_store(l, o->db_path, err, errsz);
        if (r < 0)
                goto fail;
        r = writer_new(l->store, l->cfg.backlog, &l->writer);
        if (r < 0) {
                snprintf(err, errsz, "out of memory");
                goto fail;
        }
        l->headroom = (struct headroom){ .proc_root = l->proc_root, .cgroup_root = l->cgroup_root };
        eenv = (struct engine_env){
                .store = l->store,
                .boot_id = l->boot_id,
                .limits = { .headroom = headroom_left, .userdata = &l->headroom },
                .sink = { .verdict = on_verdict, .alert = on_alert, .userdata = l },
        };
        r = engine_new(&eenv, &l->cfg, &l->engine);
        if (r < 0) {
                snprintf(err, errsz, "cannot set up detection: %s", strerror(-r));
                goto fail;
        }
        engine_listener(l->engine, &listener);
        senv = (struct sampler_env){
                .proc_root = l->proc_root,
                .boot_id = l->boot_id,
                .btime_ms = btime_ms,
                .hz = host_clock_ticks(),
                /* The daemon keeps itself and its children (hooks) out; here the child
                 * is the point. No process has PID -1, so nothing is kept out. */
                .self = -1,
                .store = l->store,
                .writer = l->writer,
        };
        r = sampler_new(&senv, &l->cfg, &l->rule_id, &l->generation, &listener, &l->sampler);
        if (r < 0) {
                snprintf(err, errsz, "cannot set up sampling: %s", strerror(-r));
                goto fail;
        }
        setup_agent(l, o);
        (void)writer_put(l->writer, &(struct store_row){ .kind = STORE_EVENT, .event = { wall_ms(l, l->anchor_mono), "start", "leakwatch run" } });
        l->interval = usec_of(o->interval);
        l->commit_interval = usec_of(l->cfg.commit_interval);
        l->next_tick = l->next_scan = now_usec(CLOCK_MONOTONIC);
        l->next_commit = l->next_tick + l->commit_interval;
        *ret = l;
        return 0;
fail:
        local_free(l);
        return r;
}

void local_free(struct local *l)
{
        if (!l)
                return;
        /* The receiver reads the sampler's watched set: it goes first. */
        agent_free(l->agent);
        sd_event_unref(l->event);
        sampler_free(l->sampler);
        engine_free(l->engine);
        writer_free(l->writer);
        store_close(l->store);
        safe_close(l->proc_root);
        safe_close(l->cgroup_root);
        config_free(&l->cfg);
        free(l);
}

int local_agent_socket(const struct local *l, char *buf, size_t bufsz)
{
        if (!l->agent)
                return l->agent_error;
        if ((size_t)snprintf(buf, bufsz, "%s", l->agent_socket) >= bufsz)
                return -ENAMETOOLONG;
        return 0;
}

int local_watch(struct local *l, pid_t pid, int64_t *ret_id)
{
        usec_t mono = now_usec(CLOCK_MONOTONIC);
        int64_t id;
        int r;

        r = sampler_watch_pid(l->sampler, pid, CONFIG_MANUAL_RULE, wall_ms(l, mono), NULL, &id);
        if (r < 0)
                return r;
        /* Its first sample now, and its children at the next scan. */
        l->next_tick = mono;
        *ret_id = id;
        return 0;
}

usec_t local_next_tick(const struct local *l)
{
        return l->next_tick;
}

int local_tick(struct local *l, usec_t mono)
{
        int64_t now_ms = wall_ms(l, mono), folded;
        int r = 0;

        /* Reports that came since the last tick, before the samples they go with. */
        for (int i = 0; l->event && i < EVENT_TURNS_MAX; i++)
                if (sd_event_run(l->event, 0) <= 0)
                        break;
        if (mono >= l->next_scan) {
                (void)sampler_scan(l->sampler, mono, now_ms);
                l->next_scan = mono + l->interval;
        }
        (void)sampler_tick(l->sampler, mono, now_ms);
        if (mono >= l->next_commit) {
                r = writer_flush(l->writer);
                l->next_commit = mono + l->commit_interval;
        }
        if (r >= 0 && ++l->ticks % FOLD_TICKS == 0)
                /* Whole minutes only, as the daemon folds, so each minute's rollup is
                 * computed once; a failure leaves the samples where they are. */
                (void)store_fold(l->store, now_ms - now_ms % 60000, &folded);
        /* Keep to the grid; a late wake-up (a stopped or starved process) skips the
         * missed ticks rather than taking them back to back. */
        l->next_tick += l->interval;
        if (l->next_tick <= mono)
                l->next_tick = mono + l->interval;
        return r;
}

struct watched_pids {
        pid_t *pids;
        size_t n, cap;
        bool oom;
};

static void collect_pid(void *userdata, const struct sampler_proc *p, const struct sample *last UNUSED)
{
        struct watched_pids *w = userdata;

        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 16;
                pid_t *n = reallocarray(w->pids, cap, sizeof(*n));

                if (!n) {
                        w->oom = true;
                        return;
                }
                w->pids = n;
                w->cap = cap;
        }
        w->pids[w->n++] = p->pid;
}

int local_finish(struct local *l, char *err, size_t errsz)
{
        struct watched_pids w = { 0 };
        int64_t now_ms = wall_ms(l, now_usec(CLOCK_MONOTONIC));
        int r;

        /* Collected first: unwatching changes what sampler_for_each() walks. */
        sampler_for_each(l->sampler, collect_pid, &w);
        for (size_t i = 0; i < w.n; i++)
                (void)sampler_unwatch_pid(l->sampler, w.pids[i], now_ms);
        free(w.pids);
        (void)writer_put(l->writer, &(struct store_row){ .kind = STORE_EVENT, .event = { now_ms, "stop", "leakwatch run" } });
        r = writer_flush(l->writer);
        if (r < 0) {
                snprintf(err, errsz, "%s: %s", l->cfg.db_path, store_errmsg(l->store));
        } else if (w.oom) {
                snprintf(err, errsz, "out of memory");
                r = -ENOMEM;
        }
        return r;
}
