/* SPDX-License-Identifier: GPL-2.0-or-later */
/* trend: the numbers behind the pictures — a robust straight line through a series
 * (Theil-Sen, the detector's own estimator) and the rise of a floor over a window.
 * Pure: numbers in, numbers out. */
#ifndef LEAKWATCH_TREND_H
#define LEAKWATCH_TREND_H

#include <stddef.h>
#include <stdint.h>

/* The most points trend_fit() takes: its pairwise slopes (n(n-1)/2, 32,640 at 256)
 * are sorted on the heap, a quarter of a megabyte. Callers fit bucket floors, a few
 * dozen. */
#define TREND_MAX_POINTS 256

/* Fits y = intercept + slope * x through the points whose x and y are finite: slope is
 * the median of the pairwise slopes, intercept the median of y - slope * x. Robust
 * against a sawtooth and a few wild points, as a least-squares line is not. Returns 0,
 * -EINVAL with fewer than two points at distinct x or n > TREND_MAX_POINTS, -ENOMEM. */
int trend_fit(const double *x, const double *y, size_t n, double *ret_slope, double *ret_intercept);

/* Buckets a picture's trend is fitted over (show, plot, run): the detector's own count
 * per window (24) would do; 32 gives a steadier line over a long range and costs
 * nothing. Fewer known buckets than TREND_MIN_BUCKETS make no line worth drawing. */
#define TREND_BUCKETS 32
#define TREND_MIN_BUCKETS 4

/* The line a chart draws through a series: Theil-Sen through the floors (lowest lo)
 * of TREND_BUCKETS equal buckets of [from_ms, to_ms), each at its centre; a point less
 * than a bucket's width before from_ms (a rollup bucket that began before the range)
 * counts in the first, later or earlier points and NAN values are left out. The detector judges floors, so the
 * line shows what it sees; a sawtooth or a spike does not tilt it. Returns 0 with the
 * slope (units per ms) and the value at from_ms, -EINVAL with fewer than
 * TREND_MIN_BUCKETS known buckets or an empty range, -ENOMEM. */
int trend_floor_fit(const int64_t *t_ms, const double *lo, size_t n, int64_t from_ms, int64_t to_ms,
                    double *ret_slope_per_ms, double *ret_at_from);

/* The stretch of [from_ms, to_ms) over which the floor grew, for a line that describes
 * the growth and not the flat or released time around it: in the floors of
 * TREND_BUCKETS buckets, from the last one at the lowest floor before the highest to
 * the first that reaches the highest (both within TREND_TOP_SHARE of the rise). Returns
 * 0 and the stretch's bounds (to a bucket), -ENODATA when the floor did not rise by more than
 * TREND_MIN_RISE of its level over at least TREND_MIN_BUCKETS buckets, -EINVAL for
 * an empty range. */
#define TREND_TOP_SHARE 0.02
#define TREND_MIN_RISE 0.01
int trend_growth_span(const int64_t *t_ms, const double *lo, size_t n, int64_t from_ms, int64_t to_ms,
                      int64_t *ret_from_ms, int64_t *ret_to_ms);

/* The rise of a floor over a window cut into nb buckets (nb >= 2; NAN: an empty
 * bucket): the lowest value of the last eighth of the known buckets minus the lowest
 * of the first eighth (at least one bucket each, as the detector's blocks of W/8
 * absorb a garbage collector's cycle), and that rise per second between the centres
 * of the two eighths. */
struct trend_growth {
        double first, last;             /* the two floors */
        double growth;                  /* last - first */
        double rate;                    /* growth per second */
};
/* span_s: the window in seconds. Returns 0, or -EINVAL when fewer than two eighths'
 * worth of buckets are known (a process younger than a quarter of the window). */
int trend_growth(const double *floors, unsigned nb, double span_s, struct trend_growth *ret);

#endif
