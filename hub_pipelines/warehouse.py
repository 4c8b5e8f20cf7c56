"""Writes to the hub tables: raw upserts, transaction upserts, checkpoints, sync state.

Every write is idempotent: upserts only touch a row whose content hash changed, so re-running
a partition over unchanged data writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError

from hub_core.cache import DATA_VERSION_KEY
from hub_core.db import ensure_month_partitions, upsert
from hub_core.logging import describe_error, get_logger
from hub_core.tables import (
    ingest_checkpoints,
    missed_cache_bumps,
    partition_syncs,
    raw_payshack_transactions,
    reconciliation_runs,
    sync_state,
)
from hub_core.timeutil import parse_utc, utc_now
from hub_core.types import TRANSACTION_FIELDS, Source, SyncStatus, Transaction
from hub_pipelines.sources.payshack.normalize import parse_row_time

log = get_logger(__name__)


@dataclass(slots=True)
class UpsertCounts:
    """How many rows an upsert inserted, changed, or left as they were."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        """Accumulate `other` into this count."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged

    @property
    def written(self) -> int:
        """Rows inserted or changed."""
        return self.new + self.updated


def canonical_json(payload: Any) -> bytes:
    """A provider payload as JSON with sorted keys: the same content gives the same bytes."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)


def content_hash(canonical: bytes) -> str:
    """Hash of canonical JSON bytes (see `canonical_json`)."""
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def payload_hash(payload: Any) -> str:
    """Stable content hash of a provider payload (key order does not matter)."""
    return content_hash(canonical_json(payload))


def _counts(rows: Sequence[Any], total: int) -> UpsertCounts:
    new = sum(1 for row in rows if row[0])
    return UpsertCounts(new=new, updated=len(rows) - new, unchanged=total - len(rows))


def optional_time(value: Any) -> datetime | None:
    """A provider timestamp as UTC, or None when it is missing or unreadable."""
    try:
        return parse_utc(value) if value else None
    except ValueError:
        return None  # kept raw; the normalizer reports the bad field


def _optional_row_time(value: Any) -> datetime | None:
    try:
        return parse_row_time(value) if value else None
    except ValueError:
        return None  # kept raw; the normalizer reports the bad field


def _optional_int(value: Any) -> int | None:
    text_value = str(value).strip() if value is not None else ""
    return int(text_value) if text_value.isdigit() else None


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


_RAW_VIMA_COLUMNS = (
    "operation_id, operation_create_id, operation_update_id, project, created_at, modified_at, "
    "partition_key, payload, data_hash"
)


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
    latest = {str(op["operation_id"]): op for op in operations}  # a repeated id: the last wins
    lookup = "SELECT operation_id FROM raw_vima_operations WHERE operation_id = ANY(%(ids)s)"
    params: dict[str, Any] = {"ids": list(latest)}
    if checkpoint is not None:
        stream, position = checkpoint
        key = partition_key or ""
        params.update(_checkpoint_params(Source.VIMA, stream, key, position))
        lookup = f"WITH saved AS ({_SAVE_CHECKPOINT}) {lookup}"
    elif not latest:
        return UpsertCounts()
    driver = conn.connection.driver_connection
    with driver.cursor() as cursor:
        cursor.execute(lookup, params)
        stored = {row[0] for row in cursor}
    fresh = [op_id for op_id in latest if op_id not in stored]
    if fresh:
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY raw_vima_operations ({_RAW_VIMA_COLUMNS}) FROM STDIN") as copy,
        ):
            for op_id in fresh:
                *keys, canonical, digest = _raw_vima_fields(op_id, latest[op_id])
                copy.write_row((*keys, partition_key, canonical.decode(), digest))
    known = {op_id: latest[op_id] for op_id in latest if op_id in stored}
    counts = _upsert_known_raw_vima(conn, known, partition_key) if known else UpsertCounts()
    return UpsertCounts(
        new=counts.new + len(fresh), updated=counts.updated, unchanged=counts.unchanged
    )


def _raw_vima_fields(op_id: str, op: dict[str, Any]) -> tuple[Any, ...]:
    """A raw row's columns from id to modified time, its canonical payload and its hash."""
    canonical = canonical_json(op)
    return (
        op_id,
        _optional_int(op.get("operation_create_id")),
        _optional_int(op.get("operation_update_id")),
        op.get("project"),
        optional_time(op.get("operation_created_at")),
        optional_time(op.get("operation_modified_at")),
        canonical,
        content_hash(canonical),
    )


