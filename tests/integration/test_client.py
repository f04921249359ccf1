# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatch, the query client: every subcommand against a prepared database with
golden output, JSON parsed and checked against the documented fields, the error paths,
colour and width on a terminal, and a database the real daemon is writing.

Golden files live in tests/golden/NAME.txt: the standard output, then, if anything was
written to standard error, a line "--- stderr" and that. LEAKWATCH_UPDATE_GOLDEN=1
rewrites them from the current output (review the diff before committing)."""

import csv
import io
import json
import os
import pty
import re
import shutil
import sqlite3
import struct
import subprocess
import termios
import fcntl
import unittest

import mkdb
from lwtest import ALLOC, CLIENT, WAIT, Case, query, samples, wait_for

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
MIB = 1024 * 1024
UPDATE = os.environ.get("LEAKWATCH_UPDATE_GOLDEN") == "1"

# Fields leakwatch(1) documents under JSON OUTPUT; the objects must carry each.
ALERT_FIELDS = {"id", "pid", "name", "cmdline", "process_id", "boot_id", "rule", "rule_id", "unit", "metric",
                "state", "kind", "slope", "slope_low", "slope_high", "growth", "growth_rel", "level", "p_value",
                "forecast_s", "limit_kind", "start", "start_ms", "end", "end_ms", "end_reason", "escalated",
                "escalated_ms", "evidence_from", "evidence_from_ms", "evidence_to", "evidence_to_ms", "reason"}
PROCESS_FIELDS = {"id", "pid", "name", "cmdline", "rule", "rule_id", "generation", "unit", "cgroup", "boot_id",
                  "ppid", "uid", "parent_id", "start", "start_ms", "first_seen", "first_seen_ms", "end", "end_ms",
                  "end_reason", "running", "state", "state_fds", "alert_id"}
SAMPLE_FIELDS = {"sample_time", "sample_time_ms", "rss", "anon", "file", "shmem", "swap", "fds", "threads", "pss",
                 "uss", "memory"}
PS_FIELDS = PROCESS_FIELDS | SAMPLE_FIELDS | {"window_s", "floor_first", "floor_last", "growth", "growth_rate",
                                              "floors"}
VERDICT_FIELDS = {"id", "alert_id", "t", "t_ms", "metric", "state", "previous", "escalated", "slope", "slope_low",
                  "slope_high", "growth", "growth_rel", "level", "p_value", "forecast_s", "evidence_from",
                  "evidence_from_ms", "evidence_to", "evidence_to_ms", "reason"}
HOOK_FIELDS = {"id", "alert_id", "event", "program", "start", "start_ms", "end", "end_ms", "exit_code", "signal",
               "timed_out", "output"}

# Exit codes (leakwatch(1), EXIT STATUS).
EXIT_USAGE, EXIT_NODB, EXIT_NOTFOUND, EXIT_AMBIGUOUS = 2, 3, 4, 5
# leakwatch status alone, as systemctl status: the daemon not running; its state unknown
# (the database cannot be read).
EXIT_NOT_RUNNING, EXIT_UNKNOWN = 3, 4


def env(**extra):
    # No daemon answers under that runtime directory, whatever runs on the host: the
    # golden status says "not running".
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC", "LC_ALL": "C.UTF-8",
         "LEAKWATCH_NOW": mkdb.NOW_ISO, "LEAKWATCH_RUNTIME_DIR": "/nonexistent/leakwatch-test"}
    e.update(extra)
    return e


def run(args, cwd, **kw):
    p = subprocess.run([CLIENT] + list(args), cwd=cwd, env=kw.pop("env", env()), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=WAIT, **kw)
    return p.returncode, p.stdout, p.stderr


class Prepared(unittest.TestCase):
    """The prepared database, built once in a temporary directory; commands run there
    with --db golden.db, so the path in the output is the same everywhere."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls._tmp = tempfile.TemporaryDirectory(prefix="leakwatch-client-")
        cls.dir = cls._tmp.name
        os.chmod(cls.dir, 0o755)
        mkdb.build(os.path.join(cls.dir, "golden.db"))

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def lw(self, *args, code=0, **kw):
        rc, out, err = run(("--db", "golden.db") + args, self.dir, **kw)
        self.assertEqual(rc, code, "exit %d, stderr: %s" % (rc, err.decode(errors="replace")))
        return out, err

    def golden(self, name, *args, code=0, **kw):
        out, err = self.lw(*args, code=code, **kw)
        text = out.decode("utf-8")
        if err:
            text += "--- stderr\n" + err.decode("utf-8")
        path = os.path.join(GOLDEN, name + ".txt")
        if UPDATE:
            os.makedirs(GOLDEN, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        with open(path, encoding="utf-8") as f:
            want = f.read()
        self.maxDiff = None
        self.assertEqual(text, want, "output of %s differs from %s" % (" ".join(args), path))
        return out

    def json(self, *args, code=0):
        out, _ = self.lw(*args, code=code)
        return json.loads(out.decode("utf-8"))


class TestGolden(Prepared):
    def test_status(self):
        self.golden("status", "status", code=EXIT_NOT_RUNNING)

    def test_default_is_status(self):
        out, _ = self.lw(code=EXIT_NOT_RUNNING)
        self.assertEqual(out, self.lw("status", code=EXIT_NOT_RUNNING)[0])

    def test_ps(self):
        self.golden("ps", "ps")

    def test_ps_all_by_memory(self):
        self.golden("ps-all", "ps", "--all", "--sort=-memory")

    def test_ps_sort_direction(self):
        """--sort KEY ascending, --sort=-KEY descending, as ps(1); unknown values last."""
        up = [p["memory"] for p in self.json("ps", "--all", "-o", "json", "--sort", "memory")]
        down = [p["memory"] for p in self.json("ps", "--all", "-o", "json", "--sort=-memory")]
        known = [m for m in up if m is not None]
        self.assertGreater(len(known), 2)
        self.assertEqual(known, sorted(known))
        self.assertEqual([m for m in down if m is not None], sorted(known, reverse=True))
        self.assertIsNone(up[-1])
        self.assertIsNone(down[-1])
        self.assertEqual([p["pid"] for p in self.json("ps", "--sort=+pid", "--json")],
                         [p["pid"] for p in self.json("ps", "--sort=-pid", "--json")][::-1])
        _, err = self.lw("ps", "--sort=-bogus", code=EXIT_USAGE)
        self.assertIn(b"-KEY for descending", err)

    def test_ps_bytes_no_legend(self):
        self.golden("ps-bytes", "ps", "--bytes", "--no-legend")

    def test_ps_csv(self):
        self.golden("ps-csv", "ps", "--csv")

    def test_top(self):
        self.golden("top", "top")

    def test_top_day(self):
        self.golden("top-day", "top", "--window", "1d", "-n", "3")

    def test_show(self):
        self.golden("show", "show", "webapp")

    def test_show_pid_three_days(self):
        """A PID used twice: the running process, with a hint; rollups before raw."""
        self.golden("show-pid-3d", "show", "4242", "--since", "-3d", "--height", "8")

    def test_show_rule(self):
        self.golden("show-rule", "show", "rule:web", "--since", "-6h", "--height", "6")

    def test_show_fds(self):
        self.golden("show-fds", "show", "666", "--metric", "fds", "--since", "-12h", "--height", "6")

    def test_show_ended_ascii(self):
        """An ended process, its hostile name escaped; without UTF-8 the chart is ASCII."""
        self.golden("show-ended-ascii", "show", "id:5", "--height", "5", env=env(LC_ALL="C"))

    def test_alerts(self):
        self.golden("alerts", "alerts")

    def test_alerts_all(self):
        self.golden("alerts-all", "alerts", "--all")

    def test_alerts_csv(self):
        self.golden("alerts-csv", "alerts", "--all", "--csv")

    def test_alert_details(self):
        self.golden("alert-1", "alerts", "1")

    def test_alert_details_past(self):
        self.golden("alert-2", "alerts", "#2")

    def test_export_csv(self):
        self.golden("export", "export", "webapp", "--since", "-10min", "--metric", "memory,rss,fds,pss")

    def test_export_rollups(self):
        self.golden("export-hour", "export", "id:1", "--until", "2026-11-21 15:00", "--metric", "memory,threads")

    def test_export_rule_json_lines(self):
        self.golden("export-rule-json", "export", "rule:web", "--since", "-3min", "--metric", "memory", "--json")

    def test_plot(self):
        self.golden("plot", "plot", "webapp", "--since", "-1h", "--output-file", "-", "--size", "480x240")

    def test_backtest(self):
        self.golden("backtest", "backtest", "webapp")

    def test_backtest_fds(self):
        self.golden("backtest-fds", "backtest", "666", "--metric", "fds", "--window", "2h")

    def test_backtest_csv_file(self):
        """A CSV of t,value rows: the leak's raw samples, times as offsets."""
        out, _ = self.lw("export", "webapp", "--since", "-20h", "--metric", "memory", "--no-legend")
        with open(os.path.join(self.dir, "series.csv"), "w") as f:
            f.write("# t,value\nt,value\n")
            for row in csv.reader(io.StringIO(out.decode())):
                f.write("%d,%s\n" % ((int(row[1]) - mkdb.NOW + 20 * 3600 * 1000) // 1000, row[4]))
        self.golden("backtest-file", "backtest", "-f", "series.csv", "--window", "6h")


class TestJson(Prepared):
    def check_alert(self, a):
        self.assertLessEqual(ALERT_FIELDS, set(a), ALERT_FIELDS - set(a))

    def test_status(self):
        s = self.json("status", "--json", code=EXIT_NOT_RUNNING)
        self.assertEqual(s["schema"], 12)
        self.assertEqual(s["processes_running"], 6)
        self.assertEqual(s["processes_ended"], 2)
        self.assertEqual(s["alerts_open"], 1)
        self.assertEqual(s["last_sample_ms"], mkdb.NOW)
        self.assertEqual([r["name"] for r in s["rules"]], ["db", "host", "web"])
        self.check_alert(s["open_alerts"][0])

    def test_ps(self):
        ps = self.json("ps", "--json")
        self.assertIsInstance(ps, list)
        self.assertEqual(len(ps), 6)
        for p in ps:
            self.assertLessEqual(PS_FIELDS, set(p), PS_FIELDS - set(p))
            self.assertEqual(len(p["floors"]), 16)
        web = next(p for p in ps if p["name"] == "webapp")
        self.assertEqual(web["pid"], 4242)
        self.assertEqual(web["state"], "leaking")
        self.assertEqual(web["alert_id"], 1)
        self.assertEqual(web["memory"], web["anon"] + web["swap"])
        self.assertEqual(web["sample_time"], "2026-11-24T12:00:00.000Z")
        # The generator's leak: 2 MiB/h, measured on floors of a sawtooth.
        self.assertAlmostEqual(web["growth_rate"] * 3600 / 2**20, 2.0, delta=0.3)
        evil = next(p for p in ps if p["pid"] == 666)
        self.assertEqual(evil["name"], "evil\x1b[31mred\x07")
        self.assertEqual(evil["state_fds"], "suspect")

    def test_ps_all_invalid_utf8(self):
        ps = self.json("ps", "--all", "--json")
        bad = next(p for p in ps if p["pid"] == 777)
        # Each byte that is not UTF-8 becomes U+FFFD.
        self.assertEqual(bad["name"], "bad\ufffd\ufffdname")
        self.assertEqual(bad["cmdline"], "run\u202egpj.exe\nsecond line")
        self.assertFalse(bad["running"])
        self.assertEqual(bad["end_reason"], "exited")

    def test_json_escapes_terminal_controls(self):
        out, _ = self.lw("ps", "--all", "--json")
        # Controls are \u escapes, never raw bytes, bidi overrides included.
        self.assertNotIn(b"\x1b", out)
        self.assertNotIn(b"\x07", out)
        self.assertNotIn("\u202e".encode(), out)
        self.assertIn(b"\\u001b[31mred\\u0007", out)
        self.assertIn(b"\\u202e", out)

    def test_top(self):
        top = self.json("top", "--json")
        self.assertEqual(top[0]["name"], "webapp")
        self.assertGreater(top[0]["growth"], 0)
        self.assertEqual([t["growth"] for t in top], sorted((t["growth"] for t in top), reverse=True))

    def test_show(self):
        s = self.json("show", "webapp", "--json")
        self.assertLessEqual(PROCESS_FIELDS | SAMPLE_FIELDS, set(s["process"]))
        self.assertEqual(s["metric"], "memory")
        self.assertEqual(s["points"], {"raw": 1440, "minute": 0, "hour": 0})
        self.assertAlmostEqual(s["trend"]["slope"] * 3600 / 2**20, 2.0, delta=0.2)
        self.assertEqual([a["id"] for a in s["alerts"]], [1])
        self.assertEqual(s["to_ms"] - s["from_ms"], 24 * 3600 * 1000)

    def test_show_rule(self):
        s = self.json("show", "rule:web", "--json", "--since", "-1h")
        self.assertEqual(s["rule"]["name"], "web")
        self.assertEqual(s["rule"]["running"], 2)

    def test_alerts(self):
        alerts = self.json("alerts", "--all", "--json")
        self.assertEqual([a["id"] for a in alerts], [1, 3, 2])
        for a in alerts:
            self.check_alert(a)
        a = alerts[0]
        self.assertEqual((a["pid"], a["name"], a["rule"], a["metric"], a["state"]),
                         (4242, "webapp", "web", "memory", "leaking"))
        self.assertAlmostEqual(a["slope"], 2 * 2**20 / 3600)
        self.assertLess(a["slope_low"], a["slope"])
        self.assertGreater(a["slope_high"], a["slope"])
        self.assertEqual(a["start"], "2026-11-24T06:00:00.000Z")
        self.assertEqual(a["start_ms"], mkdb.NOW - 6 * 3600 * 1000)
        self.assertIsNone(a["end"])
        self.assertEqual(a["forecast_s"], 7200)
        self.assertEqual(alerts[2]["end_ms"], mkdb.NOW - 60 * 3600 * 1000)

    def test_alert_details(self):
        a = self.json("alerts", "1", "--json")
        self.check_alert(a)
        self.assertEqual([v["state"] for v in a["verdicts"]], ["ok", "suspect", "leaking"])
        for v in a["verdicts"]:
            self.assertLessEqual(VERDICT_FIELDS, set(v))
        self.assertEqual([h["event"] for h in a["hook_runs"]], ["start", "escalate"])
        for h in a["hook_runs"]:
            self.assertLessEqual(HOOK_FIELDS, set(h))
        self.assertEqual(a["hook_runs"][1]["output"], "\x1b]0;pwned\x07still waiting\n")
        self.assertTrue(a["hook_runs"][1]["timed_out"])

    def test_alert_raised_and_latest(self):
        """A recovered alert keeps what it was raised on beside its latest evaluation."""
        a = self.json("alerts", "2", "--json")
        raised, latest = a["raised"], a["latest"]
        self.assertEqual((raised["cause"], raised["slope"], raised["reason"]),
                         ("leak", 1000, "floor kept rising: confirmed"))
        self.assertEqual(raised["time_ms"], mkdb.NOW - (3 * 24 - 8) * 3600 * 1000)
        self.assertEqual(raised["limits"]["memory.max"], {"room": 72 * MIB, "seconds": 72 * MIB / 1000,
                                                          "seconds_low": 72 * MIB / 400})
        self.assertEqual(set(raised["limits"]), {"memory.max", "host"})
        self.assertEqual((latest["slope"], latest["reason"]), (10, "floor stopped rising"))
        # Not growing at its lower bound: never reached at that rate (null).
        self.assertIsNone(latest["limits"]["memory.max"]["seconds_low"])
        self.assertIsNone(self.json("alerts", "1", "--json")["raised"])

    def test_export_json_lines_exact(self):
        out, _ = self.lw("export", "webapp", "--since", "-5min", "--json")
        lines = [json.loads(l) for l in out.decode().splitlines()]
        self.assertEqual(len(lines), 6)
        raw = query(os.path.join(self.dir, "golden.db"),
                    "SELECT t, anon, swap, rss FROM sample_recent WHERE process_id = 1 AND t >= ? ORDER BY t",
                    (mkdb.NOW - 5 * 60000,))
        for line, (t, anon, swap, rss) in zip(lines, raw):
            self.assertEqual(line["time_ms"], t)
            self.assertEqual(line["rss"], rss * 1024)
            self.assertEqual(line["memory"], (anon + swap) * 1024)
            self.assertIsInstance(line["memory"], int)

    def test_backtest(self):
        b = self.json("backtest", "webapp", "--json")
        self.assertEqual(b["source"]["process"]["pid"], 4242)
        # The daemon's bank for its samples, a minute apart: all but the 12-minute scale.
        self.assertIsNone(b["window_s"])
        self.assertEqual(b["scales_s"], [2700, 16 * 3600, 54 * 3600])
        self.assertEqual(b["interval_s"], 60)
        self.assertEqual([(w["window_s"], w["used"], w["floors"]) for w in b["warnings"]], [(720, False, 12)])
        states = [v["state"] for v in b["verdicts"]]
        self.assertIn("leaking", states)
        self.assertEqual(b["verdicts"][-1]["state"], "leaking")
        # 2 MiB/h on 200 MiB, 1 %/h: the 16-hour scale's leak.
        self.assertEqual(b["verdicts"][-1]["scale_s"], 16 * 3600)
        pinned = self.json("backtest", "webapp", "--json", "--window", "6h")
        self.assertEqual((pinned["window_s"], pinned["scales_s"]), (6 * 3600, [6 * 3600]))
        self.assertEqual({v["scale_s"] for v in pinned["verdicts"]}, {6 * 3600})


class TestHabits(Prepared):
    """The habits of journalctl, systemctl and ps: -o FORMAT, --no-pager, help, plurals."""

    def test_output_format(self):
        self.assertEqual(self.lw("ps", "-o", "json")[0], self.lw("ps", "--json")[0])
        self.assertEqual(self.lw("ps", "--output=csv")[0], self.lw("ps", "--csv")[0])
        self.assertEqual(self.lw("alerts", "-o", "json-pretty")[0], self.lw("alerts", "--json=pretty")[0])
        self.assertEqual(self.lw("ps", "-o", "short")[0], self.lw("ps")[0])
        _, err = self.lw("ps", "-o", "yaml", code=EXIT_USAGE)
        self.assertIn(b"'yaml' is not a format (short, json, json-pretty, csv)", err)
        _, err = self.lw("status", "-o", "csv", code=EXIT_USAGE)
        self.assertIn(b"-o csv does not apply to 'status'", err)
        # -o used to name plot's file: the message says where that went.
        _, err = self.lw("plot", "webapp", "-o", "x.svg", code=EXIT_USAGE)
        self.assertIn(b"plot writes to a file with --output-file x.svg", err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.svg")))

    def test_no_pager(self):
        self.assertEqual(self.lw("--no-pager", "ps")[0], self.lw("ps")[0])
        self.assertEqual(self.lw("alerts", "--no-pager")[0], self.lw("alerts")[0])

    def test_help(self):
        full, _ = self.lw("--help")
        self.assertIn(b"Commands (default: status):", full)
        self.assertEqual(self.lw("help")[0], full)
        ps, _ = self.lw("ps", "--help")
        self.assertTrue(ps.startswith(b"Usage: leakwatch ps [OPTIONS]\n"), ps)
        self.assertIn(b"--sort [-]KEY", ps)
        self.assertNotIn(b"--memory-limit", ps)
        self.assertNotIn(b"Commands", ps)
        self.assertEqual(self.lw("help", "ps")[0], ps)
        self.assertEqual(self.lw("--help", "ps")[0], ps)
        plot, _ = self.lw("help", "plot")
        self.assertIn(b"--output-file FILE", plot)
        self.assertIn(b"TARGET: a PID", plot)
        self.assertNotIn(b"--sort", plot)
        _, err = self.lw("help", "nosuch", code=EXIT_USAGE)
        self.assertIn(b"unknown command 'nosuch'", err)
        # After run's command, --help is the command's own.
        rc, out, _ = run(("run", "--help"), self.dir)
        self.assertEqual(rc, 0)
        self.assertIn(b"Usage: leakwatch run [OPTIONS] [--] COMMAND", out)

    def test_empty_db_is_an_error(self):
        rc, out, err = run(("--db", "", "ps"), self.dir)
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn(b"--db: empty path", err)
        self.assertEqual(out, b"")

    def test_relative_times_with_spaces(self):
        for since in ("-1 week", "-2 days", "-1 h", "1 hour ago"):
            out, _ = self.lw("export", "webapp", "--since", since, "--metric", "memory", "--no-legend")
            self.assertGreater(len(out.splitlines()), 0, since)
        self.assertEqual(self.lw("export", "webapp", "--since", "-2 days", "--metric", "memory")[0],
                         self.lw("export", "webapp", "--since", "-2d", "--metric", "memory")[0])

    def test_plurals(self):
        out, _ = self.lw("top", "-n", "1")
        self.assertIn(b"\n1 process grew most over 1h.", out)
        out, _ = self.lw("top", "-n", "2")
        self.assertIn(b"\n2 processes grew most over 1h.", out)


class TestFollow(Prepared):
    """alerts -f: the open alerts, then a line per event as the database changes, until
    interrupted or the reader goes away; top -f: a screen at a time."""

    def setUp(self):
        self.db = os.path.join(self.dir, "follow.db")
        shutil.copy(os.path.join(self.dir, "golden.db"), self.db)

    def follow(self, *args):
        p = subprocess.Popen([CLIENT, "--db", self.db] + list(args), cwd=self.dir, env=env(LEAKWATCH_NOW=""),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(p.communicate)
        self.addCleanup(p.kill)
        return p

    def read_line(self, p):
        line = p.stdout.readline()
        if not line:
            self.fail("follow ended early: %s" % p.stderr.read())
        return line.decode()

    def test_alerts_follow(self):
        import signal
        import time
        # The writer holds the database open, as the daemon does (its -wal file exists).
        con = sqlite3.connect(self.db)
        con.execute("SELECT count(*) FROM alert").fetchall()
        p = self.follow("alerts", "-f")
        # The alerts open now, then what happens.
        self.assertIn("alert #1 open: webapp (pid 4242) memory leaking, +2.00 MiB/h", self.read_line(p))
        now = int(time.time() * 1000)
        con.execute("INSERT INTO alert (id, process_id, rule_id, metric, state, start_ms, slope, reason) "
                    "SELECT 90, process_id, rule_id, 'memory', 'leaking', ?, 1048576.0 / 3600, 'x' FROM alert "
                    "WHERE id = 1", (now,))
        con.commit()
        line = self.read_line(p)
        self.assertIn("alert #90 raised: webapp (pid 4242) memory leaking, +1.00 MiB/h", line)
        con.execute("UPDATE alert SET state = 'recovered', end_ms = ?, end_reason = 'recovered' WHERE id = 90",
                    (now + 1000,))
        con.commit()
        con.close()
        self.assertIn("alert #90 ended: webapp (pid 4242) memory recovered", self.read_line(p))
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=WAIT), 0)
        self.assertEqual(p.stderr.read(), b"")

    def test_alerts_follow_json_and_pipe(self):
        p = self.follow("alerts", "--follow", "-o", "json")
        doc = json.loads(self.read_line(p))
        self.assertEqual(doc["event"], "open")
        self.assertLessEqual(ALERT_FIELDS, set(doc["alert"]))
        # The reader goes away: a clean end, without waiting for an event to write.
        p.stdout.close()
        self.assertEqual(p.wait(timeout=WAIT), 0)
        p.stdout = None
        self.assertEqual(p.stderr.read(), b"")

    def test_follow_usage(self):
        for args in (("alerts", "-f", "1"), ("alerts", "-f", "--all"), ("alerts", "-f", "--csv"),
                     ("top", "-f", "--json")):
            self.lw(*args, code=EXIT_USAGE)
        # backtest's -f is still its file.
        _, err = self.lw("backtest", "-f", "nosuch.csv", code=1)
        self.assertIn(b"nosuch.csv", err)

    def test_top_follow(self):
        import signal
        p = self.follow("top", "-f", "-n", "2")
        lines = [self.read_line(p) for _ in range(8)]
        self.assertTrue(lines[0].startswith("leakwatch top - "), lines)
        self.assertIn("leakwatchd: leakwatchd is not running", lines[1])
        self.assertTrue(any(line.split()[:2] == ["PID", "NAME"] for line in lines), lines)
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=WAIT), 0)


class TestCompletion(Prepared):
    """bash and zsh completion, with the words leakwatch __complete gives them."""

    SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "client", "completion")

    def complete_env(self):
        return env(PATH=os.path.dirname(CLIENT) + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
                   LEAKWATCH_DB=os.path.join(self.dir, "golden.db"))

    def test_words(self):
        out, _ = self.lw("__complete", "commands")
        self.assertIn(b"ps\twatched processes", out)
        self.assertNotIn(b"__complete", self.lw("--help")[0])
        opts = self.lw("__complete", "options", "ps")[0].split()
        self.assertIn(b"--sort=", opts)
        self.assertIn(b"--no-pager", opts)
        self.assertNotIn(b"--memory-limit=", opts)
        targets = self.lw("__complete", "targets")[0].split()
        for word in (b"4242", b"webapp", b"rule:web"):
            self.assertIn(word, targets)
        # Hostile names are not offered at all (666 is "evil" with an escape in it).
        self.assertIn(b"666", targets)
        self.assertFalse([t for t in targets if b"evil" in t or b"\x1b" in t], targets)
        self.assertEqual(self.lw("__complete", "alerts")[0], b"1\n")
        # A database that cannot be read completes to nothing, silently.
        self.assertEqual(run(("--db", "nosuch.db", "__complete", "targets"), self.dir), (0, b"", b""))

    def test_bash(self):
        script = os.path.join(self.SCRIPTS, "leakwatch.bash")
        prog = ('source %s; t() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _leakwatch; '
                'echo "${COMPREPLY[*]}"; }; t leakwatch p; t leakwatch ps --so; t leakwatch ps --sort -m; '
                't leakwatch show web; t leakwatch alerts ""; t leakwatch -o j' % script)
        p = subprocess.run(["bash", "-c", prog], env=self.complete_env(), cwd=self.dir, capture_output=True,
                           text=True, timeout=WAIT)
        self.assertEqual(p.stderr, "")
        self.assertEqual(p.stdout.splitlines(), ["ps plot", "--sort=", "-memory", "webapp webapp-worker", "1",
                                                 "json json-pretty"])

    def test_zsh(self):
        if not shutil.which("zsh"):
            self.skipTest("SKIP: zsh is not installed (tools/install-deps --tests installs it)")
        # The completion system's builtins, recorded: what the script offers, unfiltered.
        prog = r"""
compadd() { while [[ $1 == -* && $1 != -- ]]; do [[ $1 == -S ]] && shift; shift; done
            [[ $1 == -- ]] && shift; print -rl -- "$@"; }
_describe() { print -rl -- ${(P)2}; }
_values() { shift; print -rl -- "$@"; }
_files() { print FILES; }
_normal() { print -r NORMAL $words; }
source %s >/dev/null
t() { words=("$@"); CURRENT=$#; print -r -- "${(j: :)${(f)$(_leakwatch)}}"; }
t leakwatch ps --so
t leakwatch show w
t leakwatch run -- sle
t leakwatch plot x --output-file p
""" % os.path.join(self.SCRIPTS, "_leakwatch")
        p = subprocess.run(["zsh", "-f", "-c", prog], env=self.complete_env(), cwd=self.dir, capture_output=True,
                           text=True, timeout=WAIT)
        self.assertEqual(p.stderr, "")
        lines = p.stdout.splitlines()
        self.assertIn("--sort=", lines[0].split())
        self.assertNotIn("--memory-limit=", lines[0].split())
        self.assertIn("webapp", lines[1].split())
        self.assertIn("rule:web", lines[1].split())
        self.assertEqual(lines[2], "NORMAL sle")
        self.assertEqual(lines[3], "FILES")


