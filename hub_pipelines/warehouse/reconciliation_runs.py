"""The record of each day's last reconciliation (`reconciliation_runs`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from hub_core.db import upsert
from hub_core.tables import reconciliation_runs
from hub_core.timeutil import utc_now


def record_reconciliation_run(
    conn: Connection, day: date, run_id: str, total: int, missing: list[dict[str, str]]
) -> None:
    """Store the day's last reconciliation: provisional when `missing` names inputs
    (`hub_core.queries.reconciliation.missing_inputs`) it ran without."""
    values = {
        "recon_date": day,
        "run_id": run_id,
        "run_at": utc_now(),
        "total": total,
        "provisional": bool(missing),
        "reasons": missing,
    }
    upsert(conn, reconciliation_runs, values, ("recon_date",))
