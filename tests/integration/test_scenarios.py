# SPDX-License-Identifier: GPL-2.0-or-later
"""The scenario suite's fast subset through the daemon: real leaking and look-alike
processes run at once under one leakwatchd with a one-minute window, and its alert
table must name every leak, with the right metric, and nothing else.

This is the end-to-end check of the detection engine: a leakwatchd that does not detect
fails it (every leak missed). The full suite and the comparison with the simple slope
rules are `make bench-detect`."""

import os
import sys
import unittest

from lwtest import BUILD

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scenarios"))
import scenarios as sc  # noqa: E402

# One minute is the shortest window the daemon accepts; 0.25 s samples give ten a
# bucket. Three windows: the leaks of the subset are confirmed after about 1.2 windows
# (docs/detector.md), and a look-alike gets two windows past its warm-up to misfire.
WINDOW = 60
INTERVAL = 0.25
WINDOWS = 3


class TestScenarios(unittest.TestCase):
    def test_fast_subset_full_recall_no_false_alarm(self):
        """Leaks (dict cache, global list, C linear leak, descriptor leak) each get an
        alert of their metric; the look-alikes (lru_cache, batch, sawtooth, warm-up
        plateau) and the other metric of every leak get none."""
        run = sc.Run(BUILD, WINDOW, INTERVAL, sc.FAST, WINDOWS)
        try:
            run.start()
            run.wait()
            alerts = run.daemon_alerts()
            result = sc.score(run.scenarios, WINDOW, alerts)
            detail = "alerts (metric, seconds after start): %r; %d verdicts stored\n%s" % (
                alerts, run.daemon_verdicts(), run.daemon_output()[-4000:])
            self.assertEqual(result["missed"], [], "leaks without an alert; " + detail)
            self.assertEqual(result["false"], [], "false alarms; " + detail)
            self.assertEqual(len(result["caught"]), sum(1 for s in run.scenarios if s.expect))
        finally:
            run.close()


if __name__ == "__main__":
    unittest.main()
