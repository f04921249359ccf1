-- leakwatch schema version 2: the detector's verdicts, alerts, and hook runs.
--
-- Rates are units per second (bytes/s for memory, descriptors/s for fds); levels and
-- growth are in units (bytes, descriptors). Ids are allocated by the daemon, like
-- process ids, so that rows can wait in memory while the disk is full.

-- One alert per leak: opened when the detector says "leaking", updated when it gets
-- worse, closed when the process recovers or ends. The numbers are those of the latest
-- evaluation while the alert was open.
CREATE TABLE alert (
        id            INTEGER PRIMARY KEY,
        process_id    INTEGER NOT NULL,
        rule_id       INTEGER NOT NULL,
        metric        TEXT NOT NULL,        -- 'memory' (anon + swap floor) or 'fds'
        state         TEXT NOT NULL,        -- 'leaking', then 'recovered' or 'ended'
        start_ms      INTEGER NOT NULL,
        end_ms        INTEGER,
        end_reason    TEXT,
        escalated_ms  INTEGER,              -- when it got worse (close to a limit)
        slope         REAL,
        slope_low     REAL,
        slope_high    REAL,
        growth        REAL,
        growth_rel    REAL,
        level         REAL,
        p_value       REAL,
        forecast_s    REAL,                 -- seconds until the limit; NULL if none known
        limit_kind    TEXT,                 -- 'cgroup' or 'memory' (MemAvailable)
        evidence_from INTEGER,
        evidence_to   INTEGER,
        reason        TEXT,
        kind          TEXT                  -- what kind of leak (see the client's docs)
);
CREATE INDEX alert_process ON alert (process_id);
CREATE INDEX alert_start ON alert (start_ms);
CREATE INDEX alert_open ON alert (end_ms) WHERE end_ms IS NULL;

-- Every change of the detector's state for a process and metric: the alert's evidence
-- trail, and what the client's history and the backtest compare against.
CREATE TABLE verdict (
        id            INTEGER PRIMARY KEY,
        process_id    INTEGER NOT NULL,
        alert_id      INTEGER,
        t             INTEGER NOT NULL,
        metric        TEXT NOT NULL,
        state         TEXT NOT NULL,        -- ok, suspect, leaking, recovered
        previous      TEXT NOT NULL,
        escalated     INTEGER NOT NULL DEFAULT 0,
        slope         REAL,
        slope_low     REAL,
        slope_high    REAL,
        growth        REAL,
        growth_rel    REAL,
        level         REAL,
        p_value       REAL,
        forecast_s    REAL,
        evidence_from INTEGER,
        evidence_to   INTEGER,
        reason        TEXT
);
CREATE INDEX verdict_process ON verdict (process_id, t);

-- Each run of an alert hook: what ran, how it ended, what it said (bounded).
CREATE TABLE hook_run (
        id         INTEGER PRIMARY KEY,
        alert_id   INTEGER,
        event      TEXT NOT NULL,           -- start, escalate, end
        program    TEXT NOT NULL,
        start_ms   INTEGER NOT NULL,
        end_ms     INTEGER,
        exit_code  INTEGER,                 -- NULL if killed by a signal
        signal     INTEGER,
        timed_out  INTEGER NOT NULL DEFAULT 0,
        output     TEXT                     -- stdout and stderr, cut at a bound
);
CREATE INDEX hook_run_alert ON hook_run (alert_id);
