"""What the days of a scenario hold: the injected cases, then the bulk, then unmapped rows.

Each injected case is one function `(builder, day start, instance number, project, direction)
-> Vima operations added`, found by its name in `CASE_BUILDERS`. Instance `j` of a case (counted
over the whole scenario) picks its variant by `j`, its project by turns and its direction
(every fourth is a pay-out). The construction of each case leaves no other reading under the
reconciliation rules (see the package docstring).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from .builder import Builder
from .constants import CASES, MIDNIGHT_CASES, UNMAPPED_CLIENT, cases_per_kind
from .formatting import DAY_MS
from .vocabulary import ORDER_KEYS

CaseBuilder = Callable[[Builder, int, int, str, str], int]
"""Builds instance `j` of a case on the day starting at `day_ms`; returns the Vima ops added."""


def build_days(builder: Builder, days: int, per_day: int) -> None:
    """Add `days` days of about `per_day` Vima operations each: injected cases, then bulk."""
    if per_day <= 0:
        return
    instances = dict.fromkeys(CASES, 0)
    for day in range(days):
        day_ms = builder.day_ms(day)
        used = _inject_cases(builder, day_ms, per_day, instances, last_day=day == days - 1)
        builder.bulk(day_ms, max(0, per_day - used))
        builder.unmapped(day_ms, max(1, per_day // 100))


def _inject_cases(
    builder: Builder, day_ms: int, per_day: int, instances: dict[str, int], last_day: bool
) -> int:
    """The injected cases of the day starting at `day_ms`; returns the Vima ops they added.

    `instances` counts each case's instances so far (over every day). The midnight cases need
    the next day, so the last day has none of them; without mapped projects there are none.
    """
    projects = builder.case_projects
    if not projects:
        return 0
    used = 0
    for case in CASES:
        if case in MIDNIGHT_CASES and last_day:
            continue
        build = CASE_BUILDERS[case]
        for _ in range(cases_per_kind(per_day)):
            j = instances[case]
            instances[case] = j + 1
            direction = "payout" if j % 4 == 3 else "payin"
            used += build(builder, day_ms, j, projects[j % len(projects)], direction)
    return used


def exact_pair(
    b: Builder,
    case: str,
    match_type: str,
    day_ms: int,
    project: str,
    direction: str,
    *,
    v_status: str = "success",
    p_raw: str = "Success",
    p_delta: int | None = None,
    paid_delta: int | None = None,
) -> int:
    """One exact-key pair at a quiet time of day, PayShack's amount (`p_delta`) or paid amount
    (`paid_delta`) off by so many minor units; its result is `match_type`."""
    minor = b.amount()
    t = b.quiet_time(day_ms)
    op, row, first = b.pair(
        project,
        direction,
        minor,
        v_status,
        p_raw,
        t,
        t + b.lag_ms(),
        p_minor=None if p_delta is None else minor + p_delta,
        paid_minor=None if paid_delta is None else minor + paid_delta,
    )
    b.add_truth(case, match_type, "exact", direction, project, op, row, first)
    return 1


def amount_above_tolerance(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """PayShack amount off by 5 rupees or 2 paise: discrepancy_amount."""
    delta = (500, -500, 2, -2)[j % 4]
    return exact_pair(
        b, "amount_above_tolerance", "discrepancy_amount", day_ms, project, direction, p_delta=delta
    )


def amount_within_tolerance(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """PayShack amount off by exactly 0.01 (also the paid amount): matched."""
    delta = (1, -1)[j % 2]
    return exact_pair(
        b, "amount_within_tolerance", "matched", day_ms, project, direction, p_delta=delta
    )


def paid_amount_diff(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """Same requested amount, PayShack paid less than Vima completed: discrepancy_amount."""
    delta = (-500, -2)[j % 2]
    return exact_pair(
        b, "paid_amount_diff", "discrepancy_amount", day_ms, project, direction, paid_delta=delta
    )


def status_diff(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """Final statuses disagree: discrepancy_status."""
    v_status, p_raw = (
        ("success", "Failed"),
        ("fail", "SUCCESS"),
        ("success", "Refunded"),
        ("in_process", "Success"),
        ("user_input_required", "Expired"),
    )[j % 5]
    return exact_pair(
        b,
        "status_diff",
        "discrepancy_status",
        day_ms,
        project,
        direction,
        v_status=v_status,
        p_raw=p_raw,
    )


def missing_payshack(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """A Vima operation PayShack never saw (sometimes an unmapped client's row shares its
    key and amount: it must not count)."""
    t = b.quiet_time(day_ms)
    minor = b.free_amount(project, direction, t, t)
    status = ("success", "fail", "in_process")[j % 3]
    key = b.new_key(project)
    op = b.vima_op(project, direction, minor, status, t, key)
    b.add_truth("missing_payshack", "missing_payshack", None, direction, project, op, None, t)
    if j % 4 == 0:
        b.payshack_row(
            None, direction, minor, "Success", t + b.lag_ms(), key, client=UNMAPPED_CLIENT
        )
    return 1


def missing_vima(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """A PayShack row with no Vima operation."""
    t = b.quiet_time(day_ms) // 1000 * 1000
    minor = b.free_amount(project, direction, t, t)
    raw = "Failed" if j % 3 == 2 else "Success"
    row = b.payshack_row(project, direction, minor, raw, t, b.new_key(project))
    b.add_truth("missing_vima", "missing_vima", None, direction, project, None, row, t)
    return 0


def duplicate_payshack(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """PayShack holds the key twice (a retry): every row of the key is a duplicate."""
    t = b.quiet_time(day_ms)
    minor = b.amount()
    key = b.new_key(project)
    op = b.vima_op(project, direction, minor, "success", t, key)
    first = t + b.lag_ms()
    second = first + 30_000 + int(b.rng.random() * 570_000)
    rows = [
        b.payshack_row(project, direction, minor, "Failed", first, key),
        b.payshack_row(project, direction, minor, "Success", second, key),
    ]
    case = "duplicate_payshack"
    b.add_truth(case, "duplicate", None, direction, project, op, None, t)
    for row in rows:
        b.add_truth(case, "duplicate", None, direction, project, None, row, t)
    return 1


def duplicate_vima(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """Vima holds the key twice (failed try, then success): every row is a duplicate."""
    t = b.quiet_time(day_ms)
    minor = b.amount()
    key = b.new_key(project)
    retry = t + 60_000 + int(b.rng.random() * 240_000)
    ops = [
        b.vima_op(project, direction, minor, "fail", t, key),
        b.vima_op(project, direction, minor, "success", retry, key),
    ]
    row = b.payshack_row(project, direction, minor, "Success", retry + b.lag_ms(), key)
    case = "duplicate_vima"
    for op in ops:
        b.add_truth(case, "duplicate", None, direction, project, op, None, t)
    b.add_truth(case, "duplicate", None, direction, project, None, row, t)
    return 2


def midnight_vima_first(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """Vima at 23:59:xx, PayShack at 00:00:xx the next day: the pair is this day's."""
    midnight = day_ms + DAY_MS
    v_ms = midnight - 60_000 + int(b.rng.random() * 59_000)
    p_ms = midnight + 1000 * int(b.rng.random() * 60)
    return _midnight_pair(b, "midnight_vima_first", project, direction, v_ms, p_ms)


