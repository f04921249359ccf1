/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-config: the configuration loader — defaults, the shipped file, every error with
 * its "FILE:LINE:" prefix, drop-in order and override, and the limits. Each test writes
 * its files under its own mkdtemp directory and removes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "escalate.h"
#include "util.h"

struct fixture {
        char dir[64];
        char path[128];                 /* dir/leakwatch.conf */
        struct config cfg;
        struct config_diag diag;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        strcpy(f->dir, "/tmp/leakwatch-test-config-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/leakwatch.conf", f->dir);
        assert_int_equal(config_defaults(&f->cfg), 0);
        *state = f;
        return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void)st, (void)flag, (void)ftw;
        /* Make a directory the test locked writable again, so its entries can go. */
        if (flag == FTW_DP)
                chmod(path, 0700);
        return remove(path) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        config_free(&f->cfg);
        config_diag_free(&f->diag);
        assert_int_equal(nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
        free(f);
        return 0;
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* Writes data (len bytes, may hold NULs) to dir/name, creating conf.d when needed. */
static void write_file(struct fixture *f, const char *name, const char *data, size_t len)
{
        char p[PATH_MAX];
        int fd;

        snprintf(p, sizeof(p), "%s/conf.d", f->dir);
        if (strncmp(name, "conf.d/", 7) == 0)
                mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/%s", f->dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write_full(fd, data, len), 0);
        close(fd);
}

static void write_str(struct fixture *f, const char *name, const char *s)
{
        write_file(f, name, s, strlen(s));
}

static void dump_diag(const struct fixture *f)
{
        for (size_t i = 0; i < f->diag.n; i++)
                print_message("  diag[%zu] %s\n", i, f->diag.msgs[i]);
}

/* Loads the main file (and its drop-ins) into a fresh configuration. */
static int reload(struct fixture *f, bool must_exist)
{
        config_free(&f->cfg);
        config_diag_free(&f->diag);
        assert_int_equal(config_defaults(&f->cfg), 0);
        return config_load(&f->cfg, f->path, must_exist, &f->diag);
}

static int load(struct fixture *f, const char *content)
{
        write_str(f, "leakwatch.conf", content);
        return reload(f, true);
}

/* diag message i reads "FILE:LINE: ..." (or "FILE: ..." for line 0) and holds fragment. */
static void expect_msg(const struct fixture *f, size_t i, const char *file, unsigned line, const char *fragment)
{
        char prefix[PATH_MAX + 32];

        if (line)
                snprintf(prefix, sizeof(prefix), "%s:%u: ", file, line);
        else
                snprintf(prefix, sizeof(prefix), "%s: ", file);
        if (i >= f->diag.n || strncmp(f->diag.msgs[i], prefix, strlen(prefix)) != 0 ||
            !strstr(f->diag.msgs[i] + strlen(prefix), fragment)) {
                print_message("expected diag[%zu] = \"%s...%s...\"\n", i, prefix, fragment);
                dump_diag(f);
                fail();
        }
}

/* Exactly one message, at line of the main file. */
static void expect_only(const struct fixture *f, unsigned line, const char *fragment)
{
        if (f->diag.n != 1) {
                print_message("expected exactly one message, got %zu\n", f->diag.n);
                dump_diag(f);
                fail();
        }
        expect_msg(f, 0, f->path, line, fragment);
}

static void expect_clean(const struct fixture *f, int r)
{
        if (r != 0 || f->diag.n != 0) {
                print_message("expected a clean load, got %d\n", r);
                dump_diag(f);
                fail();
        }
}

static bool close_to(double a, double b)
{
        double d = a > b ? a - b : b - a;

        return d <= 1e-9 * (b > 1 ? b : 1);
}

/* ---- defaults and the shipped file ---- */

static void check_defaults(const struct config *c)
{
        assert_string_equal(c->db_path, DB_PATH_DEFAULT);
        assert_int_equal(c->max_db_size, 0);
        assert_true(close_to(c->interval, 10));
        assert_true(close_to(c->scan_interval, 10));
        assert_int_equal(c->smaps_every, 6);
        assert_true(close_to(c->smaps_min_interval, 60));
        assert_true(close_to(c->smaps_max_interval, 600));
        assert_true(close_to(c->smaps_budget, 0.01));
        assert_true(close_to(c->commit_interval, 10));
        assert_int_equal(c->backlog, 100000);
        assert_int_equal(c->max_processes, 1000);
        assert_true(close_to(c->retention_raw, 2 * 86400));
        assert_true(close_to(c->retention_minute, 14 * 86400));
        assert_true(close_to(c->retention_hour, 400 * 86400));
        assert_true(c->window == 0);            /* none pinned: every time scale */
        assert_int_equal(c->log_level, LOG_INFO);
        assert_string_equal(c->proc_root, "/proc");
        assert_string_equal(c->runtime_dir, "/run/leakwatch");
        assert_true(close_to(c->hook_timeout, 30));
        assert_int_equal(c->hook_max_running, 4);
        assert_true(c->agent_socket);
        assert_true(c->agent_interval == 1);
        assert_int_equal(c->n_hooks, 0);
        assert_int_equal(c->n_rules, 0);
}

static void test_defaults(void **state)
{
        struct fixture *f = *state;

        check_defaults(&f->cfg);
}

static void test_missing_file(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(reload(f, false), 0);
        assert_int_equal(f->diag.n, 0);
        check_defaults(&f->cfg);

        assert_int_equal(reload(f, true), -ENOENT);
        expect_msg(f, 0, f->path, 0, "cannot open: No such file or directory");
        assert_int_equal(f->diag.n, 1);
}

/* The shipped configuration, found from the fixture directory the test runner names
 * (<source>/tests/fixtures) or from the current directory. */
static char *read_shipped(void)
{
        const char *fx = getenv("LEAKWATCH_TEST_FIXTURES");
        char p[PATH_MAX];
        struct stat st;
        char *buf;
        int fd;

        if (fx)
                snprintf(p, sizeof(p), "%s/../../systemd/leakwatch.conf", fx);
        if (!fx || access(p, R_OK) < 0)
                snprintf(p, sizeof(p), "systemd/leakwatch.conf");
        fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        buf = calloc(1, (size_t)st.st_size + 1);
        assert_non_null(buf);
        assert_int_equal(pread_full(fd, buf, (size_t)st.st_size, 0), st.st_size);
        close(fd);
        return buf;
}

static void test_shipped(void **state)
{
        struct fixture *f = *state;
        char *text = read_shipped();

        expect_clean(f, load(f, text));
        check_defaults(&f->cfg);
        free(text);

        /* No rule configured: the daemon adds the default one. */
        assert_int_equal(config_add_default_rule(&f->cfg), 0);
        assert_int_equal(f->cfg.n_rules, 1);
        assert_string_equal(f->cfg.rules[0].name, "host");
        assert_true(f->cfg.rules[0].all);
        assert_int_equal(f->cfg.rules[0].min_rss, CONFIG_DEFAULT_MIN_RSS);
        assert_int_equal(config_add_default_rule(&f->cfg), -EEXIST);
}

/* Every example in the shipped file is valid: uncomment each "#key = value" and
 * "#[section]" line (not "# prose" nor "## comment") and load the result. */
static void test_shipped_examples_valid(void **state)
{
        struct fixture *f = *state;
        char *text = read_shipped(), *out = calloc(1, strlen(text) + 1), *o = out;

        assert_non_null(out);
        for (char *line = text; *line;) {
                char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);

                if (line[0] == '#' && line[1] != '#' && line[1] != ' ' && line[1] != '\n')
                        line++, len--;
                memcpy(o, line, len);
                o += len;
                line += len;
        }
        expect_clean(f, load(f, out));
        assert_int_equal(f->cfg.n_rules, 5);
        assert_int_equal(f->cfg.n_hooks, 2);
        assert_string_equal(f->cfg.rules[1].cmdline_re_src, "^/usr/bin/java .*-jar /opt/(billing|orders)/");
        free(text);
        free(out);
}

