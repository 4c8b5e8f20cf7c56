"""Vima partition ingestion and normalization as plain functions (no Dagster).

`ingest_partition` pages the partition's day with the create cursor and then the update
cursor. The pages fetched while the previous ones were written land together, their rows and
the stream's checkpoint after the last of them in one transaction, so a run stopped at any
moment resumes from the last committed page, with no gap and no duplicate.

The update stream of a partition that has never run starts at a watermark: the provider's
highest update id, read before the create pass starts. Every change made after that moment
has a higher id, so the update stream sees it, whatever the create pass read.

`ingest_and_normalize` does both stages in one pass: each committed batch of pages also goes to
a normalizer process (`normalizer`) that upserts `transactions` on its own connection, so the
two writes and the Python of both stages run at once and nothing is read back from the raw
table. A partition marker (stream `normalized`) says whether every landed row is normalized;
when it is not (a run stopped midway, or raw landed alone), the run normalizes the partition
from the raw table instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine

from hub_core.types import Source
from hub_pipelines.ingesting import IngestReport, few_collections
from hub_pipelines.normalizing import NormalizeReport, normalize_into_transactions
from hub_pipelines.prefetch import prefetched_batches
from hub_pipelines.sources.vima.client import VimaClient
from hub_pipelines.sources.vima.landing import (
    Encoded,
    encode_operations,
    land_encoded,
    raw_operations,
)
from hub_pipelines.sources.vima.normalize import STATUSES, normalize_operation
from hub_pipelines.sources.vima.normalizer import NormalizerProcess
from hub_pipelines.warehouse.checkpoints import Checkpoint, load_checkpoint, save_checkpoint
from hub_pipelines.warehouse.session import landing_connection
from hub_pipelines.windows import PartitionWindow

STREAMS = ("create", "update")
NORMALIZED = "normalized"
"""Checkpoint stream whose `completed` says every landed row of the partition is normalized."""
LANDING_BATCH_OPS = 2000
"""Operations landed in one transaction at most: the pages the fetcher has ready when the
previous ones are committed (one page when the writer keeps up, 20 when it does not)."""
FETCH_AHEAD_PAGES = 20
"""Pages the fetcher runs ahead of the landing at most (one full landing batch: 40 was no faster
once normalizing left this process, and held ~8 MB more)."""


def _day_filters(window: PartitionWindow) -> dict[str, Any]:
    first, last = window.provider_dates()
    if first == last:
        return {"day": first}
    return {"from_date": first, "to_date": last}


def _update_watermark(client: VimaClient) -> str | None:
    latest = client.get_operations(from_operation_update_id="0", descending=True, count=1)
    return str(latest[0]["operation_update_id"]) if latest else None


@few_collections()
def ingest_partition(
    client: VimaClient,
    engine: Engine,
    window: PartitionWindow,
    on_page: Callable[[list[Encoded]], None] | None = None,
) -> IngestReport:
    """Fetch the partition's operations into `raw_vima_operations`, resumably.

    `on_page` receives each landed batch's operations, with the JSON the landing encoded,
    once they are committed.
    """
    started = time.monotonic()
    report = IngestReport()
    _mark_normalized(engine, window, False)  # rows are about to land
    with engine.begin() as conn:
        update_checkpoint = load_checkpoint(conn, Source.VIMA, "update", window.key)
        if update_checkpoint is None:
            update_checkpoint = Checkpoint(_update_watermark(client), 0, 0, False)
            save_checkpoint(conn, Source.VIMA, "update", window.key, update_checkpoint)
    with landing_connection(engine) as conn:
        for stream in STREAMS:
            _land_stream(client, conn, window, stream, report, on_page)
    report.seconds = time.monotonic() - started
    return report


def _land_stream(
    client: VimaClient,
    conn: Connection,
    window: PartitionWindow,
    stream: str,
    report: IngestReport,
    on_page: Callable[[list[Encoded]], None] | None,
) -> None:
    """Page one cursor stream of the partition; each batch of pages commits with the
    checkpoint after its last page."""
    read = report.stream(stream)
    with conn.begin():
        checkpoint = load_checkpoint(conn, Source.VIMA, stream, window.key)
    checkpoint = checkpoint or Checkpoint(None, 0, 0, False)
    batches = prefetched_batches(  # fetch the next pages while these are written
        client.iter_pages(stream, checkpoint.cursor, **_day_filters(window)),  # type: ignore[arg-type]
        limit=LANDING_BATCH_OPS,
        weight=lambda fetched: len(fetched[0]),
        depth=FETCH_AHEAD_PAGES,
    )
    for batch in batches:
        page = [op for ops, _ in batch for op in ops]
        keyed = encode_operations(op for op in page if op.get("operation_id") not in (None, ""))
        report.skipped_without_id += len(page) - len(keyed)
        cursor = batch[-1][1]
        checkpoint = Checkpoint(
            cursor, checkpoint.page + len(batch), checkpoint.rows + len(page), False
        )
        with conn.begin():  # the pages' rows and the checkpoint after them, together
            read.rows.add(land_encoded(conn, keyed, window.key, (stream, checkpoint)))
        if on_page is not None:
            on_page(keyed)
        read.pages += len(batch)
        read.fetched += len(page)
    read.cursor = checkpoint.cursor


@few_collections()
def normalize_partition(engine: Engine, window: PartitionWindow) -> NormalizeReport:
    """Normalize the partition's raw Vima operations and upsert them into `transactions`.

    Malformed operations stay in the raw table and are reported, never failing the rest.
    """
    report = _normalize(engine, raw_operations(engine, window))
    _mark_normalized(engine, window, True)
    return report


def _normalize(engine: Engine, operations: Iterator[dict[str, Any]]) -> NormalizeReport:
    return normalize_into_transactions(engine, operations, normalize_operation, STATUSES)


def _mark_normalized(engine: Engine, window: PartitionWindow, done: bool) -> None:
    # Committed with a flush: once it says `done`, every earlier commit is on disk too.
    with engine.begin() as conn:
        save_checkpoint(conn, Source.VIMA, NORMALIZED, window.key, Checkpoint(None, 0, 0, done))


def _all_normalized(engine: Engine, window: PartitionWindow) -> bool:
    """Whether every row landed so far for the partition is in `transactions`."""
    with engine.connect() as conn:
        marker = load_checkpoint(conn, Source.VIMA, NORMALIZED, window.key)
        if marker is not None:
            return marker.completed
        # never normalized: right only if nothing ever landed either
        return all(load_checkpoint(conn, Source.VIMA, s, window.key) is None for s in STREAMS)


@few_collections()
def ingest_and_normalize(
    client: VimaClient, engine: Engine, window: PartitionWindow
) -> tuple[IngestReport, NormalizeReport]:
    """Land the partition's operations and normalize them into `transactions` in one pass.

    Each committed batch of pages is handed to a normalizer process (started with the first
    operations: an empty sync starts none) that writes `transactions` on its own connection,
    so PostgreSQL writes both tables at once and the normalizing runs on another core. When an
    earlier run left landed rows that were not normalized, the partition is normalized from the
    raw table after the landing instead.
    """
    if not _all_normalized(engine, window):
        ingest = ingest_partition(client, engine, window)
        return ingest, normalize_partition(engine, window)
    url = engine.url.render_as_string(hide_password=False)
    normalizer: NormalizerProcess | None = None

    def put(batch: list[Encoded]) -> None:
        nonlocal normalizer
        if batch and normalizer is None:  # an empty sync starts no process
            normalizer = NormalizerProcess(url, window)
        if normalizer is not None:
            normalizer.put(batch)

    try:
        ingest = ingest_partition(client, engine, window, on_page=put)
    except BaseException:
        if normalizer is not None:
            normalizer.kill()  # what it has not committed rolls back; the next run catches up
        raise
    report = normalizer.finish() if normalizer is not None else NormalizeReport()
    _mark_normalized(engine, window, True)
    return ingest, report
