# SPDX-License-Identifier: GPL-2.0-or-later
"""The seed article's Python leaks and their healthy twins, for the agent tests
(tests/integration/test_agents.py). One program, five behaviours:

  cache      an unbounded memo cache (the article's Calculator): a dict keyed by ever-new
             strings, each entry a small dict with a list           -> leaks dict/str/list
  cycles     Person <-> Car reference cycles with the collector disabled -> leaks both
  ctypes     libc malloc through ctypes, touched and never freed   -> native growth
  global     a module-level list that only grows                   -> leaks str
  buffers    a list of 1 MiB bytearrays: few objects, big buffers   -> Python, not native
  lru        the same work behind functools.lru_cache(maxsize=...)  -> flat
  cycles-gc  the cycles with the collector on                       -> flat

The line each leak allocates on ends in a "# leak: MODE" comment: the tests look for it
among the allocation sites the agent reports.

Usage: agent_seed.py MODE [SECONDS]. It grows (or churns) at a steady rate, some
0.25 MiB/s for the leaks, for SECONDS (default 600) and exits. The agent is loaded the
way `leakwatch run` loads it (sitecustomize and LEAKWATCH_AGENT=1), not imported here.
"""

import ctypes
import functools
import gc
import sys
import time

# Steps per second and work per step: ~600 cache entries or cycle pairs a second, at
# some 400 bytes each, is ~0.25 MiB/s, well past the detector's minimum growth per
# one-minute window and small enough for several programs at once.
STEP = 0.02
PER_STEP = 12


class Calculator:
    __cache = {}

    @classmethod
    def add(cls, a, b):
        key = "add_%d_%d" % (a, b)
        if key in cls.__cache:
            return cls.__cache[key]["result"]
        result = a + b
        cls.__cache[key] = {"key": key, "args": [a, b], "result": result}  # leak: cache
        return result


@functools.lru_cache(maxsize=1000)
def bounded_add(a, b):
    return {"args": [a, b], "result": a + b}


RECORDS = []


class Person:
    def __init__(self, name):
        self.name = name
        self.cars = []

    def add_car(self, car):
        self.cars.append(car)
        car.owner = self


class Car:
    def __init__(self, kind):
        self.kind = kind
        self.owner = None


def main():
    mode = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 600
    if mode == "cycles":
        gc.disable()
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    held = []
    i = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(PER_STEP):
            i += 1
            if mode == "cache":
                Calculator.add(i, i + 1)
            elif mode == "lru":
                bounded_add(i, i + 1)
            elif mode in ("cycles", "cycles-gc"):
                # The article's own objects: the same names, so only the pairs grow.
                p = Person("Joden")  # leak: cycles
                p.add_car(Car("Tesla"))
            elif mode == "global":
                RECORDS.append("record %d of the global list, kept for good; " % i * 6)  # leak: global
        if mode == "ctypes":
            # 5 KiB a step: the same rate in C memory, touched so it is resident.
            n = PER_STEP * 400
            p = libc.malloc(n)  # leak: ctypes
            ctypes.memset(p, 1, n)
            held.append(p)
        elif mode == "buffers" and i % (PER_STEP * 12) == 0:
            # 1 MiB every 12 steps (~0.25 s): 4 MiB/s in a handful of objects.
            held.append(bytearray(1 << 20))  # leak: buffers
        time.sleep(STEP)


if __name__ == "__main__":
    main()
