/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sampler: finds the processes the rules ask for and measures them every tick through
 * its backend (/proc descriptors kept open across ticks, or a BPF pass), handing samples
 * to the writer and to whoever listens (the detector engine). */
#include "sampler.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pidmap.h"
#include "proc.h"
#include "procread.h"
#include "rules.h"

/* A process chain deeper than this is not walked for ancestry (children rules and
 * self-exclusion); real trees are a handful deep, and the bound keeps a forged or
 * cyclic ppid chain (PID reuse mid-walk) from looping. */
#define ANCESTRY_MAX 64
/* Scratch space for one /proc read of the scan: stat, status, cmdline (a longer one is
 * still usable as a prefix) or cgroup. */
#define SCRATCH_SIZE (64 * 1024)

/* A process that matched no rule is read again (its stat: a new name after exec, growth
 * past a min-rss) at most this often, however often the scan runs. On a host of
 * thousands of processes scanned every second those re-reads were most of the daemon's
 * work; ten seconds is the default scan interval, so nothing is noticed later than it
 * would be at the defaults. New PIDs are still classified at the first scan that
 * lists them. */
#define RECHECK_USEC (10 * USEC_PER_SEC)

/* Every process on the host as of the last scan, watched or not. */
struct known {
        pid_t pid;
        pid_t ppid;
        uint64_t start_ticks;
        uint64_t rss_at_class;          /* RSS (bytes) when last classified */
        char comm[PROC_COMM_MAX + 1];
        int32_t watched;                /* index into watched[], or -1 */
        uint32_t seen;                  /* scan generation that last listed it */
        bool excluded;                  /* the daemon or one of its descendants */
        bool kthread;
        bool classified;
        usec_t recheck_at;              /* not watched: read its stat again from then */
};

struct watched {
        bool used;
        struct sampler_proc p;          /* the listeners' view; strings point below */
        char comm[PROC_COMM_MAX + 1];
        char unit[PROC_UNIT_MAX];
        char cgroup[PROC_CGROUP_MAX];
        char *cmdline;
        char *cgroup_v1;                /* p.cgroup_v1's own copy; NULL if none */
        uint8_t exec_tries;             /* ticks its new program's command line was empty */
        struct procread_proc rd;        /* the backend's descriptors and smaps pace */
        struct sample last;
};

struct rule_state {
        int64_t id;
        int64_t generation;
        unsigned live;
        struct sample sum;              /* this tick's sum over the rule's processes */
        unsigned nsum;
        unsigned known_count[M__MAX];   /* members that had metric m this tick */
};

struct sampler {
        struct sampler_env env;
        const struct config *cfg;
        struct rule_state *rules;
        struct sampler_listener listener;
        bool need_uid, need_cmdline, need_cgroup, any_children;
        uint64_t *min_rss;              /* distinct rule thresholds, ascending */
        size_t n_min_rss;

        struct known *known;
        size_t n_known, cap_known;
        int32_t *known_free;            /* stack of free known[] slots */
        size_t n_known_free;
        struct pidmap by_pid;

        struct watched *watched;
        size_t cap_watched;
        unsigned n_watched;

        int64_t next_id;
        uint32_t scan_gen;
        uint64_t tick_no;
        pid_t *pids;
        size_t cap_pids;
        long page_size;
        char *buf;
        struct procread *reader;        /* the backend: each watched process's samples */
        const struct bpfread *scan_pass;        /* while a scan runs: the BPF pass it lists
                                                 * and reads the stat of processes from */
        size_t first_slot;              /* a tick starts here: where the smaps budget ran out */
        struct sampler_stats stats;
};

/* ---- configuration ---- */

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static int apply_config(struct sampler *s, const struct config *cfg, const int64_t *rule_ids,
                        const int64_t *generations)
{
        struct rule_state *rules;
        uint64_t *thresholds;
        size_t n = 0;

        rules = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*rules));
        thresholds = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*thresholds));
        if (!rules || !thresholds) {
                free(rules);
                free(thresholds);
                return -ENOMEM;
        }
        s->need_uid = s->need_cmdline = s->need_cgroup = s->any_children = false;
        for (size_t i = 0; i < cfg->n_rules; i++) {
                const struct rule_cfg *r = &cfg->rules[i];

                rules[i].id = rule_ids[i];
                rules[i].generation = generations ? generations[i] : 0;
                s->need_uid |= r->has_uid;
                s->need_cmdline |= r->cmdline_re_src != NULL;
                s->need_cgroup |= r->unit_glob != NULL || r->cgroup_prefix != NULL;
                s->any_children |= r->children;
                if (r->min_rss > 0)
                        thresholds[n++] = r->min_rss;
        }
        qsort(thresholds, n, sizeof(*thresholds), cmp_u64);
        procread_configure(s->reader, cfg);
        free(s->rules);
        free(s->min_rss);
        s->rules = rules;
        s->min_rss = thresholds;
        s->n_min_rss = n;
        s->cfg = cfg;
        return 0;
}

