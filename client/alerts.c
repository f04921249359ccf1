/* SPDX-License-Identifier: GPL-2.0-or-later */
/* alerts: leakwatch alerts — open (or, with --all, past) alerts with their evidence
 * and forecast; leakwatch alerts ID — one alert with its verdict trail and hook runs. */
#include "alerts.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aftermath.h"
#include "detect.h"
#include "objects.h"
#include "sites.h"

/* Hook output shown in the details: its first line, cut to the terminal; --json has
 * all of it (the daemon already bounded it). */
#define HOOK_LINE_MAX 512

static bool is_bytes(const struct query_alert *a)
{
        return detect_kind_from_name(a->metric) != DETECT_FDS;
}

static int64_t alert_end(const struct cli *c, const struct query_alert *a)
{
        return a->end_ms ? a->end_ms : c->now_ms;
}

/* ---- the list ---- */

enum { COL_ID, COL_PID, COL_NAME, COL_RULE, COL_METRIC, COL_STATE, COL_SINCE, COL_FOR, COL_SLOPE, COL_LEVEL,
       COL_FORECAST };

static int list_human(struct cli *c, const struct query_alert *a, size_t n)
{
        static const struct table_col cols[] = {
                [COL_ID] = { "ID", ALIGN_RIGHT, 0, false },
                [COL_PID] = { "PID", ALIGN_RIGHT, 0, false },
                [COL_NAME] = { "NAME", ALIGN_LEFT, 6, false },
                [COL_RULE] = { "RULE", ALIGN_LEFT, 4, false },
                [COL_METRIC] = { "METRIC", ALIGN_LEFT, 0, true },
                [COL_STATE] = { "STATE", ALIGN_LEFT, 0, false },
                [COL_SINCE] = { "SINCE", ALIGN_LEFT, 0, false },
                [COL_FOR] = { "FOR", ALIGN_RIGHT, 0, true },
                [COL_SLOPE] = { "SLOPE", ALIGN_RIGHT, 0, false },
                [COL_LEVEL] = { "LEVEL", ALIGN_RIGHT, 0, true },
                [COL_FORECAST] = { "LIMIT IN", ALIGN_RIGHT, 0, true },
        };
        const struct out *o = &c->out;
        size_t open = 0;
        struct table t;

        if (table_init(&t, cols, ELEMENTSOF(cols)) < 0)
                return cli_error(EXIT_FAIL, "out of memory");
        for (size_t i = 0; i < n; i++) {
                char buf[64];
                int row = table_add_row(&t);

                if (row < 0)
                        break;
                open += a[i].end_ms == 0;
                snprintf(buf, sizeof(buf), "%" PRId64, a[i].id);
                table_set(&t, (size_t)row, COL_ID, buf, C_NONE);
                snprintf(buf, sizeof(buf), "%" PRId32, a[i].pid);
                table_set(&t, (size_t)row, COL_PID, a[i].pid ? buf : "-", C_NONE);
                table_set_untrusted(&t, (size_t)row, COL_NAME, a[i].name, a[i].name_len);
                table_set_untrusted(&t, (size_t)row, COL_RULE, a[i].rule, strlen(a[i].rule));
                table_set_untrusted(&t, (size_t)row, COL_METRIC, a[i].metric, strlen(a[i].metric));
                table_set_untrusted(&t, (size_t)row, COL_STATE, a[i].state, strlen(a[i].state));
                if (!a[i].end_ms)
                        t.cells[(size_t)row * t.ncols + COL_STATE].color = C_RED;
                table_set(&t, (size_t)row, COL_SINCE, out_time(o, a[i].start_ms, TIME_SHORT, buf, sizeof(buf)), C_NONE);
                table_set(&t, (size_t)row, COL_FOR,
                          format_duration((double)(alert_end(c, &a[i]) - a[i].start_ms) / 1000, buf, sizeof(buf)),
                          C_NONE);
                table_set(&t, (size_t)row, COL_SLOPE, out_rate(o, a[i].slope, is_bytes(&a[i]), buf, sizeof(buf)),
                          C_NONE);
                table_set(&t, (size_t)row, COL_LEVEL, out_amount(o, a[i].level, is_bytes(&a[i]), buf, sizeof(buf)),
                          C_NONE);
                table_set(&t, (size_t)row, COL_FORECAST,
                          isfinite(a[i].forecast_s) ? format_duration(a[i].forecast_s, buf, sizeof(buf)) : "-", C_NONE);
        }
        table_layout(&t, o, c->legend);
        if (n > 0)
                table_print(&t, o, c->legend);
        table_done(&t);
        if (c->legend) {
                if (n > 0)
                        fputc('\n', o->f);
                fprintf(o->f, "%zu alert%s, %zu open. SLOPE: growth of the floor per hour; LIMIT IN: time until the "
                              "known limit at that slope.%s\n", n, n == 1 ? "" : "s", open,
                        c->all ? "" : " --all lists past alerts too.");
        }
        return EXIT_OK;
}

