/* SPDX-License-Identifier: GPL-2.0-or-later */
/* http: the metrics endpoint, libmicrohttpd in external-epoll mode under sd-event.
 *
 * The loop sees three sources: the listening socket (ours), libmicrohttpd's epoll
 * descriptor (readable when any of its connections has work) and a one-shot timer at
 * the earliest of the deadline MHD_get_timeout() gives (data already buffered, an idle
 * connection to close) and the connections' request deadlines. Each runs MHD_run(),
 * which does what is ready without blocking, and then the timer is set again. All run
 * after the sampling timer when they are ready at the same time.
 *
 * Why the listening socket is ours: given one, libmicrohttpd takes it out of its epoll
 * set when it reaches its connection limit and puts it back only at the start of a
 * later MHD_run(). Under an outside loop nothing calls that run: once the last
 * connection is gone neither its epoll descriptor nor its timeout ever fires again, and
 * the endpoint stops accepting for good, with the kernel's backlog filling behind it.
 * Accepting here also lets a new connection take the slot of an idle one, which
 * libmicrohttpd cannot do.
 *
 * libmicrohttpd tells us of each connection it starts and closes (its socket context
 * holds our struct conn) and of each request it completes. To close a connection we
 * shut its socket down: libmicrohttpd sees the hang-up on its next run, closes it and
 * frees the slot; the descriptor stays its own to close. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "util.h"

/* Connections the kernel holds while they wait for a slot. Past it the kernel drops a
 * connection attempt and the client tries again only a second later (then 3 s, 7 s),
 * so it has room for a flood several times the slots; and at the slowest, when every
 * slot is held by a connection in its grace, slots turn over HTTP_MAX_CONNECTIONS per
 * grace, so the last of these waits four graces, within a scrape timeout. */
#define LISTEN_BACKLOG 64
/* After the sampling timer (priority 0): a scrape never runs ahead of a tick. */
#define HTTP_PRIORITY 10
#define REQUEST_DEADLINE_USEC ((usec_t)HTTP_REQUEST_DEADLINE_S * USEC_PER_SEC)
#define GRACE_USEC ((usec_t)HTTP_GRACE_MS * USEC_PER_MSEC)
/* accept() failing for want of descriptors or memory leaves the connection in the
 * backlog, and the socket readable: wait this long before trying again rather than
 * spin. */
#define ACCEPT_RETRY_USEC (100 * USEC_PER_MSEC)

struct conn {
        struct http *h;
        struct conn *prev, *next;
        int fd;                         /* libmicrohttpd's: shut down, never closed here */
        struct sockaddr_storage addr;
        usec_t since;                   /* accepted, or its last answer sent */
        bool answering;                 /* an answer is queued and being sent */
        bool closing;                   /* shut down by us; gone at the next MHD_run() */
};

struct http {
        sd_event *event;
        struct MHD_Daemon *mhd;
        sd_event_source *listen, *io, *timer;
        int listen_fd;
        usec_t paused_until;            /* no accept() before this (0: none) */
        struct conn *conns;
        unsigned n_open;                /* connections not closing */
        struct http_stats stats;
        http_document_fn document;
        void *userdata;
};

static usec_t loop_now(struct http *h)
{
        uint64_t now;

        if (sd_event_now(h->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        return now;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        return info ? info->socket_context : NULL;
}

/* Shuts k down: libmicrohttpd closes it on its next run. */
static void conn_close(struct conn *k)
{
        if (k->closing)
                return;
        (void)shutdown(k->fd, SHUT_RDWR);
        k->closing = true;
        k->h->n_open--;
}

/* ---- requests ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const char *body,
                             size_t len, bool copy)
{
        struct MHD_Response *resp;
        enum MHD_Result r;

        resp = MHD_create_response_from_buffer(len, (void *)body,
                                               copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return MHD_NO;
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
            (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        r = MHD_queue_response(c, status, resp);
        /* The connection holds its own reference until the response is sent. */
        MHD_destroy_response(resp);
        if (r == MHD_YES) {
                struct conn *k = conn_of(c);

                /* From here until it is sent, the connection is not one to close for
                 * room: its peer asked and is being answered. */
                if (k)
                        k->answering = true;
        }
        return r;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
        return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg), false);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version UNUSED, const char *upload_data UNUSED,
                                  size_t *upload_data_size, void **req_cls)
{
        static int seen;        /* marks a request whose headers were seen */
        struct http *h = cls;
        const char *body = NULL, *type = NULL;
        size_t len = 0;

        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Only GET and HEAD are served here.\n");
        /* The first call has the headers only; answer once the request is complete, so
         * a body sent with a GET is read and dropped rather than left in the socket. */
        if (!*req_cls) {
                *req_cls = &seen;
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (strcmp(url, "/metrics") != 0)
                return reply_text(c, MHD_HTTP_NOT_FOUND, "Not found: the metrics are at /metrics.\n");
        if (h->document(h->userdata, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
                        &body, &len, &type) < 0)
                return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "The metrics could not be built.\n");
        return reply(c, MHD_HTTP_OK, type, body, len, true);
}

