/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-agent: agent reports — datagrams any local process may send to agent.sock —
 * through agent_parse(), and agent_format() back.
 *
 * Properties:
 *   - a refused report comes with a reason; an accepted one is of a known agent, with
 *     type names that are valid, distinct and NUL-terminated within their field;
 *   - what agent_parse() accepts, agent_format() writes back within AGENT_MSG_MAX, and
 *     that text parses to the same report, field by field;
 *   - a report made from the input (values anywhere in the allowed range, type names
 *     of the input's bytes, version 2 allocation sites of escaped frames) formats, and
 *     parses back to itself;
 *   - an accepted report's sites are at most AGENT_SITES_MAX, growth descending, each of
 *     1 to AGENT_SITE_FRAMES_MAX frames of 1 to AGENT_FRAME_MAX bytes of valid UTF-8
 *     without a blank or control byte, single spaces between them. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "fuzz.h"
#include "util.h"

/* Values in a report have at most 18 digits (agent.c). */
#define VALUE_MAX INT64_C(999999999999999999)

static void check_same(const struct agent_report *a, const struct agent_report *b)
{
        FUZZ_CHECK(a->agent == b->agent && a->gc_enabled == b->gc_enabled);
        for (int g = 0; g < 3; g++) {
                FUZZ_CHECK(a->gc_threshold[g] == b->gc_threshold[g] && a->gc_count[g] == b->gc_count[g]);
                FUZZ_CHECK(a->gc_collections[g] == b->gc_collections[g]);
                FUZZ_CHECK(a->gc_collected[g] == b->gc_collected[g]);
                FUZZ_CHECK(a->gc_uncollectable[g] == b->gc_uncollectable[g]);
        }
        FUZZ_CHECK(a->gc_garbage == b->gc_garbage && a->blocks == b->blocks);
        FUZZ_CHECK(a->traced == b->traced && a->traced_peak == b->traced_peak);
        FUZZ_CHECK(a->objects == b->objects && a->stride == b->stride);
        FUZZ_CHECK(a->n_types == b->n_types);
        for (size_t i = 0; i < a->n_types && i < AGENT_TYPES_MAX; i++) {
                FUZZ_CHECK(strcmp(a->types[i].name, b->types[i].name) == 0);
                FUZZ_CHECK(a->types[i].count == b->types[i].count);
        }
        FUZZ_CHECK(a->arena == b->arena && a->in_use == b->in_use && a->free == b->free);
        FUZZ_CHECK(a->mmapped == b->mmapped && a->keepcost == b->keepcost);
        FUZZ_CHECK(a->version == b->version && a->n_sites == b->n_sites);
        for (size_t i = 0; i < a->n_sites && i < AGENT_SITES_MAX; i++) {
                FUZZ_CHECK(a->sites[i].live_bytes == b->sites[i].live_bytes);
                FUZZ_CHECK(a->sites[i].live_count == b->sites[i].live_count);
                FUZZ_CHECK(a->sites[i].growth == b->sites[i].growth);
                FUZZ_CHECK(a->sites[i].n_frames == b->sites[i].n_frames);
                FUZZ_CHECK(strcmp(agent_site_frames(a, i), agent_site_frames(b, i)) == 0);
        }
}

static void check_site_valid(const struct agent_report *a, size_t i)
{
        const char *f = agent_site_frames(a, i);
        size_t len = strlen(f), tok = 0, frames = 1;

        FUZZ_CHECK(a->sites[i].off + len < a->site_text_len && a->site_text_len <= sizeof(a->site_text));
        FUZZ_CHECK(len == a->sites[i].len && len > 0 && utf8_valid(f, len));
        FUZZ_CHECK(a->sites[i].n_frames >= 1 && a->sites[i].n_frames <= AGENT_SITE_FRAMES_MAX);
        FUZZ_CHECK(f[0] != ' ' && f[len - 1] != ' ');
        for (size_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char)f[k];

                if (c == ' ') {
                        FUZZ_CHECK(f[k + 1] != ' ');
                        frames++;
                        tok = 0;
                        continue;
                }
                FUZZ_CHECK(c > ' ' && c != 0x7f);
                FUZZ_CHECK(++tok <= AGENT_FRAME_MAX);
        }
        FUZZ_CHECK(frames == a->sites[i].n_frames);
        FUZZ_CHECK(a->sites[i].live_bytes >= 0 && a->sites[i].live_count >= 0 && a->sites[i].growth >= 0);
        FUZZ_CHECK(i == 0 || a->sites[i].growth <= a->sites[i - 1].growth);
}

