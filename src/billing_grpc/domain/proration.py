"""Proration of base fees: the share of a period that a part of it covers, by second or by day.

Every prorated amount is `fee * covered / total`, one division of exact integers: `total` is the
number of steps (seconds or days) of the whole period P, `covered` those a part [a, b) of it
covers, `left(P, a) - left(P, b)`, where `left(P, t)` counts the steps of P left at t:

- by second (Stripe): whole seconds left over P's seconds; a moment counts from the start of its
  second, so every moment within one second prorates alike;
- by day (Lago, Kill Bill): started days left over P's days, so the day of a change counts as
  left (it is billed on the plan changed to, never on both).

Shares of parts that tile a period sum to exactly 1, so the prorated parts of a fee sum to the
whole fee before rounding, and each line is rounded half-up once (within one minor unit per
part after). Half-up rounds away from zero, so a credit is exactly the negation of the charge it
undoes: A → B → A within one second nets to zero.

The whole period is the cycle's period, not a shortened one: a stub [Apr 6, May 1) of a monthly
cycle anchored on the 1st is 25/30 of [Apr 1, May 1), and a change inside that stub prorates
over the same 30 days (see `Subscription.whole_period`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from billing_grpc.domain.clock import ensure_utc
from billing_grpc.domain.invoicing import InvoiceLine, base_fee_line
from billing_grpc.domain.money import round_minor
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.plan_terms import ProrationUnit

PRORATION = "proration"
_SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)


class ProrationBehavior(StrEnum):
    """What a plan change does with its proration lines (Stripe's proration_behavior)."""

    CREATE_PRORATIONS = "create_prorations"  # onto the next invoice
    ALWAYS_INVOICE = "always_invoice"  # onto an invoice issued now
    NONE = "none"  # no proration at all


def remaining_fraction(period: Period, at: datetime, unit: ProrationUnit = ProrationUnit.SECOND) -> Decimal:
    """The exact part of `period` left at `at` (0 at or after its end, 1 at or before its start)."""
    remaining, total = _steps_left(period, at, unit)
    return Decimal(remaining) / Decimal(total)


def _steps_left(period: Period, at: datetime, unit: ProrationUnit) -> tuple[int, int]:
    """The steps (seconds or days) of `period` left at `at`, and all its steps."""
    at = ensure_utc(at).replace(microsecond=0)
    step = _DAY if unit is ProrationUnit.DAY else _SECOND
    total = _started(period.duration, step)
    return min(_started(max(period.end - at, timedelta(0)), step), total), total


def steps_covered(period: Period, part: Period, unit: ProrationUnit) -> tuple[int, int]:
    """The steps (seconds or days) of `period` that `part` covers, and all its steps."""
    left_at_start, total = _steps_left(period, part.start, unit)
    left_at_end, _ = _steps_left(period, part.end, unit)
    return left_at_start - left_at_end, total


def _prorated(plan: Plan, steps: int, total: int) -> Decimal:
    """`steps` of `total` of the plan's fee: one division of exact integers, so a half is exactly a half."""
    return Decimal(plan.base_fee.amount_minor * steps) / Decimal(total)


def _started(length: timedelta, step: timedelta) -> int:
    """How many steps `length` starts (a part of a step counts as one)."""
    whole, rest = divmod(length, step)
    return whole + (1 if rest else 0)


def credit_line(plan: Plan, period: Period, at: datetime) -> InvoiceLine | None:
    """The credit for the unused part of `plan`'s base fee from `at` to the period's end (None: nothing)."""
    exact = -_prorated(plan, *_steps_left(period, at, plan.proration_unit))
    return _line(f"Unused time on {plan.name} after {_when(at)}", exact, _clip(at, period), period.end)


def charge_line(plan: Plan, period: Period, at: datetime) -> InvoiceLine | None:
    """The charge for the remaining part of `plan`'s base fee from `at` to the period's end (None: nothing)."""
    exact = _prorated(plan, *_steps_left(period, at, plan.proration_unit))
    return _line(f"Remaining time on {plan.name} after {_when(at)}", exact, _clip(at, period), period.end)


def used_line(plan: Plan, period: Period, since: datetime, at: datetime) -> InvoiceLine | None:
    """The charge for the used part [since, at) of `plan`'s base fee billed in arrears (None: nothing)."""
    start, end = _clip(since, period), _clip(at, period)
    if not start < end:
        return None
    exact = _prorated(plan, *steps_covered(period, Period(start, end), plan.proration_unit))
    return _line(f"Used time on {plan.name} until {_when(at)}", exact, start, end)


def period_fee_line(plan: Plan, part: Period, whole: Period) -> InvoiceLine | None:
    """`plan`'s base fee for `part` of the period `whole`: the whole fee, or its prorated share.

    A shortened period (a stub up to a billing anchor, the served part of a canceled period)
    bills its share of the whole period's fee; a whole period bills the fee as it is.
    """
    if part == whole:
        return base_fee_line(plan, whole)
    exact = _prorated(plan, *steps_covered(whole, part, plan.proration_unit))
    if exact == 0:
        return None
    days = ""
    if plan.proration_unit is ProrationUnit.DAY:
        days = ", {} of {} days".format(*steps_covered(whole, part, ProrationUnit.DAY))
    return InvoiceLine(
        kind="base_fee",
        description=f"{plan.name} base fee, prorated from {_when(part.start)} to {_when(part.end)}{days}",
        meter_code="",
        quantity=Decimal(1),
        unit_amount=exact,
        amount_minor=round_minor(exact),
        period=part,
    )


def change_lines(
    old: Plan,
    new: Plan,
    period: Period,
    at: datetime,
    since: datetime | None = None,
    prorate_advance: bool = True,
) -> list[InvoiceLine]:
    """The proration lines of changing from `old` to `new` at `at` within the whole period `period`.

    The old plan's fee: in advance, its unused part is credited; in arrears, its used part since
    `since` (its segment's start, default the period's) is charged, always: time served is never
    billed twice nor left unbilled. The new plan's fee: in advance, its remaining part is
    charged now; in arrears, nothing yet (the period's close bills the time it serves).
    `prorate_advance` False (Stripe's `proration_behavior=none`) leaves advance fees alone.
    """
    leaving = None
    if old.in_arrears:
        leaving = used_line(old, period, since or period.start, at)
    elif prorate_advance:
        leaving = credit_line(old, period, at)
    joining = charge_line(new, period, at) if prorate_advance and not new.in_arrears else None
    return [line for line in (leaving, joining) if line is not None]


def _line(description: str, exact: Decimal, start: datetime, end: datetime) -> InvoiceLine | None:
    if exact == 0:  # nothing left of the period (or a free plan): no line
        return None
    # The service period is the part of the period the line is for.
    service = Period(start, end)
    return InvoiceLine(
        kind=PRORATION,
        description=description,
        meter_code="",
        quantity=Decimal(1),
        unit_amount=exact,
        amount_minor=round_minor(exact),
        period=service,
    )


def _clip(at: datetime, period: Period) -> datetime:
    return min(max(ensure_utc(at), period.start), period.end)


def _when(at: datetime) -> str:
    return ensure_utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")
