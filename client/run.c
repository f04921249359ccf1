/* SPDX-License-Identifier: GPL-2.0-or-later */
/* run: leakwatch run — a command run, watched and judged.
 *
 * Who samples: leakwatchd, when it runs, lets us in, samples often enough for the
 * window and keeps a database we can read. The command is then put under its built-in
 * "run" rule (children included) with the run's window, the database is read while it
 * runs for the detector's state changes, and the verdict is read from it at the end.
 * Otherwise, or with --local, --interval or --db-out, the daemon's own watch runs
 * in-process (core/watch.h) on a database of the run's own. Either way the
 * verdict comes from a database through the same code (verdict.h).
 *
 * The command is started with fork and execvp on its argv; a pipe closed on exec tells
 * whether exec worked (127 and 126 as a shell gives them when it did not), and only a
 * started program is watched, so its series never begins with our own image. One loop
 * then waits for signals with a deadline: SIGCHLD for its end, SIGINT, SIGTERM and
 * SIGHUP to pass on to it, the deadline for the next tick or poll. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "detect.h"
#include "live.h"
#include "log.h"
#include "proc.h"
#include "proto.h"
#include "verdict.h"
#include "watch.h"

/* Five samples to each of the detector's 24 buckets: a bucket's floor is then a real
 * minimum, not one lucky sample. */
#define SAMPLES_PER_WINDOW 120
/* The default interval is never longer than leakwatchd's own default: a long window
 * gains nothing from sampling less often than a server does. */
#define INTERVAL_CAP 10.0
/* How often the database is read while the command runs: a state change shows within
 * a second, and each read is one short read transaction. */
#define POLL_USEC (1 * USEC_PER_SEC)
/* After the command ended, how long leakwatchd may take to record it: it notices at its
 * next tick and writes at its next commit (each interval by default); half a minute
 * more covers a commit-interval set longer and a database busy for a while. */
#define END_WAIT_EXTRA_USEC (30 * USEC_PER_SEC)
/* How often to look for that record meanwhile. */
#define END_POLL_USEC (200 * USEC_PER_MSEC)
/* Exit statuses of a command that could not be started, as a shell gives them. */
#define EXIT_NOT_FOUND 127
#define EXIT_NOT_EXECUTABLE 126

/* The agents report no more often than this during a run: a Python agent and a probe in
 * one process, each every 2 s, make the one report a second per process that the
 * receiver keeps by default (agent-interval, docs/agents.md); faster ones would be
 * dropped. A one-minute window's quarter, what classification compares, then still
 * holds some seven reports of each. */
#define AGENT_INTERVAL_MIN 2.0
/* ... and at least this often: the agents' own default, which a run never slows. */
#define AGENT_INTERVAL_MAX 10.0
/* The variables the environment gets for the agents, at most: PYTHONPATH, LD_PRELOAD,
 * LEAKWATCH_AGENT, _AGENT_SOCKET, _AGENT_INTERVAL, _PROBE_INTERVAL, and LEAKWATCH_RUN. */
#define ENV_ADDED_MAX 7
#define PROBE_NAME "libleakwatch-probe.so"
/* Where make install puts the agents (the Makefile passes $(LIBDIR)/leakwatch). */
#ifndef LEAKWATCH_AGENT_LIBDIR
#error "LEAKWATCH_AGENT_LIBDIR must be defined"
#endif
#define PYTHON_SUBDIR "python"

