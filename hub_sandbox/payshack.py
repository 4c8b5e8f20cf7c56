"""Stand-in for the PayShack merchant dashboard and the JSON API behind it.

JSON API (SOURCES.md), with these choices where it is silent:

- `POST /indigate-user-svc/api/v1/auth/login` `{email, password}` (email case-insensitive) →
  `{success: true, message, data: {token, refreshToken, clientId, email, name, role,
  expiresIn}}`; wrong credentials → 401 `{success: false, message: "Invalid email or password"}`.
  The token is a JWT-shaped HS256 string (claims `sub`, `clientId`, `iat`, `exp`) and lives
  `token_ttl` seconds.
- `GET /indigate-payin-svc/api/v1/payin/transaction/fetch` and
  `GET /indigate-payout-svc/api/v1/wallet/transactions` need `Authorization: Bearer <token>`
  (`reseller-id` is accepted and ignored). A missing or unknown token → 401
  `{success: false, message: "Unauthorized"}`; an expired one → 401 `"Token expired"`.
  - `page` 1-based (default 1), `limit` default 10, at most 100 (more, or < 1 → 400).
  - Newest first by `createdAt`, then `txnId` (both descending), like the dashboard.
  - `dateFrom` / `dateTo`: **IST** calendar dates `YYYY-MM-DD`, inclusive, on `createdAt`.
    The dashboard is Indian: an IST day runs 18:30 UTC the day before to 18:30 UTC, so one UTC
    day spans two IST dates, and a reader wanting UTC day D asks `dateFrom=D&dateTo=D+1` and
    keeps the rows whose `createdAt` falls in D.
  - `status`: case-insensitive on `txnStatus`; `orderId`, `transactionId`: exact match.
  - Envelope `{success, message, data: {transactions, totalRecords, perPage, totalPages,
    currentPageNo, nextPage}}`; `nextPage` is null on the last page; a page past the end has
    no transactions.
- `PayShackKnobs` (at creation, or at runtime via `POST /_sandbox/knobs`) injects trouble into
  the list requests: rows inserted before answering (pages shift), slow answers, 5xx errors,
  and failing logins.
- Live mode (`hub sandbox --live`): only rows created by now exist, in lists, counts and
  lookups alike; the others appear as their `createdAt` passes (`hub_sandbox.world`).
- `GET /_sandbox/stats`, `POST /_sandbox/advance`, `POST /_sandbox/reset-stats`,
  `GET|POST /_sandbox/knobs` for tests.

Dashboard: `/` and `/login` (login form), `/dashboard` (Pay-In / Pay-Out tables), assets
under `/static/` (plain HTML/JS/CSS in `hub_sandbox/static`, no build step).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import QueryParams

from hub_sandbox._http import Stats, add_sandbox_routes, json_response
from hub_sandbox.world import PayShackKind, PayShackQuery, World, dumps, ist_date

LOGIN_PATH = "/indigate-user-svc/api/v1/auth/login"
PAYIN_PATH = "/indigate-payin-svc/api/v1/payin/transaction/fetch"
PAYOUT_PATH = "/indigate-payout-svc/api/v1/wallet/transactions"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
STATIC_DIR = Path(__file__).with_name("static")

_HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
_HTML_503 = (
    b"<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
    b"<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>"
)


@dataclass
class PayShackKnobs:
    """Trouble injected into the PayShack stand-in (0 disables a knob).

    - `insert_every`: on every Nth list request, first insert `insert_count` brand-new rows
      created on the queried IST day (matching the status filter), then answer.
    - `slow_every`: every Nth list request answers after `slow_seconds`.
    - `error_every`: every Nth list request fails with 500, 502, 503 in turn.
    - `login_fail_first`: that many next login attempts fail with 503 (counts down).

    List requests are counted from 1 in `list_requests` (authenticated, valid requests to
    either list); `update()` restarts the count.
    """

    insert_every: int = 0
    insert_count: int = 1
    slow_every: int = 0
    slow_seconds: float = 5.0
    error_every: int = 0
    login_fail_first: int = 0
    list_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def update(self, **values: Any) -> None:
        """Set knobs by name (validated) and restart the list-request count."""
        names = {f.name for f in fields(self) if not f.name.startswith("_")} - {"list_requests"}
        for name, value in values.items():
            if name not in names:
                raise ValueError(f"unknown knob {name!r}; known: {sorted(names)}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"knob {name!r} must be a number >= 0")
        with self._lock:
            for name, value in values.items():
                setattr(self, name, float(value) if name == "slow_seconds" else int(value))
            self.list_requests = 0

    def as_dict(self) -> dict[str, Any]:
        """The knobs as JSON-able values."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def next_list_request(self) -> tuple[bool, bool, bool]:
        """Count one list request; returns (error, insert, slow) for it."""
        with self._lock:
            self.list_requests += 1
            n = self.list_requests

            def due(every: int) -> bool:
                return every > 0 and n % every == 0

            return due(self.error_every), due(self.insert_every), due(self.slow_every)

    def take_login_failure(self) -> bool:
        """Whether this login attempt must fail (and count it down)."""
        with self._lock:
            if self.login_fail_first > 0:
                self.login_fail_first -= 1
                return True
            return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Sessions:
    """Issued tokens and their expiry (wall clock)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._secret = secrets.token_bytes(32)
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def _jwt(self, claims: dict[str, Any]) -> str:
        head = _b64(dumps({"alg": "HS256", "typ": "JWT"}))
        body = _b64(dumps(claims))
        signature = hmac.new(self._secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{_b64(signature)}"

    def issue(self, client_id: str) -> tuple[str, str]:
        now = time.time()
        claims = {
            "sub": client_id,
            "clientId": client_id,
            "role": "MERCHANT",
            "iat": int(now),
            "exp": math.ceil(now + self.ttl),
            "jti": secrets.token_hex(8),
        }
        token = self._jwt(claims)
        refresh = self._jwt({**claims, "typ": "refresh", "exp": int(now + 7 * 86_400)})
        with self._lock:
            self._expiry[token] = now + self.ttl
            if len(self._expiry) > 10_000:
                old = [t for t, exp in self._expiry.items() if exp < now - 3600]
                for stale in old:
                    del self._expiry[stale]
        return token, refresh

    def check(self, token: str) -> str | None:
        """None when valid, else the 401 message."""
        with self._lock:
            expiry = self._expiry.get(token)
        if expiry is None:
            return "Unauthorized"
        if time.time() >= expiry:
            return "Token expired"
        return None


class _BadRequest(ValueError):
    pass


def _int(params: QueryParams, name: str, default: int) -> int:
    value = (params.get(name) or "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isdigit():
        raise _BadRequest(f"Invalid {name}: must be a positive integer")
    return int(value)


def _ist_date(params: QueryParams, name: str) -> date | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _BadRequest(f"Invalid {name}: expected YYYY-MM-DD") from None


def parse_list_query(params: QueryParams) -> PayShackQuery:
    """Turn a list query string into a `PayShackQuery`; raises `ValueError` with a message."""
    page = _int(params, "page", 1)
    if page < 1:
        raise _BadRequest("Invalid page: must be a positive integer")
    limit = _int(params, "limit", DEFAULT_LIMIT)
    if limit < 1:
        raise _BadRequest("Invalid limit: must be a positive integer")
    if limit > MAX_LIMIT:
        raise _BadRequest(f"limit must not exceed {MAX_LIMIT}")

    def text(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        return value or None

    return PayShackQuery(
        page=page,
        limit=limit,
        status=text("status"),
        date_from=_ist_date(params, "dateFrom"),
        date_to=_ist_date(params, "dateTo"),
        order_id=text("orderId"),
        txn_id=text("transactionId"),
    )


def _fail(status: int, message: str) -> Response:
    return json_response({"success": False, "message": message}, status)


def list_body(rows: list[bytes], total: int, query: PayShackQuery) -> bytes:
    """The list envelope around already-serialized rows."""
    pages = math.ceil(total / query.limit) if total else 0
    meta = dumps(
        {
            "totalRecords": total,
            "perPage": query.limit,
            "totalPages": pages,
            "currentPageNo": query.page,
            "nextPage": query.page + 1 if query.page < pages else None,
        }
    )
    return (
        b'{"success":true,"message":"Transactions fetched successfully","data":{"transactions":['
        + b",".join(rows)
        + b"],"
        + meta[1:]
        + b"}"
    )


def create_payshack_app(
    world: World,
    email: str,
    password: str,
    token_ttl: float = 1800,
    knobs: PayShackKnobs | None = None,
) -> FastAPI:
    """The PayShack stand-in app (JSON API + dashboard) serving `world`."""
    if not email or not password:
        raise ValueError("the PayShack stand-in needs a non-empty email and password")
    knob = knobs if knobs is not None else PayShackKnobs()
    sessions = _Sessions(token_ttl)
    client_id = "RS" + hashlib.sha256(email.lower().encode()).hexdigest()[:10].upper()
    stats = Stats("logins", "login_failures", "rows_inserted", "rejected_tokens")
    error_cycle = [0]

    app = FastAPI(title="PayShack (sandbox)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.world = world
    app.state.knobs = knob
    app.state.stats = stats
    app.state.sessions = sessions

    @app.post(LOGIN_PATH)
    async def login(request: Request) -> Response:
        stats.request("login")
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not payload.get("email") or not payload.get("password"):
            stats.add("login_failures")
            return _fail(400, "Email and password are required")
        if knob.take_login_failure():
            stats.add("login_failures")
            stats.fault("login_503")
            return Response(_HTML_503, 503, media_type="text/html")
        email_ok = secrets.compare_digest(
            str(payload["email"]).strip().lower().encode(), email.lower().encode()
        )
        password_ok = secrets.compare_digest(str(payload["password"]).encode(), password.encode())
        if not (email_ok and password_ok):
            stats.add("login_failures")
            return _fail(401, "Invalid email or password")
        token, refresh = sessions.issue(client_id)
        stats.add("logins")
        return json_response(
            {
                "success": True,
                "message": "Login successful",
                "data": {
                    "token": token,
                    "refreshToken": refresh,
                    "clientId": client_id,
                    "email": email,
                    "name": "Merchant Admin",
                    "role": "MERCHANT",
                    "expiresIn": token_ttl,
                },
            }
        )

    async def list_transactions(request: Request, kind: PayShackKind) -> Response:
        stats.request(kind)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        problem = (
            sessions.check(token.strip())
            if scheme.lower() == "bearer" and token.strip()
            else "Unauthorized"
        )
        if problem is not None:
            stats.add("rejected_tokens")
            return _fail(401, problem)
        try:
            query = parse_list_query(request.query_params)
        except ValueError as exc:
            return _fail(400, str(exc))
        error, insert, slow = knob.next_list_request()
        if error:
            status = (500, 502, 503)[error_cycle[0] % 3]
            error_cycle[0] += 1
            stats.fault(str(status))
            if status == 500:
                return _fail(500, "Internal server error")
            return Response(
                _HTML_502 if status == 502 else _HTML_503, status, media_type="text/html"
            )
        if insert and knob.insert_count > 0:
            day = (
                query.date_to
                or query.date_from
                or world.payshack_latest_day(kind)
                or ist_date(world.now())
            )
            added = world.insert_payshack_rows(kind, day, knob.insert_count, query.status)
            stats.add("rows_inserted", len(added))
            stats.fault("insert")
        if slow:
            stats.fault("slow")
            await asyncio.sleep(knob.slow_seconds)
        rows, total = world.payshack_page(kind, query)
        return Response(list_body(rows, total, query), media_type="application/json")

    @app.get(PAYIN_PATH)
    async def payins(request: Request) -> Response:
        return await list_transactions(request, "payin")

    @app.get(PAYOUT_PATH)
    async def payouts(request: Request) -> Response:
        return await list_transactions(request, "payout")

    pages = {name: (STATIC_DIR / f"{name}.html").read_bytes() for name in ("login", "dashboard")}

    @app.get("/", include_in_schema=False)
    @app.get("/login", include_in_schema=False)
    async def login_page() -> HTMLResponse:
        stats.request("page")
        return HTMLResponse(pages["login"])

    @app.get("/dashboard", include_in_schema=False)
    async def dashboard_page() -> HTMLResponse:
        stats.request("page")
        return HTMLResponse(pages["dashboard"])

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/_sandbox/knobs", include_in_schema=False)
    async def get_knobs() -> Response:
        return json_response(knob.as_dict())

    @app.post("/_sandbox/knobs", include_in_schema=False)
    async def set_knobs(request: Request) -> Response:
        try:
            payload = await request.json()
            if not isinstance(payload, dict):
                raise ValueError("expected a JSON object of knob values")
            knob.update(**payload)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(knob.as_dict())

    app.state.snapshot = stats.snapshot
    add_sandbox_routes(app, world, stats.snapshot, stats.reset)
    return app
