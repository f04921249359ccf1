# SPDX-License-Identifier: GPL-2.0-or-later
"""The database's files tampered with while leakwatchd runs, or before it starts: the
-wal deleted, the database replaced by a symlink, bytes flipped, the lock taken by another
writer. Nothing a reader saw is lost, nothing outside the database is written, the daemon
never crashes, says what happened once, and recovers by itself."""

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

from lwtest import CLIENT, DAEMON, WAIT, Case, SampleReader, query, raw_rows, wait_for

INTERVAL = "0.05"
# How long a fault may go unseen: the daemon looks once per commit interval (here a
# tick); generous for a loaded machine, far below what a missed fault would take.
NOTICE = 10


def stored(db):
    return set(raw_rows(db, ("process_id", "t")))


def sound(db):
    return query(db, "PRAGMA integrity_check") == [("ok",)]


class Tamper(Case):
    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "lw.db")
        self.conf = os.path.join(self.tmp, "empty.conf")
        open(self.conf, "w").close()
        self.workers = [self.alloc("--steps", 1, "--step-kib", 64, "--hold-ms", 600000) for _ in range(4)]

    def start(self, *extra, db=None):
        args = ["--interval", INTERVAL] + list(extra)
        for w in self.workers:
            args += ["--pid", w.pid]
        d = self.daemon(*args, db=db or self.db)
        d.wait_log("watching with")
        return d

    def samples_after(self, t_ms):
        return query(self.db, "SELECT count(*) FROM sample_recent WHERE t > ?", (t_ms,))[0][0]


