/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-detect: the leak detector against synthetic shapes at two time scales, its
 * state machine (hysteresis, warm-up, forecast, gaps, replay), the descriptor kind,
 * the statistics on series with known answers, and the baseline rules it is
 * compared with. Every random series comes from a seed that is printed on failure. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "detect-shapes.h"
#include "util.h"

#define MIB (1024.0 * 1024.0)

/* cmocka 1.1 compares only integers and floats; this prints both doubles in full. */
static void assert_near_at(double a, double b, double eps, const char *expr, const char *file, int line)
{
        if (fabs(a - b) <= eps)
                return;
        print_error("%s:%d: %s is %.17g, expected %.17g within %g\n", file, line, expr, a, b, eps);
        fail();
}
#define assert_near(a, b, eps) assert_near_at((a), (b), (eps), #a, __FILE__, __LINE__)

/* ---- a runner for hand-made series ---- */

#define TRACE_MAX 64

/* What happened to the state over a run. */
struct trace {
        unsigned n;                     /* transitions recorded */
        double t[TRACE_MAX];
        enum detect_status to[TRACE_MAX];
        unsigned entered[DETECT__MAX];  /* times each status was entered */
        double first[DETECT__MAX];      /* when each was first entered; NAN: never */
        unsigned escalations;
        unsigned evaluations;
        struct detect_verdict last;
};

static void trace_print(const struct trace *tr, double window)
{
        for (unsigned i = 0; i < tr->n; i++)
                print_message("  %.3f W: %s\n", tr->t[i] / window, detect_status_name[tr->to[i]]);
}

static void trace_init(struct trace *tr)
{
        memset(tr, 0, sizeof(*tr));
        for (int i = 0; i < DETECT__MAX; i++)
                tr->first[i] = NAN;
}

typedef double (*series_fn)(double t, const void *ctx);

/* Feeds f(t) every dt from t0 (inclusive) to t1 (exclusive) into d, evaluating at each
 * closed bucket with the given headroom, and records the transitions. Values are
 * rounded to 4 KiB pages like the kernel reports them. */
static void run(struct detect *d, const struct detect_params *p, double t0, double t1, double dt,
                series_fn f, const void *ctx, double headroom, struct trace *tr)
{
        for (double t = t0; t < t1; t += dt) {
                struct detect_verdict v;
                double value = f(t, ctx);

                if (p->kind == DETECT_MEMORY)
                        value = 4096 * nearbyint(value / 4096);
                if (!detect_add(d, p, t, value))
                        continue;
                detect_evaluate(d, p, t, headroom, &v);
                tr->evaluations++;
                tr->last = v;
                if (v.escalated)
                        tr->escalations++;
                if (!v.changed)
                        continue;
                if (tr->n < TRACE_MAX) {
                        tr->t[tr->n] = t;
                        tr->to[tr->n] = v.status;
                        tr->n++;
                }
                tr->entered[v.status]++;
                if (isnan(tr->first[v.status]))
                        tr->first[v.status] = t;
        }
}

/* A deterministic jitter in [-1, 1) from t, so hand-made series are not perfectly
 * smooth (a perfect line is a degenerate case tested on its own). */
static double jitter(double t)
{
        uint64_t z = (uint64_t)(t * 1000) * UINT64_C(0x9e3779b97f4a7c15);
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z ^= z >> 31;
        return (double)(z >> 11) * 0x1.0p-52 - 1;
}

/* A piecewise-linear memory series: 200 MiB, rising at `rate` bytes/s during
 * [on[i], off[i]), with 0.3 MiB of jitter. */
struct pieces {
        double rate;
        unsigned n;
        double on[4], off[4];
};

static double pieces_f(double t, const void *ctx)
{
        const struct pieces *pc = ctx;
        double v = 200 * MIB;

        for (unsigned i = 0; i < pc->n; i++)
                if (t > pc->on[i])
                        v += pc->rate * (fmin(t, pc->off[i]) - pc->on[i]);
        return v + 0.3 * MIB * jitter(t);
}

/* ---- parameters ---- */

