"""The builder: draws Vima operations and PayShack rows, records truth and late changes, and
gives the objects their ids once they all exist.

Every draw comes from the one `Random` the builder is given, in a fixed order: the same calls
give the same objects. `generate` drives it a day at a time (`cases.build_days`) and then takes
the results (`assign_ids`, `truth`, `late_changes`); a `LiveFeed` drives it a payment at a time
and takes what it built with `take_operations`, `take_rows` and `take_changes`, numbering them
with `next_counter` and `next_txn_id`.
"""

from __future__ import annotations

from bisect import bisect
from datetime import date
from itertools import accumulate
from operator import itemgetter
from random import Random
from typing import Any

from .constants import (
    CURRENCY_EXPONENT,
    DEFAULT_PROJECTS,
    FALLBACK_WINDOW_MS,
    TOLERANCE_MINOR,
    UNMAPPED_CLIENT,
)
from .formatting import DAY_MS, EPOCH, fmt_ms, major_num, major_str
from .people import payer_pool
from .truth import (
    Kind,
    LateChange,
    PendingChange,
    Source,
    TruthEntry,
    resolve_changes,
    resolve_truth,
)
from .vocabulary import (
    HOUR_CUM,
    METHODS_INR,
    METHODS_OTHER,
    ODD_STATES,
    PAID_RAW,
    PENDING_RAW,
    RAW_BY_STATUS,
    STATES,
    STATUS_TABLE,
    UNMAPPED_KEYS,
    KeyStyle,
    profile,
    scramble,
)

INITIAL_COUNTERS: dict[str, int] = {
    "operation_id": 40_000_000_000,
    "operation_create_id": 5_100_000_000,
    "operation_update_id": 9_200_000_000,
    "key": 0,
    "payin_txn": 100_000_000_000,
    "payout_txn": 100_000_000_000,
}
"""Where the id counters of a new scenario start (`Scenario.counters` holds the last used)."""

TXN_PREFIX: dict[str, str] = {"payin": "PI", "payout": "PO"}
"""PayShack kind -> the prefix of its `txnId`s."""


