/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ps: the process lists — leakwatch ps and leakwatch top.
 *
 * Both judge growth the way the detector does, on the floor of "memory" (anonymous +
 * swap bytes): the window is cut into FLOOR_BUCKETS buckets, each keeps its lowest
 * value, and growth is the floor of the last eighth minus the floor of the first
 * (trend.h), so a garbage collector's sawtooth or a burst of requests is not growth.
 * The same floors draw the sparkline. */
#include "ps.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "detect.h"
#include "objects.h"
#include "trend.h"

/* Buckets per window: the sparkline's full width, and two buckets to an eighth. */
#define FLOOR_BUCKETS 16
/* The narrowest sparkline that still shows a shape. */
#define SPARK_MIN 8
/* An hour: the window people ask "what grew lately" about; the detector's own
 * window (hours) is what alerts use. */
#define DEFAULT_WINDOW_S 3600.0
#define DEFAULT_TOP 10
/* A sparkline of a flat process stays flat: a rise smaller than the detector's
 * minimum growth (1 MiB) does not fill it. */
#define SPARK_MIN_SPAN (1024.0 * 1024)

struct item {
        struct query_process *p;
        struct sample latest;
        double floors[FLOOR_BUCKETS];
        int64_t to_ms;                  /* end of its window */
        bool have_growth;
        struct trend_growth g;
};

struct list {
        struct query_process *procs;
        size_t n;
        struct item *items;
};

static void list_free(struct list *l)
{
        query_processes_free(l->procs, l->n);
        free(l->items);
}

static int state_rank(const char *s)
{
        static const char *const order[] = { "", "ok", "recovered", "suspect", "leaking" };

        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (strcmp(s, order[i]) == 0)
                        return (int)i;
        return 0;
}

/* Ascending; the caller flips it for -KEY. Unknown values are left to the caller. */
static int cmp_num(double a, double b)
{
        return a < b ? -1 : a > b;
}

static double memory_of(const struct item *it)
{
        const struct sample *s = &it->latest;
        double v;

        return s->t_ms && detect_value(s, DETECT_MEMORY, &v) ? v : NAN;
}

/* --sort [+|-]KEY, as ps(1) takes it: KEY and +KEY ascending, -KEY descending. */
struct sort_key {
        const char *key;
        bool descending;
};

static int cmp_items(const void *a, const void *b, void *arg)
{
        const struct item *x = a, *y = b;
        const struct sort_key *k = arg;
        const char *sort_key = k->key;
        double vx = NAN, vy = NAN;
        bool numeric = false;
        int c = 0;

        if (strcmp(sort_key, "name") == 0)
                c = memcmp(x->p->comm, y->p->comm, MIN(x->p->comm_len, y->p->comm_len) + 1);
        else if (strcmp(sort_key, "rule") == 0)
                c = strcmp(x->p->rule, y->p->rule);
        else if (strcmp(sort_key, "rss") == 0) {
                numeric = true;
                vx = x->latest.t_ms && sample_has(&x->latest, M_RSS) ? (double)x->latest.v[M_RSS] : NAN;
                vy = y->latest.t_ms && sample_has(&y->latest, M_RSS) ? (double)y->latest.v[M_RSS] : NAN;
        } else if (strcmp(sort_key, "memory") == 0) {
                numeric = true;
                vx = memory_of(x);
                vy = memory_of(y);
        } else if (strcmp(sort_key, "growth") == 0) {
                numeric = true;
                vx = x->have_growth ? x->g.growth : NAN;
                vy = y->have_growth ? y->g.growth : NAN;
        } else if (strcmp(sort_key, "state") == 0)
                c = state_rank(x->p->state_memory) - state_rank(y->p->state_memory);
        else if (strcmp(sort_key, "id") == 0)
                c = x->p->id < y->p->id ? -1 : x->p->id > y->p->id;
        else if (strcmp(sort_key, "pid") == 0)
                c = x->p->pid < y->p->pid ? -1 : x->p->pid > y->p->pid;
        /* Unknown values sort last whatever the direction. */
        if (numeric && (isnan(vx) || isnan(vy)))
                c = isnan(vx) - isnan(vy);
        else if (numeric)
                c = k->descending ? -cmp_num(vx, vy) : cmp_num(vx, vy);
        else if (k->descending)
                c = -c;
        if (c == 0)
                c = x->p->pid < y->p->pid ? -1 : x->p->pid > y->p->pid;
        if (c == 0)
                c = x->p->id < y->p->id ? -1 : x->p->id > y->p->id;
        return c;
}

