"""kill -9 the server in the middle of StreamUsage traffic: every acknowledged event survives, once.

A real `billing-grpc serve` process on its embedded store (data on disk) takes usage from two
concurrent streams. It is killed with SIGKILL while batches are in flight, started again on the
same data, and the emitters do what a client must: resend every batch whose answer they did
not get. Then every event is counted exactly once: nothing acknowledged was lost, nothing resent
was counted twice, and a resent acknowledged batch is all duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from billing.v1 import catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from tests.e2e.world import Stubs
from tests.integration.test_serve_process import auth, serve

pytestmark = pytest.mark.slow

BATCH = 200
BATCHES_PER_STREAM = 40
STREAMS = 2


@dataclass
class Emitter:
    """One client stream's batches and which of them the server acknowledged."""

    name: str
    organization_id: str
    acknowledged: dict[int, usage_pb2.StreamUsageResponse] = field(default_factory=dict)

    def batch(self, batch_id: int, when: Timestamp) -> usage_pb2.StreamUsageRequest:
        events = [
            usage_pb2.UsageEvent(
                organization_id=self.organization_id,
                meter_code="api_calls",
                quantity="1",
                timestamp=when,
                idempotency_key=f"{self.name}-{batch_id}-{n}",
            )
            for n in range(BATCH)
        ]
        return usage_pb2.StreamUsageRequest(batch_id=batch_id, events=events)

    async def send(self, stubs: Stubs, key: str, batch_ids: list[int], when: Timestamp) -> None:
        """Stream the batches, recording each answer; stops quietly when the server goes away."""

        async def requests() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
            for batch_id in batch_ids:
                yield self.batch(batch_id, when)

        call = stubs.usage.StreamUsage(requests(), metadata=auth(key))
        with contextlib.suppress(aio.AioRpcError):
            async for answer in call:
                self.acknowledged[answer.batch_id] = answer


async def _tenant(stubs: Stubs, key: str) -> tuple[str, str]:
    """An organization subscribed to a plan charging `api_calls`; returns (organization, subscription)."""
    created = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Crash test", currency="USD"), metadata=auth(key)
    )
    organization_id = created.organization.organization_id
    plans = await stubs.catalogue.ListPlans(catalogue_pb2.ListPlansRequest(), metadata=auth(key))
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plans.plans[0].plan_id),
        metadata=auth(key),
    )
    return organization_id, started.subscription.subscription_id


async def _counted(stubs: Stubs, key: str, subscription_id: str) -> int:
    summary = await stubs.usage.GetUsageSummary(
        usage_pb2.GetUsageSummaryRequest(subscription_id=subscription_id), metadata=auth(key)
    )
    return sum(meter.event_count for meter in summary.meters)


async def test_every_acknowledged_event_survives_a_kill_9_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    when = Timestamp()
    async with serve(data) as server:
        key = await server.admin_key()
        async with aio.insecure_channel(server.address) as channel:
            stubs = Stubs.on(channel)
            await stubs.catalogue.CreateMeter(
                catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="count"),
                metadata=auth(key),
            )
            charge = catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
            await stubs.catalogue.CreatePlan(
                catalogue_pb2.CreatePlanRequest(
                    code="metered", name="Metered", currency="USD", interval_unit="month", charges=[charge]
                ),
                metadata=auth(key),
            )
            tenants = [await _tenant(stubs, key) for _ in range(STREAMS)]
            when.FromDatetime(datetime.now(UTC))  # usage from after the subscriptions started
            emitters = [Emitter(f"e{n}", organization_id) for n, (organization_id, _) in enumerate(tenants)]
            everything = list(range(1, BATCHES_PER_STREAM + 1))
            sending = [asyncio.create_task(e.send(stubs, key, everything, when)) for e in emitters]
            # Kill it with batches in flight: after some answers, long before all of them.
            while sum(len(e.acknowledged) for e in emitters) < STREAMS * 3:  # noqa: ASYNC110 (polling a client)
                await asyncio.sleep(0.01)
            server.process.kill()
            await asyncio.gather(*sending)
    acknowledged_before = {e.name: dict(e.acknowledged) for e in emitters}
    assert all(0 < len(acks) < BATCHES_PER_STREAM for acks in acknowledged_before.values()), "not killed mid-traffic"
    answers = [a for acks in acknowledged_before.values() for a in acks.values()]
    assert all(a.accepted == BATCH for a in answers), [(a.batch_id, a.results[0].reason) for a in answers]

    async with serve(data) as restarted, aio.insecure_channel(restarted.address) as channel:
        stubs = Stubs.on(channel)
        # What the client must do: resend every batch it has no answer for (and, here, one it has).
        for emitter in emitters:
            unanswered = [b for b in everything if b not in acknowledged_before[emitter.name]]
            emitter.acknowledged.clear()
            await emitter.send(stubs, key, [*unanswered, min(acknowledged_before[emitter.name])], when)
            assert set(emitter.acknowledged) == {*unanswered, min(acknowledged_before[emitter.name])}
            resent_answer = emitter.acknowledged[min(acknowledged_before[emitter.name])]
            assert (resent_answer.duplicates, resent_answer.accepted) == (BATCH, 0)
        await asyncio.sleep(0.5)  # the usage read model follows the log
        for emitter, (_, subscription_id) in zip(emitters, tenants, strict=True):
            for _ in range(50):
                counted = await _counted(stubs, key, subscription_id)
                if counted >= BATCH * BATCHES_PER_STREAM:
                    break
                await asyncio.sleep(0.2)
            assert counted == BATCH * BATCHES_PER_STREAM, emitter.name  # every event once: none lost, none twice
