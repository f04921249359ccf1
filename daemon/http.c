/* http: the metrics endpoint, libmicrohttpd in external-epoll mode under sd-event.
 *
 * The loop sees two sources: libmicrohttpd's epoll descriptor (readable when any of its
 * sockets has work) and a one-shot timer at the deadline MHD_get_timeout() gives (data
 * already buffered, an idle connection to close). Either runs MHD_run(), which does
 * what is ready without blocking, and then the timer is set again. Both sources run
 * after the sampling timer when they are ready at the same time. */
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

/* Pending connections the kernel holds while all HTTP_MAX_CONNECTIONS are busy. */
#define LISTEN_BACKLOG 16
/* After the sampling timer (priority 0): a scrape never runs ahead of a tick. */
#define HTTP_PRIORITY 10

struct http {
        sd_event *event;
        struct MHD_Daemon *mhd;
        sd_event_source *io, *timer;
        int listen_fd;                  /* owned by mhd once it started */
        http_document_fn document;
        void *userdata;
};

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

/* ---- the loop ---- */

static void rearm(struct http *h)
{
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now;

        if (MHD_get_timeout(h->mhd, &ms) != MHD_YES) {
                (void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
                return;
        }
        /* No timeout MHD sets is longer than a connection's idle limit; the cap only
         * keeps the addition from overflowing. */
        ms = MIN(ms, (MHD_UNSIGNED_LONG_LONG)86400000);
        if (sd_event_now(h->event, CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        (void)sd_event_source_set_time(h->timer, now + ms * USEC_PER_MSEC);
        (void)sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s UNUSED, int fd UNUSED, uint32_t revents UNUSED, void *userdata)
{
        struct http *h = userdata;

        (void)MHD_run(h->mhd);
        rearm(h);
        return 0;
}

static int on_timer(sd_event_source *s UNUSED, uint64_t usec UNUSED, void *userdata)
{
        struct http *h = userdata;

        (void)MHD_run(h->mhd);
        rearm(h);
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
        h->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, h,
                                  MHD_OPTION_LISTEN_SOCKET, fd,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
                                  MHD_OPTION_END);
        if (!h->mhd) {
                /* Whether libmicrohttpd closed a socket it was given when it failed is
                 * not documented; nothing else runs in between, so the number is ours
                 * if it is still open. */
                if (fcntl(fd, F_GETFD) >= 0)
                        close(fd);
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
                r = sd_event_add_time(event, &h->timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC, on_timer, h);
        if (r >= 0)
                r = sd_event_source_set_priority(h->io, HTTP_PRIORITY);
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
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        /* Closes the connections and the listening socket. */
        if (h->mhd)
                MHD_stop_daemon(h->mhd);
        sd_event_unref(h->event);
        free(h);
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
