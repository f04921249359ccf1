/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for the Prometheus exposition: content negotiation, both formats line by line,
 * how processes fold into groups, hostile process names, the series cap and its
 * ranking, the pid label; promtool's verdict on the output; the atomic textfile; the
 * HTTP endpoint under a real sd-event loop (a stalled scraper must not hold the loop);
 * socket activation; and the configuration keys. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "exporter.h"
#include "http.h"
#include "metrics.h"
#include "util.h"

#define PROMTOOL "/usr/bin/promtool"

/* ---- helpers ---- */

static struct metrics_daemon daemon_stats(void)
{
        return (struct metrics_daemon){
                .version = "1.2.3", .start_time = 1700000000.25, .interval = 10, .tick_duration = 0.0125,
                .ticks = 7, .watched = 3, .samples = 21, .capped = 1, .read_errors = 2, .written = 20,
                .dropped = 1, .pending = 0, .flush_failures = 3, .db_bytes = 65536, .alerts = 4,
                .hook_runs = 5, .hook_failures = 1,
        };
}

static struct metrics_proc proc(const char *rule, const char *comm, const char *unit, pid_t pid, int64_t anon)
{
        struct metrics_proc p = { .rule = rule, .comm = comm, .unit = unit, .pid = pid };

        sample_set(&p.last, M_RSS, anon + 4096);
        sample_set(&p.last, M_ANON, anon);
        sample_set(&p.last, M_FILE, 4096);
        sample_set(&p.last, M_SHMEM, 0);
        sample_set(&p.last, M_SWAP, 0);
        sample_set(&p.last, M_PSS, anon);
        sample_set(&p.last, M_USS, anon);
        sample_set(&p.last, M_FDS, 5);
        for (int m = 0; m < DETECT__KIND_MAX; m++)
                p.det[m] = (struct metrics_detector){ .status = DETECT_OK, .slope = NAN, .slope_low = NAN,
                                                      .forecast = INFINITY };
        return p;
}

static char *render(const struct metrics_proc *procs, size_t n, enum metrics_format fmt, size_t max_series,
                    bool pid_label, struct metrics_result *res)
{
        struct metrics_daemon d = daemon_stats();
        struct metrics_opts o = { .format = fmt, .max_series = max_series, .pid_label = pid_label };
        char *text = NULL;
        size_t len = 0;

        assert_int_equal(metrics_render(&d, procs, n, &o, &text, &len, res), 0);
        assert_non_null(text);
        assert_int_equal(strlen(text), len);
        return text;
}

/* The line that starts with prefix (a whole sample name and labels), or NULL. */
static const char *line_of(const char *text, const char *prefix)
{
        size_t n = strlen(prefix);

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (strncmp(l, prefix, n) == 0 && (l[n] == ' ' || l[n] == '{'))
                        return l;
        return NULL;
}

/* The value of the sample whose name and labels are exactly series, as text. */
static const char *value_of(const char *text, const char *series, char *buf, size_t bufsz)
{
        const char *l = line_of(text, series), *v, *end;

        if (!l) {
                print_message("no series %s in:\n%s\n", series, text);
                fail();
        }
        v = l + strlen(series);
        if (*v != ' ') {
                print_message("series %s has more labels: %.*s\n", series, (int)strcspn(l, "\n"), l);
                fail();
        }
        v++;
        end = strchr(v, '\n');
        snprintf(buf, bufsz, "%.*s", (int)(end - v), v);
        return buf;
}

#define assert_value(text, series, expected)                                           \
        do {                                                                           \
                char buf_[64];                                                         \
                assert_string_equal(value_of((text), (series), buf_, sizeof(buf_)), (expected)); \
        } while (0)

static size_t count_lines(const char *text, const char *prefix)
{
        size_t n = 0, len = strlen(prefix);

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                n += strncmp(l, prefix, len) == 0;
        return n;
}

/* Checks one sample line the way the formats define it: a metric name, optional
 * labels name="value" whose values hold only \\, \" and \n escapes and are valid
 * UTF-8, a space and a value. Returns the length of "name{labels}" (the series). */
