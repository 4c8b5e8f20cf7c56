"""`/export/transactions` and `/export/reconciliation` over the real database: the rows the
filters select, exact values, formula escaping, file names, errors, and a stream that gives its
connection back when the client goes away."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import Engine, insert, literal, select, text

from hub_api import exporting
from hub_api.main import create_app
from hub_core.db import ensure_month_partitions
from hub_core.queries.exports import (
    RECONCILIATION_COLUMNS,
    TRANSACTION_COLUMNS,
    escape_formula,
    escape_text_sql,
)
from hub_core.settings import get_settings
from hub_core.tables import discrepancy_resolutions, reconciliation_results
from hub_core.types import Direction, MatchType, Source, Status, Transaction
from tests.api.conftest import READER, make_txn
from tests.conftest import free_port

URL = "/api/v1/export"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def read_xlsx(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert int(response.headers["content-length"]) == len(response.content)
    book = load_workbook(io.BytesIO(response.content))
    rows: list[dict[str, Any]] = []
    for sheet in book.worksheets:
        values = list(sheet.iter_rows(values_only=True))
        header = values[0]
        rows += [dict(zip(header, row, strict=True)) for row in values[1:]]
    return rows


def cells(response: httpx.Response, fmt: str) -> list[dict[str, Any]]:
    return read_csv(response) if fmt == "csv" else read_xlsx(response)


def disposition(response: httpx.Response) -> str:
    return response.headers["content-disposition"]


# --- transactions -----------------------------------------------------------------------------


@pytest.fixture
def mixed(seeded: Callable[..., list[Transaction]]) -> list[Transaction]:
    """50 transactions over five days, two sources, four statuses, three projects."""
    statuses = [Status.SUCCESS, Status.FAILED, Status.PENDING, Status.REFUNDED]
    txns = [
        make_txn(
            DAY0 + timedelta(days=n % 5, hours=n % 24, minutes=n),
            source=Source.VIMA if n % 2 else Source.PAYSHACK,
            status=statuses[(n // 2) % 4],
            direction=Direction.PAYOUT if n % 7 == 0 else Direction.PAYIN,
            project=["91game", "caroussel", None][n % 3],
            amount=Decimal("10.1234") + n,
            fee=Decimal("0.0001") * n if n % 2 else None,
            user_email=f"user{n}@example.com",
            utr=f"UTR{n:04d}",
        )
        for n in range(50)
    ]
    return seeded(txns)


def _selected(txns: list[Transaction], **want: Any) -> set[str]:
    """Ids of `txns` a filter selects, computed here (not by the API)."""
    start, end = want.pop("days", (None, None))
    low, high = want.pop("amounts", (None, None))
    chosen = set()
    for t in txns:
        if start and not (start <= t.created_at.date() <= end):
            continue
        if low is not None and not (low <= t.amount <= high):
            continue
        if any(getattr(t, name) != value for name, value in want.items()):
            continue
        chosen.add(t.id)
    return chosen


FILTER_CASES = [
    ({}, {}),
    (
        {"source": "vima", "status": "success", "from_date": "2026-03-02", "to_date": "2026-03-04"},
        {
            "source": Source.VIMA,
            "status": Status.SUCCESS,
            "days": (date(2026, 3, 2), date(2026, 3, 4)),
        },
    ),
    (
        {"project": "caroussel", "direction": "payin"},
        {"project": "caroussel", "direction": "payin"},
    ),
    ({"status": "failed", "from_date": "2026-03-03"}, {"status": Status.FAILED}),
    (
        {"min_amount": "20.1234", "max_amount": "30", "currency": "inr"},
        {"amounts": (Decimal("20.1234"), Decimal("30"))},
    ),
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(("params", "want"), FILTER_CASES)
def test_export_holds_exactly_the_filtered_transactions(
    api: TestClient,
    mixed: list[Transaction],
    fmt: str,
    params: dict[str, str],
    want: dict[str, Any],
) -> None:
    want = dict(want)
    if params.get("from_date") and "days" not in want:
        # from_date alone runs to today, as in the list
        want["days"] = (date.fromisoformat(params["from_date"]), date.max)
    response = api.get(f"{URL}/transactions", params={**params, "format": fmt}, headers=READER)
    rows = cells(response, fmt)
    expected = _selected(mixed, **want)
    assert expected  # every case selects something
    assert {row["id"] for row in rows} == expected
    assert len(rows) == len(expected)
    assert [row["created_at"] for row in rows] == sorted(row["created_at"] for row in rows)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_values_at_full_precision(
    api: TestClient, mixed: list[Transaction], fmt: str
) -> None:
    target = next(t for t in mixed if t.amount == Decimal("13.1234"))
    response = api.get(
        f"{URL}/transactions", params={"search": target.utr, "format": fmt}, headers=READER
    )
    (row,) = cells(response, fmt)
    assert list(row) == list(TRANSACTION_COLUMNS)
    assert row["id"] == target.id
    assert row["source_id"] == target.source_id
    assert row["created_at"] == target.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert row["ingested_at"].endswith("Z")
    if fmt == "csv":
        assert row["amount"] == "13.1234"
        assert row["fee"] == "0.0003"
        assert row["paid_amount"] == ""  # NULL
    else:
        assert isinstance(row["amount"], float)
        assert Decimal(str(row["amount"])) == Decimal("13.1234")
        assert Decimal(str(row["fee"])) == Decimal("0.0003")
        assert row["paid_amount"] is None


def test_export_search_by_hub_id(api: TestClient, mixed: list[Transaction]) -> None:
    target = mixed[7]
    rows = read_csv(api.get(f"{URL}/transactions", params={"search": target.id}, headers=READER))
    assert [row["id"] for row in rows] == [target.id]


AWKWARD = [
    'He said "hi", then left',
    "two\nlines, and a\r\nwindows break",
    "100% sure %(name)s %s %%",
    "semi;colon\ttab",
    "ünïcødé ✓ 日本",
    "back\\slash",
    "",
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_awkward_text_round_trips(
    api: TestClient, seeded: Callable[..., list[Transaction]], fmt: str
) -> None:
    txns = seeded(
        make_txn(DAY0 + timedelta(minutes=n), user_name=name, project="p%(x)s 100%")
        for n, name in enumerate(AWKWARD)
    )
    response = api.get(
        f"{URL}/transactions",
        params={"format": fmt, "project": "p%(x)s 100%", "search": txns[2].source_id},
        headers=READER,
    )
    assert [row["user_name"] for row in cells(response, fmt)] == [AWKWARD[2]]
    rows = cells(api.get(f"{URL}/transactions", params={"format": fmt}, headers=READER), fmt)
    names = [row["user_name"] for row in rows]
    if fmt == "csv":
        assert names == AWKWARD
    else:
        # an empty text is an empty cell (openpyxl with lxml keeps carriage returns)
        assert names == [n or None for n in AWKWARD]
    assert {row["project"] for row in rows} == {"p%(x)s 100%"}


def test_search_with_percent_matches_nothing_and_fails_nothing(
    api: TestClient, mixed: list[Transaction]
) -> None:
    response = api.get(f"{URL}/transactions", params={"search": "100%"}, headers=READER)
    assert read_csv(response) == []
    assert response.content.decode().startswith("id,source,source_id,")


FORMULAS = ['=HYPERLINK("x")', "+1", "-2", "@SUM(A1)", "\tTAB", "\rCR"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_escaped_numbers_are_not(
    api: TestClient, seeded: Callable[..., list[Transaction]], fmt: str
) -> None:
    seeded(
        make_txn(
            DAY0 + timedelta(minutes=n),
            user_name=name,
            amount="1.5000",
            user_email=f"={n}@x.test",
        )
        for n, name in enumerate([*FORMULAS, "Bob"])
    )
    rows = cells(api.get(f"{URL}/transactions", params={"format": fmt}, headers=READER), fmt)
    names = [row["user_name"] for row in rows]
    expected = [escape_formula(name) for name in [*FORMULAS, "Bob"]]
    assert names == expected
    assert all(name.startswith("'") for name in names[:-1])
    assert names[-1] == "Bob"
    assert all(row["user_email"].startswith("'=") for row in rows)
    if fmt == "csv":
        assert {row["amount"] for row in rows} == {"1.5000"}
    else:
        assert {row["amount"] for row in rows} == {1.5}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(st.characters(blacklist_characters="\x00"), max_size=6), max_size=20))
def test_sql_and_python_escaping_agree(engine: Engine, values: list[str]) -> None:
    with engine.connect() as conn:
        for value in values:
            escaped = conn.execute(select(escape_text_sql(literal(value)))).scalar_one()
            assert escaped == escape_formula(value)


def test_export_file_names_and_types(api: TestClient, mixed: list[Transaction]) -> None:
    everything = api.get(f"{URL}/transactions", headers=READER)
    assert everything.status_code == 200
    assert disposition(everything) == 'attachment; filename="transactions_all.csv"'
    assert everything.headers["content-type"] == "text/csv; charset=utf-8"
    days = api.get(
        f"{URL}/transactions",
        params={"from_date": "2026-03-01", "to_date": "2026-03-07", "format": "xlsx"},
        headers=READER,
    )
    assert disposition(days) == 'attachment; filename="transactions_2026-03-01_2026-03-07.xlsx"'
    assert days.headers["content-type"] == XLSX
    one = api.get(f"{URL}/transactions", params={"to_date": "2026-03-02"}, headers=READER)
    assert disposition(one) == 'attachment; filename="transactions_2026-01-01_2026-03-02.csv"'


def test_xlsx_continues_on_a_second_sheet(
    api: TestClient, mixed: list[Transaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exporting, "XLSX_ROWS_PER_SHEET", 20)
    response = api.get(f"{URL}/transactions", params={"format": "xlsx"}, headers=READER)
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == ["transactions", "transactions 2", "transactions 3"]
    assert len(read_xlsx(response)) == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "pdf"}, "format"),
        ({"from_date": "2026-03-05", "to_date": "2026-03-01"}, "from_date"),
        ({"from_date": "yesterday"}, "from_date"),
        ({"status": "lost"}, "status"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
    ],
)
def test_transaction_export_refuses_bad_parameters(
    api: TestClient, params: dict[str, str], field: str
) -> None:
    response = api.get(f"{URL}/transactions", params=params, headers=READER)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [f["field"] for f in error["details"]["fields"]]


@pytest.mark.parametrize("path", ["transactions", "reconciliation?date=2026-03-01"])
def test_export_needs_a_key(api: TestClient, path: str) -> None:
    response = api.get(f"{URL}/{path}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"


def test_a_copy_that_cannot_start_is_an_error_not_a_broken_file(
    api: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(query: Any, dialect: Any) -> tuple[str, dict[str, Any]]:
        return "COPY (SELECT 1 / 0) TO STDOUT WITH (FORMAT csv, HEADER)", {}

    monkeypatch.setattr(exporting, "copy_statement", broken)
    response = api.get(f"{URL}/transactions", headers=READER)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "division" not in response.text
    assert engine.pool.checkedout() == 0


def test_export_gives_its_connection_back(
    api: TestClient, engine: Engine, mixed: list[Transaction]
) -> None:
    for fmt in ("csv", "xlsx"):
        assert api.get(f"{URL}/transactions", params={"format": fmt}, headers=READER).is_success
        assert engine.pool.checkedout() == 0


# --- reconciliation ---------------------------------------------------------------------------


DETAILS = {
    MatchType.DISCREPANCY_AMOUNT: {
        "vima_paid_amount": 100.1234,
        "payshack_paid_amount": 99.5,
        "created_gap_seconds": -16,
    },
    MatchType.DUPLICATE: {"key": "=op", "vima_rows": 2, "payshack_rows": 1},
}
"""What the reconciliation stores in `details`, by type (nothing for the others)."""


@pytest.fixture
def results(clean_db: Engine) -> list[dict[str, Any]]:
    """Results over three days, one of each match type a day, one resolved."""
    rows = []
    for offset in range(3):
        day = date(2026, 3, 1) + timedelta(days=offset)
        for n, match_type in enumerate(MatchType):
            rows.append(
                {
                    "recon_date": day,
                    "run_id": f"run-{offset}",
                    "match_type": match_type.value,
                    "match_method": "exact" if match_type is MatchType.MATCHED else None,
                    "discrepancy_key": f"{match_type.value}:{day.isoformat()}:{n}",
                    "project": "91game",
                    "direction": "payin",
                    "currency": "INR",
                    "client_operation_id": f"=op-{offset}-{n}",
                    "vima_txn_id": f"v-{offset}-{n}",
                    "payshack_txn_id": f"p-{offset}-{n}",
                    "vima_amount": Decimal("100.1234"),
                    "payshack_amount": Decimal("105.3734"),
                    "amount_diff": Decimal("-5.2500"),
                    "vima_status": "success",
                    "payshack_status": "failed",
                    "details": DETAILS.get(match_type, {}),
                }
            )
    with clean_db.begin() as conn:
        conn.execute(insert(reconciliation_results), rows)
        conn.execute(
            insert(discrepancy_resolutions).values(
                discrepancy_key="discrepancy_amount:2026-03-02:1",
                resolved=True,
                resolved_by="=ops",
                resolved_at=datetime(2026, 3, 3, 9, 30, tzinfo=UTC),
                note='refund, "manual"\nsecond line',
            )
        )
    return rows


def _recon(api: TestClient, fmt: str, **params: str) -> httpx.Response:
    return api.get(f"{URL}/reconciliation", params={**params, "format": fmt}, headers=READER)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reconciliation_export_of_a_day(
    api: TestClient, results: list[dict[str, Any]], fmt: str
) -> None:
    response = _recon(api, fmt, date="2026-03-02")
    assert disposition(response) == f'attachment; filename="reconciliation_2026-03-02.{fmt}"'
    rows = cells(response, fmt)
    assert list(rows[0]) == list(RECONCILIATION_COLUMNS)
    assert {row["recon_date"] for row in rows} == {"2026-03-02"}
    assert sorted(row["match_type"] for row in rows) == sorted(MatchType)
    resolved = [row for row in rows if row["match_type"] == "discrepancy_amount"]
    (row,) = resolved
    assert row["resolved_by"] == "'=ops"
    assert row["resolved_at"] == "2026-03-03T09:30:00.000000Z"
    assert row["note"] == 'refund, "manual"\nsecond line'
    assert row["client_operation_id"].startswith("'=op-")
    others = [r for r in rows if r is not row]
    (dup,) = [r for r in rows if r["match_type"] == "duplicate"]
    details = ("vima_paid_amount", "payshack_paid_amount", "created_gap_seconds")
    if fmt == "csv":
        assert [row[name] for name in details] == ["100.1234", "99.5", "-16"]
        assert (dup["duplicate_vima_rows"], dup["duplicate_payshack_rows"]) == ("2", "1")
        assert {dup[name] for name in details} == {""}
    else:
        assert [row[name] for name in details] == [100.1234, 99.5, -16]
        assert (dup["duplicate_vima_rows"], dup["duplicate_payshack_rows"]) == (2, 1)
        assert {dup[name] for name in details} == {None}
    if fmt == "csv":
        assert row["resolved"] == "true"
        assert {r["resolved"] for r in others} == {"false"}
        assert row["amount_diff"] == "-5.2500"
        assert row["vima_amount"] == "100.1234"
        assert {r["resolved_by"] for r in others} == {""}
    else:
        assert row["resolved"] is True
        assert {r["resolved"] for r in others} == {False}
        assert row["amount_diff"] == -5.25
        assert Decimal(str(row["vima_amount"])) == Decimal("100.1234")
        assert {r["resolved_by"] for r in others} == {None}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_reconciliation_export_of_a_range_and_a_type(
    api: TestClient, results: list[dict[str, Any]], fmt: str
) -> None:
    response = _recon(api, fmt, from_date="2026-03-01", to_date="2026-03-02", type="amount")
    assert disposition(response) == (
        f'attachment; filename="reconciliation_2026-03-01_2026-03-02.{fmt}"'
    )
    rows = cells(response, fmt)
    assert [(r["recon_date"], r["match_type"]) for r in rows] == [
        ("2026-03-01", "discrepancy_amount"),
        ("2026-03-02", "discrepancy_amount"),
    ]
    everything = cells(_recon(api, fmt, from_date="2026-03-01", to_date="2026-03-03"), fmt)
    assert len(everything) == len(results)
    for short, stored in [("matched", "matched"), ("missing_vima", "missing_vima")]:
        typed = cells(_recon(api, fmt, date="2026-03-03", type=short), fmt)
        assert [r["match_type"] for r in typed] == [stored]
    assert cells(_recon(api, fmt, date="2026-04-01"), fmt) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "date"),
        ({"date": "2026-03-01", "from_date": "2026-03-01", "to_date": "2026-03-02"}, "date"),
        ({"date": "2026-03-01", "to_date": "2026-03-02"}, "date"),
        ({"from_date": "2026-03-03", "to_date": "2026-03-01"}, "from_date"),
        ({"from_date": "2026-03-03"}, "to_date"),
        ({"date": "2026-02-30"}, "date"),
        ({"date": "2026-03-01", "type": "everything"}, "type"),
        ({"date": "2026-03-01", "format": "ods"}, "format"),
    ],
)
def test_reconciliation_export_refuses_bad_parameters(
    api: TestClient, params: dict[str, str], field: str
) -> None:
    response = api.get(f"{URL}/reconciliation", params=params, headers=READER)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [f["field"] for f in error["details"]["fields"]]


def test_openapi_documents_both_content_types(api: TestClient) -> None:
    paths = api.get("/api/v1/openapi.json").json()["paths"]
    for path in ("/api/v1/export/transactions", "/api/v1/export/reconciliation"):
        operation = paths[path]["get"]
        assert operation["summary"]
        assert operation["description"]
        content = operation["responses"]["200"]["content"]
        assert "text/csv; charset=utf-8" in content
        assert XLSX in content
        assert {"401", "422"} <= set(operation["responses"])


# --- a client that goes away ------------------------------------------------------------------


def _bulk_transactions(engine: Engine, count: int) -> None:
    """`count` transactions written by SQL in one statement (too many for `seeded`)."""
    with engine.begin() as conn:
        ensure_month_partitions(conn, date(2026, 3, 1), date(2026, 3, 31))
        conn.execute(
            text(
                """
