/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rules: whether a process is one a rule watches. */
#include "rules.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

static const char *str_or_empty(const char *s)
{
        return s ? s : "";
}

static int pid_compare(const void *a, const void *b)
{
        pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

        return (x > y) - (x < y);
}

/* A prefix of whole path components: "/a/b" covers "/a/b" and "/a/b/c", not "/a/bc".
 * The parser stores prefixes without a trailing '/', except "/" itself. */
static bool cgroup_under(const char *prefix, const char *path)
{
        size_t n = strlen(prefix);

        if (strncmp(prefix, path, n) != 0)
                return false;
        return path[n] == '\0' || path[n] == '/' || (n > 0 && prefix[n - 1] == '/');
}

bool rule_matches(const struct rule_cfg *r, const struct proc_desc *d)
{
        const char *unit = str_or_empty(d->unit), *cgroup = str_or_empty(d->cgroup);

        if (r->manual)
                return false;
        /* A kernel thread has no user memory to leak; only naming its pid watches it. */
        if (d->kthread && (r->all || r->comm_glob || r->cmdline_re_src || r->has_uid || r->unit_glob ||
                           r->cgroup_prefix))
                return false;
        /* The parser sorts the list. */
        if (r->n_pids > 0 && !bsearch(&d->pid, r->pids, r->n_pids, sizeof(pid_t), pid_compare))
                return false;
        if (r->comm_glob && fnmatch(r->comm_glob, str_or_empty(d->comm), 0) != 0)
                return false;
        if (r->cmdline_re_src && regexec(&r->cmdline_re, str_or_empty(d->cmdline), 0, NULL, 0) != 0)
                return false;
        if (r->has_uid && d->uid != r->uid)
                return false;
        if (r->unit_glob && (!*unit || fnmatch(r->unit_glob, unit, 0) != 0))
                return false;
        if (r->cgroup_prefix && (!*cgroup || !cgroup_under(r->cgroup_prefix, cgroup)))
                return false;
        return d->rss >= r->min_rss;
}
