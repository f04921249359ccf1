/* SPDX-License-Identifier: GPL-2.0-or-later */
/* objects: the JSON objects of the stable output, built in one place. */
#include "objects.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect.h"
#include "output.h"

int json_add_time(struct json_object *o, const char *key, int64_t ms)
{
        char k[64];
        int r;

        r = json_add(o, key, json_time(ms));
        snprintf(k, sizeof(k), "%s_ms", key);
        if (r == 0)
                r = json_add(o, k, ms ? json_object_new_int64(ms) : NULL);
        return r;
}

static int add_int(struct json_object *o, const char *key, int64_t v)
{
        return json_add(o, key, json_object_new_int64(v));
}

/* An integer, or null for the "none" value. */
static int add_int_or_null(struct json_object *o, const char *key, int64_t v, int64_t none)
{
        return json_add(o, key, v == none ? NULL : json_object_new_int64(v));
}

static int add_state(struct json_object *o, const char *key, const char *state)
{
        return json_add(o, key, state && *state ? json_str(state) : NULL);
}

/* Builds with r accumulating the first failure: each step runs only while r == 0. */
#define ADD(expr) do { if (r == 0) r = (expr); } while (0)

struct json_object *obj_process(const struct query_process *p)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        ADD(add_int(o, "id", p->id));
        ADD(add_int(o, "pid", p->pid));
        ADD(json_add(o, "name", json_text(p->comm, p->comm_len)));
        ADD(json_add(o, "cmdline", json_text(p->cmdline, p->cmdline_len)));
        ADD(json_add(o, "rule", json_str(p->rule)));
        ADD(add_int(o, "rule_id", p->rule_id));
        ADD(add_int(o, "generation", p->generation));
        ADD(json_add(o, "unit", json_str(p->unit)));
        ADD(json_add(o, "cgroup", json_str(p->cgroup)));
        ADD(json_add(o, "boot_id", json_str(p->boot_id)));
        ADD(add_int_or_null(o, "ppid", p->ppid, 0));
        ADD(add_int_or_null(o, "uid", p->uid, -1));
        ADD(add_int_or_null(o, "parent_id", p->parent_id, 0));
        ADD(json_add_time(o, "start", p->start_ms));
        ADD(json_add_time(o, "first_seen", p->first_ms));
        ADD(json_add_time(o, "end", p->end_ms));
        ADD(json_add(o, "end_reason", json_str(p->end_reason)));
        ADD(json_add(o, "running", json_object_new_boolean(p->end_ms == 0)));
        ADD(add_state(o, "state", p->state_memory));
        ADD(add_state(o, "state_fds", p->state_fds));
        ADD(add_int_or_null(o, "alert_id", p->alert_id, 0));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

int obj_add_sample(struct json_object *o, const struct sample *s)
{
        static const enum metric shown[] = { M_RSS, M_ANON, M_FILE, M_SHMEM, M_SWAP, M_FDS, M_THREADS, M_PSS, M_USS };
        bool have = s && s->t_ms;
        double memory;
        int r = 0;

        ADD(json_add_time(o, "sample_time", have ? s->t_ms : 0));
        for (size_t i = 0; i < ELEMENTSOF(shown); i++)
                ADD(json_add(o, metric_info[shown[i]].name,
                             have && sample_has(s, shown[i]) ? json_object_new_int64(s->v[shown[i]]) : NULL));
        ADD(json_add(o, detect_kind_name[DETECT_MEMORY], have && detect_value(s, DETECT_MEMORY, &memory) ?
                     json_object_new_int64((int64_t)memory) : NULL));
        return r;
}

