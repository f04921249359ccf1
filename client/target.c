/* SPDX-License-Identifier: GPL-2.0-or-later */
/* target: what a command is about — a process or a rule — from what was typed. */
#include "target.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A day: what people look at first when something grew overnight. */
#define DEFAULT_RANGE_MS (24 * 3600 * INT64_C(1000))
/* Candidates listed for an ambiguous name; the rest are counted. */
#define MAX_CANDIDATES 50
/* Longest name or unit worth looking up: a unit name is at most 255 bytes, a comm 15. */
#define MAX_TARGET_LEN 256

void target_clear(struct target *t)
{
        query_process_clear(&t->proc);
        query_rule_clear(&t->rule);
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isdigit((unsigned char)*s))
                        return false;
        return true;
}

static void list_candidates(const struct cli *c, const char *arg, const struct query_process *p, size_t n)
{
        static const struct table_col cols[] = {
                { "ID", ALIGN_RIGHT, 0, false }, { "PID", ALIGN_RIGHT, 0, false }, { "NAME", ALIGN_LEFT, 8, false },
                { "RULE", ALIGN_LEFT, 6, false }, { "UNIT", ALIGN_LEFT, 6, false }, { "FIRST SEEN", ALIGN_LEFT, 0, false },
                { "ENDED", ALIGN_LEFT, 0, false },
        };
        _cleanup_free_ char *e = out_escape(arg, strlen(arg));
        struct table t;
        struct out err;

        out_init(&err, stderr, COLOR_NEVER);
        err.utc = c->out.utc;
        cli_error(EXIT_AMBIGUOUS, "'%s' matches %zu processes; choose one by id:N (or by PID):", e ? e : "?", n);
        if (table_init(&t, cols, ELEMENTSOF(cols)) < 0)
                return;
        for (size_t i = 0; i < n && i < MAX_CANDIDATES; i++) {
                char buf[64];
                int r = table_add_row(&t);

                if (r < 0)
                        break;
                snprintf(buf, sizeof(buf), "id:%" PRId64, p[i].id);
                table_set(&t, (size_t)r, 0, buf, C_NONE);
                snprintf(buf, sizeof(buf), "%" PRId32, p[i].pid);
                table_set(&t, (size_t)r, 1, buf, C_NONE);
                table_set_untrusted(&t, (size_t)r, 2, p[i].comm, p[i].comm_len);
                table_set_untrusted(&t, (size_t)r, 3, p[i].rule, strlen(p[i].rule));
                table_set_untrusted(&t, (size_t)r, 4, p[i].unit ? p[i].unit : "-", p[i].unit ? strlen(p[i].unit) : 1);
                table_set(&t, (size_t)r, 5, out_time(&err, p[i].first_ms, TIME_SECONDS, buf, sizeof(buf)), C_NONE);
                table_set(&t, (size_t)r, 6, p[i].end_ms ? out_time(&err, p[i].end_ms, TIME_SECONDS, buf, sizeof(buf))
                                                        : "running", C_NONE);
        }
        table_layout(&t, &err, true);
        table_print(&t, &err, true);
        table_done(&t);
        if (n > MAX_CANDIDATES)
                fprintf(stderr, "... and %zu more\n", n - MAX_CANDIDATES);
}

/* Keeps the elements of p[0..*n) for which keep() holds, if any does; frees the rest. */
static void narrow(struct query_process *p, size_t *n, bool (*keep)(const struct query_process *))
{
        size_t k = 0;

        for (size_t i = 0; i < *n; i++)
                if (keep(&p[i]))
                        k++;
        if (k == 0 || k == *n)
                return;
        k = 0;
        for (size_t i = 0; i < *n; i++) {
                if (keep(&p[i]))
                        p[k++] = p[i];
                else
                        query_process_clear(&p[i]);
        }
        *n = k;
}

static bool is_top_level(const struct query_process *p)
{
        return p->parent_id == 0;
}

static bool is_running(const struct query_process *p)
{
        return p->end_ms == 0;
}

static int resolve_process(struct cli *c, const char *arg, struct query_filter *f, struct target *ret)
{
        struct query_process *p = NULL;
        size_t n = 0, pick = 0;
        int r;

        f->boot_id = c->boot_id;
        r = query_processes(c->q, f, &p, &n);
        if (r < 0)
                return cli_query_error(c, r, "looking up the process");
        if (n == 0) {
                _cleanup_free_ char *e = out_escape(arg, strlen(arg));

                query_processes_free(p, n);
                return cli_error(EXIT_NOTFOUND, "no process %s%s%s in the database (leakwatch ps --all lists "
                                 "them)", e ? e : "?", c->boot_id ? " in boot " : "", c->boot_id ? c->boot_id : "");
        }
        if (f->by == QUERY_PID) {
                /* A PID names one process at a time: the running one, else the latest;
                 * with --all every match counts. */
                if (n > 1 && c->all) {
                        list_candidates(c, arg, p, n);
                        query_processes_free(p, n);
                        return EXIT_AMBIGUOUS;
                }
                pick = n - 1;
                for (size_t i = 0; i < n; i++)
                        if (is_running(&p[i]))
                                pick = i;
                ret->same_pid = n - 1;
        } else if (f->by != QUERY_ID) {
                narrow(p, &n, is_top_level);
                if (!c->all)
                        narrow(p, &n, is_running);
                if (n > 1) {
                        list_candidates(c, arg, p, n);
                        query_processes_free(p, n);
                        return EXIT_AMBIGUOUS;
                }
        }
        ret->kind = TARGET_PROCESS;
        ret->proc = p[pick];
        memset(&p[pick], 0, sizeof(p[pick]));
        query_processes_free(p, n);
        return EXIT_OK;
}

