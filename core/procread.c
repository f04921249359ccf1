/* SPDX-License-Identifier: GPL-2.0-or-later */
/* procread: reading a watched process from /proc, through descriptors kept open. */
#include "procread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budget.h"

/* After the fd directory refused us (another user's process without
 * CAP_DAC_READ_SEARCH), try again this much later rather than every tick: the answer
 * changes only if the process changes credentials. */
#define FDS_RETRY_USEC (60 * USEC_PER_SEC)
/* Scratch space for one /proc read. status is ~1.5 KiB, smaps_rollup ~1 KiB; the smaps
 * prefix that holds the heap record is bounded by this too (the heap follows the
 * executable's few mappings, well inside 64 KiB of smaps text). */
#define SCRATCH_SIZE (64 * 1024)

struct procread {
        int proc_root;
        char *buf;
        usec_t (*cpu_clock)(void);
        struct budget smaps_budget;     /* CPU share smaps reads may take */
        bool configured;
        usec_t smaps_min, smaps_max;    /* per process: at most, at least this often */
        struct bpfread *pass;           /* NULL: /proc only */
        bool pass_ok;                   /* this tick's pass was read */
        usec_t pass_mono;               /* the tick it was read for */
        long hz;
        uint64_t page_size;
        struct procread_stats stats;
};

int procread_new(int proc_root, usec_t (*cpu_clock)(void), struct procread **ret)
{
        struct procread *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        r->buf = malloc(SCRATCH_SIZE);
        if (!r->buf) {
                free(r);
                return -ENOMEM;
        }
        r->proc_root = proc_root;
        r->cpu_clock = cpu_clock;
        r->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
        *ret = r;
        return 0;
}

void procread_free(struct procread *r)
{
        if (!r)
                return;
        free(r->buf);
        free(r);
}

void procread_use_pass(struct procread *r, struct bpfread *b, long hz)
{
        r->pass = b;
        r->hz = hz;
        r->pass_ok = false;
}

int procread_begin_tick(struct procread *r, usec_t mono)
{
        int k;

        if (!r->pass || (r->pass_ok && r->pass_mono == mono))
                return 0;
        k = bpfread_pass(r->pass);
        r->pass_ok = k == 0;
        r->pass_mono = mono;
        if (k < 0)
                r->stats.pass_errors++;
        return k;
}

const struct bpfread *procread_pass(const struct procread *r, usec_t mono)
{
        return r->pass && r->pass_ok && r->pass_mono == mono ? r->pass : NULL;
}

void procread_configure(struct procread *r, const struct config *cfg)
{
        /* The bucket holds what the share earns between two smaps ticks: a quiet
         * stretch cannot bank more than one round of reads. */
        double burst = cfg->smaps_budget * cfg->interval * (cfg->smaps_every ? cfg->smaps_every : 1) *
                       (double)USEC_PER_SEC;

        if (!r->configured)
                budget_init(&r->smaps_budget, cfg->smaps_budget, burst, 0);
        else
                budget_set(&r->smaps_budget, cfg->smaps_budget, burst);
        r->configured = true;
        r->smaps_min = (usec_t)(cfg->smaps_min_interval * (double)USEC_PER_SEC);
        r->smaps_max = (usec_t)(cfg->smaps_max_interval * (double)USEC_PER_SEC);
}

/* The pid directory of pid, if it holds the process that started at start_ticks: the
 * PID may have been reused since the scan (or the pass) saw it, and only the start time
 * read through the new descriptor proves which process it holds. Returns the
 * descriptor, -ESRCH (another process, or none), or the -errno of opening. */
