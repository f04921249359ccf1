/* SPDX-License-Identifier: GPL-2.0-or-later */
/* proc: the kernel's /proc text formats — pure parsers over buffers, and readers that
 * work relative to a proc root directory descriptor.
 *
 * Every parser takes (buf, len) that need not be NUL-terminated and never looks past
 * len. A line counts only when its newline lies within len: the kernel ends every line
 * of these files with one, so text cut short by a small buffer can never yield a
 * shortened number (a VmRSS of "12" from "1234 kB"). The one exception is a parser told
 * the text is complete (smaps), where the kernel's last line is whole by definition.
 *
 * Kernel behaviour the readers rely on, observed on Linux 6.18 with real children
 * (tests/unit/test-proc.c repeats each observation; where another kernel may answer
 * differently, the readers handle and the tests accept both answers):
 *   - pread(fd, .., 0) on a kept-open /proc/PID/status or stat regenerates the text:
 *     a second read sees memory the process touched after the first.
 *   - A zombie (exited, not reaped) still reads: stat shows state Z and status has no
 *     Vm or Rss lines. Its smaps reads as 0 bytes; smaps_rollup fails to open, and a
 *     smaps_rollup descriptor opened while it was alive now reads, with ESRCH. Its fd
 *     directory has st_size 0 and no entries.
 *   - A kernel thread's smaps reads as 0 bytes and its smaps_rollup fails to open with
 *     ESRCH, exactly like a process that is gone.
 *   - Once the process is reaped, every kept descriptor (stat, status, smaps,
 *     smaps_rollup) reads with ESRCH, and openat() or fstatat() relative to the kept
 *     O_PATH PID directory fail with ESRCH too; a fresh open of /proc/PID fails with
 *     ENOENT. So a descriptor can never read a newer process that reused the PID.
 *   - stat's rss (field 24) reads the per-CPU RSS counters without summing them and
 *     lags: 200 kB short for an idle child whose statm resident and status VmRSS
 *     agreed exactly. Memory figures come from status.
 *   - /proc/PID/status escapes '\n' and '\\' in Name:, while stat prints the name raw,
 *     newlines included.
 *   - The kernel refuses cgroup names containing '\n' (mkdir gives EINVAL, in v1 and
 *     v2 hierarchies alike), so every line of /proc/PID/cgroup is one hierarchy.
 *   - With hidepid=invisible, once a watched process is hidden from us (it turned
 *     non-dumpable; tests/adversarial/test_procfs.py), its kept stat and status
 *     descriptors still read, while openat() and fstatat() below its kept directory
 *     fail with ENOENT, not ESRCH. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "util.h"

/* include/linux/sched.h: set on every kernel thread, and only on them. */
#define PF_KTHREAD 0x00200000u

/* Fields of stat by their number in proc(5): rss is the last one a line must have;
 * start_brk (since Linux 3.3) the last one read. */
#define STAT_FIELD_RSS 24
#define STAT_FIELD_START_BRK 47

/* A stat line holds a name of at most 64 bytes and 52 decimal fields of at most 20
 * digits each: about 1.2 KiB at worst, so 2 KiB always holds it. */
#define STAT_BUF 2048

/* smaps is read in pieces of this size. The kernel's seq_file fills each read() with as
 * many whole mapping records as fit (one record is about 1 KiB), so a small read keeps
 * the kernel from walking the page tables of mappings beyond the heap; a page is also
 * seq_file's own buffer size. */
#define SMAPS_CHUNK 4096

/* How far above start_brk (stat field 47) the [heap] mapping may begin. The kernel
 * starts the brk mapping at start_brk, which it page-aligns at exec; only a first brk()
 * that stays within one page makes the mapping begin one page higher. 1 MiB covers
 * that for every base page size Linux has (up to 256 KiB) with room to spare, and
 * costs nothing: what follows the heap is the mmap area, gigabytes higher. */
#define HEAP_BRK_SLACK (UINT64_C(1) << 20)

/* A PID is at most PID_MAX_LIMIT (4194304): 7 digits; 10 allows any int. */
#define PID_DIGITS_MAX 10

/* The array of PIDs starts with room for this many: a small host runs a few hundred
 * processes, so most daemons never grow it twice. */
#define PIDS_INITIAL_CAP 256

/* ---- scanning untrusted text ---- */

