/* record: the engine's conclusions and the agents' reports as rows for the writer. */
#include "record.h"

void record_verdict(struct writer *w, const struct store_verdict *v)
{
        (void)writer_put(w, &(struct store_row){ .kind = STORE_VERDICT, .verdict = *v });
}

void record_alert(struct writer *w, const struct alert *a)
{
        if (a->kind_changed)
                (void)writer_put(w, &(struct store_row){
                        .kind = STORE_ALERT_KIND,
                        .alert_kind = { .alert_id = a->row.id, .t_ms = a->t_ms, .cls = a->kind_class,
                                        .agents = a->kind_agents } });
        if (a->event == ALERT_EVENT_EXPIRE)
                /* Its numbers stay those of its last verdict before the stop. */
                (void)writer_put(w, &(struct store_row){
                        .kind = STORE_ALERT_END,
                        .end = { .id = a->row.id, .t_ms = a->row.end_ms, .state = a->row.state,
                                 .reason = a->row.end_reason } });
        else
                (void)writer_put(w, &(struct store_row){ .kind = STORE_ALERT, .alert = a->row });
}

void record_report(struct writer *w, int64_t process_id, const struct store_agent_sample *a)
{
        (void)writer_put(w, &(struct store_row){ .kind = STORE_AGENT_SAMPLE,
                                                 .agent = { .process_id = process_id, .report = a } });
}
