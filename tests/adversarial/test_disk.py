# SPDX-License-Identifier: GPL-2.0-or-later
"""The disk under the database fills up (a 2 MiB tmpfs, as root): leakwatchd stays up and
on schedule, says so once a minute at most, holds a bounded backlog and counts what it
drops, resumes within a second of the space coming back, and a kill -9 while the disk is
full loses nothing that was committed. (tests/integration/test_daemon.py's TestDiskFull
checks the plain degrade-and-recover path; these add the bounds.)"""

import os
import signal
import subprocess
import sys
import time

from lwtest import DAEMON, Case, mount_tmpfs, query, require_root, wait_for

INTERVAL = 0.05
# main.c: DB_RETRY_USEC, how often the backlog is offered to a failing database.
RETRY = 1.0
# Scheduling slack on a loaded machine, added to the bounds.
SLACK = 1.0


class DiskFull(Case):
    def setUp(self):
        super().setUp()
        require_root(self, "mount a small tmpfs")
        self.mnt = os.path.join(self.tmp, "small")
        mount_tmpfs(self, self.mnt, "2m")
        self.db = os.path.join(self.mnt, "lw.db")
        self.workers = [self.alloc("--steps", 1, "--step-kib", 64, "--hold-ms", 600000) for _ in range(8)]

    def start(self, *extra):
        conf = os.path.join(self.tmp, "disk.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\n" + "".join(line + "\n" for line in extra))
        args = ["--config", conf, "--interval", str(INTERVAL)]
        for w in self.workers:
            args += ["--pid", w.pid]
        d = self.daemon(*args, db=self.db)
        d.wait_log("watching with")
        return d

    def fill(self):
        filler = os.path.join(self.mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass            # full, to the last page
        finally:
            os.close(fd)
        return filler

    def count(self):
        return query(self.db, "SELECT count(*) FROM sample_recent")[0][0]


    def test_backlog_bounded_drops_counted_resumes_fast(self):
        """A backlog of 100 samples fills in 0.6 s of a full disk: the oldest are dropped
        and counted, the daemon's memory does not grow, the failure is said once, and the
        newest 100 are written within a second of the space coming back."""
        d = self.start("backlog = 100")
        wait_for(lambda: self.count() > 40, what="first samples")
        filler = self.fill()
        d.wait_log("write failed")
        failed_ms = time.time() * 1000
        rss0 = rss_kib(d.pid)
        time.sleep(3)
        rss1 = rss_kib(d.pid)
        self.assertTrue(d.alive())
        freed = time.monotonic()
        os.unlink(filler)
        d.wait_log("writable again")
        resumed = time.monotonic() - freed
        resumed_ms = time.time() * 1000
        self.assertEqual(d.stop(), 0, d.output())
        out = d.output()
        self.assertEqual(out.count("write failed"), 1, "said more than once a minute:\n" + out)
        dropped = query(self.db, "SELECT detail FROM daemon_event WHERE kind = 'dropped'")
        self.assertEqual(len(dropped), 1, out)
        n_dropped = int(dropped[0][0].split()[0])
        # 3 s at 8 processes and their 8 rules' sums x 20 ticks a second, less the 100 kept.
        self.assertGreater(n_dropped, 200)
        # The backlog (the newest 100 entries when the space came back: process samples
        # and rules' sums) was written whole.
        written = query(self.db, "SELECT (SELECT count(*) FROM sample_recent WHERE t BETWEEN ?1 AND ?2) + "
                                 "(SELECT count(*) FROM rule_sample WHERE t BETWEEN ?1 AND ?2)",
                        (failed_ms, resumed_ms))[0][0]
        self.assertGreaterEqual(written, 100, "the backlog was not written")
        self.assertLess(rss1 - rss0, 4096, "memory grew while the disk was full")
        self.assertLessEqual(resumed, RETRY + INTERVAL + SLACK)
        self.assertEqual(query(self.db, "PRAGMA integrity_check"), [("ok",)])
        print("\ndisk full 3 s, backlog 100: %d dropped and counted, RSS %+d KiB, resumed %.2f s after the space "
              "came back" % (n_dropped, rss1 - rss0, resumed), file=sys.stderr)

    def test_kill9_while_full(self):
        """Killed while the disk is full: what was committed before is all there at the
        next start, which is clean once there is room."""
        d = self.start()
        wait_for(lambda: self.count() > 40, what="first samples")
        filler = self.fill()
        d.wait_log("write failed")
        before = set(query(self.db, "SELECT process_id, t FROM sample_recent"))
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        os.unlink(filler)
        d = self.start()
        wait_for(lambda: self.count() > len(before) + 40, what="samples after the restart")
        self.assertEqual(d.stop(), 0, d.output())
        self.assertNotIn("error", d.output())
        self.assertEqual(before - set(query(self.db, "SELECT process_id, t FROM sample_recent")), set())
        self.assertEqual(query(self.db, "PRAGMA integrity_check"), [("ok",)])

    def test_full_before_start(self):
        """No room to create the database at all: a clear error, exit 1, nothing left
        half-made that a later start would trip on."""
        filler = self.fill()
        conf = os.path.join(self.tmp, "e.conf")
        open(conf, "w").close()
        r = subprocess.run([DAEMON, "--config", conf, "--db",
                            self.db, "--runtime-dir", self.tmp, "--interval", str(INTERVAL)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot open database", r.stderr)
        os.unlink(filler)
        d = self.start()
        wait_for(lambda: self.count() > 10, what="samples once there is room")
        self.assertEqual(d.stop(), 0, d.output())


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


if __name__ == "__main__":
    import unittest
    unittest.main()
