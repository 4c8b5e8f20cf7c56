"""The hub end to end, headless, as a user meets it: the sandbox providers in live mode, the
Dagster webserver and daemon (1-minute schedules, sensors on), the API. The daemon lands today
for both sources and reconciles it; then, through the REST API only, the transactions, metrics
and reconciliation are checked against what the providers hold, a sync is triggered and seen to
succeed, and the Dagster UI's asset graph and the API docs are opened in Chromium (screenshots
kept under `HUB_E2E_ARTIFACTS`, default `.hub/artifacts/e2e`). Meanwhile every payment the live
providers create is timed from its creation to its first listing through the API
(`freshness.json` there; `bench/freshness.py` does it with the default schedules)."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from playwright.sync_api import sync_playwright

from hub_core.orchestration import RECONCILE_JOB
from hub_core.types import Source
from hub_pipelines.sources.payshack.browser import CHROMIUM_ARGS
from tests.api.conftest import OPERATOR, READER
from tests.conftest import wait_for as poll
from tests.e2e.stack import (
    ROOT,
    FreshnessWatch,
    Stack,
    percentile,
    provider_transactions,
    running_stack,
    sync_job,
)

ARTIFACTS = Path(os.environ.get("HUB_E2E_ARTIFACTS", ROOT / ".hub" / "artifacts" / "e2e"))
GROUPS = ("vima", "payshack", "metrics", "reconciliation")
_EXPANDED = ",".join(
    f"{graph_id}:{group}"
    for graph_id in ("global@global", "__repository__@hub_pipelines")  # both of the UI's forms
    for group in GROUPS
)
"""The graph's groups to open, as its `expanded` query parameter (what the UI itself writes
there when a group is opened by hand), so no click on a graph that is still moving is needed."""
ASSETS = ("vima_operations", "vima_transactions", "payshack_payins", "payshack_transactions",
          "hourly_metrics", "reconciliation")  # fmt: skip


def wait_for(check: Any, timeout: float, what: str) -> Any:
    """`tests.conftest.wait_for`, polling every 2 s (each poll asks Dagster or the API)."""
    return poll(check, timeout, what, every=2.0)


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The running stack for the module."""
    with running_stack(tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def watch(stack: Stack) -> Iterator[FreshnessWatch]:
    """From the stack's start, when each new payment first shows through the API."""
    with FreshnessWatch(stack.api_url, READER["X-API-Key"]) as watching:
        yield watching


@pytest.fixture(scope="module")
def instance(stack: Stack) -> Iterator[DagsterInstance]:
    """The stack's Dagster instance, read from this process."""
    os.environ["DAGSTER_POSTGRES_URL_E2E"] = stack.env["DAGSTER_POSTGRES_URL"]
    previous = os.environ.get("DAGSTER_POSTGRES_URL")
    os.environ["DAGSTER_POSTGRES_URL"] = stack.env["DAGSTER_POSTGRES_URL"]
    try:
        with DagsterInstance.from_config(str(stack.dagster_home)) as found:
            yield found
    finally:
        if previous is not None:
            os.environ["DAGSTER_POSTGRES_URL"] = previous


def _succeeded(instance: DagsterInstance, job: str, day: str) -> list:
    runs = instance.get_runs(RunsFilter(job_name=job, tags={"dagster/partition": day}))
    return [run for run in runs if run.status == DagsterRunStatus.SUCCESS]


def _all_ids(api: httpx.Client, source: Source, day: str) -> Counter[str]:
    """Every transaction id of the day through keyset paging (a duplicate counts twice)."""
    ids: Counter[str] = Counter()
    params: dict[str, Any] = {"source": source.value, "from_date": day, "to_date": day,
                              "limit": 100, "timezone": "UTC"}  # fmt: skip
    while True:
        body = api.get("/transactions", params=params).raise_for_status().json()
        ids.update(item["source_id"] for item in body["data"])
        if not body["meta"].get("next_cursor"):
            return ids
        params["cursor"] = body["meta"]["next_cursor"]


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    """A reader's client of the stack's API."""
    with httpx.Client(base_url=stack.api_url, headers=READER, timeout=30) as client:
        yield client


STEADY: dict[str, datetime] = {}
"""When both sources had landed today once (the schedules' steady state begins)."""
FRESHNESS_WINDOW = timedelta(seconds=20)
"""Payments created this long from the steady state on are timed to their first listing."""


def test_the_daemon_lands_today_and_reconciles_it(
    stack: Stack, instance: DagsterInstance, watch: FreshnessWatch
) -> None:
    day = stack.day.isoformat()
    for source in Source:  # the schedules tick every minute
        wait_for(lambda s=source: _succeeded(instance, sync_job(s), day), 180, f"{source} today")
    STEADY["at"] = datetime.now(UTC)
    wait_for(lambda: _succeeded(instance, RECONCILE_JOB, day), 120, "the day's reconciliation")


def test_new_payments_reach_the_api_and_are_timed(stack: Stack, watch: FreshnessWatch) -> None:
    """Every payment the providers create shows through the API on the schedules alone, never
    before it was created; its lag (creation at the stand-in to first listing) is reported
    (`freshness.json` among the artifacts; BENCHMARKS.md has the default schedules' figures)."""
    start = STEADY["at"]
    end = start + FRESHNESS_WINDOW
    time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))

    def created(source: Source) -> set[str]:
        held = provider_transactions(stack.world, source, stack.day)
        return {sid for sid, txn in held.items() if start <= txn.created_at <= end}

    due = {source: created(source) for source in Source}
    assert all(due.values()), "the live feed created nothing in the window"

    def all_seen() -> bool:
        return all(due[s] <= set(watch.seen[s.value]) for s in Source)

    wait_for(all_seen, 240, "every payment of the window to show through the API")
    report: dict[str, Any] = {"window": [start.isoformat(), end.isoformat()], "sources": {}}
    for source in Source:
        lags = watch.lags(source, start, end)
        assert min(lags) >= 0, f"{source}: a payment listed before it was created"
        report["sources"][source.value] = {
            "n": len(lags), "p50_s": percentile(lags, 0.5), "p95_s": percentile(lags, 0.95),
            "max_s": max(lags), "schedule_minutes": 1,
        }  # fmt: skip
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "freshness.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report["sources"]))


