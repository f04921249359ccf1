/* SPDX-License-Identifier: GPL-2.0-or-later */
/* export: leakwatch export — a series with exact values, as CSV or JSON lines, for
 * other tools. */
#ifndef LEAKWATCH_EXPORT_H
#define LEAKWATCH_EXPORT_H

#include "cli.h"

int cmd_export(struct cli *c, int argc, char **argv);

#endif
