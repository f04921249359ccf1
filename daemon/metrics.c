/* SPDX-License-Identifier: GPL-2.0-or-later */
/* metrics: the Prometheus and OpenMetrics text exposition of a snapshot; pure.
 *
 * One rendering: escape each process's labels, sort the processes by them, fold equal
 * runs into groups, rank the groups and keep those that fit the series cap, then write
 * the families one after the other (both formats require a family's samples to be
 * contiguous), the daemon's own first and then the groups', in label order so that two
 * scrapes of the same state read the same. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

const char *const metrics_content_type[METRICS__FORMAT_MAX] = {
        [METRICS_TEXT] = "text/plain; version=0.0.4; charset=utf-8",
        [METRICS_OPENMETRICS] = "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/* ---- content negotiation ---- */

static bool token_is(const char *s, size_t len, const char *word)
{
        return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Trims blanks around [*s, *s + *len). */
static void trim(const char **s, size_t *len)
{
        while (*len > 0 && (**s == ' ' || **s == '\t'))
                (*s)++, (*len)--;
        while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
                (*len)--;
}

/* A quality value (RFC 9110: 0 to 1, at most three decimals); -1 if malformed. */
static double parse_q(const char *s, size_t len)
{
        double q = 0, scale = 1;
        size_t i = 0;

        if (len == 0 || (s[0] != '0' && s[0] != '1'))
                return -1;
        q = s[0] - '0';
        i = 1;
        if (i < len && s[i] == '.')
                for (i++; i < len && i <= 5; i++) {
                        if (s[i] < '0' || s[i] > '9')
                                return -1;
                        scale /= 10;
                        q += (s[i] - '0') * scale;
                }
        return i == len && q <= 1 ? q : -1;
}

enum metrics_format metrics_negotiate(const char *accept)
{
        double q_om = 0, q_text = 0;

        if (!accept)
                return METRICS_TEXT;
        for (const char *p = accept; *p;) {
                size_t len = strcspn(p, ","), tlen;
                const char *range = p, *param;
                const char *version = NULL;
                size_t vlen = 0;
                double q = 1;

                p += len + (p[len] == ',');
                tlen = strcspn(range, ";,");
                param = range + tlen;
                trim(&range, &tlen);
                while (*param == ';') {
                        const char *k = param + 1, *v;
                        size_t plen = strcspn(k, ";,"), klen, l;

                        param = k + plen;
                        v = memchr(k, '=', plen);
                        if (!v)
                                continue;
                        klen = (size_t)(v - k);
                        v++;
                        l = plen - klen - 1;
                        trim(&k, &klen);
                        trim(&v, &l);
                        if (token_is(k, klen, "q"))
                                q = parse_q(v, l);
                        else if (token_is(k, klen, "version"))
                                version = v, vlen = l;
                }
                if (q < 0)
                        continue;
                if (token_is(range, tlen, "application/openmetrics-text")) {
                        if (!version || token_is(version, vlen, "1.0.0"))
                                q_om = MAX(q_om, q);
                } else if (token_is(range, tlen, "text/plain")) {
                        if (!version || token_is(version, vlen, "0.0.4"))
                                q_text = MAX(q_text, q);
                } else if (token_is(range, tlen, "*/*") || token_is(range, tlen, "text/*")) {
                        q_text = MAX(q_text, q);
                }
        }
        return q_om > 0 && q_om >= q_text ? METRICS_OPENMETRICS : METRICS_TEXT;
}

/* ---- the output buffer ---- */

struct out {
        char *buf;
        size_t len, cap;
        bool oom;               /* sticky: later writes are ignored */
};

static void grow(struct out *o, size_t need)
{
        size_t cap = o->cap ? o->cap : 4096;
        char *b;

        while (cap < o->len + need + 1)
                cap *= 2;
        b = realloc(o->buf, cap);
        if (!b) {
                o->oom = true;
                return;
        }
        o->buf = b;
        o->cap = cap;
}

static void put(struct out *o, const char *s, size_t len)
{
        if (o->len + len + 1 > o->cap)
                grow(o, len);
        if (o->oom)
                return;
        memcpy(o->buf + o->len, s, len);
        o->len += len;
}

static void puts_(struct out *o, const char *s)
{
        put(o, s, strlen(s));
}

static void PRINTF(2, 3) putf(struct out *o, const char *fmt, ...)
{
        char tmp[256];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
        va_end(ap);
        if (n > 0)
                put(o, tmp, MIN((size_t)n, sizeof(tmp) - 1));
}

/* Integers are most of the values: digits by hand, without printf's parsing. */
static void put_u64(struct out *o, uint64_t v)
{
        char tmp[24], *p = tmp + sizeof(tmp);

        do {
                *--p = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        put(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void put_i64(struct out *o, int64_t v)
{
        if (v < 0) {
                put(o, "-", 1);
                put_u64(o, (uint64_t)0 - (uint64_t)v);
        } else {
                put_u64(o, (uint64_t)v);
        }
}

/* The spellings both formats share for the special values; otherwise the shortest of
 * %.15g and %.17g that reads back as the same double. The daemon never calls
 * setlocale(), so the decimal point is always '.', as both formats require. */
static void put_double(struct out *o, double v)
{
        char tmp[32];

        if (isnan(v)) {
                puts_(o, "NaN");
                return;
        }
        if (isinf(v)) {
                puts_(o, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        snprintf(tmp, sizeof(tmp), "%.15g", v);
        if (strtod(tmp, NULL) != v)
                snprintf(tmp, sizeof(tmp), "%.17g", v);
        puts_(o, tmp);
}

size_t metrics_escape_label(const char *s, size_t len, char *dst)
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                if (s[i] == '\\' || s[i] == '"') {
                        dst[o++] = '\\';
                        dst[o++] = s[i];
                } else if (s[i] == '\n') {
                        dst[o++] = '\\';
                        dst[o++] = 'n';
                } else {
                        dst[o++] = s[i];
                }
        }
        dst[o] = '\0';
        return o;
}

/* ---- families ---- */

enum family_type { GAUGE, COUNTER, INFO };

struct family {
        const char *name;       /* counters without _total, info without _info */
        enum family_type type;
        const char *unit;       /* OpenMetrics UNIT, a suffix of name; or NULL */
        const char *help;       /* one line without backslash, quote or newline */
};

static const char *const type_name[] = { [GAUGE] = "gauge", [COUNTER] = "counter", [INFO] = "info" };
static const char *const type_suffix[] = { [GAUGE] = "", [COUNTER] = "_total", [INFO] = "_info" };

static void family_header(struct out *o, enum metrics_format fmt, const struct family *f)
{
        if (fmt == METRICS_OPENMETRICS) {
                putf(o, "# TYPE %s %s\n", f->name, type_name[f->type]);
                if (f->unit)
                        putf(o, "# UNIT %s %s\n", f->name, f->unit);
                puts_(o, "# HELP ");
                puts_(o, f->name);
        } else {
                /* The text format has no info type, and names a counter by its sample. */
                putf(o, "# HELP %s%s", f->name, type_suffix[f->type]);
        }
        put(o, " ", 1);
        puts_(o, f->help);
        put(o, "\n", 1);
        if (fmt == METRICS_TEXT)
                putf(o, "# TYPE %s%s %s\n", f->name, type_suffix[f->type], f->type == COUNTER ? "counter" : "gauge");
}

/* "name{" or "name " — the start of a sample. */
static void sample_name(struct out *o, const struct family *f)
{
        puts_(o, f->name);
        puts_(o, type_suffix[f->type]);
}

static void daemon_u64(struct out *o, enum metrics_format fmt, const struct family *f, uint64_t v)
{
        family_header(o, fmt, f);
        sample_name(o, f);
        put(o, " ", 1);
        put_u64(o, v);
        put(o, "\n", 1);
}

static void daemon_double(struct out *o, enum metrics_format fmt, const struct family *f, double v)
{
        family_header(o, fmt, f);
        sample_name(o, f);
        put(o, " ", 1);
        put_double(o, v);
        put(o, "\n", 1);
}

static const struct family
        f_build = { "leakwatch_build", INFO, NULL, "The running leakwatchd's version." },
        f_start = { "leakwatch_start_time_seconds", GAUGE, "seconds",
                    "When leakwatchd started, in seconds since the epoch." },
        f_interval = { "leakwatch_interval_seconds", GAUGE, "seconds", "The configured sampling interval." },
        f_tick = { "leakwatch_tick_duration_seconds", GAUGE, "seconds",
                   "How long the last sampling tick took; near the interval, sampling falls behind." },
        f_ticks = { "leakwatch_ticks", COUNTER, NULL, "Sampling ticks since start." },
        f_watched = { "leakwatch_watched_processes", GAUGE, NULL, "Processes watched now, all groups." },
        f_samples = { "leakwatch_samples", COUNTER, NULL, "Process samples taken since start." },
        f_unwatched = { "leakwatch_unwatched_matches", COUNTER, NULL,
                        "Attempts to watch a matching process refused because max-processes was reached." },
        f_read_errors = { "leakwatch_proc_read_errors", COUNTER, NULL, "Unexpected errors reading /proc." },
        f_backend = { "leakwatch_sampler_backend", GAUGE, NULL,
                      "How the tick reads processes: 1 for the backend chosen at start (bpf or proc)." },
        f_pass_errors = { "leakwatch_bpf_pass_errors", COUNTER, NULL,
                          "BPF passes that failed; those ticks read /proc instead." },
        f_smaps = { "leakwatch_smaps_reads", COUNTER, NULL, "Reads of /proc/PID/smaps_rollup." },
        f_smaps_postponed = { "leakwatch_smaps_reads_postponed", COUNTER, NULL,
                              "smaps_rollup reads that were due but waited: smaps-budget was spent." },
        f_evaluations = { "leakwatch_detector_evaluations", COUNTER, NULL, "Detector evaluations since start." },
        f_written = { "leakwatch_samples_written", COUNTER, NULL, "Samples committed to the database." },
        f_dropped = { "leakwatch_samples_dropped", COUNTER, NULL,
                      "Samples lost because the database could not take them before the backlog filled." },
        f_pending = { "leakwatch_samples_pending", GAUGE, NULL, "Samples waiting to be written." },
        f_flush_fail = { "leakwatch_database_write_failures", COUNTER, NULL,
                         "Failed database transactions (a full disk, a locked or broken database)." },
        f_db_size = { "leakwatch_database_size_bytes", GAUGE, "bytes", "Size of the database and its WAL." },
        f_alerts = { "leakwatch_alerts", COUNTER, NULL, "Leak alerts opened since start." },
        f_hook_runs = { "leakwatch_hook_runs", COUNTER, NULL, "Alert hooks run since start." },
        f_hook_fail = { "leakwatch_hook_failures", COUNTER, NULL,
                        "Alert hooks that failed, timed out or were refused, since start." },
        f_omit_series = { "leakwatch_omitted_series", GAUGE, NULL,
                          "Process-group series left out of this exposition by metrics-max-series." },
        f_omit_procs = { "leakwatch_omitted_processes", GAUGE, NULL,
                         "Watched processes whose group was left out of this exposition by metrics-max-series." },

        f_procs = { "leakwatch_processes", GAUGE, NULL, "Watched processes in the group." },
        f_memory = { "leakwatch_memory_bytes", GAUGE, "bytes",
                     "Memory of the group's processes by kind, summed; absent when a process's value is unknown." },
        f_fds = { "leakwatch_open_fds", GAUGE, NULL, "Open file descriptors of the group's processes, summed." },
        f_growth = { "leakwatch_growth_bytes_per_second", GAUGE, "bytes_per_second",
                     "Steepest growth of the floor of anonymous memory plus swap among the group's processes "
                     "(Theil-Sen slope over the detector window); NaN before a first evaluation." },
        f_growth_low = { "leakwatch_growth_lower_bound_bytes_per_second", GAUGE, "bytes_per_second",
                         "Highest lower confidence bound of that growth among the group's processes." },
        f_fd_growth = { "leakwatch_fd_growth_per_second", GAUGE, NULL,
                        "Steepest growth of open descriptors among the group's processes, per second." },
        f_fd_growth_low = { "leakwatch_fd_growth_lower_bound_per_second", GAUGE, NULL,
                            "Highest lower confidence bound of descriptor growth among the group's processes." },
        f_forecast = { "leakwatch_forecast_seconds", GAUGE, "seconds",
                       "Nearest forecast among the group's processes of when a limit is reached at the "
                       "current growth; +Inf when none is in sight." },
        f_state = { "leakwatch_detector_state", GAUGE, NULL,
                    "The group's processes whose detector is in this state (ok, suspect, leaking, recovered)." },
        f_open_alerts = { "leakwatch_open_alerts", GAUGE, NULL, "Open leak alerts of the group's processes." };

/* The memory kinds exported; the kind label is the metric's own name (lib/sample.h). */
enum { K_RSS, K_ANON, K_FILE, K_SHMEM, K_SWAP, K_PSS, K_USS, N_KINDS };
static const struct {
        enum metric m;
} mem_kinds[N_KINDS] = {
        [K_RSS] = { M_RSS }, [K_ANON] = { M_ANON }, [K_FILE] = { M_FILE }, [K_SHMEM] = { M_SHMEM },
        [K_SWAP] = { M_SWAP }, [K_PSS] = { M_PSS }, [K_USS] = { M_USS },
};


/* ---- groups ---- */

struct entry {
        const char *rule, *name, *unit;         /* str_escape'd: the label values */
        pid_t pid;
        size_t proc;                            /* index in procs */
};

struct group {
        char *labels;           /* rule="...",name="...",unit="..."[,pid="N"], escaped */
        size_t labels_len;
        size_t first;           /* in the sorted entries */
        uint32_t n;             /* processes */
        int64_t mem[N_KINDS];
        uint32_t mem_known[N_KINDS];    /* members with a value: a sum needs all */
        int64_t fds;
        uint32_t fds_known;
        double slope[DETECT__KIND_MAX], slope_low[DETECT__KIND_MAX], forecast[DETECT__KIND_MAX];
        uint32_t state[DETECT__KIND_MAX][DETECT__MAX];
        uint32_t alerts[DETECT__KIND_MAX];
        size_t series;
        bool selected;
};

static int entry_cmp(const struct entry *a, const struct entry *b, bool pid)
{
        int c = strcmp(a->rule, b->rule);

        if (c == 0)
                c = strcmp(a->name, b->name);
        if (c == 0)
                c = strcmp(a->unit, b->unit);
        if (c == 0 && pid)
                c = (a->pid > b->pid) - (a->pid < b->pid);
        return c;
}

static int entry_cmp_nopid(const void *x, const void *y)
{
        int c = entry_cmp(x, y, false);

        if (c == 0) {
                /* The order within a group does not show; the pid makes qsort's
                 * result independent of the input order. */
                const struct entry *a = x, *b = y;

                c = (a->pid > b->pid) - (a->pid < b->pid);
        }
        return c;
}

static int entry_cmp_pid(const void *x, const void *y)
{
        return entry_cmp(x, y, true);
}

static uint32_t group_alerts(const struct group *g)
{
        return g->alerts[0] + g->alerts[1];
}

static uint32_t group_in(const struct group *g, enum detect_status st)
{
        return g->state[0][st] + g->state[1][st];
}

/* Memory the detector watches (anon + swap), for ranking; unknown counts as 0. */
static int64_t group_heap(const struct group *g)
{
        return g->mem[K_ANON] + g->mem[K_SWAP];
}

/* The ranking for the cap: what an operator must not miss comes first — open alerts,
 * then confirmed leaks, then suspicions, then the largest memory — and label order
 * breaks ties, so the same state always keeps the same groups. */
static int rank_cmp(const void *x, const void *y)
{
        const struct group *a = *(const struct group *const *)x, *b = *(const struct group *const *)y;
        uint32_t ua, ub;
        int64_t ma, mb;

        ua = group_alerts(a), ub = group_alerts(b);
        if (ua != ub)
                return ua > ub ? -1 : 1;
        ua = group_in(a, DETECT_LEAKING), ub = group_in(b, DETECT_LEAKING);
        if (ua != ub)
                return ua > ub ? -1 : 1;
        ua = group_in(a, DETECT_SUSPECT), ub = group_in(b, DETECT_SUSPECT);
        if (ua != ub)
                return ua > ub ? -1 : 1;
        ma = group_heap(a), mb = group_heap(b);
        if (ma != mb)
                return ma > mb ? -1 : 1;
        return (a->first > b->first) - (a->first < b->first);
}

static void group_add(struct group *g, const struct metrics_proc *p)
{
        g->n++;
        for (size_t k = 0; k < N_KINDS; k++)
                if (sample_has(&p->last, mem_kinds[k].m)) {
                        g->mem[k] += p->last.v[mem_kinds[k].m];
                        g->mem_known[k]++;
                }
        if (sample_has(&p->last, M_FDS)) {
                g->fds += p->last.v[M_FDS];
                g->fds_known++;
        }
        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                const struct metrics_detector *dt = &p->det[m];

                if (dt->evaluated) {
                        /* fmax ignores a NAN operand: the first evaluated member wins. */
                        g->slope[m] = fmax(g->slope[m], dt->slope);
                        g->slope_low[m] = fmax(g->slope_low[m], dt->slope_low);
                }
                g->forecast[m] = fmin(g->forecast[m], dt->forecast);
                if ((unsigned)dt->status < DETECT__MAX)
                        g->state[m][dt->status]++;
                g->alerts[m] += dt->alert_open;
        }
}

/* Series a group writes: processes, memory kinds known for every member, descriptors
 * if known for all, four growth figures, a forecast, four states and an alert count
 * per detector. */
static size_t group_series(const struct group *g)
{
        size_t s = 1 + 4 + DETECT__KIND_MAX * (1 + DETECT__MAX + 1);

        for (size_t k = 0; k < N_KINDS; k++)
                s += g->mem_known[k] == g->n;
        return s + (g->fds_known == g->n);
}

/* The groups of the sorted entries, with their label text; NULL on -ENOMEM. */
static struct group *make_groups(const struct metrics_proc *procs, const struct entry *e, size_t n, bool pid,
                                 size_t *ret_n)
{
        struct group *g = calloc(n ? n : 1, sizeof(*g));
        size_t ng = 0;

        if (!g)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                struct group *cur;

                if (ng == 0 || entry_cmp(&e[g[ng - 1].first], &e[i], pid) != 0) {
                        size_t lr = strlen(e[i].rule), ln = strlen(e[i].name), lu = strlen(e[i].unit);
                        /* Each value at most doubles; 64 covers the names, quotes and pid. */
                        char *l = malloc(2 * (lr + ln + lu) + 64), *o;

                        if (!l)
                                goto out_free;
                        cur = &g[ng++];
                        cur->labels = l;
                        cur->first = i;
                        for (int m = 0; m < DETECT__KIND_MAX; m++) {
                                cur->slope[m] = NAN;
                                cur->slope_low[m] = NAN;
                                cur->forecast[m] = INFINITY;
                        }
                        o = l;
                        o = stpcpy(o, "rule=\"");
                        o += metrics_escape_label(e[i].rule, lr, o);
                        o = stpcpy(o, "\",name=\"");
                        o += metrics_escape_label(e[i].name, ln, o);
                        o = stpcpy(o, "\",unit=\"");
                        o += metrics_escape_label(e[i].unit, lu, o);
                        o = stpcpy(o, "\"");
                        if (pid)
                                o += sprintf(o, ",pid=\"%d\"", (int)e[i].pid);
                        cur->labels_len = (size_t)(o - l);
                }
                group_add(&g[ng - 1], &procs[e[i].proc]);
        }
        for (size_t i = 0; i < ng; i++)
                g[i].series = group_series(&g[i]);
        *ret_n = ng;
        return g;

out_free:
        for (size_t i = 0; i < ng; i++)
                free(g[i].labels);
        free(g);
        return NULL;
}

/* ---- writing the groups ---- */

/* name{labels[,extra]} */
static void group_sample(struct out *o, const struct family *f, const struct group *g, const char *extra)
{
        sample_name(o, f);
        put(o, "{", 1);
        put(o, g->labels, g->labels_len);
        if (extra) {
                put(o, ",", 1);
                puts_(o, extra);
        }
        put(o, "} ", 2);
}

/* The four growth families: which detector, and the slope or its lower bound. */
static const struct {
        const struct family *f;
        int m;
        bool low;
} growth[] = {
        { &f_growth, 0, false }, { &f_growth_low, 0, true },
        { &f_fd_growth, 1, false }, { &f_fd_growth_low, 1, true },
};

static void write_groups(struct out *o, enum metrics_format fmt, const struct group *g, size_t ng)
{
        char extra[64];

        family_header(o, fmt, &f_procs);
        for (size_t i = 0; i < ng; i++)
                if (g[i].selected) {
                        group_sample(o, &f_procs, &g[i], NULL);
                        put_u64(o, g[i].n);
                        put(o, "\n", 1);
                }
        family_header(o, fmt, &f_memory);
        for (size_t i = 0; i < ng; i++)
                for (size_t k = 0; g[i].selected && k < N_KINDS; k++)
                        if (g[i].mem_known[k] == g[i].n) {
                                snprintf(extra, sizeof(extra), "kind=\"%s\"", metric_info[mem_kinds[k].m].name);
                                group_sample(o, &f_memory, &g[i], extra);
                                put_i64(o, g[i].mem[k]);
                                put(o, "\n", 1);
                        }
        family_header(o, fmt, &f_fds);
        for (size_t i = 0; i < ng; i++)
                if (g[i].selected && g[i].fds_known == g[i].n) {
                        group_sample(o, &f_fds, &g[i], NULL);
                        put_i64(o, g[i].fds);
                        put(o, "\n", 1);
                }
        for (size_t k = 0; k < ELEMENTSOF(growth); k++) {
                family_header(o, fmt, growth[k].f);
                for (size_t i = 0; i < ng; i++)
                        if (g[i].selected) {
                                int m = growth[k].m;

                                group_sample(o, growth[k].f, &g[i], NULL);
                                put_double(o, growth[k].low ? g[i].slope_low[m] : g[i].slope[m]);
                                put(o, "\n", 1);
                        }
        }
        family_header(o, fmt, &f_forecast);
        for (size_t i = 0; i < ng; i++)
                for (int m = 0; g[i].selected && m < DETECT__KIND_MAX; m++) {
                        snprintf(extra, sizeof(extra), "resource=\"%s\"", detect_kind_name[m]);
                        group_sample(o, &f_forecast, &g[i], extra);
                        put_double(o, g[i].forecast[m]);
                        put(o, "\n", 1);
                }
        family_header(o, fmt, &f_state);
        for (size_t i = 0; i < ng; i++)
                for (int m = 0; g[i].selected && m < DETECT__KIND_MAX; m++)
                        for (int s = 0; s < DETECT__MAX; s++) {
                                snprintf(extra, sizeof(extra), "resource=\"%s\",state=\"%s\"", detect_kind_name[m],
                                         detect_status_name[s]);
                                group_sample(o, &f_state, &g[i], extra);
                                put_u64(o, g[i].state[m][s]);
                                put(o, "\n", 1);
                        }
        family_header(o, fmt, &f_open_alerts);
        for (size_t i = 0; i < ng; i++)
                for (int m = 0; g[i].selected && m < DETECT__KIND_MAX; m++) {
                        snprintf(extra, sizeof(extra), "resource=\"%s\"", detect_kind_name[m]);
                        group_sample(o, &f_open_alerts, &g[i], extra);
                        put_u64(o, g[i].alerts[m]);
                        put(o, "\n", 1);
                }
}

static void write_daemon(struct out *o, enum metrics_format fmt, const struct metrics_daemon *d,
                         const struct metrics_result *res)
{
        char version[64];

        family_header(o, fmt, &f_build);
        sample_name(o, &f_build);
        metrics_escape_label(d->version, MIN(strlen(d->version), (sizeof(version) - 1) / 2), version);
        putf(o, "{version=\"%s\"} 1\n", version);
        family_header(o, fmt, &f_backend);
        for (size_t i = 0; i < 2; i++) {
                static const char *const backends[] = { "bpf", "proc" };
                bool on = d->sampler && strcmp(d->sampler, backends[i]) == 0;

                sample_name(o, &f_backend);
                putf(o, "{backend=\"%s\"} %d\n", backends[i], on ? 1 : 0);
        }
        daemon_double(o, fmt, &f_start, d->start_time);
        daemon_double(o, fmt, &f_interval, d->interval);
        daemon_double(o, fmt, &f_tick, d->tick_duration);
        daemon_u64(o, fmt, &f_ticks, d->ticks);
        daemon_u64(o, fmt, &f_watched, d->watched);
        daemon_u64(o, fmt, &f_samples, d->samples);
        daemon_u64(o, fmt, &f_unwatched, d->capped);
        daemon_u64(o, fmt, &f_read_errors, d->read_errors);
        daemon_u64(o, fmt, &f_pass_errors, d->pass_errors);
        daemon_u64(o, fmt, &f_smaps, d->smaps_reads);
        daemon_u64(o, fmt, &f_smaps_postponed, d->smaps_postponed);
        daemon_u64(o, fmt, &f_evaluations, d->evaluations);
        daemon_u64(o, fmt, &f_written, d->written);
        daemon_u64(o, fmt, &f_dropped, d->dropped);
        daemon_u64(o, fmt, &f_pending, d->pending);
        daemon_u64(o, fmt, &f_flush_fail, d->flush_failures);
        if (d->db_bytes >= 0)
                daemon_u64(o, fmt, &f_db_size, (uint64_t)d->db_bytes);
        daemon_u64(o, fmt, &f_alerts, d->alerts);
        daemon_u64(o, fmt, &f_hook_runs, d->hook_runs);
        daemon_u64(o, fmt, &f_hook_fail, d->hook_failures);
        daemon_u64(o, fmt, &f_omit_series, res->series_omitted);
        daemon_u64(o, fmt, &f_omit_procs, res->procs_omitted);
}

/* ---- rendering ---- */

/* Escapes every process's labels into one block. */
static char *escape_all(const struct metrics_proc *procs, size_t n, struct entry *e)
{
        size_t total = 0;
        char *arena, *o;

        for (size_t i = 0; i < n; i++)
                total += 4 * (strlen(procs[i].rule) + strlen(procs[i].comm) + strlen(procs[i].unit)) + 3;
        arena = malloc(total ? total : 1);
        if (!arena)
                return NULL;
        o = arena;
        for (size_t i = 0; i < n; i++) {
                const char *src[3] = { procs[i].rule, procs[i].comm, procs[i].unit };
                const char **dst[3] = { &e[i].rule, &e[i].name, &e[i].unit };

                for (int k = 0; k < 3; k++) {
                        size_t len = strlen(src[k]);

                        /* str_escape writes at most four characters per byte. */
                        *dst[k] = o;
                        o += str_escape(src[k], len, o, 4 * len + 1) + 1;
                }
                e[i].pid = procs[i].pid;
                e[i].proc = i;
        }
        return arena;
}

int metrics_render(const struct metrics_daemon *d, const struct metrics_proc *procs, size_t n,
                   const struct metrics_opts *opts, char **ret_text, size_t *ret_len,
                   struct metrics_result *ret_result)
{
        struct metrics_result res = { 0 };
        struct entry *e = calloc(n ? n : 1, sizeof(*e));
        struct group *g = NULL, **rank = NULL;
        struct out o = { 0 };
        char *arena = NULL;
        size_t ng = 0, used = 0;
        int r = -ENOMEM;

        if (!e)
                return -ENOMEM;
        arena = escape_all(procs, n, e);
        if (!arena)
                goto out_free;
        qsort(e, n, sizeof(*e), opts->pid_label ? entry_cmp_pid : entry_cmp_nopid);
        g = make_groups(procs, e, n, opts->pid_label, &ng);
        if (!g)
                goto out_free;
        rank = calloc(ng ? ng : 1, sizeof(*rank));
        if (!rank)
                goto out_free;
        for (size_t i = 0; i < ng; i++)
                rank[i] = &g[i];
        qsort(rank, ng, sizeof(*rank), rank_cmp);
        /* Whole groups in rank order while they fit: half a group would be a sum that
         * is not one. Once one does not fit, the rest stay out too, so what is left
         * out is always the bottom of the ranking. */
        for (size_t i = 0; i < ng; i++) {
                if (res.series_omitted == 0 && used + rank[i]->series <= opts->max_series) {
                        rank[i]->selected = true;
                        used += rank[i]->series;
                        res.groups++;
                } else {
                        res.series_omitted += rank[i]->series;
                        res.groups_omitted++;
                        res.procs_omitted += rank[i]->n;
                }
        }
        res.series = used;

        /* About 110 bytes a series is typical; growing is only a fallback. */
        grow(&o, 4096 + 110 * used);
        write_daemon(&o, opts->format, d, &res);
        write_groups(&o, opts->format, g, ng);
        if (opts->format == METRICS_OPENMETRICS)
                puts_(&o, "# EOF\n");
        if (o.oom) {
                free(o.buf);
                goto out_free;
        }
        o.buf[o.len] = '\0';
        *ret_text = o.buf;
        *ret_len = o.len;
        if (ret_result)
                *ret_result = res;
        r = 0;

out_free:
        for (size_t i = 0; g && i < ng; i++)
                free(g[i].labels);
        free(rank);
        free(g);
        free(arena);
        free(e);
        return r;
}
