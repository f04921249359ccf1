/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-smaps: /proc/PID/smaps_rollup through proc_parse_smaps_rollup(), and smaps
 * through the heap search (proc_parse_smaps_heap(), proc_parse_smaps_heap_brk()).
 *
 * Properties:
 *   - smaps_rollup: empty text is "no mm" (-ENODATA), never zeros; a line counts only
 *     when its newline is within the text, so the input cut anywhere parses as the
 *     input cut after its last whole line;
 *   - the heap search reads smaps a piece at a time (proc_read_heap()): an answer given
 *     for a prefix of the text (anything but -EAGAIN) is final — the whole text gives
 *     the same answer and the same sizes;
 *   - told start_brk, the search gives the same answer as without, or stops early with
 *     -ENOENT; never another heap. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "util.h"

static void check_same_rollup(const struct proc_rollup *a, const struct proc_rollup *b)
{
        FUZZ_CHECK(a->have == b->have);
        for (unsigned i = 0; i < PR__MAX; i++)
                FUZZ_CHECK(!(a->have & (1u << i)) || a->kb[i] == b->kb[i]);
}

static int rollup(const uint8_t *data, size_t len, struct proc_rollup *r)
{
        int ret;

        memset(r, 0, sizeof(*r));
        ret = proc_parse_smaps_rollup((const char *)data, len, r);
        FUZZ_CHECK(ret == 0 || ret == -EINVAL || ret == -ENODATA);
        FUZZ_CHECK((ret == -ENODATA) == (len == 0));
        FUZZ_CHECK(r->have < (1u << PR__MAX));
        return ret;
}

static void check_rollup_cut(const uint8_t *data, size_t len)
{
        struct proc_rollup a, b;
        size_t whole = fuzz_whole_lines(data, len);
        int ra, rb;

        ra = rollup(data, len, &a);
        rb = rollup(data, whole, &b);
        /* Empty text is told apart from cut text: only a text with no whole line at
         * all is empty once cut. */
        if (whole == 0 && len > 0)
                FUZZ_CHECK(ra == -EINVAL && rb == -ENODATA);
        else
                FUZZ_CHECK(ra == rb);
        if (ra == 0 && rb == 0)
                check_same_rollup(&a, &b);
}

static int heap(const uint8_t *data, size_t len, bool complete, uint64_t start_brk, struct proc_heap *h)
{
        int r;

        memset(h, 0xa5, sizeof(*h));
        r = proc_parse_smaps_heap_brk((const char *)data, len, complete, start_brk, h);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOENT || r == -ENODATA || r == -EAGAIN);
        FUZZ_CHECK(complete ? r != -EAGAIN : r != -ENODATA);
        return r;
}

static void check_heap(const uint8_t *data, size_t size, uint64_t start_brk, const size_t *cuts, size_t ncuts)
{
        struct proc_heap whole, part;
        int rw = heap(data, size, true, start_brk, &whole);

        for (size_t i = 0; i < ncuts; i++) {
                int rp = heap(data, cuts[i], false, start_brk, &part);

                if (rp == -EAGAIN)
                        continue;
                FUZZ_CHECK(rp == rw);
                if (rp == 0)
                        FUZZ_CHECK(part.size_kb == whole.size_kb && part.rss_kb == whole.rss_kb);
        }
}

/* The start address of the first line that reads as "HEX-", or 0. */
static uint64_t first_start(const uint8_t *data, size_t size)
{
        uint64_t v = 0;

        for (size_t i = 0; i < size && i < 16; i++) {
                int d = data[i] >= '0' && data[i] <= '9' ? data[i] - '0' :
                        data[i] >= 'a' && data[i] <= 'f' ? data[i] - 'a' + 10 : -1;

                if (d < 0)
                        return data[i] == '-' ? v : 0;
                v = v << 4 | (uint64_t)d;
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* start_brk: unknown, at the first mapping, and beyond any address. */
        const uint64_t brks[] = { 0, first_start(data, size), UINT64_MAX };
        size_t cuts[3], ncuts = 0;
        struct proc_heap h0, hb;
        int r0;

        check_rollup_cut(data, size);
        if (size > 1)
                check_rollup_cut(data, size / 2 + data[0] % (size / 2));

        if (size > 0) {
                cuts[ncuts++] = size - 1;
                cuts[ncuts++] = size / 2;
                cuts[ncuts++] = data[size - 1] * size / 256;
        }
        for (size_t i = 0; i < ELEMENTSOF(brks); i++)
                check_heap(data, size, brks[i], cuts, ncuts);

        memset(&h0, 0, sizeof(h0));
        r0 = proc_parse_smaps_heap((const char *)data, size, true, &h0);
        FUZZ_CHECK(r0 == heap(data, size, true, 0, &hb));
        for (size_t i = 1; i < ELEMENTSOF(brks); i++) {
                int rb = heap(data, size, true, brks[i], &hb);

                FUZZ_CHECK(rb == r0 || rb == -ENOENT);
                if (rb == 0)
                        FUZZ_CHECK(hb.size_kb == h0.size_kb && hb.rss_kb == h0.rss_kb);
        }
        return 0;
}
