"""The facts of a subscription's life, and its statuses (the aggregate is in `subscription`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.proration import ProrationBehavior


class SubscriptionStatus(StrEnum):
    """Where a subscription is in its life."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"  # nothing billed, no usage accepted, until resumed


# The statuses in which a subscription still accrues charges and rolls over periods.
LIVE_STATUSES: frozenset[SubscriptionStatus] = frozenset(
    {SubscriptionStatus.TRIALING, SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}
)


class SubscriptionStarted(DomainEvent):
    """An organization subscribed to a plan; [period_start, period_end) is its first period.

    `stub_proration` says what a period shortened by the billing anchor bills (the first paid
    period, after the trial if any): its prorated share of the fee (`create_prorations`, as
    Stripe and Lago do), or nothing until the anchor (`none`). Subscriptions started before it
    existed read back as `create_prorations`.
    """

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
    stub_proration: ProrationBehavior = ProrationBehavior.CREATE_PRORATIONS


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
    # Set when the cycle restarts at the next period (an interval change): its new anchor.
    cycle_anchor: datetime | None = None


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
    # A prorated credit for the unused base fee, for the final invoice (stored invoice lines).
    proration_lines: list[dict[str, Any]] = Field(default_factory=list)
