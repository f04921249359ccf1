#!/usr/bin/env python3
"""leakwatch benchmarks (make bench): what the daemon costs, next to the least that
reading the same /proc files can cost, measured in the same run on the same processes.

Daemon sampling. For each size a target farm (bench/farm.c) forks that many small
sleeping processes named lwb-target. First the floor (bench/proc-floor.c): the CPU time
of reading, per process, stat + status + the descriptor count, (a) opening and closing
the files each round, (b) through descriptors kept open (pread at offset 0); rounds are
paced like the daemon's ticks and the median round is reported. Then leakwatchd runs
against the farm with a rule `name = lwb-target`, interval 0.5 s, smaps-every 10000 (so
smaps_rollup is read at the first tick only, before the measurement: the stat + status
path alone, the one the floor reads), and its whole-process CPU time (user + system, all
threads, /proc/PID/task/*/schedstat, nanoseconds) over a measured window is divided by
the process samples it stored in that window (rows of sample + sample_recent).

Everything the daemon does in the window counts: the scan of /proc for new processes
(every tick: scan-interval follows interval), reading, parsing, the queue, one commit
per tick, and the folds. A fold moves the samples of each completed minute into the
per-process table and computes the rollups, so its cost depends on how many minutes it
moves; the window is placed so that it pays for exactly as many folded samples as it
takes: it is a whole number of minutes long and starts FOLD_OFFSET seconds after a
minute boundary (the fold after a boundary comes within 65 ticks, 32.5 s at 0.5 s), so
it contains, for each minute boundary in it, the one fold that moves the minute before
that boundary. The daemon is started WARMUP seconds before the first of those minutes.
The run checks this: it prints how many samples the folds in the window moved (those
of the minutes that ended in it) next to how many the window took.

smaps_rollup. The same with smaps-every 1 and smaps-min-interval 0 (every tick), on
fewer processes that each touch 50 MiB of heap: smaps_rollup walks the page tables, so
its cost grows with the resident set. The floor adds open/read/close of smaps_rollup
and reading smaps up to the end of the [heap] record.

Storage (bench/ingest.c): the writer and the store directly, 1000 processes, a commit
per tick of 1000 samples, a fold every 64 ticks; then the bytes per row of each table,
from SQLite's dbstat (pages, including their free space), and the cost of pruning.

Memory: the daemon's VmRSS and VmHWM at the start of the window, every 15 s, and at
its end.

Environment: BUILD (build directory), LWBENCH_SIZES (default "100 1000 5000"),
LWBENCH_MINUTES (window length in minutes, default 1), LWBENCH_SMAPS ("COUNT MIB",
default "200 50"), LWBENCH_SKIP (words: daemon smaps storage detect).
"""

import os
import platform
import resource
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(os.environ.get("BUILD", "build"))
DAEMON = os.path.join(BUILD, "leakwatchd")
FARM = os.path.join(BUILD, "bench", "farm")
FLOOR = os.path.join(BUILD, "bench", "proc-floor")
INGEST = os.path.join(BUILD, "bench", "ingest")

# Every size runs at this interval: 5000 processes or 200 smaps readings of 50 MiB
# take about a tenth of a second of CPU per tick, which must fit with room to spare on
# a shared 2-core machine, or the daemon leaves ticks out.
INTERVAL = 0.5
# daemon/main.c FOLD_TICKS: a fold every 64 ticks (65 when a tick starts a little
# later after its deadline than the fold's did): 32.5 s at most at 0.5 s. The fold of a
# minute of 5000 processes (600,000 samples) takes about 4 s, so 45 s after a boundary
# the fold that moves the minute before it is over, and the one after the next boundary
# (due by 32.5 s past it) has 12 s to finish before the window ends.
FOLD_OFFSET = 45.0
# The daemon starts this long before the minute boundary that begins its first whole
# minute: time to find and open 5000 processes.
WARMUP = 10
# CPU readings are taken this long before a tick is due, when the daemon is idle.
READ_AHEAD = 0.02
# Floor rounds per mode; the median is reported.
FLOOR_ROUNDS = 25
MIB = 1024 * 1024


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def skip(what, why):
    print("SKIP %s: %s" % (what, why), flush=True)


# ---- the machine ----

