/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for watch: the loop both programs run, on simulated tick times over the real
 * /proc — this test process watched under the built-in rule, its samples committed at
 * the commit interval, folded on the fold's grid and not before, the housekeeping held
 * back while another writer locks the database and resumed after it recovers, and a
 * new database refused when the file exists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "raw.h"
#include "settings.h"
#include "watch.h"
#include "tmpdir.h"

#define INTERVAL 1.0
/* core/watch.c: a fold every 64 ticks at most. */
#define FOLD_TICKS 64

struct fixture {
        char dir[64], db[128];
        struct config cfg;
        struct watch *w;
        usec_t t0;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        char err[256];

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-watch-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->db, sizeof(f->db), "%s/lw.db", f->dir);
        assert_int_equal(config_defaults(&f->cfg), 0);
        free(f->cfg.db_path);
        f->cfg.db_path = strdup(f->db);
        f->cfg.interval = f->cfg.scan_interval = f->cfg.commit_interval = INTERVAL;
        f->cfg.window = 60;
        assert_int_equal(config_add_manual_rule(&f->cfg), 0);
        assert_int_equal(watch_new(&(struct watch_env){ .cfg = &f->cfg, .self = -1 }, &f->w, err, sizeof(err)), 0);
        assert_int_equal(watch_pid(f->w, getpid(), CONFIG_MANUAL_RULE, 0, false, NULL), 0);
        f->t0 = watch_next_tick(f->w);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        watch_free(f->w);
        config_free(&f->cfg);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static int64_t rows(const struct fixture *f, const char *table)
{
        char sql[64];
        int64_t n = -1;

        /* Folded samples are counted in their blocks. */
        if (strcmp(table, "sample") == 0)
                snprintf(sql, sizeof(sql), "SELECT coalesce(sum(n), 0) FROM sample_block");
        else if (strcmp(table, "sample_batch") == 0)
                snprintf(sql, sizeof(sql), "SELECT coalesce(sum(n), 0) FROM sample_batch");
        else
                snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
        assert_int_equal(store_raw_int64(f->db, sql, &n), 0);
        return n;
}

static void tick(struct fixture *f, unsigned k, struct watch_report *rep)
{
        watch_tick(f->w, f->t0 + (usec_t)k * (usec_t)(INTERVAL * USEC_PER_SEC), rep);
}

/* Each tick samples and commits (commit-interval is the interval here); the first tick
 * runs the retention pass; the fold waits for its grid, 64 ticks, and then moves the
 * samples of the whole minutes before it. */
static void test_commits_and_folds_on_the_grid(void **state)
{
        struct fixture *f = *state;
        struct watch_report rep;

        tick(f, 0, &rep);
        assert_true(rep.maintained);
        assert_int_equal(rep.maintain_error, 0);
        assert_false(rep.folded);
        for (unsigned k = 1; k < FOLD_TICKS; k++) {
                tick(f, k, &rep);
                assert_true(rep.committed);
                assert_int_equal(rep.commit_error, 0);
                assert_false(rep.folded);
                assert_false(rep.maintained);
        }
        assert_int_equal(rows(f, "sample_batch"), FOLD_TICKS);
        assert_int_equal(rows(f, "sample"), 0);
        tick(f, FOLD_TICKS, &rep);
        assert_true(rep.folded);
        assert_int_equal(rep.fold_error, 0);
        /* 64 s of samples hold at least one minute's edge. */
        assert_true(rep.folded_rows > 0);
        assert_int_equal(rows(f, "sample"), rep.folded_rows);
        /* The next fold is a grid step away. */
        tick(f, FOLD_TICKS + 1, &rep);
        assert_false(rep.folded);
}

/* Another writer holds the database: commits fail and keep the rows, and the fold that
 * is due waits; once the lock is gone the backlog is written and the fold runs. */
static void test_holds_back_while_the_database_fails(void **state)
{
        struct fixture *f = *state;
        struct watch_report rep;
        struct store *other;
        unsigned k;

        for (k = 0; k < FOLD_TICKS - 2; k++)
                tick(f, k, &rep);
        assert_int_equal(store_open(f->db, STORE_RW, &other, NULL, 0), 0);
        assert_int_equal(store_begin(other), 0);
        for (; k < FOLD_TICKS + 3; k++) {
                tick(f, k, &rep);
                assert_true(rep.committed);
                assert_int_equal(rep.commit_error, -EBUSY);
                assert_false(rep.folded);
                assert_true(watch_db_failing(f->w));
        }
        assert_int_equal(store_commit(other), 0);
        store_close(other);
        tick(f, k, &rep);
        assert_int_equal(rep.commit_error, 0);
        assert_true(rep.recovered);
        assert_int_equal(rep.dropped, 0);
        assert_false(watch_db_failing(f->w));
        assert_true(rep.folded);
        assert_int_equal(rep.fold_error, 0);
        assert_int_equal(rows(f, "sample") + rows(f, "sample_batch"), k + 1);
}

/* leakwatch run's watch writes a new database only: never into someone's file. */
static void test_new_database_refused_when_the_file_exists(void **state)
{
        struct fixture *f = *state;
        struct watch *w2;
        char err[256];

        assert_int_equal(watch_new(&(struct watch_env){ .cfg = &f->cfg, .self = -1, .new_database = true }, &w2,
                                   err, sizeof(err)),
                         -EEXIST);
        assert_non_null(strstr(err, "exists"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_commits_and_folds_on_the_grid, setup, teardown),
                cmocka_unit_test_setup_teardown(test_holds_back_while_the_database_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_new_database_refused_when_the_file_exists, setup, teardown),
        };

        return cmocka_run_group_tests_name("watch", tests, NULL, NULL);
}
