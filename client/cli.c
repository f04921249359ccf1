/* SPDX-License-Identifier: GPL-2.0-or-later */
/* cli: what every subcommand of the client shares — the database handle, errors in
 * words and exit codes. */
#include "cli.h"

#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "live.h"

int cli_error(int code, const char *fmt, ...)
{
        va_list ap;

        fflush(stdout);
        fputs("leakwatch: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return code;
}

/* "uid 0 (root), group 996 (leakwatch)" for a message about who may read a file. */
static void describe_owner(const struct stat *st, char *buf, size_t sz)
{
        struct passwd *pw = getpwuid(st->st_uid);
        struct group *gr = getgrgid(st->st_gid);

        snprintf(buf, sz, "owner %s, group %s, mode %04o", pw ? pw->pw_name : "?", gr ? gr->gr_name : "?",
                 (unsigned)(st->st_mode & 07777));
}

/* The first directory on the way to path that the caller may not enter, into buf.
 * Returns false if every one can be entered. */
static bool blocked_dir(const char *path, char *buf, size_t sz)
{
        char copy[PATH_MAX];
        size_t len = strlen(path);

        if (len >= sizeof(copy))
                return false;
        memcpy(copy, path, len + 1);
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (access(copy, X_OK) < 0 && errno == EACCES) {
                        snprintf(buf, sz, "%s", copy);
                        return true;
                }
                *p = '/';
        }
        return false;
}

/* Checks what can be checked before SQLite tries, for an error that names the file. */
static int precheck(const char *path)
{
        char dir[PATH_MAX], who[160], wal[PATH_MAX];
        struct stat st;

        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        return cli_error(EXIT_NODB, "database %s does not exist (leakwatchd creates it when it "
                                         "first runs; --db PATH or $LEAKWATCH_DB reads another)", path);
                if (errno == EACCES && blocked_dir(path, dir, sizeof(dir)))
                        return cli_error(EXIT_NODB, "permission denied: cannot enter directory %s on the way to %s "
                                         "(run as root, or copy the database and use --db)", dir, path);
                return cli_error(EXIT_NODB, "cannot read database %s: %s", path, strerror(errno));
        }
        if (!S_ISREG(st.st_mode))
                return cli_error(EXIT_NODB, "database %s is not a regular file", path);
        if (access(path, R_OK) < 0) {
                describe_owner(&st, who, sizeof(who));
                return cli_error(EXIT_NODB, "permission denied: cannot read database %s (%s); run as root or as a "
                                 "member of its group", path, who);
        }
        if ((size_t)snprintf(wal, sizeof(wal), "%s-wal", path) < sizeof(wal) && stat(wal, &st) == 0 &&
            access(wal, R_OK) < 0) {
                describe_owner(&st, who, sizeof(who));
                return cli_error(EXIT_NODB, "permission denied: cannot read the database's log %s (%s)", wal, who);
        }
        return EXIT_OK;
}

int cli_open_db(struct cli *c)
{
        char err[512], dir[PATH_MAX];
        int r;

        if (!c->db_given && !c->db_daemon) {
                struct live_status s;

                /* The database the running daemon writes, which need not be the default. */
                live_status_get(c, &s);
                (void)live_take_database(c, &s);
                live_status_clear(&s);
        }
        r = precheck(c->db_path);
        if (r != EXIT_OK)
                return r;
        r = query_open(c->db_path, &c->q, err, sizeof(err));
        switch (r) {
        case 0:
                return EXIT_OK;
        case -EBADMSG:
                return cli_error(EXIT_NODB, "%s is not a leakwatch database: %s", c->db_path, err);
        case -EPROTO:
                return cli_error(EXIT_NODB, "%s: %s; a newer leakwatch wrote it", c->db_path, err);
        case -EROFS:
        case -EACCES:
                snprintf(dir, sizeof(dir), "%s", c->db_path);
                /* A database in WAL mode is read through its -shm file, which a reader
                 * must be able to open or create; without a running daemon it is gone. */
                return cli_error(EXIT_NODB, "cannot read database %s: %s (a reader needs its -shm file, which "
                                 "only exists while leakwatchd runs, or write access to %s to create it: run as "
                                 "root, or copy the database with its -wal file elsewhere and use --db)",
                                 c->db_path, err, dirname(dir));
        case -EBUSY:
                return cli_error(EXIT_FAIL, "database %s is locked: %s", c->db_path, err);
        default:
                return cli_error(EXIT_NODB, "cannot open database %s: %s", c->db_path, err);
        }
}

void cli_done(struct cli *c)
{
        query_close(c->q);
        c->q = NULL;
}

int cli_query_error(struct cli *c, int r, const char *what)
{
        if (r == -ENOMEM)
                return cli_error(EXIT_FAIL, "%s: out of memory", what);
        return cli_error(r == -EBADMSG ? EXIT_NODB : EXIT_FAIL, "%s: %s (%s)", what, strerror(-r),
                         c->q ? query_errmsg(c->q) : "no database");
}

void cli_range(const struct cli *c, int64_t def_from, int64_t def_to, int64_t *ret_from, int64_t *ret_to)
{
        *ret_from = c->since_ms ? c->since_ms : def_from;
        *ret_to = c->until_ms ? c->until_ms : def_to;
}
