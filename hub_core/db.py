"""Engine factory, database creation and monthly partitions of `transactions`."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Engine, Table, create_engine, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url

# Any constant works: it only serializes partition creation across sessions.
_PARTITION_LOCK_ID = 0x7A4B_0001


def _json_dumps(value: object) -> str:
    return orjson.dumps(value, default=str).decode()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    """A pooled engine for `url` (one per URL per process); JSON columns use orjson.

    Statement parameters never appear in an error (`hide_parameters`): they hold customer data.
    JIT compilation is off: the hub's statements are short or planned with estimates that
    overshoot (a join to `unnest()`), where JIT costs ~0.8 s of compiling for nothing.
    """
    return create_engine(
        url,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5, "options": "-c jit=off"},
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def ensure_database(url: str) -> bool:
    """Create the database named in `url` when it does not exist; True if it was created."""
    target = make_url(url)
    name = target.database
    if not name:
        raise ValueError("the database URL names no database")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if exists:
                return False
            quoted = conn.dialect.identifier_preparer.quote(name)
            conn.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    """Drop the database named in `url` (if it exists), disconnecting its sessions."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            quoted = conn.dialect.identifier_preparer.quote(target.database or "")
            conn.execute(text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
    finally:
        admin.dispose()


def month_start(day: date) -> date:
    """First day of `day`'s month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """First day of the month after `day`'s month."""
    first = month_start(day)
    return (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )


def partition_name(month: date, parent: str = "transactions") -> str:
    """Name of the monthly partition of `parent` holding `month`, e.g. `transactions_y2026m01`."""
    return f"{parent}_y{month.year:04d}m{month.month:02d}"


def months_between(start: date, end: date) -> list[date]:
    """First days of every month overlapping `[start, end]` (empty if start > end)."""
    months: list[date] = []
    current = month_start(start)
    while current <= end:
        months.append(current)
        current = next_month(current)
    return months


def ensure_month_partitions(conn: Connection, start: date, end: date) -> list[str]:
    """Create every missing monthly partition of `transactions` covering `[start, end]`.

    Idempotent, and safe to call concurrently: a transaction-level advisory lock serializes
    creators, and existing partitions are skipped. Runs in the caller's transaction (the lock
    is released when it ends). Returns the names of the partitions it created.
    """
    months = months_between(start, end)
    if not months:
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PARTITION_LOCK_ID})
    existing = set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent "
                "WHERE p.relname = 'transactions' AND p.relnamespace = c.relnamespace "
                "AND pg_catalog.pg_table_is_visible(p.oid)"
            )
        ).scalars()
    )
    created: list[str] = []
    for month in months:
        name = partition_name(month)
        if name in existing:
            continue
        # Bounds are explicit UTC instants, independent of the session's TimeZone.
        conn.execute(
            text(
                f'CREATE TABLE "{name}" PARTITION OF transactions '
                f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') "
                f"TO ('{next_month(month).isoformat()} 00:00:00+00')"
            )
        )
        created.append(name)
    return created


def upsert(
    conn: Connection,
    table: Table,
    values: dict[str, Any],
    keys: tuple[str, ...],
    where: ColumnElement[bool] | None = None,
) -> int:
    """Insert one row, or update every other column of the row with the same `keys` (only when
    the existing row satisfies `where`, if given); returns the rows written (0 or 1)."""
    stmt = insert(table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: stmt.excluded[name] for name in values if name not in keys},
        where=where,
    )
    return conn.execute(stmt).rowcount
