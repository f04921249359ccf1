/* SPDX-License-Identifier: GPL-2.0-or-later */
/* baseline: least-squares slope rules over a sliding window of raw samples, kept only
 * to compare the detector with what a typical alerting rule would say. */
#include "baseline.h"

#include <math.h>
#include <string.h>

void baseline_params_init(struct baseline_params *p, double window, double slope_min)
{
        p->window = window;
        p->slope_min = slope_min;
        p->r2_min = 0.8;
        p->hold = window / 4;
}

void baseline_init(struct baseline *b)
{
        memset(b, 0, sizeof(*b));
        b->t_last = -INFINITY;
}

static unsigned oldest(const struct baseline *b)
{
        return (b->head + BASELINE_RING - b->len) % BASELINE_RING;
}

/* Recomputes the sums exactly, centred on the oldest sample so that the squares stay
 * small next to the values (bytes of a large process squared would lose the noise). */
static void recompute(struct baseline *b)
{
        unsigned i = oldest(b);

        b->sx = b->sy = b->sxx = b->sxy = b->syy = 0;
        b->removed = 0;
        if (b->len == 0)
                return;
        b->t0 = b->t[i];
        b->v0 = b->v[i];
        for (unsigned k = 0; k < b->len; k++, i = (i + 1) % BASELINE_RING) {
                double x = b->t[i] - b->t0, y = b->v[i] - b->v0;
                b->sx += x;
                b->sy += y;
                b->sxx += x * x;
                b->sxy += x * y;
                b->syy += y * y;
        }
}

static void drop_oldest(struct baseline *b)
{
        unsigned i = oldest(b);
        double x = b->t[i] - b->t0, y = b->v[i] - b->v0;

        b->sx -= x;
        b->sy -= y;
        b->sxx -= x * x;
        b->sxy -= x * y;
        b->syy -= y * y;
        b->len--;
        if (++b->removed >= BASELINE_RING)
                recompute(b);
}

static void expire(struct baseline *b, double now, double window)
{
        while (b->len > 0 && b->t[oldest(b)] < now - window)
                drop_oldest(b);
}

void baseline_add(struct baseline *b, const struct baseline_params *p, double t, double value)
{
        if (!isfinite(t) || !isfinite(value) || !(t > b->t_last)) {
                b->n_rejected++;
                return;
        }
        b->t_last = t;
        expire(b, t, p->window);
        if (b->len == BASELINE_RING) {
                drop_oldest(b);
                b->n_dropped++;
        }
        if (b->len == 0) {
                b->t0 = t;
                b->v0 = value;
        }
        b->t[b->head] = t;
        b->v[b->head] = value;
        b->head = (b->head + 1) % BASELINE_RING;
        b->len++;

        double x = t - b->t0, y = value - b->v0;
        b->sx += x;
        b->sy += y;
        b->sxx += x * x;
        b->sxy += x * y;
        b->syy += y * y;
}

/* Advances one rule's `for:` timer; returns whether it alerts. */
static bool hold(uint32_t *on, double *since, bool cond, double now, double hold_s)
{
        if (!cond) {
                *on = 0;
                return false;
        }
        if (!*on) {
                *on = 1;
                *since = now;
        }
        return now - *since >= hold_s;
}

void baseline_evaluate(struct baseline *b, const struct baseline_params *p, double now,
                       struct baseline_verdict *ret)
{
        struct baseline_verdict v = { .slope = NAN, .r2 = NAN };
        bool slope_up = false, fits = false;

        expire(b, now, p->window);
        v.n = b->len;
        if (b->len >= 2) {
                double n = b->len;
                double cxx = n * b->sxx - b->sx * b->sx;
                double cxy = n * b->sxy - b->sx * b->sy;
                double cyy = n * b->syy - b->sy * b->sy;

                if (cxx > 0) {
                        v.slope = cxy / cxx;
                        slope_up = v.slope > p->slope_min;
                        if (cyy > 0) {
                                v.r2 = cxy * cxy / (cxx * cyy);
                                fits = v.r2 >= p->r2_min;
                        }
                }
        }
        v.deriv_alert = hold(&b->deriv_on, &b->deriv_since, slope_up, now, p->hold);
        v.linreg_alert = hold(&b->linreg_on, &b->linreg_since, slope_up && fits, now, p->hold);
        *ret = v;
}
