/* record: what the engine concludes and the agents report, as rows for the writer — the
 * part of the engine's sink every program wires the same way. */
#ifndef LEAKWATCH_RECORD_H
#define LEAKWATCH_RECORD_H

#include "alert.h"
#include "store.h"
#include "writer.h"

/* The verdict row. */
void record_verdict(struct writer *w, const struct store_verdict *v);
/* The alert's row (its end only, for an expired one) and, when it changed, its kind's
 * class. */
void record_alert(struct writer *w, const struct alert *a);
/* An agent's report about the process of that row id. */
void record_report(struct writer *w, int64_t process_id, const struct store_agent_sample *a);

#endif
