/* Tests for the restart escalation: the pure decision (core/escalate.c) — every refusal,
 * the dry run, the daily cap and the backoff, the forecast check — and the D-Bus side
 * (daemon/restart.c) against a real dbus-daemon on a private bus with a stand-in for
 * systemd's Manager (tests/dbus/fake-manager.c): a request answered with a job, an
 * error answered by the service, one decision per alert and reason, a request that
 * does not block the caller, and the daily count picked up from the database. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "escalate.h"
#include "proc.h"
#include "raw.h"
#include "restart.h"
#include "store.h"
#include "util.h"
#include "tmpdir.h"

#define T0 1700000000000LL
#define MIN_MS (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)

static char unit_a[] = "a.service", unit_b[] = "b.service", unit_fail[] = "fail.service",
            unit_slow[] = "slow.service", rule_name[] = "r";
static char *units_ab[] = { unit_a, unit_b };

static struct rule_cfg restart_rule(void)
{
        return (struct rule_cfg){ .name = rule_name, .escalate = ESCALATE_RESTART, .restart_units = units_ab,
                                  .n_restart_units = 2, .restart_max = 3, .restart_horizon = 3600 };
}

static struct detect_evidence forecast(double s)
{
        struct detect_evidence ev = DETECT_EVIDENCE_NONE;

        ev.forecast = s;
        return ev;
}

static enum restart_reason decide(const struct rule_cfg *r, pid_t pid, const char *unit, const char *self,
                                  double fc, const struct restart_book *b, int64_t now, enum restart_decision *ret)
{
        struct detect_evidence ev = forecast(fc);
        struct restart_input in = { .pid = pid, .unit = unit, .self_unit = self, .ev = &ev, .fc = NULL };
        enum restart_reason why;

        *ret = restart_decide(r, &in, b, now, &why, NULL);
        return why;
}

static void test_refusals(void **state)
{
        struct rule_cfg r = restart_rule(), warn = restart_rule();
        struct restart_book *b;
        enum restart_decision d;

        (void)state;
        assert_int_equal(restart_book_new(&b), 0);
        assert_int_equal(decide(&r, 42, "a.service", "leakwatchd.service", 600, b, T0, &d), RESTART_OK);
        assert_int_equal(d, RESTART_REQUEST);
        warn.escalate = ESCALATE_WARN;
        assert_int_equal(decide(&warn, 42, "a.service", "", 600, b, T0, &d), RESTART_NOT_OPTED_IN);
        assert_int_equal(d, RESTART_REFUSED);
        assert_int_equal(decide(&r, 1, "a.service", "", 600, b, T0, &d), RESTART_PID1);
        assert_int_equal(decide(&r, 42, "", "", 600, b, T0, &d), RESTART_NO_UNIT);
        assert_int_equal(decide(&r, 42, "c.service", "", 600, b, T0, &d), RESTART_NOT_NAMED);
        /* Named by the rule, but leakwatchd's own: never. */
        assert_int_equal(decide(&r, 42, "a.service", "a.service", 600, b, T0, &d), RESTART_OWN_UNIT);
        assert_int_equal(d, RESTART_REFUSED);
        /* The forecast: beyond the horizon, none at all, or unknown. */
        assert_int_equal(decide(&r, 42, "a.service", "", 3601, b, T0, &d), RESTART_TOO_FAR);
        assert_int_equal(decide(&r, 42, "a.service", "", INFINITY, b, T0, &d), RESTART_TOO_FAR);
        assert_int_equal(decide(&r, 42, "a.service", "", NAN, b, T0, &d), RESTART_TOO_FAR);
        assert_int_equal(decide(&r, 42, "a.service", "", 3600, b, T0, &d), RESTART_OK);
        r.restart_dry_run = true;
        assert_int_equal(decide(&r, 42, "b.service", "", 10, b, T0, &d), RESTART_OK);
        assert_int_equal(d, RESTART_DRY_RUN);
        restart_book_free(b);
}

/* The time to every known limit, when the alert's evaluation read them, is what the
 * restart is judged on; the detector's single forecast only when no limit was read. */
