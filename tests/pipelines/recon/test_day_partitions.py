"""A day's results are swapped in as the day's partition of `reconciliation_results`: one
partition a day, re-runs replace it whole, stray rows of the day in the DEFAULT partition go,
and readers are waited for (briefly, again and again), never cut off or shown half a day."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import OperationalError

from hub_core.tables import RESULTS_DEFAULT_PARTITION, reconciliation_results
from hub_pipelines import reconcile
from hub_pipelines.reconcile import partition_index_statements, reconcile_day, staging_table
from tests.conftest import partitions_of
from tests.pipelines.recon.test_reconcile_cases import DAY, PARAMS, _insert, _p, _results, _v

WORLD = [
    _v("v1", "A"), _p("p1", "A"),
    _v("v2", "B"), _p("p2", "B", amount=Decimal("90.00")),
    _v("v3", "C"),
]  # fmt: skip
EXPECTED = {
    ("matched", "exact", "v1", "p1", None, None): 1,
    ("discrepancy_amount", "exact", "v2", "p2", None, None): 1,
    ("missing_payshack", None, "v3", None, None, None): 1,
}


def _day_tables(engine: Engine) -> set[str]:
    """Every table named like a day's results table, attached or not."""
    with engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' "
                    "AND relname ~ '^reconciliation_results_[0-9]{8}_'"
                )
            ).scalars()
        )


def _reconcile(engine: Engine, run_id: str) -> None:
    with engine.begin() as conn:
        reconcile_day(conn, DAY, run_id, PARAMS)


@pytest.fixture
def world(clean_db: Engine) -> Iterator[Engine]:
    _insert(clean_db, WORLD)
    yield clean_db


def test_a_day_is_one_partition_and_a_rerun_replaces_it(world: Engine) -> None:
    _reconcile(world, "r1")
    first = partitions_of(world, "reconciliation_results")
    day_tables = _day_tables(world)
    assert len(day_tables) == 1
    (name,) = day_tables
    assert first[name] == f"FOR VALUES IN ('{DAY.isoformat()}')"
    assert first[RESULTS_DEFAULT_PARTITION] == "DEFAULT"
    assert _results(world) == EXPECTED

    _reconcile(world, "r2")
    (rerun_name,) = _day_tables(world)  # the old one is gone, not left beside it
    assert rerun_name != name
    assert _results(world) == EXPECTED
    with world.connect() as conn:
        runs = set(conn.execute(text("SELECT run_id FROM reconciliation_results")).scalars())
        # every index of the parent is attached on the day's partition, none built twice
        indexes = conn.execute(
            text("SELECT count(*) FROM pg_indexes WHERE tablename = :t"), {"t": rerun_name}
        ).scalar_one()
    assert runs == {"r2"}
    assert indexes == len(partition_index_statements("t"))


def test_rows_of_the_day_in_the_default_partition_are_replaced(world: Engine) -> None:
    other_day = date(2026, 5, 21)
    stray = {
        "run_id": "by-hand",
        "match_type": "missing_vima",
        "discrepancy_key": "p:stray",
        "payshack_txn_id": "stray",
    }
    with world.begin() as conn:
        conn.execute(
            insert(reconciliation_results),
            [{**stray, "recon_date": DAY}, {**stray, "recon_date": other_day}],
        )
    _reconcile(world, "r1")
    assert _results(world) == EXPECTED
    with world.connect() as conn:
        left = conn.execute(text(f"SELECT recon_date FROM {RESULTS_DEFAULT_PARTITION}")).scalars()
        assert list(left) == [other_day]  # another day's rows are not touched


def test_a_rerun_waits_for_a_reader_who_sees_the_old_day_whole(world: Engine) -> None:
    _reconcile(world, "r1")
    errors: list[BaseException] = []

    def rerun() -> None:
        try:
            _reconcile(world, "r2")
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    with world.connect() as reader:
        reader.begin()
        before = reader.execute(
            text("SELECT run_id, count(*) FROM reconciliation_results GROUP BY run_id")
        ).all()
        worker = threading.Thread(target=rerun)
        worker.start()
        worker.join(timeout=3)
        assert worker.is_alive()  # the swap cannot drop the day under the open reader
        # another reader is let through between the swap's attempts, and sees the old day
        with world.connect() as other:
            other.execute(text("SET statement_timeout = '20s'"))
            assert (
                other.execute(
                    text("SELECT run_id, count(*) FROM reconciliation_results GROUP BY run_id")
                ).all()
                == before
                == [("r1", 3)]
            )
        reader.rollback()
    worker.join(timeout=60)
    assert not worker.is_alive() and errors == []
    assert _results(world) == EXPECTED
    with world.connect() as conn:
        assert set(conn.execute(text("SELECT run_id FROM reconciliation_results")).scalars()) == {
            "r2"
        }
    assert len(_day_tables(world)) == 1


def test_a_run_that_cannot_swap_in_fails_and_changes_nothing(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reconcile(world, "r1")
    tables = _day_tables(world)
    monkeypatch.setattr(reconcile, "SWAP_PATIENCE_S", 1.0)
    with world.connect() as reader:
        reader.begin()
        reader.execute(text("SELECT count(*) FROM reconciliation_results")).scalar_one()
        with pytest.raises(OperationalError, match="lock timeout"):
            _reconcile(world, "r2")
        reader.rollback()
    assert _day_tables(world) == tables  # nor a half-built table left behind
    with world.connect() as conn:
        assert set(conn.execute(text("SELECT run_id FROM reconciliation_results")).scalars()) == {
            "r1"
        }


def test_staging_names_are_fresh_and_of_the_day() -> None:
    first, second = staging_table(DAY), staging_table(DAY)
    assert first != second
    assert first.startswith("reconciliation_results_20260520_") and len(first) <= 63


def test_the_callers_lock_timeout_is_kept(world: Engine) -> None:
    with world.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '7s'"))
        reconcile_day(conn, DAY, "r1", PARAMS)
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "7s"


def test_reruns_of_two_days_at_once_both_land(
    world: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run's table is made LIKE the results (a share lock until it commits) and a re-run's
    DROP needs the results alone: two runs past their tables at once wait on each other
    (PostgreSQL reports a deadlock and one run fails). Here both are held where the index
    builds start, as long as the other can join them there: without the results lock both get
    there, with it the second waits before its table."""
    next_day = DAY + timedelta(days=1)
    _reconcile(world, "r1")
    with world.begin() as conn:
        reconcile_day(conn, next_day, "r1", PARAMS)
    monkeypatch.setattr(reconcile, "SWAP_PATIENCE_S", 5.0)
    meet = threading.Barrier(2)
    build = reconcile.partition_index_statements

    def held_then_built(table: str) -> list[str]:
        # broken when the other run waits before its table: the runs go one after the other
        with contextlib.suppress(threading.BrokenBarrierError):
            meet.wait(timeout=3)
        return build(table)

    monkeypatch.setattr(reconcile, "partition_index_statements", held_then_built)
    errors: list[BaseException] = []

    def rerun(day: date) -> None:
        try:
            with world.begin() as conn:
                reconcile_day(conn, day, "r2", PARAMS)
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=rerun, args=(d,)) for d in (DAY, next_day)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _results(world) == EXPECTED
    with world.connect() as conn:
        runs = set(
            conn.execute(text("SELECT DISTINCT run_id FROM reconciliation_results")).scalars()
        )
    assert runs == {"r2"}
    assert len(_day_tables(world)) == 2
