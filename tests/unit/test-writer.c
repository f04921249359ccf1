/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests for writer: one transaction per flush, nothing lost while the database refuses
 * writes (full disk, lock), the bounded backlog dropping the oldest and counting it, and
 * recovery writing the backlog in order. */
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
#include "store.h"
#include "util.h"
#include "writer.h"
#include "tmpdir.h"

struct fixture {
        char dir[64];
        char path[128];
        struct store *st;
        struct writer *w;
};

static int setup_backlog(void **state, size_t backlog)
{
        struct fixture *f = calloc(1, sizeof(*f));

        snprintf(f->dir, sizeof(f->dir), "/tmp/leakwatch-test-writer-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/lw.db", f->dir);
        assert_int_equal(store_open(f->path, STORE_RW, &f->st, NULL, 0), 0);
        assert_int_equal(writer_new(f->st, backlog, &f->w), 0);
        *state = f;
        return 0;
}

static int setup(void **state) { return setup_backlog(state, 4000); }
static int setup_small(void **state) { return setup_backlog(state, 10); }

static int teardown(void **state)
{
        struct fixture *f = *state;

        writer_free(f->w);
        store_close(f->st);
        /* Everything the test left in its directory: databases, -wal and -shm files. */
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static int64_t raw_int(const char *path, const char *sql)
{
        int64_t v = -1;

        assert_int_equal(store_raw_int64(path, sql, &v), 0);
        return v;
}

static void put_process(struct writer *w, int64_t id)
{
        struct store_process p = {
                .id = id, .pid = (int32_t)(100 + id), .start_ticks = id, .uid = 0,
                .comm = "a\nb", .comm_len = 3, .cmdline = "", .cmdline_len = 0,
                .unit = "x.service", .cgroup = "/system.slice/x.service",
                .rule_id = 1, .generation = 1, .first_ms = 1,
        };

        snprintf(p.boot_id, sizeof(p.boot_id), "boot");
        assert_int_equal(writer_put(w, &(struct store_row){ .kind = STORE_PROCESS, .process = p }), 0);
}

static int put(struct writer *w, struct store_row row)
{
        return writer_put(w, &row);
}

static void put_sample(struct writer *w, int64_t id, int64_t t)
{
        struct sample s = { .t_ms = t };

        sample_set(&s, M_RSS, t * 1024);
        assert_int_equal(writer_put(w, &(struct store_row){ .kind = STORE_SAMPLE, .sample = { .id = id, .s = s } }),
                         0);
}

static void test_batch_is_one_transaction(void **state)
{
        struct fixture *f = *state;
        struct writer_stats ws;

        put_process(f->w, 1);
        for (int t = 1; t <= 500; t++)
                put_sample(f->w, 1, t);
        {
                struct sample s = { .t_ms = 5 };
                sample_set(&s, M_RSS, 4096);
                assert_int_equal(put(f->w, (struct store_row){ .kind = STORE_RULE_SAMPLE,
                                                               .sample = { .id = 1, .generation = 1, .nproc = 3,
                                                                           .s = s } }), 0);
        }
        assert_int_equal(put(f->w, (struct store_row){ .kind = STORE_PROCESS_END,
                                                       .end = { .id = 1, .t_ms = 600, .reason = "exited" } }), 0);
        assert_int_equal(put(f->w, (struct store_row){ .kind = STORE_EVENT,
                                                       .event = { .t_ms = 600, .kind = "start" } }), 0);
        assert_int_equal(writer_flush(f->w), 0);
        writer_get_stats(f->w, &ws);
        assert_int_equal(ws.commits, 1);
        assert_int_equal(ws.written, 501);
        assert_int_equal(ws.pending, 0);
        assert_int_equal(ws.pending_ops, 0);
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), 500);
        assert_int_equal(raw_int(f->path, "SELECT nproc FROM rule_sample"), 3);
        assert_int_equal(raw_int(f->path, "SELECT end_ms FROM process WHERE id = 1"), 600);
        assert_int_equal(raw_int(f->path, "SELECT length(comm) FROM process WHERE id = 1"), 3);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM daemon_event WHERE kind = 'start'"), 1);
        /* Nothing pending: a flush is free and succeeds. */
        assert_int_equal(writer_flush(f->w), 0);
        writer_get_stats(f->w, &ws);
        assert_int_equal(ws.commits, 1);
}

