/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cgroup: how much memory a process's cgroup (v2, or v1's memory hierarchy) may still
 * take before its limit — read relative to a cgroup root, so tests use fixture trees. */
#ifndef LEAKWATCH_CGROUP_H
#define LEAKWATCH_CGROUP_H

#include <stdint.h>

/* Opens the cgroup root ("/sys/fs/cgroup" or a fixture). Returns an fd or -errno. */
int cgroup_root_open(const char *path);

/* The room left under memory.max for the cgroup at path (as /proc/PID/cgroup prints
 * it) and every ancestor that has a limit: the smallest max - current on the way up,
 * since any of them stops the process. Returns 0; -ENOENT if no limit is set on the
 * way ("max" everywhere, a v1 host, a removed cgroup); -EINVAL for a malformed path
 * or file; or -errno. */
int cgroup_memory_headroom(int rootfd, const char *path, uint64_t *ret_headroom);

/* The same for any limit file of the memory controller that holds bytes or "max" and
 * is measured against memory.current: "memory.max", or "memory.high" (above which the
 * kernel throttles and reclaims). */
int cgroup_memory_room(int rootfd, const char *path, const char *limit_file, uint64_t *ret_room);

/* The same on a legacy (v1) memory hierarchy: rootfd is that hierarchy's root
 * ("/sys/fs/cgroup/memory"), path the process's cgroup in it (proc_parse_cgroup_memory),
 * limit_file "memory.limit_in_bytes" (the hard limit: reclaim, then the OOM killer) or
 * "memory.soft_limit_in_bytes" (above it the cgroup is reclaimed first when the host
 * runs short), measured against memory.usage_in_bytes. A limit never set (the page
 * counter's maximum) is no limit. Ancestors count: every v1 hierarchy is hierarchical
 * on the kernels that still offer v1 memory (use_hierarchy is 1). */
int cgroup_v1_memory_room(int rootfd, const char *path, const char *limit_file, uint64_t *ret_room);

#endif
