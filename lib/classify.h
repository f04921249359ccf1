/* classify: what kind of leak an alert is, from what the daemon saw from outside and
 * what in-process agents reported from inside, over the alert's evidence window.
 *
 * Pure: the caller feeds the window's samples and agent reports (classify_add_*), then
 * classify() names a class and writes one sentence the client prints as it is, e.g.
 *   "python objects growing: dict +120k, str +118k, list +60k; gc disabled"
 *   "native memory growing outside Python's heap (a C extension or ctypes): ..."
 *   "allocator retention or fragmentation: ..."
 * Every series is judged by its floors, as the detector judges memory: the minimum over
 * the first quarter of the window against the minimum over the last quarter, so a
 * collector's sawtooth or a burst of short-lived allocations does not read as growth.
 * docs/agents.md gives the rules and the reason for each threshold. */
#ifndef LEAKWATCH_CLASSIFY_H
#define LEAKWATCH_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"
#include "store.h"

/* The sentence, NUL included: one line in a table or a journal message. */
#define CLASSIFY_TEXT_MAX 256

enum classify_class {
        CLASS_DESCRIPTORS,      /* the descriptor count rises */
        CLASS_PYTHON_OBJECTS,   /* Python objects pile up; the growing types are named */
        CLASS_PYTHON_HEAP,      /* Python's heap grows, no type counts in the window yet */
        CLASS_NATIVE,           /* anonymous memory rises, Python's heap is flat */
        CLASS_ALLOCATOR,        /* resident memory rises, malloc's bytes in use do not */
        CLASS_MALLOC_HEAP,      /* malloc's bytes in use rise: the program's own leak */
        CLASS_OUTSIDE_MALLOC,   /* anonymous memory rises, malloc's arenas do not */
        CLASS_FILE_SHARED,      /* file-backed or shared memory: not a heap leak */
        CLASS_ANONYMOUS,        /* no agent: anonymous memory, and no more is known */
        CLASS__MAX
};
/* Stable tokens (alert_kind.class): "descriptors", "python-objects", "python-heap",
 * "native", "allocator", "malloc-heap", "outside-malloc", "file-shared", "anonymous". */
extern const char *const classify_class_name[CLASS__MAX];

/* A series' floor at the start and at the end of the window. */
struct classify_floor {
        double first;           /* minimum over the window's first quarter; NAN: none */
        double last;            /* minimum over its last quarter; NAN: none */
        double latest;          /* the newest value; NAN: none */
        double latest_t;
        unsigned n;
};

/* The newest and the oldest Python report of the window that counted objects by type. */
struct classify_types {
        bool known;
        int64_t objects;
        size_t n;
        struct store_agent_type t[STORE_AGENT_TYPES_MAX];
};

struct classify_input {
        double from, to;                /* the evidence window, seconds (any time base) */
        bool fds;                       /* the alert is about descriptors */
        double growth;                  /* the detector's growth over the window (bytes or
                                         * descriptors); NAN if unknown */
        /* outside: /proc samples */
        struct classify_floor anon, swap, file, shmem, nfds;
        /* the Python agent */
        unsigned py_reports;
        int gc_enabled;                 /* at the newest report: 0, 1, -1 unknown */
        struct classify_floor blocks, traced, garbage, uncollectable;
        struct classify_types types_first, types_last;
        /* the allocator probe */
        unsigned malloc_reports;
        struct classify_floor in_use, free, arena;
};

/* Starts an empty input for the window [from, to] (seconds). */
void classify_init(struct classify_input *in, double from, double to, bool fds, double growth);
/* Adds a /proc sample (its time in ms, the same base as from and to x 1000). */
void classify_add_sample(struct classify_input *in, const struct sample *smp);
/* Adds an agent report; reports outside the window are ignored. Reports are added in
 * time order (the newest decides whether the collector is on). */
void classify_add_agent(struct classify_input *in, const struct store_agent_sample *a);

struct classify_result {
        enum classify_class cls;
        bool python, malloc;            /* the agents' data it rests on */
        char text[CLASSIFY_TEXT_MAX];
};

void classify(const struct classify_input *in, struct classify_result *ret);

/* The agents a result rests on in words ("python", "malloc", "python malloc"), or NULL. */
const char *classify_agents(const struct classify_result *r);

#endif
