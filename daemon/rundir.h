/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rundir: the daemon's runtime directory — made if it is missing, refused if someone
 * else could change it, and locked for the daemon's life, so that one daemon alone owns
 * the sockets in it.
 *
 * The lock is an exclusive flock(2) on RUNDIR_LOCK_NAME in the directory, held through a
 * close-on-exec descriptor until the daemon exits (the kernel drops it then, however the
 * daemon ends, so a crash leaves nothing to clean up). The file holds the holder's PID,
 * for the message a second daemon gives. A daemon that does not hold the lock never
 * creates, replaces or removes a socket there: the one another daemon is listening on
 * stays where its clients look for it.
 *
 * Trusted means: every directory on the way (symbolic links resolved) and the
 * directory itself owned by root or the daemon's user, none writable by group or others
 * (a parent may be, if it is sticky, as /tmp is: then only an entry's owner may rename
 * it), and the directory itself not a symbolic link. Anyone else who could change it
 * could swap a socket the client trusts, or plant the lock file. */
#ifndef LEAKWATCH_RUNDIR_H
#define LEAKWATCH_RUNDIR_H

#include <stddef.h>
#include <sys/types.h>

#define RUNDIR_LOCK_NAME "leakwatchd.lock"

struct rundir;

/* Opens the runtime directory path (making it, mode 0755, if it is missing: its parent
 * must exist), checks that it is trusted by a daemon running as owner, and takes its
 * lock. Returns 0, or:
 *   -EBUSY   another daemon holds the lock; *ret_holder is its PID (0 if unknown);
 *   -EPERM   the directory, or one above it, is not trusted;
 *   -errno   it could not be made or opened (-ENOENT: no parent; -EACCES; -EROFS...).
 * why says what went wrong, in words, on every failure. */
int rundir_open(const char *path, uid_t owner, struct rundir **ret, pid_t *ret_holder, char *why, size_t whysz);

/* The directory's path with symbolic links resolved: where the sockets go. */
const char *rundir_path(const struct rundir *r);

/* Releases the lock (the file stays: removing it would let a daemon that opened it
 * just before lock an orphan while a third locks a new one). Accepts NULL. */
void rundir_free(struct rundir *r);

#endif
