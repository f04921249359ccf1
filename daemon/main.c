/* leakwatchd: watches processes' memory from outside and keeps its history in SQLite.
 *
 * main wires the modules together and alone decides what is fatal: a bad command line
 * or configuration, or a database that cannot be opened at start, ends the program;
 * everything that goes wrong later (a full disk, a locked database, an unreadable
 * process, a broken configuration on reload) is logged, rate-limited, and survived. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "agent.h"
#include "cgroup.h"
#include "config.h"
#include "control.h"
#include "engine.h"
#include "export.h"
#include "hook.h"
#include "host.h"
#include "log.h"
#include "notify.h"
#include "pace.h"
#include "proc.h"
#include "rundir.h"
#include "sampler.h"
#include "store.h"
#include "util.h"
#include "writer.h"

#define EXIT_USAGE 2

/* While the database refuses writes, say so at most this often: once a minute is
 * enough to be noticed and not enough to flood the journal. */
#define DB_FAIL_LOG_USEC (60 * USEC_PER_SEC)
/* While the database refuses writes, the backlog is offered to it again at most this
 * often: each attempt writes the whole backlog before it fails again (a full disk), or
 * waits for a lock up to the busy timeout (another writer), and a tick spent on that is
 * a tick not sampled. Once a second keeps sampling on schedule and still resumes within
 * a second of the database taking writes again. */
#define DB_RETRY_USEC (1 * USEC_PER_SEC)
/* Retention work (pruning) runs this often; it is incremental, so often is cheap. */
#define MAINTAIN_USEC (10 * 60 * USEC_PER_SEC)
/* Samples are folded into the per-process table when about this many ticks of them
 * have gathered: each process then gains about one B-tree page per fold. */
#define FOLD_TICKS 64
/* ...but at least this often, so the time-ordered table stays small. */
#define FOLD_MAX_USEC (15 * 60 * USEC_PER_SEC)
/* sd-event lets a timer fire this late to batch wake-ups (its default is 250 ms, which
 * would distort sub-second intervals). 1 ms keeps 0.05 s intervals within 2%. */
#define TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)
/* STATUS= updates are cheap but pointless faster than a person can read them. */
#define STATUS_USEC (1 * USEC_PER_SEC)

/* The flags that set a [daemon] key: --db, --interval, --window, --proc-root,
 * --runtime-dir, --log-level. */
#define OPT_KEYS_MAX 6

/* Command-line settings, re-applied over the file on every reload. */
struct options {
        const char *config_path;
        bool config_explicit;
        /* Each flag that sets a key, given as it is typed (a relative path made absolute):
         * loaded as that key over the files, so it means what the key means. */
        struct config_flag keys[OPT_KEYS_MAX];
        char *owned[OPT_KEYS_MAX];      /* the absolute paths among those values */
        size_t n_keys;
        pid_t *pids;
        size_t n_pids;
        char **matches;
        size_t n_matches;
        bool check_config;
};

struct daemon {
        struct options opt;
        struct config *cfg;             /* heap: the sampler keeps a pointer across reloads */
        int64_t *rule_ids;
        int64_t *generations;
        uint64_t max_watch;             /* processes the descriptor limit leaves room for */
        sd_event *event;
        sd_event_source *timer;
        int proc_root;
        char boot_id[PROC_BOOT_ID_LEN + 1];
        struct store *store;
        struct writer *writer;
        struct sampler *sampler;
        struct engine *engine;
        struct hooks *hooks;
        struct rundir *rundir;          /* NULL: no runtime directory, hence no sockets */
        struct control *control;
        usec_t started_mono;
        struct export *export;          /* Prometheus metrics; NULL if they failed to start */
        struct agent *agent;            /* NULL: agent-socket = no, or it failed */
        int cgroup_root;

        /* Wall-clock anchor: timestamps are anchor + monotonic elapsed, so a clock step
         * (NTP, a manual date) neither reorders nor duplicates a process's samples. */
        int64_t anchor_real_ms;
        usec_t anchor_mono;

        usec_t next_tick;               /* monotonic deadline of the next tick */
        usec_t next_scan, next_commit, next_fold, next_maintain, next_status;
        usec_t next_retry;              /* db_failing: the backlog's next try (DB_RETRY_USEC) */
        usec_t last_tick_cost;
        usec_t housekeeping_cost;       /* of the last tick: fold and retention pass */
        struct ratelimit db_fail_rl;
        struct ratelimit overrun_rl;
        struct ratelimit cap_rl, budget_rl;
        uint64_t reported_drops, reported_capped, reported_over_budget;
        bool db_failing;
        enum store_fault store_fault;   /* being repaired; said once (store_check) */
        bool reload_failed;             /* shown in STATUS= until a reload succeeds */
        int exit_code;
};

static int64_t wall_ms(const struct daemon *d, usec_t mono)
{
        return d->anchor_real_ms + (int64_t)((mono - d->anchor_mono) / USEC_PER_MSEC);
}

static usec_t usec_of(double seconds)
{
        return (usec_t)llround(seconds * (double)USEC_PER_SEC);
}

/* ---- configuration ---- */

static void print_diag(const struct config_diag *diag)
{
        for (size_t i = 0; i < diag->n; i++)
                log_error("%s", diag->msgs[i]);
}

static int replace_str(char **field, const char *value)
{
        char *n = strdup(value);

        if (!n)
                return -ENOMEM;
        free(*field);
        *field = n;
        return 0;
}

/* Descriptors kept for everything but watched processes: hooks at their cap (64 running,
 * three pipes each), the database and its WAL, the event loop, the control, agent and
 * metrics sockets with their clients, the proc and cgroup roots. */
#define FD_RESERVE 256

/* Each watched process holds three descriptors open; systemd's default soft limit
 * (1024) would cap us near 300 processes, while the hard limit is meant to be raised
 * to by programs that need it. Returns how many processes the limit leaves room for
 * (0: no limit). */
static uint64_t raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        (void)getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur == RLIM_INFINITY)
                return 0;
        return rl.rlim_cur > FD_RESERVE + PROC_FILES_FDS ? (rl.rlim_cur - FD_RESERVE) / PROC_FILES_FDS : 1;
}

/* Says once, at start and after a reload that raised max-processes, when descriptors
 * and not max-processes will bound what is watched: otherwise descriptors would run out
 * for the database and hooks first. */