static int cmp_to(const void *a, const void *b)
{
        const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;
        return x->to_ms < y->to_ms ? -1 : x->to_ms > y->to_ms;
}

/* Floors over each item's own window [to - W, to): items sharing a window end (the
 * processes of one tick) are asked in one call. */
static int load_floors(struct cli *c, struct item *items, size_t n, double window_s)
{
        _cleanup_free_ struct item **order = calloc(n ? n : 1, sizeof(*order));
        _cleanup_free_ int64_t *ids = calloc(n ? n : 1, sizeof(*ids));
        _cleanup_free_ double *fl = calloc(n ? n * FLOOR_BUCKETS : 1, sizeof(*fl));
        int64_t w = (int64_t)llround(window_s * 1000);
        size_t k = 0;

        if (!order || !ids || !fl)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                for (int b = 0; b < FLOOR_BUCKETS; b++)
                        items[i].floors[b] = NAN;
                if (items[i].to_ms)
                        order[k++] = &items[i];
        }
        qsort(order, k, sizeof(*order), cmp_to);
        for (size_t i = 0; i < k;) {
                size_t j = i;
                int r;

                while (j < k && order[j]->to_ms == order[i]->to_ms) {
                        ids[j - i] = order[j]->p->id;
                        j++;
                }
                r = query_floors(c->q, ids, j - i, order[i]->to_ms - w, order[i]->to_ms, FLOOR_BUCKETS, fl);
                if (r < 0)
                        return r;
                for (size_t m = i; m < j; m++)
                        memcpy(order[m]->floors, fl + (m - i) * FLOOR_BUCKETS, sizeof(order[m]->floors));
                i = j;
        }
        for (size_t i = 0; i < n; i++)
                items[i].have_growth = trend_growth(items[i].floors, FLOOR_BUCKETS, window_s, &items[i].g) == 0;
        return 0;
}

/* The floors resampled to width w (the lowest of the floors each glyph covers). */
static void sparkline(const struct out *o, const double *floors, unsigned w, char *buf, size_t sz)
{
        double v[FLOOR_BUCKETS];

        w = MIN(w, (unsigned)FLOOR_BUCKETS);
        for (unsigned i = 0; i < w; i++) {
                unsigned a = i * FLOOR_BUCKETS / w, b = (i + 1) * FLOOR_BUCKETS / w;

                v[i] = NAN;
                for (unsigned k = a; k < b; k++)
                        if (!isnan(floors[k]) && (isnan(v[i]) || floors[k] < v[i]))
                                v[i] = floors[k];
        }
        chart_sparkline(v, w, SPARK_MIN_SPAN, o->utf8, buf, sz);
}

static enum out_color state_color(const char *s)
{
        if (strcmp(s, "leaking") == 0)
                return C_RED;
        if (strcmp(s, "suspect") == 0)
                return C_YELLOW;
        return C_NONE;
}

static const char *sample_amount(const struct out *o, const struct sample *s, enum metric m, char *buf, size_t sz)
{
        return out_amount(o, s->t_ms && sample_has(s, m) ? (double)s->v[m] : NAN,
                          metric_info[m].unit == UNIT_BYTES, buf, sz);
}

/* ---- output ---- */

enum { COL_PID, COL_NAME, COL_RULE, COL_RSS, COL_MEM, COL_FDS, COL_GROWTH, COL_STATE, COL_TREND, COL_ENDED };