static int open_checked(struct procread *r, pid_t pid, uint64_t start_ticks)
{
        struct proc_stat st;
        char name[32];
        ssize_t n;
        int dir;

        snprintf(name, sizeof(name), "%d", (int)pid);
        dir = openat(r->proc_root, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        n = proc_read_file(dir, "stat", r->buf, SCRATCH_SIZE);
        if (n <= 0 || proc_parse_stat(r->buf, (size_t)n, &st) < 0 || st.starttime != start_ticks) {
                close(dir);
                return -ESRCH;
        }
        return dir;
}

int procread_open(struct procread *r, pid_t pid, uint64_t start_ticks, usec_t mono, struct procread_proc *ret)
{
        struct proc_files files = PROC_FILES_INIT;
        struct proc_stat st;
        ssize_t n;
        int k;

        if (r->pass) {
                /* The pass has every counter and proves the process's identity at each
                 * tick by its start time: nothing is kept open. What is read through
                 * /proc (smaps, the command line, the rare process the pass missed)
                 * opens the pid directory then and checks its start time again. */
                *ret = (struct procread_proc){ .files = files, .pid = pid, .start_ticks = start_ticks,
                                               .last_rollup = mono };
                return 0;
        }
        k = proc_files_open(r->proc_root, pid, &files);
        if (k < 0)
                return k;
        /* The PID may have been reused between the scan's read and this open: only the
         * start time read through the new descriptors proves which process they hold. */
        n = proc_pread(files.stat, r->buf, SCRATCH_SIZE);
        if (n <= 0 || proc_parse_stat(r->buf, (size_t)n, &st) < 0 || st.starttime != start_ticks) {
                proc_files_close(&files);
                return -ESRCH;
        }
        /* Not yet read: rollup_read is false, so its smaps are due now. */
        *ret = (struct procread_proc){ .files = files, .pid = pid, .start_ticks = start_ticks, .last_rollup = mono };
        memcpy(ret->comm, st.comm, sizeof(ret->comm));
        return 0;
}

void procread_close(struct procread_proc *pp)
{
        proc_files_close(&pp->files);
}

int procread_dir(struct procread *r, const struct procread_proc *pp)
{
        return pp->files.dir >= 0 ? pp->files.dir : open_checked(r, pp->pid, pp->start_ticks);
}

void procread_dir_done(const struct procread_proc *pp, int dir)
{
        if (dir >= 0 && dir != pp->files.dir)
                close(dir);
}

/* ---- one sample ---- */

static void sample_status(struct sample *smp, const struct proc_status *st, bool kthread)
{
        static const struct {
                enum proc_status_field f;
                enum metric m;
        } map[] = {
                { PS_VMRSS, M_RSS }, { PS_RSSANON, M_ANON }, { PS_RSSFILE, M_FILE },
                { PS_RSSSHMEM, M_SHMEM }, { PS_VMSWAP, M_SWAP }, { PS_VMDATA, M_DATA },
                { PS_VMSIZE, M_VSIZE },
        };
        const uint64_t *kb[] = {
                [PS_VMRSS] = &st->vmrss_kb, [PS_RSSANON] = &st->rssanon_kb, [PS_RSSFILE] = &st->rssfile_kb,
                [PS_RSSSHMEM] = &st->rssshmem_kb, [PS_VMSWAP] = &st->vmswap_kb, [PS_VMDATA] = &st->vmdata_kb,
                [PS_VMSIZE] = &st->vmsize_kb,
        };
        bool missing = false;

        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                if (st->have & (1u << map[i].f))
                        sample_set(smp, map[i].m, (int64_t)(*kb[map[i].f] * 1024));
                else
                        missing = true;
        }
        if (st->have & (1u << PS_THREADS))
                sample_set(smp, M_THREADS, st->threads);
        else
                missing = true;
        if (missing)
                smp->why[G_STATUS] = kthread ? UNK_KTHREAD : UNK_ABSENT;
}