static void check_fd_room(const struct config *cfg, uint64_t max_watch)
{
        if (max_watch && cfg->max_processes > max_watch)
                log_warning("max-processes %" PRIu64 " needs %" PRIu64 " descriptors but RLIMIT_NOFILE leaves room "
                            "for %" PRIu64 " processes: watching at most that many (raise LimitNOFILE=)",
                            cfg->max_processes, cfg->max_processes * PROC_FILES_FDS + FD_RESERVE, max_watch);
}

/* A hook runs with the daemon's privileges: refuse one that is missing, not executable,
 * or that someone other than root (or our own user) could change. Checked again right
 * before each run, on the open file. */
static int check_hook_list(const struct options *opt, const struct hook_cfg *hooks, size_t n, const char *where)
{
        int r = 0;

        for (size_t i = 0; i < n; i++) {
                char why[HOOK_WHY_MAX];

                if (hook_check_program(hooks[i].argv[0], getuid(), why, sizeof(why)) < 0) {
                        log_error("%s: hook %s (%s): %s", opt->config_path, hooks[i].argv[0], where, why);
                        r = -EINVAL;
                }
        }
        return r;
}

static int check_hooks(const struct options *opt, const struct config *cfg)
{
        int r = check_hook_list(opt, cfg->hooks, cfg->n_hooks, "[daemon]");

        for (size_t i = 0; i < cfg->n_rules; i++) {
                char where[RULE_NAME_MAX + 16];

                snprintf(where, sizeof(where), "rule %s", cfg->rules[i].name);
                if (check_hook_list(opt, cfg->rules[i].hooks, cfg->rules[i].n_hooks, where) < 0)
                        r = -EINVAL;
        }
        return r;
}

/* Loads the file and applies the command line over it. Returns 0, or -EINVAL after
 * logging every problem. */
static int load_config(const struct options *opt, struct config *cfg)
{
        struct config_diag diag = { 0 };
        int r;

        config_defaults(cfg);
        r = config_load_with_flags(cfg, opt->config_path, opt->config_explicit, opt->keys, opt->n_keys, &diag);
        /* Targets on the command line replace the file's rules: that is what someone
         * typing --pid means. */
        if (r >= 0 && (opt->n_pids || opt->n_matches)) {
                config_drop_rules(cfg);
                for (size_t i = 0; r >= 0 && i < opt->n_pids; i++)
                        r = config_add_pid_rule(cfg, opt->pids[i], &diag);
                for (size_t i = 0; r >= 0 && i < opt->n_matches; i++)
                        r = config_add_match_rule(cfg, opt->matches[i], &diag);
        }
        if (r >= 0 && cfg->n_rules == 0)
                r = config_add_default_rule(cfg);
        if (r >= 0)
                r = config_add_manual_rule(cfg);
        if (r >= 0)
                r = check_hooks(opt, cfg);
        if (r < 0) {
                if (diag.n == 0)
                        log_error("%s: %s", opt->config_path, strerror(-r));
                print_diag(&diag);
        }
        config_diag_free(&diag);
        return r;
}

/* Rules people configured (or typed): the built-in on-request rule is not one of them. */
static size_t configured_rules(const struct config *cfg)
{
        size_t n = 0;

        for (size_t i = 0; i < cfg->n_rules; i++)
                n += !cfg->rules[i].manual;
        return n;
}

/* Describes a rule's selectors in words for the database (shown by the client). */
static void rule_spec(const struct rule_cfg *r, char *buf, size_t sz)
{
        size_t o = 0;

#define ADD(...) do { if (o < sz) o += (size_t)snprintf(buf + o, sz - o, __VA_ARGS__); } while (0)
        buf[0] = '\0';
        if (r->manual)
                ADD("processes watched on request ");
        if (r->all)
                ADD("all processes ");
        for (size_t i = 0; i < r->n_pids && i < 8; i++)
                ADD("pid=%d ", (int)r->pids[i]);
        if (r->n_pids > 8)
                ADD("(+%zu pids) ", r->n_pids - 8);
        if (r->comm_glob)
                ADD("name=%s ", r->comm_glob);
        if (r->cmdline_re_src)
                ADD("cmdline=%s ", r->cmdline_re_src);
        if (r->has_uid)
                ADD("uid=%u ", (unsigned)r->uid);
        if (r->unit_glob)
                ADD("unit=%s ", r->unit_glob);
        if (r->cgroup_prefix)
                ADD("cgroup=%s ", r->cgroup_prefix);
        if (r->min_rss) {
                char sz_buf[32];
                ADD("min-rss=%s ", format_size(r->min_rss, sz_buf, sizeof(sz_buf)));
        }
        if (r->children)
                ADD("children ");
#undef ADD
        if (o > 0 && o <= sz)
                buf[o - 1] = '\0';
}

/* Registers the rules in the database. Returns their ids and last generations. */
static int register_rules(struct daemon *d, const struct config *cfg, int64_t now_ms, int64_t **ret_ids,
                          int64_t **ret_gens)
{
        int64_t *ids = calloc(cfg->n_rules + 1, sizeof(*ids));
        int64_t *gens = calloc(cfg->n_rules + 1, sizeof(*gens));
        int r = 0;

        if (!ids || !gens) {
                free(ids);
                free(gens);
                return -ENOMEM;
        }
        r = store_begin(d->store);
        for (size_t i = 0; r >= 0 && i < cfg->n_rules; i++) {
                char spec[1024];

                rule_spec(&cfg->rules[i], spec, sizeof(spec));
                r = store_put_rule(d->store, cfg->rules[i].name, spec, now_ms, &ids[i]);
                if (r >= 0)
                        r = store_rule_generation(d->store, ids[i], &gens[i]);
        }
        if (r >= 0)
                r = store_commit(d->store);
        if (r < 0) {
                store_rollback(d->store);
                free(ids);
                free(gens);
                return r;
        }
        *ret_ids = ids;
        *ret_gens = gens;
        return 0;
}

/* ---- the periodic work ---- */

struct reannounce {
        struct daemon *d;
        int64_t now_ms;
};

static void put_process_again(void *userdata, const struct sampler_proc *p, const struct sample *last UNUSED)
{
        struct reannounce *c = userdata;
        struct store_process row = {
                .id = p->id,
                .pid = p->pid,
                .start_ticks = (int64_t)p->start_ticks,
                .start_ms = p->start_ms,
                .uid = (int64_t)p->uid,
                .comm = p->comm,
                .comm_len = strlen(p->comm),
                .cmdline = p->cmdline,
                .cmdline_len = strlen(p->cmdline),
                .unit = p->unit[0] ? p->unit : NULL,
                .cgroup = p->cgroup[0] ? p->cgroup : NULL,
                .rule_id = p->rule_id,
                .generation = p->generation,
                .parent_id = p->parent_id,
                .first_ms = c->now_ms,
        };

        snprintf(row.boot_id, sizeof(row.boot_id), "%s", c->d->boot_id);
        (void)writer_put_process(c->d->writer, &row);
}

