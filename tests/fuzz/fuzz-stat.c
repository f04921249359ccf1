/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-stat: /proc/PID/stat through proc_parse_stat().
 *
 * Two properties on every input:
 *   - the parser agrees with a reference parse written apart from it — the rule the
 *     peers converged on after misreading names like "((sd-pam))" (the name runs from
 *     the first '(' to the last ')'), with the fields split at single spaces on a copy
 *     and converted with strtoull(): both accept the same texts, with the same values;
 *   - a line printed the way the kernel prints it (fs/proc/array.c), with a name made
 *     of the input's bytes — spaces, parentheses, newlines, ") R 1 2" — parses back to
 *     exactly that name and those numbers. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "util.h"

/* Fields by their number in proc(5), as proc.c counts them. */
#define F_STATE 3
#define F_RSS 24
#define F_START_BRK 47

/* ---- the reference ---- */

static bool ref_digits(const char *s)
{
        return *s && strspn(s, "0123456789") == strlen(s);
}

static bool ref_u64(const char *s, uint64_t max, uint64_t *ret)
{
        unsigned long long v;

        if (!ref_digits(s))
                return false;
        errno = 0;
        v = strtoull(s, NULL, 10);
        if (errno == ERANGE || v > max)
                return false;
        *ret = v;
        return true;
}

static bool ref_i64(const char *s, int64_t *ret)
{
        long long v;

        if (!ref_digits(s[0] == '-' ? s + 1 : s))
                return false;
        errno = 0;
        v = strtoll(s, NULL, 10);
        if (errno == ERANGE)
                return false;
        *ret = v;
        return true;
}

/* Field f (3 and up) from its text into st; false if the text is not what f holds. */
static bool ref_field(unsigned f, const char *s, struct proc_stat *st)
{
        uint64_t u;
        int64_t v;

        switch (f) {
        case F_STATE:
                st->state = s[0];
                return strlen(s) == 1;
        case 4: case 5: case 6:
                if (!ref_u64(s, INT_MAX, &u))
                        return false;
                *(f == 4 ? &st->ppid : f == 5 ? &st->pgrp : &st->session) = (pid_t)u;
                return true;
        case 9:
                if (!ref_u64(s, UINT32_MAX, &u))
                        return false;
                st->flags = (uint32_t)u;
                return true;
        case 10: case 12: case 14: case 15: case 22: case 23: case F_START_BRK:
                if (!ref_u64(s, UINT64_MAX, &u))
                        return false;
                *(f == 10 ? &st->minflt : f == 12 ? &st->majflt : f == 14 ? &st->utime : f == 15 ? &st->stime :
                  f == 22 ? &st->starttime : f == 23 ? &st->vsize : &st->start_brk) = u;
                return true;
        case 20: case F_RSS:
                if (!ref_i64(s, &v))
                        return false;
                *(f == 20 ? &st->num_threads : &st->rss_pages) = v;
                return true;
        default:
                return true;
        }
}

static bool reference(const uint8_t *data, size_t size, struct proc_stat *ret)
{
        struct proc_stat st = { 0 };
        size_t i = 0, open, close, lineend, ntok = 0;
        char *tokens[F_START_BRK + 1];
        _cleanup_free_ char *line = NULL;
        bool terminated;
        char *p;

        while (i < size && data[i] >= '0' && data[i] <= '9')
                i++;
        if (i == 0 || size - i < 2 || data[i] != ' ' || data[i + 1] != '(')
                return false;
        open = i + 1;
        for (close = size - 1; close > open && data[close] != ')'; close--)
                ;
        if (close == open)
                return false;
        memcpy(st.comm, data + open + 1, MIN(close - open - 1, (size_t)PROC_COMM_MAX));

        /* The fields: the rest of the line, one space before each. */
        for (lineend = close + 1; lineend < size && data[lineend] != '\n'; lineend++)
                ;
        terminated = lineend < size;
        line = malloc(lineend - close);
        if (!line)
                abort();
        for (i = close + 1; i < lineend; i++)
                /* A NUL would end the copy early; no field the parser reads may hold
                 * one, so any other byte that is not a space stands in for it. */
                line[i - close - 1] = data[i] ? (char)data[i] : '\1';
        line[lineend - close - 1] = '\0';
        if (line[0] != ' ')
                return false;
        for (p = line + 1; p && ntok < ELEMENTSOF(tokens);)
                tokens[ntok++] = strsep(&p, " ");
        /* A field the text cuts off does not count: the kernel ends the line with '\n'. */
        if (!terminated && !p)
                ntok--;
        if (ntok < F_RSS - 2)
                return false;
        for (i = 0; i < ntok && i + 3 <= F_START_BRK; i++)
                if (!ref_field((unsigned)i + 3, tokens[i], &st))
                        return false;
        /* The state as it was, NUL included (the copy has '\1' for it). */
        st.state = (char)data[close + 2];
        *ret = st;
        return true;
}

