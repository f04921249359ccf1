/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect: is the floor of a series still rising? Pure statistics and a small state
 * machine; docs/detector.md tells the design and its measurements.
 *
 * The steps, at each closed bucket:
 *
 *   1. Gather the floors (bucket minima) of the last window: n points (x = bucket
 *      number, y = floor). Empty buckets, from gaps in the data, are simply absent.
 *      Under a sawtooth whose cycle a bucket does not always hold, the minima of
 *      adjacent pairs of buckets are the floors instead.
 *   2. Mann-Kendall: S counts rising pairs minus falling pairs. Its variance under "no
 *      trend" assumes independent points; floors of a real process are autocorrelated,
 *      which makes a plain test far too eager (a random walk looks like a trend). The
 *      Hamed-Rao correction multiplies the variance by n/n*, estimated from the
 *      significant autocorrelations of the ranks of the detrended floors.
 *   3. Theil-Sen: the median of the pairwise slopes, and Sen's confidence bounds taken
 *      from the same (corrected) variance.
 *   4. The growth must be worth reporting: an absolute and a relative minimum per
 *      window, which the lower confidence bound of the slope must reach.
 *   5. A random walk must not reach it by chance (the drift against the spread of the
 *      increments of block minima); the floor must beat the highest floor held before
 *      the window; and the shape: the window is cut into quarters, and the minimum of
 *      each quarter must rise, each rise carrying a fair share of the total, the last
 *      not much smaller than the earlier ones. This is what a one-off step, a cache
 *      that warmed up and stopped, a batch that grew and let go, or fragmentation
 *      that plateaued cannot do; a leak does it all the time.
 *   6. The state machine: ok -> suspect (all checks pass) -> leaking (they still pass,
 *      over the whole stretch since the suspicion, after `confirm`; or at once if the
 *      forecast is inside `horizon`, or, with `confirm_back`, if they pass over the
 *      window and `confirm` before it) -> recovered (no new floor high for `recovery`
 *      of data) -> ok (after `cooldown`). */
#include "detect.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

const char *const detect_status_name[DETECT__MAX] = {
        [DETECT_OK] = "ok",
        [DETECT_SUSPECT] = "suspect",
        [DETECT_LEAKING] = "leaking",
        [DETECT_RECOVERED] = "recovered",
};

const char *const detect_kind_name[DETECT__KIND_MAX] = { "memory", "fds" };

int detect_kind_from_name(const char *name)
{
        for (int k = 0; k < DETECT__KIND_MAX; k++)
                if (strcmp(name, detect_kind_name[k]) == 0)
                        return k;
        return -1;
}

bool detect_value(const struct sample *smp, enum detect_kind k, double *ret)
{
        if (k == DETECT_FDS) {
                if (!sample_has(smp, M_FDS))
                        return false;
                *ret = (double)smp->v[M_FDS];
                return true;
        }
        if (!sample_has(smp, M_ANON))
                return false;
        *ret = (double)smp->v[M_ANON] + (sample_has(smp, M_SWAP) ? (double)smp->v[M_SWAP] : 0);
        return true;
}

/* ---- parameters ---- */

