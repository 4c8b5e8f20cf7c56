"""The Vima stand-in over real HTTP: paging, filters, limits, auth, faults, late changes."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from hub_sandbox.scenario import LateChange, Scenario
from hub_sandbox.server import SandboxHandle, running_sandbox
from hub_sandbox.vima import OPERATION_PATH, FaultPlan
from hub_sandbox.world import World

from .conftest import SandboxFactory


def client(handle: SandboxHandle, **kwargs: Any) -> httpx.Client:
    """An httpx client authenticated with HTTP Basic (any user name, password = the key)."""
    kwargs.setdefault("timeout", 10)
    return httpx.Client(base_url=handle.vima_url, auth=("collector", handle.api_key), **kwargs)


def fetch(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get(OPERATION_PATH, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list)
    return body


def page_all(http: httpx.Client, cursor: str, count: int = 100, **params: Any) -> list[dict]:
    """Follow one cursor until the empty array."""
    field = cursor.removeprefix("from_")
    position = "0"
    out: list[dict[str, Any]] = []
    for _ in range(10_000):
        page = fetch(http, count=count, **{cursor: position}, **params)
        if not page:
            return out
        assert len(page) <= count
        out.extend(page)
        position = page[-1][field]
    raise AssertionError("paging did not end")


def days_of(scenario: Scenario) -> list[date]:
    return [scenario.start + timedelta(days=i) for i in range(scenario.days)]


@pytest.mark.parametrize("cursor", ["from_operation_create_id", "from_operation_update_id"])
@pytest.mark.parametrize("count", [100, 7])
def test_paging_a_day_by_either_cursor_has_no_gap_and_no_repeat(
    sandbox: SandboxHandle, scenario: Scenario, cursor: str, count: int
) -> None:
    field = cursor.removeprefix("from_")
    with client(sandbox) as http:
        for day in days_of(scenario):
            got = page_all(http, cursor, count=count, date=day.isoformat())
            expected = sandbox.world.vima_operations(day)
            assert len(expected) > 100
            keys = [int(op[field]) for op in got]
            assert keys == sorted(keys) and len(set(keys)) == len(keys)  # ascending, no repeat
            assert sorted(op["operation_id"] for op in got) == sorted(
                op["operation_id"] for op in expected
            )
            assert all(op["operation_created_at"].startswith(day.isoformat()) for op in got)
            by_id = {op["operation_id"]: op for op in expected}
            assert all(op == by_id[op["operation_id"]] for op in got)  # served exactly as stored


def test_without_cursor_orders_by_create_id_and_descending_newest_first(
    sandbox: SandboxHandle, scenario: Scenario
) -> None:
    everything = sandbox.world.vima_operations()
    create_ids = [op["operation_create_id"] for op in everything]
    with client(sandbox) as http:
        default = fetch(http)
        assert [op["operation_create_id"] for op in default] == create_ids[:20]  # count 20
        oldest = fetch(http, count=10, descending="false")
        assert [op["operation_create_id"] for op in oldest] == create_ids[:10]
        newest = fetch(http, count=10, descending="true")
        assert [op["operation_create_id"] for op in newest] == create_ids[::-1][:10]
        created = [op["operation_created_at"] for op in newest]
        assert created == sorted(created, reverse=True)
        first_day = scenario.start.isoformat()
        day_newest = fetch(http, count=5, date=first_day, descending="true")
        expected = [op["operation_id"] for op in sandbox.world.vima_operations(scenario.start)]
        assert [op["operation_id"] for op in day_newest] == expected[::-1][:5]
        # a cursor keeps meaning "greater than": descending gives the newest above it
        above = fetch(http, count=100, descending="true", from_operation_create_id=create_ids[-3])
        assert [op["operation_create_id"] for op in above] == create_ids[-2:][::-1]


def test_filters_by_project_status_and_dates(sandbox: SandboxHandle, scenario: Scenario) -> None:
    everything = sandbox.world.vima_operations()
    day1, day2 = days_of(scenario)
    projects = sorted({op["project"] for op in everything})
    statuses = sorted({op["current_status"] for op in everything})
    assert len(projects) >= 2 and {"success", "fail"} <= set(statuses)

    def ids(ops: list[dict[str, Any]]) -> list[str]:
        return [op["operation_id"] for op in ops]

    with client(sandbox) as http:
        cursor = "from_operation_create_id"
        for project in projects:
            got = page_all(http, cursor, project=project)
            assert ids(got) == ids([op for op in everything if op["project"] == project])
        for status in statuses:
            got = page_all(http, cursor, status=status)
            assert ids(got) == ids([op for op in everything if op["current_status"] == status])
        got = page_all(http, cursor, project=projects[0], status="success", date=day2.isoformat())
        assert got and ids(got) == ids(
            [
                op
                for op in sandbox.world.vima_operations(day2)
                if op["project"] == projects[0] and op["current_status"] == "success"
            ]
        )
        both = page_all(http, cursor, **{"from": day1.isoformat(), "to": day2.isoformat()})
        assert ids(both) == ids(everything)
        assert ids(page_all(http, cursor, **{"from": day2.isoformat()})) == ids(
            sandbox.world.vima_operations(day2)
        )
        assert ids(page_all(http, cursor, to=day1.isoformat())) == ids(
            sandbox.world.vima_operations(day1)
        )
        # date and from/to together: their intersection
        assert ids(
            page_all(http, cursor, date=day1.isoformat(), **{"from": day1.isoformat()})
        ) == ids(sandbox.world.vima_operations(day1))
        assert fetch(http, date=day1.isoformat(), **{"from": day2.isoformat()}) == []
        assert fetch(http, date=(day2 + timedelta(days=5)).isoformat()) == []
        assert fetch(http, project="no-such-project") == []


def test_count_limits_and_bad_parameters_are_400_with_a_json_message(
    sandbox: SandboxHandle,
) -> None:
    with client(sandbox) as http:
        assert len(fetch(http, count=100)) == 100
        assert len(fetch(http, count=1)) == 1
        for params in (
            {"count": 101},
            {"count": 0},
            {"count": -5},
            {"count": "ten"},
            {"from_operation_create_id": "abc"},
            {"from_operation_update_id": "12x"},
            {"date": "2026-1-1"},
            {"from": "yesterday"},
            {"to": "2026-02-30"},
            {"descending": "maybe"},
        ):
            response = http.get(OPERATION_PATH, params=params)
            assert response.status_code == 400, params
            body = response.json()
            name = next(iter(params))
            assert name in body["message"], body
            assert sandbox.api_key not in response.text
        assert sandbox.stats()["vima"]["bad_requests"] == 10


def test_auth_by_query_key_or_basic_else_401(sandbox: SandboxHandle) -> None:
    key = sandbox.api_key
    url = sandbox.vima_url + OPERATION_PATH
    with httpx.Client(timeout=10) as raw:
        ok_query = raw.get(url, params={"apikey": key, "count": 2})
        assert ok_query.status_code == 200 and len(ok_query.json()) == 2
        ok_basic = raw.get(url, params={"count": 2}, auth=("anyone", key))
        assert ok_basic.status_code == 200 and ok_basic.json() == ok_query.json()
        refused = [
            raw.get(url),
            raw.get(url, params={"apikey": key + "x"}),
            raw.get(url, params={"apikey": ""}),
            raw.get(url, auth=("anyone", "wrong")),
            raw.get(url, auth=(key, "")),
            raw.get(url, headers={"Authorization": "Basic !!notbase64"}),
            raw.get(url, headers={"Authorization": f"Bearer {key}"}),
        ]
        for response in refused:
            assert response.status_code == 401
            assert response.json()["code"] == 401
            assert key not in response.text
    stats = sandbox.stats()["vima"]
    assert stats["auth_failures"] == len(refused)
    assert stats["authenticated_requests"] == 2
    assert stats["requests"] == 2 + len(refused)


def test_fault_plan_parsing() -> None:
    plan = FaultPlan.parse("429:7, 500:11,502:13,503:17,slow:13,garbage:17,reset:19")
    assert plan.rules[0] == ("429", 7) and plan.rules[-1] == ("reset", 19)
    assert plan.spec() == "429:7,500:11,502:13,503:17,slow:13,garbage:17,reset:19"
    assert FaultPlan.parse(None).rules == [] and FaultPlan.parse("").rules == []
    for bad in ("418:3", "429", "429:0", "slow:x"):
        with pytest.raises(ValueError):
            FaultPlan.parse(bad)


def outcome(http: httpx.Client) -> str:
    """What one raw request saw: a status, `garbage-json`, `garbage-html`, or an error name."""
    try:
        response = http.get(OPERATION_PATH, params={"count": 5})
    except httpx.TimeoutException:
        return "timeout"
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        return f"reset:{type(exc).__name__}"
    if response.status_code != 200:
        return str(response.status_code)
    try:
        json.loads(response.content)
    except ValueError:
        kind = "html" if response.headers["content-type"].startswith("text/html") else "json"
        return f"garbage-{kind}"
    return "ok"


def test_every_fault_kind_as_a_raw_client_sees_it(make_sandbox: SandboxFactory) -> None:
    with make_sandbox(faults="429:2", retry_after=0, slow_seconds=1.5) as handle:
        with client(handle) as http:
            assert outcome(http) == "ok"
            response = http.get(OPERATION_PATH)
            assert response.status_code == 429 and response.headers["retry-after"] == "0"
            handle.faults.retry_after = 1
            handle.faults.set_spec("429:1")
            response = http.get(OPERATION_PATH)
            assert response.status_code == 429 and response.headers["retry-after"] == "1"

            for status, media in (("500", "text/html"), ("502", "text/html"), ("503", "text/")):
                handle.faults.set_spec(f"{status}:1")
                response = http.get(OPERATION_PATH)
                assert response.status_code == int(status)
                assert response.headers["content-type"].startswith(media)
                with pytest.raises(ValueError):
                    json.loads(response.content)

            handle.faults.set_spec("garbage:1")
            first = http.get(OPERATION_PATH, params={"count": 5})
            assert first.status_code == 200 and first.content.startswith(b"[{")
            with pytest.raises(ValueError):
                json.loads(first.content)
            assert outcome(http) == "garbage-html"

            handle.faults.set_spec("reset:1")
            assert outcome(http).startswith("reset:")
            assert outcome(http).startswith("reset:")  # every time, on a fresh connection

            handle.faults.set_spec("slow:1")
            with client(handle, timeout=0.5) as impatient:
                started = time.monotonic()
                assert outcome(impatient) == "timeout"
                assert time.monotonic() - started < 1.2
            started = time.monotonic()
            assert len(fetch(http, count=3)) == 3  # a patient client gets the data
            assert time.monotonic() - started >= 1.4

            handle.faults.set_spec(None)
            assert outcome(http) == "ok"
        faults = handle.stats()["vima"]["faults"]
        assert faults == {
            "429": 2,
            "500": 1,
            "502": 1,
            "503": 1,
            "garbage": 2,
            "reset": 2,
            "slow": 2,
        }


def test_a_mixed_plan_is_deterministic(make_sandbox: SandboxFactory) -> None:
    spec = "429:7,500:11,502:13,503:17,garbage:5,reset:19"
    expected_kind = {"429": "429", "500": "500", "502": "502", "503": "503"}
    runs = []
    for _ in range(2):
        with make_sandbox(faults=spec) as handle, client(handle) as http:
            runs.append([outcome(http) for _ in range(40)])
    assert runs[0] == runs[1]
    rules = FaultPlan.parse_rules(spec)
    garbage_seen = 0
    for n, seen in enumerate(runs[0], 1):
        kind = next((k for k, every in rules if n % every == 0), None)
        if kind is None:
            assert seen == "ok", n
        elif kind == "garbage":
            garbage_seen += 1
            assert seen == ("garbage-json" if garbage_seen % 2 else "garbage-html"), n
        elif kind == "reset":
            assert seen.startswith("reset:"), n
        else:
            assert seen == expected_kind[kind], n


def test_update_cursor_after_advance_returns_changed_ops_with_new_update_ids(
    sandbox: SandboxHandle, scenario: Scenario
) -> None:
    vima_changes = [c for c in scenario.late_changes if c.source == "vima"]
    assert vima_changes, "the scenario has Vima late changes"
    with client(sandbox) as http:
        before = page_all(http, "from_operation_update_id")
        top = max(int(op["operation_update_id"]) for op in before)
        assert fetch(http, from_operation_update_id=top) == []

        first = vima_changes[0]
        response = httpx.post(
            sandbox.vima_url + "/_sandbox/advance", json={"until": first.at.isoformat()}
        )
        assert response.status_code == 200
        applied_first = response.json()["applied"]
        assert applied_first >= 1
        changed = fetch(http, from_operation_update_id=top)
        assert first.key in [op["operation_id"] for op in changed]

        applied_rest = sandbox.advance()
        total_applied = applied_first + applied_rest
        assert total_applied == len(scenario.late_changes)
        assert sandbox.world.pending_late_changes() == 0
        changed = page_all(http, "from_operation_update_id", count=3)
        changed = [op for op in changed if int(op["operation_update_id"]) > top]
        assert sorted(op["operation_id"] for op in changed) == sorted(c.key for c in vima_changes)
        update_ids = [int(op["operation_update_id"]) for op in changed]
        assert update_ids == sorted(update_ids) and len(set(update_ids)) == len(update_ids)
        assert min(update_ids) > top
        for change in vima_changes:
            op = next(op for op in changed if op["operation_id"] == change.key)
            for name, value in change.changes.items():
                assert op[name] == value
            assert op["operation_modified_at"].startswith(change.at.strftime("%Y-%m-%dT%H:%M:%S"))

        # each operation appears once, at its current update id, when paging everything again
        after = page_all(http, "from_operation_update_id")
        assert sorted(op["operation_id"] for op in after) == sorted(
            op["operation_id"] for op in before
        )
        assert [op["operation_id"] for op in after[-len(changed) :]] == [
            op["operation_id"] for op in changed
        ]


def test_operations_arriving_while_paging_come_after_the_cursor(
    sandbox: SandboxHandle, scenario: Scenario
) -> None:
    day = scenario.start + timedelta(days=1)
    template = sandbox.world.vima_operations(day)[0]
    with client(sandbox) as http:
        first = fetch(http, date=day.isoformat(), count=100, from_operation_create_id=0)
        added = sandbox.world.add_vima_operation(
            {
                **template,
                "operation_id": "999000000001",
                "operation_create_id": "1",  # too low: replaced by the next create id
                "operation_update_id": None,
                "operation_created_at": day.isoformat() + "T23:59:59.000Z",
            }
        )
        rest = page_all(
            http,
            "from_operation_create_id",
            date=day.isoformat(),
        )
    max_create = max(int(op["operation_create_id"]) for op in scenario.vima_operations)
    assert int(added["operation_create_id"]) == max_create + 1
    assert rest[-1]["operation_id"] == "999000000001"
    assert first == rest[: len(first)]


def test_world_from_a_hand_made_scenario(credentials: dict[str, str]) -> None:
    """The world indexes any scenario; the late change of a missing object is counted."""
    from datetime import UTC, datetime

    ops = [
        {
            "operation_id": str(100 + i),
            "operation_create_id": str(10 + i),
            "operation_update_id": str(50 - i),
            "operation_created_at": f"2026-03-0{1 + i % 2}T10:00:0{i}.000Z",
            "project": "p",
            "current_status": "in_process",
        }
        for i in range(6)
    ]
    hand_made = Scenario(
        seed=1,
        start=date(2026, 3, 1),
        days=2,
        per_day=3,
        client_project_map={},
        vima_operations=ops,
        late_changes=[
            LateChange(datetime(2026, 3, 3, tzinfo=UTC), "vima", "101", {"current_status": "fail"}),
            LateChange(datetime(2026, 3, 3, tzinfo=UTC), "vima", "nope", {"x": 1}),
        ],
    )
    world = World(hand_made)
    with running_sandbox(world, **credentials) as handle, client(handle) as http:
        by_update = page_all(http, "from_operation_update_id", count=2)
        assert [op["operation_id"] for op in by_update] == [str(100 + i) for i in range(6)][::-1]
        day2 = page_all(http, "from_operation_create_id", date="2026-03-02")
        assert [op["operation_id"] for op in day2] == ["101", "103", "105"]
        assert handle.advance() == 1 and world.unmatched_changes == 1
        moved = fetch(http, from_operation_update_id=50)
        assert [(op["operation_id"], op["operation_update_id"]) for op in moved] == [("101", "51")]
        assert moved[0]["current_status"] == "fail"
        assert moved[0]["operation_modified_at"] == "2026-03-03T00:00:00.000Z"
        assert fetch(http, status="fail") == moved
    assert ops[1]["current_status"] == "in_process"  # the scenario itself is untouched
