/* SPDX-License-Identifier: GPL-2.0-or-later */
/* trace: the files that ask a watched process's agents for its allocation sites.
 *
 * Everything is done relative to a descriptor of the directory, opened without
 * following a link, so a file planted or renamed under RUNDIR cannot redirect a create
 * or a remove elsewhere. A request file is created with O_EXCL and removed by name; its
 * name is the decimal pid, nothing a process controls. */
#include "trace.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

struct trace {
        int dfd;
        char *path;                     /* of the directory, removed with the watch */
        dev_t dev;
        ino_t ino;
        pid_t *on;                      /* files made, sorted */
        size_t n_on, cap_on;
};

static int cmp_pid(const void *x, const void *y)
{
        pid_t a = *(const pid_t *)x, b = *(const pid_t *)y;

        return (a > b) - (a < b);
}

/* A name an earlier run may have left: a pid. */
static bool is_request_name(const char *s)
{
        int64_t pid;

        return parse_int64(s, 1, INT32_MAX, &pid) == 0;
}

/* Removes what an earlier run left: request files only, anything else stays. */
static void clear_stale(int dfd)
{
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (is_request_name(de->d_name))
                        (void)unlinkat(dfd, de->d_name, 0);
        closedir(d);
}

int trace_new(const char *runtime_dir, struct trace **ret)
{
        struct trace *t;
        struct stat st;
        char path[PATH_MAX];
        int r;

        if ((size_t)snprintf(path, sizeof(path), "%s/%s", runtime_dir, TRACE_DIR_NAME) >= sizeof(path))
                return -ENAMETOOLONG;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->dfd = -1;
        if (mkdir(path, 0755) < 0 && errno != EEXIST) {
                r = -errno;
                goto fail;
        }
        t->dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (t->dfd < 0) {
                r = errno == ELOOP ? -ENOTDIR : -errno;
                goto fail;
        }
        if (fstat(t->dfd, &st) < 0) {
                r = -errno;
                goto fail;
        }
        if (st.st_uid != geteuid()) {
                r = -EPERM;
                goto fail;
        }
        /* Agents of every user look into it; only the watch writes (the umask aside). */
        if ((st.st_mode & 07777) != 0755 && fchmod(t->dfd, 0755) < 0) {
                r = -errno;
                goto fail;
        }
        clear_stale(t->dfd);
        t->dev = st.st_dev;
        t->ino = st.st_ino;
        t->path = strdup(path);
        if (!t->path) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = t;
        return 0;
fail:
        if (t->dfd >= 0)
                close(t->dfd);
        free(t->path);
        free(t);
        return r;
}

static int make_file(struct trace *t, pid_t pid)
{
        char name[16];
        int fd;

        snprintf(name, sizeof(name), "%d", (int)pid);
        fd = openat(t->dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0 && errno != EEXIST)
                return -errno;
        if (fd >= 0) {
                (void)fchmod(fd, 0644);         /* whatever the umask */
                close(fd);
        }
        return 0;
}

static int remove_file(struct trace *t, pid_t pid)
{
        char name[16];

        snprintf(name, sizeof(name), "%d", (int)pid);
        return unlinkat(t->dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
}

int trace_sync(struct trace *t, pid_t *want, size_t n)
{
        size_t i = 0, j = 0, k = 0, m = 0;
        int r = 0, q;

        if (n > 1)
                qsort(want, n, sizeof(*want), cmp_pid);
        for (size_t a = 0; a < n; a++)          /* without repeats */
                if (a == 0 || want[a] != want[m - 1])
                        want[m++] = want[a];
        n = m;
        /* Room for the files kept (those a failed removal leaves too) and the new ones. */
        if (n + t->n_on > t->cap_on) {
                pid_t *on = realloc(t->on, (n + t->n_on) * sizeof(*on));

                if (!on)
                        return -ENOMEM;
                t->on = on;
                t->cap_on = n + t->n_on;
        }
        /* Both sorted: one merge. Removals first, so the kept prefix of t->on can be
         * rewritten in place as the new set. */
        while (i < t->n_on) {
                while (j < n && want[j] < t->on[i])
                        j++;
                if (j < n && want[j] == t->on[i])
                        t->on[k++] = t->on[i];
                else if ((q = remove_file(t, t->on[i])) < 0) {
                        t->on[k++] = t->on[i];          /* still there: tried again */
                        r = r ? r : q;
                }
                i++;
        }
        t->n_on = k;
        for (j = 0; j < n; j++) {
                if (k && bsearch(&want[j], t->on, k, sizeof(pid_t), cmp_pid))
                        continue;
                if ((q = make_file(t, want[j])) < 0) {
                        r = r ? r : q;
                        continue;
                }
                t->on[t->n_on++] = want[j];
        }
        if (t->n_on > k)
                qsort(t->on, t->n_on, sizeof(pid_t), cmp_pid);
        return r;
}

const pid_t *trace_pids(const struct trace *t, size_t *ret_n)
{
        *ret_n = t->n_on;
        return t->on;
}

void trace_free(struct trace *t)
{
        struct stat st;

        if (!t)
                return;
        for (size_t i = 0; i < t->n_on; i++)
                (void)remove_file(t, t->on[i]);
        /* The directory too, if it is still ours and empty: a run's private runtime
         * directory is removed after it, and the daemon makes it again at start. */
        if (lstat(t->path, &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
                (void)rmdir(t->path);
        close(t->dfd);
        free(t->on);
        free(t->path);
        free(t);
}
