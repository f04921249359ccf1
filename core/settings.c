/* SPDX-License-Identifier: GPL-2.0-or-later */
/* settings: what a watch runs with, its defaults and the rule for processes watched on
 * request. */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "proto.h"
#include "util.h"

/* ---- freeing ---- */

static void hook_free(struct hook_cfg *h)
{
        if (h->argv)
                for (char **a = h->argv; *a; a++)
                        free(*a);
        free(h->argv);
        h->argv = NULL;
}

void config_rule_free(struct rule_cfg *r)
{
        free(r->name);
        free(r->pids);
        free(r->comm_glob);
        if (r->cmdline_re_src)
                regfree(&r->cmdline_re);
        free(r->cmdline_re_src);
        free(r->unit_glob);
        free(r->cgroup_prefix);
        for (size_t i = 0; i < r->n_hooks; i++)
                hook_free(&r->hooks[i]);
        for (size_t i = 0; i < r->n_restart_units; i++)
                free(r->restart_units[i]);
        free(r->restart_units);
        free(r->file);
        memset(r, 0, sizeof(*r));
}

void config_drop_rules(struct config *cfg)
{
        for (size_t i = 0; i < cfg->n_rules; i++)
                config_rule_free(&cfg->rules[i]);
        free(cfg->rules);
        cfg->rules = NULL;
        cfg->n_rules = 0;
}

void config_free(struct config *cfg)
{
        if (!cfg)
                return;
        free(cfg->db_path);
        free(cfg->proc_root);
        free(cfg->cgroup_root);
        free(cfg->runtime_dir);
        free(cfg->metrics_listen);
        free(cfg->metrics_textfile);
        for (size_t i = 0; i < cfg->n_hooks; i++)
                hook_free(&cfg->hooks[i]);
        config_drop_rules(cfg);
        memset(cfg, 0, sizeof(*cfg));
}

/* ---- defaults ---- */

int config_defaults(struct config *cfg)
{
        *cfg = (struct config){
                /* A leak that matters grows over minutes to hours: every 10 s gives the
                 * default 6 h window 2160 points, and reading the status of 1000
                 * processes that often costs well under 1% of a CPU. */
                .interval = 10,
                /* New processes are picked up within one tick. */
                .scan_interval = 10,
                /* smaps_rollup makes the kernel walk every mapping under the mm lock,
                 * far dearer than status (docs/performance.md: ~0.5 ms for 50 MiB, several
                 * ms per GiB). Checked once a minute at the default interval; a process
                 * the detector suspects is read at most once a minute (the classification
                 * of its alert wants fresh PSS and heap figures), a stable one every ten
                 * minutes (enough to chart PSS); and all of it within 1% of one core,
                 * so a host of big processes cannot make the watchdog its biggest cost. */
                .smaps_every = 6,
                .smaps_min_interval = 60,
                .smaps_max_interval = 600,
                .smaps_budget = 0.01,
                /* One transaction per tick: a crash loses at most one tick. */
                .commit_interval = 10,
                /* About 15 MiB of samples (some 150 bytes each), held only while the
                 * database fails: 100 ticks at max-processes, hours for a typical host. */
                .backlog = 100000,
                /* A busy server runs a few hundred user processes; each watched one
                 * holds three descriptors, so 1000 stays within a raised RLIMIT_NOFILE
                 * and bounds the daemon's own memory. */
                .max_processes = 1000,
                /* Raw samples for two days (yesterday in full detail), minute averages
                 * for two weeks (weekly cycles), hourly ones for more than a year (the
                 * same season last year); each level is ~60 times smaller. */
                .retention_raw = 2 * 86400.0,
                .retention_minute = 14 * 86400.0,
                .retention_hour = 400 * 86400.0,
                /* None pinned: every time scale at once, from 12 minutes to 54 hours
                 * (lib/scales.c), so a fast leak is told in minutes and a slow one in
                 * days. A window pins one scale. */
                .window = 0,
                /* An hour: time for someone to look, or for a hook to save the evidence
                 * and restart the service at a quiet moment, before the limit kills it. */
                .limit_horizon = 3600.0,
                /* No cap: retention bounds the database, and a cap set too low
                 * silently turns into lost samples, so it is for the user to choose. */
                .max_db_size = 0,
                .log_level = LOG_INFO,
                /* A hook that pages someone or saves a heap profile finishes in seconds;
                 * 30 s bounds one that hangs. */
                .hook_timeout = 30,
                /* Enough for a few alerts at once; a storm of alerts must not become a
                 * storm of processes on a host already short of memory. */
                .hook_max_running = 4,
                /* The textfile is read by node_exporter at its own scrapes (15 s to 1 min
                 * apart as usually set up) and a leak takes hours to show: once a minute
                 * keeps it current without rewriting a file on disk at every tick.
                 * Unless set, it follows a longer interval. */
                .metrics_textfile_interval = 60,
                /* Prometheus's own advice is to keep one target under 10,000 series;
                 * at about 25 series per process group that is 400 groups, more than a
                 * host usually runs, and the groups left out are the quiet ones. */
                .metrics_max_series = 10000,
                /* In-process agents report every 10 s by default; one report a second
                 * per process leaves room for faster settings and for a Python agent
                 * and an allocator probe in one process, and bounds what a process can
                 * make the daemon do. */
                .agent_socket = true,
                .agent_interval = 1,
        };
        cfg->db_path = strdup(DB_PATH_DEFAULT);
        cfg->proc_root = strdup("/proc");
        cfg->cgroup_root = strdup("/sys/fs/cgroup");
        /* systemd's RuntimeDirectory=leakwatch. */
        cfg->runtime_dir = strdup(RUNTIME_DIR_DEFAULT);
        if (!cfg->db_path || !cfg->proc_root || !cfg->cgroup_root || !cfg->runtime_dir) {
                config_free(cfg);
                return -ENOMEM;
        }
        return 0;
}

