# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatch_agent: reports this Python process's heap statistics to leakwatchd.

Importing the module starts a daemon thread that, every LEAKWATCH_AGENT_INTERVAL seconds
(10 by default), sends one datagram to leakwatchd's agent socket with the collector's
state (gc), sys.getallocatedblocks(), tracemalloc's traced memory when it is tracing,
and, when the time budget allows, the most numerous object types. leakwatchd stores
the series and uses them to say what kind of leak an alert is (docs/agents.md).

While the daemon asks for it (the file trace/PID beside the socket exists: the process
is suspect, or someone ran `leakwatch trace PID`), it traces allocations with
tracemalloc and adds the allocation sites whose live memory grows to its reports; when
the file goes, it stops tracing and frees what tracing held.

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
# A builtin container of at least this many items is counted apart from the sample of
# tracked objects: all its items, or every m-th of them (scaled by m) when such
# containers together hold more than REFERENT_SAMPLE. A leak is most often one such
# container (a global list or a cache that only grows), and a sample of every k-th
# tracked object would take all of its items or none: its type counted k times over
# in one count and not at all in the next. Below this, one container weighs at most
# about k thousand in a count, and a leak spread over many small containers is what
# the uniform sample estimates well.
BIG_LEN = 1024
# Items of the large containers looked at per count, in all: a container's items are
# alike (a leak appends the same kind of thing), so every m-th of them from a random
# offset estimates its types within a few percent, and each one looked at is held, with
# its address, until the count ends: 4096 of them are some 300 KiB for a moment, where
# 20,000 were over 1 MiB, a step in the program's own memory at every count.
BIG_SAMPLE = 4096
# A count that would stall the program longer than this is not made (the report then
# has no types): the pass over gc.get_objects() costs some 50-100 ns per tracked
# object (docs/performance.md), so this is a heap of a few million tracked objects.
MAX_STALL = 0.25
# Unexpected errors in a row before the agent gives up (a daemon that is absent or
# busy is expected, and never counts).
MAX_FAILURES = 5
# The datagram's bound on the daemon's side.
MSG_MAX = 8192
# Frames tracemalloc keeps per allocation while tracing: the allocating line and three
# callers tell which use of a helper leaks; each frame more costs tracemalloc time on
# every allocation and memory per distinct traceback (its default is 1, the protocol
# allows 8).
TRACE_FRAMES = 4
# The modules the agent imports on first use, so that a program that never reports does
# not load them. Imported before the agent starts tracemalloc: loaded while it traces,
# their code and tables (some 300 KiB for random) were the largest "growth" of a
# program whose own leak is outside Python's heap.
LAZY_MODULES = ("collections", "itertools", "operator", "random", "socket")
# Sites per report (the daemon keeps at most 10) and a frame's token in bytes.
TOP_SITES = 10
FRAME_MAX = 256
# Share of the program's time, while it is traced, that taking and comparing snapshots
# may take: the snapshot's cost grows with the live traced allocations (some 2-10 us
# each, docs/performance.md), so a leak that has piled up a million of them is looked
# at every minute or so, not every report.
TRACE_BUDGET = 0.05
# A snapshot costs a few milliseconds however little is traced: its cost per byte of
# tracemalloc's own memory is measured over at least this many bytes, so the first,
# nearly empty, snapshot does not predict the next ones to be far too dear.
TRACE_COST_FLOOR = 1 << 20
# Types with a stride above this are not worth the pass over gc.get_objects(): the
# count would be a few hundred objects.
MAX_TYPE_STRIDE = 1000
# A count whose list alone is predicted past the stall cap is tried again after this
# many reports (40 s at the default interval: a count a busy moment slowed costs the
# census little), then after twice as many each time it still does not fit, at most
# RECOUNT_AFTER_MAX (an hour at the default interval: a heap that really is too large
# stalls its program past the cap once an hour at most).
RECOUNT_AFTER = 4
RECOUNT_AFTER_MAX = 360

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


