/* SPDX-License-Identifier: GPL-2.0-or-later */
/* alerts: leakwatch alerts — open (or, with --all, past) alerts with their evidence and
 * forecast; leakwatch alerts ID — one alert with its verdict trail and hook runs. */
#ifndef LEAKWATCH_ALERTS_H
#define LEAKWATCH_ALERTS_H

#include "cli.h"

int cmd_alerts(struct cli *c, int argc, char **argv);

#endif