void detect_params_init(struct detect_params *p, enum detect_kind kind, double window)
{
        memset(p, 0, sizeof(*p));
        p->kind = kind;
        p->window = window;

        /* 24 floors per window: the Mann-Kendall normal approximation is good from
         * n = 10, the autocorrelation estimate needs a few dozen points to be more than
         * noise, and a quarter of the window must still hold several buckets for the
         * shape check. More points cost O(n^2) per evaluation and make each bucket
         * shorter, so a slow GC sawtooth (period longer than a bucket) leaks into the
         * floors. 24 is the balance: a bucket is 15 min of a 6 h window, 5 s of 2 min. */
        p->buckets = 24;
        p->bucket = window / p->buckets;

        /* Two thirds of a window: a young process (or one just after a gap) is judged
         * on at least 16 floors, 4 per quarter, instead of waiting for a full window. */
        p->min_buckets = 16;

        /* Start-up (loading, JIT, pools, first cache fill) is short against the time
         * scale a leak is judged on. A quarter window is forgiven outright; a warm-up
         * that lasts longer is rejected by the shape check, which sees it slow down. */
        p->warmup = window / 4;

        /* The evidence must still hold a quarter window later: the rise has then gone on
         * for well over a window, which a cache warm-up, a plateauing fragmentation or
         * a wandering level rarely keep doing. One more quarter is also when the shape
         * check has seen the whole window slide by one of its quarters. */
        p->confirm = window / 4;

        /* Half a window without a new floor high means the leak has stopped. Step-wise
         * and load-driven leaks pause between steps and bursts; pauses shorter than
         * half a window are still the same leak. */
        p->recovery = window / 2;

        /* A full window: the next alert must rest on a window of evidence that holds no
         * floor of the previous leak, so the same growth never alerts twice. */
        p->cooldown = window;

        /* Confirmation costs about a window from the start of the rise. If the limit is
         * nearer than that, confirming would only announce the OOM kill. */
        p->horizon = window;

        /* One-sided 1%: with about 24 evaluations per window, a plain 5% test would
         * fire on noise once a day on a 6 h window even before the other checks. */
        p->alpha = 0.01;

        /* Hysteresis on significance: a suspicion is dropped only when the trend is not
         * even weakly significant, so it does not flap around alpha. */
        p->alpha_stay = 0.10;

        /* The shape check. Each quarter must carry at least a quarter of the mean rise
         * per quarter, so no single jump makes the growth; the last quarter must rise
         * at least half as much as the biggest earlier one, so a curve that is flattening
         * out (an exponential approach to a cache's size with a time constant up to
         * about 0.4 windows) is not taken for a leak. */
        p->quarter_share = 0.25;
        p->last_quarter = 0.5;

        /* A new floor high must beat the old one by an eighth of the minimum growth per
         * window: a leak at the minimum rate does that in an eighth of a window, while
         * the noise of a flat floor stops producing such records soon after it stops. */
        p->new_high = 0.125;

        /* Blocks of 3 buckets (W/8): their minima absorb GC cycles up to about 2.5
         * buckets for the current level, the new-high check and the random-walk
         * check, and a window still holds 8 of them, 7 increments to estimate a
         * spread from. */
        p->block = 3;

        /* The random-walk statistic's null spread is 1.3 to 1.6, not 1 (Sen's slope is
         * noisier than the endpoints, sigma is estimated from 7 increments): 3.0 is
         * about its 98th-99th percentile at one evaluation, measured on simulated
         * walks. Confirmation then asks it again over a longer stretch. */
        p->rw_z = 3.0;

        /* Adjacent-pair minima replace the floors when their path is less than half as
         * long (the sum of |successive differences|): a sawtooth at random phases makes
         * it several times shorter, white noise about a quarter (the minimum of two);
         * measured on the benchmark's lives, 0 false alarms in 1,000 healthy days. */
        p->pair_smooth = 0.5;

        /* Off: confirmation looks forward, at the stretch since the suspicion. Looking
         * back as well confirms a rise that began before its first passing window (an
         * accelerating leak, whose early quarters rose too little) a confirmation
         * sooner, but gives a wander that happened to rise for a window and a quarter a
         * second chance: on the benchmark's healthy days at the 45-minute scale, 2 false
         * alarms in 1,000 (wanders rising 7.5 %/h for an hour). Where the bar is beyond
         * any healthy wander's reach it is safe (lib/scales, the 12-minute scale). */
        p->confirm_back = false;

        switch (kind) {
        case DETECT_FDS:
                /* Pools, log files, sockets, epoll and inotify instances and per-thread
                 * eventfds add a handful of descriptors over a process's life; eight
                 * more within one window, with a steady floor rise, is no handful. */
                p->min_growth = 8;
                /* Descriptor counts follow load (connections) much more than memory
                 * does, so the relative bar is higher: 10% per window. */
                p->min_growth_rel = 0.10;
                break;
        case DETECT_MEMORY:
        default:
                /* Below 1 MiB a window nobody acts, and heaps grow in chunks of that
                 * order (glibc's mmap threshold goes up to 32 MiB, its trim threshold
                 * starts at 128 KiB): such moves are allocator noise. */
                p->min_growth = 1024.0 * 1024.0;
                /* 5% a window doubles the process in about 14 windows (3.5 days at 6 h):
                 * slower drift than that is what fragmentation and cache churn make on
                 * healthy processes. Catching it needs a longer window, not a lower bar. */
                p->min_growth_rel = 0.05;
                break;
        }
}

int detect_params_check(const struct detect_params *p)
{
        if (p->kind != DETECT_MEMORY && p->kind != DETECT_FDS)
                return -EINVAL;
        if (!(isfinite(p->window) && p->window > 0))
                return -EINVAL;
        if (p->buckets < 8 || p->buckets > DETECT_MAX_BUCKETS)
                return -EINVAL;
        /* The bucket width must be the window cut in `buckets`: bucket numbers of a
         * replayed series depend on it. Allow rounding only. */
        if (!(isfinite(p->bucket) && p->bucket > 0) ||
            fabs(p->bucket * p->buckets - p->window) > 1e-9 * p->window)
                return -EINVAL;
        if (p->min_buckets < 8 || p->min_buckets > p->buckets)
                return -EINVAL;
        if (!(p->warmup >= 0 && p->confirm >= 0 && p->recovery > 0 && p->cooldown >= 0 &&
              p->horizon >= 0) ||
            !isfinite(p->warmup) || !isfinite(p->confirm) || !isfinite(p->recovery) ||
            !isfinite(p->cooldown) || !isfinite(p->horizon))
                return -EINVAL;
        if (!(p->alpha > 0 && p->alpha < 0.5 && p->alpha_stay >= p->alpha && p->alpha_stay < 1))
                return -EINVAL;
        if (!(p->min_growth >= 0 && isfinite(p->min_growth) && p->min_growth_rel >= 0 &&
              isfinite(p->min_growth_rel)))
                return -EINVAL;
        /* At least 4 blocks a window: the random-walk check needs 3 increments. */
        if (p->block < 1 || p->block > p->buckets / 4 || !(p->rw_z >= 0 && isfinite(p->rw_z)))
                return -EINVAL;
        if (!(p->pair_smooth >= 0 && p->pair_smooth <= 1))
                return -EINVAL;
        if (!(p->quarter_share >= 0 && p->quarter_share <= 1 && p->last_quarter >= 0 &&
              p->last_quarter <= 1 && p->new_high >= 0 && isfinite(p->new_high)))
                return -EINVAL;
        return 0;
}

/* ---- state ---- */

void detect_init(struct detect *d, double t_start)
{
        /* memset first: the struct is compared with memcmp after a replay, so padding
         * must hold zeros too (and nothing below ever writes the struct whole). */
        memset(d, 0, sizeof(*d));
        d->t_start = t_start;
        d->t_last = -INFINITY;
        d->status = DETECT_OK;
        d->since = t_start;
        d->last_evidence = -INFINITY;
        d->past_high = -INFINITY;
        d->past_upto = INT64_MIN;
}

