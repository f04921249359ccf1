/* SPDX-License-Identifier: GPL-2.0-or-later */
/* proto: the words the daemon, the client and the agents agree on. */
#include "proto.h"

#include <string.h>

bool rule_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > RULE_NAME_MAX)
                return false;
        /* Spelled out rather than isalnum(): a locale must not widen what a name may hold. */
        return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@:-") == n;
}
