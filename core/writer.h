/* writer: holds what the daemon has measured until the database takes it — batched
 * into one transaction per flush, kept in a bounded backlog while the disk is full or
 * the database is locked, and written in order when it recovers.
 *
 * Nothing here decides policy: the caller chooses when to flush and what to log; the
 * writer reports what happened (written, pending, dropped) so that it can. */
#ifndef LEAKWATCH_WRITER_H
#define LEAKWATCH_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "sample.h"
#include "store.h"

struct writer;

struct writer_stats {
        uint64_t written;               /* samples committed, since start */
        uint64_t dropped;               /* samples lost to a full backlog, since start */
        uint64_t pending;               /* samples waiting now */
        uint64_t pending_ops;           /* process rows and ends waiting now */
        uint64_t failures;              /* failed flushes, since start */
        uint64_t commits;               /* successful flushes, since start */
        int last_error;                 /* -errno of the last failed flush, 0 after a success */
        uint64_t agent_written;         /* agent reports committed, since start */
        uint64_t agent_dropped;         /* agent reports lost to their full backlog */
};

/* backlog: how many samples may wait; beyond it the oldest are dropped (and counted).
 * Memory grows with what is pending, not with backlog, so a healthy daemon stays small. */
int writer_new(struct store *st, size_t backlog, struct writer **ret);
void writer_free(struct writer *w);

/* Queue a new watched process (strings are copied), its end, a sample, a rule sum.
 * Returns 0 or -ENOMEM; samples never fail (a full backlog drops the oldest). */
int writer_put_process(struct writer *w, const struct store_process *p);
int writer_end_process(struct writer *w, int64_t id, int64_t end_ms, const char *reason);
/* A process watched again (after a reload or an explicit watch): clear its end. */
int writer_reopen_process(struct writer *w, int64_t id, int64_t rule_id, int64_t generation);
int writer_put_sample(struct writer *w, int64_t process_id, const struct sample *smp);
int writer_put_rule_sample(struct writer *w, int64_t rule_id, int64_t generation, unsigned nproc,
                           const struct sample *smp);
int writer_put_event(struct writer *w, int64_t t_ms, const char *kind, const char *detail);
/* Alerts, verdicts and hook runs, copied (strings included). */
int writer_put_alert(struct writer *w, const struct store_alert *a);
int writer_put_verdict(struct writer *w, const struct store_verdict *v);
int writer_put_hook_run(struct writer *w, const struct store_hook_run *h);
int writer_end_alert(struct writer *w, int64_t id, int64_t end_ms, const char *state, const char *reason);

/* An in-process agent's report (copied). Reports wait in their own ring of backlog/10
 * entries (a report is about ten times the size of a sample, so the two backlogs hold
 * about the same memory); when it is full the oldest report is dropped and counted.
 * Returns 0 or -ENOMEM. */
int writer_put_agent_sample(struct writer *w, int64_t process_id, const struct store_agent_sample *a);
/* The class of an alert's kind (alert_kind); agents may be NULL. */
int writer_put_alert_kind(struct writer *w, int64_t alert_id, int64_t t_ms, const char *cls, const char *agents);

/* Writes everything pending in one transaction. On failure nothing is lost: the
 * transaction is rolled back, the queue kept, and the error returned (-ENOSPC, -EIO,
 * -EBUSY, ...) for the caller to log and retry later. */
int writer_flush(struct writer *w);

void writer_get_stats(const struct writer *w, struct writer_stats *ret);

#endif
