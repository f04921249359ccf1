/* SPDX-License-Identifier: GPL-2.0-or-later */
/* caps: giving up, before the first tick, the capabilities only the start needed —
 * those that load BPF programs (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) and CAP_SETPCAP,
 * which dropping them from the bounding set takes. What the daemon uses while it
 * runs (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, and whatever root has besides) stays. */
#ifndef LEAKWATCH_CAPS_H
#define LEAKWATCH_CAPS_H

#include <stdbool.h>

/* Drops the start's capabilities from the bounding, ambient, inheritable, permitted
 * and effective sets, in that order (the bounding set first, while CAP_SETPCAP is still
 * effective). Returns 0 or -errno of capget/capset; *ret_bounding_kept: one of them
 * stays in the bounding set, CAP_SETPCAP being absent (harmless under
 * NoNewPrivileges=yes: nothing can raise it from there). */
int caps_drop_start(bool *ret_bounding_kept);

/* Whether capability cap is in this thread's effective set (tests, the log). */
bool caps_effective(int cap);

#endif
