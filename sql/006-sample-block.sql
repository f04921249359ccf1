-- leakwatch schema version 6: folded raw samples packed per process and time span.
--
-- A row of `sample` cost some 57 bytes of the file; a process that is sampled every
-- second writes 86,400 of them a day. Folded samples now go into blocks: one row per
-- process per fold (or per 900 bytes, whichever comes first), its samples encoded in
-- `data` as what changed since the sample before (store/block.h), about 2 bytes for a
-- steady process and 6 to 10 for a busy one. New samples still land in sample_recent,
-- one plain row each, and the minute and hour rollups stay plain rows of `rollup`.
--
-- Blocks of a process do not overlap in time: a fold moves whole minutes that the
-- recent table held, and each of its blocks starts after the process's last one.
CREATE TABLE sample_block (
        process_id INTEGER NOT NULL,
        t0         INTEGER NOT NULL,    -- the first sample's time
        t1         INTEGER NOT NULL,    -- the last sample's time
        n          INTEGER NOT NULL,    -- samples in the block
        data       BLOB NOT NULL,
        PRIMARY KEY (process_id, t0)
) WITHOUT ROWID;

-- The samples of `sample` are packed into blocks here, by the program that runs this
-- migration (store.c, migration_steps), before the table goes.
-- step: pack samples
DROP TABLE sample;
