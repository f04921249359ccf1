/* SPDX-License-Identifier: GPL-2.0-or-later */
/* show: one process's or rule's series over a range — leakwatch show (identity, a
 * terminal chart with the trend and the alerts, a summary) and leakwatch plot (the
 * same picture as an SVG file).
 *
 * The trend is a Theil-Sen line through the floors of TREND_BUCKETS buckets of the
 * range: the detector judges floors, so the line shows what it sees, and a sawtooth
 * or a spike does not tilt it. */
#include "show.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aftermath.h"
#include "chart.h"
#include "detect.h"
#include "objects.h"
#include "sites.h"
#include "svg.h"
#include "target.h"
#include "trend.h"

/* Chart rows by default: a quarter of a classic terminal, room for the text around. */
#define DEFAULT_HEIGHT 12
/* Alerts marked on one picture; more are listed, not drawn. */
#define MAX_SPANS 8

struct view {
        struct target t;
        int metric;
        int64_t from_ms, to_ms;
        /* the series */
        int64_t *ts;
        double *v, *lo, *hi;
        size_t n, cap;
        size_t per_source[3];
        int64_t nproc_last;
        /* derived */
        double vmin, vmax;
        bool have_trend;
        double slope_ms, at_from;       /* trend: units per ms, value at from_ms */
        struct sample latest;
        struct query_alert *alerts;
        size_t nalerts;
        struct query_site *sites;       /* a process's, the newest in the range */
        size_t nsites;
        struct aftermath *after;        /* what came of each alert */
};

static void view_free(struct view *w)
{
        target_clear(&w->t);
        free(w->ts);
        free(w->v);
        free(w->lo);
        free(w->hi);
        for (size_t i = 0; w->after && i < w->nalerts; i++)
                aftermath_free(&w->after[i]);
        free(w->after);
        query_alerts_free(w->alerts, w->nalerts);
        query_sites_free(w->sites, w->nsites);
}

static int collect(const struct query_row *row, void *userdata)
{
        struct view *w = userdata;
        const struct query_value *qv = &row->m[w->metric];

        if (w->n == w->cap) {
                size_t nc = w->cap ? w->cap * 2 : 1024;
                int64_t *ts = reallocarray(w->ts, nc, sizeof(*ts));
                double *v, *lo, *hi;

                if (ts)
                        w->ts = ts;
                v = reallocarray(w->v, nc, sizeof(*v));
                if (v)
                        w->v = v;
                lo = reallocarray(w->lo, nc, sizeof(*lo));
                if (lo)
                        w->lo = lo;
                hi = reallocarray(w->hi, nc, sizeof(*hi));
                if (hi)
                        w->hi = hi;
                if (!ts || !v || !lo || !hi)
                        return -ENOMEM;
                w->cap = nc;
        }
        w->per_source[row->source]++;
        w->nproc_last = row->nproc;
        w->ts[w->n] = row->t_ms;
        w->v[w->n] = qv->known ? qv->v : NAN;
        w->lo[w->n] = qv->known ? qv->min : NAN;
        w->hi[w->n] = qv->known ? qv->max : NAN;
        w->n++;
        return 0;
}

static void fit_trend(struct view *w)
{
        w->vmin = w->vmax = NAN;
        for (size_t i = 0; i < w->n; i++) {
                if (isnan(w->lo[i]))
                        continue;
                w->vmin = isnan(w->vmin) || w->lo[i] < w->vmin ? w->lo[i] : w->vmin;
                w->vmax = isnan(w->vmax) || w->hi[i] > w->vmax ? w->hi[i] : w->vmax;
        }
        w->have_trend = trend_floor_fit(w->ts, w->lo, w->n, w->from_ms, w->to_ms, &w->slope_ms, &w->at_from) == 0;
}

static int parse_metric(const struct cli *c, int *ret)
{
        int m = query_metric_from_name(c->metric_arg ? c->metric_arg : "memory");

        if (m < 0) {
                char names[512];
                size_t o = 0;

                for (int i = 0; i < QM__MAX; i++)
                        o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
                                              query_metric_name(i == 0 ? QM_MEMORY : i - 1));
                return cli_error(EXIT_USAGE, "--metric: unknown metric '%s' (%s)", c->metric_arg, names);
        }
        *ret = m;
        return EXIT_OK;
}

