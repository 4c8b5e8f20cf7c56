DROP TABLE IF EXISTS pg_temp.recon_join
