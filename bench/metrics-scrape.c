/* SPDX-License-Identifier: GPL-2.0-or-later */
/* metrics-scrape: what one Prometheus scrape costs with 1,000 watched processes.
 *
 * Renders a snapshot of 1,000 processes (the daemon's default max-processes) the way
 * the endpoint does, in three shapes: every process its own group with the series cap
 * lifted (25,000 series, the worst case), the same under the default cap (10,000), and
 * 1,000 processes in 40 groups (workers of 40 services, the common case). Then serves
 * the worst case over real HTTP (libmicrohttpd under sd-event, as in the daemon) to a
 * client in a child process that scrapes it sequentially, rendering afresh for every
 * request (the daemon renders once per tick and serves copies), and reports what the
 * client waited. Medians of RUNS runs; the loop is blocked only while rendering.
 *
 *   build/bench/metrics-scrape [RUNS]    (default 51) */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "metrics.h"
#include "util.h"

#define NPROC 1000

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double now_ms(void)
{
        return (double)now_usec(CLOCK_MONOTONIC) / 1000.0;
}

static char names[NPROC][16], units[NPROC][40];

/* groups: how many distinct (name, unit) pairs the processes fall into. */
static void snapshot(struct metrics_proc *p, int groups)
{
        for (int i = 0; i < NPROC; i++) {
                int g = i % groups;

                snprintf(names[i], sizeof(names[i]), "worker-%04d", g);
                snprintf(units[i], sizeof(units[i]), "app-%04d.service", g);
                p[i] = (struct metrics_proc){ .rule = "host", .comm = names[i], .unit = units[i], .pid = 1000 + i };
                for (int m = 0; m < M__MAX; m++)
                        sample_set(&p[i].last, (enum metric)m, (int64_t)(i + 1) * 40960 + m);
                for (int k = 0; k < DETECT__KIND_MAX; k++)
                        p[i].det[k] = (struct metrics_detector){
                                .status = i % 97 == 0 ? DETECT_LEAKING : DETECT_OK,
                                .evaluated = i % 2 == 0,
                                .slope = i % 2 == 0 ? 1234.5678 * i : NAN,
                                .slope_low = i % 2 == 0 ? 987.654 * i : NAN,
                                .forecast = i % 97 == 0 ? 3600.0 * i : INFINITY,
                                .alert_open = i % 97 == 0,
                        };
        }
}

static const struct metrics_daemon daemon_stats = {
        .version = "bench", .start_time = 1.7e9, .interval = 10, .tick_duration = 0.004, .ticks = 100000,
        .watched = NPROC, .samples = 100000000, .db_bytes = 1 << 30,
};

static void bench_render(const char *what, const struct metrics_proc *p, enum metrics_format fmt,
                         size_t max_series, int runs)
{
        struct metrics_opts o = { .format = fmt, .max_series = max_series };
        struct metrics_result res = { 0 };
        double *t = calloc((size_t)runs, sizeof(*t));
        size_t len = 0;
        double med;

        for (int i = 0; i < runs; i++) {
                char *text;
                double t0 = now_ms();

                if (metrics_render(&daemon_stats, p, NPROC, &o, &text, &len, &res) < 0) {
                        fprintf(stderr, "render failed\n");
                        exit(1);
                }
                t[i] = now_ms() - t0;
                free(text);
        }
        med = median(t, (size_t)runs);
        printf("  %-44s %6zu series  %8.1f KiB  median %7.3f ms  (min %.3f, max %.3f)\n", what, res.series,
               (double)len / 1024, med, t[0], t[runs - 1]);
        free(t);
}

struct served {
        const struct metrics_proc *p;
        char *text;
        int requests;
};

static int serve(void *userdata, const char *accept, const char **ret_body, size_t *ret_len, const char **ret_type)
{
        struct served *s = userdata;
        struct metrics_opts o = { .format = metrics_negotiate(accept), .max_series = 1000000 };

        free(s->text);
        s->text = NULL;
        if (metrics_render(&daemon_stats, s->p, NPROC, &o, &s->text, ret_len, NULL) < 0)
                return -ENOMEM;
        *ret_body = s->text;
        *ret_type = metrics_content_type[o.format];
        s->requests++;
        return 0;
}