static void test_params(void **state)
{
        struct detect_params p;
        (void)state;

        for (int k = 0; k < 2; k++) {
                static const double windows[] = { 1, 120, 6 * 3600, 7 * 86400 };
                for (size_t i = 0; i < ELEMENTSOF(windows); i++) {
                        detect_params_init(&p, k ? DETECT_FDS : DETECT_MEMORY, windows[i]);
                        assert_int_equal(detect_params_check(&p), 0);
                        assert_true(p.buckets <= DETECT_MAX_BUCKETS);
                        assert_true(fabs(p.bucket * p.buckets - p.window) < 1e-9 * p.window);
                        assert_true(p.warmup < p.window && p.confirm < p.window && p.recovery <= p.window);
                }
        }
        detect_params_init(&p, DETECT_MEMORY, 3600);
        assert_near(p.min_growth, 1 * MIB, 0);
        detect_params_init(&p, DETECT_FDS, 3600);
        assert_near(p.min_growth, 8, 0);

        struct detect_params bad = p;
        bad.window = 0;
        assert_int_equal(detect_params_check(&bad), -EINVAL);
        bad = p;
        bad.buckets = DETECT_MAX_BUCKETS + 1;
        assert_int_equal(detect_params_check(&bad), -EINVAL);
        bad = p;
        bad.bucket *= 2;                /* disagrees with window / buckets */
        assert_int_equal(detect_params_check(&bad), -EINVAL);
        bad = p;
        bad.min_buckets = 4;
        assert_int_equal(detect_params_check(&bad), -EINVAL);
        bad = p;
        bad.alpha = 0.7;
        assert_int_equal(detect_params_check(&bad), -EINVAL);
        bad = p;
        bad.block = 0;
        assert_int_equal(detect_params_check(&bad), -EINVAL);
        bad = p;
        bad.recovery = NAN;
        assert_int_equal(detect_params_check(&bad), -EINVAL);

        assert_string_equal(detect_status_name[DETECT_OK], "ok");
        assert_string_equal(detect_status_name[DETECT_SUSPECT], "suspect");
        assert_string_equal(detect_status_name[DETECT_LEAKING], "leaking");
        assert_string_equal(detect_status_name[DETECT_RECOVERED], "recovered");
}

/* ---- the shapes ---- */

/* 50 seeds per shape: enough to catch a detector that is right only by luck, and at
 * 6 h with 10 s samples still about a second of CPU for all shapes. */
#define SEEDS 50u

static void check_shapes(double window, double dt_min, double dt_max, const char *scale)
{
        unsigned deriv_fa_shapes = 0, linreg_fa_shapes = 0, failures = 0;

        for (int s = 0; s < SHAPE__MAX; s++) {
                unsigned hits = 0, deriv = 0, linreg = 0, suspects = 0;
                double worst = 0, sum = 0;

                if (shape_info[s].limit)
                        continue;
                for (unsigned seed = 1; seed <= SEEDS; seed++) {
                        struct shape_result r;

                        shape_run(s, seed, window, dt_min, dt_max, shape_info[s].leak ? 4 * window : 6 * window, &r);
                        deriv += !isnan(r.deriv_t);
                        linreg += !isnan(r.linreg_t);
                        suspects += r.suspects > 0;
                        if (shape_info[s].leak) {
                                if (isnan(r.detect_t)) {
                                        print_error("%s: %s seed %u: leak never reached LEAKING\n", scale,
                                                    shape_info[s].name, seed);
                                        failures++;
                                        continue;
                                }
                                hits++;
                                sum += r.detect_t;
                                worst = fmax(worst, r.detect_t);
                        } else if (r.alerts > 0) {
                                print_error("%s: %s seed %u: false alarm, LEAKING at %.0f s\n", scale,
                                            shape_info[s].name, seed, r.detect_t);
                                failures++;
                        }
                }
                if (shape_info[s].leak)
                        print_message("%s %-14s detected %2u/%u, mean %.2f W, worst %.2f W after onset"
                                      " (deriv %u, linreg %u)\n", scale, shape_info[s].name, hits, SEEDS,
                                      hits ? sum / hits / window : NAN, worst / window, deriv, linreg);
                else {
                        print_message("%s %-14s false alarms 0/%u (suspect %u); deriv %u, linreg %u\n", scale,
                                      shape_info[s].name, SEEDS, suspects, deriv, linreg);
                        deriv_fa_shapes += deriv > 0;
                        linreg_fa_shapes += linreg > 0;
                }
        }
        assert_int_equal(failures, 0);
        /* The comparison is only meaningful if the simple rules do fail where the
         * detector does not. */
        assert_true(deriv_fa_shapes >= 5);
        assert_true(linreg_fa_shapes >= 3);
}

static void test_shapes_short(void **state)
{
        (void)state;
        check_shapes(120, 0.2, 1, "2min");
}

static void test_shapes_long(void **state)
{
        (void)state;
        check_shapes(6 * 3600, 10, 10, "6h");
}