/* After a damaged database was replaced by what could be read of it: the rules and the
 * processes watched now are written again under the ids the daemon uses (rows that
 * were read back are left as they are), so what it writes from here on has its rows. */
static void reannounce(struct daemon *d, usec_t mono)
{
        struct reannounce c = { .d = d, .now_ms = wall_ms(d, mono) };
        int r = store_begin(d->store);

        for (size_t i = 0; r >= 0 && i < d->cfg->n_rules; i++) {
                char spec[1024];

                rule_spec(&d->cfg->rules[i], spec, sizeof(spec));
                r = store_put_rule_id(d->store, d->rule_ids[i], d->cfg->rules[i].name, spec, c.now_ms);
        }
        if (r >= 0)
                r = store_commit(d->store);
        if (r < 0)
                store_rollback(d->store);
        sampler_for_each(d->sampler, put_process_again, &c);
}

/* Before each commit: are the database's files still the ones the connection holds, and
 * sound? (A deleted -wal would take every commit since the last checkpoint with it.) A
 * fault is said once, with what was done about it; a repair that must wait (a reader
 * still needs the old log) is tried again at the next commit, and said again only as
 * often as other database failures. */
static void check_store(struct daemon *d, usec_t mono)
{
        struct store_repair rep;
        unsigned suppressed;
        char detail[PATH_MAX + 160];
        int r;

        r = store_check(d->store, &rep);
        if (rep.fault == STORE_FAULT_NONE)
                return;
        if (d->store_fault == STORE_FAULT_NONE) {
                log_error("database %s: %s; repairing", d->cfg->db_path, store_fault_name(rep.fault));
                d->store_fault = rep.fault;
        }
        if (r < 0) {
                if (ratelimit_allow(&d->db_fail_rl, mono, &suppressed))
                        log_warning("database %s: repair not done yet: %s (%s); retrying at the next commit",
                                    d->cfg->db_path, strerror(-r), store_errmsg(d->store));
                return;
        }
        if (rep.fault == STORE_FAULT_DAMAGED || (rep.fault == STORE_FAULT_CLOSED && rep.aside[0])) {
                snprintf(detail, sizeof(detail), "damaged file moved to %s, %" PRId64 " rows kept", rep.aside,
                         rep.salvaged);
                reannounce(d, mono);
        }
        else if (rep.aside[0])
                snprintf(detail, sizeof(detail), "every commit kept; what took its place moved to %s", rep.aside);
        else
                snprintf(detail, sizeof(detail), "every commit kept");
        log_notice("database %s: repaired (%s)", d->cfg->db_path, detail);
        (void)writer_put_event(d->writer, wall_ms(d, mono), "repaired", detail);
        d->store_fault = STORE_FAULT_NONE;
}

static void flush(struct daemon *d, usec_t mono)
{
        struct writer_stats ws;
        unsigned suppressed;
        int r;

        check_store(d, mono);
        if (d->db_failing && mono < d->next_retry)
                return;
        r = writer_flush(d->writer);
        writer_get_stats(d->writer, &ws);
        if (r < 0) {
                d->next_retry = mono + DB_RETRY_USEC;
                if (ratelimit_allow(&d->db_fail_rl, mono, &suppressed))
                        log_error("database %s: write failed: %s (%s); %" PRIu64 " samples waiting, %" PRIu64
                                  " dropped so far; retrying", d->cfg->db_path, strerror(-r),
                                  store_errmsg(d->store), ws.pending, ws.dropped);
                d->db_failing = true;
                return;
        }
        if (d->db_failing) {
                log_notice("database %s: writable again, backlog written (%" PRIu64 " samples dropped while it "
                           "failed)", d->cfg->db_path, ws.dropped - d->reported_drops);
                if (ws.dropped > d->reported_drops) {
                        char detail[128];

                        snprintf(detail, sizeof(detail), "%" PRIu64 " samples dropped: database unwritable",
                                 ws.dropped - d->reported_drops);
                        (void)writer_put_event(d->writer, wall_ms(d, mono), "dropped", detail);
                }
                d->reported_drops = ws.dropped;
                d->db_failing = false;
                d->db_fail_rl.begin = 0;
        }
}

static void fold_and_maintain(struct daemon *d, usec_t mono)
{
        int64_t now_ms = wall_ms(d, mono), folded = 0;
        int r;

        d->housekeeping_cost = 0;
        if (d->db_failing)
                return;
        if (mono >= d->next_fold) {
                /* Only whole minutes move, so each minute's rollup is computed once. */
                log_debug("folding samples older than %" PRId64, now_ms - now_ms % 60000);
                r = store_fold(d->store, now_ms - now_ms % 60000, &folded);
                d->housekeeping_cost = now_usec(CLOCK_MONOTONIC) - mono;
                if (r < 0)
                        log_warning("database %s: fold failed: %s, will retry", d->cfg->db_path, store_errmsg(d->store));
                else
                        log_debug("folded %" PRId64 " samples in %.3f s", folded,
                                  (double)d->housekeeping_cost / (double)USEC_PER_SEC);
                d->next_fold = mono + MIN(usec_of(d->cfg->interval) * FOLD_TICKS, FOLD_MAX_USEC);
        }
        if (mono >= d->next_maintain) {
                struct store_retention rt = {
                        .raw_ms = (int64_t)(d->cfg->retention_raw * 1000),
                        .minute_ms = (int64_t)(d->cfg->retention_minute * 1000),
                        .hour_ms = (int64_t)(d->cfg->retention_hour * 1000),
                };
                struct store_maintenance m;

                usec_t t0 = now_usec(CLOCK_MONOTONIC);

                r = store_maintain(d->store, now_ms, &rt, &m);
                d->housekeeping_cost += now_usec(CLOCK_MONOTONIC) - t0;
                if (r < 0)
                        log_warning("database %s: retention pass failed: %s, will retry", d->cfg->db_path,
                                    store_errmsg(d->store));
                else if (m.pruned > 0)
                        log_debug("retention: pruned %" PRId64 " rows", m.pruned);
                d->next_maintain = mono + MAINTAIN_USEC;
        }
}

