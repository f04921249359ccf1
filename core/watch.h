/* SPDX-License-Identifier: GPL-2.0-or-later */
/* watch: one watch of processes — the loop leakwatchd and `leakwatch run` both run.
 *
 * It opens the proc root, the cgroup hierarchy and the database, records the rules,
 * and wires the sampler, the engine, the writer and the agent receiver. Each tick it
 * reads the agents' waiting reports (when it turns their loop itself), looks for new
 * processes when a scan is due, samples every watched process (the engine judges each
 * sample as it comes), commits when a commit is due, and then folds the recent samples
 * and prunes old rows when those are due — holding that housekeeping back while the
 * database refuses writes, so a full disk is not made fuller, and offering the backlog
 * again at most once a second meanwhile. Before each commit the database's files are
 * checked and repaired if someone deleted or replaced them (store_check()). The next tick keeps to a
 * grid of the interval (core/pace.h).
 *
 * Everything the engine concludes is recorded (verdict and alert rows, the kind of
 * leak) and then handed to the program's sink (watch_set_sink): leakwatchd logs it and
 * runs hooks, `leakwatch run` reads it back from the database. The watch logs nothing:
 * each tick's report says what happened, and the program decides what to tell.
 *
 * Timestamps are wall-clock milliseconds anchored once, at watch_new(), and advanced by
 * the monotonic clock, so a clock step (NTP, a manual date) neither reorders nor
 * duplicates a process's samples. */
#ifndef LEAKWATCH_WATCH_H
#define LEAKWATCH_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "engine.h"
#include "pace.h"
#include "sampler.h"
#include "settings.h"
#include "store.h"
#include "util.h"
#include "writer.h"

struct watch;

struct watch_env {
        /* Kept: it must outlive the watch or the next watch_reconfigure(). Its db_path,
         * proc_root and cgroup_root are read once, here. */
        const struct config *cfg;
        pid_t self;                     /* never watched, nor its descendants; -1: none */
        uint64_t max_watch;             /* descriptors leave room for this many processes
                                         * (PROC_FILES_FDS each, PROCREAD_PASS_FDS with a
                                         * BPF pass); 0: no limit but max-processes */
        bool new_database;              /* refuse an existing file (-EEXIST) */
        /* The BPF pass the tick reads the counters from (bpfread.h), loaded by the
         * program; it must outlive the watch. NULL: /proc only. */
        struct bpfread *bpf;
        /* What the rules' rows say they select (`leakwatch status`); NULL: each rule's
         * selectors in words. */
        const char *rule_spec;
        /* The agents' socket goes in agent_dir (agent.sock); NULL: no agents. Their
         * datagrams are read in event, or, if it is NULL, in a loop of the watch's own
         * turned at the start of each tick. */
        const char *agent_dir;
        sd_event *event;
        /* Told, in words and with a syslog priority, of what does not stop the watch but
         * changes what it can do: no cgroup hierarchy (forecasts against the host only),
         * no boot time, no size cap, a proc root that hides processes, a damaged
         * database set aside at the start; and, at LOG_DEBUG, a fold about to begin.
         * May be NULL. */
        void (*notice)(void *userdata, int prio, const char *msg);
        void *userdata;
};

/* Opens and wires everything. Returns 0, or -errno with the reason in words in err
 * (-EEXIST: the database file exists and new_database was asked). Agents failing to
 * listen do not fail the watch (watch_agent_error()). */
int watch_new(const struct watch_env *env, struct watch **ret, char *err, size_t errsz);
/* Frees everything without writing: call watch_flush() first for what is pending. The
 * database is not touched (the processes continue after a restart). Accepts NULL. */
void watch_free(struct watch *w);

/* Who is told the engine's conclusions once they are recorded. */
void watch_set_sink(struct watch *w, const struct engine_sink *sink);

/* Takes over what the previous run of this database left: processes still running
 * (same identity) continue their series, the others end at their last sample, and
 * alerts whose process came back are its again, the others expire. Returns 0 or the
 * -errno of the store (the reason in store_errmsg()). */
int watch_resume(struct watch *w, usec_t mono);

/* ---- the loop ---- */

/* What one tick (or one commit) did, for the program to report as it sees fit. */
struct watch_report {
        usec_t cost;                    /* the whole tick */
        usec_t work;                    /* of it, sampling (the cost without housekeeping) */
        enum pace pace;                 /* PACE_OVERRUN: sampling outlasted the interval */
        int scan_error;                 /* -errno of a failed scan of the proc root, or 0 */
        /* The database's files, checked before each commit (store_check()). */
        enum store_fault fault;         /* what was found wrong; STORE_FAULT_NONE: nothing */
        bool fault_first;               /* ...first found now: a repair begins */
        int repair_error;               /* -errno: not repaired yet, tried again at the next
                                         * commit (store_errmsg() says why); 0 */
        const char *repaired;           /* repaired now: what was done, in words (recorded
                                         * as a "repaired" event); NULL otherwise. Valid
                                         * until the next call. */
        bool committed;                 /* a commit was due (or asked) and tried */
        int commit_error;               /* its -errno: the rows stay queued, or 0 */
        bool recovered;                 /* this commit succeeded after failed ones */
        uint64_t dropped;               /* samples dropped while the database failed (set
                                         * with recovered; a "dropped" event records them) */
        bool folded;                    /* a fold was due and tried */
        int fold_error;
        int64_t folded_rows;
        bool maintained;                /* a retention pass was due and tried */
        int maintain_error;
        int64_t pruned_rows;
        usec_t housekeeping;            /* what the fold and the retention pass took */
};