static size_t check_sample_line(const char *l, size_t len)
{
        size_t i = 0;

        assert_true(len > 0);
        assert_true(l[0] == '_' || (l[0] >= 'a' && l[0] <= 'z') || (l[0] >= 'A' && l[0] <= 'Z'));
        while (i < len && (l[i] == '_' || l[i] == ':' || (l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') ||
                           (l[i] >= '0' && l[i] <= '9')))
                i++;
        if (i < len && l[i] == '{') {
                i++;
                while (i < len && l[i] != '}') {
                        char value[1024];
                        size_t v = 0;

                        while (i < len && l[i] != '=')
                                assert_true(l[i] == '_' || (l[i] >= 'a' && l[i] <= 'z')), i++;
                        assert_true(i + 1 < len && l[i + 1] == '"');
                        for (i += 2; i < len && l[i] != '"'; i++) {
                                assert_true(l[i] != '\n');
                                if (l[i] == '\\') {
                                        i++;
                                        assert_true(l[i] == '\\' || l[i] == '"' || l[i] == 'n');
                                }
                                assert_true(v < sizeof(value));
                                value[v++] = l[i];
                        }
                        assert_true(utf8_valid(value, v));
                        assert_true(i < len);
                        i++;
                        if (l[i] == ',')
                                i++;
                }
                assert_true(i < len);
                i++;
        }
        assert_true(i < len && l[i] == ' ');
        return i;
}

/* Every line of text is a comment of the format or a sample line, no series appears
 * twice, and an OpenMetrics text ends with # EOF. */
static void check_format(const char *text, enum metrics_format fmt)
{
        size_t nseries = 0, cap = 0;
        char **series = NULL;
        const char *l = text;

        assert_true(utf8_valid(text, strlen(text)));
        while (*l) {
                const char *nl = strchr(l, '\n');
                size_t len;

                assert_non_null(nl);
                len = (size_t)(nl - l);
                if (l[0] == '#') {
                        assert_true(strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0 ||
                                    (fmt == METRICS_OPENMETRICS &&
                                     (strncmp(l, "# UNIT ", 7) == 0 || strncmp(l, "# EOF", 5) == 0)));
                        if (strncmp(l, "# EOF", 5) == 0)
                                assert_string_equal(l, "# EOF\n");
                } else {
                        size_t n = check_sample_line(l, len);

                        for (size_t k = 0; k < nseries; k++)
                                if (strlen(series[k]) == n && strncmp(series[k], l, n) == 0) {
                                        print_message("duplicate series %.*s\n", (int)n, l);
                                        fail();
                                }
                        if (nseries == cap) {
                                cap = cap ? cap * 2 : 64;
                                series = realloc(series, cap * sizeof(*series));
                                assert_non_null(series);
                        }
                        series[nseries++] = strndup(l, n);
                }
                l = nl + 1;
        }
        if (fmt == METRICS_OPENMETRICS)
                assert_true(strlen(text) >= 6 && strcmp(text + strlen(text) - 6, "# EOF\n") == 0);
        for (size_t k = 0; k < nseries; k++)
                free(series[k]);
        free(series);
}

/* Runs promtool check metrics on text. Returns its exit status, or -1 if promtool is
 * not installed (the caller skips). */
static int promtool_check(const char *text, char *out, size_t outsz)
{
        char *argv[] = { (char *)PROMTOOL, (char *)"check", (char *)"metrics", NULL };
        posix_spawn_file_actions_t fa;
        int in[2], outp[2], status;
        size_t got = 0;
        pid_t pid;
        ssize_t n;

        if (access(PROMTOOL, X_OK) < 0)
                return -1;
        assert_int_equal(pipe2(in, O_CLOEXEC), 0);
        assert_int_equal(pipe2(outp, O_CLOEXEC), 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
        posix_spawn_file_actions_adddup2(&fa, outp[1], 2);
        assert_int_equal(posix_spawn(&pid, PROMTOOL, &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(in[0]);
        close(outp[1]);
        /* The texts here are far smaller than a pipe holds, so writing all of it
         * before reading cannot deadlock. */
        assert_true(strlen(text) < 60000);
        assert_int_equal(write_full(in[1], text, strlen(text)), 0);
        close(in[1]);
        while (got + 1 < outsz && (n = read(outp[0], out + got, outsz - 1 - got)) > 0)
                got += (size_t)n;
        out[got] = '\0';
        close(outp[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* ---- negotiation ---- */

static void test_negotiate(void **state)
{
        (void)state;
        /* What Prometheus 2.x sends. */
        assert_int_equal(metrics_negotiate("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                                           "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
                         METRICS_OPENMETRICS);
        assert_int_equal(metrics_negotiate("application/openmetrics-text; version=1.0.0; charset=utf-8"),
                         METRICS_OPENMETRICS);
        assert_int_equal(metrics_negotiate("Application/OpenMetrics-Text"), METRICS_OPENMETRICS);
        /* curl, a browser, the text format, or nothing: text. */
        assert_int_equal(metrics_negotiate(NULL), METRICS_TEXT);
        assert_int_equal(metrics_negotiate(""), METRICS_TEXT);
        assert_int_equal(metrics_negotiate("*/*"), METRICS_TEXT);
        assert_int_equal(metrics_negotiate("text/plain;version=0.0.4"), METRICS_TEXT);
        assert_int_equal(metrics_negotiate("text/html,application/xhtml+xml,*/*;q=0.8"), METRICS_TEXT);
        /* Quality decides; refused (q=0) or another version is not OpenMetrics 1.0. */
        assert_int_equal(metrics_negotiate("application/openmetrics-text;q=0.4,text/plain;q=0.9"), METRICS_TEXT);
        assert_int_equal(metrics_negotiate("text/plain;q=0.4,application/openmetrics-text;q=0.9"),
                         METRICS_OPENMETRICS);
        assert_int_equal(metrics_negotiate("application/openmetrics-text;q=0"), METRICS_TEXT);
        assert_int_equal(metrics_negotiate("application/openmetrics-text;version=0.0.1"), METRICS_TEXT);
        assert_int_equal(metrics_negotiate("application/openmetrics-text;version=2.0.0,*/*;q=0.1"), METRICS_TEXT);
        /* Malformed parts are ignored, not misread. */
        assert_int_equal(metrics_negotiate("application/openmetrics-text;q=2"), METRICS_TEXT);
        assert_int_equal(metrics_negotiate("application/openmetrics-text;q=x"), METRICS_TEXT);
        assert_int_equal(metrics_negotiate(";;,,;q=,=,application/openmetrics-text"), METRICS_OPENMETRICS);
}

/* ---- the formats ---- */

static void test_escape_label(void **state)
{
        char out[64];

        (void)state;
        assert_int_equal(metrics_escape_label("a\\b\"c\nd", 7, out), 10);
        assert_string_equal(out, "a\\\\b\\\"c\\nd");
        assert_int_equal(metrics_escape_label("", 0, out), 0);
        assert_string_equal(out, "");
}

static void test_text_format(void **state)
{
        struct metrics_proc p[1];
        struct metrics_result res;
        char *text;

        (void)state;
        p[0] = proc("web", "nginx", "nginx.service", 42, 1000000);
        text = render(p, 1, METRICS_TEXT, 10000, false, &res);
        check_format(text, METRICS_TEXT);
        /* Counters are named by their sample, with TYPE after HELP. */
        assert_non_null(strstr(text, "# HELP leakwatch_samples_total Process samples taken since start.\n"
                                     "# TYPE leakwatch_samples_total counter\nleakwatch_samples_total 21\n"));
        assert_non_null(strstr(text, "# TYPE leakwatch_build_info gauge\nleakwatch_build_info{version=\"1.2.3\"} 1\n"));
        assert_null(strstr(text, "# EOF"));
        assert_null(strstr(text, "# UNIT"));
        assert_value(text, "leakwatch_start_time_seconds", "1700000000.25");
        assert_value(text, "leakwatch_tick_duration_seconds", "0.0125");
        assert_value(text, "leakwatch_database_size_bytes", "65536");
        assert_value(text, "leakwatch_samples_dropped_total", "1");
        assert_value(text, "leakwatch_database_write_failures_total", "3");
        assert_value(text, "leakwatch_omitted_series", "0");
        assert_value(text, "leakwatch_processes{rule=\"web\",name=\"nginx\",unit=\"nginx.service\"}", "1");
        assert_value(text, "leakwatch_memory_bytes{rule=\"web\",name=\"nginx\",unit=\"nginx.service\",kind=\"anon\"}",
                     "1000000");
        assert_value(text, "leakwatch_memory_bytes{rule=\"web\",name=\"nginx\",unit=\"nginx.service\",kind=\"rss\"}",
                     "1004096");
        assert_value(text, "leakwatch_open_fds{rule=\"web\",name=\"nginx\",unit=\"nginx.service\"}", "5");
        /* Not evaluated yet: NaN growth, no limit in sight. */
        assert_value(text, "leakwatch_growth_bytes_per_second{rule=\"web\",name=\"nginx\",unit=\"nginx.service\"}",
                     "NaN");
        assert_value(text, "leakwatch_forecast_seconds{rule=\"web\",name=\"nginx\",unit=\"nginx.service\","
                           "resource=\"memory\"}", "+Inf");
        assert_value(text, "leakwatch_detector_state{rule=\"web\",name=\"nginx\",unit=\"nginx.service\","
                           "resource=\"fds\",state=\"ok\"}", "1");
        assert_value(text, "leakwatch_open_alerts{rule=\"web\",name=\"nginx\",unit=\"nginx.service\","
                           "resource=\"memory\"}", "0");
        /* No pid label unless asked for. */
        assert_null(strstr(text, "pid="));
        assert_int_equal(res.groups, 1);
        assert_int_equal(res.series, 1 + 7 + 1 + 4 + 2 + 8 + 2);
        free(text);

        /* With no process, the daemon's families are all there and the group families
         * are empty but valid. */
        text = render(NULL, 0, METRICS_TEXT, 10000, false, &res);
        check_format(text, METRICS_TEXT);
        assert_non_null(line_of(text, "leakwatch_watched_processes"));
        assert_non_null(strstr(text, "# TYPE leakwatch_processes gauge\n"));
        assert_int_equal(res.groups, 0);
        free(text);
}

static void test_openmetrics_format(void **state)
{
        struct metrics_proc p[1];
        char *text;

        (void)state;
        p[0] = proc("web", "nginx", "", 42, 1000000);
        text = render(p, 1, METRICS_OPENMETRICS, 10000, false, NULL);
        check_format(text, METRICS_OPENMETRICS);
        /* A counter's family has no _total; its sample does. */
        assert_non_null(strstr(text, "# TYPE leakwatch_samples counter\n# HELP leakwatch_samples "));
        assert_value(text, "leakwatch_samples_total", "21");
        assert_null(strstr(text, "# TYPE leakwatch_samples_total"));
        /* The info type, and units where the name ends with one. */
        assert_non_null(strstr(text, "# TYPE leakwatch_build info\n"));
        assert_value(text, "leakwatch_build_info{version=\"1.2.3\"}", "1");
        assert_non_null(strstr(text, "# TYPE leakwatch_memory_bytes gauge\n# UNIT leakwatch_memory_bytes bytes\n"));
        assert_non_null(strstr(text, "# UNIT leakwatch_forecast_seconds seconds\n"));
        assert_non_null(strstr(text, "# UNIT leakwatch_growth_bytes_per_second bytes_per_second\n"));
        assert_null(strstr(text, "# UNIT leakwatch_open_fds"));
        assert_int_equal(count_lines(text, "# EOF"), 1);
        free(text);
}

static void test_values(void **state)
{
        struct metrics_proc p[1];
        char *text;

        (void)state;
        p[0] = proc("r", "n", "", 1, 0);
        p[0].det[0] = (struct metrics_detector){ .status = DETECT_LEAKING, .evaluated = true, .slope = 0.1,
                                                 .slope_low = 1.0 / 3, .forecast = 86400.5, .alert_open = true };
        p[0].det[1] = (struct metrics_detector){ .status = DETECT_SUSPECT, .evaluated = true, .slope = -2e-9,
                                                 .slope_low = 123456789012.0, .forecast = INFINITY };
        sample_set(&p[0].last, M_ANON, INT64_MAX);
        text = render(p, 1, METRICS_TEXT, 10000, false, NULL);
        check_format(text, METRICS_TEXT);
        /* The shortest text that reads back as the same double. */
        assert_value(text, "leakwatch_growth_bytes_per_second{rule=\"r\",name=\"n\",unit=\"\"}", "0.1");
        assert_value(text, "leakwatch_growth_lower_bound_bytes_per_second{rule=\"r\",name=\"n\",unit=\"\"}",
                     "0.33333333333333331");
        assert_value(text, "leakwatch_fd_growth_per_second{rule=\"r\",name=\"n\",unit=\"\"}", "-2e-09");
        assert_value(text, "leakwatch_fd_growth_lower_bound_per_second{rule=\"r\",name=\"n\",unit=\"\"}",
                     "123456789012");
        assert_value(text, "leakwatch_forecast_seconds{rule=\"r\",name=\"n\",unit=\"\",resource=\"memory\"}",
                     "86400.5");
        assert_value(text, "leakwatch_memory_bytes{rule=\"r\",name=\"n\",unit=\"\",kind=\"anon\"}",
                     "9223372036854775807");
        assert_value(text, "leakwatch_detector_state{rule=\"r\",name=\"n\",unit=\"\",resource=\"memory\",state=\"leaking\"}",
                     "1");
        assert_value(text, "leakwatch_detector_state{rule=\"r\",name=\"n\",unit=\"\",resource=\"fds\",state=\"suspect\"}",
                     "1");
        assert_value(text, "leakwatch_open_alerts{rule=\"r\",name=\"n\",unit=\"\",resource=\"memory\"}", "1");
        free(text);
}

/* ---- groups ---- */

static void test_groups_aggregate(void **state)
{
        struct metrics_proc p[4];
        struct metrics_result res;
        char *text;

        (void)state;
        /* Two workers of one service, one of them leaking; another name; the same name
         * under another rule. */
        p[0] = proc("web", "worker", "app.service", 10, 1000);
        p[1] = proc("web", "worker", "app.service", 11, 3000);
        p[2] = proc("web", "master", "app.service", 9, 500);
        p[3] = proc("batch", "worker", "app.service", 12, 7);
        p[0].det[0] = (struct metrics_detector){ .status = DETECT_OK, .evaluated = true, .slope = 1.5,
                                                 .slope_low = 0.5, .forecast = 900 };
        p[1].det[0] = (struct metrics_detector){ .status = DETECT_LEAKING, .evaluated = true, .slope = 40,
                                                 .slope_low = 30, .forecast = 3600, .alert_open = true };
        /* p[1]'s smaps was never read: the group's PSS is unknown, not a partial sum. */
        p[1].last.have &= ~(1u << M_PSS);
        text = render(p, 4, METRICS_TEXT, 10000, false, &res);
        check_format(text, METRICS_TEXT);
        assert_int_equal(res.groups, 3);
#define W "{rule=\"web\",name=\"worker\",unit=\"app.service\""
        assert_value(text, "leakwatch_processes" W "}", "2");
        assert_value(text, "leakwatch_memory_bytes" W ",kind=\"anon\"}", "4000");
        assert_value(text, "leakwatch_memory_bytes" W ",kind=\"uss\"}", "4000");
        assert_null(line_of(text, "leakwatch_memory_bytes" W ",kind=\"pss\"}"));
        assert_value(text, "leakwatch_open_fds" W "}", "10");
        /* The steepest growth and the nearest limit. */
        assert_value(text, "leakwatch_growth_bytes_per_second" W "}", "40");
        assert_value(text, "leakwatch_growth_lower_bound_bytes_per_second" W "}", "30");
        assert_value(text, "leakwatch_forecast_seconds" W ",resource=\"memory\"}", "900");
        /* Processes counted per state; alerts counted. */
        assert_value(text, "leakwatch_detector_state" W ",resource=\"memory\",state=\"ok\"}", "1");
        assert_value(text, "leakwatch_detector_state" W ",resource=\"memory\",state=\"leaking\"}", "1");
        assert_value(text, "leakwatch_detector_state" W ",resource=\"fds\",state=\"ok\"}", "2");
        assert_value(text, "leakwatch_open_alerts" W ",resource=\"memory\"}", "1");
#undef W
        assert_value(text, "leakwatch_processes{rule=\"web\",name=\"master\",unit=\"app.service\"}", "1");
        assert_value(text, "leakwatch_processes{rule=\"batch\",name=\"worker\",unit=\"app.service\"}", "1");
        assert_value(text, "leakwatch_memory_bytes{rule=\"batch\",name=\"worker\",unit=\"app.service\",kind=\"anon\"}",
                     "7");
        /* Groups come in label order. */
        assert_true(strstr(text, "leakwatch_processes{rule=\"batch\"") <
                    strstr(text, "leakwatch_processes{rule=\"web\",name=\"master\""));
        assert_true(strstr(text, "name=\"master\"") < strstr(text, "name=\"worker\",unit=\"app.service\"} 2"));
        free(text);
}

static void test_order_independent(void **state)
{
        struct metrics_proc p[5], q[5];
        char *a, *b;

        (void)state;
        p[0] = proc("a", "x", "", 5, 1);
        p[1] = proc("a", "x", "", 3, 2);
        p[2] = proc("b", "x", "u", 4, 3);
        p[3] = proc("a", "y", "", 1, 4);
        p[4] = proc("a", "x", "v", 2, 5);
        for (int i = 0; i < 5; i++)
                q[i] = p[4 - i];
        a = render(p, 5, METRICS_TEXT, 10000, false, NULL);
        b = render(q, 5, METRICS_TEXT, 10000, false, NULL);
        assert_string_equal(a, b);
        free(a);
        free(b);
        a = render(p, 5, METRICS_OPENMETRICS, 10000, true, NULL);
        b = render(q, 5, METRICS_OPENMETRICS, 10000, true, NULL);
        assert_string_equal(a, b);
        free(a);
        free(b);
}

static void test_pid_label(void **state)
{
        struct metrics_proc p[2];
        struct metrics_result res;
        char *text;

        (void)state;
        p[0] = proc("web", "worker", "", 10, 1000);
        p[1] = proc("web", "worker", "", 11, 3000);
        text = render(p, 2, METRICS_TEXT, 10000, true, &res);
        check_format(text, METRICS_TEXT);
        assert_int_equal(res.groups, 2);
        assert_value(text, "leakwatch_memory_bytes{rule=\"web\",name=\"worker\",unit=\"\",pid=\"10\",kind=\"anon\"}",
                     "1000");
        assert_value(text, "leakwatch_memory_bytes{rule=\"web\",name=\"worker\",unit=\"\",pid=\"11\",kind=\"anon\"}",
                     "3000");
        free(text);
}

/* Names are attacker-chosen bytes: whatever they hold, the output is valid UTF-8 with
 * only the format's escapes, shows them as the logs do, and has no duplicate series. */
static void test_hostile_names(void **state)
{
        static const char *const names[] = {
                "a\"b",                 /* a quote */
                "a\\b",                 /* a backslash */
                "a\\\\b",               /* two: must not merge with the one above */
                "a\nb",                 /* a newline */
                "a\\nb",                /* what the newline is shown as, literally */
                "\xff\xfe",             /* invalid UTF-8 */
                "\\xff\\xfe",           /* what it is shown as, literally */
                "\xc3\xa9t\xc3\xa9",    /* valid UTF-8, kept */
                "\xe2\x80\xae" "evil",  /* a right-to-left override */
                "\x1b[31mred",          /* a terminal escape */
                "} 1\nfake 2",          /* an attempt to end the line and forge a sample */
                "",                     /* an empty name */
                "x\xc3",                /* a truncated sequence at the end */
        };
        struct metrics_proc p[ELEMENTSOF(names)];
        struct metrics_result res;
        char *text, out[4096];

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                p[i] = proc("r", names[i], i % 2 ? "a\"unit\\" : "", (pid_t)i + 1, 100);
        for (int f = 0; f < METRICS__FORMAT_MAX; f++) {
                text = render(p, ELEMENTSOF(names), (enum metrics_format)f, 10000, false, &res);
                check_format(text, (enum metrics_format)f);
                assert_int_equal(res.groups, ELEMENTSOF(names));
                assert_null(line_of(text, "fake"));
                if (f == METRICS_TEXT) {
                        /* "a\"b" as a label value; "a\\b" shown as a\\b (escaped like the
                         * logs), written a\\\\b. */
                        assert_non_null(line_of(text, "leakwatch_processes{rule=\"r\",name=\"a\\\"b\",unit=\"\"}"));
                        assert_non_null(line_of(text, "leakwatch_processes{rule=\"r\",name=\"a\\\\\\\\b\",unit=\"a\\\"unit\\\\\\\\\"}"));
                        assert_non_null(line_of(text, "leakwatch_processes{rule=\"r\",name=\"a\\\\nb\",unit=\"a\\\"unit\\\\\\\\\"}"));
                        assert_non_null(line_of(text, "leakwatch_processes{rule=\"r\",name=\"\\\\xff\\\\xfe\",unit=\"a\\\"unit\\\\\\\\\"}"));
                        assert_non_null(line_of(text, "leakwatch_processes{rule=\"r\",name=\"\xc3\xa9t\xc3\xa9\",unit=\"a\\\"unit\\\\\\\\\"}"));
                        assert_non_null(line_of(text, "leakwatch_processes{rule=\"r\",name=\"\\\\xe2\\\\x80\\\\xaeevil\",unit=\"\"}"));
                        switch (promtool_check(text, out, sizeof(out))) {
                        case -1:
                                print_message("SKIP: promtool check: " PROMTOOL " is missing (Debian package prometheus)\n");
                                break;
                        case 0:
                                break;
                        default:
                                print_message("promtool check metrics failed:\n%s\n", out);
                                fail();
                        }
                }
                free(text);
        }
}

/* promtool's linter on a realistic exposition: every metric of both kinds of families. */
static void test_promtool(void **state)
{
        struct metrics_proc p[3];
        char *text, out[4096];
        int r;

        (void)state;
        p[0] = proc("web", "nginx", "nginx.service", 10, 1 << 20);
        p[1] = proc("web", "nginx", "nginx.service", 11, 1 << 21);
        p[2] = proc("db", "postgres", "postgresql@15-main.service", 12, 1 << 22);
        p[2].det[0] = (struct metrics_detector){ .status = DETECT_LEAKING, .evaluated = true, .slope = 12.5,
                                                 .slope_low = 3, .forecast = 7200, .alert_open = true };
        text = render(p, 3, METRICS_TEXT, 10000, false, NULL);
        r = promtool_check(text, out, sizeof(out));
        free(text);
        if (r < 0) {
                print_message("SKIP: " PROMTOOL " is missing (Debian package prometheus)\n");
                skip();
        }
        if (r != 0 || out[0]) {
                /* promtool prints lint problems even when it exits 0 on some versions. */
                print_message("promtool check metrics (exit %d):\n%s\n", r, out);
                fail();
        }
}

/* ---- the cap ---- */

static void test_cap_ranking(void **state)
{
        enum { N = 40 };
        struct metrics_proc p[N];
        struct metrics_result res;
        char names[N][8], *text;
        size_t per_group = 1 + 7 + 1 + 4 + 2 + 8 + 2;

        (void)state;
        for (int i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "p%02d", i % 100);
                /* The largest memory last, so memory alone would rank them backwards. */
                p[i] = proc("r", names[i], "", i + 1, (int64_t)(i + 1) << 20);
        }
        /* A small process with an open alert, one leaking (alert not yet open), one
         * suspect: these come first, whatever their size. */
        p[0].det[0] = (struct metrics_detector){ .status = DETECT_LEAKING, .alert_open = true, .forecast = INFINITY };
        p[1].det[1] = (struct metrics_detector){ .status = DETECT_LEAKING, .forecast = INFINITY };
        p[2].det[0] = (struct metrics_detector){ .status = DETECT_SUSPECT, .forecast = INFINITY };

        /* Room for five groups and a bit: five are kept, whole. */
        text = render(p, N, METRICS_TEXT, per_group * 5 + 10, false, &res);
        check_format(text, METRICS_TEXT);
        assert_int_equal(res.groups, 5);
        assert_int_equal(res.groups_omitted, N - 5);
        assert_int_equal(res.series, per_group * 5);
        assert_int_equal(res.series_omitted, per_group * (N - 5));
        assert_int_equal(res.procs_omitted, N - 5);
        for (int i = 0; i < N; i++) {
                char series[96];
                bool kept = i <= 2 || i >= N - 2;

                snprintf(series, sizeof(series), "leakwatch_processes{rule=\"r\",name=\"%.7s\",unit=\"\"}", names[i]);
                if ((line_of(text, series) != NULL) != kept) {
                        print_message("%s should %sbe there\n", names[i], kept ? "" : "not ");
                        fail();
                }
        }
        {
                char buf[32];

                snprintf(buf, sizeof(buf), "%zu", per_group * (N - 5));
                assert_value(text, "leakwatch_omitted_series", buf);
                snprintf(buf, sizeof(buf), "%d", N - 5);
                assert_value(text, "leakwatch_omitted_processes", buf);
        }
        /* Never half a group: a name appears in all of its group's series or in none. */
        for (int i = 0; i < N; i++) {
                char needle[48];
                size_t n = 0;

                snprintf(needle, sizeof(needle), "name=\"%.7s\"", names[i]);
                for (const char *s = text; (s = strstr(s, needle)); s++)
                        n++;
                assert_true(n == 0 || n == per_group);
        }
        free(text);

        /* The exact fit keeps all. */
        text = render(p, N, METRICS_TEXT, per_group * N, false, &res);
        assert_int_equal(res.groups, N);
        assert_int_equal(res.series_omitted, 0);
        free(text);
}

/* ---- the textfile ---- */

static void test_write_file(void **state)
{
        char dir[] = "/tmp/lw-metrics-XXXXXX", path[PATH_MAX], buf[64];
        struct stat st1, st2;
        DIR *d;
        struct dirent *de;
        int fd, n = 0;
        ssize_t got;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/leakwatch.prom", dir);
        assert_int_equal(export_write_file(path, "a 1\n", 4), 0);
        assert_int_equal(stat(path, &st1), 0);
        assert_int_equal(st1.st_mode & 07777, 0644);
        assert_int_equal(st1.st_size, 4);
        /* A reader holding the old file keeps reading the old file: it was replaced,
         * not rewritten in place. */
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(export_write_file(path, "b 22\n", 5), 0);
        got = pread(fd, buf, sizeof(buf), 0);
        assert_int_equal(got, 4);
        assert_memory_equal(buf, "a 1\n", 4);
        close(fd);
        assert_int_equal(stat(path, &st2), 0);
        assert_true(st1.st_ino != st2.st_ino);
        assert_int_equal(st2.st_size, 5);
        /* Nothing else is left in the directory. */
        d = opendir(dir);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        n++, assert_string_equal(de->d_name, "leakwatch.prom");
        closedir(d);
        assert_int_equal(n, 1);
        assert_int_equal(unlink(path), 0);

        /* A missing directory: an error, and no file anywhere. */
        snprintf(path, sizeof(path), "%s/missing/leakwatch.prom", dir);
        assert_int_equal(export_write_file(path, "a 1\n", 4), -ENOENT);
        /* A directory in the way of the rename: the temporary file is removed. */
        snprintf(path, sizeof(path), "%s/dir.prom", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(export_write_file(path, "a 1\n", 4), -EISDIR);
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

/* ---- the endpoint ---- */

struct served {
        int calls;
        const char *last_accept;
        char accept[256];
        bool fail;
        const char *body;               /* instead of the small documents, if set */
};

static int serve_doc(void *userdata, const char *accept, const char **ret_body, size_t *ret_len,
                     const char **ret_type)
{
        struct served *s = userdata;
        enum metrics_format fmt = metrics_negotiate(accept);

        s->calls++;
        snprintf(s->accept, sizeof(s->accept), "%s", accept ? accept : "(none)");
        if (s->fail)
                return -EIO;
        *ret_body = s->body ? s->body : fmt == METRICS_OPENMETRICS ? "om 1\n# EOF\n" : "text 1\n";
        *ret_len = strlen(*ret_body);
        *ret_type = metrics_content_type[fmt];
        return 0;
}

/* A non-blocking connection to the endpoint from the loopback address src ("127.0.0.N";
 * NULL: whatever the kernel picks, 127.0.0.1), rcvbuf bytes of receive buffer (0: the
 * default). */
static int connect_from(const struct http *h, const char *src, int rcvbuf)
{
        char addr[80];
        struct sockaddr_in sa = { .sin_family = AF_INET };
        unsigned port;
        int fd;

        assert_int_equal(http_address(h, addr, sizeof(addr)), 0);
        assert_int_equal(sscanf(addr, "127.0.0.1:%u", &port), 1);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        assert_true(fd >= 0);
        if (rcvbuf)
                assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
        if (src) {
                struct sockaddr_in me = { .sin_family = AF_INET };

                assert_int_equal(inet_pton(AF_INET, src, &me.sin_addr), 1);
                assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
        }
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* A loopback connect completes or is in progress; either way writes follow. */
        assert_true(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS);
        return fd;
}

static int connect_to(const struct http *h)
{
        return connect_from(h, NULL, 0);
}

/* Runs the loop for about usec. */
static void spin(sd_event *e, usec_t usec)
{
        usec_t end = now_usec(CLOCK_MONOTONIC) + usec;

        while (now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(e, 5 * USEC_PER_MSEC) >= 0);
}

/* Sends request on a new connection and runs the loop until the server closes it;
 * returns the whole response. A server that has not answered within 5 s fails the
 * test (the endpoint answers a loopback request at once). */
static char *exchange(sd_event *e, const struct http *h, const char *request)
{
        size_t cap = 65536, got = 0, sent = 0;
        char *buf = malloc(cap);
        int fd = connect_to(h);
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;

        assert_non_null(buf);
        for (;;) {
                ssize_t n;

                if (sent < strlen(request)) {
                        n = send(fd, request + sent, strlen(request) - sent, MSG_NOSIGNAL);
                        if (n > 0)
                                sent += (size_t)n;
                }
                n = read(fd, buf + got, cap - 1 - got);
                if (n == 0)
                        break;
                if (n > 0) {
                        got += (size_t)n;
                        assert_true(got < cap - 1);
                        continue;
                }
                assert_true(errno == EAGAIN || errno == ENOTCONN);
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("no answer within 5 s (sent %zu of %zu bytes)", sent, strlen(request));
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        }
        close(fd);
        buf[got] = '\0';
        return buf;
}

/* Whether the server has closed fd (reads end of file or a reset). */
static bool closed_by_server(int fd)
{
        char c[256];
        ssize_t n;

        while ((n = read(fd, c, sizeof(c))) > 0)
                ;
        return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_http(void **state)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct served s = { 0 };
        struct http_opts o = { .listen_fd = -1, .addr = (struct sockaddr *)&sa, .addr_len = sizeof(sa),
                               .document = serve_doc, .userdata = &s };
        struct http *h;
        sd_event *e;
        char *r;

        (void)state;
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_new(e, &o, &h), 0);

        r = exchange(e, h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, "HTTP/1.1 200"));
        assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert_non_null(strstr(r, "\r\n\r\ntext 1\n"));
        assert_string_equal(s.accept, "(none)");
        free(r);

        r = exchange(e, h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n\r\n");
        assert_non_null(strstr(r, "Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"));
        assert_non_null(strstr(r, "\r\n\r\nom 1\n# EOF\n"));
        free(r);

        /* HEAD: the headers, no body. */
        r = exchange(e, h, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, "HTTP/1.1 200"));
        assert_null(strstr(r, "text 1"));
        free(r);

        /* A GET with a body: read and dropped, then answered. */
        r = exchange(e, h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello");
        assert_non_null(strstr(r, "HTTP/1.1 200"));
        free(r);

        r = exchange(e, h, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, "HTTP/1.1 404"));
        free(r);
        r = exchange(e, h, "GET /metrics/../etc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, "HTTP/1.1 404"));
        free(r);
        r = exchange(e, h, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc");
        assert_non_null(strstr(r, "HTTP/1.1 405"));
        assert_non_null(strstr(r, "Allow: GET, HEAD\r\n"));
        free(r);
        /* Garbage: refused, and the server goes on. */
        r = exchange(e, h, "\x01\x02 nonsense\r\n\r\n");
        assert_null(strstr(r, "200 OK"));
        free(r);

        s.fail = true;
        r = exchange(e, h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, "HTTP/1.1 500"));
        free(r);
        s.fail = false;

        r = exchange(e, h, "GET /metrics HTTP/1.0\r\n\r\n");
        assert_non_null(strstr(r, "text 1\n"));
        free(r);

        http_free(h);
        sd_event_unref(e);
}

static int count_tick(sd_event_source *src, uint64_t usec UNUSED, void *userdata)
{
        int *ticks = userdata;
        uint64_t now;

        (*ticks)++;
        assert_int_equal(sd_event_now(sd_event_source_get_event(src), CLOCK_MONOTONIC, &now), 0);
        (void)sd_event_source_set_time(src, now + USEC_PER_MSEC);
        (void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        return 0;
}

/* A scraper that sends half a request and waits, and one that never reads its answer:
 * the loop keeps running its timer, and another scraper is answered meanwhile, while
 * the stalled connections are still open (not closed by their idle timeout). */
static void test_http_stalled_scrapers(void **state)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct served s = { 0 };
        struct http_opts o = { .listen_fd = -1, .addr = (struct sockaddr *)&sa, .addr_len = sizeof(sa),
                               .document = serve_doc, .userdata = &s };
        const char *req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
        sd_event_source *timer;
        struct http *h;
        int half, mute, ticks = 0;
        sd_event *e;
        char *r, c;

        (void)state;
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_new(e, &o, &h), 0);
        assert_int_equal(sd_event_add_time(e, &timer, CLOCK_MONOTONIC, 0, 0, count_tick, &ticks), 0);

        half = connect_to(h);
        mute = connect_to(h);
        for (int i = 0; i < 20; i++) {
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
                if (i == 2) {
                        assert_int_equal(send(half, "GET /met", 8, MSG_NOSIGNAL), 8);
                        assert_int_equal(send(mute, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
                }
        }
        assert_true(ticks >= 10);
        r = exchange(e, h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, "\r\n\r\ntext 1\n"));
        free(r);
        /* Both stalled connections are still open: nothing waited for them to finish
         * or to time out. */
        assert_int_equal(read(half, &c, 1), -1);
        assert_int_equal(errno, EAGAIN);
        assert_int_equal(s.calls, 2);   /* the mute one was answered, the half one not */
        close(half);
        close(mute);
        sd_event_source_unref(timer);
        http_free(h);
        sd_event_unref(e);
}

#define SCRAPE "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

/* An endpoint on 127.0.0.1, on a port the kernel picks, serving s under a new loop. */
static struct http *serve(struct served *s, sd_event **ret_e)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct http_opts o = { .listen_fd = -1, .addr = (struct sockaddr *)&sa, .addr_len = sizeof(sa),
                               .document = serve_doc, .userdata = s };
        struct http *h;

        assert_int_equal(sd_event_new(ret_e), 0);
        assert_int_equal(http_new(*ret_e, &o, &h), 0);
        return h;
}

/* A scrape on a new connection is answered with the small text document. */
static void assert_scraped(sd_event *e, const struct http *h)
{
        char *r = exchange(e, h, SCRAPE);

        assert_non_null(strstr(r, "\r\n\r\ntext 1\n"));
        free(r);
}

static void close_all(const int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

/* 17 connections at once, closed together: the endpoint reaches its limit, then has
 * none, and must still accept (libmicrohttpd alone stopped here for good: at its limit
 * it takes the listening socket out of its epoll set until a later run that nothing
 * calls). */
static void test_http_flood_then_scrape(void **state)
{
        struct served s = { 0 };
        int fds[HTTP_MAX_CONNECTIONS + 1];
        struct http *h;
        sd_event *e;
        char src[32];

        (void)state;
        h = serve(&s, &e);
        /* From as many addresses as slots, and one more: the address share is not what
         * limits here. */
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                snprintf(src, sizeof(src), "127.0.0.%zu", 2 + i);
                fds[i] = connect_from(h, src, 0);
        }
        spin(e, 200 * USEC_PER_MSEC);
        close_all(fds, ELEMENTSOF(fds));
        spin(e, 200 * USEC_PER_MSEC);
        assert_scraped(e, h);
        /* And again with the 17 left open: the newcomer takes the slot of the one that
         * waited longest without asking. */
        for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
                snprintf(src, sizeof(src), "127.0.0.%zu", 2 + i);
                fds[i] = connect_from(h, src, 0);
        }
        spin(e, 200 * USEC_PER_MSEC);
        assert_scraped(e, h);
        assert_true(closed_by_server(fds[0]));
        assert_false(closed_by_server(fds[ELEMENTSOF(fds) - 1]));
        close_all(fds, ELEMENTSOF(fds));
        http_free(h);
        sd_event_unref(e);
}

/* Slow clients from every slot's worth of addresses, each sending half a request: a
 * scrape is answered as soon as the one that waited longest has had its grace, not
 * after their deadline; and a newcomer is not displaced, during its grace, by any
 * number of connections made after it. */
static void test_http_slow_clients_make_room(void **state)
{
        struct served s = { 0 };
        int slow[HTTP_MAX_CONNECTIONS], late[HTTP_MAX_CONNECTIONS + 1], mine;
        struct http_stats st;
        struct http *h;
        sd_event *e;
        char src[32], buf[4096];
        ssize_t n;

        (void)state;
        h = serve(&s, &e);
        for (size_t i = 0; i < ELEMENTSOF(slow); i++) {
                snprintf(src, sizeof(src), "127.0.0.%zu", 2 + i);
                slow[i] = connect_from(h, src, 0);
                spin(e, 2 * USEC_PER_MSEC);
                assert_int_equal(send(slow[i], "GET /met", 8, MSG_NOSIGNAL), 8);
        }
        spin(e, 100 * USEC_PER_MSEC);
        assert_scraped(e, h);
        http_get_stats(h, &st);
        assert_int_equal(st.evicted, 1);
        assert_true(closed_by_server(slow[0]));
        for (size_t i = 1; i < ELEMENTSOF(slow); i++)
                assert_false(closed_by_server(slow[i]));

        /* All slots held by connections past their grace. A newcomer that has not sent
         * its request yet, then a slot's worth and one more of others: they displace
         * the old ones, never the newcomer, and the last waits in the backlog. */
        spin(e, (HTTP_GRACE_MS + 100) * USEC_PER_MSEC);
        mine = connect_from(h, "127.0.3.1", 0);
        spin(e, 10 * USEC_PER_MSEC);
        for (size_t i = 0; i < ELEMENTSOF(late); i++) {
                snprintf(src, sizeof(src), "127.0.4.%zu", 1 + i);
                late[i] = connect_from(h, src, 0);
                spin(e, 2 * USEC_PER_MSEC);
        }
        spin(e, 50 * USEC_PER_MSEC);
        http_get_stats(h, &st);
        assert_int_equal(st.evicted, HTTP_MAX_CONNECTIONS);
        assert_int_equal(st.refused, 0);
        assert_int_equal(send(mine, SCRAPE, strlen(SCRAPE), MSG_NOSIGNAL), (ssize_t)strlen(SCRAPE));
        spin(e, 50 * USEC_PER_MSEC);
        n = read(mine, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_non_null(strstr(buf, "HTTP/1.1 200"));
        close(mine);
        close_all(late, ELEMENTSOF(late));
        close_all(slow, ELEMENTSOF(slow));
        http_free(h);
        sd_event_unref(e);
}

/* One address, more connections than its share: newcomers are let in while slots are
 * free (the address's connections are all in their grace); past the grace, its next
 * newcomer displaces its own oldest connection, not another address's older one. */
static void test_http_address_share(void **state)
{
        struct served s = { 0 };
        int other, same[HTTP_PER_ADDRESS_MAX + 1], later;
        struct http_stats st;
        struct http *h;
        sd_event *e;

        (void)state;
        h = serve(&s, &e);
        other = connect_from(h, "127.0.1.2", 0);
        spin(e, 10 * USEC_PER_MSEC);
        for (size_t i = 0; i < ELEMENTSOF(same); i++) {
                same[i] = connect_from(h, "127.0.1.1", 0);
                spin(e, 2 * USEC_PER_MSEC);
        }
        spin(e, 50 * USEC_PER_MSEC);
        http_get_stats(h, &st);
        assert_int_equal(st.evicted, 0);
        for (size_t i = 0; i < ELEMENTSOF(same); i++)
                assert_false(closed_by_server(same[i]));

        spin(e, (HTTP_GRACE_MS + 100) * USEC_PER_MSEC);
        later = connect_from(h, "127.0.1.1", 0);
        spin(e, 50 * USEC_PER_MSEC);
        http_get_stats(h, &st);
        assert_int_equal(st.evicted, 1);
        assert_int_equal(st.refused, 0);
        assert_true(closed_by_server(same[0]));
        assert_false(closed_by_server(other));
        assert_false(closed_by_server(later));
        assert_scraped(e, h);
        close(other);
        close(later);
        close_all(same, ELEMENTSOF(same));
        http_free(h);
        sd_event_unref(e);
}

/* A connection whose answer is still being sent (its peer does not read) is not closed
 * for room, though it is the oldest: a connection waiting for a request is. */
static void test_http_answering_not_evicted(void **state)
{
        /* Far more than the kernel buffers between a peer with a 4 KiB receive buffer
         * and the server (tcp_wmem's 4 MiB at most): the answer stays unsent. */
        size_t big = 16u << 20;
        char *body = malloc(big + 1), c;
        struct served s = { .body = body };
        int mute, idle[HTTP_MAX_CONNECTIONS - 1];
        struct http_stats st;
        struct http *h;
        sd_event *e;
        char src[32];

        (void)state;
        assert_non_null(body);
        memset(body, 'x', big);
        body[big] = '\0';
        h = serve(&s, &e);
        mute = connect_from(h, "127.0.2.1", 4096);
        spin(e, 5 * USEC_PER_MSEC);
        assert_int_equal(send(mute, SCRAPE, strlen(SCRAPE), MSG_NOSIGNAL), (ssize_t)strlen(SCRAPE));
        spin(e, 20 * USEC_PER_MSEC);
        assert_int_equal(s.calls, 1);
        s.body = NULL;
        for (size_t i = 0; i < ELEMENTSOF(idle); i++) {
                snprintf(src, sizeof(src), "127.0.5.%zu", 1 + i);
                idle[i] = connect_from(h, src, 0);
                spin(e, 2 * USEC_PER_MSEC);
        }
        spin(e, (HTTP_GRACE_MS + 100) * USEC_PER_MSEC);
        assert_scraped(e, h);
        http_get_stats(h, &st);
        assert_int_equal(st.evicted, 1);
        assert_true(closed_by_server(idle[0]));
        /* Still open, its answer still coming. */
        assert_int_equal(recv(mute, &c, 1, MSG_PEEK | MSG_DONTWAIT), 1);
        for (size_t i = 1; i < ELEMENTSOF(idle); i++)
                assert_false(closed_by_server(idle[i]));
        close_all(idle, ELEMENTSOF(idle));
        close(mute);
        http_free(h);
        sd_event_unref(e);
        free(body);
}

static void test_http_errors(void **state)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct served s = { 0 };
        struct http_opts o = { .listen_fd = -1, .addr = (struct sockaddr *)&sa, .addr_len = sizeof(sa),
                               .document = serve_doc, .userdata = &s };
        struct http *h, *h2;
        char addr[80];
        unsigned port;
        sd_event *e;
        int fd;

        (void)state;
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_new(e, &o, &h), 0);
        /* The same port again: taken. */
        assert_int_equal(http_address(h, addr, sizeof(addr)), 0);
        assert_int_equal(sscanf(addr, "127.0.0.1:%u", &port), 1);
        sa.sin_port = htons((uint16_t)port);
        assert_int_equal(http_new(e, &o, &h2), -EADDRINUSE);
        http_free(h);
        /* A socket that does not listen is refused (and closed). */
        o.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(o.listen_fd >= 0);
        fd = o.listen_fd;
        assert_int_equal(http_new(e, &o, &h2), -ENOTSOCK);
        assert_int_equal(fcntl(fd, F_GETFD), -1);
        http_free(NULL);
        sd_event_unref(e);
}

/* A socket passed the way systemd passes it: LISTEN_FDS, LISTEN_PID and the names. */
static void test_socket_activation(void **state)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct served s = { 0 };
        struct http_opts o = { .document = serve_doc, .userdata = &s };
        char pid[32];
        struct http *h;
        sd_event *e;
        int fd;
        char *r;

        (void)state;
        if (fcntl(SD_LISTEN_FDS_START, F_GETFD) >= 0 || fcntl(SD_LISTEN_FDS_START + 1, F_GETFD) >= 0) {
                print_message("SKIP: descriptors 3 and 4 are taken; a passed socket must be there\n");
                skip();
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(dup2(fd, SD_LISTEN_FDS_START + 1), SD_LISTEN_FDS_START + 1);
        close(fd);
        /* Descriptor 3 is someone else's (a control socket, say), 4 is ours. */
        assert_int_equal(dup2(SD_LISTEN_FDS_START + 1, SD_LISTEN_FDS_START), SD_LISTEN_FDS_START);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "2", 1);
        setenv("LISTEN_FDNAMES", "control:metrics", 1);

        assert_int_equal(http_socket_from_systemd("other"), -ENOENT);
        o.listen_fd = http_socket_from_systemd("metrics");
        assert_int_equal(o.listen_fd, SD_LISTEN_FDS_START + 1);
        /* The environment stays for the others. */
        assert_non_null(getenv("LISTEN_FDS"));
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_new(e, &o, &h), 0);
        r = exchange(e, h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert_non_null(strstr(r, "\r\n\r\ntext 1\n"));
        free(r);
        http_free(h);
        /* The server closed the socket it was given. */
        assert_int_equal(fcntl(SD_LISTEN_FDS_START + 1, F_GETFD), -1);

        /* A passed descriptor that is not a listening socket. */
        setenv("LISTEN_FDS", "1", 1);
        setenv("LISTEN_FDNAMES", "metrics", 1);
        close(SD_LISTEN_FDS_START);
        assert_int_equal(open("/dev/null", O_RDONLY), SD_LISTEN_FDS_START);
        assert_int_equal(http_socket_from_systemd("metrics"), -ENOTSOCK);
        close(SD_LISTEN_FDS_START);
        /* Another process's sockets (LISTEN_PID not ours) are not ours to take. */
        setenv("LISTEN_PID", "1", 1);
        assert_int_equal(http_socket_from_systemd("metrics"), -ENOENT);
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        sd_event_unref(e);
}

/* ---- configuration ---- */

static int load_conf(const char *text, struct config *cfg, struct config_diag *diag)
{
        char path[] = "/tmp/lw-metrics-conf-XXXXXX";
        int fd = mkstemp(path), r;

        assert_true(fd >= 0);
        assert_int_equal(write_full(fd, text, strlen(text)), 0);
        close(fd);
        config_free(cfg);
        config_diag_free(diag);
        assert_int_equal(config_defaults(cfg), 0);
        r = config_load(cfg, path, true, diag);
        unlink(path);
        return r;
}

static void expect_conf_error(const char *text, const char *fragment)
{
        struct config cfg = { 0 };
        struct config_diag diag = { 0 };

        assert_int_equal(load_conf(text, &cfg, &diag), -EINVAL);
        if (diag.n != 1 || !strstr(diag.msgs[0], fragment)) {
                print_message("expected one message with \"%s\", got %zu:\n", fragment, diag.n);
                for (size_t i = 0; i < diag.n; i++)
                        print_message("  %s\n", diag.msgs[i]);
                fail();
        }
        config_free(&cfg);
        config_diag_free(&diag);
}

static void test_config(void **state)
{
        struct config cfg = { 0 };
        struct config_diag diag = { 0 };

        (void)state;
        /* Off by default. */
        assert_int_equal(load_conf("[daemon]\n", &cfg, &diag), 0);
        assert_null(cfg.metrics_listen);
        assert_null(cfg.metrics_textfile);
        assert_true(fabs(cfg.metrics_textfile_interval - 60) < 1e-9);
        assert_int_equal(cfg.metrics_max_series, 10000);
        assert_false(cfg.metrics_pid_label);

        assert_int_equal(load_conf("[daemon]\nmetrics-listen = 127.0.0.1:9184\n"
                                   "metrics-textfile = /var/lib/prometheus/node-exporter/leakwatch.prom\n"
                                   "metrics-textfile-interval = 15s\nmetrics-max-series = 500\n"
                                   "metrics-pid-label = yes\n", &cfg, &diag), 0);
        assert_string_equal(cfg.metrics_listen, "127.0.0.1:9184");
        assert_string_equal(cfg.metrics_textfile, "/var/lib/prometheus/node-exporter/leakwatch.prom");
        assert_true(fabs(cfg.metrics_textfile_interval - 15) < 1e-9);
        assert_int_equal(cfg.metrics_max_series, 500);
        assert_true(cfg.metrics_pid_label);

        /* "no" turns off what was set (a drop-in overriding the main file). */
        assert_int_equal(load_conf("[daemon]\nmetrics-listen = no\nmetrics-textfile = no\n", &cfg, &diag), 0);
        assert_null(cfg.metrics_listen);
        assert_null(cfg.metrics_textfile);

        /* The textfile interval follows a longer sampling interval unless set. */
        assert_int_equal(load_conf("[daemon]\ninterval = 5m\nwindow = 1d\n", &cfg, &diag), 0);
        assert_true(fabs(cfg.metrics_textfile_interval - 300) < 1e-9);
        config_free(&cfg);
        config_diag_free(&diag);

        expect_conf_error("[daemon]\nmetrics-listen = localhost:9184\n", "metrics-listen: 'localhost:9184' is not an "
                                                                        "address and port");
        expect_conf_error("[daemon]\nmetrics-listen = 127.0.0.1\n", "is not an address and port");
        expect_conf_error("[daemon]\nmetrics-listen = 127.0.0.1:65536\n", "is not an address and port");
        expect_conf_error("[daemon]\nmetrics-listen = 127.0.0.1:-1\n", "is not an address and port");
        expect_conf_error("[daemon]\nmetrics-listen = ::1:9184\n", "is not an address and port");
        expect_conf_error("[daemon]\nmetrics-textfile = leakwatch.prom\n", "is not an absolute path");
        expect_conf_error("[daemon]\nmetrics-textfile = /var/lib/leakwatch.txt\n", "must name a file ending in .prom");
        expect_conf_error("[daemon]\nmetrics-textfile = /var/lib/.prom\n", "must name a file ending in .prom");
        expect_conf_error("[daemon]\nmetrics-max-series = 99\n", "metrics-max-series: '99' is out of range "
                                                                 "(100..1000000)");
        expect_conf_error("[daemon]\nmetrics-pid-label = sometimes\n", "metrics-pid-label: invalid boolean");
        expect_conf_error("[daemon]\ninterval = 30s\nmetrics-textfile-interval = 10s\n",
                          "metrics-textfile-interval (10s) must be at least interval (30s");
        expect_conf_error("[daemon]\nmetric-listen = 127.0.0.1:1\n", "did you mean 'metrics-listen'?");
}

static void test_parse_listen(void **state)
{
        struct sockaddr_storage sa;
        socklen_t len;

        (void)state;
        assert_int_equal(config_parse_listen("127.0.0.1:9184", &sa, &len), 0);
        assert_int_equal(sa.ss_family, AF_INET);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9184);
        assert_int_equal(config_parse_listen("[::1]:80", &sa, &len), 0);
        assert_int_equal(sa.ss_family, AF_INET6);
        assert_int_equal(len, sizeof(struct sockaddr_in6));
        assert_int_equal(ntohs(((struct sockaddr_in6 *)&sa)->sin6_port), 80);
        assert_int_equal(config_parse_listen("0.0.0.0:0", &sa, &len), 0);
        assert_int_equal(config_parse_listen("[::]:65535", &sa, &len), 0);
        assert_int_equal(config_parse_listen("[::ffff:127.0.0.1]:1", &sa, &len), 0);

        assert_int_equal(config_parse_listen("127.0.0.1", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("127.0.0.1:", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen(":9184", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("127.0.0.1:+80", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("127.0.0.1:80x", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("127.1:80", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("::1:80", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("[::1:80", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("[127.0.0.1]:80", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("[]:80", &sa, &len), -EINVAL);
        assert_int_equal(config_parse_listen("host.example:80", &sa, &len), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_negotiate),
                cmocka_unit_test(test_escape_label),
                cmocka_unit_test(test_text_format),
                cmocka_unit_test(test_openmetrics_format),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_groups_aggregate),
                cmocka_unit_test(test_order_independent),
                cmocka_unit_test(test_pid_label),
                cmocka_unit_test(test_hostile_names),
                cmocka_unit_test(test_promtool),
                cmocka_unit_test(test_cap_ranking),
                cmocka_unit_test(test_write_file),
                cmocka_unit_test(test_http),
                cmocka_unit_test(test_http_stalled_scrapers),
                cmocka_unit_test(test_http_flood_then_scrape),
                cmocka_unit_test(test_http_slow_clients_make_room),
                cmocka_unit_test(test_http_address_share),
                cmocka_unit_test(test_http_answering_not_evicted),
                cmocka_unit_test(test_http_errors),
                cmocka_unit_test(test_socket_activation),
                cmocka_unit_test(test_config),
                cmocka_unit_test(test_parse_listen),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