/* Whether entry (NAME=VALUE) sets name. */
static bool env_is(const char *entry, const char *name)
{
        size_t len = strlen(name);

        return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

/* The value of base's first name, or NULL. */
static const char *env_value(char *const *base, const char *name)
{
        for (size_t i = 0; base && base[i]; i++)
                if (env_is(base[i], name))
                        return base[i] + strlen(name) + 1;
        return NULL;
}

/* NAME=ours, or NAME=old SEP ours when prepend is false (NAME=ours SEP old when true);
 * an empty old value is left out (an empty PYTHONPATH entry would mean the current
 * directory). */
static char *env_join(const char *name, const char *ours, const char *old, bool prepend)
{
        char *s;
        int k;

        if (!old || !*old)
                k = asprintf(&s, "%s=%s", name, ours);
        else if (prepend)
                k = asprintf(&s, "%s=%s:%s", name, ours, old);
        else
                k = asprintf(&s, "%s=%s:%s", name, old, ours);
        return k < 0 ? NULL : s;
}

/* Whether entries a and b (NAME=VALUE) set the same name. */
static bool env_same_name(const char *a, const char *b)
{
        size_t len = strcspn(b, "=");

        return strncmp(a, b, len) == 0 && a[len] == '=';
}

char **run_child_environment(char *const *base, const struct run_agents *agents)
{
        char *added[ENV_ADDED_MAX] = { 0 }, **env = NULL, *p;
        size_t n = 0, n_added = 0, k = 0, bytes = 0;
        bool oom = false;

        added[n_added++] = strdup("LEAKWATCH_RUN=1");
        if (agents && (agents->python_dir || agents->probe)) {
                /* The run's values win over inherited ones, which may name another
                 * daemon's socket or turn the agents off. */
                added[n_added++] = strdup("LEAKWATCH_AGENT=1");
                if (agents->socket && asprintf(&added[n_added++], "LEAKWATCH_AGENT_SOCKET=%s", agents->socket) < 0)
                        added[n_added - 1] = NULL;
                if (agents->interval > 0) {
                        /* Numbers print in the C locale here (main sets LC_CTYPE only),
                         * as the agents read them. */
                        if (asprintf(&added[n_added++], "LEAKWATCH_AGENT_INTERVAL=%g", agents->interval) < 0)
                                added[n_added - 1] = NULL;
                        if (asprintf(&added[n_added++], "LEAKWATCH_PROBE_INTERVAL=%g", agents->interval) < 0)
                                added[n_added - 1] = NULL;
                }
                if (agents->python_dir)
                        added[n_added++] = env_join("PYTHONPATH", agents->python_dir, env_value(base, "PYTHONPATH"),
                                                    true);
                if (agents->probe)
                        added[n_added++] = env_join("LD_PRELOAD", agents->probe, env_value(base, "LD_PRELOAD"),
                                                    false);
        }
        for (size_t i = 0; i < n_added; i++) {
                if (!added[i])
                        oom = true;
                else
                        bytes += strlen(added[i]) + 1;
        }
        if (oom)
                goto out;
        while (base && base[n])
                n++;
        /* One allocation: the array, then the new strings after it. */
        env = malloc((n + n_added + 1) * sizeof(*env) + bytes);
        if (!env)
                goto out;
        /* What base sets that we set too gives way (a merged list holds its value). */
        for (size_t i = 0; i < n; i++) {
                bool keep = true;

                for (size_t j = 0; j < n_added && keep; j++)
                        keep = !env_same_name(base[i], added[j]);
                if (keep)
                        env[k++] = base[i];
        }
        p = (char *)(env + n + n_added + 1);
        for (size_t i = 0; i < n_added; i++) {
                size_t len = strlen(added[i]) + 1;

                memcpy(p, added[i], len);
                env[k++] = p;
                p += len;
        }
        env[k] = NULL;
out:
        for (size_t i = 0; i < n_added; i++)
                free(added[i]);
        return env;
}

/* Whether path is a regular file (a symbolic link to one counts: installed libraries
 * often are). */
static bool regular_file(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int run_find_agents(const char *const *dirs, size_t n, struct run_agent_files *ret)
{
        struct run_agent_files f;

        for (size_t i = 0; i < n; i++) {
                char dir[PATH_MAX], a[PATH_MAX + 64], b[PATH_MAX + 64];

                memset(&f, 0, sizeof(f));
                /* Absolute and without symbolic links: the command may change directory,
                 * and the loaders split their lists at ':' (ld.so at blanks too). */
                if (!dirs[i] || !*dirs[i] || !realpath(dirs[i], dir) || strchr(dir, ':'))
                        continue;
                snprintf(a, sizeof(a), "%s/%s", dir, PROBE_NAME);
                if (!strpbrk(dir, " \t\n") && strlen(a) < sizeof(f.probe) && regular_file(a))
                        memcpy(f.probe, a, strlen(a) + 1);
                snprintf(a, sizeof(a), "%s/%s/sitecustomize.py", dir, PYTHON_SUBDIR);
                snprintf(b, sizeof(b), "%s/%s/leakwatch_agent.py", dir, PYTHON_SUBDIR);
                if (regular_file(a) && regular_file(b)) {
                        snprintf(a, sizeof(a), "%s/%s", dir, PYTHON_SUBDIR);
                        if (strlen(a) < sizeof(f.python_dir))
                                memcpy(f.python_dir, a, strlen(a) + 1);
                }
                if (f.probe[0] || f.python_dir[0]) {
                        memcpy(f.dir, dir, strlen(dir) + 1);
                        *ret = f;
                        return 0;
                }
        }
        memset(ret, 0, sizeof(*ret));
        return -ENOENT;
}

double run_agent_interval(double interval)
{
        return MIN(MAX(interval, AGENT_INTERVAL_MIN), AGENT_INTERVAL_MAX);
}

double run_default_interval(double window)
{
        return MIN(window / SAMPLES_PER_WINDOW, INTERVAL_CAP);
}

/* The longest interval that still puts a sample in each of the detector's buckets. */
static double max_interval(double window)
{
        struct detect_params p;

        detect_params_init(&p, DETECT_MEMORY, window);
        return p.bucket;
}

struct run {
        struct cli *c;
        struct run_info ri;
        struct out report;              /* where the report goes */
        struct out ev;                  /* where events go: standard error */
        FILE *report_file;              /* opened for -o FILE, else NULL */
        bool events;                    /* print state changes while it runs */
        sigset_t blocked, saved;
        struct sigaction saved_pipe;    /* SIGPIPE as we got it, for the command */

        /* in-process */
        struct config settings;         /* the in-process watch's */
        struct watch *local;            /* NULL: the daemon watches */
        char tmpdir[PATH_MAX - 16];     /* the run's private directory, or "";
                                         * shorter than db by room for "/run.db" */
        char db[PATH_MAX];              /* the database the samples go to */

        /* in-process agents */
        struct run_agent_files agent_files;
        char agent_socket[PATH_MAX];
        struct run_agents agents;
        bool agents_on;                 /* agents is filled in */

        char note[384];                 /* why in-process, for the report */
        char watch_error[384];          /* why it could not be watched */
        int64_t last_verdict;           /* the newest state change printed */
        bool reaped;
};

/* ---- who samples ---- */

/* Whether path can be read as a leakwatch database; if so it goes into r->db. */
static bool readable_db(struct run *r, const char *path, char *err, size_t errsz)
{
        struct query *q;

        if ((size_t)snprintf(r->db, sizeof(r->db), "%s", path) >= sizeof(r->db)) {
                if (err)
                        snprintf(err, errsz, "path too long");
                return false;
        }
        if (query_open(r->db, &q, err, errsz) < 0)
                return false;
        query_close(q);
        return true;
}

/* Whether leakwatchd can do the watching; if not, why not in r->note. On success the
 * database path to read is in r->db. */
static bool daemon_usable(struct run *r)
{
        struct live_status ls;
        _cleanup_free_ char *esc = NULL;
        char err[256], iv[32], need[32], w[32], its[sizeof(ls.database) + 48];

        live_status_get(r->c, &ls);
        if (ls.state != LIVE_RUNNING) {
                if (ls.state == LIVE_NOT_RUNNING)
                        snprintf(r->note, sizeof(r->note), "leakwatchd is not running");
                else if (ls.state == LIVE_DENIED)
                        snprintf(r->note, sizeof(r->note), "leakwatchd denied access: root and the leakwatch group "
                                 "only");
                else
                        snprintf(r->note, sizeof(r->note), "%s", ls.why);
                live_status_clear(&ls);
                return false;
        }
        if (!(ls.interval_s <= max_interval(r->ri.window))) {
                snprintf(r->note, sizeof(r->note), "leakwatchd samples every %s, too coarse for a %s window, which "
                         "needs %s or finer", format_duration(ls.interval_s, iv, sizeof(iv)),
                         format_duration(r->ri.window, w, sizeof(w)),
                         format_duration(max_interval(r->ri.window), need, sizeof(need)));
                live_status_clear(&ls);
                return false;
        }
        /* Its database as it names it; a relative name is relative to its own
         * directory, which /proc shows to whoever may see it. When that cannot be read
         * here (another mount namespace, a bind mount), --db names it for us. */
        if (ls.database[0] == '/')
                snprintf(its, sizeof(its), "%s", ls.database);
        else
                snprintf(its, sizeof(its), "/proc/%" PRId64 "/cwd/%s", ls.pid, ls.database);
        r->ri.daemon_pid = ls.pid;
        r->ri.interval = ls.interval_s;
        live_status_clear(&ls);
        if (readable_db(r, its, err, sizeof(err)) || (r->c->db_given && readable_db(r, r->c->db_path, NULL, 0)))
                return true;
        esc = out_escape(its, strlen(its));
        snprintf(r->note, sizeof(r->note), "cannot read leakwatchd's database %s: %s", esc ? esc : "?", err);
        return false;
}

/* The run's private directory: the temporary database (unless --db-out) and the
 * agents' socket. */
static int make_temp_dir(struct run *r)
{
        const char *base = getenv("TMPDIR");

        if (!base || !*base)
                base = "/tmp";
        if ((size_t)snprintf(r->tmpdir, sizeof(r->tmpdir), "%s/leakwatch-run-XXXXXX", base) >= sizeof(r->tmpdir)) {
                r->tmpdir[0] = '\0';
                return -ENAMETOOLONG;
        }
        if (!mkdtemp(r->tmpdir)) {
                r->tmpdir[0] = '\0';
                return -errno;
        }
        if (!r->c->db_out)
                snprintf(r->db, sizeof(r->db), "%s/run.db", r->tmpdir);
        return 0;
}

/* Removes the private directory, and the database in it; the agents' socket went
 * with the watch (watch_free). */
static void remove_temp_dir(struct run *r)
{
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        char path[PATH_MAX + 16];

        if (!r->tmpdir[0])
                return;
        for (size_t i = 0; !r->c->db_out && i < ELEMENTSOF(suffixes); i++) {
                snprintf(path, sizeof(path), "%s%s", r->db, suffixes[i]);
                (void)unlink(path);
        }
        (void)rmdir(r->tmpdir);
        r->tmpdir[0] = '\0';
}

/* Commits at most this often: each is a transaction with an fsync, and the run's
 * events are read back from the database, so about once a second is both cheap and
 * prompt. */
#define COMMIT_MIN_SECONDS 1.0
/* What the rule's row says it selects, for `leakwatch --db FILE status`. */
#define RUN_RULE_SPEC "the command of leakwatch run and its children"

/* The in-process watch's settings: the defaults with the run's window and interval, a
 * child picked up within one tick (as a new process is in the daemon), and only the
 * built-in rule, children included, for the command and its descendants. */
static int local_settings(const struct run *r, struct config *ret)
{
        int k = config_defaults(ret);

        if (k < 0)
                return k;
        free(ret->db_path);
        ret->db_path = strdup(r->db);
        if (!ret->db_path)
                return -ENOMEM;
        ret->interval = r->ri.interval;
        ret->scan_interval = r->ri.interval;
        ret->commit_interval = MAX(r->ri.interval, COMMIT_MIN_SECONDS);
        ret->window = r->ri.window;
        /* Without --window, the run's window is only the shortest scale: a command that
         * runs for hours is judged on the longer ones too. */
        ret->window_and_longer = !r->c->window_s;
        return config_add_manual_rule(ret);
}

/* Sets up in-process sampling. Returns EXIT_OK or an exit code after saying why. */
static int start_local(struct run *r)
{
        struct watch_env env;
        char err[512];
        int k;

        if (r->c->db_out)
                snprintf(r->db, sizeof(r->db), "%s", r->c->db_out);
        /* With --db-out and no agents there is nothing to put in it. */
        if (!r->c->db_out || !r->c->no_agent) {
                k = make_temp_dir(r);
                if (k < 0)
                        return cli_error(EXIT_FAIL, "run: cannot make a temporary directory: %s", strerror(-k));
        }
        k = local_settings(r, &r->settings);
        if (k < 0) {
                remove_temp_dir(r);
                return cli_error(EXIT_FAIL, "run: cannot set up the configuration: %s", strerror(-k));
        }
        env = (struct watch_env){
                .cfg = &r->settings,
                /* The daemon keeps itself and its children (hooks) out; here the child
                 * is the point. No process has PID -1, so nothing is kept out. */
                .self = -1,
                .new_database = true,
                .rule_spec = RUN_RULE_SPEC,
                .agent_dir = r->c->no_agent ? NULL : r->tmpdir,
        };
        k = watch_new(&env, &r->local, err, sizeof(err));
        if (k < 0) {
                remove_temp_dir(r);
                return cli_error(k == -EEXIST ? EXIT_USAGE : EXIT_FAIL, "run: %s", err);
        }
        watch_event(r->local, "start", "leakwatch run");
        /* The watch's modules report as the daemon would (an alert is a warning); here
         * the report says it all, and only real trouble is worth a line. */
        log_open("leakwatch", false);
        log_set_max_level(LOG_ERR);
        r->ri.daemon = false;
        r->ri.db_path = r->db;
        r->ri.db_kept = r->c->db_out != NULL;
        r->ri.note = r->note[0] ? r->note : NULL;
        return EXIT_OK;
}

/* ---- the agents ---- */

/* Finds the agents and where they report, into r->agents; says in one line what is
 * missing. Nothing here stops the run: agents only add detail to a verdict. */
static void setup_agents(struct run *r)
{
        const char *dirs[3] = { getenv("LEAKWATCH_AGENT_DIR"), LEAKWATCH_AGENT_LIBDIR, NULL };
        char self[PATH_MAX], esc[PATH_MAX * 4 + 1];
        ssize_t n;
        int k;

        if (r->c->no_agent)
                return;
        /* The build tree: the binary's own directory holds the probe and a copy of the
         * Python agent (the Makefile puts them there). */
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                char *slash;

                self[n] = '\0';
                slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        dirs[2] = self;
                }
        }
        if (run_find_agents(dirs, ELEMENTSOF(dirs), &r->agent_files) < 0) {
                (void)cli_error(EXIT_OK, "run: no in-process agents found (LEAKWATCH_AGENT_DIR, %s, or next to "
                                "leakwatch); running without them", LEAKWATCH_AGENT_LIBDIR);
                return;
        }
        if (r->local) {
                const char *path = NULL;

                k = watch_agent_socket(r->local, &path);
                if (k >= 0 && (size_t)snprintf(r->agent_socket, sizeof(r->agent_socket), "%s", path) >=
                                      sizeof(r->agent_socket))
                        k = -ENAMETOOLONG;
                if (k < 0) {
                        str_escape(r->tmpdir, strlen(r->tmpdir), esc, sizeof(esc));
                        (void)cli_error(EXIT_OK, "run: cannot listen for in-process agents in %s: %s; running "
                                        "without them", esc, strerror(-k));
                        return;
                }
        } else if ((size_t)snprintf(r->agent_socket, sizeof(r->agent_socket), "%s/%s", r->c->runtime_dir,
                                    AGENT_SOCKET_NAME) >= sizeof(r->agent_socket)) {
                (void)cli_error(EXIT_OK, "run: the runtime directory's path is too long for the agents' socket; "
                                "running without them");
                return;
        }
        str_escape(r->agent_files.dir, strlen(r->agent_files.dir), esc, sizeof(esc));
        if (!r->agent_files.probe[0])
                (void)cli_error(EXIT_OK, "run: no allocator probe (%s) in %s; the Python agent only", PROBE_NAME, esc);
        else if (!r->agent_files.python_dir[0])
                (void)cli_error(EXIT_OK, "run: no Python agent (%s/) in %s; the allocator probe only", PYTHON_SUBDIR,
                                esc);
        r->agents = (struct run_agents){
                .python_dir = r->agent_files.python_dir[0] ? r->agent_files.python_dir : NULL,
                .probe = r->agent_files.probe[0] ? r->agent_files.probe : NULL,
                .socket = r->agent_socket,
                .interval = run_agent_interval(r->ri.interval),
        };
        r->agents_on = true;
}