def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    thp = "?"
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            thp = f.read().split("[")[1].split("]")[0]
    except (OSError, IndexError):
        pass
    distro = platform.system()
    try:
        with open("/etc/os-release") as f:
            kv = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)
        distro = kv.get("PRETTY_NAME", distro).strip('"')
    except OSError:
        pass
    return "%s, %d cores, %.0f GiB, Linux %s, %s, THP %s, SQLite %s" % (
        model, os.cpu_count(), mem / (1 << 30), platform.release(), distro, thp, sqlite3.sqlite_version)


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def ensure_nofile(need):
    """Raises RLIMIT_NOFILE (children inherit it); returns an error or None."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))
        except (ValueError, OSError) as e:
            return "RLIMIT_NOFILE hard limit %d < %d and cannot be raised (%s)" % (hard, need, e)
    return None


def pid_room(n):
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    used = sum(1 for e in os.listdir("/proc") if e.isdigit())
    if used + n + 1000 > pid_max:
        return "pid_max %d leaves no room for %d more processes (%d running)" % (pid_max, n, used)
    return None


# ---- the target farm ----

class Farm:
    def __init__(self, count, mib):
        self.proc = subprocess.Popen([FARM, str(count), str(mib)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.pids = []
        for line in self.proc.stdout:
            line = line.strip()
            if line == "ready":
                break
            self.pids.append(int(line))
        if len(self.pids) != count:
            self.stop()
            raise RuntimeError("the farm started %d of %d processes" % (len(self.pids), count))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def floor(mode, pids, rounds=FLOOR_ROUNDS):
    """Median CPU µs per process of one paced round (and min, max)."""
    out = subprocess.run([FLOOR, mode, str(INTERVAL), str(rounds)], input="\n".join(map(str, pids)) + "\n",
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError("proc-floor %s: %s" % (mode, out.stderr.strip()))
    per = [int(a) / int(b) / 1000 for a, b in (l.split() for l in out.stdout.splitlines())]
    return statistics.median(per), min(per), max(per)


# ---- the daemon ----

def cpu_ns(pid):
    """CPU time of every thread of pid, in ns (schedstat: sum_exec_runtime)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


def stat_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)


