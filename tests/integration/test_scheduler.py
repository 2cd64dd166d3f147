"""The scheduler: cron ticks run the billing cycle, on one instance at a time (the lease)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from billing_grpc.adapters.mongo_lease import MongoLease
from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.lease import Lease, LocalLease
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.bootstrap import open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.scheduler import LEASE_NAME, Scheduler
from billing_grpc.settings import Settings
from tests.e2e.conftest import TEST_KEY_HASH_SECRET


@pytest.fixture(params=["local", "mongo"])
async def lease(request: pytest.FixtureRequest, database_name: str) -> AsyncIterator[Lease]:
    if request.param == "local":
        yield LocalLease()
        return
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(request.getfixturevalue("mongo_uri"))
    try:
        yield MongoLease(client, database_name)
    finally:
        await client.drop_database(database_name)
        await client.close()


async def test_a_lease_has_one_holder_until_it_expires(lease: Lease) -> None:
    assert await lease.acquire("job", "a", 0.3)
    assert not await lease.acquire("job", "b", 0.3)
    assert await lease.acquire("job", "a", 0.3)  # the holder renews
    assert await lease.acquire("other-job", "b", 0.3)  # leases are per job

    await asyncio.sleep(0.45)

    assert await lease.acquire("job", "b", 0.3)  # expired: another instance takes over
    assert not await lease.acquire("job", "a", 0.3)


async def test_concurrent_acquirers_get_one_lease(lease: Lease) -> None:
    won = await asyncio.gather(*(lease.acquire("race", f"instance-{i}", 30) for i in range(8)))
    assert sum(won) == 1


async def test_cron_ticks_run_the_cycle_only_on_the_lease_holder() -> None:
    clock = TestClock(datetime(2026, 3, 1, tzinfo=UTC))
    settings = Settings(key_hash_secret=TEST_KEY_HASH_SECRET)
    async with open_in_memory_app(settings, clock=clock) as app:
        context = system_context()
        plan_id, _ = await app.catalogue.create_plan(context, NewPlan("flat", "Flat", "USD", "month", 1, 1000, 0, []))
        organization_id, _ = await app.organizations.create(
            context, NewOrganization("Acme", "USD", payment_method="pm_ok")
        )
        subscription_id, position = await app.subscriptions.start(context, organization_id, plan_id, None, None)
        await app.projections.wait_until(position)
        shared = LocalLease()
        leader = Scheduler(app.cycle, shared, "* * * * * */1", holder="leader")
        follower = Scheduler(app.cycle, shared, "* * * * * */1", holder="follower")
        assert await shared.acquire(LEASE_NAME, "leader", 60)

        leader.start()
        follower.start()
        try:
            for _ in range(40):  # every second a tick; the opening invoice is due now
                await asyncio.sleep(0.1)
                invoices = await app.read_models.find("invoices", {"subscription_id": subscription_id})
                if invoices and invoices[0]["status"] == "paid":
                    break
        finally:
            await leader.stop()
            await follower.stop()

        assert invoices[0]["status"] == "paid"
        assert not await follower.tick()  # the follower never holds the lease while the leader does
        clock.advance(timedelta(days=40))
        assert await leader.tick()
        closed = await app.read_models.find("invoices", {"subscription_id": subscription_id})
        assert len(closed) == 2
