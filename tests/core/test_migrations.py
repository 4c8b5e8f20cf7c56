"""Alembic history up and down on a freshly created database; partitions of `transactions`;
the built wheel migrates on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from hub_core import db, migrate
from hub_core.settings import get_settings
from hub_core.tables import metadata
from tests.conftest import ROOT, drop_database, partitions_of


@pytest.fixture
def fresh_url(database_url: str) -> str:
    url = make_url(database_url).set(database=f"{make_url(database_url).database}_mig")
    rendered = url.render_as_string(hide_password=False)
    drop_database(rendered)
    yield rendered
    drop_database(rendered)


def _partitions(engine: Engine) -> set[str]:
    return set(partitions_of(engine, "transactions"))


def test_upgrade_creates_every_table_and_downgrade_removes_them(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)  # creates the database too
    engine = create_engine(fresh_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {t.name for t in metadata.sorted_tables} <= tables
        with engine.connect() as conn:
            strategy = conn.execute(
                text(
                    "SELECT partstrat FROM pg_partitioned_table pt "
                    "JOIN pg_class c ON c.oid = pt.partrelid WHERE c.relname = 'transactions'"
                )
            ).scalar()
        assert strategy == "r"  # RANGE
        today = datetime.now(UTC).date()
        assert db.partition_name(today) in _partitions(engine)

        migrate.downgrade(fresh_url)
        remaining = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert remaining == set()

        migrate.upgrade(fresh_url)  # and up again
        assert {t.name for t in metadata.sorted_tables} <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _results_rows(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, recon_date::text, discrepancy_key "
                "FROM reconciliation_results ORDER BY id"
            )
        ).all()


def _relkind(engine: Engine, name: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT relkind::text FROM pg_class WHERE relname = :n"), {"n": name}
        ).scalar()


def test_results_become_partitioned_by_day_and_back_keeping_every_row(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0004")
    engine = create_engine(fresh_url)
    insert_result = text(
        "INSERT INTO reconciliation_results (recon_date, run_id, match_type, discrepancy_key) "
        "VALUES (:d, 'r', 'missing_vima', :k)"
    )
    try:
        with engine.begin() as conn:
            conn.execute(
                insert_result, [{"d": "2026-03-10", "k": "p:1"}, {"d": "2026-03-11", "k": "p:2"}]
            )
        kept = _results_rows(engine)

        migrate.upgrade(fresh_url)
        assert _relkind(engine, "reconciliation_results") == "p"
        assert _relkind(engine, "reconciliation_results_default") == "r"
        assert _results_rows(engine) == kept  # the rows and their ids
        with engine.connect() as conn:
            where = conn.execute(
                text(
                    "SELECT tableoid::regclass::text, recon_date::text FROM reconciliation_results"
                )
            ).all()
            default_rows = conn.execute(
                text("SELECT count(*) FROM reconciliation_results_default")
            ).scalar_one()
        # each stored day in a partition of its own; the DEFAULT one starts empty
        assert sorted(where) == [
            ("reconciliation_results_20260310_0005", "2026-03-10"),
            ("reconciliation_results_20260311_0005", "2026-03-11"),
        ]
        assert default_rows == 0
        with engine.begin() as conn:
            conn.execute(insert_result, {"d": "2026-03-12", "k": "p:3"})  # the same sequence
        after = _results_rows(engine)
        assert [row[0] for row in after] == [kept[0][0], kept[1][0], kept[1][0] + 1]

        migrate.downgrade(fresh_url, "0004")
        assert _relkind(engine, "reconciliation_results") == "r"
        assert _relkind(engine, "reconciliation_results_default") is None
        assert _results_rows(engine) == after
        with engine.begin() as conn:
            conn.execute(insert_result, {"d": "2026-03-13", "k": "p:4"})
        assert _results_rows(engine)[-1][0] == after[-1][0] + 1
    finally:
        engine.dispose()


def _txn_id_collations(engine: Engine) -> set[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.attrelid::regclass::text, a.attname, c.collname FROM pg_attribute a "
                "JOIN pg_collation c ON c.oid = a.attcollation "
                "WHERE a.attrelid IN ('reconciliation_results'::regclass, "
                "'reconciliation_results_default'::regclass) "
                "AND a.attname IN ('vima_txn_id', 'payshack_txn_id')"
            )
        ).all()
    return {tuple(row) for row in rows}


def test_txn_ids_of_results_compare_bytewise_and_back(fresh_url: str) -> None:
    migrate.upgrade(fresh_url, "0006")
    engine = create_engine(fresh_url)
    insert = text(
        "INSERT INTO reconciliation_results (recon_date, run_id, match_type, discrepancy_key, "
        "vima_txn_id) VALUES ('2026-03-10', 'r', 'missing_payshack', 'v:é1', 'é1')"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert)
        assert {c for *_, c in _txn_id_collations(engine)} == {"default"}

        migrate.upgrade(fresh_url)
        assert {c for *_, c in _txn_id_collations(engine)} == {"C"}
        assert len(_txn_id_collations(engine)) == 4  # the parent and its partitions
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT discrepancy_key FROM reconciliation_results WHERE vima_txn_id = 'é1'")
            ).scalar_one()
        assert found == "v:é1"  # the rows kept, the lookup unchanged

        migrate.downgrade(fresh_url, "0006")
        assert {c for *_, c in _txn_id_collations(engine)} == {"default"}
    finally:
        engine.dispose()


def test_months_between_spans_year_boundaries() -> None:
    months = db.months_between(date(2025, 11, 15), date(2026, 2, 1))
    assert months == [date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert db.months_between(date(2026, 3, 1), date(2026, 2, 1)) == []
    assert db.partition_name(date(2026, 1, 31)) == "transactions_y2026m01"


def test_ensure_month_partitions_creates_exactly_the_missing_months(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    engine = create_engine(fresh_url)
    try:
        today = datetime.now(UTC).date()
        start = date(today.year - 2, today.month, 1)
        before = _partitions(engine)
        expected = {db.partition_name(m) for m in db.months_between(start, today)} - before
        assert len(expected) == 24  # two years back; the current month exists already
        with engine.begin() as conn:
            created = db.ensure_month_partitions(conn, start, today)
        assert set(created) == expected
        assert _partitions(engine) == before | expected
        with engine.begin() as conn:
            assert db.ensure_month_partitions(conn, start, today) == []
    finally:
        engine.dispose()


def test_ensure_month_partitions_is_safe_concurrently(fresh_url: str) -> None:
    migrate.upgrade(fresh_url)
    engine = create_engine(fresh_url, pool_size=8)
    start, end = date(2020, 1, 1), date(2020, 12, 31)
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            with engine.begin() as conn:
                results.append(db.ensure_month_partitions(conn, start, end))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert errors == []
    created = [name for result in results for name in result]
    assert sorted(created) == sorted(db.partition_name(m) for m in db.months_between(start, end))


def test_insert_without_partition_is_a_clear_error(engine: Engine) -> None:
    row = {
        "id": "00000000-0000-0000-0000-000000000001",
        "source": "vima",
        "source_id": "1",
        "direction": "payin",
        "amount": 1,
        "currency": "INR",
        "status": "success",
        "original_status": "success",
        "created_at": datetime(1999, 1, 15, tzinfo=UTC),
        "data_hash": "x",
    }
    from hub_core.tables import transactions

    count = text("SELECT count(*) FROM transactions")
    with engine.connect() as conn:
        before = conn.execute(count).scalar()
    with pytest.raises(DBAPIError, match="no partition of relation"), engine.begin() as conn:
        conn.execute(transactions.insert(), row)
    with engine.connect() as conn:
        assert conn.execute(count).scalar() == before


def test_ensure_database_reports_creation(fresh_url: str) -> None:
    assert db.ensure_database(fresh_url) is True
    assert db.ensure_database(fresh_url) is False
    with pytest.raises(ValueError, match="names no database"):
        db.ensure_database("postgresql+psycopg://postgres@127.0.0.1:5432")


def test_migrations_match_the_table_definitions(engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def on_a_partition(change: tuple) -> bool:
        # monthly partitions of transactions and daily ones of the results (and their indexes)
        # are created at run time, not in the metadata
        obj = change[1]
        table = obj if change[0].endswith("_table") else getattr(obj, "table", None)
        return str(getattr(table, "name", "")).startswith(
            ("transactions_y", "reconciliation_results_")
        )

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [change for change in diff if not on_a_partition(change)] == []


def test_the_built_wheel_migrates_without_the_checkout(tmp_path: Path) -> None:
    """`pip install .` then `hub migrate`: the wheel carries the Alembic history itself."""
    source = tmp_path / "src"  # a copy, so the build leaves no build/ or egg-info in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("hub_core", "hub_pipelines", "hub_api", "hub_sandbox"):
        shutil.copytree(
            ROOT / package,
            source / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    dist = tmp_path / "dist"
    subprocess.run(  # build isolation as `pip install .` does it (setuptools>=68 for the build)
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    (wheel,) = dist.glob("payment_hub-*.whl")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(unpacked)
    shipped = {f"hub_core/migrations/{p.name}" for p in migrate.MIGRATIONS_DIR.glob("*.py")}
    shipped |= {
        f"hub_core/migrations/versions/{p.name}"
        for p in (migrate.MIGRATIONS_DIR / "versions").glob("*.py")
    }
    assert len(shipped) >= 5  # env.py and the versions
    assert shipped | {"hub_core/migrations/script.py.mako"} <= names
    assert not any(name.startswith("migrations/") for name in names)

    url = make_url(get_settings().database_url).set(database=f"hub_wheel_{os.getpid()}")
    rendered = url.render_as_string(hide_password=False)
    drop_database(rendered)
    workdir = tmp_path / "elsewhere"  # not the repository root: no alembic.ini, no migrations/
    workdir.mkdir()
    script = (
        "import sys, hub_core\n"
        "from hub_core import migrate\n"
        "print(hub_core.__file__)\n"
        "print(migrate.MIGRATIONS_DIR)\n"
        "migrate.upgrade(sys.argv[1])\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, rendered],
            cwd=workdir,
            env={**os.environ, "PYTHONPATH": str(unpacked)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        module_file, migrations_dir = (Path(line) for line in done.stdout.splitlines()[:2])
        assert module_file.is_relative_to(unpacked)  # the wheel's hub_core, not the checkout's
        assert migrations_dir.is_relative_to(unpacked)

        head = ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_current_head()
        engine = create_engine(rendered)
        try:
            with engine.connect() as conn:
                versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
                assert list(versions) == [head]
            assert "transactions" in inspect(engine).get_table_names()
        finally:
            engine.dispose()
    finally:
        drop_database(rendered)
