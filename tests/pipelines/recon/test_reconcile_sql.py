"""The reconciliation's statements: named `.sql` files that type no enum value or currency, write
`reconciliation_results` by column name, and ship in the wheel."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

from sqlalchemy import Engine, select

from hub_core.tables import reconciliation_results
from hub_core.types import Direction, MatchMethod, MatchType, Source, Status
from hub_pipelines import reconcile
from hub_pipelines.reconcile import RESULT_COLUMNS, RESULT_CURRENCY, reconcile_day, results_sql
from hub_pipelines.sources.payshack.normalize import CURRENCY as PAYSHACK_CURRENCY
from tests.pipelines.recon.test_reconcile_cases import DAY, PARAMS, _insert, _p, _v

ROOT = Path(__file__).resolve().parents[3]
SQL_DIR = resources.files("hub_pipelines").joinpath("sql")
ENUMS = (MatchType, MatchMethod, Source, Status, Direction)
ENUM_VALUES = {member.value for enum in ENUMS for member in enum}


def _statement_files() -> list[str]:
    return sorted(p.name for p in SQL_DIR.iterdir() if p.name.startswith("reconcile_"))


def test_statements_type_no_enum_value_or_currency() -> None:
    files = _statement_files()
    assert "reconcile_join.sql" in files and "reconcile_results.sql" in files
    for name in files:
        sql = re.sub(r"--[^\n]*", "", SQL_DIR.joinpath(name).read_text("utf-8"))
        literals = set(re.findall(r"'([^']*)'", sql))
        assert not literals & (ENUM_VALUES | {RESULT_CURRENCY}), (name, literals)


def test_results_are_inserted_by_column_name() -> None:
    generated = {"id", "created_at"}
    assert set(RESULT_COLUMNS) == {c.name for c in reconciliation_results.columns} - generated
    listed = ", ".join(RESULT_COLUMNS)
    sql = results_sql('"reconciliation_results_20260310_0123abcd"')
    assert f'INSERT INTO "reconciliation_results_20260310_0123abcd" ({listed})' in sql
    assert f"SELECT {listed} FROM day_results" in sql
    assert "$" not in sql  # every template fragment filled


def test_statement_files_ship_in_the_wheel() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["hub_pipelines"]
    for name in _statement_files():
        assert any(fnmatch(f"sql/{name}", pattern) for pattern in globs), name


def test_every_result_is_in_payshack_currency_with_its_stable_key(clean_db: Engine) -> None:
    _insert(
        clean_db,
        [
            _v("v1", "A"), _p("p1", "A"),
            _v("v2", "B"), _v("v3", "B"), _p("p3", "B"),
            _v("v4", "C", amount="7.00"),
            _p("p5", "D", amount="3.00", status="failed"),
        ],
    )  # fmt: skip
    with clean_db.begin() as conn:
        summary = reconcile_day(conn, DAY, "r1", PARAMS)
    c = reconciliation_results.c
    query = select(c.discrepancy_key, c.match_type, c.match_method, c.currency, c.details)
    with clean_db.connect() as conn:
        stored = sorted(tuple(row) for row in conn.execute(query))
    dup = {"key": "B", "vima_rows": 2, "payshack_rows": 1}
    currency = RESULT_CURRENCY
    assert currency == PAYSHACK_CURRENCY
    assert stored == [
        ("dup:payshack:p3", "duplicate", None, currency, dup),
        ("dup:vima:v2", "duplicate", None, currency, dup),
        ("dup:vima:v3", "duplicate", None, currency, dup),
        ("p:p5", "missing_vima", None, currency, {}),
        ("v:v1|p:p1", "matched", "exact", currency, {}),
        ("v:v4", "missing_payshack", None, currency, {}),
    ]
    assert summary.by_method == {"exact": 1}
    assert reconcile.NO_METHOD not in summary.by_method
