/* control: the daemon's control socket — a SOCK_SEQPACKET socket under the runtime
 * directory (mode 0660) through which the client asks for live operations. Each message
 * is one JSON object of at most CONTROL_MSG_MAX bytes; each request gets one JSON reply.
 * The peer is checked with SO_PEERCRED (and SO_PEERGROUPS): root, the daemon's own user,
 * or a member of the daemon's group. Everything from the socket is untrusted and
 * bounded: message size, JSON depth, connections, and idle time.
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

#include "util.h"

/* Requests and replies are small (the biggest is a status reply); 16 KiB bounds what a
 * client can make the daemon parse and still leaves room for growth. */
#define CONTROL_MSG_MAX (16 * 1024)
/* Concurrent connections: the client opens one per command; more than this is abuse. */
#define CONTROL_CONN_MAX 16
/* A connection with no request for this long is closed. */
#define CONTROL_IDLE_USEC (30 * USEC_PER_SEC)
/* JSON nesting accepted in a request (requests are flat objects). */
#define CONTROL_JSON_DEPTH 4
#define CONTROL_SOCKET_NAME "control"

struct control;

/* Handles one request: req is the parsed object (with a string "cmd"); fill reply (an
 * empty object) with "ok" and the command's fields, or return -errno with a message in
 * why (the module replies {"ok": false, "error": why, "code": the errno's name}). */
typedef int (*control_handler)(void *userdata, const char *cmd, struct json_object *req,
                               struct json_object *reply, char *why, size_t whysz);

/* Creates runtime_dir/control (replacing a stale socket) and starts accepting. Returns
 * 0 or -errno (the path is too long, the directory is missing or not writable). */
int control_new(sd_event *event, const char *runtime_dir, control_handler handler, void *userdata,
                struct control **ret);
/* Closes every connection and removes the socket file. */
void control_free(struct control *c);

/* Whether a peer with these credentials may use the socket: root, the daemon's uid, or
 * the daemon's gid as primary or supplementary group. Pure; exposed for tests. */
bool control_peer_allowed(uid_t peer_uid, gid_t peer_gid, const gid_t *peer_groups, size_t n_groups,
                          uid_t our_uid, gid_t our_gid);

#endif
