/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pace: the sampling tick's schedule. */
#include "pace.h"

enum pace pace_next(usec_t *next_tick, usec_t interval, usec_t finished, usec_t work)
{
        usec_t next = *next_tick + interval;

        if (next > finished) {
                *next_tick = next;
                return PACE_ON_TIME;
        }
        if (work >= interval) {
                *next_tick = finished + work;
                return PACE_OVERRUN;
        }
        *next_tick = next + (finished - next) / interval * interval + interval;
        return PACE_SKIPPED;
}