class Builder:
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
        self.start_ms = (start - EPOCH).days * DAY_MS
        self.client_of = {project: client for client, project in sorted(client_map.items())}
        weights = sorted((projects or DEFAULT_PROJECTS).items())
        self.project_names = [name for name, _ in weights]
        self.project_cum = list(accumulate(w for _, w in weights))
        self.profiles = {p: profile(p, p in self.client_of) for p in self.project_names}
        self.case_projects = [p for p in self.project_names if p in self.client_of]
        """The mapped projects, in name order: the injected cases take turns among them."""
        self.client_ids = {
            c: f"CL{scramble(i + 7) % 10**8:08d}"
            for i, c in enumerate(sorted([*client_map, UNMAPPED_CLIENT]))
        }
        self.merchant_upi = {c: f"{c.split('_')[0].lower()}.pay@yesbank" for c in self.client_ids}
        self.payers = {  # people pay again and again: a few thousand regulars per country
            c: payer_pool(rng, c, 2000 if c == "INR" else 300) for c in CURRENCY_EXPONENT
        }
        self.inr_vpas = [payer.vpa for payer in self.payers["INR"]]
        self.counters = dict(INITIAL_COUNTERS)
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
        self.pending: list[TruthEntry] = []
        self.changes: list[PendingChange] = []
        self.reserved: dict[tuple[str, str, int], set[int]] = {}

    # ------------------------------------------------------------------ draws

    def next_seq(self) -> int:
        """A tie-breaker that orders objects created at the same millisecond."""
        self.seq += 1
        return self.seq

    def new_key(self, project: str) -> str:
        """A merchant id never used before, in the style of `project`."""
        return self.new_id(self.profiles[project].keys)

    def new_id(self, keys: KeyStyle) -> str:
        """A merchant id never used before, in the style `keys`."""
        self.counters["key"] += 1
        return keys.render(scramble(self.counters["key"]))

    def day_ms(self, day: int) -> int:
        """Epoch milliseconds of the start of day `day` (0-based) of the scenario."""
        return self.start_ms + day * DAY_MS

    def time_of_day(self) -> int:
        """Milliseconds into a day, weighted by hourly traffic."""
        r = self.rng.random
        hour = bisect(HOUR_CUM, r() * HOUR_CUM[-1])
        return hour * 3_600_000 + int(r() * 3_600_000)

    def quiet_time(self, day_ms: int) -> int:
        """A time of day well away from midnight (01:00-22:00), for injected cases."""
        return day_ms + 3_600_000 + int(self.rng.random() * 75_600_000)

    def lag_ms(self) -> int:
        """How long after Vima a mirroring PayShack row is created (1-90 s)."""
        return 1000 + int(self.rng.random() * 89_000)

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

    def pick_project(self) -> str:
        """A project drawn by its share."""
        return self.project_names[
            bisect(self.project_cum, self.rng.random() * self.project_cum[-1])
        ]

    def is_mapped(self, project: str) -> bool:
        """Whether a PayShack client maps to `project` (its payments appear on both sides)."""
        return project in self.client_of

    def pick_currency(self, project: str) -> str:
        """One of the currencies `project` takes payments in."""
        currencies = self.profiles[project].currencies
        return currencies[int(self.rng.random() * len(currencies))]

    def pick_status(self) -> str:
        """A Vima status with realistic odds (78/15/5/2)."""
        return STATUS_TABLE[int(self.rng.random() * 100)]

    def raw_status(self, status: str) -> str:
        """A PayShack raw status consistent with Vima's `status`."""
        choices = RAW_BY_STATUS[status]
        return choices[int(self.rng.random() * len(choices))]

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
        state = STATES[status] if r() >= 0.01 else ODD_STATES[status]
        methods = METHODS_INR[direction] if currency == "INR" else METHODS_OTHER[direction]
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
            op.update(_completion(minor, currency, op["operation_modified_at"]))
        self.ops.append(op)
        self.op_created.append(created_ms)
        self.op_modified.append(modified_ms)
        return op

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
        paid = raw_status in PAID_RAW
        created = fmt_ms(created_ms)
        modified = created
        if raw_status not in PENDING_RAW:
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
            self._add_payout_fields(row, minor, paid)
        self.rows[direction].append(row)
        self.row_created[direction].append(created_ms)
        return row

    def _add_payout_fields(self, row: dict[str, Any], minor: int, paid: bool) -> None:
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

    def pair(
        self,
        project: str,
        direction: str,
        minor: int,
        v_status: str,
        p_raw: str,
        v_ms: int,
        p_ms: int,
        *,
        key: str | None = None,
        order_id: str | None = None,
        p_minor: int | None = None,
        paid_minor: int | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any], int]:
        """A Vima operation and a PayShack row; returns them and the earlier creation time.

        `key` and `order_id` default to one fresh key for both; `p_minor` is the PayShack
        amount (default `minor`), `paid_minor` its paid amount (default its amount).
        """
        key = key or self.new_key(project)
        order_id = order_id or key
        op = self.vima_op(project, direction, minor, v_status, v_ms, key)
        row = self.payshack_row(
            project,
            direction,
            minor if p_minor is None else p_minor,
            p_raw,
            p_ms,
            order_id,
            paid_minor=paid_minor,
        )
        return op, row, min(v_ms, p_ms - p_ms % 1000)

    # ------------------------------------------------------------------ truth and late changes

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
        self.pending.append(
            TruthEntry(case, match_type, method, direction, project, op, row, recon_ms, initial)
        )

    def add_change(
        self,
        at_ms: int,
        source: Source,
        target: dict[str, Any],
        changes: dict[str, Any],
        kind: Kind | None = None,
    ) -> None:
        """Record a late change of `target` (ids filled in later)."""
        self.changes.append(PendingChange(at_ms, self.next_seq(), source, target, changes, kind))

    def settle_vima_later(self, op: dict[str, Any], minor: int, at_ms: int) -> None:
        """Record that the pending INR operation `op` succeeds at `at_ms`."""
        changes: dict[str, Any] = {"current_status": "success", "operation_state": "COMPLETE"}
        changes.update(_completion(minor, "INR", fmt_ms(at_ms)))
        self.add_change(at_ms, "vima", op, changes)

    def settle_payshack_later(
        self, row: dict[str, Any], direction: str, minor: int, at_ms: int
    ) -> None:
        """Record that the pending PayShack `row` (of `direction`) succeeds at `at_ms`."""
        changes = {
            "txnStatus": "Success",
            "utr": f"{self.rng.getrandbits(40) % 10**12:012d}",
            "paidAmount": minor / 100,
        }
        kind: Kind = "payout" if direction == "payout" else "payin"
        self.add_change(at_ms, "payshack", row, changes, kind)

    # ------------------------------------------------------------------ the bulk

    def bulk(self, day_ms: int, count: int) -> None:
        """`count` ordinary operations; those of mapped projects exactly mirrored on PayShack."""
        r = self.rng.random
        limit = DAY_MS - 120_000  # the mirror (<= 90 s later) stays on the same day
        names, cum, total = self.project_names, self.project_cum, self.project_cum[-1]
        mapped = {p: p in self.client_of for p in names}
        currencies = {p: self.profiles[p].currencies for p in names}
        vima_op, payshack_row, truth = self.vima_op, self.payshack_row, self.pending.append
        inr_amounts, other_amounts = self.inr_amounts, self.other_amounts
        times = sorted(self.time_of_day() for _ in range(count))  # creation order: cheap ids
        for t in times:
            created = day_ms + (t - 120_000 if t >= limit else t)
            project = names[bisect(cum, r() * total)]
            status = STATUS_TABLE[int(r() * 100)]
            if mapped[project]:
                direction = "payout" if r() < 0.2 else "payin"
                minor = inr_amounts[int(r() * 8192)]
                key = self.new_key(project)
                op = vima_op(project, direction, minor, status, created, key)
                raws = RAW_BY_STATUS[status]
                row = payshack_row(
                    project,
                    direction,
                    minor,
                    raws[int(r() * len(raws))],
                    created + 1000 + int(r() * 89_000),
                    key,
                )
                truth(TruthEntry("exact", "matched", "exact", direction, project, op, row, created))
            else:
                direction = "payout" if r() < 0.1 else "payin"
                choices = currencies[project]
                currency = choices[int(r() * len(choices))]
                minor = other_amounts[currency][int(r() * 1024)]
                vima_op(project, direction, minor, status, created, self.new_key(project), currency)

    def unmapped(self, day_ms: int, count: int) -> None:
        """`count` PayShack rows of a client that maps to no project."""
        limit = DAY_MS - 1000
        for _ in range(count):
            created = day_ms + min(self.time_of_day(), limit)
            direction = "payout" if self.rng.random() < 0.2 else "payin"
            status = self.pick_status()
            key = self.new_id(UNMAPPED_KEYS)
            raw = self.raw_status(status)
            self.payshack_row(
                None, direction, self.amount(), raw, created, key, client=UNMAPPED_CLIENT
            )

    # ------------------------------------------------------------------ taking what was built

    def take_operations(self) -> list[dict[str, Any]]:
        """The Vima operations built since the last take, in creation order (ties keep the
        order they were built in); the builder forgets them."""
        ops, created = self.ops, self.op_created
        taken = [ops[i] for i in sorted(range(len(ops)), key=created.__getitem__)]
        self.ops, self.op_created, self.op_modified = [], [], []
        return taken

    def take_rows(self, kind: str) -> list[tuple[int, dict[str, Any]]]:
        """The PayShack rows of `kind` built since the last take, with their creation times
        (epoch ms), in the order they were built; the builder forgets them."""
        taken = list(zip(self.row_created[kind], self.rows[kind], strict=True))
        self.rows[kind], self.row_created[kind] = [], []
        return taken

    def take_changes(self) -> list[PendingChange]:
        """The late changes recorded since the last take; the builder forgets them."""
        taken, self.changes = self.changes, []
        return taken

    def next_counter(self, name: str) -> int:
        """Advance counter `name` (see `INITIAL_COUNTERS`) and return its new value."""
        self.counters[name] += 1
        return self.counters[name]

    def next_txn_id(self, kind: str) -> str:
        """The next PayShack `txnId` of `kind`."""
        return f"{TXN_PREFIX[kind]}{self.next_counter(f'{kind}_txn')}"

    def next_update_id(self) -> str:
        """The next Vima `operation_update_id`."""
        return str(self.next_counter("operation_update_id"))

    # ------------------------------------------------------------------ results of a scenario

    def assign_ids(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """Give every object its ids in creation order; return Vima ops, pay-ins, pay-outs.

        Operation ids leave random gaps; update ids follow modification order. Ties in time
        keep insertion order. The builder forgets the objects it returns.
        """
        ops, counters, gaps = self.ops, self.counters, self.rng.getrandbits
        by_modification = sorted(range(len(ops)), key=self.op_modified.__getitem__)
        by_creation = self.take_operations()
        op_id, create_id = counters["operation_id"], counters["operation_create_id"]
        for op in by_creation:
            op_id += 1 + gaps(2)
            create_id += 1
            op["operation_id"] = str(op_id)
            op["operation_create_id"] = str(create_id)
        counters["operation_id"], counters["operation_create_id"] = op_id, create_id
        for i in by_modification:
            ops[i]["operation_update_id"] = self.next_update_id()
        return by_creation, self._number_rows("payin"), self._number_rows("payout")

    def _number_rows(self, kind: str) -> list[dict[str, Any]]:
        """Give the PayShack rows of `kind` their txnIds in creation order; forget them."""
        rows = [row for _, row in sorted(self.take_rows(kind), key=itemgetter(0))]
        for row in rows:
            row["txnId"] = self.next_txn_id(kind)
        return rows

    def truth(self) -> list[dict[str, Any]]:
        """The truth entries recorded so far (ids assigned), sorted deterministically."""
        return resolve_truth(self.pending)

    def late_changes(self) -> list[LateChange]:
        """The late changes recorded so far (target ids assigned), sorted by `at`."""
        return resolve_changes(self.changes)


def _completion(minor: int, currency: str, completed_at: str) -> dict[str, Any]:
    """The fields of a Vima operation that completed successfully, paying `minor`."""
    exponent = CURRENCY_EXPONENT[currency]
    return {
        "complete_amount": major_str(minor, exponent),
        "complete_currency": currency,
        "complete_created_at": completed_at,
        "card_finish": [{"charged_fee": major_num(minor * 25 // 1000, exponent)}],
    }
