#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatch benchmarks (make bench): what the daemon costs, next to the least that
reading the same /proc files can cost, measured in the same run on the same processes.

Daemon sampling. For each size a target farm (bench/farm.c) forks that many small
sleeping processes named lwb-target. First the floor (bench/proc-floor.c): the CPU time
of reading, per process, stat + status + the descriptor count, (a) opening and closing
the files each round, (b) through descriptors kept open (pread at offset 0); rounds are
paced like the daemon's ticks, half are taken before the daemon runs and half after,
and the median round is reported. Then leakwatchd runs against the farm with a rule
`name = lwb-target`, interval 0.5 s, smaps-every 10000 (so smaps_rollup is read at the
first tick only, before the measurement: the stat + status path alone, the one the
floor reads). Its CPU time (user + system, all threads, from
/proc/PID/task/*/schedstat in nanoseconds) is read just before every tick, and the
samples of each tick come from its rule_sample row (nproc; checked against the rows of
sample_block's blocks + sample_batch's batches).

Everything the daemon does counts: the scan of /proc for new processes (every tick:
scan-interval follows interval), reading, parsing, the queue, one commit per tick, and
the folds. A fold (every 64 ticks) moves the samples of the minutes completed since the
last one into the per-process table and computes their rollups: its cost follows the
samples it moves, not the ticks around it, so a window of a minute or two would charge
a fold to whatever it happened to contain. The figure is therefore the long-run cost of
a sample, taken once and folded once:
    sampling  CPU of the intervals without a fold / samples taken in them
    fold      (CPU of the intervals of a fold - the sampling of the samples taken in
              them) / the samples it moved (the daemon logs "folded N samples" at
              log-level debug)
    daemon    sampling + fold
The daemon starts START_PHASE s past a minute, so its first fold (32 s later) comes after
a minute boundary and moves every sample taken before it; the run ends once that fold
is over (for the largest size, once a second one is: the memory figures cover both).
The plain ratio over the whole run (CPU / samples, with whatever folds it held) is
printed as well.

smaps_rollup. The same with smaps-every 1 and smaps-min-interval 0 (every tick), on
fewer processes that each touch 50 MiB of heap: smaps_rollup walks the page tables, so
its cost grows with the resident set. The floor adds open/read/close of smaps_rollup
and reading smaps up to the end of the [heap] record.

Storage (bench/ingest.c): the writer and the store directly, 1000 processes, a commit
per tick of 1000 samples, a fold every 64 ticks; then the bytes per row of each table,
from SQLite's dbstat (pages, including their free space), and the cost of pruning.

Memory: the daemon's VmRSS and VmHWM every 10 s while it runs.

Backends: the daemon and smaps sections run this build's leakwatchd twice on the same
farm, between the same floor rounds: with `sampler = bpf` (one pass of the BPF task
iterator per tick, docs/bpf.md) and with `sampler = proc` (stat and status through kept
descriptors); which goes first alternates from size to size. Each row's daemon/kept is
the whole tick (read, detect, store, and the fold) over the kept-descriptor floor. Where
the BPF backend cannot load (not root, no BTF), its row says why and the rest runs.

Side by side: with LWBENCH_BASELINE naming another build directory (another version of
leakwatch, built with make), the daemon and smaps sections run its leakwatchd too, on the
same farm between the same floor rounds, the two in turn (which goes first alternates
from size to size), and print a row for each: a change is judged against the other
version measured in the same run on the same machine, not against figures of another
day.

Environment: BUILD (build directory), LWBENCH_BASELINE (another build directory, run
side by side), LWBENCH_SIZES (default "100 1000 5000"),
LWBENCH_SMAPS ("COUNT MIB", default "200 50"), LWBENCH_SKIP (words: daemon smaps
storage detect), LWBENCH_SOAK (seconds: also run the largest size that long and print
the daemon's memory every 30 s).
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
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import lwblock  # noqa: E402  (the blocks of folded samples, read without the daemon's code)

BUILD = os.path.abspath(os.environ.get("BUILD", "build"))
DAEMON = os.path.join(BUILD, "leakwatchd")
BASELINE = os.environ.get("LWBENCH_BASELINE")
FARM = os.path.join(BUILD, "bench", "farm")
FLOOR = os.path.join(BUILD, "bench", "proc-floor")
INGEST = os.path.join(BUILD, "bench", "ingest")

# Every size runs at this interval: 5000 processes or 200 smaps readings of 50 MiB
# take about a tenth of a second of CPU per tick, which must fit with room to spare on
# a shared 2-core machine, or the daemon leaves ticks out.
INTERVAL = 0.5
# core/watch.c FOLD_TICKS: a fold every 64 ticks, 32 s at 0.5 s.
FOLD_TICKS = 64
# Started this far past a minute, the daemon's first fold comes 12 s after the next
# boundary and moves the 20 s before it; 40 s also leaves room for start-up.
START_PHASE = 40
# How long to wait for the first fold that moves samples (it is due 32 s after the
# start), and then for each further one: the next fold moves nothing if no minute ended
# since, the one after it does; a fold of 5000 processes' samples takes seconds.
FIRST_FOLD_WAIT = 60
NEXT_FOLD_WAIT = 2 * FOLD_TICKS * INTERVAL + 15
# CPU readings are taken this long before a tick is due, when the daemon is idle.
READ_AHEAD = 0.02
# Floor rounds per mode, half before the daemon runs and half after, so that the floor
# and the daemon see the same shared machine; the median is reported.
FLOOR_ROUNDS = 26
MIB = 1024 * 1024


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


def other_processes(farm):
    """Processes on the host besides a farm of that size (and the farm's parent)."""
    return sum(1 for e in os.listdir("/proc") if e.isdigit()) - farm - 1


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
    """COUNT processes named NAME (bench/farm.c's default: lwb-target) that each touched
    MIB MiB, CHURN of them replaced a second; a farm that is not ready within `timeout` s
    is killed."""

    def __init__(self, count, mib, name=None, timeout=600, churn=0):
        extra = [name or "lwb-target", str(churn)] if churn else ([name] if name else [])
        self.proc = subprocess.Popen([FARM, str(count), str(mib)] + extra,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pids = []
        # The farm kills its children by PID when it dies (and they die with it).
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        try:
            for line in self.proc.stdout:
                line = line.strip()
                if line == "ready":
                    break
                self.pids.append(int(line))
        finally:
            watchdog.cancel()
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


def floor_rounds(mode, pids, rounds, interval=INTERVAL):
    """CPU µs per process of each of `rounds` paced rounds."""
    out = subprocess.run([FLOOR, mode, str(interval), str(rounds)], input="\n".join(map(str, pids)) + "\n",
                         capture_output=True, text=True, timeout=rounds * interval * 3 + 120)
    if out.returncode != 0:
        raise RuntimeError("proc-floor %s: %s" % (mode, out.stderr.strip()))
    return [int(a) / int(b) / 1000 for a, b in (l.split() for l in out.stdout.splitlines())]


def floor(mode, pids, rounds=FLOOR_ROUNDS):
    """Median CPU µs per process of one paced round (and min, max)."""
    per = floor_rounds(mode, pids, rounds)
    return statistics.median(per), min(per), max(per)


def with_floors(modes, pids, run):
    """run() between two halves of the floor rounds of each mode; returns its result
    and, per mode, the median, min and max of all rounds."""
    rounds = dict((m, floor_rounds(m, pids, FLOOR_ROUNDS // 2)) for m in modes)
    result = run()
    for m in modes:
        rounds[m] += floor_rounds(m, pids, FLOOR_ROUNDS - FLOOR_ROUNDS // 2)
    return result, [(statistics.median(r), min(r), max(r)) for r in (rounds[m] for m in modes)]


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


def _decoded(db, read):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return read(con)
    finally:
        con.close()


def recent_samples(db):
    """Every recent sample, decoded from its batch (tests/integration/lwblock.py)."""
    return _decoded(db, lwblock.recent)


def folded_samples(db):
    """Every folded sample, decoded from its block (tests/integration/lwblock.py)."""
    return _decoded(db, lwblock.folded)


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


def stop_daemon(d):
    """SIGTERM (it flushes and exits), SIGKILL if it has not after two minutes."""
    if d.poll() is None:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(120)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()


# The runs of each size, as (label, build, sampler): this build with each backend, and
# the baseline build (at its own default: it may not know the sampler key).
LABELS = ("bpf", "proc", "baseline")


def daemons(turn):
    """The daemons to measure, as (label, path, sampler): this build's with each backend,
    and the baseline's when LWBENCH_BASELINE is set, the order alternating with turn."""
    ds = [("bpf", DAEMON, "bpf"), ("proc", DAEMON, "proc")]
    if BASELINE:
        ds.append(("baseline", os.path.join(os.path.abspath(BASELINE), "leakwatchd"), None))
    return ds if turn % 2 == 0 else ds[::-1]


def run_daemons(tmp, pids, smaps, folds, turn):
    """run_daemon() for each of daemons(turn), each in a directory of its own; returns
    [(label, figures)] in the order of LABELS. A backend that cannot load is left out,
    said once."""
    out = {}
    for label, path, sampler in daemons(turn):
        sub = os.path.join(tmp, label)
        os.mkdir(sub)
        try:
            out[label] = run_daemon(sub, pids, smaps, folds, path, sampler)
        except BackendRefused as e:
            skip("leakwatchd with sampler = %s" % sampler, str(e))
    return [(label, out[label]) for label in LABELS if label in out]


class BackendRefused(RuntimeError):
    """The daemon would not start with the backend asked for."""


def run_daemon(tmp, pids, smaps, folds, daemon=DAEMON, sampler=None):
    """Runs leakwatchd against pids until `folds` folds have moved samples; returns the
    figures (see the top of this file)."""
    n = len(pids)
    db = os.path.join(tmp, "daemon.db")
    conf = os.path.join(tmp, "bench.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\ndatabase = %s\ninterval = %gs\nmax-processes = %d\nlog-level = debug\n" % (
            db, INTERVAL, n + 100))
        if sampler:
            f.write("sampler = %s\n" % sampler)
        if smaps:
            f.write("smaps-every = 1\nsmaps-min-interval = 0\nsmaps-max-interval = 0\nsmaps-budget = 100%\n")
        else:
            f.write("smaps-every = 10000\nsmaps-min-interval = 1d\n")
        f.write("\n[rule farm]\nname = lwb-target\n")
    log_path = os.path.join(tmp, "daemon.log")
    logf = open(log_path, "wb")
    sleep_until(next_phase(START_PHASE))
    d = subprocess.Popen([daemon, "--config", conf, "--runtime-dir", tmp], stdout=logf, stderr=subprocess.STDOUT)
    readings = []               # (wall, cpu ns), just before each tick
    moved = []                  # (index into readings, samples) of each fold that moved some
    rss = []
    try:
        deadline = time.time() + 60
        while True:
            if d.poll() is not None:
                text = open(log_path, errors="replace").read()
                if "cannot load the BPF task iterator" in text:
                    raise BackendRefused(text.strip().splitlines()[-1])
                raise RuntimeError("leakwatchd exited: " + text)
            try:
                rows = query(db, "SELECT t, nproc FROM rule_sample ORDER BY t DESC LIMIT 1")
            except sqlite3.OperationalError:
                rows = []
            if rows and rows[0][1] == n:
                break
            if time.time() > deadline:
                raise RuntimeError("leakwatchd did not sample all %d processes within 60 s" % n)
            time.sleep(0.05)
        others = other_processes(n)
        # Readings on the daemon's grid: a tick starts on it unless the one before
        # overran, so a reading just before it finds the daemon idle.
        grid = rows[0][0] / 1000.0
        k = int((time.time() - grid) / INTERVAL) + 2
        give_up = time.time() + FIRST_FOLD_WAIT
        seen = 0
        next_rss = 0
        while len(moved) < folds and time.time() < give_up:
            at = grid + k * INTERVAL - READ_AHEAD
            k += 1
            sleep_until(at)
            readings.append((at, cpu_ns(d.pid)))
            if at >= next_rss:
                rss.append((at, *vm(d.pid)))
                next_rss = at + 10
            with open(log_path, errors="replace") as f:
                lines = f.read().splitlines()
            for line in lines[seen:]:
                if "folded " in line and int(line.split("folded ")[1].split()[0]) > 0:
                    moved.append((len(readings) - 1, int(line.split("folded ")[1].split()[0])))
                    give_up = time.time() + NEXT_FOLD_WAIT
            seen = len(lines)
        # Two more intervals: the daemon idles after a long fold, and the sampling
        # figure needs an interval on each side of it.
        for _ in range(2):
            at = grid + k * INTERVAL - READ_AHEAD
            k += 1
            sleep_until(at)
            readings.append((at, cpu_ns(d.pid)))
        rss.append((readings[-1][0], *vm(d.pid)))
    finally:
        stop_daemon(d)
        logf.close()
    if d.returncode != 0:
        raise RuntimeError("leakwatchd exited with %s: %s" % (d.returncode, open(log_path, errors="replace").read()))
    if not moved:
        raise RuntimeError("no fold moved samples within %d s" % FIRST_FOLD_WAIT)

    # Samples taken in each interval between readings, by the time of their tick.
    ms0, ms1 = int(readings[0][0] * 1000), int(readings[-1][0] * 1000)
    ticks = query(db, "SELECT t, nproc FROM rule_sample WHERE t >= ? AND t < ? ORDER BY t", (ms0, ms1))
    taken = [0] * (len(readings) - 1)
    i = 0
    for t, nproc in ticks:
        while readings[i + 1][0] * 1000 <= t:
            i += 1
        taken[i] += nproc
    in_tables = sum(1 for s in recent_samples(db) if ms0 <= s["t"] < ms1)
    in_tables += sum(1 for s in folded_samples(db) if ms0 <= s["t"] < ms1)
    cpu = [(b[1] - a[1]) / 1000.0 for a, b in zip(readings, readings[1:])]     # µs
    typical = statistics.median(cpu)

    # A fold's intervals: the one in which its log line appeared and the busy ones
    # before it (a fold of seconds spans several); after it the daemon idles.
    blocks = []
    for idx, _ in moved:
        block = {idx - 1}
        j = idx - 2
        while j >= 0 and cpu[j] > 2.5 * typical:
            block.add(j)
            j -= 1
        j = idx
        while j < len(cpu) and cpu[j] > 2.5 * typical:     # the line came out just after
            block.add(j)
            j += 1
        blocks.append(block)
    in_fold = set().union(*blocks)
    plain = [j for j in range(len(cpu)) if j not in in_fold]
    sampling = sum(cpu[j] for j in plain) / sum(taken[j] for j in plain)
    fold_cpu = [sum(cpu[j] for j in b) - sampling * sum(taken[j] for j in b) for b in blocks]
    fold = sum(fold_cpu) / sum(m for _, m in moved)
    return {
        "processes": n,
        "others": others,
        "samples": sum(taken),
        "in_tables": in_tables,
        "seconds": readings[-1][0] - readings[0][0],
        "sampling": sampling,
        "fold": fold,
        "daemon": sampling + fold,
        "plain": sum(cpu) / sum(taken),
        "moved": [m for _, m in moved],
        "fold_ms": [c / 1000.0 for c in fold_cpu],
        "typical_tick_ms": typical / 1000.0,
        "skipped": sum(1 for c in cpu if c < 0.1 * typical),
        "core_share": sum(cpu) / 1e6 / (readings[-1][0] - readings[0][0]),
        "rss": [(round(t - readings[0][0]), a, b) for t, a, b in rss],
        "overruns": open(log_path, errors="replace").read().count("longer than the interval"),
    }


# ---- sections ----

def fmt_us(v):
    return "%.2f" % v if v < 10 else "%.1f" % v


def detail(r):
    notes = []
    if r["in_tables"] != r["samples"]:
        notes.append("MISMATCH: the rule sums count %d samples, the tables %d" % (r["samples"], r["in_tables"]))
    if r["skipped"]:
        notes.append("%d ticks left out after ticks that overran" % r["skipped"])
    if "floor_open" in r:
        notes.append("floor rounds: open %s..%s, kept %s..%s" % (
            fmt_us(r["floor_open"][1]), fmt_us(r["floor_open"][2]), fmt_us(r["floor_kept"][1]),
            fmt_us(r["floor_kept"][2])))
    return ("  %5d: %d samples in %.0f s (%.2f%% of a core at %gs), typical tick %.1f ms; folds moved %s samples "
            "in %s ms of CPU; CPU / samples over the whole run %s µs%s" % (
                r["processes"], r["samples"], r["seconds"], r["core_share"] * 100, INTERVAL, r["typical_tick_ms"],
                ", ".join(str(m) for m in r["moved"]), ", ".join("%.0f" % c for c in r["fold_ms"]), fmt_us(r["plain"]),
                "".join("; " + x for x in notes)))


def daemon_section(sizes):
    print("\n== Daemon sampling: CPU µs per process-sample (user + system) ==")
    print("interval %gs, scan every tick, one commit per tick; daemon = sampling + fold (see bench/run.py); "
          "floors: median of %d paced rounds, half before the daemon, half after" % (INTERVAL, FLOOR_ROUNDS))
    print("%9s %-8s %11s %11s %9s %9s %7s %12s %12s %13s %s" % (
        "processes", "run", "floor open", "floor kept", "sampling", "fold", "daemon",
        "daemon/kept", "daemon/open", "core at 1 s", "daemon VmRSS"))
    results, others = [], []
    for turn, n in enumerate(sizes):
        why = pid_room(n) or ensure_nofile(3 * n + 1024)
        if why:
            skip("%d processes" % n, why)
            continue
        farm = Farm(n, 0)
        try:
            with tempfile.TemporaryDirectory(prefix="lwbench-", dir="/var/tmp") as tmp:
                rs, (fo, fk) = with_floors(("open", "kept"), farm.pids,
                                           lambda: run_daemons(tmp, farm.pids, False, 2 if n == max(sizes) else 1,
                                                               turn))
        finally:
            farm.stop()
        for label, r in rs:
            r.update(floor_open=fo, floor_kept=fk, build=label)
            (results if label == "bpf" else others).append(r)
            d = r["daemon"]
            print("%9d %-8s %11s %11s %9s %9s %7s %11.2fx %11.2fx %12.2f%% %s" % (
                n, label, fmt_us(fo[0]), fmt_us(fk[0]), fmt_us(r["sampling"]),
                fmt_us(r["fold"]), fmt_us(d), d / fk[0], d / fo[0], d * n / 1e6 * 100,
                "%.1f..%.1f MiB" % (r["rss"][0][1] / MIB, max(x[1] for x in r["rss"]) / MIB)), flush=True)
        by = dict(rs)
        for a, b in (("bpf", "proc"), ("bpf", "baseline")):
            if a in by and b in by:
                this, base = by[a], by[b]
                print("%9s %-8s %35s %8.2fx %8.2fx %6.2fx" % (
                    "", "%s/%s" % (a, b if b == "proc" else "base"), "", this["sampling"] / base["sampling"],
                    this["fold"] / base["fold"] if base["fold"] else float("nan"), this["daemon"] / base["daemon"]),
                    flush=True)
    for r in results + others:
        print("%-8s " % r["build"] + detail(r))
    for r in results:
        # The aim for the BPF backend: the whole tick at most a third of the bare reads
        # of stat and status through kept descriptors.
        print("  bpf backend at %d processes: the whole tick (read + detect + store + fold) %s µs per sample, "
              "%.2fx the kept-descriptor floor (%s µs; aim: 0.33x or less)" % (
                  r["processes"], fmt_us(r["daemon"]), r["daemon"] / r["floor_kept"][0], fmt_us(r["floor_kept"][0])))
    if len(results) >= 2:
        # Sampling per tick against the number of processes: the slope is what one
        # more watched process costs, the intercept what a tick costs whatever it
        # watches (the scan re-reads the stat of every process it does not watch, the
        # commit).
        xs = [r["processes"] for r in results]
        ys = [r["sampling"] * r["processes"] for r in results]
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        kept = statistics.median(r["floor_kept"][0] for r in results)
        lo, hi = min(r["others"] for r in results), max(r["others"] for r in results)
        print("  sampling per tick = %.2f ms + %s µs per watched process (least squares over the sizes; %s other "
              "processes on the host): %.2fx the kept floor (%s), %.2fx with the fold" % (
                  (my - slope * mx) / 1000, fmt_us(slope), lo if lo == hi else "%d..%d" % (lo, hi), slope / kept,
                  fmt_us(kept), (slope + statistics.median(r["fold"] for r in results)) / kept))
    big = [r for r in results if r["processes"] == max(sizes)]
    if big:
        print("  daemon memory with %d targets (s after the first reading: VmRSS / VmHWM):" % big[0]["processes"])
        print("    " + ", ".join("%ds %.1f/%.1f" % (t, a / MIB, b / MIB) for t, a, b in big[0]["rss"]) + " MiB")
    return results


def smaps_section(count, mib):
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
        with tempfile.TemporaryDirectory(prefix="lwbench-", dir="/var/tmp") as tmp:
            rs, (fk, fr) = with_floors(("kept", "rollup"), farm.pids,
                                       lambda: run_daemons(tmp, farm.pids, True, 1, 0))
    finally:
        farm.stop()
    print("%d processes of %d MiB (heap, touched), smaps-every 1, smaps-min-interval 0, interval %gs" % (
        count, mib, INTERVAL))
    print("%s%22s %22s %9s %9s %7s %13s" % ("%-9s" % "run", "floor kept (no smaps)",
                                           "floor kept + smaps", "sampling", "fold", "daemon", "daemon/floor"))
    for label, r in rs:
        d = r["daemon"]
        print("%s%22s %22s %9s %9s %7s %12.2fx" % ("%-9s" % label, fmt_us(fk[0]), fmt_us(fr[0]),
                                                  fmt_us(r["sampling"]), fmt_us(r["fold"]), fmt_us(d), d / fr[0]))
    for label, r in rs:
        print("%-8s " % label + detail(r))
    print("  floor kept + smaps: rounds %s..%s" % (fmt_us(fr[1]), fmt_us(fr[2])))
    return rs[0][1]


def soak_section(n, seconds):
    """The daemon's memory over a longer run (not part of make bench's default)."""
    print("\n== Daemon memory over %d s with %d targets (interval %gs) ==" % (seconds, n, INTERVAL))
    why = pid_room(n) or ensure_nofile(3 * n + 1024)
    if why:
        skip("soak", why)
        return
    farm = Farm(n, 0)
    try:
        with tempfile.TemporaryDirectory(prefix="lwbench-", dir="/var/tmp") as tmp:
            db = os.path.join(tmp, "daemon.db")
            conf = os.path.join(tmp, "bench.conf")
            with open(conf, "w") as f:
                f.write("[daemon]\ndatabase = %s\ninterval = %gs\nmax-processes = %d\n\n[rule farm]\n"
                        "name = lwb-target\n" % (db, INTERVAL, n + 100))
            d = subprocess.Popen([DAEMON, "--config", conf, "--runtime-dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                start = time.time()
                line = []
                while time.time() - start < seconds:
                    sleep_until(start + 30 * (len(line) + 1))
                    rss, hwm = vm(d.pid)
                    line.append("%ds %.1f/%.1f" % (time.time() - start, rss / MIB, hwm / MIB))
                print("  VmRSS/VmHWM MiB: " + ", ".join(line))
            finally:
                d.send_signal(signal.SIGTERM)
                d.wait(120)
    finally:
        farm.stop()


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
                        for t in ("rollup", "rule_sample"))
            # Recent samples are packed a commit to a row (sql/012-sample-batch.sql).
            rows["sample_batch"] = con.execute("SELECT coalesce(sum(n), 0) FROM sample_batch").fetchone()[0]
            # Folded samples are packed per process in blocks (store/block.h).
            rows["sample_block"] = con.execute("SELECT coalesce(sum(n), 0) FROM sample_block").fetchone()[0]
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
    print("  CPU µs per sample: tick (queue + commit) %s, fold %s (medians; the first fold %s, the last %s)%s" % (
        fmt_us(r["tick_cpu_us"]), fmt_us(r["fold_cpu_us"]), fmt_us(r["fold_first_cpu_us"]),
        fmt_us(r["fold_last_cpu_us"]),
        (", pruning a raw sample %s" % fmt_us(prune["prune_cpu_us"])) if "prune_cpu_us" in prune else ""))
    size, used = pages.get("sample_block", (0, 0))
    print("  bytes per stored sample (blocks of folded samples): %.1f (pages), %.1f (used bytes in them)" % (
        size / rows["sample_block"], used / rows["sample_block"]))
    rsize = pages.get("rollup", (0, 0))[0]
    print("  rollups: %.1f bytes per row; %d minute rows of %d samples, %d hour rows of %d: %.2f bytes per "
          "raw sample for both levels together" % (rsize / max(1, rows["rollup"]), minute_rows[0], minute_rows[1],
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
    smaps = [int(s) for s in os.environ.get("LWBENCH_SMAPS", "200 50").split()]
    skips = os.environ.get("LWBENCH_SKIP", "").split()
    started = time.time()
    print("leakwatch benchmarks, %s" % time.strftime("%Y-%m-%d %H:%M"))
    print("machine: %s" % machine())
    print("command: make bench (BUILD=%s%s)" % (os.path.relpath(BUILD),
                                                 ", LWBENCH_BASELINE=%s" % BASELINE if BASELINE else ""))
    if "storage" not in skips:
        storage_section()
    if "daemon" not in skips:
        daemon_section(sizes)
    if "smaps" not in skips:
        smaps_section(smaps[0], smaps[1])
    if os.environ.get("LWBENCH_SOAK"):
        soak_section(max(sizes), int(os.environ["LWBENCH_SOAK"]))
    if "detect" not in skips:
        detect_section()
    print("\n(%.0f s)" % (time.time() - started))


if __name__ == "__main__":
    main()