int sampler_new(const struct sampler_env *env, const struct config *cfg, const int64_t *rule_ids,
                const int64_t *generations, const struct sampler_listener *listener, struct sampler **ret)
{
        struct sampler *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->env = *env;
        if (listener)
                s->listener = *listener;
        pidmap_init(&s->by_pid);
        s->page_size = sysconf(_SC_PAGESIZE);
        s->buf = malloc(SCRATCH_SIZE);
        if (!s->buf || procread_new(env->proc_root, env->cpu_clock, &s->reader) < 0) {
                sampler_free(s);
                return -ENOMEM;
        }
        if (env->bpf)
                procread_use_pass(s->reader, env->bpf, env->hz);
        r = apply_config(s, cfg, rule_ids, generations);
        if (r < 0) {
                sampler_free(s);
                return r;
        }
        r = store_max_process_id(env->store, &s->next_id);
        if (r < 0) {
                sampler_free(s);
                return r;
        }
        s->next_id++;
        *ret = s;
        return 0;
}

void sampler_free(struct sampler *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->cap_watched; i++)
                if (s->watched[i].used) {
                        procread_close(&s->watched[i].rd);
                        free(s->watched[i].cmdline);
                        free(s->watched[i].cgroup_v1);
                }
        free(s->watched);
        free(s->known);
        free(s->known_free);
        pidmap_free(&s->by_pid);
        free(s->rules);
        free(s->min_rss);
        free(s->pids);
        free(s->buf);
        procread_free(s->reader);
        free(s);
}

/* ---- the known table ---- */

static struct known *known_get(struct sampler *s, pid_t pid)
{
        int32_t i = pidmap_get(&s->by_pid, pid);
        return i < 0 ? NULL : &s->known[i];
}

static struct known *known_add(struct sampler *s, pid_t pid)
{
        int32_t i;

        if (s->n_known_free > 0) {
                i = s->known_free[--s->n_known_free];
        } else {
                if (s->n_known == s->cap_known) {
                        size_t cap = s->cap_known ? s->cap_known * 2 : 256;
                        struct known *k = realloc(s->known, cap * sizeof(*k));
                        int32_t *f;

                        if (!k)
                                return NULL;
                        s->known = k;
                        f = realloc(s->known_free, cap * sizeof(*f));
                        if (!f)
                                return NULL;
                        s->known_free = f;
                        s->cap_known = cap;
                }
                i = (int32_t)s->n_known++;
        }
        if (pidmap_put(&s->by_pid, pid, i) < 0) {
                s->known_free[s->n_known_free++] = i;
                return NULL;
        }
        s->known[i] = (struct known){ .pid = pid, .watched = -1 };
        return &s->known[i];
}

static void known_del(struct sampler *s, struct known *k)
{
        int32_t i = (int32_t)(k - s->known);

        pidmap_del(&s->by_pid, k->pid);
        k->pid = 0;
        s->known_free[s->n_known_free++] = i;
}

/* ---- writing ---- */

static void put_end(struct sampler *s, int64_t id, int64_t end_ms, const char *reason)
{
        (void)writer_put(s->env.writer, &(struct store_row){ .kind = STORE_PROCESS_END,
                                                              .end = { .id = id, .t_ms = end_ms, .reason = reason } });
}

/* ---- watching ---- */

static void rule_end_member(struct sampler *s, struct watched *w)
{
        if (w->p.rule < s->cfg->n_rules && s->rules[w->p.rule].live > 0)
                s->rules[w->p.rule].live--;
}

/* Stops watching: records the end (or the loss of interest) and frees the slot. */
static void unwatch(struct sampler *s, struct watched *w, int64_t now_ms, const char *reason, bool gone)
{
        struct known *k = known_get(s, w->p.pid);

        put_end(s, w->p.id, now_ms, reason);
        if (s->listener.ended)
                s->listener.ended(s->listener.userdata, &w->p, now_ms, reason);
        rule_end_member(s, w);
        procread_close(&w->rd);
        free(w->cmdline);
        w->cmdline = NULL;
        free(w->cgroup_v1);
        w->cgroup_v1 = NULL;
        w->used = false;
        s->n_watched--;
        s->stats.ended++;
        if (k && k->start_ticks == w->p.start_ticks) {
                if (gone)
                        known_del(s, k);
                else
                        k->watched = -1;
        }
}

static struct watched *watched_slot(struct sampler *s, int32_t *ret_index)
{
        for (size_t i = 0; i < s->cap_watched; i++)
                if (!s->watched[i].used) {
                        *ret_index = (int32_t)i;
                        return &s->watched[i];
                }
        {
                size_t cap = s->cap_watched ? s->cap_watched * 2 : 64;
                struct watched *n = realloc(s->watched, cap * sizeof(*n));

                if (!n)
                        return NULL;
                memset(n + s->cap_watched, 0, (cap - s->cap_watched) * sizeof(*n));
                /* The listeners' views point into the slots: fix them after the move. */
                for (size_t i = 0; i < s->cap_watched; i++)
                        if (n[i].used) {
                                n[i].p.comm = n[i].comm;
                                n[i].p.unit = n[i].unit;
                                n[i].p.cgroup = n[i].cgroup;
                        }
                *ret_index = (int32_t)s->cap_watched;
                s->watched = n;
                s->cap_watched = cap;
                return &n[*ret_index];
        }
}

