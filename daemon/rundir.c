/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rundir: the runtime directory — made safely, checked, and locked for the daemon's life.
 *
 * The way to the directory is walked from / one component at a time through
 * descriptors (openat with O_NOFOLLOW), each checked before the next is opened, so what
 * is checked is what is used: a link swapped in after the check is not followed. The
 * directory is then made (mkdirat) and opened the same way, and the lock file opened
 * relative to it. */
#include "rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* What a new runtime directory is made with, whatever the umask: every local process
 * must reach agent.sock (0666) to report about itself, and nobody else may write there. */
#define RUNDIR_MODE 0755

struct rundir {
        char path[PATH_MAX];
        int lock_fd;
};

/* Whether a directory with status st, at path, may be trusted by a daemon running as
 * owner; last: the runtime directory itself, which may not rely on a sticky bit. */
static bool trusted(const struct stat *st, uid_t owner, bool last, const char *path, char *why, size_t whysz)
{
        if (st->st_uid != 0 && st->st_uid != owner) {
                snprintf(why, whysz, "%s is owned by uid %u, not by root or the daemon's user (uid %u)", path,
                         (unsigned)st->st_uid, (unsigned)owner);
                return false;
        }
        if ((st->st_mode & (S_IWGRP | S_IWOTH)) && (last || !(st->st_mode & S_ISVTX))) {
                snprintf(why, whysz, "%s is writable by %s (mode %04o)", path,
                         st->st_mode & S_IWOTH ? "others" : "its group", (unsigned)(st->st_mode & 07777));
                return false;
        }
        return true;
}

/* Opens the directory at the absolute path dir (no symbolic links in it: realpath()'s
 * result) component by component, checking each. Returns an O_PATH descriptor, or
 * -EPERM (why says which one is not trusted) or -errno. */
static int open_trusted_parent(const char *dir, uid_t owner, char *why, size_t whysz)
{
        char so_far[PATH_MAX] = "/";
        struct stat st;
        const char *p = dir;
        int fd;

        fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;

                snprintf(why, whysz, "cannot open /: %s", strerror(-r));
                safe_close(fd);
                return r;
        }
        if (!trusted(&st, owner, false, so_far, why, whysz)) {
                close(fd);
                return -EPERM;
        }
        for (;;) {
                size_t len;
                char name[NAME_MAX + 1];
                int next;

                while (*p == '/')
                        p++;
                if (!*p)
                        return fd;
                len = strcspn(p, "/");
                if (len > NAME_MAX) {
                        close(fd);
                        snprintf(why, whysz, "a name in %s is too long", dir);
                        return -ENAMETOOLONG;
                }
                memcpy(name, p, len);
                name[len] = '\0';
                p += len;
                /* so_far is a prefix of dir, which fits PATH_MAX. */
                snprintf(so_far + strlen(so_far), sizeof(so_far) - strlen(so_far), "%s%s",
                         strcmp(so_far, "/") == 0 ? "" : "/", name);
                next = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                if (next < 0 || fstat(next, &st) < 0) {
                        int r = -errno;

                        safe_close(next);
                        /* A link here was not there when realpath() looked: someone
                         * is changing the way under us. */
                        snprintf(why, whysz, "cannot open %s: %s", so_far,
                                 r == -ELOOP ? "it became a symbolic link" : strerror(-r));
                        return r == -ELOOP ? -EPERM : r;
                }
                if (!trusted(&st, owner, false, so_far, why, whysz)) {
                        close(next);
                        return -EPERM;
                }
                fd = next;
        }
}

/* Splits path into its parent (resolved: no symbolic links, absolute) and its last
 * name. Returns 0 or -errno with why. */
static int split_path(const char *path, char *parent, char *name, size_t namesz, char *why, size_t whysz)
{
        char copy[PATH_MAX], *slash;
        size_t len = strlen(path);

        /* Room for a "./" in front of a relative name. */
        if (len == 0 || len + 2 >= sizeof(copy)) {
                snprintf(why, whysz, "'%s' is not a usable directory path", path);
                return -EINVAL;
        }
        memcpy(copy, path, len + 1);
        while (len > 1 && copy[len - 1] == '/')
                copy[--len] = '\0';
        slash = strrchr(copy, '/');
        if (!slash) {
                /* A relative name: in the working directory. */
                memmove(copy + 2, copy, len + 1);
                memcpy(copy, "./", 2);
                slash = copy + 1;
        }
        if (!slash[1] || strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0 ||
            strlen(slash + 1) >= namesz) {
                snprintf(why, whysz, "'%s' does not end in a directory name", path);
                return -EINVAL;
        }
        strcpy(name, slash + 1);
        if (slash == copy)
                slash[1] = '\0';        /* "/name": the parent is "/" */
        else
                *slash = '\0';
        if (!realpath(copy, parent)) {
                int r = -errno;

                snprintf(why, whysz, "its parent %s: %s", copy, strerror(-r));
                return r;
        }
        return 0;
}

