/* SPDX-License-Identifier: GPL-2.0-or-later */
/* metrics: what the daemon knows, as Prometheus text — the 0.0.4 text format or
 * OpenMetrics 1.0 — built from a snapshot of plain structs. Pure: no I/O, no clock, no
 * daemon state; the exporter (export.c) fills the snapshot and ships the text.
 *
 * Series per watched process would be unbounded on a fleet (a new PID at every
 * restart), so processes are grouped by (rule, process name, systemd unit) and each
 * group is one set of series: memory summed, the steepest growth, the nearest
 * forecast, processes counted per detector state, open alerts counted. The labels are
 * rule, name and unit; a pid label is opt-in (metrics-pid-label), and then every
 * process is its own group. docs/prometheus.md lists every metric and why it is
 * aggregated as it is.
 *
 * Process names and units are untrusted bytes: a label value is the text the logs
 * show (str_escape: control characters, backslash and invalid UTF-8 as C escapes), so
 * it is always valid UTF-8, and it is escaped again for the format (backslash, double
 * quote, newline). Groups are formed on those label values, so two processes whose
 * names only differ in ways the escaping hides can never produce duplicate series.
 *
 * The per-group series are capped (max_series): groups are ranked — open alerts,
 * leaking, suspect, then memory — and taken whole while they fit; the rest are left
 * out and counted in leakwatch_omitted_series and leakwatch_omitted_processes. */
#ifndef LEAKWATCH_METRICS_H
#define LEAKWATCH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "detect.h"
#include "sample.h"

enum metrics_format {
        METRICS_TEXT,           /* text/plain; version=0.0.4 */
        METRICS_OPENMETRICS,    /* application/openmetrics-text; version=1.0.0 */
        METRICS__FORMAT_MAX
};

/* The Content-Type header of each format. */
extern const char *const metrics_content_type[METRICS__FORMAT_MAX];

/* The format an HTTP Accept header asks for: OpenMetrics when it is accepted (version
 * 1.0.0, or no version) with a quality at least that of the text format, else text.
 * NULL or unparsable: text, which every scraper reads. */
enum metrics_format metrics_negotiate(const char *accept);

struct metrics_detector {
        enum detect_status status;
        bool evaluated;                 /* false: slope and slope_low are NAN */
        double slope, slope_low;        /* units per second */
        double forecast;                /* seconds to the limit; INFINITY: none in sight */
        bool alert_open;
};

/* One watched process. Strings are NUL-terminated raw bytes; comm and unit are
 * untrusted. */
struct metrics_proc {
        const char *rule;
        const char *comm;
        const char *unit;               /* "" if none */
        pid_t pid;
        struct sample last;             /* values in have; memory in bytes */
        struct metrics_detector det[DETECT__KIND_MAX];    /* by enum detect_kind */
};

/* The daemon's own health. */
struct metrics_daemon {
        const char *version;
        const char *sampler;            /* the sampling backend: "bpf" or "proc" */
        double start_time;              /* seconds since the epoch */
        double interval;                /* configured sampling interval, seconds */
        double tick_duration;           /* the last tick, seconds */
        uint64_t ticks;
        uint64_t watched;               /* processes now */
        uint64_t samples;               /* process samples taken */
        uint64_t capped;                /* matches not watched: max-processes */
        uint64_t read_errors;           /* unexpected /proc errors */
        uint64_t pass_errors;           /* BPF passes that failed (read through /proc) */
        uint64_t smaps_reads;           /* smaps_rollup reads */
        uint64_t smaps_postponed;       /* due, but smaps-budget was spent */
        uint64_t evaluations;           /* detector evaluations */
        uint64_t written, dropped, pending;     /* samples: committed, lost, waiting */
        uint64_t flush_failures;
        int64_t db_bytes;               /* database and WAL; -1: unknown */
        uint64_t alerts;                /* opened since start */
        uint64_t hook_runs, hook_failures;
};

struct metrics_opts {
        enum metrics_format format;
        size_t max_series;              /* per-group series at most; the daemon's own ~20
                                         * always come */
        bool pid_label;
};

/* What one rendering did. */
struct metrics_result {
        size_t groups, groups_omitted;
        size_t series, series_omitted;  /* per-group series */
        size_t procs_omitted;
};

/* Renders d and the n processes in procs. On success *ret_text is a malloc'd,
 * NUL-terminated text of *ret_len bytes (the caller frees it) and *ret_result, if not
 * NULL, says what was left out. Returns 0, or -ENOMEM (nothing written). */
int metrics_render(const struct metrics_daemon *d, const struct metrics_proc *procs, size_t n,
                   const struct metrics_opts *opts, char **ret_text, size_t *ret_len,
                   struct metrics_result *ret_result);

/* Appends s (len bytes) to dst escaped as a label value of either format: backslash,
 * double quote and newline as \\, \" and \n. dst must hold 2 * len + 1 bytes. Returns
 * the length written (dst is NUL-terminated). */
size_t metrics_escape_label(const char *s, size_t len, char *dst);

#endif