/* The generator itself: the same seed gives the same series, another seed another. */
static void test_generator(void **state)
{
        struct shape_gen a, b, c;
        (void)state;

        shape_init(&a, SHAPE_WALK, 7, 120, 0.2, 1, SHAPE_BASE, 4096);
        shape_init(&b, SHAPE_WALK, 7, 120, 0.2, 1, SHAPE_BASE, 4096);
        shape_init(&c, SHAPE_WALK, 8, 120, 0.2, 1, SHAPE_BASE, 4096);
        bool differ = false;
        for (int i = 0; i < 1000; i++) {
                double ta, va, tb, vb, tc, vc;
                shape_next(&a, &ta, &va);
                shape_next(&b, &tb, &vb);
                shape_next(&c, &tc, &vc);
                assert_true(ta == tb && va == vb);
                assert_true(va >= 0 && fmod(va, 4096) == 0);
                differ |= va != vc;
        }
        assert_true(differ);
}

/* ---- the state machine ---- */

/* One alert per leak; recovered after it stops; quiet through the cool-down even when
 * the growth comes back; a new alert after it. */
static void test_hysteresis(void **state)
{
        const double W = 3600;
        struct detect_params p;
        static struct detect d;
        struct trace tr;
        /* 20% of 200 MiB per window; leaks during [0, 2.5W) and [4W, 10W). */
        struct pieces pc = { .rate = 0.2 * 200 * MIB / W, .n = 2, .on = { 0, 4 * W }, .off = { 2.5 * W, 10 * W } };
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, W);
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &p, 0, 10 * W, 10, pieces_f, &pc, NAN, &tr);

        trace_print(&tr, W);
        /* The sequence: suspect, leaking, recovered, ok (cool-down over), then again. */
        assert_true(tr.n >= 5);
        assert_int_equal(tr.to[0], DETECT_SUSPECT);
        assert_int_equal(tr.to[1], DETECT_LEAKING);
        assert_int_equal(tr.to[2], DETECT_RECOVERED);
        /* When the cool-down ends the growth is already back: ok and suspect at once. */
        assert_true(tr.to[3] == DETECT_OK || tr.to[3] == DETECT_SUSPECT);
        assert_int_equal(tr.entered[DETECT_LEAKING], 2);
        assert_int_equal(d.n_alerts, 2);
        /* First alert within about a window and a quarter of the start. */
        assert_true(tr.t[1] <= 1.3 * W);
        /* Recovered after the stop, once the window no longer holds the rise: no new
         * high for `recovery`, and no weak trend left, within a window and a block. */
        assert_true(tr.t[2] > 2.5 * W + p.recovery && tr.t[2] <= 2.5 * W + W + 4 * p.bucket);
        /* The growth is back at 4 W, inside the cool-down: no alert before it ends. */
        assert_true(tr.t[3] >= tr.t[2] + p.cooldown);
        for (unsigned i = 4; i < tr.n; i++)
                if (tr.to[i] == DETECT_LEAKING)
                        assert_true(tr.t[i] >= tr.t[2] + p.cooldown);
        /* Each alert escalates exactly once (no headroom, so nothing else does). */
        assert_int_equal(tr.escalations, 2);
}

/* 200 MiB with a batch of +40 % held for W/5 from W, then a leak of 20 % a window from
 * 1.2 W: its windows pass every check but the new high until the floor beats the
 * batch's, at about 3.2 W, when the rise has held for two windows. */
static double held_f(double t, const void *ctx)
{
        const double W = *(const double *)ctx;
        double v = 200 * MIB;

        if (t >= W && t < 1.2 * W)
                v *= 1.4;
        if (t >= 1.2 * W)
                v += 0.2 * 200 * MIB * (t - 1.2 * W) / W;
        return v + 0.3 * MIB * jitter(t);
}

/* confirm_back: a window that first passes every check when the stretch of a window and
 * a confirmation before it passes them too is confirmed at once; without it, a
 * confirmation later. */
