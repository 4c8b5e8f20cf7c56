"""Vima ingestion benchmark (issue 4): the hub against dlt and a plain COPY, on one sandbox day.

Contenders, each in its own spawned subprocess (peak RSS measured inside it), all reading the
same day served by one sandbox that runs in a process of its own:

- `hub`: API -> queryable `transactions` (`ingest_and_normalize`: what the Vima multi-asset
  runs for a schedule or a backfill; pages landed raw and normalized at once) on a freshly
  migrated `bench_hub`, end to end; also run at a smaller day to show memory flatness.
- `hub_write`: the hub's write stage alone, `upsert_transactions` of the day's pre-normalized
  rows in batches of 5000 into an empty `transactions` table (`bench_hub_write`).
- `hub_land`: the hub's raw landing alone, `upsert_raw_vima` of the day's pages (100
  operations each, fetched from the sandbox just before, untimed) with their checkpoints, one
  transaction a page on the hub's landing connection, into an empty `raw_vima_operations`
  (`bench_hub_land`).
- `dlt`: a `@dlt.resource` paging the create cursor with `dlt.sources.incremental`, merge on
  `operation_id`, postgres destination (`bench_dlt`), end to end.
- `pager`: fetch only: the day's create cursor, then the update cursor from the watermark
  the hub reads first, page by page with the hub's `VimaClient` (each body parsed), rows
  discarded: the rate the source allows one sequential reader, the ceiling of any ingestion.
- `copy`: a plain COPY of the same pre-normalized rows into an unindexed table with the columns
  of `transactions` (`bench_copy`): the write-stage baseline.

Before the contenders run, a preparation pass pages the whole day once. It warms the sandbox
(which serializes an operation on first serve) so every contender meets the same server, and
it writes the day's normalized rows to a pickle file (5000 per batch) for `hub_write` and
`copy`; reading that file is never timed.

Stage times of the `hub` run come from what the hub reports and from the benchmark's own
objects; no hub function is replaced: `ingest_s` is the landing's `IngestReport.seconds`,
`normalize_s` the normalizer's `NormalizeReport.seconds`, `fetch_s` the time the client's
HTTP requests took (request sent to body read, `http_requests` of them), measured by the
httpx transport the benchmark gives `VimaClient`, and `client_requests` / `client_retries` the
client's own counters. `upsert_raw_s` and `upsert_transactions_s` (timing wrappers patched
into the hub's modules until now) are no longer reported: the same two functions are timed
alone by the `hub_land` and `hub_write` contenders (their `seconds`).

Run: `.venv/bin/python bench/vima_ingest.py [--per-day 200000] [--repeat 1]
[--only hub|dlt|copy] [--json out.json]`. `--profile [TOP]` instead runs the hub end to end
and its write stage under cProfile and prints the top functions by cumulative and own time.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from _common import (
    SANDBOX_API_KEY,
    Profiler,
    add_quiet_wait,
    code_version,
    conninfo,
    machine_basics,
    median_of,
    peak_rss_mb,
    pg_settings,
    recreate_database,
    run_and_report,
    sandbox_process,
    save_partial,
    say,
    wait_for_quiet,
)
from _common import run_isolated as _run_isolated

DAY = date(2026, 1, 1)
SEED = 1
FLATNESS_PER_DAY = 50_000
BATCH = 5000
PAGE_SIZE = 100
BENCH_DATABASES = (
    "bench_hub",
    "bench_hub_write",
    "bench_hub_land",
    "bench_copy",
    "bench_copy_indexed",
    "bench_dlt",
)
TARGET_E2E_RATIO = 3.0
"""Hub end to end over dlt end to end (ops/s), in every run (issue 14)."""
TARGET_WRITE_RATIO = 1.5
"""Hub write stage over a COPY into the indexed `transactions` (seconds), medians."""
TARGET_PAGER_SHARE = 1 / 3
"""Hub end to end over the fetch-only pager (ops/s), medians: the ceiling the source sets."""
TARGET_PEAK_MB = 200.0


def machine_info() -> dict[str, Any]:
    """The machine the figures come from."""
    import dlt

    return {
        **code_version(),
        **machine_basics(),
        "postgresql": pg_settings(["server_version"])["server_version"],
        "dlt": dlt.__version__,
    }


def run_isolated(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`_common.run_isolated`, plus the hub code version (it may change between runs on a
    shared checkout)."""
    version = code_version()
    payload = _run_isolated(func, *args)
    payload.update(version)
    return payload


