/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ctl: the client's side of leakwatchd's control socket (daemon/control.h is the
 * daemon's side, lib/proto.h the words both use): one connection per request, one JSON
 * request out, one JSON reply back, both bounded, with a time limit. */
#ifndef LEAKWATCH_CTL_H
#define LEAKWATCH_CTL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A request the daemon answers from memory (status, watch, unwatch) is answered at
 * its next turn of the loop, after at most one tick; 10 s covers a tick stalled on a
 * slow disk. */
#define CTL_TIMEOUT_MS 10000
/* reload reads the configuration and records the rules in the database, which may
 * wait on the database's busy timeout: a minute before calling the daemon stuck. */
#define CTL_RELOAD_TIMEOUT_MS 60000

/* What the daemon said. */
struct ctl_reply {
        struct json_object *obj;        /* the whole reply (owned; ctl_reply_clear() frees) */
        bool ok;
        int error;                      /* !ok: -errno from the reply's "code" (-EACCES for a
                                         * refused peer), -EREMOTEIO when it gave none */
        char message[256];              /* !ok: its "error", escaped (str_escape) */
};

/* The socket's path under runtime_dir into buf. Returns 0 or -ENAMETOOLONG (it must fit
 * sun_path). */
int ctl_socket_path(const char *runtime_dir, char *buf, size_t bufsz);

/* Sends req (a JSON object) to the daemon under runtime_dir and waits up to timeout_ms
 * for the reply. Returns 0 when the daemon answered (ret->ok says how), or -errno when it
 * could not be asked: -ENOENT or -ECONNREFUSED (not running: no socket, or nobody
 * listening), -EACCES/-EPERM (the socket's file mode), -ETIMEDOUT, -ECONNRESET (hung up
 * without a reply), -EBADMSG (the reply is not a JSON object with a boolean "ok"),
 * -EMSGSIZE, -ENAMETOOLONG, -ENOMEM. ret is not written on failure. */
int ctl_call(const char *runtime_dir, struct json_object *req, int timeout_ms, struct ctl_reply *ret);
void ctl_reply_clear(struct ctl_reply *r);

/* True for the errors that mean no daemon is there to ask. */
bool ctl_not_running(int r);
/* True for a refusal: the socket's mode (-EACCES, -EPERM from ctl_call) or the daemon's
 * peer check (a reply with error -EACCES). */
bool ctl_denied(int r, const struct ctl_reply *reply);

/* Typed fields of a reply; false (and *ret untouched) when absent or of another type. */
bool ctl_get_int(const struct ctl_reply *r, const char *key, int64_t *ret);
bool ctl_get_double(const struct ctl_reply *r, const char *key, double *ret);
bool ctl_get_bool(const struct ctl_reply *r, const char *key, bool *ret);
/* A string field, or NULL; valid until ctl_reply_clear(). */
const char *ctl_get_string(const struct ctl_reply *r, const char *key);

#endif
