/* run: leakwatch run — starts a command (its argv as given, never through a shell),
 * watches it and its children while it runs, and when it ends tells whether it
 * leaked, exiting with the command's own status, or EXIT_LEAK when a leak was found. */
#ifndef LEAKWATCH_RUN_H
#define LEAKWATCH_RUN_H

#include "cli.h"

/* The window when --window is not given: the short-job scale of leakwatchd's
 * documentation, judged after about three minutes. */
#define RUN_DEFAULT_WINDOW 120

int cmd_run(struct cli *c, int argc, char **argv);

/* The environment the command runs with: base (ours) passed through, with
 * LEAKWATCH_RUN=1 (replacing any LEAKWATCH_RUN there), so the program, or an agent
 * loaded into it, can tell it is being watched. What an in-process agent needs later
 * (a preload library, a module path) is added here. Returns a NULL-terminated array of
 * base's own strings and static ones (free() the array only), or NULL when out of
 * memory. */
char **run_child_environment(char *const *base);

/* The interval run samples at when --interval is not given: five samples to each of
 * the detector's buckets (window / 120), at most leakwatchd's default of 10 s. */
double run_default_interval(double window);

#endif
