/* SPDX-License-Identifier: GPL-2.0-or-later */
/* reap: ends every process a hook run started, when the run ends: a cgroup per run
 * where the daemon can make one, otherwise a reaper process per run (see reap.h). */
#include "reap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* The daemon's leaf when its cgroup is delegated, and the prefixes of what it makes. */
#define LEAF_NAME "leakwatchd"
#define BASE_PREFIX "leakwatchd-"
#define RUN_PREFIX "hook-"
/* /proc/self/mountinfo is a line per mount: thousands on a container host. */
#define MOUNTINFO_MAX (4 * 1024 * 1024)
/* A hook may make cgroups inside its own (as root it can); removed this deep. */
#define RMDIR_DEPTH_MAX 16
/* How long a stale cgroup is given to empty after cgroup.kill, at start: SIGKILL takes
 * effect in microseconds unless a process is stuck in the kernel. */
#define STALE_WAIT_MSEC 1000
/* The reaper gives up finding children it cannot see (no /proc) after this long. */
#define REAPER_BLIND_MSEC 5000

struct reap {
        enum reap_mode mode;
        int base_fd;                    /* where runs' cgroups are made, or -1 */
        int own_fd;                     /* the cgroup base is in (to remove base), or -1 */
        char base_name[32];             /* base's name in own, when the daemon made it */
        unsigned seq;                   /* last run number */
        char desc[PATH_MAX + 384];      /* a reason (up to PATH_MAX + 128) in words */
        char fallback[256];
        bool fallback_pending;
};

/* ---- parsers ---- */

int reap_parse_cgroup(const char *buf, size_t len, char *ret_path, size_t sz)
{
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

                /* cgroup v2 is hierarchy 0 with no controllers: "0::/path". */
                if (n >= 3 && memcmp(p, "0::", 3) == 0) {
                        if (n - 3 == 0 || p[3] != '/' || memchr(p + 3, '\0', n - 3))
                                return -EINVAL;
                        if (n - 3 >= sz)
                                return -ENAMETOOLONG;
                        memcpy(ret_path, p + 3, n - 3);
                        ret_path[n - 3] = '\0';
                        return 0;
                }
                p = nl ? nl + 1 : end;
        }
        return -ENOENT;
}

/* Copies one space-separated field of mountinfo, undoing the kernel's octal escapes
 * of blank, tab, newline and backslash. Returns the length or -1 if it does not fit. */
static int unescape_field(const char *s, size_t n, char *out, size_t sz)
{
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        c = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
                        i += 3;
                }
                if (o + 1 >= sz)
                        return -1;
                out[o++] = c;
        }
        out[o] = '\0';
        return (int)o;
}

int reap_parse_mountinfo(const char *buf, size_t len, const char *path, char *ret_dir, size_t sz)
{
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                const char *f[6], *sep;
                size_t fl[6];
                const char *q = p;
                int nf = 0;

                /* id parent major:minor root mount-point options [optional...] - type source super */
                while (nf < 6 && q < le) {
                        const char *sp = memchr(q, ' ', (size_t)(le - q));

                        f[nf] = q;
                        fl[nf] = (size_t)((sp ? sp : le) - q);
                        nf++;
                        q = sp ? sp + 1 : le;
                }
                /* Optional fields end at a lone "-"; names never hold a raw blank. */
                sep = NULL;
                for (const char *t = q; t + 1 < le; t++)
                        if (t[0] == '-' && t[1] == ' ' && (t == q || t[-1] == ' ')) {
                                sep = t;
                                break;
                        }
                if (nf == 6 && sep && sep + 2 < le && (size_t)(le - (sep + 2)) >= 8 &&
                    memcmp(sep + 2, "cgroup2 ", 8) == 0) {
                        char root[PATH_MAX], mnt[PATH_MAX];
                        size_t rl;

                        if (unescape_field(f[3], fl[3], root, sizeof(root)) < 0 ||
                            unescape_field(f[4], fl[4], mnt, sizeof(mnt)) < 0)
                                return -ENAMETOOLONG;
                        rl = strlen(root);
                        if (rl == 1 && root[0] == '/')
                                rl = 0;
                        /* The mount shows the subtree at root: path must be in it. */
                        if (strncmp(path, root, rl) == 0 && (path[rl] == '/' || path[rl] == '\0')) {
                                const char *rest = path + rl;
                                int n;

                                if (strcmp(rest, "/") == 0)
                                        rest = "";
                                n = snprintf(ret_dir, sz, "%s%s", mnt, rest);
                                if (n < 0 || (size_t)n >= sz)
                                        return -ENAMETOOLONG;
                                return 0;
                        }
                }
                p = nl ? nl + 1 : end;
        }
        return -ENOENT;
}

