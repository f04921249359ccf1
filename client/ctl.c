/* SPDX-License-Identifier: GPL-2.0-or-later */
/* ctl: one request to leakwatchd's control socket and its reply, bounded and checked. */
#include "ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

/* Replies are flat objects; a little nesting is allowed so a later daemon may group
 * fields without breaking this client. */
#define REPLY_JSON_DEPTH 8
/* errno values are below this on Linux (EHWPOISON is 133). */
#define ERRNO_MAX 200

int ctl_socket_path(const char *runtime_dir, char *buf, size_t bufsz)
{
        size_t max = MIN(bufsz, sizeof(((struct sockaddr_un *)0)->sun_path));

        if ((size_t)snprintf(buf, bufsz, "%s/%s", runtime_dir, CONTROL_SOCKET_NAME) >= max)
                return -ENAMETOOLONG;
        return 0;
}

/* The errno whose name the daemon sent ("ENOENT"), or 0. */
static int errno_of_name(const char *name)
{
        for (int e = 1; e < ERRNO_MAX; e++) {
                const char *n = strerrorname_np(e);

                if (n && strcmp(n, name) == 0)
                        return e;
        }
        return 0;
}

static int parse_reply(const char *buf, size_t len, struct ctl_reply *ret)
{
        struct json_tokener *tok = json_tokener_new_ex(REPLY_JSON_DEPTH);
        struct json_object *o, *ok, *v;
        struct ctl_reply r = { 0 };

        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, buf, (int)len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len ||
            !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "ok", &ok) ||
            !json_object_is_type(ok, json_type_boolean)) {
                json_object_put(o);
                json_tokener_free(tok);
                return -EBADMSG;
        }
        json_tokener_free(tok);
        r.obj = o;
        r.ok = json_object_get_boolean(ok);
        if (!r.ok) {
                const char *msg = "no reason given";
                int e = 0;

                if (json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string))
                        msg = json_object_get_string(v);
                str_escape(msg, strlen(msg), r.message, sizeof(r.message));
                if (json_object_object_get_ex(o, "code", &v) && json_object_is_type(v, json_type_string))
                        e = errno_of_name(json_object_get_string(v));
                /* A daemon from before error codes says it in words, and only a refused
                 * peer hears these. */
                else if (strncmp(msg, "permission denied", strlen("permission denied")) == 0)
                        e = EACCES;
                r.error = e ? -e : -EREMOTEIO;
        }
        *ret = r;
        return 0;
}

int ctl_call(const char *runtime_dir, struct json_object *req, int timeout_ms, struct ctl_reply *ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
        _cleanup_close_ int fd = -1;
        const char *text;
        char buf[CONTROL_MSG_MAX + 1];
        ssize_t n;
        int r;

        r = ctl_socket_path(runtime_dir, sa.sun_path, sizeof(sa.sun_path));
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        if (!text)
                return -ENOMEM;
        if (strlen(text) > CONTROL_MSG_MAX)
                return -EMSGSIZE;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        /* A refused peer is answered and hung up on at once, possibly before the
         * request goes out: a failed send still leaves that reply to read. */
        if (send(fd, text, strlen(text), MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
                return errno == EAGAIN ? -ETIMEDOUT : -errno;
        /* A daemon that hangs up with our request unread (a refused peer) makes the
         * kernel report ECONNRESET once, before the reply it queued for us: the next
         * read returns the reply, or end of file if there was none. */
        for (bool reset = false;;) {
                n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
                if (n >= 0)
                        break;
                if (errno == EINTR)
                        continue;
                if (errno != ECONNRESET || reset)
                        break;
                reset = true;
        }
        if (n < 0)
                return errno == EAGAIN ? -ETIMEDOUT : -errno;
        if (n == 0)
                return -ECONNRESET;
        if ((size_t)n > CONTROL_MSG_MAX)
                return -EMSGSIZE;
        return parse_reply(buf, (size_t)n, ret);
}

void ctl_reply_clear(struct ctl_reply *r)
{
        json_object_put(r->obj);
        r->obj = NULL;
}

bool ctl_not_running(int r)
{
        return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR;
}

bool ctl_denied(int r, const struct ctl_reply *reply)
{
        if (r == -EACCES || r == -EPERM)
                return true;
        return r == 0 && reply && !reply->ok && reply->error == -EACCES;
}

static struct json_object *field(const struct ctl_reply *r, const char *key, enum json_type type)
{
        struct json_object *v;

        if (!r->obj || !json_object_object_get_ex(r->obj, key, &v) || !json_object_is_type(v, type))
                return NULL;
        return v;
}

bool ctl_get_int(const struct ctl_reply *r, const char *key, int64_t *ret)
{
        struct json_object *v = field(r, key, json_type_int);

        if (!v)
                return false;
        *ret = json_object_get_int64(v);
        return true;
}

bool ctl_get_double(const struct ctl_reply *r, const char *key, double *ret)
{
        struct json_object *v = field(r, key, json_type_double);

        if (!v)
                v = field(r, key, json_type_int);
        if (!v)
                return false;
        *ret = json_object_get_double(v);
        return true;
}

bool ctl_get_bool(const struct ctl_reply *r, const char *key, bool *ret)
{
        struct json_object *v = field(r, key, json_type_boolean);

        if (!v)
                return false;
        *ret = json_object_get_boolean(v);
        return true;
}

const char *ctl_get_string(const struct ctl_reply *r, const char *key)
{
        struct json_object *v = field(r, key, json_type_string);

        return v ? json_object_get_string(v) : NULL;
}
