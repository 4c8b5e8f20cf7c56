"""Run the two stand-in servers (Vima and PayShack) with uvicorn.

- `running_sandbox(...)`: context manager for tests and benchmarks; both servers on free ports
  in background threads, ready when it yields a `SandboxHandle`, stopped on exit.
- `serve_forever(...)`: the CLI's foreground server on fixed ports, credentials from the
  settings (`VIMA_API_KEY`, `PAYSHACK_EMAIL`, `PAYSHACK_PASSWORD`), until Ctrl-C / SIGTERM.

Uvicorn runs with no access log (a Vima URL may carry `apikey=`) and without touching the
logging configuration of the process.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import uvicorn
from fastapi import FastAPI

from hub_sandbox.payshack import PayShackKnobs, create_payshack_app
from hub_sandbox.scenario import Scenario
from hub_sandbox.vima import FaultPlan, create_vima_app
from hub_sandbox.world import World

log = logging.getLogger(__name__)


class _ServerThread:
    """One uvicorn server on an already bound, listening socket, in a daemon thread."""

    def __init__(self, app: FastAPI, host: str, port: int, name: str) -> None:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        self.sock = socket.socket(family, kind, proto)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(address)
            self.sock.listen(512)
        except OSError:
            self.sock.close()
            raise
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError(f"{self.thread.name} failed to start")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.thread.name} did not start within {timeout} s")
            time.sleep(0.005)

    def request_stop(self) -> None:
        self.server.should_exit = True

    def join(self, timeout: float = 5.0) -> None:
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(2.0)
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass
class SandboxHandle:
    """What `running_sandbox` yields: URLs, the shared world and the runtime-mutable knobs."""

    vima_url: str
    payshack_url: str
    world: World
    faults: FaultPlan
    knobs: PayShackKnobs
    api_key: str = field(repr=False)
    email: str = field(repr=False)
    password: str = field(repr=False)
    vima_app: FastAPI = field(repr=False)
    payshack_app: FastAPI = field(repr=False)

    def stats(self) -> dict[str, Any]:
        """Counters of both servers: `{"vima": {...}, "payshack": {...}}`."""
        return {
            "vima": self.vima_app.state.snapshot(),
            "payshack": self.payshack_app.state.snapshot(),
        }

    def reset_stats(self) -> None:
        """Set both servers' counters back to zero."""
        self.vima_app.state.stats.reset()
        self.payshack_app.state.stats.reset()

    def advance(self, until: datetime | None = None) -> int:
        """Apply the late changes due at `until` (all when None); returns how many.

        In live mode, the held-back rows created by `until` (all when None) appear first.
        """
        return self.world.apply_late_changes(until)


def _knobs(value: PayShackKnobs | Mapping[str, Any] | None) -> PayShackKnobs:
    if value is None:
        return PayShackKnobs()
    if isinstance(value, PayShackKnobs):
        return value
    knobs = PayShackKnobs()
    knobs.update(**dict(value))
    return knobs


def _faults(
    value: FaultPlan | str | None, slow_seconds: float | None, retry_after: int | None
) -> FaultPlan:
    plan = value if isinstance(value, FaultPlan) else FaultPlan.parse(value)
    if slow_seconds is not None:
        plan.slow_seconds = slow_seconds
    if retry_after is not None:
        plan.retry_after = retry_after
    return plan


def _build(
    scenario: Scenario | World,
    api_key: str,
    email: str,
    password: str,
    faults: FaultPlan,
    token_ttl: float,
    knobs: PayShackKnobs,
) -> tuple[World, FastAPI, FastAPI]:
    world = scenario if isinstance(scenario, World) else World(scenario)
    vima_app = create_vima_app(world, api_key, faults)
    payshack_app = create_payshack_app(world, email, password, token_ttl=token_ttl, knobs=knobs)
    return world, vima_app, payshack_app