/* A full disk: flushes fail, the queue is kept whole, and once there is room again the
 * backlog lands complete, process row included. */
static void test_full_disk_keeps_everything(void **state)
{
        struct fixture *f = *state;
        struct writer_stats ws;
        int64_t size;

        /* Cap at the current size of the database proper (the WAL does not count). */
        size = raw_int(f->path, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
        assert_int_equal(store_set_size_limit(f->st, size), 0);
        put_process(f->w, 1);
        /* Samples enough to need new pages (packed in batches, some 6 bytes each, a few
         * hundred fit in the empty tables' root pages). */
        for (int t = 1; t <= 3000; t++) {
                put_sample(f->w, 1, t);
                if (t >= 2500 && t % 100 == 0)
                        assert_int_equal(writer_flush(f->w), -ENOSPC);
        }
        writer_get_stats(f->w, &ws);
        assert_int_equal(ws.pending, 3000);
        assert_int_equal(ws.pending_ops, 1);
        assert_int_equal(ws.failures, 6);
        assert_int_equal(ws.last_error, -ENOSPC);
        assert_int_equal(ws.dropped, 0);
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), 0);

        assert_int_equal(store_set_size_limit(f->st, 0), 0);
        assert_int_equal(writer_flush(f->w), 0);
        writer_get_stats(f->w, &ws);
        assert_int_equal(ws.pending, 0);
        assert_int_equal(ws.last_error, 0);
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), 3000);
        assert_int_equal(raw_int(f->path, "SELECT min(t0) FROM sample_batch"), 1);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM process"), 1);
}

/* Beyond the backlog the oldest samples go, and the drop is counted; process rows are
 * never dropped. */
static void test_backlog_overflow_drops_oldest(void **state)
{
        struct fixture *f = *state;
        struct writer_stats ws;
        struct store *other;

        /* Another writer holds the lock: our flushes fail with -EBUSY. */
        assert_int_equal(store_open(f->path, STORE_RW, &other, NULL, 0), 0);
        assert_int_equal(store_begin(other), 0);
        put_process(f->w, 1);
        for (int t = 1; t <= 25; t++)
                put_sample(f->w, 1, t);
        assert_int_equal(writer_flush(f->w), -EBUSY);
        writer_get_stats(f->w, &ws);
        assert_int_equal(ws.pending, 10);
        assert_int_equal(ws.dropped, 15);
        assert_int_equal(store_commit(other), 0);
        store_close(other);

        assert_int_equal(writer_flush(f->w), 0);
        assert_int_equal(raw_int(f->path, "SELECT coalesce(sum(n), 0) FROM sample_batch"), 10);
        /* The newest ten survived. */
        assert_int_equal(raw_int(f->path, "SELECT min(t0) FROM sample_batch"), 16);
        assert_int_equal(raw_int(f->path, "SELECT max(t1) FROM sample_batch"), 25);
        assert_int_equal(raw_int(f->path, "SELECT count(*) FROM process"), 1);
}

static void test_reopen(void **state)
{
        struct fixture *f = *state;

        put_process(f->w, 1);
        assert_int_equal(put(f->w, (struct store_row){ .kind = STORE_PROCESS_END,
                                                       .end = { .id = 1, .t_ms = 50, .reason = "rule removed" } }), 0);
        assert_int_equal(writer_flush(f->w), 0);
        assert_int_equal(raw_int(f->path, "SELECT end_ms FROM process WHERE id = 1"), 50);
        assert_int_equal(put(f->w, (struct store_row){ .kind = STORE_PROCESS_REOPEN,
                                                       .reopen = { .id = 1, .rule_id = 2, .generation = 5 } }), 0);
        assert_int_equal(writer_flush(f->w), 0);
        assert_int_equal(raw_int(f->path, "SELECT end_ms IS NULL AND rule_id = 2 AND generation = 5 FROM process"), 1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_batch_is_one_transaction, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_disk_keeps_everything, setup, teardown),
                cmocka_unit_test_setup_teardown(test_backlog_overflow_drops_oldest, setup_small, teardown),
                cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        };

        return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