static int list_json(struct cli *c, const struct query_alert *a, size_t n)
{
        struct json_object *arr = json_object_new_array();
        int r = arr ? 0 : -ENOMEM;

        for (size_t i = 0; r == 0 && i < n; i++) {
                struct json_object *o = obj_alert(&a[i]);
                struct aftermath x = { 0 };

                r = o ? aftermath_read(c->q, &a[i], &x) : -ENOMEM;
                if (r == 0)
                        r = aftermath_json(o, &x);
                aftermath_free(&x);
                if (r == 0)
                        r = json_object_array_add(arr, o), o = NULL;
                json_object_put(o);
        }
        if (r == 0)
                r = out_json(&c->out, arr, c->json_pretty);
        json_object_put(arr);
        if (r < 0 && r != -ENOMEM)
                return cli_query_error(c, r, "reading what came of the alerts");
        return r < 0 ? cli_error(EXIT_FAIL, "out of memory") : EXIT_OK;
}

static void csv_num(const struct out *o, double v)
{
        char buf[40];

        format_number(v, buf, sizeof(buf));
        out_csv_field(o, buf, strlen(buf), false);
}

static void csv_time(const struct out *o, int64_t ms)
{
        char buf[40] = "";

        if (ms)
                format_iso8601(ms, buf, sizeof(buf));
        out_csv_field(o, buf, strlen(buf), false);
}

static int list_csv(struct cli *c, const struct query_alert *a, size_t n)
{
        static const char *const header[] = {
                "id", "pid", "name", "rule", "unit", "metric", "state", "kind", "slope", "slope_low", "slope_high",
                "growth", "growth_rel", "level", "p_value", "forecast_s", "limit_kind", "start", "end", "end_reason",
                "reason",
        };
        const struct out *o = &c->out;
        char buf[32];

        if (c->legend) {
                for (size_t i = 0; i < ELEMENTSOF(header); i++)
                        out_csv_field(o, header[i], strlen(header[i]), i == 0);
                out_csv_end(o);
        }
        for (size_t i = 0; i < n; i++) {
                snprintf(buf, sizeof(buf), "%" PRId64, a[i].id);
                out_csv_field(o, buf, strlen(buf), true);
                snprintf(buf, sizeof(buf), "%" PRId32, a[i].pid);
                out_csv_field(o, a[i].pid ? buf : "", a[i].pid ? strlen(buf) : 0, false);
                out_csv_field(o, a[i].name, a[i].name_len, false);
                out_csv_field(o, a[i].rule, strlen(a[i].rule), false);
                out_csv_field(o, a[i].unit ? a[i].unit : "", a[i].unit ? strlen(a[i].unit) : 0, false);
                out_csv_field(o, a[i].metric, strlen(a[i].metric), false);
                out_csv_field(o, a[i].state, strlen(a[i].state), false);
                out_csv_field(o, a[i].kind ? a[i].kind : "", a[i].kind ? strlen(a[i].kind) : 0, false);
                csv_num(o, a[i].slope);
                csv_num(o, a[i].slope_low);
                csv_num(o, a[i].slope_high);
                csv_num(o, a[i].growth);
                csv_num(o, a[i].growth_rel);
                csv_num(o, a[i].level);
                csv_num(o, a[i].p_value);
                csv_num(o, a[i].forecast_s);
                out_csv_field(o, a[i].limit_kind ? a[i].limit_kind : "", a[i].limit_kind ? strlen(a[i].limit_kind) : 0,
                              false);
                csv_time(o, a[i].start_ms);
                csv_time(o, a[i].end_ms);
                out_csv_field(o, a[i].end_reason ? a[i].end_reason : "", a[i].end_reason ? strlen(a[i].end_reason) : 0,
                              false);
                out_csv_field(o, a[i].reason ? a[i].reason : "", a[i].reason ? strlen(a[i].reason) : 0, false);
                out_csv_end(o);
        }
        return EXIT_OK;
}

