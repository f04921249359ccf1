/* trust: opens a program to execute only through a path that nobody but root or the
 * daemon's own user can change, checking every step on the descriptor it opened.
 *
 * Why every directory and not just the file: whoever can write a directory on the way
 * can rename what is below it and put something else (or a link to /bin/sh) in its
 * place between any check and the exec. Why descriptors: a check made on a path and an
 * open made later on the same path may see two different files; here each directory
 * is opened relative to the one checked before it, so the chain checked is the chain
 * walked, and the file checked is the descriptor the caller executes. */
#include "trust.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

static enum trust_resolver resolver_choice = TRUST_RESOLVE_AUTO;
static enum trust_resolver resolver_probed = TRUST_RESOLVE_AUTO;

enum trust_resolver trust_set_resolver(enum trust_resolver r)
{
        enum trust_resolver old = resolver_choice;

        resolver_choice = r;
        return old;
}

static long sys_openat2(int dirfd, const char *name, int flags, unsigned long long resolve)
{
        struct open_how how = { .flags = (unsigned long long)flags, .resolve = resolve };

        return syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
}

enum trust_resolver trust_resolver(void)
{
        if (resolver_choice != TRUST_RESOLVE_AUTO)
                return resolver_choice;
        if (resolver_probed == TRUST_RESOLVE_AUTO) {
                /* ENOSYS before 5.6; a seccomp filter may say EPERM or ENOSYS. Anything
                 * but a descriptor means: walk with O_NOFOLLOW instead. */
                long fd = sys_openat2(AT_FDCWD, "/", O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_NO_SYMLINKS);

                if (fd >= 0) {
                        close((int)fd);
                        resolver_probed = TRUST_RESOLVE_OPENAT2;
                } else {
                        resolver_probed = TRUST_RESOLVE_NOFOLLOW;
                }
        }
        return resolver_probed;
}

/* Opens one name (never "." or "..", never holding '/') in dirfd without following a
 * link. With openat2() the kernel refuses a link itself (ELOOP) and RESOLVE_BENEATH
 * keeps the lookup inside dirfd whatever the name; with openat(), O_NOFOLLOW refuses a
 * link as the file (ELOOP), and with O_DIRECTORY as a directory (ENOTDIR). */
static int open_step(int dirfd, const char *name, int flags)
{
        long fd;

        if (trust_resolver() == TRUST_RESOLVE_OPENAT2)
                fd = sys_openat2(dirfd, name, flags,
                                 RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH);
        else
                fd = openat(dirfd, name, flags | O_NOFOLLOW);
        return fd < 0 ? -errno : (int)fd;
}

/* Owner and mode rules shared by directories and the file. */
static int check_owner_mode(const struct stat *st, uid_t owner, const char *what, const char *at, char *why,
                            size_t whysz)
{
        if (st->st_uid != 0 && st->st_uid != owner) {
                snprintf(why, whysz, "%s: owned by uid %u, not by root or leakwatchd's user: that user could "
                         "change what runs as leakwatchd", at, (unsigned)st->st_uid);
                return -EPERM;
        }
        if (st->st_mode & (S_IWGRP | S_IWOTH)) {
                snprintf(why, whysz, "%s: %s writable by %s (mode %04o%s): anyone who can write it can change what "
                         "runs as leakwatchd", at, what,
                         (st->st_mode & S_IWGRP) && (st->st_mode & S_IWOTH) ? "group and others" :
                         st->st_mode & S_IWGRP ? "group" : "others",
                         (unsigned)(st->st_mode & 07777),
                         S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) ?
                                 "; sticky does not stop others from creating names in it" : "");
                return -EPERM;
        }
        return 0;
}

/* Explains a failed step: a link (with where it points, and the real path of the
 * program as a hint), or what open() said. */
