/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-rules: rule_matches over a table of rules and processes, with names and command
 * lines as hostile as a process can make them. No OS involved. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rules.h"
#include "util.h"

#define MiB (UINT64_C(1024) * 1024)

/* A rule as plain strings; made into a struct rule_cfg like the parser would. */
struct spec {
        const char *name;               /* comm glob */
        const char *cmdline;            /* regex */
        const char *unit;
        const char *cgroup;             /* as stored: no trailing '/' but "/" */
        bool has_uid;
        uid_t uid;
        bool all;
        uint64_t min_rss;
        pid_t pids[4];                  /* sorted, 0-terminated */
};

static char *dup_or_null(const char *s)
{
        char *d = s ? strdup(s) : NULL;

        assert_true(!s || d);
        return d;
}

static void rule_make(struct rule_cfg *r, const struct spec *s)
{
        memset(r, 0, sizeof(*r));
        r->comm_glob = dup_or_null(s->name);
        r->unit_glob = dup_or_null(s->unit);
        r->cgroup_prefix = dup_or_null(s->cgroup);
        if (s->cmdline) {
                assert_int_equal(regcomp(&r->cmdline_re, s->cmdline, REG_EXTENDED | REG_NOSUB), 0);
                r->cmdline_re_src = dup_or_null(s->cmdline);
        }
        r->has_uid = s->has_uid;
        r->uid = s->uid;
        r->all = s->all;
        r->min_rss = s->min_rss;
        while (r->n_pids < ELEMENTSOF(s->pids) && s->pids[r->n_pids])
                r->n_pids++;
        r->pids = r->n_pids ? malloc(r->n_pids * sizeof(pid_t)) : NULL;
        if (r->n_pids)
                memcpy(r->pids, s->pids, r->n_pids * sizeof(pid_t));
}

static void rule_clear(struct rule_cfg *r)
{
        free(r->comm_glob);
        free(r->unit_glob);
        free(r->cgroup_prefix);
        if (r->cmdline_re_src)
                regfree(&r->cmdline_re);
        free(r->cmdline_re_src);
        free(r->pids);
}

/* Each case overrides the fields of a base process that matter to it: designated
 * initializers that repeat a field are the point here, not a mistake. */
#pragma GCC diagnostic ignored "-Woverride-init"

/* A user process of 100 MiB, uid 1000, in a service; cases change what they need. */
#define PROC(...) ((struct proc_desc){ .pid = 4242, .uid = 1000, .comm = "app", \
        .cmdline = "/usr/bin/app --serve", .cgroup = "/system.slice/app.service", \
        .unit = "app.service", .rss = 100 * MiB, __VA_ARGS__ })

/* A kernel thread as /proc shows one: no command line, no memory. */
#define KTHREAD(...) ((struct proc_desc){ .pid = 9, .uid = 0, .comm = "kworker/0:1", \
        .cmdline = "", .cgroup = "/", .unit = "", .rss = 0, .kthread = true, __VA_ARGS__ })

