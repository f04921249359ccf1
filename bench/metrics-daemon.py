#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""metrics-daemon: the cost of a scrape of the real daemon watching 1,000 real processes.

Starts 1,000 idle workload processes (each its own group: the worst case for series),
a leakwatchd watching them with its endpoint on a loopback port chosen by the kernel and
no series cap, then scrapes it about once a second. A scrape that follows a new tick is
a fresh rendering (collecting 1,000 processes' samples and detector states, the store's
size, and the text); one in the same tick is served from the rendering kept for that
tick. Prints the medians of both, the size, and the daemon's tick duration meanwhile.
Everything it starts is stopped by PID; the database lives in a temporary directory.

    BUILD=build python3 bench/metrics-daemon.py [SCRAPES]    (default 31)
"""

import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

BUILD = os.path.abspath(os.environ.get("BUILD", "build"))
N = 1000
OM = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"


def scrape(url, accept=OM):
    t0 = time.monotonic()
    req = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return time.monotonic() - t0, body.decode()


def value(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def main():
    scrapes = int(sys.argv[1]) if len(sys.argv) > 1 else 31
    procs = []
    daemon = None
    with tempfile.TemporaryDirectory(prefix="leakwatch-bench-") as tmp:
        try:
            for i in range(N):
                procs.append(subprocess.Popen(
                    [os.path.join(BUILD, "tests", "workloads", "alloc"), "--step-kib", "64", "--every-ms", "1000",
                     "--steps", "1", "--hold-ms", "900000", "--name", "lw-bm-%04d" % i],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            conf = os.path.join(tmp, "lw.conf")
            with open(conf, "w") as f:
                f.write("[daemon]\ninterval = 1s\nwindow = 10m\nmax-processes = %d\nmetrics-listen = 127.0.0.1:0\n"
                        "metrics-max-series = 1000000\n[rule bench]\nname = lw-bm-*\n" % N)
            log = open(os.path.join(tmp, "daemon.log"), "w+")
            daemon = subprocess.Popen([os.path.join(BUILD, "leakwatchd"), "--config", conf, "--runtime-dir", tmp, "--db",
                                       os.path.join(tmp, "lw.db")], stdout=log, stderr=subprocess.STDOUT)
            url = None
            deadline = time.monotonic() + 120
            while url is None and time.monotonic() < deadline:
                time.sleep(0.2)
                log.seek(0)
                m = re.search(r"serving http://(\S+)/metrics", log.read())
                if m:
                    url = "http://%s/metrics" % m.group(1)
            if url is None:
                raise SystemExit("leakwatchd did not start its endpoint")
            while time.monotonic() < deadline:
                _, text = scrape(url)
                if value(text, "leakwatch_watched_processes") == N:
                    break
                time.sleep(0.5)
            else:
                raise SystemExit("leakwatchd did not come to watch %d processes" % N)

            fresh, cached, ticks, sizes = [], [], [], []
            last_ticks = None
            for _ in range(scrapes):
                dt, text = scrape(url)
                t = value(text, "leakwatch_ticks_total")
                (fresh if t != last_ticks else cached).append(dt)
                last_ticks = t
                sizes.append(len(text))
                ticks.append(value(text, "leakwatch_tick_duration_seconds"))
                dt2, _ = scrape(url)            # same tick, almost always: the kept rendering
                cached.append(dt2)
                time.sleep(1.0)
            print("metrics-daemon: leakwatchd watching %d processes, %d groups, no cap; %d scrape pairs"
                  % (N, N, scrapes))
            series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
            print("  series: %d, text %.0f KiB (OpenMetrics)" % (series, statistics.median(sizes) / 1024))
            print("  scrape after a new tick (collect + render + HTTP): median %.1f ms over %d"
                  % (1000 * statistics.median(fresh), len(fresh)))
            print("  scrape within the same tick (kept rendering + HTTP): median %.1f ms over %d"
                  % (1000 * statistics.median(cached), len(cached)))
            print("  the daemon's tick meanwhile (sampling 1,000 processes): median %.1f ms"
                  % (1000 * statistics.median(ticks)))
        finally:
            if daemon and daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                daemon.wait(60)
            for p in procs:
                if p.poll() is None:
                    p.kill()
            for p in procs:
                p.wait()


if __name__ == "__main__":
    main()