def midnight_payshack_first(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """PayShack at 23:59:xx, Vima at 00:00:xx the next day: the pair is this day's."""
    midnight = day_ms + DAY_MS
    p_ms = midnight - 60_000 + 1000 * int(b.rng.random() * 59)
    v_ms = midnight + int(b.rng.random() * 59_000)
    return _midnight_pair(b, "midnight_payshack_first", project, direction, v_ms, p_ms)


def _midnight_pair(
    b: Builder, case: str, project: str, direction: str, v_ms: int, p_ms: int
) -> int:
    """A successful exact pair created at `v_ms` (Vima) and `p_ms` (PayShack): matched."""
    op, row, first = b.pair(project, direction, b.amount(), "success", "Success", v_ms, p_ms)
    b.add_truth(case, "matched", "exact", direction, project, op, row, first)
    return 1


def late_status_change(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """Pending on one side, settled hours later: discrepancy_status at first, then matched."""
    t = b.quiet_time(day_ms)
    minor = b.amount()
    after = 3_600_000 + int(b.rng.random() * 5 * 3_600_000)  # 1-6 hours
    if j % 2 == 0:
        v_status = ("in_process", "user_input_required")[j // 2 % 2]
        op, row, first = b.pair(project, direction, minor, v_status, "Success", t, t + b.lag_ms())
        b.settle_vima_later(op, minor, t + after)
    else:
        p_raw = ("Pending", "Initiated", "In Process")[j // 2 % 3]
        p_ms = (t + b.lag_ms()) // 1000 * 1000
        op, row, first = b.pair(project, direction, minor, "success", p_raw, t, p_ms)
        at = p_ms + after // 1000 * 1000  # PayShack times are whole seconds
        b.settle_payshack_later(row, direction, minor, at)
    b.add_truth(
        "late_status_change",
        "matched",
        "exact",
        direction,
        project,
        op,
        row,
        first,
        initial="discrepancy_status",
    )
    return 1


def fallback(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """Different keys, same project/direction/amount, minutes apart, alone: fallback pair."""
    t = b.quiet_time(day_ms)
    if j % 4 == 0:  # the published pair: 100 rupees, 26 s apart
        lag, preferred = 26_000, 10_000
    else:
        lag, preferred = 5_000 + int(b.rng.random() * 535_000), None
    minor = b.free_amount(project, direction, t, t + lag, preferred)
    p_raw = "Pending" if j % 3 == 2 else "Success"
    op, row, first = b.pair(
        project, direction, minor, "success", p_raw, t, t + lag, order_id=b.new_id(ORDER_KEYS)
    )
    match_type = "discrepancy_status" if p_raw == "Pending" else "matched"
    b.add_truth("fallback", match_type, "fallback", direction, project, op, row, first)
    return 1


def lookalike(b: Builder, day_ms: int, j: int, project: str, direction: str) -> int:
    """Same project/direction/amount within a minute but several candidates: no pairs."""
    n_vima, n_payshack = ((2, 2), (1, 2), (2, 1))[j % 3]
    t = b.quiet_time(day_ms)
    minor = b.free_amount(project, direction, t, t + 60_000)
    r = b.rng.random
    for _ in range(n_vima):
        v_ms = t + int(r() * 50_000)
        op = b.vima_op(project, direction, minor, "success", v_ms, b.new_key(project))
        b.add_truth("lookalike", "missing_payshack", None, direction, project, op, None, v_ms)
    for _ in range(n_payshack):
        p_ms = (t + 1000 + int(r() * 55_000)) // 1000 * 1000
        row = b.payshack_row(project, direction, minor, "Success", p_ms, b.new_key(project))
        b.add_truth("lookalike", "missing_vima", None, direction, project, None, row, p_ms)
    return n_vima


CASE_BUILDERS: Mapping[str, CaseBuilder] = MappingProxyType(
    {
        "amount_above_tolerance": amount_above_tolerance,
        "amount_within_tolerance": amount_within_tolerance,
        "paid_amount_diff": paid_amount_diff,
        "status_diff": status_diff,
        "missing_payshack": missing_payshack,
        "missing_vima": missing_vima,
        "duplicate_payshack": duplicate_payshack,
        "duplicate_vima": duplicate_vima,
        "midnight_vima_first": midnight_vima_first,
        "midnight_payshack_first": midnight_payshack_first,
        "late_status_change": late_status_change,
        "fallback": fallback,
        "lookalike": lookalike,
    }
)
"""Case name -> the function that builds one instance of it (every name of `CASES`)."""