/* ---- the command ---- */

/* Starts argv with env; returns the pid, or an exit code (negated, as -127) after
 * saying why it could not be started. */
static pid_t spawn(struct run *r, char **argv, char **env)
{
        int pipefd[2], err = 0;
        ssize_t n;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -cli_error(EXIT_FAIL, "run: %s", strerror(errno));
        pid = fork();
        if (pid < 0) {
                err = errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return -cli_error(EXIT_FAIL, "run: cannot fork: %s", strerror(err));
        }
        if (pid == 0) {
                /* The child: our blocked and ignored signals are not the program's
                 * business. */
                close(pipefd[0]);
                sigaction(SIGPIPE, &r->saved_pipe, NULL);
                sigprocmask(SIG_SETMASK, &r->saved, NULL);
                execvpe(argv[0], argv, env);
                err = errno;
                (void)!write(pipefd[1], &err, sizeof(err));
                _exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE);
        }
        close(pipefd[1]);
        /* Nothing to read (end of file) once exec has closed the pipe. */
        do
                n = read(pipefd[0], &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        close(pipefd[0]);
        if (n == (ssize_t)sizeof(err)) {
                _cleanup_free_ char *name = out_escape(argv[0], strlen(argv[0]));

                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                if (err == ENOENT && !strchr(argv[0], '/'))
                        return -cli_error(EXIT_NOT_FOUND, "run: %s: command not found", name ? name : "?");
                return -cli_error(err == ENOENT ? EXIT_NOT_FOUND : EXIT_NOT_EXECUTABLE, "run: cannot run %s: %s",
                                  name ? name : "?", strerror(err));
        }
        return pid;
}