static void test_confirm_back(void **state)
{
        double W = 720, suspected = NAN;
        (void)state;

        for (int back = 0; back <= 1; back++) {
                struct detect_params p;
                static struct detect d;
                struct trace tr;

                detect_params_init(&p, DETECT_MEMORY, W);
                p.confirm_back = back;
                assert_int_equal(detect_params_check(&p), 0);
                detect_init(&d, 0);
                trace_init(&tr);
                run(&d, &p, 0, 5 * W, 10, held_f, &W, NAN, &tr);
                trace_print(&tr, W);
                assert_int_equal(tr.entered[DETECT_LEAKING], 1);
                if (!back) {
                        /* Held back by the batch's floor until it is beaten, then a
                         * confirmation. */
                        suspected = tr.first[DETECT_SUSPECT];
                        assert_true(suspected > 3 * W);
                        assert_true(tr.first[DETECT_LEAKING] >= suspected + p.confirm);
                } else {
                        /* Leaking at that same first passing window. */
                        assert_int_equal(tr.entered[DETECT_SUSPECT], 0);
                        assert_near(tr.first[DETECT_LEAKING], suspected, 0);
                }
        }
}

/* Growth during the warm-up is forgiven; samples before it are not evidence. */
static void test_warmup(void **state)
{
        const double W = 3600;
        struct detect_params p;
        static struct detect d;
        struct trace tr;
        /* +50% during the first fifth of the window, then flat. */
        struct pieces pc = { .rate = 0.5 * 200 * MIB / (0.2 * W), .n = 1, .on = { 0 }, .off = { 0.2 * W } };
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, W);
        detect_init(&d, 0);
        for (double t = 0; t < p.warmup; t += 10)
                assert_false(detect_add(&d, &p, t, pieces_f(t, &pc)));
        assert_int_equal(d.ring_len, 0);
        assert_int_equal(d.cur_n, 0);

        struct detect_verdict v;
        detect_evaluate(&d, &p, p.warmup - 1, NAN, &v);
        assert_int_equal(v.status, DETECT_OK);
        assert_string_equal(v.ev.reason, "warming up");

        trace_init(&tr);
        run(&d, &p, p.warmup, 4 * W, 10, pieces_f, &pc, NAN, &tr);
        assert_int_equal(tr.n, 0);
        assert_true(tr.last.ev.t_from >= p.warmup);

        /* The same growth after the warm-up, lasting, is a leak: the exclusion is about
         * time since start, not about the shape. */
        struct pieces late = { .rate = 0.2 * 200 * MIB / W, .n = 1, .on = { p.warmup }, .off = { 1e9 } };
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &p, 0, 3 * W, 10, pieces_f, &late, NAN, &tr);
        assert_false(isnan(tr.first[DETECT_LEAKING]));

        /* A process that started long before watching began has no warm-up left. */
        detect_init(&d, -10 * W);
        trace_init(&tr);
        run(&d, &p, 0, 2 * W, 10, pieces_f, &late, NAN, &tr);
        assert_true(tr.first[DETECT_LEAKING] < 1.6 * W);
}

/* The forecast is the headroom over the slope; a near limit skips the confirmation,
 * and a leak that comes within the horizon escalates once. */
static void test_forecast(void **state)
{
        const double W = 3600, rate = 0.2 * 200 * MIB / W;
        struct detect_params p;
        static struct detect d;
        struct trace far, close_;
        struct pieces pc = { .rate = rate, .n = 1, .on = { 0 }, .off = { 1e9 } };
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, W);

        /* Unknown headroom: no forecast. */
        detect_init(&d, 0);
        trace_init(&far);
        run(&d, &p, 0, 2 * W, 10, pieces_f, &pc, NAN, &far);
        assert_int_equal(far.last.status, DETECT_LEAKING);
        assert_true(isinf(far.last.ev.forecast));

        /* Far limit: forecast about headroom / rate, no early alert. */
        double headroom = 100 * rate * W;
        detect_init(&d, 0);
        trace_init(&far);
        run(&d, &p, 0, 2 * W, 10, pieces_f, &pc, headroom, &far);
        assert_int_equal(far.last.status, DETECT_LEAKING);
        assert_true(fabs(far.last.ev.forecast - headroom / rate) < 0.1 * headroom / rate);
        assert_true(fabs(far.last.ev.slope - rate) < 0.1 * rate);
        assert_true(far.last.ev.slope_low <= far.last.ev.slope && far.last.ev.slope <= far.last.ev.slope_high);
        assert_true(fabs(far.last.ev.growth - rate * (far.last.ev.t_to - far.last.ev.t_from)) < 0.1 * rate * W);
        assert_true(far.last.ev.growth_rel > 0.1 && far.last.ev.growth_rel < 0.3);
        assert_int_equal(far.escalations, 1);

        /* Close limit: half a window left. The alert comes without the confirmation. */
        detect_init(&d, 0);
        trace_init(&close_);
        run(&d, &p, 0, 2 * W, 10, pieces_f, &pc, rate * W / 2, &close_);
        assert_true(close_.first[DETECT_LEAKING] < far.first[DETECT_LEAKING] - p.confirm / 2);
        assert_true(close_.last.ev.forecast < p.horizon);
        assert_int_equal(close_.escalations, 1);

        /* Leaking with a far limit, then the limit comes close: one more escalation. */
        detect_init(&d, 0);
        trace_init(&far);
        run(&d, &p, 0, 2 * W, 10, pieces_f, &pc, headroom, &far);
        assert_int_equal(far.last.status, DETECT_LEAKING);
        run(&d, &p, 2 * W, 2.5 * W, 10, pieces_f, &pc, rate * W / 4, &far);
        assert_int_equal(far.escalations, 2);
        assert_int_equal(d.imminent, 1);
        assert_int_equal(far.last.status, DETECT_LEAKING);

        /* Headroom already used up: forecast 0. */
        run(&d, &p, 2.5 * W, 2.6 * W, 10, pieces_f, &pc, -5, &far);
        assert_near(far.last.ev.forecast, 0, 0);
}

