/* SPDX-License-Identifier: GPL-2.0-or-later */
/* agent: the socket in-process agents report to, and the report format.
 *
 * Each datagram costs a recvmsg, a binary search among the watched processes, a token
 * bucket and (for a watched process within its rate) a parse of at most 8 KiB: the
 * order puts the cheap refusals first. The watched set is a sorted snapshot of the
 * sampler's processes, taken again at most every AGENT_SNAPSHOT_USEC when reports
 * arrive; each entry carries its process's token bucket across snapshots. A flood from
 * any number of senders is bounded by a global budget: past it the socket is paused for
 * a moment and the kernel's queue (net.unix.max_dgram_qlen datagrams) makes further
 * non-blocking senders fail with EAGAIN, which the agents treat as "drop this report". */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* The watched set is looked at again at most this often: a process starts being watched
 * within a scan interval anyway, and its agent reports every few seconds at most. */
#define AGENT_SNAPSHOT_USEC (500 * USEC_PER_MSEC)
/* Datagrams read per wake-up before the event loop gets its turn (a tick may be due). */
#define AGENT_BATCH 64
/* All senders together: 2000 datagrams a second is 200 processes at the fastest
 * allowed agent-interval (100 ms), and a bound on the daemon's CPU spent on them
 * whatever any number of local processes send. Past it the socket is paused this long
 * (the kernel's queue then refuses senders, who drop their report). */
#define AGENT_GLOBAL_RATE 2000.0
#define AGENT_PAUSE_USEC (100 * USEC_PER_MSEC)
/* Messages about dropped or malformed reports: at most one per this interval. */
#define AGENT_LOG_USEC (10 * 60 * USEC_PER_SEC)
/* Counts and sizes in a report: below 10^18, so sums and differences of a few of them
 * stay far from overflowing an int64_t. */
#define VALUE_DIGITS_MAX 18

struct bucket {
        double tokens;
        usec_t last;
};

struct watched {
        pid_t pid;
        int64_t id;
        size_t slot;
        struct bucket b;
        int64_t last_ms[AGENT__KIND_MAX];        /* time given to its last report of each agent */
};

struct agent {
        struct agent_env env;
        double rate;                    /* reports per second per process */
        int fd;
        char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
        dev_t dev;
        ino_t ino;
        sd_event_source *io, *resume;
        struct watched *w;
        size_t n_w, cap_w;
        usec_t snapshot_at;
        bool snapshot_valid;
        struct bucket global;
        struct ratelimit log_invalid, log_unwatched;
        struct agent_stats stats;
};

/* ---- the report format ---- */

