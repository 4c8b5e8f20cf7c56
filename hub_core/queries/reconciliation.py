"""Reconciliation results as a reader sees them: a day's summary and whether it can be
trusted, the discrepancy list, and resolutions that outlive re-runs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from hub_core.db import upsert
from hub_core.tables import (
    discrepancy_resolutions,
    partition_syncs,
    reconciliation_results,
    reconciliation_runs,
)
from hub_core.timeutil import day_bounds
from hub_core.types import MatchType, Source

DISCREPANCY_TYPES: dict[str, MatchType] = {
    "amount": MatchType.DISCREPANCY_AMOUNT,
    "status": MatchType.DISCREPANCY_STATUS,
    "missing_vima": MatchType.MISSING_VIMA,
    "missing_payshack": MatchType.MISSING_PAYSHACK,
    "duplicate": MatchType.DUPLICATE,
}
"""API.md's discrepancy `type` -> the stored `match_type`."""

_SHORT_TYPE = {match_type: short for short, match_type in DISCREPANCY_TYPES.items()}


def discrepancy_type(match_type: str) -> str | None:
    """The short type API.md names (`amount`, `missing_vima`, ...); None for a match."""
    return _SHORT_TYPE.get(MatchType(match_type))


def result_item(row: dict[str, Any]) -> dict[str, Any]:
    """A stored result (joined with its resolution columns) as API.md's discrepancy item."""
    resolution = None
    if row.get("resolved") is not None:
        resolution = {
            "resolved": row["resolved"],
            "note": row.get("note"),
            "resolved_by": row.get("resolved_by"),
            "resolved_at": row.get("resolved_at"),
        }
    return {
        "id": row["id"],
        "recon_date": row["recon_date"],
        "client_operation_id": row["client_operation_id"],
        "order_id": row["order_id"],
        "match_status": row["match_type"],
        "discrepancy_type": discrepancy_type(row["match_type"]),
        "match_method": row["match_method"],
        "project": row["project"],
        "direction": row["direction"],
        "currency": row["currency"],
        "vima_txn_id": row["vima_txn_id"],
        "payshack_txn_id": row["payshack_txn_id"],
        "vima_amount": row["vima_amount"],
        "payshack_amount": row["payshack_amount"],
        "amount_diff": row["amount_diff"],
        "vima_status": row["vima_status"],
        "payshack_status": row["payshack_status"],
        "discrepancy_key": row["discrepancy_key"],
        "details": row["details"],
        "resolution": resolution,
        "created_at": row["created_at"],
    }


def _with_resolution():
    r, d = reconciliation_results, discrepancy_resolutions
    return select(r, d.c.resolved, d.c.note, d.c.resolved_by, d.c.resolved_at).select_from(
        r.outerjoin(d, d.c.discrepancy_key == r.c.discrepancy_key)
    )


