"""VimaClient against the sandbox over real HTTP: cursors, faults, errors without secrets."""

from __future__ import annotations

import gc
from datetime import date

import httpx
import pytest

from hub_core.settings import get_settings
from hub_pipelines.sources.vima.client import RetryPolicy, VimaAPIError, VimaClient
from hub_sandbox.scenario import Scenario
from tests.pipelines.conftest import SCENARIO_START, start_sandbox

DAY = SCENARIO_START
FAST_RETRY = RetryPolicy(max_attempts=6, max_total_seconds=30, initial_wait=0.01, max_wait=0.05)


def _key() -> str:
    return get_settings().vima_api_key.get_secret_value()


def _day_ids(scenario: Scenario, day: date) -> set[str]:
    return {
        op["operation_id"]
        for op in scenario.vima_operations
        if op["operation_created_at"].startswith(day.isoformat())
    }


def _collect(
    client: VimaClient, cursor: str = "create", start: str | None = None, **filters
) -> list[str]:
    ids: list[str] = []
    for page, _position in client.iter_pages(cursor, start, count=37, **filters):  # type: ignore[arg-type]
        ids.extend(op["operation_id"] for op in page)
    return ids


def test_create_cursor_pages_a_day_with_no_gap_and_no_repeat(sandbox, small_scenario) -> None:
    with VimaClient(sandbox.vima_url, _key()) as client:
        ids = _collect(client, day=DAY)
        assert len(ids) == len(set(ids))
        assert set(ids) == _day_ids(small_scenario, DAY)
        assert client.requests == -(-len(ids) // 37) + 1  # every page plus the empty one


def test_update_cursor_sees_late_changes(sandbox, small_scenario) -> None:
    with VimaClient(sandbox.vima_url, _key()) as client:
        (latest,) = client.get_operations(from_operation_update_id="0", descending=True, count=1)
        watermark = latest["operation_update_id"]
        assert _collect(client, "update", watermark) == []
        applied = sandbox.world.apply_late_changes()
        assert applied > 0
        changed = _collect(client, "update", watermark)
        vima_changes = {c.key for c in small_scenario.late_changes if c.source == "vima"}
        assert set(changed) == vima_changes


def test_basic_auth_is_preferred_when_configured(sandbox) -> None:
    with VimaClient(sandbox.vima_url, _key(), basic_user="91game") as client:
        assert len(client.get_operations(count=5)) == 5
        assert "apikey" not in client._describe({"count": "5"})


def test_a_read_page_is_freed_without_the_cyclic_collector(sandbox) -> None:
    # httpx ties a response to its stream in a cycle; an ingestion runs the collector rarely
    # (few_collections), so every page held until then was ~100 KB more memory.
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        with VimaClient(sandbox.vima_url, _key()) as client:
            assert _collect(client, day=DAY)
        gc.collect()
        in_cycles = [o for o in gc.garbage if isinstance(o, httpx.Response)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert in_cycles == []


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "slow", "garbage", "reset"])
def test_each_fault_is_recovered_with_the_exact_set(small_scenario, fault: str) -> None:
    with start_sandbox(small_scenario, faults=f"{fault}:3") as handle:
        with VimaClient(handle.vima_url, _key(), timeout=0.5, retry=FAST_RETRY) as client:
            ids = _collect(client, day=DAY)
            assert client.retries > 0
        faults = handle.stats()["vima"]["faults"]
    assert len(ids) == len(set(ids))
    assert set(ids) == _day_ids(small_scenario, DAY)
    assert sum(faults.values()) > 0


def test_exhausted_retries_raise_without_the_key(small_scenario) -> None:
    with start_sandbox(small_scenario, faults="503:1") as handle:
        client = VimaClient(handle.vima_url, _key(), retry=FAST_RETRY)
        with pytest.raises(VimaAPIError) as info:
            client.get_operations(project="91game")
    message = str(info.value)
    assert "after 6 attempts" in message
    assert "HTTP 503" in message
    assert "apikey=***" in message
    assert _key() not in message


def test_client_error_fails_at_once_with_the_provider_message(sandbox) -> None:
    with VimaClient(sandbox.vima_url, "wrong-key", retry=FAST_RETRY) as client:
        with pytest.raises(VimaAPIError, match="HTTP 401") as info:
            client.get_operations()
        assert client.requests == 1
    assert "wrong-key" not in str(info.value)
    with VimaClient(sandbox.vima_url, _key()) as client, pytest.raises(ValueError, match="count"):
        client.get_operations(count=101)
