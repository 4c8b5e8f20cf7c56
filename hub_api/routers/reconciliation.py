"""`/reconciliation`: a day's summary (and whether it can be trusted), discrepancies, their
resolutions, and launching a reconciliation in Dagster."""

from __future__ import annotations

import datetime as dt
import math
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from hub_api.cache import DEFAULT_TTL, cached_json
from hub_api.dagster_client import PARTITION_TAG
from hub_api.deps import (
    ConnectionDep,
    DagsterDep,
    EngineDep,
    OperatorDep,
    ReaderDep,
    RedisDep,
    SettingsDep,
)
from hub_api.errors import APIError, invalid
from hub_api.launching import launch_exclusive
from hub_api.schemas import ListMeta, Money, UTCTime, error_responses
from hub_core.cache import DATA_VERSION_KEY
from hub_core.logging import get_logger
from hub_core.orchestration import RECONCILE_JOB
from hub_core.queries import reconciliation as queries
from hub_core.queries.periods import today_in
from hub_core.settings import Settings
from hub_core.timeutil import utc_now
from hub_core.types import MatchType, Source

log = get_logger(__name__)
router = APIRouter(prefix="/reconciliation", tags=["reconciliation"])

DiscrepancyType = Literal["amount", "status", "missing_vima", "missing_payshack", "duplicate"]


class Resolution(BaseModel):
    """How a person closed (or reopened) a discrepancy."""

    resolved: bool
    note: str | None
    resolved_by: str | None
    resolved_at: UTCTime | None


class ResultDetails(BaseModel):
    """What a result's own figures do not show: a pair's paid amounts (an amount break can be
    in them alone) and the seconds from its Vima record to its PayShack one; a duplicate's key
    and how many rows it has on each side. Empty for a clean exact match and an orphan."""

    vima_paid_amount: Money | None = None
    payshack_paid_amount: Money | None = None
    created_gap_seconds: int | float | None = None
    key: str | None = None
    vima_rows: int | None = None
    payshack_rows: int | None = None


class DiscrepancyItem(BaseModel):
    """One reconciliation result: a pair or an orphan of a day."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 41,
                    "recon_date": "2026-11-01",
                    "client_operation_id": "ord-1001",
                    "order_id": "ord-1001",
                    "match_status": "discrepancy_amount",
                    "discrepancy_type": "amount",
                    "match_method": "exact",
                    "project": "91game",
                    "direction": "payin",
                    "currency": "INR",
                    "vima_txn_id": "op_1001",
                    "payshack_txn_id": "PS1001",
                    "vima_amount": 1500.0,
                    "payshack_amount": 1450.0,
                    "amount_diff": 50.0,
                    "vima_status": "success",
                    "payshack_status": "success",
                    "discrepancy_key": "v:op_1001|p:PS1001",
                    "details": {
                        "vima_paid_amount": 1500.0,
                        "payshack_paid_amount": 1450.0,
                        "created_gap_seconds": 12,
                    },
                    "resolution": None,
                    "created_at": "2026-11-02T06:10:00.000Z",
                }
            ]
        }
    )

    id: int
    recon_date: date
    client_operation_id: str | None
    order_id: str | None
    match_status: MatchType
    discrepancy_type: DiscrepancyType | None
    match_method: Literal["exact", "fallback"] | None
    project: str | None
    direction: str | None
    currency: str | None
    vima_txn_id: str | None
    payshack_txn_id: str | None
    vima_amount: Money | None
    payshack_amount: Money | None
    amount_diff: Money | None
    vima_status: str | None
    payshack_status: str | None
    discrepancy_key: str
    details: ResultDetails
    resolution: Resolution | None
    created_at: UTCTime


class CountShare(BaseModel):
    """A count and its share of the day's results, in %."""

    count: int
    percentage: float


class DiscrepancyCounts(CountShare):
    """Pairs that disagree, by what they disagree on."""

    by_type: dict[Literal["amount", "status"], int]


class MissingCounts(CountShare):
    """Rows one provider has and the other has not."""

    missing_vima: int
    missing_payshack: int


class SourceSyncInfo(BaseModel):
    """A source's last sync of the day: when its data was read, and whether it read it whole."""

    synced_at: UTCTime | None
    complete: bool | None


