"""The fault campaign's tools: a sandbox world, sync runs as real processes (through the Dagster
daemon, or `run_partition` subprocesses), and the checks every case makes: each source's rows
exactly the provider's (ids and payloads: nothing lost, nothing twice), and no secret or
customer value in any captured log or stored message."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance
from dagster._serdes import serialize_value
from sqlalchemy import Engine, text

from hub_api.dagster_client import DagsterClient
from hub_core.settings import get_settings
from hub_core.types import Source
from hub_pipelines.sources.payshack.normalize import parse_row_time
from hub_pipelines.windows import PartitionWindow
from hub_sandbox.scenario import Scenario, generate
from hub_sandbox.server import SandboxHandle
from tests.conftest import DAGSTER_CWD, ROOT, stop_process, wait_for  # noqa: F401 (re-export)
from tests.pipelines.conftest import start_sandbox

START = date(2026, 1, 1)
DAYS = [(START + timedelta(days=n)).isoformat() for n in range(3)]
PYTHON = sys.executable


@pytest.fixture(scope="session")
def fault_scenario() -> Scenario:
    """Three days of ~600 operations each: enough pages to be killed in the middle of."""
    return generate(seed=23, start=START, days=3, per_day=600)


@pytest.fixture(scope="module")
def world(fault_scenario: Scenario) -> Iterator[SandboxHandle]:
    """Both stand-ins for the module (a daemon's code server keeps the URLs it started with)."""
    with start_sandbox(fault_scenario) as handle:
        saved = {name: os.environ.get(name) for name in ("VIMA_BASE_URL", "PAYSHACK_BASE_URL")}
        os.environ.update(
            {"VIMA_BASE_URL": handle.vima_url, "PAYSHACK_BASE_URL": handle.payshack_url}
        )
        get_settings.cache_clear()
        try:
            yield handle
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            get_settings.cache_clear()


@pytest.fixture
def calm(world: SandboxHandle) -> SandboxHandle:
    """The module's sandbox with no fault injected and its counters reset."""
    world.faults.set_spec(None)
    world.knobs.update(insert_every=0, slow_every=0, error_every=0, login_fail_first=0)
    world.reset_stats()
    return world


# --- processes --------------------------------------------------------------------------------


class Logs:
    """Everything the processes of a test printed, and the compute logs (the steps' own output,
    kept by Dagster under `DAGSTER_HOME/storage`) written during the test."""

    def __init__(self, folder: Path, dagster_home: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.storage = dagster_home / "storage"
        self.since = time.time() - 1

    def file(self, name: str) -> Path:
        """A new log file in the folder."""
        return self.folder / name

    def all_text(self) -> str:
        """The files written so far, and the compute logs of the test's runs."""
        files = sorted(self.folder.glob("*.log"))
        if self.storage.exists():
            files += [
                p
                for p in self.storage.rglob("*")
                if p.is_file() and p.stat().st_mtime >= self.since
            ]
        return "\n".join(p.read_text(errors="replace") for p in files)


@pytest.fixture
def logs(tmp_path: Path, dagster_home: Path) -> Logs:
    """Where a test's processes write."""
    return Logs(tmp_path / "logs", dagster_home)


def run_partition(
    source: Source,
    partition: str,
    logs: Logs,
    env: dict[str, str] | None = None,
    own_instance: bool = False,
) -> subprocess.Popen:
    """Start `tests.faults.run_partition` (the source's sync job, in its own process; on a
    throw-away Dagster instance with `own_instance`)."""
    out = logs.file(f"{source.value}-{partition}-{time.monotonic_ns()}.log").open("w")
    extra = ["--own-instance"] if own_instance else []
    return subprocess.Popen(
        [PYTHON, "-m", "tests.faults.run_partition", source.value, partition, *extra],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def finish(process: subprocess.Popen, timeout: float = 120) -> int:
    """Wait for a `run_partition` process; its exit code."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


_SCHEDULES = """
query { schedulesOrError(repositorySelector: {repositoryLocationName: "hub_pipelines",
                                             repositoryName: "__repository__"}) {
  __typename ... on Schedules { results { id name } } } }
"""
_STOP = """
mutation($id: String) { stopRunningSchedule(id: $id) {
  __typename ... on PythonError { message } } }
"""


def stop_schedules(graphql_url: str) -> list[str]:
    """Stop every schedule of the test instance (they run by default), so that no tick of the
    wall clock launches a sync of today's partition in the middle of a case; their names."""
    client = DagsterClient(graphql_url, timeout=30)
    found = client.query(_SCHEDULES)["schedulesOrError"]
    assert found["__typename"] == "Schedules", found
    for entry in found["results"]:
        stopped = client.query(_STOP, {"id": entry["id"]})["stopRunningSchedule"]
        assert stopped["__typename"] == "ScheduleStateResult", stopped
    return [entry["name"] for entry in found["results"]]


@pytest.fixture(scope="module")
def daemon(
    dagster_home: Path, dagster_webserver: str, world: SandboxHandle, tmp_path_factory
) -> Iterator[Path]:
    """`dagster-daemon run` for the module (sensors, run queue, run monitoring; the schedules
    stopped first: the cases launch their own runs), with the sandbox's URLs; yields its log
    file."""
    assert stop_schedules(dagster_webserver), "the definitions have schedules to stop"
    log_path = tmp_path_factory.mktemp("daemon") / "daemon.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(Path(PYTHON).with_name("dagster-daemon")), "run", "-w", str(ROOT / "workspace.yaml")],
        cwd=DAGSTER_CWD,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield log_path
    stop_process(process)
    log.close()


@pytest.fixture(scope="module")
def instance(dagster_home: Path) -> Iterator[DagsterInstance]:
    """The test instance (PostgreSQL storage), as the daemon and the webserver see it."""
    with DagsterInstance.from_config(str(dagster_home)) as found:
        yield found


def dagster_texts(instance: DagsterInstance, run_ids: list[str], dagster_home: Path) -> str:
    """Every event of the runs, serialized, and the compute logs Dagster kept."""
    parts = [serialize_value(entry) for run_id in run_ids for entry in instance.all_logs(run_id)]
    storage = dagster_home / "storage"
    if storage.exists():
        parts += [p.read_text(errors="replace") for p in storage.rglob("*") if p.is_file()]
    return "\n".join(parts)


# --- exact rows -------------------------------------------------------------------------------


def _in(window: PartitionWindow, value: object) -> bool:
    try:
        return window.start <= parse_row_time(value) < window.end  # type: ignore[arg-type]
    except (TypeError, ValueError):  # malformed on purpose: stored without a time
        return False


def provider_rows(handle: SandboxHandle, source: Source, day: str) -> dict[str, Any]:
    """What the provider holds for `day` (UTC): raw key -> payload."""
    window = PartitionWindow.for_key(day, "UTC")
    if source is Source.VIMA:
        return {
            op["operation_id"]: op
            for op in handle.world.vima_operations()
            if _in(window, op.get("operation_created_at"))
        }
    return {
        f"{kind}:{row['txnId']}": row
        for kind in ("payin", "payout")
        for row in handle.world.payshack_rows(kind)
        if _in(window, row.get("createdAt"))
    }


def stored_rows(engine: Engine, source: Source, day: str) -> dict[str, Any]:
    """The raw rows the hub stored for `day`: raw key -> payload (duplicates fail)."""
    window = PartitionWindow.for_key(day, "UTC")
    if source is Source.VIMA:
        sql = (
            "SELECT operation_id, payload FROM raw_vima_operations "
            "WHERE created_at >= :a AND created_at < :b"
        )
    else:
        sql = (
            "SELECT kind || ':' || txn_id, payload FROM raw_payshack_transactions "
            "WHERE created_at >= :a AND created_at < :b"
        )
    with engine.connect() as conn:
        rows = conn.execute(text(sql), {"a": window.start, "b": window.end}).all()
    found = dict(rows)
    assert len(found) == len(rows), "a raw row is stored twice"
    return found


def normalized_ids(engine: Engine, source: Source, day: str) -> list[str]:
    """The `transactions` source ids of the day (a duplicate shows twice)."""
    window = PartitionWindow.for_key(day, "UTC")
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT source_id FROM transactions WHERE source = :s "
                    "AND created_at >= :a AND created_at < :b"
                ),
                {"s": source.value, "a": window.start, "b": window.end},
            ).scalars()
        )


