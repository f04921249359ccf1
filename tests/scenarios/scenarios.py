# SPDX-License-Identifier: GPL-2.0-or-later
"""scenarios: the workloads of tests/workloads run together under one leakwatchd — what
each should make the detector say, how a run is made, and how what was said is scored.

Used by bench_detect.py (`make bench-detect`: every scenario, the daemon's alerts beside
the detector and the two simple slope rules replayed over the same stored series) and by
tests/integration/test_scenarios.py (a fast subset, asserting on the daemon's alerts).

A run: every workload is started with the same window and duration and a tag word in
its command line; once each has set its process name, one leakwatchd starts with
`--match TAG --window W --interval I` (so it sees every workload from its first scan,
and nothing of any other run on the machine); when all have exited and the daemon has
marked them ended, it is stopped with SIGTERM. Nothing here judges a series: the daemon
(its `alert` table) and bench/replay (lib/detect and bench/baseline over the stored
samples) do.
"""

import collections
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYSHAPE = os.path.join(ROOT, "tests", "workloads", "pyshape.py")
# The Python workloads run on the distribution's interpreter (standard library only);
# another python3 on PATH (a virtualenv, pyenv) is used only where Debian's is absent.
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# Bounds for the waits that do not depend on the window: a slow, loaded machine must not
# fail a run; a broken program still fails it, only later.
WAIT = 60

# name: process name (comm) the workload sets; lang: "c" (tests/workloads/shape) or
# "py" (tests/workloads/pyshape.py); shape: its argument; expect: the metric that must
# alert ("memory", "fds") or None for a look-alike that must stay silent; onset: when the
# leak starts, in windows after the process start (time to detect counts from there);
# what: one line for the report.
Scenario = collections.namedtuple("Scenario", "name lang shape expect onset what")

SCENARIOS = [
    # The seed article's leaks, in Python.
    Scenario("lw-dictcache", "py", "dictcache", "memory", 0, "memo dict keyed by ever-new args"),
    Scenario("lw-cycles-nogc", "py", "cycles-nogc", "memory", 0, "Person/Car cycles, gc.disable()"),
    Scenario("lw-globallist", "py", "globallist", "memory", 0, "global list that only grows"),
    Scenario("lw-ctypes", "py", "ctypes", "memory", 0, "libc.malloc via ctypes, never freed"),
    # Leak shapes, in C.
    Scenario("lw-linear", "c", "linear", "memory", 0, "slow linear leak (4 MiB/W) under churn"),
    Scenario("lw-stairs", "c", "stairs", "memory", 0, "a step every W/8"),
    Scenario("lw-saw-leak", "c", "saw-leak", "memory", 0, "leak under a GC sawtooth (rising floor)"),
    Scenario("lw-late-leak", "c", "late-leak", "memory", 1.25, "flat, then leaks after 1.25 W"),
    Scenario("lw-bursty", "c", "bursty", "memory", 0, "leaks only in load bursts"),
    # A descriptor leak: memory flat, descriptors growing.
    Scenario("lw-fdleak", "py", "fdleak", "fds", 0, "files and sockets never closed"),
    # Look-alikes: each must stay silent.
    Scenario("lw-lru", "py", "lru", None, 0, "lru_cache(maxsize=N), ever-new keys"),
    Scenario("lw-cycles-gc", "py", "cycles-gc", None, 0, "the same cycles, collector on"),
    Scenario("lw-generator", "py", "generator", None, 0, "large stream processed lazily"),
    Scenario("lw-batch", "py", "batch", None, 0, "batch built, processed, released"),
    Scenario("lw-sawtooth", "c", "sawtooth", None, 0, "GC sawtooth, flat floor"),
    Scenario("lw-warmup", "c", "warmup", None, 0, "cache fills (tau W/8), then flat"),
    Scenario("lw-frag", "c", "frag", None, 0, "fragmentation rises, then plateaus"),
    Scenario("lw-mapfile", "c", "mapfile", None, 0, "64 MiB file mapped and touched"),
    Scenario("lw-idle", "c", "idle", None, 0, "sleeps"),
]

# The integration test's subset: leaks found reliably within three windows (two of the
# article's, a C leak under churn, the descriptor leak) and the look-alikes that fool
# deriv() most (a filling cache, a bounded cache, a batch) or could fool a raw slope (a
# sawtooth).
FAST = ["lw-dictcache", "lw-globallist", "lw-linear", "lw-fdleak",
        "lw-lru", "lw-batch", "lw-sawtooth", "lw-warmup"]

BY_NAME = {s.name: s for s in SCENARIOS}


