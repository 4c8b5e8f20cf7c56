"""The OpenAPI document is complete, and a schemathesis run over it finds no 500 and no
response that breaks its schema."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis import checks

from hub_api.main import API_PREFIX, create_app
from hub_core.settings import get_settings
from tests.api.conftest import OPERATOR

APP = create_app(get_settings().model_copy(update={"hub_api_rate_limit_per_minute": 0}))
SCHEMA = schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", APP)
DOCUMENT = APP.openapi()


def _operations() -> list[tuple[str, str, dict]]:
    return [
        (method, path, operation)
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
    ]


def _resolve(schema: dict) -> dict:
    if "$ref" in schema:
        return DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize(("method", "path", "operation"), _operations())
def test_every_operation_is_documented(method: str, path: str, operation: dict) -> None:
    assert operation.get("summary") and operation.get("description"), (method, path)
    responses = operation["responses"]
    success = next(code for code in responses if code.startswith("2"))
    content = responses[success]["content"]
    if path.startswith(f"{API_PREFIX}/export"):
        kinds = {media.split(";")[0] for media in content}
        assert "text/csv" in kinds
        assert "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in kinds
    else:
        schema = _resolve(content["application/json"]["schema"])
        data = schema.get("properties", {}).get("data", {})
        examples = schema.get("examples") or _resolve(data.get("items", data)).get("examples")
        assert examples, f"{method} {path} has no example"
    if path != f"{API_PREFIX}/health":
        for code in ("401", "422", "429", "500"):
            error = _resolve(responses[code]["content"]["application/json"]["schema"])
            assert error["title"] == "ErrorResponse"
    for parameter in operation.get("parameters", []):
        assert parameter.get("schema"), parameter


def test_docs_page_is_served() -> None:
    with TestClient(APP) as client:
        page = client.get(f"{API_PREFIX}/docs")
        assert page.status_code == 200 and "swagger" in page.text.lower()
        assert "cdn." not in page.text  # its assets come from the API itself
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            served = client.get(f"{API_PREFIX}/docs-assets/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000
        assert client.get(f"{API_PREFIX}/openapi.json").json()["info"]["title"] == "Payment Hub API"


@pytest.fixture(scope="module")
def fuzz_db(database_url: str) -> str:
    return database_url


@schemathesis.check
def no_internal_error(ctx, response, case) -> None:
    """A 500 is a bug; a documented 503 (Dagster down in these tests) is not."""
    if response.status_code == 500:
        raise AssertionError(f"500 from {case.method} {case.path}: {response.text[:300]}")


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_schemathesis_finds_no_500_and_no_schema_break(case, fuzz_db: str) -> None:
    case.call_and_validate(
        headers=OPERATOR,
        checks=[
            no_internal_error,
            checks.response_schema_conformance,
            checks.status_code_conformance,
            checks.content_type_conformance,
        ],
    )
