"""`/metrics` endpoints: overview, by project, by status and trends (API.md).

Thin routes: parameters are validated into a `Period` and `TransactionFilters`, the figures come
from `hub_core.queries.metrics`, and the JSON body is cached in Redis (`cached_json`), so a cache
hit is returned as stored bytes without re-validation and without taking a database connection
(the routes take the engine and connect only on a miss).

Amounts are never summed across currencies: with `currency` the figures are for that currency;
without, for the period's dominant currency (most transactions; INR when there are none), named
in `currency`, and every other currency present is listed in `other_currencies`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from hub_api.cache import DEFAULT_TTL, OVERVIEW_TTL, cached_json
from hub_api.deps import EngineDep, ReaderDep, RedisDep, SettingsDep
from hub_api.errors import invalid
from hub_api.params import MetricsPeriodDep
from hub_api.schemas import Money, UTCTime, error_responses
from hub_core.queries import metrics as queries
from hub_core.queries.filters import TransactionFilters
from hub_core.queries.periods import Period
from hub_core.types import Direction, Source

router = APIRouter(prefix="/metrics", tags=["metrics"])

FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
"""The days a metrics period may cover (outside them a previous period cannot be computed)."""

_PERIOD_EXAMPLE = {"from": "2026-11-01", "to": "2026-11-07"}
_OTHER_EXAMPLE: list[dict[str, Any]] = []


# --- parameters -------------------------------------------------------------------------------


async def metrics_period(period: MetricsPeriodDep) -> Period:
    """The request's period (from_date, to_date, timezone), within `FIRST_DAY`..`LAST_DAY`."""
    for field, day in (("from_date", period.from_date), ("to_date", period.to_date)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise invalid(field, f"a date between {FIRST_DAY} and {LAST_DAY}", day.isoformat())
    return period


PeriodDep = Annotated[Period, Depends(metrics_period)]


async def metrics_filters(
    source: Annotated[Source | None, Query(description="`vima` or `payshack`.")] = None,
    project: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Project, e.g. 91game.")
    ] = None,
    currency: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z]{3}$",
            description="ISO 4217 code (extension): every figure for that currency. Default: "
            "the period's dominant currency.",
            examples=["INR"],
        ),
    ] = None,
    direction: Annotated[
        Direction | None, Query(description="`payin` or `payout` (extension).")
    ] = None,
) -> TransactionFilters:
    """The dimension filters of a metrics request."""
    if project is not None and "\x00" in project:
        raise invalid("project", "text without NUL characters", project.replace("\x00", ""))
    return TransactionFilters(
        source=source,
        project=project,
        direction=direction,
        currency=currency.upper() if currency else None,
    )


FiltersDep = Annotated[TransactionFilters, Depends(metrics_filters)]


def _cache_params(period: Period, filters: TransactionFilters, grid: str) -> dict[str, Any]:
    return {
        "from": period.from_date.isoformat(),
        "to": period.to_date.isoformat(),
        "timezone": period.timezone,
        "source": filters.source,
        "project": filters.project,
        "currency": filters.currency,
        "direction": filters.direction,
        "grid": grid,
    }


def _json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


# --- response models (the OpenAPI document; bodies are built through them) --------------------


class PeriodOut(BaseModel):
    """The days of the period (both included), in `timezone`."""

    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date


class Tally(BaseModel):
    """A count and an amount."""

    count: int
    amount: Money


class TotalOut(Tally):
    """A count and an amount in `currency`."""

    currency: str


class CurrencyTally(Tally):
    """Another currency present in the period, with its own count and amount."""

    currency: str


class ByStatusOut(BaseModel):
    """Count and amount per status."""

    success: Tally
    failed: Tally
    pending: Tally
    refunded: Tally


class BySourceOut(BaseModel):
    """Count and amount per source."""

    vima: Tally
    payshack: Tally


class TrendsOut(BaseModel):
    """% change of counts against the previous period of equal length (null: from zero)."""

    total_change: float | None
    success_change: float | None
    failed_change: float | None


class Overview(BaseModel):
    """Totals of the period."""

    period: PeriodOut
    timezone: str
    currency: str
    total: TotalOut
    by_status: ByStatusOut
    by_source: BySourceOut
    conversion_rate: float = Field(description="success / (success + failed) in %.")
    avg_ticket: Money = Field(description="success amount / success count.")
    trends: TrendsOut
    other_currencies: list[CurrencyTally]