static int print_human_ps(struct cli *c, struct item *items, size_t n, double window_s, bool top)
{
        static const struct table_col cols[] = {
                [COL_PID] = { "PID", ALIGN_RIGHT, 0, false },
                [COL_NAME] = { "NAME", ALIGN_LEFT, 6, false },
                [COL_RULE] = { "RULE", ALIGN_LEFT, 4, false },
                [COL_RSS] = { "RSS", ALIGN_RIGHT, 0, true },
                [COL_MEM] = { "MEMORY", ALIGN_RIGHT, 0, false },
                [COL_FDS] = { "FDS", ALIGN_RIGHT, 0, true },
                [COL_GROWTH] = { "GROWTH", ALIGN_RIGHT, 0, false },
                [COL_STATE] = { "STATE", ALIGN_LEFT, 0, false },
                [COL_TREND] = { "TREND", ALIGN_LEFT, SPARK_MIN, true },
                [COL_ENDED] = { "ENDED", ALIGN_LEFT, 0, false },
        };
        static const struct table_col top_cols[] = {
                [COL_PID] = { "PID", ALIGN_RIGHT, 0, false },
                [COL_NAME] = { "NAME", ALIGN_LEFT, 6, false },
                [COL_RULE] = { "RULE", ALIGN_LEFT, 4, false },
                [COL_RSS] = { "FROM", ALIGN_RIGHT, 0, true },
                [COL_MEM] = { "TO", ALIGN_RIGHT, 0, false },
                [COL_FDS] = { "GROWTH", ALIGN_RIGHT, 0, false },
                [COL_GROWTH] = { "RATE", ALIGN_RIGHT, 0, false },
                [COL_STATE] = { "STATE", ALIGN_LEFT, 0, false },
                [COL_TREND] = { "TREND", ALIGN_LEFT, SPARK_MIN, true },
                [COL_ENDED] = { "ENDED", ALIGN_LEFT, 0, false },
        };
        const struct out *o = &c->out;
        size_t running = 0;
        struct table t;
        char buf[128], w[32];

        if (table_init(&t, top ? top_cols : cols, ELEMENTSOF(cols)) < 0)
                return cli_error(EXIT_FAIL, "out of memory");
        t.hidden[COL_ENDED] = true;
        for (size_t i = 0; i < n; i++)
                if (items[i].p->end_ms)
                        t.hidden[COL_ENDED] = false;
        for (size_t i = 0; i < n; i++) {
                const struct item *it = &items[i];
                const struct query_process *p = it->p;
                const char *state = p->state_memory[0] ? p->state_memory : "-";
                char fds_state[24];
                int row = table_add_row(&t);

                /* Descriptors leak too: their state shows when it is the graver one. */
                if (state_rank(p->state_fds) > state_rank(p->state_memory)) {
                        snprintf(fds_state, sizeof(fds_state), "fds:%s", p->state_fds);
                        state = fds_state;
                }

                if (row < 0)
                        break;
                running += p->end_ms == 0;
                snprintf(buf, sizeof(buf), "%" PRId32, p->pid);
                table_set(&t, (size_t)row, COL_PID, buf, C_NONE);
                table_set_untrusted(&t, (size_t)row, COL_NAME, p->comm, p->comm_len);
                table_set_untrusted(&t, (size_t)row, COL_RULE, p->rule, strlen(p->rule));
                if (top) {
                        table_set(&t, (size_t)row, COL_RSS, out_amount(o, it->g.first, true, buf, sizeof(buf)), C_NONE);
                        table_set(&t, (size_t)row, COL_MEM, out_amount(o, it->g.last, true, buf, sizeof(buf)), C_NONE);
                        snprintf(w, sizeof(w), "%s%s", it->g.growth > 0 ? "+" : "",
                                 out_amount(o, it->g.growth, true, buf, sizeof(buf)));
                        table_set(&t, (size_t)row, COL_FDS, w, C_NONE);
                } else {
                        table_set(&t, (size_t)row, COL_RSS, sample_amount(o, &it->latest, M_RSS, buf, sizeof(buf)), C_NONE);
                        table_set(&t, (size_t)row, COL_MEM, out_amount(o, memory_of(it), true, buf, sizeof(buf)), C_NONE);
                        table_set(&t, (size_t)row, COL_FDS, sample_amount(o, &it->latest, M_FDS, buf, sizeof(buf)), C_NONE);
                }
                table_set(&t, (size_t)row, COL_GROWTH,
                          out_rate(o, it->have_growth ? it->g.rate : NAN, true, buf, sizeof(buf)), C_NONE);
                table_set(&t, (size_t)row, COL_STATE, state, state_color(state + (state == fds_state ? 4 : 0)));
                table_set(&t, (size_t)row, COL_ENDED,
                          p->end_ms ? out_time(o, p->end_ms, TIME_SHORT, buf, sizeof(buf)) : "running", C_NONE);
                /* The sparkline is drawn once its width is known. */
                table_set(&t, (size_t)row, COL_TREND, "################", C_NONE);
        }
        table_layout(&t, o, c->legend);
        /* A sparkline is a whole number of floors: all 16, or pairs of them as 8; the
         * columns saved go back to the names. */
        if (t.width[COL_TREND] < FLOOR_BUCKETS) {
                for (size_t i = 0; i < t.nrows; i++)
                        table_set(&t, i, COL_TREND, "########", C_NONE);
                table_layout(&t, o, c->legend);
        }
        for (size_t i = 0; i < t.nrows; i++) {
                sparkline(o, items[i].floors, t.width[COL_TREND] < FLOOR_BUCKETS ? SPARK_MIN : FLOOR_BUCKETS, buf,
                          sizeof(buf));
                table_set(&t, i, COL_TREND, buf, C_NONE);
        }
        if (n > 0)
                table_print(&t, o, c->legend);
        table_done(&t);
        if (c->legend) {
                format_duration(window_s, w, sizeof(w));
                if (n > 0)
                        fputc('\n', o->f);
                if (top)
                        fprintf(o->f, "%zu process%s grew most over %s. GROWTH: the rise of the memory floor "
                                      "(anon+swap) from the first to the last eighth of the window.\n", n, n == 1 ? "" : "es",
                                w);
                else
                        fprintf(o->f, "%zu process%s listed, %zu running. GROWTH: the rise of the memory floor "
                                      "(anon+swap) per hour over the last %s; STATE: the detector's latest "
                                      "verdict.\n", n, n == 1 ? "" : "es", running, w);
        }
        return EXIT_OK;
}

