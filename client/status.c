/* SPDX-License-Identifier: GPL-2.0-or-later */
/* status: leakwatch status — what the database says about the daemon and what it watches.
 *
 * Everything but the "Daemon" lines comes from the database, so it works on a copy and
 * when the daemon is stopped. The "Daemon" lines are the running daemon's own live view,
 * asked on its control socket; when it does not answer they say why (not running, or
 * not allowed to ask) and show its start and stop records from the database instead. */
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "live.h"
#include "objects.h"

/* Open alerts listed under the overview; past that many, a count and a pointer to
 * leakwatch alerts. */
#define MAX_LISTED_ALERTS 10

struct status {
        struct query_overview ov;
        struct query_rule *rules;
        size_t nrules;
        struct query_event *starts, *stops;
        size_t nstarts, nstops;
        struct query_alert *alerts;
        size_t nalerts;
        struct live_status live;
};

static void status_free(struct status *s)
{
        query_rules_free(s->rules, s->nrules);
        query_events_free(s->starts, s->nstarts);
        query_events_free(s->stops, s->nstops);
        query_alerts_free(s->alerts, s->nalerts);
        live_status_clear(&s->live);
}

static int load(struct cli *c, struct status *s)
{
        struct query_alert_filter af = { .open_only = true };
        int r;

        r = query_overview(c->q, &s->ov);
        if (r >= 0)
                r = query_rules(c->q, &s->rules, &s->nrules);
        if (r >= 0)
                r = query_events(c->q, "start", 1, &s->starts, &s->nstarts);
        if (r >= 0)
                r = query_events(c->q, "stop", 1, &s->stops, &s->nstops);
        if (r >= 0)
                r = query_alerts(c->q, &af, &s->alerts, &s->nalerts);
        return r;
}

static const char *const live_state_name[] = {
        [LIVE_RUNNING] = "running",
        [LIVE_NOT_RUNNING] = "not running",
        [LIVE_DENIED] = "permission denied",
        [LIVE_NO_ANSWER] = "no answer",
};

static struct json_object *int_or_null(int64_t v)
{
        return v < 0 ? NULL : json_object_new_int64(v);
}

