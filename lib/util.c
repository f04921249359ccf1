/* SPDX-License-Identifier: GPL-2.0-or-later */
/* util: small helpers shared by every module — time, value parsing, safe text, fds. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -1;
}

usec_t now_usec(clockid_t clock)
{
        struct timespec ts;

        /* Only fails for an invalid clock id, which is a programming error. */
        if (clock_gettime(clock, &ts) < 0)
                abort();
        return (usec_t)ts.tv_sec * USEC_PER_SEC + (usec_t)ts.tv_nsec / 1000;
}

usec_t usec_of(double seconds)
{
        return (usec_t)llround(seconds * (double)USEC_PER_SEC);
}

static const char *skip_space(const char *p)
{
        while (*p && isspace((unsigned char)*p))
                p++;
        return p;
}

/* Parses one non-negative decimal at *p: digits, optionally a point and more digits.
 * Written out rather than left to strtod, which also reads hex, exponents, "inf" and
 * "nan" (forms no human means in a configuration file) and follows LC_NUMERIC, so
 * "0.2" would fail under a locale with a decimal comma. The integer part is exact
 * below 10^15; fraction digits past the 15th are ignored (a femtosecond or byte). */
static int parse_decimal(const char **p, double *ret)
{
        const char *s = *p;
        double ip = 0, fp = 0, scale = 1;
        size_t digits = 0, frac = 0;

        for (; isdigit((unsigned char)*s); s++, digits++) {
                if (ip >= 1e14)         /* one more digit could pass 10^15 */
                        return -ERANGE;
                ip = ip * 10 + (*s - '0');
        }
        if (*s == '.') {
                for (s++; isdigit((unsigned char)*s); s++, digits++)
                        if (frac++ < 15) {
                                fp = fp * 10 + (*s - '0');
                                scale *= 10;
                        }
        }
        if (digits == 0)
                return -EINVAL;
        *p = s;
        *ret = ip + fp / scale;
        return 0;
}

int parse_duration(const char *s, double *ret_seconds)
{
        static const struct {
                const char *suffix;
                double mul, div;
        } units[] = {
                /* Longest first, so "ms" is not read as "m" followed by garbage.
                 * Milliseconds divide rather than multiply by 1e-3 (inexact in binary),
                 * so "50ms" is the same double as "0.05". */
                { "min", 60, 1 }, { "ms", 1, 1000 }, { "s", 1, 1 }, { "m", 60, 1 },
                { "h", 3600, 1 }, { "d", 86400, 1 }, { "w", 7 * 86400, 1 },
        };
        const char *p;
        double total = 0;
        int terms = 0;
        bool bare = false;

        if (!s)
                return -EINVAL;
        p = skip_space(s);
        while (*p) {
                double v, mul = 1, div = 1;
                size_t i;
                int r;

                r = parse_decimal(&p, &v);
                if (r < 0)
                        return r;
                for (i = 0; i < ELEMENTSOF(units); i++) {
                        size_t n = strlen(units[i].suffix);
                        if (strncmp(p, units[i].suffix, n) == 0 && !isalpha((unsigned char)p[n])) {
                                mul = units[i].mul;
                                div = units[i].div;
                                p += n;
                                break;
                        }
                }
                if (i == ELEMENTSOF(units)) {
                        if (isalpha((unsigned char)*p))
                                return -EINVAL;
                        bare = true;
                }
                total += v * mul / div;
                terms++;
                p = skip_space(p);
        }
        /* A bare number is seconds only on its own: "1h30" (or "30 1h") is ambiguous. */
        if (terms == 0 || (bare && terms > 1))
                return -EINVAL;
        if (!isfinite(total) || total > 1e12)
                return -ERANGE;
        *ret_seconds = total;
        return 0;
}

/* The number a size or a share starts with: *ret_rest points past it and the blanks
 * after it, at the unit. */
static int leading_number(const char *s, const char **ret_rest, double *ret)
{
        const char *p;
        int r;

        if (!s)
                return -EINVAL;
        p = skip_space(s);
        r = parse_decimal(&p, ret);
        if (r < 0)
                return r;
        *ret_rest = skip_space(p);
        return 0;
}

