/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-status: /proc/PID/status through proc_parse_status().
 *
 * Properties:
 *   - no value ever comes from the Name: line: real status texts (the fixtures of an
 *     ordinary process, a kernel thread and a zombie) with their name replaced by the
 *     input's bytes — "VmRSS: 9999999", newlines, forged "Umask:" lines — parse to
 *     exactly what the real text gives. The name is escaped as Linux escapes it ('\n'
 *     and '\\'), up to 63 bytes, and also raw, as a kernel that did not escape it would
 *     print it, up to the 15 bytes a process may choose;
 *   - a line counts only when its newline is within the text: the input cut anywhere
 *     parses as the input cut after its last whole line. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"
#include "util.h"

/* TASK_COMM_LEN 16 with the NUL: the longest name a process can give itself. */
#define USER_COMM_MAX 15

struct template {
        const char *pid;
        char text[8192];
        size_t len;
        size_t name_end;                /* offset of the Name: line's newline */
        struct proc_status truth;
};

static struct template templates[] = {
        { .pid = "100" },               /* an ordinary process */
        { .pid = "2" },                 /* kthreadd: no Vm lines */
        { .pid = "104" },               /* a zombie: no Umask:, no Vm lines */
};

static void check_same(const struct proc_status *a, const struct proc_status *b)
{
        FUZZ_CHECK(a->have == b->have);
#define SAME(bit, field) FUZZ_CHECK(!(a->have & (1u << (bit))) || a->field == b->field)
        SAME(PS_UID, uid_real);
        SAME(PS_UID, uid_eff);
        SAME(PS_PPID, ppid);
        SAME(PS_TGID, tgid);
        SAME(PS_VMSIZE, vmsize_kb);
        SAME(PS_VMRSS, vmrss_kb);
        SAME(PS_RSSANON, rssanon_kb);
        SAME(PS_RSSFILE, rssfile_kb);
        SAME(PS_RSSSHMEM, rssshmem_kb);
        SAME(PS_VMDATA, vmdata_kb);
        SAME(PS_VMSWAP, vmswap_kb);
        SAME(PS_THREADS, threads);
#undef SAME
}

int LLVMFuzzerInitialize(int *argc UNUSED, char ***argv UNUSED)
{
        for (size_t i = 0; i < ELEMENTSOF(templates); i++) {
                struct template *t = &templates[i];
                char path[4096];
                const char *nl;
                int fd;
                ssize_t n;

                snprintf(path, sizeof(path), "%s/proc/root/%s/status", fuzz_fixtures(), t->pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                n = fd < 0 ? -1 : read(fd, t->text, sizeof(t->text));
                if (fd >= 0)
                        close(fd);
                nl = n > 0 ? memchr(t->text, '\n', (size_t)n) : NULL;
                if (!nl || strncmp(t->text, "Name:\t", 6) != 0 || (size_t)n == sizeof(t->text) ||
                    proc_parse_status(t->text, (size_t)n, &t->truth) < 0) {
                        fprintf(stderr, "fuzz-status: cannot use %s as a template\n", path);
                        exit(EXIT_FAILURE);
                }
                t->len = (size_t)n;
                t->name_end = (size_t)(nl - t->text);
        }
        return 0;
}

/* The template with the name replaced; escape: as Linux prints it (fs/proc/array.c
 * escapes only '\n' and '\\' in Name:). */
static void check_name(const struct template *t, const uint8_t *name, size_t n, bool escape)
{
        char text[sizeof(t->text) + 2 * PROC_COMM_MAX];
        struct proc_status st;
        size_t o = strlen("Name:\t");

        memcpy(text, t->text, o);
        for (size_t i = 0; i < n; i++) {
                if (escape && (name[i] == '\n' || name[i] == '\\')) {
                        text[o++] = '\\';
                        text[o++] = name[i] == '\n' ? 'n' : '\\';
                } else {
                        text[o++] = (char)name[i];
                }
        }
        memcpy(text + o, t->text + t->name_end, t->len - t->name_end);
        o += t->len - t->name_end;

        memset(&st, 0, sizeof(st));
        FUZZ_CHECK(proc_parse_status(text, o, &st) == 0);
        check_same(&st, &t->truth);
}

static int parse(const uint8_t *data, size_t len, struct proc_status *st)
{
        int r;

        memset(st, 0, sizeof(*st));
        r = proc_parse_status((const char *)data, len, st);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        FUZZ_CHECK(r < 0 || st->have != 0);
        FUZZ_CHECK(st->have < (1u << PS__MAX));
        return r;
}

/* The input cut at len parses as the input cut after its last newline before len. */
static void check_cut(const uint8_t *data, size_t len)
{
        struct proc_status a, b;
        size_t whole = fuzz_whole_lines(data, len);
        int ra, rb;

        ra = parse(data, len, &a);
        rb = parse(data, whole, &b);
        FUZZ_CHECK(ra == rb);
        if (ra == 0)
                check_same(&a, &b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t name[PROC_COMM_MAX];
        size_t n = 0;

        check_cut(data, size);
        if (size > 1)
                check_cut(data, size / 2 + data[0] % (size / 2));

        /* The name: the input's first bytes without NULs (a name ends at one). */
        for (size_t i = 0; i < size && n < PROC_COMM_MAX - 1; i++)
                if (data[i])
                        name[n++] = data[i];
        for (size_t i = 0; i < ELEMENTSOF(templates); i++) {
                check_name(&templates[i], name, n, true);
                check_name(&templates[i], name, MIN(n, (size_t)USER_COMM_MAX), false);
        }
        return 0;
}
