/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sql-migrations: the schema files of sql/, compiled in by tools/embed-sql.sh. */
#ifndef LEAKWATCH_SQL_MIGRATIONS_H
#define LEAKWATCH_SQL_MIGRATIONS_H

struct sql_migration {
        unsigned version;       /* PRAGMA user_version after this file ran */
        const char *name;       /* file name without .sql, for messages */
        const char *sql;        /* the statements; "-- step: NAME" lines run C steps
                                 * (store.c, migration_steps) between them */
};

/* In ascending version order, without gaps. */
extern const struct sql_migration sql_migrations[];
extern const unsigned sql_migrations_count;

#endif
