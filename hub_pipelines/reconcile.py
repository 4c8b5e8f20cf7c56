"""Daily reconciliation of Vima against PayShack, set-based in PostgreSQL (no Dagster).

For day D, candidates are the transactions of mapped projects created within D widened by a
margin on each side. Matching, in order:

1. duplicates: a (direction, key) occurring more than once on either side; every row of it
   is reported as `duplicate`;
2. exact: Vima `client_operation_id` = PayShack `order_id`, same direction, one row each;
3. fallback, among what is left: same project and direction, amounts within the tolerance,
   created within N minutes, and exactly one candidate on each side.

A pair is `discrepancy_amount`, else `discrepancy_status`, else `matched`; what is left is
`missing_payshack` (a Vima row alone) or `missing_vima`. A pair belongs to the day of its
earlier record, an orphan to its own, a duplicate group to its earliest row's: each result
is counted on exactly one day. The day's results replace the previous ones in one transaction;
resolutions live in their own table, keyed by the stable `discrepancy_key`.

How, in two statements and no sort of the day: (1) `JOIN_SQL` hash-joins the window's two
sides on (direction, key) into a temp table, one row per Vima row and its PayShack partner(s),
plus the PayShack rows without a Vima row, with parallel workers; (2) the results statement
(`results_sql`) finds the repeated keys (a key on more than one joined row), classifies and
inserts every result; the day's counts are then read back from what was stored (the same
statement as `summarize_day`'s, a parallel scan of the day's partition: cheaper than counting
the insert's RETURNING rows). Memory is bounded by `work_mem` per hash (more spills to temp
files), not by the size of the day.

Where the results go: `reconciliation_results` is partitioned by day (migration 0005). A run
inserts the day's results into a table of its own with no index (an insert into the indexed
table spent about half its time keeping four b-trees up to date, row by row), builds the
parent's indexes on it once the rows are in (sorted builds), and swaps it in: the day's rows
in the DEFAULT partition and the day's previous partition go, the run's table is attached as
the day's partition. A re-run drops the old day whole instead of deleting a million rows and
leaving as many dead tuples. The swap needs a moment's exclusive lock on the parent (DROP) or
on the DEFAULT partition (ATTACH checks it): it waits for readers a short `lock_timeout` at a
time, so that readers queued behind it are never held long, and tries again.

Every statement of the module is a named file, `hub_pipelines/sql/reconcile_<name>.sql`, read
once at import: parameters are bound by name (`:name`), enum values included (`ENUM_PARAMS`),
and the insert's column list comes from `hub_core.tables`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from importlib import resources
from string import Template
from typing import Any

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.exc import OperationalError
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from hub_core.logging import get_logger
from hub_core.tables import RESULTS_DEFAULT_PARTITION, reconciliation_results
from hub_core.timeutil import day_bounds
from hub_core.types import MatchMethod, MatchType, Source
from hub_pipelines.sources.payshack.normalize import CURRENCY as PAYSHACK_CURRENCY

RESULT_CURRENCY: str = PAYSHACK_CURRENCY
"""The currency of every result. PayShack settles in rupees only (each of its rows is normalized
to this currency) and the projects mapped to its clients pay in rupees, so the two sides'
amounts are compared as they are, never converted, and every pair, orphan and duplicate the
reconciliation writes is in PayShack's currency."""

NO_METHOD = "-"
"""The method of a count row whose results have none (orphans and duplicates)."""

RESULT_COLUMNS: tuple[str, ...] = tuple(
    column.name
    for column in reconciliation_results.columns
    if column.name not in ("id", "created_at")
)
"""The columns of `reconciliation_results` the results statement writes (all but those the table
generates), by name on both sides of its `INSERT ... SELECT`."""


log = get_logger(__name__)


def _source(name: str) -> str:
    """The text of `hub_pipelines/sql/<name>.sql`."""
    return resources.files("hub_pipelines").joinpath("sql", f"{name}.sql").read_text("utf-8")


def _sql(name: str, **fragments: str) -> str:
    """The statement in `hub_pipelines/sql/<name>.sql`, its `${fragment}`s filled in."""
    return Template(_source(name)).substitute(fragments)


def _client_bound(sql: str) -> str:
    """`sql` with its `:name` parameters as psycopg's `%(name)s` (and `%` escaped), for
    statements psycopg binds on the client (`ClientCursor`)."""
    return str(text(sql).compile(dialect=PGDialect_psycopg()))


