# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatchd as a systemd service, tested without systemd as PID 1: the sd_notify
sequence on a socket of the test's own, the watchdog and a loop that stops it, the
installed files, systemd-analyze verify and security of the installed unit, the
sysusers and tmpfiles files, the two capabilities the unit grants, the system calls its
filter allows, and logging to the journal."""

import atexit
import errno
import fcntl
import os
import re
import select
import shutil
import signal
import socket
import stat
import struct
import tempfile
import subprocess
import threading
import time
import unittest

from lwtest import BUILD, DAEMON, WAIT, Case, query, raw_rows, samples, sanitized, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# An unprivileged uid and gid with no passwd entry: the leakwatch user's stand-in, which
# the test can use without adding a user to this machine.
UID = GID = 64917
# Groups of the sample's "unknown" column (4 bits each) and the reason "permission
# denied" (lib/sample.h).
G_FDS, G_SMAPS, UNK_DENIED = 2, 3, 1


def reason(unknown, group):
    return (unknown >> (4 * group)) & 0xF


def have(*tools):
    return all(shutil.which(t) for t in tools)


_private_build = None


def make(*args, env=None):
    """Runs make in the source tree on a private copy of this test run's build directory
    (made once, modification times kept, so nothing is rebuilt for nothing): an install
    for another PREFIX rebuilds `leakwatch run`'s agent path into the client, and must not
    relink a binary that the tests running beside this one are executing."""
    return subprocess.run(["make", "-C", ROOT, "--no-print-directory", "BUILD=" + private_build()] + list(args),
                          capture_output=True, text=True, timeout=600, env=env)


def private_build():
    global _private_build
    if _private_build is None:
        _private_build = tempfile.mkdtemp(prefix="leakwatch-build-")
        atexit.register(shutil.rmtree, _private_build, True)
        # Not the Debian package's build (make deb), which is a whole tree of its own.
        shutil.copytree(BUILD, _private_build, symlinks=True, dirs_exist_ok=True,
                        ignore=lambda d, names: ["deb"] if os.path.samefile(d, BUILD) else [])
    return _private_build


class Notify:
    """A datagram socket standing in for systemd's notification socket: collects every
    message with its arrival time and the sender's PID (SO_PASSCRED, as systemd reads
    it for NotifyAccess=main)."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.1)
        self.msgs = []          # (monotonic seconds, sender pid, {field: value})
        self.lock = threading.Condition()
        self.on_ready = None    # called in the receiving thread when READY=1 arrives
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        space = socket.CMSG_SPACE(struct.calcsize("3i"))
        while not self.closed:
            try:
                data, anc, _, _ = self.sock.recvmsg(4096, space)
            except socket.timeout:
                continue
            except OSError:
                return
            pid = None
            for level, kind, blob in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", blob[:12])[0]
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
            if "READY" in fields and self.on_ready:
                self.on_ready(fields)
            with self.lock:
                self.msgs.append((time.monotonic(), pid, fields))
                self.lock.notify_all()

    def close(self):
        self.closed = True
        self.thread.join()
        self.sock.close()

    def env(self, watchdog_usec=1000000):
        e = dict(os.environ, NOTIFY_SOCKET=self.path, WATCHDOG_USEC=str(watchdog_usec))
        e.pop("WATCHDOG_PID", None)
        return e

    def count(self, key, value=None, since=0):
        with self.lock:
            return sum(1 for m in self.msgs[since:] if key in m[2] and (value is None or m[2][key] == value))

    def wait(self, key, value=None, since=0, n=1, timeout=WAIT):
        """Waits until n messages from index `since` on carry key (=value); returns the
        index just past the nth."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                seen = 0
                for i, m in enumerate(self.msgs[since:], since):
                    if key in m[2] and (value is None or m[2][key] == value):
                        seen += 1
                        if seen == n:
                            return i + 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s%s (x%d) after message %d; got %r" % (
                        key, "=" + value if value else "", n, since, [m[2] for m in self.msgs]))
                self.lock.wait(left)

    def fields(self, since=0):
        with self.lock:
            return [m[2] for m in self.msgs[since:]]


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class NotifyCase(Case):
    def setUp(self):
        super().setUp()
        self.notify = Notify(self.tmp)

    def tearDown(self):
        super().tearDown()
        self.notify.close()

    def config(self, text, name="n.conf"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class TestNotify(NotifyCase):
    def test_whole_sequence(self):
        """READY=1 once the first pass is in the database (commits are an hour apart here,
        so only the pass before READY can have written anything); STATUS= lines; watchdog
        pings; RELOADING=1 with MONOTONIC_USEC, then READY=1, on SIGHUP; STOPPING=1 on
        SIGTERM and exit 0; every message from the daemon's own PID."""
        w = self.alloc("--steps", 1, "--hold-ms", 60000)
        conf = self.config("[daemon]\ninterval = 0.1\ncommit-interval = 1h\n[rule one]\npid = %d\n" % w.pid)
        db = os.path.join(self.tmp, "leakwatch.db")
        at_ready = []

        def count_samples(fields):
            if not at_ready:
                try:
                    at_ready.append(len(samples(db, w.pid)))
                except Exception as e:  # reported by the assertion below
                    at_ready.append(e)
        self.notify.on_ready = count_samples
        d = self.daemon("--config", conf, env=self.notify.env())

        first_ready = self.notify.wait("READY", "1")
        self.assertIsInstance(at_ready[0], int, at_ready)
        self.assertGreater(at_ready[0], 0, "READY=1 came before the first samples were stored")
        self.assertTrue(any("STATUS" in f for f in self.notify.fields()[:first_ready]),
                        "a status line before READY=1 says what is watched")
        self.notify.wait("WATCHDOG", "1", since=first_ready, n=3)
        status = [f["STATUS"] for f in self.notify.fields() if "STATUS" in f]
        self.assertTrue(any(s.startswith("Watching 1 process (1 rule); 0 alerts; last tick took ") for s in status), status)

        before = time.monotonic_ns() // 1000
        mark = len(self.notify.fields())
        d.signal(signal.SIGHUP)
        reloading = self.notify.wait("RELOADING", "1", since=mark)
        after = time.monotonic_ns() // 1000
        msg = self.notify.fields()[reloading - 1]
        self.assertIn("MONOTONIC_USEC", msg, "RELOADING=1 carries MONOTONIC_USEC in the same message")
        self.assertTrue(before <= int(msg["MONOTONIC_USEC"]) <= after, (before, msg, after))
        ready = self.notify.wait("READY", "1", since=reloading)
        self.notify.wait("STATUS", since=ready)
        self.notify.wait("WATCHDOG", "1", since=ready)

        mark = len(self.notify.fields())
        self.assertEqual(d.stop(), 0, d.output())
        self.notify.wait("STOPPING", "1", since=mark)
        pids = {m[1] for m in self.notify.msgs}
        self.assertEqual(pids, {d.pid}, "only the main process may notify (NotifyAccess=main)")
        keys = set().union(*(f.keys() for f in self.notify.fields()))
        self.assertLessEqual(keys, {"READY", "STATUS", "WATCHDOG", "RELOADING", "MONOTONIC_USEC", "STOPPING"})

    def test_refused_reload_is_still_followed_by_ready(self):
        """A reload with a broken configuration keeps the old one: READY=1 still follows
        RELOADING=1 (or systemd would wait for it), and STATUS= says so until a reload
        succeeds."""
        conf = self.config("[daemon]\ninterval = 0.1\n[rule one]\npid = 1\n")
        d = self.daemon("--config", conf, env=self.notify.env())
        self.notify.wait("READY", "1")
        self.config("[daemon]\ninterval = soon\n")
        mark = len(self.notify.fields())
        d.signal(signal.SIGHUP)
        ready = self.notify.wait("READY", "1", since=self.notify.wait("RELOADING", "1", since=mark))
        self.notify.wait("STATUS", since=ready)
        status = [f["STATUS"] for f in self.notify.fields(ready) if "STATUS" in f]
        self.assertIn("last reload refused, previous configuration running", status[0])
        self.config("[daemon]\ninterval = 0.1\n[rule one]\npid = 1\n")
        mark = len(self.notify.fields())
        d.signal(signal.SIGHUP)
        ready = self.notify.wait("READY", "1", since=self.notify.wait("RELOADING", "1", since=mark))
        self.notify.wait("STATUS", since=ready)
        status = [f["STATUS"] for f in self.notify.fields(ready) if "STATUS" in f]
        self.assertNotIn("refused", status[0])
        self.assertEqual(d.stop(), 0, d.output())

    def test_failed_start_says_why(self):
        """A start that fails sends STATUS= with the reason and ERRNO=, never READY=1."""
        conf = self.config("[daemon]\ninterval = 0.1\n")
        d = self.daemon("--config", conf, db="/proc/leakwatch/none.db", env=self.notify.env())
        self.assertEqual(d.proc.wait(WAIT), 1)
        self.notify.wait("ERRNO")
        f = [f for f in self.notify.fields() if "ERRNO" in f][0]
        self.assertTrue(f["STATUS"].startswith("Failed to start: "), f)
        self.assertGreater(int(f["ERRNO"]), 0)
        bad = self.config("[daemon]\ninterval = soon\n", "bad.conf")
        d = self.daemon("--config", bad, env=self.notify.env())
        self.assertEqual(d.proc.wait(WAIT), 1)
        self.notify.wait("ERRNO", n=2)
        f = [f for f in self.notify.fields() if "ERRNO" in f][1]
        self.assertEqual(f["STATUS"], "Failed to start: configuration has errors: Invalid argument")
        self.assertEqual(self.notify.count("READY"), 0)

    def test_runs_without_a_service_manager(self):
        """$NOTIFY_SOCKET naming nothing (and a watchdog nobody listens to) changes
        nothing: the daemon samples, reloads and exits 0."""
        w = self.alloc("--steps", 1, "--hold-ms", 60000)
        env = dict(os.environ, NOTIFY_SOCKET=os.path.join(self.tmp, "nobody-here"), WATCHDOG_USEC="100000")
        d = self.daemon("--interval", "0.1", "--pid", w.pid, env=env)
        wait_for(lambda: len(samples(d.db, w.pid)) > 3, what="samples")
        d.signal(signal.SIGHUP)
        d.wait_log("configuration reloaded")
        n = len(samples(d.db, w.pid))
        wait_for(lambda: len(samples(d.db, w.pid)) > n + 3, what="samples after the reload")
        self.assertEqual(d.stop(), 0, d.output())


