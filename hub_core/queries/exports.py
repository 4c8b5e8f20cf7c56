"""The SELECTs behind the CSV and XLSX exports: columns, spreadsheet-safe text, filters.

Both formats read the same SELECT (booleans aside: `true`/`false` text in CSV), so a CSV
and an XLSX of one request hold the same cells:

- text cells that a spreadsheet would run as a formula (first character `=`, `+`, `-`, `@`,
  tab or carriage return, after OWASP) get a leading `'`, in SQL (`escape_text_sql`) and in
  Python (`escape_formula`, the same rule for values that do not come from the database);
- times are ISO 8601 UTC text with microseconds and `Z`, days `YYYY-MM-DD` text;
- amounts stay numbers at the stored precision (`numeric(18,4)`), never escaped, so a negative
  `amount_diff` is still a number.

`copy_statement` wraps a SELECT into `COPY (...) TO STDOUT` with its parameters, for psycopg's
`cursor.copy()`, which binds them on the client.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    Integer,
    Numeric,
    Select,
    Text,
    case,
    false,
    func,
    literal_column,
    select,
)
from sqlalchemy.types import TypeEngine

from hub_core.queries.filters import TransactionFilters, transaction_clauses
from hub_core.queries.reconciliation import DISCREPANCY_TYPES
from hub_core.tables import discrepancy_resolutions, reconciliation_results, transactions
from hub_core.types import MatchType

FORMULA_TRIGGERS = "=+-@\t\r"
"""First characters that make a spreadsheet read a text cell as a formula (OWASP)."""

_TRIGGER_CODES = [literal_column(str(ord(char)), Integer) for char in FORMULA_TRIGGERS]
_QUOTE = literal_column("''''", Text)  # the SQL literal of one single quote

TIME_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
"""`to_char` format of a time in the exports (after `AT TIME ZONE 'UTC'`)."""

DAY_FORMAT = "YYYY-MM-DD"
"""`to_char` format of a day in the exports."""

TRANSACTION_COLUMNS: tuple[str, ...] = (
    "id",
    "source",
    "source_id",
    "reference_id",
    "client_operation_id",
    "order_id",
    "project",
    "merchant_id",
    "direction",
    "amount",
    "paid_amount",
    "currency",
    "fee",
    "status",
    "original_status",
    "user_id",
    "user_email",
    "user_phone",
    "user_name",
    "country",
    "utr",
    "payment_method",
    "payment_product",
    "created_at",
    "updated_at",
    "completed_at",
    "ingested_at",
)
"""The transaction export's columns, in order: the table's but the provider payload
(`raw_data`), its hash (`data_hash`) and the derived `match_key`."""

RECONCILIATION_RESULT_COLUMNS: tuple[str, ...] = (
    "id",
    "recon_date",
    "match_type",
    "match_method",
    "discrepancy_key",
    "project",
    "direction",
    "currency",
    "client_operation_id",
    "order_id",
    "vima_txn_id",
    "payshack_txn_id",
    "vima_amount",
    "payshack_amount",
    "amount_diff",
    "vima_status",
    "payshack_status",
    "created_at",
)
RESOLUTION_COLUMNS: tuple[str, ...] = ("resolved", "resolved_by", "resolved_at", "note")
DETAIL_COLUMNS: dict[str, tuple[str, TypeEngine[Any]]] = {
    "vima_paid_amount": ("vima_paid_amount", Numeric()),
    "payshack_paid_amount": ("payshack_paid_amount", Numeric()),
    "created_gap_seconds": ("created_gap_seconds", BigInteger()),
    "duplicate_vima_rows": ("vima_rows", BigInteger()),
    "duplicate_payshack_rows": ("payshack_rows", BigInteger()),
}
"""The columns taken from a result's `details`: column -> (key in `details`, type). A pair's
paid amounts (an amount break can be in them alone) and the seconds from its Vima record to
its PayShack one; a duplicate key's rows on each side. Empty cells for the other results."""
RECONCILIATION_COLUMNS: tuple[str, ...] = (
    RECONCILIATION_RESULT_COLUMNS + RESOLUTION_COLUMNS + tuple(DETAIL_COLUMNS)
)
"""The reconciliation export's columns: the result, its resolution (if any), its details."""


class ReconExportType(StrEnum):
    """The `type` of a reconciliation export: API.md's discrepancy types, plus `matched`."""

    AMOUNT = "amount"
    STATUS = "status"
    MISSING_VIMA = "missing_vima"
    MISSING_PAYSHACK = "missing_payshack"
    DUPLICATE = "duplicate"
    MATCHED = "matched"


