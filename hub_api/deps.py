"""Dependencies shared by the routers: settings, database, Redis, API-key authentication.

Dependencies that only compute (no I/O) are `async def`: FastAPI runs them on the event loop
instead of handing each to a worker thread, which is most of a cached answer's cost otherwise.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Annotated

import redis
from fastapi import Depends, Header, Request
from sqlalchemy import Connection, Engine

from hub_api.dagster_client import DagsterClient
from hub_api.errors import APIError
from hub_core.db import get_engine
from hub_core.settings import Role, Settings


async def app_settings(request: Request) -> Settings:
    """The settings the application was created with."""
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]

_ROLE_RANK: dict[Role, int] = {"reader": 1, "operator": 2}


async def get_db_engine(settings: SettingsDep) -> Engine:
    """The hub tables' engine."""
    return get_engine(settings.database_url)


def get_connection(engine: Annotated[Engine, Depends(get_db_engine)]) -> Iterator[Connection]:
    """A connection for one request (read-only work; writers open their own transaction)."""
    with engine.connect() as conn:
        yield conn


async def get_redis(request: Request) -> redis.Redis:
    """The application's Redis client."""
    return request.app.state.redis


async def get_dagster(request: Request) -> DagsterClient:
    """The application's client of Dagster's GraphQL API."""
    return request.app.state.dagster


DagsterDep = Annotated[DagsterClient, Depends(get_dagster)]
EngineDep = Annotated[Engine, Depends(get_db_engine)]
ConnectionDep = Annotated[Connection, Depends(get_connection)]
RedisDep = Annotated[redis.Redis, Depends(get_redis)]


def _presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    return None


def role_of(key: str, keys: dict[str, Role]) -> Role | None:
    """The role of `key`, compared in constant time against every configured key."""
    found: Role | None = None
    for candidate, role in keys.items():
        if hmac.compare_digest(candidate.encode(), key.encode()):
            found = role
    return found


RATE_WINDOW_SECONDS = 60


def check_rate_limit(client: redis.Redis, key: str, per_minute: int) -> None:
    """Count a request of `key` in the current minute; 429 with `Retry-After` past the limit.

    The key is stored as a digest, never in clear. Without Redis the request is let through.
    """
    if per_minute <= 0:
        return
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    name = f"hub:ratelimit:{digest}:{window}"
    try:
        pipe = client.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, RATE_WINDOW_SECONDS + 5)
        count = int(pipe.execute()[0])
    except redis.RedisError:
        return
    if count > per_minute:
        retry_after = max(1, int((window + 1) * RATE_WINDOW_SECONDS - now) + 1)
        raise APIError(
            429,
            f"rate limit of {per_minute} requests per minute exceeded for this key",
            {"limit_per_minute": per_minute, "retry_after_seconds": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def require_role(minimum: Role):
    """A dependency that admits a request whose API key has at least the `minimum` role,
    within the key's rate limit."""

    def dependency(
        request: Request,
        settings: SettingsDep,
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Role:
        key = _presented_key(authorization, x_api_key)
        if key is None:
            raise APIError(
                401, "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key'"
            )
        role = role_of(key, settings.api_key_roles())
        if role is None:
            raise APIError(401, "invalid API key")
        if _ROLE_RANK[role] < _ROLE_RANK[minimum]:
            raise APIError(403, f"this endpoint needs the {minimum} role")
        check_rate_limit(request.app.state.redis, key, settings.hub_api_rate_limit_per_minute)
        return role

    return dependency


ReaderDep = Annotated[Role, Depends(require_role("reader"))]
OperatorDep = Annotated[Role, Depends(require_role("operator"))]
