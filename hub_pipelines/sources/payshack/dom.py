"""The dashboard table as rows: header texts -> the JSON field names the normalizer reads.

Pure functions; the browser hands over one whole page of cell texts at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

HEADER_FIELDS: dict[str, str] = {
    "order id": "orderId",
    "transaction id": "txnId",
    "txn id": "txnId",
    "sp txn id": "spTxnId",
    "utr": "utr",
    "amount": "amount",
    "paid amount": "paidAmount",
    "commission": "totalCommissionAmount",
    "charges": "txnCharges",
    "net amount": "netAmount",
    "status": "txnStatus",
    "client": "clientName",
    "client id": "clientId",
    "type": "transactionType",
    "payer vpa": "payerVpa",
    "upi id": "upiId",
    "bene name": "beneName",
    "bene account": "beneAccount",
    "bene ifsc": "beneIfsc",
    "created": "createdAt",
    "updated": "modifiedAt",
}
"""Dashboard column header (case-insensitive) -> PayShack JSON field name."""

EMPTY_CELLS = frozenset({"", "-", "—"})

READ_PAGE_JS = """
(n) => {
  if (location.pathname.startsWith('/login')) { return JSON.stringify({state: 'login'}); }
  const table = document.querySelector('#txn-table');
  if (!table) { return false; }
  const state = table.getAttribute('data-state');
  if (state === 'error') { return JSON.stringify({state}); }
  if (state !== 'loaded' || table.getAttribute('data-page') !== String(n)) { return false; }
  const headers = Array.from(table.querySelectorAll('thead th')).map(th => th.textContent.trim());
  const rows = Array.from(table.querySelectorAll('tbody tr'))
    .filter(tr => !tr.querySelector('td.empty'))
    .map(tr => Array.from(tr.cells, td => td.textContent.trim()));
  return JSON.stringify({state, headers, rows, page: table.getAttribute('data-page'),
                         total: table.getAttribute('data-total'),
                         totalPages: table.getAttribute('data-total-pages')});
}
"""
"""Waits for page `n` of the table and reads it whole in the same evaluation: one JSON
string (crossing the browser boundary as one value is far cheaper than nested arrays).
False while loading; `{state: error}` or `{state: login}` when the page failed or the
session expired."""


class UnknownTableLayout(ValueError):
    """The dashboard's table does not have the columns the reader needs."""


def header_fields(headers: Sequence[str]) -> list[str | None]:
    """Field name of each column (None for a column the hub does not read)."""
    return [HEADER_FIELDS.get(" ".join(h.split()).lower()) for h in headers]


def rows_from_table(headers: Sequence[str], cells: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
    """Rows as dicts keyed by JSON field name; empty cells (`-`) become None.

    Raises `UnknownTableLayout` when the table has no transaction id or amount column.
    """
    fields = header_fields(headers)
    missing = {"txnId", "amount", "txnStatus", "createdAt"} - set(filter(None, fields))
    if missing:
        raise UnknownTableLayout(
            f"dashboard table lacks columns for {sorted(missing)}; headers were {list(headers)}"
        )
    rows = []
    for row_cells in cells:
        row: dict[str, Any] = {}
        for field, value in zip(fields, row_cells, strict=False):
            if field is not None:
                row[field] = None if value in EMPTY_CELLS else value
        rows.append(row)
    return rows