/* Resolves the target and reads everything the picture needs. */
static int load(struct cli *c, int argc, char **argv, const char *cmd, struct view *w)
{
        struct query_alert_filter af = { 0 };
        int r;

        if (argc != 1)
                return cli_error(EXIT_USAGE, "%s needs one TARGET (a PID, a name, unit:NAME, rule:NAME or id:N)",
                                 cmd);
        r = parse_metric(c, &w->metric);
        if (r != EXIT_OK)
                return r;
        r = cli_open_db(c);
        if (r != EXIT_OK)
                return r;
        r = target_resolve(c, argv[0], &w->t);
        if (r != EXIT_OK)
                return r;
        r = target_default_range(c, &w->t, &w->from_ms, &w->to_ms);
        if (r < 0)
                return cli_query_error(c, r, "reading the series");
        if (w->to_ms <= w->from_ms)
                return cli_error(EXIT_USAGE, "the range is empty (--since is after the end of the process)");
        r = target_series(c, &w->t, w->from_ms, w->to_ms, collect, w);
        if (r < 0)
                return cli_query_error(c, r, "reading the series");
        fit_trend(w);
        if (w->t.kind == TARGET_PROCESS) {
                r = query_latest_samples(c->q, &w->t.proc.id, 1, &w->latest);
                af.process_id = w->t.proc.id;
        } else {
                af.rule_id = w->t.rule.id;
        }
        af.from_ms = w->from_ms;
        af.to_ms = w->to_ms;
        if (r >= 0)
                r = query_alerts(c->q, &af, &w->alerts, &w->nalerts);
        if (r >= 0 && w->t.kind == TARGET_PROCESS)
                r = query_sites(c->q, w->t.proc.id, w->from_ms, w->to_ms + 1, &w->sites, &w->nsites);
        if (r >= 0 && !(w->after = calloc(w->nalerts + 1, sizeof(*w->after))))
                return cli_error(EXIT_FAIL, "out of memory");
        for (size_t i = 0; r >= 0 && i < w->nalerts; i++)
                r = aftermath_read(c->q, &w->alerts[i], &w->after[i]);
        if (r < 0)
                return cli_query_error(c, r, "reading alerts");
        return EXIT_OK;
}

static const char *metric_label(int m)
{
        return m == QM_MEMORY ? "memory (anon+swap)" : query_metric_name(m);
}

/* ---- show ---- */

static enum out_color state_color(const char *s)
{
        return strcmp(s, "leaking") == 0 ? C_RED : strcmp(s, "suspect") == 0 ? C_YELLOW
             : strcmp(s, "ok") == 0 || strcmp(s, "recovered") == 0 ? C_GREEN : C_NONE;
}

static void field(const struct out *o, const char *name, const char *value)
{
        fprintf(o->f, "%11s: %s\n", name, value);
}

