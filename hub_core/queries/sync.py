"""Each source's sync state as `sync_state` holds it (a source never synced reads idle)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from hub_core.tables import partition_syncs, sync_state
from hub_core.types import Source, SyncStatus

_NEVER: dict[str, Any] = {
    "status": SyncStatus.IDLE.value,
    "run_id": None,
    "partition_key": None,
    "last_sync_at": None,
    "last_successful_sync": None,
    "last_cursor": None,
    "records_synced": 0,
    "error_message": None,
}


def sync_states(conn: Connection) -> dict[Source, dict[str, Any]]:
    """The stored state of every source, in `Source` order."""
    rows = {row["source"]: dict(row) for row in conn.execute(select(sync_state)).mappings()}
    return {source: {**_NEVER, **rows.get(source.value, {})} for source in Source}


def incomplete_partitions(conn: Connection) -> dict[Source, dict[str, str | None]]:
    """Per source, the partitions whose last successful sync did not read the day whole
    (`partition_syncs.complete` false), oldest first, with that sync's run id; the next sync of
    each finishes it."""
    rows = conn.execute(
        select(partition_syncs.c.source, partition_syncs.c.partition_key, partition_syncs.c.run_id)
        .where(partition_syncs.c.complete.is_(False))
        .order_by(partition_syncs.c.source, partition_syncs.c.partition_key)
    )
    found: dict[Source, dict[str, str | None]] = {source: {} for source in Source}
    for source, key, run_id in rows:
        found[Source(source)][key] = run_id
    return found
