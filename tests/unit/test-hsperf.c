/* Tests for hsperf: performance-data files captured from running JVMs (OpenJDK 17, G1
 * and Serial: tests/fixtures/hsperfdata) parse to the counters jstat shows, a file in
 * the other byte order too, and every corruption of the prologue or of an entry is
 * refused whole — as is every cut of a real file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hsperf.h"

static size_t load(const char *name, uint8_t *buf, size_t sz)
{
        const char *dir = getenv("LEAKWATCH_TEST_FIXTURES");
        char path[512];
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "%s/hsperfdata/%s", dir ? dir : "tests/fixtures", name);
        f = fopen(path, "rb");
        assert_non_null(f);
        n = fread(buf, 1, sz, f);
        fclose(f);
        return n;
}

static int count(const struct hsperf_entry *e, void *userdata)
{
        (void)e;
        (*(unsigned *)userdata)++;
        return 0;
}

static void test_real_files(void **state)
{
        static uint8_t buf[HSPERF_FILE_MAX];
        struct hsperf_jvm j;
        unsigned n = 0;
        size_t len;

        (void)state;
        /* G1, -Xmx256m, a HashMap that only grows, taken after 3 s. */
        len = load("g1", buf, sizeof(buf));
        assert_int_equal(len, 32768);
        assert_int_equal(hsperf_for_each(buf, len, count, &n), 0);
        assert_int_equal(n, 187);
        assert_int_equal(hsperf_parse(buf, len, &j), 0);
        assert_int_equal(j.old_used, 11335168);
        assert_int_equal(j.old_capacity, 254803976);
        assert_int_equal(j.young_used, 9437184);
        assert_int_equal(j.heap_capacity, 254803976 + 13631512);
        assert_int_equal(j.metaspace_used, 85104);
        assert_int_equal(j.young_gcs, 1);
        assert_int_equal(j.old_gcs, 0);
        assert_int_equal(j.threads, 6);
        /* Serial, -Xmx64m, after 5 s. */
        len = load("serial", buf, sizeof(buf));
        assert_int_equal(hsperf_parse(buf, len, &j), 0);
        assert_int_equal(j.old_used, 15041928);
        assert_int_equal(j.old_capacity, 44761088);
        assert_int_equal(j.heap_capacity, 44761088 + 22347776);
        assert_int_equal(j.young_gcs, 2);
        assert_int_equal(j.threads, 6);
}

/* Prefixes of a real file are refused or parsed without reading past them (ASan and
 * valgrind watch the reads, each prefix in an allocation of its own): a file cut while
 * being read is never misread. Every cut through the prologue and the first entries
 * and around the end of the used part, every 61st in between (a whole sweep of 32 KiB
 * copies is too slow under valgrind). */
static void test_every_cut(void **state)
{
        static uint8_t buf[HSPERF_FILE_MAX];
        struct hsperf_jvm j;
        size_t len = load("g1", buf, sizeof(buf));
        uint32_t used;

        (void)state;
        memcpy(&used, buf + 8, 4);      /* little-endian file, little-endian host */
        for (size_t n = 0; n < len; n += n < 2048 || (n + 2048 >= used && n <= used + 64) ? 1 : 61) {
                uint8_t *copy = malloc(n ? n : 1);
                int r;

                assert_non_null(copy);
                memcpy(copy, buf, n);
                r = hsperf_parse(copy, n, &j);
                /* Shorter than what the prologue says is used: refused. */
                if (n < used)
                        assert_int_equal(r, -EINVAL);
                else
                        assert_int_equal(r, 0);
                free(copy);
        }
}

struct corruption {
        const char *what;
        size_t off;
        uint8_t value;
        int expect;
        size_t n;                       /* bytes set to value */
};

