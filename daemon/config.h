/* SPDX-License-Identifier: GPL-2.0-or-later */
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
#include "settings.h"

#define CONFIG_DEFAULT_PATH "/etc/leakwatch/leakwatch.conf"
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

/* A window holds at least this many samples (window >= interval x this), checked for
 * the file and for flags alike: the detector judges the floors of 24 buckets a window
 * and wants 16 of them filled (lib/detect.h); with fewer samples than buckets it would
 * never decide, and a slope fitted to a handful of points is noise anyway. */
#define CONFIG_WINDOW_MIN_SAMPLES 24

/* Accumulated problems: --check-config prints them all, not just the first. Each
 * message reads "FILE:LINE: what is wrong" (or "FILE: ..." for file-level errors, or
 * "--pid ...:"/"--match ...:" for command-line rules), with file names and values
 * escaped (str_escape) so a message is one printable line. At most CONFIG_DIAG_MAX
 * messages are kept, then one saying that more were left out. Start zeroed. */
struct config_diag {
        char **msgs;
        size_t n;
};

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

/* Frees the messages; diag is then empty and may be reused. */
void config_diag_free(struct config_diag *diag);

/* Parses a metrics-listen value: an IPv4 address or an IPv6 address in brackets, a
 * colon and a port (0..65535; 0 lets the kernel choose one): "127.0.0.1:9184",
 * "[::1]:9184". Names are not resolved (a daemon must not wait for DNS). Returns 0 or
 * -EINVAL. */
int config_parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len);

#endif
