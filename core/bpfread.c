/* SPDX-License-Identifier: GPL-2.0-or-later */
/* bpfread: every process on the host in one read of a BPF task iterator. */
#include "bpfread.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* PF_KTHREAD (include/linux/sched.h), as /proc/PID/stat's flags field carries it. */
#define PF_KTHREAD_FLAG 0x00200000u

#if LEAKWATCH_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "taskiter.skel.h"

/* The initial PID namespace's inode (PROC_PID_INIT_INO, include/linux/proc_ns.h). The
 * iterator walks the PIDs of the namespace of whoever reads it, but its records carry
 * the task's tgid as the initial namespace numbers it; the two agree only there. */
#define PID_NS_INIT_INO 0xEFFFFFFCu
/* A read of the stream asks for this much at least: the kernel fills the iterator's
 * seq_file a page at a time and hands out as much as fits. */
#define READ_CHUNK (64 * 1024)
/* The running kernel's BTF, which CO-RE relocates the program against. */
#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

struct bpfread {
        struct taskiter *skel;
        struct bpf_link *link;
        char *buf;                      /* the last pass's stream */
        size_t buf_cap;
        struct taskiter_proc *procs;    /* its processes, by ascending tgid */
        uint32_t *tgids;                /* theirs, side by side: the search for a PID
                                         * touches 4 bytes a step, not a record of 120
                                         * (10,000 of them, 40 KiB, stay in the cache) */
        size_t n_procs, cap_procs;
        struct bpfread_stats stats;
};

/* libbpf explains its failures on stderr; library code does not log, and the caller
 * reports the -errno it gets. */
static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        (void)level;
        (void)fmt;
        (void)ap;
        return 0;
}

static int in_initial_pid_ns(void)
{
        struct stat st;

        if (stat("/proc/self/ns/pid", &st) < 0)
                return -errno;
        return st.st_ino == PID_NS_INIT_INO;
}

int bpfread_new(struct bpfread **ret)
{
        struct bpfread *b;
        int r;

        r = in_initial_pid_ns();
        if (r < 0)
                return r;
        if (r == 0)
                return -EXDEV;
        /* CO-RE relocates against the running kernel's BTF: without it nothing loads. */
        if (access(VMLINUX_BTF, R_OK) < 0)
                return -ENOENT;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        libbpf_set_print(quiet);
        /* Naming the kernel's own BTF keeps libbpf from looking through the modules'
         * BTF as well (for the Linux 6.1 type the program also knows), which takes
         * CAP_SYS_ADMIN (BPF_BTF_GET_NEXT_ID): CAP_BPF and CAP_PERFMON are enough. */
        b->skel = taskiter__open_opts(&(struct bpf_object_open_opts){
                .sz = sizeof(struct bpf_object_open_opts), .btf_custom_path = VMLINUX_BTF });
        if (!b->skel) {
                r = -errno;
                goto fail;
        }
        r = taskiter__load(b->skel);
        if (r < 0)
                goto fail;
        b->link = bpf_program__attach_iter(b->skel->progs.taskiter, NULL);
        if (!b->link) {
                r = -errno;
                goto fail;
        }
        *ret = b;
        return 0;
fail:
        bpfread_free(b);
        /* A kernel that does not know the program type or a helper says EINVAL or
         * ENOTSUPP (524) at load; both mean "no task iterator here". */
        return r == -EINVAL || r == -524 ? -ENOENT : (r < 0 ? r : -EIO);
}

void bpfread_free(struct bpfread *b)
{
        if (!b)
                return;
        bpf_link__destroy(b->link);
        taskiter__destroy(b->skel);
        free(b->buf);
        free(b->procs);
        free(b->tgids);
        free(b);
}

