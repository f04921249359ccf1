#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Scale and churn: leakwatchd watching N processes (default 10,000) at a one-second
interval while processes come and go, for a long stretch (default an hour).

    make bench-scale                                  # 10,000 processes, 10 replaced a second, 1 h
    LWBENCH_SCALE_N=2000 LWBENCH_SCALE_SECONDS=600 make bench-scale
    LWBENCH_SCALE_SECONDS=180 make bench-scale        # a short run, to try

The farm (bench/farm.c) keeps N small processes alive and replaces CHURN of them a second
(killed by PID, new ones forked), so the daemon keeps discovering, watching, ending and
forgetting processes the whole time: over an hour at the default churn, 36,000 processes
come and go, 3.6 times the watched set. The daemon runs with its defaults except the
interval, max-processes (room for N), a metrics textfile (its own counters, read every
10 s), log-level debug (for the CPU split of its ticks) and one rule matching the farm by
name; LWBENCH_SCALE_BACKEND, when set to anything but "proc", is written as its
`sampler =` (the daemon's sampling backend: bpf or auto).

The /proc backend keeps three descriptors per watched process (and 256 for the rest):
when RLIMIT_NOFILE cannot be raised to hold N of them, the benchmark says so and runs
the largest N that fits.

Before the daemon, the floor: bench/proc-floor.c reads, for N sleepers of a farm that
does not churn, what a tick reads (kept descriptors: one pread of stat and status and the
descriptor count), 9 paced rounds at the interval; its median round is printed as a share
of one core, next to the daemon's.

Printed, each minute and in summary:
  - CPU: the daemon's utime+stime, as a share of one core and per process-sample;
  - tick: the last tick's duration (leakwatch_tick_duration_seconds) and the ticks taken
    against those the interval asks for: a tick that cannot finish inside the interval
    makes the daemon sample less often, and log so;
  - RSS and descriptors of the daemon: bounded means flat after the first minutes;
  - database: file + WAL bytes, per sample written, and per day at this rate;
  - detector: evaluations a second (leakwatch_detector_evaluations_total);
  - in summary, the daemon's CPU per sample split into scan, read, detect, store and fold
    (core/watch.h, struct watch_cost: its debug line at each fold), over the run after
    the warm-up.

Environment: BUILD, LWBENCH_SCALE_N (10000), LWBENCH_SCALE_MIB (0: the farm children
touch no extra heap), LWBENCH_SCALE_CHURN (processes replaced a second, 10),
LWBENCH_SCALE_SECONDS (3600), LWBENCH_SCALE_INTERVAL (1), LWBENCH_SCALE_BACKEND (proc),
LWBENCH_SCALE_WARMUP (seconds left out of the summary: 300, or a quarter of a shorter
run), LWBENCH_SCALE_DAEMON (the leakwatchd to run: another build's, to measure two builds
one after the other on the same machine; BUILD's by default)."""
import re
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (the shared machine, farm and /proc helpers)

N = int(os.environ.get("LWBENCH_SCALE_N", "10000"))
MIB_EACH = int(os.environ.get("LWBENCH_SCALE_MIB", "0"))
CHURN = int(os.environ.get("LWBENCH_SCALE_CHURN", "10"))
SECONDS = int(os.environ.get("LWBENCH_SCALE_SECONDS", "3600"))
INTERVAL = float(os.environ.get("LWBENCH_SCALE_INTERVAL", "1"))
BACKEND = os.environ.get("LWBENCH_SCALE_BACKEND", "proc")
DAEMON = os.environ.get("LWBENCH_SCALE_DAEMON", bench.DAEMON)
# Descriptors the /proc backend keeps per watched process, and for everything else
# (core/procread.c; the daemon's own check at start).
FDS_EACH = 3
FDS_OTHER = 256
FLOOR_ROUNDS = 9
# Readings every this many seconds; the textfile is rewritten as often.
READ_EVERY = 10
# A minute's CPU figure is taken over this many readings.
PER_MINUTE = 60 // READ_EVERY
# The first minutes are warm-up: every process is new, its detector starts, the first
# folds size SQLite's caches. "Bounded" is judged from here on.
WARMUP = int(os.environ.get("LWBENCH_SCALE_WARMUP", str(min(300, SECONDS // 4))))
HZ = os.sysconf("SC_CLK_TCK")
# The farm's process name: its own, so that neither this daemon watches another
# benchmark's farm (make bench's are lwb-target) nor theirs this one.
FARM_NAME = "lwb-scale"


def textfile(path):
    """The daemon's own counters from its metrics textfile (names without _total)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("leakwatch_") and "{" not in line:
                    name, value = line.split()[:2]
                    out[name.removesuffix("_total")] = float(value)
    except (OSError, ValueError):
        pass
    return out


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def db_bytes(db):
    return sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))


COST = re.compile(r"CPU per sample so far \((\d+) samples, (\d+) ticks\): scan ([\d.]+) µs, read ([\d.]+), "
                  r"detect ([\d.]+), store ([\d.]+), fold ([\d.]+)")


def largest_n():
    """How many processes the /proc backend can watch under the descriptor limit, after
    raising the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        return N
    if bench.ensure_nofile(FDS_EACH * N + FDS_OTHER + 1000) is None:
        return N
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Room for the benchmark's own descriptors too.
    return max(0, (hard - FDS_OTHER - 1000) // FDS_EACH)


def floor_share(n):
    """The kept-descriptor floor for n sleepers at the interval: median share of a core,
    median µs per process, and the number of sleepers it was measured on. The floor keeps
    FDS_EACH descriptors per process whatever the daemon's backend: when RLIMIT_NOFILE
    cannot hold n of them, it is measured on the largest farm that fits and its cost per
    process scaled to n (the floor's cost is linear in the processes it reads)."""
    m = min(n, largest_n())
    farm = bench.Farm(m, MIB_EACH)
    try:
        per = bench.floor_rounds("kept", farm.pids, FLOOR_ROUNDS, INTERVAL)
    finally:
        farm.stop()
    return statistics.median(per) * n / 1e6 / INTERVAL, statistics.median(per), m


def main():
    global N
    why = bench.pid_room(N + CHURN * 10)
    if why:
        bench.skip("scale", why)
        return 0
    asked = N
    if BACKEND == "proc":
        N = min(N, largest_n())
        if N < asked:
            print("NOTE: the /proc backend cannot watch %d processes here: it keeps %d descriptors each (%d in "
                  "all with %d for the rest) and RLIMIT_NOFILE's hard limit is %d and cannot be raised; measuring "
                  "the largest it can, %d" % (asked, FDS_EACH, FDS_EACH * asked + FDS_OTHER, FDS_OTHER,
                                              resource.getrlimit(resource.RLIMIT_NOFILE)[1], N))
    print("== Scale: %d processes at a %gs interval, %d replaced a second, %d s, backend %s ==" % (
        N, INTERVAL, CHURN, SECONDS, BACKEND))
    print("machine: %s" % bench.machine())
    print("command: LWBENCH_SCALE_N=%d LWBENCH_SCALE_CHURN=%d LWBENCH_SCALE_SECONDS=%d LWBENCH_SCALE_BACKEND=%s "
          "make bench-scale" % (asked, CHURN, SECONDS, BACKEND), flush=True)
    t0 = time.time()
    share, us, measured = floor_share(N)
    print("floor (kept descriptors: stat, status, fd count; %d sleepers%s, median of %d rounds, in %.0f s): "
          "%.1f µs per process, %.1f%% of one core at %gs for %d" % (
              measured, "" if measured == N else " (as many as RLIMIT_NOFILE holds; scaled to %d)" % N,
              FLOOR_ROUNDS, time.time() - t0, us, share * 100, INTERVAL, N), flush=True)
    with tempfile.TemporaryDirectory(prefix="lwbench-scale-") as tmp:
        db = os.path.join(tmp, "scale.db")
        prom = os.path.join(tmp, "leakwatch.prom")
        conf = os.path.join(tmp, "scale.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ndatabase = %s\ninterval = %gs\nmax-processes = %d\nlog-level = debug\n"
                    "metrics-textfile = %s\nmetrics-textfile-interval = %ds\n%s\n[rule farm]\nname = %s\n"
                    % (db, INTERVAL, N + 1000, prom, READ_EVERY,
                       "sampler = %s\n" % BACKEND if BACKEND != "proc" else "", FARM_NAME))
        t0 = time.time()
        farm = bench.Farm(N, MIB_EACH, name=FARM_NAME, churn=CHURN)
        print("farm of %d started in %.0f s" % (N, time.time() - t0), flush=True)
        log_path = os.path.join(tmp, "daemon.log")
        logf = open(log_path, "wb")
        d = subprocess.Popen([DAEMON, "--config", conf, "--runtime-dir", tmp], stdout=logf, stderr=subprocess.STDOUT)
        rows = []       # (seconds since start, cpu ticks, rss, hwm, fds, db bytes, counters)
        try:
            start = time.time()
            while True:
                time.sleep(READ_EVERY - (time.time() - start) % READ_EVERY)
                if d.poll() is not None:
                    raise RuntimeError("leakwatchd exited: " + open(log_path, errors="replace").read()[-4000:])
                el = time.time() - start
                rss, hwm = bench.vm(d.pid)
                rows.append((el, bench.stat_cpu_ticks(d.pid), rss, hwm, fds(d.pid), db_bytes(db), textfile(prom)))
                if len(rows) % PER_MINUTE == 0:
                    report_minute(rows)
                if el >= SECONDS:
                    break
        finally:
            bench.stop_daemon(d)
            farm.stop()
            logf.close()
        summary(rows, log_path, d.returncode, share)
    return 0


def minute_figures(a, b):
    """CPU share, µs per sample, ticks taken / asked between two readings."""
    dt = b[0] - a[0]
    cpu = (b[1] - a[1]) / HZ
    samples = b[6].get("leakwatch_samples", 0) - a[6].get("leakwatch_samples", 0)
    ticks = b[6].get("leakwatch_ticks", 0) - a[6].get("leakwatch_ticks", 0)
    evals = b[6].get("leakwatch_detector_evaluations", 0) - a[6].get("leakwatch_detector_evaluations", 0)
    return (cpu / dt, cpu * 1e6 / samples if samples else float("nan"), ticks / (dt / INTERVAL),
            samples / dt, evals / dt)


def report_minute(rows):
    a, b = rows[-PER_MINUTE], rows[-1]
    share, us, tick_ratio, rate, evals = minute_figures(a, b)
    c = b[6]
    print("%5.0f s  watched %5d  cpu %5.1f%%  %5.1f µs/sample  tick %6.1f ms  ticks %4.2f of asked  "
          "rss %6.1f MiB  fds %5d  db %7.1f MiB  eval %5.1f/s" % (
              b[0], c.get("leakwatch_watched_processes", 0), share * 100, us,
              c.get("leakwatch_tick_duration_seconds", 0) * 1000, tick_ratio, b[2] / 2**20, b[4],
              b[5] / 2**20, evals), flush=True)


def cost_split(log, after_s, start):
    """CPU µs per sample of each part of the tick between the first cost line after
    after_s and the last (the lines are cumulative since the daemon started)."""
    lines = []
    for line in log.splitlines():
        m = COST.search(line)
        if m:
            lines.append([float(x) for x in m.groups()])
    if len(lines) < 2:
        return None
    # Lines come once a fold (about every 64 ticks); the first after the warm-up.
    k = min(len(lines) - 2, max(0, int(len(lines) * after_s / max(1, SECONDS))))
    a, b = lines[k], lines[-1]
    n = b[0] - a[0]
    if n <= 0:
        return None
    return n, [(b[0] * y - a[0] * x) / n for x, y in zip(a[2:], b[2:])]


def summary(rows, log_path, rc, floor):
    if len(rows) < 2 * PER_MINUTE:
        raise RuntimeError("too short a run for a summary: %d readings" % len(rows))
    minutes = [minute_figures(rows[i - PER_MINUTE], rows[i]) for i in range(PER_MINUTE, len(rows), PER_MINUTE)]
    after = [r for r in rows if r[0] >= WARMUP] or rows[len(rows) // 2:]
    steady = [m for i, m in enumerate(minutes) if rows[(i + 1) * PER_MINUTE][0] >= WARMUP] or minutes
    first, last = after[0], rows[-1]
    written = last[6].get("leakwatch_samples_written", 0)
    grow = (last[5] - first[5]) / (last[0] - first[0]) * 86400
    with open(log_path, errors="replace") as f:
        log = f.read()
    overruns = log.count("longer than the interval")
    print("\n-- summary (after %d s of warm-up) --" % WARMUP)
    print("CPU, share of one core: median %.1f%% (minutes %.1f–%.1f%%)" % (
        statistics.median(m[0] for m in steady) * 100, min(m[0] for m in steady) * 100,
        max(m[0] for m in steady) * 100))
    print("CPU per process-sample: median %.1f µs" % statistics.median(m[1] for m in steady))
    print("samples per second: median %.0f; ticks taken / asked: median %.2f (min %.2f); "
          "overrun warnings in the log: %d" % (
              statistics.median(m[3] for m in steady), statistics.median(m[2] for m in steady),
              min(m[2] for m in steady), overruns))
    kept = last[6].get("leakwatch_ticks", 0) - first[6].get("leakwatch_ticks", 0)
    asked = (last[0] - first[0]) / INTERVAL
    print("ticks after the warm-up: %d kept of %.0f asked, %.0f missed" % (kept, asked, max(0, asked - kept)))
    print("daemon RSS: %.1f MiB at %d s, %.1f MiB at the end, peak %.1f MiB (VmHWM %.1f); fds %d -> %d" % (
        first[2] / 2**20, first[0], last[2] / 2**20, max(r[2] for r in after) / 2**20, last[3] / 2**20,
        first[4], last[4]))
    print("database: %.1f MiB after %d s, %.1f bytes per sample written; growing %.0f MiB/day at this rate "
          "(until retention-raw, 2 days by default, starts pruning)" % (
              last[5] / 2**20, last[0], last[5] / written if written else float("nan"), grow / 2**20))
    print("detector: median %.1f evaluations/s" % statistics.median(m[4] for m in steady))
    split = cost_split(log, WARMUP, rows[0][0])
    if split:
        n, parts = split
        total = sum(parts)
        rate = statistics.median(m[3] for m in steady)
        print("the tick's CPU per sample after the warm-up (%d samples): scan %.2f µs, read %.2f, detect %.2f, "
              "store %.2f, fold %.2f; total %.2f µs = %.1f%% of one core at %.0f samples/s" % (
                  n, *parts, total, total * rate / 1e4, rate))
        print("  beyond the read (detect + store + fold): %.2f µs per sample = %.2f%% of one core" % (
            sum(parts[2:]), sum(parts[2:]) * rate / 1e4))
    print("floor, side by side: the kept-descriptor read of the same number of processes costs %.1f%% of one "
          "core; the daemon %.1f%% (%.2f×)" % (floor * 100, statistics.median(m[0] for m in steady) * 100,
                                               statistics.median(m[0] for m in steady) / floor if floor else
                                               float("nan")))
    print("daemon exit status: %s" % rc)


if __name__ == "__main__":
    sys.exit(main())
