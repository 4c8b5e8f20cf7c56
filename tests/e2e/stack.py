"""The whole hub on this machine, headless: the sandbox providers in live mode (in this
process, over real HTTP), the Dagster webserver and daemon with their own instance database,
and the API; used by the end-to-end test and by `bench/freshness.py`."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from hub_core import db
from hub_core.orchestration import SYNC_JOBS
from hub_core.types import Source
from hub_pipelines.sources.payshack.normalize import normalize_row, parse_row_time
from hub_pipelines.sources.vima.normalize import normalize_operation
from hub_sandbox.scenario import generate
from hub_sandbox.server import SandboxHandle, running_sandbox

ROOT = Path(__file__).resolve().parent.parent.parent
DAGSTER_CWD = ROOT / "tests"  # not the root: Dagster loads a `.env` there over the environment
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """URLs and handles of a running stack."""

    world: SandboxHandle
    day: date
    api_url: str
    dagster_url: str
    dagster_home: Path
    logs: Path
    env: dict[str, str]

    @property
    def graphql_url(self) -> str:
        """The webserver's GraphQL endpoint."""
        return f"{self.dagster_url}/graphql"


def _wait_http(url: str, what: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=DAGSTER_CWD, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_stack(
    workdir: Path,
    *,
    every_minutes: tuple[int, int] = (1, 1),
    per_day: int = 400,
    seed: int = 5,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start everything (today's partition only: HUB_START_DATE is today), yield, stop all.

    `every_minutes` are the Vima and PayShack schedule intervals. The hub database is the one
    `DATABASE_URL` names (migrated by the caller); Dagster gets a fresh database of its own.
    """
    day = datetime.now(UTC).date()
    logs = workdir / "logs"
    home = workdir / "dagster_home"
    for folder in (logs, home):
        folder.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    base = os.environ["DAGSTER_POSTGRES_URL"].rsplit("/", 1)[0]
    dagster_db = f"{base}/hub_e2e_dagster_{os.getpid()}"
    db.ensure_database(dagster_db)
    scenario = generate(seed=seed, start=day, days=1, per_day=per_day)
    with running_sandbox(
        scenario,
        api_key=os.environ["VIMA_API_KEY"],
        email=os.environ["PAYSHACK_EMAIL"],
        password=os.environ["PAYSHACK_PASSWORD"],
        live=True,
        live_interval=2.0,
    ) as world:
        web_port, api_port = free_port(), free_port()
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "DAGSTER_POSTGRES_URL": dagster_db,
            "DAGSTER_GRAPHQL_URL": f"http://127.0.0.1:{web_port}/graphql",
            "VIMA_BASE_URL": world.vima_url,
            "PAYSHACK_BASE_URL": world.payshack_url,
            "HUB_START_DATE": day.isoformat(),
            "HUB_VIMA_SYNC_EVERY_MINUTES": str(every_minutes[0]),
            "HUB_PAYSHACK_SYNC_EVERY_MINUTES": str(every_minutes[1]),
            "HUB_ARTIFACTS_DIR": str(workdir / "artifacts"),
            **(extra_env or {}),
        }
        workspace = str(ROOT / "workspace.yaml")
        processes: list[subprocess.Popen] = []
        try:
            web = _start(
                [str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1",
                 "-p", str(web_port)],
                env, logs / "webserver.log",
            )  # fmt: skip
            processes.append(web)
            daemon = [str(BIN / "dagster-daemon"), "run", "-w", workspace]
            processes.append(_start(daemon, env, logs / "daemon.log"))
            api = _start(
                [str(BIN / "hub"), "api", "--host", "127.0.0.1", "--port", str(api_port)],
                env,
                logs / "api.log",
            )
            processes.append(api)
            api_url = f"http://127.0.0.1:{api_port}/api/v1"
            _wait_http(f"{api_url}/health", "the API", api, logs / "api.log", 60)
            _wait_http(
                f"http://127.0.0.1:{web_port}/server_info",
                "dagster-webserver",
                web,
                logs / "webserver.log",
                120,
            )
            yield Stack(
                world=world,
                day=day,
                api_url=api_url,
                dagster_url=f"http://127.0.0.1:{web_port}",
                dagster_home=home,
                logs=logs,
                env=env,
            )
        finally:
            for process in reversed(processes):
                _stop(process)
            with contextlib.suppress(Exception):
                db.drop_database(dagster_db)


# --- what the providers hold ------------------------------------------------------------------


def provider_transactions(world: SandboxHandle, source: Source, day: date) -> dict[str, Any]:
    """The provider's rows of `day` (UTC) as the hub normalizes them: source id -> transaction
    (rows the hub rejects as malformed are left out, as the hub leaves them out)."""
    found: dict[str, Any] = {}
    if source is Source.VIMA:
        for op in world.world.vima_operations():
            with contextlib.suppress(Exception):
                txn = normalize_operation(op)
                if txn.created_at.date() == day:
                    found[txn.source_id] = txn
        return found
    for kind in ("payin", "payout"):
        for row in world.world.payshack_rows(kind):  # type: ignore[arg-type]
            with contextlib.suppress(Exception):
                if parse_row_time(row["createdAt"]).date() != day:
                    continue
                txn = normalize_row(row, kind)  # type: ignore[arg-type]
                found[txn.source_id] = txn
    return found


def sync_job(source: Source) -> str:
    """The Dagster job of a source's sync."""
    return SYNC_JOBS[source]


# --- freshness --------------------------------------------------------------------------------


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _new_since(client: httpx.Client, source: Source, since: datetime) -> list[dict[str, Any]]:
    """The source's transactions created at or after `since`, newest first (keyset pages)."""
    params: dict[str, Any] = {"source": source.value, "sort_by": "created_at", "order": "desc",
                              "limit": 100, "from_date": since.date().isoformat()}  # fmt: skip
    found: list[dict[str, Any]] = []
    while True:
        body = client.get("/transactions", params=params).raise_for_status().json()
        for item in body["data"]:
            if _parse_time(item["created_at"]) < since:
                return found
            found.append(item)
        if not body["meta"].get("next_cursor"):
            return found
        params["cursor"] = body["meta"]["next_cursor"]


class FreshnessWatch:
    """Polls the API in a thread (every `poll_seconds`) and notes, per source, when each
    transaction was first listed: source id -> (its creation at the stand-in, first listed).
    Only transactions created at or after the watch began are noted."""

    def __init__(self, api_url: str, api_key: str, poll_seconds: float = 3.0) -> None:
        self.api_url, self.api_key, self.poll_seconds = api_url, api_key, poll_seconds
        self.start = datetime.now(UTC)
        self.seen: dict[str, dict[str, tuple[datetime, datetime]]] = {s.value: {} for s in Source}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="freshness-watch", daemon=True)

    def __enter__(self) -> FreshnessWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        headers = {"X-API-Key": self.api_key}
        with httpx.Client(base_url=self.api_url, headers=headers, timeout=30) as client:
            while not self._stop.is_set():
                for source in Source:
                    with contextlib.suppress(httpx.HTTPError):  # a slow poll is a late poll
                        self._note(source, _new_since(client, source, self.start))
                self._stop.wait(self.poll_seconds)

    def _note(self, source: Source, items: list[dict[str, Any]]) -> None:
        now = datetime.now(UTC)
        noted = self.seen[source.value]
        for item in items:
            if item["source_id"] not in noted:
                noted[item["source_id"]] = (_parse_time(item["created_at"]), now)

    def lags(self, source: Source, created_from: datetime, created_to: datetime) -> list[float]:
        """Seconds from creation to first listing, of what was created in the interval."""
        return [
            (listed - created).total_seconds()
            for created, listed in list(self.seen[source.value].values())
            if created_from <= created <= created_to
        ]


def percentile(values: list[float], q: float) -> float | None:
    """The `q` quantile (0..1) of `values`, nearest rank; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
