# SPDX-License-Identifier: GPL-2.0-or-later
"""The daemon's life as an operator lives it: SIGTERM in the middle of its writes, SIGHUP
with a broken configuration, the wall clock jumping, and a reader that holds the
database for a long time while the daemon writes."""

import collections
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from lwtest import CLIENT, Case, query, raw_rows, wait_for
from lwadv import figure

FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
# lib/store.c: after a checkpoint the WAL is truncated back to this size.
WAL_SIZE_LIMIT = 16 << 20


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def keys(db):
    """Every stored sample, as (process row, time)."""
    return set(raw_rows(db, ("process_id", "t")))


class TestTerminate(Case):
    """L1: SIGTERM at random moments while twenty processes are sampled every 50 ms and
    a second's worth of samples waits for each commit: the daemon exits 0 within 2 s,
    every sample a reader saw committed is still there, the pending ones are written
    (the newest sample is from the last moments before the signal), and the database is
    intact for the next start."""

    def test_sigterm_mid_transaction(self):
        conf = os.path.join(self.tmp, "term.conf")
        write(conf, "[daemon]\ninterval = 0.05\ncommit-interval = 1s\n[rule t]\nname = lwterm\n")
        for _ in range(20):
            self.alloc("--step-kib", 4, "--every-ms", 50, "--steps", 100000, "--name", "lwterm")
        rng = random.Random(os.getpid())
        trials, lost, worst_exit, worst_tail = 8, 0, 0.0, 0
        db = os.path.join(self.tmp, "term.db")
        for trial in range(trials):
            d = self.daemon("--config", conf, db=db)
            d.wait_log("watching")
            time.sleep(rng.uniform(1.0, 2.0))
            seen = keys(db)
            t_sig = int(time.time() * 1000)
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            d.proc.wait(timeout=30)
            took = time.monotonic() - t0
            self.assertEqual(d.proc.returncode, 0, d.output())
            d.stop()
            after = keys(db)
            lost += len(seen - after)
            newest = max(t for _, t in after)
            worst_exit = max(worst_exit, took)
            worst_tail = max(worst_tail, t_sig - newest)
            self.assertEqual(query(db, "PRAGMA integrity_check"), [("ok",)])
        figure("test_lifecycle.L1-sigterm", trials=trials, lost_seen_samples=lost,
               max_exit_s="%.2f" % worst_exit, max_ms_between_newest_sample_and_signal=worst_tail)
        self.assertEqual(lost, 0, "samples a reader saw were lost")
        self.assertLess(worst_exit, 2.0, "SIGTERM to exit")
        # A commit-interval of 1 s: without the final write, up to a second is missing.
        self.assertLess(worst_tail, 500, "the samples waiting for a commit were written at exit")


class TestBrokenPipe(Case):
    """A hook that exits without reading the JSON on its standard input leaves the
    daemon writing into a pipe nobody reads: SIGPIPE, whose default is to kill. Seen
    under load (test_exec.py's daemon died of it); here made certain by sending the
    signal: the daemon must survive it and go on sampling."""

    def test_sigpipe_does_not_kill(self):
        conf = os.path.join(self.tmp, "pipe.conf")
        write(conf, "[daemon]\ninterval = 0.1\n[rule me]\npid = %d\n" % os.getpid())
        d = self.daemon("--config", conf)
        d.wait_log("watching")
        d.signal(signal.SIGPIPE)
        n0 = query(d.db, "SELECT count(*) FROM sample_recent")[0][0]
        wait_for(lambda: not d.alive() or query(d.db, "SELECT count(*) FROM sample_recent")[0][0] >= n0 + 10,
                 what="samples after SIGPIPE")
        self.assertTrue(d.alive(), "SIGPIPE killed the daemon: %r" % d.proc.returncode)
        self.assertEqual(d.stop(), 0, d.output())