/* The daemon's live view: its status reply, field by field (leakwatch(1) lists them). */
static struct json_object *live_json(const struct live_status *l)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        if (r == 0)
                r = json_add(o, "pid", int_or_null(l->pid));
        if (r == 0)
                r = json_add(o, "version", json_str(l->version));
        if (r == 0)
                r = json_add(o, "uptime_s", int_or_null(l->uptime_s));
        if (r == 0)
                r = json_add(o, "database", json_text(l->database, strlen(l->database)));
        if (r == 0)
                r = json_add(o, "database_bytes", int_or_null(l->database_bytes));
        if (r == 0)
                r = json_add(o, "database_failing", json_object_new_boolean(l->database_failing));
        if (r == 0)
                r = json_add(o, "sampler", l->sampler[0] ? json_str(l->sampler) : NULL);
        if (r == 0)
                r = json_add(o, "interval_s", json_num(l->interval_s));
        if (r == 0)
                r = json_add(o, "window_s", json_num(l->window_s));
        if (r == 0)
                r = json_add(o, "watched", int_or_null(l->watched));
        if (r == 0)
                r = json_add(o, "known", int_or_null(l->known));
        if (r == 0)
                r = json_add(o, "open_alerts", int_or_null(l->open_alerts));
        if (r == 0)
                r = json_add(o, "alerts_total", int_or_null(l->alerts_total));
        if (r == 0)
                r = json_add(o, "last_tick_us", int_or_null(l->last_tick_us));
        if (r == 0)
                r = json_add(o, "samples_written", int_or_null(l->samples_written));
        if (r == 0)
                r = json_add(o, "samples_pending", int_or_null(l->samples_pending));
        if (r == 0)
                r = json_add(o, "samples_dropped", int_or_null(l->samples_dropped));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int print_json(struct cli *c, const struct status *s)
{
        struct json_object *doc = json_object_new_object(), *rules = json_object_new_array(),
                           *alerts = json_object_new_array(), *daemon = json_object_new_object();
        int r = doc && rules && alerts && daemon ? 0 : -ENOMEM;

        for (size_t i = 0; r == 0 && i < s->nrules; i++)
                r = json_object_array_add(rules, obj_rule(&s->rules[i]));
        for (size_t i = 0; r == 0 && i < s->nalerts; i++)
                r = json_object_array_add(alerts, obj_alert(&s->alerts[i]));
        if (r == 0)
                r = json_add(daemon, "source", json_str("database"));
        if (r == 0)
                r = json_add_time(daemon, "last_start", s->nstarts ? s->starts[0].t_ms : 0);
        if (r == 0)
                r = json_add_time(daemon, "last_stop", s->nstops ? s->stops[0].t_ms : 0);
        if (r == 0)
                r = json_add(daemon, "running", s->live.state == LIVE_RUNNING ? json_object_new_boolean(true)
                                               : s->live.state == LIVE_NOT_RUNNING ? json_object_new_boolean(false)
                                               : NULL);
        if (r == 0)
                r = json_add(daemon, "control", json_str(live_state_name[s->live.state]));
        if (r == 0)
                r = json_add(daemon, "control_error", s->live.state == LIVE_RUNNING ? NULL : json_str(s->live.why));
        if (r == 0 && s->live.state == LIVE_RUNNING) {
                struct json_object *l = live_json(&s->live);

                r = l ? json_add(daemon, "live", l) : -ENOMEM;
        } else if (r == 0) {
                r = json_add(daemon, "live", NULL);
        }
        if (r == 0)
                r = json_add(doc, "database", json_str(c->db_path));
        if (r == 0)
                r = json_add(doc, "db_bytes", json_object_new_int64(s->ov.db_bytes));
        if (r == 0)
                r = json_add(doc, "schema", json_object_new_int(s->ov.schema));
        if (r == 0)
                r = json_add(doc, "daemon", daemon), daemon = NULL;
        if (r == 0)
                r = json_add(doc, "boot_id", s->ov.boot_id[0] ? json_str(s->ov.boot_id) : NULL);
        if (r == 0)
                r = json_add(doc, "processes_running", json_object_new_int64(s->ov.live));
        if (r == 0)
                r = json_add(doc, "processes_ended", json_object_new_int64(s->ov.processes - s->ov.live));
        if (r == 0)
                r = json_add(doc, "alerts_open", json_object_new_int64(s->ov.alerts_open));
        if (r == 0)
                r = json_add(doc, "alerts_total", json_object_new_int64(s->ov.alerts));
        if (r == 0)
                r = json_add_time(doc, "first_sample", s->ov.first_ms);
        if (r == 0)
                r = json_add_time(doc, "last_sample", s->ov.last_ms);
        if (r == 0)
                r = json_add(doc, "rules", rules), rules = NULL;
        if (r == 0)
                r = json_add(doc, "open_alerts", alerts), alerts = NULL;
        if (r == 0)
                r = out_json(&c->out, doc, c->json_pretty);
        json_object_put(rules);
        json_object_put(alerts);
        json_object_put(daemon);
        json_object_put(doc);
        return r < 0 ? cli_error(EXIT_FAIL, "status: out of memory") : EXIT_OK;
}

/* The daemon's start and stop as it recorded them, for when it does not answer. */
static void print_records(struct cli *c, const struct status *s)
{
        const struct out *o = &c->out;
        int64_t start = s->nstarts ? s->starts[0].t_ms : 0, stop = s->nstops ? s->stops[0].t_ms : 0;
        char t1[64], t2[64];

        fprintf(o->f, "%-11s ", "");
        if (!start)
                fprintf(o->f, "no start recorded");
        else if (stop >= start)
                fprintf(o->f, "%sstopped%s %s (%s), per the database", out_color(o, C_YELLOW), out_reset(o),
                        out_time(o, stop, TIME_FULL, t1, sizeof(t1)), out_ago(stop, c->now_ms, t2, sizeof(t2)));
        else
                fprintf(o->f, "started %s (%s), no stop recorded", out_time(o, start, TIME_FULL, t1, sizeof(t1)),
                        out_ago(start, c->now_ms, t2, sizeof(t2)));
        fputc('\n', o->f);
}

/* A tick's cost: well under a millisecond when few processes are watched, where
 * format_duration() would say 0ms. */
static const char *tick_cost(const struct out *o, int64_t us, char *buf, size_t bufsz)
{
        if (us < 0)
                return "-";
        if (us < 1000) {
                snprintf(buf, bufsz, "%" PRId64 "%s", us, o->utf8 ? "\u00b5s" : "us");
                return buf;
        }
        return format_duration((double)us / 1e6, buf, bufsz);
}

