/* SPDX-License-Identifier: GPL-2.0-or-later */
/* block: raw samples packed — one process's, a few bytes each, in the `data` column of
 * sample_block (sql/006-sample-block.sql), and the samples of one commit of many
 * processes, in the `data` column of sample_batch (sql/012-sample-batch.sql). Pure:
 * buffers in, buffers out, no SQLite, no clock.
 *
 * A block holds up to BLOCK_MAX_SAMPLES samples of one process in time order. Each
 * sample is stored as what changed since the one before it: the change of its interval
 * (a delta of deltas, one byte at a steady interval), a bit mask of the fields that
 * changed, and for each of them the difference from its last value or "unknown now".
 * A process whose memory did not move costs two bytes a sample. Values are stored as
 * the sample tables store them (memory in KiB, the packed reasons of lib/sample.h), so
 * what a block gives back is exactly what a row of those tables would.
 *
 *   header    version (1 byte), FNV-1a 32 of the rest (4, little-endian), the number
 *             of metric fields (1), the number of samples (2, little-endian)
 *   sample 0  zigzag(time) (varint), mask, values: as below, against a previous sample of zeros
 *   sample i  zigzag(interval_i - interval_{i-1}) (varint; interval_0 = 0), then the mask
 *             (varint; bit k: field k changed, fields in the order of block.c's
 *             field_order), then per changed field one varint: 1 = unknown now;
 *             zigzag(value - last known value) << 1; or, for a difference past 2^62
 *             either way, 3 and then the zigzag in a varint of its own.
 *
 * A block read from the database is untrusted input: block_reader_next() checks the
 * checksum, every bound and the time order, and says -EBADMSG rather than return
 * anything a damaged block could make up. */
#ifndef LEAKWATCH_STORE_BLOCK_H
#define LEAKWATCH_STORE_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sample.h"

#define BLOCK_VERSION 1
#define BLOCK_HEADER 8
/* Bounds what one damaged row can make a reader loop over, and fits the count field. */
#define BLOCK_MAX_SAMPLES 4096
/* A block holds at most this many bytes, so that its row of sample_block stays on its
 * B-tree page: SQLite moves the tail of a key-table (WITHOUT ROWID) row of more than
 * 1,002 bytes of payload on a 4 KiB page to an overflow page of its own, mostly empty
 * (the first blocks of 64 one-minute samples, about 1,080 bytes each, filled their
 * pages to 26 %). The row's key, count, end time and record header take up to 27. */
#define BLOCK_MAX_BYTES 975

/* ---- writing ---- */

struct block_writer {
        uint8_t *buf;                   /* header, then the samples */
        size_t len, cap;
        unsigned n;
        int64_t t0;                     /* the first sample's time */
        int64_t t, dt;                  /* the last sample's time and interval */
        int64_t last[M__MAX + 1];       /* last known value of each field (0 at first) */
        uint32_t known;                 /* bit f: field f was known in the last sample */
};

/* An empty block (so is a zeroed writer). Release with block_writer_free(); it may be
 * reused after block_writer_reset(). */
void block_writer_init(struct block_writer *w);
void block_writer_reset(struct block_writer *w);
void block_writer_free(struct block_writer *w);
/* Appends a sample. -ENOSPC if the block is full (BLOCK_MAX_SAMPLES, or the sample
 * would take it past BLOCK_MAX_BYTES; an empty block always takes one), -EINVAL if it is
 * not later than the last one, -ENOMEM. The block is unchanged on failure. */
int block_writer_add(struct block_writer *w, const struct sample *smp);
/* The finished block (header filled in), valid until the writer changes. n must be > 0. */
const uint8_t *block_writer_finish(struct block_writer *w, size_t *ret_len);

/* ---- reading ---- */

struct block_reader {
        const uint8_t *p, *end;
        unsigned n, left, fields;
        int64_t t, dt;
        int64_t last[M__MAX + 1];
        uint32_t known;
};

/* Checks the header and the checksum of a block of len bytes. -EBADMSG if it is
 * damaged, -EPROTO if it is of a later version than this program's. The reader points
 * into buf, which must stay valid. */
int block_reader_init(struct block_reader *r, const void *buf, size_t len);
/* The number of samples the header announces. */
static inline unsigned block_reader_count(const struct block_reader *r) { return r->n; }
/* The next sample into *ret: 1, or 0 after the last one (when the block has been read
 * to its last byte), or -EBADMSG if the block is damaged. */
int block_reader_next(struct block_reader *r, struct sample *ret);

/* ---- batches ----
 *
 * A batch holds what one commit wrote of many processes' samples (a tick's, or a few
 * ticks'), in the order they came, so that a tick is one row for SQLite instead of one
 * row per process. Each sample is stored whole (it is next to other processes' samples,
 * not its own last one): its process and time as changes from the sample before it in
 * the batch, a mask of its known fields, and each known value.
 *
 *   header    version (1 byte), the checksum of the rest (4, little-endian; block.c,
 *             batch_sum: FNV-1a's step on 64-bit little-endian words, the last one
 *             padded with zeros, then the length, the halves xor-ed), the number of
 *             metric fields (1), the number of samples (4, little-endian)
 *   sample    zigzag(process - previous process) (varint; the first against 0),
 *             zigzag(time - previous time) (varint; the first against 0), the mask of
 *             known fields (varint, block.c's field_order; the packed reasons always
 *             known), then per known field zigzag(value) (varint)
 *
 * Values are stored as in blocks (memory in KiB). A reader checks the checksum, every
 * bound and that each process id is positive, and says -EBADMSG rather than make
 * anything up. */

#define BATCH_VERSION 1
#define BATCH_HEADER 10
/* Bounds what one damaged row can make a reader loop over: a tick of far more processes
 * than max-processes allows (about 40 bytes a sample: a row of a few MiB at most). */
#define BATCH_MAX_SAMPLES 65536

struct batch_writer {
        uint8_t *buf;
        size_t len, cap;
        unsigned n;
        int64_t t_min, t_max;           /* of the samples in it */
        int64_t last_id, last_t;        /* the sample before: what the next is stored against */
};

/* An empty batch (so is a zeroed writer); the buffer is kept across resets. */
void batch_writer_reset(struct batch_writer *w);
void batch_writer_free(struct batch_writer *w);
/* Appends process_id's sample. -ENOSPC if the batch holds BATCH_MAX_SAMPLES, -EINVAL if
 * process_id is not positive, -ENOMEM. The batch is unchanged on failure. */
int batch_writer_add(struct batch_writer *w, int64_t process_id, const struct sample *smp);
/* The finished batch (header filled in), valid until the writer changes. n must be > 0. */
const uint8_t *batch_writer_finish(struct batch_writer *w, size_t *ret_len);

struct batch_reader {
        const uint8_t *p, *end;
        unsigned n, left;
        int64_t id, t;
};

/* Checks the header and the checksum of a batch of len bytes: -EBADMSG if it is
 * damaged, -EPROTO if it is of a later version. The reader points into buf. */
int batch_reader_init(struct batch_reader *r, const void *buf, size_t len);
static inline unsigned batch_reader_count(const struct batch_reader *r) { return r->n; }
/* The next sample and its process: 1, or 0 after the last one (when the batch has been
 * read to its last byte), or -EBADMSG if the batch is damaged. */
int batch_reader_next(struct batch_reader *r, int64_t *ret_id, struct sample *ret);

#endif
