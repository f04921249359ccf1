/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output: how the client writes — tables sized to the terminal, sizes, times, colour,
 * JSON and CSV; the one path from stored text to the terminal. */
#include "output.h"

#include <errno.h>
#include <inttypes.h>
#include <langinfo.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

/* Used when the width cannot be asked: what a terminal had for decades, and what a
 * pipe into a mail or a ticket still reads well at. */
#define DEFAULT_WIDTH 80
/* $COLUMNS beyond this is taken for a mistake rather than a terminal. */
#define MAX_WIDTH 10000

static const char *const color_seq[C__MAX] = {
        [C_NONE] = "",
        [C_BOLD] = "\033[1m",
        [C_DIM] = "\033[2m",
        [C_RED] = "\033[1;31m",
        [C_GREEN] = "\033[32m",
        [C_YELLOW] = "\033[33m",
        [C_BLUE] = "\033[34m",
};

void out_init(struct out *o, FILE *f, enum out_color_mode mode)
{
        const char *cols = getenv("COLUMNS"), *nc = getenv("NO_COLOR"), *term = getenv("TERM");
        const char *cs = nl_langinfo(CODESET);
        int64_t w;

        *o = (struct out){ .f = f, .width = DEFAULT_WIDTH };
        o->tty = isatty(fileno(f)) == 1;
        if (cols && parse_int64(cols, 1, MAX_WIDTH, &w) == 0) {
                o->width = (unsigned)w;
        } else if (o->tty) {
                struct winsize ws;

                if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
                        o->width = ws.ws_col;
        }
        switch (mode) {
        case COLOR_ALWAYS:
                o->color = true;
                break;
        case COLOR_NEVER:
                o->color = false;
                break;
        case COLOR_AUTO:
                /* https://no-color.org: present and not empty disables colour. */
                o->color = o->tty && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);
                break;
        }
        o->utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

const char *out_color(const struct out *o, enum out_color c)
{
        return o->color && c > C_NONE && c < C__MAX ? color_seq[c] : "";
}

const char *out_reset(const struct out *o)
{
        return o->color ? "\033[0m" : "";
}

/* ---- text ---- */

char *out_escape(const char *s, size_t len)
{
        char *buf;

        /* The longest escape is four characters for one byte ("\xNN"). */
        if (len > (SIZE_MAX - 1) / 4)
                return NULL;
        buf = malloc(len * 4 + 1);
        if (!buf)
                return NULL;
        str_escape(s ? s : "", s ? len : 0, buf, len * 4 + 1);
        return buf;
}

static int cp_width(uint32_t cp)
{
        int w = wcwidth((wchar_t)cp);

        /* Unknown to the locale (or not UTF-8): assume one column, never zero, so a
         * cut never overruns. */
        return w < 0 ? 1 : w;
}

size_t out_text_width(const char *s)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t len = strlen(s), w = 0;

        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n = utf8_decode(p + i, len - i, &cp);

                if (n == 0) {
                        w++;
                        i++;
                        continue;
                }
                w += (size_t)cp_width(cp);
                i += n;
        }
        return w;
}

char *out_fit(const struct out *o, const char *s, size_t width, char *buf, size_t bufsz)
{
        const char *ell = o->utf8 ? "\u2026" : "...";
        size_t ell_w = o->utf8 ? 1 : 3;
        const unsigned char *p = (const unsigned char *)s;
        size_t len = strlen(s), w = 0, cut = 0, i = 0;

        if (bufsz == 0)
                return buf;
        if (out_text_width(s) <= width) {
                snprintf(buf, bufsz, "%s", s);
                return buf;
        }
        if (width < ell_w) {
                ell = "";
                ell_w = 0;
        }
        while (i < len) {
                uint32_t cp;
                size_t n = utf8_decode(p + i, len - i, &cp);
                size_t cw = n ? (size_t)cp_width(cp) : 1;

                if (n == 0)
                        n = 1;
                if (w + cw + ell_w > width)
                        break;
                w += cw;
                i += n;
                cut = i;
        }
        snprintf(buf, bufsz, "%.*s%s", (int)MIN(cut, (size_t)INT32_MAX), s, ell);
        return buf;
}

/* ---- numbers and times ---- */

const char *out_amount(const struct out *o, double v, bool is_bytes, char *buf, size_t bufsz)
{
        char tmp[32];

        if (!isfinite(v)) {
                snprintf(buf, bufsz, "-");
                return buf;
        }
        if (!is_bytes) {
                snprintf(buf, bufsz, v == floor(v) || fabs(v) >= 100 ? "%.0f" : "%.1f", v);
                return buf;
        }
        if (o->bytes) {
                snprintf(buf, bufsz, "%.0f", v);
                return buf;
        }
        format_size((uint64_t)llround(fabs(v)), tmp, sizeof(tmp));
        snprintf(buf, bufsz, "%s%s", v < 0 && llround(fabs(v)) != 0 ? "-" : "", tmp);
        return buf;
}

