/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for classify: every class from synthetic windows of outside samples and agent
 * reports, the floors that see through a sawtooth, the naming of growing types, and
 * the words with hostile type names. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "classify.h"
#include "hsperf.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)
/* A window of 100 s with a sample a second. */
#define FROM 1000.0
#define TO 1100.0

/* When set, the helpers below feed it too: a trail on a grid of 24 buckets over the
 * window, as the memory detector would cut it. */
static struct classify_trail *trail_too;
/* Seconds added to every time the helpers give. */
static double shift;

/* Anonymous memory from anon0 growing by anon_growth over the window (file, shmem
 * likewise), sampled every second. */
static void outside(struct classify_input *in, double anon0, double anon_growth, double file_growth,
                    double shmem_growth)
{
        for (int i = 0; i <= 100; i++) {
                struct sample s = { .t_ms = (int64_t)((FROM + shift + i) * 1000) };
                double f = i / 100.0;

                sample_set(&s, M_ANON, (int64_t)(anon0 + anon_growth * f));
                sample_set(&s, M_SWAP, 0);
                sample_set(&s, M_FILE, (int64_t)(10 * MIB + file_growth * f));
                sample_set(&s, M_SHMEM, (int64_t)(shmem_growth * f));
                sample_set(&s, M_FDS, 10);
                classify_add_sample(in, &s);
                if (trail_too)
                        classify_trail_add_sample(trail_too, &s);
        }
}

struct py {
        double blocks0, blocks_growth;
        int gc_enabled;
        /* types: name, count at the start, count at the end */
        const char *names[4];
        int64_t first[4], last[4];
        bool sawtooth;          /* blocks swing by half their level between reports */
};

/* Python reports every 5 s; type counts in every report. */
static void python(struct classify_input *in, const struct py *p)
{
        for (int i = 0; i <= 20; i++) {
                struct agent_report a;
                double f = i / 20.0;

                agent_report_init(&a);
                a.agent = AGENT_PYTHON;
                a.t_ms = (int64_t)((FROM + shift + i * 5) * 1000);
                a.gc_enabled = p->gc_enabled;
                a.blocks = (int64_t)(p->blocks0 + p->blocks_growth * f +
                                     (p->sawtooth && i % 2 ? p->blocks0 / 2 : 0));
                a.gc_garbage = 0;
                if (p->names[0]) {
                        a.objects = 1000;
                        a.stride = 1;
                        for (int k = 0; k < 4 && p->names[k]; k++) {
                                snprintf(a.types[k].name, sizeof(a.types[k].name), "%s", p->names[k]);
                                a.types[k].count = (int64_t)((double)p->first[k] +
                                                             (double)(p->last[k] - p->first[k]) * f);
                                a.n_types++;
                        }
                }
                classify_add_agent(in, &a);
                if (trail_too)
                        assert_int_equal(classify_trail_add_agent(trail_too, &a), 0);
        }
}

/* malloc reports every 5 s: bytes in use, free in the arenas, arena size. */
static void probe(struct classify_input *in, double used0, double used_growth, double free0, double free_growth)
{
        for (int i = 0; i <= 20; i++) {
                struct agent_report a;
                double f = i / 20.0;

                agent_report_init(&a);
                a.agent = AGENT_MALLOC;
                a.t_ms = (int64_t)((FROM + shift + i * 5) * 1000);
                a.in_use = (int64_t)(used0 + used_growth * f);
                a.free = (int64_t)(free0 + free_growth * f);
                a.mmapped = 0;
                a.arena = a.in_use + a.free;
                a.keepcost = 0;
                classify_add_agent(in, &a);
                if (trail_too)
                        assert_int_equal(classify_trail_add_agent(trail_too, &a), 0);
        }
}

static void judge(struct classify_input *in, struct classify_result *r)
{
        classify(in, r);
        print_message("  %s: %s\n", classify_class_name[r->cls], r->text);
}

static void test_descriptors(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, true, 250);
        outside(&in, 50 * MIB, 0, 0, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_DESCRIPTORS);
        assert_string_equal(r.text, "descriptor leak: +250 open descriptors over the window");
        assert_null(classify_agents(&r));
}

