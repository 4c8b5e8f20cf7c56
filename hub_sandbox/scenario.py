"""Deterministic scenario of Vima operations and PayShack pay-ins/pay-outs, with ground truth.

INTERFACE (fixed; shared by the generator and the stand-in servers):

- `generate(seed, start, days, per_day, projects=None) -> Scenario` builds everything from the
  seed alone: same arguments, same bytes (`Scenario.to_json()`).
- `Scenario.vima_operations`: Vima operation objects exactly as the API returns them
  (SOURCES.md), ascending `operation_create_id`; their `operation_update_id` is the initial one.
- `Scenario.payshack_payins` / `payshack_payouts`: PayShack row objects exactly as the JSON
  endpoints return them (SOURCES.md), times in whole seconds.
- `Scenario.late_changes`: changes that happen after the initial state (a pending payment that
  settles), sorted by `at`. The stand-ins apply a change by setting `changes` on the object and
  giving it a new `operation_update_id` / `operation_modified_at` (Vima) or `modifiedAt`
  (PayShack).
- `Scenario.truth`: the expected reconciliation results in the final state (after every late
  change), one entry per pair or orphan. In live mode the stand-ins serve each object only once
  its creation time has passed, so the truth of a day (today) is complete only after it is over.

Value conventions: Vima `complete_amount` is a string with the currency's exponent of decimals
(`"1500.00"`, `"1500"` for JPY, `"12.500"` for KWD) and `card_finish[].charged_fee` is a JSON
number; PayShack `amount`, `paidAmount`, commissions and charges are JSON numbers with at most
two decimals (`paidAmount` is null unless the row is paid). Only `success` Vima operations carry
`complete_*` fields and `card_finish`. Every creation time lies within the scenario's days.

Truth entry: `{recon_date, match_type, match_method, case, direction, project,
vima_operation_id, payshack_txn_id, payshack_kind, client_operation_id, order_id}` plus
`initial_match_type` where a late change alters the result. It follows these rules (tolerance
0.01, fallback window 10 minutes, UTC days), and the construction leaves no other reading:

1. Candidates: operations of mapped projects, rows of mapped clients; Vima `payment.in`/`out`
   is direction `payin`/`payout`.
2. A key (Vima `client_operation_id`, PayShack `orderId`) occurring more than once on a side,
   per direction: every row of that key on both sides is a `duplicate` (method null), dated by
   the earliest row of the group. Such rows are not fallback candidates.
3. `exact`: the key on one row each side. Then `fallback` among rows still alone: same project
   and direction, amounts within 0.01, created within 10 minutes, one candidate each way.
4. A pair is `discrepancy_amount` (requested amounts, or both paid amounts known, differ by
   more than 0.01), else `discrepancy_status` (normalized statuses differ), else `matched`; it
   is dated by its earlier record. A lone row is `missing_payshack` / `missing_vima`, dated by
   its own creation.

Injected cases per day (`cases_per_kind(per_day)` instances each, see `CASES`); the midnight
cases straddle the midnight after their day, so the last day has none.
"""

from __future__ import annotations

import gc
import itertools
import json
from bisect import bisect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import accumulate
from operator import itemgetter
from random import Random
from typing import Any, Literal

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

_DAY_MS = 86_400_000
_EPOCH = date(1970, 1, 1)


@dataclass(slots=True)
class LateChange:
    """A change to one provider object that happens at `at` (UTC)."""

    at: datetime
    source: Literal["vima", "payshack"]
    key: str  # Vima operation_id, or PayShack txnId
    changes: dict[str, Any]
    kind: Literal["payin", "payout"] | None = None  # PayShack only


@dataclass(slots=True)
class Scenario:
    """Everything the stand-ins serve, and what reconciling it must give."""

    seed: int
    start: date
    days: int
    per_day: int
    client_project_map: dict[str, str]
    vima_operations: list[dict[str, Any]] = field(default_factory=list, repr=False)
    payshack_payins: list[dict[str, Any]] = field(default_factory=list, repr=False)
    payshack_payouts: list[dict[str, Any]] = field(default_factory=list, repr=False)
    late_changes: list[LateChange] = field(default_factory=list, repr=False)
    truth: list[dict[str, Any]] = field(default_factory=list, repr=False)
    """Expected results of the whole scenario (every object, every late change). In live mode
    the stand-ins serve an object only once its creation time has passed (and the live feed
    adds payments of its own), so today's truth is complete only after the day is over."""
    projects: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PROJECTS))
    """Share of Vima operations per project (the `projects` argument of `generate`)."""
    counters: dict[str, int] = field(default_factory=dict)
    """Last ids used (`operation_id`, `operation_create_id`, `operation_update_id`, `key`,
    `payin_txn`, `payout_txn`); a `LiveFeed` continues after them."""

    def truth_by_day(self) -> dict[str, list[dict[str, Any]]]:
        """Truth entries grouped by `recon_date`, days ascending."""
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in self.truth:
            grouped.setdefault(entry["recon_date"], []).append(entry)
        return dict(sorted(grouped.items()))

    def truth_document(self) -> dict[str, Any]:
        """The truth with the arguments that produced it (what `hub sandbox truth` writes)."""
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "per_day": self.per_day,
            "client_project_map": dict(self.client_project_map),
            "results": self.truth,
        }

    def to_json(self) -> bytes:
        """The whole scenario as canonical JSON (sorted keys): same arguments, same bytes."""
        doc = self.truth_document()
        doc.update(
            vima_operations=self.vima_operations,
            payshack_payins=self.payshack_payins,
            payshack_payouts=self.payshack_payouts,
            late_changes=[asdict(change) for change in self.late_changes],
            projects=self.projects,
            counters=self.counters,
        )
        return dumps(doc)

    def live_feed(self, ops_per_minute: int = 30) -> LiveFeed:
        """A feed of new payments continuing after this scenario's ids and cursors."""
        return LiveFeed(self, ops_per_minute=ops_per_minute)


def dumps(doc: object) -> bytes:
    """Canonical JSON: sorted keys, compact, `Decimal`/`date`/`datetime` as strings."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=_json_default).encode()


def _json_default(value: object) -> str:
    """Render the non-JSON values of a scenario as strings."""
    if isinstance(value, datetime):
        return fmt_ms(epoch_ms(value))
    if isinstance(value, date | Decimal):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def generate(
    seed: int = 42,
    start: date = date(2026, 1, 1),
    days: int = 7,
    per_day: int = 2000,
    projects: dict[str, float] | None = None,
) -> Scenario:
    """Build `days` UTC days from `start` with about `per_day` Vima operations a day.

    `projects` maps a Vima project to its share of operations (default `DEFAULT_PROJECTS`).
    Everything derives from `random.Random(seed)`: equal arguments give equal scenarios.
    """
    builder = _Builder(Random(seed), start, dict(SANDBOX_CLIENT_PROJECT_MAP), projects)
    with _gc_paused(freeze=days * per_day >= 50_000):
        for day in range(days):
            builder.build_day(day, days, per_day)
        vima, payins, payouts = builder.assign_ids()
        return Scenario(
            seed=seed,
            start=start,
            days=days,
            per_day=per_day,
            client_project_map=dict(SANDBOX_CLIENT_PROJECT_MAP),
            vima_operations=vima,
            payshack_payins=payins,
            payshack_payouts=payouts,
            late_changes=builder.late_changes(),
            truth=builder.truth(),
            projects=dict(sorted((projects or DEFAULT_PROJECTS).items())),
            counters=dict(builder.counters),
        )


@contextmanager
def _gc_paused(freeze: bool) -> Iterator[None]:
    """Pause the cyclic garbage collector while building; then `freeze` what exists.

    A big scenario is millions of small acyclic dicts. Scanning them is all a collection would
    do (seconds per full pass at 200 000 operations a day), so they go to the permanent
    generation (`gc.freeze`); reference counting still frees them once they are dropped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        if enabled:
            gc.enable()


