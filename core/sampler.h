/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sampler: finds the processes the rules ask for and measures them every tick, handing
 * samples to the writer and to whoever listens (the detector engine).
 *
 * Two passes with their own periods:
 *   scan  — list the proc root, classify new PIDs against the rules (and as children of
 *           watched processes), notice exec (a changed name) and processes that grew past
 *           a rule's min-rss (an unwatched process is re-read every 10 s at most), and
 *           forget PIDs that are gone;
 *   tick  — read every watched process once through the backend (core/procread.h:
 *           stat, status, descriptors, or the tick's BPF pass for all three; smaps
 *           within their budget), add each sample to its rule's sum, and tell the
 *           listeners. With a BPF pass the scan lists the pass instead of the proc root
 *           and reads each process's stat from it.
 *
 * A process is (boot id, PID, start time): the backend proves the identity on its own
 * descriptors, so a reused PID can never continue another process's series. The watch
 * itself and its descendants (hooks) are never watched. Nothing here sleeps, logs, or
 * decides what is fatal; the program does. */
#ifndef LEAKWATCH_SAMPLER_H
#define LEAKWATCH_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpfread.h"
#include "settings.h"
#include "sample.h"
#include "store.h"
#include "util.h"
#include "writer.h"

struct sampler;

/* What main wires in. */
struct sampler_env {
        int proc_root;                  /* fd of the proc root ("/proc" or a fixture) */
        const char *boot_id;
        int64_t btime_ms;               /* boot time, ms since the epoch (start times) */
        long hz;                        /* clock ticks per second (start times) */
        pid_t self;                     /* never watched, nor its descendants */
        struct store *store;            /* reads only: finding a known process's id */
        struct writer *writer;          /* every database write goes through it */
        uint64_t max_watch;             /* descriptors allow this many watched processes
                                         * (PROC_FILES_FDS each; none with a pass,
                                         * PROCREAD_PASS_FDS); 0: no limit but
                                         * max-processes */
        struct bpfread *bpf;            /* the BPF pass the tick reads counters from (it
                                         * outlives the sampler); NULL: /proc only */
        usec_t (*cpu_clock)(void);      /* CPU time smaps reads are charged in; NULL: this
                                         * thread's (CLOCK_THREAD_CPUTIME_ID). For tests. */
};

/* A watched process, as listeners see it. */
struct sampler_proc {
        int64_t id;                     /* process row id */
        size_t slot;                    /* stable while watched: listeners may index by it */
        pid_t pid;
        uint64_t start_ticks;
        int64_t start_ms;
        const char *comm;
        const char *cmdline;
        const char *unit;               /* "" if none */
        const char *cgroup;             /* "" if unknown */
        const char *cgroup_v1;          /* the v1 memory hierarchy's cgroup that charges it
                                         * (/proc/PID/cgroup's memory line), as read when
                                         * it was first watched, like cgroup; NULL: not
                                         * charged on a v1 hierarchy, or unknown */
        uid_t uid;
        size_t rule;                    /* index into the configuration's rules */
        int64_t rule_id;
        int64_t generation;
        int64_t parent_id;              /* watched ancestor when watched as a child, or 0 */
        bool is_new;                    /* first seen now: the database holds no history */
        bool has_nofile;                /* the latest tick's BPF pass gave nofile */
        uint64_t nofile;                /* then: RLIMIT_NOFILE's soft limit, UINT64_MAX if
                                         * unlimited (otherwise /proc/PID/limits says it) */
};

/* Listeners: called synchronously from scan/tick; they must not block. */
struct sampler_listener {
        void (*started)(void *userdata, const struct sampler_proc *p, bool resumed, int64_t now_ms);
        void (*sampled)(void *userdata, const struct sampler_proc *p, const struct sample *smp);
        void (*ended)(void *userdata, const struct sampler_proc *p, int64_t end_ms, const char *reason);
        /* Whether the process deserves a closer look (the detector suspects it): its
         * smaps are then read every smaps-min-interval instead of smaps-max-interval.
         * May be NULL. */
        bool (*attention)(void *userdata, const struct sampler_proc *p);
        void *userdata;
};

struct sampler_stats {
        unsigned watched;               /* now */
        unsigned known;                 /* PIDs seen at the last scan */
        uint64_t ticks, scans;
        uint64_t samples;               /* process samples taken */
        uint64_t started, ended;        /* processes, since start */
        uint64_t rollups, rollups_skipped;      /* smaps_rollup reads, and reads deferred */
        uint64_t rollups_over_budget;   /* of those deferred: due, but smaps-budget was spent */
        uint64_t capped;                /* matches not watched: max-processes reached */
        uint64_t read_errors;           /* unexpected /proc errors */
        uint64_t pass_errors;           /* BPF passes that failed: the tick read /proc */
        bool bpf;                       /* the backend: a BPF pass each tick, or /proc only */
};

/* rule_ids[i] is the database id of cfg->rules[i]; generations[i] its last generation. */
int sampler_new(const struct sampler_env *env, const struct config *cfg, const int64_t *rule_ids,
                const int64_t *generations, const struct sampler_listener *listener, struct sampler **ret);
/* Closes every descriptor; the database is not touched (processes continue after a
 * restart). */
void sampler_free(struct sampler *s);

/* Takes over the processes an earlier run was watching: those still running (same
 * identity) continue their series; the others are ended at their last sample. */
int sampler_resume(struct sampler *s, int64_t now_ms);

/* Switches to a new configuration: processes whose rule (by name) is gone stop being
 * watched; everything else is classified again at the next scan. cfg must outlive s or
 * the next reconfigure. */
int sampler_reconfigure(struct sampler *s, const struct config *cfg, const int64_t *rule_ids,
                        const int64_t *generations, int64_t now_ms);

int sampler_scan(struct sampler *s, usec_t mono_now, int64_t now_ms);
/* Reads every watched process once. A tick counter drives smaps-every. */
int sampler_tick(struct sampler *s, usec_t mono_now, int64_t now_ms);

/* Watches one PID now under the rule of that name (the control socket's "watch"), or
 * stops watching it. Returns 0, -ENOENT (no such process/rule), -EEXIST (already), -EPERM
 * (the daemon or its child), -E2BIG (max-processes). */
int sampler_watch_pid(struct sampler *s, pid_t pid, const char *rule, int64_t now_ms, size_t *ret_slot,
                      int64_t *ret_id);
int sampler_unwatch_pid(struct sampler *s, pid_t pid, int64_t now_ms);

/* Calls fn for each watched process (status, control socket). */
void sampler_for_each(const struct sampler *s, void (*fn)(void *userdata, const struct sampler_proc *p,
                                                           const struct sample *last), void *userdata);

/* Writes the row of every watched process again, as first recorded: after a damaged
 * database was replaced by what could be read of it, so that what is written from here
 * on has its rows (one that is still there is left as it is). */
void sampler_put_processes(struct sampler *s, int64_t now_ms);
void sampler_get_stats(const struct sampler *s, struct sampler_stats *ret);

#endif