static void test_corruptions(void **state)
{
        static uint8_t buf[HSPERF_FILE_MAX], copy[HSPERF_FILE_MAX];
        /* The first entry is at 32: length 0x38, name at 0x14, data at 0x30, type 'J'. */
        static const struct corruption c[] = {
                { "magic", 0, 0xcb, -EINVAL, 1 },
                { "byte order", 4, 2, -EINVAL, 1 },
                { "major version", 5, 1, -EPROTONOSUPPORT, 1 },
                { "not accessible", 7, 0, -EAGAIN, 1 },
                { "used beyond the file", 10, 0x01, -EINVAL, 1 },
                { "used below the prologue", 8, 0x10, -EINVAL, 1 },
                { "first entry beyond used", 26, 0x01, -EINVAL, 1 },
                { "more entries than fit", 29, 0x10, -EINVAL, 1 },
                { "entry length 0", 32, 0, -EINVAL, 1 },
                { "entry length beyond used", 35, 0x40, -EINVAL, 1 },
                { "name inside the header", 36, 4, -EINVAL, 1 },
                { "name beyond the entry", 36, 0x40, -EINVAL, 1 },
                { "data beyond the entry", 48, 0x38, -EINVAL, 1 },
                { "data inside the name", 48, 0x18, -EINVAL, 1 },
                { "unknown type", 44, 'X', -EINVAL, 1 },
                { "units out of range", 46, 9, -EINVAL, 1 },
                { "vector beyond the entry", 40, 0x80, -EINVAL, 1 },
                /* used 0x3030 -> 0x302a: the last of 187 entries runs past it; the 186
                 * before it are fine, and still none is reported. */
                { "the last entry cut by used", 8, 0x2a, -EINVAL, 1 },
                { "control character in a name", 32 + 0x14 + 3, '\n', -EINVAL, 1 },
                /* "sun.rt._sync_Inflations", its NUL and padding overwritten: the name runs
                 * into the counter's data. */
                { "name running into the data", 32 + 0x14 + 23, 'x', -EINVAL, 5 },
        };
        size_t len;

        (void)state;
        len = load("g1", buf, sizeof(buf));
        for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
                struct hsperf_jvm j = { 0 };
                unsigned n = 0;
                int r;

                memcpy(copy, buf, len);
                memset(copy + c[i].off, c[i].value, c[i].n);
                r = hsperf_for_each(copy, len, count, &n);
                if (r != c[i].expect)
                        print_message("%s: %d, expected %d\n", c[i].what, r, c[i].expect);
                assert_int_equal(r, c[i].expect);
                /* Refused whole: not one entry reported first. */
                assert_int_equal(n, 0);
                assert_int_equal(hsperf_parse(copy, len, &j), c[i].expect);
        }
        assert_int_equal(hsperf_parse(NULL, 0, &(struct hsperf_jvm){ 0 }), -EINVAL);
        assert_int_equal(hsperf_parse(buf, HSPERF_FILE_MAX + 1, &(struct hsperf_jvm){ 0 }), -EINVAL);
}

/* A big-endian file (a JVM on s390x or SPARC writes one), built by hand: one counter. */
static void test_big_endian(void **state)
{
        uint8_t b[96] = { 0xca, 0xfe, 0xc0, 0xc0, 0, 2, 0, 1 };
        static const char name[] = "sun.gc.generation.1.space.0.used";
        struct hsperf_jvm j;

        (void)state;
        b[11] = 96;                     /* used */
        b[27] = 32;                     /* entry offset */
        b[31] = 1;                      /* one entry */
        b[35] = 64;                     /* entry length */
        b[39] = 20;                     /* name offset */
        b[44] = 'J';
        b[46] = 2;                      /* bytes */
        b[47] = 3;                      /* variable */
        b[51] = 56;                     /* data offset */
        memcpy(b + 32 + 20, name, sizeof(name));
        b[32 + 56 + 5] = 0x12;          /* 0x0000000000120000 */
        assert_int_equal(hsperf_parse(b, sizeof(b), &j), 0);
        assert_int_equal(j.old_used, 0x120000);
        assert_int_equal(j.old_capacity, -1);
        assert_int_equal(j.threads, -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_files),
                cmocka_unit_test(test_every_cut),
                cmocka_unit_test(test_corruptions),
                cmocka_unit_test(test_big_endian),
        };

        return cmocka_run_group_tests_name("hsperf", tests, NULL, NULL);
}
