"""Commands on subscriptions: start and cancel, keeping the organization's meter claims in step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing_grpc.application.catalogue import load_plan
from billing_grpc.application.context import CommandContext
from billing_grpc.application.drafts import opening_invoice
from billing_grpc.application.streams import Writer, load_existing, load_organization, new_id, ordered_id
from billing_grpc.domain import invoice, organization, subscription
from billing_grpc.domain.access import Action
from billing_grpc.domain.cycle_changes import stub_behavior
from billing_grpc.domain.entitlements import follow
from billing_grpc.domain.errors import FieldViolation, InvalidArgument
from billing_grpc.domain.subscription_start import start_subscription


@dataclass(frozen=True)
class SubscriptionHandlers:
    """Subscription commands; each returns the log position its events reached."""

    writer: Writer

    async def start(
        self,
        context: CommandContext,
        organization_id: str,
        plan_id: str,
        start: datetime | None,
        billing_anchor: datetime | None,
        trial_days: int | None = None,
        proration_behavior: str = "",
    ) -> tuple[str, int]:
        """Subscribe an organization to a plan, claiming the plan's meters for it.

        The subscription's start and the organization's meter claim are one atomic append that
        expects the organization stream's version, so concurrent starts cannot both claim a meter.
        """
        context.require(Action.SUBSCRIPTIONS_MANAGE, organization_id, "organization")
        stub_proration = stub_behavior(proration_behavior)
        org, org_version = await load_organization(self.writer.store, organization_id)
        chosen, _ = await load_plan(self.writer, plan_id)
        now = self.writer.clock.now()
        subscription_id = new_id("sub")
        started = start_subscription(
            subscription_id,
            organization_id,
            chosen,
            org.currency,
            start or now,
            billing_anchor,
            now,
            trial_days,
            stub_proration,
        )
        attached = org.attach(subscription_id, chosen.meter_codes)
        # The first period's base fee is invoiced at once, in the same atomic append (Stripe does
        # the same): a subscription never exists without the invoice of its first period.
        opening = opening_invoice(ordered_id("in", self.writer.clock), started, chosen, now)
        position = await self.writer.append(
            self.writer.append_of(
                subscription.stream_of(subscription_id),
                0,
                follow(None, [started], {chosen.plan_id: chosen}),
                context,
                organization_id,
            ),
            self.writer.append_of(
                organization.stream_of(organization_id), org_version, attached, context, organization_id
            ),
            None
            if opening is None
            else self.writer.append_of(invoice.stream_of(opening.invoice_id), 0, [opening], context, organization_id),
        )
        return subscription_id, position

    async def cancel(
        self, context: CommandContext, subscription_id: str, at_period_end: bool, prorate: bool = False
    ) -> int:
        """Cancel now (freeing its meters at once, optionally crediting the unused base fee) or at period end."""
        if prorate and at_period_end:
            violation = FieldViolation("prorate", "only an immediate cancellation leaves unused time to credit")
            raise InvalidArgument.of(violation)
        state, version = await self._load(context, subscription_id)
        plan, _ = await load_plan(self.writer, state.plan_id)
        events = follow(
            state, state.cancel(self.writer.clock.now(), at_period_end, prorate, plan), {plan.plan_id: plan}
        )
        detached = []
        org_version: int | None = None
        if not at_period_end:
            org, org_version = await load_organization(self.writer.store, state.organization_id)
            detached = org.detach(subscription_id)
        return await self.writer.append(
            self.writer.append_of(
                subscription.stream_of(subscription_id), version, events, context, state.organization_id
            ),
            self.writer.append_of(
                organization.stream_of(state.organization_id), org_version, detached, context, state.organization_id
            ),
        )

    async def _load(self, context: CommandContext, subscription_id: str) -> tuple[subscription.Subscription, int]:
        stream = subscription.stream_of(subscription_id)
        state, version = await load_existing(
            self.writer.store, stream, subscription.Subscription.replay, "subscription"
        )
        context.require(Action.SUBSCRIPTIONS_MANAGE, state.organization_id, "subscription")
        return state, version
