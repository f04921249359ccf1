# SPDX-License-Identifier: GPL-2.0-or-later
"""/proc as a hostile or unlucky place: processes that exit while they are read, at a
high rate and as zombies (P4); a PID reused by an impostor between two reads (P5); a
proc mounted with hidepid (P6); a read that would block forever (P7); a huge command
line, a process in its own PID namespace, a kernel thread and a zombie (P8). The
daemon must neither crash nor stall, never mix two processes in one series, report an
exit as an exit and a hidden process as unreadable."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import lwblock
from lwtest import ALLOC, BUILD, DAEMON, Case, query, raw_rows, require_root, root_tier_skip, samples, wait_for
from lwadv import big_stack, figure, query_bytes, wait_daemon

CHURN = os.path.join(BUILD, "tests", "workloads", "churn")
MIB = 1 << 20
KIB = 1 << 10


def unknown_reason(packed, group):
    """The reason a group's values are unknown, from a sample's packed `unknown` column
    (lib/sample.h: 4 bits a group; stat 0, status 1, fds 2, smaps 3, heap 4)."""
    return (packed >> (4 * group)) & 0xf


UNK_DENIED, UNK_GONE = 1, 4
G_FDS, G_SMAPS = 2, 3


def write(path, data, mode=None):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TestBlockingRead(Case):
    """P7: a proc root (a fixture, --proc-root) where some files are FIFOs nobody
    writes: opening one for reading would wait for a writer forever (the analogue, in
    a fixture, of CVE-2018-1120's argv that never pages in). The other processes must
    go on being sampled and the daemon must still stop on SIGTERM."""

    def fixture(self, root):
        """A proc root with six copies of this process's files: three plain, and three
        with a FIFO for cmdline, status or smaps_rollup."""
        os.makedirs(os.path.join(root, "sys", "kernel", "random"))
        shutil.copy("/proc/sys/kernel/random/boot_id", os.path.join(root, "sys", "kernel", "random", "boot_id"))
        me = "/proc/%d" % os.getpid()
        stat = read(me + "/stat")
        status = read(me + "/status")
        comm = stat[stat.index(b"(") + 1:stat.rindex(b")")]
        pids = {}
        for i, fifo in enumerate((None, None, None, "cmdline", "status", "smaps_rollup")):
            pid = 301 + i
            name = b"lwfix-%d" % pid
            d = os.path.join(root, str(pid))
            os.mkdir(d)
            write(os.path.join(d, "stat"), b"%d (%s)" % (pid, name) + stat[stat.rindex(b")") + 1:])
            write(os.path.join(d, "status"), status.replace(b"Name:\t" + comm, b"Name:\t" + name, 1))
            write(os.path.join(d, "cmdline"), b"lwfix\0%d\0" % pid)
            write(os.path.join(d, "cgroup"), read(me + "/cgroup"))
            write(os.path.join(d, "smaps_rollup"), read(me + "/smaps_rollup"))
            if fifo:
                os.unlink(os.path.join(d, fifo))
                os.mkfifo(os.path.join(d, fifo))
            pids[pid] = fifo
        return pids

    def test_fifo_in_proc_root_stalls_nothing(self):
        root = os.path.join(self.tmp, "proc")
        pids = self.fixture(root)
        conf = os.path.join(self.tmp, "fix.conf")
        write(conf, "[daemon]\ninterval = 0.1\nsmaps-every = 1\nsmaps-min-interval = 0\n"
                    "[rule fix]\nname = lwfix-*\n")
        d = self.daemon("--config", conf, "--proc-root", root)
        healthy = [p for p, fifo in pids.items() if fifo is None]

        def counts():
            # Samples first: a sample's process was committed with it or before it, so
            # the process table read after them names every one.
            rows = raw_rows(d.db, ("process_id", "t"))
            pids = dict(query(d.db, "SELECT id, pid FROM process"))
            out = {}
            for process_id, t in rows:
                n, last = out.get(pids[process_id], (0, 0))
                out[pids[process_id]] = (n + 1, max(last, t))
            return out
        try:
            wait_for(lambda: all(counts().get(p, (0, 0))[0] >= 30 for p in healthy), timeout=30,
                     what="thirty samples of each plain fixture process")
        except AssertionError:
            raise AssertionError("sampling stalled behind a FIFO: %r\n%s" % (counts(), d.output()))
        # The blocked ones: skipped with a reason, never waited for.
        got = counts()
        t0 = time.monotonic()
        self.assertEqual(d.stop(timeout=5), 0, d.output())
        stop_s = time.monotonic() - t0
        # Gaps between samples of the healthy processes stayed near the interval.
        gaps = []
        for p in healthy:
            ts = [r[0] for r in samples(d.db, p)]
            gaps += [b - a for a, b in zip(ts, ts[1:])]
        figure("test_procfs.P7", fifos=3, healthy=len(healthy), samples=sum(got[p][0] for p in healthy),
               max_gap_ms=max(gaps), stop_s="%.2f" % stop_s)
        self.assertLess(max(gaps), 2000, "a healthy process waited %d ms for a sample" % max(gaps))


NOBODY = 65534

# A target of the daemon's own user that later makes itself non-dumpable: under
# hidepid it then disappears from the daemon's view although it runs on.
HIDING = r"""
import ctypes, signal, sys, time
libc = ctypes.CDLL(None)
libc.prctl(15, sys.argv[1].encode(), 0, 0, 0)      # PR_SET_NAME
keep = bytearray(8 << 20)
signal.signal(signal.SIGUSR1, lambda *a: libc.prctl(4, 0, 0, 0, 0))  # PR_SET_DUMPABLE 0
while True:
    time.sleep(1)
"""


class TestHidepid(Case):
    """P6: proc mounted with hidepid=invisible, the daemon unprivileged (nobody, no
    capability) in a mount namespace of its own: another user's process is invisible,
    and one of its own user's goes invisible when it turns non-dumpable. Neither may be
    reported as exited while it runs; the daemon says at start that processes are
    hidden from it, names a configured PID it cannot see, and records what it cannot
    read as unreadable (permission), not as gone."""

    def wrap(self, procdir):
        script = ('mount -t proc -o hidepid=invisible proc "$0" && exec setpriv --reuid %d --regid %d '
                  '--clear-groups --inh-caps=-all --bounding-set=-all "$@"' % (NOBODY, NOBODY))
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, procdir]

    def test_hidden_processes_are_unreadable_not_exited(self):
        require_root(self, "mount a private proc with hidepid and drop to another user")
        procdir = os.path.join(self.tmp, "proc")
        state = os.path.join(self.tmp, "state")
        for p in (procdir, state):
            os.mkdir(p)
        os.chown(state, NOBODY, NOBODY)
        root_target = self.alloc("--step-kib", 0, "--steps", 1, "--hold-ms", 120000, "--name", "lwhid-root")
        mine = self.spawn(["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
                           sys.executable, "-c", HIDING, "lwhid-mine"])
        wait_for(lambda: read("/proc/%d/comm" % mine.pid) == b"lwhid-mine\n", what="the target's name")
        conf = os.path.join(self.tmp, "hid.conf")
        write(conf, "[daemon]\ninterval = 0.1\nsmaps-every = 1\nsmaps-min-interval = 0\nsmaps-max-interval = 0\n"
                    "[rule mine]\nname = lwhid-*\n[rule theirs]\npid = %d\n" % root_target.pid)
        db = os.path.join(state, "lw.db")
        args = ("--config", conf, "--proc-root", procdir, "--runtime-dir", state)
        d = self.daemon(*args, db=db, wrap=self.wrap(procdir))

        def rows():
            return {r[0]: r[1:] for r in query(db, "SELECT pid, id, end_ms, end_reason FROM process")}
        try:
            wait_for(lambda: mine.pid in rows(), timeout=20, what="the daemon to watch its own user's process")
        except AssertionError:
            raise AssertionError(d.output())
        self.assertNotIn(root_target.pid, rows(), "another user's process is invisible under hidepid")
        log = d.output()
        self.assertRegex(log, r"hidepid", "a warning at start that processes are hidden")
        self.assertRegex(log, r"pid %d.*(unreadable|hidden|not visible)" % root_target.pid,
                         "the configured PID it cannot see is named")

        # The target turns non-dumpable: from now on the daemon cannot look it up.
        pid_row = rows()[mine.pid][0]
        mine.send_signal(signal.SIGUSR1)
        t_hidden = int(time.time() * 1000)
        wait_for(lambda: query(db, "SELECT count(*) FROM sample_recent WHERE process_id = ? AND t > ?",
                               (pid_row, t_hidden + 500))[0][0] >= 3, what="samples after the target hid")
        self.assertIsNone(rows()[mine.pid][1], "a hidden process that runs has not exited: %r" % (rows()[mine.pid],))
        late = query(db, "SELECT unknown FROM sample_recent WHERE process_id = ? AND t > ?",
                     (pid_row, t_hidden + 500))
        reasons = {(unknown_reason(u, G_FDS), unknown_reason(u, G_SMAPS)) for (u,) in late}
        self.assertEqual(reasons, {(UNK_DENIED, UNK_DENIED)},
                         "descriptors and smaps of a hidden process are unreadable (denied), not gone")
        self.assertEqual(d.stop(), 0, d.output())

        # Restarted, the daemon cannot see the process it watched: it was not seen to
        # exit, so its row does not say it did.
        d2 = self.daemon(*args, db=db, wrap=self.wrap(procdir))
        wait_for(lambda: rows()[mine.pid][1] is not None, timeout=20, what="the hidden process's row to be closed")
        reason = rows()[mine.pid][2]
        self.assertNotIn("exited", reason)
        self.assertIn("unreadable", reason)
        self.assertEqual(d2.stop(), 0, d2.output())
        figure("test_procfs.P6", hidden_targets=2, reported_exited=0, end_reason=repr(reason))


class TestChurn(Case):
    """P4: children that live 0 to 100 ms, started as fast as the machine allows, one in
    four left a zombie for 200 ms: they exit between the daemon's reads of one tick.
    No crash, no error, no sample that mixes two processes (child K touched K x 128
    KiB before it took its name, so a sample under that name holds at least that
    much, give or take the kernel's lag, and not the next child's), and every one of
    them ends as "exited"."""

    def test_exits_mid_read(self):
        prefix = "lwc%d" % (os.getpid() % 10000)
        conf = os.path.join(self.tmp, "churn.conf")
        write(conf, "[daemon]\ninterval = 0.05\n[rule churn]\nname = %s-*\n" % prefix)
        d = self.daemon("--config", conf)
        d.wait_log("watching")
        churn = subprocess.run([CHURN, "--rate", "1000", "--seconds", "6", "--prefix", prefix],
                               stdout=subprocess.PIPE, check=True, timeout=60)
        self.assertTrue(d.alive(), d.output())
        leftover = []
        for e in os.listdir("/proc"):
            try:
                if e.isdigit() and read("/proc/%s/comm" % e).startswith(prefix.encode() + b"-"):
                    leftover.append(int(e))
            except OSError:
                pass

        def rows():
            return query_bytes(d.db, "SELECT id, comm, end_ms, end_reason FROM process WHERE comm LIKE ?",
                               (prefix + "-%",))
        wait_for(lambda: rows() and all(r[2] is not None for r in rows()), timeout=30,
                 what="every child's row to end (and churn's)")
        self.assertEqual(d.stop(), 0, d.output())
        all_rows = rows()
        reasons = {}
        for r in all_rows:
            reasons[r[3]] = reasons.get(r[3], 0) + 1
        self.assertEqual(set(reasons), {b"exited"}, "every child ends as exited: %r" % reasons)
        mixed = n_samples = zombie_samples = 0
        examples = []
        for pid_row, comm, _, _ in all_rows:
            # PREFIX-0: churn, or a child read before it took its name (up to 4 MiB).
            k = int(comm.rsplit(b"-", 1)[1])
            for anon, unknown in raw_rows(d.db, ("anon", "unknown"), process_id=pid_row):
                n_samples += 1
                if unknown_reason(unknown, 1) == 3:
                    zombie_samples += 1
                # Child K holds K MiB; the kernel's per-CPU RSS counters may lag by up
                # to 64 pages a CPU, and the pages shared with the parent add a little.
                # It allocates as PREFIX-0 and renames itself after; the stored name
                # follows the rename (as an exec's does), so a reading from before may
                # show part of its K MiB, never more (another process read for it).
                low, high = (0, 4 * MIB) if k == 0 else (0, k * MIB)
                if anon is not None and not (low - 384 * KIB <= anon * KIB <= high + 384 * KIB):
                    mixed += 1
                    examples.append((comm, anon, hex(unknown)))
        errors = [l for l in d.output().splitlines() if "error" in l or "failed" in l]
        started, _, zombies, _, rate = churn.stdout.split()[1:6]
        figure("test_procfs.P4", children=int(started), zombies=int(zombies), rate_per_s=int(rate),
               watched=len(all_rows), samples=n_samples, zombie_samples=zombie_samples, mixed=mixed,
               error_lines=len(errors), leftover_processes=len(leftover))
        self.assertEqual(mixed, 0, "samples mixing two processes: %r" % examples[:10])
        self.assertEqual(errors, [])
        self.assertEqual(leftover, [], "churn's children are all gone")
        self.assertGreater(len(all_rows), 50, "the daemon saw the children")


# Runs inside `unshare -Urpf --mount-proc` as PID 1 of a new PID namespace: starts the
# daemon, then again and again a target T, waits until the daemon samples it, kills it
# and at once starts an impostor on the same PID (ns_last_pid = T - 1) with eight times
# T's memory: for SECONDS, with at least LEAST trials (a minute more at most, on a slow
# machine) and at most MOST. Prints the (T, impostor) PIDs as JSON.
REUSE_DRIVER = r"""
import json, os, sqlite3, subprocess, sys, time
daemon_argv, alloc, seconds, log = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
sys.path.insert(0, sys.argv[5])
import lwblock
LEAST, MOST = 20, 200  # trials: at least, however slow the machine; at most, however fast
db = daemon_argv[daemon_argv.index("--db") + 1]
d = subprocess.Popen(daemon_argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT)

def sampled(pid, deadline):
    while time.monotonic() < deadline:
        try:
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
            con.execute("BEGIN")
            lwblock.unbatch(con)
            n = con.execute("SELECT count(*) FROM sample_recent s JOIN process p ON p.id = s.process_id "
                            "WHERE p.pid = ? AND p.end_ms IS NULL", (pid,)).fetchone()[0]
            con.close()
            if n:
                return True
        except sqlite3.OperationalError:
            pass
        time.sleep(0.01)
    return False

def start(kib):
    # Executed through a link named lwreuse, so the name is right from exec on (a
    # rename after exec is noticed only at the next recheck, seconds later).
    return subprocess.Popen([alloc, "--name", "lwreuse", "--step-kib", str(kib), "--steps", "1",
                             "--every-ms", "0", "--hold-ms", "60000"])

pairs = []
end = time.monotonic() + seconds
while len(pairs) < MOST and (time.monotonic() < end or len(pairs) < LEAST) and time.monotonic() < end + 60:
    t = start(8 * 1024)
    if not sampled(t.pid, time.monotonic() + 10):
        t.kill(); t.wait()
        continue
    t.kill(); t.wait()
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(t.pid - 1))
    imp = start(64 * 1024)
    pairs.append((t.pid, imp.pid))
    sampled(imp.pid, time.monotonic() + 10)
    imp.kill(); imp.wait()
