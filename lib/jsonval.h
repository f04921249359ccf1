/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jsonval: JSON values as leakwatch writes them, wherever it writes JSON — the client's
 * --json output and the document a hook reads on stdin — so both say a time, a number
 * and a process's text the same way:
 *   - text from outside (process names, command lines) is valid UTF-8: each byte that is
 *     not part of a valid sequence becomes U+FFFD, the rest is kept exactly;
 *   - a number is printed in the shortest form that reads back as the same double, and
 *     is null when it is not finite (NAN: unknown, INFINITY: no limit in sight);
 *   - a time is ISO 8601 in UTC with milliseconds (format_iso8601), null for 0.
 * Each returns a new json-c object, or NULL: JSON null, or out of memory when the
 * input was not NULL, which the caller cannot tell apart — a document is then merely
 * missing a value, as json-c's own constructors behave. */
#ifndef LEAKWATCH_JSONVAL_H
#define LEAKWATCH_JSONVAL_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* A string from untrusted bytes (len of them; they may hold NULs). NULL: null. */
struct json_object *json_text(const char *s, size_t len);
/* A string from a NUL-terminated text, cleaned as json_text(); NULL: null. */
struct json_object *json_str(const char *s);
/* A number, or null when not finite. */
struct json_object *json_num(double v);
/* A time (ms since the epoch), or null for 0. */
struct json_object *json_time(int64_t ms);
/* Adds key = value to obj; value may be NULL (JSON null). Returns 0 or -ENOMEM. */
int json_add(struct json_object *obj, const char *key, struct json_object *value);

#endif
