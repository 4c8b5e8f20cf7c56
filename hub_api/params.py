"""Query parameters several routers share, validated into hub_core query objects.

Each dependency turns raw parameters into a `Period` or `TransactionFilters` and answers a
422 `VALIDATION_ERROR` naming the field for anything out of contract.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Depends, Query

from hub_api.deps import SettingsDep
from hub_api.errors import invalid
from hub_core.queries.filters import TransactionFilters
from hub_core.queries.periods import Period, today_in, valid_timezone
from hub_core.types import Direction, Source, Status

FromDate = Annotated[
    date | None,
    Query(description="First day (YYYY-MM-DD), in `timezone`.", examples=["2026-11-01"]),
]
ToDate = Annotated[
    date | None,
    Query(description="Last day (YYYY-MM-DD, included), in `timezone`.", examples=["2026-11-07"]),
]
Timezone = Annotated[
    str | None,
    Query(
        max_length=64,
        description="IANA time zone the days are read in (default: the hub's, HUB_TIMEZONE).",
        examples=["Asia/Kolkata"],
    ),
]


def resolve_timezone(timezone: str | None, default: str) -> str:
    """`timezone` if it names an IANA zone, `default` when absent; 422 otherwise."""
    if timezone is None:
        return default
    if not valid_timezone(timezone):
        raise invalid("timezone", "an IANA time zone such as UTC or Asia/Kolkata", timezone)
    return timezone


def make_period(
    from_date: date | None, to_date: date | None, timezone: str, default_from: date | None
) -> Period:
    """The period from the parameters; `to_date` defaults to today, `from_date` to
    `default_from` (or `to_date`). 422 when `from_date` is after `to_date`."""
    end = to_date or today_in(timezone)
    start = from_date or default_from or end
    if start > end:
        raise invalid(
            "from_date", f"a date on or before to_date ({end.isoformat()})", start.isoformat()
        )
    return Period(start, end, timezone)


async def metrics_period(
    settings: SettingsDep,
    from_date: FromDate = None,
    to_date: ToDate = None,
    timezone: Timezone = None,
) -> Period:
    """The period of a metrics request (default: today in the zone)."""
    zone = resolve_timezone(timezone, settings.hub_timezone)
    return make_period(from_date, to_date, zone, None)


async def list_period(
    settings: SettingsDep,
    from_date: FromDate = None,
    to_date: ToDate = None,
    timezone: Timezone = None,
) -> Period | None:
    """The period of a list or export (none when neither date is given: every day)."""
    zone = resolve_timezone(timezone, settings.hub_timezone)
    if from_date is None and to_date is None:
        return None
    return make_period(from_date, to_date, zone, from_date or settings.hub_start_date)


MetricsPeriodDep = Annotated[Period, Depends(metrics_period)]
ListPeriodDep = Annotated[Period | None, Depends(list_period)]

Amount = Annotated[
    Decimal | None,
    Query(
        ge=0,
        le=Decimal("99999999999999"),
        allow_inf_nan=False,
        description="Amount bound (major units).",
    ),
]


async def transaction_filters(
    period: ListPeriodDep,
    source: Annotated[Source | None, Query(description="`vima` or `payshack`.")] = None,
    project: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: Annotated[Status | None, Query(description="Normalized status.")] = None,
    direction: Annotated[Direction | None, Query(description="`payin` or `payout`.")] = None,
    currency: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code, e.g. INR.")
    ] = None,
    search: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Exact hub id, provider id, order id / client operation id, UTR, "
            "phone or e-mail (case-insensitive).",
        ),
    ] = None,
    min_amount: Amount = None,
    max_amount: Amount = None,
) -> TransactionFilters:
    """The list's filters (API.md), shared by the list, its export and its count."""
    if min_amount is not None and max_amount is not None and min_amount > max_amount:
        raise invalid("min_amount", f"an amount at most max_amount ({max_amount})", str(min_amount))
    term = search.strip() if search else None
    return TransactionFilters(
        source=source,
        project=project,
        status=status,
        direction=direction,
        currency=currency.upper() if currency else None,
        period=period,
        search=term or None,
        min_amount=min_amount,
        max_amount=max_amount,
    )


FiltersDep = Annotated[TransactionFilters, Depends(transaction_filters)]
