"""The `transactions` upsert every source's normalizer writes through."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import Connection, text

from hub_core.db import ensure_month_partitions
from hub_core.tables import transactions
from hub_core.timeutil import utc_now
from hub_core.types import TRANSACTION_FIELDS, Transaction
from hub_pipelines.warehouse.copying import copy_binary
from hub_pipelines.warehouse.rows import UpsertCounts

_TABLE = transactions.name
_STAGE = "_stage_transactions"
COPY_COLUMNS = (*TRANSACTION_FIELDS, "ingested_at")
"""The columns a COPY into `transactions` writes, in `copy_row`'s order."""
_KEY = ("source", "source_id", "created_at")  # the table's unique key
_UPDATABLE = [c for c in TRANSACTION_FIELDS if c not in ("id", *_KEY)]
_RAW_DATA = TRANSACTION_FIELDS.index("raw_data")
_fields = operator.attrgetter(*TRANSACTION_FIELDS)


def copy_row(txn: Transaction, now: datetime) -> tuple[Any, ...]:
    """A transaction as a row of `COPY_COLUMNS` for `copy_transactions`, ingested at `now`:
    the id as text, the raw payload as encoded JSON (bytes)."""
    row = list(_fields(txn))
    row[_RAW_DATA] = orjson.dumps(row[_RAW_DATA], default=str)
    row.append(now)
    return tuple(row)


def copy_transactions(
    cursor: psycopg.Cursor[Any], table: str, txns: Iterable[Transaction], now: datetime
) -> None:
    """COPY `txns` into `table` (`transactions` or a table like it), in binary."""
    rows = (copy_row(txn, now) for txn in txns)
    copy_binary(cursor, transactions, COPY_COLUMNS, rows, into=table)


# The stored keys among a batch's ids: one scan of the unique index for the whole id list.
_EXISTING = text(
    f"SELECT source_id, created_at FROM {_TABLE} "
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
        _copy_into(conn, _TABLE, fresh, now)
    updated = _update_changed(conn, existing, now) if existing else 0
    return UpsertCounts(new=len(fresh), updated=updated, unchanged=len(existing) - updated)


_txn_key = operator.attrgetter(*_KEY)
"""The unique key of a transaction row (the `_KEY` columns), as a tuple."""


def _copy_into(conn: Connection, table: str, txns: list[Transaction], now: datetime) -> None:
    with conn.connection.driver_connection.cursor() as cursor:
        copy_transactions(cursor, table, txns, now)


def _update_changed(conn: Connection, txns: list[Transaction], now: datetime) -> int:
    """Rewrite the known rows whose `data_hash` changed, unless the stored version is newer (by
    `updated_at`: a replayed older version never regresses a row); how many were."""
    conn.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} "
            f"(LIKE {_TABLE} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    conn.execute(text(f"TRUNCATE {_STAGE}"))
    _copy_into(conn, _STAGE, txns, now)
    columns = ", ".join(COPY_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _UPDATABLE)
    return conn.execute(
        text(
            f"WITH written AS (INSERT INTO {_TABLE} ({columns}) "
            f"SELECT {columns} FROM {_STAGE} "
            f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}, "
            f"ingested_at = excluded.ingested_at "
            f"WHERE {_TABLE}.data_hash IS DISTINCT FROM excluded.data_hash "
            f"AND ({_TABLE}.updated_at IS NULL OR excluded.updated_at IS NULL "
            f"OR excluded.updated_at >= {_TABLE}.updated_at) "
            f"RETURNING 1) SELECT count(*) FROM written"
        )
    ).scalar_one()
