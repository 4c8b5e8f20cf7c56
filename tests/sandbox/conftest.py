"""Fixtures of the sandbox tests: a small seeded scenario and the stand-ins on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from hub_core.settings import get_settings
from hub_sandbox.scenario import Scenario, generate
from hub_sandbox.server import SandboxHandle, running_sandbox


@pytest.fixture(scope="session")
def credentials() -> dict[str, str]:
    """The stand-ins' credentials, from the settings (the test environment sets them)."""
    settings = get_settings()
    return {
        "api_key": settings.vima_api_key.get_secret_value(),
        "email": settings.payshack_email,
        "password": settings.payshack_password.get_secret_value(),
    }


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """Two small days (seeded); never mutated by the stand-ins, so it is shared."""
    return generate(seed=2026, days=2, per_day=300)


SandboxFactory = Callable[..., AbstractContextManager[SandboxHandle]]


@pytest.fixture
def make_sandbox(scenario: Scenario, credentials: dict[str, str]) -> SandboxFactory:
    """`make_sandbox(**options)`: a `running_sandbox` context on the shared scenario."""

    def factory(**options: Any) -> AbstractContextManager[SandboxHandle]:
        return running_sandbox(options.pop("scenario", scenario), **credentials, **options)

    return factory


@pytest.fixture
def sandbox(make_sandbox: SandboxFactory) -> Iterator[SandboxHandle]:
    """Both stand-ins with no faults, on a fresh world."""
    with make_sandbox() as handle:
        yield handle


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium through Playwright (a missing browser fails the tests, never skips). Module
    scope: Playwright's sync API runs one instance per thread at a time, and other test files
    of the same process (a pytest-xdist worker) start their own."""
    from playwright.sync_api import sync_playwright

    from hub_pipelines.sources.payshack.browser import CHROMIUM_ARGS

    path = get_settings().hub_chromium_path or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=path, args=list(CHROMIUM_ARGS), headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page (own session storage)."""
    context = browser.new_context(locale="en-US", timezone_id="America/New_York")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()
