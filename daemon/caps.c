/* SPDX-License-Identifier: GPL-2.0-or-later */
/* caps: dropping the capabilities only the start needed, with capget/capset and prctl. */
#include "caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* Numbers newer than some libc headers (linux/capability.h of 5.8 names them). */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/* CAP_SETPCAP last: it is what PR_CAPBSET_DROP needs for the others. */
static const int start_caps[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SETPCAP };

static int get_caps(struct __user_cap_data_struct data[2])
{
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };

        return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

bool caps_effective(int cap)
{
        struct __user_cap_data_struct data[2] = { 0 };

        if (cap < 0 || cap >= 64 || get_caps(data) < 0)
                return false;
        return data[cap / 32].effective & (UINT32_C(1) << (cap % 32));
}

int caps_drop_start(bool *ret_bounding_kept)
{
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
        struct __user_cap_data_struct data[2] = { 0 };
        bool kept = false;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(start_caps); i++) {
                int cap = start_caps[i];

                /* A kernel older than the capability says EINVAL: nothing to drop. */
                if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
                        kept = true;
                (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
        }
        r = get_caps(data);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(start_caps); i++) {
                int cap = start_caps[i];
                uint32_t bit = UINT32_C(1) << (cap % 32);

                data[cap / 32].effective &= ~bit;
                data[cap / 32].permitted &= ~bit;
                data[cap / 32].inheritable &= ~bit;
        }
        if (syscall(SYS_capset, &hdr, data) < 0)
                return -errno;
        if (ret_bounding_kept)
                *ret_bounding_kept = kept;
        return 0;
}
