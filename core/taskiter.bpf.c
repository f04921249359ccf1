// SPDX-License-Identifier: GPL-2.0-or-later
/* taskiter: a BPF task iterator that writes, for every task on the host, the counters
 * the sampler's tick needs (taskiter.h) into one stream read once per tick.
 *
 * It only reads: the program is of type tracing (iter/task). It loads fields through
 * the task pointer the iterator hands it (the verifier turns each load through a kernel
 * pointer into a fault-safe read, like bpf_probe_read_kernel but without the call),
 * copies the descriptor bitmap with bpf_probe_read_kernel and appends its records to
 * the iterator's seq_file (bpf_seq_write). It has no map, writes no kernel memory and
 * sends no signal; the verifier refuses any store through a pointer it did not hand out
 * itself.
 *
 * Built with CO-RE against the build machine's BTF: field offsets are relocated to the
 * running kernel when libbpf loads it. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "taskiter.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000           /* include/linux/sched.h */
#define TASKITER_RLIMIT_NOFILE 7        /* RLIMIT_NOFILE, include/uapi/asm-generic/resource.h */
/* Descriptor bitmaps longer than this many words (64 Ki words: 4 Mi descriptors) are
 * not counted: the pass must stay bounded whatever one process does. */
#define FD_WORDS_MAX (1 << 16)

/* Before Linux 6.2 the counters were atomics in struct mm_rss_stat. */
struct mm_rss_stat___old {
        atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___old {
        struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

static __always_inline __u64 popcount64(__u64 x)
{
        x = x - ((x >> 1) & 0x5555555555555555ULL);
        x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
        x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
        return (x * 0x0101010101010101ULL) >> 56;
}

struct fd_count {
        const unsigned long *open_fds;
        __u64 n;
};

static long count_word(__u64 i, void *ctx)
{
        struct fd_count *c = ctx;
        unsigned long w = 0;

        if (bpf_probe_read_kernel(&w, sizeof(w), c->open_fds + i) < 0)
                return 1;
        c->n += popcount64(w);
        return 0;
}

/* What proc_fd_getattr() reports as the size of /proc/PID/fd: the bits set in the
 * open_fds bitmap of the descriptor table. */
static __always_inline int count_fds(struct task_struct *task, __u64 *ret)
{
        struct files_struct *files = task->files;
        struct fdtable *fdt;
        struct fd_count c = { 0 };
        unsigned int max;

        if (!files)
                return -1;
        fdt = files->fdt;
        if (!fdt)
                return -1;
        max = fdt->max_fds;
        c.open_fds = fdt->open_fds;
        if (!c.open_fds || max / 64 > FD_WORDS_MAX)
                return -1;
        bpf_loop(max / 64, count_word, &c, 0);
        *ret = c.n;
        return 0;
}

static __always_inline void read_mm(struct mm_struct *mm, struct taskiter_proc *p)
{
        if (bpf_core_type_exists(struct mm_rss_stat___old)) {
                struct mm_struct___old *old = (void *)mm;

                for (int i = 0; i < TASKITER__RSS; i++)
                        p->rss[i] = BPF_CORE_READ(old, rss_stat.count[i].counter);
        } else {
                /* The global count of each percpu_counter, as get_mm_counter() reads it:
                 * what each CPU has not yet folded in is left out (docs/bpf.md). */
                for (int i = 0; i < TASKITER__RSS; i++)
                        p->rss[i] = mm->rss_stat[i].count;
        }
        p->total_vm = mm->total_vm;
        p->data_vm = mm->data_vm;
}

SEC("iter/task")
int taskiter(struct bpf_iter__task *ctx)
{
        struct seq_file *seq = ctx->meta->seq;
        struct task_struct *task = ctx->task;
        struct taskiter_proc p = { 0 };
        struct signal_struct *sig;
        struct mm_struct *mm;

        if (!task)
                return 0;
        p.tgid = task->tgid;
        p.min_flt = task->min_flt;
        p.maj_flt = task->maj_flt;
        if (task->pid != task->tgid) {
                p.kind = TASKITER_THREAD;
                bpf_seq_write(seq, &p, sizeof(struct taskiter_thread));
                return 0;
        }
        p.kind = TASKITER_PROC;
        sig = task->signal;
        p.min_flt += sig->min_flt;
        p.maj_flt += sig->maj_flt;
        p.nr_threads = sig->nr_threads;
        /* Read without the task's lock, as a word: a limit being changed gives the old
         * value or the new one. */
        p.nofile = sig->rlim[TASKITER_RLIMIT_NOFILE].rlim_cur;
        p.ppid = task->real_parent->tgid;
        p.euid = task->real_cred->euid.val;
        p.start_ns = task->start_boottime;
        p.cgroup_id = task->cgroups->dfl_cgrp->kn->id;
        __builtin_memcpy(p.comm, task->comm, sizeof(p.comm));
        if (task->flags & PF_KTHREAD)
                p.flags |= TASKITER_KTHREAD;
        if (task->exit_state)
                p.flags |= TASKITER_ZOMBIE;
        mm = task->mm;
        if (mm && !(p.flags & TASKITER_KTHREAD))
                read_mm(mm, &p);
        else
                p.flags |= TASKITER_NOMM;
        if (count_fds(task, &p.nfds) == 0)
                p.flags |= TASKITER_FDS;
        bpf_seq_write(seq, &p, sizeof(p));
        return 0;
}
