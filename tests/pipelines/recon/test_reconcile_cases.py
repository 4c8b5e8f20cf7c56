"""Reconciliation of hand-built days: the shapes a scenario makes rarely (no sandbox)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, text

from hub_core.db import ensure_month_partitions
from hub_pipelines.reconcile import ReconParams, reconcile_day, summarize_day

DAY = date(2026, 5, 20)
NOON = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
PARAMS = ReconParams(projects=("p1",))


def _insert(engine: Engine, rows: list[dict]) -> None:
    with engine.begin() as conn:
        ensure_month_partitions(conn, date(2026, 5, 1), date(2026, 5, 31))
        for row in rows:
            conn.execute(
                text(
                    "INSERT INTO transactions (id, source, source_id, match_key, project, "
                    "direction, amount, currency, status, original_status, created_at, data_hash) "
                    "VALUES (:id, :source, :source_id, :key, :project, :direction, :amount, "
                    "'INR', :status, :status, :created_at, 'h')"
                ),
                {
                    "id": uuid.uuid4(),
                    "project": "p1",
                    "direction": "payin",
                    "amount": Decimal("100.00"),
                    "status": "success",
                    "created_at": NOON,
                    **row,
                },
            )


def _v(source_id: str, key: str | None, **extra) -> dict:
    return {"source": "vima", "source_id": source_id, "key": key, **extra}


def _p(source_id: str, key: str | None, **extra) -> dict:
    return {"source": "payshack", "source_id": source_id, "key": key, **extra}


def _results(engine: Engine) -> Counter[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT match_type, match_method, vima_txn_id, payshack_txn_id, "
                "details ->> 'vima_rows', details ->> 'payshack_rows' "
                "FROM reconciliation_results WHERE recon_date = :d"
            ),
            {"d": DAY},
        ).all()
    return Counter(tuple(row) for row in rows)


def test_every_duplicate_shape_reports_each_row_once(clean_db: Engine) -> None:
    minute = timedelta(minutes=1)
    _insert(
        clean_db,
        [
            # two rows on each side: four rows reported, not the four joined pairs of each
            _v("v1", "K"), _v("v2", "K"), _p("p1", "K"), _p("p2", "K"),
            # twice on one side and nowhere on the other
            _v("v3", "L"), _v("v4", "L"),
            # once here, three times there
            _v("v5", "M"), _p("p3", "M"), _p("p4", "M"), _p("p5", "M"),
            # no key on either side, far apart in time: two orphans
            _v("v6", None, created_at=NOON - 3 * 60 * minute),
            _p("p6", None, created_at=NOON + 3 * 60 * minute),
            # the same key in the other direction is another key
            _v("v7", "K", direction="payout"), _p("p7", "K", direction="payout"),
        ],
    )  # fmt: skip
    with clean_db.begin() as conn:
        summary = reconcile_day(conn, DAY, "r1", PARAMS)
    got = _results(clean_db)
    dup = "duplicate"
    assert got == Counter(
        {
            (dup, None, "v1", None, "2", "2"): 1,
            (dup, None, "v2", None, "2", "2"): 1,
            (dup, None, None, "p1", "2", "2"): 1,
            (dup, None, None, "p2", "2", "2"): 1,
            (dup, None, "v3", None, "2", "0"): 1,
            (dup, None, "v4", None, "2", "0"): 1,
            (dup, None, "v5", None, "1", "3"): 1,
            (dup, None, None, "p3", "1", "3"): 1,
            (dup, None, None, "p4", "1", "3"): 1,
            (dup, None, None, "p5", "1", "3"): 1,
            ("missing_payshack", None, "v6", None, None, None): 1,
            ("missing_vima", None, None, "p6", None, None): 1,
            ("matched", "exact", "v7", "p7", None, None): 1,
        }
    )
    assert summary.counts == {
        "duplicate": 10,
        "missing_payshack": 1,
        "missing_vima": 1,
        "matched": 1,
    }


def test_summary_of_a_run_is_what_it_stored(clean_db: Engine) -> None:
    _insert(
        clean_db,
        [
            _v("v1", "A"), _p("p1", "A", amount=Decimal("90.00")),
            _v("v2", "B"), _p("p2", "B", status="failed"),
            _v("v3", "C"), _p("p3", "C"),
            _v("v4", "D", amount=Decimal("7.00")),
            # a changed key, alone in its time slot with the same amount: a fallback pair
            _v("v5", "E", amount=Decimal("55.55")), _p("p5", "E-2", amount=Decimal("55.55")),
        ],
    )  # fmt: skip
    with clean_db.begin() as conn:
        summary = reconcile_day(conn, DAY, "r1", PARAMS)
        stored = summarize_day(conn, DAY, "r1")
    assert (
        summary.counts
        == stored.counts
        == {
            "discrepancy_amount": 1,
            "discrepancy_status": 1,
            "matched": 2,
            "missing_payshack": 1,
        }
    )
    assert summary.amounts == stored.amounts
    assert summary.by_method == stored.by_method == {"exact": 3, "fallback": 1}
    assert summary.largest_breaks == stored.largest_breaks
    # by the size of the difference, else of the orphan: 10.00, 7.00, then the status break
    assert [b["vima_txn_id"] for b in summary.largest_breaks] == ["v1", "v4", "v2"]