/* A decimal count: digits only, no sign, at most VALUE_DIGITS_MAX of them. */
static int parse_value(const char *s, int64_t *ret)
{
        int64_t v = 0;
        size_t n = 0;

        for (; s[n]; n++) {
                if (s[n] < '0' || s[n] > '9' || n >= VALUE_DIGITS_MAX)
                        return -EBADMSG;
                v = v * 10 + (s[n] - '0');
        }
        if (n == 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* Splits a line in place at single spaces into at most max words. Returns the count,
 * or -EBADMSG for an empty word (two spaces, a leading or trailing one). */
static int split(char *line, char **words, int max)
{
        int n = 0;

        for (char *p = line;;) {
                char *sp = strchr(p, ' ');

                if (n == max || (sp == p) || !*p)
                        return -EBADMSG;
                words[n++] = p;
                if (!sp)
                        return n;
                *sp = '\0';
                p = sp + 1;
        }
}

static int parse_values(char **words, int n, int64_t *out, int want)
{
        if (n != want + 1)
                return -EBADMSG;
        for (int i = 0; i < want; i++)
                if (parse_value(words[i + 1], &out[i]) < 0)
                        return -EBADMSG;
        return 0;
}

/* A type name: printable UTF-8 without blanks, as the agents write it. */
static bool type_name_valid(const char *s)
{
        size_t len = strlen(s);

        if (len == 0 || len > AGENT_TYPE_NAME_MAX || !utf8_valid(s, len))
                return false;
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
                        return false;
        return true;
}

/* A frame token: 1 to AGENT_FRAME_MAX bytes, bytes <= 0x20, 0x7f and '%' escaped as
 * %XX (uppercase hex) and nothing else escaped, so each frame has one spelling; valid
 * UTF-8 (the escaped bytes are ASCII, so the token's validity is the frame's). */
static bool frame_valid(const char *s, size_t len)
{
        static const char hex[] = "0123456789ABCDEF";

        if (len == 0 || len > AGENT_FRAME_MAX || !utf8_valid(s, len))
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                const char *hi, *lo;
                unsigned v;

                if (c == '%') {
                        if (i + 2 >= len)
                                return false;
                        hi = s[i + 1] ? strchr(hex, s[i + 1]) : NULL;
                        lo = s[i + 2] ? strchr(hex, s[i + 2]) : NULL;
                        if (!hi || !lo)
                                return false;
                        v = (unsigned)(hi - hex) * 16 + (unsigned)(lo - hex);
                        if (!(v <= 0x20 || v == 0x7f || v == '%'))
                                return false;
                        i += 2;
                } else if (c <= 0x20 || c == 0x7f) {
                        return false;
                }
        }
        return true;
}

enum key {
        K_AGENT, K_GC_ENABLED, K_GC_THRESHOLD, K_GC_COUNT, K_GC_COLLECTIONS, K_GC_COLLECTED, K_GC_UNCOLLECTABLE,
        K_GC_GARBAGE, K_BLOCKS, K_TRACED, K_OBJECTS, K_TYPE, K_MALLINFO2, K_SITE, K__MAX
};

static const char *const key_name[K__MAX] = {
        [K_AGENT] = "agent", [K_GC_ENABLED] = "gc.enabled", [K_GC_THRESHOLD] = "gc.threshold",
        [K_GC_COUNT] = "gc.count", [K_GC_COLLECTIONS] = "gc.collections", [K_GC_COLLECTED] = "gc.collected",
        [K_GC_UNCOLLECTABLE] = "gc.uncollectable", [K_GC_GARBAGE] = "gc.garbage", [K_BLOCKS] = "blocks",
        [K_TRACED] = "traced", [K_OBJECTS] = "objects", [K_TYPE] = "type", [K_MALLINFO2] = "mallinfo2",
        [K_SITE] = "site",
};

#define MAGIC "leakwatch-agent 1\n"
#define MAGIC2 "leakwatch-agent 2\n"

static int bad(const char **ret_why, const char *why)
{
        if (ret_why)
                *ret_why = why;
        return -EBADMSG;
}

/* One "key values..." line into a; seen: the keys met so far. */
/* A site line's words (w[0] is "site") into the next site of a. */
static int parse_site(char **w, int n, struct agent_report *a, const char **ret_why)
{
        struct agent_site *site;
        int64_t v[3];
        size_t o;

        if (a->version < 2)
                return bad(ret_why, "a site line in a version 1 report");
        if (n < 5)
                return bad(ret_why, "a site without frames");
        if (n > 4 + AGENT_SITE_FRAMES_MAX)
                return bad(ret_why, "a site with too many frames");
        if (a->n_sites == AGENT_SITES_MAX)
                return bad(ret_why, "too many sites");
        for (int i = 0; i < 3; i++)
                if (parse_value(w[i + 1], &v[i]) < 0)
                        return bad(ret_why, "bad site values");
        if (a->n_sites > 0 && v[2] > a->sites[a->n_sites - 1].growth)
                return bad(ret_why, "sites not sorted by growth");
        o = a->site_text_len;
        site = &a->sites[a->n_sites];
        /* Field by field over zeros: a copy of the report compares equal byte for byte. */
        memset(site, 0, sizeof(*site));
        site->live_bytes = v[0];
        site->live_count = v[1];
        site->growth = v[2];
        site->n_frames = (uint16_t)(n - 4);
        site->off = (uint16_t)o;
        for (int i = 4; i < n; i++) {
                size_t len = strlen(w[i]);

                if (!frame_valid(w[i], len))
                        return bad(ret_why, "bad site frame");
                /* The frames came from a report of at most AGENT_MSG_MAX bytes: they fit. */
                if (i > 4)
                        a->site_text[o++] = ' ';
                memcpy(a->site_text + o, w[i], len);
                o += len;
        }
        a->site_text[o] = '\0';
        site->len = (uint16_t)(o - site->off);
        a->site_text_len = o + 1;
        a->n_sites++;
        return 0;
}

static int parse_line(char *line, struct agent_report *a, unsigned *seen, const char **ret_why)
{
        char *w[4 + AGENT_SITE_FRAMES_MAX + 1];
        int64_t v[5];
        int n, k;

        n = split(line, w, (int)ELEMENTSOF(w));
        if (n < 2)
                return bad(ret_why, "a line without a value");
        for (k = 0; k < K__MAX; k++)
                if (strcmp(w[0], key_name[k]) == 0)
                        break;
        if (k == K__MAX)
                return bad(ret_why, "unknown key");
        if (k != K_TYPE && k != K_SITE && (*seen & (1u << k)))
                return bad(ret_why, "a key given twice");
        if (k != K_SITE && (*seen & (1u << K_SITE)))
                return bad(ret_why, "a key after the sites");
        if (k != K_AGENT && !(*seen & (1u << K_AGENT)))
                return bad(ret_why, "the agent line must come first");
        *seen |= 1u << k;
        /* Each agent sends its own keys only. */
        if (k != K_AGENT && k != K_SITE && (k == K_MALLINFO2) != (a->agent == AGENT_MALLOC))
                return bad(ret_why, "a key of the other agent");
        switch (k) {
        case K_AGENT:
                if (n != 2)
                        return bad(ret_why, "bad agent line");
                if (strcmp(w[1], "python") == 0)
                        a->agent = AGENT_PYTHON;
                else if (strcmp(w[1], "malloc") == 0)
                        a->agent = AGENT_MALLOC;
                else
                        return bad(ret_why, "unknown agent");
                return 0;
        case K_GC_ENABLED:
                if (parse_values(w, n, v, 1) < 0 || v[0] > 1)
                        return bad(ret_why, "bad gc.enabled");
                a->gc_enabled = (int)v[0];
                return 0;
        case K_GC_THRESHOLD:
        case K_GC_COUNT:
        case K_GC_COLLECTIONS:
        case K_GC_COLLECTED:
        case K_GC_UNCOLLECTABLE: {
                int64_t *dst = k == K_GC_THRESHOLD ? a->gc_threshold : k == K_GC_COUNT ? a->gc_count :
                               k == K_GC_COLLECTIONS ? a->gc_collections : k == K_GC_COLLECTED ? a->gc_collected :
                               a->gc_uncollectable;

                if (parse_values(w, n, v, 3) < 0)
                        return bad(ret_why, "bad per-generation values");
                memcpy(dst, v, 3 * sizeof(*dst));
                return 0;
        }
        case K_GC_GARBAGE:
        case K_BLOCKS:
                if (parse_values(w, n, v, 1) < 0)
                        return bad(ret_why, "bad count");
                *(k == K_BLOCKS ? &a->blocks : &a->gc_garbage) = v[0];
                return 0;
        case K_TRACED:
                if (parse_values(w, n, v, 2) < 0 || v[1] < v[0])
                        return bad(ret_why, "bad traced line");
                a->traced = v[0];
                a->traced_peak = v[1];
                return 0;
        case K_OBJECTS:
                if (parse_values(w, n, v, 2) < 0 || v[1] < 1)
                        return bad(ret_why, "bad objects line");
                a->objects = v[0];
                a->stride = v[1];
                return 0;
        case K_TYPE:
                if (!(*seen & (1u << K_OBJECTS)))
                        return bad(ret_why, "a type before the objects line");
                if (n != 3 || !type_name_valid(w[1]) || parse_value(w[2], &v[0]) < 0)
                        return bad(ret_why, "bad type line");
                if (a->n_types == AGENT_TYPES_MAX)
                        return bad(ret_why, "too many types");
                for (size_t i = 0; i < a->n_types; i++)
                        if (strcmp(a->types[i].name, w[1]) == 0)
                                return bad(ret_why, "a type given twice");
                snprintf(a->types[a->n_types].name, sizeof(a->types[0].name), "%s", w[1]);
                a->types[a->n_types++].count = v[0];
                return 0;
        case K_SITE:
                return parse_site(w, n, a, ret_why);
        case K_MALLINFO2:
                if (parse_values(w, n, v, 5) < 0)
                        return bad(ret_why, "bad mallinfo2 line");
                a->arena = v[0];
                a->in_use = v[1];
                a->free = v[2];
                a->mmapped = v[3];
                a->keepcost = v[4];
                return 0;
        default:
                return bad(ret_why, "unknown key");
        }
}

int agent_parse(const char *buf, size_t len, struct agent_report *ret, const char **ret_why)
{
        char text[AGENT_MSG_MAX + 1];
        struct agent_report a;
        unsigned seen = 0;
        int version;
        char *p;

        if (len > AGENT_MSG_MAX)
                return bad(ret_why, "too long");
        /* Both magics have the same length. */
        if (len >= strlen(MAGIC) && memcmp(buf, MAGIC, strlen(MAGIC)) == 0)
                version = 1;
        else if (len >= strlen(MAGIC2) && memcmp(buf, MAGIC2, strlen(MAGIC2)) == 0)
                version = 2;
        else
                return bad(ret_why, "not a version 1 or 2 report");
        if (memchr(buf, '\0', len) || buf[len - 1] != '\n')
                return bad(ret_why, "a NUL byte or an unterminated line");
        memcpy(text, buf, len);
        text[len] = '\0';
        agent_report_init(&a);
        a.version = version;
        for (p = text + strlen(MAGIC); *p;) {
                char *nl = strchr(p, '\n');
                int r;

                /* Every key but type and site may come once, and those are capped: a
                 * report has at most 38 lines, whatever its length. */
                *nl = '\0';
                r = parse_line(p, &a, &seen, ret_why);
                if (r < 0)
                        return r;
                p = nl + 1;
        }
        if (!(seen & (1u << K_AGENT)))
                return bad(ret_why, "no agent line");
        if (a.agent == AGENT_PYTHON &&
            (seen & ((1u << K_BLOCKS) | (1u << K_GC_ENABLED) | (1u << K_GC_COUNT))) !=
                    ((1u << K_BLOCKS) | (1u << K_GC_ENABLED) | (1u << K_GC_COUNT)))
                return bad(ret_why, "a python report needs gc.enabled, gc.count and blocks");
        if (a.agent == AGENT_MALLOC && !(seen & (1u << K_MALLINFO2)))
                return bad(ret_why, "a malloc report needs mallinfo2");
        memcpy(ret, &a, agent_report_size(&a));
        return 0;
}

int agent_format(const struct agent_report *a, char *buf, size_t sz)
{
        size_t o = 0;

#define OUT(...) do { if (o < sz) o += (size_t)snprintf(buf + o, sz - o, __VA_ARGS__); } while (0)
#define GEN(key, v) do { if ((v)[0] >= 0) OUT(key " %" PRId64 " %" PRId64 " %" PRId64 "\n", (v)[0], (v)[1], (v)[2]); } while (0)
        OUT("%s" "agent %s\n", a->version >= 2 ? MAGIC2 : MAGIC, agent_kind_name[a->agent]);
        if (a->agent == AGENT_MALLOC) {
                OUT("mallinfo2 %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 "\n", a->arena, a->in_use,
                    a->free, a->mmapped, a->keepcost);
        } else {
                OUT("gc.enabled %d\n", a->gc_enabled);
                GEN("gc.threshold", a->gc_threshold);
                GEN("gc.count", a->gc_count);
                GEN("gc.collections", a->gc_collections);
                GEN("gc.collected", a->gc_collected);
                GEN("gc.uncollectable", a->gc_uncollectable);
                if (a->gc_garbage >= 0)
                        OUT("gc.garbage %" PRId64 "\n", a->gc_garbage);
                OUT("blocks %" PRId64 "\n", a->blocks);
                if (a->traced >= 0)
                        OUT("traced %" PRId64 " %" PRId64 "\n", a->traced, a->traced_peak);
                if (a->objects >= 0) {
                        OUT("objects %" PRId64 " %" PRId64 "\n", a->objects, a->stride);
                        for (size_t i = 0; i < a->n_types; i++)
                                OUT("type %s %" PRId64 "\n", a->types[i].name, a->types[i].count);
                }
        }
        for (size_t i = 0; a->version >= 2 && i < a->n_sites; i++)
                OUT("site %" PRId64 " %" PRId64 " %" PRId64 " %s\n", a->sites[i].live_bytes, a->sites[i].live_count,
                    a->sites[i].growth, agent_site_frames(a, i));
#undef GEN
#undef OUT
        return o < sz ? (int)o : -E2BIG;
}

/* ---- rate limits ---- */

static bool bucket_take(struct bucket *b, double rate, double burst, usec_t now)
{
        if (now > b->last)
                b->tokens = MIN(burst, b->tokens + (double)(now - b->last) / 1e6 * rate);
        b->last = MAX(b->last, now);
        if (b->tokens < 1)
                return false;
        b->tokens -= 1;
        return true;
}

/* ---- the watched set ---- */

struct snapshot {
        struct watched *w;
        size_t n, cap;
        bool oom;
};

static void collect(void *userdata, const struct sampler_proc *p, const struct sample *last UNUSED)
{
        struct snapshot *s = userdata;

        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 64;
                struct watched *n = realloc(s->w, cap * sizeof(*n));

                if (!n) {
                        s->oom = true;
                        return;
                }
                s->w = n;
                s->cap = cap;
        }
        s->w[s->n++] = (struct watched){ .pid = p->pid, .id = p->id, .slot = p->slot };
}