def vm(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k = line.split(":", 1)[0]
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(line.split()[1]) * 1024
    return out["VmRSS"], out["VmHWM"]


def query(db, sql, args=()):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def sleep_until(wall):
    while True:
        d = wall - time.time()
        if d <= 0:
            return
        time.sleep(min(d, 0.5))


def next_phase(phase):
    """The next wall-clock time, at least a second away, that is `phase` s past a minute."""
    now = time.time() + 1
    t = int(now) // 60 * 60 + phase
    return t if t >= now else t + 60


def run_daemon(tmp, pids, smaps, minutes):
    """Runs leakwatchd against pids; returns the figures of the measured window."""
    n = len(pids)
    db = os.path.join(tmp, "daemon.db")
    conf = os.path.join(tmp, "bench.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\ndatabase = %s\ninterval = %gs\nmax-processes = %d\n" % (db, INTERVAL, n + 100))
        if smaps:
            f.write("smaps-every = 1\nsmaps-min-interval = 0\n")
        else:
            f.write("smaps-every = 10000\nsmaps-min-interval = 1d\n")
        f.write("\n[rule farm]\nname = lwb-target\n")
    logf = open(os.path.join(tmp, "daemon.log"), "wb")
    # Started WARMUP before a minute boundary, which is the first minute it samples whole.
    sleep_until(next_phase(60 - WARMUP))
    d = subprocess.Popen([DAEMON, "--config", conf], stdout=logf, stderr=subprocess.STDOUT)
    boundary = (int(time.time()) // 60 + 1) * 60
    try:
        deadline = time.time() + 120
        while True:
            if d.poll() is not None:
                raise RuntimeError("leakwatchd exited: " + open(logf.name, errors="replace").read())
            try:
                rows = query(db, "SELECT t, nproc FROM rule_sample ORDER BY t DESC LIMIT 1")
            except sqlite3.OperationalError:
                rows = []
            if rows and rows[0][1] == n:
                break
            if time.time() > deadline:
                raise RuntimeError("leakwatchd did not sample all %d processes within 120 s" % n)
            time.sleep(0.1)
        if time.time() > boundary - 2 * INTERVAL:
            boundary += 60      # a slow start: the next minute is the first whole one
        sleep_until(boundary)
        grid = query(db, "SELECT max(t) FROM rule_sample")[0][0] / 1000.0
        start = boundary + FOLD_OFFSET
        k0 = int((start + READ_AHEAD - grid) / INTERVAL) + 1
        ticks = int(round(minutes * 60 / INTERVAL))
        readings = []           # (wall, cpu ns) just before each tick k0 .. k0 + ticks
        rss = []
        next_rss = 0
        stat0 = None
        for k in range(k0, k0 + ticks + 1):
            at = grid + k * INTERVAL - READ_AHEAD
            sleep_until(at)
            c = cpu_ns(d.pid)
            if stat0 is None:
                stat0 = stat_cpu_ticks(d.pid)
            readings.append((at, c))
            if at >= next_rss or k == k0 + ticks:
                rss.append((round(at - readings[0][0]), *vm(d.pid)))
                next_rss = at + 15
        stat1 = stat_cpu_ticks(d.pid)
    finally:
        if d.poll() is None:
            d.send_signal(signal.SIGTERM)
            try:
                d.wait(120)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait()
        logf.close()
    if d.returncode != 0:
        raise RuntimeError("leakwatchd exited with %s: %s" % (d.returncode, open(logf.name, errors="replace").read()))

    w0, w1 = readings[0][0], readings[-1][0]
    ms0, ms1 = int(w0 * 1000), int(w1 * 1000)
    def count(a, b):
        return sum(query(db, "SELECT count(*) FROM %s WHERE t >= ? AND t < ?" % t, (a, b))[0][0]
                   for t in ("sample", "sample_recent"))
    samples = count(ms0, ms1)
    # What the folds in the window moved: the minutes that ended inside it.
    folded = count(boundary * 1000, (boundary + minutes * 60) * 1000)
    tick_ts = [r[0] for r in query(db, "SELECT t FROM rule_sample WHERE t >= ? AND t < ? ORDER BY t", (ms0, ms1))]
    rule_sum = query(db, "SELECT coalesce(sum(nproc), 0) FROM rule_sample WHERE t >= ? AND t < ?", (ms0, ms1))[0][0]
    per_tick = [(b[1] - a[1]) / 1000.0 for a, b in zip(readings, readings[1:])]
    total_us = (readings[-1][1] - readings[0][1]) / 1000.0
    hz = os.sysconf("SC_CLK_TCK")
    overruns = open(logf.name, errors="replace").read().count("longer than the interval")
    return {
        "processes": n,
        "samples": samples,
        "folded": folded,
        "ticks": len(tick_ts),
        "expected_ticks": ticks,
        "rule_sum": rule_sum,
        "us_per_sample": total_us / samples if samples else float("nan"),
        "stat_us_per_sample": (stat1 - stat0) * 1e6 / hz / samples if samples else float("nan"),
        # The typical tick: the median is a tick without a fold.
        "median_tick_us_per_sample": statistics.median(per_tick) / n,
        "tick_deciles_us_per_sample": (statistics.quantiles(per_tick, n=10)[0] / n,
                                       statistics.quantiles(per_tick, n=10)[-1] / n),
        "max_tick_ms": max(per_tick) / 1000.0,
        # A window edge inside a long tick (a fold) would split its cost unevenly.
        "edge_in_long_tick": max(per_tick[0], per_tick[-1]) > 5 * statistics.median(per_tick),
        "core_share": total_us / 1e6 / (w1 - w0),
        "rss": rss,
        "overruns": overruns,
        "window_s": w1 - w0,
    }


# ---- sections ----

def fmt_us(v):
    return "%.2f" % v if v < 10 else "%.1f" % v


def detail(r):
    notes = []
    if r["ticks"] != r["expected_ticks"]:
        notes.append("%d ticks of %d (the daemon leaves a tick out after one that overran)" % (
            r["ticks"], r["expected_ticks"]))
    if r["rule_sum"] != r["samples"]:
        notes.append("MISMATCH: rule sums count %d samples, the tables %d" % (r["rule_sum"], r["samples"]))
    if r["edge_in_long_tick"]:
        notes.append("WARNING: a window edge fell inside a long tick")
    if "floor_open" in r:
        notes.append("floor rounds: open %s..%s, kept %s..%s" % (
            fmt_us(r["floor_open"][1]), fmt_us(r["floor_open"][2]), fmt_us(r["floor_kept"][1]),
            fmt_us(r["floor_kept"][2])))
    lo, hi = r["tick_deciles_us_per_sample"]
    return ("  %5d: %d samples in %.1f s, %.2f%% of a core at %gs; folds in the window moved %d samples "
            "(%.3f of those taken); utime+stime: %s µs/sample; ticks p10..p90 %s..%s µs/sample, slowest %.0f ms%s" % (
                r["processes"], r["samples"], r["window_s"], r["core_share"] * 100, INTERVAL, r["folded"],
                r["folded"] / r["samples"], fmt_us(r["stat_us_per_sample"]), fmt_us(lo), fmt_us(hi), r["max_tick_ms"],
                "".join("; " + x for x in notes)))


def daemon_section(sizes, minutes):
    print("\n== Daemon sampling: CPU µs per process-sample (user + system) ==")
    print("interval %gs, window %d min, scan every tick, one commit per tick, folds included; "
          "floors: median of %d paced rounds" % (INTERVAL, minutes, FLOOR_ROUNDS))
    hdr = "%9s %11s %11s %9s %11s %11s %12s %10s %12s %s" % (
        "processes", "floor open", "floor kept", "daemon", "daemon/kept", "daemon/open", "typical tick",
        "fold+rest", "1 s interval", "daemon RSS (start..end)")
    print(hdr)
    results = []
    for n in sizes:
        why = pid_room(n) or ensure_nofile(3 * n + 1024)
        if why:
            skip("%d processes" % n, why)
            continue
        farm = Farm(n, 0)
        try:
            fo = floor("open", farm.pids)
            fk = floor("kept", farm.pids)
            with tempfile.TemporaryDirectory(prefix="lwbench-", dir="/var/tmp") as tmp:
                r = run_daemon(tmp, farm.pids, False, minutes)
        finally:
            farm.stop()
        r.update(floor_open=fo, floor_kept=fk)
        results.append(r)
        d = r["us_per_sample"]
        print("%9d %11s %11s %9s %10.2fx %10.2fx %12s %10s %11.2f%% %s" % (
            n, fmt_us(fo[0]), fmt_us(fk[0]), fmt_us(d), d / fk[0], d / fo[0],
            fmt_us(r["median_tick_us_per_sample"]), fmt_us(d - r["median_tick_us_per_sample"]),
            d * n / 1e6 * 100, "%.1f..%.1f MiB" % (r["rss"][0][1] / MIB, r["rss"][-1][1] / MIB)), flush=True)
    for r in results:
        print(detail(r))
    big = [r for r in results if r["processes"] == max(sizes)]
    if big:
        print("  daemon memory with %d targets (s into the window: VmRSS / VmHWM):" % big[0]["processes"])
        print("    " + ", ".join("%ds %.1f/%.1f MiB" % (t, a / MIB, b / MIB) for t, a, b in big[0]["rss"]))
    return results


def smaps_section(count, mib, minutes):
    print("\n== smaps_rollup every tick: CPU µs per process-sample ==")
    need = count * mib * MIB
    if mem_available() < 2 * need:
        count = max(10, int(mem_available() / 2 / (mib * MIB)))
        print("(only %d processes: MemAvailable is too small for more of %d MiB)" % (count, mib))
    why = pid_room(count) or ensure_nofile(3 * count + 1024)
    if why:
        skip("smaps", why)
        return None
    farm = Farm(count, mib)
    try:
        fk = floor("kept", farm.pids)
        fr = floor("rollup", farm.pids)
        with tempfile.TemporaryDirectory(prefix="lwbench-", dir="/var/tmp") as tmp:
            r = run_daemon(tmp, farm.pids, True, minutes)
    finally:
        farm.stop()
    d = r["us_per_sample"]
    print("%d processes of %d MiB (heap, touched), smaps-every 1, smaps-min-interval 0, interval %gs" % (
        count, mib, INTERVAL))
    print("%22s %22s %9s %13s %12s" % ("floor kept (no smaps)", "floor kept + smaps", "daemon",
                                       "daemon/floor", "typical tick"))
    print("%22s %22s %9s %12.2fx %12s" % (fmt_us(fk[0]), fmt_us(fr[0]), fmt_us(d), d / fr[0],
                                          fmt_us(r["median_tick_us_per_sample"])))
    print(detail(r))
    print("  floor kept + smaps: rounds %s..%s" % (fmt_us(fr[1]), fmt_us(fr[2])))
    return r


def storage_section():
    print("\n== Storage: SQLite ingest through the writer (bench/ingest.c) ==")
    with tempfile.TemporaryDirectory(prefix="lwbench-", dir="/var/tmp") as tmp:
        db = os.path.join(tmp, "ingest.db")
        out = subprocess.run([INGEST, db], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("ingest: " + out.stderr)
        r = dict((k, float(v)) for k, v in (l.split() for l in out.stdout.splitlines()))
        con = sqlite3.connect(db)
        try:
            pages = dict((name, (size, used)) for name, size, used in con.execute(
                "SELECT name, sum(pgsize), sum(pgsize - unused) FROM dbstat GROUP BY name"))
            rows = dict((t, con.execute("SELECT count(*) FROM %s" % t).fetchone()[0])
                        for t in ("sample", "sample_recent", "rollup", "rule_sample"))
            minute_rows = con.execute("SELECT count(*), coalesce(sum(n), 0) FROM rollup WHERE res = 60000").fetchone()
            hour_rows = con.execute("SELECT count(*), coalesce(sum(n), 0) FROM rollup WHERE res = 3600000").fetchone()
        finally:
            con.close()
        pr = subprocess.run([INGEST, "--prune", db], capture_output=True, text=True)
        prune = dict((k, float(v)) for k, v in (l.split() for l in pr.stdout.splitlines())) if pr.returncode == 0 else {}
    samples = r["samples"]
    print("1000 processes, a commit per tick of 1000 samples, a fold every 64 ticks, %d samples" % samples)
    print("  ingest rate: %.0f samples/s wall, %.0f samples/s of CPU (whole run: queue, commits, folds)" % (
        r["rate_wall"], r["rate_cpu"]))
    print("  CPU µs per sample: tick (queue + commit) %s, fold %s (medians)%s" % (
        fmt_us(r["tick_cpu_us"]), fmt_us(r["fold_cpu_us"]),
        (", pruning a raw sample %s" % fmt_us(prune["prune_cpu_us"])) if "prune_cpu_us" in prune else ""))
    size, used = pages.get("sample", (0, 0))
    print("  bytes per stored sample (per-process table, after folds): %.1f (pages), %.1f (used bytes in them)" % (
        size / rows["sample"], used / rows["sample"]))
    rsize = pages.get("rollup", (0, 0))[0]
    print("  rollups: %.1f bytes per row; %d minute rows of %d samples, %d hour rows of %d: %.2f bytes per "
          "sample summarised per level" % (rsize / max(1, rows["rollup"]), minute_rows[0], minute_rows[1],
                                            hour_rows[0], hour_rows[1], rsize / max(1, minute_rows[1])))
    print("  database file: %.1f bytes per sample (all tables, free pages included)" % (r["file_bytes"] / samples))
    return r


def detect_section():
    print("\n== Detector (bench/detect-cost.c, bench/detect-shapes.c) ==")
    for prog in ("detect-cost", "detect-shapes"):
        out = subprocess.run([os.path.join(BUILD, "bench", prog)], capture_output=True, text=True)
        print(out.stdout.rstrip())
        if out.returncode != 0:
            print("%s failed: %s" % (prog, out.stderr.strip()))


def main():
    sizes = [int(s) for s in os.environ.get("LWBENCH_SIZES", "100 1000 5000").split()]
    minutes = int(os.environ.get("LWBENCH_MINUTES", "1"))
    smaps = [int(s) for s in os.environ.get("LWBENCH_SMAPS", "200 50").split()]
    skips = os.environ.get("LWBENCH_SKIP", "").split()
    started = time.time()
    print("leakwatch benchmarks, %s" % time.strftime("%Y-%m-%d %H:%M"))
    print("machine: %s" % machine())
    print("command: make bench (BUILD=%s)" % os.path.relpath(BUILD))
    if "storage" not in skips:
        storage_section()
    if "daemon" not in skips:
        daemon_section(sizes, minutes)
    if "smaps" not in skips:
        smaps_section(smaps[0], smaps[1], minutes)
    if "detect" not in skips:
        detect_section()
    print("\n(%.0f s)" % (time.time() - started))


if __name__ == "__main__":
    main()
