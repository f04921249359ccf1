# SPDX-License-Identifier: GPL-2.0-or-later
"""The Debian package on a booted Debian 12 (systemd-nspawn): installed, it creates its
user and state and starts the service; it upgrades over itself keeping the database and
the administrator's configuration; removed, it stops the service and keeps the state and
the configuration; purged, it leaves nothing but the system user. And systemd-analyze
security rates the installed unit 2.5 or lower under the real systemd."""

import os
import re
import shutil
import subprocess

import lwsystem
from lwtest import Case

COUNT_SAMPLES = """python3 - <<'EOF'
import sqlite3
con = sqlite3.connect("file:/var/lib/leakwatch/leakwatch.db?mode=ro", uri=True, timeout=10)
print(con.execute("SELECT (SELECT coalesce(sum(n), 0) FROM sample_block) + (SELECT coalesce(sum(n), 0) FROM sample_batch)").fetchone()[0])
EOF"""


class TestPackage(Case):
    def setUp(self):
        super().setUp()
        self.tree, self.deb = lwsystem.prepared(self)

    def boot(self, name):
        c = lwsystem.Container(self.tree, self.tmp, "%s-%d" % (name, os.getpid()))
        self.addCleanup(c.stop)
        return c

    def test_package_ships_no_bytecode(self):
        """The .deb holds the agent's sources only: bytecode is the postinst's business,
        compiled by the Python of the host that installs it."""
        listing = subprocess.run(["dpkg-deb", "-c", self.deb], capture_output=True, text=True, check=True).stdout
        self.assertIn("./usr/lib/leakwatch/python/leakwatch_agent.py", listing)
        self.assertNotIn("__pycache__", listing)
        self.assertNotIn(".pyc", listing)

    def test_install_upgrade_remove_purge(self):
        shutil.copy(self.deb, os.path.join(self.tmp, "leakwatch.deb"))
        bumped, old, new = lwsystem.bumped_package(self.deb, self.tmp)
        c = self.boot("lw-pkg")
        before = lwsystem.snapshot(c)

        # Install: the user, the state directory, the bytecode, the running service. A
        # local drop-in, there before the package, has it watch every process (none here
        # reaches the default 32 MiB), so the history the upgrade must keep is not empty.
        c.sh("mkdir -p /etc/leakwatch/conf.d && cat > /etc/leakwatch/conf.d/50-test.conf",
             input="[daemon]\ninterval = 1\n[rule every]\nall = yes\n")
        before.add("/etc/leakwatch")
        before.add("/etc/leakwatch/conf.d")
        before.add("/etc/leakwatch/conf.d/50-test.conf")
        r = c.sh("dpkg -i /mnt/test/leakwatch.deb 2>&1")
        self.assertNotRegex(r.stdout, r"(?im)^(dpkg: )?(warning|error)|failed", r.stdout)
        self.assertEqual(c.sh("dpkg-query -W -f '${Status} ${Version}' leakwatch").stdout,
                         "install ok installed " + old)
        passwd = c.sh("getent passwd leakwatch").stdout.strip().split(":")
        self.assertEqual(passwd[5:], ["/var/lib/leakwatch", "/usr/sbin/nologin"])
        self.assertLess(int(passwd[2]), 1000, "a system user")
        self.assertEqual(c.sh("stat -c '%U:%G %a' /var/lib/leakwatch").stdout.strip(), "leakwatch:leakwatch 750")
        self.assertEqual(c.sh("systemctl is-enabled leakwatchd.service; systemctl is-active leakwatchd.service")
                         .stdout.split(), ["enabled", "active"])
        self.assertEqual(c.sh("systemctl is-enabled leakwatch-metrics.socket || true").stdout.strip(), "disabled")
        self.assertIn("/etc/leakwatch/leakwatch.conf", c.sh("dpkg-query -W -f '${Conffiles}' leakwatch").stdout)
        tag = c.sh("python3 -c 'import sys; print(sys.implementation.cache_tag)'").stdout.strip()
        pyc = c.sh("ls /usr/lib/leakwatch/python/__pycache__").stdout.split()
        self.assertEqual(sorted(pyc), ["leakwatch_agent.%s.pyc" % tag, "sitecustomize.%s.pyc" % tag])
        # READY came once the first samples were in the database: the client has data,
        # as root and as a member of the group leakwatch.
        c.sh("leakwatch status")
        c.sh("useradd --system --no-create-home -G leakwatch lwadmin && runuser -u lwadmin -- leakwatch status")
        self.assertEqual(c.sh("leakwatchd --version").stdout.split()[-1], old)

        # Upgrade over itself: restarted, history and the administrator's edit kept.
        pid = c.show("leakwatchd", "MainPID")["MainPID"]
        samples = int(c.sh(COUNT_SAMPLES).stdout)
        self.assertGreater(samples, 0)
        c.sh("echo '# edited here' >> /etc/leakwatch/leakwatch.conf")
        shutil.copy(bumped, os.path.join(self.tmp, "leakwatch-new.deb"))
        r = c.sh("dpkg -i /mnt/test/leakwatch-new.deb 2>&1")
        self.assertNotRegex(r.stdout, r"(?im)^(dpkg: )?(warning|error)|failed", r.stdout)
        self.assertEqual(c.sh("dpkg-query -W -f '${Version}' leakwatch").stdout, new)
        state = c.show("leakwatchd", "MainPID", "ActiveState")
        self.assertEqual(state["ActiveState"], "active")
        self.assertNotEqual(state["MainPID"], pid, "the upgrade restarts the daemon")
        self.assertTrue(c.sh("tail -n1 /etc/leakwatch/leakwatch.conf").stdout.startswith("# edited here"))
        self.assertGreaterEqual(int(c.sh(COUNT_SAMPLES).stdout), samples)
        self.assertEqual(len(c.sh("ls /usr/lib/leakwatch/python/__pycache__").stdout.split()), 2)

        # Remove: the service stops and goes; state, configuration and user stay.
        r = c.sh("dpkg -r leakwatch 2>&1")
        self.assertNotRegex(r.stdout, r"(?im)^(dpkg: )?(warning|error)|failed", r.stdout)
        self.assertEqual(c.sh("dpkg-query -W -f '${Status}' leakwatch").stdout, "deinstall ok config-files")
        self.assertEqual(c.show("leakwatchd", "ActiveState")["ActiveState"], "inactive")
        c.sh("test -s /var/lib/leakwatch/leakwatch.db && test -f /etc/leakwatch/leakwatch.conf")
        c.sh("! test -e /usr/lib/leakwatch && ! test -e /usr/sbin/leakwatchd")
        c.sh("getent passwd leakwatch >/dev/null")

        # Purge: state and configuration go; nothing else is left behind but the user
        # (and the local drop-in, which is the administrator's, with its directories).
        r = c.sh("dpkg -P leakwatch 2>&1")
        # dpkg says why it leaves the directory: the drop-in in it is not the package's.
        self.assertIn("directory '/etc/leakwatch/conf.d' not empty so not removed", r.stdout)
        self.assertNotRegex(r.stdout.replace("dpkg: warning: while removing leakwatch, directory "
                                             "'/etc/leakwatch/conf.d' not empty so not removed", ""),
                            r"(?im)^(dpkg: )?(warning|error)|failed", r.stdout)
        c.sh("! test -e /var/lib/leakwatch && ! test -e /etc/leakwatch/leakwatch.conf")
        c.sh("! ls /var/lib/systemd/deb-systemd-helper-enabled/ | grep leakwatch")
        after = lwsystem.snapshot(c)
        self.assertEqual(sorted(before - after), [], "paths that were there before the package")
        # sysusers and useradd keep a backup of the files they change.
        left = sorted(p for p in after - before if p not in ("/etc/passwd-", "/etc/group-", "/etc/shadow-",
                                                               "/etc/gshadow-", "/etc/subuid", "/etc/subgid",
                                                               "/etc/subuid-", "/etc/subgid-"))
        self.assertEqual(left, [], "left behind by the package")
        c.sh("getent passwd leakwatch >/dev/null")

    def test_security_score(self):
        """systemd-analyze security of the installed unit, asked of the running systemd,
        is 2.5 or lower ("OK"); with the metrics-listen drop-in, which opens the network,
        it still is."""
        c = self.boot("lw-sec")
        shutil.copy(self.deb, os.path.join(self.tmp, "leakwatch.deb"))
        c.sh("dpkg -i /mnt/test/leakwatch.deb >/dev/null")

        def score():
            out = c.sh("systemd-analyze security leakwatchd.service").stdout
            m = re.search(r"Overall exposure level for leakwatchd\.service: (\d+\.\d) (\w+)", out)
            self.assertIsNotNone(m, out)
            return float(m.group(1)), m.group(2), out

        shipped, word, out = score()
        print("\n    systemd-analyze security (in the container): %.1f %s" % (shipped, word), end="")
        self.assertLessEqual(shipped, 2.5, out)
        c.sh("mkdir -p /etc/systemd/system/leakwatchd.service.d && "
             "cp /usr/share/leakwatch/metrics-listen.conf /etc/systemd/system/leakwatchd.service.d/ && "
             "systemctl daemon-reload")
        dropin, word, out = score()
        print("; with metrics-listen.conf: %.1f %s" % (dropin, word), end=" ")
        self.assertGreater(dropin, shipped, "the drop-in opens the network")
        self.assertLessEqual(dropin, 2.5, out)
