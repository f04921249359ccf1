# SPDX-License-Identifier: GPL-2.0-or-later
"""Leak alerts end to end: the daemon watching real growing, flat and descriptor-leaking
processes raises one alert per leak (and none for the flat one), runs hooks without a
shell with context in the environment and JSON on stdin, kills a hook that hangs without
delaying sampling, and takes an open alert over across a restart instead of repeating it."""

import json
import os
import shutil
import stat
import time

from lwtest import Case, query, raw_rows, wait_for

# The example hook shipped in hooks/, run for real.
EVIDENCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "hooks", "save-evidence"))

HOOK = """#!/bin/sh
# Records what leakwatchd passed: the environment and the JSON document on stdin.
out="{out}/$LEAKWATCH_ALERT_ID-$LEAKWATCH_EVENT"
env | grep '^LEAKWATCH_' | sort > "$out.env"
cat > "$out.json"
echo "recorded $LEAKWATCH_EVENT"
"""

HANG = """#!/bin/sh
echo "hanging"
exec sleep 1000
"""

# A window of one minute (the shortest allowed) keeps these tests to a few minutes: the
# detector needs about 1.25 windows of growth after a quarter-window warm-up.
CONF = """[daemon]
interval = 0.5
window = 1m
hook-timeout = 2s

[rule leak]
name = lw-leak;*
on-start = {hook}
on-start = {evidence} {out}/evidence
on-end = {hook}

[rule flat]
name = lw-flat

[rule fds]
name = lw-fds
hook = {hook}

[rule hang]
name = lw-hang
hook = {hang}
"""


