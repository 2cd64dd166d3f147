"""Invoices as plain-text tables: lines with quantity, unit price and amount, the total, the payments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from billing.v1 import billing_pb2, usage_pb2
from billing_grpc.cli.remote import moment_of
from billing_grpc.domain.money import currency_exponent

HEADERS = ("Line", "Service period", "Quantity", "Unit price", "Amount")


def money(amount_minor: int, currency: str) -> str:
    """`USD 1,234.56` for 123456 minor units."""
    exponent = currency_exponent(currency)
    return f"{currency} {Decimal(amount_minor).scaleb(-exponent):,.{exponent}f}"


def unit_price(unit_amount_minor: str, currency: str) -> str:
    """An exact unit price in major units, with as many decimals as it has (at least the currency's)."""
    exponent = currency_exponent(currency)
    value = Decimal(unit_amount_minor).scaleb(-exponent)
    _, _, fraction = format(value.normalize(), "f").partition(".")
    decimals = max(exponent, len(fraction))
    return f"{value:,.{decimals}f}"


def quantity(text: str) -> str:
    """A decimal quantity with thousands separators."""
    value = Decimal(text)
    return f"{value:,}" if value == value.to_integral_value() else f"{value.normalize():,f}"


def count(number: int, noun: str) -> str:
    """`1 invoice`, `2 invoices`."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def day(moment: datetime) -> str:
    """A date, for periods."""
    return moment.strftime("%Y-%m-%d")


def minute(moment: datetime) -> str:
    """A date and time to the minute, for events."""
    return moment.strftime("%Y-%m-%d %H:%M")


def invoice_table(invoice: billing_pb2.Invoice, payments: Sequence[billing_pb2.Payment]) -> str:
    """The invoice as a table (credit applied and amount due under the total), its status, and every payment."""
    currency = invoice.currency
    rows = [_row(line, currency) for line in invoice.lines]
    rows.append(("Total", "", "", "", money(invoice.total_minor, currency)))
    if invoice.credit_applied_minor:  # what credit took off the total, then what was asked for
        rows.append(("Credit applied", "", "", "", money(-invoice.credit_applied_minor, currency)))
        rows.append(("Amount due", "", "", "", money(invoice.amount_due_minor, currency)))
    figures = len(rows) - len(invoice.lines)
    widths = [max(len(row[i]) for row in [HEADERS, *rows]) for i in range(len(HEADERS))]

    def render(row: Sequence[str]) -> str:
        # Text columns left-aligned, figures right-aligned.
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        return "  " + "  ".join(cells).rstrip()

    rule = "  " + "-" * (sum(widths) + 2 * (len(widths) - 1))
    issued = day(moment_of(invoice.issued_at))
    remaining = invoice.amount_remaining_minor
    owed = f", {money(remaining, currency)} remaining" if remaining else ""
    lines = [
        f"Invoice {invoice.number or '(draft)'}  issued {issued}",
        render(HEADERS),
        rule,
        *(render(row) for row in rows[:-figures]),
        rule,
        *(render(row) for row in rows[-figures:]),
        f"  Status: {invoice.status}, {money(invoice.amount_paid_minor, currency)} paid{owed}",
    ]
    lines.extend(_payment(payment) for payment in payments)
    return "\n".join(lines)


def _row(line: usage_pb2.InvoiceLine, currency: str) -> tuple[str, str, str, str, str]:
    period = f"{day(moment_of(line.period_start))} → {day(moment_of(line.period_end))}"
    return (
        line.description,
        period,
        quantity(line.quantity),
        unit_price(line.unit_amount, currency),
        money(line.amount_minor, currency),
    )


def _payment(payment: billing_pb2.Payment) -> str:
    outcome = payment.status + (f" ({payment.failure_code})" if payment.failure_code else "")
    when = minute(moment_of(payment.started_at))
    return f"  Payment #{payment.attempt}: {when}  {money(payment.amount_minor, payment.currency)}  {outcome}"
