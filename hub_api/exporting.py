"""Export writers: CSV streamed from PostgreSQL's `COPY`, XLSX built in a temporary file.

Memory stays bounded whatever the number of rows:

- CSV: `COPY (SELECT ...) TO STDOUT` on a pooled connection, its rows gathered into blocks of
  `CHUNK_BYTES` and streamed as they come; the database does the CSV quoting, the formula
  escaping and the time formatting (`hub_core.queries.exports`).
- XLSX: rows read through a server-side cursor (`yield_per`), written by an openpyxl write-only
  workbook (inline strings, rows flushed to disk) into a temporary file, which is then streamed
  back in chunks; the file is unlinked as soon as it is open, so nothing is left behind.

Every stream runs its blocking work in worker threads and is closed by `ExportResponse` when the
response ends for any reason: a client that disconnects mid-stream cancels the `COPY` and gives
the connection back to the pool.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import AsyncGenerator, Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, NamedTuple

import anyio
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import Engine, Select
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from hub_api.errors import invalid
from hub_core.logging import get_logger
from hub_core.queries.exports import copy_statement, escape_formula
from hub_core.timeutil import isoformat_z

log = get_logger(__name__)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

CHUNK_BYTES = 256 * 1024
"""Size of the blocks an export is sent in."""

XLSX_ROWS_PER_SHEET = 1_048_575
"""Data rows on one sheet: Excel's 1,048,576 rows less the header; more go on the next sheet."""

XLSX_FETCH_ROWS = 5_000
"""Rows fetched at a time from the server-side cursor that feeds a workbook."""

XLSX_MAX_TEXT = 32_767
"""The longest text an Excel cell holds; longer text is cut."""


class ExportFormat(StrEnum):
    """The file format of an export."""

    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES: dict[ExportFormat, str] = {
    ExportFormat.CSV: CSV_MEDIA_TYPE,
    ExportFormat.XLSX: XLSX_MEDIA_TYPE,
}


def export_filename(
    kind: str, fmt: ExportFormat, from_date: date | None = None, to_date: date | None = None
) -> str:
    """`<kind>_<from>_<to>.<fmt>`; `<kind>_<day>.<fmt>` when only `from_date` is given, and
    `<kind>_all.<fmt>` without a period."""
    if from_date is None:
        period = "all"
    elif to_date is None:
        period = from_date.isoformat()
    else:
        period = f"{from_date.isoformat()}_{to_date.isoformat()}"
    return f"{kind}_{period}.{fmt.value}"