/* Puts the started command under watch: through the daemon, or (if it will not, or
 * in-process was chosen) locally. Returns EXIT_OK or an exit code. */
static int watch_child(struct run *r)
{
        int k;

        if (r->ri.daemon) {
                struct json_object *req = json_object_new_object();
                struct ctl_reply reply;

                if (!req)
                        return cli_error(EXIT_FAIL, "run: out of memory");
                json_object_object_add(req, "cmd", json_object_new_string("watch"));
                json_object_object_add(req, "pid", json_object_new_int64(r->ri.pid));
                json_object_object_add(req, "window_s", json_object_new_int64(llround(r->ri.window)));
                if (!r->c->window_s)
                        json_object_object_add(req, "scales", json_object_new_boolean(1));
                k = ctl_call(r->c->runtime_dir, req, CTL_TIMEOUT_MS, &reply);
                json_object_put(req);
                if (k == 0 && reply.ok && ctl_get_int(&reply, "process_id", &r->ri.root_id)) {
                        ctl_reply_clear(&reply);
                        return EXIT_OK;
                }
                if (k == 0 && reply.error == -ENOENT) {
                        /* It ended before it could be watched: too short to judge. */
                        ctl_reply_clear(&reply);
                        r->ri.root_id = 0;
                        return EXIT_OK;
                }
                /* The daemon went away or would not: watch it here instead, late but
                 * not never. */
                if (k == 0)
                        snprintf(r->note, sizeof(r->note), "leakwatchd would not watch it: %s", reply.message);
                else
                        live_describe(r->c, k, r->note, sizeof(r->note));
                if (k == 0)
                        ctl_reply_clear(&reply);
                r->ri.interval = r->c->interval_s ? r->c->interval_s : run_default_interval(r->ri.window);
                k = start_local(r);
                if (k != EXIT_OK)
                        return k;
        }
        k = watch_pid(r->local, r->ri.pid, CONFIG_MANUAL_RULE, 0, false, &r->ri.root_id);
        /* Its first sample now, and its children at the next scan. */
        if (k == 0)
                watch_wake(r->local, now_usec(CLOCK_MONOTONIC));
        if (k < 0 && k != -ENOENT) {
                snprintf(r->watch_error, sizeof(r->watch_error), "cannot watch it: %s", strerror(-k));
                r->ri.watch_error = r->watch_error;
        }
        if (k < 0)
                r->ri.root_id = 0;
        return EXIT_OK;
}

