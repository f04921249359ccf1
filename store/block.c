/* SPDX-License-Identifier: GPL-2.0-or-later */
/* block: one process's raw samples packed into a few bytes each (the layout is in
 * block.h). All arithmetic on values is done modulo 2^64, so any int64 round-trips and
 * no input, however damaged, reaches signed overflow. */
#include "block.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS (M__MAX + 1)
#define F_UNKNOWN M__MAX
/* Most bytes one sample can take: the interval's change, the mask, a value per field. */
#define VARINT_MAX 10
#define SAMPLE_MAX_BYTES ((2 + 2 * FIELDS) * VARINT_MAX)

/* The fields in mask-bit order: those that move at most ticks of a live process first,
 * so that their mask fits one varint byte (7 bits); the rate-limited smaps and heap
 * values, which change only when read, last. F_UNKNOWN is the packed reasons. */
static const int field_order[FIELDS] = {
        M_RSS, M_ANON, M_DATA, M_MINFLT, M_FILE, M_SWAP, M_VSIZE,
        M_THREADS, M_FDS, M_SHMEM, M_MAJFLT, F_UNKNOWN, M_PSS, M_USS, M_PSS_ANON, M_SWAP_PSS,
        M_HEAP_SIZE, M_HEAP_RSS,
};

static uint64_t zigzag(int64_t x)
{
        return ((uint64_t)x << 1) ^ -((uint64_t)x >> 63);
}

static int64_t unzigzag(uint64_t u)
{
        return (int64_t)((u >> 1) ^ -(u & 1));
}

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
        uint32_t h = 2166136261u;

        while (n--) {
                h ^= *p++;
                h *= 16777619u;
        }
        return h;
}

/* ---- writing ---- */

void block_writer_init(struct block_writer *w)
{
        *w = (struct block_writer){ 0 };
        block_writer_reset(w);
}

void block_writer_reset(struct block_writer *w)
{
        uint8_t *buf = w->buf;
        size_t cap = w->cap;

        *w = (struct block_writer){ .buf = buf, .cap = cap, .len = BLOCK_HEADER };
}

void block_writer_free(struct block_writer *w)
{
        free(w->buf);
        *w = (struct block_writer){ 0 };
}

/* Room for need bytes in *buf, doubling from first: 0, or -ENOMEM (*buf unchanged). */
static int room(uint8_t **buf, size_t *cap, size_t need, size_t first)
{
        size_t c = *cap ? *cap * 2 : first;
        uint8_t *b;

        if (*cap >= need)
                return 0;
        while (c < need)
                c *= 2;
        b = realloc(*buf, c);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *cap = c;
        return 0;
}

/* A varint at buf + *len (at most VARINT_MAX bytes: the caller made room). */
static void varint_put(uint8_t *buf, size_t *len, uint64_t u)
{
        while (u >= 0x80) {
                buf[(*len)++] = (uint8_t)(u | 0x80);
                u >>= 7;
        }
        buf[(*len)++] = (uint8_t)u;
}

static void put_varint(struct block_writer *w, uint64_t u)
{
        varint_put(w->buf, &w->len, u);
}

/* A field's stored value: memory in KiB as the tables keep it, counts as they are. */
static bool field_value(const struct sample *smp, int f, int64_t *ret)
{
        int m = field_order[f];

        if (m == F_UNKNOWN) {
                *ret = sample_pack_why(smp);
                return true;
        }
        if (!sample_has(smp, (enum metric)m))
                return false;
        *ret = metric_info[m].unit == UNIT_BYTES ? smp->v[m] / 1024 : smp->v[m];
        return true;
}

