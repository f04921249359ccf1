/* headroom: the room a watched process has left before a limit: cgroup, host, RLIMIT_NOFILE. */
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
