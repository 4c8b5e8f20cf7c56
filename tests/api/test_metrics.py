"""`/metrics/*`: known answers in UTC and Asia/Kolkata, the cache, and bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import event

from hub_api.main import create_app
from hub_core.cache import DATA_VERSION_KEY
from hub_core.db import get_engine
from hub_core.settings import get_settings
from hub_core.types import Source, Status, Transaction
from tests.api.conftest import READER, make_txn
from tests.conftest import free_port

BASE = "/api/v1/metrics"
Seeder = Callable[..., list[Transaction]]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def seed_known(seeded: Seeder) -> None:
    """Two days of INR and one USD transaction; 18:15 and 18:45 UTC on 03-10 fall on two
    different Kolkata days (23:45 on the 10th and 00:15 on the 11th)."""
    seeded(
        [
            # 2026-03-10 (UTC)
            make_txn(at(10, 10), amount="100.00"),
            make_txn(at(10, 10, 30), amount="200.00"),
            make_txn(
                at(10, 11),
                source=Source.PAYSHACK,
                amount="50.00",
                status=Status.FAILED,
                project="caroussel",
            ),
            make_txn(
                at(10, 12),
                source=Source.PAYSHACK,
                amount="25.50",
                status=Status.PENDING,
                project=None,
            ),
            make_txn(
                at(10, 13),
                source=Source.PAYSHACK,
                amount="5.25",
                status=Status.REFUNDED,
            ),
            make_txn(at(10, 18, 15), amount="300.00", project="caroussel"),
            make_txn(at(10, 18, 45), amount="40.00", status=Status.FAILED),
            make_txn(at(10, 9), amount="10.00", currency="USD"),
            # 2026-03-09 (UTC): the previous day
            make_txn(at(9, 8), amount="70.00"),
            make_txn(at(9, 9), amount="30.00", status=Status.FAILED),
        ]
    )


def get(api: TestClient, path: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"{BASE}/{path}", params=params, headers=READER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()["data"]


def tally(count: int, amount: float) -> dict[str, Any]:
    return {"count": count, "amount": amount}


# --- overview ---------------------------------------------------------------------------------


def test_overview_utc(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    data = get(api, "overview", from_date="2026-03-10", to_date="2026-03-10", timezone="UTC")
    assert data == {
        "period": {"from": "2026-03-10", "to": "2026-03-10"},
        "timezone": "UTC",
        "currency": "INR",
        "total": {"count": 7, "amount": 720.75, "currency": "INR"},
        "by_status": {
            "success": tally(3, 600.0),
            "failed": tally(2, 90.0),
            "pending": tally(1, 25.5),
            "refunded": tally(1, 5.25),
        },
        "by_source": {"vima": tally(4, 640.0), "payshack": tally(3, 80.75)},
        "conversion_rate": 60.0,
        "avg_ticket": 200.0,
        "trends": {"total_change": 250.0, "success_change": 200.0, "failed_change": 100.0},
        "other_currencies": [{"currency": "USD", "count": 1, "amount": 10.0}],
    }


def test_overview_kolkata_splits_the_utc_hour(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    data = get(
        api, "overview", from_date="2026-03-10", to_date="2026-03-10", timezone="Asia/Kolkata"
    )
    # the Kolkata day is 03-09 18:30Z..03-10 18:30Z: 18:15 is in, 18:45 is out
    assert data["total"] == {"count": 6, "amount": 680.75, "currency": "INR"}
    assert data["by_status"] == {
        "success": tally(3, 600.0),
        "failed": tally(1, 50.0),
        "pending": tally(1, 25.5),
        "refunded": tally(1, 5.25),
    }
    assert data["by_source"] == {"vima": tally(3, 600.0), "payshack": tally(3, 80.75)}
    assert data["conversion_rate"] == 75.0
    assert data["avg_ticket"] == 200.0
    assert data["trends"] == {"total_change": 200.0, "success_change": 200.0, "failed_change": 0.0}
    assert data["timezone"] == "Asia/Kolkata"

    next_day = get(
        api, "overview", from_date="2026-03-11", to_date="2026-03-11", timezone="Asia/Kolkata"
    )
    assert next_day["total"] == {"count": 1, "amount": 40.0, "currency": "INR"}
    assert next_day["conversion_rate"] == 0.0
    assert next_day["avg_ticket"] == 0.0
    assert next_day["trends"] == {
        "total_change": -83.33,
        "success_change": -100.0,
        "failed_change": 0.0,
    }


def test_overview_changes_from_zero_and_empty_periods(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    first = get(api, "overview", from_date="2026-03-09", to_date="2026-03-09", timezone="UTC")
    assert first["total"]["count"] == 2
    assert first["trends"] == {"total_change": None, "success_change": None, "failed_change": None}
    empty = get(api, "overview", from_date="2026-01-01", to_date="2026-01-31", timezone="UTC")
    assert empty["currency"] == "INR"
    assert empty["total"] == {"count": 0, "amount": 0.0, "currency": "INR"}
    assert empty["trends"] == {"total_change": 0.0, "success_change": 0.0, "failed_change": 0.0}
    assert empty["conversion_rate"] == 0.0 and empty["other_currencies"] == []


def test_overview_filters_and_currency(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    day = {"from_date": "2026-03-10", "to_date": "2026-03-10", "timezone": "UTC"}
    usd = get(api, "overview", currency="usd", **day)
    assert usd["currency"] == "USD"
    assert usd["total"] == {"count": 1, "amount": 10.0, "currency": "USD"}
    assert usd["other_currencies"] == []
    vima = get(api, "overview", source="vima", **day)
    assert vima["total"] == {"count": 4, "amount": 640.0, "currency": "INR"}
    assert vima["by_source"]["payshack"] == tally(0, 0.0)
    project = get(api, "overview", project="caroussel", **day)
    assert project["total"] == {"count": 2, "amount": 350.0, "currency": "INR"}
    payout = get(api, "overview", direction="payout", **day)
    assert payout["total"]["count"] == 0


def test_overview_dominant_currency(api: TestClient, seeded: Seeder) -> None:
    seeded(
        [make_txn(at(10, h), currency="USD", amount="1.00") for h in range(3)]
        + [make_txn(at(10, 5))]
    )
    data = get(api, "overview", from_date="2026-03-10", to_date="2026-03-10", timezone="UTC")
    assert data["currency"] == "USD"
    assert data["total"] == {"count": 3, "amount": 3.0, "currency": "USD"}
    assert data["other_currencies"] == [{"currency": "INR", "count": 1, "amount": 100.0}]


def test_default_period_is_today_in_the_zone(api: TestClient, seeded: Seeder) -> None:
    now = datetime.now(UTC)
    seeded([make_txn(now)])
    data = get(api, "overview", timezone="UTC")
    assert data["period"] == {"from": now.date().isoformat(), "to": now.date().isoformat()}
    assert data["total"]["count"] == 1


# --- by project, by status --------------------------------------------------------------------


def test_by_project_utc_and_kolkata(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    utc = get(api, "by-project", from_date="2026-03-10", to_date="2026-03-10", timezone="UTC")
    assert utc["currency"] == "INR"
    assert utc["period"] == {"from": "2026-03-10", "to": "2026-03-10"}
    assert utc["projects"] == [
        {"project": "caroussel", "count": 2, "amount": 350.0, "success_rate": 50.0},
        {"project": "91game", "count": 4, "amount": 345.25, "success_rate": 66.67},
        {"project": None, "count": 1, "amount": 25.5, "success_rate": 0.0},
    ]
    assert utc["other_currencies"] == [{"currency": "USD", "count": 1, "amount": 10.0}]
    kolkata = get(
        api, "by-project", from_date="2026-03-10", to_date="2026-03-10", timezone="Asia/Kolkata"
    )
    assert kolkata["projects"] == [
        {"project": "caroussel", "count": 2, "amount": 350.0, "success_rate": 50.0},
        {"project": "91game", "count": 3, "amount": 305.25, "success_rate": 100.0},
        {"project": None, "count": 1, "amount": 25.5, "success_rate": 0.0},
    ]


def test_by_status_utc_and_kolkata(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    utc = get(api, "by-status", from_date="2026-03-10", to_date="2026-03-10", timezone="UTC")
    assert utc["statuses"] == [
        {"status": "success", "count": 3, "amount": 600.0, "share": 42.86},
        {"status": "failed", "count": 2, "amount": 90.0, "share": 28.57},
        {"status": "pending", "count": 1, "amount": 25.5, "share": 14.29},
        {"status": "refunded", "count": 1, "amount": 5.25, "share": 14.29},
    ]
    kolkata = get(
        api, "by-status", from_date="2026-03-11", to_date="2026-03-11", timezone="Asia/Kolkata"
    )
    assert kolkata["statuses"] == [
        {"status": "success", "count": 0, "amount": 0.0, "share": 0.0},
        {"status": "failed", "count": 1, "amount": 40.0, "share": 100.0},
        {"status": "pending", "count": 0, "amount": 0.0, "share": 0.0},
        {"status": "refunded", "count": 0, "amount": 0.0, "share": 0.0},
    ]


# --- trends -----------------------------------------------------------------------------------


def point(
    ts: str, count: int = 0, amount: float = 0.0, success: int = 0, failed: int = 0
) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "count": count,
        "amount": amount,
        "success_count": success,
        "failed_count": failed,
    }


def test_trends_by_day_utc_and_kolkata(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    days = {"from_date": "2026-03-09", "to_date": "2026-03-12"}
    utc = get(api, "trends", timezone="UTC", **days)
    assert utc["granularity"] == "day" and utc["timezone"] == "UTC"
    assert utc["points"] == [
        point("2026-03-09T00:00:00.000Z", 2, 100.0, 1, 1),
        point("2026-03-10T00:00:00.000Z", 7, 720.75, 3, 2),
        point("2026-03-11T00:00:00.000Z"),
        point("2026-03-12T00:00:00.000Z"),
    ]
    kolkata = get(api, "trends", timezone="Asia/Kolkata", granularity="day", **days)
    assert kolkata["points"] == [
        point("2026-03-08T18:30:00.000Z", 2, 100.0, 1, 1),
        point("2026-03-09T18:30:00.000Z", 6, 680.75, 3, 1),
        point("2026-03-10T18:30:00.000Z", 1, 40.0, 0, 1),
        point("2026-03-11T18:30:00.000Z"),
    ]
    assert kolkata["other_currencies"] == [{"currency": "USD", "count": 1, "amount": 10.0}]


def test_trends_by_hour_has_every_hour(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    utc = get(
        api,
        "trends",
        from_date="2026-03-10",
        to_date="2026-03-10",
        timezone="UTC",
        granularity="hour",
    )
    points = utc["points"]
    assert len(points) == 24
    assert [p["timestamp"] for p in points] == [f"2026-03-10T{h:02d}:00:00.000Z" for h in range(24)]
    busy = {p["timestamp"][11:13]: p for p in points if p["count"]}
    assert busy == {
        "10": point("2026-03-10T10:00:00.000Z", 2, 300.0, 2, 0),
        "11": point("2026-03-10T11:00:00.000Z", 1, 50.0, 0, 1),
        "12": point("2026-03-10T12:00:00.000Z", 1, 25.5, 0, 0),
        "13": point("2026-03-10T13:00:00.000Z", 1, 5.25, 0, 0),
        "18": point("2026-03-10T18:00:00.000Z", 2, 340.0, 1, 1),
    }
    kolkata = get(
        api,
        "trends",
        from_date="2026-03-10",
        to_date="2026-03-10",
        timezone="Asia/Kolkata",
        granularity="hour",
    )
    points = kolkata["points"]
    assert len(points) == 24
    assert points[0]["timestamp"] == "2026-03-09T18:30:00.000Z"
    assert points[-1] == point("2026-03-10T17:30:00.000Z", 1, 300.0, 1, 0)  # 18:15Z only
    assert sum(p["count"] for p in points) == 6


def test_trends_by_week_start_on_monday(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    data = get(
        api,
        "trends",
        from_date="2026-03-09",
        to_date="2026-03-22",
        timezone="UTC",
        granularity="week",
    )
    assert data["points"] == [
        point("2026-03-09T00:00:00.000Z", 9, 820.75, 4, 3),
        point("2026-03-16T00:00:00.000Z"),
    ]


def test_trends_across_a_dst_change(api: TestClient, seeded: Seeder) -> None:
    # New York springs forward on 2026-03-08: that day has 23 hours
    seeded([make_txn(datetime(2026, 3, 8, 7, 30, tzinfo=UTC))])  # 03:30 EDT
    data = get(
        api,
        "trends",
        from_date="2026-03-08",
        to_date="2026-03-08",
        timezone="America/New_York",
        granularity="hour",
    )
    stamps = [p["timestamp"] for p in data["points"]]
    assert len(stamps) == 23
    assert stamps[0] == "2026-03-08T05:00:00.000Z" and stamps[-1] == "2026-03-09T03:00:00.000Z"
    assert [p["count"] for p in data["points"] if p["count"]] == [1]
    assert data["points"][2]["timestamp"] == "2026-03-08T07:00:00.000Z"
    assert data["points"][2]["count"] == 1


# --- cache ------------------------------------------------------------------------------------


def test_responses_are_cached_until_the_data_version_moves(
    api: TestClient, seeded: Seeder, redis_client: redis.Redis
) -> None:
    seed_known(seeded)
    day = {"from_date": "2026-03-10", "to_date": "2026-03-10", "timezone": "UTC"}
    first = get(api, "overview", **day)
    keys = redis_client.keys("hub:cache:metrics:overview:*")
    assert len(keys) == 1
    assert 0 < redis_client.ttl(keys[0]) <= 60
    get(api, "by-status", **day)
    by_status_keys = redis_client.keys("hub:cache:metrics:by-status:*")
    assert len(by_status_keys) == 1 and 60 < redis_client.ttl(by_status_keys[0]) <= 300

    seeded([make_txn(at(10, 20), amount="1000.00")])  # written without bumping the version
    assert get(api, "overview", **day) == first  # served from Redis
    redis_client.incr(DATA_VERSION_KEY)
    fresh = get(api, "overview", **day)
    assert fresh["total"] == {"count": 8, "amount": 1720.75, "currency": "INR"}
    # other parameters are other entries
    assert get(api, "overview", source="vima", **day)["total"]["count"] == 5


def test_a_cache_hit_takes_no_database_connection(
    api: TestClient, seeded: Seeder, redis_client: redis.Redis
) -> None:
    seed_known(seeded)
    day = {"from_date": "2026-03-10", "to_date": "2026-03-10", "timezone": "UTC"}
    engine = get_engine(get_settings().database_url)
    checkouts: list[object] = []

    def count(*_args: object) -> None:
        checkouts.append(1)

    event.listen(engine, "checkout", count)
    try:
        first = get(api, "overview", **day)
        assert len(checkouts) == 1  # the miss
        assert get(api, "overview", **day) == first
        assert get(api, "trends", granularity="hour", **day)["points"]
        assert get(api, "trends", granularity="hour", **day)["points"]
        assert len(checkouts) == 2  # the trends miss; both hits took none
    finally:
        event.remove(engine, "checkout", count)


def test_an_entry_of_an_older_data_version_is_replaced(
    api: TestClient, seeded: Seeder, redis_client: redis.Redis
) -> None:
    seed_known(seeded)
    day = {"from_date": "2026-03-10", "to_date": "2026-03-10", "timezone": "UTC"}
    get(api, "overview", **day)
    (key,) = redis_client.keys("hub:cache:metrics:overview:*")
    version = redis_client.get(DATA_VERSION_KEY) or b"0"
    assert redis_client.get(key).startswith(version + b"\n")
    seeded([make_txn(at(10, 20), amount="1000.00")])
    redis_client.incr(DATA_VERSION_KEY)
    assert get(api, "overview", **day)["total"]["count"] == 8
    # one entry per parameters, overwritten at the new version (no key per version)
    assert redis_client.keys("hub:cache:metrics:overview:*") == [key]
    assert redis_client.get(key).startswith(redis_client.get(DATA_VERSION_KEY) + b"\n")


def test_with_redis_down_every_endpoint_answers(seeded: Seeder) -> None:
    seed_known(seeded)
    settings = get_settings().model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    day = {"from_date": "2026-03-10", "to_date": "2026-03-10", "timezone": "Asia/Kolkata"}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for path in ("overview", "by-project", "by-status", "trends"):
            response = client.get(f"{BASE}/{path}", params=day, headers=READER)
            assert response.status_code == 200, (path, response.text)
        overview = client.get(f"{BASE}/overview", params=day, headers=READER).json()["data"]
        assert overview["total"]["count"] == 6


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("overview", {"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ("overview", {"timezone": "../../etc/passwd"}, "timezone"),
        ("by-status", {"from_date": "2026-03-11", "to_date": "2026-03-10"}, "from_date"),
        ("by-project", {"from_date": "2026-02-30"}, "from_date"),
        ("trends", {"granularity": "month"}, "granularity"),
        ("overview", {"source": "stripe"}, "source"),
        ("overview", {"currency": "RUPEES"}, "currency"),
        ("overview", {"direction": "sideways"}, "direction"),
        ("by-project", {"project": "91\x00game"}, "project"),
        (
            "trends",
            {"from_date": "2026-01-01", "to_date": "2026-12-31", "granularity": "hour"},
            "granularity",
        ),
        (
            "trends",
            {"from_date": "1900-01-01", "to_date": "2999-12-31", "granularity": "week"},
            "granularity",
        ),
        ("overview", {"from_date": "0001-01-01", "to_date": "2026-01-01"}, "from_date"),
        ("trends", {"from_date": "2026-01-01", "to_date": "9999-12-31"}, "to_date"),
    ],
)
def test_bad_input_is_a_422_envelope(
    api: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    response = api.get(f"{BASE}/{path}", params=params, headers=READER)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in [f["field"] for f in error["details"]["fields"]]


@pytest.mark.parametrize("path", ["overview", "by-project", "by-status", "trends"])
def test_a_key_is_required(api: TestClient, path: str) -> None:
    response = api.get(f"{BASE}/{path}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert api.get(f"{BASE}/{path}", headers={"X-API-Key": "nope"}).status_code == 401


def test_openapi_documents_the_metrics(api: TestClient) -> None:
    spec = api.get("/api/v1/openapi.json").json()
    for path, model in (
        ("overview", "OverviewResponse"),
        ("by-project", "ByProjectResponse"),
        ("by-status", "ByStatusResponse"),
        ("trends", "TrendsResponse"),
    ):
        operation = spec["paths"][f"{BASE}/{path}"]["get"]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(model)
        assert spec["components"]["schemas"][model]["examples"]
        assert {"401", "422", "429", "500"} <= set(operation["responses"])
        assert operation["summary"] and operation["description"]
    params = {p["name"] for p in spec["paths"][f"{BASE}/trends"]["get"]["parameters"]}
    assert {
        "from_date",
        "to_date",
        "timezone",
        "source",
        "project",
        "currency",
        "direction",
        "granularity",
    } <= params


def test_a_very_long_period_answers(api: TestClient, seeded: Seeder) -> None:
    seed_known(seeded)
    years = {"from_date": "1900-01-01", "to_date": "2999-12-31", "timezone": "Asia/Kolkata"}
    data = get(api, "overview", **years)
    assert data["total"] == {"count": 9, "amount": 820.75, "currency": "INR"}
    assert data["trends"]["total_change"] is None
    assert sum(p["count"] for p in get(api, "by-project", **years)["projects"]) == 9
    weeks = get(api, "trends", from_date="2000-01-01", to_date="2090-12-31", granularity="week")
    assert len(weeks["points"]) == 4749
    assert sum(p["count"] for p in weeks["points"]) == 9


@pytest.mark.parametrize(
    "params",
    [
        {"timezone": "Etc/GMT+5", "granularity": "hour"},
        {"timezone": "Asia/Kathmandu", "from_date": "1900-01-01", "to_date": "1900-02-01"},
        {"timezone": "Pacific/Chatham", "from_date": "2999-12-01", "to_date": "2999-12-31"},
        {"timezone": "Australia/Lord_Howe", "from_date": "2024-04-06", "to_date": "2024-04-07"},
        {"timezone": "America/Santiago", "from_date": "2024-09-01", "to_date": "2024-09-10"},
        {"from_date": "1990-01-01", "to_date": "2003-09-07", "granularity": "day"},
        {"project": "x" * 200, "currency": "eur", "direction": "payout", "source": "payshack"},
    ],
)
def test_odd_but_valid_requests_answer(
    api: TestClient, seeded: Seeder, params: dict[str, str]
) -> None:
    seed_known(seeded)
    for path in ("overview", "by-project", "by-status", "trends"):
        response = api.get(f"{BASE}/{path}", params=params, headers=READER)
        assert response.status_code == 200, (path, response.text)
