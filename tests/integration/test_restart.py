"""escalate = restart end to end: leaking processes in cgroups named like systemd services,
leakwatchd asking a stand-in for systemd's Manager (tests/dbus/fake-manager.c) on a private
dbus-daemon to RestartUnit, and every decision in the database and the client: a restart
done, one refused by restart-max, a unit the rule does not name, leakwatchd's own unit, a
dry run, a forecast beyond the horizon, and an error answered by the service — each once,
and only the permitted two reaching the bus."""

import json
import os
import shutil
import subprocess
import time
from xml.etree import ElementTree

from lwtest import CLIENT, BUILD, Case, query, require_root, root_tier_skip, wait_for

MANAGER = os.path.join(BUILD, "tests", "fake-manager")


def cgroup2_root():
    """Where the cgroup v2 hierarchy is mounted, or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


class TestRestart(Case):
    def setUp(self):
        super().setUp()
        require_root(self, "make cgroups named like services")
        root = cgroup2_root()
        if not root:
            root_tier_skip(self, "no cgroup v2 hierarchy mounted")
        if not shutil.which("dbus-daemon"):
            root_tier_skip(self, "no dbus-daemon (Debian package dbus-daemon)")
        self.root = root
        self.slice = os.path.join(root, "system.slice")
        self.made = []
        tag = "%d" % os.getpid()
        self.units = {k: "lw-rs-%s-%s.service" % (k, tag) for k in ("ok", "other", "self", "dry", "far")}
        self.units["fail"] = "fail-lw-rs-%s.service" % tag      # the stand-in answers it with an error
        for u in self.units.values():
            self.cgroup(u)
        # A private bus, and systemd's Manager on it.
        self.bus = "unix:path=%s/bus" % self.tmp
        busd = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--address=" + self.bus],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(busd)
        wait_for(lambda: os.path.exists(os.path.join(self.tmp, "bus")), what="the private bus")
        self.calls = os.path.join(self.tmp, "calls")
        mgr = subprocess.Popen([MANAGER, self.bus, self.calls], stdout=subprocess.PIPE)
        self.procs.append(mgr)
        self.assertEqual(mgr.stdout.readline(), b"ready\n")

    def cgroup(self, unit):
        path = os.path.join(self.slice, unit)
        os.makedirs(path)
        self.made.append(path)
        self.addCleanup(self.remove_cgroup, path)
        return path

    def remove_cgroup(self, path):
        # After tearDown has killed and reaped what ran in it; leakwatchd makes a cgroup
        # for its hooks below its own, which a killed daemon leaves behind.
        for _ in range(100):
            try:
                for sub, dirs, _ in os.walk(path, topdown=False):
                    for d in dirs:
                        os.rmdir(os.path.join(sub, d))
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.05)
        try:
            os.rmdir(self.slice)    # only if the test made it and it is empty now
        except OSError:
            pass

    def leak_in(self, unit):
        procs = os.path.join(self.slice, unit, "cgroup.procs")

        def enter():
            with open(procs, "w") as f:
                f.write(str(os.getpid()))
        # 1 MiB/s for up to 4 minutes.
        return self.alloc("--step-kib", 256, "--every-ms", 250, "--steps", 960, "--name", "lw-rs",
                          preexec_fn=enter)

    def test_decisions(self):
        u = self.units
        conf = os.path.join(self.tmp, "restart.conf")
        rules = ""
        for key, extra in (("ok", "restart-max = 1\nrestart-horizon = 30d\n"),
                           ("other", "restart-horizon = 30d\n"),
                           ("self", "restart-horizon = 30d\n"),
                           ("dry", "restart-dry-run = yes\nrestart-horizon = 30d\n"),
                           # 1 MiB/s cannot use up the host's memory within a minute.
                           ("far", "restart-horizon = 1m\n"),
                           ("fail", "restart-horizon = 30d\n")):
            named = "lw-rs-elsewhere.service" if key == "other" else u[key]
            rules += "[rule %s]\nunit = %s\nescalate = restart\nrestart-units = %s\n%s\n" % (key, u[key], named, extra)
        with open(conf, "w") as f:
            # The cgroup v2 root, wherever this host mounts it (a hybrid host: below
            # /sys/fs/cgroup/unified).
            f.write("[daemon]\ninterval = 0.5\nwindow = 1m\ncgroup-root = %s\n\n%s" % (self.root, rules))
        self_procs = os.path.join(self.slice, u["self"], "cgroup.procs")

        def into_self():
            with open(self_procs, "w") as f:
                f.write(str(os.getpid()))
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus)
        d = self.daemon("--config", conf, env=env, preexec=into_self)
        d.wait_log("watching")
        leaks = {k: self.leak_in(u[k]) for k in u}
        leaks["ok2"] = self.leak_in(u["ok"])

        def decisions():
            rows = query(d.db, "SELECT r.name, x.decision, x.reason, x.unit, x.alert_id FROM restart x "
                               "JOIN alert a ON a.id = x.alert_id JOIN rule r ON r.id = a.rule_id ORDER BY x.id")
            final = [x for x in rows if x[1] != "requested"]
            return rows if len(final) >= 7 else None
        rows = wait_for(decisions, timeout=300, what="a decision for each of the seven leaks")
        got = sorted((r[0], r[1], r[2]) for r in rows)
        self.assertEqual(got, sorted([
            ("ok", "restarted", "ok"),
            ("ok", "refused", "rate-limit"),
            ("other", "refused", "not-named"),
            ("self", "refused", "own-unit"),
            ("dry", "dry-run", "ok"),
            ("far", "refused", "too-far"),
            ("fail", "failed", "org.freedesktop.systemd1.UnitMasked"),
        ]), rows)
        # Only the permitted two reached systemd, each once, in "replace" mode.
        with open(self.calls) as f:
            self.assertEqual(sorted(f.read().splitlines()),
                             sorted(["%s replace" % u["ok"], "%s replace" % u["fail"]]))
        # Logged once each.
        out = d.output()
        self.assertEqual(out.count("restart of %s failed" % u["fail"]), 1, out)
        self.assertEqual(out.count("restart of %s restarted" % u["ok"]), 1, out)
        self.assertEqual(out.count("restart of %s refused: own-unit" % u["self"]), 1, out)

        # The client shows them under the alert, in words and in JSON.
        ok_alert = [r[4] for r in rows if r[0] == "ok" and r[1] == "restarted"][0]
        fail_alert = [r[4] for r in rows if r[0] == "fail"][0]

        # Before the restart was asked, the evidence was kept: the process's files, its
        # cgroup's, the alert, in a directory only leakwatchd's user can enter.
        ev = wait_for(lambda: query(d.db, "SELECT path, files, note FROM alert_bundle WHERE alert_id = ?",
                                    (ok_alert,)), what="the evidence bundle's row")
        path, files, note = ev[0]
        self.assertTrue(path.startswith(os.path.join(self.tmp, "evidence", "alert-%d-start-" % ok_alert)), path)
        self.assertIsNone(note)
        self.assertEqual(os.stat(os.path.join(self.tmp, "evidence")).st_mode & 0o7777, 0o700)
        self.assertEqual(os.stat(path).st_mode & 0o7777, 0o700)
        kept = set(os.listdir(path))
        self.assertLessEqual({"alert.json", "status", "limits", "smaps_rollup", "smaps", "cgroup", "chart.svg"}, kept)
        self.assertEqual(len(kept), files)
        # No agent in a C program: neither census nor sites, and nothing said missing.
        self.assertFalse({"census", "sites"} & kept, kept)
        # The chart of its memory around the alert: SVG with the series, the alert shaded.
        svg = "{http://www.w3.org/2000/svg}"
        root = ElementTree.parse(os.path.join(path, "chart.svg")).getroot()
        self.assertEqual(root.tag, svg + "svg")
        self.assertTrue(root.findall(".//%sg/%spath" % (svg, svg)))
        texts = [t.text or "" for t in root.iter(svg + "text")]
        self.assertIn("alert %d" % ok_alert, texts)
        self.assertTrue(any(t.startswith("lw-rs (pid ") for t in texts), texts)
        with open(os.path.join(path, "cgroup")) as f:
            self.assertIn(u["ok"], f.read())
        # The cgroup's own files (memory.* only where the memory controller is enabled).
        self.assertIn("cgroup.memory.pressure", kept)
        with open(os.path.join(path, "alert.json")) as f:
            self.assertEqual(json.load(f)["alert_id"], ok_alert)
        cli = subprocess.run([CLIENT, "--db", d.db, "--full", "alerts", str(ok_alert)], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertIn("Restarts (", cli.stdout)
        self.assertIn(u["ok"], cli.stdout)
        self.assertIn("/org/freedesktop/systemd1/job/", cli.stdout)
        self.assertIn("Evidence bundles (1):", cli.stdout)
        self.assertIn(path, cli.stdout)
        self.assertRegex(cli.stdout, r"\n  holds: alert\.json, cgroup, .*chart\.svg, .*smaps_rollup, status\n")
        # show: the alert, and under it its bundle and what it holds; in JSON the same
        # objects as alerts ID --json.
        (pid_id,), = query(d.db, "SELECT process_id FROM alert WHERE id = ?", (ok_alert,))
        cli = subprocess.run([CLIENT, "--db", d.db, "--full", "show", "id:%d" % pid_id], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertIn(path, cli.stdout)
        self.assertRegex(cli.stdout, r"\n +holds: alert\.json, cgroup, .*chart\.svg")
        shown = subprocess.run([CLIENT, "--db", d.db, "show", "id:%d" % pid_id, "--json"], capture_output=True,
                               text=True, timeout=30)
        shown = [a for a in json.loads(shown.stdout)["alerts"] if a["id"] == ok_alert][0]
        detail = json.loads(subprocess.run([CLIENT, "--db", d.db, "alerts", str(ok_alert), "--json"],
                                           capture_output=True, text=True, timeout=30).stdout)
        self.assertEqual(shown["bundles"], detail["bundles"])
        self.assertEqual(shown["restarts"], detail["restarts"])
        holds = {f["name"]: f["bytes"] for f in detail["bundles"][0]["holds"]}
        self.assertEqual(set(holds), kept)
        self.assertEqual(holds["chart.svg"], os.path.getsize(os.path.join(path, "chart.svg")))
        self.assertIsNone(detail["bundles"][0]["holds_error"])
        # A user who may read the database but not leakwatchd's bundles is told why.
        for f in (d.db, d.db + "-wal", d.db + "-shm"):
            if os.path.exists(f):
                os.chmod(f, 0o644)
        os.chmod(self.tmp, 0o755)
        nobody = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", CLIENT,
                                 "--db", d.db, "alerts", str(ok_alert)], capture_output=True, text=True, timeout=30)
        self.assertIn("holds: (not readable by this user", nobody.stdout, nobody.stderr)
        cli = subprocess.run([CLIENT, "--db", d.db, "alerts", str(fail_alert), "--json"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(cli.returncode, 0, cli.stderr)
        doc = json.loads(cli.stdout)
        self.assertEqual(len(doc["restarts"]), 1)
        x = doc["restarts"][0]
        self.assertEqual((x["unit"], x["decision"], x["reason"], x["detail"]),
                         (u["fail"], "failed", "org.freedesktop.systemd1.UnitMasked",
                          "Unit %s is masked." % u["fail"]))
        self.assertIsNotNone(x["answered"])
        self.assertGreater(x["forecast_s"], 0)
        self.assertEqual(len(doc["bundles"]), 1)
        self.assertEqual(doc["bundles"][0]["event"], "start")
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    import unittest
    unittest.main()