def build_day(per_day: int) -> tuple[Any, dict[str, Any]]:
    """The sandbox's day: `generate(seed=SEED, start=DAY, days=1, per_day=per_day)`, and how
    many operations it holds and how long generating it took (runs in the sandbox process)."""
    from hub_sandbox.scenario import generate

    started = time.perf_counter()
    scenario = generate(seed=SEED, start=DAY, days=1, per_day=per_day)
    generated = time.perf_counter() - started
    return scenario, {
        "operations": len(scenario.vima_operations),
        "generate_s": round(generated, 2),
    }


# --------------------------------------------------------------------------- preparation


def prepare(vima_url: str, batches_path: str | None) -> dict[str, Any]:
    """Page the whole day once (warming the sandbox); optionally pickle normalized batches."""
    from hub_pipelines.sources.vima.client import VimaClient
    from hub_pipelines.sources.vima.normalize import normalize_operation

    started = time.perf_counter()
    operations = batches = 0
    pending: list[Any] = []
    with (
        VimaClient(vima_url, SANDBOX_API_KEY) as client,
        open(batches_path or os.devnull, "wb") as out,
    ):
        for page, _ in client.iter_pages("create", None, count=PAGE_SIZE, day=DAY):
            operations += len(page)
            if batches_path is None:
                continue
            pending.extend(normalize_operation(op) for op in page)
            if len(pending) >= BATCH:
                pickle.dump(pending[:BATCH], out, protocol=pickle.HIGHEST_PROTOCOL)
                pending = pending[BATCH:]
                batches += 1
        if pending:
            pickle.dump(pending, out, protocol=pickle.HIGHEST_PROTOCOL)
            batches += 1
    return {"operations": operations, "batches": batches, "seconds": time.perf_counter() - started}


def _load_batches(path: str) -> Iterator[list[Any]]:
    with open(path, "rb") as handle:
        while True:
            try:
                yield pickle.load(handle)
            except EOFError:
                return


# --------------------------------------------------------------------------- contenders


class TimedTransport(httpx.BaseTransport):
    """An httpx transport that times each request, from sending it to having read its body
    (the client's JSON decoding and its retry waits are not in it); thread-safe."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.seconds = 0.0
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, read the whole body, hand the client a response holding it."""
        started = time.perf_counter()
        response = self._inner.handle_request(request)
        try:
            body = b"".join(response.iter_raw())
        finally:
            response.close()
        elapsed = time.perf_counter() - started
        with self._lock:
            self.seconds += elapsed
            self.requests += 1
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(body),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._inner.close()


def _count(url: str, table: str) -> int:
    """Rows of `table` in the database at `url`."""
    from sqlalchemy import text

    from hub_core.db import get_engine

    engine = get_engine(url)
    with engine.connect() as conn:
        rows = int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    engine.dispose()
    return rows


def _checked(label: str, rows: int, expected: int) -> int:
    """`rows`, once it is `expected` (a contender that loaded another count fails)."""
    if rows != expected:
        raise RuntimeError(f"{label}: {rows} rows, expected {expected}")
    return rows


def _write_result(rows: int, seconds: float, rss_before: float) -> dict[str, Any]:
    """The figures of a contender that writes `rows` in `seconds`."""
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "rss_after_imports_mb": round(rss_before, 1),
    }


