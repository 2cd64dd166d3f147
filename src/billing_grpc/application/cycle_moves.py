"""Moving a subscription's billing cycle: a new billing anchor, a pause and a resume (rules in `cycle_changes`).

A pause is one atomic append, like an interval change now: the pause, the close of the period
it ends (so a resume can follow at any moment) and that period's invoice. A pause keeps the
organization's meter claims (the subscription comes back), so no other subscription takes its
meters meanwhile. Pausing a paused subscription and resuming an active one change nothing, so
a retry whose answer was lost is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing_grpc.application.billing import BillingHandlers
from billing_grpc.application.catalogue import load_plan
from billing_grpc.application.context import CommandContext
from billing_grpc.application.drafts import advance_invoice
from billing_grpc.application.streams import Writer, load_existing, ordered_id
from billing_grpc.domain import invoice, subscription
from billing_grpc.domain.access import Action
from billing_grpc.domain.billing_alignment import parse_cycle_anchor
from billing_grpc.domain.cycle_changes import CycleAnchor, stub_behavior
from billing_grpc.domain.entitlements import follow
from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.events import DomainEvent
from billing_grpc.domain.invoice import InvoiceReason
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import Plan
from billing_grpc.domain.subscription import Subscription, SubscriptionStatus
from billing_grpc.domain.subscription_cycle import pause_now, resume_now, schedule_anchor_change


@dataclass(frozen=True)
class CycleHandlers:
    """Anchor changes, pauses and resumes; each returns the log position its events reached."""

    writer: Writer
    billing: BillingHandlers

    async def change_anchor(
        self, context: CommandContext, subscription_id: str, anchor: datetime | None, proration_behavior: str
    ) -> int:
        """Move the billing cycle onto `anchor` from the current period's end, with a stub up to it."""
        if anchor is None:
            raise InvalidArgument.of(FieldViolation("billing_anchor", "is required"), reason="invalid_billing_anchor")
        behavior = stub_behavior(proration_behavior)
        sub, version, plan = await self._load(context, subscription_id)
        scheduled = schedule_anchor_change(sub, plan, anchor, behavior, self.writer.clock.now())
        return await self._append(context, sub, version, scheduled)

    async def pause(self, context: CommandContext, subscription_id: str) -> int:
        """End the current period now, invoice it, and bill nothing until a resume."""
        sub, version, plan = await self._load(context, subscription_id)
        if sub.status is SubscriptionStatus.PAUSED:
            return await self._append(context, sub, version, [])
        now = self.writer.clock.now()
        paused = pause_now(sub, plan, now)
        stopped = subscription.evolve(sub, paused)
        assert stopped is not None
        due = stopped.period_to_close(plan.interval, now)
        if due is None:  # paused the instant the period began: no time to bill
            return await self._append(context, sub, version, [paused], plan)
        closed, _ = due
        invoice_id = ordered_id("in", self.writer.clock)
        issued = await self.billing.closing_invoice(stopped, closed, None, plan, invoice_id, now, sub.cycle_anchor)
        if not issued.lines and not plan.charges:
            # Nothing can be owed for the period: it closes without an invoice, sealed at once.
            closing = stopped.close_period("", plan.interval, now)
            closing += stopped.seal_usage(closed.end, now)
            return await self._append(context, sub, version, [paused, *closing], plan)
        closing = stopped.close_period(invoice_id, plan.interval, now)
        return await self._append(context, sub, version, [paused, *closing], plan, issued)

    async def resume(
        self, context: CommandContext, subscription_id: str, cycle_anchor: str, proration_behavior: str
    ) -> int:
        """Start billing again now, the resumed period's fee in advance invoiced in the same append."""
        anchor = parse_cycle_anchor(cycle_anchor) or CycleAnchor.UNCHANGED
        behavior = stub_behavior(proration_behavior)
        sub, version, plan = await self._load(context, subscription_id)
        if sub.status is SubscriptionStatus.ACTIVE:
            return await self._append(context, sub, version, [])
        now = self.writer.clock.now()
        resumed = resume_now(sub, plan, anchor, behavior, now, ordered_id("in", self.writer.clock))
        billed = advance_invoice(
            resumed.invoice_id,
            sub.organization_id,
            subscription_id,
            plan,
            (Period(resumed.period_start, resumed.period_end), resumed.cycle_anchor, behavior),
            InvoiceReason.SUBSCRIPTION_RESUME,
            now,
        )
        if billed is None:
            resumed = resumed.model_copy(update={"invoice_id": ""})
        return await self._append(context, sub, version, [resumed], plan, billed)

    async def _load(self, context: CommandContext, subscription_id: str) -> tuple[Subscription, int, Plan]:
        stream = subscription.stream_of(subscription_id)
        sub, version = await load_existing(self.writer.store, stream, Subscription.replay, "subscription")
        context.require(Action.SUBSCRIPTIONS_MANAGE, sub.organization_id, "subscription")
        plan, _ = await load_plan(self.writer, sub.plan_id)
        return sub, version, plan

    async def _append(
        self,
        context: CommandContext,
        sub: Subscription,
        version: int,
        events: list[DomainEvent],
        plan: Plan | None = None,
        issued: invoice.InvoiceIssued | None = None,
    ) -> int:
        """Append the subscription's events (with their entitlements consequences) and the invoice they issue."""
        if plan is not None:
            events = follow(sub, events, {plan.plan_id: plan})
        organization_id, stream = sub.organization_id, subscription.stream_of(sub.subscription_id)
        return await self.writer.append(
            self.writer.append_of(stream, version, events, context, organization_id),
            None
            if issued is None
            else self.writer.append_of(invoice.stream_of(issued.invoice_id), 0, [issued], context, organization_id),
        )
