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

/* More precisely: drop-in names starting with '.' or not ending in ".conf" are
 * ignored. Within one file a [daemon] key may be set only once. The hook keys (hook,
 * on-start, on-escalate, on-end) accumulate across files instead of overriding, so a
 * drop-in can add a hook.
 *
 * Syntax, stricter than inih's defaults because regexes and hook commands hold any
 * character: a line is a comment only when its first non-blank character is '#' or
 * ';' (never inline, so "cmdline = a;b" keeps its ';'); values are never continued on
 * the next line; "key = value" only (no "key: value"); CR LF line ends are accepted;
 * a line may not hold control characters other than tab. */
#ifndef LEAKWATCH_CONFIG_H
#define LEAKWATCH_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "proto.h"

#define CONFIG_DEFAULT_PATH "/etc/leakwatch/leakwatch.conf"
#define CONFIG_DEFAULT_DB "/var/lib/leakwatch/leakwatch.db"
/* Rules per configuration: each is matched against every new process. */
#define CONFIG_RULES_MAX 256
/* PIDs listed in one rule. */
#define RULE_PIDS_MAX 1024
/* Hooks per rule (and globally). */
#define HOOKS_MAX 8
/* Words of one hook command, the program included. */
#define HOOK_ARGV_MAX 32
/* Longest line, CR LF excluded. inih's own default (200) is too short for a regex or a
 * hook command; 4 KiB holds any sensible one (and is the command-line length the
 * sampler keeps, PROC_CMDLINE_MAX), while inih's line buffer stays a small stack array.
 * A longer line is an error, never split or cut. */
#define CONFIG_LINE_MAX 4096
/* Largest file: a configuration is hand-written text, so anything bigger is a mistake
 * (a log or a database given as --config), and it bounds what a reload allocates. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Drop-ins read from conf.d: one per rule is a plausible layout. */
#define CONFIG_DROPINS_MAX CONFIG_RULES_MAX
/* Messages kept in a config_diag; a last one then says the rest were left out, so a
 * megabyte of garbage cannot become a gigabyte of messages. */
#define CONFIG_DIAG_MAX 100
/* The default rule's min-rss: on a server a process under 32 MiB rarely matters even
 * when it leaks, and there are many of them (shells, gettys, agents); skipping them
 * saves descriptors and database rows. One that grows past it is picked up then. */
#define CONFIG_DEFAULT_MIN_RSS (UINT64_C(32) * 1024 * 1024)
/* The control and agent sockets live in runtime-dir, and a socket path must fit
 * sun_path (108 bytes with the NUL): this leaves room for the socket's own name. */
#define CONFIG_RUNTIME_DIR_MAX 80
/* The kernel's largest possible pid (PID_MAX_LIMIT on 64-bit: 4 * 1024 * 1024). */
#define CONFIG_PID_MAX (4 * 1024 * 1024)
/* The longest metrics-listen value: "[" an IPv6 address (at most 45 characters, with an
 * embedded IPv4 address) "]:" and five digits. */
#define CONFIG_LISTEN_MAX 54

/* When a hook runs: hook = (every event), on-start =, on-escalate =, on-end =. */
enum {
        HOOK_ON_START = 1u << 0,        /* a leak alert begins */
        HOOK_ON_ESCALATE = 1u << 1,     /* it gets worse: leaking, or close to a limit */
        HOOK_ON_END = 1u << 2,          /* it recovered or the process ended */
        HOOK_ON_ALL = HOOK_ON_START | HOOK_ON_ESCALATE | HOOK_ON_END,
};

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
        char *file;                     /* where the rule was defined, escaped for
                                         * messages; "--pid", "--match", "built-in" */
        unsigned line;                  /* of its [rule] header; 0 if not from a file */
};

/* A window holds at least this many samples (window >= interval x this), checked for
 * the file and for flags alike: the detector judges the floors of 24 buckets a window
 * and wants 16 of them filled (lib/detect.h); with fewer samples than buckets it would
 * never decide, and a slope fitted to a handful of points is noise anyway. */
#define CONFIG_WINDOW_MIN_SAMPLES 24

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
        double window;                  /* window = DURATION: detector time scale */
        int log_level;                  /* log-level = err|warning|notice|info|debug:
                                         * LOG_ERR .. LOG_DEBUG ("error" is accepted) */
        char *proc_root;                /* proc-root = PATH (tests) */
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

