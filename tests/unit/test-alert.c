/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for alert: when a verdict opens, escalates, updates or closes an alert, and that
 * the hook's JSON and environment stay valid and safe with hostile process text. */
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alert.h"
#include "util.h"

static struct detect_verdict verdict(enum detect_status prev, enum detect_status now, bool escalated)
{
        return (struct detect_verdict){ .status = now, .previous = prev, .changed = prev != now,
                                        .escalated = escalated, .ev = DETECT_EVIDENCE_NONE };
}

static void test_decide(void **state)
{
        struct detect_verdict v;

        (void)state;
        /* Nothing open: only LEAKING opens, whatever came before. */
        v = verdict(DETECT_OK, DETECT_OK, false);
        assert_int_equal(alert_decide(false, false, &v), ALERT_NONE);
        v = verdict(DETECT_OK, DETECT_SUSPECT, false);
        assert_int_equal(alert_decide(false, false, &v), ALERT_NONE);
        v = verdict(DETECT_SUSPECT, DETECT_LEAKING, true);
        assert_int_equal(alert_decide(false, false, &v), ALERT_OPEN);
        v = verdict(DETECT_LEAKING, DETECT_LEAKING, false);
        assert_int_equal(alert_decide(false, false, &v), ALERT_OPEN);
        v = verdict(DETECT_LEAKING, DETECT_RECOVERED, false);
        assert_int_equal(alert_decide(false, false, &v), ALERT_NONE);

        /* Open: still leaking updates; the forecast crossing the horizon escalates, once. */
        v = verdict(DETECT_LEAKING, DETECT_LEAKING, false);
        assert_int_equal(alert_decide(true, false, &v), ALERT_UPDATE);
        v = verdict(DETECT_LEAKING, DETECT_LEAKING, true);
        assert_int_equal(alert_decide(true, false, &v), ALERT_ESCALATE);
        assert_int_equal(alert_decide(true, true, &v), ALERT_UPDATE);
        /* The escalated flag of the transition into LEAKING is the open, not an escalation. */
        v = verdict(DETECT_SUSPECT, DETECT_LEAKING, true);
        assert_int_equal(alert_decide(true, false, &v), ALERT_UPDATE);
        /* Anything but LEAKING closes. */
        v = verdict(DETECT_LEAKING, DETECT_RECOVERED, false);
        assert_int_equal(alert_decide(true, false, &v), ALERT_CLOSE);
        v = verdict(DETECT_LEAKING, DETECT_OK, false);
        assert_int_equal(alert_decide(true, true, &v), ALERT_CLOSE);
}

static struct alert hostile(void)
{
        return (struct alert){
                .event = ALERT_EVENT_START,
                .t_ms = 1700000000000,
                .metric = DETECT_MEMORY,
                .row = {
                        .id = 42,
                        .process_id = 7,
                        .metric = "memory",
                        .state = "leaking",
                        .start_ms = 1700000000000,
                        .ev = {
                                .slope = 2097152.0 / 60,
                                .slope_low = 1048576.0 / 60,
                                .slope_high = 4194304.0 / 60,
                                .growth = 50 * 1048576.0,
                                .growth_rel = 0.25,
                                .level = 200 * 1048576.0,
                                .p = 0.001,
                                .forecast = 3 * 3600,
                                .t_from = 1699999600,
                                .t_to = 1700000000,
                                .reason = "floor rising in every quarter",
                        },
                        .limit_kind = "cgroup",
                        .kind = "anonymous memory",
                },
                .pid = 4242,
                .uid = 1000,
                .start_ms = 1699999000000,
                /* A name with a newline, a quote, a forged variable and invalid UTF-8. */
                .name = "x\"\n$(rm)\xff",
                .cmdline = "python3 -c 'import os' \x1b[31mred\\",
                .unit = "app.service",
                .cgroup = "/system.slice/app.service",
                .rule = "web",
                .boot_id = "26f01406-2b63-4150-8a67-2e9f7a41ef82",
        };
}

