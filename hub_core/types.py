"""Domain enums and the unified `Transaction` record shared by pipelines and API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """A payment provider the hub reads."""

    VIMA = "vima"
    PAYSHACK = "payshack"


class Status(StrEnum):
    """Normalized transaction status."""

    SUCCESS = "success"
    FAILED = "failed"
    PENDING = "pending"
    REFUNDED = "refunded"


class Direction(StrEnum):
    """Money flow as seen by the merchant."""

    PAYIN = "payin"
    PAYOUT = "payout"


class MatchType(StrEnum):
    """Outcome of reconciling one pair or orphan."""

    MATCHED = "matched"
    DISCREPANCY_AMOUNT = "discrepancy_amount"
    DISCREPANCY_STATUS = "discrepancy_status"
    MISSING_VIMA = "missing_vima"
    MISSING_PAYSHACK = "missing_payshack"
    DUPLICATE = "duplicate"


class MatchMethod(StrEnum):
    """How a pair was found."""

    EXACT = "exact"
    FALLBACK = "fallback"


class SyncStatus(StrEnum):
    """State of a source's synchronisation, as the API reports it."""

    IDLE = "idle"
    RUNNING = "running"
    FAILED = "failed"


@dataclass(slots=True)
class Transaction:
    """One payment operation in the hub's unified model (a row of `transactions`).

    Money is `Decimal` in major units; times are timezone-aware UTC.
    """

    source: Source
    source_id: str
    direction: Direction
    amount: Decimal
    currency: str
    status: Status
    original_status: str
    created_at: datetime
    id: str = ""
    reference_id: str | None = None
    client_operation_id: str | None = None
    order_id: str | None = None
    match_key: str | None = None
    project: str | None = None
    merchant_id: str | None = None
    paid_amount: Decimal | None = None
    fee: Decimal | None = None
    user_id: str | None = None
    user_email: str | None = None
    user_phone: str | None = None
    user_name: str | None = None
    country: str | None = None
    utr: str | None = None
    payment_method: str | None = None
    payment_product: str | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    raw_data: dict[str, Any] = field(default_factory=dict)
    data_hash: str = ""

    def as_row(self) -> dict[str, Any]:
        """The record as a `transactions` row (column name -> value)."""
        return asdict(self)


TRANSACTION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Transaction))
"""Column names of `transactions` carried by `Transaction` (all but `ingested_at`)."""
