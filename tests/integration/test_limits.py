# SPDX-License-Identifier: GPL-2.0-or-later
"""Time to the limit, end to end: a real process growing toward a real RLIMIT_AS is
alerted, before the detector could prove a leak, as "will reach RLIMIT_AS in N s" with N
the time it really has left; `leakwatch alerts ID` shows what the alert was raised on
beside its latest evaluation, and --json the time to each known limit. The same for a
real memory cgroup with a limit — v1's memory.limit_in_bytes where the memory
controller is on a legacy hierarchy, as on hybrid hosts, else v2's memory.max."""

import json
import os
import re
import resource
import subprocess
import time

from lwtest import CLIENT, MIB, Case, query, raw_rows, require_root, root_tier_skip, wait_for

# 10 MiB/s in steps of 1 MiB: a leak that would reach its limit within seconds, so the
# short-scale judge (a window of 16 buckets of three samples: 4.8 s at 0.1 s) tells it at
# once while the detector, at its default 6 h window, cannot prove anything.
STEP_KIB = 1024
EVERY_MS = 100
RATE = STEP_KIB * 1024 / (EVERY_MS / 1000)
# RLIMIT_AS this far above the process's start: it stops growing (120 steps) well
# before, so it is never refused memory.
ROOM = 240 * MIB
STEPS = 120

# The descriptor test's leak: 40 descriptors a second toward a soft RLIMIT_NOFILE of
# 600, which it would reach in about 15 s; it stops at 480.
NOFILE_LIMIT = 600
NOFILE_PER_STEP = 4
NOFILE_STEPS = 120

CGROUP_FS = "/sys/fs/cgroup"
# The cgroup test's leak: 5 MiB/s in steps of 512 KiB, toward a limit 600 MiB above the
# empty cgroup: it would reach it in about 2 minutes — a process that reaches its limit
# within the hour, scaled down as the interval is (0.25 s instead of 10 s: the limit
# judge's window is 12 s instead of 8 min). It runs at most 25 s, using 125 MiB.
CG_STEP_KIB = 512
CG_EVERY_MS = 100
CG_STEPS = 250
CG_LIMIT = 600 * MIB
CG_INTERVAL = 0.25
CG_WINDOW = 16 * 3 * CG_INTERVAL


def memory_cgroup_kind():
    """Where this host's memory controller is: ("v1", its hierarchy's root), ("v2", the
    unified root), or (None, why not)."""
    v1 = os.path.join(CGROUP_FS, "memory")
    if os.path.exists(os.path.join(v1, "memory.limit_in_bytes")):
        return "v1", v1
    try:
        with open(os.path.join(CGROUP_FS, "cgroup.controllers")) as f:
            if "memory" in f.read().split():
                return "v2", CGROUP_FS
    except OSError:
        pass
    return None, "no memory controller under %s, on a v1 hierarchy nor on the unified one" % CGROUP_FS


