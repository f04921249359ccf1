#!/usr/bin/env python3
"""Scale and churn: leakwatchd watching N processes (default 10,000) at a one-second
interval while processes come and go, for a long stretch (default an hour).

    make bench-scale                                  # 10,000 processes, 10 replaced a second, 1 h
    LWBENCH_SCALE_N=2000 LWBENCH_SCALE_SECONDS=600 make bench-scale

The farm (bench/farm.c) keeps N small processes alive and replaces CHURN of them a second
(killed by PID, new ones forked), so the daemon keeps discovering, watching, ending and
forgetting processes the whole time: over an hour at the default churn, 36,000 processes
come and go, 3.6 times the watched set. The daemon runs with its defaults except the
interval, max-processes (room for N), a metrics textfile (its own counters, read every
10 s) and one rule matching the farm by name.

Printed, each minute and in summary:
  - CPU: the daemon's utime+stime, as a share of one core and per process-sample;
  - tick: the last tick's duration (leakwatch_tick_duration_seconds) and the ticks taken
    against those the interval asks for: a tick that cannot finish inside the interval
    makes the daemon sample less often, and log so;
  - RSS and descriptors of the daemon: bounded means flat after the first minutes;
  - database: file + WAL bytes, per sample written, and per day at this rate;
  - detector: evaluations a second (leakwatch_detector_evaluations_total).

Environment: BUILD, LWBENCH_SCALE_N (10000), LWBENCH_SCALE_MIB (0: the farm children
touch no extra heap), LWBENCH_SCALE_CHURN (processes replaced a second, 10),
LWBENCH_SCALE_SECONDS (3600), LWBENCH_SCALE_INTERVAL (1)."""
import os
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
# Readings every this many seconds; the textfile is rewritten as often.
READ_EVERY = 10
# A minute's CPU figure is taken over this many readings.
PER_MINUTE = 60 // READ_EVERY
# The first minutes are warm-up: every process is new, its detector starts, the first
# folds size SQLite's caches. "Bounded" is judged from here on.
WARMUP = 300
HZ = os.sysconf("SC_CLK_TCK")


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


def main():
    for why in (bench.pid_room(N + CHURN * 10), bench.ensure_nofile(3 * N + 1000)):
        if why:
            bench.skip("scale", why)
            return 0
    print("== Scale: %d processes at a %gs interval, %d replaced a second, %d s ==" % (N, INTERVAL, CHURN, SECONDS))
    print("machine: %s" % bench.machine())
    print("command: LWBENCH_SCALE_N=%d LWBENCH_SCALE_CHURN=%d LWBENCH_SCALE_SECONDS=%d make bench-scale" % (
        N, CHURN, SECONDS), flush=True)
    with tempfile.TemporaryDirectory(prefix="lwbench-scale-") as tmp:
        db = os.path.join(tmp, "scale.db")
        prom = os.path.join(tmp, "leakwatch.prom")
        conf = os.path.join(tmp, "scale.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ndatabase = %s\ninterval = %gs\nmax-processes = %d\n"
                    "metrics-textfile = %s\nmetrics-textfile-interval = %ds\n\n[rule farm]\nname = lwb-target\n"
                    % (db, INTERVAL, N + 1000, prom, READ_EVERY))
        t0 = time.time()
        farm = bench.Farm(N, MIB_EACH, churn=CHURN)
        print("farm of %d started in %.0f s" % (N, time.time() - t0), flush=True)
        log_path = os.path.join(tmp, "daemon.log")
        logf = open(log_path, "wb")
        d = subprocess.Popen([bench.DAEMON, "--config", conf, "--runtime-dir", tmp], stdout=logf, stderr=subprocess.STDOUT)
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
        summary(rows, log_path, d.returncode)
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


def summary(rows, log_path, rc):
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
    print("daemon RSS: %.1f MiB at %d s, %.1f MiB at the end, peak %.1f MiB (VmHWM %.1f); fds %d -> %d" % (
        first[2] / 2**20, first[0], last[2] / 2**20, max(r[2] for r in after) / 2**20, last[3] / 2**20,
        first[4], last[4]))
    print("database: %.1f MiB after %d s, %.1f bytes per sample written; growing %.0f MiB/day at this rate "
          "(until retention-raw, 2 days by default, starts pruning)" % (
              last[5] / 2**20, last[0], last[5] / written if written else float("nan"), grow / 2**20))
    print("detector: median %.1f evaluations/s" % statistics.median(m[4] for m in steady))
    print("daemon exit status: %s" % rc)


if __name__ == "__main__":
    sys.exit(main())
