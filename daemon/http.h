/* SPDX-License-Identifier: GPL-2.0-or-later */
/* http: the metrics endpoint — libmicrohttpd serving one document at /metrics, driven by
 * the daemon's sd-event loop instead of threads of its own.
 *
 * libmicrohttpd runs in its external-epoll mode: its epoll descriptor is an sd-event
 * I/O source and its timeout an sd-event timer, both at a lower priority than the
 * sampling timer. MHD_run() never blocks: a scraper that reads slowly, or sends half a
 * request and waits, only leaves a connection open until its turn comes again, and the
 * loop goes on sampling.
 *
 * The listening socket is this module's, not libmicrohttpd's: it accepts, decides who
 * gets a slot, and hands the connection over. A connection is never left without a way
 * out, and a new one is never left without a way in:
 *   - HTTP_MAX_CONNECTIONS at once;
 *   - each request, from the moment the connection waits for it (accepted, or its
 *     previous answer sent) until its answer is sent, within HTTP_REQUEST_DEADLINE_S,
 *     however the peer trickles its bytes; past it the connection is closed;
 *   - a newcomer is never refused for want of room: the connection that has waited
 *     longest for a request it has not sent is closed to make room, once it has
 *     waited HTTP_GRACE_MS, so holding idle connections keeps nobody out. An address
 *     holding HTTP_PER_ADDRESS_MAX or more gives up its own first, even while slots
 *     are free. Connections whose answer is being sent are never closed for room,
 *     only at their deadline. While no slot can be had, newcomers wait in the listen
 *     backlog, which is read again as soon as one can.
 * What a request can cost is bounded too: headers within libmicrohttpd's per-connection
 * memory pool, one copy of the document each.
 *
 * Answers: GET or HEAD /metrics → 200 with what the handler gives; another path → 404;
 * another method → 405. */
#ifndef LEAKWATCH_HTTP_H
#define LEAKWATCH_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

/* Scrapers at once: Prometheus servers in HA pairs, a person with curl, a few more. */
#define HTTP_MAX_CONNECTIONS 16
/* Connections from one address past which its newcomers displace its own connections
 * rather than anyone else's: a Prometheus server keeps one open between scrapes, a
 * person with curl or a proxy on the same host adds a few. It is a share, not a cap:
 * on the loopback every local user shares 127.0.0.1, and a cap there would let one
 * lock another out. */
#define HTTP_PER_ADDRESS_MAX 4
/* A request must arrive and its answer be taken within this: Prometheus's default
 * scrape timeout, past which the scraper has given up anyway. It is also the idle
 * limit libmicrohttpd enforces on its own, which the deadline always meets first. */
#define HTTP_REQUEST_DEADLINE_S 10
/* A connection may be closed for room only once it has waited this long for a request.
 * A client sends its request as soon as it is connected, so a newcomer is answered
 * before anyone connecting after it can displace it, however fast they reconnect; and
 * each slot turns over at most once per grace, which bounds what connecting in a loop
 * costs the daemon. */
#define HTTP_GRACE_MS 1000

struct http;

/* Fills the document for one request. accept: the request's Accept header, or NULL.
 * *ret_body stays valid until the next call; the server copies it. Returns 0, or
 * -errno (the client gets a 500). */
typedef int (*http_document_fn)(void *userdata, const char *accept, const char **ret_body, size_t *ret_len,
                                const char **ret_content_type);

struct http_opts {
        int listen_fd;                  /* a listening stream socket to serve (socket
                                         * activation), taken over; or -1 to bind addr */
        const struct sockaddr *addr;    /* when listen_fd is -1 */
        socklen_t addr_len;
        http_document_fn document;
        void *userdata;
};

/* Starts serving on event. Returns 0, or -errno: -EADDRINUSE, -EACCES, ... from
 * binding; -ENOTSOCK or -EINVAL for a listen_fd that is not a listening stream socket;
 * -EIO if libmicrohttpd refused to start. opts->listen_fd is closed on failure too. */
int http_new(sd_event *event, const struct http_opts *opts, struct http **ret);
/* Closes every connection and the listening socket. Accepts NULL. */
void http_free(struct http *h);

/* What the endpoint did to keep its slots free, since it started. */
struct http_stats {
        uint64_t accepted;              /* connections handed to libmicrohttpd */
        uint64_t evicted;               /* closed to make room for a new one */
        uint64_t expired;               /* closed at their request deadline */
        uint64_t refused;               /* closed at once: libmicrohttpd could not take them */
};
void http_get_stats(const struct http *h, struct http_stats *ret);

/* The address served, as "127.0.0.1:9184" or "[::1]:9184" (a port 0 asked for is
 * shown as the one the kernel chose). Returns 0 or -errno. */
int http_address(const struct http *h, char *buf, size_t bufsz);

/* The listening socket systemd passed under FileDescriptorName=name (socket
 * activation), or -ENOENT if there is none; the environment is left for others.
 * Returns -ENOTSOCK if the descriptor of that name is not a listening stream socket. */
int http_socket_from_systemd(const char *name);

#endif
