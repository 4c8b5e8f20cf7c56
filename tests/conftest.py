"""Test-wide setup: real PostgreSQL and Redis, a fresh database per test session.

Environment variables are set here, before any hub module reads its settings, so every test
talks to throw-away databases (`hub_test_<pid>`, `hub_test_dagster_<pid>`) and a Redis db.
A service that is down is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub_core import devservices  # standard library only, reads no setting

ROOT = Path(__file__).resolve().parent.parent
_PID = os.getpid()
# The servers: HUB_TEST_PG / HUB_TEST_REDIS from the environment, else from the file
# `python -m hub_core.devservices ensure` writes (`make test`; embedded servers when the machine
# has none), else the local defaults.
_SERVICES = {**devservices.read_env_file(ROOT / devservices.ENV_FILE), **os.environ}
_PG = _SERVICES.get("HUB_TEST_PG", "postgres@127.0.0.1:5432")
# Redis db 1..14 by process id (unless HUB_TEST_REDIS names one), so parallel test runs on one
# machine do not collide; the two xdist workers of one run (gw0, gw1) never share one (parity).
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_REDIS_DB = 1 + _PID % 14
if "PYTEST_XDIST_WORKER" in os.environ:
    _REDIS_DB = 1 + (_PID % 7) * 2 + _WORKER % 2
_REDIS = devservices.redis_with_db(
    _SERVICES.get("HUB_TEST_REDIS", "redis://127.0.0.1:6379"), _REDIS_DB
)
# HUB_CHROMIUM_PATH, else a Chromium on PATH, else Playwright's. None: the browser tests fail, and
# the run says how to get one (header and summary below).
_CHROMIUM = devservices.find_chromium()

os.environ.update(
    {
        "DATABASE_URL": f"postgresql+psycopg://{_PG}/hub_test_{_PID}",
        "DAGSTER_POSTGRES_URL": f"postgresql+psycopg2://{_PG}/hub_test_dagster_{_PID}",
        "REDIS_URL": _REDIS,
        "HUB_API_KEYS": "test-reader-key:reader,test-operator-key:operator",
        "VIMA_API_KEY": "vima-test-key-S3CRET",
        "PAYSHACK_EMAIL": f"ops+{_PID}@example.test",
        "PAYSHACK_PASSWORD": "payshack-test-PASSW0RD",
        "HUB_SECRET_KEY": "test-secret-key-for-session-encryption",
        "HUB_LOG_LEVEL": "INFO",
        "HUB_LOG_JSON": "true",
        "DAGSTER_GRAPHQL_URL": "http://127.0.0.1:9/graphql",  # nothing listens: Dagster 'down'
    }
)
if _CHROMIUM:
    os.environ["HUB_CHROMIUM_PATH"] = _CHROMIUM

from sqlalchemy import Engine, text  # noqa: E402

from hub_core import db, migrate  # noqa: E402
from hub_core.db import drop_database  # noqa: E402  (tests import it from here)
from hub_core.settings import get_settings  # noqa: E402
from hub_core.tables import metadata  # noqa: E402


def pytest_report_header() -> str:
    return f"chromium: {_CHROMIUM or devservices.chromium_hint()}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _CHROMIUM is None:
        terminalreporter.write_line(f"Chromium: {devservices.chromium_hint()}", red=True)


DAGSTER_CWD = ROOT / "tests"
"""Where the tests start Dagster processes: Dagster loads a `.env` of its working directory
over the environment, so a developer's `.env` in the repository root would redirect the
tests' Dagster processes to the developer's databases."""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def partitions_of(engine: Engine, parent: str) -> dict[str, str]:
    """Every partition of the table `parent`, by name, with its bound as PostgreSQL prints it."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = CAST(:p AS regclass)"
            ),
            {"p": parent},
        ).all()
    return dict(rows)


def wait_for(check: Any, timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def processes_running(module: str, parent: int | None = None) -> list[int]:
    """Live (not zombie) processes started as `python -m <module>`, children of `parent` if
    given: read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        state, ppid = stat[0], int(stat[1])
        if module.encode() in argv and state != "Z" and parent in (None, ppid):
            found.append(int(entry.name))
    return found


def stop_process(
    process: subprocess.Popen, timeout: float = 30, sig: signal.Signals = signal.SIGTERM
) -> None:
    """Stop a child process with `sig` (SIGTERM unless told: a PostgreSQL's fast shutdown is
    SIGINT), killing it if it does not exit within `timeout` seconds."""
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A freshly created, migrated hub database for this test session."""
    url = get_settings().database_url
    drop_database(url)
    migrate.upgrade(url)
    yield url
    db.get_engine(url).dispose()
    drop_database(url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Engine:
    """The session's engine on the hub tables."""
    return db.get_engine(database_url)


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    """The hub tables, emptied before the test."""
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    return engine


@pytest.fixture
def redis_client():
    """The test Redis database, flushed before and after the test."""
    import redis

    client = redis.Redis.from_url(get_settings().redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def dagster_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A DAGSTER_HOME with the repository's dagster.yaml and its own PostgreSQL database,
    dropped at the end of the session (its users, the webserver and daemons, stop first)."""
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    url = get_settings().dagster_postgres_url
    drop_database(url)
    db.ensure_database(url)
    os.environ["DAGSTER_HOME"] = str(home)
    yield home
    drop_database(url)


@pytest.fixture(scope="session")
def dagster_webserver(dagster_home: Path) -> Iterator[str]:
    """A real `dagster-webserver` on a free port; yields its GraphQL URL."""
    port = free_port()
    log = (dagster_home / "webserver.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster-webserver")),
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=DAGSTER_CWD,
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"dagster-webserver exited: {(dagster_home / 'webserver.log').read_text()[-2000:]}"
            )
        try:
            if httpx.post(url, json={"query": "{ version }"}, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.kill()
        raise RuntimeError("dagster-webserver did not answer within 90 s")
    yield url
    stop_process(process)
    log.close()
