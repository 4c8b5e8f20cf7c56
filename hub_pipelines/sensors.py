"""Sensors: reconcile the days a source changed, finish days a sync could not read whole, and
keep `sync_state` true to runs that died."""

from collections.abc import Iterable
from datetime import date, timedelta

from dagster import (
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from hub_core.orchestration import RECONCILE_JOB, SYNC_JOBS
from hub_core.queries.periods import today_in
from hub_core.queries.reconciliation import margin_reach, missing_inputs
from hub_core.queries.sync import incomplete_partitions, sync_states
from hub_core.settings import get_settings
from hub_core.types import SyncStatus
from hub_pipelines.defs.payshack.assets import NORMALIZED as PAYSHACK_NORMALIZED
from hub_pipelines.defs.vima.assets import NORMALIZED as VIMA_NORMALIZED
from hub_pipelines.jobs import reconcile_job, sync_jobs
from hub_pipelines.partitions import daily_partitions
from hub_pipelines.resources import WarehouseResource
from hub_pipelines.warehouse.sync import fail_dead_sync

NORMALIZED_ASSETS = (VIMA_NORMALIZED, PAYSHACK_NORMALIZED)
BATCH = 500


def affected_days(changed: Iterable[str], margin_hours: float, valid: set[str]) -> list[str]:
    """Days whose reconciliation a change to the `changed` partitions can alter.

    A day's candidates reach `margin_hours` into its neighbours on each side, so a changed day
    affects every day within `ceil(margin_hours / 24)` of it (one day for a margin up to 24 h,
    two up to 48 h); only days that are partitions are returned.
    """
    reach = margin_reach(margin_hours)
    days: set[str] = set()
    for key in changed:
        day = date.fromisoformat(key)
        days.update((day + timedelta(days=n)).isoformat() for n in range(-reach, reach + 1))
    return sorted(days & valid)


WAITING_STATUSES = [DagsterRunStatus.QUEUED]
"""(NOT_STARTED is left out: it may be a submission that crashed, and would block the day.)"""


def queued_days(instance: DagsterInstance) -> set[str]:
    """Days with a reconciliation run queued and not started yet: it will read everything that
    landed before it starts, so no other run of that day needs queueing."""
    records = instance.get_run_records(
        filters=RunsFilter(job_name=RECONCILE_JOB, statuses=WAITING_STATUSES), limit=1000
    )
    return {
        key
        for record in records
        if (key := record.dagster_run.tags.get("dagster/partition")) is not None
    }


@sensor(
    job=reconcile_job,
    minimum_interval_seconds=15,
    default_status=DefaultSensorStatus.RUNNING,
    description="When a normalized source partition materializes (schedule, backfill or "
    "late-update pass), reconcile and refresh metrics for every affected day that both "
    "sources have synced, with the neighbours its margin reads.",
)
def reconcile_changed_days(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> SensorResult:
    """Request `reconcile_and_metrics` once per affected day whose inputs have all landed
    (`missing_inputs`: a day one source has not reached yet is requested by the
    materialization that brings it), none for a day already queued; run keys deduplicate."""
    cursor = int(context.cursor or 0)
    newest = cursor
    changed: set[str] = set()
    for asset_key in NORMALIZED_ASSETS:
        result = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=asset_key, after_storage_id=cursor), limit=BATCH
        )
        for record in result.records:
            newest = max(newest, record.storage_id)
            if record.partition_key:
                changed.add(record.partition_key)
    settings = get_settings()
    margin = settings.hub_recon_day_margin_hours
    valid = set(daily_partitions.get_partition_keys())
    days = affected_days(changed, margin, valid)
    waiting = queued_days(context.instance)  # a queued run will read what landed: no second
    today = today_in(settings.hub_timezone)
    with warehouse.engine().connect() as conn:
        ready = [
            day
            for day in days
            if day not in waiting
            and not missing_inputs(
                conn, date.fromisoformat(day), margin, settings.hub_start_date, today
            )
        ]
    requests = [RunRequest(partition_key=day, run_key=f"reconcile-{day}-{newest}") for day in ready]
    return SensorResult(run_requests=requests, cursor=str(newest))


@sensor(
    jobs=sync_jobs,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Sync again every day whose last sync could not read it whole (a PayShack list "
    "that kept moving), until a sync does; the day shows as incomplete meanwhile.",
)
def finish_incomplete_days(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> SensorResult | SkipReason:
    """One run per incomplete outcome (run key: source, day and the incomplete sync's run);
    it queues behind any run of that source (its pool)."""
    with warehouse.engine().connect() as conn:
        pending = incomplete_partitions(conn)
    valid = set(daily_partitions.get_partition_keys())
    requests = [
        RunRequest(
            job_name=SYNC_JOBS[source],
            partition_key=key,
            run_key=f"finish-{source.value}-{key}-{run_id}",
            tags={"hub/trigger": "finish_incomplete"},
        )
        for source, days in pending.items()
        for key, run_id in days.items()
        if key in valid
    ]
    if not requests:
        return SkipReason("no incomplete day to finish")
    return SensorResult(run_requests=requests)


@sensor(
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="A source left `running` by a run that is no longer alive (killed, its process "
    "lost) is marked failed, as Dagster's run monitoring sees it.",
)
def sync_state_follows_runs(
    context: SensorEvaluationContext, warehouse: WarehouseResource
) -> SkipReason:
    """Compare each `running` source with its run: Dagster still running it leaves it; a run
    Dagster has finished, or does not know (another instance, the CLI), is marked failed when
    no session holds its partition's lock (`fail_dead_sync`)."""
    engine = warehouse.engine()
    with engine.connect() as conn:
        states = sync_states(conn)
    marked = []
    for source, state in states.items():
        run_id, partition = state["run_id"], state["partition_key"]
        if state["status"] != SyncStatus.RUNNING.value or not run_id or not partition:
            continue
        record = context.instance.get_run_record_by_id(run_id)
        if record is not None and not record.dagster_run.is_finished:
            continue
        ended = record.dagster_run.status.value.lower() if record else "unknown to this instance"
        reason = f"run {run_id} stopped without recording its outcome (Dagster: {ended})"
        if fail_dead_sync(engine, source, run_id, partition, reason):
            marked.append(source.value)
    return SkipReason(f"marked failed: {', '.join(marked)}" if marked else "no dead sync")
