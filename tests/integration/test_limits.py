# SPDX-License-Identifier: GPL-2.0-or-later
"""Time to the limit, end to end: a real process growing toward a real RLIMIT_AS is
alerted, before the detector could prove a leak, as "will reach RLIMIT_AS in N s" with N
the time it really has left; `leakwatch alerts ID` shows what the alert was raised on
beside its latest evaluation, and --json the time to each known limit."""

import json
import os
import re
import resource
import subprocess

from lwtest import CLIENT, MIB, Case, query, raw_rows, wait_for

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
