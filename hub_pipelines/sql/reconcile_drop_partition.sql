-- The day's previous results, all at once (a re-run): no per-row DELETE, no dead tuples.
DROP TABLE ${partition}