/* The agent socket's keys (docs/agents.md). */
static void test_agent_keys(void **state)
{
        struct fixture *f = *state;

        expect_clean(f, load(f, "[daemon]\nagent-socket = no\nagent-interval = 250ms\n"));
        assert_false(f->cfg.agent_socket);
        assert_true(close_to(f->cfg.agent_interval, 0.25));
}

/* Every key, set to something other than its default. */
static void test_full_config(void **state)
{
        struct fixture *f = *state;
        const struct rule_cfg *r;

        expect_clean(f, load(f,
                "# a full configuration\n"
                "; also a comment\n"
                "  # an indented comment\n"
                "\n"
                "[daemon]\n"
                "database = /srv/lw/db.sqlite\n"
                "max-db-size = 2G\n"
                "interval = 0.2\n"
                "scan-interval = 500ms\n"
                "smaps-every = 3\n"
                "smaps-min-interval = 0\n"
                "commit-interval = 1m\n"
                "backlog = 0\n"
                "max-processes = 5000\n"
                "retention-raw = 1h\n"
                "retention-minute = 1h\n"
                "retention-hour = 3650d\n"
                "window = 1h30m\n"
                "log-level = debug\n"
                "proc-root = /tmp/fakeproc\n"
                "runtime-dir = /run/lw\n"
                "hook-timeout = 100ms\n"
                "hook-max-running = 64\n"
                "hook = /usr/bin/logger -t leak\n"
                "on-end = /bin/true\n"
                "\n"
                "[rule web]\n"
                "name = nginx*\n"
                "children = yes\n"
                "min-rss = 1.5G\n"
                "window = 2h\n"
                "on-start = /usr/local/bin/page \"leak in web\" --x=\"a\\\"b\"\n"
                "on-escalate = /bin/x\n"
                "[rule  spaced.name@host:1-x_y  ]\n"
                "cmdline = ^/usr/bin/(java|python3) .*;x #y$\n"
                "user = root\n"
                "unit = *.service\n"
                "cgroup = /system.slice/\n"
                "pid = 3 1 2\n"
                "pid = 3\t7\n"
                "[rule all]\n"
                "all = on\n"
                "[rule uid]\n"
                "user = 1000\n"
                "[rule top]\n"
                "cgroup = /\n"));
        assert_string_equal(f->cfg.db_path, "/srv/lw/db.sqlite");
        assert_int_equal(f->cfg.max_db_size, UINT64_C(2147483648));
        assert_true(close_to(f->cfg.interval, 0.2));
        assert_true(close_to(f->cfg.scan_interval, 0.5));
        assert_int_equal(f->cfg.smaps_every, 3);
        assert_true(close_to(f->cfg.smaps_min_interval, 0));
        assert_true(close_to(f->cfg.commit_interval, 60));
        assert_int_equal(f->cfg.backlog, 0);
        assert_int_equal(f->cfg.max_processes, 5000);
        assert_true(close_to(f->cfg.retention_raw, 3600));
        assert_true(close_to(f->cfg.retention_minute, 3600));
        assert_true(close_to(f->cfg.retention_hour, 3650 * 86400.0));
        assert_true(close_to(f->cfg.window, 5400));
        assert_int_equal(f->cfg.log_level, LOG_DEBUG);
        assert_string_equal(f->cfg.proc_root, "/tmp/fakeproc");
        assert_string_equal(f->cfg.runtime_dir, "/run/lw");
        assert_true(close_to(f->cfg.hook_timeout, 0.1));
        assert_int_equal(f->cfg.hook_max_running, 64);
        assert_int_equal(f->cfg.n_hooks, 2);
        assert_string_equal(f->cfg.hooks[0].argv[0], "/usr/bin/logger");
        assert_string_equal(f->cfg.hooks[0].argv[1], "-t");
        assert_string_equal(f->cfg.hooks[0].argv[2], "leak");
        assert_null(f->cfg.hooks[0].argv[3]);
        assert_int_equal(f->cfg.hooks[0].events, HOOK_ON_ALL);
        assert_int_equal(f->cfg.hooks[1].events, HOOK_ON_END);

        assert_int_equal(f->cfg.n_rules, 5);
        r = &f->cfg.rules[0];
        assert_string_equal(r->name, "web");
        assert_string_equal(r->file, f->path);
        assert_int_equal(r->line, 27);
        assert_string_equal(r->comm_glob, "nginx*");
        assert_true(r->children);
        assert_int_equal(r->min_rss, UINT64_C(1610612736));
        assert_true(close_to(r->window, 7200));
        assert_int_equal(r->n_hooks, 2);
        assert_int_equal(r->hooks[0].events, HOOK_ON_START);
        assert_string_equal(r->hooks[0].argv[1], "leak in web");
        assert_string_equal(r->hooks[0].argv[2], "--x=a\"b");
        assert_null(r->hooks[0].argv[3]);
        assert_int_equal(r->hooks[1].events, HOOK_ON_ESCALATE);

        r = &f->cfg.rules[1];
        assert_string_equal(r->name, "spaced.name@host:1-x_y");
        /* No inline comments: ';' and '#' belong to the regex. */
        assert_string_equal(r->cmdline_re_src, "^/usr/bin/(java|python3) .*;x #y$");
        assert_true(r->has_uid);
        assert_int_equal(r->uid, 0);
        assert_string_equal(r->unit_glob, "*.service");
        assert_string_equal(r->cgroup_prefix, "/system.slice");
        assert_int_equal(r->n_pids, 4);
        assert_int_equal(r->pids[0], 1);
        assert_int_equal(r->pids[1], 2);
        assert_int_equal(r->pids[2], 3);
        assert_int_equal(r->pids[3], 7);

        assert_true(f->cfg.rules[2].all);
        assert_int_equal(f->cfg.rules[3].uid, 1000);
        assert_string_equal(f->cfg.rules[4].cgroup_prefix, "/");
}

/* Unless set, scan-interval and commit-interval follow interval. */
static void test_intervals_follow(void **state)
{
        struct fixture *f = *state;

        expect_clean(f, load(f, "[daemon]\ninterval = 30s\n"));
        assert_true(close_to(f->cfg.scan_interval, 30));
        assert_true(close_to(f->cfg.commit_interval, 30));
        expect_clean(f, load(f, "[daemon]\ninterval = 30s\ncommit-interval = 5m\n"));
        assert_true(close_to(f->cfg.scan_interval, 30));
        assert_true(close_to(f->cfg.commit_interval, 300));
}

/* Loads the main file with flags over it, as leakwatchd's command line does. */
static int load_flags(struct fixture *f, const char *content, const struct config_flag *flags, size_t n)
{
        write_str(f, "leakwatch.conf", content);
        config_free(&f->cfg);
        config_diag_free(&f->diag);
        assert_int_equal(config_defaults(&f->cfg), 0);
        return config_load_with_flags(&f->cfg, f->path, true, flags, n, &f->diag);
}

