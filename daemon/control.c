/* SPDX-License-Identifier: GPL-2.0-or-later */
/* control: the daemon's control socket — bounded JSON requests over SOCK_SEQPACKET,
 * checked peers, replies from main's handler, connections with a deadline and room for
 * a new peer. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Supplementary groups read per peer; a user in more than this many groups is judged by
 * the first ones (the kernel's own limit is 65536). */
#define PEER_GROUPS_MAX 256

struct conn {
        struct control *c;
        struct conn *next;
        int fd;
        uid_t uid;
        usec_t since;                   /* accepted */
        bool refused;                   /* told "no": input is read and dropped until EOF */
        sd_event_source *io, *timer;
};

struct control {
        sd_event *event;
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        dev_t dev;                      /* the socket file made, so that only it is removed */
        ino_t ino;
        int fd;
        sd_event_source *io;            /* off while no slot can be had */
        sd_event_source *resume;        /* when a connection's grace ends */
        control_handler handler;
        void *userdata;
        struct conn *conns;
        unsigned n_conns;
};

bool control_peer_allowed(uid_t peer_uid, gid_t peer_gid, const gid_t *peer_groups, size_t n_groups,
                          uid_t our_uid, gid_t our_gid)
{
        if (peer_uid == 0 || peer_uid == our_uid || peer_gid == our_gid)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (peer_groups[i] == our_gid)
                        return true;
        return false;
}

size_t control_pick_evictee(const struct control_peer *peers, size_t n)
{
        size_t best = 0, best_count = 0;

        for (size_t i = 0; i < n; i++) {
                size_t count = 0;

                if (peers[i].refused) {
                        if (!peers[best].refused || peers[i].since < peers[best].since)
                                best = i;
                        continue;
                }
                if (peers[best].refused)
                        continue;
                /* n is at most CONTROL_CONN_MAX: counting each user's share again for
                 * every connection costs nothing. */
                for (size_t j = 0; j < n; j++)
                        count += !peers[j].refused && peers[j].uid == peers[i].uid;
                if (count > best_count || (count == best_count && peers[i].since < peers[best].since)) {
                        best = i;
                        best_count = count;
                }
        }
        return best;
}

static void conn_free(struct conn *k)
{
        struct control *c = k->c;
        struct conn **p;

        for (p = &c->conns; *p; p = &(*p)->next)
                if (*p == k) {
                        *p = k->next;
                        break;
                }
        c->n_conns--;
        sd_event_source_disable_unref(k->io);
        sd_event_source_disable_unref(k->timer);
        safe_close(k->fd);
        free(k);
        /* A slot is free: peers waiting in the backlog may come in. */
        if (c->io)
                (void)sd_event_source_set_enabled(c->io, SD_EVENT_ON);
}

static void send_json(int fd, struct json_object *o)
{
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

        /* A peer that does not read its replies loses them; the daemon never waits. */
        if (text)
                (void)send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* err (a positive errno) also goes out by name ("code": "ENOENT"), so a client can
 * tell "no such process" from "not allowed" without reading the words. */
static void send_error(int fd, const char *why, int err)
{
        struct json_object *o = json_object_new_object();
        const char *code = strerrorname_np(err);

        json_object_object_add(o, "ok", json_object_new_boolean(false));
        json_object_object_add(o, "error", json_object_new_string(why));
        if (code)
                json_object_object_add(o, "code", json_object_new_string(code));
        send_json(fd, o);
        json_object_put(o);
}

/* Parses one request strictly: a JSON object, nothing after it, bounded depth, with a
 * string "cmd". Returns the object or NULL with why filled. */
static struct json_object *parse_request(const char *buf, size_t len, char *why, size_t whysz)
{
        struct json_tokener *tok = json_tokener_new_ex(CONTROL_JSON_DEPTH);
        struct json_object *o, *cmd;

        if (!tok) {
                snprintf(why, whysz, "out of memory");
                return NULL;
        }
        o = json_tokener_parse_ex(tok, buf, (int)len);
        if (!o || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != len) {
                snprintf(why, whysz, "malformed request: expected one JSON object");
                json_object_put(o);
                json_tokener_free(tok);
                return NULL;
        }
        json_tokener_free(tok);
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "cmd", &cmd) ||
            !json_object_is_type(cmd, json_type_string)) {
                snprintf(why, whysz, "malformed request: an object with a string \"cmd\" is expected");
                json_object_put(o);
                return NULL;
        }
        return o;
}

