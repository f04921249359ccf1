# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatch run: a command started, watched with its children, judged, and its exit
status passed on — in-process and through a running daemon; a leak exits 10, a short
job is "not enough data", signals are passed on, a missing command exits 127.

The runs long enough to be judged (about two minutes each) start together in
setUpClass and are checked by their own tests, so the slow part costs one run's time."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

from lwtest import ALLOC, BUILD, CLIENT, WAIT, Case, Daemon, query, wait_for

EXIT_USAGE, EXIT_LEAK = 2, 10
# A run takes the workload's time and a little more; this only stops a hung test.
RUN_LIMIT = 900
# The leaking workload of the issue: 512 KiB every 250 ms for two minutes (2 MiB/s).
LEAK = ["--step-kib", 512, "--every-ms", 250, "--steps", 480]
# The same rhythm, each step freed: flat, and long enough for a 1m window (90 s).
FLAT = ["--free", "--step-kib", 512, "--every-ms", 250, "--steps", 400]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The seed article's unbounded dict cache (~0.25 MiB/s), for as long as a 1m window needs
# to be judged (90 s) and a little more.
SEED_CACHE = [os.path.join(ROOT, "tests", "workloads", "agent_seed.py"), "cache", 95]
# Debian's own interpreter, the one the agent is meant for; another python3 otherwise.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
# What a Python command tells about the agents in it.
SHOW_AGENT = ("import os, sys; print(os.environ.get('LEAKWATCH_AGENT'), os.environ.get('LD_PRELOAD'), "
              "os.environ.get('PYTHONPATH'), os.environ.get('LEAKWATCH_AGENT_SOCKET'), "
              "os.environ.get('LEAKWATCH_AGENT_INTERVAL'), 'leakwatch_agent' in sys.modules)")


def env(**extra):
    e = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC", "LC_ALL": "C.UTF-8"}
    e.update(extra)
    return e


def start(tmp, args, runtime_dir=None, **kw):
    """Starts leakwatch run in the background; its output goes to files in tmp."""
    name = "run-%d" % time.monotonic_ns()
    out = open(os.path.join(tmp, name + ".out"), "wb")
    err = open(os.path.join(tmp, name + ".err"), "wb")
    argv = [CLIENT, "--runtime-dir", runtime_dir or os.path.join(tmp, "no-daemon")] + [str(a) for a in args]
    p = subprocess.Popen(argv, stdout=out, stderr=err, cwd=tmp, env=kw.pop("env", env()), **kw)
    out.close()
    err.close()
    p.files = (os.path.join(tmp, name + ".out"), os.path.join(tmp, name + ".err"))
    return p


def finish(p, timeout=RUN_LIMIT):
    """Waits for a started run; returns (exit code, stdout, stderr)."""
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise
    with open(p.files[0], "rb") as f:
        out = f.read().decode("utf-8", "replace")
    with open(p.files[1], "rb") as f:
        err = f.read().decode("utf-8", "replace")
    return p.returncode, out, err