class TestErrors(Prepared):
    def test_missing_database(self):
        rc, out, err = run(("--db", "nope.db", "ps"), self.dir)
        self.assertEqual(rc, EXIT_NODB)
        self.assertIn(b"nope.db does not exist", err)
        self.assertEqual(out, b"")

    def test_default_database_from_environment(self):
        rc, _, err = run(("ps",), self.dir, env=env(LEAKWATCH_DB="elsewhere.db"))
        self.assertEqual(rc, EXIT_NODB)
        self.assertIn(b"elsewhere.db", err)

    def test_not_a_leakwatch_database(self):
        other = os.path.join(self.dir, "other.db")
        con = sqlite3.connect(other)
        con.execute("CREATE TABLE t (x)")
        con.close()
        rc, _, err = run(("--db", "other.db", "status"), self.dir)
        self.assertEqual(rc, EXIT_UNKNOWN)
        self.assertIn(b"not a leakwatch database", err)
        garbage = os.path.join(self.dir, "garbage.db")
        with open(garbage, "wb") as f:
            f.write(b"this is not sqlite" * 100)
        rc, _, err = run(("--db", "garbage.db", "status"), self.dir)
        self.assertEqual(rc, EXIT_UNKNOWN)
        rc, _, err = run(("--db", "garbage.db", "ps"), self.dir)
        self.assertEqual(rc, EXIT_NODB)

    def test_permission_denied_names_the_file(self):
        if os.geteuid() != 0:
            self.skipTest("SKIP: needs root to run the client as another user")
        private = os.path.join(self.dir, "private")
        os.makedirs(private, exist_ok=True)
        shutil.copy(os.path.join(self.dir, "golden.db"), os.path.join(private, "p.db"))
        os.chmod(os.path.join(private, "p.db"), 0o600)
        rc, _, err = self._as_nobody(os.path.join(private, "p.db"))
        self.assertEqual(rc, EXIT_UNKNOWN)
        self.assertIn(b"permission denied", err)
        self.assertIn(b"p.db", err)
        os.chmod(private, 0o700)
        os.chmod(os.path.join(private, "p.db"), 0o644)
        rc, _, err = self._as_nobody(os.path.join(private, "p.db"))
        self.assertEqual(rc, EXIT_UNKNOWN)
        self.assertIn(b"cannot enter directory " + private.encode(), err)

    def _as_nobody(self, db):
        if not shutil.which("setpriv"):
            self.skipTest("SKIP: setpriv (util-linux) is not installed")
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CLIENT, "--db", db,
                            "status"], env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=WAIT)
        return p.returncode, p.stdout, p.stderr

    def test_unknown_process(self):
        self.golden("error-unknown", "show", "nosuch", code=EXIT_NOTFOUND)
        self.lw("show", "99999", code=EXIT_NOTFOUND)
        self.lw("show", "rule:nosuch", code=EXIT_NOTFOUND)
        self.lw("show", "unit:nosuch.service", code=EXIT_NOTFOUND)
        self.lw("alerts", "42", code=EXIT_NOTFOUND)

    def test_ambiguous_name(self):
        self.golden("error-ambiguous", "show", "worker", code=EXIT_AMBIGUOUS)
        self.lw("export", "worker", code=EXIT_AMBIGUOUS)
        # A PID names the running process; with --all every match counts.
        self.lw("show", "4242", "--all", code=EXIT_AMBIGUOUS)
        # The unit's main process wins over its watched child.
        s = self.json("show", "unit:webapp.service", "--json")
        self.assertEqual(s["process"]["pid"], 4242)

    def test_usage(self):
        self.golden("error-usage", "ps", "--window", "soon", code=EXIT_USAGE)
        self.lw("status", "--window", "1h", code=EXIT_USAGE)
        self.lw("bogus", code=EXIT_USAGE)
        self.lw("ps", "--json", "--csv", code=EXIT_USAGE)
        self.lw("show", code=EXIT_USAGE)
        self.lw("show", "webapp", "--since", "tomorrow", "--until", "yesterday", code=EXIT_USAGE)
        self.lw("plot", "webapp", code=EXIT_USAGE)
        self.lw("show", "webapp", "--metric", "nonsense", code=EXIT_USAGE)

    def test_backtest_too_sparse_warns(self):
        """A window too short for the samples' spacing is said, with why and what would do,
        instead of a silent "No leak found"."""
        with open(os.path.join(self.dir, "sparse.csv"), "w") as f:
            f.write("t,value\n")
            for t in range(0, 3600, 10):
                f.write("%d,%d\n" % (t, 100 * 1024 * 1024 + t * 100000))
        out, err = self.lw("backtest", "-f", "sparse.csv", "--window", "1m")
        self.assertIn(b"warning: the 1m window (buckets of 2.5s) is too short for samples every 10s: at most 6 of "
                      b"its 24 buckets hold one, and a judgement needs 16; a window of 2m40s or more", err)
        self.assertIn(b"No leak judged: the samples are too sparse", out)
        self.assertNotIn(b"No leak found", out)
        b = json.loads(self.lw("backtest", "-f", "sparse.csv", "--window", "1m", "--json")[0])
        self.assertEqual([(w["window_s"], w["interval_s"], w["floors"], w["needed"]) for w in b["warnings"]],
                         [(60, 10, 6, 16)])
        out, err = self.lw("backtest", "-f", "sparse.csv", "--window", "3m")
        self.assertEqual(err, b"")
        self.assertIn(b"Leak:", out)

    def test_backtest_bank(self):
        """Without --window the samples go through the daemon's bank: a fast leak is raised
        at the 12-minute scale within its target, a slow one at a longer scale, and each
        scale the samples are too sparse for is named."""
        def series(name, every, length, rate, onset):
            with open(os.path.join(self.dir, name), "w") as f:
                f.write("t,value\n")
                for t in range(0, length, every):
                    v = 200 * 1024 * 1024 * (1 + rate * max(0, t - onset) / 3600)
                    f.write("%d,%d\n" % (t, v + (t // every % 3) * 4096))
        # 100 %/h from 1 h into a 2-hour life, 10 s samples: every scale runs.
        series("fast.csv", 10, 7200, 1.0, 3600)
        out, err = self.lw("backtest", "-f", "fast.csv")
        self.assertEqual(err, b"")
        self.assertIn(b"Scales: 12m, 45m, 16h, 2d6h (the daemon's bank for samples every 10s)", out)
        m = re.search(rb"Leak: \+1h(\d+)m .. still leaking at the end \(raised at the 12m scale\)", out)
        self.assertIsNotNone(m, out)
        self.assertLess(int(m.group(1)), 15)
        b = json.loads(self.lw("backtest", "-f", "fast.csv", "--json")[0])
        self.assertEqual(b["warnings"], [])
        raised = [v for v in b["verdicts"] if v["state"] == "leaking" and v["previous"] != "leaking"]
        self.assertEqual([v["scale_s"] for v in raised], [720])
        # Samples every 10 minutes: the two short scales are left out, and said so.
        series("tenmin.csv", 600, 3 * 86400, 0.01, 6 * 3600)
        out, err = self.lw("backtest", "-f", "tenmin.csv")
        self.assertIn(b"warning: the 12m scale (buckets of 30s) is left out for samples every 10m: at most 1 of its "
                      b"24 buckets hold one, and a judgement needs 16", err)
        self.assertIn(b"warning: the 45m scale (buckets of 1m53s) is left out for samples every 10m: at most 4 of",
                      err)
        self.assertIn(b"Scales: 16h, 2d6h", out)
        self.assertIn(b"(raised at the 16h scale)", out)
        # Every 4 hours: even the longest scale cannot judge.
        series("sparse4h.csv", 4 * 3600, 20 * 86400, 0.01, 0)
        out, err = self.lw("backtest", "-f", "sparse4h.csv")
        self.assertIn(b"warning: the 2d6h scale (buckets of 2h15m) cannot judge for samples every 4h: at most 13 of",
                      err)
        self.assertIn(b"No leak judged: the samples are too sparse for every scale (see the warnings).", out)

    def test_bad_csv_input(self):
        with open(os.path.join(self.dir, "bad.csv"), "w") as f:
            f.write("t,value\n1,100\n2,200\n2,300\n")
        _, err = self.lw("backtest", "-f", "bad.csv", code=1)
        self.assertIn(b"bad.csv:4:", err)
        with open(os.path.join(self.dir, "long.csv"), "w") as f:
            f.write("1," + "9" * 1000 + "\n")
        _, err = self.lw("backtest", "-f", "long.csv", code=1)
        self.assertIn(b"long.csv:1: line longer", err)


class TestTerminal(Prepared):
    def on_tty(self, args, cols=60, **envs):
        """Runs the client with its stdout on a pseudo-terminal of the given width."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
        p = subprocess.Popen([CLIENT, "--db", "golden.db"] + list(args), cwd=self.dir, env=env(**envs),
                             stdout=slave, stderr=subprocess.DEVNULL)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        p.wait(WAIT)
        return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")

    def test_colour_only_on_a_terminal(self):
        self.assertIn("\x1b[", self.on_tty(["ps"]))
        self.assertNotIn(b"\x1b[", self.lw("ps")[0])
        self.assertIn(b"\x1b[", self.lw("ps", "--color=always")[0])

    def test_no_color(self):
        self.assertNotIn("\x1b[", self.on_tty(["ps"], NO_COLOR="1"))
        self.assertNotIn("\x1b[", self.on_tty(["ps", "--color=never"]))
        # An explicit request wins over the environment (no-color.org).
        self.assertIn("\x1b[", self.on_tty(["ps", "--color=always"], NO_COLOR="1"))

    def test_table_fits_the_terminal(self):
        out = self.on_tty(["ps", "--no-legend"], cols=60, NO_COLOR="1")
        for line in out.splitlines():
            self.assertLessEqual(len(line), 60, line)
        out = self.on_tty(["ps", "--no-legend", "--full"], cols=40, NO_COLOR="1")
        self.assertIn("evil\\x1b[31mred\\x07", out)

    def test_chart_fits_the_terminal(self):
        """The chart and its time labels end within the terminal, in 80 and in 160
        columns; its value labels are round."""
        import re
        import unicodedata
        for cols in (80, 160):
            for args in (["show", "webapp"], ["show", "rule:web", "--since", "-6h"], ["show", "666", "--metric", "fds"]):
                out = self.on_tty(args, cols=cols, NO_COLOR="1")
                chart = out[out.index("\n\n", out.index("Trend:")):]
                for line in chart.splitlines():
                    width = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
                    self.assertLessEqual(width, cols, "%s in %d columns: %r" % (args, cols, line))
                labels = re.findall(r"^ *([0-9.]+)(?: MiB)? [\u2524]", chart, re.M)
                self.assertGreaterEqual(len(labels), 2, chart)
                # Evenly spaced by 1, 2 or 5 times a power of ten, each a multiple of it.
                values = [float(v) for v in labels]
                step = values[0] - values[1]
                self.assertRegex("%g" % step, r"^[125](0*|e\+\d+)$", chart)
                for a, b in zip(values, values[1:]):
                    self.assertAlmostEqual(a - b, step, msg=chart)
                for v in values:
                    self.assertAlmostEqual(v / step, round(v / step), msg=chart)

    def test_hostile_text_never_raw(self):
        """Escape, bell, OSC and bidi bytes from names, command lines and hook output
        reach the terminal only as escapes, in every human view."""
        for args in (["ps", "--all"], ["show", "666"], ["show", "id:5"], ["alerts", "--all"], ["alerts", "1"],
                     ["alerts", "3"], ["ps", "--all", "--csv"], ["alerts", "--all", "--csv"]):
            out = self.on_tty(args, NO_COLOR="1")
            for bad in ("\x07", "\u202e", "\x1b]"):
                self.assertNotIn(bad, out, args)
            self.assertNotIn("\x1b", out.replace("\x1b[", ""), args)


class TestLiveDaemon(Case):
    """Against a database the real daemon is writing, then after it stopped."""

    def test_command_line_refreshed_after_exec(self):
        """A watched process that exec()s keeps its series; its name and command line
        become the new program's, in the database and in what the client shows."""
        sh = subprocess.Popen(["/bin/sh", "-c", "read line; exec sleep 61"], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL)
        self.addCleanup(sh.wait)
        self.addCleanup(sh.kill)
        d = self.daemon("--interval", "0.1", "--pid", sh.pid)
        wait_for(lambda: len(samples(d.db, sh.pid)) > 2, what="samples of the shell")
        self.assertEqual(query(d.db, "SELECT comm FROM process WHERE pid = ?", (sh.pid,)), [("sh",)])
        sh.stdin.write(b"go\n")
        sh.stdin.close()
        wait_for(lambda: query(d.db, "SELECT comm, cmdline FROM process WHERE pid = ?", (sh.pid,))
                 == [("sleep", "sleep 61")], what="the command line after exec")
        p = subprocess.run([CLIENT, "--db", d.db, "show", str(sh.pid), "--json"], stdout=subprocess.PIPE,
                           timeout=WAIT, env=env(LEAKWATCH_NOW=""))
        shown = json.loads(p.stdout)
        self.assertEqual(shown["process"]["name"], "sleep")
        self.assertEqual(shown["process"]["cmdline"], "sleep 61")
        self.assertEqual(query(d.db, "SELECT count(*) FROM process WHERE pid = ?", (sh.pid,)), [(1,)])

    def test_reads_while_daemon_writes(self):
        w = self.alloc("--step-kib", 1024, "--every-ms", 100, "--steps", 40, "--hold-ms", 60000,
                       "--name", "lw-client")
        d = self.daemon("--interval", "0.1", "--pid", w.pid)
        wait_for(lambda: len(samples(d.db, w.pid)) > 20, what="samples")

        def lw(*args, code=0):
            p = subprocess.run([CLIENT, "--db", d.db] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=WAIT, env=env(LEAKWATCH_NOW=""))
            self.assertEqual(p.returncode, code, p.stderr.decode(errors="replace"))
            return p.stdout

        # Many reads while the daemon commits: each one sees a consistent snapshot.
        for _ in range(5):
            ps = json.loads(lw("ps", "--json"))
            mine = [p for p in ps if p["pid"] == w.pid]
            self.assertEqual(len(mine), 1)
            self.assertEqual(mine[0]["name"], "lw-client")
            self.assertEqual(mine[0]["memory"], mine[0]["anon"] + mine[0]["swap"])
        show = json.loads(lw("show", str(w.pid), "--json"))
        self.assertGreater(show["points"]["raw"], 20)
        self.assertGreater(show["max"] - show["min"], 10 * 2**20)
        rows = list(csv.DictReader(io.StringIO(lw("export", str(w.pid)).decode())))
        self.assertGreater(len(rows), 20)
        # Its control socket is not under the runtime directory the tests give.
        status = json.loads(lw("status", "--json", code=EXIT_NOT_RUNNING))
        self.assertEqual(status["processes_running"], 1)
        self.assertIn(b"lw-client", lw("show", "lw-client"))
        self.assertEqual(d.stop(), 0, d.output())

        # Post mortem: the daemon is gone, the database is all there is.
        n = len(samples(d.db, w.pid))
        show = json.loads(lw("show", str(w.pid), "--json"))
        self.assertEqual(show["points"]["raw"], n)
        rows = list(csv.DictReader(io.StringIO(lw("export", str(w.pid), "--metric", "anon").decode())))
        self.assertEqual([int(r["anon"]) for r in rows], [v * 1024 for _, v in samples(d.db, w.pid, "anon")])
        self.assertIn(b"Backtest of lw-client", lw("backtest", str(w.pid), "--window", "2m"))
        svg = os.path.join(self.tmp, "p.svg")
        lw("plot", str(w.pid), "--output-file", svg)
        import xml.dom.minidom
        doc = xml.dom.minidom.parse(svg)
        self.assertEqual(doc.documentElement.tagName, "svg")


if __name__ == "__main__":
    unittest.main()