/* A flag means what its key means in the file: --interval 0.2 gives what interval = 0.2
 * gives, the periods that follow interval included (they stayed at 10 s when the flag
 * was applied after the file's defaults: a crash lost 88% of what was sampled). */
static void test_flags_as_keys(void **state)
{
        static const struct config_flag interval[] = { { "--interval", "interval", "0.2" } };
        struct fixture *f = *state;
        struct config by_file;

        expect_clean(f, load(f, "[daemon]\ninterval = 0.2\n"));
        by_file = f->cfg;
        f->cfg = (struct config){ 0 };  /* by_file owns the strings now */
        expect_clean(f, load_flags(f, "", interval, 1));
        assert_true(close_to(f->cfg.interval, 0.2));
        assert_true(close_to(f->cfg.commit_interval, 0.2));
        assert_true(close_to(f->cfg.scan_interval, 0.2));
        assert_true(close_to(f->cfg.commit_interval, by_file.commit_interval));
        assert_true(close_to(f->cfg.scan_interval, by_file.scan_interval));
        assert_true(close_to(f->cfg.metrics_textfile_interval, by_file.metrics_textfile_interval));
        config_free(&by_file);

        /* A longer interval raises what follows it past the defaults, as in the file. */
        expect_clean(f, load_flags(f, "", (const struct config_flag[]){ { "--interval", "interval", "2m" } }, 1));
        assert_true(close_to(f->cfg.commit_interval, 120));
        assert_true(close_to(f->cfg.scan_interval, 120));
        assert_true(close_to(f->cfg.metrics_textfile_interval, 120));

        /* The flag wins over the file's interval; what the file sets explicitly still
         * wins over what would follow. */
        expect_clean(f, load_flags(f, "[daemon]\ninterval = 5s\ncommit-interval = 1m\n", interval, 1));
        assert_true(close_to(f->cfg.interval, 0.2));
        assert_true(close_to(f->cfg.commit_interval, 60));
        assert_true(close_to(f->cfg.scan_interval, 0.2));

        /* The other keys a flag sets. */
        expect_clean(f, load_flags(f, "[daemon]\ninterval = 5s\nwindow = 1h\nlog-level = debug\n",
                                   (const struct config_flag[]){ { "--window", "window", "2m" },
                                                                 { "--log-level", "log-level", "error" },
                                                                 { "--db", "database", "/x/y.db" },
                                                                 { "--proc-root", "proc-root", "/p" },
                                                                 { "--runtime-dir", "runtime-dir", "/r" } }, 5));
        assert_true(close_to(f->cfg.window, 120));
        assert_int_equal(f->cfg.log_level, LOG_ERR);
        assert_string_equal(f->cfg.db_path, "/x/y.db");
        assert_string_equal(f->cfg.proc_root, "/p");
        assert_string_equal(f->cfg.runtime_dir, "/r");
}

/* A flag has its key's bounds and takes part in the checks across keys; messages name
 * the flag. */
static void test_flag_errors(void **state)
{
        struct fixture *f = *state;
        char longdir[CONFIG_RUNTIME_DIR_MAX + 8];

        assert_int_equal(load_flags(f, "", (const struct config_flag[]){ { "--interval", "interval", "0.01" } }, 1),
                         -EINVAL);
        expect_msg(f, 0, "--interval", 0, "interval: '0.01' is out of range (50ms..1h)");
        assert_int_equal(load_flags(f, "", (const struct config_flag[]){ { "--interval", "interval", "fast" } }, 1),
                         -EINVAL);
        expect_msg(f, 0, "--interval", 0, "invalid duration 'fast'");
        /* An explicit commit-interval below the flag's interval is refused, as it is
         * below the file's. */
        assert_int_equal(load_flags(f, "[daemon]\ncommit-interval = 1s\n",
                                    (const struct config_flag[]){ { "--interval", "interval", "5s" } }, 1), -EINVAL);
        assert_int_equal(f->diag.n, 1);
        expect_msg(f, 0, "--interval", 0, "commit-interval (1s, set at ");
        assert_non_null(strstr(f->diag.msgs[0], "must be at least interval (5s)"));
        assert_int_equal(load_flags(f, "[daemon]\ninterval = 10s\n",
                                    (const struct config_flag[]){ { "--window", "window", "1m" } }, 1), -EINVAL);
        expect_msg(f, 0, "--window", 0, "window (1m) must be at least 24 times interval (10s, set at ");
        assert_int_equal(load_flags(f, "[daemon]\nwindow = 1m\n",
                                    (const struct config_flag[]){ { "--interval", "interval", "10s" } }, 1), -EINVAL);
        expect_msg(f, 0, "--interval", 0, "window (1m, set at ");
        assert_int_equal(load_flags(f, "", (const struct config_flag[]){ { "--log-level", "log-level", "emerg" } }, 1),
                         -EINVAL);
        expect_msg(f, 0, "--log-level", 0, "unknown level 'emerg'");
        memset(longdir, 'r', sizeof(longdir) - 1);
        longdir[0] = '/';
        longdir[sizeof(longdir) - 1] = '\0';
        assert_int_equal(load_flags(f, "", (const struct config_flag[]){ { "--runtime-dir", "runtime-dir", longdir } },
                                    1), -EINVAL);
        expect_msg(f, 0, "--runtime-dir", 0, "is too long (at most 80 bytes)");
}

/* ---- one error each ---- */

