/* SPDX-License-Identifier: GPL-2.0-or-later */
/* config: leakwatch.conf and its conf.d drop-ins parsed into struct config, with every
 * problem reported as "FILE:LINE: what is wrong" — all of them, not just the first.
 *
 * inih splits "key = value" lines and trims them; everything else is ours. inih reads
 * through our line reader (reader()), which
 *   - counts lines, so the handler knows where it is (this libinih's handler has no line
 *     number): inih calls the handler for a line before it asks for the next one, so the
 *     current line is the last one the reader returned;
 *   - refuses a line longer than CONFIG_LINE_MAX, or holding control bytes (NUL among
 *     them), instead of letting inih split it into pieces that parse as other lines;
 *   - parses section headers itself, because inih cuts a section name at 49 bytes
 *     (its MAX_SECTION), which would silently rename [rule NAME] for long names; inih
 *     gets a blank line in their place and its section argument is ignored;
 *   - reports the lines inih would only count as errors (no '=', a '[' without ']'), so
 *     each gets a message, and hands inih a blank line instead.
 * The file is read whole first (at most CONFIG_FILE_MAX), so a line is a byte range of
 * that buffer and nothing is ever cut.
 *
 * Values are checked as they are read; checks that involve two keys run once all files
 * are read, because a drop-in may change either of them. The loader never logs: every
 * message goes into the caller's struct config_diag. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "escalate.h"
#include "proc.h"
#include "util.h"

/* A user process's name is at most 15 bytes (TASK_COMM_LEN 16 with the NUL), so a name
 * without wildcards that is longer can never match one; the user usually meant the
 * program's full name, which cmdline = matches. */
#define COMM_USER_MAX 15
/* A name or unit glob: unit names are at most 256 bytes (PROC_UNIT_MAX) and process
 * names far shorter, so a longer pattern is a mistake. */
#define GLOB_MAX 256
/* min-rss: 16 TiB is beyond the memory of any one process on today's largest hosts;
 * a larger value would make the rule match nothing. */
#define MIN_RSS_MAX (UINT64_C(16) << 40)
/* A value is shown in a message up to this many bytes (escaped, so up to four times
 * as many characters): enough to recognise it while the message stays one line. */
#define QUOTE_SRC_MAX 80
/* Durations are doubles; a range check must not refuse "50ms" because 50/1000 and
 * the bound were rounded differently. */
#define EPSILON 1e-9

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* ---- diagnostics ---- */

static int diag_vadd(struct config_diag *diag, const char *fmt, va_list ap)
{
        char **msgs;
        char *msg;

        if (!diag || diag->n > CONFIG_DIAG_MAX)
                return 0;
        if (diag->n == CONFIG_DIAG_MAX) {
                msg = strdup("too many errors; the rest are not shown");
        } else if (vasprintf(&msg, fmt, ap) < 0) {
                msg = NULL;
        }
        if (!msg)
                return -ENOMEM;
        msgs = realloc(diag->msgs, (diag->n + 1) * sizeof(*msgs));
        if (!msgs) {
                free(msg);
                return -ENOMEM;
        }
        msgs[diag->n++] = msg;
        diag->msgs = msgs;
        return 0;
}

static int PRINTF(2, 3) diag_add(struct config_diag *diag, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = diag_vadd(diag, fmt, ap);
        va_end(ap);
        return r;
}

void config_diag_free(struct config_diag *diag)
{
        if (!diag)
                return;
        for (size_t i = 0; i < diag->n; i++)
                free(diag->msgs[i]);
        free(diag->msgs);
        diag->msgs = NULL;
        diag->n = 0;
}

/* A value from a file or the command line, escaped and cut for a message. */
struct quoted {
        char s[QUOTE_SRC_MAX * 4 + sizeof("...")];
};

static const char *quote(struct quoted *q, const char *v)
{
        size_t len = strlen(v), n = MIN(len, (size_t)QUOTE_SRC_MAX);
        /* str_escape writes at most four characters per byte, so n bytes always fit. */
        size_t o = str_escape(v, n, q->s, sizeof(q->s) - 3);

        if (n < len)
                memcpy(q->s + o, "...", 4);
        return q->s;
}

/* An escaped copy of a whole string (a file name), or NULL. */
static char *escape_dup(const char *s)
{
        size_t len = strlen(s);
        char *e = malloc(len * 4 + 1);

        if (e)
                str_escape(s, len, e, len * 4 + 1);
        return e;
}

/* ---- the keys ---- */

enum value_type { V_PATH, V_DURATION, V_COUNT, V_SIZE, V_PERCENT, V_LOG_LEVEL, V_HOOK, V_BOOL, V_LISTEN, V_TEXTFILE,
                  V_SAMPLER };

enum daemon_key {
        DK_DATABASE, DK_MAX_DB_SIZE, DK_INTERVAL, DK_SCAN_INTERVAL, DK_SMAPS_EVERY, DK_SMAPS_MIN_INTERVAL,
        DK_SMAPS_MAX_INTERVAL, DK_SMAPS_BUDGET,        DK_COMMIT_INTERVAL, DK_BACKLOG, DK_MAX_PROCESSES, DK_RETENTION_RAW,
        DK_RETENTION_MINUTE, DK_RETENTION_HOUR, DK_WINDOW, DK_LIMIT_HORIZON, DK_LOG_LEVEL, DK_PROC_ROOT, DK_SAMPLER,
        DK_CGROUP_ROOT, DK_RUNTIME_DIR, DK_HOOK_TIMEOUT, DK_HOOK_MAX_RUNNING, DK_METRICS_LISTEN,
        DK_METRICS_TEXTFILE, DK_METRICS_TEXTFILE_INTERVAL, DK_METRICS_MAX_SERIES, DK_METRICS_PID_LABEL,
        DK_HOOK, DK_ON_START, DK_ON_ESCALATE, DK_ON_END, DK_AGENT_SOCKET, DK_AGENT_INTERVAL,
        DK__MAX
};

