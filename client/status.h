/* SPDX-License-Identifier: GPL-2.0-or-later */
/* status: leakwatch status — what the database says about the daemon and what it
 * watches: the file, schema, rules, processes, open alerts, the newest sample. */
#ifndef LEAKWATCH_STATUS_H
#define LEAKWATCH_STATUS_H

#include "cli.h"

int cmd_status(struct cli *c, int argc, char **argv);

#endif
