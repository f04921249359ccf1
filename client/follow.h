/* SPDX-License-Identifier: GPL-2.0-or-later */
/* follow: leakwatch following the daemon as it works, by polling the read-only
 * database (and, for the live view, the control socket) until interrupted.
 *
 *   leakwatch alerts -f   one line per alert event (raised, escalated, state changed,
 *                         ended) as journalctl -f prints log lines: for pipes, a JSON
 *                         object per line with -o json
 *   leakwatch top -f      a screen refreshed in place, as top(1): the daemon's health,
 *                         the top growers and the open alerts
 *
 * Both stop cleanly on SIGINT, SIGTERM or a closed pipe (exit 0), and hold no more
 * than one poll's rows: the alerts open now and those that ended within FOLLOW_LAG. */
#ifndef LEAKWATCH_FOLLOW_H
#define LEAKWATCH_FOLLOW_H

#include "cli.h"

/* leakwatch alerts: with -f, follows; otherwise the list or one alert (cmd_alerts). */
int cmd_alerts_follow(struct cli *c, int argc, char **argv);
/* leakwatch top: with -f, the live view; otherwise the list (cmd_top). */
int cmd_top_follow(struct cli *c, int argc, char **argv);

#endif
