"""Reading a source's raw table back for normalization (each source lands its own raw rows:
`sources/<name>/landing.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Engine, Table, Text, and_, cast, or_, select

from hub_pipelines.windows import PartitionWindow

READ_BATCH = 5000


def raw_payloads(
    engine: Engine, table: Table, window: PartitionWindow, *extra: str
) -> Iterator[tuple[Any, ...]]:
    """The partition's rows of a raw table as `(*extra columns, payload)`, in key order: rows
    created in the window, and rows without a readable creation time landed for its key.

    Streamed in batches; the payload is parsed from its JSON text (faster than the driver's
    own decoding of `jsonb`)."""
    c = table.c
    query = (
        select(*(c[name] for name in extra), cast(c.payload, Text))
        .where(
            or_(
                and_(c.created_at >= window.start, c.created_at < window.end),
                and_(c.created_at.is_(None), c.partition_key == window.key),
            )
        )
        .order_by(*table.primary_key.columns)
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=READ_BATCH).execute(query)
        for *values, payload in result:
            yield (*values, orjson.loads(payload))