/* A JVM's performance data over the window: the old generation, metaspace and live
 * threads growing by these amounts from a base, read every 4 s. */
static void jvm(struct classify_input *in, unsigned every, double old_g, double meta_g, double threads_g)
{
        for (unsigned i = 0; i <= 100; i += every) {
                double f = i / 100.0;
                struct hsperf_jvm j = {
                        .old_used = (int64_t)(30 * MIB + old_g * f), .old_capacity = (int64_t)(512 * MIB),
                        .young_used = (int64_t)(8 * MIB), .metaspace_used = (int64_t)(20 * MIB + meta_g * f),
                        .young_gcs = i, .old_gcs = i / 25, .threads = (int64_t)(10 + threads_g * f),
                        .heap_capacity = (int64_t)(100 * MIB + old_g * f),
                };

                classify_add_jvm(in, FROM + i, &j);
        }
}

static void test_java(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        /* The old generation's floors carry the growth: the Java heap. */
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 200 * MIB, 40 * MIB, 0, 0);
        jvm(&in, 4, 36 * MIB, 0, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_JAVA_HEAP);
        assert_non_null(strstr(r.text, "Java heap (old generation) growing: +"));
        assert_non_null(strstr(r.text, "(4 old collections in the window)"));
        assert_string_equal(classify_class_name[r.cls], "java-heap");
        /* Metaspace. */
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 200 * MIB, 40 * MIB, 0, 0);
        jvm(&in, 4, 1 * MIB, 30 * MIB, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_JAVA_METASPACE);
        assert_non_null(strstr(r.text, "Java metaspace growing: +"));
        /* Threads, the heap flat. */
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 200 * MIB, 40 * MIB, 0, 0);
        jvm(&in, 4, 0, 0, 40);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_JAVA_THREADS);
        assert_non_null(strstr(r.text, "Java threads growing: +"));
        /* Everything Java flat: native memory outside the heap. */
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 200 * MIB, 40 * MIB, 0, 0);
        jvm(&in, 4, 2 * MIB, 0, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_JAVA_NATIVE);
        assert_non_null(strstr(r.text, "outside the Java heap"));
        /* What survives young collections but is not promoted yet is the heap too. */
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 200 * MIB, 40 * MIB, 0, 0);
        for (unsigned i = 0; i <= 100; i += 4) {
                struct hsperf_jvm j = { .old_used = (int64_t)(30 * MIB), .old_capacity = (int64_t)(512 * MIB),
                                        .young_used = (int64_t)(8 * MIB + 36 * MIB * i / 100.0),
                                        .metaspace_used = (int64_t)(20 * MIB), .young_gcs = i, .old_gcs = 0,
                                        .threads = 10, .heap_capacity = (int64_t)(100 * MIB + 40 * MIB * i / 100.0) };

                classify_add_jvm(&in, FROM + i, &j);
        }
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_JAVA_HEAP);
        assert_non_null(strstr(r.text, "Java heap growing: +"));
        assert_non_null(strstr(r.text, "still in the young generation"));
        /* A JVM whose resident memory grows three times as fast as its live data (eden
         * touched as it is swept): still the heap's leak... */
        classify_init(&in, FROM, TO, false, 120 * MIB);
        outside(&in, 200 * MIB, 120 * MIB, 0, 0);
        for (unsigned i = 0; i <= 100; i += 4) {
                struct hsperf_jvm j = { .old_used = (int64_t)(30 * MIB), .old_capacity = (int64_t)(512 * MIB),
                                        .young_used = (int64_t)(8 * MIB + 40 * MIB * i / 100.0),
                                        .metaspace_used = (int64_t)(20 * MIB), .young_gcs = i, .old_gcs = 0,
                                        .threads = 10, .heap_capacity = (int64_t)(100 * MIB + 120 * MIB * i / 100.0) };

                classify_add_jvm(&in, FROM + i, &j);
        }
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_JAVA_HEAP);
        assert_non_null(strstr(r.text, "Java heap growing: +"));
        /* ...and with flat live data, the heap sizing itself. */
        classify_init(&in, FROM, TO, false, 120 * MIB);
        outside(&in, 200 * MIB, 120 * MIB, 0, 0);
        for (unsigned i = 0; i <= 100; i += 4) {
                struct hsperf_jvm j = { .old_used = (int64_t)(30 * MIB), .old_capacity = (int64_t)(512 * MIB),
                                        .young_used = (int64_t)(8 * MIB), .metaspace_used = (int64_t)(20 * MIB),
                                        .young_gcs = i, .old_gcs = 0, .threads = 10,
                                        .heap_capacity = (int64_t)(100 * MIB + 120 * MIB * i / 100.0) };

                classify_add_jvm(&in, FROM + i, &j);
        }
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_JAVA_HEAP);
        assert_non_null(strstr(r.text, "Java heap expanding: +"));
        /* Too few readings (three, a quarter of the window without one): from outside
         * alone, the runtime named. */
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 200 * MIB, 40 * MIB, 0, 0);
        jvm(&in, 50, 36 * MIB, 0, 0);
        in.runtime = "java";
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_ANONYMOUS);
        assert_non_null(strstr(r.text, "(runtime: java)"));
}

