"""Subscriptions: an organization billed by a plan, and the billing periods it moves through.

A trial is its own first period, [start, trial end), and the first paid period starts when the
trial ends (as in Stripe): the cycle is then anchored on the trial end, or on the billing anchor.
Canceling at period end only schedules the cancellation; the period close carries it out.

Closing a period rolls the subscription into the next one (or ends it) and names the invoice
that bills it. Sealing a period comes later, when that invoice is finalized: from then on no
usage is accepted into it. Both move the subscription's stream version, which usage ingestion
expects, so usage can never slip into a period after its seal.
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


class SubscriptionPeriodClosed(DomainEvent):
    """A period ended and `invoice_id` bills it; the subscription moved into the next period, if any.

    `invoice_id` is empty only for the last period of a plan without usage charges: nothing is
    owed in arrears, so no invoice is issued (the period is sealed at once instead).
    """

    TYPE: ClassVar[str] = "subscription.period_closed"

    subscription_id: str
    period_start: datetime
    period_end: datetime
    next_period_start: datetime | None
    next_period_end: datetime | None
    invoice_id: str
    closed_at: datetime


class SubscriptionUsageSealed(DomainEvent):
    """No more usage is accepted for periods ending at or before `sealed_through` (their invoice is final)."""

    TYPE: ClassVar[str] = "subscription.usage_sealed"

    subscription_id: str
    sealed_through: datetime
    sealed_at: datetime


class SubscriptionPastDue(DomainEvent):
    """A payment for the subscription failed; it stays billable while dunning retries."""

    TYPE: ClassVar[str] = "subscription.past_due"

    subscription_id: str
    invoice_id: str
    at: datetime


class SubscriptionReactivated(DomainEvent):
    """The invoice that made the subscription past due was paid: it is active again."""

    TYPE: ClassVar[str] = "subscription.reactivated"

    subscription_id: str
    invoice_id: str
    at: datetime


class SubscriptionMarkedUnpaid(DomainEvent):
    """Dunning gave up and the policy keeps the subscription as unpaid: no more periods are billed."""

    TYPE: ClassVar[str] = "subscription.marked_unpaid"

    subscription_id: str
    invoice_id: str
    at: datetime


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
    # Usage stamped before this moment belongs to an invoiced (sealed) period.
    sealed_through: datetime | None = None
    # Whether the last period (ended by a cancellation) has been closed: nothing more to bill.
    final_period_closed: bool = False

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

    def period_to_close(self, interval: periods.Interval, now: datetime) -> tuple[Period, Period | None] | None:
        """The period due for closing at `now` and the one that follows it (None: the subscription ends).

        None when nothing is due: the current period is still running, or the subscription ended
        and its last period is closed already.
        """
        if self.final_period_closed or self.status is SubscriptionStatus.UNPAID:
            return None
        if self.status is SubscriptionStatus.CANCELED:
            assert self.canceled_at is not None
            end = min(self.canceled_at, self.current_period.end)
            return (Period(self.current_period.start, end), None) if now >= end else None
        if now < self.current_period.end:
            return None
        if self.cancel_at is not None and self.cancel_at <= self.current_period.end:
            return self.current_period, None
        return self.current_period, self._following(self.current_period, interval)

    def _following(self, closed: Period, interval: periods.Interval) -> Period:
        """The period after `closed`: a stub up to the billing anchor, else the next of the cycle."""
        if closed.end < self.cycle_anchor:
            return Period(closed.end, self.cycle_anchor)
        return periods.next_period(self.cycle_anchor, interval, closed)

    def close_period(self, invoice_id: str, interval: periods.Interval, now: datetime) -> list[DomainEvent]:
        """Decide closing the due period: roll into the next one, or end (a scheduled cancellation)."""
        due = self.period_to_close(interval, now)
        if due is None:
            raise FailedPrecondition("period_not_ended", f"subscription {self.subscription_id} has no period to close")
        closed, following = due
        events: list[DomainEvent] = [
            SubscriptionPeriodClosed(
                subscription_id=self.subscription_id,
                period_start=closed.start,
                period_end=closed.end,
                next_period_start=following.start if following else None,
                next_period_end=following.end if following else None,
                invoice_id=invoice_id,
                closed_at=now,
            )
        ]
        if following is None and self.status is not SubscriptionStatus.CANCELED:
            ended = SubscriptionCanceled(
                subscription_id=self.subscription_id, canceled_at=closed.end, at_period_end=True
            )
            events.append(ended)
        return events

    def seal_usage(self, through: datetime, now: datetime) -> list[DomainEvent]:
        """Decide refusing usage before `through` from now on (nothing to do if sealed already)."""
        if self.sealed_through is not None and self.sealed_through >= through:
            return []
        return [SubscriptionUsageSealed(subscription_id=self.subscription_id, sealed_through=through, sealed_at=now)]

    def payment_failed(self, invoice_id: str, now: datetime) -> list[DomainEvent]:
        """Decide the subscription's side of a failed payment: past due, if it was active."""
        if self.status not in {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING}:
            return []
        return [SubscriptionPastDue(subscription_id=self.subscription_id, invoice_id=invoice_id, at=now)]

    def invoice_paid(self, invoice_id: str, now: datetime) -> list[DomainEvent]:
        """Decide the subscription's side of a paid invoice: active again, if it was past due."""
        if self.status is not SubscriptionStatus.PAST_DUE:
            return []
        return [SubscriptionReactivated(subscription_id=self.subscription_id, invoice_id=invoice_id, at=now)]

    def dunning_exhausted(self, invoice_id: str, cancel: bool, now: datetime) -> list[DomainEvent]:
        """Decide the subscription's side of an uncollectible invoice: canceled now, or unpaid."""
        if not self.is_live:
            return []
        if cancel:
            return [SubscriptionCanceled(subscription_id=self.subscription_id, canceled_at=now, at_period_end=False)]
        return [SubscriptionMarkedUnpaid(subscription_id=self.subscription_id, invoice_id=invoice_id, at=now)]

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
    if isinstance(event, SubscriptionPeriodClosed):
        return _period_closed(state, event)
    if isinstance(event, SubscriptionUsageSealed):
        return replace(state, sealed_through=event.sealed_through)
    if isinstance(event, SubscriptionPastDue):
        return replace(state, status=SubscriptionStatus.PAST_DUE)
    if isinstance(event, SubscriptionReactivated):
        return replace(state, status=SubscriptionStatus.ACTIVE)
    if isinstance(event, SubscriptionMarkedUnpaid):
        return replace(state, status=SubscriptionStatus.UNPAID)
    return state


def _period_closed(state: Subscription, event: SubscriptionPeriodClosed) -> Subscription:
    if event.next_period_start is None or event.next_period_end is None:
        return replace(state, final_period_closed=True)
    # The trial is the first period: closing it starts the paid cycle.
    status = SubscriptionStatus.ACTIVE if state.status is SubscriptionStatus.TRIALING else state.status
    return replace(state, status=status, current_period=Period(event.next_period_start, event.next_period_end))


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
