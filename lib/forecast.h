/* SPDX-License-Identifier: GPL-2.0-or-later */
/* forecast: the time a growing process has left before each limit that is known — its
 * cgroup's memory.max and memory.high, the host's memory, its RLIMIT_AS and RLIMIT_DATA,
 * its RLIMIT_NOFILE. Pure: the limits are read elsewhere (core/headroom) as the room
 * each leaves, and go in here with the rate, the level and the time. */
#ifndef LEAKWATCH_FORECAST_H
#define LEAKWATCH_FORECAST_H

#include <stdbool.h>
#include <stddef.h>

#include "detect.h"

enum limit_kind {
        LIMIT_MEMORY_MAX,       /* the tightest memory.max of the cgroup and its ancestors */
        LIMIT_MEMORY_HIGH,      /* the same for memory.high: throttled and reclaimed above it */
        LIMIT_HOST,             /* the host's MemAvailable + SwapFree */
        LIMIT_AS,               /* RLIMIT_AS against VmSize */
        LIMIT_DATA,             /* RLIMIT_DATA against VmData */
        LIMIT_NOFILE,           /* RLIMIT_NOFILE against the open descriptors */
        /* A legacy (v1) memory hierarchy's, against memory.usage_in_bytes; a process's
         * memory is charged in one hierarchy, so these and the two above are never
         * known together. */
        LIMIT_V1_LIMIT,         /* the tightest memory.limit_in_bytes on the way up */
        LIMIT_V1_SOFT,          /* the same for memory.soft_limit_in_bytes: reclaimed
                                 * first above it when the host runs short */
        LIMIT__MAX
};

/* "memory.max", "memory.high", "host", "RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_NOFILE",
 * "memory.limit_in_bytes", "memory.soft_limit_in_bytes": the names the database, the
 * JSON and the hooks use. */
extern const char *const limit_name[LIMIT__MAX];
/* How an alert says it: "reach memory.max", "exhaust host memory", "reach RLIMIT_AS". */
extern const char *const limit_phrase[LIMIT__MAX];
/* The limit of that name, or -1. */
int limit_from_name(const char *name);
/* Whether a limit bounds the metric: the descriptor limit bounds descriptors, the
 * others memory. */
bool limit_applies(enum limit_kind k, enum detect_kind m);

/* The limits as read: for each, the room it left (units of its metric: bytes or
 * descriptors; 0 when already reached) when the process's level was `level`.
 * NAN: that limit is not known (none set, unlimited, unreadable). */
struct limit_set {
        double room[LIMIT__MAX];
        double level;                   /* the process's level at the reading; NAN: unknown */
};
/* A set with every limit unknown. */
void limit_set_init(struct limit_set *s);

/* What the forecast says of each limit. */
struct forecast {
        /* Seconds from now until the limit is reached: at the rate, and at its lower bound
         * (the later, cautious time). INFINITY: not at this rate (not growing); NAN: the
         * limit is not known. */
        double seconds[LIMIT__MAX];
        double seconds_low[LIMIT__MAX];
        double room[LIMIT__MAX];        /* what is left now, NAN if unknown */
        int nearest;                    /* the limit reached first at the rate, or -1 */
};

/* The time to each limit of metric m that the set knows, for a process at `level` now
 * growing by `rate` units per second (rate_low: the lower bound of that rate; NAN: take
 * rate). The room each limit left at the reading shrinks by what the process grew since
 * (level - set->level), for growth of the process is growth toward each of its limits. */
void forecast_limits(const struct limit_set *set, enum detect_kind m, double level, double rate, double rate_low,
                     struct forecast *ret);

/* The same from the room each limit left at a process's level then (a stored record):
 * forecast_limits() with no growth since. */
void forecast_from_rooms(const double room[LIMIT__MAX], enum detect_kind m, double rate, double rate_low,
                         struct forecast *ret);

/* The nearest limit within horizon seconds at the rate (-1 if none). */
int forecast_within(const struct forecast *f, double horizon);

/* "12 min", "1h 40m", "3 d": a time to a limit for people, always short. */
void forecast_format(double seconds, char *buf, size_t sz);

#endif