/* ---- connections and the loop ---- */

/* An answer was sent (or the connection failed during it): the connection waits for
 * its next request, under a new deadline. */
static void on_completed(void *cls UNUSED, struct MHD_Connection *c, void **req_cls UNUSED,
                         enum MHD_RequestTerminationCode toe UNUSED)
{
        struct conn *k = conn_of(c);

        if (k) {
                k->answering = false;
                k->since = loop_now(k->h);
        }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
        struct http *h = cls;
        struct conn *k = *socket_context;

        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                const union MHD_ConnectionInfo *addr = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

                if (!fd)
                        return;
                k = calloc(1, sizeof(*k));
                if (!k) {
                        /* A connection without a deadline must not hold a slot. */
                        (void)shutdown(fd->connect_fd, SHUT_RDWR);
                        return;
                }
                *k = (struct conn){ .h = h, .fd = fd->connect_fd, .since = loop_now(h), .next = h->conns };
                if (addr && addr->client_addr) {
                        if (addr->client_addr->sa_family == AF_INET)
                                memcpy(&k->addr, addr->client_addr, sizeof(struct sockaddr_in));
                        else if (addr->client_addr->sa_family == AF_INET6)
                                memcpy(&k->addr, addr->client_addr, sizeof(struct sockaddr_in6));
                }
                if (h->conns)
                        h->conns->prev = k;
                h->conns = k;
                h->n_open++;
                *socket_context = k;
        } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && k) {
                if (k->prev)
                        k->prev->next = k->next;
                else
                        h->conns = k->next;
                if (k->next)
                        k->next->prev = k->prev;
                if (!k->closing)
                        h->n_open--;
                free(k);
                *socket_context = NULL;
        }
}

/* Whether a and b are the same peer address (the port aside). Addresses of other
 * families (a Unix socket passed by systemd) are nobody's: no per-address share. */
static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET)
                return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
                       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
        if (a->ss_family == AF_INET6)
                return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                              &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
        return false;
}

/* Whether k's peer has shut its side with nothing left unread, so that it can send no
 * request. libmicrohttpd may not notice until the deadline: it reads an edge-triggered
 * socket until a short read, so an end of file that came with the last bytes of half
 * a request waits for an event that never comes. */
