"""Sensors: affected days, run keys, cursors; failed syncs recorded in sync_state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from dagster import (
    AssetMaterialization,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    build_sensor_context,
    instance_for_test,
    materialize,
)
from sqlalchemy import text

from hub_core.types import Source, SyncStatus
from hub_pipelines.defs.vima.assets import vima_assets
from hub_pipelines.resources import RedisResource, VimaResource, WarehouseResource
from hub_pipelines.sensors import (
    affected_days,
    reconcile_changed_days,
    sync_state_follows_runs,
)
from hub_pipelines.warehouse.locks import partition_lock
from hub_pipelines.warehouse.sync import fail_dead_sync, record_partition_sync, set_sync_state
from tests.pipelines.conftest import start_sandbox

VALID = {f"2026-02-0{d}" for d in range(1, 8)}


def test_affected_days_include_neighbours_within_partitions() -> None:
    assert affected_days(["2026-02-03"], 6, VALID) == ["2026-02-02", "2026-02-03", "2026-02-04"]
    assert affected_days(["2026-02-01", "2026-02-02"], 6, VALID) == [
        "2026-02-01",
        "2026-02-02",
        "2026-02-03",
    ]
    assert affected_days(["2026-02-07"], 6, VALID) == ["2026-02-06", "2026-02-07"]
    assert affected_days(["2026-02-04"], 0, VALID) == ["2026-02-04"]
    assert affected_days(["2026-02-04"], 24, VALID) == ["2026-02-03", "2026-02-04", "2026-02-05"]
    # a margin over a day reaches two days on each side
    assert affected_days(["2026-02-04"], 30, VALID) == [
        "2026-02-02",
        "2026-02-03",
        "2026-02-04",
        "2026-02-05",
        "2026-02-06",
    ]


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as test_instance:
        yield test_instance


def _materialized(instance: DagsterInstance, asset: str, partition: str) -> None:
    instance.report_runless_asset_event(AssetMaterialization(asset_key=asset, partition=partition))


def _landed(instance: DagsterInstance, engine, source: Source, *partitions: str) -> None:
    """A source's sync run of each partition: its sync recorded, its normalized asset
    materialized."""
    for partition in partitions:
        with engine.begin() as conn:
            record_partition_sync(conn, source, partition, datetime.now(UTC), True, 1)
        _materialized(instance, f"{source.value}_transactions", partition)


def _tick(instance: DagsterInstance, cursor: str | None = None):
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()}
    )
    return reconcile_changed_days(context)


def test_sensor_requests_each_affected_day_once(instance: DagsterInstance, clean_db) -> None:
    assert _tick(instance).run_requests == []
    days = [f"2026-02-0{d}" for d in range(1, 8)]
    _landed(instance, clean_db, Source.PAYSHACK, *days)
    first = _tick(instance)
    assert first.run_requests == []  # vima has reached none of them
    _landed(instance, clean_db, Source.VIMA, *days[:5])
    _materialized(instance, "vima_operations", "2026-02-10")  # raw: not a trigger
    result = _tick(instance, first.cursor)
    keys = [r.partition_key for r in result.run_requests]
    # 02-01 reads 01-31 for its margin and 02-05 reads 02-06: a source has not reached them
    assert keys == ["2026-02-02", "2026-02-03", "2026-02-04"]
    assert len({r.run_key for r in result.run_requests}) == 3
    cursor = result.cursor

    again = _tick(instance, cursor)
    assert again.run_requests == [] and again.cursor == cursor

    _landed(instance, clean_db, Source.VIMA, "2026-02-06")  # the lagging source catches up
    later = _tick(instance, cursor)
    # (02-06 reads 02-07, which vima has not reached yet)
    assert [r.partition_key for r in later.run_requests] == ["2026-02-05"]
    assert not {r.run_key for r in later.run_requests} & {r.run_key for r in result.run_requests}

    _landed(instance, clean_db, Source.PAYSHACK, "2026-02-04")  # a late-update pass
    assert [r.partition_key for r in _tick(instance, later.cursor).run_requests] == [
        "2026-02-03",
        "2026-02-04",
        "2026-02-05",
    ]


def test_a_failing_sync_records_its_own_error(
    small_scenario, clean_db, redis_client, instance
) -> None:
    """The one place a failed sync is recorded: the run itself (`tracked_sync`), at once."""
    with start_sandbox(small_scenario, faults="503:1") as handle:
        result = materialize(
            [vima_assets],
            selection=["vima_operations"],
            partition_key="2026-01-01",
            resources={
                "warehouse": WarehouseResource(),
                "redis": RedisResource(),
                "vima": VimaResource(base_url=handle.vima_url, max_attempts=1),
            },
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    with clean_db.connect() as conn:
        status, error, run_id = conn.execute(
            text("SELECT status, error_message, run_id FROM sync_state WHERE source = 'vima'")
        ).one()
    assert (status, run_id) == ("failed", result.run_id)
    assert "VimaAPIError" in error and "\n" not in error


def test_a_day_with_a_queued_reconciliation_is_not_queued_again(
    instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch, clean_db
) -> None:
    """A waiting run of a day suppresses another one. A QUEUED run needs a code-location
    origin to be stored, so the waiting status is NOT_STARTED here; the query is the same."""
    from dagster import DagsterRunStatus
    from dagster._core.storage.dagster_run import DagsterRun

    from hub_pipelines import sensors
    from hub_pipelines.jobs import reconcile_job

    monkeypatch.setattr(sensors, "WAITING_STATUSES", [DagsterRunStatus.NOT_STARTED])
    instance.add_run(
        DagsterRun(
            job_name=reconcile_job.name,
            status=DagsterRunStatus.NOT_STARTED,
            tags={"dagster/partition": "2026-02-03"},
        )
    )
    days = ("2026-02-01", "2026-02-02", "2026-02-03", "2026-02-04", "2026-02-05")
    _landed(instance, clean_db, Source.PAYSHACK, *days)
    _landed(instance, clean_db, Source.VIMA, *days)
    result = _tick(instance)  # (02-01 waits for 01-31, 02-05 for 02-06)
    assert [r.partition_key for r in result.run_requests] == ["2026-02-02", "2026-02-04"]


def _state(engine) -> tuple[str, str | None, str | None]:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT status, run_id, error_message FROM sync_state WHERE source = 'vima'")
        ).one()


def _running(engine, run_id: str, partition: str = "2026-01-02") -> None:
    with engine.begin() as conn:
        set_sync_state(
            conn, Source.VIMA, SyncStatus.RUNNING, run_id=run_id, partition_key=partition
        )


def test_a_dead_sync_is_marked_failed_but_a_live_one_is_not(clean_db) -> None:
    _running(clean_db, "dead-run")
    with partition_lock(clean_db, Source.VIMA, "2026-01-02"):  # a live run holds its lock
        assert not fail_dead_sync(clean_db, Source.VIMA, "dead-run", "2026-01-02", "gone")
    assert _state(clean_db)[0] == "running"
    assert fail_dead_sync(clean_db, Source.VIMA, "dead-run", "2026-01-02", "gone")
    assert _state(clean_db) == ("failed", "dead-run", "gone")
    # another run's state is never touched
    _running(clean_db, "next-run")
    assert not fail_dead_sync(clean_db, Source.VIMA, "dead-run", "2026-01-02", "gone")
    assert _state(clean_db)[:2] == ("running", "next-run")


def test_sync_state_follows_dagsters_runs(instance: DagsterInstance, clean_db) -> None:
    context = build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
    alive = instance.add_run(
        DagsterRun(job_name="vima_sync", run_id="alive-run", status=DagsterRunStatus.STARTED)
    )
    _running(clean_db, alive.run_id)
    sync_state_follows_runs(context)
    assert _state(clean_db)[0] == "running"  # Dagster still runs it

    instance.report_run_failed(alive, "killed")  # what the code server reports for a killed run
    sync_state_follows_runs(context)
    status, run_id, error = _state(clean_db)
    assert (status, run_id) == ("failed", "alive-run") and "failure" in error

    _running(clean_db, "cli-run")  # a run of another instance, dead: its lock is free
    sync_state_follows_runs(context)
    assert _state(clean_db)[:2] == ("failed", "cli-run")
