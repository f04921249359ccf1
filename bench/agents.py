# SPDX-License-Identifier: GPL-2.0-or-later
"""The in-process agents' cost, measured side by side (make bench-agents).

1. The Python agent on a Python workload that allocates and frees objects around a
   live heap of some 200k objects: the same program with and without the agent loaded
   the way `leakwatch run` loads it, reporting to a socket this script drains.
2. The Python agent while the daemon asks it for allocation sites (tracemalloc on,
   4 frames, a look at the live traces within 5% of the time): the same program with
   the agent reporting every second, asked to trace or not; and the program tracing
   itself with tracemalloc, no agent, for what of it is tracemalloc's own.
3. The allocator probe on a malloc-heavy C workload (bench/agents-malloc.c, 20 million
   malloc/free pairs of 16 to 1024 bytes, 10 GiB allocated, after 0.15 s of sleep in
   which sampling starts): without it, preloaded but not started, interposing without
   sampling (the same library, LEAKWATCH_PROBE_SAMPLE=0), sampling (one allocation per
   512 KiB), and sampling while traced; all of them in every round.
4. The same workload, 5 million pairs, under the peers where they run: heaptrack (every
   allocation with its stack, written to a file) and bcc's memleak (uprobes on malloc
   and free), beside the probe.
5. What one type count costs the program, by heap size, against one full collection of
   the same heap.

Runs alternate (without, with, without, ...) so a noisy machine slows all alike; the
figures are medians and their ratios. Times are the CPU seconds (user + system, all
threads and reaped children) of each run: what the agent costs the program.
"""

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.path.abspath(os.environ.get("BUILD", os.path.join(ROOT, "build")))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
RUNS = int(os.environ.get("RUNS", "11"))
# The peers take many times longer: fewer rounds of a tenth of the work.
RUNS_PEERS = int(os.environ.get("RUNS_PEERS", "5"))

PY_WORKLOAD = r"""
import time
live = {}
t = time.perf_counter()
for i in range(3_000_000):
    live[i % 200_000] = {"k": [i, str(i)]}
"""

COUNT_COST = r"""
import gc, sys, time
sys.path.insert(0, %r)
import leakwatch_agent as la
la.stop()
data = {}
for n in (10_000, 100_000, 500_000, 1_000_000):
    for i in range(len(data), n):
        k = "key_%%d" %% i
        data[k] = {"key": k, "args": [i, i + 1]}
    gc.collect()
    ts, fs = [], []
    for _ in range(5):
        t = time.perf_counter(); la.count_types(); ts.append(time.perf_counter() - t)
        t = time.perf_counter(); gc.collect(); fs.append(time.perf_counter() - t)
    print("| %%d | %%d | %%.1f | %%.1f |" %% (n, len(gc.get_objects()), statistics.median(ts) * 1000,
                                    statistics.median(fs) * 1000))
""".replace("import gc, sys, time", "import gc, statistics, sys, time")


def drain(sock):
    while True:
        try:
            sock.recv(65536)
        except OSError:
            return


def timed(argv, env, trace_dir=None, cwd=None):
    """CPU seconds (user + system) of the run, every thread of it: what the agent adds
    to the program, and less disturbed than wall-clock time by other load. trace_dir:
    the probe is asked to trace the run from its first report."""
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    if trace_dir:
        open(os.path.join(trace_dir, str(p.pid)), "w").close()
    _, status, ru = os.wait4(p.pid, 0)
    if trace_dir:
        os.remove(os.path.join(trace_dir, str(p.pid)))
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit("%s failed" % argv[0])
    return ru.ru_utime + ru.ru_stime


def side_by_side(label, argv, base_env, with_env, trace_dir=None, with_argv=None):
    without, with_ = [], []
    for _ in range(RUNS):
        without.append(timed(argv, base_env))
        with_.append(timed(with_argv or argv, with_env, trace_dir))
    a, b = statistics.median(without), statistics.median(with_)
    print("| %s | %.3f (%.3f-%.3f) | %.3f (%.3f-%.3f) | %.3f |" % (label, a, min(without), max(without), b,
                                                            min(with_), max(with_), b / a))


