# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the adversarial tests of hostile text, /proc, exec and lifecycle: the
reference escape of leakwatch's human output, a scanner for bytes a terminal would act
on, the client run with a database and runtime directory, and the figures each test
prints for docs/adversarial.md."""

import os
import resource
import sqlite3
import subprocess
import sys

from lwtest import CLIENT, WAIT, wait_for


def c_escape(b):
    """What the client prints for bytes b in human output and CSV (str_escape in
    lib/util.c): printable ASCII kept, backslash doubled, \\n \\t \\r, valid UTF-8 kept
    except C1 controls, U+2028/U+2029 and the bidirectional controls; every other byte
    as \\xNN."""
    out = []
    i = 0
    while i < len(b):
        c = b[i]
        if 0x20 <= c < 0x7f and c != 0x5c:
            out.append(chr(c))
            i += 1
            continue
        if c == 0x5c:
            out.append("\\\\")
            i += 1
            continue
        if c in (0x0a, 0x09, 0x0d):
            out.append({0x0a: "\\n", 0x09: "\\t", 0x0d: "\\r"}[c])
            i += 1
            continue
        n = 0
        if c >= 0x80:
            for k in (2, 3, 4):
                try:
                    b[i:i + k].decode("utf-8")
                    n = k
                    break
                except UnicodeDecodeError:
                    pass
        if n:
            seq = b[i:i + n]
            cp = ord(seq.decode("utf-8"))
            if 0x80 <= cp <= 0x9f or 0x2028 <= cp <= 0x202e or 0x2066 <= cp <= 0x2069:
                out.append("".join("\\x%02x" % x for x in seq))
            else:
                out.append(seq.decode("utf-8"))
            i += n
            continue
        out.append("\\x%02x" % c)
        i += 1
    return "".join(out)


def big_stack():
    """preexec_fn for a command line of megabytes: the kernel allows argv and the
    environment a quarter of the stack limit."""
    resource.setrlimit(resource.RLIMIT_STACK, (64 << 20, 64 << 20))


def raw_controls(data, allow_tab=True):
    """Counts what in data a terminal or a log viewer would act on: bytes below 0x20
    other than newline (and tab), DEL, bytes that are not valid UTF-8, C1 controls
    (U+0080..U+009F), U+2028/U+2029 and the bidirectional controls. Returns (count,
    first offending offsets)."""
    bad = []
    text = data.decode("utf-8", "surrogateescape")
    pos = 0
    for ch in text:
        cp = ord(ch)
        if (cp < 0x20 and ch != "\n" and not (allow_tab and ch == "\t")) or cp == 0x7f \
                or 0xdc80 <= cp <= 0xdcff or 0x80 <= cp <= 0x9f \
                or 0x2028 <= cp <= 0x202e or 0x2066 <= cp <= 0x2069:
            bad.append(pos)
        pos += 1
    return len(bad), bad[:5]


class Client:
    """Runs leakwatch against one database and runtime directory."""

    def __init__(self, db, runtime_dir, cwd=None):
        self.env = dict(os.environ, LEAKWATCH_DB=db, LEAKWATCH_RUNTIME_DIR=runtime_dir, COLUMNS="200",
                        LC_ALL="C.UTF-8")
        self.env.pop("NO_COLOR", None)
        self.cwd = cwd
        self.outputs = 0
        self.bytes = 0

    def run(self, *args, code=0, timeout=WAIT):
        """stdout and stderr of one command, as bytes; fails unless it exits with code
        (None: any)."""
        p = subprocess.run([CLIENT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.env, cwd=self.cwd, timeout=timeout)
        self.outputs += 1
        self.bytes += len(p.stdout) + len(p.stderr)
        if code is not None and p.returncode != code:
            raise AssertionError("leakwatch %r exited %d, not %d:\n%s\n%s" % (
                args, p.returncode, code, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace")))
        return p.stdout, p.stderr


def figure(test, **values):
    """Prints one test's figures on one line, for docs/adversarial.md."""
    sys.stderr.write("FIGURES %s: %s\n" % (test, ", ".join("%s=%s" % kv for kv in values.items())))
    sys.stderr.flush()


def query_bytes(db, sql, args=()):
    """A read-only query whose text columns come back as bytes: process names and
    command lines are the kernel's bytes, not always UTF-8."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    con.text_factory = bytes
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait_daemon(d, fn, timeout=WAIT, what="condition", extra=None):
    """wait_for, failing at once if the daemon d died, and saying what the daemon logged
    (and what extra() returns) when the wait fails."""
    def check():
        if not d.alive():
            raise AssertionError("leakwatchd exited (%r) while waiting for %s:\n%s" % (
                d.proc.returncode, what, d.output()[-5000:]))
        return fn()
    try:
        return wait_for(check, timeout=timeout, what=what)
    except AssertionError as e:
        raise AssertionError("%s\n--- leakwatchd's log (end):\n%s%s" % (
            e, d.output()[-5000:], "\n--- " + repr(extra()) if extra else "")) from None
