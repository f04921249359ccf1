/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-util: value parsers, formatters, the escaping of untrusted text, and the I/O
 * helpers of lib/util.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* ---- parse_duration ---- */

static void test_parse_duration(void **state)
{
        static const struct {
                const char *s;
                double v;
        } good[] = {
                { "0", 0 }, { "10", 10 }, { "0.2", 0.2 }, { ".5", 0.5 }, { "5.", 5 },
                { "500ms", 0.5 }, { "50ms", 0.05 }, { "10s", 10 }, { "5m", 300 }, { "2min", 120 },
                { "6h", 21600 }, { "2d", 172800 }, { "1w", 604800 }, { "1h30m", 5400 },
                { "1h 30m", 5400 }, { " 10s ", 10 }, { "1.5h", 5400 }, { "1m30s500ms", 90.5 },
                { "000010s", 10 }, { "0.123456789012345999s", 0.123456789012345 },
                { "999999999999s", 999999999999.0 }, { "1000000000000", 1e12 },
        };
        static const char *const invalid[] = {
                "", "   ", "-1", "+1", "1x", "x", "s", "1S", "1msec", "inf", "nan", "infinity",
                "0x10", "1e3", "1E3", "1h30", "30 1h", "5 5", "1.2.3", ".", "1 s", "1h-30m",
                "1,5s",
        };
        static const char *const range[] = {
                "1000000000001", "9999999999999999", "100000000w", "20000000000000000ms",
        };
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                double v = -1;

                if (parse_duration(good[i].s, &v) != 0 || v != good[i].v)
                        fail_msg("parse_duration(\"%s\") = %.17g, expected %.17g", good[i].s, v, good[i].v);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                double v = 42;

                if (parse_duration(invalid[i], &v) != -EINVAL || v != 42)
                        fail_msg("parse_duration(\"%s\") accepted or wrote %g", invalid[i], v);
        }
        for (size_t i = 0; i < ELEMENTSOF(range); i++) {
                double v = 42;

                if (parse_duration(range[i], &v) != -ERANGE || v != 42)
                        fail_msg("parse_duration(\"%s\") is not -ERANGE", range[i]);
        }
        assert_int_equal(parse_duration(NULL, &(double){ 0 }), -EINVAL);
}

/* "50ms" and "0.05" are the same double, so range checks treat them alike. */
static void test_parse_duration_exact(void **state)
{
        double a, b;
        (void)state;

        assert_int_equal(parse_duration("50ms", &a), 0);
        assert_int_equal(parse_duration("0.05", &b), 0);
        assert_true(a == b && a == 0.05);
        assert_int_equal(parse_duration("100ms", &a), 0);
        assert_true(a == 0.1);
}

/* ---- parse_size ---- */

static void test_parse_percent(void **state)
{
        static const struct {
                const char *s;
                double v;
        } good[] = { { "1%", 0.01 }, { "0.5%", 0.005 }, { " 25 % ", 0.25 }, { "100%", 1 }, { "0%", 0 },
                     { ".1%", 0.001 } };
        static const char *const invalid[] = { "", "%", "1", "0.01", "1%%", "-1%", "1e2%", "1 %x", "x%" };
        double v;

        (void)state;
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                assert_int_equal(parse_percent(good[i].s, &v), 0);
                assert_float_equal(v, good[i].v, 1e-12);
        }
        for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
                assert_int_equal(parse_percent(invalid[i], &v), -EINVAL);
}

static void test_parse_size(void **state)
{
        static const struct {
                const char *s;
                uint64_t v;
        } good[] = {
                { "0", 0 }, { "4096", 4096 }, { "10B", 10 }, { "10b", 10 }, { "512K", 524288 },
                { "512k", 524288 }, { "1KiB", 1024 }, { "1kb", 1024 }, { "1 MiB", 1048576 },
                { "32M", UINT64_C(33554432) }, { "1.5G", UINT64_C(1610612736) },
                { "1T", UINT64_C(1099511627776) }, { "0.5", 0 }, { "1.9", 1 }, { " 2G ", UINT64_C(2147483648) },
                { "16777215T", UINT64_C(16777215) << 40 },
        };
        static const char *const invalid[] = {
                "", " ", "-1", "+1", "1X", "1KiBB", "1Ki", "1iB", "0x10", "inf", "nan", "1e3", "K",
                "1 K B", "1..5M", "1,5M",
        };
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                uint64_t v = 42;

                if (parse_size(good[i].s, &v) != 0 || v != good[i].v)
                        fail_msg("parse_size(\"%s\") = %" PRIu64 ", expected %" PRIu64, good[i].s, v, good[i].v);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                uint64_t v = 42;

                if (parse_size(invalid[i], &v) != -EINVAL || v != 42)
                        fail_msg("parse_size(\"%s\") accepted", invalid[i]);
        }
        assert_int_equal(parse_size("16777216T", &(uint64_t){ 0 }), -ERANGE);      /* 2^64 */
        assert_int_equal(parse_size("9999999999999999", &(uint64_t){ 0 }), -ERANGE);
        assert_int_equal(parse_size(NULL, &(uint64_t){ 0 }), -EINVAL);
}

