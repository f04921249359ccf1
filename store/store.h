/* SPDX-License-Identifier: GPL-2.0-or-later */
/* store: the only owner of SQLite — schema and migrations, the daemon's batched writes,
 * retention (rollups and pruning), and the reads the watch needs (a known process, its
 * history to replay, the alerts left open). The client's questions are in query.h; both
 * sit on the same private plumbing (store/db.h), the only file that includes sqlite3.h.
 *
 * The daemon is the single writer; the client opens the same file read-only. WAL mode
 * lets readers run while the writer commits, and a reader never blocks the writer.
 *
 * Functions return 0 (or a count) on success and a negative errno on failure, mapped
 * from SQLite's result codes so callers can decide without knowing SQLite:
 *   -ENOSPC  the disk (or a quota) is full          -EIO     I/O error
 *   -EBUSY   the database is locked by another writer -EROFS  read-only file or mode
 *   -EACCES  cannot open or create the file          -EBADMSG not a leakwatch database,
 *   -EPROTO  the schema is newer than this program         or corrupt
 * store_errmsg() gives SQLite's own words for the last failure, for the log. */
#ifndef LEAKWATCH_STORE_H
#define LEAKWATCH_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "detect.h"
#include "forecast.h"
#include "report.h"
#include "sample.h"

struct store;

enum store_mode {
        STORE_RW,       /* create if missing (mode 0640), migrate, write */
        STORE_RO,       /* read-only: never creates, migrates or writes */
};

/* On failure errbuf (if not NULL) gets the reason in words. */
int store_open(const char *path, enum store_mode mode, struct store **ret, char *errbuf, size_t errsz);
void store_close(struct store *s);
const char *store_errmsg(const struct store *s);
int store_schema_version(struct store *s);              /* PRAGMA user_version, or -errno */
int store_latest_schema_version(void);                   /* what this program writes */

/* ---- identities ---- */

/* A configured rule; returns its id (existing row for the same name, spec updated). */
struct store_rule {
        int64_t id;
        const char *name;
        const char *spec;               /* selectors in words */
        int64_t first_ms, last_ms;
};
int store_put_rule(struct store *s, const char *name, const char *spec, int64_t now_ms, int64_t *ret_id);
/* A rule under the id the daemon already uses for it, after a damaged database was
 * replaced by what could be read of it; a row with that id or name is left alone. */
int store_put_rule_id(struct store *s, int64_t id, const char *name, const char *spec, int64_t now_ms);
/* The newest generation any process of the rule was recorded with (0 if none). */
int store_rule_generation(struct store *s, int64_t rule_id, int64_t *ret);

/* ---- rows ----
 *
 * Everything the daemon records goes in as a row: the writer (core/writer.h) queues
 * rows and store_put() writes each, inside the writer's transaction. Ids of processes,
 * alerts, verdicts and hook runs are chosen by the daemon (the highest in use at start,
 * then counting up: store_max_process_id(), store_max_ids()), so rows can be queued
 * while the disk is full and written, in order, when it recovers. NAN or an infinity in
 * a REAL column is stored as NULL ("none"), and so is a time of 0. */

/* A watched process. */
struct store_process {
        int64_t id;
        char boot_id[40];
        int32_t pid;
        int64_t start_ticks;
        int64_t start_ms;               /* 0 if unknown */
        int32_t ppid;
        int64_t uid;                    /* -1 if unknown */
        const char *comm;               /* bytes as the kernel gave them */
        size_t comm_len;
        const char *cmdline;
        size_t cmdline_len;
        const char *unit;               /* NULL if none */
        const char *cgroup;
        int64_t rule_id;
        int64_t generation;
        int64_t parent_id;              /* 0 unless watched as a child */
        int64_t first_ms;
};

/* A process watched again (after a reload or an explicit watch): its end is cleared
 * and it belongs to this rule and generation. */
struct store_reopen {
        int64_t id, rule_id, generation;
};

/* A process's name and command line after it exec()ed: the process stays (same PID
 * and start time), its latest program is what it is shown as. */
struct store_exec {
        int64_t id;
        const char *comm;
        size_t comm_len;
        const char *cmdline;
        size_t cmdline_len;
};

/* The end of a process (STORE_PROCESS_END: reason), or of an alert without touching
 * its numbers (STORE_ALERT_END: state and reason). */