# Objects picked per run of a sample (below): a run is k * this many objects. Shorter
# runs average the pattern out better (a heap of 90,000 objects in a pattern of three,
# sampled with k = 6, is estimated within some 5% per type: one standard deviation)
# and cost more (one slice each, some 0.1 us in C: a few ns per pick at 16).
SAMPLE_RUN = 16
_random = None


def _rng():
    """The agent's own generator: the program's random stream is left alone."""
    global _random
    if _random is None:
        import random
        _random = random.Random()
    return _random


def _every_kth(objs, k):
    """About one object in k, each with a chance of exactly 1/k: runs of k * SAMPLE_RUN
    objects, each sliced from a random offset. Never one fixed offset for the whole
    list (objs[::k]): a program allocates in a pattern (a Person, its list of cars, a
    Car, again and again), gc.get_objects() lists objects in that order, and a step
    that is a multiple of the pattern's length would pick the same type every time,
    counting it k times over and the others not at all. The offsets, the slices and
    their concatenation are all iterated in C (some 0.1 us a run); the generator is the
    agent's own, so the program's random stream is left alone."""
    import itertools
    import operator
    if k <= 1:
        return objs
    rng = _rng()
    run = k * SAMPLE_RUN
    starts = range(0, len(objs), run)
    # floor(u * k) for u uniform in [0, 1): an offset in [0, k), uniform.
    offsets = map(int, map(operator.mul, itertools.starmap(rng.random, itertools.repeat((), len(starts))),
                           itertools.repeat(k)))
    slices = map(slice, map(operator.add, starts, offsets), map(operator.add, starts, itertools.repeat(run)),
                 itertools.repeat(k))
    return list(itertools.chain.from_iterable(map(objs.__getitem__, slices)))


def _big_types():
    """The container types whose len() and iteration are the interpreter's own, in C.
    Only these are ever asked their length: a user class's __len__ may run any code
    (an ORM's query set runs its query)."""
    import collections

    return {list, tuple, dict, set, frozenset, collections.deque, collections.OrderedDict,
            collections.defaultdict, collections.Counter}


def _big_containers(objs, types=None):
    """The builtin containers of at least BIG_LEN items among objs; types, if given, is
    list(map(type, objs)), already made. In C, some 50-100 ns per tracked object: two
    to four times the list's own cost, as each container is read again for its length
    (docs/performance.md)."""
    import itertools
    import operator

    kinds = _big_types()
    cands = list(itertools.compress(objs, map(kinds.__contains__, map(type, objs) if types is None else types)))
    return list(itertools.compress(cands, map(operator.ge, map(len, cands), itertools.repeat(BIG_LEN))))


def _big_globals():
    """The untracked builtin containers of at least BIG_LEN items held as a module's
    globals: a dict of str to str, the usual cache, is not tracked by the collector, so
    no list of tracked objects has it, and a sample sees only the one dict, not what it
    holds. A loop over the modules, the rest in C."""
    import itertools
    import types

    # Each namespace copied whole (in C: no other thread changes it under the loop;
    # a finalizer that runs meanwhile and imports may, and this count goes without).
    try:
        spaces = [m.__dict__ for m in list(sys.modules.values()) if type(m) is types.ModuleType]
        names = list(itertools.chain.from_iterable(map(list, map(dict.values, spaces))))
    except RuntimeError:
        return []
    held = _big_containers(list(itertools.filterfalse(gc.is_tracked, names)))
    # A container bound to several names is one container.
    return list(dict(zip(map(id, held), held)).values())


