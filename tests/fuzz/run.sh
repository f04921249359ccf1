#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs libFuzzer harnesses for a bounded time each, JOBS at a time, and prints per
# harness what the run did: inputs executed, coverage (cov: code edges, ft: features),
# the corpus it ended with, and crashes. A crash (or a leak, a timeout, running out of
# memory) fails the run, and the output says where its input is.
#
#   tests/fuzz/run.sh BUILD SECONDS JOBS HARNESS...
#
# Each harness starts from its corpus in the tree (tests/fuzz/corpus/NAME, never written
# to) and from what earlier runs found (BUILD/fuzz/work/NAME, where new inputs go).
# A crash's input is left in BUILD/fuzz/crashes/NAME/; to keep it fixed, copy it into
# the corpus in the tree with the fix (docs/adversarial.md, "Fuzzing the parsers").
set -u

if [ $# -lt 4 ]; then
        echo "usage: $0 BUILD SECONDS JOBS HARNESS..." >&2
        exit 2
fi
build=$1 seconds=$2 jobs=$3
shift 3
cd "$(dirname "$0")/../.."
export LEAKWATCH_TEST_FIXTURES="$PWD/tests/fixtures"
out="$build/fuzz"
mkdir -p "$out/logs" "$out/results"

# Longest input per harness: a little beyond what the parser refuses by size (a stat
# line fits 2 KiB; agent reports are at most AGENT_MSG_MAX, 8 KiB; control requests at
# most CONTROL_MSG_MAX, 16 KiB), so the refusal is exercised too.
max_len() {
        case "$1" in
        stat|cgroup|limits) echo 4096 ;;
        status|cmdline) echo 8192 ;;
        agent) echo 9000 ;;
        smaps|config) echo 16384 ;;
        control) echo 17000 ;;
        *) echo 4096 ;;
        esac
}

# libFuzzer looks for a leak after every input that left more allocations than it freed.
# The control harness's daemon keeps state between requests (SQLite's cache, the
# writer's queue), so it would stop the world for a leak check at almost every input;
# its leaks are looked for when it exits instead, after the daemon is torn down, which
# still fails the run.
extra_opts() {
        case "$1" in
        control) echo -detect_leaks=0 ;;
        esac
}

run_one() {
        local h=$1 bin="$out/fuzz-$1" log="$out/logs/$1.log"
        local work="$out/work/$h" crashes="$out/crashes/$h" dict=() rc execs cov ft corp line found
        mkdir -p "$work" "$crashes"
        [ -f "tests/fuzz/dict/$h.dict" ] && dict=("-dict=tests/fuzz/dict/$h.dict")
        # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: libFuzzer's default.
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$h")" \
                -print_final_stats=1 -artifact_prefix="$crashes/" $(extra_opts "$h") "${dict[@]}" \
                "$work" "tests/fuzz/corpus/$h" \
                >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
        corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$line")
        found=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
        if [ "$rc" -eq 0 ]; then
                printf '%-8s %6ss  %12s execs  cov %5s  ft %6s  corpus %-12s crashes 0\n' \
                        "$h" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
        else
                printf '%-8s %6ss  %12s execs  cov %5s  ft %6s  corpus %-12s crashes 1 (exit %s)\n' \
                        "$h" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$rc"
                echo "  input: ${found:-none written (see $log)}"
                echo "  log:   $log"
                grep -E 'property violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' \
                        "$log" | head -n 5 | sed 's/^/  /'
        fi
        return "$rc"
}

echo "fuzzing ${*} for ${seconds}s each, ${jobs} at a time (logs in $out/logs)"
for h in "$@"; do
        rm -f "$out/results/$h.rc"
        if [ ! -x "$out/fuzz-$h" ]; then
                echo "$h: no harness at $out/fuzz-$h" >&2
                echo 127 >"$out/results/$h.rc"
                continue
        fi
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
                wait -n
        done
        { run_one "$h"; echo $? >"$out/results/$h.rc"; } &
done
wait
failed=0
for h in "$@"; do
        [ "$(cat "$out/results/$h.rc" 2>/dev/null)" = 0 ] || failed=1
done
if [ "$failed" -ne 0 ]; then
        echo "fuzz: FAILED (a crash's input is under $out/crashes/; add it to tests/fuzz/corpus/ with the fix)"
        exit 1
fi
echo "fuzz: no crashes"
