"""`/sync` and `POST /reconciliation/run`: state, next ticks, runs launched in a real Dagster."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hub_api.main import API_PREFIX, create_app
from hub_core.orchestration import next_tick
from hub_core.queries.periods import today_in
from hub_core.settings import get_settings
from hub_core.types import Source, SyncStatus
from hub_pipelines.warehouse.sync import record_partition_sync, set_sync_state
from tests.api.conftest import OPERATOR, READER

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status jobName tags { key value } }
  }
}
"""


def test_status_lists_both_sources_with_next_ticks(api: TestClient, clean_db: Engine) -> None:
    with clean_db.begin() as conn:
        set_sync_state(
            conn,
            Source.VIMA,
            SyncStatus.FAILED,
            run_id="r1",
            partition_key="2026-03-10",
            error="ConnectError: apikey=SECRET123 refused",
        )
        as_of = datetime(2026, 3, 11, tzinfo=UTC)
        record_partition_sync(conn, Source.PAYSHACK, "2026-03-10", as_of, False, 40, "r2")
        record_partition_sync(conn, Source.PAYSHACK, "2026-03-09", as_of, True, 50, "r3")
    body = api.get(f"{API_PREFIX}/sync/status", headers=READER).json()["data"]
    by_source = {s["source"]: s for s in body["sources"]}
    assert list(by_source) == ["vima", "payshack"]
    vima, payshack = by_source["vima"], by_source["payshack"]
    assert vima["status"] == "failed" and vima["run_id"] == "r1"
    assert "SECRET123" not in vima["error_message"]
    assert vima["last_successful_sync"] is None
    assert payshack["status"] == "idle" and payshack["last_sync_at"] is None
    assert payshack["incomplete_partitions"] == ["2026-03-10"]
    assert vima["incomplete_partitions"] == []
    for state, minutes in ((vima, 5), (payshack, 10)):
        tick = datetime.fromisoformat(state["next_sync_at"].replace("Z", "+00:00"))
        assert tick.minute % minutes == 0 and tick.second == 0
        assert 0 < (tick - datetime.now(UTC)).total_seconds() <= minutes * 60


@pytest.mark.parametrize(
    ("now", "every", "zone", "expected"),
    [
        ("2026-03-10T10:03:20+00:00", 5, "UTC", "2026-03-10T10:05:00+00:00"),
        ("2026-03-10T10:05:00+00:00", 5, "UTC", "2026-03-10T10:10:00+00:00"),
        ("2026-03-10T10:55:00+00:00", 10, "UTC", "2026-03-10T11:00:00+00:00"),
        ("2026-03-10T10:44:00+00:00", 45, "UTC", "2026-03-10T10:45:00+00:00"),
        ("2026-03-10T10:46:00+00:00", 45, "UTC", "2026-03-10T11:00:00+00:00"),
        # Kathmandu is +05:45: its local :00 is :15 UTC
        ("2026-03-10T10:01:00+00:00", 10, "Asia/Kathmandu", "2026-03-10T10:05:00+00:00"),
    ],
)
def test_next_tick(now: str, every: int, zone: str, expected: str) -> None:
    assert next_tick(datetime.fromisoformat(now), every, zone) == datetime.fromisoformat(expected)


def test_sync_needs_keys_and_roles(api: TestClient) -> None:
    assert api.get(f"{API_PREFIX}/sync/status").status_code == 401
    response = api.post(f"{API_PREFIX}/sync/trigger", json={"source": "vima"}, headers=READER)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "body",
    [
        {"source": "stripe"},
        {"date": "2026-02-30"},
        {"date": "1999-01-01"},
        {"date": "2999-01-01"},
        {"source": "vima", "extra": True},
    ],
)
def test_trigger_bad_input(api: TestClient, body: dict) -> None:
    response = api.post(f"{API_PREFIX}/sync/trigger", json=body, headers=OPERATOR)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_trigger_with_dagster_down_is_503(api: TestClient) -> None:
    # the test settings point Dagster at a port nothing listens on
    for path, body in (
        ("/sync/trigger", {"source": "vima"}),
        ("/reconciliation/run", {"date": "2026-03-10"}),
    ):
        response = api.post(f"{API_PREFIX}{path}", json=body, headers=OPERATOR)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


