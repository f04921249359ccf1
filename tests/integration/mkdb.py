# SPDX-License-Identifier: GPL-2.0-or-later
"""Builds a small leakwatch database with known contents, for the client's golden tests.

The rows are written directly, in the shapes the daemon writes them (sql/*.sql): raw
samples packed in `sample_block` (by lwblock, the format of store/block.h) and, for the
last minutes, in batches of `sample_batch` (lwblock too); minute and hour
rollups computed from the same samples as the daemon's fold computes them; older raw
samples and minute rollups pruned as retention would. Alerts, verdicts and hook runs
are those the detection engine writes (same schema). Everything is deterministic:
the clock is NOW, the noise comes from a seeded generator.

    python3 mkdb.py PATH        # writes PATH (replacing it)
"""

import math
import os
import random
import sqlite3
import sys

import lwblock

HERE = os.path.dirname(os.path.abspath(__file__))
SQL_DIR = os.path.join(HERE, "..", "..", "sql")

NOW = 1795521600000            # 2026-11-24T12:00:00Z: tests run with LEAKWATCH_NOW set to it
NOW_ISO = "2026-11-24T12:00:00Z"
MIN = 60 * 1000
HOUR = 60 * MIN
DAY = 24 * HOUR
KIB = 1024
MIB = 1024 * KIB

INTERVAL = MIN                  # one sample a minute keeps the file small
FOLDED_UPTO = NOW - 10 * MIN    # newer samples wait in sample_batch
RAW_KEEP = 2 * DAY              # retention: raw samples
MINUTE_KEEP = 2 * DAY + 12 * HOUR  # minute rollups (shorter than the default, to show all three)

BOOT = "5c1d7e0a-0000-4000-8000-000000000001"
OLD_BOOT = "5c1d7e0a-0000-4000-8000-000000000000"

METRICS = ["rss", "anon", "file", "shmem", "swap", "data", "vsize", "threads", "fds", "minflt", "majflt",
           "pss", "uss", "pss_anon", "swap_pss", "heap_size", "heap_rss"]
ROLLUP = ["rss", "anon", "file", "shmem", "swap", "vsize", "fds", "pss", "uss"]
# The packed "unknown" reasons (lib/sample.h): groups stat, status, fds, smaps, heap,
# 4 bits each; smaps and heap are "skipped" (7) between their rate-limited reads.
SKIPPED_SMAPS = (7 << 12) | (7 << 16)


def schema(con):
    files = sorted(f for f in os.listdir(SQL_DIR) if f.endswith(".sql"))
    for f in files:
        version = int(f.split("-")[0])
        with open(os.path.join(SQL_DIR, f)) as fh:
            con.executescript("BEGIN;" + fh.read() + "PRAGMA user_version = %d; COMMIT;" % version)