struct key_def {
        const char *name;
        enum value_type type;
        size_t offset;                  /* of the field in struct config */
        size_t size;                    /* of that field (V_COUNT: unsigned or uint64_t) */
        double min, max;                /* V_DURATION: seconds; V_COUNT; V_SIZE: bytes (0 is
                                         * always allowed); V_PATH: max length */
        const char *range;              /* the bounds as a message shows them */
        unsigned events;                /* V_HOOK */
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static const struct key_def daemon_keys[DK__MAX] = {
        [DK_DATABASE] = { "database", V_PATH, FIELD(db_path), 0, PATH_MAX - 1, NULL, 0 },
        /* Under 16 MiB the schema and one busy tick would not fit; over 16 TiB is past
         * any disk it could protect. */
        [DK_MAX_DB_SIZE] = { "max-db-size", V_SIZE, FIELD(max_db_size), 16 * 1048576.0,
                             16 * 1099511627776.0, "0, or 16M..16T", 0 },
        /* Under 50 ms, reading /proc would cost real CPU and show nothing new (the
         * kernel's RSS counters are themselves updated in batches); over an hour, a
         * leak could fill memory between two samples. */
        [DK_INTERVAL] = { "interval", V_DURATION, FIELD(interval), INTERVAL_MIN, INTERVAL_MAX, INTERVAL_RANGE,
                           0 },
        [DK_SCAN_INTERVAL] = { "scan-interval", V_DURATION, FIELD(scan_interval), 0.05, 3600,
                               "50ms..1h", 0 },
        [DK_SMAPS_EVERY] = { "smaps-every", V_COUNT, FIELD(smaps_every), 1, 10000, "1..10000", 0 },
        /* 0 turns the floor off; a day is the most that still gives a daily reading. */
        [DK_SMAPS_MIN_INTERVAL] = { "smaps-min-interval", V_DURATION, FIELD(smaps_min_interval),
                                    0, 86400, "0..1d", 0 },
        [DK_SMAPS_MAX_INTERVAL] = { "smaps-max-interval", V_DURATION, FIELD(smaps_max_interval),
                                    0, 86400, "0..1d", 0 },
        /* Under 0.1% of a core a single read of a big process would leave minutes of
         * debt; 100% is no limit at all. */
        [DK_SMAPS_BUDGET] = { "smaps-budget", V_PERCENT, FIELD(smaps_budget), 0.001, 1, "0.1%..100%", 0 },
        [DK_COMMIT_INTERVAL] = { "commit-interval", V_DURATION, FIELD(commit_interval), 0.05,
                                 3600, "50ms..1h", 0 },
        /* 0 drops samples at once when the database fails; a million samples is some
         * 150 MiB, the most a watchdog should hold on a host it is watching. */
        [DK_BACKLOG] = { "backlog", V_COUNT, FIELD(backlog), 0, 1000000, "0..1000000", 0 },
        /* Three descriptors each: 100000 processes need 300000, below systemd's
         * default hard RLIMIT_NOFILE (524288). */
        [DK_MAX_PROCESSES] = { "max-processes", V_COUNT, FIELD(max_processes), 1, 100000,
                               "1..100000", 0 },
        /* At least an hour, or the data would be gone before anyone looks; at most ten
         * years, longer than any host lives. */
        [DK_RETENTION_RAW] = { "retention-raw", V_DURATION, FIELD(retention_raw), 3600,
                               3650 * 86400.0, "1h..3650d", 0 },
        [DK_RETENTION_MINUTE] = { "retention-minute", V_DURATION, FIELD(retention_minute), 3600,
                                  3650 * 86400.0, "1h..3650d", 0 },
        [DK_RETENTION_HOUR] = { "retention-hour", V_DURATION, FIELD(retention_hour), 3600,
                                3650 * 86400.0, "1h..3650d", 0 },
        [DK_WINDOW] = { "window", V_DURATION, FIELD(window), WINDOW_MIN, WINDOW_MAX, WINDOW_RANGE, 0 },
        /* 0 turns it off; past a day, a rate measured over minutes says nothing. */
        [DK_LIMIT_HORIZON] = { "limit-horizon", V_DURATION, FIELD(limit_horizon), 0, 86400, "0..1d", 0 },
        [DK_LOG_LEVEL] = { "log-level", V_LOG_LEVEL, FIELD(log_level), 0, 0, NULL, 0 },
        [DK_PROC_ROOT] = { "proc-root", V_PATH, FIELD(proc_root), 0, PATH_MAX - 1, NULL, 0 },
        [DK_SAMPLER] = { "sampler", V_SAMPLER, FIELD(sampler), 0, 0, NULL, 0 },
        [DK_CGROUP_ROOT] = { "cgroup-root", V_PATH, FIELD(cgroup_root), 0, PATH_MAX - 1, NULL, 0 },
        [DK_RUNTIME_DIR] = { "runtime-dir", V_PATH, FIELD(runtime_dir), 0, CONFIG_RUNTIME_DIR_MAX,
                             NULL, 0 },
        /* A hook gets at least 100 ms before SIGTERM, and at most an hour. */
        [DK_HOOK_TIMEOUT] = { "hook-timeout", V_DURATION, FIELD(hook_timeout), 0.1, 3600,
                              "100ms..1h", 0 },
        /* Each running hook is a child process and a pidfd: 64 at once is already a
         * storm. */
        [DK_HOOK_MAX_RUNNING] = { "hook-max-running", V_COUNT, FIELD(hook_max_running), 1, 64,
                                  "1..64", 0 },
        [DK_METRICS_LISTEN] = { "metrics-listen", V_LISTEN, FIELD(metrics_listen), 0, CONFIG_LISTEN_MAX,
                                NULL, 0 },
        [DK_METRICS_TEXTFILE] = { "metrics-textfile", V_TEXTFILE, FIELD(metrics_textfile), 0, PATH_MAX - 1,
                                  NULL, 0 },
        [DK_METRICS_TEXTFILE_INTERVAL] = { "metrics-textfile-interval", V_DURATION,
                                           FIELD(metrics_textfile_interval), 0.05, 3600, "50ms..1h", 0 },
        /* 100 holds four process groups; past a million series a single scrape would be
         * some 100 MiB of text, more than one host should send. */
        [DK_METRICS_MAX_SERIES] = { "metrics-max-series", V_COUNT, FIELD(metrics_max_series), 100, 1000000,
                                    "100..1000000", 0 },
        [DK_METRICS_PID_LABEL] = { "metrics-pid-label", V_BOOL, FIELD(metrics_pid_label), 0, 0, NULL, 0 },
        [DK_HOOK] = { "hook", V_HOOK, 0, 0, 0, 0, NULL, HOOK_ON_ALL },
        [DK_ON_START] = { "on-start", V_HOOK, 0, 0, 0, 0, NULL, HOOK_ON_START },
        [DK_ON_ESCALATE] = { "on-escalate", V_HOOK, 0, 0, 0, 0, NULL, HOOK_ON_ESCALATE },
        [DK_ON_END] = { "on-end", V_HOOK, 0, 0, 0, 0, NULL, HOOK_ON_END },
        [DK_AGENT_SOCKET] = { "agent-socket", V_BOOL, FIELD(agent_socket), 0, 0, NULL, 0 },
        /* 100 ms is ten times faster than any agent needs to report; an hour still
         * gives a long window a few reports. */
        [DK_AGENT_INTERVAL] = { "agent-interval", V_DURATION, FIELD(agent_interval), 0.1, 3600, "100ms..1h", 0 },
};

enum rule_key {
        RK_PID, RK_NAME, RK_CMDLINE, RK_USER, RK_UNIT, RK_CGROUP, RK_ALL, RK_MIN_RSS,
        RK_CHILDREN, RK_WINDOW, RK_ESCALATE, RK_RESTART_UNITS, RK_RESTART_MAX, RK_RESTART_DRY_RUN,
        RK_RESTART_HORIZON, RK_HOOK, RK_ON_START, RK_ON_ESCALATE, RK_ON_END, RK__MAX
};

static const char *const rule_keys[RK__MAX] = {
        [RK_PID] = "pid", [RK_NAME] = "name", [RK_CMDLINE] = "cmdline", [RK_USER] = "user",
        [RK_UNIT] = "unit", [RK_CGROUP] = "cgroup", [RK_ALL] = "all", [RK_MIN_RSS] = "min-rss",
        [RK_CHILDREN] = "children", [RK_WINDOW] = "window", [RK_ESCALATE] = "escalate",
        [RK_RESTART_UNITS] = "restart-units", [RK_RESTART_MAX] = "restart-max",
        [RK_RESTART_DRY_RUN] = "restart-dry-run", [RK_RESTART_HORIZON] = "restart-horizon", [RK_HOOK] = "hook",
        [RK_ON_START] = "on-start", [RK_ON_ESCALATE] = "on-escalate", [RK_ON_END] = "on-end",
};

/* The keys that select processes; every rule needs one. */
static bool rule_key_is_selector(enum rule_key k)
{
        return k <= RK_ALL;
}

/* Keys that may appear more than once: each line adds to a list. */
static bool daemon_key_repeats(enum daemon_key k)
{
        return daemon_keys[k].type == V_HOOK;
}

static bool rule_key_repeats(enum rule_key k)
{
        return k == RK_PID || k >= RK_HOOK;
}

static const struct {
        const char *name;
        int level;
} log_levels[] = {
        { "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
        { "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

/* ---- the loader's state ---- */

enum section {
        SEC_NONE,               /* before the first section header of a file */
        SEC_DAEMON,
        SEC_RULE,
        SEC_SKIP,               /* a bad header, already reported: its keys are ignored */
};

/* Where a [daemon] value was set: for messages about two keys, which point at the one
 * set last and say where the other came from. seq 0: never set (the default). */
struct origin {
        const char *file;
        unsigned line;
        unsigned seq;
};

struct load_ctx {
        struct config *cfg;
        struct config_diag *diag;
        unsigned errors;
        int io_error;                   /* the first -errno of a file that could not be read */
        bool oom;

        char **files;                   /* escaped names of the files read, for origins */
        size_t n_files;

        /* The file being parsed. */
        const char *file;               /* escaped */
        const char *buf;
        size_t len, pos;
        unsigned line;
        enum section sec;
        size_t rule;                    /* SEC_RULE: index in cfg->rules */
        bool rule_bad;                  /* a key of the current rule had a bad value */
        unsigned daemon_line[DK__MAX];  /* where each key was set in this file; 0: not */
        unsigned rule_line[RK__MAX];    /* the same for the current rule */

        bool rules_full;                /* the CONFIG_RULES_MAX error was given */
        unsigned seq;
        struct origin origin[DK__MAX];
        unsigned rule_window_line[CONFIG_RULES_MAX];
};

static void ctx_vmsg(struct load_ctx *ctx, unsigned line, const char *fmt, va_list ap)
{
        char *msg;
        int r;

        ctx->errors++;
        if (vasprintf(&msg, fmt, ap) < 0) {
                ctx->oom = true;
                return;
        }
        if (line > 0)
                r = diag_add(ctx->diag, "%s:%u: %s", ctx->file, line, msg);
        else
                r = diag_add(ctx->diag, "%s: %s", ctx->file, msg);
        if (r < 0)
                ctx->oom = true;
        free(msg);
}

/* An error at a line of the current file. */
static void PRINTF(3, 4) report_at(struct load_ctx *ctx, unsigned line, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        ctx_vmsg(ctx, line, fmt, ap);
        va_end(ap);
}

/* An error at the line being parsed. */
#define report(ctx, ...) report_at((ctx), (ctx)->line, __VA_ARGS__)

/* An error about the current file as a whole. */
#define report_file(ctx, ...) report_at((ctx), 0, __VA_ARGS__)

/* ---- "did you mean" ---- */

/* Levenshtein distance, for suggesting the key that was probably meant; long strings
 * are not worth it and count as far apart. */
static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), row[33];

        if (la > 32 || lb > 32)
                return SIZE_MAX;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t diag = row[0];

                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t up = row[j];

                        row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), diag + (a[i - 1] != b[j - 1]));
                        diag = up;
                }
        }
        return row[lb];
}

/* The closest of names to s, if close enough to be a typo (at most two edits, and
 * fewer than half of s), or NULL. */
static const char *nearest(const char *s, const char *const *names, size_t n)
{
        const char *best = NULL;
        size_t best_d = 3;

        for (size_t i = 0; i < n; i++) {
                size_t d = edit_distance(s, names[i]);

                if (d < best_d && d * 2 < strlen(s)) {
                        best = names[i];
                        best_d = d;
                }
        }
        return best;
}

