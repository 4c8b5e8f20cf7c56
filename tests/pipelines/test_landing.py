"""The three landings against real PostgreSQL: `upsert_transactions`, `upsert_raw_vima` and
`upsert_raw_payshack` with new, changed, unchanged, replayed and older versions.

The behaviour they share runs over all three (`Landing`): a record is a key, a version
(Vima's `operation_update_id`, PayShack's `modifiedAt`, a transaction's `updated_at`; None:
missing) and a state word in its payload."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, Table, text

from hub_core.tables import raw_payshack_transactions, raw_vima_operations
from hub_core.timeutil import parse_utc
from hub_core.types import TRANSACTION_FIELDS, Direction, Source, Transaction
from hub_pipelines.sources.payshack.landing import upsert_raw_payshack
from hub_pipelines.sources.payshack.normalize import normalize_payin, normalize_payout
from hub_pipelines.sources.vima.landing import upsert_raw_vima
from hub_pipelines.sources.vima.normalize import normalize_operation
from hub_pipelines.warehouse.checkpoints import Checkpoint, load_checkpoint
from hub_pipelines.warehouse.rows import UpsertCounts, payload_hash
from hub_pipelines.warehouse.transactions import upsert_transactions
from hub_sandbox.scenario import Scenario
from tests.api.conftest import make_txn
from tests.pipelines.payshack.test_normalize import PAYIN
from tests.pipelines.test_warehouse import _op

Version = int | None
BASE = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
"""Version 0 of a timestamped record; version n is n seconds later."""
AGED = datetime(2000, 1, 1, tzinfo=UTC)
"""What `_age` sets the write times to: a row still at it was not rewritten since."""
DAY = "2026-01-15"


def _at(version: Version) -> datetime | None:
    return None if version is None else BASE + timedelta(seconds=version)


def _iso(version: Version) -> str | None:
    moment = _at(version)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _version(stored: Any) -> Version:
    if stored is None:
        return None
    if isinstance(stored, datetime):
        return int((stored - BASE).total_seconds())
    return int(stored)


def _vima(key: int, version: Version, state: str) -> dict[str, Any]:
    update_id = None if version is None else str(version)
    return {**_op(key, 0, state), "operation_update_id": update_id}


def _payshack(key: int, version: Version, state: str) -> dict[str, Any]:
    return {**PAYIN, "txnId": str(key), "txnStatus": state, "modifiedAt": _iso(version)}


def _txn(key: int, version: Version, state: str) -> Transaction:
    created = BASE - timedelta(hours=1)
    raw = {"state": state, "version": version}
    return make_txn(
        created, source_id=str(key), original_status=state, updated_at=_at(version), raw_data=raw
    )


@dataclass(frozen=True)
class Landing:
    """One of the three upserts, seen as records of (key, version, state)."""

    table: str
    key: str
    version: str
    state: str
    stamp: str
    """The column that says when the row was last written."""
    record: Callable[[int, Version, str], Any]
    land: Callable[[Connection, list[Any]], UpsertCounts]

    def stored(self, engine: Engine) -> dict[str, tuple[Version, str]]:
        query = f"SELECT {self.key}, {self.version}, {self.state} FROM {self.table}"
        with engine.connect() as conn:
            rows = conn.execute(text(query)).all()
        return {key: (_version(version), state) for key, version, state in rows}


LANDINGS = {  # table, key, version, state, write time; the record builder, the upsert
    "transactions": Landing(
        "transactions", "source_id", "updated_at", "original_status", "ingested_at",
        _txn, upsert_transactions,
    ),
    "raw_vima": Landing(
        "raw_vima_operations", "operation_id", "operation_update_id",
        "payload ->> 'current_status'", "fetched_at",
        _vima, lambda conn, ops: upsert_raw_vima(conn, ops, DAY),
    ),
    "raw_payshack": Landing(
        "raw_payshack_transactions", "txn_id", "modified_at", "payload ->> 'txnStatus'",
        "fetched_at",
        _payshack, lambda conn, rows: upsert_raw_payshack(conn, Direction.PAYIN, rows, DAY),
    ),
}  # fmt: skip


@pytest.fixture(params=list(LANDINGS), ids=list(LANDINGS))
def landing(request: pytest.FixtureRequest) -> Landing:
    return LANDINGS[request.param]


def _land(engine: Engine, landing: Landing, *records: tuple[int, Version, str]) -> UpsertCounts:
    with engine.begin() as conn:
        return landing.land(conn, [landing.record(*record) for record in records])


def _age(engine: Engine, landing: Landing) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {landing.table} SET {landing.stamp} = :aged"), {"aged": AGED})


def _rewritten(engine: Engine, landing: Landing) -> set[str]:
    query = f"SELECT {landing.key} FROM {landing.table} WHERE {landing.stamp} <> :aged"
    with engine.connect() as conn:
        return set(conn.execute(text(query), {"aged": AGED}).scalars())


# --- what all three share ---------------------------------------------------------------------


def test_new_records_are_inserted(landing: Landing, clean_db: Engine) -> None:
    counts = _land(clean_db, landing, (1, 10, "a"), (2, None, "b"), (3, 0, "c"))
    assert counts == UpsertCounts(new=3)
    assert landing.stored(clean_db) == {"1": (10, "a"), "2": (None, "b"), "3": (0, "c")}


def test_the_same_batch_again_is_unchanged_and_not_rewritten(
    landing: Landing, clean_db: Engine
) -> None:
    batch = [(1, 10, "a"), (2, None, "b"), (3, 30, "c")]
    _land(clean_db, landing, *batch)
    _age(clean_db, landing)
    assert _land(clean_db, landing, *batch) == UpsertCounts(unchanged=3)
    assert _rewritten(clean_db, landing) == set()
    assert landing.stored(clean_db) == {"1": (10, "a"), "2": (None, "b"), "3": (30, "c")}


def test_a_newer_version_replaces_the_stored_one(landing: Landing, clean_db: Engine) -> None:
    _land(clean_db, landing, (1, 10, "a"), (2, 10, "a"))
    _age(clean_db, landing)
    assert _land(clean_db, landing, (1, 11, "b"), (2, 10, "a")) == UpsertCounts(
        updated=1, unchanged=1
    )
    assert landing.stored(clean_db) == {"1": (11, "b"), "2": (10, "a")}
    assert _rewritten(clean_db, landing) == {"1"}


def test_a_replayed_older_batch_never_regresses_a_newer_row(
    landing: Landing, clean_db: Engine
) -> None:
    old = [(1, 10, "a"), (2, 10, "a")]
    _land(clean_db, landing, *old)
    _land(clean_db, landing, (1, 12, "b"), (2, 11, "c"))
    _age(clean_db, landing)
    assert _land(clean_db, landing, *old) == UpsertCounts(unchanged=2)
    assert landing.stored(clean_db) == {"1": (12, "b"), "2": (11, "c")}
    assert _rewritten(clean_db, landing) == set()


def test_an_equal_version_with_another_payload_applies(landing: Landing, clean_db: Engine) -> None:
    _land(clean_db, landing, (1, 10, "a"))
    _age(clean_db, landing)
    assert _land(clean_db, landing, (1, 10, "b")) == UpsertCounts(updated=1)
    assert landing.stored(clean_db) == {"1": (10, "b")}
    assert _rewritten(clean_db, landing) == {"1"}


@pytest.mark.parametrize(("before", "after"), [(None, 10), (10, None), (None, None), (10, 5)])
def test_a_missing_version_lets_the_change_apply(
    landing: Landing, clean_db: Engine, before: Version, after: Version
) -> None:
    _land(clean_db, landing, (1, before, "a"))
    counts = _land(clean_db, landing, (1, after, "b"))
    if before is None or after is None:
        assert (counts, landing.stored(clean_db)) == (UpsertCounts(updated=1), {"1": (after, "b")})
    else:  # the control: both known, the later one older
        assert (counts, landing.stored(clean_db)) == (UpsertCounts(unchanged=1), {"1": (10, "a")})


def test_a_repeated_key_in_one_call_the_last_wins(landing: Landing, clean_db: Engine) -> None:
    assert _land(clean_db, landing, (1, 10, "a"), (1, 11, "b")) == UpsertCounts(new=1)
    assert landing.stored(clean_db) == {"1": (11, "b")}
    assert _land(clean_db, landing, (1, 12, "c"), (1, 13, "a")) == UpsertCounts(updated=1)
    assert landing.stored(clean_db) == {"1": (13, "a")}
    # the last of the call, not the highest of it, is what meets the stored row
    assert _land(clean_db, landing, (1, 15, "b"), (1, 14, "c")) == UpsertCounts(updated=1)
    assert landing.stored(clean_db) == {"1": (14, "c")}
    assert _land(clean_db, landing, (1, 16, "a"), (1, 14, "c")) == UpsertCounts(unchanged=1)
    assert landing.stored(clean_db) == {"1": (14, "c")}


def test_an_empty_batch_writes_nothing(landing: Landing, clean_db: Engine) -> None:
    assert _land(clean_db, landing) == UpsertCounts()
    assert landing.stored(clean_db) == {}


def test_a_mixed_batch_counts_each_record_once(landing: Landing, clean_db: Engine) -> None:
    _land(clean_db, landing, (1, 10, "a"), (2, 10, "a"), (3, 10, "a"))
    _land(clean_db, landing, (3, 12, "b"))
    _age(clean_db, landing)
    counts = _land(clean_db, landing, (1, 10, "a"), (2, 11, "b"), (3, 10, "a"), (4, 10, "a"))
    assert counts == UpsertCounts(new=1, updated=1, unchanged=2)
    assert landing.stored(clean_db) == {
        "1": (10, "a"),
        "2": (11, "b"),
        "3": (12, "b"),
        "4": (10, "a"),
    }
    assert _rewritten(clean_db, landing) == {"2", "4"}


_keys = count(1000)
_versions = st.one_of(st.none(), st.integers(0, 3))
_batches = st.lists(
    st.lists(st.tuples(_versions, st.sampled_from("ab")), min_size=1, max_size=3),
    min_size=1,
    max_size=6,
)


def _not_older(version: Version, stored: Version) -> bool:
    return version is None or stored is None or version >= stored


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=_batches)
def test_the_stored_row_is_the_newest_version_landed(
    landing: Landing, clean_db: Engine, batches: list[list[tuple[Version, str]]]
) -> None:
    key = next(_keys)  # clean_db empties the tables once per test, not per example
    model: tuple[Version, str] | None = None
    for batch in batches:
        counts = _land(clean_db, landing, *((key, version, state) for version, state in batch))
        last = batch[-1]  # a repeated key within a call: the last wins
        if model is None:
            expected, model = UpsertCounts(new=1), last
        elif last != model and _not_older(last[0], model[0]):
            expected, model = UpsertCounts(updated=1), last
        else:
            expected = UpsertCounts(unchanged=1)
        assert counts == expected, (batch, model)
    assert landing.stored(clean_db)[str(key)] == model


# --- the columns each one writes -------------------------------------------------------------


def _table_rows(
    engine: Engine, table: Table, key: Sequence[str]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The table's rows by key, as the columns after the key (the write time left out)."""
    values = [c.name for c in table.columns if c.name not in (*key, "fetched_at")]
    query = f"SELECT {', '.join((*key, *values))} FROM {table.name}"
    with engine.connect() as conn:
        return {tuple(row[: len(key)]): tuple(row[len(key) :]) for row in conn.execute(text(query))}


