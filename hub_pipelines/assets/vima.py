"""Vima assets: raw operations and normalized transactions, one daily partition each."""

from dagster import AssetExecutionContext, MaterializeResult, asset

from hub_core.types import Source
from hub_pipelines.assets.common import normalized_check_specs, normalized_result, window_of
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import RedisResource, VimaResource, WarehouseResource
from hub_pipelines.sources.vima.ingest import ingest_partition, normalize_partition
from hub_pipelines.sync import tracked_sync


@asset(
    partitions_def=daily_partitions,
    group_name="vima",
    kinds={"python", "postgres"},
    pool="vima_api",
    description="Vima operations of the day, landed untouched in raw_vima_operations.",
)
def vima_operations(
    context: AssetExecutionContext, vima: VimaResource, warehouse: WarehouseResource
) -> MaterializeResult:
    """Page the day with the create cursor, then the update cursor; resumable per page."""
    window = window_of(context)
    engine = warehouse.engine()
    with (
        tracked_sync(engine, Source.VIMA, context.run.run_id, window.key) as sync,
        vima.client() as client,
    ):
        report = ingest_partition(client, engine, window)
        sync.records = report.fetched
        sync.cursors = report.cursors
    return MaterializeResult(
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
        }
    )


@asset(
    partitions_def=daily_partitions,
    group_name="vima",
    kinds={"python", "postgres"},
    deps=[vima_operations],
    description="The day's Vima operations normalized into transactions.",
    check_specs=normalized_check_specs("vima_transactions"),
)
def vima_transactions(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    """Normalize the raw rows of the partition and upsert them into `transactions`."""
    report = normalize_partition(warehouse.engine(), window_of(context))
    if report.rows.written:
        redis.bump_data_version()
    return normalized_result(report)