int block_writer_add(struct block_writer *w, const struct sample *smp)
{
        int64_t v[FIELDS];
        uint32_t known = 0, mask = 0;
        int64_t dt = 0;
        uint64_t z;

        struct block_writer was;

        if (w->n >= BLOCK_MAX_SAMPLES)
                return -ENOSPC;
        if (w->n > 0 && smp->t_ms <= w->t)
                return -EINVAL;
        if (w->n == 0)
                w->len = BLOCK_HEADER; /* a zeroed writer is an empty block too */
        was = *w;
        if (room(&w->buf, &w->cap, w->len + SAMPLE_MAX_BYTES, 256) < 0)
                return -ENOMEM;
        for (int f = 0; f < FIELDS; f++) {
                if (field_value(smp, f, &v[f]))
                        known |= 1u << f;
                if (((known ^ w->known) >> f) & 1 || ((known >> f) & 1 && v[f] != w->last[f]))
                        mask |= 1u << f;
        }
        if (w->n == 0) {
                w->t0 = smp->t_ms;
                put_varint(w, zigzag(smp->t_ms));
        } else {
                dt = (int64_t)((uint64_t)smp->t_ms - (uint64_t)w->t);
                put_varint(w, zigzag((int64_t)((uint64_t)dt - (uint64_t)w->dt)));
        }
        put_varint(w, mask);
        for (int f = 0; f < FIELDS; f++) {
                if (!((mask >> f) & 1))
                        continue;
                if (!((known >> f) & 1)) {
                        put_varint(w, 1);
                        continue;
                }
                z = zigzag((int64_t)((uint64_t)v[f] - (uint64_t)w->last[f]));
                if (z >> 63) {
                        /* A difference of more than 2^62 either way: its own varint. */
                        put_varint(w, 3);
                        put_varint(w, z);
                } else {
                        put_varint(w, z << 1);
                }
                w->last[f] = v[f];
        }
        if (w->len > BLOCK_MAX_BYTES && w->n > 0) {
                /* Undone: the bytes past was.len are left unused. */
                was.buf = w->buf;
                was.cap = w->cap;
                *w = was;
                return -ENOSPC;
        }
        w->known = known;
        w->t = smp->t_ms;
        w->dt = dt;
        w->n++;
        return 0;
}

const uint8_t *block_writer_finish(struct block_writer *w, size_t *ret_len)
{
        uint32_t h;

        w->buf[0] = BLOCK_VERSION;
        w->buf[5] = FIELDS;
        w->buf[6] = (uint8_t)(w->n & 0xff);
        w->buf[7] = (uint8_t)(w->n >> 8);
        h = fnv1a(w->buf + 5, w->len - 5);
        for (int i = 0; i < 4; i++)
                w->buf[1 + i] = (uint8_t)(h >> (8 * i));
        *ret_len = w->len;
        return w->buf;
}

/* ---- reading ---- */

int block_reader_init(struct block_reader *r, const void *buf, size_t len)
{
        const uint8_t *b = buf;
        uint32_t h = 0;

        if (!b || len < BLOCK_HEADER)
                return -EBADMSG;
        if (b[0] != BLOCK_VERSION)
                return b[0] > BLOCK_VERSION ? -EPROTO : -EBADMSG;
        for (int i = 0; i < 4; i++)
                h |= (uint32_t)b[1 + i] << (8 * i);
        if (h != fnv1a(b + 5, len - 5) || b[5] != FIELDS)
                return -EBADMSG;
        *r = (struct block_reader){ .p = b + BLOCK_HEADER, .end = b + len, .fields = b[5] };
        r->n = r->left = (unsigned)b[6] | (unsigned)b[7] << 8;
        if (r->n == 0 || r->n > BLOCK_MAX_SAMPLES)
                return -EBADMSG;
        return 0;
}

/* A varint at *p, not past end: -EBADMSG if it runs past it or past 64 bits. */
static int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *ret)
{
        uint64_t u = 0;

        for (unsigned shift = 0; shift < 64; shift += 7) {
                uint8_t c;

                if (*p >= end)
                        return -EBADMSG;
                c = *(*p)++;
                /* The tenth byte holds bit 63 only. */
                if (shift == 63 && c > 1)
                        return -EBADMSG;
                u |= (uint64_t)(c & 0x7f) << shift;
                if (!(c & 0x80)) {
                        *ret = u;
                        return 0;
                }
        }
        return -EBADMSG;
}

static int get_varint(struct block_reader *r, uint64_t *ret)
{
        return varint_get(&r->p, r->end, ret);
}