/* ---- parse_bool, parse_int64 ---- */

static void test_parse_bool(void **state)
{
        static const char *const yes[] = { "yes", "YES", "y", "true", "True", "on", "1" };
        static const char *const no[] = { "no", "N", "false", "off", "OFF", "0" };
        static const char *const invalid[] = { "", "2", "yess", " yes", "yes ", "ja", "-1" };
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                bool b = false;

                assert_int_equal(parse_bool(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                bool b = true;

                assert_int_equal(parse_bool(no[i], &b), 0);
                assert_false(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                bool b = true;

                assert_int_equal(parse_bool(invalid[i], &b), -EINVAL);
                assert_true(b);
        }
        assert_int_equal(parse_bool(NULL, &(bool){ 0 }), -EINVAL);
}

static void test_parse_int64(void **state)
{
        int64_t v = 42;
        (void)state;

        assert_int_equal(parse_int64("0", 0, 10, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(parse_int64("-5", -10, 10, &v), 0);
        assert_int_equal(v, -5);
        assert_int_equal(parse_int64("+7", 0, 10, &v), 0);
        assert_int_equal(v, 7);
        assert_int_equal(parse_int64("9223372036854775807", 0, INT64_MAX, &v), 0);
        assert_true(v == INT64_MAX);
        assert_int_equal(parse_int64("-9223372036854775808", INT64_MIN, 0, &v), 0);
        assert_true(v == INT64_MIN);

        v = 42;
        assert_int_equal(parse_int64("9223372036854775808", 0, INT64_MAX, &v), -ERANGE);
        assert_int_equal(parse_int64("11", 0, 10, &v), -ERANGE);
        assert_int_equal(parse_int64("-1", 0, 10, &v), -ERANGE);
        assert_int_equal(parse_int64("", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_int64(" 5", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_int64("5 ", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_int64("0x10", 0, 100, &v), -EINVAL);
        assert_int_equal(parse_int64("1.0", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_int64("five", 0, 10, &v), -EINVAL);
        assert_int_equal(parse_int64(NULL, 0, 10, &v), -EINVAL);
        assert_int_equal(v, 42);
}

/* ---- formatting ---- */

static void test_format_size(void **state)
{
        static const struct {
                uint64_t v;
                const char *s;
        } t[] = {
                { 0, "0 B" }, { 1023, "1023 B" }, { 1024, "1.00 KiB" }, { 1536, "1.50 KiB" },
                { 10 * 1024, "10.0 KiB" }, { 100 * 1024, "100 KiB" }, { 1048063, "1023 KiB" },
                /* Would round to "1024 KiB": shown in the next unit. */
                { 1048064, "1.00 MiB" }, { 1048575, "1.00 MiB" }, { 1048576, "1.00 MiB" }, { UINT64_C(33554432), "32.0 MiB" },
                { UINT64_C(1610612736), "1.50 GiB" }, { UINT64_MAX, "16.0 EiB" },
        };
        char buf[32], small[4];
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                assert_string_equal(format_size(t[i].v, buf, sizeof(buf)), t[i].s);
        /* A short buffer is cut, never overrun, always terminated. */
        assert_string_equal(format_size(1536, small, sizeof(small)), "1.5");
}

static void test_format_duration(void **state)
{
        static const struct {
                double v;
                const char *s;
        } t[] = {
                { 0, "0ms" }, { 0.25, "250ms" }, { 0.0004, "0ms" }, { 0.9994, "999ms" }, { 0.9996, "1s" },
                { 1, "1s" }, { 1.5, "1.5s" }, { 5, "5s" }, { 9.94, "9.9s" }, { 9.96, "10s" },
                { 42, "42s" }, { 59.4, "59s" }, { 59.6, "1m" }, { 60, "1m" }, { 100, "1m40s" },
                { 119.6, "2m" }, { 3599.6, "1h" }, { 3600, "1h" }, { 5400, "1h30m" }, { 5430, "1h30m" },
                { 21600, "6h" }, { 86400, "1d" }, { 2 * 86400 + 3 * 3600, "2d3h" },
                { 400 * 86400.0, "400d" }, { 1e16, "115740740741d" },
                { -1, "-" }, { NAN, "-" }, { INFINITY, "-" },
        };
        char buf[32], small[3];
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                format_duration(t[i].v, buf, sizeof(buf));
                if (strcmp(buf, t[i].s) != 0)
                        fail_msg("format_duration(%g) = \"%s\", expected \"%s\"", t[i].v, buf, t[i].s);
        }
        assert_string_equal(format_duration(5400, small, sizeof(small)), "1h");
}

/* ---- untrusted text ---- */

static const char *esc(const char *s, size_t len)
{
        static char buf[512];

        str_escape(s, len, buf, sizeof(buf));
        return buf;
}

#define ESC(lit) esc((lit), sizeof(lit) - 1)

static void test_str_escape(void **state)
{
        (void)state;

        assert_string_equal(ESC("plain text, (parens) and 'quotes'"), "plain text, (parens) and 'quotes'");
        assert_string_equal(ESC(""), "");
        /* Control bytes, DEL and backslash. */
        assert_string_equal(ESC("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_string_equal(ESC("\x01\x1b[31m\x7f"), "\\x01\\x1b[31m\\x7f");
        assert_string_equal(ESC("back\\slash"), "back\\\\slash");
        assert_string_equal(ESC("a\0b"), "a\\x00b");
        /* Valid UTF-8 is kept: two, three and four bytes. */
        assert_string_equal(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
        assert_string_equal(ESC("\xc2\xa0"), "\xc2\xa0");               /* U+00A0, not a C1 control */
        assert_string_equal(ESC("\xe2\x80\xb0"), "\xe2\x80\xb0");       /* U+2030, next to the separators */
        /* Invalid UTF-8: stray and truncated bytes. */
        assert_string_equal(ESC("\xff\xfe"), "\\xff\\xfe");
        assert_string_equal(ESC("\x80"), "\\x80");
        assert_string_equal(ESC("\xe2\x82"), "\\xe2\\x82");
        assert_string_equal(ESC("\xe2\x82x"), "\\xe2\\x82x");
        assert_string_equal(ESC("\xf0\x9f\x98"), "\\xf0\\x9f\\x98");
        /* Overlong encodings of '/' and of NUL. */
        assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");
        assert_string_equal(ESC("\xc1\xbf"), "\\xc1\\xbf");
        assert_string_equal(ESC("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");
        assert_string_equal(ESC("\xf0\x80\x80\xaf"), "\\xf0\\x80\\x80\\xaf");
        assert_string_equal(ESC("\xc0\x80"), "\\xc0\\x80");
        /* UTF-16 surrogates, and beyond U+10FFFF. */
        assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");
        assert_string_equal(ESC("\xed\xbf\xbf"), "\\xed\\xbf\\xbf");
        assert_string_equal(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
        assert_string_equal(ESC("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
        /* C1 controls (U+0085 NEL, U+009B CSI) as UTF-8. */
        assert_string_equal(ESC("\xc2\x85"), "\\xc2\\x85");
        assert_string_equal(ESC("\xc2\x9b" "31m"), "\\xc2\\x9b" "31m");
        /* Line separators and bidirectional overrides. */
        assert_string_equal(ESC("\xe2\x80\xa8"), "\\xe2\\x80\\xa8");
        assert_string_equal(ESC("\xe2\x80\xa9"), "\\xe2\\x80\\xa9");
        assert_string_equal(ESC("evil\xe2\x80\xaegpj.exe"), "evil\\xe2\\x80\\xaegpj.exe");
        assert_string_equal(ESC("\xe2\x81\xa6x\xe2\x81\xa9"), "\\xe2\\x81\\xa6x\\xe2\\x81\\xa9");
}

/* Every buffer size: the result is terminated, fits, and ends at the boundary of a
 * whole escape or character, i.e. it is the escaping of a prefix of the source. */
static void test_str_escape_truncation(void **state)
{
        static const char src[] = "a\n\xc3\xa9\\\x01\xe2\x80\xae\xf0\x9f\x98\x80\xff" "z\xc2\x85";
        const size_t srclen = sizeof(src) - 1;
        char full[128], out[128], prefix[128];
        size_t n;
        (void)state;

        n = str_escape(src, srclen, full, sizeof(full));
        assert_int_equal(n, strlen(full));
        for (size_t sz = 1; sz <= n + 1; sz++) {
                bool found = false;
                size_t m;

                memset(out, 'Z', sizeof(out));
                m = str_escape(src, srclen, out, sz);
                assert_true(m < sz);
                assert_int_equal(out[m], '\0');
                assert_int_equal(m, strlen(out));
                for (size_t k = 0; k <= srclen && !found; k++) {
                        str_escape(src, k, prefix, sizeof(prefix));
                        found = strcmp(prefix, out) == 0;
                }
                if (!found)
                        fail_msg("size %zu: \"%s\" ends inside an escape", sz, out);
                /* Cut only when the next unit did not fit. */
                if (sz == n + 1)
                        assert_string_equal(out, full);
        }
        /* Size 0 writes nothing. */
        out[0] = 'Z';
        assert_int_equal(str_escape(src, srclen, out, 0), 0);
        assert_int_equal(out[0], 'Z');
}

static void test_utf8_valid(void **state)
{
        (void)state;

        assert_true(utf8_valid("", 0));
        assert_true(utf8_valid("ascii", 5));
        assert_true(utf8_valid("caf\xc3\xa9", 5));
        assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));
        assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4));        /* U+10FFFF */
        assert_true(utf8_valid("\xc2\x85", 2));                /* a C1 control is valid UTF-8 */
        assert_false(utf8_valid("a\0b", 3));
        assert_false(utf8_valid("\xc0\xaf", 2));
        assert_false(utf8_valid("\xe0\x80\xaf", 3));
        assert_false(utf8_valid("\xed\xa0\x80", 3));
        assert_false(utf8_valid("\xf4\x90\x80\x80", 4));
        assert_false(utf8_valid("\xe2\x82", 2));
        assert_false(utf8_valid("\x80", 1));
        assert_false(utf8_valid("\xff", 1));
        /* Only len bytes count. */
        assert_true(utf8_valid("ab\xff", 2));
}

static void test_str_copy(void **state)
{
        char buf[4];
        (void)state;

        assert_true(str_copy(buf, sizeof(buf), "abc", 3));
        assert_string_equal(buf, "abc");
        assert_false(str_copy(buf, sizeof(buf), "abcd", 4));
        assert_string_equal(buf, "abc");
        assert_true(str_copy(buf, sizeof(buf), "", 0));
        assert_string_equal(buf, "");
        assert_true(str_copy(buf, 0, "", 0));
        assert_false(str_copy(buf, 0, "a", 1));
}

/* ---- I/O ---- */

static void test_pread_write_full(void **state)
{
        char path[] = "/tmp/leakwatch-test-util-XXXXXX";
        size_t n = 300 * 1024;  /* more than one pipe buffer or page */
        char *data = malloc(n), *back = malloc(n + 10);
        int fd, p[2];
        (void)state;

        assert_non_null(data);
        assert_non_null(back);
        for (size_t i = 0; i < n; i++)
                data[i] = (char)(i * 7);
        fd = mkostemp(path, O_CLOEXEC);
        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(write_full(fd, data, n), 0);
        assert_int_equal(write_full(fd, data, 0), 0);
        assert_int_equal(pread_full(fd, back, n, 0), (ssize_t)n);
        assert_memory_equal(back, data, n);
        /* From an offset, and past the end: a short count, not an error. */
        assert_int_equal(pread_full(fd, back, 100, 1000), 100);
        assert_memory_equal(back, data + 1000, 100);
        assert_int_equal(pread_full(fd, back, n + 10, 0), (ssize_t)n);
        assert_int_equal(pread_full(fd, back, 10, (off_t)n), 0);
        close(fd);

        assert_int_equal(pread_full(-1, back, 10, 0), -EBADF);
        assert_int_equal(write_full(-1, data, 10), -EBADF);

        /* A pipe cannot pread; a pipe without a reader fails the write. */
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(pread_full(p[0], back, 10, 0), -ESPIPE);
        close(p[0]);
        signal(SIGPIPE, SIG_IGN);
        assert_int_equal(write_full(p[1], data, 10), -EPIPE);
        close(p[1]);
        free(data);
        free(back);
}

static void test_safe_close(void **state)
{
        int p[2];
        (void)state;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        errno = 1234;
        assert_int_equal(safe_close(p[0]), -1);
        assert_int_equal(errno, 1234);
        assert_int_equal(safe_close(-1), -1);
        {
                _cleanup_close_ int fd = p[1];
                (void)fd;
        }
        assert_int_equal(fcntl(p[1], F_GETFD), -1);
}

static void test_now_usec(void **state)
{
        usec_t a = now_usec(CLOCK_MONOTONIC), b = now_usec(CLOCK_MONOTONIC);
        (void)state;

        assert_true(b >= a);
        assert_true(now_usec(CLOCK_REALTIME) > UINT64_C(1600000000) * USEC_PER_SEC);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_duration),
                cmocka_unit_test(test_parse_duration_exact),
                cmocka_unit_test(test_parse_percent),
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_parse_bool),
                cmocka_unit_test(test_parse_int64),
                cmocka_unit_test(test_format_size),
                cmocka_unit_test(test_format_duration),
                cmocka_unit_test(test_str_escape),
                cmocka_unit_test(test_str_escape_truncation),
                cmocka_unit_test(test_utf8_valid),
                cmocka_unit_test(test_str_copy),
                cmocka_unit_test(test_pread_write_full),
                cmocka_unit_test(test_safe_close),
                cmocka_unit_test(test_now_usec),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