/* ---- descriptors ---- */

struct fds {
        double base, per_window, window, step_at, step;
};

static double fds_f(double t, const void *ctx)
{
        const struct fds *f = ctx;
        double v = f->base + floor(f->per_window * t / f->window);

        if (t >= f->step_at)
                v += f->step;
        /* Short-lived descriptors (a request's socket, a temporary file) come and go. */
        return v + floor(3 * (jitter(t) + 1));
}

static void test_fds(void **state)
{
        const double W = 600;
        struct detect_params p;
        static struct detect d;
        struct trace tr;
        (void)state;

        detect_params_init(&p, DETECT_FDS, W);

        /* One descriptor leaked every 25 s: 24 a window, from 40. */
        struct fds leak = { .base = 40, .per_window = 24, .window = W, .step_at = INFINITY };
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &p, 0, 3 * W, 1, fds_f, &leak, NAN, &tr);
        assert_int_equal(tr.entered[DETECT_LEAKING], 1);
        assert_true(tr.first[DETECT_LEAKING] < 1.5 * W);

        /* Four a window is below the minimum growth of eight. */
        struct fds slow = { .base = 40, .per_window = 4, .window = W, .step_at = INFINITY };
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &p, 0, 6 * W, 1, fds_f, &slow, NAN, &tr);
        assert_int_equal(tr.entered[DETECT_LEAKING], 0);

        /* A connection pool that opens twenty at once, and a steady count: nothing. */
        struct fds pool = { .base = 40, .per_window = 0, .window = W, .step_at = 1.5 * W, .step = 20 };
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &p, 0, 6 * W, 1, fds_f, &pool, NAN, &tr);
        assert_int_equal(tr.n, 0);

        /* The same leak read as memory would be far below 1 MiB: the kind matters. */
        struct detect_params pm;
        detect_params_init(&pm, DETECT_MEMORY, W);
        pm.kind = DETECT_FDS;           /* only so run() does not round to pages */
        pm.min_growth = 1 * MIB;
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &pm, 0, 3 * W, 1, fds_f, &leak, NAN, &tr);
        assert_int_equal(tr.entered[DETECT_LEAKING], 0);
}

/* ---- replay, time and values ---- */

static bool verdict_equal(const struct detect_verdict *a, const struct detect_verdict *b)
{
        /* Field by field: a verdict has padding, and NANs compare unequal. */
#define SAME(f) (a->f == b->f || (isnan(a->f) && isnan(b->f)))
        return a->status == b->status && a->previous == b->previous && a->changed == b->changed &&
               a->escalated == b->escalated && a->evidence == b->evidence && a->n == b->n &&
               a->ev.reason == b->ev.reason && SAME(ev.slope) && SAME(ev.slope_low) && SAME(ev.slope_high) &&
               SAME(ev.growth) && SAME(ev.growth_rel) && SAME(ev.level) && SAME(z) && SAME(ev.p) &&
               SAME(correction) && SAME(z_rw) && SAME(ev.t_from) && SAME(ev.t_to) && SAME(ev.forecast);
#undef SAME
}

/* Feeding the same samples twice gives the same state, bit for bit, and the same
 * verdicts; and a state rebuilt by replay after a "restart" equals the live one. */
