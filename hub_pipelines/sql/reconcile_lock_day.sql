-- One reconciliation of a day at a time: a second waits, then replaces the first's results.
SELECT pg_advisory_xact_lock(:lock)
