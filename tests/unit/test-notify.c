/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-notify: the status line, and the exact datagrams daemon/notify.c sends to a
 * $NOTIFY_SOCKET (a socket of the test's own), and that nothing fails without one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

static void test_status_line(void **state)
{
        static const struct {
                struct notify_status st;
                const char *line;
        } cases[] = {
                { { .processes = 0, .rules = 1, .alerts = -1 }, "Watching 0 processes (1 rule)" },
                { { .processes = 1, .rules = 2, .alerts = -1, .last_tick = 2500 },
                  "Watching 1 process (2 rules); last tick took 2.50ms" },
                { { .processes = 12, .rules = 3, .alerts = 1, .last_tick = 40 },
                  "Watching 12 processes (3 rules); 1 alert; last tick took 0.04ms" },
                { { .processes = 2, .rules = 1, .alerts = -1, .last_tick = 123456 },
                  "Watching 2 processes (1 rule); last tick took 123ms" },
                { { .processes = 1000, .rules = 256, .alerts = 0, .last_tick = 1500 * USEC_PER_MSEC },
                  "Watching 1000 processes (256 rules); 0 alerts; last tick took 1.5s" },
                { { .processes = 5, .rules = 1, .alerts = 7, .db_failing = true, .reload_failed = true },
                  "Watching 5 processes (1 rule); 7 alerts; database unwritable, buffering; "
                  "last reload refused, previous configuration running" },
        };
        char buf[NOTIFY_STATUS_MAX];
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_string_equal(notify_status_format(&cases[i].st, buf, sizeof(buf)), cases[i].line);
}

static void test_status_line_cut(void **state)
{
        struct notify_status st = { .processes = 4000000000u, .rules = 100, .alerts = 99, .db_failing = true };
        char full[NOTIFY_STATUS_MAX], small[20];
        (void)state;

        notify_status_format(&st, full, sizeof(full));
        notify_status_format(&st, small, sizeof(small));
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_memory_equal(small, full, sizeof(small) - 1);
        /* A one-byte buffer holds the terminator only. */
        notify_status_format(&st, small, 1);
        assert_string_equal(small, "");
}

/* A datagram socket bound in a fresh directory, named by $NOTIFY_SOCKET. */
struct listener {
        char dir[64];
        char path[96];
        int fd;
};

static void listen_notify(struct listener *l)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        strcpy(l->dir, "/tmp/test-notify-XXXXXX");
        assert_non_null(mkdtemp(l->dir));
        snprintf(l->path, sizeof(l->path), "%s/notify", l->dir);
        l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(l->fd >= 0);
        strcpy(sa.sun_path, l->path);
        assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(setenv("NOTIFY_SOCKET", l->path, 1), 0);
}

static void unlisten(struct listener *l)
{
        unsetenv("NOTIFY_SOCKET");
        close(l->fd);
        unlink(l->path);
        rmdir(l->dir);
}

/* The next datagram, which must be there already (sd_notify has returned). */
static void expect(struct listener *l, const char *text)
{
        char buf[1024];
        ssize_t n = recv(l->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

        assert_true(n >= 0);
        buf[n] = '\0';
        assert_string_equal(buf, text);
}

static void test_datagrams(void **state)
{
        struct listener l;
        (void)state;

        listen_notify(&l);
        assert_true(notify_ready() > 0);
        expect(&l, "READY=1");
        assert_true(notify_reloading(123456789) > 0);
        expect(&l, "RELOADING=1\nMONOTONIC_USEC=123456789\nSTATUS=Reloading the configuration");
        assert_true(notify_status(&(struct notify_status){ .processes = 3, .rules = 1, .alerts = -1 }) > 0);
        expect(&l, "STATUS=Watching 3 processes (1 rule)");
        assert_true(notify_stopping() > 0);
        expect(&l, "STOPPING=1\nSTATUS=Writing what is pending, then exiting");
        assert_true(notify_failed("configuration has errors", -EINVAL) > 0);
        expect(&l, "STATUS=Failed to start: configuration has errors: Invalid argument\nERRNO=22");
        assert_true(notify_failed(NULL, -ENOENT) > 0);
        expect(&l, "STATUS=Failed to start: No such file or directory\nERRNO=2");
        unlisten(&l);
}

static void test_no_service_manager(void **state)
{
        (void)state;

        unsetenv("NOTIFY_SOCKET");
        assert_int_equal(notify_ready(), 0);
        assert_int_equal(notify_reloading(1), 0);
        assert_int_equal(notify_stopping(), 0);
        assert_int_equal(notify_failed(NULL, -EIO), 0);
        /* A socket that is not there: an error to ignore, never a crash or a hang. */
        setenv("NOTIFY_SOCKET", "/nonexistent/leakwatch-notify", 1);
        assert_true(notify_ready() < 0);
        unsetenv("NOTIFY_SOCKET");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_line),
                cmocka_unit_test(test_status_line_cut),
                cmocka_unit_test(test_datagrams),
                cmocka_unit_test(test_no_service_manager),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