/* ---- one alert ---- */

static void field(const struct out *o, const char *name, const char *value)
{
        fprintf(o->f, "%11s: %s\n", name, value);
}

static void print_verdicts(struct cli *c, const struct query_alert *a, const struct query_verdict *v, size_t n)
{
        static const struct table_col cols[] = {
                { "TIME", ALIGN_LEFT, 0, false }, { "STATE", ALIGN_LEFT, 0, false }, { "FROM", ALIGN_LEFT, 0, false },
                { "SLOPE", ALIGN_RIGHT, 0, false }, { "LEVEL", ALIGN_RIGHT, 0, false }, { "P", ALIGN_RIGHT, 0, false },
                { "REASON", ALIGN_LEFT, 10, false },
        };
        const struct out *o = &c->out;
        struct table t;

        fprintf(o->f, "\nVerdicts (%zu):\n", n);
        if (n == 0 || table_init(&t, cols, ELEMENTSOF(cols)) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                char buf[64];
                int row = table_add_row(&t);

                if (row < 0)
                        break;
                table_set(&t, (size_t)row, 0, out_time(o, v[i].t_ms, TIME_SECONDS, buf, sizeof(buf)), C_NONE);
                snprintf(buf, sizeof(buf), "%s%s", v[i].state, v[i].escalated ? "!" : "");
                table_set(&t, (size_t)row, 1, buf, strcmp(v[i].state, "leaking") == 0 ? C_RED : C_NONE);
                table_set(&t, (size_t)row, 2, v[i].previous, C_NONE);
                table_set(&t, (size_t)row, 3, out_rate(o, v[i].slope, is_bytes(a), buf, sizeof(buf)), C_NONE);
                table_set(&t, (size_t)row, 4, out_amount(o, v[i].level, is_bytes(a), buf, sizeof(buf)), C_NONE);
                if (isfinite(v[i].p_value))
                        snprintf(buf, sizeof(buf), "%.2g", v[i].p_value);
                else
                        snprintf(buf, sizeof(buf), "-");
                table_set(&t, (size_t)row, 5, buf, C_NONE);
                table_set_untrusted(&t, (size_t)row, 6, v[i].reason ? v[i].reason : "",
                                    v[i].reason ? strlen(v[i].reason) : 0);
        }
        table_layout(&t, o, c->legend);
        table_print(&t, o, c->legend);
        table_done(&t);
}

