"""Moving a test clock through the billing cycle ends, even when an item keeps failing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from billing_grpc.application.billing import BillingHandlers
from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import CommandContext, system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.bootstrap import open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.errors import FailedPrecondition
from billing_grpc.settings import Settings
from tests.e2e.conftest import TEST_KEY_HASH_SECRET

START = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = system_context()


@dataclass
class RefusingToClose:
    """The real handlers, except that one subscription's period close is always refused."""

    inner: BillingHandlers
    broken: str
    refusals: int = 0

    async def close_period(self, context: CommandContext, subscription_id: str) -> int:
        if subscription_id == self.broken:
            self.refusals += 1
            raise FailedPrecondition("test_refusal", "this close always fails")
        return await self.inner.close_period(context, subscription_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_advancing_past_an_item_that_keeps_failing_ends_and_bills_everything_else() -> None:
    clock = TestClock(START)
    settings = Settings(key_hash_secret=TEST_KEY_HASH_SECRET, grace_period_seconds=0, scheduler=False)
    async with open_in_memory_app(settings, clock=clock) as app:
        plan_id, _ = await app.catalogue.create_plan(CONTEXT, NewPlan("flat", "Flat", "USD", "month", 1, 1000, 0, []))
        subscriptions = []
        for name in ("broken", "healthy"):
            organization_id, _ = await app.organizations.create(
                CONTEXT, NewOrganization(name, "USD", payment_method="pm_ok")
            )
            subscription_id, _ = await app.subscriptions.start(CONTEXT, organization_id, plan_id, None, None)
            subscriptions.append(subscription_id)
        refusing = RefusingToClose(app.cycle.handlers, subscriptions[0])
        app.cycle.handlers = refusing  # type: ignore[assignment]

        async with asyncio.timeout(30):  # it used to stop at the failing item's due moment forever
            report = await app.cycle.advance(clock, START + timedelta(days=95))

        assert clock.now() == START + timedelta(days=95)
        assert report.periods_closed == 3  # the healthy subscription's January, February and March
        assert refusing.refusals >= 3  # the broken one was retried at every stop, and is still due
        [broken] = await app.read_models.find("subscriptions", {"_id": subscriptions[0]})
        assert broken["close_due_at"] == datetime(2026, 2, 1, tzinfo=UTC)
