-- Rows of the day in the DEFAULT partition (written before the day had a partition of its own,
-- or inserted directly) go: ATTACH refuses a partition whose values the DEFAULT one holds.
DELETE FROM ${default_partition} WHERE recon_date = :recon_date
