/* SPDX-License-Identifier: GPL-2.0-or-later */
/* budget: a token bucket of CPU time, so an optional read whose cost grows with its
 * target (smaps_rollup walks the target's page tables) takes at most a set share of
 * one core, however many processes want it at once.
 *
 * Pure: time and cost are arguments. Tokens are microseconds of CPU; they accrue at
 * `share` of the wall time that passes, up to `burst`. A read is allowed while the
 * balance is positive and its measured cost is then taken, even past zero: a read's cost
 * is only known afterwards, and the debt it leaves delays the next ones, so over any
 * stretch longer than one read the share holds. */
#ifndef LEAKWATCH_BUDGET_H
#define LEAKWATCH_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct budget {
        double share;                   /* of one core, 0 < share <= 1 */
        double burst;                   /* most tokens banked, µs */
        double tokens;                  /* µs; negative: debt */
        usec_t last;                    /* time of the last refill */
        uint64_t allowed, denied;
};

/* Starts full, at time now. */
void budget_init(struct budget *b, double share, double burst_usec, usec_t now);
/* New share and burst (a reload), keeping the balance (capped at the new burst) and
 * the counters. */
void budget_set(struct budget *b, double share, double burst_usec);
/* Refills for the time since the last call; true if a read may go ahead now. */
bool budget_allow(struct budget *b, usec_t now);
/* Charges what an allowed read cost. */
void budget_spend(struct budget *b, usec_t cost);

#endif