/* The running daemon's live view. */
static void print_live(struct cli *c, const struct live_status *l)
{
        const struct out *o = &c->out;
        char up[32], tick[32], iv[32], win[32];

        fprintf(o->f, "%-11s %srunning%s, pid %" PRId64 ", up %s (leakwatchd %s), every %s, window %s%s%s\n",
                "Daemon:", out_color(o, C_GREEN), out_reset(o), l->pid,
                l->uptime_s == 0 ? "0s" : format_duration(l->uptime_s > 0 ? (double)l->uptime_s : NAN, up, sizeof(up)),
                l->version,
                format_duration(l->interval_s, iv, sizeof(iv)),
                /* 0: none pinned, every time scale judges (lib/scales.h) */
                l->window_s == 0 ? "every scale" : format_duration(l->window_s, win, sizeof(win)),
                l->sampler[0] ? ", sampler " : "", l->sampler);
        fprintf(o->f, "%-11s watching %" PRId64 " process%s, %s%" PRId64 " open alert%s%s, last tick %s, %" PRId64
                      " samples dropped\n", "", l->watched, l->watched == 1 ? "" : "es",
                out_color(o, l->open_alerts > 0 ? C_RED : C_NONE), l->open_alerts, l->open_alerts == 1 ? "" : "s",
                l->open_alerts > 0 ? out_reset(o) : "",
                tick_cost(o, l->last_tick_us, tick, sizeof(tick)),
                MAX(l->samples_dropped, (int64_t)0));
        if (l->database_failing)
                fprintf(o->f, "%-11s %sdatabase unwritable%s: %" PRId64 " samples waiting to be written\n", "",
                        out_color(o, C_RED), out_reset(o), MAX(l->samples_pending, (int64_t)0));
}

/* The daemon's database, when it is not the one shown: the user may want --db. */
static void print_other_db(struct cli *c, const struct live_status *l)
{
        char a[PATH_MAX], b[PATH_MAX];
        const char *mine = realpath(c->db_path, a), *its;

        if (!l->database[0])
                return;
        its = realpath(l->database, b);
        if (strcmp(mine ? mine : c->db_path, its ? its : l->database) == 0)
                return;
        {
                _cleanup_free_ char *esc = out_escape(l->database, strlen(l->database));

                fprintf(c->out.f, "%-11s it writes %s, not the database shown here (--db reads it)\n", "",
                        esc ? esc : "?");
        }
}

static void print_daemon(struct cli *c, const struct status *s)
{
        const struct out *o = &c->out;
        char t1[64], t2[64];

        if (s->live.state == LIVE_RUNNING) {
                print_live(c, &s->live);
                print_other_db(c, &s->live);
        } else {
                if (s->live.state == LIVE_NOT_RUNNING)
                        fprintf(o->f, "%-11s %snot running%s (reading the database)\n", "Daemon:",
                                out_color(o, C_YELLOW), out_reset(o));
                else
                        fprintf(o->f, "%-11s %s%s%s; reading the database\n", "Daemon:",
                                out_color(o, C_RED), s->live.why, out_reset(o));
                print_records(c, s);
        }
        fprintf(o->f, "%-11s %s", "Newest:", s->ov.last_ms ? out_time(o, s->ov.last_ms, TIME_FULL, t1, sizeof(t1))
                                                               : "no samples");
        if (s->ov.last_ms)
                fprintf(o->f, " (%s)", out_ago(s->ov.last_ms, c->now_ms, t2, sizeof(t2)));
        fputc('\n', o->f);
}

static void print_rules(struct cli *c, const struct status *s)
{
        static const struct table_col cols[] = {
                { "RULE", ALIGN_LEFT, 8, false }, { "RUNNING", ALIGN_RIGHT, 0, false }, { "SEEN", ALIGN_RIGHT, 0, false },
                { "SELECTS", ALIGN_LEFT, 12, false },
        };
        struct table t;

        if (s->nrules == 0 || table_init(&t, cols, ELEMENTSOF(cols)) < 0)
                return;
        for (size_t i = 0; i < s->nrules; i++) {
                char buf[32];
                int row = table_add_row(&t);

                if (row < 0)
                        break;
                table_set_untrusted(&t, (size_t)row, 0, s->rules[i].name, strlen(s->rules[i].name));
                snprintf(buf, sizeof(buf), "%" PRId64, s->rules[i].live);
                table_set(&t, (size_t)row, 1, buf, C_NONE);
                snprintf(buf, sizeof(buf), "%" PRId64, s->rules[i].processes);
                table_set(&t, (size_t)row, 2, buf, C_NONE);
                table_set_untrusted(&t, (size_t)row, 3, s->rules[i].spec, strlen(s->rules[i].spec));
        }
        fputc('\n', c->out.f);
        table_layout(&t, &c->out, c->legend);
        table_print(&t, &c->out, c->legend);
        table_done(&t);
}

