"""PayShack assets: raw pay-ins and pay-outs, read from the merchant dashboard with one
Chromium per run, and normalized transactions, one daily partition each, and the checks of the
normalized rows.

All three come from one subsettable multi-asset, as Vima's do: materialized together (every
schedule and backfill), the day's lists are read, landed and normalized in one run; a raw asset
alone only reads and lands its list; the normalized asset alone normalizes the raw rows.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    multi_asset,
)

from hub_core.settings import get_settings
from hub_core.types import Direction, Source
from hub_pipelines.checks import transaction_checks
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import PayShackResource, RedisResource, WarehouseResource
from hub_pipelines.results import normalized_check_specs, normalized_result, raw_result, window_of
from hub_pipelines.sources.payshack.ingest import ingest_partition, normalize_partition
from hub_pipelines.warehouse.locks import partition_lock
from hub_pipelines.warehouse.sync import tracked_sync

SOURCE = Source.PAYSHACK
RAW = {Direction.PAYIN: AssetKey("payshack_payins"), Direction.PAYOUT: AssetKey("payshack_payouts")}
NORMALIZED = AssetKey("payshack_transactions")
# (keys, not module-level specs: `dg` would load a module's AssetSpec as an asset of its own)
READ_COMPLETE = "read_complete"
"""The check that fails while a day's list kept moving until the reader gave up: the rows read
are stored, and `finish_incomplete_days` runs the partition again until a read is whole."""


@multi_asset(
    specs=[
        *(
            AssetSpec(
                key,
                group_name=SOURCE.value,
                kinds={"python", "postgres"},
                description=f"PayShack {kind.value}s of the day, read from the merchant dashboard.",
            )
            for kind, key in RAW.items()
        ),
        AssetSpec(
            NORMALIZED,
            group_name=SOURCE.value,
            kinds={"python", "postgres"},
            deps=list(RAW.values()),
            description="The day's PayShack pay-ins and pay-outs normalized into transactions.",
        ),
    ],
    check_specs=[
        *(
            AssetCheckSpec(
                READ_COMPLETE,
                asset=key,
                description="The day's list was read whole (it did not keep moving until the "
                "reader gave up); while it fails, the partition is synced again.",
            )
            for key in RAW.values()
        ),
        *normalized_check_specs(NORMALIZED),
    ],
    partitions_def=daily_partitions,
    pool="payshack_browser",
    can_subset=True,
    name="payshack",
)
def payshack_assets(
    context: AssetExecutionContext,
    payshack: PayShackResource,
    warehouse: WarehouseResource,
    redis: RedisResource,
) -> Iterator[MaterializeResult]:
    """Log in (or reuse the session), read the selected lists of the day with one Chromium,
    land them, and normalize the partition."""
    window = window_of(context)
    engine = warehouse.engine()
    selected = context.selected_asset_keys
    kinds = [kind for kind, key in RAW.items() if key in selected]
    project_map = get_settings().hub_client_project_map
    if not kinds:
        with partition_lock(engine, SOURCE, window.key):
            normalized = normalize_partition(engine, window, project_map)
    else:
        with tracked_sync(engine, SOURCE, context.run.run_id, window.key) as sync:
            reader = payshack.effective_reader()
            with payshack.browser(redis.client()) as browser:
                ingest = ingest_partition(browser, engine, window, reader, kinds)
            sync.records = ingest.fetched
            sync.cursors = ingest.cursors
            sync.complete = ingest.complete
            if NORMALIZED in selected:
                normalized = normalize_partition(engine, window, project_map)
        for kind in kinds:
            stream = ingest.streams[kind.value]
            check = AssetCheckResult(
                asset_key=RAW[kind],
                check_name=READ_COMPLETE,
                passed=stream.complete,
                severity=AssetCheckSeverity.ERROR,
                metadata={"passes": stream.passes, "list_moved_while_reading": stream.shifted},
            )
            yield raw_result(RAW[kind], ingest, [kind.value], check)
        if NORMALIZED not in selected:
            return
    redis.bump_data_version(engine, written=normalized.rows.written > 0)
    yield normalized_result(normalized, NORMALIZED)


payshack_transaction_checks = transaction_checks(NORMALIZED, SOURCE)
