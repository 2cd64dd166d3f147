"""Deciding cycle moves (see `cycle_changes` for the rules): an anchor change, a pause, a resume."""

from __future__ import annotations

from datetime import datetime

from billing_grpc.domain import periods
from billing_grpc.domain.clock import ensure_utc
from billing_grpc.domain.cycle_changes import (
    CycleAnchor,
    SubscriptionAnchorChangeScheduled,
    SubscriptionPaused,
    SubscriptionResumed,
    resumed_period,
)
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.invoicing import line_to_dict
from billing_grpc.domain.periods import add_months
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.proration import ProrationBehavior, credit_line
from billing_grpc.domain.subscription import Subscription, SubscriptionStatus


def schedule_anchor_change(
    sub: Subscription, plan: Plan, anchor: datetime, behavior: ProrationBehavior, now: datetime
) -> list[DomainEvent]:
    """Decide moving the cycle onto `anchor` from the current period's end (nothing if it is a day of the cycle).

    Like a start's billing anchor, it must fall after the current period's end and within one
    whole period of it, so the stub is shorter than a period.
    """
    _require_active(sub, "change its billing anchor")
    current, anchor = sub.current_period, ensure_utc(anchor)
    latest = add_months(current.end, plan.interval.months)
    if not current.end < anchor <= latest:
        violation = FieldViolation("billing_anchor", f"must be after {current.end} and at most {latest}")
        raise InvalidArgument.of(violation, reason="invalid_billing_anchor")
    if periods.period_containing(sub.cycle_anchor, plan.interval, anchor).start == anchor:
        return []  # already a day of the cycle: nothing moves
    if sub.pending_anchor == anchor and sub.pending_stub_proration is behavior:
        return []
    return [
        SubscriptionAnchorChangeScheduled(
            subscription_id=sub.subscription_id, billing_anchor=anchor, stub_proration=behavior, requested_at=now
        )
    ]


def pause_now(sub: Subscription, plan: Plan, now: datetime) -> SubscriptionPaused:
    """Decide pausing now: the period ends here; an advance fee's unused part is credited.

    An arrears fee bills its time served when the paused period closes. A pause at the instant
    the period began ends an empty period: there is nothing to close.
    """
    _require_active(sub, "be paused")
    if sub.pending_anchor is not None or sub.scheduled_plan_id is not None:
        raise FailedPrecondition("change_scheduled", "a plan or billing anchor change waits for the period's end")
    if sub.period_to_close(plan.interval, now) is not None:
        raise FailedPrecondition("period_close_due", "the current period has ended and is being closed; retry shortly")
    credit = None
    if not plan.in_arrears and not sub.base_fee_free(plan.interval):
        credit = credit_line(plan, sub.whole_period(plan.interval), now)
    return SubscriptionPaused(
        subscription_id=sub.subscription_id,
        paused_at=now,
        proration_lines=[line_to_dict(credit)] if credit is not None else [],
    )


def resume_now(
    sub: Subscription,
    plan: Plan,
    anchor: CycleAnchor,
    behavior: ProrationBehavior,
    now: datetime,
    invoice_id: str,
) -> SubscriptionResumed:
    """Decide resuming now: a stub to the next day of the cycle (`unchanged`) or a whole period from now (`now`)."""
    if sub.status is not SubscriptionStatus.PAUSED:
        raise FailedPrecondition("subscription_not_paused", f"subscription {sub.subscription_id} is {sub.status}")
    if sub.period_to_close(plan.interval, now) is not None:
        raise FailedPrecondition("period_close_due", "the paused period is being closed; retry shortly")
    period, cycle_anchor = resumed_period(sub.cycle_anchor, plan.interval, anchor, now)
    return SubscriptionResumed(
        subscription_id=sub.subscription_id,
        resumed_at=now,
        period_start=period.start,
        period_end=period.end,
        cycle_anchor=cycle_anchor,
        stub_proration=behavior,
        invoice_id=invoice_id,
    )


def _require_active(sub: Subscription, what: str) -> None:
    """Refuse a cycle move unless the subscription is active and not ending at the period's end."""
    if sub.status is not SubscriptionStatus.ACTIVE:
        raise FailedPrecondition("subscription_not_active", f"only an active subscription can {what}, not {sub.status}")
    if sub.cancel_at is not None:
        raise FailedPrecondition("change_scheduled", "a cancellation is scheduled for the period's end")
