"""Time, money and JSON as the providers render them, with the caches that make it cheap.

Times are epoch milliseconds (UTC) inside the generator and ISO strings with milliseconds and a
`Z` outside (`fmt_ms`); amounts are integer minor units inside and decimal strings or JSON
numbers outside (`major_str`, `major_num`). A scenario renders millions of times, so day and
minute prefixes are cached and the seconds part is a table.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

DAY_MS = 86_400_000
"""Milliseconds in a (UTC) day."""

EPOCH = date(1970, 1, 1)
"""Day 0 of epoch days and milliseconds."""

_DAY_STR: dict[int, str] = {}
_MINUTE_PREFIX: dict[int, str] = {}
_SECOND_MS = [f"{sec:02d}.{milli:03d}Z" for sec in range(60) for milli in range(1000)]


def _day_str(day: int) -> str:
    """`YYYY-MM-DD` of the day `day` days after 1970-01-01 (cached)."""
    text = _DAY_STR.get(day)
    if text is None:
        text = _DAY_STR[day] = date.fromordinal(EPOCH.toordinal() + day).isoformat()
    return text


def _minute_prefix(minute: int) -> str:
    """`YYYY-MM-DDTHH:MM:` of the minute `minute` minutes after the epoch (cached)."""
    text = _MINUTE_PREFIX.get(minute)
    if text is None:
        hour, mins = divmod(minute % 1440, 60)
        text = _MINUTE_PREFIX[minute] = f"{_day_str(minute // 1440)}T{hour:02d}:{mins:02d}:"
    return text


def fmt_ms(ms: int) -> str:
    """Epoch milliseconds as Vima renders times: `2026-01-15T15:46:20.195Z`."""
    minute = ms // 60_000
    prefix = _MINUTE_PREFIX.get(minute) or _minute_prefix(minute)
    return prefix + _SECOND_MS[ms - minute * 60_000]


def date_of_ms(ms: int) -> str:
    """The UTC date (`YYYY-MM-DD`) of epoch milliseconds `ms`."""
    return _day_str(ms // DAY_MS)


def epoch_ms(when: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware `datetime`."""
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * DAY_MS + delta.seconds * 1000 + delta.microseconds // 1000


def ms_datetime(ms: int) -> datetime:
    """The aware UTC `datetime` of epoch milliseconds `ms`."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def major_str(minor: int, exponent: int) -> str:
    """Minor units as a major-unit decimal string: `150000, 2` -> `"1500.00"`."""
    if exponent == 2 and minor >= 0:
        return f"{minor // 100}.{minor % 100:02d}"
    if exponent == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}"


def major_num(minor: int, exponent: int) -> float | int:
    """Minor units as a JSON number in major units (shortest repr has <= `exponent` decimals)."""
    return minor if exponent == 0 else minor / 10**exponent


def dumps(doc: object) -> bytes:
    """Canonical JSON: sorted keys, compact, `Decimal`/`date`/`datetime` as strings."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=_json_default).encode()


def _json_default(value: object) -> str:
    """Render the non-JSON values of a scenario as strings."""
    if isinstance(value, datetime):
        return fmt_ms(epoch_ms(value))
    if isinstance(value, date | Decimal):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