static void print_hook_runs(struct cli *c, const struct query_hook_run *h, size_t n)
{
        static const struct table_col cols[] = {
                { "STARTED", ALIGN_LEFT, 0, false }, { "EVENT", ALIGN_LEFT, 0, false }, { "PROGRAM", ALIGN_LEFT, 10, false },
                { "RESULT", ALIGN_LEFT, 0, false }, { "OUTPUT", ALIGN_LEFT, 10, false },
        };
        const struct out *o = &c->out;
        struct table t;

        fprintf(o->f, "\nHook runs (%zu):\n", n);
        if (n == 0 || table_init(&t, cols, ELEMENTSOF(cols)) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                char buf[64];
                size_t len = 0;
                int row = table_add_row(&t);

                if (row < 0)
                        break;
                table_set(&t, (size_t)row, 0, out_time(o, h[i].start_ms, TIME_SECONDS, buf, sizeof(buf)), C_NONE);
                table_set_untrusted(&t, (size_t)row, 1, h[i].event, strlen(h[i].event));
                table_set_untrusted(&t, (size_t)row, 2, h[i].program, strlen(h[i].program));
                if (!h[i].end_ms)
                        snprintf(buf, sizeof(buf), "running");
                else if (h[i].timed_out)
                        snprintf(buf, sizeof(buf), "timed out");
                else if (h[i].signal)
                        snprintf(buf, sizeof(buf), "signal %d", h[i].signal);
                else
                        snprintf(buf, sizeof(buf), "exit %d", h[i].exit_code);
                table_set(&t, (size_t)row, 3, buf,
                          h[i].end_ms && (h[i].exit_code != 0 || h[i].signal || h[i].timed_out) ? C_RED : C_NONE);
                /* The first line; the escapes show what else was there. */
                while (h[i].output && len < h[i].output_len && len < HOOK_LINE_MAX && h[i].output[len] != '\n')
                        len++;
                table_set_untrusted(&t, (size_t)row, 4, h[i].output ? h[i].output : "", len);
        }
        table_layout(&t, o, c->legend);
        table_print(&t, o, c->legend);
        table_done(&t);
}

/* The evidence bundles kept for the alert (escalate = evidence or restart). */
static void print_bundles(struct cli *c, const struct query_bundle *x, size_t n)
{
        if (n == 0)
                return;
        fprintf(c->out.f, "\nEvidence bundles (%zu):\n", n);
        aftermath_print_bundles(&c->out, x, n, 0);
}

/* What a rule with escalate = restart decided, and what systemd answered. */
static void print_restarts(struct cli *c, const struct query_restart *x, size_t n)
{
        static const struct table_col cols[] = {
                { "DECIDED", ALIGN_LEFT, 0, false }, { "UNIT", ALIGN_LEFT, 10, false },
                { "DECISION", ALIGN_LEFT, 0, false }, { "REASON", ALIGN_LEFT, 10, false },
                { "DETAIL", ALIGN_LEFT, 10, false },
        };
        const struct out *o = &c->out;
        struct table t;

        if (n == 0)
                return;
        fprintf(o->f, "\nRestarts (%zu):\n", n);
        if (table_init(&t, cols, ELEMENTSOF(cols)) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                char buf[64];
                int row = table_add_row(&t);
                bool bad = strcmp(x[i].decision, "failed") == 0;

                if (row < 0)
                        break;
                table_set(&t, (size_t)row, 0, out_time(o, x[i].t_ms, TIME_SECONDS, buf, sizeof(buf)), C_NONE);
                table_set_untrusted(&t, (size_t)row, 1, x[i].unit ? x[i].unit : "-",
                                    x[i].unit ? strlen(x[i].unit) : 1);
                if (bad)
                        table_set(&t, (size_t)row, 2, "failed", C_RED);
                else
                        table_set_untrusted(&t, (size_t)row, 2, x[i].decision, strlen(x[i].decision));
                table_set_untrusted(&t, (size_t)row, 3, x[i].reason, strlen(x[i].reason));
                table_set_untrusted(&t, (size_t)row, 4, x[i].detail ? x[i].detail : "",
                                    x[i].detail ? strlen(x[i].detail) : 0);
        }
        table_layout(&t, o, c->legend);
        table_print(&t, o, c->legend);
        table_done(&t);
}

