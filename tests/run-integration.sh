#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs the integration tests (Python's unittest over the real daemon and workloads), or
# with SUITE=adversarial the adversarial suite (tests/adversarial: attacks and faults
# against the real daemon).
# Each test module runs in its own process, JOBS of them at a time: most of their time is
# spent waiting for the daemon to see a trend, not computing. Output of each module is
# printed whole when it ends. Tests that cannot run here say SKIP with the reason.
#
#   TESTS="test_daemon test_alerts" sh tests/run-integration.sh   # a subset
#
# Run as root, a root-tier test may not skip (lwtest.root_tier_skip fails it; a "SKIP:
# root-tier" line that got through anyway fails the run here too).
set -u
here=$(cd "$(dirname "$0")" && pwd)
SUITE=${SUITE:-integration}
[ -d "$here/$SUITE" ] || { echo "no suite tests/$SUITE" >&2; exit 2; }
# Both suites share tests/integration/lwtest.py.
export PYTHONPATH="$here/integration${PYTHONPATH:+:$PYTHONPATH}"
export BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$(cd "$here/.." && pwd)/$BUILD" ;; esac
export PYTHONDONTWRITEBYTECODE=1
JOBS=${JOBS:-4}
# The slowest first (they wait for the detector's window), so the others fill the gaps.
slow="test_alerts test_scenarios test_agents test_run test_prometheus test_restart"
all=$(cd "$here/$SUITE" && ls test_*.py 2>/dev/null | sed 's/\.py$//')
# An empty suite passes nothing: it fails.
[ -n "$all" ] || { echo "FAIL $SUITE: no test modules in tests/$SUITE" >&2; exit 1; }
modules=${TESTS:-$(for m in $slow; do echo "$all" | grep -qx "$m" && echo "$m"; done; \
                   echo "$all" | grep -vxF -f <(printf '%s\n' $slow))}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run_one() {
        m=$1
        (cd "$here/$SUITE" && python3 -m unittest -v "$m") > "$out/$m.log" 2>&1
        echo $? > "$out/$m.rc"
}

running=0
for m in $modules; do
        run_one "$m" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then
                wait -n
                running=$((running - 1))
        fi
done
wait

failed=0
total=0
for m in $modules; do
        total=$((total + 1))
        # unittest's verbose lines say "skipped 'reason'": show them as SKIP lines.
        sed "s/ \.\.\. skipped '\(.*\)'$/ ... SKIP: \1/" "$out/$m.log"
        if [ "$(cat "$out/$m.rc" 2>/dev/null)" != 0 ]; then
                echo "FAIL $m"
                failed=$((failed + 1))
        else
                echo "PASS $m"
        fi
done
echo "$SUITE: $((total - failed))/$total modules passed"
if [ "$(id -u)" -eq 0 ] && grep -h "SKIP: root-tier" "$out"/*.log >/dev/null 2>&1; then
        echo "FAIL $SUITE: root-tier tests skipped while running as root:"
        grep -h "SKIP: root-tier" "$out"/*.log
        failed=$((failed + 1))
fi
[ "$failed" -eq 0 ]
