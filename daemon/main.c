/* SPDX-License-Identifier: GPL-2.0-or-later */
/* leakwatchd: watches processes' memory from outside and keeps its history in SQLite.
 *
 * main wires the modules together and alone decides what is fatal: a bad command line
 * or configuration, or a database that cannot be opened at start, ends the program;
 * everything that goes wrong later (a full disk, a locked database, an unreadable
 * process, a broken configuration on reload) is logged, rate-limited, and survived. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "bpfread.h"
#include "caps.h"
#include "config.h"
#include "control.h"
#include "dispatch.h"
#include "exporter.h"
#include "hook.h"
#include "log.h"
#include "notify.h"
#include "proc.h"
#include "procread.h"
#include "rundir.h"
#include "util.h"
#include "watch.h"

#define EXIT_USAGE 2

/* While the database refuses writes, say so at most this often: once a minute is
 * enough to be noticed and not enough to flood the journal. */
#define DB_FAIL_LOG_USEC (60 * USEC_PER_SEC)
/* sd-event lets a timer fire this late to batch wake-ups (its default is 250 ms, which
 * would distort sub-second intervals). 1 ms keeps 0.05 s intervals within 2%. */
#define TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)
/* STATUS= updates are cheap but pointless faster than a person can read them. */
#define STATUS_USEC (1 * USEC_PER_SEC)

/* The flags that set a [daemon] key: --db, --interval, --window, --limit-horizon,
 * --proc-root, --runtime-dir, --log-level. */
#define OPT_KEYS_MAX 7

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
        struct config *cfg;             /* heap: the watch keeps a pointer across reloads */
        uint64_t max_watch;             /* processes the descriptor limit leaves room for */
        struct bpfread *bpf;            /* the tick's BPF pass; NULL: /proc only */
        unsigned fds_per_process;       /* descriptors the backend keeps per watched process */
        sd_event *event;
        sd_event_source *timer;
        struct watch *watch;            /* the sampler, engine, writer, store and agents */
        struct hooks *hooks;
        struct dispatch *dispatch;      /* alert events to the journal and the hooks */
        struct rundir *rundir;          /* NULL: no runtime directory, hence no sockets */
        struct control *control;
        usec_t started_mono;
        struct export *export;          /* Prometheus metrics; NULL if they failed to start */

        usec_t next_status;
        usec_t last_tick_cost;
        struct ratelimit db_fail_rl;
        struct ratelimit overrun_rl;
        struct ratelimit cap_rl, budget_rl;
        uint64_t reported_capped, reported_over_budget;
        bool running;                   /* set up, and the first tick taken */
        bool reload_failed;             /* shown in STATUS= until a reload succeeds */
        int exit_code;
};

static int64_t wall_ms(const struct daemon *d, usec_t mono)
{
        return watch_wall_ms(d->watch, mono);
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

/* Why the BPF pass cannot be used, in words. */
static const char *bpf_refusal(int r)
{
        switch (r) {
        case -EPERM:
                return "not permitted (loading it takes CAP_BPF and CAP_PERFMON)";
        case -ENOENT:
                return "the kernel has no BTF (/sys/kernel/btf/vmlinux) or no BPF task iterator";
        case -EXDEV:
                return "not in the host's PID namespace";
        case -ENOTSUP:
                return "built without BPF (make BPF=0)";
        case -ENOTDIR:
                return "proc-root is not /proc";
        default:
                return strerror(-r);
        }
}

/* Chooses how the tick reads (sampler = auto|bpf|proc), loading the BPF pass if it is
 * to be used, then gives up the capabilities only that load needed: from here on the
 * daemon can load no BPF program, whichever backend it runs. */
static int start_sampler(struct daemon *d)
{
        bool kept = false;
        int r = -ENOTDIR, k;

        d->fds_per_process = PROC_FILES_FDS;
        if (d->cfg->sampler != SAMPLER_PROC) {
                /* The pass reads the host's processes: a fixture proc root is /proc's alone. */
                if (strcmp(d->cfg->proc_root, "/proc") == 0)
                        r = bpfread_new(&d->bpf);
                if (r < 0 && d->cfg->sampler == SAMPLER_BPF) {
                        log_error("sampler = bpf: cannot load the BPF task iterator: %s", bpf_refusal(r));
                        return r;
                }
                if (r < 0)
                        log_notice("sampling through /proc: the BPF task iterator cannot be used: %s", bpf_refusal(r));
        }
        k = caps_drop_start(&kept);
        if (k < 0)
                log_warning("cannot give up CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN and CAP_SETPCAP: %s", strerror(-k));
        else if (kept)
                log_debug("CAP_BPF, CAP_PERFMON or CAP_SYS_ADMIN stays in the bounding set (no CAP_SETPCAP to drop it)");
        if (d->bpf) {
                d->fds_per_process = PROCREAD_PASS_FDS;
                log_info("sampler: bpf (one task-iterator pass per tick; /proc for smaps and command lines)");
        } else {
                log_info("sampler: proc");
        }
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
static uint64_t raise_fd_limit(unsigned per)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        (void)getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur == RLIM_INFINITY || per == 0)
                return 0;
        return rl.rlim_cur > FD_RESERVE + per ? (rl.rlim_cur - FD_RESERVE) / per : 1;
}

