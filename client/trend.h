/* trend: the numbers behind the pictures — a robust straight line through a series
 * (Theil-Sen, the detector's own estimator) and the rise of a floor over a window.
 * Pure: numbers in, numbers out. */
#ifndef LEAKWATCH_TREND_H
#define LEAKWATCH_TREND_H

#include <stddef.h>

/* The most points trend_fit() takes: its pairwise slopes (n(n-1)/2, 32,640 at 256)
 * are sorted on the heap, a quarter of a megabyte. Callers fit bucket floors, a few
 * dozen. */
#define TREND_MAX_POINTS 256

/* Fits y = intercept + slope * x through the points whose x and y are finite: slope is
 * the median of the pairwise slopes, intercept the median of y - slope * x. Robust
 * against a sawtooth and a few wild points, as a least-squares line is not. Returns 0,
 * -EINVAL with fewer than two points at distinct x or n > TREND_MAX_POINTS, -ENOMEM. */
int trend_fit(const double *x, const double *y, size_t n, double *ret_slope, double *ret_intercept);

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
