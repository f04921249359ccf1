/* SPDX-License-Identifier: GPL-2.0-or-later */
/* log: one place where messages leave the program — the journal with structured
 * fields when stderr is connected to it, plain lines on stderr otherwise. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

/* A message longer than this is cut: one log line must not be able to carry a whole
 * hook's output or a megabyte command line. */
#define LOG_MSG_MAX 2048
/* Structured fields per message, beyond MESSAGE/PRIORITY/SYSLOG_IDENTIFIER. */
#define LOG_FIELDS_MAX 24

static const char *log_ident = "leakwatch";
static bool log_journal;
static int log_max_level = LOG_INFO;

static bool stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_open(const char *ident, bool force_journal)
{
        if (ident)
                log_ident = ident;
        log_journal = force_journal || stderr_is_journal();
}

void log_set_max_level(int prio) { log_max_level = prio; }
int log_get_max_level(void) { return log_max_level; }
bool log_to_journal(void) { return log_journal; }

static const char *prio_name(int prio)
{
        static const char *const names[] = { "emerg", "alert", "crit", "error",
                                             "warning", "notice", "info", "debug" };
        return prio >= 0 && prio < (int)ELEMENTSOF(names) ? names[prio] : "?";
}

/* Escapes control bytes and invalid UTF-8 so text cannot forge a line; a backslash is
 * kept as it is, because messages often quote text that was escaped already (config
 * errors quote the offending value) and doubling it would garble them. */
static size_t escape_for_line(const char *s, char *out, size_t outsz)
{
        size_t o = 0, len = strlen(s);

        for (size_t i = 0; i < len && o + 1 < outsz;) {
                const char *bs = memchr(s + i, '\\', len - i);
                size_t run = bs ? (size_t)(bs - (s + i)) : len - i;

                o += str_escape(s + i, run, out + o, outsz - o);
                i += run;
                if (bs && o + 1 < outsz) {
                        out[o++] = '\\';
                        out[o] = '\0';
                        i++;
                } else if (bs) {
                        break;
                }
        }
        return o;
}

static void log_stderr(int prio, const struct log_field *fields, size_t n, const char *msg)
{
        char line[LOG_MSG_MAX * 2];
        size_t o;

        o = (size_t)snprintf(line, sizeof(line), "%s: ", log_ident);
        if (prio <= LOG_WARNING)
                o += (size_t)snprintf(line + o, sizeof(line) - o, "%s: ", prio_name(prio));
        if (o < sizeof(line))
                o += escape_for_line(msg, line + o, sizeof(line) - o);
        for (size_t i = 0; i < n && o + 4 < sizeof(line); i++) {
                const char *k = fields[i].key;

                if (!fields[i].value)
                        continue;
                /* LEAKWATCH_PID -> pid: the prefix is noise on a terminal. */
                if (strncmp(k, "LEAKWATCH_", 10) == 0)
                        k += 10;
                line[o++] = ' ';
                for (; *k && o + 2 < sizeof(line); k++)
                        line[o++] = (char)tolower((unsigned char)*k);
                line[o++] = '=';
                o += str_escape(fields[i].value, strlen(fields[i].value), line + o, sizeof(line) - o);
        }
        if (o >= sizeof(line) - 1)
                o = sizeof(line) - 2;
        line[o++] = '\n';
        /* One write per line so concurrent writers do not interleave mid-line. */
        (void)write_full(STDERR_FILENO, line, o);
}

static void log_journal_send(int prio, const struct log_field *fields, size_t n, const char *msg)
{
        char buf[LOG_FIELDS_MAX + 3][LOG_MSG_MAX + 64];
        struct iovec iov[LOG_FIELDS_MAX + 3];
        size_t k = 0;

        snprintf(buf[k], sizeof(buf[k]), "MESSAGE=%s", msg);
        k++;
        snprintf(buf[k], sizeof(buf[k]), "PRIORITY=%d", prio);
        k++;
        snprintf(buf[k], sizeof(buf[k]), "SYSLOG_IDENTIFIER=%s", log_ident);
        k++;
        for (size_t i = 0; i < n && i < LOG_FIELDS_MAX; i++) {
                if (!fields[i].value)
                        continue;
                snprintf(buf[k], sizeof(buf[k]), "%s=%s", fields[i].key, fields[i].value);
                k++;
        }
        for (size_t i = 0; i < k; i++)
                iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = strlen(buf[i]) };
        if (sd_journal_sendv(iov, (int)k) < 0)
                log_stderr(prio, fields, n, msg);
}

void log_fields(int prio, const struct log_field *fields, size_t n, const char *fmt, ...)
{
        char msg[LOG_MSG_MAX];
        int saved = errno;
        va_list ap;

        if (prio > log_max_level)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (log_journal)
                log_journal_send(prio, fields, n, msg);
        else
                log_stderr(prio, fields, n, msg);
        errno = saved;
}

bool ratelimit_allow(struct ratelimit *rl, usec_t now, unsigned *ret_suppressed)
{
        if (ret_suppressed)
                *ret_suppressed = 0;
        if (rl->begin == 0 || now - rl->begin >= rl->interval) {
                if (ret_suppressed)
                        *ret_suppressed = rl->suppressed;
                rl->begin = now;
                rl->num = 1;
                rl->suppressed = 0;
                return true;
        }
        if (rl->num < rl->burst) {
                rl->num++;
                return true;
        }
        rl->suppressed++;
        return false;
}
