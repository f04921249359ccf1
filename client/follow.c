/* SPDX-License-Identifier: GPL-2.0-or-later */
/* follow: leakwatch alerts -f and leakwatch top -f, polling the database. */
#include "follow.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "alerts.h"
#include "detect.h"
#include "live.h"
#include "objects.h"
#include "ps.h"

/* alerts -f polls this often: the daemon's writer commits every few seconds, so a
 * poll a second prints each event soon after it is in the database, and costs a
 * query of the open alerts. */
#define FOLLOW_POLL_MS 1000
/* top -f refreshes this often: about top(1)'s three seconds, a little livelier. */
#define LIVE_REFRESH_MS 2000
/* A poll asks for the alerts open now and those that ended in this last stretch: an
 * end the daemon committed late (its writer waits while the disk is full) is still
 * seen, and a known alert that left the stretch unseen is asked for by its id. */
#define FOLLOW_LAG_MS (10 * 60 * 1000)
/* top -f: the lines that are not the list (title, daemon, headings, alerts). */
#define LIVE_CHROME_ROWS 12
/* top -f: open alerts listed under the growers, at most. */
#define LIVE_ALERTS 5

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
        stop_signal = sig;
}

/* SIGINT and SIGTERM end the loop; they are blocked but while waiting (ppoll() with
 * wait_mask), so one that arrives between a check and a wait is not lost. A closed
 * pipe is a write error (EPIPE), not a signal. */
static void stop_signals(sigset_t *ret_wait_mask)
{
        struct sigaction sa = { .sa_handler = on_stop };
        sigset_t block;

        sigemptyset(&sa.sa_mask);
        (void)sigaction(SIGINT, &sa, NULL);
        (void)sigaction(SIGTERM, &sa, NULL);
        (void)signal(SIGPIPE, SIG_IGN);
        sigemptyset(&block);
        sigaddset(&block, SIGINT);
        sigaddset(&block, SIGTERM);
        (void)sigprocmask(SIG_BLOCK, &block, ret_wait_mask);
        sigdelset(ret_wait_mask, SIGINT);
        sigdelset(ret_wait_mask, SIGTERM);
}

/* Waits ms, or less if a stop signal comes or the reader of out goes away (a pipe's
 * reader closing shows as POLLERR on its writing end, without a write). Returns
 * whether to go on. */
static bool wait_ms(int ms, FILE *out, const sigset_t *wait_mask)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
        struct pollfd pfd = { .fd = fileno(out), .events = 0 };

        if (stop_signal)
                return false;
        if (ppoll(&pfd, 1, &ts, wait_mask) > 0 && (pfd.revents & (POLLERR | POLLHUP)))
                return false;
        return !stop_signal;
}

