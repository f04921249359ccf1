/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect-scales: the bank of time scales (lib/scales) at its defaults, 10 s samples —
 * time to detect by leak rate and shape, false alarms per process-day on healthy
 * lives, and what predict_linear(), Coroot's deriv() rule and a plain least-squares
 * slope say on the same series — then what all scales cost for 10,000 processes.
 *
 *     detect-scales [SEEDS [HEALTHY_SEEDS [leaks|healthy|cost]]]
 *                  (default 20 leak lives per rate and shape, 12 healthy days per
 *                   shape; DETECT_SCALES_SEED0=N draws another set of lives)
 *
 * A leak counts as caught when the bank alarms within 1.5x its target time of the
 * onset; its time is from the onset. A healthy life is one day (the daily cycle: its
 * second day, after a day of history); any alarm in it is a false alarm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scales-shapes.h"

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return (x > y) - (x < y);
}

static void fmt_time(double s, char *buf, size_t sz)
{
        if (isnan(s))
                snprintf(buf, sz, "-");
        else if (s < 2 * SS_HOUR)
                snprintf(buf, sz, "%.0fm", s / 60);
        else
                snprintf(buf, sz, "%.1fh", s / SS_HOUR);
}

/* "k/n med max" over the times found. */
static void column(const double *ts, unsigned n, int width)
{
        double v[1024];
        unsigned k = 0;
        char a[16], b[16], out[64];

        for (unsigned i = 0; i < n; i++)
                if (!isnan(ts[i]))
                        v[k++] = ts[i];
        if (k == 0) {
                snprintf(out, sizeof(out), "0/%u", n);
        } else {
                qsort(v, k, sizeof(v[0]), cmp_double);
                fmt_time(v[k / 2], a, sizeof(a));
                fmt_time(v[k - 1], b, sizeof(b));
                snprintf(out, sizeof(out), "%u/%u %s %s", k, n, a, b);
        }
        printf(" %-*s", width, out);
}

/* The CPU this thread used: a tick's cost, whatever else the machine runs. */
static double now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* All scales for n processes started in the same second (their buckets aligned, the
 * hard case), ticks of 10 s for `hours`: the CPU time of each tick (the thread's, so
 * other work on the machine does not count). spread: the phases the
 * daemon gives; without, every process judged at the first tick it can be. */
static void cost(unsigned n, double hours, bool spread)
{
        struct scales_params sp;
        struct scales *banks = calloc(n, sizeof(*banks));
        double *level = calloc(n, sizeof(*level));
        unsigned ticks = (unsigned)(hours * SS_HOUR / SS_DT);
        double *tick_ns = calloc(ticks, sizeof(*tick_ns)), total = 0;
        unsigned long evals = 0;
        struct ss_gen g;

        if (!banks || !level || !tick_ns) {
                fprintf(stderr, "out of memory\n");
                exit(1);
        }
        ss_init(&g, SS_SAWLEAK, 1, 0.05);
        scales_params_default(&sp, DETECT_MEMORY, SS_DT, 24);
        for (unsigned i = 0; i < n; i++) {
                scales_init(&banks[i], &sp, 0, spread ? (double)((i * 2654435761u) % 60000) / 1000 : 0);
                level[i] = 300 * SS_MIB;
        }
        for (unsigned k = 0; k < ticks; k++) {
                double t = (k + 1) * SS_DT, a = now_ns();

                for (unsigned i = 0; i < n; i++) {
                        struct scales_verdict sv;
                        double parts[SCALES_PARTS] = { level[i] * (1 + 0.003 * ss_normal(&g)), 0 };

                        level[i] += 0.05 * 300 * SS_MIB / SS_HOUR * SS_DT; /* 5 %/h: every scale busy */
                        if (scales_add(&banks[i], &sp, t, parts))
                                while (scales_evaluate(&banks[i], &sp, t, NAN, &sv))
                                        evals++;
                }
                tick_ns[k] = now_ns() - a;
                total += tick_ns[k];
        }
        qsort(tick_ns, ticks, sizeof(tick_ns[0]), cmp_double);
        printf("  %-28s %7.2f ms %7.2f ms %7.2f ms %7.2f ms   %.0f ns\n",
               spread ? "phases spread (the daemon)" : "no phases (all at once)", tick_ns[ticks / 2] / 1e6,
               tick_ns[ticks * 99 / 100] / 1e6, tick_ns[ticks - 1] / 1e6, total / ticks / 1e6,
               total / ticks / n);
        (void)evals;
        free(banks);
        free(level);
        free(tick_ns);
}

