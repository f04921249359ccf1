-- leakwatch schema version 3: what in-process agents report from inside a watched
-- process (docs/agents.md), and the kind of leak each alert was classified as.
--
-- Values are what the agent reported: counts are counts, memory is bytes (not KiB: the allocator's numbers
-- are exact, and these tables are small). NULL means "not reported".

-- One report: from the Python agent (agent = 'python') or the allocator probe
-- (agent = 'malloc'), stamped with the daemon's clock when it arrived, for the
-- process the kernel said sent it.
CREATE TABLE agent_sample (
        process_id       INTEGER NOT NULL,
        t                INTEGER NOT NULL,
        agent            TEXT NOT NULL,
        -- python: the cyclic collector (gc module), per generation 0, 1, 2
        gc_enabled       INTEGER,
        gc_threshold0 INTEGER, gc_threshold1 INTEGER, gc_threshold2 INTEGER,
        gc_count0 INTEGER, gc_count1 INTEGER, gc_count2 INTEGER,
        gc_collections0 INTEGER, gc_collections1 INTEGER, gc_collections2 INTEGER,
        gc_collected0 INTEGER, gc_collected1 INTEGER, gc_collected2 INTEGER,
        gc_uncollectable0 INTEGER, gc_uncollectable1 INTEGER, gc_uncollectable2 INTEGER,
        gc_garbage       INTEGER,           -- len(gc.garbage)
        blocks           INTEGER,           -- sys.getallocatedblocks()
        traced           INTEGER,           -- tracemalloc's current bytes, when tracing
        traced_peak      INTEGER,
        objects          INTEGER,           -- objects counted by type in this report
        stride           INTEGER,           -- 1: every object counted; k: every k-th, scaled
        -- malloc: glibc's mallinfo2()
        arena            INTEGER,           -- bytes obtained from the system (not mmapped)
        in_use           INTEGER,           -- uordblks: allocated bytes in the arenas
        free             INTEGER,           -- fordblks: free bytes held in the arenas
        mmapped          INTEGER,           -- hblkhd: bytes in blocks mmapped one by one
        keepcost         INTEGER,           -- releasable at the top of the heap
        PRIMARY KEY (process_id, t, agent)
) WITHOUT ROWID;

-- The most numerous types of a Python report that counted objects (at most 16 rows
-- per report: the agent sends the top ones only).
CREATE TABLE agent_type (
        process_id INTEGER NOT NULL,
        t          INTEGER NOT NULL,
        type       TEXT NOT NULL,           -- module.qualname, or the builtin's name
        count      INTEGER NOT NULL,
        PRIMARY KEY (process_id, t, type)
) WITHOUT ROWID;

-- The class of an alert's kind (alert.kind holds it in words), as a stable token for
-- filters and JSON: descriptors, python-objects, python-heap, native, allocator,
-- malloc-heap, outside-malloc, file-shared, anonymous. `agents` names the in-process
-- data it rests on ('python', 'malloc', 'python malloc'), NULL for outside data only.
CREATE TABLE alert_kind (
        alert_id INTEGER PRIMARY KEY,
        t        INTEGER NOT NULL,
        class    TEXT NOT NULL,
        agents   TEXT
);