@contextlib.contextmanager
def running_sandbox(
    scenario: Scenario | World,
    *,
    api_key: str,
    email: str,
    password: str,
    faults: FaultPlan | str | None = None,
    token_ttl: float = 1800,
    knobs: PayShackKnobs | Mapping[str, Any] | None = None,
    live: bool = False,
    host: str = "127.0.0.1",
    slow_seconds: float | None = None,
    retry_after: int | None = None,
    live_interval: float = 3.0,
) -> Iterator[SandboxHandle]:
    """Both stand-ins on free ports of `host`, answering when this yields; stopped on exit.

    `scenario` may be a ready `World` (to reuse a large one). `faults` is a `FaultPlan` or a
    spec such as `429:7,reset:19` (`slow_seconds` / `retry_after` override the plan's). With
    `live`, the world's live-mode thread runs every `live_interval` seconds and the stand-ins
    serve only the rows created by the world's clock (`World.start_live`); without it, every
    row of the scenario, future ones included.
    """
    plan = _faults(faults, slow_seconds, retry_after)
    knob = _knobs(knobs)
    world, vima_app, payshack_app = _build(
        scenario, api_key, email, password, plan, token_ttl, knob
    )
    threads = [
        _ServerThread(vima_app, host, 0, "sandbox-vima"),
        _ServerThread(payshack_app, host, 0, "sandbox-payshack"),
    ]
    started: list[_ServerThread] = []
    try:
        if live:  # before serving: the rows not created yet are held back from the start
            world.start_live(interval=live_interval)
        for thread in threads:
            thread.start()
            started.append(thread)
        yield SandboxHandle(
            vima_url=threads[0].url,
            payshack_url=threads[1].url,
            world=world,
            faults=plan,
            knobs=knob,
            api_key=api_key,
            email=email,
            password=password,
            vima_app=vima_app,
            payshack_app=payshack_app,
        )
    finally:
        world.stop_live()
        for thread in started:
            thread.request_stop()
        for thread in started:
            thread.join()
        for thread in threads:
            if thread not in started:
                thread.sock.close()


def _secret(value: Any) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter is not None else (value or ""))


def serve_forever(
    scenario: Scenario | World,
    vima_port: int,
    payshack_port: int,
    host: str = "127.0.0.1",
    live: bool = False,
    faults: str | None = None,
    token_ttl: float = 1800,
    knobs: PayShackKnobs | Mapping[str, Any] | None = None,
    live_interval: float = 3.0,
) -> None:
    """Serve both stand-ins on fixed ports until Ctrl-C or SIGTERM (the CLI's `serve`).

    Credentials come from `hub_core.settings.get_settings()`; raises `ValueError` naming the
    missing variable (never a value) when one is empty.
    """
    from hub_core.settings import get_settings

    settings = get_settings()
    api_key = _secret(settings.vima_api_key)
    email = _secret(settings.payshack_email)
    password = _secret(settings.payshack_password)
    for name, value in (
        ("VIMA_API_KEY", api_key),
        ("PAYSHACK_EMAIL", email),
        ("PAYSHACK_PASSWORD", password),
    ):
        if not value:
            raise ValueError(f"{name} is not set: put it in the environment or .env")
    plan = FaultPlan.parse(faults)
    knob = _knobs(knobs)
    world, vima_app, payshack_app = _build(
        scenario, api_key, email, password, plan, token_ttl, knob
    )
    threads = [
        _ServerThread(vima_app, host, vima_port, "sandbox-vima"),
        _ServerThread(payshack_app, host, payshack_port, "sandbox-payshack"),
    ]
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if live:  # before serving: the rows not created yet are held back from the start
            world.start_live(interval=live_interval)
        for thread in threads:
            thread.start()
        log.info(
            "sandbox serving: Vima %s%s, PayShack %s (dashboard %s/login)%s",
            threads[0].url,
            "/collector1/api/v1/operation",
            threads[1].url,
            threads[1].url,
            " [live]" if live else "",
        )
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.5):
                pass
    finally:
        world.stop_live()
        for thread in threads:
            thread.request_stop()
        for thread in threads:
            thread.join()
        signal.signal(signal.SIGTERM, previous)
