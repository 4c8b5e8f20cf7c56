"""The UTC window of a daily partition, shared by every source (no Dagster)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from hub_core.timeutil import day_bounds


@dataclass(slots=True)
class PartitionWindow:
    """A daily partition: its key and its [start, end) in UTC."""

    key: str
    start: datetime
    end: datetime

    @classmethod
    def for_key(cls, key: str, timezone: str) -> PartitionWindow:
        """The window of the daily partition `key` (YYYY-MM-DD) in `timezone`."""
        start, end = day_bounds(date.fromisoformat(key), timezone)
        return cls(key=key, start=start, end=end)

    @classmethod
    def of(cls, key: str, start: datetime, end: datetime) -> PartitionWindow:
        """The window of partition `key` from its bounds in any zone (Dagster's
        `partition_time_window`), kept in UTC."""
        return cls(key=key, start=start.astimezone(UTC), end=end.astimezone(UTC))

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` falls in [start, end)."""
        return self.start <= moment < self.end

    def provider_dates(self) -> tuple[date, date]:
        """The first and last UTC calendar dates the window touches."""
        return self.start.date(), (self.end - timedelta(microseconds=1)).date()