const char *out_rate(const struct out *o, double per_s, bool is_bytes, char *buf, size_t bufsz)
{
        double h = per_s * 3600;
        char tmp[32];

        if (!isfinite(h)) {
                snprintf(buf, bufsz, "-");
                return buf;
        }
        out_amount(o, fabs(h), is_bytes, tmp, sizeof(tmp));
        /* A rate that rounds to nothing has no direction. */
        if (strcmp(tmp, "0") == 0 || strcmp(tmp, "0 B") == 0 || strcmp(tmp, "0.0") == 0)
                snprintf(buf, bufsz, "%s/h", tmp);
        else
                snprintf(buf, bufsz, "%s%s/h", h < 0 ? "-" : "+", tmp);
        return buf;
}

static bool split_time(int64_t ms, bool utc, struct tm *tm)
{
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));

        return utc ? gmtime_r(&secs, tm) != NULL : localtime_r(&secs, tm) != NULL;
}

const char *out_time(const struct out *o, int64_t ms, enum out_time_style style, char *buf, size_t bufsz)
{
        struct tm tm;
        char tmp[64];
        size_t n;

        if (ms == 0 || !split_time(ms, o->utc, &tm)) {
                snprintf(buf, bufsz, "-");
                return buf;
        }
        n = strftime(tmp, sizeof(tmp), style == TIME_SHORT ? "%Y-%m-%d %H:%M" : "%Y-%m-%d %H:%M:%S", &tm);
        if (n == 0)
                tmp[0] = '\0';
        if (style == TIME_FULL)
                snprintf(buf, bufsz, "%s %s", tmp, o->utc ? "UTC" : tm.tm_zone ? tm.tm_zone : "");
        else
                snprintf(buf, bufsz, "%s", tmp);
        return buf;
}

const char *out_ago(int64_t ms, int64_t now_ms, char *buf, size_t bufsz)
{
        int64_t d = now_ms - ms;
        char tmp[32];

        /* Under a second either way reads as "now": samples are never that precise. */
        if (d > -1000 && d < 1000) {
                snprintf(buf, bufsz, "now");
                return buf;
        }
        format_duration((double)(d < 0 ? -d : d) / 1000, tmp, sizeof(tmp));
        snprintf(buf, bufsz, d > 0 ? "%s ago" : "in %s", tmp);
        return buf;
}

/* ---- tables ---- */

/* Between two columns: one space keeps a process list with a sparkline in 80 columns. */
#define TABLE_GAP 1

int table_init(struct table *t, const struct table_col *cols, size_t ncols)
{
        *t = (struct table){ .cols = cols, .ncols = ncols };
        t->width = calloc(ncols, sizeof(*t->width));
        t->hidden = calloc(ncols, sizeof(*t->hidden));
        if (!t->width || !t->hidden) {
                table_done(t);
                return -ENOMEM;
        }
        return 0;
}

void table_done(struct table *t)
{
        for (size_t i = 0; t->cells && i < t->nrows * t->ncols; i++)
                free(t->cells[i].text);
        free(t->cells);
        free(t->width);
        free(t->hidden);
        *t = (struct table){ 0 };
}

int table_add_row(struct table *t)
{
        if (t->nrows == t->cap) {
                size_t nc = t->cap ? t->cap * 2 : 32;
                struct table_cell *c = reallocarray(t->cells, nc * t->ncols, sizeof(*c));

                if (!c)
                        return -ENOMEM;
                t->cells = c;
                t->cap = nc;
        }
        memset(t->cells + t->nrows * t->ncols, 0, t->ncols * sizeof(*t->cells));
        return (int)t->nrows++;
}

int table_set(struct table *t, size_t row, size_t col, const char *text, enum out_color color)
{
        struct table_cell *c = &t->cells[row * t->ncols + col];
        char *dup = strdup(text ? text : "");

        if (!dup)
                return -ENOMEM;
        free(c->text);
        c->text = dup;
        c->color = color;
        return 0;
}

int table_set_untrusted(struct table *t, size_t row, size_t col, const char *text, size_t len)
{
        _cleanup_free_ char *e = out_escape(text, len);

        if (!e)
                return -ENOMEM;
        return table_set(t, row, col, e, C_NONE);
}

/* Natural widths of the visible columns, shrunk to fit; returns the total width. */
static size_t layout_pass(struct table *t, const struct out *o, bool legend)
{
        size_t total = 0;

        for (size_t c = 0; c < t->ncols; c++) {
                size_t w = legend ? out_text_width(t->cols[c].header) : 0;

                if (t->hidden[c]) {
                        t->width[c] = 0;
                        continue;
                }
                for (size_t r = 0; r < t->nrows; r++) {
                        const char *s = t->cells[r * t->ncols + c].text;
                        if (s)
                                w = MAX(w, out_text_width(s));
                }
                t->width[c] = (unsigned)MIN(w, (size_t)UINT32_MAX / 4);
                total += t->width[c] + (total ? TABLE_GAP : 0);
        }
        if (o->full)
                return total;
        /* Take one column at a time from the widest shrinkable column, so long names
         * and command lines give way before anything else does. */
        while (total > o->width) {
                size_t best = t->ncols;

                for (size_t c = 0; c < t->ncols; c++)
                        if (!t->hidden[c] && t->cols[c].min && t->width[c] > t->cols[c].min &&
                            (best == t->ncols || t->width[c] > t->width[best]))
                                best = c;
                if (best == t->ncols)
                        break;
                t->width[best]--;
                total--;
        }
        return total;
}

