/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-config: leakwatch.conf through config_load() — the real path: the input is
 * written to a file, which the loader opens, checks, reads and hands to inih through
 * its own line reader.
 *
 * Properties:
 *   - the loader says 0 exactly when it gave no message, and -EINVAL (or -ENOMEM)
 *     otherwise; every message names the file, is one printable line (no control
 *     characters, valid UTF-8, no C1 controls, line separators or bidirectional
 *     overrides: values are escaped) and is bounded, and there are at most
 *     CONFIG_DIAG_MAX of them and the one saying the rest were left out;
 *   - a configuration it accepts keeps the rules the man page states: the periods
 *     that follow interval are at least interval, a window holds
 *     CONFIG_WINDOW_MIN_SAMPLES samples (the global one and every rule's), coarser
 *     retention is kept at least as long as finer, every rule has a valid name and a
 *     selector, every hook an absolute program and a bounded argument list. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fuzz.h"
#include "util.h"

/* Rounding slack of the loader's own comparisons of durations (config.c). */
#define SLACK (1 - 1e-9)
/* A message quotes at most 80 bytes of a value, escaped to at most four characters
 * each, besides its own words and the file's name: 2 KiB is far above any. */
#define MESSAGE_MAX 2048

static char dir[] = "/tmp/leakwatch-fuzz-config-XXXXXX";
static char path[sizeof(dir) + sizeof("/leakwatch.conf")];

static void cleanup(void)
{
        unlink(path);
        rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc UNUSED, char ***argv UNUSED)
{
        /* A directory of its own: the loader also reads DIR/conf.d, which must not exist. */
        if (!mkdtemp(dir)) {
                perror("fuzz-config: mkdtemp");
                exit(EXIT_FAILURE);
        }
        snprintf(path, sizeof(path), "%s/leakwatch.conf", dir);
        atexit(cleanup);
        return 0;
}

/* One printable line, as str_escape() makes them. */
static void check_message(const char *msg)
{
        size_t n = strlen(msg);

        FUZZ_CHECK(n > 0 && n <= MESSAGE_MAX);
        FUZZ_CHECK(strncmp(msg, path, strlen(path)) == 0 && msg[strlen(path)] == ':');
        FUZZ_CHECK(utf8_valid(msg, n));
        for (size_t i = 0; i < n;) {
                uint32_t cp;
                size_t k = utf8_decode((const unsigned char *)msg + i, n - i, &cp);

                FUZZ_CHECK(k > 0);
                FUZZ_CHECK(cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp <= 0x9f));
                FUZZ_CHECK(cp != 0x2028 && cp != 0x2029 && !(cp >= 0x202a && cp <= 0x202e) &&
                           !(cp >= 0x2066 && cp <= 0x2069));
                i += k;
        }
}

static void check_hooks(const struct hook_cfg *hooks, size_t n)
{
        FUZZ_CHECK(n <= HOOKS_MAX);
        for (size_t i = 0; i < n; i++) {
                size_t words = 0;

                FUZZ_CHECK(hooks[i].argv && hooks[i].argv[0] && hooks[i].argv[0][0] == '/');
                while (hooks[i].argv[words])
                        words++;
                FUZZ_CHECK(words <= HOOK_ARGV_MAX);
                FUZZ_CHECK(hooks[i].events != 0 && (hooks[i].events & ~(unsigned)HOOK_ON_ALL) == 0);
        }
}

static void check_accepted(const struct config *cfg)
{
        FUZZ_CHECK(cfg->interval > 0);
        FUZZ_CHECK(cfg->scan_interval >= cfg->interval * SLACK);
        FUZZ_CHECK(cfg->commit_interval >= cfg->interval * SLACK);
        FUZZ_CHECK(cfg->smaps_max_interval >= cfg->smaps_min_interval * SLACK);
        /* 0: no window pinned, every time scale (lib/scales.h) */
        FUZZ_CHECK(cfg->window == 0 || cfg->window >= cfg->interval * CONFIG_WINDOW_MIN_SAMPLES * SLACK);
        FUZZ_CHECK(cfg->retention_minute >= cfg->retention_raw * SLACK);
        FUZZ_CHECK(cfg->retention_hour >= cfg->retention_minute * SLACK);
        FUZZ_CHECK(cfg->runtime_dir && strlen(cfg->runtime_dir) <= CONFIG_RUNTIME_DIR_MAX);
        FUZZ_CHECK(cfg->db_path && cfg->proc_root);
        check_hooks(cfg->hooks, cfg->n_hooks);
        FUZZ_CHECK(cfg->n_rules <= CONFIG_RULES_MAX);
        for (size_t i = 0; i < cfg->n_rules; i++) {
                const struct rule_cfg *r = &cfg->rules[i];
                size_t n = strlen(r->name);

                FUZZ_CHECK(n > 0 && n <= RULE_NAME_MAX);
                FUZZ_CHECK(strspn(r->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@:-") == n);
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(cfg->rules[j].name, r->name) != 0);
                FUZZ_CHECK(r->n_pids || r->comm_glob || r->cmdline_re_src || r->has_uid || r->unit_glob ||
                           r->cgroup_prefix || r->all || r->manual);
                FUZZ_CHECK(r->n_pids <= RULE_PIDS_MAX);
                for (size_t k = 1; k < r->n_pids; k++)
                        FUZZ_CHECK(r->pids[k - 1] < r->pids[k]);
                FUZZ_CHECK(r->window == 0 || r->window >= cfg->interval * CONFIG_WINDOW_MIN_SAMPLES * SLACK);
                FUZZ_CHECK(!r->cgroup_prefix || r->cgroup_prefix[0] == '/');
                check_hooks(r->hooks, r->n_hooks);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct config cfg = { 0 };
        struct config_diag diag = { 0 };
        int fd, r;

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) < 0) {
                perror("fuzz-config: writing the input");
                abort();
        }
        if (config_defaults(&cfg) < 0)
                abort();
        r = config_load(&cfg, path, true, &diag);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r != -ENOMEM)
                FUZZ_CHECK((r == 0) == (diag.n == 0));
        FUZZ_CHECK(diag.n <= CONFIG_DIAG_MAX + 1);
        for (size_t i = 0; i < diag.n; i++)
                if (i < CONFIG_DIAG_MAX)
                        check_message(diag.msgs[i]);
        if (r == 0)
                check_accepted(&cfg);
        config_diag_free(&diag);
        config_free(&cfg);
        return 0;
}