@pytest.fixture
def live(
    dagster_webserver: str, clean_db: Engine, redis_client
) -> Iterator[tuple[TestClient, str]]:
    """The API wired to a real Dagster webserver (no daemon: launched runs stay queued)."""
    settings = get_settings().model_copy(update={"dagster_graphql_url": dagster_webserver})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, dagster_webserver
    _cancel_active(dagster_webserver)


def _graphql(url: str, query: str, variables: dict) -> dict:
    response = httpx.post(url, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def _cancel_active(url: str) -> None:
    runs = _graphql(
        url,
        "query { runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED]}) "
        "{ ... on Runs { results { runId } } } }",
        {},
    )["runsOrError"]["results"]
    for run in runs:
        _graphql(
            url,
            "mutation T($id: String!) { terminateRun(runId: $id) { __typename } }",
            {"id": run["runId"]},
        )


def _run(url: str, run_id: str) -> dict:
    run = _graphql(url, RUN_QUERY, {"runId": run_id})["runOrError"]
    assert run["__typename"] == "Run"
    return {**run, "tags": {t["key"]: t["value"] for t in run["tags"]}}


def test_trigger_launches_a_run_for_the_partition_then_409(live: tuple[TestClient, str]) -> None:
    client, url = live
    response = client.post(
        f"{API_PREFIX}/sync/trigger",
        json={"source": "vima", "date": "2026-03-10"},
        headers=OPERATOR,
    )
    assert response.status_code == 202, response.text
    body = response.json()["data"]
    assert body["status"] == "triggered" and body["source"] == "vima"
    (run_id,) = body["run_ids"]
    run = _run(url, run_id)
    assert run["jobName"] == "vima_sync"
    assert run["tags"]["dagster/partition"] == "2026-03-10"
    assert run["status"] in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")

    again = client.post(f"{API_PREFIX}/sync/trigger", json={"source": "vima"}, headers=OPERATOR)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "CONFLICT"
    assert run_id in again.json()["error"]["details"]["run_ids"]

    # both sources: the busy one is skipped, the other launched for today
    both = client.post(f"{API_PREFIX}/sync/trigger", json={}, headers=OPERATOR)
    assert both.status_code == 202, both.text
    data = both.json()["data"]
    assert data["skipped"] == ["vima"] and len(data["run_ids"]) == 1
    today = today_in(get_settings().hub_timezone).isoformat()
    payshack = _run(url, data["run_ids"][0])
    assert payshack["jobName"] == "payshack_sync"
    assert payshack["tags"]["dagster/partition"] == today
    assert client.post(f"{API_PREFIX}/sync/trigger", json={}, headers=OPERATOR).status_code == 409


def test_reconciliation_run_launches_then_409(live: tuple[TestClient, str]) -> None:
    client, url = live
    response = client.post(
        f"{API_PREFIX}/reconciliation/run", json={"date": "2026-03-10"}, headers=OPERATOR
    )
    assert response.status_code == 202, response.text
    body = response.json()["data"]
    assert body["status"] == "started" and body["date"] == "2026-03-10"
    run = _run(url, body["run_id"])
    assert run["jobName"] == "reconcile_and_metrics"
    assert run["tags"]["dagster/partition"] == "2026-03-10"
    again = client.post(
        f"{API_PREFIX}/reconciliation/run", json={"date": "2026-03-10"}, headers=OPERATOR
    )
    assert again.status_code == 409
    other_day = client.post(
        f"{API_PREFIX}/reconciliation/run", json={"date": "2026-03-11"}, headers=OPERATOR
    )
    assert other_day.status_code == 202
    assert (
        client.post(f"{API_PREFIX}/reconciliation/run", json={}, headers=OPERATOR).status_code
        == 422
    )