static int print_json_ps(struct cli *c, struct item *items, size_t n, double window_s)
{
        struct json_object *arr = json_object_new_array();
        int r = arr ? 0 : -ENOMEM;

        for (size_t i = 0; r == 0 && i < n; i++) {
                struct item *it = &items[i];
                struct json_object *o = obj_process(it->p), *fl = json_object_new_array();

                r = o && fl ? 0 : -ENOMEM;
                if (r == 0)
                        r = obj_add_sample(o, &it->latest);
                for (int b = 0; r == 0 && b < FLOOR_BUCKETS; b++)
                        r = json_object_array_add(fl, json_num(it->floors[b]));
                if (r == 0)
                        r = json_add(o, "window_s", json_num(window_s));
                if (r == 0)
                        r = json_add(o, "floor_first", it->have_growth ? json_num(it->g.first) : NULL);
                if (r == 0)
                        r = json_add(o, "floor_last", it->have_growth ? json_num(it->g.last) : NULL);
                if (r == 0)
                        r = json_add(o, "growth", it->have_growth ? json_num(it->g.growth) : NULL);
                if (r == 0)
                        r = json_add(o, "growth_rate", it->have_growth ? json_num(it->g.rate) : NULL);
                if (r == 0)
                        r = json_add(o, "floors", fl), fl = NULL;
                if (r == 0)
                        r = json_object_array_add(arr, o), o = NULL;
                json_object_put(fl);
                json_object_put(o);
        }
        if (r == 0)
                r = out_json(&c->out, arr, c->json_pretty);
        json_object_put(arr);
        return r < 0 ? cli_error(EXIT_FAIL, "out of memory") : EXIT_OK;
}

static void csv_num(const struct out *o, double v, bool first)
{
        char buf[40];

        format_number(v, buf, sizeof(buf));
        out_csv_field(o, buf, strlen(buf), first);
}

static void csv_sample(const struct out *o, const struct sample *s, enum metric m)
{
        csv_num(o, s->t_ms && sample_has(s, m) ? (double)s->v[m] : NAN, false);
}