/* ---- small file helpers ---- */

/* Reads a whole (small, kernel-made) file into a NUL-terminated heap buffer. */
static int read_all(const char *path, size_t max, char **ret, size_t *ret_len)
{
        size_t cap = 4096, len = 0;
        char *buf = NULL;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;

                if (len + 1 >= cap || !buf) {
                        char *nb;

                        if (buf)
                                cap *= 2;
                        if (cap > max) {
                                r = -EFBIG;
                                break;
                        }
                        nb = realloc(buf, cap);
                        if (!nb) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = nb;
                }
                n = read(fd, buf + len, cap - len - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        close(fd);
        if (r < 0) {
                free(buf);
                return r;
        }
        buf[len] = '\0';
        *ret = buf;
        *ret_len = len;
        return 0;
}

static int write_at(int dfd, const char *file, const char *text)
{
        int fd = openat(dfd, file, O_WRONLY | O_CLOEXEC);
        ssize_t n;
        int r = 0;

        if (fd < 0)
                return -errno;
        n = write(fd, text, strlen(text));
        if (n < 0)
                r = -errno;
        else if ((size_t)n != strlen(text))
                r = -EIO;
        close(fd);
        return r;
}

/* 1 if "populated 1" is in the cgroup.events text read from fd, 0 if "populated 0". */
static int events_populated(int fd)
{
        char buf[256];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        const char *p;

        if (n < 0)
                return -errno;
        buf[n] = '\0';
        p = strstr(buf, "populated ");
        if (!p || (p != buf && p[-1] != '\n'))
                return -EINVAL;
        return p[10] == '1';
}

static int populated_at(int dfd, const char *name)
{
        char file[NAME_MAX + 32];
        int fd, r;

        snprintf(file, sizeof(file), "%s/cgroup.events", name);
        fd = openat(dfd, file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = events_populated(fd);
        close(fd);
        return r;
}

static void sleep_msec(long ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Removes the cgroup name in dirfd and every cgroup below it, deepest first (rmdir of
 * a cgroup with children fails). Returns 0 or -errno (-EBUSY: processes remain). */
static int rmdir_tree(int dfd, const char *name, int depth)
{
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (depth < RMDIR_DEPTH_MAX && (d = fdopendir(fd))) {
                while ((de = readdir(d)))
                        if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                                (void)rmdir_tree(dirfd(d), de->d_name, depth + 1);
                closedir(d);
        } else {
                close(fd);
        }
        if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 0;
}

/* Kills everything in the cgroup name (in dirfd), waits up to STALE_WAIT_MSEC for it to
 * empty, and removes it. */
static void kill_and_remove(int dfd, const char *name)
{
        char file[NAME_MAX + 32];

        snprintf(file, sizeof(file), "%s/cgroup.kill", name);
        (void)write_at(dfd, file, "1");
        for (int waited = 0; waited < STALE_WAIT_MSEC && populated_at(dfd, name) > 0; waited += 10)
                sleep_msec(10);
        (void)rmdir_tree(dfd, name, 0);
}

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* Empties and removes cgroups an earlier daemon left: in a delegated cgroup every run
 * cgroup ("hook-N"; the cgroup is this service's alone); elsewhere "leakwatchd-PID"
 * directories whose daemon is gone: no such PID, and no lock held on the directory.
 * The hooks' processes in them would otherwise live on after the daemon that ran them
 * died. */
static void sweep_stale(int own_fd, bool delegated)
{
        int fd = openat(own_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), lock = -1;
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d))) {
                if (de->d_type != DT_DIR)
                        continue;
                if (delegated) {
                        if (strncmp(de->d_name, RUN_PREFIX, strlen(RUN_PREFIX)) != 0 ||
                            !all_digits(de->d_name + strlen(RUN_PREFIX)))
                                continue;
                } else {
                        const char *num = de->d_name + strlen(BASE_PREFIX);
                        long pid;

                        if (strncmp(de->d_name, BASE_PREFIX, strlen(BASE_PREFIX)) != 0 || !all_digits(num) ||
                            strlen(num) > 9)
                                continue;
                        pid = strtol(num, NULL, 10);
                        if (pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                                continue;
                        /* Gone from our PID namespace, but a daemon in another one may
                         * have that number: each holds a lock on its directory. */
                        lock = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
                                safe_close(lock);
                                continue;
                        }
                }
                kill_and_remove(fd, de->d_name);
                lock = safe_close(lock);
        }
        closedir(d);
}

/* ---- setting up ---- */

/* Whether systemd delegated this cgroup to us: it chowns a delegated cgroup to the
 * unit's User= (the shipped unit runs as leakwatch), and marks it with a "delegate"
 * extended attribute (trusted.* readable by root only; user.* by anyone). */
static bool is_delegated(int own_fd, const struct stat *st)
{
        static const char *const attrs[] = { "trusted.delegate", "user.delegate" };

        if (geteuid() != 0 && st->st_uid == geteuid())
                return true;
        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                char v[8];
                ssize_t n = fgetxattr(own_fd, attrs[i], v, sizeof(v) - 1);

                if (n > 0) {
                        v[n] = '\0';
                        if (strcmp(v, "1") == 0)
                                return true;
                }
        }
        return false;
}

