"""The hybrid metrics aggregation: exact against a direct GROUP BY on `transactions`, for any
zone, granularity and DST change; its calendar arithmetic agrees with PostgreSQL's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import count, pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text

from hub_core.queries import metrics as M
from hub_core.queries.filters import TransactionFilters
from hub_core.queries.periods import Period
from hub_core.types import Direction, Source, Status, Transaction
from hub_pipelines.metrics import refresh_hourly_metrics
from hub_pipelines.warehouse.transactions import upsert_transactions

ZONES = [
    "UTC",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]
GRIDS = ["UTC", "Asia/Kolkata", "America/New_York", "Australia/Lord_Howe"]
# days around DST changes: New York (Mar 10, Nov 3), Lord Howe / Chatham (Apr 7, Sep 29 / Oct 6)
ANCHORS = [date(2024, 3, 10), date(2024, 4, 7), date(2024, 9, 29), date(2024, 10, 6)]
_serial = count(1)


def txn(
    created_at: datetime,
    *,
    source: Source = Source.VIMA,
    status: Status = Status.SUCCESS,
    amount: str = "100.00",
    currency: str = "INR",
    project: str | None = "91game",
    direction: Direction = Direction.PAYIN,
) -> Transaction:
    n = next(_serial)
    return Transaction(
        source=source,
        source_id=f"mq-{n:07d}",
        direction=direction,
        amount=Decimal(amount),
        currency=currency,
        status=status,
        original_status=status.value.upper(),
        created_at=created_at.astimezone(UTC),
        project=project,
        raw_data={"n": n},
    ).finalize()


def reseed(engine: Engine, txns: Sequence[Transaction], grid: str) -> None:
    """Empty transactions and hourly_metrics, write `txns`, refresh the metrics (grid zone)."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE transactions, hourly_metrics"))
        if not txns:
            return
        upsert_transactions(conn, txns)
        days = {t.created_at.date() + timedelta(days=d) for t in txns for d in (-1, 0, 1)}
        for day in sorted(days):
            refresh_hourly_metrics(conn, day, grid)


def direct(
    conn: Connection,
    period: Period,
    granularity: str | None,
    group_by: Sequence[str],
    filters: TransactionFilters = TransactionFilters(),  # noqa: B008
) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    """The reference: GROUP BY on transactions alone."""
    bucket = (
        ":start"
        if granularity is None
        else "date_trunc(:unit, created_at AT TIME ZONE :tz) AT TIME ZONE :tz"
    )
    columns = "".join(
        ", nullif(project, '')" if column == "project" else f", {column}" for column in group_by
    )
    where = ["created_at >= :start", "created_at < :end"]
    params: dict[str, Any] = {
        "unit": granularity,
        "tz": period.timezone,
        "start": period.start,
        "end": period.end,
    }
    if filters.source is not None:
        where.append("source = :source")
        params["source"] = filters.source.value
    if filters.status is not None:
        where.append("status = :status")
        params["status"] = filters.status.value
    positions = ", ".join(str(i) for i in range(1, len(group_by) + 3))
    sql = (
        f"SELECT {bucket} AS bucket{columns}, currency, count(*), sum(amount) "
        f"FROM transactions WHERE {' AND '.join(where)} GROUP BY {positions}"
    )
    return {
        (row[0].astimezone(UTC), *row[1:-2]): (row[-2], row[-1])
        for row in conn.execute(text(sql), params)
    }


def as_map(
    rows: Iterable[M.MetricRow], group_by: Sequence[str]
) -> dict[tuple[Any, ...], tuple[int, Decimal]]:
    return {
        (r.bucket, *(getattr(r, c) for c in group_by), r.currency): (r.count, r.amount)
        for r in rows
    }


# --- calendar arithmetic against PostgreSQL ---------------------------------------------------


