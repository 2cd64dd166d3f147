"""The demo's invoice tables: exact money in major units, whatever the currency's exponent."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.v1 import billing_pb2, usage_pb2
from billing_grpc.cli.remote import timestamp
from billing_grpc.demo.tables import invoice_table, money, quantity, unit_price


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_money_is_shown_in_major_units_with_the_currencys_decimals() -> None:
    assert money(123456, "USD") == "USD 1,234.56"
    assert money(500, "JPY") == "JPY 500"
    assert money(-1500, "KWD") == "KWD -1.500"
    assert money(1234567, "IQD") == "IQD 1,234.567"
    assert money(1234, "CLF") == "CLF 0.1234"
    assert money(123456, "HUF") == "HUF 1,234.56"


def test_unit_prices_keep_every_decimal_they_have() -> None:
    assert unit_price("4900", "USD") == "49.00"
    assert unit_price("0.1", "USD") == "0.001"
    assert unit_price("0.16666666666667", "USD") == "0.0016666666666667"


def test_quantities_read_with_separators() -> None:
    assert quantity("150000") == "150,000"
    assert quantity("2.50") == "2.5"


def test_an_invoice_table_shows_its_lines_total_status_and_payments() -> None:
    line = usage_pb2.InvoiceLine(
        kind="usage",
        description="api_calls usage",
        quantity="60000",
        unit_amount="0.08333333333333",
        amount_minor=5000,
        period_start=timestamp(at(2, 1)),
        period_end=timestamp(at(3, 1)),
    )
    invoice = billing_pb2.Invoice(
        number="ACME-0003",
        status="open",
        currency="USD",
        lines=[line],
        total_minor=5000,
        amount_due_minor=5000,
        amount_remaining_minor=5000,
        issued_at=timestamp(at(3, 1)),
    )
    declined = billing_pb2.Payment(
        attempt=1,
        amount_minor=5000,
        currency="USD",
        status="failed",
        failure_code="card_declined",
        started_at=timestamp(at(3, 1, 10)),
    )

    table = invoice_table(invoice, [declined]).splitlines()

    assert table[0] == "Invoice ACME-0003  issued 2026-03-01"
    assert table[1].split() == ["Line", "Service", "period", "Quantity", "Unit", "price", "Amount"]
    assert table[3].split() == [
        "api_calls",
        "usage",
        "2026-02-01",
        "→",
        "2026-03-01",
        "60,000",
        "0.0008333333333333",
        "USD",
        "50.00",
    ]
    assert table[5].split() == ["Total", "USD", "50.00"]
    assert table[6] == "  Status: open, USD 0.00 paid, USD 50.00 remaining"
    assert table[7] == "  Payment #1: 2026-03-01 10:00  USD 50.00  failed (card_declined)"


def test_a_credited_paid_invoice_shows_the_credit_the_amount_due_and_nothing_remaining() -> None:
    line = usage_pb2.InvoiceLine(
        kind="base_fee",
        description="Pro base fee",
        quantity="1",
        unit_amount="3420",
        amount_minor=3420,
        period_start=timestamp(at(2, 1)),
        period_end=timestamp(at(3, 1)),
    )
    invoice = billing_pb2.Invoice(
        number="ACME-0002",
        status="paid",
        currency="USD",
        lines=[line],
        total_minor=3420,
        credit_applied_minor=1000,
        amount_due_minor=2420,
        amount_paid_minor=2420,
        amount_remaining_minor=0,
        issued_at=timestamp(at(2, 1)),
    )

    table = invoice_table(invoice, []).splitlines()

    assert table[3].split()[-2:] == ["USD", "34.20"]
    assert [row.split()[-2:] for row in table[5:8]] == [["USD", "34.20"], ["USD", "-10.00"], ["USD", "24.20"]]
    assert [row.split()[0] for row in table[5:8]] == ["Total", "Credit", "Amount"]
    assert table[8] == "  Status: paid, USD 24.20 paid"
