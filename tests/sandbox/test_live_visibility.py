"""Live mode serves only what exists: no row created after the request, rows appear as their
creation time passes, and both Vima cursors stay gap-free and repeat-free while they do.

Over real HTTP; the world's clock is injected (`World(scenario, clock=...)`), so "later" is a
clock step, never a sleep. The scenario ends today; the clock stands at noon of today.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_sandbox.scenario import LiveFeed, Scenario, generate
from hub_sandbox.server import SandboxHandle, running_sandbox
from hub_sandbox.world import World

from .test_payshack_server import list_all, list_page, session
from .test_vima_server import client, fetch

KINDS = ("payin", "payout")
CURSORS = ("operation_create_id", "operation_update_id")


class Clock:
    """A settable clock for a `World`: `clock()` is the current time, `advance` moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def today() -> datetime:
    """00:00 UTC of the real today."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def last_day(scenario: Scenario) -> datetime:
    """00:00 UTC of the scenario's last day ("today" for the injected clocks)."""
    day = scenario.start + timedelta(days=scenario.days - 1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture(scope="module")
def today_scenario() -> Scenario:
    """Yesterday and today (UTC), small."""
    return generate(seed=77, start=today().date() - timedelta(days=1), days=2, per_day=300)


@pytest.fixture
def live(today_scenario: Scenario) -> Iterator[tuple[World, Clock, LiveFeed]]:
    """A live world at noon of today: its thread ticked once, and then only when told."""
    clock = Clock(last_day(today_scenario) + timedelta(hours=12))
    world = World(today_scenario, clock=clock)
    feed = today_scenario.live_feed()
    world.start_live(feed, interval=3600)
    try:
        deadline = time.monotonic() + 5
        while world.live_ticks < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert world.live_ticks == 1 and world.live_errors == 0
        yield world, clock, feed
    finally:
        world.stop_live()


def vima_created(op: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(op["operation_created_at"])


def payshack_created(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["createdAt"])


def page_from(http: httpx.Client, field: str, position: int, count: int = 37) -> list[dict]:
    """Follow the cursor `field` from `position` until the empty array."""
    out: list[dict[str, Any]] = []
    while page := fetch(http, count=count, **{f"from_{field}": position}):
        out.extend(page)
        position = int(page[-1][field])
    return out


def last_id(ops: list[dict[str, Any]], field: str, default: int = 0) -> int:
    return int(ops[-1][field]) if ops else default


def payshack_everything(handle: SandboxHandle) -> dict[str, list[dict[str, Any]]]:
    """Every row of both lists, paged newest first, checked against `totalRecords`."""
    out = {}
    with session(handle) as http:
        for kind in KINDS:
            rows = list_all(http, kind, limit=50)
            assert list_page(http, kind, limit=1)["totalRecords"] == len(rows)
            out[kind] = rows
    return out


def scenario_rows(scenario: Scenario) -> dict[str, list[dict[str, Any]]]:
    return {"payin": scenario.payshack_payins, "payout": scenario.payshack_payouts}


def test_nothing_created_after_the_request_is_served(credentials: dict[str, str]) -> None:
    """The wall clock, as the demo runs: a scenario ending tomorrow, so some rows are future."""
    start = today().date() - timedelta(days=1)
    scenario = generate(seed=78, start=start, days=3, per_day=150)
    with running_sandbox(scenario, **credentials, live=True, live_interval=0.5) as handle:
        world = handle.world
        assert world.held_back() > 0
        with client(handle) as http:
            for field in CURSORS:
                ops = page_from(http, field, 0)
                served_by = datetime.now(UTC)
                assert ops and all(vima_created(op) <= served_by for op in ops)
            tomorrow = last_day(scenario).date().isoformat()
            assert fetch(http, date=tomorrow) == []
        rows = payshack_everything(handle)
        served_by = datetime.now(UTC)
        for kind in KINDS:
            assert rows[kind] and all(payshack_created(row) <= served_by for row in rows[kind])
        future = [row for row in scenario.payshack_payins if payshack_created(row) > served_by]
        assert future
        with session(handle) as http:
            found = list_page(http, "payin", transactionId=future[-1]["txnId"])
            assert found["transactions"] == [] and found["totalRecords"] == 0
            found = list_page(http, "payin", orderId=future[-1]["orderId"])
            assert found["transactions"] == [] and found["totalRecords"] == 0
        assert world.payshack_row("payin", future[-1]["txnId"]) is None
        assert world.held_back() > 0  # tomorrow's rows, at least
    assert world.live_errors == 0


def test_rows_appear_as_time_passes_once_and_after_the_cursors(
    live: tuple[World, Clock, LiveFeed], credentials: dict[str, str], today_scenario: Scenario
) -> None:
    world, clock, feed = live
    before_at = clock.now
    with running_sandbox(world, **credentials) as handle, client(handle) as http:
        before = {field: page_from(http, field, 0) for field in CURSORS}
        rows_before = payshack_everything(handle)
        after_at = clock.advance(hours=3)
        assert world.live_tick(feed)["vima_operations"] > 0  # the feed's 3 hours, interleaved
        after = {field: page_from(http, field, last_id(before[field], field)) for field in CURSORS}
        rows_after = payshack_everything(handle)
        everything = {op["operation_id"] for op in page_from(http, CURSORS[1], 0)}

    # Vima by create id: every operation once, nothing created after its page's time
    by_create = before[CURSORS[0]] + after[CURSORS[0]]
    ids = [op["operation_id"] for op in by_create]
    assert len(ids) == len(set(ids)) == world.vima_count()
    assert all(vima_created(op) <= before_at for op in before[CURSORS[0]])
    assert all(vima_created(op) <= after_at for op in after[CURSORS[0]])
    appeared = {
        op["operation_id"]
        for op in today_scenario.vima_operations
        if before_at < vima_created(op) <= after_at
    }
    assert appeared and appeared <= {op["operation_id"] for op in after[CURSORS[0]]}
    future = {op["operation_id"] for op in today_scenario.vima_operations} - set(ids)
    assert future and all(
        vima_created(op) > after_at
        for op in today_scenario.vima_operations
        if op["operation_id"] in future
    )
    created_ids = [int(op["operation_create_id"]) for op in by_create]
    assert created_ids == sorted(created_ids)

    # Vima by update id: every operation; one seen twice only when it changed in between
    by_update = before[CURSORS[1]] + after[CURSORS[1]]
    assert {op["operation_id"] for op in by_update} == set(ids) == everything
    seen_before = {op["operation_id"] for op in before[CURSORS[1]]}
    for op in after[CURSORS[1]]:
        if op["operation_id"] in seen_before:
            assert before_at < datetime.fromisoformat(op["operation_modified_at"]) <= after_at
    assert all(vima_created(op) <= after_at for op in by_update)

    # PayShack: nothing lost, the new rows are those created in between
    expected = scenario_rows(today_scenario)
    for kind in KINDS:
        old = {row["txnId"] for row in rows_before[kind]}
        new = {row["txnId"]: row for row in rows_after[kind]}
        assert old <= set(new)
        assert all(payshack_created(row) <= before_at for row in rows_before[kind])
        assert all(before_at < payshack_created(new[txn]) <= after_at for txn in set(new) - old)
        due = {row["txnId"] for row in expected[kind] if payshack_created(row) <= after_at}
        assert due <= set(new)
        assert not ({row["txnId"] for row in expected[kind]} - due) & set(new)


def test_a_late_change_shows_only_once_its_time_has_come(
    credentials: dict[str, str], today_scenario: Scenario
) -> None:
    vima_change = next(c for c in today_scenario.late_changes if c.source == "vima")
    payshack_change = next(c for c in today_scenario.late_changes if c.source == "payshack")
    for change in (vima_change, payshack_change):
        clock = Clock(change.at - timedelta(seconds=1))
        world = World(today_scenario, clock=clock)
        world.hold_back_future()
        with running_sandbox(world, **credentials) as handle:
            if change.source == "vima":
                with client(handle) as http:
                    ops = page_from(http, CURSORS[1], 0)
                    old = next(op for op in ops if op["operation_id"] == change.key)
                    assert any(old.get(name) != value for name, value in change.changes.items())
                    top = last_id(ops, CURSORS[1])
                    clock.advance(seconds=1)
                    moved = page_from(http, CURSORS[1], top)
                assert change.key in [op["operation_id"] for op in moved]
                state = next(op for op in moved if op["operation_id"] == change.key)
            else:
                kind = change.kind or "payin"
                with session(handle) as http:
                    row = list_page(http, kind, transactionId=change.key)["transactions"][0]
                    assert any(row[name] != value for name, value in change.changes.items())
                    clock.advance(seconds=1)
                    state = list_page(http, kind, transactionId=change.key)["transactions"][0]
            assert all(state[name] == value for name, value in change.changes.items())
        assert world.unmatched_changes == 0


def test_rows_the_insert_knob_dates_later_wait_for_their_time(
    credentials: dict[str, str], today_scenario: Scenario
) -> None:
    clock = Clock(last_day(today_scenario) + timedelta(hours=12))  # 17:30 IST
    world = World(today_scenario, clock=clock)
    held = world.hold_back_future()
    ist_today = last_day(today_scenario).date()
    ist_tomorrow = (ist_today + timedelta(days=1)).isoformat()
    knobs = {"insert_every": 1, "insert_count": 3}
    with (
        running_sandbox(world, **credentials, knobs=knobs) as handle,
        session(handle) as http,
    ):
        later = list_page(http, "payin", dateFrom=ist_tomorrow, dateTo=ist_tomorrow)
        assert later["transactions"] == [] and later["totalRecords"] == 0
        assert world.held_back() == held + 3
        rows = list_all(http, "payin", dateFrom=ist_today.isoformat())
    assert handle.stats()["payshack"]["rows_inserted"] > 3
    assert rows and all(payshack_created(row) <= clock.now for row in rows)


def test_without_live_mode_the_future_is_served_as_before(
    credentials: dict[str, str], today_scenario: Scenario
) -> None:
    clock = Clock(last_day(today_scenario) + timedelta(hours=12))
    world = World(today_scenario, clock=clock)
    with running_sandbox(world, **credentials) as handle:
        with client(handle) as http:
            ops = page_from(http, CURSORS[0], 0, count=100)
        rows = payshack_everything(handle)
    assert ops == today_scenario.vima_operations
    assert any(vima_created(op) > clock.now for op in ops)
    expected = scenario_rows(today_scenario)
    for kind in KINDS:
        assert sorted(row["txnId"] for row in rows[kind]) == sorted(
            row["txnId"] for row in expected[kind]
        )
        assert any(payshack_created(row) > clock.now for row in rows[kind])
    assert world.held_back() == 0 and world.pending_late_changes() == len(
        today_scenario.late_changes
    )


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=240),  # minutes the clock moves
            st.booleans(),  # whether the live feed ticks
            st.integers(min_value=1, max_value=100),  # page size
            st.booleans(),  # whether to follow the cursors to the end, or take one page
        ),
        min_size=1,
        max_size=6,
    ),
    start_hour=st.integers(min_value=0, max_value=23),
)
def test_cursors_paged_while_time_passes_miss_nothing_and_repeat_nothing(
    credentials: dict[str, str],
    today_scenario: Scenario,
    steps: list[tuple[int, bool, int, bool]],
    start_hour: int,
) -> None:
    clock = Clock(last_day(today_scenario) + timedelta(hours=start_hour, minutes=17))
    world = World(today_scenario, clock=clock)
    feed = today_scenario.live_feed(ops_per_minute=2)
    world.hold_back_future()
    world.live_tick(feed)  # as `start_live` does: the feed's ids are above the scenario's
    positions = dict.fromkeys(CURSORS, 0)
    seen: dict[str, list[dict[str, Any]]] = {field: [] for field in CURSORS}
    with running_sandbox(world, **credentials) as handle, client(handle) as http:
        for minutes, tick, count, drain in steps:
            clock.advance(minutes=minutes)
            if tick:
                world.live_tick(feed)
            for field in CURSORS:
                if drain:
                    page = page_from(http, field, positions[field], count)
                else:
                    page = fetch(http, count=count, **{f"from_{field}": positions[field]})
                assert all(vima_created(op) <= clock.now for op in page)
                seen[field] += page
                positions[field] = last_id(page, field, positions[field])
        clock.advance(days=1)  # the end of the scenario: everything exists
        for field in CURSORS:
            seen[field] += page_from(http, field, positions[field])
    created = [op["operation_id"] for op in seen[CURSORS[0]]]
    assert len(created) == len(set(created)) == world.vima_count()
    assert set(created) >= {op["operation_id"] for op in today_scenario.vima_operations}
    updated = {op["operation_id"] for op in seen[CURSORS[1]]}
    assert updated == set(created)
    for field in CURSORS:
        values = [int(op[field]) for op in seen[field]]
        assert values == sorted(values) and len(values) == len(set(values))
