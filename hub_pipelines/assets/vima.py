"""Vima assets: raw operations and normalized transactions, one daily partition each."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from hub_core.settings import get_settings
from hub_core.types import Source, Transaction
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import RedisResource, VimaResource, WarehouseResource
from hub_pipelines.sources.vima.ingest import (
    PartitionWindow,
    ingest_partition,
    normalize_partition,
)
from hub_pipelines.sync import tracked_sync

PREVIEW_COLUMNS = (
    "source_id",
    "created_at",
    "project",
    "direction",
    "amount",
    "currency",
    "status",
)


def window_of(context: AssetExecutionContext) -> PartitionWindow:
    """The UTC window of the run's partition."""
    return PartitionWindow.for_key(context.partition_key, get_settings().hub_timezone)


def preview_markdown(rows: list[Transaction]) -> str:
    """A small markdown table of transactions for the Dagster UI."""
    header = "| " + " | ".join(PREVIEW_COLUMNS) + " |"
    rule = "|" + "---|" * len(PREVIEW_COLUMNS)
    lines = [
        "| " + " | ".join(str(getattr(row, c)) for c in PREVIEW_COLUMNS) + " |" for row in rows
    ]
    return "\n".join([header, rule, *lines])


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
    check_specs=[
        AssetCheckSpec("no_rejected_operations", asset="vima_transactions"),
        AssetCheckSpec("no_unknown_statuses", asset="vima_transactions"),
    ],
)
def vima_transactions(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    """Normalize the raw rows of the partition and upsert them into `transactions`."""
    report = normalize_partition(warehouse.engine(), window_of(context))
    if report.rows.written:
        redis.bump_data_version()
    rejected = report.rejected
    return MaterializeResult(
        metadata={
            "normalized": report.normalized,
            "rows_new": report.rows.new,
            "rows_updated": report.rows.updated,
            "rows_unchanged": report.rows.unchanged,
            "by_status": MetadataValue.json(dict(report.by_status)),
            "rejected": len(rejected),
            "rejected_examples": MetadataValue.json(rejected[:20]),
            "unknown_statuses": MetadataValue.json(dict(report.unknown_statuses)),
            "preview": MetadataValue.md(preview_markdown(report.preview)),
            "duration_s": round(report.seconds, 3),
        },
        check_results=[
            AssetCheckResult(
                check_name="no_rejected_operations",
                passed=not rejected,
                severity=AssetCheckSeverity.WARN,
                metadata={"rejected": len(rejected), "examples": MetadataValue.json(rejected[:5])},
            ),
            AssetCheckResult(
                check_name="no_unknown_statuses",
                passed=not report.unknown_statuses,
                severity=AssetCheckSeverity.WARN,
                metadata={"unknown": MetadataValue.json(dict(report.unknown_statuses))},
            ),
        ],
    )
