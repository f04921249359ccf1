/* SPDX-License-Identifier: GPL-2.0-or-later */
/* engine: turns each watched process's samples into detector verdicts, and verdicts into
 * alert events. It listens to the sampler; it owns one memory detector (anon + swap) and
 * one descriptor detector per process, beside each a short-scale judge of growth that
 * will reach a known limit within limit-horizon (lib/nearlimit: such growth is alerted
 * whether or not it is proven a leak, "will reach memory.max in 12 min"), each
 * process's classification trail (what kind of leak an alert is, from the samples and
 * the agents' reports it has already seen),
 * and the state of its open alerts (alert.h decides the transitions). An alert keeps
 * what it was raised on (the cause, the rate and its time scale, the room each limit
 * left) apart from its latest evaluation.
 *
 * It does no I/O of its own and reads no clock: time is each sample's own, or the
 * now_ms its caller passes; the room left before a limit comes from the caller's
 * engine_limits, asked only when a verdict is due; and everything it concludes goes to
 * the caller's engine_sink — each verdict that changed a detector's state, each alert
 * event — for the watch to record and the program to tell (log, hooks). The database is
 * read only to pick up where the last run stopped: the highest ids at start, the alerts
 * it left open, and a process's stored history when it is watched again.
 *
 * A restart does not reset what the daemon knew: when a process is (again) watched, its
 * detectors and trail are rebuilt by replaying its stored history, and alerts that were
 * open when the daemon stopped are taken over rather than raised twice. */
#ifndef LEAKWATCH_ENGINE_H
#define LEAKWATCH_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "detect.h"
#include "hsperf.h"
#include "forecast.h"
#include "sampler.h"
#include "settings.h"
#include "store.h"

struct engine;

/* The room a process has left before a limit, in the metric's unit (bytes, descriptors)
 * given its current level; NAN when no limit is known. *ret_kind names the limit for
 * the alert ("cgroup", "memory", "descriptor"). Asked once per verdict due, so a reader
 * of /proc or the cgroup tree costs one read per bucket, not per sample. */
struct engine_limits {
        double (*headroom)(void *userdata, const struct sampler_proc *p, enum detect_kind m, double level,
                           const char **ret_kind);
        /* Every limit of metric m that is known, as the room it leaves the process whose
         * latest sample is smp (lib/forecast). Asked when an alert is raised or updated,
         * and when the short-scale judge (lib/nearlimit) sees growth: rarely, not per
         * sample. NULL: no limit is known, and no limit alerts. */
        void (*read)(void *userdata, const struct sampler_proc *p, const struct sample *smp, enum detect_kind m,
                     struct limit_set *ret);
        void *userdata;
};

/* A Java process's performance data (core/jvm.h), read once per evaluation of its
 * memory for processes whose runtime is java (lib/classify.h's classify_runtime()):
 * what its alerts' kind is named from. Returns 0 or -errno. */
struct engine_jvm {
        int (*read)(void *userdata, const struct sampler_proc *p, struct hsperf_jvm *ret);
        void *userdata;
};

/* Where the engine's conclusions go. Called synchronously; the pointers are valid for the
 * call only. */
struct engine_sink {
        /* A detector changed state, or escalated: its verdict row. */
        void (*verdict)(void *userdata, const struct sampler_proc *p, const struct store_verdict *v);
        /* An alert event (alert.h). p is NULL for ALERT_EVENT_EXPIRE. */
        void (*alert)(void *userdata, const struct sampler_proc *p, const struct alert *a);
        /* Something the engine could not do, for the log: error is -errno, what says what
         * was lost ("not judged", "history not replayed"). p may be NULL. May be NULL. */
        void (*trouble)(void *userdata, const struct sampler_proc *p, int error, const char *what);
        void *userdata;
};

struct engine_env {
        struct store *store;            /* reads: ids, open alerts, history to replay */
        const char *boot_id;
        struct engine_limits limits;    /* headroom NULL: no forecasts */
        struct engine_jvm jvm;          /* read NULL: JVMs are judged from outside alone */
        struct engine_sink sink;
};

struct engine_stats {
        unsigned open_alerts;
        uint64_t alerts;                /* opened since start */
        uint64_t evaluations;
        uint64_t verdicts;              /* state changes recorded */
};

/* Returns 0, or -errno if the store could not be read. */
int engine_new(const struct engine_env *env, const struct config *cfg, struct engine **ret);
void engine_free(struct engine *e);

/* The sampler listener that feeds the engine. */
void engine_listener(struct engine *e, struct sampler_listener *ret);

/* An agent's report about the process in the sampler's slot (process_id checks that the
 * slot still holds it): it goes into the process's trail for classification. */
void engine_agent_report(struct engine *e, size_t slot, int64_t process_id, const struct agent_report *a);

/* After the sampler resumed the previous run's processes: alerts whose process did not
 * come back expire. */
void engine_finish_resume(struct engine *e, int64_t now_ms);

/* New configuration (windows, rules): detectors whose parameters changed are rebuilt
 * from history at their next sample. cfg must outlive e or the next call. */
int engine_reconfigure(struct engine *e, const struct config *cfg);

void engine_get_stats(const struct engine *e, struct engine_stats *ret);

/* Judges one process on its own time scale (`leakwatch run`), rebuilding its detectors
 * from history up to now_ms; longer: that window is the shortest scale and the default
 * longer ones judge too (no --window given). Returns 0 or -ENOENT. */
int engine_set_window(struct engine *e, size_t slot, double window, bool longer, int64_t now_ms);

/* Whether the agents of the process in the sampler's slot should report allocation
 * sites: it has an agent, and its memory is suspect, or leaks and its alert has not
 * named a site yet (once it has, the process is judged). */
bool engine_wants_sites(const struct engine *e, size_t slot);

/* What the detectors currently think of one watched process (by the sampler's slot). */
struct engine_proc_state {
        enum detect_status status;      /* DETECT_OK until the first evaluation */
        bool evaluated;                 /* false: no evaluation yet (young process) */
        double slope, slope_low;        /* units per second, NAN before an evaluation */
        double level;
        double forecast;                /* seconds to the limit, INFINITY if none */
        int64_t alert_id;               /* open alert, or 0 */
};
/* Returns 0, or -ENOENT if the slot holds no process. */
int engine_proc_state(const struct engine *e, size_t slot, enum detect_kind m, struct engine_proc_state *ret);

#endif
