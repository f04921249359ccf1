/* SPDX-License-Identifier: GPL-2.0-or-later */
/* taskiter: the records the BPF task iterator (taskiter.bpf.c) writes, one read() of
 * its stream per tick: the contract between the program in the kernel and bpfread.c.
 *
 * Every task on the host gives one record. A thread group's leader gives a whole
 * struct taskiter_proc; every other thread only the head (struct taskiter_thread),
 * whose faults are added to its process's, as /proc/PID/stat adds them. */
#ifndef LEAKWATCH_TASKITER_H
#define LEAKWATCH_TASKITER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum {
        TASKITER_PROC = 1,              /* a thread group leader: a struct taskiter_proc */
        TASKITER_THREAD = 2,            /* any other thread: a struct taskiter_thread */
};

/* The flags of a struct taskiter_proc. */
enum {
        TASKITER_KTHREAD = 1 << 0,      /* PF_KTHREAD: no memory of its own */
        TASKITER_ZOMBIE = 1 << 1,       /* the leader has exited (exit_state set) */
        TASKITER_NOMM = 1 << 2,         /* no mm: the counters and sizes are absent */
        TASKITER_FDS = 1 << 3,          /* nfds was counted */
};

/* The counters of mm->rss_stat, in the kernel's order (enum mm counter, MM_*). */
enum {
        TASKITER_FILE, TASKITER_ANON, TASKITER_SWAP, TASKITER_SHMEM, TASKITER__RSS
};

struct taskiter_thread {
        __u32 kind;                     /* TASKITER_THREAD */
        __u32 tgid;                     /* its process (the leader's PID) */
        __u64 min_flt, maj_flt;         /* this thread's */
};

struct taskiter_proc {
        __u32 kind;                     /* TASKITER_PROC */
        __u32 tgid;
        __u64 min_flt, maj_flt;         /* the leader's, plus the exited threads' (signal) */
        __u32 ppid;                     /* real_parent's tgid, as /proc says it */
        __u32 euid;                     /* effective uid of real_cred, /proc's second Uid */
        __u32 nr_threads;
        __u32 flags;                    /* TASKITER_* */
        __u64 start_ns;                 /* start_boottime: ns since boot */
        __u64 cgroup_id;                /* the cgroup v2 directory's inode (kernfs id) */
        __s64 rss[TASKITER__RSS];       /* pages, the percpu counters' global count */
        __u64 total_vm, data_vm;        /* pages */
        __u64 nfds;                     /* open descriptors, if TASKITER_FDS */
        __u64 nofile;                   /* RLIMIT_NOFILE's soft limit (signal->rlim), what
                                         * /proc/PID/limits says; ~0: unlimited */
        char comm[16];                  /* TASK_COMM_LEN */
};

#endif
