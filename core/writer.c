/* SPDX-License-Identifier: GPL-2.0-or-later */
/* writer: holds what a watch has measured and decided until the database takes it —
 * batched into one transaction per flush, kept in a bounded backlog while the disk is
 * full or the database is locked, and written in order when it recovers. */
#include "writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A ring of fixed-size items that grows on demand (doubling from `first`) up to `max`
 * and then overwrites its oldest item. */
struct ring {
        char *items;
        size_t size;                    /* of one item */
        size_t first, max;
        size_t cap, head, count;
};

/* A queued agent report: the row points at the report, kept by value beside it. */
struct pending_agent {
        int64_t process_id;
        struct agent_report report;
};

/* A queued row that is never dropped; its strings live in blob. */
struct pending_op {
        struct store_row row;
        void *blob;
};

struct writer {
        struct store *st;
        struct ring samples;            /* struct store_row: STORE_SAMPLE, STORE_RULE_SAMPLE */
        struct ring agents;             /* struct pending_agent */
        struct pending_op *ops;
        size_t n_ops, cap_ops;
        struct writer_stats stats;
};

/* ---- the rings ---- */

static void *ring_at(const struct ring *r, size_t i)
{
        return r->items + ((r->head + i) % r->cap) * r->size;
}

/* The slot for a new item: the ring grows while it may, then the oldest item makes way
 * (*ret_dropped set). NULL only if no ring could be allocated at all. */
static void *ring_push(struct ring *r, bool *ret_dropped)
{
        *ret_dropped = false;
        if (r->count == r->cap && r->cap < r->max) {
                size_t cap = MIN(MAX(r->cap * 2, r->first), r->max);
                char *n = malloc(cap * r->size);

                if (n) {
                        /* Unroll the ring into the new array, oldest first. */
                        for (size_t i = 0; i < r->count; i++)
                                memcpy(n + i * r->size, ring_at(r, i), r->size);
                        free(r->items);
                        r->items = n;
                        r->cap = cap;
                        r->head = 0;
                }
        }
        if (r->cap == 0)
                return NULL;
        if (r->count == r->cap) {
                r->head = (r->head + 1) % r->cap;
                r->count--;
                *ret_dropped = true;
        }
        return ring_at(r, r->count++);
}

static void ring_clear(struct ring *r)
{
        r->head = r->count = 0;
}

/* ---- life ---- */

int writer_new(struct store *st, size_t backlog, struct writer **ret)
{
        struct writer *w;

        if (backlog == 0)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->st = st;
        /* Rings start small: a healthy watch flushes every commit-interval. */
        w->samples = (struct ring){ .size = sizeof(struct store_row), .first = 256, .max = backlog };
        w->agents = (struct ring){ .size = sizeof(struct pending_agent), .first = 16,
                                   .max = MAX(backlog / 10, (size_t)1) };
        *ret = w;
        return 0;
}

static void ops_clear(struct writer *w)
{
        for (size_t i = 0; i < w->n_ops; i++)
                free(w->ops[i].blob);
        w->n_ops = 0;
}

void writer_free(struct writer *w)
{
        if (!w)
                return;
        ops_clear(w);
        free(w->ops);
        free(w->samples.items);
        free(w->agents.items);
        free(w);
}

/* ---- the put path ---- */

static int put_sample(struct writer *w, const struct store_row *row)
{
        bool dropped;
        struct store_row *slot = ring_push(&w->samples, &dropped);

        if (dropped || !slot)
                w->stats.dropped++;
        if (!slot)
                return -ENOMEM;
        *slot = *row;
        return 0;
}

static int put_agent(struct writer *w, const struct store_row *row)
{
        bool dropped;
        struct pending_agent *slot = ring_push(&w->agents, &dropped);

        if (dropped || !slot)
                w->stats.agent_dropped++;
        if (!slot)
                return -ENOMEM;
        slot->process_id = row->agent.process_id;
        slot->report = *row->agent.report;
        return 0;
}

static int put_op(struct writer *w, const struct store_row *row)
{
        struct pending_op *op;
        int r;

        if (w->n_ops == w->cap_ops) {
                size_t cap = w->cap_ops ? w->cap_ops * 2 : 64;
                struct pending_op *n = reallocarray(w->ops, cap, sizeof(*n));

                if (!n)
                        return -ENOMEM;
                w->ops = n;
                w->cap_ops = cap;
        }
        op = &w->ops[w->n_ops];
        r = store_row_copy(row, &op->row, &op->blob);
        if (r < 0)
                return r;
        w->n_ops++;
        return 0;
}

int writer_put(struct writer *w, const struct store_row *row)
{
        switch (row->kind) {
        case STORE_SAMPLE:
        case STORE_RULE_SAMPLE:
                return put_sample(w, row);
        case STORE_AGENT_SAMPLE:
                return row->agent.report ? put_agent(w, row) : -EINVAL;
        default:
                return row->kind < STORE__ROW_MAX ? put_op(w, row) : -EINVAL;
        }
}

/* ---- flushing ---- */

/* Rows that make a process known (or known again) go before its samples. */
static bool is_identity(const struct store_row *row)
{
        return row->kind == STORE_PROCESS || row->kind == STORE_PROCESS_REOPEN;
}

int writer_flush(struct writer *w)
{
        int r;

        if (w->samples.count == 0 && w->n_ops == 0 && w->agents.count == 0)
                return 0;
        r = store_begin(w->st);
        for (size_t i = 0; r >= 0 && i < w->n_ops; i++)
                if (is_identity(&w->ops[i].row))
                        r = store_put(w->st, &w->ops[i].row);
        for (size_t i = 0; r >= 0 && i < w->samples.count; i++)
                r = store_put(w->st, ring_at(&w->samples, i));
        for (size_t i = 0; r >= 0 && i < w->agents.count; i++) {
                const struct pending_agent *pa = ring_at(&w->agents, i);
                struct store_row row = { .kind = STORE_AGENT_SAMPLE,
                                         .agent = { .process_id = pa->process_id, .report = &pa->report } };

                r = store_put(w->st, &row);
        }
        for (size_t i = 0; r >= 0 && i < w->n_ops; i++)
                if (!is_identity(&w->ops[i].row))
                        r = store_put(w->st, &w->ops[i].row);
        if (r >= 0)
                r = store_commit(w->st);
        if (r < 0) {
                store_rollback(w->st);
                w->stats.failures++;
                w->stats.last_error = r;
                return r;
        }
        w->stats.written += w->samples.count;
        w->stats.agent_written += w->agents.count;
        w->stats.commits++;
        w->stats.last_error = 0;
        ring_clear(&w->samples);
        ring_clear(&w->agents);
        ops_clear(w);
        return 0;
}

void writer_get_stats(const struct writer *w, struct writer_stats *ret)
{
        *ret = w->stats;
        ret->pending = w->samples.count;
        ret->pending_ops = w->n_ops;
}
