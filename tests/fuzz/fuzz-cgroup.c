/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-cgroup: /proc/PID/cgroup through proc_parse_cgroup() and
 * proc_parse_cgroup_memory(), and the path it gives — or the input itself as a path —
 * through proc_cgroup_unit() and proc_cgroup_system_unit(), with buffers of several
 * sizes.
 *
 * Properties: a path is NUL-terminated within its buffer, begins with '/', is one
 * line's text (no newline) and is a piece of the input; -ENAMETOOLONG exactly when the
 * buffer is too small for the path a larger one holds; the memory cgroup is the same
 * under these rules, from a v1 line naming "memory" when it says so (else from "0::"),
 * and nothing is written on failure. A unit is NUL-terminated within
 * its buffer, is one component of the path (after systemd's '_' escape), has only the
 * characters systemd allows in unit names, and is of a type that holds processes; the
 * system manager's unit is found whenever the unit is. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "util.h"

static bool ends_with(const char *s, const char *suffix)
{
        size_t n = strlen(s), k = strlen(suffix);

        return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Whether unit is one whole component of path, possibly with a '_' in front. */
static bool is_component(const char *path, const char *unit)
{
        size_t n = strlen(unit);

        for (const char *p = path; (p = strstr(p, unit)); p++) {
                const char *before = p > path && p[-1] == '_' ? p - 1 : p;

                if ((before == path || before[-1] == '/') && (p[n] == '/' || p[n] == '\0'))
                        return true;
        }
        return false;
}

static void check_unit_text(const char *path, const char *unit, size_t unitsz)
{
        static const char *const suffixes[] = { ".service", ".scope", ".socket", ".mount", ".swap" };
        size_t n = strnlen(unit, unitsz);
        bool typed = false;

        FUZZ_CHECK(n > 0 && n < unitsz);
        FUZZ_CHECK(strspn(unit, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@") == n);
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++)
                typed |= ends_with(unit, suffixes[i]);
        FUZZ_CHECK(typed);
        FUZZ_CHECK(is_component(path, unit));
}

static void check_units(const char *path)
{
        const size_t sizes[] = { PROC_UNIT_MAX, 12, 1 };

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                char unit[PROC_UNIT_MAX], sys[PROC_UNIT_MAX];
                int r, rs;

                memset(unit, 0xa5, sizeof(unit));
                memset(sys, 0xa5, sizeof(sys));
                r = proc_cgroup_unit(path, unit, sizes[i]);
                rs = proc_cgroup_system_unit(path, sys, sizes[i]);
                FUZZ_CHECK(r == 0 || r == -ENOENT || r == -ENAMETOOLONG);
                FUZZ_CHECK(rs == 0 || rs == -ENOENT || rs == -ENAMETOOLONG);
                /* Both begin with the first unit below the slices: no unit, no system unit. */
                FUZZ_CHECK((r == -ENOENT) == (rs == -ENOENT));
                if (r == 0)
                        check_unit_text(path, unit, sizes[i]);
                if (rs == 0)
                        check_unit_text(path, sys, sizes[i]);
        }
}

static void check_parse(const uint8_t *data, size_t size)
{
        char big[PROC_CGROUP_MAX], small[16];
        int r, rs;

        memset(big, 0xa5, sizeof(big));
        memset(small, 0xa5, sizeof(small));
        r = proc_parse_cgroup((const char *)data, size, big, sizeof(big));
        rs = proc_parse_cgroup((const char *)data, size, small, sizeof(small));
        FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EINVAL || r == -ENAMETOOLONG);
        if (r != 0) {
                FUZZ_CHECK(rs == r);
                return;
        }
        FUZZ_CHECK(memchr(big, '\0', sizeof(big)) != NULL);
        FUZZ_CHECK(big[0] == '/' && !strchr(big, '\n'));
        FUZZ_CHECK(memmem(data, size, big, strlen(big)) != NULL);
        FUZZ_CHECK(rs == 0 || rs == -ENAMETOOLONG);
        if (rs == 0)
                FUZZ_CHECK(strcmp(big, small) == 0);
        /* (A NUL inside a path, which only forged text holds, ends the string early
         * while the whole line counts for the size.) */
        if (!memchr(data, '\0', size))
                FUZZ_CHECK((rs == 0) == (strlen(big) < sizeof(small)));
        check_units(big);
}

static void check_memory(const uint8_t *data, size_t size)
{
        char big[PROC_CGROUP_MAX], small[16], line[PROC_CGROUP_MAX + 64];
        bool v1 = false, v1s = false;
        int r, rs;

        memset(big, 0xa5, sizeof(big));
        memset(small, 0xa5, sizeof(small));
        r = proc_parse_cgroup_memory((const char *)data, size, big, sizeof(big), &v1);
        rs = proc_parse_cgroup_memory((const char *)data, size, small, sizeof(small), &v1s);
        FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EINVAL || r == -ENAMETOOLONG);
        if (r != 0) {
                FUZZ_CHECK(rs == r);
                FUZZ_CHECK((unsigned char)big[0] == 0xa5 && (unsigned char)small[0] == 0xa5);
                return;
        }
        FUZZ_CHECK(memchr(big, '\0', sizeof(big)) != NULL);
        FUZZ_CHECK(big[0] == '/' && !strchr(big, '\n'));
        FUZZ_CHECK(rs == 0 || rs == -ENAMETOOLONG);
        if (rs == 0)
                FUZZ_CHECK(strcmp(big, small) == 0 && v1s == v1);
        else
                FUZZ_CHECK((unsigned char)small[0] == 0xa5);
        /* The path ends a line of the input: ":/path\n", after "0:" for the unified
         * hierarchy, after a list holding "memory" for v1. */
        if (memchr(data, '\0', size))
                return;
        snprintf(line, sizeof(line), ":%s\n", big);
        FUZZ_CHECK(memmem(data, size, line, strlen(line)) != NULL);
        if (!v1) {
                snprintf(line, sizeof(line), "0::%s\n", big);
                FUZZ_CHECK(memmem(data, size, line, strlen(line)) != NULL);
        } else
                FUZZ_CHECK(memmem(data, size, "memory", 6) != NULL);
        FUZZ_CHECK((rs == 0) == (strlen(big) < sizeof(small)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *path;

        check_parse(data, size);
        check_memory(data, size);
        /* The input as a path (up to its first NUL), whatever it holds. */
        path = strndup((const char *)data, size);
        if (!path)
                abort();
        check_units(path);
        free(path);
        return 0;
}
