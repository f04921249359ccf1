/* SPDX-License-Identifier: GPL-2.0-or-later */
/* output: how the client writes — tables sized to the terminal, sizes, times, colour,
 * JSON and CSV. Text that came from processes (names, command lines, hook output)
 * reaches the terminal only through here, escaped.
 *
 * Escaping rules, the same in every command:
 *   human   str_escape() (lib/util.h): control bytes, backslash, DEL, bytes that are not
 *           valid UTF-8, C1 controls, line/paragraph separators and bidirectional
 *           overrides become C escapes (\n, \\, \xNN); other UTF-8 is kept.
 *   CSV     the same escapes, then RFC 4180 quoting (a field holding a comma or a quote
 *           is quoted, quotes doubled): a CSV line is always one line.
 *   JSON    UTF-8 strings; each byte that is not part of valid UTF-8 becomes U+FFFD;
 *           control characters, DEL, C1 controls, U+2028/U+2029 and the bidirectional
 *           controls are written as \uXXXX escapes, so printed JSON cannot move the
 *           cursor either. */
#ifndef LEAKWATCH_OUTPUT_H
#define LEAKWATCH_OUTPUT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "jsonval.h"
#include "util.h"

enum out_color_mode { COLOR_AUTO, COLOR_NEVER, COLOR_ALWAYS };

enum out_color {
        C_NONE,
        C_BOLD,
        C_DIM,
        C_RED,
        C_GREEN,
        C_YELLOW,
        C_BLUE,
        C__MAX
};

struct out {
        FILE *f;
        unsigned width;                 /* columns of the terminal; 80 when not a tty */
        bool tty;
        bool color;
        bool utf8;                      /* the locale's charset is UTF-8: box and braille glyphs */
        bool utc;                       /* times in UTC rather than local time */
        bool bytes;                     /* exact byte counts rather than IEC sizes */
        bool full;                      /* never shorten a cell to the terminal width */
};

/* Decides width, colour and charset for f: the width from TIOCGWINSZ on a terminal
 * (or $COLUMNS when set), else 80; colour on a terminal unless $NO_COLOR is set
 * (non-empty) or TERM is "dumb", or as mode forces it. */
void out_init(struct out *o, FILE *f, enum out_color_mode mode);

/* The escape sequence that starts colour c, or "" without colour; out_reset() ends it. */
const char *out_color(const struct out *o, enum out_color c);
const char *out_reset(const struct out *o);

/* ---- text ---- */

/* Escaped copy of untrusted text (see above), malloc'ed; NULL on OOM. */
char *out_escape(const char *s, size_t len);

/* Columns s takes on the terminal (UTF-8; wide characters count two). */
size_t out_text_width(const char *s);

/* Copies s into buf shortened to at most width columns; a shortened copy ends in an
 * ellipsis ("…", or "..." without UTF-8). Returns buf. */
char *out_fit(const struct out *o, const char *s, size_t width, char *buf, size_t bufsz);

/* ---- numbers and times ---- */

/* An amount of the given kind: bytes as an IEC size (or exact with --bytes), counts
 * as integers. NAN prints "-". */
const char *out_amount(const struct out *o, double v, bool is_bytes, char *buf, size_t bufsz);
/* A signed rate per hour ("+1.2 MiB/h", "-3/h"); NAN prints "-". */
const char *out_rate(const struct out *o, double per_s, bool is_bytes, char *buf, size_t bufsz);

enum out_time_style {
        TIME_FULL,                      /* 2026-11-24 10:00:00 UTC */
        TIME_SHORT,                     /* 2026-11-24 10:00 */
        TIME_SECONDS,                   /* 2026-11-24 10:00:00 */
};
/* A time in local time or UTC (o->utc); 0 prints "-". */
const char *out_time(const struct out *o, int64_t ms, enum out_time_style style, char *buf, size_t bufsz);
/* "3h ago", "in 2m", "now" relative to now_ms. */
const char *out_ago(int64_t ms, int64_t now_ms, char *buf, size_t bufsz);

/* ---- tables ---- */

enum table_align { ALIGN_LEFT, ALIGN_RIGHT };

struct table_col {
        const char *header;
        enum table_align align;
        unsigned min;                   /* may shrink to this many columns (0: never shrinks) */
        bool optional;                  /* left out when the table does not fit otherwise */
};

struct table_cell {
        char *text;                     /* display-ready (escaped) */
        enum out_color color;
};

struct table {
        const struct table_col *cols;
        size_t ncols;
        struct table_cell *cells;       /* nrows * ncols */
        size_t nrows, cap;
        unsigned *width;                /* after table_layout() */
        bool *hidden;
};

int table_init(struct table *t, const struct table_col *cols, size_t ncols);
void table_done(struct table *t);
/* Appends a row of empty cells; returns its index or -ENOMEM. */
int table_add_row(struct table *t);
/* Sets a cell to a copy of text (already safe to print). Returns 0 or -ENOMEM. */
int table_set(struct table *t, size_t row, size_t col, const char *text, enum out_color color);
/* Escapes untrusted text (len bytes) into a cell. */
int table_set_untrusted(struct table *t, size_t row, size_t col, const char *text, size_t len);
/* Chooses column widths for the terminal: natural widths, then the shrinkable columns
 * give up space (widest first) down to their minimum, then optional columns are left
 * out (rightmost first) until the table fits; with o->full nothing shrinks. */
void table_layout(struct table *t, const struct out *o, bool legend);
/* Prints the header (if legend) and the rows, cells shortened to their widths. */
void table_print(struct table *t, const struct out *o, bool legend);

/* ---- JSON ---- */

/* Writes a JSON document and a newline, the unsafe characters \u-escaped. */
int out_json(const struct out *o, struct json_object *doc, bool pretty);

/* ---- CSV ---- */

/* Writes one field: escaped, then quoted if needed; first: no separator before it. */
void out_csv_field(const struct out *o, const char *s, size_t len, bool first);
void out_csv_end(const struct out *o);

#endif
