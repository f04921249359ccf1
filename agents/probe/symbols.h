/* SPDX-License-Identifier: GPL-2.0-or-later */
/* symbols: return addresses of the program turned into the report's native frames,
 * FUNC@LIB+0xOFF or FUNC@LIB+0xOFF:FILE:LINE (docs/agents.md), off the allocation path.
 *
 * The library and the offset come from dladdr(); the function from the symbol tables
 * (elfutils' libdwfl reads .symtab too, so static functions have names), and the file
 * and line from the DWARF line table where the object or its separate debug file
 * (/usr/lib/debug, found by build ID or debuglink) has one. Everything here allocates
 * from malloc: call it from the probe's own thread, whose allocations are not sampled. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A frame token's limit in the report format, escaped. */
#define FRAME_MAX 256

struct symbols;

/* The process's modules as mapped now; NULL when libdwfl cannot read them (frames then
 * carry what dladdr() knows). */
struct symbols *symbols_open(void);
void symbols_close(struct symbols *s);

/* The token for return address pc (the call is the instruction before it) into
 * buf[FRAME_MAX + 1], NUL-terminated, escaped as the format requires (bytes <= 0x20,
 * 0x7f and '%' as %XX, invalid UTF-8 as '?'). Returns its length, 1 to FRAME_MAX. */
size_t symbols_frame(struct symbols *s, uintptr_t pc, char *buf);

/* The escaping alone: src[0..n) appended to buf[*len..max), all or nothing. Returns
 * false when it does not fit. */
int symbols_escape(char *buf, size_t *len, size_t max, const char *src, size_t n);