INSERT INTO transactions (id, source, source_id, direction, amount, currency, status,
  original_status, user_name, user_email, created_at, data_hash)
SELECT gen_random_uuid(), 'vima', 'bulk-' || g, 'payin', g / 100.0, 'INR', 'success',
  'SUCCESS', 'Name, "quoted" ' || g, 'user' || g || '@example.com',
  timestamptz '2026-03-01 00:00:00+00' + g * interval '1 second', md5(g::text)
FROM generate_series(1, :count) AS g"""
            ),
            {"count": count},
        )


@pytest.fixture
def live_server(clean_db: Engine, redis_client: Any) -> Iterator[str]:
    """The app under a real uvicorn in a thread (TestClient cannot hang up mid-stream)."""
    port = free_port()
    config = uvicorn.Config(
        create_app(get_settings()), host="127.0.0.1", port=port, log_config=None
    )  # no log_config / log_level: uvicorn's loggers stay as the rest of the session expects
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


def _copies_running(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query LIKE 'COPY (SELECT %'"
            )
        ).scalar_one()


def test_client_hanging_up_cancels_the_copy_and_frees_the_connection(
    live_server: str, clean_db: Engine
) -> None:
    _bulk_transactions(clean_db, 150_000)  # about 30 MB of CSV: more than socket buffers hold
    with (
        httpx.Client(base_url=live_server, timeout=30) as client,
        client.stream("GET", f"{URL}/transactions", headers=READER) as response,
    ):
        assert response.status_code == 200
        received = 0
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > 512 * 1024:
                break
    # the client is gone with most of the file unread
    deadline = time.monotonic() + 15
    while clean_db.pool.checkedout() or _copies_running(clean_db):
        assert time.monotonic() < deadline, "the COPY still runs or its connection is out"
        time.sleep(0.1)
    # the pool still serves complete exports afterwards
    with httpx.Client(base_url=live_server, timeout=60) as client:
        response = client.get(
            f"{URL}/transactions", params={"search": "bulk-149999"}, headers=READER
        )
    assert [row["source_id"] for row in read_csv(response)] == ["bulk-149999"]
