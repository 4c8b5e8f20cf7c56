"""Dependencies shared by the routers: settings, database, Redis, API-key authentication."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

import redis
from fastapi import Depends, Header, Request
from sqlalchemy import Connection, Engine

from hub_api.errors import APIError
from hub_core.db import get_engine
from hub_core.settings import Role, Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]

_ROLE_RANK: dict[Role, int] = {"reader": 1, "operator": 2}


def get_db_engine(settings: SettingsDep) -> Engine:
    """The hub tables' engine."""
    return get_engine(settings.database_url)


def get_connection(engine: Annotated[Engine, Depends(get_db_engine)]) -> Iterator[Connection]:
    """A connection for one request (read-only work; writers open their own transaction)."""
    with engine.connect() as conn:
        yield conn


def get_redis(request: Request) -> redis.Redis:
    """The application's Redis client."""
    return request.app.state.redis


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


def require_role(minimum: Role):
    """A dependency that admits a request whose API key has at least the `minimum` role."""

    def dependency(
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
        return role

    return dependency


ReaderDep = Annotated[Role, Depends(require_role("reader"))]
OperatorDep = Annotated[Role, Depends(require_role("operator"))]