static void update_status(struct daemon *d, usec_t mono)
{
        struct sampler_stats ss;
        struct engine_stats es;
        struct writer_stats ws;

        if (mono < d->next_status)
                return;
        d->next_status = mono + STATUS_USEC;
        sampler_get_stats(d->sampler, &ss);
        writer_get_stats(d->writer, &ws);
        engine_get_stats(d->engine, &es);
        (void)notify_status(&(struct notify_status){
                .processes = ss.watched,
                .rules = configured_rules(d->cfg),
                .alerts = (int)es.open_alerts,
                .last_tick = d->last_tick_cost,
                .db_failing = d->db_failing,
                .reload_failed = d->reload_failed,
        });
        if (ss.capped > d->reported_capped) {
                unsigned suppressed;

                if (ratelimit_allow(&d->cap_rl, mono, &suppressed))
                        log_warning("max-processes (%" PRIu64 ") reached: %" PRIu64 " matching processes not watched",
                                    d->cfg->max_processes, ss.capped - d->reported_capped);
                d->reported_capped = ss.capped;
        }
        if (ss.rollups_over_budget > d->reported_over_budget) {
                unsigned suppressed;

                /* Not a fault: the budget doing its job. Said now and then so that
                 * whoever wonders why PSS is sparse finds the reason. */
                if (ratelimit_allow(&d->budget_rl, mono, &suppressed))
                        log_notice("smaps-budget (%.3g%% of a core) spent: %" PRIu64 " smaps reads postponed",
                                   d->cfg->smaps_budget * 100, ss.rollups_over_budget - d->reported_over_budget);
                d->reported_over_budget = ss.rollups_over_budget;
        }
}

static void schedule(struct daemon *d, usec_t started, usec_t finished)
{
        usec_t work;

        d->last_tick_cost = finished - started;
        work = d->last_tick_cost - MIN(d->housekeeping_cost, d->last_tick_cost);
        if (pace_next(&d->next_tick, usec_of(d->cfg->interval), finished, work) == PACE_OVERRUN) {
                unsigned suppressed;
                char a[32], b[32];

                if (ratelimit_allow(&d->overrun_rl, finished, &suppressed))
                        log_warning("sampling took %s, longer than the interval %s: sampling less often (%u more "
                                    "such ticks not reported)",
                                    format_duration((double)work / 1e6, a, sizeof(a)),
                                    format_duration(d->cfg->interval, b, sizeof(b)), suppressed);
        }
        /* A time source is one-shot: arm it again for the next deadline. */
        (void)sd_event_source_set_time(d->timer, d->next_tick);
        (void)sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
}

static void run_once(struct daemon *d, usec_t mono)
{
        int64_t now_ms = wall_ms(d, mono);
        int r;

        if (mono >= d->next_scan) {
                r = sampler_scan(d->sampler, mono, now_ms);
                if (r < 0)
                        log_error("scanning %s failed: %s", d->cfg->proc_root, strerror(-r));
                d->next_scan = mono + usec_of(d->cfg->scan_interval);
        }
        (void)sampler_tick(d->sampler, mono, now_ms);
        if (mono >= d->next_commit) {
                flush(d, mono);
                d->next_commit = mono + usec_of(d->cfg->commit_interval);
        }
        fold_and_maintain(d, mono);
}

static int on_timer(sd_event_source *s UNUSED, uint64_t usec UNUSED, void *userdata)
{
        struct daemon *d = userdata;
        usec_t started = now_usec(CLOCK_MONOTONIC);

        run_once(d, started);
        schedule(d, started, now_usec(CLOCK_MONOTONIC));
        export_tick(d->export, started, d->last_tick_cost);
        update_status(d, now_usec(CLOCK_MONOTONIC));
        return 0;
}

/* ---- signals ---- */

static int on_terminate(sd_event_source *s UNUSED, const struct signalfd_siginfo *si, void *userdata)
{
        struct daemon *d = userdata;

        log_info("received %s, flushing and exiting", strsignal((int)si->ssi_signo));
        (void)notify_stopping();
        return sd_event_exit(d->event, 0);
}

static void free_config(struct config *cfg)
{
        if (cfg) {
                config_free(cfg);
                free(cfg);
        }
}

/* Returns 0 if the new configuration is in force, -errno if the old one stays. */
static int reload(struct daemon *d)
{
        struct config *cfg = calloc(1, sizeof(*cfg));
        int64_t *ids = NULL, *gens = NULL;
        usec_t mono = now_usec(CLOCK_MONOTONIC);
        int r;

        (void)notify_reloading(mono);
        d->reload_failed = true;        /* until it succeeds */
        if (!cfg) {
                log_error("reload: out of memory; keeping the running configuration");
                r = -ENOMEM;
                goto done;
        }
        r = load_config(&d->opt, cfg);
        if (r < 0) {
                log_error("reload: configuration has errors; keeping the running configuration");
                goto fail;
        }
        if (strcmp(cfg->db_path, d->cfg->db_path) != 0 || strcmp(cfg->proc_root, d->cfg->proc_root) != 0 ||
            strcmp(cfg->runtime_dir, d->cfg->runtime_dir) != 0)
                log_warning("reload: database, proc-root and runtime-dir changes take effect at the next restart");
        /* Keep what only a restart can change. */
        if (replace_str(&cfg->db_path, d->cfg->db_path) < 0 || replace_str(&cfg->proc_root, d->cfg->proc_root) < 0 ||
            replace_str(&cfg->runtime_dir, d->cfg->runtime_dir) < 0) {
                log_error("reload: out of memory; keeping the running configuration");
                r = -ENOMEM;
                goto fail;
        }
        r = register_rules(d, cfg, wall_ms(d, mono), &ids, &gens);
        if (r < 0) {
                log_error("reload: cannot record rules in the database (%s); keeping the running configuration",
                          store_errmsg(d->store));
                goto fail;
        }
        r = sampler_reconfigure(d->sampler, cfg, ids, gens, wall_ms(d, mono));
        if (r < 0) {
                log_error("reload: %s; keeping the running configuration", strerror(-r));
                goto fail;
        }
        if (cfg->max_processes != d->cfg->max_processes)
                check_fd_room(cfg, d->max_watch);
        /* After the sampler: processes it stops watching close their alerts under the
         * old rules. From here on the new configuration is in force. */
        r = engine_reconfigure(d->engine, cfg);
        if (r < 0)
                log_error("reload: detection keeps the old parameters: %s", strerror(-r));
        hooks_set_limits(d->hooks, usec_of(cfg->hook_timeout), cfg->hook_max_running);
        agent_reconfigure(d->agent, cfg);
        if (cfg->max_db_size != d->cfg->max_db_size) {
                r = store_set_size_limit(d->store, (int64_t)cfg->max_db_size);
                if (r < 0)
                        log_warning("reload: cannot change the database size cap: %s", store_errmsg(d->store));
        }
        free_config(d->cfg);
        free(d->rule_ids);
        free(d->generations);
        d->cfg = cfg;
        d->rule_ids = ids;
        d->generations = gens;
        log_set_max_level(d->cfg->log_level);
        d->next_scan = 0;
        (void)writer_put_event(d->writer, wall_ms(d, mono), "reload", NULL);
        log_info("configuration reloaded: %zu rule%s", configured_rules(d->cfg),
                 configured_rules(d->cfg) == 1 ? "" : "s");
        d->reload_failed = false;
        r = 0;
        goto done;
fail:
        free_config(cfg);
        free(ids);
        free(gens);
done:
        (void)notify_ready();
        d->next_status = 0;
        update_status(d, now_usec(CLOCK_MONOTONIC));
        return r;
}

