"""The API shell: health, error envelope, API-key auth."""

from __future__ import annotations

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from hub_api.deps import OperatorDep, ReaderDep
from hub_api.main import API_PREFIX, create_app
from hub_core.settings import get_settings
from tests.conftest import free_port


def _client(**overrides: str) -> TestClient:
    settings = get_settings().model_copy(update=overrides)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_health_everything_up_is_healthy(database_url: str, dagster_webserver: str) -> None:
    response = _client(dagster_graphql_url=dagster_webserver).get(f"{API_PREFIX}/health")
    assert response.status_code == 200
    body = response.json()["data"]
    assert body["services"] == {"database": "ok", "redis": "ok", "dagster": "ok"}
    assert body["status"] == "healthy"
    assert body["version"]


def test_health_with_redis_down_is_degraded_not_500(database_url: str) -> None:
    response = _client(redis_url=f"redis://127.0.0.1:{free_port()}/0").get(f"{API_PREFIX}/health")
    assert response.status_code == 200
    body = response.json()["data"]
    assert body["status"] == "degraded"
    assert body["services"]["redis"] == "down"
    assert body["services"]["database"] == "ok"


def test_health_with_database_down_is_503_unhealthy() -> None:
    response = _client(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/hub"
    ).get(f"{API_PREFIX}/health")
    assert response.status_code == 503
    body = response.json()["data"]
    assert body["status"] == "unhealthy"
    assert body["services"]["database"] == "down"


def test_unknown_path_is_a_404_envelope() -> None:
    response = _client().get(f"{API_PREFIX}/no-such-thing")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert error["message"]
    assert error["details"] == {}


@pytest.fixture
def guarded_client() -> TestClient:
    app = create_app(get_settings())
    router = APIRouter()

    @router.get("/probe/read")
    def read(role: ReaderDep, limit: int = 10) -> dict:
        return {"data": {"role": role, "limit": limit}}

    @router.post("/probe/operate")
    def operate(role: OperatorDep) -> dict:
        return {"data": {"role": role}}

    @router.get("/probe/boom")
    def boom() -> dict:
        raise RuntimeError("SELECT secret FROM users -- password=hunter2")

    app.include_router(router, prefix=API_PREFIX)
    return TestClient(app, raise_server_exceptions=False)


def test_validation_error_envelope_names_the_field(guarded_client: TestClient) -> None:
    response = guarded_client.get(
        f"{API_PREFIX}/probe/read",
        params={"limit": "many"},
        headers={"X-API-Key": "test-reader-key"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    (field,) = error["details"]["fields"]
    assert field["field"] == "limit"
    assert field["received"] == "many"
    assert "integer" in field["expected"]


@pytest.mark.parametrize(
    ("path", "method", "headers", "status", "code"),
    [
        ("read", "get", {}, 401, "UNAUTHORIZED"),
        ("read", "get", {"X-API-Key": "wrong"}, 401, "UNAUTHORIZED"),
        ("read", "get", {"Authorization": "Bearer test-reader-key"}, 200, None),
        ("read", "get", {"X-API-Key": "test-operator-key"}, 200, None),
        ("operate", "post", {"X-API-Key": "test-reader-key"}, 403, "FORBIDDEN"),
        ("operate", "post", {"Authorization": "Bearer test-operator-key"}, 200, None),
        ("operate", "post", {"Authorization": "Basic test-operator-key"}, 401, "UNAUTHORIZED"),
    ],
)
def test_api_key_roles(
    guarded_client: TestClient, path: str, method: str, headers: dict, status: int, code: str | None
) -> None:
    response = getattr(guarded_client, method)(f"{API_PREFIX}/probe/{path}", headers=headers)
    assert response.status_code == status
    if code:
        assert response.json()["error"]["code"] == code
    else:
        assert response.json()["data"]["role"] in ("reader", "operator")


def test_unexpected_error_is_500_without_internals(guarded_client: TestClient) -> None:
    response = guarded_client.get(f"{API_PREFIX}/probe/boom")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}
    }
