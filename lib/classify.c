/* SPDX-License-Identifier: GPL-2.0-or-later */
/* classify: what kind of leak an alert is, from outside and inside data over its window. */
#include "classify.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "hsperf.h"
#include "util.h"

/* Python's heap counts as flat while its allocated blocks grow by less than 2% of their
 * floor at the start of the window (and by fewer than 1000 blocks, some 64 KiB, for a
 * small heap): a steady program's floor moves less than that, a leak of objects moves it
 * by its own size, which is what the alert is about. */
#define PY_FLAT_REL 0.02
#define PY_FLAT_BLOCKS 1000.0
/* ...and Python's growth explains the alert only if it could account for a quarter of
 * it, at the bytes of anonymous memory per allocated block at the start of the window
 * (an overestimate, as the interpreter's own memory is counted in: the doubt goes to
 * Python). A ctypes program keeping its pointers in a list grows blocks, not bytes. */
#define PY_SHARE 0.25
/* With tracemalloc on, Python's heap counts as flat while its traced bytes grow by less
 * than a tenth of what the detector saw: the rest of the growth is not Python's. */
#define TRACED_SHARE 0.1
/* malloc's bytes in use "explain" the growth when they rose by at least half of it,
 * and count as flat below a quarter of it: between the two the probe says no more than
 * the outside data. */
#define IN_USE_SHARE 0.5
#define IN_USE_FLAT_SHARE 0.25
/* The allocator holds the growth when its arenas (free space included) grew by at
 * least half of it while the bytes in use stayed flat. */
#define HELD_SHARE 0.5
/* File-backed and shared memory is the story when it grew at least twice as much as
 * the anonymous memory the detector watches. */
#define FILE_SHARE 2.0
/* A JVM's part (old generation, metaspace) is the leak when its floors grew by at least
 * half the anonymous growth: the rest is the young generation's and the JIT's churn.
 * Four readings of the performance data (four evaluations) give each quarter floor of
 * the window a value at the least. */
#define JAVA_SHARE 0.5
#define JAVA_MIN_REPORTS 4
/* The heap leaks when its live data after collections grew by at least a fifth of the
 * anonymous growth: a JVM's resident heap grows faster than its live data (eden and the
 * survivor spaces are touched as the allocation pointer sweeps them, the old generation
 * as objects are promoted), so a heap leak shows as live growth of a fraction of the
 * resident growth — 0.3 to 0.4 measured on OpenJDK 17 with Serial and Parallel
 * (docs/agents.md) — while a native leak leaves the live heap flat. */
#define JAVA_LIVE_SHARE 0.2
/* Types named in the sentence, and the smallest growth worth naming relative to the
 * largest: four keep the line short; a tenth leaves out the noise of sampled counts. */
#define TYPES_SHOWN 4
/* A site's frame in the sentence: its last path component, and at most this many bytes
 * of it, so the sentence keeps its other words. */
#define SITE_WORDS_MAX 80
#define TYPE_SHARE 0.1

const char *const classify_class_name[CLASS__MAX] = {
        [CLASS_DESCRIPTORS] = "descriptors",
        [CLASS_PYTHON_OBJECTS] = "python-objects",
        [CLASS_PYTHON_HEAP] = "python-heap",
        [CLASS_NATIVE] = "native",
        [CLASS_ALLOCATOR] = "allocator",
        [CLASS_MALLOC_HEAP] = "malloc-heap",
        [CLASS_OUTSIDE_MALLOC] = "outside-malloc",
        [CLASS_FILE_SHARED] = "file-shared",
        [CLASS_ANONYMOUS] = "anonymous",
        [CLASS_JAVA_HEAP] = "java-heap",
        [CLASS_JAVA_METASPACE] = "java-metaspace",
        [CLASS_JAVA_THREADS] = "java-threads",
        [CLASS_JAVA_NATIVE] = "java-native",
};

/* ---- feeding ---- */

static void floor_init(struct classify_floor *f)
{
        *f = (struct classify_floor){ .first = NAN, .last = NAN, .latest = NAN, .latest_t = -INFINITY };
}

/* Counts v at time t into the floors of the window's first and last quarters. Returns
 * false if it is outside the window. */
static bool floor_quarters(struct classify_floor *f, const struct classify_input *in, double t, double v)
{
        double quarter = (in->to - in->from) / 4;

        if (!isfinite(v) || t < in->from || t > in->to)
                return false;
        f->n++;
        if (t <= in->from + quarter && !(f->first <= v))
                f->first = v;
        if (t >= in->to - quarter && !(f->last <= v))
                f->last = v;
        return true;
}

static void floor_add(struct classify_floor *f, const struct classify_input *in, double t, double v)
{
        if (!floor_quarters(f, in, t, v))
                return;
        if (t >= f->latest_t) {
                f->latest = v;
                f->latest_t = t;
        }
}

/* The growth over the whole window: the floors of the first and last quarters are
 * three quarters of a window apart, so for steady growth their difference is 3/4 of it.
 * NAN unless both quarters had a value. */
static double growth_of(const struct classify_floor *f)
{
        return (f->last - f->first) * 4 / 3;
}

