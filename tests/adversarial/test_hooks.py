# SPDX-License-Identifier: GPL-2.0-or-later
"""Alert hooks under attack, as real processes against the real daemon: hostile process
names and command lines reach a hook as exact bytes and are never run; a hook's
environment is a whitelist with a fixed PATH and only descriptors 0-2 are open in it; a
hook path anyone but root could change is refused at load and at reload, and at each run
while an unprivileged user swaps it for a link to /bin/sh as alerts fire; nothing a hook
run starts outlives it (a background child, a setsid() double fork, a hook that ignores
SIGTERM), with a cgroup per run and with a reaper process per run; and the example hook
save-evidence neither writes through a planted link nor reads a reused PID's files.

Each test prints its figures on a FIGURES line for docs/adversarial.md."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

import lwtest
from lwadv import figure
from lwtest import ALLOC, WAIT, Case, query, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EVIDENCE = os.path.join(ROOT, "hooks", "save-evidence")
SH = os.path.realpath("/bin/sh")
NOBODY = 65534
# The daemon's SIGTERM-to-SIGKILL grace (HOOK_KILL_GRACE_USEC), and the hook timeout
# the tests configure.
GRACE = 5.0
HOOK_TIMEOUT = 3.0
# A loaded machine may be late to reap; the bounds below are the daemon's own plus this.
SLACK = 3.0


def write_exec(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def marked(token):
    """{pid: environment marker} of live processes whose environment holds token
    (zombies have no environment)."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(b"LWMARK=") and token.encode() in var:
                found[int(name)] = var[7:].decode()
    return found


class Watcher(threading.Thread):
    """Sees, every 50 ms, which marked processes are alive: when each marker was first
    and last seen, and every PID seen with it."""

    def __init__(self, token):
        super().__init__(daemon=True)
        self.token = token
        self.first, self.last, self.pids = {}, {}, {}
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            now = time.monotonic()
            for pid, mark in marked(self.token).items():
                self.first.setdefault(mark, now)
                self.last[mark] = now
                self.pids.setdefault(mark, set()).add(pid)
            time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join()


def hook_runs(db, rule):
    """(program, event, exit_code, signal, timed_out, output, start_ms, end_ms) of the
    finished hook runs of a rule."""
    return query(db, """SELECT h.program, h.event, h.exit_code, h.signal, h.timed_out, h.output, h.start_ms,
                               h.end_ms
                        FROM hook_run h JOIN alert a ON a.id = h.alert_id JOIN rule r ON r.id = a.rule_id
                        WHERE r.name = ? AND h.end_ms IS NOT NULL ORDER BY h.id""", (rule,))