static int find_daemon_key(const char *name)
{
        for (size_t i = 0; i < DK__MAX; i++)
                if (strcmp(name, daemon_keys[i].name) == 0)
                        return (int)i;
        return -1;
}

static int find_rule_key(const char *name)
{
        for (size_t i = 0; i < RK__MAX; i++)
                if (strcmp(name, rule_keys[i]) == 0)
                        return (int)i;
        return -1;
}

static void unknown_key(struct load_ctx *ctx, const char *name, bool in_rule)
{
        const char *names[(int)DK__MAX > (int)RK__MAX ? (int)DK__MAX : (int)RK__MAX];
        const char *where = in_rule ? "[rule NAME]" : "[daemon]";
        const char *guess;
        struct quoted q;
        size_t n;

        if (in_rule && find_daemon_key(name) >= 0) {
                report(ctx, "'%s' is a [daemon] key, not a rule key", name);
                return;
        }
        if (!in_rule && find_rule_key(name) >= 0) {
                report(ctx, "'%s' is a rule key: it belongs in a [rule NAME] section", name);
                return;
        }
        /* The names leakwatchd's flags and the client use for keys spelt otherwise here. */
        static const struct {
                const char *name, *key;
                bool rule;
        } synonyms[] = {
                { "match", "cmdline", true }, { "regex", "cmdline", true }, { "comm", "name", true },
                { "db", "database", false }, { "db-path", "database", false },
        };

        for (size_t i = 0; i < ELEMENTSOF(synonyms); i++)
                if (strcmp(name, synonyms[i].name) == 0) {
                        report(ctx, "unknown key '%s' in %s (did you mean '%s'?%s)", name, where, synonyms[i].key,
                               synonyms[i].rule == in_rule ? ""
                               : synonyms[i].rule     ? " It is a rule key, in a [rule NAME] section."
                                                      : " It is a [daemon] key.");
                        return;
                }
        if (in_rule)
                for (n = 0; n < RK__MAX; n++)
                        names[n] = rule_keys[n];
        else
                for (n = 0; n < DK__MAX; n++)
                        names[n] = daemon_keys[n].name;
        guess = nearest(name, names, n);
        if (guess)
                report(ctx, "unknown key '%s' in %s (did you mean '%s'?)", quote(&q, name), where, guess);
        else
                report(ctx, "unknown key '%s' in %s", quote(&q, name), where);
}

/* ---- values ---- */

