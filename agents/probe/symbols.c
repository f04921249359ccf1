/* SPDX-License-Identifier: GPL-2.0-or-later */
/* symbols: return addresses to native frame tokens with dladdr() and libdwfl
 * (symbols.h is the contract). */
#include "symbols.h"

#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libdw is loaded when the first sites are symbolised, not with the probe: it and
 * what it links (libelf, zlib, liblzma, libbz2) would cost every preloaded program
 * milliseconds at start-up (docs/performance.md), and most are never traced. Once
 * loaded it stays: unloading a library from someone else's program is not safe. */
#define DW_FUNCTIONS(X) \
        X(dwfl_begin) X(dwfl_end) X(dwfl_report_begin) X(dwfl_report_end) X(dwfl_linux_proc_report) \
        X(dwfl_linux_proc_find_elf) X(dwfl_standard_find_debuginfo) X(dwfl_addrmodule) \
        X(dwfl_module_addrname) X(dwfl_module_info) X(dwfl_module_getsrc) X(dwfl_lineinfo)
#define DW_POINTER(f) static __typeof__(f) *p_##f;
DW_FUNCTIONS(DW_POINTER)

static Dwfl_Callbacks callbacks;

struct symbols {
        Dwfl *dwfl;
};

static bool load_libdw(void)
{
        static int loaded;      /* 0: not tried, 1: loaded, -1: not there */
        void *h;

        if (loaded)
                return loaded > 0;
        loaded = -1;
        h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return false;
#define DW_LOAD(f) \
        if (!(p_##f = (__typeof__(p_##f))dlsym(h, #f))) \
                return false;
        DW_FUNCTIONS(DW_LOAD)
        callbacks.find_elf = p_dwfl_linux_proc_find_elf;
        callbacks.find_debuginfo = p_dwfl_standard_find_debuginfo;
        loaded = 1;
        return true;
}

struct symbols *symbols_open(void)
{
        struct symbols *s;

        if (!load_libdw())
                return NULL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        s->dwfl = p_dwfl_begin(&callbacks);
        if (!s->dwfl) {
                free(s);
                return NULL;
        }
        p_dwfl_report_begin(s->dwfl);
        if (p_dwfl_linux_proc_report(s->dwfl, getpid()) != 0 || p_dwfl_report_end(s->dwfl, NULL, NULL) != 0) {
                symbols_close(s);
                return NULL;
        }
        return s;
}

void symbols_close(struct symbols *s)
{
        if (!s)
                return;
        p_dwfl_end(s->dwfl);
        free(s);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
        size_t len;
        uint32_t cp;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                len = 2, cp = p[0] & 0x1f;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                len = 3, cp = p[0] & 0x0f;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                len = 4, cp = p[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates, past U+10FFFF. */
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

int symbols_escape(char *buf, size_t *len, size_t max, const char *src, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";
        const unsigned char *p = (const unsigned char *)src;
        size_t at = *len;

        for (size_t i = 0; i < n;) {
                size_t u = utf8_len(p + i, n - i);

                if (p[i] <= 0x20 || p[i] == 0x7f || p[i] == '%') {
                        if (at + 3 > max)
                                return false;
                        buf[at++] = '%';
                        buf[at++] = hex[p[i] >> 4];
                        buf[at++] = hex[p[i] & 15];
                        i++;
                } else if (u == 0) {
                        if (at + 1 > max)
                                return false;
                        buf[at++] = '?';
                        i++;
                } else {
                        if (at + u > max)
                                return false;
                        memcpy(buf + at, p + i, u);
                        at += u;
                        i += u;
                }
        }
        *len = at;
        return true;
}

static const char *base_name(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

/* FUNC@LIB+0xOFF, then :FILE:LINE when file is set; false when it does not fit. */
static bool compose(char *buf, size_t *ret_len, const char *func, const char *lib, uintptr_t off,
                    const char *file, int line)
{
        char num[32];
        size_t len = 0;
        int n;

        if (!symbols_escape(buf, &len, FRAME_MAX, func, strlen(func)) ||
            !symbols_escape(buf, &len, FRAME_MAX, "@", 1) ||
            !symbols_escape(buf, &len, FRAME_MAX, lib, strlen(lib)))
                return false;
        n = snprintf(num, sizeof(num), "+0x%" PRIxPTR, off);
        if (!symbols_escape(buf, &len, FRAME_MAX, num, (size_t)n))
                return false;
        if (file) {
                if (!symbols_escape(buf, &len, FRAME_MAX, ":", 1) ||
                    !symbols_escape(buf, &len, FRAME_MAX, file, strlen(file)))
                        return false;
                n = snprintf(num, sizeof(num), ":%d", line);
                if (!symbols_escape(buf, &len, FRAME_MAX, num, (size_t)n))
                        return false;
        }
        buf[len] = '\0';
        *ret_len = len;
        return true;
}

size_t symbols_frame(struct symbols *s, uintptr_t pc, char *buf)
{
        /* The call instruction ends at pc: pc - 1 is inside it (and inside the caller
         * even when the call is its last instruction). */
        uintptr_t at = pc - 1, off = pc;
        const char *func = NULL, *lib = NULL, *file = NULL;
        char short_func[256], cut[64];
        int line = 0;
        size_t len;
        Dl_info di;

        if (dladdr((void *)pc, &di) && di.dli_fbase) {
                off = pc - (uintptr_t)di.dli_fbase;
                if (di.dli_sname && di.dli_saddr)
                        func = di.dli_sname;
                if (di.dli_fname && *di.dli_fname)
                        lib = di.dli_fname;
        }
        if (s) {
                Dwfl_Module *mod = p_dwfl_addrmodule(s->dwfl, at);

                if (mod) {
                        const char *name = p_dwfl_module_addrname(mod, at);
                        /* The path the kernel maps it from, not the main program's argv[0]
                         * that dladdr() gives. */
                        const char *path = p_dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
                        Dwfl_Line *l = p_dwfl_module_getsrc(mod, at);

                        if (name)
                                func = name;
                        if (path && *path == '/')
                                lib = path;
                        if (l)
                                file = p_dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
                }
        }
        if (func && strchr(func, '@')) {
                /* A symbol version (name@@GLIBC_2.34): not part of the name, and '@'
                 * separates the library. */
                snprintf(short_func, sizeof(short_func), "%.*s", (int)(strchr(func, '@') - func), func);
                func = short_func;
        }
        if (!func || !*func)
                func = "?";
        lib = lib ? base_name(lib) : "?";
        if (!*lib)
                lib = "?";
        /* Longest first: the whole source path, then its last component, then none;
         * then a function name cut short (C++ names run to kilobytes). */
        if (file && compose(buf, &len, func, lib, off, file, line))
                return len;
        if (file && compose(buf, &len, func, lib, off, base_name(file), line))
                return len;
        if (compose(buf, &len, func, lib, off, NULL, 0))
                return len;
        snprintf(cut, sizeof(cut), "%.60s", func);
        if (compose(buf, &len, cut, "?", off, NULL, 0))
                return len;
        memcpy(buf, "?", 2);
        return 1;
}
