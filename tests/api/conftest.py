"""API test fixtures: a real app over the test database and Redis, and a way to seed rows.

`make_txn` builds a normalized transaction; `seed` writes transactions through the pipelines'
own upsert and refreshes the hourly metrics of their days, as the assets do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hub_api.main import create_app
from hub_core.settings import get_settings
from hub_core.types import Direction, Source, Status, Transaction
from hub_pipelines.metrics import refresh_hourly_metrics
from hub_pipelines.warehouse.transactions import upsert_transactions

READER = {"X-API-Key": "test-reader-key"}
OPERATOR = {"Authorization": "Bearer test-operator-key"}

_serial = count(1)


def make_txn(
    created_at: datetime,
    *,
    source: Source = Source.VIMA,
    amount: str | Decimal = "100.00",
    status: Status = Status.SUCCESS,
    direction: Direction = Direction.PAYIN,
    project: str | None = "91game",
    currency: str = "INR",
    **fields: Any,
) -> Transaction:
    """A finalized transaction with a unique source id unless one is given."""
    n = next(_serial)
    txn = Transaction(
        source=source,
        source_id=fields.pop("source_id", f"{source.value}-{n:06d}"),
        direction=direction,
        amount=Decimal(str(amount)),
        currency=currency,
        status=status,
        original_status=fields.pop("original_status", status.value.upper()),
        created_at=created_at.astimezone(UTC),
        project=project,
        raw_data=fields.pop("raw_data", {"n": n}),
        **fields,
    )
    return txn.finalize()


def seed(engine: Engine, txns: Iterable[Transaction], timezone: str = "UTC") -> list[Transaction]:
    """Write `txns` and refresh the hourly metrics of every day they touch."""
    rows = list(txns)
    with engine.begin() as conn:
        upsert_transactions(conn, rows)
        days = sorted({t.created_at.astimezone(UTC).date() for t in rows})
        for day in _with_neighbours(days):
            refresh_hourly_metrics(conn, day, timezone)
    return rows


def _with_neighbours(days: list[date]) -> list[date]:
    from datetime import timedelta

    out: set[date] = set()
    for day in days:
        out.update({day - timedelta(days=1), day, day + timedelta(days=1)})
    return sorted(out)


@pytest.fixture
def api(clean_db: Engine, redis_client: redis.Redis) -> Iterator[TestClient]:
    """A TestClient over `create_app()` with empty hub tables and an empty Redis db."""
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def seeded(clean_db: Engine) -> Callable[..., list[Transaction]]:
    """`seeded(txns, timezone="UTC")` writes transactions and their hourly metrics."""

    def write(txns: Iterable[Transaction], timezone: str = "UTC") -> list[Transaction]:
        return seed(clean_db, txns, timezone)

    return write
