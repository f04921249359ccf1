/* SPDX-License-Identifier: GPL-2.0-or-later */
/* forecast: the time a growing process has left before each known limit. */
#include "forecast.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

const char *const limit_name[LIMIT__MAX] = {
        [LIMIT_MEMORY_MAX] = "memory.max", [LIMIT_MEMORY_HIGH] = "memory.high", [LIMIT_HOST] = "host",
        [LIMIT_AS] = "RLIMIT_AS",          [LIMIT_DATA] = "RLIMIT_DATA",         [LIMIT_NOFILE] = "RLIMIT_NOFILE",
        [LIMIT_V1_LIMIT] = "memory.limit_in_bytes", [LIMIT_V1_SOFT] = "memory.soft_limit_in_bytes",
};

const char *const limit_phrase[LIMIT__MAX] = {
        [LIMIT_MEMORY_MAX] = "reach memory.max",
        [LIMIT_MEMORY_HIGH] = "reach memory.high",
        [LIMIT_HOST] = "exhaust host memory",
        [LIMIT_AS] = "reach RLIMIT_AS",
        [LIMIT_DATA] = "reach RLIMIT_DATA",
        [LIMIT_NOFILE] = "reach RLIMIT_NOFILE",
        [LIMIT_V1_LIMIT] = "reach memory.limit_in_bytes",
        [LIMIT_V1_SOFT] = "reach memory.soft_limit_in_bytes",
};

int limit_from_name(const char *name)
{
        for (int k = 0; k < LIMIT__MAX; k++)
                if (name && strcmp(name, limit_name[k]) == 0)
                        return k;
        return -1;
}

bool limit_applies(enum limit_kind k, enum detect_kind m)
{
        return (k == LIMIT_NOFILE) == (m == DETECT_FDS);
}

void limit_set_init(struct limit_set *s)
{
        for (int k = 0; k < LIMIT__MAX; k++)
                s->room[k] = NAN;
        s->level = NAN;
}

/* Seconds until room is used up at rate: 0 if it already is, INFINITY if not growing. */
static double time_to(double room, double rate)
{
        if (room <= 0)
                return 0;
        return rate > 0 ? room / rate : INFINITY;
}

void forecast_limits(const struct limit_set *set, enum detect_kind m, double level, double rate, double rate_low,
                     struct forecast *ret)
{
        /* Growth since the reading has eaten into each limit's room; a process that
         * shrank since did not give any back to a cgroup or the host that others share. */
        double grown = isfinite(level) && isfinite(set->level) && level > set->level ? level - set->level : 0;

        if (isnan(rate_low))
                rate_low = rate;
        ret->nearest = -1;
        for (int k = 0; k < LIMIT__MAX; k++) {
                double room = set->room[k];

                if (!limit_applies((enum limit_kind)k, m) || isnan(room)) {
                        ret->room[k] = ret->seconds[k] = ret->seconds_low[k] = NAN;
                        continue;
                }
                room = room > grown ? room - grown : 0;
                ret->room[k] = room;
                ret->seconds[k] = time_to(room, rate);
                ret->seconds_low[k] = time_to(room, rate_low);
                if (ret->nearest < 0 || ret->seconds[k] < ret->seconds[ret->nearest] ||
                    (ret->seconds[k] == ret->seconds[ret->nearest] && room < ret->room[ret->nearest]))
                        ret->nearest = k;
        }
}

void forecast_from_rooms(const double room[LIMIT__MAX], enum detect_kind m, double rate, double rate_low,
                         struct forecast *ret)
{
        struct limit_set set;

        limit_set_init(&set);
        memcpy(set.room, room, sizeof(set.room));
        forecast_limits(&set, m, NAN, rate, rate_low, ret);
}

int forecast_within(const struct forecast *f, double horizon)
{
        return f->nearest >= 0 && f->seconds[f->nearest] <= horizon ? f->nearest : -1;
}

void forecast_format(double seconds, char *buf, size_t sz)
{
        if (isnan(seconds))
                snprintf(buf, sz, "unknown");
        else if (!isfinite(seconds))
                snprintf(buf, sz, "never at this rate");
        else if (seconds < 60)
                snprintf(buf, sz, "%.0f s", floor(seconds));
        else if (seconds < 3600)
                /* Rounded down: an alert had better say too little time than too much. */
                snprintf(buf, sz, "%.0f min", floor(seconds / 60));
        else
                format_duration(seconds, buf, sz);
}
