/* report: what an in-process agent says about its own process. */
#include "report.h"

const char *const agent_kind_name[AGENT__KIND_MAX] = { "python", "malloc" };

void agent_report_init(struct agent_report *a)
{
        *a = (struct agent_report){ .gc_enabled = -1 };
        for (int g = 0; g < 3; g++)
                a->gc_threshold[g] = a->gc_count[g] = a->gc_collections[g] = a->gc_collected[g] =
                        a->gc_uncollectable[g] = -1;
        a->gc_garbage = a->blocks = a->traced = a->traced_peak = a->objects = a->stride = -1;
        a->arena = a->in_use = a->free = a->mmapped = a->keepcost = -1;
}
