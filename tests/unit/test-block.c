/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for block: samples packed and read back exactly (random series, the extremes of
 * every field, the first and the last sample a block can hold), what a steady process
 * costs, and damaged blocks — every flipped byte, every truncation, forged checksums —
 * told apart from sound ones without reading past the buffer; and the same for batches,
 * a commit's samples of many processes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "block.h"
#include "sample-eq.h"

/* xorshift64*: the tests' own generator, so a seed reproduces a run anywhere. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(2685821657736338717);
}

static void seed(void)
{
        const char *e = getenv("LEAKWATCH_TEST_SEED");

        rng_state = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) * 2654435761u + 1;
        print_message("test-block: LEAKWATCH_TEST_SEED=%llu\n", (unsigned long long)rng_state);
}

/* A value as the tables hold it: whole KiB for memory. */
static int64_t value_for(enum metric m, int64_t v)
{
        if (metric_info[m].unit == UNIT_BYTES)
                return (v / 1024 % (INT64_MAX / 1024)) * 1024;
        return v;
}

/* Encodes n samples into as many blocks as they need and reads them back; returns the
 * bytes of all the blocks. A full block refuses a sample without changing. */
static size_t round_trip(const struct sample *in, unsigned n)
{
        struct block_writer w;
        size_t total = 0;
        unsigned i = 0;

        block_writer_init(&w);
        while (i < n) {
                struct block_reader r;
                struct sample got;
                const uint8_t *buf;
                unsigned first = i;
                size_t len;
                int k = 0;

                block_writer_reset(&w);
                while (i < n && (k = block_writer_add(&w, &in[i])) == 0)
                        i++;
                if (i < n)
                        assert_int_equal(k, -ENOSPC);
                buf = block_writer_finish(&w, &len);
                assert_true(len <= BLOCK_MAX_BYTES);
                assert_int_equal(block_reader_init(&r, buf, len), 0);
                assert_int_equal(block_reader_count(&r), i - first);
                for (unsigned j = first; j < i; j++) {
                        assert_int_equal(block_reader_next(&r, &got), 1);
                        assert_same_sample(&in[j], &got);
                }
                assert_int_equal(block_reader_next(&r, &got), 0);
                total += len;
        }
        block_writer_free(&w);
        return total;
}

static void random_sample(struct sample *s, int64_t t, const struct sample *prev)
{
        *s = (struct sample){ .t_ms = t };
        for (int m = 0; m < M__MAX; m++) {
                uint64_t k = rnd() % 8;
                int64_t v;

                if (k == 0)
                        continue; /* unknown */
                if (k < 4 && prev && sample_has(prev, (enum metric)m))
                        v = prev->v[m]; /* unchanged */
                else if (k == 4)
                        v = (int64_t)rnd(); /* anything, negative included */
                else
                        v = (int64_t)(rnd() % (UINT64_C(1) << (rnd() % 48)));
                sample_set(s, (enum metric)m, value_for((enum metric)m, v));
        }
        for (int g = 0; g < G__MAX; g++)
                s->why[g] = (uint8_t)(rnd() % UNK__MAX);
        /* A known group has no reason: as the sampler fills them. */
}

static void test_round_trip_random(void **state)
{
        static struct sample in[BLOCK_MAX_SAMPLES];

        (void)state;
        seed();
        for (int run = 0; run < 200; run++) {
                unsigned n = 1 + (unsigned)(rnd() % (run < 10 ? BLOCK_MAX_SAMPLES : 300));
                int64_t t = (int64_t)(rnd() % (UINT64_C(1) << 42));

                for (unsigned i = 0; i < n; i++) {
                        /* Steady intervals with jitter, and now and then a jump. */
                        t += rnd() % 16 == 0 ? (int64_t)(rnd() % 100000000) + 1 : 1000 + (int64_t)(rnd() % 7);
                        random_sample(&in[i], t, i ? &in[i - 1] : NULL);
                }
                round_trip(in, n);
        }
}

