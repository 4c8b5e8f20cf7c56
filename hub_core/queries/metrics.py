"""Metrics of transactions: one hybrid aggregation over `hourly_metrics` and `transactions`.

`hourly_metrics` holds one row per local hour of the hub's grid time zone (HUB_TIMEZONE) and
dimension combination. A request may ask for buckets of any IANA zone, whose boundaries need
not fall on the grid's (Asia/Kolkata days start at 18:30 UTC; a UTC grid hour 18:00-19:00
straddles two of them). So the range of a request is split, in Python, into

* grid hours that lie wholly inside the range and inside one request bucket: read from
  `hourly_metrics` (pre-aggregated, cheap), and
* everything else (straddling hours, partial edges): read from `transactions` by
  `created_at` (its index serves the few short ranges),

and both parts are bucketed and summed in one SQL statement. The answer equals a direct
`GROUP BY` over `transactions` for any zone, any granularity and across DST changes.

Amounts are never summed across currencies: every aggregation is grouped by currency.

Assumptions: `hourly_metrics` is in step with `transactions` for the hours it holds (the
pipelines refresh a day's hours in one transaction after each write), and Python's zone rules
(`zoneinfo`) are PostgreSQL's (the same tzdata), which `pg_localize` mirrors.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    union_all,
)

from hub_core.queries.filters import TransactionFilters, dimension_clauses
from hub_core.queries.periods import Period
from hub_core.tables import hourly_metrics, transactions
from hub_core.types import Source, Status

Granularity = Literal["hour", "day", "week"]
"""A calendar unit of the request's zone (weeks start on Monday, as `date_trunc('week')`)."""

GroupColumn = Literal["status", "source", "project", "direction"]
"""A dimension rows may be grouped by besides the bucket (currency is always one)."""

GRANULARITIES: tuple[str, ...] = get_args(Granularity)
GROUP_COLUMNS: tuple[str, ...] = get_args(GroupColumn)

MAX_BUCKETS = 5000
"""The most buckets a trend may have."""

DEFAULT_CURRENCY = "INR"
"""The currency figures are given in when a period has no transaction at all."""

_STEP: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
_SCAN = timedelta(hours=12)  # offset changes are searched for at this spacing, then bisected
_MARGIN = timedelta(hours=4)  # a grid hour's cells (DST fall-back: up to ~3 h) fit in this
_CLIP_AFTER = timedelta(days=45)  # longer ranges are first narrowed to where data exists
_TIMESTAMPTZ = DateTime(timezone=True)
_CENT = Decimal("0.01")


class TooManyBuckets(ValueError):
    """A period and granularity that would make more than the allowed number of buckets."""

    def __init__(self, buckets: int, limit: int) -> None:
        super().__init__(f"{buckets} buckets is more than the {limit} allowed")
        self.buckets = buckets
        self.limit = limit


@dataclass(frozen=True, slots=True)
class MetricRow:
    """One aggregated group: its bucket start, currency, count and amount.

    A dimension not grouped by is None (for `project`, None is also the missing project).
    """

    bucket: datetime
    currency: str
    count: int
    amount: Decimal
    status: str | None = None
    source: str | None = None
    project: str | None = None
    direction: str | None = None


# --- calendar arithmetic in any zone, as PostgreSQL does it ---------------------------------
#
# Instants are handled as integer microseconds since 1970-01-01 UTC ("us"), local wall times
# as the same count on a naive clock: a 60-day range has ~1,500 grid hours to classify and
# integer arithmetic keeps that to a few milliseconds.

