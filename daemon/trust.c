/* SPDX-License-Identifier: GPL-2.0-or-later */
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

#include "proto.h"
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

/* ---- a script's interpreter ----
 *
 * The kernel runs a script's interpreter by the path on its "#!" line, not from a
 * descriptor: a root-owned hook starting "#!/home/bob/venv/bin/python" would run as
 * leakwatchd whatever bob put there. So the interpreter's path must be as trusted as
 * the hook's. It is walked by name: interpreters are commonly reached through links
 * (/bin is a link to usr/bin on Debian, /usr/bin/python3 to python3.11), which are
 * followed only where they lie in a trusted directory and are owned by root or the
 * daemon's user, so nobody else can change them either; no step can be changed by
 * another user between this walk and the exec. */

/* The kernel reads this much of a script to find its interpreter (BINPRM_BUF_SIZE). */
#define SHEBANG_MAX 256
/* Interpreters that are scripts themselves: the kernel follows at most this many. */
#define INTERP_DEPTH_MAX 4
/* Links followed while walking one path, the kernel's own limit (MAXSYMLINKS). */
#define INTERP_LINKS_MAX 40

static int check_interpreter(const char *path, uid_t owner, int depth, char *why, size_t whysz);

/* Names the script and the interpreter in front of why a step of its path was refused. */
static int interpreter_refused(const char *at, const char *interp, int r, char *why, size_t whysz)
{
        char inner[TRUST_WHY_MAX];

        snprintf(inner, sizeof(inner), "%s", why);
        snprintf(why, whysz, "%s: its interpreter %s: %s", at, interp, inner);
        return r;
}

/* Checks the interpreter named by the script open at fd, if it is one, and the program
 * "/usr/bin/env NAME" (or "env -S NAME ...") would run: NAME looked up in HOOK_ENV_PATH,
 * the hook's PATH, as env will. at names the script for messages. */
static int check_script(int fd, const char *at, uid_t owner, int depth, char *why, size_t whysz)
{
        char line[SHEBANG_MAX + 1], interp[SHEBANG_MAX + 1], name[SHEBANG_MAX + 1];
        char *p, *arg, *slash;
        size_t len;
        ssize_t n;
        int r;

        n = pread(fd, line, SHEBANG_MAX, 0);
        if (n < 2 || line[0] != '#' || line[1] != '!')
                return 0;
        line[n] = '\0';
        line[strcspn(line, "\n")] = '\0';
        p = line + 2;
        p += strspn(p, " \t");
        len = strcspn(p, " \t");
        if (len == 0) {
                snprintf(why, whysz, "%s: its #! line names no interpreter", at);
                return -ENOEXEC;
        }
        if (depth >= INTERP_DEPTH_MAX) {
                snprintf(why, whysz, "%s: interpreters nested more than %d deep", at, INTERP_DEPTH_MAX);
                return -ELOOP;
        }
        memcpy(interp, p, len);
        interp[len] = '\0';
        r = check_interpreter(interp, owner, depth + 1, why, whysz);
        if (r < 0)
                return interpreter_refused(at, interp, r, why, whysz);

        /* env: the program it runs is found by name, in the hook's PATH. */
        slash = strrchr(interp, '/');
        if (strcmp(slash ? slash + 1 : interp, "env") != 0)
                return 0;
        arg = p + len;
        arg += strspn(arg, " \t");
        if (strncmp(arg, "-S", 2) == 0 && (arg[2] == ' ' || arg[2] == '\t')) {
                arg += 2;
                arg += strspn(arg, " \t");
        }
        if (arg[0] == '\0')
                return 0;               /* env alone runs nothing */
        if (arg[0] == '-') {
                snprintf(why, whysz, "%s: '#!%s %s': options of env other than -S are not followed; name the "
                         "interpreter by its absolute path", at, interp, arg);
                return -EINVAL;
        }
        len = strcspn(arg, " \t");
        memcpy(name, arg, len);
        name[len] = '\0';
        if (strchr(name, '=')) {
                snprintf(why, whysz, "%s: '#!%s %s': env with variables is not followed; name the interpreter by "
                         "its absolute path", at, interp, arg);
                return -EINVAL;
        }
        if (name[0] == '/') {
                r = check_interpreter(name, owner, depth + 1, why, whysz);
                return r < 0 ? interpreter_refused(at, name, r, why, whysz) : 0;
        }
        if (strchr(name, '/')) {
                snprintf(why, whysz, "%s: '#!%s %s': a relative path", at, interp, name);
                return -EINVAL;
        }
        for (const char *dir = HOOK_ENV_PATH; *dir;) {
                size_t dlen = strcspn(dir, ":");
                char cand[PATH_MAX];
                struct stat st;

                if (snprintf(cand, sizeof(cand), "%.*s/%s", (int)dlen, dir, name) < (int)sizeof(cand) &&
                    stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
                        r = check_interpreter(cand, owner, depth + 1, why, whysz);
                        return r < 0 ? interpreter_refused(at, cand, r, why, whysz) : 0;
                }
                dir += dlen;
                if (*dir == ':')
                        dir++;
        }
        return 0;                       /* env will fail to find it: nothing runs */
}

