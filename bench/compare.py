#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compares the per-tick CPU cost of two leakwatchd binaries side by side, for changes
to the sampling hot path.

    python3 bench/compare.py OLD_LEAKWATCHD NEW_LEAKWATCHD [PROCESSES [ROUNDS]]

On one target farm (default 1000 processes), each binary in turn runs for TICKS ticks of
0.2 s, alternating OLD, NEW, OLD, NEW... for ROUNDS rounds (default 4), so drifts of a
shared machine hit both alike. A round's figure is the median CPU time (user + system,
schedstat) of one tick per process: the typical tick — reading, parsing, queueing, the
scan and the commit — without the folds (a fold is one tick in 64; the median leaves
it out, which is the point here: this compares the hot path, make bench the whole).
Also prints the proc-floor 'kept' figure measured on the same farm between rounds.
"""

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the farm, the floor and the readers)

INTERVAL = 0.2
TICKS = 60
READ_AHEAD = 0.02


def one(daemon, pids, tmp):
    n = len(pids)
    db = os.path.join(tmp, "d-%d.db" % time.monotonic_ns())
    conf = os.path.join(tmp, "c.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\ndatabase = %s\ninterval = %gs\nmax-processes = %d\nsmaps-every = 10000\n"
                "smaps-min-interval = 1d\n\n[rule farm]\nname = lwb-target\n" % (db, INTERVAL, n + 100))
    d = subprocess.Popen([daemon, "--config", conf, "--runtime-dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                rows = run.query(db, "SELECT nproc FROM rule_sample ORDER BY t DESC LIMIT 1")
            except sqlite3.OperationalError:
                rows = []
            if rows and rows[0][0] == n:
                break
            if time.time() > deadline or d.poll() is not None:
                raise RuntimeError("%s did not sample the farm" % daemon)
            time.sleep(0.05)
        time.sleep(5 * INTERVAL)
        grid = run.query(db, "SELECT max(t) FROM rule_sample")[0][0] / 1000.0
        k0 = int((time.time() - grid) / INTERVAL) + 2
        readings = []
        for k in range(k0, k0 + TICKS + 1):
            run.sleep_until(grid + k * INTERVAL - READ_AHEAD)
            readings.append(run.cpu_ns(d.pid))
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(60)
    return statistics.median((b - a) / 1000.0 / n for a, b in zip(readings, readings[1:]))


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    old, new = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    err = run.ensure_nofile(3 * n + 1024)
    if err:
        print("SKIP: " + err)
        return 0
    farm = run.Farm(n, 0)
    res = {old: [], new: []}
    floors = []
    try:
        with tempfile.TemporaryDirectory(prefix="lwcmp-", dir="/var/tmp") as tmp:
            for _ in range(rounds):
                for b in (old, new):
                    res[b].append(one(b, farm.pids, tmp))
                floors.append(run.floor("kept", farm.pids, 10)[0])
    finally:
        farm.stop()
    mo, mn = statistics.median(res[old]), statistics.median(res[new])
    print("%d processes, %d rounds of %d ticks at %gs; median tick, CPU µs per process-sample" % (
        n, rounds, TICKS, INTERVAL, ))
    print("  old %-40s %6.2f  (rounds %s)" % (sys.argv[1], mo, " ".join("%.2f" % v for v in res[old])))
    print("  new %-40s %6.2f  (rounds %s)" % (sys.argv[2], mn, " ".join("%.2f" % v for v in res[new])))
    print("  new/old %.3f; floor kept %.2f (rounds %s); old/floor %.2f, new/floor %.2f" % (
        mn / mo, statistics.median(floors), " ".join("%.2f" % v for v in floors),
        mo / statistics.median(floors), mn / statistics.median(floors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
