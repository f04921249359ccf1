/* SPDX-License-Identifier: GPL-2.0-or-later */
/* query: the read-only questions the client asks of the database — what is watched,
 * the series of a process or a rule, memory floors, alerts with their verdicts and
 * hook runs. Part of the storage module (it speaks SQL); it sits on store_open(STORE_RO),
 * sharing its connection and plumbing (store/db.h).
 *
 * A query handle holds one read transaction from query_open() to query_close(), so
 * every answer a command prints comes from one snapshot of the database while the
 * daemon keeps committing (WAL: the reader never blocks the writer). Every filter is a
 * bound parameter.
 *
 * Units are those of the C API (lib/sample.h): memory in bytes, times in ms since the
 * epoch. Functions return 0 (or a count) or a negative errno as store.h describes;
 * -ENOENT when the thing asked for does not exist. Lists are returned as arrays the
 * caller frees with the matching *_free(); out-parameters are not written on failure. */
#ifndef LEAKWATCH_QUERY_H
#define LEAKWATCH_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"
#include "forecast.h"
#include "store.h"

struct query;

/* Opens path read-only (store_open(STORE_RO)) and begins the read transaction. On
 * failure errbuf (if not NULL) gets the reason in words. */
int query_open(const char *path, struct query **ret, char *errbuf, size_t errsz);
void query_close(struct query *q);
const char *query_errmsg(const struct query *q);

/* ---- metrics ----
 * The client's metrics are the sample metrics plus "memory": anonymous + swap bytes,
 * the quantity the detector judges (alert.metric 'memory'). */
#define QM_MEMORY M__MAX
#define QM__MAX (M__MAX + 1)

/* Stable short name ("rss", ..., "memory"), and back (-1 if unknown). */
const char *query_metric_name(int m);
int query_metric_from_name(const char *name);
/* True if the metric is in bytes (else a count). */
bool query_metric_is_bytes(int m);
/* True if rollups keep the metric (the others exist only as raw samples). */
bool query_metric_has_rollup(int m);

/* ---- overview ---- */

struct query_overview {
        int schema;                     /* PRAGMA user_version */
        int64_t rules;
        int64_t processes, live;        /* rows; not ended */
        int64_t alerts, alerts_open;
        int64_t db_bytes;               /* database and WAL */
        int64_t first_ms;               /* oldest sample or rollup bucket kept; 0 if none */
        int64_t last_ms;                /* newest sample; 0 if none */
        char boot_id[40];               /* of the most recently seen process; "" if none */
};
int query_overview(struct query *q, struct query_overview *ret);

/* Time of the newest raw sample of any process, or -ENOENT if there is none. */
int query_newest_ms(struct query *q, int64_t *ret_ms);

/* Things the daemon recorded about itself (start, stop, reload, dropped), newest first. */
struct query_event {
        int64_t id, t_ms;
        char *kind;
        char *detail;                   /* NULL if none */
};
int query_events(struct query *q, const char *kind, size_t limit, struct query_event **ret, size_t *ret_n);
void query_events_free(struct query_event *e, size_t n);

/* ---- rules ---- */

struct query_rule {
        int64_t id;
        char *name, *spec;
        int64_t first_ms, last_ms;
        int64_t processes, live;        /* processes recorded under it; not ended */
};
/* Time of the newest sum of a rule's processes, or -ENOENT if there is none. */
int query_rule_newest_ms(struct query *q, int64_t rule_id, int64_t *ret_ms);
/* Every rule, by name. */
int query_rules(struct query *q, struct query_rule **ret, size_t *ret_n);
/* The rule with this name, or -ENOENT. */
int query_rule_by_name(struct query *q, const char *name, struct query_rule *ret);
void query_rule_clear(struct query_rule *r);
void query_rules_free(struct query_rule *r, size_t n);

/* ---- processes ---- */

struct query_process {
        int64_t id;
        char boot_id[40];
        int32_t pid, ppid;
        int64_t start_ticks;
        int64_t start_ms;               /* 0 if unknown */
        int64_t uid;                    /* -1 if unknown */
        char *comm;                     /* bytes as stored (may hold anything) */
        size_t comm_len;
        char *cmdline;
        size_t cmdline_len;
        char *unit, *cgroup;            /* NULL if none */
        int64_t rule_id;
        char *rule;
        int64_t generation;
        int64_t parent_id;              /* 0 unless watched as a child */
        int64_t first_ms, last_ms;
        int64_t end_ms;                 /* 0 while it runs */
        char *end_reason;               /* NULL while it runs */
        char state_memory[12];          /* the latest verdict's state per metric, "" if none */
        char state_fds[12];
        int64_t alert_id;               /* an open alert of the process, 0 if none */
};

