/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-control: requests on the control socket, end to end — the transport and its
 * checks (daemon/control.c) and the daemon's own handler of each command
 * (control_handle() in daemon/main.c, with its argument checks), in a daemon set up the
 * way leakwatchd sets itself up (its own command-line parsing, configuration loading and
 * setup(), on a private database and runtime directory, watching the fixture proc root).
 * The input is sent as one message on a new connection, as the client sends a request,
 * the event loop runs until the reply arrives, and the reply is checked.
 *
 * main.c is compiled into the harness (its main() renamed) to reach the handler and the
 * set-up; nothing in it is replaced.
 *
 * Properties:
 *   - every request gets exactly one reply, a JSON object with a boolean "ok"; a refusal
 *     has an "error" phrase and an errno name as "code"; a request longer than
 *     CONTROL_MSG_MAX is refused with EMSGSIZE, never parsed in part;
 *   - "ok": true only for a JSON object whose "cmd" is a command the daemon has;
 *   - a process a request made the daemon watch can be unwatched again (the harness
 *     does so, which also keeps the daemon's state the same from one input to the
 *     next). */
#include "fuzz.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

int leakwatchd_main(int argc, char **argv);
#define main leakwatchd_main
#include "main.c"
#undef main

/* Replies are small: a status reply is under 1 KiB. Anything this long is a fault. */
#define REPLY_MAX (64 * 1024)
/* Event loop turns to wait for a reply; each waits at most 10 ms for something to do. */
#define TURNS_MAX 500

static char dir[] = "/tmp/leakwatch-fuzz-control-XXXXXX";
static char config_path[sizeof(dir) + 32], db_path[sizeof(dir) + 32], socket_path[sizeof(dir) + 32];
static char proc_root[4096];
static struct daemon d = {
        .db_fail_rl = RATELIMIT_INIT(DB_FAIL_LOG_USEC, 1),
        .overrun_rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 1),
        .cap_rl = RATELIMIT_INIT(60 * USEC_PER_SEC, 1),
        .budget_rl = RATELIMIT_INIT(3600 * USEC_PER_SEC, 1),
};

static void cleanup(void)
{
        static const char *const db_files[] = { "", "-wal", "-shm", "-journal" };
        char p[sizeof(db_path) + 16];

        teardown(&d);
        for (size_t i = 0; i < ELEMENTSOF(db_files); i++) {
                snprintf(p, sizeof(p), "%s%s", db_path, db_files[i]);
                unlink(p);
        }
        unlink(config_path);
        /* The daemon leaves its lock file for the next one (rundir.h). */
        snprintf(p, sizeof(p), "%s/%s", dir, RUNDIR_LOCK_NAME);
        unlink(p);
        rmdir(dir);
}

static void fail(const char *what)
{
        fprintf(stderr, "fuzz-control: %s\n", what);
        exit(EXIT_FAILURE);
}

/* The configuration: sampling once an hour, so no tick comes between two requests and
 * an input always meets the same daemon; errors only in the log. */
static void write_config(void)
{
        FILE *f = fopen(config_path, "we");

        if (!f)
                fail("cannot write the configuration");
        fputs("[daemon]\ninterval = 1h\nwindow = 1d\nlog-level = err\nagent-socket = no\n", f);
        if (fclose(f) != 0)
                fail("cannot write the configuration");
}

int LLVMFuzzerInitialize(int *argc UNUSED, char ***argv UNUSED)
{
        char *args[] = { (char[]){ "leakwatchd" }, (char[]){ "--config" }, config_path, (char[]){ "--db" }, db_path,
                         (char[]){ "--proc-root" }, proc_root, (char[]){ "--runtime-dir" }, dir, NULL };
        sigset_t ss;

        if (!mkdtemp(dir))
                fail("cannot make a temporary directory");
        snprintf(config_path, sizeof(config_path), "%s/leakwatch.conf", dir);
        snprintf(db_path, sizeof(db_path), "%s/leakwatch.db", dir);
        snprintf(socket_path, sizeof(socket_path), "%s/%s", dir, CONTROL_SOCKET_NAME);
        snprintf(proc_root, sizeof(proc_root), "%s/proc/root", fuzz_fixtures());
        write_config();
        atexit(cleanup);

        /* What main() does up to its event loop. */
        optind = 1;
        if (parse_args((int)ELEMENTSOF(args) - 1, args, &d.opt) < 0)
                fail("bad arguments");
        d.cfg = calloc(1, sizeof(*d.cfg));
        if (!d.cfg || load_config(&d.opt, d.cfg) < 0)
                fail("bad configuration");
        log_set_max_level(d.cfg->log_level);
        if (start_sampler(&d) < 0)
                fail("no sampler");
        d.max_watch = raise_fd_limit(d.fds_per_process);
        if (setup(&d) < 0 || !d.control)
                fail("the daemon did not start");
        on_timer(NULL, 0, &d);
        watch_flush(d.watch, now_usec(CLOCK_MONOTONIC), &(struct watch_report){ 0 });

        /* setup() takes these signals through the event loop; here they stay libFuzzer's
         * (an interrupted run still prints its figures). */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &ss, NULL);
        return 0;
}