static void check_valid(const struct agent_report *a)
{
        FUZZ_CHECK(a->agent == AGENT_PYTHON || a->agent == AGENT_MALLOC);
        FUZZ_CHECK(a->n_types <= AGENT_TYPES_MAX);
        for (size_t i = 0; i < a->n_types; i++) {
                const char *name = a->types[i].name;
                size_t n = strnlen(name, sizeof(a->types[i].name));

                FUZZ_CHECK(n > 0 && n < sizeof(a->types[i].name));
                FUZZ_CHECK(utf8_valid(name, n));
                for (size_t k = 0; k < n; k++)
                        FUZZ_CHECK((unsigned char)name[k] > ' ' && name[k] != 0x7f);
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(a->types[j].name, name) != 0);
        }
        FUZZ_CHECK(a->n_sites <= AGENT_SITES_MAX && (a->n_sites == 0 || a->version == 2));
        for (size_t i = 0; i < a->n_sites; i++)
                check_site_valid(a, i);
}

/* Formats a, which must fit, and parses it back to itself. */
static void check_round_trip(const struct agent_report *a)
{
        struct agent_report back;
        char text[AGENT_MSG_MAX + 1], again[AGENT_MSG_MAX + 1];
        const char *why = NULL;
        int n, r;

        n = agent_format(a, text, sizeof(text));
        FUZZ_CHECK(n > 0 && n <= AGENT_MSG_MAX);
        r = agent_parse(text, (size_t)n, &back, &why);
        if (r < 0)
                fprintf(stderr, "refused its own report: %s\n%s", why ? why : "(no reason)", text);
        FUZZ_CHECK(r == 0);
        check_same(a, &back);
        FUZZ_CHECK(agent_format(&back, again, sizeof(again)) == n && memcmp(text, again, (size_t)n) == 0);
}

static void check_parse(const uint8_t *data, size_t size)
{
        struct agent_report a;
        const char *why = NULL;
        int r;

        r = agent_parse((const char *)data, size, &a, &why);
        FUZZ_CHECK(r == 0 || r == -EBADMSG);
        if (r < 0) {
                FUZZ_CHECK(why && *why);
                return;
        }
        check_valid(&a);
        check_round_trip(&a);
}

/* ---- reports made from the input ---- */

struct source {
        const uint8_t *p, *end;
        uint64_t state;
};

static uint64_t next(struct source *s)
{
        s->state ^= s->state << 13;
        s->state ^= s->state >> 7;
        s->state ^= s->state << 17;
        return s->state;
}

/* A value a report may hold, often at an edge; or -1 (not reported) if optional. */
static int64_t value(struct source *s, bool optional)
{
        uint64_t v = next(s);

        switch (v % 5) {
        case 0:
                return optional ? -1 : 0;
        case 1:
                return VALUE_MAX;
        case 2:
                return 0;
        default:
                return (int64_t)(next(s) % (uint64_t)(VALUE_MAX + 1));
        }
}

static void values(struct source *s, int64_t *v, size_t n, bool optional)
{
        bool absent = optional && value(s, true) < 0;

        for (size_t i = 0; i < n; i++)
                v[i] = absent ? -1 : value(s, false);
}

/* A type name of the input's next bytes, if they make a valid one. */
static bool type_name(struct source *s, char *name, size_t namesz)
{
        size_t n;

        if (s->p >= s->end)
                return false;
        n = (size_t)(*s->p++ % (namesz - 1)) + 1;
        n = MIN(n, (size_t)(s->end - s->p));
        if (n == 0)
                return false;
        memcpy(name, s->p, n);
        name[n] = '\0';
        s->p += n;
        if (!utf8_valid(name, n))
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f)
                        return false;
        return true;
}