static void test_forecast_of_limits(void **state)
{
        struct rule_cfg r = restart_rule();
        struct restart_book *b;
        struct detect_evidence far = forecast(INFINITY), near = forecast(60);
        double room[LIMIT__MAX];
        struct forecast fc;
        struct restart_input in = { .pid = 42, .unit = "a.service", .self_unit = "", .fc = &fc };
        enum restart_reason why;
        int k;

        (void)state;
        assert_int_equal(restart_book_new(&b), 0);
        for (int i = 0; i < LIMIT__MAX; i++)
                room[i] = NAN;
        /* memory.max 30 min away and memory.high 90 min away at 1 KiB/s: the nearest
         * decides, though the detector's own forecast sees no limit. */
        room[LIMIT_MEMORY_MAX] = 1800 * 1024.0;
        room[LIMIT_MEMORY_HIGH] = 5400 * 1024.0;
        forecast_from_rooms(room, DETECT_MEMORY, 1024, 1024, &fc);
        in.ev = &far;
        assert_int_equal(restart_decide(&r, &in, b, T0, &why, NULL), RESTART_REQUEST);
        assert_int_equal(why, RESTART_OK);
        assert_true(fabs(escalate_forecast(&fc, &far, &k) - 1800) < 1e-9);
        assert_int_equal(k, LIMIT_MEMORY_MAX);
        /* Every known limit beyond the horizon: too far, though the detector's says a minute. */
        room[LIMIT_MEMORY_MAX] = 7200 * 1024.0;
        forecast_from_rooms(room, DETECT_MEMORY, 1024, 1024, &fc);
        in.ev = &near;
        assert_int_equal(restart_decide(&r, &in, b, T0, &why, NULL), RESTART_REFUSED);
        assert_int_equal(why, RESTART_TOO_FAR);
        assert_true(fabs(escalate_forecast(&fc, &near, &k) - 5400) < 1e-9);
        assert_int_equal(k, LIMIT_MEMORY_HIGH);
        /* A descriptor limit does not bound memory: none known, the detector's decides. */
        for (int i = 0; i < LIMIT__MAX; i++)
                room[i] = NAN;
        room[LIMIT_NOFILE] = 10;
        forecast_from_rooms(room, DETECT_MEMORY, 1024, 1024, &fc);
        assert_int_equal(restart_decide(&r, &in, b, T0, &why, NULL), RESTART_REQUEST);
        assert_true(fabs(escalate_forecast(&fc, &near, &k) - 60) < 1e-9);
        assert_int_equal(k, -1);
        in.ev = &far;
        assert_int_equal(restart_decide(&r, &in, b, T0, &why, NULL), RESTART_REFUSED);
        assert_int_equal(why, RESTART_TOO_FAR);
        restart_book_free(b);
}

