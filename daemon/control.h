/* SPDX-License-Identifier: GPL-2.0-or-later */
/* control: the daemon's control socket — a SOCK_SEQPACKET socket under the runtime
 * directory (mode 0660) through which the client asks for live operations. Each message
 * is one JSON object of at most CONTROL_MSG_MAX bytes; each request gets one JSON reply.
 * The peer is checked with SO_PEERCRED (and SO_PEERGROUPS): root, the daemon's own user,
 * or a member of the daemon's group. Everything from the socket is untrusted and
 * bounded: message size, JSON depth, connections, and how long each may stay.
 *
 * No peer can keep another out. A connection lives at most CONTROL_DEADLINE_USEC from
 * accept, whatever it sends (a request does not extend it). When all CONTROL_CONN_MAX
 * are taken, a new peer still gets in: one connection past its CONTROL_GRACE_USEC is
 * closed to make room (told so, "code": "EBUSY"), chosen by control_pick_evictee();
 * while all are in their grace, the newcomer waits in the backlog. The loop never
 * waits on a peer: replies a peer does not read are dropped.
 *
 * Replies: {"ok": true, ...the command's fields} or {"ok": false, "error": "words",
 * "code": "ENOENT"}; code is the errno name of the failure, for programs (a refused peer
 * gets EACCES).
 *
 * This module owns the transport and the checks; what a command does is main's, through
 * the handler it registers. */
#ifndef LEAKWATCH_CONTROL_H
#define LEAKWATCH_CONTROL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "proto.h"
#include "util.h"

/* Concurrent connections: the client opens one per command; more than this is abuse. */
#define CONTROL_CONN_MAX 16
/* A connection is closed this long after it was accepted: the client sends one request
 * and waits at most this long (CTL_TIMEOUT_MS) for its reply, which the daemon gives at
 * once, so no client of ours is ever cut off. */
#define CONTROL_DEADLINE_USEC (10 * USEC_PER_SEC)
/* A connection may be closed to make room for a new peer only once it has been open
 * this long: a client sends its request as it connects, and is answered, however fast
 * others connect after it; and slots turn over at most CONTROL_CONN_MAX times per
 * grace, which bounds what connecting in a loop costs the daemon. A local client is
 * never this slow between connect() and send(); the wait it can cause a newcomer is
 * short. */
#define CONTROL_GRACE_USEC (250 * USEC_PER_MSEC)
/* JSON nesting accepted in a request (requests are flat objects). */
#define CONTROL_JSON_DEPTH 4

struct control;

/* Handles one request: req is the parsed object (with a string "cmd"); fill reply (an
 * empty object) with "ok" and the command's fields, or return -errno with a message in
 * why (the module replies {"ok": false, "error": why, "code": the errno's name}). */
typedef int (*control_handler)(void *userdata, const char *cmd, struct json_object *req,
                               struct json_object *reply, char *why, size_t whysz);

/* Creates runtime_dir/control and starts accepting. A socket already at that path is
 * replaced: the caller holds the runtime directory's lock (rundir.h), so it is a
 * leftover of a daemon that died, never a live one. Returns 0 or -errno (the path is too
 * long, the directory is missing or not writable). */
int control_new(sd_event *event, const char *runtime_dir, control_handler handler, void *userdata,
                struct control **ret);
/* Closes every connection and removes the socket file, if it is still ours. */
void control_free(struct control *c);

/* Whether a peer with these credentials may use the socket: root, the daemon's uid, or
 * the daemon's gid as primary or supplementary group. Pure; exposed for tests. */
bool control_peer_allowed(uid_t peer_uid, gid_t peer_gid, const gid_t *peer_groups, size_t n_groups,
                          uid_t our_uid, gid_t our_gid);

/* One open connection, as control_pick_evictee() sees it. */
struct control_peer {
        uid_t uid;
        usec_t since;                   /* accepted (monotonic) */
        bool refused;                   /* not allowed: told so, waiting to hang up */
};

/* Which of the n (> 0) open connections, in the order they came, is closed to make
 * room for a new one: a refused peer's, the oldest first; otherwise the oldest
 * connection of the user who holds the most (on a tie, the oldest of those users'
 * connections; of connections with the same since, the first). A user holding
 * many connections thus displaces only their own, and a user's single connection is
 * kept while anyone holds more. Returns its index. Pure; exposed for tests. */
size_t control_pick_evictee(const struct control_peer *peers, size_t n);

#endif