def _upsert_known_raw_vima(
    conn: Connection, latest: dict[str, dict[str, Any]], partition_key: str | None
) -> UpsertCounts:
    names = (
        "ids", "create_ids", "update_ids", "projects", "created", "modified", "payloads", "hashes",
    )  # fmt: skip
    rows = [_raw_vima_fields(op_id, op) for op_id, op in latest.items()]
    transposed = zip(*rows, strict=True)  # one tuple per column
    columns = {name: list(values) for name, values in zip(names, transposed, strict=True)}
    payloads = b"[" + b",".join(columns.pop("payloads")) + b"]"
    with conn.connection.driver_connection.cursor() as cursor:
        params = {**columns, "payloads": payloads.decode(), "partition_key": partition_key}
        cursor.execute(RAW_VIMA_UPSERT, params)
        returned = cursor.fetchall()
    return _counts(returned, len(latest))


def upsert_raw_payshack(
    conn: Connection, kind: str, rows_in: Sequence[dict[str, Any]], partition_key: str | None = None
) -> UpsertCounts:
    """Land PayShack rows untouched in `raw_payshack_transactions` keyed by (kind, txnId)."""
    if not rows_in:
        return UpsertCounts()
    rows = {}
    for row in rows_in:
        rows[str(row["txnId"])] = {
            "kind": kind,
            "txn_id": str(row["txnId"]),
            "order_id": row.get("orderId"),
            "client_name": row.get("clientName"),
            "created_at": _optional_row_time(row.get("createdAt")),
            "modified_at": _optional_row_time(row.get("modifiedAt")),
            "partition_key": partition_key,
            "payload": row,
            "data_hash": payload_hash(row),
        }
    table = raw_payshack_transactions
    stmt = insert(table).values(list(rows.values()))
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.kind, table.c.txn_id],
        set_={
            "order_id": excluded.order_id,
            "client_name": excluded.client_name,
            "created_at": excluded.created_at,
            "modified_at": excluded.modified_at,
            "payload": excluded.payload,
            "data_hash": excluded.data_hash,
            "fetched_at": text("now()"),
        },
        where=table.c.data_hash.is_distinct_from(excluded.data_hash),
    ).returning(literal_column("(xmax = 0)"))
    return _counts(conn.execute(stmt).all(), len(rows))


# -- transactions -------------------------------------------------------------------------------

_STAGE = "_stage_transactions"
_COLUMNS = (*TRANSACTION_FIELDS, "ingested_at")
_UPDATABLE = [c for c in TRANSACTION_FIELDS if c not in ("id", "source", "source_id", "created_at")]


def _stage_row(txn: Transaction, now: datetime) -> tuple[Any, ...]:
    row = [getattr(txn, name) for name in TRANSACTION_FIELDS]
    row[TRANSACTION_FIELDS.index("raw_data")] = orjson.dumps(txn.raw_data, default=str).decode()
    row.append(now)
    return tuple(row)


_KEY = "source, source_id, created_at"

# The stored keys among a batch's ids: one scan of the unique index for the whole id list.
_EXISTING = text(
    "SELECT source_id, created_at FROM transactions "
    "WHERE source = :source AND source_id = ANY(CAST(:ids AS text[]))"
)