def test_pg_localize_matches_postgresql_around_dst_changes(engine: Engine) -> None:
    walls = [
        datetime.combine(anchor, time()) + timedelta(minutes=15 * i)
        for anchor in [*ANCHORS, date(2024, 11, 3), date(2024, 9, 29)]
        for i in range(-4 * 24, 4 * 24 * 2)
    ]
    with engine.connect() as conn:
        for zone in [*ZONES, "America/Santiago", "Europe/Berlin"]:
            expected = conn.execute(
                text("SELECT w AT TIME ZONE :tz FROM unnest(CAST(:walls AS timestamp[])) AS w"),
                {"tz": zone, "walls": walls},
            ).scalars()
            mismatches = [
                (wall, pg)
                for wall, pg in zip(walls, expected, strict=True)
                if M.pg_localize(wall, zone) != pg
            ]
            assert mismatches == [], zone


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
def test_bucket_starts_are_postgresql_date_trunc_buckets(
    engine: Engine, zone: str, granularity: str
) -> None:
    anchor = ANCHORS[1] if "Lord" in zone or "Chatham" in zone else ANCHORS[0]
    period = Period(anchor - timedelta(days=3), anchor + timedelta(days=9), zone)
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT DISTINCT date_trunc(:unit, t AT TIME ZONE :tz) AT TIME ZONE :tz AS b "
                "FROM generate_series(CAST(:start AS timestamptz), :end, interval '5 minutes') t "
                "WHERE t < :end ORDER BY b"
            ),
            {"unit": granularity, "tz": zone, "start": period.start, "end": period.end},
        ).scalars()
        assert M.bucket_starts(period, granularity) == [b.astimezone(UTC) for b in expected]


def test_calendar_cells_cover_the_range_without_gaps() -> None:
    lo = datetime(2024, 4, 5, tzinfo=UTC)
    hi = datetime(2024, 4, 9, 7, 13, tzinfo=UTC)
    for zone in ZONES:
        cells = M.calendar_cells(zone, "hour", lo, hi)
        assert cells[0][0] == lo and cells[-1][1] == hi
        assert all(a[1] == b[0] for a, b in pairwise(cells))


def test_too_many_buckets_is_refused() -> None:
    period = Period(date(2026, 1, 1), date(2026, 12, 31), "UTC")
    with pytest.raises(M.TooManyBuckets) as caught:
        M.bucket_starts(period, "hour")
    assert caught.value.limit == M.MAX_BUCKETS
    assert len(M.bucket_starts(period, "day")) == 365
    week_starts = M.bucket_starts(period, "week")
    assert week_starts[0] == datetime(2025, 12, 29, tzinfo=UTC)  # the Monday before
    assert all(b.weekday() == 0 for b in week_starts)


# --- the hybrid plan --------------------------------------------------------------------------


def test_plan_with_the_grid_zone_reads_only_metrics() -> None:
    period = Period(date(2026, 3, 1), date(2026, 3, 30), "UTC")
    plan = M.hybrid_plan(period.start, period.end, M.Bucketing.calendar("day", "UTC"), "UTC")
    assert plan.ranges == ()
    assert len(plan.hours) == 30 * 24
    assert plan.hours[0] == period.start


def test_plan_reads_the_straddling_hour_of_a_kolkata_day_from_transactions() -> None:
    period = Period(date(2026, 3, 10), date(2026, 3, 10), "Asia/Kolkata")  # 03-09 18:30Z..
    plan = M.hybrid_plan(
        period.start, period.end, M.Bucketing.calendar("day", period.timezone), "UTC"
    )
    utc = lambda d, h, m=0: datetime(2026, 3, d, h, m, tzinfo=UTC)  # noqa: E731
    assert plan.ranges == ((utc(9, 18, 30), utc(9, 19)), (utc(10, 18), utc(10, 18, 30)))
    assert plan.hours[0] == utc(9, 19) and plan.hours[-1] == utc(10, 17)
    assert len(plan.hours) == 23
    # hour buckets of Kolkata split every UTC hour: nothing comes from the metrics
    hourly = M.hybrid_plan(
        period.start, period.end, M.Bucketing.calendar("hour", period.timezone), "UTC"
    )
    assert hourly.hours == () and hourly.ranges == ((period.start, period.end),)