class OverviewResponse(BaseModel):
    """`GET /metrics/overview`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "period": _PERIOD_EXAMPLE,
                        "timezone": "Asia/Kolkata",
                        "currency": "INR",
                        "total": {"count": 1200, "amount": 845000.5, "currency": "INR"},
                        "by_status": {
                            "success": {"count": 1000, "amount": 800000.0},
                            "failed": {"count": 150, "amount": 40000.5},
                            "pending": {"count": 40, "amount": 4000.0},
                            "refunded": {"count": 10, "amount": 1000.0},
                        },
                        "by_source": {
                            "vima": {"count": 700, "amount": 500000.5},
                            "payshack": {"count": 500, "amount": 345000.0},
                        },
                        "conversion_rate": 86.96,
                        "avg_ticket": 800.0,
                        "trends": {
                            "total_change": 12.5,
                            "success_change": 10.0,
                            "failed_change": -5.0,
                        },
                        "other_currencies": [{"currency": "USD", "count": 3, "amount": 120.0}],
                    }
                }
            ]
        }
    )

    data: Overview


class ProjectOut(BaseModel):
    """One project (null: transactions without a project)."""

    project: str | None
    count: int
    amount: Money
    success_rate: float = Field(description="success / (success + failed) in %.")


class ByProject(BaseModel):
    """Projects of the period, largest amount first."""

    period: PeriodOut
    timezone: str
    currency: str
    projects: list[ProjectOut]
    other_currencies: list[CurrencyTally]


class ByProjectResponse(BaseModel):
    """`GET /metrics/by-project`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "period": _PERIOD_EXAMPLE,
                        "timezone": "UTC",
                        "currency": "INR",
                        "projects": [
                            {
                                "project": "91game",
                                "count": 800,
                                "amount": 600000.0,
                                "success_rate": 91.5,
                            },
                            {"project": None, "count": 4, "amount": 300.0, "success_rate": 50.0},
                        ],
                        "other_currencies": _OTHER_EXAMPLE,
                    }
                }
            ]
        }
    )

    data: ByProject


class StatusOut(BaseModel):
    """One status."""

    status: str
    count: int
    amount: Money
    share: float = Field(description="This status's count / all counts, in %.")


class ByStatus(BaseModel):
    """Every status of the period, zeros included."""

    period: PeriodOut
    timezone: str
    currency: str
    statuses: list[StatusOut]
    other_currencies: list[CurrencyTally]


class ByStatusResponse(BaseModel):
    """`GET /metrics/by-status`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "period": _PERIOD_EXAMPLE,
                        "timezone": "UTC",
                        "currency": "INR",
                        "statuses": [
                            {"status": "success", "count": 80, "amount": 8000.0, "share": 80.0},
                            {"status": "failed", "count": 15, "amount": 1500.0, "share": 15.0},
                            {"status": "pending", "count": 5, "amount": 500.0, "share": 5.0},
                            {"status": "refunded", "count": 0, "amount": 0.0, "share": 0.0},
                        ],
                        "other_currencies": _OTHER_EXAMPLE,
                    }
                }
            ]
        }
    )

    data: ByStatus


class TrendPoint(BaseModel):
    """One bucket: its start (UTC) and figures."""

    timestamp: UTCTime
    count: int
    amount: Money
    success_count: int
    failed_count: int


class Trends(BaseModel):
    """Every bucket of the period in order, zeros included."""

    period: PeriodOut
    timezone: str
    currency: str
    granularity: str
    points: list[TrendPoint]
    other_currencies: list[CurrencyTally]


class TrendsResponse(BaseModel):
    """`GET /metrics/trends`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "period": {"from": "2026-11-01", "to": "2026-11-02"},
                        "timezone": "Asia/Kolkata",
                        "currency": "INR",
                        "granularity": "day",
                        "points": [
                            {
                                "timestamp": "2026-10-31T18:30:00.000Z",
                                "count": 120,
                                "amount": 84500.0,
                                "success_count": 100,
                                "failed_count": 15,
                            },
                            {
                                "timestamp": "2026-11-01T18:30:00.000Z",
                                "count": 0,
                                "amount": 0.0,
                                "success_count": 0,
                                "failed_count": 0,
                            },
                        ],
                        "other_currencies": _OTHER_EXAMPLE,
                    }
                }
            ]
        }
    )

    data: Trends