/* Folds the buckets that are leaving the window (numbered below first) into
 * past_high, the highest floor the process held before the window: each as the
 * minimum of the block of buckets it starts, so that one bucket caught at the top of
 * a GC cycle does not count as a floor. Called before a bucket is pushed, so nothing
 * leaves the ring unfolded; O(block) per bucket. */
static void fold_past(struct detect *d, const struct detect_params *p, int64_t first)
{
        for (unsigned k = d->ring_len; k > 0; k--) {
                unsigned i = (d->ring_head + DETECT_MAX_BUCKETS - k) % DETECT_MAX_BUCKETS;
                int64_t idx = d->ring_idx[i];
                double v;

                if (idx >= first)
                        break;
                if (idx <= d->past_upto)
                        continue;
                v = d->ring_floor[i];
                for (unsigned m = k - 1; m > 0; m--) {
                        unsigned j = (d->ring_head + DETECT_MAX_BUCKETS - m) % DETECT_MAX_BUCKETS;
                        if (d->ring_idx[j] >= idx + (int64_t)p->block)
                                break;
                        if (d->ring_floor[j] < v)
                                v = d->ring_floor[j];
                }
                if (v > d->past_high)
                        d->past_high = v;
                d->past_upto = idx;
        }
}

bool detect_add(struct detect *d, const struct detect_params *p, double t, double value)
{
        double origin = d->t_start + p->warmup;
        int64_t idx;
        bool closed = false;

        if (!isfinite(t) || !isfinite(value) || value < 0 || !(t > d->t_last)) {
                d->n_rejected++;
                return false;
        }
        d->t_last = t;
        d->v_last = value;
        d->n_accepted++;

        if (t < origin)
                return false;
        /* Numbered from the end of the warm-up, so bucket boundaries depend only on the
         * process start and the parameters: a replay cuts the same buckets. */
        idx = (int64_t)floor((t - origin) / p->bucket);

        if (d->cur_n > 0 && idx == d->cur_idx) {
                if (value < d->cur_min)
                        d->cur_min = value;
                d->cur_n++;
                return false;
        }
        if (d->cur_n > 0) {
                fold_past(d, p, d->cur_idx - (int64_t)p->buckets + 1);
                d->ring_idx[d->ring_head] = d->cur_idx;
                d->ring_floor[d->ring_head] = d->cur_min;
                d->ring_head = (d->ring_head + 1) % DETECT_MAX_BUCKETS;
                if (d->ring_len < DETECT_MAX_BUCKETS)
                        d->ring_len++;
                closed = true;
        }
        d->cur_idx = idx;
        d->cur_min = value;
        d->cur_n = 1;
        return closed;
}

/* ---- statistics ---- */

/* The standard normal quantile (inverse CDF), Acklam's rational approximation refined
 * by one Halley step: relative error below 1e-15 over (0, 1). Used for Sen's bound and
 * the autocorrelation cut-off, where alpha is a parameter. */
static double normal_quantile(double p)
{
        static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
                                    -2.759285104469687e+02, 1.383577518672690e+02,
                                    -3.066479806614716e+01, 2.506628277459239e+00 };
        static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
                                    -1.556989798598866e+02, 6.680131188771972e+01,
                                    -1.328068155288572e+01 };
        static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
                                    -2.400758277161838e+00, -2.549732539343734e+00,
                                    4.374664141464968e+00, 2.938163982698783e+00 };
        static const double dd[] = { 7.784695709041462e-03, 3.224671290700398e-01,
                                     2.445134137142996e+00, 3.754408661907416e+00 };
        const double plow = 0.02425;
        double q, r, x, e, u;

        if (p <= 0)
                return -INFINITY;
        if (p >= 1)
                return INFINITY;
        if (p < plow) {
                q = sqrt(-2 * log(p));
                x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                    ((((dd[0] * q + dd[1]) * q + dd[2]) * q + dd[3]) * q + 1);
        } else if (p <= 1 - plow) {
                q = p - 0.5;
                r = q * q;
                x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
                    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        } else {
                q = sqrt(-2 * log1p(-p));
                x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                    ((((dd[0] * q + dd[1]) * q + dd[2]) * q + dd[3]) * q + 1);
        }
        /* Halley refinement against the exact CDF. */
        e = 0.5 * erfc(-x / M_SQRT2) - p;
        u = e * sqrt(2 * M_PI) * exp(x * x / 2);
        return x - u / (1 + x * u / 2);
}

/* Upper tail of the standard normal: P(Z > z). */
static double normal_sf(double z)
{
        return 0.5 * erfc(z / M_SQRT2);
}

static void swap_d(double *a, double *b)
{
        double t = *a;
        *a = *b;
        *b = t;
}

/* Reorders a[0..n) so that a[k] is the value of rank k (0-based), everything before it
 * is <= and everything after >=. Hoare quickselect with a median-of-three pivot:
 * deterministic (a replay must reproduce the same numbers), O(n) expected. */
