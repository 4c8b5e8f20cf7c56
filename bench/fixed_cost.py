"""Fixed cost of a run (issue 14): what a user pays for one run whatever its size.

Each measurement is a command run in a fresh process, timed from the command to its exit (the
process and the processes it waited for: their CPU time and peak RSS from `wait4`):

- `import`: `python -c "import hub_pipelines.definitions"` (the code location every Dagster
  process loads: the daemon's run workers, the code server, the CLI); the import alone
  (`import_s`, timed inside) and the command (`seconds`), and which heavy packages it loaded.
  One more run under `-X importtime` (untimed) gives the import's cost per top-level package.
- `cli_floor`: `dagster asset materialize --help`: the Dagster CLI's own start, no code
  location (what the project does not control).
- `empty`: `dagster asset materialize -m hub_pipelines.definitions --select
  vima_operations,vima_transactions --partition 2025-12-15`, a day the sandbox Vima has no
  operation in (one create-cursor and one update-cursor request, nothing to land).
- with `--per-day N`, instead of `empty`: `hub_day`, the same command for 2026-01-01, a sandbox
  day of about N operations, and `dlt_day`, `python bench/dlt_vima_pipeline.py` (dlt as a user
  writes it: the `dlt_e2e` resource of `vima_ingest.py`, dlt defaults) loading the same day,
  both command to exit; the ratio hub/dlt of their wall times (issue target: <= 0.4 at
  200,000 operations).

Every hub command runs with the repository's `dagster.yaml` in a throw-away `DAGSTER_HOME`
(PostgreSQL instance storage in `bench_fixed_dagster`), the hub tables in `bench_fixed_hub`,
Redis db 15, the sandbox (`_common.sandbox_process`) as Vima, from a working directory with no
`.env` (Dagster's CLIs and the hub settings read a `.env` of the working directory) and with no
hub setting inherited from the caller's environment. Before each run, untimed: the hub database
is created again and migrated, the instance database created again and its schema written (a
daemon's instance exists before its runs), dlt gets a fresh database (`bench_fixed_dlt`) and a
fresh `DLT_DATA_DIR`; before the day runs, the day is paged once (the sandbox serializes an
operation on its first serve). The runs are interleaved (`--repeat` rounds of every
measurement) and each is reported with the load before it and how busy the machine was; the
summary gives medians. A hub run also reports its phases from Dagster's own records: command
to the run's start (`before_run_s`: interpreter, CLI, code location, instance, run record),
the run (`run_s`, and each step's time) and the run's end to the exit (`after_run_s`).

Run: `.venv/bin/python bench/fixed_cost.py [--repeat 3] [--per-day 200000] [--json out.json]
[--quiet-wait SECONDS] [--keep-dbs]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from _common import (
    PG_SERVER,
    ROOT,
    SANDBOX_API_KEY,
    SANDBOX_EMAIL,
    SANDBOX_PASSWORD,
    TreeMemory,
    add_quiet_wait,
    busy_pct,
    code_version,
    conninfo,
    cpu_jiffies,
    db_url,
    machine_basics,
    median_of,
    pg_settings,
    recreate_database,
    run_and_report,
    sandbox_process,
    save_partial,
    say,
    wait_for_quiet,
)

PYTHON = sys.executable
DAGSTER = str(Path(PYTHON).with_name("dagster"))
DLT_SCRIPT = ROOT / "bench" / "dlt_vima_pipeline.py"
SEED = 1
DAY = date(2026, 1, 1)
"""The sandbox's day (the day materialized with `--per-day`)."""
EMPTY_DAY = date(2025, 12, 15)
"""A day before the sandbox's: no operation."""
HUB_START_DATE = date(2025, 12, 1)
"""The first daily partition (so that `EMPTY_DAY` is one)."""
EMPTY_WORLD_PER_DAY = 100
PAGE_SIZE = 100
SELECTION = "vima_operations,vima_transactions"
HUB_DB = "bench_fixed_hub"
DAGSTER_DB = "bench_fixed_dagster"
DLT_DB = "bench_fixed_dlt"
BENCH_DATABASES = (HUB_DB, DAGSTER_DB, DLT_DB)
REDIS_URL = "redis://127.0.0.1:6379/15"
"""Redis db 15: the tests use 1-14, the other benchmarks 12 and 13."""
TARGET_RATIO = 0.4
"""Issue 14: a day through the hub's CLI in at most 0.4x dlt's time (200,000 operations)."""
HUB_SETTING_PREFIXES = ("HUB_", "VIMA_", "PAYSHACK_", "DAGSTER_", "DESTINATION__", "SOURCES__")
HUB_SETTING_NAMES = ("DATABASE_URL", "REDIS_URL", "DLT_DATA_DIR", "RUNTIME__LOG_LEVEL")
WATCHED_MODULES = (
    "playwright",
    "cryptography.fernet",
    "httpx",
    "rich",
    "pandas",
    "openpyxl",
    "fastapi",
    "uvicorn",
    "dlt",
    "hub_api",
    "hub_sandbox",
)
"""Packages the code location's import is checked for (reported when loaded): the browser's
(Playwright, Fernet), the Vima client's (httpx), the API's and the benchmark's; `rich` comes with
structlog (and with Dagster's own instance code in every Dagster process)."""
IMPORT_SNIPPET = f"""
import json, sys, time
started = time.perf_counter()
import hub_pipelines.definitions
seconds = time.perf_counter() - started
watched = {WATCHED_MODULES!r}
print(json.dumps({{"import_s": seconds, "loaded": [m for m in watched if m in sys.modules]}}))
"""


