"""The PayShack stand-in's JSON API over real HTTP: login, lists, filters, tokens, knobs."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub_sandbox.payshack import LOGIN_PATH, PAYIN_PATH, PAYOUT_PATH, PayShackKnobs
from hub_sandbox.scenario import Scenario
from hub_sandbox.server import SandboxHandle

from .conftest import SandboxFactory

IST = timedelta(hours=5, minutes=30)
PATHS = {"payin": PAYIN_PATH, "payout": PAYOUT_PATH}


def login(handle: SandboxHandle, http: httpx.Client | None = None) -> dict[str, Any]:
    """Log in; returns the `data` of the answer."""
    own = http is None
    http = http or httpx.Client(base_url=handle.payshack_url, timeout=10)
    try:
        response = http.post(
            handle.payshack_url + LOGIN_PATH,
            json={"email": handle.email, "password": handle.password},
        )
    finally:
        if own:
            http.close()
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def session(handle: SandboxHandle, **kwargs: Any) -> httpx.Client:
    """A client logged in as the dashboard would be (bearer token + reseller-id)."""
    data = login(handle)
    kwargs.setdefault("timeout", 10)
    return httpx.Client(
        base_url=handle.payshack_url,
        headers={"Authorization": f"Bearer {data['token']}", "reseller-id": data["clientId"]},
        **kwargs,
    )


def list_page(http: httpx.Client, kind: str, **params: Any) -> dict[str, Any]:
    response = http.get(PATHS[kind], params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def list_all(http: httpx.Client, kind: str, limit: int = 100, **params: Any) -> list[dict]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        data = list_page(http, kind, page=page, limit=limit, **params)
        rows.extend(data["transactions"])
        if data["nextPage"] is None:
            return rows
        assert data["nextPage"] == page + 1
        page += 1


def created(row: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(row["createdAt"])


def ist_day(row: dict[str, Any]) -> date:
    return (created(row) + IST).date()


def newest_first(rows: list[dict[str, Any]]) -> bool:
    keys = [(created(row), row["txnId"]) for row in rows]
    return keys == sorted(keys, reverse=True)


def test_login_success_and_failures(sandbox: SandboxHandle) -> None:
    data = login(sandbox)
    assert data["token"].count(".") == 2 and data["refreshToken"] != data["token"]
    assert data["clientId"] and data["expiresIn"] == 1800
    with httpx.Client(base_url=sandbox.payshack_url) as http:
        for payload in (
            {"email": sandbox.email, "password": sandbox.password + "x"},
            {"email": "someone@else.test", "password": sandbox.password},
        ):
            response = http.post(LOGIN_PATH, json=payload)
            assert response.status_code == 401
            assert response.json() == {"success": False, "message": "Invalid email or password"}
            assert sandbox.password not in response.text
        upper = http.post(
            LOGIN_PATH, json={"email": sandbox.email.upper(), "password": sandbox.password}
        )
        assert upper.status_code == 200  # the email is case-insensitive
        for bad in ({"email": sandbox.email}, [], None):
            response = http.post(LOGIN_PATH, json=bad)
            assert response.status_code == 400 and response.json()["success"] is False
    stats = sandbox.stats()["payshack"]
    assert stats["logins"] == 2 and stats["login_failures"] == 5
    assert stats["requests"]["login"] == 7


@pytest.mark.parametrize("kind", ["payin", "payout"])
def test_paging_newest_first_covers_every_row_once(sandbox: SandboxHandle, kind: str) -> None:
    expected = sandbox.world.payshack_rows(kind)  # type: ignore[arg-type]
    assert len(expected) > 25
    with session(sandbox) as http:
        first = list_page(http, kind, limit=25)
        assert first["totalRecords"] == len(expected)
        assert first["perPage"] == 25 and first["currentPageNo"] == 1 and first["nextPage"] == 2
        assert first["totalPages"] == -(-len(expected) // 25)
        assert first["transactions"] == expected[:25]
        rows = list_all(http, kind, limit=25)
        last = list_page(http, kind, limit=25, page=first["totalPages"])
        assert last["nextPage"] is None
        beyond = list_page(http, kind, limit=25, page=first["totalPages"] + 1)
        assert beyond["transactions"] == [] and beyond["totalRecords"] == len(expected)
        default = list_page(http, kind)
        assert default["perPage"] == 10 and len(default["transactions"]) == 10
    assert rows == expected
    assert newest_first(rows)
    assert len({row["txnId"] for row in rows}) == len(rows)
    if kind == "payout":
        assert {"beneName", "beneAccount", "beneIfsc", "txnCharges", "netAmount"} <= set(rows[0])


def test_date_filters_are_inclusive_ist_days(sandbox: SandboxHandle, scenario: Scenario) -> None:
    expected = sandbox.world.payshack_rows("payin")
    by_day = Counter(ist_day(row) for row in expected)
    assert len(by_day) >= 3  # two UTC days span three IST dates
    with session(sandbox) as http:
        for day, count in by_day.items():
            rows = list_all(http, "payin", dateFrom=day.isoformat(), dateTo=day.isoformat())
            assert len(rows) == count
            assert all(ist_day(row) == day for row in rows)
        utc_day = scenario.start
        span = list_all(
            http,
            "payin",
            dateFrom=utc_day.isoformat(),
            dateTo=(utc_day + timedelta(days=1)).isoformat(),
        )
        in_utc_day = [row for row in span if created(row).date() == utc_day]
        assert sorted(r["txnId"] for r in in_utc_day) == sorted(
            r["txnId"] for r in expected if created(r).date() == utc_day
        )
        assert any(created(row).date() != utc_day for row in span)  # IST, not UTC
        only_from = list_all(http, "payin", dateFrom=max(by_day).isoformat())
        assert len(only_from) == by_day[max(by_day)]
        only_to = list_all(http, "payin", dateTo=min(by_day).isoformat())
        assert len(only_to) == by_day[min(by_day)]
        far = list_page(http, "payin", dateFrom="2030-01-01", dateTo="2030-01-02")
        assert far["transactions"] == [] and far["totalRecords"] == 0 and far["nextPage"] is None


def test_status_filter_is_case_insensitive_and_id_filters_match_exactly(
    sandbox: SandboxHandle,
) -> None:
    expected = sandbox.world.payshack_rows("payin")
    raw_success = {row["txnStatus"] for row in expected if row["txnStatus"].lower() == "success"}
    assert len(raw_success) >= 2, raw_success  # mixed case in the data
    wanted = [row["txnId"] for row in expected if row["txnStatus"].lower() == "success"]
    target = expected[len(expected) // 2]
    with session(sandbox) as http:
        for spelling in ("success", "SUCCESS", "Success"):
            rows = list_all(http, "payin", status=spelling)
            assert [row["txnId"] for row in rows] == wanted
        by_order = list_page(http, "payin", orderId=target["orderId"])
        assert target in by_order["transactions"]
        assert all(row["orderId"] == target["orderId"] for row in by_order["transactions"])
        by_txn = list_page(http, "payin", transactionId=target["txnId"])
        assert by_txn["transactions"] == [target] and by_txn["totalRecords"] == 1
        other_status = "failed" if target["txnStatus"].lower() != "failed" else "success"
        assert (
            list_page(http, "payin", transactionId=target["txnId"], status=other_status)[
                "transactions"
            ]
            == []
        )
        assert list_page(http, "payin", orderId="NO-SUCH-ORDER")["totalRecords"] == 0


def test_limits_and_bad_parameters(sandbox: SandboxHandle) -> None:
    with session(sandbox) as http:
        assert len(list_page(http, "payin", limit=100)["transactions"]) == 100
        for params in (
            {"limit": 101},
            {"limit": 0},
            {"page": 0},
            {"page": "two"},
            {"dateFrom": "15-01-2026"},
            {"dateTo": "2026-13-01"},
        ):
            response = http.get(PAYIN_PATH, params=params)
            assert response.status_code == 400, params
            assert response.json()["success"] is False and response.json()["message"]
        assert "100" in http.get(PAYOUT_PATH, params={"limit": 500}).json()["message"]


def test_tokens_missing_invalid_and_expired(make_sandbox: SandboxFactory) -> None:
    with make_sandbox(token_ttl=1.0) as handle:
        with httpx.Client(base_url=handle.payshack_url) as raw:
            missing = raw.get(PAYIN_PATH)
            assert missing.status_code == 401
            assert missing.json() == {"success": False, "message": "Unauthorized"}
            forged = raw.get(PAYIN_PATH, headers={"Authorization": "Bearer abc.def.ghi"})
            assert forged.status_code == 401 and forged.json()["message"] == "Unauthorized"
            basic = raw.get(PAYOUT_PATH, auth=(handle.email, handle.password))
            assert basic.status_code == 401
        with session(handle) as http:
            assert list_page(http, "payin", limit=1)["totalRecords"] > 0
            time.sleep(1.1)
            expired = http.get(PAYIN_PATH, params={"limit": 1})
            assert expired.status_code == 401
            assert expired.json() == {"success": False, "message": "Token expired"}
            assert http.get(PAYOUT_PATH).status_code == 401
        with session(handle) as http:  # a new login gives a working token again
            assert list_page(http, "payout", limit=1)["transactions"]
        assert handle.stats()["payshack"]["rejected_tokens"] == 5


def test_insert_knob_shifts_pages_and_totals(make_sandbox: SandboxFactory) -> None:
    knobs = PayShackKnobs(insert_every=2, insert_count=3)
    with make_sandbox(knobs=knobs) as handle, session(handle) as http:
        day = max(ist_day(row) for row in handle.world.payshack_rows("payin"))
        params = {"dateFrom": day.isoformat(), "dateTo": day.isoformat(), "limit": 10}
        first = list_page(http, "payin", page=1, **params)
        second = list_page(http, "payin", page=2, **params)  # 3 rows inserted before answering
        assert second["totalRecords"] == first["totalRecords"] + 3
        inserted = handle.world.inserted_payshack_rows
        assert len(inserted) == 3 and all(kind == "payin" for kind, _ in inserted)
        assert all(ist_day(row) == day for _, row in inserted)
        new_ids = {row["txnId"] for _, row in inserted}
        existing = {row["txnId"] for row in handle.world.payshack_rows("payin")}
        assert new_ids <= existing
        # a reader paging newest first either repeats or misses rows: the total tells it
        everything_now = [
            row["txnId"] for row in list_all(http, "payin", limit=100, dateFrom=day.isoformat())
        ]
        assert len(everything_now) == len(set(everything_now))
        third = list_page(http, "payin", page=1, **params)
        assert third["totalRecords"] >= second["totalRecords"]
        stats = handle.stats()["payshack"]
        assert stats["rows_inserted"] == len(handle.world.inserted_payshack_rows)
        assert stats["rows_inserted"] >= 6


def test_error_slow_and_login_failure_knobs(make_sandbox: SandboxFactory) -> None:
    with make_sandbox() as handle:
        base = handle.payshack_url
        with session(handle) as http:
            knobs = httpx.post(base + "/_sandbox/knobs", json={"error_every": 2})
            assert knobs.status_code == 200 and knobs.json()["error_every"] == 2
            statuses = [http.get(PAYIN_PATH).status_code for _ in range(6)]
            assert statuses == [200, 500, 200, 502, 200, 503]
            handle.knobs.update(error_every=0, slow_every=1, slow_seconds=1.0)
            with pytest.raises(httpx.TimeoutException):
                http.get(PAYIN_PATH, timeout=0.3)
            started = time.monotonic()
            assert http.get(PAYOUT_PATH, timeout=5).status_code == 200
            assert time.monotonic() - started >= 0.9
            handle.knobs.update(slow_every=0)
            bad = httpx.post(base + "/_sandbox/knobs", json={"no_such_knob": 1})
            assert bad.status_code == 400
            httpx.post(base + "/_sandbox/knobs", json={"login_fail_first": 2})
            with httpx.Client(base_url=base) as raw:
                answers = [
                    raw.post(LOGIN_PATH, json={"email": handle.email, "password": handle.password})
                    for _ in range(3)
                ]
            assert [a.status_code for a in answers] == [503, 503, 200]
            assert answers[0].headers["content-type"].startswith("text/html")
        stats = handle.stats()["payshack"]
        assert stats["faults"] == {"500": 1, "502": 1, "503": 1, "slow": 2, "login_503": 2}
        assert stats["login_failures"] == 2 and stats["logins"] == 2
        assert stats["requests"]["payin"] == 7 and stats["requests"]["payout"] == 1
        reset = httpx.post(base + "/_sandbox/reset-stats")
        assert reset.status_code == 200
        after = httpx.get(base + "/_sandbox/stats").json()
        assert after["logins"] == 0 and after["faults"] == {} and after["requests"] == {}


def test_advance_applies_payshack_late_changes(sandbox: SandboxHandle, scenario: Scenario) -> None:
    changes = [c for c in scenario.late_changes if c.source == "payshack"]
    assert changes
    change = changes[0]
    kind = change.kind or "payin"
    before = sandbox.world.payshack_row(kind, change.key)
    assert before is not None
    response = httpx.post(sandbox.payshack_url + "/_sandbox/advance", json={"until": None})
    assert response.status_code == 200
    assert response.json()["applied"] == len(scenario.late_changes)
    with session(sandbox) as http:
        row = list_page(http, kind, transactionId=change.key)["transactions"][0]
        for name, value in change.changes.items():
            assert row[name] == value
        assert row["modifiedAt"] != before["modifiedAt"]
        assert row["createdAt"] == before["createdAt"]
        if "txnStatus" in change.changes:
            again = list_all(http, kind, status=change.changes["txnStatus"].lower())
            assert change.key in {r["txnId"] for r in again}
        stale = httpx.post(sandbox.payshack_url + "/_sandbox/advance", json={"until": "nope"})
        assert stale.status_code == 400
    assert sandbox.world.pending_late_changes() == 0
    assert httpx.post(sandbox.vima_url + "/_sandbox/advance").json()["applied"] == 0


def test_live_mode_adds_rows_with_monotonic_cursors(
    make_sandbox: SandboxFactory, scenario: Scenario
) -> None:
    with make_sandbox(live=True, live_interval=0.2) as handle:
        world = handle.world
        ops_before = len(scenario.vima_operations)
        deadline = time.monotonic() + 5
        while world.live_ticks < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert world.live_ticks >= 3 and world.live_errors == 0
        assert world.pending_late_changes() == 0 or world.next_late_change_at() is not None
        added = world.vima_count() - ops_before
        assert added >= 1  # the first tick covers one minute of payments
        ops = world.vima_operations()
        create_ids = [int(op["operation_create_id"]) for op in ops]
        assert create_ids == sorted(create_ids) and len(set(create_ids)) == len(create_ids)
        update_ids = [int(op["operation_update_id"]) for op in ops]
        assert len(set(update_ids)) == len(update_ids)
        now = datetime.now(UTC)
        newest = ops[-1]
        assert abs(datetime.fromisoformat(newest["operation_created_at"]) - now) < timedelta(
            minutes=5
        )
    assert not world.live
