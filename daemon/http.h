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
 *   - HTTP_MAX_CONNECTIONS at once, at most HTTP_PER_ADDRESS_MAX of them from one address;
 *   - each request, from the moment the connection waits for it (accepted, or its
 *     previous answer sent) until its answer is sent, within HTTP_REQUEST_DEADLINE_S,
 *     however the peer trickles its bytes; past it the connection is closed;
 *   - when a slot is needed (all taken, or the address has its share), the connection
 *     that has waited longest for a request it has not sent is closed to make room:
 *     holding idle connections keeps nobody out. Connections whose answer is being
 *     sent are never closed for room, only at their deadline; while all slots are such,
 *     new connections wait in the listen backlog.
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
/* Connections from one address: a Prometheus server keeps one open between scrapes, and
 * a person with curl or a proxy on the same host adds a few. On the loopback every local
 * user shares 127.0.0.1 (and may pick any of 127.0.0.0/8), so this bounds what one
 * address takes, and room-making, not refusal, keeps the others in. */
#define HTTP_PER_ADDRESS_MAX 4
/* A request must arrive and its answer be taken within this: Prometheus's default
 * scrape timeout, past which the scraper has given up anyway. It is also the idle
 * limit libmicrohttpd enforces on its own, which the deadline always meets first. */
#define HTTP_REQUEST_DEADLINE_S 10

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
        uint64_t refused;               /* closed at once: their address had its share, all busy */
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
