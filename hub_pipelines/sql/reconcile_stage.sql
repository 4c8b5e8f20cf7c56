-- The table a run writes the day's results into, before it becomes the day's partition of
-- `reconciliation_results`: the parent's columns, defaults (the id sequence) and CHECKs, no index
-- yet, and a CHECK that every row is of the day (ATTACH then needs no scan to prove it).
-- A CREATE TABLE takes no server-side parameters: the caller binds it on the client.
CREATE TABLE ${staging} (
    LIKE reconciliation_results INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    CHECK (recon_date = :recon_date)
)
