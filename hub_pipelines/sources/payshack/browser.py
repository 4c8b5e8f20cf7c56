"""PayShack through its merchant dashboard in a real Chromium (Playwright, sync API).

A person logs in on the login page; so does `PayShackBrowser`. The session (token and browser
storage) is kept in Redis, encrypted with `HUB_SECRET_KEY`, for less than the token's life,
so the next run reads without logging in. An expired or rejected session leads to one fresh
login and the read goes on from where it was.

Two readers return the same rows for a day:
- `api`: the JSON endpoints the dashboard itself calls, with the session's token;
- `dom`: the dashboard's table, a whole page per evaluation, 100 rows a page.
Rows arriving while a day is paged (pages shift) are detected by the total count changing,
and the day is re-read until a full pass is stable; rows are keyed by `txnId`, so nothing is
lost or doubled.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
import redis
from cryptography.fernet import Fernet, InvalidToken
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from hub_core.logging import get_logger, mask_secrets
from hub_core.types import Direction
from hub_pipelines.sources.payshack.dom import READ_PAGE_JS, rows_from_table
from hub_pipelines.sources.payshack.normalize import IST, parse_row_time

Reader = Literal["api", "dom"]

CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Flags for Debian's Chromium on a machine with no outside network (see DESIGN.md)."""

LOGIN_PATH = "/login"
LOGIN_API = "/indigate-user-svc/api/v1/auth/login"
DASHBOARD_PATH = "/dashboard"
LIST_API: dict[str, str] = {
    "payin": "/indigate-payin-svc/api/v1/payin/transaction/fetch",
    "payout": "/indigate-payout-svc/api/v1/wallet/transactions",
}
TOKEN_STORAGE_KEYS = {"ps_token": "token", "ps_client_id": "client_id"}
"""Where the dashboard keeps its session in `sessionStorage` (restored on reuse)."""
PAGE_SIZE = 100
MAX_RELOGINS = 5
MAX_DOM_FAULTS = 10
MAX_PASSES = 4
MAX_ATTEMPTS = 5
CLICK_REACT_MS = 1_000
"""How long the dashboard may take to react to the reader's click on "Next" (leave the page
it shows) before the click counts as ignored."""
TIMEOUT_MARGIN_MS = 2_000
"""Playwright's deadline for a table read, past the page's own (`timeout_ms`): a backstop for a
page that hangs."""

log = get_logger(__name__)


class PayShackError(Exception):
    """Reading PayShack failed (the message never carries a credential)."""


class PayShackAuthError(PayShackError):
    """The dashboard refused the login, or did not show what a login needs."""


class _SessionExpired(Exception):
    """The dashboard or its API rejected the session's token."""


class _Transient(PayShackError):
    """A fault worth another try (5xx, 429, timeout, a page showing an error)."""


class _LoginUnavailable(_Transient):
    """The login could not be tried (5xx, 429, no answer, no form): worth another attempt."""


@dataclass(slots=True)
class Session:
    """What a login yields: the bearer token and the dashboard's client id."""

    token: str
    client_id: str
    created: float = field(default_factory=time.time)


class SessionStore:
    """The dashboard session in Redis, encrypted when a secret key is configured."""

    def __init__(self, client: redis.Redis, email: str, secret_key: str, ttl_seconds: int) -> None:
        self.client = client
        self.key = "hub:payshack:session:" + hashlib.sha256(email.encode()).hexdigest()[:16]
        self.ttl = ttl_seconds
        self._fernet = (
            Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()))
            if secret_key
            else None
        )

    def load(self) -> Session | None:
        """The saved session, or None (absent, expired, unreadable with this key, or Redis
        unreachable: then the run logs in afresh)."""
        try:
            blob = self.client.get(self.key)
        except redis.RedisError as exc:
            _store_down("read", exc)
            return None
        if not blob:
            return None
        try:
            data = self._fernet.decrypt(blob) if self._fernet else blob
            return Session(**orjson.loads(data))
        except (InvalidToken, orjson.JSONDecodeError, TypeError):
            self.clear()
            return None

    def save(self, session: Session) -> None:
        """Keep `session` for `ttl` seconds."""
        data = orjson.dumps(
            {"token": session.token, "client_id": session.client_id, "created": session.created}
        )
        blob = self._fernet.encrypt(data) if self._fernet else data
        try:
            self.client.set(self.key, blob, ex=self.ttl)
        except redis.RedisError as exc:
            _store_down("save", exc)

    def clear(self) -> None:
        """Forget the session (it was rejected)."""
        try:
            self.client.delete(self.key)
        except redis.RedisError as exc:
            _store_down("clear", exc)