static int on_hup(sd_event_source *s UNUSED, const struct signalfd_siginfo *si UNUSED, void *userdata)
{
        (void)reload(userdata);
        return 0;
}

/* ---- the control socket ---- */

static int req_int(struct json_object *req, const char *key, int64_t min, int64_t max, bool required,
                   int64_t *ret, char *why, size_t whysz)
{
        struct json_object *v;

        if (!json_object_object_get_ex(req, key, &v)) {
                if (!required)
                        return 0;
                snprintf(why, whysz, "\"%s\" is required", key);
                return -EINVAL;
        }
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < min ||
            json_object_get_int64(v) > max) {
                snprintf(why, whysz, "\"%s\" must be an integer from %" PRId64 " to %" PRId64, key, min, max);
                return -EINVAL;
        }
        *ret = json_object_get_int64(v);
        return 1;
}

static void add_int(struct json_object *o, const char *key, int64_t v)
{
        json_object_object_add(o, key, json_object_new_int64(v));
}

static int control_status(struct daemon *d, struct json_object *reply)
{
        struct sampler_stats ss;
        struct engine_stats es;
        struct writer_stats ws;
        int64_t db_size = -1;

        sampler_get_stats(d->sampler, &ss);
        engine_get_stats(d->engine, &es);
        writer_get_stats(d->writer, &ws);
        (void)store_disk_usage(d->store, &db_size);
        json_object_object_add(reply, "version", json_object_new_string(LEAKWATCH_VERSION));
        add_int(reply, "pid", getpid());
        add_int(reply, "uptime_s", (int64_t)((now_usec(CLOCK_MONOTONIC) - d->started_mono) / USEC_PER_SEC));
        json_object_object_add(reply, "database", json_object_new_string(d->cfg->db_path));
        add_int(reply, "database_bytes", db_size);
        json_object_object_add(reply, "database_failing", json_object_new_boolean(d->db_failing));
        json_object_object_add(reply, "interval_s", json_object_new_double(d->cfg->interval));
        json_object_object_add(reply, "window_s", json_object_new_double(d->cfg->window));
        add_int(reply, "rules", (int64_t)configured_rules(d->cfg));
        add_int(reply, "watched", ss.watched);
        add_int(reply, "known", ss.known);
        add_int(reply, "open_alerts", es.open_alerts);
        add_int(reply, "alerts_total", (int64_t)es.alerts);
        add_int(reply, "samples_written", (int64_t)ws.written);
        add_int(reply, "samples_pending", (int64_t)ws.pending);
        add_int(reply, "samples_dropped", (int64_t)ws.dropped);
        add_int(reply, "last_tick_us", (int64_t)d->last_tick_cost);
        add_int(reply, "hooks_running", hooks_running(d->hooks));
        add_int(reply, "hooks_queued", hooks_queued(d->hooks));
        return 0;
}

static int control_watch(struct daemon *d, struct json_object *req, struct json_object *reply, char *why,
                         size_t whysz)
{
        const char *rule = CONFIG_MANUAL_RULE;
        struct json_object *v;
        int64_t pid, window = 0, id = 0;
        size_t slot = 0;
        int r;

        r = req_int(req, "pid", 1, INT32_MAX, true, &pid, why, whysz);
        if (r >= 0)
                r = req_int(req, "window_s", 60, 90 * 86400, false, &window, why, whysz);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(req, "rule", &v)) {
                if (!json_object_is_type(v, json_type_string)) {
                        snprintf(why, whysz, "\"rule\" must be a string");
                        return -EINVAL;
                }
                rule = json_object_get_string(v);
        }
        r = sampler_watch_pid(d->sampler, (pid_t)pid, rule, wall_ms(d, now_usec(CLOCK_MONOTONIC)), &slot, &id);
        switch (r) {
        case 0:
                break;
        case -ENOENT:
                snprintf(why, whysz, "no process %" PRId64 " or no rule '%.64s'", pid, rule);
                return r;
        case -EEXIST:
                snprintf(why, whysz, "process %" PRId64 " is already watched", pid);
                return r;
        case -EPERM:
                snprintf(why, whysz, "process %" PRId64 " is leakwatchd or one of its hooks", pid);
                return r;
        case -E2BIG:
                snprintf(why, whysz, "max-processes (%" PRIu64 ") reached", d->cfg->max_processes);
                return r;
        default:
                snprintf(why, whysz, "cannot watch process %" PRId64 ": %s", pid, strerror(-r));
                return r;
        }
        if (window > 0)
                (void)engine_set_window(d->engine, slot, (double)window);
        /* Its children are found by a scan: make the next tick do one, rather than wait
         * for scan-interval (a short job's children may not live that long). */
        d->next_scan = 0;
        add_int(reply, "process_id", id);
        json_object_object_add(reply, "rule", json_object_new_string(rule));
        log_info("watching pid %" PRId64 " on request (rule %s)", pid, rule);
        return 0;
}

static int control_handle(void *userdata, const char *cmd, struct json_object *req, struct json_object *reply,
                          char *why, size_t whysz)
{
        struct daemon *d = userdata;
        int64_t pid;
        int r;

        if (strcmp(cmd, "status") == 0)
                return control_status(d, reply);
        if (strcmp(cmd, "watch") == 0)
                return control_watch(d, req, reply, why, whysz);
        if (strcmp(cmd, "unwatch") == 0) {
                r = req_int(req, "pid", 1, INT32_MAX, true, &pid, why, whysz);
                if (r < 0)
                        return r;
                r = sampler_unwatch_pid(d->sampler, (pid_t)pid, wall_ms(d, now_usec(CLOCK_MONOTONIC)));
                if (r < 0)
                        snprintf(why, whysz, "process %" PRId64 " is not watched", pid);
                return r;
        }
        if (strcmp(cmd, "reload") == 0) {
                r = reload(d);
                if (r < 0)
                        snprintf(why, whysz, "the new configuration was refused (see the daemon's log); the "
                                 "running one stays");
                return r;
        }
        snprintf(why, whysz, "unknown command '%.32s'", cmd);
        return -EOPNOTSUPP;
}

