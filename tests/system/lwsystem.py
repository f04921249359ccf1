# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the system tests: a Debian 12 tree made by debootstrap from the archive apt
uses here (cached in build-nspawn/), booted with systemd-nspawn as a throwaway
container (its writes go to a tmpfs overlay), and commands run inside it with nsenter.
The package under test is the one make deb left in BUILD/deb."""

import fcntl
import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import time

from lwtest import BUILD, WAIT, require_root

DEB_DIR = os.path.join(BUILD, "deb")
# The tree is cached in a build directory of its own, beside the build tree rather than in
# it: it holds device nodes (/dev/zero), which nothing that walks or copies the build tree
# must ever read.
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CACHE = os.environ.get("NSPAWN_CACHE") or os.path.join(ROOT, "build-nspawn")
SUITE = "bookworm"
# What the tree holds besides minbase and the package's dependencies: systemd as init;
# python3 for py3compile (the postinst compiles the agent with it) and to read the
# database and the metrics endpoint inside.
BASE = ["systemd", "systemd-sysv", "dbus", "python3"]
# Changing how the tree is made changes this, and so the cache key.
TREE_RECIPE = "debootstrap --variant=minbase 1"
# Where the build directory (workloads, packages) appears inside the container.
HOST_BUILD = "/mnt/build"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0",
       "DEBIAN_FRONTEND": "noninteractive", "TERM": "dumb"}


def require(case):
    """Skips with the reason unless this machine can boot a container: root (root-tier),
    systemd-nspawn, debootstrap and nsenter, and a package from make deb."""
    require_root(case, "boot a container with systemd-nspawn")
    for tool, package in (("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap"),
                          ("nsenter", "util-linux")):
        if not shutil.which(tool):
            case.skipTest("needs %s (package %s; tools/install-deps --systemd installs it)" % (tool, package))
    if not package_path():
        case.skipTest("no package in %s: make deb builds it (make check-systemd does)" % DEB_DIR)


def package_path():
    debs = sorted(glob.glob(os.path.join(DEB_DIR, "leakwatch_*.deb")), key=os.path.getmtime)
    return debs[-1] if debs else None


def package_depends(deb):
    """The first alternative of each of the package's dependencies, without versions."""
    field = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True,
                           check=True).stdout
    names = []
    for dep in field.split(","):
        first = dep.split("|")[0].strip()
        name = re.split(r"[\s(:]", first, 1)[0]
        if name:
            names.append(name)
    return names


