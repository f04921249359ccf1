/* SPDX-License-Identifier: GPL-2.0-or-later */
/* settings: what a watch runs with — its intervals, budgets, backlog and window, its
 * database and roots, the rules that say which processes to watch and the hooks to run
 * — as one plain struct config, with the built-in defaults (the reason for each is
 * beside it in settings.c) and the rule that processes watched on request belong to.
 *
 * leakwatchd fills it from leakwatch.conf and its command line (daemon/config.h, which
 * also documents every key); leakwatch run fills it in-process for its own watch. Both
 * hand it to the watch (core/watch.h), which keeps a pointer: it must outlive the watch
 * or the next reconfiguration. */
#ifndef LEAKWATCH_SETTINGS_H
#define LEAKWATCH_SETTINGS_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Rules per configuration: each is matched against every new process. */
#define CONFIG_RULES_MAX 256
/* PIDs listed in one rule. */
#define RULE_PIDS_MAX 1024
/* Hooks per rule (and globally). */
#define HOOKS_MAX 8
/* Words of one hook command, the program included. */
#define HOOK_ARGV_MAX 32

/* When a hook runs: hook = (every event), on-start =, on-escalate =, on-end =. */
enum {
        HOOK_ON_START = 1u << 0,        /* a leak alert begins */
        HOOK_ON_ESCALATE = 1u << 1,     /* it gets worse: leaking, or close to a limit */
        HOOK_ON_END = 1u << 2,          /* it recovered or the process ended */
        HOOK_ON_ALL = HOOK_ON_START | HOOK_ON_ESCALATE | HOOK_ON_END,
};

/* What a rule does about a leak beyond the alert (escalate = ...; core/escalate.h). */
enum escalate_mode {
        ESCALATE_WARN,                  /* the alert, its journal message and hooks */
        ESCALATE_EVIDENCE,              /* and an evidence bundle under the state directory */
        ESCALATE_RESTART,               /* and a restart of the process's service when a
                                         * limit is near, within the rule's restart-* keys */
        ESCALATE__MAX
};
/* Units one rule may name in restart-units. */
#define RESTART_UNITS_MAX 32
/* restart-max when unset: three restarts a day let a slow leak be cured by a nightly
 * restart and a couple more, and no more than that. */
#define RESTART_MAX_DEFAULT 3
/* restart-horizon when unset: an hour's notice, as the limit alerts use. */
#define RESTART_HORIZON_DEFAULT 3600.0

/* A hook: an absolute program path and its arguments, split on whitespace at parse time
 * (double quotes group words, backslash escapes the next character, inside quotes too;
 * single quotes are ordinary characters); never run through a shell. */
struct hook_cfg {
        char **argv;                    /* NULL-terminated, at most HOOK_ARGV_MAX words;
                                         * argv[0] is the absolute path */
        unsigned events;                /* HOOK_ON_* */
};

/* A target rule. Every selector that is set must match (they are AND-ed); a rule with
 * no selector is refused at parse time. The selectors are pid, name, cmdline, user,
 * unit, cgroup and all; `all = yes` must be the only selector of its rule (with it, any
 * other selector would either be redundant or be meant as "or", which it is not). */
struct rule_cfg {
        char *name;
        pid_t *pids;                    /* pid = ...; matches exactly these processes;
                                         * sorted, without duplicates */
        size_t n_pids;
        char *comm_glob;                /* name = GLOB (fnmatch, no flags) against the
                                         * process name */
        char *cmdline_re_src;           /* cmdline = REGEX (POSIX extended, unanchored) */
        regex_t cmdline_re;             /* compiled, valid when cmdline_re_src != NULL */
        bool has_uid;
        uid_t uid;                      /* user = NAME or UID (effective uid) */
        char *unit_glob;                /* unit = GLOB against the systemd unit */
        char *cgroup_prefix;            /* cgroup = /PATH: the path or anything below it;
                                         * stored without a trailing '/' (but "/") */
        bool all;                       /* all = yes: every user process on the host */
        uint64_t min_rss;               /* bytes; processes below it are not watched (yet) */
        bool children;                  /* also watch descendants, each and summed per rule */
        bool manual;                    /* matches nothing by itself: PIDs are put under it
                                         * through the control socket (`leakwatch run`) */
        double window;                  /* seconds; 0: the global window */
        struct hook_cfg hooks[HOOKS_MAX];
        size_t n_hooks;
        enum escalate_mode escalate;    /* escalate = warn|evidence|restart */
        char **restart_units;           /* restart-units = A.service B.service: the only
                                         * units a restart may be asked for */
        size_t n_restart_units;
        unsigned restart_max;           /* restart-max = N: per unit per day */
        bool restart_dry_run;           /* restart-dry-run = yes: decide and record, never ask */
        double restart_horizon;         /* restart-horizon = DURATION: the forecast must reach
                                         * a limit within this */
        char *file;                     /* where the rule was defined, escaped for
                                         * messages; "--pid", "--match", "built-in" */
        unsigned line;                  /* of its [rule] header; 0 if not from a file */
};

