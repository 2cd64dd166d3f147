"""UsageEmitter across a kill -9 of a real `billing-grpc serve` process and its restart on the same port.

The emitter keeps emitting while the server dies with batches in flight; it reconnects with
backoff until a new process on the same data answers, resends every batch it had no ack for,
and goes on. After close every event is counted exactly once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing.v1 import catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from billing_grpc.client import BillingClient, UsageEmitter, connect
from tests.e2e.test_client_emitter import Watched
from tests.integration.test_serve_process import serve

pytestmark = pytest.mark.slow

EVENTS = 3000


async def _subscribed(client: BillingClient) -> tuple[str, str]:
    """An organization subscribed to a plan charging `api_calls`: (organization id, subscription id)."""
    await client.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="count")
    )
    charge = catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
    plan = await client.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="metered", name="Metered", currency="USD", interval_unit="month", charges=[charge]
        )
    )
    org = await client.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Kill test", currency="USD")
    )
    started = await client.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(
            organization_id=org.organization.organization_id, plan_id=plan.plan.plan_id
        )
    )
    return org.organization.organization_id, started.subscription.subscription_id


async def _counted(client: BillingClient, subscription_id: str, expected: int) -> int:
    """The usage read model's event count, once it stops growing towards `expected` (another process)."""
    counted = -1
    for _ in range(100):
        summary = await client.usage.GetUsageSummary(usage_pb2.GetUsageSummaryRequest(subscription_id=subscription_id))
        counted = sum(meter.event_count for meter in summary.meters)
        if counted >= expected:
            break
        await asyncio.sleep(0.2)  # the read model follows the log in the server process
    return counted


async def test_the_emitter_rides_out_a_kill_9_and_every_event_counts_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with serve(data) as first:
        key = await first.admin_key()
        address = first.address
        async with BillingClient.connect(address, key) as admin:
            organization_id, subscription_id = await _subscribed(admin)
        channel = connect(address, key)
        watched = Watched(channel, acked_events=600)
        emitter = UsageEmitter(watched.open, max_batch_size=200, linger=0.01, initial_backoff=0.05, max_backoff=0.5)
        when = datetime.now(UTC)  # after the subscription started, on the server's real clock

        async def produce() -> None:
            for n in range(EVENTS):
                await emitter.emit(
                    "api_calls", organization_id=organization_id, timestamp=when, idempotency_key=f"k{n}"
                )

        producing = asyncio.create_task(produce())
        await watched.enough_acked.wait()
        first.process.kill()  # SIGKILL, batches in flight
        await watched.reopened_twice.wait()  # the emitter found it gone and keeps trying
        acknowledged_before = emitter.stats.acknowledged
    assert acknowledged_before < EVENTS, "killed too late to be mid-stream"

    async with serve(data, address=address) as restarted:
        await producing
        await emitter.close()
        await channel.close()
        async with BillingClient.connect(restarted.address, key) as admin:
            counted = await _counted(admin, subscription_id, EVENTS)

    stats = emitter.stats
    assert stats.accepted + stats.duplicates == EVENTS and stats.rejected == 0
    assert stats.batches_resent >= 1
    assert counted == EVENTS  # every event once: none lost, none twice
