/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for control: who may use the socket, which connection makes room for a new
 * peer, and the socket under a real sd-event loop: a new peer is served when every
 * slot is held, and only the daemon's own socket file is removed. (Requests and
 * refusals are exercised against the running daemon in tests/integration/test_control.py,
 * deadlines and floods in tests/adversarial/test_sockets.py.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

static void test_peer_allowed(void **state)
{
        const gid_t groups[] = { 100, 27, 998 };

        (void)state;
        /* The daemon runs as leakwatch (uid 990, gid 998). */
        assert_true(control_peer_allowed(0, 0, NULL, 0, 990, 998));         /* root */
        assert_true(control_peer_allowed(990, 990, NULL, 0, 990, 998));     /* itself */
        assert_true(control_peer_allowed(1000, 998, NULL, 0, 990, 998));    /* primary group */
        assert_true(control_peer_allowed(1000, 1000, groups, 3, 990, 998)); /* supplementary */
        assert_false(control_peer_allowed(1000, 1000, groups, 2, 990, 998));
        assert_false(control_peer_allowed(1000, 1000, NULL, 0, 990, 998));
        assert_false(control_peer_allowed(65534, 65534, NULL, 0, 990, 998));
}

static void test_pick_evictee(void **state)
{
        (void)state;
        /* One user holds all but one: their oldest goes, not the other user's older one. */
        {
                const struct control_peer p[] = {
                        { .uid = 0, .since = 1 }, { .uid = 1000, .since = 2 }, { .uid = 1000, .since = 3 },
                        { .uid = 1000, .since = 4 },
                };
                assert_int_equal(control_pick_evictee(p, ELEMENTSOF(p)), 1);
        }
        /* A refused peer goes first, whoever holds more. */
        {
                const struct control_peer p[] = {
                        { .uid = 1000, .since = 1 }, { .uid = 1000, .since = 2 }, { .uid = 65534, .since = 9, .refused = true },
                        { .uid = 65534, .since = 5, .refused = true },
                };
                assert_int_equal(control_pick_evictee(p, ELEMENTSOF(p)), 3);
        }
        /* A tie between users: the oldest of their connections. */
        {
                const struct control_peer p[] = {
                        { .uid = 1, .since = 5 }, { .uid = 2, .since = 3 }, { .uid = 1, .since = 4 },
                        { .uid = 2, .since = 6 }, { .uid = 3, .since = 1 },
                };
                assert_int_equal(control_pick_evictee(p, ELEMENTSOF(p)), 1);
        }
        /* Every user with one: the oldest. */
        {
                const struct control_peer p[] = { { .uid = 1, .since = 5 }, { .uid = 2, .since = 3 }, { .uid = 3, .since = 4 } };
                assert_int_equal(control_pick_evictee(p, ELEMENTSOF(p)), 1);
        }
        {
                const struct control_peer p[] = { { .uid = 7, .since = 5 } };
                assert_int_equal(control_pick_evictee(p, 1), 0);
        }
}

/* ---- the socket ---- */

static int handle(void *userdata, const char *cmd, struct json_object *req UNUSED, struct json_object *reply,
                  char *why, size_t whysz)
{
        int *calls = userdata;

        (*calls)++;
        if (strcmp(cmd, "status") != 0) {
                snprintf(why, whysz, "unknown command");
                return -EOPNOTSUPP;
        }
        json_object_object_add(reply, "answer", json_object_new_int(42));
        return 0;
}

static int connect_to(const char *dir)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, CONTROL_SOCKET_NAME);
        assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return fd;
}

/* Runs the loop until fd has a message (returned in buf, NUL-terminated) or end of
 * file (returns 0); fails the test after 5 s. */
static ssize_t await(sd_event *e, int fd, char *buf, size_t sz)
{
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 5 * USEC_PER_SEC;

        for (;;) {
                ssize_t n = recv(fd, buf, sz - 1, MSG_DONTWAIT);

                if (n >= 0) {
                        buf[n] = '\0';
                        return n;
                }
                assert_int_equal(errno, EAGAIN);
                if (now_usec(CLOCK_MONOTONIC) > deadline)
                        fail_msg("no reply within 5 s");
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        }
}

