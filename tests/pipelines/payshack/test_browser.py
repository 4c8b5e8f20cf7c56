"""The PayShack browser client in real Chromium against the sandbox dashboard."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hub_core.settings import get_settings
from hub_core.timeutil import day_bounds
from hub_pipelines.sources.payshack.browser import PayShackAuthError, PayShackError, Session
from hub_pipelines.sources.payshack.normalize import normalize_row, parse_row_time
from hub_sandbox.scenario import Scenario, generate
from tests.pipelines.conftest import SCENARIO_START, start_sandbox

START, END = day_bounds(SCENARIO_START)


def world_rows(handle: Any, kind: str) -> dict[str, dict[str, Any]]:
    """The sandbox's rows of `kind` created in the test day."""
    return {
        row["txnId"]: row
        for row in handle.world.payshack_rows(kind)
        if START <= parse_row_time(row["createdAt"]) < END
    }


def normalized(rows: dict[str, dict[str, Any]], kind: str) -> dict[str, str]:
    return {txn_id: normalize_row(row, kind, {}).data_hash for txn_id, row in rows.items()}  # type: ignore[arg-type]


def test_login_failure_names_what_the_page_said(sandbox, make_browser, tmp_path) -> None:
    wrong = "definitely-wrong-password"
    with make_browser(sandbox, password=wrong) as browser, pytest.raises(PayShackAuthError) as info:
        browser.session()
    assert "Invalid email or password" in str(info.value)
    assert wrong not in str(info.value)
    (shot,) = (tmp_path / "artifacts").glob("payshack-login-refused-*.png")
    assert shot.stat().st_size > 0
    with make_browser(sandbox, password=wrong) as browser:
        with pytest.raises(PayShackAuthError):
            browser.session()
        assert browser.page.input_value("input[name=password]") == ""  # emptied before the shot


def test_unexpected_page_is_a_clear_error(sandbox, make_browser) -> None:
    with make_browser(sandbox, timeout_ms=1_500) as browser:
        browser.config.base_url = sandbox.vima_url  # no login form there
        browser._context = browser._browser.new_context(base_url=sandbox.vima_url)
        browser._page = browser._context.new_page()
        with pytest.raises(PayShackAuthError, match="shows no login form"):
            browser.login()


def test_both_readers_give_identical_rows_for_a_day(sandbox, make_browser) -> None:
    with make_browser(sandbox) as browser:
        for kind in ("payin", "payout"):
            api = browser.read_day(kind, START, END, "api")
            dom = browser.read_day(kind, START, END, "dom")
            expected = world_rows(sandbox, kind)
            assert set(api.rows) == set(dom.rows) == set(expected)
            assert (
                normalized(api.rows, kind)
                == normalized(dom.rows, kind)
                == normalized(expected, kind)
            )
        assert browser.logins == 1
        assert browser.dom_click_fallbacks == 0  # every next page by the in-page click
    assert sandbox.stats()["payshack"]["logins"] == 1
    assert len(world_rows(sandbox, "payin")) > 150  # two pages of 100 at least


def test_session_is_reused_from_redis_and_encrypted(sandbox, make_browser, redis_client) -> None:
    with make_browser(sandbox) as browser:
        token = browser.session().token
        assert browser.logins == 1 and not browser.session_reused
    stored = b"".join(redis_client.get(k) for k in redis_client.keys("hub:payshack:session:*"))
    assert token.encode() not in stored
    with make_browser(sandbox) as browser:
        assert len(browser.read_day("payin", START, END, "api").rows) > 0
        assert browser.session_reused and browser.logins == 0
    assert sandbox.stats()["payshack"]["logins"] == 1


@pytest.fixture(scope="module")
def busy_scenario() -> Scenario:
    """A day with about five pages of pay-ins."""
    return generate(seed=11, start=SCENARIO_START, days=1, per_day=800)


@pytest.mark.parametrize("reader", ["api", "dom"])
def test_token_expiry_mid_read_recovers_the_full_day(
    busy_scenario, make_browser, reader: str
) -> None:
    with start_sandbox(busy_scenario) as handle:
        sessions = handle.payshack_app.state.sessions
        sessions.ttl = 1.5  # the saved session dies a few pages into the read
        with make_browser(handle) as browser:
            browser.session()
        sessions.ttl = 600
        handle.knobs.update(slow_every=1, slow_seconds=0.4)
        with make_browser(handle) as browser:
            result = browser.read_day("payin", START, END, reader)  # type: ignore[arg-type]
            assert browser.logins == 1  # the one fresh login after the rejection
        stats = handle.stats()["payshack"]
        assert stats["rejected_tokens"] >= 1
        assert stats["logins"] == 2
        assert result.pages >= 5
        assert set(result.rows) == set(world_rows(handle, "payin"))


def test_a_rejected_saved_session_leads_to_one_fresh_login(sandbox, make_browser) -> None:
    with make_browser(sandbox) as browser:
        browser.store.save(Session(token="stale.token.value", client_id="CL1"))
    with make_browser(sandbox) as browser:
        result = browser.read_day("payout", START, END, "dom")
        assert browser.logins == 1
    assert set(result.rows) == set(world_rows(sandbox, "payout"))