/* A runtime no agent understands is named, not guessed at. */
static void test_runtime_without_agent_is_named(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        in.runtime = classify_runtime("node", "node /srv/app/server.js");
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_ANONYMOUS);
        assert_string_equal(r.text, "anonymous memory growing (heap or anonymous mappings, not file-backed); "
                                    "no agent in this process (runtime: node)");
        /* What names the runtime: the process name, else argv[0]'s base name. */
        assert_string_equal(classify_runtime("java", ""), "java");
        assert_string_equal(classify_runtime("MainThread", "/usr/lib/jvm/java-17/bin/java -jar app.jar"), "java");
        assert_string_equal(classify_runtime("python3.11", ""), "python");
        assert_string_equal(classify_runtime("php-fpm8.2", ""), "php");
        assert_string_equal(classify_runtime("beam.smp", ""), "erlang");
        assert_string_equal(classify_runtime("x", "/usr/bin/ruby3.1 app.rb"), "ruby");
        assert_null(classify_runtime("nginx", "nginx: worker process"));
        assert_null(classify_runtime("javac", "javac Foo.java"));
        assert_null(classify_runtime("rubymine", "/opt/rubymine"));
        assert_null(classify_runtime("", ""));
        assert_null(classify_runtime(NULL, NULL));
}

static void test_without_agent_says_anonymous_only(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_ANONYMOUS);
        assert_non_null(strstr(r.text, "anonymous memory growing"));
        assert_non_null(strstr(r.text, "not file-backed"));
        assert_null(classify_agents(&r));
}

static void test_file_backed_and_shared(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 4 * MIB);
        outside(&in, 50 * MIB, 4 * MIB, 30 * MIB, 20 * MIB);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_FILE_SHARED);
        assert_non_null(strstr(r.text, "not a heap leak"));
        assert_non_null(strstr(r.text, "+50.0 MiB"));
}

static void test_python_objects_with_gc_disabled(void **state)
{
        struct py p = { .blocks0 = 200000, .blocks_growth = 300000, .gc_enabled = 0,
                        .names = { "__main__.Person", "__main__.Car", "list", "function" },
                        .first = { 10, 10, 5000, 3000 }, .last = { 100010, 100010, 105000, 3000 } };
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python(&in, &p);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_PYTHON_OBJECTS);
        assert_string_equal(r.text, "python objects growing: __main__.Person +100k, __main__.Car +100k, list +100k; "
                                    "gc disabled");
        assert_string_equal(classify_agents(&r), "python");
}

static void test_python_types_missing_from_the_first_count(void **state)
{
        /* The oldest count was cut at 16 types: a type absent from it had at most the
         * smallest count listed, so its growth is at least the difference. */
        struct classify_input in;
        struct classify_result r;
        struct agent_report a;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        for (int i = 0; i <= 1; i++) {
                agent_report_init(&a);
                a.agent = AGENT_PYTHON;
                a.t_ms = (int64_t)((FROM + i * 100) * 1000);
                a.gc_enabled = 1;
                a.blocks = i ? 900000 : 100000;
                a.objects = 1000;
                a.stride = 1;
                for (int k = 0; k < AGENT_TYPES_MAX; k++) {
                        snprintf(a.types[k].name, sizeof(a.types[k].name), "%s%d", i && k == 0 ? "new" : "t", k);
                        a.types[k].count = i && k == 0 ? 500000 : 1000 + k;
                }
                a.n_types = AGENT_TYPES_MAX;
                classify_add_agent(&in, &a);
        }
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_PYTHON_OBJECTS);
        assert_string_equal(r.text, "python objects growing: new0 +499k");
}