enum query_by {
        QUERY_ALL,                      /* every process */
        QUERY_ID,                       /* process.id = num */
        QUERY_PID,                      /* pid = num */
        QUERY_NAME,                     /* comm = text */
        QUERY_UNIT,                     /* unit = text */
        QUERY_RULE,                     /* rule_id = num */
};
struct query_filter {
        enum query_by by;
        int64_t num;
        const char *text;
        size_t text_len;
        bool live_only;                 /* not ended */
        const char *boot_id;            /* NULL: any boot */
        int64_t active_from, active_to; /* both non-zero: seen at some time in [from, to) */
};
/* Matching processes, ordered by id (the order they were first seen). */
int query_processes(struct query *q, const struct query_filter *f, struct query_process **ret, size_t *ret_n);
void query_process_clear(struct query_process *p);
void query_processes_free(struct query_process *p, size_t n);

/* The newest raw sample of each process in ids[] (ret[i].t_ms is 0 where none is
 * kept). One pass over the recent table, then a keyed lookup for the others. */
int query_latest_samples(struct query *q, const int64_t *ids, size_t n, struct sample *ret);

/* ---- series ---- */

enum query_source { QSRC_RAW, QSRC_MINUTE, QSRC_HOUR };
extern const char *const query_source_name[3];          /* "raw", "minute", "hour" */

struct query_value {
        double v;                       /* raw value, or the bucket mean */
        double min, max;                /* == v for raw samples */
        bool known;
        uint8_t why;                    /* enum unknown_reason when !known */
};
struct query_row {
        int64_t t_ms;                   /* sample time, or bucket start */
        enum query_source source;
        int64_t n;                      /* samples in the bucket (1 for raw) */
        int64_t nproc;                  /* rule series: processes summed; else 0 */
        struct query_value m[QM__MAX];
};
typedef int (*query_row_cb)(const struct query_row *row, void *userdata);

/* Every metric of a process over [from_ms, to_ms), in time order: raw samples where
 * they are still kept, the finest rollup before that (metrics without rollup columns
 * are unknown there, why UNK_ABSENT). For rollups "memory" is min(anon) + min(swap)
 * (and likewise max and mean): a bound, since the two minima need not coincide. A
 * non-zero return of cb stops the walk and is returned. */
int query_series(struct query *q, int64_t process_id, int64_t from_ms, int64_t to_ms, query_row_cb cb,
                 void *userdata);

/* The sums over a rule's processes at each tick (all generations), in time order.
 * Rule sums are raw only; the daemon keeps them as long as minute rollups. */
int query_rule_series(struct query *q, int64_t rule_id, int64_t from_ms, int64_t to_ms, query_row_cb cb,
                      void *userdata);

/* The floors (lowest "memory", anon + swap) of each process in ids[] in each of nb
 * equal buckets of [from_ms, to_ms): ret[i * nb + b], NAN where nothing is known.
 * Raw samples where kept and rollup minima before, as query_series() chooses; but a
 * bucket at least ten times a rollup's width is judged on that rollup (where it
 * exists) rather than on raw samples. nb >= 1, to_ms > from_ms. The recent table is
 * read once for all processes. */
int query_floors(struct query *q, const int64_t *ids, size_t n_ids, int64_t from_ms, int64_t to_ms,
                 unsigned nb, double *ret);

/* ---- alerts, verdicts, hook runs ---- */

struct query_alert {
        int64_t id, process_id, rule_id;
        int32_t pid;
        char *name;                     /* the process's comm */
        size_t name_len;
        char *cmdline;
        size_t cmdline_len;
        char *unit;                     /* NULL if none */
        char *rule;
        char boot_id[40];
        char *metric, *state;
        int64_t start_ms, end_ms, escalated_ms;         /* 0: none */
        char *end_reason;
        double slope, slope_low, slope_high, growth, growth_rel, level, p_value, forecast_s;    /* NAN: none */
        double scale_s;                 /* the time scale that raised it (a window, s); NAN: not
                                         * recorded (older rows) */
        char *limit_kind;
        int64_t evidence_from, evidence_to;
        char *reason, *kind;
};
struct query_alert_filter {
        int64_t id;                     /* non-zero: this alert only */
        bool open_only;                 /* end_ms IS NULL */
        int64_t process_id;             /* non-zero: of this process */
        int64_t rule_id;                /* non-zero: of this rule */
        int64_t from_ms, to_ms;         /* non-zero: open at some time in [from, to) */
};
/* Matching alerts, newest start first. */
int query_alerts(struct query *q, const struct query_alert_filter *f, struct query_alert **ret, size_t *ret_n);
void query_alerts_free(struct query_alert *a, size_t n);