def parse_window(text):
    """Seconds from "2m", "90s", "1h", "1m30s" or a bare number of seconds."""
    units = {"s": 1, "m": 60, "min": 60, "h": 3600}
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(min|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError("not a duration: %r" % text)
    return sum(float(n) * units[u] for n, u in parts)


def fmt_s(seconds):
    """A duration for the report: "45s", "2m20s"."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    s = int(round(abs(seconds)))
    return "%s%dm%02ds" % (sign, s // 60, s % 60) if s >= 60 else "%s%ds" % (sign, s)


class Workload:
    def __init__(self, scenario, proc):
        self.scenario = scenario
        self.proc = proc
        self.pid = proc.pid
        self.process_id = None          # row of the process table
        self.start_ms = None
        self.returncode = None


class Run:
    """One run: the workloads, the daemon, and the database it left."""

    def __init__(self, build, window, interval, names, duration_windows=5.0, workdir=None,
                 progress=None, seed=1):
        self.build = os.path.abspath(build)
        self.window = float(window)
        self.interval = float(interval)
        self.scenarios = [BY_NAME[n] for n in names]
        self.duration = duration_windows * self.window
        self.seed = seed                # the workloads' random choices (bursts, batch sizes)
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="leakwatch-scen-")
        self.db = os.path.join(self.dir, "scenarios.db")
        self.tag = "lwscen-%d-%s" % (os.getpid(), secrets.token_hex(4))
        self.progress = progress or (lambda msg: None)
        self.workloads = []
        self.daemon = None
        self._log = None
        self.daemon_log = os.path.join(self.dir, "leakwatchd.log")
        self.daemon_rc = None

    # ---- running ----

    def _argv(self, sc):
        common = ["--window", "%g" % self.window, "--duration", "%g" % self.duration, "--seed", str(self.seed),
                  "--tag", self.tag]
        if sc.lang == "c":
            return [os.path.join(self.build, "tests", "workloads", "shape"), sc.shape, "--dir", self.dir] + common
        return [PYTHON, PYSHAPE, sc.shape] + common

    def start(self):
        if os.path.exists(self.db):
            raise RuntimeError("%s exists: each run needs a directory of its own" % self.db)
        # Under `make check-asan` the C workloads are built with AddressSanitizer: its
        # quarantine would hold freed memory back (the sawtooth would look like growth)
        # and its leak check would fail the leaks' exit. The workloads are what is
        # measured, not what is tested, so both are off for them; the daemon keeps
        # every check.
        env = dict(os.environ, ASAN_OPTIONS="quarantine_size_mb=0:detect_leaks=0")
        for sc in self.scenarios:
            p = subprocess.Popen(self._argv(sc), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            self.workloads.append(Workload(sc, p))
        # The daemon classifies a process once, by what it shows then: wait until every
        # workload runs its own program under its own name before the daemon looks.
        deadline = time.monotonic() + WAIT
        for w in self.workloads:
            while _comm(w.pid) != w.scenario.name[:15]:
                if w.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("%s did not start: %s" % (w.scenario.name, _stderr(w.proc)))
                time.sleep(0.01)
        empty = os.path.join(self.dir, "empty.conf")
        open(empty, "w").close()
        # A runtime directory of its own: the daemon locks it, and /run/leakwatch may be
        # another daemon's (a test running beside this one, or the host's).
        argv = [os.path.join(self.build, "leakwatchd"), "--db", self.db, "--config", empty,
                "--runtime-dir", self.dir, "--interval", "%g" % self.interval, "--window", "%g" % self.window,
                "--match=--tag %s( |$)" % self.tag]
        self._log = open(self.daemon_log, "wb")
        self.daemon = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        self.progress("%d workloads and leakwatchd (pid %d) started; window %gs, interval %gs, "
                      "%s of workloads" % (len(self.workloads), self.daemon.pid, self.window, self.interval,
                                           fmt_s(self.duration)))

    def wait(self):
        """Waits for every workload to exit and the daemon to record it, then stops the
        daemon. Raises if a workload fails or the daemon dies."""
        deadline = time.monotonic() + self.duration + 2 * WAIT
        last_note = time.monotonic()
        for w in self.workloads:
            while w.proc.poll() is None:
                if self.daemon.poll() is not None:
                    raise RuntimeError("leakwatchd exited early (%d):\n%s" % (self.daemon.returncode,
                                                                             self.daemon_output()))
                if time.monotonic() > deadline:
                    raise RuntimeError("%s still running after its duration" % w.scenario.name)
                if time.monotonic() - last_note > 60:
                    running = sum(x.proc.poll() is None for x in self.workloads)
                    self.progress("%d of %d workloads still running" % (running, len(self.workloads)))
                    last_note = time.monotonic()
                time.sleep(0.2)
            w.returncode = w.proc.returncode
            if w.returncode != 0:
                raise RuntimeError("%s exited with %d: %s" % (w.scenario.name, w.returncode, _stderr(w.proc)))
        pids = [w.pid for w in self.workloads]
        _wait_for(lambda: self._all_ended(pids), "leakwatchd to record every workload's end")
        self.daemon.send_signal(signal.SIGTERM)
        try:
            self.daemon_rc = self.daemon.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise RuntimeError("leakwatchd did not exit on SIGTERM:\n" + self.daemon_output())
        if self.daemon_rc != 0:
            raise RuntimeError("leakwatchd exited with %d:\n%s" % (self.daemon_rc, self.daemon_output()))
        for w in self.workloads:
            rows = query(self.db, "SELECT id, start_ms FROM process WHERE pid = ? ORDER BY id", (w.pid,))
            if len(rows) != 1:
                raise RuntimeError("%s (pid %d): %d process rows" % (w.scenario.name, w.pid, len(rows)))
            w.process_id, w.start_ms = rows[0]

    def _all_ended(self, pids):
        marks = ",".join("?" * len(pids))
        rows = query(self.db, "SELECT count(*) FROM process WHERE end_ms IS NOT NULL AND pid IN (%s)" % marks, pids)
        return rows[0][0] == len(pids)

    def close(self):
        """Kills whatever is left (by PID) and removes the run's directory if it made it."""
        for w in self.workloads:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()
            if w.proc.stderr:
                w.proc.stderr.close()
        if self.daemon and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        if self._log:
            self._log.close()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def daemon_output(self):
        with open(self.daemon_log, "rb") as f:
            return f.read().decode("utf-8", "replace")

    # ---- what was said ----

    def daemon_alerts(self):
        """The daemon's alerts: {scenario name: [(metric, seconds after the process start)]}."""
        out = {}
        for w in self.workloads:
            rows = query(self.db, "SELECT metric, start_ms FROM alert WHERE process_id = ? ORDER BY start_ms",
                         (w.process_id,))
            out[w.scenario.name] = [(m, (t - w.start_ms) / 1000.0) for m, t in rows]
        return out

    def daemon_verdicts(self):
        return query(self.db, "SELECT count(*) FROM verdict")[0][0]

    def replay(self):
        """bench/replay over the stored series: {rule: {scenario name: [(metric, seconds)]}}
        for rule in leakwatch, deriv, linreg; and the raw JSON objects."""
        argv = [os.path.join(self.build, "bench", "replay"), "--db", self.db, "--window", "%g" % self.window,
                "--json"] + ["%d@%d" % (w.process_id, w.start_ms) for w in self.workloads]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10 * WAIT)
        if r.returncode != 0:
            raise RuntimeError("replay failed (%d): %s" % (r.returncode, r.stderr))
        by_id = {w.process_id: w.scenario.name for w in self.workloads}
        said = {rule: {w.scenario.name: [] for w in self.workloads} for rule in ("leakwatch", "deriv", "linreg")}
        raw = []
        for line in r.stdout.splitlines():
            o = json.loads(line)
            raw.append(o)
            name = by_id[o["process"]]
            for rule in said:
                for ep in o[rule]["alerts"]:
                    said[rule][name].append((o["metric"], ep["start_s"]))
        return said, raw