int main(int argc, char **argv)
{
        static const double rates[] = { 3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.005, 0.002 };
        unsigned seeds = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
        /* A third argument runs one part: leaks, healthy or cost. */
        const char *only = argc > 3 ? argv[3] : "";
        unsigned hseeds = argc > 2 ? (unsigned)atoi(argv[2]) : 12;
        /* DETECT_SCALES_SEED0: another set of lives (seeds from it + 1, healthy from it
         * + 1000), to check the figures are not the benchmark's seeds'. */
        unsigned seed0 = getenv("DETECT_SCALES_SEED0") ? (unsigned)atoi(getenv("DETECT_SCALES_SEED0")) : 0;
        static struct ss_run run;
        static double tt[SS__RULES][1024];
        unsigned total_days = 0, fa[SS__RULES] = { 0 }, closed = 0;

        if (seeds == 0 || seeds > 1024 || hseeds == 0 || hseeds > 1024) {
                fprintf(stderr, "seeds: 1..1024\n");
                return 2;
        }
        if (*only && strcmp(only, "leaks"))
                goto healthy;
        printf("Time to detect, from the onset (caught/runs, median, max), samples every 10 s, %u lives "
               "per cell\n", seeds);
        printf("%-16s %-7s %-7s %-19s %-19s %-19s %-19s %s\n", "shape", "rate/h", "target", "leakwatch",
               "predict_linear", "deriv 10MB/h 1h", "lsq 10%/h 15m", "scale");
        for (size_t ri = 0; ri < sizeof(rates) / sizeof(rates[0]); ri++) {
                double target = ss_target(rates[ri]);

                for (int s = SS__HEALTHY; s < SS__MAX; s++) {
                        unsigned scale_n[SCALES_MAX] = { 0 };
                        char tg[16];

                        /* The young and just-warmed-up lives: the fast scale's targets,
                         * and the 45-minute scale's in a process younger than its 2 h
                         * wait for a start-up (a leak from 1 h, after one of minutes). */
                        if ((s == SS_LATE_YOUNG || s == SS_LATE_WARM) && rates[ri] < 0.1)
                                continue;
                        if (s == SS_LATE_HOUR && !(rates[ri] >= 0.1 && rates[ri] < 1.0))
                                continue;
                        for (unsigned i = 0; i < seeds; i++) {
                                struct ss_result r;

                                ss_run(&run, s, seed0 + i + 1, rates[ri], 1.5 * target, &r);
                                for (int k = 0; k < SS__RULES; k++)
                                        tt[k][i] = r.first[k];
                                if (r.scale >= 0)
                                        scale_n[r.scale]++;
                                closed += r.closed_growing;
                                if (getenv("DETECT_SCALES_VERBOSE") && r.closed_growing)
                                        fprintf(stderr, "%s %.1f%% seed %u: closed at %.1f h\n", ss_name[s],
                                                rates[ri] * 100, seed0 + i + 1, r.closed_t / SS_HOUR);
                        }
                        fmt_time(target, tg, sizeof(tg));
                        printf("%-16s %6.1f%% %-7s", ss_name[s], rates[ri] * 100, tg);
                        for (int k = 0; k < SS__RULES; k++)
                                column(tt[k], seeds, 19);
                        printf(" ");
                        for (unsigned k = 0; k < SCALES_MAX; k++)
                                if (scale_n[k]) {
                                        char w[16];
                                        fmt_time(scales_defaults[k].window, w, sizeof(w));
                                        printf(" %s:%u", w, scale_n[k]);
                                }
                        printf("\n");
                }
        }
        printf("alarms closed while the leak still grew: %u\n", closed);
healthy:
        if (*only && strcmp(only, "healthy"))
                goto cost;

        printf("\nFalse alarms on healthy lives, one process-day each, %u per shape\n", hseeds);
        printf("%-16s", "shape");
        for (int k = 0; k < SS__RULES; k++)
                printf(" %-16s", ss_rule_name[k]);
        printf("\n");
        for (int s = 0; s < SS__HEALTHY; s++) {
                unsigned n[SS__RULES] = { 0 };

                for (unsigned i = 0; i < hseeds; i++) {
                        struct ss_result r;

                        ss_run(&run, s, seed0 + 1000 + i, 0, SS_DAY, &r);
                        for (int k = 0; k < SS__RULES; k++)
                                n[k] += !isnan(r.first[k]);
                        if (getenv("DETECT_SCALES_VERBOSE") && r.scale >= 0)
                                fprintf(stderr, "%s seed %u: scale %d at %.1f h\n", ss_name[s], 1000 + i,
                                        r.scale, r.first[SS_LEAKWATCH] / SS_HOUR);
                        total_days++;
                }
                printf("%-16s", ss_name[s]);
                for (int k = 0; k < SS__RULES; k++) {
                        printf(" %-16u", n[k]);
                        fa[k] += n[k];
                }
                printf("\n");
        }
        printf("%-16s", "per process-day");
        for (int k = 0; k < SS__RULES; k++) {
                char b[32];
                snprintf(b, sizeof(b), "%u/%u = %.3f", fa[k], total_days, (double)fa[k] / total_days);
                printf(" %-16s", b);
        }
        printf("\n");

cost:
        if (*only && strcmp(only, "cost"))
                return 0;
        printf("\nCost: all %d scales, 10,000 processes started in the same second, 10 s ticks for 2 h\n",
               SCALES_MAX);
        printf("  state: %zu bytes per process and metric (struct scales), params %zu bytes per rule\n",
               sizeof(struct scales), sizeof(struct scales_params));
        printf("  %-28s %10s %10s %10s %10s   %s\n", "", "tick med", "p99", "max", "mean", "per process and tick");
        cost(10000, 2, false);
        cost(10000, 2, true);
        return 0;
}