static void sample_rollup(struct procread *r, struct procread_proc *pp, int dir, struct sample *smp, usec_t mono)
{
        struct proc_rollup ru;
        struct proc_heap heap;
        int k;

        pp->last_rollup = mono;
        pp->rollup_read = true;
        r->stats.rollups++;
        if (dir < 0) {
                /* It exited (or its PID is another's) since the pass listed it. */
                sample_set_unknown(smp, G_SMAPS, proc_errno_reason(dir));
                sample_set_unknown(smp, G_HEAP, proc_errno_reason(dir));
                return;
        }
        k = proc_read_rollup(dir, r->buf, SCRATCH_SIZE, &ru);
        if (k == 0) {
                /* Trust only fields the kernel printed: a missing one stays unknown
                 * (libproc2 would report it as 0). */
                if (ru.have & (1u << PR_PSS))
                        sample_set(smp, M_PSS, (int64_t)ru.kb[PR_PSS] * 1024);
                if ((ru.have & (1u << PR_PRIVATE_CLEAN)) && (ru.have & (1u << PR_PRIVATE_DIRTY)))
                        sample_set(smp, M_USS, (int64_t)(ru.kb[PR_PRIVATE_CLEAN] + ru.kb[PR_PRIVATE_DIRTY]) * 1024);
                if (ru.have & (1u << PR_PSS_ANON))
                        sample_set(smp, M_PSS_ANON, (int64_t)ru.kb[PR_PSS_ANON] * 1024);
                if (ru.have & (1u << PR_SWAP_PSS))
                        sample_set(smp, M_SWAP_PSS, (int64_t)ru.kb[PR_SWAP_PSS] * 1024);
                if ((ru.have & 0xf) != 0xf)
                        smp->why[G_SMAPS] = UNK_ABSENT;
        } else {
                sample_set_unknown(smp, G_SMAPS, proc_errno_reason(k));
        }
        k = proc_read_heap(dir, r->buf, SCRATCH_SIZE, &heap);
        if (k == 0) {
                sample_set(smp, M_HEAP_SIZE, (int64_t)heap.size_kb * 1024);
                sample_set(smp, M_HEAP_RSS, (int64_t)heap.rss_kb * 1024);
        } else {
                sample_set_unknown(smp, G_HEAP, k == -ENOENT ? UNK_ABSENT : proc_errno_reason(k));
        }
}

/* Whether a process's smaps are due: at most every smaps-min-interval, at least every
 * smaps-max-interval, and in between when the detector has its eye on it. */
static bool rollup_due(const struct procread *r, const struct procread_proc *pp, usec_t mono,
                       bool (*attention)(void *userdata), void *userdata)
{
        usec_t since = mono - pp->last_rollup;

        if (!pp->rollup_read)
                return true;
        if (since < r->smaps_min)
                return false;
        if (since >= r->smaps_max)
                return true;
        return attention && attention(userdata);
}

static usec_t cpu_now(const struct procread *r)
{
        return r->cpu_clock ? r->cpu_clock() : now_usec(CLOCK_THREAD_CPUTIME_ID);
}

/* Reads smaps if due and the budget allows; returns false if the budget said no. */
static bool maybe_rollup(struct procread *r, struct procread_proc *pp, int dir, struct sample *smp, usec_t mono,
                         bool kthread, bool (*attention)(void *userdata), void *userdata)
{
        enum unknown_reason why = kthread ? UNK_KTHREAD : UNK_SKIPPED;
        bool allowed = true;

        if (!kthread && rollup_due(r, pp, mono, attention, userdata)) {
                allowed = budget_allow(&r->smaps_budget, mono);
                if (allowed) {
                        usec_t c0 = cpu_now(r);
                        /* With a pass nothing is kept open: the directory is opened
                         * (its start time checked) for these reads, and charged to them. */
                        int d = dir >= 0 ? dir : procread_dir(r, pp);

                        sample_rollup(r, pp, d, smp, mono);
                        if (d != dir)
                                procread_dir_done(pp, d);
                        budget_spend(&r->smaps_budget, cpu_now(r) - c0);
                        return true;
                }
                r->stats.rollups_over_budget++;
        }
        r->stats.rollups_skipped++;
        sample_set_unknown(smp, G_SMAPS, why);
        sample_set_unknown(smp, G_HEAP, why);
        return allowed;
}

/* A kept file's text, or, when it is not kept (a pass reads the counters), the file
 * read relative to the pid directory. */
static ssize_t read_kept(struct procread *r, int fd, int dir, const char *name)
{
        return fd >= 0 ? proc_pread(fd, r->buf, SCRATCH_SIZE) : proc_read_file(dir, name, r->buf, SCRATCH_SIZE);
}

/* Exited, not yet reaped by its parent: its memory is already released, so this sample
 * says so and the process ends here, not when (if ever) the parent calls wait(). */
static enum procread_result sample_zombie(struct sample *smp)
{
        sample_set_unknown(smp, G_STATUS, UNK_ZOMBIE);
        sample_set_unknown(smp, G_FDS, UNK_ZOMBIE);
        sample_set_unknown(smp, G_SMAPS, UNK_ZOMBIE);
        sample_set_unknown(smp, G_HEAP, UNK_ZOMBIE);
        return PROCREAD_LAST;
}

/* The descriptor count from the fd directory (after a refusal, again a minute later);
 * dir: the pid directory, or -1 to open it now (the pass gave no count). */
