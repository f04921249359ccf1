/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tmpdir: removes a test's scratch directory and everything it left there. */
#pragma once

#define _GNU_SOURCE 1
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int tmpdir_remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* The directory made with mkdtemp() and all below it (databases, -wal and -shm files,
 * sockets, fixture trees), depth first, never following a link out of it. 0, or -1
 * when something could not be removed. */
static inline int tmpdir_remove(const char *dir)
{
        /* 16 descriptors: deeper trees are walked with fewer kept open, not refused. */
        return nftw(dir, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
