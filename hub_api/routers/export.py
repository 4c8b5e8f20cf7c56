"""`/export` endpoints: the transaction list and reconciliation results as CSV or XLSX files."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hub_api.deps import EngineDep, ReaderDep
from hub_api.exporting import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    ExportFormat,
    ExportResponse,
    csv_response,
    export_filename,
    reconciliation_days,
    xlsx_response,
)
from hub_api.params import FiltersDep
from hub_api.schemas import error_responses
from hub_core.queries.exports import (
    EXPORT_MATCH_TYPES,
    RECONCILIATION_COLUMNS,
    ReconExportType,
    reconciliation_export_query,
    transaction_export_query,
)

router = APIRouter(tags=["export"])

FormatQuery = Annotated[
    ExportFormat, Query(alias="format", description="`csv` (default) or `xlsx`.")
]
DayQuery = Annotated[
    date | None,
    Query(
        alias="date",
        description="One day (YYYY-MM-DD); or give from_date and to_date instead.",
        examples=["2026-11-01"],
    ),
]
FromQuery = Annotated[
    date | None, Query(description="First day of a range (YYYY-MM-DD); needs to_date.")
]
ToQuery = Annotated[
    date | None, Query(description="Last day of a range (YYYY-MM-DD, included); needs from_date.")
]
TypeQuery = Annotated[
    ReconExportType | None,
    Query(alias="type", description="One match type; every result of the days without."),
]


def _file_responses(what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": f"{what}, as an attachment (`Content-Disposition`).",
            "content": {
                CSV_MEDIA_TYPE: {"schema": {"type": "string"}},
                XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **error_responses(),
    }


_FORMATS = (
    "`format=csv` (default) streams a UTF-8 CSV with a header row straight from the database; "
    "`format=xlsx` sends a workbook (more than 1,048,575 rows continue on a second sheet). "
    "Amounts keep their stored precision and stay numbers; times are ISO 8601 UTC text with "
    "`Z`; text starting with `=`, `+`, `-`, `@`, tab or carriage return is prefixed with `'` "
    "so that spreadsheets do not run it as a formula."
)


@router.get(
    "/export/transactions",
    summary="Export transactions",
    description=(
        "Every transaction the list's filters select (same parameters as `GET /transactions`, "
        "no page limit), ordered by `created_at`, `id`, one row each with every column but the "
        "provider payload. The file is named after the period: "
        "`transactions_<from>_<to>.csv`, or `transactions_all.csv` without dates. " + _FORMATS
    ),
    response_class=ExportResponse,
    responses=_file_responses("The transactions"),
)
def export_transactions(
    _role: ReaderDep,
    engine: EngineDep,
    filters: FiltersDep,
    fmt: FormatQuery = ExportFormat.CSV,
) -> ExportResponse:
    """The filtered transactions as a CSV or XLSX attachment."""
    period = filters.period
    filename = export_filename(
        "transactions",
        fmt,
        period.from_date if period else None,
        period.to_date if period else None,
    )
    query = transaction_export_query(filters)
    if fmt is ExportFormat.XLSX:
        return xlsx_response(engine, query, "transactions", filename)
    return csv_response(engine, query, filename)


@router.get(
    "/export/reconciliation",
    summary="Export reconciliation results",
    description=(
        "The reconciliation results of one day (`date`) or of the days `from_date`..`to_date` "
        "(one of the two forms, not both), every match type or one (`type`: `amount`, `status`, "
        "`missing_vima`, `missing_payshack`, `duplicate`, `matched`), ordered by day and id, "
        "each with its resolution (`resolved`, `resolved_by`, `resolved_at`, `note`). Columns: "
        + ", ".join(RECONCILIATION_COLUMNS)
        + ". The file is named `reconciliation_<date>` or `reconciliation_<from>_<to>`. "
        + _FORMATS
    ),
    response_class=ExportResponse,
    responses=_file_responses("The reconciliation results"),
)
def export_reconciliation(
    _role: ReaderDep,
    engine: EngineDep,
    fmt: FormatQuery = ExportFormat.CSV,
    day: DayQuery = None,
    from_date: FromQuery = None,
    to_date: ToQuery = None,
    type_: TypeQuery = None,
) -> ExportResponse:
    """The reconciliation results of the days as a CSV or XLSX attachment."""
    days = reconciliation_days(day, from_date, to_date)
    filename = export_filename(
        "reconciliation", fmt, days.from_date, None if days.single_day else days.to_date
    )
    match_type = EXPORT_MATCH_TYPES[type_] if type_ is not None else None
    if fmt is ExportFormat.XLSX:
        query = reconciliation_export_query(days.from_date, days.to_date, match_type)
        return xlsx_response(engine, query, "reconciliation", filename)
    query = reconciliation_export_query(
        days.from_date, days.to_date, match_type, booleans_as_text=True
    )
    return csv_response(engine, query, filename)