def _enum_params(prefix: str, enum: type[StrEnum]) -> dict[str, str]:
    """Each member's value as the bound parameter `<prefix>_<value>` (`type_matched`...)."""
    return {f"{prefix}_{member.value}": member.value for member in enum}


ENUM_PARAMS: dict[str, str] = {
    **_enum_params("type", MatchType),
    **_enum_params("method", MatchMethod),
    **_enum_params("source", Source),
}
"""The enums' values the statements compare with or write, as bound parameters: no statement
types one of them as a literal."""

# Every statement of the module, each from its named file in `hub_pipelines/sql/`, read once.
JOIN_SQL = _client_bound(_sql("reconcile_join"))
"""Join the window's two sides into `recon_join` (a CREATE TABLE AS takes no server-side
parameters: psycopg binds it on the client)."""
_RESULTS = Template(
    Template(_source("reconcile_results")).safe_substitute(result_columns=", ".join(RESULT_COLUMNS))
)
_STAGE = Template(_source("reconcile_stage"))
_ATTACH = Template(_source("reconcile_attach"))
_DROP_PARTITION = Template(_source("reconcile_drop_partition"))
_CLEAR_DEFAULT = text(_sql("reconcile_clear_default", default_partition=RESULTS_DEFAULT_PARTITION))
_DAY_PARTITION = text(_sql("reconcile_day_partition"))
_LOCK_DAY = text(_sql("reconcile_lock_day"))
_LOCK_RESULTS = text(_sql("reconcile_lock_results"))
RESULTS_LOCK = 0x7A4B_FFFF_FFFF
"""The advisory lock a run holds from its results to its commit (`reconcile_lock_results.sql`);
apart from every day's own lock (`0x7A4B_0000_0000` + the day's ordinal)."""
_SET_LOCAL = text(_sql("reconcile_set_local"))
_GET_SETTING = text(_sql("reconcile_get_setting"))
_DROP_JOIN = text(_sql("reconcile_drop_join"))
_DAY_COUNTS = text(_sql("reconcile_day_counts"))
_LARGEST_BREAKS = text(_sql("reconcile_largest_breaks"))


RECON_SETTINGS: dict[str, str] = {
    # Memory per hash or sort node (and per parallel worker): constant, so the memory of a
    # reconciliation is flat in the size of the day; what does not fit spills to temp files.
    "work_mem": "128MB",
    # The planner cannot estimate the rows behind the key filters of a temp table without
    # statistics (it guesses few), and a nested loop or a merge join over a day's two sides
    # costs a sort or worse; every join here is an equi-join that hashes well.
    "enable_nestloop": "off",
    "enable_mergejoin": "off",
    # The join of the two sides is the bulk of the work: let it run in parallel workers (the
    # defaults price their start-up and tuple transfer above what they cost here).
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0.001",
    # With nested loops off the plan's cost looks huge and JIT compiles it: ~2.6 s wasted on
    # a small day, no gain on a big one.
    "jit": "off",
    # The sort of each index build of the day's partition stays in memory up to this (a
    # million results' txn ids take ~60 MB); more spills to temp files.
    "maintenance_work_mem": "128MB",
}
"""Settings of the reconciliation's transaction (`SET LOCAL`: they end with it)."""


@dataclass(frozen=True, slots=True)
class ReconParams:
    """The rules of a reconciliation run."""

    projects: tuple[str, ...]
    tolerance: Decimal = Decimal("0.01")
    fallback_minutes: float = 10
    margin_hours: float = 6
    timezone: str = "UTC"


@dataclass(slots=True)
class ReconSummary:
    """Counts and amounts of a day's results."""

    recon_date: date
    run_id: str
    counts: dict[str, int] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)
    largest_breaks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)
    serial_join: str | None = None
    """Why the join ran without parallel workers (the server's error), or None: it did not."""

    @property
    def total(self) -> int:
        """Results of the day (pairs, orphans and duplicate rows)."""
        return sum(self.counts.values())

    @property
    def match_rate(self) -> float:
        """Share of results that are clean matches (1.0 for a day with nothing to reconcile)."""
        return self.counts.get("matched", 0) / self.total if self.total else 1.0


SWAP_LOCK_TIMEOUT = "500ms"
"""How long one attempt of the swap waits for readers of the results before it lets the readers
queued behind it through and tries again."""
SWAP_PATIENCE_S = 900.0
"""How long a run keeps trying to swap its day in before it fails (a reader holding the results
that long: an export of many days over a slow link)."""


