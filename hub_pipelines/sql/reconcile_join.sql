-- The window's two sides hash-joined on (direction, key) into the temp table `recon_join`: one
-- row per Vima row and its PayShack row(s) of the same key, plus the PayShack rows without a
-- Vima row. A CREATE TABLE AS (the only insert PostgreSQL 15 runs with parallel workers) takes
-- no server-side parameters: the caller binds this statement on the client.
CREATE TEMP TABLE recon_join ON COMMIT DROP AS
WITH vima AS NOT MATERIALIZED (
    -- NOT MATERIALIZED: each side is inlined where it is read, as a filter on `transactions`
    SELECT * FROM transactions
    WHERE source = :source_vima AND project = ANY(:projects)
      AND created_at >= :window_start AND created_at < :window_end
), payshack AS NOT MATERIALIZED (
    SELECT * FROM transactions
    WHERE source = :source_payshack AND project = ANY(:projects)
      AND created_at >= :window_start AND created_at < :window_end
)
-- every Vima row of the window with its PayShack rows of the same (direction, key), if any
SELECT v.direction, v.match_key AS key, v.project AS v_project, p.project AS p_project,
       v.source_id AS v_id, p.source_id AS p_id, v.amount AS v_amount, p.amount AS p_amount,
       v.paid_amount AS v_paid, p.paid_amount AS p_paid, v.status AS v_status,
       p.status AS p_status, v.created_at AS v_created, p.created_at AS p_created
FROM vima v
LEFT JOIN payshack p ON p.direction = v.direction AND p.match_key = v.match_key
UNION ALL
-- and every PayShack row of the window with no Vima row of its key
SELECT p.direction, p.match_key AS key, NULL AS v_project, p.project AS p_project,
       NULL AS v_id, p.source_id AS p_id, NULL AS v_amount, p.amount AS p_amount,
       NULL AS v_paid, p.paid_amount AS p_paid, NULL AS v_status, p.status AS p_status,
       NULL AS v_created, p.created_at AS p_created
FROM payshack p
WHERE NOT EXISTS (
    SELECT 1 FROM vima v WHERE v.direction = p.direction AND v.match_key = p.match_key)