static void test_rate_and_backoff(void **state)
{
        struct rule_cfg r = restart_rule();
        struct restart_book *b;
        enum restart_decision d;
        enum restart_reason why;
        struct detect_evidence ev = forecast(60);
        struct restart_input in = { .pid = 42, .unit = "a.service", .self_unit = "", .ev = &ev, .fc = NULL };
        int64_t wait, last;

        (void)state;
        assert_int_equal(restart_book_new(&b), 0);
        assert_int_equal(restart_book_add(b, "a.service", T0), 0);
        /* The second restart waits one backoff after the first... */
        d = restart_decide(&r, &in, b, T0 + RESTART_BACKOFF_MS - 1000, &why, &wait);
        assert_int_equal(d, RESTART_REFUSED);
        assert_int_equal(why, RESTART_BACKOFF);
        assert_int_equal(wait, 1000);
        d = restart_decide(&r, &in, b, T0 + RESTART_BACKOFF_MS, &why, &wait);
        assert_int_equal(d, RESTART_REQUEST);
        assert_int_equal(restart_book_add(b, "a.service", T0 + RESTART_BACKOFF_MS), 0);
        /* ...the third twice as long after the second. */
        d = restart_decide(&r, &in, b, T0 + 2 * RESTART_BACKOFF_MS, &why, &wait);
        assert_int_equal(why, RESTART_BACKOFF);
        assert_int_equal(wait, RESTART_BACKOFF_MS);
        d = restart_decide(&r, &in, b, T0 + 3 * RESTART_BACKOFF_MS, &why, NULL);
        assert_int_equal(d, RESTART_REQUEST);
        assert_int_equal(restart_book_add(b, "a.service", T0 + 3 * RESTART_BACKOFF_MS), 0);
        /* restart-max = 3 reached for the day, whatever the backoff says. */
        d = restart_decide(&r, &in, b, T0 + 20 * HOUR_MS, &why, NULL);
        assert_int_equal(why, RESTART_RATE_LIMIT);
        assert_int_equal(restart_book_count(b, "a.service", T0 + 20 * HOUR_MS, &last), 3);
        assert_int_equal(last, T0 + 3 * RESTART_BACKOFF_MS);
        /* Another unit has its own count. */
        in.unit = "b.service";
        assert_int_equal(restart_decide(&r, &in, b, T0 + 20 * HOUR_MS, &why, NULL), RESTART_REQUEST);
        /* A day after the first, it no longer counts. */
        in.unit = "a.service";
        assert_int_equal(restart_book_count(b, "a.service", T0 + 24 * HOUR_MS, NULL), 2);
        d = restart_decide(&r, &in, b, T0 + 24 * HOUR_MS + 3 * RESTART_BACKOFF_MS + 4 * RESTART_BACKOFF_MS, &why,
                           NULL);
        assert_int_equal(d, RESTART_REQUEST);
        /* restart-max = 0: decided and recorded, never done. */
        r.restart_max = 0;
        in.unit = "b.service";
        assert_int_equal(restart_decide(&r, &in, b, T0, &why, NULL), RESTART_REFUSED);
        assert_int_equal(why, RESTART_RATE_LIMIT);
        restart_book_free(b);
}

static void test_unit_names(void **state)
{
        char long_name[PROC_UNIT_MAX + 16];

        (void)state;
        assert_true(escalate_unit_valid("nginx.service"));
        assert_true(escalate_unit_valid("getty@tty1.service"));
        assert_true(escalate_unit_valid("a-b_c:d\\x2d.service"));
        assert_false(escalate_unit_valid(".service"));
        assert_false(escalate_unit_valid("nginx"));
        assert_false(escalate_unit_valid("system.slice"));
        assert_false(escalate_unit_valid("session-1.scope"));
        assert_false(escalate_unit_valid("a b.service"));
        assert_false(escalate_unit_valid("a/b.service"));
        assert_false(escalate_unit_valid("a\n.service"));
        memset(long_name, 'a', sizeof(long_name));
        strcpy(long_name + PROC_UNIT_MAX - 7, ".service");
        assert_false(escalate_unit_valid(long_name));
        strcpy(long_name + PROC_UNIT_MAX - 8, ".service");
        assert_true(escalate_unit_valid(long_name));
        assert_int_equal(escalate_mode_from_name("restart"), ESCALATE_RESTART);
        assert_int_equal(escalate_mode_from_name("evidence"), ESCALATE_EVIDENCE);
        assert_int_equal(escalate_mode_from_name("warn"), ESCALATE_WARN);
        assert_int_equal(escalate_mode_from_name("reboot"), -EINVAL);
}

/* ---- the D-Bus side, on a private bus ---- */

#define RECORDS_MAX 32

struct record {
        struct store_restart row;
        char unit[64], decision[16], reason[96], detail[300];
        int level;
};

struct bus_fixture {
        char dir[64], db[128], calls[128];
        pid_t bus_pid, manager_pid;
        sd_event *event;
        struct store *st;
        struct restarter *x;
        struct record rec[RECORDS_MAX];
        size_t n;
};