/* The child: runs scrapes sequentially, each on a new connection as Prometheus's
 * scrapes usually are, and writes each one's wall time to out. */
static void scraper(uint16_t port, int runs, int out)
{
        static char buf[1 << 16];
        const char *req = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n"
                          "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n";

        for (int i = 0; i < runs; i++) {
                struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                double t0 = now_ms(), dt;
                size_t total = 0;
                ssize_t n;
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

                if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                    write_full(fd, req, strlen(req)) < 0)
                        _exit(1);
                while ((n = read(fd, buf, sizeof(buf))) > 0)
                        total += (size_t)n;
                close(fd);
                dt = now_ms() - t0;
                if (total < 1000 || write_full(out, &dt, sizeof(dt)) < 0)
                        _exit(1);
        }
        _exit(0);
}

static int bench_http(const struct metrics_proc *p, int runs)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct served s = { .p = p };
        struct http_opts o = { .listen_fd = -1, .addr = (struct sockaddr *)&sa, .addr_len = sizeof(sa),
                               .document = serve, .userdata = &s };
        double *t = calloc((size_t)runs, sizeof(*t));
        struct http *h;
        sd_event *e;
        char addr[80];
        unsigned port;
        int pipefd[2], got = 0, status;
        double med;
        pid_t child;

        if (sd_event_new(&e) < 0 || http_new(e, &o, &h) < 0 || http_address(h, addr, sizeof(addr)) < 0 ||
            sscanf(addr, "127.0.0.1:%u", &port) != 1 || pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
                fprintf(stderr, "cannot start the endpoint\n");
                return 1;
        }
        child = fork();
        if (child == 0) {
                close(pipefd[0]);
                scraper((uint16_t)port, runs, pipefd[1]);
        }
        close(pipefd[1]);
        while (got < runs) {
                double dt;
                ssize_t n;

                if (sd_event_run(e, 100 * USEC_PER_MSEC) < 0)
                        break;
                while ((n = read(pipefd[0], &dt, sizeof(dt))) == sizeof(dt))
                        t[got++] = dt;
                if (n == 0)
                        break;  /* the child is gone */
        }
        waitpid(child, &status, 0);
        if (got < runs) {
                fprintf(stderr, "the scraper stopped after %d scrapes\n", got);
                return 1;
        }
        med = median(t, (size_t)runs);
        printf("  %-44s %6s          %8s      median %7.3f ms  (min %.3f, max %.3f)\n",
               "HTTP scrape, 1000 groups, no cap, OpenMetrics", "", "", med, t[0], t[runs - 1]);
        close(pipefd[0]);
        free(s.text);
        free(t);
        http_free(h);
        sd_event_unref(e);
        return 0;
}

int main(int argc, char **argv)
{
        static struct metrics_proc distinct[NPROC], grouped[NPROC];
        int runs = argc > 1 ? atoi(argv[1]) : 51;

        if (runs < 1) {
                fprintf(stderr, "usage: %s [RUNS]\n", argv[0]);
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        snapshot(distinct, NPROC);
        printf("metrics-scrape: %d processes, %d runs each\n", NPROC, runs);
        bench_render("render, 1000 groups, no cap, text", distinct, METRICS_TEXT, 1000000, runs);
        bench_render("render, 1000 groups, no cap, OpenMetrics", distinct, METRICS_OPENMETRICS, 1000000, runs);
        bench_render("render, 1000 groups, default cap, text", distinct, METRICS_TEXT, 10000, runs);
        snapshot(grouped, 40);
        bench_render("render, 40 groups of 25, text", grouped, METRICS_TEXT, 10000, runs);
        snapshot(distinct, NPROC);
        return bench_http(distinct, runs);
}
