-- The partition of `reconciliation_results` that holds the day, if there is one (not the
-- DEFAULT partition): the partitions of days are named by the run that made them.
SELECT c.oid::regclass::text
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'reconciliation_results'::regclass
  AND pg_get_expr(c.relpartbound, c.oid) = 'FOR VALUES IN (' || quote_literal(CAST(:recon_date AS date)) || ')'
