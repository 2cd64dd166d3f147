"""Invoice lines from a plan and a period's usage: the base fee in advance, usage in arrears.

Each line is priced exactly and rounded once (half-up to the minor unit); the invoice total is
the sum of the rounded lines, so every line on paper adds up to the total on paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_grpc.domain.meter import Aggregation
from billing_grpc.domain.money import divide, format_decimal, to_places
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.pricing import PriceLine, UsageTotals, price

# Exact unit amounts can have long expansions (a tier total divided by a quantity); keep 12 places.
# The unit amount is shown, not billed: a line's amount comes from its exact total.
UNIT_AMOUNT_PLACES = 12


@dataclass(frozen=True)
class MeterUsage:
    """A period's aggregated usage of one meter."""

    aggregation: Aggregation
    event_count: int
    total: Decimal  # sum of quantities
    maximum: Decimal | None
    latest: Decimal | None
    unique_count: int
    # Each event's amount in time order, read only for a charge priced per transaction.
    transactions: tuple[Decimal, ...] | None = None

    @property
    def quantity(self) -> Decimal:
        """The one quantity the meter's aggregation makes of the period."""
        match self.aggregation:
            case Aggregation.SUM:
                return self.total
            case Aggregation.COUNT:
                return Decimal(self.event_count)
            case Aggregation.MAX:
                return self.maximum or Decimal(0)
            case Aggregation.UNIQUE_COUNT:
                return Decimal(self.unique_count)
            case Aggregation.LATEST:
                return self.latest or Decimal(0)


@dataclass(frozen=True)
class InvoiceLine:
    """One priced line: what, how many, at what unit amount, for which service period."""

    kind: str  # "base_fee" or "usage"
    description: str
    meter_code: str
    quantity: Decimal
    unit_amount: Decimal  # exact, in minor units (may be fractional)
    amount_minor: int
    period: Period
    breakdown: tuple[PriceLine, ...] = ()


def base_fee_line(plan: Plan, period: Period) -> InvoiceLine:
    """The plan's base fee for `period`, charged in advance."""
    return InvoiceLine(
        kind="base_fee",
        description=f"{plan.name} base fee",
        meter_code="",
        quantity=Decimal(1),
        unit_amount=Decimal(plan.base_fee.amount_minor),
        amount_minor=plan.base_fee.amount_minor,
        period=period,
    )


def usage_lines(plan: Plan, usage: Mapping[str, MeterUsage], period: Period) -> list[InvoiceLine]:
    """One line per charge of the plan for `period`'s usage (charges with minimums bill even at zero)."""
    lines = []
    zero = Decimal(0)
    for charge in plan.charges:
        metered = usage.get(charge.meter_code)
        # Corrections may take a sum or latest meter below zero; a usage charge never pays out,
        # so a negative period quantity is priced as none.
        totals = UsageTotals(
            quantity=max(metered.quantity, zero) if metered else zero,
            event_count=metered.event_count if metered else 0,
            amount_sum=max(metered.total, zero) if metered else zero,
            transactions=(metered.transactions if metered else None) if charge.per_transaction else None,
        )
        result = price(charge, totals)
        if not result.lines:
            continue
        unit = divide(result.amount, totals.quantity) if totals.quantity else result.amount
        lines.append(
            InvoiceLine(
                kind="usage",
                description=f"{charge.meter_code} usage",
                meter_code=charge.meter_code,
                quantity=totals.quantity,
                unit_amount=unit,
                amount_minor=result.amount_minor,
                period=period,
                breakdown=result.lines,
            )
        )
    return lines


def total_minor(lines: list[InvoiceLine]) -> int:
    """The invoice total: the sum of the already rounded lines."""
    return sum(line.amount_minor for line in lines)


def line_to_dict(line: InvoiceLine) -> dict[str, Any]:
    """An invoice line in its stored form: decimals as canonical strings, times as datetimes."""
    return {
        "kind": line.kind,
        "description": line.description,
        "meter_code": line.meter_code,
        "quantity": format_decimal(line.quantity),
        "unit_amount": format_decimal(to_places(line.unit_amount, UNIT_AMOUNT_PLACES)),
        "amount_minor": line.amount_minor,
        "period_start": line.period.start,
        "period_end": line.period.end,
        "breakdown": [
            {
                "description": step.description,
                "quantity": format_decimal(step.quantity),
                "unit_price": format_decimal(step.unit_price),
                "flat_fee": format_decimal(step.flat_fee),
                "amount": format_decimal(step.amount),
            }
            for step in line.breakdown
        ],
    }


def stored_total(lines: list[dict[str, Any]]) -> int:
    """The total of stored lines: the sum of their rounded amounts."""
    return sum(int(line["amount_minor"]) for line in lines)
