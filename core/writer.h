/* SPDX-License-Identifier: GPL-2.0-or-later */
/* writer: holds what a watch has measured and decided until the database takes it —
 * batched into one transaction per flush, kept in a bounded backlog while the disk is
 * full or the database is locked, and written in order when it recovers.
 *
 * Every database write of a watch goes through writer_put(), as a row (store.h); the
 * writer copies it and queues it by what losing it would cost:
 *   - samples and rule sums wait in a ring of at most `backlog`; when it is full the
 *     oldest goes (and is counted): recent data is worth more to a detector about to
 *     evaluate;
 *   - agent reports wait in a ring of their own, of backlog/10 (a report is about ten
 *     times the size of a sample, so the two hold about the same memory);
 *   - everything else (process rows and ends, events, verdicts, alerts, hook runs) is
 *     never dropped, because a sample without its process row cannot be interpreted.
 * A flush writes process rows first, then samples and reports, then the rest, in the
 * order they were put: the order a reader expects.
 *
 * Nothing here decides policy: the caller chooses when to flush and what to log; the
 * writer reports what happened (written, pending, dropped) so that it can. */
#ifndef LEAKWATCH_WRITER_H
#define LEAKWATCH_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct writer;

struct writer_stats {
        uint64_t written;               /* samples committed, since start */
        uint64_t dropped;               /* samples lost to a full backlog, since start */
        uint64_t pending;               /* samples waiting now */
        uint64_t pending_ops;           /* other rows waiting now */
        uint64_t failures;              /* failed flushes, since start */
        uint64_t commits;               /* successful flushes, since start */
        int last_error;                 /* -errno of the last failed flush, 0 after a success */
        uint64_t agent_written;         /* agent reports committed, since start */
        uint64_t agent_dropped;         /* agent reports lost to their full backlog */
};

/* backlog: how many samples may wait. Memory grows with what is pending, not with
 * backlog, so a healthy watch stays small. */
int writer_new(struct store *st, size_t backlog, struct writer **ret);
void writer_free(struct writer *w);

/* Queues a copy of row (its strings and agent report included). Returns 0 or -ENOMEM.
 * A sample or a report finds room by pushing out the oldest, so it fails only when no
 * ring could be allocated at all; either way a lost one is counted as dropped. */
int writer_put(struct writer *w, const struct store_row *row);

/* Writes everything pending in one transaction. On failure nothing is lost: the
 * transaction is rolled back, the queue kept, and the error returned (-ENOSPC, -EIO,
 * -EBUSY, ...) for the caller to log and retry later. */
int writer_flush(struct writer *w);

void writer_get_stats(const struct writer *w, struct writer_stats *ret);

#endif