static void test_json_is_valid_and_complete(void **state)
{
        struct alert c = hostile();
        struct json_object *o, *v;
        char *text = NULL;

        (void)state;
        assert_int_equal(alert_json(&c, &text), 0);
        o = json_tokener_parse(text);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "name", &v));
        /* The invalid byte became U+FFFD; the rest is kept exactly. */
        assert_string_equal(json_object_get_string(v), "x\"\n$(rm)\xef\xbf\xbd");
        assert_true(json_object_object_get_ex(o, "pid", &v));
        assert_int_equal(json_object_get_int(v), 4242);
        assert_true(json_object_object_get_ex(o, "event", &v));
        assert_string_equal(json_object_get_string(v), "start");
        assert_true(json_object_object_get_ex(o, "forecast_s", &v));
        assert_true(json_object_get_double(v) == 3 * 3600);
        assert_true(json_object_object_get_ex(o, "time", &v));
        assert_string_equal(json_object_get_string(v), "2023-11-14T22:13:20.000Z");
        /* Absent values are null, not missing. */
        assert_true(json_object_object_get_ex(o, "end_reason", &v));
        assert_null(v);
        json_object_put(o);
        free(text);

        c.row.ev.forecast = INFINITY;
        c.event = ALERT_EVENT_END;
        c.row.end_reason = "exited";
        assert_int_equal(alert_json(&c, &text), 0);
        o = json_tokener_parse(text);
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "forecast_s", &v));
        assert_null(v);
        json_object_put(o);
        free(text);
}

static const char *env_get(char **envp, const char *key)
{
        size_t n = strlen(key);

        for (size_t i = 0; envp[i]; i++)
                if (strncmp(envp[i], key, n) == 0 && envp[i][n] == '=')
                        return envp[i] + n + 1;
        return NULL;
}

static void test_env_is_escaped_and_minimal(void **state)
{
        struct alert c = hostile();
        char *envp[ALERT_ENV_MAX + 1];
        char buf[8192];

        (void)state;
        assert_int_equal(alert_env(&c, envp, buf, sizeof(buf)), 0);
        assert_string_equal(env_get(envp, "LEAKWATCH_EVENT"), "start");
        assert_string_equal(env_get(envp, "LEAKWATCH_PID"), "4242");
        assert_string_equal(env_get(envp, "LEAKWATCH_START_MS"), "1699999000000");
        assert_string_equal(env_get(envp, "LEAKWATCH_RULE"), "web");
        assert_string_equal(env_get(envp, "LEAKWATCH_METRIC"), "memory");
        assert_string_equal(env_get(envp, "LEAKWATCH_ALERT_ID"), "42");
        /* No raw newline or escape byte reaches the environment. */
        assert_string_equal(env_get(envp, "LEAKWATCH_NAME"), "x\"\\n$(rm)\\xff");
        assert_null(strchr(env_get(envp, "LEAKWATCH_CMDLINE"), '\x1b'));
        assert_non_null(env_get(envp, "PATH"));
        assert_null(env_get(envp, "HOME"));
        for (size_t i = 0; envp[i]; i++)
                assert_null(strchr(envp[i], '\n'));
        /* A buffer too small is an error, never a cut variable. */
        assert_int_equal(alert_env(&c, envp, buf, 64), -E2BIG);
}

static void test_summary(void **state)
{
        struct alert c = hostile();
        char buf[512];

        (void)state;
        alert_summary(&c, buf, sizeof(buf));
        assert_non_null(strstr(buf, "pid 4242"));
        assert_non_null(strstr(buf, "rule web"));
        assert_non_null(strstr(buf, "2.00 MiB/min"));
        assert_non_null(strstr(buf, "cgroup limit in 3h"));
        assert_null(strchr(buf, '\n'));
        c.metric = DETECT_FDS;
        c.row.ev.slope = 10.0 / 60;
        c.row.ev.slope_low = 5.0 / 60;
        c.row.ev.growth = 100;
        c.row.ev.level = 400;
        c.row.ev.forecast = INFINITY;
        alert_summary(&c, buf, sizeof(buf));
        assert_non_null(strstr(buf, "fds leak"));
        assert_non_null(strstr(buf, "10.0 fds/min"));
        assert_null(strstr(buf, "limit in"));
        c.event = ALERT_EVENT_END;
        c.row.end_reason = "recovered";
        alert_summary(&c, buf, sizeof(buf));
        assert_non_null(strstr(buf, "ended: recovered"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decide),
                cmocka_unit_test(test_json_is_valid_and_complete),
                cmocka_unit_test(test_env_is_escaped_and_minimal),
                cmocka_unit_test(test_summary),
        };

        return cmocka_run_group_tests_name("alert", tests, NULL, NULL);
}
