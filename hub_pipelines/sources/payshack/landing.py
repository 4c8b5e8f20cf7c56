"""PayShack's raw landing: dashboard rows untouched in `raw_payshack_transactions` keyed by
(kind, txnId), and read back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, literal_column, text
from sqlalchemy.dialects.postgresql import insert

from hub_core.tables import raw_payshack_transactions
from hub_core.types import Direction
from hub_pipelines.sources.payshack.normalize import parse_row_time
from hub_pipelines.warehouse.raw import raw_payloads
from hub_pipelines.warehouse.rows import UpsertCounts, counts_of, optional_time, payload_hash
from hub_pipelines.windows import PartitionWindow


def upsert_raw_payshack(
    conn: Connection,
    kind: Direction,
    rows_in: Sequence[dict[str, Any]],
    partition_key: str | None = None,
) -> UpsertCounts:
    """Land PayShack rows untouched in `raw_payshack_transactions` keyed by (kind, txnId).

    A stored row is replaced only by a different payload that is not older (by `modifiedAt`),
    so a replayed read never regresses newer data."""
    if not rows_in:
        return UpsertCounts()
    rows = {}
    for row in rows_in:
        rows[str(row["txnId"])] = {
            "kind": Direction(kind).value,
            "txn_id": str(row["txnId"]),
            "order_id": row.get("orderId"),
            "client_name": row.get("clientName"),
            "created_at": optional_time(row.get("createdAt"), parse_row_time),
            "modified_at": optional_time(row.get("modifiedAt"), parse_row_time),
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
        # a replayed older version (by `modifiedAt`) never overwrites a newer one
        where=table.c.data_hash.is_distinct_from(excluded.data_hash)
        & (
            table.c.modified_at.is_(None)
            | excluded.modified_at.is_(None)
            | (excluded.modified_at >= table.c.modified_at)
        ),
    ).returning(literal_column("(xmax = 0)"))
    return counts_of(conn.execute(stmt).all(), len(rows))


def raw_rows(engine: Engine, window: PartitionWindow) -> Iterator[tuple[Direction, dict[str, Any]]]:
    """The partition's landed rows as (kind, row), in key order (see `raw_payloads`)."""
    for kind, payload in raw_payloads(engine, raw_payshack_transactions, window, "kind"):
        yield Direction(kind), payload
