/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sites: the allocation sites an agent reported, printed under an alert or a process. */
#include "sites.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void sites_print(const struct out *o, const struct query_site *s, size_t n)
{
        char t[64], grow[32], live[32];

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *frames = NULL;
                char *p;

                if (i == 0 || strcmp(s[i].agent, s[i - 1].agent) != 0 || s[i].t_ms != s[i - 1].t_ms)
                        fprintf(o->f, "%11s: where live memory grew since tracing began (%s agent, %s):\n",
                                i == 0 ? "Sites" : "", s[i].agent, out_time(o, s[i].t_ms, TIME_SECONDS, t, sizeof(t)));
                /* Stored escaped (no blank nor control byte), escaped again for the
                 * terminal: what a program named its files cannot reach it. */
                frames = out_escape(s[i].frames, s[i].frames_len);
                format_size((uint64_t)s[i].growth, grow, sizeof(grow));
                format_size((uint64_t)s[i].live_bytes, live, sizeof(live));
                fprintf(o->f, "%13s+%s  %s live in %" PRId64 "  ", "", grow, live, s[i].live_count);
                for (p = frames; p && *p; p++) {
                        if (*p == ' ')
                                fputs(" < ", o->f);
                        else
                                fputc(*p, o->f);
                }
                fputc('\n', o->f);
        }
}
