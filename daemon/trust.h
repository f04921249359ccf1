/* SPDX-License-Identifier: GPL-2.0-or-later */
/* trust: opens a program to execute only through a path that nobody but root or the
 * daemon's own user can change — every directory from / down and the file itself owned
 * by one of them and writable by no one else, no symbolic link anywhere — and checks
 * each step on the descriptor it opened, so what was checked is what runs: the caller
 * executes the descriptor (fexecve), never the path again. */
#ifndef LEAKWATCH_TRUST_H
#define LEAKWATCH_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Room for a reason naming the component at fault (a path) and why. */
#define TRUST_WHY_MAX 512

/* How each step of the walk is opened: openat2() with RESOLVE_NO_SYMLINKS (Linux 5.6
 * and later; the kernel then also refuses magic links and any way out of the
 * directory), or openat() with O_NOFOLLOW where openat2() is missing or filtered. Both
 * refuse a symbolic link at every step. AUTO probes the kernel once. */
enum trust_resolver {
        TRUST_RESOLVE_AUTO,
        TRUST_RESOLVE_OPENAT2,
        TRUST_RESOLVE_NOFOLLOW,
};

/* Chooses the resolver (tests run both); returns the previous choice. */
enum trust_resolver trust_set_resolver(enum trust_resolver r);
/* The resolver in use: OPENAT2 or NOFOLLOW, after probing for AUTO. */
enum trust_resolver trust_resolver(void);

/* Opens path for execution. It must be absolute and plain (no "." or ".."
 * components); each directory on the way is opened relative to the one before without
 * following a link, and must be owned by root or owner and not writable by group or
 * others (a sticky bit does not help: others could still create the name before it
 * exists, or create names beside it); the file must be a regular file with the same
 * owner and mode rules and executable. (The group bits of the mode also carry the
 * mask of a POSIX ACL, so an ACL that lets someone else write is refused too.)
 * Returns a descriptor (O_RDONLY, O_CLOEXEC) and in *ret_script whether the file starts
 * with "#!" (the kernel then runs its interpreter with /dev/fd/N as the script, so the
 * descriptor must stay open across exec). A script's interpreter (and the program a
 * "#!/usr/bin/env NAME" line runs, found in HOOK_ENV_PATH) must pass the same owner and
 * mode rules on every step of its path; links on that path are followed only where
 * they and their directory are trusted, since the kernel opens the interpreter by name.
 * Or -errno with why naming the component and
 * the reason: -EINVAL (not absolute or plain, not a directory or regular file), -ELOOP
 * (a symbolic link), -EPERM (owner or mode), -EACCES (not executable), or what open()
 * said (-ENOENT...). */
int trust_open_program(const char *path, uid_t owner, bool *ret_script, char *why, size_t whysz);

#endif
