/* SPDX-License-Identifier: GPL-2.0-or-later */
/* live: watch, unwatch, reload and the daemon's live status, through its control socket. */
#include "live.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"

const char *live_describe(const struct cli *c, int r, char *buf, size_t bufsz)
{
        char path[128], esc[512];

        if (ctl_socket_path(c->runtime_dir, path, sizeof(path)) < 0) {
                str_escape(c->runtime_dir, strlen(c->runtime_dir), esc, sizeof(esc));
                snprintf(buf, bufsz, "runtime directory %s: path too long for a socket", esc);
                return buf;
        }
        str_escape(path, strlen(path), esc, sizeof(esc));
        switch (r) {
        case -ENOENT:
        case -ENOTDIR:
                snprintf(buf, bufsz, "leakwatchd is not running (no control socket %s)", esc);
                break;
        case -ECONNREFUSED:
                snprintf(buf, bufsz, "leakwatchd is not running (nothing listens on %s)", esc);
                break;
        case -EACCES:
        case -EPERM:
                snprintf(buf, bufsz, "permission denied: cannot connect to %s (root and the leakwatch group only)",
                         esc);
                break;
        case -ETIMEDOUT:
                snprintf(buf, bufsz, "leakwatchd did not answer on %s in time", esc);
                break;
        case -ECONNRESET:
                snprintf(buf, bufsz, "leakwatchd hung up on %s without answering", esc);
                break;
        case -EBADMSG:
        case -EMSGSIZE:
                snprintf(buf, bufsz, "what answered on %s is not leakwatchd (not a control reply)", esc);
                break;
        default:
                snprintf(buf, bufsz, "cannot ask leakwatchd on %s: %s", esc, strerror(-r));
                break;
        }
        return buf;
}

int live_error(const struct cli *c, int r, const struct ctl_reply *reply, const char *what)
{
        char why[512];

        if (r < 0) {
                live_describe(c, r, why, sizeof(why));
                return cli_error(ctl_not_running(r) || ctl_denied(r, NULL) ? EXIT_DAEMON : EXIT_FAIL, "%s: %s", what,
                                 why);
        }
        if (ctl_denied(r, reply))
                return cli_error(EXIT_DAEMON, "%s: refused by leakwatchd: %s", what, reply->message);
        return cli_error(reply->error == -ENOENT ? EXIT_NOTFOUND : EXIT_FAIL, "%s: %s", what, reply->message);
}

/* ---- status ---- */

void live_status_get(const struct cli *c, struct live_status *ret)
{
        struct json_object *req = json_object_new_object();
        struct live_status s = {
                .pid = -1, .uptime_s = -1, .watched = -1, .known = -1, .open_alerts = -1, .alerts_total = -1,
                .last_tick_us = -1, .samples_written = -1, .samples_pending = -1, .samples_dropped = -1,
                .database_bytes = -1, .interval_s = NAN, .window_s = NAN,
        };
        const char *v;
        int r = req ? json_object_object_add(req, "cmd", json_object_new_string("status")) : -ENOMEM;

        if (r == 0)
                r = ctl_call(c->runtime_dir, req, CTL_TIMEOUT_MS, &s.reply);
        json_object_put(req);
        if (r < 0) {
                s.state = ctl_not_running(r) ? LIVE_NOT_RUNNING : ctl_denied(r, NULL) ? LIVE_DENIED : LIVE_NO_ANSWER;
                live_describe(c, r, s.why, sizeof(s.why));
                *ret = s;
                return;
        }
        if (!s.reply.ok) {
                s.state = ctl_denied(0, &s.reply) ? LIVE_DENIED : LIVE_NO_ANSWER;
                snprintf(s.why, sizeof(s.why), "leakwatchd refused: %s", s.reply.message);
                ctl_reply_clear(&s.reply);
                *ret = s;
                return;
        }
        s.state = LIVE_RUNNING;
        (void)ctl_get_int(&s.reply, "pid", &s.pid);
        (void)ctl_get_int(&s.reply, "uptime_s", &s.uptime_s);
        (void)ctl_get_int(&s.reply, "watched", &s.watched);
        (void)ctl_get_int(&s.reply, "known", &s.known);
        (void)ctl_get_int(&s.reply, "open_alerts", &s.open_alerts);
        (void)ctl_get_int(&s.reply, "alerts_total", &s.alerts_total);
        (void)ctl_get_int(&s.reply, "last_tick_us", &s.last_tick_us);
        (void)ctl_get_int(&s.reply, "samples_written", &s.samples_written);
        (void)ctl_get_int(&s.reply, "samples_pending", &s.samples_pending);
        (void)ctl_get_int(&s.reply, "samples_dropped", &s.samples_dropped);
        (void)ctl_get_int(&s.reply, "database_bytes", &s.database_bytes);
        (void)ctl_get_double(&s.reply, "interval_s", &s.interval_s);
        (void)ctl_get_double(&s.reply, "window_s", &s.window_s);
        (void)ctl_get_bool(&s.reply, "database_failing", &s.database_failing);
        v = ctl_get_string(&s.reply, "version");
        str_escape(v ? v : "?", v ? strlen(v) : 1, s.version, sizeof(s.version));
        v = ctl_get_string(&s.reply, "sampler");
        /* Only the names the daemon has: anything else from the socket is not shown. */
        if (v && (strcmp(v, "bpf") == 0 || strcmp(v, "proc") == 0))
                snprintf(s.sampler, sizeof(s.sampler), "%s", v);
        v = ctl_get_string(&s.reply, "database");
        (void)str_copy(s.database, sizeof(s.database), v ? v : "", v ? strlen(v) : 0);
        *ret = s;
}

