"""The connection a run lands its pages on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError


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