int block_reader_next(struct block_reader *r, struct sample *ret)
{
        struct sample smp = { 0 };
        uint64_t u, mask;
        int64_t t;

        if (r->left == 0)
                return r->p == r->end ? 0 : -EBADMSG;
        if (get_varint(r, &u) < 0)
                return -EBADMSG;
        if (r->left == r->n) {
                t = unzigzag(u);
        } else {
                int64_t dt = (int64_t)((uint64_t)r->dt + (uint64_t)unzigzag(u));

                /* Times only grow, and never past what an int64 holds. */
                if (dt <= 0 || __builtin_add_overflow(r->t, dt, &t))
                        return -EBADMSG;
                r->dt = dt;
        }
        if (get_varint(r, &mask) < 0 || mask >> FIELDS)
                return -EBADMSG;
        for (int f = 0; f < FIELDS; f++) {
                if (!((mask >> f) & 1))
                        continue;
                if (get_varint(r, &u) < 0)
                        return -EBADMSG;
                if (u == 1) {
                        r->known &= ~(1u << f);
                        continue;
                }
                if (u == 3) {
                        if (get_varint(r, &u) < 0)
                                return -EBADMSG;
                } else if (u & 1) {
                        return -EBADMSG;
                } else {
                        u >>= 1;
                }
                r->last[f] = (int64_t)((uint64_t)r->last[f] + (uint64_t)unzigzag(u));
                r->known |= 1u << f;
        }
        for (int f = 0; f < FIELDS; f++) {
                int m = field_order[f];
                int64_t v = r->last[f];

                if (m == F_UNKNOWN) {
                        /* Always known: a block that says otherwise is damaged. */
                        if (!((r->known >> f) & 1))
                                return -EBADMSG;
                        sample_unpack_why(&smp, v);
                        continue;
                }
                if (!((r->known >> f) & 1))
                        continue;
                if (metric_info[m].unit == UNIT_BYTES) {
                        if (__builtin_mul_overflow(v, 1024, &v))
                                return -EBADMSG;
                }
                sample_set(&smp, (enum metric)m, v);
        }
        smp.t_ms = t;
        r->t = t;
        r->left--;
        *ret = smp;
        return 1;
}

/* ---- batches ---- */

/* A batch is up to a few hundred KB, read whole at every fold and query: its checksum
 * takes eight bytes a step (FNV-1a's multiplication on 64-bit words) where the blocks'
 * takes one. A change of any word changes the state for good (an xor, then a
 * multiplication by an odd number: both invertible); the length goes in last, so
 * bytes added or cut change it too. The two halves fold into 32 bits. */
static uint32_t batch_sum(const uint8_t *p, size_t n)
{
        const uint64_t prime = UINT64_C(1099511628211);
        uint64_t h = UINT64_C(14695981039346656037), w;
        size_t len = n;

        for (; n >= 8; p += 8, n -= 8) {
                w = 0;
                for (int i = 0; i < 8; i++)
                        w |= (uint64_t)p[i] << (8 * i);
                h = (h ^ w) * prime;
        }
        w = 0;
        for (size_t i = 0; i < n; i++)
                w |= (uint64_t)p[i] << (8 * i);
        h = (h ^ w) * prime;
        h = (h ^ (uint64_t)len) * prime;
        return (uint32_t)(h ^ (h >> 32));
}

static void batch_put(struct batch_writer *w, uint64_t u)
{
        varint_put(w->buf, &w->len, u);
}

void batch_writer_reset(struct batch_writer *w)
{
        uint8_t *buf = w->buf;
        size_t cap = w->cap;

        *w = (struct batch_writer){ .buf = buf, .cap = cap, .len = BATCH_HEADER };
}

void batch_writer_free(struct batch_writer *w)
{
        free(w->buf);
        *w = (struct batch_writer){ 0 };
}

