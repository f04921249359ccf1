-- leakwatch schema version 5: what an alert was raised on, kept as it was, beside its
-- latest evaluation; and the room each known limit left, from which the time to it.
--
-- An alert is raised either because the detector confirmed a leak (cause 'leak') or
-- because growth on a short time scale will reach a known limit within limit-horizon
-- (cause 'limit'). The row with raised = 1 is written once, when the alert is raised,
-- and never changed; the row with raised = 0 is replaced at each later evaluation.
-- Rates are units per second, levels and rooms units (bytes, descriptors), times ms.
-- The time to a limit is room / slope from t (slope_low: the cautious, later time);
-- room NULL: that limit is not known (none set, unlimited, unreadable), 0: reached.
CREATE TABLE alert_evidence (
        alert_id      INTEGER NOT NULL,
        raised        INTEGER NOT NULL,     -- 1: what it was raised on; 0: the latest
        t             INTEGER NOT NULL,
        cause         TEXT NOT NULL,        -- 'leak' or 'limit'
        scale_s       REAL,                 -- the time scale (window) the rate is measured over
        slope         REAL,
        slope_low     REAL,
        level         REAL,
        evidence_from INTEGER,
        evidence_to   INTEGER,
        reason        TEXT,                 -- e.g. 'will reach memory.max in 12 min'
        room_memory_max    REAL,            -- the cgroup's (and its ancestors') memory.max
        room_memory_high   REAL,            -- the same for memory.high
        room_host          REAL,            -- MemAvailable + SwapFree
        room_rlimit_as     REAL,            -- RLIMIT_AS - VmSize
        room_rlimit_data   REAL,            -- RLIMIT_DATA - VmData
        room_rlimit_nofile REAL,            -- RLIMIT_NOFILE - open descriptors
        PRIMARY KEY (alert_id, raised)
) WITHOUT ROWID;
