/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroup: how much memory a process's cgroup (v2, or v1's memory hierarchy) may still
 * take before its limit — read relative to a cgroup root, so tests use fixture trees. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

/* Cgroup trees are shallow (slices, a unit, maybe a delegated level or two); the
 * bound keeps a forged path from costing more. */
#define CGROUP_DEPTH_MAX 32
/* A v1 limit that was never set reads as the page counter's maximum, LONG_MAX rounded
 * down to a page (9223372036854771712 with 4 KiB pages, less with larger ones): from
 * 2^62 bytes (4 EiB, beyond any machine's memory) a limit is taken for no limit. */
#define CGROUP_V1_UNLIMITED (UINT64_C(1) << 62)

int cgroup_root_open(const char *path)
{
        int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

        return fd < 0 ? -errno : fd;
}

/* Reads one number (or "max", or v1's unlimited value) from dir/name. Returns 0, 1 for
 * no limit, or -errno. */
static int read_value(int rootfd, const char *dir, const char *name, uint64_t *ret)
{
        char path[PROC_CGROUP_MAX + 32], buf[64];
        int64_t v;
        ssize_t n;

        snprintf(path, sizeof(path), "%s%s%s", dir[0] ? dir : "", dir[0] ? "/" : "", name);
        n = proc_read_file(rootfd, path, buf, sizeof(buf));
        if (n < 0)
                return (int)n;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        if (strcmp(buf, "max") == 0)
                return 1;
        if (parse_int64(buf, 0, INT64_MAX, &v) < 0)
                return -EINVAL;
        if ((uint64_t)v >= CGROUP_V1_UNLIMITED)
                return 1;
        *ret = (uint64_t)v;
        return 0;
}

/* The smallest limit - usage on the way from the cgroup at path up to the root. */
static int walk_room(int rootfd, const char *path, const char *limit_file, const char *usage_file,
                     uint64_t *ret_room)
{
        char rel[PROC_CGROUP_MAX];
        uint64_t best = UINT64_MAX;
        bool found = false;
        size_t len;

        if (!path || path[0] != '/')
                return -EINVAL;
        if (strstr(path, " (deleted)"))
                return -ENOENT;
        /* Relative to the root: "/system.slice/x.service" -> "system.slice/x.service". */
        if (!str_copy(rel, sizeof(rel), path + 1, strlen(path + 1)))
                return -EINVAL;
        if (strstr(rel, "..") || strstr(rel, "//"))
                return -EINVAL;
        len = strlen(rel);
        for (int depth = 0; depth < CGROUP_DEPTH_MAX && len > 0; depth++) {
                uint64_t max, cur;
                int r;

                r = read_value(rootfd, rel, limit_file, &max);
                if (r == 0) {
                        r = read_value(rootfd, rel, usage_file, &cur);
                        if (r == 0) {
                                best = MIN(best, max > cur ? max - cur : 0);
                                found = true;
                        }
                }
                if (r < 0 && r != -ENOENT)
                        return r;
                /* Up one level. */
                while (len > 0 && rel[len - 1] != '/')
                        len--;
                if (len > 0)
                        len--;
                rel[len] = '\0';
        }
        if (!found)
                return -ENOENT;
        *ret_room = best;
        return 0;
}

int cgroup_memory_room(int rootfd, const char *path, const char *limit_file, uint64_t *ret_room)
{
        return walk_room(rootfd, path, limit_file, "memory.current", ret_room);
}

int cgroup_v1_memory_room(int rootfd, const char *path, const char *limit_file, uint64_t *ret_room)
{
        return walk_room(rootfd, path, limit_file, "memory.usage_in_bytes", ret_room);
}

int cgroup_memory_headroom(int rootfd, const char *path, uint64_t *ret_headroom)
{
        return cgroup_memory_room(rootfd, path, "memory.max", ret_headroom);
}
