/* SPDX-License-Identifier: GPL-2.0-or-later */
/* budget: a token bucket of CPU time for optional, costly reads. */
#include "budget.h"

void budget_init(struct budget *b, double share, double burst_usec, usec_t now)
{
        *b = (struct budget){ .share = share, .burst = burst_usec, .tokens = burst_usec, .last = now };
}

void budget_set(struct budget *b, double share, double burst_usec)
{
        b->share = share;
        b->burst = burst_usec;
        if (b->tokens > burst_usec)
                b->tokens = burst_usec;
}

bool budget_allow(struct budget *b, usec_t now)
{
        /* A clock that went back (it cannot, monotonic; a test might) refills nothing. */
        if (now > b->last) {
                b->tokens += (double)(now - b->last) * b->share;
                if (b->tokens > b->burst)
                        b->tokens = b->burst;
                b->last = now;
        }
        if (b->tokens > 0) {
                b->allowed++;
                return true;
        }
        b->denied++;
        return false;
}

void budget_spend(struct budget *b, usec_t cost)
{
        b->tokens -= (double)cost;
}
