-- leakwatch schema version 12: new samples land in batches, one row per commit.
--
-- A row of sample_recent per process per tick cost SQLite an insert of twenty columns,
-- and the fold a read and a delete of it again: at 10,000 processes sampled every second
-- that was most of the storage's CPU. Now a commit's samples of every process go into
-- one row here, packed (store/block.h, "batches"); the fold reads the batches, packs
-- each process's samples into sample_block and writes the rollups as before, and
-- deletes the batches it moved: a few rows, not one per sample.
--
-- A batch never spans the start of a minute (the writer begins another), so a fold,
-- which moves whole minutes, moves whole batches: those that begin before its cut.
CREATE TABLE sample_batch (
        id         INTEGER PRIMARY KEY,
        t0         INTEGER NOT NULL,    -- the earliest sample's time
        t1         INTEGER NOT NULL,    -- the latest sample's time
        n          INTEGER NOT NULL,    -- samples in the batch
        data       BLOB NOT NULL
);
CREATE INDEX sample_batch_t0 ON sample_batch (t0);

-- The rows of sample_recent go into batches, by the program that runs this migration
-- (store.c, migration_steps), before the table goes.
-- step: batch recent samples
DROP TABLE sample_recent;