/* Walks an interpreter's absolute path name by name, following links only in trusted
 * directories (see above), and checks the file as trust_open_program() checks a hook,
 * then what it names if it is a script itself. */
static int check_interpreter(const char *path, uid_t owner, int depth, char *why, size_t whysz)
{
        char cur[PATH_MAX] = "", rest[PATH_MAX], next[PATH_MAX], comp[NAME_MAX + 1];
        unsigned links = 0;
        struct stat st;
        int r;

        if (path[0] != '/') {
                snprintf(why, whysz, "not an absolute path");
                return -EINVAL;
        }
        if (strlen(path) >= sizeof(rest)) {
                snprintf(why, whysz, "path too long");
                return -ENAMETOOLONG;
        }
        strcpy(rest, path);
        if (stat("/", &st) < 0) {
                r = -errno;
                snprintf(why, whysz, "/: %s", strerror(-r));
                return r;
        }
        r = check_owner_mode(&st, owner, "a directory", "/", why, whysz);
        if (r < 0)
                return r;
        for (;;) {
                char *p = rest + strspn(rest, "/");
                size_t len = strcspn(p, "/"), cur_len = strlen(cur);
                bool last;

                if (len == 0) {
                        snprintf(why, whysz, "a directory, not a program");
                        return -EINVAL;
                }
                if (len > NAME_MAX) {
                        snprintf(why, whysz, "a name too long");
                        return -ENAMETOOLONG;
                }
                memcpy(comp, p, len);
                comp[len] = '\0';
                p += len;
                last = p[strspn(p, "/")] == '\0';
                memmove(rest, p, strlen(p) + 1);
                if (strcmp(comp, ".") == 0)
                        continue;
                if (strcmp(comp, "..") == 0) {
                        /* Up to a directory already checked on the way down. */
                        char *s = strrchr(cur, '/');

                        if (s)
                                *s = '\0';
                        continue;
                }
                if (cur_len + 1 + len >= sizeof(cur)) {
                        snprintf(why, whysz, "path too long");
                        return -ENAMETOOLONG;
                }
                cur[cur_len] = '/';
                memcpy(cur + cur_len + 1, comp, len + 1);
                if (lstat(cur, &st) < 0) {
                        r = -errno;
                        snprintf(why, whysz, "%s: %s", cur, strerror(errno));
                        return r;
                }
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n;

                        /* Its directory is trusted; the link itself must be too. */
                        if (st.st_uid != 0 && st.st_uid != owner) {
                                snprintf(why, whysz, "%s: a link owned by uid %u, not by root or "
                                         "leakwatchd's user", cur, (unsigned)st.st_uid);
                                return -EPERM;
                        }
                        if (++links > INTERP_LINKS_MAX) {
                                snprintf(why, whysz, "too many links");
                                return -ELOOP;
                        }
                        n = readlink(cur, target, sizeof(target) - 1);
                        if (n <= 0) {
                                r = n < 0 ? -errno : -EINVAL;
                                snprintf(why, whysz, "%s: %s", cur, n < 0 ? strerror(-r) : "an empty link");
                                return r;
                        }
                        target[n] = '\0';
                        if (snprintf(next, sizeof(next), "%s/%s", target, rest) >= (int)sizeof(next)) {
                                snprintf(why, whysz, "path too long");
                                return -ENAMETOOLONG;
                        }
                        strcpy(rest, next);
                        /* An absolute target starts again at /; a relative one in the
                         * link's directory. */
                        if (target[0] == '/')
                                cur[0] = '\0';
                        else
                                cur[cur_len] = '\0';
                        continue;
                }
                if (!last) {
                        if (!S_ISDIR(st.st_mode)) {
                                snprintf(why, whysz, "%s: not a directory", cur);
                                return -ENOTDIR;
                        }
                        r = check_owner_mode(&st, owner, "a directory", cur, why, whysz);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!S_ISREG(st.st_mode)) {
                        snprintf(why, whysz, "%s: not a regular file", cur);
                        return -EINVAL;
                }
                if (!(st.st_mode & 0111)) {
                        snprintf(why, whysz, "%s: not executable", cur);
                        return -EACCES;
                }
                r = check_owner_mode(&st, owner, "a file", cur, why, whysz);
                if (r < 0)
                        return r;
                break;
        }
        /* An interpreter that is a script runs its own interpreter. */
        {
                int fd = open(cur, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

                if (fd < 0) {
                        r = -errno;
                        snprintf(why, whysz, "%s: %s", cur, strerror(errno));
                        return r;
                }
                r = check_script(fd, cur, owner, depth, why, whysz);
                close(fd);
                return r;
        }
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
        r = check_script(fd, at, owner, 0, why, whysz);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
fail:
        safe_close(dirfd);
        return r;
}