static void test_round_trip_extremes(void **state)
{
        struct sample in[4] = {
                { .t_ms = INT64_MIN },
                { .t_ms = -1 },
                { .t_ms = 0 },
                { .t_ms = INT64_MAX },
        };

        (void)state;
        for (int m = 0; m < M__MAX; m++) {
                bool bytes = metric_info[m].unit == UNIT_BYTES;

                sample_set(&in[0], (enum metric)m, bytes ? INT64_MIN / 1024 * 1024 : INT64_MIN);
                sample_set(&in[1], (enum metric)m, bytes ? INT64_MAX / 1024 * 1024 : INT64_MAX);
                sample_set(&in[2], (enum metric)m, 0);
                if (m % 2)
                        sample_set(&in[3], (enum metric)m, bytes ? INT64_MIN / 1024 * 1024 : INT64_MIN);
        }
        for (int g = 0; g < G__MAX; g++)
                in[3].why[g] = UNK_SKIPPED;
        round_trip(in, 4);
        round_trip(in + 3, 1);
}

static void test_bounds(void **state)
{
        struct block_writer w;
        struct sample s = { .t_ms = 1000 };
        unsigned i;

        (void)state;
        block_writer_init(&w);
        assert_int_equal(block_writer_add(&w, &s), 0);
        /* Not later than the last sample: refused, the block unchanged. */
        assert_int_equal(block_writer_add(&w, &s), -EINVAL);
        s.t_ms = 999;
        assert_int_equal(block_writer_add(&w, &s), -EINVAL);
        assert_int_equal(w.n, 1);
        /* Filled to its byte limit: the sample that does not fit leaves it as it was. */
        for (i = 1;; i++) {
                size_t len = w.len;

                s.t_ms = 1000 + i;
                if (block_writer_add(&w, &s) == -ENOSPC) {
                        assert_int_equal(w.n, i);
                        assert_int_equal(w.len, len);
                        break;
                }
                assert_true(w.len <= BLOCK_MAX_BYTES);
        }
        assert_true(w.len > BLOCK_MAX_BYTES - 4);
        {
                struct block_reader r;
                const uint8_t *buf;
                size_t len;

                buf = block_writer_finish(&w, &len);
                assert_int_equal(block_reader_init(&r, buf, len), 0);
                for (unsigned k = 0; k < i; k++) {
                        assert_int_equal(block_reader_next(&r, &s), 1);
                        assert_int_equal(s.t_ms, 1000 + k);
                }
                assert_int_equal(block_reader_next(&r, &s), 0);
        }
        /* A reset block is empty and takes any time again. */
        block_writer_reset(&w);
        s.t_ms = 5;
        assert_int_equal(block_writer_add(&w, &s), 0);
        assert_int_equal(w.n, 1);
        block_writer_free(&w);
}

/* A process whose memory does not move, sampled every second with a little jitter:
 * two bytes a sample (the interval's change and an empty mask) after the first. */
static void test_steady_process_size(void **state)
{
        static struct sample in[64];
        size_t len;

        (void)state;
        for (unsigned i = 0; i < 64; i++) {
                in[i] = (struct sample){ .t_ms = INT64_C(1795521600000) + i * 1000 + (i % 3) };
                sample_set(&in[i], M_RSS, 4180 * 1024);
                sample_set(&in[i], M_ANON, 320 * 1024);
                sample_set(&in[i], M_VSIZE, 2536 * 1024);
                sample_set(&in[i], M_THREADS, 1);
                sample_set(&in[i], M_FDS, 3);
                sample_set(&in[i], M_MINFLT, 112);
                sample_set_unknown(&in[i], G_SMAPS, UNK_SKIPPED);
                sample_set_unknown(&in[i], G_HEAP, UNK_SKIPPED);
        }
        len = round_trip(in, 64);
        print_message("steady process: %zu bytes for 64 samples\n", len);
        assert_true(len <= 40 + 63 * 2);
}

static struct block_writer sample_block(unsigned n)
{
        struct block_writer w;

        block_writer_init(&w);
        for (unsigned i = 0; i < n; i++) {
                struct sample s = { .t_ms = 1000000 + i * 1000 };

                sample_set(&s, M_RSS, (int64_t)(rnd() % 100000) * 1024);
                sample_set(&s, M_MINFLT, (int64_t)(rnd() % 100000));
                if (i % 3)
                        sample_set_unknown(&s, G_SMAPS, UNK_SKIPPED);
                else
                        sample_set(&s, M_PSS, (int64_t)(rnd() % 100000) * 1024);
                assert_int_equal(block_writer_add(&w, &s), 0);
        }
        return w;
}