EXPORT_MATCH_TYPES: dict[ReconExportType, MatchType] = {
    **{ReconExportType(short): stored for short, stored in DISCREPANCY_TYPES.items()},
    ReconExportType.MATCHED: MatchType.MATCHED,
}
"""A reconciliation export's `type` -> the stored `match_type`."""


def escape_formula(value: str) -> str:
    """`value` with a leading `'` when its first character would start a formula."""
    if value and value[0] in FORMULA_TRIGGERS:
        return "'" + value
    return value


def escape_text_sql(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """`escape_formula` in SQL, on a text column (NULL stays NULL).

    `ascii()` of the first character is compared with the triggers' code points: on a
    million rows of twenty text columns it costs about a third of a regular expression
    (`ascii('')` is 0, no trigger).
    """
    return case(
        (func.ascii(column).in_(_TRIGGER_CODES), _QUOTE.concat(column)),
        else_=column,
    )


_UTC = literal_column("'UTC'", Text)
_TIME = literal_column(f"'{TIME_FORMAT}'", Text)
_DAY = literal_column(f"'{DAY_FORMAT}'", Text)
_TRUE_TEXT = literal_column("'true'", Text)
_FALSE_TEXT = literal_column("'false'", Text)


def export_value(
    expression: ColumnElement[Any], name: str, *, booleans_as_text: bool = False
) -> ColumnElement[Any]:
    """`expression` as an export cell labelled `name`, by its type: times as ISO 8601 UTC text
    with `Z`, days as `YYYY-MM-DD`, text escaped against formulas, numbers and ids as they are;
    booleans as `true`/`false` text when asked (CSV), else as booleans (XLSX)."""
    kind = expression.type
    value: ColumnElement[Any]
    if isinstance(kind, DateTime):
        value = func.to_char(func.timezone(_UTC, expression), _TIME)
    elif isinstance(kind, Date):
        value = func.to_char(expression, _DAY)
    elif isinstance(kind, Boolean) and booleans_as_text:
        value = case((expression, _TRUE_TEXT), (~expression, _FALSE_TEXT))  # NULL stays NULL
    elif isinstance(kind, Text):
        value = escape_text_sql(expression)
    else:  # numbers (at their stored precision), ids, booleans for XLSX
        value = expression
    return value.label(name)


def transaction_export_query(filters: TransactionFilters) -> Select[Any]:
    """Every transaction `filters` selects (no limit), ordered by created_at, id, with the
    columns of `TRANSACTION_COLUMNS` as export cells."""
    c = transactions.c
    return (
        select(*(export_value(c[name], name) for name in TRANSACTION_COLUMNS))
        .where(*transaction_clauses(filters))
        .order_by(c.created_at, c.id)
    )


def reconciliation_export_query(
    from_date: date,
    to_date: date,
    match_type: MatchType | None = None,
    *,
    booleans_as_text: bool = False,
) -> Select[Any]:
    """The reconciliation results of the days `from_date`..`to_date` (both included), of one
    `match_type` or all, each with its resolution (`resolved` is false without one), ordered
    by recon_date, id."""
    r, d = reconciliation_results, discrepancy_resolutions
    cells = [export_value(r.c[name], name) for name in RECONCILIATION_RESULT_COLUMNS]
    cells.append(
        export_value(
            func.coalesce(d.c.resolved, false(), type_=Boolean),
            "resolved",
            booleans_as_text=booleans_as_text,
        )
    )
    cells += [export_value(d.c[name], name) for name in RESOLUTION_COLUMNS[1:]]
    cells += [
        export_value(r.c.details[key].astext.cast(kind), name)
        for name, (key, kind) in DETAIL_COLUMNS.items()
    ]
    query = (
        select(*cells)
        .select_from(r.outerjoin(d, d.c.discrepancy_key == r.c.discrepancy_key))
        .where(r.c.recon_date >= from_date, r.c.recon_date <= to_date)
        .order_by(r.c.recon_date, r.c.id)
    )
    if match_type is not None:
        query = query.where(r.c.match_type == match_type.value)
    return query


def copy_statement(query: Select[Any], dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """`COPY (query) TO STDOUT` as CSV with a header row, and its parameters.

    The SELECT is compiled with `dialect` (psycopg's: `%(name)s` placeholders), for
    `cursor.copy(statement, params)`, which binds the values on the client.
    """
    if dialect.paramstyle != "pyformat":
        raise ValueError(f"a COPY statement needs a pyformat dialect, not {dialect.paramstyle}")
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    statement = f"COPY ({compiled.string}) TO STDOUT WITH (FORMAT csv, HEADER)"
    return statement, dict(compiled.params)