static void check_same(const struct proc_stat *a, const struct proc_stat *b)
{
        FUZZ_CHECK(memcmp(a->comm, b->comm, sizeof(a->comm)) == 0);
        FUZZ_CHECK(a->state == b->state);
        FUZZ_CHECK(a->ppid == b->ppid && a->pgrp == b->pgrp && a->session == b->session);
        FUZZ_CHECK(a->flags == b->flags);
        FUZZ_CHECK(a->minflt == b->minflt && a->majflt == b->majflt);
        FUZZ_CHECK(a->utime == b->utime && a->stime == b->stime);
        FUZZ_CHECK(a->num_threads == b->num_threads);
        FUZZ_CHECK(a->starttime == b->starttime && a->vsize == b->vsize);
        FUZZ_CHECK(a->rss_pages == b->rss_pages);
        FUZZ_CHECK(a->start_brk == b->start_brk);
}

static void check_against_reference(const uint8_t *data, size_t size)
{
        struct proc_stat st, ref;
        bool ref_ok;
        int r;

        memset(&st, 0, sizeof(st));
        memset(&ref, 0, sizeof(ref));
        r = proc_parse_stat((const char *)data, size, &st);
        ref_ok = reference(data, size, &ref);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        FUZZ_CHECK((r == 0) == ref_ok);
        if (r == 0) {
                FUZZ_CHECK(memchr(st.comm, '\0', sizeof(st.comm)) != NULL);
                check_same(&st, &ref);
        }
}

/* ---- kernel-shaped lines ---- */

/* xorshift64: numbers for the fields, from the input, so a failure reproduces. */
static uint64_t next(uint64_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

/* A field value that is often at an edge: 0, the largest, or anything. */
static uint64_t pick(uint64_t *s, uint64_t max)
{
        uint64_t v = next(s);

        switch (v & 3) {
        case 0:
                return 0;
        case 1:
                return max;
        default:
                return max == UINT64_MAX ? next(s) : next(s) % (max + 1);
        }
}

static void check_kernel_line(const uint8_t *data, size_t size)
{
        static const char states[] = "RSDTtXZPI";
        struct proc_stat want = { 0 }, got;
        uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
        char line[4096];
        size_t n = 0;
        bool old;
        int len;

        /* The name: the input's first bytes, NUL aside (the kernel's names end at one). */
        for (size_t i = 0; i < size && n < PROC_COMM_MAX - 1; i++)
                if (data[i])
                        want.comm[n++] = (char)data[i];
        for (size_t i = 0; i < size; i++)
                seed = (seed ^ data[i]) * UINT64_C(0x100000001b3);
        if (seed == 0)
                seed = 1;
        want.state = states[next(&seed) % (sizeof(states) - 1)];
        want.ppid = (pid_t)pick(&seed, INT_MAX);
        want.pgrp = (pid_t)pick(&seed, INT_MAX);
        want.session = (pid_t)pick(&seed, INT_MAX);
        want.flags = (uint32_t)pick(&seed, UINT32_MAX);
        want.minflt = pick(&seed, UINT64_MAX);
        want.majflt = pick(&seed, UINT64_MAX);
        want.utime = pick(&seed, UINT64_MAX);
        want.stime = pick(&seed, UINT64_MAX);
        want.num_threads = (int64_t)pick(&seed, INT64_MAX);
        want.starttime = pick(&seed, UINT64_MAX);
        want.vsize = pick(&seed, UINT64_MAX);
        want.rss_pages = (int64_t)pick(&seed, INT64_MAX);
        /* Kernels before 3.3 print 44 fields: no start_brk. */
        old = next(&seed) & 1;
        want.start_brk = old ? 0 : pick(&seed, UINT64_MAX);

        len = snprintf(line, sizeof(line),
                       "%" PRIu64 " (%s) %c %d %d %d %d %d %" PRIu32 " %" PRIu64 " 0 %" PRIu64 " 0 %" PRIu64
                       " %" PRIu64 " 0 0 20 0 %" PRId64 " 0 %" PRIu64 " %" PRIu64 " %" PRId64
                       " 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
                       next(&seed) % 4194304 + 1, want.comm, want.state, want.ppid, want.pgrp, want.session,
                       (int)(next(&seed) % 65536), -1, want.flags, want.minflt, want.majflt, want.utime,
                       want.stime, want.num_threads, want.starttime, want.vsize, want.rss_pages);
        FUZZ_CHECK(len > 0 && (size_t)len < sizeof(line));
        if (old)
                len += snprintf(line + len, sizeof(line) - (size_t)len, "\n");
        else
                len += snprintf(line + len, sizeof(line) - (size_t)len, " 0 0 %" PRIu64 " 0 0 0 0 0\n",
                                want.start_brk);
        FUZZ_CHECK((size_t)len < sizeof(line));

        memset(&got, 0xa5, sizeof(got));
        FUZZ_CHECK(proc_parse_stat(line, (size_t)len, &got) == 0);
        check_same(&got, &want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        check_against_reference(data, size);
        check_kernel_line(data, size);
        return 0;
}