static void sample_fds(struct procread *r, struct procread_proc *pp, int dir, struct sample *smp, usec_t mono)
{
        uint64_t fds;
        int k;

        if (mono < pp->next_fds) {
                sample_set_unknown(smp, G_FDS, pp->fds_why);
                return;
        }
        if (pp->files.stat >= 0) {
                k = proc_files_count_fds(&pp->files, &fds);
        } else {
                int d = dir >= 0 ? dir : procread_dir(r, pp);

                k = d >= 0 ? proc_count_fds(d, &fds) : d;
                if (d != dir)
                        procread_dir_done(pp, d);
        }
        if (k == 0) {
                sample_set(smp, M_FDS, (int64_t)fds);
                pp->fds_why = UNK_NONE;
        } else {
                pp->fds_why = (uint8_t)proc_errno_reason(k);
                sample_set_unknown(smp, G_FDS, pp->fds_why);
                if (pp->fds_why == UNK_DENIED)
                        pp->next_fds = mono + FDS_RETRY_USEC;
        }
}

/* smaps, if this is a tick for them. */
static void sample_smaps(struct procread *r, struct procread_proc *pp, int dir, struct sample *smp, usec_t mono,
                         bool kthread, bool rollup_tick, bool (*attention)(void *userdata), void *userdata,
                         bool *ret_over_budget)
{
        if (rollup_tick) {
                *ret_over_budget = !maybe_rollup(r, pp, dir, smp, mono, kthread, attention, userdata);
        } else {
                sample_set_unknown(smp, G_SMAPS, kthread ? UNK_KTHREAD : UNK_SKIPPED);
                sample_set_unknown(smp, G_HEAP, kthread ? UNK_KTHREAD : UNK_SKIPPED);
        }
}

/* A percpu counter's global count as get_mm_counter() reads it (never below 0: CPUs
 * may hold back decrements the count has not seen), in bytes. */
static int64_t pages_bytes(const struct procread *r, int64_t pages)
{
        return pages > 0 ? pages * (int64_t)r->page_size : 0;
}

/* The counters of stat and status, and the descriptor count, from the tick's pass. */
static enum procread_result sample_pass(struct procread *r, struct procread_proc *pp, const struct taskiter_proc *p,
                                        uint64_t start_ticks, usec_t mono, struct sample *smp)
{
        if (bpfread_start_ticks(p, r->hz) != start_ticks)
                return PROCREAD_GONE;
        /* The name, as stat would give it: a new one means exec (sampler.h). */
        {
                size_t len = strnlen(p->comm, sizeof(p->comm));

                len = MIN(len, sizeof(pp->comm) - 1);
                memcpy(pp->comm, p->comm, len);
                pp->comm[len] = '\0';
        }
        sample_set(smp, M_MINFLT, (int64_t)p->min_flt);
        sample_set(smp, M_MAJFLT, (int64_t)p->maj_flt);
        pp->nofile = p->nofile;
        pp->has_nofile = true;
        if (p->flags & TASKITER_ZOMBIE)
                return sample_zombie(smp);
        sample_set(smp, M_THREADS, p->nr_threads);
        if (p->flags & TASKITER_NOMM) {
                /* status prints no memory lines without an mm either. */
                smp->why[G_STATUS] = (p->flags & TASKITER_KTHREAD) ? UNK_KTHREAD : UNK_ABSENT;
        } else {
                int64_t file = pages_bytes(r, p->rss[TASKITER_FILE]), anon = pages_bytes(r, p->rss[TASKITER_ANON]);
                int64_t shmem = pages_bytes(r, p->rss[TASKITER_SHMEM]);

                sample_set(smp, M_RSS, anon + file + shmem);
                sample_set(smp, M_ANON, anon);
                sample_set(smp, M_FILE, file);
                sample_set(smp, M_SHMEM, shmem);
                sample_set(smp, M_SWAP, pages_bytes(r, p->rss[TASKITER_SWAP]));
                sample_set(smp, M_DATA, (int64_t)(p->data_vm * r->page_size));
                sample_set(smp, M_VSIZE, (int64_t)(p->total_vm * r->page_size));
        }
        if (p->flags & TASKITER_FDS) {
                sample_set(smp, M_FDS, (int64_t)p->nfds);
                pp->fds_why = UNK_NONE;
        } else {
                sample_fds(r, pp, -1, smp, mono);
        }
        return PROCREAD_SAMPLED;
}