int parse_size(const char *s, uint64_t *ret_bytes)
{
        const char *p;
        double v, factor = 1;
        int r;

        r = leading_number(s, &p, &v);
        if (r < 0)
                return r;
        switch (toupper((unsigned char)*p)) {
        case 'K': factor = 1024.0; p++; break;
        case 'M': factor = 1024.0 * 1024; p++; break;
        case 'G': factor = 1024.0 * 1024 * 1024; p++; break;
        case 'T': factor = 1024.0 * 1024 * 1024 * 1024; p++; break;
        case 'B': break;
        case '\0': break;
        default: return -EINVAL;
        }
        if (factor > 1 && (p[0] == 'i' || p[0] == 'I') && (p[1] == 'B' || p[1] == 'b'))
                p += 2;
        else if (p[0] == 'B' || p[0] == 'b')
                p++;
        p = skip_space(p);
        if (*p)
                return -EINVAL;
        v *= factor;
        if (v >= 18446744073709551615.0)
                return -ERANGE;
        *ret_bytes = (uint64_t)v;
        return 0;
}

int parse_percent(const char *s, double *ret_fraction)
{
        const char *p;
        double v;
        int r;

        r = leading_number(s, &p, &v);
        if (r < 0)
                return r;
        if (*p != '%')
                return -EINVAL;
        p = skip_space(p + 1);
        if (*p)
                return -EINVAL;
        *ret_fraction = v / 100;
        return 0;
}

