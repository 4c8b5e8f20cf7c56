"""Vima collector API client (httpx): one page at a time, or every page of a cursor.

Faults of the provider (429, 5xx, timeouts, connection errors, unparseable bodies) are retried
with exponential backoff and jitter, honouring `Retry-After`, bounded in attempts and total
time; then `VimaAPIError`. The API key never appears in a message: URLs are masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import httpx
import orjson
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from hub_core.logging import get_logger, mask_secrets

OPERATIONS_PATH = "/collector1/api/v1/operation"
MAX_PAGE_SIZE = 100
_READ = httpx.ByteStream(b"")
"""The stream a response keeps once its body is read (see `VimaClient._get_once`)."""
CURSOR_PARAMS: dict[str, str] = {
    "create": "from_operation_create_id",
    "update": "from_operation_update_id",
}
CURSOR_FIELDS: dict[str, str] = {
    "create": "operation_create_id",
    "update": "operation_update_id",
}
Cursor = Literal["create", "update"]

log = get_logger(__name__)


class VimaAPIError(Exception):
    """The Vima API refused a request, or kept failing after every retry."""


class _Retryable(Exception):
    """A fault worth retrying; `retry_after` is the provider's hint in seconds, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds of the retry loop."""

    max_attempts: int = 8
    max_total_seconds: float = 120.0
    initial_wait: float = 0.5
    max_wait: float = 20.0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class VimaClient:
    """Client of `GET /collector1/api/v1/operation` with connection reuse."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        basic_user: str | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self._params: dict[str, str] = {}
        auth: httpx.BasicAuth | None = None
        if basic_user:
            auth = httpx.BasicAuth(basic_user, api_key)  # preferred: no key in any URL
        elif api_key:
            self._params["apikey"] = api_key
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        self._backoff = wait_exponential_jitter(
            multiplier=self.retry.initial_wait,
            max=self.retry.max_wait,
            jitter=self.retry.initial_wait,
        )
        self.requests = 0
        self.retries = 0

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> VimaClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get_operations(
        self,
        project: str | None = None,
        status: str | None = None,
        from_date: date | None = None,
        to_date: date | None = None,
        from_operation_create_id: str | None = None,
        from_operation_update_id: str | None = None,
        count: int = MAX_PAGE_SIZE,
        descending: bool = False,
        day: date | None = None,
    ) -> list[dict[str, Any]]:
        """One page of operations (a bare list; empty when there is no more data)."""
        if not 1 <= count <= MAX_PAGE_SIZE:
            raise ValueError(f"count must be between 1 and {MAX_PAGE_SIZE}, got {count}")
        query: dict[str, str] = {"count": str(count), "descending": str(descending).lower()}
        optional = {
            "project": project,
            "status": status,
            "date": day.isoformat() if day else None,
            "from": from_date.isoformat() if from_date else None,
            "to": to_date.isoformat() if to_date else None,
            "from_operation_create_id": from_operation_create_id,
            "from_operation_update_id": from_operation_update_id,
        }
        query.update({key: str(value) for key, value in optional.items() if value is not None})
        return self._get_with_retries(query)

    def iter_pages(
        self,
        cursor: Cursor,
        start: str | None = None,
        count: int = MAX_PAGE_SIZE,
        **filters: Any,
    ) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """Every page after `start` following the `create` or `update` cursor, ascending.

        Yields `(operations, cursor_after_page)`; stops at the first empty page. Raises
        `VimaAPIError` if the provider's cursor stops advancing (which would loop forever).
        """
        position = start
        while True:
            page = self.get_operations(
                count=count, descending=False, **{CURSOR_PARAMS[cursor]: position}, **filters
            )
            if not page:
                return
            last = page[-1].get(CURSOR_FIELDS[cursor])
            if last is None or (position is not None and int(last) <= int(position)):
                raise VimaAPIError(
                    f"Vima {cursor} cursor did not advance past {position} (page ended at {last})"
                )
            position = str(last)
            yield page, position

    def _get_with_retries(self, query: dict[str, str]) -> list[dict[str, Any]]:
        retrying = Retrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.retry.max_attempts)
            | stop_after_delay(self.retry.max_total_seconds),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=False,
        )
        try:
            return retrying(self._get_once, query)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            attempts = exc.last_attempt.attempt_number
            raise VimaAPIError(
                f"GET {self._describe(query)} failed after {attempts} attempts: {last}"
            ) from None

    def _get_once(self, query: dict[str, str]) -> list[dict[str, Any]]:
        self.requests += 1
        try:
            response = self._http.get(OPERATIONS_PATH, params={**query, **self._params})
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection error ({type(exc).__name__})") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code >= 400:
            message = mask_secrets(response.text[:500].strip()) or response.reason_phrase
            raise VimaAPIError(
                f"GET {self._describe(query)} refused: HTTP {response.status_code}: {message}"
            )
        content = response.content
        # httpx ties a response and its stream in a reference cycle: cut it, so that the page
        # (~100 KB) is freed now rather than at the collector's next pass over that
        # generation, which an ingestion keeps far apart (`few_collections`).
        response.stream = _READ
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise _Retryable(f"unparseable body ({len(content)} bytes)") from None
        if not isinstance(body, list):
            raise _Retryable(f"body is a JSON {type(body).__name__}, not an array")
        return body

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        error = outcome.exception() if outcome else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            return min(error.retry_after, self.retry.max_wait)
        return self._backoff(state)

    def _log_retry(self, state: RetryCallState) -> None:
        self.retries += 1
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "vima request retry",
            attempt=state.attempt_number,
            reason=str(error),
            wait_s=round(state.next_action.sleep, 3) if state.next_action else None,
        )

    def _describe(self, query: dict[str, str]) -> str:
        url = self._http.build_request("GET", OPERATIONS_PATH, params={**query, **self._params}).url
        return mask_secrets(str(url))
