"""Daily reconciliation of Vima against PayShack, set-based in PostgreSQL (no Dagster).

For day D, candidates are the transactions of mapped projects created within D widened by a
margin on each side. Matching, in order:

1. duplicates: a (direction, key) occurring more than once on either side; every row of it
   is reported as `duplicate`;
2. exact: Vima `client_operation_id` = PayShack `order_id`, same direction, one row each;
3. fallback, among what is left: same project and direction, amounts within the tolerance,
   created within N minutes, and exactly one candidate on each side.

A pair is `discrepancy_amount`, else `discrepancy_status`, else `matched`; what is left is
`missing_payshack` (a Vima row alone) or `missing_vima`. A pair belongs to the day of its
earlier record, an orphan to its own, a duplicate group to its earliest row's: each result
is counted on exactly one day. The day's results replace the previous ones in one transaction;
resolutions live in their own table, keyed by the stable `discrepancy_key`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from hub_core.timeutil import day_bounds

RECONCILE_SQL = """
WITH v AS MATERIALIZED (
    SELECT id, source_id, match_key AS key, project, direction, amount, paid_amount, status,
           created_at, client_operation_id
    FROM transactions
    WHERE source = 'vima' AND project = ANY(:projects)
      AND created_at >= :window_start AND created_at < :window_end
), p AS MATERIALIZED (
    SELECT id, source_id, match_key AS key, project, direction, amount, paid_amount, status,
           created_at, order_id
    FROM transactions
    WHERE source = 'payshack' AND project = ANY(:projects)
      AND created_at >= :window_start AND created_at < :window_end
), kv AS (
    SELECT direction, key, count(*) AS n FROM v WHERE key IS NOT NULL GROUP BY direction, key
), kp AS (
    SELECT direction, key, count(*) AS n FROM p WHERE key IS NOT NULL GROUP BY direction, key
), dup_keys AS MATERIALIZED (
    SELECT direction, key FROM kv WHERE n > 1
    UNION
    SELECT direction, key FROM kp WHERE n > 1
), exact AS MATERIALIZED (
    SELECT v.id AS vid, p.id AS pid
    FROM v
    JOIN p ON p.direction = v.direction AND p.key = v.key
    WHERE NOT EXISTS (
        SELECT 1 FROM dup_keys d WHERE d.direction = v.direction AND d.key = v.key
    )
), lv AS MATERIALIZED (
    SELECT v.* FROM v
    WHERE NOT EXISTS (SELECT 1 FROM exact e WHERE e.vid = v.id)
      AND NOT EXISTS (SELECT 1 FROM dup_keys d WHERE d.direction = v.direction AND d.key = v.key)
), lp AS MATERIALIZED (
    SELECT p.* FROM p
    WHERE NOT EXISTS (SELECT 1 FROM exact e WHERE e.pid = p.id)
      AND NOT EXISTS (SELECT 1 FROM dup_keys d WHERE d.direction = p.direction AND d.key = p.key)
), edges AS (
    SELECT lv.id AS vid, lp.id AS pid,
           count(*) OVER (PARTITION BY lv.id) AS v_candidates,
           count(*) OVER (PARTITION BY lp.id) AS p_candidates
    FROM lv
    JOIN lp ON lp.project = lv.project AND lp.direction = lv.direction
           AND lp.amount BETWEEN lv.amount - :tolerance AND lv.amount + :tolerance
           AND lp.created_at BETWEEN lv.created_at - :fallback AND lv.created_at + :fallback
), pairs AS (
    SELECT vid, pid, 'exact' AS method FROM exact
    UNION ALL
    SELECT vid, pid, 'fallback' FROM edges WHERE v_candidates = 1 AND p_candidates = 1
), pair_results AS (
    SELECT
        CASE
            WHEN abs(v.amount - p.amount) > :tolerance
              OR (v.paid_amount IS NOT NULL AND p.paid_amount IS NOT NULL
                  AND abs(v.paid_amount - p.paid_amount) > :tolerance)
                THEN 'discrepancy_amount'
            WHEN v.status <> p.status THEN 'discrepancy_status'
            ELSE 'matched'
        END AS match_type,
        pairs.method AS match_method,
        'v:' || v.source_id || '|p:' || p.source_id AS discrepancy_key,
        v.project, v.direction, v.client_operation_id, p.order_id,
        v.source_id AS vima_txn_id, p.source_id AS payshack_txn_id,
        v.amount AS vima_amount, p.amount AS payshack_amount, v.amount - p.amount AS amount_diff,
        v.status AS vima_status, p.status AS payshack_status,
        least(v.created_at, p.created_at) AS anchor,
        jsonb_build_object(
            'vima_transaction_id', v.id, 'payshack_transaction_id', p.id,
            'vima_paid_amount', v.paid_amount, 'payshack_paid_amount', p.paid_amount,
            'created_gap_seconds', round(extract(epoch FROM p.created_at - v.created_at))
        ) AS details
    FROM pairs JOIN v ON v.id = pairs.vid JOIN p ON p.id = pairs.pid
), orphan_results AS (
    SELECT 'missing_payshack' AS match_type, NULL AS match_method,
           'v:' || lv.source_id AS discrepancy_key,
           lv.project, lv.direction, lv.client_operation_id, NULL AS order_id,
           lv.source_id AS vima_txn_id, NULL AS payshack_txn_id,
           lv.amount AS vima_amount, NULL::numeric AS payshack_amount, NULL::numeric AS amount_diff,
           lv.status AS vima_status, NULL AS payshack_status, lv.created_at AS anchor,
           jsonb_build_object('vima_transaction_id', lv.id) AS details
    FROM lv WHERE NOT EXISTS (SELECT 1 FROM pairs WHERE pairs.vid = lv.id)
    UNION ALL
    SELECT 'missing_vima', NULL, 'p:' || lp.source_id,
           lp.project, lp.direction, NULL, lp.order_id,
           NULL, lp.source_id, NULL, lp.amount, NULL,
           NULL, lp.status, lp.created_at,
           jsonb_build_object('payshack_transaction_id', lp.id)
    FROM lp WHERE NOT EXISTS (SELECT 1 FROM pairs WHERE pairs.pid = lp.id)
), dup_rows AS (
    SELECT 'vima' AS side, v.id, v.source_id, v.key, v.project, v.direction, v.amount,
           v.status, v.created_at
    FROM v JOIN dup_keys d ON d.direction = v.direction AND d.key = v.key
    UNION ALL
    SELECT 'payshack', p.id, p.source_id, p.key, p.project, p.direction, p.amount,
           p.status, p.created_at
    FROM p JOIN dup_keys d ON d.direction = p.direction AND d.key = p.key
), dup_results AS (
    SELECT 'duplicate' AS match_type, NULL AS match_method,
           'dup:' || side || ':' || source_id AS discrepancy_key,
           project, direction,
           CASE WHEN side = 'vima' THEN key END AS client_operation_id,
           CASE WHEN side = 'payshack' THEN key END AS order_id,
           CASE WHEN side = 'vima' THEN source_id END AS vima_txn_id,
           CASE WHEN side = 'payshack' THEN source_id END AS payshack_txn_id,
           CASE WHEN side = 'vima' THEN amount END AS vima_amount,
           CASE WHEN side = 'payshack' THEN amount END AS payshack_amount,
           NULL::numeric AS amount_diff,
           CASE WHEN side = 'vima' THEN status END AS vima_status,
           CASE WHEN side = 'payshack' THEN status END AS payshack_status,
           min(created_at) OVER (PARTITION BY direction, key) AS anchor,
           jsonb_build_object(side || '_transaction_id', id, 'key', key,
                              'rows_with_key', count(*) OVER (PARTITION BY direction, key))
               AS details
    FROM dup_rows
), results AS (
    SELECT * FROM pair_results
    UNION ALL SELECT * FROM orphan_results
    UNION ALL SELECT * FROM dup_results
)
INSERT INTO reconciliation_results (
    recon_date, run_id, match_type, match_method, discrepancy_key, project, direction, currency,
    client_operation_id, order_id, vima_txn_id, payshack_txn_id, vima_amount, payshack_amount,
    amount_diff, vima_status, payshack_status, details
)
SELECT :recon_date, :run_id, match_type, match_method, discrepancy_key, project, direction,
       'INR', client_operation_id, order_id, vima_txn_id, payshack_txn_id, vima_amount,
       payshack_amount, amount_diff, vima_status, payshack_status, details