static int cmp_watched(const void *x, const void *y)
{
        const struct watched *a = x, *b = y;

        return (a->pid > b->pid) - (a->pid < b->pid);
}

static struct watched *find(struct watched *w, size_t n, pid_t pid)
{
        struct watched key = { .pid = pid };

        return n ? bsearch(&key, w, n, sizeof(*w), cmp_watched) : NULL;
}

/* Takes the sampler's watched processes again; buckets stay with their process. */
static void refresh(struct agent *a, usec_t now)
{
        struct snapshot s = { 0 };

        a->snapshot_at = now;
        if (!a->env.sampler)
                return;
        sampler_for_each(a->env.sampler, collect, &s);
        if (s.oom) {
                free(s.w);
                return;         /* keep the old set */
        }
        if (s.n > 1)
                qsort(s.w, s.n, sizeof(*s.w), cmp_watched);
        for (size_t i = 0; i < s.n; i++) {
                struct watched *old = find(a->w, a->n_w, s.w[i].pid);

                if (old && old->id == s.w[i].id) {
                        s.w[i].b = old->b;
                        memcpy(s.w[i].last_ms, old->last_ms, sizeof(old->last_ms));
                } else {
                        s.w[i].b = (struct bucket){ .tokens = AGENT_BURST, .last = now };
                }
        }
        free(a->w);
        a->w = s.w;
        a->n_w = s.n;
        a->cap_w = s.cap;
        a->snapshot_valid = true;
}

