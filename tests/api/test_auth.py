"""Every endpoint but /health needs a key; operator endpoints refuse readers; keys are rate
limited in Redis."""

from __future__ import annotations

import re

import pytest
import redis
from fastapi.testclient import TestClient

from hub_api.main import API_PREFIX, create_app
from hub_core.settings import get_settings
from tests.api.conftest import OPERATOR, READER
from tests.conftest import free_port

OPERATOR_ROUTES = {
    ("POST", "/sync/trigger"),
    ("POST", "/reconciliation/run"),
    ("PATCH", "/reconciliation/discrepancies/{discrepancy_id}"),
}


def _routes() -> list[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI document."""
    paths = create_app(get_settings()).openapi()["paths"]
    return sorted(
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in paths.items()
        for method in operations
    )


ROUTES = _routes()


def test_every_domain_is_served() -> None:
    paths = {path for _, path in ROUTES}
    for expected in (
        "/health",
        "/transactions",
        "/transactions/{transaction_id}",
        "/metrics/overview",
        "/metrics/by-project",
        "/metrics/by-status",
        "/metrics/trends",
        "/reconciliation/summary",
        "/reconciliation/discrepancies",
        "/sync/status",
        "/export/transactions",
        "/export/reconciliation",
    ):
        assert expected in paths


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.parametrize(("method", "path"), [r for r in ROUTES if r[1] != "/health"])
def test_no_key_is_401(api: TestClient, method: str, path: str) -> None:
    response = api.request(method, f"{API_PREFIX}{_concrete(path)}")
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    wrong = api.request(method, f"{API_PREFIX}{_concrete(path)}", headers={"X-API-Key": "nope"})
    assert wrong.status_code == 401


@pytest.mark.parametrize(("method", "path"), sorted(OPERATOR_ROUTES))
def test_reader_on_operator_endpoint_is_403(api: TestClient, method: str, path: str) -> None:
    response = api.request(method, f"{API_PREFIX}{_concrete(path)}", headers=READER, json={})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "FORBIDDEN"


def test_health_is_open(api: TestClient) -> None:
    assert api.get(f"{API_PREFIX}/health").status_code == 200


def test_rate_limit_per_key_answers_429_with_retry_after(
    clean_db, redis_client: redis.Redis
) -> None:
    settings = get_settings().model_copy(update={"hub_api_rate_limit_per_minute": 3})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        url = f"{API_PREFIX}/sync/status"
        statuses = [client.get(url, headers=READER).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = client.get(url, headers=READER)
        assert limited.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(limited.headers["Retry-After"]) <= 61
        # another key has its own budget; the key itself is not stored in clear
        assert client.get(url, headers=OPERATOR).status_code == 200
        assert not [k for k in redis_client.keys("hub:ratelimit:*") if b"test-" in k]


def test_without_redis_the_api_answers_unlimited(clean_db) -> None:
    settings = get_settings().model_copy(
        update={
            "hub_api_rate_limit_per_minute": 1,
            "redis_url": f"redis://127.0.0.1:{free_port()}/0",
        }
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for _ in range(3):
            assert client.get(f"{API_PREFIX}/sync/status", headers=READER).status_code == 200
        health = client.get(f"{API_PREFIX}/health").json()["data"]
        assert health["status"] == "degraded" and health["services"]["redis"] == "down"
