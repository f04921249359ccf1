/* SPDX-License-Identifier: GPL-2.0-or-later */
/* jsonval: JSON values as leakwatch writes them: clean text, exact numbers, ISO times. */
#include "jsonval.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct json_object *json_text(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        struct json_object *j;
        char *buf;
        size_t o = 0;

        if (!s)
                return NULL;
        /* json-c would copy invalid bytes through and make the document invalid. */
        if (utf8_valid(s, len))
                return json_object_new_string_len(s, (int)MIN(len, (size_t)INT32_MAX));
        /* U+FFFD takes three bytes for each one byte it replaces. */
        if (len > (SIZE_MAX - 1) / 3)
                return NULL;
        buf = malloc(len * 3 + 1);
        if (!buf)
                return NULL;
        for (size_t i = 0; i < len;) {
                size_t n = utf8_decode(p + i, len - i, NULL);

                if (n == 0) {
                        memcpy(buf + o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                } else {
                        memcpy(buf + o, p + i, n);
                        o += n;
                        i += n;
                }
        }
        j = json_object_new_string_len(buf, (int)MIN(o, (size_t)INT32_MAX));
        free(buf);
        return j;
}

struct json_object *json_str(const char *s)
{
        return s ? json_text(s, strlen(s)) : NULL;
}

struct json_object *json_num(double v)
{
        char buf[40];

        if (!isfinite(v))
                return NULL;
        return json_object_new_double_s(v, format_number(v, buf, sizeof(buf)));
}

struct json_object *json_time(int64_t ms)
{
        char buf[40];

        return ms ? json_object_new_string(format_iso8601(ms, buf, sizeof(buf))) : NULL;
}

int json_add(struct json_object *obj, const char *key, struct json_object *value)
{
        return json_object_object_add(obj, key, value) == 0 ? 0 : -ENOMEM;
}