static const struct {
        const char *what;
        struct spec rule;
        struct proc_desc proc;
        bool match;
} cases[] = {
        /* all */
        { "all: a user process", { .all = true }, PROC(), true },
        { "all: not a kernel thread", { .all = true }, KTHREAD(), false },
        { "all: min-rss reached exactly", { .all = true, .min_rss = 32 * MiB }, PROC(.rss = 32 * MiB), true },
        { "all: below min-rss", { .all = true, .min_rss = 32 * MiB }, PROC(.rss = 32 * MiB - 1), false },

        /* name: an fnmatch glob against names the process chose */
        { "name: glob", { .name = "app*" }, PROC(.comm = "app-worker"), true },
        { "name: exact", { .name = "app" }, PROC(), true },
        { "name: no partial match", { .name = "app" }, PROC(.comm = "apps"), false },
        { "name: no suffix match", { .name = "app" }, PROC(.comm = "myapp"), false },
        { "name: spaces in the name", { .name = "nginx: worker*" }, PROC(.comm = "nginx: worker p"), true },
        { "name: ')' in the name", { .name = "a) b*" }, PROC(.comm = "a) b (c"), true },
        { "name: newline in the name", { .name = "evil*" }, PROC(.comm = "evil\nname"), true },
        { "name: newline is not a wildcard", { .name = "evil" }, PROC(.comm = "evil\n"), false },
        { "name: glob characters in the name are literal", { .name = "f?o" }, PROC(.comm = "f*o"), true },
        { "name: a literal '*' needs escaping", { .name = "f\\*o" }, PROC(.comm = "f*o"), true },
        { "name: escaped '*' is not a wildcard", { .name = "f\\*o" }, PROC(.comm = "fxo"), false },
        { "name: '[' in the name", { .name = "[[]x]" }, PROC(.comm = "[x]"), true },
        { "name: '/' is an ordinary character", { .name = "a*b" }, PROC(.comm = "a/b"), true },
        { "name: invalid UTF-8 in the name", { .name = "x*" }, PROC(.comm = "x\xff\xfe"), true },
        { "name: empty name", { .name = "app" }, PROC(.comm = ""), false },
        { "name: NULL reads as empty", { .name = "*" }, PROC(.comm = NULL), true },
        { "name: not a kernel thread", { .name = "kworker*" }, KTHREAD(), false },

        /* cmdline: an unanchored ERE over the joined command line */
        { "cmdline: search", { .cmdline = "--serve" }, PROC(), true },
        { "cmdline: anchored", { .cmdline = "^/usr/bin/app( |$)" }, PROC(), true },
        { "cmdline: anchored, other program", { .cmdline = "^/usr/bin/app( |$)" },
          PROC(.cmdline = "/usr/bin/apple"), false },
        { "cmdline: ';' and '#' in the regex", { .cmdline = "a;b #c" }, PROC(.cmdline = "x a;b #c y"), true },
        { "cmdline: '^' is the start of the whole line, not after a newline", { .cmdline = "^evil" },
          PROC(.cmdline = "/bin/x\nevil"), false },
        { "cmdline: '$' is the end of the whole line", { .cmdline = "x$" }, PROC(.cmdline = "x\ny"), false },
        { "cmdline: '.' matches a newline", { .cmdline = "a.b" }, PROC(.cmdline = "a\nb"), true },
        { "cmdline: empty command line", { .cmdline = "." }, PROC(.cmdline = ""), false },
        { "cmdline: not a kernel thread", { .cmdline = "^$" }, KTHREAD(), false },

        /* user */
        { "user: same uid", { .has_uid = true, .uid = 1000 }, PROC(), true },
        { "user: other uid", { .has_uid = true, .uid = 1000 }, PROC(.uid = 1001), false },
        { "user: root", { .has_uid = true, .uid = 0 }, PROC(.uid = 0), true },
        { "user: root, not a kernel thread", { .has_uid = true, .uid = 0 }, KTHREAD(), false },

        /* unit */
        { "unit: exact", { .unit = "app.service" }, PROC(), true },
        { "unit: glob", { .unit = "postgresql@*.service" }, PROC(.unit = "postgresql@15-main.service"), true },
        { "unit: other", { .unit = "*.scope" }, PROC(), false },
        { "unit: no unit never matches", { .unit = "*" }, PROC(.unit = ""), false },
        { "unit: NULL unit never matches", { .unit = "*" }, PROC(.unit = NULL), false },

        /* cgroup: whole path components */
        { "cgroup: the path itself", { .cgroup = "/system.slice/foo" }, PROC(.cgroup = "/system.slice/foo"), true },
        { "cgroup: below it", { .cgroup = "/system.slice/foo" }, PROC(.cgroup = "/system.slice/foo/bar"), true },
        { "cgroup: not a longer name", { .cgroup = "/system.slice/foo" },
          PROC(.cgroup = "/system.slice/foobar.service"), false },
        { "cgroup: not above it", { .cgroup = "/system.slice/foo" }, PROC(.cgroup = "/system.slice"), false },
        { "cgroup: not a sibling", { .cgroup = "/system.slice/foo" }, PROC(.cgroup = "/system.slice/fo"), false },
        { "cgroup: slice", { .cgroup = "/system.slice" }, PROC(), true },
        { "cgroup: root covers all", { .cgroup = "/" }, PROC(.cgroup = "/user.slice/x"), true },
        { "cgroup: root itself", { .cgroup = "/" }, PROC(.cgroup = "/"), true },
        { "cgroup: unknown never matches", { .cgroup = "/" }, PROC(.cgroup = ""), false },
        { "cgroup: NULL never matches", { .cgroup = "/" }, PROC(.cgroup = NULL), false },
        { "cgroup: not a kernel thread", { .cgroup = "/" }, KTHREAD(), false },

        /* pid */
        { "pid: listed", { .pids = { 1, 4242, 9999 } }, PROC(), true },
        { "pid: first and last", { .pids = { 4242, 9999 } }, PROC(.pid = 9999), true },
        { "pid: not listed", { .pids = { 1, 4241, 4243 } }, PROC(), false },
        { "pid: a listed kernel thread", { .pids = { 9 } }, KTHREAD(), true },
        { "pid: min-rss applies to a listed pid", { .pids = { 9 }, .min_rss = 1 }, KTHREAD(), false },

        /* selectors are AND-ed */
        { "and: name and user", { .name = "app", .has_uid = true, .uid = 1000 }, PROC(), true },
        { "and: name but not user", { .name = "app", .has_uid = true, .uid = 0 }, PROC(), false },
        { "and: user but not name", { .name = "db", .has_uid = true, .uid = 1000 }, PROC(), false },
        { "and: everything", { .name = "a*", .cmdline = "serve", .unit = "*.service", .cgroup = "/system.slice",
          .has_uid = true, .uid = 1000, .min_rss = 100 * MiB, .pids = { 4242 } }, PROC(), true },
        { "and: everything but min-rss", { .name = "a*", .cmdline = "serve", .unit = "*.service",
          .cgroup = "/system.slice", .has_uid = true, .uid = 1000, .min_rss = 100 * MiB + 1, .pids = { 4242 } },
          PROC(), false },
        { "and: a pid and a name exclude kernel threads", { .name = "kworker*", .pids = { 9 } }, KTHREAD(), false },
};

