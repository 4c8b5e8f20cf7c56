"""Jobs: one sync job per source (its `defs/` group: raw and normalized assets) and the
reconciliation job. One run at a time per source is Dagster's own doing: each source's assets
carry a `pool`, and `dagster.yaml` gives every pool one slot, granted per run."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from hub_core.orchestration import RECONCILE_JOB, SYNC_JOBS
from hub_core.types import Source

sync_jobs = [
    define_asset_job(
        name=SYNC_JOBS[source],
        selection=AssetSelection.groups(source.value),
        description=f"Fetch {source.value}'s records of a day, land them and normalize them.",
    )
    for source in Source
]
"""Per source, the job that syncs one partition: every asset of the source's group."""

reconcile_job = define_asset_job(
    name=RECONCILE_JOB,
    selection=AssetSelection.groups("reconciliation", "metrics"),
    description="Reconcile a day and refresh its hourly metrics.",
)
