"""Idempotency keys survive a restart: the same events sent to a new server instance are duplicates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pymongo import AsyncMongoClient

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.bootstrap import open_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.usage import UsageInput
from billing_grpc.settings import Settings
from tests.e2e.conftest import TEST_KEY_HASH_SECRET


async def test_keys_recorded_before_a_restart_are_duplicates_after_it(mongo_uri: str, database_name: str) -> None:
    settings = Settings(mongo_uri=mongo_uri, database=database_name, key_hash_secret=TEST_KEY_HASH_SECRET)
    clock = TestClock(datetime(2026, 5, 1, tzinfo=UTC))
    context = system_context()
    async with open_app(settings, clock=clock) as app:
        await app.catalogue.create_meter(context, "calls", "Calls", "sum", "")
        plan_id, _ = await app.catalogue.create_plan(
            context, NewPlan("p", "P", "USD", "month", 1, 0, 0, [Charge("calls", PerUnit(Decimal(1)))])
        )
        organization_id, _ = await app.organizations.create(context, NewOrganization("Acme", "USD"))
        _, position = await app.subscriptions.start(context, organization_id, plan_id, None, None)
        await app.projections.wait_until(position)
        clock.advance(timedelta(minutes=1))
        batch = [UsageInput(organization_id, "calls", "1", clock.now(), f"k{i}", {}) for i in range(100)]
        first = await app.usage.ingest(context, batch)
        assert {r.outcome for r in first} == {Outcome.ACCEPTED}

    async with open_app(settings, clock=clock) as restarted:
        again = await restarted.usage.ingest(context, batch)
        assert {r.outcome for r in again} == {Outcome.DUPLICATE}
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri)
    await client.drop_database(database_name)
    await client.close()
