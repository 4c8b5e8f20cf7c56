"""Dagster resources. Connection strings are read from hub settings at run time, so they never
appear in the Dagster UI's resource config (they may hold passwords)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Connection, Engine

from hub_core.db import get_engine
from hub_core.settings import get_settings
from hub_pipelines.sources.vima.client import RetryPolicy, VimaClient

DATA_VERSION_KEY = "hub:data_version"


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

    def bump_data_version(self) -> int:
        """Increment the data version the API's cache keys include; returns the new value."""
        return int(self.client().incr(DATA_VERSION_KEY))


class VimaResource(ConfigurableResource):
    """The Vima collector API. Credentials come from settings (never from run config)."""

    base_url: str | None = Field(default=None, description="VIMA_BASE_URL when unset.")
    timeout_seconds: float = Field(default=30.0, description="Per-request timeout.")
    max_attempts: int = Field(default=8, description="Attempts per request before failing.")
    max_retry_seconds: float = Field(default=120.0, description="Total retry time per request.")
    page_size: int = Field(default=100, description="Operations per page (at most 100).")

    def client(self) -> VimaClient:
        """A new client (close it, or use it as a context manager)."""
        settings = get_settings()
        return VimaClient(
            base_url=self.base_url or settings.vima_base_url,
            api_key=settings.vima_api_key.get_secret_value(),
            basic_user=settings.vima_basic_user or None,
            timeout=self.timeout_seconds,
            retry=RetryPolicy(
                max_attempts=self.max_attempts, max_total_seconds=self.max_retry_seconds
            ),
        )
