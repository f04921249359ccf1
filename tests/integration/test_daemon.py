# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatchd against real processes: what it stores, how it starts, stops, reloads,
and survives a full disk, a restart, and a lack of privilege."""

import os
import pwd
import shutil
import signal
import subprocess
import time
import unittest

from lwtest import DAEMON, WAIT, Case, control, mount_tmpfs, query, raw_rows, samples, wait_for


def ended(db, pid):
    rows = query(db, "SELECT end_ms FROM process WHERE pid = ?", (pid,))
    return rows and all(r[0] is not None for r in rows)


class TestSampling(Case):
    def test_growing_process_series(self):
        """A process allocating 2 MiB every 100 ms: its anonymous memory rises by about
        what it allocated, each sample carries every status field, and it ends as
        'exited' when it exits."""
        w = self.alloc("--step-kib", 2048, "--every-ms", 100, "--steps", 30, "--hold-ms", 800,
                       "--name", "lw-grow")
        d = self.daemon("--interval", "0.1", "--pid", w.pid)
        wait_for(lambda: ended(d.db, w.pid), what="the process to be marked ended")
        self.assertEqual(d.stop(), 0, d.output())

        rows = query(d.db, "SELECT comm, end_reason, start_ticks, start_ms FROM process WHERE pid = ?", (w.pid,))
        self.assertEqual(len(rows), 1)
        comm, reason, ticks, start_ms = rows[0]
        self.assertEqual(comm, "lw-grow")
        self.assertEqual(reason, "exited")
        self.assertGreater(ticks, 0)
        self.assertLess(abs(start_ms / 1000 - time.time()), 300)

        anon = [v for _, v in samples(d.db, w.pid, "anon")]
        self.assertGreater(len(anon), 15, "too few samples")
        # At the very end memory is unknown: while the process exits its memory is already
        # gone (no Vm lines), then it is a zombie until its parent reaps it. Those samples
        # say so with a reason, and nothing before them is unknown.
        reasons = [u for _, u in samples(d.db, w.pid, "unknown")]
        while anon and anon[-1] is None:
            self.assertIn((reasons[len(anon) - 1] >> 4) & 0xf, (3, 5))  # zombie, not reported
            anon = anon[:-1]
        self.assertTrue(all(v is not None for v in anon))
        # 30 steps of 2 MiB = 60 MiB, all touched: the last samples hold all of it (plus
        # the program's own few hundred KiB), and the series never goes down. Read
        # through the BPF pass, the kernel's per-CPU counters may lag by up to
        # CPUs x max(32, 2 x CPUs) pages (docs/bpf.md).
        cpus = os.cpu_count() or 1
        self.assertGreater(anon[-1], 60 * 1024 - cpus * max(32, 2 * cpus) * 4)
        self.assertLess(anon[-1], 70 * 1024)
        self.assertLess(anon[0], anon[-1])
        self.assertEqual(anon, sorted(anon))
        for col in ("rss", "file", "shmem", "swap", "data", "vsize", "threads", "fds", "minflt"):
            vals = [v for _, v in samples(d.db, w.pid, col)][:len(anon)]
            self.assertTrue(all(v is not None for v in vals), col)
        fds = [v for _, v in samples(d.db, w.pid, "fds")][:len(anon)]
        self.assertTrue(all(2 <= v <= 10 for v in fds), fds)
        ts = [t for t, _ in samples(d.db, w.pid)]
        self.assertEqual(ts, sorted(set(ts)), "timestamps must be strictly increasing")

    def test_smaps_rollup_every_kth_tick(self):
        """PSS/USS and the heap come from smaps, on every k-th tick at most, and are
        stored as unknown (NULL with a reason), never 0, in between."""
        conf = os.path.join(self.tmp, "k.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\nsmaps-every = 3\nsmaps-min-interval = 0.1\n"
                    "smaps-max-interval = 0.1\nsmaps-budget = 100%\n"
                    "[rule w]\nname = lw-smaps\n")
        # It lives until the daemon has read its smaps a few times, however slowly a
        # busy machine lets the daemon start and tick.
        w = self.alloc("--step-kib", 1024, "--every-ms", 100, "--steps", 20, "--hold-ms", 120000,
                       "--name", "lw-smaps")
        d = self.daemon("--config", conf)
        wait_for(lambda: sum(r[0] is not None for r in raw_rows(d.db, ("pss",), w.pid)) >= 4,
                 what="four smaps readings")
        w.kill()
        wait_for(lambda: ended(d.db, w.pid), what="the process to end")
        self.assertEqual(d.stop(), 0, d.output())
        rows = raw_rows(d.db, ("pss", "uss", "heap_size", "heap_rss", "unknown"), w.pid)
        if (rows[-1][4] >> 4) & 0xf in (3, 5):
            # The last sample of a process on its way out: a zombie (3), or one caught
            # while exiting, whose status no longer shows memory (5) and whose smaps
            # say it is going.
            rows = rows[:-1]
        with_pss = [r for r in rows if r[0] is not None]
        without = [r for r in rows if r[0] is None]
        self.assertGreater(len(with_pss), 2)
        self.assertGreater(len(without), len(with_pss))
        for i, (pss, uss, heap_size, heap_rss, unknown) in enumerate(with_pss):
            self.assertGreater(pss, 0)
            self.assertGreater(uss, 0)
            if heap_size is None and i == len(with_pss) - 1:
                # smaps_rollup read, then the process exited before its [heap] record
                # was: allowed on its last reading only, and with the reason (group 4:
                # zombie, gone, or absent as an exiting process's smaps are).
                self.assertIn((unknown >> 16) & 0xf, (3, 4, 5), (pss, uss, heap_size, unknown))
                continue
            self.assertGreater(heap_size, 0)
        for r in without:
            # Group 3 (smaps) holds reason 7: not read this tick.
            self.assertEqual((r[4] >> 12) & 0xf, 7, r)

    def test_adversarial_name_stored_exactly(self):
        """A name with parentheses, a newline and a forged 'VmRSS:' line is stored byte
        for byte and does not confuse the parsers."""
        name = "a) (b\nVmRSS: 9"
        w = self.alloc("--step-kib", 4096, "--every-ms", 100, "--steps", 10, "--hold-ms", 500,
                       "--name", name)
        d = self.daemon("--interval", "0.1", "--pid", w.pid)
        wait_for(lambda: ended(d.db, w.pid), what="the process to end")
        self.assertEqual(d.stop(), 0, d.output())
        comm = query(d.db, "SELECT comm FROM process WHERE pid = ?", (w.pid,))[0][0]
        self.assertEqual(comm, name[:15])
        rss = [v for _, v in samples(d.db, w.pid, "rss") if v is not None]
        self.assertGreater(max(rss), 30 * 1024, "RSS in KiB should reflect 40 MiB, not a forged 9")

    def test_children_each_and_summed(self):
        """A rule with children watches the forked children, each with its parent, and
        stores the rule's sum over all of them."""
        conf = os.path.join(self.tmp, "c.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\nscan-interval = 0.1\n"
                    "[rule family]\nname = lw-parent\nchildren = yes\n")
        d = self.daemon("--config", conf)
        d.wait_log("watching")
        w = self.alloc("--step-kib", 1024, "--every-ms", 100, "--steps", 15, "--hold-ms", 1500,
                       "--children", 2, "--name", "lw-parent")
        rows = wait_for(lambda: (lambda r: r if len(r) == 3 else None)(
            query(d.db, "SELECT pid, parent_id FROM process")), what="parent and two children")
        parent = [r for r in rows if r[0] == w.pid]
        kids = [r for r in rows if r[0] != w.pid]
        self.assertEqual(len(parent), 1)
        self.assertIsNone(parent[0][1])
        pid_of_parent_row = query(d.db, "SELECT id FROM process WHERE pid = ?", (w.pid,))[0][0]
        self.assertTrue(all(k[1] == pid_of_parent_row for k in kids))
        wait_for(lambda: query(d.db, "SELECT count(*) FROM rule_sample WHERE nproc = 3")[0][0] > 3,
                 what="rule sums over three processes")
        w.wait()
        self.assertEqual(d.stop(), 0, d.output())

    def test_never_watches_itself(self):
        """--match that matches leakwatchd's own command line still skips the daemon."""
        d = self.daemon("--interval", "0.1", "--match", "leakwatchd")
        d.wait_log("watching")
        time.sleep(0.5)
        self.assertEqual(d.stop(), 0, d.output())
        self.assertEqual(query(d.db, "SELECT count(*) FROM process WHERE pid = ?", (d.pid,))[0][0], 0)

    def test_default_rule_watches_host(self):
        """With no rule configured, every process of at least 32 MiB is watched."""
        w = self.alloc("--step-kib", 48 * 1024, "--steps", 1, "--hold-ms", 20000, "--name", "lw-big")
        small = self.alloc("--step-kib", 64, "--steps", 1, "--hold-ms", 20000, "--name", "lw-small")
        time.sleep(0.3)
        d = self.daemon("--interval", "0.2")
        wait_for(lambda: query(d.db, "SELECT count(*) FROM process WHERE pid = ?", (w.pid,))[0][0] == 1,
                 what="the big process to be watched")
        self.assertEqual(d.stop(), 0, d.output())
        self.assertEqual(query(d.db, "SELECT count(*) FROM process WHERE pid = ?", (small.pid,))[0][0], 0)
        self.assertEqual(query(d.db, "SELECT name FROM rule")[0][0], "host")


