"""ChangePlan: move a subscription to another plan now (prorated) or at the end of its period.

A change now is one atomic append: `subscription.plan_changed` on the subscription's stream at
the version it was decided on, the organization's meter claims moved to the new plan's meters
(expecting the organization stream's version, so `meter_already_charged` still holds), and
the invoice the change issues, if any: the proration lines under `always_invoice`, or, when
the change ends the period (an interval change, or `billing_cycle_anchor=now`), the close of
the current period at the change (usage in arrears, the old fee's unused part credited, the new
plan's first period in advance: a stub to the next cycle day under `unchanged`, a full period
from the change under `now`; see `domain/billing_alignment.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from billing_grpc.application.billing import BillingHandlers
from billing_grpc.application.catalogue import load_plan
from billing_grpc.application.context import CommandContext
from billing_grpc.application.streams import Writer, load_existing, load_organization, ordered_id
from billing_grpc.domain import invoice, organization, subscription
from billing_grpc.domain.access import Action
from billing_grpc.domain.billing_alignment import parse_cycle_anchor
from billing_grpc.domain.entitlements import follow
from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.invoice import InvoiceIssued, InvoiceReason
from billing_grpc.domain.invoicing import stored_total
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.plan_change import SubscriptionPlanChanged
from billing_grpc.domain.proration import ProrationBehavior
from billing_grpc.domain.subscription import Subscription, SubscriptionPeriodClosed
from billing_grpc.domain.subscription_changes import (
    alignment_of,
    change_now,
    check_change,
    check_change_now,
    check_restart,
    closes_period,
    parse_behavior,
    restart_now,
    schedule_change,
)


@dataclass(frozen=True)
class ChangeOutcome:
    """What a change did: the log position reached, the invoice it issued ("" if none), its proration lines."""

    position: int
    invoice_id: str
    proration_lines: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PlanChangeHandlers:
    """Plan changes, and their preview."""

    writer: Writer
    billing: BillingHandlers

    async def change(
        self,
        context: CommandContext,
        subscription_id: str,
        plan_id: str,
        behavior_text: str,
        at_period_end: bool,
        anchor_text: str = "",
    ) -> ChangeOutcome:
        """Change the subscription's plan now or at the end of the current period.

        `anchor_text` is the billing alignment (`unchanged`, `now`, or empty for the default).
        """
        if not plan_id:
            raise InvalidArgument.of(FieldViolation("plan_id", "is required"))
        behavior = parse_behavior(behavior_text)
        requested = parse_cycle_anchor(anchor_text)
        sub, version = await self._subscription(context, subscription_id)
        current, _ = await load_plan(self.writer, sub.plan_id)
        target, _ = await load_plan(self.writer, plan_id)
        org, org_version = await load_organization(self.writer.store, sub.organization_id)
        check_change(sub, target, org.currency)
        alignment = alignment_of(sub, current, target, requested, at_period_end)
        now = self.writer.clock.now()
        stream = subscription.stream_of(subscription_id)
        if at_period_end:
            org.reattach(subscription_id, target.meter_codes)  # refuses meters another subscription charges
            scheduled = schedule_change(sub, target, now)
            position = await self.writer.append(
                self.writer.append_of(stream, version, scheduled, context, sub.organization_id)
            )
            return ChangeOutcome(position, "")
        check_change_now(sub, current, now)
        restart = closes_period(sub, current, target, alignment)
        if restart:
            check_restart(sub.current_period.start, now, sub.pending_anchor)
        invoice_id = ordered_id("in", self.writer.clock)
        changed = change_now(sub, current, target, behavior, now, invoice_id, closes=restart)
        events: list[DomainEvent] = [changed]
        issued: InvoiceIssued | None = None
        if restart:
            closing = restart_now(sub, target, invoice_id, now, alignment)
            events.append(closing)
            issued = await self._restart_invoice(sub, changed, target, closing, now)
        elif behavior is ProrationBehavior.ALWAYS_INVOICE and changed.proration_lines:
            issued = _proration_invoice(sub, target, changed, now)
        if issued is None:
            events[0] = changed = changed.model_copy(update={"invoice_id": ""})
        moved = org.reattach(subscription_id, target.meter_codes)
        events = follow(sub, events, {target.plan_id: target})
        position = await self.writer.append(
            self.writer.append_of(stream, version, events, context, sub.organization_id),
            self.writer.append_of(
                organization.stream_of(sub.organization_id), org_version, moved, context, sub.organization_id
            ),
            None
            if issued is None
            else self.writer.append_of(invoice.stream_of(invoice_id), 0, [issued], context, sub.organization_id),
        )
        return ChangeOutcome(position, changed.invoice_id, changed.proration_lines)

    async def _restart_invoice(
        self,
        sub: Subscription,
        changed: SubscriptionPlanChanged,
        target: Plan,
        closing: SubscriptionPeriodClosed,
        now: datetime,
    ) -> InvoiceIssued:
        """The invoice of a period ended by the change (`closing`): as a period close, issued now."""
        assert closing.next_period_start is not None and closing.next_period_end is not None
        assert closing.cycle_anchor is not None
        pending = (*sub.pending_prorations, *changed.proration_lines)
        closed = Period(sub.current_period.start, now)
        draft = await self.billing.closing_invoice(
            replace(sub, pending_prorations=pending),
            closed,
            Period(closing.next_period_start, closing.next_period_end),
            target,
            changed.invoice_id,
            now,
            next_anchor=closing.cycle_anchor,
        )
        return draft.model_copy(update={"reason": InvoiceReason.SUBSCRIPTION_UPDATE})

    async def _subscription(self, context: CommandContext, subscription_id: str) -> tuple[Subscription, int]:
        stream = subscription.stream_of(subscription_id)
        state, version = await load_existing(self.writer.store, stream, Subscription.replay, "subscription")
        context.require(Action.SUBSCRIPTIONS_MANAGE, state.organization_id, "subscription")
        return state, version


def _proration_invoice(
    sub: Subscription, target: Plan, changed: SubscriptionPlanChanged, now: datetime
) -> InvoiceIssued:
    """The invoice `always_invoice` issues with the change: its proration lines, final at once."""
    return InvoiceIssued(
        invoice_id=changed.invoice_id,
        organization_id=sub.organization_id,
        subscription_id=sub.subscription_id,
        plan_id=target.plan_id,
        currency=target.currency,
        reason=InvoiceReason.SUBSCRIPTION_UPDATE,
        usage_period_start=None,
        usage_period_end=None,
        lines=changed.proration_lines,
        total_minor=stored_total(changed.proration_lines),
        issued_at=now,
        finalize_at=now,  # nothing to wait for: the next billing run finalizes and charges it
    )
