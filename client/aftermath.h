/* SPDX-License-Identifier: GPL-2.0-or-later */
/* aftermath: what came of an alert — the allocation sites its process's agents named,
 * the evidence bundles kept for it (where each is and what it holds) and the restarts
 * decided — read for it, printed, and added to its JSON object the same way by
 * `alerts ID`, `alerts --json`, `show` and the report of `run`.
 *
 * What a bundle holds is its directory's listing, read when it is printed (the database
 * keeps its path, size and file count): the daemon makes it mode 0700, so a user who is
 * not leakwatchd's sees why it could not be listed instead. The path comes from the
 * database: listed without following a link, its regular files only, at most
 * AFTERMATH_FILES_MAX of them; names are process-independent but escaped all the same. */
#ifndef LEAKWATCH_AFTERMATH_H
#define LEAKWATCH_AFTERMATH_H

#include <json-c/json.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "output.h"
#include "query.h"

/* A bundle has about twenty files (the process's, its cgroup's nine, the agents' and
 * the chart); more is not one the daemon made, and is listed as far as this. */
#define AFTERMATH_FILES_MAX 64

struct aftermath {
        struct query_site *sites;       /* the newest each agent reported, start of the evidence to the end */
        size_t nsites;
        struct query_bundle *bundles;
        size_t nbundles;
        struct query_restart *restarts;
        size_t nrestarts;
};

/* Reads what came of alert a. Returns 0 or -errno (query_errmsg() says why). */
int aftermath_read(struct query *q, const struct query_alert *a, struct aftermath *ret);
void aftermath_free(struct aftermath *x);

/* A bundle's files, by name, with their sizes. */
struct aftermath_file {
        char name[NAME_MAX + 1];
        int64_t bytes;
};
/* Lists the bundle's directory at path into ret (sorted by name), at most max files.
 * Returns how many there are (perhaps more than max), or -errno. */
int aftermath_list(const char *path, struct aftermath_file *ret, size_t max);

/* Adds "sites", "bundles" (each with "holds": [{name, bytes}], or null with
 * "holds_error" saying why the directory could not be listed) and "restarts" to the
 * alert's object o. Returns 0 or -ENOMEM. */
int aftermath_json(struct json_object *o, const struct aftermath *x);

/* The bundles, one line each ("TIME EVENT: PATH (N files, SIZE); what is missing"),
 * each followed by what it holds ("holds: alert.json, census, ..."), every line
 * indented by indent columns. Prints nothing for none. */
void aftermath_print_bundles(const struct out *o, const struct query_bundle *x, size_t n, unsigned indent);

#endif