void classify_init(struct classify_input *in, double from, double to, bool fds, double growth)
{
        *in = (struct classify_input){ .from = from, .to = to, .fds = fds, .growth = growth, .gc_enabled = -1,
                                       .old_gcs_first = -1, .old_gcs_last = -1, .old_capacity = -1 };
        floor_init(&in->old_used);
        floor_init(&in->heap_used);
        floor_init(&in->heap_committed);
        floor_init(&in->metaspace);
        floor_init(&in->threads);
        floor_init(&in->anon);
        floor_init(&in->swap);
        floor_init(&in->file);
        floor_init(&in->shmem);
        floor_init(&in->nfds);
        floor_init(&in->blocks);
        floor_init(&in->traced);
        floor_init(&in->garbage);
        floor_init(&in->uncollectable);
        floor_init(&in->in_use);
        floor_init(&in->free);
        floor_init(&in->arena);
}

static void add_metric(struct classify_input *in, struct classify_floor *f, const struct sample *smp, enum metric m)
{
        if (sample_has(smp, m))
                floor_add(f, in, (double)smp->t_ms / 1000, (double)smp->v[m]);
}

void classify_add_sample(struct classify_input *in, const struct sample *smp)
{
        add_metric(in, &in->anon, smp, M_ANON);
        add_metric(in, &in->swap, smp, M_SWAP);
        add_metric(in, &in->file, smp, M_FILE);
        add_metric(in, &in->shmem, smp, M_SHMEM);
        add_metric(in, &in->nfds, smp, M_FDS);
}

static void add_known(struct classify_input *in, struct classify_floor *f, double t, int64_t v)
{
        if (v >= 0)
                floor_add(f, in, t, (double)v);
}

void classify_add_jvm(struct classify_input *in, double t, const struct hsperf_jvm *j)
{
        if (t < in->from || t > in->to)
                return;
        in->jvm_reports++;
        add_known(in, &in->old_used, t, j->old_used);
        if (j->old_used >= 0 && j->young_used >= 0)
                add_known(in, &in->heap_used, t, j->old_used + j->young_used);
        add_known(in, &in->heap_committed, t, j->heap_capacity);
        add_known(in, &in->metaspace, t, j->metaspace_used);
        add_known(in, &in->threads, t, j->threads);
        if (j->old_gcs >= 0) {
                if (in->old_gcs_first < 0)
                        in->old_gcs_first = j->old_gcs;
                in->old_gcs_last = j->old_gcs;
        }
        if (j->old_capacity >= 0)
                in->old_capacity = j->old_capacity;
}

static void keep_types(struct classify_types *ty, const struct agent_report *a)
{
        ty->known = true;
        ty->objects = a->objects;
        ty->n = MIN(a->n_types, (size_t)AGENT_TYPES_MAX);
        memcpy(ty->t, a->types, ty->n * sizeof(ty->t[0]));
}

/* A report's sites into s: tracing says whether the agent's previous report was tracing
 * already (the growth of its sites counts from when it began). */
static void sites_add(struct classify_sites *s, bool *tracing, const struct agent_report *a)
{
        double t = (double)a->t_ms / 1000;
        bool now = a->n_sites > 0 || a->traced >= 0;

        if (!now) {
                *tracing = false;
                return;
        }
        if (!*tracing) {
                *tracing = true;
                s->since = t;
                s->known = false;
        }
        if (a->n_sites == 0)
                return;
        s->known = true;
        s->t = t;
        s->growth = 0;
        s->n = MIN(a->n_sites, (size_t)CLASSIFY_SITES);
        for (size_t i = 0; i < a->n_sites; i++) {
                s->growth += a->sites[i].growth;
                if (i < s->n) {
                        const char *f = agent_site_frames(a, i), *sp = strchr(f, ' ');
                        size_t len = sp ? (size_t)(sp - f) : strlen(f);

                        s->top[i].growth = a->sites[i].growth;
                        s->top[i].live = a->sites[i].live_bytes;
                        str_copy(s->top[i].frame, sizeof(s->top[i].frame), f, MIN(len, (size_t)AGENT_FRAME_MAX));
                }
        }
}

void classify_add_agent(struct classify_input *in, const struct agent_report *a)
{
        double t = (double)a->t_ms / 1000;

        if (t < in->from || t > in->to)
                return;
        if ((unsigned)a->agent < AGENT__KIND_MAX)
                sites_add(&in->sites[a->agent], &in->tracing[a->agent], a);
        if (a->agent == AGENT_PYTHON) {
                int64_t unc = 0;

                in->py_reports++;
                if (a->gc_enabled >= 0)
                        in->gc_enabled = a->gc_enabled;
                add_known(in, &in->blocks, t, a->blocks);
                add_known(in, &in->traced, t, a->traced);
                add_known(in, &in->garbage, t, a->gc_garbage);
                for (int g = 0; g < 3; g++)
                        unc += MAX(a->gc_uncollectable[g], 0);
                add_known(in, &in->uncollectable, t, unc);
                if (a->objects >= 0) {
                        if (!in->types_first.known)
                                keep_types(&in->types_first, a);
                        keep_types(&in->types_last, a);
                }
        } else if (a->agent == AGENT_MALLOC) {
                in->malloc_reports++;
                /* Bytes in use: in the arenas and in blocks mmapped one by one. */
                if (a->in_use >= 0 && a->mmapped >= 0)
                        add_known(in, &in->in_use, t, a->in_use + a->mmapped);
                add_known(in, &in->free, t, a->free);
                if (a->arena >= 0 && a->mmapped >= 0)
                        add_known(in, &in->arena, t, a->arena + a->mmapped);
        }
}