/* Finds the daemon's cgroup and prepares where runs' cgroups go. Returns 0 with
 * r->base_fd set, or -errno with why. */
static int setup_cgroups(struct reap *r, char *why, size_t whysz)
{
        char own[PATH_MAX], dir[PATH_MAX], base[PATH_MAX + 64];
        char *text = NULL;
        size_t len;
        struct statfs sfs;
        struct stat st;
        bool delegated;
        int own_fd = -1, base_fd = -1, rr;

        rr = read_all("/proc/self/cgroup", 64 * 1024, &text, &len);
        if (rr < 0) {
                snprintf(why, whysz, "cannot read /proc/self/cgroup: %s", strerror(-rr));
                return rr;
        }
        rr = reap_parse_cgroup(text, len, own, sizeof(own));
        free(text);
        if (rr < 0) {
                snprintf(why, whysz, "no cgroup v2 hierarchy (/proc/self/cgroup has no 0:: line)");
                return rr;
        }
        rr = read_all("/proc/self/mountinfo", MOUNTINFO_MAX, &text, &len);
        if (rr < 0) {
                snprintf(why, whysz, "cannot read /proc/self/mountinfo: %s", strerror(-rr));
                return rr;
        }
        rr = reap_parse_mountinfo(text, len, own, dir, sizeof(dir));
        free(text);
        if (rr < 0) {
                snprintf(why, whysz, "no cgroup2 file system mounted that holds %s", own);
                return rr;
        }
        own_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (own_fd < 0 || fstatfs(own_fd, &sfs) < 0 || fstat(own_fd, &st) < 0) {
                rr = -errno;
                snprintf(why, whysz, "cannot open %s: %s", dir, strerror(errno));
                goto fail;
        }
        if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
                snprintf(why, whysz, "%s is not a cgroup2 file system", dir);
                rr = -ENOTSUP;
                goto fail;
        }

        delegated = is_delegated(own_fd, &st);
        if (delegated) {
                /* Processes only in leaves: the daemon moves into its own, and runs get
                 * cgroups beside it. */
                if (mkdirat(own_fd, LEAF_NAME, 0755) < 0 && errno != EEXIST) {
                        rr = -errno;
                        snprintf(why, whysz, "cannot make %s/" LEAF_NAME ": %s", dir, strerror(errno));
                        goto fail;
                }
                rr = write_at(own_fd, LEAF_NAME "/cgroup.procs", "0");
                if (rr < 0) {
                        snprintf(why, whysz, "cannot move into %s/" LEAF_NAME ": %s", dir, strerror(-rr));
                        goto fail;
                }
                sweep_stale(own_fd, true);
                base_fd = fcntl(own_fd, F_DUPFD_CLOEXEC, 3);
                if (base_fd < 0) {
                        rr = -errno;
                        snprintf(why, whysz, "%s", strerror(errno));
                        goto fail;
                }
                snprintf(base, sizeof(base), "%s", dir);
                own_fd = safe_close(own_fd);
        } else {
                if (sd_booted() > 0 && strcmp(own, "/") != 0) {
                        /* systemd owns this cgroup; what is made in it uninvited may
                         * confuse it (CGROUP_DELEGATION in systemd's documentation). */
                        snprintf(why, whysz, "%s is systemd's and not delegated to leakwatchd (Delegate=yes in the "
                                 "unit)", dir);
                        rr = -EPERM;
                        goto fail;
                }
                sweep_stale(own_fd, false);
                snprintf(r->base_name, sizeof(r->base_name), BASE_PREFIX "%d", (int)getpid());
                if (mkdirat(own_fd, r->base_name, 0755) < 0 && errno != EEXIST) {
                        rr = -errno;
                        snprintf(why, whysz, "cannot make a cgroup in %s: %s", dir, strerror(errno));
                        r->base_name[0] = '\0';
                        goto fail;
                }
                base_fd = openat(own_fd, r->base_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (base_fd < 0) {
                        rr = -errno;
                        snprintf(why, whysz, "cannot open %s/%s: %s", dir, r->base_name, strerror(errno));
                        goto fail;
                }
                /* Held while the daemon lives (the descriptor is not passed on): a
                 * sweeping daemon leaves the directory alone. */
                if (flock(base_fd, LOCK_EX | LOCK_NB) < 0) {
                        rr = -errno;
                        snprintf(why, whysz, "%s/%s is in use by another leakwatchd", dir, r->base_name);
                        r->base_name[0] = '\0';
                        goto fail;
                }
                snprintf(base, sizeof(base), "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, r->base_name);
        }
        /* cgroup.kill exists in every cgroup but the root since Linux 5.14 (a delegated
         * cgroup's own is not the delegatee's to write, but those it makes are). */
        if (faccessat(base_fd, "cgroup.kill", F_OK, 0) < 0) {
                rr = -errno;
                snprintf(why, whysz, "%s has no cgroup.kill (Linux 5.14 and later)", base);
                goto fail;
        }
        r->base_fd = base_fd;
        r->own_fd = own_fd;
        snprintf(r->desc, sizeof(r->desc), "each hook run in a cgroup of its own under %s (emptied with cgroup.kill)",
                 base);
        return 0;
fail:
        safe_close(base_fd);
        if (own_fd >= 0 && r->base_name[0])
                (void)unlinkat(own_fd, r->base_name, AT_REMOVEDIR);
        r->base_name[0] = '\0';
        safe_close(own_fd);
        return rr;
}

int reap_new(enum reap_mode mode, struct reap **ret, char *why, size_t whysz)
{
        struct reap *r = calloc(1, sizeof(*r));
        char cwhy[PATH_MAX + 128] = "";
        int rr;

        if (!r)
                return -ENOMEM;
        r->base_fd = -1;
        r->own_fd = -1;
        r->mode = REAP_PROCESS;
        if (mode != REAP_PROCESS) {
                rr = setup_cgroups(r, cwhy, sizeof(cwhy));
                if (rr >= 0) {
                        r->mode = REAP_CGROUP;
                } else if (mode == REAP_CGROUP) {
                        snprintf(why, whysz, "%s", cwhy);
                        free(r);
                        return rr;
                }
        }
        if (r->mode == REAP_PROCESS)
                snprintf(r->desc, sizeof(r->desc), "each hook run under a reaper process that ends what the hook "
                         "leaves (no cgroup: %s)", mode == REAP_PROCESS ? "not asked for" : cwhy);
        *ret = r;
        return 0;
}

void reap_free(struct reap *r)
{
        if (!r)
                return;
        safe_close(r->base_fd);
        if (r->own_fd >= 0 && r->base_name[0])
                (void)rmdir_tree(r->own_fd, r->base_name, 0);
        safe_close(r->own_fd);
        free(r);
}

enum reap_mode reap_mode(const struct reap *r) { return r->mode; }
const char *reap_describe(const struct reap *r) { return r->desc; }

const char *reap_take_fallback(struct reap *r)
{
        if (!r->fallback_pending)
                return NULL;
        r->fallback_pending = false;
        return r->fallback;
}

void reap_run_init(struct reap_run *run)
{
        *run = (struct reap_run){ .cgroup_fd = -1, .events_fd = -1, .status_fd = -1 };
}

/* ---- the reaper ---- */

/* Sends SIGKILL to each of our children, one generation, found by reading every
 * /proc/PID/stat (the kernel's list of them, /proc/self/task/TID/children, is not in
 * every kernel, and this runs only when a hook has exited). A child is ours until we
 * wait for it, so its PID cannot have been reused. Returns how many. Only system calls
 * and a parser over a buffer: this runs in a forked copy of the daemon. */
static int kill_children(pid_t self)
{
        char path[64], buf[4096];
        int fd, n = 0;
        ssize_t len;

        fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        for (;;) {
                /* getdents64() rather than readdir(), which allocates. */
                char dents[8192] __attribute__((aligned(8)));
                long got = syscall(SYS_getdents64, fd, dents, sizeof(dents));

                if (got <= 0)
                        break;
                for (long off = 0; off < got;) {
                        const struct dirent64 *de = (const void *)(dents + off);
                        struct proc_stat st;
                        long pid;
                        int sfd;

                        off += de->d_reclen;
                        if (de->d_name[0] < '1' || de->d_name[0] > '9')
                                continue;
                        pid = strtol(de->d_name, NULL, 10);
                        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
                        sfd = open(path, O_RDONLY | O_CLOEXEC);
                        if (sfd < 0)
                                continue;
                        len = read(sfd, buf, sizeof(buf) - 1);
                        close(sfd);
                        if (len <= 0 || proc_parse_stat(buf, (size_t)len, &st) < 0)
                                continue;
                        if (st.ppid == self && kill((pid_t)pid, SIGKILL) == 0)
                                n++;
                }
        }
        close(fd);
        return n;
}

/* Kills and reaps every process left below the reaper: each killed child's own
 * children are ours by the time we can wait for it, so generation by generation the
 * run empties. A process cannot fork once SIGKILL is pending for it. */
static void kill_descendants(pid_t self)
{
        int blind_ms = 0;

        for (;;) {
                int killed = kill_children(self);
                pid_t p;

                if (killed > 0) {
                        p = waitpid(-1, NULL, 0);
                } else {
                        p = waitpid(-1, NULL, WNOHANG);
                        if (p == 0) {
                                /* Children we cannot see to kill: wait for them a while. */
                                if (blind_ms >= REAPER_BLIND_MSEC)
                                        return;
                                sleep_msec(10);
                                blind_ms += 10;
                                continue;
                        }
                }
                if (p < 0 && errno == ECHILD)
                        return;
                while (waitpid(-1, NULL, WNOHANG) > 0)
                        ;
        }
}

/* The reaper's life: wait for the hook, passing on the daemon's requests (SIGTERM:
 * ask the hook's group to stop; SIGUSR1: kill it), then end what it left and report
 * its wait status. */
_Noreturn static void reaper_main(pid_t hook, int status_fd)
{
        pid_t self = getpid();
        sigset_t set;
        int status = 0;

        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        for (;;) {
                siginfo_t si;
                pid_t p;
                int s;
                bool done = false;

                while ((p = waitpid(-1, &s, WNOHANG)) > 0)
                        if (p == hook) {
                                status = s;
                                done = true;
                        }
                if (done || (p < 0 && errno == ECHILD))
                        break;
                if (sigwaitinfo(&set, &si) < 0)
                        continue;
                /* The hook is not waited for yet, so its PID (and its group's, once it
                 * called setsid()) is still its own. */
                if (si.si_signo == SIGTERM) {
                        if (kill(-hook, SIGTERM) < 0)
                                (void)kill(hook, SIGTERM);
                } else if (si.si_signo == SIGUSR1) {
                        (void)kill(-hook, SIGKILL);
                        (void)kill(hook, SIGKILL);
                }
        }
        kill_descendants(self);
        (void)!write(status_fd, &status, sizeof(status));
        close(status_fd);
        _exit(0);
}

static int spawn_reaper(struct reap_run *run)
{
        pid_t daemon = getpid(), pid, hook;
        int st[2];
        sigset_t all;

        if (pipe2(st, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;

                close(st[0]);
                close(st[1]);
                return r;
        }
        if (pid > 0) {
                close(st[1]);
                run->status_fd = st[0];
                run->pid = pid;
                return pid;
        }

        /* The reaper. Every signal is blocked and read with sigwaitinfo(); if the
         * daemon dies, SIGUSR1 says to kill the run. */
        close(st[0]);
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        (void)prctl(PR_SET_PDEATHSIG, SIGUSR1);
        if (getppid() != daemon)
                _exit(1);
        (void)prctl(PR_SET_CHILD_SUBREAPER, 1);
        (void)prctl(PR_SET_NAME, "leakwatchd-reap");
        hook = fork();
        if (hook == 0) {
                /* The hook-to-be: the caller execs it. It inherits neither the
                 * subreaper flag nor the death signal. */
                close(st[1]);
                return 0;
        }
        if (hook < 0) {
                /* 127 as from a failed exec, with the reason on no stream: the daemon
                 * logs that the hook exited 127. */
                int status = 127 << 8;

                (void)!write(st[1], &status, sizeof(status));
                close(st[1]);
                _exit(0);
        }
        /* Nothing of the daemon's stays open here: only the status pipe. */
        if (st[1] != 3) {
                if (dup2(st[1], 3) < 0)
                        _exit(1);
        } else {
                (void)fcntl(3, F_SETFD, FD_CLOEXEC);
        }
        close_range(4, ~0U, 0);
        reaper_main(hook, 3);
}

/* ---- cgroup per run ---- */

static void fall_back(struct reap *r, const char *what, int err)
{
        snprintf(r->fallback, sizeof(r->fallback), "%s: %s; from now on each hook run gets a reaper process instead",
                 what, strerror(err));
        r->fallback_pending = true;
        r->mode = REAP_PROCESS;
        snprintf(r->desc, sizeof(r->desc), "each hook run under a reaper process that ends what the hook leaves "
                 "(no cgroup: %s: %s)", what, strerror(err));
}

static int spawn_in_cgroup(struct reap *r, struct reap_run *run)
{
        char pidbuf[16];
        int sync[2], rr;
        ssize_t n;
        pid_t pid;

        /* A run number not in use (one left by this daemon, stuck, is skipped). */
        for (int tries = 0;; tries++) {
                snprintf(run->name, sizeof(run->name), RUN_PREFIX "%u", ++r->seq);
                if (mkdirat(r->base_fd, run->name, 0755) == 0)
                        break;
                if (errno != EEXIST || tries >= 100) {
                        fall_back(r, "cannot make a cgroup for a hook run", errno);
                        run->name[0] = '\0';
                        return spawn_reaper(run);
                }
        }
        run->cgroup_fd = openat(r->base_fd, run->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (run->cgroup_fd >= 0)
                run->events_fd = openat(run->cgroup_fd, "cgroup.events", O_RDONLY | O_CLOEXEC);
        if (run->cgroup_fd < 0 || run->events_fd < 0 || pipe2(sync, O_CLOEXEC) < 0) {
                rr = -errno;
                (void)reap_run_done(r, run);
                return rr;
        }
        pid = fork();
        if (pid < 0) {
                rr = -errno;
                close(sync[0]);
                close(sync[1]);
                (void)reap_run_done(r, run);
                return rr;
        }
        if (pid == 0) {
                char go;

                /* Wait, before doing anything, until the daemon has moved us into the
                 * run's cgroup: what we start from here on is born there. */
                close(sync[1]);
                do
                        n = read(sync[0], &go, 1);
                while (n < 0 && errno == EINTR);
                if (n != 1)
                        _exit(127);
                close(sync[0]);
                return 0;
        }
        close(sync[0]);
        snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
        rr = write_at(run->cgroup_fd, "cgroup.procs", pidbuf);
        if (rr < 0) {
                /* The child has done nothing yet: end it and run the hook the other way. */
                close(sync[1]);
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                (void)reap_run_done(r, run);
                fall_back(r, "cannot move a hook into its cgroup", -rr);
                return spawn_reaper(run);
        }
        (void)!write(sync[1], "g", 1);
        close(sync[1]);
        run->pid = pid;
        return pid;
}

int reap_spawn(struct reap *r, struct reap_run *run)
{
        reap_run_init(run);
        if (r->mode == REAP_CGROUP)
                return spawn_in_cgroup(r, run);
        return spawn_reaper(run);
}

/* ---- a run's life ---- */

int reap_run_signal(struct reap_run *run, int sig)
{
        if (run->pid <= 0)
                return -ESRCH;
        if (run->status_fd >= 0)
                /* The reaper passes SIGTERM on to the hook's group. */
                return kill(run->pid, sig == SIGTERM ? SIGTERM : SIGUSR1) < 0 ? -errno : 0;
        return kill(-run->pid, sig) < 0 && kill(run->pid, sig) < 0 ? -errno : 0;
}

int reap_run_kill(struct reap_run *run)
{
        if (run->cgroup_fd >= 0)
                return write_at(run->cgroup_fd, "cgroup.kill", "1");
        if (run->status_fd >= 0 && run->pid > 0)
                return kill(run->pid, SIGUSR1) < 0 ? -errno : 0;
        return -ESRCH;
}

int reap_run_populated(struct reap_run *run)
{
        if (run->events_fd < 0)
                return 0;
        return events_populated(run->events_fd);
}

int reap_run_status(struct reap_run *run, int *ret_status)
{
        int status;
        ssize_t n;

        if (run->status_fd < 0)
                return -ENODATA;
        n = read(run->status_fd, &status, sizeof(status));
        if (n != (ssize_t)sizeof(status))
                return -ENODATA;
        *ret_status = status;
        return 0;
}

int reap_run_done(struct reap *r, struct reap_run *run)
{
        int rr = 0;

        run->events_fd = safe_close(run->events_fd);
        run->cgroup_fd = safe_close(run->cgroup_fd);
        run->status_fd = safe_close(run->status_fd);
        if (run->name[0] && r->base_fd >= 0) {
                rr = rmdir_tree(r->base_fd, run->name, 0);
                run->name[0] = '\0';
        }
        return rr;
}