static const struct {
        const char *text;
        unsigned line;
        const char *fragment;
} bad[] = {
        /* values */
        { "[daemon]\ninterval = 1x\n", 2, "interval: invalid duration '1x' (examples: " },
        { "[daemon]\ninterval = -1\n", 2, "interval: invalid duration '-1'" },
        { "[daemon]\ninterval = 1h30\n", 2, "interval: invalid duration '1h30'" },
        { "[daemon]\ninterval = 0x10\n", 2, "interval: invalid duration '0x10'" },
        { "[daemon]\ninterval = 0.01\n", 2, "interval: '0.01' is out of range (50ms..1h)" },
        { "[daemon]\ninterval = 2h\n", 2, "interval: '2h' is out of range (50ms..1h)" },
        { "[daemon]\ninterval = 99999999999999\n", 2, "interval: '99999999999999' is out of range" },
        { "[daemon]\nsmaps-every = 0\n", 2, "smaps-every: '0' is out of range (1..10000)" },
        { "[daemon]\nsmaps-every = 1.5\n", 2, "smaps-every: '1.5' is not a whole number" },
        { "[daemon]\nsmaps-min-interval = 2d\n", 2, "smaps-min-interval: '2d' is out of range (0..1d)" },
        { "[daemon]\nbacklog = 1000001\n", 2, "backlog: '1000001' is out of range (0..1000000)" },
        { "[daemon]\nmax-processes = 0\n", 2, "max-processes: '0' is out of range (1..100000)" },
        { "[daemon]\nmax-processes = many\n", 2, "max-processes: 'many' is not a whole number" },
        { "[daemon]\nhook-max-running = 65\n", 2, "hook-max-running: '65' is out of range (1..64)" },
        { "[daemon]\nagent-interval = 50ms\n", 2, "agent-interval: '50ms' is out of range (100ms..1h)" },
        { "[daemon]\nagent-socket = maybe\n", 2, "agent-socket: invalid boolean 'maybe' (yes or no)" },
        { "[daemon]\nhook-timeout = 50ms\n", 2, "hook-timeout: '50ms' is out of range (100ms..1h)" },
        { "[daemon]\nretention-raw = 30m\n", 2, "retention-raw: '30m' is out of range (1h..3650d)" },
        { "[daemon]\nwindow = 91d\n", 2, "window: '91d' is out of range (1m..90d)" },
        { "[daemon]\nmax-db-size = 1M\n", 2, "max-db-size: '1M' is out of range (0, or 16M..16T)" },
        { "[daemon]\nmax-db-size = 17T\n", 2, "max-db-size: '17T' is out of range (0, or 16M..16T)" },
        { "[daemon]\nmax-db-size = big\n", 2, "max-db-size: invalid size 'big' (examples: " },
        { "[daemon]\nlog-level = loud\n", 2, "log-level: unknown level 'loud' (err, warning, notice, info or debug)" },
        { "[daemon]\ndatabase = leak.db\n", 2, "database: 'leak.db' is not an absolute path" },
        { "[daemon]\nruntime-dir = /run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
          2, "runtime-dir: '/run/xxxxxxxx" },
        { "[daemon]\ninterval =\n", 2, "interval: empty value" },
        { "[daemon]\ninterval = \t \n", 2, "interval: empty value" },
        /* keys and sections */
        { "[daemon]\nintervall = 5s\n", 2, "unknown key 'intervall' in [daemon] (did you mean 'interval'?)" },
        { "[daemon]\nfrobnicate = 1\n", 2, "unknown key 'frobnicate' in [daemon]" },
        { "[rule a]\nall = yes\nmatch = ^python\n", 3, "unknown key 'match' in [rule NAME] (did you mean 'cmdline'?)" },
        { "[daemon]\nmatch = x\n", 2,
          "unknown key 'match' in [daemon] (did you mean 'cmdline'? It is a rule key, in a [rule NAME] section.)" },
        { "[daemon]\ndb = /x.db\n", 2, "unknown key 'db' in [daemon] (did you mean 'database'?)" },
        { "[daemon]\nmin-rss = 1M\n", 2, "'min-rss' is a rule key: it belongs in a [rule NAME] section" },
        { "[rule a]\nall = yes\ninterval = 5s\n", 3, "'interval' is a [daemon] key, not a rule key" },
        { "[rule a]\nall = yes\nchildern = yes\n", 3, "unknown key 'childern' in [rule NAME] (did you mean 'children'?)" },
        { "[rule a]\nall = yes\nweird\\x01key = 1\n", 3, "unknown key 'weird\\\\x01key' in [rule NAME]" },
        { "interval = 5s\n", 1, "'interval' is outside any section: put it under [daemon] or [rule NAME]" },
        { "\n[daemon]\ninterval = 5s\n\ninterval = 6s\n", 5, "interval: already set at line 3 of this file" },
        { "[daemon]\ninterval = 5s\n[daemon]\ninterval = 6s\n", 4, "interval: already set at line 2 of this file" },
        { "[deamon]\ninterval = 5s\n", 1, "unknown section '[deamon]' (did you mean [daemon]?)" },
        { "[global]\nx = 1\n", 1, "unknown section '[global]' (sections are [daemon] and [rule NAME])" },
        { "[rules web]\nname = x\n", 1, "unknown section '[rules]' (did you mean [rule NAME]?)" },
        { "[daemon\ninterval = 5s\n", 1, "section header without ']'" },
        { "[daemon] ; comment\n", 1, "unexpected text after ']'" },
        { "[rule]\nname = x\n", 1, "a rule section needs a name: [rule NAME]" },
        { "[rule  ]\n", 1, "a rule section needs a name" },
        { "[rule bad name]\nall = yes\n", 1, "invalid rule name 'bad name': use 1 to 64 of the characters" },
        { "[rule a/b]\n", 1, "invalid rule name 'a/b'" },
        { "[rule a]\nall = yes\n[rule a]\nall = yes\n", 3, "rule 'a' is already defined at /" },
        { "[daemon]\nkey: value\n", 2, "expected 'key = value' or a [section] header" },
        { "[daemon]\njust some words\n", 2, "expected 'key = value' or a [section] header" },
        { "[daemon]\n= 5\n", 2, "missing key before '='" },
        { "[daemon]\ninterval = 5\001s\n", 2, "control character 0x01 at column 13" },
        { "[daemon]\ninterval = 5\rs\n", 2, "control character 0x0d at column 13" },
        { "[daemon]\ninterval = 5\177\n", 2, "control character 0x7f at column 13" },
        /* rules */
        { "[rule a]\nchildren = yes\nmin-rss = 1M\n", 1, "rule 'a' has no selector: set pid, name, cmdline" },
        { "[rule a]\nall = no\n", 1, "rule 'a' has no selector" },
        { "[rule a]\n", 1, "rule 'a' has no selector" },
        { "[rule a]\nall = yes\npid = 5\n", 2,
          "rule 'a': 'all = yes' must be the only selector of its rule, but 'pid' is set at line 3" },
        { "[rule a]\nname = x\nall = yes\n", 3, "but 'name' is set at line 2" },
        { "[rule a]\nall = maybe\n", 2, "all: invalid boolean 'maybe' (yes or no)" },
        { "[rule a]\nall = yes\nchildren = 2\n", 3, "children: invalid boolean '2'" },
        { "[rule a]\npid = 0\n", 2, "pid: '0' is not a process id (1..4194304)" },
        { "[rule a]\npid = 4194305\n", 2, "pid: '4194305' is not a process id" },
        { "[rule a]\npid = 12,13\n", 2, "pid: '12,13' is not a process id" },
        { "[rule a]\npid = -5\n", 2, "pid: '-5' is not a process id" },
        { "[rule a]\nname = averyverylongname\n", 2,
          "name: 'averyverylongname' can never match: a process name is at most 15 bytes" },
        { "[rule a]\ncmdline = (x\n", 2, "cmdline: invalid regular expression '(x': " },
        { "[rule a]\ncmdline = a{2,1}\n", 2, "cmdline: invalid regular expression 'a{2,1}': " },
        { "[rule a]\nuser = no-such-user-leakwatch\n", 2, "user: unknown user 'no-such-user-leakwatch'" },
        { "[rule a]\nuser = 4294967295\n", 2, "user: '4294967295' is not a user id (0..4294967294)" },
        { "[rule a]\ncgroup = system.slice\n", 2, "cgroup: 'system.slice' is not an absolute cgroup path" },
        { "[rule a]\ncgroup = /a//b\n", 2, "cgroup: '/a//b' has an empty, '.' or '..' component" },
        { "[rule a]\ncgroup = /a/./b\n", 2, "has an empty, '.' or '..' component" },
        { "[rule a]\ncgroup = /a/..\n", 2, "has an empty, '.' or '..' component" },
        { "[rule a]\nmin-rss = lots\n", 2, "min-rss: invalid size 'lots' (examples: " },
        { "[rule a]\nall = yes\nmin-rss = 17T\n", 3, "min-rss: '17T' is out of range (0..16T)" },
        { "[rule a]\nall = yes\nwindow = 30s\n", 3, "window: '30s' is out of range (1m..90d)" },
        { "[rule a]\nname = x\nname = y\n", 3, "name: already set at line 2 for rule 'a'" },
        { "[rule a]\nname =\n", 2, "name: empty value" },
        { "[rule a]\nname = a\001\n", 2, "control character 0x01" },
        /* hooks */
        { "[daemon]\nhook = echo hi\n", 2, "hook: 'echo hi': the program must be an absolute path" },
        { "[daemon]\non-start = \"\"\n", 2, "on-start: '\"\"': the program must be an absolute path" },
        { "[daemon]\nhook = /bin/echo \"open\n", 2, "hook: '/bin/echo \"open': unbalanced double quote" },
        { "[daemon]\nhook = /bin/echo x\\\n", 2, "a backslash at the end escapes nothing" },
        { "[daemon]\nhook = /bin/echo 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 "
          "27 28 29 30 31 32\n", 2, "too many words (at most 32)" },
        { "[daemon]\nhook = /a\nhook = /a\nhook = /a\nhook = /a\nhook = /a\nhook = /a\nhook = /a\nhook = /a\n"
          "on-end = /a\n", 10, "on-end: too many hooks (at most 8 in [daemon], across all files)" },
        { "[rule a]\nall = yes\nhook = /a\nhook = /a\nhook = /a\nhook = /a\nhook = /a\nhook = /a\nhook = /a\n"
          "hook = /a\non-end = /a\n", 11, "on-end: too many hooks (at most 8 per rule)" },
        { "[rule a]\nall = yes\non-escalate = relative\n", 3, "on-escalate: 'relative': the program must be" },
        /* escalation */
        { "[rule a]\nall = yes\nescalate = reboot\n", 3, "escalate: 'reboot' is not warn, evidence or restart" },
        { "[rule a]\nall = yes\nescalate = restart\n", 3,
          "rule 'a': escalate = restart needs restart-units naming the services it may restart" },
        { "[rule a]\nall = yes\nrestart-units = web.service\n", 3,
          "rule 'a': restart-units is set but escalate is warn, not restart" },
        { "[rule a]\nall = yes\nescalate = evidence\nrestart-dry-run = yes\n", 4,
          "rule 'a': restart-dry-run is set but escalate is evidence, not restart" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = web.service nginx\n", 4,
          "restart-units: 'nginx' is not a service name (NAME.service, at most 256 bytes" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = system.slice\n", 4,
          "restart-units: 'system.slice' is not a service name" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = ../x.service\n", 4,
          "restart-units: '../x.service' is not a service name" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = a.service\nrestart-max = 101\n", 5,
          "restart-max: '101' is out of range (0..100)" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = a.service\nrestart-max = x\n", 5,
          "restart-max: 'x' is not a whole number (0..100)" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = a.service\nrestart-dry-run = perhaps\n", 5,
          "restart-dry-run: invalid boolean 'perhaps' (yes or no)" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = a.service\nrestart-horizon = 10s\n", 5,
          "restart-horizon: '10s' is out of range (1m..30d)" },
        { "[rule a]\nall = yes\nescalate = restart\nrestart-units = a.service\nrestart-units = b.service\n", 5,
          "restart-units: already set at line 4 for rule 'a'" },
        /* across keys */
        { "[daemon]\ninterval = 10s\ncommit-interval = 5s\n", 3,
          "commit-interval (5s) must be at least interval (10s, set at /" },
        { "[daemon]\nscan-interval = 5s\n", 2,
          "scan-interval (5s) must be at least interval (10s, the default): new processes are looked for" },
        { "[daemon]\nretention-raw = 30d\n", 2,
          "retention-minute (14d, the default) must be at least retention-raw (30d): a coarser level" },
        { "[daemon]\nretention-hour = 7d\n", 2,
          "retention-hour (7d) must be at least retention-minute (14d, the default)" },
        { "[daemon]\nsmaps-budget = 1\n", 2, "smaps-budget: invalid share '1' (examples: 1%, 0.5%, 25%)" },
        { "[daemon]\nsmaps-budget = 0.01%\n", 2, "smaps-budget: '0.01%' is out of range (0.1%..100%)" },
        { "[daemon]\nsmaps-budget = 101%\n", 2, "smaps-budget: '101%' is out of range (0.1%..100%)" },
        { "[daemon]\nsmaps-max-interval = 30s\n", 2,
          "smaps-max-interval (30s) must be at least smaps-min-interval (1m, the default): a stable process is "
          "read no more often than a suspect one" },
        { "[daemon]\nwindow = 1m\n", 2,
          "window (1m) must be at least 24 times interval (10s, the default): the detector needs a sample "
          "in each of the window's 24 buckets" },
        { "[daemon]\nwindow = 10m\ninterval = 2m\n", 3, "window (10m, set at /" },
        { "[daemon]\nwindow = 6h\ninterval = 1h\n", 3, "window (6h, set at /" },
        { "[daemon]\ninterval = 1m\n[rule a]\nall = yes\nwindow = 5m\n", 5,
          "rule 'a': window (5m) must be at least 24 times interval (1m, set at /" },
};

