"""One run per source partition, enforced in PostgreSQL: an advisory lock per (source, day),
which holds across Dagster instances and the CLI (where `dagster.yaml`'s pools do not reach)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from hub_core.logging import get_logger
from hub_core.types import Source

log = get_logger(__name__)


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