static int details_json(struct cli *c, const struct query_alert *a, const struct query_alert_evidence ev[2],
                        const struct query_verdict *v, size_t nv, const struct query_hook_run *h, size_t nh,
                        const struct aftermath *x)
{
        struct json_object *doc = obj_alert(a), *va = json_object_new_array(), *ha = json_object_new_array();
        int r = doc && va && ha ? 0 : -ENOMEM;
        enum detect_kind m = detect_kind_from_name(a->metric) == DETECT_FDS ? DETECT_FDS : DETECT_MEMORY;

        /* What it was raised on, and the latest evaluation beside it (null: not recorded). */
        for (int i = 0; r == 0 && i < 2; i++) {
                struct json_object *e = NULL;

                if (ev[i].present && !(e = obj_alert_evidence(&ev[i], m)))
                        r = -ENOMEM;
                if (r == 0)
                        r = json_add(doc, i == 0 ? "raised" : "latest", e);
        }
        if (r == 0)
                r = aftermath_json(doc, x);
        for (size_t i = 0; r == 0 && i < nv; i++)
                r = json_object_array_add(va, obj_verdict(&v[i]));
        for (size_t i = 0; r == 0 && i < nh; i++)
                r = json_object_array_add(ha, obj_hook_run(&h[i]));
        if (r == 0)
                r = json_add(doc, "verdicts", va), va = NULL;
        if (r == 0)
                r = json_add(doc, "hook_runs", ha), ha = NULL;
        if (r == 0)
                r = out_json(&c->out, doc, c->json_pretty);
        json_object_put(va);
        json_object_put(ha);
        json_object_put(doc);
        return r < 0 ? cli_error(EXIT_FAIL, "out of memory") : EXIT_OK;
}

/* What an alert was raised on, or its latest evaluation: the judge and its time scale,
 * the rate, and the time to each known limit from then. */
static void print_evidence(struct cli *c, const char *label, const struct query_alert_evidence *e, bool bytes,
                           enum detect_kind m)
{
        const struct out *o = &c->out;
        _cleanup_free_ char *reason = e->reason ? out_escape(e->reason, strlen(e->reason)) : NULL;
        char b1[128], b2[64], b3[64], line[600];
        struct forecast f;
        size_t len = 0;

        snprintf(line, sizeof(line), "%s, %s (%s scale): %s", out_time(o, e->t_ms, TIME_FULL, b1, sizeof(b1)),
                 strcmp(e->cause, "limit") == 0 ? "growth toward a limit" : "the leak detector",
                 format_duration(e->scale, b2, sizeof(b2)), reason ? reason : "?");
        field(o, label, line);
        snprintf(line, sizeof(line), "%s (at least %s), level %s", out_rate(o, e->slope, bytes, b1, sizeof(b1)),
                 out_rate(o, e->slope_low, bytes, b2, sizeof(b2)), out_amount(o, e->level, bytes, b3, sizeof(b3)));
        field(o, "  Rate", line);
        alert_evidence_forecast(e, m, &f);
        line[0] = '\0';
        for (int k = 0; k < LIMIT__MAX && len < sizeof(line); k++) {
                if (isnan(f.room[k]))
                        continue;
                forecast_format(f.seconds[k], b1, sizeof(b1));
                forecast_format(f.seconds_low[k], b2, sizeof(b2));
                if (isfinite(f.seconds[k]) && !isfinite(f.seconds_low[k]))
                        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s in %s (never at the lower bound)",
                                                len ? ", " : "", limit_name[k], b1);
                else if (isfinite(f.seconds[k]) && strcmp(b1, b2) != 0)
                        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s in %s (%s at the lower bound)",
                                                len ? ", " : "", limit_name[k], b1, b2);
                else
                        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %s%s", len ? ", " : "",
                                                limit_name[k], isfinite(f.seconds[k]) ? "in " : "", b1);
        }
        field(o, "  Limits", line[0] ? line : "none known");
}

