/* SPDX-License-Identifier: GPL-2.0-or-later */
/* proto: the words leakwatchd, the leakwatch client and the in-process agents must
 * agree on, defined once — where the sockets are, how long a message may be, what a
 * rule may be called, and the bounds of the window and the sampling interval that the
 * configuration, the command lines and the control socket's requests all accept.
 *
 * The Python agent (agents/python) cannot include this file; it repeats the socket name
 * and the message limit, and docs/agents.md is the reference for both. */
#ifndef LEAKWATCH_PROTO_H
#define LEAKWATCH_PROTO_H

#include <stdbool.h>

/* Where the sockets live unless runtime-dir says otherwise: systemd's
 * RuntimeDirectory=leakwatch. */
#define RUNTIME_DIR_DEFAULT "/run/leakwatch"

/* The database the daemon writes and the client reads unless told otherwise: systemd's
 * StateDirectory=leakwatch. */
#define DB_PATH_DEFAULT "/var/lib/leakwatch/leakwatch.db"

/* The control socket, RUNTIME_DIR/control (daemon/control.h): one JSON object per
 * message. Requests and replies are small (the biggest is a status reply); 16 KiB bounds
 * what a client can make the daemon parse and still leaves room for growth. */
#define CONTROL_SOCKET_NAME "control"
#define CONTROL_MSG_MAX (16 * 1024)

/* The agents' socket, RUNTIME_DIR/agent.sock (core/agent.h): one report per datagram.
 * The largest report, 16 types with 64-byte names and every counter, fits in under
 * 2 KiB; 8 KiB leaves room for growth and is still one page-sized read per datagram. */
#define AGENT_SOCKET_NAME "agent.sock"
#define AGENT_MSG_MAX 8192

/* `leakwatch trace PID [DURATION]`: how long the agents are asked for allocation sites.
 * Five minutes by default: some thirty reports at the agents' 10 s interval, enough to
 * see which sites keep growing; at most an hour, so a forgotten request does not keep a
 * program traced (tracemalloc slows its allocations) for good. */
#define TRACE_DEFAULT_S 300
#define TRACE_MIN_S 1
#define TRACE_MAX_S 3600

/* A rule name is shown in tables and used in JSON, hook environments and Prometheus
 * labels: at most this many bytes of [A-Za-z0-9_.@:-]. */
#define RULE_NAME_MAX 64

/* The PATH a hook runs with: only system directories, so that a hook's "#!/usr/bin/env
 * NAME" finds NAME where the daemon checked it (daemon/trust.c) and nowhere a user can
 * write. */
#define HOOK_ENV_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
bool rule_name_valid(const char *name);

/* The detector's window, in seconds, wherever it is given (window =, --window, a watch
 * request's window_s, leakwatch run --window): under a minute there is no trend to see,
 * and over 90 days the detector would be reading months of samples. */
#define WINDOW_MIN 60
#define WINDOW_MAX (90 * 86400)
#define WINDOW_RANGE "1m..90d"

/* The sampling interval, in seconds (interval =, --interval of both programs): 50 ms is
 * as fast as reading /proc keeps up with, an hour the slowest that still shows a trend
 * in a day. */
#define INTERVAL_MIN 0.05
#define INTERVAL_MAX 3600
#define INTERVAL_RANGE "50ms..1h"

#endif
