/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect-cost: what the detector costs — nanoseconds per detect_add() and per
 * detect_evaluate(), and the bytes of its state.
 *
 *     detect-cost [SERIES]         (default 1000 series of one 6 h window's
 *                                   worth of 10 s samples each, then 5 more windows)
 *
 * Each series is a sawtooth-leak from the shape generator; samples are generated
 * beforehand so only the detector is timed. Evaluations are timed separately, over
 * every closed bucket of every series. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "detect-shapes.h"

static double now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
        const double W = 6 * 3600;
        unsigned series = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
        enum { N = 6 * 2160 };
        static double ts[N], vs[N];
        static struct detect d;
        struct detect_params p;
        double t_add = 0, t_eval = 0, t_eval_max = 0;
        unsigned long adds = 0, evals = 0;
        unsigned leaking = 0;

        detect_params_init(&p, DETECT_MEMORY, W);
        for (unsigned s = 0; s < series; s++) {
                struct shape_gen g;
                shape_init(&g, SHAPE_SAWLEAK, s + 1, W, 10, 10, SHAPE_BASE, 4096);
                for (int i = 0; i < N; i++)
                        shape_next(&g, &ts[i], &vs[i]);
                detect_init(&d, 0);

                /* Adds alone: the common case, no bucket closes. */
                double a = now_ns();
                for (int i = 0; i < N; i++)
                        (void)detect_add(&d, &p, ts[i], vs[i]);
                t_add += now_ns() - a;
                adds += N;

                /* Again with evaluations, timing each. */
                detect_init(&d, 0);
                for (int i = 0; i < N; i++) {
                        if (!detect_add(&d, &p, ts[i], vs[i]))
                                continue;
                        struct detect_verdict v;
                        double e = now_ns();
                        detect_evaluate(&d, &p, ts[i], 1e10, &v);
                        e = now_ns() - e;
                        t_eval += e;
                        if (e > t_eval_max)
                                t_eval_max = e;
                        evals++;
                        leaking += v.changed && v.status == DETECT_LEAKING;
                }
        }
        printf("detect_add:      %7.1f ns per sample (%lu samples)\n", t_add / adds, adds);
        printf("detect_evaluate: %7.0f ns per evaluation, max %.0f ns (%lu evaluations, %u buckets "
               "per window)\n", t_eval / evals, t_eval_max, evals, p.buckets);
        printf("state:           %zu bytes per struct detect; params %zu bytes\n", sizeof(struct detect),
               sizeof(struct detect_params));
        printf("(%u alerts raised, so the work was real)\n", leaking);
        return 0;
}
