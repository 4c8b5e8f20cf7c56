"""What every write to the hub tables shares: payload hashing, provider timestamps, batches
and the counts an upsert reports."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from hub_core.timeutil import parse_utc


@dataclass(slots=True)
class UpsertCounts:
    """How many rows an upsert inserted, changed, or left as they were."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: UpsertCounts) -> None:
        """Accumulate `other` into this count."""
        self.new += other.new
        self.updated += other.updated
        self.unchanged += other.unchanged

    @property
    def written(self) -> int:
        """Rows inserted or changed."""
        return self.new + self.updated


def canonical_json(payload: Any) -> bytes:
    """A provider payload as JSON with sorted keys: the same content gives the same bytes."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)


def content_hash(canonical: bytes) -> str:
    """Hash of canonical JSON bytes (see `canonical_json`)."""
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def payload_hash(payload: Any) -> str:
    """Stable content hash of a provider payload (key order does not matter)."""
    return content_hash(canonical_json(payload))


def counts_of(rows: Sequence[Any], total: int) -> UpsertCounts:
    """The counts of an upsert of `total` rows from what it returned: one row per row written,
    whose first column is `xmax = 0` (true: inserted, false: updated)."""
    new = sum(1 for row in rows if row[0])
    return UpsertCounts(new=new, updated=len(rows) - new, unchanged=total - len(rows))


def optional_time(value: Any, parse: Callable[[Any], datetime] = parse_utc) -> datetime | None:
    """A provider timestamp as UTC (read by `parse`, ISO 8601 by default), or None when it is
    missing or unreadable."""
    try:
        return parse(value) if value else None
    except ValueError:
        return None  # kept raw; the normalizer reports the bad field


def optional_int(value: Any) -> int | None:
    """A provider's integer id as an int, or None when it is missing or not all digits."""
    text_value = str(value).strip() if value is not None else ""
    return int(text_value) if text_value.isdigit() else None


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Lists of at most `size` items, in order."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
