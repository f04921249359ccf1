/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report: what an in-process agent says about its own process. */
#include "report.h"

#include <stddef.h>
#include <string.h>

const char *const agent_kind_name[AGENT__KIND_MAX] = { "python", "malloc" };

void agent_report_init(struct agent_report *a)
{
        memset(a, 0, offsetof(struct agent_report, site_text));
        a->gc_enabled = -1;
        a->version = 1;
        for (int g = 0; g < 3; g++)
                a->gc_threshold[g] = a->gc_count[g] = a->gc_collections[g] = a->gc_collected[g] =
                        a->gc_uncollectable[g] = -1;
        a->gc_garbage = a->blocks = a->traced = a->traced_peak = a->objects = a->stride = -1;
        a->arena = a->in_use = a->free = a->mmapped = a->keepcost = -1;
}

size_t agent_report_size(const struct agent_report *a)
{
        return offsetof(struct agent_report, site_text) + a->site_text_len;
}