def test_through_the_api_the_data_is_the_providers(
    stack: Stack, instance: DagsterInstance, api: httpx.Client
) -> None:
    day = stack.day.isoformat()
    stack.world.world.stop_live()  # the providers stand still: what they hold is the truth
    stack.world.world.freeze_clock()
    with httpx.Client(base_url=stack.api_url, headers=OPERATOR, timeout=30) as operator:
        run_ids = {}
        for source in Source:  # a sync that starts now reads everything (409 while one runs)

            def trigger(s: Source = source) -> list[str] | None:
                body = {"source": s.value, "date": day}
                response = operator.post("/sync/trigger", json=body)
                return response.json()["data"]["run_ids"] if response.status_code == 202 else None

            (run_ids[source],) = wait_for(trigger, 120, f"a {source} sync to be accepted")
        for source, run_id in run_ids.items():  # the two sources' runs go side by side
            wait_for(
                lambda r=run_id: instance.get_run_by_id(r).status == DagsterRunStatus.SUCCESS,
                180,
                f"triggered {source} run {run_id}",
            )
        before = {r.run_id for r in instance.get_runs(RunsFilter(job_name=RECONCILE_JOB))}

        def reconcile() -> str | None:
            response = operator.post("/reconciliation/run", json={"date": day})
            return response.json()["data"]["run_id"] if response.status_code == 202 else None

        run_id = wait_for(reconcile, 120, "a reconciliation to be accepted")
        assert run_id not in before
        wait_for(
            lambda: instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS,
            180,
            f"reconciliation run {run_id}",
        )

    total = 0
    by_status: Counter[str] = Counter()
    for source in Source:
        expected = provider_transactions(stack.world, source, stack.day)
        got = _all_ids(api, source, day)
        assert max(got.values(), default=1) == 1, f"{source}: a transaction listed twice"
        assert set(got) == set(expected), (
            f"{source}: {len(set(expected) - set(got))} missing, "
            f"{len(set(got) - set(expected))} extra"
        )
        total += len(expected)
        by_status.update(txn.status.value for txn in expected.values())

    params = {"from_date": day, "to_date": day, "timezone": "UTC"}
    overview = api.get("/metrics/overview", params=params).raise_for_status().json()["data"]
    counted = overview["total"]["count"] + sum(
        other["count"] for other in overview.get("other_currencies", [])
    )
    assert counted == total
    statuses = api.get("/metrics/by-status", params=params).raise_for_status().json()["data"]
    assert sum(item["count"] for item in statuses["statuses"]) <= total

    summary = api.get("/reconciliation/summary", params={"date": day}).json()["data"]
    assert summary["total_transactions"] > 0
    parts = (summary["matched"]["count"] + summary["discrepancies"]["count"]
             + summary["missing"]["count"] + summary["duplicates"]["count"])  # fmt: skip
    assert parts == summary["total_transactions"]
    assert summary["status"] == "provisional"  # the day is still open, and says so
    breaks = api.get(
        "/reconciliation/discrepancies", params={"from_date": day, "to_date": day, "limit": 1}
    ).json()
    assert breaks["meta"]["total"] == summary["total_transactions"] - summary["matched"]["count"]
    status = api.get("/sync/status").json()["data"]["sources"]
    assert all(item["last_successful_sync"] for item in status)


def test_the_dagster_ui_and_the_api_docs_render(stack: Stack) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chromium = os.environ.get("HUB_CHROMIUM_PATH") or None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            # Dagster's first-visit dialog ("Join the Dagster community") would cover the graph.
            page.add_init_script("window.localStorage.setItem('communityNux', 'true')")
            page.goto(f"{stack.dagster_url}/asset-groups?expanded={_EXPANDED}")
            for name in ASSETS:
                page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
            page.get_by_text("Loading…").first.wait_for(state="hidden", timeout=30_000)
            page.get_by_text("Loading...").first.wait_for(state="hidden", timeout=30_000)
            assert not page.get_by_text("Join the Dagster community").is_visible()
            page.screenshot(path=str(ARTIFACTS / "dagster-asset-graph.png"))
            text = page.inner_text("body")
            assert "Global asset lineage" in text
            for banner in ("Something went wrong", "Unexpected GraphQL error", "failed to load"):
                assert banner not in text

            page.goto(f"{stack.api_url}/docs", wait_until="networkidle")
            page.get_by_text("Payment Hub API").first.wait_for(timeout=30_000)
            page.get_by_text("/api/v1/transactions").first.wait_for(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=False)
            assert "Failed to load API definition" not in page.inner_text("body")
        finally:
            browser.close()
    assert (ARTIFACTS / "dagster-asset-graph.png").stat().st_size > 10_000