/* Reads a block to its end: the samples, or the error that stopped it. Never more
 * samples than the header announced. */
static int read_all(const uint8_t *buf, size_t len)
{
        struct block_reader r;
        struct sample s;
        unsigned got = 0;
        int k;

        k = block_reader_init(&r, buf, len);
        if (k < 0)
                return k;
        while ((k = block_reader_next(&r, &s)) == 1)
                assert_true(++got <= block_reader_count(&r));
        return k < 0 ? k : (int)got;
}

static void rechecksum(uint8_t *b, size_t len)
{
        uint32_t h = 2166136261u;

        for (size_t i = 5; i < len; i++) {
                h ^= b[i];
                h *= 16777619u;
        }
        for (int i = 0; i < 4; i++)
                b[1 + i] = (uint8_t)(h >> (8 * i));
}

static void test_damaged(void **state)
{
        struct block_writer w;
        const uint8_t *buf;
        uint8_t *copy;
        size_t len;

        (void)state;
        seed();
        w = sample_block(20);
        buf = block_writer_finish(&w, &len);
        assert_int_equal(read_all(buf, len), 20);
        /* Every truncation, in a buffer of exactly that size (ASan sees an overread). */
        for (size_t l = 0; l < len; l++) {
                copy = malloc(l ? l : 1);
                memcpy(copy, buf, l);
                assert_true(read_all(copy, l) < 0);
                free(copy);
        }
        /* Every bit of every byte flipped: the checksum catches it. */
        copy = malloc(len);
        for (size_t i = 0; i < len; i++)
                for (int bit = 0; bit < 8; bit++) {
                        memcpy(copy, buf, len);
                        copy[i] ^= (uint8_t)(1u << bit);
                        assert_true(read_all(copy, len) < 0);
                }
        /* Forged: bytes changed and the checksum made to match. The reader must still
         * stop inside the buffer; what it says is either an error or samples. */
        for (int k = 0; k < 20000; k++) {
                memcpy(copy, buf, len);
                for (int j = 0; j < 1 + (int)(rnd() % 4); j++)
                        copy[BLOCK_HEADER + rnd() % (len - BLOCK_HEADER)] = (uint8_t)rnd();
                rechecksum(copy, len);
                (void)read_all(copy, len);
        }
        /* A later version is told from damage. */
        memcpy(copy, buf, len);
        copy[0] = BLOCK_VERSION + 1;
        assert_int_equal(read_all(copy, len), -EPROTO);
        free(copy);
        /* Trailing bytes after the last sample, and a count the bytes do not hold. */
        copy = malloc(len + 1);
        memcpy(copy, buf, len);
        copy[len] = 0;
        rechecksum(copy, len + 1);
        assert_int_equal(read_all(copy, len + 1), -EBADMSG);
        memcpy(copy, buf, len);
        copy[6] = 21;
        rechecksum(copy, len);
        assert_int_equal(read_all(copy, len), -EBADMSG);
        copy[6] = 0;
        copy[7] = 0;
        rechecksum(copy, len);
        assert_int_equal(read_all(copy, len), -EBADMSG);
        free(copy);
        block_writer_free(&w);
}