/* ---- receiving ---- */

static int64_t wall_of(const struct agent *a, usec_t mono)
{
        return a->env.anchor_real_ms + (int64_t)((mono - a->env.anchor_mono) / USEC_PER_MSEC);
}

static void handle_at(struct agent *a, pid_t pid, const char *buf, size_t len, usec_t now)
{
        struct agent_report s;
        struct watched *w;
        const char *why = NULL;
        unsigned suppressed;

        a->stats.received++;
        if (!a->snapshot_valid || now >= a->snapshot_at + AGENT_SNAPSHOT_USEC)
                refresh(a, now);
        w = pid > 0 ? find(a->w, a->n_w, pid) : NULL;
        if (!w) {
                /* Normal for a program run with the agent but matched by no rule. */
                a->stats.unwatched++;
                if (ratelimit_allow(&a->log_unwatched, now, &suppressed))
                        log_debug("agent report from pid %d, which is not watched: dropped (%u more not shown)",
                                  (int)pid, suppressed);
                return;
        }
        if (!bucket_take(&w->b, a->rate, AGENT_BURST, now)) {
                a->stats.rate_limited++;
                return;
        }
        if (agent_parse(buf, len, &s, &why) < 0) {
                a->stats.invalid++;
                if (ratelimit_allow(&a->log_invalid, now, &suppressed))
                        log_notice("agent report from pid %d refused: %s (%u more refusals not shown)", (int)pid, why,
                                   suppressed);
                return;
        }
        /* A report's time is the key of its row. Reports read in one wake-up share now,
         * and two sent within a millisecond would share it anyway: each gets the
         * millisecond after the previous report of its process and agent at the
         * least, so none takes another's place. The rate bounds the shift: a burst of
         * AGENT_BURST reports moves the last one AGENT_BURST - 1 ms. */
        s.t_ms = MAX(wall_of(a, now), w->last_ms[s.agent] + 1);
        w->last_ms[s.agent] = s.t_ms;
        a->stats.stored++;
        if (a->env.report)
                a->env.report(a->env.userdata, w->slot, w->id, &s);
}