/* Says once, at start and after a reload that raised max-processes, when descriptors
 * and not max-processes will bound what is watched: otherwise descriptors would run out
 * for the database and hooks first. */
static void check_fd_room(const struct config *cfg, uint64_t max_watch, unsigned per)
{
        if (max_watch && cfg->max_processes > max_watch)
                log_warning("max-processes %" PRIu64 " needs %" PRIu64 " descriptors but RLIMIT_NOFILE leaves room "
                            "for %" PRIu64 " processes: watching at most that many (raise LimitNOFILE=)",
                            cfg->max_processes, cfg->max_processes * per + FD_RESERVE, max_watch);
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

/* ---- the periodic work ---- */

/* Says what a tick or a commit did that someone should know: a database that refuses
 * writes (rate-limited) or takes them again, a fold or retention pass that failed, a
 * scan that failed, sampling that outlasted the interval. */
static void report_repair(struct daemon *d, const struct watch_report *rep, usec_t mono)
{
        unsigned suppressed;

        if (rep->fault_first)
                log_error("database %s: %s; repairing", d->cfg->db_path, store_fault_name(rep->fault));
        if (rep->repair_error < 0 && ratelimit_allow(&d->db_fail_rl, mono, &suppressed))
                log_warning("database %s: repair not done yet: %s (%s); retrying at the next commit",
                            d->cfg->db_path, strerror(-rep->repair_error), store_errmsg(watch_store(d->watch)));
        if (rep->repaired)
                log_notice("database %s: repaired (%s)", d->cfg->db_path, rep->repaired);
}

static void report(struct daemon *d, const struct watch_report *rep, usec_t mono)
{
        struct store *st = watch_store(d->watch);
        unsigned suppressed;
        char a[32], b[32];

        report_repair(d, rep, mono);
        if (rep->scan_error < 0)
                log_error("scanning %s failed: %s", d->cfg->proc_root, strerror(-rep->scan_error));
        if (rep->committed && rep->commit_error < 0) {
                struct writer_stats ws;

                writer_get_stats(watch_writer(d->watch), &ws);
                if (ratelimit_allow(&d->db_fail_rl, mono, &suppressed))
                        log_error("database %s: write failed: %s (%s); %" PRIu64 " samples waiting, %" PRIu64
                                  " dropped so far; retrying", d->cfg->db_path, strerror(-rep->commit_error),
                                  store_errmsg(st), ws.pending, ws.dropped);
        }
        if (rep->recovered) {
                log_notice("database %s: writable again, backlog written (%" PRIu64 " samples dropped while it "
                           "failed)", d->cfg->db_path, rep->dropped);
                d->db_fail_rl.begin = 0;
        }
        if (rep->folded && rep->fold_error < 0)
                log_warning("database %s: fold failed: %s, will retry", d->cfg->db_path, store_errmsg(st));
        else if (rep->folded)
                log_debug("folded %" PRId64 " samples in %.3f s", rep->folded_rows,
                          (double)rep->housekeeping / (double)USEC_PER_SEC);
        if (rep->maintained && rep->maintain_error < 0)
                log_warning("database %s: retention pass failed: %s, will retry", d->cfg->db_path, store_errmsg(st));
        else if (rep->maintained && rep->pruned_rows > 0)
                log_debug("retention: pruned %" PRId64 " rows", rep->pruned_rows);
        if (rep->pace == PACE_OVERRUN && ratelimit_allow(&d->overrun_rl, mono, &suppressed))
                log_warning("sampling took %s, longer than the interval %s: sampling less often (%u more "
                            "such ticks not reported)", format_duration((double)rep->work / 1e6, a, sizeof(a)),
                            format_duration(d->cfg->interval, b, sizeof(b)), suppressed);
}

static void update_status(struct daemon *d, usec_t mono)
{
        struct sampler_stats ss;
        struct engine_stats es;

        if (mono < d->next_status)
                return;
        d->next_status = mono + STATUS_USEC;
        sampler_get_stats(watch_sampler(d->watch), &ss);
        engine_get_stats(watch_engine(d->watch), &es);
        (void)notify_status(&(struct notify_status){
                .processes = ss.watched,
                .rules = configured_rules(d->cfg),
                .alerts = (int)es.open_alerts,
                .last_tick = d->last_tick_cost,
                .db_failing = watch_db_failing(d->watch),
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

/* A time source is one-shot: arm it again for the next deadline. */
static void arm_timer(struct daemon *d)
{
        (void)sd_event_source_set_time(d->timer, watch_next_tick(d->watch));
        (void)sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
}

static int on_timer(sd_event_source *s UNUSED, uint64_t usec UNUSED, void *userdata)
{
        struct daemon *d = userdata;
        usec_t started = now_usec(CLOCK_MONOTONIC);
        struct watch_report rep;

        watch_tick(d->watch, started, &rep);
        d->last_tick_cost = rep.cost;
        report(d, &rep, started + rep.cost);
        arm_timer(d);
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
        usec_t mono = now_usec(CLOCK_MONOTONIC);
        char why[256];
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
            strcmp(cfg->runtime_dir, d->cfg->runtime_dir) != 0 || cfg->sampler != d->cfg->sampler)
                log_warning("reload: database, proc-root, runtime-dir and sampler changes take effect at the next "
                            "restart");
        cfg->sampler = d->cfg->sampler;
        /* Keep what only a restart can change. */
        if (replace_str(&cfg->db_path, d->cfg->db_path) < 0 || replace_str(&cfg->proc_root, d->cfg->proc_root) < 0 ||
            replace_str(&cfg->runtime_dir, d->cfg->runtime_dir) < 0) {
                log_error("reload: out of memory; keeping the running configuration");
                r = -ENOMEM;
                goto fail;
        }
        r = watch_reconfigure(d->watch, cfg, why, sizeof(why));
        if (r < 0) {
                log_error("reload: %s; keeping the running configuration", why);
                goto fail;
        }
        /* From here on the new configuration is in force. */
        if (cfg->max_processes != d->cfg->max_processes)
                check_fd_room(cfg, d->max_watch, d->fds_per_process);
        hooks_set_limits(d->hooks, usec_of(cfg->hook_timeout), cfg->hook_max_running);
        free_config(d->cfg);
        d->cfg = cfg;
        log_set_max_level(d->cfg->log_level);
        watch_event(d->watch, "reload", NULL);
        log_info("configuration reloaded: %zu rule%s", configured_rules(d->cfg),
                 configured_rules(d->cfg) == 1 ? "" : "s");
        d->reload_failed = false;
        r = 0;
        goto done;
fail:
        free_config(cfg);
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

        sampler_get_stats(watch_sampler(d->watch), &ss);
        engine_get_stats(watch_engine(d->watch), &es);
        writer_get_stats(watch_writer(d->watch), &ws);
        (void)store_disk_usage(watch_store(d->watch), &db_size);
        json_object_object_add(reply, "version", json_object_new_string(LEAKWATCH_VERSION));
        add_int(reply, "pid", getpid());
        add_int(reply, "uptime_s", (int64_t)((now_usec(CLOCK_MONOTONIC) - d->started_mono) / USEC_PER_SEC));
        json_object_object_add(reply, "database", json_object_new_string(d->cfg->db_path));
        add_int(reply, "database_bytes", db_size);
        json_object_object_add(reply, "database_failing", json_object_new_boolean(watch_db_failing(d->watch)));
        json_object_object_add(reply, "interval_s", json_object_new_double(d->cfg->interval));
        json_object_object_add(reply, "sampler", json_object_new_string(ss.bpf ? "bpf" : "proc"));
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
        bool longer = false;
        int r;

        r = req_int(req, "pid", 1, INT32_MAX, true, &pid, why, whysz);
        if (r >= 0)
                r = req_int(req, "window_s", WINDOW_MIN, WINDOW_MAX, false, &window, why, whysz);
        if (r < 0)
                return r;
        if (json_object_object_get_ex(req, "rule", &v)) {
                if (!json_object_is_type(v, json_type_string)) {
                        snprintf(why, whysz, "\"rule\" must be a string");
                        return -EINVAL;
                }
                rule = json_object_get_string(v);
        }
        /* "scales": true: the window is the shortest scale, the longer ones judge too. */
        if (json_object_object_get_ex(req, "scales", &v)) {
                if (!json_object_is_type(v, json_type_boolean)) {
                        snprintf(why, whysz, "\"scales\" must be true or false");
                        return -EINVAL;
                }
                longer = json_object_get_boolean(v);
        }
        r = watch_pid(d->watch, (pid_t)pid, rule, (double)window, longer, &id);
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
        add_int(reply, "process_id", id);
        json_object_object_add(reply, "rule", json_object_new_string(rule));
        log_info("watching pid %" PRId64 " on request (rule %s)", pid, rule);
        return 0;
}

/* Asks the agents of a watched process for its allocation sites for a while. */
static int control_trace(struct daemon *d, struct json_object *req, struct json_object *reply, char *why,
                         size_t whysz)
{
        int64_t pid, seconds = TRACE_DEFAULT_S;
        int r;

        r = req_int(req, "pid", 1, INT32_MAX, true, &pid, why, whysz);
        if (r >= 0)
                r = req_int(req, "seconds", TRACE_MIN_S, TRACE_MAX_S, false, &seconds, why, whysz);
        if (r < 0)
                return r;
        r = watch_trace(d->watch, (pid_t)pid, (double)seconds, now_usec(CLOCK_MONOTONIC));
        switch (r) {
        case 0:
                break;
        case -ENOENT:
                snprintf(why, whysz, "process %" PRId64 " is not watched", pid);
                return r;
        case -EOPNOTSUPP:
                snprintf(why, whysz, "the daemon runs without agents (agent-socket = no)");
                return r;
        default:
                snprintf(why, whysz, "cannot ask for allocation sites: %s", strerror(-r));
                return r;
        }
        add_int(reply, "seconds", seconds);
        log_info("allocation sites of pid %" PRId64 " asked for %" PRId64 " s", pid, seconds);
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
                r = watch_unwatch(d->watch, (pid_t)pid);
                if (r < 0)
                        snprintf(why, whysz, "process %" PRId64 " is not watched", pid);
                return r;
        }
        if (strcmp(cmd, "trace") == 0)
                return control_trace(d, req, reply, why, whysz);
        if (strcmp(cmd, "reload") == 0) {
                r = reload(d);
                if (r < 0)
                        snprintf(why, whysz, "the new configuration was refused (see the daemon's log); the "
                                 "running one stays");
                return r;
        }
        {
                /* The peer's bytes, shown as text: escaped (a character cut at 32 bytes as \xNN). */
                char shown[4 * 32 + 1];

                str_escape(cmd, strnlen(cmd, 32), shown, sizeof(shown));
                snprintf(why, whysz, "unknown command '%s'", shown);
        }
        return -EOPNOTSUPP;
}

/* ---- start and stop ---- */

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: leakwatchd [OPTION]...\n"
                "Watch processes' memory and keep its history; detect leaks.\n\n"
                "  -c, --config FILE      configuration file (default " CONFIG_DEFAULT_PATH ")\n"
                "  -d, --db PATH          database file (default " DB_PATH_DEFAULT ")\n"
                "  -i, --interval SECONDS sampling interval; fractions allowed (0.2)\n"
                "  -p, --pid PID          watch this process (repeatable); replaces the file's rules\n"
                "  -m, --match REGEX      watch processes whose command line matches (repeatable)\n"
                "  -w, --window DURATION  pin one detector time scale (default: every scale, 12m to 54h)\n"
                "      --limit-horizon DURATION  alert growth that will reach a known limit within\n"
                "                         this long (default 1h; 0: off)\n"
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
        enum { OPT_PROC_ROOT = 256, OPT_RUNTIME_DIR, OPT_LOG_LEVEL, OPT_CHECK, OPT_VERSION, OPT_LIMIT_HORIZON };
        static const struct option longopts[] = {
                { "config", required_argument, NULL, 'c' },
                { "db", required_argument, NULL, 'd' },
                { "interval", required_argument, NULL, 'i' },
                { "pid", required_argument, NULL, 'p' },
                { "match", required_argument, NULL, 'm' },
                { "window", required_argument, NULL, 'w' },
                { "limit-horizon", required_argument, NULL, OPT_LIMIT_HORIZON },
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
                case OPT_LIMIT_HORIZON:
                        (void)set_key(o, "--limit-horizon", "limit-horizon", optarg, false);
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


static void on_hook_done(void *userdata, const struct hook_result *res)
{
        struct daemon *d = userdata;

        dispatch_hook_done(d->dispatch, res);
}

static int64_t now_ms(void *userdata)
{
        return wall_ms(userdata, now_usec(CLOCK_MONOTONIC));
}

/* What the watch says about itself that does not stop it. */
static void on_notice(void *userdata UNUSED, int prio, const char *msg)
{
        log_msg(prio, "%s", msg);
}

static int setup_event_loop(struct daemon *d)
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
                r = sd_event_add_time(d->event, &d->timer, CLOCK_MONOTONIC, now_usec(CLOCK_MONOTONIC),
                                      TIMER_ACCURACY_USEC, on_timer, d);
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

/* leakwatchd's own system unit, which a restart must never name; "" when it runs in
 * none (started by hand) or the cgroup cannot be read. */
static void self_unit(char *buf, size_t sz)
{
        char text[2048], path[PROC_CGROUP_MAX];
        ssize_t n;

        buf[0] = '\0';
        n = proc_read_file(AT_FDCWD, "/proc/self/cgroup", text, sizeof(text));
        if (n > 0 && proc_parse_cgroup(text, (size_t)n, path, sizeof(path)) == 0)
                (void)proc_cgroup_system_unit(path, buf, sz);
}

static int setup(struct daemon *d)
{
        char unit[PROC_UNIT_MAX + 1];
        struct engine_sink sink;
        struct watch_env wenv;
        char err[512];
        const char *path;
        usec_t mono;
        int r;

        r = open_runtime_dir(d);
        if (r < 0)
                return r;
        r = setup_event_loop(d);
        if (r < 0) {
                log_error("cannot set up the event loop: %s", strerror(-r));
                return r;
        }
        wenv = (struct watch_env){
                .cfg = d->cfg,
                .self = getpid(),
                .max_watch = d->max_watch,
                .bpf = d->bpf,
                .agent_dir = d->rundir && d->cfg->agent_socket ? rundir_path(d->rundir) : NULL,
                .event = d->event,
                .notice = on_notice,
                .userdata = d,
        };
        r = watch_new(&wenv, &d->watch, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                return r;
        }
        r = hooks_new(d->event, &(struct hooks_opts){ .timeout = usec_of(d->cfg->hook_timeout),
                                                      .max_running = d->cfg->hook_max_running,
                                                      .owner = getuid(), .done = on_hook_done, .userdata = d },
                      &d->hooks, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err);
                return r;
        }
        log_info("hooks: %s", hooks_reap_describe(d->hooks));
        self_unit(unit, sizeof(unit));
        r = dispatch_new(&(struct dispatch_env){ .hooks = d->hooks, .watch = d->watch, .cfg = &d->cfg,
                                                 .now_ms = now_ms, .userdata = d, .event = d->event,
                                                 .self_unit = unit },
                         &d->dispatch);
        if (r < 0) {
                log_error("cannot set up alerts: %s (%s)", strerror(-r), store_errmsg(watch_store(d->watch)));
                return r;
        }
        dispatch_sink(d->dispatch, &sink);
        watch_set_sink(d->watch, &sink);
        mono = now_usec(CLOCK_MONOTONIC);
        r = watch_resume(d->watch, mono);
        if (r < 0)
                log_warning("cannot resume the previous run's processes: %s", store_errmsg(watch_store(d->watch)));
        /* Agents only add detail to alerts: the daemon runs on without them. */
        r = watch_agent_socket(d->watch, &path);
        if (r < 0 && r != -ENOENT)
                log_warning("cannot listen for in-process agents in %s: %s; running without them",
                            rundir_path(d->rundir), strerror(-r));
        /* Live operations are a convenience: without the socket the daemon still does
         * its job, so a socket that cannot be made is a warning, not a failure. */
        if (d->rundir) {
                r = control_new(d->event, rundir_path(d->rundir), control_handle, d, &d->control);
                if (r < 0)
                        log_warning("no control socket in %s: %s", rundir_path(d->rundir), strerror(-r));
        }
        d->started_mono = mono;

        /* Metrics are for others to read: without them the watching goes on. */
        r = export_new(&(struct export_env){ .event = d->event, .cfg = &d->cfg, .sampler = watch_sampler(d->watch),
                                             .engine = watch_engine(d->watch), .dispatch = d->dispatch,
                                             .writer = watch_writer(d->watch), .store = watch_store(d->watch) },
                       &d->export, err, sizeof(err));
        if (r < 0)
                log_error("metrics: %s; watching goes on without them", err);
        return 0;
}

static void teardown(struct daemon *d)
{
        struct watch_report rep;

        control_free(d->control);
        /* Hooks first: their last results are written with everything else; restarts
         * still waiting for systemd stay recorded as requested. */
        hooks_free(d->hooks);
        dispatch_stop(d->dispatch);
        /* A start that failed measured nothing: nothing to flush. */
        if (d->running) {
                watch_event(d->watch, "stop", NULL);
                /* The store is checked first: a -wal deleted since the last commit would be
                 * gone with the close. */
                watch_flush(d->watch, now_usec(CLOCK_MONOTONIC), &rep);
                report_repair(d, &rep, now_usec(CLOCK_MONOTONIC));
                if (rep.commit_error < 0) {
                        struct writer_stats ws;

                        writer_get_stats(watch_writer(d->watch), &ws);
                        log_error("database %s: final write failed: %s; %" PRIu64 " samples lost", d->cfg->db_path,
                                  store_errmsg(watch_store(d->watch)), ws.pending);
                        d->exit_code = EXIT_FAILURE;
                }
        }
        export_free(d->export);
        sd_event_source_unref(d->timer);
        watch_free(d->watch);
        bpfread_free(d->bpf);
        /* After the sockets: they are removed while the lock says they are ours. */
        rundir_free(d->rundir);
        dispatch_free(d->dispatch);
        sd_event_unref(d->event);
        free_config(d->cfg);
        free_options(&d->opt);
}

int main(int argc, char **argv)
{
        struct daemon d = {
                .db_fail_rl = RATELIMIT_INIT(DB_FAIL_LOG_USEC, 1),
                .overrun_rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 1),
                .cap_rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 1),
                /* Hourly: on a host the budget cannot cover this is the normal state. */
                .budget_rl = RATELIMIT_INIT(3600 * USEC_PER_SEC, 1),
        };
        struct watch_report rep;
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
        r = start_sampler(&d);
        if (r < 0) {
                (void)notify_failed("the BPF sampler cannot be loaded", r);
                free_config(d.cfg);
                free_options(&d.opt);
                return EXIT_FAILURE;
        }
        d.max_watch = raise_fd_limit(d.fds_per_process);
        check_fd_room(d.cfg, d.max_watch, d.fds_per_process);

        r = setup(&d);
        if (r < 0) {
                (void)notify_failed(NULL, r);
                teardown(&d);
                return EXIT_FAILURE;
        }
        /* Ready once the first pass has stored its data: a client started right after
         * systemd reports us up finds something to show. */
        d.running = true;
        on_timer(NULL, 0, &d);
        watch_flush(d.watch, now_usec(CLOCK_MONOTONIC), &rep);
        report(&d, &rep, now_usec(CLOCK_MONOTONIC));
        watch_event(d.watch, "start", NULL);
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
