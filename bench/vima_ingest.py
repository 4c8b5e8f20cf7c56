"""Vima ingestion benchmark (issue 4): the hub against dlt and a plain COPY, on one sandbox day.

Contenders, each in its own spawned subprocess (peak RSS measured inside it), all reading the
same day served by one sandbox that runs in a process of its own:

- `hub`: API -> queryable `transactions` (`ingest_and_normalize`: what the Vima multi-asset
  runs for a schedule or a backfill; pages landed raw and normalized at once) on a freshly
  migrated `bench_hub`, end to end; also run at a smaller day to show memory flatness.
- `hub_write`: the hub's write stage alone, `upsert_transactions` of the day's pre-normalized
  rows in batches of 5000 into an empty `transactions` table (`bench_hub_write`).
- `dlt`: a `@dlt.resource` paging the create cursor with `dlt.sources.incremental`, merge on
  `operation_id`, postgres destination (`bench_dlt`), end to end.
- `copy`: a plain COPY of the same pre-normalized rows into an unindexed table with the columns
  of `transactions` (`bench_copy`): the write-stage baseline.

Before the contenders run, a preparation pass pages the whole day once. It warms the sandbox
(which serializes an operation on first serve) so every contender meets the same server, and
it writes the day's normalized rows to a pickle file (5000 per batch) for `hub_write` and
`copy`; reading that file is never timed.

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
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

import _common
from _common import SPAWN, machine_basics, migrate, peak_rss_mb, wait_for_quiet

DAY = date(2026, 1, 1)
SEED = 1
FLATNESS_PER_DAY = 50_000
BATCH = 5000
PAGE_SIZE = 100
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
# Bench-only credentials of the local sandbox (never real secrets).
SANDBOX_API_KEY = "bench-vima-key"
SANDBOX_EMAIL = "bench@example.invalid"
SANDBOX_PASSWORD = "bench-password"
QUIET_LOAD = 1.0
BENCH_DATABASES = ("bench_hub", "bench_hub_write", "bench_copy", "bench_copy_indexed", "bench_dlt")
TARGET_E2E_RATIO = 2.0
TARGET_WRITE_RATIO = 2.0
TARGET_PEAK_MB = 500.0


def db_url(name: str, driver: str = "postgresql+psycopg") -> str:
    """SQLAlchemy URL of the benchmark database `name` on the local server."""
    return f"{PG_SERVER.replace('postgresql', driver, 1)}/{name}"


def recreate_database(name: str) -> None:
    """Drop (forcing out sessions) and create the database `name`."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    """Drop the database `name` if it exists."""
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def code_version() -> dict[str, Any]:
    """The hub code being measured: git commit, and whether hub files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=False
        ).stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "hub_code_dirty": bool(git("status", "--porcelain", "--", "hub_core", "hub_pipelines")),
    }