bool live_take_database(struct cli *c, const struct live_status *s)
{
        size_t len = strnlen(s->database, sizeof(s->database));

        if (c->db_given || s->state != LIVE_RUNNING || s->database[0] != '/' || len >= sizeof(c->db_buf) - 1 ||
            len >= sizeof(s->database) - 1)
                return false;
        memcpy(c->db_buf, s->database, len + 1);
        c->db_path = c->db_buf;
        c->db_daemon = true;
        return true;
}

void live_status_clear(struct live_status *s)
{
        ctl_reply_clear(&s->reply);
}

/* ---- watch, unwatch, reload ---- */

static int parse_pid(const char *cmd, int argc, char **argv, int64_t *ret)
{
        if (argc != 1)
                return cli_error(EXIT_USAGE, "%s needs one PID", cmd);
        if (parse_int64(argv[0], 1, INT32_MAX, ret) < 0)
                return cli_error(EXIT_USAGE, "%s: '%s' is not a process ID", cmd, argv[0]);
        return EXIT_OK;
}


/* Sends req and returns the exit code, having said what went wrong; the reply is
 * kept in ret on success. */
static int request(const struct cli *c, struct json_object *req, int timeout_ms, const char *what,
                   struct ctl_reply *ret)
{
        struct ctl_reply reply;
        int r, code;

        r = ctl_call(c->runtime_dir, req, timeout_ms, &reply);
        if (r == 0 && reply.ok) {
                *ret = reply;
                return EXIT_OK;
        }
        code = live_error(c, r, r == 0 ? &reply : NULL, what);
        if (r == 0)
                ctl_reply_clear(&reply);
        return code;
}

int cmd_watch(struct cli *c, int argc, char **argv)
{
        struct json_object *req;
        struct ctl_reply reply;
        char what[64], w[32];
        int64_t pid, id = 0, window = 0;
        const char *rule;
        int r;

        r = parse_pid("watch", argc, argv, &pid);
        if (r != EXIT_OK)
                return r;
        if (c->rule && !rule_name_valid(c->rule))
                return cli_error(EXIT_USAGE, "--rule: '%s' is not a rule name (letters, digits and _.@:-, at most "
                                 "%d)", c->rule, RULE_NAME_MAX);
        if (c->window_s) {
                window = llround(c->window_s);
                if (window < WINDOW_MIN || window > WINDOW_MAX)
                        return cli_error(EXIT_USAGE, "--window: %s is outside 1m..90d",
                                         format_duration(c->window_s, w, sizeof(w)));
        }
        req = json_object_new_object();
        if (!req)
                return cli_error(EXIT_FAIL, "out of memory");
        json_object_object_add(req, "cmd", json_object_new_string("watch"));
        json_object_object_add(req, "pid", json_object_new_int64(pid));
        if (c->rule)
                json_object_object_add(req, "rule", json_object_new_string(c->rule));
        if (window)
                json_object_object_add(req, "window_s", json_object_new_int64(window));
        snprintf(what, sizeof(what), "watch %" PRId64, pid);
        r = request(c, req, CTL_TIMEOUT_MS, what, &reply);
        json_object_put(req);
        if (r != EXIT_OK)
                return r;
        rule = ctl_get_string(&reply, "rule");
        (void)ctl_get_int(&reply, "process_id", &id);
        {
                char esc[RULE_NAME_MAX * 4 + 1];

                str_escape(rule ? rule : "?", rule ? strlen(rule) : 1, esc, sizeof(esc));
                printf("Watching PID %" PRId64 " under rule %s (id:%" PRId64 ")", pid, esc, id);
        }
        if (window)
                printf(", window %s", format_duration((double)window, w, sizeof(w)));
        printf(".\n");
        ctl_reply_clear(&reply);
        return EXIT_OK;
}