def hub_e2e(vima_url: str, expected: int, profile_top: int = 0) -> dict[str, Any]:
    """The hub, API -> queryable `transactions`, on a freshly migrated `bench_hub`.

    Stage times come from the hub's own reports (`IngestReport.seconds`,
    `NormalizeReport.seconds`), the client's counters and the benchmark's timing transport
    (`fetch_s`); no hub code is replaced.
    """
    from hub_core.db import get_engine
    from hub_pipelines.sources.vima import ingest
    from hub_pipelines.sources.vima.client import VimaClient

    url = recreate_database("bench_hub")
    engine = get_engine(url)
    transport = TimedTransport()
    rss_before = peak_rss_mb()
    window = ingest.PartitionWindow.for_key(DAY.isoformat(), "UTC")
    profiler = Profiler(profile_top)
    with VimaClient(vima_url, SANDBOX_API_KEY, transport=transport) as client:
        started = time.perf_counter()
        with profiler:
            ingested, normalized = ingest.ingest_and_normalize(client, engine, window)
        seconds = time.perf_counter() - started
    engine.dispose()
    rows = _checked("hub", _count(url, "transactions WHERE source = 'vima'"), expected)
    result: dict[str, Any] = {
        "operations": rows,
        "seconds": seconds,
        "ops_per_s": rows / seconds,
        "ingest_s": ingested.seconds,  # the landing; the normalizer runs alongside it
        "normalize_s": normalized.seconds,
        "normalize_tail_s": seconds - ingested.seconds,  # after the last page landed
        "fetch_s": transport.seconds,
        "http_requests": transport.requests,
        "client_requests": client.requests,
        "client_retries": client.retries,
        "pages": ingested.pages,
        "rss_after_imports_mb": round(rss_before, 1),
        "rejected": len(normalized.rejected),
    }
    profiler.report(result)
    return result


def hub_write(batches_path: str, expected: int, profile_top: int = 0) -> dict[str, Any]:
    """The hub's write stage alone: `upsert_transactions` of pre-normalized 5000-row batches.

    Each batch runs in its own transaction (as in `normalize_partition`); the timer covers the
    upsert and the commit, not the unpickling of the batch.
    """
    from hub_core.db import get_engine
    from hub_pipelines.warehouse.transactions import upsert_transactions

    url = recreate_database("bench_hub_write")
    engine = get_engine(url)
    rss_before = peak_rss_mb()
    seconds = 0.0
    profiler = Profiler(profile_top)
    for batch in _load_batches(batches_path):
        started = time.perf_counter()
        with profiler, engine.begin() as conn:
            upsert_transactions(conn, batch)
        seconds += time.perf_counter() - started
    engine.dispose()
    rows = _checked("hub_write", _count(url, "transactions"), expected)
    result = _write_result(rows, seconds, rss_before)
    profiler.report(result)
    return result


def hub_land(vima_url: str, expected: int) -> dict[str, Any]:
    """The hub's raw landing alone: `upsert_raw_vima` of the day's pages with their checkpoints.

    Each page is fetched from the sandbox (untimed), then landed with the hub's statements: one
    transaction a page with its `create` checkpoint, on the hub's landing connection
    (`landing_connection`) — the landing's cost per page (a run lands the pages that are ready
    together). The timer covers the upsert and the commit.
    """
    from hub_core.db import get_engine
    from hub_pipelines.sources.vima.client import VimaClient
    from hub_pipelines.sources.vima.landing import upsert_raw_vima
    from hub_pipelines.warehouse.checkpoints import Checkpoint
    from hub_pipelines.warehouse.session import landing_connection

    url = recreate_database("bench_hub_land")
    engine = get_engine(url)
    rss_before = peak_rss_mb()
    key = DAY.isoformat()
    seconds = 0.0
    checkpoint = Checkpoint(None, 0, 0, False)
    with (
        VimaClient(vima_url, SANDBOX_API_KEY) as client,
        landing_connection(engine) as conn,
    ):
        for page, cursor in client.iter_pages("create", None, count=PAGE_SIZE, day=DAY):
            checkpoint = Checkpoint(cursor, checkpoint.page + 1, checkpoint.rows + len(page), False)
            started = time.perf_counter()
            keyed = [op for op in page if op.get("operation_id") not in (None, "")]
            with conn.begin():
                upsert_raw_vima(conn, keyed, key, ("create", checkpoint))
            seconds += time.perf_counter() - started
    engine.dispose()
    rows = _checked("hub_land", _count(url, "raw_vima_operations"), expected)
    return {**_write_result(rows, seconds, rss_before), "pages": checkpoint.page}


