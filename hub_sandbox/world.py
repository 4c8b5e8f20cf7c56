"""In-memory state of the two stand-in providers, built from a `Scenario`.

The `World` holds the Vima operations and the PayShack pay-ins/pay-outs as the providers would
serve them right now, with the indexes the servers need to answer a page query in
O(log n + page size):

- Vima: operations sorted by `operation_create_id` (globally and per UTC creation day), and an
  append-only log of `(operation_update_id, operation_id)` (globally and per UTC creation day).
  When a late change gives an operation a new update id, a new entry is appended and the old one
  becomes stale (skipped while scanning), so each operation appears once, at its current update
  id. Serialized bytes of each operation are cached until it changes.
- PayShack: per table (pay-in, pay-out), rows sorted by `(createdAt, txnId)` per IST calendar day
  and per (IST day, lower-case status), so a dashboard page, newest first, is a slice.

Live mode (`World.start_live`) follows a clock (`datetime.now(UTC)` unless one is injected): a
provider never returns what has not happened yet, so the rows created after the clock's time
(the rest of today, when the scenario ends today) are held back in a queue ordered by creation
time, out of every index, and released into the indexes as their time passes: at every live
tick and right before answering any read. A released Vima operation takes the next
`operation_create_id` and `operation_update_id`, as a new one would, so both cursors stay
monotonic in the order operations become visible. Late changes are applied once their time has
passed, after the release of the rows created by then. Outside live mode every row is served
at once. The scenario's truth stays the full scenario's: in live mode, today's is complete only
after the day is over.

Objects of the `Scenario` are never mutated: a change replaces the stored dict by a shallow copy
with the changed top-level fields (copy on write), so a scenario can back several worlds.

Every public method is thread-safe (one re-entrant lock); the servers run in other threads than
the live-mode feeder.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import logging
import math
import random
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import orjson

from hub_core.timeutil import isoformat_z, parse_utc
from hub_sandbox.scenario import LateChange, Scenario


def dumps(value: Any) -> bytes:
    """Serialize `value` to compact JSON bytes."""
    return orjson.dumps(value)


log = logging.getLogger(__name__)

IST = timedelta(hours=5, minutes=30)
"""India Standard Time offset (no daylight saving)."""

PayShackKind = Literal["payin", "payout"]
PAYSHACK_KINDS: tuple[PayShackKind, ...] = ("payin", "payout")


def ist_date(value: datetime) -> date:
    """The IST calendar date of an aware datetime."""
    return (value.astimezone(UTC) + IST).date()


def _utc_day(timestamp: str) -> date:
    """UTC calendar day of an ISO 8601 timestamp (fast path for the `...Z` form)."""
    if len(timestamp) >= 20 and timestamp[-1] in "Zz" and timestamp[10] == "T":
        return date(int(timestamp[0:4]), int(timestamp[5:7]), int(timestamp[8:10]))
    return parse_utc(timestamp).date()


def _timestamp(text: str) -> float:
    """Epoch seconds of an ISO 8601 timestamp (naive means UTC)."""
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
    except ValueError:
        parsed = parse_utc(text)
    return parsed.timestamp()


def _utc_now() -> datetime:
    """The wall-clock time, aware UTC (the default clock of a `World`)."""
    return datetime.now(UTC)


def _digits(value: Any, what: str) -> int:
    text = str(value)
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{what} must be a string of digits")
    return int(text)


def _format_like(template: str | None, value: datetime) -> str:
    """Format `value` (UTC) the way `template` is formatted (`...Z`, with or without millis)."""
    value = value.astimezone(UTC)
    if template and "." not in template[19:]:
        return value.strftime("%Y-%m-%dT%H:%M:%S") + ("Z" if template.endswith("Z") else "+00:00")
    return isoformat_z(value)


# --------------------------------------------------------------------------------------------
# Vima


class _Log:
    """Two parallel lists sorted by an integer key: `keys` (for bisect) and `ids`."""

    __slots__ = ("ids", "keys")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.ids: list[str] = []

    def append(self, key: int, op_id: str) -> None:
        if self.keys and key < self.keys[-1]:
            index = bisect.bisect_right(self.keys, key)
            self.keys.insert(index, key)
            self.ids.insert(index, op_id)
        else:
            self.keys.append(key)
            self.ids.append(op_id)

    def discard(self, gone: set[str]) -> None:
        """Drop every entry of the operations in `gone`."""
        kept = [
            (key, op_id)
            for key, op_id in zip(self.keys, self.ids, strict=True)
            if op_id not in gone
        ]
        self.keys = [key for key, _ in kept]
        self.ids = [op_id for _, op_id in kept]

    def ascending(self, after: int | None) -> Iterator[tuple[int, str]]:
        start = 0 if after is None else bisect.bisect_right(self.keys, after)
        keys, ids = self.keys, self.ids
        for index in range(start, len(keys)):
            yield keys[index], ids[index]

    def descending(self, after: int | None) -> Iterator[tuple[int, str]]:
        stop = 0 if after is None else bisect.bisect_right(self.keys, after)
        keys, ids = self.keys, self.ids
        for index in range(len(keys) - 1, stop - 1, -1):
            yield keys[index], ids[index]


@dataclass(slots=True)
class VimaQuery:
    """A parsed Vima operation query (see `hub_sandbox.vima` for the HTTP parameters)."""

    project: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    count: int = 20
    descending: bool = False
    after_create_id: int | None = None
    after_update_id: int | None = None


# --------------------------------------------------------------------------------------------
# PayShack


@dataclass(slots=True)
class PayShackQuery:
    """A parsed PayShack list query (`page` is 1-based; dates are IST calendar dates)."""

    page: int = 1
    limit: int = 10
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    order_id: str | None = None
    txn_id: str | None = None


_SortKey = tuple[float, str]


class _PayShackTable:
    """Rows of one PayShack list, indexed by IST day and by (IST day, lower-case status)."""

    def __init__(self, kind: PayShackKind) -> None:
        self.kind = kind
        self.rows: dict[str, dict[str, Any]] = {}
        self.cache: dict[str, bytes] = {}
        self.keys: dict[str, tuple[date, str, _SortKey]] = {}
        self.by_day: dict[date, list[_SortKey]] = {}
        self.by_day_status: dict[tuple[date, str], list[_SortKey]] = {}
        self.by_order: dict[str, set[str]] = {}
        self.days: list[date] = []

    @staticmethod
    def _index_values(row: Mapping[str, Any]) -> tuple[date, str, _SortKey]:
        text = str(row["createdAt"])
        try:
            created = datetime.fromisoformat(text)
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
        except ValueError:
            created = parse_utc(text)
        status = str(row.get("txnStatus") or "").lower()
        return ist_date(created), status, (created.timestamp(), str(row["txnId"]))

    def add(self, row: dict[str, Any]) -> None:
        txn_id = str(row["txnId"])
        if txn_id in self.rows:
            self.remove(txn_id)
        day, status, key = self._index_values(row)
        self.rows[txn_id] = row
        self.keys[txn_id] = (day, status, key)
        day_list = self.by_day.get(day)
        if day_list is None:
            day_list = self.by_day[day] = []
            bisect.insort(self.days, day)
        if not day_list or key > day_list[-1]:
            day_list.append(key)
        else:
            bisect.insort(day_list, key)
        status_list = self.by_day_status.setdefault((day, status), [])
        if not status_list or key > status_list[-1]:
            status_list.append(key)
        else:
            bisect.insort(status_list, key)
        order_id = row.get("orderId")
        if order_id is not None:
            self.by_order.setdefault(str(order_id), set()).add(txn_id)

    def remove(self, txn_id: str) -> dict[str, Any]:
        day, status, key = self.keys[txn_id]
        for sorted_list in (self.by_day[day], self.by_day_status[(day, status)]):
            index = bisect.bisect_left(sorted_list, key)
            if index < len(sorted_list) and sorted_list[index] == key:
                del sorted_list[index]
        return self._forget(txn_id)

    def _forget(self, txn_id: str) -> dict[str, Any]:
        """Drop `txn_id` from everything but the sorted lists; returns its row."""
        row = self.rows.pop(txn_id)
        self.cache.pop(txn_id, None)
        del self.keys[txn_id]
        order_id = row.get("orderId")
        if order_id is not None:
            self.by_order.get(str(order_id), set()).discard(txn_id)
        return row

    def hold_back(self, after: float, first_day: date) -> list[tuple[float, dict[str, Any]]]:
        """Remove the rows created after epoch second `after`; returns (creation, row) of each.

        Only IST days from `first_day` (the IST date of `after`) can hold such rows.
        """
        for (day, _status), status_list in self.by_day_status.items():
            if day >= first_day:
                status_list[:] = [key for key in status_list if key[0] <= after]
        held: list[_SortKey] = []
        for day in self.days[bisect.bisect_left(self.days, first_day) :]:
            day_list = self.by_day[day]
            held.extend(key for key in day_list if key[0] > after)
            day_list[:] = [key for key in day_list if key[0] <= after]
        return [(created, self._forget(txn_id)) for created, txn_id in held]

    def row_bytes(self, txn_id: str) -> bytes:
        cached = self.cache.get(txn_id)
        if cached is None:
            cached = self.cache[txn_id] = dumps(self.rows[txn_id])
        return cached

    def _segments(self, query: PayShackQuery) -> list[list[_SortKey]]:
        """Sorted lists to read, newest IST day first."""
        days = self.days
        lo = 0 if query.date_from is None else bisect.bisect_left(days, query.date_from)
        hi = len(days) if query.date_to is None else bisect.bisect_right(days, query.date_to)
        status = query.status.lower() if query.status else None
        segments = []
        for day in reversed(days[lo:hi]):
            if status is None:
                segment = self.by_day.get(day)
            else:
                segment = self.by_day_status.get((day, status))
            if segment:
                segments.append(segment)
        return segments

    def page(self, query: PayShackQuery) -> tuple[list[bytes], int]:
        """Serialized rows of the requested page (newest first) and the total matching."""
        offset = (query.page - 1) * query.limit
        if query.order_id is not None or query.txn_id is not None:
            matches = self._lookup(query)
            matches.sort(key=lambda txn: self.keys[txn][2], reverse=True)
            chosen = matches[offset : offset + query.limit]
            return [self.row_bytes(txn) for txn in chosen], len(matches)
        segments = self._segments(query)
        total = sum(len(segment) for segment in segments)
        out: list[bytes] = []
        skip = offset
        for segment in segments:
            size = len(segment)
            if skip >= size:
                skip -= size
                continue
            # newest first: position p from the top is index size - 1 - p
            top = size - 1 - skip
            skip = 0
            while top >= 0 and len(out) < query.limit:
                out.append(self.row_bytes(segment[top][1]))
                top -= 1
            if len(out) >= query.limit:
                break
        return out, total

    def _lookup(self, query: PayShackQuery) -> list[str]:
        if query.txn_id is not None:
            candidates = {query.txn_id} if query.txn_id in self.rows else set()
            if query.order_id is not None:
                candidates &= self.by_order.get(query.order_id, set())
        else:
            candidates = set(self.by_order.get(str(query.order_id), set()))
        status = query.status.lower() if query.status else None
        result = []
        for txn in candidates:
            day, row_status, _ = self.keys[txn]
            if status is not None and row_status != status:
                continue
            if query.date_from is not None and day < query.date_from:
                continue
            if query.date_to is not None and day > query.date_to:
                continue
            result.append(txn)
        return result


# --------------------------------------------------------------------------------------------
# Live feed plumbing


def _field(batch: Any, name: str) -> list[Any]:
    if batch is None:
        return []
    if isinstance(batch, Mapping):
        return list(batch.get(name) or [])
    return list(getattr(batch, name, None) or [])


class World:
    """Thread-safe in-memory state of Vima and PayShack, built from a `Scenario`.

    `clock` gives the current time (aware UTC; default the wall clock): live mode serves only
    the rows created by then, and it dates what the world creates itself.
    """

    def __init__(self, scenario: Scenario, clock: Callable[[], datetime] | None = None) -> None:
        self.scenario = scenario
        self._clock: Callable[[], datetime] = clock or _utc_now
        self._lock = threading.RLock()
        self._rng = random.Random(scenario.seed ^ 0x5A5D)
        # Vima
        self._ops: dict[str, dict[str, Any]] = {}
        self._op_bytes: dict[str, bytes] = {}
        self._op_update: dict[str, int] = {}
        self._op_create: dict[str, int] = {}
        self._op_day: dict[str, date] = {}
        self._create_all = _Log()
        self._create_day: dict[date, _Log] = {}
        self._update_all = _Log()
        self._update_day: dict[date, _Log] = {}
        self._vima_days: list[date] = []
        self._max_create_id = 0
        self._max_update_id = 0
        # PayShack
        self._tables: dict[PayShackKind, _PayShackTable] = {
            kind: _PayShackTable(kind) for kind in PAYSHACK_KINDS
        }
        self.inserted_payshack_rows: list[tuple[PayShackKind, dict[str, Any]]] = []
        """Rows added by the `insert_every` knob (not part of the scenario's truth)."""
        self._insert_seq = itertools.count(1)
        # late changes: heap of (at, seq, change)
        self._pending: list[tuple[datetime, int, LateChange]] = []
        self._seq = itertools.count()
        self.unmatched_changes = 0
        self.applied_changes = 0
        # live mode: rows not created yet, heap of (creation epoch s, seq, source, row)
        self._held: list[tuple[float, int, str, dict[str, Any]]] = []
        self._follow_clock = False
        # live mode
        self._live_thread: threading.Thread | None = None
        self._live_stop = threading.Event()
        self.live_ticks = 0
        self.live_errors = 0
        self._update_id_source: Callable[[], Any] | None = None

        self._build_vima(scenario.vima_operations)
        for row in scenario.payshack_payins:
            self._tables["payin"].add(row)
        for row in scenario.payshack_payouts:
            self._tables["payout"].add(row)
        for change in scenario.late_changes:
            self._push_change(change)

    # ---------------------------------------------------------------- building

    def _build_vima(self, operations: Iterable[dict[str, Any]]) -> None:
        entries = []
        days: dict[str, date] = {}
        ops, op_day = self._ops, self._op_day
        op_update, op_create = self._op_update, self._op_create
        for op in operations:
            op_id = str(op["operation_id"])
            create_id = _digits(op["operation_create_id"], "operation_create_id")
            update_id = _digits(op["operation_update_id"], "operation_update_id")
            created = str(op["operation_created_at"])
            if created.endswith("Z"):  # UTC: the day is the date part (cached)
                day = days.get(created[:10]) or days.setdefault(created[:10], _utc_day(created))
            else:
                day = _utc_day(created)
            ops[op_id] = op
            op_update[op_id] = update_id
            op_create[op_id] = create_id
            op_day[op_id] = day
            entries.append((create_id, update_id, op_id, day))
        for position, (logs, everything) in enumerate(
            ((self._create_day, self._create_all), (self._update_day, self._update_all))
        ):
            entries.sort(key=lambda entry, p=position: entry[p])  # type: ignore[misc]
            for entry in entries:
                key, op_id, day = entry[position], entry[2], entry[3]
                everything.keys.append(key)
                everything.ids.append(op_id)
                log_ = logs.get(day) or self._day_log(logs, day)
                log_.keys.append(key)
                log_.ids.append(op_id)
        if entries:
            self._max_create_id = max(entry[0] for entry in entries)
            self._max_update_id = max(entry[1] for entry in entries)

    def _day_log(self, logs: dict[date, _Log], day: date) -> _Log:
        found = logs.get(day)
        if found is None:
            found = logs[day] = _Log()
            if day not in self._vima_days:
                bisect.insort(self._vima_days, day)
        return found

    # ---------------------------------------------------------------- Vima reads

    def vima_count(self) -> int:
        """Number of Vima operations."""
        with self._lock:
            self._catch_up()
            return len(self._ops)

    def vima_operation(self, operation_id: str) -> dict[str, Any] | None:
        """The current state of one operation (a copy), or None."""
        with self._lock:
            self._catch_up()
            op = self._ops.get(operation_id)
            return dict(op) if op is not None else None

    def vima_operations(self, day: date | None = None) -> list[dict[str, Any]]:
        """Current operations (shallow copies), ascending create id; only `day` (UTC) if given."""
        with self._lock:
            self._catch_up()
            log_ = self._create_all if day is None else self._create_day.get(day, _Log())
            return [dict(self._ops[op_id]) for op_id in log_.ids]

    def vima_ids(self, query: VimaQuery) -> list[str]:
        """Operation ids answering `query`, in response order."""
        with self._lock:
            self._catch_up()
            return list(itertools.islice(self._vima_iter(query), query.count))

    def vima_page(self, query: VimaQuery) -> tuple[bytes, int]:
        """The JSON array answering `query`, serialized, and how many operations it holds."""
        with self._lock:
            parts = [self._vima_bytes(op_id) for op_id in self.vima_ids(query)]
        return b"[" + b",".join(parts) + b"]", len(parts)

    def _vima_bytes(self, op_id: str) -> bytes:
        cached = self._op_bytes.get(op_id)
        if cached is None:
            cached = self._op_bytes[op_id] = dumps(self._ops[op_id])
        return cached

    def _vima_iter(self, query: VimaQuery) -> Iterator[str]:
        by_update = query.after_update_id is not None
        if query.date_from is None and query.date_to is None:
            logs = [self._update_all if by_update else self._create_all]
        else:
            days = self._vima_days
            lo = 0 if query.date_from is None else bisect.bisect_left(days, query.date_from)
            hi = len(days) if query.date_to is None else bisect.bisect_right(days, query.date_to)
            source = self._update_day if by_update else self._create_day
            logs = [source[day] for day in days[lo:hi] if day in source]
        after = query.after_update_id if by_update else query.after_create_id
        if query.descending:
            streams = [log_.descending(after) for log_ in logs]
        else:
            streams = [log_.ascending(after) for log_ in logs]
        if len(streams) == 1:
            merged: Iterator[tuple[int, str]] = streams[0]
        else:
            merged = heapq.merge(*streams, key=lambda entry: entry[0], reverse=query.descending)
        ops, current, created = self._ops, self._op_update, self._op_create
        create_after = query.after_create_id if by_update else None
        project, status = query.project, query.status
        for key, op_id in merged:
            if by_update and current[op_id] != key:
                continue  # stale entry: the operation has a newer update id
            if project is None and status is None and create_after is None:
                yield op_id
                continue
            op = ops[op_id]
            if project is not None and op.get("project") != project:
                continue
            if status is not None and op.get("current_status") != status:
                continue
            if create_after is not None and created[op_id] <= create_after:
                continue
            yield op_id

    # ---------------------------------------------------------------- Vima writes

    def add_vima_operation(self, op: Mapping[str, Any]) -> dict[str, Any]:
        """Add a new operation; ids not above the current maxima are replaced by the next ones.

        Returns the stored operation (cursors are strings of digits).
        """
        with self._lock:
            stored = dict(op)
            create_id = stored.get("operation_create_id")
            if create_id is None or _digits(create_id, "create id") <= self._max_create_id:
                create_id = self._max_create_id + 1
            update_id = stored.get("operation_update_id")
            if update_id is None or _digits(update_id, "update id") <= self._max_update_id:
                update_id = self._max_update_id + 1
            create_int, update_int = int(create_id), int(update_id)
            stored["operation_create_id"] = str(create_int)
            stored["operation_update_id"] = str(update_int)
            now = isoformat_z(self._clock())
            stored.setdefault("operation_created_at", now)
            stored.setdefault("operation_modified_at", stored["operation_created_at"])
            op_id = str(stored["operation_id"])
            if op_id in self._ops:
                raise ValueError(f"operation {op_id} already exists")
            day = _utc_day(str(stored["operation_created_at"]))
            self._ops[op_id] = stored
            self._op_update[op_id] = update_int
            self._op_create[op_id] = create_int
            self._op_day[op_id] = day
            self._create_all.append(create_int, op_id)
            self._day_log(self._create_day, day).append(create_int, op_id)
            self._update_all.append(update_int, op_id)
            self._day_log(self._update_day, day).append(update_int, op_id)
            self._max_create_id = max(self._max_create_id, create_int)
            self._max_update_id = max(self._max_update_id, update_int)
            return dict(stored)

    def _change_vima(self, change: LateChange) -> bool:
        op_id = change.key
        op = self._ops.get(op_id)
        if op is None:
            return False
        updated = {**op, **change.changes}
        update_id = self._max_update_id + 1
        if self._update_id_source is not None:
            # the live feed hands out update ids for its new operations too: share its counter
            update_id = max(update_id, _digits(self._update_id_source(), "update id"))
        self._max_update_id = update_id
        updated["operation_update_id"] = str(update_id)
        if "operation_modified_at" not in change.changes:
            updated["operation_modified_at"] = isoformat_z(change.at)
        self._ops[op_id] = updated
        self._op_bytes.pop(op_id, None)
        self._op_update[op_id] = update_id
        self._update_all.append(update_id, op_id)
        self._day_log(self._update_day, self._op_day[op_id]).append(update_id, op_id)
        return True

    # ---------------------------------------------------------------- PayShack

    def payshack_count(self, kind: PayShackKind) -> int:
        """Number of rows in one PayShack list."""
        with self._lock:
            self._catch_up()
            return len(self._tables[kind].rows)

    def payshack_rows(self, kind: PayShackKind) -> list[dict[str, Any]]:
        """Current rows (shallow copies), newest first like the dashboard."""
        with self._lock:
            self._catch_up()
            table = self._tables[kind]
            order = sorted(table.rows, key=lambda txn: table.keys[txn][2], reverse=True)
            return [dict(table.rows[txn]) for txn in order]

    def payshack_row(self, kind: PayShackKind, txn_id: str) -> dict[str, Any] | None:
        """One row (a copy), or None."""
        with self._lock:
            self._catch_up()
            row = self._tables[kind].rows.get(txn_id)
            return dict(row) if row is not None else None

    def payshack_page(self, kind: PayShackKind, query: PayShackQuery) -> tuple[list[bytes], int]:
        """Serialized rows of one page (newest first by createdAt, then txnId) and the total."""
        with self._lock:
            self._catch_up()
            return self._tables[kind].page(query)

    def payshack_latest_day(self, kind: PayShackKind) -> date | None:
        """The newest IST day that holds rows of `kind`."""
        with self._lock:
            self._catch_up()
            table = self._tables[kind]
            for day in reversed(table.days):
                if table.by_day.get(day):
                    return day
            return None

    def add_payshack_row(self, kind: PayShackKind, row: Mapping[str, Any]) -> dict[str, Any]:
        """Add (or replace) one row of a PayShack list; returns the stored row."""
        with self._lock:
            stored = dict(row)
            self._tables[kind].add(stored)
            return dict(stored)

    def insert_payshack_rows(
        self,
        kind: PayShackKind,
        day: date,
        count: int,
        status: str | None = None,
        now: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Insert `count` brand-new rows created on IST `day` (at random times of that day).

        Each is a copy of an existing row (of that day and status when possible) with fresh
        ids; it is recorded in `inserted_payshack_rows`. On today's date, rows are not dated
        after `now`; in live mode, a row of a later day is held back until its time.
        """
        with self._lock:
            self._catch_up()
            table = self._tables[kind]
            now = now or self._clock()
            pool: list[_SortKey] = []
            if status:
                pool = table.by_day_status.get((day, status.lower()), [])
            pool = pool or table.by_day.get(day, []) or [table.keys[t][2] for t in table.rows]
            start = datetime.combine(day, time.min, tzinfo=UTC) - IST
            elapsed = int((now - start).total_seconds())
            span = max(1, elapsed) if 0 <= elapsed < 86_400 else 86_400  # today: not after now
            created: list[dict[str, Any]] = []
            for _ in range(count):
                template = table.rows[self._rng.choice(pool)[1]] if pool else _blank_row(kind)
                row = _fresh_row(template, next(self._insert_seq), self._rng)
                when = start + timedelta(seconds=self._rng.randrange(span))
                row["createdAt"] = _format_like(str(template.get("createdAt") or ""), when)
                row["modifiedAt"] = row["createdAt"]
                if status:
                    row["txnStatus"] = _status_like(template.get("txnStatus"), status)
                if self._follow_clock and when > now:  # live mode, a future day: not yet
                    self._hold(when.timestamp(), kind, row)
                else:
                    table.add(row)
                self.inserted_payshack_rows.append((kind, row))
                created.append(dict(row))
            return created

    def _change_payshack(self, change: LateChange) -> bool:
        kinds = [change.kind] if change.kind in PAYSHACK_KINDS else list(PAYSHACK_KINDS)
        for kind in kinds:
            table = self._tables[kind]  # type: ignore[index]
            row = table.rows.get(change.key)
            if row is None:
                continue
            updated = {**row, **change.changes}
            if "modifiedAt" not in change.changes:
                updated["modifiedAt"] = _format_like(str(row.get("modifiedAt") or ""), change.at)
            table.add(updated)
            return True
        return False

    # ---------------------------------------------------------------- late changes

    def _push_change(self, change: LateChange) -> None:
        heapq.heappush(self._pending, (change.at, next(self._seq), change))

    def add_late_changes(self, changes: Iterable[LateChange]) -> None:
        """Queue more late changes (applied by `apply_late_changes`)."""
        with self._lock:
            for change in changes:
                self._push_change(change)

    def pending_late_changes(self) -> int:
        """Number of late changes not applied yet."""
        with self._lock:
            return len(self._pending)

    def next_late_change_at(self) -> datetime | None:
        """When the next pending late change happens, or None."""
        with self._lock:
            return self._pending[0][0] if self._pending else None

    def apply_late_changes(self, until: datetime | None = None) -> int:
        """Apply the pending late changes due at `until` (all when None); returns how many.

        The rows held back (live mode) created by `until` (all when None) are released first,
        so a change never misses its object. Vima: set the changed fields, give the operation
        the next `operation_update_id` and set `operation_modified_at` (to the change's time
        unless the change sets it). PayShack: set the fields and `modifiedAt`. A change whose
        object does not exist is dropped and counted in `unmatched_changes`.
        """
        applied = 0
        with self._lock:
            self.release(until)
            while self._pending and (until is None or self._pending[0][0] <= until):
                _at, _seq, change = heapq.heappop(self._pending)
                if change.source == "vima":
                    done = self._change_vima(change)
                else:
                    done = self._change_payshack(change)
                if done:
                    applied += 1
                else:
                    self.unmatched_changes += 1
            self.applied_changes += applied
        return applied

    # ---------------------------------------------------------------- the clock

    def now(self) -> datetime:
        """The world's current time (its clock)."""
        return self._clock()

    def freeze_clock(self, at: datetime | None = None) -> datetime:
        """Stop the clock at `at` (default: its current time): from now on the world serves
        exactly what was created up to then (what an end-to-end test compares against)."""
        with self._lock:
            moment = at or self._clock()
            self._clock = lambda: moment
            return moment

    def hold_back_future(self, now: datetime | None = None) -> int:
        """Take the rows created after `now` (the clock's time by default) out of view.

        Vima operations and PayShack rows created later wait in a queue ordered by creation
        time; `release` (called by every read, live tick and `apply_late_changes`) makes them
        visible as the clock passes their creation. From this call on, every read first catches
        up with the clock. Returns how many rows are held back in all.
        """
        with self._lock:
            now = now or self._clock()
            self._follow_clock = True
            after = now.timestamp()
            self._hold_back_vima(after, now.astimezone(UTC).date())
            for kind, table in self._tables.items():
                for created, row in table.hold_back(after, ist_date(now)):
                    self._hold(created, kind, row)
            return len(self._held)

    def _hold_back_vima(self, after: float, first_day: date) -> None:
        """Move the operations created after epoch second `after` to the held-back queue."""
        days = self._vima_days[bisect.bisect_left(self._vima_days, first_day) :]
        held = [
            (created, op_id)
            for day in days
            for op_id in self._create_day.get(day, _Log()).ids
            if (created := _timestamp(str(self._ops[op_id]["operation_created_at"]))) > after
        ]
        if not held:
            return
        gone = {op_id for _, op_id in held}
        logs = [self._create_all, self._update_all]
        logs += [
            by_day[day]
            for by_day in (self._create_day, self._update_day)
            for day in days
            if day in by_day
        ]
        for log_ in logs:
            log_.discard(gone)
        for created, op_id in held:
            for index in (self._op_bytes, self._op_update, self._op_create, self._op_day):
                index.pop(op_id, None)
            self._hold(created, "vima", self._ops.pop(op_id))

    def _hold(self, created: float, source: str, row: dict[str, Any]) -> None:
        heapq.heappush(self._held, (created, next(self._seq), source, row))

    def held_back(self) -> int:
        """Number of rows held back until their creation time (live mode)."""
        with self._lock:
            return len(self._held)

    def next_release_at(self) -> datetime | None:
        """Creation time of the next held-back row, or None."""
        with self._lock:
            return datetime.fromtimestamp(self._held[0][0], UTC) if self._held else None

    def release(self, until: datetime | None = None) -> int:
        """Make the held-back rows created by `until` (all when None) visible, oldest first.

        A released Vima operation takes the next `operation_create_id` and
        `operation_update_id` (its other fields are the scenario's), so neither cursor ever
        hands out an id below one a client has already paged past. Returns how many.
        """
        with self._lock:
            limit = math.inf if until is None else until.timestamp()
            held, released = self._held, 0
            while held and held[0][0] <= limit:
                _created, _seq, source, row = heapq.heappop(held)
                if source == "vima":
                    ids = {"operation_create_id": None, "operation_update_id": None}
                    self.add_vima_operation({**row, **ids})
                else:
                    self._tables[source].add(row)  # type: ignore[index]
                released += 1
            return released

    def _catch_up(self) -> None:
        """In live mode, release the rows created by now and apply the late changes due.

        Called (under the lock) by every read; two comparisons when nothing is due.
        """
        if not self._follow_clock:
            return
        now = self._clock()
        due_row = bool(self._held) and self._held[0][0] <= now.timestamp()
        if due_row or (self._pending and self._pending[0][0] <= now):
            self.apply_late_changes(now)

    # ---------------------------------------------------------------- live mode

    def ingest(self, batch: Any) -> dict[str, int]:
        """Add what a live-feed tick produced.

        `batch` is a mapping or an object with any of `vima_operations`, `payshack_payins`,
        `payshack_payouts`, `late_changes`; returns the counts added.
        """
        ops = _field(batch, "vima_operations")
        payins = _field(batch, "payshack_payins")
        payouts = _field(batch, "payshack_payouts")
        changes = _field(batch, "late_changes")
        with self._lock:
            for op in ops:
                self.add_vima_operation(op)
            for row in payins:
                self.add_payshack_row("payin", row)
            for row in payouts:
                self.add_payshack_row("payout", row)
            self.add_late_changes(changes)
        return {
            "vima_operations": len(ops),
            "payshack_payins": len(payins),
            "payshack_payouts": len(payouts),
            "late_changes": len(changes),
        }

    def attach_feed(self, feed: Any) -> None:
        """Take new Vima update ids from `feed.next_update_id()` (when it has one)."""
        with self._lock:
            self._update_id_source = getattr(feed, "next_update_id", None)

    def live_tick(self, feed: Any, now: datetime | None = None) -> dict[str, int]:
        """One live-mode step at `now` (the clock's time by default).

        Release the held-back rows created by `now`, ingest `feed.tick(now)`, then apply the
        late changes due.
        """
        if self._update_id_source is None:
            self.attach_feed(feed)
        now = now or self._clock()
        released = self.release(now)
        counts = self.ingest(feed.tick(now))
        counts["released"] = released
        counts["applied"] = self.apply_late_changes(now)
        self.live_ticks += 1
        return counts

    def start_live(self, feed: Any | None = None, interval: float = 3.0) -> None:
        """Start the live-mode thread: every `interval` seconds, `live_tick(feed)`.

        `feed` defaults to `scenario.live_feed()`; without one, the thread only releases rows
        and applies due late changes. First, the rows created after the clock's time are held
        back (`hold_back_future`): from now on the world serves only what exists by its clock.
        """
        with self._lock:
            if self._live_thread is not None:
                return
            self.hold_back_future()
            if feed is None:
                factory: Callable[[], Any] | None = getattr(self.scenario, "live_feed", None)
                feed = factory() if factory is not None else None
            self._live_stop.clear()
            thread = threading.Thread(
                target=self._live_loop, args=(feed, interval), name="sandbox-live", daemon=True
            )
            self._live_thread = thread
        thread.start()

    def stop_live(self, timeout: float = 5.0) -> None:
        """Stop the live-mode thread (no-op when not running)."""
        with self._lock:
            thread, self._live_thread = self._live_thread, None
        if thread is not None:
            self._live_stop.set()
            thread.join(timeout)

    @property
    def live(self) -> bool:
        """Whether the live-mode thread runs."""
        return self._live_thread is not None

    def _live_loop(self, feed: Any, interval: float) -> None:
        while True:
            try:
                if feed is not None:
                    self.live_tick(feed)
                else:
                    self.apply_late_changes(self._clock())
                    self.live_ticks += 1
            except Exception:  # keep serving; the error is visible in the log and counters
                self.live_errors += 1
                log.exception("sandbox live tick failed")
            if self._live_stop.wait(interval):
                return


_TRAILING_DIGITS = re.compile(r"(\d+)$")


def _fresh_id(value: Any, seq: int, rng: random.Random) -> str:
    """A new id shaped like `value` (same prefix and length where possible)."""
    text = str(value or "")
    match = _TRAILING_DIGITS.search(text)
    if match and len(match.group(1)) >= 6:
        width = len(match.group(1))
        number = rng.randrange(10 ** (width - 1), 10**width)
        return text[: match.start()] + str(number)
    return f"{text or 'INS'}X{seq:06d}{rng.randrange(10**6):06d}"


def _fresh_row(template: Mapping[str, Any], seq: int, rng: random.Random) -> dict[str, Any]:
    row = dict(template)
    for name in ("txnId", "orderId", "spTxnId"):
        if name in row:
            row[name] = _fresh_id(row[name], seq, rng)
    if row.get("utr"):
        row["utr"] = str(rng.randrange(10**11, 10**12))
    return row


def _status_like(template_status: Any, wanted: str) -> str:
    if isinstance(template_status, str) and template_status.lower() == wanted.lower():
        return template_status
    return wanted


def _blank_row(kind: PayShackKind) -> dict[str, Any]:
    row: dict[str, Any] = {
        "txnId": "TXN000000000000",
        "orderId": "ORD000000000000",
        "spTxnId": "SP000000000000",
        "amount": 100,
        "paidAmount": 100,
        "utr": "",
        "txnStatus": "Initiated",
        "clientName": "SANDBOX_CLIENT",
        "clientId": "CL0000",
        "transactionType": "IMPS" if kind == "payout" else "UPI_INTENT",
        "payerVpa": "",
        "upiId": "",
        "totalCommissionAmount": 0,
        "createdAt": "2026-01-01T00:00:00.000Z",
        "modifiedAt": "2026-01-01T00:00:00.000Z",
    }
    if kind == "payout":
        row.update(beneName="", beneAccount="", beneIfsc="", txnCharges=0, netAmount=100)
    return row
