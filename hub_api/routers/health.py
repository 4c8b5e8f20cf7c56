"""`GET /health`: the state of the database, Redis and Dagster; never a 500."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from hub_core import __version__
from hub_core.db import get_engine

router = APIRouter(tags=["health"])

ServiceState = Literal["ok", "down"]


class Services(BaseModel):
    """State of each service the API depends on."""

    database: ServiceState
    redis: ServiceState
    dagster: ServiceState


class Health(BaseModel):
    """Overall health: `healthy` when every service is up, else `degraded`."""

    status: Literal["healthy", "degraded"]
    version: str
    services: Services


class HealthResponse(BaseModel):
    """Envelope of `/health`."""

    data: Health


def _check_database(request: Request) -> ServiceState:
    try:
        with get_engine(request.app.state.settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        return "ok"
    except Exception:
        return "down"


def _check_redis(request: Request) -> ServiceState:
    try:
        request.app.state.redis.ping()
        return "ok"
    except Exception:
        return "down"


def _check_dagster(request: Request) -> ServiceState:
    try:
        request.app.state.dagster.version()
        return "ok"
    except Exception:
        return "down"


@router.get("/health", response_model=HealthResponse)
async def health(request: Request) -> HealthResponse:
    """Probe every service concurrently, each bounded by a short timeout."""
    database, redis_state, dagster = await asyncio.gather(
        asyncio.to_thread(_check_database, request),
        asyncio.to_thread(_check_redis, request),
        asyncio.to_thread(_check_dagster, request),
    )
    services = Services(database=database, redis=redis_state, dagster=dagster)
    healthy = all(state == "ok" for state in (database, redis_state, dagster))
    return HealthResponse(
        data=Health(
            status="healthy" if healthy else "degraded", version=__version__, services=services
        )
    )