struct store_end {
        int64_t id, t_ms;
        const char *state, *reason;
};

/* A sample of a process (STORE_SAMPLE: id is the process), or the sum over a rule's
 * processes at one tick (STORE_RULE_SAMPLE: id is the rule). */
struct store_sample {
        int64_t id;
        int64_t generation;             /* rule sums only */
        unsigned nproc;                 /* rule sums only: processes summed */
        struct sample s;
};

/* Something the daemon records about itself: "start", "stop", "reload", "dropped". */
struct store_event {
        int64_t t_ms;
        const char *kind;
        const char *detail;             /* NULL if none */
};

/* A state change of a detector, with its evidence. */
struct store_verdict {
        int64_t id, process_id, alert_id;       /* alert_id 0: none */
        int64_t t_ms;
        const char *metric, *state, *previous;  /* detect_kind_name, detect_status_name */
        bool escalated;
        struct detect_evidence ev;      /* times in seconds since the epoch */
};

/* What an alert was raised on, or its latest evaluation (the alert_evidence table): the
 * rate and the time scale it was measured over, and the room each known limit left,
 * from which the time to each (lib/forecast). t_ms 0: none. */
struct store_alert_evidence {
        int64_t t_ms;
        const char *cause;              /* "leak": the detector confirmed it; "limit": growth
                                         * will reach a limit within limit-horizon */
        double scale;                   /* seconds: the window of the rate */
        double slope, slope_low, level; /* units/s, units/s, units; NAN unknown */
        double t_from, t_to;            /* the window judged, seconds since the epoch */
        const char *reason;             /* "will reach memory.max in 12 min", or the detector's */
        double room[LIMIT__MAX];        /* units left before each limit; NAN unknown */
};

/* An alert, inserted or replaced by id each time its numbers change. */
struct store_alert {
        int64_t id, process_id, rule_id;
        const char *metric;             /* "memory" or "fds" */
        const char *state;              /* "leaking", "recovered", "ended" */
        int64_t start_ms, end_ms, escalated_ms;
        const char *end_reason;
        struct detect_evidence ev;      /* times in seconds since the epoch */
        const char *limit_kind;         /* "cgroup", "memory", "descriptor" or NULL */
        const char *kind;               /* what kind of leak, or NULL */
        /* What it was raised on: written once, when raised (t_ms 0: not this time), and
         * never replaced; and the latest evaluation (t_ms 0: none), replaced each time. */
        struct store_alert_evidence raised, latest;
};

/* The class of an alert's kind (lib/classify.h), replaced as it changes; agents may be
 * NULL. */
struct store_alert_kind {
        int64_t alert_id, t_ms;
        const char *cls, *agents;
};

/* A hook run, inserted or replaced by id: when it starts and again when it ends. */
struct store_hook_run {
        int64_t id, alert_id;
        const char *event, *program;
        int64_t start_ms, end_ms;       /* end 0: still running */
        int exit_code;                  /* -1: none (killed by a signal or running) */
        int signal;                     /* 0: none */
        bool timed_out;
        const char *output;             /* may be NULL */
        size_t output_len;
};

/* An evidence bundle kept for an alert event (sql/009-escalate.sql). */
struct store_alert_bundle {
        int64_t alert_id, t_ms;
        const char *event, *path;
        uint64_t bytes;
        unsigned files;
        const char *note;               /* may be NULL */
};

/* A restart decision (sql/009-escalate.sql), inserted or replaced by id: when it is
 * taken and again when systemd answers. */
struct store_restart {
        int64_t id, alert_id, process_id, t_ms;
        const char *unit;               /* NULL: the process is in no service */
        const char *decision;           /* requested, restarted, failed, dry-run, refused */
        const char *reason;             /* a token (core/escalate.h) or a D-Bus error name */
        const char *detail;             /* may be NULL */
        int64_t end_ms;                 /* 0: no answer (yet) */
        double forecast, level, slope;  /* NAN: unknown */
        const char *limit_kind;         /* may be NULL */
};

/* An in-process agent's report about a process. */
struct store_agent_row {
        int64_t process_id;
        const struct agent_report *report;
};