def _every_mth_item(c, m):
    """About one item in m of a builtin container, from a random offset; of a dict, its
    values and its keys but those that are str, as the collector's referents of a dict
    are (a dict keyed by strings does not report them: counted here, a key also held
    as a sampled dict's value would be counted twice over). Read through the builtin
    types' own methods: a Counter's or an OrderedDict's instance may have a "values"
    of the program's. [] if another thread changed the container while it was read."""
    import itertools
    import operator

    off = int(_rng().random() * m)
    try:
        if type(c) in (list, tuple):
            return c[off::m]
        if isinstance(c, dict):
            pairs = list(itertools.islice(dict.items(c), off, None, m))
            keys = list(map(operator.itemgetter(0), pairs))
            return (list(map(operator.itemgetter(1), pairs)) +
                    list(itertools.compress(keys, map(operator.is_not, map(type, keys), itertools.repeat(str)))))
        return list(itertools.islice(c, off, None, m))
    except RuntimeError:
        return []


def _untracked_by_id(objs):
    """{address: object} of the objects of objs the collector does not track, each once.
    Addresses are multiples of 16, which would make a dict keyed by them collide badly:
    shifted."""
    import itertools
    import operator

    untracked = list(itertools.filterfalse(gc.is_tracked, objs))
    return dict(zip(map(operator.rshift, map(id, untracked), itertools.repeat(4)), untracked))