static double select_kth(double *a, size_t n, size_t k)
{
        ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;

        while (hi > lo) {
                ptrdiff_t mid = lo + (hi - lo) / 2, i = lo, j = hi;
                double pivot;

                /* Median of three, which also leaves sentinels at both ends. */
                if (a[mid] < a[lo])
                        swap_d(&a[mid], &a[lo]);
                if (a[hi] < a[lo])
                        swap_d(&a[hi], &a[lo]);
                if (a[hi] < a[mid])
                        swap_d(&a[hi], &a[mid]);
                pivot = a[mid];
                while (i <= j) {
                        while (a[i] < pivot)
                                i++;
                        while (a[j] > pivot)
                                j--;
                        if (i <= j) {
                                swap_d(&a[i], &a[j]);
                                i++;
                                j--;
                        }
                }
                /* Now a[lo..j] <= pivot <= a[i..hi], and anything between equals it. */
                if (kk <= j)
                        hi = j;
                else if (kk >= i)
                        lo = i;
                else
                        break;
        }
        return a[k];
}

/* Median of a[0..n), reordering a. */
static double median(double *a, size_t n)
{
        double lo = select_kth(a, n, (n - 1) / 2);

        if (n % 2)
                return lo;
        /* Even n: the other middle value is the smallest of the upper part. */
        double hi = a[n / 2];
        for (size_t i = n / 2 + 1; i < n; i++)
                if (a[i] < hi)
                        hi = a[i];
        return (lo + hi) / 2;
}

/* What the statistics say about one window of floors. */
struct stats {
        unsigned n;
        double s;               /* Mann-Kendall S */
        double var0;            /* its variance under independence (ties corrected) */
        double factor;          /* Hamed-Rao n/n*, >= 1 */
        double z, p;
        double slope, slope_low, slope_high;    /* per bucket */
        double intercept;       /* Sen line at x = 0 (the first bucket) */
        double q[4];            /* quarter minima */
        double z_rw;            /* drift against a random walk */
        bool quarters;          /* every quarter holds a floor */
};

/* Hamed and Rao (1998): the variance of S for autocorrelated data is Var(S) * n/n*,
 * n/n* = 1 + 2 / (n(n-1)(n-2)) * sum_k (n-k)(n-k-1)(n-k-2) rho_k, where rho_k is the
 * lag-k autocorrelation of the ranks of the detrended series, counted only where it is
 * significant (|rho_k| > z(0.975) / sqrt(n)). The factor is kept >= 1: negative
 * autocorrelation (a sawtooth's) would otherwise shrink the variance and make a
 * periodic series look like a trend, and claiming more evidence than n independent
 * points is never what a watchdog wants. */
static double hamed_rao_factor(const double *x, const double *y, unsigned n, double slope)
{
        double r[DETECT_MAX_BUCKETS], rank[DETECT_MAX_BUCKETS];
        double mean = (n + 1) / 2.0, den = 0, sum = 0, cut = 1.959963984540054 / sqrt(n);

        for (unsigned i = 0; i < n; i++)
                r[i] = y[i] - slope * x[i];
        /* Ranks, ties averaged: O(n^2) and n <= 48. */
        for (unsigned i = 0; i < n; i++) {
                unsigned below = 0, equal = 0;
                for (unsigned j = 0; j < n; j++) {
                        if (r[j] < r[i])
                                below++;
                        else if (r[j] == r[i])
                                equal++;
                }
                rank[i] = below + (equal + 1) / 2.0;
        }
        for (unsigned i = 0; i < n; i++)
                den += (rank[i] - mean) * (rank[i] - mean);
        if (den <= 0)
                return 1;       /* a perfect line: residuals all tied, nothing to correct */
        for (unsigned k = 1; k + 2 < n; k++) {
                double num = 0, rho;
                for (unsigned i = 0; i + k < n; i++)
                        num += (rank[i] - mean) * (rank[i + k] - mean);
                rho = num / den;
                if (fabs(rho) > cut)
                        sum += (double)(n - k) * (n - k - 1) * (n - k - 2) * rho;
        }
        double f = 1 + 2 * sum / ((double)n * (n - 1) * (n - 2));
        return f < 1 ? 1 : f;
}

/* The random-walk check. A process whose level wanders without drift (a random walk:
 * each step independent of the last) produces windows that rise steadily by chance,
 * and the trend test, built for stationary noise around a trend, cannot tell: even
 * after the Hamed-Rao correction, a random walk's z exceeds 4 in one window out of
 * twenty. Under a random walk, increments are independent with mean zero and variance
 * sigma^2 per bucket, so the rise over G buckets has standard deviation sigma sqrt(G);
 * a drift mu is beyond chance when mu sqrt(G) / sigma is large.
 *
 * sigma is estimated from the increments between minima of blocks of `block` buckets
 * (aligned on the newest bucket), around the drift. The block minimum takes a GC
 * sawtooth slower than a bucket out of the increments, where it would inflate sigma
 * and hide a leak under the sawtooth. Gaps are fine: an increment over g blocks counts
 * with variance g times one block's. */
static double random_walk_z(const double *x, const double *y, unsigned n, double mu, unsigned block)
{
        double b[DETECT_MAX_BUCKETS], bx[DETECT_MAX_BUCKETS], ss = 0, g = 0;
        int64_t last = (int64_t)x[n - 1];
        unsigned m = 0;

        /* Block j (counted back from the newest) holds x in (last - (j+1) block, last - j block]. */
        for (unsigned i = n; i > 0; i--) {
                int64_t j = (last - (int64_t)x[i - 1]) / block;
                if (m > 0 && bx[m - 1] == (double)j) {
                        if (y[i - 1] < b[m - 1])
                                b[m - 1] = y[i - 1];
                        continue;
                }
                bx[m] = (double)j;
                b[m++] = y[i - 1];
        }
        /* The oldest block may be cut short by the window's start: it is left out
         * unless full, so every block is the minimum over the same span. */
        if (m > 0 && (last - (int64_t)x[0]) % block != block - 1)
                m--;
        if (m < 4)
                return 0;
        for (unsigned i = 0; i + 1 < m; i++) {
                /* b is newest first: block i is later than block i + 1. */
                double gi = (bx[i + 1] - bx[i]) * block, d = b[i] - b[i + 1] - mu * gi;
                ss += d * d / gi;
                g += gi;
        }
        double sigma = sqrt(ss / (m - 2));
        if (!(sigma > 0))
                return mu > 0 ? INFINITY : 0;
        return mu * sqrt(g) / sigma;
}