/* Reads the whole stream of a new iterator into b->buf; returns its length or -errno. */
static ssize_t read_stream(struct bpfread *b)
{
        size_t len = 0;
        int fd;

        fd = bpf_iter_create(bpf_link__fd(b->link));
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (b->buf_cap - len < READ_CHUNK) {
                        size_t cap = b->buf_cap ? b->buf_cap * 2 : 4 * READ_CHUNK;
                        char *nb = realloc(b->buf, cap);

                        if (!nb) {
                                close(fd);
                                return -ENOMEM;
                        }
                        b->buf = nb;
                        b->buf_cap = cap;
                }
                n = read(fd, b->buf + len, b->buf_cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int k = -errno;

                        close(fd);
                        return k;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        close(fd);
        return (ssize_t)len;
}

static int cmp_tgid(const void *a, const void *b)
{
        uint32_t x = ((const struct taskiter_proc *)a)->tgid, y = ((const struct taskiter_proc *)b)->tgid;

        return x < y ? -1 : x > y;
}

/* The tick looks up every watched process, in no order of PIDs: a binary search over
 * the compact tgids, without a call per step. */
static struct taskiter_proc *find(const struct bpfread *b, uint32_t tgid)
{
        size_t lo = 0, len = b->n_procs;

        if (len == 0)
                return NULL;
        while (len > 1) {
                size_t half = len / 2;

                if (b->tgids[lo + half - 1] < tgid)
                        lo += half;
                len -= half;
        }
        return b->tgids[lo] == tgid ? &b->procs[lo] : NULL;
}

/* Splits the stream into processes, then adds each other thread's faults to its
 * process's. A record cut short (the stream cannot end mid-record, but a kernel with
 * another idea of the layout could) fails the pass rather than misreading it. */
static int index_stream(struct bpfread *b, size_t len)
{
        size_t off = 0, tasks = 0;
        bool sorted = true;

        b->n_procs = 0;
        while (off < len) {
                uint32_t kind;

                if (len - off < sizeof(struct taskiter_thread))
                        return -EBADMSG;
                memcpy(&kind, b->buf + off, sizeof(kind));
                tasks++;
                if (kind == TASKITER_THREAD) {
                        off += sizeof(struct taskiter_thread);
                        continue;
                }
                if (kind != TASKITER_PROC || len - off < sizeof(struct taskiter_proc))
                        return -EBADMSG;
                if (b->n_procs == b->cap_procs) {
                        size_t cap = b->cap_procs ? b->cap_procs * 2 : 1024;
                        struct taskiter_proc *np = realloc(b->procs, cap * sizeof(*np));
                        uint32_t *nt;

                        if (!np)
                                return -ENOMEM;
                        b->procs = np;
                        nt = realloc(b->tgids, cap * sizeof(*nt));
                        if (!nt)
                                return -ENOMEM;
                        b->tgids = nt;
                        b->cap_procs = cap;
                }
                memcpy(&b->procs[b->n_procs], b->buf + off, sizeof(struct taskiter_proc));
                if (b->n_procs > 0 && b->procs[b->n_procs - 1].tgid >= b->procs[b->n_procs].tgid)
                        sorted = false;
                b->n_procs++;
                off += sizeof(struct taskiter_proc);
        }
        /* The iterator walks PIDs in ascending order; sort anyway if it ever does not. */
        if (!sorted)
                qsort(b->procs, b->n_procs, sizeof(*b->procs), cmp_tgid);
        for (size_t i = 0; i < b->n_procs; i++)
                b->tgids[i] = b->procs[i].tgid;
        for (off = 0; off < len;) {
                struct taskiter_thread t;
                struct taskiter_proc *p;

                memcpy(&t, b->buf + off, sizeof(t));
                if (t.kind != TASKITER_THREAD) {
                        off += sizeof(struct taskiter_proc);
                        continue;
                }
                off += sizeof(t);
                /* A thread whose leader was not listed: its process exited or began
                 * while the pass went by; the process is not in this pass anyway. */
                p = find(b, t.tgid);
                if (p) {
                        p->min_flt += t.min_flt;
                        p->maj_flt += t.maj_flt;
                }
        }
        b->stats.last_tasks = tasks;
        b->stats.last_procs = b->n_procs;
        return 0;
}

int bpfread_pass(struct bpfread *b)
{
        ssize_t n;
        int r;

        n = read_stream(b);
        r = n < 0 ? (int)n : index_stream(b, (size_t)n);
        if (r < 0) {
                b->n_procs = 0;
                b->stats.pass_errors++;
                return r;
        }
        b->stats.passes++;
        return 0;
}

const struct taskiter_proc *bpfread_find(const struct bpfread *b, pid_t pid)
{
        return pid > 0 ? find(b, (uint32_t)pid) : NULL;
}

size_t bpfread_count(const struct bpfread *b)
{
        return b->n_procs;
}

const struct taskiter_proc *bpfread_at(const struct bpfread *b, size_t i)
{
        return i < b->n_procs ? &b->procs[i] : NULL;
}

void bpfread_get_stats(const struct bpfread *b, struct bpfread_stats *ret)
{
        *ret = b->stats;
}

#else /* built without BPF (make BPF=0) */

int bpfread_new(struct bpfread **ret)
{
        (void)ret;
        return -ENOTSUP;
}

void bpfread_free(struct bpfread *b)
{
        (void)b;
}

int bpfread_pass(struct bpfread *b)
{
        (void)b;
        return -ENOTSUP;
}

const struct taskiter_proc *bpfread_find(const struct bpfread *b, pid_t pid)
{
        (void)b;
        (void)pid;
        return NULL;
}

size_t bpfread_count(const struct bpfread *b)
{
        (void)b;
        return 0;
}

const struct taskiter_proc *bpfread_at(const struct bpfread *b, size_t i)
{
        (void)b;
        (void)i;
        return NULL;
}

void bpfread_get_stats(const struct bpfread *b, struct bpfread_stats *ret)
{
        (void)b;
        *ret = (struct bpfread_stats){ 0 };
}

#endif

void bpfread_stat(const struct taskiter_proc *p, long hz, struct proc_stat *ret)
{
        *ret = (struct proc_stat){
                .state = (p->flags & TASKITER_ZOMBIE) ? 'Z' : 'S',
                .ppid = (pid_t)p->ppid,
                .flags = (p->flags & TASKITER_KTHREAD) ? PF_KTHREAD_FLAG : 0,
                .minflt = p->min_flt,
                .majflt = p->maj_flt,
                .num_threads = p->nr_threads,
                .starttime = bpfread_start_ticks(p, hz),
                .vsize = 0,
                .rss_pages = (p->flags & TASKITER_NOMM) ? 0 :
                             p->rss[TASKITER_FILE] + p->rss[TASKITER_ANON] + p->rss[TASKITER_SHMEM],
        };
        /* comm as the kernel keeps it: at most 15 bytes and a NUL, whatever the record holds. */
        memcpy(ret->comm, p->comm, MIN(sizeof(p->comm), sizeof(ret->comm)));
        ret->comm[MIN(sizeof(p->comm), sizeof(ret->comm)) - 1] = '\0';
}

uint64_t bpfread_start_ticks(const struct taskiter_proc *p, long hz)
{
        /* nsec_to_clock_t(): a division by NSEC_PER_SEC / USER_HZ, which is exact for the
         * USER_HZ of every architecture (100, 250, 1000...). */
        return hz > 0 ? p->start_ns / (UINT64_C(1000000000) / (uint64_t)hz) : 0;
}