/* ---- words ---- */

struct text {
        char *buf;
        size_t sz, len;
};

static void PRINTF(2, 3) put(struct text *t, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (t->len >= t->sz)
                return;
        va_start(ap, fmt);
        n = vsnprintf(t->buf + t->len, t->sz - t->len, fmt, ap);
        va_end(ap);
        if (n > 0)
                t->len = MIN(t->len + (size_t)n, t->sz);
}

/* "+950", "+12k", "+1.5M", "-3k". */
static const char *count_words(double v, char *buf, size_t sz)
{
        double a = fabs(v);
        const char *sign = v < 0 ? "-" : "+";

        if (a < 1000)
                snprintf(buf, sz, "%s%.0f", sign, a);
        else if (a < 10000)
                snprintf(buf, sz, "%s%.1fk", sign, a / 1000);
        else if (a < 1e6)
                snprintf(buf, sz, "%s%.0fk", sign, a / 1000);
        else
                snprintf(buf, sz, "%s%.1fM", sign, a / 1e6);
        return buf;
}

/* "+12.0 MiB", "-3.0 KiB". */
static const char *size_words(double v, char *buf, size_t sz)
{
        char s[32];

        format_size((uint64_t)fabs(v), s, sizeof(s));
        snprintf(buf, sz, "%s%s", v < 0 ? "-" : "+", s);
        return buf;
}

/* ---- the rules ---- */

/* The growth the alert is about, measured like the agents' series (floors) so the two
 * compare; the detector's own number when the samples do not cover the window. */
static double outside_growth(const struct classify_input *in)
{
        double g = growth_of(&in->anon) + (isfinite(growth_of(&in->swap)) ? growth_of(&in->swap) : 0);

        if (in->fds)
                g = growth_of(&in->nfds);
        return isfinite(g) && g > 0 ? g : in->growth;
}

static bool agent_covers(unsigned reports, const struct classify_floor *f)
{
        return reports >= 2 && isfinite(growth_of(f));
}

/* Whether the Python agent's allocation sites grow at a tenth of the outside rate or
 * more (tracemalloc sees every allocation Python makes, large buffers included, which
 * the allocated blocks do not weigh): their growth counts from when tracing began,
 * usually inside the window, so rates are compared. */
static bool python_sites_explain(const struct classify_input *in, double g)
{
        const struct classify_sites *s = &in->sites[AGENT_PYTHON];

        if (!s->known || !(s->t > s->since) || !(g > 0) || !(in->to > in->from))
                return false;
        /* A tenth, as for the traced bytes: the outside growth includes tracemalloc's
         * own bookkeeping, tens of bytes per live allocation. */
        return (double)s->growth / (s->t - s->since) >= TRACED_SHARE * g / (in->to - in->from);
}

/* Python's heap: 1 growing, 0 flat, -1 unknown. */
/* Whether the allocated blocks grew enough to explain the growth: by 2% (and 1000
 * blocks), and that many blocks, at the bytes per block at the start, make a quarter
 * of it (a ctypes program that keeps its pointers in a list grows blocks, not bytes). */
static bool blocks_explain(const struct classify_input *in, double g)
{
        double b = growth_of(&in->blocks), per_block;

        if (!(b >= MAX(PY_FLAT_REL * in->blocks.first, PY_FLAT_BLOCKS)))
                return false;
        per_block = in->blocks.first > 0 ? in->anon.first / in->blocks.first : NAN;
        return !(isfinite(per_block) && isfinite(g) && g > 0 && b * per_block < PY_SHARE * g);
}

static bool python_sites_known(const struct classify_input *in)
{
        const struct classify_sites *s = &in->sites[AGENT_PYTHON];

        return s->known && s->t > s->since;
}

static int python_growing(const struct classify_input *in, double g)
{
        if (!agent_covers(in->py_reports, &in->blocks))
                return -1;
        /* Traced, every allocation Python makes is seen: the sites decide, whatever
         * the agent's own work (tracemalloc's import, its snapshots) did to the blocks. */
        if (python_sites_known(in))
                return python_sites_explain(in, g);
        if (isfinite(growth_of(&in->traced)) && isfinite(g) && g > 0)
                return growth_of(&in->traced) >= TRACED_SHARE * g;
        return blocks_explain(in, g);
}

struct type_growth {
        const char *name;
        double growth;
};

/* The growth of each type of the newest count against the oldest one. A type missing
 * from the oldest full list (fewer than the maximum sent) was absent; missing from a
 * cut list, it had at most the smallest count listed. */
