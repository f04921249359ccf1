/* SPDX-License-Identifier: GPL-2.0-or-later */
/* report: what an in-process agent says about its own process — the Python agent's
 * collector and heap counts, the allocator probe's mallinfo2 — as one plain struct:
 * parsed from a datagram by the agent receiver (core/agent.h, docs/agents.md has the
 * format), kept by the engine's classification trail, and stored by the store.
 * A value of -1 was not reported. */
#ifndef LEAKWATCH_REPORT_H
#define LEAKWATCH_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* Types per Python report: the agent sends the most numerous ones only, so a report
 * and its stored rows stay small whatever the program defines. */
#define AGENT_TYPES_MAX 16
/* A type's name (module.qualname) in bytes: long enough for real qualified names,
 * short enough that 16 of them fit a datagram with room to spare. */
#define AGENT_TYPE_NAME_MAX 64

/* Allocation sites per report (version 2): the ten that grew most are where a person
 * looks first; more would crowd the datagram and the alert. */
#define AGENT_SITES_MAX 10
/* Frames per site, innermost first: the allocating line and enough callers to tell
 * which use of a helper leaks. */
#define AGENT_SITE_FRAMES_MAX 8
/* A frame's token on the wire (escaped), in bytes: a long path, a line and a function. */
#define AGENT_FRAME_MAX 256

enum agent_kind { AGENT_PYTHON, AGENT_MALLOC, AGENT__KIND_MAX };
extern const char *const agent_kind_name[AGENT__KIND_MAX];        /* "python", "malloc" */

struct agent_report_type {
        char name[AGENT_TYPE_NAME_MAX + 1];       /* validated text, NUL-terminated */
        int64_t count;
};

/* An allocation site whose live memory grows. Its frames are kept as they came: escaped
 * tokens (bytes <= 0x20, 0x7f and '%' written %XX, valid UTF-8 once unescaped) separated
 * by single spaces, innermost first, NUL-terminated at site_text + off. */
struct agent_site {
        int64_t live_bytes, live_count, growth;
        uint16_t n_frames;
        uint16_t off, len;              /* the frames in the report's site_text */
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
        /* version 2: allocation sites, growth descending */
        int version;                    /* 1 or 2 */
        size_t n_sites;
        struct agent_site sites[AGENT_SITES_MAX];
        size_t site_text_len;           /* bytes of site_text in use, NULs included */
        /* Last: a copy of a report may stop at site_text + site_text_len
         * (agent_report_size()). */
        char site_text[AGENT_MSG_MAX];
};

/* The bytes of a that hold what it says: a copy of that many bytes is a whole report
 * (its unused site text left out). */
size_t agent_report_size(const struct agent_report *a);
/* The frames of site i of a (wire form, NUL-terminated). */
static inline const char *agent_site_frames(const struct agent_report *a, size_t i)
{
        return a->site_text + a->sites[i].off;
}

/* Sets every value of a to "not reported" (and the time and agent to 0). */
void agent_report_init(struct agent_report *a);

#endif
