/* SPDX-License-Identifier: GPL-2.0-or-later */
/* leakwatch: reads what leakwatchd knows — the processes it watches, their memory over
 * time, the alerts it raised — from its database, for people and for scripts; asks the
 * running daemon for live operations; and runs a command under watch.
 *
 * main parses the command line, finds the subcommand and alone turns its result into
 * the exit status. Options may come before or after the subcommand; each subcommand
 * says which of the optional ones it takes, and any other is a usage error. After
 * "run", the first word that is not an option is the command to run: everything from
 * there on is its own. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "backtest.h"
#include "cli.h"
#include "complete.h"
#include "ctl.h"
#include "export.h"
#include "follow.h"
#include "live.h"
#include "proto.h"
#include "ps.h"
#include "run.h"
#include "show.h"
#include "status.h"
#include "svg.h"
#include "timearg.h"

/* Chart heights people may ask for: two rows show a trend, and two hundred are taller
 * than any screen. */
#define HEIGHT_MIN 2
#define HEIGHT_MAX 200
/* --limit: a list longer than a million rows is not read by anyone. */
#define LIMIT_MAX 1000000
/* Default image size: fits a ticket or a slide at full resolution. */
#define SVG_WIDTH 960
#define SVG_HEIGHT 420
#define STR_(x) #x
#define STRINGIFY(x) STR_(x)

struct command {
        const char *name;
        int (*run)(struct cli *c, int argc, char **argv);
        unsigned opts;
        const char *args;
        const char *help;
};

static const struct command commands[] = {
        { "status", cmd_status, OPT_JSON, "", "overview: database, daemon, rules, processes, open alerts" },
        { "ps", cmd_ps, OPT_ALL | OPT_WINDOW | OPT_SORT | OPT_BOOT | OPT_JSON | OPT_CSV, "",
          "watched processes: memory, growth, state, trend" },
        { "top", cmd_top_follow, OPT_WINDOW | OPT_UNTIL | OPT_LIMIT | OPT_BOOT | OPT_JSON | OPT_CSV | OPT_FOLLOW, "",
          "the processes whose memory floor grew most over a window; -f: live" },
        { "show", cmd_show, OPT_SINCE | OPT_UNTIL | OPT_METRIC | OPT_HEIGHT | OPT_ALL | OPT_BOOT | OPT_JSON,
          "TARGET", "one process or rule: identity, chart with trend and alerts, summary" },
        { "alerts", cmd_alerts_follow, OPT_ALL | OPT_SINCE | OPT_UNTIL | OPT_LIMIT | OPT_JSON | OPT_CSV | OPT_FOLLOW, "[ID]",
          "open (--all: also past) alerts; one alert in detail; -f: follow" },
        { "export", cmd_export, OPT_SINCE | OPT_UNTIL | OPT_METRIC | OPT_ALL | OPT_BOOT | OPT_JSON | OPT_CSV,
          "TARGET", "a series with exact values, as CSV or JSON lines" },
        { "plot", cmd_plot, OPT_SINCE | OPT_UNTIL | OPT_METRIC | OPT_OUTPUT | OPT_SIZE | OPT_ALL | OPT_BOOT,
          "TARGET --output-file FILE.svg", "a series as an SVG image with trend and alerts" },
        { "backtest", cmd_backtest,
          OPT_SINCE | OPT_UNTIL | OPT_METRIC | OPT_WINDOW | OPT_FILE | OPT_ALL | OPT_BOOT | OPT_MEMLIMIT |
          OPT_JSON | OPT_CSV,
          "TARGET | -f FILE.csv", "replay the leak detector over stored history or a CSV file" },
        { "watch", cmd_watch, OPT_RULE | OPT_WINDOW, "PID", "make the daemon watch a process now" },
        { "unwatch", cmd_unwatch, 0, "PID", "make the daemon stop watching a process" },
        { "trace", cmd_trace, 0, "PID [DURATION]", "ask a watched process's agents for allocation sites (5m)" },
        { "reload", cmd_reload, 0, "", "make the daemon reload its configuration" },
        { "run", cmd_run, OPT_WINDOW | OPT_INTERVAL | OPT_DB_OUT | OPT_LOCAL | OPT_NO_AGENT | OPT_OUTPUT |
                  OPT_HEIGHT | OPT_JSON,
          "[--] COMMAND [ARG]...", "run a command, watch it and its children, give a leak verdict" },
};

