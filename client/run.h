/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run: leakwatch run — starts a command (its argv as given, never through a shell),
 * watches it and its children while it runs, and when it ends tells whether it
 * leaked, exiting with the command's own status, or EXIT_LEAK when a leak was found. */
#ifndef LEAKWATCH_RUN_H
#define LEAKWATCH_RUN_H

#include <limits.h>

#include "cli.h"

/* The window when --window is not given: the short-job scale of leakwatchd's
 * documentation, judged after about three minutes. */
#define RUN_DEFAULT_WINDOW 120

int cmd_run(struct cli *c, int argc, char **argv);

/* What the command's environment gets for the in-process agents (docs/agents.md,
 * "Loading the agents"). A NULL member adds nothing of its own. */
struct run_agents {
        const char *python_dir;         /* holds sitecustomize.py: first on PYTHONPATH, and
                                         * LEAKWATCH_AGENT=1 */
        const char *probe;              /* the allocator probe: last on LD_PRELOAD */
        const char *socket;             /* LEAKWATCH_AGENT_SOCKET, where reports go */
        double interval;                /* seconds between reports of each agent */
};

/* The environment the command runs with: base (ours) passed through, with
 * LEAKWATCH_RUN=1, so the program, or an agent loaded into it, can tell it is being
 * watched, and what agents adds (NULL: nothing, as with --no-agent). The run's own
 * LEAKWATCH_* variables replace any in base; PYTHONPATH and LD_PRELOAD keep what base
 * had (its first of each), after and before ours. Pure. Returns a NULL-terminated
 * array of base's strings and new ones, all in one allocation (free() the array only),
 * or NULL when out of memory. */
char **run_child_environment(char *const *base, const struct run_agents *agents);

/* The agents' files, found by run_find_agents(). */
struct run_agent_files {
        char python_dir[PATH_MAX];      /* "": no Python agent */
        char probe[PATH_MAX];           /* "": no probe */
        char dir[PATH_MAX];             /* where they were found: the first of the
                                         * directories that holds either */
};

/* Looks for the agents in each of the n directories in turn (NULL or "" entries are
 * skipped): DIR/libleakwatch-probe.so and DIR/python/{sitecustomize,leakwatch_agent}.py,
 * regular files at paths the loaders can take (no ':' in either, no blank in the
 * probe's). Returns 0 with what the first directory holding either has, or -ENOENT
 * (ret zeroed). */
int run_find_agents(const char *const *dirs, size_t n, struct run_agent_files *ret);

/* How often the agents report during a run sampled every interval seconds. */
double run_agent_interval(double interval);

/* The interval run samples at when --interval is not given: five samples to each of
 * the detector's buckets (window / 120), at most leakwatchd's default of 10 s. */
double run_default_interval(double window);

#endif