/* The details a stored process row and a rule match need beyond stat. */
struct details {
        uid_t uid;
        bool has_uid;
        char cmdline[PROC_CMDLINE_MAX];
        char cgroup[PROC_CGROUP_MAX];
        char cgroup_v1[PROC_CGROUP_MAX];        /* "" unless charged on a v1 memory hierarchy */
        char unit[PROC_UNIT_MAX];
};

static void read_details(struct sampler *s, int piddir, bool uid, bool cmdline, bool cgroup, struct details *d)
{
        ssize_t n;

        if (uid && !d->has_uid) {
                struct proc_status st;

                n = proc_read_file(piddir, "status", s->buf, SCRATCH_SIZE);
                if (n >= 0 && proc_parse_status(s->buf, (size_t)n, &st) == 0 && (st.have & (1u << PS_UID))) {
                        d->uid = st.uid_eff;
                        d->has_uid = true;
                }
        }
        if (cmdline && !d->cmdline[0]) {
                n = proc_read_file(piddir, "cmdline", s->buf, SCRATCH_SIZE);
                /* A command line longer than the buffer is still usable as a prefix. */
                if (n >= 0 || n == -E2BIG)
                        proc_cmdline_join(s->buf, n >= 0 ? (size_t)n : SCRATCH_SIZE - 1, d->cmdline,
                                          sizeof(d->cmdline));
        }
        if (cgroup && !d->cgroup[0]) {
                bool v1 = false;

                n = proc_read_file(piddir, "cgroup", s->buf, SCRATCH_SIZE);
                if (n >= 0 && proc_parse_cgroup(s->buf, (size_t)n, d->cgroup, sizeof(d->cgroup)) == 0)
                        (void)proc_cgroup_unit(d->cgroup, d->unit, sizeof(d->unit));
                /* The same text says which v1 memory cgroup charges it, for the limits'
                 * reads (core/headroom.h), so they need not read it again. */
                if (n < 0 ||
                    proc_parse_cgroup_memory(s->buf, (size_t)n, d->cgroup_v1, sizeof(d->cgroup_v1), &v1) < 0 || !v1)
                        d->cgroup_v1[0] = '\0';
        }
}

/* The row of a watched process, as it is first recorded. */
static void put_process(struct sampler *s, const struct sampler_proc *p, pid_t ppid, int64_t now_ms)
{
        struct store_process row = {
                .id = p->id,
                .pid = p->pid,
                .start_ticks = (int64_t)p->start_ticks,
                .start_ms = p->start_ms,
                .ppid = ppid,
                .uid = p->uid == (uid_t)-1 ? -1 : (int64_t)p->uid,
                .comm = p->comm,
                .comm_len = strlen(p->comm),
                .cmdline = p->cmdline,
                .cmdline_len = strlen(p->cmdline),
                .unit = p->unit[0] ? p->unit : NULL,
                .cgroup = p->cgroup[0] ? p->cgroup : NULL,
                .rule_id = p->rule_id,
                .generation = p->generation,
                .parent_id = p->parent_id,
                .first_ms = now_ms,
        };

        snprintf(row.boot_id, sizeof(row.boot_id), "%s", s->env.boot_id);
        (void)writer_put(s->env.writer, &(struct store_row){ .kind = STORE_PROCESS, .process = row });
}

/* Starts watching the process of k under rule (as a child of parent_id if not 0).
 * Returns 0, or -errno when it could not (gone, refused, cap reached, database). */
