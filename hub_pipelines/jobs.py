"""Jobs: one per source, tagged `hub/source` so the instance runs one at a time per source."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from hub_core.orchestration import RECONCILE_JOB, SOURCE_TAG, SYNC_JOBS
from hub_core.types import Source
from hub_pipelines.assets.payshack import payshack_raw, payshack_transactions
from hub_pipelines.assets.reconciliation import hourly_metrics, reconciliation
from hub_pipelines.assets.vima import vima_assets


def source_tags(source: Source | str) -> dict[str, str]:
    """Run tags of a source's job (the concurrency key of dagster.yaml)."""
    return {SOURCE_TAG: str(source)}


vima_sync_job = define_asset_job(
    name=SYNC_JOBS[Source.VIMA],
    selection=AssetSelection.assets(vima_assets),
    tags=source_tags(Source.VIMA),
    description="Fetch Vima operations of a day and normalize them into transactions.",
)

payshack_sync_job = define_asset_job(
    name=SYNC_JOBS[Source.PAYSHACK],
    selection=AssetSelection.assets(payshack_raw, payshack_transactions),
    tags=source_tags(Source.PAYSHACK),
    description="Read PayShack pay-ins and pay-outs of a day and normalize them.",
)

reconcile_job = define_asset_job(
    name=RECONCILE_JOB,
    selection=AssetSelection.assets(reconciliation, hourly_metrics),
    tags=source_tags("reconciliation"),
    description="Reconcile a day and refresh its hourly metrics.",
)
