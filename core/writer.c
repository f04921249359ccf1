/* writer: holds what the daemon has measured until the database takes it — batched
 * into one transaction per flush, kept in a bounded backlog while the disk is full or
 * the database is locked, and written in order when it recovers. */
#include "writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A queued sample: a process's, or a rule's sum (rule_id != 0). */
struct pending_sample {
        int64_t process_id;
        int64_t rule_id;
        int64_t generation;
        unsigned nproc;
        struct sample s;
};

enum op_kind { OP_PROCESS, OP_REOPEN, OP_END, OP_EVENT, OP_ALERT, OP_VERDICT, OP_HOOK_RUN, OP_END_ALERT,
               OP_ALERT_KIND };

struct pending_agent {
        int64_t process_id;
        struct store_agent_sample a;
};

/* Identity changes and events: few compared with samples, never dropped, because a
 * sample without its process row cannot be interpreted. */
struct pending_op {
        enum op_kind kind;
        struct store_process p;         /* OP_PROCESS; strings owned below */
        char *comm, *cmdline, *unit, *cgroup;
        int64_t id, t_ms;               /* OP_END, OP_EVENT, OP_REOPEN (t_ms: rule id) */
        int64_t generation;             /* OP_REOPEN */
        char *text, *text2;             /* OP_END reason; OP_EVENT kind and detail */
        struct store_alert alert;       /* OP_ALERT */
        struct store_verdict verdict;   /* OP_VERDICT */
        struct store_hook_run run;      /* OP_HOOK_RUN */
        char *str[6];                   /* copies the three above point into */
};

struct writer {
        struct store *st;
        size_t backlog;
        /* Samples: a ring that grows on demand up to backlog entries. */
        struct pending_sample *ring;
        size_t cap, head, count;
        struct pending_op *ops;
        size_t n_ops, cap_ops;
        /* Agent reports: a second ring, like the samples', of at most agent_backlog. */
        struct pending_agent *agents;
        size_t agent_backlog, agent_cap, agent_head, agent_count;
        struct writer_stats stats;
};

int writer_new(struct store *st, size_t backlog, struct writer **ret)
{
        struct writer *w;

        if (backlog == 0)
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->st = st;
        w->backlog = backlog;
        w->agent_backlog = MAX(backlog / 10, (size_t)1);
        *ret = w;
        return 0;
}

static void op_free(struct pending_op *op)
{
        for (size_t i = 0; i < ELEMENTSOF(op->str); i++)
                free(op->str[i]);
        free(op->comm);
        free(op->cmdline);
        free(op->unit);
        free(op->cgroup);
        free(op->text);
        free(op->text2);
}

void writer_free(struct writer *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < w->n_ops; i++)
                op_free(&w->ops[i]);
        free(w->ops);
        free(w->ring);
        free(w->agents);
        free(w);
}

static struct pending_op *op_new(struct writer *w)
{
        if (w->n_ops == w->cap_ops) {
                size_t cap = w->cap_ops ? w->cap_ops * 2 : 64;
                struct pending_op *n = realloc(w->ops, cap * sizeof(*n));

                if (!n)
                        return NULL;
                w->ops = n;
                w->cap_ops = cap;
        }
        memset(&w->ops[w->n_ops], 0, sizeof(w->ops[0]));
        return &w->ops[w->n_ops++];
}

static char *dup_bytes(const char *s, size_t len, bool *oom)
{
        char *d;

        if (!s)
                return NULL;
        d = malloc(len + 1);
        if (!d) {
                *oom = true;
                return NULL;
        }
        memcpy(d, s, len);
        d[len] = '\0';
        return d;
}

int writer_put_process(struct writer *w, const struct store_process *p)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_PROCESS;
        op->p = *p;
        op->comm = dup_bytes(p->comm, p->comm_len, &oom);
        op->cmdline = dup_bytes(p->cmdline, p->cmdline_len, &oom);
        op->unit = dup_bytes(p->unit, p->unit ? strlen(p->unit) : 0, &oom);
        op->cgroup = dup_bytes(p->cgroup, p->cgroup ? strlen(p->cgroup) : 0, &oom);
        if (oom) {
                op_free(op);
                w->n_ops--;
                return -ENOMEM;
        }
        op->p.comm = op->comm;
        op->p.cmdline = op->cmdline;
        op->p.unit = op->unit;
        op->p.cgroup = op->cgroup;
        return 0;
}

int writer_end_process(struct writer *w, int64_t id, int64_t end_ms, const char *reason)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_END;
        op->id = id;
        op->t_ms = end_ms;
        op->text = dup_bytes(reason, strlen(reason), &oom);
        if (oom) {
                w->n_ops--;
                return -ENOMEM;
        }
        return 0;
}

