/* SPDX-License-Identifier: GPL-2.0-or-later */
/* baseline: the simple slope rules leakwatch's detector is measured against — a
 * Prometheus-style deriv() alert and a linear-regression threshold with an R^2 bar.
 * They exist so the benchmark and the tests can show, on the same series, what these
 * rules would have said; the daemon does not use them.
 *
 * Both fit a least-squares line to the raw samples of the last `window` seconds, as
 * Prometheus' deriv(x[window]) does, and both alert only once their condition has held
 * at every evaluation for `hold` seconds (the `for:` clause of an alerting rule):
 *
 *     deriv:   slope > slope_min                      for hold
 *     linreg:  slope > slope_min  and  R^2 >= r2_min  for hold
 *
 * Pure, like detect: no clock, no I/O, no allocation. The samples of the window live in
 * a fixed ring of BASELINE_RING entries with running sums, so adding a sample is O(1)
 * amortised (the sums are recomputed exactly once per BASELINE_RING removals, so
 * rounding cannot pile up) and evaluating is O(1). A window holding more samples than
 * the ring keeps only the newest BASELINE_RING: at 10 s a sample that is 22 h. */
#ifndef LEAKWATCH_BASELINE_H
#define LEAKWATCH_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#define BASELINE_RING 8192

struct baseline_params {
        double window;          /* seconds of raw samples in the fit */
        double slope_min;       /* units/s the slope must exceed */
        double r2_min;          /* linreg: the coefficient of determination must reach this */
        double hold;            /* seconds the condition must hold before an alert */
};

/* window and slope_min as given; r2_min 0.8, the bar usually quoted for "the line
 * explains the data"; hold = window / 4, the detector's own confirmation time, so the
 * comparison is about the statistics and not about patience. */
void baseline_params_init(struct baseline_params *p, double window, double slope_min);

struct baseline {
        double t[BASELINE_RING], v[BASELINE_RING];
        uint32_t head, len;             /* oldest at head - len */
        uint32_t removed;               /* removals since the sums were last recomputed */
        uint32_t deriv_on, linreg_on;   /* the condition holds since deriv_since/linreg_since */
        double t_last;
        double t0, v0;                  /* the sums are of t - t0 and v - v0 */
        double sx, sy, sxx, sxy, syy;
        double deriv_since, linreg_since;
        uint64_t n_rejected;            /* non-finite value or non-increasing time */
        uint64_t n_dropped;             /* pushed out of a full ring while still in the window */
};

struct baseline_verdict {
        unsigned n;                     /* samples in the fit */
        double slope;                   /* units/s; NAN with fewer than 2 samples */
        double r2;                      /* NAN when the fit is undefined */
        bool deriv_alert, linreg_alert; /* each rule's alert, after its hold */
};

void baseline_init(struct baseline *b);

/* Adds one sample; ignores (and counts) non-finite ones and non-increasing times. */
void baseline_add(struct baseline *b, const struct baseline_params *p, double t, double value);

/* Fits the window ending at now and advances both rules' hold timers. */
void baseline_evaluate(struct baseline *b, const struct baseline_params *p, double now,
                       struct baseline_verdict *ret);

#endif
