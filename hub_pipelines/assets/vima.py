"""Vima assets: raw operations and normalized transactions, one daily partition each.

Both come from one subsettable multi-asset: materialized together (every schedule and
backfill), each fetched page is landed raw and normalized at once; materialized alone, the raw
asset only lands pages and the normalized asset normalizes the partition's raw rows.
"""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetSpec, MaterializeResult, multi_asset

from hub_core.types import Source
from hub_pipelines.assets.common import normalized_check_specs, normalized_result, window_of
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import RedisResource, VimaResource, WarehouseResource
from hub_pipelines.sources.vima.client import VimaClient
from hub_pipelines.sources.vima.ingest import (
    IngestReport,
    ingest_and_normalize,
    ingest_partition,
    normalize_partition,
)
from hub_pipelines.sync import tracked_sync
from hub_pipelines.warehouse import partition_lock

RAW = "vima_operations"
NORMALIZED = "vima_transactions"


@multi_asset(
    specs=[
        AssetSpec(
            RAW,
            group_name="vima",
            kinds={"python", "postgres"},
            description="Vima operations of the day, landed untouched in raw_vima_operations.",
        ),
        AssetSpec(
            NORMALIZED,
            group_name="vima",
            kinds={"python", "postgres"},
            deps=[RAW],
            description="The day's Vima operations normalized into transactions.",
        ),
    ],
    check_specs=normalized_check_specs(NORMALIZED),
    partitions_def=daily_partitions,
    pool="vima_api",
    can_subset=True,
    name="vima",
)
def vima_assets(
    context: AssetExecutionContext,
    vima: VimaResource,
    warehouse: WarehouseResource,
    redis: RedisResource,
) -> Iterator[MaterializeResult]:
    """Page the day with the create cursor, then the update cursor (resumable per page), and
    normalize what is landed."""
    window = window_of(context)
    engine = warehouse.engine()
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    if RAW not in selected:
        with partition_lock(engine, Source.VIMA, window.key):
            normalized = normalize_partition(engine, window)
    else:
        with (
            tracked_sync(engine, Source.VIMA, context.run.run_id, window.key) as sync,
            vima.client() as client,
        ):
            if NORMALIZED in selected:
                ingest, normalized = ingest_and_normalize(client, engine, window)
            else:
                ingest = ingest_partition(client, engine, window)
            sync.records = ingest.fetched
            sync.cursors = ingest.cursors
        yield _raw_result(ingest, client)
        if NORMALIZED not in selected:
            return
    redis.bump_data_version(engine, written=normalized.rows.written > 0)
    yield normalized_result(normalized, asset_key=NORMALIZED)


def _raw_result(report: IngestReport, client: VimaClient) -> MaterializeResult:
    return MaterializeResult(
        asset_key=RAW,
        metadata={
            "pages": report.pages,
            "fetched": report.fetched,
            "rows_new": report.rows.new,
            "rows_updated": report.rows.updated,
            "rows_unchanged": report.rows.unchanged,
            "skipped_without_id": report.skipped_without_id,
            "create_cursor": str(report.cursors.get("create")),
            "update_cursor": str(report.cursors.get("update")),
            "requests": client.requests,
            "retries": client.retries,
            "duration_s": round(report.seconds, 3),
        },
    )
