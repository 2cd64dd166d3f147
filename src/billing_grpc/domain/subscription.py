"""Subscriptions: an organization billed by a plan, and the billing periods it moves through.

A trial is its own first period, [start, trial end), and the first paid period starts when the
trial ends (as in Stripe): the cycle is then anchored on the trial end, or on the billing anchor.
Canceling at period end only schedules the cancellation; the period rollover carries it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from billing_grpc.domain import periods
from billing_grpc.domain.clock import ensure_utc
from billing_grpc.domain.errors import FailedPrecondition, FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.money import CurrencyMismatch
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan

# How far a start may be backdated (importing existing customers) or ahead of the server clock
# (a caller whose clock runs slightly fast). Anything further is a mistake in the request.
MAX_BACKDATE = timedelta(days=366)
MAX_CLOCK_SKEW = timedelta(minutes=5)


class SubscriptionStatus(StrEnum):
    """Where a subscription is in its life."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"


# The statuses in which a subscription still accrues charges and rolls over periods.
LIVE_STATUSES: frozenset[SubscriptionStatus] = frozenset(
    {SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}
)


class SubscriptionStarted(DomainEvent):
    """An organization subscribed to a plan; [period_start, period_end) is its first period."""

    TYPE: ClassVar[str] = "subscription.started"

    subscription_id: str
    organization_id: str
    plan_id: str
    status: SubscriptionStatus
    started_at: datetime
    cycle_anchor: datetime
    period_start: datetime
    period_end: datetime
    trial_end: datetime | None


class SubscriptionCancellationScheduled(DomainEvent):
    """The subscription will be canceled at `cancel_at`, the end of the period it was requested in."""

    TYPE: ClassVar[str] = "subscription.cancellation_scheduled"

    subscription_id: str
    cancel_at: datetime
    requested_at: datetime


class SubscriptionCanceled(DomainEvent):
    """The subscription ended: immediately, or at the end of a period it was scheduled for."""

    TYPE: ClassVar[str] = "subscription.canceled"

    subscription_id: str
    canceled_at: datetime
    at_period_end: bool


@dataclass(frozen=True)
class Subscription:
    """The state of one subscription, folded from its stream."""

    subscription_id: str
    organization_id: str
    plan_id: str
    status: SubscriptionStatus
    started_at: datetime
    cycle_anchor: datetime
    current_period: Period
    trial_end: datetime | None
    cancel_at: datetime | None
    canceled_at: datetime | None

    @classmethod
    def replay(cls, events: Iterable[DomainEvent]) -> Subscription | None:
        """Fold the stream's events; None if the subscription was never started."""
        state: Subscription | None = None
        for event in events:
            state = evolve(state, event)
        return state

    @property
    def is_live(self) -> bool:
        """Whether the subscription still accrues charges."""
        return self.status in LIVE_STATUSES

    def cancel(self, now: datetime, at_period_end: bool) -> list[DomainEvent]:
        """Decide canceling now, or at the end of the current period (idempotent once scheduled)."""
        if self.status is SubscriptionStatus.CANCELED:
            raise FailedPrecondition(
                "subscription_canceled", f"subscription {self.subscription_id} is already canceled"
            )
        if at_period_end:
            if self.cancel_at is not None:
                return []
            end = self.current_period.end
            return [
                SubscriptionCancellationScheduled(subscription_id=self.subscription_id, cancel_at=end, requested_at=now)
            ]
        return [SubscriptionCanceled(subscription_id=self.subscription_id, canceled_at=now, at_period_end=False)]


def evolve(state: Subscription | None, event: DomainEvent) -> Subscription | None:
    """The subscription after one more event."""
    if isinstance(event, SubscriptionStarted):
        return _started(event)
    if state is None:
        return None
    if isinstance(event, SubscriptionCancellationScheduled):
        return replace(state, cancel_at=event.cancel_at)
    if isinstance(event, SubscriptionCanceled):
        return replace(state, status=SubscriptionStatus.CANCELED, canceled_at=event.canceled_at)
    return state


def _started(event: SubscriptionStarted) -> Subscription:
    return Subscription(
        subscription_id=event.subscription_id,
        organization_id=event.organization_id,
        plan_id=event.plan_id,
        status=event.status,
        started_at=event.started_at,
        cycle_anchor=event.cycle_anchor,
        current_period=Period(event.period_start, event.period_end),
        trial_end=event.trial_end,
        cancel_at=None,
        canceled_at=None,
    )


def stream_of(subscription_id: str) -> str:
    """The stream that holds a subscription's events."""
    return f"subscription-{subscription_id}"


def start_subscription(
    subscription_id: str,
    organization_id: str,
    plan: Plan,
    organization_currency: str,
    start: datetime,
    billing_anchor: datetime | None,
    now: datetime,
) -> SubscriptionStarted:
    """Decide subscribing an organization to a plan: its status, first period and cycle anchor."""
    start, now = ensure_utc(start), ensure_utc(now)
    if not now - MAX_BACKDATE <= start <= now + MAX_CLOCK_SKEW:
        violation = FieldViolation("start_time", f"must be between {now - MAX_BACKDATE} and {now + MAX_CLOCK_SKEW}")
        raise InvalidArgument.of(violation)
    trial_end = start + timedelta(days=plan.trial_days) if plan.trial_days > 0 else None
    # The billing anchor shapes the first paid period, which starts when the trial (if any) ends.
    paid_start = trial_end if trial_end is not None else start
    first_paid = periods.first_period(paid_start, plan.interval, billing_anchor)
    if plan.archived:
        raise FailedPrecondition("plan_archived", f"plan {plan.plan_id} is archived and takes no new subscriptions")
    if plan.currency != organization_currency:
        theirs = organization_currency or "no currency"
        message = f"plan {plan.plan_id} bills in {plan.currency}, the organization in {theirs}"
        raise CurrencyMismatch("currency_mismatch", message)
    first = first_paid if trial_end is None else Period(start, trial_end)
    return SubscriptionStarted(
        subscription_id=subscription_id,
        organization_id=organization_id,
        plan_id=plan.plan_id,
        status=SubscriptionStatus.ACTIVE if trial_end is None else SubscriptionStatus.TRIALING,
        started_at=start,
        cycle_anchor=periods.cycle_anchor(paid_start, billing_anchor),
        period_start=first.start,
        period_end=first.end,
        trial_end=trial_end,
    )
