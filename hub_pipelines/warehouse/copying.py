"""Binary COPY into the hub's tables: numbers, times and ids travel as PostgreSQL stores them,
encoded JSON as jsonb's binary input, so the server parses no text but the JSON itself."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format
from sqlalchemy import Numeric, Table
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.types import DateTime


def _pg_type(column: Any) -> str:
    """The PostgreSQL type name of a hub column, as a binary COPY declares it."""
    kind = column.type
    if isinstance(kind, UUID):
        return "uuid"
    if isinstance(kind, JSONB):
        return "jsonb"
    if isinstance(kind, Numeric):
        return "numeric"
    if isinstance(kind, DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    return "text"


@functools.cache
def column_oids(table: Table, columns: tuple[str, ...]) -> tuple[int, ...]:
    """The oids of `columns` of `table` (built-in types, so fixed), for `copy.set_types`."""
    return tuple(postgres.types[_pg_type(table.c[name])].oid for name in columns)


class _UuidTextDumper(Dumper):
    """A UUID given as its text (`Transaction.id`), in binary: its 16 bytes."""

    format = Format.BINARY
    oid = postgres.types["uuid"].oid

    def dump(self, obj: str) -> bytes:
        """The 16 bytes of the UUID `obj`."""
        return bytes.fromhex(obj.replace("-", ""))


class _JsonBytesDumper(Dumper):
    """A JSON document already encoded (bytes), in jsonb's binary form: version 1, the text."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: bytes) -> bytes:
        """jsonb's binary input: the version byte and the JSON text."""
        return b"\x01" + obj


def copy_binary(
    cursor: psycopg.Cursor[Any],
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    into: str | None = None,
) -> None:
    """COPY `rows` (values in `columns`' order) into `table`, or into the table named `into`
    whose columns are those of `table` (a stage `LIKE` it), in PostgreSQL's binary format.

    Values are what psycopg dumps for the columns' types (`Decimal` or `int` for numeric, aware
    `datetime`, `str`), except that a uuid column takes the UUID's text and a jsonb column the
    encoded JSON as `bytes`.
    """
    # The cursor's own adapters: by oid, the uuid and jsonb columns take these two dumpers.
    cursor.adapters.register_dumper(str, _UuidTextDumper)
    cursor.adapters.register_dumper(bytes, _JsonBytesDumper)
    oids = column_oids(table, tuple(columns))
    target = into or table.name
    with cursor.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(oids))
        for row in rows:
            copy.write_row(row)