struct query_verdict {
        int64_t id, process_id, alert_id, t_ms;
        char metric[12], state[12], previous[12];
        bool escalated;
        double slope, slope_low, slope_high, growth, growth_rel, level, p_value, forecast_s;
        int64_t evidence_from, evidence_to;
        char *reason;
};
/* Verdicts of a process (metric NULL: every metric) with t in [from_ms, to_ms), in
 * time order. */
int query_verdicts(struct query *q, int64_t process_id, const char *metric, int64_t from_ms, int64_t to_ms,
                   struct query_verdict **ret, size_t *ret_n);
/* The verdicts that tell an alert's story: those of its process and metric from the
 * last "ok" before it opened to its end. */
int query_alert_verdicts(struct query *q, const struct query_alert *a, struct query_verdict **ret,
                         size_t *ret_n);
void query_verdicts_free(struct query_verdict *v, size_t n);

struct query_hook_run {
        int64_t id, alert_id;
        char *event, *program;
        int64_t start_ms, end_ms;       /* end 0: still running */
        int exit_code;                  /* -1: none */
        int signal;                     /* 0: none */
        bool timed_out;
        char *output;                   /* NULL if none */
        size_t output_len;
};
/* What an alert was raised on, or its latest evaluation (the alert_evidence table, see
 * sql/005): which judge (cause "leak" or "limit"), the time scale and numbers of its
 * rate, and the room each known limit left at t_ms. */
struct query_alert_evidence {
        bool present;                   /* false: none recorded (an older alert or database) */
        int64_t t_ms;
        char cause[8];
        double scale, slope, slope_low, level;  /* NAN: none */
        int64_t evidence_from, evidence_to;     /* 0: none */
        char *reason;                   /* NULL if none */
        double room[LIMIT__MAX];        /* NAN: that limit unknown */
};
/* ret[0]: what alert_id was raised on; ret[1]: its latest evaluation. A database older
 * than schema 5 has neither. Returns 0 or -errno. */
int query_alert_evidence(struct query *q, int64_t alert_id, struct query_alert_evidence ret[2]);
void query_alert_evidence_free(struct query_alert_evidence ev[2]);

/* Hook runs of an alert, in order. */
/* An allocation site an agent reported (agent_site, docs/agents.md). */
struct query_site {
        int64_t t_ms;
        char agent[8];                  /* "python", "malloc" */
        int rank;                       /* 0: grew most */
        int64_t live_bytes, live_count, growth;
        char *frames;                   /* as stored: escaped tokens, single spaces between */
        size_t frames_len;
};
/* The sites of each agent's newest report that carried some, for process_id over
 * [from_ms, to_ms): python's first, each by rank. */
int query_sites(struct query *q, int64_t process_id, int64_t from_ms, int64_t to_ms, struct query_site **ret,
                size_t *ret_n);
void query_sites_free(struct query_site *s, size_t n);

int query_hook_runs(struct query *q, int64_t alert_id, struct query_hook_run **ret, size_t *ret_n);
void query_hook_runs_free(struct query_hook_run *h, size_t n);

/* An evidence bundle of an alert. note NULL when nothing is missing. */
struct query_bundle {
        int64_t alert_id, t_ms;
        char *event, *path, *note;
        int64_t bytes, files;
};
/* Evidence bundles of an alert, in order. */
int query_alert_bundles(struct query *q, int64_t alert_id, struct query_bundle **ret, size_t *ret_n);
void query_alert_bundles_free(struct query_bundle *x, size_t n);

/* A restart decision of an alert (sql/009-escalate.sql). Strings are NUL-terminated;
 * unit, detail and limit_kind NULL when absent. */
struct query_restart {
        int64_t id, alert_id, t_ms;
        int64_t end_ms;                 /* 0: systemd has not answered */
        char *unit, *decision, *reason, *detail, *limit_kind;
        double forecast, level, slope;  /* NAN: unknown */
};
/* Restart decisions of an alert, in order. */
int query_restarts(struct query *q, int64_t alert_id, struct query_restart **ret, size_t *ret_n);
void query_restarts_free(struct query_restart *x, size_t n);

#endif