static int print_csv_ps(struct cli *c, struct item *items, size_t n, double window_s)
{
        static const char *const header[] = {
                "id", "pid", "name", "rule", "unit", "running", "state", "state_fds", "rss", "anon", "swap", "memory",
                "fds", "floor_first", "floor_last", "growth", "growth_rate", "window_s", "sample_time", "start",
                "end",
        };
        const struct out *o = &c->out;
        char buf[64];

        if (c->legend) {
                for (size_t i = 0; i < ELEMENTSOF(header); i++)
                        out_csv_field(o, header[i], strlen(header[i]), i == 0);
                out_csv_end(o);
        }
        for (size_t i = 0; i < n; i++) {
                const struct item *it = &items[i];
                const struct query_process *p = it->p;

                csv_num(o, (double)p->id, true);
                csv_num(o, p->pid, false);
                out_csv_field(o, p->comm, p->comm_len, false);
                out_csv_field(o, p->rule, strlen(p->rule), false);
                out_csv_field(o, p->unit ? p->unit : "", p->unit ? strlen(p->unit) : 0, false);
                out_csv_field(o, p->end_ms ? "no" : "yes", p->end_ms ? 2 : 3, false);
                out_csv_field(o, p->state_memory, strlen(p->state_memory), false);
                out_csv_field(o, p->state_fds, strlen(p->state_fds), false);
                csv_sample(o, &it->latest, M_RSS);
                csv_sample(o, &it->latest, M_ANON);
                csv_sample(o, &it->latest, M_SWAP);
                csv_num(o, memory_of(it), false);
                csv_sample(o, &it->latest, M_FDS);
                csv_num(o, it->have_growth ? it->g.first : NAN, false);
                csv_num(o, it->have_growth ? it->g.last : NAN, false);
                csv_num(o, it->have_growth ? it->g.growth : NAN, false);
                csv_num(o, it->have_growth ? it->g.rate : NAN, false);
                csv_num(o, window_s, false);
                format_iso8601(it->latest.t_ms, buf, sizeof(buf));
                out_csv_field(o, it->latest.t_ms ? buf : "", it->latest.t_ms ? strlen(buf) : 0, false);
                format_iso8601(p->start_ms, buf, sizeof(buf));
                out_csv_field(o, p->start_ms ? buf : "", p->start_ms ? strlen(buf) : 0, false);
                format_iso8601(p->end_ms, buf, sizeof(buf));
                out_csv_field(o, p->end_ms ? buf : "", p->end_ms ? strlen(buf) : 0, false);
                out_csv_end(o);
        }
        return EXIT_OK;
}

static int print_list(struct cli *c, struct item *items, size_t n, double window_s, bool top)
{
        switch (c->format) {
        case FORMAT_JSON:
                return print_json_ps(c, items, n, window_s);
        case FORMAT_CSV:
                return print_csv_ps(c, items, n, window_s);
        case FORMAT_HUMAN:
                break;
        }
        return print_human_ps(c, items, n, window_s, top);
}

static int check_sort(const char *arg, struct sort_key *ret)
{
        static const char *const keys[] = { "pid", "id", "name", "rule", "rss", "memory", "growth", "state" };
        const char *key = arg + (arg[0] == '-' || arg[0] == '+');

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(key, keys[i]) == 0) {
                        ret->key = keys[i];
                        ret->descending = arg[0] == '-';
                        return 0;
                }
        return cli_error(EXIT_USAGE, "--sort: unknown key '%s' (pid, id, name, rule, rss, memory, growth, state; "
                         "-KEY for descending)", arg);
}

int cmd_ps(struct cli *c, int argc, char **argv)
{
        struct query_filter f = { .by = QUERY_ALL, .live_only = !c->all, .boot_id = c->boot_id };
        double window_s = c->window_s > 0 ? c->window_s : DEFAULT_WINDOW_S;
        _cleanup_free_ int64_t *ids = NULL;
        _cleanup_free_ struct sample *latest = NULL;
        struct list l = { 0 };
        struct sort_key key = { "pid", false };
        int r;

        (void)argv;
        if (argc > 0)
                return cli_error(EXIT_USAGE, "ps takes no arguments (show TARGET looks at one process)");
        if (c->sort && check_sort(c->sort, &key) != 0)
                return EXIT_USAGE;
        r = cli_open_db(c);
        if (r != EXIT_OK)
                return r;
        r = query_processes(c->q, &f, &l.procs, &l.n);
        if (r < 0)
                return cli_query_error(c, r, "listing processes");
        l.items = calloc(l.n ? l.n : 1, sizeof(*l.items));
        ids = calloc(l.n ? l.n : 1, sizeof(*ids));
        latest = calloc(l.n ? l.n : 1, sizeof(*latest));
        if (!l.items || !ids || !latest) {
                list_free(&l);
                return cli_error(EXIT_FAIL, "out of memory");
        }
        for (size_t i = 0; i < l.n; i++)
                ids[i] = l.procs[i].id;
        r = query_latest_samples(c->q, ids, l.n, latest);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                struct item *it = &l.items[i];

                it->p = &l.procs[i];
                it->latest = latest[i];
                /* The window ends at the process's newest sample: on a copied database
                 * or after the daemon stopped, "the last hour" is the last hour it saw. */
                it->to_ms = it->latest.t_ms ? it->latest.t_ms + 1 : 0;
        }
        if (r >= 0)
                r = load_floors(c, l.items, l.n, window_s);
        if (r < 0) {
                list_free(&l);
                return cli_query_error(c, r, "reading samples");
        }
        qsort_r(l.items, l.n, sizeof(*l.items), cmp_items, &key);
        r = print_list(c, l.items, l.n, window_s, false);
        list_free(&l);
        return r;
}