enum {
        ARG_VERSION = 0x100,
        ARG_DB,
        ARG_JSON,
        ARG_CSV,
        ARG_NO_LEGEND,
        ARG_BYTES,
        ARG_COLOR,
        ARG_UTC,
        ARG_SIZE,
        ARG_HEIGHT,
        ARG_BOOT,
        ARG_SORT,
        ARG_MEMLIMIT,
        ARG_RUNTIME_DIR,
        ARG_RULE,
        ARG_INTERVAL,
        ARG_DB_OUT,
        ARG_LOCAL,
        ARG_NO_AGENT,
        ARG_OUTPUT_FILE,
        ARG_NO_PAGER,
        ARG_FOLLOW,
};

static const struct option long_options[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, ARG_VERSION },
        { "db", required_argument, NULL, ARG_DB },
        { "json", optional_argument, NULL, ARG_JSON },
        { "csv", no_argument, NULL, ARG_CSV },
        { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
        { "bytes", no_argument, NULL, ARG_BYTES },
        { "color", optional_argument, NULL, ARG_COLOR },
        { "colour", optional_argument, NULL, ARG_COLOR },
        { "utc", no_argument, NULL, ARG_UTC },
        { "since", required_argument, NULL, 'S' },
        { "until", required_argument, NULL, 'U' },
        { "all", no_argument, NULL, 'a' },
        { "full", no_argument, NULL, 'l' },
        { "window", required_argument, NULL, 'w' },
        { "limit", required_argument, NULL, 'n' },
        { "metric", required_argument, NULL, 'm' },
        { "output", required_argument, NULL, 'o' },
        { "output-file", required_argument, NULL, ARG_OUTPUT_FILE },
        { "no-pager", no_argument, NULL, ARG_NO_PAGER },
        { "follow", no_argument, NULL, ARG_FOLLOW },
        { "size", required_argument, NULL, ARG_SIZE },
        { "height", required_argument, NULL, ARG_HEIGHT },
        { "file", required_argument, NULL, 'f' },
        { "boot", required_argument, NULL, ARG_BOOT },
        { "sort", required_argument, NULL, ARG_SORT },
        { "memory-limit", required_argument, NULL, ARG_MEMLIMIT },
        { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
        { "rule", required_argument, NULL, ARG_RULE },
        { "interval", required_argument, NULL, ARG_INTERVAL },
        { "db-out", required_argument, NULL, ARG_DB_OUT },
        { "local", no_argument, NULL, ARG_LOCAL },
        { "no-agent", no_argument, NULL, ARG_NO_AGENT },
        {}
};

/* Which option bit each option sets, for the per-command check. */
static const struct {
        int val;
        unsigned bit;
        const char *name;
} option_bits[] = {
        { 'S', OPT_SINCE, "--since" }, { 'U', OPT_UNTIL, "--until" }, { 'w', OPT_WINDOW, "--window" },
        { 'a', OPT_ALL, "--all" }, { 'n', OPT_LIMIT, "--limit" }, { 'm', OPT_METRIC, "--metric" },
        { ARG_OUTPUT_FILE, OPT_OUTPUT, "--output-file" }, { ARG_FOLLOW, OPT_FOLLOW, "--follow" }, { ARG_SIZE, OPT_SIZE, "--size" }, { ARG_HEIGHT, OPT_HEIGHT, "--height" },
        { 'f', OPT_FILE, "--file" }, { ARG_BOOT, OPT_BOOT, "--boot" }, { ARG_SORT, OPT_SORT, "--sort" },
        { ARG_JSON, OPT_JSON, "--json" }, { ARG_CSV, OPT_CSV, "--csv" }, { ARG_MEMLIMIT, OPT_MEMLIMIT, "--memory-limit" },
        { ARG_RULE, OPT_RULE, "--rule" }, { ARG_INTERVAL, OPT_INTERVAL, "--interval" },
        { ARG_DB_OUT, OPT_DB_OUT, "--db-out" }, { ARG_LOCAL, OPT_LOCAL, "--local" },
        { ARG_NO_AGENT, OPT_NO_AGENT, "--no-agent" },
};

/* The options' help, in the order --help lists them. bits 0: every command takes it;
 * else the commands whose option bits meet bits (leakwatch COMMAND --help lists only those). */
static const struct {
        unsigned bits;
        const char *text;
} option_help[] = {
        { 0, "      --db PATH          database (default: $LEAKWATCH_DB, else the running daemon's,\n"
             "                         else " DB_PATH_DEFAULT ")\n" },
        { 0, "      --runtime-dir PATH the daemon's control socket's directory (default:\n"
             "                         $LEAKWATCH_RUNTIME_DIR, else " RUNTIME_DIR_DEFAULT ")\n" },
        { OPT_JSON | OPT_CSV, "  -o, --output FORMAT    short (default), json, json-pretty or csv\n" },
        { OPT_JSON, "      --json[=pretty]    one JSON document (export: JSON lines); as -o json\n" },
        { OPT_CSV, "      --csv              CSV with a header line; as -o csv\n" },
        { 0, "      --no-legend        no header or footer\n" },
        { 0, "      --bytes            exact byte counts instead of IEC sizes\n" },
        { 0, "      --color[=WHEN]     auto (default), always or never; NO_COLOR is honoured\n" },
        { 0, "      --utc              times in UTC\n" },
        { 0, "      --no-pager         accepted for habit: leakwatch never pipes into a pager\n" },
        { OPT_SINCE, "  -S, --since TIME       start of the range (2026-11-24 10:00, -1h, -2 days, today,\n"
                     "                         yesterday, 1 hour ago)\n" },
        { OPT_UNTIL, "  -U, --until TIME       end of the range (default: now)\n" },
        { OPT_WINDOW, "  -w, --window DURATION  growth window (ps, top: 1h) or detector window (backtest: 6h;\n"
                      "                         watch: the daemon's; run: 2m)\n" },
        { OPT_ALL, "  -a, --all              ps: ended processes too; alerts: past alerts too;\n"
                   "                         TARGET: several matches are ambiguous; backtest: every evaluation\n" },
        { 0, "  -l, --full             never shorten table cells to the terminal width\n" },
        { OPT_LIMIT, "  -n, --limit N          top: rows (default 10); alerts: at most N\n" },
        { OPT_FOLLOW, "  -f, --follow           alerts: a line per alert event as it happens (-o json: JSON lines);\n"
                      "                         top: refresh in place, as top(1); until interrupted\n" },
        { OPT_METRIC, "  -m, --metric NAME      memory (anon+swap, default), rss, anon, swap, fds, ...\n"
                      "                         (export: a comma-separated list, or all)\n" },
        { OPT_OUTPUT, "      --output-file FILE plot: the SVG file (- for standard output);\n"
                      "                         run: the report (default: standard error)\n" },
        { OPT_SIZE, "      --size WxH         plot: image size in pixels (default " STRINGIFY(SVG_WIDTH) "x"
                    STRINGIFY(SVG_HEIGHT) ")\n" },
        { OPT_HEIGHT, "      --height N         show, run: chart height in rows\n" },
        { OPT_FILE, "  -f, --file FILE        backtest: read t,value rows from FILE (- for standard input)\n" },
        { OPT_BOOT, "      --boot ID          TARGET: only processes of this boot\n" },
        { OPT_SORT, "      --sort [-]KEY      ps: pid, id, name, rule, rss, memory, growth, state;\n"
                    "                         -KEY reverses the key's order\n" },
        { OPT_MEMLIMIT, "      --memory-limit SIZE  backtest: forecast the time until memory reaches SIZE\n" },
        { OPT_RULE, "      --rule NAME        watch: the daemon's rule to watch under (default: run)\n" },
        { OPT_INTERVAL, "      --interval SECONDS run: sample this often (default: the window / 120)\n" },
        { OPT_LOCAL, "      --local            run: sample in-process even when the daemon runs\n" },
        { OPT_DB_OUT, "      --db-out FILE      run: keep the in-process samples in FILE (a new database)\n" },
        { OPT_NO_AGENT, "      --no-agent         run: load no in-process agent into the command\n" },
        { 0, "  -h, --help             this help (leakwatch COMMAND --help: that command's)\n" },
        { 0, "      --version          the version\n" },
};

static void help(FILE *f)
{
        fprintf(f, "Usage: leakwatch [OPTIONS] [COMMAND] [ARGS]\n\n"
                   "Reads what leakwatchd recorded: watched processes, their memory over time, leak alerts.\n\n"
                   "Commands (default: status):\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
                char lead[64];

                snprintf(lead, sizeof(lead), "%s %s", commands[i].name, commands[i].args);
                fprintf(f, "  %-30s %s\n", lead, commands[i].help);
        }
        fprintf(f, "  %-30s %s\n", "help [COMMAND]", "this help, or one command's");
        fprintf(f, "\nTARGET: a PID, a process name (name:NAME), unit:NAME, rule:NAME or id:N.\n\nOptions:\n");
        for (size_t i = 0; i < ELEMENTSOF(option_help); i++)
                fputs(option_help[i].text, f);
        fprintf(f, "\nSee leakwatch(1).\n");
}

/* One command's help: what it does, its arguments and only the options it takes. */
static void command_help(FILE *f, const struct command *cmd)
{
        fprintf(f, "Usage: leakwatch %s [OPTIONS]%s%s\n\n%c%s.\n", cmd->name, cmd->args[0] ? " " : "", cmd->args,
                toupper((unsigned char)cmd->help[0]), cmd->help + 1);
        if (cmd->args[0] && strstr(cmd->args, "TARGET"))
                fprintf(f, "\nTARGET: a PID, a process name (name:NAME), unit:NAME, rule:NAME or id:N.\n");
        fprintf(f, "\nOptions:\n");
        for (size_t i = 0; i < ELEMENTSOF(option_help); i++)
                if (option_help[i].bits == 0 || (option_help[i].bits & cmd->opts))
                        fputs(option_help[i].text, f);
        fprintf(f, "\nSee leakwatch(1), COMMANDS.\n");
}

static const struct command *find_command(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(name, commands[i].name) == 0)
                        return &commands[i];
        return NULL;
}