def pager(vima_url: str, expected: int) -> dict[str, Any]:
    """Fetch only: page the day as the hub does (watermark, create cursor, update cursor from
    the watermark) with the hub's client, parse every page, keep nothing."""
    from hub_pipelines.sources.vima.client import VimaClient

    rss_before = peak_rss_mb()
    operations = pages = 0
    with VimaClient(vima_url, SANDBOX_API_KEY) as client:
        started = time.perf_counter()
        latest = client.get_operations(from_operation_update_id="0", descending=True, count=1)
        watermark = str(latest[0]["operation_update_id"]) if latest else None
        for stream, start in (("create", None), ("update", watermark)):
            for page, _ in client.iter_pages(stream, start, count=PAGE_SIZE, day=DAY):  # type: ignore[arg-type]
                operations += len(page) if stream == "create" else 0
                pages += 1
        seconds = time.perf_counter() - started
    _checked("pager", operations, expected)
    return {
        "operations": operations,
        "seconds": seconds,
        "ops_per_s": operations / seconds,
        "pages": pages,
        "rss_after_imports_mb": round(rss_before, 1),
    }


def copy_baseline(batches_path: str, expected: int, indexed: bool = False) -> dict[str, Any]:
    """Plain COPY of the same rows into `copy_baseline (LIKE transactions)`: no index, no key.

    Rows are written exactly as the hub writes them (`warehouse.transactions.copy_transactions`:
    same columns, binary COPY, the raw payload as encoded JSON); one COPY and one commit per
    5000-row batch, like the hub. The timer covers rendering, COPY and commit, not the
    unpickling of the batch. With `indexed`, the COPY goes into the hub's own `transactions`
    (partitioned, every key and index): the floor of any write into that table, which
    separates index upkeep from upsert machinery.
    """
    import psycopg

    from hub_core.db import month_start, next_month, partition_name
    from hub_core.timeutil import utc_now
    from hub_pipelines.warehouse.transactions import copy_transactions

    name = "bench_copy_indexed" if indexed else "bench_copy"
    table = "transactions" if indexed else "copy_baseline"
    recreate_database(name)
    with psycopg.connect(conninfo(name)) as conn:
        if indexed:
            month = month_start(DAY)
            conn.execute(
                f"CREATE TABLE {partition_name(month)} PARTITION OF transactions FOR VALUES "
                f"FROM ('{month} 00:00:00+00') TO ('{next_month(month)} 00:00:00+00')"
            )
        else:
            conn.execute("CREATE TABLE copy_baseline (LIKE transactions)")
        conn.commit()
        rss_before = peak_rss_mb()
        seconds = 0.0
        for batch in _load_batches(batches_path):
            started = time.perf_counter()
            now = utc_now()
            with conn.cursor() as cursor:
                copy_transactions(cursor, table, batch, now)
            conn.commit()
            seconds += time.perf_counter() - started
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    return _write_result(_checked("copy", rows, expected), seconds, rss_before)


