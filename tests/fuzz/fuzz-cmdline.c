/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-cmdline: /proc/PID/cmdline (arguments ending in NULs, as a process may have
 * rewritten them) through proc_cmdline_join(), into buffers of several sizes.
 *
 * Properties: the result is NUL-terminated within the buffer and holds no other NUL;
 * its length is the one returned, at most outsz - 1 and at most the input's; each byte
 * is the input's, with the NULs between arguments made spaces; only the trailing NULs
 * are dropped, and the result is cut only where the buffer ends. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "util.h"

static void check_join(const uint8_t *data, size_t size, size_t outsz)
{
        const char *in = (const char *)data;
        size_t n, text = size;
        char *out;

        /* The text without its trailing NULs. */
        while (text > 0 && in[text - 1] == '\0')
                text--;
        out = malloc(outsz);
        if (!out)
                abort();
        memset(out, 0xa5, outsz);
        n = proc_cmdline_join(in, size, out, outsz);
        FUZZ_CHECK(n < outsz && n <= text);
        FUZZ_CHECK(n == MIN(text, outsz - 1));
        FUZZ_CHECK(out[n] == '\0' && strlen(out) == n);
        for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(out[i] == (in[i] == '\0' ? ' ' : in[i]));
        free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const size_t sizes[] = { 1, 2, 16, PROC_CMDLINE_MAX, size + 1 };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                check_join(data, size, sizes[i]);
        /* No buffer: nothing is written, nothing returned. */
        FUZZ_CHECK(proc_cmdline_join((const char *)data, size, NULL, 16) == 0);
        return 0;
}