def attachment_headers(filename: str) -> dict[str, str]:
    """The headers that make a browser save the response as `filename`."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


class ReconDays(NamedTuple):
    """The days of a reconciliation export and how its file name shows them."""

    from_date: date
    to_date: date
    single_day: bool


def reconciliation_days(
    day: date | None, from_date: date | None, to_date: date | None
) -> ReconDays:
    """The days a reconciliation export covers: `date`, or `from_date` and `to_date` (both).

    A 422 when neither form is given, when both are, when the range misses an end, or when
    `from_date` is after `to_date`.
    """
    if day is not None:
        if from_date is not None or to_date is not None:
            raise invalid("date", "either date or from_date/to_date, not both", day.isoformat())
        return ReconDays(day, day, True)
    if from_date is None and to_date is None:
        raise invalid("date", "a day (YYYY-MM-DD), or from_date and to_date", None)
    if from_date is None:
        raise invalid("from_date", "a day (YYYY-MM-DD) to go with to_date", None)
    if to_date is None:
        raise invalid("to_date", "a day (YYYY-MM-DD) to go with from_date", None)
    if from_date > to_date:
        raise invalid(
            "from_date",
            f"a date on or before to_date ({to_date.isoformat()})",
            from_date.isoformat(),
        )
    return ReconDays(from_date, to_date, False)


class ExportResponse(StreamingResponse):
    """A streamed file whose body iterator is always closed when the response ends, even when
    the client goes away mid-stream (Starlette then only cancels the sending task)."""

    body_iterator: AsyncGenerator[bytes, None]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the response, then close the stream (releasing its connection or file)."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.body_iterator.aclose()


async def _threaded(
    chunks: Iterator[bytes], first: bytes | None = None
) -> AsyncGenerator[bytes, None]:
    """`first` (if any) then the blocks of `chunks`, each pulled in a worker thread; `chunks` is
    closed in a worker thread however the iteration ends."""
    try:
        if first:
            yield first
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(chunks.close)


def copy_csv_chunks(
    engine: Engine, statement: str, params: dict[str, Any], *, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """The output of a `COPY ... TO STDOUT` in blocks of about `chunk_bytes`.

    The first block is the header line alone, so that starting the generator runs the
    statement. The connection comes from `engine`'s pool when the generator starts and goes
    back when it ends; closed early (client gone), the `COPY` is cancelled on the server first.
    """
    started = time.monotonic()
    raw = engine.raw_connection()
    header_sent = False
    try:
        with raw.driver_connection.cursor() as cursor:
            with cursor.copy(statement, params) as copy:
                buffer = bytearray()
                for block in copy:
                    buffer += block
                    if len(buffer) >= chunk_bytes or not header_sent:
                        header_sent = True  # the header line goes alone
                        yield bytes(buffer)
                        buffer.clear()
                if buffer:
                    yield bytes(buffer)
            log.info(
                "csv export streamed",
                rows=cursor.rowcount,
                seconds=round(time.monotonic() - started, 3),
            )
    except GeneratorExit:
        log.info("csv export cancelled", seconds=round(time.monotonic() - started, 3))
        raise
    finally:
        raw.close()  # back to the pool, which rolls the transaction back


def csv_response(engine: Engine, query: Select[Any], filename: str) -> ExportResponse:
    """A CSV attachment of `query`'s rows, streamed from `COPY`.

    The `COPY` starts before the response does, so a database that cannot run it gives an
    error response rather than a truncated file. Call from a worker thread.
    """
    statement, params = copy_statement(query, engine.dialect)
    chunks = copy_csv_chunks(engine, statement, params)
    first = next(chunks, None)  # on failure the generator has already released its connection
    return ExportResponse(
        _threaded(chunks, first), media_type=CSV_MEDIA_TYPE, headers=attachment_headers(filename)
    )


def xlsx_value(value: Any) -> Any:
    """A value as an XLSX cell: text without the characters XML cannot carry, escaped against
    formulas and cut to `XLSX_MAX_TEXT`; numbers and booleans as they are; times and days
    as ISO text (UTC with `Z`)."""
    if isinstance(value, str):
        return escape_formula(ILLEGAL_CHARACTERS_RE.sub("", value))[:XLSX_MAX_TEXT]
    if isinstance(value, datetime):
        return isoformat_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    return xlsx_value(str(value))


def write_xlsx(
    path: Path,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str,
    rows_per_sheet: int | None = None,
) -> int:
    """Write `rows` under a bold header of `columns` to a workbook at `path`; returns the
    number of data rows.

    Past `rows_per_sheet` rows (default `XLSX_ROWS_PER_SHEET`) the data continues on a new
    sheet (`<title> 2`, ...) under the header again. Write-only: memory does not grow with the
    rows.
    """
    per_sheet = rows_per_sheet or XLSX_ROWS_PER_SHEET
    workbook = Workbook(write_only=True)
    bold = Font(bold=True)

    def new_sheet(number: int) -> WriteOnlyWorksheet:
        sheet = workbook.create_sheet(title if number == 1 else f"{title} {number}")
        header = []
        for name in columns:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        return sheet

    total = 0
    sheet_number = 1
    sheet = new_sheet(sheet_number)
    on_sheet = 0
    try:
        for row in rows:
            if on_sheet == per_sheet:
                sheet_number += 1
                sheet = new_sheet(sheet_number)
                on_sheet = 0
            sheet.append([xlsx_value(value) for value in row])
            on_sheet += 1
            total += 1
        workbook.save(path)
    except BaseException:
        _discard_sheets(workbook)
        raise
    return total


def _discard_sheets(workbook: Workbook) -> None:
    """Close the sheets of a write-only workbook that will not be saved and remove their
    temporary files."""
    for sheet in workbook.worksheets:
        writer = getattr(sheet, "_writer", None)
        if writer is None:
            continue
        with contextlib.suppress(Exception):  # half-written: only the file matters now
            sheet.close()
        with contextlib.suppress(OSError, ValueError):  # already gone
            writer.cleanup()


def _file_chunks(handle: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The content of `handle` in blocks; the handle is closed at the end."""
    try:
        while chunk := handle.read(chunk_bytes):
            yield chunk
    finally:
        handle.close()


def xlsx_response(engine: Engine, query: Select[Any], title: str, filename: str) -> ExportResponse:
    """An XLSX attachment of `query`'s rows (sheets titled `title`).

    The workbook is written first (rows from a server-side cursor), into a temporary file that
    is unlinked once open and streamed from its handle. Call from a worker thread.
    """
    started = time.monotonic()
    descriptor, name = tempfile.mkstemp(prefix="hub-export-", suffix=".xlsx")
    os.close(descriptor)
    path = Path(name)
    try:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=XLSX_FETCH_ROWS).execute(
                query
            )
            rows = write_xlsx(path, list(result.keys()), result, title=title)
        handle = path.open("rb")
    finally:
        path.unlink(missing_ok=True)  # an open handle keeps the content until it is closed
    size = os.fstat(handle.fileno()).st_size
    log.info(
        "xlsx export written",
        rows=rows,
        bytes=size,
        seconds=round(time.monotonic() - started, 3),
    )
    headers = {**attachment_headers(filename), "Content-Length": str(size)}
    return ExportResponse(
        _threaded(_file_chunks(handle)), media_type=XLSX_MEDIA_TYPE, headers=headers
    )
