/* SPDX-License-Identifier: GPL-2.0-or-later */
/* export: the daemon's state as Prometheus metrics, over HTTP and as a textfile.
 *
 * A snapshot is a walk over the sampler's watched processes (their last sample and
 * the engine's detector state for each), plus the counters of every module. The last
 * sample alone would make PSS and USS flicker, since smaps_rollup is read only every
 * few ticks: the last values read are kept per sampler slot (checked against the
 * process id, so a reused slot never inherits them) and used while the group is merely
 * not due; a real "unknown" (denied, gone) drops them. */
#include "exporter.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "metrics.h"

/* A textfile that cannot be written is reported at most once a minute. */
#define TEXTFILE_LOG_USEC (60 * USEC_PER_SEC)

struct smaps_memo {
        int64_t id;                     /* process row id; 0: empty */
        int64_t pss, uss;
        bool have_pss, have_uss;
};

struct rendered {
        char *text;
        size_t len;
        uint64_t generation;            /* the tick it shows */
        bool valid;
};

struct export {
        struct export_env env;
        struct http *http;
        char *listen;                   /* metrics-listen at start: a reload cannot move it */
        bool listen_warned;
        double start_time;
        usec_t tick_cost;
        uint64_t generation;            /* ticks seen */
        struct rendered cache[METRICS__FORMAT_MAX];
        struct smaps_memo *memo;        /* by sampler slot */
        size_t n_memo;
        struct metrics_proc *procs;     /* the snapshot's buffer, kept between renderings */
        size_t cap_procs;
        char *textfile;                 /* the file last written, removed when no longer wanted */
        usec_t next_textfile;
        struct ratelimit textfile_rl;
};

/* ---- the snapshot ---- */

static void remember_one(void *userdata, const struct sampler_proc *p, const struct sample *last)
{
        struct export *x = userdata;
        struct smaps_memo *m;

        if (p->slot >= x->n_memo) {
                size_t n = MAX(p->slot + 1, x->n_memo * 2);
                struct smaps_memo *nm = realloc(x->memo, n * sizeof(*nm));

                if (!nm)
                        return;         /* the values simply stay unknown */
                memset(nm + x->n_memo, 0, (n - x->n_memo) * sizeof(*nm));
                x->memo = nm;
                x->n_memo = n;
        }
        m = &x->memo[p->slot];
        if (m->id != p->id)
                *m = (struct smaps_memo){ .id = p->id };
        if (sample_has(last, M_PSS) || sample_has(last, M_USS) ||
            (last->why[G_SMAPS] != UNK_SKIPPED && last->why[G_SMAPS] != UNK_NONE)) {
                m->have_pss = sample_has(last, M_PSS);
                m->pss = last->v[M_PSS];
                m->have_uss = sample_has(last, M_USS);
                m->uss = last->v[M_USS];
        }
}

struct collect {
        struct export *x;
        const struct config *cfg;
        size_t n;
        int r;
};

static void collect_one(void *userdata, const struct sampler_proc *p, const struct sample *last)
{
        struct collect *c = userdata;
        struct export *x = c->x;
        struct metrics_proc *mp;

        if (c->r < 0)
                return;
        if (c->n == x->cap_procs) {
                size_t n = MAX(x->cap_procs * 2, (size_t)64);
                struct metrics_proc *np = realloc(x->procs, n * sizeof(*np));

                if (!np) {
                        c->r = -ENOMEM;
                        return;
                }
                x->procs = np;
                x->cap_procs = n;
        }
        mp = &x->procs[c->n++];
        *mp = (struct metrics_proc){
                .rule = p->rule < c->cfg->n_rules ? c->cfg->rules[p->rule].name : "",
                .comm = p->comm ? p->comm : "",
                .unit = p->unit ? p->unit : "",
                .pid = p->pid,
                .last = *last,
        };
        if (p->slot < x->n_memo && x->memo[p->slot].id == p->id) {
                const struct smaps_memo *m = &x->memo[p->slot];

                if (!sample_has(&mp->last, M_PSS) && m->have_pss)
                        sample_set(&mp->last, M_PSS, m->pss);
                if (!sample_has(&mp->last, M_USS) && m->have_uss)
                        sample_set(&mp->last, M_USS, m->uss);
        }
        for (int k = 0; k < DETECT__KIND_MAX; k++) {
                struct engine_proc_state st;
                struct metrics_detector *d = &mp->det[k];

                if (engine_proc_state(x->env.engine, p->slot, k, &st) < 0) {
                        *d = (struct metrics_detector){ .status = DETECT_OK, .slope = NAN, .slope_low = NAN,
                                                        .forecast = INFINITY };
                        continue;
                }
                *d = (struct metrics_detector){
                        .status = st.status,
                        .evaluated = st.evaluated,
                        .slope = st.slope,
                        .slope_low = st.slope_low,
                        .forecast = st.forecast,
                        .alert_open = st.alert_id != 0,
                };
        }
}