static void details_human(struct cli *c, const struct query_alert *a, const struct query_alert_evidence ev[2])
{
        const struct out *o = &c->out;
        _cleanup_free_ char *name = out_escape(a->name, a->name_len);
        _cleanup_free_ char *cmdline = out_escape(a->cmdline, a->cmdline_len);
        _cleanup_free_ char *rule = out_escape(a->rule, strlen(a->rule));
        bool bytes = is_bytes(a);
        char b1[128], b2[128], b3[64], b4[64], line[600], fit[600];

        fprintf(o->f, "%s%s%s Alert #%" PRId64 ": %s in %s (pid %" PRId32 ", id:%" PRId64 ") %s%s%s\n",
                out_color(o, a->end_ms ? C_NONE : C_RED), o->utf8 ? "\u25cf" : "*", out_reset(o), a->id, a->metric,
                name ? name : "?", a->pid, a->process_id, out_color(o, a->end_ms ? C_NONE : C_RED), a->state,
                out_reset(o));
        field(o, "Command", out_fit(o, cmdline ? cmdline : "?", o->full ? SIZE_MAX : MAX(o->width, 40u) - 13, fit,
                                    sizeof(fit)));
        field(o, "Rule", rule ? rule : "?");
        if (a->kind) {
                _cleanup_free_ char *kind = out_escape(a->kind, strlen(a->kind));
                field(o, "Kind", kind ? kind : "?");
        }
        snprintf(line, sizeof(line), "%s (%s)", out_time(o, a->start_ms, TIME_FULL, b1, sizeof(b1)),
                 out_ago(a->start_ms, c->now_ms, b2, sizeof(b2)));
        field(o, "Started", line);
        if (a->escalated_ms)
                field(o, "Escalated", out_time(o, a->escalated_ms, TIME_FULL, b1, sizeof(b1)));
        if (a->end_ms) {
                _cleanup_free_ char *why = a->end_reason ? out_escape(a->end_reason, strlen(a->end_reason)) : NULL;

                snprintf(line, sizeof(line), "%s (%s), after %s", out_time(o, a->end_ms, TIME_FULL, b1, sizeof(b1)),
                         why ? why : a->state, format_duration((double)(a->end_ms - a->start_ms) / 1000, b2, sizeof(b2)));
                field(o, "Ended", line);
        }
        snprintf(line, sizeof(line), "%s (bounds %s .. %s)", out_rate(o, a->slope, bytes, b1, sizeof(b1)),
                 out_rate(o, a->slope_low, bytes, b2, sizeof(b2)), out_rate(o, a->slope_high, bytes, b3, sizeof(b3)));
        field(o, "Slope", line);
        if (isfinite(a->scale_s))
                field(o, "Scale", format_duration(a->scale_s, b1, sizeof(b1)));
        if (isfinite(a->growth_rel))
                snprintf(line, sizeof(line), "%s%s over the evidence (%+.1f%%)", a->growth > 0 ? "+" : "",
                         out_amount(o, a->growth, bytes, b1, sizeof(b1)), a->growth_rel * 100);
        else
                snprintf(line, sizeof(line), "%s%s over the evidence", a->growth > 0 ? "+" : "",
                         out_amount(o, a->growth, bytes, b1, sizeof(b1)));
        field(o, "Growth", line);
        field(o, "Level", out_amount(o, a->level, bytes, b1, sizeof(b1)));
        if (isfinite(a->forecast_s)) {
                _cleanup_free_ char *lk = a->limit_kind ? out_escape(a->limit_kind, strlen(a->limit_kind)) : NULL;

                snprintf(line, sizeof(line), "%s until the %s limit, at this slope",
                         format_duration(a->forecast_s, b1, sizeof(b1)), lk ? lk : "known");
                field(o, "Forecast", line);
        } else {
                field(o, "Forecast", "no known limit, or not growing");
        }
        if (a->evidence_from && a->evidence_to) {
                snprintf(line, sizeof(line), "%s .. %s (%s)", out_time(o, a->evidence_from, TIME_SHORT, b1, sizeof(b1)),
                         out_time(o, a->evidence_to, TIME_SHORT, b2, sizeof(b2)),
                         format_duration((double)(a->evidence_to - a->evidence_from) / 1000, b4, sizeof(b4)));
                if (isfinite(a->p_value))
                        snprintf(line + strlen(line), sizeof(line) - strlen(line), ", p = %.2g", a->p_value);
                field(o, "Evidence", line);
        }
        if (a->reason) {
                _cleanup_free_ char *reason = out_escape(a->reason, strlen(a->reason));
                field(o, "Reason", reason ? reason : "?");
        }
        /* What it was raised on stays as it was; the latest evaluation is beside it, so a
         * recovered alert's last numbers are not taken for why it was raised. */
        if (ev[0].present)
                print_evidence(c, "Raised on", &ev[0], bytes,
                               detect_kind_from_name(a->metric) == DETECT_FDS ? DETECT_FDS : DETECT_MEMORY);
        if (ev[1].present)
                print_evidence(c, "Latest", &ev[1], bytes,
                               detect_kind_from_name(a->metric) == DETECT_FDS ? DETECT_FDS : DETECT_MEMORY);
}