def assert_exact(engine: Engine, handle: SandboxHandle, source: Source, day: str) -> None:
    """The day's raw rows are the provider's, ids and payloads, and each is normalized once."""
    expected = provider_rows(handle, source, day)
    stored = stored_rows(engine, source, day)
    missing, extra = set(expected) - set(stored), set(stored) - set(expected)
    assert not missing and not extra, f"{source}: {len(missing)} missing, {len(extra)} extra"
    changed = [key for key in expected if stored[key] != expected[key]]
    assert not changed, f"{source}: {len(changed)} payloads differ, e.g. {changed[:3]}"
    ids = normalized_ids(engine, source, day)
    assert len(ids) == len(set(ids)), f"{source}: a transaction is stored twice"
    assert len(ids) >= 0.95 * len(expected)  # (a few provider rows are malformed on purpose)


# --- nothing private --------------------------------------------------------------------------


def private_values(handle: SandboxHandle) -> list[str]:
    """Secrets of the test settings, and customer values of the world (order ids, e-mails,
    phones, VPAs): none may appear in a log or a stored message."""
    settings = get_settings()
    values = [
        settings.vima_api_key.get_secret_value(),
        settings.payshack_password.get_secret_value(),
        settings.hub_secret_key.get_secret_value(),
    ]
    for op in handle.world.vima_operations()[:200]:
        payer = op["create_params"]["params"]["payment"].get("payer") or {}
        values += [op["client_operation_id"], payer.get("email"), payer.get("phone")]
    for row in handle.world.payshack_rows("payin")[:200]:
        values += [row["orderId"], row.get("payerVpa")]
    return sorted({v for v in values if v and len(v) >= 8})


def stored_messages(engine: Engine) -> str:
    """Every message the hub stored about its runs."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT coalesce(error_message, '') FROM sync_state")).scalars()
        return "\n".join(rows)


def assert_nothing_private(handle: SandboxHandle, *texts: str) -> None:
    """No secret and no customer value in `texts`."""
    joined = "\n".join(texts)
    leaked = [value for value in private_values(handle) if value in joined]
    assert not leaked, f"{len(leaked)} private values in logs or messages, e.g. {leaked[0][:4]}…"


def sync_state(engine: Engine, source: Source) -> tuple[str, str | None, str | None]:
    """(status, run_id, error_message) of a source."""
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, run_id, error_message FROM sync_state WHERE source = :s"),
            {"s": source.value},
        ).first()
    return tuple(row) if row else ("idle", None, None)  # type: ignore[return-value]