class TestWatchdog(NotifyCase):
    # With WATCHDOG_USEC at 1 s sd-event pings about every 0.4 s; a quiet spell this
    # long is many missed pings, and a slow machine only makes pings rarer, never more.
    QUIET = 3.0

    def assert_quiet(self, what):
        mark = len(self.notify.fields())
        time.sleep(self.QUIET)
        self.assertEqual(self.notify.count("WATCHDOG", since=mark), 0, "pings went on while " + what)
        return mark

    def test_pings_stop_while_stopped(self):
        d = self.daemon("--interval", "0.1", "--pid", "1", env=self.notify.env())
        self.notify.wait("WATCHDOG", "1", since=self.notify.wait("READY", "1"), n=2)
        d.signal(signal.SIGSTOP)
        wait_for(lambda: proc_state(d.pid) == "T", what="the daemon to stop")
        time.sleep(0.2)  # a ping sent just before the stop may still be in flight
        mark = self.assert_quiet("the daemon was stopped")
        d.signal(signal.SIGCONT)
        self.notify.wait("WATCHDOG", "1", since=mark, n=2)
        self.assertEqual(d.stop(), 0, d.output())

    def test_pings_stop_while_the_loop_is_blocked(self):
        """A loop that does not turn does not ping. Here the daemon blocks for real, in a
        write to its log: stderr is a pipe the test stops reading (a journal that no
        longer takes the stream), and the reload's log line fills it. The pings come back
        when the pipe is drained."""
        rfd, wfd = os.pipe2(os.O_CLOEXEC)
        fcntl.fcntl(wfd, 1031, 4096)  # F_SETPIPE_SZ: one page, so little text fills it
        log = []
        gate = threading.Lock()     # held by the reader while it may read
        paused = [False]

        def drain():
            while True:
                with gate:
                    if not paused[0] and select.select([rfd], [], [], 0.1)[0]:
                        chunk = os.read(rfd, 65536)
                        if not chunk:
                            return
                        log.append(chunk)
                if paused[0]:
                    time.sleep(0.05)

        # Only the daemon holds the write end, so the pipe ends when it does.
        conf = self.config("[daemon]\ninterval = 0.1\n[rule one]\npid = 1\n")
        empty_db = os.path.join(self.tmp, "leakwatch.db")
        p = subprocess.Popen([DAEMON, "--config", conf, "--db", empty_db, "--runtime-dir", self.tmp],
                             stdout=wfd, stderr=wfd,
                             env=self.notify.env())
        self.procs.append(p)
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        self.notify.wait("WATCHDOG", "1", since=self.notify.wait("READY", "1"), n=2)
        # Fill the pipe through a descriptor of our own that does not block, while the
        # reader waits: the daemon's next log line then blocks it.
        with gate:
            paused[0] = True
        filler = os.open("/proc/self/fd/%d" % wfd, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.close(wfd)
        # Large writes first, then single bytes: a write of up to a page is all or
        # nothing, and the daemon's line must not fit in what a large one left.
        for size in (512, 1):
            try:
                while True:
                    os.write(filler, b"x" * size)
            except BlockingIOError:
                pass
        os.close(filler)
        mark = len(self.notify.fields())
        p.send_signal(signal.SIGHUP)
        self.notify.wait("RELOADING", "1", since=mark)
        # The reload is now stuck writing "configuration reloaded".
        mark = self.assert_quiet("the loop was blocked in a write")
        self.assertEqual(self.notify.count("READY", since=mark), 0)
        with gate:
            paused[0] = False
        self.notify.wait("WATCHDOG", "1", since=self.notify.wait("READY", "1", since=mark))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(WAIT), 0)
        reader.join(WAIT)
        os.close(rfd)
        self.assertIn(b"configuration reloaded", b"".join(log))