void table_layout(struct table *t, const struct out *o, bool legend)
{
        while (layout_pass(t, o, legend) > o->width && !o->full) {
                size_t c = t->ncols;

                while (c > 0 && !(t->cols[c - 1].optional && !t->hidden[c - 1]))
                        c--;
                if (c == 0)
                        break;
                t->hidden[c - 1] = true;
        }
}

static void print_cell(const struct out *o, FILE *f, const char *s, unsigned width, enum table_align align,
                       enum out_color color, bool last)
{
        char buf[4096];
        size_t w;

        out_fit(o, s ? s : "", width, buf, sizeof(buf));
        w = out_text_width(buf);
        if (align == ALIGN_RIGHT)
                fprintf(f, "%*s", (int)(width > w ? width - w : 0), "");
        fprintf(f, "%s%s%s", out_color(o, color), buf, color ? out_reset(o) : "");
        if (align == ALIGN_LEFT && !last)
                fprintf(f, "%*s", (int)(width > w ? width - w : 0), "");
}

/* Prints one line of cells (the header when row is SIZE_MAX) without trailing blanks. */
static void print_line(struct table *t, const struct out *o, size_t row, size_t last)
{
        char *line = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&line, &len);
        bool first = true;

        if (!f)
                return;
        if (row == SIZE_MAX)
                fputs(out_color(o, C_BOLD), f);
        for (size_t c = 0; c < t->ncols; c++) {
                const struct table_cell *cell = row == SIZE_MAX ? NULL : &t->cells[row * t->ncols + c];

                if (t->hidden[c])
                        continue;
                if (!first)
                        fprintf(f, "%*s", TABLE_GAP, "");
                first = false;
                print_cell(o, f, cell ? cell->text : t->cols[c].header, t->width[c], t->cols[c].align,
                           cell ? cell->color : C_NONE, c == last);
        }
        if (fclose(f) == 0 && line) {
                while (len > 0 && line[len - 1] == ' ')
                        line[--len] = '\0';
                fprintf(o->f, "%s%s\n", line, row == SIZE_MAX && o->color ? out_reset(o) : "");
        }
        free(line);
}

void table_print(struct table *t, const struct out *o, bool legend)
{
        size_t last = 0;

        for (size_t c = 0; c < t->ncols; c++)
                if (!t->hidden[c])
                        last = c;
        if (legend)
                print_line(t, o, SIZE_MAX, last);
        for (size_t r = 0; r < t->nrows; r++)
                print_line(t, o, r, last);
}

/* ---- JSON ---- */

int out_json(const struct out *o, struct json_object *doc, bool pretty)
{
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN);
        const unsigned char *s = (const unsigned char *)json_object_to_json_string_ext(doc, flags);

        if (!s)
                return -ENOMEM;
        /* json-c escapes what JSON requires; these others are legal raw but can still
         * act on a terminal. They occur only inside strings (keys and syntax are ASCII),
         * where a \u escape means the same character. */
        for (size_t i = 0; s[i]; i++) {
                if (s[i] == 0x7f) {
                        fputs("\\u007f", o->f);
                } else if (s[i] == 0xc2 && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) {
                        fprintf(o->f, "\\u00%02x", s[i + 1]);
                        i++;
                } else if (s[i] == 0xe2 && ((s[i + 1] == 0x80 && s[i + 2] >= 0xa8 && s[i + 2] <= 0xae) ||
                                            (s[i + 1] == 0x81 && s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9))) {
                        fprintf(o->f, "\\u20%02x", (unsigned)(((s[i + 1] & 0x03) << 6) | (s[i + 2] & 0x3f)));
                        i += 2;
                } else {
                        fputc(s[i], o->f);
                }
        }
        fputc('\n', o->f);
        return 0;
}

/* ---- CSV ---- */

void out_csv_field(const struct out *o, const char *s, size_t len, bool first)
{
        _cleanup_free_ char *e = out_escape(s, len);

        if (!first)
                fputc(',', o->f);
        if (!e)
                return;
        if (strpbrk(e, ",\"")) {
                fputc('"', o->f);
                for (const char *p = e; *p; p++) {
                        if (*p == '"')
                                fputc('"', o->f);
                        fputc(*p, o->f);
                }
                fputc('"', o->f);
        } else {
                fputs(e, o->f);
        }
}

void out_csv_end(const struct out *o)
{
        fputc('\n', o->f);
}
