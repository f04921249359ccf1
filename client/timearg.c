/* SPDX-License-Identifier: GPL-2.0-or-later */
/* timearg: the times people type after --since and --until, as journalctl takes them. */
#include "timearg.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Years outside this range are typos, and stay clear of time_t and int overflow. */
#define YEAR_MIN 1970
#define YEAR_MAX 9999

static const char *skip_space(const char *p)
{
        while (*p && isspace((unsigned char)*p))
                p++;
        return p;
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int *ret)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)(*p)[i]))
                        return false;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

/* Seconds since the epoch of a broken-down time, in UTC or local time. */
static int to_epoch(struct tm *tm, bool utc, int64_t *ret)
{
        time_t t;

        tm->tm_isdst = -1;
        t = utc ? timegm(tm) : mktime(tm);
        if (t == (time_t)-1)
                return -ERANGE;
        *ret = (int64_t)t;
        return 0;
}

/* Midnight of the day days away from now. */
static int day_start(int64_t now_ms, int days, bool utc, int64_t *ret_ms)
{
        time_t secs = (time_t)(now_ms / 1000);
        struct tm tm;
        int64_t t;
        int r;

        if (!(utc ? gmtime_r(&secs, &tm) : localtime_r(&secs, &tm)))
                return -ERANGE;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_mday += days;
        r = to_epoch(&tm, utc, &t);
        if (r < 0)
                return r;
        *ret_ms = t * 1000;
        return 0;
}

/* HH:MM[:SS[.fff]] into tm, *ret_ms the fraction. */
static bool clock_time(const char **p, struct tm *tm, int *ret_ms)
{
        int h, m, s = 0, ms = 0;

        if (!digits(p, 2, &h) || **p != ':')
                return false;
        (*p)++;
        if (!digits(p, 2, &m))
                return false;
        if (**p == ':') {
                (*p)++;
                if (!digits(p, 2, &s))
                        return false;
                if (**p == '.') {
                        int scale = 100;

                        (*p)++;
                        if (!isdigit((unsigned char)**p))
                                return false;
                        for (; isdigit((unsigned char)**p); (*p)++) {
                                ms += (**p - '0') * scale;
                                scale /= 10;
                        }
                }
        }
        /* 60 is a leap second, which mktime() normalises. */
        if (h > 23 || m > 59 || s > 60)
                return false;
        tm->tm_hour = h;
        tm->tm_min = m;
        tm->tm_sec = s;
        *ret_ms = ms;
        return true;
}

/* "Z", "+01:00", "+0100", "-05" after an ISO 8601 time: the offset in seconds. */
static bool zone(const char **p, bool *ret_has, int *ret_offset)
{
        int sign, h, m = 0;

        *ret_has = false;
        if (**p == 'Z' || **p == 'z') {
                (*p)++;
                *ret_has = true;
                *ret_offset = 0;
                return true;
        }
        if (**p != '+' && **p != '-')
                return true;
        sign = **p == '-' ? -1 : 1;
        (*p)++;
        if (!digits(p, 2, &h))
                return false;
        if (**p == ':')
                (*p)++;
        if (isdigit((unsigned char)**p) && !digits(p, 2, &m))
                return false;
        if (h > 23 || m > 59)
                return false;
        *ret_has = true;
        *ret_offset = sign * (h * 3600 + m * 60);
        return true;
}

static int absolute(const char *s, int64_t now_ms, bool utc, int64_t *ret_ms)
{
        const char *p = s;
        struct tm tm = { 0 };
        int y, mo, d, frac = 0, offset = 0;
        bool has_zone = false, has_date = false;
        int64_t t;
        int r;

        if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) && p[2] == ':') {
                /* A time of day: today. */
                time_t secs = (time_t)(now_ms / 1000);

                if (!(utc ? gmtime_r(&secs, &tm) : localtime_r(&secs, &tm)))
                        return -ERANGE;
        } else {
                if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
                        return -EINVAL;
                if (y < YEAR_MIN || y > YEAR_MAX || mo < 1 || mo > 12 || d < 1 || d > 31)
                        return -ERANGE;
                tm.tm_year = y - 1900;
                tm.tm_mon = mo - 1;
                tm.tm_mday = d;
                has_date = true;
                if (*p == 'T' || *p == 't' || *p == ' ')
                        p++;
                else if (*p)
                        return -EINVAL;
                p = skip_space(p);
        }
        if (*p) {
                if (!clock_time(&p, &tm, &frac))
                        return -EINVAL;
                if (!zone(&p, &has_zone, &offset))
                        return -EINVAL;
                p = skip_space(p);
                if (*p && strcmp(p, "UTC") != 0)
                        return -EINVAL;
                if (*p) {
                        has_zone = true;
                        offset = 0;
                }
        } else if (!has_date) {
                return -EINVAL;
        }
        /* A day that does not exist in its month would be normalised into the next. */
        if (has_date) {
                struct tm check = tm;

                r = to_epoch(&check, true, &t);
                if (r < 0)
                        return r;
                if (check.tm_mday != tm.tm_mday)
                        return -ERANGE;
        }
        r = to_epoch(&tm, utc || has_zone, &t);
        if (r < 0)
                return r;
        *ret_ms = (t - offset) * 1000 + frac;
        return 0;
}

