"""Schedules: frequent syncs of today's partition, and a daily late-update pass."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from hub_core.orchestration import SOURCE_TAG, sync_every_minutes
from hub_core.settings import get_settings
from hub_core.types import Source
from hub_pipelines.jobs import payshack_sync_job, vima_sync_job

EARLY_HOURS = 3
"""During the first hours of a day, yesterday's partition is synced too (late arrivals)."""
LATE_UPDATE_DAYS = 3
"""The daily late-update pass re-runs this many previous days (late status changes)."""


def recent_partition_keys(
    now: datetime, timezone: str, early_hours: int = EARLY_HOURS
) -> list[str]:
    """Today's partition key, preceded by yesterday's during the first `early_hours` hours."""
    local = now.astimezone(ZoneInfo(timezone))
    today = local.date()
    keys = [today.isoformat()]
    if local.hour < early_hours:
        keys.insert(0, (today - timedelta(days=1)).isoformat())
    return keys


def late_update_partition_keys(
    now: datetime, timezone: str, days: int = LATE_UPDATE_DAYS
) -> list[str]:
    """The `days` partitions before today's, oldest first."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(days, 0, -1)]


BUSY_STATUSES: tuple[DagsterRunStatus, ...] = (
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
)
"""Run statuses that make a source busy (a NOT_STARTED run may be a crashed submission)."""


def source_busy(instance: DagsterInstance, source: Source) -> bool:
    """Whether a run of `source` is queued, starting or running."""
    records = instance.get_run_records(
        filters=RunsFilter(tags={SOURCE_TAG: source.value}, statuses=list(BUSY_STATUSES)),
        limit=1,
    )
    return bool(records)


def _scheduled_time(context: ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time or datetime.now(ZoneInfo("UTC"))


def build_source_schedules(
    source: Source, job: UnresolvedAssetJobDefinition, every_minutes: int
) -> Sequence[ScheduleDefinition]:
    """The frequent schedule and the daily late-update schedule of one source's job."""
    timezone = get_settings().hub_timezone

    @schedule(
        name=f"{source.value}_every_{every_minutes}_minutes",
        job=job,
        cron_schedule=f"*/{every_minutes} * * * *",
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Sync today's {source.value} partition (and yesterday's early in the day).",
    )
    def frequent(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        if error := get_settings().source_error(source.value):
            return SkipReason(error)
        if source_busy(context.instance, source):
            return SkipReason(f"a {source.value} run is already queued or running")
        first = get_settings().hub_start_date.isoformat()
        return [
            RunRequest(partition_key=key, tags={"hub/trigger": "schedule"})
            for key in recent_partition_keys(_scheduled_time(context), timezone)
            if key >= first  # (yesterday is no partition on the first day)
        ]

    @schedule(
        name=f"{source.value}_late_updates",
        job=job,
        cron_schedule="30 1 * * *",
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Re-sync the previous {LATE_UPDATE_DAYS} days of {source.value} "
        "for late status changes.",
    )
    def late_updates(context: ScheduleEvaluationContext) -> list[RunRequest]:
        when = _scheduled_time(context)
        return [
            RunRequest(
                partition_key=key,
                run_key=f"late-{key}-{when.date().isoformat()}",
                tags={"hub/trigger": "late_updates"},
            )
            for key in late_update_partition_keys(when, timezone)
        ]

    return [frequent, late_updates]


vima_schedules = build_source_schedules(
    Source.VIMA, vima_sync_job, every_minutes=sync_every_minutes(Source.VIMA)
)
payshack_schedules = build_source_schedules(
    Source.PAYSHACK, payshack_sync_job, every_minutes=sync_every_minutes(Source.PAYSHACK)
)
