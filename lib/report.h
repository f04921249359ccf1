/* report: what an in-process agent says about its own process — the Python agent's
 * collector and heap counts, the allocator probe's mallinfo2 — as one plain struct:
 * parsed from a datagram by the agent receiver (core/agent.h, docs/agents.md has the
 * format), kept by the engine's classification trail, and stored by the store.
 * A value of -1 was not reported. */
#ifndef LEAKWATCH_REPORT_H
#define LEAKWATCH_REPORT_H

#include <stddef.h>
#include <stdint.h>

/* Types per Python report: the agent sends the most numerous ones only, so a report
 * and its stored rows stay small whatever the program defines. */
#define AGENT_TYPES_MAX 16
/* A type's name (module.qualname) in bytes: long enough for real qualified names,
 * short enough that 16 of them fit a datagram with room to spare. */
#define AGENT_TYPE_NAME_MAX 64

enum agent_kind { AGENT_PYTHON, AGENT_MALLOC, AGENT__KIND_MAX };
extern const char *const agent_kind_name[AGENT__KIND_MAX];        /* "python", "malloc" */

struct agent_report_type {
        char name[AGENT_TYPE_NAME_MAX + 1];       /* validated text, NUL-terminated */
        int64_t count;
};

/* One report. A value of -1 was not reported (and is stored as NULL). */
struct agent_report {
        int64_t t_ms;
        enum agent_kind agent;
        /* python */
        int gc_enabled;                 /* 0, 1, or -1 */
        int64_t gc_threshold[3], gc_count[3], gc_collections[3], gc_collected[3], gc_uncollectable[3];
        int64_t gc_garbage, blocks, traced, traced_peak;
        int64_t objects, stride;        /* the type count, if this report made one */
        struct agent_report_type types[AGENT_TYPES_MAX];
        size_t n_types;
        /* malloc */
        int64_t arena, in_use, free, mmapped, keepcost;
};

/* Sets every value of a to "not reported" (and the time and agent to 0). */
void agent_report_init(struct agent_report *a);

#endif
