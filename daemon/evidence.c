/* evidence: a bundle per alert under the state directory, made without following links. */
#include "evidence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "detect.h"
#include "proc.h"
#include "report.h"
#include "svg.h"
#include "util.h"

/* The agent reports looked at for the census and the sites: the last window's worth at
 * the longest. */
#define CENSUS_LOOKBACK_MS (6 * 3600 * 1000LL)
/* The chart: the alert's evidence window and a quarter of it before (how the series
 * ran before it grew), or the last hour when the window is unknown; at most a week,
 * the longest time scale of the detector's bank. */
#define CHART_DEFAULT_MS (3600 * 1000LL)
#define CHART_MAX_MS (7 * 86400 * 1000LL)
/* A range longer than this is drawn from the minute rollups (the floor of each minute)
 * rather than the raw samples: six hours of raw samples at the shortest interval
 * (0.5 s) are 43,200 rows, read in a few milliseconds; a week of them would stall
 * the daemon's loop. */
#define CHART_RAW_MAX_MS (6 * 3600 * 1000LL)
/* The image's size: as `leakwatch plot` draws it by default. */
#define CHART_WIDTH 960
#define CHART_HEIGHT 400
/* A chart whose newest point is older than this before the alert says so: the newest
 * samples were not in the database yet (it refused the commit before the bundle). */
#define CHART_STALE_MS (60 * 1000LL)

struct evidence {
        char *state_dir, *proc_root, *cgroup_root;
        struct store *store;
};

int evidence_new(const char *state_dir, const char *proc_root, const char *cgroup_root, struct store *store,
                 struct evidence **ret)
{
        struct evidence *e = calloc(1, sizeof(*e));

        if (!e)
                return -ENOMEM;
        e->state_dir = strdup(state_dir);
        e->proc_root = strdup(proc_root);
        e->cgroup_root = cgroup_root ? strdup(cgroup_root) : NULL;
        e->store = store;
        if (!e->state_dir || !e->proc_root || (cgroup_root && !e->cgroup_root)) {
                evidence_free(e);
                return -ENOMEM;
        }
        *ret = e;
        return 0;
}

void evidence_free(struct evidence *e)
{
        if (!e)
                return;
        free(e->state_dir);
        free(e->proc_root);
        free(e->cgroup_root);
        free(e);
}

/* ---- the directories ---- */

/* STATE/evidence, made if missing, as a descriptor: only the daemon's user may own it
 * and nobody else may enter it (what a bundle holds — command lines, maps — is as
 * private as the process). Returns the descriptor or -errno with why. */
