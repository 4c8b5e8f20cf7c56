"""Dagster resources. Secrets are `EnvVar`s in the code location's definitions (the Dagster UI
shows the variable's name, never its value); connection strings are read from the hub
settings at run time, so they never appear in the UI either (they may hold passwords). A
resource built without a secret (tests, scripts) takes it from the hub settings.

Every Dagster process loads this module with the code location; what only one source's runs
use is imported where it is used: the PayShack browser (Playwright, cryptography) when a
browser is opened, the Vima client (httpx, tenacity) when a client is made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Connection, Engine

from hub_core.cache import DATA_VERSION_KEY
from hub_core.db import get_engine
from hub_core.logging import get_logger
from hub_core.settings import get_settings
from hub_pipelines.warehouse.cache_bumps import (
    clear_missed_bump,
    has_missed_bump,
    record_missed_bump,
)

if TYPE_CHECKING:
    from hub_pipelines.sources.payshack.browser import PayShackBrowser, Reader
    from hub_pipelines.sources.vima.client import VimaClient

log = get_logger(__name__)


class WarehouseResource(ConfigurableResource):
    """The hub tables in PostgreSQL."""

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; DATABASE_URL from the environment when unset."
    )

    def url(self) -> str:
        """The effective database URL."""
        return self.database_url or get_settings().database_url

    def engine(self) -> Engine:
        """The pooled engine for the hub tables."""
        return get_engine(self.url())

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success."""
        with self.engine().begin() as conn:
            yield conn


class RedisResource(ConfigurableResource):
    """Redis: the API cache's data version and the browser session store."""

    redis_url: str | None = Field(
        default=None, description="Redis URL; REDIS_URL from the environment when unset."
    )

    def client(self) -> redis.Redis:
        """A Redis client (connection pool per call site)."""
        return redis.Redis.from_url(
            self.redis_url or get_settings().redis_url, socket_timeout=5, socket_connect_timeout=5
        )

    def bump_data_version(self, engine: Engine | None = None, written: bool = True) -> int | None:
        """Increment the data version the API's cache keys include, when `written` or when an
        earlier bump was missed; returns the new value (None when nothing was bumped).

        Never fails the run whose rows are committed: with Redis unreachable it warns, naming
        Redis, and records the missed bump in the warehouse (`missed_cache_bumps`) for the next
        run to catch up; meanwhile cached answers expire by their TTL. `engine` defaults to the
        hub database's."""
        engine = engine or get_engine(get_settings().database_url)
        try:
            if not written and not has_missed_bump(engine):
                return None
            version = int(self.client().incr(DATA_VERSION_KEY))
        except redis.RedisError as exc:
            log.warning(
                "Redis unreachable: the API cache's data version was not bumped; the next run will",
                error=type(exc).__name__,
            )
            record_missed_bump(engine)
            return None
        clear_missed_bump(engine)
        return version


class VimaResource(ConfigurableResource):
    """The Vima collector API."""

    base_url: str | None = Field(default=None, description="VIMA_BASE_URL when unset.")
    api_key: str | None = Field(default=None, description="EnvVar('VIMA_API_KEY').")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")
    max_attempts: int = Field(default=8, description="Attempts per request before failing.")
    max_retry_seconds: float = Field(default=120.0, description="Total retry time per request.")

    def client(self) -> VimaClient:
        """A new client (close it, or use it as a context manager); `SettingsError` when a
        Vima setting is malformed."""
        from hub_pipelines.sources.vima.client import RetryPolicy, VimaClient

        settings = get_settings()
        settings.require_source("vima")
        return VimaClient(
            base_url=self.base_url or settings.vima_base_url,
            api_key=self.api_key or settings.vima_api_key.get_secret_value(),
            basic_user=settings.vima_basic_user or None,
            timeout=self.timeout_seconds,
            retry=RetryPolicy(
                max_attempts=self.max_attempts, max_total_seconds=self.max_retry_seconds
            ),
        )


class PayShackResource(ConfigurableResource):
    """The PayShack merchant dashboard, driven in Chromium."""

    base_url: str | None = Field(default=None, description="PAYSHACK_BASE_URL when unset.")
    email: str | None = Field(default=None, description="EnvVar('PAYSHACK_EMAIL').")
    password: str | None = Field(default=None, description="EnvVar('PAYSHACK_PASSWORD').")
    session_secret: str | None = Field(
        default=None, description="EnvVar('HUB_SECRET_KEY'): encrypts the stored session."
    )
    reader: str | None = Field(default=None, description="api or dom; PAYSHACK_READER when unset.")
    timeout_ms: int = Field(default=30_000, description="Browser wait limit per step.")
    headless: bool = Field(default=True, description="Run Chromium without a window.")

    def effective_reader(self) -> Reader:
        """The reader this run uses; `SettingsError` when a PayShack setting is malformed."""
        settings = get_settings()
        settings.require_source("payshack")
        reader = self.reader or settings.payshack_reader
        if reader not in ("api", "dom"):
            raise ValueError(f"PayShack reader must be 'api' or 'dom', got {reader!r}")
        return reader  # type: ignore[return-value]

    def browser(self, redis_client: redis.Redis) -> PayShackBrowser:
        """A browser session (use it as a context manager: one Chromium per run)."""
        # Playwright and cryptography load here, not with the code location (issue 14)
        from hub_pipelines.sources.payshack.browser import (
            BrowserConfig,
            PayShackBrowser,
            SessionStore,
        )

        settings = get_settings()
        settings.require_source("payshack")
        email = self.email or settings.payshack_email
        store = SessionStore(
            redis_client,
            email=email,
            secret_key=self.session_secret or settings.hub_secret_key.get_secret_value(),
            ttl_seconds=settings.payshack_session_ttl_seconds,
        )
        config = BrowserConfig(
            base_url=self.base_url or settings.payshack_base_url,
            email=email,
            password=self.password or settings.payshack_password.get_secret_value(),
            chromium_path=settings.hub_chromium_path,
            headless=self.headless,
            timeout_ms=self.timeout_ms,
            artifacts_dir=Path(settings.hub_artifacts_dir),
        )
        return PayShackBrowser(config, store)
