"""Vima operation -> `Transaction`: pure functions, no I/O, no Dagster.

Field rules follow SOURCES.md (Vima). A malformed operation raises `MalformedRecord`
naming the operation id and the field; the caller keeps it in the raw table and reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from hub_core.money import minor_to_major, to_decimal
from hub_core.timeutil import parse_utc
from hub_core.types import Direction, MalformedRecord, Source, Status, StatusMap, Transaction

STATUSES = StatusMap(
    {
        "success": Status.SUCCESS,
        "fail": Status.FAILED,
        "in_process": Status.PENDING,
        "user_input_required": Status.PENDING,
    }
)
"""Vima `current_status` -> normalized status (SOURCES.md); unknown values are pending."""

_ZERO = Decimal(0)

METHOD_DIRECTION: dict[str, Direction] = {
    "payment.in": Direction.PAYIN,
    "payment.out": Direction.PAYOUT,
}


def id_text(value: object) -> str | None:
    """An identifier as text: ints as digits, integral floats without `.0`, blanks as None."""
    if type(value) is str:  # the usual case first: this runs ~10 times per operation
        return value.strip() or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal(1)) if value == value.to_integral() else value, "f")
    text = str(value).strip()
    return text or None


def _get(mapping: object, *path: str) -> Any:
    current = mapping
    for key in path:
        # a dict first, then an absent object: an ABC check costs more than the lookup, and
        # there are ~14 lookups per operation
        if type(current) is not dict and (current is None or not isinstance(current, Mapping)):
            return None
        current = current.get(key)  # type: ignore[union-attr]
    return current


def _time(op: Mapping[str, Any], op_id: str, field: str, required: bool = False) -> datetime | None:
    value = op.get(field)
    if value in (None, ""):
        if required:
            raise MalformedRecord("operation", op_id, field, "missing")
        return None
    try:
        return parse_utc(value)
    except ValueError:
        raise MalformedRecord("operation", op_id, field, f"bad timestamp {value!r}") from None


def _amount(payment: object, op_id: str) -> tuple[Decimal, str]:
    amount = _get(payment, "amount")
    value, currency = _get(amount, "value"), _get(amount, "currency")
    field = "create_params.params.payment.amount"
    if value is None or value == "":
        raise MalformedRecord("operation", op_id, f"{field}.value", "missing")
    if not isinstance(currency, str) or not currency.strip():
        raise MalformedRecord("operation", op_id, f"{field}.currency", "missing")
    currency = currency.strip().upper()
    if isinstance(value, float):
        value = Decimal(repr(value))
    try:
        major = minor_to_major(value, currency)
    except ValueError as exc:
        raise MalformedRecord("operation", op_id, f"{field}.value", str(exc)) from None
    if major < 0:
        raise MalformedRecord("operation", op_id, f"{field}.value", f"negative amount {value!r}")
    return major, currency


def _optional_decimal(value: object, op_id: str, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise MalformedRecord("operation", op_id, field, str(exc)) from None


def _fee(op: Mapping[str, Any], op_id: str) -> Decimal | None:
    finishes = op.get("card_finish")
    if not isinstance(finishes, list):
        return None
    total: Decimal | None = None
    for item in finishes:
        if isinstance(item, Mapping):
            fee = _optional_decimal(item.get("charged_fee"), op_id, "card_finish[].charged_fee")
            if fee is not None:
                total = (_ZERO if total is None else total) + fee
    return total


def _name(person: object) -> str | None:
    parts = [_get(person, "first_name"), _get(person, "last_name")]
    text = " ".join(str(p).strip() for p in parts if p not in (None, "") and str(p).strip())
    return text or None


def normalize_operation(op: Mapping[str, Any], raw_json: bytes | None = None) -> Transaction:
    """Turn one Vima operation object into a `Transaction` (id and data hash filled).

    `raw_json`, when given, is `op` already encoded as JSON: `raw_data` takes it as it is
    (`orjson.Fragment`) instead of a copy of `op`.
    Raises `MalformedRecord` for a missing id, amount, currency, method or creation time,
    or a bad timestamp or number.
    """
    if not isinstance(op, Mapping):
        raise MalformedRecord("operation", None, "operation", "not a JSON object")
    op_id = id_text(op.get("operation_id"))
    if op_id is None:
        raise MalformedRecord("operation", None, "operation_id", "missing")
    create_params = op.get("create_params")
    method = _get(create_params, "method")
    direction = METHOD_DIRECTION.get(str(method).strip().lower()) if method else None
    if direction is None:
        raise MalformedRecord(
            "operation", op_id, "create_params.method", f"unknown method {method!r}"
        )
    payment = _get(create_params, "params", "payment")
    amount, currency = _amount(payment, op_id)
    raw_status = op.get("current_status")
    if raw_status in (None, ""):
        raise MalformedRecord("operation", op_id, "current_status", "missing")
    client_operation_id = id_text(op.get("client_operation_id")) or id_text(
        _get(payment, "identifiers", "c_id")
    )
    payer = _get(payment, "payer")
    return Transaction(
        source=Source.VIMA,
        source_id=op_id,
        direction=direction,
        amount=amount,
        currency=currency,
        status=STATUSES.status(raw_status),
        original_status=str(raw_status),
        created_at=_time(op, op_id, "operation_created_at", required=True),
        updated_at=_time(op, op_id, "operation_modified_at"),
        completed_at=_time(op, op_id, "complete_created_at"),
        reference_id=id_text(op.get("reference_id")),
        client_operation_id=client_operation_id,
        match_key=client_operation_id,
        project=id_text(op.get("project")),
        merchant_id=id_text(op.get("credentials_owner")),
        paid_amount=_optional_decimal(op.get("complete_amount"), op_id, "complete_amount"),
        fee=_fee(op, op_id),
        user_id=id_text(op.get("user_id")),
        user_email=id_text(_get(payer, "email")),
        user_phone=id_text(_get(payer, "phone")) or id_text(op.get("contact")),
        user_name=_name(_get(payer, "person")),
        country=id_text(_get(payment, "client", "country")),
        payment_method=id_text(op.get("payment_method_code") or op.get("payment_method_type")),
        payment_product=id_text(op.get("payment_product")),
        raw_data=dict(op) if raw_json is None else orjson.Fragment(raw_json),
    ).finalize()
