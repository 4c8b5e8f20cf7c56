"""PayShack partition ingestion and normalization as plain functions (no Dagster).

`ingest_partition` reads the day's pay-ins and pay-outs (each list whole, every run: a
dashboard has no cursor to resume from) and lands them; `normalize_partition` turns the
partition's raw rows into transactions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from hub_core.types import Direction
from hub_pipelines.ingesting import IngestReport, StreamReport
from hub_pipelines.normalizing import NormalizeReport, normalize_into_transactions
from hub_pipelines.sources.payshack.landing import raw_rows, upsert_raw_payshack
from hub_pipelines.sources.payshack.normalize import STATUSES, normalize_row
from hub_pipelines.warehouse.rows import batched
from hub_pipelines.windows import PartitionWindow

if TYPE_CHECKING:  # the browser (Playwright) loads when a run opens one, not with the module
    from hub_pipelines.sources.payshack.browser import PayShackBrowser, Reader

WRITE_BATCH = 500


def ingest_partition(
    browser: PayShackBrowser,
    engine: Engine,
    window: PartitionWindow,
    reader: Reader,
    kinds: Sequence[Direction] = tuple(Direction),
) -> IngestReport:
    """Read the day's lists of `kinds` (pay-ins and pay-outs) and land them in
    `raw_payshack_transactions`.

    Rows are upserted by (kind, txnId) in batches; a re-run upserts the same keys, so nothing
    is doubled. A list that kept moving while it was read is reported incomplete (its stream's
    `complete`), and the rows read are landed all the same.
    """
    started = time.monotonic()
    report = IngestReport(details={"reader": reader})
    for kind in kinds:
        result = browser.read_day(kind, window.start, window.end, reader)
        read = report.streams[kind.value] = StreamReport(
            fetched=len(result.rows),
            pages=result.pages,
            passes=result.passes,
            shifted=result.shifted,
            complete=result.complete,
            cursor=str(result.pages),  # a list has no cursor: how far it was paged
        )
        for batch in batched(result.rows.values(), WRITE_BATCH):
            with engine.begin() as conn:
                read.rows.add(upsert_raw_payshack(conn, kind, batch, window.key))
    report.details.update(
        session="reused" if browser.session_reused else "fresh login", logins=browser.logins
    )
    report.seconds = time.monotonic() - started
    return report


def normalize_partition(
    engine: Engine, window: PartitionWindow, client_project_map: dict[str, str]
) -> NormalizeReport:
    """Normalize the partition's raw PayShack rows and upsert them into `transactions`."""
    return normalize_into_transactions(
        engine,
        raw_rows(engine, window),
        lambda record: normalize_row(record[1], record[0], client_project_map),
        STATUSES,
    )
