# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatch's live operations through the daemon's control socket: status with the
daemon's own view (running, not running, access denied), watch, unwatch and reload
with their errors and exit codes."""

import json
import os
import pwd
import shutil
import socket
import subprocess
import unittest

import mkdb
from lwtest import CLIENT, WAIT, Case, query, samples, wait_for

# Exit codes (leakwatch(1), EXIT STATUS).
EXIT_FAIL, EXIT_USAGE, EXIT_NOTFOUND, EXIT_DAEMON = 1, 2, 4, 6
# leakwatch status alone, as systemctl status: not running, unknown.
EXIT_NOT_RUNNING, EXIT_UNKNOWN = 3, 4
NOBODY = 65534


def env(**extra):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC", "LC_ALL": "C.UTF-8"}
    e.update(extra)
    return e


class Live(Case):
    def lw(self, *args, code=0, runtime=None, wrap=(), **kw):
        p = subprocess.run(list(wrap) + [CLIENT, "--runtime-dir", runtime or self.tmp] + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=WAIT, env=env(), **kw)
        self.assertEqual(p.returncode, code, "exit %d, stderr: %s" % (p.returncode, p.stderr.decode(errors="replace")))
        return p.stdout.decode(), p.stderr.decode()

    def quiet_daemon(self):
        d = self.daemon("--interval", "0.2", "--match", "^nothing-matches-this$")
        d.wait_log("watching")
        return d


class TestStatus(Live):
    def test_running(self):
        d = self.quiet_daemon()
        out, _ = self.lw("--db", d.db, "status")
        self.assertIn("running, pid %d, up " % d.pid, out)
        self.assertIn("every 200ms", out)
        self.assertIn("watching 0 processes, 0 open alerts, last tick ", out)
        self.assertIn("0 samples dropped", out)
        self.assertNotIn("not running", out)
        s = json.loads(self.lw("--db", d.db, "status", "--json")[0])
        self.assertIs(s["daemon"]["running"], True)
        self.assertEqual(s["daemon"]["control"], "running")
        live = s["daemon"]["live"]
        self.assertEqual(live["pid"], d.pid)
        self.assertEqual(live["database"], d.db)
        self.assertEqual(live["interval_s"], 0.2)
        self.assertIs(live["database_failing"], False)
        for key in ("uptime_s", "watched", "known", "open_alerts", "alerts_total", "last_tick_us", "samples_written",
                    "samples_pending", "samples_dropped", "database_bytes", "window_s", "version"):
            self.assertIn(key, live)

        # Without --db, status reads the database the daemon names: exit 0, running.
        out, _ = self.lw("status")
        self.assertIn("Database:   %s (" % d.db, out)
        self.assertNotIn("it writes", out)
        # So do the other commands: ps reads it (the default path does not exist here).
        self.assertEqual(json.loads(self.lw("ps", "-o", "json")[0]), [])
        # A daemon writing another database than the one shown is pointed out.
        other = os.path.join(self.tmp, "other.db")
        mkdb.build(other)
        out, _ = self.lw("--db", other, "status")
        self.assertIn("it writes %s, not the database shown here" % d.db, out)
        self.assertEqual(d.stop(), 0, d.output())

        # Stopped: the database is all there is, and status says so, exiting 3 as
        # systemctl status does for a unit that is not running.
        out, _ = self.lw("--db", d.db, "status", code=EXIT_NOT_RUNNING)
        self.assertIn("Daemon:     not running (reading the database)", out)
        self.assertIn("stopped ", out)
        s = json.loads(self.lw("--db", d.db, "status", "--json", code=EXIT_NOT_RUNNING)[0])
        self.assertIs(s["daemon"]["running"], False)
        self.assertEqual(s["daemon"]["control"], "not running")
        self.assertIsNone(s["daemon"]["live"])

    def test_stale_socket_is_not_running(self):
        """A socket file left by a daemon that died: nobody listens on it."""
        db = os.path.join(self.tmp, "golden.db")
        mkdb.build(db)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.bind(os.path.join(self.tmp, "control"))
        out, _ = self.lw("--db", db, "status", code=EXIT_NOT_RUNNING)
        self.assertIn("not running (reading the database)", out)
        _, err = self.lw("reload", code=EXIT_DAEMON)
        self.assertIn("not running (nothing listens on", err)

    @unittest.skipUnless(os.geteuid() == 0, "SKIP: needs root to ask as another user")
    def test_denied(self):
        if not shutil.which("setpriv"):
            self.skipTest("SKIP: setpriv (util-linux) is not installed")
        d = self.quiet_daemon()
        as_nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
        # A database nobody may read, in a directory of its own (for the -shm file).
        mine = os.path.join(self.tmp, "nobody")
        os.mkdir(mine)
        db = os.path.join(mine, "copy.db")
        mkdb.build(db)
        for p in (mine, db):
            os.chown(p, NOBODY, NOBODY)
        sock = os.path.join(self.tmp, "control")

        # The socket's mode keeps nobody out: EACCES on connect.
        out, _ = self.lw("--db", db, "status", wrap=as_nobody, code=EXIT_UNKNOWN)
        self.assertIn("Daemon:     permission denied: cannot connect to %s" % sock, out)
        self.assertNotIn("not running", out)
        s = json.loads(self.lw("--db", db, "status", "--json", wrap=as_nobody, code=EXIT_UNKNOWN)[0])
        self.assertIsNone(s["daemon"]["running"])
        self.assertEqual(s["daemon"]["control"], "permission denied")
        _, err = self.lw("reload", code=EXIT_DAEMON, wrap=as_nobody)
        self.assertIn("permission denied", err)

        # With the file open to all, the daemon's own check refuses.
        os.chmod(sock, 0o666)
        out, _ = self.lw("--db", db, "status", wrap=as_nobody, code=EXIT_UNKNOWN)
        self.assertIn("leakwatchd refused: permission denied", out)
        _, err = self.lw("watch", os.getpid(), code=EXIT_DAEMON, wrap=as_nobody)
        self.assertIn("refused by leakwatchd: permission denied", err)
        _, err = self.lw("unwatch", os.getpid(), code=EXIT_DAEMON, wrap=as_nobody)
        self.assertIn("permission denied", err)

        # run goes on in-process, and says why.
        _, err = self.lw("run", "--", "/bin/sh", "-c", "exit 7", code=7, wrap=as_nobody)
        self.assertIn("in-process", err)
        self.assertIn("leakwatchd denied access", err)
        self.assertEqual(d.stop(), 0, d.output())


class TestOperations(Live):
    def test_watch_unwatch_reload(self):
        d = self.quiet_daemon()
        w = self.alloc("--steps", 1, "--hold-ms", 60000, "--name", "lw-live")
        out, _ = self.lw("watch", w.pid, "--window", "2m")
        self.assertRegex(out, r"^Watching PID %d under rule run \(id:\d+\), window 2m\.\n$" % w.pid)
        pid_id = int(out.split("(id:")[1].split(")")[0])
        wait_for(lambda: len(samples(d.db, w.pid)) > 2, what="samples of the process watched on request")
        self.assertEqual(query(d.db, "SELECT p.id, r.name FROM process p JOIN rule r ON r.id = p.rule_id "
                                     "WHERE p.pid = ?", (w.pid,)), [(pid_id, "run")])

        _, err = self.lw("watch", w.pid, code=EXIT_FAIL)
        self.assertIn("already watched", err)
        out, _ = self.lw("unwatch", w.pid)
        self.assertEqual(out, "Stopped watching PID %d.\n" % w.pid)
        wait_for(lambda: query(d.db, "SELECT end_reason FROM process WHERE pid = ?", (w.pid,)) == [("unwatched",)],
                 what="the process to be unwatched")
        _, err = self.lw("unwatch", w.pid, code=EXIT_NOTFOUND)
        self.assertIn("not watched", err)

        # Not found, as the daemon says it.
        self.lw("watch", 2 ** 31 - 1, code=EXIT_NOTFOUND)
        _, err = self.lw("watch", w.pid, "--rule", "nosuch", code=EXIT_NOTFOUND)
        self.assertIn("no rule 'nosuch'", err)
        # Its own process is not to be watched.
        self.lw("watch", d.pid, code=EXIT_FAIL)

        out, _ = self.lw("reload")
        self.assertEqual(out, "leakwatchd reloaded its configuration.\n")
        d.wait_log("configuration reloaded")
        self.assertEqual(d.stop(), 0, d.output())

    def test_usage(self):
        for args in (["watch"], ["watch", "abc"], ["watch", "0"], ["watch", "1", "2"], ["unwatch"],
                     ["reload", "now"], ["watch", "1", "--window", "30s"], ["watch", "1", "--window", "100d"],
                     ["watch", "1", "--rule", "a b"], ["watch", "1", "--rule", ""], ["unwatch", "1", "--rule", "x"],
                     ["reload", "--window", "1h"]):
            self.lw(*args, code=EXIT_USAGE)

    def test_not_running(self):
        empty = os.path.join(self.tmp, "no-daemon-here")
        os.mkdir(empty)
        for args in (["watch", "1"], ["unwatch", "1"], ["reload"]):
            out, err = self.lw(*args, code=EXIT_DAEMON, runtime=empty)
            self.assertEqual(out, "")
            self.assertIn("leakwatchd is not running (no control socket %s/control)" % empty, err)
        # The environment names the directory too.
        p = subprocess.run([CLIENT, "reload"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=WAIT,
                           env=env(LEAKWATCH_RUNTIME_DIR=empty))
        self.assertEqual(p.returncode, EXIT_DAEMON)
        self.assertIn(empty.encode(), p.stderr)


if __name__ == "__main__":
    unittest.main()
