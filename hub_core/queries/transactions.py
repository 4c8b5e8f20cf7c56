"""The transaction list (offset or keyset paging), its count, and one transaction's detail."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)

from hub_core.queries.filters import TransactionFilters, as_uuid, transaction_clauses
from hub_core.queries.metrics import count_from_metrics
from hub_core.tables import transactions
from hub_core.timeutil import parse_utc

SortBy = Literal["created_at", "amount", "status", "project"]
Order = Literal["asc", "desc"]
SORT_COLUMNS: dict[str, Any] = {
    "created_at": transactions.c.created_at,
    "amount": transactions.c.amount,
    "status": transactions.c.status,
    "project": transactions.c.project,
}
"""The columns a list may be sorted by (API.md's `sort_by`); ties break on created_at, id."""

LIST_COLUMNS = tuple(c for c in transactions.c if c.name not in ("raw_data", "data_hash"))
"""What a list item carries: every column but the provider payload (the detail has it) and
the internal change hash."""

COUNT_CAP = 10_000
"""An exact count stops here; past it the total comes from hourly_metrics or is capped."""


class InvalidCursor(ValueError):
    """A `cursor` that this API did not issue for this sort."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows and the cursor of the next page (None after the last)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(sort_by: str, order: str, row: dict[str, Any]) -> str:
    """An opaque cursor pointing after `row` in the (sort_by, order) ordering."""
    value = row[sort_by]
    payload = {
        "s": sort_by,
        "o": order,
        "v": None if value is None else str(value),
        "c": row["created_at"].isoformat(),
        "i": str(row["id"]),
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str, sort_by: str, order: str) -> tuple[Any, datetime, str]:
    """(sort value, created_at, id) of a cursor; raises `InvalidCursor` for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["s"] != sort_by or payload["o"] != order:
            raise InvalidCursor("the cursor belongs to another sort_by/order")
        created = parse_utc(payload["c"])
        ident = str(payload["i"])
        raw = payload["v"]
        if sort_by == "created_at":
            value: Any = created
        elif sort_by == "amount":
            value = Decimal(raw)
        else:
            value = None if raw is None else str(raw)
        return value, created, ident
    except InvalidCursor:
        raise
    except (ValueError, KeyError, TypeError, InvalidOperation, binascii.Error):
        raise InvalidCursor("the cursor is not one this API issued") from None


def _after(sort_by: str, order: str, value: Any, created: datetime, ident: str) -> Any:
    """Rows strictly after the cursor row in the ordering (PostgreSQL's NULL placement:
    last ascending, first descending)."""
    c = transactions.c
    desc = order == "desc"
    tail = tuple_(c.created_at, c.id)
    point = tuple_(literal(created, c.created_at.type), literal(ident, c.id.type))
    tail_after = tail < point if desc else tail > point
    if sort_by == "created_at":
        bound = c.created_at <= created if desc else c.created_at >= created
        return and_(bound, tail_after)
    col = SORT_COLUMNS[sort_by]
    if value is None:  # only project can be NULL
        same = and_(col.is_(None), tail_after)
        return or_(same, col.is_not(None)) if desc else same
    beyond = col < value if desc else col > value
    clause: ColumnElement[bool] = or_(beyond, and_(col == value, tail_after))
    if not desc:
        clause = or_(clause, col.is_(None))
    return clause


def _ordering(sort_by: str, order: str) -> list[Any]:
    c = transactions.c
    keys = (
        [c.created_at, c.id]
        if sort_by == "created_at"
        else [SORT_COLUMNS[sort_by], c.created_at, c.id]
    )
    return [k.desc() if order == "desc" else k.asc() for k in keys]


SEARCH_HITS_CAP = 1000
"""A search matching at most this many rows is read by its keys (see `_search_first`)."""


def _search_first(conn: Connection, filters: TransactionFilters) -> list[Any]:
    """The list's WHERE clauses; for a search, the keys of its few matches.

    A search matches a handful of rows through its indexes, but with ORDER BY ... LIMIT the
    planner may walk the created_at index instead and filter millions of rows (it cannot
    know how rare the term is). So the matching keys are fetched first (index lookups only),
    and the page is read by those keys; a term matching more rows than the cap keeps the
    plain plan.
    """
    clauses = transaction_clauses(filters)
    if not filters.search:
        return clauses
    c = transactions.c
    keys = conn.execute(select(c.id, c.created_at).where(*clauses).limit(SEARCH_HITS_CAP + 1)).all()
    if len(keys) > SEARCH_HITS_CAP:
        return clauses
    if not keys:
        return [false()]
    return [tuple_(c.id, c.created_at).in_([tuple(k) for k in keys])]


def list_transactions(
    conn: Connection,
    filters: TransactionFilters,
    *,
    sort_by: str = "created_at",
    order: str = "desc",
    limit: int = 50,
    page: int = 1,
    cursor: str | None = None,
) -> Page:
    """A page of transactions: after `cursor` when given (keyset), else at `page` (offset)."""
    ordering = _ordering(sort_by, order)
    clauses = _search_first(conn, filters)
    if cursor:
        query = (
            select(*LIST_COLUMNS)
            .where(*clauses)
            .where(_after(sort_by, order, *decode_cursor(cursor, sort_by, order)))
            .order_by(*ordering)
            .limit(limit + 1)
        )
    else:
        # a deferred join: the page's keys first (for the created_at order an index-only scan
        # of (created_at, id), however deep the offset), then only those rows are read
        c = transactions.c
        keys = (
            select(c.id, c.created_at)
            .where(*clauses)
            .order_by(*ordering)
            .offset((page - 1) * limit)
            .limit(limit + 1)
            .subquery("page_keys")
        )
        query = (
            select(*LIST_COLUMNS)
            .join_from(
                transactions,
                keys,
                and_(c.id == keys.c.id, c.created_at == keys.c.created_at),
            )
            .order_by(*ordering)
        )
    rows = [dict(row) for row in conn.execute(query).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(sort_by, order, rows[-1]) if more and rows else None
    return Page(rows=rows, next_cursor=next_cursor)


def count_transactions(
    conn: Connection, filters: TransactionFilters, cap: int | None = None
) -> int | None:
    """The exact number of matching rows, or None when there are more than `cap`
    (default `COUNT_CAP`): counting stops there, so a broad filter stays cheap."""
    cap = COUNT_CAP if cap is None else cap
    inner = (
        select(true()).select_from(transactions).where(*transaction_clauses(filters)).limit(cap + 1)
    )
    total = int(conn.execute(select(func.count()).select_from(inner.subquery())).scalar_one())
    return total if total <= cap else None


def list_total(
    conn: Connection, filters: TransactionFilters, grid_timezone: str
) -> tuple[int, bool]:
    """The total of a list and whether it is an estimate.

    With dimension filters only, `hourly_metrics` answers first (milliseconds at any size):
    past `COUNT_CAP` its count is the total (an estimate: it may lag rows written since the
    last metrics refresh, never count rows that do not exist). Otherwise, and for small sets,
    the rows are counted exactly up to `COUNT_CAP`; past it the total is the cap + 1.
    """
    known = 0
    if filters.dimensions_only():
        known = count_from_metrics(conn, filters, grid_timezone)
        if known > COUNT_CAP:
            return known, True
    exact = count_transactions(conn, filters)
    if exact is not None:
        return exact, False
    return max(known, COUNT_CAP + 1), True


def get_transaction(conn: Connection, ident: str) -> dict[str, Any] | None:
    """One transaction (with `raw_data`) by its hub id, or None (also for a text that is no
    UUID)."""
    ident = as_uuid(ident)
    if ident is None:
        return None
    row = conn.execute(select(transactions).where(transactions.c.id == ident)).mappings().first()
    return dict(row) if row else None
