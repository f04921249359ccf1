# SPDX-License-Identifier: GPL-2.0-or-later
"""The control socket: live status, watching and unwatching a PID on request, reload,
and refusal of malformed, oversized and unauthorised requests."""

import os
import pwd
import socket
import subprocess
import time
import unittest

from lwtest import Case, control, query, samples, wait_for


class TestControl(Case):
    def test_status_watch_unwatch_reload(self):
        d = self.daemon("--interval", "0.2", "--match", "^nothing-matches-this$")
        d.wait_log("watching")
        sock = os.path.join(self.tmp, "control")
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o660)

        st = control(self.tmp, {"cmd": "status"})
        self.assertTrue(st["ok"])
        self.assertEqual(st["pid"], d.pid)
        self.assertEqual(st["watched"], 0)
        for key in ("version", "database", "rules", "open_alerts", "samples_written", "samples_dropped",
                    "last_tick_us", "uptime_s", "interval_s", "window_s"):
            self.assertIn(key, st)

        w = self.alloc("--steps", 1, "--hold-ms", 30000, "--name", "lw-ondemand")
        r = control(self.tmp, {"cmd": "watch", "pid": w.pid, "window_s": 120})
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["rule"], "run")
        wait_for(lambda: len(samples(d.db, w.pid)) > 2, what="samples of the process watched on request")
        self.assertEqual(control(self.tmp, {"cmd": "status"})["watched"], 1)
        again = control(self.tmp, {"cmd": "watch", "pid": w.pid})
        self.assertFalse(again["ok"])
        self.assertIn("already watched", again["error"])

        r = control(self.tmp, {"cmd": "unwatch", "pid": w.pid})
        self.assertTrue(r["ok"], r)
        wait_for(lambda: query(d.db, "SELECT end_reason FROM process WHERE pid = ?", (w.pid,)) == [("unwatched",)],
                 what="the process to be unwatched")
        self.assertFalse(control(self.tmp, {"cmd": "unwatch", "pid": w.pid})["ok"])

        missing = control(self.tmp, {"cmd": "watch", "pid": 2 ** 31 - 1})
        self.assertFalse(missing["ok"])
        self.assertIn("no process", missing["error"])
        # The failure by name, for programs.
        self.assertEqual(missing["code"], "ENOENT")
        self.assertEqual(again["code"], "EEXIST")
        own = control(self.tmp, {"cmd": "watch", "pid": d.pid})
        self.assertFalse(own["ok"])

        self.assertTrue(control(self.tmp, {"cmd": "reload"})["ok"])
        d.wait_log("configuration reloaded")
        self.assertEqual(d.stop(), 0, d.output())
        self.assertFalse(os.path.exists(sock), "the socket is removed at exit")

    def test_bad_requests(self):
        d = self.daemon("--interval", "0.2", "--match", "^nothing-matches-this$")
        d.wait_log("watching")
        cases = [
            (b"not json", "malformed"),
            (b'{"cmd": "status"} trailing', "malformed"),
            (b'["status"]', "cmd"),
            (b'{"cmd": 5}', "cmd"),
            (b'{"cmd": "format-disk"}', "unknown command"),
            # The peer's text comes back escaped: no terminal control, no broken UTF-8.
            (b'{"cmd": "\\u001b[2J\\u009b\xc3"}', "unknown command '\\x1b[2J\\xc2\\x9b\\xc3'"),
            (b'{"cmd": "watch"}', "pid"),
            (b'{"cmd": "watch", "pid": "1"}', "integer"),
            (b'{"cmd": "watch", "pid": -4}', "integer"),
            (b'{"cmd": "watch", "pid": 1, "window_s": 1}', "window_s"),
            (b'{"cmd": "status", "x": [[[[[[1]]]]]]}', "malformed"),
            (b"x" * 20000, "too long"),
        ]
        for raw, fragment in cases:
            r = control(self.tmp, None, raw=raw)
            self.assertFalse(r["ok"], raw[:40])
            self.assertIn(fragment, r["error"], raw[:40])
            self.assertIn(r["code"], ("EINVAL", "EOPNOTSUPP", "EMSGSIZE"), raw[:40])
        # Still alive and answering after all that.
        self.assertTrue(control(self.tmp, {"cmd": "status"})["ok"])
        self.assertEqual(d.stop(), 0, d.output())

    @unittest.skipUnless(os.geteuid() == 0 and os.access("/usr/bin/python3", os.X_OK),
                         "needs root and /usr/bin/python3 to connect as another user")
    def test_unauthorised_peer_refused(self):
        d = self.daemon("--interval", "0.2", "--match", "^nothing-matches-this$")
        d.wait_log("watching")
        sock = os.path.join(self.tmp, "control")
        # Open the file itself so the peer check, not the file mode, is what refuses.
        os.chmod(sock, 0o666)
        nobody = pwd.getpwnam("nobody")
        # The daemon answers a refused peer at once, before any request: the reply may be
        # waiting before the request is sent.
        script = ("import socket, sys\n"
                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
                  "s.connect(sys.argv[1])\n"
                  "try:\n    s.send(b'{\"cmd\": \"status\"}')\nexcept BrokenPipeError:\n    pass\n"
                  "try:\n    r = s.recv(4096)\n"
                  # Hung up with the request unread: the reset is reported first, then the reply.
                  "except ConnectionResetError:\n    r = s.recv(4096)\n"
                  "print(r.decode())\n")

        def as_nobody():
            os.setgid(nobody.pw_gid)
            os.setgroups([])
            os.setuid(nobody.pw_uid)
        r = subprocess.run(["/usr/bin/python3", "-c", script, sock], capture_output=True, text=True,
                           preexec_fn=as_nobody, timeout=60)
        self.assertIn("permission denied", r.stdout, r.stderr)
        self.assertIn('"code":"EACCES"', r.stdout.replace(" ", ""))
        self.assertEqual(d.stop(), 0, d.output())