/* Reads the database for state changes since the last poll and prints them. */
static void poll_events(struct run *r)
{
        struct query *q;

        if (!r->events || !r->ri.root_id || query_open(r->ri.db_path, &q, NULL, 0) < 0)
                return;
        (void)run_print_events(&r->ev, q, &r->ri, &r->last_verdict);
        query_close(q);
}

/* Waits for a signal until the monotonic deadline; handles SIGCHLD (the command's
 * end) and passes on SIGINT, SIGTERM and SIGHUP. Returns the signal, or 0 at the
 * deadline. */
static int wait_signal(struct run *r, usec_t deadline)
{
        usec_t now = now_usec(CLOCK_MONOTONIC), left = deadline > now ? deadline - now : 0;
        struct timespec ts = { .tv_sec = (time_t)(left / USEC_PER_SEC),
                               .tv_nsec = (long)(left % USEC_PER_SEC) * 1000 };
        siginfo_t si;
        int sig, ws;

        sig = sigtimedwait(&r->blocked, &si, &ts);
        if (sig < 0)
                return 0;
        if (sig == SIGCHLD) {
                if (!r->reaped && waitpid(r->ri.pid, &ws, WNOHANG) == r->ri.pid) {
                        r->reaped = true;
                        r->ri.wait_status = ws;
                        r->ri.end_ms = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
                }
        } else if (!r->reaped && si.si_code != SI_KERNEL) {
                /* A terminal's ^C went to its whole foreground group, the command
                 * included; a signal sent to us alone (kill, a CI runner's timeout) is
                 * passed on, and the command decides what to make of it. */
                (void)kill(r->ri.pid, sig);
        }
        return sig;
}

