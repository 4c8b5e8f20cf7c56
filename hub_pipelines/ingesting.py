"""What an ingestion run of a partition reports, the same for every source: per stream (a Vima
cursor stream, a PayShack list) what was read and landed, and in sum; and the collector
setting an ingestion runs under."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hub_pipelines.warehouse.rows import UpsertCounts


@dataclass(slots=True)
class StreamReport:
    """What reading one stream of a partition did."""

    rows: UpsertCounts = field(default_factory=UpsertCounts)
    fetched: int = 0
    pages: int = 0
    cursor: str | None = None
    """Where the stream stopped (a provider cursor), when it has one."""
    complete: bool = True
    """False when the stream could not be read whole (a list that kept moving)."""
    passes: int = 1
    shifted: bool = False
    """Whether the stream moved while it was read (rows added or reordered meanwhile)."""


@dataclass(slots=True)
class IngestReport:
    """What one ingestion run of a partition did, per stream and in sum."""

    streams: dict[str, StreamReport] = field(default_factory=dict)
    skipped_without_id: int = 0
    details: dict[str, Any] = field(default_factory=dict)
    """Source-specific facts for the run's metadata (requests and retries, session reuse)."""
    seconds: float = 0.0

    def stream(self, name: str) -> StreamReport:
        """The report of stream `name`, created empty on first use."""
        return self.streams.setdefault(name, StreamReport())

    @property
    def fetched(self) -> int:
        """Records read from the provider over every stream."""
        return sum(s.fetched for s in self.streams.values())

    @property
    def pages(self) -> int:
        """Pages read over every stream."""
        return sum(s.pages for s in self.streams.values())

    @property
    def rows(self) -> UpsertCounts:
        """Raw rows landed over every stream: new, changed, unchanged."""
        total = UpsertCounts()
        for s in self.streams.values():
            total.add(s.rows)
        return total

    @property
    def complete(self) -> bool:
        """Whether every stream was read whole."""
        return all(s.complete for s in self.streams.values())

    @property
    def cursors(self) -> dict[str, str | None]:
        """Where each stream stopped."""
        return {name: s.cursor for name, s in self.streams.items()}


@contextmanager
def few_collections(young: int = 50_000) -> Iterator[None]:
    """Run the block with the cyclic garbage collector's passes far apart, then restore them.

    An ingestion allocates and drops millions of short-lived objects (each provider record is
    a tree of dicts and strings, freed by reference counting as soon as it is written), and
    what sits in the queues between threads survives into the older generations: with the
    default thresholds (700, 10, 10) the collector kept rescanning them, a quarter of a
    200,000-operation Vima run's CPU (issue 14). Collections still run, every `young`
    allocations instead of every 700 (the older generations at their usual ratios, so cyclic
    garbage is still found within a run). Process-wide: one run per process here.
    """
    before = gc.get_threshold()
    gc.set_threshold(young, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
