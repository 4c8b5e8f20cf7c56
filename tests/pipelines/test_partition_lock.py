"""Two runs of one source's partition never write at once: the second waits, or stops clearly."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import Engine, text

from hub_core.types import Source, SyncStatus
from hub_pipelines.warehouse.locks import PartitionBusy, partition_lock
from hub_pipelines.warehouse.sync import tracked_sync


def test_second_run_of_a_partition_waits_for_the_first(clean_db: Engine) -> None:
    events: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with tracked_sync(clean_db, Source.VIMA, "run-1", "2026-03-10"):
            events.append("first in")
            first_in.set()
            time.sleep(1.0)
            events.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    assert first_in.wait(10)
    with tracked_sync(clean_db, Source.VIMA, "run-2", "2026-03-10"):
        events.append("second in")
    thread.join()
    assert events == ["first in", "first out", "second in"]
    with clean_db.connect() as conn:
        state = conn.execute(text("SELECT status, run_id FROM sync_state")).one()
    assert tuple(state) == (SyncStatus.IDLE.value, "run-2")


def test_other_partitions_and_sources_do_not_wait(clean_db: Engine) -> None:
    with partition_lock(clean_db, Source.VIMA, "2026-03-10"):
        started = time.monotonic()
        with partition_lock(clean_db, Source.VIMA, "2026-03-11"):
            pass
        with partition_lock(clean_db, Source.PAYSHACK, "2026-03-10"):
            pass
        assert time.monotonic() - started < 1


def test_a_run_waiting_too_long_stops_with_one_sentence(clean_db: Engine) -> None:
    holder = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with partition_lock(clean_db, Source.PAYSHACK, "2026-03-10"):
            holder.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holder.wait(10)
    try:
        with (
            pytest.raises(PartitionBusy, match="another payshack run has held partition"),
            partition_lock(clean_db, Source.PAYSHACK, "2026-03-10", wait_seconds=0.5),
        ):
            pass
    finally:
        release.set()
        thread.join()
    with partition_lock(clean_db, Source.PAYSHACK, "2026-03-10", wait_seconds=1):
        pass  # free again, and the pooled connection is usable
