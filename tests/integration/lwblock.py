# SPDX-License-Identifier: GPL-2.0-or-later
"""The blocks of folded samples (sql/006-sample-block.sql) and the batches of recent
ones (sql/012-sample-batch.sql), as store/block.h lays them out, read and written in
Python for the tests: they check what the daemon stored without going through its own
code, and build databases in its format.

A sample is a dict: t, the metric columns (KiB for memory, None when unknown) and
unknown (the packed reasons), and for a batch's, process_id."""
import struct

VERSION = 1
HEADER = 8
METRICS = ["rss", "anon", "file", "shmem", "swap", "data", "vsize", "threads", "fds", "minflt", "majflt",
           "pss", "uss", "pss_anon", "swap_pss", "heap_size", "heap_rss"]
# Mask-bit order (store/block.c, field_order).
FIELDS = ["rss", "anon", "data", "minflt", "file", "swap", "vsize", "threads", "fds", "shmem", "majflt",
          "unknown", "pss", "uss", "pss_anon", "swap_pss", "heap_size", "heap_rss"]
M64 = (1 << 64) - 1


class Damaged(ValueError):
    pass


def _fnv1a(b):
    h = 2166136261
    for c in b:
        h = ((h ^ c) * 16777619) & 0xffffffff
    return h


def _s64(u):
    u &= M64
    return u - (1 << 64) if u >> 63 else u


def _zigzag(x):
    x &= M64
    return ((x << 1) & M64) ^ (M64 if x >> 63 else 0)


def _unzigzag(u):
    return _s64((u >> 1) ^ (M64 if u & 1 else 0))


def _varint(u):
    out = bytearray()
    while u >= 0x80:
        out.append((u & 0x7f) | 0x80)
        u >>= 7
    out.append(u)
    return out


class _Cursor:
    """The varints of a blob from pos on; Damaged past its end or past 64 bits."""

    def __init__(self, b, pos):
        self.b, self.pos = b, pos

    def varint(self):
        u = shift = 0
        while True:
            if self.pos >= len(self.b) or shift > 63:
                raise Damaged("varint")
            c = self.b[self.pos]
            self.pos += 1
            u |= (c & 0x7f) << shift
            if not c & 0x80:
                return u & M64
            shift += 7


def encode(samples, max_bytes=None):
    """One block of samples (time order, at most 4096); ValueError if it would take
    more than max_bytes."""
    body = bytearray()
    last = {f: 0 for f in FIELDS}
    known = set()
    t_prev = dt_prev = 0
    for i, s in enumerate(samples):
        if i == 0:
            body += _varint(_zigzag(s["t"]))
            dt = 0
        else:
            dt = s["t"] - t_prev
            assert dt > 0
            body += _varint(_zigzag(dt - dt_prev))
        now = {f for f in FIELDS if s.get(f) is not None or f == "unknown"}
        vals = {f: (s.get(f) or 0) for f in FIELDS}
        mask = 0
        for k, f in enumerate(FIELDS):
            if (f in now) != (f in known) or (f in now and vals[f] != last[f]):
                mask |= 1 << k
        body += _varint(mask)
        for k, f in enumerate(FIELDS):
            if not mask >> k & 1:
                continue
            if f not in now:
                body += _varint(1)
                continue
            z = _zigzag(vals[f] - last[f])
            body += _varint(3) + _varint(z) if z >> 63 else _varint(z << 1)
            last[f] = vals[f]
        known = now
        t_prev, dt_prev = s["t"], dt
    rest = bytes([len(FIELDS)]) + struct.pack("<H", len(samples)) + bytes(body)
    if max_bytes is not None and 5 + len(rest) > max_bytes:
        raise ValueError("a block of %d bytes" % (5 + len(rest)))
    return bytes([VERSION]) + struct.pack("<I", _fnv1a(rest)) + rest


def decode(blob):
    """The samples of a block; Damaged if it is not a sound one."""
    b = bytes(blob)
    if len(b) < HEADER or b[0] != VERSION or b[5] != len(FIELDS):
        raise Damaged("bad header")
    if struct.unpack("<I", b[1:5])[0] != _fnv1a(b[5:]):
        raise Damaged("checksum")
    n = struct.unpack("<H", b[6:8])[0]
    pos = HEADER

    cur = _Cursor(b, pos)
    varint = cur.varint

    out = []
    last = {f: 0 for f in FIELDS}
    known = set()
    t = dt = 0
    for i in range(n):
        u = varint()
        if i == 0:
            t = _unzigzag(u)
        else:
            dt = _s64(dt + _unzigzag(u))
            if dt <= 0:
                raise Damaged("time")
            t += dt
        mask = varint()
        for k, f in enumerate(FIELDS):
            if not mask >> k & 1:
                continue
            u = varint()
            if u == 1:
                known.discard(f)
                continue
            if u == 3:
                u = varint()
            elif u & 1:
                raise Damaged("token")
            else:
                u >>= 1
            last[f] = _s64(last[f] + _unzigzag(u))
            known.add(f)
        row = {"t": t}
        for f in FIELDS:
            row[f] = last[f] if f in known else None
        out.append(row)
    if cur.pos != len(b):
        raise Damaged("trailing bytes")
    return out


