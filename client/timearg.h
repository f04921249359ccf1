/* SPDX-License-Identifier: GPL-2.0-or-later */
/* timearg: the times people type after --since and --until, as journalctl takes them.
 *
 *   now, today, yesterday, tomorrow      (midnight for the day words)
 *   2026-11-24 10:00[:00]                (local time, or UTC with utc)
 *   2026-11-24                           (midnight)
 *   10:00[:00]                           (today at)
 *   2026-11-24T10:00:00[.123][Z|+01:00]  (ISO 8601; a zone wins over utc)
 *   -1h, +30m, -1h30m, -1 week, -2 days  (from now; units of parse_duration or words)
 *   1 hour ago, 2 days ago, 30min ago    (from now)
 *   @1732442400                          (Unix time, seconds)
 *
 * Pure but for the time zone: local times go through mktime() under $TZ. */
#ifndef LEAKWATCH_TIMEARG_H
#define LEAKWATCH_TIMEARG_H

#include <stdbool.h>
#include <stdint.h>

/* Parses s relative to now_ms. Returns 0 and the time in ms since the epoch, or
 * -EINVAL (not a time) / -ERANGE (out of range). */
int timearg_parse(const char *s, int64_t now_ms, bool utc, int64_t *ret_ms);

#endif
