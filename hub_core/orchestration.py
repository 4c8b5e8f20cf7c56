"""Names the API and the code location share about Dagster work: jobs, tags, schedules.

The code location defines the jobs and schedules with these values; the API launches the jobs
and reports the next schedule ticks from them, without importing the code location.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub_core.types import Source

CODE_LOCATION = "hub_pipelines"
"""The location name of `workspace.yaml`."""

SOURCE_TAG = "hub/source"
"""Run tag of a source's sync runs; `dagster.yaml` runs one run per value at a time."""

SYNC_JOBS: dict[Source, str] = {Source.VIMA: "vima_sync", Source.PAYSHACK: "payshack_sync"}
"""The job that syncs (fetches and normalizes) one partition of each source."""

RECONCILE_JOB = "reconcile_and_metrics"
"""The job that reconciles a day and refreshes its hourly metrics."""

SYNC_EVERY_MINUTES: dict[Source, int] = {Source.VIMA: 5, Source.PAYSHACK: 10}
"""The frequent schedule of each source (`*/N * * * *` in the hub timezone)."""


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
