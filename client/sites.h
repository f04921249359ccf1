/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sites: the allocation sites an agent reported, printed under an alert or a process. */
#ifndef LEAKWATCH_CLIENT_SITES_H
#define LEAKWATCH_CLIENT_SITES_H

#include <stddef.h>

#include "output.h"
#include "query.h"

/* "Sites" and one line per site: growth, what is live, the frames innermost first
 * ("a.py:12 < b.py:40"), escaped as they were stored and then for the terminal.
 * Prints nothing when n is 0. */
void sites_print(const struct out *o, const struct query_site *s, size_t n);

#endif