/* One sample read through /proc: kept files, or dir (the pid directory; a -errno if it
 * could not be opened). */
static enum procread_result sample_proc(struct procread *r, struct procread_proc *pp, int dir, uint64_t start_ticks,
                                        usec_t mono, bool rollup_tick, bool (*attention)(void *userdata),
                                        void *userdata, struct sample *smp, bool *ret_over_budget)
{
        struct proc_status status;
        struct proc_stat st;
        ssize_t n;

        n = pp->files.stat < 0 && dir < 0 ? dir : read_kept(r, pp->files.stat, dir, "stat");
        if (n == 0 || n == -ESRCH || n == -ENOENT)
                return PROCREAD_GONE;
        if (n < 0 || proc_parse_stat(r->buf, (size_t)n, &st) < 0) {
                r->stats.read_errors++;
                sample_set_unknown(smp, G_STAT, n < 0 ? proc_errno_reason((int)n) : UNK_ERROR);
                sample_set_unknown(smp, G_STATUS, UNK_ERROR);
                sample_set_unknown(smp, G_FDS, UNK_ERROR);
                sample_set_unknown(smp, G_SMAPS, UNK_ERROR);
                sample_set_unknown(smp, G_HEAP, UNK_ERROR);
                return PROCREAD_SAMPLED;
        }
        /* Read through dir: its start time proves which process it holds, for the
         * reads below too. */
        if (st.starttime != start_ticks)
                return PROCREAD_GONE;
        memcpy(pp->comm, st.comm, sizeof(pp->comm));
        sample_set(smp, M_MINFLT, (int64_t)st.minflt);
        sample_set(smp, M_MAJFLT, (int64_t)st.majflt);
        if (proc_stat_is_zombie(&st))
                return sample_zombie(smp);

        n = read_kept(r, pp->files.status, dir, "status");
        /* Exited between the two reads: a half sample would mix a live reading with
         * nothing; drop it. */
        if (n == 0 || n == -ESRCH || n == -ENOENT)
                return PROCREAD_GONE;
        if (n > 0 && proc_parse_status(r->buf, (size_t)n, &status) == 0) {
                sample_status(smp, &status, proc_stat_is_kthread(&st));
        } else {
                r->stats.read_errors++;
                sample_set_unknown(smp, G_STATUS, n < 0 ? proc_errno_reason((int)n) : UNK_ERROR);
        }
        sample_fds(r, pp, dir, smp, mono);
        sample_smaps(r, pp, dir, smp, mono, proc_stat_is_kthread(&st), rollup_tick, attention, userdata,
                     ret_over_budget);
        return PROCREAD_SAMPLED;
}

enum procread_result procread_sample(struct procread *r, struct procread_proc *pp, uint64_t start_ticks, usec_t mono,
                                     bool rollup_tick, bool (*attention)(void *userdata), void *userdata,
                                     struct sample *smp, bool *ret_over_budget)
{
        enum procread_result res;
        int dir = pp->files.dir;

        pp->has_nofile = false;
        if (r->pass && r->pass_ok) {
                const struct taskiter_proc *p = bpfread_find(r->pass, pp->pid);

                /* Not listed: it was reaped before the pass went by (a zombie is listed);
                 * /proc below says whether it is gone, as it does for every process. */
                if (p) {
                        res = sample_pass(r, pp, p, start_ticks, mono, smp);
                        if (res == PROCREAD_SAMPLED)
                                sample_smaps(r, pp, -1, smp, mono, p->flags & TASKITER_KTHREAD, rollup_tick,
                                             attention, userdata, ret_over_budget);
                        return res;
                }
        }
        if (dir < 0) {
                /* Nothing kept (a pass's process): its directory for this tick's reads,
                 * whose first, stat, checks the start time. */
                char name[32];

                snprintf(name, sizeof(name), "%d", (int)pp->pid);
                dir = openat(r->proc_root, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (dir < 0)
                        dir = -errno;
        }
        res = sample_proc(r, pp, dir, start_ticks, mono, rollup_tick, attention, userdata, smp, ret_over_budget);
        procread_dir_done(pp, dir);
        return res;
}

void procread_get_stats(const struct procread *r, struct procread_stats *ret)
{
        *ret = r->stats;
}