/* Runs until the command has ended, ticking (in-process) or polling (daemon). */
static void loop(struct run *r)
{
        usec_t next_poll = now_usec(CLOCK_MONOTONIC) + POLL_USEC;

        while (!r->reaped) {
                usec_t deadline = r->local ? MIN(watch_next_tick(r->local), next_poll) : next_poll, now;

                (void)wait_signal(r, deadline);
                now = now_usec(CLOCK_MONOTONIC);
                if (r->local && now >= watch_next_tick(r->local))
                        watch_tick(r->local, now, NULL);
                if (now >= next_poll) {
                        poll_events(r);
                        next_poll = now + POLL_USEC;
                }
        }
}

/* Frees the in-process watch and its settings. */
static void stop_local(struct run *r)
{
        watch_free(r->local);
        r->local = NULL;
        config_free(&r->settings);
}

/* In-process: the last tick sees the command gone; what still runs is let go (recorded
 * as "unwatched"), and everything is written. */
static int finish_local(struct run *r)
{
        struct watch_report rep;
        char err[512] = "";
        int k;

        watch_tick(r->local, now_usec(CLOCK_MONOTONIC), NULL);
        k = watch_unwatch_all(r->local);
        watch_event(r->local, "stop", "leakwatch run");
        watch_flush(r->local, now_usec(CLOCK_MONOTONIC), &rep);
        if (rep.commit_error < 0) {
                snprintf(err, sizeof(err), "%s: %s", r->settings.db_path, store_errmsg(watch_store(r->local)));
                k = rep.commit_error;
        } else if (k < 0) {
                snprintf(err, sizeof(err), "out of memory");
        }
        stop_local(r);
        if (k < 0)
                return cli_error(EXIT_FAIL, "run: writing the samples: %s", err);
        return EXIT_OK;
}