void agent_handle(struct agent *a, pid_t pid, const char *buf, size_t len, usec_t now)
{
        handle_at(a, pid, buf, len, now);
}

static int on_resume(sd_event_source *s UNUSED, uint64_t usec UNUSED, void *userdata)
{
        struct agent *a = userdata;

        (void)sd_event_source_set_enabled(a->io, SD_EVENT_ON);
        return 0;
}

/* Stops reading for a moment: the global budget is spent. */
static void pause_reading(struct agent *a, usec_t now)
{
        a->stats.deferred++;
        (void)sd_event_source_set_enabled(a->io, SD_EVENT_OFF);
        if (!a->resume) {
                if (sd_event_add_time(a->env.event, &a->resume, CLOCK_MONOTONIC, now + AGENT_PAUSE_USEC,
                                      USEC_PER_MSEC, on_resume, a) < 0)
                        (void)sd_event_source_set_enabled(a->io, SD_EVENT_ON);
                return;
        }
        (void)sd_event_source_set_time(a->resume, now + AGENT_PAUSE_USEC);
        (void)sd_event_source_set_enabled(a->resume, SD_EVENT_ONESHOT);
}

/* Reads one datagram. Returns 1 if one was handled, 0 if none was waiting, -errno. */
static int receive_one(struct agent *a, usec_t now)
{
        char buf[AGENT_MSG_MAX + 1];
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 8)];
        } ctl;
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof(ctl) };
        pid_t pid = 0;
        ssize_t n;

        n = recvmsg(a->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? 0 : -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred))) {
                        struct ucred uc;

                        memcpy(&uc, CMSG_DATA(c), sizeof(uc));
                        pid = uc.pid;
                } else if (c->cmsg_type == SCM_RIGHTS) {
                        /* Nobody asked for descriptors: close what a sender pushed on us. */
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                        for (size_t i = 0; i < k; i++) {
                                int fd;

                                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
                                safe_close(fd);
                        }
                }
        }
        if (!bucket_take(&a->global, AGENT_GLOBAL_RATE, AGENT_GLOBAL_RATE, now)) {
                a->stats.received++;
                a->stats.rate_limited++;
                pause_reading(a, now);
                return 0;
        }
        if ((size_t)n > AGENT_MSG_MAX || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || pid <= 0) {
                a->stats.received++;
                a->stats.invalid++;
                return 1;
        }
        handle_at(a, pid, buf, (size_t)n, now);
        return 1;
}

