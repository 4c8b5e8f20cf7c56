"""Redis unreachable: a PayShack run logs in afresh (warning naming Redis), and a written run
is never failed by the data-version bump."""

from __future__ import annotations

import logging

import pytest
import redis

from hub_core.settings import get_settings
from hub_pipelines.resources import RedisResource
from hub_pipelines.sources.payshack.browser import (
    BrowserConfig,
    PayShackBrowser,
    Session,
    SessionStore,
)
from tests.conftest import free_port


def _dead_redis() -> redis.Redis:
    return redis.Redis(port=free_port(), socket_timeout=1, socket_connect_timeout=1)


def test_session_store_without_redis_degrades_to_fresh_logins(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SessionStore(_dead_redis(), "ops@example.test", "k", 600)
    with caplog.at_level(logging.WARNING):
        assert store.load() is None
        store.save(Session(token="t", client_id="c"))
        store.clear()
    assert caplog.text.count("Redis unreachable") == 3


def test_payshack_reads_a_day_with_redis_down(sandbox, tmp_path) -> None:
    settings = get_settings()
    config = BrowserConfig(
        base_url=sandbox.payshack_url,
        email=settings.payshack_email,
        password=settings.payshack_password.get_secret_value(),
        chromium_path=settings.hub_chromium_path,
        artifacts_dir=tmp_path,
    )
    store = SessionStore(_dead_redis(), settings.payshack_email, "k", 600)
    with PayShackBrowser(config, store) as browser:
        session = browser.session()
        assert session.token and browser.logins == 1


def test_a_missed_bump_is_caught_up_by_the_next_run(
    clean_db, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    down = RedisResource(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING):
        assert down.bump_data_version(clean_db, written=True) is None  # rows committed, no raise
    assert "Redis unreachable" in caplog.text
    up = RedisResource()
    # the next run writes nothing, yet bumps once because the last bump was missed
    assert up.bump_data_version(clean_db, written=False) == 1
    assert up.bump_data_version(clean_db, written=False) is None
    assert up.bump_data_version(clean_db, written=True) == 2
    assert int(redis_client.get("hub:data_version")) == 2
