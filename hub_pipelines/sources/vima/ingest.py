"""Vima partition ingestion and normalization as plain functions (no Dagster).

`ingest_partition` pages the partition's day with the create cursor and then the update
cursor. Each page's rows and the stream's checkpoint commit in one transaction, so a run
stopped at any moment resumes from the last committed page, with no gap and no duplicate.

The update stream of a partition that has never run starts at a watermark: the provider's
highest update id, read before the create pass starts. Every change made after that moment
has a higher id, so the update stream sees it, whatever the create pass read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Engine, text

from hub_core.types import Source
from hub_pipelines.normalizing import NormalizeReport, normalize_into_transactions
from hub_pipelines.prefetch import prefetched
from hub_pipelines.sources.vima.client import VimaClient
from hub_pipelines.sources.vima.normalize import (
    MalformedOperation,
    is_known_status,
    normalize_operation,
)
from hub_pipelines.warehouse import (
    Checkpoint,
    UpsertCounts,
    load_checkpoint,
    save_checkpoint,
    upsert_raw_vima,
)
from hub_pipelines.windows import PartitionWindow

STREAMS = ("create", "update")
BATCH_SIZE = 5000


@dataclass(slots=True)
class IngestReport:
    """What one ingestion run of a partition did."""

    pages: int = 0
    fetched: int = 0
    rows: UpsertCounts = field(default_factory=UpsertCounts)
    skipped_without_id: int = 0
    cursors: dict[str, str | None] = field(default_factory=dict)
    seconds: float = 0.0


def _day_filters(window: PartitionWindow) -> dict[str, Any]:
    first, last = window.provider_dates()
    if first == last:
        return {"day": first}
    return {"from_date": first, "to_date": last}


def _update_watermark(client: VimaClient) -> str | None:
    latest = client.get_operations(from_operation_update_id="0", descending=True, count=1)
    return str(latest[0]["operation_update_id"]) if latest else None


def ingest_partition(client: VimaClient, engine: Engine, window: PartitionWindow) -> IngestReport:
    """Fetch the partition's operations into `raw_vima_operations`, resumably."""
    started = time.monotonic()
    report = IngestReport()
    with engine.begin() as conn:
        update_checkpoint = load_checkpoint(conn, Source.VIMA, "update", window.key)
        if update_checkpoint is None:
            update_checkpoint = Checkpoint(_update_watermark(client), 0, 0, False)
            save_checkpoint(conn, Source.VIMA, "update", window.key, update_checkpoint)
    for stream in STREAMS:
        with engine.connect() as conn:
            checkpoint = load_checkpoint(conn, Source.VIMA, stream, window.key) or Checkpoint(
                None, 0, 0, False
            )
        pages = prefetched(  # fetch page n+1 while page n is written
            client.iter_pages(stream, checkpoint.cursor, **_day_filters(window))  # type: ignore[arg-type]
        )
        for page, cursor in pages:
            keyed = [op for op in page if op.get("operation_id") not in (None, "")]
            report.skipped_without_id += len(page) - len(keyed)
            checkpoint = Checkpoint(cursor, checkpoint.page + 1, checkpoint.rows + len(page), False)
            with engine.begin() as conn:
                report.rows.add(upsert_raw_vima(conn, keyed, window.key))
                save_checkpoint(conn, Source.VIMA, stream, window.key, checkpoint)
            report.pages += 1
            report.fetched += len(page)
        report.cursors[stream] = checkpoint.cursor
    report.seconds = time.monotonic() - started
    return report


def _raw_payloads(engine: Engine, window: PartitionWindow, batch: int) -> Iterator[dict[str, Any]]:
    query = text(
        "SELECT payload::text FROM raw_vima_operations "
        "WHERE (created_at >= :start AND created_at < :end) "
        "OR (created_at IS NULL AND partition_key = :key) ORDER BY operation_id"
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            query, {"start": window.start, "end": window.end, "key": window.key}
        )
        for (payload,) in result:
            yield orjson.loads(payload)


def normalize_partition(engine: Engine, window: PartitionWindow) -> NormalizeReport:
    """Normalize the partition's raw Vima operations and upsert them into `transactions`.

    Malformed operations stay in the raw table and are reported, never failing the rest.
    """
    return normalize_into_transactions(
        engine,
        _raw_payloads(engine, window, BATCH_SIZE),
        normalize_operation,
        is_known_status,
        MalformedOperation,
    )