class TestLifecycle(Case):
    def test_sigterm_flushes_pending(self):
        """Samples waiting for the next commit are written on SIGTERM."""
        conf = os.path.join(self.tmp, "slow.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\ncommit-interval = 1h\n")
        w = self.alloc("--steps", 1, "--hold-ms", 30000)
        d = self.daemon("--config", conf, "--pid", str(w.pid))
        d.wait_log("watching")
        # However slow the machine: wait until the daemon says it holds samples that
        # are not in the database yet, rather than sleep and hope.
        wait_for(lambda: control(self.tmp, {"cmd": "status"}).get("samples_pending", 0) >= 12,
                 what="samples waiting for a commit (a process sample and a rule sum per tick)")
        before = len(samples(d.db, w.pid))
        self.assertEqual(d.stop(), 0, d.output())
        after = len(samples(d.db, w.pid))
        self.assertGreaterEqual(after, before + 5)

    def test_sigint_exits_zero(self):
        d = self.daemon("--interval", "0.1")
        d.wait_log("watching")
        d.signal(signal.SIGINT)
        self.assertEqual(d.proc.wait(WAIT), 0)

    def test_reload_keeps_old_config_on_error(self):
        conf = os.path.join(self.tmp, "r.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\n[rule one]\nname = lw-one\n")
        d = self.daemon("--config", conf)
        d.wait_log("watching")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\n[rule one]\nname = lw-one\nbogus-key = 1\n")
        d.signal(signal.SIGHUP)
        d.wait_log("keeping the running configuration")
        self.assertIn(conf + ":5:", d.output())
        self.assertTrue(d.alive())
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\n[rule one]\nname = lw-one\n[rule two]\nname = lw-two\n")
        d.signal(signal.SIGHUP)
        d.wait_log("configuration reloaded")
        w = self.alloc("--steps", 1, "--hold-ms", 20000, "--name", "lw-two")
        wait_for(lambda: query(d.db, "SELECT r.name FROM process p JOIN rule r ON r.id = p.rule_id "
                                     "WHERE p.pid = ?", (w.pid,)) == [("two",)],
                 what="the new rule to watch lw-two")
        self.assertEqual(d.stop(), 0, d.output())

    def test_restart_continues_series(self):
        """A process watched across a daemon restart keeps one row and one series."""
        w = self.alloc("--steps", 1, "--hold-ms", 60000, "--name", "lw-long")
        d = self.daemon("--interval", "0.1", "--pid", str(w.pid))
        wait_for(lambda: len(samples(d.db, w.pid)) > 3, what="first samples")
        self.assertEqual(d.stop(), 0, d.output())
        n1 = len(samples(d.db, w.pid))
        d2 = self.daemon("--interval", "0.1", "--pid", str(w.pid))
        wait_for(lambda: len(samples(d2.db, w.pid)) > n1 + 3, what="samples after restart")
        self.assertEqual(d2.stop(), 0, d2.output())
        self.assertEqual(query(d2.db, "SELECT count(*) FROM process WHERE pid = ?", (w.pid,))[0][0], 1)
        # Identity is the start time from /proc/PID/stat (field 22, after the name).
        with open("/proc/%d/stat" % w.pid) as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        self.assertEqual(query(d2.db, "SELECT start_ticks FROM process WHERE pid = ?", (w.pid,))[0][0],
                         start_ticks)
        self.assertEqual(query(d2.db, "SELECT end_ms FROM process WHERE pid = ?", (w.pid,))[0][0], None)

    def test_exited_while_stopped_is_ended(self):
        w = self.alloc("--steps", 1, "--hold-ms", 60000)
        d = self.daemon("--interval", "0.1", "--pid", str(w.pid))
        wait_for(lambda: len(samples(d.db, w.pid)) > 2, what="first samples")
        self.assertEqual(d.stop(), 0, d.output())
        last_t = samples(d.db, w.pid)[-1][0]
        w.kill()
        w.wait()
        d2 = self.daemon("--interval", "0.1", "--pid", "1")
        d2.wait_log("watching")
        self.assertEqual(d2.stop(), 0, d2.output())
        end_ms, reason = query(d2.db, "SELECT end_ms, end_reason FROM process WHERE pid = ?", (w.pid,))[0]
        self.assertEqual(end_ms, last_t)
        self.assertIn("stopped", reason)


