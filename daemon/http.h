/* http: the metrics endpoint — libmicrohttpd serving one document at /metrics, driven by
 * the daemon's sd-event loop instead of threads of its own.
 *
 * libmicrohttpd runs in its external-epoll mode: its epoll descriptor is an sd-event
 * I/O source and its timeout an sd-event timer, both at a lower priority than the
 * sampling timer. MHD_run() never blocks: a scraper that reads slowly, or sends half a
 * request and waits, only leaves a connection open until its turn comes again, and the
 * loop goes on sampling. What a request can cost is bounded: HTTP_MAX_CONNECTIONS at
 * once, each idle for at most HTTP_IDLE_TIMEOUT_S, headers within libmicrohttpd's
 * per-connection memory pool, and one copy of the document each.
 *
 * Answers: GET or HEAD /metrics → 200 with what the handler gives; another path → 404;
 * another method → 405. */
#ifndef LEAKWATCH_HTTP_H
#define LEAKWATCH_HTTP_H

#include <stddef.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>

/* Scrapers at once: Prometheus servers in HA pairs, a person with curl, a few more;
 * every connection past it waits in the listen backlog instead of costing memory. */
#define HTTP_MAX_CONNECTIONS 16
/* A connection idle this long is closed: Prometheus's default scrape timeout, so a
 * scraper still waiting is never cut off, and a stalled one does not hold a slot. */
#define HTTP_IDLE_TIMEOUT_S 10

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

/* The address served, as "127.0.0.1:9184" or "[::1]:9184" (a port 0 asked for is
 * shown as the one the kernel chose). Returns 0 or -errno. */
int http_address(const struct http *h, char *buf, size_t bufsz);

/* The listening socket systemd passed under FileDescriptorName=name (socket
 * activation), or -ENOENT if there is none; the environment is left for others.
 * Returns -ENOTSOCK if the descriptor of that name is not a listening stream socket. */
int http_socket_from_systemd(const char *name);

#endif
