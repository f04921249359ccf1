/* SPDX-License-Identifier: GPL-2.0-or-later */
/* verdict: the end of leakwatch run — what the detector made of the command and its
 * children, read back from the database the samples went to (leakwatchd's, or the
 * run's own), told as a verdict, a table per process and metric and a chart of
 * memory, or as one JSON document; and the exit status that verdict maps to.
 *
 * The database is the one source for both ways of running, so a run through the daemon
 * and a run in-process are judged and reported by the same code. */
#ifndef LEAKWATCH_VERDICT_H
#define LEAKWATCH_VERDICT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "cli.h"
#include "query.h"

enum run_outcome {
        RUN_LEAK,                       /* an alert was opened for one of its processes */
        RUN_SUSPECT,                    /* judged long enough; a rise seen, not confirmed */
        RUN_NO_LEAK,                    /* judged long enough; nothing kept growing */
        RUN_TOO_SHORT,                  /* ended before the detector could clear it */
        RUN_NOT_WATCHED,                /* never sampled */
        RUN__MAX
};

/* "leak", "suspect", "no leak", "too short", "not watched" (JSON "verdict"). */
extern const char *const run_outcome_name[RUN__MAX];

/* How long a process must run before the detector, at this window, could have both
 * seen a leak and confirmed it: the warm-up, a window of evidence and the confirmation
 * (1.5 windows with the defaults). Shorter, its silence proves nothing. */
double run_needs_seconds(double window);

/* The verdict, from what was found: watched (its samples are in the database),
 * watch_failed (it could not be watched for a reason other than having ended), an
 * alert, a suspect state at the end, and how long it ran against how long it needed.
 * Pure. */
enum run_outcome run_outcome_of(bool watched, bool watch_failed, bool any_alert, bool any_suspect, double ran_s,
                                double needs_s);

/* The exit status of leakwatch run: EXIT_LEAK for a leak; otherwise the command's, as
 * a shell gives it — its exit code, or 128 + the signal that killed it. Pure. */
int run_exit_status(enum run_outcome o, int wait_status);

/* Which rows of a run's rule belong to the run: the root and, transitively, those
 * watched as children of a row that belongs (ids ascending, as a child's row is always
 * made after its parent's). ret_in[i] tells row i. Pure. */
void run_tree_select(const int64_t *ids, const int64_t *parent_ids, size_t n, int64_t root_id, bool *ret_in);

/* The processes of a run: p[0] is the command itself (the root), then its watched
 * descendants in the order they were seen. */
struct run_tree {
        struct query_process *p;
        size_t n;
};
/* Returns 0, -ENOENT when the root's row is not there (yet), or -errno. */
int run_tree_load(struct query *q, int64_t root_id, struct run_tree *ret);
void run_tree_free(struct run_tree *t);

/* What the run itself knows, beside the database. */
struct run_info {
        char **argv;                    /* the command */
        pid_t pid;
        int wait_status;                /* as waitpid() gave it */
        int64_t start_ms, end_ms;       /* fork and reap, wall clock */
        bool daemon;                    /* sampled by leakwatchd (else in-process) */
        int64_t daemon_pid;
        const char *note;               /* why in-process, or NULL */
        double window, interval;        /* seconds */
        const char *db_path;            /* where the samples are */
        bool db_kept;                   /* it stays after the run (the daemon's, --db-out) */
        int64_t root_id;                /* the command's process row; 0 if never watched */
        const char *watch_error;        /* why it could not be watched, or NULL (it ended
                                         * first, or it was watched) */
};

/* Prints the state changes of the run's processes recorded since *last_verdict_id (and
 * moves it on), one line each on o, with times relative to the run's start. Returns 0
 * or -errno. */
int run_print_events(const struct out *o, struct query *q, const struct run_info *ri, int64_t *last_verdict_id);

/* Judges the run from q (NULL when there is nothing to read: never watched) and prints
 * the report on o, human or JSON as c->format says. Returns 0 and the exit status of
 * leakwatch run, or -errno after saying what failed. */
int run_report(struct cli *c, const struct out *o, struct query *q, const struct run_info *ri, int *ret_status);

#endif
