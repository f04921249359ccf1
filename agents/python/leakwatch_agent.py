"""leakwatch_agent: reports this Python process's heap statistics to leakwatchd.

Importing the module starts a daemon thread that, every LEAKWATCH_AGENT_INTERVAL seconds
(10 by default), sends one datagram to leakwatchd's agent socket with the collector's
state (gc), sys.getallocatedblocks(), tracemalloc's traced memory when it is tracing,
and, when the time budget allows, the most numerous object types. leakwatchd stores
the series and uses them to say what kind of leak an alert is (docs/agents.md).

It never forces a collection, never blocks (the datagram is sent without waiting and
dropped if the daemon is busy), never raises into the program (every error is
swallowed; after a few unexpected ones in a row it stops reporting), and costs one
stat() per interval while the daemon is absent.

Environment:
  LEAKWATCH_AGENT_SOCKET    the socket (default /run/leakwatch/agent.sock)
  LEAKWATCH_AGENT_INTERVAL  seconds between reports (default 10, at least 0.1)
  LEAKWATCH_AGENT_BUDGET    share of the program's time object counting may take
                            (default 0.01, at most 0.1)
  LEAKWATCH_AGENT_MAX_STALL longest a single count may stop the program, seconds
                            (default 0.25): larger heaps are reported without types
  LEAKWATCH_AGENT=0         do not start, even when imported

Standard library only; Python 3.8 or later.
"""

# Only what the interpreter has loaded anyway, and threading: socket, collections and
# the rest are imported when first needed (a daemon is there, a count is due), so a
# program that never reports pays almost nothing for the import (docs/performance.md).
import errno
import gc
import os
import stat
import sys
import threading
import time

__all__ = ["start", "stop", "report"]

SOCKET = "/run/leakwatch/agent.sock"
# Every 10 s: a leak that matters takes minutes to show, and the daemon's default
# window is hours; the reports themselves cost microseconds without a count.
INTERVAL = 10.0
# Object counts may take 1% of the time the agent has run, in total: a count of a heap
# of a million tracked objects takes some 0.1 s (docs/performance.md), so it then
# runs every 10 s at most, and not before the program has run 10 s.
BUDGET = 0.01
# Types sent per report (the daemon keeps at most 16).
TOP_TYPES = 16
NAME_MAX = 64
# Tracked objects whose referents are looked at per count: every one in a small heap,
# every k-th in a larger one (scaled back up), so that part stays near 10 ms.
REFERENT_SAMPLE = 20000
# A count that would stall the program longer than this is not made (the report then
# has no types): the pass over gc.get_objects() costs some 50-100 ns per tracked
# object (docs/performance.md), so this is a heap of a few million tracked objects.
MAX_STALL = 0.25
# Unexpected errors in a row before the agent gives up (a daemon that is absent or
# busy is expected, and never counts).
MAX_FAILURES = 5
# The datagram's bound on the daemon's side.
MSG_MAX = 8192

_lock = threading.Lock()
_agent = None
_wanted = False


def _env_float(name, default, low, high):
    try:
        v = float(os.environ.get(name, default))
    except ValueError:
        return default
    if not (low <= v <= high):
        return default
    return v


def _type_name(t):
    """module.qualname (the builtin's bare name), printable, without blanks, cut."""
    try:
        mod = getattr(t, "__module__", None)
        qual = getattr(t, "__qualname__", None) or getattr(t, "__name__", "?")
        name = qual if mod in (None, "builtins") else "%s.%s" % (mod, qual)
        if not isinstance(name, str):
            name = "?"
    except Exception:
        name = "?"
    # Blanks and controls would break the line format; the daemon refuses them.
    name = "".join(c if (c > " " and c != "\x7f" and c.isprintable()) else "?" for c in name[:NAME_MAX])
    b = name.encode("utf-8", "replace")
    while len(b) > NAME_MAX:
        name = name[:-1]
        b = name.encode("utf-8", "replace")
    return name or "?"