/* A rule that restarts: every key read, units deduplicated; the defaults otherwise. */
static void test_escalate_keys(void **state)
{
        struct fixture *f = *state;
        const struct rule_cfg *r;

        assert_int_equal(load(f, "[rule web]\nunit = web*.service\nescalate = restart\n"
                                 "restart-units = web.service  web-worker@1.service\tweb.service\n"
                                 "restart-max = 2\nrestart-dry-run = yes\nrestart-horizon = 30m\n"
                                 "[rule other]\nname = x\n"), 0);
        r = &f->cfg.rules[0];
        assert_int_equal(r->escalate, ESCALATE_RESTART);
        assert_int_equal(r->n_restart_units, 2);
        assert_string_equal(r->restart_units[0], "web.service");
        assert_string_equal(r->restart_units[1], "web-worker@1.service");
        assert_int_equal(r->restart_max, 2);
        assert_true(r->restart_dry_run);
        assert_true(r->restart_horizon == 1800);
        r = &f->cfg.rules[1];
        assert_int_equal(r->escalate, ESCALATE_WARN);
        assert_int_equal(r->n_restart_units, 0);
        assert_int_equal(r->restart_max, RESTART_MAX_DEFAULT);
        assert_false(r->restart_dry_run);
        assert_true(r->restart_horizon == RESTART_HORIZON_DEFAULT);
}

static void test_errors(void **state)
{
        struct fixture *f = *state;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = load(f, bad[i].text);

                if (r != -EINVAL)
                        print_message("bad[%zu]: %s\n", i, bad[i].text);
                assert_int_equal(r, -EINVAL);
                if (f->diag.n != 1)
                        print_message("bad[%zu]: %s\n", i, bad[i].text);
                expect_only(f, bad[i].line, bad[i].fragment);
        }
}

/* Collects every error, in file order, not just the first. */
static void test_all_errors(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(load(f, "[daemon]\ninterval = x\nbacklog = y\n[rule r]\nname = nginx\npid = z\n"), -EINVAL);
        assert_int_equal(f->diag.n, 3);
        expect_msg(f, 0, f->path, 2, "interval: invalid duration 'x'");
        expect_msg(f, 1, f->path, 3, "backlog: 'y' is not a whole number");
        expect_msg(f, 2, f->path, 6, "pid: 'z' is not a process id");
}

/* Messages escape what they quote: a value cannot forge a second line. */
static void test_escaped_values(void **state)
{
        struct fixture *f = *state;
        static const char text[] = "[daemon]\nlog-level = \xe2\x80\xae\x63\xc3\xa9\\\xff\n";

        assert_int_equal(load(f, text), -EINVAL);
        expect_only(f, 2, "log-level: unknown level '\\xe2\\x80\\xae" "c\xc3\xa9\\\\\\xff'");
}

