"""`/reconciliation`: the summary and its complete/provisional flag, discrepancies, resolutions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, text

from hub_api.main import API_PREFIX
from hub_core.cache import DATA_VERSION_KEY
from hub_core.queries.reconciliation import SourceSync, trust_reasons
from hub_core.tables import reconciliation_results
from hub_core.types import Source
from hub_pipelines.warehouse.reconciliation_runs import record_reconciliation_run
from hub_pipelines.warehouse.sync import record_partition_sync
from tests.api.conftest import OPERATOR, READER

URL = f"{API_PREFIX}/reconciliation"
DAY = date(2026, 3, 10)
DAY_END = datetime(2026, 3, 11, tzinfo=UTC)
COUNTS = {
    "matched": 6,
    "discrepancy_amount": 2,
    "discrepancy_status": 1,
    "missing_vima": 1,
    "missing_payshack": 3,
    "duplicate": 2,
}


def _results(day: date, run_id: str = "run-1", counts: dict[str, int] = COUNTS) -> list[dict]:
    rows: list[dict[str, Any]] = []
    for match_type, n in counts.items():
        for i in range(n):
            rows.append(
                {
                    "recon_date": day,
                    "run_id": run_id,
                    "match_type": match_type,
                    "match_method": "exact" if match_type != "missing_vima" else None,
                    "discrepancy_key": f"{day}:{match_type}:{i}",
                    "client_operation_id": f"ord-{match_type}-{i}",
                    "vima_txn_id": None if match_type == "missing_vima" else f"v-{match_type}-{i}",
                    "payshack_txn_id": None if match_type == "missing_payshack" else f"p-{i}",
                    "vima_amount": Decimal("100.1250"),
                    "payshack_amount": Decimal("90.00"),
                    "amount_diff": Decimal("-10.1250"),
                    "currency": "INR",
                }
            )
    return rows


@pytest.fixture
def stored(clean_db: Engine) -> Engine:
    with clean_db.begin() as conn:
        conn.execute(insert(reconciliation_results), _results(DAY))
        conn.execute(insert(reconciliation_results), _results(DAY + timedelta(days=1), "run-2"))
    return clean_db


def _sync(
    engine: Engine, source: Source, at: datetime, complete: bool = True, day: date = DAY
) -> None:
    with engine.begin() as conn:
        record_partition_sync(conn, source, day.isoformat(), at, complete, 10)


def test_summary_counts_and_shares(api: TestClient, stored: Engine) -> None:
    body = api.get(f"{URL}/summary", params={"date": "2026-03-10"}, headers=READER).json()["data"]
    assert body["date"] == "2026-03-10"
    assert body["run_id"] == "run-1"
    assert body["run_at"].endswith("Z")
    assert body["total_transactions"] == 15
    assert body["matched"] == {"count": 6, "percentage": 40.0}
    assert body["discrepancies"] == {
        "count": 3,
        "percentage": 20.0,
        "by_type": {"amount": 2, "status": 1},
    }
    assert body["missing"] == {
        "count": 4,
        "percentage": 26.67,
        "missing_vima": 1,
        "missing_payshack": 3,
    }
    assert body["duplicates"] == {"count": 2, "percentage": 13.33}


def test_summary_is_provisional_until_both_sources_synced_the_closed_day(
    api: TestClient, stored: Engine, redis_client: redis.Redis
) -> None:
    def summary() -> dict:
        redis_client.incr(DATA_VERSION_KEY)  # as the pipelines do after each write
        return api.get(f"{URL}/summary", params={"date": "2026-03-10"}, headers=READER).json()[
            "data"
        ]

    body = summary()
    assert body["status"] == "provisional"
    assert "vima has not been synced for this day" in body["reasons"]
    assert body["sources"]["vima"] == {"synced_at": None, "complete": None}
    # the neighbours the 6 h margin reads count too
    assert (
        "payshack has not synced 2026-03-11 yet, which this day's reconciliation reads for "
        "its margin" in body["reasons"]
    )
    for neighbour in (DAY - timedelta(days=1), DAY + timedelta(days=1)):
        for source in Source:
            _sync(stored, source, DAY_END + timedelta(days=1), day=neighbour)

    _sync(stored, Source.VIMA, DAY_END + timedelta(minutes=5))
    _sync(stored, Source.PAYSHACK, DAY_END - timedelta(minutes=5))  # read before the day ended
    body = summary()
    assert body["status"] == "provisional"
    assert body["reasons"] == ["payshack was last synced before the day ended"]

    _sync(stored, Source.PAYSHACK, DAY_END + timedelta(minutes=10), complete=False)
    assert summary()["reasons"] == ["the last payshack sync of this day was incomplete"]

    _sync(stored, Source.PAYSHACK, DAY_END + timedelta(minutes=10))
    body = summary()
    assert body["status"] == "complete"
    assert body["reasons"] == []
    assert body["sources"]["payshack"] == {
        "synced_at": "2026-03-11T00:10:00.000Z",
        "complete": True,
    }


def test_a_reconciliation_made_without_all_inputs_stays_provisional(
    api: TestClient, stored: Engine
) -> None:
    day_before, day_after = DAY - timedelta(days=1), DAY + timedelta(days=1)
    for day in (day_before, DAY, day_after):
        for source in Source:
            _sync(stored, source, DAY_END + timedelta(days=1), day=day)
    missing = [{"source": "payshack", "partition": day_after.isoformat()}]
    with stored.begin() as conn:  # reconciled while payshack had not reached 03-11
        record_reconciliation_run(conn, DAY, "run-early", 15, missing)
        conn.execute(  # as if that run was made before the syncs above
            text("UPDATE reconciliation_runs SET run_at = :at"), {"at": DAY_END + timedelta(days=2)}
        )
    body = api.get(f"{URL}/summary", params={"date": DAY.isoformat()}, headers=READER).json()
    assert body["data"]["run_id"] == "run-early"
    assert body["data"]["status"] == "provisional"
    assert body["data"]["reasons"] == ["when it was reconciled, payshack had not synced 2026-03-11"]


def test_summary_of_a_day_without_results_or_still_open(api: TestClient, stored: Engine) -> None:
    body = api.get(f"{URL}/summary", params={"date": "2026-03-01"}, headers=READER).json()["data"]
    assert body["total_transactions"] == 0
    assert body["run_id"] is None
    assert body["matched"] == {"count": 0, "percentage": 0.0}
    assert "the day has not been reconciled yet" in body["reasons"]
    today = api.get(f"{URL}/summary", headers=READER).json()["data"]
    assert today["status"] == "provisional"
    assert any("still open" in reason for reason in today["reasons"])


def test_trust_reasons_margin_and_stale_reconciliation() -> None:
    synced = {s: SourceSync(DAY_END + timedelta(hours=1), True) for s in Source}
    run_at = DAY_END + timedelta(hours=2)
    assert trust_reasons(DAY, "UTC", DAY_END + timedelta(hours=7), 6, run_at, synced) == []
    # within the margin the next day's first hours may still pair with this day's rows
    assert trust_reasons(DAY, "UTC", DAY_END + timedelta(hours=5), 6, run_at, synced)
    early_run = DAY_END + timedelta(minutes=30)
    reasons = trust_reasons(DAY, "UTC", DAY_END + timedelta(hours=7), 6, early_run, synced)
    assert reasons == [
        "vima was synced again after the last reconciliation",
        "payshack was synced again after the last reconciliation",
    ]
    # a Kolkata day ends at 18:30 UTC the day before midnight UTC
    kolkata_end = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)
    kolkata = {s: SourceSync(kolkata_end + timedelta(minutes=1), True) for s in Source}
    assert trust_reasons(DAY, "Asia/Kolkata", DAY_END, 0, DAY_END, kolkata) == []


def test_discrepancies_filters_and_items(api: TestClient, stored: Engine) -> None:
    params = {"from_date": "2026-03-10", "to_date": "2026-03-10"}
    body = api.get(f"{URL}/discrepancies", params=params, headers=READER).json()
    assert body["meta"]["total"] == 9  # 15 results, 6 matched
    assert {item["match_status"] for item in body["data"]} == set(COUNTS) - {"matched"}
    item = next(i for i in body["data"] if i["match_status"] == "discrepancy_amount")
    assert item["discrepancy_type"] == "amount"
    assert item["vima_amount"] == 100.13 and item["amount_diff"] == -10.13
    assert item["resolution"] is None and item["recon_date"] == "2026-03-10"
    two_days = api.get(
        f"{URL}/discrepancies",
        params={"from_date": "2026-03-10", "to_date": "2026-03-11"},
        headers=READER,
    ).json()
    assert two_days["meta"]["total"] == 18
    missing = api.get(
        f"{URL}/discrepancies", params={**params, "type": "missing_payshack"}, headers=READER
    ).json()
    assert [i["discrepancy_type"] for i in missing["data"]] == ["missing_payshack"] * 3
    paged = api.get(
        f"{URL}/discrepancies", params={**params, "limit": 4, "page": 3}, headers=READER
    ).json()
    assert len(paged["data"]) == 1 and paged["meta"]["total_pages"] == 3


@pytest.mark.parametrize(
    ("params", "days"),
    [
        ({}, ["2026-03-10", "2026-03-11"]),  # no date: every day's, not today's alone
        ({"from_date": "2026-03-11"}, ["2026-03-11"]),
        ({"to_date": "2026-03-10"}, ["2026-03-10"]),
        ({"to_date": "2026-03-09"}, []),
    ],
)
def test_discrepancies_dates_are_bounds(
    api: TestClient, stored: Engine, params: dict, days: list[str]
) -> None:
    body = api.get(f"{URL}/discrepancies", params={**params, "limit": 100}, headers=READER).json()
    assert body["meta"]["total"] == 9 * len(days)
    assert sorted({item["recon_date"] for item in body["data"]}) == days
    unresolved = api.get(
        f"{URL}/discrepancies", params={**params, "resolved": "false"}, headers=READER
    ).json()
    assert unresolved["meta"]["total"] == 9 * len(days)


def test_discrepancies_show_what_their_figures_do_not(api: TestClient, clean_db: Engine) -> None:
    """An amount break in the paid amounts alone, and a duplicate's rows: `details` says so."""
    paid, dup = _results(DAY, counts={"discrepancy_amount": 1, "duplicate": 1})
    paid.update(vima_amount=Decimal(1200), payshack_amount=Decimal(1200), amount_diff=Decimal(0))
    paid["details"] = {
        "vima_paid_amount": 1200.0,
        "payshack_paid_amount": 1195.0,
        "created_gap_seconds": -16,
    }
    dup["details"] = {"key": "ord-7", "vima_rows": 2, "payshack_rows": 1}
    with clean_db.begin() as conn:
        conn.execute(insert(reconciliation_results), [paid, dup])
    items = api.get(
        f"{URL}/discrepancies", params={"from_date": "2026-03-10"}, headers=READER
    ).json()["data"]
    details = {item["match_status"]: item["details"] for item in items}
    assert details["discrepancy_amount"] == {
        "vima_paid_amount": 1200.0,
        "payshack_paid_amount": 1195.0,
        "created_gap_seconds": -16,
        "key": None,
        "vima_rows": None,
        "payshack_rows": None,
    }
    assert details["duplicate"] == {
        "vima_paid_amount": None,
        "payshack_paid_amount": None,
        "created_gap_seconds": None,
        "key": "ord-7",
        "vima_rows": 2,
        "payshack_rows": 1,
    }