struct json_object *obj_rule(const struct query_rule *rl)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        ADD(add_int(o, "id", rl->id));
        ADD(json_add(o, "name", json_str(rl->name)));
        ADD(json_add(o, "spec", json_str(rl->spec)));
        ADD(json_add_time(o, "first_seen", rl->first_ms));
        ADD(json_add_time(o, "last_seen", rl->last_ms));
        ADD(add_int(o, "processes", rl->processes));
        ADD(add_int(o, "running", rl->live));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *obj_alert(const struct query_alert *a)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        ADD(add_int(o, "id", a->id));
        ADD(add_int_or_null(o, "pid", a->pid, 0));
        ADD(json_add(o, "name", json_text(a->name, a->name_len)));
        ADD(json_add(o, "cmdline", json_text(a->cmdline, a->cmdline_len)));
        ADD(add_int(o, "process_id", a->process_id));
        ADD(json_add(o, "boot_id", a->boot_id[0] ? json_str(a->boot_id) : NULL));
        ADD(json_add(o, "rule", json_str(a->rule)));
        ADD(add_int(o, "rule_id", a->rule_id));
        ADD(json_add(o, "unit", json_str(a->unit)));
        ADD(json_add(o, "metric", json_str(a->metric)));
        ADD(json_add(o, "state", json_str(a->state)));
        ADD(json_add(o, "kind", json_str(a->kind)));
        ADD(json_add(o, "slope", json_num(a->slope)));
        ADD(json_add(o, "slope_low", json_num(a->slope_low)));
        ADD(json_add(o, "slope_high", json_num(a->slope_high)));
        ADD(json_add(o, "growth", json_num(a->growth)));
        ADD(json_add(o, "growth_rel", json_num(a->growth_rel)));
        ADD(json_add(o, "level", json_num(a->level)));
        ADD(json_add(o, "p_value", json_num(a->p_value)));
        ADD(json_add(o, "forecast_s", json_num(a->forecast_s)));
        ADD(json_add(o, "scale_s", json_num(a->scale_s)));
        ADD(json_add(o, "limit_kind", json_str(a->limit_kind)));
        ADD(json_add_time(o, "start", a->start_ms));
        ADD(json_add_time(o, "end", a->end_ms));
        ADD(json_add(o, "end_reason", json_str(a->end_reason)));
        ADD(json_add_time(o, "escalated", a->escalated_ms));
        ADD(json_add_time(o, "evidence_from", a->evidence_from));
        ADD(json_add_time(o, "evidence_to", a->evidence_to));
        ADD(json_add(o, "reason", json_str(a->reason)));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *obj_verdict(const struct query_verdict *v)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        ADD(add_int(o, "id", v->id));
        ADD(add_int_or_null(o, "alert_id", v->alert_id, 0));
        ADD(json_add_time(o, "t", v->t_ms));
        ADD(json_add(o, "metric", json_str(v->metric)));
        ADD(json_add(o, "state", json_str(v->state)));
        ADD(json_add(o, "previous", json_str(v->previous)));
        ADD(json_add(o, "escalated", json_object_new_boolean(v->escalated)));
        ADD(json_add(o, "slope", json_num(v->slope)));
        ADD(json_add(o, "slope_low", json_num(v->slope_low)));
        ADD(json_add(o, "slope_high", json_num(v->slope_high)));
        ADD(json_add(o, "growth", json_num(v->growth)));
        ADD(json_add(o, "growth_rel", json_num(v->growth_rel)));
        ADD(json_add(o, "level", json_num(v->level)));
        ADD(json_add(o, "p_value", json_num(v->p_value)));
        ADD(json_add(o, "forecast_s", json_num(v->forecast_s)));
        ADD(json_add_time(o, "evidence_from", v->evidence_from));
        ADD(json_add_time(o, "evidence_to", v->evidence_to));
        ADD(json_add(o, "reason", json_str(v->reason)));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *obj_hook_run(const struct query_hook_run *h)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        ADD(add_int(o, "id", h->id));
        ADD(add_int_or_null(o, "alert_id", h->alert_id, 0));
        ADD(json_add(o, "event", json_str(h->event)));
        ADD(json_add(o, "program", json_text(h->program, strlen(h->program))));
        ADD(json_add_time(o, "start", h->start_ms));
        ADD(json_add_time(o, "end", h->end_ms));
        ADD(add_int_or_null(o, "exit_code", h->exit_code, -1));
        ADD(add_int_or_null(o, "signal", h->signal, 0));
        ADD(json_add(o, "timed_out", json_object_new_boolean(h->timed_out)));
        ADD(json_add(o, "output", h->output ? json_text(h->output, h->output_len) : NULL));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *obj_restart(const struct query_restart *x)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        ADD(add_int(o, "id", x->id));
        ADD(add_int(o, "alert_id", x->alert_id));
        ADD(json_add_time(o, "t", x->t_ms));
        ADD(json_add(o, "unit", x->unit ? json_text(x->unit, strlen(x->unit)) : NULL));
        ADD(json_add(o, "decision", json_str(x->decision)));
        ADD(json_add(o, "reason", json_text(x->reason, strlen(x->reason))));
        ADD(json_add(o, "detail", x->detail ? json_text(x->detail, strlen(x->detail)) : NULL));
        ADD(json_add_time(o, "answered", x->end_ms));
        ADD(json_add(o, "forecast_s", json_num(x->forecast)));
        ADD(json_add(o, "limit_kind", json_str(x->limit_kind)));
        ADD(json_add(o, "level", json_num(x->level)));
        ADD(json_add(o, "slope", json_num(x->slope)));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

struct json_object *obj_bundle(const struct query_bundle *x)
{
        struct json_object *o = json_object_new_object();
        int r = o ? 0 : -ENOMEM;