/* A long value is shown cut, with "...". */
static void test_long_value_cut(void **state)
{
        struct fixture *f = *state;
        char text[600];

        snprintf(text, sizeof(text), "[daemon]\nlog-level = %0300d\n", 1);
        assert_int_equal(load(f, text), -EINVAL);
        expect_only(f, 2, "log-level: unknown level '0000");
        assert_non_null(strstr(f->diag.msgs[0], "00...' ("));
        assert_true(strlen(f->diag.msgs[0]) < 300);
}

/* ---- lines ---- */

static void test_long_lines(void **state)
{
        struct fixture *f = *state;
        size_t n = CONFIG_LINE_MAX;
        char *text = malloc(3 * n + 200), *p;

        assert_non_null(text);
        /* The longest line that is accepted: a regex of CONFIG_LINE_MAX - 10 bytes. */
        p = text + sprintf(text, "[rule a]\ncmdline = ");
        memset(p, 'x', n - 10);
        p += n - 10;
        p += sprintf(p, "\r\n");
        expect_clean(f, load(f, text));
        assert_int_equal(strlen(f->cfg.rules[0].cmdline_re_src), n - 10);

        /* One byte more is an error on that line, and the next line is still line 3:
         * nothing of the long line was parsed as another line. */
        p = text + sprintf(text, "[rule a]\ncmdline = ");
        memset(p, 'x', n - 9);
        p += n - 9;
        strcpy(p, "\nname = [\n");
        assert_int_equal(load(f, text), -EINVAL);
        expect_only(f, 2, "line too long (4097 bytes; at most 4096)");

        /* A long comment whose tail would read as a key if it were split. */
        p = text + sprintf(text, "[daemon]\n#");
        memset(p, ' ', 2 * n);
        p += 2 * n;
        strcpy(p, "database = /evil\ninterval = 5s\n");
        assert_int_equal(load(f, text), -EINVAL);
        expect_only(f, 2, "line too long (8209 bytes; at most 4096)");
        assert_string_equal(f->cfg.db_path, DB_PATH_DEFAULT);
        assert_true(close_to(f->cfg.interval, 5));
        free(text);
}

/* CR LF line ends are accepted and stripped; a UTF-8 byte order mark is skipped. */
static void test_crlf_and_bom(void **state)
{
        struct fixture *f = *state;

        expect_clean(f, load(f, "\xef\xbb\xbf[daemon]\r\ninterval = 5s\r\ndatabase = /x\r\n\r\n[rule a]\r\nname = a*\r\n"));
        assert_true(close_to(f->cfg.interval, 5));
        assert_string_equal(f->cfg.db_path, "/x");
        assert_string_equal(f->cfg.rules[0].comm_glob, "a*");
        /* No newline at the end of the file. */
        expect_clean(f, load(f, "[daemon]\ninterval = 7s"));
        assert_true(close_to(f->cfg.interval, 7));
}

static void test_nul_byte(void **state)
{
        struct fixture *f = *state;
        static const char text[] = "[daemon]\ninterval = 5s\nlog\0level = debug\n";

        write_file(f, "leakwatch.conf", text, sizeof(text) - 1);
        assert_int_equal(reload(f, true), -EINVAL);
        expect_only(f, 3, "NUL byte at column 4");
        assert_int_equal(f->cfg.log_level, LOG_INFO);
}

/* inih keeps at most 49 bytes of a section name; the reader keeps all of it. */
static void test_long_rule_name(void **state)
{
        struct fixture *f = *state;
        char text[256], name[RULE_NAME_MAX + 2];

        memset(name, 'n', RULE_NAME_MAX);
        name[RULE_NAME_MAX] = '\0';
        snprintf(text, sizeof(text), "[rule %s]\nall = yes\n", name);
        expect_clean(f, load(f, text));
        assert_string_equal(f->cfg.rules[0].name, name);

        strcat(name, "n");
        snprintf(text, sizeof(text), "[rule %s]\nall = yes\n", name);
        assert_int_equal(load(f, text), -EINVAL);
        expect_only(f, 1, "invalid rule name 'nnnn");
}

/* ---- files ---- */

static void test_dropins(void **state)
{
        struct fixture *f = *state;

        write_str(f, "leakwatch.conf", "[daemon]\ninterval = 5s\nhook = /main\n[rule main]\nall = yes\n");
        write_str(f, "conf.d/20-b.conf", "[daemon]\ninterval = 7s\nhook = /b\n[rule b]\nname = b\n");
        write_str(f, "conf.d/10-a.conf", "[daemon]\ninterval = 6s\nwindow = 1h\n[rule a]\nname = a\n");
        /* Byte order, whatever the locale: digits, then upper case, then lower case,
         * so a.conf is read last (a dictionary order would put B.conf last). */
        write_str(f, "conf.d/B.conf", "[daemon]\ninterval = 8s\n");
        write_str(f, "conf.d/a.conf", "[daemon]\ninterval = 9s\n");
        /* Ignored: not ending in .conf, or hidden. */
        write_str(f, "conf.d/30-c.conf.bak", "[daemon]\ninterval = nonsense\n");
        write_str(f, "conf.d/README", "nonsense\n");
        write_str(f, "conf.d/.hidden.conf", "nonsense\n");
        write_str(f, "conf.d/.conf", "nonsense\n");
        expect_clean(f, reload(f, true));
        assert_true(close_to(f->cfg.interval, 9));
        assert_true(close_to(f->cfg.window, 3600));
        assert_int_equal(f->cfg.n_rules, 3);
        assert_string_equal(f->cfg.rules[0].name, "main");
        assert_string_equal(f->cfg.rules[1].name, "a");
        assert_string_equal(f->cfg.rules[2].name, "b");
        /* Hooks accumulate across files. */
        assert_int_equal(f->cfg.n_hooks, 2);
        assert_string_equal(f->cfg.hooks[0].argv[0], "/main");
        assert_string_equal(f->cfg.hooks[1].argv[0], "/b");

        /* Drop-ins apply without a main file, unless it must exist. */
        unlink(f->path);
        expect_clean(f, reload(f, false));
        assert_true(close_to(f->cfg.interval, 9));
        assert_int_equal(f->cfg.n_rules, 2);
        assert_int_equal(reload(f, true), -ENOENT);
}

static void test_dropin_errors(void **state)
{
        struct fixture *f = *state;
        char p[PATH_MAX], q[PATH_MAX], r[PATH_MAX];

        write_str(f, "leakwatch.conf", "[daemon]\ninterval = 5s\n[rule a]\nname = a\n");
        write_str(f, "conf.d/10-a.conf", "[rule a]\nname = b\n[daemon]\ninterval = 6s\n");
        write_str(f, "conf.d/20-b.conf", "[daemon]\nbogus = 1\n");
        assert_int_equal(reload(f, true), -EINVAL);
        assert_int_equal(f->diag.n, 2);
        snprintf(p, sizeof(p), "%s/conf.d/10-a.conf", f->dir);
        snprintf(q, sizeof(q), "rule 'a' is already defined at %s:3", f->path);
        expect_msg(f, 0, p, 1, q);
        snprintf(q, sizeof(q), "%s/conf.d/20-b.conf", f->dir);
        expect_msg(f, 1, q, 2, "unknown key 'bogus' in [daemon]");

        /* A drop-in that cannot be opened is an error naming it, and its errno is
         * returned; the others are still read. */
        snprintf(p, sizeof(p), "%s/conf.d/10-a.conf", f->dir);
        unlink(p);
        snprintf(q, sizeof(q), "%s/conf.d/05-loop.conf", f->dir);
        assert_int_equal(symlink(q, q), 0);
        snprintf(r, sizeof(r), "%s/conf.d/06-dangling.conf", f->dir);
        assert_int_equal(symlink("/nonexistent/leakwatch", r), 0);
        snprintf(p, sizeof(p), "%s/conf.d/07-dir.conf", f->dir);
        assert_int_equal(mkdir(p, 0755), 0);
        assert_int_equal(reload(f, true), -ELOOP);
        assert_int_equal(f->diag.n, 4);
        expect_msg(f, 0, q, 0, "cannot open: Too many levels of symbolic links");
        expect_msg(f, 1, r, 0, "cannot open: No such file or directory");
        expect_msg(f, 2, p, 0, "not a regular file");
        snprintf(q, sizeof(q), "%s/conf.d/20-b.conf", f->dir);
        expect_msg(f, 3, q, 2, "unknown key 'bogus'");
}