static size_t type_growths(const struct classify_input *in, struct type_growth *out)
{
        const struct classify_types *a = &in->types_first, *b = &in->types_last;
        int64_t floor_count = 0;
        size_t n = 0;

        if (!a->known || !b->known)
                return 0;
        if (a->n == AGENT_TYPES_MAX)
                for (size_t i = 0; i < a->n; i++)
                        if (i == 0 || a->t[i].count < floor_count)
                                floor_count = a->t[i].count;
        for (size_t i = 0; i < b->n; i++) {
                int64_t before = floor_count;

                for (size_t j = 0; j < a->n; j++)
                        if (strcmp(a->t[j].name, b->t[i].name) == 0) {
                                before = a->t[j].count;
                                break;
                        }
                if (b->t[i].count > before)
                        out[n++] = (struct type_growth){ b->t[i].name, (double)(b->t[i].count - before) };
        }
        /* Largest growth first (a handful of entries: insertion sort). */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && out[j].growth > out[j - 1].growth; j--) {
                        struct type_growth tmp = out[j];
                        out[j] = out[j - 1];
                        out[j - 1] = tmp;
                }
        return n;
}

static void python_words(const struct classify_input *in, double growth, struct classify_result *r, struct text *t)
{
        struct type_growth g[AGENT_TYPES_MAX];
        size_t n = type_growths(in, g);
        char num[48];

        if (python_sites_explain(in, growth) && !blocks_explain(in, growth)) {
                /* Few blocks, many bytes: large objects (buffers, arrays) Python allocated;
                 * whatever types a sampled count saw change, they do not weigh this. */
                r->cls = CLASS_PYTHON_HEAP;
                put(t, "python heap growing in large objects: %s traced by tracemalloc, far more than the allocated "
                       "blocks explain", size_words((double)in->sites[AGENT_PYTHON].growth, num, sizeof(num)));
        } else if (n > 0) {
                r->cls = CLASS_PYTHON_OBJECTS;
                put(t, "python objects growing:");
                for (size_t i = 0; i < n && i < TYPES_SHOWN && g[i].growth >= TYPE_SHARE * g[0].growth; i++) {
                        char name[AGENT_TYPE_NAME_MAX * 4 + 1];

                        /* Names come from the program: printable, whatever it chose. */
                        str_escape(g[i].name, strlen(g[i].name), name, sizeof(name));
                        put(t, "%s %s %s", i ? "," : "", name, count_words(g[i].growth, num, sizeof(num)));
                }
        } else {
                r->cls = CLASS_PYTHON_HEAP;
                put(t, "python heap growing: %s allocated blocks (no object counts over the window yet)",
                    count_words(growth_of(&in->blocks), num, sizeof(num)));
        }
        if (in->gc_enabled == 0)
                put(t, "; gc disabled");
        if (growth_of(&in->garbage) > 0 || growth_of(&in->uncollectable) > 0)
                put(t, "; %s uncollectable objects in gc.garbage",
                    count_words(MAX(growth_of(&in->garbage), growth_of(&in->uncollectable)), num, sizeof(num)));
}

/* "; growing at app.py:12 (+4.0 MiB)": where the agent of the class saw memory grow. */
static void site_words(const struct classify_input *in, int agent, struct classify_result *r, struct text *t)
{
        const struct classify_sites *s;
        const char *f, *slash;
        char shown[SITE_WORDS_MAX + 1], esc[SITE_WORDS_MAX * 4 + 1], a[48];
        size_t len;

        if (agent < 0)
                agent = in->sites[AGENT_PYTHON].known ? AGENT_PYTHON : AGENT_MALLOC;
        s = &in->sites[agent];
        if (!s->known || s->n == 0)
                return;
        /* A path's last component: the file and line are what a person reads first. */
        f = s->top[0].frame;
        slash = strrchr(f, '/');
        if (slash && slash[1] && agent == AGENT_PYTHON)
                f = slash + 1;
        len = strlen(f);
        if (len > SITE_WORDS_MAX) {
                len = SITE_WORDS_MAX;
                while (len > 0 && ((unsigned char)f[len] & 0xc0) == 0x80)
                        len--;          /* not inside a character */
        }
        str_copy(shown, sizeof(shown), f, len);
        str_escape(shown, strlen(shown), esc, sizeof(esc));
        put(t, "; growing at %s (%s)", esc, size_words((double)s->top[0].growth, a, sizeof(a)));
        r->sites = true;
}

/* What the allocator probe says, when Python's heap does not explain the growth (or
 * there is no Python). Returns false if it says nothing decisive. */
static bool malloc_words(const struct classify_input *in, double g, bool python, struct classify_result *r,
                         struct text *t)
{
        double used = growth_of(&in->in_use), held = growth_of(&in->arena);
        char a[48], b[48], c[48];

        if (!agent_covers(in->malloc_reports, &in->in_use) || !(g > 0))
                return false;
        r->malloc = true;
        if (used >= IN_USE_SHARE * g) {
                r->cls = python ? CLASS_NATIVE : CLASS_MALLOC_HEAP;
                if (python)
                        put(t, "native memory growing outside Python's heap (a C extension or ctypes): "
                               "malloc bytes in use %s while Python's heap stayed flat", size_words(used, a, sizeof(a)));
                else
                        put(t, "malloc heap growing: bytes in use %s of anonymous %s", size_words(used, a, sizeof(a)),
                            size_words(g, b, sizeof(b)));
                return true;
        }
        if (used < IN_USE_FLAT_SHARE * g &&
            ((isfinite(held) && held >= HELD_SHARE * g) || in->free.latest > in->in_use.latest)) {
                r->cls = CLASS_ALLOCATOR;
                put(t, "allocator retention or fragmentation: resident %s while malloc bytes in use stayed flat (%s); "
                       "%s free inside malloc's arenas", size_words(g, a, sizeof(a)), size_words(used, b, sizeof(b)),
                    format_size((uint64_t)MAX(in->free.latest, 0.0), c, sizeof(c)));
                return true;
        }
        if (used < IN_USE_FLAT_SHARE * g) {
                r->cls = python ? CLASS_NATIVE : CLASS_OUTSIDE_MALLOC;
                put(t, "anonymous memory growing outside malloc (%s; direct mmap, another allocator, or thread stacks)%s",
                    size_words(g, a, sizeof(a)), python ? "; Python's heap stayed flat" : "");
                return true;
        }
        r->malloc = false;
        return false;
}