def folded(con, where="1", args=()):
    """Every folded sample of the blocks that match where (SQL on sample_block), as
    dicts with process_id, in block order."""
    rows = []
    for pid, blob in con.execute("SELECT process_id, data FROM sample_block WHERE %s ORDER BY process_id, t0"
                                 % where, args):
        for s in decode(blob):
            s["process_id"] = pid
            rows.append(s)
    return rows


BATCH_VERSION = 1
BATCH_HEADER = 10


def _batch_sum(b):
    """store/block.c, batch_sum."""
    h, prime, m = 14695981039346656037, 1099511628211, M64
    words = b + bytes(-len(b) % 8) if len(b) % 8 else b + bytes(8)
    for i in range(0, len(words), 8):
        h = ((h ^ int.from_bytes(words[i:i + 8], "little")) * prime) & m
    h = ((h ^ len(b)) * prime) & m
    return (h ^ (h >> 32)) & 0xffffffff


def encode_batch(samples):
    """One batch of samples (dicts with process_id), in the order given."""
    body = bytearray()
    last_id = last_t = 0
    for s in samples:
        body += _varint(_zigzag(s["process_id"] - last_id)) + _varint(_zigzag(s["t"] - last_t))
        known = [f for f in FIELDS if f == "unknown" or s.get(f) is not None]
        body += _varint(sum(1 << k for k, f in enumerate(FIELDS) if f in known))
        for f in known:
            body += _varint(_zigzag(s.get(f) or 0))
        last_id, last_t = s["process_id"], s["t"]
    rest = bytes([len(FIELDS)]) + struct.pack("<I", len(samples)) + bytes(body)
    return bytes([BATCH_VERSION]) + struct.pack("<I", _batch_sum(rest)) + rest


def decode_batch(blob):
    """The samples of a batch, with process_id; Damaged if it is not a sound one."""
    b = bytes(blob)
    if len(b) < BATCH_HEADER or b[0] != BATCH_VERSION or b[5] != len(FIELDS):
        raise Damaged("bad header")
    if struct.unpack("<I", b[1:5])[0] != _batch_sum(b[5:]):
        raise Damaged("checksum")
    n = struct.unpack("<I", b[6:10])[0]
    pos = BATCH_HEADER

    cur = _Cursor(b, pos)
    varint = cur.varint

    out = []
    pid = t = 0
    for _ in range(n):
        pid = _s64(pid + _unzigzag(varint()))
        t = _s64(t + _unzigzag(varint()))
        mask = varint()
        if pid <= 0 or not mask >> FIELDS.index("unknown") & 1:
            raise Damaged("sample")
        row = {"process_id": pid, "t": t}
        for k, f in enumerate(FIELDS):
            row[f] = _unzigzag(varint()) if mask >> k & 1 else None
        out.append(row)
    if cur.pos != len(b):
        raise Damaged("trailing bytes")
    return out


def recent(con, since=None):
    """Every recent sample (the batches of sample_batch, decoded), as dicts, in the order
    written; only those of batches that end at or after since when given."""
    rows = []
    sql, args = "SELECT data FROM sample_batch ORDER BY t0, id", ()
    if since is not None:
        sql, args = "SELECT data FROM sample_batch WHERE t1 >= ? ORDER BY t0, id", (since,)
    for (blob,) in con.execute(sql, args):
        rows += decode_batch(blob)
    return rows


RECENT_COLUMNS = ["process_id", "t"] + METRICS + ["unknown"]


def unbatch(con, name="sample_recent"):
    """A TEMP table `name` of the recent samples, one row each, laid out as the table
    of that name was before schema 12: for tests that ask their questions in SQL."""
    con.execute("CREATE TEMP TABLE %s (%s)" % (name, ", ".join(RECENT_COLUMNS)))
    con.executemany("INSERT INTO temp.%s VALUES (%s)" % (name, ", ".join("?" * len(RECENT_COLUMNS))),
                    [tuple(r[c] for c in RECENT_COLUMNS) for r in recent(con)])


def insert_recent(con, samples):
    """Writes samples (dicts with process_id) as the daemon's writer does: a batch per
    minute they fall in."""
    by_minute = {}
    for s in samples:
        by_minute.setdefault(s["t"] - s["t"] % 60000, []).append(s)
    for _, group in sorted(by_minute.items()):
        ts = [s["t"] for s in group]
        con.execute("INSERT INTO sample_batch (t0, t1, n, data) VALUES (?, ?, ?, ?)",
                    (min(ts), max(ts), len(group), encode_batch(group)))