def archive_mirror():
    """The Debian archive apt on this machine uses for bookworm's main component, as
    apt-cache policy lists it (whatever sources file names it)."""
    out = subprocess.run(["apt-cache", "policy"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*\d+\s+(\S+)\s+%s/main\s" % SUITE, line)
        if m:
            return m.group(1)
    return None


def mounts_below(path):
    """Mount points at or below path, deepest first."""
    path = os.path.realpath(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_tree(path):
    """Removes a tree that debootstrap may have left file systems mounted in (it mounts
    /proc in the target while it works): unmount them first, and never cross into one."""
    for point in mounts_below(path):
        subprocess.run(["umount", "-l", point], check=False)
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=True)


def debian_tree(deb, log):
    """A Debian 12 tree (minbase, systemd, python3 and the package's dependencies), made
    once per set of packages and cached; older trees are removed. A lock keeps parallel
    test modules from making it twice."""
    include = sorted(set(BASE + package_depends(deb)))
    key = hashlib.sha256(" ".join([SUITE, TREE_RECIPE] + include).encode()).hexdigest()[:12]
    root = os.path.join(CACHE, "%s-%s" % (SUITE, key))
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isdir(root):
            return root
        mirror = archive_mirror()
        if not mirror:
            raise AssertionError("apt-cache policy names no archive for %s/main: debootstrap needs one" % SUITE)
        tmp = root + ".tmp"
        started = time.monotonic()
        # A second try after a failure: debootstrap runs each package's maintainer scripts
        # in a chroot, and one failed once (in systemd's) on a machine under heavy load.
        for attempt in (1, 2):
            remove_tree(tmp)
            with open(log, "ab") as out:
                r = subprocess.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(include), SUITE,
                                    tmp, mirror], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   timeout=1800)
            for point in mounts_below(tmp):
                subprocess.run(["umount", "-l", point], check=False)
            if r.returncode == 0:
                break
            # Why: the end of debootstrap's own log inside the tree, kept beside ours.
            with open(log, "ab") as out:
                try:
                    with open(os.path.join(tmp, "debootstrap", "debootstrap.log"), "rb") as f:
                        out.write(b"--- debootstrap's log, attempt %d ---\n" % attempt + f.read()[-20000:])
                except OSError:
                    pass
            with open(log, "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            print("\n    debootstrap failed (%d), attempt %d:\n%s" % (r.returncode, attempt, tail[-1000:]), end=" ")
        else:
            remove_tree(tmp)
            raise AssertionError("debootstrap failed twice (%d); %s ends:\n%s" % (r.returncode, log, tail))
        os.rename(tmp, root)
        print("\n    debootstrap of %s: %.0f s" % (os.path.basename(root), time.monotonic() - started), end=" ")
        for old in glob.glob(os.path.join(CACHE, SUITE + "-*")):
            if old != root:
                remove_tree(old)
        return root


def bumped_package(deb, tmp):
    """The same package with a higher version (VERSION+1), repacked with dpkg-deb: an
    upgrade over itself runs every maintainer script of both versions in the order dpkg
    runs them for any upgrade."""
    work = os.path.join(tmp, "bump")
    subprocess.run(["dpkg-deb", "-R", deb, work], check=True)
    control = os.path.join(work, "DEBIAN", "control")
    with open(control) as f:
        text = f.read()
    version = re.search(r"^Version: (\S+)$", text, re.M).group(1)
    with open(control, "w") as f:
        f.write(re.sub(r"^Version: \S+$", "Version: %s+1" % version, text, flags=re.M))
    out = os.path.join(tmp, "leakwatch_%s+1.deb" % version)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", work, out], check=True, capture_output=True)
    return out, version, version + "+1"


def systemd_is_init():
    return os.path.isdir("/run/systemd/system")


class Container:
    """A Debian 12 system booted with systemd-nspawn from the cached tree, with a tmpfs
    overlay over it (nothing it writes reaches the tree), a network namespace of its own
    (only lo: its ports are its own) and the build directory at /mnt/build, read-only."""

    def __init__(self, tree, tmp, name):
        self.log_path = os.path.join(tmp, "nspawn-%s.log" % name)
        self.log = open(self.log_path, "wb")
        argv = ["systemd-nspawn", "--quiet", "--boot", "--directory", tree, "--volatile=overlay",
                "--private-network", "--register=no", "--machine", name,
                "--bind-ro=%s:%s" % (BUILD, HOST_BUILD), "--bind-ro=%s:/mnt/test" % tmp]
        # Without systemd on the host there is no one to ask for a scope: the container
        # stays in nspawn's own cgroup.
        if not systemd_is_init():
            argv.append("--keep-unit")
        # The container's systemd gets the unified cgroup hierarchy, as on a Debian 12 host,
        # even where this machine mounts the hybrid one.
        env = dict(os.environ, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY="1")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env)
        self.leader = None
        try:
            self.leader = self._wait_leader()
            self._wait_booted()
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - self.started

    def output(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def _wait_leader(self):
        """The container's PID 1, as this machine numbers it: nspawn's child running systemd."""
        deadline = time.monotonic() + WAIT
        path = "/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("systemd-nspawn exited with %d:\n%s" % (self.proc.returncode, self.output()))
            try:
                with open(path) as f:
                    for pid in f.read().split():
                        with open("/proc/%s/comm" % pid) as c:
                            if c.read().strip() == "systemd":
                                return int(pid)
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("no systemd in the container:\n" + self.output())

    def _wait_booted(self):
        # systemctl cannot ask until systemd listens on its private socket; then --wait
        # returns once the boot is over.
        deadline = time.monotonic() + 120
        state = ""
        while time.monotonic() < deadline:
            r = self.sh("systemctl is-system-running --wait", check=False, timeout=120)
            state = r.stdout.strip()
            if state in ("running", "degraded", "maintenance", "stopping"):
                break
            time.sleep(0.1)
        if state not in ("running", "degraded"):
            raise AssertionError("the container did not boot (%s):\n%s" % (state, self.output()))
        if state == "degraded":
            failed = self.sh("systemctl --failed --no-legend", check=False).stdout
            raise AssertionError("the container booted degraded:\n" + failed)

    def sh(self, script, check=True, timeout=WAIT, input=None):
        """Runs a shell script inside, as root, in the container's namespaces."""
        r = subprocess.run(["nsenter", "--target", str(self.leader), "--all", "/bin/sh", "-ec", script],
                           capture_output=True, text=True, timeout=timeout, env=ENV, input=input)
        if check and r.returncode != 0:
            journal = subprocess.run(["nsenter", "--target", str(self.leader), "--all", "journalctl", "--no-pager",
                                      "-b", "-n", "40"], capture_output=True, text=True, timeout=WAIT, env=ENV)
            raise AssertionError("in the container, %r exited with %d:\n%s%s\nthe journal's end:\n%s" % (
                script, r.returncode, r.stdout, r.stderr, journal.stdout))
        return r

    def show(self, unit, *props):
        """systemctl show's properties of a unit, as a dict."""
        out = self.sh("systemctl show %s -p %s" % (unit, ",".join(props))).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit):
        return self.sh("journalctl --no-pager -o cat -u %s" % unit).stdout

    def stop(self):
        """Powers the container off (nspawn turns SIGTERM into a clean shutdown) and
        waits for it; kills it if it does not stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def snapshot(c):
    """Every path on the container's own file systems outside the places the system
    changes by itself (logs, caches, package and unit state), for a before/after compare."""
    out = c.sh("find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp "
               "-o -path /var/log -o -path /var/cache -o -path /var/lib/dpkg -o -path /var/lib/systemd "
               "-o -path /var/lib/apt -o -path /mnt -o -path /var/tmp \\) -prune -o -print", timeout=120).stdout
    return set(out.splitlines())


def prepared(case):
    """(tree, package) for a test: skips where the machine cannot, makes the tree once."""
    require(case)
    deb = package_path()
    return debian_tree(deb, os.path.join(CACHE, "debootstrap.log")), deb
