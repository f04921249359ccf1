-- leakwatch schema version 1: processes, rules, samples, rollups.
--
-- Times are milliseconds since the Unix epoch (UTC). Memory columns are KiB (the
-- kernel's granularity; the C API speaks bytes). NULL means "unknown": the reason is in
-- the packed `unknown` column (4 bits per source group, see lib/sample.h).
--
-- The daemon is the only writer. Process ids are allocated by the daemon itself so
-- that a batch of new processes and their first samples can wait in memory while the
-- disk is full, and be written later with the same ids.

CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value ANY
) WITHOUT ROWID;

-- A rule as configured; `spec` is its selectors in words, for the client. Its
-- generation (process.generation) grows when the rule matches again after all its
-- processes ended: a restarted service is a new generation, not a continuation.
CREATE TABLE rule (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        spec       TEXT NOT NULL,
        first_ms   INTEGER NOT NULL,
        last_ms    INTEGER NOT NULL
);

-- One row per process ever watched. Identity is (boot_id, pid, start_ticks): a reused
-- PID gets a new row and a new series.
CREATE TABLE process (
        id          INTEGER PRIMARY KEY,
        boot_id     TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        start_ticks INTEGER NOT NULL,
        start_ms    INTEGER,
        ppid        INTEGER,
        uid         INTEGER,
        comm        TEXT NOT NULL,
        cmdline     TEXT NOT NULL,
        unit        TEXT,
        cgroup      TEXT,
        rule_id     INTEGER NOT NULL REFERENCES rule(id),
        generation  INTEGER NOT NULL,
        parent_id   INTEGER,            -- the watched ancestor when watched as a child
        first_ms    INTEGER NOT NULL,
        last_ms     INTEGER NOT NULL,
        end_ms      INTEGER,            -- NULL while it runs
        end_reason  TEXT,
        UNIQUE (boot_id, pid, start_ticks)
);
CREATE INDEX process_rule ON process (rule_id, generation);
CREATE INDEX process_pid ON process (pid);
CREATE INDEX process_comm ON process (comm);
CREATE INDEX process_live ON process (end_ms) WHERE end_ms IS NULL;

-- Raw samples, clustered by process so one process's series is one range scan.
-- New samples first land in sample_recent (clustered by time, so a tick appends instead
-- of touching one B-tree page per process) and are folded in here in bulk.
CREATE TABLE sample (
        process_id INTEGER NOT NULL,
        t          INTEGER NOT NULL,
        rss INTEGER, anon INTEGER, file INTEGER, shmem INTEGER, swap INTEGER,
        data INTEGER, vsize INTEGER, threads INTEGER, fds INTEGER,
        minflt INTEGER, majflt INTEGER,
        pss INTEGER, uss INTEGER, pss_anon INTEGER, swap_pss INTEGER,
        heap_size INTEGER, heap_rss INTEGER,
        unknown INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (process_id, t)
) WITHOUT ROWID;

CREATE TABLE sample_recent (
        process_id INTEGER NOT NULL,
        t          INTEGER NOT NULL,
        rss INTEGER, anon INTEGER, file INTEGER, shmem INTEGER, swap INTEGER,
        data INTEGER, vsize INTEGER, threads INTEGER, fds INTEGER,
        minflt INTEGER, majflt INTEGER,
        pss INTEGER, uss INTEGER, pss_anon INTEGER, swap_pss INTEGER,
        heap_size INTEGER, heap_rss INTEGER,
        unknown INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (t, process_id)
) WITHOUT ROWID;

-- The sum over a rule's processes (children included) at each tick.
CREATE TABLE rule_sample (
        rule_id    INTEGER NOT NULL,
        generation INTEGER NOT NULL,
        t          INTEGER NOT NULL,
        nproc      INTEGER NOT NULL,
        rss INTEGER, anon INTEGER, file INTEGER, shmem INTEGER, swap INTEGER,
        data INTEGER, vsize INTEGER, threads INTEGER, fds INTEGER,
        minflt INTEGER, majflt INTEGER,
        pss INTEGER, uss INTEGER, pss_anon INTEGER, swap_pss INTEGER,
        heap_size INTEGER, heap_rss INTEGER,
        unknown INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (rule_id, generation, t)
) WITHOUT ROWID;

-- Rollups of raw samples once raw ones age out: per minute and per hour, with the
-- minimum, maximum and mean of the metrics a leak is judged on, and the sample count.
CREATE TABLE rollup (
        process_id INTEGER NOT NULL,
        res        INTEGER NOT NULL,    -- bucket width in ms: 60000 or 3600000
        t          INTEGER NOT NULL,    -- bucket start
        n          INTEGER NOT NULL,
        rss_min INTEGER, rss_max INTEGER, rss_avg REAL,
        anon_min INTEGER, anon_max INTEGER, anon_avg REAL,
        file_min INTEGER, file_max INTEGER, file_avg REAL,
        shmem_min INTEGER, shmem_max INTEGER, shmem_avg REAL,
        swap_min INTEGER, swap_max INTEGER, swap_avg REAL,
        vsize_min INTEGER, vsize_max INTEGER, vsize_avg REAL,
        fds_min INTEGER, fds_max INTEGER, fds_avg REAL,
        pss_min INTEGER, pss_max INTEGER, pss_avg REAL,
        uss_min INTEGER, uss_max INTEGER, uss_avg REAL,
        PRIMARY KEY (process_id, res, t)
) WITHOUT ROWID;

-- Things the daemon itself wants remembered: starts, stops, dropped samples.
CREATE TABLE daemon_event (
        id      INTEGER PRIMARY KEY,
        t       INTEGER NOT NULL,
        kind    TEXT NOT NULL,
        detail  TEXT
);
