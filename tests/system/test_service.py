# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatchd.service from the package under a real systemd (a Debian 12 booted with
systemd-nspawn): it runs as its own user with its two capabilities, says READY and pings
the watchdog, reloads (and refuses a broken configuration), records the leak of a
process in another unit (a transient systemd-run unit) and runs a hook for it in a
cgroup of its own (Delegate=yes: the daemon in a leaf, the run beside it), serves
metrics through leakwatch-metrics.socket, and through metrics-listen once the shipped
drop-in opens the network (not before), and stops cleanly."""

import json
import os
import shutil
import time

import lwsystem
from lwtest import Case, wait_for

# A short window (the shortest) and 0.5 s ticks: a steady leak is confirmed in about a
# minute and a half. The rule watches the transient unit only; the shipped notify hook
# writes each alert to the system log.
CONF = """[daemon]
interval = 0.5
window = 1m
hook = /usr/share/leakwatch/hooks/notify
[rule leaker]
unit = lw-leaker.service
"""
# The unit pings at most every 3/4 of WatchdogSec: with the shipped 2 minutes a ping may
# take 90 s, so the test shortens it to see several.
WATCHDOG = "[Service]\nWatchdogSec=4s\n"
# CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19), the unit's two lasting ones: CAP_BPF,
# CAP_PERFMON and CAP_SETPCAP are dropped from every set before the first tick.
UNIT_CAPS = (1 << 2) | (1 << 19)

GET = """python3 - "$1" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    sys.stdout.write(r.read().decode())
EOF"""

ALERTS = """python3 - <<'EOF'
import json, sqlite3
con = sqlite3.connect("file:/var/lib/leakwatch/leakwatch.db?mode=ro", uri=True, timeout=10)
alerts = con.execute("SELECT a.id, a.metric, a.state, p.pid, p.comm, p.unit, p.uid FROM alert a "
                     "JOIN process p ON p.id = a.process_id").fetchall()
