#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Median wall-clock times of the client's heavy questions on a database holding 30 days
# of history for 1000 processes as the default retention keeps it (raw 2 days at 10 s,
# minute rollups 14 days, hour rollups beyond): about 37 million rows, 4 GiB. The
# database is generated once by gen-history and kept under $BUILD/bench.
#
#   BUILD=build RUNS=11 sh bench/client-queries.sh
#
# Each command runs once to warm the page cache, then RUNS times; the median, the
# fastest and the slowest are printed, and each median as a multiple of the client's
# start-up cost (leakwatch --version), measured the same way in the same run.
set -eu
BUILD="${BUILD:-build}"
RUNS="${RUNS:-11}"
DB="$BUILD/bench/history.db"
LW="$BUILD/leakwatch"

if [ ! -f "$DB" ]; then
        echo "generating $DB (1000 processes, 30 days; a few minutes, once)..." >&2
        rm -f "$DB.tmp"
        "$BUILD/bench/gen-history" "$DB.tmp" 1000 30 2>/dev/null
        mv "$DB.tmp" "$DB"
fi

# The generator's clock: relative times in the commands mean the same thing every run.
export LEAKWATCH_NOW=2026-11-24T12:00:00Z TZ=UTC LC_ALL=C.UTF-8
unset NO_COLOR COLUMNS

now_ns() { date +%s%N; }

# Prints "median min max" in ms of RUNS runs of the command.
measure() {
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        i=0
        while [ "$i" -lt "$RUNS" ]; do
                t0=$(now_ns)
                "$@" >/dev/null 2>&1
                t1=$(now_ns)
                echo $(( (t1 - t0) / 1000 ))
                i=$((i + 1))
        done | sort -n | awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f\n", v[int((NR + 1) / 2)] / 1000, v[1] / 1000, v[NR] / 1000 }'
}

base=$(measure "$LW" --version | cut -d' ' -f1)
printf '%-44s %9s %9s %9s %8s\n' "command (db: $(du -h "$DB" | cut -f1))" "median ms" "min ms" "max ms" "x start"
report() {
        label=$1
        shift
        set -- $(measure "$@")
        printf '%-44s %9s %9s %9s %8s\n' "$label" "$1" "$2" "$3" "$(awk -v a="$1" -v b="$base" 'BEGIN { printf "%.0f", a / b }')"
}
printf '%-44s %9s\n' "leakwatch --version (start-up)" "$base"
report "show svc-0042 (last 24 h: 8640 raw samples)" "$LW" --db "$DB" show svc-0042
report "show svc-0042 --since -30d (raw+minute+hour)" "$LW" --db "$DB" show svc-0042 --since -30d
report "show rule:svc3 (24 h of rule sums)" "$LW" --db "$DB" show rule:svc3
report "top (1 h window, 1000 processes)" "$LW" --db "$DB" top
report "top --window 1d (minute rollups)" "$LW" --db "$DB" top --window 1d
report "top --window 7d (hour rollups)" "$LW" --db "$DB" top --window 7d
report "ps (1000 processes, sparklines)" "$LW" --db "$DB" ps
report "status" "$LW" --db "$DB" status
report "export svc-0042 --since -1d (CSV)" "$LW" --db "$DB" export svc-0042 --since -1d
