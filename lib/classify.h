/* SPDX-License-Identifier: GPL-2.0-or-later */
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

#include "detect.h"
#include "report.h"
#include "sample.h"

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
        CLASS_JAVA_HEAP,        /* a JVM's old generation grows across collections */
        CLASS_JAVA_METASPACE,   /* a JVM's metaspace grows: classes keep being loaded */
        CLASS_JAVA_THREADS,     /* a JVM's live threads keep rising (stacks are native) */
        CLASS_JAVA_NATIVE,      /* a JVM grows outside its heap, which stays flat */
        CLASS__MAX
};
/* Stable tokens (alert_kind.class): "descriptors", "python-objects", "python-heap",
 * "native", "allocator", "malloc-heap", "outside-malloc", "file-shared", "anonymous",
 * "java-heap", "java-metaspace", "java-threads", "java-native". */
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
        struct agent_report_type t[AGENT_TYPES_MAX];
};

/* Allocation sites kept per agent for an alert: the three that grew most, the first
 * places a person looks (the client reads all of them from the database). */
#define CLASSIFY_SITES 3

struct classify_site {
        int64_t growth, live;
        char frame[AGENT_FRAME_MAX + 1];        /* the innermost frame, wire form (escaped) */
};

/* The newest report of one agent that carried allocation sites. */
struct classify_sites {
        bool known;
        double t;                       /* its time, seconds */
        double since;                   /* when that agent began tracing (its sites' growth
                                         * counts from there) */
        int64_t growth;                 /* the growth of all its sites */
        size_t n;
        struct classify_site top[CLASSIFY_SITES];
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
        /* the runtime the process looks like from outside (classify_runtime()), or NULL:
         * named when no agent speaks for it */
        const char *runtime;
        /* a JVM's performance data (lib/hsperf.h), read from outside at evaluations */
        unsigned jvm_reports;
        struct classify_floor old_used, heap_used, metaspace, threads;  /* heap: old + young */
        struct classify_floor heap_committed;
        int64_t old_gcs_first, old_gcs_last;    /* -1: unknown */
        int64_t old_capacity;                   /* the latest; -1: unknown */
        /* allocation sites, per agent (enum agent_kind) */
        struct classify_sites sites[AGENT__KIND_MAX];
        bool tracing[AGENT__KIND_MAX];  /* its last report was tracing (sites or traced) */
};

/* The language runtime a process runs, as far as its name and the first word of its
 * command line tell (both chosen by the process: a hint, never proof): "java", "node",
 * "deno", "bun", "python", "ruby", "perl", "php", "dotnet", "erlang", "lua", or NULL. */
const char *classify_runtime(const char *comm, const char *cmdline);

/* Starts an empty input for the window [from, to] (seconds). */
void classify_init(struct classify_input *in, double from, double to, bool fds, double growth);
/* Adds a /proc sample (its time in ms, the same base as from and to x 1000). */
void classify_add_sample(struct classify_input *in, const struct sample *smp);
/* Adds what a JVM's performance data said at time t (seconds, the window's base), in
 * time order; outside the window it is ignored. */
struct hsperf_jvm;
void classify_add_jvm(struct classify_input *in, double t, const struct hsperf_jvm *j);
/* Adds an agent report; reports outside the window are ignored. Reports are added in
 * time order (the newest decides whether the collector is on). */
void classify_add_agent(struct classify_input *in, const struct agent_report *a);

struct classify_result {
        enum classify_class cls;
        bool python, malloc;            /* the agents' data it rests on */
        bool sites;                     /* the sentence names an allocation site */
        char text[CLASSIFY_TEXT_MAX];
};

void classify(const struct classify_input *in, struct classify_result *ret);

/* The agents a result rests on in words ("python", "malloc", "python malloc"), or NULL. */
const char *classify_agents(const struct classify_result *r);

/* ---- the trail: a process's input, kept as it comes ----
 *
 * An alert is classified when it opens and each time its numbers change, over the
 * evidence window of its verdict: the watch keeps one trail per watched process and
 * feeds it what it feeds the detectors (and the agents' reports), so the input is at
 * hand without reading the process's history back from the database.
 *
 * A trail keeps, for each of the last CLASSIFY_TRAIL_BUCKETS buckets of a grid
 * (origin + k x width, k >= 0: the memory detector's buckets, whose evidence windows
 * start and end on their edges), the floor of each series classify() looks at and what
 * the agents reported in it. classify_trail_input() then gives the input that
 * classify_add_*() over the window's own samples and reports would have given, with one
 * difference: a quarter of the window whose edge falls inside a bucket (a window of a
 * bucket count that is not a multiple of four) takes that whole bucket's floor.
 *
 * Cost: the outside series take 20 bytes a bucket (KiB and counts as 32-bit integers,
 * the kernel's own granularity), about 1 KiB a process; the agents' part is allocated at
 * a process's first report (about 8 KiB, plus the type counts of at most two reports a
 * bucket). */
#define CLASSIFY_TRAIL_BUCKETS DETECT_MAX_BUCKETS

struct classify_trail;

/* A trail on the grid (origin, width), both in seconds of the samples' time base, width
 * > 0. Returns 0 or -ENOMEM. */
int classify_trail_new(double origin, double width, struct classify_trail **ret);
/* Accepts NULL. */
void classify_trail_free(struct classify_trail *t);
/* Forgets everything and starts over on another grid (the detector was rebuilt). */
void classify_trail_reset(struct classify_trail *t, double origin, double width);

/* Adds a sample (before the origin, or older than the trail keeps: ignored). */
void classify_trail_add_sample(struct classify_trail *t, const struct sample *smp);
/* Adds an agent's report, as classify_add_agent() would (allocation sites: the newest
 * report's that carried some, kept whatever its bucket). Returns 0, or -ENOMEM when
 * the agents' part (or a type count) could not be allocated: that report is then not
 * kept, and the class rests on the outside data. */
int classify_trail_add_agent(struct classify_trail *t, const struct agent_report *a);

/* Asks the CPU to bring in what the next classify_trail_add_sample() touches, for a
 * caller that knows which trail comes next: stage 0 its header, stage 1 (after stage 0
 * had time to arrive) the bucket the next sample most likely goes to. A hint only:
 * nothing changes, and t may be NULL. */
void classify_trail_prefetch(const struct classify_trail *t, int stage);

/* Whether an agent has reported (t may be NULL). */
bool classify_trail_has_agents(const struct classify_trail *t);

/* The input for the window [from, to] on the trail's grid, as classify_init() and
 * classify_add_*() over the window's samples and reports would build it. */
void classify_trail_input(const struct classify_trail *t, double from, double to, bool fds, double growth,
                          struct classify_input *ret);

#endif
