"""Domain enums and the unified `Transaction` record shared by pipelines and API."""

from __future__ import annotations

import functools
import hashlib
import operator
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson

_ID_NAMESPACE = uuid.UUID("6f1c8e52-3d0a-4b7e-9a51-0c4d2b9e7f10")
_ID_PREFIX = _ID_NAMESPACE.bytes


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


class MalformedRecord(ValueError):
    """A provider record that cannot become a transaction (a field missing or unreadable); it
    stays in its raw table and is reported, never failing the rest of its partition."""

    def __init__(self, record: str, record_id: str | None, field: str, reason: str) -> None:
        self.record_id = record_id
        self.field = field
        self.reason = reason
        super().__init__(f"{record} {record_id or '<no id>'}: {field}: {reason}")


def status_word(raw: object) -> str:
    """A provider's status as a key of a `StatusMap`: case, spacing and `_` do not matter."""
    return _status_word(str(raw))


@functools.lru_cache(maxsize=4096)
def _status_word(raw: str) -> str:
    # cached: a provider uses a handful of words, and this runs twice per record
    return " ".join(raw.replace("_", " ").split()).lower()


class StatusMap:
    """A provider's status words and the hub status each means; an unknown word maps to
    `unknown` (its raw value stays in `original_status` and is counted)."""

    def __init__(self, words: Mapping[str, Status], unknown: Status = Status.PENDING) -> None:
        self.words = {status_word(word): status for word, status in words.items()}
        self.unknown = unknown

    def status(self, raw: object) -> Status:
        """The hub status of a raw status word."""
        return self.words.get(status_word(raw), self.unknown)

    def is_known(self, raw: object) -> bool:
        """Whether `raw` is one of the provider's known words."""
        return status_word(raw) in self.words


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
    raw_data: dict[str, Any] | orjson.Fragment = field(default_factory=dict)
    """The provider's payload; or that payload already encoded as JSON (`orjson.Fragment`)
    when the landing encoded it for the raw table (written as it is)."""
    data_hash: str = ""

    def business_hash(self) -> str:
        """Hash of the normalized business fields (not raw payload, ids or fetch times)."""
        encoded = orjson.dumps(_hashed_values(self), default=_hash_default)
        return hashlib.blake2b(encoded, digest_size=16).hexdigest()

    def finalize(self) -> Transaction:
        """Fill the derived `id` and `data_hash`; returns self."""
        self.id = transaction_id(self.source, self.source_id)
        self.data_hash = self.business_hash()
        return self


def transaction_id(source: str, source_id: str) -> str:
    """Deterministic UUID of a transaction from its source and source id: the text of
    `uuid.uuid5(_ID_NAMESPACE, "<source>:<source_id>")`, computed without building `UUID`
    objects (it runs for every record a run normalizes)."""
    name = _ID_PREFIX + f"{source}:{source_id}".encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest())  # as uuid5 does
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _hash_default(value: object) -> str:
    # 1.50 and 1.5 are the same amount: the hash sees the normalized number
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    raise TypeError(f"cannot hash {type(value).__name__}")


TRANSACTION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Transaction))
"""Column names of `transactions` carried by `Transaction` (all but `ingested_at`)."""

HASHED_FIELDS: tuple[str, ...] = tuple(
    name for name in TRANSACTION_FIELDS if name not in ("id", "raw_data", "data_hash")
)
"""Fields whose change makes a transaction row different (`data_hash`)."""
_hashed_values = operator.attrgetter(*HASHED_FIELDS)  # a tuple, hashed like a list
