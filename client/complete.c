/* SPDX-License-Identifier: GPL-2.0-or-later */
/* complete: the database's words for shell completion. */
#include "complete.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "live.h"

/* A name offered for completion: printable ASCII without blanks or quotes, which a
 * shell takes back as the same word. Anything else is left out, not escaped: a
 * completion that types control characters into a command line would be a hazard. */
static bool plain_word(const char *s, size_t len)
{
        if (len == 0 || len > 64)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char ch = (unsigned char)s[i];

                if (ch <= ' ' || ch >= 0x7f || strchr("\"'\\`$;&|<>()*?[]{}!#~", ch))
                        return false;
        }
        return true;
}

int complete_from_db(struct cli *c, const char *what)
{
        char err[256];
        int r;

        if (!c->db_given) {
                struct live_status l;

                live_status_get(c, &l);
                (void)live_take_database(c, &l);
                live_status_clear(&l);
        }
        if (query_open(c->db_path, &c->q, err, sizeof(err)) < 0)
                return EXIT_OK;
        if (strcmp(what, "alerts") == 0) {
                struct query_alert_filter f = { .open_only = true };
                struct query_alert *a = NULL;
                size_t n = 0;

                if (query_alerts(c->q, &f, &a, &n) == 0)
                        for (size_t i = 0; i < n; i++)
                                printf("%" PRId64 "\n", a[i].id);
                query_alerts_free(a, n);
                return EXIT_OK;
        }
        if (strcmp(what, "targets") == 0 || strcmp(what, "pids") == 0) {
                struct query_filter f = { .by = QUERY_ALL, .live_only = true };
                struct query_process *p = NULL;
                struct query_rule *rl = NULL;
                size_t n = 0, nr = 0;

                r = query_processes(c->q, &f, &p, &n);
                for (size_t i = 0; r == 0 && i < n; i++) {
                        printf("%" PRId32 "\n", p[i].pid);
                        if (strcmp(what, "targets") == 0 && plain_word(p[i].comm, p[i].comm_len))
                                printf("%.*s\n", (int)p[i].comm_len, p[i].comm);
                }
                query_processes_free(p, n);
                if (strcmp(what, "targets") == 0 && query_rules(c->q, &rl, &nr) == 0)
                        for (size_t i = 0; i < nr; i++)
                                if (plain_word(rl[i].name, strlen(rl[i].name)))
                                        printf("rule:%s\n", rl[i].name);
                query_rules_free(rl, nr);
        }
        return EXIT_OK;
}