def cachegrind(argv, env):
    """Instructions and L1 data-cache misses of one run under cachegrind: counts, not
    times, so the load of the machine does not move them."""
    with tempfile.NamedTemporaryFile(prefix="leakwatch-cg-") as out:
        p = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=yes",
                            "--cachegrind-out-file=" + out.name] + argv,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit("%s failed under cachegrind" % argv[0])
    found = {}
    for line in p.stderr.splitlines():
        for key, label in (("I", "I   refs:"), ("D1", "D1  misses:")):
            if label in line:
                found[key] = int(line.split(label)[1].split()[0].replace(",", ""))
    return found["I"], found["D1"]


def counted(argv, variants):
    """The probe's variants counted by cachegrind on 2M pairs (2,000 samples): what the
    timed table above cannot resolve on a loaded machine, a difference of a few %."""
    if not shutil.which("valgrind"):
        print("\ncounted: valgrind not installed (tools/install-deps --tests)")
        return
    print("\nCounted by cachegrind, %s 2000000 (2M pairs), one run each:\n" % os.path.basename(argv[0]))
    print("| variant | instructions | ratio to no sampling | L1 data misses | ratio to no sampling |")
    print("| --- | --- | --- | --- | --- |")
    sys.stdout.flush()
    rows = [(label, cachegrind(prefix + argv + ["2000000"], env)) for label, env, _, prefix, _ in variants]
    ref = dict(rows)["probe, no sampling"]
    for label, (ir, d1) in rows:
        print("| %s | %.1f M | %.3f | %.2f M | %.3f |" % (label, ir / 1e6, ir / ref[0], d1 / 1e6, d1 / ref[1]))
    sys.stdout.flush()


def rotation(argv, variants, runs):
    """Each variant (label, env, trace_dir, argv prefix, cwd) once per round, RUNS
    rounds; {label: [CPU seconds]}."""
    times = {v[0]: [] for v in variants}
    for _ in range(runs):
        for label, env, trace_dir, prefix, cwd in variants:
            times[label].append(timed(prefix + argv, env, trace_dir, cwd))
    return times


def table(times, base, against=None):
    """One row per variant: median (min-max), ratio to base, and to `against` when set,
    of the medians and of the minimums. Other work on the machine only ever adds CPU
    time to a run (caches, preemption), so the fastest run of each variant is the one
    least disturbed: on a loaded machine its ratio is the steadier of the two."""
    print("| variant | CPU s: median (min-max) | ratio to %s: medians, minimums |%s"
          % (base, " ratio to %s: medians, minimums |" % against if against else ""))
    print("| --- | --- | --- |%s" % (" --- |" if against else ""))
    b, bmin = statistics.median(times[base]), min(times[base])
    a, amin = (statistics.median(times[against]), min(times[against])) if against else (None, None)
    for label, t in times.items():
        m = statistics.median(t)
        extra = ""
        if against:
            extra = " %.3f, %.3f |" % (m / a, min(t) / amin) if label != base else " |"
        print("| %s | %.3f (%.3f-%.3f) | %.3f, %.3f |%s" % (label, m, min(t), max(t), m / b, min(t) / bmin, extra))