@pytest.mark.parametrize("reader", ["api", "dom"])
def test_rows_arriving_mid_read_are_neither_lost_nor_doubled(
    sandbox, make_browser, reader: str
) -> None:
    before = world_rows(sandbox, "payin")
    sandbox.knobs.update(insert_every=2, insert_count=3)
    with make_browser(sandbox) as browser:
        result = browser.read_day("payin", START, END, reader)  # type: ignore[arg-type]
    sandbox.knobs.update(insert_every=0)
    after = world_rows(sandbox, "payin")
    assert sandbox.stats()["payshack"]["rows_inserted"] > 0
    assert result.shifted and result.passes >= 2
    assert set(before) <= set(result.rows) <= set(after)
    with make_browser(sandbox) as browser:
        assert set(browser.read_day("payin", START, END, reader).rows) == set(after)  # type: ignore[arg-type]


@pytest.mark.parametrize("reader", ["api", "dom"])
def test_server_errors_are_retried(sandbox, make_browser, reader: str) -> None:
    sandbox.knobs.update(error_every=3)
    with make_browser(sandbox) as browser:
        result = browser.read_day("payin", START, END, reader)  # type: ignore[arg-type]
    assert set(result.rows) == set(world_rows(sandbox, "payin"))
    assert sum(sandbox.stats()["payshack"]["faults"].values()) > 0


IGNORE_SCRIPTED_CLICKS = """
document.addEventListener('click', (event) => {
  if (!event.isTrusted && event.target.closest && event.target.closest('#next-page')) {
    event.stopImmediatePropagation();
  }
}, true);
"""
"""A dashboard that reacts to a person's click only (a click the page script made is ignored)."""

TOAST_OVER_EACH_PAGE = """
addEventListener('DOMContentLoaded', () => {
  const table = document.querySelector('#txn-table');
  if (!table) { return; }
  new MutationObserver(() => {
    if (table.getAttribute('data-state') !== 'loaded' || document.getElementById('toast')) {
      return;
    }
    const toast = document.createElement('div');
    toast.id = 'toast';
    toast.style.cssText = 'position:fixed;inset:0;z-index:9;background:rgba(0,0,0,.1)';
    document.body.appendChild(toast);
    setTimeout(() => toast.remove(), 600);
  }).observe(table, {attributes: true, attributeFilter: ['data-state']});
});
"""
"""A dashboard that covers the whole page for 600 ms after each page it shows."""


@pytest.mark.parametrize(
    ("script", "fallbacks"),
    [(IGNORE_SCRIPTED_CLICKS, "one, then playwright's click"), (TOAST_OVER_EACH_PAGE, "each")],
    ids=["click-ignored", "next-covered"],
)
def test_dom_reader_falls_back_to_playwrights_click(
    sandbox, make_browser, script: str, fallbacks: str
) -> None:
    """The in-page click on "Next" is made only on an uncovered button and must take effect;
    otherwise the page is reached with Playwright's click, and no row is lost or doubled."""
    with make_browser(sandbox) as browser:
        browser.session()
        browser._context.add_init_script(script)
        result = browser.read_day("payin", START, END, "dom")
        assert result.complete and result.passes == 1 and result.pages >= 2
        if fallbacks == "each":
            assert browser.dom_click_fallbacks == result.pages - 1
        else:  # an ignored click is not tried again in that read
            assert browser.dom_click_fallbacks == 1
    assert set(result.rows) == set(world_rows(sandbox, "payin"))


def test_ist_dates_cover_the_utc_day() -> None:
    from hub_pipelines.sources.payshack.browser import ist_dates

    assert ist_dates(START, END) == (date(2026, 1, 1), date(2026, 1, 2))
    assert get_settings().hub_chromium_path


def test_a_failed_read_leaves_a_trace_without_credentials(sandbox, make_browser, tmp_path) -> None:
    import zipfile

    password = get_settings().payshack_password.get_secret_value()
    sandbox.knobs.update(slow_every=1, slow_seconds=3)
    slow = make_browser(sandbox, timeout_ms=1_500)
    with pytest.raises(PayShackError, match="did not load"), slow as browser:
        token = browser.session().token
        browser.read_day("payin", START, END, "dom")
    (trace,) = (tmp_path / "artifacts").glob("payshack-trace-*.zip")
    with zipfile.ZipFile(trace) as archive:
        content = b"".join(archive.read(name) for name in archive.namelist())
    assert len(content) > 0
    for secret in (password, token, get_settings().payshack_email):
        assert secret.encode() not in content
    sandbox.knobs.update(slow_every=0)
    with make_browser(sandbox) as browser:  # a successful read keeps no trace
        browser.read_day("payout", START, END, "dom")
    assert len(list((tmp_path / "artifacts").glob("payshack-trace-*.zip"))) == 1


def test_transient_login_failures_are_retried(sandbox, make_browser) -> None:
    """Two logins answered 503, then a good one: one session, no failed run."""
    before = sandbox.stats()["payshack"]
    sandbox.knobs.update(login_fail_first=2)
    try:
        with make_browser(sandbox) as browser:
            session = browser.session()
            assert session.token
            assert browser.logins == 1
    finally:
        sandbox.knobs.update(login_fail_first=0)
    after = sandbox.stats()["payshack"]
    assert after["login_failures"] - before.get("login_failures", 0) == 2
    assert after["logins"] - before.get("logins", 0) == 1


def test_a_login_that_never_succeeds_stops_with_one_clear_error(sandbox, make_browser) -> None:
    sandbox.knobs.update(login_fail_first=50)
    try:
        with make_browser(sandbox) as browser, pytest.raises(PayShackAuthError) as info:
            browser.session()
    finally:
        sandbox.knobs.update(login_fail_first=0)
    assert "HTTP 503" in str(info.value) and "5 attempts" in str(info.value)