class TestReload(Case):
    """L1: SIGHUP with a configuration that has an error keeps the running one, says
    file:line and why; a good one then takes effect."""

    def test_sighup_bad_config_keeps_the_old_one(self):
        conf = os.path.join(self.tmp, "hup.conf")
        write(conf, "[daemon]\ninterval = 0.1\n[rule a]\nname = lwhup-a\n")
        a = self.alloc("--step-kib", 4, "--every-ms", 100, "--steps", 100000, "--name", "lwhup-a")
        b = self.alloc("--step-kib", 4, "--every-ms", 100, "--steps", 100000, "--name", "lwhup-b")
        d = self.daemon("--config", conf)
        d.wait_log("watching")

        def watched(pid):
            return query(d.db, "SELECT count(*) FROM process WHERE pid = ? AND end_ms IS NULL", (pid,))[0][0] > 0
        wait_for(lambda: watched(a.pid), what="the first rule's process")
        # Line 4 is wrong: an interval that is no duration; the new rule must not apply.
        write(conf, "[daemon]\ninterval = 0.1\n[rule b]\ninterval = banana\nname = lwhup-b\n")
        d.signal(signal.SIGHUP)
        d.wait_log("keeping the running configuration")
        self.assertRegex(d.output(), r"%s:4: " % conf.replace(".", r"\."))
        n0 = query(d.db, "SELECT count(*) FROM sample_recent s JOIN process p ON p.id = s.process_id "
                         "WHERE p.pid = ?", (a.pid,))[0][0]
        wait_for(lambda: query(d.db, "SELECT count(*) FROM sample_recent s JOIN process p ON p.id = s.process_id "
                                     "WHERE p.pid = ?", (a.pid,))[0][0] >= n0 + 10, what="sampling under the old rules")
        self.assertFalse(watched(b.pid), "the refused configuration's rule is not in force")
        write(conf, "[daemon]\ninterval = 0.1\n[rule b]\nname = lwhup-b\n")
        d.signal(signal.SIGHUP)
        d.wait_log("configuration reloaded")
        wait_for(lambda: watched(b.pid) and not watched(a.pid), what="the new rules in force")
        self.assertTrue(d.alive())
        self.assertEqual(d.stop(), 0, d.output())
        figure("test_lifecycle.L1-sighup", refused=1, reloaded=1)


# Under libfaketime with the wall clock set back an hour: does an absolute
# CLOCK_MONOTONIC timerfd deadline 0.3 s ahead still fire (as it does when the real clock
# jumps)? sd-event arms its timers this way.
TIMERFD_PROBE = r"""
import ctypes, select, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class TS(ctypes.Structure):
    _fields_ = [("s", ctypes.c_long), ("ns", ctypes.c_long)]
class ITS(ctypes.Structure):
    _fields_ = [("interval", TS), ("value", TS)]
fd = libc.timerfd_create(1, 0)                      # CLOCK_MONOTONIC
at = time.clock_gettime(time.CLOCK_MONOTONIC) + 0.3
spec = ITS(TS(0, 0), TS(int(at), int(at % 1 * 1e9)))
if libc.timerfd_settime(fd, 1, ctypes.byref(spec), None) != 0:   # TFD_TIMER_ABSTIME
    print("refused (errno %d)" % ctypes.get_errno())
    sys.exit()
print("fired" if select.select([fd], [], [], 3)[0] else "did not fire within 3 s")
"""


class TestClockJump(Case):
    """L1: the wall clock jumping an hour forward and back (libfaketime) must not bend
    the series the detector judges: sample times come from the monotonic clock."""

    def test_clock_jumps(self):
        if not os.path.exists(FAKETIME):
            self.skipTest("libfaketime is missing (Debian package libfaketime; tools/install-deps --tests)")
        rc = os.path.join(self.tmp, "faketime.rc")
        write(rc, "+0\n")
        env = dict(os.environ, LD_PRELOAD=FAKETIME, FAKETIME_TIMESTAMP_FILE=rc, FAKETIME_NO_CACHE="1",
                   FAKETIME_DONT_FAKE_MONOTONIC="1",
                   # A sanitizer build wants its runtime first; libfaketime comes first here.
                   ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":"))
        write(rc, "-1h\n")
        probe = subprocess.run([sys.executable, "-c", TIMERFD_PROBE], env=env, stdout=subprocess.PIPE,
                               timeout=30).stdout.decode().strip()
        if probe != "fired":
            # libfaketime 0.9.10 moves absolute CLOCK_MONOTONIC timerfd deadlines by the
            # fake offset too, which no real clock jump does: the daemon's timers would
            # stop (or spin) for the jump's length, an artifact of the tool.
            self.skipTest("libfaketime shifts monotonic timerfd deadlines by the fake wall-clock offset "
                          "(a deadline 0.3 s ahead, the wall clock an hour back: %s), so it cannot stand in for a "
                          "real clock jump here" % probe)
        write(rc, "+0\n")
        flat = self.alloc("--step-kib", 1024, "--every-ms", 100, "--steps", 100000, "--free", "--name", "lwclock")
        d = self.daemon("--interval", "0.1", "--window", "1m", "--pid", flat.pid, env=env)
        d.wait_log("watching")
        for jump in ("+1h", "-1h", "+0"):
            write(rc, jump + "\n")
            time.sleep(2)
        self.assertTrue(d.alive(), d.output())
        self.assertEqual(d.stop(), 0, d.output())
        ts = [r[0] for r in query(d.db, "SELECT t FROM sample_recent ORDER BY t")]
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        self.assertTrue(gaps and min(gaps) > 0 and max(gaps) < 5000, "sample times across the jumps: %r" % gaps)
        self.assertEqual(query(d.db, "SELECT count(*) FROM alert")[0][0], 0)


