"""Hourly metrics of a day, computed in PostgreSQL and replaced atomically (no Dagster)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, text

from hub_core.timeutil import day_bounds

HOURLY_METRICS_SQL = """
INSERT INTO hourly_metrics (
    hour, source, project, direction, status, currency, count, amount, fee,
    processing_p50_s, processing_p95_s, updated_at
)
SELECT
    date_trunc('hour', created_at AT TIME ZONE :tz) AT TIME ZONE :tz AS hour,
    source, coalesce(project, ''), direction, status, currency,
    count(*), sum(amount), coalesce(sum(fee), 0),
    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at))
        FILTER (WHERE completed_at >= created_at),
    percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - created_at))
        FILTER (WHERE completed_at >= created_at),
    now()
FROM transactions
WHERE created_at >= :start AND created_at < :end
GROUP BY 1, 2, 3, 4, 5, 6
"""


def refresh_hourly_metrics(conn: Connection, day: date, timezone: str) -> int:
    """Replace the day's hourly metrics (local hours of `timezone`); returns the rows written.

    Runs in the caller's transaction, so readers see the old day or the new one, never half.
    """
    start, end = day_bounds(day, timezone)
    conn.execute(
        text("DELETE FROM hourly_metrics WHERE hour >= :start AND hour < :end"),
        {"start": start, "end": end},
    )
    result = conn.execute(text(HOURLY_METRICS_SQL), {"tz": timezone, "start": start, "end": end})
    return result.rowcount
