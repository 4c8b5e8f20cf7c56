"""The scenario: what the stand-ins serve and what reconciling it must give; `generate`."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from random import Random
from typing import Any

from .builder import Builder
from .cases import build_days
from .constants import DEFAULT_PROJECTS, SANDBOX_CLIENT_PROJECT_MAP
from .formatting import dumps
from .live import LiveFeed
from .truth import LateChange


@dataclass(slots=True)
class Scenario:
    """Everything the stand-ins serve, and what reconciling it must give."""

    seed: int
    start: date
    days: int
    per_day: int
    client_project_map: dict[str, str]
    vima_operations: list[dict[str, Any]] = field(default_factory=list, repr=False)
    payshack_payins: list[dict[str, Any]] = field(default_factory=list, repr=False)
    payshack_payouts: list[dict[str, Any]] = field(default_factory=list, repr=False)
    late_changes: list[LateChange] = field(default_factory=list, repr=False)
    truth: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Expected results of the whole scenario (every object, every late change). In live mode
    the stand-ins serve an object only once its creation time has passed (and the live feed
    adds payments of its own), so today's truth is complete only after the day is over."""
    projects: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PROJECTS))
    """Share of Vima operations per project (the `projects` argument of `generate`)."""
    counters: dict[str, int] = field(default_factory=dict)
    """Last ids used (`operation_id`, `operation_create_id`, `operation_update_id`, `key`,
    `payin_txn`, `payout_txn`); a `LiveFeed` continues after them."""

    def truth_by_day(self) -> dict[str, list[dict[str, Any]]]:
        """Truth entries grouped by `recon_date`, days ascending."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in self.truth:
            grouped.setdefault(entry["recon_date"], []).append(entry)
        return dict(sorted(grouped.items()))

    def truth_document(self) -> dict[str, Any]:
        """The truth with the arguments that produced it (what `hub sandbox truth` writes)."""
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "per_day": self.per_day,
            "client_project_map": dict(self.client_project_map),
            "results": self.truth,
        }

    def to_json(self) -> bytes:
        """The whole scenario as canonical JSON (sorted keys): same arguments, same bytes."""
        doc = self.truth_document()
        doc.update(
            vima_operations=self.vima_operations,
            payshack_payins=self.payshack_payins,
            payshack_payouts=self.payshack_payouts,
            late_changes=[asdict(change) for change in self.late_changes],
            projects=self.projects,
            counters=self.counters,
        )
        return dumps(doc)

    def live_feed(self, ops_per_minute: int = 30) -> LiveFeed:
        """A feed of new payments continuing after this scenario's ids and cursors."""
        return LiveFeed(self, ops_per_minute=ops_per_minute)


def generate(
    seed: int = 42,
    start: date = date(2026, 1, 1),
    days: int = 7,
    per_day: int = 2000,
    projects: dict[str, float] | None = None,
) -> Scenario:
    """Build `days` UTC days from `start` with about `per_day` Vima operations a day.

    `projects` maps a Vima project to its share of operations (default `DEFAULT_PROJECTS`).
    Everything derives from `random.Random(seed)`: equal arguments give equal scenarios.
    """
    builder = Builder(Random(seed), start, dict(SANDBOX_CLIENT_PROJECT_MAP), projects)
    with _gc_paused(freeze=days * per_day >= 50_000):
        build_days(builder, days, per_day)
        vima, payins, payouts = builder.assign_ids()
        return Scenario(
            seed=seed,
            start=start,
            days=days,
            per_day=per_day,
            client_project_map=dict(SANDBOX_CLIENT_PROJECT_MAP),
            vima_operations=vima,
            payshack_payins=payins,
            payshack_payouts=payouts,
            late_changes=builder.late_changes(),
            truth=builder.truth(),
            projects=dict(sorted((projects or DEFAULT_PROJECTS).items())),
            counters=dict(builder.counters),
        )


@contextmanager
def _gc_paused(freeze: bool) -> Iterator[None]:
    """Pause the cyclic garbage collector while building; then `freeze` what exists.

    A big scenario is millions of small acyclic dicts. Scanning them is all a collection would
    do (seconds per full pass at 200 000 operations a day), so they go to the permanent
    generation (`gc.freeze`); reference counting still frees them once they are dropped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()
