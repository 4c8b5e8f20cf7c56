"""Periods of calendar days in a time zone, as the API's `from_date`/`to_date`/`timezone`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub_core.timeutil import day_bounds


def valid_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows (e.g. `Asia/Kolkata`)."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def today_in(timezone: str, now: datetime | None = None) -> date:
    """The calendar date in `timezone` at `now` (default: the current time)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True, slots=True)
class Period:
    """The days `from_date`..`to_date` (both included) in `timezone`."""

    from_date: date
    to_date: date
    timezone: str = "UTC"

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.to_date - self.from_date).days + 1

    @property
    def start(self) -> datetime:
        """First instant of the period, aware UTC."""
        return day_bounds(self.from_date, self.timezone)[0]

    @property
    def end(self) -> datetime:
        """First instant after the period, aware UTC."""
        return day_bounds(self.to_date, self.timezone)[1]

    def previous(self) -> Period:
        """The period of equal length that ends the day before this one starts."""
        shift = timedelta(days=self.days)
        return Period(self.from_date - shift, self.to_date - shift, self.timezone)

    def as_dict(self) -> dict[str, str]:
        """`{"from": ..., "to": ...}` as the API shows a period."""
        return {"from": self.from_date.isoformat(), "to": self.to_date.isoformat()}
