"""Ingestion checkpoints: where a stream of a source's partition got to, committed in the same
transaction as the rows it covers (`ingest_checkpoints`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from hub_core.tables import ingest_checkpoints
from hub_core.types import Source

_TABLE = ingest_checkpoints
_KEY = ("source", "stream", "partition_key")
_VALUES = ("cursor", "page", "rows", "completed")

SAVE_CHECKPOINT_SQL = (
    f"INSERT INTO {_TABLE.name} ({', '.join((*_KEY, *_VALUES))}, updated_at) "
    f"VALUES ({', '.join(f'%({c})s' for c in (*_KEY, *_VALUES))}, now()) "
    f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in (*_VALUES, "updated_at"))
)
"""The checkpoint upsert as one driver-level statement (`checkpoint_params` binds it), so a
caller can chain it into a statement of its own (a CTE) and save a round trip per page."""


@dataclass(slots=True)
class Checkpoint:
    """Where a stream of a partition got to."""

    cursor: str | None
    page: int
    rows: int
    completed: bool


def load_checkpoint(
    conn: Connection, source: Source, stream: str, partition_key: str
) -> Checkpoint | None:
    """The stored checkpoint of (source, stream, partition), if any."""
    c = _TABLE.c
    row = conn.execute(
        select(*(c[name] for name in _VALUES)).where(
            c.source == source.value, c.stream == stream, c.partition_key == partition_key
        )
    ).first()
    return Checkpoint(*row) if row else None


def checkpoint_params(
    source: Source, stream: str, partition_key: str, checkpoint: Checkpoint
) -> dict[str, Any]:
    """The bound values of `SAVE_CHECKPOINT_SQL`."""
    return {
        "source": source.value,
        "stream": stream,
        "partition_key": partition_key,
        "cursor": checkpoint.cursor,
        "page": checkpoint.page,
        "rows": checkpoint.rows,
        "completed": checkpoint.completed,
    }


def save_checkpoint(
    conn: Connection, source: Source, stream: str, partition_key: str, checkpoint: Checkpoint
) -> None:
    """Store the checkpoint, in the caller's transaction (the same as the rows it covers)."""
    with conn.connection.driver_connection.cursor() as cursor:
        cursor.execute(
            SAVE_CHECKPOINT_SQL, checkpoint_params(source, stream, partition_key, checkpoint)
        )
