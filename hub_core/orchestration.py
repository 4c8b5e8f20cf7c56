"""Names the API and the code location share about Dagster work: jobs, tags, schedules.

The code location defines the jobs and schedules with these values; the API launches the jobs
and reports the next schedule ticks from them, without importing the code location.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub_core.settings import Settings, get_settings
from hub_core.types import Source

CODE_LOCATION = "hub_pipelines"
"""The location name of `workspace.yaml`."""

SYNC_JOBS: dict[Source, str] = {Source.VIMA: "vima_sync", Source.PAYSHACK: "payshack_sync"}
"""The job that syncs (fetches and normalizes) one partition of each source."""

RECONCILE_JOB = "reconcile_and_metrics"
"""The job that reconciles a day and refreshes its hourly metrics."""


def sync_every_minutes(source: Source, settings: Settings | None = None) -> int:
    """The frequent schedule of `source` (`*/N * * * *` in the hub timezone):
    HUB_VIMA_SYNC_EVERY_MINUTES (5) and HUB_PAYSHACK_SYNC_EVERY_MINUTES (10)."""
    settings = settings or get_settings()
    return {
        Source.VIMA: settings.hub_vima_sync_every_minutes,
        Source.PAYSHACK: settings.hub_payshack_sync_every_minutes,
    }[source]


def next_tick(now: datetime, every_minutes: int, timezone: str) -> datetime:
    """The next tick of the cron `*/every_minutes * * * *` in `timezone` strictly after `now`
    (minutes restart at :00 each hour, as cron does)."""
    local = now.astimezone(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    candidate = local + timedelta(minutes=1)
    for _ in range(24 * 60 + 1):
        if candidate.minute % every_minutes == 0:
            return candidate.astimezone(ZoneInfo("UTC"))
        candidate += timedelta(minutes=1)
    raise ValueError(f"no tick for every {every_minutes} minutes")  # pragma: no cover