enum store_row_kind {
        STORE_PROCESS,                  /* .process: inserted; an existing id is left alone */
        STORE_PROCESS_REOPEN,           /* .reopen */
        STORE_PROCESS_END,              /* .end: the first end stays */
        STORE_PROCESS_EXEC,             /* .exec: its comm and cmdline replaced */
        STORE_OTHER_BOOTS_END,          /* .boot_id: every process of another boot not yet
                                         * ended ends at its last sample ("reboot") */
        STORE_SAMPLE,                   /* .sample */
        STORE_RULE_SAMPLE,              /* .sample */
        STORE_AGENT_SAMPLE,             /* .agent */
        STORE_EVENT,                    /* .event */
        STORE_VERDICT,                  /* .verdict */
        STORE_ALERT,                    /* .alert */
        STORE_ALERT_END,                /* .end: an open alert ends, its numbers kept */
        STORE_ALERT_KIND,               /* .kind */
        STORE_HOOK_RUN,                 /* .hook_run */
        STORE_RESTART,                  /* .restart */
        STORE_ALERT_BUNDLE,             /* .bundle */
        STORE__ROW_MAX
};

struct store_row {
        enum store_row_kind kind;
        union {
                struct store_process process;
                struct store_reopen reopen;
                struct store_exec exec;
                struct store_end end;
                const char *boot_id;
                struct store_sample sample;
                struct store_agent_row agent;
                struct store_event event;
                struct store_verdict verdict;
                struct store_alert alert;
                struct store_alert_kind alert_kind;
                struct store_hook_run hook_run;
                struct store_restart restart;
                struct store_alert_bundle bundle;
        };
};

/* Writes one row, normally between store_begin() and store_commit(). */
int store_put(struct store *s, const struct store_row *row);

/* A copy of row whose strings (and agent report) live in one allocation, *ret_blob,
 * which the caller frees when done with the copy (NULL if the row holds none). For a
 * queue of rows that outlive what their strings pointed to. Returns 0 or -ENOMEM. */
int store_row_copy(const struct store_row *row, struct store_row *ret, void **ret_blob);

/* ---- what the watch reads back ---- */

int store_max_process_id(struct store *s, int64_t *ret);
/* Highest ids in use, so the daemon can continue counting: alert, verdict, hook_run. */
int store_max_ids(struct store *s, int64_t *ret_alert, int64_t *ret_verdict, int64_t *ret_hook_run);
/* The highest restart decision id in use. */
int store_max_restart_id(struct store *s, int64_t *ret);
/* Restarts asked of systemd (requested, restarted, failed) and dry runs since since_ms,
 * oldest first: what restart-max counts, picked up again after a restart of the daemon. */
typedef int (*store_restart_cb)(const char *unit, int64_t t_ms, void *userdata);
int store_for_each_restart_since(struct store *s, int64_t since_ms, store_restart_cb cb, void *userdata);

/* The id of the process with this identity, or -ENOENT. */
int store_find_process(struct store *s, const char *boot_id, int32_t pid, int64_t start_ticks, int64_t *ret_id);
/* Time of the newest raw sample of a process, or -ENOENT. */
int store_last_sample_ms(struct store *s, int64_t process_id, int64_t *ret_ms);

/* Processes of this boot that were not marked ended (the daemon stopped while they ran).
 * The callback gets each; a non-zero return stops the walk and is returned. */
typedef int (*store_process_cb)(const struct store_process *p, int64_t last_ms, void *userdata);
int store_for_each_live_process(struct store *s, const char *boot_id, store_process_cb cb, void *userdata);

/* Open alerts (end_ms NULL), for the daemon to take over. */
typedef int (*store_alert_cb)(const struct store_alert *a, void *userdata);
int store_for_each_open_alert(struct store *s, store_alert_cb cb, void *userdata);

/* ---- transactions ---- */

int store_begin(struct store *s);
int store_commit(struct store *s);
void store_rollback(struct store *s);   /* safe to call after a failed commit */

/* ---- in-process agents (docs/agents.md) ---- */

/* Every report of a process in [from_ms, to_ms), in time order, types and allocation
 * sites included. */
typedef int (*store_agent_cb)(const struct agent_report *a, void *userdata);
int store_for_each_agent_sample(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                                store_agent_cb cb, void *userdata);

/* ---- retention ---- */