static int64_t real_now_ms(void)
{
        return (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
}

/* Flushes f. Returns true when nothing more can be written: a reader that went away
 * (EPIPE, as with "| head") is a normal end, and the unwritten rest is dropped; any
 * other error stays on f for main to report. */
static bool output_gone(FILE *f)
{
        if (fflush(f) == 0 && !ferror(f))
                return false;
        if (errno == EPIPE) {
                __fpurge(f);
                clearerr(f);
        }
        return true;
}

/* ---- alerts -f ---- */

/* What a poll saw of an alert, to tell what changed at the next. */
struct seen {
        int64_t id, end_ms, escalated_ms;
        char state[16];
};

static struct seen seen_of(const struct query_alert *a)
{
        struct seen s = { .id = a->id, .end_ms = a->end_ms, .escalated_ms = a->escalated_ms };

        snprintf(s.state, sizeof(s.state), "%s", a->state ? a->state : "");
        return s;
}

static const struct seen *find_seen(const struct seen *v, size_t n, int64_t id)
{
        for (size_t i = 0; i < n; i++)
                if (v[i].id == id)
                        return &v[i];
        return NULL;
}

static void print_event(struct cli *c, const char *event, int64_t t_ms, const struct query_alert *a)
{
        const struct out *o = &c->out;
        bool bytes = detect_kind_from_name(a->metric) != DETECT_FDS;

        if (c->format == FORMAT_JSON) {
                struct json_object *doc = json_object_new_object(), *obj = obj_alert(a);
                int r = doc && obj ? 0 : -ENOMEM;

                if (r == 0)
                        r = json_object_object_add(doc, "event", json_object_new_string(event));
                if (r == 0)
                        r = json_add_time(doc, "time", t_ms);
                if (r == 0)
                        r = json_object_object_add(doc, "alert", obj), obj = NULL;
                if (r == 0)
                        (void)out_json(o, doc, false);
                json_object_put(obj);
                json_object_put(doc);
                return;
        }
        {
                _cleanup_free_ char *name = out_escape(a->name, a->name_len);
                _cleanup_free_ char *state = out_escape(a->state, strlen(a->state));
                char t[64], rate[48], lim[32];

                fprintf(o->f, "%s alert #%" PRId64 " %s%s%s: %s (pid %" PRId32 ") %s %s, %s",
                        out_time(o, t_ms, TIME_SECONDS, t, sizeof(t)), a->id,
                        out_color(o, strcmp(event, "ended") == 0 ? C_GREEN : C_RED), event, out_reset(o),
                        name ? name : "?", a->pid, a->metric, state ? state : "?",
                        out_rate(o, a->slope, bytes, rate, sizeof(rate)));
                if (isfinite(a->forecast_s) && !a->end_ms)
                        fprintf(o->f, ", limit in %s", format_duration(a->forecast_s, lim, sizeof(lim)));
                if (a->end_ms && a->end_reason) {
                        _cleanup_free_ char *why = out_escape(a->end_reason, strlen(a->end_reason));

                        fprintf(o->f, " (%s)", why ? why : "?");
                }
                fputc('\n', o->f);
        }
}

/* The events between what the last poll saw (was) and this alert now. */
static void alert_events(struct cli *c, const struct seen *was, const struct query_alert *a, int64_t now)
{
        if (!was) {
                print_event(c, "raised", a->start_ms, a);
                if (a->escalated_ms)
                        print_event(c, "escalated", a->escalated_ms, a);
                if (a->end_ms)
                        print_event(c, "ended", a->end_ms, a);
                return;
        }
        if (a->escalated_ms && !was->escalated_ms)
                print_event(c, "escalated", a->escalated_ms, a);
        if (a->end_ms && !was->end_ms)
                print_event(c, "ended", a->end_ms, a);
        else if (!a->end_ms && strcmp(a->state, was->state) != 0)
                print_event(c, "changed", now, a);
}

static int poll_alerts(struct cli *c, bool first, struct seen **seen, size_t *nseen)
{
        int64_t now = real_now_ms();
        struct query_alert_filter f = { .from_ms = now - FOLLOW_LAG_MS, .to_ms = INT64_MAX / 2 };
        struct query_alert *a = NULL;
        struct seen *next;
        size_t n = 0;
        int r;

        /* A new connection a poll: a reader's snapshot stays as it began, and one opened
         * while the daemon was stopped is immutable (store_open). */
        if (!first) {
                char err[256];

                cli_done(c);
                r = query_open(c->db_path, &c->q, err, sizeof(err));
                if (r < 0)
                        return r;
        }
        r = query_alerts(c->q, &f, &a, &n);
        if (r < 0)
                return r;
        next = calloc(n ? n : 1, sizeof(*next));
        if (!next) {
                query_alerts_free(a, n);
                return -ENOMEM;
        }
        /* Known alerts that left the stretch: ended a while ago, and committed late or
         * missed; their last state is asked for by id. */
        for (size_t i = 0; !first && i < *nseen; i++) {
                struct query_alert_filter one = { .id = (*seen)[i].id };
                struct query_alert *b = NULL;
                size_t nb = 0;
                bool listed = false;

                for (size_t k = 0; k < n && !listed; k++)
                        listed = a[k].id == (*seen)[i].id;
                if (listed || query_alerts(c->q, &one, &b, &nb) < 0)
                        continue;
                if (nb == 1)
                        alert_events(c, &(*seen)[i], &b[0], now);
                query_alerts_free(b, nb);
        }
        /* Oldest first, as a log reads; the query gives the newest first. */
        for (size_t i = n; i-- > 0;) {
                const struct seen *was = find_seen(*seen, *nseen, a[i].id);

                if (first) {
                        if (!a[i].end_ms)
                                print_event(c, "open", a[i].start_ms, &a[i]);
                } else {
                        alert_events(c, was, &a[i], now);
                }
                next[n - 1 - i] = seen_of(&a[i]);
        }
        free(*seen);
        *seen = next;
        *nseen = n;
        query_alerts_free(a, n);
        return 0;
}

int cmd_alerts_follow(struct cli *c, int argc, char **argv)
{
        struct seen *seen = NULL;
        size_t nseen = 0;
        sigset_t wait_mask;
        int r;

        if (!c->follow)
                return cmd_alerts(c, argc, argv);
        if (argc > 0)
                return cli_error(EXIT_USAGE, "alerts --follow takes no alert ID");
        if (c->format == FORMAT_CSV)
                return cli_error(EXIT_USAGE, "alerts --follow prints lines or, with -o json, JSON lines; not CSV");
        if (c->all || c->since_ms || c->until_ms || c->limit)
                return cli_error(EXIT_USAGE, "alerts --follow starts from the open alerts; it takes no --all, "
                                 "--since, --until or --limit");
        r = cli_open_db(c);
        if (r != EXIT_OK)
                return r;
        stop_signals(&wait_mask);
        for (bool first = true;; first = false) {
                r = poll_alerts(c, first, &seen, &nseen);
                if (r < 0) {
                        free(seen);
                        return cli_query_error(c, r, "following alerts");
                }
                if (output_gone(c->out.f) || !wait_ms(FOLLOW_POLL_MS, c->out.f, &wait_mask))
                        break;
        }
        free(seen);
        return EXIT_OK;
}

/* ---- top -f ---- */

/* One screen, into f: the daemon's health, the top growers, the open alerts. Returns
 * top's exit code: a database that cannot be read ends the view (the error is said on
 * standard error by then). */
static int live_screen(struct cli *c, FILE *f, unsigned rows)
{
        struct query_alert_filter af = { .open_only = true };
        struct query_alert *a = NULL;
        struct live_status l;
        FILE *saved = c->out.f;
        char t[64], up[32], tick[32];
        size_t n = 0;
        int code;

        c->now_ms = real_now_ms();
        fprintf(f, "leakwatch top - %s, every %ds; Ctrl-C quits\n", out_time(&c->out, c->now_ms, TIME_SECONDS, t,
                                                                            sizeof(t)), LIVE_REFRESH_MS / 1000);
        live_status_get(c, &l);
        if (l.state == LIVE_RUNNING) {
                fprintf(f, "leakwatchd %s: pid %" PRId64 ", up %s, watching %" PRId64 " of %" PRId64
                           " processes, %" PRId64 " open alert%s, last tick %s, %" PRId64 " samples dropped%s\n",
                        l.version, l.pid, format_duration(l.uptime_s >= 0 ? (double)l.uptime_s : NAN, up, sizeof(up)),
                        l.watched, l.known, l.open_alerts, l.open_alerts == 1 ? "" : "s",
                        l.last_tick_us >= 0 ? format_duration((double)l.last_tick_us / 1e6, tick, sizeof(tick)) : "-",
                        l.samples_dropped > 0 ? l.samples_dropped : 0,
                        l.database_failing ? ", DATABASE UNWRITABLE" : "");
        } else {
                fprintf(f, "leakwatchd: %s\n", l.why);
        }
        live_status_clear(&l);
        fputc('\n', f);

        /* The growers, as leakwatch top prints them, as many as the screen holds. */
        c->out.f = f;
        if (!c->limit)
                c->limit = rows > LIVE_CHROME_ROWS + 3 ? rows - LIVE_CHROME_ROWS : 3;
        code = cmd_top(c, 0, NULL);
        c->out.f = saved;

        if (c->q && query_alerts(c->q, &af, &a, &n) == 0 && n > 0) {
                fprintf(f, "\nOpen alerts:\n");
                for (size_t i = 0; i < n && i < LIVE_ALERTS; i++) {
                        _cleanup_free_ char *name = out_escape(a[i].name, a[i].name_len);
                        char rate[48], line[512], fit[512];

                        snprintf(line, sizeof(line), "  #%" PRId64 " %s (pid %" PRId32 ") %s %s since %s, %s", a[i].id,
                                 name ? name : "?", a[i].pid, a[i].metric, a[i].state,
                                 out_time(&c->out, a[i].start_ms, TIME_SHORT, t, sizeof(t)),
                                 out_rate(&c->out, a[i].slope, detect_kind_from_name(a[i].metric) != DETECT_FDS, rate,
                                          sizeof(rate)));
                        fprintf(f, "%s\n", out_fit(&c->out, line, c->out.width, fit, sizeof(fit)));
                }
                if (n > LIVE_ALERTS)
                        fprintf(f, "  ... and %zu more (leakwatch alerts)\n", n - LIVE_ALERTS);
        }
        query_alerts_free(a, n);
        cli_done(c);
        return code;
}

/* The terminal's rows, for how many growers fit; 24 when it cannot be asked. */
static unsigned term_rows(FILE *f)
{
        struct winsize ws;

        if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
                return ws.ws_row;
        return 24;
}

int cmd_top_follow(struct cli *c, int argc, char **argv)
{
        bool tty = c->out.tty;
        int64_t limit = c->limit;
        sigset_t wait_mask;

        if (!c->follow)
                return cmd_top(c, argc, argv);
        if (argc > 0)
                return cli_error(EXIT_USAGE, "top takes no arguments");
        if (c->format != FORMAT_HUMAN)
                return cli_error(EXIT_USAGE, "top --follow is for people; alerts --follow -o json is for programs");
        stop_signals(&wait_mask);
        do {
                char *buf = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&buf, &len);
                bool gone;
                int code;

                if (!f)
                        return cli_error(EXIT_FAIL, "out of memory");
                c->limit = limit;
                code = live_screen(c, f, term_rows(c->out.f));
                if (fclose(f) != 0) {
                        free(buf);
                        return cli_error(EXIT_FAIL, "out of memory");
                }
                if (code != EXIT_OK) {
                        free(buf);
                        return code;
                }
                /* In place on a terminal (home, clear to the end); a pipe gets one screen
                 * after another. The screen is written at once, so it does not flicker. */
                if (tty)
                        fputs("\033[H\033[2J", c->out.f);
                fwrite(buf, 1, len, c->out.f);
                if (!tty)
                        fputc('\n', c->out.f);
                free(buf);
                gone = output_gone(c->out.f);
                if (gone)
                        break;
        } while (wait_ms(LIVE_REFRESH_MS, c->out.f, &wait_mask));
        return EXIT_OK;
}
