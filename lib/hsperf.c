/* hsperf: the HotSpot performance-data file, checked whole, then read entry by entry. */
#include "hsperf.h"

#include <errno.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>

#include "util.h"

/* The prologue (HotSpot's PerfDataPrologue): magic (always big-endian bytes
 * ca fe c0 c0), byte order (0 big, 1 little), major and minor version, accessible,
 * used, overflow, a modification time stamp, the first entry's offset and the count. */
#define PROLOGUE_SIZE 32
#define OFF_BYTE_ORDER 4
#define OFF_MAJOR 5
#define OFF_ACCESSIBLE 7
#define OFF_USED 8
#define OFF_ENTRY_OFFSET 24
#define OFF_NUM_ENTRIES 28
/* An entry's header (PerfDataEntry): entry length, name offset, vector length, type,
 * flags, units, variability, data offset. */
#define ENTRY_HEADER_SIZE 20

static uint32_t get32(const uint8_t *p, bool little)
{
        return little ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 :
                        (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static uint64_t get64(const uint8_t *p, bool little)
{
        return little ? (uint64_t)get32(p, true) | (uint64_t)get32(p + 4, true) << 32 :
                        (uint64_t)get32(p, false) << 32 | (uint64_t)get32(p + 4, false);
}

static size_t type_size(char t)
{
        switch (t) {
        case 'B': case 'Z':
                return 1;
        case 'C': case 'S':
                return 2;
        case 'I': case 'F':
                return 4;
        case 'J': case 'D':
                return 8;
        default:
                return 0;
        }
}

/* Checks the entry at off of the used part [0, used) and describes it. Returns its
 * length (> 0) or -EINVAL. */
static int64_t entry_at(const uint8_t *b, size_t used, size_t off, bool little, struct hsperf_entry *ret)
{
        uint32_t len, name_off, vec, data_off;
        size_t name_len, tsize, size;
        const uint8_t *e = b + off;

        if (off > used || used - off < ENTRY_HEADER_SIZE)
                return -EINVAL;
        len = get32(e, little);
        name_off = get32(e + 4, little);
        vec = get32(e + 8, little);
        data_off = get32(e + 16, little);
        if (len < ENTRY_HEADER_SIZE || len > used - off)
                return -EINVAL;
        if (name_off < ENTRY_HEADER_SIZE || name_off >= len || data_off < ENTRY_HEADER_SIZE || data_off > len)
                return -EINVAL;
        /* The name: printable ASCII, NUL-terminated inside the entry, before the data
         * when the data follows it. */
        name_len = strnlen((const char *)e + name_off, MIN((size_t)(len - name_off), (size_t)HSPERF_NAME_MAX));
        if (name_len == 0 || name_len >= len - name_off || name_len >= HSPERF_NAME_MAX)
                return -EINVAL;
        for (size_t i = 0; i < name_len; i++)
                if (e[name_off + i] <= 0x20 || e[name_off + i] >= 0x7f)
                        return -EINVAL;
        if (data_off > name_off && data_off <= name_off + name_len)
                return -EINVAL;
        tsize = type_size((char)e[12]);
        if (tsize == 0 || e[14] < 1 || e[14] > 6)
                return -EINVAL;
        /* vec counts elements; bounded by the entry, so the product cannot overflow. */
        if (vec > len)
                return -EINVAL;
        size = vec ? (size_t)vec * tsize : tsize;
        if (size > len - data_off)
                return -EINVAL;
        *ret = (struct hsperf_entry){
                .name = (const char *)e + name_off,
                .type = (char)e[12],
                .units = e[14],
                .count = vec,
                .data = e + data_off,
                .size = size,
                .value = vec == 0 && e[12] == 'J' ? (int64_t)get64(e + data_off, little) : 0,
        };
        return len;
}

/* Walks the entries; cb NULL checks them only. */
static int walk(const uint8_t *b, size_t used, size_t first, uint32_t n, bool little, hsperf_cb cb, void *userdata)
{
        size_t off = first;

        for (uint32_t i = 0; i < n; i++) {
                struct hsperf_entry e;
                int64_t len = entry_at(b, used, off, little, &e);
                int r;

                if (len < 0)
                        return (int)len;
                if (cb) {
                        r = cb(&e, userdata);
                        if (r != 0)
                                return r;
                }
                off += (size_t)len;
        }
        return 0;
}

int hsperf_for_each(const void *buf, size_t len, hsperf_cb cb, void *userdata)
{
        static const uint8_t magic[4] = { 0xca, 0xfe, 0xc0, 0xc0 };
        const uint8_t *b = buf;
        uint32_t used, first, n;
        bool little;
        int r;

        if (!b || len < PROLOGUE_SIZE || len > HSPERF_FILE_MAX || memcmp(b, magic, sizeof(magic)) != 0 ||
            b[OFF_BYTE_ORDER] > 1)
                return -EINVAL;
        if (b[OFF_MAJOR] != 2)
                return -EPROTONOSUPPORT;
        if (!b[OFF_ACCESSIBLE])
                return -EAGAIN;
        little = b[OFF_BYTE_ORDER] == 1;
        used = get32(b + OFF_USED, little);
        first = get32(b + OFF_ENTRY_OFFSET, little);
        n = get32(b + OFF_NUM_ENTRIES, little);
        if (used < PROLOGUE_SIZE || used > len || first < PROLOGUE_SIZE || first > used ||
            n > (used - first) / ENTRY_HEADER_SIZE)
                return -EINVAL;
        /* Whole first: a caller never acts on part of a buffer that turns out bad. */
        r = walk(b, used, first, n, little, NULL, NULL);
        if (r < 0 || !cb)
                return r;
        return walk(b, used, first, n, little, cb, userdata);
}

/* What the parse collects: the result, and the two capacities it sums. */
struct picked {
        struct hsperf_jvm j;
        int64_t cap[2];
};

static int pick(const struct hsperf_entry *e, void *userdata)
{
        struct picked *pk = userdata;
        struct hsperf_jvm *j = &pk->j;
        static const struct {
                const char *name;
                size_t field;
        } scalars[] = {
                { "sun.gc.generation.1.space.0.used", offsetof(struct hsperf_jvm, old_used) },
                { "sun.gc.generation.1.space.0.capacity", offsetof(struct hsperf_jvm, old_capacity) },
                { "sun.gc.metaspace.used", offsetof(struct hsperf_jvm, metaspace_used) },
                { "sun.gc.collector.0.invocations", offsetof(struct hsperf_jvm, young_gcs) },
                { "sun.gc.collector.1.invocations", offsetof(struct hsperf_jvm, old_gcs) },
                { "java.threads.live", offsetof(struct hsperf_jvm, threads) },
        };
        static const char young[] = "sun.gc.generation.0.space.", used[] = ".used";
        size_t n;

        if (e->type != 'J' || e->count != 0)
                return 0;
        if (strcmp(e->name, "sun.gc.generation.0.capacity") == 0 || strcmp(e->name, "sun.gc.generation.1.capacity") == 0) {
                pk->cap[e->name[18] - '0'] = e->value;
                return 0;
        }
        for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
                if (strcmp(e->name, scalars[i].name) == 0) {
                        /* By bytes: the offset is a field's, but the compiler cannot see it. */
                        memcpy((char *)j + scalars[i].field, &e->value, sizeof(e->value));
                        return 0;
                }
        /* Eden and the survivor spaces: "sun.gc.generation.0.space.N.used". */
        n = strlen(e->name);
        if (strncmp(e->name, young, sizeof(young) - 1) == 0 && n > sizeof(young) + sizeof(used) - 2 &&
            strcmp(e->name + n - (sizeof(used) - 1), used) == 0 && e->value >= 0)
                j->young_used = (j->young_used < 0 ? 0 : j->young_used) + e->value;
        return 0;
}

int hsperf_parse(const void *buf, size_t len, struct hsperf_jvm *ret)
{
        struct picked pk = { .j = { -1, -1, -1, -1, -1, -1, -1, -1 }, .cap = { -1, -1 } };
        int r = hsperf_for_each(buf, len, pick, &pk);

        if (r < 0)
                return r;
        /* Each below 2^62 (a JVM's heap is far smaller): the sum cannot overflow. */
        if (pk.cap[0] >= 0 && pk.cap[1] >= 0 && pk.cap[0] < INT64_MAX / 2 && pk.cap[1] < INT64_MAX / 2)
                pk.j.heap_capacity = pk.cap[0] + pk.cap[1];
        *ret = pk.j;
        return 0;
}
