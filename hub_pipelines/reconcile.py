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

How, in two statements and no sort of the day: (1) `JOIN_SQL` hash-joins the window's two
sides on (direction, key) into a temp table, one row per Vima row and its PayShack partner(s),
plus the PayShack rows without a Vima row, with parallel workers; (2) `RESULTS_SQL` finds the
repeated keys (a key on more than one joined row), classifies and inserts every result, and
returns the day's counts from the rows it inserted. Memory is bounded by `work_mem` per hash
(more spills to temp files), not by the size of the day.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import Connection, text

from hub_core.timeutil import day_bounds
from hub_core.types import MatchType


def _side(alias: str, source: str) -> str:
    """The window's rows of one side, as a filter on `transactions AS alias`."""
    return (
        f"{alias}.source = '{source}' AND {alias}.project = ANY(%(projects)s) "
        f"AND {alias}.created_at >= %(window_start)s AND {alias}.created_at < %(window_end)s"
    )


# A CREATE TABLE AS (the only insert PostgreSQL 15 runs with parallel workers) takes no
# server-side parameters: this statement is bound on the client by psycopg (`ClientCursor`).
JOIN_SQL = f"""CREATE TEMP TABLE recon_join ON COMMIT DROP AS
-- every Vima row of the window with its PayShack rows of the same (direction, key), if any
SELECT v.direction, v.match_key AS key, v.project AS v_project, p.project AS p_project,
       v.source_id AS v_id, p.source_id AS p_id, v.amount AS v_amount, p.amount AS p_amount,
       v.paid_amount AS v_paid, p.paid_amount AS p_paid, v.status AS v_status,
       p.status AS p_status, v.created_at AS v_created, p.created_at AS p_created
FROM transactions v
LEFT JOIN transactions p
  ON p.direction = v.direction AND p.match_key = v.match_key AND {_side("p", "payshack")}
WHERE {_side("v", "vima")}
UNION ALL
-- and every PayShack row of the window with no Vima row of its key
SELECT p.direction, p.match_key, NULL, p.project, NULL, p.source_id, NULL, p.amount, NULL,
       p.paid_amount, NULL, p.status, NULL, p.created_at
FROM transactions p
WHERE {_side("p", "payshack")}
  AND NOT EXISTS (
      SELECT 1 FROM transactions v
      WHERE v.direction = p.direction AND v.match_key = p.match_key AND {_side("v", "vima")})
"""


_NOT_REPEATED = (
    "NOT EXISTS (SELECT 1 FROM dup_keys d WHERE d.direction = j.direction AND d.key = j.key)"
)


def _unpaired(side: str, other: str) -> str:
    """The joined rows of one side (`v` or `p`) without a row of the other side's key."""
    return (
        f"SELECT {side}_id AS source_id, key, {side}_project AS project, direction, "
        f"{side}_amount AS amount, {side}_paid AS paid_amount, {side}_status AS status, "
        f"{side}_created AS created_at, "
        f"floor(extract(epoch FROM {side}_created) / :fallback_seconds)::bigint AS slot "
        f"FROM recon_join j WHERE {other}_id IS NULL AND {_NOT_REPEATED}"
    )


