"""`/transactions`: filters, sorting, offset and keyset paging, search, detail, bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select

from hub_api.main import API_PREFIX
from hub_core.queries import transactions as queries
from hub_core.queries.filters import TransactionFilters
from hub_core.queries.reconciliation import RESULT_REACH_DAYS
from hub_core.tables import reconciliation_results, transactions
from hub_core.types import Direction, Source, Status, Transaction
from tests.api.conftest import READER, make_txn

URL = f"{API_PREFIX}/transactions"
DAY = datetime(2026, 3, 10, tzinfo=UTC)


def _world() -> list[Transaction]:
    """12 transactions over three days with known fields (ties and a NULL project included)."""
    rows = []
    for n in range(12):
        rows.append(
            make_txn(
                DAY + timedelta(days=n % 3, hours=n),
                source=Source.VIMA if n % 2 == 0 else Source.PAYSHACK,
                amount=Decimal("100.00") * (n % 4 + 1),  # ties on amount
                status=[Status.SUCCESS, Status.FAILED, Status.PENDING][n % 3],
                direction=Direction.PAYOUT if n % 5 == 0 else Direction.PAYIN,
                project=None if n == 7 else ("91game" if n % 3 else "caroussel"),
                source_id=f"src-{n:02d}",
                match_key=f"ord-{n:02d}",
                client_operation_id=f"ord-{n:02d}",
                utr=f"4100000000{n:02d}",
                user_email=f"Person{n}@Example.com",
                user_phone=f"+9198000000{n:02d}",
            )
        )
    return rows


@pytest.fixture
def world(seeded: Callable[..., list[Transaction]]) -> list[Transaction]:
    return seeded(_world())


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


def _expected(rows: list[Transaction], key, reverse: bool) -> list[str]:
    return [t.id for t in sorted(rows, key=key, reverse=reverse)]


def test_list_defaults_newest_first_with_meta(api: TestClient, world: list[Transaction]) -> None:
    response = api.get(URL, headers=READER)
    assert _ids(response) == _expected(world, lambda t: (t.created_at, t.id), True)
    body = response.json()
    assert body["meta"] == {
        "page": 1,
        "limit": 50,
        "total": 12,
        "total_pages": 1,
        "next_cursor": None,
        "total_is_estimate": False,
    }
    first = body["data"][0]
    assert first["created_at"].endswith("Z")
    assert isinstance(first["amount"], float)
    assert "raw_data" not in first


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"source": "vima"}, lambda t: t.source == Source.VIMA),
        ({"status": "failed"}, lambda t: t.status == Status.FAILED),
        ({"direction": "payout"}, lambda t: t.direction == Direction.PAYOUT),
        ({"project": "caroussel"}, lambda t: t.project == "caroussel"),
        ({"min_amount": "200", "max_amount": "300"}, lambda t: 200 <= t.amount <= 300),
        (
            {"from_date": "2026-03-11", "to_date": "2026-03-11"},
            lambda t: t.created_at.date() == date(2026, 3, 11),
        ),
        ({"from_date": "2026-03-12"}, lambda t: t.created_at.date() >= date(2026, 3, 12)),
        ({"to_date": "2026-03-10"}, lambda t: t.created_at.date() <= date(2026, 3, 10)),
        (
            {"source": "payshack", "status": "success", "currency": "inr"},
            lambda t: t.source == Source.PAYSHACK and t.status == Status.SUCCESS,
        ),
    ],
)
def test_filters(api: TestClient, world: list[Transaction], params: dict, predicate) -> None:
    response = api.get(URL, params=params, headers=READER)
    wanted = [t for t in world if predicate(t)]
    assert sorted(_ids(response)) == sorted(t.id for t in wanted)
    assert response.json()["meta"]["total"] == len(wanted)


def test_from_and_to_date_read_in_the_requested_timezone(
    api: TestClient, seeded: Callable[..., list[Transaction]]
) -> None:
    # 18:45 UTC on the 9th is already the 10th in Kolkata (+05:30); 18:15 UTC is not
    early, late = seeded(
        [
            make_txn(datetime(2026, 3, 9, 18, 15, tzinfo=UTC)),
            make_txn(datetime(2026, 3, 9, 18, 45, tzinfo=UTC)),
        ]
    )
    params = {"from_date": "2026-03-10", "to_date": "2026-03-10", "timezone": "Asia/Kolkata"}
    assert _ids(api.get(URL, params=params, headers=READER)) == [late.id]
    params["timezone"] = "UTC"
    assert _ids(api.get(URL, params=params, headers=READER)) == []
    params.update(from_date="2026-03-09", to_date="2026-03-09")
    assert set(_ids(api.get(URL, params=params, headers=READER))) == {early.id, late.id}


SORTS = {
    "created_at": lambda t: (t.created_at, t.id),
    "amount": lambda t: (t.amount, t.created_at, t.id),
    "status": lambda t: (t.status.value, t.created_at, t.id),
}


@pytest.mark.parametrize("sort_by", [*SORTS, "project"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_offset_and_keyset_paging_walk_the_same_order(
    api: TestClient, world: list[Transaction], sort_by: str, order: str
) -> None:
    params = {"sort_by": sort_by, "order": order, "limit": 5}
    by_offset: list[str] = []
    for page in (1, 2, 3):
        response = api.get(URL, params={**params, "page": page}, headers=READER)
        by_offset += _ids(response)
        assert response.json()["meta"]["total_pages"] == 3
    by_cursor: list[str] = []
    cursor = None
    for _ in range(5):
        response = api.get(
            URL, params={**params, **({"cursor": cursor} if cursor else {})}, headers=READER
        )
        by_cursor += _ids(response)
        cursor = response.json()["meta"]["next_cursor"]
        if cursor is None:
            break
    assert by_cursor == by_offset
    assert len(by_offset) == 12 and len(set(by_offset)) == 12
    if sort_by in SORTS:
        assert by_offset == _expected(world, SORTS[sort_by], order == "desc")
    else:  # NULL project last ascending, first descending (PostgreSQL's placement)
        null_id = next(t.id for t in world if t.project is None)
        assert by_offset[-1 if order == "asc" else 0] == null_id


def test_keyset_with_filters_and_a_page_past_the_end(
    api: TestClient, world: list[Transaction]
) -> None:
    params = {"source": "vima", "limit": 4}
    first = api.get(URL, params=params, headers=READER).json()
    second = api.get(URL, params={**params, "cursor": first["meta"]["next_cursor"]}, headers=READER)
    ids = [r["id"] for r in first["data"]] + _ids(second)
    assert sorted(ids) == sorted(t.id for t in world if t.source == Source.VIMA)
    assert second.json()["meta"]["next_cursor"] is None
    beyond = api.get(URL, params={"page": 9}, headers=READER)
    assert _ids(beyond) == []
    assert beyond.json()["meta"]["total"] == 12


@pytest.mark.parametrize(
    "term",
    ["src-04", "ord-04", "410000000004", "person4@example.COM", "+919800000004", " ord-04 "],
)
def test_search_finds_by_each_id(api: TestClient, world: list[Transaction], term: str) -> None:
    assert _ids(api.get(URL, params={"search": term}, headers=READER)) == [world[4].id]


def test_search_by_hub_id_and_nothing_partial(api: TestClient, world: list[Transaction]) -> None:
    assert _ids(api.get(URL, params={"search": world[3].id}, headers=READER)) == [world[3].id]
    assert _ids(api.get(URL, params={"search": "ord-0"}, headers=READER)) == []


@pytest.mark.parametrize(
    "term", ["'; DROP TABLE transactions; --", "' OR '1'='1", "%", "_", "\\", "ord-04' --"]
)
def test_sql_looking_search_changes_nothing(
    api: TestClient, world: list[Transaction], engine: Engine, term: str
) -> None:
    response = api.get(URL, params={"search": term}, headers=READER)
    assert _ids(response) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(transactions)).scalar_one() == 12


def test_detail_has_raw_data_and_its_reconciliation(
    api: TestClient, world: list[Transaction], engine: Engine
) -> None:
    vima = world[0]
    with engine.begin() as conn:
        conn.execute(
            insert(reconciliation_results),
            [
                {
                    "recon_date": date(2026, 3, 10),
                    "run_id": "run-1",
                    "match_type": "discrepancy_amount",
                    "match_method": "exact",
                    "discrepancy_key": f"v:{vima.source_id}|p:PS1",
                    "client_operation_id": vima.client_operation_id,
                    "vima_txn_id": vima.source_id,
                    "payshack_txn_id": "PS1",
                    "vima_amount": Decimal("100.00"),
                    "payshack_amount": Decimal("90.00"),
                    "amount_diff": Decimal("10.00"),
                }
            ],
        )
    body = api.get(f"{URL}/{vima.id}", headers=READER).json()["data"]
    assert body["id"] == vima.id
    assert body["raw_data"] == vima.raw_data
    assert body["reconciliation"]["discrepancy_type"] == "amount"
    assert body["reconciliation"]["amount_diff"] == 10.0
    assert len(body["reconciliation_results"]) == 1
    unreconciled = api.get(f"{URL}/{world[1].id}", headers=READER).json()["data"]
    assert unreconciled["reconciliation"] is None


def test_detail_reads_results_dated_near_the_transaction_only(
    api: TestClient, world: list[Transaction], engine: Engine
) -> None:
    """A result names a transaction of its day's window (the day widened by the margin): the
    detail looks within `RESULT_REACH_DAYS` of its creation, so that only those days'
    partitions of the results are read."""
    payshack = next(t for t in world if t.source == "payshack")
    created = payshack.created_at.date()
    row = {
        "run_id": "run-1",
        "match_type": "missing_vima",
        "discrepancy_key": f"p:{payshack.source_id}",
        "payshack_txn_id": payshack.source_id,
    }
    near = created + timedelta(days=RESULT_REACH_DAYS)
    far = created + timedelta(days=RESULT_REACH_DAYS + 1)
    with engine.begin() as conn:
        conn.execute(
            insert(reconciliation_results),
            [{**row, "recon_date": near}, {**row, "recon_date": far}],
        )
    body = api.get(f"{URL}/{payshack.id}", headers=READER).json()["data"]
    assert [r["recon_date"] for r in body["reconciliation_results"]] == [near.isoformat()]
    assert body["reconciliation"]["discrepancy_type"] == "missing_vima"


@pytest.mark.parametrize("ident", ["00000000-0000-0000-0000-000000000000", "not-an-id", "1"])
def test_detail_unknown_is_404_envelope(
    api: TestClient, world: list[Transaction], ident: str
) -> None:
    response = api.get(f"{URL}/{ident}", headers=READER)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort_by": "amount; DROP TABLE transactions"}, "sort_by"),
        ({"sort_by": "user_email"}, "sort_by"),
        ({"order": "sideways"}, "order"),
        ({"limit": "101"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"from_date": "2026-13-01"}, "from_date"),
        ({"from_date": "yesterday"}, "from_date"),
        ({"from_date": "2026-03-12", "to_date": "2026-03-10"}, "from_date"),
        ({"status": "settled"}, "status"),
        ({"source": "stripe"}, "source"),
        ({"direction": "sideways"}, "direction"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"min_amount": "-1"}, "min_amount"),
        ({"min_amount": "NaN"}, "min_amount"),
        ({"min_amount": "5", "max_amount": "1"}, "min_amount"),
        ({"currency": "RUPEES"}, "currency"),
        ({"cursor": "garbage"}, "cursor"),
        ({"search": "x" * 201}, "search"),
    ],
)
def test_bad_input_is_a_422_envelope(
    api: TestClient, world: list[Transaction], params: dict, field: str
) -> None:
    response = api.get(URL, params=params, headers=READER)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [f["field"] for f in error["details"]["fields"]]


def test_a_cursor_of_another_sort_is_refused(api: TestClient, world: list[Transaction]) -> None:
    cursor = api.get(URL, params={"limit": 2}, headers=READER).json()["meta"]["next_cursor"]
    response = api.get(URL, params={"cursor": cursor, "sort_by": "amount"}, headers=READER)
    assert response.status_code == 422


def test_total_is_an_estimate_past_the_cap(
    api: TestClient, world: list[Transaction], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "COUNT_CAP", 5)
    meta = api.get(URL, params={"limit": 2}, headers=READER).json()["meta"]
    assert meta["total_is_estimate"] is True
    assert meta["total"] == 12  # from hourly_metrics, which the seed refreshed
    meta = api.get(URL, params={"min_amount": "1"}, headers=READER).json()["meta"]
    assert meta["total_is_estimate"] is True
    assert meta["total"] == 6  # capped: the cap + 1, 'more than 5'
    meta = api.get(URL, params={"source": "vima"}, headers=READER).json()["meta"]
    assert meta == {**meta, "total": 6, "total_is_estimate": True}


def test_list_needs_a_key(api: TestClient) -> None:
    assert api.get(URL).status_code == 401


def test_count_stops_at_the_cap(engine: Engine, world: list[Transaction]) -> None:
    with engine.connect() as conn:
        assert queries.count_transactions(conn, TransactionFilters(), cap=20) == 12
        assert queries.count_transactions(conn, TransactionFilters(), cap=11) is None


@given(
    sort_by=st.sampled_from(["created_at", "amount", "status", "project"]),
    order=st.sampled_from(["asc", "desc"]),
    value=st.one_of(
        st.none(),
        st.text(max_size=20),
        st.decimals(allow_nan=False, allow_infinity=False, places=2),
    ),
)
def test_cursor_round_trips(sort_by: str, order: str, value) -> None:
    created = datetime(2026, 3, 10, 1, 2, 3, 456789, tzinfo=UTC)
    if sort_by == "created_at":
        value = created
    elif sort_by == "amount" and not isinstance(value, Decimal):
        value = Decimal("12.50")
    elif sort_by == "status":
        value = "" if value is None else str(value)
    row = {sort_by: value, "created_at": created, "id": "3f0c1f5e-8d3b-5a4e-9b7a-2f1e4c6d8a90"}
    cursor = queries.encode_cursor(sort_by, order, row)
    decoded = queries.decode_cursor(cursor, sort_by, order)
    expected = value if sort_by != "project" or value is None else str(value)
    assert decoded == (expected, created, row["id"])
    with pytest.raises(queries.InvalidCursor):
        queries.decode_cursor(cursor, sort_by, "asc" if order == "desc" else "desc")


def test_total_is_cached_until_the_data_version_changes(
    api: TestClient, world: list[Transaction], seeded, redis_client
) -> None:
    from hub_core.cache import DATA_VERSION_KEY

    assert api.get(URL, headers=READER).json()["meta"]["total"] == 12
    seeded([make_txn(DAY + timedelta(hours=2))])
    assert api.get(URL, headers=READER).json()["meta"]["total"] == 12  # same data version
    redis_client.incr(DATA_VERSION_KEY)  # what the pipelines do after a write
    assert api.get(URL, headers=READER).json()["meta"]["total"] == 13


@pytest.mark.parametrize("cap", [1, 1000])
def test_search_matching_many_rows_pages_the_same(
    api: TestClient, seeded, monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    monkeypatch.setattr(queries, "SEARCH_HITS_CAP", cap)
    rows = seeded(
        [make_txn(DAY + timedelta(minutes=n), user_email="same@example.com") for n in range(5)]
    )
    first = api.get(URL, params={"search": "same@example.com", "limit": 3}, headers=READER)
    cursor = first.json()["meta"]["next_cursor"]
    second = api.get(
        URL, params={"search": "same@example.com", "limit": 3, "cursor": cursor}, headers=READER
    )
    assert _ids(first) + _ids(second) == [
        t.id for t in sorted(rows, key=lambda t: t.created_at, reverse=True)
    ]