/* A JVM seen through its performance data: which of its parts grows. Metaspace is the
 * story when it grew by at least JAVA_SHARE of the anonymous growth and more than the
 * heap; the heap when its live data grew by at least JAVA_LIVE_SHARE of it, or the
 * memory it committed by at least JAVA_SHARE (with flat live data: the heap sizing
 * itself, said so). Its live data
 * is judged by its floors, which are what the collections left: eden empties at each
 * young collection, so the floor of old + young over a quarter is what survived, and a
 * heap that only fills between collections has flat floors. The old generation is
 * named when it carries at least half of that. Returns false without enough readings
 * in the window. */
static bool java_words(const struct classify_input *in, double g, struct classify_result *r, struct text *t)
{
        double heap_g = growth_of(&in->heap_used), old_g = growth_of(&in->old_used);
        double commit_g = growth_of(&in->heap_committed), meta_g = growth_of(&in->metaspace);
        double thr_g = growth_of(&in->threads);
        int64_t old_gcs = in->old_gcs_first >= 0 ? in->old_gcs_last - in->old_gcs_first : -1;
        char a[48], b[48], c[48];
        bool live, expanding;

        if (in->jvm_reports < JAVA_MIN_REPORTS || !isfinite(heap_g) || !isfinite(old_g))
                return false;
        if (!isfinite(g) || g <= 0)
                g = 0;
        if (!isfinite(commit_g))
                commit_g = 0;
        live = heap_g > 0 && heap_g >= JAVA_LIVE_SHARE * g;
        expanding = commit_g > 0 && commit_g >= JAVA_SHARE * g;
        if (isfinite(meta_g) && meta_g > 0 && meta_g >= JAVA_SHARE * g && meta_g > heap_g) {
                r->cls = CLASS_JAVA_METASPACE;
                put(t, "Java metaspace growing: %s (classes keep being loaded, often a class loader kept alive); "
                       "heap %s", size_words(meta_g, a, sizeof(a)), size_words(heap_g, b, sizeof(b)));
                return true;
        }
        if (live || expanding) {
                r->cls = CLASS_JAVA_HEAP;
                format_size(in->old_capacity > 0 ? (uint64_t)in->old_capacity : 0, c, sizeof(c));
                if (!live)
                        put(t, "Java heap expanding: %s committed while the live data after collections stayed "
                               "flat (%s): heap sizing, no heap leak yet", size_words(commit_g, a, sizeof(a)),
                            size_words(heap_g, b, sizeof(b)));
                else if (old_g >= JAVA_SHARE * heap_g)
                        put(t, "Java heap (old generation) growing: %s after collections (%" PRId64 " old "
                               "collections in the window), now %s of %s",
                            size_words(old_g, a, sizeof(a)), old_gcs,
                            format_size((uint64_t)MAX(in->old_used.latest, 0.0), b, sizeof(b)), c);
                else
                        put(t, "Java heap growing: %s live after collections, still in the young generation (old "
                               "generation %s)", size_words(heap_g, a, sizeof(a)), size_words(old_g, b, sizeof(b)));
                return true;
        }
        if (isfinite(thr_g) && thr_g >= 1) {
                r->cls = CLASS_JAVA_THREADS;
                put(t, "Java threads growing: %+.0f live threads (each with a native stack), anonymous %s; heap "
                       "%s", thr_g, size_words(g, a, sizeof(a)), size_words(heap_g, b, sizeof(b)));
                return true;
        }
        r->cls = CLASS_JAVA_NATIVE;
        put(t, "native memory growing outside the Java heap (direct buffers, JNI, the JIT, malloc): anonymous %s "
               "while the heap stayed flat (%s after collections, %s committed)",
            size_words(g, a, sizeof(a)), size_words(heap_g, b, sizeof(b)), size_words(commit_g, c, sizeof(c)));
        return true;
}