def dlt_e2e(vima_url: str, expected: int) -> dict[str, Any]:
    """dlt as a user would write it: incremental create cursor, merge on `operation_id`.

    Defaults everywhere else (postgres `insert_values` loader files, one normalize worker).
    Timed from `pipeline.run` to its return, when the merged tables are queryable.
    """
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import dlt
    import psycopg
    from dlt_vima_pipeline import vima_operations  # the resource a dlt user writes

    name = "bench_dlt"
    recreate_database(name, migrated=False)
    rss_before = peak_rss_mb()

    pipelines_dir = tempfile.mkdtemp(prefix="bench-dlt-")
    try:
        pipeline = dlt.pipeline(
            pipeline_name="bench_vima",
            pipelines_dir=pipelines_dir,
            # dlt insists on a password; the server's trust auth ignores this placeholder.
            destination=dlt.destinations.postgres(
                credentials=f"postgresql://postgres:unused@127.0.0.1:5432/{name}"
            ),
            dataset_name="vima",
        )
        started = time.perf_counter()
        info = pipeline.run(vima_operations(vima_url, DAY.isoformat(), SANDBOX_API_KEY))
        seconds = time.perf_counter() - started
        info.raise_on_failed_jobs()
    finally:
        shutil.rmtree(pipelines_dir, ignore_errors=True)
    with psycopg.connect(conninfo(name)) as conn:
        rows = conn.execute("SELECT count(*) FROM vima.vima_operations").fetchone()[0]  # type: ignore[index]
    if rows != expected:
        raise RuntimeError(f"dlt: {rows} rows, expected {expected}")
    return {
        "operations": rows,
        "seconds": seconds,
        "ops_per_s": rows / seconds,
        "rss_after_imports_mb": round(rss_before, 1),
    }


# --------------------------------------------------------------------------- orchestration