class Proc:
    """One process: identity and a function giving its memory (KiB) at time t."""

    def __init__(self, pid_row, pid, comm, cmdline, rule, start, end=None, unit=None, parent=None,
                 boot=BOOT, end_reason=None, anon=None, fds=None, uid=1000):
        self.id = pid_row
        self.pid = pid
        self.comm = comm
        self.cmdline = cmdline
        self.rule = rule
        self.start = start
        self.end = end
        self.unit = unit
        self.parent = parent
        self.boot = boot
        self.end_reason = end_reason
        self.anon = anon
        self.fds = fds or (lambda t: 32)
        self.uid = uid

    def sample(self, t, k):
        anon = int(self.anon(t))
        swap = 0
        file_ = 20 * 1024
        shmem = 1024
        row = {
            "rss": anon + file_ + shmem, "anon": anon, "file": file_, "shmem": shmem, "swap": swap,
            "data": anon + 4096, "vsize": anon + 300 * 1024, "threads": 8, "fds": int(self.fds(t)),
            "minflt": 1000 + k * 7, "majflt": 3,
            "pss": None, "uss": None, "pss_anon": None, "swap_pss": None, "heap_size": None, "heap_rss": None,
        }
        unknown = SKIPPED_SMAPS
        if k % 6 == 0:
            row.update(pss=anon + file_ // 2, uss=anon, pss_anon=anon, swap_pss=0, heap_size=anon // 2,
                       heap_rss=anon // 2)
            unknown = 0
        return row, unknown


def text(b):
    """Bytes as SQLite TEXT, exactly (the daemon stores the kernel's bytes)."""
    return b.decode("utf-8", "surrogateescape") if isinstance(b, bytes) else b


def build(path):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    rnd = random.Random(20261124)
    con = sqlite3.connect(path)
    # Process names are bytes: store them as blobs cast to text so invalid UTF-8 survives.
    con.text_factory = bytes
    con.execute("PRAGMA journal_mode = WAL")
    schema(con)

    def sawtooth(base, amp, period):
        return lambda t: base + amp * ((t % period) / period)

    leak_start = NOW - 30 * HOUR

    def leaking(t):
        # 200 MiB, a GC sawtooth of 24 MiB every 7 minutes, then 2 MiB/h from leak_start.
        v = 200 * 1024 + 24 * 1024 * ((t % (7 * MIN)) / (7 * MIN))
        if t > leak_start:
            v += 2 * 1024 * (t - leak_start) / HOUR
        return v + rnd.uniform(0, 256)

    def fd_leak(t):
        return 40 + max(0, (t - (NOW - 8 * HOUR)) // (10 * MIN))

    procs = [
        Proc(1, 4242, b"webapp", b"/usr/bin/webapp --port 8080 --workers 4", "web", NOW - 3 * DAY,
             unit="webapp.service", anon=leaking),
        Proc(2, 4250, b"webapp-worker", b"/usr/bin/webapp --worker", "web", NOW - 3 * DAY + 5 * MIN,
             unit="webapp.service", parent=1, anon=sawtooth(80 * 1024, 8 * 1024, 5 * MIN)),
        Proc(3, 900, b"postgres", b"/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main", "db",
             NOW - 3 * DAY, unit="postgresql.service", anon=sawtooth(512 * 1024, 64 * 1024, 11 * MIN), uid=107),
        # Terminal escapes and a bell in the name, an OSC title change in the command line.
        Proc(4, 666, b"evil\x1b[31mred\x07", b"/tmp/evil \x1b]0;pwned\x07 --x", "host", NOW - 20 * HOUR,
             anon=sawtooth(60 * 1024, 2 * 1024, 3 * MIN), fds=fd_leak),
        # Bytes that are not UTF-8, a right-to-left override and a newline.
        Proc(5, 777, b"bad\xff\xfename", "run\u202egpj.exe\nsecond line".encode(), "host", NOW - 2 * DAY,
             end=NOW - 20 * HOUR, end_reason="exited", anon=sawtooth(40 * 1024, 1024, 4 * MIN)),
        Proc(6, 1001, b"worker", b"/usr/bin/worker --queue a", "host", NOW - 26 * HOUR,
             anon=sawtooth(36 * 1024, 1024, 6 * MIN)),
        Proc(7, 1002, b"worker", b"/usr/bin/worker --queue b", "host", NOW - 25 * HOUR,
             anon=sawtooth(38 * 1024, 1024, 6 * MIN)),
        # PID 4242 was used before, in the previous boot.
        Proc(8, 4242, b"oldapp", b"/usr/bin/oldapp", "host", NOW - 6 * DAY, end=NOW - 5 * DAY - 12 * HOUR,
             boot=OLD_BOOT, end_reason="reboot", anon=sawtooth(50 * 1024, 1024, 5 * MIN)),
    ]
    rules = {"web": (1, "name=webapp* children"), "db": (2, "unit=postgresql.service"),
             "host": (3, "all processes min-rss=32.0 MiB")}
    for name, (rid, spec) in rules.items():
        con.execute("INSERT INTO rule (id, name, spec, first_ms, last_ms) VALUES (?, ?, ?, ?, ?)",
                    (rid, name, spec, NOW - 6 * DAY, NOW - 2 * DAY))

    cols = ", ".join(METRICS)
    marks = ", ".join("?" for _ in METRICS)
    rule_sums = {}
    recent = []
    for p in procs:
        con.execute(
            "INSERT INTO process (id, boot_id, pid, start_ticks, start_ms, ppid, uid, comm, cmdline, unit, cgroup, "
            "rule_id, generation, parent_id, first_ms, last_ms, end_ms, end_reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, 1, ?, ?, ?, ?, ?)",
            (p.id, p.boot, p.pid, 10000 + p.id, p.start - 2000, 1, p.uid, p.comm, p.cmdline, p.unit,
             "/system.slice/%s" % p.unit if p.unit else "/user.slice", rules[p.rule][0], p.parent, p.start,
             p.end or p.start, p.end, p.end_reason))
        last = p.end or NOW
        t = p.start
        k = 0
        minute, hour = {}, {}
        folded = []
        while t <= last:
            row, unknown = p.sample(t, k)
            if t >= FOLDED_UPTO:
                recent.append(dict(row, t=t, unknown=unknown, process_id=p.id))
            else:
                if t >= NOW - RAW_KEEP:
                    folded.append(dict(row, t=t, unknown=unknown))
                for res, acc in ((MIN, minute), (HOUR, hour)):
                    acc.setdefault(t - t % res, []).append(row)
            if p.rule == "web" and t >= NOW - 2 * DAY:
                s = rule_sums.setdefault(t, [0, {m: 0 for m in METRICS}])
                s[0] += 1
                for m in METRICS:
                    if row[m] is not None:
                        s[1][m] += row[m]
            t += INTERVAL
            k += 1
        # Blocks of 32 samples: within a block's 975 bytes (store/block.h) at this
        # shape, as the fold's blocks are.
        for i in range(0, len(folded), 32):
            chunk = folded[i:i + 32]
            con.execute("INSERT INTO sample_block (process_id, t0, t1, n, data) VALUES (?, ?, ?, ?, ?)",
                        (p.id, chunk[0]["t"], chunk[-1]["t"], len(chunk), lwblock.encode(chunk, max_bytes=975)))
        for res, acc in ((MIN, minute), (HOUR, hour)):
            for bt, rows in sorted(acc.items()):
                if res == MIN and bt < NOW - MINUTE_KEEP:
                    continue
                vals = []
                for m in ROLLUP:
                    xs = [r[m] for r in rows if r[m] is not None]
                    vals += [min(xs), max(xs), sum(xs) / len(xs)] if xs else [None, None, None]
                con.execute("INSERT INTO rollup (process_id, res, t, n, %s) VALUES (?, ?, ?, ?, %s)"
                            % (", ".join("%s_min, %s_max, %s_avg" % (m, m, m) for m in ROLLUP),
                               ", ".join("?" for _ in range(3 * len(ROLLUP)))),
                            [p.id, res, bt, len(rows)] + vals)
    # The writer's order: a tick's processes together.
    lwblock.insert_recent(con, sorted(recent, key=lambda r: (r["t"], r["process_id"])))
    for t, (n, sums) in sorted(rule_sums.items()):
        con.execute("INSERT INTO rule_sample (rule_id, generation, t, nproc, %s, unknown) VALUES (1, 1, ?, ?, %s, 0)"
                    % (cols, marks), [t, n] + [sums[m] for m in METRICS])

    # What the detection engine writes: state changes, alerts, hook runs.
    slope = 2 * MIB / 3600.0
    verdicts = [
        (1, 1, None, NOW - 2 * DAY, "memory", "ok", "ok", 0, None, None, None, None, None, 200 * MIB, None, None,
         None, None, None),
        (2, 1, None, NOW - 7 * HOUR - 30 * MIN, "memory", "suspect", "ok", 0, slope * 0.98, slope * 0.80,
         slope * 1.15, 11.8 * MIB, 0.056, 244 * MIB, 0.0004, None, NOW - 13 * HOUR - 30 * MIN,
         NOW - 7 * HOUR - 30 * MIN, "floor rising in every quarter"),
        (3, 1, 1, NOW - 6 * HOUR, "memory", "leaking", "suspect", 1, slope, slope * 0.85, slope * 1.12, 12 * MIB,
         0.057, 247 * MIB, 0.0001, 9 * HOUR, NOW - 12 * HOUR, NOW - 6 * HOUR, "floor rising in every quarter"),
        (4, 3, None, NOW - 3 * DAY + 6 * HOUR, "memory", "suspect", "ok", 0, 900.0, 300.0, 1500.0, 19 * MIB, 0.04,
         520 * MIB, 0.005, None, None, None, "floor rising in every quarter"),
        (5, 3, 2, NOW - 3 * DAY + 8 * HOUR, "memory", "leaking", "suspect", 1, 1000.0, 400.0, 1600.0, 21 * MIB,
         0.041, 530 * MIB, 0.003, None, None, None, "floor rising in every quarter"),
        (6, 3, 2, NOW - 2 * DAY - 12 * HOUR, "memory", "recovered", "leaking", 0, 10.0, -50.0, 60.0, 0.2 * MIB,
         0.0, 531 * MIB, 0.4, None, None, None, "no new floor high"),
        (7, 3, None, NOW - 2 * DAY, "memory", "ok", "recovered", 0, None, None, None, None, None, None,
         None, None, None, None, "cool-down over"),
        (8, 4, None, NOW - 2 * HOUR, "fds", "suspect", "ok", 0, 1.0 / 600, 0.8 / 600, 1.2 / 600, 36.0, 0.9,
         76.0, 0.002, None, None, None, "floor rising in every quarter"),
        (9, 5, 3, NOW - 22 * HOUR, "memory", "leaking", "suspect", 1, 300.0, 200.0, 400.0, 6 * MIB, 0.15,
         41 * MIB, 0.0008, None, None, None, "floor rising in every quarter"),
    ]
    con.executemany("INSERT INTO verdict (id, process_id, alert_id, t, metric, state, previous, escalated, slope, "
                    "slope_low, slope_high, growth, growth_rel, level, p_value, forecast_s, evidence_from, "
                    "evidence_to, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    verdicts)
    alerts = [
        (1, 1, 1, "memory", "leaking", NOW - 6 * HOUR, None, None, NOW - 2 * HOUR, slope, slope * 0.85,
         slope * 1.12, 12 * MIB, 0.057, 256 * MIB, 0.0001, 7200.0, "cgroup", NOW - 12 * HOUR, NOW - 6 * HOUR,
         "floor rising in every quarter", "steady"),
        (2, 3, 2, "memory", "recovered", NOW - 3 * DAY + 8 * HOUR, NOW - 2 * DAY - 12 * HOUR, "recovered", None,
         1000.0, 400.0, 1600.0, 21 * MIB, 0.041, 530 * MIB, 0.003, None, None, NOW - 3 * DAY + 2 * HOUR,
         NOW - 3 * DAY + 8 * HOUR, "floor rising in every quarter", "step"),
        (3, 5, 3, "memory", "ended", NOW - 22 * HOUR, NOW - 20 * HOUR, "process ended", None, 300.0, 200.0,
         400.0, 6 * MIB, 0.15, 41 * MIB, 0.0008, None, None, None, None, "floor rising in every quarter", None),
    ]
    con.executemany("INSERT INTO alert (id, process_id, rule_id, metric, state, start_ms, end_ms, end_reason, "
                    "escalated_ms, slope, slope_low, slope_high, growth, growth_rel, level, p_value, forecast_s, "
                    "limit_kind, evidence_from, evidence_to, reason, kind) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", alerts)
    hooks = [
        (1, 1, "start", "/usr/local/bin/page-oncall memory leak", NOW - 6 * HOUR, NOW - 6 * HOUR + 1200, 0, None,
         0, b"paged: incident 1234\n"),
        (2, 1, "escalate", "/usr/local/bin/page-oncall memory leak", NOW - 2 * HOUR, NOW - 2 * HOUR + 30000, None,
         None, 1, b"\x1b]0;pwned\x07still waiting\n"),
        (3, 2, "end", "/usr/local/bin/ticket", NOW - 2 * DAY - 12 * HOUR, NOW - 2 * DAY - 12 * HOUR + 500, 2,
         None, 0, b"ticket: error\n"),
    ]
    con.executemany("INSERT INTO hook_run (id, alert_id, event, program, start_ms, end_ms, exit_code, signal, "
                    "timed_out, output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT))", hooks)
    # What the recovered alert #2 was raised on (the detector's confirmation), kept as it
    # was, and its latest evaluation when it recovered: a forecast of days then is not
    # why it was raised. Rooms: memory.max, memory.high, host, RLIMIT_AS, RLIMIT_DATA,
    # RLIMIT_NOFILE, memory.limit_in_bytes, memory.soft_limit_in_bytes (None: not known).
    evidence = [
        (2, 1, NOW - 3 * DAY + 8 * HOUR, "leak", 6 * 3600.0, 1000.0, 400.0, 530 * MIB, NOW - 3 * DAY + 2 * HOUR,
         NOW - 3 * DAY + 8 * HOUR, "floor kept rising: confirmed", 72 * MIB, None, 20 * 1024 * MIB, None, None, None,
         None, None),
        (2, 0, NOW - 2 * DAY - 12 * HOUR, "leak", 6 * 3600.0, 10.0, -5.0, 531 * MIB, NOW - 2 * DAY - 18 * HOUR,
         NOW - 2 * DAY - 12 * HOUR, "floor stopped rising", 71 * MIB, None, 20 * 1024 * MIB, None, None, None,
         None, None),
    ]
    con.executemany("INSERT INTO alert_evidence (alert_id, raised, t, cause, scale_s, slope, slope_low, level, "
                    "evidence_from, evidence_to, reason, room_memory_max, room_memory_high, room_host, "
                    "room_rlimit_as, room_rlimit_data, room_rlimit_nofile, room_v1_limit, room_v1_soft_limit) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", evidence)
    events = [(NOW - 6 * DAY, "start", None), (NOW - 5 * DAY - 12 * HOUR, "stop", None),
              (NOW - 3 * DAY - 1 * MIN, "start", None), (NOW - 1 * DAY, "reload", None)]
    con.executemany("INSERT INTO daemon_event (t, kind, detail) VALUES (?, ?, ?)", events)
    con.commit()
    # Leave no -wal behind, so the file alone is the database (as a copy would be).
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


if __name__ == "__main__":
    build(sys.argv[1])