def _body(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """`{"data": data}` validated and serialized through `model` (amounts to 2 decimals)."""
    return model.model_validate({"data": data}).model_dump(mode="json", by_alias=True)


def _report(
    redis: RedisDep,
    engine: EngineDep,
    namespace: str,
    ttl: int,
    model: type[BaseModel],
    query: Callable[[Connection], dict[str, Any]],
    params: dict[str, Any],
) -> Response:
    """The report's JSON from the cache, else `query` run on a connection taken only then,
    validated through `model` and cached for `ttl` seconds under `metrics:<namespace>`."""

    def compute() -> dict[str, Any]:
        with engine.connect() as conn:
            return _body(model, query(conn))

    return _json(cached_json(redis, f"metrics:{namespace}", params, ttl, compute))


# --- routes -----------------------------------------------------------------------------------


@router.get(
    "/overview",
    response_model=OverviewResponse,
    responses=error_responses(),
    summary="Totals, by status and source, conversion, average ticket, change vs previous",
)
def get_overview(
    _role: ReaderDep,
    engine: EngineDep,
    redis: RedisDep,
    settings: SettingsDep,
    period: PeriodDep,
    filters: FiltersDep,
) -> Response:
    """Figures of the period (default: today in `timezone`) and the % change of counts
    against the previous period of equal length."""
    grid = settings.hub_timezone
    return _report(
        redis,
        engine,
        "overview",
        OVERVIEW_TTL,
        OverviewResponse,
        lambda conn: queries.overview(conn, period, filters, grid),
        _cache_params(period, filters, grid),
    )


@router.get(
    "/by-project",
    response_model=ByProjectResponse,
    responses=error_responses(),
    summary="Count, amount and success rate per project",
)
def get_by_project(
    _role: ReaderDep,
    engine: EngineDep,
    redis: RedisDep,
    settings: SettingsDep,
    period: PeriodDep,
    filters: FiltersDep,
) -> Response:
    """Projects of the period, largest amount first (`project` null: none recorded)."""
    grid = settings.hub_timezone
    return _report(
        redis,
        engine,
        "by-project",
        DEFAULT_TTL,
        ByProjectResponse,
        lambda conn: queries.by_project(conn, period, filters, grid),
        _cache_params(period, filters, grid),
    )


@router.get(
    "/by-status",
    response_model=ByStatusResponse,
    responses=error_responses(),
    summary="Count, amount and share of each status",
)
def get_by_status(
    _role: ReaderDep,
    engine: EngineDep,
    redis: RedisDep,
    settings: SettingsDep,
    period: PeriodDep,
    filters: FiltersDep,
) -> Response:
    """Every status (zeros included) with its share of the period's count."""
    grid = settings.hub_timezone
    return _report(
        redis,
        engine,
        "by-status",
        DEFAULT_TTL,
        ByStatusResponse,
        lambda conn: queries.by_status(conn, period, filters, grid),
        _cache_params(period, filters, grid),
    )


@router.get(
    "/trends",
    response_model=TrendsResponse,
    responses=error_responses(),
    summary="Figures per hour, day or week, every bucket present",
)
def get_trends(
    _role: ReaderDep,
    engine: EngineDep,
    redis: RedisDep,
    settings: SettingsDep,
    period: PeriodDep,
    filters: FiltersDep,
    granularity: Annotated[
        Literal["hour", "day", "week"],
        Query(description="Bucket size in `timezone` (weeks start on Monday)."),
    ] = "day",
) -> Response:
    """One point per bucket of the period, in order, zeros included; at most
    5,000 buckets."""
    grid = settings.hub_timezone

    def compute() -> dict[str, Any]:
        with engine.connect() as conn:
            data = queries.trends(conn, period, granularity, filters, grid, queries.MAX_BUCKETS)
        return _body(TrendsResponse, data)

    params = {**_cache_params(period, filters, grid), "granularity": granularity}
    try:
        body = cached_json(redis, "metrics:trends", params, DEFAULT_TTL, compute)
    except queries.TooManyBuckets as exc:  # raised before any query runs; never cached
        raise invalid(
            "granularity",
            f"at most {exc.limit} buckets in the period (this one has {exc.buckets}); "
            "use a coarser granularity or a shorter period",
            granularity,
        ) from None
    return _json(body)