int writer_reopen_process(struct writer *w, int64_t id, int64_t rule_id, int64_t generation)
{
        struct pending_op *op = op_new(w);

        if (!op)
                return -ENOMEM;
        op->kind = OP_REOPEN;
        op->id = id;
        op->t_ms = rule_id;
        op->generation = generation;
        return 0;
}

/* Copies a string field into the op's own storage slot i and points the field at it. */
static void own_str(struct pending_op *op, size_t i, const char **field, bool *oom)
{
        if (*field) {
                op->str[i] = dup_bytes(*field, strlen(*field), oom);
                *field = op->str[i];
        }
}

static int op_done(struct writer *w, struct pending_op *op, bool oom)
{
        if (oom) {
                op_free(op);
                w->n_ops--;
                return -ENOMEM;
        }
        return 0;
}

int writer_put_alert(struct writer *w, const struct store_alert *a)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_ALERT;
        op->alert = *a;
        own_str(op, 0, &op->alert.metric, &oom);
        own_str(op, 1, &op->alert.state, &oom);
        own_str(op, 2, &op->alert.end_reason, &oom);
        own_str(op, 3, &op->alert.limit_kind, &oom);
        own_str(op, 4, &op->alert.reason, &oom);
        own_str(op, 5, &op->alert.kind, &oom);
        return op_done(w, op, oom);
}

int writer_put_verdict(struct writer *w, const struct store_verdict *v)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_VERDICT;
        op->verdict = *v;
        own_str(op, 0, &op->verdict.metric, &oom);
        own_str(op, 1, &op->verdict.state, &oom);
        own_str(op, 2, &op->verdict.previous, &oom);
        own_str(op, 3, &op->verdict.reason, &oom);
        return op_done(w, op, oom);
}

int writer_put_hook_run(struct writer *w, const struct store_hook_run *h)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_HOOK_RUN;
        op->run = *h;
        own_str(op, 0, &op->run.event, &oom);
        own_str(op, 1, &op->run.program, &oom);
        if (h->output) {
                op->str[2] = dup_bytes(h->output, h->output_len, &oom);
                op->run.output = op->str[2];
        }
        return op_done(w, op, oom);
}

int writer_end_alert(struct writer *w, int64_t id, int64_t end_ms, const char *state, const char *reason)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_END_ALERT;
        op->id = id;
        op->t_ms = end_ms;
        op->text = dup_bytes(state, strlen(state), &oom);
        op->text2 = dup_bytes(reason, strlen(reason), &oom);
        return op_done(w, op, oom);
}

int writer_put_event(struct writer *w, int64_t t_ms, const char *kind, const char *detail)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_EVENT;
        op->t_ms = t_ms;
        op->text = dup_bytes(kind, strlen(kind), &oom);
        op->text2 = dup_bytes(detail, detail ? strlen(detail) : 0, &oom);
        if (oom) {
                op_free(op);
                w->n_ops--;
                return -ENOMEM;
        }
        return 0;
}

/* Returns the slot for a new sample, growing the ring (doubling, up to the backlog) or,
 * when it is full, overwriting the oldest sample. */
static struct pending_sample *ring_push(struct writer *w)
{
        if (w->count == w->cap && w->cap < w->backlog) {
                size_t cap = MIN(MAX(w->cap * 2, (size_t)256), w->backlog);
                struct pending_sample *n = malloc(cap * sizeof(*n));

                if (n) {
                        /* Unroll the ring into the new array, oldest first. */
                        for (size_t i = 0; i < w->count; i++)
                                n[i] = w->ring[(w->head + i) % w->cap];
                        free(w->ring);
                        w->ring = n;
                        w->cap = cap;
                        w->head = 0;
                }
        }
        if (w->cap == 0)
                return NULL;
        if (w->count == w->cap) {
                /* Full: the oldest sample goes. Recent data is worth more to a detector
                 * that is about to evaluate, and the drop is counted and reported. */
                w->head = (w->head + 1) % w->cap;
                w->count--;
                w->stats.dropped++;
        }
        return &w->ring[(w->head + w->count++) % w->cap];
}

int writer_put_sample(struct writer *w, int64_t process_id, const struct sample *smp)
{
        struct pending_sample *ps = ring_push(w);

        if (!ps) {
                w->stats.dropped++;
                return -ENOMEM;
        }
        *ps = (struct pending_sample){ .process_id = process_id, .s = *smp };
        return 0;
}

int writer_put_rule_sample(struct writer *w, int64_t rule_id, int64_t generation, unsigned nproc,
                           const struct sample *smp)
{
        struct pending_sample *ps = ring_push(w);

        if (!ps) {
                w->stats.dropped++;
                return -ENOMEM;
        }
        *ps = (struct pending_sample){ .rule_id = rule_id, .generation = generation, .nproc = nproc, .s = *smp };
        return 0;
}