def cases_per_kind(per_day: int) -> int:
    """How many instances of each injected case a day holds."""
    if per_day <= 0:
        return 0
    if per_day < 100:
        return 1
    return max(2, per_day // 1000)


# --------------------------------------------------------------------------- time and money


_DAY_STR: dict[int, str] = {}


def _day_str(day: int) -> str:
    """`YYYY-MM-DD` of the day `day` days after 1970-01-01 (cached)."""
    text = _DAY_STR.get(day)
    if text is None:
        text = _DAY_STR[day] = date.fromordinal(_EPOCH.toordinal() + day).isoformat()
    return text


_SECOND_MS = [f"{sec:02d}.{milli:03d}Z" for sec in range(60) for milli in range(1000)]
_MINUTE_PREFIX: dict[int, str] = {}


def _minute_prefix(minute: int) -> str:
    """`YYYY-MM-DDTHH:MM:` of the minute `minute` minutes after the epoch (cached)."""
    text = _MINUTE_PREFIX.get(minute)
    if text is None:
        hour, mins = divmod(minute % 1440, 60)
        text = _MINUTE_PREFIX[minute] = f"{_day_str(minute // 1440)}T{hour:02d}:{mins:02d}:"
    return text


def fmt_ms(ms: int) -> str:
    """Epoch milliseconds as Vima renders times: `2026-01-15T15:46:20.195Z`."""
    minute = ms // 60_000
    prefix = _MINUTE_PREFIX.get(minute) or _minute_prefix(minute)
    return prefix + _SECOND_MS[ms - minute * 60_000]


def date_of_ms(ms: int) -> str:
    """The UTC date (`YYYY-MM-DD`) of epoch milliseconds `ms`."""
    return _day_str(ms // _DAY_MS)


def epoch_ms(when: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware `datetime`."""
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * _DAY_MS + delta.seconds * 1000 + delta.microseconds // 1000


def ms_datetime(ms: int) -> datetime:
    """The aware UTC `datetime` of epoch milliseconds `ms`."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).replace(microsecond=(ms % 1000) * 1000)


def major_str(minor: int, exponent: int) -> str:
    """Minor units as a major-unit decimal string: `150000, 2` -> `"1500.00"`."""
    if exponent == 2 and minor >= 0:
        return f"{minor // 100}.{minor % 100:02d}"
    if exponent == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}"


def major_num(minor: int, exponent: int) -> float | int:
    """Minor units as a JSON number in major units (shortest repr has <= `exponent` decimals)."""
    return minor if exponent == 0 else minor / 10**exponent


# --------------------------------------------------------------------------- synthetic people

# fmt: off
_FIRST_IN = (
    "Aarav", "Vivaan", "Aditya", "Vihaan", "Arjun", "Sai", "Reyansh", "Ayaan", "Krishna",
    "Ishaan", "Rohan", "Karan", "Rahul", "Amit", "Priya", "Ananya", "Diya", "Aadhya", "Saanvi",
    "Kavya", "Isha", "Neha", "Pooja", "Sneha", "Meera", "Riya", "Anjali", "Tanvi", "Nikhil",
    "Sandeep", "Deepak", "Manish", "Suresh", "Ramesh", "Lakshmi", "Divya", "Harsha", "Varun",
    "Gaurav", "Pranav",
)
_LAST_IN = (
    "Sharma", "Verma", "Gupta", "Singh", "Kumar", "Patel", "Reddy", "Nair", "Iyer", "Rao",
    "Das", "Bose", "Chatterjee", "Mukherjee", "Joshi", "Mehta", "Shah", "Desai", "Kulkarni",
    "Pillai", "Menon", "Yadav", "Mishra", "Pandey", "Tiwari", "Agarwal", "Jain", "Malhotra",
    "Kapoor", "Chopra", "Saxena", "Bhat", "Naidu", "Gowda", "Thakur",
)
# fmt: on
_FOREIGN: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], str]] = {
    "EUR": (
        "DE",
        ("Lukas", "Anna", "Jonas", "Marie", "Luca", "Sofia", "Mateo"),
        ("Muller", "Schmidt", "Rossi", "Garcia", "Dubois", "Novak", "Jansen"),
        "+49",
    ),
    "USD": (
        "US",
        ("James", "Emma", "Noah", "Olivia", "Liam", "Ava", "Ethan"),
        ("Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Moore"),
        "+1",
    ),
    "JPY": (
        "JP",
        ("Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi", "Yuto"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto"),
        "+81",
    ),
    "KWD": (
        "KW",
        ("Ahmad", "Fatima", "Yousef", "Noura", "Khalid", "Maryam", "Omar"),
        ("Al-Sabah", "Al-Mutairi", "Al-Azmi", "Al-Ajmi", "Al-Rashidi", "Al-Enezi"),
        "+965",
    ),
}
_PSP = ("okaxis", "oksbi", "okhdfcbank", "ybl", "paytm", "ibl", "axl")
_IFSC = ("HDFC0", "ICIC0", "SBIN0", "UTIB0", "KKBK0", "PUNB0", "BARB0", "YESB0")
_IP_IN = (49, 103, 106, 117, 122, 157, 182, 223)

_STATES = {
    "success": "COMPLETE",
    "fail": "DECLINED",
    "in_process": "PROCESSING",
    "user_input_required": "AWAITING_CUSTOMER",
}
_RAW_SUCCESS = ("Success", "Success", "Success", "SUCCESS")
_RAW_FAILED = ("Failed", "Failed", "FAILED", "Expired", "Tampered")
_RAW_PENDING = ("Initiated", "INITIATED", "Pending", "In Process", "Incomplete")
_RAW_BY_STATUS = {
    "success": _RAW_SUCCESS,
    "fail": _RAW_FAILED,
    "in_process": _RAW_PENDING,
    "user_input_required": _RAW_PENDING,
}
_STATUS_TABLE = ["success"] * 78 + ["fail"] * 15 + ["in_process"] * 5 + ["user_input_required"] * 2
_PAID_RAW = frozenset({"Success", "SUCCESS", "Refunded", "Cb_Refunded"})
_PENDING_RAW = frozenset(_RAW_PENDING)
_ODD_STATES = {  # the processing state occasionally disagrees with the status
    "success": "PROCESSING",
    "fail": "COMPLETE",
    "in_process": "AWAITING_CUSTOMER",
    "user_input_required": "PROCESSING",
}
# direction -> ten equally likely (method, code, type, product), for INR and other currencies
_METHODS_INR: dict[str, list[tuple[str, str, str, str]]] = {
    "payin": [("payment.in", "upi", "upi", "upi_intent")] * 7
    + [("payment.in", "upi", "upi", "upi_collect")] * 3,
    "payout": [("payment.out", "imps", "bank_transfer", "imps_payout")] * 10,
}
_METHODS_OTHER: dict[str, list[tuple[str, str, str, str]]] = {
    "payin": [("payment.in", "card", "card", "visa")] * 6
    + [("payment.in", "card", "card", "mastercard")] * 4,
    "payout": [("payment.out", "card", "card", "visa_direct")] * 6
    + [("payment.out", "card", "card", "mastercard_send")] * 4,
}
# Hour-of-day weights (UTC) of payment traffic: Indian evenings (IST = UTC+05:30) peak.
_HOUR_CUM = list(
    accumulate((3, 2, 2, 3, 4, 5, 6, 6, 6, 6, 7, 8, 9, 10, 11, 12, 12, 11, 9, 7, 5, 4, 3, 3))
)


@dataclass(slots=True, frozen=True)
class _Payer:
    """One synthetic person: payer of pay-ins, beneficiary of pay-outs."""

    user_id: str
    first: str
    last: str
    email: str
    phone: str
    ip: str
    country: str
    vpa: str
    account: str
    ifsc: str


def _payer_pool(rng: Random, currency: str, size: int) -> list[_Payer]:
    """`size` synthetic people of the country that pays in `currency`."""
    if currency == "INR":
        country, firsts, lasts, dial = "IN", _FIRST_IN, _LAST_IN, "+91"
    else:
        country, firsts, lasts, dial = _FOREIGN[currency]
    pool = []
    for _ in range(size):
        first, last = rng.choice(firsts), rng.choice(lasts)
        num = rng.randrange(1, 999)
        handle = f"{first}.{last}".lower().replace("-", "")
        if country == "IN":
            phone = f"+91{rng.randrange(6, 10)}{rng.randrange(10**9):09d}"
            ip = f"{rng.choice(_IP_IN)}.{rng.randrange(256)}.{rng.randrange(256)}"
            ip += f".{rng.randrange(1, 255)}"
        else:
            phone = f"{dial}{rng.randrange(10**9):09d}"
            ip = f"{rng.randrange(2, 223)}.{rng.randrange(256)}.{rng.randrange(256)}"
            ip += f".{rng.randrange(1, 255)}"
        pool.append(
            _Payer(
                user_id=str(rng.randrange(10**8, 10**9)),
                first=first,
                last=last,
                email=f"{handle}{num}@mail.example",
                phone=phone,
                ip=ip,
                country=country,
                vpa=f"{first.lower()}{num}@{rng.choice(_PSP)}",
                account=str(rng.randrange(10**10, 10**14)),
                ifsc=f"{rng.choice(_IFSC)}{rng.randrange(10**6):06d}",
            )
        )
    return pool


@dataclass(slots=True, frozen=True)
class _Profile:
    """How one project's operations look."""

    currencies: tuple[str, ...]
    service: str
    owner: str
    key_style: str  # "hex", "digits", "long"
    prefix: str


def _profile(project: str, mapped: bool) -> _Profile:
    """The look of `project`'s operations (mapped projects pay in INR over UPI/IMPS)."""
    if project == "91game":
        return _Profile(("INR",), "upi_in", "91game_in_prod", "hex", "91g_")
    if project == "caroussel":
        return _Profile(("INR",), "upi_in", "crsl_in_prod", "digits", "CRSL")
    if mapped:
        return _Profile(("INR",), "upi_in", f"{project}_in_prod", "hex", f"{project[:4]}_")
    return _Profile(
        ("EUR", "EUR", "USD", "USD", "JPY", "KWD"), "cards", f"{project}_eu", "long", ""
    )


def _scramble(n: int) -> int:
    """A bijection of 0..2**48-1: distinct counters give distinct, random-looking numbers."""
    return (n * 0x5DEECE66D + 0xB) & 0xFFFFFFFFFFFF


# --------------------------------------------------------------------------- the builder

# A truth entry under construction: ids are only known once every object is sorted.
_Truth = tuple[
    str,  # case
    str,  # match_type
    str | None,  # match_method
    str,  # direction
    str,  # project
    dict[str, Any] | None,  # Vima operation
    dict[str, Any] | None,  # PayShack row
    str | None,  # PayShack kind
    int,  # created ms that decides recon_date
    str | None,  # initial_match_type
]


@dataclass(slots=True)
class _RawChange:
    """A late change whose target's id is not known yet."""

    at_ms: int
    seq: int
    source: Literal["vima", "payshack"]
    target: dict[str, Any]
    changes: dict[str, Any]
    kind: Literal["payin", "payout"] | None


class _Builder:
    """Accumulates objects, truth and late changes; assigns ids once everything exists."""

    def __init__(
        self,
        rng: Random,
        start: date,
        client_map: dict[str, str],
        projects: dict[str, float] | None,
        counters: dict[str, int] | None = None,
    ) -> None:
        self.rng = rng
        self.start_ms = (start - _EPOCH).days * _DAY_MS
        self.client_of = {project: client for client, project in sorted(client_map.items())}
        weights = sorted((projects or DEFAULT_PROJECTS).items())
        self.project_names = [name for name, _ in weights]
        self.project_cum = list(accumulate(w for _, w in weights))
        self.profiles = {p: _profile(p, p in self.client_of) for p in self.project_names}
        self.case_projects = [p for p in self.project_names if p in self.client_of]
        self.client_ids = {
            c: f"CL{_scramble(i + 7) % 10**8:08d}"
            for i, c in enumerate(sorted([*client_map, UNMAPPED_CLIENT]))
        }
        self.merchant_upi = {c: f"{c.split('_')[0].lower()}.pay@yesbank" for c in self.client_ids}
        self.payers = {  # people pay again and again: a few thousand regulars per country
            c: _payer_pool(rng, c, 2000 if c == "INR" else 300) for c in CURRENCY_EXPONENT
        }
        self.inr_vpas = [payer.vpa for payer in self.payers["INR"]]
        self.counters = {
            "operation_id": 40_000_000_000,
            "operation_create_id": 5_100_000_000,
            "operation_update_id": 9_200_000_000,
            "key": 0,
            "payin_txn": 100_000_000_000,
            "payout_txn": 100_000_000_000,
        }
        self.counters.update(counters or {})
        # the bulk draws from a table of typical amounts (a lognormal draw each is too slow)
        self.inr_amounts = [self.amount() for _ in range(8192)]
        self.other_amounts = {c: [self.amount(c) for _ in range(1024)] for c in CURRENCY_EXPONENT}
        self.seq = 0
        # objects in insertion order, with their creation/modification times (epoch ms)
        self.ops: list[dict[str, Any]] = []
        self.op_created: list[int] = []
        self.op_modified: list[int] = []
        self.rows: dict[str, list[dict[str, Any]]] = {"payin": [], "payout": []}
        self.row_created: dict[str, list[int]] = {"payin": [], "payout": []}
        self.pending: list[_Truth] = []
        self.changes: list[_RawChange] = []
        self.reserved: dict[tuple[str, str, int], set[int]] = {}
        self.instance: dict[str, int] = {}

    # ------------------------------------------------------------------ small helpers

    def next_seq(self) -> int:
        """A tie-breaker that orders objects created at the same millisecond."""
        self.seq += 1
        return self.seq

    def new_key(self, project: str | None, style: str | None = None) -> str:
        """A merchant id never used before, in the style of `project` (or `style`)."""
        self.counters["key"] += 1
        n = _scramble(self.counters["key"])
        if style == "order":
            return f"ORD{n:015d}"
        if style == "other":
            return f"OM{n:015d}"
        profile = self.profiles[project or ""]
        if profile.key_style == "hex":
            return f"{profile.prefix}{n:012x}"
        if profile.key_style == "digits":
            return f"{profile.prefix}{n:015d}"
        return f"{n:016d}"

    def time_of_day(self) -> int:
        """Milliseconds into a day, weighted by hourly traffic."""
        r = self.rng.random
        hour = bisect(_HOUR_CUM, r() * _HOUR_CUM[-1])
        return hour * 3_600_000 + int(r() * 3_600_000)

    def quiet_time(self, day_ms: int) -> int:
        """A time of day well away from midnight (01:00-22:00), for injected cases."""
        return day_ms + 3_600_000 + int(self.rng.random() * 75_600_000)

    def amount(self, currency: str = "INR") -> int:
        """A long-tailed requested amount in minor units of `currency`."""
        r = self.rng.random()
        if currency == "INR":
            rupees = min(300_000, max(100, int(self.rng.lognormvariate(7.0, 1.15))))
            if r < 0.3:
                step = 500 if rupees >= 2000 else 100
                return max(100, round(rupees / step) * step) * 100
            if r < 0.85:
                return rupees * 100
            return rupees * 100 + int(self.rng.random() * 100)
        if currency == "JPY":
            return max(100, int(self.rng.lognormvariate(8.3, 1.0)) // 10 * 10)
        if currency == "KWD":
            return max(1000, int(self.rng.lognormvariate(2.8, 1.0) * 1000) // 5 * 5)
        return max(500, int(self.rng.lognormvariate(3.8, 1.0) * 100))

    def pick_project(self) -> str:
        """A project drawn by its share."""
        return self.project_names[
            bisect(self.project_cum, self.rng.random() * self.project_cum[-1])
        ]

    def pick_status(self) -> str:
        """A Vima status with realistic odds (78/15/5/2)."""
        return _STATUS_TABLE[int(self.rng.random() * 100)]

    def free_amount(
        self, project: str, direction: str, lo_ms: int, hi_ms: int, preferred: int | None = None
    ) -> int:
        """An INR amount no other leftover row near [lo_ms, hi_ms] has (within 2 paise)."""
        window = range(
            (lo_ms - FALLBACK_WINDOW_MS) // FALLBACK_WINDOW_MS,
            (hi_ms + FALLBACK_WINDOW_MS) // FALLBACK_WINDOW_MS + 1,
        )
        near = [self.reserved.get((project, direction, b), ()) for b in window]
        candidate = preferred if preferred is not None else self.amount()
        spread = range(-TOLERANCE_MINOR - 1, TOLERANCE_MINOR + 2)
        while any(candidate + d in taken for taken in near for d in spread):
            candidate = self.amount()
        for b in range(lo_ms // FALLBACK_WINDOW_MS, hi_ms // FALLBACK_WINDOW_MS + 1):
            self.reserved.setdefault((project, direction, b), set()).add(candidate)
        return candidate

    def add_truth(
        self,
        case: str,
        match_type: str,
        method: str | None,
        direction: str,
        project: str,
        op: dict[str, Any] | None,
        row: dict[str, Any] | None,
        recon_ms: int,
        initial: str | None = None,
    ) -> None:
        """Record the expected result of one pair or orphan."""
        kind = direction if row is not None else None
        self.pending.append(
            (case, match_type, method, direction, project, op, row, kind, recon_ms, initial)
        )

    def add_change(
        self,
        at_ms: int,
        source: Literal["vima", "payshack"],
        target: dict[str, Any],
        changes: dict[str, Any],
        kind: Literal["payin", "payout"] | None = None,
    ) -> None:
        """Record a late change of `target` (ids filled in later)."""
        self.changes.append(_RawChange(at_ms, self.next_seq(), source, target, changes, kind))

    # ------------------------------------------------------------------ objects

    def vima_op(
        self,
        project: str,
        direction: str,
        minor: int,
        status: str,
        created_ms: int,
        key: str,
        currency: str = "INR",
        complete_minor: int | None = None,
    ) -> dict[str, Any]:
        """A Vima operation object as the API returns it (ids filled in later)."""
        r = self.rng.random
        profile = self.profiles[project]
        pool = self.payers[currency]
        payer = pool[int(r() * len(pool))]
        if status == "success" or status == "fail":
            modified_ms = created_ms + 3000 + int(r() * r() * 300_000)
        else:
            modified_ms = created_ms + int(r() * 1500)
        state = _STATES[status] if r() >= 0.01 else _ODD_STATES[status]
        methods = _METHODS_INR[direction] if currency == "INR" else _METHODS_OTHER[direction]
        method, code, kind, product = methods[int(r() * 10)]
        created = fmt_ms(created_ms)
        op: dict[str, Any] = {
            "operation_id": "",
            "reference_id": f"{self.rng.getrandbits(128):032x}",
            "client_operation_id": key,
            "project": project,
            "project_env": "prod",
            "service": profile.service,
            "credentials_owner": profile.owner,
            "user_id": payer.user_id,
            "contact": payer.phone,
            "ip_addr": payer.ip,
            "create_params": {
                "method": method,
                "params": {
                    "payment": {
                        "amount": {"value": minor, "currency": currency},
                        "identifiers": {"c_id": key},
                        "payer": {
                            "email": payer.email,
                            "phone": payer.phone,
                            "person": {"first_name": payer.first, "last_name": payer.last},
                        },
                        "client": {"country": payer.country},
                    }
                },
            },
            "current_status": status,
            "operation_state": state,
            "payment_method_code": code,
            "payment_method_type": kind,
            "payment_product": product,
            "operation_created_at": created,
            "operation_modified_at": fmt_ms(modified_ms) if modified_ms != created_ms else created,
            "operation_create_id": "",
            "operation_update_id": "",
        }
        if status == "success":
            paid = minor if complete_minor is None else complete_minor
            exponent = CURRENCY_EXPONENT[currency]
            op["complete_amount"] = major_str(paid, exponent)
            op["complete_currency"] = currency
            op["complete_created_at"] = op["operation_modified_at"]
            op["card_finish"] = [{"charged_fee": major_num(paid * 25 // 1000, exponent)}]
        self.ops.append(op)
        self.op_created.append(created_ms)
        self.op_modified.append(modified_ms)
        return op

    def vima_completion(self, minor: int, currency: str, at_ms: int) -> dict[str, Any]:
        """The fields a Vima operation gains when it completes successfully."""
        exponent = CURRENCY_EXPONENT[currency]
        return {
            "complete_amount": major_str(minor, exponent),
            "complete_currency": currency,
            "complete_created_at": fmt_ms(at_ms),
            "card_finish": [{"charged_fee": major_num(minor * 25 // 1000, exponent)}],
        }

    def payshack_row(
        self,
        project: str | None,
        direction: str,
        minor: int,
        raw_status: str,
        created_ms: int,
        order_id: str,
        paid_minor: int | None = None,
        client: str | None = None,
    ) -> dict[str, Any]:
        """A PayShack row as the dashboard JSON returns it (whole seconds; txnId filled later)."""
        rng = self.rng
        r = rng.random
        client = client or self.client_of[project or ""]
        created_ms -= created_ms % 1000
        paid = raw_status in _PAID_RAW
        created = fmt_ms(created_ms)
        modified = created
        if raw_status not in _PENDING_RAW:
            modified = fmt_ms(created_ms + 1000 * (2 + int(r() * r() * 240)))
        vpas = self.inr_vpas
        row: dict[str, Any] = {
            "txnId": "",
            "orderId": order_id,
            "spTxnId": f"SP{rng.getrandbits(50):016d}",
            "amount": minor / 100,
            "paidAmount": (minor if paid_minor is None else paid_minor) / 100 if paid else None,
            "utr": f"{rng.getrandbits(40) % 10**12:012d}" if paid else "",
            "txnStatus": raw_status,
            "clientName": client,
            "clientId": self.client_ids[client],
            "transactionType": "UPI_INTENT" if r() < 0.65 else "UPI_COLLECT",
            "payerVpa": vpas[int(r() * len(vpas))],
            "upiId": self.merchant_upi[client],
            "totalCommissionAmount": (minor * 18 // 1000 if paid else 0) / 100,
            "createdAt": created,
            "modifiedAt": modified,
        }
        if direction != "payin":
            self.add_payout_fields(row, minor, paid)
        self.rows[direction].append(row)
        self.row_created[direction].append(created_ms)
        return row

    def add_payout_fields(self, row: dict[str, Any], minor: int, paid: bool) -> None:
        """The fields only pay-out rows have (beneficiary, charges)."""
        pool = self.payers["INR"]
        payer = pool[int(self.rng.random() * len(pool))]
        charges = 500 + minor // 200 if paid else 0
        row["transactionType"] = "IMPS"
        row["payerVpa"] = ""
        row["upiId"] = ""
        row["totalCommissionAmount"] = charges / 100
        row["beneName"] = f"{payer.first} {payer.last}"
        row["beneAccount"] = payer.account
        row["beneIfsc"] = payer.ifsc
        row["txnCharges"] = charges / 100
        row["netAmount"] = (minor + charges) / 100

    def raw_status(self, status: str) -> str:
        """A PayShack raw status consistent with Vima's `status`."""
        choices = _RAW_BY_STATUS[status]
        return choices[int(self.rng.random() * len(choices))]

    def payshack_settlement(self, minor: int) -> dict[str, Any]:
        """The fields a PayShack row changes when a pending payment succeeds."""
        return {
            "txnStatus": "Success",
            "utr": f"{self.rng.getrandbits(40) % 10**12:012d}",
            "paidAmount": minor / 100,
        }

    # ------------------------------------------------------------------ days

    def build_day(self, day: int, days: int, per_day: int) -> None:
        """Add day `day` (0-based) of `days`: the injected cases, then the bulk."""
        if per_day <= 0:
            return
        day_ms = self.start_ms + day * _DAY_MS
        used = 0
        if self.case_projects:
            for case in CASES:
                if case in MIDNIGHT_CASES and day == days - 1:
                    continue
                for _ in range(cases_per_kind(per_day)):
                    j = self.instance.get(case, 0)
                    self.instance[case] = j + 1
                    project = self.case_projects[j % len(self.case_projects)]
                    direction = "payout" if j % 4 == 3 else "payin"
                    used += getattr(self, f"case_{case}")(day_ms, j, project, direction)
        self.bulk(day_ms, max(0, per_day - used))
        self.unmapped(day_ms, max(1, per_day // 100))

    def bulk(self, day_ms: int, count: int) -> None:
        """`count` ordinary operations; those of mapped projects exactly mirrored on PayShack."""
        r = self.rng.random
        limit = _DAY_MS - 120_000  # the mirror (<= 90 s later) stays on the same day
        names, cum, total = self.project_names, self.project_cum, self.project_cum[-1]
        mapped = {p: p in self.client_of for p in names}
        currencies = {p: self.profiles[p].currencies for p in names}
        vima_op, payshack_row, truth = self.vima_op, self.payshack_row, self.pending.append
        inr_amounts, other_amounts = self.inr_amounts, self.other_amounts
        times = sorted(self.time_of_day() for _ in range(count))  # creation order: cheap ids
        for t in times:
            created = day_ms + (t - 120_000 if t >= limit else t)
            project = names[bisect(cum, r() * total)]
            status = _STATUS_TABLE[int(r() * 100)]
            if mapped[project]:
                direction = "payout" if r() < 0.2 else "payin"
                minor = inr_amounts[int(r() * 8192)]
                key = self.new_key(project)
                op = vima_op(project, direction, minor, status, created, key)
                raws = _RAW_BY_STATUS[status]
                row = payshack_row(
                    project,
                    direction,
                    minor,
                    raws[int(r() * len(raws))],
                    created + 1000 + int(r() * 89_000),
                    key,
                )
                truth(
                    (
                        "exact",
                        "matched",
                        "exact",
                        direction,
                        project,
                        op,
                        row,
                        direction,
                        created,
                        None,
                    )
                )
            else:
                direction = "payout" if r() < 0.1 else "payin"
                choices = currencies[project]
                currency = choices[int(r() * len(choices))]
                minor = other_amounts[currency][int(r() * 1024)]
                vima_op(project, direction, minor, status, created, self.new_key(project), currency)

    def unmapped(self, day_ms: int, count: int) -> None:
        """`count` PayShack rows of a client that maps to no project."""
        limit = _DAY_MS - 1000
        for _ in range(count):
            created = day_ms + min(self.time_of_day(), limit)
            direction = "payout" if self.rng.random() < 0.2 else "payin"
            status = self.pick_status()
            key = self.new_key(None, "other")
            raw = self.raw_status(status)
            self.payshack_row(
                None, direction, self.amount(), raw, created, key, client=UNMAPPED_CLIENT
            )

    def lag_ms(self) -> int:
        """How long after Vima a mirroring PayShack row is created (1-90 s)."""
        return 1000 + int(self.rng.random() * 89_000)

    def pair(
        self,
        project: str,
        direction: str,
        minor: int,
        v_status: str,
        p_raw: str,
        v_ms: int,
        p_ms: int,
        **extra: Any,
    ) -> tuple[dict[str, Any], dict[str, Any], int]:
        """A Vima operation and a PayShack row; returns them and the earlier creation time.

        `extra`: `key`, `order_id` (default: one fresh key for both), `p_minor` (PayShack
        amount), `complete_minor` (Vima paid amount), `paid_minor` (PayShack paid amount).
        """
        key = extra.get("key") or self.new_key(project)
        order_id = extra.get("order_id") or key
        p_minor = extra.get("p_minor", minor)
        op = self.vima_op(
            project,
            direction,
            minor,
            v_status,
            v_ms,
            key,
            complete_minor=extra.get("complete_minor"),
        )
        row = self.payshack_row(
            project, direction, p_minor, p_raw, p_ms, order_id, paid_minor=extra.get("paid_minor")
        )
        return op, row, min(v_ms, p_ms - p_ms % 1000)

    def exact_case(
        self, case: str, match_type: str, day_ms: int, project: str, direction: str, **kw: Any
    ) -> int:
        """One exact-key pair at a quiet time of day; `kw` as for `pair` plus statuses."""
        v_status = kw.pop("v_status", "success")
        p_raw = kw.pop("p_raw", "Success")
        minor = self.amount()
        if "p_delta" in kw:
            kw["p_minor"] = minor + kw.pop("p_delta")
        if "paid_delta" in kw:
            kw["paid_minor"] = minor + kw.pop("paid_delta")
        t = self.quiet_time(day_ms)
        op, row, first = self.pair(
            project, direction, minor, v_status, p_raw, t, t + self.lag_ms(), **kw
        )
        self.add_truth(case, match_type, "exact", direction, project, op, row, first)
        return 1

    # ------------------------------------------------------------------ injected cases
    # Each takes (day start, instance number, project, direction), returns the Vima ops added.

    def case_amount_above_tolerance(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """PayShack amount off by 5 rupees or 2 paise: discrepancy_amount."""
        delta = (500, -500, 2, -2)[j % 4]
        return self.exact_case(
            "amount_above_tolerance",
            "discrepancy_amount",
            day_ms,
            project,
            direction,
            p_delta=delta,
        )

    def case_amount_within_tolerance(
        self, day_ms: int, j: int, project: str, direction: str
    ) -> int:
        """PayShack amount off by exactly 0.01 (also the paid amount): matched."""
        delta = (1, -1)[j % 2]
        return self.exact_case(
            "amount_within_tolerance", "matched", day_ms, project, direction, p_delta=delta
        )

    def case_paid_amount_diff(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """Same requested amount, PayShack paid less than Vima completed: discrepancy_amount."""
        delta = (-500, -2)[j % 2]
        return self.exact_case(
            "paid_amount_diff",
            "discrepancy_amount",
            day_ms,
            project,
            direction,
            paid_delta=delta,
        )

    def case_status_diff(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """Final statuses disagree: discrepancy_status."""
        v_status, p_raw = (
            ("success", "Failed"),
            ("fail", "SUCCESS"),
            ("success", "Refunded"),
            ("in_process", "Success"),
            ("user_input_required", "Expired"),
        )[j % 5]
        return self.exact_case(
            "status_diff",
            "discrepancy_status",
            day_ms,
            project,
            direction,
            v_status=v_status,
            p_raw=p_raw,
        )

    def case_missing_payshack(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """A Vima operation PayShack never saw (sometimes an unmapped client's row shares its
        key and amount: it must not count)."""
        t = self.quiet_time(day_ms)
        minor = self.free_amount(project, direction, t, t)
        status = ("success", "fail", "in_process")[j % 3]
        key = self.new_key(project)
        op = self.vima_op(project, direction, minor, status, t, key)
        self.add_truth(
            "missing_payshack", "missing_payshack", None, direction, project, op, None, t
        )
        if j % 4 == 0:
            self.payshack_row(
                None, direction, minor, "Success", t + self.lag_ms(), key, client=UNMAPPED_CLIENT
            )
        return 1

    def case_missing_vima(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """A PayShack row with no Vima operation."""
        t = self.quiet_time(day_ms) // 1000 * 1000
        minor = self.free_amount(project, direction, t, t)
        raw = "Failed" if j % 3 == 2 else "Success"
        row = self.payshack_row(project, direction, minor, raw, t, self.new_key(project))
        self.add_truth("missing_vima", "missing_vima", None, direction, project, None, row, t)
        return 0

    def case_duplicate_payshack(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """PayShack holds the key twice (a retry): every row of the key is a duplicate."""
        t = self.quiet_time(day_ms)
        minor = self.amount()
        key = self.new_key(project)
        op = self.vima_op(project, direction, minor, "success", t, key)
        first = t + self.lag_ms()
        second = first + 30_000 + int(self.rng.random() * 570_000)
        rows = [
            self.payshack_row(project, direction, minor, "Failed", first, key),
            self.payshack_row(project, direction, minor, "Success", second, key),
        ]
        case = "duplicate_payshack"
        self.add_truth(case, "duplicate", None, direction, project, op, None, t)
        for row in rows:
            self.add_truth(case, "duplicate", None, direction, project, None, row, t)
        return 1

    def case_duplicate_vima(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """Vima holds the key twice (failed try, then success): every row is a duplicate."""
        t = self.quiet_time(day_ms)
        minor = self.amount()
        key = self.new_key(project)
        retry = t + 60_000 + int(self.rng.random() * 240_000)
        ops = [
            self.vima_op(project, direction, minor, "fail", t, key),
            self.vima_op(project, direction, minor, "success", retry, key),
        ]
        row = self.payshack_row(project, direction, minor, "Success", retry + self.lag_ms(), key)
        case = "duplicate_vima"
        for op in ops:
            self.add_truth(case, "duplicate", None, direction, project, op, None, t)
        self.add_truth(case, "duplicate", None, direction, project, None, row, t)
        return 2

    def case_midnight_vima_first(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """Vima at 23:59:xx, PayShack at 00:00:xx the next day: the pair is this day's."""
        midnight = day_ms + _DAY_MS
        v_ms = midnight - 60_000 + int(self.rng.random() * 59_000)
        p_ms = midnight + 1000 * int(self.rng.random() * 60)
        op, row, first = self.pair(
            project, direction, self.amount(), "success", "Success", v_ms, p_ms
        )
        self.add_truth(
            "midnight_vima_first", "matched", "exact", direction, project, op, row, first
        )
        return 1

    def case_midnight_payshack_first(
        self, day_ms: int, j: int, project: str, direction: str
    ) -> int:
        """PayShack at 23:59:xx, Vima at 00:00:xx the next day: the pair is this day's."""
        midnight = day_ms + _DAY_MS
        p_ms = midnight - 60_000 + 1000 * int(self.rng.random() * 59)
        v_ms = midnight + int(self.rng.random() * 59_000)
        op, row, first = self.pair(
            project, direction, self.amount(), "success", "Success", v_ms, p_ms
        )
        self.add_truth(
            "midnight_payshack_first", "matched", "exact", direction, project, op, row, first
        )
        return 1

    def case_late_status_change(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """Pending on one side, settled hours later: discrepancy_status at first, then matched."""
        t = self.quiet_time(day_ms)
        minor = self.amount()
        after = 3_600_000 + int(self.rng.random() * 5 * 3_600_000)  # 1-6 hours
        if j % 2 == 0:
            v_status = ("in_process", "user_input_required")[j // 2 % 2]
            op, row, first = self.pair(
                project, direction, minor, v_status, "Success", t, t + self.lag_ms()
            )
            changes = {"current_status": "success", "operation_state": "COMPLETE"}
            changes.update(self.vima_completion(minor, "INR", t + after))
            self.add_change(t + after, "vima", op, changes)
        else:
            p_raw = ("Pending", "Initiated", "In Process")[j // 2 % 3]
            p_ms = (t + self.lag_ms()) // 1000 * 1000
            op, row, first = self.pair(project, direction, minor, "success", p_raw, t, p_ms)
            kind: Literal["payin", "payout"] = "payout" if direction == "payout" else "payin"
            at = p_ms + after // 1000 * 1000  # PayShack times are whole seconds
            self.add_change(at, "payshack", row, self.payshack_settlement(minor), kind)
        self.add_truth(
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

    def case_fallback(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """Different keys, same project/direction/amount, minutes apart, alone: fallback pair."""
        t = self.quiet_time(day_ms)
        if j % 4 == 0:  # the published pair: 100 rupees, 26 s apart
            lag, preferred = 26_000, 10_000
        else:
            lag, preferred = 5_000 + int(self.rng.random() * 535_000), None
        minor = self.free_amount(project, direction, t, t + lag, preferred)
        p_raw = "Pending" if j % 3 == 2 else "Success"
        op, row, first = self.pair(
            project,
            direction,
            minor,
            "success",
            p_raw,
            t,
            t + lag,
            order_id=self.new_key(None, "order"),
        )
        match_type = "discrepancy_status" if p_raw == "Pending" else "matched"
        self.add_truth("fallback", match_type, "fallback", direction, project, op, row, first)
        return 1

    def case_lookalike(self, day_ms: int, j: int, project: str, direction: str) -> int:
        """Same project/direction/amount within a minute but several candidates: no pairs."""
        n_vima, n_payshack = ((2, 2), (1, 2), (2, 1))[j % 3]
        t = self.quiet_time(day_ms)
        minor = self.free_amount(project, direction, t, t + 60_000)
        r = self.rng.random
        for _ in range(n_vima):
            v_ms = t + int(r() * 50_000)
            op = self.vima_op(project, direction, minor, "success", v_ms, self.new_key(project))
            self.add_truth(
                "lookalike", "missing_payshack", None, direction, project, op, None, v_ms
            )
        for _ in range(n_payshack):
            p_ms = (t + 1000 + int(r() * 55_000)) // 1000 * 1000
            row = self.payshack_row(
                project, direction, minor, "Success", p_ms, self.new_key(project)
            )
            self.add_truth("lookalike", "missing_vima", None, direction, project, None, row, p_ms)
        return n_vima

    # ------------------------------------------------------------------ results

    def assign_ids(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Give every object its ids in creation order; return Vima ops, pay-ins, pay-outs.

        Ties in time keep insertion order. The builder forgets the objects it returns.
        """
        counters = self.counters
        ops, created = self.ops, self.op_created
        order = sorted(range(len(ops)), key=created.__getitem__)
        gaps = self.rng.getrandbits
        op_id, create_id = counters["operation_id"], counters["operation_create_id"]
        sorted_ops = []
        for i in order:
            op = ops[i]
            op_id += 1 + gaps(2)
            create_id += 1
            op["operation_id"] = str(op_id)
            op["operation_create_id"] = str(create_id)
            sorted_ops.append(op)
        counters["operation_id"], counters["operation_create_id"] = op_id, create_id
        update_id = counters["operation_update_id"]
        for i in sorted(range(len(ops)), key=self.op_modified.__getitem__):
            update_id += 1
            ops[i]["operation_update_id"] = str(update_id)
        counters["operation_update_id"] = update_id
        out = [self.number_rows("payin", "PI"), self.number_rows("payout", "PO")]
        self.ops, self.op_created, self.op_modified = [], [], []
        return sorted_ops, out[0], out[1]

    def number_rows(self, kind: str, prefix: str) -> list[dict[str, Any]]:
        """Give the PayShack rows of `kind` their txnIds in creation order; forget them."""
        rows, created = self.rows[kind], self.row_created[kind]
        name = f"{kind}_txn"
        number = self.counters[name]
        out = []
        for i in sorted(range(len(rows)), key=created.__getitem__):
            row = rows[i]
            number += 1
            row["txnId"] = f"{prefix}{number}"
            out.append(row)
        self.counters[name] = number
        self.rows[kind], self.row_created[kind] = [], []
        return out

    def truth(self) -> list[dict[str, Any]]:
        """The truth entries recorded so far (ids assigned), sorted deterministically."""
        out = []
        for (
            case,
            match_type,
            method,
            direction,
            project,
            op,
            row,
            kind,
            recon_ms,
            initial,
        ) in self.pending:
            entry: dict[str, Any] = {
                "recon_date": date_of_ms(recon_ms),
                "match_type": match_type,
                "match_method": method,
                "case": case,
                "direction": direction,
                "project": project,
                "vima_operation_id": op["operation_id"] if op is not None else None,
                "payshack_txn_id": row["txnId"] if row is not None else None,
                "payshack_kind": kind,
                "client_operation_id": op["client_operation_id"] if op is not None else None,
                "order_id": row["orderId"] if row is not None else None,
            }
            if initial is not None:
                entry["initial_match_type"] = initial
            out.append(entry)
        out.sort(key=_truth_order)
        return out

    def late_changes(self) -> list[LateChange]:
        """The late changes recorded so far (target ids assigned), sorted by `at`."""
        out = []
        for raw in sorted(self.changes, key=lambda c: (c.at_ms, c.seq)):
            key = raw.target["operation_id"] if raw.source == "vima" else raw.target["txnId"]
            out.append(LateChange(ms_datetime(raw.at_ms), raw.source, key, raw.changes, raw.kind))
        return out

    def next_update_id(self) -> str:
        """The next Vima `operation_update_id`."""
        self.counters["operation_update_id"] += 1
        return str(self.counters["operation_update_id"])


def _truth_order(entry: dict[str, Any]) -> tuple[str, ...]:
    """Sort key of truth entries: day, then Vima id, then PayShack kind and id."""
    return (
        entry["recon_date"],
        entry["vima_operation_id"] or "",
        entry["payshack_kind"] or "",
        entry["payshack_txn_id"] or "",
    )


# --------------------------------------------------------------------------- live mode


@dataclass(slots=True)
class LiveBatch:
    """What appeared between the previous `LiveFeed.tick` and this one."""

    vima_operations: list[dict[str, Any]] = field(default_factory=list)
    payshack_payins: list[dict[str, Any]] = field(default_factory=list)
    payshack_payouts: list[dict[str, Any]] = field(default_factory=list)
    late_changes: list[LateChange] = field(default_factory=list)


class LiveFeed:
    """New payments arriving "now", for a live demo of the stand-ins.

    `tick(now)` creates the Vima operations of (previous tick, now], the PayShack rows that
    mirror earlier operations once their 1-90 s lag has passed, and late changes that settle
    pending payments a few minutes after creation (returned once their target has an id; apply
    them when `at` has passed). Ids continue after the scenario's (`Scenario.counters`); the
    output depends only on the seed and the sequence of `now` values. Stand-ins applying a Vima
    late change take its new `operation_update_id` from `next_update_id()`, so that cursor stays
    monotonic across new operations and changes.
    """

    def __init__(self, scenario: Scenario, ops_per_minute: int = 30) -> None:
        self._rng = Random(scenario.seed * 1_000_003 + 12_345)
        self._builder = _Builder(
            self._rng,
            scenario.start,
            dict(scenario.client_project_map),
            scenario.projects,
            counters=scenario.counters,
        )
        self._per_ms = ops_per_minute / 60_000
        self._last_ms: int | None = None
        self._due: list[tuple[int, int, str, dict[str, Any]]] = []  # created, seq, kind, row
        self._changes: list[_RawChange] = []
        self._seq = itertools.count()

    def next_update_id(self) -> str:
        """A fresh Vima `operation_update_id`, above every one handed out so far."""
        return self._builder.next_update_id()

    def tick(self, now: datetime) -> LiveBatch:
        """Everything created in (previous tick, `now`]; the first tick covers one minute."""
        now_ms = epoch_ms(now)
        last = now_ms - 60_000 if self._last_ms is None else self._last_ms
        now_ms = max(now_ms, last)
        self._last_ms = now_ms
        expected = min((now_ms - last) * self._per_ms, 1000.0)
        count = int(expected) + (self._rng.random() < expected - int(expected))
        span = now_ms - last
        times = sorted(last + 1 + int(self._rng.random() * span) for _ in range(count))
        for t in times:
            self._new_payment(t)
        return LiveBatch(
            vima_operations=self._take_vima(),
            payshack_payins=self._take_rows(now_ms, "payin"),
            payshack_payouts=self._take_rows(now_ms, "payout"),
            late_changes=self._take_changes(),
        )

    def _new_payment(self, t: int) -> None:
        """One new payment created at `t`, with its mirror and settlement queued."""
        b, r = self._builder, self._rng.random
        project = b.pick_project()
        if project not in b.client_of:
            currencies = b.profiles[project].currencies
            currency = currencies[int(r() * len(currencies))]
            b.vima_op(
                project,
                "payin",
                b.amount(currency),
                b.pick_status(),
                t,
                b.new_key(project),
                currency,
            )
            return
        direction = "payout" if r() < 0.2 else "payin"
        minor, key, roll = b.amount(), b.new_key(project), r()
        if roll < 0.8:  # final at once, consistent on both sides
            status = "success" if r() < 0.85 else "fail"
            b.pair(
                project, direction, minor, status, b.raw_status(status), t, t + b.lag_ms(), key=key
            )
        elif roll < 0.9:  # Vima pending, PayShack paid: Vima settles minutes later
            op, _, _ = b.pair(
                project, direction, minor, "in_process", "Success", t, t + b.lag_ms(), key=key
            )
            at = t + 120_000 + int(r() * 480_000)
            changes = {"current_status": "success", "operation_state": "COMPLETE"}
            changes.update(b.vima_completion(minor, "INR", at))
            b.add_change(at, "vima", op, changes)
        elif roll < 0.97:  # PayShack pending: settles minutes later
            _, row, _ = b.pair(
                project, direction, minor, "success", "Pending", t, t + b.lag_ms(), key=key
            )
            kind: Literal["payin", "payout"] = "payout" if direction == "payout" else "payin"
            at = t + 120_000 + int(r() * 480_000)
            b.add_change(at, "payshack", row, b.payshack_settlement(minor), kind)
        else:  # never reaches PayShack
            b.vima_op(project, direction, minor, b.pick_status(), t, key)

    def _take_vima(self) -> list[dict[str, Any]]:
        """The new Vima operations, with ids in creation order."""
        b = self._builder
        order = sorted(range(len(b.ops)), key=b.op_created.__getitem__)
        ops = [b.ops[i] for i in order]
        b.ops, b.op_created, b.op_modified = [], [], []
        for op in ops:
            for name in ("operation_id", "operation_create_id", "operation_update_id"):
                b.counters[name] += 1
                op[name] = str(b.counters[name])
            op["operation_modified_at"] = op["operation_created_at"]
            if "complete_created_at" in op:
                op["complete_created_at"] = op["operation_created_at"]
        return ops

    def _take_rows(self, now_ms: int, kind: str) -> list[dict[str, Any]]:
        """The PayShack rows of `kind` whose creation time has come, with ids."""
        b = self._builder
        self._due.extend(
            (created, next(self._seq), kind, row)
            for created, row in zip(b.row_created[kind], b.rows[kind], strict=True)
        )
        b.rows[kind], b.row_created[kind] = [], []
        self._due.sort(key=itemgetter(0, 1))
        ready = [item for item in self._due if item[0] <= now_ms and item[2] == kind]
        self._due = [item for item in self._due if not (item[0] <= now_ms and item[2] == kind)]
        name, prefix = f"{kind}_txn", "PI" if kind == "payin" else "PO"
        for *_, row in ready:
            b.counters[name] += 1
            row["txnId"] = f"{prefix}{b.counters[name]}"
            row["modifiedAt"] = row["createdAt"]
        return [row for *_, row in ready]

    def _take_changes(self) -> list[LateChange]:
        """The queued late changes whose target already has an id."""
        self._changes.extend(self._builder.changes)
        self._builder.changes.clear()
        ready, waiting = [], []
        for raw in self._changes:
            has_id = raw.target["operation_id" if raw.source == "vima" else "txnId"]
            (ready if has_id else waiting).append(raw)
        self._changes = waiting
        ready.sort(key=lambda c: (c.at_ms, c.seq))
        return [
            LateChange(
                ms_datetime(c.at_ms),
                c.source,
                c.target["operation_id" if c.source == "vima" else "txnId"],
                c.changes,
                c.kind,
            )
            for c in ready
        ]
