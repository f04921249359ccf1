/* fuzz-hsperf: a JVM's performance-data file (hsperfdata_USER/PID) through
 * hsperf_for_each() and hsperf_parse().
 *
 * Properties: every entry reported lies inside the buffer (its name NUL-terminated and
 * printable, its data within the bytes given); a buffer refused by the walk is refused
 * by the parse with the same error, and a buffer accepted once is accepted again with
 * the same entries (the check before the walk sees what the walk sees). */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "hsperf.h"

struct span {
        const uint8_t *begin, *end;
        unsigned n;
};

static int check_entry(const struct hsperf_entry *e, void *userdata)
{
        struct span *s = userdata;
        size_t len = strlen(e->name);

        FUZZ_CHECK((const uint8_t *)e->name >= s->begin && (const uint8_t *)e->name + len < s->end);
        FUZZ_CHECK(len > 0 && len < HSPERF_NAME_MAX);
        for (size_t i = 0; i < len; i++)
                FUZZ_CHECK(e->name[i] > 0x20 && e->name[i] < 0x7f);
        FUZZ_CHECK(e->data >= s->begin && e->size <= (size_t)(s->end - e->data));
        FUZZ_CHECK(strchr("BZCSIFJD", e->type) && e->type != '\0');
        s->n++;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct span a = { data, data + size, 0 }, b = a;
        struct hsperf_jvm j;
        int r, r2;

        r = hsperf_for_each(data, size, check_entry, &a);
        r2 = hsperf_parse(data, size, &j);
        FUZZ_CHECK(r == r2);
        if (r == 0) {
                FUZZ_CHECK(hsperf_for_each(data, size, check_entry, &b) == 0);
                FUZZ_CHECK(a.n == b.n);
        } else {
                FUZZ_CHECK(a.n == 0);   /* nothing reported from a buffer that is refused */
        }
        return 0;
}