/* ---- start and stop ---- */

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: leakwatchd [OPTION]...\n"
                "Watch processes' memory and keep its history; detect leaks.\n\n"
                "  -c, --config FILE      configuration file (default " CONFIG_DEFAULT_PATH ")\n"
                "  -d, --db PATH          database file (default " CONFIG_DEFAULT_DB ")\n"
                "  -i, --interval SECONDS sampling interval; fractions allowed (0.2)\n"
                "  -p, --pid PID          watch this process (repeatable); replaces the file's rules\n"
                "  -m, --match REGEX      watch processes whose command line matches (repeatable)\n"
                "  -w, --window DURATION  detector time scale (6h on servers, 2m for short jobs)\n"
                "      --proc-root PATH   read processes from PATH instead of /proc\n"
                "      --runtime-dir PATH control and agent sockets (default /run/leakwatch)\n"
                "      --log-level LEVEL  err, warning, notice, info or debug\n"
                "      --check-config     validate the configuration and exit\n"
                "  -h, --help             show this help\n"
                "      --version          show the version\n");
}

/* Records a flag that sets the [daemon] key of the same meaning; given twice, the last
 * one counts. A relative path is taken from the current directory, which is what it
 * means on a command line (a file's paths must be absolute). */
static int set_key(struct options *o, const char *flag, const char *key, const char *value, bool path)
{
        char *abs = NULL;
        size_t i;

        if (path && value[0] != '/' && value[0] != '\0') {
                char cwd[PATH_MAX];

                if (!getcwd(cwd, sizeof(cwd)) || asprintf(&abs, "%s/%s", cwd, value) < 0) {
                        fprintf(stderr, "leakwatchd: %s '%s': cannot make it an absolute path: %s\n", flag, value,
                                strerror(errno));
                        return -EINVAL;
                }
        }
        for (i = 0; i < o->n_keys; i++)
                if (strcmp(o->keys[i].key, key) == 0)
                        break;
        if (i == o->n_keys)
                o->n_keys++;
        free(o->owned[i]);
        o->owned[i] = abs;
        o->keys[i] = (struct config_flag){ .flag = flag, .key = key, .value = abs ? abs : value };
        return 0;
}

static void free_options(struct options *o)
{
        for (size_t i = 0; i < ELEMENTSOF(o->owned); i++)
                free(o->owned[i]);
        free(o->pids);
        free(o->matches);
}

