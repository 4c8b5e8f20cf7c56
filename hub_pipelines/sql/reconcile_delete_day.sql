DELETE FROM reconciliation_results WHERE recon_date = :recon_date