int batch_writer_add(struct batch_writer *w, int64_t process_id, const struct sample *smp)
{
        /* The process and the time, the mask, a value per field. */
        const size_t most = (3 + FIELDS) * VARINT_MAX;
        int64_t v[FIELDS];
        uint32_t known = 0;

        if (process_id <= 0)
                return -EINVAL;
        if (w->n >= BATCH_MAX_SAMPLES)
                return -ENOSPC;
        if (w->n == 0)
                w->len = BATCH_HEADER; /* a zeroed writer is an empty batch too */
        if (room(&w->buf, &w->cap, w->len + most, 4096) < 0)
                return -ENOMEM;
        for (int f = 0; f < FIELDS; f++)
                if (field_value(smp, f, &v[f]))
                        known |= 1u << f;
        batch_put(w, zigzag((int64_t)((uint64_t)process_id - (uint64_t)w->last_id)));
        batch_put(w, zigzag((int64_t)((uint64_t)smp->t_ms - (uint64_t)w->last_t)));
        batch_put(w, known);
        for (int f = 0; f < FIELDS; f++)
                if ((known >> f) & 1)
                        batch_put(w, zigzag(v[f]));
        if (w->n == 0 || smp->t_ms < w->t_min)
                w->t_min = smp->t_ms;
        if (w->n == 0 || smp->t_ms > w->t_max)
                w->t_max = smp->t_ms;
        w->last_id = process_id;
        w->last_t = smp->t_ms;
        w->n++;
        return 0;
}

const uint8_t *batch_writer_finish(struct batch_writer *w, size_t *ret_len)
{
        uint32_t h;

        w->buf[0] = BATCH_VERSION;
        w->buf[5] = FIELDS;
        for (int i = 0; i < 4; i++)
                w->buf[6 + i] = (uint8_t)(w->n >> (8 * i));
        h = batch_sum(w->buf + 5, w->len - 5);
        for (int i = 0; i < 4; i++)
                w->buf[1 + i] = (uint8_t)(h >> (8 * i));
        *ret_len = w->len;
        return w->buf;
}

int batch_reader_init(struct batch_reader *r, const void *buf, size_t len)
{
        const uint8_t *b = buf;
        uint32_t h = 0, n = 0;

        if (!b || len < BATCH_HEADER)
                return -EBADMSG;
        if (b[0] != BATCH_VERSION)
                return b[0] > BATCH_VERSION ? -EPROTO : -EBADMSG;
        for (int i = 0; i < 4; i++) {
                h |= (uint32_t)b[1 + i] << (8 * i);
                n |= (uint32_t)b[6 + i] << (8 * i);
        }
        if (h != batch_sum(b + 5, len - 5) || b[5] != FIELDS || n == 0 || n > BATCH_MAX_SAMPLES)
                return -EBADMSG;
        *r = (struct batch_reader){ .p = b + BATCH_HEADER, .end = b + len, .n = n, .left = n };
        return 0;
}

static int batch_get(struct batch_reader *r, uint64_t *ret)
{
        return varint_get(&r->p, r->end, ret);
}

int batch_reader_next(struct batch_reader *r, int64_t *ret_id, struct sample *ret)
{
        struct sample smp = { 0 };
        uint64_t u, d, known;

        if (r->left == 0)
                return r->p == r->end ? 0 : -EBADMSG;
        if (batch_get(r, &u) < 0 || batch_get(r, &d) < 0 || batch_get(r, &known) < 0)
                return -EBADMSG;
        r->id = (int64_t)((uint64_t)r->id + (uint64_t)unzigzag(u));
        r->t = (int64_t)((uint64_t)r->t + (uint64_t)unzigzag(d));
        if (r->id <= 0 || known >> FIELDS)
                return -EBADMSG;
        for (int f = 0; f < FIELDS; f++) {
                int m = field_order[f];
                int64_t v;

                if (!((known >> f) & 1)) {
                        if (m == F_UNKNOWN)
                                return -EBADMSG; /* always stored */
                        continue;
                }
                if (batch_get(r, &u) < 0)
                        return -EBADMSG;
                v = unzigzag(u);
                if (m == F_UNKNOWN) {
                        sample_unpack_why(&smp, v);
                        continue;
                }
                if (metric_info[m].unit == UNIT_BYTES && __builtin_mul_overflow(v, 1024, &v))
                        return -EBADMSG;
                sample_set(&smp, (enum metric)m, v);
        }
        smp.t_ms = r->t;
        r->left--;
        *ret_id = r->id;
        *ret = smp;
        return 1;
}
