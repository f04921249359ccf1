/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pace: when the next sampling tick is due, given when the last one was due, when it
 * finished and how long its sampling took. Pure: time is an argument.
 *
 * Ticks keep to a grid of the interval. A tick that ends past its successor's deadline
 * either was late for reasons of its own (a suspended machine, a fold of the database
 * that comes every minute or so): the missed ticks are skipped and the grid goes on; or
 * its sampling alone outlasted the interval: then the daemon leaves as much idle time as
 * the sampling took before the next tick, so it samples less often (at most half its
 * time busy) instead of queueing ticks behind ticks without bound. */
#ifndef LEAKWATCH_PACE_H
#define LEAKWATCH_PACE_H

#include "util.h"

enum pace {
        PACE_ON_TIME,                   /* the next tick is the next grid point */
        PACE_SKIPPED,                   /* late: missed grid points skipped */
        PACE_OVERRUN,                   /* sampling outlasted the interval: slowed down */
};

/* *next_tick: in, the deadline of the tick that ran; out, the next one. work: the tick's
 * sampling time, without the periodic housekeeping (fold, retention). */
enum pace pace_next(usec_t *next_tick, usec_t interval, usec_t finished, usec_t work);

#endif
