"""Vima's raw landing: operations untouched in `raw_vima_operations`, and read back."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine

from hub_core.tables import raw_vima_operations
from hub_core.types import Source
from hub_pipelines.warehouse.checkpoints import (
    SAVE_CHECKPOINT_SQL,
    Checkpoint,
    checkpoint_params,
)
from hub_pipelines.warehouse.copying import copy_binary
from hub_pipelines.warehouse.raw import raw_payloads
from hub_pipelines.warehouse.rows import (
    UpsertCounts,
    canonical_json,
    content_hash,
    counts_of,
    optional_int,
    optional_time,
)
from hub_pipelines.windows import PartitionWindow

_TABLE = raw_vima_operations.name
_COLUMNS = tuple(c.name for c in raw_vima_operations.columns if c.name != "fetched_at")
"""Every column a landing writes (`fetched_at` takes its default)."""

Encoded = tuple[dict[str, Any], bytes]
"""An operation and its canonical JSON (`canonical_json`): what `payload` stores, encoded once
for the landing and for `transactions.raw_data` (see `land_encoded`)."""


def encode_operations(operations: Iterable[dict[str, Any]]) -> list[Encoded]:
    """Each operation with its canonical JSON, copied to its size: orjson's output keeps the
    buffer it was written in (8 KiB for a 1 KiB operation), a cost only when it is held, as
    these are until the normalizer has written them."""
    return [(op, bytes(memoryview(canonical_json(op)))) for op in operations]


RAW_VIMA_UPSERT = """
INSERT INTO raw_vima_operations AS raw (
    operation_id, operation_create_id, operation_update_id, project, created_at, modified_at,
    partition_key, payload, data_hash
)
SELECT id, create_id, update_id, project, created, modified, %(partition_key)s, payload, hash
FROM unnest(%(ids)s::text[], %(create_ids)s::numeric[], %(update_ids)s::numeric[],
            %(projects)s::text[], %(created)s::timestamptz[], %(modified)s::timestamptz[],
            %(hashes)s::text[])
     WITH ORDINALITY AS page(id, create_id, update_id, project, created, modified, hash, n)
JOIN jsonb_array_elements(%(payloads)s::jsonb) WITH ORDINALITY AS body(payload, n) USING (n)
ON CONFLICT (operation_id) DO UPDATE SET
    operation_create_id = excluded.operation_create_id,
    operation_update_id = excluded.operation_update_id,
    project = excluded.project,
    created_at = excluded.created_at,
    modified_at = excluded.modified_at,
    partition_key = coalesce(raw.partition_key, excluded.partition_key),
    payload = excluded.payload,
    data_hash = excluded.data_hash,
    fetched_at = now()
WHERE raw.data_hash IS DISTINCT FROM excluded.data_hash
  AND (raw.operation_update_id IS NULL OR excluded.operation_update_id IS NULL
       OR excluded.operation_update_id >= raw.operation_update_id)
RETURNING (xmax = 0)
"""


def upsert_raw_vima(
    conn: Connection,
    operations: Sequence[dict[str, Any]],
    partition_key: str | None = None,
    checkpoint: tuple[str, Checkpoint] | None = None,
) -> UpsertCounts:
    """Land Vima operations untouched in `raw_vima_operations`.

    Operations not stored yet (one scan of the primary key for the page's ids) are COPYed in;
    stored ones go through one upsert statement, their columns as arrays (`unnest`) and
    payloads as one JSON array, prepared once and reused. A row is replaced only by a version
    with a different payload that is not older (by `operation_update_id`), so a replayed page
    never regresses newer data. One run writes a source at a time (see
    `upsert_transactions`). Operations without an id cannot be keyed and are skipped by the
    caller. `checkpoint` (stream, checkpoint), when given, is saved by the same statement
    that looks the page's ids up: one round trip less per page.
    """
    return land_encoded(conn, encode_operations(operations), partition_key, checkpoint)


def land_encoded(
    conn: Connection,
    encoded: Sequence[Encoded],
    partition_key: str | None = None,
    checkpoint: tuple[str, Checkpoint] | None = None,
) -> UpsertCounts:
    """`upsert_raw_vima` of operations already encoded (`encode_operations`), so that the
    caller can hand the same bytes on (the Vima run's normalizer stores them as `raw_data`)."""
    latest = {str(pair[0]["operation_id"]): pair for pair in encoded}  # repeated id: last wins
    lookup = f"SELECT operation_id FROM {_TABLE} WHERE operation_id = ANY(%(ids)s)"
    params: dict[str, Any] = {"ids": list(latest)}
    if checkpoint is not None:
        stream, position = checkpoint
        key = partition_key or ""
        params.update(checkpoint_params(Source.VIMA, stream, key, position))
        lookup = f"WITH saved AS ({SAVE_CHECKPOINT_SQL}) {lookup}"
    elif not latest:
        return UpsertCounts()
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor:
        cursor.execute(lookup, params)
        stored = {row[0] for row in cursor}
    fresh = [op_id for op_id in latest if op_id not in stored]
    if fresh:
        rows = (_raw_vima_fields(op_id, *latest[op_id]) for op_id in fresh)
        with driver.cursor() as cursor:
            copy_binary(
                cursor,
                raw_vima_operations,
                _COLUMNS,
                ((*keys, partition_key, canonical, digest) for *keys, canonical, digest in rows),
            )
    known = {op_id: latest[op_id] for op_id in latest if op_id in stored}
    counts = _upsert_known_raw_vima(conn, known, partition_key) if known else UpsertCounts()
    return UpsertCounts(
        new=counts.new + len(fresh), updated=counts.updated, unchanged=counts.unchanged
    )


def _raw_vima_fields(op_id: str, op: dict[str, Any], canonical: bytes) -> tuple[Any, ...]:
    """A raw row's columns from id to modified time, its canonical payload and its hash."""
    return (
        op_id,
        optional_int(op.get("operation_create_id")),
        optional_int(op.get("operation_update_id")),
        _text(op.get("project")),
        optional_time(op.get("operation_created_at")),
        optional_time(op.get("operation_modified_at")),
        canonical,
        content_hash(canonical),
    )


def _upsert_known_raw_vima(
    conn: Connection, latest: dict[str, Encoded], partition_key: str | None
) -> UpsertCounts:
    names = (
        "ids", "create_ids", "update_ids", "projects", "created", "modified", "payloads", "hashes",
    )  # fmt: skip
    rows = [_raw_vima_fields(op_id, *pair) for op_id, pair in latest.items()]
    transposed = zip(*rows, strict=True)  # one tuple per column
    columns = {name: list(values) for name, values in zip(names, transposed, strict=True)}
    payloads = b"[" + b",".join(columns.pop("payloads")) + b"]"
    with conn.connection.driver_connection.cursor() as cursor:
        params = {**columns, "payloads": payloads.decode(), "partition_key": partition_key}
        cursor.execute(RAW_VIMA_UPSERT, params)
        returned = cursor.fetchall()
    return counts_of(returned, len(latest))


def raw_operations(engine: Engine, window: PartitionWindow) -> Iterator[dict[str, Any]]:
    """The partition's landed operations (see `raw_payloads`), in id order."""
    for (payload,) in raw_payloads(engine, raw_vima_operations, window):
        yield payload


def _text(value: Any) -> str | None:
    """A raw value for a text column: any value as its text (a provider may send a number)."""
    return value if value is None or isinstance(value, str) else str(value)
