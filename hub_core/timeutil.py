"""Time helpers: everything inside the hub is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_utc(value: str) -> datetime:
    """Parse an ISO 8601 timestamp (`Z` or offset; naive means UTC) into aware UTC.

    Raises `ValueError` naming the text when it is not a timestamp.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"timestamp {value!r} is empty or not text")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {value!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def day_bounds(day: date, timezone: str = "UTC") -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in `timezone`, as aware UTC datetimes."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def isoformat_z(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z` suffix and millisecond precision."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