void classify(const struct classify_input *in, struct classify_result *ret)
{
        struct text t = { .buf = ret->text, .sz = sizeof(ret->text) };
        double g = outside_growth(in), fs;
        char a[48], b[48];
        int py;

        *ret = (struct classify_result){ .cls = CLASS_ANONYMOUS };
        if (in->fds) {
                ret->cls = CLASS_DESCRIPTORS;
                if (isfinite(g) && g > 0)
                        put(&t, "descriptor leak: %s open descriptors over the window", count_words(g, a, sizeof(a)));
                else
                        put(&t, "descriptor leak: open descriptors keep rising");
                return;
        }
        fs = (isfinite(growth_of(&in->file)) ? growth_of(&in->file) : 0) +
             (isfinite(growth_of(&in->shmem)) ? growth_of(&in->shmem) : 0);
        if (fs > 0 && fs >= FILE_SHARE * MAX(g, 0.0)) {
                ret->cls = CLASS_FILE_SHARED;
                put(&t, "file-backed or shared memory growing (%s; not a heap leak), anonymous %s",
                    size_words(fs, a, sizeof(a)), size_words(isfinite(g) ? g : 0, b, sizeof(b)));
                return;
        }
        if (java_words(in, g, ret, &t))
                return;
        py = python_growing(in, g);
        ret->python = py >= 0;
        if (py == 1) {
                python_words(in, g, ret, &t);
                site_words(in, AGENT_PYTHON, ret, &t);
                return;
        }
        if (malloc_words(in, g, py == 0, ret, &t)) {
                site_words(in, -1, ret, &t);
                return;
        }
        if (py == 0 && python_sites_known(in)) {
                ret->cls = CLASS_NATIVE;
                put(&t, "native memory growing outside Python's heap (a C extension or ctypes): anonymous %s while "
                        "tracemalloc saw Python's allocations grow %s", size_words(isfinite(g) ? g : 0, a, sizeof(a)),
                    size_words((double)in->sites[AGENT_PYTHON].growth, b, sizeof(b)));
                site_words(in, -1, ret, &t);
                return;
        }
        if (py == 0) {
                double rel = in->blocks.first > 0 ? growth_of(&in->blocks) / in->blocks.first * 100 : 0;

                ret->cls = CLASS_NATIVE;
                put(&t, "native memory growing outside Python's heap (a C extension or ctypes): anonymous %s while "
                        "Python's allocated blocks stayed flat (%+.1f%%)", size_words(isfinite(g) ? g : 0, a, sizeof(a)),
                    rel);
                site_words(in, -1, ret, &t);
                return;
        }
        ret->cls = CLASS_ANONYMOUS;
        /* A runtime no agent understands: said so, rather than guessed at. */
        if (in->runtime)
                put(&t, "anonymous memory growing (heap or anonymous mappings, not file-backed); no agent in this "
                        "process (runtime: %s)", in->runtime);
        else
                put(&t, "anonymous memory growing (heap or anonymous mappings, not file-backed); no in-process agent "
                        "data");
}

/* The runtime of an executable's base name: exact names, and versioned ones by their
 * prefix followed by a digit, '.' or '-' ("python3.11", "php-fpm8.2", "ruby3.1"). */
static const char *runtime_of(const char *name, size_t len)
{
        static const struct {
                const char *prefix;
                bool versioned;         /* anything may follow the prefix */
                const char *runtime;
        } known[] = {
                { "java", false, "java" }, { "node", false, "node" }, { "nodejs", false, "node" },
                { "deno", false, "deno" }, { "bun", false, "bun" }, { "python", true, "python" },
                { "pypy", true, "python" }, { "ruby", true, "ruby" }, { "perl", true, "perl" },
                { "php", true, "php" }, { "dotnet", false, "dotnet" }, { "beam.smp", false, "erlang" },
                { "erl", false, "erlang" }, { "lua", true, "lua" }, { "luajit", false, "lua" },
        };

        for (size_t i = 0; i < ELEMENTSOF(known); i++) {
                size_t n = strlen(known[i].prefix);

                if (len < n || memcmp(name, known[i].prefix, n) != 0)
                        continue;
                if (len == n || (known[i].versioned && (isdigit((unsigned char)name[n]) || name[n] == '.' ||
                                                        name[n] == '-')))
                        return known[i].runtime;
        }
        return NULL;
}

const char *classify_runtime(const char *comm, const char *cmdline)
{
        const char *r = comm ? runtime_of(comm, strlen(comm)) : NULL;

        if (!r && cmdline) {
                size_t len = strcspn(cmdline, " ");
                const char *base = memrchr(cmdline, '/', len);

                base = base ? base + 1 : cmdline;
                r = runtime_of(base, len - (size_t)(base - cmdline));
        }
        return r;
}

const char *classify_agents(const struct classify_result *r)
{
        if (r->python && r->malloc)
                return "python malloc";
        if (r->python)
                return "python";
        if (r->malloc)
                return "malloc";
        return NULL;
}

/* ---- the trail ---- */

/* The outside series, as 32-bit integers: KiB for memory, a count for descriptors. */
enum { TR_ANON, TR_SWAP, TR_FILE, TR_SHMEM, TR_FDS, TR__OUTSIDE };
static const enum metric tr_metric[TR__OUTSIDE] = { M_ANON, M_SWAP, M_FILE, M_SHMEM, M_FDS };
#define TR_NONE UINT32_MAX

/* The agents' series (values as classify_add_agent() computes them). */
enum { TA_BLOCKS, TA_TRACED, TA_GARBAGE, TA_UNCOLLECTABLE, TA_IN_USE, TA_FREE, TA_ARENA, TA__MAX };

struct trail_agent_bucket {
        double min[TA__MAX];            /* NAN: none */
        double last[TA__MAX], last_t[TA__MAX];
        unsigned py_reports, malloc_reports;
        int gc_enabled;                 /* of its newest Python report that said; -1 */
        struct classify_types *types_first, *types_last;        /* NULL: no count */
};