def test_plan_of_a_fall_back_grid_hour_spanning_two_hours() -> None:
    # 2024-11-03 01:00-02:00 New York happens twice: 05:00-07:00 UTC is one grid hour
    grid = "America/New_York"
    day = M.Bucketing.calendar("hour", "UTC")
    start, end = datetime(2024, 11, 3, 4, tzinfo=UTC), datetime(2024, 11, 3, 8, tzinfo=UTC)
    plan = M.hybrid_plan(start, end, day, grid)
    assert datetime(2024, 11, 3, 6, tzinfo=UTC) not in plan.hours  # spans two UTC hours
    assert plan.ranges == (
        (datetime(2024, 11, 3, 5, tzinfo=UTC), datetime(2024, 11, 3, 7, tzinfo=UTC)),
    )
    whole = M.hybrid_plan(start, end, M.Bucketing.between(start, end), grid)
    assert whole.ranges == () and len(whole.hours) == 3


# --- hybrid == direct -------------------------------------------------------------------------


def test_metrics_rows_are_really_used_and_straddling_hours_are_not(clean_db: Engine) -> None:
    day = datetime(2026, 3, 10, tzinfo=UTC)
    reseed(
        clean_db,
        [txn(day + timedelta(hours=18, minutes=15)), txn(day + timedelta(hours=18, minutes=45))],
        "UTC",
    )
    with clean_db.begin() as conn:
        # tamper with the stored hour: a read from hourly_metrics shows 1000 more
        conn.execute(text("UPDATE hourly_metrics SET count = count + 1000"))
    with clean_db.connect() as conn:
        utc_day = Period(date(2026, 3, 10), date(2026, 3, 10), "UTC")
        rows = M.aggregate(conn, utc_day, None, TransactionFilters(), "UTC")
        assert [r.count for r in rows] == [1002]  # the UTC day reads the stored hour
        kolkata = Period(date(2026, 3, 10), date(2026, 3, 11), "Asia/Kolkata")
        rows = M.aggregate(conn, kolkata, "day", TransactionFilters(), "UTC")
        assert [(r.bucket.day, r.count) for r in rows] == [(9, 1), (10, 1)]  # from the rows


def test_count_from_metrics(clean_db: Engine) -> None:
    day = datetime(2026, 3, 10, tzinfo=UTC)
    reseed(
        clean_db,
        [
            txn(day + timedelta(hours=1)),
            txn(day + timedelta(hours=18, minutes=15), source=Source.PAYSHACK),
            txn(day + timedelta(hours=18, minutes=45), status=Status.FAILED),
            txn(day + timedelta(days=1, hours=3), currency="USD"),
        ],
        "UTC",
    )
    with clean_db.connect() as conn:
        kolkata = Period(date(2026, 3, 10), date(2026, 3, 10), "Asia/Kolkata")
        f = TransactionFilters(period=kolkata)
        assert M.count_from_metrics(conn, f, "UTC") == 2
        assert M.count_from_metrics(conn, TransactionFilters(), "UTC") == 4
        assert M.count_from_metrics(conn, TransactionFilters(source=Source.VIMA), "UTC") == 3
        utc = Period(date(2026, 3, 10), date(2026, 3, 11), "UTC")
        f = TransactionFilters(period=utc, status=Status.SUCCESS)
        assert M.count_from_metrics(conn, f, "UTC") == 3
        with pytest.raises(ValueError, match="dimension"):
            M.count_from_metrics(conn, TransactionFilters(search="x"), "UTC")


def test_a_long_period_is_narrowed_to_the_data(clean_db: Engine) -> None:
    reseed(clean_db, [txn(datetime(2026, 3, 10, 5, 30, tzinfo=UTC))], "UTC")
    with clean_db.connect() as conn:
        years = Period(date(1990, 1, 1), date(2990, 12, 31), "Asia/Kathmandu")
        rows = M.aggregate(conn, years, None, TransactionFilters(), "UTC")
        assert [(r.bucket, r.count) for r in rows] == [(years.start, 1)]
        current, previous = M.aggregate_with_previous(conn, years, TransactionFilters(), "UTC")
        assert [r.count for r in current] == [1] and previous == []


