# SPDX-License-Identifier: GPL-2.0-or-later
"""The two sampling backends on the same live processes: the BPF task iterator's
values against /proc's, the fallback when BPF is refused, one series across backends
and restarts, and the processes a pass can catch half-way: a kernel thread, a zombie,
processes exiting while the pass goes by (docs/bpf.md)."""

import os
import signal
import subprocess
import sys
import time
import unittest

from lwtest import DAEMON, WAIT, Case, control, query, raw_rows, require_root, root_tier_skip, samples, wait_for

PAGE_KIB = os.sysconf("SC_PAGESIZE") // 1024
NCPU = os.cpu_count() or 1
# How far the global count of one of mm->rss_stat's percpu counters may be from the
# sum of its per-CPU parts, which /proc/PID/status shows on this kernel: each CPU holds
# back less than percpu_counter_batch = max(32, 2 * CPUs) pages (docs/bpf.md).
SLACK_KIB = NCPU * max(32, 2 * NCPU) * PAGE_KIB

# A process with three more threads that each fault in memory of their own, then
# sleep: threads and faults summed over the threads, file-backed memory (the
# interpreter), a few descriptors (a pipe).
THREADED = r"""
import os, sys, threading, time
def touch():
    b = bytearray(4 * 1024 * 1024)
    for i in range(0, len(b), 4096):
        b[i] = 1
    time.sleep(600)
r, w = os.pipe()
ts = [threading.Thread(target=touch, daemon=True) for _ in range(3)]
for t in ts:
    t.start()
time.sleep(1)
sys.stdout.write("ready\n")
sys.stdout.flush()
time.sleep(600)
"""


def bpf_or_skip(case, d):
    """Fails (as root) or skips unless the daemon d says it samples through BPF."""
    out = d.output()
    if "sampler: bpf" not in out:
        reason = "the BPF task iterator did not load: " + out.strip().replace("\n", " | ")[-300:]
        if os.geteuid() == 0:
            case.fail("root-tier test: " + reason)
        case.skipTest(reason)


def process_rows(db, pid):
    return query(db, "SELECT id, start_ticks, end_ms, end_reason FROM process WHERE pid = ? ORDER BY id", (pid,))


