"""Which base fees an invoice bills: a coming period's in advance, the time served in arrears.

A plan bills its fee in advance (at the start of the period it pays for) or in arrears (at its
end, for the time served). Either way a period shortened by the billing anchor bills its
prorated share of the cycle's whole period, unless the subscription chose no charge until the
anchor (Stripe's `proration_behavior=none`). Arrears fees left mid-period by a plan change are
billed by the change itself (`proration.change_lines`); the close bills the last plan's part.
"""

from __future__ import annotations

from datetime import datetime

from billing_grpc.domain import periods
from billing_grpc.domain.invoicing import InvoiceLine
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.proration import ProrationBehavior, period_fee_line


def advance_fee_line(
    plan: Plan, period: Period, anchor: datetime, stub_proration: ProrationBehavior
) -> InvoiceLine | None:
    """`plan`'s fee in advance for the coming `period` of the cycle anchored on `anchor` (None: nothing now)."""
    if plan.in_arrears:
        return None
    whole = periods.whole_period(anchor, plan.interval, period)
    if whole != period and stub_proration is ProrationBehavior.NONE:
        return None
    return period_fee_line(plan, period, whole)


def arrears_fee_line(plan: Plan, served: Period, whole: Period) -> InvoiceLine | None:
    """`plan`'s fee in arrears for the time `served` of the whole period `whole` (None: nothing)."""
    return period_fee_line(plan, served, whole) if plan.in_arrears else None


def closing_fee_lines(
    plan: Plan,
    served: Period | None,
    whole: Period,
    next_plan: Plan,
    following: Period | None,
    next_anchor: datetime,
    stub_proration: ProrationBehavior,
) -> list[InvoiceLine]:
    """The base fees a period's close bills: `plan`'s for the time it `served` (None: a free period), then the next.

    `whole` is the cycle's period the closed one is part of; `following` the period the
    subscription moves into (None: it ends), on `next_plan`, in the cycle anchored on `next_anchor`.
    """
    lines = [arrears_fee_line(plan, served, whole) if served is not None else None]
    if following is not None:
        lines.append(advance_fee_line(next_plan, following, next_anchor, stub_proration))
    return [line for line in lines if line is not None]