static void print_identity(struct cli *c, const struct view *w)
{
        const struct out *o = &c->out;
        char b1[128], b2[128], b3[256];

        if (w->t.kind == TARGET_RULE) {
                _cleanup_free_ char *spec = out_escape(w->t.rule.spec, strlen(w->t.rule.spec));

                fprintf(o->f, "%s%s%s %s\n", out_color(o, C_BOLD), o->utf8 ? "\u25cf" : "*", out_reset(o),
                        target_title(&w->t, b3, sizeof(b3)));
                field(o, "Selects", spec ? spec : "?");
                snprintf(b1, sizeof(b1), "%" PRId64 " running, %" PRId64 " seen", w->t.rule.live, w->t.rule.processes);
                field(o, "Processes", b1);
                field(o, "First seen", out_time(o, w->t.rule.first_ms, TIME_FULL, b1, sizeof(b1)));
                return;
        }
        {
                const struct query_process *p = &w->t.proc;
                const char *state = p->state_memory[0] ? p->state_memory : "not judged yet";
                _cleanup_free_ char *cmdline = out_escape(p->cmdline, p->cmdline_len);
                _cleanup_free_ char *rule = out_escape(p->rule, strlen(p->rule));
                _cleanup_free_ char *unit = p->unit ? out_escape(p->unit, strlen(p->unit)) : NULL;
                char line[512];

                fprintf(o->f, "%s%s%s %s %s%s%s\n", out_color(o, state_color(state)), o->utf8 ? "\u25cf" : "*",
                        out_reset(o), target_title(&w->t, b3, sizeof(b3)), out_color(o, state_color(state)), state,
                        out_reset(o));
                field(o, "Command", out_fit(o, cmdline ? cmdline : "?", o->full ? SIZE_MAX : MAX(o->width, 40u) - 13,
                                            line, sizeof(line)));
                field(o, "Rule", rule ? rule : "?");
                if (unit)
                        field(o, "Unit", unit);
                snprintf(line, sizeof(line), "%s (%s)", out_time(o, p->start_ms ? p->start_ms : p->first_ms, TIME_FULL,
                                                                 b1, sizeof(b1)),
                         out_ago(p->start_ms ? p->start_ms : p->first_ms, c->now_ms, b2, sizeof(b2)));
                field(o, p->start_ms ? "Started" : "First seen", line);
                if (p->end_ms) {
                        _cleanup_free_ char *why = p->end_reason ? out_escape(p->end_reason, strlen(p->end_reason))
                                                                 : NULL;

                        snprintf(line, sizeof(line), "%s (%s)", out_time(o, p->end_ms, TIME_FULL, b1, sizeof(b1)),
                                 why ? why : "ended");
                        field(o, "Ended", line);
                }
                if (w->t.same_pid)
                        fprintf(o->f, "%11s  (%zu other process%s had PID %" PRId32 "; leakwatch ps --all lists "
                                      "them, id:N picks one)\n", "", w->t.same_pid, w->t.same_pid == 1 ? "" : "es",
                                p->pid);
                if (w->latest.t_ms) {
                        const struct sample *s = &w->latest;
                        char rss[32], anon[32], swap[32], fds[32];

                        snprintf(line, sizeof(line), "rss %s, anon %s, swap %s, fds %s (%s)",
                                 out_amount(o, sample_has(s, M_RSS) ? (double)s->v[M_RSS] : NAN, true, rss, sizeof(rss)),
                                 out_amount(o, sample_has(s, M_ANON) ? (double)s->v[M_ANON] : NAN, true, anon,
                                            sizeof(anon)),
                                 out_amount(o, sample_has(s, M_SWAP) ? (double)s->v[M_SWAP] : NAN, true, swap,
                                            sizeof(swap)),
                                 out_amount(o, sample_has(s, M_FDS) ? (double)s->v[M_FDS] : NAN, false, fds, sizeof(fds)),
                                 out_ago(s->t_ms, c->now_ms, b2, sizeof(b2)));
                        field(o, "Latest", line);
                }
        }
}

static void print_alert_lines(struct cli *c, const struct view *w)
{
        const struct out *o = &c->out;

        for (size_t i = 0; i < w->nalerts; i++) {
                const struct query_alert *a = &w->alerts[i];
                bool bytes = detect_kind_from_name(a->metric) != DETECT_FDS;
                char rate[48], lo[48], hi[48], t1[64], fc[32], line[512];

                char t2[64];

                if (a->end_ms)
                        snprintf(line, sizeof(line), "#%" PRId64 " %s leak %s .. %s (%s): %s (%s .. %s)", a->id,
                                 a->metric, out_time(o, a->start_ms, TIME_SHORT, t1, sizeof(t1)),
                                 out_time(o, a->end_ms, TIME_SHORT, t2, sizeof(t2)), a->state,
                                 out_rate(o, a->slope, bytes, rate, sizeof(rate)),
                                 out_rate(o, a->slope_low, bytes, lo, sizeof(lo)),
                                 out_rate(o, a->slope_high, bytes, hi, sizeof(hi)));
                else
                        snprintf(line, sizeof(line), "#%" PRId64 " %s %s since %s: %s (%s .. %s)", a->id, a->metric,
                                 a->state, out_time(o, a->start_ms, TIME_SHORT, t1, sizeof(t1)),
                                 out_rate(o, a->slope, bytes, rate, sizeof(rate)),
                                 out_rate(o, a->slope_low, bytes, lo, sizeof(lo)),
                                 out_rate(o, a->slope_high, bytes, hi, sizeof(hi)));
                if (isfinite(a->forecast_s))
                        snprintf(line + strlen(line), sizeof(line) - strlen(line), ", limit in %s",
                                 format_duration(a->forecast_s, fc, sizeof(fc)));
                fprintf(o->f, "%11s: %s%s%s\n", i == 0 ? "Alert" : "", out_color(o, a->end_ms ? C_NONE : C_RED), line,
                        out_reset(o));
                /* Its evidence bundles: where, and what each holds. */
                aftermath_print_bundles(o, w->after[i].bundles, w->after[i].nbundles, 13);
        }
}

