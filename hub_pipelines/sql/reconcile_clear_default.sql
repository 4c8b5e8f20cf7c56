-- Rows of the day in the DEFAULT partition (inserted directly, before the day had a partition
-- of its own) go: ATTACH refuses a partition whose values the DEFAULT one holds.
DELETE FROM ${default_partition} WHERE recon_date = :recon_date
