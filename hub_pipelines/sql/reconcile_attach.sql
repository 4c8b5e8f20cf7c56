-- The run's table becomes the day's partition; its indexes, built like the parent's, are
-- attached to the parent's. An ALTER TABLE takes no server-side parameters: the caller binds
-- it on the client.
ALTER TABLE reconciliation_results ATTACH PARTITION ${staging} FOR VALUES IN (:recon_date)