/* Pieces of frames: plain bytes, the escapes the format asks for, and UTF-8. */
static const char *const frame_units[] = { "a", "/", ":", "7", ".py", "@", "+0x1f", "?", "%25", "%20", "%0A",
                                           "%7F", "%00", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\x8d" };

/* Sites of frames made of frame_units, growth descending; the last ones are dropped
 * until the report fits, as the agents do. */
static void make_sites(struct source *s, struct agent_report *a)
{
        char text[AGENT_MSG_MAX + 1];
        size_t o = 0;
        int64_t growth = VALUE_MAX;

        a->version = 2;
        a->n_sites = (size_t)(next(s) % (AGENT_SITES_MAX + 1));
        for (size_t i = 0; i < a->n_sites; i++) {
                struct agent_site *site = &a->sites[i];
                unsigned frames = 1 + (unsigned)(next(s) % AGENT_SITE_FRAMES_MAX);

                growth = next(s) % 3 == 0 ? growth : (int64_t)(next(s) % (uint64_t)(growth + 1));
                *site = (struct agent_site){ .live_bytes = value(s, false), .live_count = value(s, false),
                                             .growth = growth, .n_frames = (uint16_t)frames, .off = (uint16_t)o };
                for (unsigned f = 0; f < frames; f++) {
                        size_t tok = 0, want = 1 + next(s) % (next(s) & 1 ? AGENT_FRAME_MAX : 24);

                        if (f)
                                a->site_text[o++] = ' ';
                        while (tok < want) {
                                const char *u = frame_units[next(s) % (sizeof(frame_units) / sizeof(frame_units[0]))];
                                size_t n = strlen(u);

                                if (tok + n > AGENT_FRAME_MAX)
                                        break;
                                memcpy(a->site_text + o, u, n);
                                o += n;
                                tok += n;
                        }
                        if (tok == 0)
                                a->site_text[o++] = 'x';
                }
                a->site_text[o++] = '\0';
                site->len = (uint16_t)(o - 1 - site->off);
                a->site_text_len = o;
                /* Eight frames of 256 bytes each, ten times: the text may run out first. */
                if (o + (AGENT_FRAME_MAX + 1) * AGENT_SITE_FRAMES_MAX >= sizeof(a->site_text)) {
                        a->n_sites = i + 1;
                        break;
                }
        }
        while (a->n_sites > 0 && agent_format(a, text, sizeof(text)) < 0) {
                a->n_sites--;
                a->site_text_len = a->n_sites ? a->sites[a->n_sites - 1].off + a->sites[a->n_sites - 1].len + 1u : 0;
        }
}

static void check_made(const uint8_t *data, size_t size)
{
        struct source s = { .p = data, .end = data + size, .state = UINT64_C(0x9e3779b97f4a7c15) };
        struct agent_report a;

        for (size_t i = 0; i < size; i++)
                s.state = (s.state ^ data[i]) * UINT64_C(0x100000001b3);
        if (s.state == 0)
                s.state = 1;
        agent_report_init(&a);
        a.agent = next(&s) & 1 ? AGENT_MALLOC : AGENT_PYTHON;
        if (a.agent == AGENT_MALLOC) {
                a.arena = value(&s, false);
                a.in_use = value(&s, false);
                a.free = value(&s, false);
                a.mmapped = value(&s, false);
                a.keepcost = value(&s, false);
        } else {
                a.gc_enabled = (int)(next(&s) & 1);
                values(&s, a.gc_threshold, 3, true);
                values(&s, a.gc_count, 3, false);
                values(&s, a.gc_collections, 3, true);
                values(&s, a.gc_collected, 3, true);
                values(&s, a.gc_uncollectable, 3, true);
                a.gc_garbage = value(&s, true);
                a.blocks = value(&s, false);
                a.traced = value(&s, true);
                if (a.traced >= 0)
                        a.traced_peak = a.traced + (int64_t)(next(&s) % (uint64_t)(VALUE_MAX - a.traced + 1));
                a.objects = value(&s, true);
                if (a.objects >= 0) {
                        a.stride = value(&s, false);
                        if (a.stride == 0)
                                a.stride = 1;
                        while (a.n_types < AGENT_TYPES_MAX && s.p < s.end) {
                                struct agent_report_type *t = &a.types[a.n_types];
                                bool dup = false;

                                if (!type_name(&s, t->name, sizeof(t->name)))
                                        continue;
                                for (size_t j = 0; j < a.n_types; j++)
                                        dup |= strcmp(a.types[j].name, t->name) == 0;
                                if (dup)
                                        continue;
                                t->count = value(&s, false);
                                a.n_types++;
                        }
                }
        }
        if (next(&s) & 1)
                make_sites(&s, &a);
        /* Types made of the whole input may leave no room: then without them. */
        if (agent_format(&a, (char[AGENT_MSG_MAX + 1]){ 0 }, AGENT_MSG_MAX + 1) < 0)
                a.n_types = 0;
        check_round_trip(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_parse(data, size);
        check_made(data, size);
        return 0;
}