static int step_failed(int dirfd, const char *name, const char *at, const char *path, int r, char *why,
                       size_t whysz)
{
        struct stat st;

        if ((r == -ELOOP || r == -ENOTDIR || r == -EXDEV) &&
            fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
                char target[256], real[PATH_MAX];
                ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

                target[n > 0 ? n : 0] = '\0';
                /* Only a hint in a message: what it names is checked like any path. */
                if (!realpath(path, real))
                        snprintf(real, sizeof(real), "?");
                snprintf(why, whysz, "%s: a symbolic link (to %s): hooks are opened without following links; name "
                         "the file by its real path (%s)", at, n > 0 ? target : "?", real);
                return -ELOOP;
        }
        if (r == -ENOTDIR) {
                snprintf(why, whysz, "%s: not a directory", at);
                return r;
        }
        snprintf(why, whysz, "%s: %s", at, strerror(-r));
        return r;
}

int trust_open_program(const char *path, uid_t owner, bool *ret_script, char *why, size_t whysz)
{
        char buf[PATH_MAX], at[PATH_MAX];
        size_t at_len = 0;
        struct stat st;
        char *p, *name, *next;
        int dirfd, fd, r;

        if (!path || path[0] != '/') {
                snprintf(why, whysz, "not an absolute path");
                return -EINVAL;
        }
        if (strlen(path) >= sizeof(buf)) {
                snprintf(why, whysz, "path too long");
                return -ENAMETOOLONG;
        }
        strcpy(buf, path);

        dirfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0 || fstat(dirfd, &st) < 0) {
                r = -errno;
                snprintf(why, whysz, "/: %s", strerror(errno));
                goto fail;
        }
        r = check_owner_mode(&st, owner, "a directory", "/", why, whysz);
        if (r < 0)
                goto fail;

        /* Name by name; repeated slashes are one separator. at is the path up to and
         * including the current name, for messages. */
        at[0] = '\0';
        for (p = buf + 1;; p = next + 1) {
                while (*p == '/')
                        p++;
                name = p;
                next = strchr(p, '/');
                if (next)
                        *next = '\0';
                if (name[0] == '\0') {
                        /* "/" or a trailing slash: a directory, not a program. */
                        snprintf(why, whysz, "%s: not a regular file", path);
                        r = -EINVAL;
                        goto fail;
                }
                if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
                        snprintf(why, whysz, "%s: '%s' in the path: name the program by its plain absolute path", path,
                                 name);
                        r = -EINVAL;
                        goto fail;
                }
                at_len += (size_t)snprintf(at + at_len, sizeof(at) - at_len, "/%s", name);
                if (!next)
                        break;
                /* A directory on the way. */
                fd = open_step(dirfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0) {
                        r = step_failed(dirfd, name, at, path, fd, why, whysz);
                        goto fail;
                }
                if (fstat(fd, &st) < 0) {
                        r = -errno;
                        snprintf(why, whysz, "%s: %s", at, strerror(errno));
                        close(fd);
                        goto fail;
                }
                if (!S_ISDIR(st.st_mode)) {
                        /* openat() with O_PATH | O_NOFOLLOW gives the link itself. */
                        r = step_failed(dirfd, name, at, path, -ENOTDIR, why, whysz);
                        close(fd);
                        goto fail;
                }
                close(dirfd);
                dirfd = fd;
                r = check_owner_mode(&st, owner, "a directory", at, why, whysz);
                if (r < 0)
                        goto fail;
        }

        /* The file: O_NONBLOCK so that a FIFO cannot hold the daemon before fstat()
         * refuses it; O_NOCTTY for a terminal device. */
        fd = open_step(dirfd, name, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                r = step_failed(dirfd, name, at, path, fd, why, whysz);
                goto fail;
        }
        close(dirfd);
        dirfd = -1;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                snprintf(why, whysz, "%s: %s", at, strerror(errno));
                close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(why, whysz, "%s: not a regular file", at);
                close(fd);
                return -EINVAL;
        }
        if (!(st.st_mode & S_IXUSR)) {
                snprintf(why, whysz, "%s: not executable", at);
                close(fd);
                return -EACCES;
        }
        r = check_owner_mode(&st, owner, "a file", at, why, whysz);
        if (r < 0) {
                close(fd);
                return r;
        }
        if (ret_script) {
                char magic[2];

                *ret_script = pread(fd, magic, sizeof(magic), 0) == 2 && magic[0] == '#' && magic[1] == '!';
        }
        return fd;
fail:
        safe_close(dirfd);
        return r;
}