class Summary(BaseModel):
    """A day's reconciliation and whether it can be trusted yet."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "date": "2026-11-01",
                    "run_id": "5d0f3c1e-7a8b-4c2d-9e10-112233445566",
                    "run_at": "2026-11-02T06:10:00.000Z",
                    "total_transactions": 1000,
                    "matched": {"count": 950, "percentage": 95.0},
                    "discrepancies": {
                        "count": 30,
                        "percentage": 3.0,
                        "by_type": {"amount": 20, "status": 10},
                    },
                    "missing": {
                        "count": 18,
                        "percentage": 1.8,
                        "missing_vima": 8,
                        "missing_payshack": 10,
                    },
                    "duplicates": {"count": 2, "percentage": 0.2},
                    "status": "complete",
                    "reasons": [],
                    "sources": {
                        "vima": {"synced_at": "2026-11-02T00:05:00.000Z", "complete": True},
                        "payshack": {"synced_at": "2026-11-02T00:10:00.000Z", "complete": True},
                    },
                }
            ]
        }
    )

    date: dt.date
    run_id: str | None
    run_at: UTCTime | None
    total_transactions: int
    """Results of the day: each pair, orphan or duplicate row counts once."""
    matched: CountShare
    discrepancies: DiscrepancyCounts
    missing: MissingCounts
    duplicates: CountShare
    status: Literal["complete", "provisional"]
    reasons: list[str]
    """Why the day is provisional (empty when complete)."""
    sources: dict[Source, SourceSyncInfo]


class SummaryResponse(BaseModel):
    """Envelope of the summary."""

    data: Summary


class DiscrepancyList(BaseModel):
    """A page of discrepancies."""

    data: list[DiscrepancyItem]
    meta: ListMeta


class DiscrepancyResponse(BaseModel):
    """One discrepancy."""

    data: DiscrepancyItem


class ResolutionRequest(BaseModel):
    """Mark a discrepancy resolved (or reopen it) with a note."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"resolved": True, "note": "refund issued by PayShack"}]},
    )

    resolved: bool
    note: str | None = Field(default=None, max_length=2000)


class RunRequest(BaseModel):
    """The day to reconcile."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"date": "2026-11-01"}]}
    )

    date: dt.date


class RunStarted(BaseModel):
    """A reconciliation launched in Dagster."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "5d0f3c1e-7a8b-4c2d-9e10-112233445566",
                    "status": "started",
                    "message": "reconciliation of 2026-11-01 launched in Dagster",
                    "date": "2026-11-01",
                }
            ]
        }
    )

    run_id: str
    status: Literal["started"]
    message: str
    date: dt.date


class RunStartedResponse(BaseModel):
    """Envelope of a launched reconciliation."""

    data: RunStarted


def _share(count: int, total: int) -> dict[str, Any]:
    return {"count": count, "percentage": round(count * 100 / total, 2) if total else 0.0}


def build_summary(conn: Connection, day: date, settings: Settings) -> dict:
    """The summary of `day` as API.md shows it (plain data, JSON-ready)."""
    zone, margin = settings.hub_timezone, settings.hub_recon_day_margin_hours
    stored = queries.day_summary(conn, day)
    syncs = queries.day_syncs(conn, day.isoformat())
    gaps = queries.missing_inputs(conn, day, margin, settings.hub_start_date, today_in(zone))
    neighbours = [
        f"{gap['source']} has not synced {gap['partition']} yet, which this day's "
        "reconciliation reads for its margin"
        for gap in gaps
        if gap["partition"] != day.isoformat()  # the day itself: in trust_reasons
    ]
    reasons = [
        *stored.run_reasons,
        *queries.trust_reasons(day, zone, utc_now(), margin, stored.run_at, syncs),
        *neighbours,
    ]
    counts, total = stored.counts, stored.total
    amount = counts.get(MatchType.DISCREPANCY_AMOUNT, 0)
    status = counts.get(MatchType.DISCREPANCY_STATUS, 0)
    missing_vima = counts.get(MatchType.MISSING_VIMA, 0)
    missing_payshack = counts.get(MatchType.MISSING_PAYSHACK, 0)
    summary = Summary(
        date=day,
        run_id=stored.run_id,
        run_at=stored.run_at,
        total_transactions=total,
        matched=_share(counts.get(MatchType.MATCHED, 0), total),
        discrepancies={
            **_share(amount + status, total),
            "by_type": {"amount": amount, "status": status},
        },
        missing={
            **_share(missing_vima + missing_payshack, total),
            "missing_vima": missing_vima,
            "missing_payshack": missing_payshack,
        },
        duplicates=_share(counts.get(MatchType.DUPLICATE, 0), total),
        status="provisional" if reasons else "complete",
        reasons=reasons,
        sources={
            source: SourceSyncInfo(
                synced_at=sync.synced_at if sync else None, complete=sync.complete if sync else None
            )
            for source, sync in syncs.items()
        },
    )
    return summary.model_dump(mode="json")


