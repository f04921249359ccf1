/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plot: a sparse series joined across its gaps, and the time axis's labels. */
#include "plot.h"

#include <math.h>
#include <time.h>

/* An empty stretch this many times longer than the mean spacing of the points is a
 * gap in the data (the daemon was down), not sampling: with samples every 10 s and a
 * day across 160 dots, one minute is normal and a quarter of an hour is not. */
#define PLOT_GAP_FACTOR 3

void plot_fill_gaps(double *lo, double *hi, unsigned n)
{
        unsigned known = 0, prev = n;
        double limit;

        for (unsigned i = 0; i < n; i++)
                known += !isnan(lo[i]);
        if (known < 2)
                return;
        limit = PLOT_GAP_FACTOR * (double)n / known;
        for (unsigned i = 0; i < n; i++) {
                if (isnan(lo[i]))
                        continue;
                if (prev < n && i - prev > 1 && (double)(i - prev) <= limit) {
                        /* The line between the middles of the two points. */
                        double a = (lo[prev] + hi[prev]) / 2, b = (lo[i] + hi[i]) / 2;

                        for (unsigned k = prev + 1; k < i; k++)
                                lo[k] = hi[k] = a + (b - a) * (double)(k - prev) / (i - prev);
                }
                prev = i;
        }
}

enum plot_tick_style plot_tick_style(int64_t step_ms, int64_t range_ms)
{
        const int64_t day = 86400000;

        if (step_ms < 60000)
                return TICK_SECONDS;
        return step_ms >= day ? TICK_DAY : range_ms > day ? TICK_DAY_TIME : TICK_TIME;
}

size_t plot_tick_label(bool utc, int64_t ms, enum plot_tick_style style, char *buf, size_t bufsz)
{
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
        struct tm tm;
        size_t n = 0;

        if (bufsz == 0)
                return 0;
        if (utc ? gmtime_r(&secs, &tm) != NULL : localtime_r(&secs, &tm) != NULL) {
                switch (style) {
                case TICK_SECONDS:
                        n = strftime(buf, bufsz, "%H:%M:%S", &tm);
                        break;
                case TICK_TIME:
                        n = strftime(buf, bufsz, "%H:%M", &tm);
                        break;
                case TICK_DAY_TIME:
                        n = strftime(buf, bufsz, "%m-%d %H:%M", &tm);
                        break;
                case TICK_DAY:
                        n = strftime(buf, bufsz, "%m-%d", &tm);
                        break;
                }
        }
        buf[n] = '\0';
        return n;
}