def config(case, name, text):
    path = os.path.join(case.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class TestBackends(Case):
    def two_daemons(self, pids, interval="0.2"):
        """One daemon per backend, each with its database and runtime directory,
        watching the same processes."""
        ds = {}
        for backend in ("bpf", "proc"):
            sub = os.path.join(self.tmp, backend)
            os.makedirs(sub)
            conf = config(self, backend + ".conf", "[daemon]\nsampler = %s\n" % backend)
            args = ["--config", conf, "--runtime-dir", sub, "--interval", interval]
            for p in pids:
                args += ["--pid", p]
            ds[backend] = self.daemon(*args, db=os.path.join(sub, "leakwatch.db"))
        for d in ds.values():
            d.wait_log("watching")
        bpf_or_skip(self, ds["bpf"])
        return ds

    def test_values_agree_with_proc(self):
        """Both backends on the same steady processes (a threaded one included): start
        times, sizes, threads, descriptors and faults equal; resident memory within the
        per-CPU counters' slack."""
        require_root(self, "load the BPF task iterator")
        a = self.alloc("--step-kib", 8192, "--every-ms", 10, "--steps", 4, "--hold-ms", 60000,
                       "--fds-per-step", 2, "--file-kib", 2048)
        t = subprocess.Popen([sys.executable, "-c", THREADED], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        self.procs.append(t)
        self.addCleanup(t.stdout.close)
        self.assertEqual(t.stdout.readline().strip(), "ready")
        # The allocations are over (40 ms) and the threads asleep: nothing changes now.
        time.sleep(0.3)
        ds = self.two_daemons([a.pid, t.pid])
        for d in ds.values():
            for p in (a.pid, t.pid):
                wait_for(lambda: len(samples(d.db, p)) >= 3, what="three samples of %d" % p)
        for d in ds.values():
            self.assertEqual(d.stop(), 0, d.output())

        for p in (a.pid, t.pid):
            rows = {b: process_rows(d.db, p) for b, d in ds.items()}
            self.assertEqual(len(rows["bpf"]), 1)
            self.assertEqual(rows["bpf"][0][1], rows["proc"][0][1], "start times differ")
            last = {}
            for b, d in ds.items():
                last[b] = {c: samples(d.db, p, c)[-1][1]
                           for c in ("rss", "anon", "file", "shmem", "swap", "data", "vsize", "threads", "fds",
                                     "minflt", "majflt")}
            for c in ("data", "vsize", "threads", "fds", "minflt", "majflt"):
                self.assertEqual(last["bpf"][c], last["proc"][c], "%s of %d: %r" % (c, p, last))
            for c in ("anon", "file", "shmem", "swap"):
                self.assertLessEqual(abs(last["bpf"][c] - last["proc"][c]), SLACK_KIB, "%s of %d: %r" % (c, p, last))
            self.assertLessEqual(abs(last["bpf"]["rss"] - last["proc"]["rss"]), 3 * SLACK_KIB)
        # What was checked is not trivially equal: the threaded process's own figures.
        threads = samples(ds["bpf"].db, t.pid, "threads")[-1][1]
        self.assertEqual(threads, 4)
        self.assertGreater(samples(ds["bpf"].db, a.pid, "anon")[-1][1], 30 * 1024)
        self.assertGreaterEqual(samples(ds["bpf"].db, a.pid, "fds")[-1][1], 8)

    def test_backend_said_in_status_and_metrics(self):
        """The backend in use is in the log, the status reply, `leakwatch status` and the
        metrics."""
        require_root(self, "load the BPF task iterator")
        prom = os.path.join(self.tmp, "lw.prom")
        conf = config(self, "m.conf", "[daemon]\ninterval = 0.1\nmetrics-textfile = %s\n"
                      "metrics-textfile-interval = 0.1\n" % prom)
        w = self.alloc("--step-kib", 1024, "--steps", 2, "--hold-ms", 60000)
        d = self.daemon("--config", conf, "--pid", w.pid)
        d.wait_log("watching")
        bpf_or_skip(self, d)
        self.assertEqual(control(self.tmp, {"cmd": "status"})["sampler"], "bpf")
        out = subprocess.run([os.path.join(os.path.dirname(DAEMON), "leakwatch"), "--runtime-dir", self.tmp,
                              "--db", d.db, "status"], capture_output=True, text=True)
        self.assertIn("sampler bpf", out.stdout, out.stdout + out.stderr)
        def metrics():
            if os.path.exists(prom):
                with open(prom) as f:
                    return f.read()
            return None
        text = wait_for(metrics, what="the metrics file")
        self.assertIn('leakwatch_sampler_backend{backend="bpf"} 1', text)
        self.assertIn('leakwatch_sampler_backend{backend="proc"} 0', text)
        # The load's privileges are gone before the first tick.
        with open("/proc/%d/status" % d.pid) as f:
            caps = {l.split(":")[0]: int(l.split()[1], 16) for l in f if l.startswith("Cap")}
        for cap in (39, 38, 21, 8):   # CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SETPCAP
            for s in ("CapEff", "CapPrm", "CapBnd"):
                self.assertFalse(caps[s] & (1 << cap), "%s still has capability %d" % (s, cap))
        self.assertEqual(d.stop(), 0, d.output())

    def test_fallback_when_bpf_refused(self):
        """Without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN the daemon samples through /proc
        and says why; with sampler = bpf it refuses to start instead."""
        require_root(self, "drop capabilities with setpriv")
        wrap = ["setpriv", "--bounding-set", "-bpf,-perfmon,-sys_admin", "--"]
        w = self.alloc("--step-kib", 1024, "--steps", 2, "--hold-ms", 60000)
        d = self.daemon("--interval", "0.1", "--pid", w.pid, wrap=wrap)
        d.wait_log("watching")
        out = d.output()
        self.assertIn("sampling through /proc: the BPF task iterator cannot be used: not permitted", out)
        self.assertIn("sampler: proc", out)
        self.assertEqual(control(self.tmp, {"cmd": "status"})["sampler"], "proc")
        wait_for(lambda: len([v for _, v in samples(d.db, w.pid, "anon") if v]) >= 2, what="samples through /proc")
        self.assertEqual(d.stop(), 0, d.output())

        conf = config(self, "bpf.conf", "[daemon]\nsampler = bpf\n")
        sub = os.path.join(self.tmp, "strict")
        os.makedirs(sub)
        r = subprocess.run(wrap + [DAEMON, "--config", conf, "--runtime-dir", sub, "--db",
                                   os.path.join(sub, "x.db"), "--pid", str(w.pid)],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("sampler = bpf: cannot load the BPF task iterator: not permitted", r.stderr + r.stdout)

    def test_one_series_across_backends(self):
        """A process sampled through /proc, then through BPF after a restart, then through
        /proc again, continues one series: one process row, never ended."""
        require_root(self, "load the BPF task iterator")
        w = self.alloc("--step-kib", 1024, "--every-ms", 50, "--steps", 1000, "--hold-ms", 60000)
        db = os.path.join(self.tmp, "one.db")
        counts = []
        for backend in ("proc", "bpf", "proc"):
            conf = config(self, backend + ".conf", "[daemon]\nsampler = %s\n" % backend)
            d = self.daemon("--config", conf, "--interval", "0.1", "--pid", w.pid, db=db)
            d.wait_log("watching")
            if backend == "bpf":
                bpf_or_skip(self, d)
            n = len(samples(db, w.pid))
            wait_for(lambda: len(samples(db, w.pid)) >= n + 3, what="samples through " + backend)
            self.assertEqual(d.stop(), 0, d.output())
            counts.append(len(samples(db, w.pid)))
        rows = process_rows(db, w.pid)
        self.assertEqual(len(rows), 1, rows)
        self.assertIsNone(rows[0][2], "the series was ended: %r" % (rows,))
        anon = [v for _, v in samples(db, w.pid, "anon")]
        self.assertTrue(all(v is not None for v in anon))
        self.assertEqual(anon, sorted(anon), "one growing series")


class TestPassEdges(Case):
    def test_kernel_thread_and_zombie(self):
        """A kernel thread has no memory of its own: its samples say so (reason
        kthread), as /proc's do. A process that exits while its parent does not reap it
        is sampled once more as a zombie, then ended, while it is still a zombie. PID 1,
        which the iterator does not list, is sampled all the same (through /proc)."""
        require_root(self, "load the BPF task iterator")
        # The parent forks a child that waits for a byte on a pipe, then exits; the
        # parent never reaps it.
        prog = ("import os, sys, time\nr, w = os.pipe()\npid = os.fork()\n"
                "if pid == 0:\n    os.close(w)\n    b = bytearray(8 << 20)\n"
                "    for i in range(0, len(b), 4096): b[i] = 1\n    os.read(r, 1)\n    os._exit(0)\n"
                "os.close(r)\nprint(pid, flush=True)\nsys.stdin.read(1)\nos.write(w, b'x')\ntime.sleep(600)\n")
        parent = subprocess.Popen([sys.executable, "-c", prog], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        self.procs.append(parent)
        self.addCleanup(parent.stdout.close)
        self.addCleanup(parent.stdin.close)
        child = int(parent.stdout.readline())
        d = self.daemon("--interval", "0.1", "--pid", child, "--pid", 2, "--pid", 1)
        d.wait_log("watching")
        bpf_or_skip(self, d)
        wait_for(lambda: len([v for _, v in samples(d.db, child, "anon") if v]) >= 2, what="the child's samples")
        wait_for(lambda: len(samples(d.db, 2, "threads")) >= 2, what="kthreadd's samples")
        wait_for(lambda: len([v for _, v in samples(d.db, 1, "rss") if v]) >= 2, what="PID 1's samples")
        parent.stdin.write("x")
        parent.stdin.flush()
        wait_for(lambda: process_rows(d.db, child)[0][2] is not None, what="the child to end")
        with open("/proc/%d/stat" % child) as f:
            self.assertEqual(f.read().rsplit(")", 1)[1].split()[0], "Z", "the child must still be a zombie")
        self.assertEqual(process_rows(d.db, child)[0][3], "exited")
        last = samples(d.db, child, "unknown")[-1][1]
        self.assertEqual((last >> 4) & 0xf, 3, "the last sample says zombie")
        self.assertIsNone(samples(d.db, child, "anon")[-1][1])
        self.assertIsNotNone(samples(d.db, child, "minflt")[-1][1])
        kt = samples(d.db, 2, "unknown")[-1][1]
        self.assertEqual((kt >> 4) & 0xf, 2, "kthreadd's memory is unknown: a kernel thread")
        self.assertIsNone(samples(d.db, 2, "rss")[-1][1])
        self.assertEqual(samples(d.db, 2, "threads")[-1][1], 1)
        self.assertEqual(d.stop(), 0, d.output())

    def test_no_descriptor_kept_per_process(self):
        """With the pass, a watched process costs the daemon no descriptor: its smaps
        and command line are still read (through a directory opened for the read and
        closed after), and no /proc directory of a watched process stays open."""
        require_root(self, "load the BPF task iterator")
        ps = [self.alloc("--step-kib", 1024, "--every-ms", 10, "--steps", 2, "--hold-ms", 60000) for _ in range(4)]
        conf = config(self, "c.conf", "[daemon]\nsampler = bpf\nsmaps-every = 1\nsmaps-min-interval = 0\n"
                      "smaps-max-interval = 0.2s\n")
        args = ["--config", conf, "--interval", "0.1"]
        for p in ps:
            args += ["--pid", str(p.pid)]
        d = self.daemon(*args)
        d.wait_log("watching")
        bpf_or_skip(self, d)
        for p in ps:
            wait_for(lambda: len([v for _, v in samples(d.db, p.pid, "pss") if v is not None]) >= 3,
                     what="three smaps readings of %d" % p.pid)
        held = set()
        for fd in os.listdir("/proc/%d/fd" % d.pid):
            try:
                held.add(os.readlink("/proc/%d/fd/%s" % (d.pid, fd)))
            except FileNotFoundError:
                pass
        self.assertEqual(d.stop(), 0, d.output())
        for p in ps:
            self.assertNotIn("/proc/%d" % p.pid, held)
        cmdlines = query(d.db, "SELECT cmdline FROM process WHERE pid IN (%s)" % ",".join(str(p.pid) for p in ps))
        self.assertEqual(len(cmdlines), len(ps))
        for (c,) in cmdlines:
            self.assertIn("--step-kib", c)

    def test_processes_exiting_during_the_pass(self):
        """Hundreds of children a second, each living up to 100 ms, some left as zombies:
        passes catch them at every stage of exiting. Each one watched ends as exited,
        no read fails, and what a sample shows is its own memory, never a neighbour's."""
        require_root(self, "load the BPF task iterator")
        churn = os.path.join(os.path.dirname(DAEMON), "tests", "workloads", "churn")
        conf = config(self, "c.conf", "[daemon]\ninterval = 0.05\nscan-interval = 0.05\n"
                      "[rule churn]\nname = lwbp-*\n")
        d = self.daemon("--config", conf)
        d.wait_log("watching")
        bpf_or_skip(self, d)
        c = subprocess.run([churn, "--rate", "300", "--seconds", "3", "--max-life-ms", "100", "--prefix", "lwbp"],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(c.returncode, 0, c.stderr)
        wait_for(lambda: query(d.db, "SELECT count(*) FROM process WHERE end_ms IS NULL "
                                     "AND comm LIKE 'lwbp-%'")[0][0] == 0, what="every child to end")
        st = control(self.tmp, {"cmd": "status"})
        self.assertEqual(d.stop(), 0, d.output())
        self.assertEqual(st["sampler"], "bpf")
        rows = query(d.db, "SELECT id, comm, end_reason FROM process WHERE comm LIKE 'lwbp-%'")
        self.assertGreater(len(rows), 20, "too few children watched")
        self.assertEqual({r[2] for r in rows}, {"exited"})
        self.assertNotIn("error", d.output().lower())
        # A child named lwbp-K holds K MiB of its own, allocated under the name lwbp-0
        # and renamed after: the stored name follows the rename (as an exec's does), so
        # its early samples may show part of it. None may show more than K MiB (a
        # neighbour's PID read for it), and the fullest shows about K MiB.
        checked = 0
        for pid_id, comm, _ in rows:
            k = int(comm.split("-")[1])
            if k == 0:
                continue
            anons = [a for (a,) in raw_rows(d.db, ("anon",), process_id=pid_id) if a is not None and a >= 1024]
            for anon in anons:
                self.assertLess(anon, k * 1024 + 1024 - 64, (comm, anon))
            if anons:
                self.assertLess(abs(max(anons) - k * 1024), 1024 - 64, (comm, anons))
                checked += 1
        self.assertGreater(checked, 0)


if __name__ == "__main__":
    unittest.main()
