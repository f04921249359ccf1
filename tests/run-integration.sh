#!/bin/bash
# Runs the integration tests (Python's unittest over the real daemon and workloads).
# Each test module runs in its own process, JOBS of them at a time: most of their time is
# spent waiting for the daemon to see a trend, not computing. Output of each module is
# printed whole when it ends. Tests that cannot run here say SKIP with the reason.
#
#   TESTS="test_daemon test_alerts" sh tests/run-integration.sh   # a subset
set -u
here=$(cd "$(dirname "$0")" && pwd)
export BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$(cd "$here/.." && pwd)/$BUILD" ;; esac
export PYTHONDONTWRITEBYTECODE=1
JOBS=${JOBS:-4}
# The slowest first (they wait for the detector's window), so the others fill the gaps.
slow="test_alerts test_scenarios test_agents test_run test_prometheus"
all=$(cd "$here/integration" && ls test_*.py | sed 's/\.py$//')
modules=${TESTS:-$(for m in $slow; do echo "$all" | grep -qx "$m" && echo "$m"; done; \
                   echo "$all" | grep -vxF -f <(printf '%s\n' $slow))}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run_one() {
        m=$1
        (cd "$here/integration" && python3 -m unittest -v "$m") > "$out/$m.log" 2>&1
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
echo "integration: $((total - failed))/$total modules passed"
[ "$failed" -eq 0 ]