static int parse_args(int argc, char **argv, struct options *o)
{
        enum { OPT_PROC_ROOT = 256, OPT_RUNTIME_DIR, OPT_LOG_LEVEL, OPT_CHECK, OPT_VERSION };
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "db", required_argument, NULL, 'd' },
                { "interval", required_argument, NULL, 'i' },
                { "pid", required_argument, NULL, 'p' },
                { "match", required_argument, NULL, 'm' },
                { "window", required_argument, NULL, 'w' },
                { "proc-root", required_argument, NULL, OPT_PROC_ROOT },
                { "runtime-dir", required_argument, NULL, OPT_RUNTIME_DIR },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "check-config", no_argument, NULL, OPT_CHECK },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {}
        };
        int c;

        o->config_path = CONFIG_DEFAULT_PATH;
        while ((c = getopt_long(argc, argv, "c:d:i:p:m:w:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        o->config_path = optarg;
                        o->config_explicit = true;
                        break;
                case 'd':
                        if (!*optarg) {
                                fprintf(stderr, "leakwatchd: --db: empty path\n");
                                return -EINVAL;
                        }
                        if (set_key(o, "--db", "database", optarg, true) < 0)
                                return -EINVAL;
                        break;
                /* Their values are checked with the file's: config_load_with_flags. */
                case 'i':
                        (void)set_key(o, "--interval", "interval", optarg, false);
                        break;
                case 'w':
                        (void)set_key(o, "--window", "window", optarg, false);
                        break;
                case 'p': {
                        int64_t v;
                        pid_t *n;

                        if (parse_int64(optarg, 1, INT32_MAX, &v) < 0) {
                                fprintf(stderr, "leakwatchd: --pid '%s': expected a process ID\n", optarg);
                                return -EINVAL;
                        }
                        n = realloc(o->pids, (o->n_pids + 1) * sizeof(*n));
                        if (!n)
                                return -ENOMEM;
                        o->pids = n;
                        o->pids[o->n_pids++] = (pid_t)v;
                        break;
                }
                case 'm': {
                        char **n = realloc(o->matches, (o->n_matches + 1) * sizeof(*n));

                        if (!n)
                                return -ENOMEM;
                        o->matches = n;
                        o->matches[o->n_matches++] = optarg;
                        break;
                }
                case OPT_PROC_ROOT:
                        if (set_key(o, "--proc-root", "proc-root", optarg, true) < 0)
                                return -EINVAL;
                        break;
                case OPT_RUNTIME_DIR:
                        if (set_key(o, "--runtime-dir", "runtime-dir", optarg, true) < 0)
                                return -EINVAL;
                        break;
                case OPT_LOG_LEVEL:
                        (void)set_key(o, "--log-level", "log-level", optarg, false);
                        break;
                case OPT_CHECK:
                        o->check_config = true;
                        break;
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                case OPT_VERSION:
                        printf("leakwatchd " LEAKWATCH_VERSION "\n");
                        exit(EXIT_SUCCESS);
                default:
                        usage(stderr);
                        return -EDOM; /* usage error */
                }
        }
        if (optind < argc) {
                fprintf(stderr, "leakwatchd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return -EDOM;
        }
        return 0;
}


/* Bytes the host can still give before it swaps or kills: MemAvailable + SwapFree. */
static int64_t host_headroom(void *userdata UNUSED)
{
        struct host_memory m;

        if (host_memory(&m) < 0)
                return -1;
        return (int64_t)(m.available + m.swap_free);
}

static void on_hook_done(void *userdata, const struct hook_result *res)
{
        struct daemon *d = userdata;

        engine_hook_done(d->engine, res);
}

static int setup_event_loop(struct daemon *d, usec_t mono)
{
        sigset_t ss;
        int r;

        r = sd_event_default(&d->event);
        if (r < 0)
                return r;
        /* Signals arrive through the loop (signalfd); SIGCHLD too, for hook children. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGCHLD);
        /* Blocked and never read: a write to a pipe whose reader is gone (a hook that
         * exits before it reads its JSON) fails with EPIPE instead of killing the daemon.
         * Hooks start with no signal blocked (hook.c), so theirs is the default. */
        sigaddset(&ss, SIGPIPE);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_add_signal(d->event, NULL, SIGTERM, on_terminate, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGINT, on_terminate, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGHUP, on_hup, d);
        if (r >= 0)
                r = sd_event_add_time(d->event, &d->timer, CLOCK_MONOTONIC, mono, TIMER_ACCURACY_USEC, on_timer, d);
        if (r < 0)
                return r;
        /* Pings WATCHDOG=1 from the loop itself when WATCHDOG_USEC is set: a stuck loop
         * stops pinging and systemd restarts us. */
        (void)sd_event_set_watchdog(d->event, true);
        return 0;
}

/* The runtime directory holds the sockets, and its lock says that this daemon alone
 * owns them. Another daemon using it, or a directory someone else could change, stops
 * the start here, before anything is touched; a directory that merely cannot be made
 * (run by hand as a user who may not write under /run) leaves the daemon without
 * sockets, which it can do its job without. */
static int open_runtime_dir(struct daemon *d)
{
        char why[PATH_MAX + 160];
        pid_t holder;
        int r;

        r = rundir_open(d->cfg->runtime_dir, getuid(), &d->rundir, &holder, why, sizeof(why));
        if (r == -EBUSY) {
                log_error("runtime directory %s: %s; not starting a second daemon there", d->cfg->runtime_dir, why);
                return r;
        }
        if (r == -EPERM) {
                log_error("runtime directory %s: %s; refusing to use it", d->cfg->runtime_dir, why);
                return r;
        }
        if (r < 0)
                log_warning("runtime directory %s: %s; running without the control and agent sockets",
                            d->cfg->runtime_dir, why);
        return 0;
}

/* Says at start that the proc root hides processes (hidepid), and names each
 * configured PID it hides: those are unreadable, not absent. */
static void warn_hidden(const struct daemon *d)
{
        if (!proc_root_hides(d->proc_root))
                return;
        log_warning("%s is mounted with hidepid and leakwatchd may not see through it (CAP_SYS_PTRACE): "
                    "processes of other users are invisible and cannot be watched", d->cfg->proc_root);
        for (size_t i = 0; i < d->cfg->n_rules; i++)
                for (size_t j = 0; j < d->cfg->rules[i].n_pids; j++)
                        if (proc_pid_hidden(d->proc_root, d->cfg->rules[i].pids[j]))
                                log_warning("rule %s: pid %d runs but is hidden by hidepid: unreadable, not watched",
                                            d->cfg->rules[i].name, (int)d->cfg->rules[i].pids[j]);
}

static int setup(struct daemon *d)
{
        struct sampler_listener listener;
        struct sampler_env env;
        struct engine_env eenv;
        struct hooks_opts hopts;
        char err[256];
        int64_t btime_ms = 0;
        usec_t mono;
        int r;

        r = open_runtime_dir(d);
        if (r < 0)
                return r;
        d->proc_root = proc_root_open(d->cfg->proc_root);
        if (d->proc_root < 0) {
                log_error("cannot open proc root %s: %s", d->cfg->proc_root, strerror(-d->proc_root));
                return d->proc_root;
        }
        r = proc_read_boot_id(d->proc_root, d->boot_id, sizeof(d->boot_id));
        if (r < 0) {
                log_error("cannot read the boot id under %s: %s", d->cfg->proc_root, strerror(-r));
                return r;
        }
        warn_hidden(d);
        if (host_boot_time_ms(&btime_ms) < 0)
                log_warning("cannot read the boot time; process start times will be unknown");
        d->cgroup_root = cgroup_root_open(d->cfg->cgroup_root);
        if (d->cgroup_root < 0)
                log_info("no cgroup hierarchy at %s (%s): forecasts use the host's memory only",
                         d->cfg->cgroup_root, strerror(-d->cgroup_root));

        r = store_open(d->cfg->db_path, STORE_RW, &d->store, err, sizeof(err));
        if (r < 0) {
                log_error("cannot open database %s: %s", d->cfg->db_path, err);
                return r;
        }
        {
                int64_t kept = 0;
                const char *aside = store_set_aside(d->store, &kept);

                if (aside)
                        log_error("database %s was damaged: moved to %s; %" PRId64 " rows of it kept in a new one",
                                  d->cfg->db_path, aside, kept);
        }
        if (d->cfg->max_db_size > 0) {
                r = store_set_size_limit(d->store, (int64_t)d->cfg->max_db_size);
                if (r < 0)
                        log_warning("cannot cap the database size: %s", store_errmsg(d->store));
        }
        mono = now_usec(CLOCK_MONOTONIC);
        d->anchor_mono = mono;
        d->anchor_real_ms = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);

        r = register_rules(d, d->cfg, wall_ms(d, mono), &d->rule_ids, &d->generations);
        if (r < 0) {
                log_error("cannot record rules in database %s: %s", d->cfg->db_path, store_errmsg(d->store));
                return r;
        }
        r = writer_new(d->store, d->cfg->backlog, &d->writer);
        if (r < 0)
                return r;
        r = setup_event_loop(d, mono);
        if (r < 0) {
                log_error("cannot set up the event loop: %s", strerror(-r));
                return r;
        }
        hopts = (struct hooks_opts){
                .timeout = usec_of(d->cfg->hook_timeout),
                .max_running = d->cfg->hook_max_running,
                .owner = getuid(),
                .done = on_hook_done,
                .userdata = d,
        };
        r = hooks_new(d->event, &hopts, &d->hooks, err, sizeof(err));
        if (r < 0)
                return r;
        log_info("hooks: %s", hooks_reap_describe(d->hooks));
        eenv = (struct engine_env){
                .store = d->store,
                .writer = d->writer,
                .hooks = d->hooks,
                .proc_root = d->proc_root,
                .cgroup_root = d->cgroup_root,
                .boot_id = d->boot_id,
                .host_headroom = host_headroom,
        };
        r = engine_new(&eenv, d->cfg, &d->engine);
        if (r < 0) {
                log_error("cannot set up detection: %s (%s)", strerror(-r), store_errmsg(d->store));
                return r;
        }
        engine_listener(d->engine, &listener);
        env = (struct sampler_env){
                .proc_root = d->proc_root,
                .boot_id = d->boot_id,
                .btime_ms = btime_ms,
                .hz = host_clock_ticks(),
                .self = getpid(),
                .store = d->store,
                .writer = d->writer,
                .max_watch = d->max_watch,
        };
        r = sampler_new(&env, d->cfg, d->rule_ids, d->generations, &listener, &d->sampler);
        if (r < 0) {
                log_error("cannot set up sampling: %s", strerror(-r));
                return r;
        }
        r = sampler_resume(d->sampler, wall_ms(d, mono));
        if (r < 0)
                log_warning("cannot resume the previous run's processes: %s", store_errmsg(d->store));
        (void)engine_finish_resume(d->engine, wall_ms(d, mono));
        /* Live operations are a convenience: without the socket the daemon still does
         * its job, so a socket that cannot be made is a warning, not a failure. */
        if (d->rundir) {
                r = control_new(d->event, rundir_path(d->rundir), control_handle, d, &d->control);
                if (r < 0)
                        log_warning("no control socket in %s: %s", rundir_path(d->rundir), strerror(-r));
        }
        d->started_mono = mono;
        if (d->rundir && d->cfg->agent_socket) {
                struct agent_env aenv = { .event = d->event, .runtime_dir = rundir_path(d->rundir),
                                          .sampler = d->sampler, .writer = d->writer,
                                          .anchor_real_ms = d->anchor_real_ms, .anchor_mono = d->anchor_mono };

                /* Agents only add detail to alerts: the daemon runs on without them. */
                r = agent_new(&aenv, d->cfg, &d->agent);
                if (r < 0)
                        log_warning("cannot listen for in-process agents in %s: %s; running without them",
                                    rundir_path(d->rundir), strerror(-r));
        }

        /* Metrics are for others to read: without them the watching goes on. */
        r = export_new(&(struct export_env){ .event = d->event, .cfg = &d->cfg, .sampler = d->sampler,
                                             .engine = d->engine, .writer = d->writer, .store = d->store },
                       &d->export, err, sizeof(err));
        if (r < 0)
                log_error("metrics: %s; watching goes on without them", err);

        d->next_tick = mono;
        d->next_fold = mono + MIN(usec_of(d->cfg->interval) * FOLD_TICKS, FOLD_MAX_USEC);
        d->next_maintain = mono;
        return 0;
}

