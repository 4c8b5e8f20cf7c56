"""Raw payloads -> `transactions`, the same way for every source."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine

from hub_core.types import MalformedRecord, StatusMap, Transaction
from hub_pipelines.prefetch import prefetched
from hub_pipelines.warehouse.rows import UpsertCounts, batched
from hub_pipelines.warehouse.transactions import upsert_transactions

T = TypeVar("T")


@dataclass(slots=True)
class NormalizeReport:
    """What normalizing one partition did."""

    rows: UpsertCounts = field(default_factory=UpsertCounts)
    by_status: Counter[str] = field(default_factory=Counter)
    unknown_statuses: Counter[str] = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    preview: list[Transaction] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def normalized(self) -> int:
        """Records that became transactions."""
        return sum(self.by_status.values())


def normalize_into_transactions(
    engine: Engine,
    records: Iterable[T],
    normalize: Callable[[T], Transaction | None],
    statuses: StatusMap,
    batch_size: int = 5000,
    preview_rows: int = 5,
    ahead: int = 2,
) -> NormalizeReport:
    """Normalize `records` and upsert them into `transactions` in batches.

    A record whose normalizer raises `MalformedRecord` is counted and reported, never failing
    the rest; one it turns into None is not the run's to write (skipped, not counted);
    statuses unknown to the source's `statuses` are counted by raw value. Up to `ahead`
    batches are normalized while the one before is written.
    """
    started = time.monotonic()
    report = NormalizeReport()

    def normalized() -> Iterator[Transaction]:
        for record in records:
            try:
                txn = normalize(record)
            except MalformedRecord as exc:
                report.rejected.append(str(exc))
                continue
            if txn is None:
                continue
            report.by_status[txn.status.value] += 1
            if not statuses.is_known(txn.original_status):
                report.unknown_statuses[txn.original_status] += 1
            if len(report.preview) < preview_rows:
                report.preview.append(txn)
            yield txn

    for batch in prefetched(batched(normalized(), batch_size), depth=ahead):
        with engine.begin() as conn:
            report.rows.add(upsert_transactions(conn, batch))
    report.seconds = time.monotonic() - started
    return report