def count_types(referent_sample=REFERENT_SAMPLE):
    """Counts objects by type: every gc-tracked object (one pass over gc.get_objects(),
    in C), plus an estimate of the untracked objects they refer to (str, int, float,
    bytes, and containers holding only those, which gc does not track): the referents
    of every k-th tracked object, each counted once and scaled by k. Returns (objects,
    stride, Counter); stride is that k (1: the untracked counts are exact too)."""
    import collections
    import itertools
    import operator

    objs = gc.get_objects()
    n = len(objs)
    counts = collections.Counter(map(type, objs))
    stride = max(1, -(-n // referent_sample))
    sample = objs[::stride] if stride > 1 else objs
    del objs
    refs = gc.get_referents(*sample)
    del sample
    untracked = list(itertools.filterfalse(gc.is_tracked, refs))
    del refs
    # One count per object, however many containers refer to it. Addresses are
    # multiples of 16, which would make a dict keyed by them collide badly: shifted.
    unique = dict(zip(map(operator.rshift, map(id, untracked), itertools.repeat(4)), untracked))
    del untracked
    extra = collections.Counter(map(type, unique.values()))
    del unique
    total = n
    for t, c in extra.items():
        counts[t] += c * stride
        total += c * stride
    return total, stride, counts


def report(count=True, top=TOP_TYPES):
    """The report as bytes (the daemon's version 1 format)."""
    lines = ["leakwatch-agent 1", "agent python", "gc.enabled %d" % int(gc.isenabled())]
    lines.append("gc.threshold %d %d %d" % tuple(gc.get_threshold()[:3]))
    lines.append("gc.count %d %d %d" % tuple(gc.get_count()[:3]))
    stats = gc.get_stats()[:3]
    for key in ("collections", "collected", "uncollectable"):
        lines.append("gc.%s %s" % (key, " ".join(str(int(s.get(key, 0))) for s in stats)))
    lines.append("gc.garbage %d" % len(gc.garbage))
    lines.append("blocks %d" % sys.getallocatedblocks())
    tm = sys.modules.get("tracemalloc")
    if tm is not None and tm.is_tracing():
        cur, peak = tm.get_traced_memory()
        lines.append("traced %d %d" % (cur, max(cur, peak)))
    if count:
        objects, stride, counts = count_types()
        lines.append("objects %d %d" % (objects, stride))
        seen = set()
        for t, c in counts.most_common():
            name = _type_name(t)
            if name in seen:
                continue
            seen.add(name)
            lines.append("type %s %d" % (name, c))
            if len(seen) >= top:
                break
    data = ("\n".join(lines) + "\n").encode("utf-8")
    # Long type names could pass the daemon's bound: the report then goes without them.
    return data if len(data) <= MSG_MAX else report(count=False)


class _Agent:
    def __init__(self, path, interval, budget, max_stall):
        self.path = path
        self.interval = interval
        self.budget = budget
        self.max_stall = max_stall
        # Before the first count: 100 ns per block, above what was measured.
        self.cost_per_block = 1e-7
        self.stopping = threading.Event()
        self.sock = None
        self.failures = 0
        self.started = time.monotonic()
        self.spent = 0.0                # seconds spent counting objects
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._run, name="leakwatch-agent", daemon=True)
        self.thread.start()

    def _present(self):
        try:
            return stat.S_ISSOCK(os.stat(self.path).st_mode)
        except OSError:
            return False

    def _send(self, data):
        import socket

        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.setblocking(False)
        try:
            self.sock.sendto(data, self.path)
        except OSError as e:
            # Absent or restarting daemon, or a full queue: this report is dropped.
            if e.errno not in (errno.ENOENT, errno.ECONNREFUSED, errno.EAGAIN, errno.ENOBUFS,
                               errno.EACCES, errno.EPERM):
                raise

    def _once(self):
        if not self._present():
            return
        now = time.monotonic()
        # The count's cost grows with the heap: predicted from the last one (per
        # allocated block). It is made only if it fits the stall bound, and if all the
        # counting so far, this one included, stays within the budget of the time the
        # agent has run: a short program is not charged a count up front.
        blocks = sys.getallocatedblocks()
        predicted = self.cost_per_block * blocks
        # Unused budget is not saved up beyond one count: no burst of counts later.
        self.spent = max(self.spent, self.budget * (now - self.started) - self.max_stall)
        count = predicted <= self.max_stall and self.spent + predicted <= self.budget * (now - self.started)
        t0 = time.perf_counter()
        data = report(count=count)
        if count:
            cost = time.perf_counter() - t0
            self.spent += cost
            self.cost_per_block = cost / max(blocks, 1)
        self._send(data)

    def _run(self):
        # A start spread over the interval by the pid (as good as random here, and no
        # import): many processes started together do not report together.
        wait = (0.1 + 0.9 * (os.getpid() * 2654435761 % 1000) / 1000) * self.interval
        while not self.stopping.wait(wait):
            wait = self.interval
            try:
                self._once()
                self.failures = 0
            except Exception:
                self.failures += 1
                if self.failures >= MAX_FAILURES:
                    break
        try:
            if self.sock is not None:
                self.sock.close()
        except Exception:
            pass

    def stop(self):
        self.stopping.set()


def start():
    """Starts reporting (once per process; again in a forked child). Never raises."""
    global _agent, _wanted
    try:
        if os.environ.get("LEAKWATCH_AGENT", "1") == "0":
            return False
        _wanted = True
        with _lock:
            if _agent is not None and _agent.thread is not None and _agent.thread.is_alive():
                return True
            _agent = _Agent(os.environ.get("LEAKWATCH_AGENT_SOCKET", SOCKET),
                            _env_float("LEAKWATCH_AGENT_INTERVAL", INTERVAL, 0.1, 86400),
                            _env_float("LEAKWATCH_AGENT_BUDGET", BUDGET, 1e-6, 0.1),
                            _env_float("LEAKWATCH_AGENT_MAX_STALL", MAX_STALL, 0.001, 10))
            _agent.start()
        return True
    except Exception:
        return False


def stop():
    """Stops reporting (for tests and benchmarks)."""
    global _agent, _wanted
    _wanted = False
    with _lock:
        if _agent is not None:
            _agent.stop()
            _agent = None


def _after_fork():
    # The child has no thread: it is a process of its own and reports about itself.
    global _agent, _lock
    _lock = threading.Lock()
    _agent = None
    if _wanted:
        start()


try:
    os.register_at_fork(after_in_child=_after_fork)
except Exception:
    pass

start()