RESULTS_SQL = f"""WITH dup_keys AS MATERIALIZED (
    -- a key on more than one joined row occurs more than once on a side: a duplicate
    SELECT direction, key, min(least(v_created, p_created)) AS key_first
    FROM recon_join WHERE key IS NOT NULL
    GROUP BY direction, key HAVING count(*) > 1
), exact AS (
    -- the key once on each side: a pair
    SELECT direction, v_project AS project, key AS client_operation_id, key AS order_id,
           v_id AS v_source_id, p_id AS p_source_id, v_amount, p_amount, v_paid, p_paid,
           v_status, p_status, v_created, p_created, 'exact' AS method
    FROM recon_join j
    WHERE v_id IS NOT NULL AND p_id IS NOT NULL AND {_NOT_REPEATED}
), lv AS MATERIALIZED (
    -- rows with no counterpart by key (and no duplicated key); few
    {_unpaired("v", "p")}
), lp AS MATERIALIZED (
    {_unpaired("p", "v")}
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
      AND lp.created_at BETWEEN lv.created_at - :fallback AND lv.created_at + :fallback
), fallback AS MATERIALIZED (
    SELECT v.direction, v.project, v.key AS client_operation_id, p.key AS order_id,
           v.source_id AS v_source_id, p.source_id AS p_source_id, v.amount AS v_amount,
           p.amount AS p_amount, v.paid_amount AS v_paid, p.paid_amount AS p_paid,
           v.status AS v_status, p.status AS p_status, v.created_at AS v_created,
           p.created_at AS p_created, 'fallback' AS method
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
    SELECT false, j.p_id, j.key, j.p_project, j.direction, j.p_amount, j.p_status, d.key_first
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
                THEN 'discrepancy_amount'
            WHEN v_status <> p_status THEN 'discrepancy_status'
            ELSE 'matched'
        END AS match_type,
        pairs.*
    FROM pairs
), results AS (
    SELECT match_type, method AS match_method,
           'v:' || v_source_id || '|p:' || p_source_id AS discrepancy_key,
           project, direction, client_operation_id, order_id, v_source_id AS vima_txn_id,
           p_source_id AS payshack_txn_id, v_amount AS vima_amount, p_amount AS payshack_amount,
           v_amount - p_amount AS amount_diff, v_status AS vima_status,
           p_status AS payshack_status, least(v_created, p_created) AS anchor,
           CASE WHEN match_type = 'matched' AND method = 'exact' THEN '{{}}'::jsonb
           ELSE jsonb_build_object(
               'vima_paid_amount', v_paid, 'payshack_paid_amount', p_paid,
               'created_gap_seconds', round(extract(epoch FROM p_created - v_created)))
           END AS details
    FROM pair_results
    UNION ALL
    SELECT 'missing_payshack', NULL, 'v:' || lv.source_id, lv.project, lv.direction, lv.key,
           NULL, lv.source_id, NULL, lv.amount, NULL, NULL, lv.status, NULL, lv.created_at,
           '{{}}'::jsonb
    FROM lv WHERE NOT EXISTS (SELECT 1 FROM fallback f WHERE f.v_source_id = lv.source_id)
    UNION ALL
    SELECT 'missing_vima', NULL, 'p:' || lp.source_id, lp.project, lp.direction, NULL, lp.key,
           NULL, lp.source_id, NULL, lp.amount, NULL, NULL, lp.status, lp.created_at, '{{}}'::jsonb
    FROM lp WHERE NOT EXISTS (SELECT 1 FROM fallback f WHERE f.p_source_id = lp.source_id)
    UNION ALL
    -- a key more than once on either side: every row of it, on both sides
    SELECT 'duplicate', NULL,
           'dup:' || CASE WHEN is_v THEN 'vima:' ELSE 'payshack:' END || source_id,
           project, direction,
           CASE WHEN is_v THEN key END, CASE WHEN NOT is_v THEN key END,
           CASE WHEN is_v THEN source_id END, CASE WHEN NOT is_v THEN source_id END,
           CASE WHEN is_v THEN amount END, CASE WHEN NOT is_v THEN amount END, NULL,
           CASE WHEN is_v THEN status END, CASE WHEN NOT is_v THEN status END,
           key_first, jsonb_build_object('key', key, 'vima_rows', nv, 'payshack_rows', np)
    FROM dups
), inserted AS (
    INSERT INTO reconciliation_results (
        recon_date, run_id, match_type, match_method, discrepancy_key, project, direction,
        currency, client_operation_id, order_id, vima_txn_id, payshack_txn_id, vima_amount,
        payshack_amount, amount_diff, vima_status, payshack_status, details
    )
    SELECT :recon_date, :run_id, match_type, match_method, discrepancy_key, project,
           direction, 'INR', client_operation_id, order_id, vima_txn_id, payshack_txn_id,
           vima_amount, payshack_amount, amount_diff, vima_status, payshack_status, details
    FROM results
    WHERE anchor >= :day_start AND anchor < :day_end
    RETURNING match_type, match_method, coalesce(vima_amount, payshack_amount) AS amount
)
-- the day's counts and amounts, from what was just written (no second read of the table)
SELECT match_type, coalesce(match_method, '-'), count(*), coalesce(sum(amount), 0)
FROM inserted GROUP BY 1, 2
"""


