"""SubscriptionService: thin translation to subscription commands and the subscriptions read model."""

from __future__ import annotations

from grpc import aio

from billing.v1 import subscriptions_pb2, subscriptions_pb2_grpc
from billing_grpc.api import convert
from billing_grpc.api.auth import command_context
from billing_grpc.api.reads import document, existing_organization, settled
from billing_grpc.bootstrap import App
from billing_grpc.domain.access import Action
from projections.subscriptions import SUBSCRIPTIONS


class SubscriptionServicer(subscriptions_pb2_grpc.SubscriptionServiceServicer):
    """Start, cancel and read subscriptions."""

    def __init__(self, app: App) -> None:
        self._app = app

    async def _read(self, subscription_id: str, position: int = 0) -> subscriptions_pb2.Subscription:
        await settled(self._app, position)
        return convert.subscription(await document(self._app, SUBSCRIPTIONS, subscription_id, "subscription"))

    async def StartSubscription(
        self, request: subscriptions_pb2.StartSubscriptionRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.StartSubscriptionResponse:
        """Subscribe an organization to a plan."""
        subscription_id, position = await self._app.subscriptions.start(
            command_context(),
            request.organization_id,
            request.plan_id,
            convert.from_timestamp(request.start_time, "start_time") if request.HasField("start_time") else None,
            convert.from_timestamp(request.billing_anchor, "billing_anchor")
            if request.HasField("billing_anchor")
            else None,
            request.trial_days if request.HasField("trial_days") else None,
            request.proration_behavior,
        )
        return subscriptions_pb2.StartSubscriptionResponse(subscription=await self._read(subscription_id, position))

    async def CancelSubscription(
        self, request: subscriptions_pb2.CancelSubscriptionRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.CancelSubscriptionResponse:
        """Cancel now or at period end."""
        position = await self._app.subscriptions.cancel(
            command_context(), request.subscription_id, request.at_period_end, request.prorate
        )
        return subscriptions_pb2.CancelSubscriptionResponse(
            subscription=await self._read(request.subscription_id, position)
        )

    async def ChangeBillingAnchor(
        self, request: subscriptions_pb2.ChangeBillingAnchorRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.ChangeBillingAnchorResponse:
        """Move the billing cycle onto a new anchor from the current period's end."""
        anchor = (
            convert.from_timestamp(request.billing_anchor, "billing_anchor")
            if request.HasField("billing_anchor")
            else None
        )
        position = await self._app.cycle_moves.change_anchor(
            command_context(), request.subscription_id, anchor, request.proration_behavior
        )
        return subscriptions_pb2.ChangeBillingAnchorResponse(
            subscription=await self._read(request.subscription_id, position)
        )

    async def PauseSubscription(
        self, request: subscriptions_pb2.PauseSubscriptionRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.PauseSubscriptionResponse:
        """Stop billing now, until a resume."""
        position = await self._app.cycle_moves.pause(command_context(), request.subscription_id)
        return subscriptions_pb2.PauseSubscriptionResponse(
            subscription=await self._read(request.subscription_id, position)
        )

    async def ResumeSubscription(
        self, request: subscriptions_pb2.ResumeSubscriptionRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.ResumeSubscriptionResponse:
        """Start billing again now."""
        position = await self._app.cycle_moves.resume(
            command_context(), request.subscription_id, request.billing_cycle_anchor, request.proration_behavior
        )
        return subscriptions_pb2.ResumeSubscriptionResponse(
            subscription=await self._read(request.subscription_id, position)
        )

    async def GetSubscription(
        self, request: subscriptions_pb2.GetSubscriptionRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.GetSubscriptionResponse:
        """Read one subscription of an organization the caller may read."""
        doc = await document(self._app, SUBSCRIPTIONS, request.subscription_id, "subscription")
        command_context().require(Action.BILLING_READ, doc["organization_id"], "subscription")
        return subscriptions_pb2.GetSubscriptionResponse(subscription=convert.subscription(doc))

    async def ListSubscriptions(
        self, request: subscriptions_pb2.ListSubscriptionsRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.ListSubscriptionsResponse:
        """An organization's subscriptions, oldest first."""
        command_context().require(Action.BILLING_READ, request.organization_id, "organization")
        await existing_organization(self._app, request.organization_id)
        found = await self._app.read_models.find(
            SUBSCRIPTIONS, {"organization_id": request.organization_id}, sort=[("started_at", 1), ("_id", 1)]
        )
        return subscriptions_pb2.ListSubscriptionsResponse(subscriptions=[convert.subscription(d) for d in found])

    async def ChangePlan(
        self, request: subscriptions_pb2.ChangePlanRequest, context: aio.ServicerContext
    ) -> subscriptions_pb2.ChangePlanResponse:
        """Move a subscription to another plan, now (prorated) or at period end."""
        outcome = await self._app.plan_changes.change(
            command_context(),
            request.subscription_id,
            request.plan_id,
            request.proration_behavior,
            request.at_period_end,
            request.billing_cycle_anchor,
        )
        return subscriptions_pb2.ChangePlanResponse(
            subscription=await self._read(request.subscription_id, outcome.position),
            invoice_id=outcome.invoice_id,
            proration_lines=[convert.pending_proration(line) for line in outcome.proration_lines],
        )
