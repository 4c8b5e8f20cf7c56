"""A multi-day scenario ingested from the sandbox through both sources' real clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from hub_core.settings import get_settings
from hub_pipelines.sources.payshack import ingest as payshack_ingest
from hub_pipelines.sources.payshack.browser import BrowserConfig, PayShackBrowser, SessionStore
from hub_pipelines.sources.vima import ingest as vima_ingest
from hub_pipelines.sources.vima.client import VimaClient
from hub_pipelines.windows import PartitionWindow
from hub_sandbox.scenario import Scenario, generate
from tests.pipelines.conftest import start_sandbox

RECON_START = date(2026, 2, 1)
RECON_DAYS = 3


@pytest.fixture(scope="module")
def recon_scenario() -> Scenario:
    """Three days with every injected case, several of each."""
    return generate(seed=5, start=RECON_START, days=RECON_DAYS, per_day=600)


def days() -> list[date]:
    return [RECON_START + timedelta(days=n) for n in range(RECON_DAYS)]


@pytest.fixture
def ingest_all(
    recon_scenario: Scenario, clean_db: Engine, redis_client: redis.Redis
) -> Iterator[Callable[[], Any]]:
    """Start a sandbox; yield a function that (re-)ingests every day of both sources."""
    settings = get_settings()
    mapping = settings.hub_client_project_map
    with start_sandbox(recon_scenario) as handle:

        def ingest() -> Any:
            store = SessionStore(redis_client, settings.payshack_email, "k", 600)
            config = BrowserConfig(
                base_url=handle.payshack_url,
                email=settings.payshack_email,
                password=settings.payshack_password.get_secret_value(),
                chromium_path=settings.hub_chromium_path,
            )
            key = settings.vima_api_key.get_secret_value()
            with (
                VimaClient(handle.vima_url, key) as client,
                PayShackBrowser(config, store) as browser,
            ):
                for day in days():
                    window = PartitionWindow.for_key(day.isoformat(), "UTC")
                    vima_ingest.ingest_partition(client, clean_db, window)
                    vima_ingest.normalize_partition(clean_db, window)
                    payshack_ingest.ingest_partition(browser, clean_db, window, "api")
                    payshack_ingest.normalize_partition(clean_db, window, mapping)
            return handle

        yield ingest