static void on_record(void *userdata, const struct store_restart *row, int level)
{
        struct bus_fixture *f = userdata;
        struct record *r;

        assert_true(f->n < RECORDS_MAX);
        r = &f->rec[f->n++];
        r->row = *row;
        r->level = level;
        snprintf(r->unit, sizeof(r->unit), "%s", row->unit ? row->unit : "");
        snprintf(r->decision, sizeof(r->decision), "%s", row->decision);
        snprintf(r->reason, sizeof(r->reason), "%s", row->reason);
        snprintf(r->detail, sizeof(r->detail), "%s", row->detail ? row->detail : "");
}

/* Starts argv with its stdout on a pipe and returns the first line it prints. */
static pid_t spawn_line(char *const argv[], char *line, size_t sz)
{
        int p[2];
        pid_t pid;
        FILE *f;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                /* dbus-daemon's complaints about fd limits are not the test's business. */
                dup2(null, STDERR_FILENO);
                dup2(p[1], STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        close(p[1]);
        f = fdopen(p[0], "r");
        assert_non_null(f);
        line[0] = '\0';
        if (!fgets(line, (int)sz, f))
                line[0] = '\0';
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        return pid;
}

static int bus_setup(void **state)
{
        struct bus_fixture *f = calloc(1, sizeof(*f));
        char exe[PATH_MAX], manager[PATH_MAX + 32], addr[256], listen[128], ready[32];
        char dbus[] = "/usr/bin/dbus-daemon", session[] = "--session", nofork[] = "--nofork",
             print[] = "--print-address";
        ssize_t n;

        assert_non_null(f);
        if (access("/usr/bin/dbus-daemon", X_OK) != 0) {
                free(f);
                *state = NULL;
                return 0;
        }
        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-restart-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->db, sizeof(f->db), "%s/lw.db", f->dir);
        snprintf(f->calls, sizeof(f->calls), "%s/calls", f->dir);
        snprintf(listen, sizeof(listen), "--address=unix:path=%s/bus", f->dir);
        f->bus_pid = spawn_line((char *[]){ dbus, session, nofork, print, listen, NULL }, addr, sizeof(addr));
        assert_true(addr[0]);
        /* The stand-in for systemd sits next to this test in the build tree. */
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        assert_true(n > 0);
        exe[n] = '\0';
        snprintf(manager, sizeof(manager), "%s/fake-manager", dirname(exe));
        f->manager_pid = spawn_line((char *[]){ manager, addr, f->calls, NULL }, ready, sizeof(ready));
        assert_string_equal(ready, "ready");
        /* What sd_bus_open_system() connects to. */
        assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", addr, 1), 0);
        assert_int_equal(sd_event_new(&f->event), 0);
        assert_int_equal(store_open(f->db, STORE_RW, &f->st, NULL, 0), 0);
        *state = f;
        return 0;
}