static void test_python_heap_without_counts(void **state)
{
        struct py p = { .blocks0 = 200000, .blocks_growth = 300000, .gc_enabled = 1 };
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python(&in, &p);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_PYTHON_HEAP);
        assert_non_null(strstr(r.text, "+300k allocated blocks"));
        assert_null(strstr(r.text, "gc disabled"));
}

static void test_native_growth_python_flat(void **state)
{
        /* The collector's sawtooth (blocks swinging by half) is not growth: floors. */
        struct py p = { .blocks0 = 400000, .blocks_growth = 2000, .gc_enabled = 1, .sawtooth = true,
                        .names = { "dict", "str" }, .first = { 5000, 9000 }, .last = { 5000, 9000 } };
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python(&in, &p);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_NATIVE);
        assert_non_null(strstr(r.text, "(a C extension or ctypes)"));
        assert_non_null(strstr(r.text, "+40.0 MiB"));
        assert_non_null(strstr(r.text, "(+0.5%)"));
}

static void test_native_with_a_little_python_growth(void **state)
{
        /* Python's blocks grow by 4% (a list of the pointers), far too few bytes for the
         * 40 MiB: 50 MiB over 400k blocks is some 130 bytes a block, 16k blocks 2 MiB. */
        struct py p = { .blocks0 = 400000, .blocks_growth = 16000, .gc_enabled = 1,
                        .names = { "int" }, .first = { 1000 }, .last = { 17000 } };
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python(&in, &p);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_NATIVE);
        assert_non_null(strstr(r.text, "(+4.0%)"));
}

static void test_native_with_tracemalloc(void **state)
{
        /* tracemalloc on: the traced bytes decide, not the block count. */
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        for (int i = 0; i <= 20; i++) {
                struct agent_report a;

                agent_report_init(&a);
                a.agent = AGENT_PYTHON;
                a.t_ms = (int64_t)((FROM + i * 5) * 1000);
                a.gc_enabled = 1;
                a.blocks = 100000 + i * 2000;   /* +40%, but small objects */
                a.traced = (int64_t)(5 * MIB + i * 10000);
                a.traced_peak = a.traced;
                classify_add_agent(&in, &a);
        }
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_NATIVE);
}

static void test_native_seen_by_both_agents(void **state)
{
        struct py p = { .blocks0 = 400000, .blocks_growth = 100, .gc_enabled = 1 };
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python(&in, &p);
        probe(&in, 20 * MIB, 39 * MIB, 2 * MIB, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_NATIVE);
        assert_non_null(strstr(r.text, "malloc bytes in use +39.0 MiB"));
        assert_string_equal(classify_agents(&r), "python malloc");
}

static void test_allocator_retention(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        probe(&in, 10 * MIB, 0.1 * MIB, 5 * MIB, 39 * MIB);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_ALLOCATOR);
        assert_string_equal(r.text, "allocator retention or fragmentation: resident +40.0 MiB while malloc bytes "
                                    "in use stayed flat (+102 KiB); 44.0 MiB free inside malloc's arenas");
        assert_string_equal(classify_agents(&r), "malloc");
}

static void test_malloc_heap_leak(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        probe(&in, 10 * MIB, 38 * MIB, 1 * MIB, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_MALLOC_HEAP);
        assert_non_null(strstr(r.text, "bytes in use +38.0 MiB"));
}

static void test_outside_malloc(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        probe(&in, 10 * MIB, 0, 1 * MIB, 0);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_OUTSIDE_MALLOC);
        assert_non_null(strstr(r.text, "outside malloc"));
}