def count_types(referent_sample=REFERENT_SAMPLE, object_stride=1, timing=None, find_big=True):
    """Counts objects by type: the gc-tracked objects (one pass over gc.get_objects(),
    in C; every object_stride-th of them, scaled back up, when the heap is too large to
    count whole within the budget), plus an estimate of the untracked objects they refer
    to (str, int, float, bytes, and containers holding only those, which gc does not
    track): the referents of every k-th tracked object, scaled by k, and, apart from
    them, the items of every builtin container of BIG_LEN items or more (every m-th of
    them, scaled by m, past BIG_SAMPLE in all): the tracked ones when the sample is
    not the whole heap (find_big: the search costs two to four times the list; without
    it, such a container is in or out of the sample whole), the untracked ones held as
    module globals always. Each object counted once. Returns (objects, stride, Counter);
    stride is the largest scale applied (1: the counts are exact). timing, a dict, gets
    the tracked objects ("tracked"), the seconds the list of them took ("list"), the
    seconds the search for large tracked containers took ("find", only when made), and
    the seconds the module globals' search and the large containers' items took ("big":
    at most about BIG_SAMPLE items, whatever the stride)."""
    import collections
    import itertools
    import operator

    t0 = time.perf_counter()
    objs = gc.get_objects()
    n = len(objs)
    t1 = time.perf_counter()
    find = find_big and (object_stride > 1 or n > referent_sample)
    # The types of all the objects once, when both the count and the search need them.
    types = list(map(type, objs)) if find and object_stride == 1 else None
    big = []
    # Searched among all the objects, never a sample: the one container a sample would
    # miss or take whole is the point.
    if find:
        big = _big_containers(objs, types)
    if timing is not None:
        timing["list"] = t1 - t0
        timing["tracked"] = n
        if find:
            timing["find"] = time.perf_counter() - t1
    if object_stride > 1:
        objs = _every_kth(objs, object_stride)
        counts = collections.Counter({t: c * object_stride for t, c in collections.Counter(map(type, objs)).items()})
    else:
        counts = collections.Counter(map(type, objs) if types is None else types)
        del types
    stride = object_stride * max(1, -(-len(objs) // referent_sample))
    step = stride // object_stride
    sample = _every_kth(objs, step)
    del objs
    if big:
        # Counted apart, below: out of the sample.
        ids = set(map(id, big))
        sample = list(itertools.compress(sample, map(operator.not_, map(ids.__contains__, map(id, sample)))))
    unique = _untracked_by_id(gc.get_referents(*sample))
    del sample
    t3 = time.perf_counter()
    big += _big_globals()
    m = max(1, -(-sum(map(len, big)) // BIG_SAMPLE))
    whole = {}
    for c in big:
        whole.update(_untracked_by_id(_every_mth_item(c, m)))
    del big
    if timing is not None:
        timing["big"] = time.perf_counter() - t3
    # An object both in a large container and referred to by a sampled one: once.
    for key in whole.keys() & unique.keys():
        del unique[key]
    total = n
    for found, scale in ((unique, stride), (whole, m)):
        for t, c in collections.Counter(map(type, found.values())).items():
            counts[t] += c * scale
            total += c * scale
    return total, max(stride, m), counts


def _escape_frame(filename, lineno):
    """PATH:LINE as a protocol token: bytes <= 0x20, 0x7f and '%' written %XX, at most
    FRAME_MAX bytes (a long path loses its start: the file's name and line stay)."""
    # One unit per character: an escape, or the character's UTF-8 (a path that is not
    # valid UTF-8 has its undecodable bytes as '?').
    units = []
    for ch in str(filename):
        o = ord(ch)
        if o <= 0x20 or o == 0x7F or ch == "%":
            units.append("%%%02X" % o)
        else:
            units.append(ch if ch.encode("utf-8", "replace") == ch.encode("utf-8", "surrogatepass") else "?")
    tail = ":%d" % lineno
    size = sum(len(u.encode("utf-8", "replace")) for u in units) + len(tail)
    start = 0
    while size > FRAME_MAX and start < len(units):
        size -= len(units[start].encode("utf-8", "replace"))
        start += 1
    return "".join(units[start:]) + tail


def _group_traces(tracemalloc):
    """({traceback: live bytes}, {traceback: live blocks}) of what tracemalloc holds; a
    traceback is a tuple of (filename, lineno), innermost first. The agent's own
    allocations (and tracemalloc's) are left out. One pass over the raw traces: the
    Snapshot's statistics() and filter_traces() build objects per trace, some ten times
    slower."""
    try:
        import _tracemalloc

        traces = _tracemalloc._get_traces()     # (domain, size, traceback, ...)
        raw = True
    except (ImportError, AttributeError):
        traces = tracemalloc.take_snapshot().statistics("traceback")
        raw = False
    sizes, counts = {}, {}
    if raw:
        sget, cget = sizes.get, counts.get
        for t in traces:
            tb = t[2]
            sizes[tb] = sget(tb, 0) + t[1]
            counts[tb] = cget(tb, 0) + 1
    else:
        for st in traces:
            tb = tuple((f.filename, f.lineno) for f in reversed(st.traceback))
            sizes[tb], counts[tb] = st.size, st.count
    del traces
    own = (__file__, tracemalloc.__file__)
    for tb in [tb for tb in sizes if any(f[0] in own for f in tb)]:
        del sizes[tb], counts[tb]
    return sizes, counts


def report(count=True, top=TOP_TYPES, sites=None, object_stride=1, timing=None, find_big=True):
    """The report as bytes: the daemon's version 1 format, or version 2 with the
    allocation sites given (a list of (live_bytes, live_count, growth, frames), growth
    descending, frames innermost first, already escaped)."""
    version = 2 if sites else 1
    lines = ["leakwatch-agent %d" % version, "agent python", "gc.enabled %d" % int(gc.isenabled())]
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
        objects, stride, counts = count_types(object_stride=object_stride, timing=timing, find_big=find_big)
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
    head = ("\n".join(lines) + "\n").encode("utf-8")
    if len(head) > MSG_MAX:
        # Long type names could pass the daemon's bound: the report then goes without them.
        return report(count=False, sites=sites, timing=timing)
    # The sites after every other key, the last ones (then frames) dropped to fit.
    data = head
    for live, n, growth, frames in (sites or ())[:TOP_SITES]:
        for k in range(len(frames), 0, -1):
            line = ("site %d %d %d %s\n" % (live, n, growth, " ".join(frames[:k]))).encode("utf-8")
            if len(data) + len(line) <= MSG_MAX:
                data += line
                break
        else:
            break
    return data


class _Agent:
    def __init__(self, path, interval, budget, max_stall):
        self.path = path
        self.interval = interval
        self.budget = budget
        self.max_stall = max_stall
        # The count's cost model: a list of the tracked objects (C, some 10 ns each),
        # then the counting of every k-th of them (some 100 ns each, their referents
        # included); tracked objects per allocated block, as the last count found.
        # Before the first count: one tracked object per block, costs above those
        # measured (docs/performance.md).
        self.list_cost = 2e-8
        self.count_cost = 2e-7
        # The search for large containers, per tracked object (above its measured
        # 50-100 ns until measured here: docs/performance.md), and their items
        # (count_types): bounded, whatever the stride, so a part of the count that k
        # does not divide.
        self.find_cost = 1e-7
        self.big_cost = 0.0
        self.tracked_per_block = 1.0
        self.skipped = 0                # reports without a count since the last one
        self.recount_after = RECOUNT_AFTER
        # Counts made without the search since the last one, and how many before it
        # is tried again, as the list is (below).
        self.find_skipped = 0
        self.find_after = RECOUNT_AFTER
        self.stopping = threading.Event()
        self.sock = None
        self.failures = 0
        self.started = time.monotonic()
        self.spent = 0.0                # seconds spent counting objects
        self.thread = None
        # Tracing, while the daemon asks (trace/PID beside the socket).
        self.trace_path = os.path.join(os.path.dirname(path) or ".", "trace", str(os.getpid()))
        self.tracing = False            # tracemalloc started by us
        self.first = None               # {traceback: size} at the first snapshot of this tracing
        self.prev = None                # and at the previous one
        self.trace_started = 0.0
        self.trace_spent = 0.0          # seconds spent on snapshots since
        self.trace_cost = 0.0           # per byte of tracemalloc's own memory, the last one

    def start(self):
        self.thread = threading.Thread(target=self._run, name="leakwatch-agent", daemon=True)
        self.thread.start()

    def _present(self):
        try:
            return stat.S_ISSOCK(os.stat(self.path).st_mode)
        except OSError:
            return False

    def _asked(self):
        try:
            return stat.S_ISREG(os.stat(self.trace_path).st_mode)
        except OSError:
            return False

    def _trace(self, asked):
        """Starts or stops tracing as the daemon asks; while tracing, the sites whose
        live memory grew since the last report and since tracing began, growth
        descending. The program's own tracemalloc is used, never stopped."""
        if not asked:
            self.first = self.prev = None
            if self.tracing:
                import tracemalloc

                self.tracing = False
                tracemalloc.stop()      # frees every trace
            return None
        import tracemalloc

        now_t = time.monotonic()
        if not tracemalloc.is_tracing():
            for name in LAZY_MODULES:
                __import__(name)
            tracemalloc.start(TRACE_FRAMES)
            self.tracing = True
        if self.first is None:
            self.trace_started, self.trace_spent = now_t, 0.0
        # A snapshot's cost grows with what tracemalloc holds: predicted from the last,
        # taken when it fits the budget (unused budget is not saved up beyond a stall).
        allowed = TRACE_BUDGET * (now_t - self.trace_started)
        self.trace_spent = max(self.trace_spent, allowed - self.max_stall)
        if self.first is not None and self.trace_spent + self.trace_cost * tracemalloc.get_tracemalloc_memory() > allowed:
            return None
        t0 = time.perf_counter()
        held = tracemalloc.get_tracemalloc_memory()
        now, counts = _group_traces(tracemalloc)
        if self.first is None:
            # Started by us: all that is traced came since. The program's own tracing:
            # growth counts from here.
            self.first = self.prev = {} if self.tracing else now
        first, prev = self.first, self.prev
        self.prev = now
        grown = []
        for tb, size in now.items():
            growth = size - first.get(tb, 0)
            if size > prev.get(tb, 0) and growth > 0:
                grown.append((growth, size, tb))
        grown.sort(key=lambda g: g[0], reverse=True)
        cost = time.perf_counter() - t0
        self.trace_spent += cost
        self.trace_cost = cost / max(held, TRACE_COST_FLOOR)
        # tracemalloc's frames are oldest first: the protocol wants the allocating one first.
        return [(size, counts[tb], growth, [_escape_frame(f, n) for f, n in tb]) for growth, size, tb in grown[:TOP_SITES]]

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
        # The count's cost grows with the heap: predicted from the last one. It is made
        # only if it fits the stall bound, and if all the counting so far, this one
        # included, stays within the budget of the time the agent has run: a short
        # program is not charged a count up front.
        blocks = sys.getallocatedblocks()
        tracked = self.tracked_per_block * blocks
        # Unused budget is not saved up beyond one count: no burst of counts later.
        self.spent = max(self.spent, self.budget * (now - self.started) - self.max_stall)
        room = min(self.max_stall, self.budget * (now - self.started) - self.spent)
        # A heap whose whole count would not fit is counted by every k-th object: the
        # list of them is still made whole, the counting costs 1/k. Each count
        # measures both parts again, so a prediction that was too high (a first count
        # of a small heap, or a heap of many untracked blocks, a cache of strings)
        # comes down instead of stopping the counts for good.
        listing, counting = tracked * self.list_cost + self.big_cost, tracked * self.count_cost
        # The search for large containers whenever the list and it fit the stall cap:
        # the count then waits for the budget to cover it, and is sure to see a growing
        # container whole. Past the cap the count goes without it rather than not at
        # all; a search predicted past the cap is made anyway after find_after counts
        # without it (the prediction may come from a search a busy moment slowed), then
        # after twice as many each time it still does not fit, as the list is.
        search = tracked * self.find_cost
        fits = listing + search < self.max_stall
        find = fits or self.find_skipped >= self.find_after
        if fits:
            listing += search
        stride = 0
        # Room for the counting too, at the largest stride: otherwise no count would be
        # made, and none counted as skipped.
        if room > listing + counting / MAX_TYPE_STRIDE:
            stride = max(1, -(-counting // (room - listing)))
        elif room > 0:
            # The list alone is predicted past the cap. The prediction comes from the
            # last count, which a busy moment may have slowed many times over: left
            # alone it would stop the counts for good. So it is measured again after
            # RECOUNT_AFTER reports, then after twice as many each time it is still
            # too long: a heap that really is too large stalls the program once in
            # ever longer stretches, and its spending is charged like any count's.
            self.skipped += 1
            if self.skipped >= self.recount_after:
                stride = min(MAX_TYPE_STRIDE, max(1, -(-counting // room)))
        count = 1 <= stride <= MAX_TYPE_STRIDE
        sites = self._trace(self._asked())
        timing = {}
        t0 = time.perf_counter()
        data = report(count=count, sites=sites, object_stride=int(stride) if count else 1, timing=timing,
                      find_big=find)
        if count and timing.get("tracked"):
            cost = time.perf_counter() - t0
            self.spent += cost
            n = timing["tracked"]
            self.list_cost = timing["list"] / n
            self.big_cost = timing.get("big", 0.0)
            if "find" in timing:
                self.find_cost = timing["find"] / n
                fits = timing["list"] + timing["find"] + self.big_cost < self.max_stall
                self.find_after = RECOUNT_AFTER if fits else min(2 * self.find_after, RECOUNT_AFTER_MAX)
                self.find_skipped = 0
            elif not find:
                self.find_skipped += 1
            self.count_cost = max(cost - timing["list"] - timing.get("find", 0.0) - self.big_cost, 0.0) * stride / n
            self.tracked_per_block = n / max(blocks, 1)
            fits = timing["list"] < self.max_stall
            self.recount_after = RECOUNT_AFTER if fits else min(2 * self.recount_after, RECOUNT_AFTER_MAX)
            self.skipped = 0
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
            self._trace(False)
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