/* Computes everything about the floors (x[i], y[i]), i < n, x increasing. */
/* The trend of the floors: Mann-Kendall S and its variance, Theil-Sen's slope, bounds
 * and intercept. */
static void trend(const double *x, const double *y, unsigned n, double alpha, struct stats *st)
{
        double slopes[DETECT_MAX_BUCKETS * (DETECT_MAX_BUCKETS - 1) / 2];
        double sorted[DETECT_MAX_BUCKETS], res[DETECT_MAX_BUCKETS];
        size_t m = 0;
        double s = 0, ties = 0;

        for (unsigned i = 0; i < n; i++)
                for (unsigned j = i + 1; j < n; j++) {
                        double dy = y[j] - y[i];
                        s += (dy > 0) - (dy < 0);
                        slopes[m++] = dy / (x[j] - x[i]);
                }
        st->s = s;

        /* Ties among the floors reduce the variance of S (a flat, quantised series —
         * descriptor counts, page-granular memory — is mostly ties). Insertion sort:
         * n <= 48. */
        for (unsigned i = 0; i < n; i++) {
                double v = y[i];
                unsigned j = i;
                while (j > 0 && sorted[j - 1] > v) {
                        sorted[j] = sorted[j - 1];
                        j--;
                }
                sorted[j] = v;
        }
        for (unsigned i = 0; i < n;) {
                unsigned j = i + 1;
                while (j < n && sorted[j] == sorted[i])
                        j++;
                double t = j - i;
                ties += t * (t - 1) * (2 * t + 5);
                i = j;
        }
        st->var0 = ((double)n * (n - 1) * (2.0 * n + 5) - ties) / 18;

        /* Theil-Sen: the median of the pairwise slopes; the intercept is the median of
         * the residuals y - slope x. */
        st->slope = median(slopes, m);
        for (unsigned i = 0; i < n; i++)
                res[i] = y[i] - st->slope * x[i];
        st->intercept = median(res, n);

        st->factor = hamed_rao_factor(x, y, n, st->slope);
        double var = st->var0 * st->factor;
        if (var > 0) {
                /* Continuity correction: S moves in steps of 2. */
                double sc = s > 0 ? s - 1 : s < 0 ? s + 1 : 0;
                st->z = sc / sqrt(var);
        } else
                st->z = 0;
        st->p = normal_sf(st->z);

        /* Sen's bounds: the slopes of rank (N - C)/2 and (N + C)/2 + 1 (1-based), C =
         * z(1 - alpha) sqrt(Var S). A one-sided alpha on each side: the lower bound is
         * above zero with confidence 1 - alpha when it is. As in R's trend::sens.slope,
         * the ranks are rounded and kept inside [1, N]. */
        double c = var > 0 ? normal_quantile(1 - alpha) * sqrt(var) : 0;
        double r1 = nearbyint((m - c) / 2), r2 = nearbyint((m + c) / 2 + 1);
        size_t k1 = r1 < 1 ? 0 : r1 > m ? m - 1 : (size_t)r1 - 1;
        size_t k2 = r2 < 1 ? 0 : r2 > m ? m - 1 : (size_t)r2 - 1;
        /* median() left slopes partitioned around the middle; select_kth keeps working
         * on the whole array, still O(N). */
        st->slope_low = select_kth(slopes, m, k1);
        st->slope_high = select_kth(slopes, m, k2);

}

/* The trend of floors that are all the same (an idle process, a steady descriptor
 * count): exactly what trend() computes for them, without its n^2 slopes. No pair
 * differs (S 0, every slope and both bounds 0), every floor is tied with the others
 * (variance 0, so z 0), the residuals are the floors (the intercept) and all tied (no
 * correction). */
static void trend_flat(const double *y, struct stats *st)
{
        st->s = 0;
        st->var0 = 0;
        st->slope = st->slope_low = st->slope_high = 0;
        st->intercept = y[0];
        st->factor = 1;
        st->z = 0;
        st->p = normal_sf(0);
}

static void compute_stats(const double *x, const double *y, unsigned n, double span, double alpha,
                          unsigned block, struct stats *st)
{
        unsigned same = 1;

        st->n = n;
        while (same < n && y[same] == y[0])
                same++;
        if (n > 0 && same == n)
                trend_flat(y, st);
        else
                trend(x, y, n, alpha, st);
        st->z_rw = random_walk_z(x, y, n, st->slope, block);

        /* Quarter minima, by time: quarter j holds x in [j span/4, (j+1) span/4). */
        for (int j = 0; j < 4; j++)
                st->q[j] = INFINITY;
        for (unsigned i = 0; i < n; i++) {
                int j = (int)floor(x[i] * 4 / span);
                if (j > 3)
                        j = 3;
                if (y[i] < st->q[j])
                        st->q[j] = y[i];
        }
        st->quarters = isfinite(st->q[0]) && isfinite(st->q[1]) && isfinite(st->q[2]) &&
                       isfinite(st->q[3]);
}

