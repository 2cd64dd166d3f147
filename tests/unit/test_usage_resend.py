"""A resent usage event is answered `duplicate` even after the state that accepted it moved on."""

from __future__ import annotations

from datetime import timedelta

from billing_grpc.application.context import system_context
from billing_grpc.application.usage import Outcome
from billing_grpc.domain.usage import UsageInput
from tests.unit.test_plan_change_handlers import FEB_1, START, Shop

CONTEXT = system_context()


async def test_an_event_counted_before_its_subscription_ended_is_a_duplicate_when_resent(shop: Shop) -> None:
    """Found by the fuzz suite: the resend was answered `rejected no_active_subscription`."""
    sub = await shop.subscribe(shop.basic)
    await shop.app.subscriptions.cancel(CONTEXT, sub, True)  # ends with January
    await shop.use("k-1", "5", START + timedelta(days=10))
    await shop.app.cycle.advance(shop.clock, FEB_1 + timedelta(days=2))  # closed, canceled, sealed

    january = START + timedelta(days=10)
    resent = UsageInput(shop.organization_id, "calls", "5", january, "k-1", {})
    fresh = UsageInput(shop.organization_id, "calls", "5", january, "k-2", {})
    [again, new] = await shop.app.usage.ingest(CONTEXT, [resent, fresh])

    assert again.outcome is Outcome.DUPLICATE  # counted once, ever: the client may stop resending
    assert (new.outcome, new.reason) in {
        (Outcome.REJECTED, "no_active_subscription"),
        (Outcome.REJECTED, "period_closed"),
    }
