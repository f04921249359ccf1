/* SPDX-License-Identifier: GPL-2.0-or-later */
/* export: hands what the daemon knows to Prometheus — over HTTP (metrics-listen, or a
 * socket systemd passes as "metrics") and as a node_exporter textfile written
 * atomically (metrics-textfile) — by collecting a snapshot from the sampler, the
 * engine, the writer and the store and rendering it with the metrics module.
 *
 * main makes three calls: export_new() at start, export_tick() after every sampling
 * tick, export_free() at the end. A rendering is kept until the next tick (nothing it
 * shows changes in between), so any number of scrapes per tick costs one rendering
 * per format. The configuration is read through main's pointer at each use, so a
 * reload changes the textfile, the cap and the pid label at once; the endpoint's
 * address is bound once, at start. */
#ifndef LEAKWATCH_EXPORT_H
#define LEAKWATCH_EXPORT_H

#include <stddef.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "dispatch.h"
#include "engine.h"
#include "metrics.h"
#include "sampler.h"
#include "store.h"
#include "util.h"
#include "writer.h"

/* The name a systemd socket unit gives the endpoint's socket (FileDescriptorName=). */
#define EXPORT_SOCKET_NAME "metrics"

struct export;

struct export_env {
        sd_event *event;
        struct config *const *cfg;      /* main's current configuration, followed on reload */
        const struct sampler *sampler;
        const struct engine *engine;
        const struct dispatch *dispatch;        /* hook runs; may be NULL */
        const struct writer *writer;
        struct store *store;            /* for its size only */
};

/* Starts the endpoint if one is configured or passed by systemd (and logs where it
 * serves). Returns 0, or -errno with the reason in err ("cannot listen on
 * 127.0.0.1:9184: Address already in use"); *ret is then not written. */
int export_new(const struct export_env *env, struct export **ret, char *err, size_t errsz);
void export_free(struct export *x);

/* After each tick: notes its cost, keeps the last PSS and USS read (smaps is read only
 * every few ticks), and writes the textfile when it is due. Failures to write are
 * logged, at most once a minute. Accepts NULL. */
void export_tick(struct export *x, usec_t mono, usec_t tick_cost);

/* Renders the current state (cached until the next tick); *ret_text is owned by x and
 * valid until the next call or tick. Returns 0 or -ENOMEM. For the endpoint, the
 * textfile and the benchmark. */
int export_render(struct export *x, enum metrics_format fmt, const char **ret_text, size_t *ret_len);

/* Writes len bytes of text to path atomically: a hidden temporary file in the same
 * directory (".NAME.XXXXXX", which node_exporter ignores), mode 0644, then rename(2),
 * so a reader sees the old file or the new one, never a part. Not synced to disk: a
 * crash may lose the latest file, and the loop never waits for the disk. Returns 0 or
 * -errno; on failure no temporary file is left. */
int export_write_file(const char *path, const char *text, size_t len);

#endif
