# SPDX-License-Identifier: GPL-2.0-or-later
"""Floods and slow peers on leakwatchd's sockets, and a second daemon on its runtime
directory, as real processes against the real daemon.

The control socket, the agent socket and the metrics endpoint keep serving (every
request a client makes is answered within a bound) while hostile local processes hold
connections, trickle bytes and flood; sampling stays on schedule throughout (no gap
between a watched process's samples longer than twice the interval). A second daemon
on the same runtime directory refuses to start and leaves the first one's socket in
place; a missing runtime directory is made; one someone else owns is refused.

Each test prints its figures as "FIGURE name: value" lines; docs/adversarial.md
records them and what each test defends against."""

import json
import os
import pwd
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
import urllib.request

from lwtest import CLIENT, WAIT, Case, control, query, require_root, root_tier_skip, samples, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
# Debian's own interpreter, which another user may run (a per-user one may not be); the
# attackers that run as root make do with this one otherwise.
SYSTEM_PYTHON = "/usr/bin/python3"
PYTHON = SYSTEM_PYTHON if os.access(SYSTEM_PYTHON, os.X_OK) else sys.executable
INTERVAL = 0.5
# Sampling is on schedule if no two samples of the watched process are further apart
# than this (the tick schedule skips a missed tick rather than drifting).
GAP_MAX = 2 * INTERVAL
# What a client may wait for an answer while an attack goes on: far above the few
# milliseconds an answer takes, far below the 10 s a client or scraper waits.
ANSWER_MAX = 2.0
# The deadlines the daemon promises (control.h, http.h), and the slack a loaded machine
# may add to them.
CONTROL_DEADLINE = 10
HTTP_DEADLINE = 10
SLACK = 3


def figure(name, value):
    print("FIGURE %s: %s" % (name, value), file=sys.stderr, flush=True)