static void spin(sd_event *e, int rounds)
{
        for (int i = 0; i < rounds; i++)
                assert_true(sd_event_run(e, USEC_PER_MSEC) >= 0);
}

/* Every slot held by one user re-sending requests: a new peer is still answered, and
 * the connection that made room for it is the holder's oldest, told why. */
static void test_room_for_new_peer(void **state)
{
        char dir[] = "/tmp/leakwatch-test-control-XXXXXX", buf[CONTROL_MSG_MAX + 1];
        const char *req = "{\"cmd\":\"status\"}";
        int held[CONTROL_CONN_MAX], fd, calls = 0;
        struct control *c;
        sd_event *e;

        (void)state;
        assert_non_null(mkdtemp(dir));
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(control_new(e, dir, handle, &calls, &c), 0);
        for (size_t i = 0; i < ELEMENTSOF(held); i++) {
                held[i] = connect_to(dir);
                spin(e, 4);
                /* Each holder is in use: it asked and was answered. */
                assert_int_equal(send(held[i], req, strlen(req), 0), (ssize_t)strlen(req));
                assert_true(await(e, held[i], buf, sizeof(buf)) > 0);
                assert_non_null(strstr(buf, "\"ok\":true"));
        }
        fd = connect_to(dir);
        assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
        assert_true(await(e, fd, buf, sizeof(buf)) > 0);
        assert_non_null(strstr(buf, "\"answer\":42"));
        assert_non_null(strstr(buf, "\"ok\":true"));
        assert_int_equal(calls, CONTROL_CONN_MAX + 1);
        /* The oldest holder: told, then hung up on. */
        assert_true(await(e, held[0], buf, sizeof(buf)) > 0);
        assert_non_null(strstr(buf, "\"code\":\"EBUSY\""));
        assert_int_equal(await(e, held[0], buf, sizeof(buf)), 0);
        /* The others still have their connection. */
        for (size_t i = 1; i < ELEMENTSOF(held); i++) {
                assert_int_equal(send(held[i], req, strlen(req), 0), (ssize_t)strlen(req));
                assert_true(await(e, held[i], buf, sizeof(buf)) > 0);
                assert_non_null(strstr(buf, "\"ok\":true"));
        }
        close(fd);
        for (size_t i = 0; i < ELEMENTSOF(held); i++)
                close(held[i]);
        control_free(c);
        sd_event_unref(e);
        assert_int_equal(rmdir(dir), 0);
}

/* The socket file is removed at the end only if it is still the one made. */
static void test_removes_only_its_socket(void **state)
{
        char dir[] = "/tmp/leakwatch-test-control-XXXXXX", path[sizeof(dir) + sizeof(CONTROL_SOCKET_NAME)];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct control *c;
        struct stat st;
        sd_event *e;
        int calls = 0, other;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/%s", dir, CONTROL_SOCKET_NAME);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(control_new(e, dir, handle, &calls, &c), 0);
        assert_int_equal(lstat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0660);
        control_free(c);
        assert_int_equal(lstat(path, &st), -1);

        assert_int_equal(control_new(e, dir, handle, &calls, &c), 0);
        /* Someone else's socket at the path meanwhile. */
        assert_int_equal(unlink(path), 0);
        other = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        assert_true(strlen(path) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, path, strlen(path) + 1);
        assert_int_equal(bind(other, (struct sockaddr *)&sa, sizeof(sa)), 0);
        control_free(c);
        assert_int_equal(lstat(path, &st), 0);
        close(other);
        assert_int_equal(unlink(path), 0);
        sd_event_unref(e);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_peer_allowed),
                cmocka_unit_test(test_pick_evictee),
                cmocka_unit_test(test_room_for_new_peer),
                cmocka_unit_test(test_removes_only_its_socket),
        };

        return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
