"""The FastAPI application: `create_app()` and the module-level `app` uvicorn serves."""

from __future__ import annotations

from importlib.resources import files

import redis
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

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
        docs_url=None,  # served below with Swagger UI's own files: no CDN, works offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.redis = redis.Redis.from_url(
        settings.redis_url, socket_timeout=2, socket_connect_timeout=2
    )
    app.state.dagster = DagsterClient(settings.dagster_graphql_url, timeout=3.0)
    install_error_handlers(app)
    _serve_docs(app)
    for module in (health, transactions, metrics, reconciliation, sync, export):
        app.include_router(module.router, prefix=API_PREFIX)
    return app


DOCS_ASSETS = f"{API_PREFIX}/docs-assets"


def _serve_docs(app: FastAPI) -> None:
    """Swagger UI at `/api/v1/docs`, its scripts and styles from the `swagger-ui-py`
    package rather than a CDN (a deployment without outside network still has its docs)."""
    assets = str(files("swagger_ui") / "static")
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get(f"{API_PREFIX}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{API_PREFIX}/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )


app = create_app()