int parse_bool(const char *s, bool *ret)
{
        static const char *const yes[] = { "1", "yes", "y", "true", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *ret)
{
        char *end;
        long long v;

        if (!s || !*s || isspace((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s || *end)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

const char *format_size(uint64_t bytes, char *buf, size_t bufsz)
{
        static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
        double v = (double)bytes;
        size_t u = 0;

        /* 1023.5 and up would print as "1024 KiB": show "1.00 MiB" instead. */
        while (v >= 1023.5 && u + 1 < ELEMENTSOF(unit)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, bufsz, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, bufsz, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, unit[u]);
        return buf;
}

/* The two largest units, the second dropped when zero ("6h", "1h30m", "2d3h"). The value
 * is rounded once, to whole seconds from 10 s up, so a carry can never print "1m60s". */
const char *format_duration(double seconds, char *buf, size_t bufsz)
{
        static const struct {
                const char *name;
                long long len;
        } units[] = { { "d", 86400 }, { "h", 3600 }, { "m", 60 }, { "s", 1 } };
        long long t;

        if (!isfinite(seconds) || seconds < 0) {
                snprintf(buf, bufsz, "-");
                return buf;
        }
        /* Past about 30 million years llround() would overflow; no caller means it. */
        if (seconds >= 1e15) {
                snprintf(buf, bufsz, "%.0fd", seconds / 86400);
                return buf;
        }
        if (llround(seconds * 1000) < 1000) {
                snprintf(buf, bufsz, "%lldms", llround(seconds * 1000));
                return buf;
        }
        if (llround(seconds * 10) < 100) {
                t = llround(seconds * 10);
                if (t % 10 == 0)
                        snprintf(buf, bufsz, "%llds", t / 10);
                else
                        snprintf(buf, bufsz, "%lld.%llds", t / 10, t % 10);
                return buf;
        }
        t = llround(seconds);
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                long long hi, lo;

                if (t < units[i].len)
                        continue;
                hi = t / units[i].len;
                lo = i + 1 < ELEMENTSOF(units) ? t % units[i].len / units[i + 1].len : 0;
                if (lo)
                        snprintf(buf, bufsz, "%lld%s%lld%s", hi, units[i].name, lo, units[i + 1].name);
                else
                        snprintf(buf, bufsz, "%lld%s", hi, units[i].name);
                break;
        }
        return buf;
}

const char *format_number(double v, char *buf, size_t bufsz)
{
        if (!isfinite(v)) {
                snprintf(buf, bufsz, "%s", "");
                return buf;
        }
        /* Integers below 2^53 are exact in a double: print them whole. */
        if (v == floor(v) && fabs(v) < 9007199254740992.0) {
                snprintf(buf, bufsz, "%.0f", v);
                return buf;
        }
        /* Otherwise the shortest of %.1g..%.17g that reads back exactly: 0.1, not
         * 0.10000000000000001. */
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, bufsz, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        return buf;
}

const char *format_iso8601(int64_t ms, char *buf, size_t bufsz)
{
        /* Rounded down to the second, the fraction counted up from there, so a time
         * before the epoch reads as it should. */
        int64_t frac = ((ms % 1000) + 1000) % 1000;
        time_t secs = (time_t)((ms - frac) / 1000);
        struct tm tm;
        char tmp[40];

        if (!gmtime_r(&secs, &tm) || strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
                snprintf(buf, bufsz, "?");
                return buf;
        }
        snprintf(buf, bufsz, "%s.%03" PRId64 "Z", tmp, frac);
        return buf;
}

size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
        uint32_t cp;
        size_t n;

        if (len == 0)
                return 0;
        if (s[0] < 0x80) {
                if (ret_cp)
                        *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        if (ret_cp)
                *ret_cp = cp;
        return n;
}

bool utf8_valid(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;

        for (size_t i = 0; i < len;) {
                size_t n;

                if (p[i] == 0)
                        return false;
                n = utf8_decode(p + i, len - i, NULL);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

/* True for the three-byte sequences of characters that can move or split text on a
 * terminal or in a log viewer though they are not controls in the C sense: U+2028 LINE
 * SEPARATOR, U+2029 PARAGRAPH SEPARATOR, and the bidirectional embeddings, overrides
 * and isolates (U+202A..U+202E, U+2066..U+2069) that can make a process name display
 * as something else. */
static bool utf8_is_format_control(const unsigned char *s)
{
        return s[0] == 0xe2 && ((s[1] == 0x80 && s[2] >= 0xa8 && s[2] <= 0xae) ||
                                (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9));
}

size_t str_escape(const char *src, size_t srclen, char *dst, size_t dstsz)
{
        const unsigned char *s = (const unsigned char *)src;
        size_t o = 0;

        if (dstsz == 0)
                return 0;
        for (size_t i = 0; i < srclen;) {
                char tmp[16];           /* the longest unit: three bytes as \xNN */
                size_t n = 0, take = 1;

                if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
                        tmp[n++] = (char)s[i];
                } else if (s[i] == '\\') {
                        tmp[n++] = '\\', tmp[n++] = '\\';
                } else if (s[i] == '\n') {
                        tmp[n++] = '\\', tmp[n++] = 'n';
                } else if (s[i] == '\t') {
                        tmp[n++] = '\\', tmp[n++] = 't';
                } else if (s[i] == '\r') {
                        tmp[n++] = '\\', tmp[n++] = 'r';
                } else if (s[i] >= 0x80 && (take = utf8_decode(s + i, srclen - i, NULL)) > 0) {
                        /* A valid multibyte sequence is kept, except the C1 controls
                         * U+0080..U+009F (two bytes, C2 80..C2 9F) and the format controls
                         * above, which are escaped whole so a cut never splits them. */
                        if ((take == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0) ||
                            (take == 3 && utf8_is_format_control(s + i))) {
                                for (size_t k = 0; k < take; k++)
                                        n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "\\x%02x", s[i + k]);
                        } else {
                                memcpy(tmp, s + i, take);
                                n = take;
                        }
                } else {
                        n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
                        take = 1;
                }
                if (o + n >= dstsz)
                        break;
                memcpy(dst + o, tmp, n);
                o += n;
                i += take;
        }
        dst[o] = '\0';
        return o;
}

bool str_copy(char *dst, size_t dstsz, const char *src, size_t srclen)
{
        size_t n;

        if (dstsz == 0)
                return srclen == 0;
        n = MIN(srclen, dstsz - 1);
        memcpy(dst, src, n);
        dst[n] = '\0';
        return n == srclen;
}

ssize_t pread_full(int fd, void *buf, size_t count, off_t offset)
{
        size_t done = 0;

        while (done < count) {
                ssize_t n = pread(fd, (char *)buf + done, count - done, offset + (off_t)done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                done += (size_t)n;
        }
        return (ssize_t)done;
}

int write_full(int fd, const void *buf, size_t count)
{
        const char *p = buf;

        while (count > 0) {
                ssize_t n = write(fd, p, count);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                /* Only possible on odd devices; retrying would spin forever. */
                if (n == 0)
                        return -EIO;
                p += n;
                count -= (size_t)n;
        }
        return 0;
}