def test_raw_vima_lands_operations_with_their_columns(
    clean_db: Engine, small_scenario: Scenario
) -> None:
    ops = copy.deepcopy(small_scenario.vima_operations[:40])
    odd = {
        **_op(9, 0),
        "operation_create_id": None,
        "operation_update_id": "n/a",
        "operation_created_at": "yesterday",
        "operation_modified_at": "",
        "project": None,
    }
    with clean_db.begin() as conn:
        assert upsert_raw_vima(conn, [*ops, odd], DAY) == UpsertCounts(new=41)
    expected = {
        (op["operation_id"],): (
            int(op["operation_create_id"]),
            int(op["operation_update_id"]),
            op["project"],
            parse_utc(op["operation_created_at"]),
            parse_utc(op["operation_modified_at"]),
            DAY,
            op,
            payload_hash(op),
        )
        for op in ops
    }
    expected[("9",)] = (None, None, None, None, None, DAY, odd, payload_hash(odd))
    assert _table_rows(clean_db, raw_vima_operations, ["operation_id"]) == expected


def test_raw_vima_lands_a_project_that_is_not_text_as_its_text(clean_db: Engine) -> None:
    numbered = {**_op(7, 0), "project": 42}
    with clean_db.begin() as conn:
        assert upsert_raw_vima(conn, [numbered], DAY) == UpsertCounts(new=1)
    stored = _table_rows(clean_db, raw_vima_operations, ["operation_id"])[("7",)]
    assert stored[2] == "42" and stored[6] == numbered  # the payload keeps the number