/* Checks a duration value; returns 0 and the seconds or reports and returns -EINVAL. */
static int get_duration(struct load_ctx *ctx, const char *key, const char *value, double min,
                        double max, const char *range, double *ret)
{
        struct quoted q;
        double v;
        int r;

        r = parse_duration(value, &v);
        if (r == -ERANGE || (r == 0 && (v < min * (1 - EPSILON) || v > max * (1 + EPSILON)))) {
                report(ctx, "%s: '%s' is out of range (%s)", key, quote(&q, value), range);
                return -EINVAL;
        }
        if (r < 0) {
                report(ctx, "%s: invalid duration '%s' (examples: 10s, 0.5, 500ms, 1h30m)", key,
                       quote(&q, value));
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int get_bool(struct load_ctx *ctx, const char *key, const char *value, bool *ret)
{
        struct quoted q;

        if (parse_bool(value, ret) < 0) {
                report(ctx, "%s: invalid boolean '%s' (yes or no)", key, quote(&q, value));
                return -EINVAL;
        }
        return 0;
}

/* An absolute path of at most max bytes, as a new string. */
static int get_path(struct load_ctx *ctx, const char *key, const char *value, size_t max, char **ret)
{
        struct quoted q;
        char *p;

        if (value[0] != '/') {
                report(ctx, "%s: '%s' is not an absolute path", key, quote(&q, value));
                return -EINVAL;
        }
        if (strlen(value) > max) {
                report(ctx, "%s: '%s' is too long (at most %zu bytes)", key, quote(&q, value), max);
                return -EINVAL;
        }
        p = strdup(value);
        if (!p) {
                ctx->oom = true;
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

/* Splits a hook command into words: blanks separate them, double quotes group them,
 * a backslash takes the next character literally. Never a shell. Returns 0, or
 * -EINVAL with the reason in why, or -ENOMEM. */
static int hook_split(const char *value, unsigned events, struct hook_cfg *ret, const char **why)
{
        char *argv[HOOK_ARGV_MAX + 1] = { NULL };
        _cleanup_free_ char *word = malloc(strlen(value) + 1);
        const char *p = value;
        size_t n = 0;
        int r;

        if (!word)
                return -ENOMEM;
        for (;;) {
                bool quoted = false;
                size_t w = 0;

                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                if (n == HOOK_ARGV_MAX) {
                        *why = "too many words (at most " STRINGIFY(HOOK_ARGV_MAX) ")";
                        r = -EINVAL;
                        goto out_free_argv;
                }
                while (*p && (quoted || (*p != ' ' && *p != '\t'))) {
                        if (*p == '"') {
                                quoted = !quoted;
                                p++;
                        } else if (*p == '\\') {
                                if (!p[1]) {
                                        *why = "a backslash at the end escapes nothing";
                                        r = -EINVAL;
                                        goto out_free_argv;
                                }
                                word[w++] = p[1];
                                p += 2;
                        } else {
                                word[w++] = *p++;
                        }
                }
                if (quoted) {
                        *why = "unbalanced double quote";
                        r = -EINVAL;
                        goto out_free_argv;
                }
                argv[n] = strndup(word, w);
                if (!argv[n]) {
                        r = -ENOMEM;
                        goto out_free_argv;
                }
                n++;
        }
        if (n == 0 || argv[0][0] != '/') {
                *why = "the program must be an absolute path (hooks are not run through a shell "
                       "and PATH is not searched)";
                r = -EINVAL;
                goto out_free_argv;
        }
        ret->argv = calloc(n + 1, sizeof(char *));
        if (!ret->argv) {
                r = -ENOMEM;
                goto out_free_argv;
        }
        memcpy(ret->argv, argv, n * sizeof(char *));
        ret->events = events;
        return 0;

out_free_argv:
        for (size_t i = 0; i < n; i++)
                free(argv[i]);
        return r;
}

static void add_hook(struct load_ctx *ctx, const char *key, unsigned events, const char *value,
                     struct hook_cfg *hooks, size_t *n_hooks, bool *bad)
{
        const char *why = NULL;
        struct quoted q;
        int r;

        if (*n_hooks >= HOOKS_MAX) {
                report(ctx, "%s: too many hooks (at most %d %s)", key, HOOKS_MAX,
                       hooks == ctx->cfg->hooks ? "in [daemon], across all files" : "per rule");
                *bad = true;
                return;
        }
        r = hook_split(value, events, &hooks[*n_hooks], &why);
        if (r == -ENOMEM) {
                ctx->oom = true;
                return;
        }
        if (r < 0) {
                report(ctx, "%s: '%s': %s", key, quote(&q, value), why);
                *bad = true;
                return;
        }
        (*n_hooks)++;
}

/* ---- [daemon] ---- */

static void daemon_key(struct load_ctx *ctx, const char *name, const char *value)
{
        struct config *cfg = ctx->cfg;
        const struct key_def *d;
        void *field;
        struct quoted q;
        bool bad = false;
        int k;

        k = find_daemon_key(name);
        if (k < 0) {
                unknown_key(ctx, name, false);
                return;
        }
        d = &daemon_keys[k];
        if (!*value) {
                report(ctx, "%s: empty value", d->name);
                return;
        }
        /* Within one file a second setting is a mistake (which one was meant?); a later
         * file overriding an earlier one is the point of drop-ins. */
        if (!daemon_key_repeats((enum daemon_key)k) && ctx->daemon_line[k]) {
                report(ctx, "%s: already set at line %u of this file", d->name, ctx->daemon_line[k]);
                return;
        }
        ctx->daemon_line[k] = ctx->line;
        field = (char *)cfg + d->offset;

        switch (d->type) {
        case V_PATH: {
                char *p;

                if (get_path(ctx, d->name, value, (size_t)d->max, &p) < 0)
                        return;
                free(*(char **)field);
                *(char **)field = p;
                break;
        }
        case V_DURATION: {
                double v;

                if (get_duration(ctx, d->name, value, d->min, d->max, d->range, &v) < 0)
                        return;
                *(double *)field = v;
                break;
        }
        case V_COUNT: {
                int64_t v;
                int r;

                r = parse_int64(value, (int64_t)d->min, (int64_t)d->max, &v);
                if (r == -ERANGE) {
                        report(ctx, "%s: '%s' is out of range (%s)", d->name, quote(&q, value), d->range);
                        return;
                }
                if (r < 0) {
                        report(ctx, "%s: '%s' is not a whole number", d->name, quote(&q, value));
                        return;
                }
                if (d->size == sizeof(uint64_t))
                        *(uint64_t *)field = (uint64_t)v;
                else
                        *(unsigned *)field = (unsigned)v;
                break;
        }
        case V_PERCENT: {
                double v;

                if (parse_percent(value, &v) < 0) {
                        report(ctx, "%s: invalid share '%s' (examples: 1%%, 0.5%%, 25%%)", d->name,
                               quote(&q, value));
                        return;
                }
                if (v < d->min * (1 - EPSILON) || v > d->max * (1 + EPSILON)) {
                        report(ctx, "%s: '%s' is out of range (%s)", d->name, quote(&q, value), d->range);
                        return;
                }
                *(double *)field = v;
                break;
        }
        case V_SIZE: {
                uint64_t v;
                int r;

                r = parse_size(value, &v);
                if (r == -ERANGE || (r == 0 && v != 0 && ((double)v < d->min || (double)v > d->max))) {
                        report(ctx, "%s: '%s' is out of range (%s)", d->name, quote(&q, value), d->range);
                        return;
                }
                if (r < 0) {
                        report(ctx, "%s: invalid size '%s' (examples: 100M, 1.5G, 4096)", d->name,
                               quote(&q, value));
                        return;
                }
                *(uint64_t *)field = v;
                break;
        }
        case V_LOG_LEVEL: {
                size_t i;

                for (i = 0; i < ELEMENTSOF(log_levels); i++)
                        if (strcmp(value, log_levels[i].name) == 0)
                                break;
                if (i == ELEMENTSOF(log_levels)) {
                        report(ctx, "%s: unknown level '%s' (err, warning, notice, info or debug)",
                               d->name, quote(&q, value));
                        return;
                }
                cfg->log_level = log_levels[i].level;
                break;
        }
        case V_SAMPLER:
                if (strcmp(value, "auto") == 0)
                        cfg->sampler = SAMPLER_AUTO;
                else if (strcmp(value, "bpf") == 0)
                        cfg->sampler = SAMPLER_BPF;
                else if (strcmp(value, "proc") == 0)
                        cfg->sampler = SAMPLER_PROC;
                else {
                        report(ctx, "%s: unknown backend '%s' (auto, bpf or proc)", d->name, quote(&q, value));
                        return;
                }
                break;
        case V_HOOK:
                add_hook(ctx, d->name, d->events, value, cfg->hooks, &cfg->n_hooks, &bad);
                if (bad)
                        return;
                break;
        case V_BOOL:
                if (get_bool(ctx, d->name, value, (bool *)field) < 0)
                        return;
                break;
        case V_LISTEN:
        case V_TEXTFILE: {
                char *p = NULL;
                bool off;

                if (parse_bool(value, &off) == 0 && !off) {
                        /* "no": off, so a drop-in can turn off what an earlier file set. */
                } else if (d->type == V_LISTEN) {
                        struct sockaddr_storage sa;
                        socklen_t len;

                        if (strlen(value) > (size_t)d->max || config_parse_listen(value, &sa, &len) < 0) {
                                report(ctx, "%s: '%s' is not an address and port (examples: 127.0.0.1:9184, "
                                       "[::1]:9184, or no)", d->name, quote(&q, value));
                                return;
                        }
                        p = strdup(value);
                        if (!p) {
                                ctx->oom = true;
                                return;
                        }
                } else {
                        size_t len = strlen(value);

                        /* node_exporter reads only *.prom, and the file is written next to
                         * it under another name that must not end in .prom. */
                        if (len < 6 || strcmp(value + len - 5, ".prom") != 0 || value[len - 6] == '/') {
                                report(ctx, "%s: '%s' must name a file ending in .prom (the only files "
                                       "node_exporter's textfile collector reads)", d->name, quote(&q, value));
                                return;
                        }
                        if (get_path(ctx, d->name, value, (size_t)d->max, &p) < 0)
                                return;
                }
                free(*(char **)field);
                *(char **)field = p;
                break;
        }
        }
        ctx->origin[k] = (struct origin){ ctx->file, ctx->line, ++ctx->seq };
}

/* ---- regular expressions ---- */

/* glibc's regcomp() writes every bounded repetition out in full, then works in time and
 * memory that grow with the square of what it wrote: a{1,4000} takes 1 s and 128 MiB,
 * a{1,32767} minutes and gigabytes (measured, glibc 2.36), in the event loop at a start
 * or a reload. So a repetition count is at most 255 (_POSIX_RE_DUP_MAX, all a portable
 * regex may count on), and the pattern with its repetitions written out holds at most
 * CONFIG_LINE_MAX positions, as many as a line written out by hand: the worst measured
 * within both is 0.25 s and 30 MiB, as for a 4 KiB pattern without repetitions. */
#define REGEX_DUP_MAX 255
#define REGEX_POSITIONS_MAX CONFIG_LINE_MAX

/* Sums and products of positions stop just past the limit: only "too many" matters. */
static size_t re_add(size_t a, size_t b)
{
        return MIN(a + b, (size_t)REGEX_POSITIONS_MAX + 1);
}

static size_t re_mul(size_t a, size_t b)
{
        return a == 0 ? 0 : b > REGEX_POSITIONS_MAX / a ? REGEX_POSITIONS_MAX + 1 : a * b;
}

/* An interval after '{' at *p — "m}", "m,}", "m,n}" or ",n}" — advances *p past its
 * '}' and gives the copies of its atom regcomp() makes and the largest count written.
 * False if the text is not an interval (the '{' is then an ordinary character). */
static bool re_interval(const char **p, size_t *ret_copies, unsigned long *ret_count)
{
        const char *q = *p;
        unsigned long m = 0, n = 0;
        bool have_m = false, have_n = false, comma = false;

        for (; *q >= '0' && *q <= '9'; q++, have_m = true)
                m = MIN(m * 10 + (unsigned long)(*q - '0'), 1000000ul);
        if (*q == ',') {
                comma = true;
                for (q++; *q >= '0' && *q <= '9'; q++, have_n = true)
                        n = MIN(n * 10 + (unsigned long)(*q - '0'), 1000000ul);
        }
        if (*q != '}' || (!have_m && !have_n))
                return false;
        *p = q + 1;
        *ret_count = MAX(m, n);
        /* m copies, then n - m optional ones, or one starred one if n is open. */
        *ret_copies = have_n ? MAX(m, n) : comma ? m + 1 : m;
        return true;
}

/* Skips a bracket expression after its '[' ("[]a]", "[^]a]", "[[:alpha:]]"). */
static void re_skip_bracket(const char **p)
{
        const char *q = *p;

        if (*q == '^')
                q++;
        if (*q == ']')
                q++;
        while (*q && *q != ']') {
                if (q[0] == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
                        const char *close = strchr(q + 2, ']');

                        if (close && close[-1] == q[1]) {
                                q = close + 1;
                                continue;
                        }
                }
                q++;
        }
        *p = *q ? q + 1 : q;
}

/* The positions of the pattern at *p with its repetitions written out, up to the ')'
 * that closes depth (or the end); *too_many is set by a count above REGEX_DUP_MAX. An
 * upper bound is enough: syntax errors are regcomp()'s to find. */
static size_t re_positions(const char **p, unsigned depth, bool *too_many)
{
        size_t total = 0, piece = 0;    /* piece: the last atom and its repetitions */

        while (**p) {
                char c = *(*p)++;
                size_t atom = 1, copies;
                unsigned long count;

                switch (c) {
                case ')':
                        if (depth > 0)
                                return re_add(total, piece);
                        break;
                case '|':
                        /* Every alternative is compiled: they add up. */
                        total = re_add(total, piece);
                        piece = 0;
                        continue;
                case '*':
                case '?':
                        continue;
                case '+':
                        /* regcomp() makes "a+" "aa*". */
                        piece = re_mul(piece, 2);
                        continue;
                case '{':
                        if (!re_interval(p, &copies, &count))
                                break;
                        if (count > REGEX_DUP_MAX)
                                *too_many = true;
                        piece = re_mul(piece, copies);
                        continue;
                case '(':
                        atom = re_positions(p, depth + 1, too_many);
                        break;
                case '[':
                        re_skip_bracket(p);
                        break;
                case '\\':
                        if (**p)
                                (*p)++;
                        break;
                default:
                        break;
                }
                total = re_add(total, piece);
                piece = atom;
        }
        return re_add(total, piece);
}

/* Compiles a cmdline = (or --match) regex, unless it would cost too much to compile
 * (above). Returns 0, or -EINVAL with the reason in why. */
static int compile_cmdline(regex_t *re, const char *src, char *why, size_t whysz)
{
        const char *p = src;
        bool too_many = false;
        size_t positions = re_positions(&p, 0, &too_many);
        int ret;

        if (too_many) {
                snprintf(why, whysz, "a repetition count above %d", REGEX_DUP_MAX);
                return -EINVAL;
        }
        if (positions > REGEX_POSITIONS_MAX) {
                snprintf(why, whysz, "over %d positions once its repetitions are written out",
                         REGEX_POSITIONS_MAX);
                return -EINVAL;
        }
        /* REG_NOSUB: only whether it matches counts. No REG_NEWLINE: a command line may
         * hold newlines, and ^ and $ must still mean its two ends. */
        ret = regcomp(re, src, REG_EXTENDED | REG_NOSUB);
        if (ret != 0) {
                regerror(ret, re, why, whysz);
                return -EINVAL;
        }
        return 0;
}

/* ---- rules ---- */

static int pid_compare(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

        return (x > y) - (x < y);
}

/* The checks that need the whole rule, at the end of its section. */
/* The restart-* keys only mean something under escalate = restart, and a restart needs
 * the units it may ask for: either half alone is a rule that does not do what its
 * author thinks. */
static void rule_finish_escalate(struct load_ctx *ctx, const struct rule_cfg *r)
{
        static const enum rule_key restart_keys[] = { RK_RESTART_UNITS, RK_RESTART_MAX, RK_RESTART_DRY_RUN,
                                                      RK_RESTART_HORIZON };

        if (r->escalate == ESCALATE_RESTART) {
                if (!ctx->rule_line[RK_RESTART_UNITS])
                        report_at(ctx, ctx->rule_line[RK_ESCALATE],
                                  "rule '%s': escalate = restart needs restart-units naming the services it "
                                  "may restart", r->name);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(restart_keys); i++)
                if (ctx->rule_line[restart_keys[i]]) {
                        report_at(ctx, ctx->rule_line[restart_keys[i]],
                                  "rule '%s': %s is set but escalate is %s, not restart", r->name,
                                  rule_keys[restart_keys[i]], escalate_mode_name[r->escalate]);
                        return;
                }
}

static void rule_finish(struct load_ctx *ctx)
{
        struct rule_cfg *r = &ctx->cfg->rules[ctx->rule];
        size_t n = 0;

        if (r->n_pids > 1) {
                qsort(r->pids, r->n_pids, sizeof(pid_t), pid_compare);
                for (size_t i = 0; i < r->n_pids; i++)
                        if (n == 0 || r->pids[n - 1] != r->pids[i])
                                r->pids[n++] = r->pids[i];
                r->n_pids = n;
        }
        if (!ctx->rule_bad)
                rule_finish_escalate(ctx, r);
        if (r->all) {
                for (int k = 0; k < RK__MAX; k++)
                        if (k != RK_ALL && rule_key_is_selector((enum rule_key)k) && ctx->rule_line[k]) {
                                report_at(ctx, ctx->rule_line[RK_ALL],
                                          "rule '%s': 'all = yes' must be the only selector of its rule, "
                                          "but '%s' is set at line %u (for a narrower rule, drop 'all')",
                                          r->name, rule_keys[k], ctx->rule_line[k]);
                                break;
                        }
                return;
        }
        if (ctx->rule_bad)
                return;         /* a selector may have been meant: its error is enough */
        for (int k = 0; k < RK__MAX; k++)
                if (k != RK_ALL && rule_key_is_selector((enum rule_key)k) && ctx->rule_line[k])
                        return;
        report_at(ctx, r->line, "rule '%s' has no selector: set pid, name, cmdline, user, unit, cgroup "
                  "or all = yes", r->name);
}

static void begin_rule(struct load_ctx *ctx, const char *name)
{
        struct rule_cfg *r;
        struct quoted q;
        int ret;

        if (!*name) {
                report(ctx, "a rule section needs a name: [rule NAME]");
                return;
        }
        if (!rule_name_valid(name)) {
                report(ctx, "invalid rule name '%s': use 1 to %d of the characters A-Z a-z 0-9 _ . @ : -",
                       quote(&q, name), RULE_NAME_MAX);
                return;
        }
        r = config_find_rule(ctx->cfg, name);
        if (r) {
                report(ctx, "rule '%s' is already defined at %s:%u", name, r->file, r->line);
                return;
        }
        ret = config_rule_append(ctx->cfg, name, ctx->file, ctx->line, &r);
        if (ret == -E2BIG) {
                if (!ctx->rules_full)
                        report(ctx, "too many rules (at most %d); this one and any later ones are ignored",
                               CONFIG_RULES_MAX);
                ctx->rules_full = true;
                return;
        }
        if (ret < 0) {
                ctx->oom = true;
                return;
        }
        ctx->sec = SEC_RULE;
        ctx->rule = ctx->cfg->n_rules - 1;
        ctx->rule_bad = false;
        memset(ctx->rule_line, 0, sizeof(ctx->rule_line));
}

static void rule_pids(struct load_ctx *ctx, struct rule_cfg *r, const char *value)
{
        _cleanup_free_ char *copy = strdup(value);
        char *tok, *save = NULL;
        struct quoted q;

        if (!copy) {
                ctx->oom = true;
                return;
        }
        for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
                pid_t *pids;
                int64_t v;

                if (parse_int64(tok, 1, CONFIG_PID_MAX, &v) < 0) {
                        report(ctx, "pid: '%s' is not a process id (1..%d)", quote(&q, tok), CONFIG_PID_MAX);
                        ctx->rule_bad = true;
                        return;
                }
                if (r->n_pids >= RULE_PIDS_MAX) {
                        report(ctx, "pid: too many pids in one rule (at most %d)", RULE_PIDS_MAX);
                        ctx->rule_bad = true;
                        return;
                }
                pids = realloc(r->pids, (r->n_pids + 1) * sizeof(pid_t));
                if (!pids) {
                        ctx->oom = true;
                        return;
                }
                r->pids = pids;
                r->pids[r->n_pids++] = (pid_t)v;
        }
}

static bool glob_has_magic(const char *s)
{
        return strpbrk(s, "*?[\\") != NULL;
}

/* Looks up a user by name, or takes a number as a uid as it is. Returns 0, -ENOENT,
 * -EINVAL (a number that is not a uid), or another -errno from the lookup. */
static int lookup_user(const char *name, uid_t *ret)
{
        size_t bufsz = 1024;
        int64_t v;

        if (isdigit((unsigned char)name[0])) {
                /* (uid_t)-1 means "no user" to the kernel's set*id calls. */
                if (parse_int64(name, 0, (int64_t)UINT32_MAX - 1, &v) < 0)
                        return -EINVAL;
                *ret = (uid_t)v;
                return 0;
        }
        /* The buffer grows on ERANGE; 1 MiB holds any sane passwd entry. */
        for (;;) {
                _cleanup_free_ char *buf = malloc(bufsz);
                struct passwd pw, *res = NULL;
                int r;

                if (!buf)
                        return -ENOMEM;
                r = getpwnam_r(name, &pw, buf, bufsz, &res);
                if (r == ERANGE && bufsz < 1024 * 1024) {
                        bufsz *= 2;
                        continue;
                }
                if (r == 0 && res) {
                        *ret = res->pw_uid;
                        return 0;
                }
                /* Not found is 0 with no result, or one of these (getpwnam_r(3)). */
                if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
                        return -ENOENT;
                return -r;
        }
}

static void rule_cgroup(struct load_ctx *ctx, struct rule_cfg *r, const char *value)
{
        struct quoted q;
        size_t n = strlen(value);
        const char *p;

        if (value[0] != '/') {
                report(ctx, "cgroup: '%s' is not an absolute cgroup path (e.g. /system.slice)",
                       quote(&q, value));
                ctx->rule_bad = true;
                return;
        }
        /* The sampler keeps PROC_CGROUP_MAX bytes of a path: a longer prefix never matches. */
        if (n >= PROC_CGROUP_MAX) {
                report(ctx, "cgroup: '%s' is too long (at most %d bytes)", quote(&q, value),
                       PROC_CGROUP_MAX - 1);
                ctx->rule_bad = true;
                return;
        }
        while (n > 1 && value[n - 1] == '/')
                n--;
        for (p = value; p < value + n; ) {
                const char *c = p + 1, *e = memchr(c, '/', (size_t)(value + n - c));
                size_t len = e ? (size_t)(e - c) : (size_t)(value + n - c);

                if ((len == 0 && n > 1) || (len == 1 && c[0] == '.') ||
                    (len == 2 && c[0] == '.' && c[1] == '.')) {
                        report(ctx, "cgroup: '%s' has an empty, '.' or '..' component", quote(&q, value));
                        ctx->rule_bad = true;
                        return;
                }
                if (!e)
                        break;
                p = e;
        }
        r->cgroup_prefix = strndup(value, n);
        if (!r->cgroup_prefix)
                ctx->oom = true;
}

/* restart-units = A.service B.service: whitespace-separated service names, each
 * checked, duplicates dropped. */
static void rule_restart_units(struct load_ctx *ctx, struct rule_cfg *r, const char *value)
{
        const char *p = value;
        struct quoted q;

        while (*p) {
                size_t len;
                char *u;
                bool dup = false;

                p += strspn(p, " \t");
                if (!*p)
                        break;
                len = strcspn(p, " \t");
                u = strndup(p, len);
                p += len;
                if (!u) {
                        ctx->oom = true;
                        return;
                }
                if (!escalate_unit_valid(u)) {
                        report(ctx, "restart-units: '%s' is not a service name (NAME.service, at most %d bytes "
                               "of A-Z a-z 0-9 : - _ . \\ @)", quote(&q, u), PROC_UNIT_MAX);
                        ctx->rule_bad = true;
                        free(u);
                        return;
                }
                for (size_t i = 0; i < r->n_restart_units; i++)
                        dup = dup || strcmp(r->restart_units[i], u) == 0;
                if (dup) {
                        free(u);
                        continue;
                }
                if (r->n_restart_units >= RESTART_UNITS_MAX) {
                        report(ctx, "restart-units: more than %d units", RESTART_UNITS_MAX);
                        ctx->rule_bad = true;
                        free(u);
                        return;
                }
                if (!r->restart_units) {
                        r->restart_units = calloc(RESTART_UNITS_MAX, sizeof(char *));
                        if (!r->restart_units) {
                                free(u);
                                ctx->oom = true;
                                return;
                        }
                }
                r->restart_units[r->n_restart_units++] = u;
        }
}

static void rule_key(struct load_ctx *ctx, const char *name, const char *value)
{
        struct rule_cfg *r = &ctx->cfg->rules[ctx->rule];
        struct quoted q;
        int k, ret;

        k = find_rule_key(name);
        if (k < 0) {
                unknown_key(ctx, name, true);
                return;
        }
        if (!*value) {
                report(ctx, "%s: empty value", name);
                ctx->rule_bad = true;
                return;
        }
        if (!rule_key_repeats((enum rule_key)k) && ctx->rule_line[k]) {
                report(ctx, "%s: already set at line %u for rule '%s'", name, ctx->rule_line[k], r->name);
                return;
        }
        ctx->rule_line[k] = ctx->line;

        switch ((enum rule_key)k) {
        case RK_PID:
                rule_pids(ctx, r, value);
                break;
        case RK_NAME:
                if (strlen(value) > GLOB_MAX) {
                        report(ctx, "name: '%s' is too long (at most %d bytes)", quote(&q, value), GLOB_MAX);
                        ctx->rule_bad = true;
                        break;
                }
                if (!glob_has_magic(value) && strlen(value) > COMM_USER_MAX) {
                        report(ctx, "name: '%s' can never match: a process name is at most %d bytes "
                               "(use cmdline = to match the whole command line)", quote(&q, value),
                               COMM_USER_MAX);
                        ctx->rule_bad = true;
                        break;
                }
                r->comm_glob = strdup(value);
                if (!r->comm_glob)
                        ctx->oom = true;
                break;
        case RK_CMDLINE: {
                char why[256];

                if (compile_cmdline(&r->cmdline_re, value, why, sizeof(why)) < 0) {
                        report(ctx, "cmdline: invalid regular expression '%s': %s", quote(&q, value), why);
                        ctx->rule_bad = true;
                        break;
                }
                r->cmdline_re_src = strdup(value);
                if (!r->cmdline_re_src) {
                        regfree(&r->cmdline_re);
                        ctx->oom = true;
                }
                break;
        }
        case RK_USER:
                ret = lookup_user(value, &r->uid);
                if (ret == -ENOMEM) {
                        ctx->oom = true;
                } else if (ret == -ENOENT) {
                        report(ctx, "user: unknown user '%s'", quote(&q, value));
                        ctx->rule_bad = true;
                } else if (ret == -EINVAL) {
                        report(ctx, "user: '%s' is not a user id (0..4294967294)", quote(&q, value));
                        ctx->rule_bad = true;
                } else if (ret < 0) {
                        report(ctx, "user: cannot look up '%s': %s", quote(&q, value), strerror(-ret));
                        ctx->rule_bad = true;
                } else {
                        r->has_uid = true;
                }
                break;
        case RK_UNIT:
                if (strlen(value) > GLOB_MAX) {
                        report(ctx, "unit: '%s' is too long (at most %d bytes)", quote(&q, value), GLOB_MAX);
                        ctx->rule_bad = true;
                        break;
                }
                r->unit_glob = strdup(value);
                if (!r->unit_glob)
                        ctx->oom = true;
                break;
        case RK_CGROUP:
                rule_cgroup(ctx, r, value);
                break;
        case RK_ALL:
                if (get_bool(ctx, name, value, &r->all) < 0)
                        ctx->rule_bad = true;
                break;
        case RK_MIN_RSS: {
                uint64_t v;

                ret = parse_size(value, &v);
                if (ret == -ERANGE || (ret == 0 && v > MIN_RSS_MAX)) {
                        report(ctx, "min-rss: '%s' is out of range (0..16T)", quote(&q, value));
                        ctx->rule_bad = true;
                } else if (ret < 0) {
                        report(ctx, "min-rss: invalid size '%s' (examples: 100M, 1.5G, 4096)",
                               quote(&q, value));
                        ctx->rule_bad = true;
                } else {
                        r->min_rss = v;
                }
                break;
        }
        case RK_CHILDREN:
                if (get_bool(ctx, name, value, &r->children) < 0)
                        ctx->rule_bad = true;
                break;
        case RK_WINDOW:
                if (get_duration(ctx, name, value, WINDOW_MIN, WINDOW_MAX, WINDOW_RANGE, &r->window) < 0)
                        ctx->rule_bad = true;
                else
                        ctx->rule_window_line[ctx->rule] = ctx->line;
                break;
        case RK_ESCALATE:
                ret = escalate_mode_from_name(value);
                if (ret < 0) {
                        report(ctx, "escalate: '%s' is not warn, evidence or restart", quote(&q, value));
                        ctx->rule_bad = true;
                } else {
                        r->escalate = (enum escalate_mode)ret;
                }
                break;
        case RK_RESTART_UNITS:
                rule_restart_units(ctx, r, value);
                break;
        case RK_RESTART_MAX: {
                int64_t v;

                /* 0 decides and records without ever restarting (the dry run's twin);
                 * more than 100 a day is a service restarted every quarter hour, which
                 * the backoff would not allow anyway. */
                ret = parse_int64(value, 0, 100, &v);
                if (ret < 0) {
                        report(ctx, "restart-max: '%s' is %s (0..100)", quote(&q, value),
                               ret == -ERANGE ? "out of range" : "not a whole number");
                        ctx->rule_bad = true;
                } else {
                        r->restart_max = (unsigned)v;
                }
                break;
        }
        case RK_RESTART_DRY_RUN:
                if (get_bool(ctx, name, value, &r->restart_dry_run) < 0)
                        ctx->rule_bad = true;
                break;
        case RK_RESTART_HORIZON:
                /* A minute is about the least a restart can be done and still beat the
                 * limit; past thirty days no forecast is worth acting on. */
                if (get_duration(ctx, name, value, 60, 30 * 86400.0, "1m..30d", &r->restart_horizon) < 0)
                        ctx->rule_bad = true;
                break;
        case RK_HOOK:
        case RK_ON_START:
        case RK_ON_ESCALATE:
        case RK_ON_END:
                add_hook(ctx, name, daemon_keys[DK_HOOK + (k - RK_HOOK)].events, value, r->hooks,
                         &r->n_hooks, &ctx->rule_bad);
                break;
        case RK__MAX:
                break;
        }
}

/* ---- sections and lines ---- */

static void finish_section(struct load_ctx *ctx)
{
        if (ctx->sec == SEC_RULE)
                rule_finish(ctx);
        ctx->sec = SEC_NONE;
}

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* A "[...]" line, from its '[' to end. */
static void section_line(struct load_ctx *ctx, const char *p, const char *end)
{
        static const char *const sections[] = { "daemon", "rule" };
        _cleanup_free_ char *text = NULL;
        const char *close, *s, *e, *guess;
        struct quoted q;

        finish_section(ctx);
        ctx->sec = SEC_SKIP;
        close = memchr(p, ']', (size_t)(end - p));
        if (!close) {
                report(ctx, "section header without ']'");
                return;
        }
        for (const char *t = close + 1; t < end; t++)
                if (!is_blank(*t)) {
                        report(ctx, "unexpected text after ']' (comments must be on their own line)");
                        return;
                }
        for (s = p + 1; s < close && is_blank(*s); s++)
                ;
        for (e = close; e > s && is_blank(e[-1]); e--)
                ;
        text = strndup(s, (size_t)(e - s));
        if (!text) {
                ctx->oom = true;
                return;
        }
        if (strcmp(text, "daemon") == 0) {
                ctx->sec = SEC_DAEMON;
                return;
        }
        if (strncmp(text, "rule", 4) == 0 && (text[4] == '\0' || is_blank(text[4]))) {
                const char *name = text + 4;

                while (is_blank(*name))
                        name++;
                begin_rule(ctx, name);
                return;
        }
        /* "[deamon]" or "[rules web]": compare the first word. */
        text[strcspn(text, " \t")] = '\0';
        guess = nearest(text, sections, ELEMENTSOF(sections));
        if (guess)
                report(ctx, "unknown section '[%s]' (did you mean [%s]?)", quote(&q, text),
                       strcmp(guess, "rule") == 0 ? "rule NAME" : guess);
        else
                report(ctx, "unknown section '[%s]' (sections are [daemon] and [rule NAME])",
                       quote(&q, text));
}

/* A line that could not be read at all may have held the rule's selector: its error
 * is enough, without "no selector" after it. */
static void bad_line(struct load_ctx *ctx)
{
        if (ctx->sec == SEC_RULE)
                ctx->rule_bad = true;
}

/* Decides what inih may see of a line that passed the byte checks: comments and
 * key lines go through; section headers and broken lines are handled here. */
static bool line_for_inih(struct load_ctx *ctx, const char *line, size_t len)
{
        const char *p = line, *end = line + len, *eq, *colon;

        while (p < end && is_blank(*p))
                p++;
        if (p == end || *p == '#' || *p == ';')
                return true;
        if (*p == '[') {
                section_line(ctx, p, end);
                return false;
        }
        eq = memchr(p, '=', (size_t)(end - p));
        colon = memchr(p, ':', (size_t)(end - p));
        if (!eq || (colon && colon < eq)) {
                report(ctx, "expected 'key = value' or a [section] header");
                bad_line(ctx);
                return false;
        }
        return true;
}

/* The ini_reader: gives inih the next line of the buffer, see the top of this file. */
static char *reader(char *str, int num, void *stream)
{
        struct load_ctx *ctx = stream;
        const char *line, *nl;
        size_t len;

        if (ctx->pos >= ctx->len || num < 2)
                return NULL;
        line = ctx->buf + ctx->pos;
        nl = memchr(line, '\n', ctx->len - ctx->pos);
        len = nl ? (size_t)(nl - line) : ctx->len - ctx->pos;
        ctx->pos += len + (nl ? 1 : 0);
        ctx->line++;

        /* Files edited on Windows: CR LF is a line end like LF. */
        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (ctx->line == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
                line += 3;
                len -= 3;
        }
        /* By default inih gets a blank line, which it skips. */
        str[0] = '\n';
        str[1] = '\0';
        if (len > CONFIG_LINE_MAX || len + 2 > (size_t)num) {
                report(ctx, "line too long (%zu bytes; at most %d)", len, CONFIG_LINE_MAX);
                bad_line(ctx);
                return str;
        }
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)line[i];

                if (c == 0) {
                        report(ctx, "NUL byte at column %zu", i + 1);
                        bad_line(ctx);
                        return str;
                }
                if ((c < 0x20 && c != '\t') || c == 0x7f) {
                        report(ctx, "control character 0x%02x at column %zu", c, i + 1);
                        bad_line(ctx);
                        return str;
                }
        }
        if (line_for_inih(ctx, line, len)) {
                memcpy(str, line, len);
                str[len] = '\n';
                str[len + 1] = '\0';
        }
        return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
        struct load_ctx *ctx = user;
        struct quoted q;

        (void)section;  /* cut at 49 bytes by inih: the reader tracks sections */
        if (!*name) {
                report(ctx, "missing key before '='");
                return 1;
        }
        switch (ctx->sec) {
        case SEC_NONE:
                report(ctx, "'%s' is outside any section: put it under [daemon] or [rule NAME]",
                       quote(&q, name));
                break;
        case SEC_SKIP:
                break;
        case SEC_DAEMON:
                daemon_key(ctx, name, value);
                break;
        case SEC_RULE:
                rule_key(ctx, name, value);
                break;
        }
        /* Errors are collected here; inih's own error return is not needed. */
        return 1;
}

/* ---- files ---- */

static int ctx_set_file(struct load_ctx *ctx, const char *path)
{
        char **files, *e;

        e = escape_dup(path);
        if (!e)
                return -ENOMEM;
        files = realloc(ctx->files, (ctx->n_files + 1) * sizeof(*files));
        if (!files) {
                free(e);
                return -ENOMEM;
        }
        files[ctx->n_files++] = e;
        ctx->files = files;
        ctx->file = e;
        return 0;
}

static void parse_buffer(struct load_ctx *ctx, const char *buf, size_t len)
{
        /* inih's options are process-wide; set every one that matters each time. */
        static char comment_prefixes[] = "#;";
        unsigned errors = ctx->errors;
        int r;

        ini_max_line = CONFIG_LINE_MAX + 3;     /* + CR, LF and NUL, as inih counts */
        ini_use_stack = true;
        ini_allow_inline_comments = false;      /* regexes hold ';' */
        ini_allow_multiline = false;
        ini_allow_bom = false;                  /* the reader drops it */
        ini_allow_no_value = false;
        ini_stop_on_first_error = false;
        ini_start_comment_prefixes = comment_prefixes;

        ctx->buf = buf;
        ctx->len = len;
        ctx->pos = 0;
        ctx->line = 0;
        ctx->sec = SEC_NONE;
        memset(ctx->daemon_line, 0, sizeof(ctx->daemon_line));

        r = ini_parse_stream(reader, ctx, handler, ctx);
        finish_section(ctx);
        if (r == -2)
                ctx->oom = true;
        else if (r > 0 && ctx->errors == errors)
                /* inih refused a line the reader let through; should not happen. */
                report_at(ctx, (unsigned)r, "syntax error");
}

/* Reads and parses one file. Optional files that do not exist are skipped. */
static void load_file(struct load_ctx *ctx, const char *path, bool must_exist)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        ssize_t n;

        if (ctx_set_file(ctx, path) < 0) {
                ctx->oom = true;
                return;
        }
        /* O_NONBLOCK: opening a FIFO must not hang the daemon; it is refused below. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                int e = errno;

                if (e == ENOENT && !must_exist)
                        return;
                report_file(ctx, "cannot open: %s", strerror(e));
                if (!ctx->io_error)
                        ctx->io_error = -e;
                return;
        }
        if (fstat(fd, &st) < 0) {
                int e = errno;

                report_file(ctx, "cannot stat: %s", strerror(e));
                if (!ctx->io_error)
                        ctx->io_error = -e;
                return;
        }
        if (!S_ISREG(st.st_mode)) {
                report_file(ctx, "not a regular file");
                return;
        }
        /* Hooks run as root: a file anyone may write would give anyone root. */
        if (st.st_mode & S_IWOTH) {
                report_file(ctx, "writable by every user; refusing it, since the programs it names "
                                 "run as root");
                return;
        }
        if (st.st_size > CONFIG_FILE_MAX) {
                report_file(ctx, "too large (%lld bytes; at most %d)", (long long)st.st_size,
                            CONFIG_FILE_MAX);
                return;
        }
        buf = malloc((size_t)st.st_size + 1);
        if (!buf) {
                ctx->oom = true;
                return;
        }
        /* A file that grows meanwhile is read as it was at fstat: an editor is saving it,
         * and the next reload sees the rest. */
        n = pread_full(fd, buf, (size_t)st.st_size, 0);
        if (n < 0) {
                report_file(ctx, "cannot read: %s", strerror((int)-n));
                if (!ctx->io_error)
                        ctx->io_error = (int)n;
                return;
        }
        parse_buffer(ctx, buf, (size_t)n);
}

