/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for proto: the rule-name check the configuration and the client's watch share. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"

static void test_rule_names(void **state)
{
        char longest[RULE_NAME_MAX + 2];

        (void)state;
        assert_true(rule_name_valid("web"));
        assert_true(rule_name_valid("api-v2.eu_west@host:1"));
        assert_false(rule_name_valid(""));
        assert_false(rule_name_valid("two words"));
        assert_false(rule_name_valid("a/b"));
        assert_false(rule_name_valid("quote\""));
        assert_false(rule_name_valid("new\nline"));
        /* Bytes of a UTF-8 name are not letters, whatever the locale says. */
        assert_false(rule_name_valid("caf\xc3\xa9"));
        memset(longest, 'n', RULE_NAME_MAX);
        longest[RULE_NAME_MAX] = '\0';
        assert_true(rule_name_valid(longest));
        longest[RULE_NAME_MAX] = 'n';
        longest[RULE_NAME_MAX + 1] = '\0';
        assert_false(rule_name_valid(longest));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rule_names),
        };

        return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
