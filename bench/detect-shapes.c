/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect-shapes: runs every synthetic shape through the detector and the two baseline
 * rules at two time scales and prints, per shape, how often each alerted and how fast.
 *
 *     detect-shapes [SEEDS]        (default 200 seeds per shape and scale)
 *
 * Non-leaks run 6 windows; leaks run 4 windows past their onset. "alerts" counts runs
 * with at least one alert: for a leak that is a detection, for anything else a false
 * alarm. Times to detect are from the leak's onset, in windows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "detect-shapes.h"

struct scale {
        const char *name;
        double window, dt_min, dt_max;
};

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

/* Prints "k/n" and, when any, the median and maximum time in windows. */
static void column(double *ts, unsigned seeds, double window)
{
        unsigned k = 0;
        double v[4096];

        for (unsigned i = 0; i < seeds; i++)
                if (!isnan(ts[i]))
                        v[k++] = ts[i] / window;
        if (k == 0) {
                printf(" %4u/%-4u %11s", 0u, seeds, "");
                return;
        }
        qsort(v, k, sizeof(v[0]), cmp_double);
        printf(" %4u/%-4u %5.2f %5.2f", k, seeds, v[k / 2], v[k - 1]);
}

int main(int argc, char **argv)
{
        static const struct scale scales[] = {
                { "window 2 min, samples every 0.2-1 s", 120, 0.2, 1 },
                { "window 6 h, samples every 10 s", 6 * 3600, 10, 10 },
        };
        unsigned seeds = argc > 1 ? (unsigned)atoi(argv[1]) : 200;
        static double td[4096], tr[4096], tl[4096];

        if (seeds == 0 || seeds > 4096) {
                fprintf(stderr, "seeds: 1..4096\n");
                return 2;
        }
        for (size_t sc = 0; sc < sizeof(scales) / sizeof(scales[0]); sc++) {
                double W = scales[sc].window;

                printf("\n%s, %u seeds per shape\n", scales[sc].name, seeds);
                printf("%-14s %-5s %-16s %-7s %-22s %-22s %-22s\n", "shape", "leak", "", "suspect",
                       "leakwatch", "deriv()", "linreg R2>0.8");
                printf("%-14s %-5s %-16s %-7s %-22s %-22s %-22s\n", "", "", "", "runs",
                       "alerts  med  max W", "alerts  med  max W", "alerts  med  max W");
                for (int s = 0; s < SHAPE__MAX; s++) {
                        unsigned suspect = 0, multi = 0;
                        for (unsigned i = 0; i < seeds; i++) {
                                struct shape_result r;
                                shape_run(s, i + 1, W, scales[sc].dt_min, scales[sc].dt_max,
                                          shape_info[s].leak ? 4 * W : 6 * W, &r);
                                td[i] = r.detect_t;
                                tr[i] = r.deriv_t;
                                tl[i] = r.linreg_t;
                                suspect += r.suspects > 0;
                                multi += r.alerts > 1;
                        }
                        printf("%-14s %-5s %-16s %7u", shape_info[s].name, shape_info[s].leak ? "yes" : "no",
                               multi ? "(re-alerts)" : "", suspect);
                        column(td, seeds, W);
                        column(tr, seeds, W);
                        column(tl, seeds, W);
                        printf("\n");
                }
        }
        return 0;
}