static void print_alerts(struct cli *c, const struct status *s)
{
        const struct out *o = &c->out;

        if (s->nalerts == 0)
                return;
        fputc('\n', o->f);
        for (size_t i = 0; i < s->nalerts && i < MAX_LISTED_ALERTS; i++) {
                const struct query_alert *a = &s->alerts[i];
                _cleanup_free_ char *name = out_escape(a->name, a->name_len);
                char t1[64], t2[64], rate[48], line[512], fit[512];

                snprintf(line, sizeof(line), "#%" PRId64 " %s (pid %" PRId32 ") %s %s since %s, %s", a->id,
                         name ? name : "?", a->pid, a->metric, a->state,
                         out_time(o, a->start_ms, TIME_SHORT, t1, sizeof(t1)),
                         out_rate(o, a->slope, detect_kind_from_name(a->metric) != DETECT_FDS, rate, sizeof(rate)));
                if (isfinite(a->forecast_s))
                        snprintf(line + strlen(line), sizeof(line) - strlen(line), ", limit in %s",
                                 format_duration(a->forecast_s, t2, sizeof(t2)));
                fprintf(o->f, "%s%s%s\n", out_color(o, C_RED), out_fit(o, line, o->width, fit, sizeof(fit)),
                        out_reset(o));
        }
        if (s->nalerts > MAX_LISTED_ALERTS)
                fprintf(o->f, "... and %zu more (leakwatch alerts)\n", s->nalerts - MAX_LISTED_ALERTS);
}

/* The exit status, as systemctl status and LSB init scripts have it: 0 running, 3 not
 * running, 4 unknown (the daemon could not be asked, or the database cannot be read). */
static int status_code(const struct live_status *l)
{
        switch (l->state) {
        case LIVE_RUNNING:
                return EXIT_OK;
        case LIVE_NOT_RUNNING:
                return EXIT_STATUS_NOT_RUNNING;
        default:
                return EXIT_STATUS_UNKNOWN;
        }
}

int cmd_status(struct cli *c, int argc, char **argv)
{
        struct status s = { 0 };
        const struct out *o = &c->out;
        char b1[64], b2[64];
        int r;

        (void)argv;
        if (argc > 0)
                return cli_error(EXIT_USAGE, "status takes no arguments");
        live_status_get(c, &s.live);
        (void)live_take_database(c, &s.live);
        r = cli_open_db(c);
        if (r != EXIT_OK) {
                status_free(&s);
                return r == EXIT_USAGE ? r : EXIT_STATUS_UNKNOWN;
        }
        r = load(c, &s);
        if (r < 0) {
                status_free(&s);
                (void)cli_query_error(c, r, "reading the overview");
                return EXIT_STATUS_UNKNOWN;
        }
        if (c->format == FORMAT_JSON) {
                r = print_json(c, &s);
                if (r == EXIT_OK)
                        r = status_code(&s.live);
                status_free(&s);
                return r;
        }
        {
                _cleanup_free_ char *path = out_escape(c->db_path, strlen(c->db_path));

                fprintf(o->f, "%-11s %s (%s, schema %d)\n", "Database:", path ? path : "?",
                        format_size((uint64_t)s.ov.db_bytes, b1, sizeof(b1)), s.ov.schema);
        }
        print_daemon(c, &s);
        if (s.ov.first_ms)
                fprintf(o->f, "%-11s since %s (%s)\n", "History:", out_time(o, s.ov.first_ms, TIME_FULL, b1, sizeof(b1)),
                        format_duration((double)(MAX(s.ov.last_ms, s.ov.first_ms) - s.ov.first_ms) / 1000, b2,
                                        sizeof(b2)));
        fprintf(o->f, "%-11s %" PRId64 " running, %" PRId64 " ended\n", "Processes:", s.ov.live,
                s.ov.processes - s.ov.live);
        fprintf(o->f, "%-11s %s%" PRId64 " open%s, %" PRId64 " in total\n", "Alerts:",
                out_color(o, s.ov.alerts_open ? C_RED : C_NONE), s.ov.alerts_open, s.ov.alerts_open ? out_reset(o) : "",
                s.ov.alerts);
        print_rules(c, &s);
        print_alerts(c, &s);
        r = status_code(&s.live);
        status_free(&s);
        return r;
}