def cgroup2_mount():
    """Where the cgroup2 file system is mounted (its root), or None."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            if right.split()[0] == "cgroup2" and left.split()[3] == "/":
                return left.split()[4].replace("\\040", " ")
    return None


def in_root_ns_without_cgroups():
    """The argv prefix that runs the daemon in a private mount namespace where no cgroup
    file system is mounted: it cannot make a cgroup per run and falls back to reapers."""
    script = ("for m in $(awk '$3 == \"cgroup2\" || $3 == \"cgroup\" {print $2}' /proc/self/mounts | sort -r); "
              "do umount -l \"$m\" || exit 99; done; exec \"$@\"")
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]


# ---- hook programs the burst runs ----

RECORD = """#!/bin/sh
# What leakwatchd passed, byte for byte: arguments, name, command line, the document.
out={out}/$LEAKWATCH_PID
printf '%s\\0' "$@" > "$out.argv"
printf '%s' "$LEAKWATCH_NAME" > "$out.name"
printf '%s' "$LEAKWATCH_CMDLINE" > "$out.cmdline"
cat > "$out.json"
echo recorded
"""

FDS = """#!/bin/sh
# The descriptors open in a script hook, listed by a child so the list is not its own.
ls -l /proc/$$/fd
exit 0
"""

# Each lingers 1.5 s before it exits, so that the watcher sees what it started alive
# even on a loaded machine, where one pass over /proc can take longer than its 50 ms
# pause (the hooks' timeout is 3 s).
BG = """#!/bin/sh
export LWMARK={token}-$1-bg
sleep 1000 &
echo "child $!"
cat /proc/self/cgroup
sleep 1.5
exit 0
"""

SETSID = """#!/bin/sh
export LWMARK={token}-$1-setsid
( setsid sh -c 'echo "grandchild $$"; exec sleep 1000' & )
sleep 1.5
exit 0
"""

TERMIGN = """#!/bin/sh
export LWMARK={token}-$1-termign
trap '' TERM
( trap '' TERM; setsid sh -c 'trap "" TERM; exec sleep 1000' & )
sleep 1000 &
echo started
while :; do sleep 1; done
"""

RACE_HOOK = """#!/bin/sh
touch {out}/real-ran-$$
echo real hook
"""

# Names a process can give itself (15 bytes at most), and what the environment says
# of them (control characters escaped); JSON carries them exactly.
HOSTILE = [
    ("$(id>pwn1)", "$(id>pwn1)"),
    ("`id>pwn2`", "`id>pwn2`"),
    (";id>pwn3", ";id>pwn3"),
    ("\nid>pwn4", "\\nid>pwn4"),
    ("\x1b[31mpwn5", "\\x1b[31mpwn5"),
    ("--help", "--help"),
    ("*", "*"),
    ("x'y\"z|&pwn6", "x'y\"z|&pwn6"),
]
# The command line may be long: one hostile word per kind.
# (After a word naming the run: rules select their processes by it, so that runs of
# this module at the same time, from other trees, do not see each other's.)
HOSTILE_ARGV0 = " $(id>pwnc1) `id>pwnc2` ;id>pwnc3 \nid>pwnc4 \x1b]0;pwn\x07 --help * ~root"
# Words of the hook's own command in the configuration are literal too.
RECORD_ARGS = ['"$(id>pwna)"', '"*"', "--help", '";id>pwnb"', '"a b"']
RECORD_ARGV = ["$(id>pwna)", "*", "--help", ";id>pwnb", "a b"]

READLINK_FDS = " ".join("/proc/self/fd/%d" % i for i in range(0, 13))

CONF_A = """[daemon]
interval = 0.5
window = 1m
commit-interval = 0.5
hook-timeout = {timeout}s
hook-max-running = 16

[rule hostile]
cmdline = ^{token}-hostile
hook = {dir}/record.sh {record_args}

[rule h3]
cmdline = ^{token}-h3
hook = /usr/bin/env
hook = /usr/bin/readlink -v {readlink}
hook = {dir}/fds.sh

[rule bg]
cmdline = ^{token}-bg
hook = {dir}/bg.sh A

[rule setsid]
cmdline = ^{token}-setsid
hook = {dir}/setsid.sh A

[rule termign]
cmdline = ^{token}-termign
hook = {dir}/termign.sh A

[rule race]
cmdline = ^{token}-race
{race_hooks}
"""

CONF_BC = """[daemon]
interval = 0.5
window = 1m
commit-interval = 0.5
hook-timeout = {timeout}s

[rule bg]
cmdline = ^{token}-bg
hook = {dir}/bg.sh {who}

[rule setsid]
cmdline = ^{token}-setsid
hook = {dir}/setsid.sh {who}

[rule termign]
cmdline = ^{token}-termign
hook = {dir}/termign.sh {who}
"""

# An unprivileged user's swapper: exchanges the hook with a link to the shell, and the
# hook's directory with a link to a directory of its own whose "hook" is such a link,
# as fast as it can, until the stop file appears. Prints how many exchanges it made.
SWAPPER = r"""
import ctypes, os, sys
race, stop, target = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
AT_FDCWD = -100
os.symlink(target, race + "/evil")
os.mkdir(race + "/adir")
os.symlink(target, race + "/adir/hook")
os.symlink("adir", race + "/evild")
def x(a, b):
    return libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) == 0
n = 0
while not os.path.exists(stop):
    n += x(race + "/hook", race + "/evil")
    n += x(race + "/d", race + "/evild")
