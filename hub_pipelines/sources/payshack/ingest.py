"""PayShack partition ingestion and normalization as plain functions (no Dagster)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine, text

from hub_core.types import Source
from hub_pipelines.normalizing import NormalizeReport, normalize_into_transactions
from hub_pipelines.sources.payshack.browser import Kind, PayShackBrowser, Reader
from hub_pipelines.sources.payshack.normalize import MalformedRow, is_known_status, normalize_row
from hub_pipelines.warehouse import (
    Checkpoint,
    UpsertCounts,
    batched,
    save_checkpoint,
    upsert_raw_payshack,
)
from hub_pipelines.windows import PartitionWindow

KINDS: tuple[Kind, ...] = ("payin", "payout")
WRITE_BATCH = 500


@dataclass(slots=True)
class KindReport:
    """What reading one list (pay-ins or pay-outs) of a day did."""

    rows: UpsertCounts = field(default_factory=UpsertCounts)
    read: int = 0
    pages: int = 0
    passes: int = 0
    shifted: bool = False
    complete: bool = False


@dataclass(slots=True)
class IngestReport:
    """What one PayShack ingestion run of a partition did."""

    reader: str
    kinds: dict[str, KindReport] = field(default_factory=dict)
    session_reused: bool = False
    logins: int = 0
    seconds: float = 0.0

    @property
    def read(self) -> int:
        """Rows read over both lists."""
        return sum(k.read for k in self.kinds.values())


def ingest_partition(
    browser: PayShackBrowser, engine: Engine, window: PartitionWindow, reader: Reader
) -> IngestReport:
    """Read the day's pay-ins and pay-outs and land them in `raw_payshack_transactions`.

    Rows are upserted by (kind, txnId) in batches, each with the list's checkpoint in the
    same transaction; a re-run upserts the same keys, so nothing is doubled.
    """
    started = time.monotonic()
    report = IngestReport(reader=reader)
    for kind in KINDS:
        result = browser.read_day(kind, window.start, window.end, reader)
        kind_report = KindReport(
            read=len(result.rows),
            pages=result.pages,
            passes=result.passes,
            shifted=result.shifted,
            complete=result.complete,
        )
        written = 0
        batches = list(batched(list(result.rows.values()), WRITE_BATCH)) or [[]]
        for index, batch in enumerate(batches, 1):
            written += len(batch)
            last = index == len(batches)
            checkpoint = Checkpoint(None, result.pages, written, last and result.complete)
            with engine.begin() as conn:
                kind_report.rows.add(upsert_raw_payshack(conn, kind, batch, window.key))
                save_checkpoint(conn, Source.PAYSHACK, kind, window.key, checkpoint)
        report.kinds[kind] = kind_report
    report.session_reused = browser.session_reused
    report.logins = browser.logins
    report.seconds = time.monotonic() - started
    return report


def _raw_rows(engine: Engine, window: PartitionWindow) -> Iterator[tuple[Kind, dict[str, Any]]]:
    query = text(
        "SELECT kind, payload::text FROM raw_payshack_transactions "
        "WHERE (created_at >= :start AND created_at < :end) "
        "OR (created_at IS NULL AND partition_key = :key) ORDER BY kind, txn_id"
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(
            query, {"start": window.start, "end": window.end, "key": window.key}
        )
        for kind, payload in result:
            yield kind, orjson.loads(payload)


def normalize_partition(
    engine: Engine, window: PartitionWindow, client_project_map: dict[str, str]
) -> NormalizeReport:
    """Normalize the partition's raw PayShack rows and upsert them into `transactions`."""
    return normalize_into_transactions(
        engine,
        _raw_rows(engine, window),
        lambda record: normalize_row(record[1], record[0], client_project_map),
        is_known_status,
        MalformedRow,
    )
