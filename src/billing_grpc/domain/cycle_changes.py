"""The facts of moving a subscription's billing cycle: a new billing anchor, a pause, a resume.

Each of them leaves a period shortened by the cycle (a stub), billed as a start's stub is: its
prorated share of the cycle's whole period, or nothing until the next cycle day under
`proration_behavior=none` (Stripe's choice; see `base_fees`).

- An anchor change (Kill Bill's billing-cycle-day change) takes effect when the current period
  ends: the next period is a stub up to the new anchor, then periods follow the new anchor.
- A pause (Kill Bill's) ends the current period now, like an immediate cancellation that keeps
  the subscription: usage so far is billed in arrears, an advance fee's unused part is credited
  and an arrears fee's time served billed. Nothing is billed, and no usage accepted, while paused.
- A resume starts a stub from now to the next day of the unchanged cycle (`unchanged`, Kill
  Bill's alignment), or a whole new period anchored now (`now`, Stripe's billing_cycle_anchor).

The decisions are in `subscription_cycle`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from billing_grpc.domain import periods
from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.periods import Period, add_months
from billing_grpc.domain.proration import ProrationBehavior


class CycleAnchor(StrEnum):
    """Where a resumed (or changed) cycle is anchored: Stripe's billing_cycle_anchor."""

    UNCHANGED = "unchanged"
    NOW = "now"


class SubscriptionAnchorChangeScheduled(DomainEvent):
    """When the current period ends, a stub up to `billing_anchor` follows; later periods are anchored on it."""

    TYPE: ClassVar[str] = "subscription.anchor_change_scheduled"

    subscription_id: str
    billing_anchor: datetime
    stub_proration: ProrationBehavior
    requested_at: datetime


class SubscriptionPaused(DomainEvent):
    """The current period ends at `paused_at`; nothing is billed until a resume.

    `proration_lines` credit an advance fee's unused part on the paused period's invoice.
    """

    TYPE: ClassVar[str] = "subscription.paused"

    subscription_id: str
    paused_at: datetime
    proration_lines: list[dict[str, Any]] = Field(default_factory=list)


class SubscriptionResumed(DomainEvent):
    """Billing starts again at `resumed_at` with the period [period_start, period_end) of the cycle on `cycle_anchor`.

    `invoice_id` bills the period's fee in advance ("" when nothing is billed now).
    """

    TYPE: ClassVar[str] = "subscription.resumed"

    subscription_id: str
    resumed_at: datetime
    period_start: datetime
    period_end: datetime
    cycle_anchor: datetime
    stub_proration: ProrationBehavior
    invoice_id: str = ""


def stub_behavior(text: str) -> ProrationBehavior:
    """What a stub bills, as a request names it: create_prorations (default) or none."""
    if not text:
        return ProrationBehavior.CREATE_PRORATIONS
    if text not in (ProrationBehavior.CREATE_PRORATIONS, ProrationBehavior.NONE):
        violation = FieldViolation("proration_behavior", "must be create_prorations or none for a stub")
        raise InvalidArgument.of(violation)
    return ProrationBehavior(text)


def resumed_period(
    cycle_anchor: datetime, interval: periods.Interval, anchor: CycleAnchor, now: datetime
) -> tuple[Period, datetime]:
    """The period a resume at `now` starts, and the anchor of the cycle it belongs to."""
    if anchor is CycleAnchor.NOW:
        return Period(now, add_months(now, interval.months)), now
    following = periods.period_containing(cycle_anchor, interval, now)
    return Period(now, following.end), cycle_anchor