static void test_replay(void **state)
{
        static struct detect a, b, c;
        struct detect_params p;
        struct shape_gen g;
        static double ts[20000], vs[20000];
        size_t n = 0;
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, 120);
        shape_init(&g, SHAPE_SAWLEAK, 3, 120, 0.2, 1, SHAPE_BASE, 4096);
        g.t_offset = 1.7e9;             /* wall-clock seconds: the numbers must still work */
        while (n < ELEMENTSOF(ts)) {
                shape_next(&g, &ts[n], &vs[n]);
                if (ts[n] > 1.7e9 + 6 * 120)
                        break;
                n++;
        }
        detect_init(&a, 1.7e9);
        detect_init(&b, 1.7e9);
        unsigned leaking = 0;
        for (size_t i = 0; i < n; i++) {
                bool da = detect_add(&a, &p, ts[i], vs[i]), db = detect_add(&b, &p, ts[i], vs[i]);
                assert_true(da == db);
                if (da) {
                        struct detect_verdict va, vb;
                        detect_evaluate(&a, &p, ts[i], 1e9, &va);
                        detect_evaluate(&b, &p, ts[i], 1e9, &vb);
                        assert_true(verdict_equal(&va, &vb));
                        leaking += va.status == DETECT_LEAKING;
                }
                assert_memory_equal(&a, &b, sizeof(a));

                /* Restart at one third: replay the history into a fresh state. */
                if (i == n / 3) {
                        detect_init(&c, 1.7e9);
                        for (size_t k = 0; k <= i; k++)
                                if (detect_add(&c, &p, ts[k], vs[k])) {
                                        struct detect_verdict vc;
                                        detect_evaluate(&c, &p, ts[k], 1e9, &vc);
                                }
                        assert_memory_equal(&a, &c, sizeof(a));
                }
        }
        assert_true(leaking > 0);
}

static void test_time_not_increasing(void **state)
{
        struct detect_params p;
        static struct detect d, copy;
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, 120);
        detect_init(&d, 0);
        for (double t = 0; t < 100; t += 0.5)
                detect_add(&d, &p, t, 100 * MIB);
        copy = d;
        assert_false(detect_add(&d, &p, d.t_last, 50 * MIB));       /* equal */
        assert_false(detect_add(&d, &p, d.t_last - 30, 50 * MIB));  /* backwards */
        assert_false(detect_add(&d, &p, NAN, 50 * MIB));
        assert_false(detect_add(&d, &p, INFINITY, 50 * MIB));
        assert_int_equal(d.n_rejected, 4);
        copy.n_rejected = 4;
        assert_memory_equal(&d, &copy, sizeof(d));
        /* And time goes on from where it was. */
        detect_add(&d, &p, copy.t_last + 0.5, 100 * MIB);
        assert_int_equal(d.n_accepted, copy.n_accepted + 1);
}

static void test_bad_values(void **state)
{
        struct detect_params p;
        static struct detect d, copy;
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, 120);
        detect_init(&d, 0);
        for (double t = 0; t < 100; t += 0.5)
                detect_add(&d, &p, t, 100 * MIB);
        copy = d;
        assert_false(detect_add(&d, &p, 200, NAN));
        assert_false(detect_add(&d, &p, 201, INFINITY));
        assert_false(detect_add(&d, &p, 202, -INFINITY));
        assert_false(detect_add(&d, &p, 203, -1));
        assert_int_equal(d.n_rejected, 4);
        copy.n_rejected = 4;
        assert_memory_equal(&d, &copy, sizeof(d));
        /* Zero is a real reading. */
        detect_add(&d, &p, 204, 0);
        assert_int_equal(d.n_accepted, copy.n_accepted + 1);
}

/* The daemon was down: a hole in the data. */
static void test_gaps(void **state)
{
        const double W = 3600;
        struct detect_params p;
        static struct detect d;
        struct trace tr;
        struct pieces leak = { .rate = 0.2 * 200 * MIB / W, .n = 1, .on = { 0 }, .off = { 1e9 } };
        struct pieces flat = { .rate = 0, .n = 0 };
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, W);

        /* A leak, two windows of nothing, the leak went on meanwhile: still leaking,
         * neither recovered nor alerted twice. */
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &p, 0, 1.5 * W, 10, pieces_f, &leak, NAN, &tr);
        assert_int_equal(tr.last.status, DETECT_LEAKING);
        run(&d, &p, 3.5 * W, 5 * W, 10, pieces_f, &leak, NAN, &tr);
        assert_int_equal(tr.last.status, DETECT_LEAKING);
        assert_int_equal(tr.entered[DETECT_LEAKING], 1);
        assert_int_equal(tr.entered[DETECT_RECOVERED], 0);

        /* Right after the gap, the window holds too few buckets to judge. */
        detect_init(&d, 0);
        trace_init(&tr);
        run(&d, &p, 0, 1.5 * W, 10, pieces_f, &flat, NAN, &tr);
        run(&d, &p, 3.5 * W, 3.5 * W + 3 * p.bucket, 10, pieces_f, &flat, NAN, &tr);
        assert_true(tr.last.n < p.min_buckets);
        assert_string_equal(tr.last.ev.reason, "not enough data yet");
        assert_true(isnan(tr.last.ev.p));

        /* A flat series with holes: nothing. */
        detect_init(&d, 0);
        trace_init(&tr);
        for (int k = 0; k < 6; k++)
                run(&d, &p, k * W, k * W + 0.6 * W, 10, pieces_f, &flat, NAN, &tr);
        assert_int_equal(tr.n, 0);
}

