# SPDX-License-Identifier: GPL-2.0-or-later
"""leakwatchd's metrics as Prometheus sees them: a real Prometheus scraping the endpoint
every second while a workload leaks, with the shipped alerting rules loaded, must show
the series, the leak verdict and the alert; the exposition and the node_exporter
textfile pass promtool; the textfile is replaced atomically and removed at exit; a
socket passed by systemd's socket activation is served."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

from lwtest import ALLOC, DAEMON, WAIT, Case, wait_for

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
SOCKET_ACTIVATE = "/usr/bin/systemd-socket-activate"
DOCS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "prometheus"))
DASHBOARD = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "grafana", "leakwatch.json"))
# What Grafana puts in place of the dashboard's variables when every host of the job is
# shown: "All" is the regular expression .*; $__rate_interval is at least four scrape
# intervals (here 1 s).
DASHBOARD_VARS = {"$job": "leakwatch", "$instance": ".*", "$__rate_interval": "30s"}


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def dashboard_queries():
    """(panel title, refId, expression with the variables filled in, instant?) of every
    query of every panel."""
    out = []
    for p in dashboard()["panels"]:
        for t in p.get("targets", []):
            expr = t["expr"]
            for var, value in DASHBOARD_VARS.items():
                expr = expr.replace(var, value)
            out.append((p["title"], t["refId"], expr, bool(t.get("instant"))))
    return out

# A window of one minute (the shortest) and 0.5 s ticks: the detector confirms a steady
# leak in about a minute and a half (see test_alerts.py).
CONF = """[daemon]
interval = 0.5
window = 1m
metrics-listen = 127.0.0.1:0
{extra}
[rule leak]
name = {name}
"""

PROM_CONF = """global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
scrape_configs:
  - job_name: leakwatch
    static_configs:
      - targets: ['{target}']
"""


def unique_name(tag):
    """A process name no other test on this machine uses (at most 15 bytes)."""
    return "lw-%s%d" % (tag, os.getpid() % 100000)


def free_port():
    """A port nobody listens on now. Another program could take it before the caller
    binds it; callers that bind it themselves retry."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, accept=None, timeout=10):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.headers.get("Content-Type"), r.read().decode("utf-8")


