/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-limits: /proc/PID/limits through proc_parse_limits_nofile() and
 * proc_parse_limits().
 *
 * Properties: each answer agrees with a reference read of the first whole line that
 * starts with the limit's name ("Max open files", "Max address space", "Max data
 * size"; sscanf-free: the soft limit is the first word after the name, a decimal that
 * fits 64 bits, or "unlimited"); a line cut by the end of the text does not count; the
 * three together succeed only when each does, and then give the same values. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "util.h"

/* 0, -ENOENT or -EINVAL as the parser's contract says, from the first whole line
 * that starts with KEY. */
static int reference(const uint8_t *data, size_t size, const char *KEY, uint64_t *ret)
{
        const char *p = (const char *)data, *end = p + size;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));

                if (!eol)
                        break;
                if ((size_t)(eol - p) >= strlen(KEY) && memcmp(p, KEY, strlen(KEY)) == 0) {
                        const char *s = p + strlen(KEY);
                        unsigned long long v;
                        char *word;
                        size_t n;

                        s += strspn(s, " \t");         /* stops at eol at the latest */
                        if ((size_t)(eol - s) >= strlen("unlimited") && memcmp(s, "unlimited", 9) == 0) {
                                *ret = UINT64_MAX;
                                return 0;
                        }
                        for (n = 0; s + n < eol && s[n] != ' '; n++)
                                ;
                        word = strndup(s, n);
                        if (!word)
                                abort();
                        if (n == 0 || strlen(word) != n || strspn(word, "0123456789") != n) {
                                free(word);
                                return -EINVAL;
                        }
                        errno = 0;
                        v = strtoull(word, NULL, 10);
                        free(word);
                        if (errno == ERANGE)
                                return -EINVAL;
                        *ret = v;
                        return 0;
                }
                p = eol + 1;
        }
        return -ENOENT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t got = 0, want = 0, as = 0, dt = 0;
        struct proc_limits l;
        int r, rr, ra, rd;

        r = proc_parse_limits_nofile((const char *)data, size, &got);
        rr = reference(data, size, "Max open files", &want);
        FUZZ_CHECK(r == rr);
        if (r == 0)
                FUZZ_CHECK(got == want);
        ra = reference(data, size, "Max address space", &as);
        rd = reference(data, size, "Max data size", &dt);
        r = proc_parse_limits((const char *)data, size, &l);
        /* The first failure, in the parser's order (address space, data, open files). */
        FUZZ_CHECK(r == (ra < 0 ? ra : rd < 0 ? rd : rr));
        if (r == 0)
                FUZZ_CHECK(l.as == as && l.data == dt && l.nofile == want);
        return 0;
}