def run_benchmark(
    per_day: int,
    repeat: int,
    only: str | None,
    quiet_wait: float = 0.0,
    json_path: Path | None = None,
) -> dict[str, Any]:
    """Every selected contender `repeat` times against one sandbox day; figures and ratios."""
    want = {only} if only else {"hub", "dlt", "copy"}
    results: dict[str, Any] = {"machine": machine_info(), "per_day": per_day, "repeat": repeat}
    runs: dict[str, list[dict[str, Any]]] = {}
    workdir = tempfile.mkdtemp(prefix="bench-vima-")
    batches_path = str(Path(workdir) / "normalized.pickle")
    try:
        with sandbox_process(build_day, per_day) as sandbox:
            vima_url = sandbox.info["vima_url"]
            results["sandbox"] = sandbox.info
            say(
                f"sandbox: {sandbox.info['operations']} operations, "
                f"generated in {sandbox.info['generate_s']} s"
            )
            prep = run_isolated(prepare, vima_url, batches_path)
            expected = prep["operations"]
            results["operations"] = expected
            say(f"prepared: {expected} operations of {DAY} in {prep['seconds']:.1f} s")
            plan: list[tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]] = []
            if "hub" in want:
                plan.append(("hub", hub_e2e, (vima_url, expected)))
                plan.append(("pager", pager, (vima_url, expected)))
                plan.append(("hub_write", hub_write, (batches_path, expected)))
                plan.append(("hub_land", hub_land, (vima_url, expected)))
            if "copy" in want:
                plan.append(("copy", copy_baseline, (batches_path, expected)))
                plan.append(("copy_indexed", copy_baseline, (batches_path, expected, True)))
            if "dlt" in want:
                plan.append(("dlt", dlt_e2e, (vima_url, expected)))
            for attempt in range(repeat):
                for label, func, args in plan:
                    load = wait_for_quiet(quiet_wait)
                    say(f"run {attempt + 1}/{repeat}: {label} (load {load:.2f}) ...")
                    run = run_isolated(func, *args)
                    runs.setdefault(label, []).append(run)
                    say(f"  {label}: {_brief(run)}")
                    save_partial(json_path, results, runs)
        if "hub" in want and per_day != FLATNESS_PER_DAY:
            with sandbox_process(build_day, FLATNESS_PER_DAY) as small:
                small_url = small.info["vima_url"]
                small_prep = run_isolated(prepare, small_url, None)
                load = wait_for_quiet(quiet_wait)
                say(f"flatness: hub at {small_prep['operations']} ops (load {load:.2f}) ...")
                run = run_isolated(hub_e2e, small_url, small_prep["operations"])
                runs["hub_small"] = [run]
                say(f"  hub_small: {_brief(run)}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["runs"] = runs
    results["summary"] = summarize(runs)
    return results


def profile(per_day: int, top: int) -> None:
    """Print cProfile reports of the hub end to end and of its write stage, one day each."""
    workdir = tempfile.mkdtemp(prefix="bench-vima-")
    batches_path = str(Path(workdir) / "normalized.pickle")
    try:
        with sandbox_process(build_day, per_day) as sandbox:
            vima_url = sandbox.info["vima_url"]
            expected = run_isolated(prepare, vima_url, batches_path)["operations"]
            for label, func, first in (
                ("hub end to end", hub_e2e, vima_url),
                ("hub write stage", hub_write, batches_path),
            ):
                run = run_isolated(func, first, expected, top)
                print(f"==== {label}: {expected} operations")
                print(run.pop("profile"))
                print(json.dumps(run, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per contender and the ratios against the targets."""
    summary: dict[str, Any] = {}
    for label, items in runs.items():
        entry = {
            key: median_of(items, key)
            for key in ("seconds", "peak_rss_mb", "cpu_s", "machine_busy_pct")
        }
        # the contender and every process it started: the highest of its runs
        entry["tree_peak_rss_mb"] = max(r.get("tree_peak_rss_mb", 0.0) for r in items)
        entry["tree_peak_pss_mb"] = max(r.get("tree_peak_pss_mb", 0.0) for r in items)
        rate = "ops_per_s" if "ops_per_s" in items[0] else "rows_per_s"
        entry[rate] = median_of(items, rate)
        entry["count"] = items[0].get("operations", items[0].get("rows"))
        summary[label] = entry
    ratios: dict[str, Any] = {}
    if "hub" in summary and "dlt" in summary:
        value = summary["hub"]["ops_per_s"] / summary["dlt"]["ops_per_s"]
        per_run = [
            h["ops_per_s"] / d["ops_per_s"] for h, d in zip(runs["hub"], runs["dlt"], strict=False)
        ]
        ratios["hub_e2e_over_dlt_e2e"] = {
            "value": value,
            "per_run": per_run,
            "target": f">= {TARGET_E2E_RATIO} in every run",
            "met": min(per_run) >= TARGET_E2E_RATIO,
        }
    if "hub" in summary and "pager" in summary:
        value = summary["hub"]["ops_per_s"] / summary["pager"]["ops_per_s"]
        ratios["hub_e2e_over_pager"] = {
            "value": value,
            "target": f">= {TARGET_PAGER_SHARE:.3f}",
            "met": value >= TARGET_PAGER_SHARE,
        }
    if "hub_write" in summary and "copy_indexed" in summary:
        value = summary["hub_write"]["seconds"] / summary["copy_indexed"]["seconds"]
        ratios["hub_write_time_over_copy_indexed_time"] = {
            "value": value,
            "target": f"<= {TARGET_WRITE_RATIO}",
            "met": value <= TARGET_WRITE_RATIO,
        }
    if "hub_write" in summary and "copy" in summary:
        value = summary["hub_write"]["seconds"] / summary["copy"]["seconds"]
        ratios["hub_write_time_over_copy_time"] = {
            "value": value,
            "target": "(reference: the unindexed table)",
            "met": True,
        }
    # the hub's processes (the run's and its normalizer's) together: PSS summed, what they cost
    # the machine (RSS summed counts the pages both map, the interpreter's and libraries', twice:
    # reported beside it); the highest sample of any run at either size
    sizes = [k for k in ("hub", "hub_small") if k in summary]
    if sizes:
        value = max(summary[k]["tree_peak_pss_mb"] for k in sizes)
        ratios["hub_peak_pss_mb"] = {
            "value": value,
            "target": f"< {TARGET_PEAK_MB:.0f}",
            "met": value < TARGET_PEAK_MB,
        }
        value = max(summary[k]["tree_peak_rss_mb"] for k in sizes)
        ratios["hub_peak_rss_summed_mb"] = {
            "value": value,
            "target": f"(reference: < {TARGET_PEAK_MB:.0f} counting shared pages in each process)",
            "met": value < TARGET_PEAK_MB,
        }
    summary["ratios"] = ratios
    return summary


def _brief(run: dict[str, Any]) -> str:
    rate = run.get("ops_per_s") or run.get("rows_per_s")
    return (
        f"{run['seconds']:.1f} s, {rate:,.0f}/s, peak {run['peak_rss_mb']:.0f} MB "
        f"(process tree: RSS {run.get('tree_peak_rss_mb', 0):.0f} MB, "
        f"PSS {run.get('tree_peak_pss_mb', 0):.0f} MB), "
        f"cpu {run['cpu_s']:.0f} s, machine busy {run['machine_busy_pct']:.0f}%"
    )


def render_markdown(results: dict[str, Any]) -> str:
    """The results as the Markdown table of BENCHMARKS.md."""
    s = results["summary"]
    labels = {
        "hub": "hub end to end (API -> `transactions`)",
        "hub_small": "hub end to end, smaller day (memory flatness)",
        "dlt": "dlt end to end (API -> merged tables)",
        "hub_write": "hub write stage (`upsert_transactions`, 5000/batch)",
        "hub_land": "hub raw landing alone (`upsert_raw_vima`, a page per transaction)",
        "pager": "fetch-only pager (the source's ceiling)",
        "copy": "plain COPY, unindexed table (5000/batch)",
        "copy_indexed": "COPY into `transactions` itself, every index (5000/batch; reference)",
    }
    lines = [
        "| contender | rows | wall s | rows/s | peak RSS MB | process tree peak RSS / PSS MB "
        "| contender CPU s | machine busy % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        if key in s:
            e = s[key]
            rate = e.get("ops_per_s", e.get("rows_per_s"))
            lines.append(
                f"| {label} | {e['count']:,} | {e['seconds']:.1f} | {rate:,.0f} | "
                f"{e['peak_rss_mb']:.0f} | {e['tree_peak_rss_mb']:.0f} / "
                f"{e['tree_peak_pss_mb']:.0f} | {e['cpu_s']:.0f} | {e['machine_busy_pct']:.0f} |"
            )
    lines += ["", "| ratio | value | target | met |", "|---|---:|---|---|"]
    for key, r in s["ratios"].items():
        met = "yes" if r["met"] else "NO"
        lines.append(f"| {key} | {r['value']:.2f} | {r['target']} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-day", type=int, default=200_000, help="operations in the day")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contender")
    parser.add_argument("--only", choices=("hub", "dlt", "copy"), help="one contender only")
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=15,
        metavar="TOP",
        help="profile the hub (end to end, then write stage) with cProfile, print top TOP",
    )
    add_quiet_wait(parser, default=300.0)
    parser.add_argument("--keep-dbs", action="store_true", help="keep the bench_* databases")
    args = parser.parse_args(argv)

    def run() -> dict[str, Any] | None:
        if args.profile:
            profile(args.per_day, args.profile)
            return None
        return run_benchmark(args.per_day, args.repeat, args.only, args.quiet_wait, args.json)

    return run_and_report(run, BENCH_DATABASES, args.keep_dbs, render_markdown, args.json)


if __name__ == "__main__":
    sys.exit(main())