def write_exec(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def alerts(db):
    return query(db, """SELECT a.id, p.pid, p.comm, r.name, a.metric, a.state, a.end_reason, a.slope,
                               a.slope_low, a.end_ms
                        FROM alert a JOIN process p ON p.id = a.process_id JOIN rule r ON r.id = a.rule_id
                        ORDER BY a.id""")


class TestAlerts(Case):
    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(self.out)
        # Hooks, and the evidence they save, where only root (or we) can change them.
        self.hooks = self.hook_dir()
        self.hook = os.path.join(self.hooks, "record.sh")
        self.hang = os.path.join(self.hooks, "hang.sh")
        self.evidence = os.path.join(self.hooks, "save-evidence")
        write_exec(self.hook, HOOK.format(out=self.out))
        write_exec(self.hang, HANG)
        shutil.copy(EVIDENCE, self.evidence)
        os.chmod(self.evidence, 0o755)
        self.conf = os.path.join(self.tmp, "a.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(hook=self.hook, hang=self.hang, evidence=self.evidence, out=self.hooks))

    def test_leaks_alert_once_lookalikes_do_not(self):
        d = self.daemon("--config", self.conf)
        d.wait_log("watching")
        name = "lw-leak;$(id)"  # shell syntax in a name must stay text
        leak = self.alloc("--step-kib", 512, "--every-ms", 250, "--steps", 1200, "--name", name)
        flat = self.alloc("--step-kib", 4096, "--every-ms", 250, "--steps", 1200, "--free", "--name", "lw-flat")
        fds = self.alloc("--step-kib", 0, "--every-ms", 250, "--steps", 1200, "--fds-per-step", 1,
                         "--name", "lw-fds")
        hang = self.alloc("--step-kib", 512, "--every-ms", 250, "--steps", 1200, "--name", "lw-hang")

        def all_three():
            got = {(r[3], r[4]) for r in alerts(d.db)}
            return {("leak", "memory"), ("fds", "fds"), ("hang", "memory")} <= got
        wait_for(all_three, timeout=300, what="alerts for the memory leak, the fd leak and the hang rule")

        rows = alerts(d.db)
        by_rule = {}
        for r in rows:
            by_rule.setdefault(r[3], []).append(r)
        self.assertNotIn("flat", by_rule, "a flat process must not alert")
        self.assertEqual(len(by_rule["leak"]), 1, "one leak, one alert")
        aid, pid, comm, _, metric, state, _, slope, slope_low, end_ms = by_rule["leak"][0]
        self.assertEqual((pid, comm, metric, state, end_ms), (leak.pid, name, "memory", "leaking", None))
        # 512 KiB every 250 ms is 2 MiB/s; the bound is below the estimate, and both near it.
        self.assertGreater(slope_low, 0.5 * 2 * 1024 * 1024)
        self.assertLess(slope_low, slope * 1.0001)
        self.assertLess(slope, 1.5 * 2 * 1024 * 1024)
        self.assertEqual([r[4] for r in by_rule["fds"]], ["fds"])

        # The start hook got the context in its environment and one JSON document (read
        # once the run is over: the file exists as soon as the hook opens it).
        wait_for(lambda: ("start", 0, 0, "recorded start\n") in
                 query(d.db, "SELECT event, exit_code, timed_out, output FROM hook_run WHERE alert_id = ?", (aid,)),
                 what="the start hook's run to be recorded with its output")
        with open(os.path.join(self.out, "%d-start.json" % aid)) as f:
            doc = json.load(f)
        self.assertEqual(doc["pid"], leak.pid)
        self.assertEqual(doc["name"], name)
        self.assertEqual(doc["rule"], "leak")
        self.assertEqual(doc["metric"], "memory")
        self.assertEqual(doc["event"], "start")
        self.assertEqual(doc["alert_id"], aid)
        with open(os.path.join(self.out, "%d-start.env" % aid)) as f:
            env = dict(line.rstrip("\n").split("=", 1) for line in f)
        self.assertEqual(env["LEAKWATCH_PID"], str(leak.pid))
        self.assertEqual(env["LEAKWATCH_NAME"], name)
        self.assertEqual(env["LEAKWATCH_EVENT"], "start")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "uid=0(root)")))
        # The shipped evidence hook saved the process's maps while it was leaking.
        saved = wait_for(lambda: [e for e in os.listdir(os.path.join(self.hooks, "evidence"))
                                  if e.startswith("alert-%d-start-" % aid)]
                         if os.path.isdir(os.path.join(self.hooks, "evidence")) else None,
                         what="the evidence directory")
        ev = os.path.join(self.hooks, "evidence", saved[0])
        wait_for(lambda: os.path.exists(os.path.join(ev, "cmdline.txt")), what="the evidence files")
        with open(os.path.join(ev, "status")) as f:
            self.assertIn("Pid:\t%d" % leak.pid, f.read())
        self.assertGreater(os.path.getsize(os.path.join(ev, "smaps")), 1000)
        with open(os.path.join(ev, "alert.json")) as f:
            self.assertEqual(json.load(f)["pid"], leak.pid)

        # The hanging hook is killed after its timeout; sampling went on meanwhile.
        hang_alert = by_rule["hang"][0][0]
        wait_for(lambda: query(d.db, "SELECT timed_out, exit_code FROM hook_run WHERE alert_id = ? "
                                     "AND end_ms IS NOT NULL", (hang_alert,)) == [(1, None)],
                 what="the hanging hook to be killed")
        # While the hook hung, the daemon went on sampling: samples fall inside the
        # hook's run (it ran for the 2 s timeout, four intervals).
        start_ms, end_ms = query(d.db, "SELECT start_ms, end_ms FROM hook_run WHERE alert_id = ?", (hang_alert,))[0]
        during = sum(1 for (t,) in raw_rows(d.db, ("t",), flat.pid) if start_ms < t < end_ms)
        self.assertGreater(during, 0, "a hook must never stall sampling")
        self.assertIn("hanging", d.output())
        self.assertIn("timed out", d.output())

        # The leaking process exits: its alert ends, with the end hook.
        leak.kill()
        leak.wait()
        wait_for(lambda: query(d.db, "SELECT state, end_reason FROM alert WHERE id = ?", (aid,)) ==
                 [("ended", "exited")], what="the alert to end with the process")
        wait_for(lambda: os.path.exists(os.path.join(self.out, "%d-end.json" % aid)), what="the end hook")
        for p in (flat, fds, hang):
            p.kill()
        self.assertEqual(d.stop(), 0, d.output())
        self.assertEqual(len([r for r in alerts(d.db) if r[3] == "leak"]), 1)
        # Every state change on the way is recorded with its evidence.
        states = [r[0] for r in query(d.db, "SELECT state FROM verdict WHERE alert_id = ? ORDER BY t", (aid,))]
        self.assertIn("leaking", states)

    def test_restart_takes_the_alert_over(self):
        conf = os.path.join(self.tmp, "r.conf")
        # A name of this run's own: a rule for "lw-leak" would also take another test's
        # leaking process running at the same time, and raise its alert too.
        name = "lw-rt-%d" % (os.getpid() % 1000000)
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.5\nwindow = 1m\n[rule leak]\nname = %s\n" % name)
        leak = self.alloc("--step-kib", 512, "--every-ms", 250, "--steps", 1200, "--name", name)
        d = self.daemon("--config", conf)
        wait_for(lambda: alerts(d.db), timeout=300, what="the alert")
        self.assertEqual(d.stop(), 0, d.output())
        aid = alerts(d.db)[0][0]

        d2 = self.daemon("--config", conf)
        d2.wait_log("watching")
        time.sleep(8)  # several evaluations with the leak still going
        rows = alerts(d2.db)
        self.assertEqual(len(rows), 1, "the restart must not raise the same leak again: %r" % rows)
        self.assertEqual((rows[0][0], rows[0][5], rows[0][9]), (aid, "leaking", None))
        leak.kill()
        leak.wait()
        wait_for(lambda: alerts(d2.db)[0][5] == "ended", what="the alert to end")
        self.assertEqual(d2.stop(), 0, d2.output())

    def test_unsafe_hook_refused(self):
        bad = os.path.join(self.hooks, "bad.sh")
        write_exec(bad, "#!/bin/sh\nexit 0\n")
        os.chmod(bad, 0o777)
        conf = os.path.join(self.tmp, "bad.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nhook = %s\n" % bad)
        d = self.daemon("--config", conf, "--check-config")
        self.assertEqual(d.proc.wait(60), 1)
        self.assertIn(bad + ": a file writable by group and others (mode 0777)", d.output())
        os.chmod(bad, 0o644)
        d = self.daemon("--config", conf, "--check-config")
        self.assertEqual(d.proc.wait(60), 1)
        self.assertIn("not executable", d.output())
        self.assertTrue(stat.S_ISREG(os.stat(bad).st_mode))