hooks = con.execute("SELECT alert_id, event, program, exit_code, output FROM hook_run").fetchall()
print(json.dumps({"alerts": alerts, "hooks": hooks}))
EOF"""


class TestService(Case):
    def setUp(self):
        super().setUp()
        self.tree, self.deb = lwsystem.prepared(self)

    def get(self, c, url, check=True):
        return c.sh("set -- %s\n%s" % (url, GET), check=check)

    def db(self, c):
        try:
            return json.loads(c.sh(ALERTS).stdout)
        except AssertionError:
            return None  # not created yet, or busy

    def test_service_under_systemd(self):
        shutil.copy(self.deb, os.path.join(self.tmp, "leakwatch.deb"))
        c = lwsystem.Container(self.tree, self.tmp, "lw-svc-%d" % os.getpid())
        self.addCleanup(c.stop)
        print("\n    boot: %.1f s" % c.boot_seconds, end="")
        c.sh("dpkg -i /mnt/test/leakwatch.deb >/dev/null")
        c.sh("cat > /etc/leakwatch/conf.d/50-test.conf", input=CONF)
        c.sh("mkdir -p /run/systemd/system/leakwatchd.service.d && "
             "cat > /run/systemd/system/leakwatchd.service.d/50-watchdog.conf", input=WATCHDOG)
        # The order the socket unit documents: systemd refuses to start the socket of a
        # running service.
        c.sh("systemctl daemon-reload && systemctl stop leakwatchd.service && "
             "systemctl enable --now leakwatch-metrics.socket && systemctl start leakwatchd.service")

        # Started: READY came (Type=notify would still be "activating" otherwise), as its
        # own user with exactly the unit's capabilities, no way to gain more, a seccomp
        # filter.
        s = c.show("leakwatchd", "ActiveState", "SubState", "MainPID", "StatusText", "WatchdogUSec")
        self.assertEqual((s["ActiveState"], s["SubState"]), ("active", "running"))
        self.assertTrue(s["StatusText"], "the daemon says what it does in STATUS=")
        self.assertEqual(s["WatchdogUSec"], "4s")
        status = dict(line.split(":", 1) for line in c.sh("cat /proc/%s/status" % s["MainPID"]).stdout.splitlines())
        uid = c.sh("id -u leakwatch").stdout.strip()
        gid = c.sh("id -g leakwatch").stdout.strip()
        self.assertEqual(status["Uid"].split(), [uid] * 4)
        self.assertEqual(status["Gid"].split(), [gid] * 4)
        for kind in ("CapEff", "CapPrm", "CapAmb", "CapBnd"):
            self.assertEqual(int(status[kind], 16), UNIT_CAPS, kind)
        self.assertEqual(status["NoNewPrivs"].strip(), "1")
        self.assertEqual(status["Seccomp"].strip(), "2")
        # Delegate=yes: the daemon moved itself into a leaf of the service's cgroup, and
        # makes its hook runs' cgroups beside it.
        service_cg = "/sys/fs/cgroup/system.slice/leakwatchd.service"
        self.assertIn("hooks: each hook run in a cgroup of its own under %s " % service_cg, c.journal("leakwatchd"))
        self.assertIn("\n0::/system.slice/leakwatchd.service/leakwatchd\n",
                      "\n" + c.sh("cat /proc/%s/cgroup" % s["MainPID"]).stdout)

        # A process of another unit leaks 2 MiB/s.
        c.sh("systemd-run --unit=lw-leaker --collect %s/tests/workloads/alloc --step-kib 512 --every-ms 250 "
             "--steps 1200 --name lw-leaker" % lwsystem.HOST_BUILD)
        leaker = c.show("lw-leaker.service", "MainPID")["MainPID"]

        # Watchdog pings: systemd records the time of the last one.
        stamps = set()
        wait_for(lambda: stamps.add(c.show("leakwatchd", "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"])
               or len(stamps) >= 3, timeout=30, what="three watchdog pings")

        # Reload: done; a broken configuration is refused by ExecReload's check, and the
        # daemon goes on with the one it has.
        reloads = c.journal("leakwatchd").count("configuration reloaded")
        c.sh("systemctl reload leakwatchd")
        wait_for(lambda: c.journal("leakwatchd").count("configuration reloaded") > reloads, what="the reload")
        c.sh("echo 'no-such-key = 1' > /etc/leakwatch/conf.d/60-broken.conf")
        r = c.sh("systemctl reload leakwatchd", check=False)
        self.assertNotEqual(r.returncode, 0, "a broken configuration fails systemctl reload")
        c.sh("rm /etc/leakwatch/conf.d/60-broken.conf")
        wait_for(lambda: c.show("leakwatchd", "ActiveState")["ActiveState"] == "active", what="active after reload")
        self.assertEqual(c.show("leakwatchd", "MainPID")["MainPID"], s["MainPID"])

        # Metrics through the socket systemd bound and passed in, though the daemon
        # itself has no network.
        self.assertIn("(socket from systemd)", c.journal("leakwatchd"))
        group = 'rule="leaker",name="lw-leaker",unit="lw-leaker.service"'
        text = wait_for(lambda: (lambda t: t if "leakwatch_processes{%s} 1" % group in t else None)(
            self.get(c, "http://127.0.0.1:9184/metrics").stdout), what="the leaking unit's group in the metrics")
        self.assertIn("leakwatch_build_info{", text)

        # The leak is recorded, for the process of the other unit, and the hook ran.
        started = time.monotonic()
        doc = wait_for(lambda: (lambda d: d if d and any(a[2] == "leaking" and a[1] == "memory" for a in d["alerts"])
                              and d["hooks"] else None)(self.db(c)), timeout=300, what="the leak alert and its hook")
        print(", leak confirmed %.0f s after the reload" % (time.monotonic() - started), end="")
        alert = [a for a in doc["alerts"] if a[2] == "leaking"][0]
        self.assertEqual((str(alert[3]), alert[4], alert[5], alert[6]), (leaker, "lw-leaker", "lw-leaker.service", 0))
        hook = wait_for(lambda: [h for h in self.db(c)["hooks"] if h[0] == alert[0] and h[3] is not None],
                      what="the hook's end")[0]
        self.assertEqual(hook[1:4], ["start", "/usr/share/leakwatch/hooks/notify", 0], hook)
        # Its cgroup went with it: only the daemon's leaf is left.
        self.assertEqual(c.sh("cd %s && ls -d */" % service_cg).stdout, "leakwatchd/\n")
        line = wait_for(lambda: c.sh("journalctl --no-pager -o cat -t leakwatch-alert").stdout,
                      what="the hook's line in the journal")
        self.assertIn("leak alert %d: pid %s (lw-leaker) of rule leaker is leaking memory" % (alert[0], leaker), line)
        self.assertIn("leakwatch_open_alerts{%s,resource=\"memory\"} 1" % group,
                      self.get(c, "http://127.0.0.1:9184/metrics").stdout)
        # Wide enough for the whole row: without a terminal the table is cut to $COLUMNS or 80.
        self.assertIn("lw-leaker", c.sh("COLUMNS=250 leakwatch alerts").stdout)

        # metrics-listen: refused by the sandbox, served once the drop-in opens it.
        c.sh("systemctl disable --now leakwatch-metrics.socket 2>/dev/null")
        c.sh("echo '[daemon]\nmetrics-listen = 127.0.0.1:9185' > /etc/leakwatch/conf.d/70-listen.conf")
        c.sh("systemctl restart leakwatchd")
        wait_for(lambda: "metrics: cannot listen on 127.0.0.1:9185" in c.journal("leakwatchd"),
               what="metrics-listen refused without the drop-in")
        self.assertNotEqual(self.get(c, "http://127.0.0.1:9185/metrics", check=False).returncode, 0)
        c.sh("mkdir -p /etc/systemd/system/leakwatchd.service.d && "
             "cp /usr/share/leakwatch/metrics-listen.conf /etc/systemd/system/leakwatchd.service.d/ && "
             "systemctl daemon-reload && systemctl restart leakwatchd")
        wait_for(lambda: "metrics: serving http://127.0.0.1:9185/metrics" in c.journal("leakwatchd"),
               what="metrics-listen with the drop-in")
        self.assertIn("leakwatch_open_alerts{%s,resource=\"memory\"} 1" % group,
                      self.get(c, "http://127.0.0.1:9185/metrics").stdout)

        # Stop: SIGTERM, a flush, exit 0, well before systemd would resort to SIGKILL.
        t = time.monotonic()
        c.sh("systemctl stop leakwatchd")
        stop_seconds = time.monotonic() - t
        s = c.show("leakwatchd", "ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
        self.assertEqual((s["ActiveState"], s["Result"], s["ExecMainCode"], s["ExecMainStatus"]),
                         ("inactive", "success", "1", "0"))
        self.assertLess(stop_seconds, 10)
        self.assertNotIn("SIGKILL", c.journal("leakwatchd"))
        c.sh("systemctl stop lw-leaker.service")
