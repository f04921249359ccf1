#!/bin/sh
# Runs the integration tests (Python's unittest over the real daemon and workloads).
# Tests that cannot run on this machine say SKIP with the reason.
set -u
cd "$(dirname "$0")/integration" || exit 1
export BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$(cd ../.. && pwd)/$BUILD" ;; esac
export PYTHONDONTWRITEBYTECODE=1
exec python3 -m unittest -v ${TESTS:-$(ls test_*.py | sed 's/\.py$//')} 2>&1