/* ---- evaluation ---- */

/* The least growth per window worth reporting at this level. */
static double growth_min(const struct detect_params *p, double level)
{
        double rel = p->min_growth_rel * (level > 0 ? level : 0);
        return rel > p->min_growth ? rel : p->min_growth;
}

static void enter(struct detect *d, enum detect_status s, double now)
{
        d->status = s;
        d->since = now;
}

/* t_data: the end of the newest closed bucket. The recovery clock runs on data time,
 * so a gap in the samples (the daemon was down) does not count as a pause. */
static void enter_leaking(struct detect *d, double now, double t_data, double level, bool near)
{
        enter(d, DETECT_LEAKING, now);
        d->high = level;
        d->high_t = t_data;
        d->imminent = near;
        d->n_alerts++;
}

/* The bucket number of the newest closed bucket; the ring must not be empty. */
static int64_t newest_idx(const struct detect *d)
{
        return d->ring_idx[(d->ring_head + DETECT_MAX_BUCKETS - 1) % DETECT_MAX_BUCKETS];
}

/* The current floor: the minimum of the last block of buckets, so a GC cycle longer
 * than a bucket does not make the level jump with the phase of the cycle. The ring
 * must not be empty. */
static double current_floor(const struct detect *d, const struct detect_params *p)
{
        int64_t last = newest_idx(d);
        double v = INFINITY;

        for (unsigned k = 1; k <= d->ring_len; k++) {
                unsigned i = (d->ring_head + DETECT_MAX_BUCKETS - k) % DETECT_MAX_BUCKETS;
                if (d->ring_idx[i] <= last - (int64_t)p->block)
                        break;
                if (d->ring_floor[i] < v)
                        v = d->ring_floor[i];
        }
        return v;
}

/* What the checks say about the floors of one stretch of buckets. */
struct judgement {
        unsigned n;                     /* floors in the stretch */
        int64_t lo, last;               /* bucket numbers of the first and the last */
        bool computed;                  /* n >= min_buckets: st is valid */
        bool significant;               /* the trend test and Sen's bound agree on a rise */
        bool evidence;                  /* every check passed */
        bool noisy;                     /* every check passed but the random walk's, on
                                         * floors whose steps undo each other (noise) */
        const char *why;                /* the first check that failed, or the verdict */
        double level0;                  /* the Sen line at the first bucket */
        struct stats st;
};

/* Whether the floors' steps (from one bucket to the next, around the slope) undo each
 * other: noise around a line makes successive steps correlate at -1/2, a walk's steps
 * are independent (0), a smooth wander's correlate positively. Below -1/4, halfway,
 * the floors are noise: a collector's cycle caught at random phases, whose spread
 * inflates the random-walk check's estimate of a walk's. Over the window's 20-odd
 * steps, not the 7 block increments that check has. */
static bool steps_undone(const double *x, const double *y, unsigned n, double slope)
{
        double prev = NAN, c = 0, v = 0;

        for (unsigned i = 1; i < n; i++) {
                double s;

                if (x[i] - x[i - 1] != 1) {
                        prev = NAN;
                        continue;
                }
                s = y[i] - y[i - 1] - slope;
                v += s * s;
                if (!isnan(prev))
                        c += s * prev;
                prev = s;
        }
        return v > 0 && c < -0.25 * v;
}

/* Gathers the floors numbered `first` and later (up to the newest) and runs every
 * check on them. O(n^2) for n floors. */
static void judge(const struct detect *d, const struct detect_params *p, int64_t first, struct judgement *j)
{
        double x[DETECT_MAX_BUCKETS], y[DETECT_MAX_BUCKETS];
        unsigned n = 0;

        double yp[DETECT_MAX_BUCKETS], prev = NAN, dy = 0, dyp = 0;
        int64_t prev_idx = INT64_MIN;

        memset(j, 0, sizeof(*j));
        j->lo = INT64_MAX;
        for (unsigned k = d->ring_len; k > 0; k--) {
                unsigned i = (d->ring_head + DETECT_MAX_BUCKETS - k) % DETECT_MAX_BUCKETS;
                double f = d->ring_floor[i];

                if (d->ring_idx[i] >= first) {
                        if (j->lo == INT64_MAX)
                                j->lo = d->ring_idx[i];
                        j->last = d->ring_idx[i];
                        x[n] = (double)(d->ring_idx[i] - j->lo);
                        y[n] = f;
                        yp[n] = prev_idx == d->ring_idx[i] - 1 && prev < f ? prev : f;
                        if (n > 0) {
                                dy += fabs(y[n] - y[n - 1]);
                                dyp += fabs(yp[n] - yp[n - 1]);
                        }
                        n++;
                }
                prev_idx = d->ring_idx[i];
                prev = f;
        }
        /* Floors that jump about from one bucket to the next while the minima of
         * adjacent pairs do not are a collector's sawtooth caught at random phases (a
         * cycle longer than a bucket, shorter than two): the pairs' minima are its
         * floor. Noise alone makes the pairs' path only some 20-30 % smoother. The
         * pairs lag a bucket, so the floors' newest step is not in the comparison: a
         * rise in the latest bucket alone (a step) is no sawtooth. */
        if (n >= 2)
                dy -= fabs(y[n - 1] - y[n - 2]);
        if (dyp < p->pair_smooth * dy)
                memcpy(y, yp, sizeof(y[0]) * n);
        j->n = n;
        if (n < p->min_buckets) {
                j->why = "not enough data yet";
                return;
        }

        struct stats *st = &j->st;
        double span = x[n - 1] + 1, slope, rate_min, rise;

        compute_stats(x, y, n, span, p->alpha, p->block, st);
        j->computed = true;
        j->level0 = st->intercept;
        j->significant = st->p < p->alpha && st->slope_low > 0;
        slope = st->slope / p->bucket;
        rate_min = growth_min(p, j->level0) / p->window;
        rise = (st->q[3] - st->q[0]) / 3;

        if (!j->significant)
                j->why = "no significant trend";
        else if (!(st->slope_low / p->bucket >= rate_min && slope > 0))
                j->why = "growth below the minimum";
        else if (!(current_floor(d, p) > d->past_high + p->new_high * growth_min(p, d->past_high)))
                j->why = "floor below an earlier high";
        else if (!st->quarters || !(rise > 0) ||
                 st->q[1] - st->q[0] < p->quarter_share * rise ||
                 st->q[2] - st->q[1] < p->quarter_share * rise ||
                 st->q[3] - st->q[2] < p->quarter_share * rise)
                j->why = "floor not rising in every quarter";
        else if (st->q[3] - st->q[2] < p->last_quarter * fmax(st->q[1] - st->q[0], st->q[2] - st->q[1]))
                j->why = "floor rise slowing down";
        else if (!(st->z_rw > p->rw_z)) {
                j->why = "rise within a random walk's reach";
                j->noisy = steps_undone(x, y, n, st->slope);
        } else {
                j->why = "floor rising in every quarter";
                j->evidence = true;
        }
}

