# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for leakwatch's integration tests: start the real daemon and real workloads,
wait for what they store, and clean up every process by PID."""

import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import lwblock

BUILD = os.path.abspath(os.environ.get("BUILD", "build"))
DAEMON = os.path.join(BUILD, "leakwatchd")
CLIENT = os.path.join(BUILD, "leakwatch")
ALLOC = os.path.join(BUILD, "tests", "workloads", "alloc")
MIB = 1024 * 1024

# Generous upper bounds for waits: a slow, loaded CI machine must not fail a test; a
# broken daemon still fails it, only later.
WAIT = 60


class Daemon:
    """A leakwatchd process with its own database and log file."""

    def __init__(self, tmp, args, env=None, preexec=None, db=None, wrap=()):
        self.tmp = tmp
        self.db = db or os.path.join(tmp, "leakwatch.db")
        self.log_path = os.path.join(tmp, "daemon-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "wb")
        argv = [DAEMON, "--db", self.db]
        if "--config" not in args:
            # An explicit, empty configuration keeps the host's /etc out of the test.
            empty = os.path.join(tmp, "empty.conf")
            open(empty, "w").close()
            argv += ["--config", empty]
        if "--runtime-dir" not in args:
            # Its own runtime directory: the control socket of one test's daemon must not
            # replace another's (or the host's).
            argv += ["--runtime-dir", tmp]
        argv += [str(a) for a in args]
        # wrap: a command to run the daemon under, e.g. setpriv to drop privileges.
        self.argv = list(wrap) + argv
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, preexec_fn=preexec)

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=WAIT):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("leakwatchd did not exit on SIGTERM:\n" + self.output())
        self.log.close()
        return self.proc.returncode

    def wait_log(self, text, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if not self.alive():
                break
            time.sleep(0.05)
        raise AssertionError("no %r in the daemon's output:\n%s" % (text, self.output()))


def control(runtime_dir, request, raw=None):
    """One request on the daemon's control socket; returns the decoded reply."""
    import json
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(WAIT)
        s.connect(os.path.join(runtime_dir, "control"))
        s.send(raw if raw is not None else json.dumps(request).encode())
        return json.loads(s.recv(65536).decode())


def query(db, sql, args=()):
    """Runs a read-only query on the database while the daemon may be writing. A query
    that names sample_recent reads the recent samples' batches decoded into a table of
    that name (lwblock.unbatch), in the same snapshot."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        if "sample_recent" not in sql:
            return con.execute(sql, args).fetchall()
        con.execute("BEGIN")
        lwblock.unbatch(con)
        rows = con.execute(sql, args).fetchall()
        con.execute("COMMIT")
        return rows
    finally:
        con.close()


def wait_for(fn, timeout=WAIT, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except sqlite3.OperationalError as e:
            last = e  # not created yet, or busy: try again
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def raw_rows(db, cols, pid=None, process_id=None):
    """Every raw sample stored, folded (the blocks of sample_block, decoded by lwblock
    without the daemon's code) and recent, as tuples of cols (process_id, t, metric
    columns in KiB, unknown), in time order; only those of the process with that pid
    when given, or of the process row process_id. Read in one snapshot."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        con.execute("BEGIN")
        ids = None if process_id is None else [process_id]
        if pid is not None:
            ids = [r[0] for r in con.execute("SELECT id FROM process WHERE pid = ?", (pid,))]
        where = "1" if ids is None else "process_id IN (%s)" % ",".join(str(i) for i in ids or [0])
        rows = lwblock.folded(con, where)
        rows += [r for r in lwblock.recent(con) if ids is None or r["process_id"] in ids]
        con.execute("COMMIT")
    finally:
        con.close()
    rows.sort(key=lambda r: (r["t"], r["process_id"]))
    return [tuple(r[c] for c in cols) for r in rows]


def samples(db, pid, column="rss"):
    """(t, value) of a process's raw samples, both tables, in time order."""
    return raw_rows(db, ("t", column), pid)


def sanitized():
    """Whether the daemon under test is a sanitizer build (make check-asan)."""
    with open(DAEMON, "rb") as f:
        return b"__asan_init" in f.read()