def marker(tag):
    """A command-line word no other test on this machine uses."""
    return "lwadv-%s-%d" % (tag, os.getpid())


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def listen_queue(port):
    """Connections waiting in the kernel's accept queue of the listener on port."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].split(":")[1], 16) == port:
                return int(cols[4].split(":")[1], 16)
    raise AssertionError("nothing listens on port %d" % port)


class SocketCase(Case):
    def setUp(self):
        super().setUp()
        # The attackers run from a copy anyone may read, whoever owns the checkout.
        self.helper = os.path.join(self.tmp, "sockattack.py")
        shutil.copy(os.path.join(HERE, "sockattack.py"), self.helper)
        os.chmod(self.helper, 0o644)
        self.mark = marker(self.id().rsplit(".", 1)[1][:20])
        self.target = self.alloc("--steps", 1, "--hold-ms", 600000, "--name", "lwadv-target", self.mark)

    def as_nobody(self):
        require_root(self, "attack as another user")
        if not shutil.which("setpriv"):
            root_tier_skip(self, "setpriv (util-linux) is not installed")
        if PYTHON != SYSTEM_PYTHON:
            root_tier_skip(self, "%s is missing: the attackers run as nobody with it" % SYSTEM_PYTHON)
        nb = pwd.getpwnam("nobody")
        return ["setpriv", "--reuid=%d" % nb.pw_uid, "--regid=%d" % nb.pw_gid, "--clear-groups"]

    def attack(self, *args, wrap=()):
        """Starts an attacker and waits until it holds what it set out to hold."""
        p = subprocess.Popen(list(wrap) + [PYTHON, self.helper] + [str(a) for a in args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        r, _, _ = select.select([p.stdout], [], [], WAIT)
        line = p.stdout.readline() if r else b""
        if line.strip() != b"ready":
            p.kill()
            _, err = p.communicate()
            raise AssertionError("attacker %s did not start: %r %s" % (args[0], line, err.decode()))
        return p

    def result(self, p):
        out, err = p.communicate(timeout=WAIT)
        self.assertEqual(p.returncode, 0, err.decode())
        return json.loads(out.decode().strip().splitlines()[-1])

    def status_latency(self):
        """`leakwatch status` against the daemon: the seconds it took to answer."""
        t = time.monotonic()
        r = subprocess.run([CLIENT, "--runtime-dir", self.tmp, "--db", self.db, "status"], capture_output=True,
                           text=True, timeout=WAIT)
        took = time.monotonic() - t
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("running, pid %d" % self.d.pid, r.stdout, r.stdout + r.stderr)
        return took

    def max_gap(self, t0, t1):
        """The longest time between samples of the watched process in [t0, t1]
        (wall-clock seconds), read after the daemon stopped and flushed."""
        ts = [t / 1000 for t, _ in samples(self.d.db, self.target.pid) if t0 - INTERVAL <= t / 1000 <= t1 + INTERVAL]
        self.assertGreater(len(ts), (t1 - t0) / INTERVAL / 2, "too few samples to judge the schedule")
        return max(b - a for a, b in zip(ts, ts[1:]))

    def start(self, *args, conf=""):
        path = os.path.join(self.tmp, "sockets.conf")
        with open(path, "w") as f:
            f.write("[daemon]\ninterval = %g\n" % INTERVAL + conf)
        self.d = self.daemon("--config", path, "--match", self.mark, *args)
        self.db = self.d.db
        self.d.wait_log("watching")
        wait_for(lambda: samples(self.db, self.target.pid), what="the first samples")
        return self.d


class TestControlSocket(SocketCase):
    def ask(self, sock, raw):
        """One raw request as the client makes it: a blocking connect that waits for
        room in the backlog (within its timeout), as `leakwatch` does."""
        tv = struct.pack("ll", WAIT, 0)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            s.connect(sock)
            s.send(raw)
            return json.loads(s.recv(65536).decode())

    def status_during(self, attackers):
        """`leakwatch status` every half second while the attackers run: latencies."""
        lat = []
        while any(p.poll() is None for p in attackers):
            lat.append(self.status_latency())
            time.sleep(0.5)
        return lat

    def test_holders_cannot_lock_out_status(self):
        """Connections re-sending a request every 2 s and reconnecting when closed:
        12 of them (fewer than the 16 slots) for 12 s, each closed at its 10 s deadline
        although it keeps asking; then 20 (more than the slots) for 6 s. `leakwatch
        status` is answered within 2 s all along, and sampling keeps its schedule."""
        d = self.start()
        sock = os.path.join(self.tmp, "control")
        t0 = time.time()
        cpu0 = cpu_seconds(d.pid)
        holders = [self.attack("control-holders", sock, 12, 2, 12)]
        lat = self.status_during(holders)
        few = self.result(holders[0])
        holders = [self.attack("control-holders", sock, 10, 2, 6) for _ in range(2)]
        lat += self.status_during(holders)
        many = [self.result(p) for p in holders]
        t1 = time.time()
        cpu = (cpu_seconds(d.pid) - cpu0) / (t1 - t0)
        self.assertEqual(d.stop(), 0, d.output())
        gap = self.max_gap(t0, t1)
        figure("control: 12 holders: connections closed at their deadline in 12 s, longest (s)",
               "%d, %.1f" % (few["closed"], few["max_closed_lifetime"]))
        figure("control: 20 holders: connections closed to make room in 6 s", sum(r["closed"] for r in many))
        figure("control: status answers, latency median/max (s)",
               "%d, %.3f / %.3f" % (len(lat), sorted(lat)[len(lat) // 2], max(lat)))
        figure("control: daemon CPU during the attack (share of a core)", "%.2f" % cpu)
        figure("control: longest sampling gap (s)", "%.3f" % gap)
        self.assertGreaterEqual(few["closed"], 12, "every holder closed at its deadline")
        self.assertLessEqual(few["max_lifetime"], CONTROL_DEADLINE + SLACK)
        self.assertLessEqual(max(r["max_lifetime"] for r in many), CONTROL_DEADLINE + SLACK)
        self.assertLessEqual(max(lat), ANSWER_MAX)
        self.assertLessEqual(gap, GAP_MAX)

    def test_idle_flood_and_oversized(self):
        """200 connections opened at once and left idle (those past the slots and the
        backlog refused by the kernel), and a 100 KiB request: for 5 s every `leakwatch
        status` is answered, the oversized request refused, the daemon's memory flat."""
        d = self.start()
        sock = os.path.join(self.tmp, "control")
        rss0 = rss_kib(d.pid)
        t0 = time.time()
        idle, refused = [], 0
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.setblocking(False)
            try:
                s.connect(sock)
                idle.append(s)
            except BlockingIOError:
                refused += 1
                s.close()
        big = self.ask(sock, b"x" * (100 << 10))
        self.assertEqual(big.get("code"), "EMSGSIZE", big)
        lat = []
        while time.time() < t0 + 5:
            lat.append(self.status_latency())
            time.sleep(0.2)
        rss1 = rss_kib(d.pid)
        for s in idle:
            s.close()
        t1 = time.time()
        self.assertEqual(d.stop(), 0, d.output())
        gap = self.max_gap(t0, t1)
        grew = rss1 - rss0
        figure("control: of 200 connections at once, connected / refused by the kernel", "%d / %d" % (len(idle), refused))
        figure("control: status latency median/max with them idle (s)",
               "%.3f / %.3f" % (sorted(lat)[len(lat) // 2], max(lat)))
        figure("control: daemon RSS growth (KiB)", "%d" % grew)
        figure("control: longest sampling gap (s)", "%.3f" % gap)
        self.assertLessEqual(max(lat), ANSWER_MAX)
        self.assertLess(grew, 4096)
        self.assertLessEqual(gap, GAP_MAX)


class TestAgentSocket(SocketCase):
    def test_datagram_flood_as_nobody(self):
        """Two processes of an unprivileged user send datagrams to the agent socket as
        fast as the kernel takes them for 8 s, one of them watched. The loop is not
        starved (sampling on schedule, control answered, the daemon's CPU bounded by its
        global budget), the watched flooder's reports are held to its own rate, and a
        legitimate agent's reports go on being stored once the flood ends."""
        nobody = self.as_nobody()
        # New processes found at every tick, so that the watched flooder is watched
        # while it floods.
        d = self.start(conf="agent-interval = 0.1\nscan-interval = %g\n" % INTERVAL)
        sock = os.path.join(self.tmp, "agent.sock")
        wait_for(lambda: os.path.exists(sock), what="the agent socket")
        legit = self.spawn([PYTHON, "-c", LEGIT_AGENT, sock, "16", self.mark])
        time.sleep(2)
        t0 = time.time()
        cpu0 = cpu_seconds(d.pid)
        floods = [self.attack("agent-flood", sock, 8, wrap=nobody),
                  self.attack("agent-flood", sock, 8, self.mark, wrap=nobody)]
        lat = []
        while any(p.poll() is None for p in floods):
            lat.append(self.status_latency())
            time.sleep(0.5)
        t1 = time.time()
        cpu = (cpu_seconds(d.pid) - cpu0) / (t1 - t0)
        res = [self.result(p) for p in floods]
        watched_flooder = floods[1].pid
        legit.wait(WAIT)
        self.assertEqual(d.stop(), 0, d.output())
        gap = self.max_gap(t0, t1)
        rows = {pid: [t / 1000 for (t,) in self.q(pid)] for pid in (legit.pid, watched_flooder, floods[0].pid)}
        during = [t for t in rows[legit.pid] if t0 <= t <= t1]
        after = [t for t in rows[legit.pid] if t > t1]
        figure("agent: datagrams the flooders got in (sent / refused by the kernel)",
               "%d / %d" % (sum(r["sent"] for r in res), sum(r["refused"] for r in res)))
        figure("agent: daemon CPU during the flood (share of a core)", "%.2f" % cpu)
        figure("agent: watched flooder's reports stored in 8 s (rate 10/s, burst 10)", len(rows[watched_flooder]))
        figure("agent: legitimate agent's reports stored during / after the flood (5/s)",
               "%d / %d" % (len(during), len(after)))
        figure("agent: status latency max during the flood (s)", "%.3f" % max(lat))
        figure("agent: longest sampling gap (s)", "%.3f" % gap)
        self.assertLessEqual(gap, GAP_MAX)
        self.assertLessEqual(max(lat), ANSWER_MAX)
        self.assertLess(cpu, 0.5)
        self.assertEqual(rows[floods[0].pid], [], "an unwatched sender's reports are dropped")
        self.assertTrue(query(self.db, "SELECT 1 FROM process WHERE pid = ?", (watched_flooder,)),
                        "the second flooder was watched")
        self.assertLessEqual(len(rows[watched_flooder]), 10 * (t1 - t0 + 1) + 10)
        self.assertTrue(after and after[0] <= t1 + 2, "the legitimate agent's reports resume after the flood")

    def q(self, pid):
        return query(self.db, "SELECT a.t FROM agent_sample a JOIN process p ON p.id = a.process_id "
                              "WHERE p.pid = ? ORDER BY a.t", (pid,))


# A well-behaved agent: a malloc report five times a second for argv[2] seconds, as
# the allocator probe sends it (non-blocking; a refused report is dropped).
LEGIT_AGENT = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setblocking(False)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        s.sendto(b"leakwatch-agent 1\\nagent malloc\\nmallinfo2 1 2 3 4 5\\n", sys.argv[1])
    except OSError:
        pass
    time.sleep(0.2)
"""


class TestMetricsEndpoint(SocketCase):
    def scrape(self):
        t = time.monotonic()
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.port, timeout=WAIT) as r:
            body = r.read().decode()
        self.assertIn("leakwatch_build_info", body)
        return time.monotonic() - t

    def scrapes_during(self, attackers, what):
        lat = []
        while any(p.poll() is None for p in attackers):
            lat.append(self.scrape())
            time.sleep(0.25)
        res = [self.result(p) for p in attackers]
        figure("metrics: %s: scrapes answered, latency max (s)" % what, "%d of %d, %.3f" % (len(lat), len(lat), max(lat)))
        self.assertLessEqual(max(lat), ANSWER_MAX, what)
        return res

    def test_floods_slow_and_half_open_clients(self):
        """As an unprivileged user: 12 slowloris connections trickling a header that
        never ends, 24 connections at once (more than the 16 slots) reconnecting as soon
        as they are closed, 32 that send half a request and shut their side while 16
        more vanish (their process stopped). Every scrape meanwhile is answered within
        2 s, every trickling connection is closed at its 10 s deadline, the listen queue
        is empty once they are gone, and sampling keeps its schedule."""
        nobody = self.as_nobody()
        d = self.start(conf="metrics-listen = 127.0.0.1:0\n")
        d.wait_log("metrics: serving http://")
        self.port = int(d.output().split("metrics: serving http://127.0.0.1:", 1)[1].split("/", 1)[0])
        self.scrape()
        t0 = time.time()
        cpu0 = cpu_seconds(d.pid)

        res = self.scrapes_during([self.attack("http-hold", self.port, 12, "slowloris", 12, "spread", wrap=nobody)],
                                  "12 slowloris connections")
        figure("metrics: slowloris connections closed at their deadline in 12 s, longest (s)",
               "%d, %.1f" % (res[0]["closed"], res[0]["max_closed_lifetime"]))
        self.assertGreaterEqual(res[0]["closed"], 12, "every trickling connection closed at its deadline")
        self.assertLessEqual(res[0]["max_lifetime"], HTTP_DEADLINE + SLACK)

        res = self.scrapes_during([self.attack("http-hold", self.port, 24, "idle", 4, "spread", wrap=nobody)],
                                  "24 reconnecting idle connections")
        figure("metrics: idle connections closed to make room in 4 s", res[0]["closed"])

        stopped = self.attack("http-hold", self.port, 16, "idle", 60, "spread", wrap=nobody)
        os.kill(stopped.pid, 19)  # SIGSTOP: its 16 peers vanish without a word
        self.scrapes_during([self.attack("http-hold", self.port, 32, "halfclose", 4, "spread", wrap=nobody)],
                            "32 half-closed and 16 vanished connections")
        stopped.kill()
        stopped.wait()

        wait_for(lambda: listen_queue(self.port) == 0, timeout=5, what="the listen queue to drain")
        lat = self.scrape()
        t1 = time.time()
        cpu = (cpu_seconds(d.pid) - cpu0) / (t1 - t0)
        self.assertEqual(d.stop(), 0, d.output())
        gap = self.max_gap(t0, t1)
        figure("metrics: scrape after the attackers left (s)", "%.3f" % lat)
        figure("metrics: daemon CPU during the attacks (share of a core)", "%.2f" % cpu)
        figure("metrics: longest sampling gap (s)", "%.3f" % gap)
        self.assertLessEqual(gap, GAP_MAX)


class TestRuntimeDir(Case):
    def refused(self, d):
        """Waits for d to give up (exit 1) rather than start watching; returns its output."""
        wait_for(lambda: not d.alive() or "watching" in d.output(), what="the daemon to refuse or start")
        self.assertFalse(d.alive() and "watching" in d.output(), "it started:\n" + d.output())
        self.assertEqual(d.proc.wait(WAIT), 1, d.output())
        return d.output()

    def status(self, runtime, db):
        return subprocess.run([CLIENT, "--runtime-dir", runtime, "--db", db, "status"], capture_output=True,
                              text=True, timeout=WAIT)

    def test_second_daemon_refused(self):
        """A second daemon on the same runtime directory says who holds it and exits;
        the first one's control socket stays, before and after, and a client still
        reaches it."""
        first = self.daemon("--interval", INTERVAL, "--match", "^lwadv-nothing$")
        first.wait_log("watching")
        sock = os.path.join(self.tmp, "control")
        ino = os.stat(sock).st_ino
        second = self.daemon("--interval", INTERVAL, "--match", "^lwadv-nothing$",
                             db=os.path.join(self.tmp, "second.db"))
        self.assertIn("another leakwatchd (pid %d)" % first.pid, self.refused(second))
        self.assertEqual(os.stat(sock).st_ino, ino, "the first daemon's socket was replaced")
        r = self.status(self.tmp, first.db)
        self.assertIn("running, pid %d" % first.pid, r.stdout, r.stdout + r.stderr)
        self.assertTrue(control(self.tmp, {"cmd": "status"})["ok"])
        self.assertEqual(first.stop(), 0, first.output())
        self.assertFalse(os.path.exists(sock))
        # A daemon killed outright leaves its socket: the next one replaces it.
        third = self.daemon("--interval", INTERVAL, "--match", "^lwadv-nothing$")
        third.wait_log("watching")
        third.proc.kill()
        third.proc.wait()
        self.assertTrue(os.path.exists(sock))
        fourth = self.daemon("--interval", INTERVAL, "--match", "^lwadv-nothing$")
        fourth.wait_log("watching")
        self.assertEqual(control(self.tmp, {"cmd": "status"})["pid"], fourth.pid)
        self.assertEqual(fourth.stop(), 0, fourth.output())

    def test_missing_runtime_dir_is_made(self):
        """No runtime directory at start: it is made (0755, whatever the umask), with
        the control socket in it."""
        run = os.path.join(self.tmp, "run")
        old = os.umask(0o077)
        try:
            d = self.daemon("--interval", INTERVAL, "--match", "^lwadv-nothing$", "--runtime-dir", run)
        finally:
            os.umask(old)
        d.wait_log("watching")
        self.assertEqual(os.stat(run).st_mode & 0o7777, 0o755)
        self.assertTrue(control(run, {"cmd": "status"})["ok"])
        self.assertEqual(d.stop(), 0, d.output())

    def test_untrusted_runtime_dir_refused(self):
        """A runtime directory another user owns, one anyone may write, and a planted
        link: the daemon refuses to start and says why."""
        require_root(self, "make a directory another user owns")
        nb = pwd.getpwnam("nobody")
        theirs = os.path.join(self.tmp, "theirs")
        os.mkdir(theirs)
        os.chown(theirs, nb.pw_uid, nb.pw_gid)
        open_ = os.path.join(self.tmp, "open")
        os.mkdir(open_)
        os.chmod(open_, 0o777)
        link = os.path.join(self.tmp, "link")
        os.symlink(theirs, link)
        for path, why in ((theirs, "owned by uid %d" % nb.pw_uid), (open_, "writable by others"),
                          (link, "symbolic link")):
            d = self.daemon("--interval", INTERVAL, "--match", "^lwadv-nothing$", "--runtime-dir", path)
            self.assertIn(why, self.refused(d))
            self.assertFalse(os.path.exists(os.path.join(path, "control")))