static void test_cases(void **state)
{
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct rule_cfg r;
                bool got;

                rule_make(&r, &cases[i].rule);
                got = rule_matches(&r, &cases[i].proc);
                rule_clear(&r);
                if (got != cases[i].match)
                        fail_msg("%s: %s, expected %s", cases[i].what, got ? "matched" : "did not match",
                                 cases[i].match ? "a match" : "none");
        }
}

/* A name or command line as long as /proc gives, full of bytes a glob or regex could
 * trip on, is still just compared. */
static void test_long_hostile_cmdline(void **state)
{
        static const char junk[] = "()[]{}*?+|^$\\.\n\t\x01\xff";
        char cmdline[4096];
        struct rule_cfg r;
        (void)state;

        for (size_t i = 0; i < sizeof(cmdline) - 1; i++)
                cmdline[i] = junk[i % (sizeof(junk) - 1)];
        cmdline[sizeof(cmdline) - 1] = '\0';
        rule_make(&r, &(struct spec){ .cmdline = "\\{\\}\\*\\?", .name = "*" });
        assert_true(rule_matches(&r, &PROC(.cmdline = cmdline, .comm = "(((((((((((")));
        rule_clear(&r);
        rule_make(&r, &(struct spec){ .cmdline = "^not-there" });
        assert_false(rule_matches(&r, &PROC(.cmdline = cmdline)));
        rule_clear(&r);
}

/* The rule the daemon uses when none is configured. */
static void test_default_rule(void **state)
{
        struct config cfg;
        (void)state;

        assert_int_equal(config_defaults(&cfg), 0);
        assert_int_equal(config_add_default_rule(&cfg), 0);
        assert_true(rule_matches(&cfg.rules[0], &PROC(.rss = CONFIG_DEFAULT_MIN_RSS)));
        assert_false(rule_matches(&cfg.rules[0], &PROC(.rss = CONFIG_DEFAULT_MIN_RSS - 1)));
        assert_false(rule_matches(&cfg.rules[0], &KTHREAD(.rss = CONFIG_DEFAULT_MIN_RSS)));
        config_free(&cfg);
}

/* Rules from the command line. */
static void test_cmdline_rules(void **state)
{
        struct config cfg;
        (void)state;

        assert_int_equal(config_defaults(&cfg), 0);
        assert_int_equal(config_add_pid_rule(&cfg, 4242, NULL), 0);
        assert_int_equal(config_add_match_rule(&cfg, "^/usr/bin/app ", NULL), 0);
        assert_true(rule_matches(&cfg.rules[0], &PROC()));
        assert_false(rule_matches(&cfg.rules[0], &PROC(.pid = 4243)));
        assert_true(rule_matches(&cfg.rules[1], &PROC()));
        assert_false(rule_matches(&cfg.rules[1], &PROC(.cmdline = "/usr/bin/app")));
        config_free(&cfg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cases),
                cmocka_unit_test(test_long_hostile_cmdline),
                cmocka_unit_test(test_default_rule),
                cmocka_unit_test(test_cmdline_rules),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
