/* SPDX-License-Identifier: GPL-2.0-or-later */
/* objects: the JSON objects of the stable output — process, rule, alert, verdict, hook
 * run, sample — built in one place so every command prints the same fields with the
 * same names (leakwatch(1), JSON OUTPUT, lists them). Times come as "X" (ISO 8601 UTC)
 * and "X_ms" (ms since the epoch); memory in bytes, rates per second, unknown as null.
 * Each function returns a new object, or NULL when out of memory. */
#ifndef LEAKWATCH_OBJECTS_H
#define LEAKWATCH_OBJECTS_H

#include <json-c/json.h>

#include "query.h"
#include "sample.h"

/* Adds key (ISO 8601) and key_ms for a time; 0 gives nulls. */
int json_add_time(struct json_object *o, const char *key, int64_t ms);

struct json_object *obj_process(const struct query_process *p);
/* Adds the latest sample's values to a process object: sample_time, rss, anon, swap,
 * memory, fds, ... (null where unknown; all null without a sample). */
int obj_add_sample(struct json_object *o, const struct sample *s);
struct json_object *obj_rule(const struct query_rule *r);
struct json_object *obj_alert(const struct query_alert *a);
/* What an alert was raised on, or its latest evaluation (e->present), with the time to
 * each known limit of metric m (limits: {"memory.max": {room, seconds, seconds_low}}). */
struct json_object *obj_alert_evidence(const struct query_alert_evidence *e, enum detect_kind m);
/* The time to each limit from such a record: its room at its time, at its rate. */
void alert_evidence_forecast(const struct query_alert_evidence *e, enum detect_kind m, struct forecast *ret);
struct json_object *obj_verdict(const struct query_verdict *v);
struct json_object *obj_hook_run(const struct query_hook_run *h);
struct json_object *obj_restart(const struct query_restart *x);
struct json_object *obj_bundle(const struct query_bundle *x);
/* The allocation sites as an array: agent, time, rank, live_bytes, live_count, growth,
 * frames (innermost first, unescaped). */
struct json_object *obj_sites(const struct query_site *s, size_t n);

#endif