static void test_agent_with_too_little_data_is_ignored(void **state)
{
        /* One report, or none in the first quarter: the outside data alone speaks. */
        struct classify_input in;
        struct classify_result r;
        struct agent_report a;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        agent_report_init(&a);
        a.agent = AGENT_PYTHON;
        a.t_ms = (int64_t)((TO - 1) * 1000);
        a.gc_enabled = 0;
        a.blocks = 5;
        classify_add_agent(&in, &a);
        a.t_ms = (int64_t)((TO + 50) * 1000);   /* outside the window: ignored */
        classify_add_agent(&in, &a);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_ANONYMOUS);
        assert_int_equal(in.py_reports, 1);
}

static void test_hostile_type_names_are_escaped(void **state)
{
        struct py p = { .blocks0 = 1000, .blocks_growth = 300000, .gc_enabled = 1,
                        .names = { "evil\x1b[2J\xe2\x80\xaeX" }, .first = { 0 }, .last = { 5000 } };
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python(&in, &p);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_PYTHON_OBJECTS);
        assert_string_equal(r.text, "python objects growing: evil\\x1b[2J\\xe2\\x80\\xaeX +5.0k");
}

static void test_long_text_is_cut_not_overflowed(void **state)
{
        struct classify_input in;
        struct classify_result r;
        struct agent_report a;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        for (int i = 0; i <= 1; i++) {
                agent_report_init(&a);
                a.agent = AGENT_PYTHON;
                a.t_ms = (int64_t)((FROM + i * 100) * 1000);
                a.gc_enabled = 0;
                a.blocks = i ? 900000 : 1000;
                a.gc_garbage = i ? 70000 : 0;
                a.objects = 1;
                a.stride = 1;
                for (int k = 0; k < 3; k++) {
                        /* 64 bytes that escape to four times as many characters */
                        memset(a.types[k].name, '\x01', AGENT_TYPE_NAME_MAX);
                        a.types[k].name[AGENT_TYPE_NAME_MAX] = '\0';
                        a.types[k].name[0] = (char)('a' + k);
                        a.types[k].count = i ? 100000 : 1;
                }
                a.n_types = 3;
                classify_add_agent(&in, &a);
        }
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_PYTHON_OBJECTS);
        assert_true(strlen(r.text) < CLASSIFY_TEXT_MAX);
        assert_non_null(strstr(r.text, "python objects growing: a\\x01"));
}

/* ---- the trail ---- */

/* One window's data, fed to an input directly and to a trail. */
struct scenario {
        bool fds;
        double anon0, anon_growth, file_growth, shmem_growth;
        const struct py *py;
        double used0, used_growth, free0, free_growth;     /* used0 0: no probe */
};

/* The trail gives classify() the input the samples themselves give: the same class and
 * the same sentence, numbers included, for each kind of window. The data is shifted by
 * half a second: a value stamped exactly at the window's end belongs to the next bucket,
 * where the detector puts it, and the direct input would count it in this window. */
/* A Python program whose blocks stay flat, traced from the window's middle on: its one
 * site grows by site_rate bytes a second (0: no sites), named frame. */
static void python_traced(struct classify_input *in, struct classify_trail *t, double site_rate, const char *frame)
{
        for (int i = 0; i <= 20; i++) {
                struct agent_report a;

                agent_report_init(&a);
                a.agent = AGENT_PYTHON;
                a.t_ms = (int64_t)((FROM + i * 5) * 1000);
                a.gc_enabled = 1;
                a.blocks = 100000 + i;
                if (i >= 10 && site_rate > 0) {
                        a.version = 2;
                        a.traced = (int64_t)(site_rate * (i - 10) * 5);
                        a.traced_peak = a.traced;
                        if (i > 10) {
                                a.n_sites = 1;
                                a.sites[0] = (struct agent_site){ .live_bytes = a.traced, .live_count = i - 10,
                                                                  .growth = a.traced, .n_frames = 2 };
                                a.site_text_len = (size_t)snprintf(a.site_text, sizeof(a.site_text), "%s main.py:9",
                                                                   frame) + 1;
                                a.sites[0].len = (uint16_t)(a.site_text_len - 1);
                        }
                }
                classify_add_agent(in, &a);
                if (t)
                        assert_int_equal(classify_trail_add_agent(t, &a), 0);
        }
}

