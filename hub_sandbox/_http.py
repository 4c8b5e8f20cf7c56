"""HTTP pieces shared by the two stand-in servers: JSON responses, dropped connections, the
`/_sandbox` control routes and request statistics."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from hub_core.timeutil import parse_utc
from hub_sandbox.world import World, dumps

JSON = "application/json"


def json_response(
    value: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response (`value` may already be serialized bytes)."""
    body = value if isinstance(value, bytes) else dumps(value)
    return Response(body, status_code=status_code, media_type=JSON, headers=headers)


class SimulatedConnectionReset(Exception):
    """Raised after a partial response to make uvicorn drop the TCP connection."""


class DroppedConnectionResponse(Response):
    """Announces `Content-Length` of the full body, sends part of it, then drops the connection.

    The ASGI server (uvicorn, any protocol implementation) closes the transport when the
    application raises after the response has started; the client sees the connection closed
    before the body is complete (`httpx.RemoteProtocolError`), never an HTTP status it could
    act on.
    """

    def __init__(self, body: bytes, media_type: str = JSON) -> None:
        super().__init__(content=body, media_type=media_type)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the head and half the body, then raise `SimulatedConnectionReset`."""
        body = bytes(self.body)
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send(
            {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
        )
        raise SimulatedConnectionReset


class _DropSimulatedResets(logging.Filter):
    """Hides uvicorn's 'Exception in ASGI application' for the simulated resets only."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, SimulatedConnectionReset):
                return False
            exc = exc.__cause__ or exc.__context__
            if isinstance(exc, BaseExceptionGroup):
                return not any(
                    isinstance(inner, SimulatedConnectionReset) for inner in exc.exceptions
                )
        return True


_filter_lock = threading.Lock()
_filter_installed = False


def install_log_filter() -> None:
    """Install (once) the filter that keeps simulated resets out of uvicorn's error log."""
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            logging.getLogger("uvicorn.error").addFilter(_DropSimulatedResets())
            _filter_installed = True


class Stats:
    """Counters of one stand-in server (mutated from its event loop; read from anywhere)."""

    def __init__(self, *names: str) -> None:
        self._lock = threading.Lock()
        self._names = names
        self.counters: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()

    def add(self, name: str, amount: int = 1) -> None:
        """Add to a named counter."""
        with self._lock:
            self.counters[name] += amount

    def fault(self, kind: str) -> None:
        """Count one fault served."""
        with self._lock:
            self.faults[kind] += 1

    def request(self, endpoint: str) -> None:
        """Count one request to `endpoint`."""
        with self._lock:
            self.requests[endpoint] += 1

    def reset(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self.counters.clear()
            self.faults.clear()
            self.requests.clear()

    def snapshot(self) -> dict[str, Any]:
        """All counters as plain JSON-able values."""
        with self._lock:
            out: dict[str, Any] = {name: self.counters.get(name, 0) for name in self._names}
            out.update(self.counters)
            out["faults"] = dict(self.faults)
            out["requests"] = dict(self.requests)
            return out


def add_sandbox_routes(
    app: FastAPI, world: World, stats: Callable[[], dict[str, Any]], reset: Callable[[], None]
) -> None:
    """Mount `GET /_sandbox/stats`, `POST /_sandbox/advance` and `POST /_sandbox/reset-stats`."""

    @app.get("/_sandbox/stats", include_in_schema=False)
    async def sandbox_stats() -> Response:
        return json_response(stats())

    @app.post("/_sandbox/advance", include_in_schema=False)
    async def sandbox_advance(request: Request) -> Response:
        until: datetime | None = None
        raw = await request.body()
        if raw.strip():
            try:
                payload = await request.json()
                value = payload.get("until") if isinstance(payload, dict) else None
                until = parse_utc(value) if value is not None else None
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
        applied = world.apply_late_changes(until)
        pending, held = world.pending_late_changes(), world.held_back()
        return json_response({"applied": applied, "pending": pending, "held": held})

    @app.post("/_sandbox/reset-stats", include_in_schema=False)
    async def sandbox_reset_stats() -> Response:
        reset()
        return json_response({"ok": True})