static void test_dropin_dir_errors(void **state)
{
        struct fixture *f = *state;
        char p[PATH_MAX];

        write_str(f, "leakwatch.conf", "[daemon]\n");
        write_str(f, "conf.d", "not a directory\n");
        assert_int_equal(reload(f, true), -ENOTDIR);
        snprintf(p, sizeof(p), "%s/conf.d", f->dir);
        expect_msg(f, 0, p, 0, "cannot read the drop-in directory: Not a directory");
        assert_int_equal(f->diag.n, 1);
        unlink(p);

        /* More drop-ins than CONFIG_DROPINS_MAX: none is read. */
        for (int i = 0; i <= CONFIG_DROPINS_MAX; i++) {
                char name[64];

                snprintf(name, sizeof(name), "conf.d/%03d.conf", i);
                write_str(f, name, "[daemon]\ninterval = 5s\n");
        }
        assert_int_equal(reload(f, true), -EINVAL);
        expect_msg(f, 0, p, 0, "too many drop-ins (257; at most 256); none is read");
        assert_true(close_to(f->cfg.interval, 10));
}

static void test_not_regular(void **state)
{
        struct fixture *f = *state;

        /* A directory, and a FIFO, which must not hang the loader. */
        assert_int_equal(mkdir(f->path, 0755), 0);
        assert_int_equal(reload(f, true), -EINVAL);
        expect_only(f, 0, "not a regular file");
        assert_int_equal(reload(f, false), -EINVAL);
        rmdir(f->path);
        assert_int_equal(mkfifo(f->path, 0600), 0);
        assert_int_equal(reload(f, true), -EINVAL);
        expect_only(f, 0, "not a regular file");
}

static void test_world_writable(void **state)
{
        struct fixture *f = *state;

        write_str(f, "leakwatch.conf", "[daemon]\n");
        assert_int_equal(chmod(f->path, 0666), 0);
        assert_int_equal(reload(f, true), -EINVAL);
        expect_only(f, 0, "writable by every user; refusing it");
}

static void test_too_large(void **state)
{
        struct fixture *f = *state;
        size_t n = CONFIG_FILE_MAX + 1;
        char *text = malloc(n);

        assert_non_null(text);
        memset(text, '\n', n);
        write_file(f, "leakwatch.conf", text, n);
        assert_int_equal(reload(f, true), -EINVAL);
        expect_only(f, 0, "too large (1048577 bytes; at most 1048576)");
        /* Exactly the limit is fine. */
        write_file(f, "leakwatch.conf", text, n - 1);
        expect_clean(f, reload(f, true));
        free(text);
}

static void test_unreadable(void **state)
{
        struct fixture *f = *state;

        if (geteuid() == 0)
                skip();         /* root reads a mode 000 file anyway */
        write_str(f, "leakwatch.conf", "[daemon]\n");
        assert_int_equal(chmod(f->path, 0), 0);
        assert_int_equal(reload(f, false), -EACCES);
        expect_only(f, 0, "cannot open: Permission denied");
}

/* ---- limits ---- */

static void test_rule_cap(void **state)
{
        struct fixture *f = *state;
        size_t sz = 300 * 40, o = 0;
        char *text = malloc(sz);

        assert_non_null(text);
        for (int i = 0; i < 300; i++)
                o += (size_t)snprintf(text + o, sz - o, "[rule r%d]\npid = %d\n", i, i + 1);
        assert_int_equal(load(f, text), -EINVAL);
        /* One message for the 257th rule (line 513), none for the later ones. */
        expect_only(f, 2 * CONFIG_RULES_MAX + 1, "too many rules (at most 256); this one and any later ones are ignored");
        assert_int_equal(f->cfg.n_rules, CONFIG_RULES_MAX);
        assert_string_equal(f->cfg.rules[CONFIG_RULES_MAX - 1].name, "r255");
        free(text);
}

static void test_pid_cap(void **state)
{
        struct fixture *f = *state;
        size_t sz = 16 * 1100, o = 0;
        char *text = malloc(sz);

        assert_non_null(text);
        /* Lists on two lines count together. */
        o += (size_t)snprintf(text, sz, "[rule a]\npid =");
        for (int i = 1; i <= RULE_PIDS_MAX + 1; i++)
                o += (size_t)snprintf(text + o, sz - o, i == 700 ? " %d\npid =" : " %d", i);
        o += (size_t)snprintf(text + o, sz - o, "\n");
        assert_int_equal(load(f, text), -EINVAL);
        expect_only(f, 3, "pid: too many pids in one rule (at most 1024)");

        o = (size_t)snprintf(text, sz, "[rule a]\n");
        for (int i = 1; i <= RULE_PIDS_MAX + 1; i++)
                o += (size_t)snprintf(text + o, sz - o, "pid = %d\n", i);
        assert_int_equal(load(f, text), -EINVAL);
        expect_only(f, 2 + RULE_PIDS_MAX, "pid: too many pids in one rule (at most 1024)");
        free(text);
}

static void test_diag_cap(void **state)
{
        struct fixture *f = *state;
        size_t sz = 300 * 16, o = 0;
        char *text = malloc(sz);

        assert_non_null(text);
        o += (size_t)snprintf(text, sz, "[daemon]\n");
        for (int i = 0; i < 300; i++)
                o += (size_t)snprintf(text + o, sz - o, "bogus%d\n", i);
        assert_int_equal(load(f, text), -EINVAL);
        assert_int_equal(f->diag.n, CONFIG_DIAG_MAX + 1);
        expect_msg(f, CONFIG_DIAG_MAX - 1, f->path, CONFIG_DIAG_MAX + 1, "expected 'key = value'");
        assert_string_equal(f->diag.msgs[CONFIG_DIAG_MAX], "too many errors; the rest are not shown");
        free(text);

        /* A NULL diag still fails the load. */
        config_free(&f->cfg);
        assert_int_equal(config_defaults(&f->cfg), 0);
        assert_int_equal(config_load(&f->cfg, f->path, true, NULL), -EINVAL);
}

/* ---- rules from the command line ---- */