int cmd_unwatch(struct cli *c, int argc, char **argv)
{
        struct json_object *req;
        struct ctl_reply reply;
        char what[64];
        int64_t pid;
        int r;

        r = parse_pid("unwatch", argc, argv, &pid);
        if (r != EXIT_OK)
                return r;
        req = json_object_new_object();
        if (!req)
                return cli_error(EXIT_FAIL, "out of memory");
        json_object_object_add(req, "cmd", json_object_new_string("unwatch"));
        json_object_object_add(req, "pid", json_object_new_int64(pid));
        snprintf(what, sizeof(what), "unwatch %" PRId64, pid);
        r = request(c, req, CTL_TIMEOUT_MS, what, &reply);
        json_object_put(req);
        if (r != EXIT_OK)
                return r;
        printf("Stopped watching PID %" PRId64 ".\n", pid);
        ctl_reply_clear(&reply);
        return EXIT_OK;
}

int cmd_trace(struct cli *c, int argc, char **argv)
{
        struct json_object *req;
        struct ctl_reply reply;
        char what[64], d[32];
        int64_t pid, seconds = TRACE_DEFAULT_S;
        double s;
        int r;

        if (argc < 1 || argc > 2)
                return cli_error(EXIT_USAGE, "trace needs a PID and optionally a DURATION");
        r = parse_pid("trace", 1, argv, &pid);
        if (r != EXIT_OK)
                return r;
        if (argc == 2) {
                if (parse_duration(argv[1], &s) < 0 || !(s >= TRACE_MIN_S && s <= TRACE_MAX_S))
                        return cli_error(EXIT_USAGE, "trace: '%s' is not a duration from 1s to 1h", argv[1]);
                seconds = llround(s);
        }
        req = json_object_new_object();
        if (!req)
                return cli_error(EXIT_FAIL, "out of memory");
        json_object_object_add(req, "cmd", json_object_new_string("trace"));
        json_object_object_add(req, "pid", json_object_new_int64(pid));
        json_object_object_add(req, "seconds", json_object_new_int64(seconds));
        snprintf(what, sizeof(what), "trace %" PRId64, pid);
        r = request(c, req, CTL_TIMEOUT_MS, what, &reply);
        json_object_put(req);
        if (r != EXIT_OK)
                return r;
        printf("Asked PID %" PRId64 "'s agents for allocation sites for %s; they show under its alerts and in "
               "'leakwatch show %" PRId64 "'.\n", pid, format_duration((double)seconds, d, sizeof(d)), pid);
        ctl_reply_clear(&reply);
        return EXIT_OK;
}

int cmd_reload(struct cli *c, int argc, char **argv)
{
        struct json_object *req;
        struct ctl_reply reply;
        int r;

        (void)argv;
        if (argc > 0)
                return cli_error(EXIT_USAGE, "reload takes no arguments");
        req = json_object_new_object();
        if (!req)
                return cli_error(EXIT_FAIL, "out of memory");
        json_object_object_add(req, "cmd", json_object_new_string("reload"));
        r = request(c, req, CTL_RELOAD_TIMEOUT_MS, "reload", &reply);
        json_object_put(req);
        if (r != EXIT_OK)
                return r;
        printf("leakwatchd reloaded its configuration.\n");
        ctl_reply_clear(&reply);
        return EXIT_OK;
}
