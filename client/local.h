/* local: a private leakwatchd inside the client, for leakwatch run when the daemon is
 * not there to ask — the daemon's own sampler, detector engine and writer, on a
 * database of its own, with the built-in "run" rule (children included) and the run's
 * window and interval. No event loop, control socket or hooks: the caller drives it
 * tick by tick, so the same code samples and judges as in the daemon.
 *
 * Only the process given to local_watch() and its descendants are watched. */
#ifndef LEAKWATCH_LOCAL_H
#define LEAKWATCH_LOCAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

struct local;

struct local_opts {
        const char *db_path;            /* created; an existing file is refused */
        double window;                  /* seconds: the detector's time scale */
        double interval;                /* seconds between samples */
        const char *agent_dir;          /* where to listen for agents (agent.sock in it);
                                         * NULL: no agents */
};

/* Opens /proc and the database and wires the modules. Returns 0, or -errno with the
 * reason in words in err (-EEXIST: the database file exists). */
int local_new(const struct local_opts *o, struct local **ret, char *err, size_t errsz);
/* Frees everything; the database file stays (the caller removes a temporary one). */
void local_free(struct local *l);

/* The agents' socket into buf. Returns 0, or why there is none: the -errno of
 * agent_new() (the run goes on without agents), -ENOENT when none was asked for. */
int local_agent_socket(const struct local *l, char *buf, size_t bufsz);

/* Watches pid and, from the next scan on, its descendants. Returns 0 and its process
 * row's id, or -errno as sampler_watch_pid() (-ENOENT: it is gone). */
int local_watch(struct local *l, pid_t pid, int64_t *ret_id);

/* The monotonic time the next tick is due. */
usec_t local_next_tick(const struct local *l);
/* Does the tick due at mono: takes the agents' waiting reports, looks for new
 * descendants when due, samples every watched process (feeding the detectors), and
 * commits when due. Returns 0, or the -errno of a
 * failed commit (the samples stay queued for the next; a full backlog drops the oldest). */
int local_tick(struct local *l, usec_t mono);

/* Stops watching what still runs (recorded as "unwatched") and writes everything.
 * Returns 0 or -errno of the final commit, with the reason in err. */
int local_finish(struct local *l, char *err, size_t errsz);

#endif