/* Whether the process of row p still runs: its PID holds a process of the same start
 * time, so letting it go can never hit another process that got the PID since. */
static bool same_process(int proc, const struct query_process *p)
{
        char name[32], buf[1024];
        struct proc_stat st;
        ssize_t n;

        snprintf(name, sizeof(name), "%" PRId32 "/stat", p->pid);
        n = proc_read_file(proc, name, buf, sizeof(buf));
        return n > 0 && proc_parse_stat(buf, (size_t)n, &st) == 0 && (int64_t)st.starttime == p->start_ticks;
}

/* Through the daemon: waits until it has recorded the command's end (or gave it a
 * fair time), then asks it to let go of the command's children that still run. */
static void finish_daemon(struct run *r)
{
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + (usec_t)llround(r->ri.interval * 2 * 1e6) + END_WAIT_EXTRA_USEC;
        struct run_tree t = { 0 };
        struct query *q = NULL;
        bool ended = false;
        int proc;

        while (!ended && now_usec(CLOCK_MONOTONIC) < deadline) {
                if (query_open(r->ri.db_path, &q, NULL, 0) == 0) {
                        if (run_tree_load(q, r->ri.root_id, &t) == 0) {
                                ended = t.p[0].end_ms != 0;
                                run_tree_free(&t);
                        }
                        query_close(q);
                        q = NULL;
                }
                /* ^C here means "stop waiting": the verdict is then what was written. */
                if (!ended) {
                        int sig = wait_signal(r, now_usec(CLOCK_MONOTONIC) + END_POLL_USEC);

                        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
                                break;
                }
        }
        if (query_open(r->ri.db_path, &q, NULL, 0) < 0)
                return;
        proc = proc_root_open("/proc");
        if (proc >= 0 && run_tree_load(q, r->ri.root_id, &t) == 0) {
                for (size_t i = 0; i < t.n; i++) {
                        struct json_object *req;
                        struct ctl_reply reply;

                        if (t.p[i].end_ms || !same_process(proc, &t.p[i]))
                                continue;
                        req = json_object_new_object();
                        if (!req)
                                break;
                        json_object_object_add(req, "cmd", json_object_new_string("unwatch"));
                        json_object_object_add(req, "pid", json_object_new_int64(t.p[i].pid));
                        /* "Not watched" is fine: it ended meanwhile. */
                        if (ctl_call(r->c->runtime_dir, req, CTL_TIMEOUT_MS, &reply) == 0)
                                ctl_reply_clear(&reply);
                        json_object_put(req);
                }
                run_tree_free(&t);
        }
        safe_close(proc);
        query_close(q);
}

/* ---- the command line ---- */

static int check_options(struct cli *c, int argc, double *ret_window, double *ret_interval)
{
        double window = c->window_s ? c->window_s : RUN_DEFAULT_WINDOW, interval;
        char a[32], b[32], m[32];

        if (argc < 1)
                return cli_error(EXIT_USAGE, "run needs a command: leakwatch run [OPTIONS] [--] COMMAND [ARG]...");
        if (window < WINDOW_MIN || window > WINDOW_MAX)
                return cli_error(EXIT_USAGE, "--window: %s is outside " WINDOW_RANGE, format_duration(window, a, sizeof(a)));
        interval = c->interval_s ? c->interval_s : run_default_interval(window);
        if (interval > max_interval(window))
                return cli_error(EXIT_USAGE, "--interval %s is too long for a %s window: the detector needs a sample "
                                 "every %s or more often", format_duration(interval, a, sizeof(a)),
                                 format_duration(window, b, sizeof(b)),
                                 format_duration(max_interval(window), m, sizeof(m)));
        if (c->db_out && !*c->db_out)
                return cli_error(EXIT_USAGE, "--db-out: empty path");
        *ret_window = window;
        *ret_interval = interval;
        return EXIT_OK;
}

