"""What happens after the initial state and what reconciling must give: late changes, truth.

The builder records both while the objects still lack ids (ids follow creation order, known
only once every object exists): a `TruthEntry` or `PendingChange` holds the objects themselves
and renders its ids once they are filled in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from .formatting import date_of_ms, ms_datetime

Source = Literal["vima", "payshack"]
"""The provider an object belongs to."""

Kind = Literal["payin", "payout"]
"""The kind of a PayShack row (the direction of its payment)."""


@dataclass(slots=True)
class LateChange:
    """A change to one provider object that happens at `at` (UTC)."""

    at: datetime
    source: Source
    key: str  # Vima operation_id, or PayShack txnId
    changes: dict[str, Any]
    kind: Kind | None = None  # PayShack only


@dataclass(slots=True)
class PendingChange:
    """A late change of `target`, recorded before the target has its id."""

    at_ms: int
    seq: int
    """Recording order: breaks ties between changes at the same millisecond."""
    source: Source
    target: dict[str, Any]
    changes: dict[str, Any]
    kind: Kind | None

    @property
    def target_id(self) -> str:
        """The target's Vima `operation_id` or PayShack `txnId` (empty until assigned)."""
        return self.target["operation_id" if self.source == "vima" else "txnId"]


def resolve_changes(pending: Iterable[PendingChange]) -> list[LateChange]:
    """The late changes of `pending` (targets with ids), sorted by time then recording."""
    return [
        LateChange(
            ms_datetime(change.at_ms), change.source, change.target_id, change.changes, change.kind
        )
        for change in sorted(pending, key=lambda change: (change.at_ms, change.seq))
    ]


@dataclass(slots=True)
class TruthEntry:
    """The expected result of one pair or orphan, recorded before its objects have ids."""

    case: str
    match_type: str
    method: str | None
    direction: str
    project: str
    op: dict[str, Any] | None
    """The Vima operation, if the result has one."""
    row: dict[str, Any] | None
    """The PayShack row, if the result has one."""
    recon_ms: int
    """The creation time (epoch ms) that decides the result's `recon_date`."""
    initial: str | None = None
    """The match type before the late changes, where they alter it."""

    def resolve(self) -> dict[str, Any]:
        """The truth entry as `Scenario.truth` holds it (ids assigned)."""
        op, row = self.op, self.row
        entry: dict[str, Any] = {
            "recon_date": date_of_ms(self.recon_ms),
            "match_type": self.match_type,
            "match_method": self.method,
            "case": self.case,
            "direction": self.direction,
            "project": self.project,
            "vima_operation_id": op["operation_id"] if op is not None else None,
            "payshack_txn_id": row["txnId"] if row is not None else None,
            "payshack_kind": self.direction if row is not None else None,
            "client_operation_id": op["client_operation_id"] if op is not None else None,
            "order_id": row["orderId"] if row is not None else None,
        }
        if self.initial is not None:
            entry["initial_match_type"] = self.initial
        return entry


def resolve_truth(pending: Iterable[TruthEntry]) -> list[dict[str, Any]]:
    """The truth entries of `pending` (ids assigned), sorted deterministically."""
    return sorted((entry.resolve() for entry in pending), key=_truth_order)


def _truth_order(entry: dict[str, Any]) -> tuple[str, ...]:
    """Sort key of truth entries: day, then Vima id, then PayShack kind and id."""
    return (
        entry["recon_date"],
        entry["vima_operation_id"] or "",
        entry["payshack_kind"] or "",
        entry["payshack_txn_id"] or "",
    )