static int watch(struct sampler *s, struct known *k, size_t rule, int64_t parent_id, struct details *d,
                 int64_t now_ms, usec_t mono, int64_t resume_id)
{
        struct rule_state *rs = &s->rules[rule];
        struct procread_proc rd;
        struct watched *w;
        int64_t id = resume_id;
        bool is_new = false;
        int32_t slot;
        int dir, r;

        if (s->n_watched >= s->cfg->max_processes || (s->env.max_watch && s->n_watched >= s->env.max_watch)) {
                s->stats.capped++;
                return -E2BIG;
        }
        /* The PID may have been reused between the scan's read and this open: the
         * backend proves on its own descriptors which process they hold. */
        r = procread_open(s->reader, k->pid, k->start_ticks, mono, &rd);
        if (r < 0)
                return r;
        /* Its command line and cgroup, read once here (with a pass, through a directory
         * opened for them alone: it proves the start time again). */
        dir = procread_dir(s->reader, &rd);
        if (dir < 0) {
                procread_close(&rd);
                return dir;
        }
        read_details(s, dir, true, true, true, d);
        procread_dir_done(&rd, dir);

        if (id == 0) {
                r = store_find_process(s->env.store, s->env.boot_id, k->pid, (int64_t)k->start_ticks, &id);
                if (r == 0) {
                        struct store_row ro = {
                                .kind = STORE_PROCESS_REOPEN,
                                .reopen = { .id = id, .rule_id = rs->id,
                                            .generation = rs->live == 0 ? rs->generation + 1 : rs->generation },
                        };

                        r = writer_put(s->env.writer, &ro);
                } else if (r == -ENOENT) {
                        id = s->next_id++;
                        is_new = true;
                        r = 0;
                } else {
                        /* Cannot tell whether it is known: try again at the next scan
                         * rather than risk two rows for one process. */
                        procread_close(&rd);
                        return r;
                }
                if (r < 0) {
                        procread_close(&rd);
                        return r;
                }
        }
        w = watched_slot(s, &slot);
        if (!w) {
                procread_close(&rd);
                return -ENOMEM;
        }
        /* A rule whose processes had all ended starts a new generation: a restarted
         * service is not a continuation of the old one. */
        if (rs->live == 0 && resume_id == 0)
                rs->generation++;
        rs->live++;

        memset(w, 0, sizeof(*w));
        w->used = true;
        w->rd = rd;
        snprintf(w->comm, sizeof(w->comm), "%s", k->comm);
        snprintf(w->unit, sizeof(w->unit), "%s", d->unit);
        snprintf(w->cgroup, sizeof(w->cgroup), "%s", d->cgroup);
        w->cmdline = strdup(d->cmdline);
        /* Out of memory: its v1 limits are unknown, as for a process that is not on v1. */
        w->cgroup_v1 = d->cgroup_v1[0] ? strdup(d->cgroup_v1) : NULL;
        w->p = (struct sampler_proc){
                .id = id,
                .slot = (size_t)slot,
                .pid = k->pid,
                .start_ticks = k->start_ticks,
                .start_ms = s->env.btime_ms + (int64_t)(k->start_ticks * 1000 / (uint64_t)s->env.hz),
                .comm = w->comm,
                .cmdline = w->cmdline ? w->cmdline : "",
                .unit = w->unit,
                .cgroup = w->cgroup,
                .cgroup_v1 = w->cgroup_v1,
                .uid = d->has_uid ? d->uid : (uid_t)-1,
                .rule = rule,
                .rule_id = rs->id,
                .generation = rs->generation,
                .parent_id = parent_id,
                .is_new = is_new,
        };
        s->n_watched++;
        s->stats.started++;
        k->watched = slot;

        if (is_new)
                put_process(s, &w->p, k->ppid, now_ms);
        if (s->listener.started)
                s->listener.started(s->listener.userdata, &w->p, resume_id != 0, now_ms);
        return 0;
}

/* ---- classification ---- */

static int read_stat_of(struct sampler *s, pid_t pid, struct proc_stat *ret)
{
        char path[32];
        ssize_t n;

        if (s->scan_pass) {
                const struct taskiter_proc *p = bpfread_find(s->scan_pass, pid);

                /* Not in the pass: gone by now, or one it does not list; /proc says. */
                if (p) {
                        bpfread_stat(p, s->env.hz, ret);
                        return 0;
                }
        }
        snprintf(path, sizeof(path), "%d/stat", (int)pid);
        n = proc_read_file(s->env.proc_root, path, s->buf, SCRATCH_SIZE);
        if (n < 0)
                return (int)n;
        return proc_parse_stat(s->buf, (size_t)n, ret);
}

static void fill_known(struct known *k, const struct proc_stat *st, long page_size)
{
        k->ppid = st->ppid;
        k->start_ticks = st->starttime;
        k->kthread = proc_stat_is_kthread(st);
        k->rss_at_class = st->rss_pages > 0 ? (uint64_t)st->rss_pages * (uint64_t)page_size : 0;
        snprintf(k->comm, sizeof(k->comm), "%s", st->comm);
}

static int classify(struct sampler *s, struct known *k, const struct proc_stat *st, int depth, int64_t now_ms,
                    usec_t mono);

/* Returns the known entry of pid, classifying it first if this scan has not (a parent
 * can carry a higher PID than its child once PIDs wrap). */
static struct known *ensure_known(struct sampler *s, pid_t pid, int depth, int64_t now_ms, usec_t mono)
{
        struct proc_stat st;
        struct known *k;

        if (pid <= 0 || depth > ANCESTRY_MAX)
                return NULL;
        k = known_get(s, pid);
        if (k && k->seen == s->scan_gen)
                return k;
        if (read_stat_of(s, pid, &st) < 0)
                return k;
        if (k && k->start_ticks != st.starttime) {
                if (k->watched >= 0)
                        return k; /* the tick will notice the old one is gone */
                known_del(s, k);
                k = NULL;
        }
        if (!k) {
                k = known_add(s, pid);
                if (!k)
                        return NULL;
        }
        (void)classify(s, k, &st, depth + 1, now_ms, mono);
        /* classify() may have grown known[]: look it up again. */
        return known_get(s, pid);
}

/* The watched ancestor whose rule takes children, or NULL. */
static struct watched *watched_ancestor(struct sampler *s, const struct known *k, int depth, int64_t now_ms,
                                        usec_t mono)
{
        pid_t ppid = k->ppid;

        for (int i = 0; i < ANCESTRY_MAX && ppid > 0; i++) {
                struct known *a = ensure_known(s, ppid, depth + i, now_ms, mono);

                if (!a)
                        return NULL;
                if (a->watched >= 0) {
                        struct watched *w = &s->watched[a->watched];
                        if (s->cfg->rules[w->p.rule].children)
                                return w;
                }
                if (a->ppid == ppid)
                        return NULL;
                ppid = a->ppid;
        }
        return NULL;
}

