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
async ({page, clickAhead, timeoutMs, reactMs}) => {
  const n = String(page);
  const until = (probe, ms) => new Promise((resolve) => {
    const first = probe();
    if (first) { resolve(first); return; }
    let observer = null, poll = null, timer = null;
    const finish = (value) => {
      observer.disconnect(); clearInterval(poll); clearTimeout(timer); resolve(value);
    };
    const check = () => { const value = probe(); if (value) { finish(value); } };
    observer = new MutationObserver(check);
    observer.observe(document.documentElement, {subtree: true, childList: true, attributes: true});
    poll = setInterval(check, 100);
    timer = setTimeout(() => finish(null), Math.max(0, ms));
  });
  const shown = () => {
    if (location.pathname.startsWith('/login')) { return {state: 'login'}; }
    const table = document.querySelector('#txn-table');
    if (!table) { return null; }
    const state = table.getAttribute('data-state');
    if (state === 'error') { return {state}; }
    if (state !== 'loaded' || table.getAttribute('data-page') !== n) { return null; }
    return {state, table};
  };
  const found = await until(shown, timeoutMs);
  if (!found) { return JSON.stringify({state: 'timeout'}); }
  if (found.state !== 'loaded') { return JSON.stringify({state: found.state}); }
  const table = found.table;
  const headers = Array.from(table.querySelectorAll('thead th'), th => th.textContent.trim());
  const rows = Array.from(table.querySelectorAll('tbody tr'))
    .filter(tr => !tr.querySelector('td.empty'))
    .map(tr => Array.from(tr.cells, td => td.textContent.trim()));
  const out = {state: 'loaded', headers, rows, page: n,
               total: table.getAttribute('data-total'),
               totalPages: table.getAttribute('data-total-pages'), clicked: null};
  if (clickAhead && rows.length && page < Number(out.totalPages)) {
    out.clicked = 'unclickable';
    const next = document.querySelector('#next-page');
    if (next && next.isConnected && !next.disabled
        && next.checkVisibility({visibilityProperty: true})) {
      let box = next.getBoundingClientRect();
      if (box.top < 0 || box.left < 0 || box.bottom > innerHeight || box.right > innerWidth) {
        next.scrollIntoView({block: 'center', inline: 'center'});
        box = next.getBoundingClientRect();
      }
      const hit = box.width > 0 && box.height > 0
        && document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      if (hit && (hit === next || next.contains(hit))) {
        next.click();
        const moved = () => {
          const now = document.querySelector('#txn-table');
          return !now || now.getAttribute('data-state') !== 'loaded'
            || now.getAttribute('data-page') !== n;
        };
        out.clicked = (await until(moved, reactMs)) ? 'clicked' : 'ignored';
      }
    }
  }
  return JSON.stringify(out);
}
"""
"""Waits for page `page` of the table and reads it whole in the same evaluation: one JSON string
(crossing the browser boundary as one value is far cheaper than nested arrays); `{state:
error}`, `{state: login}` or `{state: timeout}` when the page failed, the session expired or
the page did not show within `timeoutMs`. The wait is event-driven: a `MutationObserver` on
the document (plus a 100 ms poll), so the page is read as soon as the dashboard renders it.

With `clickAhead`, when the reader will want the next page (this one has rows and is not the
last), the script clicks "Next" right after reading, so the dashboard fetches and renders the
next page while this one travels to Python. The click is on the real button, made only after
the checks a person's click implies, done in the page (Playwright's actionability checks but
"stable"): attached, enabled, visible, scrolled into view, and the button itself under the
point at its centre (not covered). It is the page's own click event (`isTrusted` false), so
whether it took effect is checked: `clicked` says what happened: `clicked` (the table left
this page within `reactMs`), `ignored` (it did not: the dashboard ignored a scripted click),
`unclickable` (the checks failed: nothing was clicked), null (no next page wanted). The
reader reaches the next page with Playwright's click after `ignored` or `unclickable`."""


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
