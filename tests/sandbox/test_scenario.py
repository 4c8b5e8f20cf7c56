"""The sandbox scenario: deterministic, realistic, and its truth is what the rules give.

`reconcile` below is an independent brute-force implementation of the reconciliation rules
(DESIGN.md, "Reconciliation"); it validates the generator's construction, not the hub.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from hub_sandbox import server
from hub_sandbox.cli import app
from hub_sandbox.scenario import (
    CASES,
    CURRENCY_EXPONENT,
    MIDNIGHT_CASES,
    SANDBOX_CLIENT_PROJECT_MAP,
    UNMAPPED_CLIENT,
    LateChange,
    Scenario,
    cases_per_kind,
    generate,
)
from hub_sandbox.scenario.cases import CASE_BUILDERS

TOLERANCE = Decimal("0.01")
WINDOW = timedelta(minutes=10)
VIMA_STATUS = {
    "success": "success",
    "fail": "failed",
    "in_process": "pending",
    "user_input_required": "pending",
}
PAYSHACK_STATUS = {
    "success": "success",
    "failed": "failed",
    "tampered": "failed",
    "expired": "failed",
    "initiated": "pending",
    "pending": "pending",
    "in process": "pending",
    "incomplete": "pending",
    "refunded": "refunded",
    "cb_refunded": "refunded",
}
VIMA_KEYS = {
    "operation_id", "reference_id", "client_operation_id", "project", "project_env", "service",
    "credentials_owner", "user_id", "contact", "ip_addr", "create_params", "current_status",
    "operation_state", "payment_method_code", "payment_method_type", "payment_product",
    "operation_created_at", "operation_modified_at", "operation_create_id", "operation_update_id",
}  # fmt: skip
COMPLETE_KEYS = {"complete_amount", "complete_currency", "complete_created_at", "card_finish"}
PAYIN_KEYS = {
    "txnId", "orderId", "spTxnId", "amount", "paidAmount", "utr", "txnStatus", "clientName",
    "clientId", "transactionType", "payerVpa", "upiId", "totalCommissionAmount", "createdAt",
    "modifiedAt",
}  # fmt: skip
PAYOUT_KEYS = PAYIN_KEYS | {"beneName", "beneAccount", "beneIfsc", "txnCharges", "netAmount"}


@pytest.fixture(scope="module")
def small() -> Scenario:
    return generate(seed=42, start=date(2026, 1, 1), days=3, per_day=300)


@pytest.fixture(scope="module")
def medium() -> Scenario:
    return generate(seed=42, start=date(2026, 1, 1), days=2, per_day=2000)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------- brute-force reconciler


def final_state(sc: Scenario, upto: int | None = None) -> tuple[list[dict], list[tuple]]:
    """Vima ops and (kind, row) PayShack rows after the first `upto` late changes (all: None)."""
    ops = {op["operation_id"]: dict(op) for op in sc.vima_operations}
    rows = {("payin", r["txnId"]): dict(r) for r in sc.payshack_payins}
    rows |= {("payout", r["txnId"]): dict(r) for r in sc.payshack_payouts}
    for change in sc.late_changes[:upto]:
        target = ops[change.key] if change.source == "vima" else rows[(change.kind, change.key)]
        target.update(change.changes)
    return list(ops.values()), [(kind, row) for (kind, _), row in rows.items()]


def normalize(sc: Scenario, ops: list[dict], rows: list[tuple]) -> list[dict[str, Any]]:
    """Candidate records of both sides in one shape."""
    mapped = set(sc.client_project_map.values())
    records = []
    for op in ops:
        if op["project"] not in mapped:
            continue
        amount = op["create_params"]["params"]["payment"]["amount"]
        exponent = CURRENCY_EXPONENT[amount["currency"]]
        paid = op.get("complete_amount")
        records.append(
            {
                "side": "vima",
                "id": op["operation_id"],
                "kind": None,
                "key": op["client_operation_id"],
                "direction": "payin" if op["create_params"]["method"] == "payment.in" else "payout",
                "project": op["project"],
                "amount": Decimal(amount["value"]).scaleb(-exponent),
                "paid": None if paid is None else Decimal(str(paid)),
                "status": VIMA_STATUS[op["current_status"]],
                "created": parse_time(op["operation_created_at"]),
            }
        )
    for kind, row in rows:
        if row["clientName"] not in sc.client_project_map:
            continue
        paid = row["paidAmount"]
        records.append(
            {
                "side": "payshack",
                "id": row["txnId"],
                "kind": kind,
                "key": row["orderId"],
                "direction": kind,
                "project": sc.client_project_map[row["clientName"]],
                "amount": Decimal(str(row["amount"])),
                "paid": None if paid is None else Decimal(str(paid)),
                "status": PAYSHACK_STATUS[row["txnStatus"].lower()],
                "created": parse_time(row["createdAt"]),
            }
        )
    return records


def pair_type(v: dict, p: dict) -> str:
    if abs(v["amount"] - p["amount"]) > TOLERANCE:
        return "discrepancy_amount"
    if v["paid"] is not None and p["paid"] is not None and abs(v["paid"] - p["paid"]) > TOLERANCE:
        return "discrepancy_amount"
    return "discrepancy_status" if v["status"] != p["status"] else "matched"


def result(day: datetime, match_type: str, method: str | None, v: dict | None, p: dict | None):
    return (
        day.date().isoformat(),
        match_type,
        method,
        v["id"] if v else None,
        p["kind"] if p else None,
        p["id"] if p else None,
    )


def reconcile(sc: Scenario, upto: int | None = None) -> set[tuple]:
    """Every result the rules give, as (recon_date, type, method, vima id, kind, txn id)."""
    records = normalize(sc, *final_state(sc, upto))
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for rec in records:
        groups[(rec["direction"], rec["key"])].append(rec)
    out: set[tuple] = set()
    left_v, left_p = [], []
    for group in groups.values():
        sides = Counter(rec["side"] for rec in group)
        if sides["vima"] > 1 or sides["payshack"] > 1:
            first = min(rec["created"] for rec in group)
            for rec in group:
                v, p = (rec, None) if rec["side"] == "vima" else (None, rec)
                out.add(result(first, "duplicate", None, v, p))
        elif sides["vima"] == 1 and sides["payshack"] == 1:
            v, p = sorted(group, key=lambda rec: rec["side"] != "vima")
            out.add(result(min(v["created"], p["created"]), pair_type(v, p), "exact", v, p))
        else:
            (left_v if group[0]["side"] == "vima" else left_p).extend(group)

    def close(v: dict, p: dict) -> bool:
        return (
            v["project"] == p["project"]
            and v["direction"] == p["direction"]
            and abs(v["amount"] - p["amount"]) <= TOLERANCE
            and abs(v["created"] - p["created"]) <= WINDOW
        )

    cands_v = {v["id"]: [p for p in left_p if close(v, p)] for v in left_v}
    cands_p = {(p["kind"], p["id"]): [v for v in left_v if close(v, p)] for p in left_p}
    paired_v, paired_p = set(), set()
    for v in left_v:
        if len(cands_v[v["id"]]) == 1:
            p = cands_v[v["id"]][0]
            if len(cands_p[(p["kind"], p["id"])]) == 1:
                day = min(v["created"], p["created"])
                out.add(result(day, pair_type(v, p), "fallback", v, p))
                paired_v.add(v["id"])
                paired_p.add((p["kind"], p["id"]))
    for v in left_v:
        if v["id"] not in paired_v:
            out.add(result(v["created"], "missing_payshack", None, v, None))
    for p in left_p:
        if (p["kind"], p["id"]) not in paired_p:
            out.add(result(p["created"], "missing_vima", None, None, p))
    return out


def truth_set(sc: Scenario, initial: bool = False) -> set[tuple]:
    return {
        (
            e["recon_date"],
            e.get("initial_match_type", e["match_type"]) if initial else e["match_type"],
            e["match_method"],
            e["vima_operation_id"],
            e["payshack_kind"],
            e["payshack_txn_id"],
        )
        for e in sc.truth
    }


# --------------------------------------------------------------------- the truth


def test_truth_is_what_the_rules_give(small: Scenario) -> None:
    assert len(small.truth) == len(truth_set(small))
    assert reconcile(small) == truth_set(small)


def test_initial_state_gives_the_initial_match_types(small: Scenario) -> None:
    assert reconcile(small, upto=0) == truth_set(small, initial=True)
    late = [e for e in small.truth if "initial_match_type" in e]
    assert late
    assert all(e["case"] == "late_status_change" and e["match_type"] == "matched" for e in late)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    days=st.integers(1, 3),
    per_day=st.integers(0, 160),
    start=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
)
def test_any_seed_gives_a_self_consistent_scenario(
    seed: int, days: int, per_day: int, start: date
) -> None:
    sc = generate(seed=seed, start=start, days=days, per_day=per_day)
    assert reconcile(sc) == truth_set(sc)
    assert reconcile(sc, upto=0) == truth_set(sc, initial=True)
    assert_created_within_range(sc)


def test_every_case_every_day(medium: Scenario) -> None:
    by_day = medium.truth_by_day()
    days = [(medium.start + timedelta(days=i)).isoformat() for i in range(medium.days)]
    assert list(by_day) == days
    for i, day in enumerate(days):
        cases = Counter(e["case"] for e in by_day[day])
        for case in CASES:
            if case in MIDNIGHT_CASES and i == len(days) - 1:
                continue
            assert cases[case] >= 2, (day, case)
        assert cases["exact"] > 1000


def test_cases_scale_with_volume() -> None:
    assert cases_per_kind(0) == 0
    assert cases_per_kind(50) == 1
    assert cases_per_kind(500) == 2
    assert cases_per_kind(200_000) == 200


def test_every_case_has_one_builder_in_generation_order() -> None:
    assert tuple(CASE_BUILDERS) == CASES


def test_case_outcomes(medium: Scenario) -> None:
    kinds = defaultdict(set)
    for e in medium.truth:
        kinds[e["case"]].add((e["match_type"], e["match_method"]))
    assert kinds["exact"] == {("matched", "exact")}
    assert kinds["amount_above_tolerance"] == {("discrepancy_amount", "exact")}
    assert kinds["amount_within_tolerance"] == {("matched", "exact")}
    assert kinds["paid_amount_diff"] == {("discrepancy_amount", "exact")}
    assert kinds["status_diff"] == {("discrepancy_status", "exact")}
    assert kinds["missing_payshack"] == {("missing_payshack", None)}
    assert kinds["missing_vima"] == {("missing_vima", None)}
    assert kinds["duplicate_payshack"] == {("duplicate", None)}
    assert kinds["duplicate_vima"] == {("duplicate", None)}
    assert kinds["midnight_vima_first"] == {("matched", "exact")}
    assert kinds["late_status_change"] == {("matched", "exact")}
    assert ("matched", "fallback") in kinds["fallback"]
    assert kinds["lookalike"] == {("missing_payshack", None), ("missing_vima", None)}


def test_midnight_pairs_belong_to_the_earlier_day(medium: Scenario) -> None:
    ops = {op["operation_id"]: op for op in medium.vima_operations}
    rows = {r["txnId"]: r for r in medium.payshack_payins + medium.payshack_payouts}
    seen = Counter()
    for e in medium.truth:
        if e["case"] not in MIDNIGHT_CASES:
            continue
        v = parse_time(ops[e["vima_operation_id"]]["operation_created_at"])
        p = parse_time(rows[e["payshack_txn_id"]]["createdAt"])
        first, second = (v, p) if e["case"] == "midnight_vima_first" else (p, v)
        assert first < second
        assert first.date() + timedelta(days=1) == second.date()
        assert e["recon_date"] == first.date().isoformat()
        seen[e["case"]] += 1
    assert seen["midnight_vima_first"] >= 2 and seen["midnight_payshack_first"] >= 2


def test_published_fallback_pair_is_there(medium: Scenario) -> None:
    ops = {op["operation_id"]: op for op in medium.vima_operations}
    amounts = [
        ops[e["vima_operation_id"]]["create_params"]["params"]["payment"]["amount"]["value"]
        for e in medium.truth
        if e["match_method"] == "fallback"
    ]
    assert 10_000 in amounts
    assert all(e["client_operation_id"] != e["order_id"] for e in medium.truth
               if e["match_method"] == "fallback")  # fmt: skip


# --------------------------------------------------------------------- determinism and ids


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    one = generate(seed=5, days=2, per_day=400).to_json()
    assert one == generate(seed=5, days=2, per_day=400).to_json()
    assert one != generate(seed=6, days=2, per_day=400).to_json()


def test_same_bytes_whatever_the_hash_seed() -> None:
    code = (
        "import hashlib, datetime; from hub_sandbox.scenario import generate; "
        "sc = generate(seed=3, start=datetime.date(2026, 5, 30), days=2, per_day=250); "
        "print(hashlib.sha256(sc.to_json()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(digests) == 1


def test_cursors_monotonic_and_ids_unique(medium: Scenario) -> None:
    ops = medium.vima_operations
    create_ids = [int(op["operation_create_id"]) for op in ops]
    assert create_ids == sorted(create_ids) and len(set(create_ids)) == len(ops)
    created = [op["operation_created_at"] for op in ops]
    assert created == sorted(created)
    assert len({op["operation_id"] for op in ops}) == len(ops)
    by_update = sorted(ops, key=lambda op: int(op["operation_update_id"]))
    assert len({op["operation_update_id"] for op in ops}) == len(ops)
    modified = [parse_time(op["operation_modified_at"]) for op in by_update]
    assert modified == sorted(modified)
    for rows in (medium.payshack_payins, medium.payshack_payouts):
        assert len({r["txnId"] for r in rows}) == len(rows)
        assert [r["createdAt"] for r in rows] == sorted(r["createdAt"] for r in rows)
    assert int(medium.counters["operation_create_id"]) == max(create_ids)


def test_late_changes_sorted_and_pointing_at_real_objects(medium: Scenario) -> None:
    ats = [c.at for c in medium.late_changes]
    assert ats == sorted(ats) and ats
    ops = {op["operation_id"]: op for op in medium.vima_operations}
    rows = {("payin", r["txnId"]): r for r in medium.payshack_payins}
    rows |= {("payout", r["txnId"]): r for r in medium.payshack_payouts}
    for change in medium.late_changes:
        assert isinstance(change, LateChange) and change.at.tzinfo is not None
        if change.source == "vima":
            target, created = ops[change.key], ops[change.key]["operation_created_at"]
            assert change.kind is None and target["current_status"] != "success"
            assert change.changes["current_status"] == "success"
        else:
            target = rows[(change.kind, change.key)]
            created = target["createdAt"]
            assert target["utr"] == "" and change.changes["txnStatus"] == "Success"
        assert timedelta(hours=1) <= change.at - parse_time(created) <= timedelta(hours=6)


# --------------------------------------------------------------------- realistic objects


def test_vima_operations_look_like_the_api(medium: Scenario) -> None:
    statuses = Counter()
    for op in medium.vima_operations:
        keys = set(op)
        assert keys >= VIMA_KEYS and keys - VIMA_KEYS in (set(), COMPLETE_KEYS)
        assert (keys - VIMA_KEYS == COMPLETE_KEYS) == (op["current_status"] == "success")
        payment = op["create_params"]["params"]["payment"]
        assert op["client_operation_id"] == payment["identifiers"]["c_id"]
        assert op["operation_id"].isdigit() and int(op["reference_id"], 16) >= 0
        assert isinstance(payment["amount"]["value"], int) and payment["amount"]["value"] > 0
        assert op["operation_created_at"].endswith("Z") and len(op["operation_created_at"]) == 24
        statuses[op["current_status"]] += 1
    total = sum(statuses.values())
    assert 0.7 < statuses["success"] / total < 0.85
    assert 0.1 < statuses["fail"] / total < 0.2
    assert statuses["in_process"] and statuses["user_input_required"]
    projects = Counter(op["project"] for op in medium.vima_operations)
    assert 0.6 < (projects["91game"] + projects["caroussel"]) / total < 0.8


def test_currency_exponents(medium: Scenario) -> None:
    seen = set()
    for op in medium.vima_operations:
        amount = op["create_params"]["params"]["payment"]["amount"]
        currency, exponent = amount["currency"], CURRENCY_EXPONENT[amount["currency"]]
        seen.add(currency)
        if op["project"] in SANDBOX_CLIENT_PROJECT_MAP.values():
            assert currency == "INR"
        if "complete_amount" in op:
            text = op["complete_amount"]
            assert Decimal(text) == Decimal(amount["value"]).scaleb(-exponent)
            assert len(text.partition(".")[2]) == exponent
            fee = op["card_finish"][0]["charged_fee"]
            assert isinstance(fee, int) if exponent == 0 else isinstance(fee, float)
    assert seen == {"INR", "EUR", "USD", "JPY", "KWD"}


def assert_created_within_range(sc: Scenario) -> None:
    begin = datetime(sc.start.year, sc.start.month, sc.start.day, tzinfo=UTC)
    end = begin + timedelta(days=sc.days)
    for op in sc.vima_operations:
        assert begin <= parse_time(op["operation_created_at"]) < end
    for row in sc.payshack_payins + sc.payshack_payouts:
        assert begin <= parse_time(row["createdAt"]) < end
        assert row["createdAt"].endswith(":00.000Z") or row["createdAt"].endswith(".000Z")
        assert row["modifiedAt"].endswith(".000Z") and row["modifiedAt"] >= row["createdAt"]


def test_times_within_range_and_payshack_whole_seconds(medium: Scenario) -> None:
    assert_created_within_range(medium)


def test_payshack_rows_look_like_the_dashboard(medium: Scenario) -> None:
    raw = Counter()
    for kind, rows, keys in (
        ("payin", medium.payshack_payins, PAYIN_KEYS),
        ("payout", medium.payshack_payouts, PAYOUT_KEYS),
    ):
        for row in rows:
            assert set(row) == keys
            assert row["txnStatus"].lower() in PAYSHACK_STATUS
            raw[row["txnStatus"]] += 1
            assert round(row["amount"], 2) == row["amount"]
            paid = PAYSHACK_STATUS[row["txnStatus"].lower()] in ("success", "refunded")
            assert (row["paidAmount"] is not None) == paid
            assert (len(row["utr"]) == 12 and row["utr"].isdigit()) if paid else row["utr"] == ""
            assert row["transactionType"] in ("UPI_INTENT", "UPI_COLLECT", "IMPS")
            if kind == "payout":
                assert row["netAmount"] == round(row["amount"] + row["txnCharges"], 2)
    assert {"Success", "SUCCESS", "Failed", "FAILED", "Pending", "Refunded"} <= set(raw)
    clients = Counter(r["clientName"] for r in medium.payshack_payins + medium.payshack_payouts)
    assert set(clients) == {*SANDBOX_CLIENT_PROJECT_MAP, UNMAPPED_CLIENT}


def test_exact_pairs_mirror_vima(medium: Scenario) -> None:
    ops = {op["operation_id"]: op for op in medium.vima_operations}
    rows = {r["txnId"]: r for r in medium.payshack_payins + medium.payshack_payouts}
    for e in medium.truth:
        if e["case"] != "exact":
            continue
        op, row = ops[e["vima_operation_id"]], rows[e["payshack_txn_id"]]
        assert row["orderId"] == op["client_operation_id"]
        assert SANDBOX_CLIENT_PROJECT_MAP[row["clientName"]] == op["project"]
        lag = parse_time(row["createdAt"]) - parse_time(op["operation_created_at"])
        assert timedelta(0) < lag <= timedelta(seconds=90)
        assert PAYSHACK_STATUS[row["txnStatus"].lower()] == VIMA_STATUS[op["current_status"]]
        value = op["create_params"]["params"]["payment"]["amount"]["value"]
        assert Decimal(str(row["amount"])) == Decimal(value).scaleb(-2)


def test_truth_entries_shape(small: Scenario) -> None:
    required = {
        "recon_date", "match_type", "match_method", "case", "direction", "project",
        "vima_operation_id", "payshack_txn_id", "payshack_kind", "client_operation_id",
        "order_id",
    }  # fmt: skip
    for e in small.truth:
        assert required <= set(e) <= required | {"initial_match_type"}
    order = [(e["recon_date"], e["vima_operation_id"] or "") for e in small.truth]
    assert order == sorted(order)
    assert sum(len(v) for v in small.truth_by_day().values()) == len(small.truth)


def test_no_activity_gives_an_empty_scenario() -> None:
    sc = generate(days=2, per_day=0)
    assert not sc.vima_operations and not sc.truth and not sc.late_changes


def test_unmapped_projects_only_give_no_cases() -> None:
    sc = generate(days=1, per_day=200, projects={"monetix": 1.0})
    assert sc.vima_operations and not sc.truth
    assert {op["project"] for op in sc.vima_operations} == {"monetix"}


# --------------------------------------------------------------------- live feed


def test_live_feed_continues_monotonic_and_deterministic(small: Scenario) -> None:
    def run() -> list:
        feed = small.live_feed(ops_per_minute=120)
        now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        batches = []
        for _ in range(40):
            now += timedelta(seconds=15)
            batches.append(feed.tick(now))
        return batches

    batches = run()
    ops = [op for b in batches for op in b.vima_operations]
    rows = [r for b in batches for r in b.payshack_payins + b.payshack_payouts]
    changes = [c for b in batches for c in b.late_changes]
    assert len(ops) > 40 and rows and changes
    last = int(small.counters["operation_create_id"])
    create_ids = [int(op["operation_create_id"]) for op in ops]
    assert create_ids == sorted(create_ids) and create_ids[0] > last
    update_ids = [int(op["operation_update_id"]) for op in ops]
    assert update_ids == sorted(update_ids)
    assert update_ids[0] > int(small.counters["operation_update_id"])
    assert [op["operation_created_at"] for op in ops] == sorted(
        op["operation_created_at"] for op in ops
    )
    old_ids = {op["operation_id"] for op in small.vima_operations}
    assert not old_ids & {op["operation_id"] for op in ops}
    payins = [r["txnId"] for b in batches for r in b.payshack_payins]
    assert len(set(payins)) == len(payins)
    assert not set(payins) & {r["txnId"] for r in small.payshack_payins}
    known = {op["operation_id"] for op in ops} | {r["txnId"] for r in rows}
    assert all(c.key in known for c in changes)
    assert all(op["client_operation_id"] == op["create_params"]["params"]["payment"][
        "identifiers"]["c_id"] for op in ops)  # fmt: skip
    again = run()
    assert [b.vima_operations for b in again] == [b.vima_operations for b in batches]
    assert [b.late_changes for b in again] == [b.late_changes for b in batches]


# --------------------------------------------------------------------- command line


def test_truth_command_writes_deterministic_truth(tmp_path: Path) -> None:
    args = ["truth", "--seed", "9", "--start", "2026-02-01", "--days", "2", "--per-day", "300"]
    runner = CliRunner()
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for out in (first, second):
        result = runner.invoke(app, [*args, "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert first.read_bytes() == second.read_bytes()
    doc = json.loads(first.read_bytes())
    assert (doc["seed"], doc["start"], doc["days"], doc["per_day"]) == (9, "2026-02-01", 2, 300)
    assert doc["client_project_map"] == SANDBOX_CLIENT_PROJECT_MAP
    expected = generate(seed=9, start=date(2026, 2, 1), days=2, per_day=300).truth
    assert doc["results"] == expected
    assert {e["recon_date"] for e in doc["results"]} == {"2026-02-01", "2026-02-02"}


def test_truth_command_rejects_a_bad_date(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["truth", "--start", "2026-13-01", "--out", "x.json"])
    assert result.exit_code != 0
    assert "YYYY-MM-DD" in result.output


def test_serve_hands_the_scenario_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Scenario, dict]] = []
    monkeypatch.setattr(server, "serve_forever", lambda sc, **kw: calls.append((sc, kw)))
    args = ["--seed", "3", "--days", "1", "--per-day", "100", "--vima-port", "9101"]
    args += ["--payshack-port", "9102", "--live", "--faults", "429:7", "--token-ttl", "60"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    ((scenario, kwargs),) = calls
    assert (scenario.seed, scenario.days, scenario.per_day) == (3, 1, 100)
    assert kwargs == {
        "vima_port": 9101,
        "payshack_port": 9102,
        "host": "127.0.0.1",
        "live": True,
        "faults": "429:7",
        "token_ttl": 60,
    }