_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_UNIT_US: dict[str, int] = {unit: step // _US for unit, step in _STEP.items()}
_MONDAY_US = 4 * _UNIT_US["day"]  # 1970-01-05 was a Monday
_SAFE_US = 26 * _UNIT_US["hour"]  # no two UTC offsets differ by more than 26 h


def _to_us(instant: datetime) -> int:
    return (instant - _EPOCH) // _US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _floor_us(wall: int, unit: str) -> int:
    """`date_trunc(unit, wall)` of a local time in microseconds."""
    size = _UNIT_US[unit]
    if unit == "week":
        return wall - (wall - _MONDAY_US) % size
    return wall - wall % size


def pg_localize(wall: datetime, timezone: str | ZoneInfo) -> datetime:
    """`wall AT TIME ZONE timezone` for a naive local time, as PostgreSQL computes it; aware UTC.

    Where the wall time is ambiguous (a fall-back repeats it) PostgreSQL takes the offset after
    the change, and where it does not exist (a spring-forward skips it) the offset before:
    in both cases the smaller of the two offsets, i.e. the later instant.
    """
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert first is not None and second is not None
    return (wall - min(first, second)).replace(tzinfo=UTC)


def _offset_stretches(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[int, int]]:
    """(first instant, UTC offset), in microseconds, of each constant-offset stretch of `tz`
    covering [lo, hi); the first stretch is said to start at `lo`."""

    def offset(instant: datetime) -> timedelta:
        value = instant.astimezone(tz).utcoffset()
        assert value is not None
        return value

    stretches = [(lo, offset(lo))]
    cursor = lo
    while cursor < hi:
        probe = min(cursor + _SCAN, hi)
        current = stretches[-1][1]
        if offset(probe) == current:
            cursor = probe
            continue
        # the first instant in (cursor, probe] with another offset, to the microsecond
        same, changed = cursor, probe
        while changed - same > _US:
            middle = same + (changed - same) / 2
            if offset(middle) == current:
                same = middle
            else:
                changed = middle
        if changed < hi:
            stretches.append((changed, offset(changed)))
        cursor = changed
    return [(_to_us(start), offset // _US) for start, offset in stretches]


def _cells_us(timezone: str, unit: str, lo: int, hi: int) -> list[tuple[int, int, int]]:
    """`calendar_cells` in microseconds."""
    tz = ZoneInfo(timezone)
    size = _UNIT_US[unit]
    stretches = _offset_stretches(tz, _from_us(lo), _from_us(hi))
    cells: list[tuple[int, int, int]] = []
    for index, (begin, offset) in enumerate(stretches):
        end = stretches[index + 1][0] if index + 1 < len(stretches) else hi
        cell = begin
        boundary = _floor_us(begin + offset, unit) + size  # next local unit start (wall)
        while cell < end:
            cell_end = min(boundary - offset, end)
            floor = _floor_us(cell + offset, unit)
            value = floor - offset
            if not begin + _SAFE_US <= value < end - _SAFE_US:
                # near an offset change (or the ends): the local time may be ambiguous or
                # skipped, so let the zone rules say what PostgreSQL makes of it
                local = _NAIVE_EPOCH + timedelta(microseconds=floor)
                value = _to_us(pg_localize(local, tz))
            if cells and cells[-1][2] == value and cells[-1][1] == cell:
                cells[-1] = (cells[-1][0], cell_end, value)  # an offset change inside a bucket
            else:
                cells.append((cell, cell_end, value))
            cell = cell_end
            boundary += size
    return cells


def calendar_cells(
    timezone: str, unit: str, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, datetime]]:
    """The maximal intervals [start, end) of [lo, hi) over which PostgreSQL's bucket start
    `date_trunc(unit, t AT TIME ZONE tz) AT TIME ZONE tz` is constant, with that value
    (all aware UTC).

    Usually one interval per hour/day/week. At DST changes a value can have several cells
    (a fall-back repeats a local hour; a skipped local hour is localized onto the next one),
    not necessarily adjacent, and a value need not lie inside its own cells.
    """
    return [
        (_from_us(a), _from_us(b), _from_us(v))
        for a, b, v in _cells_us(timezone, unit, _to_us(lo), _to_us(hi))
    ]


# --- request buckets --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bucketing:
    """How instants fall into the buckets of a request.

    Either a calendar `unit` of `timezone` (bucket start: `date_trunc(unit, t AT TIME ZONE tz)
    AT TIME ZONE tz`), or explicit ascending `bounds` (bucket i is [bounds[i], bounds[i+1])).
    """

    timezone: str = "UTC"
    unit: Granularity | None = None
    bounds: tuple[datetime, ...] = ()

    @classmethod
    def calendar(cls, unit: Granularity, timezone: str) -> Bucketing:
        """Buckets of one hour/day/week of `timezone`."""
        if unit not in GRANULARITIES:
            raise ValueError(f"unknown granularity {unit!r}")
        return cls(timezone=timezone, unit=unit)

    @classmethod
    def between(cls, *bounds: datetime) -> Bucketing:
        """Buckets [bounds[0], bounds[1]), [bounds[1], bounds[2]), ..."""
        if len(bounds) < 2 or any(a >= b for a, b in pairwise(bounds)):
            raise ValueError("bounds must be at least two ascending instants")
        return cls(bounds=tuple(bounds))

    def key(self, instant: datetime) -> int:
        """Which bucket `instant` is in, as SQL groups it: the bucket start in microseconds
        (calendar units) or the index of the bucket (bounds)."""
        if self.unit is None:
            return bisect_right(self.bounds, instant) - 1
        tz = ZoneInfo(self.timezone)
        wall = _to_us(instant.astimezone(tz).replace(tzinfo=UTC))
        local = _NAIVE_EPOCH + timedelta(microseconds=_floor_us(wall, self.unit))
        return _to_us(pg_localize(local, tz))

    def _keyed_cells(self, lo: int, hi: int) -> tuple[list[int], list[int]]:
        """(starts, keys) of the buckets' pieces covering [lo, hi), in microseconds."""
        if self.unit is None:
            bounds = [_to_us(b) for b in self.bounds]
            starts = [lo, *(b for b in bounds if lo < b < hi)]
            return starts, [bisect_right(bounds, s) - 1 for s in starts]
        cells = _cells_us(self.timezone, self.unit, lo, hi)
        return [a for a, _, _ in cells], [v for _, _, v in cells]

    def sql(self, ts: ColumnElement[Any]) -> ColumnElement[Any]:
        """The bucket start of `ts` in SQL."""
        if self.unit is None:
            # explicit bounds: the last bound at or before ts
            whens = [(ts >= bound, literal(bound, _TIMESTAMPTZ)) for bound in self.bounds[-2:0:-1]]
            first = literal(self.bounds[0], _TIMESTAMPTZ)
            return case(*whens, else_=first) if whens else first
        # date_trunc(unit, ts AT TIME ZONE tz) AT TIME ZONE tz
        zone = literal(self.timezone)
        local = func.timezone(zone, ts)
        return func.timezone(zone, func.date_trunc(literal(self.unit), local), type_=_TIMESTAMPTZ)


def bucket_starts(
    period: Period, granularity: Granularity, limit: int | None = MAX_BUCKETS
) -> list[datetime]:
    """The start (aware UTC) of every `granularity` bucket of the period in its zone, in order,
    as SQL's `date_trunc` gives them (a week's start may precede the period's first day).

    Raises `TooManyBuckets` when there would be more than `limit`.
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}")
    estimate = (period.end - period.start) // _STEP[granularity] + 1
    if limit is not None and estimate > limit + 2:  # cheap refusal before enumerating
        raise TooManyBuckets(estimate, limit)
    cells = _cells_us(period.timezone, granularity, _to_us(period.start), _to_us(period.end))
    starts = sorted({value for _, _, value in cells})
    if limit is not None and len(starts) > limit:
        raise TooManyBuckets(len(starts), limit)
    return [_from_us(start) for start in starts]


# --- the hybrid plan ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HybridPlan:
    """Where the figures of a range come from.

    `hours`: values of `hourly_metrics.hour` whose rows are used as they are (each wholly
    inside the range and inside one request bucket). `ranges`: [start, end) intervals read from
    `transactions` (everything else of the range), merged when adjacent.
    """

    hours: tuple[datetime, ...]
    ranges: tuple[tuple[datetime, datetime], ...]
    hour_runs: tuple[tuple[datetime, datetime], ...] = ()
    """`hours` as closed [first, last] runs of consecutive grid hours (no unusable grid hour
    between): the SQL reads them as index ranges instead of a long list of values."""


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def hybrid_plan(
    start: datetime, end: datetime, bucketing: Bucketing, grid_timezone: str
) -> HybridPlan:
    """Split [start, end) into usable grid hours of `grid_timezone` and ranges to read from
    `transactions`, for buckets `bucketing`.

    A grid hour (all the instants whose local hour in the grid zone is that hour: usually one
    hour, longer or in two pieces at a DST change) is usable only if it lies entirely inside
    [start, end) and inside one request bucket, with no bucket starting within it: with the
    request zone, the bucket of its first instant equals the bucket of its last.
    """
    lo, hi = _to_us(start), _to_us(end)
    if lo >= hi:
        return HybridPlan((), ())
    margin = _MARGIN // _US
    # grid hours by their `hourly_metrics.hour` value (pieces: see calendar_cells)
    grid: dict[int, list[tuple[int, int]]] = {}
    for a, b, hour in _cells_us(grid_timezone, "hour", lo - margin, hi + margin):
        grid.setdefault(hour, []).append((a, b))
    # the request buckets over the range: piece starts and their bucket keys
    piece_starts, piece_keys = bucketing._keyed_cells(lo, hi)

    def key(instant: int) -> int:
        if lo <= instant < hi:
            return piece_keys[bisect_right(piece_starts, instant) - 1]
        return bucketing.key(_from_us(instant))

    def usable(cells: list[tuple[int, int]], hour: int) -> bool:
        first_key = key(cells[0][0])
        for a, b in cells:
            if a < lo or b > hi:
                return False  # not wholly inside the range
            i = bisect_right(piece_starts, a)
            if i < len(piece_starts) and piece_starts[i] < b:
                return False  # a request bucket starts inside this grid hour
            if key(a) != first_key:
                return False
        return key(hour) == first_key  # SQL buckets the stored row by its `hour` value

    hours: list[int] = []
    ranges: list[tuple[int, int]] = []
    runs: list[list[int]] = []
    previous_usable = False
    for hour in sorted(grid):
        cells = grid[hour]
        inside = [(max(a, lo), min(b, hi)) for a, b in cells if a < hi and b > lo]
        ok = bool(inside) and usable(cells, hour)
        if ok:
            hours.append(hour)
            if previous_usable:
                runs[-1][1] = hour
            else:
                runs.append([hour, hour])
        elif inside:
            ranges.extend(inside)
        previous_usable = ok
    return HybridPlan(
        tuple(_from_us(h) for h in hours),
        tuple((_from_us(a), _from_us(b)) for a, b in _merge(ranges)),
        tuple((_from_us(a), _from_us(b)) for a, b in runs),
    )


# --- SQL ------------------------------------------------------------------------------------


def _group_expr(table: Any, column: str) -> ColumnElement[Any]:
    if column == "project":
        # hourly_metrics stores a missing project as ''; both parts show it as NULL
        return func.nullif(table.c.project, "").label("project")
    return table.c[column].label(column)


def _from_metrics(
    runs: Sequence[tuple[datetime, datetime]],
    bucketing: Bucketing,
    filters: TransactionFilters,
    group_by: Sequence[str],
) -> Select[Any]:
    """Usable grid hours, pre-aggregated: `hourly_metrics` rows of the runs of usable hours
    (`hour BETWEEN first AND last` OR ...: index ranges the planner sees as such)."""
    m = hourly_metrics.c
    within = or_(*[and_(m.hour >= first, m.hour <= last) for first, last in runs])
    return select(
        bucketing.sql(m.hour).label("bucket"),
        *[_group_expr(hourly_metrics, column) for column in group_by],
        m.currency,
        m["count"].label("n"),
        m.amount,
    ).where(within, *dimension_clauses(hourly_metrics, filters))


def _from_transactions(
    ranges: Sequence[tuple[datetime, datetime]],
    bucketing: Bucketing,
    filters: TransactionFilters,
    group_by: Sequence[str],
) -> Select[Any]:
    """The rest, from the rows themselves: `transactions` in the ranges
    (`lo <= created_at < hi` OR ...: the created_at index, partitions pruned)."""
    t = transactions.c
    within = or_(*[and_(t.created_at >= lo, t.created_at < hi) for lo, hi in ranges])
    return select(
        bucketing.sql(t.created_at).label("bucket"),
        *[_group_expr(transactions, column) for column in group_by],
        t.currency,
        literal(1).label("n"),
        t.amount,
    ).where(within, *dimension_clauses(transactions, filters))


def _data_span(conn: Connection, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) narrowed to [first, last] transaction inside it (empty when none)."""
    t = transactions.c
    first, last = conn.execute(
        select(func.min(t.created_at), func.max(t.created_at)).where(
            t.created_at >= start, t.created_at < end
        )
    ).one()
    if first is None:
        return start, start
    return max(start, first), min(end, last + _US)


def _aggregate(
    conn: Connection,
    start: datetime,
    end: datetime,
    bucketing: Bucketing,
    filters: TransactionFilters,
    grid_timezone: str,
    group_by: Sequence[str],
) -> list[MetricRow]:
    """Count and amount of [start, end) by bucket, `group_by` columns and currency."""
    if not filters.dimensions_only():
        raise ValueError("metrics take only dimension filters (no search or amount bounds)")
    unknown = set(group_by) - set(GROUP_COLUMNS)
    if unknown:
        raise ValueError(f"cannot group metrics by {sorted(unknown)}")
    groups = list(dict.fromkeys(group_by))
    if end - start > _CLIP_AFTER:
        # a long range: plan only where there are transactions (exact: nothing elsewhere)
        start, end = _data_span(conn, start, end)
    plan = hybrid_plan(start, end, bucketing, grid_timezone)
    parts = []
    if plan.hour_runs:
        parts.append(_from_metrics(plan.hour_runs, bucketing, filters, groups))
    if plan.ranges:
        parts.append(_from_transactions(plan.ranges, bucketing, filters, groups))
    if not parts:
        return []
    both = union_all(*parts).subquery("parts") if len(parts) > 1 else parts[0].subquery("parts")
    keys = [both.c.bucket, *[both.c[column] for column in groups], both.c.currency]
    query = select(
        *keys,
        func.sum(both.c.n).label("n"),
        func.sum(both.c.amount).label("amount"),
    ).group_by(*keys)
    rows: list[MetricRow] = []
    for row in conn.execute(query).mappings():
        dims = {column: row[column] for column in groups}
        rows.append(
            MetricRow(
                bucket=row["bucket"].astimezone(UTC),
                currency=row["currency"],
                count=int(row["n"]),
                amount=Decimal(row["amount"] or 0),
                **dims,
            )
        )
    rows.sort(key=lambda r: (r.bucket, r.currency, *(str(getattr(r, c)) for c in groups)))
    return rows


def aggregate(
    conn: Connection,
    period: Period,
    granularity: Granularity | None,
    filters: TransactionFilters,
    grid_timezone: str,
    group_by: Sequence[GroupColumn] = (),
) -> list[MetricRow]:
    """Count and amount of the period's transactions by bucket, `group_by` columns and currency.

    `granularity` None makes the whole period one bucket (starting at `period.start`);
    otherwise buckets are hours/days/weeks of `period.timezone`. Only the dimension filters of
    `filters` apply (its own period is ignored). `grid_timezone` is the zone `hourly_metrics`
    was computed in (settings.hub_timezone). Exact for any zone (see the module docstring).
    """
    bucketing = (
        Bucketing.between(period.start, period.end)
        if granularity is None
        else Bucketing.calendar(granularity, period.timezone)
    )
    return _aggregate(conn, period.start, period.end, bucketing, filters, grid_timezone, group_by)


def aggregate_with_previous(
    conn: Connection,
    period: Period,
    filters: TransactionFilters,
    grid_timezone: str,
    group_by: Sequence[GroupColumn] = (),
) -> tuple[list[MetricRow], list[MetricRow]]:
    """(rows of `period`, rows of `period.previous()`), each period one bucket, computed in one
    aggregation over both."""
    previous = period.previous()
    bucketing = Bucketing.between(previous.start, period.start, period.end)
    rows = _aggregate(conn, previous.start, period.end, bucketing, filters, grid_timezone, group_by)
    current = [r for r in rows if r.bucket >= period.start]
    return current, [r for r in rows if r.bucket < period.start]


def count_from_metrics(conn: Connection, filters: TransactionFilters, grid_timezone: str) -> int:
    """How many transactions match `filters` (dimension filters and period), from
    `hourly_metrics` where whole grid hours allow it and `transactions` for the edges.

    Without a period, every hour of `hourly_metrics` counts. Raises `ValueError` for filters
    `hourly_metrics` cannot answer (search, amount bounds).
    """
    if not filters.dimensions_only():
        raise ValueError("only dimension filters can be counted from hourly_metrics")
    period = filters.period
    if period is None:
        total = conn.execute(
            select(func.coalesce(func.sum(hourly_metrics.c["count"]), 0)).where(
                *dimension_clauses(hourly_metrics, filters)
            )
        ).scalar_one()
        return int(total)
    bucketing = Bucketing.between(period.start, period.end)
    rows = _aggregate(conn, period.start, period.end, bucketing, filters, grid_timezone, ())
    return sum(row.count for row in rows)


# --- the reports behind GET /metrics/* ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """A count and an amount (in one currency)."""

    count: int = 0
    amount: Decimal = Decimal(0)

    def __add__(self, other: Tally) -> Tally:
        return Tally(self.count + other.count, self.amount + other.amount)

    def as_dict(self) -> dict[str, Any]:
        """`{"count", "amount"}`."""
        return {"count": self.count, "amount": self.amount}


def tally(rows: Iterable[MetricRow]) -> Tally:
    """The sum of the rows' counts and amounts (rows of one currency)."""
    total = Tally()
    for row in rows:
        total += Tally(row.count, row.amount)
    return total


def percent(part: int | Decimal, whole: int | Decimal) -> float:
    """`part / whole * 100` with 2 decimals (half up); 0 when `whole` is 0."""
    if not whole:
        return 0.0
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(_CENT, rounding=ROUND_HALF_UP))


def change(current: int, previous: int) -> float | None:
    """% change from `previous` to `current` (2 decimals); 0 when both are 0, None when only
    the previous is 0 (no finite change)."""
    if previous == 0:
        return 0.0 if current == 0 else None
    return percent(current - previous, previous)


def pick_currency(
    rows: Sequence[MetricRow], requested: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """(currency the figures are given in, the other currencies present as
    `[{currency, count, amount}]`).

    The requested currency if any; else the one with the most transactions (ties: the larger
    amount, then alphabetical), `DEFAULT_CURRENCY` when there is none.
    """
    by_currency: dict[str, Tally] = {}
    for row in rows:
        by_currency[row.currency] = by_currency.get(row.currency, Tally()) + Tally(
            row.count, row.amount
        )
    if requested:
        chosen = requested
    elif by_currency:
        chosen = min(by_currency, key=lambda c: (-by_currency[c].count, -by_currency[c].amount, c))
    else:
        chosen = DEFAULT_CURRENCY
    others = [
        {"currency": currency, **totals.as_dict()}
        for currency, totals in sorted(by_currency.items(), key=lambda kv: (-kv[1].count, kv[0]))
        if currency != chosen and totals.count
    ]
    return chosen, others


def overview(
    conn: Connection, period: Period, filters: TransactionFilters, grid_timezone: str
) -> dict[str, Any]:
    """`GET /metrics/overview`: totals, by status and source, conversion rate, average ticket
    and % change of counts against the previous period, in one currency (see `pick_currency`).

    One aggregation covers the period and the previous one.
    """
    current, previous = aggregate_with_previous(
        conn, period, filters, grid_timezone, ("status", "source")
    )
    currency, others = pick_currency(current, filters.currency)
    now = [r for r in current if r.currency == currency]
    before = [r for r in previous if r.currency == currency]
    by_status = {s.value: tally(r for r in now if r.status == s.value) for s in Status}
    by_source = {s.value: tally(r for r in now if r.source == s.value) for s in Source}
    total = tally(now)
    success, failed = by_status[Status.SUCCESS.value], by_status[Status.FAILED.value]

    def count_before(status: str | None = None) -> int:
        return sum(r.count for r in before if status is None or r.status == status)

    return {
        "period": period.as_dict(),
        "timezone": period.timezone,
        "currency": currency,
        "total": {**total.as_dict(), "currency": currency},
        "by_status": {name: t.as_dict() for name, t in by_status.items()},
        "by_source": {name: t.as_dict() for name, t in by_source.items()},
        "conversion_rate": percent(success.count, success.count + failed.count),
        "avg_ticket": success.amount / success.count if success.count else Decimal(0),
        "trends": {
            "total_change": change(total.count, count_before()),
            "success_change": change(success.count, count_before(Status.SUCCESS.value)),
            "failed_change": change(failed.count, count_before(Status.FAILED.value)),
        },
        "other_currencies": others,
    }


def by_project(
    conn: Connection, period: Period, filters: TransactionFilters, grid_timezone: str
) -> dict[str, Any]:
    """`GET /metrics/by-project`: count, amount and success rate per project (None: no
    project), largest amount first, in one currency."""
    rows = aggregate(conn, period, None, filters, grid_timezone, ("project", "status"))
    currency, others = pick_currency(rows, filters.currency)
    projects: dict[str | None, list[MetricRow]] = {}
    for row in rows:
        if row.currency == currency:
            projects.setdefault(row.project, []).append(row)
    items = []
    for project, project_rows in projects.items():
        totals = tally(project_rows)
        success = sum(r.count for r in project_rows if r.status == Status.SUCCESS.value)
        failed = sum(r.count for r in project_rows if r.status == Status.FAILED.value)
        items.append(
            {
                "project": project,
                **totals.as_dict(),
                "success_rate": percent(success, success + failed),
            }
        )
    items.sort(key=lambda i: (-i["amount"], -i["count"], i["project"] is None, i["project"] or ""))
    return {
        "period": period.as_dict(),
        "timezone": period.timezone,
        "currency": currency,
        "projects": items,
        "other_currencies": others,
    }


def by_status(
    conn: Connection, period: Period, filters: TransactionFilters, grid_timezone: str
) -> dict[str, Any]:
    """`GET /metrics/by-status`: every status (zeros included) with count, amount and share
    of the count (%), in one currency."""
    rows = aggregate(conn, period, None, filters, grid_timezone, ("status",))
    currency, others = pick_currency(rows, filters.currency)
    mine = [r for r in rows if r.currency == currency]
    total = sum(r.count for r in mine)
    statuses = []
    for status in Status:
        totals = tally(r for r in mine if r.status == status.value)
        statuses.append(
            {"status": status.value, **totals.as_dict(), "share": percent(totals.count, total)}
        )
    return {
        "period": period.as_dict(),
        "timezone": period.timezone,
        "currency": currency,
        "statuses": statuses,
        "other_currencies": others,
    }


def trends(
    conn: Connection,
    period: Period,
    granularity: Granularity,
    filters: TransactionFilters,
    grid_timezone: str,
    max_buckets: int = MAX_BUCKETS,
) -> dict[str, Any]:
    """`GET /metrics/trends`: one point per `granularity` bucket of the period (zeros included,
    in order) with count, amount and success/failed counts, in one currency.

    Raises `TooManyBuckets` past `max_buckets`.
    """
    starts = bucket_starts(period, granularity, max_buckets)
    rows = aggregate(conn, period, granularity, filters, grid_timezone, ("status",))
    currency, others = pick_currency(rows, filters.currency)
    points = {
        start: {"count": 0, "amount": Decimal(0), "success": 0, "failed": 0} for start in starts
    }
    for row in rows:
        if row.currency != currency:
            continue
        # a bucket start is one of `starts` (both follow PostgreSQL's rules); should the two
        # zone databases ever disagree, the row goes to the bucket that contains it
        bucket = row.bucket
        if bucket not in points:
            bucket = starts[max(0, bisect_right(starts, bucket) - 1)]
        point = points[bucket]
        point["count"] += row.count
        point["amount"] += row.amount
        if row.status in ("success", "failed"):
            point[row.status] += row.count
    return {
        "period": period.as_dict(),
        "timezone": period.timezone,
        "currency": currency,
        "granularity": granularity,
        "points": [
            {
                "timestamp": start,
                "count": p["count"],
                "amount": p["amount"],
                "success_count": p["success"],
                "failed_count": p["failed"],
            }
            for start, p in points.items()
        ],
        "other_currencies": others,
    }