static int details(struct cli *c, const char *arg)
{
        struct query_alert_filter f = { 0 };
        struct query_alert *a = NULL;
        struct query_verdict *v = NULL;
        struct query_hook_run *h = NULL;
        struct query_alert_evidence ev[2] = { 0 };
        struct aftermath x = { 0 };
        size_t n = 0, nv = 0, nh = 0;
        int64_t id;
        int r;

        if (parse_int64(arg[0] == '#' ? arg + 1 : arg, 1, INT64_MAX, &id) < 0)
                return cli_error(EXIT_USAGE, "'%s' is not an alert id (a number, as leakwatch alerts lists)", arg);
        f.id = id;
        r = query_alerts(c->q, &f, &a, &n);
        if (r >= 0 && n == 0) {
                query_alerts_free(a, n);
                return cli_error(EXIT_NOTFOUND, "no alert #%" PRId64 " in the database (leakwatch alerts --all "
                                 "lists them)", id);
        }
        if (r >= 0)
                r = query_alert_verdicts(c->q, &a[0], &v, &nv);
        if (r >= 0)
                r = query_hook_runs(c->q, id, &h, &nh);
        if (r >= 0)
                r = query_alert_evidence(c->q, id, ev);
        if (r >= 0)
                r = aftermath_read(c->q, &a[0], &x);
        if (r < 0)
                r = cli_query_error(c, r, "reading the alert");
        else if (c->format == FORMAT_JSON)
                r = details_json(c, &a[0], ev, v, nv, h, nh, &x);
        else {
                details_human(c, &a[0], ev);
                sites_print(&c->out, x.sites, x.nsites);
                print_verdicts(c, &a[0], v, nv);
                print_hook_runs(c, h, nh);
                print_bundles(c, x.bundles, x.nbundles);
                print_restarts(c, x.restarts, x.nrestarts);
                r = EXIT_OK;
        }
        query_alerts_free(a, n);
        query_verdicts_free(v, nv);
        query_hook_runs_free(h, nh);
        query_alert_evidence_free(ev);
        aftermath_free(&x);
        return r;
}

int cmd_alerts(struct cli *c, int argc, char **argv)
{
        struct query_alert_filter f = { .open_only = !c->all };
        struct query_alert *a = NULL;
        size_t n = 0, shown;
        int r;

        if (argc > 1)
                return cli_error(EXIT_USAGE, "alerts takes at most one alert ID");
        if (argc == 1 && c->format == FORMAT_CSV)
                return cli_error(EXIT_USAGE, "one alert has no CSV form; use --json");
        r = cli_open_db(c);
        if (r != EXIT_OK)
                return r;
        if (argc == 1)
                return details(c, argv[0]);
        if (c->since_ms || c->until_ms) {
                f.from_ms = c->since_ms ? c->since_ms : 1;
                f.to_ms = c->until_ms ? c->until_ms : c->now_ms + 1;
        }
        r = query_alerts(c->q, &f, &a, &n);
        if (r < 0)
                return cli_query_error(c, r, "listing alerts");
        shown = c->limit > 0 && n > (size_t)c->limit ? (size_t)c->limit : n;
        r = c->format == FORMAT_JSON ? list_json(c, a, shown) : c->format == FORMAT_CSV ? list_csv(c, a, shown)
                                                                                     : list_human(c, a, shown);
        query_alerts_free(a, n);
        return r;
}
