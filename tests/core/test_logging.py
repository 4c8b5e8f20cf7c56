"""Secrets never reach a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_core.logging import (
    build_formatter,
    configure_logging,
    get_logger,
    mask_secrets,
    mask_value,
)

SECRET = "SECRET123abc"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Hub log lines written to a buffer through the hub's own formatter."""
    configure_logging("INFO", json=True)
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(build_formatter(json=True))
    logging.getLogger().addHandler(handler)
    yield buffer
    logging.getLogger().removeHandler(handler)


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_structlog_line_masks_apikey_in_url(captured: io.StringIO) -> None:
    get_logger("test").info("fetching", url=f"http://vima/op?apikey={SECRET}&count=5")
    out = captured.getvalue()
    assert SECRET not in out
    (line,) = [entry for entry in _lines(out) if entry.get("event") == "fetching"]
    assert line["url"] == "http://vima/op?apikey=***&count=5"


def test_stdlib_logger_is_masked_too(captured: io.StringIO) -> None:
    logging.getLogger("hub.test").info(
        'HTTP Request: GET http://v/op?count=5&apikey=%s "200"', SECRET
    )
    out = captured.getvalue()
    assert SECRET not in out
    assert "apikey=***" in out


def test_secret_fields_and_headers_are_masked() -> None:
    masked = mask_value(
        {
            "password": SECRET,
            "headers": {"Authorization": f"Bearer {SECRET}"},
            "note": f'{{"token": "{SECRET}"}}',
            "url": f"postgresql://user:{SECRET}@db/hub",
            "count": 5,
        }
    )
    assert SECRET not in json.dumps(masked)
    assert masked["count"] == 5
    assert mask_secrets(f"Authorization: Basic {SECRET}") == "Authorization: Basic ***"


@given(st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=4))
def test_any_apikey_value_is_masked(secret: str) -> None:
    assert secret not in mask_secrets(f"GET /op?project=p&apikey={secret}").split("apikey=")[1]


def test_every_handler_sees_masked_records(
    captured: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("third.party").warning("login with password=%s failed", SECRET)
    (record,) = [r for r in caplog.records if r.name == "third.party"]
    assert record.getMessage() == "login with password=*** failed"
    assert SECRET not in caplog.text


def test_uvicorn_access_formatter_keeps_its_arguments(captured: io.StringIO) -> None:
    """uvicorn's access formatter unpacks `record.args`: they must survive, masked."""
    from uvicorn.logging import AccessFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AccessFormatter('%(client_addr)s "%(request_line)s" %(status_code)s'))
    access = logging.getLogger("hub.test.access")  # the record factory is process-wide
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False
    try:
        for path in ("/api/v1/health", f"/api/v1/x?apikey={SECRET}"):
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    finally:
        access.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == [
        '127.0.0.1:5000 "GET /api/v1/health HTTP/1.1" 200 OK',
        '127.0.0.1:5000 "GET /api/v1/x?apikey=*** HTTP/1.1" 200 OK',
    ]


def test_describe_error_is_one_short_private_line() -> None:
    from sqlalchemy.exc import DBAPIError

    from hub_core.logging import describe_error

    class Driver(Exception):
        pass

    wrapped = DBAPIError.instance(
        "INSERT INTO t VALUES (%(a)s)",
        {"a": "customer-order-77"},
        Driver("connection lost\nDETAIL: more"),
        Driver,
    )
    line = describe_error(wrapped)
    assert line == "DBAPIError: connection lost"
    assert describe_error(RuntimeError(f"bad apikey={SECRET}")) == "RuntimeError: bad apikey=***"
    long = describe_error(ValueError("x" * 5000))
    assert len(long) == 300 and long.endswith("…")
    assert describe_error("Execution of run failed.\nTraceback ...") == "Execution of run failed."