static int on_conn_io(sd_event_source *s UNUSED, int fd, uint32_t revents, void *userdata)
{
        struct conn *k = userdata;
        char buf[CONTROL_MSG_MAX + 1], why[256] = "";
        struct json_object *req, *reply, *cmd;
        ssize_t n;
        int r;

        if (revents & (EPOLLHUP | EPOLLERR)) {
                conn_free(k);
                return 0;
        }
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        conn_free(k);
                return 0;
        }
        if (n == 0) {
                conn_free(k);
                return 0;
        }
        if (k->refused)
                return 0;
        if ((size_t)n > CONTROL_MSG_MAX) {
                /* MSG_TRUNC reports the real length: refuse rather than parse a prefix. */
                snprintf(why, sizeof(why), "request too long (%zd bytes, at most %d)", n, CONTROL_MSG_MAX);
                send_error(fd, why, EMSGSIZE);
                return 0;
        }
        req = parse_request(buf, (size_t)n, why, sizeof(why));
        if (!req) {
                send_error(fd, why, EINVAL);
                return 0;
        }
        json_object_object_get_ex(req, "cmd", &cmd);
        reply = json_object_new_object();
        r = k->c->handler(k->c->userdata, json_object_get_string(cmd), req, reply, why, sizeof(why));
        if (r < 0) {
                send_error(fd, why[0] ? why : strerror(-r), -r);
        } else {
                json_object_object_add(reply, "ok", json_object_new_boolean(true));
                send_json(fd, reply);
        }
        json_object_put(reply);
        json_object_put(req);
        return 0;
}

static int on_conn_deadline(sd_event_source *s UNUSED, uint64_t usec UNUSED, void *userdata)
{
        conn_free(userdata);
        return 0;
}

static usec_t loop_now(struct control *c)
{
        uint64_t now;

        if (sd_event_now(c->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        return now;
}

/* Whether k may be closed at now for a new peer: it was refused, or has had its grace. */
static bool evictable(const struct conn *k, usec_t now)
{
        return k->refused || k->since + CONTROL_GRACE_USEC <= now;
}

/* All connections are taken: closes one for a new peer, chosen by
 * control_pick_evictee() among those that may be closed (on_accept() made sure one
 * may). */
static void make_room(struct control *c, usec_t now)
{
        struct control_peer peers[CONTROL_CONN_MAX];
        struct conn *k, *victims[CONTROL_CONN_MAX];
        size_t n = 0;

        for (k = c->conns; k && n < ELEMENTSOF(peers); k = k->next)
                if (evictable(k, now)) {
                        peers[n] = (struct control_peer){ .uid = k->uid, .since = k->since, .refused = k->refused };
                        victims[n++] = k;
                }
        if (n == 0)
                return;
        /* The list is newest first; control_pick_evictee() wants them as they came. */
        for (size_t i = 0; i < n / 2; i++) {
                struct control_peer p = peers[i];

                peers[i] = peers[n - 1 - i];
                peers[n - 1 - i] = p;
                k = victims[i];
                victims[i] = victims[n - 1 - i];
                victims[n - 1 - i] = k;
        }
        k = victims[control_pick_evictee(peers, n)];
        if (!k->refused) {
                char why[96];

                snprintf(why, sizeof(why), "connection closed to make room for another (at most %d at once)",
                         CONTROL_CONN_MAX);
                send_error(k->fd, why, EBUSY);
        }
        conn_free(k);
}

static int on_resume(sd_event_source *s UNUSED, uint64_t usec UNUSED, void *userdata)
{
        struct control *c = userdata;

        (void)sd_event_source_set_enabled(c->io, SD_EVENT_ON);
        return 0;
}

/* Leaves new peers in the backlog until when: no slot can be had before. */
static void pause_accepting(struct control *c, usec_t when)
{
        (void)sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        if (!c->resume) {
                if (sd_event_add_time(c->event, &c->resume, CLOCK_MONOTONIC, when, USEC_PER_MSEC, on_resume, c) < 0)
                        (void)sd_event_source_set_enabled(c->io, SD_EVENT_ON);
                return;
        }
        (void)sd_event_source_set_time(c->resume, when);
        (void)sd_event_source_set_enabled(c->resume, SD_EVENT_ONESHOT);
}

static int on_accept(sd_event_source *s UNUSED, int fd, uint32_t revents UNUSED, void *userdata)
{
        struct control *c = userdata;
        gid_t groups[PEER_GROUPS_MAX];
        socklen_t len = sizeof(struct ucred);
        struct ucred cred;
        struct conn *k;
        size_t n_groups = 0;
        usec_t now = loop_now(c);
        bool allowed;
        int cfd, r;

        /* Full, and every connection in its grace: the newcomer waits in the backlog
         * (the kernel's queue, then connect() itself) rather than displace a peer that
         * has just come in and is about to ask. */
        if (c->n_conns >= CONTROL_CONN_MAX) {
                usec_t when = UINT64_MAX;
                bool any = false;

                for (k = c->conns; k; k = k->next) {
                        any = any || evictable(k, now);
                        when = MIN(when, k->since + CONTROL_GRACE_USEC);
                }
                if (!any) {
                        pause_accepting(c, when);
                        return 0;
                }
        }
        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
                return 0;
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                close(cfd);
                return 0;
        }
        len = sizeof(groups);
        /* SO_PEERGROUPS (Linux 4.13) lists the peer's supplementary groups as they were
         * when it connected; without it, only the primary group counts. */
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0)
                n_groups = len / sizeof(gid_t);
        allowed = control_peer_allowed(cred.uid, cred.gid, groups, n_groups, getuid(), getgid());
        if (c->n_conns >= CONTROL_CONN_MAX) {
                /* A peer that may not use the socket gets no slot at the expense of one
                 * that may: it is told no and hung up on. */
                if (!allowed) {
                        send_error(cfd, "permission denied: root or the leakwatch group only", EACCES);
                        close(cfd);
                        return 0;
                }
                make_room(c, now);
        }
        k = calloc(1, sizeof(*k));
        if (!k) {
                close(cfd);
                return 0;
        }
        k->c = c;
        k->fd = cfd;
        k->uid = cred.uid;
        k->since = now;
        if (!allowed) {
                /* Say no, but do not hang up on unread input: closing a socket with a
                 * request still queued resets the peer, which may lose the reply. The
                 * peer's further messages are dropped; its hang-up, the deadline or a
                 * peer that needs the slot ends it. */
                send_error(cfd, "permission denied: root or the leakwatch group only", EACCES);
                k->refused = true;
        }
        r = sd_event_add_io(c->event, &k->io, cfd, EPOLLIN, on_conn_io, k);
        if (r >= 0)
                r = sd_event_add_time(c->event, &k->timer, CLOCK_MONOTONIC, k->since + CONTROL_DEADLINE_USEC,
                                      USEC_PER_SEC / 10, on_conn_deadline, k);
        k->next = c->conns;
        c->conns = k;
        c->n_conns++;
        if (r < 0) {
                conn_free(k);
                return 0;
        }
        /* A client sends its request as it connects: answer it now if it is there,
         * before anyone else comes in. */
        return on_conn_io(k->io, cfd, EPOLLIN, k);
}