class TestJudged(unittest.TestCase):
    """Runs long enough for a verdict, all started at once."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="leakwatch-run-")
        cls.tmp = cls._tmp.name
        os.chmod(cls.tmp, 0o755)
        cls.daemon_dir = os.path.join(cls.tmp, "daemon")
        os.mkdir(cls.daemon_dir)
        cls.daemon = Daemon(cls.daemon_dir, ["--interval", "0.2", "--match", "^nothing-matches-this$"])
        cls.daemon.wait_log("watching")
        cls.local_db = os.path.join(cls.tmp, "leak.db")
        cls.leak_local = start(cls.tmp, ["run", "--window", "1m", "--interval", "0.5", "--db-out", cls.local_db,
                                         ALLOC] + LEAK + ["--name", "lw-run"])
        cls.leak_daemon = start(cls.tmp, ["run", "--window", "1m", "--", ALLOC] + LEAK + ["--name", "lw-drun"],
                                runtime_dir=cls.daemon_dir)
        # A Python program leaking objects, the agents loaded by run alone.
        cls.py_db = os.path.join(cls.tmp, "py.db")
        cls.py_leak = start(cls.tmp, ["run", "--window", "1m", "--interval", "0.5", "--local", "--db-out", cls.py_db,
                                      "--", PYTHON] + SEED_CACHE, env=env(LEAKWATCH_AGENT_DIR=BUILD))
        # The same leak, its report as JSON.
        cls.leak_json = os.path.join(cls.tmp, "leak.json")
        cls.leak_jrun = start(cls.tmp, ["run", "--window", "1m", "--interval", "0.5", "--json", "--output-file",
                                        cls.leak_json, "--", ALLOC] + LEAK + ["--name", "lw-jrun"])
        cls.flat_json = os.path.join(cls.tmp, "flat.json")
        cls.flat = start(cls.tmp, ["run", "--window", "1m", "--json", "--output-file", cls.flat_json, "--", ALLOC] + FLAT +
                         ["--children", 1, "--name", "lw-flat"])

    @classmethod
    def tearDownClass(cls):
        for p in (cls.leak_local, cls.leak_daemon, cls.flat, cls.py_leak, cls.leak_jrun):
            if p.poll() is None:
                p.kill()
                p.wait()
        cls.daemon.stop()
        cls._tmp.cleanup()

    def test_leak_in_process(self):
        code, out, err = finish(self.leak_local)
        self.assertEqual(code, EXIT_LEAK, err)
        self.assertEqual(out, "", "the report goes to standard error")
        self.assertIn("in-process, a sample every 500ms, window 1m (--db-out asks for it)", err)
        self.assertIn("Verdict:   LEAK DETECTED: 1 alert", err)
        self.assertIn("Exit:      10 (a leak; the command's own status was 0)", err)
        self.assertRegex(err, r"memory leaking +\+[12]\.\d+ MiB/s")
        self.assertIn("memory (anon+swap) of ", err)
        # The state changes were told as they happened, before the report.
        self.assertLess(err.index(" memory suspect: "), err.index(" memory leaking: "))
        self.assertLess(err.index(" memory leaking: "), err.index("Command:"))
        # --db-out keeps a leakwatch database the other commands read.
        self.assertIn("Samples:   %s (leakwatch --db %s show id:1)" % (self.local_db, self.local_db), err)
        rows = query(self.local_db, "SELECT r.name, a.metric, a.slope FROM alert a JOIN rule r ON r.id = a.rule_id")
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][:2], ("run", "memory"))
        self.assertAlmostEqual(rows[0][2] / 2 ** 20, 2.0, delta=0.5)
        p = subprocess.run([CLIENT, "--db", self.local_db, "alerts", "--all", "--json"], stdout=subprocess.PIPE,
                           timeout=WAIT, env=env())
        self.assertEqual(json.loads(p.stdout)[0]["metric"], "memory")

    def test_alert_json_is_the_same_everywhere(self):
        """An alert of the run's JSON report has the keys alerts --json and show --json
        give it: what came of it (sites, bundles, restarts) included."""
        code, _, err = finish(self.leak_jrun)
        self.assertEqual(code, EXIT_LEAK, err)
        with open(self.leak_json) as f:
            run_alert = json.load(f)["alerts"][0]
        finish(self.leak_local)
        p = subprocess.run([CLIENT, "--db", self.local_db, "alerts", "--all", "--json"], stdout=subprocess.PIPE,
                           timeout=WAIT, env=env())
        listed = json.loads(p.stdout)[0]
        p = subprocess.run([CLIENT, "--db", self.local_db, "show", "id:1", "--json"], stdout=subprocess.PIPE,
                           timeout=WAIT, env=env())
        shown = json.loads(p.stdout)["alerts"][0]
        # No escalation in a run of its own: nothing kept, nothing restarted; the
        # allocator probe's sites, if it named any by the end.
        self.assertEqual(run_alert["bundles"], [])
        self.assertEqual(run_alert["restarts"], [])
        self.assertIsInstance(run_alert["sites"], list)
        self.assertEqual(sorted(run_alert), sorted(listed))
        self.assertEqual(sorted(shown), sorted(listed))

    def test_leak_through_daemon(self):
        code, out, err = finish(self.leak_daemon)
        self.assertEqual(code, EXIT_LEAK, err)
        self.assertIn("by leakwatchd (pid %d), a sample every 200ms, window 1m" % self.daemon.pid, err)
        self.assertIn("LEAK DETECTED", err)
        pid = int(err.split("Ran:       pid ")[1].split(",")[0])
        # The daemon watched it under its "run" rule, and the alert is the daemon's.
        rows = query(self.daemon.db, "SELECT p.id, r.name, p.end_reason FROM process p "
                                     "JOIN rule r ON r.id = p.rule_id WHERE p.pid = ?", (pid,))
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][1:], ("run", "exited"))
        alerts = query(self.daemon.db, "SELECT metric FROM alert WHERE process_id = ?", (rows[0][0],))
        self.assertEqual(alerts, [("memory",)])
        self.assertIn("Samples:   %s (leakwatch --db %s show id:%d)" % (self.daemon.db, self.daemon.db, rows[0][0]),
                      err)
        self.assertIn("watching pid %d on request (rule run)" % pid, self.daemon.output())

    def test_python_leak_named_by_the_agent(self):
        """python app.py, unchanged: the agent run loads names the growing objects."""
        code, out, err = finish(self.py_leak)
        self.assertEqual(code, EXIT_LEAK, err)
        self.assertIn("LEAK DETECTED", err)
        p = subprocess.run([CLIENT, "--db", self.py_db, "alerts", "--all", "--json"], stdout=subprocess.PIPE,
                           timeout=WAIT, env=env())
        alert = json.loads(p.stdout)[0]
        self.assertEqual(alert["metric"], "memory")
        (cls, agents), = query(self.py_db, "SELECT class, agents FROM alert_kind")
        self.assertEqual(agents, "python")
        if cls == "python-heap":
            # The agent counts objects within a share of the program's time: on a
            # machine so busy that no two counts fell inside the one-minute window, the
            # alert can only say the Python heap grows. It still says Python, from the
            # agent; which types is what the object counts add when they come.
            self.assertRegex(err, r"\n +python heap growing: ")
            self.assertTrue(alert["kind"].startswith("python heap growing:"), alert["kind"])
        else:
            self.assertEqual(cls, "python-objects")
            self.assertRegex(err, r"\n +python objects growing: .*\bdict \+")
            self.assertTrue(alert["kind"].startswith("python objects growing:"), alert["kind"])
            self.assertIn(" dict +", alert["kind"])
        # Suspect, the run's own watch asked the agent for allocation sites (in its
        # private runtime directory): the report shows them under the alert, with the
        # cache's line among the top three, and so does the JSON.
        with open(SEED_CACHE[0]) as f:
            n = next(i for i, line in enumerate(f, 1) if line.rstrip().endswith("# leak: cache"))
        line = "%s:%d" % (SEED_CACHE[0], n)
        self.assertIn("Sites: where live memory grew since tracing began (python agent", err)
        sites = err.split("Sites: ")[1].split("\n")[1:4]
        self.assertTrue(any(line in s for s in sites), sites)
        self.assertTrue(any(line in s["frames"] for s in alert["sites"][:3]), alert["sites"])

    def test_flat_with_a_child(self):
        code, out, err = finish(self.flat)
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        # No events with --json: scripts read the document.
        self.assertEqual(err, "")
        with open(self.flat_json) as f:
            doc = json.load(f)
        self.assertEqual(doc["verdict"], "no leak")
        self.assertIs(doc["leak"], False)
        self.assertEqual((doc["exit_status"], doc["exit_code"], doc["command_status"]), (0, 0, 0))
        self.assertIsNone(doc["signal"])
        self.assertEqual(doc["mode"], "in-process")
        self.assertEqual(doc["mode_note"], "leakwatchd is not running")
        self.assertEqual((doc["window_s"], doc["interval_s"], doc["needs_s"]), (60, 0.5, 90))
        self.assertGreaterEqual(doc["ran_s"], doc["needs_s"])
        self.assertIsNone(doc["database"], "a temporary database is not kept")
        self.assertEqual(doc["alerts"], [])
        self.assertEqual(doc["command"][0], ALLOC)
        # The command and its child, the child watched as its child.
        procs = doc["processes"]
        self.assertEqual(len(procs), 2, procs)
        self.assertEqual(procs[0]["pid"], doc["pid"])
        self.assertEqual(procs[1]["parent_id"], procs[0]["id"])
        self.assertEqual(procs[1]["ppid"], doc["pid"])
        for p in procs:
            self.assertEqual(p["rule"], "run")
            self.assertEqual(p["judged_memory"], "ok")
            self.assertIn(p["end_reason"], ("exited", "unwatched"))


class TestRun(Case):
    def run_lw(self, *args, code=None, runtime_dir=None, **kw):
        p = subprocess.run([CLIENT, "--runtime-dir", runtime_dir or os.path.join(self.tmp, "no-daemon")] +
                           [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_LIMIT, cwd=self.tmp,
                           env=kw.pop("env", env()), **kw)
        if code is not None:
            self.assertEqual(p.returncode, code, p.stderr.decode(errors="replace"))
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_exit_status_is_the_commands(self):
        _, out, err = self.run_lw("run", "--", "sh", "-c", "exit 3", code=3)
        self.assertEqual(out, "")
        self.assertIn("exited with status 3", err)
        self.assertIn("Verdict:   not enough data to judge: ran ", err)
        self.assertIn("needs about 1.5 windows (3m at a 2m window", err)
        _, _, err = self.run_lw("run", "--", "sh", "-c", "kill -TERM $$", code=128 + signal.SIGTERM)
        self.assertIn("killed by signal 15", err)

    def test_short_job_is_not_enough_data(self):
        """Watched, sampled, and still too short to say anything about a leak."""
        _, _, err = self.run_lw("run", "--window", "1m", "--json", "--output-file", "short.json", "--", ALLOC,
                                "--step-kib", 1024, "--every-ms", 100, "--steps", 20, "--name", "lw-short", code=0)
        with open(os.path.join(self.tmp, "short.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["verdict"], "too short")
        self.assertLess(doc["ran_s"], 90)
        self.assertEqual(doc["needs_s"], 90)
        self.assertEqual(len(doc["processes"]), 1)
        self.assertEqual(doc["processes"][0]["judged_memory"], "too short")
        self.assertEqual(doc["processes"][0]["end_reason"], "exited")

    def test_missing_and_unexecutable_commands(self):
        _, out, err = self.run_lw("run", "--", "no-such-command-lw", code=127)
        self.assertEqual(out, "")
        self.assertEqual(err, "leakwatch: run: no-such-command-lw: command not found\n")
        self.run_lw("run", "--", os.path.join(self.tmp, "nope"), code=127)
        script = os.path.join(self.tmp, "not-executable")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(script, 0o644)
        # Not even root may execute a file without an execute bit.
        _, _, err = self.run_lw("run", "--", script, code=126)
        self.assertIn("cannot run %s: Permission denied" % script, err)

    def test_command_line(self):
        # Options after the command are its own; no "--" needed before it.
        code, out, err = self.run_lw("run", "sh", "-c", 'echo "$0 $1"; exit 5', "--json", "--window")
        self.assertEqual(code, 5, err)
        self.assertEqual(out, "--json --window\n", "the command's output is its own")
        self.assertIn("Command:   sh -c 'echo \"$0 $1\"; exit 5' --json --window", err)
        # The child knows it is watched.
        self.run_lw("run", "sh", "-c", 'test "$LEAKWATCH_RUN" = 1', code=0,
                    env=env(LEAKWATCH_RUN="stale"))
        # The report where asked.
        _, out, err = self.run_lw("run", "--output-file", "-", "--", "true", code=0)
        self.assertIn("Verdict:", out)
        self.assertNotIn("Verdict:", err)
        self.run_lw("run", "--output-file", "report.txt", "--", "true", code=0)
        with open(os.path.join(self.tmp, "report.txt")) as f:
            self.assertIn("Verdict:", f.read())

    def test_agents_in_the_environment(self):
        """The agents are loaded from where they are found, and only when asked for."""
        agent_dir = os.path.join(self.tmp, "agents")
        shutil.copytree(os.path.join(BUILD, "python"), os.path.join(agent_dir, "python"))
        shutil.copy(os.path.join(BUILD, "libleakwatch-probe.so"), agent_dir)
        probe = os.path.join(agent_dir, "libleakwatch-probe.so")
        tmpdir = os.path.join(self.tmp, "t")
        os.mkdir(tmpdir)
        e = env(LEAKWATCH_AGENT_DIR=agent_dir, PYTHONPATH="/nowhere", LD_PRELOAD="", LEAKWATCH_AGENT="0",
                LEAKWATCH_AGENT_INTERVAL="60", TMPDIR=tmpdir)
        _, out, err = self.run_lw("run", "--", PYTHON, "-c", SHOW_AGENT, code=0, env=e)
        agent, preload, path, sock, interval, loaded = out.split()
        self.assertEqual((agent, preload, path, interval, loaded),
                         ("1", probe, os.path.join(agent_dir, "python") + ":/nowhere", "2", "True"))
        # In-process: a socket in the run's own directory, gone with it.
        self.assertRegex(sock, "^%s/leakwatch-run-[^/]+/agent.sock$" % tmpdir)
        self.assertEqual(os.listdir(tmpdir), [])
        self.assertNotIn("agent", err)
        # --no-agent: the environment as it was, and LEAKWATCH_RUN=1.
        _, out, _ = self.run_lw("run", "--no-agent", "--", PYTHON, "-c", SHOW_AGENT, code=0,
                                env=env(LEAKWATCH_AGENT_DIR=agent_dir))
        self.assertEqual(out, "None None None None None False\n")
        # A missing agent is said once, and the rest is loaded.
        os.remove(probe)
        _, out, err = self.run_lw("run", "--", PYTHON, "-c", SHOW_AGENT, code=0, env=env(LEAKWATCH_AGENT_DIR=agent_dir))
        self.assertEqual(out.split()[:2], ["1", "None"])
        self.assertEqual(out.split()[-1], "True")
        self.assertEqual([line for line in err.splitlines() if "agent" in line],
                         ["leakwatch: run: no allocator probe (libleakwatch-probe.so) in %s; the Python agent only"
                          % agent_dir])
        # No agent anywhere (a copy of leakwatch without the build tree beside it): the
        # command runs without, and run says so in one line. A file that is not a
        # regular one is not an agent.
        if os.path.exists("/usr/local/lib/leakwatch"):
            return
        os.mkdir(probe)
        shutil.rmtree(os.path.join(agent_dir, "python"))
        lonely = os.path.join(self.tmp, "bin")
        os.mkdir(lonely)
        shutil.copy(CLIENT, lonely)
        p = subprocess.run([os.path.join(lonely, "leakwatch"), "--runtime-dir", os.path.join(self.tmp, "no-daemon"),
                            "run", "--", PYTHON, "-c", SHOW_AGENT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=RUN_LIMIT, env=env(LEAKWATCH_AGENT_DIR=agent_dir))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, b"None None None None None False\n")
        self.assertEqual(len([line for line in p.stderr.splitlines() if b"agent" in line]), 1, p.stderr)
        self.assertIn(b"leakwatch: run: no in-process agents found", p.stderr)

    def test_agents_report_to_the_daemon(self):
        d = self.daemon("--interval", "0.2", "--match", "^nothing-matches-this$")
        d.wait_log("watching")
        _, out, err = self.run_lw("run", "--window", "1m", "--", PYTHON, "-c", SHOW_AGENT, code=0, runtime_dir=self.tmp,
                                  env=env(LEAKWATCH_AGENT_DIR=BUILD))
        self.assertIn("by leakwatchd (pid %d)" % d.pid, err)
        self.assertEqual(out.split()[3], os.path.join(self.tmp, "agent.sock"))
        self.assertEqual(out.split()[-1], "True")
        self.assertEqual(d.stop(), 0, d.output())

    def test_temporary_database_removed(self):
        tmpdir = os.path.join(self.tmp, "t")
        os.mkdir(tmpdir)
        self.run_lw("run", "--", "true", code=0, env=env(TMPDIR=tmpdir))
        self.assertEqual(os.listdir(tmpdir), [])
        # Even when nobody reads the report any more: a pipe whose reader is gone.
        rfd, wfd = os.pipe()
        os.close(rfd)
        p = subprocess.Popen([CLIENT, "--runtime-dir", os.path.join(self.tmp, "no-daemon"), "run", "--output-file", "-", "--",
                              "true"], stdout=wfd, stderr=subprocess.PIPE, env=env(TMPDIR=tmpdir))
        os.close(wfd)
        _, err = p.communicate(timeout=RUN_LIMIT)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(b"writing the report: Broken pipe", err)
        self.assertEqual(os.listdir(tmpdir), [])

    def test_usage(self):
        existing = os.path.join(self.tmp, "exists.db")
        open(existing, "w").close()
        for args in (["run"], ["run", "--"], ["run", "--window", "30s", "true"], ["run", "--window", "91d", "true"],
                     ["run", "--window", "1m", "--interval", "5", "true"], ["run", "--interval", "0.01", "true"],
                     ["run", "--db-out", existing, "true"], ["run", "--rule", "x", "true"],
                     ["run", "--csv", "true"], ["status", "--local"]):
            code, out, err = self.run_lw(*args)
            self.assertEqual(code, EXIT_USAGE, (args, err))
            self.assertEqual(out, "")
        self.assertEqual(os.path.getsize(existing), 0, "an existing file is never written")

    def test_daemon_lets_go_of_leftover_children(self):
        """A child that outlives the command is the daemon's no longer once the run ends."""
        # The daemon finds new children at its scans (every 10 s by default): here as
        # often as it samples.
        conf = os.path.join(self.tmp, "scan.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.2\nscan-interval = 0.2\n")
        d = self.daemon("--config", conf, "--match", "^nothing-matches-this$")
        d.wait_log("watching")
        pidfile = os.path.join(self.tmp, "orphan.pid")
        # The command waits long enough for the daemon's scan to find its child; the
        # child keeps none of the test's pipes open.
        _, _, err = self.run_lw("run", "--window", "1m", "--", "sh", "-c",
                                '"$1" --steps 1 --hold-ms 600000 --name lw-orphan >/dev/null 2>&1 & '
                                'echo $! > "$2"; sleep 2',
                                "sh", ALLOC, pidfile, code=0, runtime_dir=self.tmp)
        with open(pidfile) as f:
            orphan = int(f.read())
        try:
            self.assertIn("by leakwatchd (pid %d)" % d.pid, err)
            root = int(err.split("Ran:       pid ")[1].split(",")[0])
            rows = query(d.db, "SELECT p.id, p.parent_id FROM process p JOIN rule r ON r.id = p.rule_id "
                               "WHERE r.name = 'run' AND p.pid IN (?, ?) ORDER BY p.id", (root, orphan))
            self.assertEqual(len(rows), 2, rows)
            self.assertEqual(rows[1][1], rows[0][0], "the child was watched as the command's child")
            wait_for(lambda: query(d.db, "SELECT end_reason FROM process WHERE pid = ?", (orphan,)) ==
                     [("unwatched",)], what="the leftover child to be let go")
            os.kill(orphan, 0)  # it still runs: let go of, not killed
        finally:
            os.kill(orphan, signal.SIGKILL)
        self.assertEqual(d.stop(), 0, d.output())

    def test_signals_are_passed_on(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            mark = os.path.join(self.tmp, "started-%d" % sig)
            p = subprocess.Popen([CLIENT, "--runtime-dir", os.path.join(self.tmp, "no-daemon"), "run", "--", "sh",
                                  "-c", 'touch "$1"; exec sleep 600', "sh", mark],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
            self.procs.append(p)
            wait_for(lambda: os.path.exists(mark), what="the command to start")
            p.send_signal(sig)
            _, err = p.communicate(timeout=RUN_LIMIT)
            # The command died of it, and run exits as a shell would.
            self.assertEqual(p.returncode, 128 + sig, err)
            self.assertIn(b"killed by signal %d" % sig, err)


if __name__ == "__main__":
    unittest.main()
