/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util: small helpers shared by every module — time, value parsing, safe text, fds. */
#ifndef LEAKWATCH_UTIL_H
#define LEAKWATCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define UNUSED __attribute__((unused))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define WARN_UNUSED __attribute__((warn_unused_result))

/* ---- scope cleanup (the systemd idiom): released when the variable leaves scope ---- */
static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Closes fd if valid and returns -1, so "fd = safe_close(fd);" leaves no stale number. */
int safe_close(int fd);

/* ---- time: microseconds; intervals on CLOCK_MONOTONIC, timestamps on CLOCK_REALTIME ---- */
typedef uint64_t usec_t;
#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define MSEC_PER_SEC  INT64_C(1000)
usec_t now_usec(clockid_t clock);
/* A duration in seconds (a configuration's) as microseconds, rounded. */
usec_t usec_of(double seconds);

/* Parses a duration: a decimal number (digits with an optional fraction: "0.2", ".5";
 * no sign, exponent or hex; the same in every locale) with an optional lower-case unit
 * (ms, s, m or min, h, d, w); a bare number is seconds. Several terms may follow each
 * other ("1h30m"), each with a unit ("1h30" is refused as ambiguous). Returns 0,
 * -EINVAL, or -ERANGE past 10^12 seconds or 15 integer digits. */
int parse_duration(const char *s, double *ret_seconds);

/* Parses a size: a decimal number as for parse_duration with an optional binary unit
 * (K, M, G, T in either case, with or without "iB"/"B"); a bare number is bytes. A
 * fraction of a byte is rounded down. Returns 0 or -EINVAL / -ERANGE. */
int parse_size(const char *s, uint64_t *ret_bytes);

/* Parses a share written as a percentage: a decimal number as for parse_duration and
 * a '%' sign, which is required ("1%", "0.5 %"; a bare "1" could mean 1% or 100%).
 * Returns 0 and the fraction (1% is 0.01), or -EINVAL / -ERANGE. */
int parse_percent(const char *s, double *ret_fraction);

/* Parses yes/no, true/false, on/off, 1/0. Returns 0 or -EINVAL. */
int parse_bool(const char *s, bool *ret);

/* Parses a decimal integer in [min, max], the whole string. Returns 0, -EINVAL or -ERANGE. */
int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret);

/* Human-readable IEC size ("12.3 MiB", "512 B") into buf; returns buf. */
const char *format_size(uint64_t bytes, char *buf, size_t bufsz);

/* Human-readable duration ("250ms", "1.5s", "42s", "1m40s", "6h", "2d3h": the two
 * largest units, the second left out when zero) into buf; returns buf. */
const char *format_duration(double seconds, char *buf, size_t bufsz);

/* A number in the shortest form that reads back as the same double ("0.1", "1048576"),
 * "" for NAN or an infinity: for CSV and JSON, where values are exact. Returns buf. */
const char *format_number(double v, char *buf, size_t bufsz);

/* A time (ms since the epoch) as ISO 8601 in UTC with milliseconds,
 * "2026-11-24T10:00:00.000Z": how every time leaves leakwatch as text for programs
 * (the client's JSON and CSV, the hooks' JSON). "?" if it cannot be shown. Returns buf. */
const char *format_iso8601(int64_t ms, char *buf, size_t bufsz);

/* ---- untrusted text ---- */

/* Copies src (srclen bytes, may hold NULs) to dst as printable text: control bytes,
 * backslash, DEL and bytes that are not valid UTF-8 become C escapes (\n, \t, \\,
 * \xNN); so do the C1 controls (U+0080..U+009F), the line and paragraph separators
 * and the bidirectional overrides, which can split or reorder a line on display.
 * Other valid multibyte UTF-8 is kept. The result is always NUL-terminated and is
 * cut before an escape (or character) that would not fit. Returns the length written. */
size_t str_escape(const char *src, size_t srclen, char *dst, size_t dstsz);

/* Bounded copy that always terminates dst; returns false if src was cut. */
bool str_copy(char *dst, size_t dstsz, const char *src, size_t srclen);

/* Length of the valid UTF-8 sequence at s (at most len bytes) and, if ret_cp is not
 * NULL, its code point; 0 if invalid (overlong forms, surrogates and code points above
 * U+10FFFF included). */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp);

/* True if s (len bytes) is valid UTF-8 without NUL bytes. */
bool utf8_valid(const char *s, size_t len);

/* ---- I/O ---- */

/* pread() from offset until the buffer is full or EOF; retries EINTR. Returns the
 * number of bytes read or -errno. */
ssize_t pread_full(int fd, void *buf, size_t count, off_t offset);

/* write() all of buf; retries EINTR and short writes. Returns 0 or -errno. */
int write_full(int fd, const void *buf, size_t count);

#endif