def _store_down(action: str, exc: Exception) -> None:
    log.warning(
        f"Redis unreachable: could not {action} the PayShack session; "
        "logging in afresh instead of reusing one",
        error=type(exc).__name__,
    )


@dataclass(slots=True)
class ReadResult:
    """A day of one kind, read by one reader."""

    rows: dict[str, dict[str, Any]]
    pages: int = 0
    passes: int = 0
    shifted: bool = False
    complete: bool = False


@dataclass(slots=True)
class BrowserConfig:
    """How to reach and drive the dashboard."""

    base_url: str
    email: str
    password: str
    chromium_path: str | None = None
    headless: bool = True
    timeout_ms: int = 30_000
    artifacts_dir: Path | None = None
    page_size: int = PAGE_SIZE


def ist_dates(start: datetime, end: datetime) -> tuple[date, date]:
    """The IST calendar dates a UTC window [start, end) touches (the dashboard filters by IST)."""
    return start.astimezone(IST).date(), (end - timedelta(microseconds=1)).astimezone(IST).date()


class PayShackBrowser:
    """One Chromium for one run: login, session reuse, and the two readers."""

    def __init__(self, config: BrowserConfig, store: SessionStore) -> None:
        self.config = config
        self.store = store
        self.logins = 0
        self.session_reused = False
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._session: Session | None = None
        self._tracing = False
        self.dom_click_fallbacks = 0
        """Pages the dom reader reached with Playwright's click: the in-page one could not be
        made or was ignored."""

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> PayShackBrowser:
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.config.chromium_path or None,
                headless=self.config.headless,
                args=list(CHROMIUM_ARGS),
            )
        except PlaywrightError as exc:
            self._playwright.stop()
            raise PayShackError(f"could not start Chromium: {str(exc).splitlines()[0]}") from None
        self._context = self._browser.new_context(base_url=self.config.base_url.rstrip("/"))
        self._context.set_default_timeout(self.config.timeout_ms)
        self._page = self._context.new_page()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        self._stop_trace(keep=exc_type is not None)
        for closer in (self._context, self._browser):
            try:
                if closer is not None:
                    closer.close()
            except PlaywrightError:
                pass
        if self._playwright is not None:
            self._playwright.stop()

    @property
    def page(self) -> Page:
        """The browser tab."""
        assert self._page is not None, "use PayShackBrowser as a context manager"
        return self._page

    # -- session ----------------------------------------------------------------------------

    def session(self) -> Session:
        """The current session: saved in Redis, else a fresh login."""
        if self._session is None:
            saved = self.store.load()
            if saved is not None:
                self._session = saved
                self.session_reused = True
            else:
                self._session = self.login()
        return self._session

    def login(self) -> Session:
        """Log in through the login form, retrying transient failures (a 5xx or 429 answer, no
        answer, a form that did not load) with the pages' backoff; wrong credentials raise
        `PayShackAuthError` at once, with what the page said."""
        try:
            for attempt in Retrying(
                retry=retry_if_exception_type(_LoginUnavailable),
                stop=stop_after_attempt(MAX_ATTEMPTS),
                wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2),
                reraise=True,
            ):
                with attempt:
                    return self._login_once()
        except _LoginUnavailable as exc:  # not transient any more: the callers must not retry
            raise PayShackAuthError(f"{exc} ({MAX_ATTEMPTS} attempts)") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _login_once(self) -> Session:
        self._stop_trace(keep=False)  # typing the password is never traced
        page = self._fresh_tab()  # sessionStorage is per tab: a new tab holds no old session
        try:
            page.goto(LOGIN_PATH, wait_until="domcontentloaded")
        except PlaywrightError as exc:
            raise _LoginUnavailable(f"login page: {str(exc).splitlines()[0][:200]}") from None
        form = page.locator("form#login-form, form:has(input[type=password])").first
        try:
            form.wait_for(state="visible", timeout=self.config.timeout_ms)
        except PlaywrightTimeout:
            self._failure_artifacts("login-page")
            raise _LoginUnavailable(
                f"PayShack login page at {page.url} shows no login form (title {page.title()!r})"
            ) from None
        page.fill("input[name=email], input[type=email]", self.config.email)
        page.fill("input[name=password], input[type=password]", self.config.password)
        try:
            with page.expect_response(
                lambda r: LOGIN_API in r.url and r.request.method == "POST",
                timeout=self.config.timeout_ms,
            ) as answer:
                page.click("button[type=submit]")
            status = answer.value.status
        except PlaywrightTimeout:
            raise _LoginUnavailable("PayShack did not answer the login") from None
        if status >= 500 or status == 429:
            raise _LoginUnavailable(f"PayShack answered the login with HTTP {status}")
        with contextlib.suppress(PlaywrightTimeout):  # judged by the page below
            page.wait_for_function(
                "(path) => location.pathname.startsWith(path)"
                " || !!document.querySelector('[role=alert], .alert-error')",
                arg=DASHBOARD_PATH,
                timeout=self.config.timeout_ms,
            )
        stored = self._stored_session() if DASHBOARD_PATH in page.url else None
        if stored is None:
            message = self._page_alert() or f"no dashboard after login (page {page.url})"
            self._failure_artifacts("login-refused")
            raise PayShackAuthError(f"PayShack refused the login (HTTP {status}): {message}")
        session = stored
        self.logins += 1
        self.store.save(session)
        log.info("payshack login", reused=False)
        return session

    def _fresh_tab(self) -> Page:
        old = self._page
        self._page = self._context.new_page()  # type: ignore[union-attr]
        if old is not None:
            old.close()
        return self._page

    def _stored_session(self) -> Session | None:
        values = self.page.evaluate(
            "(keys) => keys.map(k => sessionStorage.getItem(k))", list(TOKEN_STORAGE_KEYS)
        )
        found = dict(zip(TOKEN_STORAGE_KEYS.values(), values, strict=True))
        if not found.get("token"):
            return None
        return Session(token=str(found["token"]), client_id=str(found.get("client_id") or ""))

    def _page_alert(self) -> str | None:
        alert = self.page.locator("[role=alert], .alert-error, .error").first
        try:
            alert.wait_for(state="visible", timeout=5_000)
            return mask_secrets(alert.inner_text().strip()) or None
        except PlaywrightTimeout:
            return None

    def _renew(self) -> Session:
        self.store.clear()
        self._session = None
        self.session_reused = False
        self._session = self.login()
        return self._session

    # -- readers ----------------------------------------------------------------------------

    def read_day(
        self, kind: Direction, start: datetime, end: datetime, reader: Reader = "api"
    ) -> ReadResult:
        """Every `kind` row created in [start, end) (UTC), keyed by `txnId`.

        The dashboard lists newest first, so rows arriving mid-read shift the pages: a row is
        then seen twice (kept once) or, if it arrived behind the read, not yet. When the total
        count moved, the list is read again until every row it counts has been seen.
        """
        date_from, date_to = ist_dates(start, end)
        pages = self._api_pages if reader == "api" else self._dom_pages
        result = ReadResult(rows={})
        for _ in range(MAX_PASSES):
            result.passes += 1
            totals: list[int] = []
            seen: set[str] = set()
            for rows, total in pages(kind, date_from, date_to):
                result.pages += 1
                totals.append(total)
                for row in rows:
                    txn_id = str(row.get("txnId") or "")
                    if txn_id:
                        seen.add(txn_id)
                        result.rows[txn_id] = row  # a later read is the newer version
            final = totals[-1] if totals else 0
            stable = len(set(totals)) <= 1 and len(seen) == final
            if stable or len(result.rows) == final:
                result.complete = True
                break
            result.shifted = True
            log.info("payshack list moved while reading; reading again", kind=kind)
        else:
            log.warning("payshack list kept moving; the next run reads the rest", kind=kind)
        result.rows = {
            txn_id: row for txn_id, row in result.rows.items() if start <= _created(row) < end
        }
        return result

    def _api_pages(
        self, kind: Direction, date_from: date, date_to: date
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        page_no, relogins = 1, 0
        while True:
            try:
                data = self._api_page(kind, page_no, date_from, date_to)
            except _SessionExpired:
                relogins += 1
                if relogins > MAX_RELOGINS:
                    raise PayShackAuthError("PayShack keeps rejecting fresh sessions") from None
                self._renew()
                continue  # the same page again, with the new token
            try:
                rows, total = data["transactions"], int(data["totalRecords"])
                total_pages = int(data.get("totalPages") or 0)
            except (KeyError, TypeError, ValueError):
                raise PayShackError(f"PayShack {kind} page {page_no}: unexpected body") from None
            yield rows, total
            if not rows or page_no >= total_pages:
                return
            page_no += 1

    def _api_page(
        self, kind: Direction, page_no: int, date_from: date, date_to: date
    ) -> dict[str, Any]:
        """One page of a list; 5xx, 429, timeouts and garbage are retried with backoff."""
        for attempt in Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_attempt(MAX_ATTEMPTS),
            wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2),
            reraise=True,
        ):
            with attempt:
                session = self.session()
                try:
                    response = self._context.request.get(  # type: ignore[union-attr]
                        LIST_API[kind],
                        params={
                            "page": page_no,
                            "limit": self.config.page_size,
                            "dateFrom": date_from.isoformat(),
                            "dateTo": date_to.isoformat(),
                        },
                        headers={
                            "Authorization": f"Bearer {session.token}",
                            "reseller-id": session.client_id,
                            "Accept": "application/json",
                        },
                        fail_on_status_code=False,
                    )
                except PlaywrightError as exc:
                    raise _Transient(f"{kind} page {page_no}: {type(exc).__name__}") from None
                if response.status == 401:
                    raise _SessionExpired
                if response.status == 429 or response.status >= 500:
                    raise _Transient(f"{kind} page {page_no}: HTTP {response.status}")
                if not response.ok:
                    raise PayShackError(f"PayShack {kind} page {page_no}: HTTP {response.status}")
                try:
                    return response.json()["data"]
                except (KeyError, TypeError, ValueError, PlaywrightError):
                    raise _Transient(f"{kind} page {page_no}: unparseable body") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _open_view(self, kind: Direction, date_from: date, date_to: date) -> None:
        """Show the view with the day's filters and 100 rows a page; page 1 is then loading
        (read it with `_wait_loaded(1)`)."""
        session = self.session()
        page = self.page
        values = {"token": session.token, "client_id": session.client_id}
        storage = {key: values[name] for key, name in TOKEN_STORAGE_KEYS.items()}
        page.goto(LOGIN_PATH + "?restore=1", wait_until="domcontentloaded")
        page.evaluate(
            "(items) => Object.entries(items).forEach(([k, v]) => sessionStorage.setItem(k, v))",
            storage,
        )
        page.goto(f"{DASHBOARD_PATH}#{kind}", wait_until="domcontentloaded")
        self._start_trace()  # after the session was restored: the trace holds no secret
        self._wait_loaded(1)
        page.fill("#date-from", date_from.isoformat())
        page.fill("#date-to", date_to.isoformat())
        page.select_option("#page-size", str(self.config.page_size))  # reloads with the filters

    def _wait_loaded(self, page_no: int, click_ahead: bool = False) -> dict[str, Any]:
        """Wait until the table shows page `page_no` and read it whole (one round trip).

        With `click_ahead`, the same evaluation then clicks "Next" when the read goes on
        (see `READ_PAGE_JS`); the table's `clicked` says whether it did.
        """
        timeout = self.config.timeout_ms
        arg = {
            "page": page_no,
            "clickAhead": click_ahead,
            "timeoutMs": timeout,
            "reactMs": CLICK_REACT_MS,
        }
        try:
            encoded = self._read_in_place(arg) if click_ahead else None
            if encoded is None:  # opening a view, or the page navigated under the read
                handle = self.page.wait_for_function(
                    READ_PAGE_JS,
                    arg=arg,
                    timeout=timeout + TIMEOUT_MARGIN_MS,  # the page's own deadline comes first
                )
                encoded = handle.json_value()
            table = orjson.loads(encoded)
        except PlaywrightTimeout:
            table = {"state": "timeout"}
        except PlaywrightError:  # the page navigated away mid-read (expired session)
            if "/login" in self.page.url:
                raise _SessionExpired from None
            raise
        if table["state"] == "timeout":
            self._failure_artifacts("table-timeout")
            raise PayShackError(f"dashboard table did not load page {page_no}")
        if table["state"] == "login":
            raise _SessionExpired
        if table["state"] == "error":
            raise _Transient(f"dashboard shows an error on page {page_no}: {self._page_alert()}")
        return table

    def _read_in_place(self, arg: dict[str, Any]) -> str | None:
        """`READ_PAGE_JS` through `page.evaluate`, for the pages a read clicks through: one
        round trip, where `wait_for_function` polls on every animation frame and needs a second
        call for its value, ~5 ms of the renderer a page (issue 14). None when the page
        navigated under it (the session expired): `wait_for_function`, which follows a
        navigation, reads the new document then. The script's own deadline bounds the wait."""
        try:
            return self.page.evaluate(READ_PAGE_JS, arg)  # type: ignore[no-any-return]
        except PlaywrightError as exc:
            if "context was destroyed" in str(exc) or "navigat" in str(exc):
                return None
            raise

    def _dom_pages(
        self, kind: Direction, date_from: date, date_to: date
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """The view's pages, read as a person would: open, page size 100, next, next, ...

        Each page is waited for, read and, when the read goes on, left with a click on "Next"
        in one evaluation (`READ_PAGE_JS`), so the next page loads while this one is parsed.
        When that click cannot be made (the button is covered or hidden) or the dashboard
        ignores it, the next page is reached with Playwright's own click instead, and after an
        ignored click for the rest of the read. A page that shows an error is loaded again
        (previous, then next); an expired session logs in again and pages back to where the
        read was.
        """
        page_no, shown, relogins, faults = 1, 0, 0, 0
        click_ahead = True
        while True:
            target = shown + 1  # the page being waited for, if a wait fails
            try:
                if shown == 0:
                    self._open_view(kind, date_from, date_to)
                    shown = 1
                while shown < page_no:  # forward to the page the read is at
                    target = shown + 1
                    self.page.click("#next-page")
                    if target < page_no:  # the page read is waited for below
                        self._wait_loaded(target)
                    shown = target
                target = page_no
                table = self._wait_loaded(page_no, click_ahead=click_ahead)
            except _SessionExpired:
                relogins += 1
                if relogins > MAX_RELOGINS:
                    raise PayShackAuthError("PayShack keeps rejecting fresh sessions") from None
                self._renew()
                shown = 0
                continue
            except _Transient:
                faults += 1
                if faults > MAX_DOM_FAULTS:
                    raise
                time.sleep(min(2.0, 0.1 * 2**faults))
                shown = self._step_back(target)
                continue
            clicked = table.get("clicked")
            if clicked == "clicked":
                shown = page_no + 1  # the next page is loading
            elif clicked is not None:
                self.dom_click_fallbacks += 1
                click_ahead = click_ahead and clicked != "ignored"
                log.info("payshack next page by playwright's click", kind=kind, reason=clicked)
            rows = rows_from_table(table["headers"], table["rows"])
            yield rows, int(table["total"] or 0)
            if not rows or page_no >= int(table["totalPages"] or 0):
                return
            page_no += 1

    def _step_back(self, failed: int) -> int:
        """After a failed load of page `failed`, show the page before it; returns the page
        shown (0: open the view again)."""
        if failed <= 1:
            return 0  # open the view again
        try:
            self.page.click("#prev-page")
            self._wait_loaded(failed - 1)
            return failed - 1
        except (_Transient, PlaywrightError):
            return 0

    # -- failure artifacts ------------------------------------------------------------------

    def _start_trace(self) -> None:
        """Trace the dashboard reading (screenshots and actions, no network, no DOM snapshots).

        Started only after login and session restore, so no credential or token is in it;
        kept only when the run fails.
        """
        if self._tracing or self.config.artifacts_dir is None or self._context is None:
            return
        self._context.tracing.start(screenshots=True, snapshots=False, sources=False)
        self._tracing = True

    def _stop_trace(self, keep: bool) -> Path | None:
        """Stop tracing; save the trace to the artifacts folder when `keep`, else drop it."""
        if not self._tracing or self._context is None:
            return None
        self._tracing = False
        folder = self.config.artifacts_dir
        try:
            if keep and folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"payshack-trace-{int(time.time() * 1000)}.zip"
                self._context.tracing.stop(path=str(path))
                return path
            self._context.tracing.stop()
        except PlaywrightError:
            pass
        return None

    def _failure_artifacts(self, name: str) -> Path | None:
        """A screenshot of the page with the login fields emptied first; None if disabled."""
        folder = self.config.artifacts_dir
        if folder is None or self._page is None:
            return None
        try:
            self.page.evaluate(
                "() => document.querySelectorAll('input').forEach(i => { i.value = ''; })"
            )
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"payshack-{name}-{int(time.time() * 1000)}.png"
            self.page.screenshot(path=str(path), full_page=True)
            return path
        except PlaywrightError:
            return None


def _created(row: dict[str, Any]) -> datetime:
    value = row.get("createdAt")
    try:
        return parse_row_time(value)  # type: ignore[arg-type]
    except ValueError:
        raise PayShackError(f"row {row.get('txnId')}: unreadable createdAt {value!r}") from None