FROM results
WHERE anchor >= :day_start AND anchor < :day_end
"""


@dataclass(frozen=True, slots=True)
class ReconParams:
    """The rules of a reconciliation run."""

    projects: tuple[str, ...]
    tolerance: Decimal = Decimal("0.01")
    fallback_minutes: float = 10
    margin_hours: float = 6
    timezone: str = "UTC"


@dataclass(slots=True)
class ReconSummary:
    """Counts and amounts of a day's results."""

    recon_date: date
    run_id: str
    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)
    largest_breaks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Results of the day (pairs, orphans and duplicate rows)."""
        return sum(self.counts.values())

    @property
    def match_rate(self) -> float:
        """Share of results that are clean matches (1.0 for a day with nothing to reconcile)."""
        return self.counts.get("matched", 0) / self.total if self.total else 1.0


def reconcile_day(conn: Connection, day: date, run_id: str, params: ReconParams) -> ReconSummary:
    """Replace the results of `day` with a fresh reconciliation, in the caller's transaction."""
    started = time.monotonic()
    day_start, day_end = day_bounds(day, params.timezone)
    margin = timedelta(hours=params.margin_hours)
    # One reconciliation of a day at a time: a second waits, then replaces the first's results.
    conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _day_lock(day)})
    conn.execute(text("DELETE FROM reconciliation_results WHERE recon_date = :d"), {"d": day})
    conn.execute(
        text(RECONCILE_SQL),
        {
            "projects": list(params.projects),
            "window_start": day_start - margin,
            "window_end": day_end + margin,
            "day_start": day_start,
            "day_end": day_end,
            "tolerance": params.tolerance,
            "fallback": timedelta(minutes=params.fallback_minutes),
            "recon_date": day,
            "run_id": run_id,
        },
    )
    summary = summarize_day(conn, day, run_id)
    summary.seconds = time.monotonic() - started
    return summary