static int usage_error(const char *fmt, ...) PRINTF(1, 2);
static int usage_error(const char *fmt, ...)
{
        va_list ap;

        fputs("leakwatch: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'leakwatch --help'.\n", stderr);
        return EXIT_USAGE;
}

/* leakwatch __complete WHAT [COMMAND]: the words the shell completion scripts offer,
 * one a line. Hidden: for the scripts, not for people. */
static int complete(struct cli *c, int argc, char **argv)
{
        const char *what = argc > 0 ? argv[0] : "";
        const struct command *cmd = argc > 1 ? find_command(argv[1]) : NULL;

        if (strcmp(what, "commands") == 0) {
                for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                        printf("%s\t%s\n", commands[i].name, commands[i].help);
                printf("help\tthis help, or one command's\n");
        } else if (strcmp(what, "options") == 0) {
                /* The command's options (all of them without one), "=" after those that
                 * take a value. */
                for (const struct option *o = long_options; o->name; o++) {
                        unsigned bit = 0;

                        for (size_t i = 0; i < ELEMENTSOF(option_bits); i++)
                                if (option_bits[i].val == o->val)
                                        bit = option_bits[i].bit;
                        if (strcmp(o->name, "colour") == 0 || (cmd && bit && !(cmd->opts & bit)))
                                continue;
                        if (cmd && (strcmp(o->name, "json") == 0 || strcmp(o->name, "output") == 0) &&
                            !(cmd->opts & OPT_JSON))
                                continue;
                        if (cmd && strcmp(o->name, "csv") == 0 && !(cmd->opts & OPT_CSV))
                                continue;
                        printf("--%s%s\n", o->name, o->has_arg == required_argument ? "=" : "");
                }
        } else if (strcmp(what, "metrics") == 0) {
                for (int i = -1; i < QM__MAX - 1; i++)
                        printf("%s\n", query_metric_name(i < 0 ? QM_MEMORY : i));
        } else if (strcmp(what, "sort") == 0) {
                printf("pid\nid\nname\nrule\nrss\nmemory\ngrowth\nstate\n-pid\n-id\n-name\n-rule\n-rss\n-memory\n"
                       "-growth\n-state\n");
        } else if (strcmp(what, "formats") == 0) {
                printf("short\njson\njson-pretty\ncsv\n");
        } else if (strcmp(what, "targets") == 0 || strcmp(what, "pids") == 0 || strcmp(what, "alerts") == 0) {
                return complete_from_db(c, what);
        } else {
                return usage_error("__complete: '%s' is not commands, options, metrics, sort, formats, targets, "
                                   "pids or alerts", what);
        }
        return EXIT_OK;
}

