#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_detect: the detection benchmark on real processes (`make bench-detect`).

Runs every scenario of scenarios.py at once under one leakwatchd with a short window,
until every workload has exited, then prints per workload what was expected and what
was said — by the daemon (its alert table), and, on the same stored series, by the
detector replayed with bench/replay and by the two simple slope rules (a
Prometheus-style deriv() rule and a linear regression with R^2 >= 0.8) — and per
detector the recall, false alarms, precision and median time to detect.

    bench_detect.py [--build DIR] [--window 2m] [--interval 0.5] [--windows 5]
                    [--seed N] [--only NAME,...] [--keep DIR]

--keep DIR keeps the database (DIR/scenarios.db) and the daemon's log there, so the
replay can be run again: build/bench/replay --db DIR/scenarios.db --window W ID@START...
"""

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenarios as sc  # noqa: E402

COLUMNS = [("daemon", "leakwatchd alert"), ("leakwatch", "replay: leakwatch"),
           ("deriv", "deriv()"), ("linreg", "linreg R2>=0.8")]


def cell(scenario, alerts, window):
    """What one detector said about one workload: "memory 2m20s" per metric that alerted
    (the first alert, from the leak's onset; "xN" for N alerts), "!" before a false
    alarm, "MISSED" for an expected leak without an alert, "-" for silence."""
    parts = []
    for metric in ("memory", "fds"):
        ts = sorted(t for m, t in alerts if m == metric)
        if not ts:
            if scenario.expect == metric:
                parts.append("MISSED")
            continue
        bang = "" if scenario.expect == metric else "!"
        more = " x%d" % len(ts) if len(ts) > 1 else ""
        parts.append("%s%s %s%s" % (bang, metric, sc.fmt_s(ts[0] - scenario.onset * window), more))
    return ", ".join(parts) or "-"


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores (%s), kernel %s" % (platform.node(), os.cpu_count() or 0, model, platform.release())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--window", default="2m")
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--windows", type=float, default=5.0, help="each workload's duration, in windows")
    ap.add_argument("--seed", type=int, default=1, help="the workloads' random choices (bursts, batch sizes)")
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--keep", help="directory to keep the database and the daemon's log in")
    a = ap.parse_args()
    try:
        window = sc.parse_window(a.window)
    except ValueError as e:
        ap.error(str(e))
    names = a.only.split(",") if a.only else [s.name for s in sc.SCENARIOS]
    unknown = [n for n in names if n not in sc.BY_NAME]
    if unknown:
        ap.error("unknown scenario: " + ", ".join(unknown))
    if a.keep:
        os.makedirs(a.keep, exist_ok=True)

    def note(msg):
        print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)

    run = sc.Run(a.build, window, a.interval, names, a.windows, workdir=a.keep, progress=note, seed=a.seed)
    t0 = time.monotonic()
    try:
        run.start()
        run.wait()
        note("all workloads ended after %s; replaying" % sc.fmt_s(time.monotonic() - t0))
        said, _ = run.replay()
        said["daemon"] = run.daemon_alerts()
        verdicts = run.daemon_verdicts()
        scen = run.scenarios

        print("\nleakwatch scenario benchmark: %d workloads at once, window %s, interval %gs, %g windows each, "
              "seed %d" % (len(scen), sc.fmt_s(window), a.interval, a.windows, a.seed))
        print("machine: %s" % machine())
        print("command: %s" % " ".join(sys.argv))
        print("times: first alert after the leak's onset; ! = false alarm; xN = N alerts\n")
        head = "%-15s %-42s %-7s" % ("workload", "what", "expect") + "".join(" %-18s" % h for _, h in COLUMNS)
        print(head)
        print("-" * len(head))
        for s in scen:
            row = "%-15s %-42s %-7s" % (s.name, s.what[:42], s.expect or "-")
            for key, _ in COLUMNS:
                row += " %-18s" % cell(s, said[key].get(s.name, []), window)
            print(row)
        print("-" * len(head))
        scores = {key: sc.score(scen, window, said[key]) for key, _ in COLUMNS}
        leaks = sum(1 for s in scen if s.expect)

        def line(label, fn):
            print("%-66s" % label + "".join(" %-18s" % fn(scores[k]) for k, _ in COLUMNS))

        line("leaks caught (recall)", lambda r: "%d/%d" % (len(r["caught"]), leaks))
        line("false alarms (workload and metric)", lambda r: "%d" % len(r["false"]))
        line("precision", lambda r: "-" if r["precision"] is None else "%.2f" % r["precision"])
        line("median time to detect", lambda r: sc.fmt_s(r["median_ttd"]))
        line("slowest detection", lambda r: sc.fmt_s(max(r["ttd"])) if r["ttd"] else "-")
        for key, label in (("daemon", "leakwatchd"), ("leakwatch", "replayed detector")):
            r = scores[key]
            if key == "daemon" and verdicts == 0:
                continue
            met = (not r["missed"] and not r["false"] and len(r["false"]) < len(scores["deriv"]["false"])
                   and len(r["false"]) < len(scores["linreg"]["false"]))
            print("aim for the %s (every leak caught, no false alarm, fewer than both slope rules): %s"
                  % (label, "met" if met else "NOT met"))
        if verdicts == 0:
            print("\nleakwatchd recorded no verdict at all: this build has no detection engine, so its "
                  "column is empty;\nthe replay column is lib/detect over the same stored series.")
        print("\n%s for the whole run; database %s" % (sc.fmt_s(time.monotonic() - t0),
                                                     run.db if a.keep else "(removed; --keep DIR keeps it)"))
        return 0
    except RuntimeError as e:
        print("bench-detect: %s" % e, file=sys.stderr)
        return 1
    finally:
        run.close()


if __name__ == "__main__":
    sys.exit(main())