/* A duration in words or units, "1 hour", "2 days", "1 week", "30min", "1h30m": the
 * words become the units of parse_duration(). */
static int words_duration(const char *s, size_t len, double *ret_seconds)
{
        static const struct {
                const char *word, *unit;
        } words[] = {
                { "weeks", "w" }, { "week", "w" }, { "days", "d" }, { "day", "d" },
                { "hours", "h" }, { "hour", "h" }, { "hrs", "h" }, { "hr", "h" }, { "minutes", "m" },
                { "minute", "m" }, { "mins", "m" }, { "seconds", "s" }, { "second", "s" }, { "secs", "s" },
                { "sec", "s" }, { "msec", "ms" },
        };
        char buf[128];
        size_t o = 0;
        const char *p;

        for (p = s; p < s + len && o + 3 < sizeof(buf);) {
                size_t i;

                if (isalpha((unsigned char)*p)) {
                        for (i = 0; i < ELEMENTSOF(words); i++) {
                                size_t n = strlen(words[i].word);

                                if ((size_t)(s + len - p) >= n && strncmp(p, words[i].word, n) == 0 &&
                                    (p + n == s + len || !isalpha((unsigned char)p[n]))) {
                                        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", words[i].unit);
                                        p += n;
                                        break;
                                }
                        }
                        if (i < ELEMENTSOF(words))
                                continue;
                }
                /* Spaces between a number and its unit join them: "1 hour", "-1 h". */
                if (*p == ' ' && o > 0 && isdigit((unsigned char)buf[o - 1])) {
                        const char *q = p;

                        while (q < s + len && *q == ' ')
                                q++;
                        if (q < s + len && isalpha((unsigned char)*q)) {
                                p = q;
                                continue;
                        }
                }
                buf[o++] = *p++;
        }
        if (p < s + len)
                return -EINVAL;
        buf[o] = '\0';
        return parse_duration(buf, ret_seconds);
}

int timearg_parse(const char *s, int64_t now_ms, bool utc, int64_t *ret_ms)
{
        char buf[128];
        double secs;
        int64_t t;
        size_t len;
        int r;

        if (!s)
                return -EINVAL;
        s = skip_space(s);
        len = strlen(s);
        while (len > 0 && isspace((unsigned char)s[len - 1]))
                len--;
        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';

        if (strcmp(buf, "now") == 0) {
                *ret_ms = now_ms;
                return 0;
        }
        if (strcmp(buf, "today") == 0)
                return day_start(now_ms, 0, utc, ret_ms);
        if (strcmp(buf, "yesterday") == 0)
                return day_start(now_ms, -1, utc, ret_ms);
        if (strcmp(buf, "tomorrow") == 0)
                return day_start(now_ms, 1, utc, ret_ms);
        if (buf[0] == '@') {
                int64_t v;

                /* 10^11 s is the year 5138: far enough, and * 1000 cannot overflow. */
                r = parse_int64(buf + 1, 0, INT64_C(100000000000), &v);
                if (r < 0)
                        return r;
                *ret_ms = v * 1000;
                return 0;
        }
        if (buf[0] == '-' || buf[0] == '+' || (len > 4 && strcmp(buf + len - 4, " ago") == 0)) {
                if (buf[0] == '-' || buf[0] == '+')
                        r = words_duration(buf + 1, len - 1, &secs);
                else
                        r = words_duration(buf, len - 4, &secs);
                if (r < 0)
                        return r;
                t = llround(secs * 1000);
                if (buf[0] == '+')
                        *ret_ms = now_ms + t;
                else
                        *ret_ms = now_ms - t;
                return 0;
        }
        return absolute(buf, now_ms, utc, ret_ms);
}
