/* hsperf: the HotSpot JVM's performance-data file (hsperfdata_USER/PID, what jstat
 * reads), parsed from a buffer — the JVM's heap, metaspace, threads and collections
 * seen from outside, with no attach and no agent.
 *
 * The file is written by the watched process, so every byte is untrusted: the header
 * (magic 0xcafec0c0, byte order, version 2, accessible) and every entry (its length,
 * name and data inside the used part of the buffer, a known type, a printable name)
 * are checked before use, and a buffer that fails any check is refused whole. */
#ifndef LEAKWATCH_HSPERF_H
#define LEAKWATCH_HSPERF_H

#include <stddef.h>
#include <stdint.h>

/* The JVM makes the file PerfDataMemorySize bytes (32 KiB by default, at most a few
 * hundred KiB in practice); anything larger is not read. */
#define HSPERF_FILE_MAX (1024 * 1024)
/* Counter names are dotted paths well under this ("sun.gc.generation.1.space.0.used"). */
#define HSPERF_NAME_MAX 256

/* One counter: a name, a type (HotSpot's type letter: 'J' a 64-bit integer, 'B' bytes,
 * a string when its units say so), and its data inside the buffer. */
struct hsperf_entry {
        const char *name;               /* NUL-terminated, inside the buffer */
        char type;                      /* 'B', 'Z', 'C', 'S', 'I', 'F', 'J' or 'D' */
        int units;                      /* 1 none, 2 bytes, 3 ticks, 4 events, 5 string, 6 hertz */
        uint32_t count;                 /* 0 for a scalar, else the vector's length */
        const uint8_t *data;
        size_t size;                    /* bytes of data */
        int64_t value;                  /* a 'J' scalar's value (in the file's byte order) */
};

/* Calls cb for each entry, in file order; a non-zero return stops the walk and is
 * returned. Returns 0; -EINVAL (not a performance-data buffer, or malformed: then no
 * entry was reported, the whole buffer being checked first); -EPROTONOSUPPORT (a
 * version other than 2); -EAGAIN (the JVM has not made it accessible yet). */
typedef int (*hsperf_cb)(const struct hsperf_entry *e, void *userdata);
int hsperf_for_each(const void *buf, size_t len, hsperf_cb cb, void *userdata);

/* What leak classification reads: -1 when the JVM does not publish it. The old
 * generation is generation 1 (tenured for Serial and Parallel, "old" for G1). */
struct hsperf_jvm {
        int64_t old_used, old_capacity;         /* bytes: sun.gc.generation.1.space.0.* */
        int64_t young_used;                     /* bytes: eden and survivors of generation 0 */
        int64_t heap_capacity;                  /* bytes committed: generations 0 and 1 */
        int64_t metaspace_used;                 /* bytes: sun.gc.metaspace.used */
        int64_t young_gcs, old_gcs;             /* sun.gc.collector.0 and .1 invocations */
        int64_t threads;                        /* java.threads.live */
};

/* Fills ret from a performance-data buffer. Returns 0 or what hsperf_for_each() returns. */
int hsperf_parse(const void *buf, size_t len, struct hsperf_jvm *ret);

#endif