int writer_put_agent_sample(struct writer *w, int64_t process_id, const struct store_agent_sample *a)
{
        struct pending_agent *pa;

        if (w->agent_count == w->agent_cap && w->agent_cap < w->agent_backlog) {
                size_t cap = MIN(MAX(w->agent_cap * 2, (size_t)16), w->agent_backlog);
                struct pending_agent *n = malloc(cap * sizeof(*n));

                if (n) {
                        for (size_t i = 0; i < w->agent_count; i++)
                                n[i] = w->agents[(w->agent_head + i) % w->agent_cap];
                        free(w->agents);
                        w->agents = n;
                        w->agent_cap = cap;
                        w->agent_head = 0;
                }
        }
        if (w->agent_cap == 0) {
                w->stats.agent_dropped++;
                return -ENOMEM;
        }
        if (w->agent_count == w->agent_cap) {
                w->agent_head = (w->agent_head + 1) % w->agent_cap;
                w->agent_count--;
                w->stats.agent_dropped++;
        }
        pa = &w->agents[(w->agent_head + w->agent_count++) % w->agent_cap];
        pa->process_id = process_id;
        pa->a = *a;
        return 0;
}

int writer_put_alert_kind(struct writer *w, int64_t alert_id, int64_t t_ms, const char *cls, const char *agents)
{
        struct pending_op *op = op_new(w);
        bool oom = false;

        if (!op)
                return -ENOMEM;
        op->kind = OP_ALERT_KIND;
        op->id = alert_id;
        op->t_ms = t_ms;
        op->text = dup_bytes(cls, strlen(cls), &oom);
        op->text2 = dup_bytes(agents, agents ? strlen(agents) : 0, &oom);
        return op_done(w, op, oom);
}

int writer_flush(struct writer *w)
{
        int r;

        if (w->count == 0 && w->n_ops == 0 && w->agent_count == 0)
                return 0;
        r = store_begin(w->st);
        /* Process rows first, then samples, then ends: the order a reader expects. */
        for (size_t i = 0; r >= 0 && i < w->n_ops; i++)
                if (w->ops[i].kind == OP_PROCESS)
                        r = store_put_process(w->st, &w->ops[i].p);
                else if (w->ops[i].kind == OP_REOPEN)
                        r = store_reopen_process(w->st, w->ops[i].id, w->ops[i].t_ms, w->ops[i].generation);
        for (size_t i = 0; r >= 0 && i < w->count; i++) {
                const struct pending_sample *ps = &w->ring[(w->head + i) % w->cap];

                if (ps->rule_id)
                        r = store_put_rule_sample(w->st, ps->rule_id, ps->generation, ps->nproc, &ps->s);
                else
                        r = store_put_sample(w->st, ps->process_id, &ps->s);
        }
        for (size_t i = 0; r >= 0 && i < w->agent_count; i++) {
                const struct pending_agent *pa = &w->agents[(w->agent_head + i) % w->agent_cap];

                r = store_put_agent_sample(w->st, pa->process_id, &pa->a);
        }
        for (size_t i = 0; r >= 0 && i < w->n_ops; i++) {
                if (w->ops[i].kind == OP_END)
                        r = store_end_process(w->st, w->ops[i].id, w->ops[i].t_ms, w->ops[i].text);
                else if (w->ops[i].kind == OP_EVENT)
                        r = store_put_event(w->st, w->ops[i].t_ms, w->ops[i].text, w->ops[i].text2);
                else if (w->ops[i].kind == OP_ALERT)
                        r = store_put_alert(w->st, &w->ops[i].alert);
                else if (w->ops[i].kind == OP_VERDICT)
                        r = store_put_verdict(w->st, &w->ops[i].verdict);
                else if (w->ops[i].kind == OP_HOOK_RUN)
                        r = store_put_hook_run(w->st, &w->ops[i].run);
                else if (w->ops[i].kind == OP_END_ALERT)
                        r = store_end_alert(w->st, w->ops[i].id, w->ops[i].t_ms, w->ops[i].text, w->ops[i].text2);
                else if (w->ops[i].kind == OP_ALERT_KIND)
                        r = store_put_alert_kind(w->st, w->ops[i].id, w->ops[i].t_ms, w->ops[i].text,
                                                 w->ops[i].text2);
        }
        if (r >= 0)
                r = store_commit(w->st);
        if (r < 0) {
                store_rollback(w->st);
                w->stats.failures++;
                w->stats.last_error = r;
                return r;
        }
        w->stats.written += w->count;
        w->stats.agent_written += w->agent_count;
        w->stats.commits++;
        w->stats.last_error = 0;
        w->count = 0;
        w->head = 0;
        w->agent_count = 0;
        w->agent_head = 0;
        for (size_t i = 0; i < w->n_ops; i++)
                op_free(&w->ops[i]);
        w->n_ops = 0;
        return 0;
}

void writer_get_stats(const struct writer *w, struct writer_stats *ret)
{
        *ret = w->stats;
        ret->pending = w->count;
        ret->pending_ops = w->n_ops;
}
