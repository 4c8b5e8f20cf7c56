"""Schedules: frequent syncs of today's partition, and a daily late-update pass."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from hub_core.orchestration import SYNC_JOBS, sync_every_minutes
from hub_core.settings import get_settings
from hub_core.types import Source

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


def _scheduled_time(context: ScheduleEvaluationContext) -> datetime:
    return context.scheduled_execution_time or datetime.now(ZoneInfo("UTC"))


def build_source_schedules(source: Source) -> Sequence[ScheduleDefinition]:
    """The frequent schedule (every `sync_every_minutes(source)`) and the daily late-update
    schedule of one source's sync job. A tick while that source's last run still goes queues
    the next (one run per source at a time: the source's pool)."""
    timezone = get_settings().hub_timezone
    every_minutes = sync_every_minutes(source)

    @schedule(
        name=f"{source.value}_every_{every_minutes}_minutes",
        job_name=SYNC_JOBS[source],
        cron_schedule=f"*/{every_minutes} * * * *",
        execution_timezone=timezone,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Sync today's {source.value} partition (and yesterday's early in the day).",
    )
    def frequent(context: ScheduleEvaluationContext) -> list[RunRequest] | SkipReason:
        if error := get_settings().source_error(source.value):
            return SkipReason(error)
        first = get_settings().hub_start_date.isoformat()
        when = _scheduled_time(context)
        return [
            # Dagster refuses a tick of several requests without run keys (early in the day
            # there are two); a key of the tick's time and the partition is new at every tick,
            # so no tick is skipped as a repeat of the one before
            RunRequest(
                partition_key=key,
                run_key=f"sync-{key}-{when.astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M}",
                tags={"hub/trigger": "schedule"},
            )
            for key in recent_partition_keys(when, timezone)
            if key >= first  # (yesterday is no partition on the first day)
        ]

    @schedule(
        name=f"{source.value}_late_updates",
        job_name=SYNC_JOBS[source],
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
