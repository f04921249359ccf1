# SPDX-License-Identifier: GPL-2.0-or-later
"""The allocator probe's allocation sites: a C program with a leaking and a freeing
allocation path, preloaded with the probe and asked to trace (RUNDIR/trace/PID), names
the leaking function first within two report intervals; a healthy allocation-heavy
program gets no sites; reports stay version 1 while nobody asks. The datagrams are read
straight off a socket of the test's own and checked against the report format, version
2 (docs/agents.md)."""

import ctypes
import os
import re
import socket
import subprocess
from unittest import mock

import lwtest
from lwtest import BUILD, Case

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROBE = os.path.join(BUILD, "libleakwatch-probe.so")
SITES = os.path.join(BUILD, "tests", "workloads", "probe_sites")
SOURCE = os.path.join(ROOT, "tests", "workloads", "probe_sites.c")
INTERVAL = 0.5
AGENT_MSG_MAX = 8192
# FUNC@LIB+0xOFF or FUNC@LIB+0xOFF:FILE:LINE, escaped.
NATIVE_FRAME = re.compile(r"^([^@]+)@([^@]+)\+0x([0-9a-f]+)(?::(.+):([0-9]+))?$")


def source_line(marker):
    with open(SOURCE) as f:
        for n, line in enumerate(f, 1):
            if marker in line:
                return n
    raise AssertionError("no %s in %s" % (marker, SOURCE))


def unescape(token):
    """The frame's bytes; fails on a byte the format says must be escaped."""
    out = bytearray()
    raw = token.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        b = raw[i]
        assert b > 0x20 and b != 0x7F, "unescaped byte %#x in %r" % (b, token)
        if b == 0x25:
            h = raw[i + 1:i + 3].decode("ascii")
            assert re.fullmatch(r"[0-9A-F]{2}", h), "bad escape in %r" % token
            out.append(int(h, 16))
            i += 3
        else:
            out.append(b)
            i += 1
    return out.decode("utf-8")          # must be valid UTF-8


def parse(data):
    """(version, mallinfo2 values, [(live, count, growth, [frames])]) of one report,
    asserting the format of docs/agents.md, version 2."""
    assert len(data) <= AGENT_MSG_MAX
    text = data.decode("utf-8", "surrogateescape")
    assert text.endswith("\n") and "\0" not in text
    lines = text[:-1].split("\n")
    m = re.fullmatch(r"leakwatch-agent ([12])", lines[0])
    assert m, lines[0]
    version = int(m.group(1))
    assert lines[1] == "agent malloc", lines[1]
    assert re.fullmatch(r"mallinfo2( [0-9]{1,18}){5}", lines[2]), lines[2]
    sites = []
    for line in lines[3:]:
        f = line.split(" ")
        assert f[0] == "site" and version == 2, line
        assert all(re.fullmatch(r"[0-9]{1,18}", v) for v in f[1:4]), line
        frames = f[4:]
        assert 1 <= len(frames) <= 8, line
        for t in frames:
            assert 1 <= len(t) <= 256
            fr = unescape(t)
            assert NATIVE_FRAME.match(fr), fr
        sites.append((int(f[1]), int(f[2]), int(f[3]), [unescape(t) for t in frames]))
    assert len(sites) <= 10
    assert version == 1 or sites, "a version 2 report carries sites"
    growth = [s[2] for s in sites]
    assert growth == sorted(growth, reverse=True), growth
    return version, sites