class TestLongReader(Case):
    """S5 (tt3_checkpoint, opsqueue#85): a reader holds one read transaction for 15 s
    while four clients read in a loop and the daemon writes twenty processes every 50 ms.
    No sample is lost to a busy database (every tick of every process is stored, none
    dropped or pending at the end), and once the reader lets go the WAL is brought back
    under its limit."""

    def test_reader_holding_a_snapshot(self):
        conf = os.path.join(self.tmp, "s5.conf")
        write(conf, "[daemon]\ninterval = 0.05\n[rule r]\nname = lwread\n")
        for _ in range(20):
            self.alloc("--step-kib", 4, "--every-ms", 50, "--steps", 100000, "--name", "lwread")
        d = self.daemon("--config", conf)
        d.wait_log("watching")
        wal = d.db + "-wal"
        wait_for(lambda: query(d.db, "SELECT count(*) FROM process WHERE end_ms IS NULL")[0][0] >= 20,
                 what="the twenty processes")
        stop = threading.Event()
        loops = [0]
        env = dict(os.environ, LEAKWATCH_DB=d.db, LEAKWATCH_RUNTIME_DIR=self.tmp)

        def client():
            while not stop.is_set():
                subprocess.run([CLIENT, "ps"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
                loops[0] += 1
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        con = sqlite3.connect("file:%s?mode=ro" % d.db, uri=True)
        con.execute("BEGIN")
        con.execute("SELECT count(*) FROM sample_batch").fetchone()
        t_begin = int(time.time() * 1000)
        max_wal = 0
        end = time.monotonic() + 15
        while time.monotonic() < end:
            max_wal = max(max_wal, os.path.getsize(wal) if os.path.exists(wal) else 0)
            time.sleep(0.2)
        con.rollback()
        con.close()
        t_end = int(time.time() * 1000)
        stop.set()
        for t in threads:
            t.join()
        wait_for(lambda: os.path.getsize(wal) <= WAL_SIZE_LIMIT, timeout=30, what="the WAL back under its limit")
        time.sleep(0.5)
        out = subprocess.run([CLIENT, "status", "--json"], stdout=subprocess.PIPE, env=env, check=True).stdout
        live = json.loads(out)["daemon"]["live"]
        # Every watched process has a sample at every tick of the held stretch: its
        # count matches the ticks (the interval, with the scheduler's slack).
        held = collections.Counter(p for p, t in raw_rows(d.db, ("process_id", "t"))
                                   if t_begin + 1000 <= t < t_end - 1000)
        per = sorted(held.items())
        ticks = (t_end - t_begin - 2000) / 50.0
        self.assertEqual(d.stop(), 0, d.output())
        figure("test_lifecycle.S5", held_s=15, client_reads=loops[0], max_wal_bytes=max_wal,
               wal_after=os.path.getsize(wal) if os.path.exists(wal) else 0,
               samples_dropped=live["samples_dropped"], min_samples_per_process=min(c for _, c in per),
               ticks=int(ticks))
        self.assertEqual(live["samples_dropped"], 0)
        self.assertNotIn("write failed", d.output())
        self.assertEqual(len(per), 20)
        # A tick that ran late skips the grid points it missed (daemon/pace.h), for every
        # process alike: the processes of one tick are all stored or none.
        self.assertEqual(len({c for _, c in per}), 1, "every process has the same samples: %r" % per)
        self.assertGreater(min(c for _, c in per), 0)
