/* SPDX-License-Identifier: GPL-2.0-or-later */
/* headroom: the room a watched process has left before a limit: cgroup, host, rlimits. */
#include "headroom.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "host.h"
#include "proc.h"
#include "util.h"

static int64_t host_headroom(void)
{
        struct host_memory m;

        if (host_memory(&m) < 0)
                return -1;
        return (int64_t)(m.available + m.swap_free);
}

int headroom_open_v1(int cgroup_root)
{
        int fd;

        if (cgroup_root < 0)
                return -EBADF;
        fd = openat(cgroup_root, "memory", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        /* A v1 memory hierarchy's root holds its limit file; a directory of that name
         * in a v2 tree (a cgroup someone called "memory") does not. */
        if (faccessat(fd, "memory.limit_in_bytes", F_OK, 0) < 0) {
                int r = -errno;

                close(fd);
                return r == -ENOENT ? -ENOENT : r;
        }
        return fd;
}

/* The process's cgroup in the v1 memory hierarchy, if it is charged there and one is
 * mounted: the sampler read it when it began watching (struct sampler_proc). */
static const char *v1_cgroup(const struct headroom *l, const struct sampler_proc *p)
{
        return l->cgroup_v1_root >= 0 && p->cgroup_v1 && p->cgroup_v1[0] ? p->cgroup_v1 : NULL;
}

void headroom_tick(struct headroom *l)
{
        l->host_read = false;
        l->n_cgroups = l->next_cgroup = 0;
}

/* The host's room, read once a tick. */
static int64_t host_room(struct headroom *l)
{
        if (!l->host_read) {
                l->host = l->host_headroom ? l->host_headroom() : host_headroom();
                l->host_read = true;
        }
        return l->host;
}

/* cgroup_memory_headroom() of a unified path, or a v1 path's memory.limit_in_bytes
 * (cgroup_v1_memory_room()), read once a tick for the last HEADROOM_CGROUPS cgroups
 * asked about. */
static int cgroup_room(struct headroom *l, const char *path, bool v1, uint64_t *ret)
{
        struct headroom_cgroup *c;

        for (unsigned i = 0; i < l->n_cgroups; i++)
                if (l->cgroups[i].v1 == v1 && strcmp(l->cgroups[i].path, path) == 0) {
                        *ret = l->cgroups[i].room;
                        return l->cgroups[i].r;
                }
        c = &l->cgroups[l->next_cgroup];
        l->next_cgroup = (l->next_cgroup + 1) % HEADROOM_CGROUPS;
        l->n_cgroups = MIN(l->n_cgroups + 1, HEADROOM_CGROUPS);
        snprintf(c->path, sizeof(c->path), "%s", path);
        c->v1 = v1;
        c->room = 0;
        c->r = v1 ? cgroup_v1_memory_room(l->cgroup_v1_root, path, "memory.limit_in_bytes", &c->room)
                  : cgroup_memory_headroom(l->cgroup_root, path, &c->room);
        *ret = c->room;
        return c->r;
}

double headroom_left(void *userdata, const struct sampler_proc *p, enum detect_kind m, double level,
                       const char **ret_kind)
{
        struct headroom *l = userdata;
        const char *v1 = v1_cgroup(l, p), *cg;
        double best = NAN;
        char buf[2048], path[32];
        int64_t host;
        uint64_t v;
        ssize_t n;

        *ret_kind = NULL;
        if (m == DETECT_FDS) {
                /* The BPF pass read the limit with the count; /proc otherwise. */
                if (p->has_nofile) {
                        v = p->nofile;
                } else {
                        snprintf(path, sizeof(path), "%d/limits", (int)p->pid);
                        n = proc_read_file(l->proc_root, path, buf, sizeof(buf));
                        if (n <= 0 || proc_parse_limits_nofile(buf, (size_t)n, &v) < 0)
                                return NAN;
                }
                if (v != UINT64_MAX) {
                        *ret_kind = "descriptor";
                        return MAX((double)v - level, 0);
                }
                return NAN;
        }
        /* Charged in a v1 memory hierarchy, that cgroup; otherwise the unified one. */
        cg = v1 ? v1 : l->cgroup_root >= 0 && p->cgroup[0] ? p->cgroup : NULL;
        if (cg && cgroup_room(l, cg, v1 != NULL, &v) == 0) {
                best = (double)v;
                *ret_kind = "cgroup";
        }
        host = host_room(l);
        if (host >= 0 && !(best <= (double)host)) {
                best = (double)host;
                *ret_kind = "memory";
        }
        return best;
}

/* The room a soft rlimit leaves above used; NAN if unlimited or used is not known. */
static double rlimit_room(uint64_t soft, const struct sample *smp, enum metric used)
{
        if (soft == UINT64_MAX || !smp || !sample_has(smp, used))
                return NAN;
        return (double)soft > (double)smp->v[used] ? (double)soft - (double)smp->v[used] : 0;
}

void headroom_read(void *userdata, const struct sampler_proc *p, const struct sample *smp, enum detect_kind m,
                   struct limit_set *ret)
{
        const struct headroom *l = userdata;
        const char *cg = v1_cgroup(l, p);
        struct proc_limits rl;
        char buf[2048], path[32];
        bool have_rl;
        int64_t host;
        uint64_t v;
        ssize_t n;
        double level;

        limit_set_init(ret);
        if (smp && detect_value(smp, m, &level))
                ret->level = level;
        if (m == DETECT_FDS && p->has_nofile) {
                ret->room[LIMIT_NOFILE] = rlimit_room(p->nofile, smp, M_FDS);
                return;
        }
        snprintf(path, sizeof(path), "%d/limits", (int)p->pid);
        n = proc_read_file(l->proc_root, path, buf, sizeof(buf));
        have_rl = n > 0 && proc_parse_limits(buf, (size_t)n, &rl) == 0;
        if (m == DETECT_FDS) {
                if (have_rl)
                        ret->room[LIMIT_NOFILE] = rlimit_room(rl.nofile, smp, M_FDS);
                return;
        }
        if (have_rl) {
                ret->room[LIMIT_AS] = rlimit_room(rl.as, smp, M_VSIZE);
                ret->room[LIMIT_DATA] = rlimit_room(rl.data, smp, M_DATA);
        }
        if (cg) {
                if (cgroup_v1_memory_room(l->cgroup_v1_root, cg, "memory.limit_in_bytes", &v) == 0)
                        ret->room[LIMIT_V1_LIMIT] = (double)v;
                if (cgroup_v1_memory_room(l->cgroup_v1_root, cg, "memory.soft_limit_in_bytes", &v) == 0)
                        ret->room[LIMIT_V1_SOFT] = (double)v;
        } else if (l->cgroup_root >= 0 && p->cgroup[0]) {
                if (cgroup_memory_room(l->cgroup_root, p->cgroup, "memory.max", &v) == 0)
                        ret->room[LIMIT_MEMORY_MAX] = (double)v;
                if (cgroup_memory_room(l->cgroup_root, p->cgroup, "memory.high", &v) == 0)
                        ret->room[LIMIT_MEMORY_HIGH] = (double)v;
        }
        host = l->host_headroom ? l->host_headroom() : host_headroom();
        if (host >= 0)
                ret->room[LIMIT_HOST] = (double)host;
}
