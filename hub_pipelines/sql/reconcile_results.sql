-- The day's results from `recon_join`: finds the repeated keys, pairs by key then by the
-- fallback, classifies every pair and orphan, inserts the day's results into the run's table
-- (the day's partition to be). The counts are read back from it once it is attached.
-- Types, methods and sources are bound parameters named after their enums' members
-- (`type_matched`, `method_exact`, `source_vima`...); the insert's column list is filled in
-- from `hub_core.tables` when the statement is loaded.
WITH dup_keys AS MATERIALIZED (
    -- a key on more than one joined row occurs more than once on a side: a duplicate
    SELECT direction, key, min(least(v_created, p_created)) AS key_first
    FROM recon_join WHERE key IS NOT NULL
    GROUP BY direction, key HAVING count(*) > 1
), unrepeated AS NOT MATERIALIZED (
    -- the joined rows of a key that is not repeated (inlined where it is read)
    SELECT * FROM recon_join j
    WHERE NOT EXISTS (SELECT 1 FROM dup_keys d WHERE d.direction = j.direction AND d.key = j.key)
), exact AS (
    -- the key once on each side: a pair
    SELECT direction, v_project AS project, key AS client_operation_id, key AS order_id,
           v_id AS v_source_id, p_id AS p_source_id, v_amount, p_amount, v_paid, p_paid,
           v_status, p_status, v_created, p_created, :method_exact AS method
    FROM unrepeated
    WHERE v_id IS NOT NULL AND p_id IS NOT NULL
), lv AS MATERIALIZED (
    -- Vima rows with no PayShack row of their key (and no repeated key); few
    SELECT v_id AS source_id, key, v_project AS project, direction, v_amount AS amount,
           v_paid AS paid_amount, v_status AS status, v_created AS created_at,
           floor(extract(epoch FROM v_created) / :fallback_seconds)::bigint AS slot
    FROM unrepeated WHERE p_id IS NULL
), lp AS MATERIALIZED (
    -- and PayShack rows with no Vima row of their key
    SELECT p_id AS source_id, key, p_project AS project, direction, p_amount AS amount,
           p_paid AS paid_amount, p_status AS status, p_created AS created_at,
           floor(extract(epoch FROM p_created) / :fallback_seconds)::bigint AS slot
    FROM unrepeated WHERE v_id IS NULL
), lp_near AS MATERIALIZED (
    -- each unpaired PayShack row under its own time slot and both neighbours: a Vima row's
    -- fallback candidates are then an equi-join on (project, direction, slot)
    SELECT lp.*, lp.slot + shift AS near_slot
    FROM lp CROSS JOIN (VALUES (-1), (0), (1)) AS shifts(shift)
), edges AS MATERIALIZED (
    SELECT lv.source_id AS v_source_id, lp.source_id AS p_source_id,
           count(*) OVER (PARTITION BY lv.source_id) AS v_candidates,
           count(*) OVER (PARTITION BY lp.source_id) AS p_candidates
    FROM lv
    JOIN lp_near lp
      ON lp.project = lv.project AND lp.direction = lv.direction AND lp.near_slot = lv.slot
    WHERE lp.amount BETWEEN lv.amount - :tolerance AND lv.amount + :tolerance
      AND lp.created_at BETWEEN lv.created_at - :fallback_window
                            AND lv.created_at + :fallback_window
), fallback AS MATERIALIZED (
    -- exactly one candidate on each side: a pair (the same columns as `exact`)
    SELECT v.direction, v.project, v.key AS client_operation_id, p.key AS order_id,
           v.source_id AS v_source_id, p.source_id AS p_source_id, v.amount AS v_amount,
           p.amount AS p_amount, v.paid_amount AS v_paid, p.paid_amount AS p_paid,
           v.status AS v_status, p.status AS p_status, v.created_at AS v_created,
           p.created_at AS p_created, :method_fallback AS method
    FROM edges e
    JOIN lv v ON v.source_id = e.v_source_id
    JOIN lp p ON p.source_id = e.p_source_id
    WHERE e.v_candidates = 1 AND e.p_candidates = 1
), dup_rows AS (
    -- every row of a repeated key, once (a joined row repeats a row of the other side)
    SELECT true AS is_v, j.v_id AS source_id, j.key, j.v_project AS project, j.direction,
           j.v_amount AS amount, j.v_status AS status, d.key_first
    FROM recon_join j JOIN dup_keys d ON d.direction = j.direction AND d.key = j.key
    WHERE j.v_id IS NOT NULL
    UNION
    SELECT false AS is_v, j.p_id AS source_id, j.key, j.p_project AS project, j.direction,
           j.p_amount AS amount, j.p_status AS status, d.key_first
    FROM recon_join j JOIN dup_keys d ON d.direction = j.direction AND d.key = j.key
    WHERE j.p_id IS NOT NULL
), dups AS (
    SELECT dup_rows.*,
           count(*) FILTER (WHERE is_v) OVER k AS nv,
           count(*) FILTER (WHERE NOT is_v) OVER k AS np
    FROM dup_rows WINDOW k AS (PARTITION BY direction, key)
), pairs AS (
    SELECT * FROM exact UNION ALL SELECT * FROM fallback
), pair_results AS (
    SELECT
        CASE
            WHEN abs(v_amount - p_amount) > :tolerance
              OR (v_paid IS NOT NULL AND p_paid IS NOT NULL AND abs(v_paid - p_paid) > :tolerance)
                THEN :type_discrepancy_amount
            WHEN v_status <> p_status THEN :type_discrepancy_status
            ELSE :type_matched
        END AS match_type,
        pairs.*
    FROM pairs
), results AS (
    -- every result, each branch naming the columns of `reconciliation_results` it fills,
    -- and `anchor`: the time that decides its day
    SELECT match_type, method AS match_method,
           'v:' || v_source_id || '|p:' || p_source_id AS discrepancy_key,
           project, direction, client_operation_id, order_id, v_source_id AS vima_txn_id,
           p_source_id AS payshack_txn_id, v_amount AS vima_amount, p_amount AS payshack_amount,
           v_amount - p_amount AS amount_diff, v_status AS vima_status,
           p_status AS payshack_status, least(v_created, p_created) AS anchor,
           CASE WHEN match_type = :type_matched AND method = :method_exact THEN '{}'::jsonb
           ELSE jsonb_build_object(
               'vima_paid_amount', v_paid, 'payshack_paid_amount', p_paid,
               'created_gap_seconds', round(extract(epoch FROM p_created - v_created)))
           END AS details
    FROM pair_results
    UNION ALL
    SELECT :type_missing_payshack AS match_type, NULL AS match_method,
           'v:' || lv.source_id AS discrepancy_key, lv.project, lv.direction,
           lv.key AS client_operation_id, NULL AS order_id, lv.source_id AS vima_txn_id,
           NULL AS payshack_txn_id, lv.amount AS vima_amount, NULL AS payshack_amount,
           NULL AS amount_diff, lv.status AS vima_status, NULL AS payshack_status,
           lv.created_at AS anchor, '{}'::jsonb AS details
    FROM lv WHERE NOT EXISTS (SELECT 1 FROM fallback f WHERE f.v_source_id = lv.source_id)
    UNION ALL
    SELECT :type_missing_vima AS match_type, NULL AS match_method,
           'p:' || lp.source_id AS discrepancy_key, lp.project, lp.direction,
           NULL AS client_operation_id, lp.key AS order_id, NULL AS vima_txn_id,
           lp.source_id AS payshack_txn_id, NULL AS vima_amount, lp.amount AS payshack_amount,
           NULL AS amount_diff, NULL AS vima_status, lp.status AS payshack_status,
           lp.created_at AS anchor, '{}'::jsonb AS details
    FROM lp WHERE NOT EXISTS (SELECT 1 FROM fallback f WHERE f.p_source_id = lp.source_id)
    UNION ALL
    -- a key more than once on either side: every row of it, on both sides
    SELECT :type_duplicate AS match_type, NULL AS match_method,
           'dup:' || CASE WHEN is_v THEN :source_vima ELSE :source_payshack END || ':'
               || source_id AS discrepancy_key,
           project, direction,
           CASE WHEN is_v THEN key END AS client_operation_id,
           CASE WHEN NOT is_v THEN key END AS order_id,
           CASE WHEN is_v THEN source_id END AS vima_txn_id,
           CASE WHEN NOT is_v THEN source_id END AS payshack_txn_id,
           CASE WHEN is_v THEN amount END AS vima_amount,
           CASE WHEN NOT is_v THEN amount END AS payshack_amount, NULL AS amount_diff,
           CASE WHEN is_v THEN status END AS vima_status,
           CASE WHEN NOT is_v THEN status END AS payshack_status, key_first AS anchor,
           jsonb_build_object('key', key, 'vima_rows', nv, 'payshack_rows', np) AS details
    FROM dups
), day_results AS (
    -- the day's results, with what every result of the run shares
    SELECT :recon_date AS recon_date, :run_id AS run_id, :currency AS currency, results.*
    FROM results
    WHERE anchor >= :day_start AND anchor < :day_end
)
INSERT INTO ${target} (${result_columns})
SELECT ${result_columns} FROM day_results