def test_resolution_is_kept_across_a_rerun(api: TestClient, stored: Engine, engine: Engine) -> None:
    params = {"from_date": "2026-03-10", "to_date": "2026-03-10", "type": "status"}
    (item,) = api.get(f"{URL}/discrepancies", params=params, headers=READER).json()["data"]
    response = api.patch(
        f"{URL}/discrepancies/{item['id']}",
        json={"resolved": True, "note": "PayShack confirmed the refund"},
        headers=OPERATOR,
    )
    assert response.status_code == 200, response.text
    resolution = response.json()["data"]["resolution"]
    assert resolution["resolved"] is True and resolution["resolved_by"] == "operator"
    assert resolution["note"] == "PayShack confirmed the refund"
    # the day is reconciled again: new rows, new ids, the same stable keys
    with engine.begin() as conn:
        conn.execute(
            delete(reconciliation_results).where(reconciliation_results.c.recon_date == DAY)
        )
        conn.execute(insert(reconciliation_results), _results(DAY, "run-3"))
    resolved = api.get(
        f"{URL}/discrepancies", params={**params, "resolved": "true"}, headers=READER
    ).json()["data"]
    assert [i["discrepancy_key"] for i in resolved] == [item["discrepancy_key"]]
    assert resolved[0]["id"] != item["id"]
    open_ = api.get(
        f"{URL}/discrepancies",
        params={"from_date": "2026-03-10", "to_date": "2026-03-10", "resolved": "false"},
        headers=READER,
    ).json()
    assert open_["meta"]["total"] == 8
    reopened = api.patch(
        f"{URL}/discrepancies/{resolved[0]['id']}", json={"resolved": False}, headers=OPERATOR
    ).json()["data"]
    assert reopened["resolution"]["resolved"] is False


