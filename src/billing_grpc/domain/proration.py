"""Proration of base fees at a plan change or an early cancellation, to the second (as Stripe does).

Over the current period [start, end), a change at `at` credits the unused part of the old plan's
base fee (-old_fee * remaining / total) and charges the remaining part of the new plan's
(new_fee * remaining / total). `remaining` and `total` are whole seconds, the fraction is exact
(Decimal), and each line is rounded half-up once. Half-up rounds away from zero, so a credit is
exactly the negation of the charge it undoes: A → B → A within one second nets to zero.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from billing_grpc.domain.clock import ensure_utc
from billing_grpc.domain.invoicing import InvoiceLine
from billing_grpc.domain.money import round_minor
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan

PRORATION = "proration"
_SECOND = timedelta(seconds=1)


class ProrationBehavior(StrEnum):
    """What a plan change does with its proration lines (Stripe's proration_behavior)."""

    CREATE_PRORATIONS = "create_prorations"  # onto the next invoice
    ALWAYS_INVOICE = "always_invoice"  # onto an invoice issued now
    NONE = "none"  # no proration at all


def remaining_fraction(period: Period, at: datetime) -> Decimal:
    """The exact part of `period` left at `at`, in whole seconds (0 at or after its end, 1 at or before its start)."""
    # A change counts from the start of its second, so every moment within one second prorates alike.
    at = ensure_utc(at).replace(microsecond=0)
    total = period.duration // _SECOND
    remaining = min(max((period.end - at) // _SECOND, 0), total)
    return Decimal(remaining) / Decimal(total)


def credit_line(plan: Plan, period: Period, at: datetime) -> InvoiceLine | None:
    """The credit for the unused part of `plan`'s base fee from `at` to the period's end (None: nothing)."""
    exact = -Decimal(plan.base_fee.amount_minor) * remaining_fraction(period, at)
    return _line(f"Unused time on {plan.name} after {_when(at)}", exact, period, at)


def charge_line(plan: Plan, period: Period, at: datetime) -> InvoiceLine | None:
    """The charge for the remaining part of `plan`'s base fee from `at` to the period's end (None: nothing)."""
    exact = Decimal(plan.base_fee.amount_minor) * remaining_fraction(period, at)
    return _line(f"Remaining time on {plan.name} after {_when(at)}", exact, period, at)


def change_lines(old: Plan, new: Plan, period: Period, at: datetime) -> list[InvoiceLine]:
    """The proration lines of changing from `old` to `new` at `at`: the credit, then the charge."""
    lines = [credit_line(old, period, at), charge_line(new, period, at)]
    return [line for line in lines if line is not None]


def _line(description: str, exact: Decimal, period: Period, at: datetime) -> InvoiceLine | None:
    if exact == 0:  # nothing left of the period (or a free plan): no line
        return None
    # The service period is the part of the period the line is for: from the change to the end.
    service = Period(max(ensure_utc(at), period.start), period.end)
    return InvoiceLine(
        kind=PRORATION,
        description=description,
        meter_code="",
        quantity=Decimal(1),
        unit_amount=exact,
        amount_minor=round_minor(exact),
        period=service,
    )


def _when(at: datetime) -> str:
    return ensure_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")
