"""`GET /health`: the state of the database, Redis and Dagster; never a 500.

HTTP 503 (`unhealthy`) when the database is unreachable, so a load balancer takes the
instance out; 200 `degraded` when only Redis or Dagster is down (the API still answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from hub_api.deps import DagsterDep, EngineDep, RedisDep
from hub_core import __version__

router = APIRouter(tags=["health"])

ServiceState = Literal["ok", "down"]


class Services(BaseModel):
    """State of each service the API depends on."""

    database: ServiceState
    redis: ServiceState
    dagster: ServiceState


class Health(BaseModel):
    """Overall health: `healthy` when every service is up, `unhealthy` without the database,
    else `degraded`."""

    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    services: Services


class HealthResponse(BaseModel):
    """Envelope of `/health`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "status": "degraded",
                        "version": "0.1.0",
                        "services": {"database": "ok", "redis": "ok", "dagster": "down"},
                    }
                }
            ]
        }
    )

    data: Health


def _probe(check: Callable[[], object]) -> ServiceState:
    try:
        check()
    except Exception:
        return "down"
    return "ok"


def _database(engine: EngineDep) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get(
    "/health",
    response_model=HealthResponse,
    summary="Health",
    description="Open (no API key). 503 when the database is unreachable.",
    responses={503: {"model": HealthResponse, "description": "The database is unreachable"}},
)
async def health(
    engine: EngineDep, redis: RedisDep, dagster: DagsterDep, response: Response
) -> HealthResponse:
    """Probe every service concurrently, each bounded by a short timeout."""
    database, redis_state, dagster_state = await asyncio.gather(
        asyncio.to_thread(_probe, lambda: _database(engine)),
        asyncio.to_thread(_probe, redis.ping),
        asyncio.to_thread(_probe, dagster.version),
    )
    services = Services(database=database, redis=redis_state, dagster=dagster_state)
    if database == "down":
        status, response.status_code = "unhealthy", 503
    elif redis_state == "down" or dagster_state == "down":
        status = "degraded"
    else:
        status = "healthy"
    return HealthResponse(data=Health(status=status, version=__version__, services=services))