@pytest.mark.parametrize(
    ("headers", "path", "body", "status"),
    [
        (READER, "first", {"resolved": True}, 403),
        ({}, "first", {"resolved": True}, 401),
        (OPERATOR, "999999", {"resolved": True}, 404),
        (OPERATOR, "matched", {"resolved": True}, 404),
        (OPERATOR, "first", {"resolved": "maybe"}, 422),
        (OPERATOR, "first", {"note": "no flag"}, 422),
        (OPERATOR, "first", {"resolved": True, "extra": 1}, 422),
        (OPERATOR, "first", {"resolved": True, "note": "x" * 2001}, 422),
        (OPERATOR, "abc", {"resolved": True}, 422),
        (OPERATOR, "0", {"resolved": True}, 422),
    ],
)
def test_patch_refusals(
    api: TestClient, stored: Engine, headers: dict, path: str, body: dict, status: int
) -> None:
    items = api.get(
        f"{URL}/discrepancies", params={"from_date": "2026-03-10"}, headers=READER
    ).json()["data"]
    if path == "first":
        path = str(items[0]["id"])
    elif path == "matched":
        path = str(min(i["id"] for i in items) - 1)  # ids are inserted matched-first
    response = api.patch(f"{URL}/discrepancies/{path}", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert "error" in response.json()


@pytest.mark.parametrize(
    "params",
    [
        {"from_date": "2026-03-12", "to_date": "2026-03-10"},
        {"type": "matched"},
        {"type": "weird"},
        {"resolved": "perhaps"},
        {"limit": 500},
    ],
)
def test_discrepancies_bad_input(api: TestClient, params: dict) -> None:
    response = api.get(f"{URL}/discrepancies", params=params, headers=READER)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_summary_bad_date(api: TestClient) -> None:
    response = api.get(f"{URL}/summary", params={"date": "2026-02-30"}, headers=READER)
    assert response.status_code == 422