print(n)
"""


class TestHookPathTrust(Case):
    """Hooks anyone but root (or the daemon's user) could change are refused, with the
    component at fault named, at load and at reload."""

    def layouts(self, base):
        """(name, hook path, text the refusal must hold) for each unsafe layout."""
        out = []
        tmp = os.path.join(self.tmp, "hook")
        write_exec(tmp, "#!/bin/sh\nexit 0\n")
        out.append(("in /tmp", tmp, "/tmp: a directory writable by group and others"))
        gw = os.path.join(base, "gw-file")
        write_exec(gw, "#!/bin/sh\nexit 0\n", 0o775)
        out.append(("group-writable file", gw, gw + ": a file writable by group (mode 0775)"))
        gwd = os.path.join(base, "gw-dir")
        os.mkdir(gwd)
        os.chmod(gwd, 0o775)
        write_exec(gwd + "/hook", "#!/bin/sh\nexit 0\n")
        out.append(("group-writable directory", gwd + "/hook", gwd + ": a directory writable by group"))
        ww = os.path.join(base, "ww-dir")
        os.mkdir(ww)
        os.chmod(ww, 0o777)
        write_exec(ww + "/hook", "#!/bin/sh\nexit 0\n")
        out.append(("world-writable directory", ww + "/hook", ww + ": a directory writable by group and others"))
        st = os.path.join(base, "sticky-dir")
        os.mkdir(st)
        os.chmod(st, 0o1777)
        write_exec(st + "/hook", "#!/bin/sh\nexit 0\n")
        out.append(("sticky world-writable directory", st + "/hook", "sticky does not stop others"))
        good = os.path.join(base, "good")
        write_exec(good, "#!/bin/sh\nexit 0\n")
        link = os.path.join(base, "link")
        os.symlink(good, link)
        out.append(("behind a symlink", link, link + ": a symbolic link (to %s)" % good))
        real = os.path.join(base, "realdir")
        os.mkdir(real)
        write_exec(real + "/hook", "#!/bin/sh\nexit 0\n")
        linkdir = os.path.join(base, "linkdir")
        os.symlink("realdir", linkdir)
        out.append(("behind a directory symlink", linkdir + "/hook", linkdir + ": a symbolic link"))
        out.append(("the shell through /bin", "/bin/sh", "/bin: a symbolic link") if os.path.islink("/bin")
                   else ("the shell through /usr/bin/sh", "/usr/bin/sh", "/usr/bin/sh: a symbolic link"))
        if os.geteuid() == 0:
            other = os.path.join(base, "other-dir")
            os.mkdir(other)
            write_exec(other + "/hook", "#!/bin/sh\nexit 0\n")
            os.chown(other, NOBODY, NOBODY)
            out.append(("directory owned by another user", other + "/hook", other + ": owned by uid %d" % NOBODY))
        return out

    def test_refused_at_load_and_reload(self):
        base = self.hook_dir()
        good = os.path.join(base, "ok.sh")
        write_exec(good, "#!/bin/sh\nexit 0\n")
        conf = os.path.join(self.tmp, "c.conf")
        layouts = self.layouts(base)
        missed_load, missed_reload, unexplained = [], [], []

        def write_conf(hook):
            with open(conf, "w") as f:
                f.write("[daemon]\ninterval = 0.5\nhook = %s\n" % hook)

        for name, path, why in layouts:
            write_conf(path)
            d = self.daemon("--config", conf)
            # Refused: it exits 1 saying why. Accepted: it starts watching.
            wait_for(lambda: not d.alive() or "watching" in d.output(), what="the daemon to start or refuse")
            if d.alive():
                d.stop()
                missed_load.append(name)
                continue
            self.assertEqual(d.proc.returncode, 1, d.output())
            if "hook %s ([daemon]): " % path not in d.output() or why not in d.output():
                unexplained.append((name, d.output()))

        write_conf(good)
        d = self.daemon("--config", conf)
        d.wait_log("watching")

        def reloads():
            out = d.output()
            return out.count("reload: configuration has errors"), out.count("configuration reloaded")
        for name, path, why in layouts:
            before = reloads()
            write_conf(path)
            d.signal(signal.SIGHUP)
            wait_for(lambda: reloads() != before, what="the reload with %s to be over" % name)
            if reloads()[0] == before[0]:
                missed_reload.append(name)
            elif why not in d.output():
                unexplained.append((name, "reload"))
        self.assertTrue(d.alive())
        # And a good configuration is taken again.
        before = reloads()
        write_conf(good)
        d.signal(signal.SIGHUP)
        wait_for(lambda: reloads()[1] > before[1], what="the good configuration to be taken")
        self.assertEqual(d.stop(), 0, d.output())
        figure("test_hooks.path-trust", layouts=len(layouts), refused_at_load=len(layouts) - len(missed_load),
               refused_at_reload=len(layouts) - len(missed_reload))
        self.assertEqual(missed_load, [], "accepted at load")
        self.assertEqual(missed_reload, [], "accepted at reload")
        self.assertEqual(unexplained, [], "refused without naming the component and why")


class TestEvidenceHook(Case):
    """hooks/save-evidence, run as leakwatchd runs it: it refuses an evidence directory
    others can write (where a planted link would redirect it), and a PID whose start
    time is not the alerted process's."""

    def run_hook(self, hook, evdir, pid, start_ms, alert_id=5):
        env = {"PATH": "/usr/bin:/bin", "LEAKWATCH_PID": str(pid), "LEAKWATCH_ALERT_ID": str(alert_id),
               "LEAKWATCH_EVENT": "start"}
        if start_ms is not None:
            env["LEAKWATCH_START_MS"] = str(start_ms)
        return subprocess.run([hook, evdir], input=b'{"pid": %d}' % pid, env=env, capture_output=True,
                              timeout=WAIT)

    def start_ms(self, pid):
        with open("/proc/stat") as f:
            btime = int(next(l for l in f if l.startswith("btime ")).split()[1])
        with open("/proc/%d/stat" % pid) as f:
            ticks = int(f.read().rsplit(") ", 1)[1].split()[19])
        return btime * 1000 + ticks * 1000 // os.sysconf("SC_CLK_TCK")

    def setUp(self):
        super().setUp()
        self.base = self.hook_dir()
        self.hook = os.path.join(self.base, "save-evidence")
        shutil.copy(EVIDENCE, self.hook)
        os.chmod(self.hook, 0o755)
        self.target = self.spawn(["sleep", "1000"])

    def test_planted_link_is_not_followed(self):
        # The evidence directory is one others can write; the attacker plants, for the
        # next seconds, the name each alert event directory will get, as a link to a
        # directory of its choosing.
        ev = os.path.join(self.base, "evidence")
        os.mkdir(ev)
        os.chmod(ev, 0o777)
        victim = os.path.join(self.base, "victim")
        os.mkdir(victim)
        now = time.time()
        for s in range(-2, 10):
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now + s))
            os.symlink(victim, os.path.join(ev, "alert-5-start-%s" % stamp))
        r = self.run_hook(self.hook, ev, self.target.pid, self.start_ms(self.target.pid))
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"writable by group or others", r.stderr)
        self.assertEqual(os.listdir(victim), [], "nothing may be written through the planted link")
        # Under /tmp the same.
        r = self.run_hook(self.hook, os.path.join(self.tmp, "evidence"), self.target.pid,
                          self.start_ms(self.target.pid))
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "evidence")))
        # In a directory only root (or we) can write: saved, without -p: made once.
        good = os.path.join(self.base, "good")
        r = self.run_hook(self.hook, good, self.target.pid, self.start_ms(self.target.pid))
        self.assertEqual(r.returncode, 0, r.stderr)
        (saved,) = os.listdir(good)
        with open(os.path.join(good, saved, "status")) as f:
            self.assertIn("Pid:\t%d\n" % self.target.pid, f.read())
        figure("test_hooks.save-evidence", planted_links=12, written_through=len(os.listdir(victim)))

    def test_reused_pid_is_not_read(self):
        ev = os.path.join(self.base, "evidence")
        real = self.start_ms(self.target.pid)
        # The alerted process started a minute earlier than whatever has its PID now.
        r = self.run_hook(self.hook, ev, self.target.pid, real - 60000, alert_id=6)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(b"PID was reused", r.stderr)
        (saved,) = os.listdir(ev)
        self.assertEqual(sorted(os.listdir(os.path.join(ev, saved))), ["alert.json"],
                         "only the alert, no file of the other process")
        # Without a start time it cannot tell: it reads nothing either.
        r = self.run_hook(self.hook, ev, self.target.pid, None, alert_id=7)
        self.assertNotEqual(r.returncode, 0)
        # With the right one it saves the process's files.
        r = self.run_hook(self.hook, ev, self.target.pid, real, alert_id=8)
        self.assertEqual(r.returncode, 0, r.stderr)
        (saved,) = [e for e in os.listdir(ev) if e.startswith("alert-8-")]
        self.assertIn("smaps_rollup", os.listdir(os.path.join(ev, saved)))