/* Accumulated problems: --check-config prints them all, not just the first. Each
 * message reads "FILE:LINE: what is wrong" (or "FILE: ..." for file-level errors, or
 * "--pid ...:"/"--match ...:" for command-line rules), with file names and values
 * escaped (str_escape) so a message is one printable line. At most CONFIG_DIAG_MAX
 * messages are kept, then one saying that more were left out. Start zeroed. */
struct config_diag {
        char **msgs;
        size_t n;
};

/* Fills cfg with built-in defaults (no rules); the reason for each is beside it in
 * config.c. Returns 0, or -ENOMEM (cfg is then freeable). */
int config_defaults(struct config *cfg);

/* Loads path and its conf.d drop-ins over cfg (which should hold defaults). If the file
 * does not exist and must_exist is false, it counts as empty: cfg keeps its defaults
 * (drop-ins, if any, still apply) and 0 is returned. If must_exist is true, a missing
 * file is an error naming it (-ENOENT). Any other problem adds messages to diag (which
 * may be NULL) and returns -EINVAL, or -errno when a file exists but cannot be read
 * (the first such error; every file is still tried, so all problems are reported).
 * -ENOMEM on allocation failure. On error cfg is left in an unspecified but freeable
 * state: callers load into a fresh struct and swap on success, so a broken reload
 * never replaces a working configuration.
 * Not thread-safe: it sets libinih's process-wide options. */
int config_load(struct config *cfg, const char *path, bool must_exist, struct config_diag *diag);

/* A [daemon] key given on the command line (--interval 0.2 is interval = 0.2). */
struct config_flag {
        const char *flag;               /* as messages name it: "--interval" */
        const char *key;                /* the [daemon] key it sets: "interval" */
        const char *value;              /* as typed */
};

/* config_load, then the flags, in order, over every file: a flag means what its key
 * means in a file. It has the key's bounds; a value that follows the key unless set
 * (commit-interval and scan-interval follow interval, ...) follows the flag too, and one
 * set in a file keeps winning; the checks across keys (commit-interval at least
 * interval, window at least 24 intervals, ...) see the flag's value. A message about a
 * flag reads "--interval: ..." (no line), and one about another key names it as "set by
 * --interval". */
int config_load_with_flags(struct config *cfg, const char *path, bool must_exist, const struct config_flag *flags,
                           size_t n_flags, struct config_diag *diag);

/* Adds the rule used when no rule is configured, named "host": every process of at
 * least CONFIG_DEFAULT_MIN_RSS (all = yes). Returns 0, -EEXIST if a rule has that name,
 * -E2BIG at CONFIG_RULES_MAX, or -ENOMEM. */
int config_add_default_rule(struct config *cfg);

/* Adds a rule for one PID (--pid) or a command-line regex (--match), as the command line
 * does; diag (may be NULL) gets the reason for a bad pid or regex. Rule names: "pid-N"
 * (N the pid) and "match-N" (N the first free number from 1). Returns 0, -EINVAL (bad
 * value), -EEXIST (the name is taken), -E2BIG (CONFIG_RULES_MAX) or -ENOMEM. */
int config_add_pid_rule(struct config *cfg, pid_t pid, struct config_diag *diag);
int config_add_match_rule(struct config *cfg, const char *regex, struct config_diag *diag);

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

/* Frees the messages; diag is then empty and may be reused. */
void config_diag_free(struct config_diag *diag);

/* Parses a metrics-listen value: an IPv4 address or an IPv6 address in brackets, a
 * colon and a port (0..65535; 0 lets the kernel choose one): "127.0.0.1:9184",
 * "[::1]:9184". Names are not resolved (a daemon must not wait for DNS). Returns 0 or
 * -EINVAL. */
int config_parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len);

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
 * here too, so a small process is not watched until it grows past it. A process with
 * no unit ("") never matches a unit glob, nor one with an unknown cgroup ("") a cgroup
 * prefix, which matches whole path components only (/a/b matches /a/b and /a/b/c, not
 * /a/bc). NULL strings in d read as "". Pure. */
bool rule_matches(const struct rule_cfg *r, const struct proc_desc *d);

#endif