/* Hand-made blocks that only a damaged or forged file could hold. */
static void test_forged_values(void **state)
{
        /* header, then: time 10, mask = rss, rss value */
        uint8_t b[32] = { BLOCK_VERSION, 0, 0, 0, 0, M__MAX + 1, 2, 0 };
        size_t o = BLOCK_HEADER;
        size_t len;

        (void)state;
        /* Sample 0: time 10 (zigzag 20), mask: rss and the reasons (bits 0 and 11), rss
         * = INT64_MAX KiB (too large as bytes), reasons 0. */
        b[o++] = 20;
        b[o++] = 0x81;
        b[o++] = 0x10;
        /* zigzag(INT64_MAX) << 1 overflows 64 bits; use a value of 2^62 KiB instead. */
        memcpy(b + o, (uint8_t[]){ 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 }, 10);
        o += 10;
        b[o++] = 0;
        len = o;
        b[6] = 1;
        rechecksum(b, len);
        assert_int_equal(read_all(b, len), -EBADMSG);
        /* A varint of eleven bytes. */
        o = BLOCK_HEADER;
        b[o++] = 20;
        b[o++] = 0x81;
        b[o++] = 0x10;
        memset(b + o, 0x80, 11);
        o += 11;
        b[o++] = 0;
        rechecksum(b, o);
        assert_int_equal(read_all(b, o), -EBADMSG);
        /* Time going backwards in the second sample. */
        o = BLOCK_HEADER;
        b[6] = 2;
        b[o++] = 20;            /* t = 10 */
        b[o++] = 0x00;          /* mask 0x800 as a varint: 0x80 0x10 */
        o--;
        b[o++] = 0x80;
        b[o++] = 0x10;
        b[o++] = 0;             /* reasons 0 */
        b[o++] = 3;             /* interval -2 */
        b[o++] = 0;             /* nothing changed */
        rechecksum(b, o);
        assert_int_equal(read_all(b, o), -EBADMSG);
        /* The same with a forward interval reads back. */
        b[o - 2] = 4;
        rechecksum(b, o);
        assert_int_equal(read_all(b, o), 2);
        /* The reasons field made unknown: never written, so damaged. */
        b[o - 1] = 0x80;
        b[o++] = 0x10;
        b[o++] = 1;
        rechecksum(b, o);
        assert_int_equal(read_all(b, o), -EBADMSG);
}

/* ---- batches ---- */

/* Reads a whole batch; the count of samples, or the error. */
static int batch_read_all(const uint8_t *buf, size_t len, const int64_t *ids, const struct sample *want)
{
        struct batch_reader r;
        struct sample got;
        int64_t id;
        int k, n = 0;

        k = batch_reader_init(&r, buf, len);
        if (k < 0)
                return k;
        while ((k = batch_reader_next(&r, &id, &got)) == 1) {
                if (want) {
                        assert_int_equal(id, ids[n]);
                        assert_same_sample(&want[n], &got);
                }
                n++;
        }
        return k < 0 ? k : n;
}

/* The batches' checksum (block.c, batch_sum), written again after a forgery. */
static void batch_rechecksum(uint8_t *b, size_t len)
{
        const uint64_t prime = UINT64_C(1099511628211);
        uint64_t h = UINT64_C(14695981039346656037);
        size_t i;

        for (i = 5; i + 8 <= len; i += 8) {
                uint64_t w = 0;

                for (int k = 0; k < 8; k++)
                        w |= (uint64_t)b[i + k] << (8 * k);
                h = (h ^ w) * prime;
        }
        {
                uint64_t w = 0;

                for (int k = 0; i + (size_t)k < len; k++)
                        w |= (uint64_t)b[i + (size_t)k] << (8 * k);
                h = (h ^ w) * prime;
        }
        h = (h ^ (uint64_t)(len - 5)) * prime;
        h ^= h >> 32;
        for (int k = 0; k < 4; k++)
                b[1 + k] = (uint8_t)(h >> (8 * k));
}

/* Every sample of many processes comes back exactly, with its process, in the order put,
 * whatever the values (negative, huge, unknown) and times (out of order too: a batch
 * holds what a commit put). */
static void test_batch_round_trip(void **state)
{
        static struct sample in[5000];
        static int64_t ids[5000];
        struct batch_writer w = { 0 };
        const uint8_t *buf;
        size_t len;

        (void)state;
        seed();
        for (int run = 0; run < 50; run++) {
                unsigned n = 1 + (unsigned)(rnd() % (run < 5 ? 5000 : 300));
                int64_t t = (int64_t)(rnd() % (UINT64_C(1) << 42)) - (INT64_C(1) << 41);

                batch_writer_reset(&w);
                for (unsigned i = 0; i < n; i++) {
                        ids[i] = rnd() % 4 == 0 ? (int64_t)(rnd() >> 1) | 1 : 1 + (int64_t)(rnd() % 20000);
                        t += (int64_t)(rnd() % 2000) - 500;
                        random_sample(&in[i], t, NULL);
                        assert_int_equal(batch_writer_add(&w, ids[i], &in[i]), 0);
                }
                buf = batch_writer_finish(&w, &len);
                assert_int_equal(batch_read_all(buf, len, ids, in), (int)n);
        }
        /* No process 0 or below: the store never gives one. */
        assert_int_equal(batch_writer_add(&w, 0, &in[0]), -EINVAL);
        assert_int_equal(batch_writer_add(&w, -5, &in[0]), -EINVAL);
        batch_writer_free(&w);
}

