"""Fixtures of the pipeline tests: the sandbox providers over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from hub_core.settings import get_settings
from hub_sandbox.scenario import Scenario, generate
from hub_sandbox.server import SandboxHandle, running_sandbox

SCENARIO_START = date(2026, 1, 1)


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """Two days of a few hundred operations each."""
    return generate(seed=7, start=SCENARIO_START, days=2, per_day=300)


def start_sandbox(scenario: Scenario, **options: object):
    """`running_sandbox` with the test settings' credentials."""
    settings = get_settings()
    return running_sandbox(
        scenario,
        api_key=settings.vima_api_key.get_secret_value(),
        email=settings.payshack_email,
        password=settings.payshack_password.get_secret_value(),
        **options,
    )


@pytest.fixture
def sandbox(small_scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxHandle]:
    """A fresh sandbox (its own world: late changes applied in one test stay there)."""
    with start_sandbox(small_scenario) as handle:
        monkeypatch.setenv("VIMA_BASE_URL", handle.vima_url)
        monkeypatch.setenv("PAYSHACK_BASE_URL", handle.payshack_url)
        get_settings.cache_clear()
        yield handle
    get_settings.cache_clear()
