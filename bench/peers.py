#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatchd side by side with the tools people watch process memory with today
(make bench-peers, docs/performance.md "Side by side with other tools").

One farm of targets (bench/farm.c: N processes that each touched MIB MiB of heap, named
lwpeer-PID after this script, so that no other farm on the host matches), then each tool
in turn, alone, for the same number of seconds, sampling every second:

    floor               bench/proc-floor.c: the bare reads, no parsing (see below)
    leakwatchd          a rule matching the farm by name, a temporary database, the
                        default smaps policy (smaps_rollup at most once a minute per
                        process), with each sampling backend: sampler = bpf (the BPF
                        task iterator, the reference the others are compared with) and
                        sampler = proc; and bpf reading smaps at every tick
    process-exporter    prometheus-process-exporter grouping the farm by name, listening
                        on 127.0.0.1, scraped every second by this script (standing in
                        for Prometheus); -gather-smaps=false, and =true (its default)
    pidstat             pidstat -r -p PID,PID,... 1 (sysstat)
    collectd            collectd -f with the processes plugin (Process NAME) and the csv
                        writer into the temporary directory, Interval 1
    atop                atop -w FILE 1: atop samples every process on the host
    psutil              bench/peers-psutil.py: a loop as mprof or psrecord run it,
                        memory_info(), and a variant with memory_full_info()