def test_raw_vima_keeps_the_partition_that_first_landed_an_operation(clean_db: Engine) -> None:
    with clean_db.begin() as conn:
        upsert_raw_vima(conn, [_op(1, 10)], "2026-01-01")
        upsert_raw_vima(conn, [_op(2, 10)])
    with clean_db.begin() as conn:
        changed = [_op(1, 11, "fail"), _op(2, 11, "fail")]
        assert upsert_raw_vima(conn, changed, "2026-01-02") == UpsertCounts(updated=2)
    with clean_db.connect() as conn:
        query = text("SELECT operation_id, partition_key FROM raw_vima_operations")
        keys = dict(conn.execute(query).all())
    assert keys == {"1": "2026-01-01", "2": "2026-01-02"}  # a missing one is filled


def _payshack_columns(row: dict[str, Any], times: Sequence[Any] = ()) -> tuple[Any, ...]:
    """The columns after the key a row lands as; `times`: its (created, modified) if not ISO."""
    created, modified = times or (parse_utc(row["createdAt"]), parse_utc(row["modifiedAt"]))
    return (row["orderId"], row["clientName"], created, modified, DAY, row, payload_hash(row))


def test_raw_payshack_lands_rows_of_both_kinds_with_their_columns(
    clean_db: Engine, small_scenario: Scenario
) -> None:
    payins = copy.deepcopy(small_scenario.payshack_payins[:30])
    payouts = copy.deepcopy(small_scenario.payshack_payouts[:10])
    # dashboard (IST) times and unreadable ones; a payout with a pay-in's txnId is its own row
    dashboard = {**PAYIN, "createdAt": "15/01/2026 21:16:20", "modifiedAt": "15/01/2026 21:16:50"}
    odd = {**PAYIN, "txnId": "PI7", "orderId": None, "createdAt": "", "modifiedAt": "soon"}
    with clean_db.begin() as conn:
        counts = upsert_raw_payshack(conn, Direction.PAYIN, [*payins, odd], DAY)
        counts.add(upsert_raw_payshack(conn, Direction.PAYOUT, [*payouts, dashboard], DAY))
    assert counts == UpsertCounts(new=42)
    expected = {
        (kind.value, row["txnId"]): _payshack_columns(row)
        for kind, rows in ((Direction.PAYIN, payins), (Direction.PAYOUT, payouts))
        for row in rows
    }
    expected[("payin", "PI7")] = _payshack_columns(odd, (None, None))
    same_instants = (parse_utc(PAYIN["createdAt"]), parse_utc(PAYIN["modifiedAt"]))
    expected[("payout", PAYIN["txnId"])] = _payshack_columns(dashboard, same_instants)
    assert _table_rows(clean_db, raw_payshack_transactions, ["kind", "txn_id"]) == expected