def results_sql(target: str) -> str:
    """The results statement, inserting into `target` (a quoted table name)."""
    return _RESULTS.substitute(target=target)


def partition_index_statements(table: str) -> list[str]:
    """The DDL that gives `table` (a quoted name) the indexes of `reconciliation_results`, as
    `hub_core.tables` declares them: its primary key, then every index, each named by PostgreSQL.
    ATTACH finds them equivalent to the parent's and attaches them instead of building others."""
    key = ", ".join(column.name for column in reconciliation_results.primary_key.columns)
    statements = [f"ALTER TABLE {table} ADD PRIMARY KEY ({key})"]
    for index in sorted(reconciliation_results.indexes, key=lambda i: str(i.name)):
        columns = ", ".join(column.name for column in index.columns)
        where = index.dialect_options["postgresql"]["where"]
        suffix = f" WHERE {where}" if where is not None else ""
        statements.append(f"CREATE INDEX ON {table} ({columns}){suffix}")
    return statements


def staging_table(day: date) -> str:
    """A fresh name for the table a run of `day` writes into (the day's partition once
    attached): `reconciliation_results_<yyyymmdd>_<8 hex>`."""
    return f"reconciliation_results_{day:%Y%m%d}_{uuid.uuid4().hex[:8]}"


def reconcile_day(conn: Connection, day: date, run_id: str, params: ReconParams) -> ReconSummary:
    """Replace the results of `day` with a fresh reconciliation, in the caller's transaction."""
    started = time.monotonic()
    day_start, day_end = day_bounds(day, params.timezone)
    margin = timedelta(hours=params.margin_hours)
    steps: dict[str, float] = {}
    conn.execute(_LOCK_DAY, {"lock": _day_lock(day)})
    for setting, value in RECON_SETTINGS.items():
        conn.execute(_SET_LOCAL, {"name": setting, "value": value})
    params_ = {
        **ENUM_PARAMS,
        "projects": list(params.projects),
        "window_start": day_start - margin,
        "window_end": day_end + margin,
        "day_start": day_start,
        "day_end": day_end,
        "tolerance": params.tolerance,
        "fallback_window": timedelta(minutes=params.fallback_minutes),
        "fallback_seconds": params.fallback_minutes * 60,
        "recon_date": day,
        "run_id": run_id,
        "currency": RESULT_CURRENCY,
    }
    # A second reconciliation in the same transaction (tests, a retried op) starts afresh.
    conn.execute(_DROP_JOIN)
    with _timed(steps, "join"):
        serial_join = join_sides(conn, params_)
    conn.execute(_LOCK_RESULTS, {"lock": RESULTS_LOCK})
    staging = conn.dialect.identifier_preparer.quote(staging_table(day))
    _execute_client_bound(conn, _client_bound(_STAGE.substitute(staging=staging)), params_)
    with _timed(steps, "results"):
        conn.execute(text(results_sql(staging)), params_)
    conn.execute(_DROP_JOIN)
    with _timed(steps, "indexes"):
        for statement in partition_index_statements(staging):
            conn.execute(text(statement))
    with _timed(steps, "swap"):
        swap_in(conn, day, staging)
    with _timed(steps, "count"):
        summary = summarize_day(conn, day, run_id)
    summary.step_seconds = steps
    summary.serial_join = serial_join
    summary.seconds = time.monotonic() - started
    return summary


def join_sides(conn: Connection, params: dict[str, Any]) -> str | None:
    """Join the window's two sides into `recon_join` (`JOIN_SQL`), with parallel workers if
    the server can give them room; returns None, or why the join ran without them.

    A parallel hash join keeps its hash tables in PostgreSQL's dynamic shared memory
    (`/dev/shm` on Linux). A server with too little of it (a container's default 64 MB) fails
    the join with "could not resize shared memory segment" (class 53, insufficient
    resources), so the join is tried in a savepoint and, on such an error, run again without
    parallel workers for the rest of the transaction: slower, and the same results."""
    try:
        with conn.begin_nested():
            _execute_client_bound(conn, JOIN_SQL, params)
        return None
    except (psycopg.errors.DiskFull, psycopg.errors.OutOfMemory) as error:
        if not _out_of_shared_memory(error):
            raise
        reason = str(error.diag.message_primary)
    log.warning("reconcile.join_without_parallel_workers", reason=reason)
    conn.execute(_SET_LOCAL, {"name": "max_parallel_workers_per_gather", "value": "0"})
    _execute_client_bound(conn, JOIN_SQL, params)
    return reason


