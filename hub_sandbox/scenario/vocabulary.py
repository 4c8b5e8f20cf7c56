"""What provider objects are made of: project looks, merchant ids, statuses, methods, traffic.

Plain tables the builder draws from; nothing here holds state or draws random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate


def scramble(n: int) -> int:
    """A bijection of 0..2**48-1: distinct counters give distinct, random-looking numbers."""
    return (n * 0x5DEECE66D + 0xB) & 0xFFFFFFFFFFFF


@dataclass(slots=True, frozen=True)
class KeyStyle:
    """How a merchant id looks: a fixed prefix, then a scrambled counter."""

    prefix: str
    spec: str
    """Format spec of the scrambled counter (`012x`: twelve hex digits)."""

    def render(self, n: int) -> str:
        """The id of (already scrambled) number `n`."""
        return f"{self.prefix}{n:{self.spec}}"


ORDER_KEYS = KeyStyle("ORD", "015d")
"""PayShack order ids that differ from every Vima key (the fallback case)."""

UNMAPPED_KEYS = KeyStyle("OM", "015d")
"""Order ids of the PayShack client that maps to no project."""


@dataclass(slots=True, frozen=True)
class Profile:
    """How one project's operations look."""

    currencies: tuple[str, ...]
    service: str
    owner: str
    keys: KeyStyle


_KNOWN_PROFILES: dict[str, Profile] = {
    "91game": Profile(("INR",), "upi_in", "91game_in_prod", KeyStyle("91g_", "012x")),
    "caroussel": Profile(("INR",), "upi_in", "crsl_in_prod", KeyStyle("CRSL", "015d")),
}
_FOREIGN_CURRENCIES = ("EUR", "EUR", "USD", "USD", "JPY", "KWD")


def profile(project: str, mapped: bool) -> Profile:
    """The look of `project`'s operations (mapped projects pay in INR over UPI/IMPS)."""
    known = _KNOWN_PROFILES.get(project)
    if known is not None:
        return known
    if mapped:
        return Profile(
            ("INR",), "upi_in", f"{project}_in_prod", KeyStyle(f"{project[:4]}_", "012x")
        )
    return Profile(_FOREIGN_CURRENCIES, "cards", f"{project}_eu", KeyStyle("", "016d"))


# --------------------------------------------------------------------------- statuses

STATES: dict[str, str] = {
    "success": "COMPLETE",
    "fail": "DECLINED",
    "in_process": "PROCESSING",
    "user_input_required": "AWAITING_CUSTOMER",
}
"""Vima status -> its processing state."""

ODD_STATES: dict[str, str] = {
    "success": "PROCESSING",
    "fail": "COMPLETE",
    "in_process": "AWAITING_CUSTOMER",
    "user_input_required": "PROCESSING",
}
"""The processing state of the odd operation (1 %) whose state disagrees with its status."""

STATUS_TABLE = ["success"] * 78 + ["fail"] * 15 + ["in_process"] * 5 + ["user_input_required"] * 2
"""A hundred Vima statuses: indexing it by a uniform draw gives the realistic odds."""

_RAW_SUCCESS = ("Success", "Success", "Success", "SUCCESS")
_RAW_FAILED = ("Failed", "Failed", "FAILED", "Expired", "Tampered")
_RAW_PENDING = ("Initiated", "INITIATED", "Pending", "In Process", "Incomplete")

RAW_BY_STATUS: dict[str, tuple[str, ...]] = {
    "success": _RAW_SUCCESS,
    "fail": _RAW_FAILED,
    "in_process": _RAW_PENDING,
    "user_input_required": _RAW_PENDING,
}
"""Vima status -> the PayShack raw statuses that agree with it (equally likely)."""

PAID_RAW = frozenset({"Success", "SUCCESS", "Refunded", "Cb_Refunded"})
"""PayShack raw statuses of a paid row (it has `paidAmount`, `utr` and commissions)."""

PENDING_RAW = frozenset(_RAW_PENDING)
"""PayShack raw statuses of a row that has not changed since its creation."""

# --------------------------------------------------------------------------- methods, traffic

Method = tuple[str, str, str, str]
"""(Vima method, payment method code, payment method type, payment product)."""

METHODS_INR: dict[str, list[Method]] = {
    "payin": [("payment.in", "upi", "upi", "upi_intent")] * 7
    + [("payment.in", "upi", "upi", "upi_collect")] * 3,
    "payout": [("payment.out", "imps", "bank_transfer", "imps_payout")] * 10,
}
"""Direction -> ten equally likely methods of INR operations."""

METHODS_OTHER: dict[str, list[Method]] = {
    "payin": [("payment.in", "card", "card", "visa")] * 6
    + [("payment.in", "card", "card", "mastercard")] * 4,
    "payout": [("payment.out", "card", "card", "visa_direct")] * 6
    + [("payment.out", "card", "card", "mastercard_send")] * 4,
}
"""Direction -> ten equally likely methods of operations in other currencies."""

HOUR_CUM = list(
    accumulate((3, 2, 2, 3, 4, 5, 6, 6, 6, 6, 7, 8, 9, 10, 11, 12, 12, 11, 9, 7, 5, 4, 3, 3))
)
"""Cumulative hour-of-day weights (UTC) of payment traffic: Indian evenings (IST) peak."""
