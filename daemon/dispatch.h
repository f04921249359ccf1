/* SPDX-License-Identifier: GPL-2.0-or-later */
/* dispatch: what the daemon does with the engine's conclusions once the watch has
 * recorded them —
 * an alert event becomes a journal message (with MESSAGE_ID and LEAKWATCH_* fields) and
 * runs the hooks configured for it, globally and for its rule; each hook run becomes a
 * row when it starts and again when it ends, and what the hook printed goes to the log.
 * A rule with escalate = restart also has its alerts considered for a restart of the
 * process's service (restart.h), each decision recorded and logged.
 * A verdict is logged at debug level; what the engine could not do, as a warning. */
#ifndef LEAKWATCH_DISPATCH_H
#define LEAKWATCH_DISPATCH_H

#include <stdint.h>

#include "config.h"
#include "engine.h"
#include "hook.h"
#include "restart.h"
#include "watch.h"

struct dispatch;

struct dispatch_env {
        struct hooks *hooks;            /* NULL: no hook runs */
        struct watch *watch;            /* hook runs are recorded through its writer */
        struct config *const *cfg;      /* main's current configuration, followed on reload */
        /* The watch's wall clock, ms since the epoch: a hook's end is stamped with it. */
        int64_t (*now_ms)(void *userdata);
        void *userdata;
        sd_event *event;                /* the loop restart requests are sent from */
        const char *self_unit;          /* leakwatchd's own system unit, "" none */
};

struct dispatch_stats {
        uint64_t hook_runs, hook_failures;
        uint64_t restarts;              /* requested of systemd */
};

int dispatch_new(const struct dispatch_env *env, struct dispatch **ret);
void dispatch_free(struct dispatch *d);

/* The engine's sink, telling the world through d. */
void dispatch_sink(struct dispatch *d, struct engine_sink *ret);

/* A hook's result (hooks_opts.done): records the run and logs what the hook said. */
void dispatch_hook_done(struct dispatch *d, const struct hook_result *res);

void dispatch_get_stats(const struct dispatch *d, struct dispatch_stats *ret);

/* Closes what waits for systemd: before the watch's last flush, so nothing is left to
 * record after it. */
void dispatch_stop(struct dispatch *d);

#endif