static int cmp_growth(const void *a, const void *b)
{
        const struct item *x = a, *y = b;
        int c = -cmp_num(x->g.growth, y->g.growth);     /* the largest growth first */

        return c ? c : (x->p->id < y->p->id ? -1 : x->p->id > y->p->id);
}

int cmd_top(struct cli *c, int argc, char **argv)
{
        double window_s = c->window_s > 0 ? c->window_s : DEFAULT_WINDOW_S;
        int64_t w = (int64_t)llround(window_s * 1000), to, newest;
        struct query_filter f = { .by = QUERY_ALL, .boot_id = c->boot_id };
        _cleanup_free_ int64_t *ids = NULL;
        _cleanup_free_ double *fl = NULL;
        struct list l = { 0 };
        size_t k = 0, limit = c->limit > 0 ? (size_t)c->limit : DEFAULT_TOP;
        bool moved = false;
        int r;

        (void)argv;
        if (argc > 0)
                return cli_error(EXIT_USAGE, "top takes no arguments");
        r = cli_open_db(c);
        if (r != EXIT_OK)
                return r;
        to = c->until_ms ? c->until_ms : c->now_ms;
        /* Nothing sampled in the window (a copied database, a stopped daemon): look at
         * the last window that has samples, and say so. */
        if (!c->until_ms && query_newest_ms(c->q, &newest) == 0 && newest < to - w) {
                to = newest + 1;
                moved = true;
        }
        f.active_from = to - w;
        f.active_to = to;
        r = query_processes(c->q, &f, &l.procs, &l.n);
        if (r < 0)
                return cli_query_error(c, r, "listing processes");
        l.items = calloc(l.n ? l.n : 1, sizeof(*l.items));
        ids = calloc(l.n ? l.n : 1, sizeof(*ids));
        fl = calloc(l.n ? l.n * FLOOR_BUCKETS : 1, sizeof(*fl));
        if (!l.items || !ids || !fl) {
                list_free(&l);
                return cli_error(EXIT_FAIL, "out of memory");
        }
        for (size_t i = 0; i < l.n; i++)
                ids[i] = l.procs[i].id;
        r = query_floors(c->q, ids, l.n, to - w, to, FLOOR_BUCKETS, fl);
        if (r < 0) {
                list_free(&l);
                return cli_query_error(c, r, "reading samples");
        }
        for (size_t i = 0; i < l.n; i++) {
                struct item *it = &l.items[k];

                *it = (struct item){ .p = &l.procs[i], .to_ms = to };
                memcpy(it->floors, fl + i * FLOOR_BUCKETS, sizeof(it->floors));
                it->have_growth = trend_growth(it->floors, FLOOR_BUCKETS, window_s, &it->g) == 0;
                if (it->have_growth)
                        k++;
        }
        qsort(l.items, k, sizeof(*l.items), cmp_growth);
        if (moved && c->format == FORMAT_HUMAN && c->legend) {
                char d[32], t[64];

                fprintf(c->out.f, "No samples in the last %s; the window ends at the newest sample, %s.\n\n",
                        format_duration(window_s, d, sizeof(d)), out_time(&c->out, newest, TIME_FULL, t, sizeof(t)));
        }
        r = print_list(c, l.items, MIN(k, limit), window_s, true);
        list_free(&l);
        return r;
}