static int open_evidence_dir(const struct evidence *e, char *why, size_t whysz)
{
        struct stat st;
        int state, dir;

        state = open(e->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (state < 0) {
                snprintf(why, whysz, "cannot open the state directory %s: %s", e->state_dir, strerror(errno));
                return -errno;
        }
        if (fstat(state, &st) < 0 || (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & 022)) {
                snprintf(why, whysz, "the state directory %s is not owned by root or leakwatchd's user, or others "
                         "may write in it", e->state_dir);
                close(state);
                return -EPERM;
        }
        if (mkdirat(state, "evidence", 0700) < 0 && errno != EEXIST) {
                snprintf(why, whysz, "cannot make %s/evidence: %s", e->state_dir, strerror(errno));
                close(state);
                return -errno;
        }
        dir = openat(state, "evidence", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(state);
        if (dir < 0) {
                int r = -errno;

                snprintf(why, whysz, "cannot open %s/evidence%s: %s", e->state_dir,
                         r == -ELOOP || r == -ENOTDIR ? " (not a directory: a symbolic link?)" : "", strerror(-r));
                return r;
        }
        if (fstat(dir, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
                snprintf(why, whysz, "%s/evidence must be owned by leakwatchd's user with mode 0700", e->state_dir);
                close(dir);
                return -EPERM;
        }
        return dir;
}

/* The alert id a bundle's name starts with ("alert-ID-EVENT..."), or -1. */
static int64_t bundle_alert(const char *name)
{
        int64_t id = -1;
        char tail;

        if (sscanf(name, "alert-%" SCNd64 "%c", &id, &tail) != 2 || tail != '-')
                return -1;
        return id;
}

/* The entries of the directory name under at, never through a link; NULL on failure. */
static DIR *dir_entries(int at, const char *name)
{
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;

        if (fd < 0)
                return NULL;
        d = fdopendir(fd);
        if (!d)
                close(fd);
        return d;
}

/* Removes one bundle's files and directory (both ours: made by this module). */
static void remove_bundle(int dir, const char *name)
{
        DIR *d = dir_entries(dir, name);

        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_type == DT_REG)
                        (void)unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        (void)unlinkat(dir, name, AT_REMOVEDIR);
}

/* Keeps at most EVIDENCE_KEEP - 1 bundles, so the one about to be made is the last:
 * the lowest alert ids (the oldest alerts) go first. */
static void prune(int dir)
{
        char oldest[NAME_MAX + 1];
        unsigned n = 0;
        int64_t low = INT64_MAX;
        DIR *d = dir_entries(dir, ".");

        if (!d)
                return;
        for (struct dirent *de; (de = readdir(d));) {
                int64_t id = bundle_alert(de->d_name);

                if (id < 0 || de->d_type != DT_DIR)
                        continue;
                n++;
                if (id < low) {
                        low = id;
                        snprintf(oldest, sizeof(oldest), "%s", de->d_name);
                }
        }
        closedir(d);
        /* One a call: the bound is reached one bundle at a time. */
        if (n >= EVIDENCE_KEEP)
                remove_bundle(dir, oldest);
}

/* ---- the files ---- */

struct bundle {
        int dir;
        uint64_t bytes;
        unsigned files;
        char note[256];
};

static void note(struct bundle *b, const char *what)
{
        size_t o = strlen(b->note);

        if (o < sizeof(b->note) - 1)
                snprintf(b->note + o, sizeof(b->note) - o, "%s%s", o ? "; " : "", what);
}

/* A new file of the bundle. Returns a descriptor or -errno. */
static int create(struct bundle *b, const char *name)
{
        int fd = openat(b->dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

        return fd < 0 ? -errno : fd;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return -errno;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* Writes text as the bundle's file name. */
static int put_text(struct bundle *b, const char *name, const char *text, size_t len)
{
        int fd, r;

        if (b->bytes + len > EVIDENCE_BUNDLE_MAX)
                return -EFBIG;
        fd = create(b, name);
        if (fd < 0)
                return fd;
        r = write_all(fd, text, len);
        close(fd);
        if (r == 0) {
                b->bytes += len;
                b->files++;
        }
        return r;
}

/* Copies srcdir/src into the bundle as name, at most max bytes (and what the bundle has
 * left). Returns 0, -E2BIG if it was cut (the copy is kept), or -errno. */
static int copy(struct bundle *b, int srcdir, const char *src, const char *name, uint64_t max)
{
        char buf[64 * 1024];
        uint64_t left = MIN(max, EVIDENCE_BUNDLE_MAX - b->bytes), done = 0;
        int in, out, r = 0;

        in = openat(srcdir, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return -errno;
        out = create(b, name);
        if (out < 0) {
                close(in);
                return out;
        }
        for (;;) {
                ssize_t n = read(in, buf, (size_t)MIN((uint64_t)sizeof(buf), left - done + 1));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                if (done + (uint64_t)n > left) {
                        n = (ssize_t)(left - done);
                        r = -E2BIG;
                }
                if (n > 0 && write_all(out, buf, (size_t)n) < 0) {
                        r = -errno;
                        break;
                }
                done += (uint64_t)n;
                if (r == -E2BIG)
                        break;
        }
        close(in);
        close(out);
        b->bytes += done;
        b->files++;
        return r;
}

/* The process's own files, through its /proc directory once its start time matches. */
static void take_proc(struct bundle *b, const struct evidence *e, const struct sampler_proc *p)
{
        static const struct {
                const char *name;
                uint64_t max;
        } files[] = {
                { "status", EVIDENCE_FILE_MAX }, { "limits", EVIDENCE_FILE_MAX },
                { "smaps_rollup", EVIDENCE_FILE_MAX }, { "smaps", EVIDENCE_SMAPS_MAX },
                { "cgroup", EVIDENCE_FILE_MAX }, { "oom_score", EVIDENCE_FILE_MAX },
        };
        char path[PATH_MAX], buf[4096], msg[96];
        struct proc_stat st;
        ssize_t n;
        int dir;

        snprintf(path, sizeof(path), "%s/%d", e->proc_root, (int)p->pid);
        dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) {
                note(b, "the process is gone");
                return;
        }
        /* From here every read goes through dir: if the PID is reused after this check,
         * the reads fail (ESRCH) rather than give another process's files. */
        n = proc_read_file(dir, "stat", buf, sizeof(buf));
        if (n < 0 || proc_parse_stat(buf, (size_t)n, &st) < 0 || st.starttime != p->start_ticks) {
                note(b, n < 0 ? "the process is gone" : "its PID now belongs to another process");
                close(dir);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                int r = copy(b, dir, files[i].name, files[i].name, files[i].max);

                if (r == -E2BIG) {
                        snprintf(msg, sizeof(msg), "%s cut at %s", files[i].name,
                                 format_size(files[i].max, buf, sizeof(buf)));
                        note(b, msg);
                } else if (r < 0) {
                        snprintf(msg, sizeof(msg), "%s: %s", files[i].name, strerror(-r));
                        note(b, msg);
                }
        }
        close(dir);
}

/* The cgroup's memory files, relative to the cgroup root, no link followed. */
static void take_cgroup(struct bundle *b, const struct evidence *e, const struct sampler_proc *p)
{
        static const char *const files[] = { "memory.current", "memory.max", "memory.high", "memory.peak",
                                             "memory.stat", "memory.events", "memory.swap.current",
                                             "memory.swap.max", "memory.pressure" };
        char name[64];
        int root, dir;

        if (!e->cgroup_root || !p->cgroup || p->cgroup[0] != '/' || strstr(p->cgroup, "/..") ||
            strstr(p->cgroup, " (deleted)"))
                return;
        root = open(e->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0)
                return;
        dir = p->cgroup[1] ? openat(root, p->cgroup + 1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) :
                             dup(root);
        close(root);
        if (dir < 0) {
                note(b, "its cgroup is gone");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(name, sizeof(name), "cgroup.%s", files[i]);
                /* A file the kernel does not offer here (no memory controller, the root
                 * cgroup) is simply absent. */
                (void)copy(b, dir, files[i], name, EVIDENCE_FILE_MAX);
        }
        close(dir);
}

struct census {
        struct agent_report latest[AGENT__KIND_MAX];
        bool have[AGENT__KIND_MAX];
        /* the newest report of each agent that named allocation sites */
        struct agent_report sites[AGENT__KIND_MAX];
        bool have_sites[AGENT__KIND_MAX];
};

static int census_report(const struct agent_report *a, void *userdata)
{
        struct census *c = userdata;

        if ((unsigned)a->agent >= AGENT__KIND_MAX)
                return 0;
        if (a->n_sites > 0) {
                memcpy(&c->sites[a->agent], a, agent_report_size(a));
                c->have_sites[a->agent] = true;
        }
        /* A Python report with a type count beats a later one without. */
        if (a->agent == AGENT_PYTHON && c->have[AGENT_PYTHON] && a->n_types == 0 &&
            c->latest[AGENT_PYTHON].n_types > 0)
                return 0;
        c->latest[a->agent] = *a;
        c->have[a->agent] = true;
        return 0;
}

static const char *iso_time(int64_t ms, char *buf, size_t sz)
{
        time_t t = (time_t)(ms / 1000);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || !strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm))
                snprintf(buf, sz, "%" PRId64 " ms", ms);
        return buf;
}

/* The latest report of each in-process agent, as text ("census"): the Python agent's
 * collector and heap counts and its count of objects by type (when it made one), the
 * allocator probe's mallinfo2. */
static void put_census(struct bundle *b, const struct census *c)
{
        char text[8192], t[64];
        size_t o = 0;

#define ADD(...) (o += (size_t)snprintf(text + o, o < sizeof(text) ? sizeof(text) - o : 0, __VA_ARGS__))
        for (int k = 0; k < AGENT__KIND_MAX; k++) {
                const struct agent_report *a = &c->latest[k];

                if (!c->have[k])
                        continue;
                ADD("agent %s, report of %s\n", agent_kind_name[k], iso_time(a->t_ms, t, sizeof(t)));
                if (k == AGENT_PYTHON) {
                        ADD("blocks %" PRId64 "\ntraced %" PRId64 "\ntraced_peak %" PRId64 "\ngc_garbage %" PRId64
                            "\nobjects %" PRId64 "\nstride %" PRId64 "\n", a->blocks, a->traced, a->traced_peak,
                            a->gc_garbage, a->objects, a->stride);
                        for (size_t i = 0; i < a->n_types; i++) {
                                char esc[AGENT_TYPE_NAME_MAX * 4 + 1];

                                str_escape(a->types[i].name, strlen(a->types[i].name), esc, sizeof(esc));
                                ADD("type %s %" PRId64 "\n", esc, a->types[i].count);
                        }
                } else {
                        ADD("arena %" PRId64 "\nin_use %" PRId64 "\nfree %" PRId64 "\nmmapped %" PRId64
                            "\nkeepcost %" PRId64 "\n", a->arena, a->in_use, a->free, a->mmapped, a->keepcost);
                }
                ADD("\n");
        }
#undef ADD
        if (o > 0)
                (void)put_text(b, "census", text, MIN(o, sizeof(text) - 1));
}

/* The allocation sites of each agent's newest report that named some ("sites"), by
 * rank: a "site" line with its growth since tracing began and what is live, then its
 * frames innermost first, one "frame" line each. Frames are kept in the agents' wire
 * form (a blank, a control byte or '%' written %XX), escaped once more (str_escape) so
 * no byte a program put in its file names reaches a terminal that shows the file. */
static void put_sites(struct bundle *b, const struct census *c)
{
        /* 10 sites of 8 frames of at most 256 bytes, escaped: some 90 KiB at worst. */
        size_t sz = (size_t)AGENT__KIND_MAX * AGENT_SITES_MAX * (AGENT_SITE_FRAMES_MAX + 1) *
                    (AGENT_FRAME_MAX * 4 + 64);
        char *text = malloc(sz), t[64];
        size_t o = 0;

        if (!text)
                return;
#define ADD(...) (o += (size_t)snprintf(text + o, o < sz ? sz - o : 0, __VA_ARGS__))
        for (int k = 0; k < AGENT__KIND_MAX; k++) {
                const struct agent_report *a = &c->sites[k];

                if (!c->have_sites[k])
                        continue;
                ADD("agent %s, report of %s\n", agent_kind_name[k], iso_time(a->t_ms, t, sizeof(t)));
                for (size_t i = 0; i < a->n_sites; i++) {
                        const char *f = agent_site_frames(a, i), *end = f + strlen(f);

                        ADD("site %zu growth %" PRId64 " live_bytes %" PRId64 " live_count %" PRId64 "\n", i,
                            a->sites[i].growth, a->sites[i].live_bytes, a->sites[i].live_count);
                        while (f < end) {
                                const char *sp = memchr(f, ' ', (size_t)(end - f));
                                size_t len = sp ? (size_t)(sp - f) : (size_t)(end - f);
                                char esc[AGENT_FRAME_MAX * 4 + 1];

                                str_escape(f, MIN(len, (size_t)AGENT_FRAME_MAX), esc, sizeof(esc));
                                ADD("frame %s\n", esc);
                                f += len + 1;
                        }
                }
                ADD("\n");
        }
#undef ADD
        if (o > 0)
                (void)put_text(b, "sites", text, MIN(o, sz - 1));
        free(text);
}

/* What the agents said last: the census and the sites, from one pass over the reports. */
static void take_agents(struct bundle *b, const struct evidence *e, const struct sampler_proc *p, int64_t now_ms)
{
        struct census *c = calloc(1, sizeof(*c));

        if (!c)
                return;
        if (store_for_each_agent_sample(e->store, p->id, now_ms - CENSUS_LOOKBACK_MS, INT64_MAX, census_report, c) < 0)
                note(b, "the agents' reports could not be read");
        put_census(b, c);
        put_sites(b, c);
        free(c);
}

struct chart_fill {
        struct svg_plot *plot;
        enum detect_kind kind;
        int64_t last_ms;
        size_t n;
};

static int chart_point(const struct sample *smp, void *userdata)
{
        struct chart_fill *c = userdata;
        double v;

        if (!detect_value(smp, c->kind, &v))
                return 0;
        svg_add(c->plot, smp->t_ms, v, v);
        c->last_ms = MAX(c->last_ms, smp->t_ms);
        c->n++;
        return 0;
}

/* The chart of the alert's series around it ("chart.svg"): the memory the detector
 * judges (anon + swap) or the descriptors, over the evidence window and a quarter of it
 * before, the trend it measured over the window, the alert shaded from its start. Times
 * in UTC. Written in memory first, then as one file within the bundle's bound. */
static void take_chart(struct bundle *b, const struct evidence *e, const struct sampler_proc *p,
                       const struct alert *a)
{
        const struct detect_evidence *ev = &a->row.ev;
        bool window = isfinite(ev->t_from) && isfinite(ev->t_to) && ev->t_to > ev->t_from;
        int64_t to = a->t_ms + 1, from, w_from = 0, w_to = 0;
        struct svg_plot plot;
        struct chart_fill fill = { .plot = &plot, .kind = a->metric == DETECT_FDS ? DETECT_FDS : DETECT_MEMORY };
        char title[256], sub[256], label[64], t[64];
        char *doc = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (window) {
                w_from = (int64_t)llround(ev->t_from * 1000);
                w_to = (int64_t)llround(ev->t_to * 1000);
                from = w_from - (w_to - w_from) / 4;
        } else {
                from = a->t_ms - CHART_DEFAULT_MS;
        }
        from = MAX(from, to - CHART_MAX_MS);
        if (svg_init(&plot, from, to, CHART_WIDTH, CHART_HEIGHT, fill.kind == DETECT_MEMORY) < 0) {
                note(b, "no chart: out of memory");
                return;
        }
        /* A long range from the minutes, and the raw samples after the last of them
         * (the newest minutes are rolled up at the next fold); a short one raw. */
        r = 0;
        if (to - from > CHART_RAW_MAX_MS)
                r = store_for_each_minute(e->store, p->id, from, to, chart_point, &fill);
        if (r >= 0)
                r = store_for_each_sample(e->store, p->id, fill.n ? fill.last_ms + 60000 : from, to, chart_point,
                                          &fill);
        if (r >= 0 && fill.n == 0) {
                /* An empty picture says nothing the note does not. */
                note(b, "no chart: no samples in the database yet");
                svg_done(&plot);
                return;
        }
        if (r < 0)
                note(b, "the chart's samples could not all be read");
        else if (fill.last_ms < a->t_ms - CHART_STALE_MS)
                note(b, "the chart ends before the alert: the newest samples were not in the database yet");
        svg_set_y_title(&plot, fill.kind == DETECT_FDS ? "open descriptors" : "memory (anon+swap)");
        if (window && isfinite(ev->slope) && isfinite(ev->level))
                svg_set_trend(&plot, ev->slope / 1000, ev->level - ev->slope * (ev->t_to - ev->t_from), w_from, w_to);
        snprintf(label, sizeof(label), "alert %" PRId64, a->row.id);
        svg_add_span(&plot, a->row.start_ms ? a->row.start_ms : a->t_ms, to, label);
        /* Raw bytes: svg_write() escapes them. */
        snprintf(title, sizeof(title), "%s (pid %d) \u2014 %s", a->name ? a->name : "?", (int)a->pid,
                 fill.kind == DETECT_FDS ? "open descriptors" : "memory");
        snprintf(sub, sizeof(sub), "rule %s, alert %" PRId64 " %s at %s%s%s", a->rule ? a->rule : "?", a->row.id,
                 alert_event_name[a->event], iso_time(a->t_ms, t, sizeof(t)), a->row.kind ? ": " : "",
                 a->row.kind ? a->row.kind : "");
        f = open_memstream(&doc, &len);
        if (!f) {
                svg_done(&plot);
                note(b, "no chart: out of memory");
                return;
        }
        r = svg_write(&plot, true, f, title, sub);
        svg_done(&plot);
        if (fclose(f) != 0 || r < 0 || !doc)
                note(b, "no chart: it could not be drawn");
        else if (len > EVIDENCE_FILE_MAX || put_text(b, "chart.svg", doc, len) < 0)
                note(b, "no chart: no room for it");
        free(doc);
}

int evidence_take(struct evidence *e, const struct sampler_proc *p, const struct alert *a,
                  struct evidence_result *ret, char *why, size_t whysz)
{
        struct bundle b = { .dir = -1 };
        char name[96];
        char *json = NULL;
        int dir, r = -EEXIST;

        dir = open_evidence_dir(e, why, whysz);
        if (dir < 0)
                return dir;
        prune(dir);
        /* A new directory, never one that exists: a name taken (a second event of the
         * alert in the same second) gets a number. */
        for (int i = 0; i < 10 && r == -EEXIST; i++) {
                snprintf(name, sizeof(name), "alert-%" PRId64 "-%s-%" PRId64 "%s%.0d", a->row.id,
                         alert_event_name[a->event], a->t_ms / 1000, i ? "-" : "", i);
                r = mkdirat(dir, name, 0700) < 0 ? -errno : 0;
        }
        if (r == 0) {
                b.dir = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                r = b.dir < 0 ? -errno : 0;
        }
        close(dir);
        if (r < 0) {
                snprintf(why, whysz, "cannot make %s/evidence/%s: %s", e->state_dir, name, strerror(-r));
                return r;
        }
        if (alert_json(a, &json) == 0) {
                (void)put_text(&b, "alert.json", json, strlen(json));
                free(json);
        }
        take_proc(&b, e, p);
        take_cgroup(&b, e, p);
        take_agents(&b, e, p, a->t_ms);
        take_chart(&b, e, p, a);
        close(b.dir);
        snprintf(ret->path, sizeof(ret->path), "%s/evidence/%s", e->state_dir, name);
        ret->bytes = b.bytes;
        ret->files = b.files;
        snprintf(ret->note, sizeof(ret->note), "%s", b.note);
        return 0;
}
