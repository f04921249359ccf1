-- leakwatch schema version 9: escalation (leakwatch.conf(5), escalate =): the evidence
-- bundles kept for alerts, and what a rule with escalate = restart decided about each
-- leaking process's service, and what systemd answered.

-- A bundle of evidence (escalate = evidence or restart), one per alert event that made
-- one: its directory under the state directory, its size, and what it lacks.
CREATE TABLE alert_bundle (
        alert_id    INTEGER NOT NULL,
        t           INTEGER NOT NULL,       -- ms since the epoch
        event       TEXT NOT NULL,          -- start, escalate
        path        TEXT NOT NULL,
        bytes       INTEGER NOT NULL,
        files       INTEGER NOT NULL,
        note        TEXT,                   -- what is missing and why (process gone...)
        PRIMARY KEY (alert_id, t)
) WITHOUT ROWID;

--
-- One row per decision, inserted or replaced by id: a request is recorded when it is
-- sent ('requested') and replaced by systemd's answer ('restarted' with the job, or
-- 'failed' with the D-Bus error). A refusal or a dry run is recorded once per alert
-- and reason. The evidence is the alert's at the time of the decision.
CREATE TABLE restart (
        id          INTEGER PRIMARY KEY,
        alert_id    INTEGER NOT NULL,
        process_id  INTEGER NOT NULL,
        t           INTEGER NOT NULL,       -- ms since the epoch: when it was decided
        unit        TEXT,                   -- the process's system service, NULL if none
        decision    TEXT NOT NULL,          -- requested, restarted, failed, dry-run, refused
        reason      TEXT NOT NULL,          -- ok, not-named, own-unit, pid1, no-unit, too-far,
                                            -- rate-limit, backoff; for failed the D-Bus error name
        detail      TEXT,                   -- the job path, the error message, or the wait
        end_t       INTEGER,                -- ms: when systemd answered
        forecast_s  REAL,                   -- seconds to the limit, at the decision
        limit_kind  TEXT,
        level       REAL,
        slope       REAL
);
CREATE INDEX restart_alert ON restart (alert_id);
CREATE INDEX restart_unit ON restart (unit, t);
