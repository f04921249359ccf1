/* Tests for control: who may use the socket. (The socket itself is exercised against the
 * running daemon in tests/integration/test_control.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_peer_allowed),
        };

        return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