static int classify(struct sampler *s, struct known *k, const struct proc_stat *st, int depth, int64_t now_ms,
                    usec_t mono)
{
        pid_t pid = k->pid;
        struct details d = { 0 };
        struct proc_desc desc;
        struct known *parent;
        struct watched *anc;
        char dirname[16];
        int piddir;

        fill_known(k, st, s->page_size);
        k->seen = s->scan_gen;
        k->classified = true;

        /* Never the daemon, nor anything it started (hooks and their children). */
        parent = pid == s->env.self ? NULL : ensure_known(s, k->ppid, depth, now_ms, mono);
        k = known_get(s, pid);
        if (!k)
                return -ENOMEM;
        k->excluded = pid == s->env.self || k->ppid == s->env.self || (parent && parent->excluded);
        if (k->excluded || k->watched >= 0)
                return 0;
        /* A zombie has no memory left to watch; an explicit watch of its PID says so. */
        if (proc_stat_is_zombie(st))
                return 0;

        snprintf(dirname, sizeof(dirname), "%d", (int)pid);
        piddir = openat(s->env.proc_root, dirname, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (piddir < 0)
                return -errno;
        read_details(s, piddir, s->need_uid, s->need_cmdline, s->need_cgroup, &d);
        close(piddir);

        desc = (struct proc_desc){
                .pid = pid,
                .uid = d.has_uid ? d.uid : (uid_t)-1,
                .comm = k->comm,
                .cmdline = d.cmdline,
                .cgroup = d.cgroup,
                .unit = d.unit,
                .rss = k->rss_at_class,
                .kthread = k->kthread,
        };
        /* A rule with a user selector cannot match a process whose uid we could not read. */
        for (size_t i = 0; i < s->cfg->n_rules; i++) {
                int64_t parent_id = 0;

                if (s->cfg->rules[i].has_uid && !d.has_uid)
                        continue;
                if (!rule_matches(&s->cfg->rules[i], &desc))
                        continue;
                /* Workers often carry their master's name and match the rule on their
                 * own: under a children rule they are still its children. */
                if (s->cfg->rules[i].children && !k->kthread) {
                        anc = watched_ancestor(s, k, depth, now_ms, mono);
                        k = known_get(s, pid);
                        if (!k)
                                return -ENOMEM;
                        if (anc && anc->p.rule == i)
                                parent_id = anc->p.id;
                }
                return watch(s, k, i, parent_id, &d, now_ms, mono, 0);
        }
        if (s->any_children && !k->kthread) {
                anc = watched_ancestor(s, k, depth, now_ms, mono);
                k = known_get(s, pid);
                if (anc && k)
                        return watch(s, k, anc->p.rule, anc->p.id, &d, now_ms, mono, 0);
        }
        /* An empty command line is what a process in the middle of execve shows (its
         * new name is set before its new argv is), and judged on it, it would stay
         * unmatched until it next changes its name: judge it again at the next scan. */
        if (s->need_cmdline && !d.cmdline[0] && !k->kthread) {
                k = known_get(s, pid);
                if (k)
                        k->classified = false;
        }
        return 0;
}

/* True if the process grew across a rule's min-rss since it was classified. */
static bool crossed_min_rss(const struct sampler *s, uint64_t before, uint64_t now)
{
        for (size_t i = 0; i < s->n_min_rss; i++)
                if (s->min_rss[i] > before && s->min_rss[i] <= now)
                        return true;
        return false;
}

/* The PIDs of the pass, into s->pids. The iterator does not list PID 1 (observed on
 * Linux 6.18: its walk starts at 2), so PID 1 is added, and read through /proc. */
static ssize_t pids_of_pass(struct sampler *s, const struct bpfread *pass)
{
        size_t n = bpfread_count(pass), k = 0;

        if (s->cap_pids < n + 1) {
                pid_t *p = realloc(s->pids, (n + 1) * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                s->pids = p;
                s->cap_pids = n + 1;
        }
        if (n == 0 || bpfread_at(pass, 0)->tgid != 1)
                s->pids[k++] = 1;
        for (size_t i = 0; i < n; i++)
                s->pids[k++] = (pid_t)bpfread_at(pass, i)->tgid;
        return (ssize_t)k;
}

static int scan(struct sampler *s, ssize_t n, usec_t mono_now, int64_t now_ms);

int sampler_scan(struct sampler *s, usec_t mono_now, int64_t now_ms)
{
        const struct bpfread *pass = NULL;
        ssize_t n;
        int r;

        /* With a BPF pass the scan lists the pass and reads each process's stat from
         * it: no readdir of the proc root and no read per unwatched process. The tick
         * that follows at the same time uses the same pass. */
        if (procread_begin_tick(s->reader, mono_now) == 0)
                pass = procread_pass(s->reader, mono_now);
        n = pass ? pids_of_pass(s, pass) : proc_list_pids(s->env.proc_root, &s->pids, &s->cap_pids);
        if (n < 0)
                return (int)n;
        s->scan_pass = pass;
        r = scan(s, n, mono_now, now_ms);
        s->scan_pass = NULL;
        return r;
}

static int scan(struct sampler *s, ssize_t n, usec_t mono_now, int64_t now_ms)
{
        s->scan_gen++;
        s->stats.scans++;
        for (ssize_t i = 0; i < n; i++) {
                pid_t pid = s->pids[i];
                struct known *k = known_get(s, pid);
                struct proc_stat st;
                uint64_t rss;

                if (k && k->seen == s->scan_gen)
                        continue; /* classified earlier in this scan, as someone's parent */
                if (k && k->watched >= 0) {
                        k->seen = s->scan_gen;
                        continue; /* the tick follows it through its own descriptors */
                }
                if (k && k->classified && mono_now < k->recheck_at) {
                        k->seen = s->scan_gen;
                        continue;
                }
                if (read_stat_of(s, pid, &st) < 0)
                        continue; /* gone already, or unreadable: nothing to watch */
                if (k && k->classified && k->start_ticks == st.starttime) {
                        rss = st.rss_pages > 0 ? (uint64_t)st.rss_pages * (uint64_t)s->page_size : 0;
                        /* Unchanged since it was judged: same program, still small. A new
                         * name means exec; growth past a min-rss means it now qualifies. */
                        if (k->excluded ||
                            (strcmp(k->comm, st.comm) == 0 && !crossed_min_rss(s, k->rss_at_class, rss))) {
                                k->seen = s->scan_gen;
                                k->recheck_at = mono_now + RECHECK_USEC;
                                continue;
                        }
                } else if (k) {
                        known_del(s, k); /* the PID now belongs to another process */
                        k = NULL;
                }
                if (!k) {
                        k = known_add(s, pid);
                        if (!k)
                                return -ENOMEM;
                }
                (void)classify(s, k, &st, 0, now_ms, mono_now);
                /* classify() may have grown known[] (a parent classified on the way):
                 * look it up again rather than write through the old pointer. */
                k = known_get(s, pid);
                if (k)
                        k->recheck_at = mono_now + RECHECK_USEC;
        }
        /* Forget PIDs that were not listed: they exited. Watched ones are ended by the
         * tick, which reads them through their own descriptors. */
        for (size_t i = 0; i < s->n_known; i++) {
                struct known *k = &s->known[i];
                if (k->pid > 0 && k->seen != s->scan_gen && k->watched < 0)
                        known_del(s, k);
        }
        s->stats.known = (unsigned)s->by_pid.used;
        return 0;
}

/* ---- the tick ---- */

/* Whether the detector has its eye on the watched process userdata points to. */
struct attention {
        const struct sampler *s;
        const struct watched *w;
};

static bool attention_of(void *userdata)
{
        const struct attention *a = userdata;
        const struct sampler_listener *l = &a->s->listener;

        return l->attention && l->attention(l->userdata, &a->w->p);
}

static void rule_sum_add(struct rule_state *rs, const struct sample *smp)
{
        rs->nsum++;
        for (int m = 0; m < M__MAX; m++)
                if (sample_has(smp, (enum metric)m)) {
                        rs->sum.v[m] += smp->v[m];
                        rs->known_count[m]++;
                }
}

static void rule_sums_flush(struct sampler *s, int64_t now_ms)
{
        for (size_t i = 0; i < s->cfg->n_rules; i++) {
                struct rule_state *rs = &s->rules[i];
                struct sample sum = { .t_ms = now_ms };

                if (rs->nsum == 0)
                        continue;
                /* A sum is only a sum if every member contributed: a metric some members
                 * lacked this tick (permissions, rate-limited smaps) stays unknown. */
                for (int m = 0; m < M__MAX; m++)
                        if (rs->known_count[m] == rs->nsum)
                                sample_set(&sum, (enum metric)m, rs->sum.v[m]);
                        else
                                sum.why[metric_info[m].group] = UNK_SKIPPED;
                (void)writer_put(s->env.writer, &(struct store_row){
                        .kind = STORE_RULE_SAMPLE,
                        .sample = { .id = rs->id, .generation = rs->generation, .nproc = rs->nsum, .s = sum } });
                memset(&rs->sum, 0, sizeof(rs->sum));
                memset(rs->known_count, 0, sizeof(rs->known_count));
                rs->nsum = 0;
        }
}

/* Ticks an exec's new command line may read empty before the old one is replaced:
 * execve() sets the name before the new program's arguments are visible, and a program
 * may blank its own. */
#define EXEC_EMPTY_TRIES 2

/* The process exec()ed (the same PID and start time, a new name): from now on its name
 * and command line are the new program's, for the listeners and in the database. */
static void exec_refresh(struct sampler *s, struct watched *w)
{
        struct details d = { 0 };
        char *cmdline;
        int dir = procread_dir(s->reader, &w->rd);

        /* Gone or replaced since the pass: the next tick ends it. */
        if (dir < 0)
                return;
        read_details(s, dir, false, true, false, &d);
        procread_dir_done(&w->rd, dir);
        if (!d.cmdline[0] && ++w->exec_tries < EXEC_EMPTY_TRIES)
                return;
        cmdline = strdup(d.cmdline);
        if (!cmdline)
                return; /* tried again next tick */
        w->exec_tries = 0;
        snprintf(w->comm, sizeof(w->comm), "%s", w->rd.comm);
        free(w->cmdline);
        w->cmdline = cmdline;
        w->p.cmdline = w->cmdline;
        (void)writer_put(s->env.writer, &(struct store_row){
                .kind = STORE_PROCESS_EXEC,
                .exec = { .id = w->p.id, .comm = w->comm, .comm_len = strlen(w->comm), .cmdline = w->cmdline,
                          .cmdline_len = strlen(w->cmdline) } });
}

int sampler_tick(struct sampler *s, usec_t mono_now, int64_t now_ms)
{
        bool rollup_tick = s->cfg->smaps_every > 0 && s->tick_no % s->cfg->smaps_every == 0;
        size_t start = s->first_slot < s->cap_watched ? s->first_slot : 0;
        bool refused = false;

        s->tick_no++;
        s->stats.ticks++;
        /* One read of every process on the host, when there is a pass to read and
         * someone to read it for; a pass that fails leaves this tick to /proc. */
        if (s->n_watched > 0)
                (void)procread_begin_tick(s->reader, mono_now);
        /* Round robin: a tick starts with the process the smaps budget last refused, so
         * when the budget cannot cover everyone, everyone still gets a turn. */
        for (size_t k = 0; k < s->cap_watched; k++) {
                size_t i = (start + k) % s->cap_watched;
                struct watched *w = &s->watched[i];
                struct sample smp = { .t_ms = now_ms };
                struct attention att = { .s = s, .w = w };
                bool over = false;
                enum procread_result res;

                if (!w->used)
                        continue;
                res = procread_sample(s->reader, &w->rd, w->p.start_ticks, mono_now, rollup_tick, attention_of, &att,
                                      &smp, &over);
                if (over && !refused) {
                        s->first_slot = i;
                        refused = true;
                }
                if (res == PROCREAD_GONE) {
                        unwatch(s, w, now_ms, "exited", true);
                        continue;
                }
                w->p.has_nofile = w->rd.has_nofile;
                w->p.nofile = w->rd.nofile;
                if (w->rd.comm[0] && strcmp(w->rd.comm, w->comm) != 0)
                        exec_refresh(s, w);
                w->last = smp;
                s->stats.samples++;
                (void)writer_put(s->env.writer, &(struct store_row){ .kind = STORE_SAMPLE,
                                                                      .sample = { .id = w->p.id, .s = smp } });
                rule_sum_add(&s->rules[w->p.rule], &smp);
                if (s->listener.sampled)
                        s->listener.sampled(s->listener.userdata, &w->p, &smp);
                if (res == PROCREAD_LAST)
                        unwatch(s, w, now_ms, "exited", false);
        }
        rule_sums_flush(s, now_ms);
        return 0;
}

/* ---- resume, reconfigure, control ---- */

static ssize_t rule_index_by_id(const struct sampler *s, int64_t rule_id)
{
        for (size_t i = 0; i < s->cfg->n_rules; i++)
                if (s->rules[i].id == rule_id)
                        return (ssize_t)i;
        return -1;
}

struct resume_ctx {
        struct sampler *s;
        int64_t now_ms;
        usec_t mono;
};

static int resume_one(const struct store_process *p, int64_t last_ms, void *userdata)
{
        struct resume_ctx *c = userdata;
        struct sampler *s = c->s;
        struct details d = { 0 };
        struct proc_stat st;
        struct known *k;
        ssize_t rule = rule_index_by_id(s, p->rule_id);
        int64_t last = last_ms;
        int r;

        (void)store_last_sample_ms(s->env.store, p->id, &last);
        r = read_stat_of(s, p->pid, &st);
        if (r < 0 || st.starttime != (uint64_t)p->start_ticks) {
                /* hidepid hides a process that runs on as if it had exited: we cannot
                 * tell it is the same one, nor that it ended. */
                put_end(s, p->id, last,
                        r == -ENOENT && proc_pid_hidden(s->env.proc_root, p->pid) ?
                        "unreadable: hidden by hidepid" : "exited while leakwatchd was stopped");
                return 0;
        }
        if (rule < 0) {
                put_end(s, p->id, c->now_ms, "rule removed");
                return 0;
        }
        k = known_get(s, p->pid);
        if (!k)
                k = known_add(s, p->pid);
        if (!k)
                return -ENOMEM;
        fill_known(k, &st, s->page_size);
        k->classified = true;
        if (p->generation > s->rules[rule].generation)
                s->rules[rule].generation = p->generation;
        if (watch(s, k, (size_t)rule, p->parent_id, &d, c->now_ms, c->mono, p->id) < 0) {
                put_end(s, p->id, last, "could not be watched again");
                known_del(s, k);
        }
        return 0;
}

int sampler_resume(struct sampler *s, int64_t now_ms)
{
        struct resume_ctx c = { .s = s, .now_ms = now_ms, .mono = now_usec(CLOCK_MONOTONIC) };
        int r;

        /* Processes of other boots are over: they end at their last sample. */
        r = writer_put(s->env.writer, &(struct store_row){ .kind = STORE_OTHER_BOOTS_END, .boot_id = s->env.boot_id });
        if (r < 0)
                return r;
        return store_for_each_live_process(s->env.store, s->env.boot_id, resume_one, &c);
}

int sampler_reconfigure(struct sampler *s, const struct config *cfg, const int64_t *rule_ids,
                        const int64_t *generations, int64_t now_ms)
{
        const struct config *old = s->cfg;
        struct rule_state *old_rules = s->rules;
        size_t *map;
        int r;

        map = calloc(old->n_rules ? old->n_rules : 1, sizeof(*map));
        if (!map)
                return -ENOMEM;
        for (size_t i = 0; i < old->n_rules; i++) {
                map[i] = SIZE_MAX;
                for (size_t j = 0; j < cfg->n_rules; j++)
                        if (strcmp(old->rules[i].name, cfg->rules[j].name) == 0)
                                map[i] = j;
        }
        s->rules = NULL;
        r = apply_config(s, cfg, rule_ids, generations);
        if (r < 0) {
                s->rules = old_rules;
                free(map);
                return r;
        }
        for (size_t i = 0; i < old->n_rules; i++)
                if (map[i] != SIZE_MAX && old_rules[i].generation > s->rules[map[i]].generation)
                        s->rules[map[i]].generation = old_rules[i].generation;
        for (size_t i = 0; i < s->cap_watched; i++) {
                struct watched *w = &s->watched[i];
                size_t to;

                if (!w->used)
                        continue;
                to = map[w->p.rule];
                if (to == SIZE_MAX) {
                        /* Its rule is gone: stop (the old rule index is no longer valid for
                         * the live count, which belongs to the old table). */
                        w->p.rule = SIZE_MAX;
                        unwatch(s, w, now_ms, "rule removed", false);
                        continue;
                }
                w->p.rule = to;
                w->p.rule_id = s->rules[to].id;
                w->p.generation = s->rules[to].generation;
                s->rules[to].live++;
        }
        free(old_rules);
        free(map);
        /* Everything not watched is judged again under the new rules at the next scan. */
        for (size_t i = 0; i < s->n_known; i++)
                s->known[i].classified = false;
        return 0;
}

int sampler_watch_pid(struct sampler *s, pid_t pid, const char *rule, int64_t now_ms, size_t *ret_slot,
                      int64_t *ret_id)
{
        struct details d = { 0 };
        struct proc_stat st;
        struct known *k;
        size_t i;
        int r;

        for (i = 0; i < s->cfg->n_rules; i++)
                if (strcmp(s->cfg->rules[i].name, rule) == 0)
                        break;
        if (i == s->cfg->n_rules)
                return -ENOENT;
        k = ensure_known(s, pid, 0, now_ms, now_usec(CLOCK_MONOTONIC));
        if (!k || read_stat_of(s, pid, &st) < 0 || st.starttime != k->start_ticks)
                return -ENOENT;
        if (k->excluded)
                return -EPERM;
        if (k->watched >= 0)
                return -EEXIST;
        r = watch(s, k, i, 0, &d, now_ms, now_usec(CLOCK_MONOTONIC), 0);
        if (r < 0)
                return r;
        k = known_get(s, pid);
        if (!k || k->watched < 0)
                return -ESRCH;
        if (ret_slot)
                *ret_slot = (size_t)k->watched;
        if (ret_id)
                *ret_id = s->watched[k->watched].p.id;
        return 0;
}

int sampler_unwatch_pid(struct sampler *s, pid_t pid, int64_t now_ms)
{
        struct known *k = known_get(s, pid);

        if (!k || k->watched < 0)
                return -ENOENT;
        unwatch(s, &s->watched[k->watched], now_ms, "unwatched", false);
        return 0;
}

void sampler_for_each(const struct sampler *s, void (*fn)(void *userdata, const struct sampler_proc *p,
                                                           const struct sample *last), void *userdata)
{
        for (size_t i = 0; i < s->cap_watched; i++)
                if (s->watched[i].used)
                        fn(userdata, &s->watched[i].p, &s->watched[i].last);
}

void sampler_put_processes(struct sampler *s, int64_t now_ms)
{
        for (size_t i = 0; i < s->cap_watched; i++)
                if (s->watched[i].used) {
                        const struct known *k = known_get(s, s->watched[i].p.pid);

                        put_process(s, &s->watched[i].p, k ? k->ppid : 0, now_ms);
                }
}

void sampler_get_stats(const struct sampler *s, struct sampler_stats *ret)
{
        struct procread_stats rs;

        procread_get_stats(s->reader, &rs);
        *ret = s->stats;
        ret->watched = s->n_watched;
        ret->rollups = rs.rollups;
        ret->rollups_skipped = rs.rollups_skipped;
        ret->rollups_over_budget = rs.rollups_over_budget;
        ret->read_errors = rs.read_errors;
        ret->pass_errors = rs.pass_errors;
        ret->bpf = s->env.bpf != NULL;
}
