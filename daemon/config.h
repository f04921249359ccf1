/* config: leakwatch.conf and the conf.d drop-ins parsed into a plain struct, with every error
 * naming file, line and what is wrong; and the rules that say which processes to watch.
 *
 * The format is INI (parsed by inih):
 *
 *     [daemon]
 *     database = /var/lib/leakwatch/leakwatch.db
 *     interval = 10s
 *
 *     [rule web]
 *     name = nginx*
 *     children = yes
 *
 * Files: the main file, then <dir of main file>/conf.d/NAME.conf in byte order. [daemon]
 * keys set later override earlier ones; rules accumulate, and a rule name may be
 * defined only once across all files. The full key reference is leakwatch.conf(5). */
#ifndef LEAKWATCH_CONFIG_H
#define LEAKWATCH_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONFIG_DEFAULT_PATH "/etc/leakwatch/leakwatch.conf"
#define CONFIG_DEFAULT_DB "/var/lib/leakwatch/leakwatch.db"
/* A rule name is shown in tables and used in JSON and hook environments: keep it short
 * and printable ([A-Za-z0-9_.@:-]). */
#define RULE_NAME_MAX 64
/* Rules per configuration: each is matched against every new process. */
#define CONFIG_RULES_MAX 256
/* PIDs listed in one rule. */
#define RULE_PIDS_MAX 1024
/* Hooks per rule (and globally). */
#define HOOKS_MAX 8
/* Arguments of one hook command. */
#define HOOK_ARGV_MAX 32

/* When a hook runs: hook = (every event), on-start =, on-escalate =, on-end =. */
enum {
        HOOK_ON_START = 1u << 0,        /* a leak alert begins */
        HOOK_ON_ESCALATE = 1u << 1,     /* it gets worse: leaking, or close to a limit */
        HOOK_ON_END = 1u << 2,          /* it recovered or the process ended */
        HOOK_ON_ALL = HOOK_ON_START | HOOK_ON_ESCALATE | HOOK_ON_END,
};

/* A hook: an absolute program path and its arguments, split on whitespace at parse time
 * (double quotes group words, backslash escapes the next character); never run through
 * a shell. */
struct hook_cfg {
        char **argv;                    /* NULL-terminated; argv[0] is the absolute path */
        unsigned events;                /* HOOK_ON_* */
};

/* A target rule. Every selector that is set must match (they are AND-ed); a rule with
 * no selector is refused at parse time. */
struct rule_cfg {
        char *name;
        pid_t *pids;                    /* pid = ...; matches exactly these processes */
        size_t n_pids;
        char *comm_glob;                /* name = GLOB (fnmatch) against the process name */
        char *cmdline_re_src;           /* cmdline = REGEX (POSIX extended) */
        regex_t cmdline_re;             /* compiled, valid when cmdline_re_src != NULL */
        bool has_uid;
        uid_t uid;                      /* user = NAME or UID (effective uid) */
        char *unit_glob;                /* unit = GLOB against the systemd unit */
        char *cgroup_prefix;            /* cgroup = /PATH: the path or anything below it */
        bool all;                       /* all = yes: every user process on the host */
        uint64_t min_rss;               /* bytes; processes below it are not watched (yet) */
        bool children;                  /* also watch descendants, each and summed per rule */
        double window;                  /* seconds; 0: the global window */
        struct hook_cfg hooks[HOOKS_MAX];
        size_t n_hooks;
        char *file;                     /* where the rule was defined, for messages */
        unsigned line;
};

struct config {
        char *db_path;                  /* database = PATH */
        double interval;                /* interval = DURATION: sampling period */
        double scan_interval;           /* scan-interval = DURATION: looking for new processes */
        unsigned smaps_every;           /* smaps-every = N: smaps_rollup every N-th tick at most */
        double smaps_min_interval;      /* smaps-min-interval = DURATION: per process, at least */
        double commit_interval;         /* commit-interval = DURATION: batch writes this often */
        uint64_t backlog;               /* backlog = N: samples held while the database fails */
        uint64_t max_processes;         /* max-processes = N: watched at once */
        double retention_raw;           /* retention-raw = DURATION */
        double retention_minute;        /* retention-minute = DURATION */
        double retention_hour;          /* retention-hour = DURATION */
        double window;                  /* window = DURATION: detector time scale */
        int log_level;                  /* log-level = err|warning|notice|info|debug */
        char *proc_root;                /* proc-root = PATH (tests) */
        char *runtime_dir;              /* runtime-dir = PATH: control and agent sockets */
        double hook_timeout;            /* hook-timeout = DURATION: then SIGTERM, then SIGKILL */
        unsigned hook_max_running;      /* hook-max-running = N: concurrent hooks */
        struct hook_cfg hooks[HOOKS_MAX];       /* global hooks: run for every rule */
        size_t n_hooks;
        struct rule_cfg *rules;
        size_t n_rules;
};

/* Accumulated problems: --check-config prints them all, not just the first. Each
 * message reads "FILE:LINE: what is wrong" (or "FILE: ..." for file-level errors). */
struct config_diag {
        char **msgs;
        size_t n;
};

/* Fills cfg with built-in defaults (no rules). */
void config_defaults(struct config *cfg);

/* Loads path and its conf.d drop-ins over cfg (which should hold defaults). If the file
 * does not exist and must_exist is false, cfg keeps its defaults and 0 is returned;
 * any other problem adds messages to diag and returns -EINVAL (or -errno for a file
 * that exists but cannot be read). On error cfg is left in an unspecified but freeable
 * state: callers load into a fresh struct and swap on success, so a broken reload
 * never replaces a working configuration. */
int config_load(struct config *cfg, const char *path, bool must_exist, struct config_diag *diag);

/* Adds the rule used when no rule is configured: every process of at least 32 MiB. */
int config_add_default_rule(struct config *cfg);

/* Adds a rule for one PID (--pid) or a command-line regex (--match), as the command line
 * does; diag gets the reason for a bad regex. Rule names: "pid-N", "match-N". */
int config_add_pid_rule(struct config *cfg, pid_t pid, struct config_diag *diag);
int config_add_match_rule(struct config *cfg, const char *regex, struct config_diag *diag);

/* Frees everything cfg owns; cfg may then be reused with config_defaults(). */
void config_free(struct config *cfg);

void config_diag_free(struct config_diag *diag);

/* ---- matching ---- */

/* What a rule is matched against: the process as read from /proc. */
struct proc_desc {
        pid_t pid;
        uid_t uid;                      /* effective */
        const char *comm;               /* name from stat */
        const char *cmdline;            /* joined with spaces; "" for kernel threads */
        const char *cgroup;             /* "" if unknown */
        const char *unit;               /* "" if none */
        uint64_t rss;                   /* bytes */
        bool kthread;
};

/* True if every selector of the rule matches d. `all` and the name/cmdline/user/unit/
 * cgroup selectors never match kernel threads; a listed pid does. min_rss is applied
 * here too, so a small process is not watched until it grows past it. Pure. */
bool rule_matches(const struct rule_cfg *r, const struct proc_desc *d);

#endif