struct classify_trail {
        double origin, width;
        int64_t newest;                 /* the newest bucket with data; -1: none */
        uint32_t out[CLASSIFY_TRAIL_BUCKETS][TR__OUTSIDE];
        struct trail_agent_bucket *agents;      /* [CLASSIFY_TRAIL_BUCKETS], NULL until a report */
        struct trail_sites *sites;      /* NULL until an agent traces */
};

/* The newest allocation sites of each agent, whatever bucket they came in. */
struct trail_sites {
        struct classify_sites s[AGENT__KIND_MAX];
        bool tracing[AGENT__KIND_MAX];
};

static void agent_bucket_clear(struct trail_agent_bucket *b)
{
        free(b->types_first);
        free(b->types_last);
        *b = (struct trail_agent_bucket){ .gc_enabled = -1 };
        for (int s = 0; s < TA__MAX; s++)
                b->min[s] = b->last[s] = b->last_t[s] = NAN;
}

static void bucket_clear(struct classify_trail *t, size_t slot)
{
        for (int s = 0; s < TR__OUTSIDE; s++)
                t->out[slot][s] = TR_NONE;
        if (t->agents)
                agent_bucket_clear(&t->agents[slot]);
}

void classify_trail_reset(struct classify_trail *t, double origin, double width)
{
        for (size_t i = 0; i < CLASSIFY_TRAIL_BUCKETS; i++)
                bucket_clear(t, i);
        t->origin = origin;
        t->width = width;
        t->newest = -1;
        if (t->sites)
                *t->sites = (struct trail_sites){ 0 };
}

int classify_trail_new(double origin, double width, struct classify_trail **ret)
{
        struct classify_trail *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        classify_trail_reset(t, origin, width);
        *ret = t;
        return 0;
}

void classify_trail_free(struct classify_trail *t)
{
        if (!t)
                return;
        if (t->agents)
                for (size_t i = 0; i < CLASSIFY_TRAIL_BUCKETS; i++)
                        agent_bucket_clear(&t->agents[i]);
        free(t->agents);
        free(t->sites);
        free(t);
}

/* The ring slot of the bucket holding time s, advancing the trail to it when it is new;
 * -1 if s is before the origin or older than the trail keeps. */
static ssize_t trail_slot(struct classify_trail *t, double s)
{
        int64_t k;

        if (!(s >= t->origin) || !isfinite(s))
                return -1;
        k = (int64_t)floor((s - t->origin) / t->width);
        if (k > t->newest) {
                /* Buckets skipped over (a gap, or ones that wrapped out) start empty. */
                int64_t from = MAX(t->newest + 1, k - (int64_t)CLASSIFY_TRAIL_BUCKETS + 1);

                for (int64_t i = from; i <= k; i++)
                        bucket_clear(t, (size_t)(i % CLASSIFY_TRAIL_BUCKETS));
                t->newest = k;
        } else if (k <= t->newest - (int64_t)CLASSIFY_TRAIL_BUCKETS) {
                return -1;
        }
        return (ssize_t)(k % CLASSIFY_TRAIL_BUCKETS);
}

void classify_trail_add_sample(struct classify_trail *t, const struct sample *smp)
{
        ssize_t slot = trail_slot(t, (double)smp->t_ms / 1000);

        if (slot < 0)
                return;
        for (int s = 0; s < TR__OUTSIDE; s++) {
                enum metric m = tr_metric[s];
                int64_t v;

                if (!sample_has(smp, m) || smp->v[m] < 0)
                        continue;
                v = metric_info[m].unit == UNIT_BYTES ? smp->v[m] / 1024 : smp->v[m];
                v = MIN(v, (int64_t)TR_NONE - 1);
                if ((uint32_t)v < t->out[slot][s])
                        t->out[slot][s] = (uint32_t)v;
        }
}

void classify_trail_prefetch(const struct classify_trail *t, int stage)
{
        if (!t)
                return;
        if (stage == 0) {
                __builtin_prefetch(t, 1);
                return;
        }
        /* The newest bucket, or the one after it: a sample a second fills a bucket with
         * several, so most go to the newest. */
        if (t->newest >= 0)
                __builtin_prefetch(t->out[t->newest % CLASSIFY_TRAIL_BUCKETS], 1);
}

static void agent_value(struct trail_agent_bucket *b, int s, double t, int64_t v)
{
        if (v < 0)
                return;
        if (!(b->min[s] <= (double)v))
                b->min[s] = (double)v;
        if (!(b->last_t[s] > t)) {
                b->last[s] = (double)v;
                b->last_t[s] = t;
        }
}

/* Keeps a report's type count in *slot (allocated at first use). */
static int keep_types_in(struct classify_types **slot, const struct agent_report *a)
{
        if (!*slot) {
                *slot = malloc(sizeof(**slot));
                if (!*slot)
                        return -ENOMEM;
        }
        keep_types(*slot, a);
        return 0;
}