def memleak_reason(workload, env):
    """Why bcc's memleak cannot run here, or None when it can. bcc compiles its BPF
    program at start against the running kernel's headers: from /lib/modules/R/build,
    or from /sys/kernel/kheaders.tar.xz, which the kheaders module provides (loaded
    here if it exists). Then it is tried for real on a short run of the workload, and
    what it printed when it failed is the reason."""
    tool = shutil.which("memleak-bpfcc")
    if not tool:
        return "memleak-bpfcc is not installed (tools/install-deps --bench)"
    release = os.uname().release
    build = "/lib/modules/%s/build" % release
    notes = []
    if not os.path.exists(build):
        notes.append("%s does not exist" % build)
        if not os.path.exists("/sys/kernel/kheaders.tar.xz"):
            modprobe = shutil.which("modprobe") or shutil.which("modprobe", path="/usr/sbin:/sbin")
            if not modprobe:
                said = "modprobe is not installed (kmod)"
            else:
                m = subprocess.run([modprobe, "kheaders"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                said = (m.stdout.strip().splitlines() or ["exit %d" % m.returncode])[-1]
            if not os.path.exists("/sys/kernel/kheaders.tar.xz"):
                notes.append("/sys/kernel/kheaders.tar.xz is absent and modprobe kheaders failed: %s" % said)
    # The try: memleak on a short run; it fails in seconds when it cannot compile.
    p = subprocess.Popen(workload, env=env, stdout=subprocess.DEVNULL)
    try:
        m = subprocess.run([tool, "-p", str(p.pid), "1", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=120)
        out, rc = m.stdout, m.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), -1
    p.wait()
    if rc == 0:
        return None
    lines = [l.strip() for l in out.splitlines() if l.strip()]
    # What bcc said before its traceback (why it could not compile), and its exception.
    before = lines[:next((i for i, l in enumerate(lines) if l.startswith("Traceback")), len(lines))]
    detail = " ".join(before[:2] + [l for l in lines[-1:] if l not in before]) or "exit %d" % rc
    notes.append("memleak-bpfcc -p PID exited %d: %s" % (rc, detail))
    return "; ".join(notes)


def timed_memleak(argv, env):
    """The workload's CPU seconds with memleak attached from its first instruction:
    the child stops itself before exec, memleak attaches to it, then it goes on.
    memleak's own CPU time is not counted (a separate process); the uprobes' is."""
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, preexec_fn=lambda: os.kill(os.getpid(),
                                                                                           signal.SIGSTOP))
    os.waitpid(p.pid, os.WUNTRACED)
    m = subprocess.Popen(["memleak-bpfcc", "-p", str(p.pid), "3600"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    for line in m.stdout:
        if "Ctrl-C" in line or "Attaching" in line:
            break
    os.kill(p.pid, signal.SIGCONT)
    _, status, ru = os.wait4(p.pid, 0)
    m.send_signal(signal.SIGINT)
    m.communicate()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("%s failed under memleak" % argv[0])
    return ru.ru_utime + ru.ru_stime


def main():
    tmp = tempfile.mkdtemp(prefix="leakwatch-bench-agents-")
    path = os.path.join(tmp, "agent.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    threading.Thread(target=drain, args=(sock,), daemon=True).start()
    base = dict(os.environ)
    base.pop("LD_PRELOAD", None)
    # As installed: the agent compiled once (make install does it), not at every start.
    base.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([PYTHON, "-m", "compileall", "-q", os.path.join(ROOT, "agents", "python")], check=True)
    base["LEAKWATCH_AGENT_SOCKET"] = path

    print("Runs: %d each, alternating; medians of CPU seconds (user + system).\n" % RUNS)
    print("| workload | without: median (min-max) | with: median (min-max) | ratio of medians |")
    print("| --- | --- | --- | --- |")
    py = [PYTHON, "-c", PY_WORKLOAD]
    for interval, budget in (("10", "0.01"), ("1", "0.01"), ("1", "0.1")):
        env = dict(base, PYTHONPATH=os.path.join(ROOT, "agents", "python"), LEAKWATCH_AGENT="1",
                   LEAKWATCH_AGENT_INTERVAL=interval, LEAKWATCH_AGENT_BUDGET=budget)
        side_by_side("python agent, every %s s, budget %s" % (interval, budget), py, base, env)
    # Tracing: the program idles 1.2 s first (no CPU), so the agent's first report (within
    # its 1 s interval) starts tracemalloc before the work begins.
    trace_dir = os.path.join(tmp, "trace")
    os.mkdir(trace_dir)
    env = dict(base, PYTHONPATH=os.path.join(ROOT, "agents", "python"), LEAKWATCH_AGENT="1",
               LEAKWATCH_AGENT_INTERVAL="1")
    idle = [PYTHON, "-c", "import time; time.sleep(1.2)\n" + PY_WORKLOAD]
    side_by_side("python agent every 1 s, not asked -> asked for sites (tracing)", idle, env, env, trace_dir)
    os.rmdir(trace_dir)
    # What of it is tracemalloc's own: the program tracing itself, 4 frames, no agent.
    side_by_side("no agent, tracemalloc.start(4) in the program", idle, base, base,
                 with_argv=[PYTHON, "-c", "import time, tracemalloc; time.sleep(1.2); tracemalloc.start(4)\n" +
                            PY_WORKLOAD])
    c = [os.path.join(BUILD, "bench", "agents-malloc")]
    trace_dir = os.path.join(tmp, "trace")
    os.mkdir(trace_dir)
    lib = os.path.join(BUILD, "libleakwatch-probe.so")
    # Preloaded but told not to start (LEAKWATCH_AGENT=0): the cost of loading alone,
    # without the probe's thread (which ends glibc's single-thread malloc shortcuts).
    # The others report every 0.1 s: sampling starts at the first report, here within
    # the run's first 0.1 s (the default, 1 to 10 s, is longer than the run), while the
    # workload still sleeps: every allocation it makes is made with sampling on.
    probe = dict(base, LD_PRELOAD=lib, LEAKWATCH_PROBE_INTERVAL="0.1")
    variants = [
        ("no probe", base, None, [], None),
        ("probe preloaded, not started", dict(base, LD_PRELOAD=lib, LEAKWATCH_AGENT="0"), None, [], None),
        ("probe, no sampling", dict(probe, LEAKWATCH_PROBE_SAMPLE="0"), None, [], None),
        ("probe, sampling 512 KiB", probe, None, [], None),
        ("probe, sampling 512 KiB, traced", probe, trace_dir, [], None),
    ]
    print("\nThe allocator probe, %s (20M malloc/free pairs), %d rounds:\n" % (os.path.basename(c[0]), RUNS))
    sys.stdout.flush()
    table(rotation(c, variants, RUNS), "no probe", "probe, no sampling")
    counted(c, variants[:4])

    rounds = "5000000"
    peers = [("no probe", base, None, [], None), ("probe, sampling 512 KiB", probe, None, [], None)]
    if shutil.which("heaptrack"):
        # heaptrack writes its trace to the working directory: a scratch one.
        peers.append(("heaptrack", base, None, ["heaptrack"], tmp))
    else:
        print("\nheaptrack: not installed (tools/install-deps --bench)")
    print("\nPeers on the same workload, 5M pairs, %d rounds:\n" % RUNS_PEERS)
    sys.stdout.flush()
    times = rotation(c + [rounds], peers, RUNS_PEERS)
    reason = memleak_reason(c + ["2000000"], base)
    if reason is None:
        times["bcc memleak"] = [timed_memleak(c + [rounds], base) for _ in range(RUNS_PEERS)]
    table(times, "no probe")
    if reason:
        print("\nbcc memleak: did not run here: %s" % reason)
    for f in os.listdir(tmp):
        if f.startswith("heaptrack."):
            os.remove(os.path.join(tmp, f))
    os.rmdir(trace_dir)

    print("\nOne type count against one full collection (gc.collect()), medians of 5, ms:\n")
    print("| cache entries | tracked objects | count | full collection |")
    print("| --- | --- | --- | --- |")
    sys.stdout.flush()
    subprocess.run([PYTHON, "-c", COUNT_COST % os.path.join(ROOT, "agents", "python")], check=True,
                   env=dict(base, LEAKWATCH_AGENT="0"))
    sock.close()
    os.unlink(path)
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