/* Whether the rise already held for a window and a confirmation: the stretch of the
 * last window and `confirm` before it, which the ring holds, passes every check, as
 * the stretch since a suspicion must once `confirm` has passed. O(n^2) for the
 * stretch's n floors; made only when the window passes every check. */
static bool held_before(const struct detect *d, const struct detect_params *p)
{
        struct judgement jx;
        /* `confirm` in buckets; the tolerance keeps W/4 at 6 buckets of W/24 despite
         * rounding. */
        int64_t c = (int64_t)ceil(p->confirm / p->bucket - 1e-9), first;
        unsigned oldest;

        if (!p->confirm_back || c <= 0 || p->buckets + c > DETECT_MAX_BUCKETS)
                return false;
        first = newest_idx(d) - (int64_t)p->buckets - c + 1;
        oldest = (d->ring_head + DETECT_MAX_BUCKETS - d->ring_len) % DETECT_MAX_BUCKETS;
        /* The data must reach that far back: a young process's stretch is its window. */
        if (d->ring_idx[oldest] > first)
                return false;
        judge(d, p, first, &jx);
        return jx.evidence;
}

static void become_suspect(struct detect *d, double now, const struct judgement *j)
{
        enter(d, DETECT_SUSPECT, now);
        d->suspect_floor = j->st.q[0];
        d->suspect_from = j->lo;
}

void detect_evaluate(struct detect *d, const struct detect_params *p, double now, double headroom,
                     struct detect_verdict *ret)
{
        double origin = d->t_start + p->warmup;
        struct detect_verdict v = {
                .previous = d->status,
                .ev = DETECT_EVIDENCE_NONE,
                .z = NAN, .correction = NAN, .z_rw = NAN,
        };
        struct judgement j = { .why = "warming up" };
        bool evidence, weak = true, near;
        const char *why;

        /* 1-5. The floors of the last window, and every check on them. */
        if (d->ring_len > 0) {
                int64_t last = newest_idx(d);

                judge(d, p, last - (int64_t)p->buckets + 1, &j);
                v.n = j.n;
                v.ev.level = current_floor(d, p);
                v.ev.t_from = origin + (double)j.lo * p->bucket;
                v.ev.t_to = origin + (double)(last + 1) * p->bucket;
        } else if (now >= origin)
                j.why = "not enough data yet";
        why = j.why;
        evidence = j.evidence;

        if (j.computed) {
                v.ev.slope = j.st.slope / p->bucket;
                v.ev.slope_low = j.st.slope_low / p->bucket;
                v.ev.slope_high = j.st.slope_high / p->bucket;
                v.z = j.st.z;
                v.ev.p = j.st.p;
                v.correction = j.st.factor;
                v.z_rw = j.st.z_rw;
                v.ev.growth = v.ev.slope * (v.ev.t_to - v.ev.t_from);
                v.ev.growth_rel = j.level0 > 0 ? v.ev.growth / j.level0 : v.ev.growth > 0 ? INFINITY : 0;
                weak = j.st.p < p->alpha_stay && j.st.slope > 0;

                /* The forecast needs a significant rise, not the whole evidence: a cache
                 * that fills toward the limit is worth a number even if it is no leak. */
                if (j.significant && v.ev.slope > 0 && !isnan(headroom))
                        v.ev.forecast = headroom > 0 ? headroom / v.ev.slope : 0;
        }
        v.ev.scale = p->window;
        v.evidence = evidence;
        near = v.ev.forecast < p->horizon;
        if (evidence)
                d->last_evidence = now;