def upsert_transactions(conn: Connection, txns: Iterable[Transaction]) -> UpsertCounts:
    """Upsert normalized transactions: new ones by COPY straight into the table, known ones
    through a COPY-fed stage and one `INSERT ... ON CONFLICT` that writes only changed rows.

    Monthly partitions for the rows' months are created first. Unchanged rows (same
    `data_hash`) are not written. Rows are told new or known by their key just before the
    COPY; sources are written by one run at a time, so no other writer adds a key between
    (if one did, the COPY would fail on the unique key and the batch would roll back whole).
    """
    # A later record of the same transaction wins (a page of the update stream may carry an
    # operation the create stream brought earlier in the same batch).
    batch = list({_txn_key(t): t for t in txns}.values())
    if not batch:
        return UpsertCounts()
    created = [txn.created_at for txn in batch]
    ensure_month_partitions(conn, min(created).date(), max(created).date())
    stored: set[tuple[Any, ...]] = set()
    for source in {t.source for t in batch}:
        ids = [t.source_id for t in batch if t.source is source]
        rows = conn.execute(_EXISTING, {"source": source.value, "ids": ids})
        stored.update((source, source_id, created_at) for source_id, created_at in rows)
    fresh: list[Transaction] = []
    existing: list[Transaction] = []
    for txn in batch:
        (existing if _txn_key(txn) in stored else fresh).append(txn)
    now = utc_now()
    if fresh:
        _copy_into(conn, "transactions", fresh, now)
    updated = _update_changed(conn, existing, now) if existing else 0
    return UpsertCounts(new=len(fresh), updated=updated, unchanged=len(existing) - updated)


def _txn_key(txn: Transaction) -> tuple[Any, ...]:
    """The unique key of a transaction row (the `_KEY` columns)."""
    return (txn.source, txn.source_id, txn.created_at)


def _copy_into(conn: Connection, table: str, txns: list[Transaction], now: datetime) -> None:
    with (
        conn.connection.driver_connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
    ):
        for txn in txns:
            copy.write_row(_stage_row(txn, now))


def _update_changed(conn: Connection, txns: list[Transaction], now: datetime) -> int:
    """Rewrite the known rows whose `data_hash` changed; how many were."""
    conn.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
            f"(LIKE transactions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    conn.execute(text(f"TRUNCATE {_STAGE}"))
    _copy_into(conn, _STAGE, txns, now)
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _UPDATABLE)
    return conn.execute(
        text(
            f"WITH written AS (INSERT INTO transactions ({columns}) "
            f"SELECT {columns} FROM {_STAGE} "
            f"ON CONFLICT ({_KEY}) DO UPDATE SET {updates}, ingested_at = excluded.ingested_at "
            f"WHERE transactions.data_hash IS DISTINCT FROM excluded.data_hash "
            f"RETURNING 1) SELECT count(*) FROM written"
        )
    ).scalar_one()


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most `size` items, in order."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextmanager
def landing_connection(engine: Engine) -> Iterator[Connection]:
    """One connection for a run's page transactions, whose COMMITs do not wait for the WAL
    to reach the disk (`synchronous_commit = off` for this session only).

    For transactions that carry their own checkpoint: a crash can lose the last ~0.6 s of
    commits (3 x `wal_writer_delay`), each whole (rows and checkpoint together), never half
    of one, so a resumed run fetches those pages again: no gap, no duplicate. The next
    ordinary commit (the run's sync state) makes every earlier one durable. Saves a disk flush
    per page, and the pool's checkout (with its ping) per page.
    """
    with engine.connect() as conn:
        conn.exec_driver_sql("SET synchronous_commit = off")
        conn.commit()
        try:
            yield conn
        finally:
            _reset_session(conn)


def _reset_session(conn: Connection) -> None:
    """Return the connection to the pool as it came out, or make the pool drop it."""
    if conn.invalidated:
        return
    try:
        conn.rollback()
        conn.exec_driver_sql("RESET synchronous_commit")
        conn.commit()
    except DBAPIError:  # a broken connection: never reused
        conn.invalidate()


# -- checkpoints and sync state -----------------------------------------------------------------


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
    t = ingest_checkpoints
    row = conn.execute(
        select(t.c.cursor, t.c.page, t.c.rows, t.c.completed).where(
            t.c.source == source.value, t.c.stream == stream, t.c.partition_key == partition_key
        )
    ).first()
    return Checkpoint(*row) if row else None


_SAVE_CHECKPOINT = (
    "INSERT INTO ingest_checkpoints "
    "(source, stream, partition_key, cursor, page, rows, completed, updated_at) "
    "VALUES (%(source)s, %(stream)s, %(partition_key)s, %(cursor)s, %(page)s, %(rows)s, "
    "%(completed)s, now()) "
    "ON CONFLICT (source, stream, partition_key) DO UPDATE SET cursor = excluded.cursor, "
    "page = excluded.page, rows = excluded.rows, completed = excluded.completed, "
    "updated_at = excluded.updated_at"
)