struct raw_args {
        const char *since, *until, *window, *limit, *size, *height, *memlimit, *interval, *runtime_dir;
        const char *output;             /* -o FORMAT as given */
        unsigned given;
        bool json, csv, bytes, utc, full;
        bool help;                      /* -h, --help: the command's help, once it is known */
        bool f_follows;                 /* -f is --follow (alerts), not --file (backtest) */
        bool stop;                      /* --help or --version: printed, nothing more to do */
        enum out_color_mode color;
};

static int parse_times(struct cli *c, const struct raw_args *a)
{
        int r;

        if (a->since) {
                r = timearg_parse(a->since, c->now_ms, c->out.utc, &c->since_ms);
                if (r < 0)
                        return usage_error("--since: cannot read '%s' as a time (2026-11-24 10:00, -1h, today, "
                                           "yesterday, 1 hour ago)", a->since);
        }
        if (a->until) {
                r = timearg_parse(a->until, c->now_ms, c->out.utc, &c->until_ms);
                if (r < 0)
                        return usage_error("--until: cannot read '%s' as a time (2026-11-24 10:00, -1h, today, "
                                           "now)", a->until);
        }
        if (c->since_ms && c->until_ms && c->since_ms >= c->until_ms)
                return usage_error("--since must be before --until");
        return EXIT_OK;
}

