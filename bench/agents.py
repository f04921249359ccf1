"""The in-process agents' cost, measured side by side (make bench-agents).

1. The Python agent on a Python workload that allocates and frees objects around a
   live heap of some 200k objects: the same program with and without the agent loaded
   the way `leakwatch run` loads it, reporting to a socket this script drains.
2. The allocator probe on a malloc-heavy C workload (bench/agents-malloc.c, 20 million
   malloc/free pairs): with and without LD_PRELOAD.
3. The Python agent while the daemon asks it for allocation sites (tracemalloc on,
   4 frames, a look at the live traces within 5% of the time): the same program with
   the agent reporting every second, asked to trace or not.
4. What one type count costs the program, by heap size, against one full collection of
   the same heap.

Runs alternate (without, with, without, ...) so a noisy machine slows both alike; the
figures are medians and their ratio. Times are the CPU seconds (user + system, all
threads) of each run: what the agent costs the program.
"""

import os
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


def timed(argv, env, trace_dir=None):
    """CPU seconds (user + system) of the run, every thread of it: what the agent adds
    to the program, and less disturbed than wall-clock time by other load. With
    trace_dir, its agent is asked for allocation sites from the start (the request
    file the daemon would create)."""
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    request = os.path.join(trace_dir, str(p.pid)) if trace_dir else None
    if request:
        open(request, "w").close()
    _, status, ru = os.wait4(p.pid, 0)
    if request:
        os.unlink(request)
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
    # Preloaded but told not to start (LEAKWATCH_AGENT=0): the cost of loading alone,
    # without the probe's thread (which ends glibc's single-thread malloc shortcuts).
    env = dict(base, LD_PRELOAD=os.path.join(BUILD, "libleakwatch-probe.so"), LEAKWATCH_AGENT="0")
    side_by_side("malloc probe preloaded, not started", c, base, env)
    for interval in ("10", "0.1"):
        env = dict(base, LD_PRELOAD=os.path.join(BUILD, "libleakwatch-probe.so"), LEAKWATCH_PROBE_INTERVAL=interval)
        side_by_side("malloc probe, every %s s" % interval, c, base, env)

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
