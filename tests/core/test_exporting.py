"""Exports without a database: formula escaping, XLSX cells and sheets, file names, day ranges,
and the SELECTs and COPY statements the exports run."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import create_engine
from sqlalchemy.dialects import sqlite

from hub_api.errors import APIError
from hub_api.exporting import (
    XLSX_MAX_TEXT,
    ExportFormat,
    export_filename,
    reconciliation_days,
    write_xlsx,
    xlsx_value,
)
from hub_core.queries.exports import (
    EXPORT_MATCH_TYPES,
    FORMULA_TRIGGERS,
    RECONCILIATION_COLUMNS,
    TRANSACTION_COLUMNS,
    ReconExportType,
    copy_statement,
    escape_formula,
    reconciliation_export_query,
    transaction_export_query,
)
from hub_core.queries.filters import TransactionFilters
from hub_core.queries.periods import Period
from hub_core.tables import transactions
from hub_core.types import MatchType, Source, Status

PSYCOPG = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none").dialect


# --- formula escaping -------------------------------------------------------------------------


@given(st.text())
def test_escaped_text_never_starts_a_formula(value: str) -> None:
    escaped = escape_formula(value)
    assert not escaped[:1] or escaped[0] not in FORMULA_TRIGGERS
    if value[:1] and value[0] in FORMULA_TRIGGERS:
        assert escaped == "'" + value
    else:
        assert escaped == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("", ""),
        ("'=already", "'=already"),
    ],
)
def test_escape_formula_examples(value: str, expected: str) -> None:
    assert escape_formula(value) == expected


# --- XLSX cells -------------------------------------------------------------------------------


def test_xlsx_values_keep_numbers_and_escape_text() -> None:
    assert xlsx_value(Decimal("-5.2500")) == Decimal("-5.2500")
    assert xlsx_value(3) == 3
    assert xlsx_value(True) is True
    assert xlsx_value(None) is None
    assert xlsx_value("-5") == "'-5"  # text that looks like a number is still text
    assert xlsx_value("=1+1") == "'=1+1"
    assert xlsx_value(datetime(2026, 3, 1, 10, 0, tzinfo=UTC)) == "2026-03-01T10:00:00.000Z"
    assert xlsx_value(date(2026, 3, 1)) == "2026-03-01"


def test_xlsx_value_strips_xml_illegal_characters_before_escaping() -> None:
    # the control character hides the '=' from the SQL escaping; the cell must not lose it
    assert xlsx_value("\x01=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    assert xlsx_value("a\x00b\x0bc") == "abc"


def test_xlsx_value_cuts_text_to_what_a_cell_holds() -> None:
    assert len(xlsx_value("x" * (XLSX_MAX_TEXT + 10))) == XLSX_MAX_TEXT


def test_write_xlsx_types_header_and_escaping(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rows = [
        ("a", Decimal("10.1234"), '=HYPERLINK("x")', True, None),
        ("b", Decimal("-5.2500"), "@SUM(A1)", False, "2026-03-01T10:00:00.000000Z"),
    ]
    count = write_xlsx(path, ["k", "amount", "name", "flag", "at"], rows, title="things")
    assert count == 2
    book = load_workbook(path)
    assert book.sheetnames == ["things"]
    sheet = book["things"]
    header = next(sheet.iter_rows(min_row=1, max_row=1))
    assert [c.value for c in header] == ["k", "amount", "name", "flag", "at"]
    assert all(c.font.b for c in header)
    first, second = list(sheet.iter_rows(min_row=2))
    assert first[1].data_type == "n"
    assert Decimal(str(first[1].value)) == Decimal("10.1234")
    assert Decimal(str(second[1].value)) == Decimal("-5.25")
    assert first[2].data_type == "s"
    assert first[2].value == '\'=HYPERLINK("x")'
    assert second[2].value == "'@SUM(A1)"
    assert first[3].value is True
    assert first[4].value is None
    assert second[4].value == "2026-03-01T10:00:00.000000Z"


def test_write_xlsx_continues_on_new_sheets(tmp_path: Path) -> None:
    path = tmp_path / "out.xlsx"
    rows = [(n, f"row {n}") for n in range(7)]
    assert write_xlsx(path, ["n", "text"], rows, title="data", rows_per_sheet=3) == 7
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["data", "data 2", "data 3"]
    seen = []
    for sheet in book.worksheets:
        values = [tuple(row) for row in sheet.iter_rows(values_only=True)]
        assert values[0] == ("n", "text")
        assert len(values) - 1 <= 3
        seen += [row[0] for row in values[1:]]
    assert seen == list(range(7))


def test_write_xlsx_removes_its_temporary_sheets_on_failure(tmp_path: Path) -> None:
    import tempfile

    def rows():
        yield ("ok",)
        raise RuntimeError("database gone")

    before = {p.name for p in Path(tempfile.gettempdir()).glob("openpyxl.*")}
    with pytest.raises(RuntimeError):
        write_xlsx(tmp_path / "out.xlsx", ["x"], rows(), title="t")
    after = {p.name for p in Path(tempfile.gettempdir()).glob("openpyxl.*")}
    assert after <= before
    assert not (tmp_path / "out.xlsx").exists()


_XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n=+-@'\",%"),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(_XML_TEXT, st.decimals(min_value=-(10**13), max_value=10**13, places=4)),
        max_size=5,
    )
)
def test_xlsx_round_trips_text_and_numbers(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, Decimal]]
) -> None:
    path = tmp_path_factory.mktemp("xlsx") / "round.xlsx"
    write_xlsx(path, ["text", "amount"], rows, title="t")
    read = list(load_workbook(path, read_only=True)["t"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in read] == [xlsx_value(text) for text, _ in rows]
    for (_, amount), (_, cell) in zip(rows, read, strict=True):
        assert isinstance(cell, int | float)
        assert abs(Decimal(str(cell)) - amount) <= abs(amount) * Decimal("1e-15") + Decimal("1e-9")


# --- file names and day ranges ----------------------------------------------------------------


def test_export_filenames() -> None:
    day, last = date(2026, 11, 1), date(2026, 11, 7)
    assert export_filename("transactions", ExportFormat.CSV) == "transactions_all.csv"
    assert (
        export_filename("transactions", ExportFormat.XLSX, day, last)
        == "transactions_2026-11-01_2026-11-07.xlsx"
    )
    assert (
        export_filename("reconciliation", ExportFormat.XLSX, day)
        == "reconciliation_2026-11-01.xlsx"
    )


def test_reconciliation_days_forms() -> None:
    day, last = date(2026, 11, 1), date(2026, 11, 7)
    assert reconciliation_days(day, None, None) == (day, day, True)
    assert reconciliation_days(None, day, last) == (day, last, False)
    assert reconciliation_days(None, day, day) == (day, day, False)


@pytest.mark.parametrize(
    ("day", "start", "end", "field"),
    [
        (None, None, None, "date"),
        (date(2026, 11, 1), date(2026, 11, 1), None, "date"),
        (date(2026, 11, 1), None, date(2026, 11, 2), "date"),
        (None, date(2026, 11, 1), None, "to_date"),
        (None, None, date(2026, 11, 1), "from_date"),
        (None, date(2026, 11, 2), date(2026, 11, 1), "from_date"),
    ],
)
def test_reconciliation_days_refused(
    day: date | None, start: date | None, end: date | None, field: str
) -> None:
    with pytest.raises(APIError) as caught:
        reconciliation_days(day, start, end)
    assert caught.value.status_code == 422
    assert caught.value.details["fields"][0]["field"] == field


# --- queries ----------------------------------------------------------------------------------


def test_export_types_cover_every_match_type_once() -> None:
    assert set(EXPORT_MATCH_TYPES) == set(ReconExportType)
    assert sorted(EXPORT_MATCH_TYPES.values()) == sorted(MatchType)
    assert EXPORT_MATCH_TYPES[ReconExportType.AMOUNT] is MatchType.DISCREPANCY_AMOUNT
    assert EXPORT_MATCH_TYPES[ReconExportType.STATUS] is MatchType.DISCREPANCY_STATUS


def test_export_columns() -> None:
    query = transaction_export_query(TransactionFilters())
    assert tuple(query.selected_columns.keys()) == TRANSACTION_COLUMNS
    assert {"raw_data", "data_hash"}.isdisjoint(TRANSACTION_COLUMNS)
    assert set(TRANSACTION_COLUMNS) <= set(transactions.c.keys())
    recon = reconciliation_export_query(date(2026, 1, 1), date(2026, 1, 2))
    assert tuple(recon.selected_columns.keys()) == RECONCILIATION_COLUMNS


def test_copy_statement_binds_filters_as_parameters() -> None:
    filters = TransactionFilters(
        source=Source.VIMA,
        status=Status.SUCCESS,
        project="100% %(x)s",
        period=Period(date(2026, 3, 1), date(2026, 3, 2)),
        min_amount=Decimal("10.5"),
    )
    statement, params = copy_statement(transaction_export_query(filters), PSYCOPG)
    assert statement.startswith("COPY (SELECT ")
    assert statement.endswith(") TO STDOUT WITH (FORMAT csv, HEADER)")
    assert "100%" not in statement  # values travel as parameters, never in the SQL
    assert "100% %(x)s" in params.values()
    assert Decimal("10.5") in params.values()
    assert datetime(2026, 3, 1, tzinfo=UTC) in params.values()
    assert "ORDER BY transactions.created_at, transactions.id" in statement
    for name in params:
        assert f"%({name})s" in statement


def test_copy_statement_needs_a_pyformat_dialect() -> None:
    with pytest.raises(ValueError, match="pyformat"):
        copy_statement(transaction_export_query(TransactionFilters()), sqlite.dialect())