def promtool(*args, stdin=None):
    p = subprocess.run([PROMTOOL] + list(args), input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def endpoint(d):
    """The address the daemon logged it serves (it asked the kernel for a port)."""
    d.wait_log("metrics: serving http://")
    for line in d.output().splitlines():
        if "metrics: serving http://" in line:
            return line.split("http://", 1)[1].split("/", 1)[0]
    raise AssertionError("no address in:\n" + d.output())


class TestPrometheus(Case):
    def need(self, path, package):
        if not os.access(path, os.X_OK):
            self.skipTest("%s is missing (Debian package %s; tools/install-deps installs it)" % (path, package))

    def start_prometheus(self, target):
        """A real Prometheus on a free loopback port with its own storage in the test's
        temp directory; returns its base URL."""
        conf = os.path.join(self.tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write(PROM_CONF.format(rules=os.path.join(DOCS, "alerts.yml"), target=target))
        for _ in range(5):
            port = free_port()
            self.prom_log = os.path.join(self.tmp, "prometheus-%d.log" % port)
            with open(self.prom_log, "wb") as log:
                p = subprocess.Popen([PROMETHEUS, "--config.file=" + conf,
                                      "--storage.tsdb.path=" + os.path.join(self.tmp, "prom-data"),
                                      "--web.listen-address=127.0.0.1:%d" % port],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.procs.append(p)
            url = "http://127.0.0.1:%d" % port
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    http_get(url + "/-/ready", timeout=2)
                    return p, url
                except OSError:
                    time.sleep(0.2)
            if p.poll() is None:
                raise AssertionError("prometheus did not become ready:\n" + self.prom_output())
            # It exited: most likely the port was taken meanwhile; try another.
        raise AssertionError("prometheus would not start:\n" + self.prom_output())

    def prom_output(self):
        with open(self.prom_log, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def stop_prometheus(self, p):
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(WAIT)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("prometheus did not stop on SIGTERM")

    def test_prometheus_sees_the_leak(self):
        """Prometheus scrapes the endpoint every second: the series arrive with their
        labels, the detector's state goes to leaking, the daemon's alert shows as an
        open alert, and the shipped LeakwatchMemoryLeak rule fires for the process."""
        self.need(PROMETHEUS, "prometheus")
        name = unique_name("prom")
        conf = os.path.join(self.tmp, "lw.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(name=name, extra=""))
        w = self.alloc("--step-kib", 512, "--every-ms", 250, "--steps", 1200, "--name", name)
        d = self.daemon("--config", conf)
        target = endpoint(d)
        prom, url = self.start_prometheus(target)

        def query(q):
            _, body = http_get(url + "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
            doc = json.loads(body)
            self.assertEqual(doc["status"], "success", body)
            return doc["data"]["result"]

        def value(q):
            r = query(q)
            return float(r[0]["value"][1]) if r else None

        sel = '{job="leakwatch",rule="leak",name="%s"}' % name
        wait_for(lambda: value('up{job="leakwatch"}') == 1, what="a successful scrape:\n" + self.prom_output())
        wait_for(lambda: value("leakwatch_processes" + sel) == 1, what="the process group's series")
        anon = value('leakwatch_memory_bytes{job="leakwatch",name="%s",kind="anon"}' % name)
        self.assertGreater(anon, 1024 * 1024)
        self.assertEqual(value('leakwatch_build_info{job="leakwatch"}'), 1)
        self.assertEqual(value('leakwatch_omitted_series{job="leakwatch"}'), 0)
        self.assertIsNotNone(value('leakwatch_tick_duration_seconds{job="leakwatch"}'))
        # No pid label by default.
        for r in query("leakwatch_processes" + sel):
            self.assertNotIn("pid", r["metric"])

        leaking = ('leakwatch_detector_state{job="leakwatch",name="%s",resource="memory",state="leaking"}' % name)
        wait_for(lambda: value(leaking) == 1, timeout=300, what="the leaking state in Prometheus")
        wait_for(lambda: value('leakwatch_open_alerts{job="leakwatch",name="%s",resource="memory"}' % name) == 1,
                 what="the open alert in Prometheus")
        # The growth Prometheus stored is the detector's: 512 KiB every 250 ms, 2 MiB/s.
        growth = value('leakwatch_growth_lower_bound_bytes_per_second{job="leakwatch",name="%s"}' % name)
        self.assertGreater(growth, 0.5 * 2 * 1024 * 1024)
        self.assertLess(growth, 1.5 * 2 * 1024 * 1024)

        def firing():
            _, body = http_get(url + "/api/v1/alerts")
            for a in json.loads(body)["data"]["alerts"]:
                if a["labels"].get("alertname") == "LeakwatchMemoryLeak" and a["labels"].get("name") == name:
                    return a["state"] == "firing"
            return False
        wait_for(firing, what="the shipped LeakwatchMemoryLeak rule to fire")

        # Every panel of the Grafana dashboard shows something: each query returns series,
        # as an instant query or over the last minute as a graph asks for it.
        for title, ref, expr, instant in dashboard_queries():
            if instant:
                _, body = http_get(url + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
            else:
                now = time.time()
                _, body = http_get(url + "/api/v1/query_range?" + urllib.parse.urlencode(
                    {"query": expr, "start": now - 60, "end": now, "step": 5}))
            doc = json.loads(body)
            self.assertEqual(doc["status"], "success", "%s (%s): %s" % (title, ref, body))
            self.assertTrue(doc["data"]["result"], "panel %r, query %s returns no series: %s" % (title, ref, expr))
        # The dashboard's variables list this job and this host.
        for var in dashboard()["templating"]["list"]:
            if var["type"] != "query":
                continue
            label = var["query"]["query"].rsplit(",", 1)[1].strip(" )")
            _, body = http_get(url + "/api/v1/label/%s/values?" % label + urllib.parse.urlencode(
                {"match[]": "leakwatch_build_info"}))
            self.assertIn({"job": "leakwatch", "instance": target}[label], json.loads(body)["data"], var["name"])

        self.stop_prometheus(prom)
        self.assertEqual(d.stop(), 0, d.output())
        w.kill()
        w.wait()

    def test_promtool_checks_endpoint_and_textfile(self):
        """Both formats from the endpoint, with a hostile process name among the groups,
        and the textfile pass promtool; the shipped rules and scrape configuration pass
        promtool's checks too."""
        self.need(PROMTOOL, "prometheus")
        # A quote, a backslash, a newline and a byte that is not UTF-8.
        name = b"lw-\"\\\n\xff" + str(os.getpid() % 10000).encode()
        textfile = os.path.join(self.tmp, "leakwatch.prom")
        conf = os.path.join(self.tmp, "lw.conf")
        with open(conf, "w") as f:
            f.write(CONF.format(name="lw-\"*", extra="metrics-textfile = %s\nmetrics-textfile-interval = 0.5\n"
                                % textfile))
        self.spawn([ALLOC, "--step-kib", "256", "--every-ms", "100", "--steps", "600", "--name", name])
        d = self.daemon("--config", conf)
        target = endpoint(d)
        wait_for(lambda: os.path.exists(textfile), what="the textfile")

        ctype, text = http_get("http://%s/metrics" % target)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        # The name as the logs show it: escaped, then escaped again for the format.
        self.assertIn('name="lw-\\"\\\\\\\\\\\\n\\\\xff%d"' % (os.getpid() % 10000), text)
        rc, out = promtool("check", "metrics", stdin=text.encode())
        self.assertEqual((rc, out), (0, ""), text)

        ctype, om = http_get("http://%s/metrics" % target,
                             accept="application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
        self.assertEqual(ctype, "application/openmetrics-text; version=1.0.0; charset=utf-8")
        self.assertTrue(om.endswith("# EOF\n"))
        self.assertIn("# TYPE leakwatch_samples counter\n", om)

        with open(textfile, "rb") as f:
            rc, out = promtool("check", "metrics", stdin=f.read())
        self.assertEqual((rc, out), (0, ""))

        rc, out = promtool("check", "rules", os.path.join(DOCS, "alerts.yml"))
        self.assertEqual(rc, 0, out)
        with open(os.path.join(DOCS, "prometheus.yml")) as f:
            example = f.read().replace("/etc/prometheus/leakwatch-alerts.yml", os.path.join(DOCS, "alerts.yml"))
        copy = os.path.join(self.tmp, "example.yml")
        with open(copy, "w") as f:
            f.write(example)
        rc, out = promtool("check", "config", copy)
        self.assertEqual(rc, 0, out)
        self.assertEqual(d.stop(), 0, d.output())

    def test_dashboard_is_whole(self):
        """The Grafana dashboard: every panel asks the data source the dashboard's
        variable names, has a query, and a place on the 24-column grid that no other
        panel takes; the variables its queries use are defined."""
        d = dashboard()
        self.assertEqual(d["uid"], "leakwatch-fleet")
        names = {v["name"] for v in d["templating"]["list"]}
        self.assertEqual(names, {"datasource", "job", "instance"})
        ids, cells = set(), {}
        panels = [p for p in d["panels"] if p["type"] != "row"]
        self.assertGreaterEqual(len(panels), 10)
        for p in d["panels"]:
            self.assertNotIn(p["id"], ids, p["title"])
            ids.add(p["id"])
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, "%s overlaps %s" % (p["title"], cells.get((x, y))))
                    cells[(x, y)] = p["title"]
        for p in panels:
            self.assertEqual(p["datasource"], {"type": "prometheus", "uid": "${datasource}"}, p["title"])
            self.assertTrue(p["targets"], p["title"])
            self.assertTrue(p.get("description"), p["title"])
            for t in p["targets"]:
                self.assertTrue(t["expr"], p["title"])
                for var in re.findall(r"\$(\w+)", t["expr"]):
                    self.assertIn(var, names | {"__rate_interval"}, p["title"])
        queries = dashboard_queries()
        self.assertTrue(all("$" not in q[2] for q in queries), queries)
        if os.access(PROMTOOL, os.X_OK):
            # Each expression parses (promtool checks them as rules).
            rules = os.path.join(self.tmp, "dashboard-rules.yml")
            with open(rules, "w") as f:
                f.write("groups:\n  - name: dashboard\n    rules:\n")
                for i, (_, _, expr, _) in enumerate(queries):
                    f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(expr)))
            rc, out = promtool("check", "rules", rules)
            self.assertEqual(rc, 0, out)

    def test_textfile_atomic(self):
        """Rewritten ten times a second while read as fast as possible: every read is a
        whole file (it starts with the first family and ends with the last group
        family's last line), the file is replaced rather than rewritten, no temporary
        file is left behind, and a clean stop removes it."""
        name = unique_name("txt")
        outdir = os.path.join(self.tmp, "textfile")
        os.mkdir(outdir)
        textfile = os.path.join(outdir, "leakwatch.prom")
        conf = os.path.join(self.tmp, "lw.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.1\nmetrics-textfile = %s\nmetrics-textfile-interval = 0.1\n"
                    "[rule leak]\nname = %s\n" % (textfile, name))
        self.alloc("--step-kib", 64, "--every-ms", 50, "--steps", 2000, "--name", name)
        d = self.daemon("--config", conf)
        last = 'leakwatch_open_alerts{rule="leak",name="%s",unit="",resource="fds"} 0\n' % name
        def complete():
            try:
                with open(textfile) as f:
                    return f.read().endswith(last)
            except FileNotFoundError:
                return False
        wait_for(complete, what="a textfile with the process's group")
        inodes = set()
        reads = 0
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline or len(inodes) < 5:
            self.assertLess(time.monotonic(), deadline + WAIT, "the file is not being rewritten")
            with open(textfile, "rb") as f:
                inodes.add(os.fstat(f.fileno()).st_ino)
                data = f.read().decode("utf-8")
            reads += 1
            self.assertTrue(data.startswith("# HELP leakwatch_build_info "), data[:200])
            self.assertTrue(data.endswith(last), data[-300:])
            self.assertNotIn("# EOF", data)
        self.assertGreater(reads, 10)
        self.assertGreaterEqual(len(inodes), 5)
        self.assertEqual(d.stop(), 0, d.output())
        self.assertEqual(os.listdir(outdir), [], "the file (and any temporary one) must be gone after a clean stop")

    def test_port_taken(self):
        """An address that cannot be bound is logged, and the daemon goes on watching
        without metrics rather than stopping."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            conf = os.path.join(self.tmp, "lw.conf")
            with open(conf, "w") as f:
                f.write("[daemon]\ninterval = 0.2\nmetrics-listen = 127.0.0.1:%d\n[rule none]\nname = lw-none\n"
                        % taken.getsockname()[1])
            d = self.daemon("--config", conf)
            d.wait_log("watching with 1 rule,")
            self.assertIn("metrics: cannot listen on 127.0.0.1:%d: Address already in use; watching goes on "
                          "without them" % taken.getsockname()[1], d.output())
            self.assertTrue(d.alive())
            self.assertEqual(d.stop(), 0, d.output())

    def test_socket_activation(self):
        """Under systemd-socket-activate, which binds the port and passes it named
        "metrics": the daemon serves that socket, with no metrics-listen set."""
        self.need(SOCKET_ACTIVATE, "systemd")
        conf = os.path.join(self.tmp, "lw.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\ninterval = 0.2\n[rule self]\nname = lw-none\n")
        for _ in range(5):
            port = free_port()
            log = os.path.join(self.tmp, "activate-%d.log" % port)
            with open(log, "wb") as out:
                # Its own runtime directory, as every test daemon has: the default one may
                # be locked by another daemon on this machine.
                p = subprocess.Popen([SOCKET_ACTIVATE, "-l", "127.0.0.1:%d" % port, "--fdname=metrics", DAEMON,
                                      "--config", conf, "--db", os.path.join(self.tmp, "sa.db"),
                                      "--runtime-dir", self.tmp],
                                     stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.procs.append(p)
            # It listens, then starts the daemon at the first connection.
            try:
                ctype, text = wait_for(lambda: self._try_get(port, p), what="an answer through the passed socket")
                break
            except AssertionError:
                if p.poll() is None:
                    raise
        else:
            raise AssertionError("systemd-socket-activate would not start")
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        self.assertIn("leakwatch_build_info{", text)
        with open(log, "rb") as f:
            self.assertIn(b"(socket from systemd)", f.read())
        # systemd-socket-activate execs the daemon: the PID is leakwatchd's.
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(WAIT), 0)

    @staticmethod
    def _try_get(port, p):
        if p.poll() is not None:
            raise AssertionError("systemd-socket-activate exited with %d" % p.returncode)
        try:
            return http_get("http://127.0.0.1:%d/metrics" % port, timeout=5)
        except OSError:
            return None
