"""Landing and normalizing in one pass: the same rows as a pass from the raw table, and a
stopped pass is caught up from raw (real PostgreSQL, the sandbox over HTTP)."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import DagsterInstance, materialize
from sqlalchemy import Engine, text

from hub_core.settings import get_settings
from hub_core.types import MalformedRecord
from hub_pipelines.defs.vima.assets import vima_assets
from hub_pipelines.sources.vima import ingest
from hub_pipelines.sources.vima.client import VimaClient
from hub_pipelines.sources.vima.ingest import (
    ingest_and_normalize,
    ingest_partition,
    normalize_partition,
)
from hub_pipelines.sources.vima.normalize import normalize_operation
from hub_pipelines.sources.vima.normalizer import normalize_landed
from hub_pipelines.warehouse.rows import canonical_json
from hub_pipelines.warehouse.transactions import upsert_transactions
from hub_pipelines.windows import PartitionWindow
from tests.pipelines.vima.test_assets import (
    DAY,
    _DyingClient,
    _expected,
    _Killed,
    _resources,
    _stored,
)


def _client(handle: Any) -> VimaClient:
    return VimaClient(handle.vima_url, get_settings().vima_api_key.get_secret_value())


def _marker(engine: Engine) -> bool | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT completed FROM ingest_checkpoints WHERE stream = 'normalized'")
        ).scalar()


def _no_raw_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the one-pass path read the raw table back")

    monkeypatch.setattr(ingest, "raw_operations", fail)


def test_one_pass_gives_what_a_pass_from_raw_gives(sandbox, clean_db, monkeypatch) -> None:
    window = PartitionWindow.for_key(DAY, "UTC")
    with _client(sandbox) as client, monkeypatch.context() as patched:
        _no_raw_reads(patched)
        landed, normalized = ingest_and_normalize(client, clean_db, window)
    expected = _expected(sandbox)
    assert _stored(clean_db) == expected
    assert landed.rows.new == len(expected) and normalized.rows.new == len(expected)
    assert _marker(clean_db) is True
    # raw_data is the JSON the landing encoded once: the provider's payload, as the raw row
    with clean_db.connect() as conn:
        raw_data = dict(conn.execute(text("SELECT source_id, raw_data FROM transactions")).all())
        differing = conn.execute(
            text(
                "SELECT count(*) FROM transactions t JOIN raw_vima_operations r "
                "ON r.operation_id = t.source_id WHERE t.raw_data IS DISTINCT FROM r.payload"
            )
        ).scalar()
    provider = {op["operation_id"]: op for op in sandbox.world.vima_operations()}
    assert raw_data and {k: provider[k] for k in raw_data} == raw_data
    assert differing == 0
    again = normalize_partition(clean_db, window)  # from raw: nothing left to write
    assert (again.rows.new, again.rows.updated, again.rows.unchanged) == (0, 0, len(expected))


def test_one_pass_keeps_to_the_partition_window(sandbox, clean_db) -> None:
    # An IST day spans two UTC dates: the provider returns both whole, the partition keeps
    # only its own hours, as the pass from raw does.
    window = PartitionWindow.for_key(DAY, "Asia/Kolkata")
    with _client(sandbox) as client:
        landed, normalized = ingest_and_normalize(client, clean_db, window)
    with clean_db.connect() as conn:
        outside = conn.execute(
            text("SELECT count(*) FROM transactions WHERE created_at < :s OR created_at >= :e"),
            {"s": window.start, "e": window.end},
        ).scalar()
    assert outside == 0 and 0 < normalized.normalized < landed.fetched
    again = normalize_partition(clean_db, window)
    assert (again.rows.new, again.rows.updated) == (0, 0)
    assert again.rows.unchanged == normalized.normalized
    # the malformed operations reported are the partition's own, as the pass from raw has them
    assert sorted(normalized.rejected) == sorted(again.rejected)


def test_a_landed_operation_is_the_partitions_as_the_raw_table_counts_it() -> None:
    window = PartitionWindow.for_key(DAY, "UTC")
    base = {
        "operation_id": "1",
        "current_status": "success",
        "operation_created_at": f"{DAY}T10:00:00Z",
        "create_params": {
            "method": "payment.in",
            "params": {"payment": {"amount": {"value": 100, "currency": "INR"}}},
        },
    }
    outside = {**base, "operation_created_at": "2025-12-31T23:59:59Z"}
    broken = {**base, "current_status": ""}
    landed = normalize_landed((base, canonical_json(base)), window)
    assert landed is not None and landed.source_id == "1"
    assert normalize_landed((outside, canonical_json(outside)), window) is None
    with pytest.raises(MalformedRecord):  # the partition's own: reported
        normalize_landed((broken, canonical_json(broken)), window)
    broken_outside = {**outside, "current_status": ""}  # another day's: not this run's to report
    assert normalize_landed((broken_outside, canonical_json(broken_outside)), window) is None
    no_time = {**broken, "operation_created_at": None}  # the raw table counts it in every window
    with pytest.raises(MalformedRecord):
        normalize_landed((no_time, canonical_json(no_time)), window)


def test_a_stopped_pass_is_caught_up_from_raw(sandbox, clean_db) -> None:
    window = PartitionWindow.for_key(DAY, "UTC")
    key = get_settings().vima_api_key.get_secret_value()
    with pytest.raises(_Killed), _DyingClient(sandbox.vima_url, key, pages=2) as dying:
        ingest_and_normalize(dying, clean_db, window)
    assert _marker(clean_db) is False
    with _client(sandbox) as client:
        landed, normalized = ingest_and_normalize(client, clean_db, window)
    expected = _expected(sandbox)
    assert landed.rows.new == len(expected) - 200  # the landing resumed after two pages
    assert normalized.normalized == len(expected)  # the whole partition, from raw
    assert _stored(clean_db) == expected
    assert _marker(clean_db) is True


def test_a_landing_alone_leaves_the_partition_to_normalize_from_raw(sandbox, clean_db) -> None:
    window = PartitionWindow.for_key(DAY, "UTC")
    with _client(sandbox) as client:
        ingest_and_normalize(client, clean_db, window)
        assert sandbox.world.apply_late_changes() > 0
        ingest_partition(client, clean_db, window)  # raw only: the late changes land
    assert _marker(clean_db) is False
    with _client(sandbox) as client:
        _, normalized = ingest_and_normalize(client, clean_db, window)
    assert normalized.rows.updated > 0
    assert _stored(clean_db) == _expected(sandbox)


def test_raw_alone_then_normalized_alone(sandbox, clean_db, redis_client) -> None:
    def run(asset: str) -> Any:
        return materialize(
            [vima_assets],
            selection=[asset],
            partition_key=DAY,
            resources=_resources(sandbox),
            instance=DagsterInstance.ephemeral(),
        )

    raw = run("vima_operations")
    assert [e.asset_key.path[-1] for e in raw.get_asset_materialization_events()] == [
        "vima_operations"
    ]
    assert _stored(clean_db) == {}
    normalized = run("vima_transactions")
    assert [e.asset_key.path[-1] for e in normalized.get_asset_materialization_events()] == [
        "vima_transactions"
    ]
    assert _stored(clean_db) == _expected(sandbox)
    assert {c.check_name for c in normalized.get_asset_check_evaluations()} == {
        "no_rejected_rows",
        "no_unknown_statuses",
    }


def test_a_later_version_in_the_same_batch_wins(sandbox, clean_db) -> None:
    op = next(o for o in sandbox.world.vima_operations() if o["operation_created_at"] >= DAY)
    first = normalize_operation({**op, "current_status": "success"})
    later = normalize_operation({**op, "current_status": "fail"})
    with clean_db.begin() as conn:
        counts = upsert_transactions(conn, [first, later])
    assert (counts.new, counts.unchanged) == (1, 0)
    assert _stored(clean_db)[op["operation_id"]][1] == "failed"


def test_landing_connection_goes_back_to_the_pool_as_it_came(clean_db) -> None:
    from sqlalchemy import create_engine

    from hub_pipelines.warehouse.session import landing_connection

    engine = create_engine(clean_db.url, pool_size=1, max_overflow=0)
    try:
        with landing_connection(engine) as conn:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        with engine.connect() as conn:  # the same session, from the pool
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    finally:
        engine.dispose()


def test_a_mixed_batch_counts_new_changed_and_unchanged(sandbox, clean_db) -> None:
    ops = [o for o in sandbox.world.vima_operations() if o["operation_created_at"] >= DAY][:6]
    first = [normalize_operation({**op, "current_status": "success"}) for op in ops[:4]]
    with clean_db.begin() as conn:
        assert upsert_transactions(conn, first).new == 4
    # two known and unchanged, two known and changed, two new
    batch = [
        *first[:2],
        *(normalize_operation({**op, "current_status": "fail"}) for op in ops[2:4]),
        *(normalize_operation(op) for op in ops[4:]),
    ]
    with clean_db.begin() as conn:
        counts = upsert_transactions(conn, batch)
    assert (counts.new, counts.updated, counts.unchanged) == (2, 2, 2)
    stored = _stored(clean_db)
    assert [stored[op["operation_id"]][1] for op in ops[:4]] == ["success"] * 2 + ["failed"] * 2
    assert len(stored) == 6
