# SPDX-License-Identifier: GPL-2.0-or-later
"""What leakwatchd executes, traced: a whole run with alerts and hooks under
`strace -f -e trace=execve,execveat`, with bait in a target's environment (a user-owned
`python` with PYTHONPATH and LD_PRELOAD, as needrestart was led to run in
CVE-2024-48990): only the configured hook is ever executed, with a clean environment.
And storms and self-targeting (earlyoom#205, #309): a rule that matches every process
(`name = *`) with a target that grows for the whole run gives one start hook per alert,
and never watches the daemon or its hooks, nor alerts on the client."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

from lwtest import CLIENT, DAEMON, Case, query, wait_for
from lwadv import figure, wait_daemon

STRACE = "/usr/bin/strace"
NOBODY = 65534

# Builtins only: the hook itself is the one program its run executes.
HOOK = """#!/bin/sh
printf '%s %s %s %s\\n' "$$" "$PPID" "$LEAKWATCH_EVENT" "$LEAKWATCH_PID" >> {out}/runs
printf '%s\\n' "PYTHONPATH=${{PYTHONPATH-unset}} LD_PRELOAD=${{LD_PRELOAD-unset}} PATH=$PATH" > {out}/env-$$
"""

# The bait: grows like a leak, from a user-owned interpreter, with an environment that
# would take over any Python or any dynamically linked program started with it.
BAIT = r"""
import ctypes, sys, time
ctypes.CDLL(None).prctl(15, b"lwbait", 0, 0, 0)
keep = []
while True:
    keep.append(bytearray(64 * 1024))
    time.sleep(0.1)
"""

SITE = """import os
with open(os.path.join({marks!r}, str(os.getpid())), "w") as f:
    f.write("imported")
