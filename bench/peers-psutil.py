#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The psutil peer of make bench-peers (bench/peers.py): a sampling loop as memory
profilers built on psutil (mprof, psrecord) run it, over many processes at once.

    /usr/bin/python3 bench/peers-psutil.py basic|full INTERVAL SECONDS < PIDS

One psutil.Process per PID, made once; every INTERVAL s (on a fixed grid) each is asked
for memory_info() (basic: /proc/PID/statm) or memory_full_info() (full: statm and
smaps_rollup, for USS, PSS and swap). After each round one line goes to stdout, flushed:
    EPOCH SAMPLES
the wall time the round started and the processes it read. A process that is gone makes
the loop fail: a round over fewer processes than claimed would not be counted right.
It stops by itself after SECONDS s. stdlib and psutil only: Debian's python3-psutil is
for Debian's /usr/bin/python3.
"""

import sys
import time

import psutil


def main():
    mode, interval, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    procs = [psutil.Process(int(line)) for line in sys.stdin if line.strip()]
    read = {"basic": psutil.Process.memory_info, "full": psutil.Process.memory_full_info}[mode]
    start = time.monotonic()
    k = 0
    while time.monotonic() - start < seconds:
        wall = time.time()
        for p in procs:
            read(p)
        print("%.3f %d" % (wall, len(procs)), flush=True)
        k += 1
        time.sleep(max(0.0, start + k * interval - time.monotonic()))


if __name__ == "__main__":
    main()