def root_tier_skip(case, reason):
    """Skips a test that needs root (or what only root can make: mounts, namespaces,
    other users) and cannot run here. Run as root, such a test may not skip: whatever
    stops it is a failure of the machine or of the test, so it fails, saying why. The
    runners also fail a root run whose output holds a "SKIP: root-tier" line."""
    if os.geteuid() == 0:
        case.fail("root-tier test cannot run as root: " + reason)
    case.skipTest("root-tier: " + reason)


def require_root(case, what):
    """Skips (as a root-tier test) unless running as root."""
    if os.geteuid() != 0:
        case.skipTest("root-tier: needs root to " + what)


def mount_tmpfs(case, path, size):
    """Mounts a tmpfs of size ("2m") at path, made if missing: a disk that fills up.
    Case.tearDown unmounts it once the processes that use it are gone. Needs root; a
    root-tier skip when it cannot be done."""
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path], capture_output=True, text=True)
    if r.returncode != 0:
        root_tier_skip(case, "cannot mount a tmpfs here: " + r.stderr.strip())
    case.mounts.append(path)


class SampleReader(threading.Thread):
    """A client polling the database all along, as someone looking at it would: records
    every (process_id, t) of the recent samples it saw committed, and how many of its reads
    failed. It asks for what is newer than what it saw, with a little overlap: ticks
    commit in time order. Processes from max_process_id up are left out."""

    def __init__(self, db, max_process_id=2 ** 62, every=0.02):
        super().__init__(daemon=True)
        self.db = db
        self.max_process_id = max_process_id
        self.every = every
        self.seen = set()
        self.last_t = 0
        self.polls = 0
        self.failures = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=2)
                try:
                    since = self.last_t - 200
                    rows = [(r["process_id"], r["t"]) for r in lwblock.recent(con, since)
                            if r["t"] >= since and r["process_id"] < self.max_process_id]
                finally:
                    con.close()
                self.seen.update(rows)
                self.last_t = max([self.last_t] + [t for _, t in rows])
                self.polls += 1
            except sqlite3.Error:
                self.failures += 1      # no database yet, busy, or broken under it
            time.sleep(self.every)

    def finish(self):
        self.halt.set()
        self.join()


def path_trusted(path):
    """Whether leakwatchd would run a hook under path: every directory from / down owned
    by root or us, writable by no one else (sticky or not), none a symbolic link."""
    parts = [p for p in path.split("/") if p]
    cur = "/"
    for p in [""] + parts:
        cur = os.path.join(cur, p) if p else "/"
        st = os.lstat(cur)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            return False
        if st.st_uid not in (0, os.geteuid()) or st.st_mode & 0o022:
            return False
    return True


class Case(unittest.TestCase):
    """A test case with a temp directory and cleanup of every process it started."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="leakwatch-it-")
        self.tmp = self._tmp.name
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.daemons = []
        self.mounts = []                # mount_tmpfs's

    def tearDown(self):
        for d in self.daemons:
            if d.alive():
                d.proc.kill()
                d.proc.wait()
            if not d.log.closed:
                d.log.close()
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for m in self.mounts:
            subprocess.run(["umount", "-l", m])
        self._tmp.cleanup()

    def hook_dir(self):
        """A new temporary directory hook programs may live in: leakwatchd refuses a hook
        under a directory others can write, /tmp included. /run as root, the user's
        runtime directory otherwise; removed after the test."""
        parents = ["/run"] if os.geteuid() == 0 else [os.environ.get("XDG_RUNTIME_DIR", "")]
        for parent in parents:
            if parent and os.access(parent, os.W_OK) and path_trusted(parent):
                d = tempfile.mkdtemp(prefix="leakwatch-hooks-", dir=parent)
                os.chmod(d, 0o755)
                self.addCleanup(shutil.rmtree, d, True)
                return d
        if os.geteuid() == 0:
            self.fail("/run is not a directory only root can change")
        self.skipTest("no directory only this user can change to put hooks in ($XDG_RUNTIME_DIR unset)")

    def daemon(self, *args, **kw):
        d = Daemon(self.tmp, list(args), **kw)
        self.daemons.append(d)
        return d

    def spawn(self, argv, **kw):
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def alloc(self, *args, **kw):
        return self.spawn([ALLOC] + [str(a) for a in args], **kw)
