/* SPDX-License-Identifier: GPL-2.0-or-later */
/* headroom: the room a watched process has left before a limit: cgroup, host, rlimits. */
#include "headroom.h"

#include <math.h>
#include <stdio.h>

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

double headroom_left(void *userdata, const struct sampler_proc *p, enum detect_kind m, double level,
                       const char **ret_kind)
{
        const struct headroom *l = userdata;
        double best = NAN;
        char buf[2048], path[32];
        int64_t host;
        uint64_t v;
        ssize_t n;

        *ret_kind = NULL;
        if (m == DETECT_FDS) {
                snprintf(path, sizeof(path), "%d/limits", (int)p->pid);
                n = proc_read_file(l->proc_root, path, buf, sizeof(buf));
                if (n > 0 && proc_parse_limits_nofile(buf, (size_t)n, &v) == 0 && v != UINT64_MAX) {
                        *ret_kind = "descriptor";
                        return MAX((double)v - level, 0);
                }
                return NAN;
        }
        if (l->cgroup_root >= 0 && p->cgroup[0] && cgroup_memory_headroom(l->cgroup_root, p->cgroup, &v) == 0) {
                best = (double)v;
                *ret_kind = "cgroup";
        }
        host = l->host_headroom ? l->host_headroom() : host_headroom();
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
        if (l->cgroup_root >= 0 && p->cgroup[0]) {
                if (cgroup_memory_room(l->cgroup_root, p->cgroup, "memory.max", &v) == 0)
                        ret->room[LIMIT_MEMORY_MAX] = (double)v;
                if (cgroup_memory_room(l->cgroup_root, p->cgroup, "memory.high", &v) == 0)
                        ret->room[LIMIT_MEMORY_HIGH] = (double)v;
        }
        host = l->host_headroom ? l->host_headroom() : host_headroom();
        if (host >= 0)
                ret->room[LIMIT_HOST] = (double)host;
}