def test_reports_on_pure_helpers() -> None:
    assert M.percent(1, 3) == 33.33
    assert M.percent(2, 3) == 66.67
    assert M.percent(0, 0) == 0.0
    assert M.change(3, 0) is None
    assert M.change(0, 0) == 0.0
    assert M.change(1, 6) == -83.33
    row = lambda currency, n: M.MetricRow(datetime(2026, 1, 1, tzinfo=UTC), currency, n, Decimal(n))  # noqa: E731
    assert M.pick_currency([], None) == ("INR", [])
    chosen, others = M.pick_currency([row("USD", 5), row("INR", 2), row("EUR", 2)], None)
    assert chosen == "USD"
    assert others == [
        {"currency": "EUR", "count": 2, "amount": Decimal(2)},
        {"currency": "INR", "count": 2, "amount": Decimal(2)},
    ]
    assert M.pick_currency([row("USD", 5)], "INR") == (
        "INR",
        [{"currency": "USD", "count": 5, "amount": Decimal(5)}],
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    anchor = draw(st.sampled_from(ANCHORS))
    base = datetime.combine(anchor - timedelta(days=2), time(), UTC)
    minutes = st.one_of(
        st.integers(0, 6 * 24 * 60 - 1),
        # close to a quarter hour, where zones' hours and days begin
        st.integers(0, 6 * 24 * 4 - 1)
        .map(lambda q: q * 15)
        .flatmap(lambda m: st.integers(max(0, m - 2), m + 2)),
    )
    rows = draw(
        st.lists(
            st.tuples(
                minutes,
                st.sampled_from(list(Source)),
                st.sampled_from(list(Status)),
                st.sampled_from(["INR", "INR", "USD"]),
                st.sampled_from(["91game", "caroussel", None]),
                st.sampled_from(list(Direction)),
                st.integers(0, 100_000),
            ),
            max_size=40,
        )
    )
    txns = [
        txn(
            base + timedelta(minutes=m, seconds=7),
            source=source,
            status=status,
            currency=currency,
            project=project,
            direction=direction,
            amount=str(Decimal(cents) / 100),
        )
        for m, source, status, currency, project, direction, cents in rows
    ]
    first = anchor + timedelta(days=draw(st.integers(-2, 2)))
    period = Period(
        first, first + timedelta(days=draw(st.integers(0, 3))), draw(st.sampled_from(ZONES))
    )
    return {
        "txns": txns,
        "grid": draw(st.sampled_from(GRIDS)),
        "period": period,
        "granularity": draw(st.sampled_from([None, "hour", "day", "week"])),
        "group_by": tuple(
            draw(st.lists(st.sampled_from(M.GROUP_COLUMNS), unique=True, max_size=2))
        ),
        "filters": TransactionFilters(
            source=draw(st.sampled_from([None, None, Source.VIMA])),
            status=draw(st.sampled_from([None, None, Status.SUCCESS])),
        ),
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios())
def test_hybrid_equals_a_direct_group_by(engine: Engine, scenario: dict[str, Any]) -> None:
    reseed(engine, scenario["txns"], scenario["grid"])
    period, granularity = scenario["period"], scenario["granularity"]
    group_by, filters = scenario["group_by"], scenario["filters"]
    with engine.connect() as conn:
        got = M.aggregate(conn, period, granularity, filters, scenario["grid"], group_by)
        assert as_map(got, group_by) == direct(conn, period, granularity, group_by, filters)
        if granularity is not None:
            assert {r.bucket for r in got} <= set(M.bucket_starts(period, granularity))
        current, previous = M.aggregate_with_previous(
            conn, period, filters, scenario["grid"], group_by
        )
        assert as_map(current, group_by) == direct(conn, period, None, group_by, filters)
        before = period.previous()
        assert as_map(previous, group_by) == direct(conn, before, None, group_by, filters)
