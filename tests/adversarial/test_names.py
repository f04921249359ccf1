# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile process names and command lines, as a local user chooses them, through every
view leakwatch gives of them: the client's human tables, CSV, JSON, the SVG plot, the
report of `leakwatch run`, the Prometheus exposition, the hooks' context and the
daemon's log. Nothing may be run (no file appears that a shell would have made), no
byte a terminal acts on may get through raw, machine formats stay valid with the exact
bytes escaped, no value is spoofed, and filters are bound as SQL parameters."""

import csv
import io
import json
import os
import subprocess
import urllib.request
import xml.etree.ElementTree as ET

from lwtest import ALLOC, CLIENT, Case, query, raw_rows, wait_for
from lwadv import big_stack, Client, c_escape, figure, query_bytes, raw_controls

PROMTOOL = "/usr/bin/promtool"

# Names a process can give itself with prctl(PR_SET_NAME): at most 15 bytes, any byte
# but NUL. Relative files (lwpN) would appear in the working directory of a shell that
# ran one.
NAMES = [
    b"$(id>lwp1)",                      # command substitution
    b"`id>lwp2`",                       # backticks
    b";id>lwp3;",                       # command separator
    b"\nid>lwp4\n",                     # a newline: a second log line, a second CSV row
    b"lw\rVmRSS: 1",                    # a carriage return overwriting the line
    b"\x1b[2J\x1b]0;pw\x07",            # ESC: clear the screen, set the window title
    b"--help",                          # an option to whatever takes it as an argument
    b"*",                               # a glob
    b") R 1 2 (",                       # stat's parentheses (the name is in "(...)")
    b"\xff\xfelw\xc3(",                 # bytes that are not UTF-8
    b"VmRSS: 9999999",                  # a status key: spoofing by an unanchored search
    b'"} 7\nlwfake 1',                  # a Prometheus label value closed, a series forged
    b"\xc2\x9b2J\xe2\x80\xaeRLO\x7f",   # a C1 CSI, a right-to-left override, DEL
    b"' OR 1=1 --",                     # SQL
    # 20 bytes, cut by the kernel to 15 in the middle of the last "é".
    b"lw" + "é".encode() * 9,
]
SQL_NAME = b"' OR 1=1 --"
SPOOF_NAME = b"VmRSS: 9999999"

CONF = """[daemon]
interval = 0.2
window = 1m
hook-timeout = 5s
metrics-listen = 127.0.0.1:0
metrics-textfile = {textfile}
metrics-textfile-interval = 0.5

