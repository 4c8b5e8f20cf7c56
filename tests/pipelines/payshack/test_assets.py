"""PayShack assets materialized in-process: real Chromium, sandbox dashboard, PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import Engine, text

from hub_pipelines.defs.payshack.assets import READ_COMPLETE, payshack_assets
from hub_pipelines.resources import PayShackResource, RedisResource, WarehouseResource
from hub_pipelines.sources.payshack.normalize import normalize_row
from tests.pipelines.conftest import SCENARIO_START
from tests.pipelines.payshack.test_browser import world_rows

DAY = SCENARIO_START.isoformat()


def _materialize(handle: Any, reader: str = "api"):
    return materialize(
        [payshack_assets],
        partition_key=DAY,
        resources={
            "warehouse": WarehouseResource(),
            "redis": RedisResource(),
            "payshack": PayShackResource(
                base_url=handle.payshack_url, reader=reader, timeout_ms=15_000
            ),
        },
        instance=DagsterInstance.ephemeral(),
    )


def _metadata(result: Any, asset: str) -> dict[str, Any]:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _stored(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT source_id, data_hash FROM transactions WHERE source = 'payshack'")
        ).all()
    return dict(rows)


def _expected(handle: Any) -> dict[str, str]:
    from hub_core.settings import get_settings

    mapping = get_settings().hub_client_project_map
    return {
        f"{kind}:{txn_id}": normalize_row(row, kind, mapping).data_hash
        for kind in ("payin", "payout")
        for txn_id, row in world_rows(handle, kind).items()
    }


@pytest.mark.parametrize("reader", ["api", "dom"])
def test_day_lands_exactly_with_one_login_and_reruns_write_nothing(
    sandbox,
    clean_db,
    redis_client,
    reader: str,
) -> None:
    first = _materialize(sandbox, reader)
    assert first.success
    assert _stored(clean_db) == _expected(sandbox)
    payins = _metadata(first, "payshack_payins")
    assert payins["reader"] == reader and payins["session"] == "fresh login"
    assert payins["rows_new"] == len(world_rows(sandbox, "payin")) and payins["complete"]
    normalized = _metadata(first, "payshack_transactions")
    assert normalized["rows_new"] == len(_expected(sandbox))
    assert sum(normalized["by_status"].values()) == normalized["normalized"]

    second = _materialize(sandbox, reader)
    assert _metadata(second, "payshack_payouts")["session"] == "reused"
    again = _metadata(second, "payshack_transactions")
    assert (again["rows_new"], again["rows_updated"]) == (0, 0)
    assert sandbox.stats()["payshack"]["logins"] == 1
    with clean_db.connect() as conn:
        status, records = conn.execute(
            text("SELECT status, records_synced FROM sync_state WHERE source = 'payshack'")
        ).one()
    assert status == "idle" and records == len(_expected(sandbox))


def test_late_status_change_reaches_transactions(sandbox, clean_db, redis_client) -> None:
    assert _materialize(sandbox).success
    before = _stored(clean_db)
    sandbox.world.apply_late_changes()
    result = _materialize(sandbox)
    after = _stored(clean_db)
    assert after == _expected(sandbox)
    changed = {k for k in after if before.get(k) != after[k]}
    assert _metadata(result, "payshack_transactions")["rows_updated"] == len(changed)


def test_wrong_password_fails_the_run_and_marks_sync_failed(
    sandbox,
    clean_db,
    redis_client,
    monkeypatch,
) -> None:
    from hub_core.settings import get_settings

    monkeypatch.setenv("PAYSHACK_PASSWORD", "not-the-password-XYZ")
    get_settings.cache_clear()
    result = materialize(
        [payshack_assets],
        selection=["payshack_payins", "payshack_payouts"],
        partition_key=DAY,
        resources={
            "warehouse": WarehouseResource(),
            "redis": RedisResource(),
            "payshack": PayShackResource(base_url=sandbox.payshack_url, timeout_ms=10_000),
        },
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    get_settings.cache_clear()
    assert not result.success
    with clean_db.connect() as conn:
        status, error = conn.execute(
            text("SELECT status, error_message FROM sync_state WHERE source = 'payshack'")
        ).one()
    assert status == "failed"
    assert "Invalid email or password" in error
    assert "not-the-password-XYZ" not in error


def _checks(result: Any) -> dict[str, bool]:
    return {
        e.asset_key.path[-1]: e.passed
        for e in result.get_asset_check_evaluations()
        if e.check_name == READ_COMPLETE
    }


def test_a_day_that_kept_moving_fails_its_check_until_a_sync_finishes_it(
    sandbox, clean_db, redis_client
) -> None:
    from dagster import SkipReason, build_sensor_context, instance_for_test

    from hub_core.queries.sync import incomplete_partitions
    from hub_core.types import Source
    from hub_pipelines.sensors import finish_incomplete_days

    sandbox.knobs.update(insert_every=1, insert_count=2)  # new pay-ins at every page read
    moving = _materialize(sandbox)
    sandbox.knobs.update(insert_every=0)
    assert moving.success  # what was read is stored...
    assert _checks(moving) == {"payshack_payins": False, "payshack_payouts": True}  # ...flagged
    assert _metadata(moving, "payshack_payins")["complete"] is False
    with clean_db.connect() as conn:
        pending = incomplete_partitions(conn)
    assert list(pending[Source.PAYSHACK]) == [DAY] and not pending[Source.VIMA]

    with instance_for_test() as instance:
        context = build_sensor_context(
            instance=instance, resources={"warehouse": WarehouseResource()}
        )
        (request,) = finish_incomplete_days(context).run_requests
        assert (request.job_name, request.partition_key) == ("payshack_sync", DAY)

        finished = _materialize(sandbox)  # the list stands still now
        assert _checks(finished) == {"payshack_payins": True, "payshack_payouts": True}
        assert _stored(clean_db) == _expected(sandbox)  # nothing lost, nothing twice
        with clean_db.connect() as conn:
            assert not incomplete_partitions(conn)[Source.PAYSHACK]
        context = build_sensor_context(
            instance=instance, resources={"warehouse": WarehouseResource()}
        )
        assert isinstance(finish_incomplete_days(context), SkipReason)
