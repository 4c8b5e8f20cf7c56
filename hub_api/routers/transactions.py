"""`/transactions`: the list (filters, sort, offset or keyset paging) and one transaction."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from hub_api.cache import cached_json
from hub_api.deps import ConnectionDep, ReaderDep, RedisDep, SettingsDep
from hub_api.errors import APIError, invalid
from hub_api.params import FiltersDep
from hub_api.routers.reconciliation import DiscrepancyItem
from hub_api.schemas import ListMeta, Money, UTCTime, error_responses
from hub_core.queries import reconciliation as recon_queries
from hub_core.queries import transactions as queries
from hub_core.queries.filters import TransactionFilters
from hub_core.types import Direction, Source, Status

router = APIRouter(prefix="/transactions", tags=["transactions"])

TOTAL_TTL = 60
"""Seconds a list's total stays cached (per filters and data version)."""

_EXAMPLE: dict[str, Any] = {
    "id": "3f0c1f5e-8d3b-5a4e-9b7a-2f1e4c6d8a90",
    "source": "vima",
    "source_id": "op_1001",
    "reference_id": "ref-1001",
    "client_operation_id": "ord-1001",
    "order_id": None,
    "project": "91game",
    "merchant_id": None,
    "direction": "payin",
    "amount": 1500.0,
    "paid_amount": 1500.0,
    "currency": "INR",
    "fee": 30.0,
    "status": "success",
    "original_status": "SUCCESS",
    "user_id": "u-17",
    "user_email": "asha@example.com",
    "user_phone": "+919800000017",
    "user_name": "Asha",
    "country": "IN",
    "utr": "412345678901",
    "payment_method": "upi",
    "payment_product": "upi_intent",
    "created_at": "2026-11-01T10:15:00.000Z",
    "updated_at": "2026-11-01T10:16:00.000Z",
    "completed_at": "2026-11-01T10:16:00.000Z",
    "ingested_at": "2026-11-01T10:20:00.000Z",
}


class TransactionItem(BaseModel):
    """A transaction in the unified model (amounts with 2 decimals, times in UTC)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE]})

    id: str
    source: Source
    source_id: str
    reference_id: str | None
    client_operation_id: str | None
    order_id: str | None
    project: str | None
    merchant_id: str | None
    direction: Direction
    amount: Money
    paid_amount: Money | None
    currency: str
    fee: Money | None
    status: Status
    original_status: str
    user_id: str | None
    user_email: str | None
    user_phone: str | None
    user_name: str | None
    country: str | None
    utr: str | None
    payment_method: str | None
    payment_product: str | None
    created_at: UTCTime
    updated_at: UTCTime | None
    completed_at: UTCTime | None
    ingested_at: UTCTime


class TransactionDetail(TransactionItem):
    """A transaction with the provider's payload and its reconciliation result(s)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE,
                    "raw_data": {"operation_id": "op_1001", "amount": 150000},
                    "reconciliation": None,
                    "reconciliation_results": [],
                }
            ]
        }
    )

    raw_data: dict[str, Any]
    reconciliation: DiscrepancyItem | None
    """The newest result naming this transaction (None when it was never reconciled)."""
    reconciliation_results: list[DiscrepancyItem]
    """Every result naming it, newest day first (more than one across re-runs of days)."""


class TransactionList(BaseModel):
    """A page of transactions."""

    data: list[TransactionItem]
    meta: ListMeta


class TransactionResponse(BaseModel):
    """One transaction."""

    data: TransactionDetail


def _total(
    conn: ConnectionDep, redis: RedisDep, filters: TransactionFilters, grid_timezone: str
) -> tuple[int, bool]:
    """The list's total, cached per filters and data version: a walk through the pages
    counts once."""
    params = {"filters": repr(filters), "grid": grid_timezone}
    body = cached_json(
        redis,
        "transactions_total",
        params,
        TOTAL_TTL,
        lambda: list(queries.list_total(conn, filters, grid_timezone)),
    )
    total, estimate = orjson.loads(body)
    return int(total), bool(estimate)


@router.get(
    "",
    response_model=TransactionList,
    summary="List transactions",
    description="Filter, sort and page transactions. `page`/`limit` give offset paging; "
    "`cursor` (from `meta.next_cursor`) gives keyset paging that stays fast at any depth "
    "(`page` is then ignored). `meta.total` is exact up to 10,000 rows; past that it comes "
    "from the hourly metrics (or is capped) and `meta.total_is_estimate` is true.",
    responses=error_responses(),
)
def list_transactions(
    _role: ReaderDep,
    conn: ConnectionDep,
    redis: RedisDep,
    settings: SettingsDep,
    filters: FiltersDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    sort_by: Literal["created_at", "amount", "status", "project"] = "created_at",
    order: Literal["asc", "desc"] = "desc",
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> TransactionList:
    """A page of transactions with `meta` (and `next_cursor` while more rows follow)."""
    try:
        result = queries.list_transactions(
            conn, filters, sort_by=sort_by, order=order, limit=limit, page=page, cursor=cursor
        )
    except queries.InvalidCursor as exc:
        raise invalid("cursor", f"a meta.next_cursor of this sort ({exc})", cursor) from None
    total, estimate = _total(conn, redis, filters, settings.hub_timezone)
    return TransactionList(
        data=[TransactionItem.model_validate(row) for row in result.rows],
        meta=ListMeta(
            page=page,
            limit=limit,
            total=total,
            total_pages=math.ceil(total / limit),
            next_cursor=result.next_cursor,
            total_is_estimate=estimate,
        ),
    )


@router.get(
    "/{transaction_id}",
    response_model=TransactionResponse,
    summary="One transaction",
    description="The transaction with its provider payload (`raw_data`) and its "
    "reconciliation result(s), if any.",
    responses=error_responses(404),
)
def get_transaction(
    _role: ReaderDep, conn: ConnectionDep, transaction_id: Annotated[str, Path(max_length=100)]
) -> TransactionResponse:
    """One transaction by its hub id; 404 when there is none."""
    row = queries.get_transaction(conn, transaction_id)
    if row is None:
        raise APIError(404, f"no transaction with id {transaction_id!r}")
    results = recon_queries.results_of(
        conn, row["source"], row["source_id"], created_at=row["created_at"]
    )
    detail = TransactionDetail.model_validate(
        {
            **row,
            "reconciliation": results[0] if results else None,
            "reconciliation_results": results,
        }
    )
    return TransactionResponse(data=detail)
