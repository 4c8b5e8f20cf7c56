"""Filters of the transaction list, shared by the list, its count, exports and metrics."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import ColumnElement, Table, and_, func, or_

from hub_core.queries.periods import Period
from hub_core.tables import transactions
from hub_core.types import Direction, Source, Status

_PHONE_NOISE = re.compile(r"[\s\-().]")


@dataclass(frozen=True, slots=True)
class TransactionFilters:
    """What a reader narrows transactions by; every field is optional (None: no filter)."""

    source: Source | None = None
    project: str | None = None
    status: Status | None = None
    direction: Direction | None = None
    currency: str | None = None
    period: Period | None = None
    search: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None

    def dimensions_only(self) -> bool:
        """Whether only columns `hourly_metrics` has (and the period) are filtered."""
        return self.search is None and self.min_amount is None and self.max_amount is None

    def with_period(self, period: Period | None) -> TransactionFilters:
        """The same filters over another period."""
        return replace(self, period=period)


def dimension_clauses(table: Table, filters: TransactionFilters) -> list[ColumnElement[bool]]:
    """Equality filters on the columns `transactions` and `hourly_metrics` share."""
    c = table.c
    clauses: list[ColumnElement[bool]] = []
    if filters.source is not None:
        clauses.append(c.source == filters.source.value)
    if filters.project is not None:
        # hourly_metrics stores a missing project as ''
        value = filters.project if table is transactions or filters.project else ""
        clauses.append(c.project == value)
    if filters.status is not None:
        clauses.append(c.status == filters.status.value)
    if filters.direction is not None:
        clauses.append(c.direction == filters.direction.value)
    if filters.currency is not None:
        clauses.append(c.currency == filters.currency)
    return clauses


def as_uuid(text: str) -> str | None:
    """`text` as a canonical UUID string (a hub transaction id), or None if it is not one."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def search_clause(term: str) -> ColumnElement[bool]:
    """Exact match of `term` on any id a person may paste: the hub id, the provider's id, the
    order id / client operation id, the UTR, the phone or the e-mail.

    Each branch is served by an index, so a search stays fast at any table size.
    """
    c = transactions.c
    term = term.strip()
    branches: list[ColumnElement[bool]] = [
        and_(c.source == source.value, c.source_id == term) for source in Source
    ]
    branches += [c.match_key == term, c.utr == term, c.user_phone == term]
    phone = _PHONE_NOISE.sub("", term)
    if phone != term and phone:
        branches.append(c.user_phone == phone)
    if "@" in term:
        branches.append(func.lower(c.user_email) == term.lower())
    ident = as_uuid(term)
    if ident is not None:
        branches.append(c.id == ident)
    return or_(*branches)


def transaction_clauses(filters: TransactionFilters) -> list[ColumnElement[bool]]:
    """Every filter of `filters` as clauses on `transactions`."""
    c = transactions.c
    clauses = dimension_clauses(transactions, filters)
    if filters.period is not None:
        clauses += [c.created_at >= filters.period.start, c.created_at < filters.period.end]
    if filters.search:
        clauses.append(search_clause(filters.search))
    if filters.min_amount is not None:
        clauses.append(c.amount >= filters.min_amount)
    if filters.max_amount is not None:
        clauses.append(c.amount <= filters.max_amount)
    return clauses
