"""The subscriptions read model: status and current period, indexed for the scheduler."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from billing_grpc.domain.events import decode_event
from billing_grpc.domain.subscription import (
    SubscriptionCanceled,
    SubscriptionCancellationScheduled,
    SubscriptionStarted,
    SubscriptionStatus,
)
from billing_grpc.eventstore import RecordedEvent
from projections.model import Index, View

SUBSCRIPTIONS = "subscriptions"


class SubscriptionsProjection:
    """One document per subscription."""

    name = "subscriptions"
    handles = frozenset({SubscriptionStarted.TYPE, SubscriptionCancellationScheduled.TYPE, SubscriptionCanceled.TYPE})
    collections: Mapping[str, Sequence[Index]] = {
        SUBSCRIPTIONS: [
            Index((("organization_id", 1), ("started_at", 1))),
            # The scheduler's question: which live subscriptions' periods have ended?
            Index((("status", 1), ("current_period_end", 1))),
        ]
    }

    async def apply(self, event: RecordedEvent, view: View) -> None:
        """Create or update the subscription's document."""
        fact = decode_event(event.type, event.payload)
        if isinstance(fact, SubscriptionStarted):
            view.put(
                SUBSCRIPTIONS,
                fact.subscription_id,
                {
                    "organization_id": fact.organization_id,
                    "plan_id": fact.plan_id,
                    "status": fact.status.value,
                    "started_at": fact.started_at,
                    "cycle_anchor": fact.cycle_anchor,
                    "current_period_start": fact.period_start,
                    "current_period_end": fact.period_end,
                    "trial_end": fact.trial_end,
                    "cancel_at": None,
                    "canceled_at": None,
                },
            )
            return
        assert isinstance(fact, SubscriptionCancellationScheduled | SubscriptionCanceled)
        current = await view.get(SUBSCRIPTIONS, fact.subscription_id)
        if current is None:
            return
        if isinstance(fact, SubscriptionCancellationScheduled):
            current["cancel_at"] = fact.cancel_at
        else:
            current["status"] = SubscriptionStatus.CANCELED.value
            current["canceled_at"] = fact.canceled_at
        view.put(SUBSCRIPTIONS, fact.subscription_id, current)
