"""Vima assets materialized in-process against real PostgreSQL and the sandbox over HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import Engine, text

from hub_core.money import minor_to_major
from hub_core.settings import get_settings
from hub_pipelines.defs.vima.assets import vima_assets
from hub_pipelines.resources import RedisResource, VimaResource, WarehouseResource
from hub_pipelines.sources.vima.client import RetryPolicy, VimaClient
from hub_pipelines.sources.vima.ingest import ingest_partition
from hub_pipelines.windows import PartitionWindow
from tests.pipelines.conftest import SCENARIO_START

DAY = SCENARIO_START.isoformat()


def _resources(handle: Any) -> dict[str, Any]:
    return {
        "warehouse": WarehouseResource(),
        "redis": RedisResource(),
        "vima": VimaResource(base_url=handle.vima_url, timeout_seconds=5),
    }


def _materialize(handle: Any, instance: DagsterInstance | None = None):
    return materialize(
        [vima_assets],
        partition_key=DAY,
        resources=_resources(handle),
        instance=instance or DagsterInstance.ephemeral(),
    )


def _metadata(result: Any, asset: str) -> dict[str, Any]:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _expected(handle: Any) -> dict[str, tuple[Decimal, str]]:
    mapping = {"success": "success", "fail": "failed"}
    expected = {}
    for op in handle.world.vima_operations():
        if not op["operation_created_at"].startswith(DAY):
            continue
        amount = op["create_params"]["params"]["payment"].get("amount")
        if amount is None:  # malformed on purpose: never a transaction
            continue
        status = mapping.get(op["current_status"], "pending")
        expected[op["operation_id"]] = (minor_to_major(amount["value"], amount["currency"]), status)
    return expected


def _stored(engine: Engine) -> dict[str, tuple[Decimal, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT source_id, amount, status FROM transactions WHERE source = 'vima'")
        ).all()
    return {source_id: (amount, status) for source_id, amount, status in rows}


def test_one_day_lands_exactly_and_a_rerun_writes_nothing(sandbox, clean_db, redis_client) -> None:
    first = _materialize(sandbox)
    assert first.success
    expected = _expected(sandbox)
    assert _stored(clean_db) == expected
    raw = _metadata(first, "vima_operations")
    assert raw["rows_new"] == len(expected) and raw["pages"] >= 3
    normalized = _metadata(first, "vima_transactions")
    assert normalized["rows_new"] == len(expected)
    assert sum(normalized["by_status"].values()) == len(expected)
    assert "| source_id |" in normalized["preview"]
    assert int(redis_client.get("hub:data_version")) == 1

    second = _materialize(sandbox)
    assert _metadata(second, "vima_operations")["rows_new"] == 0
    again = _metadata(second, "vima_transactions")
    assert (again["rows_new"], again["rows_updated"]) == (0, 0)
    assert int(redis_client.get("hub:data_version")) == 1  # nothing written, no bump
    with clean_db.connect() as conn:
        state = conn.execute(text("SELECT status, records_synced FROM sync_state")).one()
    assert state.status == "idle"


class _Killed(Exception):
    pass


class _DyingClient(VimaClient):
    """Dies (as a killed process would) after `pages` pages."""

    def __init__(self, *args: Any, pages: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages_left = pages

    def get_operations(self, **kwargs: Any) -> list[dict[str, Any]]:
        if kwargs.get("count") == 1:  # the watermark query
            return super().get_operations(**kwargs)
        if self.pages_left == 0:
            raise _Killed
        self.pages_left -= 1
        return super().get_operations(**kwargs)


def test_interrupted_run_resumes_with_no_gap_and_no_duplicate(sandbox, clean_db) -> None:
    window = PartitionWindow.for_key(DAY, "UTC")
    key = get_settings().vima_api_key.get_secret_value()
    dying = _DyingClient(sandbox.vima_url, key, pages=2)
    with pytest.raises(_Killed):
        ingest_partition(dying, clean_db, window)
    with clean_db.connect() as conn:
        landed = conn.execute(text("SELECT count(*) FROM raw_vima_operations")).scalar()
        page = conn.execute(
            text("SELECT page FROM ingest_checkpoints WHERE stream = 'create'")
        ).scalar()
    assert landed == 200 and page == 2

    with VimaClient(sandbox.vima_url, key) as client:
        report = ingest_partition(client, clean_db, window)
    assert report.rows.new == len(_expected(sandbox)) - 200
    assert _materialize(sandbox).success
    assert _stored(clean_db) == _expected(sandbox)


def test_late_status_change_arrives_through_the_update_cursor(sandbox, clean_db) -> None:
    assert _materialize(sandbox).success
    before = _stored(clean_db)
    assert sandbox.world.apply_late_changes() > 0
    result = _materialize(sandbox)
    after = _stored(clean_db)
    assert after == _expected(sandbox)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed, "a late change of this day should change a status"
    assert _metadata(result, "vima_transactions")["rows_updated"] == len(changed)


def test_malformed_operation_is_kept_raw_and_reported(sandbox, clean_db) -> None:
    template = next(
        op for op in sandbox.world.vima_operations() if op["operation_created_at"].startswith(DAY)
    )
    broken = {**template, "operation_id": "0", "operation_create_id": "0"}
    broken["create_params"] = {"method": "payment.in", "params": {"payment": {}}}
    added = sandbox.world.add_vima_operation(broken)
    result = _materialize(sandbox)
    assert result.success
    metadata = _metadata(result, "vima_transactions")
    assert metadata["rejected"] == 1
    (reason,) = metadata["rejected_examples"]
    assert (
        reason
        == f"operation {added['operation_id']}: create_params.params.payment.amount.value: missing"
    )
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["no_rejected_rows"].passed is False
    assert checks["no_unknown_statuses"].passed is True
    stored = _stored(clean_db)
    assert added["operation_id"] not in stored
    assert stored == _expected(sandbox)


def test_failure_marks_sync_failed_without_the_key(small_scenario, clean_db, monkeypatch) -> None:
    from tests.pipelines.conftest import start_sandbox

    with start_sandbox(small_scenario, faults="500:1") as handle:
        resources = _resources(handle)
        resources["vima"] = VimaResource(
            base_url=handle.vima_url, max_attempts=2, max_retry_seconds=2
        )
        result = materialize(
            [vima_assets],
            selection=["vima_operations"],
            partition_key=DAY,
            resources=resources,
            instance=DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    assert not result.success
    with clean_db.connect() as conn:
        status, error = conn.execute(text("SELECT status, error_message FROM sync_state")).one()
    assert status == "failed"
    assert "VimaAPIError" in error and "apikey=***" in error
    assert get_settings().vima_api_key.get_secret_value() not in error


def test_retry_policy_is_bounded() -> None:
    assert RetryPolicy().max_attempts >= 3


def test_partitions_keep_their_own_checkpoints(sandbox, clean_db, redis_client) -> None:
    for day in ("2026-01-02", "2026-01-01"):  # a backfill in any order
        result = materialize(
            [vima_assets],
            partition_key=day,
            resources=_resources(sandbox),
            instance=DagsterInstance.ephemeral(),
        )
        assert result.success
    with clean_db.connect() as conn:
        per_day = dict(
            conn.execute(
                text(
                    "SELECT created_at::date::text, count(*) FROM transactions "
                    "WHERE source = 'vima' GROUP BY 1"
                )
            ).all()
        )
        checkpoints = conn.execute(
            text("SELECT partition_key, stream FROM ingest_checkpoints ORDER BY 1, 2")
        ).all()
    for day in ("2026-01-01", "2026-01-02"):
        ops = [
            o for o in sandbox.world.vima_operations() if o["operation_created_at"].startswith(day)
        ]
        assert per_day[day] == len(ops)
    assert [tuple(c) for c in checkpoints] == [
        ("2026-01-01", "create"),
        ("2026-01-01", "normalized"),
        ("2026-01-01", "update"),
        ("2026-01-02", "create"),
        ("2026-01-02", "normalized"),
        ("2026-01-02", "update"),
    ]


def test_transaction_checks_pass_and_catch_a_duplicate(sandbox, clean_db, redis_client) -> None:
    from hub_pipelines.defs.vima.assets import vima_transaction_checks as vima_checks

    def run_checks() -> dict[str, bool]:
        result = materialize(
            [vima_assets, *vima_checks],
            partition_key=DAY,
            resources=_resources(sandbox),
            instance=DagsterInstance.ephemeral(),
        )
        return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}

    checks = run_checks()
    assert checks["no_duplicate_source_ids"] and checks["amounts_non_negative"]
    assert checks["fresh_within_30_minutes"]
    with clean_db.begin() as conn:  # the same operation again under another creation time
        conn.execute(
            text(
                "INSERT INTO transactions SELECT gen_random_uuid(), source, source_id, "
                "reference_id, client_operation_id, order_id, match_key, project, merchant_id, "
                "direction, amount, paid_amount, currency, fee, status, original_status, user_id, "
                "user_email, user_phone, user_name, country, utr, payment_method, payment_product, "
                "created_at + interval '1 second', updated_at, completed_at, raw_data, data_hash, "
                "ingested_at FROM transactions WHERE source = 'vima' LIMIT 1"
            )
        )
    assert run_checks()["no_duplicate_source_ids"] is False