static int dropin_filter(const struct dirent *de)
{
        size_t n = strlen(de->d_name);

        /* Hidden names are editors' and package managers' leftovers (".#x.conf"). */
        return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

/* Byte order, whatever the locale (alphasort follows LC_COLLATE). */
static int dropin_compare(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

static void load_dropins(struct load_ctx *ctx, const char *path)
{
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = NULL;
        struct dirent **list = NULL;
        int n;

        if (slash ? asprintf(&dir, "%.*s/conf.d", (int)(slash - path), path) < 0
                  : !(dir = strdup("conf.d"))) {
                dir = NULL;
                ctx->oom = true;
                return;
        }
        n = scandir(dir, &list, dropin_filter, dropin_compare);
        if (n < 0) {
                int e = errno;

                if (e == ENOENT)
                        return;
                if (ctx_set_file(ctx, dir) < 0) {
                        ctx->oom = true;
                        return;
                }
                report_file(ctx, "cannot read the drop-in directory: %s", strerror(e));
                if (!ctx->io_error)
                        ctx->io_error = -e;
                return;
        }
        if (n > CONFIG_DROPINS_MAX) {
                if (ctx_set_file(ctx, dir) < 0)
                        ctx->oom = true;
                else
                        report_file(ctx, "too many drop-ins (%d; at most %d); none is read", n,
                                    CONFIG_DROPINS_MAX);
        } else {
                for (int i = 0; i < n && !ctx->oom; i++) {
                        _cleanup_free_ char *p = NULL;

                        if (asprintf(&p, "%s/%s", dir, list[i]->d_name) < 0) {
                                p = NULL;
                                ctx->oom = true;
                                break;
                        }
                        load_file(ctx, p, true);
                }
        }
        for (int i = 0; i < n; i++)
                free(list[i]);
        free(list);
}

/* ---- checks across keys ---- */

/* "10s, the default" or "10s, set at FILE:LINE": the other key of a message. */
static const char *describe(struct load_ctx *ctx, enum daemon_key k, double v, char *buf, size_t bufsz)
{
        char d[32];

        format_duration(v, d, sizeof(d));
        if (ctx->origin[k].seq == 0)
                snprintf(buf, bufsz, "%s, the default", d);
        else if (ctx->origin[k].line == 0)
                snprintf(buf, bufsz, "%s, set by %s", d, ctx->origin[k].file);
        else
                snprintf(buf, bufsz, "%s, set at %s:%u", d, ctx->origin[k].file, ctx->origin[k].line);
        return buf;
}

/* Reports "a must be at least factor times b" at whichever of the two was set last,
 * saying where the other one came from. */
static void check_order(struct load_ctx *ctx, enum daemon_key a, double va, enum daemon_key b, double vb,
                        int factor, const char *why)
{
        enum daemon_key here, other;
        const char *saved = ctx->file;
        char dh[32], dother[256], times[32] = "";

        if (va >= vb * factor * (1 - EPSILON))
                return;
        here = ctx->origin[a].seq > ctx->origin[b].seq ? a : b;
        other = here == a ? b : a;
        /* Defaults never contradict each other, so "here" was set in a file. */
        ctx->file = ctx->origin[here].seq ? ctx->origin[here].file : ctx->files[0];
        format_duration(here == a ? va : vb, dh, sizeof(dh));
        describe(ctx, other, here == a ? vb : va, dother, sizeof(dother));
        if (factor != 1)
                snprintf(times, sizeof(times), "%d times ", factor);
        if (here == a)
                report_at(ctx, ctx->origin[here].line, "%s (%s) must be at least %s%s (%s): %s",
                          daemon_keys[a].name, dh, times, daemon_keys[b].name, dother, why);
        else
                report_at(ctx, ctx->origin[here].line, "%s (%s) must be at least %s%s (%s): %s",
                          daemon_keys[a].name, dother, times, daemon_keys[b].name, dh, why);
        ctx->file = saved;
}

#define WINDOW_WHY "the detector needs a sample in each of the window's 24 buckets"

static void cross_checks(struct load_ctx *ctx)
{
        struct config *cfg = ctx->cfg;

        /* Unless set, they follow interval. */
        if (ctx->origin[DK_SCAN_INTERVAL].seq == 0)
                cfg->scan_interval = cfg->interval;
        if (ctx->origin[DK_COMMIT_INTERVAL].seq == 0)
                cfg->commit_interval = cfg->interval;
        if (ctx->origin[DK_METRICS_TEXTFILE_INTERVAL].seq == 0)
                cfg->metrics_textfile_interval = MAX(cfg->metrics_textfile_interval, cfg->interval);
        if (ctx->origin[DK_SMAPS_MAX_INTERVAL].seq == 0)
                cfg->smaps_max_interval = MAX(cfg->smaps_max_interval, cfg->smaps_min_interval);

        check_order(ctx, DK_SCAN_INTERVAL, cfg->scan_interval, DK_INTERVAL, cfg->interval, 1,
                    "new processes are looked for at a tick, not between ticks");
        check_order(ctx, DK_COMMIT_INTERVAL, cfg->commit_interval, DK_INTERVAL, cfg->interval, 1,
                    "there is nothing new to commit between two ticks");
        check_order(ctx, DK_METRICS_TEXTFILE_INTERVAL, cfg->metrics_textfile_interval, DK_INTERVAL,
                    cfg->interval, 1, "the numbers change only at a tick");
        check_order(ctx, DK_SMAPS_MAX_INTERVAL, cfg->smaps_max_interval, DK_SMAPS_MIN_INTERVAL,
                    cfg->smaps_min_interval, 1, "a stable process is read no more often than a suspect one");
        check_order(ctx, DK_RETENTION_MINUTE, cfg->retention_minute, DK_RETENTION_RAW, cfg->retention_raw, 1,
                    "a coarser level is kept at least as long as the finer one it summarises");
        check_order(ctx, DK_RETENTION_HOUR, cfg->retention_hour, DK_RETENTION_MINUTE, cfg->retention_minute, 1,
                    "a coarser level is kept at least as long as the finer one it summarises");
        if (cfg->window > 0)
                check_order(ctx, DK_WINDOW, cfg->window, DK_INTERVAL, cfg->interval, CONFIG_WINDOW_MIN_SAMPLES,
                            WINDOW_WHY);

        for (size_t i = 0; i < cfg->n_rules; i++) {
                const struct rule_cfg *r = &cfg->rules[i];
                char d[32], di[256];

                if (r->window == 0 || r->window >= cfg->interval * CONFIG_WINDOW_MIN_SAMPLES * (1 - EPSILON))
                        continue;
                ctx->file = r->file;
                format_duration(r->window, d, sizeof(d));
                describe(ctx, DK_INTERVAL, cfg->interval, di, sizeof(di));
                report_at(ctx, ctx->rule_window_line[i],
                          "rule '%s': window (%s) must be at least %d times interval (%s): %s", r->name, d,
                          CONFIG_WINDOW_MIN_SAMPLES, di, WINDOW_WHY);
        }
}

/* The command line's settings, after every file: each is its key set once more, at a
 * "line" 0 of a "file" named after the flag, so it is checked as the key is and what
 * follows the key follows the flag. */
static void load_flags(struct load_ctx *ctx, const struct config_flag *flags, size_t n_flags)
{
        for (size_t i = 0; i < n_flags && !ctx->oom; i++) {
                if (ctx_set_file(ctx, flags[i].flag) < 0) {
                        ctx->oom = true;
                        return;
                }
                ctx->line = 0;
                memset(ctx->daemon_line, 0, sizeof(ctx->daemon_line));
                daemon_key(ctx, flags[i].key, flags[i].value);
        }
}

int config_load_with_flags(struct config *cfg, const char *path, bool must_exist, const struct config_flag *flags,
                           size_t n_flags, struct config_diag *diag)
{
        struct load_ctx ctx = { .cfg = cfg, .diag = diag };
        int r;

        load_file(&ctx, path, must_exist);
        if (!ctx.oom)
                load_dropins(&ctx, path);
        if (!ctx.oom)
                load_flags(&ctx, flags, n_flags);
        if (!ctx.oom)
                cross_checks(&ctx);

        if (ctx.oom)
                r = -ENOMEM;
        else if (ctx.io_error)
                r = ctx.io_error;
        else if (ctx.errors)
                r = -EINVAL;
        else
                r = 0;
        for (size_t i = 0; i < ctx.n_files; i++)
                free(ctx.files[i]);
        free(ctx.files);
        return r;
}

int config_load(struct config *cfg, const char *path, bool must_exist, struct config_diag *diag)
{
        return config_load_with_flags(cfg, path, must_exist, NULL, 0, diag);
}

/* ---- values other modules parse again ---- */

int config_parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len)
{
        char host[INET6_ADDRSTRLEN];
        struct sockaddr_storage sa = { 0 };
        const char *colon, *h = s;
        size_t hlen;
        int64_t port;

        colon = strrchr(s, ':');
        if (!colon)
                return -EINVAL;
        hlen = (size_t)(colon - s);
        if (s[0] == '[') {
                /* An IPv6 address holds colons: it must be bracketed, as in a URL. */
                if (hlen < 2 || s[hlen - 1] != ']')
                        return -EINVAL;
                h = s + 1;
                hlen -= 2;
        }
        if (hlen == 0 || hlen >= sizeof(host))
                return -EINVAL;
        memcpy(host, h, hlen);
        host[hlen] = '\0';
        if (!isdigit((unsigned char)colon[1]) || parse_int64(colon + 1, 0, 65535, &port) < 0)
                return -EINVAL;
        if (s[0] == '[') {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;

                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
                        return -EINVAL;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t)port);
                *ret_len = sizeof(*a);
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *)&sa;

                if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        return -EINVAL;
                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t)port);
                *ret_len = sizeof(*a);
        }
        *ret_addr = sa;
        return 0;
}