/* ---- rules ---- */

struct rule_cfg *config_find_rule(const struct config *cfg, const char *name)
{
        for (size_t i = 0; i < cfg->n_rules; i++)
                if (strcmp(cfg->rules[i].name, name) == 0)
                        return &cfg->rules[i];
        return NULL;
}

int config_rule_append(struct config *cfg, const char *name, const char *file, unsigned line,
                       struct rule_cfg **ret)
{
        struct rule_cfg *rules, *r;

        if (cfg->n_rules >= CONFIG_RULES_MAX)
                return -E2BIG;
        rules = realloc(cfg->rules, (cfg->n_rules + 1) * sizeof(*rules));
        if (!rules)
                return -ENOMEM;
        cfg->rules = rules;
        r = &rules[cfg->n_rules];
        *r = (struct rule_cfg){ .name = strdup(name), .file = strdup(file), .line = line,
                                .restart_max = RESTART_MAX_DEFAULT, .restart_horizon = RESTART_HORIZON_DEFAULT };
        if (!r->name || !r->file) {
                config_rule_free(r);
                return -ENOMEM;
        }
        cfg->n_rules++;
        *ret = r;
        return 0;
}

int config_add_manual_rule(struct config *cfg)
{
        struct rule_cfg *r;
        int ret;

        /* A configured rule of the same name wins: its selectors and hooks apply. */
        if (config_find_rule(cfg, CONFIG_MANUAL_RULE))
                return 0;
        ret = config_rule_append(cfg, CONFIG_MANUAL_RULE, "control socket", 0, &r);
        if (ret < 0)
                return ret;
        r->manual = true;
        r->children = true;
        return 0;
}

void config_rule_spec(const struct rule_cfg *r, char *buf, size_t sz)
{
        size_t o = 0;

#define ADD(...) do { if (o < sz) o += (size_t)snprintf(buf + o, sz - o, __VA_ARGS__); } while (0)
        buf[0] = '\0';
        if (r->manual)
                ADD("processes watched on request ");
        if (r->all)
                ADD("all processes ");
        for (size_t i = 0; i < r->n_pids && i < 8; i++)
                ADD("pid=%d ", (int)r->pids[i]);
        if (r->n_pids > 8)
                ADD("(+%zu pids) ", r->n_pids - 8);
        if (r->comm_glob)
                ADD("name=%s ", r->comm_glob);
        if (r->cmdline_re_src)
                ADD("cmdline=%s ", r->cmdline_re_src);
        if (r->has_uid)
                ADD("uid=%u ", (unsigned)r->uid);
        if (r->unit_glob)
                ADD("unit=%s ", r->unit_glob);
        if (r->cgroup_prefix)
                ADD("cgroup=%s ", r->cgroup_prefix);
        if (r->min_rss) {
                char sz_buf[32];
                ADD("min-rss=%s ", format_size(r->min_rss, sz_buf, sizeof(sz_buf)));
        }
        if (r->children)
                ADD("children ");
#undef ADD
        if (o > 0 && o <= sz)
                buf[o - 1] = '\0';
}
