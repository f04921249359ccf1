#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""pyshape: Python workloads for the leak patterns of "Python memory leaks" (the article
this project grew from) and for the healthy programs that look like them.

    pyshape.py NAME [--window S] [--duration S] [--seed N] [--name COMM] [--tag WORD]

Leaks (anonymous memory keeps growing):
  dictcache    a memoized function keyed by ever-new arguments, in a plain dict
  cycles-nogc  Person/Car objects that refer to each other, with gc.disable()
  globallist   a module-level list that only grows
  ctypes       native memory from libc.malloc, made resident, never freed
Look-alikes (no leak):
  lru          the same memoized function under functools.lru_cache(maxsize=N)
  cycles-gc    the same reference cycles with the collector on
  generator    a large stream processed lazily, one record at a time
  batch        a batch built in a list, processed, and released, again and again
A descriptor leak (memory flat, descriptors growing):
  fdleak       files and sockets opened and never closed

Time scales are fractions of --window (the detector's window, default 120 s) and rates
are per window, so the suite runs at any window. It exits 0 after --duration seconds
(default five windows) or on SIGTERM. --name sets the process name (default "lw-" NAME,
at most 15 bytes); --tag is ignored: it puts a word in the command line for a rule to
select the run by. Standard library only.
"""

import argparse
import ctypes
import functools
import gc
import os
import random
import signal
import socket
import sys
import time

MIB = 1024 * 1024
# The leaks grow about 8 MiB a window (the C shapes' rate): over the detector's minimum
# (max(1 MiB, 5% of the level) a window) with room to spare, under 50 MiB in five windows.
LEAK_PER_WINDOW = 8 * MIB
# Ten ticks a second: finer than any sampling interval the daemon allows a one-minute
# window.
TICK = 0.1
# A record: what a request leaves behind — a rendered page, a log line with its
# payload. 1 KiB of text plus the object around it.
RECORD = 1024
# What one leaked record costs in the interpreter's memory, measured with tracemalloc
# on Debian's CPython 3.11 over 20,000 of them: 1,160 bytes in the dict cache, 1,250 in
# the lru_cache, 1,300 in the global list, 1,520 for a Person/Car pair. Rates are set in
# records a second from it, so each leak is within a quarter of the intended rate.
RECORD_COST = 1200
# The bounded cache holds half a window's worth of calls: it fills at W/2 and stays.
LRU_WINDOWS = 0.5
# A batch job: a list of records grows for 0.3 to 0.45 windows to 12..24 MiB, is
# processed and released, and the program idles 0.15 to 0.3 windows until the next
# one. Ramps that long are what a slope rule over a window takes for growth; the
# detector promises to ignore ramps shorter than half a window.
BATCH_BYTES = 24 * MIB
BATCH_RAMP = (0.3, 0.45)
BATCH_IDLE = (0.15, 0.3)
# Descriptors: 48 a window (files and socket pairs, see fdleak), over the detector's minimum of
# max(8, 10% of the count) a window for the whole run, and at most FD_MAX in all.
FDS_PER_WINDOW = 48
FD_MAX = 512

stop = False


def on_term(signum, frame):
    global stop
    stop = True


def set_name(name):
    """Sets the process name (comm) with prctl(PR_SET_NAME), so a rule can select it."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NAME = 15
    libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def render(user, page):
    """The expensive function worth memoizing: a page for (user, page)."""
    head = "user %d page %d: " % (user, page)
    return head + "x" * (RECORD - len(head))


# ---- leaks ----

class Calculator:
    """The article's memo: results keyed by their arguments in a dict that never forgets."""
    _cache = {}

    def render(self, user, page):
        key = "render_%d_%d" % (user, page)
        if key not in self._cache:
            self._cache[key] = render(user, page)
        return self._cache[key]


class Person:
    def __init__(self, name):
        self.name = name
        self.cars = []
        self.photo = "p" * (RECORD // 2)


class Car:
    def __init__(self, model, owner):
        self.model = model
        self.owner = owner          # the back-reference that closes the cycle
        self.manual = "m" * (RECORD // 2)
        owner.cars.append(self)


REQUEST_LOG = []                    # the global that only grows


def make_pair(i):
    p = Person("person-%d" % i)
    Car("model-%d" % i, p)
    # Both go out of scope here: only the cycle keeps them alive.


def native_leak(libc, nbytes):
    p = libc.malloc(nbytes)
    if not p:
        raise MemoryError("malloc")
    ctypes.memset(p, 0x5A, nbytes)  # resident, not just reserved
    # The pointer is dropped: nothing will ever free it.


# ---- look-alikes ----

def records(n, seed):
    """A large data set produced lazily: n records, one at a time."""
    for i in range(n):
        yield render(seed, i)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shape", choices=["dictcache", "cycles-nogc", "globallist", "ctypes", "lru",
                                      "cycles-gc", "generator", "batch", "fdleak"])
    ap.add_argument("--window", type=float, default=120.0)
    ap.add_argument("--duration", type=float)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--name")
    ap.add_argument("--tag")
    a = ap.parse_args()
    if not 1 <= a.window <= 86400:
        ap.error("--window: 1 to 86400 seconds")
    duration = 5 * a.window if a.duration is None else a.duration
    if not 0 <= duration <= 7 * 86400:
        ap.error("--duration: 0 to a week")
    W = a.window
    set_name(a.name or "lw-" + a.shape)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    rng = random.Random(a.seed)

    per_s = LEAK_PER_WINDOW / RECORD_COST / W     # records a second for the leaks
    calc = Calculator()
    lru_render = functools.lru_cache(maxsize=max(1, int(per_s * W * LRU_WINDOWS)))(render)
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    native_block = 64 * 1024
    if a.shape == "cycles-nogc":
        gc.disable()
    batch = []
    cycle_start = cycle_end = ramp = size = 0.0
    fds = []
    done = 0                         # records (or blocks, or descriptors) so far
    total = 0                        # processed by the generator
    user = 0

    t0 = time.monotonic()
    tick = 0
    while not stop:
        t = time.monotonic() - t0
        if t >= duration:
            break
        due = int(per_s * t)         # records due by now at the leak rate
        if a.shape == "dictcache":
            while done < due:
                user += 1                        # a new user every call: a new key
                calc.render(user, rng.randrange(100))
                done += 1
        elif a.shape == "lru":
            while done < due:
                user += 1
                lru_render(user, rng.randrange(100))
                done += 1
        elif a.shape in ("cycles-nogc", "cycles-gc"):
            # The collector (when on) frees the pairs in its own time, every few hundred
            # allocations.
            while done < due:
                make_pair(done)
                done += 1
        elif a.shape == "globallist":
            while done < due:
                REQUEST_LOG.append({"id": done, "t": t, "body": render(done, 0)})
                done += 1
        elif a.shape == "ctypes":
            while done * native_block < LEAK_PER_WINDOW * t / W:
                native_leak(libc, native_block)
                done += 1
        elif a.shape == "generator":
            # Ten times the leak rate flows through, one record alive at a time.
            n = max(1, int(10 * per_s * TICK))
            total += sum(len(r) for r in records(n, tick))
        elif a.shape == "batch":
            if t >= cycle_end:
                # The next job: its size and how long it takes to build vary, like a
                # periodic import's.
                cycle_start = t
                ramp = W * rng.uniform(*BATCH_RAMP)
                cycle_end = t + ramp + W * rng.uniform(*BATCH_IDLE)
                size = BATCH_BYTES * rng.uniform(0.5, 1.0)
            if t < cycle_start + ramp:
                want = int(size / RECORD_COST * (t - cycle_start) / ramp)
                while len(batch) < want:
                    batch.append(render(len(batch), tick))
            elif batch:
                total += sum(len(r) for r in batch)     # processed at once,
                batch = []                              # and released
        elif a.shape == "fdleak":
            want = min(FD_MAX, int(FDS_PER_WINDOW * t / W))
            while len(fds) < want:
                # Descriptors nobody closes: a log file per job, a client connection per
                # request (a socket pair: two), both kept in a registry forever.
                if len(fds) % 3 == 0:
                    fds.append(open(os.devnull, "rb"))
                else:
                    fds.extend(socket.socketpair())
        tick += 1
        delay = t0 + tick * TICK - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
