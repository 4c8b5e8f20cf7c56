"""PayShack rows -> `Transaction`: pure functions, no I/O, no Dagster.

Rows come from either reader: the JSON endpoints (numbers, ISO 8601 UTC times) or the
dashboard table (`₹1,23,456.78`, IST times such as `15 Jan 2026, 09:16:46 PM`). Both give
the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from hub_core.timeutil import parse_utc
from hub_core.types import Direction, MalformedRecord, Source, Status, StatusMap, Transaction

IST = timezone(timedelta(hours=5, minutes=30), "IST")

STATUSES = StatusMap(
    {
        "success": Status.SUCCESS,
        "failed": Status.FAILED,
        "tampered": Status.FAILED,
        "expired": Status.FAILED,
        "initiated": Status.PENDING,
        "pending": Status.PENDING,
        "in process": Status.PENDING,
        "incomplete": Status.PENDING,
        "refunded": Status.REFUNDED,
        "cb refunded": Status.REFUNDED,
    }
)
"""PayShack status (case- and space-insensitive, `_` as a space) -> normalized status."""
FINAL_STATUSES = frozenset({Status.SUCCESS, Status.FAILED, Status.REFUNDED})
CURRENCY = "INR"

_AMOUNT = re.compile(
    r"^(?P<sign>-?)\s*(?:₹|rs\.?|inr)?\s*(?P<sign2>-?)\s*"
    r"(?P<digits>\d{1,3}(?:,\d{2,3})*|\d+)(?P<frac>\.\d+)?$",
    re.I,
)
_IST_FORMATS = (
    "%d %b %Y, %I:%M:%S %p",
    "%d/%m/%Y %H:%M:%S",
    "%d %b %Y %I:%M:%S %p",
    "%d-%m-%Y %H:%M:%S",
)


def parse_amount(text: str) -> Decimal:
    """Parse a dashboard amount: `₹1,23,456.78`, `₹ 2,500.00`, `₹100`, `1,000`.

    Non-breaking and thin spaces are accepted. Raises `ValueError` naming the text otherwise.
    """
    if not isinstance(text, str):
        raise ValueError(f"amount {text!r} is not text")
    cleaned = re.sub(r"[\s\u00a0\u202f\u2009]+", " ", text).strip()
    match = _AMOUNT.match(cleaned)
    if not match or (match["sign"] and match["sign2"]):
        raise ValueError(f"amount {text!r} is not a rupee amount")
    digits = match["digits"].replace(",", "")
    try:
        sign = "-" if match["sign"] or match["sign2"] else ""
        value = Decimal(f"{sign}{digits}{match['frac'] or ''}")
    except InvalidOperation:  # pragma: no cover - the pattern admits only digits
        raise ValueError(f"amount {text!r} is not a rupee amount") from None
    return value


def parse_ist_datetime(text: str) -> datetime:
    """Parse a dashboard time in IST (or ISO 8601 with or without offset) into aware UTC.

    `15 Jan 2026, 09:16:46 PM` and `15/01/2026 21:16:46` are IST; ISO text without an offset
    is IST too (what the dashboard shows), with an offset or `Z` it is taken as given.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"time {text!r} is empty or not text")
    cleaned = " ".join(text.replace("\u00a0", " ").split())
    cleaned = re.sub(r"\s*IST$", "", cleaned, flags=re.I)
    for fmt in _IST_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=IST).astimezone(UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(cleaned.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"time {text!r} is not a dashboard time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=IST)
    return parsed.astimezone(UTC)


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _money(
    row: Mapping[str, Any], field: str, txn_id: str, required: bool = False
) -> Decimal | None:
    value = row.get(field)
    if value is None or (isinstance(value, str) and not value.strip()) or value == "-":
        if required:
            raise MalformedRecord("row", txn_id, field, "missing")
        return None
    try:
        if isinstance(value, str):
            amount = parse_amount(value)
        elif isinstance(value, bool):
            raise ValueError(f"amount {value!r} is not a number")
        else:
            amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (ValueError, InvalidOperation) as exc:
        raise MalformedRecord("row", txn_id, field, str(exc)) from None
    if not amount.is_finite():
        raise MalformedRecord("row", txn_id, field, f"amount {value!r} is not finite")
    return amount


def _time(
    row: Mapping[str, Any], field: str, txn_id: str, required: bool = False
) -> datetime | None:
    value = row.get(field)
    if value in (None, "", "-"):
        if required:
            raise MalformedRecord("row", txn_id, field, "missing")
        return None
    try:
        return parse_row_time(value)
    except ValueError as exc:
        raise MalformedRecord("row", txn_id, field, str(exc)) from None


def parse_row_time(value: str) -> datetime:
    """A row's time from either reader: ISO 8601 UTC (JSON) or a dashboard IST time."""
    if isinstance(value, str) and value.strip().upper().endswith("Z"):
        return parse_utc(value)
    return parse_ist_datetime(value)


def _normalize(
    row: Mapping[str, Any], kind: Direction | str, client_project_map: Mapping[str, str]
) -> Transaction:
    kind = Direction(kind)
    if not isinstance(row, Mapping):
        raise MalformedRecord("row", None, "row", "not an object")
    txn_id = _text(row.get("txnId"))
    if txn_id is None:
        raise MalformedRecord("row", None, "txnId", "missing")
    raw_status = _text(row.get("txnStatus"))
    if raw_status is None:
        raise MalformedRecord("row", txn_id, "txnStatus", "missing")
    amount = _money(row, "amount", txn_id, required=True)
    assert amount is not None
    if amount < 0:
        raise MalformedRecord("row", txn_id, "amount", f"negative amount {row.get('amount')!r}")
    status = STATUSES.status(raw_status)
    created_at = _time(row, "createdAt", txn_id, required=True)
    updated_at = _time(row, "modifiedAt", txn_id)
    client_name = _text(row.get("clientName"))
    order_id = _text(row.get("orderId"))
    fee_field = "totalCommissionAmount" if kind is Direction.PAYIN else "txnCharges"
    is_payin = kind is Direction.PAYIN
    return Transaction(
        source=Source.PAYSHACK,
        source_id=f"{kind.value}:{txn_id}",
        direction=Direction.PAYIN if is_payin else Direction.PAYOUT,
        amount=amount,
        currency=CURRENCY,
        status=status,
        original_status=raw_status,
        created_at=created_at,  # type: ignore[arg-type]
        updated_at=updated_at,
        completed_at=updated_at if status in FINAL_STATUSES else None,
        reference_id=_text(row.get("spTxnId")),
        order_id=order_id,
        match_key=order_id,
        project=client_project_map.get(client_name) if client_name else None,
        merchant_id=_text(row.get("clientId")),
        paid_amount=_money(row, "paidAmount", txn_id),
        fee=_money(row, fee_field, txn_id),
        user_id=_text(row.get("payerVpa")) if is_payin else _text(row.get("beneAccount")),
        user_name=None if is_payin else _text(row.get("beneName")),
        country="IN",
        utr=_text(row.get("utr")),
        payment_method=_text(row.get("transactionType")),
        raw_data=dict(row),
    ).finalize()


def _project_map(client_project_map: Mapping[str, str] | None) -> Mapping[str, str]:
    if client_project_map is not None:
        return client_project_map
    from hub_core.settings import get_settings

    settings = get_settings()
    settings.require_source("payshack")
    return settings.hub_client_project_map


def normalize_payin(
    row: Mapping[str, Any], client_project_map: Mapping[str, str] | None = None
) -> Transaction:
    """A Pay-In row (JSON or dashboard) as a `Transaction`; raises `MalformedRecord`.

    `client_project_map` defaults to `HUB_CLIENT_PROJECT_MAP`.
    """
    return _normalize(row, "payin", _project_map(client_project_map))


def normalize_payout(
    row: Mapping[str, Any], client_project_map: Mapping[str, str] | None = None
) -> Transaction:
    """A Pay-Out row (JSON or dashboard) as a `Transaction`; raises `MalformedRecord`."""
    return _normalize(row, "payout", _project_map(client_project_map))


def normalize_row(
    row: Mapping[str, Any],
    kind: Direction | str,
    client_project_map: Mapping[str, str] | None = None,
) -> Transaction:
    """A row of either kind as a `Transaction`."""
    return _normalize(row, kind, _project_map(client_project_map))
