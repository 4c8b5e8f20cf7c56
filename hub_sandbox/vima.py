"""Stand-in for the Vima collector API: `GET /collector1/api/v1/operation`.

Behaviour (SOURCES.md, plus the choices below where it is silent):

- Auth: query parameter `apikey=<key>`, or HTTP Basic whose password is the key (any user
  name). Anything else: HTTP 401 with a JSON error (the key is never echoed).
- Parameters, all optional; an empty value counts as absent:
  - `project`, `status`: exact match on `project` / `current_status`.
  - `date`, `from`, `to`: `YYYY-MM-DD`, inclusive, on the UTC day of `operation_created_at`.
    `date` and `from`/`to` together select their intersection; `from` after `to` gives an empty
    array.
  - `count`: page size, default 20, 1..100; anything else is HTTP 400.
  - `descending`: `true`/`false` (also `1`/`0`), default false.
  - `from_operation_create_id`: only operations with a create id strictly greater.
  - `from_operation_update_id`: only operations whose *current* update id is strictly greater;
    the order is then by update id and each operation appears once, at its current update id
    (after a late change it moves to the end). With both cursors, both filters apply and the
    order is by update id. With no cursor the order is by create id.
  - `descending=true` reverses the order; the cursors still mean "greater than", so descending
    pages are the newest ones above the cursor (paging backwards needs date filters).
  - A cursor that is not a string of digits, a malformed date, or a bad `descending`: HTTP 400.
- Response: a bare JSON array; `[]` when nothing (more) matches.
- `FaultPlan` injects faults on every Nth authenticated operation request: 429 (with
  `Retry-After`), 500/502/503 with an HTML or text body, `slow` (answer after `slow_seconds`),
  `garbage` (HTTP 200 with, alternately, a truncated JSON array or an HTML page) and `reset`
  (the response head and half the body are sent, then the TCP connection is closed: the client
  gets a protocol error, e.g. `httpx.RemoteProtocolError`).
- Live mode (`hub sandbox --live`): only operations created by now exist; the others appear
  as their `operation_created_at` passes, with the next create and update ids
  (`hub_sandbox.world`).
- `GET /_sandbox/stats`, `POST /_sandbox/advance`, `POST /_sandbox/reset-stats` for tests.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams

from hub_sandbox._http import (
    DroppedConnectionResponse,
    Stats,
    add_sandbox_routes,
    install_log_filter,
    json_response,
)
from hub_sandbox.world import VimaQuery, World

OPERATION_PATH = "/collector1/api/v1/operation"
DEFAULT_COUNT = 20
MAX_COUNT = 100
FAULT_KINDS: tuple[str, ...] = ("429", "500", "502", "503", "slow", "garbage", "reset")

_HTML_500 = (
    b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    b"<body><h1>Internal Server Error</h1><p>The server encountered an internal error and was "
    b"unable to complete your request.</p></body></html>"
)
_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_TEXT_503 = b"Service Temporarily Unavailable. Please retry later.\n"
_HTML_GARBAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>"
    b"<h1>We'll be back soon</h1><p>The collector is under scheduled maintenance.</p>"
    b"</body></html>"
)


@dataclass
class FaultPlan:
    """Deterministic fault injection: `rules` of (kind, N) = that fault on every Nth request.

    Requests are counted from 1 (authenticated operation requests only). When several rules
    match the same request, the first in `rules` wins. Mutable at runtime (`set_spec`, or the
    attributes); thread-safe.
    """

    rules: list[tuple[str, int]] = field(default_factory=list)
    slow_seconds: float = 5.0
    retry_after: int = 1
    requests: int = 0
    served: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @staticmethod
    def parse_rules(spec: str | None) -> list[tuple[str, int]]:
        """Parse `429:7,500:11,slow:13,...`; raises `ValueError` on an unknown kind or bad N."""
        rules: list[tuple[str, int]] = []
        for item in filter(None, (part.strip() for part in (spec or "").split(","))):
            kind, sep, every = item.partition(":")
            kind = kind.strip().lower()
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; expected one of {FAULT_KINDS}")
            if not sep or not every.strip().isdigit() or int(every) < 1:
                raise ValueError(f"fault {kind!r} needs a period N >= 1, as in {kind}:7")
            rules.append((kind, int(every)))
        return rules

    @classmethod
    def parse(
        cls, spec: str | None, *, slow_seconds: float = 5.0, retry_after: int = 1
    ) -> FaultPlan:
        """A plan from a spec string such as `429:7,500:11,502:13,503:17,slow:13,reset:19`."""
        return cls(cls.parse_rules(spec), slow_seconds=slow_seconds, retry_after=retry_after)

    def set_spec(self, spec: str | None) -> None:
        """Replace the rules and restart the request count."""
        rules = self.parse_rules(spec)
        with self._lock:
            self.rules = rules
            self.requests = 0

    def spec(self) -> str:
        """The rules as a spec string."""
        return ",".join(f"{kind}:{every}" for kind, every in self.rules)

    def reset(self) -> None:
        """Restart the request count (the rules stay)."""
        with self._lock:
            self.requests = 0
            self.served = {}

    def next_fault(self) -> tuple[str | None, int]:
        """Count one request; returns (the fault to serve or None, how many of it so far)."""
        with self._lock:
            self.requests += 1
            for kind, every in self.rules:
                if self.requests % every == 0:
                    self.served[kind] = self.served.get(kind, 0) + 1
                    return kind, self.served[kind]
            return None, 0


class _BadRequest(ValueError):
    pass


def _param(params: QueryParams, name: str) -> str | None:
    value = params.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _date(params: QueryParams, name: str) -> date | None:
    value = _param(params, name)
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _BadRequest(f"Invalid '{name}': expected a date as YYYY-MM-DD") from None


def _cursor(params: QueryParams, name: str) -> int | None:
    value = _param(params, name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise _BadRequest(f"Invalid '{name}': expected a numeric id")
    return int(value)


def parse_query(params: QueryParams) -> VimaQuery:
    """Turn the query string into a `VimaQuery`; raises `ValueError` with a client message."""
    raw_count = _param(params, "count")
    if raw_count is None:
        count = DEFAULT_COUNT
    else:
        if not raw_count.lstrip("-").isdigit():
            raise _BadRequest("Invalid 'count': expected an integer")
        count = int(raw_count)
        if not 1 <= count <= MAX_COUNT:
            raise _BadRequest(f"Invalid 'count': must be between 1 and {MAX_COUNT}")
    raw_desc = (_param(params, "descending") or "false").lower()
    if raw_desc not in ("true", "false", "1", "0"):
        raise _BadRequest("Invalid 'descending': expected true or false")
    date_from = _date(params, "from")
    date_to = _date(params, "to")
    day = _date(params, "date")
    if day is not None:
        date_from = day if date_from is None else max(date_from, day)
        date_to = day if date_to is None else min(date_to, day)
    return VimaQuery(
        project=_param(params, "project"),
        status=_param(params, "status"),
        date_from=date_from,
        date_to=date_to,
        count=count,
        descending=raw_desc in ("true", "1"),
        after_create_id=_cursor(params, "from_operation_create_id"),
        after_update_id=_cursor(params, "from_operation_update_id"),
    )


def _authorized(request: Request, api_key: str) -> bool:
    supplied = request.query_params.get("apikey")
    if supplied is not None:
        return secrets.compare_digest(supplied.encode(), api_key.encode())
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    _user, sep, password = decoded.partition(":")
    return bool(sep) and secrets.compare_digest(password.encode(), api_key.encode())


def _error(status: int, message: str) -> Response:
    return json_response({"status": "error", "code": status, "message": message}, status)


def create_vima_app(world: World, api_key: str, faults: FaultPlan | None = None) -> FastAPI:
    """The Vima stand-in app serving `world`, accepting `api_key`, injecting `faults`."""
    if not api_key:
        raise ValueError("the Vima stand-in needs a non-empty API key")
    install_log_filter()
    plan = faults if faults is not None else FaultPlan()
    stats = Stats(
        "authenticated_requests",
        "auth_failures",
        "bad_requests",
        "operations_served",
    )
    app = FastAPI(title="Vima collector (sandbox)", docs_url=None, redoc_url=None)
    app.state.world = world
    app.state.faults = plan
    app.state.stats = stats

    def snapshot() -> dict[str, Any]:
        out = stats.snapshot()
        out["requests"] = out["requests"].get("operation", 0)
        return out

    @app.get(OPERATION_PATH)
    async def operations(request: Request) -> Response:
        stats.request("operation")
        if not _authorized(request, api_key):
            stats.add("auth_failures")
            return json_response(
                {"status": "error", "code": 401, "message": "Unauthorized: invalid API key"},
                401,
                headers={"WWW-Authenticate": 'Basic realm="collector"'},
            )
        stats.add("authenticated_requests")
        fault, nth = plan.next_fault()
        if fault is not None:
            stats.fault(fault)
        if fault == "429":
            return json_response(
                {"status": "error", "code": 429, "message": "Too Many Requests"},
                429,
                headers={"Retry-After": str(plan.retry_after)},
            )
        if fault == "500":
            return Response(_HTML_500, 500, media_type="text/html")
        if fault == "502":
            return Response(_HTML_502, 502, media_type="text/html")
        if fault == "503":
            return Response(_TEXT_503, 503, media_type="text/plain")
        if fault == "slow":
            await asyncio.sleep(plan.slow_seconds)
        try:
            query = parse_query(request.query_params)
        except ValueError as exc:
            stats.add("bad_requests")
            return _error(400, str(exc))
        body, served = world.vima_page(query)
        if fault == "garbage":
            if nth % 2 == 1:
                cut = body[: max(len(body) // 2, 1)] if len(body) > 2 else b'[{"operation_id": "'
                return Response(cut, 200, media_type="application/json")
            return Response(_HTML_GARBAGE, 200, media_type="text/html")
        if fault == "reset":
            return DroppedConnectionResponse(body if len(body) > 2 else b"[]" + b" " * 64)
        stats.add("operations_served", served)
        return Response(body, media_type="application/json")

    app.state.snapshot = snapshot
    add_sandbox_routes(app, world, snapshot, stats.reset)
    return app