static void test_large_buffers_are_python(void **state)
{
        struct classify_input in, kept;
        struct classify_result r, k;
        struct classify_trail *t;

        (void)state;
        /* Untraced, a list of 1 MiB buffers looks native: flat blocks, rising memory. */
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python_traced(&in, NULL, 0, NULL);
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_NATIVE);
        assert_false(r.sites);
        /* Traced, its sites grow as fast as memory does (0.4 MiB/s): Python, and where. */
        assert_int_equal(classify_trail_new(FROM, (TO - FROM) / 24, &t), 0);
        trail_too = t;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        trail_too = NULL;
        python_traced(&in, t, 0.4 * MIB, "/srv/app/leak.py:12");
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_PYTHON_HEAP);
        assert_true(r.sites);
        assert_string_equal(classify_agents(&r), "python");
        assert_string_equal(r.text, "python heap growing in large objects: +20.0 MiB traced by tracemalloc, far "
                                    "more than the allocated blocks explain; growing at leak.py:12 (+20.0 MiB)");
        /* The trail says the same. */
        classify_trail_input(t, FROM, TO, false, 40 * MIB, &kept);
        judge(&kept, &k);
        assert_string_equal(k.text, r.text);
        /* A window that ended where its last bucket closed, before the newest report
         * with sites came: the report is what the agent says now, and counts. */
        classify_trail_input(t, FROM, TO - 3, false, 40 * MIB, &kept);
        judge(&kept, &k);
        assert_int_equal(k.cls, CLASS_PYTHON_HEAP);
        assert_true(k.sites);
        assert_non_null(strstr(k.text, "; growing at leak.py:12 (+20.0 MiB)"));
        /* Sites that explain a twentieth of the growth do not make it Python. */
        classify_trail_reset(t, FROM, (TO - FROM) / 24);
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        python_traced(&in, t, 0.02 * MIB, "ext.py:3");
        judge(&in, &r);
        assert_int_equal(r.cls, CLASS_NATIVE);
        assert_string_equal(r.text, "native memory growing outside Python's heap (a C extension or ctypes): anonymous "
                                    "+40.0 MiB while tracemalloc saw Python's allocations grow +1.00 MiB; growing at "
                                    "ext.py:3 (+1.00 MiB)");
        classify_trail_free(t);
}

static void test_hostile_frames_are_escaped(void **state)
{
        struct classify_input in;
        struct classify_result r;

        (void)state;
        classify_init(&in, FROM, TO, false, 40 * MIB);
        outside(&in, 50 * MIB, 40 * MIB, 0, 0);
        /* A file name with a right-to-left override and an escaped newline. */
        python_traced(&in, NULL, 0.4 * MIB, "/srv/\xe2\x80\xaeyp.kcatta%0A:1");
        judge(&in, &r);
        assert_true(r.sites);
        assert_null(strstr(r.text, "\xe2\x80\xae"));
        assert_null(strchr(r.text, '\n'));
        assert_non_null(strstr(r.text, "%0A:1"));
}

static void test_trail_gives_the_same_input(void **state)
{
        static const struct py objects = { .blocks0 = 200000, .blocks_growth = 300000, .gc_enabled = 0,
                                           .names = { "__main__.Person", "list" }, .first = { 10, 5000 },
                                           .last = { 100010, 105000 } };
        static const struct py flat = { .blocks0 = 400000, .blocks_growth = 2000, .gc_enabled = 1,
                                        .sawtooth = true, .names = { "dict" }, .first = { 5000 },
                                        .last = { 5000 } };
        static const struct scenario sc[] = {
                { .fds = true, .anon0 = 50 * MIB },
                { .anon0 = 50 * MIB, .anon_growth = 40 * MIB },
                { .anon0 = 50 * MIB, .anon_growth = 4 * MIB, .file_growth = 30 * MIB, .shmem_growth = 20 * MIB },
                { .anon0 = 50 * MIB, .anon_growth = 40 * MIB, .py = &objects },
                { .anon0 = 50 * MIB, .anon_growth = 40 * MIB, .py = &flat },
                { .anon0 = 50 * MIB, .anon_growth = 40 * MIB, .used0 = 30 * MIB, .used_growth = 38 * MIB,
                  .free0 = MIB },
                { .anon0 = 50 * MIB, .anon_growth = 40 * MIB, .used0 = 30 * MIB, .used_growth = MIB,
                  .free0 = MIB, .free_growth = 30 * MIB },
        };

        (void)state;
        shift = 0.5;
        for (size_t i = 0; i < ELEMENTSOF(sc); i++) {
                struct classify_input direct, kept;
                struct classify_result a, b;
                struct classify_trail *t;
                double growth = sc[i].fds ? 250 : sc[i].anon_growth;

                assert_int_equal(classify_trail_new(FROM, (TO - FROM) / 24, &t), 0);
                trail_too = t;
                classify_init(&direct, FROM, TO, sc[i].fds, growth);
                outside(&direct, sc[i].anon0, sc[i].anon_growth, sc[i].file_growth, sc[i].shmem_growth);
                if (sc[i].py)
                        python(&direct, sc[i].py);
                if (sc[i].used0 > 0)
                        probe(&direct, sc[i].used0, sc[i].used_growth, sc[i].free0, sc[i].free_growth);
                trail_too = NULL;
                classify_trail_input(t, FROM, TO, sc[i].fds, growth, &kept);
                classify(&direct, &a);
                classify(&kept, &b);
                print_message("  %s / %s\n", a.text, b.text);
                assert_int_equal(a.cls, b.cls);
                assert_string_equal(a.text, b.text);
                assert_int_equal(a.python, b.python);
                assert_int_equal(a.malloc, b.malloc);
                classify_trail_free(t);
        }
        shift = 0;
}