        ADD(json_add_time(o, "t", x->t_ms));
        ADD(json_add(o, "event", json_text(x->event, strlen(x->event))));
        ADD(json_add(o, "path", json_text(x->path, strlen(x->path))));
        ADD(add_int(o, "bytes", x->bytes));
        ADD(add_int(o, "files", x->files));
        ADD(json_add(o, "note", x->note ? json_text(x->note, strlen(x->note)) : NULL));
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

void alert_evidence_forecast(const struct query_alert_evidence *e, enum detect_kind m, struct forecast *ret)
{
        forecast_from_rooms(e->room, m, e->slope, e->slope_low, ret);
}

struct json_object *obj_alert_evidence(const struct query_alert_evidence *e, enum detect_kind m)
{
        struct json_object *o, *limits;
        struct forecast f;
        int r;

        o = json_object_new_object();
        limits = json_object_new_object();
        r = o && limits ? 0 : -ENOMEM;
        alert_evidence_forecast(e, m, &f);
        ADD(json_add_time(o, "time", e->t_ms));
        ADD(json_add(o, "cause", json_str(e->cause)));
        ADD(json_add(o, "scale_s", json_num(e->scale)));
        ADD(json_add(o, "slope", json_num(e->slope)));
        ADD(json_add(o, "slope_low", json_num(e->slope_low)));
        ADD(json_add(o, "level", json_num(e->level)));
        ADD(json_add_time(o, "evidence_from", e->evidence_from));
        ADD(json_add_time(o, "evidence_to", e->evidence_to));
        ADD(json_add(o, "reason", json_str(e->reason)));
        for (int k = 0; r == 0 && k < LIMIT__MAX; k++) {
                struct json_object *l;

                if (isnan(f.room[k]))
                        continue;
                l = json_object_new_object();
                r = l ? 0 : -ENOMEM;
                ADD(json_add(l, "room", json_num(f.room[k])));
                /* Never reached at this rate: null, as JSON has no infinity. */
                ADD(json_add(l, "seconds", json_num(f.seconds[k])));
                ADD(json_add(l, "seconds_low", json_num(f.seconds_low[k])));
                if (r == 0)
                        r = json_add(limits, limit_name[k], l);
                else
                        json_object_put(l);
        }
        if (r == 0)
                r = json_add(o, "limits", limits), limits = NULL;
        json_object_put(limits);
        if (r < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* A frame as the agent saw it: its %XX escapes undone (they stand for bytes <= 0x20,
 * 0x7f and '%' only, so the text stays valid UTF-8; JSON escapes the controls). */
static struct json_object *frame_json(const char *f, size_t len)
{
        char buf[AGENT_FRAME_MAX + 1];
        size_t o = 0;

        static const char hex[] = "0123456789ABCDEF";

        for (size_t i = 0; i < len && o < sizeof(buf) - 1; i++) {
                const char *hi = i + 2 < len && f[i] == '%' ? memchr(hex, f[i + 1], 16) : NULL;
                const char *lo = hi ? memchr(hex, f[i + 2], 16) : NULL;

                if (lo) {
                        buf[o++] = (char)((hi - hex) * 16 + (lo - hex));
                        i += 2;
                } else {
                        buf[o++] = f[i];
                }
        }
        return json_object_new_string_len(buf, (int)o);
}

struct json_object *obj_sites(const struct query_site *s, size_t n)
{
        struct json_object *arr = json_object_new_array();
        int r = arr ? 0 : -ENOMEM;

        for (size_t i = 0; r == 0 && i < n; i++) {
                struct json_object *o = json_object_new_object(), *frames = json_object_new_array();
                const char *p = s[i].frames, *end = s[i].frames + s[i].frames_len;

                r = o && frames ? 0 : -ENOMEM;
                while (r == 0 && p < end) {
                        const char *sp = memchr(p, ' ', (size_t)(end - p));
                        size_t len = sp ? (size_t)(sp - p) : (size_t)(end - p);

                        r = json_object_array_add(frames, frame_json(p, len));
                        p += len + 1;
                }
                ADD(json_add(o, "agent", json_str(s[i].agent)));
                ADD(json_add_time(o, "time", s[i].t_ms));
                ADD(add_int(o, "rank", s[i].rank));
                ADD(add_int(o, "live_bytes", s[i].live_bytes));
                ADD(add_int(o, "live_count", s[i].live_count));
                ADD(add_int(o, "growth", s[i].growth));
                if (r == 0)
                        r = json_add(o, "frames", frames), frames = NULL;
                if (r == 0)
                        r = json_object_array_add(arr, o), o = NULL;
                json_object_put(frames);
                json_object_put(o);
        }
        if (r < 0) {
                json_object_put(arr);
                return NULL;
        }
        return arr;
}
