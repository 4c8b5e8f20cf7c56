"""Live mode: new payments arriving "now", continuing a scenario's ids and cursors."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from random import Random
from typing import TYPE_CHECKING, Any

from .builder import Builder
from .formatting import epoch_ms
from .truth import LateChange, PendingChange, resolve_changes

if TYPE_CHECKING:
    from .model import Scenario


@dataclass(slots=True)
class LiveBatch:
    """What appeared between the previous `LiveFeed.tick` and this one."""

    vima_operations: list[dict[str, Any]] = field(default_factory=list)
    payshack_payins: list[dict[str, Any]] = field(default_factory=list)
    payshack_payouts: list[dict[str, Any]] = field(default_factory=list)
    late_changes: list[LateChange] = field(default_factory=list)


class LiveFeed:
    """New payments arriving "now", for a live demo of the stand-ins.

    `tick(now)` creates the Vima operations of (previous tick, now], the PayShack rows that
    mirror earlier operations once their 1-90 s lag has passed, and late changes that settle
    pending payments a few minutes after creation (returned once their target has an id; apply
    them when `at` has passed). Ids continue after the scenario's (`Scenario.counters`); the
    output depends only on the seed and the sequence of `now` values. Stand-ins applying a Vima
    late change take its new `operation_update_id` from `next_update_id()`, so that cursor stays
    monotonic across new operations and changes.
    """

    def __init__(self, scenario: Scenario, ops_per_minute: int = 30) -> None:
        self._rng = Random(scenario.seed * 1_000_003 + 12_345)
        self._builder = Builder(
            self._rng,
            scenario.start,
            dict(scenario.client_project_map),
            scenario.projects,
            counters=scenario.counters,
        )
        self._per_ms = ops_per_minute / 60_000
        self._last_ms: int | None = None
        self._due: list[tuple[int, int, str, dict[str, Any]]] = []  # created, seq, kind, row
        self._changes: list[PendingChange] = []
        self._seq = itertools.count()

    def next_update_id(self) -> str:
        """A fresh Vima `operation_update_id`, above every one handed out so far."""
        return self._builder.next_update_id()

    def tick(self, now: datetime) -> LiveBatch:
        """Everything created in (previous tick, `now`]; the first tick covers one minute."""
        now_ms = epoch_ms(now)
        last = now_ms - 60_000 if self._last_ms is None else self._last_ms
        now_ms = max(now_ms, last)
        self._last_ms = now_ms
        expected = min((now_ms - last) * self._per_ms, 1000.0)
        count = int(expected) + (self._rng.random() < expected - int(expected))
        span = now_ms - last
        times = sorted(last + 1 + int(self._rng.random() * span) for _ in range(count))
        for t in times:
            self._new_payment(t)
        return LiveBatch(
            vima_operations=self._take_vima(),
            payshack_payins=self._take_rows(now_ms, "payin"),
            payshack_payouts=self._take_rows(now_ms, "payout"),
            late_changes=self._take_changes(),
        )

    def _new_payment(self, t: int) -> None:
        """One new payment created at `t`, with its mirror and settlement queued."""
        b, r = self._builder, self._rng.random
        project = b.pick_project()
        if not b.is_mapped(project):
            currency = b.pick_currency(project)
            b.vima_op(
                project,
                "payin",
                b.amount(currency),
                b.pick_status(),
                t,
                b.new_key(project),
                currency,
            )
            return
        direction = "payout" if r() < 0.2 else "payin"
        minor, key, roll = b.amount(), b.new_key(project), r()
        if roll < 0.8:  # final at once, consistent on both sides
            status = "success" if r() < 0.85 else "fail"
            b.pair(
                project, direction, minor, status, b.raw_status(status), t, t + b.lag_ms(), key=key
            )
        elif roll < 0.9:  # Vima pending, PayShack paid: Vima settles minutes later
            op, _, _ = b.pair(
                project, direction, minor, "in_process", "Success", t, t + b.lag_ms(), key=key
            )
            b.settle_vima_later(op, minor, t + 120_000 + int(r() * 480_000))
        elif roll < 0.97:  # PayShack pending: settles minutes later
            _, row, _ = b.pair(
                project, direction, minor, "success", "Pending", t, t + b.lag_ms(), key=key
            )
            b.settle_payshack_later(row, direction, minor, t + 120_000 + int(r() * 480_000))
        else:  # never reaches PayShack
            b.vima_op(project, direction, minor, b.pick_status(), t, key)

    def _take_vima(self) -> list[dict[str, Any]]:
        """The new Vima operations, with ids in creation order."""
        b = self._builder
        ops = b.take_operations()
        for op in ops:
            for name in ("operation_id", "operation_create_id", "operation_update_id"):
                op[name] = str(b.next_counter(name))
            op["operation_modified_at"] = op["operation_created_at"]
            if "complete_created_at" in op:
                op["complete_created_at"] = op["operation_created_at"]
        return ops

    def _take_rows(self, now_ms: int, kind: str) -> list[dict[str, Any]]:
        """The PayShack rows of `kind` whose creation time has come, with ids."""
        b = self._builder
        self._due.extend(
            (created, next(self._seq), kind, row) for created, row in b.take_rows(kind)
        )
        self._due.sort(key=itemgetter(0, 1))
        ready = [item for item in self._due if item[0] <= now_ms and item[2] == kind]
        self._due = [item for item in self._due if not (item[0] <= now_ms and item[2] == kind)]
        for *_, row in ready:
            row["txnId"] = b.next_txn_id(kind)
            row["modifiedAt"] = row["createdAt"]
        return [row for *_, row in ready]

    def _take_changes(self) -> list[LateChange]:
        """The queued late changes whose target already has an id."""
        self._changes.extend(self._builder.take_changes())
        ready = [change for change in self._changes if change.target_id]
        self._changes = [change for change in self._changes if not change.target_id]
        return resolve_changes(ready)