/* What the ticks have cost since the watch began: the thread's CPU time in each part
 * of them, ns. `read` is the sampler's tick without the engine's calls in it (so it holds
 * parsing and queueing the samples for the writer); `detect` those calls (a sixteenth of
 * the per-sample calls timed, times sixteen); `store` the commits; `fold` the folds and
 * retention passes. Each fold's debug notice says them per sample. */
struct watch_cost {
        uint64_t scan_ns, read_ns, detect_ns, store_ns, fold_ns;
        uint64_t samples, ticks;
};
const struct watch_cost *watch_cost(const struct watch *w);

/* When the next tick is due (monotonic). */
usec_t watch_next_tick(const struct watch *w);
/* Runs the tick due at mono; ret may be NULL. */
void watch_tick(struct watch *w, usec_t mono, struct watch_report *ret);
/* Commits what is pending now, and the next commit a commit-interval later. */
void watch_flush(struct watch *w, usec_t mono, struct watch_report *ret);
/* Writes what is pending now, in the middle of a tick too, for a reader of the database
 * that needs the newest rows (an evidence bundle reads the process's samples and its
 * agents' reports): one transaction, as a commit does, but neither the database's
 * check nor the commit schedule, which stay the tick's. Not tried while the database
 * refuses writes. Returns 0, -EAGAIN (it refuses: the tick's commit retries), or the
 * failed flush's -errno (the rows stay queued, and the next commit tries and tells). */
int watch_write_pending(struct watch *w);
/* The next tick is due now (a process was just watched: its first sample at once). */
void watch_wake(struct watch *w, usec_t mono);
/* Whether the last commit failed (the database refuses writes). */
bool watch_db_failing(const struct watch *w);

/* ---- changes ---- */

/* Switches to a new configuration: rules recorded, the sampler and the engine
 * reconfigured, the agents' rate and the database's size cap changed, and a scan at the
 * next tick. Returns 0, or -errno with the reason in err (the old configuration then
 * stays in force). */
int watch_reconfigure(struct watch *w, const struct config *cfg, char *err, size_t errsz);

/* Watches pid under the rule of that name, judged on its own window if window > 0 (and
 * on the default longer scales too if longer); its children are looked for at the next
 * tick. Returns 0 and its row's id, or -errno as sampler_watch_pid() (-ENOENT: no such
 * process or rule, -EEXIST: watched already, -EPERM: the watch itself or its
 * descendant, -E2BIG: max-processes). */
int watch_pid(struct watch *w, pid_t pid, const char *rule, double window, bool longer, int64_t *ret_id);
/* Asks the agents of watched process pid for its allocation sites for the next
 * seconds (from monotonic time mono), whatever the engine thinks of it; asked again,
 * the time starts over. Returns 0, -ENOENT (not watched), or -EOPNOTSUPP / the -errno
 * of the trace directory (no agents, or no requests possible). */
int watch_trace(struct watch *w, pid_t pid, double seconds, usec_t mono);

/* Stops watching pid (recorded as "unwatched"). Returns 0 or -ENOENT. */
int watch_unwatch(struct watch *w, pid_t pid);
/* Stops watching every process (`leakwatch run` lets go of what outlived its command).
 * Returns 0 or -ENOMEM (some are then still watched). */
int watch_unwatch_all(struct watch *w);
/* Records something the program wants remembered: "start", "stop", "reload". */
void watch_event(struct watch *w, const char *kind, const char *detail);

/* ---- what it holds ---- */

/* Wall-clock ms since the epoch at monotonic time mono, on the watch's anchor. */
int64_t watch_wall_ms(const struct watch *w, usec_t mono);
/* The agents' socket path, or why there is none: 0, or the -errno agent_new() gave
 * (-ENOENT: none was asked for). */
int watch_agent_socket(const struct watch *w, const char **ret_path);

const struct config *watch_config(const struct watch *w);
struct store *watch_store(struct watch *w);
struct writer *watch_writer(struct watch *w);
const struct sampler *watch_sampler(const struct watch *w);
const struct engine *watch_engine(const struct watch *w);
const struct agent *watch_agent(const struct watch *w);        /* NULL: no agents */
const char *watch_boot_id(const struct watch *w);

#endif
