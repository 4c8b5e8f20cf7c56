-- One run at a time from its results on (runs of other days still join in parallel): a run's
-- table is made LIKE the results, which holds a share lock on them until it commits, and a
-- re-run's DROP of its old day needs them alone: two runs each holding the first and waiting
-- for the second deadlock (PostgreSQL cancels one).
SELECT pg_advisory_xact_lock(:lock)