static void test_cmdline_rules(void **state)
{
        struct fixture *f = *state;

        assert_int_equal(config_add_pid_rule(&f->cfg, 42, &f->diag), 0);
        assert_int_equal(config_add_pid_rule(&f->cfg, 42, &f->diag), -EEXIST);
        expect_msg(f, 0, "--pid 42", 0, "a rule named 'pid-42' already exists");
        assert_int_equal(config_add_pid_rule(&f->cfg, 0, &f->diag), -EINVAL);
        expect_msg(f, 1, "--pid 0", 0, "not a process id (1..4194304)");
        assert_int_equal(config_add_pid_rule(&f->cfg, CONFIG_PID_MAX + 1, &f->diag), -EINVAL);

        assert_int_equal(config_add_match_rule(&f->cfg, "^/usr/sbin/nginx( |$)", &f->diag), 0);
        assert_int_equal(config_add_match_rule(&f->cfg, "java", &f->diag), 0);
        assert_int_equal(config_add_match_rule(&f->cfg, "(", &f->diag), -EINVAL);
        expect_msg(f, 3, "--match '('", 0, "invalid regular expression: ");
        assert_int_equal(config_add_match_rule(&f->cfg, "", &f->diag), -EINVAL);
        expect_msg(f, 4, "--match", 0, "empty regular expression");
        assert_int_equal(f->diag.n, 5);

        assert_int_equal(f->cfg.n_rules, 3);
        assert_string_equal(f->cfg.rules[0].name, "pid-42");
        assert_int_equal(f->cfg.rules[0].n_pids, 1);
        assert_int_equal(f->cfg.rules[0].pids[0], 42);
        assert_string_equal(f->cfg.rules[0].file, "--pid");
        assert_string_equal(f->cfg.rules[1].name, "match-1");
        assert_string_equal(f->cfg.rules[1].cmdline_re_src, "^/usr/sbin/nginx( |$)");
        assert_string_equal(f->cfg.rules[2].name, "match-2");

        /* With a configured "match-1", the next --match takes the next free name. */
        expect_clean(f, load(f, "[daemon]\nhook = /x\n[rule match-1]\nname = x\n[rule b]\ncmdline = y\n"));
        assert_int_equal(config_add_match_rule(&f->cfg, "y", &f->diag), 0);
        assert_string_equal(f->cfg.rules[2].name, "match-2");

        /* The command line's rules replace the file's; the rest stays. */
        config_drop_rules(&f->cfg);
        assert_int_equal(f->cfg.n_rules, 0);
        assert_int_equal(f->cfg.n_hooks, 1);
        assert_int_equal(config_add_match_rule(&f->cfg, "z", &f->diag), 0);
        assert_string_equal(f->cfg.rules[0].name, "match-1");
        config_drop_rules(&f->cfg);
        config_drop_rules(&f->cfg);
}

/* A regex that would take regcomp() seconds and gigabytes (a{1,32767}: minutes) is
 * refused before it is compiled: a count above 255, or more than 4096 positions once
 * its repetitions are written out. Patterns within both are compiled as before. */
static void test_cmdline_regex_cost(void **state)
{
        static const char *const fine[] = {
                "a{1,255}", "(a{1,64}){1,64}", "^/usr/bin/(java|python3) .*-jar", "x{,255}", "[]{}a-z]{1,255}",
                "[[:alpha:]]{255}", "a{2}{255}", "a\\{99999", "a{,}",
        };
        static const struct {
                const char *re, *why;
        } costly[] = {
                { "a{1,256}", "a repetition count above 255" },
                { "a{1,32767}", "a repetition count above 255" },
                { "x{300,}", "a repetition count above 255" },
                { "(a{1,64}){1,65}", "over 4096 positions once its repetitions are written out" },
                { "((a{1,16}){1,16}){1,17}", "over 4096" },
                { "(a|b|c){1,255}(d|e|f){1,255}x{0,255}(y+){1,255}z{255}a{255}b{255}c{255}d{255}e{255}f{255}g{255}",
                  "over 4096" },
                { "[[:alpha:]]{255}[[:digit:]]{255}.{255}.{255}.{255}.{255}.{255}.{255}.{255}.{255}.{255}.{255}"
                  ".{255}.{255}.{255}.{255}.{255}", "over 4096" },
        };
        struct fixture *f = *state;
        char text[512], fragment[256];

        for (size_t i = 0; i < ELEMENTSOF(fine); i++) {
                snprintf(text, sizeof(text), "[rule a]\ncmdline = %s\n", fine[i]);
                if (load(f, text) != 0)
                        print_message("%s\n", fine[i]);
                expect_clean(f, load(f, text));
        }
        for (size_t i = 0; i < ELEMENTSOF(costly); i++) {
                snprintf(text, sizeof(text), "[rule a]\ncmdline = %s\n", costly[i].re);
                if (load(f, text) != -EINVAL)
                        print_message("%s\n", costly[i].re);
                assert_int_equal(load(f, text), -EINVAL);
                /* (Values longer than 80 bytes are cut in messages.) */
                snprintf(fragment, sizeof(fragment), "cmdline: invalid regular expression '%.40s", costly[i].re);
                expect_only(f, 2, fragment);
                assert_non_null(strstr(f->diag.msgs[0], costly[i].why));
                /* --match takes the same regexes. */
                config_diag_free(&f->diag);
                assert_int_equal(config_add_match_rule(&f->cfg, costly[i].re, &f->diag), -EINVAL);
                assert_int_equal(f->diag.n, 1);
                assert_int_equal(strncmp(f->diag.msgs[0], "--match '", 9), 0);
                assert_non_null(strstr(f->diag.msgs[0], costly[i].why));
        }
}

static void test_cmdline_rule_cap(void **state)
{
        struct fixture *f = *state;

        for (int i = 1; i <= CONFIG_RULES_MAX; i++)
                assert_int_equal(config_add_pid_rule(&f->cfg, i, &f->diag), 0);
        assert_int_equal(config_add_pid_rule(&f->cfg, 1000, &f->diag), -E2BIG);
        assert_int_equal(config_add_match_rule(&f->cfg, "x", &f->diag), -E2BIG);
        assert_int_equal(config_add_default_rule(&f->cfg), -E2BIG);
        expect_msg(f, 0, "--pid 1000", 0, "too many rules (at most 256)");
        expect_msg(f, 1, "--match", 0, "too many rules");
}

/* config_free leaves a struct that can be freed again or refilled. */
static void test_free_reuse(void **state)
{
        struct fixture *f = *state;

        expect_clean(f, load(f, "[daemon]\nhook = /x\n[rule a]\ncmdline = x\non-end = /y z\n"));
        config_free(&f->cfg);
        config_free(&f->cfg);
        config_free(NULL);
        assert_int_equal(config_defaults(&f->cfg), 0);
        check_defaults(&f->cfg);
        config_diag_free(&f->diag);
        config_diag_free(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                TEST(test_defaults),
                TEST(test_missing_file),
                TEST(test_shipped),
                TEST(test_shipped_examples_valid),
                TEST(test_full_config),
                TEST(test_agent_keys),
                TEST(test_intervals_follow),
                TEST(test_flags_as_keys),
                TEST(test_flag_errors),
                TEST(test_escalate_keys),
                TEST(test_errors),
                TEST(test_all_errors),
                TEST(test_escaped_values),
                TEST(test_long_value_cut),
                TEST(test_long_lines),
                TEST(test_crlf_and_bom),
                TEST(test_nul_byte),
                TEST(test_long_rule_name),
                TEST(test_dropins),
                TEST(test_dropin_errors),
                TEST(test_dropin_dir_errors),
                TEST(test_not_regular),
                TEST(test_world_writable),
                TEST(test_too_large),
                TEST(test_unreadable),
                TEST(test_rule_cap),
                TEST(test_pid_cap),
                TEST(test_diag_cap),
                TEST(test_cmdline_rules),
                TEST(test_cmdline_rule_cap),
                TEST(test_cmdline_regex_cost),
                TEST(test_free_reuse),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