/* ---- the statistics on series with known answers ---- */

/* One sample per bucket, so each floor is exactly the value given. */
static void feed_floors(struct detect *d, const struct detect_params *p, const double *y, unsigned n,
                        struct detect_verdict *ret)
{
        detect_init(d, -p->warmup);     /* bucket k covers [k, k+1) buckets from 0 */
        for (unsigned i = 0; i <= n; i++) {
                double v = i < n ? y[i] : y[n - 1];
                if (detect_add(d, p, (i + 0.5) * p->bucket, v))
                        detect_evaluate(d, p, (i + 0.5) * p->bucket, NAN, ret);
        }
}

static void test_statistics(void **state)
{
        struct detect_params p;
        static struct detect d;
        struct detect_verdict v;
        double y[24];
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, 24 * 60);   /* buckets of 60 s */

        /* A perfect line, 3 MiB a bucket: S = 276, Var S = 24*23*53/18, no
         * autocorrelation left after detrending (the residuals are all tied), so
         * z = 275 / sqrt(1625.33) = 6.8212. Sen's slope and both bounds are exact. */
        for (int i = 0; i < 24; i++)
                y[i] = 100 * MIB + 3 * MIB * i;
        feed_floors(&d, &p, y, 24, &v);
        assert_int_equal(v.n, 24);
        assert_near(v.z, 275 / sqrt(24.0 * 23 * 53 / 18), 1e-9);
        assert_near(v.correction, 1, 0);
        assert_near(v.ev.slope, 3 * MIB / 60, 1e-6);
        assert_near(v.ev.slope_low, 3 * MIB / 60, 1e-6);
        assert_near(v.ev.slope_high, 3 * MIB / 60, 1e-6);
        assert_near(v.ev.growth, 3 * MIB * 24, 1);
        assert_near(v.ev.level, 100 * MIB + 3 * MIB * 21, 0);     /* the last block's minimum */
        assert_true(v.ev.p < 1e-11);
        assert_true(v.evidence);

        /* Falling: p near 1, no evidence. */
        for (int i = 0; i < 24; i++)
                y[i] = 200 * MIB - 3 * MIB * i;
        feed_floors(&d, &p, y, 24, &v);
        assert_true(v.ev.p > 0.999);
        assert_false(v.evidence);
        assert_string_equal(v.ev.reason, "no significant trend");

        /* All tied: S = 0, z = 0, p = 1/2. */
        for (int i = 0; i < 24; i++)
                y[i] = 100 * MIB;
        feed_floors(&d, &p, y, 24, &v);
        assert_near(v.z, 0, 0);
        assert_near(v.ev.p, 0.5, 1e-12);
        assert_near(v.ev.slope, 0, 0);

        /* A slow square wave: strongly autocorrelated, so the Hamed-Rao factor is
         * above 1, and it never lowers the variance below the plain one. */
        for (int i = 0; i < 24; i++)
                y[i] = 100 * MIB + ((i / 6) % 2 ? 5 * MIB : 0) + 0.1 * MIB * i;
        feed_floors(&d, &p, y, 24, &v);
        assert_true(v.correction >= 1);

        /* A rise that is all in one step is not a leak, however significant. */
        for (int i = 0; i < 24; i++)
                y[i] = 100 * MIB + (i >= 12 ? 30 * MIB : 0) + 0.01 * MIB * (i % 3);
        feed_floors(&d, &p, y, 24, &v);
        assert_false(v.evidence);
}

/* Floors that are all the same take a shortcut past the n^2 slopes (trend_flat): it must
 * give what the slopes would — every one 0, no trend, nothing to correct — at every
 * window length, and a window that differs in a single floor is judged in full. */
