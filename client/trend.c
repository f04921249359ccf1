/* SPDX-License-Identifier: GPL-2.0-or-later */
/* trend: the numbers behind the pictures — Theil-Sen lines and floor growth. */
#include "trend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "util.h"

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* Median of v[0..n) (n > 0), sorting v. */
static double median(double *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int trend_fit(const double *x, const double *y, size_t n, double *ret_slope, double *ret_intercept)
{
        _cleanup_free_ double *pairs = NULL;
        size_t np = 0, nk = 0;
        double slope;

        if (n > TREND_MAX_POINTS)
                return -EINVAL;
        pairs = malloc(MAX(n * (n - (n > 0)) / 2, n) * sizeof(double) + sizeof(double));
        if (!pairs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (!isfinite(x[i]) || !isfinite(y[i]))
                        continue;
                for (size_t j = i + 1; j < n; j++)
                        if (isfinite(x[j]) && isfinite(y[j]) && x[j] != x[i])
                                pairs[np++] = (y[j] - y[i]) / (x[j] - x[i]);
        }
        if (np == 0)
                return -EINVAL;
        slope = median(pairs, np);
        for (size_t i = 0; i < n; i++)
                if (isfinite(x[i]) && isfinite(y[i]))
                        pairs[nk++] = y[i] - slope * x[i];
        *ret_intercept = median(pairs, nk);
        *ret_slope = slope;
        return 0;
}

int trend_growth(const double *floors, unsigned nb, double span_s, struct trend_growth *ret)
{
        unsigned first = nb, last = 0, k;
        double lo1 = NAN, lo2 = NAN, width, c1, c2;

        if (nb < 2 || !(span_s > 0))
                return -EINVAL;
        for (unsigned i = 0; i < nb; i++)
                if (!isnan(floors[i])) {
                        first = MIN(first, i);
                        last = i;
                }
        if (first == nb)
                return -EINVAL;
        /* An eighth of the whole window, so the two floors of a young process are as
         * far apart in time as they can be but never overlap. */
        k = MAX(nb / 8, 1u);
        if (last + 1 < first + 2 * k)
                return -EINVAL;
        for (unsigned i = first; i < first + k; i++)
                if (!isnan(floors[i]) && (isnan(lo1) || floors[i] < lo1))
                        lo1 = floors[i];
        for (unsigned i = last + 1 - k; i <= last; i++)
                if (!isnan(floors[i]) && (isnan(lo2) || floors[i] < lo2))
                        lo2 = floors[i];
        width = span_s / nb;
        c1 = (first + k / 2.0) * width;
        c2 = (last + 1 - k / 2.0) * width;
        *ret = (struct trend_growth){ .first = lo1, .last = lo2, .growth = lo2 - lo1,
                                      .rate = (lo2 - lo1) / (c2 - c1) };
        return 0;
}

/* The floor (lowest lo) of each of TREND_BUCKETS buckets of [from_ms, to_ms) into y,
 * NAN if empty; x the buckets' centres in ms after from_ms. Returns the known ones. */
static unsigned bucket_floors(const int64_t *t_ms, const double *lo, size_t n, int64_t from_ms, int64_t to_ms,
                              double *x, double *y)
{
        double width = (double)(to_ms - from_ms) / TREND_BUCKETS;
        unsigned known = 0;

        for (int b = 0; b < TREND_BUCKETS; b++) {
                x[b] = (b + 0.5) * width;
                y[b] = NAN;
        }
        for (size_t i = 0; i < n; i++) {
                int64_t b;

                if (isnan(lo[i]))
                        continue;
                b = (t_ms[i] - from_ms) * TREND_BUCKETS / (to_ms - from_ms);
                if (b < 0 || b >= TREND_BUCKETS)
                        continue;
                if (isnan(y[b]))
                        known++;
                if (isnan(y[b]) || lo[i] < y[b])
                        y[b] = lo[i];
        }
        return known;
}

int trend_floor_fit(const int64_t *t_ms, const double *lo, size_t n, int64_t from_ms, int64_t to_ms,
                    double *ret_slope_per_ms, double *ret_at_from)
{
        double x[TREND_BUCKETS], y[TREND_BUCKETS];

        if (to_ms <= from_ms)
                return -EINVAL;
        if (bucket_floors(t_ms, lo, n, from_ms, to_ms, x, y) < TREND_MIN_BUCKETS)
                return -EINVAL;
        return trend_fit(x, y, TREND_BUCKETS, ret_slope_per_ms, ret_at_from);
}

int trend_growth_span(const int64_t *t_ms, const double *lo, size_t n, int64_t from_ms, int64_t to_ms,
                      int64_t *ret_from_ms, int64_t *ret_to_ms)
{
        double x[TREND_BUCKETS], y[TREND_BUCKETS], top = NAN, width;
        int hi = -1, low = -1;

        if (to_ms <= from_ms)
                return -EINVAL;
        if (bucket_floors(t_ms, lo, n, from_ms, to_ms, x, y) < TREND_MIN_BUCKETS)
                return -ENODATA;
        for (int b = 0; b < TREND_BUCKETS; b++)
                if (!isnan(y[b]) && (isnan(top) || y[b] > top))
                        top = y[b];
        /* The lowest floor before the highest, then the first bucket after it that
         * comes within a small share of the rise to the top: a line fitted further
         * would bend towards the flat top. */
        for (int b = 0; b < TREND_BUCKETS; b++) {
                if (isnan(y[b]))
                        continue;
                if (low < 0 || y[b] < y[low])
                        low = b;
                if (y[b] == top)
                        break;
        }
        for (int b = low; b < TREND_BUCKETS; b++)
                if (!isnan(y[b]) && y[b] >= top - (top - y[low]) * TREND_TOP_SHARE) {
                        hi = b;
                        break;
                }
        if (hi < 0 || !(top - y[low] > fabs(top) * TREND_MIN_RISE))
                return -ENODATA;
        /* A flat bottom before the rise is not part of it: the growth starts at the
         * last bucket still within the same share of the rise above the lowest. */
        for (int b = hi, bottom = low; b > bottom; b--)
                if (!isnan(y[b]) && y[b] <= y[bottom] + (top - y[bottom]) * TREND_TOP_SHARE) {
                        low = b;
                        break;
                }
        if (hi - low + 1 < TREND_MIN_BUCKETS)
                return -ENODATA;
        width = (double)(to_ms - from_ms) / TREND_BUCKETS;
        *ret_from_ms = from_ms + (int64_t)llround(low * width);
        /* A bucket's floor is its earliest value while the floor rises: the growth
         * reached the top within the top bucket, say at its middle. */
        *ret_to_ms = hi + 1 == TREND_BUCKETS ? to_ms : from_ms + (int64_t)llround((hi + 0.5) * width);
        return 0;
}
