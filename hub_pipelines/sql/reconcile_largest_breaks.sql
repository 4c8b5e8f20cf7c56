-- A day's largest breaks by amount (the difference, else the orphan's amount). An array of the
-- break types reads only their index ranges, not the day's matches.
SELECT match_type, match_method, client_operation_id, order_id, vima_txn_id, payshack_txn_id,
       vima_amount, payshack_amount, amount_diff
FROM reconciliation_results
WHERE recon_date = :recon_date AND match_type = ANY(:types)
ORDER BY abs(coalesce(amount_diff, vima_amount, payshack_amount)) DESC, id
LIMIT :n