int target_resolve(struct cli *c, const char *arg, struct target *ret)
{
        struct query_filter f = { 0 };
        struct target t = { 0 };
        int64_t num;
        int r;

        if (strlen(arg) > MAX_TARGET_LEN)
                return cli_error(EXIT_USAGE, "target too long (at most %d bytes)", MAX_TARGET_LEN);
        if (strncmp(arg, "rule:", 5) == 0) {
                r = query_rule_by_name(c->q, arg + 5, &t.rule);
                if (r == -ENOENT) {
                        _cleanup_free_ char *e = out_escape(arg + 5, strlen(arg + 5));
                        return cli_error(EXIT_NOTFOUND, "no rule '%s' in the database (leakwatch status lists "
                                         "them)", e ? e : "?");
                }
                if (r < 0)
                        return cli_query_error(c, r, "looking up the rule");
                t.kind = TARGET_RULE;
                *ret = t;
                return EXIT_OK;
        }
        if (strncmp(arg, "id:", 3) == 0 || strncmp(arg, "pid:", 4) == 0) {
                bool id = arg[0] == 'i';

                if (parse_int64(arg + (id ? 3 : 4), 1, INT64_MAX, &num) < 0)
                        return cli_error(EXIT_USAGE, "'%s': expected %s followed by a positive number", arg,
                                         id ? "id:" : "pid:");
                f.by = id ? QUERY_ID : QUERY_PID;
                f.num = num;
        } else if (strncmp(arg, "unit:", 5) == 0) {
                f.by = QUERY_UNIT;
                f.text = arg + 5;
                f.text_len = strlen(arg + 5);
        } else if (strncmp(arg, "name:", 5) == 0) {
                f.by = QUERY_NAME;
                f.text = arg + 5;
                f.text_len = strlen(arg + 5);
        } else if (all_digits(arg)) {
                if (parse_int64(arg, 1, INT32_MAX, &num) < 0)
                        return cli_error(EXIT_USAGE, "'%s' is not a process id", arg);
                f.by = QUERY_PID;
                f.num = num;
        } else {
                f.by = QUERY_NAME;
                f.text = arg;
                f.text_len = strlen(arg);
        }
        r = resolve_process(c, arg, &f, &t);
        if (r != EXIT_OK)
                return r;
        *ret = t;
        return EXIT_OK;
}

int target_default_range(struct cli *c, const struct target *t, int64_t *ret_from, int64_t *ret_to)
{
        int64_t to = c->now_ms, from, newest = 0;     /* the end is exclusive: now is in */
        struct sample latest = { 0 };
        int r;

        if (t->kind == TARGET_PROCESS) {
                r = query_latest_samples(c->q, &t->proc.id, 1, &latest);
                newest = latest.t_ms;
        } else {
                r = query_rule_newest_ms(c->q, t->rule.id, &newest);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r < 0)
                return r;
        /* Up to the newest data: on a copy, or after the daemon stopped, "now" may be
         * long after anything was recorded. */
        if (newest)
                to = MIN(to, newest) + 1;
        else
                to++;
        from = to - DEFAULT_RANGE_MS;
        if (t->kind == TARGET_PROCESS)
                from = MAX(from, t->proc.first_ms);
        cli_range(c, from, to, ret_from, ret_to);
        return 0;
}

int target_series(struct cli *c, const struct target *t, int64_t from_ms, int64_t to_ms, query_row_cb cb,
                  void *userdata)
{
        if (t->kind == TARGET_RULE)
                return query_rule_series(c->q, t->rule.id, from_ms, to_ms, cb, userdata);
        return query_series(c->q, t->proc.id, from_ms, to_ms, cb, userdata);
}

const char *target_title(const struct target *t, char *buf, size_t bufsz)
{
        _cleanup_free_ char *e = NULL;

        if (t->kind == TARGET_RULE) {
                e = out_escape(t->rule.name, strlen(t->rule.name));
                snprintf(buf, bufsz, "rule %s", e ? e : "?");
        } else {
                e = out_escape(t->proc.comm, t->proc.comm_len);
                snprintf(buf, bufsz, "%s (pid %" PRId32 ", id:%" PRId64 ")", e ? e : "?", t->proc.pid, t->proc.id);
        }
        return buf;
}
