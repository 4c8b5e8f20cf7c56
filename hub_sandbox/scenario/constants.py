"""The scenario's fixed names and numbers: client map, projects, currencies, injected cases."""

from __future__ import annotations

SANDBOX_CLIENT_PROJECT_MAP: dict[str, str] = {
    "91G_TECH_PVT_LTD": "91game",
    "CRSL_GAMING_LLP": "caroussel",
}
"""PayShack client name -> Vima project, as `HUB_CLIENT_PROJECT_MAP` configures it."""

DEFAULT_PROJECTS: dict[str, float] = {"91game": 0.4, "caroussel": 0.3, "monetix": 0.3}
"""Share of Vima operations per project. Mapped projects (values of the client map) are INR;
any other project is unmapped and uses EUR, USD, JPY and KWD."""

UNMAPPED_CLIENT = "OTHER_MERCHANT_PVT_LTD"
"""A PayShack client that maps to no project: its rows never take part in reconciliation."""

CURRENCY_EXPONENT: dict[str, int] = {"INR": 2, "EUR": 2, "USD": 2, "JPY": 0, "KWD": 3}
"""ISO 4217 exponent of every currency the scenario uses."""

TOLERANCE_MINOR = 1
"""Amount tolerance of the reconciliation in INR minor units (0.01)."""

FALLBACK_WINDOW_MS = 10 * 60_000
"""Creation-time window of the fallback match."""

CASES: tuple[str, ...] = (
    "amount_above_tolerance",
    "amount_within_tolerance",
    "paid_amount_diff",
    "status_diff",
    "missing_payshack",
    "missing_vima",
    "duplicate_payshack",
    "duplicate_vima",
    "midnight_vima_first",
    "midnight_payshack_first",
    "late_status_change",
    "fallback",
    "lookalike",
)
"""Injected case names, in generation order (the bulk of pairs has case `exact`)."""

MIDNIGHT_CASES = frozenset({"midnight_vima_first", "midnight_payshack_first"})
"""Cases that straddle the midnight after their day: absent on the scenario's last day."""


def cases_per_kind(per_day: int) -> int:
    """How many instances of each injected case a day holds."""
    if per_day <= 0:
        return 0
    if per_day < 100:
        return 1
    return max(2, per_day // 1000)
