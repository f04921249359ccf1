#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs each unit-test binary given as an argument; with VALGRIND=1 under valgrind,
# failing on any leaked byte or descriptor. Prints one line per binary and a summary.
set -u
failed=0
total=0

# True if valgrind's --track-fds report names a descriptor the test opened itself
# (descriptors inherited from whoever started the test do not count).
leaked_fds() {
        awk '/Open (file|AF_[A-Z0-9]+ socket) descriptor [0-9]+:/ { pending = 1; next }
             pending && /inherited from parent/ { pending = 0; next }
             pending && /==[0-9]+== *$/ { leak = 1; pending = 0 }
             pending && /at 0x|by 0x/ { leak = 1; pending = 0 }
             END { exit leak ? 0 : 1 }' "$1"
}
for t in "$@"; do
        total=$((total + 1))
        name=$(basename "$t")
        # Tests find their fixtures relative to the source tree.
        export LEAKWATCH_TEST_FIXTURES="${LEAKWATCH_TEST_FIXTURES:-$(pwd)/tests/fixtures}"
        if [ "${VALGRIND:-0}" = 1 ]; then
                log=$(mktemp)
                if valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible \
                        --errors-for-leak-kinds=definite,indirect,possible --track-fds=yes --log-file="$log" "$t" >"$log.out" 2>&1 \
                        && ! leaked_fds "$log"; then
                        echo "PASS $name (valgrind)"
                else
                        echo "FAIL $name (valgrind)"; cat "$log.out" "$log"; failed=$((failed + 1))
                fi
                rm -f "$log" "$log.out"
        else
                if out=$("$t" 2>&1); then
                        echo "PASS $name"
                else
                        echo "FAIL $name"; printf '%s\n' "$out"; failed=$((failed + 1))
                fi
        fi
done
echo "unit: $((total - failed))/$total passed"
[ "$failed" -eq 0 ]
