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

Modules, in reading order: `constants` (client map, projects, currencies, case names),
`formatting` (times, amounts and JSON as the providers render them), `people` and `vocabulary`
(what the objects are made of), `truth` (late changes and truth entries), `builder` (draws the
objects and assigns their ids), `cases` (what a day holds: one function per injected case),
`live` (the live feed), `model` (`Scenario` and `generate`). Everything public is importable
from this package.
"""

from .constants import (
    CASES,
    CURRENCY_EXPONENT,
    DEFAULT_PROJECTS,
    FALLBACK_WINDOW_MS,
    MIDNIGHT_CASES,
    SANDBOX_CLIENT_PROJECT_MAP,
    TOLERANCE_MINOR,
    UNMAPPED_CLIENT,
    cases_per_kind,
)
from .formatting import date_of_ms, dumps, epoch_ms, fmt_ms, major_num, major_str, ms_datetime
from .live import LiveBatch, LiveFeed
from .model import Scenario, generate
from .truth import LateChange

__all__ = [
    "CASES",
    "CURRENCY_EXPONENT",
    "DEFAULT_PROJECTS",
    "FALLBACK_WINDOW_MS",
    "MIDNIGHT_CASES",
    "SANDBOX_CLIENT_PROJECT_MAP",
    "TOLERANCE_MINOR",
    "UNMAPPED_CLIENT",
    "LateChange",
    "LiveBatch",
    "LiveFeed",
    "Scenario",
    "cases_per_kind",
    "date_of_ms",
    "dumps",
    "epoch_ms",
    "fmt_ms",
    "generate",
    "major_num",
    "major_str",
    "ms_datetime",
]
