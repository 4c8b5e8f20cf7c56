"""PayShack fixtures: a browser on the sandbox dashboard, with its session in Redis db 15."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from hub_core.settings import get_settings
from hub_pipelines.sources.payshack.browser import BrowserConfig, PayShackBrowser, SessionStore


@pytest.fixture
def make_browser(redis_client: redis.Redis, tmp_path: Path) -> Callable[..., PayShackBrowser]:
    """Build a `PayShackBrowser` for a sandbox handle (a context manager to enter)."""

    def build(
        handle: Any, password: str | None = None, secret: str = "k", **config: Any
    ) -> PayShackBrowser:
        settings = get_settings()
        store = SessionStore(redis_client, settings.payshack_email, secret, ttl_seconds=600)
        return PayShackBrowser(
            BrowserConfig(
                base_url=handle.payshack_url,
                email=settings.payshack_email,
                password=password or settings.payshack_password.get_secret_value(),
                chromium_path=settings.hub_chromium_path,
                timeout_ms=config.pop("timeout_ms", 15_000),
                artifacts_dir=tmp_path / "artifacts",
                **config,
            ),
            store,
        )

    return build