def list_discrepancies(
    conn: Connection,
    from_date: date | None = None,
    to_date: date | None = None,
    *,
    types: list[MatchType] | None = None,
    resolved: bool | None = None,
    page: int = 1,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """One page of non-matched results of the days from `from_date` to `to_date` (either
    bound open when None) in (recon_date, id) order, and their total."""
    r, d = reconciliation_results.c, discrepancy_resolutions.c
    wanted = types or [t for t in MatchType if t is not MatchType.MATCHED]
    clauses = [r.match_type.in_([t.value for t in wanted])]
    if from_date is not None:
        clauses.append(r.recon_date >= from_date)
    if to_date is not None:
        clauses.append(r.recon_date <= to_date)
    if resolved is True:
        clauses.append(d.resolved.is_(True))
    elif resolved is False:
        clauses.append(func.coalesce(d.resolved, False).is_(False))
    base = _with_resolution().where(*clauses)
    total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    rows = conn.execute(
        base.order_by(r.recon_date, r.id).offset((page - 1) * limit).limit(limit)
    ).mappings()
    return [result_item(dict(row)) for row in rows], int(total)


def get_result(conn: Connection, result_id: int) -> dict[str, Any] | None:
    """One result with its resolution, as an item; None when there is no such id."""
    row = (
        conn.execute(_with_resolution().where(reconciliation_results.c.id == result_id))
        .mappings()
        .first()
    )
    return result_item(dict(row)) if row else None


def resolve(
    conn: Connection,
    discrepancy_key: str,
    resolved: bool,
    note: str | None,
    who: str,
    now: datetime,
) -> None:
    """Store (or change) the resolution of a discrepancy, keyed by its stable key so that it
    survives re-runs of the reconciliation."""
    values = {
        "discrepancy_key": discrepancy_key,
        "resolved": resolved,
        "note": note,
        "resolved_by": who,
        "resolved_at": now,
        "updated_at": now,
    }
    upsert(conn, discrepancy_resolutions, values, ("discrepancy_key",))


RESULT_REACH_DAYS = 7
"""How far from a transaction's creation (UTC date) a result naming it can be dated: a day's
reconciliation reads its day widened by the margin (at most 48 h, the setting's bound) in the
reconciliation's time zone (at most 14 h from UTC); a week covers both with room. Bounding the
lookup by it lets PostgreSQL read ~15 day partitions of the results instead of all of them."""


def results_of(
    conn: Connection, source: str, source_id: str, created_at: datetime | None = None
) -> list[dict[str, Any]]:
    """The results naming a transaction (by its provider id), newest day first, as items;
    only those dated within `RESULT_REACH_DAYS` of `created_at` when it is given."""
    r = reconciliation_results.c
    column = r.vima_txn_id if source == Source.VIMA else r.payshack_txn_id
    query = _with_resolution().where(column == source_id)
    if created_at is not None:
        reach = timedelta(days=RESULT_REACH_DAYS)
        day = created_at.astimezone(UTC).date()
        query = query.where(r.recon_date.between(day - reach, day + reach))
    query = query.order_by(r.recon_date.desc(), r.id.desc())
    return [result_item(dict(row)) for row in conn.execute(query).mappings()]


@dataclass(frozen=True, slots=True)
class SourceSync:
    """The last sync of a source for one day: when its data was read, and whether whole."""

    synced_at: datetime
    complete: bool


@dataclass(slots=True)
class DaySummary:
    """The stored results of a day, counted by type."""

    counts: dict[str, int] = field(default_factory=dict)
    run_id: str | None = None
    run_at: datetime | None = None
    run_reasons: list[str] = field(default_factory=list)
    """The inputs the last reconciliation lacked when it ran, as sentences (empty: none)."""

    @property
    def total(self) -> int:
        """Number of results (pairs and orphans) of the day."""
        return sum(self.counts.values())


def day_summary(conn: Connection, day: date) -> DaySummary:
    """Counts by match type of the day's results, with the run that wrote them."""
    r = reconciliation_results.c
    rows = conn.execute(
        select(r.match_type, func.count(), func.max(r.run_id), func.max(r.created_at))
        .where(r.recon_date == day)
        .group_by(r.match_type)
    ).all()
    summary = DaySummary()
    for match_type, n, run_id, run_at in rows:
        summary.counts[match_type] = int(n)
        summary.run_id = run_id
        summary.run_at = max(filter(None, [summary.run_at, run_at]), default=None)
    run = conn.execute(
        select(reconciliation_runs).where(reconciliation_runs.c.recon_date == day)
    ).first()
    if run is not None:
        summary.run_id, summary.run_at = run.run_id, run.run_at
        summary.run_reasons = [
            f"when it was reconciled, {gap['source']} had not synced {gap['partition']}"
            for gap in run.reasons
        ]
    return summary


def margin_reach(margin_hours: float) -> int:
    """How many days on each side a day's reconciliation reads: its candidates reach
    `margin_hours` into the neighbours (one day up to 24 h, two up to 48 h)."""
    return math.ceil(margin_hours / 24) if margin_hours > 0 else 0


def missing_inputs(
    conn: Connection, day: date, margin_hours: float, first_day: date, last_day: date
) -> list[dict[str, str]]:
    """What a reconciliation of `day` would lack: each source's partitions, among the day and
    the neighbours its margin reads (those between `first_day` and `last_day`), that the
    source has not synced yet (`partition_syncs`), as `{"source", "partition"}` items. Empty:
    both sources landed everything."""
    reach = margin_reach(margin_hours)
    days = [
        d
        for n in range(-reach, reach + 1)
        if first_day <= (d := day + timedelta(days=n)) <= last_day
    ]
    keys = [d.isoformat() for d in days]
    c = partition_syncs.c
    synced = set(
        conn.execute(select(c.source, c.partition_key).where(c.partition_key.in_(keys))).all()
    )
    return [
        {"source": source.value, "partition": key}
        for key in keys
        for source in Source
        if (source.value, key) not in synced
    ]


def day_syncs(conn: Connection, partition_key: str) -> dict[Source, SourceSync | None]:
    """Each source's last successful sync of the day's partition (None: never synced)."""
    c = partition_syncs.c
    rows = conn.execute(
        select(c.source, c.synced_at, c.complete).where(c.partition_key == partition_key)
    ).all()
    found = {Source(source): SourceSync(at, bool(done)) for source, at, done in rows}
    return {source: found.get(source) for source in Source}


def trust_reasons(
    day: date,
    timezone: str,
    now: datetime,
    margin_hours: float,
    run_at: datetime | None,
    syncs: dict[Source, SourceSync | None],
) -> list[str]:
    """Why the day's results are provisional; an empty list means the day is complete.

    Complete: the day (and the margin its reconciliation reads into the next day) is over,
    each source's last sync of the day read it after it closed and read it whole, and the
    reconciliation ran after both of those syncs.
    """
    reasons: list[str] = []
    _, day_end = day_bounds(day, timezone)
    if now < day_end + timedelta(hours=margin_hours):
        reasons.append("the day is still open (or within the reconciliation margin)")
    for source, sync in syncs.items():
        if sync is None:
            reasons.append(f"{source} has not been synced for this day")
            continue
        if not sync.complete:
            reasons.append(f"the last {source} sync of this day was incomplete")
        if sync.synced_at < day_end:
            reasons.append(f"{source} was last synced before the day ended")
        if run_at is not None and sync.synced_at > run_at:
            reasons.append(f"{source} was synced again after the last reconciliation")
    if run_at is None:
        reasons.append("the day has not been reconciled yet")
    return reasons
