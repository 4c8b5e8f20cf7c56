"""The PayShack dashboard in real Chromium (Playwright): login, tables, paging, expiry."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from hub_sandbox.payshack import PAYIN_PATH, PAYOUT_PATH
from hub_sandbox.server import SandboxHandle

from .conftest import SandboxFactory

IST = timedelta(hours=5, minutes=30)
LOADED = '#txn-table[data-state="loaded"]'
PAYIN_HEADERS = [
    "Order ID",
    "Transaction ID",
    "SP Txn ID",
    "UTR",
    "Amount",
    "Paid Amount",
    "Commission",
    "Status",
    "Client",
    "Client ID",
    "Type",
    "Payer VPA",
    "UPI ID",
    "Created",
    "Updated",
]
PAYOUT_EXTRA = ["Charges", "Net Amount", "Bene Name", "Bene Account", "Bene IFSC"]


# ------------------------------------------------------------ reference formatting (Python)


def indian(digits: str) -> str:
    """Indian digit grouping of a string of digits: 1234567 -> 12,34,567."""
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail])


def rupees(value: Any, style: str) -> str:
    if value is None or value == "":
        return "-"
    text = f"{Decimal(str(value)):.2f}"
    whole, frac = text.split(".")
    if style == "compact" and frac == "00":
        return "₹" + indian(whole)
    grouped = f"{indian(whole)}.{frac}"
    return "₹ " + grouped if style == "spaced" else "₹" + grouped


def ist(iso: str) -> datetime:
    return datetime.fromisoformat(iso) + IST


def expected_cells(row: dict[str, Any], kind: str) -> list[str]:
    def text(name: str) -> str:
        value = row.get(name)
        return "-" if value in (None, "") else str(value)

    cells = [
        text("orderId"),
        text("txnId"),
        text("spTxnId"),
        text("utr"),
        rupees(row["amount"], "compact"),
        rupees(row.get("paidAmount"), "spaced"),
        rupees(row.get("totalCommissionAmount"), "plain"),
    ]
    if kind == "payout":
        cells += [rupees(row["txnCharges"], "plain"), rupees(row["netAmount"], "spaced")]
    cells += [
        text("txnStatus"),
        text("clientName"),
        text("clientId"),
        text("transactionType"),
        text("payerVpa"),
        text("upiId"),
    ]
    if kind == "payout":
        cells += [text("beneName"), text("beneAccount"), text("beneIfsc")]
    cells += [
        ist(row["createdAt"]).strftime("%d %b %Y, %I:%M:%S %p"),
        ist(row["modifiedAt"]).strftime("%d/%m/%Y %H:%M:%S"),
    ]
    return cells


def expected_headers(kind: str) -> list[str]:
    if kind == "payin":
        return PAYIN_HEADERS
    base = PAYIN_HEADERS[:7] + PAYOUT_EXTRA[:2] + PAYIN_HEADERS[7:13] + PAYOUT_EXTRA[2:]
    return base + PAYIN_HEADERS[13:]


# ------------------------------------------------------------ page helpers


def log_in(page: Any, handle: SandboxHandle, password: str | None = None) -> None:
    page.goto(handle.payshack_url + "/login")
    page.fill('#login-form input[name="email"]', handle.email)
    page.fill('#login-form input[name="password"]', password or handle.password)
    page.click('#login-form button[type="submit"]')


def table(page: Any) -> tuple[list[str], list[list[str]]]:
    headers = page.eval_on_selector_all("#txn-table thead th", "ths => ths.map(t => t.textContent)")
    rows = page.eval_on_selector_all(
        "#txn-table tbody tr", "trs => trs.map(r => Array.from(r.cells, c => c.textContent))"
    )
    return headers, rows


def json_page(handle: SandboxHandle, browser_page: Any, path: str, **params: Any) -> dict[str, Any]:
    """The JSON the dashboard's table is built from, fetched with the page's own token."""
    token = browser_page.evaluate("sessionStorage.getItem('ps_token')")
    response = httpx.get(
        handle.payshack_url + path, params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    return response.json()["data"]


def wait_rows(page: Any, count: int, page_no: int) -> None:
    page.wait_for_function(
        """([count, pageNo]) => {
            const t = document.querySelector('#txn-table');
            return t.dataset.state === 'loaded' && t.dataset.page === String(pageNo)
                && t.tBodies[0].rows.length === count;
        }""",
        arg=[count, page_no],
    )


# ------------------------------------------------------------ tests


def test_wrong_password_shows_the_error_and_stays_on_login(
    sandbox: SandboxHandle, page: Any
) -> None:
    log_in(page, sandbox, password="not-the-password")
    alert = page.wait_for_selector(".alert.alert-error[role=alert]")
    assert alert.text_content() == "Invalid email or password"
    assert page.url.endswith("/login")
    assert page.evaluate("sessionStorage.getItem('ps_token')") is None
    page.goto(sandbox.payshack_url + "/dashboard")  # no session: back to the login form
    page.wait_for_url("**/login")
    assert page.is_visible("#login-form")
    assert sandbox.stats()["payshack"]["login_failures"] == 1


def test_login_shows_payins_with_rupees_and_ist_times_matching_the_json(
    sandbox: SandboxHandle, page: Any
) -> None:
    log_in(page, sandbox)
    page.wait_for_url("**/dashboard#payin*")
    page.wait_for_selector(LOADED)
    assert page.is_hidden("#loading")
    headers, rows = table(page)
    data = json_page(sandbox, page, PAYIN_PATH, page=1, limit=10)
    assert headers == expected_headers("payin")
    assert len(rows) == 10
    assert rows == [expected_cells(row, "payin") for row in data["transactions"]]
    amounts = [row[4] for row in rows]
    assert all(cell.startswith("₹") for cell in amounts)
    assert page.text_content("#page-info") == f"Page 1 of {data['totalPages']}"
    assert page.text_content("#total-records") == f"Total records: {data['totalRecords']}"
    ids = page.eval_on_selector_all("#txn-table tbody tr", "trs => trs.map(r => r.dataset.txnId)")
    assert ids == [row["txnId"] for row in data["transactions"]]


def test_formatting_of_amounts_and_times(sandbox: SandboxHandle, page: Any) -> None:
    page.goto(sandbox.payshack_url + "/login")
    checks = {
        "PayShack.formatINR(123456.78, 'compact')": "₹1,23,456.78",
        "PayShack.formatINR(100, 'compact')": "₹100",
        "PayShack.formatINR(100.5, 'compact')": "₹100.50",
        "PayShack.formatINR(2500, 'spaced')": "₹ 2,500.00",
        "PayShack.formatINR('12345678.9', 'plain')": "₹1,23,45,678.90",
        "PayShack.formatINR(0.07, 'plain')": "₹0.07",
        "PayShack.formatINR(null, 'plain')": "-",
        "PayShack.formatCreated('2026-01-15T15:46:46.000Z')": "15 Jan 2026, 09:16:46 PM",
        "PayShack.formatCreated('2026-01-15T06:30:00.000Z')": "15 Jan 2026, 12:00:00 PM",
        "PayShack.formatCreated('2026-01-15T18:30:00.000Z')": "16 Jan 2026, 12:00:00 AM",
        "PayShack.formatModified('2026-01-15T15:46:46.000Z')": "15/01/2026 21:16:46",
    }
    for expression, expected in checks.items():
        assert page.evaluate(expression) == expected, expression
    assert rupees(123456.78, "compact") == "₹1,23,456.78"  # the reference agrees


def test_page_size_100_and_next_page(sandbox: SandboxHandle, page: Any) -> None:
    log_in(page, sandbox)
    page.wait_for_selector(LOADED)
    page.select_option("#page-size", "100")
    wait_rows(page, 100, 1)
    first = json_page(sandbox, page, PAYIN_PATH, page=1, limit=100)
    assert table(page)[1] == [expected_cells(row, "payin") for row in first["transactions"]]
    assert page.is_disabled("#prev-page")
    page.click("#next-page")
    second = json_page(sandbox, page, PAYIN_PATH, page=2, limit=100)
    wait_rows(page, len(second["transactions"]), 2)
    assert table(page)[1] == [expected_cells(row, "payin") for row in second["transactions"]]
    assert page.text_content("#page-info") == f"Page 2 of {second['totalPages']}"
    page.click("#prev-page")
    wait_rows(page, 100, 1)


def test_payout_view_and_filters(sandbox: SandboxHandle, page: Any) -> None:
    log_in(page, sandbox)
    page.wait_for_selector(LOADED)
    page.click("#tab-payout")
    page.wait_for_selector('#txn-table[data-view="payout"][data-state="loaded"]')
    headers, rows = table(page)
    assert headers == expected_headers("payout")
    data = json_page(sandbox, page, PAYOUT_PATH, page=1, limit=10)
    assert rows == [expected_cells(row, "payout") for row in data["transactions"]]

    day = ist(data["transactions"][0]["createdAt"]).date().isoformat()
    page.fill("#date-from", day)
    page.fill("#date-to", day)
    page.select_option("#status-filter", "SUCCESS")
    page.click("#apply-filters")
    filtered = json_page(
        sandbox, page, PAYOUT_PATH, page=1, limit=10, dateFrom=day, dateTo=day, status="SUCCESS"
    )
    assert 0 < filtered["totalRecords"] < data["totalRecords"]
    page.wait_for_function(
        "t => document.querySelector('#txn-table').dataset.total === t",
        arg=str(filtered["totalRecords"]),
    )
    page.wait_for_selector(LOADED)
    assert table(page)[1] == [expected_cells(row, "payout") for row in filtered["transactions"]]
    statuses = {row[9].lower() for row in table(page)[1]}
    assert statuses == {"success"}


def test_the_url_deep_links_to_a_view_page_and_filters(sandbox: SandboxHandle, page: Any) -> None:
    log_in(page, sandbox)
    page.wait_for_selector(LOADED)
    everything = json_page(sandbox, page, PAYOUT_PATH, page=1, limit=100)["transactions"]
    days = Counter(ist(row["createdAt"]).date().isoformat() for row in everything)
    day = days.most_common(1)[0][0]
    assert days[day] > 10
    link = f"#payout?page=2&limit=10&dateFrom={day}&dateTo={day}"
    page.goto(sandbox.payshack_url + "/dashboard" + link)
    expected = json_page(sandbox, page, PAYOUT_PATH, page=2, limit=10, dateFrom=day, dateTo=day)[
        "transactions"
    ]
    assert expected
    wait_rows(page, len(expected), 2)
    assert table(page)[1] == [expected_cells(row, "payout") for row in expected]
    assert page.input_value("#date-from") == day and page.input_value("#page-size") == "10"
    page.click("#prev-page")
    wait_rows(page, 10, 1)
    assert "page=1" in page.url and f"dateFrom={day}" in page.url  # the URL follows the view
    before = sandbox.stats()["payshack"]["requests"]["payout"]
    page.reload()
    wait_rows(page, 10, 1)
    assert sandbox.stats()["payshack"]["requests"]["payout"] == before + 1  # one request


def test_expired_token_sends_the_page_back_to_login(
    make_sandbox: SandboxFactory, page: Any
) -> None:
    with make_sandbox(token_ttl=1.5) as handle:
        log_in(page, handle)
        page.wait_for_selector(LOADED)
        time.sleep(1.6)
        page.click("#next-page")
        page.wait_for_url("**/login?expired=1")
        alert = page.wait_for_selector(".alert[role=alert]")
        assert alert.text_content() == "Session expired, please log in again"
        assert page.evaluate("sessionStorage.getItem('ps_token')") is None
        assert handle.stats()["payshack"]["rejected_tokens"] == 1
        log_in(page, handle)  # logging in again works
        page.wait_for_selector(LOADED)