# ---- installation ----

SYSTEM_PYTHON = "/usr/bin/python3"


def expected_files(prefix="/usr/local"):
    """What make install must write, with modes: from the source tree, the optional
    parts (the client, man pages, example hooks) only where they exist."""
    pc = lambda var: subprocess.run(["pkg-config", "--variable=" + var, "systemd"], capture_output=True,
                                    text=True).stdout.strip()
    files = {
        prefix + "/sbin/leakwatchd": 0o755,
        pc("systemdsystemunitdir") + "/leakwatchd.service": 0o644,
        pc("systemdsystemunitdir") + "/leakwatch-metrics.socket": 0o644,
        pc("sysusersdir") + "/leakwatch.conf": 0o644,
        pc("tmpfilesdir") + "/leakwatch.conf": 0o644,
        "/etc/leakwatch/leakwatch.conf": 0o644,
        prefix + "/share/leakwatch/leakwatch.conf": 0o644,
        prefix + "/share/leakwatch/metrics-listen.conf": 0o644,
        prefix + "/share/leakwatch/prometheus/alerts.yml": 0o644,
        prefix + "/share/leakwatch/grafana/leakwatch.json": 0o644,
    }
    if os.path.exists(os.path.join(ROOT, "client", "main.c")):
        files[prefix + "/bin/leakwatch"] = 0o755
        files[prefix + "/share/bash-completion/completions/leakwatch"] = 0o644
        files[prefix + "/share/zsh/vendor-completions/_leakwatch"] = 0o644
    for name in os.listdir(os.path.join(ROOT, "man")):
        section = name.rsplit(".", 1)[-1]
        if section in ("1", "5", "8"):
            files["%s/share/man/man%s/%s" % (prefix, section, name)] = 0o644
    # The in-process agents (docs/agents.md), the Python ones compiled by the system's
    # Python, not by whichever python3 comes first on PATH.
    files[prefix + "/lib/leakwatch/libleakwatch-probe.so"] = 0o644
    tag = ""
    if os.access(SYSTEM_PYTHON, os.X_OK):
        tag = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.implementation.cache_tag)"],
                             capture_output=True, text=True).stdout.strip()
    for name in ("leakwatch_agent", "sitecustomize"):
        files["%s/lib/leakwatch/python/%s.py" % (prefix, name)] = 0o644
        if tag:
            files["%s/lib/leakwatch/python/__pycache__/%s.%s.pyc" % (prefix, name, tag)] = 0o644
    hooks = os.path.join(ROOT, "hooks")
    if os.path.isdir(hooks):
        for name in os.listdir(hooks):
            path = os.path.join(hooks, name)
            if os.path.isfile(path) and not name.endswith("~") and not name.startswith("."):
                files[prefix + "/share/leakwatch/hooks/" + name] = 0o755 if os.access(path, os.X_OK) else 0o644
    return files