static int parse_values(struct cli *c, const struct raw_args *a)
{
        int64_t v;
        uint64_t sz;

        if (a->window && (parse_duration(a->window, &c->window_s) < 0 || c->window_s <= 0))
                return usage_error("--window: '%s' is not a duration (30m, 1h, 6h, 2d)", a->window);
        if (a->limit) {
                if (parse_int64(a->limit, 1, LIMIT_MAX, &v) < 0)
                        return usage_error("--limit: '%s' is not a number from 1 to 1000000", a->limit);
                c->limit = v;
        }
        if (a->height) {
                if (parse_int64(a->height, HEIGHT_MIN, HEIGHT_MAX, &v) < 0)
                        return usage_error("--height: '%s' is not a number from 2 to 200", a->height);
                c->height = (unsigned)v;
        }
        if (a->size) {
                unsigned w, h;
                char extra;

                if (sscanf(a->size, "%ux%u%c", &w, &h, &extra) != 2 || w < SVG_MIN_WIDTH || h < SVG_MIN_HEIGHT ||
                    w > SVG_MAX_SIDE || h > SVG_MAX_SIDE)
                        return usage_error("--size: '%s' is not WIDTHxHEIGHT in pixels (320x200 to 10000x10000)",
                                           a->size);
                c->svg_width = w;
                c->svg_height = h;
        }
        if (a->memlimit) {
                if (parse_size(a->memlimit, &sz) < 0 || sz == 0)
                        return usage_error("--memory-limit: '%s' is not a size (512M, 4G)", a->memlimit);
                c->memory_limit = (double)sz;
        }
        if (a->interval && (parse_duration(a->interval, &c->interval_s) < 0 || c->interval_s < INTERVAL_MIN ||
                            c->interval_s > INTERVAL_MAX))
                return usage_error("--interval: '%s' is not a duration from " INTERVAL_RANGE, a->interval);
        return EXIT_OK;
}

