"""PayShack assets: raw pay-ins and pay-outs (one browser per run) and normalized transactions."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    asset,
    multi_asset,
)

from hub_core.settings import get_settings
from hub_core.types import Source
from hub_pipelines.assets.common import normalized_check_specs, normalized_result, window_of
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import PayShackResource, RedisResource, WarehouseResource
from hub_pipelines.sources.payshack.ingest import ingest_partition, normalize_partition
from hub_pipelines.sync import tracked_sync
from hub_pipelines.warehouse import partition_lock

RAW_ASSETS = {"payin": "payshack_payins", "payout": "payshack_payouts"}
READ_COMPLETE = "read_complete"
"""The check that fails while a day's list kept moving until the reader gave up: the rows read
are stored, and `finish_incomplete_days` runs the partition again until a read is whole."""


@multi_asset(
    specs=[
        AssetSpec(
            name,
            group_name="payshack",
            kinds={"python", "postgres"},
            description=f"PayShack {kind}s of the day, read from the merchant dashboard.",
        )
        for kind, name in RAW_ASSETS.items()
    ],
    check_specs=[
        AssetCheckSpec(
            READ_COMPLETE,
            asset=name,
            description="The day's list was read whole (it did not keep moving until the "
            "reader gave up); while it fails, the partition is synced again.",
        )
        for name in RAW_ASSETS.values()
    ],
    partitions_def=daily_partitions,
    pool="payshack_browser",
    name="payshack_raw",
)
def payshack_raw(
    context: AssetExecutionContext,
    payshack: PayShackResource,
    warehouse: WarehouseResource,
    redis: RedisResource,
) -> Iterator[MaterializeResult]:
    """Log in (or reuse the session) and read both lists of the day with one Chromium."""
    window = window_of(context)
    engine = warehouse.engine()
    reader = payshack.effective_reader()
    with (
        tracked_sync(engine, Source.PAYSHACK, context.run.run_id, window.key) as sync,
        payshack.browser(redis.client()) as browser,
    ):
        report = ingest_partition(browser, engine, window, reader)
        sync.records = report.read
        sync.cursors = {kind: str(k.pages) for kind, k in report.kinds.items()}
        sync.complete = all(k.complete for k in report.kinds.values())
    for kind, name in RAW_ASSETS.items():
        kind_report = report.kinds[kind]
        yield MaterializeResult(
            asset_key=name,
            metadata={
                "reader": reader,
                "session": "reused" if report.session_reused else "fresh login",
                "logins": report.logins,
                "rows_read": kind_report.read,
                "rows_new": kind_report.rows.new,
                "rows_updated": kind_report.rows.updated,
                "rows_unchanged": kind_report.rows.unchanged,
                "pages": kind_report.pages,
                "passes": kind_report.passes,
                "list_moved_while_reading": kind_report.shifted,
                "complete": kind_report.complete,
                "duration_s": round(report.seconds, 3),
            },
            check_results=[
                AssetCheckResult(
                    asset_key=name,
                    check_name=READ_COMPLETE,
                    passed=kind_report.complete,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={
                        "passes": kind_report.passes,
                        "list_moved_while_reading": kind_report.shifted,
                    },
                )
            ],
        )


@asset(
    partitions_def=daily_partitions,
    group_name="payshack",
    kinds={"python", "postgres"},
    deps=list(RAW_ASSETS.values()),
    description="The day's PayShack pay-ins and pay-outs normalized into transactions.",
    check_specs=normalized_check_specs("payshack_transactions"),
)
def payshack_transactions(
    context: AssetExecutionContext, warehouse: WarehouseResource, redis: RedisResource
) -> MaterializeResult:
    """Normalize the raw rows of the partition and upsert them into `transactions`."""
    engine, window = warehouse.engine(), window_of(context)
    with partition_lock(engine, Source.PAYSHACK, window.key):
        report = normalize_partition(engine, window, get_settings().hub_client_project_map)
    redis.bump_data_version(engine, written=report.rows.written > 0)
    return normalized_result(report)