@router.get(
    "/summary",
    response_model=SummaryResponse,
    summary="A day's reconciliation summary",
    description="Counts and shares of the day's results, and whether the day is `complete` "
    "or `provisional` (a source not yet synced after the day closed, an incomplete read, a "
    "sync newer than the reconciliation, or the day still open); `reasons` says which. "
    "Cached for 300 s per data version.",
    responses=error_responses(),
)
def summary(
    _role: ReaderDep,
    engine: EngineDep,
    redis: RedisDep,
    settings: SettingsDep,
    date_: Annotated[
        date | None,
        Query(
            alias="date",
            description="The day (YYYY-MM-DD); default today.",
            examples=["2026-11-01"],
        ),
    ] = None,
) -> Response:
    """The summary of the day, cached per data version."""
    day = date_ or today_in(settings.hub_timezone)

    def compute() -> dict[str, Any]:
        with engine.connect() as conn:
            return {"data": build_summary(conn, day, settings)}

    body = cached_json(redis, "recon_summary", {"date": day.isoformat()}, DEFAULT_TTL, compute)
    return Response(content=body, media_type="application/json")


@router.get(
    "/discrepancies",
    response_model=DiscrepancyList,
    summary="Discrepancies",
    description="Results that are not `matched`, by day and id, with their resolution. "
    "`from_date` and `to_date` bound the days; without them, every day's (`resolved=false` "
    "alone is the open work list).",
    responses=error_responses(),
)
def discrepancies(
    _role: ReaderDep,
    conn: ConnectionDep,
    from_date: Annotated[date | None, Query(examples=["2026-11-01"])] = None,
    to_date: Annotated[date | None, Query(examples=["2026-11-07"])] = None,
    type_: Annotated[DiscrepancyType | None, Query(alias="type")] = None,
    resolved: bool | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> DiscrepancyList:
    """A page of discrepancies of the days (every day when no date is given)."""
    if from_date and to_date and from_date > to_date:
        raise invalid(
            "from_date",
            f"a date on or before to_date ({to_date.isoformat()})",
            from_date.isoformat(),
        )
    types = [queries.DISCREPANCY_TYPES[type_]] if type_ else None
    rows, total = queries.list_discrepancies(
        conn, from_date, to_date, types=types, resolved=resolved, page=page, limit=limit
    )
    return DiscrepancyList(
        data=[DiscrepancyItem.model_validate(row) for row in rows],
        meta=ListMeta(page=page, limit=limit, total=total, total_pages=math.ceil(total / limit)),
    )


@router.patch(
    "/discrepancies/{discrepancy_id}",
    response_model=DiscrepancyResponse,
    summary="Resolve a discrepancy",
    description="Operator: mark the discrepancy resolved (or reopen it) with a note. The "
    "resolution is keyed by the discrepancy's stable key, so it is kept when the day is "
    "reconciled again.",
    responses=error_responses(403, 404),
)
def resolve(
    role: OperatorDep,
    conn: ConnectionDep,
    redis: RedisDep,
    discrepancy_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: Annotated[ResolutionRequest, Body()],
) -> DiscrepancyResponse:
    """Store the resolution and answer the updated discrepancy."""
    item = queries.get_result(conn, discrepancy_id)
    if item is None or item["match_status"] == MatchType.MATCHED:
        raise APIError(404, f"no discrepancy with id {discrepancy_id}")
    queries.resolve(conn, item["discrepancy_key"], body.resolved, body.note, role, utc_now())
    conn.commit()
    _bump_data_version(redis)
    updated = queries.get_result(conn, discrepancy_id)
    return DiscrepancyResponse(data=DiscrepancyItem.model_validate(updated))


def _bump_data_version(redis: RedisDep) -> None:
    try:
        redis.incr(DATA_VERSION_KEY)
    except Exception as exc:  # cached summaries expire by TTL anyway
        log.warning("could not bump the data version", error=type(exc).__name__)


@router.post(
    "/run",
    response_model=RunStartedResponse,
    status_code=202,
    summary="Reconcile a day",
    description="Operator: launch the reconciliation (and hourly metrics) of the day in "
    "Dagster. 409 when one is already queued or running for that day; 503 when Dagster "
    "cannot be reached.",
    responses=error_responses(403, 409, 502),
)
def run(
    _role: OperatorDep,
    settings: SettingsDep,
    redis: RedisDep,
    request_body: Annotated[RunRequest, Body()],
    dagster: DagsterDep,
) -> RunStartedResponse:
    """Launch `reconcile_and_metrics` for the partition of the day."""
    day = request_body.date
    _check_partition(day, settings)
    key = day.isoformat()
    run_id = launch_exclusive(
        dagster,
        redis,
        RECONCILE_JOB,
        key,
        busy_tags={PARTITION_TAG: key},
        what=f"a reconciliation of {key}",
    )
    return RunStartedResponse(
        data=RunStarted(
            run_id=run_id,
            status="started",
            message=f"reconciliation of {day.isoformat()} launched in Dagster",
            date=day,
        )
    )


def _check_partition(day: date, settings: SettingsDep) -> None:
    today = today_in(settings.hub_timezone)
    if day < settings.hub_start_date or day > today:
        raise invalid(
            "date",
            f"a day from {settings.hub_start_date.isoformat()} to {today.isoformat()}",
            day.isoformat(),
            location="body",
        )