/* -o FORMAT, as journalctl and ps take it: the same as --json, --json=pretty, --csv. */
static int take_format(const struct command *cmd, struct raw_args *a)
{
        const char *f = a->output;

        if (!f)
                return EXIT_OK;
        if (strcmp(f, "short") == 0)
                return EXIT_OK;
        if (strcmp(f, "json") == 0 || strcmp(f, "json-pretty") == 0) {
                if (!(cmd->opts & OPT_JSON))
                        return usage_error("-o %s does not apply to '%s'", f, cmd->name);
                a->json = true;
                return EXIT_OK;
        }
        if (strcmp(f, "csv") == 0) {
                if (!(cmd->opts & OPT_CSV))
                        return usage_error("-o csv does not apply to '%s'", cmd->name);
                a->csv = true;
                return EXIT_OK;
        }
        /* -o was the output file before it became the format. */
        if (cmd->opts & OPT_OUTPUT)
                return usage_error("-o, --output: '%s' is not a format (short, json, json-pretty, csv); %s writes to "
                                   "a file with --output-file %s", f, cmd->name, f);
        return usage_error("-o, --output: '%s' is not a format (short, json, json-pretty, csv)", f);
}

static int now_ms(int64_t *ret)
{
        const char *fixed = getenv("LEAKWATCH_NOW");
        int64_t real = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);

        /* A fixed clock makes output reproducible (tests, or a report "as of" a time). */
        if (fixed && *fixed)
                return timearg_parse(fixed, real, true, ret);
        *ret = real;
        return 0;
}