/* A sample whose known values are its resident and anonymous sets costs about a dozen
 * bytes (process, time, mask, two values of 3 bytes, the reasons): far below the 50 to 60
 * bytes of file a row of sample_recent took. */
static void test_batch_size(void **state)
{
        struct batch_writer w = { 0 };
        size_t len;

        (void)state;
        for (int i = 0; i < 10000; i++) {
                struct sample s = { .t_ms = INT64_C(1795521600000) + i / 10 };

                sample_set(&s, M_RSS, (int64_t)(100 + i % 7) << 20);
                sample_set(&s, M_ANON, (int64_t)(60 + i % 5) << 20);
                assert_int_equal(batch_writer_add(&w, 1 + i % 1000, &s), 0);
        }
        (void)batch_writer_finish(&w, &len);
        print_message("test-block: %zu bytes for 10000 samples\n", len);
        assert_true(len < 10000 * 16);
        batch_writer_free(&w);
}

/* Damaged batches: every truncation and every flipped bit fails the read; forged bytes
 * under a matching checksum never make the reader leave the buffer; a later version, a
 * count the bytes do not hold, trailing bytes and a process id of 0 are refused. */
static void test_batch_damaged(void **state)
{
        struct batch_writer w = { 0 };
        const uint8_t *buf;
        uint8_t *copy;
        size_t len;

        (void)state;
        seed();
        for (int i = 0; i < 30; i++) {
                struct sample s;

                random_sample(&s, 1000 + i, NULL);
                assert_int_equal(batch_writer_add(&w, 1 + i, &s), 0);
        }
        buf = batch_writer_finish(&w, &len);
        assert_int_equal(batch_read_all(buf, len, NULL, NULL), 30);
        for (size_t l = 0; l < len; l++) {
                copy = malloc(l ? l : 1);
                memcpy(copy, buf, l);
                assert_true(batch_read_all(copy, l, NULL, NULL) < 0);
                free(copy);
        }
        copy = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
                for (int bit = 0; bit < 8; bit++) {
                        memcpy(copy, buf, len);
                        copy[i] ^= (uint8_t)(1u << bit);
                        assert_true(batch_read_all(copy, len, NULL, NULL) < 0);
                }
        for (int k = 0; k < 20000; k++) {
                memcpy(copy, buf, len);
                for (int j = 0; j < 1 + (int)(rnd() % 4); j++)
                        copy[BATCH_HEADER + rnd() % (len - BATCH_HEADER)] = (uint8_t)rnd();
                batch_rechecksum(copy, len);
                (void)batch_read_all(copy, len, NULL, NULL);
        }
        memcpy(copy, buf, len);
        copy[0] = BATCH_VERSION + 1;
        assert_int_equal(batch_read_all(copy, len, NULL, NULL), -EPROTO);
        memcpy(copy, buf, len);
        copy[len] = 0;
        batch_rechecksum(copy, len + 1);
        assert_int_equal(batch_read_all(copy, len + 1, NULL, NULL), -EBADMSG);
        memcpy(copy, buf, len);
        copy[6] = 31;
        batch_rechecksum(copy, len);
        assert_int_equal(batch_read_all(copy, len, NULL, NULL), -EBADMSG);
        /* The first sample's process: zigzag(1) is 2; 0 would be process 0. */
        memcpy(copy, buf, len);
        assert_int_equal(copy[BATCH_HEADER], 2);
        copy[BATCH_HEADER] = 0;
        batch_rechecksum(copy, len);
        assert_int_equal(batch_read_all(copy, len, NULL, NULL), -EBADMSG);
        free(copy);
        batch_writer_free(&w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip_random),
                cmocka_unit_test(test_round_trip_extremes),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_steady_process_size),
                cmocka_unit_test(test_damaged),
                cmocka_unit_test(test_forged_values),
                cmocka_unit_test(test_batch_round_trip),
                cmocka_unit_test(test_batch_size),
                cmocka_unit_test(test_batch_damaged),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
