/* engine: turns each watched process's samples into detector verdicts, and verdicts into
 * stored, logged alerts with their hooks. It listens to the sampler; it owns one memory
 * detector (anon + swap) and one descriptor detector per process.
 *
 * A restart does not reset what the daemon knew: when a process is (again) watched, its
 * detectors are rebuilt by replaying its stored history, and alerts that were open when
 * the daemon stopped are taken over rather than raised twice. */
#ifndef LEAKWATCH_ENGINE_H
#define LEAKWATCH_ENGINE_H

#include <stdint.h>

#include "config.h"
#include "detect.h"
#include "hook.h"
#include "sampler.h"
#include "store.h"
#include "writer.h"

struct engine;

struct engine_env {
        struct store *store;            /* reads: history to replay, open alerts */
        struct writer *writer;          /* writes: verdicts, alerts, hook runs */
        struct hooks *hooks;            /* may be NULL: no hooks run */
        int proc_root;                  /* for /proc/PID/limits (descriptor ceiling) */
        int cgroup_root;                /* for memory.max; -1 if unavailable */
        const char *boot_id;
        int64_t (*host_headroom)(void *userdata);      /* bytes left on the host, or -1 */
        void *userdata;
};

struct engine_stats {
        unsigned open_alerts;
        uint64_t alerts;                /* opened since start */
        uint64_t evaluations;
        uint64_t verdicts;              /* state changes recorded */
        uint64_t hook_runs, hook_failures;
};

int engine_new(const struct engine_env *env, const struct config *cfg, struct engine **ret);
void engine_free(struct engine *e);

/* The sampler listener that feeds the engine. */
void engine_listener(struct engine *e, struct sampler_listener *ret);

/* After the sampler resumed the previous run's processes: closes alerts whose process
 * did not come back. */
int engine_finish_resume(struct engine *e, int64_t now_ms);

/* New configuration (windows, hooks): detectors whose parameters changed are rebuilt
 * from history. cfg must outlive e or the next call. */
int engine_reconfigure(struct engine *e, const struct config *cfg);

/* The hooks module's result callback: records the run and logs what the hook said.
 * Wire it as hooks_opts.done with the engine as userdata. */
void engine_hook_done(void *userdata, const struct hook_result *res);

void engine_get_stats(const struct engine *e, struct engine_stats *ret);

/* Judges one process on its own time scale (a `leakwatch run --window`), rebuilding its
 * detectors from history. Returns 0 or -ENOENT. */
int engine_set_window(struct engine *e, size_t slot, double window);

/* What the detectors currently think of one watched process (by the sampler's slot). */
struct engine_proc_state {
        enum detect_status status;      /* DETECT_OK until the first evaluation */
        bool evaluated;                 /* false: no evaluation yet (young process) */
        double slope, slope_low;        /* units per second, NAN before an evaluation */
        double level;
        double forecast;                /* seconds to the limit, INFINITY if none */
        int64_t alert_id;               /* open alert, or 0 */
};
/* Returns 0, or -ENOENT if the slot holds no process. m: 0 memory, 1 descriptors
 * (enum detect_kind). */
int engine_proc_state(const struct engine *e, size_t slot, int m, struct engine_proc_state *ret);

#endif