        /* 6. The state machine. */
        switch ((enum detect_status)d->status) {
        case DETECT_OK:
                if (evidence) {
                        become_suspect(d, now, &j);
                        if (near) {
                                enter_leaking(d, now, v.ev.t_to, v.ev.level, near);
                                why = "limit near: alerting without confirmation";
                        } else if (held_before(d, p)) {
                                enter_leaking(d, now, v.ev.t_to, v.ev.level, near);
                                why = "floor rose for longer than a window: confirmed";
                        }
                }
                break;
        case DETECT_SUSPECT:
                if (!weak) {
                        enter(d, DETECT_OK, now);
                        why = "suspicion dropped: no trend";
                } else if (v.ev.level < d->suspect_floor) {
                        enter(d, DETECT_OK, now);
                        why = "suspicion dropped: floor fell back";
                } else if (now - d->last_evidence > p->recovery) {
                        enter(d, DETECT_OK, now);
                        why = "suspicion dropped: evidence lapsed";
                } else if (evidence && near) {
                        enter_leaking(d, now, v.ev.t_to, v.ev.level, near);
                        why = "limit near: alerting without confirmation";
                } else if (evidence && held_before(d, p)) {
                        /* Also once the confirmation time has passed: the stretch since
                         * the suspicion keeps its start, and a rise that steepens (an
                         * accelerating leak whose suspicion began before its onset)
                         * leaves that stretch's first quarter ever flatter, while the
                         * last window and a quarter slide with it. */
                        enter_leaking(d, now, v.ev.t_to, v.ev.level, near);
                        why = "floor rose for longer than a window: confirmed";
                } else if ((evidence || j.noisy || (j.significant && j.st.z_rw > p->rw_z)) &&
                           now - d->since >= p->confirm) {
                        /* Confirmation: the whole stretch since the rise was first seen,
                         * longer than a window, must pass the same checks. A leak's
                         * evidence grows with the stretch; a random walk's or a
                         * wander's, which only happened to rise for a window, thins out.
                         * The window itself need not pass them all again: a leak that
                         * grows in bursts under load has windows whose latest quarter
                         * or lower bound falls in a pause. It must still rise
                         * significantly and beyond a random walk's reach, which a pause
                         * in a burst-driven rise keeps and a wander's window that
                         * happened to rise a little too long does not — or pass every
                         * check but the random walk's on floors that are noise, not a
                         * walk (steps_undone: a leak under a collector's cycle), and
                         * leave that check to the longer stretch. */
                        struct judgement jx;
                        int64_t first = d->suspect_from, last = newest_idx(d);

                        if (last - first + 1 > DETECT_MAX_BUCKETS)
                                first = last - DETECT_MAX_BUCKETS + 1;
                        judge(d, p, first, &jx);
                        if (jx.evidence) {
                                enter_leaking(d, now, v.ev.t_to, v.ev.level, near);
                                why = "floor kept rising: confirmed";
                        } else
                                why = "floor rising, not yet over the whole stretch";
                } else if (evidence)
                        why = "floor rising, confirming";
                else
                        why = "suspect, waiting for fresh evidence";
                break;
        case DETECT_LEAKING:
                if (v.ev.level > d->high + p->new_high * growth_min(p, d->high)) {
                        d->high = v.ev.level;
                        d->high_t = v.ev.t_to;
                }
                /* Stopped: no new high for `recovery` of data, and the window no longer
                 * shows even a weak rise. A leak in steps with flats longer than
                 * `recovery`, or under a collection that dipped the floor once, still
                 * rises over the window: it is not closed as recovered. */
                if (v.ev.t_to - d->high_t >= p->recovery && !(j.computed && weak)) {
                        enter(d, DETECT_RECOVERED, now);
                        d->imminent = 0;
                        why = "floor stopped rising";
                } else if (near && !d->imminent) {
                        d->imminent = 1;
                        v.escalated = true;
                        why = "limit near: within the horizon";
                } else
                        why = "floor still rising";
                break;
        case DETECT_RECOVERED:
                if (now - d->since >= p->cooldown) {
                        enter(d, DETECT_OK, now);
                        why = "cool-down over";
                        if (evidence) {
                                become_suspect(d, now, &j);
                                why = j.why;
                                if (near) {
                                        enter_leaking(d, now, v.ev.t_to, v.ev.level, near);
                                        why = "limit near: alerting without confirmation";
                                }
                        }
                } else
                        why = "cooling down after a leak";
                break;
        case DETECT__MAX:
        default:
                /* Not reachable through this API; a corrupted state starts over. */
                enter(d, DETECT_OK, now);
                break;
        }

        v.status = (enum detect_status)d->status;
        v.changed = v.status != v.previous;
        if (v.changed && v.status == DETECT_LEAKING)
                v.escalated = true;
        v.ev.reason = why;
        *ret = v;
}

/* ---- the statistics alone ---- */

void detect_robust_slope(const double *x, const double *y, unsigned n, double alpha, unsigned block,
                         struct detect_slope *ret)
{
        struct stats st;

        *ret = (struct detect_slope){ .slope = NAN, .slope_low = NAN, .p = NAN, .z_rw = NAN };
        if (n < 3 || n > DETECT_MAX_BUCKETS || block < 1)
                return;
        compute_stats(x, y, n, x[n - 1] - x[0] + 1, alpha, block, &st);
        *ret = (struct detect_slope){ .slope = st.slope, .slope_low = st.slope_low, .p = st.p, .z_rw = st.z_rw };
}

unsigned detect_floors_per_window(const struct detect_params *p, double interval)
{
        double n;

        if (!(interval > p->bucket))
                return p->buckets;
        /* The tolerance keeps a window of exactly k intervals at k samples. */
        n = floor(p->window / interval * (1 + 1e-9));
        return n < p->buckets ? (unsigned)n : p->buckets;
}
