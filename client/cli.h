/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli: what every subcommand of the client shares — the options as parsed, the output,
 * the clock, the database handle, errors in words, and the exit codes. */
#ifndef LEAKWATCH_CLI_H
#define LEAKWATCH_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "output.h"
#include "query.h"
#include "util.h"

/* Exit codes (documented in leakwatch(1), EXIT STATUS). */
enum {
        EXIT_OK = 0,
        EXIT_FAIL = 1,                  /* anything else: I/O, memory, a damaged database */
        EXIT_USAGE = 2,                 /* bad command line */
        EXIT_NODB = 3,                  /* the database cannot be read (missing, denied, not ours) */
        EXIT_NOTFOUND = 4,              /* no such process, rule, unit or alert */
        EXIT_AMBIGUOUS = 5,             /* a name matched several processes; candidates listed */
        EXIT_DAEMON = 6,                /* leakwatchd is not running, or refused us access */
        EXIT_LEAK = 10,                 /* run: a leak was detected in the command */
};

/* leakwatch status alone, as systemctl status: 0 running, 3 not running, 4 unknown. */
enum {
        EXIT_STATUS_NOT_RUNNING = 3,    /* leakwatchd is not running; the database was shown */
        EXIT_STATUS_UNKNOWN = 4,        /* it could not be asked, or its database cannot be read */
};


enum cli_format { FORMAT_HUMAN, FORMAT_JSON, FORMAT_CSV };

/* Options that only some subcommands take (the dispatch table says which). */
enum {
        OPT_SINCE = 1 << 0,
        OPT_UNTIL = 1 << 1,
        OPT_WINDOW = 1 << 2,
        OPT_ALL = 1 << 3,
        OPT_LIMIT = 1 << 4,
        OPT_METRIC = 1 << 5,
        OPT_OUTPUT = 1 << 6,
        OPT_SIZE = 1 << 7,
        OPT_HEIGHT = 1 << 8,
        OPT_FILE = 1 << 9,
        OPT_BOOT = 1 << 10,
        OPT_SORT = 1 << 11,
        OPT_JSON = 1 << 12,
        OPT_CSV = 1 << 13,
        OPT_MEMLIMIT = 1 << 14,
        OPT_RULE = 1 << 15,
        OPT_INTERVAL = 1 << 16,
        OPT_DB_OUT = 1 << 17,
        OPT_LOCAL = 1 << 18,
        OPT_NO_AGENT = 1 << 19,
        OPT_FOLLOW = 1 << 20,
};

struct cli {
        const char *db_path;
        bool db_given;                  /* --db or $LEAKWATCH_DB, not the default */
        bool db_daemon;                 /* db_path is the running daemon's, as it named it */
        char db_buf[1024];              /* the daemon's database path, when db_daemon */
        const char *runtime_dir;        /* where the daemon's control socket is */
        enum cli_format format;
        bool json_pretty;
        bool legend;                    /* headers and footers (--no-legend clears it) */
        bool all;
        int64_t since_ms, until_ms;     /* 0: not given */
        double window_s;                /* 0: not given */
        int64_t limit;                  /* 0: not given */
        const char *metric_arg;         /* --metric as given (a list for export); NULL: not given */
        const char *output_path;
        unsigned svg_width, svg_height;
        unsigned height;                /* 0: not given */
        const char *file;
        const char *boot_id;
        const char *sort;
        double memory_limit;            /* 0: not given */
        const char *rule;               /* --rule; NULL: not given */
        double interval_s;              /* --interval; 0: not given */
        const char *db_out;             /* --db-out */
        bool local;                     /* --local: run never uses the daemon */
        bool no_agent;                  /* --no-agent: run loads no in-process agent */
        bool follow;                    /* -f, --follow: alerts prints events as they come */
        enum out_color_mode color_mode; /* as asked, for output on another stream */

        int64_t now_ms;                 /* the clock every relative time is read against */
        struct out out;
        struct query *q;                /* after cli_open_db() */
};

/* Prints "leakwatch: " and the message on stderr. Returns code, for "return cli_error(...)". */
int cli_error(int code, const char *fmt, ...) PRINTF(2, 3);

/* Opens the database read-only; on failure says why in words (which file is missing
 * or denied, and what to do) and returns the exit code. Without --db or $LEAKWATCH_DB
 * it reads the database the running daemon names, else the default. */
int cli_open_db(struct cli *c);
void cli_done(struct cli *c);

/* Exit code and message for a failed query (errno r). */
int cli_query_error(struct cli *c, int r, const char *what);

/* The range of a command: --since/--until, else the defaults given. */
void cli_range(const struct cli *c, int64_t def_from, int64_t def_to, int64_t *ret_from, int64_t *ret_to);

#endif