static void print_summary(struct cli *c, const struct view *w)
{
        const struct out *o = &c->out;
        bool bytes = query_metric_is_bytes(w->metric);
        char t1[64], t2[64], d[32], line[512], a[48], b[48], r[48];
        size_t o2;

        o2 = (size_t)snprintf(line, sizeof(line), "%s .. %s (%s): %zu raw sample%s",
                              out_time(o, w->from_ms, TIME_SECONDS, t1, sizeof(t1)),
                              out_time(o, w->to_ms, TIME_FULL, t2, sizeof(t2)),
                              format_duration((double)(w->to_ms - w->from_ms) / 1000, d, sizeof(d)),
                              w->per_source[QSRC_RAW], w->per_source[QSRC_RAW] == 1 ? "" : "s");
        if (w->per_source[QSRC_MINUTE] && o2 < sizeof(line))
                o2 += (size_t)snprintf(line + o2, sizeof(line) - o2, ", %zu minute rollup%s", w->per_source[QSRC_MINUTE],
                                       w->per_source[QSRC_MINUTE] == 1 ? "" : "s");
        if (w->per_source[QSRC_HOUR] && o2 < sizeof(line))
                snprintf(line + o2, sizeof(line) - o2, ", %zu hour rollup%s", w->per_source[QSRC_HOUR],
                         w->per_source[QSRC_HOUR] == 1 ? "" : "s");
        field(o, "Range", line);
        if (isnan(w->vmin)) {
                snprintf(line, sizeof(line), "%s: no values in this range", metric_label(w->metric));
        } else {
                double last = NAN;

                for (size_t i = w->n; i-- > 0;)
                        if (!isnan(w->v[i])) {
                                last = w->v[i];
                                break;
                        }
                snprintf(line, sizeof(line), "lowest %s, highest %s, last %s", out_amount(o, w->vmin, bytes, a, sizeof(a)),
                         out_amount(o, w->vmax, bytes, b, sizeof(b)), out_amount(o, last, bytes, r, sizeof(r)));
        }
        field(o, w->metric == QM_MEMORY ? "Memory" : query_metric_name(w->metric), line);
        if (w->have_trend)
                snprintf(line, sizeof(line), "%s (Theil-Sen line through the floor)",
                         out_rate(o, w->slope_ms * 1000, bytes, r, sizeof(r)));
        else
                snprintf(line, sizeof(line), "not enough data");
        field(o, "Trend", line);
}