What is counted, for each tool: its CPU time (user + system, every thread, from
/proc/PID/task/*/schedstat in ns, plus its descendants' and reaped children's) over a
window of SECONDS s that starts once it has reported every target and WARMUP s more, and
the process-samples it took in that window, by its own timestamps: the processes each of
its rounds reported (leakwatchd's rule_sample rows, the exporter's num_procs per scrape,
pidstat's lines, collectd's ps_count rows, the psutil loop's rounds). atop cannot be
limited to some processes: its divisor is every process it recorded in the window (its
PRM lines of processes, not threads). Figure = total CPU of the window / its samples (not
a median of seconds). Only the tool's own process is counted: the scraper's CPU is not
the exporter's. Peak RSS is the tool's VmHWM (with its descendants') at the end of the
window. Timestamps are whole seconds for pidstat and atop, so a window may hold one round
more or less than the CPU it measured (1/SECONDS).

leakwatchd is started 58 s past a minute and its window opens 34 s later: its first fold
(64 ticks after the start, 2 s past a minute) then falls in the middle of the window and
moves the 62 s of samples before that minute, about one window's worth, so the window
holds its long-run cost, sampling and fold (docs/performance.md).

With LWBENCH_PEERS_PIDNS=1 the whole benchmark runs in a PID namespace of its own with
its own /proc (unshare --pid --mount-proc): the tools that scan every process (leakwatchd,
process-exporter, collectd, atop) then find the farm and the benchmark's own processes
only, whatever else the machine runs. Without it they also scan the host's.

Floors (bench/proc-floor.c, paced rounds at 1 s, half before the tools and half after;
their total CPU over their process-samples): kept = one pread of stat and status and an fstatat of fd/ through descriptors
kept open; kept + smaps_rollup = also open, read, close of smaps_rollup (what tools that
report PSS read); kept + rollup + heap = also the [heap] record of smaps (what leakwatchd
reads when it reads smaps). Rows that read smaps at every sample are compared with
leakwatchd reading smaps at every tick and with the kept + smaps_rollup floor; the others
with leakwatchd at its defaults and the kept floor.

Environment: BUILD, LWBENCH_PEERS_N (200), LWBENCH_PEERS_MIB (50), LWBENCH_PEERS_SECONDS
(60), LWBENCH_PEERS_ONLY (words: floor leakwatchd process-exporter pidstat collectd atop
psutil), LWBENCH_PEERS_JSON (a file to write the results to).

Every process started is killed by its PID (SIGTERM, then SIGKILL) when its turn ends, on
any error, and on SIGINT or SIGTERM; the farm's targets die with the farm; the temporary
directory is removed.
"""

import atexit
import glob
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import run  # bench/run.py: the machine, the farm, the floor, /proc helpers

N = int(os.environ.get("LWBENCH_PEERS_N", "200"))
MIB = int(os.environ.get("LWBENCH_PEERS_MIB", "50"))
SECONDS = int(os.environ.get("LWBENCH_PEERS_SECONDS", "60"))
ONLY = os.environ.get("LWBENCH_PEERS_ONLY", "").split()
INTERVAL = 1.0
# After a tool has reported every target, this long before the window opens: start-up
# (a Go runtime, loading plugins, opening the database) is not sampling.
WARMUP = 3
# How long a tool may take to report every target.
READY_WAIT = 60
# How long a stopped process may take to exit before SIGKILL.
STOP_WAIT = 10
# leakwatchd's first fold comes 64 ticks after its start (core/watch.c FOLD_TICKS).
FOLD_TICKS = 64
LEAKWATCHD_PHASE = 58
# Debian's python3-psutil is for Debian's python3, whatever python3 runs this script.
PSUTIL_PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024


# ---- every process started, by PID ----

STARTED = []


def start(argv, **kw):
    """Starts argv in its own session (a ^C reaches this script, which stops it)."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    STARTED.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    """Sends sig to p's PID, then SIGKILL if it has not exited within STOP_WAIT s."""
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(STOP_WAIT)
    if p in STARTED:
        STARTED.remove(p)
    return p.returncode


def stop_all():
    for p in list(STARTED):
        stop(p)


def on_signal(sig, frame):
    raise SystemExit(128 + sig)


# ---- CPU and memory of a tool ----

def task_ids(pid):
    try:
        return os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return []


def read_or_none(path):
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(pid):
    out = []
    for tid in task_ids(pid):
        for c in (read_or_none("/proc/%d/task/%s/children" % (pid, tid)) or "").split():
            out.append(int(c))
            out += descendants(int(c))
    return out


def stat_fields(pid):
    with open("/proc/%d/stat" % pid, "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()


def tool_cpu(pid):
    """(ns, ticks ns) of pid and its descendants: ns from every thread's schedstat plus
    the reaped children's cutime + cstime; ticks ns from utime + stime + cutime + cstime
    alone, to check the first (10 ms resolution)."""
    f = stat_fields(pid)
    reaped = (int(f[13]) + int(f[14])) * TICK_NS
    ns, ticks = reaped, sum(int(x) for x in f[11:15]) * TICK_NS
    for p in [pid] + descendants(pid):
        for tid in task_ids(p):
            s = read_or_none("/proc/%d/task/%s/schedstat" % (p, tid))
            ns += int(s.split()[0]) if s else 0
        if p != pid:
            try:
                g = stat_fields(p)
                ticks += (int(g[11]) + int(g[12])) * TICK_NS
            except FileNotFoundError:
                pass
    return ns, ticks


def peak_rss(pid):
    total = 0
    for p in [pid] + descendants(pid):
        try:
            total += run.vm(p)[1]
        except (FileNotFoundError, KeyError):
            pass
    return total


def host_processes():
    return sum(1 for e in os.listdir("/proc") if e.isdigit())


def free_port():
    """A free TCP port on 127.0.0.1 (bound to port 0 and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, chars=2000):
    text = read_or_none(path) or ""
    return text[-chars:].strip()


# ---- the tools ----

class Tool:
    """One peer. kind: "plain" (no smaps at each sample) or "smaps"; start() returns the
    process to measure; ready() says it has reported every target; samples(t0, t1) the
    process-samples it took in the window; finish() stops everything it started."""

    def __init__(self, ctx, key, name, note, kind="plain"):
        self.ctx, self.key, self.name, self.note, self.kind = ctx, key, name, note, kind
        self.proc = None
        self.log = os.path.join(ctx["tmp"], self.key + ".log")
        self.extra = []

    def missing(self):
        return None

    def opens(self):
        """The earliest wall time the window may open."""
        return 0

    def finish(self):
        if self.proc:
            stop(self.proc)

    def detail(self):
        return "; ".join(self.extra)


def which(*names):
    for n in names:
        p = shutil.which(n) or (os.path.exists("/usr/sbin/" + n) and "/usr/sbin/" + n)
        if p:
            return p
    return None


class Leakwatchd(Tool):
    """leakwatchd with one sampling backend: the BPF task iterator (key leakwatchd, the
    reference the other tools are compared with) or /proc (leakwatchd-proc)."""

    def __init__(self, ctx, smaps, sampler="bpf"):
        if smaps:
            super().__init__(ctx, "leakwatchd-smaps", "leakwatchd (bpf), smaps every tick",
                             "sampler bpf, smaps-every 1, smaps-min-interval 0, smaps-max-interval 0, smaps-budget 100%: smaps_rollup and the [heap] record of smaps", "smaps")
        else:
            super().__init__(ctx, "leakwatchd" if sampler == "bpf" else "leakwatchd-" + sampler,
                             "leakwatchd (%s)" % sampler,
                             "sampler %s; defaults: smaps_rollup every 10 min per stable process, within 1%% of a core"
                             % sampler)
        self.smaps = smaps
        self.sampler = sampler
        self.db = os.path.join(ctx["tmp"], self.key + ".db")

    def missing(self):
        if not os.access(run.DAEMON, os.X_OK):
            return "%s not built" % run.DAEMON
        if self.sampler == "bpf" and os.environ.get("LWBENCH_PEERS_PIDNS") == "1":
            return "sampler bpf: the task iterator reads the host's PIDs, not those of a PID namespace"
        return None

    def start(self):
        conf = os.path.join(self.ctx["tmp"], self.key + ".conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ndatabase = %s\ninterval = %gs\nmax-processes = %d\nsampler = %s\n" % (
                self.db, INTERVAL, N + 100, self.sampler))
            if self.smaps:
                f.write("smaps-every = 1\nsmaps-min-interval = 0\nsmaps-max-interval = 0\nsmaps-budget = 100%\n")
            f.write("\n[rule peers]\nname = %s\n" % self.ctx["name"])
        run.sleep_until(run.next_phase(LEAKWATCHD_PHASE))
        self.started = time.time()
        # A runtime directory of its own: another daemon on the host holds /run/leakwatch.
        rundir = os.path.join(self.ctx["tmp"], self.key + ".run")
        os.makedirs(rundir, exist_ok=True)
        self.proc = start([run.DAEMON, "--config", conf, "--runtime-dir", rundir], stdout=open(self.log, "wb"),
                          stderr=subprocess.STDOUT)
        return self.proc

    def opens(self):
        # The first fold in the middle of the window (see the top of this file).
        return self.started + FOLD_TICKS * INTERVAL - SECONDS / 2

    def ready(self):
        try:
            rows = run.query(self.db, "SELECT nproc FROM rule_sample ORDER BY t DESC LIMIT 1")
        except sqlite3.OperationalError:
            return False
        return bool(rows) and rows[0][0] == N

    def samples(self, t0, t1):
        w = (int(t0 * 1000), int(t1 * 1000))
        n = run.query(self.db, "SELECT coalesce(sum(nproc), 0) FROM rule_sample WHERE t >= ? AND t < ?", w)[0][0]
        rows = sum(1 for s in run.recent_samples(self.db) if w[0] <= s["t"] < w[1])
        rows += sum(1 for s in run.folded_samples(self.db) if w[0] <= s["t"] < w[1])
        folded = run.query(self.db, "SELECT coalesce(sum(n), 0) FROM sample_block")[0][0]
        fold_at = self.started + FOLD_TICKS * INTERVAL
        self.extra.append("a fold at about +%.0f s of the window moved %d samples" % (fold_at - t0, folded)
                          if t0 <= fold_at < t1 else "no fold in the window")
        if rows != n:
            raise RuntimeError("rule sums count %d samples, the sample tables %d" % (n, rows))
        return n


class ProcessExporter(Tool):
    def __init__(self, ctx, smaps):
        if smaps:
            super().__init__(ctx, "process-exporter-smaps", "process-exporter -gather-smaps",
                             "-gather-smaps=true (its default): smaps_rollup of each process at every scrape", "smaps")
        else:
            super().__init__(ctx, "process-exporter", "process-exporter",
                             "-gather-smaps=false; collects at every scrape; the scraper's CPU is not counted")
        self.smaps = smaps
        self.binary = which("prometheus-process-exporter", "process-exporter")
        self.scrapes = []       # (wall at the request, num_procs of the farm's group or None: failed)
        self.halt = threading.Event()

    def missing(self):
        return None if self.binary else "prometheus-process-exporter is not installed (tools/install-deps --bench)"

    def start(self):
        conf = os.path.join(self.ctx["tmp"], self.key + ".yml")
        with open(conf, "w") as f:
            f.write("process_names:\n  - name: \"{{.Comm}}\"\n    comm:\n      - %s\n" % self.ctx["name"])
        url = "http://127.0.0.1:%d/metrics" % free_port()
        self.proc = start([self.binary, "-config.path", conf, "-web.listen-address", url[7:-8],
                           "-gather-smaps=%s" % ("true" if self.smaps else "false")],
                          stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        want = re.compile(r'^namedprocess_namegroup_num_procs\{groupname="%s"\} (\S+)$' % re.escape(self.ctx["name"]),
                          re.M)

        def scrape():
            k = 0
            origin = time.time()
            while not self.halt.is_set():
                at = time.time()
                try:
                    with urllib.request.urlopen(url, timeout=10) as r:
                        m = want.search(r.read().decode())
                    self.scrapes.append((at, int(float(m.group(1))) if m else 0))
                except OSError:
                    self.scrapes.append((at, None))
                k += 1
                self.halt.wait(max(0.0, origin + k * INTERVAL - time.time()))

        self.thread = threading.Thread(target=scrape, daemon=True)
        self.thread.start()
        return self.proc

    def ready(self):
        return any(n == N for _, n in self.scrapes if n)

    def finish(self):
        self.halt.set()
        if hasattr(self, "thread"):
            self.thread.join(15)
        super().finish()

    def samples(self, t0, t1):
        inside = [n for t, n in self.scrapes if t0 <= t < t1]
        self.extra.append("%d scrapes in the window, %d of them failed" % (len(inside), inside.count(None)))
        return sum(n for n in inside if n)


class Pidstat(Tool):
    def __init__(self, ctx):
        super().__init__(ctx, "pidstat", "pidstat -r", "pidstat -H -h -r -p PID,... 1")
        self.binary = which("pidstat")
        self.out = os.path.join(ctx["tmp"], "pidstat.out")

    def missing(self):
        return None if self.binary else "pidstat is not installed (sysstat: tools/install-deps --bench)"

    def start(self):
        self.proc = start([self.binary, "-H", "-h", "-r", "-p", ",".join(map(str, self.ctx["pids"])), "%g" % INTERVAL],
                          stdout=open(self.out, "wb"), stderr=open(self.log, "wb"), env=dict(os.environ, LC_ALL="C"))
        return self.proc

    def ready(self):
        # Its output is buffered: lines show up in blocks, after its first interval.
        return os.path.getsize(self.out) > 0

    def finish(self):
        if self.proc:
            stop(self.proc, signal.SIGINT)      # SIGINT: it flushes and prints averages

    def samples(self, t0, t1):
        pids = set(self.ctx["pids"])
        n = 0
        with open(self.out) as f:
            for line in f:
                w = line.split()
                if len(w) > 3 and w[0].isdigit() and t0 <= int(w[0]) < t1 and int(w[2]) in pids:
                    n += 1
        return n


class Collectd(Tool):
    def __init__(self, ctx):
        super().__init__(ctx, "collectd", "collectd processes",
                         "Process NAME, Interval 1, csv writer to a temporary directory")
        self.binary = which("collectd")
        self.csv = os.path.join(ctx["tmp"], "csv")

    def missing(self):
        if not self.binary:
            return "collectd is not installed (collectd-core: tools/install-deps --bench)"
        if not os.path.exists("/usr/lib/collectd/processes.so"):
            return "collectd's processes plugin is missing"
        return None

    def start(self):
        conf = os.path.join(self.ctx["tmp"], "collectd.conf")
        with open(conf, "w") as f:
            f.write('Hostname "peers"\nFQDNLookup false\nBaseDir "%s"\nPIDFile "%s/collectd.pid"\nInterval %g\n'
                    'LoadPlugin processes\nLoadPlugin csv\n<Plugin processes>\n  Process "%s"\n</Plugin>\n'
                    '<Plugin csv>\n  DataDir "%s"\n  StoreRates false\n</Plugin>\n' % (
                        self.ctx["tmp"], self.ctx["tmp"], INTERVAL, self.ctx["name"], self.csv))
        self.proc = start([self.binary, "-C", conf, "-f"], stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        return self.proc

    def rows(self):
        """(epoch, processes) of the farm's ps_count files."""
        out = []
        for path in glob.glob(os.path.join(self.csv, "*", "processes-" + self.ctx["name"], "ps_count-*")):
            with open(path) as f:
                for line in f:
                    w = line.strip().split(",")
                    if len(w) == 3 and w[0][:1].isdigit():
                        out.append((float(w[0]), int(float(w[1]))))
        return out

    def ready(self):
        return any(n == N for _, n in self.rows())

    def samples(self, t0, t1):
        return sum(n for t, n in self.rows() if t0 <= t < t1)


class Atop(Tool):
    def __init__(self, ctx):
        super().__init__(ctx, "atop", "atop", "atop -w FILE 1; every process on the host is a sample")
        self.binary = which("atop")
        self.raw = os.path.join(ctx["tmp"], "atop.raw")
        self.first_size = None

    def missing(self):
        return None if self.binary else "atop is not installed (tools/install-deps --bench)"

    def start(self):
        self.proc = start([self.binary, "-w", self.raw, "%g" % INTERVAL], stdout=open(self.log, "wb"),
                          stderr=subprocess.STDOUT)
        return self.proc

    def ready(self):
        # The first sample (since boot) is written at once; ready at the second.
        size = os.path.getsize(self.raw) if os.path.exists(self.raw) else 0
        if size and self.first_size is None:
            self.first_size = size
        return self.first_size is not None and size > self.first_size

    def samples(self, t0, t1):
        out = subprocess.run([self.binary, "-r", self.raw, "-P", "PRM"], capture_output=True, text=True,
                             timeout=300, env=dict(os.environ, LC_ALL="C"))
        if out.returncode != 0:
            raise RuntimeError("atop -r: " + out.stderr.strip())
        pids = set(self.ctx["pids"])
        every = farm = 0
        for line in out.stdout.splitlines():
            if not line.startswith("PRM ") or ") " not in line:
                continue
            head, rest = line.split(") ", 1)
            w = head.split()
            if not t0 <= int(w[2]) < t1 or rest.split()[14] != "y":     # a thread, not a process
                continue
            every += 1
            farm += int(w[6]) in pids
        self.extra.append("of which the farm's %d" % farm)
        if farm == 0:
            raise RuntimeError("atop recorded none of the farm's processes")
        return every


class Psutil(Tool):
    def __init__(self, ctx, full):
        if full:
            super().__init__(ctx, "psutil-full", "psutil memory_full_info", "statm and smaps_rollup", "smaps")
        else:
            super().__init__(ctx, "psutil", "psutil memory_info", "statm")
        self.full = full
        self.out = os.path.join(ctx["tmp"], self.key + ".out")

    def missing(self):
        try:
            r = subprocess.run([PSUTIL_PYTHON, "-c", "import psutil"], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return "%s: %s" % (PSUTIL_PYTHON, e)
        return None if r.returncode == 0 else "%s has no psutil (python3-psutil: tools/install-deps --bench)" % (
            PSUTIL_PYTHON)

    def start(self):
        seconds = READY_WAIT + WARMUP + SECONDS + 30
        self.proc = start([PSUTIL_PYTHON, os.path.join(HERE, "peers-psutil.py"), "full" if self.full else "basic",
                           "%g" % INTERVAL, str(seconds)], stdin=subprocess.PIPE, stdout=open(self.out, "wb"),
                          stderr=open(self.log, "wb"))
        self.proc.stdin.write("".join("%d\n" % p for p in self.ctx["pids"]).encode())
        self.proc.stdin.close()
        return self.proc

    def rounds(self):
        with open(self.out) as f:
            return [(float(t), int(n)) for t, n in (line.split() for line in f if line.strip())]

    def ready(self):
        return any(n == N for _, n in self.rounds())

    def samples(self, t0, t1):
        return sum(n for t, n in self.rounds() if t0 <= t < t1)


# ---- measuring ----

class NoSamples(RuntimeError):
    pass


def measure(tool):
    """Runs tool to the end of its window; returns its figures."""
    p = tool.start()
    try:
        deadline = time.time() + READY_WAIT
        while not tool.ready():
            if p.poll() is not None:
                raise RuntimeError("exited with status %s before reporting every target: %s" % (
                    p.returncode, tail(tool.log)))
            if time.time() > deadline:
                raise RuntimeError("did not report all %d targets within %d s: %s" % (N, READY_WAIT, tail(tool.log)))
            time.sleep(0.2)
        time.sleep(WARMUP)
        run.sleep_until(tool.opens())
        hosts = host_processes()
        t0, (c0, k0) = time.time(), tool_cpu(p.pid)
        time.sleep(SECONDS)
        t1, (c1, k1) = time.time(), tool_cpu(p.pid)
        hwm = peak_rss(p.pid)
        hosts = (hosts + host_processes()) / 2
        if p.poll() is not None:
            raise RuntimeError("exited with status %s during the window: %s" % (p.returncode, tail(tool.log)))
    finally:
        tool.finish()
    samples = tool.samples(t0, t1)
    if samples <= 0:
        raise NoSamples("no process-samples in the window of %d s" % SECONDS)
    cpu, ticks = c1 - c0, k1 - k0
    if abs(cpu - ticks) > 0.1 * cpu + 3 * TICK_NS:
        tool.extra.append("CPU by schedstat %.0f ms but by utime+stime %.0f ms" % (cpu / 1e6, ticks / 1e6))
    return {"key": tool.key, "name": tool.name, "kind": tool.kind, "note": tool.note, "samples": samples,
            "us": cpu / 1000.0 / samples, "cpu_ms": cpu / 1e6, "seconds": t1 - t0, "rss": hwm,
            "host_processes": hosts, "detail": tool.detail()}


FLOORS = (("kept", "floor: kept", "plain"), ("smaps-rollup", "floor: kept + smaps_rollup", "smaps"),
          ("rollup", "floor: kept + rollup + heap", None))


def measure_floors(pids, rounds, half):
    """Floor rounds of every mode: the first half (half=0) or the second (1)."""
    n = rounds // 2 if half == 0 else rounds - rounds // 2
    return dict((mode, run.floor_rounds(mode, pids, n, INTERVAL)) for mode, _, _ in FLOORS)


def tools(ctx):
    all_tools = [("leakwatchd", lambda: Leakwatchd(ctx, False)), ("leakwatchd", lambda: Leakwatchd(ctx, False, "proc")),
                 ("leakwatchd", lambda: Leakwatchd(ctx, True)),
                 ("process-exporter", lambda: ProcessExporter(ctx, False)),
                 ("process-exporter", lambda: ProcessExporter(ctx, True)),
                 ("pidstat", lambda: Pidstat(ctx)), ("collectd", lambda: Collectd(ctx)), ("atop", lambda: Atop(ctx)),
                 ("psutil", lambda: Psutil(ctx, False)), ("psutil", lambda: Psutil(ctx, True))]
    return [make for word, make in all_tools if not ONLY or word in ONLY]


def report(rows, failed, floors):
    by_key = dict((r["key"], r) for r in rows)
    ref = {"plain": by_key.get("leakwatchd"), "smaps": by_key.get("leakwatchd-smaps")}
    floor_us = dict((kind, floors[mode]) for mode, _, kind in FLOORS if kind and mode in floors)
    print("\n== CPU µs per process-sample, 1 s sampling, %d targets of %d MiB ==" % (N, MIB))
    print("%-32s %6s %9s %9s %9s %12s %8s" % ("tool", "reads", "samples", "µs/sample", "peak RSS", "x leakwatchd",
                                               "x floor"))

    def ratio(a, b):
        return "%.2fx" % (a / b) if b else "-"

    for mode, label, kind in FLOORS:
        if mode in floors:
            lw = ref[kind or "smaps"]
            print("%-32s %6s %9d %9s %9s %12s %8s" % (label, kind or "heap", floors[mode + "_samples"],
                                                      run.fmt_us(floors[mode]), "-", ratio(floors[mode], lw and lw["us"]),
                                                      "-"))
    for r in rows:
        lw = ref[r["kind"]]
        print("%-32s %6s %9d %9s %8.1fM %12s %8s" % (r["name"], r["kind"], r["samples"], run.fmt_us(r["us"]),
                                                    r["rss"] / MiB, ratio(r["us"], lw and lw["us"]),
                                                    ratio(r["us"], floor_us.get(r["kind"]))))
    for key, why in failed:
        print("%-32s %s" % (key, why))
    print("\nreads: plain = no smaps at each sample (compared with leakwatchd at its defaults and the kept floor); "
          "smaps = smaps_rollup at each sample (compared with leakwatchd reading smaps every tick and the "
          "kept + smaps_rollup floor; heap = the smaps_rollup floor plus the [heap] record of smaps, what leakwatchd "
          "reads). Every figure is the CPU of its window (or rounds) over the process-samples in it.")
    for r in rows:
        print("  %s: %s; CPU %.0f ms in %.1f s; %.0f processes on the host%s" % (
            r["name"], r["note"], r["cpu_ms"], r["seconds"], r["host_processes"],
            "; " + r["detail"] if r["detail"] else ""))


def main():
    if os.environ.get("LWBENCH_PEERS_PIDNS") == "1" and os.getpid() != 1:
        unshare = shutil.which("unshare")
        if not unshare:
            sys.exit("bench-peers: LWBENCH_PEERS_PIDNS=1 needs unshare (util-linux)")
        os.execv(unshare, [unshare, "--pid", "--fork", "--mount-proc", "--kill-child", "--", sys.executable,
                           os.path.abspath(__file__)])
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(stop_all)
    count = N
    need = N * MIB * MiB
    print("leakwatch side by side with other tools, %s" % time.strftime("%Y-%m-%d %H:%M"))
    print("machine: %s; load average %s" % (run.machine(), " ".join("%.2f" % x for x in os.getloadavg())))
    print("command: make bench-peers (LWBENCH_PEERS_N=%d LWBENCH_PEERS_MIB=%d LWBENCH_PEERS_SECONDS=%d%s%s BUILD=%s)" % (
        N, MIB, SECONDS, (" LWBENCH_PEERS_ONLY='%s'" % " ".join(ONLY)) if ONLY else "",
        " LWBENCH_PEERS_PIDNS=1" if os.getpid() == 1 else "", os.path.relpath(run.BUILD)))
    print("processes on the host before the farm: %d%s" % (
        host_processes(), " (in the benchmark's own PID namespace)" if os.getpid() == 1 else ""))
    if run.mem_available() < 2 * need:
        sys.exit("bench-peers: %d processes of %d MiB need %.1f GiB, twice that available; %.1f GiB is" % (
            N, MIB, need / (1 << 30), run.mem_available() / (1 << 30)))
    why = run.pid_room(count) or run.ensure_nofile(3 * count + 1024)
    if why:
        sys.exit("bench-peers: " + why)
    name = "lwpeer-%d" % os.getpid()
    rows, failed = [], []
    farm = None
    try:
        with tempfile.TemporaryDirectory(prefix="lwpeers-", dir="/var/tmp") as tmp:
            started = time.time()
            farm = run.Farm(N, MIB, name)
            print("targets: %d processes named %s, %d MiB each, ready in %.0f s" % (
                N, name, MIB, time.time() - started), flush=True)
            ctx = {"tmp": tmp, "pids": farm.pids, "name": name}
            floor_on = not ONLY or "floor" in ONLY
            halves = [measure_floors(farm.pids, SECONDS, 0)] if floor_on else []
            for make in tools(ctx):
                tool = make()
                why = tool.missing()
                if why:
                    print("SKIP %s: %s" % (tool.name, why), flush=True)
                    failed.append((tool.name, "SKIP: " + why))
                    continue
                print("%s ..." % tool.name, end=" ", flush=True)
                try:
                    r = measure(tool)
                except (RuntimeError, OSError, subprocess.SubprocessError, sqlite3.Error) as e:
                    print("FAIL: %s" % e, flush=True)
                    failed.append((tool.name, "FAIL: %s" % e))
                    continue
                rows.append(r)
                print("%s µs per process-sample" % run.fmt_us(r["us"]), flush=True)
            if floor_on:
                halves.append(measure_floors(farm.pids, SECONDS, 1))
    finally:
        stop_all()
        if farm:
            farm.stop()
    floors = {}
    for mode, _, _ in FLOORS:
        if halves:
            per = halves[0][mode] + halves[1][mode]
            floors[mode] = sum(per) / len(per)
            floors[mode + "_samples"] = len(per) * N
    report(rows, failed, floors)
    if os.environ.get("LWBENCH_PEERS_JSON"):
        with open(os.environ["LWBENCH_PEERS_JSON"], "w") as f:
            json.dump({"rows": rows, "failed": failed, "floors": floors, "n": N, "mib": MIB, "seconds": SECONDS,
                       "machine": run.machine(), "load": os.getloadavg()}, f, indent=1)
    if any(why.startswith("FAIL") for _, why in failed):
        sys.exit(1)


if __name__ == "__main__":
    main()
