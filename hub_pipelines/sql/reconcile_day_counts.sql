-- A day's stored results by type and method: (match_type, method, results, amount).
SELECT match_type, coalesce(match_method, :no_method) AS method, count(*) AS results,
       coalesce(sum(coalesce(vima_amount, payshack_amount)), 0) AS amount
FROM reconciliation_results
WHERE recon_date = :recon_date
GROUP BY match_type, match_method