static int show_json(struct cli *c, const struct view *w)
{
        struct json_object *doc = json_object_new_object(), *alerts = json_object_new_array(), *src = NULL,
                           *trend = NULL, *subject = NULL;
        int r = doc && alerts ? 0 : -ENOMEM;

        if (r == 0) {
                subject = w->t.kind == TARGET_RULE ? obj_rule(&w->t.rule) : obj_process(&w->t.proc);
                r = subject ? 0 : -ENOMEM;
        }
        if (r == 0 && w->t.kind == TARGET_PROCESS)
                r = obj_add_sample(subject, &w->latest);
        if (r == 0)
                r = json_add(doc, w->t.kind == TARGET_RULE ? "rule" : "process", subject), subject = NULL;
        if (r == 0)
                r = json_add(doc, "metric", json_str(query_metric_name(w->metric)));
        if (r == 0)
                r = json_add_time(doc, "from", w->from_ms);
        if (r == 0)
                r = json_add_time(doc, "to", w->to_ms);
        if (r == 0 && (src = json_object_new_object()) == NULL)
                r = -ENOMEM;
        for (int s = 0; r == 0 && s < 3; s++)
                r = json_add(src, query_source_name[s], json_object_new_int64((int64_t)w->per_source[s]));
        if (r == 0)
                r = json_add(doc, "points", src), src = NULL;
        if (r == 0)
                r = json_add(doc, "min", json_num(w->vmin));
        if (r == 0)
                r = json_add(doc, "max", json_num(w->vmax));
        if (r == 0 && w->have_trend) {
                trend = json_object_new_object();
                r = trend ? 0 : -ENOMEM;
                if (r == 0)
                        r = json_add(trend, "slope", json_num(w->slope_ms * 1000));
                if (r == 0)
                        r = json_add(trend, "from_value", json_num(w->at_from));
                if (r == 0)
                        r = json_add(trend, "to_value",
                                     json_num(w->at_from + w->slope_ms * (double)(w->to_ms - w->from_ms)));
        }
        if (r == 0)
                r = json_add(doc, "trend", trend), trend = NULL;
        for (size_t i = 0; r == 0 && i < w->nalerts; i++) {
                struct json_object *a = obj_alert(&w->alerts[i]);

                r = a ? aftermath_json(a, &w->after[i]) : -ENOMEM;
                if (r == 0)
                        r = json_object_array_add(alerts, a), a = NULL;
                json_object_put(a);
        }
        if (r == 0)
                r = json_add(doc, "alerts", alerts), alerts = NULL;
        if (r == 0 && w->t.kind == TARGET_PROCESS)
                r = json_add(doc, "sites", obj_sites(w->sites, w->nsites));
        if (r == 0)
                r = out_json(&c->out, doc, c->json_pretty);
        json_object_put(subject);
        json_object_put(src);
        json_object_put(trend);
        json_object_put(alerts);
        json_object_put(doc);
        return r < 0 ? cli_error(EXIT_FAIL, "out of memory") : EXIT_OK;
}