class TestLimits(Case):
    def test_rlimit_as_alerted_with_time_left(self):
        # The address space the program starts with: its own VmSize, measured.
        probe = self.alloc("--steps", "0", "--hold-ms", "2000")
        wait_for(lambda: os.path.exists("/proc/%d/status" % probe.pid), what="the probe")
        base = 0
        while not base:
            with open("/proc/%d/status" % probe.pid) as f:
                base = next((int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:")), 0)
        probe.kill()
        probe.wait()
        limit = base + ROOM

        def set_limit():
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        w = self.alloc("--step-kib", STEP_KIB, "--every-ms", EVERY_MS, "--steps", STEPS, "--hold-ms", 30000,
                       "--name", "lw-rlimit", preexec_fn=set_limit)
        d = self.daemon("--interval", "0.1", "--pid", w.pid)
        rows = wait_for(lambda: query(d.db, """SELECT a.id, a.limit_kind, a.reason, a.forecast_s, e.t, e.cause,
                                                      e.slope, e.room_rlimit_as, e.scale_s
                                               FROM alert a JOIN alert_evidence e ON e.alert_id = a.id
                                               WHERE e.raised = 1"""), what="the limit alert")
        aid, limit_kind, reason, forecast, t_raised, cause, slope, room, scale = rows[0]
        self.assertEqual(limit_kind, "RLIMIT_AS")
        self.assertEqual(cause, "limit")
        self.assertAlmostEqual(scale, 16 * 0.3)
        m = re.fullmatch(r"will reach RLIMIT_AS in (\d+) s", reason)
        self.assertIsNotNone(m, reason)
        # The rate it saw is the rate it grew at, and the time it told is the time left
        # from the process's real address space then, at that rate: both measured from
        # its samples (VmSize, KiB) over the newest half of the judged window, since on a
        # loaded machine the workload's steps come later than asked.
        vs = [(t, v) for t, v in raw_rows(d.db, ("t", "vsize")) if t_raised - 2400 <= t <= t_raised]
        rate = (vs[-1][1] - vs[0][1]) * 1024 / ((vs[-1][0] - vs[0][0]) / 1000)
        self.assertGreater(rate, RATE / 4)
        self.assertLess(abs(slope - rate), rate / 3, (slope, rate))
        left = (limit - vs[-1][1] * 1024) / rate
        self.assertLess(abs(forecast - left), left / 3 + 1, (forecast, left))
        self.assertLess(abs(int(m.group(1)) - left), left / 3 + 1, (reason, left))
        self.assertLess(abs(room - (limit - vs[-1][1] * 1024)), 4 * MIB)

        # The client shows what it was raised on, and the time to each limit.
        out = subprocess.run([CLIENT, "--db", d.db, "alerts", str(aid)], capture_output=True, check=True).stdout
        self.assertIn(b"Raised on:", out)
        self.assertRegex(out, rb"growth toward a limit \(4\.8s scale\): will reach RLIMIT_AS in \d+ s")
        self.assertRegex(out, rb"Limits: +host in [^\n]*RLIMIT_AS in \d+ s")
        doc = json.loads(subprocess.run([CLIENT, "--db", d.db, "alerts", str(aid), "--json"], capture_output=True,
                                        check=True).stdout)
        self.assertEqual(doc["raised"]["cause"], "limit")
        self.assertLess(abs(doc["raised"]["limits"]["RLIMIT_AS"]["seconds"] - left), left / 3 + 1)
        self.assertIn("host", doc["raised"]["limits"])
        self.assertNotIn("RLIMIT_NOFILE", doc["raised"]["limits"])
        d.stop()

    def test_rlimit_nofile_from_the_bpf_pass(self):
        """With the BPF backend the pass reads RLIMIT_NOFILE beside the descriptor count:
        a process opening descriptors toward a lowered soft limit is alerted as "will
        reach RLIMIT_NOFILE", with the room that limit really leaves it."""
        require_root(self, "load the BPF task iterator")
        limit = NOFILE_LIMIT

        def set_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

        w = self.alloc("--step-kib", 0, "--every-ms", EVERY_MS, "--steps", NOFILE_STEPS, "--fds-per-step",
                       NOFILE_PER_STEP, "--hold-ms", 30000, "--name", "lw-nofile", preexec_fn=set_limit)
        conf = os.path.join(self.tmp, "bpf.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsampler = bpf\n")
        d = self.daemon("--config", conf, "--interval", "0.1", "--pid", w.pid)
        d.wait_log("watching")
        if "sampler: bpf" not in d.output():
            self.fail("root-tier test: the BPF task iterator did not load: " + d.output()[-300:])
        rows = wait_for(lambda: query(d.db, """SELECT a.limit_kind, a.reason, e.t, e.cause, e.room_rlimit_nofile
                                               FROM alert a JOIN alert_evidence e ON e.alert_id = a.id
                                               WHERE e.raised = 1"""), what="the descriptor limit alert")
        limit_kind, reason, t_raised, cause, room = rows[0]
        self.assertEqual(limit_kind, "RLIMIT_NOFILE")
        self.assertEqual(cause, "limit")
        self.assertRegex(reason, r"will reach RLIMIT_NOFILE in \d+ (s|min)")
        # The room is the limit less the descriptors it held then, as its samples say.
        held = next(v for t, v in reversed(raw_rows(d.db, ("t", "fds"), w.pid)) if t <= t_raised)
        self.assertEqual(room, limit - held)
        d.stop()

    def test_cgroup_limit_alerted_with_time_left(self):
        require_root(self, "create a memory cgroup")
        kind, root = memory_cgroup_kind()
        if kind is None:
            root_tier_skip(self, root)
        if kind == "v2":
            # Children of the root get the memory controller only if the root hands it down.
            with open(os.path.join(root, "cgroup.subtree_control"), "w") as f:
                f.write("+memory")
        limit_file, name, room_col = (("memory.limit_in_bytes", "memory.limit_in_bytes", "room_v1_limit")
                                      if kind == "v1" else ("memory.max", "memory.max", "room_memory_max"))
        cg = os.path.join(root, "leakwatch-test-%d" % os.getpid())
        os.mkdir(cg)

        def remove_cgroup():
            # Its processes are gone (tearDown waited for them); the kernel may need a
            # moment to let go of the last one.
            for _ in range(100):
                try:
                    os.rmdir(cg)
                    return
                except FileNotFoundError:
                    return
                except OSError:
                    time.sleep(0.05)
            os.rmdir(cg)
        self.addCleanup(remove_cgroup)
        with open(os.path.join(cg, limit_file), "w") as f:
            f.write(str(CG_LIMIT))

        def join():
            with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

        w = self.alloc("--step-kib", CG_STEP_KIB, "--every-ms", CG_EVERY_MS, "--steps", CG_STEPS, "--hold-ms", 5000,
                       "--name", "lw-cgleak", preexec_fn=join)
        with open("/proc/%d/cgroup" % w.pid) as f:
            self.assertIn("/leakwatch-test-%d\n" % os.getpid(), f.read())
        d = self.daemon("--interval", CG_INTERVAL, "--pid", w.pid)
        rows = wait_for(lambda: query(d.db, """SELECT a.id, a.limit_kind, a.reason, a.forecast_s, e.t, e.cause,
                                                      e.slope, e.%s
                                               FROM alert a JOIN alert_evidence e ON e.alert_id = a.id
                                               WHERE e.raised = 1""" % room_col), what="the cgroup limit alert")
        aid, limit_kind, reason, forecast, t_raised, cause, slope, room = rows[0]
        self.assertEqual(limit_kind, name)
        self.assertEqual(cause, "limit")
        m = re.fullmatch(r"will reach %s in (\d+) (min|s)" % re.escape(name), reason)
        self.assertIsNotNone(m, reason)
        # Told once the judge had a window of samples, within a few buckets of it.
        anon = raw_rows(d.db, ("t", "anon"), w.pid)
        self.assertLess(t_raised - anon[0][0], (CG_WINDOW + 12) * 1000, (anon[0][0], t_raised))
        # The room is the limit less what the cgroup held then: the process's anonymous
        # memory, and a little of the program itself and the kernel's for it.
        held = next(v for t, v in reversed(anon) if t <= t_raised) * 1024
        self.assertGreater(room, 0)
        self.assertLess(abs(room - (CG_LIMIT - held)), 16 * MIB, (room, CG_LIMIT - held))
        # The time told is that room at the rate it grew, in whole minutes (or seconds).
        self.assertLess(abs(forecast - room / slope), 2, (forecast, room, slope))
        told = int(m.group(1)) * (60 if m.group(2) == "min" else 1)
        self.assertTrue(told <= forecast < told + (60 if m.group(2) == "min" else 1), (reason, forecast))
        # And it is the time the leak really had left: its rate measured from its samples.
        vs = [(t, v) for t, v in anon if t_raised - CG_WINDOW * 1000 <= t <= t_raised]
        rate = (vs[-1][1] - vs[0][1]) * 1024 / ((vs[-1][0] - vs[0][0]) / 1000)
        self.assertLess(abs(slope - rate), rate / 3, (slope, rate))

        out = subprocess.run([CLIENT, "--db", d.db, "alerts", str(aid), "--json"], capture_output=True,
                             check=True).stdout
        doc = json.loads(out)
        self.assertIn(name, doc["raised"]["limits"])
        self.assertLess(abs(doc["raised"]["limits"][name]["seconds"] - forecast), 2)
        d.stop()
