"""Vima assets: raw operations and normalized transactions, one daily partition each, and the
checks of the normalized rows.

Both come from one subsettable multi-asset: materialized together (every schedule and
backfill), each fetched page is landed raw and normalized at once; materialized alone, the raw
asset only lands pages and the normalized asset normalizes the partition's raw rows.
"""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, AssetSpec, MaterializeResult, multi_asset

from hub_core.types import Source
from hub_pipelines.checks import transaction_checks
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import RedisResource, VimaResource, WarehouseResource
from hub_pipelines.results import normalized_check_specs, normalized_result, raw_result, window_of
from hub_pipelines.warehouse.locks import partition_lock
from hub_pipelines.warehouse.sync import tracked_sync

SOURCE = Source.VIMA
RAW = AssetKey("vima_operations")
NORMALIZED = AssetKey("vima_transactions")
# (keys, not module-level specs: `dg` would load a module's AssetSpec as an asset of its own)


@multi_asset(
    specs=[
        AssetSpec(
            RAW,
            group_name=SOURCE.value,
            kinds={"python", "postgres"},
            description="Vima operations of the day, landed untouched in raw_vima_operations.",
        ),
        AssetSpec(
            NORMALIZED,
            group_name=SOURCE.value,
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
    # The client (httpx) loads in a Vima run, not with the code location every run loads
    from hub_pipelines.sources.vima.ingest import (
        STREAMS,
        ingest_and_normalize,
        ingest_partition,
        normalize_partition,
    )

    window = window_of(context)
    engine = warehouse.engine()
    selected = context.selected_asset_keys
    if RAW not in selected:
        with partition_lock(engine, SOURCE, window.key):
            normalized = normalize_partition(engine, window)
    else:
        with (
            tracked_sync(engine, SOURCE, context.run.run_id, window.key) as sync,
            vima.client() as client,
        ):
            if NORMALIZED in selected:
                ingest, normalized = ingest_and_normalize(client, engine, window)
            else:
                ingest = ingest_partition(client, engine, window)
            sync.records = ingest.fetched
            sync.cursors = ingest.cursors
        ingest.details.update(requests=client.requests, retries=client.retries)
        yield raw_result(RAW, ingest, STREAMS)
        if NORMALIZED not in selected:
            return
    redis.bump_data_version(engine, written=normalized.rows.written > 0)
    yield normalized_result(normalized, NORMALIZED)


vima_transaction_checks = transaction_checks(NORMALIZED, SOURCE)