static void test_flat_floors(void **state)
{
        struct detect_params p;
        static struct detect d;
        struct detect_verdict v;
        struct detect_slope sl;
        double x[DETECT_MAX_BUCKETS], y[DETECT_MAX_BUCKETS];
        (void)state;

        detect_params_init(&p, DETECT_MEMORY, 24 * 60);
        for (int i = 0; i < 24; i++)
                y[i] = 100 * MIB;
        feed_floors(&d, &p, y, 24, &v);
        assert_int_equal(v.n, 24);
        assert_true(v.ev.slope == 0 && v.ev.slope_low == 0 && v.ev.slope_high == 0);
        assert_true(v.z == 0 && v.correction == 1);
        assert_near(v.ev.p, 0.5, 0);
        assert_near(v.ev.growth, 0, 0);
        assert_near(v.ev.growth_rel, 0, 0);
        assert_near(v.ev.level, 100 * MIB, 0);
        assert_false(v.evidence);
        assert_int_equal(v.status, DETECT_OK);

        for (unsigned n = 3; n <= DETECT_MAX_BUCKETS; n++) {
                for (unsigned i = 0; i < n; i++) {
                        x[i] = i;
                        y[i] = 7;
                }
                detect_robust_slope(x, y, n, 0.01, 3, &sl);
                assert_true(sl.slope == 0 && sl.slope_low == 0);
                assert_near(sl.p, 0.5, 0);
                assert_true(isfinite(sl.z_rw));
                /* One floor higher at the end: a rise, judged through the slopes. */
                y[n - 1] = 8;
                detect_robust_slope(x, y, n, 0.01, 3, &sl);
                assert_true(sl.slope >= 0 && sl.p < 0.5);
        }
}

/* ---- the baselines ---- */

static void test_baseline(void **state)
{
        struct baseline_params bp;
        static struct baseline b;
        struct baseline_verdict v;
        (void)state;

        /* A line: slope exact, R^2 = 1, alerts after the hold and not before. */
        baseline_params_init(&bp, 100, 0.5);
        baseline_init(&b);
        for (int t = 0; t <= 100; t++)
                baseline_add(&b, &bp, 1.7e9 + t, 1e9 + 2.0 * t);
        baseline_evaluate(&b, &bp, 1.7e9 + 100, &v);
        assert_int_equal(v.n, 101);
        assert_near(v.slope, 2, 1e-6);
        assert_near(v.r2, 1, 1e-9);
        assert_false(v.deriv_alert);            /* the condition just started holding */
        for (int t = 101; t <= 130; t++)
                baseline_add(&b, &bp, 1.7e9 + t, 1e9 + 2.0 * t);
        baseline_evaluate(&b, &bp, 1.7e9 + 130, &v);
        assert_true(v.deriv_alert && v.linreg_alert);
        assert_int_equal(v.n, 101);             /* the window slid */

        /* A long run through the ring (many recomputations of the sums): still exact. */
        baseline_params_init(&bp, 10 * BASELINE_RING, 0.5);
        baseline_init(&b);
        for (int t = 0; t < 5 * BASELINE_RING; t++)
                baseline_add(&b, &bp, t, 5e8 + 3.0 * t + (t % 2 ? 1e3 : -1e3));
        baseline_evaluate(&b, &bp, 5 * BASELINE_RING, &v);
        assert_int_equal(v.n, BASELINE_RING);
        assert_true(b.n_dropped > 0);
        assert_near(v.slope, 3, 1e-3);

        /* Non-finite and non-increasing samples are refused. */
        unsigned before = v.n;
        baseline_add(&b, &bp, 1, 1);
        baseline_add(&b, &bp, 5 * BASELINE_RING + 1, NAN);
        assert_int_equal(b.n_rejected, 2);
        baseline_evaluate(&b, &bp, 5 * BASELINE_RING, &v);
        assert_int_equal(v.n, before);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_params),
                cmocka_unit_test(test_generator),
                cmocka_unit_test(test_statistics),
                cmocka_unit_test(test_flat_floors),
                cmocka_unit_test(test_hysteresis),
                cmocka_unit_test(test_confirm_back),
                cmocka_unit_test(test_warmup),
                cmocka_unit_test(test_forecast),
                cmocka_unit_test(test_fds),
                cmocka_unit_test(test_replay),
                cmocka_unit_test(test_time_not_increasing),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_gaps),
                cmocka_unit_test(test_baseline),
                cmocka_unit_test(test_shapes_short),
                cmocka_unit_test(test_shapes_long),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
