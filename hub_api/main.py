"""The FastAPI application: `create_app()` and the module-level `app` uvicorn serves."""

from __future__ import annotations

import redis
from fastapi import FastAPI

from hub_api.dagster_client import DagsterClient
from hub_api.errors import install_error_handlers
from hub_api.routers import export, health, metrics, reconciliation, sync, transactions
from hub_core import __version__
from hub_core.logging import configure_logging
from hub_core.settings import Settings, get_settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API with its routers under `/api/v1`, error envelope and clients."""
    settings = settings or get_settings()
    configure_logging(settings.hub_log_level, settings.hub_log_json)
    app = FastAPI(
        title="Payment Hub API",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.redis = redis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2
    )
    app.state.dagster = DagsterClient(settings.dagster_graphql_url, timeout=3.0)
    install_error_handlers(app)
    for module in (health, transactions, metrics, reconciliation, sync, export):
        app.include_router(module.router, prefix=API_PREFIX)
    return app


app = create_app()
