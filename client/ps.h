/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ps: the process lists — leakwatch ps (what is watched now: memory, growth, the
 * detector's state, a sparkline) and leakwatch top (who grew most over a window). */
#ifndef LEAKWATCH_PS_H
#define LEAKWATCH_PS_H

#include "cli.h"

int cmd_ps(struct cli *c, int argc, char **argv);
int cmd_top(struct cli *c, int argc, char **argv);

#endif