"""


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


class TestExec(Case):
    def tearDown(self):
        # Killing strace would leave its tracee running: the daemon goes first.
        for d in self.daemons:
            if d.alive():
                for pid in children(d.pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        super().tearDown()

    def hook(self, name):
        out = os.path.join(self.tmp, name)
        os.mkdir(out)
        # A hook lives where only root can change it (the daemon refuses /tmp).
        hook = os.path.join(self.hook_dir(), name + ".sh")
        with open(hook, "w") as f:
            f.write(HOOK.format(out=out))
        os.chmod(hook, 0o755)
        return out, hook

    @staticmethod
    def runs(out):
        """The hook runs as the hook recorded them: (pid, parent, event, target pid)."""
        if not os.path.exists(os.path.join(out, "runs")):
            return []
        with open(os.path.join(out, "runs")) as f:
            return [(int(r[0]), int(r[1]), r[2], int(r[3])) for r in (line.split() for line in f) if len(r) == 4]

    def test_only_configured_hooks_run_and_storms_stay_one_alert(self):
        if not os.access(STRACE, os.X_OK):
            self.skipTest("strace is missing (Debian package strace; tools/install-deps --tests installs it)")
        bait = os.path.join(self.tmp, "bait")
        marks = os.path.join(bait, "marks")
        for p in (bait, marks):
            os.mkdir(p)
        # A python that belongs to an unprivileged user, in a directory that user owns.
        python = os.path.join(bait, "python")
        shutil.copy(os.path.realpath(sys.executable), python)
        with open(os.path.join(bait, "sitecustomize.py"), "w") as f:
            f.write(SITE.format(marks=marks))
        for p in (bait, marks, python, os.path.join(bait, "sitecustomize.py")):
            os.chown(p, NOBODY, NOBODY)
        env = dict(PATH=bait + ":/usr/bin:/bin", PYTHONPATH=bait, LD_PRELOAD=os.path.join(bait, "libevil.so"))
        bait_proc = self.spawn(["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups",
                                python, "-c", BAIT], env=env)
        storm = self.alloc("--step-kib", 64, "--every-ms", 100, "--steps", 100000, "--name", "lwstorm")
        ours = {bait_proc.pid, storm.pid}

        # H2: the daemon under strace, watching the bait and the storm. Under ptrace the
        # daemon may never learn that a hook ended (docs/adversarial.md), which would hold
        # its slot: a narrow rule and spare slots keep the hooks this test needs running.
        out_a, hook_a = self.hook("traced")
        conf_a = os.path.join(self.tmp, "traced.conf")
        with open(conf_a, "w") as f:
            f.write("[daemon]\ninterval = 0.2\nwindow = 1m\nhook-timeout = 5s\nhook-max-running = 16\n"
                    "hook = %s\n[rule bait]\nname = lwbait\n[rule storm]\nname = lwstorm\n" % hook_a)
        trace = os.path.join(self.tmp, "strace.log")
        run_a = os.path.join(self.tmp, "run-a")
        os.mkdir(run_a)
        # LeakSanitizer cannot run under ptrace: a sanitizer build leaves leaks to the
        # other suites here (no effect on a normal build).
        asan = os.environ.get("ASAN_OPTIONS", "")
        denv = dict(os.environ, ASAN_OPTIONS=(asan + ":" if asan else "") + "detect_leaks=0")
        a = self.daemon("--config", conf_a, "--runtime-dir", run_a, db=os.path.join(run_a, "lw.db"), env=denv,
                        wrap=[STRACE, "-f", "-y", "-qq", "--seccomp-bpf", "-e", "trace=execve,execveat", "-o", trace])

        # H5: a rule that matches every process on the machine, with the client running
        # again and again.
        out_b, hook_b = self.hook("everything")
        conf_b = os.path.join(self.tmp, "everything.conf")
        with open(conf_b, "w") as f:
            f.write("[daemon]\ninterval = 0.2\nwindow = 1m\nhook-timeout = 5s\nhook = %s\n"
                    "[rule everything]\nname = *\n" % hook_b)
        run_b = os.path.join(self.tmp, "run-b")
        os.mkdir(run_b)
        b = self.daemon("--config", conf_b, "--runtime-dir", run_b, db=os.path.join(run_b, "lw.db"))
        a.wait_log("watching")
        b.wait_log("watching")
        traced_pid = [p for p in children(a.pid) if os.path.realpath("/proc/%d/exe" % p) == DAEMON][0]

        client_pids, stop = [], threading.Event()

        def client_loop():
            cenv = dict(os.environ, LEAKWATCH_DB=b.db, LEAKWATCH_RUNTIME_DIR=run_b)
            while not stop.is_set():
                p = subprocess.Popen([CLIENT, "status"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=cenv)
                client_pids.append(p.pid)
                p.wait()
                time.sleep(0.2)
        t = threading.Thread(target=client_loop)
        t.start()
        try:
            for d, out in ((a, out_a), (b, out_b)):
                wait_daemon(d, lambda: {(p, "start") for p in ours} <= {(r[3], r[2]) for r in self.runs(out)},
                            timeout=300, what="the start hooks of the bait and the growing target")
            # Several more evaluations with the target still growing: no second alert.
            time.sleep(5)
        finally:
            stop.set()
            t.join()
        self.assertTrue(os.path.exists("/proc/%d" % traced_pid), a.output())
        os.kill(traced_pid, signal.SIGTERM)
        self.assertEqual(a.stop(), 0, a.output())
        self.assertEqual(b.stop(), 0, b.output())

        # H2: every program executed under the trace is the daemon or its hook, run by
        # the daemon with a clean environment; nothing imported the bait's Python code.
        execs = []
        with open(trace) as f:
            for line in f:
                m = re.match(r"(\d+) +execve\(\"([^\"]*)\"", line) or \
                    re.match(r"(\d+) +execveat\(\d+<([^>]*)>, \"\"", line) or \
                    re.match(r"(\d+) +execveat\([^,]*, \"([^\"]*)\"", line)
                if m:
                    execs.append((int(m.group(1)), m.group(2)))
        with open(trace) as f:
            self.assertTrue(execs, "strace saw no execve at all:\n" + f.read()[:2000])
        unexpected = [e for e in execs if e[1] not in (DAEMON, hook_a)]
        hook_execs = [e for e in execs if e[1] == hook_a]
        runs_a = self.runs(out_a)
        envs = []
        for out in (out_a, out_b):
            for e in os.listdir(out):
                if e.startswith("env-"):
                    with open(os.path.join(out, e)) as f:
                        envs.append(f.read())
        marks_by_others = [m for m in os.listdir(marks) if int(m) != bait_proc.pid]

        # H5: one alert per process and metric for ours, one start hook per alert for
        # all; no process row for the daemon or a hook; no alert for the client.
        per = query(b.db, """SELECT a.process_id, a.metric, count(DISTINCT a.id),
                                    sum(h.event = 'start') FROM alert a LEFT JOIN hook_run h ON h.alert_id = a.id
                             GROUP BY a.process_id, a.metric""")
        our_rows = {r[0] for r in query(b.db, "SELECT id FROM process WHERE pid IN (?, ?)", tuple(ours))}
        hook_pids = {r[0] for r in self.runs(out_b)}
        watched_self = query(b.db, "SELECT pid FROM process WHERE pid IN (%s)" %
                             ",".join(str(p) for p in {b.pid} | hook_pids))
        client_alerts = query(b.db, "SELECT p.pid FROM alert a JOIN process p ON p.id = a.process_id "
                                    "WHERE p.pid IN (%s)" % ",".join(str(p) for p in client_pids))
        figure("test_exec", execs=len(execs), hook_execs=len(hook_execs), unexpected_execs=len(unexpected),
               marks_by_others=len(marks_by_others), match_all_alerts=sum(r[2] for r in per),
               hook_runs=len(self.runs(out_b)), repeated_alerts=sum(1 for r in per if r[0] in our_rows and r[2] > 1),
               client_runs=len(client_pids), self_watched=len(watched_self), client_alerts=len(client_alerts))
        self.assertEqual(unexpected, [], "programs executed besides the hook")
        self.assertGreaterEqual(len(hook_execs), 2)
        self.assertTrue(all(r[1] == traced_pid for r in runs_a), "hooks are the daemon's children: %r" % runs_a)
        for e in envs:
            self.assertTrue(e.startswith("PYTHONPATH=unset LD_PRELOAD=unset PATH=/usr/local/sbin:"), e)
        self.assertEqual(marks_by_others, [], "the bait's sitecustomize ran in another process")
        # The rule matches other tests' processes on this machine too: one start hook
        # per alert holds for all of them; one alert in the run for the two of ours.
        self.assertEqual([r for r in per if (r[3] or 0) > r[2]], [], "one start hook per alert")
        self.assertEqual([r for r in per if r[0] in our_rows and r[2] > 1], [], "one alert per process and metric")
        self.assertLessEqual(our_rows, {r[0] for r in per}, "both of ours alerted")
        self.assertEqual(watched_self, [], "the daemon and its hooks are never watched")
        self.assertEqual(client_alerts, [])
