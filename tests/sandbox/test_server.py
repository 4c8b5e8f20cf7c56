"""Starting and stopping the stand-ins: `running_sandbox` and the CLI's `serve_forever`."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from hub_sandbox.payshack import LOGIN_PATH, PAYIN_PATH
from hub_sandbox.scenario import Scenario
from hub_sandbox.server import running_sandbox
from hub_sandbox.vima import OPERATION_PATH

from .conftest import SandboxFactory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refused(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.ConnectError:
        return True
    return False


def test_starts_quickly_and_stops_cleanly(make_sandbox: SandboxFactory) -> None:
    started = time.monotonic()
    with make_sandbox() as handle:
        assert time.monotonic() - started < 1.0
        assert handle.vima_url != handle.payshack_url
        ok = httpx.get(handle.vima_url + OPERATION_PATH, params={"apikey": handle.api_key})
        assert ok.status_code == 200 and len(ok.json()) == 20
        assert handle.api_key not in repr(handle) and handle.password not in repr(handle)
        urls = (handle.vima_url, handle.payshack_url)
    stopping = time.monotonic()
    assert all(refused(url + "/_sandbox/stats") for url in urls)
    assert time.monotonic() - stopping < 3


def test_stops_while_a_slow_request_is_in_flight(make_sandbox: SandboxFactory) -> None:
    started = time.monotonic()
    with (
        make_sandbox(faults="slow:1", slow_seconds=30) as handle,
        pytest.raises(httpx.TimeoutException),
    ):
        httpx.get(handle.vima_url + OPERATION_PATH, params={"apikey": handle.api_key}, timeout=0.3)
    assert time.monotonic() - started < 5


def test_no_secret_reaches_a_log_line(
    scenario: Scenario, credentials: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with running_sandbox(scenario, **credentials, faults="reset:2,500:3") as handle:
        with httpx.Client(base_url=handle.vima_url) as http:
            for _ in range(4):
                with contextlib.suppress(httpx.HTTPError):
                    http.get(OPERATION_PATH, params={"apikey": handle.api_key, "count": "x"})
            http.get(OPERATION_PATH, params={"apikey": "wrong-" + handle.api_key})
        with httpx.Client(base_url=handle.payshack_url) as http:
            http.post(LOGIN_PATH, json={"email": handle.email, "password": handle.password})
            http.post(LOGIN_PATH, json={"email": handle.email, "password": "bad"})
            http.get(PAYIN_PATH, headers={"Authorization": "Bearer nope"})
    # the servers' own records (the test's httpx client logs its URLs, which is not our case)
    records = [r for r in caplog.records if r.name.startswith(("uvicorn", "hub_sandbox"))]
    assert records  # uvicorn did log (start/stop)
    text = "\n".join(record.getMessage() for record in records)
    assert credentials["api_key"] not in text and credentials["password"] not in text
    assert not any(record.levelno >= logging.ERROR for record in records), text


def test_serve_forever_runs_until_sigterm() -> None:
    vima_port, payshack_port = free_port(), free_port()
    script = textwrap.dedent(
        f"""
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stdout)
        from hub_sandbox.scenario import generate
        from hub_sandbox.server import serve_forever
        serve_forever(generate(seed=5, days=1, per_day=50), {vima_port}, {payshack_port},
                      faults="429:1000", knobs={{"insert_every": 0}})
        print("stopped", flush=True)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                with socket.create_connection(("127.0.0.1", payshack_port), timeout=0.2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve_forever did not start"
                time.sleep(0.1)
        key = os.environ["VIMA_API_KEY"]
        ops = httpx.get(
            f"http://127.0.0.1:{vima_port}{OPERATION_PATH}", auth=("u", key), params={"count": 3}
        )
        assert ops.status_code == 200 and len(ops.json()) == 3
        login = httpx.post(
            f"http://127.0.0.1:{payshack_port}{LOGIN_PATH}",
            json={
                "email": os.environ["PAYSHACK_EMAIL"],
                "password": os.environ["PAYSHACK_PASSWORD"],
            },
        )
        assert login.status_code == 200
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "stopped" in output and f":{vima_port}" in output
    assert key not in output and os.environ["PAYSHACK_PASSWORD"] not in output