[rule hostile]
cmdline = {tag}
on-start = {hook}
"""

HOOK = """#!/bin/sh
# Prints what it was told (the daemon captures it), and keeps the exact bytes.
printf 'name=%s cmdline=%.200s\\n' "$LEAKWATCH_NAME" "$LEAKWATCH_CMDLINE"
printf '%s' "$LEAKWATCH_NAME" > "{out}/$LEAKWATCH_ALERT_ID.name"
cat > "{out}/$LEAKWATCH_ALERT_ID.json"
"""

# 17 arguments of 124 KiB: over 2 MiB of command line (one argument may be 128 KiB).
HUGE_ARGS = 17
HUGE_ARG = 124 * 1024


def comm_of(pid):
    with open("/proc/%d/comm" % pid, "rb") as f:
        return f.read()[:-1]


class TestHostileNames(Case):
    def setUp(self):
        super().setUp()
        self.cwd = os.path.join(self.tmp, "cwd")
        self.inj = os.path.join(self.tmp, "inj")
        self.out = os.path.join(self.tmp, "hook-out")
        for p in (self.cwd, self.inj, self.out):
            os.mkdir(p)
        self.old_cwd = os.getcwd()
        # The daemon, its hooks and the client inherit this working directory: a
        # relative file made by an injection would land here.
        os.chdir(self.cwd)
        self.tag = "lwadv-names-%d" % os.getpid()

    def tearDown(self):
        os.chdir(self.old_cwd)
        super().tearDown()

    def hostile_args(self, i):
        inj = self.inj
        return [b"$(id>%s/c%d)" % (inj.encode(), i), b"`id>%s/b%d`" % (inj.encode(), i),
                b";id>%s/s%d;" % (inj.encode(), i), b"\nid>%s/n%d\n" % (inj.encode(), i),
                b"\r\x1b[2J\x1b]0;pwned\x07", b"--help", b"*", b")", b"(", b"\xff\xfe",
                b"VmRSS: 9999999 kB", b"\xc2\x9b\xe2\x80\xae"]

    def start_targets(self):
        procs = {}
        for i, name in enumerate(NAMES):
            argv = [b"$(id>%s/a%d)" % (self.inj.encode(), i), b"--name", name, b"--step-kib", b"64",
                    b"--every-ms", b"100", b"--steps", b"6000", b"--", self.tag.encode()] + self.hostile_args(i)
            procs[name] = self.spawn(argv, executable=ALLOC)
        huge = [b"lw-huge", b"--name", b"lw-huge", b"--step-kib", b"64", b"--every-ms", b"100", b"--steps", b"6000", b"--",
                self.tag.encode()] + [(b"%c" % (65 + k)) * HUGE_ARG for k in range(HUGE_ARGS)]
        procs[b"lw-huge"] = self.spawn(huge, executable=ALLOC, preexec_fn=big_stack)
        # The name is set right after exec; the daemon starts once every name is in place.
        for name, p in procs.items():
            wait_for(lambda: comm_of(p.pid) == name[:15], what="the name %r" % name)
        return procs

    def test_hostile_names_through_every_view(self):
        procs = self.start_targets()
        # A hook lives where only root can change it (the daemon refuses /tmp).
        hook = os.path.join(self.hook_dir(), "hook.sh")
        with open(hook, "w") as f:
            f.write(HOOK.format(out=self.out))
        os.chmod(hook, 0o755)
        textfile = os.path.join(self.tmp, "lw.prom")
        conf = os.path.join(self.tmp, "lw.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(tag=self.tag, hook=hook, textfile=textfile))
        d = self.daemon("--config", conf)
        lw = Client(d.db, self.tmp, cwd=self.cwd)
        pids = {p.pid: name for name, p in procs.items()}

        # `leakwatch run` while the daemon waits for its window: in-process and through
        # the daemon, each with a hostile name for its command.
        runs = []
        for extra, name in (([b"--local", b"--interval", b"0.1"], NAMES[5]), ([], NAMES[3])):
            for fmt in ([], [b"--json", b"--output-file", b"-"]):
                cmd = [CLIENT.encode(), b"run", b"--window", b"1m"] + extra + fmt + [
                    b"--", ALLOC.encode(), b"--name", name, b"--steps", b"15", b"--every-ms", b"100",
                    b"--step-kib", b"64", b"--", b"$(id>%s/r)" % self.inj.encode(), b"\x1b[2J\n;id"]
                runs.append((fmt, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                   env=lw.env, cwd=self.cwd)))
        reports = []
        for fmt, p in runs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err.decode("utf-8", "replace"))
            reports.append((fmt, out, err))

        def alerted():
            got = query(d.db, "SELECT p.pid FROM alert a JOIN process p ON p.id = a.process_id "
                              "JOIN rule r ON r.id = a.rule_id WHERE r.name = 'hostile'")
            return {r[0] for r in got} >= set(pids)
        wait_for(alerted, timeout=300, what="an alert for every hostile process")
        wait_for(lambda: len([f for f in os.listdir(self.out) if f.endswith(".json")]) >= len(pids) and
                 query(d.db, "SELECT count(*) FROM hook_run WHERE end_ms IS NOT NULL")[0][0] >= len(pids),
                 what="every start hook to finish")

        rows = query_bytes(d.db, "SELECT p.id, p.pid, p.comm, p.cmdline, a.id FROM process p JOIN alert a "
                           "ON a.process_id = p.id WHERE p.pid IN (%s)" % ",".join(map(str, pids)))
        by_pid = {r[1]: r for r in rows}
        scanned = {"outputs": 0, "bytes": 0, "raw": 0}

        def human(data, what):
            n, where = raw_controls(data)
            scanned["outputs"] += 1
            scanned["bytes"] += len(data)
            scanned["raw"] += n
            self.assertEqual(n, 0, "%s: raw control bytes at %r:\n%r" % (what, where, data[:2000]))
            return data.decode("utf-8")

        # Live views first: the daemon's own status, its metrics, then its log once it
        # stopped; the database's views after that, on data that no longer moves.
        for args in (["status"], ["status", "--json"]):
            out, err = lw.run(*args)
            human(out, " ".join(args))
            human(err, " ".join(args) + " (stderr)")
        self.assertIn("running", json.loads(out)["daemon"]["control"])
        # Prometheus: both formats and the textfile pass promtool; every series is
        # one of ours (a name cannot forge one).
        port = None
        for line in d.output().splitlines():
            if "metrics: serving http://" in line:
                port = line.split("http://", 1)[1].split("/", 1)[0]
        self.assertIsNotNone(port, d.output())
        wait_for(lambda: os.path.exists(textfile), what="the textfile")
        expositions = []
        for accept in (None, "application/openmetrics-text;version=1.0.0"):
            req = urllib.request.Request("http://%s/metrics" % port, headers={"Accept": accept} if accept else {})
            with urllib.request.urlopen(req, timeout=10) as r:
                expositions.append((accept, r.read()))
        with open(textfile, "rb") as f:
            expositions.append(("textfile", f.read()))
        for what, body in expositions:
            human(body, "metrics %s" % what)
            for line in body.decode().splitlines():
                if line and not line.startswith("#"):
                    self.assertTrue(line.startswith("leakwatch_"), "%s: a series not ours: %r" % (what, line))
            if what != "application/openmetrics-text;version=1.0.0" and os.access(PROMTOOL, os.X_OK):
                p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout.decode("utf-8", "replace"))
        text = expositions[0][1].decode()
        self.assertIn(c_escape(NAMES[11]).replace("\\", "\\\\").replace('"', '\\"'), text)

        # The daemon's log.
        self.assertEqual(d.stop(), 0, d.output())
        with open(d.log_path, "rb") as f:
            log = f.read()
        human(log, "the daemon's log")
        for name in pids.values():
            self.assertIn(c_escape(name[:15]).encode(), log)

        # The database holds the kernel's bytes; the huge command line is capped.
        for pid, name in pids.items():
            self.assertEqual(by_pid[pid][2], name[:15], "stored name of pid %d" % pid)
            self.assertIn(self.tag.encode(), by_pid[pid][3])
        huge_cmd = by_pid[procs[b"lw-huge"].pid][3]
        self.assertLess(len(huge_cmd), 4096, "a command line is capped")
        self.assertTrue((b"lw-huge --name lw-huge --step-kib 64").startswith(huge_cmd[:30]))

        # Human views: no raw controls, and every name in its escaped form.
        for args in (["status"], ["ps"], ["ps", "--all", "--full"], ["top"], ["top", "--full"],
                     ["alerts"], ["alerts", "--all", "--full"], ["show", "rule:hostile"]):
            # The daemon is stopped by now: status says so with systemctl's code 3.
            out, err = lw.run(*args, code=3 if args == ["status"] else 0)
            text = human(out, " ".join(args))
            human(err, " ".join(args) + " (stderr)")
            if args in (["ps", "--all", "--full"], ["alerts", "--all", "--full"]):
                for name in pids.values():
                    self.assertIn(c_escape(name[:15]), text, "%s: name %r" % (args, name))
        for pid, name in pids.items():
            pid_row, aid = by_pid[pid][0], by_pid[pid][4]
            for args in (["show", "id:%d" % pid_row], ["show", "%d" % pid, "--full"], ["alerts", str(aid)],
                         ["alerts", str(aid), "--full"]):
                out, err = lw.run(*args)
                human(err, " ".join(args) + " (stderr)")
                self.assertIn(c_escape(name[:15]), human(out, " ".join(args)), args)
            # A name as a target is compared exactly: "*" is no wildcard.
            out, _ = lw.run("show", b"name:" + name[:15], "--json")
            self.assertEqual(json.loads(out)["process"]["pid"], pid)
            # The hook's environment holds the name escaped (leakwatchd(8)), its JSON
            # the name as UTF-8.
            with open(os.path.join(self.out, "%d.name" % aid), "rb") as f:
                self.assertEqual(f.read().decode(), c_escape(name[:15]), "the hook's LEAKWATCH_NAME")
            with open(os.path.join(self.out, "%d.json" % aid), "rb") as f:
                doc = json.loads(f.read())
            self.assertEqual(doc["pid"], pid)
            self.assertEqual(doc["name"], name[:15].decode("utf-8", "replace"))

        # CSV: one row per line, the exact bytes escaped.
        for args in (["ps", "--all", "--csv"], ["alerts", "--all", "--csv"]):
            out, _ = lw.run(*args)
            text = human(out, " ".join(args))
            table = list(csv.reader(io.StringIO(text)))
            header = table[0]
            self.assertEqual(len(text.splitlines()), len(table), "%s: one row is one line" % args)
            for row in table[1:]:
                self.assertEqual(len(row), len(header), "%s: row %r" % (args, row))
            col_pid, col_name = header.index("pid"), header.index("name")
            got = {int(r[col_pid]): r[col_name] for r in table[1:] if r[col_pid].isdigit()}
            for pid, name in pids.items():
                self.assertEqual(got.get(pid), c_escape(name[:15]), "%s: pid %d" % (args, pid))

        # JSON: valid, names as documented (U+FFFD for bytes that are not UTF-8), no
        # values spoofed by a name, no raw controls in the text.
        json_views = [["status", "--json"], ["ps", "--all", "--json"], ["top", "--json"],
                      ["alerts", "--all", "--json"]]
        docs = {}
        for args in json_views:
            out, _ = lw.run(*args, code=3 if args[0] == "status" else 0)
            human(out, " ".join(args))
            docs[args[0]] = json.loads(out)
        listed = {p["pid"]: p for p in docs["ps"]}
        for pid, name in pids.items():
            p = listed[pid]
            self.assertEqual(p["name"], name[:15].decode("utf-8", "replace"))
            self.assertEqual(p["ppid"], os.getpid(), "ppid read past a name with parentheses")
            self.assertLess(p["rss"], 1 << 30, "rss of %r" % name)
        spoof = procs[SPOOF_NAME].pid
        top_rss = max((r for (r,) in raw_rows(d.db, ("rss",), process_id=by_pid[spoof][0]) if r is not None),
                      default=None)
        self.assertLess(top_rss, 1 << 20, "a name must never set the stored RSS (KiB)")
        for pid, name in pids.items():
            pid_row, aid = by_pid[pid][0], by_pid[pid][4]
            out, _ = lw.run("export", "id:%d" % pid_row, "--json")
            human(out, "export --json")
            lines = [json.loads(x) for x in out.decode().splitlines()]
            self.assertGreater(len(lines), 10)
            out, _ = lw.run("export", "id:%d" % pid_row)
            text = human(out, "export")
            table = list(csv.reader(io.StringIO(text)))
            self.assertEqual(len(table), len(lines) + 1)
            out, _ = lw.run("alerts", str(aid), "--json")
            human(out, "alerts ID --json")
            a = json.loads(out)
            self.assertEqual(a["name"], name[:15].decode("utf-8", "replace"))
            self.assertTrue(a["hook_runs"] and a["hook_runs"][0]["exit_code"] == 0, a["hook_runs"])
            out, _ = lw.run("show", "id:%d" % pid_row, "--json")
            human(out, "show --json")
            self.assertEqual(json.loads(out)["process"]["name"], name[:15].decode("utf-8", "replace"))
            # SVG: well-formed XML with the name in it as text.
            out, _ = lw.run("plot", "id:%d" % pid_row, "--output-file", "-")
            human(out, "plot")
            svg = ET.fromstring(out)
            self.assertIn("svg", svg.tag)
            self.assertIn(c_escape(name[:15]), "".join(svg.itertext()))

        # C3: filters are bound, never spliced into SQL.
        out, _ = lw.run("show", b"name:" + SQL_NAME, "--json")
        self.assertEqual(json.loads(out)["process"]["pid"], procs[SQL_NAME].pid)
        for target, code in ((b"name:x' OR '1'='1", 4), (b"' OR 1=1; --", 4), (b"rule:' OR 1=1 --", 4),
                             (b"unit:' OR 1=1 --", 4), (b'name:" OR ""="', 4), (b"id:1 OR 1=1", 2)):
            for cmd in ("show", "export"):
                out, err = lw.run(cmd, target, code=code)
                self.assertEqual(out, b"", "%s %r printed data" % (cmd, target))
                human(err, "%s %r" % (cmd, target))

        # leakwatch run's reports.
        for fmt, out, err in reports:
            if fmt:
                human(out, "run --json")
                doc = json.loads(out)
                self.assertTrue(doc)
            else:
                human(err, "run report")
                self.assertTrue(c_escape(NAMES[5]) in err.decode() or c_escape(NAMES[3]) in err.decode(),
                                err.decode())

        # Nothing was run: no file a shell would have made, anywhere it could have.
        made = []
        for top in (self.tmp, self.old_cwd, "/", "/tmp"):
            for root, dirs, files in os.walk(top):
                made += [os.path.join(root, f) for f in files if f.startswith("lwp")]
                if top in ("/", "/tmp", self.old_cwd):
                    break  # only the directory itself
        made += [os.path.join(self.inj, f) for f in os.listdir(self.inj)]
        self.assertEqual(made, [], "files made by an injection")
        figure("test_names", names=len(NAMES) + 1, alerts=len(pids), outputs=scanned["outputs"],
               bytes=scanned["bytes"], raw_control_bytes=scanned["raw"], injected_files=len(made),
               spoofed_rss=0)