/* How the tick reads the watched processes (sampler = ...). */
enum sampler_backend {
        SAMPLER_AUTO,                   /* the BPF pass if it loads, /proc otherwise */
        SAMPLER_BPF,                    /* the BPF pass, or the daemon does not start */
        SAMPLER_PROC,                   /* /proc only */
};

struct config {
        char *db_path;                  /* database = PATH */
        uint64_t max_db_size;           /* max-db-size = SIZE: cap on the database file,
                                         * whose writes then fail like a full disk; 0: none */
        double interval;                /* interval = DURATION: sampling period */
        double scan_interval;           /* scan-interval = DURATION: looking for new
                                         * processes; follows interval unless set */
        unsigned smaps_every;           /* smaps-every = N: smaps_rollup every N-th tick at most */
        double smaps_min_interval;      /* smaps-min-interval = DURATION: per process under
                                         * suspicion (suspect, leaking), at least */
        double smaps_max_interval;      /* smaps-max-interval = DURATION: per stable process;
                                         * follows smaps-min-interval up unless set */
        double smaps_budget;            /* smaps-budget = PERCENT: share of one core (0..1)
                                         * smaps reads may take, host-wide */
        double commit_interval;         /* commit-interval = DURATION: batch writes this
                                         * often; follows interval unless set */
        uint64_t backlog;               /* backlog = N: samples held while the database fails */
        uint64_t max_processes;         /* max-processes = N: watched at once */
        double retention_raw;           /* retention-raw = DURATION */
        double retention_minute;        /* retention-minute = DURATION */
        double retention_hour;          /* retention-hour = DURATION */
        double window;                  /* window = DURATION: pins one detector time scale;
                                         * 0: every scale (lib/scales.h) */
        bool window_and_longer;         /* not a key: window is the shortest scale, and the
                                         * default longer ones judge too (leakwatch run) */
        double limit_horizon;           /* limit-horizon = DURATION: growth that will reach a
                                         * known limit within this long is alerted; 0: off */
        int log_level;                  /* log-level = err|warning|notice|info|debug:
                                         * LOG_ERR .. LOG_DEBUG ("error" is accepted) */
        char *proc_root;                /* proc-root = PATH (tests) */
        enum sampler_backend sampler;   /* sampler = auto|bpf|proc: how the tick reads */
        char *cgroup_root;              /* cgroup-root = PATH: the cgroup2 mount (tests) */
        char *runtime_dir;              /* runtime-dir = PATH: control and agent sockets */
        bool agent_socket;              /* agent-socket = yes|no: listen for in-process agents */
        double agent_interval;          /* agent-interval = DURATION: one report per process per
                                         * this long on average; faster ones are dropped */
        double hook_timeout;            /* hook-timeout = DURATION: then SIGTERM, then SIGKILL */
        unsigned hook_max_running;      /* hook-max-running = N: concurrent hooks */
        char *metrics_listen;           /* metrics-listen = ADDRESS:PORT: the HTTP endpoint;
                                         * NULL: off (the default, or "no") */
        char *metrics_textfile;         /* metrics-textfile = PATH.prom: node_exporter's
                                         * textfile collector; NULL: off */
        double metrics_textfile_interval;       /* metrics-textfile-interval = DURATION */
        uint64_t metrics_max_series;    /* metrics-max-series = N: process-group series */
        bool metrics_pid_label;         /* metrics-pid-label = yes: a series per process */
        struct hook_cfg hooks[HOOKS_MAX];       /* global hooks: run for every rule;
                                                 * accumulate across files */
        size_t n_hooks;
        struct rule_cfg *rules;
        size_t n_rules;
};

/* Fills cfg with built-in defaults (no rules); the reason for each is beside it in
 * settings.c. Returns 0, or -ENOMEM (cfg is then freeable). */
int config_defaults(struct config *cfg);

/* Removes every rule, keeping the rest: rules given on the command line replace the
 * configured ones. */
void config_drop_rules(struct config *cfg);

/* Adds the rule that processes watched on request (control socket) belong to: it has
 * no selector, takes children, and is never matched by a scan. A configured rule of
 * that name takes its place. Returns 0 or -errno. */
#define CONFIG_MANUAL_RULE "run"
int config_add_manual_rule(struct config *cfg);

/* Frees everything cfg owns; cfg may then be reused with config_defaults(). Accepts a
 * zeroed struct and may be called twice. */
void config_free(struct config *cfg);

/* For the configuration's parser: the rule of that name, or NULL; a new empty rule at the
 * end (0, -E2BIG at CONFIG_RULES_MAX, or -ENOMEM; file and line say where it was
 * defined); and a rule's memory (the rule is then zeroed). */
struct rule_cfg *config_find_rule(const struct config *cfg, const char *name);
int config_rule_append(struct config *cfg, const char *name, const char *file, unsigned line,
                       struct rule_cfg **ret);
void config_rule_free(struct rule_cfg *r);

/* A rule's selectors in words into buf (at most sz bytes, cut to fit), as the database
 * records them for the client: "name=nginx* min-rss=32.0 MiB children". */
void config_rule_spec(const struct rule_cfg *r, char *buf, size_t sz);

#endif