def _checkpoint_params(
    source: Source, stream: str, partition_key: str, checkpoint: Checkpoint
) -> dict[str, Any]:
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
    conn: Connection,
    source: Source,
    stream: str,
    partition_key: str,
    checkpoint: Checkpoint,
) -> None:
    """Store the checkpoint, in the caller's transaction (the same as the rows it covers)."""
    with conn.connection.driver_connection.cursor() as cursor:
        cursor.execute(
            _SAVE_CHECKPOINT, _checkpoint_params(source, stream, partition_key, checkpoint)
        )


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
    unless_newer_than: datetime | None = None,
) -> None:
    """Record a source's sync status for the API (start, success or failure).

    The error text is masked: no API key, password or token reaches the table. With
    `unless_newer_than` (a run's creation time), a state another run recorded after that time
    is left alone: a late failure report never hides a newer run (e.g. its retry).
    """
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
    only_if_not_newer = (
        None
        if unless_newer_than is None
        else (sync_state.c.run_id == run_id)
        | sync_state.c.run_id.is_(None)
        | (sync_state.c.last_sync_at < unless_newer_than)
    )
    upsert(conn, sync_state, values, ("source",), only_if_not_newer)


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


class PartitionBusy(RuntimeError):
    """Another run holds the partition of this source for longer than this run may wait."""


PARTITION_LOCK_WAIT_SECONDS = 900
"""How long a run waits for another run of the same source and partition to finish."""


def partition_lock_key(source: Source, partition_key: str) -> int:
    """The 64-bit advisory-lock key of one source's partition."""
    digest = hashlib.blake2b(f"hub:{source.value}:{partition_key}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


@contextmanager
def partition_lock(
    engine: Engine,
    source: Source,
    partition_key: str,
    wait_seconds: float = PARTITION_LOCK_WAIT_SECONDS,
) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock on (source, partition) for the block: two runs of the
    same partition (from the CLI, another instance) never write it at once. A second run waits
    for the first, then goes on (it finds the rows landed); past `wait_seconds` it stops with
    `PartitionBusy`. The lock goes with the session, so a killed run releases it."""
    key = partition_lock_key(source, partition_key)
    with engine.connect() as conn:
        conn.execute(
            text("SELECT set_config('lock_timeout', :t, false)"),
            {"t": f"{int(wait_seconds * 1000)}ms"},
        )
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        if not got:
            log.warning(
                "waiting for another run of the same partition",
                source=source.value,
                partition=partition_key,
            )
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
            except DBAPIError:
                raise PartitionBusy(
                    f"another {source.value} run has held partition {partition_key} for over "
                    f"{int(wait_seconds)} s; this run stops without writing"
                ) from None
        conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(DBAPIError):
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.execute(text("SELECT set_config('lock_timeout', '0', false)"))
                conn.commit()


def has_missed_bump(engine: Engine) -> bool:
    """Whether a data-version bump could not reach Redis since the last one that did."""
    with engine.connect() as conn:
        return conn.execute(select(missed_cache_bumps.c.key).limit(1)).first() is not None


def record_missed_bump(engine: Engine) -> None:
    """Remember that a data-version bump did not reach Redis."""
    stmt = insert(missed_cache_bumps).values(key=DATA_VERSION_KEY, since=utc_now())
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))


def clear_missed_bump(engine: Engine) -> None:
    """Forget missed bumps: Redis has just taken one."""
    with engine.begin() as conn:
        conn.execute(missed_cache_bumps.delete())


def record_reconciliation_run(
    conn: Connection, day: date, run_id: str, total: int, missing: list[dict[str, str]]
) -> None:
    """Store the day's last reconciliation: provisional when `missing` names inputs
    (`hub_core.queries.reconciliation.missing_inputs`) it ran without."""
    values = {
        "recon_date": day,
        "run_id": run_id,
        "run_at": utc_now(),
        "total": total,
        "provisional": bool(missing),
        "reasons": missing,
    }
    upsert(conn, reconciliation_runs, values, ("recon_date",))