int control_new(sd_event *event, const char *runtime_dir, control_handler handler, void *userdata,
                struct control **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct control *c;
        struct stat st;
        mode_t old_mask;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->fd = -1;
        if ((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", runtime_dir, CONTROL_SOCKET_NAME) >=
            sizeof(c->path)) {
                free(c);
                return -ENAMETOOLONG;
        }
        c->event = sd_event_ref(event);
        c->handler = handler;
        c->userdata = userdata;
        memcpy(sa.sun_path, c->path, strlen(c->path));
        c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
                r = -errno;
                goto fail;
        }
        /* A socket left by a daemon that died would make bind() fail (the caller's
         * lock says no daemon is alive); anything else there is not ours to remove. */
        if (lstat(c->path, &st) == 0 && S_ISSOCK(st.st_mode))
                (void)unlink(c->path);
        /* Created under a tight umask, so it is never accessible to others even for an
         * instant, then set to exactly 0660. */
        old_mask = umask(0177);
        r = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        umask(old_mask);
        if (r < 0)
                goto fail;
        if (lstat(c->path, &st) < 0) {
                r = -errno;
                goto fail;
        }
        c->dev = st.st_dev;
        c->ino = st.st_ino;
        if (chmod(c->path, 0660) < 0 || listen(c->fd, CONTROL_CONN_MAX) < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(event, &c->io, c->fd, EPOLLIN, on_accept, c);
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        control_free(c);
        return r;
}

void control_free(struct control *c)
{
        struct stat st;

        if (!c)
                return;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->resume);
        c->io = NULL;
        while (c->conns)
                conn_free(c->conns);
        /* Only the socket this daemon made: never a path it failed to bind, nor a
         * socket someone put there since. */
        if (c->ino && lstat(c->path, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino)
                (void)unlink(c->path);
        safe_close(c->fd);
        sd_event_unref(c->event);
        free(c);
}