RECON_SETTINGS: dict[str, str] = {
    # Memory per hash or sort node (and per parallel worker): constant, so the memory of a
    # reconciliation is flat in the size of the day; what does not fit spills to temp files.
    "work_mem": "128MB",
    # The planner cannot estimate the rows behind the key filters of a temp table without
    # statistics (it guesses few), and a nested loop or a merge join over a day's two sides
    # costs a sort or worse; every join here is an equi-join that hashes well.
    "enable_nestloop": "off",
    "enable_mergejoin": "off",
    # The join of the two sides is the bulk of the work: let it run in parallel workers (the
    # defaults price their start-up and tuple transfer above what they cost here).
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0.001",
    # With nested loops off the plan's cost looks huge and JIT compiles it: ~2.6 s wasted on
    # a small day, no gain on a big one.
    "jit": "off",
}
"""Settings of the reconciliation's transaction (`SET LOCAL`: they end with it)."""


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
    step_seconds: dict[str, float] = field(default_factory=dict)

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
    steps: dict[str, float] = {}
    # One reconciliation of a day at a time: a second waits, then replaces the first's results.
    conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": _day_lock(day)})
    with _timed(steps, "delete"):
        conn.execute(text("DELETE FROM reconciliation_results WHERE recon_date = :d"), {"d": day})
    for setting, value in RECON_SETTINGS.items():
        conn.execute(text(f"SET LOCAL {setting} = '{value}'"))
    params_ = {
        "projects": list(params.projects),
        "window_start": day_start - margin,
        "window_end": day_end + margin,
        "day_start": day_start,
        "day_end": day_end,
        "tolerance": params.tolerance,
        "fallback": timedelta(minutes=params.fallback_minutes),
        "fallback_seconds": params.fallback_minutes * 60,
        "recon_date": day,
        "run_id": run_id,
    }
    # A second reconciliation in the same transaction (tests, a retried op) starts afresh.
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.recon_join"))
    with _timed(steps, "join"):
        _execute_client_bound(conn, JOIN_SQL, params_)
    with _timed(steps, "results"):
        counted = conn.execute(text(RESULTS_SQL), params_).all()
    conn.execute(text("DROP TABLE pg_temp.recon_join"))
    summary = ReconSummary(recon_date=day, run_id=run_id, step_seconds=steps)
    _add_counts(summary, counted)
    summary.largest_breaks = largest_breaks(conn, day)
    summary.seconds = time.monotonic() - started
    return summary


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    steps[name] = round(time.monotonic() - started, 3)


def _execute_client_bound(conn: Connection, sql: str, params: dict[str, Any]) -> None:
    """Run `sql` (psycopg `%(name)s` placeholders) in `conn`'s transaction, values inlined
    and quoted by psycopg: for statements that take no server-side parameters."""
    driver = conn.connection.driver_connection
    with psycopg.ClientCursor(driver) as cursor:  # type: ignore[arg-type]
        cursor.execute(sql, params)


def _day_lock(day: date) -> int:
    return 0x7A4B_0000_0000 + day.toordinal()


BREAK_TYPES = tuple(t.value for t in MatchType if t is not MatchType.MATCHED)
"""Every result type but a clean match."""


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
    _add_counts(summary, rows)
    summary.largest_breaks = largest_breaks(conn, day, largest)
    return summary


def _add_counts(summary: ReconSummary, rows: Sequence[Any]) -> None:
    """Fold (match_type, method or '-', count, amount) rows into `summary`."""
    for match_type, method, count, amount in rows:
        summary.counts[match_type] = summary.counts.get(match_type, 0) + count
        summary.amounts[match_type] = summary.amounts.get(match_type, Decimal(0)) + amount
        if method != "-":
            summary.by_method[method] = summary.by_method.get(method, 0) + count


def largest_breaks(conn: Connection, day: date, largest: int = 10) -> list[dict[str, Any]]:
    """The day's `largest` breaks by amount (the difference, else the orphan's amount)."""
    # An IN list of the break types reads only their index ranges, not the day's matches.
    return [
        dict(row._mapping)
        for row in conn.execute(
            text(
                "SELECT match_type, match_method, client_operation_id, order_id, vima_txn_id, "
                "payshack_txn_id, vima_amount, payshack_amount, amount_diff "
                "FROM reconciliation_results "
                "WHERE recon_date = :d AND match_type = ANY(:types) "
                "ORDER BY abs(coalesce(amount_diff, vima_amount, payshack_amount)) DESC, id "
                "LIMIT :n"
            ),
            {"d": day, "types": list(BREAK_TYPES), "n": largest},
        )
    ]