class TestHookRuns(unittest.TestCase):
    """One burst of alerts, for every check that needs hooks run by the real daemon:
    daemon A makes a cgroup per run, daemon B (in a mount namespace without cgroup file
    systems) a reaper per run. Slow: the detector needs about 75 s of growth."""

    @classmethod
    def setUpClass(cls):
        cls.skip = None
        if os.geteuid() != 0:
            cls.skip = "needs root to run the daemon as root, drop to nobody and unmount cgroups"
            return
        for tool in ("unshare", "setpriv"):
            if not shutil.which(tool):
                cls.skip = "needs %s" % tool
                return
        cls.cg_root = cgroup2_mount()
        if not cls.cg_root:
            cls.skip = "needs a cgroup2 file system"
            return
        class Holder(Case):
            """Holds the class's temporary directory, daemons and processes."""

            def runTest(self):
                pass
        c = Holder()
        c.setUp()
        cls.case = c
        try:
            cls._start(c)
        except BaseException:
            cls._cleanup()
            raise

    @classmethod
    def _start(cls, c):
        cls.token = "lwt%d" % os.getpid()
        cls.dir = c.hook_dir()
        cls.out = os.path.join(c.tmp, "out")
        os.mkdir(cls.out)
        os.chmod(cls.out, 0o777)
        cls.cwd = os.path.join(c.tmp, "cwd")
        os.mkdir(cls.cwd)
        os.chmod(cls.cwd, 0o777)
        write_exec(os.path.join(cls.dir, "record.sh"), RECORD.format(out=cls.out))
        write_exec(os.path.join(cls.dir, "fds.sh"), FDS)
        write_exec(os.path.join(cls.dir, "bg.sh"), BG.format(token=cls.token))
        write_exec(os.path.join(cls.dir, "setsid.sh"), SETSID.format(token=cls.token))
        write_exec(os.path.join(cls.dir, "termign.sh"), TERMIGN.format(token=cls.token))
        # The race directory: trusted while the configuration is loaded.
        cls.race = os.path.join(cls.dir, "race")
        os.mkdir(cls.race, 0o755)
        os.mkdir(os.path.join(cls.race, "d"), 0o755)
        write_exec(os.path.join(cls.race, "hook"), RACE_HOOK.format(out=cls.out))
        write_exec(os.path.join(cls.race, "d", "hook"), RACE_HOOK.format(out=cls.out))
        race_hooks = "\n".join(["hook = %s/hook" % cls.race] * 4 + ["hook = %s/d/hook" % cls.race] * 4)
        conf_a = os.path.join(c.tmp, "a.conf")
        with open(conf_a, "w") as f:
            f.write(CONF_A.format(timeout=HOOK_TIMEOUT, dir=cls.dir, record_args=" ".join(RECORD_ARGS),
                                  readlink=READLINK_FDS, race_hooks=race_hooks, token=cls.token))
        conf_b = os.path.join(c.tmp, "b.conf")
        with open(conf_b, "w") as f:
            f.write(CONF_BC.format(timeout=HOOK_TIMEOUT, dir=cls.dir, who="B", token=cls.token))
        os.mkdir(os.path.join(c.tmp, "b"))
        # Daemon C runs as nobody in a cgroup delegated to it the way systemd's
        # Delegate=yes does: the directory and its cgroup.procs, cgroup.threads and
        # cgroup.subtree_control given to the user.
        cls.deleg = os.path.join(cls.cg_root, "lwtest-deleg-%d" % os.getpid())
        os.mkdir(cls.deleg)
        for f in ("", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"):
            os.chown(os.path.join(cls.deleg, f), NOBODY, NOBODY)
        cdir = os.path.join(c.tmp, "c")
        os.mkdir(cdir)
        os.chown(cdir, NOBODY, NOBODY)
        conf_c = os.path.join(cdir, "c.conf")
        with open(conf_c, "w") as f:
            f.write(CONF_BC.format(timeout=HOOK_TIMEOUT, dir=cls.dir, who="C", token=cls.token))

        step = ["--step-kib", "64", "--every-ms", "250", "--steps", "2400"]
        cls.hostile = {}
        for name, _ in HOSTILE:
            p = subprocess.Popen([cls.token + "-hostile" + HOSTILE_ARGV0] + step + ["--name", name],
                                 executable=ALLOC, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            c.procs.append(p)
            cls.hostile[p.pid] = name
        for rule in ("h3", "bg", "setsid", "termign"):
            c.procs.append(subprocess.Popen(["%s-%s" % (cls.token, rule)] + step + ["--name", "lwh-" + rule],
                                            executable=ALLOC, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        cls.racers = []
        for _ in range(6):
            p = subprocess.Popen([cls.token + "-race"] + step + ["--name", "$(id>pwnR)"], executable=ALLOC,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            c.procs.append(p)
            cls.racers.append(p)

        # Each process names itself right after it starts; the daemons start once all
        # have, so that none is first seen under the name of the program.
        names = dict(cls.hostile)
        names.update({p.pid: "$(id>pwnR)" for p in cls.racers})

        def named():
            for pid, name in names.items():
                with open("/proc/%d/comm" % pid, "rb") as f:
                    if f.read()[:-1] != name.encode()[:15]:
                        return False
            return True
        wait_for(named, what="the processes to take their names")

        # Whatever the daemon's environment holds must not reach a hook.
        env = dict(os.environ, LWTEST_SECRET="canary", PYTHONPATH="/evil", BASH_ENV="/evil", ENV="/evil",
                   PATH="/evil:" + os.environ.get("PATH", "/usr/bin"), HOME="/evil")
        # The hooks' working directory is the daemon's: where an injected "id>pwn" lands.
        chdir = lambda: os.chdir(cls.cwd)  # noqa: E731
        cls.a = c.daemon("--config", conf_a, env=env, preexec=chdir)
        cls.b = c.daemon("--config", conf_b, "--runtime-dir", os.path.join(c.tmp, "b"),
                         db=os.path.join(c.tmp, "b", "b.db"), preexec=chdir, wrap=in_root_ns_without_cgroups())


        def into_delegated():
            chdir()
            with open(os.path.join(cls.deleg, "cgroup.procs"), "w") as f:
                f.write("0")
        cls.c = c.daemon("--config", conf_c, "--runtime-dir", cdir, db=os.path.join(cdir, "c.db"),
                         preexec=into_delegated,
                         wrap=["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups", "--"])
        cls.a.wait_log("watching")
        cls.b.wait_log("watching")
        cls.c.wait_log("watching")
        cls.watcher = Watcher(cls.token)
        cls.watcher.start()

        # The attacker gets the race directory once the configuration is in force.
        os.chown(cls.race, NOBODY, NOBODY)
        cls.stop_swapping = os.path.join(c.tmp, "stop-swapping")
        cls.swapper = subprocess.Popen(
            ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups", "--",
             sys.executable, "-c", SWAPPER, cls.race, cls.stop_swapping, SH],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        c.procs.append(cls.swapper)

        # Reloads while the race runs: each must be refused (the race directory is no
        # longer trusted), and the running configuration kept.
        cls.reloads = cls.reloads_refused = 0

        def reloads():
            out = cls.a.output()
            return out.count("reload: configuration has errors"), out.count("configuration reloaded")

        def all_ran():
            if cls.reloads < 5:
                before = reloads()
                cls.a.signal(signal.SIGHUP)
                wait_for(lambda: reloads() != before, what="the reload to be over")
                cls.reloads += 1
                cls.reloads_refused += reloads()[0] - before[0]
            want_a = {"hostile": len(HOSTILE), "h3": 3, "bg": 1, "setsid": 1, "termign": 1, "race": 6 * 8}
            want_bc = {"bg": 1, "setsid": 1, "termign": 1}
            for d, want in ((cls.a, want_a), (cls.b, want_bc), (cls.c, want_bc)):
                for rule, n in want.items():
                    if len([r for r in hook_runs(d.db, rule) if r[1] == "start"]) < n:
                        return False
            return True
        wait_for(all_ran, timeout=400, what="every hook of the burst to run and end")
        # Past the longest a descendant may live: the hook that ignores SIGTERM.
        time.sleep(SLACK)
        with open(cls.stop_swapping, "w"):
            pass
        out, _ = cls.swapper.communicate(timeout=WAIT)
        cls.swaps = int(out.decode().strip() or 0)
        cls.watcher.stop()
        cls.leftover = marked(cls.token)

    @classmethod
    def _cleanup(cls):
        if getattr(cls, "watcher", None) and cls.watcher.is_alive():
            cls.watcher.stop()
        c = getattr(cls, "case", None)
        # Stopped, each daemon removes the cgroups it made.
        cls.stopped = {}
        for name in ("a", "b", "c"):
            d = getattr(cls, name, None)
            if d and d.alive():
                cls.stopped[name] = d.stop()
        if c:
            # Anything marked that is still alive (a failure already counted) goes too.
            for pid in marked(getattr(cls, "token", "-")):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            c.tearDown()
            c.doCleanups()
        deleg = getattr(cls, "deleg", None)
        if deleg and os.path.isdir(deleg):
            # Whatever is left in the delegated cgroup (nothing, if all went well).
            with open(os.path.join(deleg, "cgroup.kill"), "w") as f:
                f.write("1")
            for _ in range(100):
                try:
                    for sub in os.listdir(deleg):
                        if os.path.isdir(os.path.join(deleg, sub)):
                            os.rmdir(os.path.join(deleg, sub))
                    os.rmdir(deleg)
                    break
                except OSError:
                    time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls._cleanup()

    def setUp(self):
        if self.skip:
            lwtest.root_tier_skip(self, self.skip)

    def test_mechanism_in_the_log(self):
        self.assertIn("hooks: each hook run in a cgroup of its own under %s/leakwatchd-%d " %
                      (self.cg_root, self.a.pid), self.a.output())
        self.assertIn("hooks: each hook run under a reaper process", self.b.output())
        self.assertIn("no cgroup2 file system mounted", self.b.output())
        self.assertIn("hooks: each hook run in a cgroup of its own under %s " % self.deleg, self.c.output())

    def test_cgroups_removed_at_stop(self):
        """Each run's cgroup goes when the run is over; the daemon's own at its stop."""
        base = os.path.join(self.cg_root, "leakwatchd-%d" % self.a.pid)
        self.assertEqual([e for e in os.listdir(base) if os.path.isdir(os.path.join(base, e))], [])
        self.assertEqual(self.a.stop(), 0, self.a.output())
        self.assertFalse(os.path.exists(base))

    def test_runs_in_their_own_cgroups(self):
        """A: under the daemon's own cgroup, in leakwatchd-PID; C: the delegated cgroup's
        leaf holds the daemon, its runs are beside it."""
        with open("/proc/%d/cgroup" % self.c.pid) as f:
            self.assertIn("0::%s/leakwatchd\n" % self.deleg[len(self.cg_root):], f.read())
        for d, where in ((self.a, "/leakwatchd-%d/hook-" % self.a.pid), (self.c, self.deleg[len(self.cg_root):] +
                                                                           "/hook-")):
            (run,) = [r for r in hook_runs(d.db, "bg") if r[1] == "start"]
            self.assertIn("0::" + where, run[5])
        # Removed once over: only the daemon's leaf is left in the delegated cgroup.
        self.assertEqual([e for e in os.listdir(self.deleg) if os.path.isdir(os.path.join(self.deleg, e))],
                         ["leakwatchd"])

    def test_hostile_names_arrive_exactly_and_never_run(self):
        runs = hook_runs(self.a.db, "hostile")
        for pid, name in self.hostile.items():
            env_name = dict(HOSTILE)[name]
            with open(os.path.join(self.out, "%d.json" % pid)) as f:
                doc = json.load(f)
            self.assertEqual(doc["name"], name)
            self.assertEqual(doc["cmdline"], self.token + "-hostile" + HOSTILE_ARGV0 +
                             " --step-kib 64 --every-ms 250 --steps 2400 --name " +
                             name)
            with open(os.path.join(self.out, "%d.name" % pid), "rb") as f:
                self.assertEqual(f.read().decode(), env_name)
            with open(os.path.join(self.out, "%d.argv" % pid), "rb") as f:
                self.assertEqual(f.read().split(b"\0")[:-1], [a.encode() for a in RECORD_ARGV])
            with open(os.path.join(self.out, "%d.cmdline" % pid), "rb") as f:
                cmdline = f.read().decode()
            self.assertNotIn("\n", cmdline)
            self.assertNotIn("\x1b", cmdline)
            self.assertIn("$(id>pwnc1) `id>pwnc2` ;id>pwnc3 \\nid>pwnc4 \\x1b]0;pwn\\x07 --help * ~root", cmdline)
        # Nothing ran: no file an injection would have written, wherever it would land.
        pwned = []
        for d in (self.cwd, self.out, self.dir, "/", os.path.dirname(__file__)):
            # (pwnR is the swap race's, counted there.)
            pwned += [os.path.join(d, e) for e in os.listdir(d) if e.startswith("pwn") and e != "pwnR"]
        figure("test_hooks.hostile-names", names=len(HOSTILE), runs=len(runs), injected_files=len(pwned))
        self.assertEqual(pwned, [])
        self.assertTrue(all(r[2] == 0 for r in runs), runs)

    def test_environment_is_a_whitelist(self):
        (env_run,) = [r for r in hook_runs(self.a.db, "h3") if r[0] == "/usr/bin/env"]
        env = dict(line.split("=", 1) for line in env_run[5].splitlines())
        self.assertEqual(env["PATH"], "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        self.assertEqual(env["LANG"], "C.UTF-8")
        others = sorted(k for k in env if k not in ("PATH", "LANG") and not k.startswith("LEAKWATCH_"))
        self.assertEqual(others, [], "nothing of the daemon's environment reaches a hook")
        self.assertNotIn("canary", env_run[5])
        self.assertNotIn("/evil", env_run[5])
        figure("test_hooks.environment", variables=len(env), foreign=len(others))

    def test_only_descriptors_0_to_2(self):
        runs = hook_runs(self.a.db, "h3")
        (rl,) = [r for r in runs if r[0] == "/usr/bin/readlink"]
        lines = rl[5].splitlines()
        opened = [l for l in lines if "No such file" not in l]
        # 0: the document's pipe; 1 and 2: the output pipe. Nothing at 3..12.
        self.assertEqual(len(opened), 3, rl[5])
        self.assertTrue(all(l.startswith("pipe:[") for l in opened), rl[5])
        # A script: 0-2 and its own file (the kernel hands it to the interpreter as
        # /dev/fd/3; dash opens it again). Nothing else.
        (script,) = [r for r in runs if r[0].endswith("/fds.sh")]
        extra = []
        for line in script[5].splitlines():
            if " -> " not in line:
                continue
            fd = int(line.split(" -> ")[0].split()[-1])
            target = line.split(" -> ")[1]
            if fd > 2 and target != os.path.join(self.dir, "fds.sh"):
                extra.append(line)
        self.assertEqual(extra, [], script[5])
        figure("test_hooks.descriptors", elf_open=len(opened), script_foreign=len(extra))

    def test_race_runs_nothing_but_the_real_hook(self):
        runs = hook_runs(self.a.db, "race")
        shell = [r for r in runs if "not found" in (r[5] or "") or "Syntax error" in (r[5] or "")]
        real = [e for e in os.listdir(self.out) if e.startswith("real-ran-")]
        pwned = [e for e in os.listdir(self.cwd) if e.startswith("pwn")]
        refused = [r for r in runs if r[2] == 126 and "refused" in (r[5] or "")]
        figure("test_hooks.swap-race", trials=len(runs), swaps=self.swaps, shell_execs=len(shell) + len(pwned),
               real_execs=len(real), refused=len(refused), reloads=self.reloads, reloads_refused=self.reloads_refused)
        self.assertGreater(self.swaps, 1000, "the swapper must have raced")
        self.assertEqual(pwned, [], "the shell ran the alert document as root")
        self.assertEqual(shell, [], "the shell was executed")
        # The race directory is the attacker's: every run is refused, naming it; and
        # every reload meanwhile.
        self.assertEqual(real, [])
        self.assertEqual(len(refused), len(runs), runs)
        self.assertTrue(all(self.race + ": owned by uid %d" % NOBODY in r[5] for r in refused), refused[:1])
        self.assertEqual(self.reloads_refused, self.reloads)

    def descendants(self, daemon, which, mechanism):
        rows = {}
        for rule in ("bg", "setsid", "termign"):
            (run,) = [r for r in hook_runs(daemon.db, rule) if r[1] == "start"]
            rows[rule] = run
        marks = {rule: "%s-%s-%s" % (self.token, which, rule) for rule in rows}
        for rule, mark in marks.items():
            self.assertIn(mark, self.watcher.first, "the %s hook must have started marked processes" % rule)
        lived = {rule: round(self.watcher.last[m] - self.watcher.first[m], 1) for rule, m in marks.items()}
        left = {p: m for p, m in self.leftover.items() if "-%s-" % which in m}
        figure("test_hooks.descendants-" + mechanism,
               processes=sum(len(self.watcher.pids[m]) for m in marks.values()), leftover=len(left),
               longest_lived_s=lived)
        self.assertEqual(left, {}, "processes a hook run started outlived it")
        # Every marked process lived less than its run could: a moment for a hook that
        # exits at once, the timeout and the grace for one that ignores SIGTERM.
        for rule, t in lived.items():
            bound = HOOK_TIMEOUT + GRACE + SLACK if rule == "termign" else SLACK
            self.assertLess(t, bound, "%s: its processes lived %.1f s" % (rule, t))
        self.assertEqual(rows["bg"][2], 0)
        self.assertEqual(rows["setsid"][2], 0)
        self.assertEqual(rows["termign"][4], 1, "the SIGTERM-ignoring hook is killed at its timeout")

    def test_descendants_end_with_the_run_cgroup(self):
        self.descendants(self.a, "A", "cgroup")

    def test_descendants_end_with_the_run_reaper(self):
        self.descendants(self.b, "B", "reaper")

    def test_descendants_end_with_the_run_delegated(self):
        self.descendants(self.c, "C", "delegated")

if __name__ == "__main__":
    unittest.main()
