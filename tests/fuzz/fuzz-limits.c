/* fuzz-limits: /proc/PID/limits through proc_parse_limits_nofile().
 *
 * Properties: the answer agrees with a reference read of the first whole line that
 * starts with "Max open files" (sscanf-free: the soft limit is the first word after
 * the name, a decimal that fits 64 bits, or "unlimited"); a line cut by the end of the
 * text does not count. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "util.h"

#define KEY "Max open files"

/* 0, -ENOENT or -EINVAL as the parser's contract says, from the first whole line
 * that starts with the key. */
static int reference(const uint8_t *data, size_t size, uint64_t *ret)
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
        uint64_t got = 0, want = 0;
        int r, rr;

        r = proc_parse_limits_nofile((const char *)data, size, &got);
        rr = reference(data, size, &want);
        FUZZ_CHECK(r == rr);
        if (r == 0)
                FUZZ_CHECK(got == want);
        return 0;
}