struct store_retention {
        int64_t raw_ms;                 /* keep raw samples this long */
        int64_t minute_ms;              /* keep per-minute rollups this long */
        int64_t hour_ms;                /* keep per-hour rollups this long */
};
struct store_maintenance {
        int64_t folded;                 /* recent samples moved into the per-process table */
        int64_t minute_rows, hour_rows; /* rollup rows written */
        int64_t pruned;                 /* rows deleted */
};
/* Moves recent samples older than fold_before_ms into the per-process table (one bulk
 * insert ordered by process, so each process's page is touched once per fold). */
int store_fold(struct store *s, int64_t fold_before_ms, int64_t *ret_folded);
/* Rolls complete minutes and hours up and prunes what retention no longer keeps.
 * Incremental (remembers where it stopped), idempotent, one transaction per call. */
int store_maintain(struct store *s, int64_t now_ms, const struct store_retention *r,
                   struct store_maintenance *ret);

/* ---- reads ---- */

typedef int (*store_sample_cb)(const struct sample *smp, void *userdata);

/* Every raw sample of a process in [from_ms, to_ms), in time order, from both tables. */
int store_for_each_sample(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                          store_sample_cb cb, void *userdata);

/* Every minute rollup of a process in [from_ms, to_ms), in time order, as a sample at
 * the minute's start holding each rollup metric's minimum over the minute (memory as
 * anon_min and swap_min, descriptors as fds_min): the floor the detector's minute-fed
 * time scales take (lib/scales.h). */
int store_for_each_minute(struct store *s, int64_t process_id, int64_t from_ms, int64_t to_ms,
                          store_sample_cb cb, void *userdata);

/* Caps the database file: writes that would grow it further fail with -ENOSPC, like a
 * full disk (and are handled the same way). 0 removes the cap. */
int store_set_size_limit(struct store *s, int64_t bytes);

/* Size of the database and its WAL in bytes. */
int store_disk_usage(struct store *s, int64_t *ret_bytes);

/* ---- the files under the connection (the daemon's writer only) ----
 *
 * A WAL database is three files: PATH, PATH-wal (the commits since the last checkpoint)
 * and PATH-shm (the log's index). SQLite keeps them open and never looks at the paths
 * again, so someone who deletes or replaces one while the daemon runs would take commits
 * with them, or make the daemon write where readers never look. store_check() compares
 * each path with the file the connection holds (device and inode), and SQLite's verdict
 * that the file is damaged, and repairs; store/store.c says how, and what a crash in the
 * middle of it costs. Cheap (three lstat() calls when all is well): the daemon calls it
 * once per commit interval and before its last commit. */
enum store_fault {
        STORE_FAULT_NONE,
        STORE_FAULT_WAL,                /* -wal or -shm deleted or replaced */
        STORE_FAULT_DB,                 /* the database file deleted, moved or replaced
                                         * (a symlink included) */
        STORE_FAULT_DAMAGED,            /* SQLite found it corrupt (SQLITE_CORRUPT, _NOTADB) */
        STORE_FAULT_CLOSED,             /* an earlier repair could not open it again */
};

struct store_repair {
        enum store_fault fault;         /* what was found; NONE: all is well */
        bool repaired;                  /* the paths name the connection's files again */
        char aside[PATH_MAX + 64];      /* a file moved out of the way, "" if none:
                                         * PATH.displaced-TIME (what took the database's
                                         * place) or PATH.damaged-TIME (with its -wal) */
        int64_t salvaged;               /* DAMAGED: rows copied into the new file */
};

/* Returns 0 (nothing wrong, or repaired), -EBUSY (a reader still needs the old log: the
 * repair is tried again at the next call, and commits go on meanwhile into the open
 * file, from where the repair copies them), or another -errno (store_errmsg() says
 * why; tried again at the next call; writes fail until then if the connection had to
 * be closed). */
int store_check(struct store *s, struct store_repair *ret);
/* The fault in words, for the log: "its write-ahead log ... was deleted ...". */
const char *store_fault_name(enum store_fault f);

/* A damaged database found by store_open (STORE_RW) is set aside and a new one opened in
 * its place, with what could be read of it: the name it was given, or NULL. A file that
 * does not begin as SQLite's do is never moved: store_open fails with -EBADMSG. */
const char *store_set_aside(const struct store *s, int64_t *ret_salvaged);

#endif