def score(scenarios, window, alerts):
    """Scores one detector's alerts ({name: [(metric, seconds after start)]}).

    The units are (scenario, metric) pairs. A pair that should alert and does is caught
    (time to detect: its first alert, from the leak's onset); one that should and does
    not is missed; any alert on a pair that should not alert is a false alarm (counted
    once per pair; `episodes` counts every alert). Returns a dict."""
    caught, missed, false, ttd, episodes = [], [], [], [], 0
    for sc in scenarios:
        for metric in ("memory", "fds"):
            ts = sorted(t for m, t in alerts.get(sc.name, []) if m == metric)
            episodes += len(ts)
            if sc.expect == metric:
                if ts:
                    caught.append((sc.name, metric))
                    ttd.append(ts[0] - sc.onset * window)
                else:
                    missed.append((sc.name, metric))
            elif ts:
                false.append((sc.name, metric))
    tp = len(caught)
    return {
        "caught": caught, "missed": missed, "false": false, "episodes": episodes,
        "precision": tp / (tp + len(false)) if tp + len(false) else None,
        "recall": tp / (tp + len(missed)) if tp + len(missed) else None,
        "median_ttd": statistics.median(ttd) if ttd else None,
        "ttd": ttd,
    }


def query(db, sql, args=()):
    """A read-only query on the database while the daemon may be writing."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _comm(pid):
    try:
        with open("/proc/%d/comm" % pid, "rb") as f:
            return f.read().rstrip(b"\n").decode("utf-8", "replace")
    except OSError:
        return None


def _stderr(proc):
    if proc.poll() is None or not proc.stderr:
        return "(still running)"
    return proc.stderr.read(4096).decode("utf-8", "replace").strip() or "(no output)"


def _wait_for(fn, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except sqlite3.OperationalError:
            pass  # not created yet, or busy: try again
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)