int export_render(struct export *x, enum metrics_format fmt, const char **ret_text, size_t *ret_len)
{
        struct rendered *c = &x->cache[fmt];
        const struct config *cfg = *x->env.cfg;
        struct collect col = { .x = x, .cfg = cfg };
        struct sampler_stats ss;
        struct writer_stats ws;
        struct engine_stats es;
        struct dispatch_stats ds = { 0 };
        struct metrics_daemon d;
        struct metrics_opts o;
        int64_t db_bytes;
        char *text;
        size_t len;
        int r;

        if (!c->valid || c->generation != x->generation) {
                sampler_for_each(x->env.sampler, collect_one, &col);
                if (col.r < 0)
                        return col.r;
                sampler_get_stats(x->env.sampler, &ss);
                writer_get_stats(x->env.writer, &ws);
                engine_get_stats(x->env.engine, &es);
                if (x->env.dispatch)
                        dispatch_get_stats(x->env.dispatch, &ds);
                if (!x->env.store || store_disk_usage(x->env.store, &db_bytes) < 0)
                        db_bytes = -1;
                d = (struct metrics_daemon){
                        .version = LEAKWATCH_VERSION,
                        .sampler = ss.bpf ? "bpf" : "proc",
                        .start_time = x->start_time,
                        .interval = cfg->interval,
                        .tick_duration = (double)x->tick_cost / (double)USEC_PER_SEC,
                        .ticks = ss.ticks,
                        .watched = ss.watched,
                        .samples = ss.samples,
                        .capped = ss.capped,
                        .read_errors = ss.read_errors,
                        .pass_errors = ss.pass_errors,
                        .smaps_reads = ss.rollups,
                        .smaps_postponed = ss.rollups_over_budget,
                        .evaluations = es.evaluations,
                        .written = ws.written,
                        .dropped = ws.dropped,
                        .pending = ws.pending,
                        .flush_failures = ws.failures,
                        .db_bytes = db_bytes,
                        .alerts = es.alerts,
                        .hook_runs = ds.hook_runs,
                        .hook_failures = ds.hook_failures,
                };
                o = (struct metrics_opts){ .format = fmt, .max_series = cfg->metrics_max_series,
                                           .pid_label = cfg->metrics_pid_label };
                r = metrics_render(&d, x->procs, col.n, &o, &text, &len, NULL);
                if (r < 0)
                        return r;
                free(c->text);
                *c = (struct rendered){ .text = text, .len = len, .generation = x->generation, .valid = true };
        }
        *ret_text = c->text;
        *ret_len = c->len;
        return 0;
}

/* ---- the textfile ---- */

int export_write_file(const char *path, const char *text, size_t len)
{
        const char *slash = strrchr(path, '/');
        char tmp[PATH_MAX];
        int fd, r, n;

        if (slash)
                n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1);
        else
                n = snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", path);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* node_exporter usually runs as another user: the file must be readable. */
        if (fchmod(fd, 0644) < 0) {
                r = -errno;
                goto fail;
        }
        r = write_full(fd, text, len);
        if (r < 0)
                goto fail;
        /* close() can report a write error the file system deferred (NFS, quota). */
        r = close(fd);
        fd = -1;
        if (r < 0 || rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        return 0;

fail:
        if (fd >= 0)
                close(fd);
        (void)unlink(tmp);
        return r;
}

/* Removes the file written last when the configuration no longer names it: a file
 * left behind would go on reporting a state that is no longer watched. */
static void forget_textfile(struct export *x, const char *wanted)
{
        if (!x->textfile || (wanted && strcmp(wanted, x->textfile) == 0))
                return;
        if (unlink(x->textfile) < 0 && errno != ENOENT)
                log_warning("metrics: cannot remove %s: %s", x->textfile, strerror(errno));
        free(x->textfile);
        x->textfile = NULL;
}

