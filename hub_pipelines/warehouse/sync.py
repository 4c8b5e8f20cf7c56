"""Sync state of each source for the API (`sync_state`), the record of each partition's
successful syncs (`partition_syncs`), and `tracked_sync`, which keeps both around a run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text, update
from sqlalchemy.engine import Connection

from hub_core.db import upsert
from hub_core.logging import describe_error
from hub_core.tables import partition_syncs, sync_state
from hub_core.timeutil import utc_now
from hub_core.types import Source, SyncStatus
from hub_pipelines.warehouse.locks import partition_lock, partition_lock_key


def set_sync_state(
    conn: Connection,
    source: Source,
    status: SyncStatus,
    *,
    run_id: str | None = None,
    partition_key: str | None = None,
    last_cursor: dict[str, Any] | None = None,
    records: int | None = None,
    error: str | None = None,
) -> None:
    """Record a source's sync status for the API (start, success or failure), from the run
    itself (`tracked_sync`). The error text is masked: no API key, password or token reaches
    the table."""
    now = utc_now()
    values: dict[str, Any] = {
        "source": source.value,
        "status": status.value,
        "run_id": run_id,
        "partition_key": partition_key,
        "last_sync_at": now,
        "updated_at": now,
        "error_message": describe_error(error) if error else None,
    }
    if last_cursor is not None:
        values["last_cursor"] = last_cursor
    if status is SyncStatus.IDLE:
        values["last_successful_sync"] = now
    if records is not None:
        values["records_synced"] = records
    upsert(conn, sync_state, values, ("source",))


def fail_dead_sync(
    engine: Engine, source: Source, run_id: str, partition_key: str, reason: str
) -> bool:
    """Mark `source` failed with `reason` when `sync_state` still says `run_id` is syncing
    `partition_key` but no session holds that partition's lock: the run died (e.g. killed)
    without recording its outcome. A live run holds the lock (`tracked_sync`), so it is never
    marked; returns whether the state was changed."""
    key = partition_lock_key(source, partition_key)
    with engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.rollback()
            return False
        try:  # under the lock: a run that ended meanwhile has recorded its outcome already
            changed = conn.execute(
                update(sync_state)
                .where(
                    sync_state.c.source == source.value,
                    sync_state.c.status == SyncStatus.RUNNING.value,
                    sync_state.c.run_id == run_id,
                )
                .values(
                    status=SyncStatus.FAILED.value,
                    error_message=describe_error(reason),
                    updated_at=utc_now(),
                )
            ).rowcount
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
    return changed > 0


def record_partition_sync(
    conn: Connection,
    source: Source,
    partition_key: str,
    as_of: datetime,
    complete: bool,
    rows: int,
    run_id: str | None = None,
) -> None:
    """Record a successful sync of a partition (`partition_syncs`): its data as of `as_of`."""
    values = {
        "source": source.value,
        "partition_key": partition_key,
        "synced_at": as_of,
        "complete": complete,
        "rows": rows,
        "run_id": run_id,
    }
    upsert(conn, partition_syncs, values, ("source", "partition_key"))


@dataclass(slots=True)
class SyncOutcome:
    """What the run reports on success."""

    records: int = 0
    cursors: dict[str, str | None] = field(default_factory=dict)
    complete: bool = True
    """Whether the run read the partition whole (PayShack may stop short while rows move)."""


@contextmanager
def tracked_sync(
    engine: Engine, source: Source, run_id: str, partition_key: str
) -> Iterator[SyncOutcome]:
    """Mark `source` running, then idle with the outcome, or failed with the (masked) error.

    The partition's advisory lock is held throughout (`partition_lock`): a second run of the
    same partition waits for this one. On success the partition's sync is recorded too
    (`partition_syncs`), as of the run's start, for the API to tell whether a day's
    reconciliation can be trusted.
    """
    with (
        partition_lock(engine, source, partition_key),
        _tracked(engine, source, run_id, partition_key) as outcome,
    ):
        yield outcome


@contextmanager
def _tracked(
    engine: Engine, source: Source, run_id: str, partition_key: str
) -> Iterator[SyncOutcome]:
    started = utc_now()
    with engine.begin() as conn:
        set_sync_state(conn, source, SyncStatus.RUNNING, run_id=run_id, partition_key=partition_key)
    outcome = SyncOutcome()
    try:
        yield outcome
    except BaseException as exc:
        with engine.begin() as conn:
            set_sync_state(
                conn,
                source,
                SyncStatus.FAILED,
                run_id=run_id,
                partition_key=partition_key,
                error=describe_error(exc),
            )
        raise
    with engine.begin() as conn:
        set_sync_state(
            conn,
            source,
            SyncStatus.IDLE,
            run_id=run_id,
            partition_key=partition_key,
            last_cursor=outcome.cursors,
            records=outcome.records,
        )
        record_partition_sync(
            conn, source, partition_key, started, outcome.complete, outcome.records, run_id
        )
