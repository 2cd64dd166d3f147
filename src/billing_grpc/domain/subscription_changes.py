"""Deciding plan changes: now (with proration) or at the period's end, and what the period close does with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from billing_grpc.domain import billing_alignment
from billing_grpc.domain.cycle_changes import CycleAnchor
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.invoicing import line_to_dict
from billing_grpc.domain.money import CurrencyMismatch
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.plan_change import (
    SubscriptionPlanChanged,
    SubscriptionPlanChangeDropped,
    SubscriptionPlanChangeScheduled,
)
from billing_grpc.domain.proration import ProrationBehavior, change_lines
from billing_grpc.domain.subscription import Subscription, SubscriptionPeriodClosed, SubscriptionStatus


def parse_behavior(text: str) -> ProrationBehavior:
    """The proration behaviour a request names (empty: create_prorations, Stripe's default)."""
    if not text:
        return ProrationBehavior.CREATE_PRORATIONS
    try:
        return ProrationBehavior(text)
    except ValueError:
        allowed = ", ".join(ProrationBehavior)
        raise InvalidArgument.of(FieldViolation("proration_behavior", f"must be one of {allowed}")) from None


def restarts_cycle(current: Plan, target: Plan) -> bool:
    """Whether moving between the plans changes the billing interval (the period then restarts at the change)."""
    return current.interval.months != target.interval.months


def alignment_of(
    sub: Subscription, current: Plan, target: Plan, requested: CycleAnchor | None, at_period_end: bool
) -> CycleAnchor:
    """The billing alignment a change gets (see `billing_alignment.resolve`), refusing one it cannot honour."""
    trialing = sub.status is SubscriptionStatus.TRIALING
    return billing_alignment.resolve(requested, restarts_cycle(current, target), at_period_end, trialing)


def closes_period(sub: Subscription, current: Plan, target: Plan, alignment: CycleAnchor) -> bool:
    """Whether a change now ends the current period at the change: a cycle restart, or a new interval.

    During a trial nothing closes: the trial's end starts the paid cycle on the new plan.
    """
    if sub.status is SubscriptionStatus.TRIALING:
        return False
    return alignment is CycleAnchor.NOW or restarts_cycle(current, target)


def check_change(sub: Subscription, target: Plan, organization_currency: str) -> None:
    """Refuse a change the subscription or the target plan cannot take."""
    if not sub.is_live:
        raise FailedPrecondition("subscription_not_live", f"subscription {sub.subscription_id} is {sub.status}")
    if target.plan_id == sub.plan_id:
        raise FailedPrecondition("plan_unchanged", f"subscription {sub.subscription_id} is on plan {target.plan_id}")
    if target.archived:
        raise FailedPrecondition("plan_archived", f"plan {target.plan_id} is archived and takes no new subscriptions")
    if target.currency != organization_currency:
        raise CurrencyMismatch.between(target.currency, organization_currency)


def check_change_now(sub: Subscription, current: Plan, now: datetime) -> None:
    """Refuse a change now while the current period has ended but is not closed yet.

    The change would otherwise fall after the period it splits: retried after the billing run
    (which closes the period within a minute), it prorates the period it happens in.
    """
    if sub.period_to_close(current.interval, now) is not None:
        raise FailedPrecondition("period_close_due", "the current period has ended and is being closed; retry shortly")


def check_restart(period_start: datetime, at: datetime, pending_anchor: datetime | None = None) -> None:
    """Refuse a change that ends the period at the very moment it began, or while an anchor change waits.

    The change would close the empty period `[start, start)`: nothing to invoice in arrears, and
    the new cycle would begin where the closed period begins, so both would claim one period
    start (the key of its invoice and of its usage totals). Any later moment closes a real period.
    A billing anchor change scheduled for the period's end would be lost with the period.
    """
    if pending_anchor is not None:
        raise FailedPrecondition(
            "change_scheduled",
            "a billing anchor change waits for the period's end; change the plan at period end, or after it",
        )
    if at <= period_start:
        raise FailedPrecondition(
            "period_just_started",
            "an interval change needs the current period to have begun; retry in a moment or change at period end",
        )


def change_now(
    sub: Subscription,
    current: Plan,
    target: Plan,
    behavior: ProrationBehavior,
    now: datetime,
    invoice_id: str = "",
    closes: bool | None = None,
) -> SubscriptionPlanChanged:
    """Decide changing plans at `now`: the credit for the old fee's unused part, the charge for the new one's.

    During a trial nothing was paid, so nothing is prorated. When the interval changes the
    current period ends now and the new plan's first period is billed in full, in advance, so
    only the old fee's credit is prorated. `closes` (default: the interval changes) says whether
    the change ends the current period (see `closes_period`).
    """
    closes = restarts_cycle(current, target) if closes is None else closes
    lines = change_proration(sub, current, target, now, behavior, closes)
    # Under `none` an advance fee already paid the whole period: the new plan's fee in arrears
    # starts counting at the period's end, so no time is billed twice.
    settled = behavior is ProrationBehavior.NONE and not current.in_arrears and not sub.base_fee_free(current.interval)
    return SubscriptionPlanChanged(
        subscription_id=sub.subscription_id,
        from_plan_id=sub.plan_id,
        to_plan_id=target.plan_id,
        changed_at=now,
        behavior=behavior,
        proration_lines=lines,
        invoice_id=invoice_id if lines or closes else "",
        arrears_from=sub.current_period.end if settled else None,
    )


def change_proration(
    sub: Subscription,
    current: Plan,
    target: Plan,
    at: datetime,
    behavior: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS,
    closes: bool | None = None,
) -> list[dict[str, Any]]:
    """The proration lines (stored form) of changing from `current` to `target` at `at`.

    A trial or a free stub paid nothing, so it prorates nothing. Fees are prorated over the
    cycle's whole period (a stub's included). A change that ends the period at the change (an
    interval change, or `closes`: see `closes_period`): its invoice bills the old fee's time
    served in arrears and the new plan's first period, so only the old advance fee's unused part
    is prorated (a credit).
    """
    if sub.base_fee_free(current.interval):
        return []
    since = sub.arrears_from or sub.segment_start or sub.current_period.start
    prorate_advance = behavior is not ProrationBehavior.NONE
    prorated = change_lines(current, target, sub.whole_period(current.interval), at, since, prorate_advance)
    if restarts_cycle(current, target) if closes is None else closes:
        prorated = [line for line in prorated if line.amount_minor < 0]
    return [line_to_dict(line) for line in prorated]


def schedule_change(sub: Subscription, target: Plan, now: datetime) -> list[DomainEvent]:
    """Decide moving to `target` when the current period ends (nothing new if that is scheduled already)."""
    if sub.scheduled_plan_id == target.plan_id:
        return []
    at = sub.current_period.end
    return [
        SubscriptionPlanChangeScheduled(
            subscription_id=sub.subscription_id, to_plan_id=target.plan_id, at=at, requested_at=now
        )
    ]


def dropped_change(sub: Subscription, reason: str, now: datetime) -> SubscriptionPlanChangeDropped:
    """Decide giving up the change scheduled for the period's end, which can no longer be made."""
    assert sub.scheduled_plan_id is not None
    return SubscriptionPlanChangeDropped(
        subscription_id=sub.subscription_id, to_plan_id=sub.scheduled_plan_id, reason=reason, at=now
    )


def scheduled_change(
    sub: Subscription, current: Plan, target: Plan, closing: list[DomainEvent], now: datetime
) -> tuple[list[DomainEvent], Period]:
    """The period close carrying out a scheduled change: the next period is `target`'s.

    On a new interval the new cycle starts at the period end, a cycle day, keeping the cycle day
    (`billing_alignment.aligned_period`: a cycle on the 31st stays on the 31st after Apr 30),
    unless an anchor change moves the cycle at this close: then its stub up to the new anchor
    comes first, billed as the new plan's share of its whole period ending there.
    """
    closed = closing[0]
    assert isinstance(closed, SubscriptionPeriodClosed) and closed.next_period_start is not None
    assert closed.next_period_end is not None
    following = Period(closed.next_period_start, closed.next_period_end)
    # A billing anchor change taking effect at this close (`closed.cycle_anchor`) moves the cycle
    # day already: the stub up to it stands, and the new interval's periods follow it.
    if restarts_cycle(current, target) and closed.cycle_anchor is None:
        following, anchor = billing_alignment.aligned_period(sub.cycle_anchor, target.interval, closed.period_end)
        closed = closed.model_copy(
            update={"next_period_start": following.start, "next_period_end": following.end, "cycle_anchor": anchor}
        )
    changed = SubscriptionPlanChanged(
        subscription_id=sub.subscription_id,
        from_plan_id=sub.plan_id,
        to_plan_id=target.plan_id,
        changed_at=closed.period_end,
        behavior=ProrationBehavior.NONE,
        proration_lines=[],
    )
    return [closed, *closing[1:], changed], following


def restart_now(
    sub: Subscription,
    target: Plan,
    invoice_id: str,
    now: datetime,
    alignment: CycleAnchor = CycleAnchor.NOW,
) -> SubscriptionPeriodClosed:
    """Decide ending the current period now and moving into `target`'s first period.

    `now`: the cycle restarts here; `unchanged`: the first period runs to the next cycle day
    (see `billing_alignment`).
    """
    following, anchor = billing_alignment.first_period(alignment, sub.cycle_anchor, target.interval, now)
    return SubscriptionPeriodClosed(
        subscription_id=sub.subscription_id,
        period_start=sub.current_period.start,
        period_end=now,
        next_period_start=following.start,
        next_period_end=following.end,
        invoice_id=invoice_id,
        closed_at=now,
        cycle_anchor=anchor,
    )