/* ---- rules from the command line and the default ---- */

int config_add_default_rule(struct config *cfg)
{
        struct rule_cfg *r;
        int ret;

        if (config_find_rule(cfg, "host"))
                return -EEXIST;
        ret = config_rule_append(cfg, "host", "built-in", 0, &r);
        if (ret < 0)
                return ret;
        r->all = true;
        r->min_rss = CONFIG_DEFAULT_MIN_RSS;
        return 0;
}

static int cmdline_rule_error(struct config_diag *diag, int r, const char *what, const char *name)
{
        if (r == -E2BIG && diag_add(diag, "%s: too many rules (at most %d)", what, CONFIG_RULES_MAX) < 0)
                return -ENOMEM;
        if (r == -EEXIST && diag_add(diag, "%s: a rule named '%s' already exists", what, name) < 0)
                return -ENOMEM;
        return r;
}

int config_add_pid_rule(struct config *cfg, pid_t pid, struct config_diag *diag)
{
        char name[32], what[32];
        struct rule_cfg *r;
        int ret;

        snprintf(what, sizeof(what), "--pid %d", (int)pid);
        if (pid <= 0 || pid > CONFIG_PID_MAX) {
                if (diag_add(diag, "%s: not a process id (1..%d)", what, CONFIG_PID_MAX) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        snprintf(name, sizeof(name), "pid-%d", (int)pid);
        if (config_find_rule(cfg, name))
                return cmdline_rule_error(diag, -EEXIST, what, name);
        ret = config_rule_append(cfg, name, "--pid", 0, &r);
        if (ret < 0)
                return cmdline_rule_error(diag, ret, what, name);
        r->pids = malloc(sizeof(pid_t));
        if (!r->pids) {
                config_rule_free(r);
                cfg->n_rules--;
                return -ENOMEM;
        }
        r->pids[0] = pid;
        r->n_pids = 1;
        return 0;
}

int config_add_match_rule(struct config *cfg, const char *regex, struct config_diag *diag)
{
        char name[32], why[256];
        struct rule_cfg *r;
        struct quoted q;
        int ret;

        if (!regex || !*regex) {
                if (diag_add(diag, "--match: empty regular expression (it would match every process)") < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        if (strlen(regex) > CONFIG_LINE_MAX) {
                if (diag_add(diag, "--match: regular expression too long (at most %d bytes)", CONFIG_LINE_MAX) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        /* The first free number: at most CONFIG_RULES_MAX are taken. */
        for (unsigned k = 1;; k++) {
                snprintf(name, sizeof(name), "match-%u", k);
                if (!config_find_rule(cfg, name))
                        break;
        }
        ret = config_rule_append(cfg, name, "--match", 0, &r);
        if (ret < 0)
                return cmdline_rule_error(diag, ret, "--match", name);
        if (compile_cmdline(&r->cmdline_re, regex, why, sizeof(why)) < 0) {
                config_rule_free(r);
                cfg->n_rules--;
                if (diag_add(diag, "--match '%s': invalid regular expression: %s", quote(&q, regex), why) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        r->cmdline_re_src = strdup(regex);
        if (!r->cmdline_re_src) {
                regfree(&r->cmdline_re);
                config_rule_free(r);
                cfg->n_rules--;
                return -ENOMEM;
        }
        return 0;
}