def test_raw_payshack_compares_dashboard_and_json_times_as_instants(clean_db: Engine) -> None:
    # 21:16:50 IST is PAYIN's modifiedAt, 15:46:50 UTC
    def land(status: str, modified: str) -> UpsertCounts:
        row = {**PAYIN, "txnStatus": status, "modifiedAt": modified}
        with clean_db.begin() as conn:
            return upsert_raw_payshack(conn, Direction.PAYIN, [row], DAY)

    land("PENDING", PAYIN["modifiedAt"])
    assert land("FAILED", "15/01/2026 21:16:49") == UpsertCounts(unchanged=1)  # a second older
    assert land("SUCCESS", "15/01/2026 21:16:50") == UpsertCounts(updated=1)  # the same instant
    with clean_db.connect() as conn:
        stored = conn.execute(
            text("SELECT payload ->> 'txnStatus', modified_at FROM raw_payshack_transactions")
        ).one()
    assert tuple(stored) == ("SUCCESS", parse_utc(PAYIN["modifiedAt"]))


def test_raw_payshack_keeps_the_partition_that_first_landed_a_row(clean_db: Engine) -> None:
    with clean_db.begin() as conn:
        upsert_raw_payshack(conn, Direction.PAYIN, [_payshack(1, 10, "PENDING")], "2026-01-01")
    with clean_db.begin() as conn:
        later = [_payshack(1, 11, "SUCCESS")]
        assert upsert_raw_payshack(conn, Direction.PAYIN, later, "2026-01-02").updated == 1
    with clean_db.connect() as conn:
        key = conn.execute(text("SELECT partition_key FROM raw_payshack_transactions")).scalar()
    assert key == "2026-01-01"