/* Reads the PID the lock's holder wrote (0 if there is none yet). */
static pid_t holder_of(int fd)
{
        char buf[32];
        ssize_t n = pread_full(fd, buf, sizeof(buf) - 1, 0);
        int64_t pid;

        if (n <= 0)
                return 0;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return parse_int64(buf, 1, INT32_MAX, &pid) == 0 ? (pid_t)pid : 0;
}

int rundir_open(const char *path, uid_t owner, struct rundir **ret, pid_t *ret_holder, char *why, size_t whysz)
{
        char parent[PATH_MAX], name[NAME_MAX + 1], line[32];
        _cleanup_close_ int pfd = -1, dfd = -1, lfd = -1;
        struct rundir *d;
        struct stat st;
        bool made = false;
        int r;

        *ret_holder = 0;
        r = split_path(path, parent, name, sizeof(name), why, whysz);
        if (r < 0)
                return r;
        pfd = open_trusted_parent(parent, owner, why, whysz);
        if (pfd < 0)
                return pfd;
        if (mkdirat(pfd, name, RUNDIR_MODE) == 0)
                made = true;
        else if (errno != EEXIST) {
                r = -errno;
                snprintf(why, whysz, "cannot make it: %s", strerror(-r));
                return r;
        }
        dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0) {
                r = -errno;
                if (r == -ELOOP || r == -ENOTDIR) {
                        /* O_DIRECTORY fails first on a link (ENOTDIR): say which. */
                        bool link = r == -ELOOP || (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                                    S_ISLNK(st.st_mode));

                        snprintf(why, whysz, "it is %s, not a directory", link ? "a symbolic link" : "something else");
                        return -EPERM;
                }
                snprintf(why, whysz, "cannot open it: %s", strerror(-r));
                return r;
        }
        /* The umask may have taken bits the agents need. */
        if (made && fchmod(dfd, RUNDIR_MODE) < 0) {
                r = -errno;
                snprintf(why, whysz, "cannot set its mode: %s", strerror(-r));
                return r;
        }
        if (fstat(dfd, &st) < 0) {
                r = -errno;
                snprintf(why, whysz, "cannot read its status: %s", strerror(-r));
                return r;
        }
        if (!trusted(&st, owner, true, "it", why, whysz))
                return -EPERM;

        /* O_NONBLOCK: whatever is there is never waited on (a FIFO would block open()). */
        lfd = openat(dfd, RUNDIR_LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC, 0644);
        if (lfd < 0) {
                r = -errno;
                snprintf(why, whysz, "cannot open its lock file %s: %s", RUNDIR_LOCK_NAME,
                         r == -ELOOP ? "it is a symbolic link" : strerror(-r));
                return r == -ELOOP ? -EPERM : r;
        }
        if (fstat(lfd, &st) < 0 || !S_ISREG(st.st_mode)) {
                snprintf(why, whysz, "its lock file %s is not a regular file", RUNDIR_LOCK_NAME);
                return -EPERM;
        }
        if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
                r = -errno;
                if (r != -EWOULDBLOCK) {
                        snprintf(why, whysz, "cannot lock %s: %s", RUNDIR_LOCK_NAME, strerror(-r));
                        return r;
                }
                *ret_holder = holder_of(lfd);
                if (*ret_holder)
                        snprintf(why, whysz, "another leakwatchd (pid %d) is using it", (int)*ret_holder);
                else
                        snprintf(why, whysz, "another leakwatchd is using it");
                return -EBUSY;
        }
        snprintf(line, sizeof(line), "%d\n", (int)getpid());
        if (ftruncate(lfd, 0) < 0 || pwrite(lfd, line, strlen(line), 0) != (ssize_t)strlen(line)) {
                r = errno ? -errno : -EIO;
                snprintf(why, whysz, "cannot write %s: %s", RUNDIR_LOCK_NAME, strerror(-r));
                return r;
        }
        d = calloc(1, sizeof(*d));
        if (!d) {
                snprintf(why, whysz, "out of memory");
                return -ENOMEM;
        }
        if ((size_t)snprintf(d->path, sizeof(d->path), "%s%s%s", parent, strcmp(parent, "/") == 0 ? "" : "/",
                             name) >= sizeof(d->path)) {
                free(d);
                snprintf(why, whysz, "its path is too long");
                return -ENAMETOOLONG;
        }
        d->lock_fd = lfd;
        lfd = -1;
        *ret = d;
        return 0;
}

const char *rundir_path(const struct rundir *r)
{
        return r->path;
}

void rundir_free(struct rundir *r)
{
        if (!r)
                return;
        safe_close(r->lock_fd);
        free(r);
}