class TestErrors(Case):
    def run_daemon(self, *args):
        # Its own runtime directory: the default one is locked by whichever daemon has it.
        return subprocess.run([DAEMON, "--runtime-dir", self.tmp] + list(args), capture_output=True, text=True,
                              timeout=WAIT)

    def test_check_config(self):
        good = os.path.join(self.tmp, "good.conf")
        bad = os.path.join(self.tmp, "bad.conf")
        with open(good, "w") as f:
            f.write("[daemon]\ninterval = 0.2\n[rule x]\nname = foo\n")
        with open(bad, "w") as f:
            f.write("[daemon]\ninterval = soon\n[rule x]\nname = foo\nwat = 1\n")
        r = self.run_daemon("--config", good, "--check-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OK", r.stdout)
        r = self.run_daemon("--config", bad, "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn(bad + ":2:", r.stderr)
        self.assertIn(bad + ":5:", r.stderr, "every error is reported, not just the first")

    def test_usage_and_bad_values(self):
        self.assertEqual(self.run_daemon("--no-such-option").returncode, 2)
        self.assertEqual(self.run_daemon("stray-argument").returncode, 2)
        r = self.run_daemon("--interval", "fast", "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--interval", r.stderr)
        r = self.run_daemon("--pid", "-5", "--check-config")
        self.assertEqual(r.returncode, 1)
        r = self.run_daemon("--config", os.path.join(self.tmp, "missing.conf"), "--check-config")
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.conf", r.stderr)
        r = self.run_daemon("--match", "(unclosed", "--check-config",
                            "--config", os.path.join(self.tmp, "missing.conf"))
        self.assertEqual(r.returncode, 1)

    def test_database_not_writable(self):
        empty = os.path.join(self.tmp, "e.conf")
        open(empty, "w").close()
        r = self.run_daemon("--config", empty, "--db", "/proc/leakwatch/none.db")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open database /proc/leakwatch/none.db", r.stderr)

    def test_database_of_someone_else(self):
        import sqlite3
        other = os.path.join(self.tmp, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE important (x)")
        con.commit()
        con.close()
        empty = os.path.join(self.tmp, "e.conf")
        open(empty, "w").close()
        r = self.run_daemon("--config", empty, "--db", other)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a leakwatch database", r.stderr)


@unittest.skipUnless(os.geteuid() == 0, "needs root to mount a small tmpfs")
class TestDiskFull(Case):
    def setUp(self):
        super().setUp()
        self.mnt = os.path.join(self.tmp, "small")
        mount_tmpfs(self, self.mnt, "2m")

    def test_full_disk_degrades_and_recovers(self):
        """The disk fills up: sampling goes on into the backlog, the failure is logged
        (not once per tick), and when space returns the backlog is written."""
        db = os.path.join(self.mnt, "lw.db")
        w = self.alloc("--steps", 1, "--hold-ms", 60000)
        d = self.daemon("--interval", "0.05", "--pid", str(w.pid), db=db)
        wait_for(lambda: len(samples(db, w.pid)) > 3, what="first samples")
        filler = os.path.join(self.mnt, "filler")
        # Unbuffered: nothing is left to write (and fail) when it closes.
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        d.wait_log("write failed")
        failed_at = time.time() * 1000
        time.sleep(2)
        self.assertTrue(d.alive())
        self.assertLessEqual(d.output().count("write failed"), 2, "the failure must be rate-limited")
        os.unlink(filler)
        d.wait_log("writable again")
        freed_at = time.time() * 1000
        self.assertEqual(d.stop(), 0, d.output())
        # What was measured while the disk was full was kept and written afterwards.
        during = [t for t, _ in samples(db, w.pid) if failed_at < t < freed_at]
        self.assertGreater(len(during), 0, "samples taken during the outage were lost")
        self.assertIn("0 samples dropped", d.output())


def nobody():
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return None


@unittest.skipUnless(os.geteuid() == 0 and nobody() and shutil.which("setpriv"),
                     "needs root, a 'nobody' user and setpriv to drop privileges")
class TestUnprivileged(Case):
    def test_unreadable_values_are_unknown_with_reason(self):
        """leakwatchd as 'nobody' watching a root process: status is readable,
        smaps_rollup is not and is stored as unknown with the reason 'permission denied',
        never as 0. (The descriptor count comes from stat() of the fd directory, which
        recent kernels answer without read access; where they do not, it is unknown for
        the same reason.)"""
        nb = nobody()
        os.chown(self.tmp, nb.pw_uid, nb.pw_gid)
        w = self.alloc("--steps", 1, "--step-kib", 8192, "--hold-ms", 60000)
        conf = os.path.join(self.tmp, "u.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\nsmaps-every = 1\nsmaps-min-interval = 0.1\nsmaps-max-interval = 0.1\n"
                    "smaps-budget = 100%\n")
        d = self.daemon("--config", conf, "--pid", str(w.pid),
                        wrap=["setpriv", "--reuid", str(nb.pw_uid), "--regid", str(nb.pw_gid),
                              "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        wait_for(lambda: len(samples(d.db, w.pid)) > 5, what="samples taken as nobody")
        self.assertEqual(d.stop(), 0, d.output())
        rows = raw_rows(d.db, ("rss", "fds", "pss", "unknown"), w.pid)
        self.assertTrue(all(r[0] is not None and r[0] > 0 for r in rows))
        # Groups: 2 = fds, 3 = smaps; reason 1 = permission denied, 7 = not due.
        self.assertTrue(all(r[1] is not None or (r[3] >> 8) & 0xf == 1 for r in rows), rows[:3])
        self.assertTrue(all(r[2] is None for r in rows), "pss must be unknown, not 0")
        self.assertTrue(all((r[3] >> 12) & 0xf in (1, 7) for r in rows), rows[:3])
        self.assertTrue(any((r[3] >> 12) & 0xf == 1 for r in rows), rows[:3])


if __name__ == "__main__":
    unittest.main()
