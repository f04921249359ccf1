# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile local clients of leakwatchd's sockets, each a real process that
test_sockets.py starts (as an unprivileged user through setpriv where the attack is
one any local user can make). Standard library only, so /usr/bin/python3 runs it as
anyone.

Every attack prints "ready" once it holds what it set out to hold, then runs for its
duration and prints one JSON line of what it did and saw.

  control-holders PATH N EVERY SECONDS   N connections to the control socket, each
      sending a request every EVERY s; a connection the daemon closes is opened again.
      Reports how long the longest connection lived.
  agent-flood PATH SECONDS               datagrams to the agent socket as fast as the
      kernel takes them (a valid report, about the sender itself).
  http-hold PORT N MODE SECONDS [SRC]    N connections to the metrics endpoint, from
      127.0.0.1 or, with SRC=spread, from N addresses of 127.0.0.0/8. MODE: idle
      (connect, send nothing), slowloris (one header byte per second, never finishing),
      halfclose (half a request, then shutdown(SHUT_WR)).
      A connection the server closes is opened again. Reports lifetimes.
"""

import errno
import json
import os
import select
import socket
import sys
import time

REPORT = b"leakwatch-agent 1\nagent malloc\nmallinfo2 1 2 3 4 5\n"


def ready():
    print("ready", flush=True)


def done(**figures):
    print(json.dumps(figures), flush=True)


def arrivals(conns):
    """(socket, bytes) for each of conns that has something to read within 0.1 s; the
    bytes are empty when the daemon closed or reset it."""
    r, _, _ = select.select(list(conns), [], [], 0.1)
    for s in r:
        try:
            yield s, s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            yield s, b""


def done_holding(conns, lifetimes, **figures):
    """Closes what is still open and reports, with the figures, how long connections
    lived: the closed ones, and all of them counting those still open."""
    still = [time.monotonic() - st[0] for st in conns.values()]
    for s in conns:
        s.close()
    done(closed=len(lifetimes), max_lifetime=max(lifetimes + still),
         max_closed_lifetime=max(lifetimes, default=0.0), **figures)


def control_holders(path, n, every, seconds):
    conns = {}  # socket -> [opened, next send]
    lifetimes = []
    replies = busy = 0

    def open_one():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        s.setblocking(False)
        now = time.monotonic()
        conns[s] = [now, now]

    for _ in range(n):
        open_one()
    ready()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        now = time.monotonic()
        for s, st in list(conns.items()):
            if now >= st[1]:
                try:
                    s.send(b'{"cmd":"status"}')
                except OSError:
                    pass
                st[1] = now + every
        for s, data in arrivals(conns):
            if data:
                replies += 1
                busy += b"EBUSY" in data
                continue
            lifetimes.append(time.monotonic() - conns.pop(s)[0])
            s.close()
            open_one()
    done_holding(conns, lifetimes, replies=replies, evicted_told=busy)


def agent_flood(path, seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setblocking(False)
    sent = refused = 0
    ready()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(1000):
            try:
                s.sendto(REPORT, path)
                sent += 1
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ENOBUFS):
                    raise
                refused += 1
    done(sent=sent, refused=refused)


def http_hold(port, n, mode, seconds, src=None):
    conns = {}  # socket -> [opened, index]
    lifetimes = []
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    # A header that never ends, one byte at a time.
    endless = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "
    opened = 0

    def open_one(i):
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if src == "spread":
            s.bind(("127.0.%d.%d" % (1 + i // 250, 2 + i % 250), 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        opened += 1
        if mode == "halfclose":
            s.send(request[:10])
            s.shutdown(socket.SHUT_WR)
        elif mode == "slowloris":
            s.send(endless)
        conns[s] = [time.monotonic(), i]

    for i in range(n):
        open_one(i)
    ready()
    end = time.monotonic() + seconds
    next_byte = time.monotonic() + 1
    while time.monotonic() < end:
        now = time.monotonic()
        if mode == "slowloris" and now >= next_byte:
            next_byte = now + 1
            for s in conns:
                try:
                    s.send(b"a")
                except OSError:
                    pass
        for s, data in arrivals(conns):
            if data:
                continue
            st = conns.pop(s)
            lifetimes.append(now - st[0])
            s.close()
            open_one(st[1])
    done_holding(conns, lifetimes, opened=opened)


def main(argv):
    what = argv[0]
    if what == "control-holders":
        control_holders(argv[1], int(argv[2]), float(argv[3]), float(argv[4]))
    elif what == "agent-flood":
        agent_flood(argv[1], float(argv[2]))
    elif what == "http-hold":
        http_hold(int(argv[1]), int(argv[2]), argv[3], float(argv[4]), argv[5] if len(argv) > 5 else None)
    else:
        sys.exit("unknown attack " + what)


if __name__ == "__main__":
    main(sys.argv[1:])