time.sleep(0.3)
d.terminate()
d.wait()
print(json.dumps({"pairs": pairs, "daemon": d.returncode}))
"""


class TestPidReuse(Case):
    """P5 (CVE-2019-6133, CVE-2025-4598: a recycled PID): in a PID namespace of its own,
    the test forces a target's PID onto an impostor (ns_last_pid) right after the target
    dies, many times over. The impostor's samples never join the target's series (the
    target holds 8 MiB, the impostor 64 MiB), the target's row ends as exited, and the
    impostor gets a row of its own."""

    def test_impostor_never_joins_the_series(self):
        require_root(self, "create user and PID namespaces and write ns_last_pid")
        conf = os.path.join(self.tmp, "reuse.conf")
        write(conf, "[daemon]\ninterval = 0.05\nwindow = 1m\n[rule reuse]\nname = lwreuse\n")
        db = os.path.join(self.tmp, "reuse.db")
        log = os.path.join(self.tmp, "reuse.log")
        argv = [DAEMON, "--db", db, "--config", conf, "--runtime-dir", self.tmp]
        link = os.path.join(self.tmp, "lwreuse")
        os.symlink(ALLOC, link)
        p = subprocess.run(["unshare", "-Urpf", "--mount-proc", sys.executable, "-c", REUSE_DRIVER,
                            json.dumps(argv), link, "15", log, os.path.dirname(lwblock.__file__)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
        if p.returncode != 0 and b"unshare" in p.stderr:
            root_tier_skip(self, "unshare -Urpf failed: " + p.stderr.decode("utf-8", "replace"))
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        res = json.loads(p.stdout)
        self.assertEqual(res["daemon"], 0, read(log).decode("utf-8", "replace"))
        reused = [(t, i) for t, i in res["pairs"] if t == i]
        misattributed = 0
        for t, _ in reused:
            rows = query(db, "SELECT id, start_ticks, end_reason FROM process WHERE pid = ? ORDER BY id", (t,))
            self.assertGreaterEqual(len(rows), 1)
            first = rows[0]
            self.assertEqual(first[2], "exited", "the target's row ends as an exit: %r" % (rows,))
            top = max((a for (a,) in raw_rows(db, ("anon",), process_id=first[0]) if a is not None), default=None)
            if top is not None and top * KIB >= 32 * MIB:  # the database holds KiB
                misattributed += 1
            if len(rows) > 1:
                self.assertNotEqual(rows[0][1], rows[1][1], "the impostor is another process")
        alerts = query(db, "SELECT count(*) FROM alert")[0][0]
        figure("test_procfs.P5", trials=len(res["pairs"]), pid_reused=len(reused), misattributed=misattributed,
               alerts=alerts)
        self.assertGreaterEqual(len(reused), 15, "the PID was forced onto the impostor: %r" % res["pairs"][:10])
        self.assertEqual(misattributed, 0)
        self.assertEqual(alerts, 0)


def vm_rss_kib(pid):
    for line in read("/proc/%d/status" % pid).decode().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class TestOddProcesses(Case):
    """P8 (CVE-2018-1124: procps' argv handling overflowed on a huge command line): eight
    targets with over 2 MiB of command line each, a target in a PID namespace of its
    own, a kernel thread and a zombie, watched at once. The command line is capped, the
    daemon's memory barely moves, the namespaced target is stored under the PID the
    daemon's proc shows, the kernel thread's memory is unknown for that reason, and the
    zombie is never watched."""

    def test_huge_argv_namespaces_kthread_zombie(self):
        tag = "%d" % (os.getpid() % 10000)
        if b"kthreadd" not in read("/proc/2/stat"):
            root_tier_skip(self, "PID 2 is not kthreadd here (a PID namespace?)")
        zombie = self.alloc("--steps", 0, "--name", "lwzomb" + tag)
        wait_for(lambda: read("/proc/%d/stat" % zombie.pid).split(b") ")[1][:1] == b"Z", what="a zombie")
        conf = os.path.join(self.tmp, "odd.conf")
        write(conf, "[daemon]\ninterval = 0.1\n[rule huge]\ncmdline = ^lwhuge%s \n[rule ns]\nname = lwns%s\n"
                    "[rule kthread]\npid = 2\n[rule zombie]\nname = lwzomb%s\n[rule zpid]\npid = %d\n"
                    % (tag, tag, tag, zombie.pid))
        d = self.daemon("--config", conf)
        d.wait_log("watching")
        rss0 = vm_rss_kib(d.pid)
        huge = []
        for i in range(8):
            argv = [b"lwhuge" + tag.encode(), b"--steps", b"1", b"--hold-ms", b"600000", b"--"] + \
                   [(b"%c" % (65 + k)) * (124 * 1024) for k in range(17)]
            huge.append(self.spawn(argv, executable=ALLOC, preexec_fn=big_stack))
        ns = self.spawn(["unshare", "--pid", "--fork", "--kill-child", ALLOC, "--steps", "1", "--hold-ms", "600000",
                         "--name", "lwns" + tag])

        def host_pid():
            for e in os.listdir("/proc"):
                if e.isdigit():
                    try:
                        if read("/proc/%s/comm" % e) == ("lwns%s\n" % tag).encode():
                            return int(e)
                    except OSError:
                        pass
            return None
        inner = wait_for(host_pid, what="the namespaced target")
        nspid = [l for l in read("/proc/%d/status" % inner).decode().splitlines() if l.startswith("NSpid:")][0]
        self.assertEqual(nspid.split()[1:], [str(inner), "1"])

        def rows():
            return {r[0]: r[1:] for r in query_bytes(d.db, "SELECT pid, id, cmdline, end_ms, ppid FROM process")}
        wait_daemon(d, lambda: all(p.pid in rows() for p in huge) and inner in rows() and 2 in rows(),
                    timeout=300, what="every target watched",
                    extra=lambda: ([p.pid for p in huge], inner, sorted(rows())))
        got = rows()
        wait_daemon(d, lambda: query(d.db, "SELECT count(*) FROM sample_recent WHERE process_id = ?",
                                     (got[2][0],))[0][0] >= 5, timeout=300, what="samples of the kernel thread")
        rss1 = vm_rss_kib(d.pid)
        for p in huge:
            cmd = got[p.pid][1]
            self.assertLessEqual(len(cmd), 4096, "the command line is capped")
            self.assertTrue(cmd.startswith(b"lwhuge%s --steps 1 --hold-ms 600000 -- AAAA" % tag.encode()))
        self.assertEqual(got[inner][3], ns.pid, "the namespaced target's parent, as the host sees it")
        for (unknown, rss) in query(d.db, "SELECT unknown, rss FROM sample_recent WHERE process_id = ?",
                                    (got[2][0],)):
            self.assertIsNone(rss)
            self.assertEqual(unknown_reason(unknown, 1), 2, "a kernel thread's memory: unknown, kernel thread")
        self.assertIsNone(got[2][2], "the kernel thread is watched on")
        self.assertNotIn(zombie.pid, rows(), "a zombie is never watched")
        self.assertTrue(d.alive())
        self.assertEqual(d.stop(), 0, d.output())
        figure("test_procfs.P8", huge_targets=len(huge), argv_bytes=17 * 124 * 1024,
               stored_cmdline_max=max(len(got[p.pid][1]) for p in huge), daemon_rss_delta_kib=rss1 - rss0)
        self.assertLess(rss1 - rss0, 16 * 1024, "the daemon's memory with eight huge command lines")
