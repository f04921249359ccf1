-- leakwatch schema version 7: allocation sites an in-process agent reported while it
-- was asked to trace (docs/agents.md, "Allocation sites").
--
-- A site is where live memory grows: the bytes and allocations live now from it, the
-- bytes it gained since tracing began, and its frames innermost first, as the agent
-- sent them (escaped tokens separated by single spaces: bytes <= 0x20, 0x7f and '%'
-- written %XX, so the text holds no blank or control byte). Raw data: pruned with the
-- raw samples, as agent_sample.
CREATE TABLE agent_site (
        process_id INTEGER NOT NULL,
        t          INTEGER NOT NULL,        -- the report's time (agent_sample.t)
        agent      TEXT NOT NULL,           -- 'python' or 'malloc'
        rank       INTEGER NOT NULL,        -- 0: the site that grew most
        live_bytes INTEGER NOT NULL,
        live_count INTEGER NOT NULL,
        growth     INTEGER NOT NULL,
        frames     TEXT NOT NULL,
        PRIMARY KEY (process_id, t, agent, rank)
) WITHOUT ROWID;
