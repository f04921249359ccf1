/* SPDX-License-Identifier: GPL-2.0-or-later */
/* show: one process's or rule's series over a range — leakwatch show (identity, a
 * terminal chart with the trend and the alerts, a summary) and leakwatch plot (the
 * same picture as an SVG file). */
#ifndef LEAKWATCH_SHOW_H
#define LEAKWATCH_SHOW_H

#include "cli.h"

int cmd_show(struct cli *c, int argc, char **argv);
int cmd_plot(struct cli *c, int argc, char **argv);

#endif