int classify_trail_add_agent(struct classify_trail *t, const struct agent_report *a)
{
        double s = (double)a->t_ms / 1000;
        struct trail_agent_bucket *b;
        ssize_t slot;

        if (!t->agents) {
                t->agents = calloc(CLASSIFY_TRAIL_BUCKETS, sizeof(*t->agents));
                if (!t->agents)
                        return -ENOMEM;
                for (size_t i = 0; i < CLASSIFY_TRAIL_BUCKETS; i++)
                        agent_bucket_clear(&t->agents[i]);
        }
        slot = trail_slot(t, s);
        if (slot < 0)
                return 0;
        if ((unsigned)a->agent < AGENT__KIND_MAX && (t->sites || a->n_sites > 0 || a->traced >= 0)) {
                if (!t->sites) {
                        t->sites = calloc(1, sizeof(*t->sites));
                        if (!t->sites)
                                return -ENOMEM;
                }
                sites_add(&t->sites->s[a->agent], &t->sites->tracing[a->agent], a);
        }
        b = &t->agents[slot];
        if (a->agent == AGENT_PYTHON) {
                int64_t unc = 0;

                b->py_reports++;
                if (a->gc_enabled >= 0)
                        b->gc_enabled = a->gc_enabled;
                agent_value(b, TA_BLOCKS, s, a->blocks);
                agent_value(b, TA_TRACED, s, a->traced);
                agent_value(b, TA_GARBAGE, s, a->gc_garbage);
                for (int g = 0; g < 3; g++)
                        unc += MAX(a->gc_uncollectable[g], 0);
                agent_value(b, TA_UNCOLLECTABLE, s, unc);
                if (a->objects >= 0) {
                        /* Reports come in time order: the bucket's first count stays. */
                        if (!b->types_first && keep_types_in(&b->types_first, a) < 0)
                                return -ENOMEM;
                        if (keep_types_in(&b->types_last, a) < 0)
                                return -ENOMEM;
                }
        } else if (a->agent == AGENT_MALLOC) {
                b->malloc_reports++;
                if (a->in_use >= 0 && a->mmapped >= 0)
                        agent_value(b, TA_IN_USE, s, a->in_use + a->mmapped);
                agent_value(b, TA_FREE, s, a->free);
                if (a->arena >= 0 && a->mmapped >= 0)
                        agent_value(b, TA_ARENA, s, a->arena + a->mmapped);
        }
        return 0;
}

bool classify_trail_has_agents(const struct classify_trail *t)
{
        return t && t->agents;
}

/* A bucket's floor v, counted at the bucket's start and just before its end: so it
 * goes into each quarter of the window that the bucket reaches into. */
static void bucket_floor(struct classify_floor *f, const struct classify_input *in, double b0, double b1, double v)
{
        if (floor_quarters(f, in, b0, v))
                (void)floor_quarters(f, in, nextafter(b1, b0), v);
}

void classify_trail_input(const struct classify_trail *t, double from, double to, bool fds, double growth,
                          struct classify_input *ret)
{
        struct classify_floor *out[TR__OUTSIDE] = { &ret->anon, &ret->swap, &ret->file, &ret->shmem, &ret->nfds };
        struct classify_floor *ag[TA__MAX] = { &ret->blocks, &ret->traced, &ret->garbage, &ret->uncollectable,
                                               &ret->in_use, &ret->free, &ret->arena };
        int64_t first, last;

        classify_init(ret, from, to, fds, growth);
        if (t->newest < 0 || !(to > from))
                return;
        /* Sites from a report newer than the window count too: the window ends where
         * its last bucket closed, and the reports of the open bucket (one a second,
         * where a bucket is seconds) are what the agent says of the same growth now.
         * Bounded by to, a window judged just before a report never had its sites. */
        for (int k = 0; t->sites && k < AGENT__KIND_MAX; k++)
                if (t->sites->s[k].known && t->sites->s[k].t >= from)
                        ret->sites[k] = t->sites->s[k];
        /* The buckets that lie in [from, to], oldest first, among those kept. */
        first = MAX((int64_t)ceil((from - t->origin) / t->width - 1e-9), t->newest - CLASSIFY_TRAIL_BUCKETS + 1);
        last = MIN((int64_t)floor((to - t->origin) / t->width + 1e-9) - 1, t->newest);
        for (int64_t k = MAX(first, INT64_C(0)); k <= last; k++) {
                size_t slot = (size_t)(k % CLASSIFY_TRAIL_BUCKETS);
                double b0 = t->origin + (double)k * t->width, b1 = b0 + t->width;

                for (int s = 0; s < TR__OUTSIDE; s++)
                        if (t->out[slot][s] != TR_NONE)
                                bucket_floor(out[s], ret, b0, b1,
                                             (double)t->out[slot][s] *
                                                     (metric_info[tr_metric[s]].unit == UNIT_BYTES ? 1024 : 1));
                if (t->agents) {
                        const struct trail_agent_bucket *b = &t->agents[slot];

                        ret->py_reports += b->py_reports;
                        ret->malloc_reports += b->malloc_reports;
                        if (b->gc_enabled >= 0)
                                ret->gc_enabled = b->gc_enabled;
                        for (int s = 0; s < TA__MAX; s++) {
                                bucket_floor(ag[s], ret, b0, b1, b->min[s]);
                                if (isfinite(b->last[s]) && b->last_t[s] >= ag[s]->latest_t) {
                                        ag[s]->latest = b->last[s];
                                        ag[s]->latest_t = b->last_t[s];
                                }
                        }
                        if (b->types_first && !ret->types_first.known)
                                ret->types_first = *b->types_first;
                        if (b->types_last)
                                ret->types_last = *b->types_last;
                }
        }
}