class TestWalDeleted(Tamper):
    def test_wal_deleted_while_running(self):
        """The -wal deleted under the running daemon, a reader looking meanwhile and at
        the stop: said once, repaired within a commit interval, nothing the reader saw
        lost (it was a 4 KiB file without a schema), the client reads again at once."""
        d = self.start()
        reader = SampleReader(self.db)
        reader.start()
        wait_for(lambda: len(reader.seen) > 40, what="samples seen")
        first = min(t for _, t in reader.seen)
        os.unlink(self.db + "-wal")
        deleted_ms = time.time() * 1000
        d.wait_log("repaired", timeout=NOTICE)
        # The client reads, and sees what was written after the deletion.
        wait_for(lambda: self.samples_after(deleted_ms) > 20, timeout=NOTICE, what="samples after the repair")
        r = subprocess.run([CLIENT, "--db", self.db, "--runtime-dir", self.tmp, "ps"], capture_output=True, text=True,
                           timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Stopped with another reader holding the database open.
        holder = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        holder.execute("SELECT count(*) FROM sample_batch").fetchall()
        self.assertEqual(d.stop(), 0, d.output())
        reader.finish()
        holder.close()
        out = d.output()
        self.assertEqual(out.count("write-ahead log (-wal or -shm) was deleted"), 1, out)
        self.assertEqual(out.count("repaired"), 1, out)
        self.assertTrue(sound(self.db))
        kept = stored(self.db)
        self.assertEqual(reader.seen - kept, set(), "samples a reader saw were lost")
        self.assertIn(first, {t for _, t in kept}, "the first samples were lost")
        self.assertEqual(query(self.db, "SELECT count(*) FROM daemon_event WHERE kind = 'repaired'"), [(1,)])
        print("\nwal deleted: reader saw %d samples (%d reads failed before the repair), lost %d"
              % (len(reader.seen), reader.failures, len(reader.seen - kept)), file=sys.stderr)


class TestSymlink(Tamper):
    def victim(self):
        path = os.path.join(self.tmp, "victim")
        with open(path, "w") as f:
            f.write("root:x:0:0:precious\n")
        return path

    def test_symlink_refused_at_start(self):
        """A symlink in the database's place at start is refused, its target untouched."""
        victim = self.victim()
        os.symlink(victim, self.db)
        r = subprocess.run([DAEMON, "--config", self.conf, "--db", self.db, "--runtime-dir", self.tmp,
                            "--interval", INTERVAL], capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("is a symbolic link: refused", r.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), "root:x:0:0:precious\n")
        self.assertTrue(os.path.islink(self.db))

    def test_replaced_by_symlink_while_running(self):
        """The database renamed away and a symlink put in its place while the daemon
        runs: the link is never followed (its target never written), the database takes
        its path back with everything in it, and the link is kept aside."""
        victim = self.victim()
        d = self.start()
        reader = SampleReader(self.db)
        reader.start()
        wait_for(lambda: len(reader.seen) > 40, what="samples seen")
        os.rename(self.db, os.path.join(self.tmp, "moved.db"))
        os.symlink(victim, self.db)
        d.wait_log("repaired", timeout=NOTICE)
        wait_for(lambda: self.samples_after(time.time() * 1000 - 1000) > 10, timeout=NOTICE,
                 what="samples after the repair")
        self.assertEqual(d.stop(), 0, d.output())
        reader.finish()
        with open(victim) as f:
            self.assertEqual(f.read(), "root:x:0:0:precious\n")
        self.assertFalse(os.path.islink(self.db))
        aside = [n for n in os.listdir(self.tmp) if n.startswith("lw.db.displaced-")]
        self.assertEqual(len(aside), 1, os.listdir(self.tmp))
        self.assertTrue(os.path.islink(os.path.join(self.tmp, aside[0])))
        self.assertTrue(sound(self.db))
        self.assertEqual(reader.seen - stored(self.db), set())
        self.assertEqual(d.output().count("the database file was deleted, moved or replaced"), 1)


class TestByteFlips(Tamper):
    MUTATIONS = 40

    def make_baseline(self):
        """A database of about a second of samples, stopped cleanly (all in the file)."""
        d = self.start()
        wait_for(lambda: query(self.db, "SELECT count(*) FROM sample_recent")[0][0] > 60, what="samples")
        self.assertEqual(d.stop(), 0, d.output())
        baseline = os.path.join(self.tmp, "baseline.db")
        shutil.copy(self.db, baseline)
        return baseline

    def test_flipped_bytes_at_start(self):
        """Bytes flipped anywhere in a stopped database, header included: leakwatchd never
        crashes. It starts (setting a damaged file aside, keeping what it can read, when
        the damage is in what it reads as it starts: the header, the schema, its rules,
        processes and alerts) or refuses with the reason (a file that no longer begins as
        SQLite's, a version from the future). Damage elsewhere is found where it is read
        (a full check at each start would cost a second per 100 MB); it is counted."""
        baseline = self.make_baseline()
        size = os.path.getsize(baseline)
        rng = random.Random(int(os.environ.get("LEAKWATCH_SEED", time.time_ns() % 100000)))
        outcomes = {"ran": 0, "set aside": 0, "refused": 0, "ran, damage not read yet": 0}
        for trial in range(self.MUTATIONS):
            for name in os.listdir(self.tmp):
                if name.startswith("lw.db"):
                    os.unlink(os.path.join(self.tmp, name))
            data = bytearray(open(baseline, "rb").read())
            # Some trials hit the first page (header and schema), the rest anywhere.
            span = 4096 if trial % 4 == 0 else size
            for _ in range(rng.randint(1, 32)):
                data[rng.randrange(span)] ^= 1 << rng.randrange(8)
            with open(self.db, "wb") as f:
                f.write(data)
            args = [DAEMON, "--config", self.conf, "--db", self.db, "--runtime-dir", self.tmp,
                    "--interval", INTERVAL, "--pid", str(self.workers[0].pid)]
            log = os.path.join(self.tmp, "flip.log")
            with open(log, "w") as f:
                p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
            # Running (a few ticks after it is ready), or gone by itself.
            wait_for(lambda: p.poll() is not None or "watching with" in open(log).read(), what="start or exit")
            if p.poll() is None:
                time.sleep(0.3)
                p.send_signal(signal.SIGTERM)
            p.wait(WAIT)
            out = open(log).read()
            self.assertGreaterEqual(p.returncode, 0, "killed by a signal:\n" + out)
            self.assertNotIn("AddressSanitizer", out)
            if p.returncode == 0:
                try:
                    ok = sound(self.db)
                except sqlite3.DatabaseError:
                    ok = False
                if "was damaged: moved to" in out:
                    self.assertTrue(ok, out)
                    outcomes["set aside"] += 1
                else:
                    outcomes["ran" if ok else "ran, damage not read yet"] += 1
            else:
                self.assertEqual(p.returncode, 1, out)
                self.assertIn("cannot open database", out)
                outcomes["refused"] += 1
        print("\nbyte flips at start: %d mutations: %s" % (self.MUTATIONS, outcomes), file=sys.stderr)

    def test_damaged_free_list_at_start(self):
        """Damage the opening's checks do not read, met by the first write of the start
        (here the free list's first page, when new rules take a page): the damaged file
        is set aside as damage found at the opening is, and the daemon starts."""
        baseline = self.make_baseline()
        data = bytearray(open(baseline, "rb").read())
        page_size = int.from_bytes(data[16:18], "big")
        trunk = int.from_bytes(data[32:36], "big")
        self.assertGreater(trunk, 0, "the baseline has free pages (dropped tables' among them)")
        at = (trunk - 1) * page_size
        # A trunk page that claims more leaf pages than a page can list.
        data[at + 4:at + 8] = (0xffffff).to_bytes(4, "big")
        with open(self.db, "wb") as f:
            f.write(data)
        # More rules than the rule table's page holds: recording them takes a page.
        conf = os.path.join(self.tmp, "many.conf")
        with open(conf, "w") as f:
            for i in range(200):
                f.write("[rule r%03d-%s]\nname = lwnothing%03d\n" % (i, "x" * 55, i))
        r = subprocess.run([DAEMON, "--config", conf, "--db", self.db, "--runtime-dir", self.tmp,
                            "--interval", INTERVAL, "--check-config"], capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(r.returncode, 0, r.stderr)
        d = self.daemon("--config", conf, "--interval", INTERVAL, db=self.db)
        d.wait_log("watching with")
        self.assertEqual(d.stop(), 0, d.output())
        self.assertIn("was damaged: moved to", d.output())
        self.assertTrue(sound(self.db))
        self.assertEqual(query(self.db, "SELECT count(*) FROM rule WHERE name LIKE 'r___-xxx%'")[0][0], 200)

    def test_damaged_table_at_start_is_set_aside(self):
        """A table the daemon reads as it starts, damaged: it starts anyway, with the
        damaged file set aside and every readable row (the samples here) kept."""
        baseline = self.make_baseline()
        kept = stored(baseline)
        root = query(baseline, "SELECT rootpage FROM sqlite_schema WHERE name = 'process'")[0][0]
        os.unlink(self.db)
        with open(baseline, "rb") as f:
            data = bytearray(f.read())
        data[(root - 1) * 4096:(root - 1) * 4096 + 8] = b"\x0b\xff\xff\xff\xff\xff\xff\xff"
        with open(self.db, "wb") as f:
            f.write(data)
        d = self.start()
        self.assertIn("was damaged: moved to", d.output())
        self.assertEqual(d.stop(), 0, d.output())
        self.assertTrue(sound(self.db))
        self.assertEqual(kept - stored(self.db), set(), "readable samples were not kept")
        self.assertEqual(len([n for n in os.listdir(self.tmp) if n.startswith("lw.db.damaged-")
                              and not n.endswith("-wal")]), 1)

    def test_flipped_while_running(self):
        """Damage written into the database behind the running daemon's back (its page
        cache would hide it): found, said once, the file set aside and a sound one in its
        place; the daemon goes on."""
        baseline = self.make_baseline()
        d = self.start()
        time.sleep(0.3)
        size = os.path.getsize(self.db)
        fd = os.open(self.db, os.O_RDWR)
        try:
            for page in range(1, size // 4096):
                head = bytearray(os.pread(fd, 4, page * 4096))
                head[0] ^= 0xff
                head[3] ^= 0x55
                os.pwrite(fd, bytes(head), page * 4096)
        finally:
            os.close(fd)
        d.wait_log("repaired", timeout=NOTICE)
        since = time.time() * 1000
        wait_for(lambda: self.samples_after(since) > 10, timeout=NOTICE, what="samples after the repair")
        self.assertEqual(d.stop(), 0, d.output())
        out = d.output()
        self.assertEqual(out.count("SQLite found the database damaged"), 1, out)
        self.assertTrue(sound(self.db))
        # The processes the daemon watches have their rows again.
        self.assertEqual(query(self.db, "SELECT count(*) FROM process")[0][0], len(self.workers))
        os.unlink(baseline)


class TestLocked(Tamper):
    def test_locked_by_another_writer(self):
        """Another writer holds the write lock for 2 s: the daemon says so once, keeps
        sampling into its backlog, and writes it all when the lock is released."""
        d = self.start()
        reader = SampleReader(self.db)
        reader.start()
        wait_for(lambda: len(reader.seen) > 20, what="samples seen")
        other = sqlite3.connect(self.db, timeout=10, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked_ms = time.time() * 1000
        d.wait_log("write failed", timeout=NOTICE)
        time.sleep(2)
        self.assertTrue(d.alive())
        other.execute("COMMIT")
        other.close()
        released_ms = time.time() * 1000
        d.wait_log("writable again", timeout=NOTICE)
        self.assertEqual(d.stop(), 0, d.output())
        reader.finish()
        out = d.output()
        self.assertEqual(out.count("write failed"), 1, "the failure must be said once, not per tick:\n" + out)
        self.assertIn("0 samples dropped", out)
        # Sampling went on, on schedule but for the retries' waits (a 200 ms busy
        # timeout once a second), and all of it was written afterwards.
        during = self.samples_after(locked_ms) - self.samples_after(released_ms)
        expected = len(self.workers) * (released_ms - locked_ms) / 1000 / float(INTERVAL)
        print("\nlocked %.1f s: %d samples taken and kept of %d ticks' worth" %
              ((released_ms - locked_ms) / 1000, during, expected), file=sys.stderr)
        self.assertGreater(during, expected / 3, "sampling stalled, or samples taken while locked were lost")
        self.assertEqual(reader.seen - stored(self.db), set())
        self.assertTrue(sound(self.db))


if __name__ == "__main__":
    import unittest
    unittest.main()