static bool peer_gone(const struct conn *k)
{
        char c;

        return recv(k->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Whether k may be closed at now to make room: it waits for a request (none is being
 * answered) and has had its grace, or its peer is gone. */
static bool evictable(const struct conn *k, usec_t now)
{
        return !k->closing && !k->answering && (k->since + GRACE_USEC <= now || peer_gone(k));
}

/* The connection (from addr, or from anyone if addr is NULL) that may be closed for
 * room and has waited longest for a request, or NULL. */
static struct conn *longest_waiting(struct http *h, const struct sockaddr_storage *addr, usec_t now)
{
        struct conn *best = NULL;

        /* The list is newest first, and connections accepted in one wake-up share a
         * time: on a tie the one found last came first. */
        for (struct conn *k = h->conns; k; k = k->next)
                if (evictable(k, now) && (!addr || same_address(&k->addr, addr)) && (!best || k->since <= best->since))
                        best = k;
        return best;
}

/* When a connection will next be able to make room: the end of a waiting one's grace,
 * or of an answered one's deadline. */
static usec_t next_room(struct http *h)
{
        usec_t t = UINT64_MAX;

        for (struct conn *k = h->conns; k; k = k->next)
                if (!k->closing)
                        t = MIN(t, k->since + (k->answering ? REQUEST_DEADLINE_USEC : GRACE_USEC));
        return t;
}

/* Makes room for a newcomer from addr. An address past its share gives up its own
 * connection that has waited longest for a request, once past its grace; with every
 * slot taken, the connection that has waited longest, whoever's, once past its grace.
 * Returns 0, or -EBUSY if every slot is taken and none may be closed yet (listening
 * then pauses until one may, a grace at most). */
static int make_room(struct http *h, const struct sockaddr_storage *addr, usec_t now)
{
        struct conn *victim = NULL;
        unsigned same = 0;

        for (struct conn *k = h->conns; k; k = k->next)
                same += !k->closing && same_address(&k->addr, addr);
        if (same >= HTTP_PER_ADDRESS_MAX)
                victim = longest_waiting(h, addr, now);
        if (!victim && h->n_open >= HTTP_MAX_CONNECTIONS)
                victim = longest_waiting(h, NULL, now);
        if (!victim) {
                if (h->n_open < HTTP_MAX_CONNECTIONS)
                        return 0;
                h->paused_until = MIN(next_room(h), now + GRACE_USEC);
                return -EBUSY;
        }
        conn_close(victim);
        h->stats.evicted++;
        /* libmicrohttpd holds the slot until it has seen the hang-up and closed the
         * connection: let it, before it counts the new one. */
        (void)MHD_run(h->mhd);
        return 0;
}

/* Sets the timer to the earliest of libmicrohttpd's timeout, the connections' request
 * deadlines and the end of a pause; listens only while a new connection can have a
 * slot (one is free, or a connection may be closed for room), so that connections past
 * the last slot wait in the backlog instead of being accepted and dropped, and the
 * timer then also wakes when a connection's grace ends. */
static void rearm(struct http *h)
{
        MHD_UNSIGNED_LONG_LONG ms;
        usec_t now = loop_now(h), next = UINT64_MAX, room_at = UINT64_MAX;
        bool room = h->n_open < HTTP_MAX_CONNECTIONS;

        /* No timeout MHD sets is longer than a connection's idle limit; the cap only
         * keeps the addition from overflowing. */
        if (MHD_get_timeout(h->mhd, &ms) == MHD_YES)
                next = now + MIN(ms, (MHD_UNSIGNED_LONG_LONG)86400000) * USEC_PER_MSEC;
        for (struct conn *k = h->conns; k; k = k->next)
                if (!k->closing) {
                        next = MIN(next, k->since + REQUEST_DEADLINE_USEC);
                        if (evictable(k, now))
                                room = true;
                        else if (!k->answering)
                                room_at = MIN(room_at, k->since + GRACE_USEC);
                }
        if (!room)
                next = MIN(next, room_at);
        if (h->paused_until > now) {
                next = MIN(next, h->paused_until);
                room = false;
        } else {
                h->paused_until = 0;
        }
        (void)sd_event_source_set_enabled(h->listen, room ? SD_EVENT_ON : SD_EVENT_OFF);
        if (next == UINT64_MAX) {
                (void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
                return;
        }
        (void)sd_event_source_set_time(h->timer, next);
        (void)sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static void run(struct http *h)
{
        (void)MHD_run(h->mhd);
        rearm(h);
}

/* Whether a newcomer can have a slot at now: one is free, or a connection may be
 * closed for it. */
static bool has_room(struct http *h, usec_t now)
{
        if (h->n_open < HTTP_MAX_CONNECTIONS)
                return true;
        for (struct conn *k = h->conns; k; k = k->next)
                if (evictable(k, now))
                        return true;
        return false;
}

static int on_listen(sd_event_source *s UNUSED, int fd, uint32_t revents UNUSED, void *userdata)
{
        struct http *h = userdata;
        usec_t now = loop_now(h);

        /* Up to a slot's worth of connections per wake-up, each handed over and its
         * request (if it came with the connection) answered before the next: a burst
         * is drained at once, leaving the kernel's queue room for a scraper, and the
         * loop has its turn between bursts. */
        for (int i = 0; i < HTTP_MAX_CONNECTIONS && h->paused_until <= now && has_room(h, now); i++) {
                struct sockaddr_storage sa = { 0 };
                socklen_t len = sizeof(sa);
                int cfd;

                cfd = accept4(fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                                h->paused_until = now + ACCEPT_RETRY_USEC;
                        break;
                }
                if (make_room(h, &sa, now) < 0) {
                        /* has_room() said yes: not reached, but a newcomer without a
                         * slot is closed rather than left unserved. */
                        h->stats.refused++;
                        close(cfd);
                        break;
                }
                /* libmicrohttpd closes the socket if it cannot take it. */
                if (MHD_add_connection(h->mhd, cfd, (const struct sockaddr *)&sa, len) == MHD_YES)
                        h->stats.accepted++;
                else
                        h->stats.refused++;
                (void)MHD_run(h->mhd);
        }
        rearm(h);
        return 0;
}

static int on_io(sd_event_source *s UNUSED, int fd UNUSED, uint32_t revents UNUSED, void *userdata)
{
        run(userdata);
        return 0;
}

static int on_timer(sd_event_source *s UNUSED, uint64_t usec UNUSED, void *userdata)
{
        struct http *h = userdata;
        usec_t now = loop_now(h);

        for (struct conn *k = h->conns; k; k = k->next)
                if (!k->closing && k->since + REQUEST_DEADLINE_USEC <= now) {
                        conn_close(k);
                        h->stats.expired++;
                }
        run(h);
        return 0;
}

/* ---- setup ---- */

static int bind_socket(const struct sockaddr *addr, socklen_t len)
{
        int fd, one = 1, r;

        fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A restart must not wait out the old connections' TIME_WAIT. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                goto fail;
        /* [::] means IPv6 only, whatever net.ipv6.bindv6only says: the address given is
         * the address served. */
        if (addr->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
                goto fail;
        if (bind(fd, addr, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
                goto fail;
        return fd;
fail:
        r = -errno;
        close(fd);
        return r;
}

int http_socket_from_systemd(const char *name)
{
        char **names = NULL;
        int n, fd = -ENOENT;

        n = sd_listen_fds_with_names(0, &names);
        for (int i = 0; i < n; i++) {
                if (fd == -ENOENT && names && strcmp(names[i], name) == 0)
                        fd = SD_LISTEN_FDS_START + i;
                free(names ? names[i] : NULL);
        }
        free(names);
        if (fd >= 0 && sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
                return -ENOTSOCK;
        return fd;
}

int http_new(sd_event *event, const struct http_opts *opts, struct http **ret)
{
        struct http *h;
        const union MHD_DaemonInfo *info;
        int fd = opts->listen_fd, flags, r;

        if (fd < 0) {
                if (!opts->addr)
                        return -EINVAL;
                fd = bind_socket(opts->addr, opts->addr_len);
                if (fd < 0)
                        return fd;
        } else {
                r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
                if (r <= 0) {
                        close(fd);
                        return r < 0 ? r : -ENOTSOCK;
                }
                /* Accepting must never block the loop. */
                flags = fcntl(fd, F_GETFL);
                if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                        r = -errno;
                        close(fd);
                        return r;
                }
        }
        h = calloc(1, sizeof(*h));
        if (!h) {
                close(fd);
                return -ENOMEM;
        }
        *h = (struct http){ .event = sd_event_ref(event), .listen_fd = fd, .document = opts->document,
                            .userdata = opts->userdata };
        /* The cap and the idle limit are libmicrohttpd's too, as a backstop: make_room()
         * keeps within the cap, and the request deadline comes before the idle limit.
         * Its per-address limit is not used: it refuses a newcomer outright, where an
         * address past its share here gives up its own oldest connection instead (on
         * the loopback every local user shares 127.0.0.1, and a refusal there would let
         * one lock out another). */
        h->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, h,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_REQUEST_DEADLINE_S,
                                  MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                  MHD_OPTION_END);
        if (!h->mhd) {
                r = -EIO;
                goto fail;
        }
        info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                r = -EIO;
                goto fail;
        }
        r = sd_event_add_io(event, &h->io, info->epoll_fd, EPOLLIN, on_io, h);
        if (r >= 0)
                r = sd_event_add_io(event, &h->listen, fd, EPOLLIN, on_listen, h);
        if (r >= 0)
                r = sd_event_add_time(event, &h->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_timer, h);
        if (r >= 0)
                r = sd_event_source_set_priority(h->io, HTTP_PRIORITY);
        if (r >= 0)
                r = sd_event_source_set_priority(h->listen, HTTP_PRIORITY);
        if (r >= 0)
                r = sd_event_source_set_priority(h->timer, HTTP_PRIORITY);
        if (r < 0)
                goto fail;
        rearm(h);
        *ret = h;
        return 0;

fail:
        http_free(h);
        return r;
}

void http_free(struct http *h)
{
        if (!h)
                return;
        sd_event_source_disable_unref(h->listen);
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        /* Closes the connections (each told to on_connection(), which frees its state). */
        if (h->mhd)
                MHD_stop_daemon(h->mhd);
        safe_close(h->listen_fd);
        sd_event_unref(h->event);
        free(h);
}

void http_get_stats(const struct http *h, struct http_stats *ret)
{
        *ret = h->stats;
}

int http_address(const struct http *h, char *buf, size_t bufsz)
{
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        char host[INET6_ADDRSTRLEN];
        int n;

        if (getsockname(h->listen_fd, (struct sockaddr *)&sa, &len) < 0)
                return -errno;
        if (sa.ss_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&sa;

                inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
                n = snprintf(buf, bufsz, "%s:%u", host, ntohs(a->sin_port));
        } else if (sa.ss_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&sa;

                inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
                n = snprintf(buf, bufsz, "[%s]:%u", host, ntohs(a->sin6_port));
        } else {
                n = snprintf(buf, bufsz, "(a socket of family %d)", sa.ss_family);
        }
        return n >= 0 && (size_t)n < bufsz ? 0 : -ENOBUFS;
}