def _day_lock(day: date) -> int:
    return 0x7A4B_0000_0000 + day.toordinal()


def summarize_day(conn: Connection, day: date, run_id: str = "", largest: int = 10) -> ReconSummary:
    """Counts, amounts and the largest breaks of a day's stored results."""
    summary = ReconSummary(recon_date=day, run_id=run_id)
    rows = conn.execute(
        text(
            "SELECT match_type, coalesce(match_method, '-'), count(*), "
            "coalesce(sum(coalesce(vima_amount, payshack_amount)), 0) "
            "FROM reconciliation_results WHERE recon_date = :d GROUP BY 1, 2"
        ),
        {"d": day},
    ).all()
    for match_type, method, count, amount in rows:
        summary.counts[match_type] = summary.counts.get(match_type, 0) + count
        summary.amounts[match_type] = summary.amounts.get(match_type, Decimal(0)) + amount
        if method != "-":
            summary.by_method[method] = summary.by_method.get(method, 0) + count
    summary.largest_breaks = [
        dict(row._mapping)
        for row in conn.execute(
            text(
                "SELECT match_type, match_method, client_operation_id, order_id, vima_txn_id, "
                "payshack_txn_id, vima_amount, payshack_amount, amount_diff "
                "FROM reconciliation_results WHERE recon_date = :d AND match_type <> 'matched' "
                "ORDER BY abs(coalesce(amount_diff, vima_amount, payshack_amount)) DESC, id "
                "LIMIT :n"
            ),
            {"d": day, "n": largest},
        )
    ]
    return summary