/* The end of the line at p (its '\n'), or NULL if the text ends before one. */
static const char *line_end(const char *p, const char *end)
{
        return memchr(p, '\n', (size_t)(end - p));
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Lower-case hex only: the kernel prints addresses with %lx. */
static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Parses decimal digits at *p (before end) into ret; refuses no digits and overflow.
 * Advances *p past the digits. */
static bool scan_u64(const char **p, const char *end, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;

        if (s >= end || !is_digit(*s))
                return false;
        for (; s < end && is_digit(*s); s++) {
                unsigned d = (unsigned)(*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return true;
}

static bool scan_hex(const char **p, const char *end, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;
        int d;

        if (s >= end || hex_value(*s) < 0)
                return false;
        for (; s < end && (d = hex_value(*s)) >= 0; s++) {
                if (v > (UINT64_MAX >> 4))
                        return false;
                v = (v << 4) | (uint64_t)d;
        }
        *p = s;
        *ret = v;
        return true;
}

/* The whole token [s, e) as a decimal in [min, max], with a leading '-' if min < 0. */
static bool token_int64(const char *s, const char *e, int64_t min, int64_t max, int64_t *ret)
{
        bool neg = false;
        uint64_t u;
        int64_t v;

        if (s < e && *s == '-' && min < 0) {
                neg = true;
                s++;
        }
        if (!scan_u64(&s, e, &u) || s != e)
                return false;
        if (!neg) {
                if (u > (uint64_t)max)
                        return false;
                v = (int64_t)u;
        } else {
                if (u > (uint64_t)INT64_MAX + 1)
                        return false;
                v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
                if (v < min)
                        return false;
        }
        *ret = v;
        return true;
}

static bool token_u64(const char *s, const char *e, uint64_t *ret)
{
        return scan_u64(&s, e, ret) && s == e;
}

static const char *skip_blank(const char *p, const char *end)
{
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

/* "   1234 kB" up to eol, the format of every memory line in status and smaps. */
static bool value_kb(const char *p, const char *eol, uint64_t *ret)
{
        p = skip_blank(p, eol);
        if (!scan_u64(&p, eol, ret))
                return false;
        return eol - p == 3 && memcmp(p, " kB", 3) == 0;
}

/* A plain count up to eol ("Threads:\t4"). */
static bool value_count(const char *p, const char *eol, uint64_t *ret)
{
        p = skip_blank(p, eol);
        return scan_u64(&p, eol, ret) && p == eol;
}

/* If the line [p, eol) is "key:..." returns the text after the colon, else NULL. */
static const char *line_key(const char *p, const char *eol, const char *key)
{
        size_t n = strlen(key);

        if ((size_t)(eol - p) <= n || memcmp(p, key, n) != 0 || p[n] != ':')
                return NULL;
        return p + n + 1;
}

static bool starts_with(const char *p, const char *end, const char *prefix)
{
        size_t n = strlen(prefix);

        return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

/* ---- stat ---- */

int proc_parse_stat(const char *buf, size_t len, struct proc_stat *ret)
{
        const char *end = buf + len, *p = buf, *open, *close;
        struct proc_stat st = { 0 };
        unsigned field;
        uint64_t u;
        int64_t v;

        if (!buf)
                return -EINVAL;

        /* "PID (" */
        while (p < end && is_digit(*p))
                p++;
        if (p == buf || end - p < 2 || p[0] != ' ' || p[1] != '(')
                return -EINVAL;
        open = p + 1;

        /* The name ends at the last ')' of the text: nothing after the name can hold
         * one, while the name itself may hold any number. */
        close = memrchr(open + 1, ')', (size_t)(end - (open + 1)));
        if (!close)
                return -EINVAL;
        /* Cut, not refused: the kernel prints at most 63 bytes, so only foreign text
         * is ever longer, and the fields after it are still unambiguous. */
        str_copy(st.comm, sizeof(st.comm), open + 1, (size_t)(close - open - 1));

        /* Fields are numbered from 1 (pid) as in proc(5); the name is 2. Each is
         * preceded by one space and counts only if a space or the newline ends it. */
        p = close + 1;
        for (field = 3; field <= STAT_FIELD_START_BRK; field++) {
                const char *s, *e;

                if (p >= end || *p != ' ')
                        break;
                s = ++p;
                while (p < end && *p != ' ' && *p != '\n')
                        p++;
                if (p >= end)
                        break;          /* possibly cut by the buffer: does not count */
                e = p;

                switch (field) {
                case 3:
                        if (e - s != 1)
                                return -EINVAL;
                        st.state = *s;
                        break;
                case 4: case 5: case 6:
                        /* pgrp and session are 0 for kernel threads; never negative. */
                        if (!token_int64(s, e, 0, INT_MAX, &v))
                                return -EINVAL;
                        if (field == 4)
                                st.ppid = (pid_t)v;
                        else if (field == 5)
                                st.pgrp = (pid_t)v;
                        else
                                st.session = (pid_t)v;
                        break;
                case 9:
                        if (!token_u64(s, e, &u) || u > UINT32_MAX)
                                return -EINVAL;
                        st.flags = (uint32_t)u;
                        break;
                case 10: case 12: case 14: case 15: case 22: case 23: case STAT_FIELD_START_BRK:
                        if (!token_u64(s, e, &u))
                                return -EINVAL;
                        if (field == 10)
                                st.minflt = u;
                        else if (field == 12)
                                st.majflt = u;
                        else if (field == 14)
                                st.utime = u;
                        else if (field == 15)
                                st.stime = u;
                        else if (field == 22)
                                st.starttime = u;
                        else if (field == 23)
                                st.vsize = u;
                        else
                                st.start_brk = u;
                        break;
                case 20: case STAT_FIELD_RSS:
                        if (!token_int64(s, e, INT64_MIN, INT64_MAX, &v))
                                return -EINVAL;
                        if (field == 20)
                                st.num_threads = v;
                        else
                                st.rss_pages = v;
                        break;
                default:
                        break;
                }
                if (*p == '\n') {
                        field++;
                        break;
                }
        }
        /* field is now one past the last field read. */
        if (field <= STAT_FIELD_RSS)
                return -EINVAL;

        *ret = st;
        return 0;
}

bool proc_stat_is_kthread(const struct proc_stat *st)
{
        return st->flags & PF_KTHREAD;
}

bool proc_stat_is_zombie(const struct proc_stat *st)
{
        /* X (dead) is the instant of reaping; its memory is gone like a zombie's. */
        return st->state == 'Z' || st->state == 'X';
}

/* ---- status ---- */

enum value_kind { V_KB, V_COUNT, V_UID };

#define KEY(k) k, sizeof(k) - 1
static const struct {
        const char *key;
        size_t len;
        enum proc_status_field field;
        enum value_kind kind;
} status_keys[] = {
        { KEY("Uid"), PS_UID, V_UID },
        { KEY("PPid"), PS_PPID, V_COUNT },
        { KEY("Tgid"), PS_TGID, V_COUNT },
        { KEY("VmSize"), PS_VMSIZE, V_KB },
        { KEY("VmRSS"), PS_VMRSS, V_KB },
        { KEY("RssAnon"), PS_RSSANON, V_KB },
        { KEY("RssFile"), PS_RSSFILE, V_KB },
        { KEY("RssShmem"), PS_RSSSHMEM, V_KB },
        { KEY("VmData"), PS_VMDATA, V_KB },
        { KEY("VmSwap"), PS_VMSWAP, V_KB },
        { KEY("Threads"), PS_THREADS, V_COUNT },
};
#undef KEY

/* "Uid:\t0\t0\t0\t0": real, effective, saved, filesystem. */
static bool value_uids(const char *p, const char *eol, uid_t *ret_real, uid_t *ret_eff)
{
        uint64_t id[4];

        for (size_t i = 0; i < ELEMENTSOF(id); i++) {
                p = skip_blank(p, eol);
                /* (uid_t)-1 is "no id" and never a process's. */
                if (!scan_u64(&p, eol, &id[i]) || id[i] >= UINT32_MAX)
                        return false;
        }
        if (skip_blank(p, eol) != eol)
                return false;
        *ret_real = (uid_t)id[0];
        *ret_eff = (uid_t)id[1];
        return true;
}

static void status_line(struct proc_status *st, const char *p, const char *eol)
{
        /* A key is the text before the line's first ':' (no key holds one), matched by
         * its length and first letter before its bytes: status has some 55 lines, and
         * comparing every line with every key took over half of the daemon's
         * instructions (callgrind). */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        size_t len;

        if (!colon)
                return;
        len = (size_t)(colon - p);
        for (size_t i = 0; i < ELEMENTSOF(status_keys); i++) {
                const char *v = colon + 1;
                uint32_t bit = 1u << status_keys[i].field;
                uint64_t u = 0;
                bool ok;

                if (status_keys[i].len != len || status_keys[i].key[0] != p[0] ||
                    memcmp(p, status_keys[i].key, len) != 0)
                        continue;
                if (status_keys[i].kind == V_UID)
                        ok = value_uids(v, eol, &st->uid_real, &st->uid_eff);
                else if (status_keys[i].kind == V_KB)
                        ok = value_kb(v, eol, &u);
                else
                        ok = value_count(v, eol, &u) && u <= INT_MAX;
                /* The last occurrence is the kernel's (see proc.h); if that one is
                 * unreadable the field is unknown, not the earlier value. */
                if (!ok) {
                        st->have &= ~bit;
                        return;
                }
                st->have |= bit;
                switch (status_keys[i].field) {
                case PS_PPID: st->ppid = (pid_t)u; break;
                case PS_TGID: st->tgid = (pid_t)u; break;
                case PS_VMSIZE: st->vmsize_kb = u; break;
                case PS_VMRSS: st->vmrss_kb = u; break;
                case PS_RSSANON: st->rssanon_kb = u; break;
                case PS_RSSFILE: st->rssfile_kb = u; break;
                case PS_RSSSHMEM: st->rssshmem_kb = u; break;
                case PS_VMDATA: st->vmdata_kb = u; break;
                case PS_VMSWAP: st->vmswap_kb = u; break;
                case PS_THREADS: st->threads = (int64_t)u; break;
                case PS_UID: case PS__MAX: break;
                }
                return;
        }
}

int proc_parse_status(const char *buf, size_t len, struct proc_status *ret)
{
        const char *end = buf + len, *p = buf, *eol;
        struct proc_status st = { 0 };

        if (!buf)
                return -EINVAL;

        /* The Name: line carries text the process chose. Today's kernels escape a
         * newline in it, but a kernel that did not would let a name spell out a line
         * of its own, so everything up to the first line the kernel always prints
         * next — Umask: (since 4.7) or State: (zombies have no Umask:) — is skipped.
         * A user task's name has 15 bytes, too few to forge both that anchor line and
         * a memory line (the shortest, "\nUmask:\nVmRSS:9 kB", has 18), and the lines
         * that every task has (PPid, Uid, Threads...) come later, so the last
         * occurrence wins for them anyway. */
        if (starts_with(p, end, "Name:")) {
                const char *q;

                eol = line_end(p, end);
                if (!eol)
                        return -EINVAL;
                p = eol + 1;
                for (q = p; q < end && (eol = line_end(q, end)); q = eol + 1)
                        if (starts_with(q, eol, "Umask:") || starts_with(q, eol, "State:")) {
                                p = q;
                                break;
                        }
        }

        for (; p < end && (eol = line_end(p, end)); p = eol + 1)
                status_line(&st, p, eol);

        if (st.have == 0)
                return -EINVAL;
        *ret = st;
        return 0;
}

/* ---- smaps and smaps_rollup ---- */

struct map_header {
        uint64_t start, end;
        const char *name;       /* the path or [pseudo] name, possibly empty */
        size_t namelen;
};

/* True if the line [p, eol) begins like a mapping header: "start-end perms ", with
 * start and end in hex and perms four of [r-][w-][x-][ps]. No field line of smaps
 * can: their keys start with an upper-case letter and contain no '-'. */
static bool is_map_header(const char *p, const char *eol)
{
        const char *q = p;
        uint64_t a;

        if (!scan_hex(&q, eol, &a) || q >= eol || *q++ != '-')
                return false;
        if (!scan_hex(&q, eol, &a) || eol - q < 6 || *q++ != ' ')
                return false;
        return (q[0] == 'r' || q[0] == '-') && (q[1] == 'w' || q[1] == '-') &&
               (q[2] == 'x' || q[2] == '-') && (q[3] == 'p' || q[3] == 's') && q[4] == ' ';
}

/* Parses a mapping header line "start-end perms offset major:minor inode   name";
 * false if the line is not one. */
static bool parse_map_header(const char *p, const char *eol, struct map_header *ret)
{
        uint64_t start, end, x;

        if (!is_map_header(p, eol))
                return false;
        /* is_map_header() has checked everything up to and including the perms. */
        scan_hex(&p, eol, &start);
        p++;
        scan_hex(&p, eol, &end);
        p += 6;                                                         /* " rw-p " */
        if (end < start)
                return false;
        if (!scan_hex(&p, eol, &x) || p >= eol || *p++ != ' ')          /* offset */
                return false;
        if (!scan_hex(&p, eol, &x) || p >= eol || *p++ != ':')          /* major */
                return false;
        if (!scan_hex(&p, eol, &x) || p >= eol || *p++ != ' ')          /* minor */
                return false;
        if (!scan_u64(&p, eol, &x))                                     /* inode */
                return false;
        if (p < eol && *p != ' ')
                return false;
        p = skip_blank(p, eol);
        ret->start = start;
        ret->end = end;
        ret->name = p;
        ret->namelen = (size_t)(eol - p);
        return true;
}

/* A field line of smaps: "Key:" and a value. Any key is accepted, so a field a newer
 * kernel adds does not make the text malformed. */
static bool is_field_line(const char *p, const char *eol)
{
        const char *q = p;

        while (q < eol && *q != ':' && *q != ' ' && *q != '\t')
                q++;
        return q > p && q < eol && *q == ':';
}

static const char *const rollup_keys[PR__MAX] = {
        [PR_RSS] = "Rss",
        [PR_PSS] = "Pss",
        [PR_PSS_ANON] = "Pss_Anon",
        [PR_PSS_FILE] = "Pss_File",
        [PR_PSS_SHMEM] = "Pss_Shmem",
        [PR_SHARED_CLEAN] = "Shared_Clean",
        [PR_SHARED_DIRTY] = "Shared_Dirty",
        [PR_PRIVATE_CLEAN] = "Private_Clean",
        [PR_PRIVATE_DIRTY] = "Private_Dirty",
        [PR_ANONYMOUS] = "Anonymous",
        [PR_SWAP] = "Swap",
        [PR_SWAP_PSS] = "SwapPss",
};

int proc_parse_smaps_rollup(const char *buf, size_t len, struct proc_rollup *ret)
{
        const char *end = buf + len, *p = buf, *eol;
        struct proc_rollup r = { 0 };
        struct map_header h;

        if (!buf)
                return -EINVAL;
        if (len == 0)
                return -ENODATA;

        eol = line_end(p, end);
        if (!eol || !parse_map_header(p, eol, &h) ||
            h.namelen != strlen("[rollup]") || memcmp(h.name, "[rollup]", h.namelen) != 0)
                return -EINVAL;

        for (p = eol + 1; p < end && (eol = line_end(p, end)); p = eol + 1)
                for (size_t i = 0; i < PR__MAX; i++) {
                        const char *v = line_key(p, eol, rollup_keys[i]);
                        uint64_t kb;

                        if (!v)
                                continue;
                        if (value_kb(v, eol, &kb)) {
                                r.kb[i] = kb;
                                r.have |= 1u << i;
                        } else {
                                r.have &= ~(1u << i);
                        }
                        break;
                }

        *ret = r;
        return 0;
}

/* The heap search over [buf, buf + len).
 *
 * The heap is every record named [heap], and they come one after another: the kernel
 * names so each mapping that overlaps [start_brk, brk], and there may be several,
 * because brk memory grown after a fork() cannot merge with the mapping the child
 * inherited (observed: a child's sbrk() made a second [heap] record), and mprotect()
 * splits one. The answer is their sum, known once the next record begins or the text
 * ends. A file mapped over the middle of the brk area (only MAP_FIXED can) would end
 * the sum early; no program that keeps using brk does that.
 *
 * *ret_resume is set to an offset before which everything is decided (the latest
 * header, or the first [heap] header once one is seen), so a reader that appends text
 * may call again from there. start_brk, if not 0, ends a search that has found no
 * heap at the first mapping that begins above it (plus slack): mappings are listed in
 * address order, and the brk heap never begins above start_brk (see HEAP_BRK_SLACK).
 * This holds for every layout, the legacy bottom-up one included, where mmap regions
 * lie below the executable; no rule based on which mapping "usually" follows the heap
 * would. */
static int heap_scan(const char *buf, size_t len, bool complete, uint64_t start_brk,
                     struct proc_heap *ret, size_t *ret_resume)
{
        const char *end = buf + len, *p = buf, *eol;
        bool seen_header = false, in_heap = false, have_rss = false;
        uint64_t size_kb = 0, rss_kb = 0;
        unsigned heaps = 0;
        struct map_header h;

        *ret_resume = 0;
        if (complete && len == 0)
                return -ENODATA;

        for (; p < end; p = eol + 1) {
                eol = line_end(p, end);
                if (!eol) {
                        if (!complete)
                                break;  /* a line the next read completes */
                        eol = end;
                }

                if (is_map_header(p, eol)) {
                        if (!parse_map_header(p, eol, &h))
                                return -EINVAL;
                        if (in_heap && !have_rss)
                                return -EINVAL; /* a [heap] record without Rss: */
                        seen_header = true;
                        if (h.namelen == strlen("[heap]") && memcmp(h.name, "[heap]", h.namelen) == 0) {
                                if (heaps++ == 0)
                                        *ret_resume = (size_t)(p - buf);
                                in_heap = true;
                                have_rss = false;
                                size_kb += (h.end - h.start) / 1024;
                                continue;
                        }
                        if (heaps > 0)
                                goto found;
                        *ret_resume = (size_t)(p - buf);
                        if (start_brk != 0 && start_brk <= UINT64_MAX - HEAP_BRK_SLACK &&
                            h.start > start_brk + HEAP_BRK_SLACK)
                                return -ENOENT;
                        continue;
                }

                if (!seen_header || !is_field_line(p, eol))
                        return -EINVAL;
                if (in_heap) {
                        const char *v = line_key(p, eol, "Rss");
                        uint64_t kb;

                        if (!v)
                                continue;
                        if (have_rss || !value_kb(v, eol, &kb))
                                return -EINVAL;
                        have_rss = true;
                        rss_kb += kb;
                }
        }

        if (!complete)
                return -EAGAIN;
        if (in_heap && !have_rss)
                return -EINVAL;
        if (heaps == 0)
                return -ENOENT;
found:
        *ret = (struct proc_heap) { .size_kb = size_kb, .rss_kb = rss_kb };
        return 0;
}

int proc_parse_smaps_heap_brk(const char *buf, size_t len, bool complete, uint64_t start_brk,
                              struct proc_heap *ret)
{
        size_t resume;

        if (!buf)
                return -EINVAL;
        return heap_scan(buf, len, complete, start_brk, ret, &resume);
}

int proc_parse_smaps_heap(const char *buf, size_t len, bool complete, struct proc_heap *ret)
{
        return proc_parse_smaps_heap_brk(buf, len, complete, 0, ret);
}

/* ---- cgroup ---- */

/* Whether the comma-separated controller list [p, e) holds the item name. */
static bool names_item(const char *p, const char *e, const char *name)
{
        while (p < e) {
                const char *comma = memchr(p, ',', (size_t)(e - p));
                const char *q = comma ? comma : e;

                if (q - p == (ptrdiff_t)strlen(name) && memcmp(p, name, (size_t)(q - p)) == 0)
                        return true;
                p = q + 1;
        }
        return false;
}

/* The lines of /proc/PID/cgroup that matter: the unified hierarchy's, and the v1
 * hierarchy whose controller list holds item; each path from its '/' to the line's end. */
struct cgroup_lines {
        const char *v2, *v2_end, *v1, *v1_end;
};

static int cgroup_lines(const char *buf, size_t len, const char *item, struct cgroup_lines *ret)
{
        const char *end = buf + len, *p = buf, *eol;

        *ret = (struct cgroup_lines){ 0 };
        /* "hierarchy-ID:controller-list:cgroup-path"; ID 0 with an empty list is the
         * unified hierarchy. */
        for (; p < end && (eol = line_end(p, end)); p = eol + 1) {
                const char *c1, *c2, *q = p;
                uint64_t id;

                if (!scan_u64(&q, eol, &id) || q >= eol || *q != ':')
                        continue;
                c1 = q;
                c2 = memchr(c1 + 1, ':', (size_t)(eol - (c1 + 1)));
                if (!c2 || c2 + 1 >= eol || c2[1] != '/')
                        continue;
                if (id == 0 && c2 == c1 + 1) {
                        /* Each hierarchy is listed once, a controller sits in one, and
                         * no cgroup name can hold a newline: a second line is forged
                         * text, so trust neither. */
                        if (ret->v2)
                                return -EINVAL;
                        ret->v2 = c2 + 1;
                        ret->v2_end = eol;
                } else if (names_item(c1 + 1, c2, item)) {
                        if (ret->v1)
                                return -EINVAL;
                        ret->v1 = c2 + 1;
                        ret->v1_end = eol;
                }
        }
        return 0;
}

static int copy_path(const char *use, const char *use_end, char *ret_path, size_t pathsz)
{
        if ((size_t)(use_end - use) >= pathsz)
                return -ENAMETOOLONG;
        memcpy(ret_path, use, (size_t)(use_end - use));
        ret_path[use_end - use] = '\0';
        return 0;
}

int proc_parse_cgroup(const char *buf, size_t len, char *ret_path, size_t pathsz)
{
        struct cgroup_lines l;
        int r;

        if (!buf || !ret_path || pathsz == 0)
                return -EINVAL;
        r = cgroup_lines(buf, len, "name=systemd", &l);
        if (r < 0)
                return r;
        /* The unified hierarchy wins, except when it is only mounted and unused (a
         * legacy host where something mounted cgroup2): then every process sits in its
         * root "/" and the systemd hierarchy says more. */
        if (l.v2 && !(l.v2_end - l.v2 == 1 && l.v1 && l.v1_end - l.v1 > 1))
                return copy_path(l.v2, l.v2_end, ret_path, pathsz);
        if (l.v1)
                return copy_path(l.v1, l.v1_end, ret_path, pathsz);
        return -ENOENT;
}

int proc_parse_cgroup_memory(const char *buf, size_t len, char *ret_path, size_t pathsz, bool *ret_v1)
{
        struct cgroup_lines l;
        int r;

        if (!buf || !ret_path || pathsz == 0 || !ret_v1)
                return -EINVAL;
        r = cgroup_lines(buf, len, "memory", &l);
        if (r < 0)
                return r;
        /* A legacy or hybrid host lists the memory controller on its own hierarchy; where
         * it is not listed, it is the unified hierarchy's (or nobody's: the reader then
         * finds no limit file). */
        r = l.v1 ? copy_path(l.v1, l.v1_end, ret_path, pathsz)
                 : l.v2 ? copy_path(l.v2, l.v2_end, ret_path, pathsz) : -ENOENT;
        if (r == 0)
                *ret_v1 = l.v1 != NULL;
        return r;
}

/* The unit types whose units hold processes. Slices only group units; devices,
 * targets, timers, paths and automounts never have processes of their own. */
static const char *const process_unit_suffixes[] = {
        ".service", ".scope", ".socket", ".mount", ".swap",
};

static bool ends_with(const char *s, size_t n, const char *suffix)
{
        size_t k = strlen(suffix);

        return n > k && memcmp(s + n - k, suffix, k) == 0;
}

/* Characters systemd allows in a unit name (unit_name_is_valid()). */
static bool unit_chars_valid(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!(((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || is_digit(c) ||
                      c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@'))
                        return false;
        }
        return true;
}

/* Classifies one path component [s, s + n): systemd writes a unit's cgroup name with
 * a '_' in front when the name could be mistaken for a kernel file (cg_escape()), so
 * that prefix is dropped first. Returns 1 for a slice, 2 for a unit that can hold
 * processes, 0 for anything else; *ret_s and *ret_n give the unescaped name. */
static int classify_component(const char *s, size_t n, const char **ret_s, size_t *ret_n)
{
        if (n > 0 && s[0] == '_') {
                s++;
                n--;
        }
        *ret_s = s;
        *ret_n = n;
        if (n == 0 || n > PROC_UNIT_MAX - 1 || !unit_chars_valid(s, n))
                return 0;
        if (ends_with(s, n, ".slice"))
                return 1;
        for (size_t i = 0; i < ELEMENTSOF(process_unit_suffixes); i++)
                if (ends_with(s, n, process_unit_suffixes[i]))
                        return 2;
        return 0;
}

/* The next component of the path at *p (skipping '/'), or false at the end. */
static bool next_component(const char **p, const char **ret_s, size_t *ret_n)
{
        const char *s = *p, *e;

        while (*s == '/')
                s++;
        if (!*s)
                return false;
        e = strchrnul(s, '/');
        *ret_s = s;
        *ret_n = (size_t)(e - s);
        *p = e;
        return true;
}

/* The first unit below any leading slices at *p, as systemd's cg_path_get_unit()
 * finds it; advances *p past it. Returns 0 or -ENOENT. */
static int first_unit(const char **p, const char **ret_s, size_t *ret_n)
{
        const char *s, *u;
        size_t n, un;

        while (next_component(p, &s, &n)) {
                int kind = classify_component(s, n, &u, &un);

                if (kind == 1)
                        continue;
                if (kind == 0)
                        return -ENOENT;
                *ret_s = u;
                *ret_n = un;
                return 0;
        }
        return -ENOENT;
}

static int copy_unit(const char *s, size_t n, char *ret_unit, size_t unitsz)
{
        if (n >= unitsz)
                return -ENAMETOOLONG;
        memcpy(ret_unit, s, n);
        ret_unit[n] = '\0';
        return 0;
}

/* Whether [s, s + n) is a user manager's unit, "user@UID.service". */
static bool is_user_manager(const char *s, size_t n)
{
        return n > strlen("user@.service") && memcmp(s, "user@", strlen("user@")) == 0 &&
               ends_with(s, n, ".service");
}

int proc_cgroup_system_unit(const char *path, char *ret_unit, size_t unitsz)
{
        const char *p = path, *s;
        size_t n;
        int r;

        if (!path || !ret_unit)
                return -EINVAL;
        r = first_unit(&p, &s, &n);
        if (r < 0)
                return r;
        return copy_unit(s, n, ret_unit, unitsz);
}

int proc_cgroup_unit(const char *path, char *ret_unit, size_t unitsz)
{
        const char *p = path, *s, *us;
        size_t n, un;
        int r;

        if (!path || !ret_unit)
                return -EINVAL;
        r = first_unit(&p, &s, &n);
        if (r < 0)
                return r;
        /* Inside a user manager, its own units (below its slices) are the answer, as
         * in systemd's cg_path_get_user_unit(). Below any other unit the cgroups are
         * the unit's own delegated business, named by the service itself: a
         * "/system.slice/foo.service/sshd.service" process belongs to foo.service. */
        if (is_user_manager(s, n) && first_unit(&p, &us, &un) == 0)
                return copy_unit(us, un, ret_unit, unitsz);
        return copy_unit(s, n, ret_unit, unitsz);
}

/* ---- cmdline ---- */

size_t proc_cmdline_join(const char *buf, size_t len, char *out, size_t outsz)
{
        size_t n;

        if (!out || outsz == 0)
                return 0;
        if (!buf)
                len = 0;
        /* Every argument ends in a NUL; a process that rewrote its arguments may leave
         * several at the end, and none of them is part of the text. */
        while (len > 0 && buf[len - 1] == '\0')
                len--;
        n = MIN(len, outsz - 1);
        for (size_t i = 0; i < n; i++)
                out[i] = buf[i] == '\0' ? ' ' : buf[i];
        out[n] = '\0';
        return n;
}

/* ---- limits ---- */

/* The soft limit on the line of /proc/PID/limits that starts with key. */
static int parse_limit(const char *buf, size_t len, const char *key, uint64_t *ret_soft)
{
        const char *end = buf + len, *p = buf, *eol;
        size_t klen = strlen(key);

        if (!buf)
                return -EINVAL;
        for (; p < end && (eol = line_end(p, end)); p = eol + 1) {
                uint64_t v;

                if (!starts_with(p, eol, key))
                        continue;
                /* The columns are "Limit  Soft  Hard  Units", padded with spaces. */
                p = skip_blank(p + klen, eol);
                if (starts_with(p, eol, "unlimited")) {
                        *ret_soft = UINT64_MAX;
                        return 0;
                }
                if (!scan_u64(&p, eol, &v) || (p < eol && *p != ' '))
                        return -EINVAL;
                *ret_soft = v;
                return 0;
        }
        return -ENOENT;
}

int proc_parse_limits_nofile(const char *buf, size_t len, uint64_t *ret_soft)
{
        return parse_limit(buf, len, "Max open files", ret_soft);
}

int proc_parse_limits(const char *buf, size_t len, struct proc_limits *ret)
{
        struct proc_limits l;
        int r;

        /* Each line must be there (every kernel since 2.6.24 writes them all). */
        r = parse_limit(buf, len, "Max address space", &l.as);
        if (r >= 0)
                r = parse_limit(buf, len, "Max data size", &l.data);
        if (r >= 0)
                r = parse_limit(buf, len, "Max open files", &l.nofile);
        if (r < 0)
                return r;
        *ret = l;
        return 0;
}

/* ---- readers ---- */

/* Opens a text file below dirfd for reading. O_NONBLOCK because a proc root that is not
 * procfs (a fixture, or a tree someone else can write) may hold a FIFO, whose open for
 * reading waits for a writer forever and would stall every process behind it; opened
 * non-blocking, its read fails (ESPIPE from pread) and the file counts as unreadable.
 * On procfs and on regular files the flag changes nothing. */
static int open_text(int dirfd, const char *name)
{
        return openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

int proc_root_open(const char *path)
{
        int fd;

        if (!path)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Terminates the n bytes read from offset 0 into buf; a full buffer (bufsz - 1 bytes)
 * is followed by a one-byte read to tell "exactly fits" from "cut". */
static ssize_t finish_read(int fd, char *buf, size_t bufsz, ssize_t n)
{
        ssize_t probe;
        char c;

        buf[n] = '\0';
        if ((size_t)n < bufsz - 1)
                return n;
        do
                probe = pread(fd, &c, 1, n);
        while (probe < 0 && errno == EINTR);
        if (probe < 0)
                return -errno;
        return probe > 0 ? -E2BIG : n;
}

/* Reads fd from offset 0 until the buffer is full or the file ends. */
static ssize_t read_whole(int fd, char *buf, size_t bufsz)
{
        ssize_t n = pread_full(fd, buf, bufsz - 1, 0);

        return n < 0 ? n : finish_read(fd, buf, bufsz, n);
}

ssize_t proc_read_file(int dirfd, const char *name, char *buf, size_t bufsz)
{
        _cleanup_close_ int fd = -1;

        if (!name || !buf || bufsz == 0)
                return -EINVAL;
        fd = open_text(dirfd, name);
        if (fd < 0)
                return -errno;
        return read_whole(fd, buf, bufsz);
}

ssize_t proc_pread(int fd, char *buf, size_t bufsz)
{
        ssize_t n;

        if (fd < 0 || !buf || bufsz == 0)
                return -EINVAL;
        /* One read, not read_whole()'s loop: stat and status are seq_files of a single
         * record, which the kernel formats whole and hands out in one read as far as
         * the buffer allows, so a shorter read is the end of the text. The loop's
         * second read, which only sees that end, was a quarter of the system calls of
         * a tick. A regular file (a fixture) ends at a short read as well. */
        do
                n = pread(fd, buf, bufsz - 1, 0);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        return finish_read(fd, buf, bufsz, n);
}

static bool on_procfs(int fd)
{
        struct statfs sfs;

        return fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC;
}

/* Under hidepid=invisible every lookup below the directory of a process we may not see
 * fails with ENOENT, as if nothing were there, while a reaped process gives ESRCH: an
 * ENOENT for stat, which every process has, is a refusal, not an absence. Returns r,
 * or -EACCES for an r of -ENOENT that is such a refusal. */
static int refusal_of(int piddir, int r)
{
        struct stat st;

        if (r == -ENOENT && fstatat(piddir, "stat", &st, 0) < 0 && errno == ENOENT && on_procfs(piddir))
                return -EACCES;
        return r;
}

bool proc_root_hides(int rootfd)
{
        struct stat st;

        /* PID 1 of the mount's namespace exists as long as the namespace does. */
        return on_procfs(rootfd) && fstatat(rootfd, "1", &st, 0) < 0 && errno == ENOENT;
}

bool proc_pid_hidden(int rootfd, pid_t pid)
{
        char name[PID_DIGITS_MAX + 2];
        struct stat st;

        if (pid <= 0)
                return false;
        snprintf(name, sizeof(name), "%d", (int)pid);
        if (fstatat(rootfd, name, &st, 0) == 0 || errno != ENOENT || !on_procfs(rootfd))
                return false;
        /* kill() with no signal checks only that the process exists: EPERM says it does. */
        return kill(pid, 0) == 0 || errno == EPERM;
}

int proc_files_open(int rootfd, pid_t pid, struct proc_files *ret)
{
        struct proc_files f = PROC_FILES_INIT;
        char name[PID_DIGITS_MAX + 2];
        int r;

        if (pid <= 0 || !ret)
                return -EINVAL;
        snprintf(name, sizeof(name), "%d", (int)pid);

        f.dir = openat(rootfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (f.dir < 0)
                return -errno;
        f.procfs = on_procfs(f.dir);
        f.stat = open_text(f.dir, "stat");
        if (f.stat < 0)
                goto fail;
        f.status = open_text(f.dir, "status");
        if (f.status < 0)
                goto fail;
        *ret = f;
        return 0;

fail:
        r = -errno;
        proc_files_close(&f);
        return r;
}

void proc_files_close(struct proc_files *f)
{
        if (!f)
                return;
        f->dir = safe_close(f->dir);
        f->stat = safe_close(f->stat);
        f->status = safe_close(f->status);
}

/* Counts the entries of the directory name below dirfd, "." and ".." excluded. */
static int count_entries(int dirfd, const char *name, uint64_t *ret_count)
{
        uint64_t n = 0;
        struct dirent *de;
        DIR *d;
        int fd, r = 0;

        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        for (;;) {
                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = errno ? -errno : 0;
                        break;
                }
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        }
        closedir(d);
        if (r < 0)
                return r;
        *ret_count = n;
        return 0;
}

/* procfs: 1 yes, 0 no, -1 unknown (then asked only when the answer matters). */
static int count_fds(int piddir, int procfs, uint64_t *ret_count)
{
        struct stat st;

        if (!ret_count)
                return -EINVAL;
        if (fstatat(piddir, "fd", &st, 0) < 0)
                return refusal_of(piddir, -errno);
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        /* Since Linux 6.2 procfs puts the number of descriptors in st_size; earlier
         * kernels say 0 there, and so does a process with none (a zombie), which the
         * count below also finds to be 0. Another file system (a fixture) has its own
         * idea of a directory's size, hence the check that this is procfs. */
        if (st.st_size > 0 && procfs < 0)
                procfs = on_procfs(piddir);
        if (st.st_size > 0 && procfs > 0) {
                *ret_count = (uint64_t)st.st_size;
                return 0;
        }
        return count_entries(piddir, "fd", ret_count);
}

int proc_count_fds(int piddir, uint64_t *ret_count)
{
        return count_fds(piddir, -1, ret_count);
}

int proc_files_count_fds(const struct proc_files *f, uint64_t *ret_count)
{
        if (!f)
                return -EINVAL;
        return count_fds(f->dir, f->procfs, ret_count);
}

/* Whether the process behind piddir still exists (perhaps as a zombie): once it is
 * reaped, lookups below the directory fail with ESRCH. Used to tell "no mm" from
 * "gone" when smaps_rollup refuses to open with ESRCH, which it does for both. */
static bool process_exists(int piddir)
{
        struct stat st;

        return fstatat(piddir, "stat", &st, 0) == 0;
}

int proc_read_rollup(int piddir, char *buf, size_t bufsz, struct proc_rollup *ret)
{
        ssize_t n;

        if (!buf || bufsz == 0 || !ret)
                return -EINVAL;
        n = proc_read_file(piddir, "smaps_rollup", buf, bufsz);
        if (n == -ESRCH)
                return process_exists(piddir) ? -ENODATA : -ESRCH;
        if (n < 0)
                return refusal_of(piddir, (int)n);
        return proc_parse_smaps_rollup(buf, (size_t)n, ret);
}

/* The process's start_brk for the heap search, 0 if unknown; -ENODATA for a process
 * without memory, -ESRCH if it is gone. */
static int heap_hint(int piddir, uint64_t *ret_start_brk)
{
        char buf[STAT_BUF];
        struct proc_stat st;
        ssize_t n;

        *ret_start_brk = 0;
        n = proc_read_file(piddir, "stat", buf, sizeof(buf));
        if (n == -ESRCH)
                return -ESRCH;
        if (n < 0 || proc_parse_stat(buf, (size_t)n, &st) < 0)
                return 0;       /* the search still works, only without an early end */
        if (proc_stat_is_kthread(&st) || proc_stat_is_zombie(&st))
                return -ENODATA;
        /* 0 too when the kernel hides it: without ptrace access it prints 0. */
        *ret_start_brk = st.start_brk;
        return 0;
}

int proc_read_heap(int piddir, char *buf, size_t bufsz, struct proc_heap *ret)
{
        _cleanup_close_ int fd = -1;
        size_t used = 0, resume = 0;
        uint64_t start_brk;
        int r;

        if (!buf || bufsz == 0 || !ret)
                return -EINVAL;
        r = heap_hint(piddir, &start_brk);
        if (r < 0)
                return r;

        fd = open_text(piddir, "smaps");
        if (fd < 0) {
                r = -errno;
                return r == -ESRCH && process_exists(piddir) ? -ENODATA : refusal_of(piddir, r);
        }

        for (;;) {
                size_t adv = 0;
                ssize_t n;

                if (used == bufsz)
                        return -E2BIG;  /* undecided within the bound */
                do
                        n = read(fd, buf + used, MIN(bufsz - used, (size_t)SMAPS_CHUNK));
                while (n < 0 && errno == EINTR);
                if (n < 0)
                        return -errno;
                used += (size_t)n;
                r = heap_scan(buf + resume, used - resume, n == 0, start_brk, ret, &adv);
                if (r != -EAGAIN)
                        return r;
                resume += adv;
        }
}

/* boot_id is "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
static bool uuid_valid(const char *s)
{
        for (size_t i = 0; i < PROC_BOOT_ID_LEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : hex_value(s[i]) < 0)
                        return false;
        }
        return true;
}

int proc_read_boot_id(int rootfd, char *ret, size_t retsz)
{
        /* The id, its newline, the terminator, and one byte to spot a longer file. */
        char buf[PROC_BOOT_ID_LEN + 3];
        ssize_t n;

        if (!ret || retsz < PROC_BOOT_ID_LEN + 1)
                return -EINVAL;
        n = proc_read_file(rootfd, "sys/kernel/random/boot_id", buf, sizeof(buf));
        if (n == -E2BIG)
                return -EINVAL;
        if (n < 0)
                return (int)n;
        if (n != PROC_BOOT_ID_LEN + 1 || buf[PROC_BOOT_ID_LEN] != '\n' || !uuid_valid(buf))
                return -EINVAL;
        memcpy(ret, buf, PROC_BOOT_ID_LEN);
        ret[PROC_BOOT_ID_LEN] = '\0';
        return 0;
}

/* The PID a /proc entry name stands for, or 0 if it is not one. */
static pid_t pid_from_name(const char *s)
{
        uint64_t v = 0;
        size_t i;

        for (i = 0; is_digit(s[i]); i++) {
                if (i >= PID_DIGITS_MAX)
                        return 0;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (i == 0 || s[i] != '\0' || v > INT_MAX)
                return 0;
        return (pid_t)v;
}

ssize_t proc_list_pids(int rootfd, pid_t **pids, size_t *cap)
{
        struct dirent *de;
        size_t count = 0;
        DIR *d;
        int fd, r = 0;

        if (!pids || !cap)
                return -EINVAL;
        /* A directory of our own: the caller's rootfd keeps its offset, and reading
         * needs a real descriptor where rootfd might not be one. */
        fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        for (;;) {
                pid_t pid;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        r = errno ? -errno : 0;
                        break;
                }
                pid = pid_from_name(de->d_name);
                if (pid == 0)
                        continue;
                if (count == *cap) {
                        size_t ncap = *cap ? *cap * 2 : PIDS_INITIAL_CAP;
                        pid_t *np;

                        if (ncap < *cap || ncap > SIZE_MAX / sizeof(pid_t)) {
                                r = -ENOMEM;
                                break;
                        }
                        np = realloc(*pids, ncap * sizeof(pid_t));
                        if (!np) {
                                r = -ENOMEM;
                                break;
                        }
                        *pids = np;
                        *cap = ncap;
                }
                (*pids)[count++] = pid;
        }
        closedir(d);
        return r < 0 ? r : (ssize_t)count;
}

enum unknown_reason proc_errno_reason(int negative_errno)
{
        switch (negative_errno) {
        case 0:
                return UNK_NONE;
        case -EACCES:
        case -EPERM:
                return UNK_DENIED;
        case -ESRCH:
        case -ENOENT:
                return UNK_GONE;
        case -ENODATA:
                /* No mm: a kernel thread or a zombie, and the sampler has set kernel
                 * threads aside by their stat flags before it reads memory, so what is
                 * left is a process that exited (or is exiting) since. A caller with a
                 * stat at hand should prefer proc_stat_is_kthread(). */
                return UNK_ZOMBIE;
        default:
                return UNK_ERROR;
        }
}