def tree(root):
    """{path: mode} of every file below root, paths as if root were /."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            out["/" + os.path.relpath(p, root)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


def unit_value(unit, key):
    with open(unit) as f:
        return [line.split("=", 1)[1].strip() for line in f if line.startswith(key + "=")]


@unittest.skipUnless(have("make", "pkg-config") and
                     subprocess.run(["pkg-config", "--exists", "systemd"]).returncode == 0,
                     "needs make and systemd's pkg-config file (package systemd)")
class TestInstall(Case):
    def install(self, *args):
        r = make("install", "DESTDIR=" + self.dest, *args)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def setUp(self):
        super().setUp()
        self.dest = os.path.join(self.tmp, "dest")

    def tearDown(self):
        # The unit in the build directory follows the last PREFIX: put the default back.
        make(os.path.join(private_build(), "leakwatchd.service"))
        super().tearDown()

    def test_install_file_by_file_and_uninstall(self):
        self.install()
        expected = expected_files()
        got = tree(self.dest)
        self.assertEqual(sorted(got), sorted(expected), "installed files")
        for path, mode in expected.items():
            self.assertEqual(got[path], mode, "mode of %s is %o" % (path, got[path]))
        self.assertTrue(os.path.isdir(self.dest + "/etc/leakwatch/conf.d"))
        with open(os.path.join(ROOT, "systemd", "leakwatch.conf"), "rb") as f:
            shipped = f.read()
        with open(self.dest + "/etc/leakwatch/leakwatch.conf", "rb") as f:
            self.assertEqual(f.read(), shipped)
        self.assertEqual(unit_value(self.dest + [p for p in expected if p.endswith(".service")][0],
                                    "ExecStart"), ["/usr/local/sbin/leakwatchd"])

        # The administrator's configuration survives a second install and an uninstall.
        with open(self.dest + "/etc/leakwatch/leakwatch.conf", "ab") as f:
            f.write(b"[rule mine]\nname = mine\n")
        self.install()
        with open(self.dest + "/etc/leakwatch/leakwatch.conf", "rb") as f:
            self.assertTrue(f.read().endswith(b"name = mine\n"))
        r = make("uninstall", "DESTDIR=" + self.dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(sorted(tree(self.dest)), ["/etc/leakwatch/leakwatch.conf"])
        self.assertFalse(os.path.exists(self.dest + "/usr/local/share/leakwatch"))

        # An unchanged default goes with the rest, and so do its directories.
        os.unlink(self.dest + "/etc/leakwatch/leakwatch.conf")
        self.install()
        r = make("uninstall", "DESTDIR=" + self.dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(tree(self.dest), {})
        self.assertFalse(os.path.exists(self.dest + "/etc/leakwatch"))

    @unittest.skipUnless(os.access(SYSTEM_PYTHON, os.X_OK), "needs the system's python3 (package python3)")
    def test_bytecode_from_the_system_python(self):
        """The agent's bytecode is compiled by the system's Python, not by a python3 that
        comes first on PATH (here one that records that it ran and fails); PYTHON3=
        installs none."""
        shadow = os.path.join(self.tmp, "bin")
        os.mkdir(shadow)
        ran = os.path.join(self.tmp, "shadow-ran")
        with open(os.path.join(shadow, "python3"), "w") as f:
            f.write("#!/bin/sh\ntouch '%s'\nexit 1\n" % ran)
        os.chmod(os.path.join(shadow, "python3"), 0o755)
        r = make("install", "DESTDIR=" + self.dest, env=dict(os.environ, PATH=shadow + ":" + os.environ["PATH"]))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertFalse(os.path.exists(ran), "make install ran the python3 first on PATH")
        pyc = sorted(p for p in tree(self.dest) if p.endswith(".pyc"))
        self.assertEqual(pyc, sorted(p for p in expected_files() if p.endswith(".pyc")))
        self.assertTrue(pyc)
        shutil.rmtree(self.dest)
        self.install("PYTHON3=")
        self.assertEqual([p for p in tree(self.dest) if "__pycache__" in p], [])

    @unittest.skipUnless(os.geteuid() == 0 and have("setpriv"), "needs root and setpriv to be another user too")
    def test_make_run_is_root_without_sudo_and_a_user_through_it(self):
        """The README's first command ends in make run: run by root it starts the daemon
        directly (a root without sudo can run it), by a user through sudo; either way at
        the defaults the client reads."""
        argv = ["make", "-n", "--no-print-directory", "-C", ROOT, "BUILD=/nonexistent-build", "run"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.stdout.splitlines()[-2:], ["install -d -m 0750 /var/lib/leakwatch",
                                                      "/nonexistent-build/leakwatchd"], r.stdout + r.stderr)
        r = subprocess.run(setpriv([]) + argv, capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.stdout.splitlines()[-2:], ["sudo install -d -m 0750 /var/lib/leakwatch",
                                                      "sudo /nonexistent-build/leakwatchd"], r.stdout + r.stderr)

    def test_prefix_reaches_the_unit(self):
        self.install("PREFIX=/usr")
        units = [p for p in expected_files("/usr") if p.endswith(".service")]
        self.assertEqual(unit_value(self.dest + units[0], "ExecStart"), ["/usr/sbin/leakwatchd"])
        self.assertEqual(unit_value(self.dest + units[0], "ExecReload"),
                         ["/usr/sbin/leakwatchd --check-config", "/bin/kill -HUP $MAINPID"])
        self.assertTrue(os.access(self.dest + "/usr/sbin/leakwatchd", os.X_OK))
        r = make("install", "DESTDIR=" + self.dest, "PREFIX=/opt/leak watch")
        self.assertNotEqual(r.returncode, 0, "a blank in the path would split ExecStart")


class TestManPages(unittest.TestCase):
    """Every man page renders without a warning."""

    def pages(self):
        man = os.path.join(ROOT, "man")
        pages = sorted(os.path.join(man, n) for n in os.listdir(man) if n.rsplit(".", 1)[-1] in ("1", "5", "8"))
        self.assertIn(os.path.join(man, "leakwatchd.8"), pages)
        return pages

    @unittest.skipUnless(have("mandoc"), "needs mandoc")
    def test_mandoc_lint(self):
        for page in self.pages():
            r = subprocess.run(["mandoc", "-Tlint", "-Wwarning", page], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""), page)

    @unittest.skipUnless(have("groff"), "needs groff")
    def test_groff_warnings(self):
        for page in self.pages():
            r = subprocess.run(["groff", "-ww", "-z", "-man", "-Tutf8", page], capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)


def unit_path(dest):
    return dest + [p for p in expected_files() if p.endswith(".service")][0]


def mount_ns():
    """The command prefix for a private mount namespace, or None: as root a plain one,
    otherwise one inside a user namespace where we are root."""
    if not shutil.which("unshare"):
        return None
    for cmd in (["unshare", "--mount", "--propagation", "private"],
                ["unshare", "--map-root-user", "--mount", "--propagation", "private"]):
        if subprocess.run(cmd + ["true"], capture_output=True).returncode == 0:
            return cmd
    return None


@unittest.skipUnless(have("systemd-analyze", "make", "pkg-config"), "needs systemd-analyze (package systemd)")
class TestAnalyze(Case):
    def setUp(self):
        super().setUp()
        self.dest = os.path.join(self.tmp, "dest")
        r = make("install", "DESTDIR=" + self.dest)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_verify_installed_unit(self):
        """systemd-analyze verify of the installed unit prints nothing: it reports unknown
        settings as warnings, so any output fails. The installed tree is mounted over
        /usr/local in a private mount namespace, so ExecStart= names an existing binary
        and the Documentation= man pages are looked up among the installed ones."""
        ns = mount_ns()
        if ns is None:
            self.skipTest("cannot make a private mount namespace (unshare) here")
        if not shutil.which("man"):
            self.skipTest("verify checks Documentation= with man (package man-db)")
        script = 'mount --bind "$1/usr/local" /usr/local && MANPATH="$1/usr/local/share/man" ' \
                 'exec systemd-analyze verify "$2"'
        r = subprocess.run(ns + ["sh", "-c", script, "sh", self.dest, unit_path(self.dest)],
                           capture_output=True, text=True, timeout=WAIT)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_verify_notices_a_broken_unit(self):
        """The check above can fail: an unknown setting (Type=notify-reload, which 252
        lacks, is one) makes verify speak."""
        unit = unit_path(self.dest)
        broken = os.path.join(self.tmp, "leakwatchd.service")
        with open(unit) as f, open(broken, "w") as g:
            g.write(f.read().replace("Type=notify\n", "Type=notify\nNoSuchSetting=yes\n"))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", broken], capture_output=True, text=True,
                           timeout=WAIT)
        self.assertIn("NoSuchSetting", r.stdout + r.stderr)

    def test_security_score(self):
        """systemd-analyze security --offline=yes rates the unit 2.5 or lower ("OK" or
        better); every exposure left is explained in docs/systemd.md."""
        unit = unit_path(self.dest)
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes", unit], capture_output=True,
                           text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"Overall exposure level for leakwatchd\.service: (\d+\.\d) (\w+)", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        score = float(m.group(1))
        print("\n    systemd-analyze security: %s %s" % (m.group(1), m.group(2)), end=" ")
        self.assertLessEqual(score, 2.5, r.stdout)
        with open(os.path.join(ROOT, "docs", "systemd.md")) as f:
            doc = f.read().replace("\\|", "|")  # a '|' in a Markdown table is escaped
        self.assertIn("%.1f" % score, doc, "docs/systemd.md records the score")
        exposed = [line.split()[1] for line in r.stdout.splitlines() if line.startswith("\u2717")]
        self.assertTrue(exposed)
        for name in exposed:
            self.assertIn(name, doc, "docs/systemd.md must say why %s is left" % name)

    @unittest.skipUnless(os.geteuid() == 0 and have("systemd-sysusers", "systemd-tmpfiles"),
                         "needs root and systemd-sysusers, systemd-tmpfiles")
    def test_sysusers_and_tmpfiles(self):
        """The installed sysusers file makes a system user and group leakwatch with no
        login shell; the tmpfiles file then makes the state directory theirs, 0750."""
        for f in ("passwd", "group", "shadow", "gshadow"):
            os.makedirs(self.dest + "/etc", exist_ok=True)
            open(self.dest + "/etc/" + f, "a").close()
        r = subprocess.run(["systemd-sysusers", "--root=" + self.dest], capture_output=True, text=True,
                           timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.dest + "/etc/passwd") as f:
            users = {l.split(":")[0]: l.rstrip("\n").split(":") for l in f}
        with open(self.dest + "/etc/group") as f:
            groups = {l.split(":")[0]: l.split(":") for l in f}
        u = users["leakwatch"]
        uid, gid = int(u[2]), int(u[3])
        sysmax = int(subprocess.run(["pkg-config", "--variable=system_uid_max", "systemd"], capture_output=True,
                                    text=True).stdout.strip() or 999)
        self.assertTrue(0 < uid <= sysmax, u)
        self.assertEqual(int(groups["leakwatch"][2]), gid)
        self.assertEqual(u[5], "/var/lib/leakwatch")
        self.assertTrue(u[6].endswith("nologin"), u)
        r = subprocess.run(["systemd-tmpfiles", "--root=" + self.dest, "--create"], capture_output=True, text=True,
                           timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        st = os.stat(self.dest + "/var/lib/leakwatch")
        self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (uid, gid, 0o750))
        st = os.stat(self.dest + "/etc/leakwatch/conf.d")
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o755))


# ---- what the sandbox allows ----

def unit_caps():
    """The capabilities the unit grants (ambient and bounding set must agree)."""
    unit = os.path.join(ROOT, "systemd", "leakwatchd.service.in")
    amb = unit_value(unit, "AmbientCapabilities")
    bnd = unit_value(unit, "CapabilityBoundingSet")
    assert amb == bnd and len(amb) == 1, (amb, bnd)
    return [c.lower()[len("cap_"):] for c in amb[0].split()]


def setpriv(caps):
    """The command prefix that runs a program as UID:GID with exactly these capabilities
    (ambient, so they survive exec as they do under systemd) and no way to gain more."""
    c = ",".join(["-all"] + ["+" + x for x in caps])
    return ["setpriv", "--reuid", str(UID), "--regid", str(GID), "--clear-groups", "--inh-caps=" + c,
            "--ambient-caps=" + c, "--bounding-set=" + c, "--no-new-privs"]


@unittest.skipUnless(os.geteuid() == 0 and have("setpriv"), "needs root and setpriv to drop privileges")
class TestCapabilities(Case):
    """The unit's two lasting capabilities are all the daemon needs to read a root
    process, and each is needed: this is the justification the unit's comment gives.
    The three it holds at start (CAP_BPF, CAP_PERFMON to load the BPF task iterator,
    CAP_SETPCAP to drop them) are gone before the first tick."""

    def watch_root_process(self, caps):
        os.chown(self.tmp, UID, GID)
        w = self.alloc("--steps", 1, "--step-kib", 8192, "--hold-ms", 60000)
        conf = os.path.join(self.tmp, "c.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\nsmaps-every = 1\nsmaps-min-interval = 0.1\nsmaps-max-interval = 0.1\n"
                    "smaps-budget = 100%\n")
        d = self.daemon("--config", conf, "--pid", w.pid, wrap=setpriv(caps))
        wait_for(lambda: len(samples(d.db, w.pid)) > 5, what="samples")
        with open("/proc/%d/status" % d.pid) as f:
            eff = [l.split()[1] for l in f if l.startswith("CapEff:")][0]
        self.assertEqual(d.stop(), 0, d.output())
        rows = raw_rows(d.db, ("rss", "anon", "threads", "minflt", "fds", "pss", "uss", "heap_size", "unknown"),
                        w.pid)
        self.output = d.output()
        return int(eff, 16), rows

    def test_with_the_units_capabilities_everything_is_read(self):
        """Nothing is unknown for want of permission: status, stat and the descriptor
        count every time, smaps_rollup whenever it is due. (The heap record may be
        absent: a workload built with a sanitizer allocates without brk.)"""
        caps = unit_caps()
        self.assertEqual(sorted(caps), ["bpf", "dac_read_search", "perfmon", "setpcap", "sys_ptrace"])
        eff, rows = self.watch_root_process(caps)
        # CAP_DAC_READ_SEARCH is 2, CAP_SYS_PTRACE 19: the load's three are dropped.
        self.assertEqual(eff, (1 << 2) | (1 << 19), "the daemon runs with exactly these capabilities")
        self.assertIn("sampler: bpf", self.output, "the unit's capabilities load the BPF task iterator")
        self.assertTrue(rows)
        for r in rows:
            self.assertTrue(all(v is not None for v in r[:5]), r)
            self.assertNotIn(UNK_DENIED, [reason(r[8], g) for g in range(5)], r)
            self.assertIn(reason(r[8], G_SMAPS), (0, 7), r)
        read = [r for r in rows if r[5] is not None]
        self.assertTrue(read, "smaps_rollup was read")
        self.assertTrue(all(r[5] > 0 and r[6] > 0 for r in read), read)

    def test_without_them_values_are_unknown_for_permission(self):
        eff, rows = self.watch_root_process([])
        self.assertEqual(eff, 0)
        for r in rows:
            self.assertTrue(all(v is not None for v in r[:4]), "status and stat need no capability")
            self.assertIsNone(r[5], "pss needs CAP_SYS_PTRACE")
            self.assertIn(reason(r[8], G_SMAPS), (UNK_DENIED, 7), r)
            # Linux 6.2 and later report the descriptor count as the fd directory's
            # size, which anyone may stat; earlier kernels make us list it.
            self.assertTrue(r[4] is not None or reason(r[8], G_FDS) == UNK_DENIED, r)
        self.assertTrue(any(reason(r[8], G_SMAPS) == UNK_DENIED for r in rows), rows[:3])

    def test_listing_descriptors_needs_dac_read_search(self):
        """On kernels before 6.2 (Debian 12 ships 6.1) the count comes from listing
        /proc/PID/fd, which for another user's process takes CAP_DAC_READ_SEARCH."""
        w = self.spawn(["sleep", "60"])
        ls = ["ls", "/proc/%d/fd" % w.pid]
        r = subprocess.run(setpriv([]) + ls, capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied", r.stderr)
        r = subprocess.run(setpriv(["dac_read_search"]) + ls, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run(setpriv(["sys_ptrace"]) + ["cat", "/proc/%d/smaps_rollup" % w.pid], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Pss:", r.stdout)


def syscall_sets():
    """{"@name": set of members} from systemd-analyze, nested sets left as "@name"."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True).stdout
    sets, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = sets.setdefault(line.strip(), set())
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.add(line.strip())
        elif not line.strip():
            cur = None
    return sets


def expand(sets, names):
    out = set()
    for n in names:
        out |= expand(sets, sets[n]) if n.startswith("@") else {n}
    return out


def unit_filter():
    """The system calls the unit's SystemCallFilter= lines allow. systemd adds @default to
    an allow list; in the order of the lines, a "~" line takes its sets away again and a
    later plain line gives its calls back."""
    lines = unit_value(os.path.join(ROOT, "systemd", "leakwatchd.service.in"), "SystemCallFilter")
    sets = syscall_sets()
    allowed = expand(sets, ["@default"])
    for line in lines:
        if line.startswith("~"):
            allowed -= expand(sets, line[1:].split())
        else:
            allowed |= expand(sets, line.split())
    return allowed


# Calls the filter refuses (with EPERM, SystemCallErrorNumber=) that leakwatchd makes
# and does without, each with the reason; docs/systemd.md lists them too.
REFUSED_AND_HARMLESS = {
    # libproc2 dlopen()s libnuma, whose constructor probes for a memory policy mode;
    # refused, libnuma assumes the mode is missing, which nothing of ours uses.
    "set_mempolicy",
}

UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"


def seccomp_preexec(allowed):
    """A preexec_fn that confines the child to `allowed` (names) as systemd would: other
    calls fail with EPERM, other architectures are killed. x86-64 only."""
    import ctypes
    nrs = {}
    with open(UNISTD) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+) (\d+)$", line.strip())
            if m:
                nrs[m.group(1)] = int(m.group(2))
    ld_abs, jeq, ret = 0x20, 0x15, 0x06
    allow, kill, eperm = 0x7FFF0000, 0x80000000, 0x00050000 | errno.EPERM
    insns = [(ld_abs, 0, 0, 4), (jeq, 1, 0, 0xC000003E), (ret, 0, 0, kill), (ld_abs, 0, 0, 0)]
    for nr in sorted(nrs[n] for n in allowed if n in nrs):
        insns += [(jeq, 0, 1, nr), (ret, 0, 0, allow)]
    insns.append((ret, 0, 0, eperm))
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Fprog(len(insns), ctypes.cast(code, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec():
        prog, code  # kept alive until the exec
        # PR_SET_NO_NEW_PRIVS (38), then PR_SET_SECCOMP (22) with SECCOMP_MODE_FILTER (2).
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")
    return preexec


def syscall_config(tmp, pid):
    conf = os.path.join(tmp, "s.conf")
    with open(conf, "w") as f:
        # A cmdline and a unit rule make every scan read every process's command line
        # and cgroup; strace slows each call, hence a scan only every second.
        f.write("[daemon]\ninterval = 0.1\nscan-interval = 1\ncommit-interval = 0.2\nsmaps-every = 1\n"
                "smaps-min-interval = 0.1\nsmaps-max-interval = 0.1\nsmaps-budget = 100%%\n[rule one]\npid = %d\n[rule none]\ncmdline = ^/nonexistent/\n"
                "unit = nothing.service\n" % pid)
    return conf


@unittest.skipUnless(have("systemd-analyze"), "needs systemd-analyze")
class TestSyscallFilter(Case):
    def setUp(self):
        super().setUp()
        if sanitized():
            self.skipTest("a sanitizer build makes system calls of its own; the installed build does not")

    @unittest.skipUnless(have("strace"), "needs strace")
    def test_daemon_stays_inside_the_filter(self):
        """Every system call leakwatchd makes while it starts, samples (smaps too), scans,
        reloads and stops is one the unit's filter allows, or one it does without. As
        root the daemon runs as an unprivileged user with the unit's capabilities, as it
        does under systemd (SQLite, for one, calls fchown() only when it is root)."""
        allowed = unit_filter()
        trace = os.path.join(self.tmp, "strace.out")
        w = self.alloc("--steps", 1, "--hold-ms", 60000)
        wrap = ["strace", "-f", "-qq", "-o", trace]
        if os.geteuid() == 0 and have("setpriv"):
            os.chown(self.tmp, UID, GID)
            wrap = setpriv(unit_caps()) + wrap
        d = self.daemon("--config", syscall_config(self.tmp, w.pid), wrap=wrap,
                        env=dict(os.environ, WATCHDOG_USEC="1000000", NOTIFY_SOCKET=os.path.join(self.tmp, "none")))
        wait_for(lambda: len(samples(d.db, w.pid)) > 5, what="samples under strace")
        # The daemon is strace's child: signals go to it, and strace exits with its status.
        with open("/proc/%d/task/%d/children" % (d.pid, d.pid)) as f:
            daemon_pid = int(f.read().split()[0])
        os.kill(daemon_pid, signal.SIGHUP)
        d.wait_log("configuration reloaded")
        os.kill(daemon_pid, signal.SIGTERM)
        self.assertEqual(d.proc.wait(WAIT), 0, d.output())
        used = set()
        with open(trace) as f:
            for line in f:
                m = re.match(r"\d+\s+([a-z0-9_]+)\(", line)
                if m:
                    used.add(m.group(1))
        self.assertIn("openat", used, "strace saw the daemon's calls")
        self.assertEqual(sorted(used - allowed - REFUSED_AND_HARMLESS), [],
                         "system calls the unit's filter would refuse")
        with open(os.path.join(ROOT, "docs", "systemd.md")) as f:
            doc = f.read()
        for name in REFUSED_AND_HARMLESS:
            self.assertIn(name, doc)

    @unittest.skipUnless(os.path.exists(UNISTD) and os.uname().machine == "x86_64",
                         "needs x86-64 and its system call numbers (linux-libc-dev)")
    def test_daemon_works_under_the_filter(self):
        """The daemon under a seccomp filter built from the unit's SystemCallFilter=
        (refused calls fail with EPERM, as SystemCallErrorNumber= says) samples, reads
        smaps, reloads and exits 0."""
        w = self.alloc("--steps", 1, "--hold-ms", 60000)
        d = self.daemon("--config", syscall_config(self.tmp, w.pid), preexec=seccomp_preexec(unit_filter()))
        wait_for(lambda: len(samples(d.db, w.pid)) > 5, what="samples under the filter")
        d.signal(signal.SIGHUP)
        d.wait_log("configuration reloaded")
        n = len(samples(d.db, w.pid))
        wait_for(lambda: len(samples(d.db, w.pid)) > n + 3, what="samples after the reload")
        self.assertEqual(d.stop(), 0, d.output())
        self.assertTrue([v for _, v in samples(d.db, w.pid, "pss") if v], "smaps_rollup was read")
        self.assertNotIn("not permitted", d.output())


# ---- the journal ----

def parse_native(data):
    """Fields of one journal native-protocol datagram: KEY=value lines, or KEY, a 64-bit
    little-endian length and the value for values holding a newline."""
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            fields[k.decode()] = v.decode()
            i = nl + 1
        else:
            n = struct.unpack("<Q", data[nl + 1:nl + 9])[0]
            fields[line.decode()] = data[nl + 9:nl + 9 + n].decode()
            i = nl + 9 + n + 1
    return fields


@unittest.skipUnless(os.path.isdir("/run/systemd") and mount_ns() is not None,
                     "needs /run/systemd and a private mount namespace (unshare)")
class TestJournal(Case):
    """leakwatchd writes to the journal when $JOURNAL_STREAM names its stderr, as systemd
    sets it. Without a journald here, the daemon runs in a mount namespace where
    /run/systemd is a directory of the test's, holding a socket that stands in for
    journald's: every record sent to the journal arrives there."""

    def run_daemon(self, journal_stream):
        run = os.path.join(self.tmp, "run-systemd")
        os.makedirs(os.path.join(run, "journal"))
        got = []
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(os.path.join(run, "journal", "socket"))
        sock.settimeout(0.1)
        conf = os.path.join(self.tmp, "j.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\n[rule one]\npid = 1\n")
        logpath = os.path.join(self.tmp, "stderr")
        with open(logpath, "wb") as log:
            st = os.fstat(log.fileno())
            env = dict(os.environ)
            env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino) if journal_stream else "0:0"
            script = 'mount --bind "$1" /run/systemd && shift && exec "$@"'
            p = subprocess.Popen(mount_ns() + ["sh", "-c", script, "sh", run, DAEMON, "--config", conf, "--db",
                                               os.path.join(self.tmp, "j.db"), "--runtime-dir", self.tmp],
                                 stdout=log, stderr=log, env=env)
        self.procs.append(p)

        def started():
            with open(logpath, "rb") as f:
                return b"watching with" in f.read() or any("watching with" in g.get("MESSAGE", "") for g in got)

        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not started():
            try:
                got.append(parse_native(sock.recv(65536)))
            except socket.timeout:
                pass
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(WAIT), 0)
        while True:
            try:
                got.append(parse_native(sock.recv(65536)))
            except socket.timeout:
                break
        sock.close()
        with open(logpath, "rb") as f:
            return got, f.read().decode()

    def test_structured_records_when_stderr_is_the_journal(self):
        got, text = self.run_daemon(journal_stream=True)
        msgs = [g["MESSAGE"] for g in got]
        self.assertTrue(any(m.startswith("watching with 1 rule,") for m in msgs), got)
        self.assertTrue(any(m.startswith("received Terminated") for m in msgs), got)
        for g in got:
            self.assertEqual(g["SYSLOG_IDENTIFIER"], "leakwatchd")
            self.assertIn(g["PRIORITY"], "01234567")
        self.assertEqual([g["PRIORITY"] for g in got if g["MESSAGE"].startswith("watching with")], ["6"])
        self.assertEqual(text, "", "nothing goes to stderr when the journal takes it")

    def test_stderr_when_journal_stream_names_another_file(self):
        got, text = self.run_daemon(journal_stream=False)
        self.assertEqual(got, [])
        self.assertIn("leakwatchd: watching with 1 rule,", text)


if __name__ == "__main__":
    unittest.main()
