"""Launching Dagster work from the API: one launch at a time per piece of work, 409 when it
is already queued or running, 503 when Dagster cannot be reached."""

from __future__ import annotations

import contextlib

import redis

from hub_api.dagster_client import DagsterClient, DagsterRejected, DagsterUnavailable
from hub_api.errors import APIError
from hub_core.logging import get_logger

log = get_logger(__name__)

TRIGGER_TAGS = {"hub/trigger": "api"}
LOCK_SECONDS = 15


def launch_exclusive(
    dagster: DagsterClient,
    client: redis.Redis,
    job_name: str,
    partition_key: str,
    *,
    busy_tags: dict[str, str],
    what: str,
) -> str:
    """Launch `job_name` for `partition_key` unless a run with `busy_tags` (of that job) is
    queued or running; returns the run id.

    A short Redis lock keeps two simultaneous requests from both seeing no run and both
    launching; without Redis the check alone stands. Raises `APIError` 409, 502 or 503.
    """
    tags = ",".join(f"{k}={v}" for k, v in sorted(busy_tags.items()))
    lock_name = f"hub:launch:{job_name}:{tags}"
    try:
        lock = client.lock(lock_name, timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS)
        locked = lock.acquire()
    except redis.RedisError as exc:
        log.warning("launch lock unavailable, checking Dagster only", error=type(exc).__name__)
        lock, locked = None, False
    try:
        return _launch(dagster, job_name, partition_key, busy_tags, what)
    finally:
        if lock is not None and locked:
            with contextlib.suppress(redis.RedisError):  # it expires by itself
                lock.release()


def _launch(
    dagster: DagsterClient, job_name: str, partition_key: str, busy_tags: dict[str, str], what: str
) -> str:
    try:
        active = dagster.active_runs(busy_tags, job_name)
        if active:
            raise APIError(
                409,
                f"{what} is already {active[0]['status'].lower()} in Dagster",
                {"run_ids": [run["runId"] for run in active]},
            )
        return dagster.launch(job_name, partition_key, TRIGGER_TAGS)
    except DagsterUnavailable as exc:
        raise APIError(503, f"Dagster cannot be reached ({exc})") from None
    except DagsterRejected as exc:
        raise APIError(502, str(exc)) from None