/* Takes one option as getopt_long() returned it. Returns EXIT_OK or a usage error. */
static int take_option(int opt, struct cli *c, struct raw_args *a)
{
        for (size_t i = 0; i < ELEMENTSOF(option_bits); i++)
                if (option_bits[i].val == opt)
                        a->given |= option_bits[i].bit;
        switch (opt) {
        case 'h':
                a->help = true;
                break;
        case ARG_VERSION:
                printf("leakwatch %s\n", LEAKWATCH_VERSION);
                a->stop = true;
                break;
        case ARG_DB:
                if (!*optarg)
                        return usage_error("--db: empty path (leave --db out for the default database)");
                c->db_path = optarg;
                break;
        case ARG_JSON:
                if (optarg && strcmp(optarg, "pretty") != 0 && strcmp(optarg, "short") != 0)
                        return usage_error("--json: '%s' is not pretty or short", optarg);
                a->json = true;
                c->json_pretty = optarg && strcmp(optarg, "pretty") == 0;
                break;
        case ARG_CSV:
                a->csv = true;
                break;
        case ARG_NO_LEGEND:
                c->legend = false;
                break;
        case ARG_BYTES:
                a->bytes = true;
                break;
        case ARG_COLOR:
                if (!optarg || strcmp(optarg, "always") == 0)
                        a->color = COLOR_ALWAYS;
                else if (strcmp(optarg, "never") == 0)
                        a->color = COLOR_NEVER;
                else if (strcmp(optarg, "auto") == 0)
                        a->color = COLOR_AUTO;
                else
                        return usage_error("--color: '%s' is not auto, always or never", optarg);
                break;
        case ARG_UTC:
                a->utc = true;
                break;
        case 'S':
                a->since = optarg;
                break;
        case 'U':
                a->until = optarg;
                break;
        case 'a':
                c->all = true;
                break;
        case 'l':
                a->full = true;
                break;
        case 'w':
                a->window = optarg;
                break;
        case 'n':
                a->limit = optarg;
                break;
        case 'm':
                c->metric_arg = optarg;
                break;
        case 'o':
                a->output = optarg;
                break;
        case ARG_OUTPUT_FILE:
                c->output_path = optarg;
                break;
        case ARG_NO_PAGER:
                /* leakwatch pages nothing; the option is accepted as systemctl's is. */
                break;
        case ARG_FOLLOW:
                c->follow = true;
                break;
        case ARG_SIZE:
                a->size = optarg;
                break;
        case ARG_HEIGHT:
                a->height = optarg;
                break;
        case 'f':
                if (a->f_follows) {
                        a->given = (a->given & ~(unsigned)OPT_FILE) | OPT_FOLLOW;
                        c->follow = true;
                } else {
                        c->file = optarg;
                }
                break;
        case ARG_BOOT:
                c->boot_id = optarg;
                break;
        case ARG_SORT:
                c->sort = optarg;
                break;
        case ARG_MEMLIMIT:
                a->memlimit = optarg;
                break;
        case ARG_RUNTIME_DIR:
                a->runtime_dir = optarg;
                break;
        case ARG_RULE:
                c->rule = optarg;
                break;
        case ARG_INTERVAL:
                a->interval = optarg;
                break;
        case ARG_DB_OUT:
                c->db_out = optarg;
                break;
        case ARG_LOCAL:
                c->local = true;
                break;
        case ARG_NO_AGENT:
                c->no_agent = true;
                break;
        default:
                fputs("Try 'leakwatch --help'.\n", stderr);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

#define SHORT_OPTIONS "hS:U:alw:n:m:o:"

/* Parses the options of args[0..n) (args[0] stands for the program's name). With
 * in_order, parsing stops at the first word that is not an option; otherwise options
 * and words may mix and the words end up at args[*ret_first..n). */
static int parse_options(int n, char **args, bool in_order, struct cli *c, struct raw_args *a, int *ret_first)
{
        int opt, r;

        /* 0 makes getopt start afresh on this array. */
        optind = 0;
        while ((opt = getopt_long(n, args,
                                  in_order ? (a->f_follows ? "+" SHORT_OPTIONS "f" : "+" SHORT_OPTIONS "f:")
                                           : (a->f_follows ? SHORT_OPTIONS "f" : SHORT_OPTIONS "f:"),
                                  long_options, NULL)) != -1) {
                r = take_option(opt, c, a);
                if (r != EXIT_OK || a->stop)
                        return r;
        }
        *ret_first = optind;
        return EXIT_OK;
}

int main(int argc, char **argv)
{
        struct cli c = { .legend = true, .svg_width = SVG_WIDTH, .svg_height = SVG_HEIGHT };
        struct raw_args a = { .color = COLOR_AUTO };
        const struct command *cmd = NULL;
        _cleanup_free_ char **rest = NULL;
        int first, nrest, r;

        /* Character classes only, for the display width of names and the charts'
         * charset; numbers stay in the C locale, as scripts expect. */
        setlocale(LC_CTYPE, "");

        /* The options before the command, then the command's own: a copy of the rest
         * with our name in front, so getopt's messages still start with "leakwatch". */
        r = parse_options(argc, argv, true, &c, &a, &first);
        if (r != EXIT_OK || a.stop)
                return r;
        if (first < argc && strcmp(argv[first], "__complete") == 0) {
                c.db_given = c.db_path || (getenv("LEAKWATCH_DB") && *getenv("LEAKWATCH_DB"));
                if (!c.db_path)
                        c.db_path = c.db_given ? getenv("LEAKWATCH_DB") : DB_PATH_DEFAULT;
                c.runtime_dir = a.runtime_dir ? a.runtime_dir : getenv("LEAKWATCH_RUNTIME_DIR");
                if (!c.runtime_dir || !*c.runtime_dir)
                        c.runtime_dir = RUNTIME_DIR_DEFAULT;
                r = complete(&c, argc - first - 1, argv + first + 1);
                cli_done(&c);
                return r;
        }
        if (first < argc && strcmp(argv[first], "help") == 0) {
                /* leakwatch help [COMMAND], as git and systemctl take it. */
                if (first + 2 < argc)
                        return usage_error("help takes at most one command");
                if (first + 1 == argc) {
                        help(stdout);
                        return EXIT_OK;
                }
                cmd = find_command(argv[first + 1]);
                if (!cmd)
                        return usage_error("unknown command '%s'", argv[first + 1]);
                command_help(stdout, cmd);
                return EXIT_OK;
        }
        if (first < argc) {
                cmd = find_command(argv[first]);
                if (!cmd)
                        return usage_error("unknown command '%s'", argv[first]);
                first++;
        } else {
                if (a.help) {
                        help(stdout);
                        return EXIT_OK;
                }
                cmd = &commands[0];
        }
        a.f_follows = cmd->opts & OPT_FOLLOW;
        nrest = argc - first + 1;
        rest = calloc((size_t)nrest + 1, sizeof(*rest));
        if (!rest)
                return cli_error(EXIT_FAIL, "out of memory");
        rest[0] = argv[0];
        memcpy(rest + 1, argv + first, (size_t)(argc - first) * sizeof(*rest));
        r = parse_options(nrest, rest, cmd->run == cmd_run, &c, &a, &first);
        if (r != EXIT_OK || a.stop)
                return r;
        if (a.help) {
                command_help(stdout, cmd);
                return EXIT_OK;
        }
        r = take_format(cmd, &a);
        if (r != EXIT_OK)
                return r;

        for (size_t i = 0; i < ELEMENTSOF(option_bits); i++)
                if ((a.given & option_bits[i].bit) && !(cmd->opts & option_bits[i].bit)) {
                        fprintf(stderr, "leakwatch: %s does not apply to '%s'\n", option_bits[i].name, cmd->name);
                        return EXIT_USAGE;
                }
        if (a.json && a.csv)
                return usage_error("--json and --csv exclude each other");
        c.format = a.json ? FORMAT_JSON : a.csv ? FORMAT_CSV : FORMAT_HUMAN;
        if (a.output && strcmp(a.output, "json-pretty") == 0)
                c.json_pretty = true;
        c.db_given = c.db_path != NULL;
        if (!c.db_path)
                c.db_path = getenv("LEAKWATCH_DB");
        if (c.db_path && *c.db_path)
                c.db_given = true;
        else
                c.db_path = DB_PATH_DEFAULT;
        c.runtime_dir = a.runtime_dir ? a.runtime_dir : getenv("LEAKWATCH_RUNTIME_DIR");
        if (!c.runtime_dir || !*c.runtime_dir)
                c.runtime_dir = RUNTIME_DIR_DEFAULT;

        out_init(&c.out, stdout, a.color);
        c.color_mode = a.color;
        c.out.bytes = a.bytes;
        c.out.utc = a.utc;
        c.out.full = a.full;
        if (now_ms(&c.now_ms) < 0)
                return usage_error("LEAKWATCH_NOW: cannot read '%s' as a time", getenv("LEAKWATCH_NOW"));
        r = parse_times(&c, &a);
        if (r == EXIT_OK)
                r = parse_values(&c, &a);
        if (r != EXIT_OK)
                return r;

        r = cmd->run(&c, nrest - first, rest + first);
        cli_done(&c);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                if (r == EXIT_OK)
                        r = cli_error(EXIT_FAIL, "writing the output: %s", strerror(errno));
        }
        return r;
}
