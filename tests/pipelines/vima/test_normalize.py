"""Vima normalizer: every field rule, currencies, statuses, malformed input, amounts."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_core.money import currency_exponent
from hub_core.types import TRANSACTION_FIELDS, Direction, MalformedRecord, Source, Status
from hub_pipelines.sources.vima.normalize import STATUSES, id_text, normalize_operation
from hub_pipelines.warehouse.rows import canonical_json
from hub_pipelines.warehouse.transactions import copy_row

_RAW = TRANSACTION_FIELDS.index("raw_data")

BASE: dict[str, Any] = {
    "operation_id": "100000001",
    "reference_id": "a1b2c3",
    "client_operation_id": "91g_abc",
    "project": "91game",
    "credentials_owner": "merchant-7",
    "user_id": "u-1",
    "contact": "+919800000000",
    "create_params": {
        "method": "payment.in",
        "params": {
            "payment": {
                "amount": {"value": 150050, "currency": "INR"},
                "identifiers": {"c_id": "91g_abc"},
                "payer": {
                    "email": "a@example.test",
                    "phone": "+919811111111",
                    "person": {"first_name": "Asha", "last_name": "Rao"},
                },
                "client": {"country": "IN"},
            }
        },
    },
    "current_status": "success",
    "payment_method_code": "upi",
    "payment_product": "upi_intent",
    "operation_created_at": "2026-01-15T15:46:20.195Z",
    "operation_modified_at": "2026-01-15T15:47:00.000Z",
    "complete_amount": "1500.50",
    "complete_created_at": "2026-01-15T15:46:59.000Z",
    "card_finish": [{"charged_fee": "12.25"}, {"charged_fee": 0.75}],
    "operation_create_id": "5001",
    "operation_update_id": "9001",
}


def op(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(BASE)
    result.update(changes)
    return result


def with_payment(path: list[str], value: Any) -> dict[str, Any]:
    result = op()
    target = result["create_params"]["params"]["payment"]
    for key in path[:-1]:
        target = target[key]
    if value is None:
        target.pop(path[-1])
    else:
        target[path[-1]] = value
    return result


def test_every_field_of_a_complete_operation() -> None:
    txn = normalize_operation(BASE)
    assert txn.source is Source.VIMA
    assert txn.source_id == "100000001"
    assert txn.direction is Direction.PAYIN
    assert txn.amount == Decimal("1500.50")
    assert txn.paid_amount == Decimal("1500.50")
    assert txn.fee == Decimal("13.00")
    assert txn.currency == "INR"
    assert txn.status is Status.SUCCESS
    assert txn.original_status == "success"
    assert txn.client_operation_id == txn.match_key == "91g_abc"
    assert txn.project == "91game"
    assert txn.merchant_id == "merchant-7"
    assert (txn.user_email, txn.user_phone, txn.user_name) == (
        "a@example.test",
        "+919811111111",
        "Asha Rao",
    )
    assert txn.country == "IN"
    assert (txn.payment_method, txn.payment_product) == ("upi", "upi_intent")
    assert txn.created_at == datetime(2026, 1, 15, 15, 46, 20, 195000, tzinfo=UTC)
    assert txn.updated_at == datetime(2026, 1, 15, 15, 47, tzinfo=UTC)
    assert txn.completed_at == datetime(2026, 1, 15, 15, 46, 59, tzinfo=UTC)
    assert txn.raw_data == BASE
    assert txn.id and txn.data_hash


def test_raw_data_can_be_the_landed_json_as_it_is() -> None:
    encoded = canonical_json(BASE)
    txn = normalize_operation(BASE, raw_json=encoded)
    assert orjson.dumps(txn.raw_data) == encoded  # written as it is, not encoded again
    assert orjson.loads(copy_row(txn, datetime(2026, 1, 16, tzinfo=UTC))[_RAW]) == BASE
    plain = normalize_operation(BASE)
    assert (txn.id, txn.data_hash) == (plain.id, plain.data_hash)  # the same transaction


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (150050, "INR", Decimal("1500.50")),
        ("7", "USD", Decimal("0.07")),
        (1500, "JPY", Decimal("1500")),
        (1500, "krw", Decimal("1500")),
        (1234, "KWD", Decimal("1.234")),
        (1, "BHD", Decimal("0.001")),
        (0, "EUR", Decimal("0")),
        (1500.0, "INR", Decimal("15.00")),
    ],
)
def test_amount_uses_the_currency_exponent(value: Any, currency: str, expected: Decimal) -> None:
    txn = normalize_operation(with_payment(["amount"], {"value": value, "currency": currency}))
    assert txn.amount == expected
    assert txn.currency == currency.upper()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("success", Status.SUCCESS),
        ("fail", Status.FAILED),
        ("in_process", Status.PENDING),
        ("user_input_required", Status.PENDING),
        ("SUCCESS", Status.SUCCESS),
        ("chargeback", Status.PENDING),
    ],
)
def test_status_map_keeps_the_raw_value(raw: str, status: Status) -> None:
    txn = normalize_operation(op(current_status=raw))
    assert txn.status is status
    assert txn.original_status == raw
    assert STATUSES.is_known(raw) is (raw.lower() != "chargeback")


def test_direction_from_method() -> None:
    payout = op()
    payout["create_params"]["method"] = "payment.out"
    assert normalize_operation(payout).direction is Direction.PAYOUT


def test_client_operation_id_falls_back_to_c_id_without_float_formatting() -> None:
    no_top = op()
    del no_top["client_operation_id"]
    assert normalize_operation(no_top).client_operation_id == "91g_abc"
    for c_id, expected in [
        (12345678901234567, "12345678901234567"),
        (42.0, "42"),
        ("0042", "0042"),
    ]:
        numeric = with_payment(["identifiers", "c_id"], c_id)
        del numeric["client_operation_id"]
        txn = normalize_operation(numeric)
        assert txn.client_operation_id == txn.match_key == expected


def test_optional_fields_absent_until_completed() -> None:
    pending = op(current_status="in_process")
    for key in ("complete_amount", "complete_created_at", "card_finish"):
        del pending[key]
    txn = normalize_operation(pending)
    assert (txn.paid_amount, txn.completed_at, txn.fee) == (None, None, None)
    anonymous = with_payment(["payer"], None)
    txn = normalize_operation(anonymous)
    assert (txn.user_email, txn.user_name) == (None, None)
    assert txn.user_phone == "+919800000000"  # top-level contact


def test_times_with_offsets_become_utc() -> None:
    txn = normalize_operation(op(operation_created_at="2026-01-15T21:16:20+05:30"))
    assert txn.created_at == datetime(2026, 1, 15, 15, 46, 20, tzinfo=UTC)


def test_data_hash_ignores_fetch_noise_but_sees_business_changes() -> None:
    first = normalize_operation(BASE)
    noisy = op(ip_addr="10.0.0.1", operation_update_id="9999")
    assert normalize_operation(noisy).data_hash == first.data_hash
    assert normalize_operation(op(current_status="fail")).data_hash != first.data_hash
    assert normalize_operation(op(complete_amount="1500.5")).data_hash == first.data_hash


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        (op(operation_id=None), "operation_id"),
        (op(operation_id=""), "operation_id"),
        (with_payment(["amount"], None), "create_params.params.payment.amount.value"),
        (
            with_payment(["amount"], {"value": "12.5", "currency": "INR"}),
            "create_params.params.payment.amount.value",
        ),
        (
            with_payment(["amount"], {"value": -100, "currency": "INR"}),
            "create_params.params.payment.amount.value",
        ),
        (
            with_payment(["amount"], {"value": 100}),
            "create_params.params.payment.amount.currency",
        ),
        (op(operation_created_at="15/01/2026"), "operation_created_at"),
        (op(operation_created_at=None), "operation_created_at"),
        (op(complete_created_at="soon"), "complete_created_at"),
        (op(complete_amount="lots"), "complete_amount"),
        (op(current_status=None), "current_status"),
        (op(create_params={"method": "refund"}), "create_params.method"),
        (op(card_finish=[{"charged_fee": "x"}]), "card_finish[].charged_fee"),
    ],
)
def test_malformed_operations_name_id_and_field(broken: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedRecord) as info:
        normalize_operation(broken)
    assert info.value.field == field
    expected_id = broken.get("operation_id") or "<no id>"
    assert str(info.value).startswith(f"operation {expected_id}: {field}")


def test_not_an_object_is_malformed() -> None:
    with pytest.raises(MalformedRecord, match="not a JSON object"):
        normalize_operation(["x"])  # type: ignore[arg-type]


def test_id_text() -> None:
    assert id_text(None) is None and id_text(True) is None and id_text("  ") is None
    assert id_text(1.5) == "1.5"
    assert id_text(Decimal("7.00")) == "7"


@given(
    minor=st.integers(min_value=0, max_value=10**15),
    currency=st.sampled_from(["INR", "USD", "EUR", "JPY", "KRW", "KWD", "BHD"]),
    as_text=st.booleans(),
)
def test_amount_round_trips_without_float_error(minor: int, currency: str, as_text: bool) -> None:
    value = str(minor) if as_text else minor
    txn = normalize_operation(with_payment(["amount"], {"value": value, "currency": currency}))
    assert isinstance(txn.amount, Decimal)
    assert txn.amount.scaleb(currency_exponent(currency)) == minor
    assert -txn.amount.as_tuple().exponent == currency_exponent(currency)