static void write_textfile(struct export *x, const struct config *cfg, usec_t mono)
{
        const char *text;
        unsigned suppressed;
        size_t len;
        int r;

        x->next_textfile = mono + (usec_t)(cfg->metrics_textfile_interval * (double)USEC_PER_SEC);
        r = export_render(x, METRICS_TEXT, &text, &len);
        if (r >= 0)
                r = export_write_file(cfg->metrics_textfile, text, len);
        if (r < 0) {
                if (ratelimit_allow(&x->textfile_rl, mono, &suppressed))
                        log_warning("metrics: cannot write %s: %s; will retry (%u more failures not reported)",
                                    cfg->metrics_textfile, strerror(-r), suppressed);
                return;
        }
        if (!x->textfile)
                x->textfile = strdup(cfg->metrics_textfile);
}

/* ---- the endpoint ---- */

static int document(void *userdata, const char *accept, const char **ret_body, size_t *ret_len,
                    const char **ret_content_type)
{
        enum metrics_format fmt = metrics_negotiate(accept);
        int r;

        r = export_render(userdata, fmt, ret_body, ret_len);
        if (r < 0)
                return r;
        *ret_content_type = metrics_content_type[fmt];
        return 0;
}

static bool str_differ(const char *a, const char *b)
{
        return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

int export_new(const struct export_env *env, struct export **ret, char *err, size_t errsz)
{
        const struct config *cfg = *env->cfg;
        struct http_opts ho = { .listen_fd = -1 };
        struct sockaddr_storage sa;
        struct export *x;
        char where[80];
        int r;

        x = calloc(1, sizeof(*x));
        if (!x) {
                snprintf(err, errsz, "%s", strerror(ENOMEM));
                return -ENOMEM;
        }
        x->env = *env;
        x->start_time = (double)now_usec(CLOCK_REALTIME) / (double)USEC_PER_SEC;
        x->textfile_rl = (struct ratelimit)RATELIMIT_INIT(TEXTFILE_LOG_USEC, 1);
        if (cfg->metrics_listen) {
                x->listen = strdup(cfg->metrics_listen);
                if (!x->listen) {
                        r = -ENOMEM;
                        snprintf(err, errsz, "%s", strerror(ENOMEM));
                        goto fail;
                }
        }

        ho.listen_fd = http_socket_from_systemd(EXPORT_SOCKET_NAME);
        if (ho.listen_fd == -ENOENT && !cfg->metrics_listen) {
                *ret = x;
                return 0;
        }
        if (ho.listen_fd < 0 && ho.listen_fd != -ENOENT) {
                r = ho.listen_fd;
                snprintf(err, errsz, "the socket systemd passed as '%s' is not a listening stream socket",
                         EXPORT_SOCKET_NAME);
                goto fail;
        }
        if (ho.listen_fd < 0) {
                /* The configuration checked the address already. */
                r = config_parse_listen(cfg->metrics_listen, &sa, &ho.addr_len);
                if (r < 0) {
                        snprintf(err, errsz, "invalid metrics-listen '%s'", cfg->metrics_listen);
                        goto fail;
                }
                ho.addr = (const struct sockaddr *)&sa;
                ho.listen_fd = -1;
        }
        ho.document = document;
        ho.userdata = x;
        r = http_new(env->event, &ho, &x->http);
        if (r < 0) {
                if (ho.addr)
                        snprintf(err, errsz, "cannot listen on %s: %s", cfg->metrics_listen, strerror(-r));
                else
                        snprintf(err, errsz, "cannot serve the socket systemd passed: %s", strerror(-r));
                goto fail;
        }
        if (http_address(x->http, where, sizeof(where)) < 0)
                snprintf(where, sizeof(where), "(unknown address)");
        log_info("metrics: serving http://%s/metrics%s", where, ho.addr ? "" : " (socket from systemd)");
        *ret = x;
        return 0;

fail:
        export_free(x);
        return r;
}

void export_free(struct export *x)
{
        if (!x)
                return;
        http_free(x->http);
        forget_textfile(x, NULL);
        for (size_t i = 0; i < METRICS__FORMAT_MAX; i++)
                free(x->cache[i].text);
        free(x->memo);
        free(x->procs);
        free(x->listen);
        free(x);
}

void export_tick(struct export *x, usec_t mono, usec_t tick_cost)
{
        const struct config *cfg;

        if (!x)
                return;
        cfg = *x->env.cfg;
        x->tick_cost = tick_cost;
        x->generation++;
        if (str_differ(cfg->metrics_listen, x->listen) && !x->listen_warned) {
                log_warning("metrics: metrics-listen changed; the endpoint stays as it is until a restart");
                x->listen_warned = true;
        }
        forget_textfile(x, cfg->metrics_textfile);
        if (!x->http && !cfg->metrics_textfile)
                return;
        sampler_for_each(x->env.sampler, remember_one, x);
        if (cfg->metrics_textfile && mono >= x->next_textfile)
                write_textfile(x, cfg, mono);
}