def _out_of_shared_memory(error: psycopg.Error) -> bool:
    """Whether `error` is the server running out of dynamic shared memory (a parallel query's
    segments), not of disk for its temp files or of ordinary memory."""
    text_ = f"{error.diag.message_primary} {error.diag.message_detail}"
    return "shared memory" in text_ or "DSA" in text_


def swap_in(conn: Connection, day: date, staging: str) -> None:
    """Make `staging` (a quoted name) the day's partition of `reconciliation_results`: the
    day's rows in the DEFAULT partition and its previous partition go first. Each attempt waits
    at most `SWAP_LOCK_TIMEOUT` for readers, in a savepoint; attempts go on for
    `SWAP_PATIENCE_S`."""
    attach = _client_bound(_ATTACH.substitute(staging=staging))
    callers_timeout = conn.execute(_GET_SETTING, {"name": "lock_timeout"}).scalar_one()
    retrying = Retrying(
        retry=retry_if_exception(_lock_not_available),
        wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2),
        stop=stop_after_delay(SWAP_PATIENCE_S),
        before_sleep=before_sleep_log(log, logging.WARNING),  # type: ignore[arg-type]
        reraise=True,
    )
    for attempt in retrying:
        with attempt, conn.begin_nested():
            conn.execute(_SET_LOCAL, {"name": "lock_timeout", "value": SWAP_LOCK_TIMEOUT})
            conn.execute(_CLEAR_DEFAULT, {"recon_date": day})
            previous = conn.execute(_DAY_PARTITION, {"recon_date": day}).scalar()
            if previous is not None:
                conn.execute(text(_DROP_PARTITION.substitute(partition=previous)))
            _execute_client_bound(conn, attach, {"recon_date": day})
    conn.execute(_SET_LOCAL, {"name": "lock_timeout", "value": callers_timeout})


def _lock_not_available(error: BaseException) -> bool:
    """Whether `error` is PostgreSQL giving up on a lock after `lock_timeout`."""
    return isinstance(error, OperationalError) and isinstance(
        error.orig, psycopg.errors.LockNotAvailable
    )


@contextmanager
def _timed(steps: dict[str, float], name: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    steps[name] = round(time.monotonic() - started, 3)


def _execute_client_bound(conn: Connection, sql: str, params: dict[str, Any]) -> None:
    """Run `sql` (psycopg `%(name)s` placeholders) in `conn`'s transaction, values inlined
    and quoted by psycopg: for statements that take no server-side parameters."""
    driver = conn.connection.driver_connection
    with psycopg.ClientCursor(driver) as cursor:  # type: ignore[arg-type]
        cursor.execute(sql, params)


def _day_lock(day: date) -> int:
    return 0x7A4B_0000_0000 + day.toordinal()


BREAK_TYPES = tuple(t.value for t in MatchType if t is not MatchType.MATCHED)
"""Every result type but a clean match."""


def summarize_day(conn: Connection, day: date, run_id: str = "", largest: int = 10) -> ReconSummary:
    """Counts, amounts and the largest breaks of a day's stored results."""
    summary = ReconSummary(recon_date=day, run_id=run_id)
    rows = conn.execute(_DAY_COUNTS, {"recon_date": day, "no_method": NO_METHOD}).all()
    _add_counts(summary, rows)
    summary.largest_breaks = largest_breaks(conn, day, largest)
    return summary


def _add_counts(summary: ReconSummary, rows: Sequence[Any]) -> None:
    """Fold (match_type, method or `NO_METHOD`, count, amount) rows into `summary`."""
    for match_type, method, count, amount in rows:
        summary.counts[match_type] = summary.counts.get(match_type, 0) + count
        summary.amounts[match_type] = summary.amounts.get(match_type, Decimal(0)) + amount
        if method != NO_METHOD:
            summary.by_method[method] = summary.by_method.get(method, 0) + count


def largest_breaks(conn: Connection, day: date, largest: int = 10) -> list[dict[str, Any]]:
    """The day's `largest` breaks by amount (the difference, else the orphan's amount)."""
    rows = conn.execute(
        _LARGEST_BREAKS, {"recon_date": day, "types": list(BREAK_TYPES), "n": largest}
    )
    return [dict(row._mapping) for row in rows]