static int open_report(struct run *r)
{
        struct cli *c = r->c;
        FILE *f = stderr;

        if (c->output_path && strcmp(c->output_path, "-") == 0) {
                f = stdout;
        } else if (c->output_path) {
                r->report_file = fopen(c->output_path, "we");
                if (!r->report_file)
                        return cli_error(EXIT_FAIL, "run: cannot write %s: %s", c->output_path, strerror(errno));
                f = r->report_file;
        }
        out_init(&r->report, f, c->color_mode);
        r->report.bytes = c->out.bytes;
        r->report.utc = c->out.utc;
        r->report.full = c->out.full;
        out_init(&r->ev, stderr, c->color_mode);
        r->ev.bytes = c->out.bytes;
        r->events = c->format != FORMAT_JSON;
        return EXIT_OK;
}

/* Flushes (and closes a file of) the report; returns code, or EXIT_FAIL when the
 * report could not be written. */
static int close_report(struct run *r, int code)
{
        FILE *f = r->report.f;

        if (!f)
                return code;
        if (fflush(f) != 0 || ferror(f))
                code = cli_error(EXIT_FAIL, "run: writing the report: %s", strerror(errno));
        if (r->report_file && fclose(r->report_file) != 0 && code != EXIT_FAIL)
                code = cli_error(EXIT_FAIL, "run: writing %s: %s", r->c->output_path, strerror(errno));
        r->report_file = NULL;
        return code;
}

int cmd_run(struct cli *c, int argc, char **argv)
{
        struct run r = { .c = c };
        _cleanup_free_ char **env = NULL;
        struct query *q = NULL;
        bool failed;
        char err[256];
        pid_t pid;
        int code;

        code = check_options(c, argc, &r.ri.window, &r.ri.interval);
        if (code != EXIT_OK)
                return code;
        r.ri.argv = argv;
        /* A report nobody reads any more (its pipe's reader died with ^C) is an error
         * to say, not a death that leaves a temporary database behind. */
        sigaction(SIGPIPE, &(struct sigaction){ .sa_handler = SIG_IGN }, &r.saved_pipe);
        code = open_report(&r);
        if (code != EXIT_OK)
                goto out;
        if (c->local)
                snprintf(r.note, sizeof(r.note), "--local");
        else if (c->interval_s || c->db_out)
                snprintf(r.note, sizeof(r.note), "%s asks for it", c->db_out ? "--db-out" : "--interval");
        else if (daemon_usable(&r))
                r.ri.daemon = true;
        if (r.ri.daemon) {
                r.ri.db_path = r.db;
                r.ri.db_kept = true;
        } else {
                code = start_local(&r);
                if (code != EXIT_OK)
                        goto out;
        }
        setup_agents(&r);
        env = run_child_environment(environ, r.agents_on ? &r.agents : NULL);
        if (!env) {
                code = cli_error(EXIT_FAIL, "run: out of memory");
                goto out;
        }

        sigemptyset(&r.blocked);
        sigaddset(&r.blocked, SIGCHLD);
        sigaddset(&r.blocked, SIGINT);
        sigaddset(&r.blocked, SIGTERM);
        sigaddset(&r.blocked, SIGHUP);
        sigprocmask(SIG_BLOCK, &r.blocked, &r.saved);
        r.ri.start_ms = (int64_t)(now_usec(CLOCK_REALTIME) / USEC_PER_MSEC);
        fflush(NULL);
        pid = spawn(&r, argv, env);
        if (pid < 0) {
                code = -pid;
                goto out_mask;
        }
        r.ri.pid = pid;
        /* When nothing can watch it (said already), it still runs to its end. */
        failed = watch_child(&r) != EXIT_OK;
        loop(&r);

        if (r.local && !failed)
                failed = finish_local(&r) != EXIT_OK;
        else if (r.ri.daemon && r.ri.root_id)
                finish_daemon(&r);
        if (!failed && r.ri.root_id && query_open(r.ri.db_path, &q, err, sizeof(err)) < 0) {
                (void)cli_error(EXIT_FAIL, "run: cannot read the samples in %s: %s", r.ri.db_path, err);
                failed = true;
        }
        if (!failed) {
                poll_events(&r);
                failed = run_report(c, &r.report, q, &r.ri, &code) < 0;
        }
        query_close(q);
        if (failed)
                /* The command's own result is still worth knowing. */
                code = cli_error(EXIT_FAIL, "run: no verdict; the command's own status was %d",
                                 run_exit_status(RUN_NO_LEAK, r.ri.wait_status));
out_mask:
        sigprocmask(SIG_SETMASK, &r.saved, NULL);
out:
        stop_local(&r);
        remove_temp_dir(&r);
        code = close_report(&r, code);
        sigaction(SIGPIPE, &r.saved_pipe, NULL);
        return code;
}
