/* SPDX-License-Identifier: GPL-2.0-or-later */
/* notify: what leakwatchd tells its service manager over sd_notify(3). */
#include "notify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>

/* Appends to buf at *o, never past bufsz - 1; *o stops at bufsz - 1 once the text is cut. */
static void append(char *buf, size_t bufsz, size_t *o, const char *fmt, ...) PRINTF(4, 5);
static void append(char *buf, size_t bufsz, size_t *o, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (*o + 1 >= bufsz)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + *o, bufsz - *o, fmt, ap);
        va_end(ap);
        if (n < 0)
                buf[*o] = '\0';
        else
                *o = MIN(*o + (size_t)n, bufsz - 1);
}

const char *notify_status_format(const struct notify_status *st, char *buf, size_t bufsz)
{
        size_t o = 0;

        if (!buf || bufsz == 0)
                return buf;
        buf[0] = '\0';
        append(buf, bufsz, &o, "Watching %u process%s (%zu rule%s)", st->processes, st->processes == 1 ? "" : "es",
               st->rules, st->rules == 1 ? "" : "s");
        if (st->alerts >= 0)
                append(buf, bufsz, &o, "; %" PRId64 " alert%s", st->alerts, st->alerts == 1 ? "" : "s");
        if (st->last_tick >= USEC_PER_SEC) {
                char d[32];

                append(buf, bufsz, &o, "; last tick took %s",
                       format_duration((double)st->last_tick / (double)USEC_PER_SEC, d, sizeof(d)));
        } else if (st->last_tick > 0) {
                /* A tick costs tens of microseconds per process: whole milliseconds
                 * would say 0 on most hosts, so short ticks get two decimals. */
                double ms = (double)st->last_tick / (double)USEC_PER_MSEC;

                append(buf, bufsz, &o, ms < 10 ? "; last tick took %.2fms" : "; last tick took %.0fms", ms);
        }
        if (st->db_failing)
                append(buf, bufsz, &o, "; database unwritable, buffering");
        if (st->reload_failed)
                append(buf, bufsz, &o, "; last reload refused, previous configuration running");
        return buf;
}

int notify_status(const struct notify_status *st)
{
        char line[NOTIFY_STATUS_MAX];

        return sd_notifyf(false, "STATUS=%s", notify_status_format(st, line, sizeof(line)));
}

int notify_ready(void)
{
        return sd_notify(false, "READY=1");
}

int notify_reloading(usec_t now_mono)
{
        /* One datagram: systemd 253 and later take MONOTONIC_USEC only together with
         * RELOADING=1. */
        return sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\nSTATUS=Reloading the configuration",
                          now_mono);
}

int notify_stopping(void)
{
        return sd_notify(false, "STOPPING=1\nSTATUS=Writing what is pending, then exiting");
}

int notify_failed(const char *what, int err)
{
        return sd_notifyf(false, "STATUS=Failed to start: %s%s%s\nERRNO=%d", what ? what : "", what ? ": " : "",
                          strerror(-err), -err);
}