def _stored_transactions(engine: Engine) -> dict[str, Transaction]:
    query = f"SELECT {', '.join(TRANSACTION_FIELDS)} FROM transactions"
    with engine.connect() as conn:
        rows = conn.execute(text(query)).mappings().all()
    return {str(row["id"]): Transaction(**{**row, "id": str(row["id"])}) for row in rows}


def test_transactions_land_with_every_column_in_their_months(
    clean_db: Engine, small_scenario: Scenario
) -> None:
    scenario, projects = small_scenario, small_scenario.client_project_map
    txns = [
        *(normalize_operation(op) for op in scenario.vima_operations[:20]),
        *(normalize_payin(row, projects) for row in scenario.payshack_payins[:10]),
        *(normalize_payout(row, projects) for row in scenario.payshack_payouts[:5]),
        # the months around the scenario's; the same source id from the other source
        make_txn(datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), source_id="same"),
        make_txn(datetime(2026, 3, 1, tzinfo=UTC), source=Source.PAYSHACK, source_id="same"),
    ]  # fmt: skip
    with clean_db.begin() as conn:
        assert upsert_transactions(conn, txns) == UpsertCounts(new=37)
    assert _stored_transactions(clean_db) == {txn.id: txn for txn in txns}


def test_transactions_a_raw_data_only_change_is_not_written(clean_db: Engine) -> None:
    first = _txn(1, 10, "a")
    with clean_db.begin() as conn:
        upsert_transactions(conn, [first])
    # raw_data is not in the data hash: the row, raw payload included, stays as it was
    again = _txn(1, 10, "a")
    again.raw_data = {"state": "a", "version": 10, "extra": "ignored"}
    with clean_db.begin() as conn:
        assert upsert_transactions(conn, [again]) == UpsertCounts(unchanged=1)
    assert _stored_transactions(clean_db)[first.id].raw_data == first.raw_data


# --- Vima's checkpoint, saved by the statement that looks the page's ids up --------------------


def _checkpoint(engine: Engine, stream: str, partition_key: str) -> Checkpoint | None:
    with engine.connect() as conn:
        return load_checkpoint(conn, Source.VIMA, stream, partition_key)


def test_raw_vima_saves_the_checkpoint_with_each_page(clean_db: Engine) -> None:
    first = Checkpoint(cursor="9200000002", page=1, rows=2, completed=False)
    with clean_db.begin() as conn:
        counts = upsert_raw_vima(conn, [_op(1, 10), _op(2, 10)], DAY, ("created", first))
    assert counts == UpsertCounts(new=2)
    assert _checkpoint(clean_db, "created", DAY) == first
    second = Checkpoint(cursor=None, page=2, rows=4, completed=True)
    page = [_op(2, 11, "fail"), _op(3, 10), _op(1, 10)]
    with clean_db.begin() as conn:
        counts = upsert_raw_vima(conn, page, DAY, ("created", second))
    assert counts == UpsertCounts(new=1, updated=1, unchanged=1)
    assert _checkpoint(clean_db, "created", DAY) == second
    assert _checkpoint(clean_db, "updated", DAY) is None  # another stream: its own row


def test_raw_vima_saves_the_checkpoint_of_an_empty_page(clean_db: Engine) -> None:
    last = Checkpoint(cursor="c", page=3, rows=0, completed=True)
    with clean_db.begin() as conn:
        assert upsert_raw_vima(conn, [], None, ("updated", last)) == UpsertCounts()
    assert _checkpoint(clean_db, "updated", "") == last  # no partition: the empty key


def test_raw_vima_saves_the_checkpoint_in_the_lookup_statement(
    clean_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    execute = psycopg.Cursor.execute

    def recording(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        statements.append(str(query))
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    at = Checkpoint(cursor="c", page=1, rows=1, completed=False)
    with clean_db.begin() as conn:
        upsert_raw_vima(conn, [_op(1, 10)], DAY, ("created", at))
    (saving,) = [s for s in statements if "ingest_checkpoints" in s]
    assert "SELECT operation_id FROM raw_vima_operations" in saving


def test_raw_vima_checkpoint_rolls_back_with_its_page(clean_db: Engine) -> None:
    at = Checkpoint(cursor="c", page=1, rows=1, completed=False)
    with pytest.raises(RuntimeError, match="run died"), clean_db.begin() as conn:
        upsert_raw_vima(conn, [_op(1, 10)], DAY, ("created", at))
        raise RuntimeError("run died before the commit")
    assert _checkpoint(clean_db, "created", DAY) is None
    assert LANDINGS["raw_vima"].stored(clean_db) == {}
