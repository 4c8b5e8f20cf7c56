"""Raw landing against real PostgreSQL: new rows, changed rows, replays of older versions."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import Engine, text

from hub_pipelines.sources.vima.landing import upsert_raw_vima


def _op(op_id: int, update_id: int, status: str = "success") -> dict[str, Any]:
    return {
        "operation_id": str(op_id),
        "operation_create_id": str(op_id),
        "operation_update_id": str(update_id),
        "operation_created_at": "2026-01-01T10:00:00Z",
        "project": "p1",
        "current_status": status,
    }


def _stored(engine: Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT operation_id, operation_update_id, payload ->> 'current_status' "
                "FROM raw_vima_operations"
            )
        ).all()
    return {op_id: (int(update_id), status) for op_id, update_id, status in rows}


def test_a_page_of_new_changed_unchanged_and_replayed_operations(clean_db: Engine) -> None:
    with clean_db.begin() as conn:
        first = upsert_raw_vima(conn, [_op(1, 10), _op(2, 20), _op(3, 30)], "2026-01-01")
    assert (first.new, first.updated, first.unchanged) == (3, 0, 0)
    page = [
        copy.deepcopy(_op(1, 10)),  # the same version again
        _op(2, 21, "fail"),  # a newer version
        _op(3, 29, "fail"),  # an older version replayed: never regresses the stored one
        _op(4, 40),  # new
        _op(4, 41, "fail"),  # the same id twice in a page: the last wins
    ]
    with clean_db.begin() as conn:
        counts = upsert_raw_vima(conn, page, "2026-01-01")
    assert (counts.new, counts.updated, counts.unchanged) == (1, 1, 2)
    assert _stored(clean_db) == {
        "1": (10, "success"),
        "2": (21, "fail"),
        "3": (30, "success"),
        "4": (41, "fail"),
    }