def machine_info() -> dict[str, Any]:
    """The machine and the versions the figures come from."""
    from importlib.metadata import version

    return {
        **code_version(),
        **machine_basics(),
        "postgresql": pg_settings(["server_version"])["server_version"],
        "dagster": version("dagster"),
        "dlt": version("dlt"),
    }


def build_world(per_day: int) -> tuple[Any, dict[str, Any]]:
    """The sandbox's world: one day (`DAY`) of about `per_day` operations (runs in the sandbox
    process)."""
    from hub_sandbox.scenario import generate

    started = time.perf_counter()
    scenario = generate(seed=SEED, start=DAY, days=1, per_day=per_day)
    return scenario, {
        "operations": len(scenario.vima_operations),
        "generate_s": round(time.perf_counter() - started, 2),
    }


# --------------------------------------------------------------------------- processes


class Workspace:
    """The throw-away directory of a benchmark: the working directory of every command (no
    `.env`), the `DAGSTER_HOME`, the command logs, and the environment of the commands."""

    def __init__(self, vima_url: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-fixed-"))
        self.cwd = self.root / "cwd"
        self.home = self.root / "dagster_home"
        self.logs = self.root / "logs"
        for folder in (self.cwd, self.home, self.logs):
            folder.mkdir()
        shutil.copy(ROOT / "dagster.yaml", self.home / "dagster.yaml")
        self.vima_url = vima_url
        self.counter = 0

    def env(self, **extra: str) -> dict[str, str]:
        """The caller's environment without any hub, Dagster or dlt setting, plus the
        benchmark's."""
        base = {
            name: value
            for name, value in os.environ.items()
            if not name.upper().startswith(HUB_SETTING_PREFIXES)
            and name.upper() not in HUB_SETTING_NAMES
        }
        return {
            **base,
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_POSTGRES_URL": db_url(DAGSTER_DB, "postgresql+psycopg2"),
            "DATABASE_URL": db_url(HUB_DB),
            "REDIS_URL": REDIS_URL,
            "VIMA_BASE_URL": self.vima_url,
            "VIMA_API_KEY": SANDBOX_API_KEY,
            "PAYSHACK_EMAIL": SANDBOX_EMAIL,
            "PAYSHACK_PASSWORD": SANDBOX_PASSWORD,
            "HUB_SECRET_KEY": "bench-secret-key",
            "HUB_START_DATE": HUB_START_DATE.isoformat(),
            **extra,
        }

    def log_path(self, label: str) -> Path:
        """A new log file for a command."""
        self.counter += 1
        return self.logs / f"{self.counter:03d}-{label}.log"

    def close(self) -> None:
        """Remove the directory."""
        shutil.rmtree(self.root, ignore_errors=True)


def timed_command(
    label: str, command: list[str], workspace: Workspace, env: dict[str, str]
) -> dict[str, Any]:
    """Run `command` from the workspace's directory, timed from its start to its exit; its
    CPU time and peak RSS (with the children it waited for: the largest process), the peaks of
    its process tree's RSS and PSS summed (every process under it at once), the load before
    it and how busy the machine was. Fails with the end of its output when it exits non-zero."""
    log_path = workspace.log_path(label)
    load = os.getloadavg()[0]
    before = cpu_jiffies()
    with log_path.open("w") as log:
        wall_start = time.time()
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=workspace.cwd, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        with TreeMemory(process.pid) as tree:  # the command and every process under it
            _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    busy = busy_pct(before, cpu_jiffies())
    output = log_path.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"{label} exited {process.returncode}:\n{output[-3000:]}")
    return {
        "seconds": round(seconds, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "tree_peak_rss_mb": round(tree.peak_rss_kib / 1024, 1),
        "tree_peak_pss_mb": round(tree.peak_pss_kib / 1024, 1),
        "load_before": round(load, 2),
        "machine_busy_pct": busy,
        "started_at": wall_start,
        "output": output,
        **code_version(),
    }


def untimed(command: list[str], workspace: Workspace, env: dict[str, str]) -> None:
    """Run a preparation command (fails with its output when it exits non-zero)."""
    result = subprocess.run(
        command, cwd=workspace.cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{(result.stdout + result.stderr)[-3000:]}")


# --------------------------------------------------------------------------- preparation


def fresh_hub_databases(workspace: Workspace) -> None:
    """The hub database created again and migrated; the instance database created again with
    Dagster's schema in it (as a daemon's instance is before its runs)."""
    recreate_database(HUB_DB)
    recreate_database(DAGSTER_DB, migrated=False)
    untimed(
        [PYTHON, "-c", "from dagster import DagsterInstance; DagsterInstance.get().get_runs()"],
        workspace,
        workspace.env(),
    )


def warm(vima_url: str, day: date) -> int:
    """Page the day once by its create cursor (untimed: the sandbox serializes an operation on
    its first serve); the number of operations."""
    from hub_pipelines.sources.vima.client import VimaClient

    with VimaClient(vima_url, SANDBOX_API_KEY) as client:
        return sum(len(page) for page, _ in client.iter_pages("create", None, day=day))


def _scalar(database: str, sql: str) -> Any:
    """The first column of the first row of `sql` in `database`."""
    import psycopg

    with psycopg.connect(conninfo(database)) as conn:
        row = conn.execute(sql).fetchone()
    return row[0] if row else None


# --------------------------------------------------------------------------- measurements


def measure_import(workspace: Workspace) -> dict[str, Any]:
    """`import hub_pipelines.definitions` in a fresh interpreter."""
    run = timed_command("import", [PYTHON, "-c", IMPORT_SNIPPET], workspace, workspace.env())
    reported = json.loads(run.pop("output").strip().splitlines()[-1])
    run["import_s"] = round(reported["import_s"], 3)
    run["loaded"] = reported["loaded"]
    return run


def import_breakdown(workspace: Workspace, top: int = 15) -> dict[str, Any]:
    """One import under `-X importtime` (untimed: it slows the import): the self time summed
    per top-level package, the largest `top`, in ms."""
    result = subprocess.run(
        [PYTHON, "-X", "importtime", "-c", "import hub_pipelines.definitions"],
        cwd=workspace.cwd,
        env=workspace.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    per_package: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        package = name.strip().split(".")[0]
        per_package[package] = per_package.get(package, 0) + int(self_us)
    ranked = sorted(per_package.items(), key=lambda item: -item[1])
    return {
        "total_ms": round(sum(per_package.values()) / 1000),
        "packages_ms": {name: round(us / 1000) for name, us in ranked[:top]},
    }


def measure_cli_floor(workspace: Workspace) -> dict[str, Any]:
    """`dagster asset materialize --help`: the Dagster CLI's start without a code location."""
    run = timed_command(
        "cli_floor", [DAGSTER, "asset", "materialize", "--help"], workspace, workspace.env()
    )
    run.pop("output")
    return run


def measure_materialize(
    label: str, day: date, expected: int, workspace: Workspace
) -> dict[str, Any]:
    """`dagster asset materialize` of the Vima assets for `day`, command to exit, on fresh
    databases; its phases from the run's record and events, checked: the run succeeded and
    the day's `transactions` number `expected`."""
    fresh_hub_databases(workspace)
    command = [
        DAGSTER,
        "asset",
        "materialize",
        "-m",
        "hub_pipelines.definitions",
        "--select",
        SELECTION,
        "--partition",
        day.isoformat(),
    ]
    run = timed_command(label, command, workspace, workspace.env())
    run.pop("output")
    run.update(run_phases(run.pop("started_at"), run["seconds"]))
    if run["status"] != "SUCCESS":
        raise RuntimeError(f"{label}: the run ended {run['status']}")
    rows = _scalar(HUB_DB, "SELECT count(*) FROM transactions WHERE source = 'vima'")
    if rows != expected:
        raise RuntimeError(f"{label}: {rows} Vima transactions, expected {expected}")
    run["operations"] = rows
    return run


def run_phases(started_at: float, seconds: float) -> dict[str, Any]:
    """The phases of the instance's only run, from its record (start and end times) and its
    step events: command to the run's start, the run, the run's end to the exit; each step's
    time."""
    import psycopg

    with psycopg.connect(conninfo(DAGSTER_DB)) as conn:
        rows = conn.execute("SELECT run_id, status, start_time, end_time FROM runs").fetchall()
        if len(rows) != 1:
            raise RuntimeError(f"expected one run in {DAGSTER_DB}, found {len(rows)}")
        run_id, status, start_time, end_time = rows[0]
        events = conn.execute(
            "SELECT step_key, dagster_event_type, timestamp FROM event_logs "
            "WHERE run_id = %s AND dagster_event_type IN "
            "('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') ORDER BY id",
            (run_id,),
        ).fetchall()
    starts: dict[str, Any] = {}
    steps: dict[str, float] = {}
    for step_key, kind, stamp in events:
        if kind == "STEP_START":
            starts[step_key] = stamp
        elif step_key in starts:
            steps[step_key] = round((stamp - starts[step_key]).total_seconds(), 3)
    return {
        "status": status,
        "before_run_s": round(start_time - started_at, 3),
        "run_s": round(end_time - start_time, 3),
        "after_run_s": round(started_at + seconds - end_time, 3),
        "steps_s": steps,
    }


def measure_dlt(day: date, expected: int, workspace: Workspace) -> dict[str, Any]:
    """`python bench/dlt_vima_pipeline.py` loading `day`, command to exit, into a fresh
    database with a fresh pipelines directory; checked: `expected` rows merged."""
    recreate_database(DLT_DB, migrated=False)
    data_dir = tempfile.mkdtemp(prefix="dlt-data-", dir=workspace.root)
    env = workspace.env(
        # dlt insists on a password; the server's trust auth ignores this placeholder.
        DESTINATION__POSTGRES__CREDENTIALS=PG_SERVER.replace("postgres@", "postgres:unused@")
        + f"/{DLT_DB}",
        SOURCES__VIMA__API_KEY=SANDBOX_API_KEY,
        DLT_DATA_DIR=data_dir,
        RUNTIME__DLTHUB_TELEMETRY="false",
        RUNTIME__LOG_LEVEL="WARNING",
    )
    try:
        command = [PYTHON, str(DLT_SCRIPT), workspace.vima_url, day.isoformat()]
        run = timed_command("dlt_day", command, workspace, env)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    run.pop("output")
    run.pop("started_at")
    rows = _scalar(DLT_DB, "SELECT count(*) FROM vima.vima_operations")
    if rows != expected:
        raise RuntimeError(f"dlt_day: {rows} rows, expected {expected}")
    run["operations"] = rows
    return run


# --------------------------------------------------------------------------- orchestration


def run_benchmark(
    repeat: int, per_day: int | None, quiet_wait: float = 0.0, json_path: Path | None = None
) -> dict[str, Any]:
    """`repeat` interleaved rounds of the import, the CLI floor and the empty partition (or,
    with `per_day`, the hub and dlt on a day of that many operations); every run and the
    medians."""
    results: dict[str, Any] = {
        "machine": machine_info(),
        "repeat": repeat,
        "per_day": per_day,
        "command": "dagster asset materialize -m hub_pipelines.definitions "
        f"--select {SELECTION} --partition {(DAY if per_day else EMPTY_DAY).isoformat()}",
    }
    runs: dict[str, list[dict[str, Any]]] = {}
    with sandbox_process(build_world, per_day or EMPTY_WORLD_PER_DAY) as sandbox:
        results["sandbox"] = sandbox.info
        say(f"sandbox: {sandbox.info['operations']} operations on {DAY}")
        workspace = Workspace(sandbox.info["vima_url"])
        try:
            plan: list[tuple[str, Any]] = [
                ("import", lambda: measure_import(workspace)),
                ("cli_floor", lambda: measure_cli_floor(workspace)),
            ]
            if per_day:
                started = time.perf_counter()
                expected = warm(workspace.vima_url, DAY)
                say(f"warmed: {expected} operations paged in {time.perf_counter() - started:.1f} s")
                results["operations"] = expected
                plan += [
                    ("hub_day", lambda: measure_materialize("hub_day", DAY, expected, workspace)),
                    ("dlt_day", lambda: measure_dlt(DAY, expected, workspace)),
                ]
            else:
                if (operations := warm(workspace.vima_url, EMPTY_DAY)) != 0:
                    raise RuntimeError(f"{EMPTY_DAY} has {operations} operations, expected none")
                plan.append(
                    ("empty", lambda: measure_materialize("empty", EMPTY_DAY, 0, workspace))
                )
            for attempt in range(repeat):
                for label, measure in plan:
                    load = wait_for_quiet(quiet_wait)
                    say(f"run {attempt + 1}/{repeat}: {label} (load {load:.2f}) ...")
                    run = measure()
                    runs.setdefault(label, []).append(run)
                    say(f"  {label}: {_brief(run)}")
                    save_partial(json_path, results, runs)
            results["import_breakdown"] = import_breakdown(workspace)
        finally:
            workspace.close()
    results["runs"] = runs
    results["summary"] = summarize(runs)
    return results


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per measurement and the hub/dlt ratio against the target."""
    summary: dict[str, Any] = {}
    for label, items in runs.items():
        entry: dict[str, Any] = {
            key: median_of(items, key)
            for key in ("seconds", "cpu_s", "peak_rss_mb", "machine_busy_pct")
        }
        entry["tree_peak_rss_mb"] = max(run.get("tree_peak_rss_mb", 0.0) for run in items)
        entry["tree_peak_pss_mb"] = max(run.get("tree_peak_pss_mb", 0.0) for run in items)
        entry["runs_s"] = [run["seconds"] for run in items]
        for key in ("import_s", "before_run_s", "run_s", "after_run_s"):
            if key in items[0]:
                entry[key] = median_of(items, key)
        if "loaded" in items[0]:
            entry["loaded"] = items[-1]["loaded"]
        if "operations" in items[0]:
            entry["operations"] = items[0]["operations"]
        summary[label] = entry
    if "hub_day" in runs and "dlt_day" in runs:
        per_run = [
            hub["seconds"] / dlt["seconds"]
            for hub, dlt in zip(runs["hub_day"], runs["dlt_day"], strict=False)
        ]
        value = summary["hub_day"]["seconds"] / summary["dlt_day"]["seconds"]
        summary["ratios"] = {
            "hub_day_over_dlt_day": {
                "value": value,
                "per_run": per_run,
                "target": f"<= {TARGET_RATIO} in every run (at 200,000 operations)",
                "met": max(per_run) <= TARGET_RATIO,
            }
        }
    return summary


def _brief(run: dict[str, Any]) -> str:
    parts = [f"{run['seconds']:.2f} s"]
    if "import_s" in run:
        parts.append(f"import {run['import_s']:.2f} s, loaded {','.join(run['loaded']) or '-'}")
    if "run_s" in run:
        parts.append(
            f"before run {run['before_run_s']:.2f} s, run {run['run_s']:.2f} s, "
            f"after {run['after_run_s']:.2f} s"
        )
    parts.append(
        f"cpu {run['cpu_s']:.1f} s, peak {run['peak_rss_mb']:.0f} MB "
        f"(tree: RSS {run.get('tree_peak_rss_mb', 0):.0f}, "
        f"PSS {run.get('tree_peak_pss_mb', 0):.0f}), "
        f"machine busy {run['machine_busy_pct']:.0f}%, load before {run['load_before']:.2f}"
    )
    return "; ".join(parts)


def render_markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown table for BENCHMARKS.md."""
    labels = {
        "import": "`import hub_pipelines.definitions` (fresh interpreter, command to exit)",
        "cli_floor": "`dagster asset materialize --help` (the CLI alone)",
        "empty": f"`dagster asset materialize`, empty partition ({EMPTY_DAY})",
        "hub_day": f"`dagster asset materialize`, {results.get('operations', 0):,} operations",
        "dlt_day": f"`python dlt_vima_pipeline.py`, {results.get('operations', 0):,} operations",
    }
    summary = results["summary"]
    lines = [
        "| measurement | runs (s) | median s | CPU s | peak RSS MB "
        "| process tree peak RSS / PSS MB | machine busy % |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in labels.items():
        if key in summary:
            e = summary[key]
            runs = " / ".join(f"{s:.2f}" for s in e["runs_s"])
            lines.append(
                f"| {label} | {runs} | **{e['seconds']:.2f}** | {e['cpu_s']:.1f} | "
                f"{e['peak_rss_mb']:.0f} | {e['tree_peak_rss_mb']:.0f} / "
                f"{e['tree_peak_pss_mb']:.0f} | {e['machine_busy_pct']:.0f} |"
            )
    for key in ("empty", "hub_day"):
        if key in summary:
            e = summary[key]
            lines.append("")
            lines.append(
                f"`{key}` phases (medians): command to the run's start {e['before_run_s']:.2f} s, "
                f"the run {e['run_s']:.2f} s, the run's end to the exit {e['after_run_s']:.2f} s."
            )
    if "import" in summary:
        e = summary["import"]
        lines.append("")
        lines.append(
            f"Import alone (median, timed inside): {e['import_s']:.2f} s; heavy packages "
            f"loaded: {', '.join(e['loaded']) or 'none of ' + ', '.join(WATCHED_MODULES)}."
        )
    if breakdown := results.get("import_breakdown"):
        top = ", ".join(f"{name} {ms}" for name, ms in breakdown["packages_ms"].items())
        lines.append(f"`-X importtime` ({breakdown['total_ms']} ms in all), ms per package: {top}.")
    for key, ratio in summary.get("ratios", {}).items():
        met = "met" if ratio["met"] else "NOT met"
        lines.append("")
        lines.append(f"{key}: {ratio['value']:.2f} (target {ratio['target']}: {met}).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every measurement")
    parser.add_argument(
        "--per-day",
        type=int,
        metavar="N",
        help="instead of the empty partition: a day of N operations, hub and dlt",
    )
    parser.add_argument("--json", type=Path, help="write every figure to this JSON file")
    add_quiet_wait(parser, default=300.0)
    parser.add_argument("--keep-dbs", action="store_true", help="keep the bench_* databases")
    args = parser.parse_args(argv)
    return run_and_report(
        lambda: run_benchmark(args.repeat, args.per_day, args.quiet_wait, args.json),
        BENCH_DATABASES,
        args.keep_dbs,
        render_markdown,
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
