"""Reconciliation reproduces the sandbox's ground truth exactly, day by day."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Engine, text

from hub_core.settings import get_settings
from hub_pipelines.reconcile import ReconParams, reconcile_day
from hub_sandbox.scenario import Scenario
from tests.pipelines.recon.conftest import days

Result = tuple[str, str, str | None, str | None, str | None]


def _params() -> ReconParams:
    settings = get_settings()
    return ReconParams(projects=tuple(sorted(set(settings.hub_client_project_map.values()))))


def _truth(scenario: Scenario, initial: bool = False) -> Counter[Result]:
    expected: Counter[Result] = Counter()
    for entry in scenario.truth:
        kind = entry.get("payshack_kind")
        payshack = f"{kind}:{entry['payshack_txn_id']}" if entry.get("payshack_txn_id") else None
        match_type = (
            entry.get("initial_match_type", entry["match_type"]) if initial else entry["match_type"]
        )
        expected[
            (
                entry["recon_date"],
                match_type,
                entry["match_method"],
                entry["vima_operation_id"],
                payshack,
            )
        ] += 1
    return expected


def _reconcile_all(engine: Engine, run_id: str) -> Counter[Result]:
    with engine.begin() as conn:
        for day in days():
            reconcile_day(conn, day, run_id, _params())
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT recon_date::text, match_type, match_method, vima_txn_id, payshack_txn_id "
                "FROM reconciliation_results"
            )
        ).all()
    return Counter(tuple(row) for row in rows)


def _diff(got: Counter[Result], expected: Counter[Result]) -> dict[str, Any]:
    return {
        "unexpected": list((got - expected).items())[:10],
        "missing": list((expected - got).items())[:10],
    }


def test_ground_truth_is_reproduced_before_and_after_late_changes(
    ingest_all,
    recon_scenario,
    clean_db,
) -> None:
    handle = ingest_all()
    got = _reconcile_all(clean_db, "run-1")
    expected = _truth(recon_scenario, initial=True)
    assert got == expected, _diff(got, expected)

    assert handle.world.apply_late_changes() > 0
    ingest_all()  # the late-update pass: both sources again, update cursor and re-read
    got = _reconcile_all(clean_db, "run-2")
    expected = _truth(recon_scenario)
    assert got == expected, _diff(got, expected)
    cases = Counter(entry["case"] for entry in recon_scenario.truth)
    assert {"fallback", "lookalike", "duplicate_payshack", "midnight_vima_first"} <= set(cases)


def test_rerun_is_identical_and_keeps_resolutions(ingest_all, clean_db) -> None:
    ingest_all()
    _reconcile_all(clean_db, "run-1")
    query = text(
        "SELECT recon_date, match_type, match_method, discrepancy_key, vima_txn_id, "
        "payshack_txn_id, vima_amount, payshack_amount, amount_diff, vima_status, payshack_status "
        "FROM reconciliation_results ORDER BY discrepancy_key"
    )
    with clean_db.begin() as conn:
        first = conn.execute(query).all()
        key = conn.execute(
            text(
                "SELECT discrepancy_key FROM reconciliation_results "
                "WHERE match_type = 'missing_vima' LIMIT 1"
            )
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO discrepancy_resolutions "
                "(discrepancy_key, resolved, resolved_by, note) "
                "VALUES (:k, true, 'ops', 'chargeback filed')"
            ),
            {"k": key},
        )
    _reconcile_all(clean_db, "run-2")
    with clean_db.connect() as conn:
        assert conn.execute(query).all() == first
        assert set(conn.execute(text("SELECT run_id FROM reconciliation_results")).scalars()) == {
            "run-2"
        }
        note = conn.execute(
            text("SELECT note FROM discrepancy_resolutions WHERE discrepancy_key = :k"), {"k": key}
        ).scalar_one()
    assert note == "chargeback filed"


def test_results_count_every_pair_once_across_days(ingest_all, clean_db) -> None:
    ingest_all()
    _reconcile_all(clean_db, "run-1")
    with clean_db.connect() as conn:
        repeated = conn.execute(
            text(
                "SELECT id FROM (SELECT vima_txn_id AS id FROM reconciliation_results "
                "WHERE vima_txn_id IS NOT NULL UNION ALL SELECT payshack_txn_id "
                "FROM reconciliation_results WHERE payshack_txn_id IS NOT NULL) t "
                "GROUP BY id HAVING count(*) > 1"
            )
        ).all()
        mapped = conn.execute(
            text(
                "SELECT count(*) FROM transactions WHERE project = ANY(:p) "
                "AND created_at >= '2026-02-01' AND created_at < '2026-02-04'"
            ),
            {"p": list(_params().projects)},
        ).scalar_one()
        reported = conn.execute(
            text("SELECT count(vima_txn_id) + count(payshack_txn_id) FROM reconciliation_results")
        ).scalar_one()
    assert repeated == []
    assert reported == mapped  # every mapped transaction of the days is in exactly one result