class TestProbeSites(Case):
    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.tmp, "run")
        os.makedirs(os.path.join(self.run_dir, "trace"))
        self.path = os.path.join(self.run_dir, "agent.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.addCleanup(self.sock.close)

    def start(self, mode, interval=INTERVAL, **extra):
        env = dict(os.environ, LD_PRELOAD=PROBE, LEAKWATCH_AGENT_SOCKET=self.path,
                   LEAKWATCH_PROBE_INTERVAL=str(interval), **extra)
        p = subprocess.Popen([SITES, mode], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        self.procs.append(p)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.stdin.close)
        # The probe reports only after it has begun to sample: from here on every
        # block the program allocates may be sampled, its live sets included.
        self.report()
        p.stdin.write(b"go\n")
        p.stdin.flush()
        # Its live sets are full: tracing from here on, a steady one is not growth.
        self.assertEqual(p.stdout.readline(), b"ready\n")
        return p

    def report(self, timeout=10):
        self.sock.settimeout(timeout)
        return parse(self.sock.recv(65536))

    def trace(self, pid, on=True):
        f = os.path.join(self.run_dir, "trace", str(pid))
        if on:
            open(f, "w").close()
        else:
            os.remove(f)

    def test_leaking_function_first(self):
        # A second between reports: two of them hold a few MiB of leak even on a
        # machine busy enough to give the program a tenth of a core.
        p = self.start("leak", interval=1)
        # Untraced: version 1, no sites, however much it leaks.
        self.report()
        self.assertEqual(self.report(), (1, []))
        self.trace(p.pid)
        # The next report sees the file and takes the baseline; within two intervals
        # the leak is the first site.
        reports = [self.report() for _ in range(3)]
        self.assertEqual(reports[0], (1, []))
        version, sites = reports[-1]
        self.assertEqual(version, 2, reports)
        live, count, growth, frames = sites[0]
        m = NATIVE_FRAME.match(frames[0])
        self.assertEqual(m.group(1), "leak", frames)
        self.assertEqual(m.group(2), "probe_sites")
        self.assertEqual((os.path.basename(m.group(4)), int(m.group(5))),
                         ("probe_sites.c", source_line("/* leak-line */")), frames)
        self.assertTrue(NATIVE_FRAME.match(frames[1]).group(1) == "main", frames)
        # At most 32 KiB a millisecond; the live count is the bytes / 32 KiB.
        self.assertGreater(growth, 1 << 20)
        self.assertLess(growth, 128 << 20)
        self.assertGreaterEqual(live, growth)
        self.assertAlmostEqual(count, live / 32768, delta=max(2, live / 32768 * 0.05))
        # The freeing path is not growth.
        for s in sites:
            self.assertNotEqual(NATIVE_FRAME.match(s[3][0]).group(1), "churn", sites)
        # Asked no more: version 1 again from the next report that sees it.
        self.trace(p.pid, on=False)
        self.report()
        self.assertEqual(self.report(), (1, []))

    def test_threads_and_forks(self):
        # Three threads churn while the main thread forks children that allocate, and
        # leaks: the tables stay consistent across threads, no fork deadlocks on the
        # probe's lock (the leak, made after each child exits, keeps growing), and the
        # leak is still named first.
        p = self.start("threads")
        self.report()
        self.report()
        self.trace(p.pid)
        growth = []
        for _ in range(6):
            version, sites = self.report()
            leak = [s[2] for s in sites if NATIVE_FRAME.match(s[3][0]).group(1) == "leak"]
            if leak:
                growth.append(leak[0])
        self.assertEqual(NATIVE_FRAME.match(sites[0][3][0]).group(1), "leak", sites)
        self.assertIsNone(p.poll(), "the program failed (a child could not allocate)")
        self.assertGreaterEqual(len(growth), 2, growth)
        self.assertLess(growth[0], growth[-1], growth)

    def test_healthy_program_has_no_sites(self):
        p = self.start("healthy")
        self.report()
        self.report()
        self.trace(p.pid)
        # Ten intervals: the churning path's samples come and go around a steady live
        # set.
        for _ in range(10):
            self.assertEqual(self.report(), (1, []))

    def test_live_table_grows(self):
        # One sample per KiB allocated: nearly every block is sampled, the churning
        # live set (2,000 blocks of 64 to 8,256 bytes) holds some 1,900 samples and
        # the leak adds one per 32 KiB kept, hundreds a second, so the table of live
        # samples, made with 1,024 slots, grows while traced (at 3,072 and 6,144
        # samples), its samples moved while frees look for theirs. A sample lost in a
        # move is never freed: the churning stack would grow.
        p = self.start("leak", interval=1, LEAKWATCH_PROBE_SAMPLE="1024")
        self.report()
        self.trace(p.pid)
        for _ in range(8):
            version, sites = self.report()
            for s in sites:
                self.assertNotEqual(NATIVE_FRAME.match(s[3][0]).group(1), "churn", sites)
        self.assertEqual(version, 2)
        self.assertEqual(NATIVE_FRAME.match(sites[0][3][0]).group(1), "leak", sites)

    def unwinder(self, pid):
        """The path of the libunwind.so.8 mapped into pid (libunwind.so.8.0.1, where
        the link points, for Debian's), or None."""
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                path = line.split()[-1]
                if os.path.basename(path).startswith("libunwind.so.8"):
                    return path
        return None

    def leak_first(self, p):
        """Traced from now, the leak is the first site within two intervals: leak(),
        its line, then main()."""
        self.trace(p.pid)
        reports = [self.report() for _ in range(3)]
        version, sites = reports[-1]
        self.assertEqual(version, 2, reports)
        frames = sites[0][3]
        self.assertEqual([NATIVE_FRAME.match(f).group(1) for f in frames[:2]], ["leak", "main"], frames)
        self.assertEqual(int(NATIVE_FRAME.match(frames[0]).group(5)), source_line("/* leak-line */"), frames)

    def test_stacks_from_libunwind(self):
        # Where libunwind8 is installed (tools/install-deps installs it), the probe has
        # loaded it by its first report and takes its stacks with it.
        try:
            ctypes.CDLL("libunwind.so.8")
        except OSError as e:
            lwtest.root_tier_skip(self, "libunwind8 is not installed (tools/install-deps): %s" % e)
        p = self.start("leak", interval=1)
        self.assertIsNotNone(self.unwinder(p.pid), "libunwind8 is installed but the probe did not load it")
        self.leak_first(p)

    def test_stacks_without_libunwind(self):
        # Where libunwind cannot be used (here a libunwind.so.8 without unw_backtrace,
        # found first through LD_LIBRARY_PATH), glibc's backtrace() takes the stacks.
        lib = os.path.join(self.tmp, "lib")
        os.mkdir(lib)
        with open(os.path.join(lib, "empty.c"), "w") as f:
            f.write("int not_libunwind;\n")
        subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-o", os.path.join(lib, "libunwind.so.8"),
                        os.path.join(lib, "empty.c")], check=True)
        with mock.patch.dict(os.environ, LD_LIBRARY_PATH=lib):
            p = self.start("leak", interval=1)
        self.assertEqual(self.unwinder(p.pid), os.path.join(lib, "libunwind.so.8"))
        self.leak_first(p)
