-- leakwatch schema version 8: the time scale an alert was raised at.
--
-- The detector judges several time scales at once (minutes to days); each alert and
-- each verdict records the window of the scale whose evidence it carries, in seconds.
-- NULL for rows written before: they were judged on the one configured window.
ALTER TABLE alert ADD COLUMN scale_s REAL;
ALTER TABLE verdict ADD COLUMN scale_s REAL;