/* A connection of its own for each request, as the client makes (the daemon closes a
 * connection CONTROL_DEADLINE_USEC after it accepted it, whatever it is doing). */
static int connect_client(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        memcpy(sa.sun_path, socket_path, strlen(socket_path));
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                fail("cannot connect to the control socket");
        return fd;
}

/* Sends one request on a new connection and runs the daemon until the reply (or a
 * hang-up) is there. Returns the reply's length, 0 if the daemon hung up. */
static size_t exchange(const void *req, size_t len, char *reply)
{
        _cleanup_close_ int fd = connect_client();
        ssize_t n;
        int turns;

        if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
                fail("cannot send a request");
        for (turns = 0; turns < TURNS_MAX; turns++) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                if (poll(&p, 1, 0) > 0)
                        break;
                (void)sd_event_run(d.event, 10 * USEC_PER_MSEC);
        }
        FUZZ_CHECK(turns < TURNS_MAX);
        n = recv(fd, reply, REPLY_MAX, MSG_DONTWAIT | MSG_TRUNC);
        FUZZ_CHECK(n >= 0 && n <= REPLY_MAX);
        /* Exactly one reply: nothing else is waiting. */
        if (n > 0)
                FUZZ_CHECK(recv(fd, reply + n, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN);
        return (size_t)n;
}

/* The reply as a JSON object with a boolean "ok"; checks a refusal's fields. */
static struct json_object *check_reply(const char *reply, size_t n, bool *ret_ok)
{
        struct json_tokener *tok = json_tokener_new();
        struct json_object *o, *ok, *v;

        if (!tok)
                abort();
        o = json_tokener_parse_ex(tok, reply, (int)n);
        FUZZ_CHECK(o && json_tokener_get_error(tok) == json_tokener_success);
        FUZZ_CHECK(json_tokener_get_parse_end(tok) == n);
        json_tokener_free(tok);
        FUZZ_CHECK(json_object_is_type(o, json_type_object));
        FUZZ_CHECK(json_object_object_get_ex(o, "ok", &ok) && json_object_is_type(ok, json_type_boolean));
        *ret_ok = json_object_get_boolean(ok);
        if (!*ret_ok) {
                FUZZ_CHECK(json_object_object_get_ex(o, "error", &v) && json_object_is_type(v, json_type_string));
                FUZZ_CHECK(json_object_get_string_len(v) > 0);
                FUZZ_CHECK(json_object_object_get_ex(o, "code", &v) && json_object_is_type(v, json_type_string));
                FUZZ_CHECK(json_object_get_string(v)[0] == 'E');
        }
        return o;
}

static bool is_command(const char *cmd)
{
        return strcmp(cmd, "status") == 0 || strcmp(cmd, "watch") == 0 || strcmp(cmd, "unwatch") == 0 ||
               strcmp(cmd, "reload") == 0;
}

/* Unwatches the process an accepted "watch" request named. */
static void undo_watch(struct json_object *req)
{
        struct json_object *pid, *back, *ok;
        char unwatch[64], reply[REPLY_MAX + 1];
        size_t n;

        FUZZ_CHECK(json_object_object_get_ex(req, "pid", &pid));
        snprintf(unwatch, sizeof(unwatch), "{\"cmd\":\"unwatch\",\"pid\":%" PRId64 "}", json_object_get_int64(pid));
        n = exchange(unwatch, strlen(unwatch), reply);
        FUZZ_CHECK(n > 0);
        back = check_reply(reply, n, &(bool){ false });
        FUZZ_CHECK(json_object_object_get_ex(back, "ok", &ok) && json_object_get_boolean(ok));
        json_object_put(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char reply[REPLY_MAX + 1];
        struct json_object *o, *req, *cmd, *code;
        size_t n;
        bool ok;

        n = exchange(data, size, reply);
        /* A message of no bytes reads as the end of the connection. */
        if (size == 0)
                return 0;
        FUZZ_CHECK(n > 0);
        o = check_reply(reply, n, &ok);
        if (size > CONTROL_MSG_MAX)
                FUZZ_CHECK(!ok && json_object_object_get_ex(o, "code", &code) &&
                           strcmp(json_object_get_string(code), "EMSGSIZE") == 0);
        if (ok) {
                struct json_tokener *tok = json_tokener_new();

                if (!tok)
                        abort();
                req = json_tokener_parse_ex(tok, (const char *)data, (int)size);
                json_tokener_free(tok);
                FUZZ_CHECK(req && json_object_is_type(req, json_type_object));
                FUZZ_CHECK(json_object_object_get_ex(req, "cmd", &cmd) && json_object_is_type(cmd, json_type_string));
                FUZZ_CHECK(is_command(json_object_get_string(cmd)));
                if (strcmp(json_object_get_string(cmd), "watch") == 0)
                        undo_watch(req);
                json_object_put(req);
        }
        json_object_put(o);
        return 0;
}
