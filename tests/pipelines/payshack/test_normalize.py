"""PayShack parsers and normalizer: table-driven cases and property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub_core.types import Direction, MalformedRecord, Source, Status
from hub_pipelines.sources.payshack.normalize import (
    IST,
    STATUSES,
    normalize_payin,
    normalize_payout,
    parse_amount,
    parse_ist_datetime,
)

MAP = {"91G_TECH_PVT_LTD": "91game"}

PAYIN: dict[str, Any] = {
    "txnId": "PI100",
    "orderId": "91g_abc",
    "spTxnId": "SP9",
    "amount": 1500.5,
    "paidAmount": 1500.5,
    "utr": "920386407697",
    "txnStatus": "SUCCESS",
    "clientName": "91G_TECH_PVT_LTD",
    "clientId": "CL1",
    "transactionType": "UPI_INTENT",
    "payerVpa": "asha@ybl",
    "upiId": "91g@yesbank",
    "totalCommissionAmount": 27.01,
    "createdAt": "2026-01-15T15:46:20.000Z",
    "modifiedAt": "2026-01-15T15:46:50.000Z",
}


def indian(value: Decimal) -> str:
    """Indian digit grouping, as the dashboard renders it."""
    whole, _, frac = f"{value:.2f}".partition(".")
    head, tail = whole[:-3], whole[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail]) + "." + frac


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("₹1,23,456.78", Decimal("123456.78")),
        ("₹ 2,500.00", Decimal("2500.00")),
        ("₹100", Decimal("100")),
        ("1,000", Decimal("1000")),
        ("₹\u00a01,00,00,000.5", Decimal("10000000.5")),
        (" ₹0.01 ", Decimal("0.01")),
        ("Rs. 450", Decimal("450")),
        ("-₹5.00", Decimal("-5.00")),
        ("₹-5.00", Decimal("-5.00")),
        ("INR 1,250.5", Decimal("1250.5")),
    ],
)
def test_parse_amount(text: str, expected: Decimal) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize(
    "text", ["", "₹", "abc", "₹1,2,3", "1.2.3", "₹ 12 34", "$100", "1e5", "--5", "-₹-5"]
)
def test_parse_amount_rejects_garbage_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match="amount") as info:
        parse_amount(text)
    assert repr(text) in str(info.value)


@given(st.decimals(min_value=0, max_value=Decimal("99999999999.99"), places=2))
def test_indian_grouping_round_trips(value: Decimal) -> None:
    assert parse_amount("₹" + indian(value)) == value
    assert parse_amount("₹\u00a0" + indian(value)) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15 Jan 2026, 09:16:46 PM", datetime(2026, 1, 15, 15, 46, 46, tzinfo=UTC)),
        ("15/01/2026 21:16:46", datetime(2026, 1, 15, 15, 46, 46, tzinfo=UTC)),
        ("01 Jan 2026, 12:10:00 AM", datetime(2025, 12, 31, 18, 40, tzinfo=UTC)),
        ("2026-01-15T21:16:46", datetime(2026, 1, 15, 15, 46, 46, tzinfo=UTC)),
        ("2026-01-15T21:16:46+05:30", datetime(2026, 1, 15, 15, 46, 46, tzinfo=UTC)),
        ("2026-01-15T15:46:46Z", datetime(2026, 1, 15, 15, 46, 46, tzinfo=UTC)),
        ("15 Jan 2026, 09:16:46 PM IST", datetime(2026, 1, 15, 15, 46, 46, tzinfo=UTC)),
    ],
)
def test_parse_ist_datetime(text: str, expected: datetime) -> None:
    parsed = parse_ist_datetime(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["", "yesterday", "32/01/2026 10:00:00", "15 Foo 2026, 09:16:46 PM"]
)
def test_parse_ist_datetime_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_ist_datetime(text)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_both_dashboard_formats_agree(moment: datetime) -> None:
    moment = moment.replace(microsecond=0)
    local = moment.replace(tzinfo=UTC).astimezone(IST)
    a = parse_ist_datetime(local.strftime("%d %b %Y, %I:%M:%S %p"))
    b = parse_ist_datetime(local.strftime("%d/%m/%Y %H:%M:%S"))
    assert a == b == moment.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Success", Status.SUCCESS), ("SUCCESS", Status.SUCCESS), ("Failed", Status.FAILED),
        ("FAILED", Status.FAILED), ("Tampered", Status.FAILED), ("Expired", Status.FAILED),
        ("Initiated", Status.PENDING), ("INITIATED", Status.PENDING), ("Pending", Status.PENDING),
        ("In Process", Status.PENDING), ("in  process", Status.PENDING),
        ("IN_PROCESS", Status.PENDING), ("Incomplete", Status.PENDING),
        ("Refunded", Status.REFUNDED), ("Cb_Refunded", Status.REFUNDED),
        (" cb refunded ", Status.REFUNDED), ("Disputed", Status.PENDING),
    ],
)  # fmt: skip
def test_normalize_status(raw: str, status: Status) -> None:
    assert STATUSES.status(raw) is status
    assert STATUSES.is_known(raw) is (raw != "Disputed")


def test_payin_from_the_json_reader() -> None:
    txn = normalize_payin(PAYIN, MAP)
    assert (txn.source, txn.source_id, txn.direction) == (
        Source.PAYSHACK,
        "payin:PI100",
        Direction.PAYIN,
    )
    assert txn.amount == Decimal("1500.5") and txn.paid_amount == Decimal("1500.5")
    assert txn.fee == Decimal("27.01")
    assert (txn.status, txn.original_status) == (Status.SUCCESS, "SUCCESS")
    assert txn.order_id == txn.match_key == "91g_abc"
    assert txn.client_operation_id is None
    assert (txn.project, txn.merchant_id, txn.currency) == ("91game", "CL1", "INR")
    assert (txn.utr, txn.user_id, txn.payment_method) == ("920386407697", "asha@ybl", "UPI_INTENT")
    assert txn.created_at == datetime(2026, 1, 15, 15, 46, 20, tzinfo=UTC)
    assert txn.completed_at == txn.updated_at == datetime(2026, 1, 15, 15, 46, 50, tzinfo=UTC)


def test_dashboard_row_gives_the_same_transaction() -> None:
    shown = {
        **PAYIN,
        "amount": "₹1,500.50",
        "paidAmount": "₹ 1,500.50",
        "totalCommissionAmount": "₹27.01",
        "createdAt": "15 Jan 2026, 09:16:20 PM",
        "modifiedAt": "15/01/2026 21:16:50",
    }
    a, b = normalize_payin(PAYIN, MAP), normalize_payin(shown, MAP)
    assert a.data_hash == b.data_hash
    assert (a.amount, a.created_at, a.updated_at) == (b.amount, b.created_at, b.updated_at)


def test_payout_fields_and_unmapped_client() -> None:
    row = {**PAYIN, "txnId": "PO7", "clientName": "OTHER", "beneName": "R Kumar",
           "beneAccount": "001122", "beneIfsc": "HDFC0001", "txnCharges": 5, "netAmount": 1495.5,
           "utr": "", "txnStatus": "Pending", "paidAmount": None}  # fmt: skip
    del row["totalCommissionAmount"]
    txn = normalize_payout(row, MAP)
    assert (txn.source_id, txn.direction, txn.project) == ("payout:PO7", Direction.PAYOUT, None)
    assert (txn.fee, txn.user_name, txn.user_id) == (Decimal(5), "R Kumar", "001122")
    assert (txn.utr, txn.paid_amount, txn.completed_at) == (None, None, None)
    assert txn.status is Status.PENDING


def test_default_map_comes_from_settings() -> None:
    assert normalize_payin(PAYIN).project == "91game"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"txnId": None}, "txnId"),
        ({"amount": None}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": True}, "amount"),
        ({"txnStatus": ""}, "txnStatus"),
        ({"createdAt": None}, "createdAt"),
        ({"createdAt": "soon"}, "createdAt"),
        ({"paidAmount": "x"}, "paidAmount"),
    ],
)
def test_malformed_rows_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedRecord) as info:
        normalize_payin({**PAYIN, **change}, MAP)
    assert info.value.field == field


def test_times_are_utc_and_ordered() -> None:
    txn = normalize_payin(PAYIN, MAP)
    assert txn.updated_at - txn.created_at == timedelta(seconds=30)
