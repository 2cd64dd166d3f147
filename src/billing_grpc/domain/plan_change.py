"""The facts of plan changes: a change carried out, and a change scheduled for the period's end.

A change in the middle of a period splits it into usage segments: [period start, change) is
rated by the old plan's charges and [change, period end) by the new plan's. The base fee is
settled by proration lines (see `proration`). A change of interval (monthly <-> yearly) ends
the current period at the change; the new cycle restarts there (`billing_cycle_anchor=now`, as
Stripe does) or keeps the billing-cycle day (`unchanged`, as Kill Bill does): see
`billing_alignment`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.proration import ProrationBehavior


class SubscriptionPlanChanged(DomainEvent):
    """From `changed_at` on, the subscription is billed by `to_plan_id`.

    `proration_lines` (stored invoice lines, kind `proration`) are on `invoice_id`, issued with
    the change, under `always_invoice`; otherwise they wait on the subscription for the next
    invoice. Under `none` the only line is the time served of an old fee billed in arrears.
    `arrears_from` is where the new plan's fee in arrears starts counting when not at the change
    (an advance fee paid under `none` covers the rest of the period).
    """

    TYPE: ClassVar[str] = "subscription.plan_changed"

    subscription_id: str
    from_plan_id: str
    to_plan_id: str
    changed_at: datetime
    behavior: ProrationBehavior
    proration_lines: list[dict[str, Any]]
    invoice_id: str = ""
    arrears_from: datetime | None = None


class SubscriptionPlanChangeScheduled(DomainEvent):
    """At the end of the current period (`at`), the subscription moves to `to_plan_id`."""

    TYPE: ClassVar[str] = "subscription.plan_change_scheduled"

    subscription_id: str
    to_plan_id: str
    at: datetime
    requested_at: datetime


class SubscriptionPlanChangeDropped(DomainEvent):
    """The period closed without the change scheduled for its end, which could no longer be made (`reason`)."""

    TYPE: ClassVar[str] = "subscription.plan_change_dropped"

    subscription_id: str
    to_plan_id: str
    reason: str
    at: datetime