static void teardown(struct daemon *d)
{
        int r;

        control_free(d->control);
        /* Hooks first: their last results are written with everything else. */
        hooks_free(d->hooks);
        if (d->writer) {
                (void)writer_put_event(d->writer, wall_ms(d, now_usec(CLOCK_MONOTONIC)), "stop", NULL);
                /* A -wal deleted since the last commit would be gone with the close. */
                check_store(d, now_usec(CLOCK_MONOTONIC));
                r = writer_flush(d->writer);
                if (r < 0) {
                        struct writer_stats ws;

                        writer_get_stats(d->writer, &ws);
                        log_error("database %s: final write failed: %s; %" PRIu64 " samples lost", d->cfg->db_path,
                                  store_errmsg(d->store), ws.pending);
                        d->exit_code = EXIT_FAILURE;
                }
        }
        export_free(d->export);
        sd_event_source_unref(d->timer);
        agent_free(d->agent);
        /* After the sockets: they are removed while the lock says they are ours. */
        rundir_free(d->rundir);
        sampler_free(d->sampler);
        engine_free(d->engine);
        sd_event_unref(d->event);
        writer_free(d->writer);
        store_close(d->store);
        safe_close(d->proc_root);
        safe_close(d->cgroup_root);
        free_config(d->cfg);
        free(d->rule_ids);
        free(d->generations);
        free_options(&d->opt);
}

int main(int argc, char **argv)
{
        struct daemon d = {
                .proc_root = -1,
                .cgroup_root = -1,
                .db_fail_rl = RATELIMIT_INIT(DB_FAIL_LOG_USEC, 1),
                .overrun_rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 1),
                .cap_rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 1),
                /* Hourly: on a host the budget cannot cover this is the normal state. */
                .budget_rl = RATELIMIT_INIT(3600 * USEC_PER_SEC, 1),
        };
        int r;

        log_open("leakwatchd", false);
        r = parse_args(argc, argv, &d.opt);
        if (r < 0) {
                free_options(&d.opt);
                return r == -EDOM ? EXIT_USAGE : EXIT_FAILURE;
        }
        d.cfg = calloc(1, sizeof(*d.cfg));
        r = d.cfg ? load_config(&d.opt, d.cfg) : -ENOMEM;
        if (d.opt.check_config) {
                if (r >= 0)
                        printf("%s: configuration OK (%zu rule%s)\n", d.opt.config_path,
                               configured_rules(d.cfg), configured_rules(d.cfg) == 1 ? "" : "s");
                free_config(d.cfg);
                free_options(&d.opt);
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        }
        if (r < 0) {
                (void)notify_failed("configuration has errors", r);
                free_config(d.cfg);
                free_options(&d.opt);
                return EXIT_FAILURE;
        }
        log_set_max_level(d.cfg->log_level);
        d.max_watch = raise_fd_limit();
        check_fd_room(d.cfg, d.max_watch);

        r = setup(&d);
        if (r < 0) {
                (void)notify_failed(NULL, r);
                d.writer = NULL; /* nothing measured yet: nothing to flush */
                teardown(&d);
                return EXIT_FAILURE;
        }
        /* Ready once the first pass has stored its data: a client started right after
         * systemd reports us up finds something to show. */
        d.next_tick = now_usec(CLOCK_MONOTONIC);
        on_timer(NULL, 0, &d);
        flush(&d, now_usec(CLOCK_MONOTONIC));
        d.next_commit = now_usec(CLOCK_MONOTONIC) + usec_of(d.cfg->commit_interval);
        (void)writer_put_event(d.writer, wall_ms(&d, now_usec(CLOCK_MONOTONIC)), "start", NULL);
        (void)notify_ready();
        log_info("watching with %zu rule%s, interval %gs, database %s", configured_rules(d.cfg),
                 configured_rules(d.cfg) == 1 ? "" : "s", d.cfg->interval, d.cfg->db_path);

        r = sd_event_loop(d.event);
        if (r < 0) {
                log_error("event loop failed: %s", strerror(-r));
                d.exit_code = EXIT_FAILURE;
        }
        teardown(&d);
        return d.exit_code;
}
