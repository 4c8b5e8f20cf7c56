"""hourly_metrics equals a direct GROUP BY over transactions."""

from __future__ import annotations

from sqlalchemy import text

from hub_pipelines.metrics import refresh_hourly_metrics
from tests.pipelines.recon.conftest import days

DIRECT = """
SELECT date_trunc('hour', created_at AT TIME ZONE :tz) AT TIME ZONE :tz, source,
       coalesce(project, ''), direction, status, currency, count(*), sum(amount),
       coalesce(sum(fee), 0)
FROM transactions WHERE created_at >= :start AND created_at < :end
GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
"""
STORED = """
SELECT hour, source, project, direction, status, currency, count, amount, fee
FROM hourly_metrics WHERE hour >= :start AND hour < :end ORDER BY 1, 2, 3, 4, 5, 6
"""


def test_hourly_metrics_equal_a_direct_group_by(ingest_all, clean_db) -> None:
    ingest_all()
    for tz in ("UTC", "Asia/Kolkata"):
        with clean_db.begin() as conn:
            for day in days():
                refresh_hourly_metrics(conn, day, tz)
            refresh_hourly_metrics(conn, days()[1], tz)  # again: replaced, not added
        bounds = {"start": "2026-02-01T00:00:00+00:00", "end": "2026-02-04T00:00:00+00:00"}
        if tz != "UTC":
            bounds = {"start": "2026-01-31T18:30:00+00:00", "end": "2026-02-03T18:30:00+00:00"}
        with clean_db.connect() as conn:
            stored = conn.execute(text(STORED), bounds).all()
            direct = conn.execute(text(DIRECT), {"tz": tz, **bounds}).all()
            p95 = conn.execute(text("SELECT count(processing_p95_s) FROM hourly_metrics")).scalar()
        assert stored == direct
        assert len(stored) > 100 and p95 > 0
        with clean_db.begin() as conn:
            conn.execute(text("DELETE FROM hourly_metrics"))
