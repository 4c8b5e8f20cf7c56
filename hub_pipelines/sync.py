"""`sync_state` bookkeeping around an ingestion run: running, then idle or failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine

from hub_core.logging import describe_error
from hub_core.timeutil import utc_now
from hub_core.types import Source, SyncStatus
from hub_pipelines.warehouse import partition_lock, record_partition_sync, set_sync_state


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