def machine_info() -> dict[str, Any]:
    """The machine the figures come from."""
    try:
        pg = subprocess.run(
            ["psql", f"{PG_SERVER}/postgres", "-Atc", "SHOW server_version"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pg = "unknown"
    import dlt

    return {
        **code_version(),
        **machine_basics(),
        "postgresql": pg,
        "dlt": dlt.__version__,
    }


# --------------------------------------------------------------------------- subprocesses


def run_isolated(func: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`_common.run_isolated`, plus the hub code version (it may change between runs on a
    shared checkout)."""
    version = code_version()
    payload = _common.run_isolated(func, *args)
    payload.update(version)
    return payload


def _sandbox_main(per_day: int, conn: Connection) -> None:
    """Sandbox process: generate the day, serve it, report the URL, wait for the stop word."""
    from hub_sandbox.scenario import generate
    from hub_sandbox.server import running_sandbox

    started = time.perf_counter()
    scenario = generate(seed=SEED, start=DAY, days=1, per_day=per_day)
    generated = time.perf_counter() - started
    operations = len(scenario.vima_operations)
    with running_sandbox(
        scenario, api_key=SANDBOX_API_KEY, email=SANDBOX_EMAIL, password=SANDBOX_PASSWORD
    ) as handle:
        conn.send(
            {
                "vima_url": handle.vima_url,
                "operations": operations,
                "generate_s": round(generated, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
        )
        conn.recv()  # anything (or EOF when the parent dies) stops the sandbox


@dataclass
class Sandbox:
    """What a running sandbox process reported."""

    vima_url: str
    operations: int
    generate_s: float
    peak_rss_mb: float


@contextmanager
def sandbox_process(per_day: int) -> Iterator[Sandbox]:
    """A sandbox serving one generated day of `per_day` operations, in its own process."""
    parent, child = SPAWN.Pipe()
    process = SPAWN.Process(target=_sandbox_main, args=(per_day, child), name="sandbox")
    process.start()
    child.close()
    try:
        try:
            info = parent.recv()
        except EOFError:
            process.join()
            raise RuntimeError(f"the sandbox died (exit code {process.exitcode})") from None
        yield Sandbox(**info)
    finally:
        with suppress(OSError):
            parent.send("stop")
        process.join(15)
        if process.is_alive():
            process.terminate()
            process.join()


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


class _Profiler:
    """cProfile around the timed section when `top` > 0; a no-op otherwise."""

    def __init__(self, top: int) -> None:
        import cProfile

        self.top = top
        self.profile = cProfile.Profile() if top else None

    def __enter__(self) -> _Profiler:
        if self.profile:
            self.profile.enable()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.profile:
            self.profile.disable()

    def report(self, result: dict[str, Any]) -> None:
        """Put the top functions, by cumulative then by own time, in `result["profile"]`."""
        if not self.profile:
            return
        import io
        import pstats

        out = io.StringIO()
        stats = pstats.Stats(self.profile, stream=out)
        stats.sort_stats("cumulative").print_stats(self.top)
        stats.sort_stats("tottime").print_stats(self.top)
        result["profile"] = out.getvalue()


def _wrap_everywhere(
    owner: ModuleType, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> None:
    """Replace `owner.name` by `wrap(it)` in every loaded hub module that imported it."""
    original = getattr(owner, name)
    wrapped = wrap(original)
    for module in list(sys.modules.values()):
        if module.__name__.startswith("hub_") and getattr(module, name, None) is original:
            setattr(module, name, wrapped)


def hub_e2e(vima_url: str, expected: int, profile_top: int = 0) -> dict[str, Any]:
    """The hub, API -> queryable `transactions`, on a freshly migrated `bench_hub`.

    Stage times come from thin timing wrappers around the client's page fetch and the two
    warehouse upserts (`_wrap_everywhere`); hub code is not changed.
    """
    from sqlalchemy import text

    from hub_core.db import get_engine
    from hub_pipelines import warehouse
    from hub_pipelines.sources.vima import ingest
    from hub_pipelines.sources.vima.client import VimaClient

    name = "bench_hub"
    recreate_database(name)
    url = db_url(name)
    migrate(url)
    engine = get_engine(url)
    stage = {"fetch_s": 0.0, "upsert_raw_s": 0.0, "upsert_transactions_s": 0.0}

    def timed(key: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                stage[key] += time.perf_counter() - started

        return wrapper

    _wrap_everywhere(warehouse, "upsert_raw_vima", lambda f: timed("upsert_raw_s", f))
    _wrap_everywhere(warehouse, "upsert_transactions", lambda f: timed("upsert_transactions_s", f))
    rss_before = peak_rss_mb()
    window = ingest.PartitionWindow.for_key(DAY.isoformat(), "UTC")
    profiler = _Profiler(profile_top)
    with VimaClient(vima_url, SANDBOX_API_KEY) as client:
        client.get_operations = timed("fetch_s", client.get_operations)  # type: ignore[method-assign]
        started = time.perf_counter()
        with profiler:
            ingested, normalized = ingest.ingest_and_normalize(client, engine, window)
        seconds = time.perf_counter() - started
        ingest_s = ingested.seconds  # the landing; the normalizer runs alongside it
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM transactions WHERE source = 'vima'")).one()[
            0
        ]
    engine.dispose()
    if rows != expected:
        raise RuntimeError(f"hub: {rows} transactions, expected {expected}")
    result: dict[str, Any] = {
        "operations": rows,
        "seconds": seconds,
        "ops_per_s": rows / seconds,
        "ingest_s": ingest_s,
        "normalize_tail_s": seconds - ingest_s,  # after the last page landed
        "pages": ingested.pages,
        "rss_after_imports_mb": round(rss_before, 1),
        "rejected": len(normalized.rejected),
        **stage,
    }
    profiler.report(result)
    return result


def hub_write(batches_path: str, expected: int, profile_top: int = 0) -> dict[str, Any]:
    """The hub's write stage alone: `upsert_transactions` of pre-normalized 5000-row batches.

    Each batch runs in its own transaction (as in `normalize_partition`); the timer covers the
    upsert and the commit, not the unpickling of the batch.
    """
    from sqlalchemy import text

    from hub_core.db import get_engine
    from hub_pipelines.warehouse import upsert_transactions

    name = "bench_hub_write"
    recreate_database(name)
    url = db_url(name)
    migrate(url)
    engine = get_engine(url)
    rss_before = peak_rss_mb()
    seconds = 0.0
    profiler = _Profiler(profile_top)
    for batch in _load_batches(batches_path):
        started = time.perf_counter()
        with profiler, engine.begin() as conn:
            upsert_transactions(conn, batch)
        seconds += time.perf_counter() - started
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM transactions")).one()[0]
    engine.dispose()
    if rows != expected:
        raise RuntimeError(f"hub_write: {rows} transactions, expected {expected}")
    result: dict[str, Any] = {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "rss_after_imports_mb": round(rss_before, 1),
    }
    profiler.report(result)
    return result


def copy_baseline(batches_path: str, expected: int, indexed: bool = False) -> dict[str, Any]:
    """Plain COPY of the same rows into `copy_baseline (LIKE transactions)`: no index, no key.

    Rows are rendered exactly as the hub stages them (`warehouse._stage_row`: same columns, the
    raw payload as JSON text); one COPY and one commit per 5000-row batch, like the hub. The
    timer covers rendering, COPY and commit, not the unpickling of the batch. With `indexed`,
    the COPY goes into the hub's own `transactions` (partitioned, every key and index): the
    floor of any write into that table, which separates index upkeep from upsert machinery.
    """
    import psycopg

    from hub_core.db import month_start, next_month, partition_name
    from hub_core.timeutil import utc_now
    from hub_pipelines.warehouse import _COLUMNS, _stage_row

    name = "bench_copy_indexed" if indexed else "bench_copy"
    table = "transactions" if indexed else "copy_baseline"
    recreate_database(name)
    migrate(db_url(name))
    columns = ", ".join(_COLUMNS)
    with psycopg.connect(f"{PG_SERVER}/{name}") as conn:
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
            with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
                for txn in batch:
                    cp.write_row(_stage_row(txn, now))
            conn.commit()
            seconds += time.perf_counter() - started
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
    if rows != expected:
        raise RuntimeError(f"copy: {rows} rows, expected {expected}")
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "rss_after_imports_mb": round(rss_before, 1),
    }


def dlt_e2e(vima_url: str, expected: int) -> dict[str, Any]:
    """dlt as a user would write it: incremental create cursor, merge on `operation_id`.

    Defaults everywhere else (postgres `insert_values` loader files, one normalize worker).
    Timed from `pipeline.run` to its return, when the merged tables are queryable.
    """
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    import dlt
    import psycopg
    from dlt.sources.helpers import requests

    name = "bench_dlt"
    recreate_database(name)
    rss_before = peak_rss_mb()

    @dlt.resource(name="vima_operations", write_disposition="merge", primary_key="operation_id")
    def vima_operations(
        created: dlt.sources.incremental[str] = dlt.sources.incremental(  # noqa: B008 (dlt idiom)
            "operation_create_id", initial_value="0"
        ),
    ) -> Iterator[list[dict[str, Any]]]:
        cursor = created.last_value
        while True:
            response = requests.get(
                f"{vima_url}/collector1/api/v1/operation",
                params={
                    "apikey": SANDBOX_API_KEY,
                    "date": DAY.isoformat(),
                    "count": PAGE_SIZE,
                    "descending": "false",
                    "from_operation_create_id": cursor,
                },
            )
            response.raise_for_status()
            page = response.json()
            if not page:
                return
            yield page
            cursor = page[-1]["operation_create_id"]

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
        info = pipeline.run(vima_operations())
        seconds = time.perf_counter() - started
        info.raise_on_failed_jobs()
    finally:
        shutil.rmtree(pipelines_dir, ignore_errors=True)
    with psycopg.connect(f"{PG_SERVER}/{name}") as conn:
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


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


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
        with sandbox_process(per_day) as sandbox:
            results["sandbox"] = vars(sandbox)
            _log(f"sandbox: {sandbox.operations} operations, generated in {sandbox.generate_s} s")
            prep = run_isolated(prepare, sandbox.vima_url, batches_path)
            expected = prep["operations"]
            results["operations"] = expected
            _log(f"prepared: {expected} operations of {DAY} in {prep['seconds']:.1f} s")
            plan: list[tuple[str, Callable[..., dict[str, Any]], tuple[Any, ...]]] = []
            if "hub" in want:
                plan.append(("hub", hub_e2e, (sandbox.vima_url, expected)))
                plan.append(("hub_write", hub_write, (batches_path, expected)))
            if "copy" in want:
                plan.append(("copy", copy_baseline, (batches_path, expected)))
                plan.append(("copy_indexed", copy_baseline, (batches_path, expected, True)))
            if "dlt" in want:
                plan.append(("dlt", dlt_e2e, (sandbox.vima_url, expected)))
            for attempt in range(repeat):
                for label, func, args in plan:
                    load = wait_for_quiet(quiet_wait, QUIET_LOAD)
                    _log(f"run {attempt + 1}/{repeat}: {label} (load {load:.2f}) ...")
                    run = run_isolated(func, *args)
                    runs.setdefault(label, []).append(run)
                    _log(f"  {label}: {_brief(run)}")
                    _save_partial(json_path, results, runs)
        if "hub" in want and per_day != FLATNESS_PER_DAY:
            with sandbox_process(FLATNESS_PER_DAY) as small:
                small_prep = run_isolated(prepare, small.vima_url, None)
                load = wait_for_quiet(quiet_wait, QUIET_LOAD)
                _log(f"flatness: hub at {small_prep['operations']} ops (load {load:.2f}) ...")
                run = run_isolated(hub_e2e, small.vima_url, small_prep["operations"])
                runs["hub_small"] = [run]
                _log(f"  hub_small: {_brief(run)}")
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
        with sandbox_process(per_day) as sandbox:
            expected = run_isolated(prepare, sandbox.vima_url, batches_path)["operations"]
            for label, func, first in (
                ("hub end to end", hub_e2e, sandbox.vima_url),
                ("hub write stage", hub_write, batches_path),
            ):
                run = run_isolated(func, first, expected, top)
                print(f"==== {label}: {expected} operations")
                print(run.pop("profile"))
                print(json.dumps(run, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _save_partial(path: Path | None, results: dict[str, Any], runs: dict[str, Any]) -> None:
    """Write the figures so far (a killed run keeps what it measured)."""
    if path is not None:
        path.write_text(json.dumps({**results, "runs": runs, "partial": True}, indent=2))


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per contender and the ratios against the targets."""
    summary: dict[str, Any] = {}
    for label, items in runs.items():
        entry = {
            key: _median(items, key)
            for key in ("seconds", "peak_rss_mb", "cpu_s", "machine_busy_pct")
        }
        rate = "ops_per_s" if "ops_per_s" in items[0] else "rows_per_s"
        entry[rate] = _median(items, rate)
        entry["count"] = items[0].get("operations", items[0].get("rows"))
        summary[label] = entry
    ratios: dict[str, Any] = {}
    if "hub" in summary and "dlt" in summary:
        value = summary["hub"]["ops_per_s"] / summary["dlt"]["ops_per_s"]
        ratios["hub_e2e_over_dlt_e2e"] = {
            "value": value,
            "target": f">= {TARGET_E2E_RATIO}",
            "met": value >= TARGET_E2E_RATIO,
        }
    if "hub_write" in summary and "copy" in summary:
        value = summary["hub_write"]["seconds"] / summary["copy"]["seconds"]
        ratios["hub_write_time_over_copy_time"] = {
            "value": value,
            "target": f"<= {TARGET_WRITE_RATIO}",
            "met": value <= TARGET_WRITE_RATIO,
        }
    hub_peaks = [summary[k]["peak_rss_mb"] for k in ("hub", "hub_small") if k in summary]
    if hub_peaks:
        value = max(hub_peaks)
        ratios["hub_peak_rss_mb"] = {
            "value": value,
            "target": f"< {TARGET_PEAK_MB:.0f}",
            "met": value < TARGET_PEAK_MB,
        }
    summary["ratios"] = ratios
    return summary


def _brief(run: dict[str, Any]) -> str:
    rate = run.get("ops_per_s") or run.get("rows_per_s")
    return (
        f"{run['seconds']:.1f} s, {rate:,.0f}/s, peak {run['peak_rss_mb']:.0f} MB, "
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
        "copy": "plain COPY, unindexed table (5000/batch)",
        "copy_indexed": "COPY into `transactions` itself, every index (5000/batch; reference)",
    }
    lines = [
        "| contender | rows | wall s | rows/s | peak RSS MB | contender CPU s | machine busy % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        if key in s:
            e = s[key]
            rate = e.get("ops_per_s", e.get("rows_per_s"))
            lines.append(
                f"| {label} | {e['count']:,} | {e['seconds']:.1f} | {rate:,.0f} | "
                f"{e['peak_rss_mb']:.0f} | {e['cpu_s']:.0f} | {e['machine_busy_pct']:.0f} |"
            )
    lines += ["", "| ratio | value | target | met |", "|---|---:|---|---|"]
    for key, r in s["ratios"].items():
        met = "yes" if r["met"] else "NO"
        lines.append(f"| {key} | {r['value']:.2f} | {r['target']} | {met} |")
    return "\n".join(lines)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help=f"before each contender, wait up to this long for load average < {QUIET_LOAD}",
    )
    parser.add_argument("--keep-dbs", action="store_true", help="keep the bench_* databases")
    args = parser.parse_args(argv)
    # A SIGTERM unwinds like Ctrl-C: the sandbox stops and the databases are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.profile:
            profile(args.per_day, args.profile)
            return 0
        results = run_benchmark(args.per_day, args.repeat, args.only, args.quiet_wait, args.json)
    finally:
        if not args.keep_dbs:
            for name in BENCH_DATABASES:
                drop_database(name)
    print(json.dumps(results["machine"], indent=2))
    print(render_markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