int cmd_show(struct cli *c, int argc, char **argv)
{
        struct view w = { 0 };
        struct chart ch;
        int r;

        r = load(c, argc, argv, "show", &w);
        if (r != EXIT_OK)
                goto out;
        if (c->format == FORMAT_JSON) {
                r = show_json(c, &w);
                goto out;
        }
        print_identity(c, &w);
        print_alert_lines(c, &w);
        sites_print(&c->out, w.sites, w.nsites);
        print_summary(c, &w);
        fputc('\n', c->out.f);
        if (chart_init(&ch, &c->out, w.from_ms, w.to_ms, query_metric_is_bytes(w.metric)) < 0) {
                r = cli_error(EXIT_FAIL, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < w.n; i++)
                chart_add(&ch, w.ts[i], w.lo[i], w.hi[i]);
        if (w.have_trend)
                chart_set_trend(&ch, w.slope_ms, w.at_from);
        for (size_t i = 0; i < w.nalerts && i < MAX_SPANS; i++)
                chart_add_span(&ch, w.alerts[i].start_ms, w.alerts[i].end_ms ? w.alerts[i].end_ms : w.to_ms);
        fprintf(c->out.f, "%*s %s\n", (int)ch.label_w, "", metric_label(w.metric));
        chart_render(&ch, &c->out, c->height ? c->height : DEFAULT_HEIGHT);
        if (c->legend && (w.have_trend || w.nalerts)) {
                const struct out *o = &c->out;

                fprintf(o->f, "%*s  ", (int)ch.label_w, "");
                if (w.have_trend)
                        fprintf(o->f, "%s%s%s trend of the floor", out_color(o, C_YELLOW), o->utf8 ? "\u00b7" : ".",
                                out_reset(o));
                if (w.nalerts)
                        fprintf(o->f, "%s%s%s%s alert", w.have_trend ? "   " : "", out_color(o, C_RED),
                                o->utf8 ? "\u2501" : "=", out_reset(o));
                fputc('\n', o->f);
        }
        chart_done(&ch);
out:
        view_free(&w);
        return r;
}

/* ---- plot ---- */

int cmd_plot(struct cli *c, int argc, char **argv)
{
        struct view w = { 0 };
        struct svg_plot p;
        char title[320], sub[320], t1[64], t2[64], rate[48];
        FILE *f = NULL;
        bool to_stdout;
        int r;

        if (!c->output_path)
                return cli_error(EXIT_USAGE, "plot needs --output-file FILE.svg (or --output-file - for standard output)");
        to_stdout = strcmp(c->output_path, "-") == 0;
        r = load(c, argc, argv, "plot", &w);
        if (r != EXIT_OK)
                goto out;
        if (svg_init(&p, w.from_ms, w.to_ms, c->svg_width, c->svg_height, query_metric_is_bytes(w.metric)) < 0) {
                r = cli_error(EXIT_FAIL, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < w.n; i++)
                svg_add(&p, w.ts[i], w.lo[i], w.hi[i]);
        svg_set_y_title(&p, metric_label(w.metric));
        if (w.have_trend) {
                int64_t g_from, g_to;
                double slope, at;

                /* Where the floor grew, the line describes that growth and is drawn over
                 * it alone, not across the flat or released time around it. */
                if (trend_growth_span(w.ts, w.lo, w.n, w.from_ms, w.to_ms, &g_from, &g_to) == 0 &&
                    trend_floor_fit(w.ts, w.lo, w.n, g_from, g_to, &slope, &at) == 0 && slope > 0) {
                        w.slope_ms = slope;
                        svg_set_trend(&p, slope, at, g_from, g_to);
                } else {
                        svg_set_trend(&p, w.slope_ms, w.at_from, w.from_ms, w.to_ms);
                }
        }
        for (size_t i = 0; i < w.nalerts && i < MAX_SPANS; i++) {
                char label[96];

                snprintf(label, sizeof(label), "alert #%" PRId64 " %s", w.alerts[i].id, w.alerts[i].state);
                svg_add_span(&p, w.alerts[i].start_ms, w.alerts[i].end_ms ? w.alerts[i].end_ms : w.to_ms, label);
        }
        /* The title is built from raw bytes; svg_write() escapes it. */
        if (w.t.kind == TARGET_PROCESS)
                snprintf(title, sizeof(title), "%.*s (pid %" PRId32 ") \u2014 %s", (int)MIN(w.t.proc.comm_len, (size_t)64),
                         w.t.proc.comm, w.t.proc.pid, metric_label(w.metric));
        else
                snprintf(title, sizeof(title), "rule %.64s \u2014 %s", w.t.rule.name, metric_label(w.metric));
        snprintf(sub, sizeof(sub), "%s .. %s%s%s", out_time(&c->out, w.from_ms, TIME_SHORT, t1, sizeof(t1)),
                 out_time(&c->out, w.to_ms, TIME_FULL, t2, sizeof(t2)), w.have_trend ? ", floor trend " : "",
                 w.have_trend ? out_rate(&c->out, w.slope_ms * 1000, query_metric_is_bytes(w.metric), rate, sizeof(rate))
                              : "");
        f = to_stdout ? stdout : fopen(c->output_path, "we");
        if (!f) {
                r = cli_error(EXIT_FAIL, "cannot write %s: %s", c->output_path, strerror(errno));
                svg_done(&p);
                goto out;
        }
        r = svg_write(&p, c->out.utc, f, title, sub);
        svg_done(&p);
        if (!to_stdout && fclose(f) != 0 && r == 0)
                r = -errno;
        if (r < 0) {
                r = cli_error(EXIT_FAIL, "writing %s: %s", c->output_path, strerror(-r));
                goto out;
        }
        if (!to_stdout && c->legend)
                printf("Wrote %s (%zu points%s).\n", c->output_path, w.n, w.nalerts ? ", alerts marked" : "");
        r = EXIT_OK;
out:
        view_free(&w);
        return r;
}