/* A trail forgets what is older than it keeps, and a window before its data is empty. */
static void test_trail_keeps_the_last_buckets(void **state)
{
        struct classify_input in;
        struct classify_result r;
        struct classify_trail *t;
        const double width = 10;

        (void)state;
        assert_int_equal(classify_trail_new(0, width, &t), 0);
        /* Growth in the first 24 buckets, then 48 flat ones push it out. */
        for (int i = 0; i < 72 * 10; i++) {
                struct sample s = { .t_ms = (int64_t)i * 1000 };

                sample_set(&s, M_ANON, (int64_t)(i < 240 ? 50 * MIB + i * MIB / 10 : 100 * MIB));
                sample_set(&s, M_FILE, (int64_t)(10 * MIB + (i < 240 ? i * MIB : 0)));
                classify_trail_add_sample(t, &s);
        }
        /* The first window is gone: nothing is known of it. */
        classify_trail_input(t, 0, 240, false, 24 * MIB, &in);
        assert_true(isnan(in.anon.first) && isnan(in.file.last));
        /* The last window is flat: what the trail holds says so. */
        classify_trail_input(t, 240 * width / 10, 720, false, 0, &in);
        classify(&in, &r);
        assert_true(in.anon.first == in.anon.last);
        /* Starting over forgets everything. */
        classify_trail_reset(t, 0, width);
        classify_trail_input(t, 240, 720, false, 0, &in);
        assert_true(isnan(in.anon.first));
        classify_trail_free(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_descriptors),
                cmocka_unit_test(test_without_agent_says_anonymous_only),
                cmocka_unit_test(test_runtime_without_agent_is_named),
                cmocka_unit_test(test_java),
                cmocka_unit_test(test_file_backed_and_shared),
                cmocka_unit_test(test_python_objects_with_gc_disabled),
                cmocka_unit_test(test_python_types_missing_from_the_first_count),
                cmocka_unit_test(test_python_heap_without_counts),
                cmocka_unit_test(test_native_growth_python_flat),
                cmocka_unit_test(test_native_with_a_little_python_growth),
                cmocka_unit_test(test_native_with_tracemalloc),
                cmocka_unit_test(test_native_seen_by_both_agents),
                cmocka_unit_test(test_allocator_retention),
                cmocka_unit_test(test_malloc_heap_leak),
                cmocka_unit_test(test_outside_malloc),
                cmocka_unit_test(test_agent_with_too_little_data_is_ignored),
                cmocka_unit_test(test_hostile_type_names_are_escaped),
                cmocka_unit_test(test_long_text_is_cut_not_overflowed),
                cmocka_unit_test(test_large_buffers_are_python),
                cmocka_unit_test(test_hostile_frames_are_escaped),
                cmocka_unit_test(test_trail_gives_the_same_input),
                cmocka_unit_test(test_trail_keeps_the_last_buckets),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
