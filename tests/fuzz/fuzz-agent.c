/* fuzz-agent: agent reports — datagrams any local process may send to agent.sock —
 * through agent_parse(), and agent_format() back.
 *
 * Properties:
 *   - a refused report comes with a reason; an accepted one is of a known agent, with
 *     type names that are valid, distinct and NUL-terminated within their field;
 *   - what agent_parse() accepts, agent_format() writes back within AGENT_MSG_MAX, and
 *     that text parses to the same report, field by field;
 *   - a report made from the input (values anywhere in the allowed range, type names
 *     of the input's bytes) formats, and parses back to itself. */
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
        check_round_trip(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_parse(data, size);
        check_made(data, size);
        return 0;
}
