"""Schedules: which partitions a tick asks for (a tick while a run goes queues behind it: the
source's pool, not the schedule, keeps runs of one source apart)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    RunRequest,
    build_schedule_context,
    instance_for_test,
)
from dagster._core.test_utils import create_run_for_test

from hub_pipelines.definitions import defs
from hub_pipelines.defs.vima.schedules import vima_schedules
from hub_pipelines.schedules import late_update_partition_keys, recent_partition_keys


@pytest.mark.parametrize(
    ("now", "timezone", "expected"),
    [
        (datetime(2026, 3, 10, 12, 0, tzinfo=UTC), "UTC", ["2026-03-10"]),
        (datetime(2026, 3, 10, 1, 30, tzinfo=UTC), "UTC", ["2026-03-09", "2026-03-10"]),
        (datetime(2026, 3, 10, 2, 59, tzinfo=UTC), "UTC", ["2026-03-09", "2026-03-10"]),
        (datetime(2026, 3, 10, 3, 0, tzinfo=UTC), "UTC", ["2026-03-10"]),
        # 20:00 UTC is 01:30 on the 11th in India: the Indian day has just begun
        (datetime(2026, 3, 10, 20, 0, tzinfo=UTC), "Asia/Kolkata", ["2026-03-10", "2026-03-11"]),
        (datetime(2026, 1, 1, 0, 5, tzinfo=UTC), "UTC", ["2025-12-31", "2026-01-01"]),
    ],
)
def test_recent_partition_keys(now: datetime, timezone: str, expected: list[str]) -> None:
    assert recent_partition_keys(now, timezone) == expected


def test_late_update_keys_are_the_three_previous_days() -> None:
    now = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert late_update_partition_keys(now, "UTC") == ["2026-02-26", "2026-02-27", "2026-02-28"]


REPOSITORY = defs.get_repository_def()
"""The code location's definitions: a tick's partitioned requests are resolved against them."""


def _schedule(name: str):
    return next(s for s in vima_schedules if s.name == name)


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as test_instance:
        yield test_instance


def test_frequent_tick_requests_recent_partitions_even_while_a_run_goes(
    instance: DagsterInstance,
) -> None:
    schedule = _schedule("vima_every_5_minutes")
    assert schedule.cron_schedule == "*/5 * * * *"
    when = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)

    def tick(at: datetime) -> list[RunRequest]:
        # evaluated as the daemon does (`evaluate_tick` checks what Dagster requires of a tick)
        context = build_schedule_context(
            instance=instance, scheduled_execution_time=at, repository_def=REPOSITORY
        )
        data = schedule.evaluate_tick(context)
        assert data.skip_message is None
        return list(data.run_requests or [])

    requests = tick(when)
    assert [r.partition_key for r in requests] == ["2026-03-09", "2026-03-10"]
    keys = [r.run_key for r in requests]
    assert all(keys) and len(set(keys)) == 2  # two requests in one tick: each its own key
    run = create_run_for_test(instance, job_name="vima_sync", status=DagsterRunStatus.STARTED)
    again = tick(when)
    assert [r.partition_key for r in again] == ["2026-03-09", "2026-03-10"]  # queued behind it
    instance.delete_run(run.run_id)
    later = tick(datetime(2026, 3, 10, 1, 5, tzinfo=UTC))
    assert not {r.run_key for r in later} & set(keys)  # the next tick is no repeat to skip
    assert [r.partition_key for r in tick(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))] == [
        "2026-03-10"
    ]


def test_late_update_tick_has_stable_run_keys(instance: DagsterInstance) -> None:
    schedule = _schedule("vima_late_updates")
    when = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)
    context = build_schedule_context(instance=instance, scheduled_execution_time=when)
    requests = schedule(context)
    assert [r.partition_key for r in requests] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert [r.run_key for r in requests] == [
        "late-2026-03-07-2026-03-10",
        "late-2026-03-08-2026-03-10",
        "late-2026-03-09-2026-03-10",
    ]