static int on_readable(sd_event_source *s UNUSED, int fd UNUSED, uint32_t revents UNUSED, void *userdata)
{
        struct agent *a = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (int i = 0; i < AGENT_BATCH; i++) {
                int r = receive_one(a, now);

                if (r <= 0) {
                        if (r < 0)
                                log_warning("agent socket %s: %s, ignoring", a->path, strerror(-r));
                        break;
                }
        }
        return 0;
}

/* ---- the socket ---- */

/* A socket left at path by an earlier run is removed; a live one (another daemon with
 * the same runtime directory) or anything that is not a socket is left alone. */
static int clear_stale(const char *path, const struct sockaddr_un *sa)
{
        struct stat st;
        int fd, r;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISSOCK(st.st_mode))
                return -EEXIST;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
        r = r == 0 ? -EADDRINUSE : errno == ECONNREFUSED ? 0 : -errno;
        close(fd);
        if (r == 0 && unlink(path) < 0 && errno != ENOENT)
                r = -errno;
        return r;
}

static double rate_of(const struct config *cfg)
{
        return cfg->agent_interval > 0 ? 1.0 / cfg->agent_interval : 1.0;
}

int agent_new(const struct agent_env *env, const struct config *cfg, struct agent **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct agent *a;
        struct stat st;
        int one = 1, r;

        if (strlen(env->runtime_dir) + 1 + strlen(AGENT_SOCKET_NAME) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->env = *env;
        a->fd = -1;
        a->rate = rate_of(cfg);
        a->global = (struct bucket){ .tokens = AGENT_GLOBAL_RATE, .last = now_usec(CLOCK_MONOTONIC) };
        a->log_invalid = (struct ratelimit)RATELIMIT_INIT(AGENT_LOG_USEC, 1);
        a->log_unwatched = (struct ratelimit)RATELIMIT_INIT(AGENT_LOG_USEC, 1);
        snprintf(a->path, sizeof(a->path), "%s/%s", env->runtime_dir, AGENT_SOCKET_NAME);
        memcpy(sa.sun_path, a->path, strlen(a->path) + 1);

        /* Run by hand, the default /run/leakwatch may not exist (systemd creates it). */
        if (mkdir(env->runtime_dir, 0755) < 0 && errno != EEXIST) {
                r = -errno;
                goto fail;
        }
        r = clear_stale(a->path, &sa);
        if (r < 0)
                goto fail;
        a->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (a->fd < 0) {
                r = -errno;
                goto fail;
        }
        if (bind(a->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            /* Any process may report about itself (see agent.h). */
            chmod(a->path, 0666) < 0 || lstat(a->path, &st) < 0 ||
            setsockopt(a->fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
                r = -errno;
                goto fail;
        }
        a->dev = st.st_dev;
        a->ino = st.st_ino;
        if (env->event) {
                r = sd_event_add_io(env->event, &a->io, a->fd, EPOLLIN, on_readable, a);
                if (r < 0)
                        goto fail;
        }
        *ret = a;
        return 0;
fail:
        agent_free(a);
        return r;
}

void agent_free(struct agent *a)
{
        struct stat st;

        if (!a)
                return;
        sd_event_source_disable_unref(a->io);
        sd_event_source_disable_unref(a->resume);
        if (a->fd >= 0) {
                /* Only our own socket: a daemon started since may have replaced it. */
                if (lstat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
                        (void)unlink(a->path);
                close(a->fd);
        }
        free(a->w);
        free(a);
}

void agent_reconfigure(struct agent *a, const struct config *cfg)
{
        if (a)
                a->rate = rate_of(cfg);
}

void agent_get_stats(const struct agent *a, struct agent_stats *ret)
{
        *ret = a->stats;
}