static int bus_teardown(void **state)
{
        struct bus_fixture *f = *state;

        if (!f)
                return 0;
        restarter_free(f->x);
        store_close(f->st);
        sd_event_unref(f->event);
        kill(f->manager_pid, SIGTERM);
        kill(f->bus_pid, SIGTERM);
        waitpid(f->manager_pid, NULL, 0);
        waitpid(f->bus_pid, NULL, 0);
        unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

/* Turns the loop until n records arrived, for at most 10 s. */
static void wait_records(struct bus_fixture *f, size_t n)
{
        usec_t end = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;

        while (f->n < n && now_usec(CLOCK_MONOTONIC) < end)
                assert_true(sd_event_run(f->event, 100 * 1000) >= 0);
        assert_int_equal(f->n, n);
}

static struct alert leak_alert(int64_t id, pid_t pid, const char *cgroup, double fc)
{
        return (struct alert){
                .event = ALERT_EVENT_START, .metric = DETECT_MEMORY,
                .row = { .id = id, .process_id = 100 + id, .metric = "memory", .state = "leaking",
                         .ev = forecast(fc), .limit_kind = "cgroup" },
                .pid = pid, .uid = 0, .name = "leaky", .cgroup = cgroup, .rule = "r",
        };
}

static void skip_without_bus(void **state)
{
        if (!*state) {
                print_message("SKIP: no /usr/bin/dbus-daemon (Debian package dbus-daemon)\n");
                skip();
        }
}

static void test_bus_requests(void **state)
{
        struct bus_fixture *f;
        struct rule_cfg r = restart_rule();
        char *units[] = { unit_a, unit_fail, unit_slow };
        struct alert a;
        char calls[256] = "";
        FILE *cf;
        usec_t t;

        skip_without_bus(state);
        f = *state;
        r.restart_units = units;
        r.n_restart_units = 3;
        assert_int_equal(restarter_new(&(struct restarter_env){ .event = f->event, .store = f->st,
                                                                .record = on_record, .userdata = f },
                                       "leakwatchd.service", T0, &f->x), 0);

        /* Asked, and answered with a job. */
        a = leak_alert(1, 4242, "/system.slice/a.service", 600);
        restarter_alert(f->x, &r, &a, T0);
        assert_int_equal(f->n, 1);
        assert_string_equal(f->rec[0].decision, "requested");
        assert_string_equal(f->rec[0].unit, "a.service");
        wait_records(f, 2);
        assert_string_equal(f->rec[1].decision, "restarted");
        assert_int_equal(f->rec[1].row.id, f->rec[0].row.id);
        assert_string_equal(f->rec[1].detail, "/org/freedesktop/systemd1/job/1");
        assert_int_equal(f->rec[1].row.alert_id, 1);
        /* The same alert is never acted on twice. */
        a.event = ALERT_EVENT_UPDATE;
        restarter_alert(f->x, &r, &a, T0 + 1000);
        assert_int_equal(f->n, 2);

        /* The service answers with an error: recorded as failed, with its name. */
        a = leak_alert(2, 4243, "/system.slice/fail.service", 600);
        restarter_alert(f->x, &r, &a, T0);
        wait_records(f, 4);
        assert_string_equal(f->rec[3].decision, "failed");
        assert_string_equal(f->rec[3].reason, "org.freedesktop.systemd1.UnitMasked");
        assert_string_equal(f->rec[3].detail, "Unit fail.service is masked.");
        assert_int_equal(f->rec[3].level, LOG_WARNING);
        /* ...and not retried: a later evaluation of that alert asks nothing. */
        a.event = ALERT_EVENT_ESCALATE;
        restarter_alert(f->x, &r, &a, T0 + 60000);
        assert_int_equal(f->n, 4);

        /* A slow systemd does not hold the caller up: the call returns at once. */
        a = leak_alert(3, 4244, "/system.slice/slow.service", 600);
        t = now_usec(CLOCK_MONOTONIC);
        restarter_alert(f->x, &r, &a, T0);
        assert_true(now_usec(CLOCK_MONOTONIC) - t < USEC_PER_SEC / 2);
        assert_int_equal(restarter_pending(f->x), 1);
        wait_records(f, 6);
        assert_string_equal(f->rec[5].decision, "restarted");
        assert_int_equal(restarter_pending(f->x), 0);

        /* What systemd was asked, exactly. */
        cf = fopen(f->calls, "re");
        assert_non_null(cf);
        assert_true(fread(calls, 1, sizeof(calls) - 1, cf) > 0);
        fclose(cf);
        assert_string_equal(calls, "a.service replace\nfail.service replace\nslow.service replace\n");
}

static void test_bus_refusals(void **state)
{
        struct bus_fixture *f;
        struct rule_cfg r = restart_rule(), dry = restart_rule();
        struct alert a;
        struct stat sb;

        skip_without_bus(state);
        f = *state;
        assert_int_equal(restarter_new(&(struct restarter_env){ .event = f->event, .store = f->st,
                                                                .record = on_record, .userdata = f },
                                       "a.service", T0, &f->x), 0);
        /* Not named, own unit, no unit, too far: each recorded once, nothing asked. */
        a = leak_alert(10, 500, "/system.slice/c.service", 600);
        restarter_alert(f->x, &r, &a, T0);
        restarter_alert(f->x, &r, &a, T0 + 1000);
        a = leak_alert(11, 501, "/system.slice/a.service", 600);
        restarter_alert(f->x, &r, &a, T0);
        a = leak_alert(12, 502, "/user.slice", 600);
        restarter_alert(f->x, &r, &a, T0);
        a = leak_alert(13, 503, "/system.slice/b.service", 7200);
        restarter_alert(f->x, &r, &a, T0);
        restarter_alert(f->x, &r, &a, T0 + 1000);
        assert_int_equal(f->n, 4);
        assert_string_equal(f->rec[0].reason, "not-named");
        assert_string_equal(f->rec[1].reason, "own-unit");
        assert_string_equal(f->rec[2].reason, "no-unit");
        assert_string_equal(f->rec[3].reason, "too-far");
        for (size_t i = 0; i < 4; i++)
                assert_string_equal(f->rec[i].decision, "refused");
        /* The forecast comes within the horizon: now it is asked. */
        a.row.ev.forecast = 60;
        a.event = ALERT_EVENT_ESCALATE;
        restarter_alert(f->x, &r, &a, T0 + 2000);
        assert_string_equal(f->rec[4].decision, "requested");
        wait_records(f, 6);
        /* A rule that does not opt in records nothing. */
        r.escalate = ESCALATE_WARN;
        a = leak_alert(14, 504, "/system.slice/b.service", 60);
        restarter_alert(f->x, &r, &a, T0);
        assert_int_equal(f->n, 6);
        /* A dry run decides and records, and asks nothing: no call reached the bus. */
        dry.restart_dry_run = true;
        a = leak_alert(15, 505, "/system.slice/a.service", 60);
        restarter_free(f->x);
        assert_int_equal(restarter_new(&(struct restarter_env){ .event = f->event, .store = f->st,
                                                                .record = on_record, .userdata = f },
                                       "", T0, &f->x), 0);
        restarter_alert(f->x, &dry, &a, T0);
        assert_string_equal(f->rec[6].decision, "dry-run");
        assert_int_equal(stat(f->calls, &sb), 0);
        assert_int_equal(sb.st_size, strlen("b.service replace\n"));
}

/* restart-max counts the day's restarts recorded before the daemon started. */
static void test_book_from_store(void **state)
{
        struct bus_fixture *f;
        struct rule_cfg r = restart_rule();
        struct alert a;

        skip_without_bus(state);
        f = *state;
        r.restart_max = 1;
        assert_int_equal(store_begin(f->st), 0);
        assert_int_equal(store_put(f->st, &(struct store_row){ .kind = STORE_RESTART, .restart = {
                                 .id = 7, .alert_id = 1, .process_id = 1, .t_ms = T0 - HOUR_MS, .unit = "a.service",
                                 .decision = "restarted", .reason = "ok", .forecast = 60, .level = NAN,
                                 .slope = NAN } }), 0);
        assert_int_equal(store_commit(f->st), 0);
        assert_int_equal(restarter_new(&(struct restarter_env){ .event = f->event, .store = f->st,
                                                                .record = on_record, .userdata = f },
                                       "", T0, &f->x), 0);
        a = leak_alert(20, 600, "/system.slice/a.service", 60);
        restarter_alert(f->x, &r, &a, T0);
        assert_int_equal(f->n, 1);
        assert_string_equal(f->rec[0].reason, "rate-limit");
        /* Ids continue after the stored ones. */
        assert_int_equal(f->rec[0].row.id, 8);
}

int main(void)
{
        const struct CMUnitTest pure[] = {
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_forecast_of_limits),
                cmocka_unit_test(test_rate_and_backoff),
                cmocka_unit_test(test_unit_names),
        };
        const struct CMUnitTest bus[] = {
                cmocka_unit_test_setup_teardown(test_bus_requests, bus_setup, bus_teardown),
                cmocka_unit_test_setup_teardown(test_bus_refusals, bus_setup, bus_teardown),
                cmocka_unit_test_setup_teardown(test_book_from_store, bus_setup, bus_teardown),
        };
        int failed = 0;

        failed += cmocka_run_group_tests_name("restart decision", pure, NULL, NULL);
        failed += cmocka_run_group_tests_name("restart over D-Bus", bus, NULL, NULL);
        return failed ? 1 : 0;
}
