"""UsageEmitter against the real server: thousands of events counted once, across stream limits and a restart."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import cast

import grpc
import pytest
from grpc import aio

from billing.v1 import catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2, usage_pb2_grpc
from billing_grpc.api.server import create_server
from billing_grpc.client import BillingClient, UsageEmitter, UsageEmitterError, UsageStream, connect
from tests.e2e.conftest import Running, start_running
from tests.e2e.world import Stubs, Tenant, World


@dataclass
class Metered:
    """An organization subscribed to a plan charging `api_calls`, and a usage emitter's key for it."""

    running: Running
    organization_id: str
    subscription_id: str
    emitter_key: str

    async def counted(self, client: BillingClient) -> int:
        """How many events the usage read model holds for the subscription's period."""
        app = self.running.app
        await app.projections.wait_until(await app.store.head_position())
        summary = await client.usage.GetUsageSummary(
            usage_pb2.GetUsageSummaryRequest(subscription_id=self.subscription_id),
            metadata=self.running.admin,
        )
        return sum(meter.event_count for meter in summary.meters)


async def subscribe(running: Running) -> Metered:
    """Set up an organization with a metered subscription and a usage_emitter key for it."""
    stubs = Stubs.on(running.channel)
    admin = running.admin
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=admin
    )
    charge = catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="0.1"))
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="metered", name="Metered", currency="USD", interval_unit="month", charges=[charge]
        ),
        metadata=admin,
    )
    org = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD"), metadata=admin
    )
    organization_id = org.organization.organization_id
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plan.plan.plan_id),
        metadata=admin,
    )
    _, key = await World(running, stubs, Tenant(), Tenant()).user(organization_id, ("usage_emitter", organization_id))
    running.clock.advance(timedelta(hours=1))  # usage happens after the subscription started
    return Metered(running, organization_id, started.subscription.subscription_id, key)


@pytest.fixture
async def metered(running: Running) -> Metered:
    return await subscribe(running)


async def test_thousands_of_events_with_repeated_keys_are_each_counted_once(metered: Metered) -> None:
    events, repeats = 6000, 400
    client = BillingClient.connect(f"127.0.0.1:{metered.running.server.port}", metered.emitter_key)
    async with client, client.usage_emitter(clock=metered.running.clock.now, max_batch_size=500) as emitter:
        for n in range(events):
            await emitter.emit("api_calls", "1", organization_id=metered.organization_id, idempotency_key=f"e{n}")
        for n in range(repeats):  # a caller resending some of its own events: same keys
            await emitter.emit("api_calls", "1", organization_id=metered.organization_id, idempotency_key=f"e{n * 7}")
        await emitter.emit("nope", "1", organization_id=metered.organization_id, idempotency_key="bad")
    stats = emitter.stats
    assert (stats.accepted, stats.duplicates, stats.rejected) == (events, repeats, 1)
    assert stats.rejection_reasons == {"unknown_meter": 1}
    assert stats.reconnects == 0 and stats.batches_resent == 0
    async with BillingClient.connect(f"127.0.0.1:{metered.running.server.port}", metered.running.admin_token) as admin:
        assert await metered.counted(admin) == events


async def test_streams_ended_by_the_servers_time_limit_are_reopened_and_nothing_is_lost(metered: Metered) -> None:
    app = metered.running.app
    # Every stream now ends right after its first ack (`stream_duration_exceeded`).
    app.settings = app.settings.model_copy(update={"max_stream_seconds": 0.000001})
    client = BillingClient.connect(f"127.0.0.1:{metered.running.server.port}", metered.emitter_key)
    async with client, client.usage_emitter(clock=metered.running.clock.now, max_batch_size=100) as emitter:
        for n in range(1000):
            await emitter.emit("api_calls", "1", organization_id=metered.organization_id, idempotency_key=f"t{n}")
    assert emitter.stats.accepted + emitter.stats.duplicates == 1000
    assert emitter.stats.reconnects >= 5  # streams really ended and were reopened
    async with BillingClient.connect(f"127.0.0.1:{metered.running.server.port}", metered.running.admin_token) as admin:
        assert await metered.counted(admin) == 1000


def _example() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "examples" / "emit_usage.py"
    spec = importlib.util.spec_from_file_location("emit_usage_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_client_emits_and_a_second_run_counts_nothing_twice(metered: Metered) -> None:
    example = _example()
    target = f"127.0.0.1:{metered.running.server.port}"
    args = (target, metered.emitter_key, metered.organization_id, "api_calls", 300)
    first = await example.emit_usage(*args, clock=metered.running.clock.now)
    again = await example.emit_usage(*args, clock=metered.running.clock.now)
    assert (first.accepted, first.duplicates, again.accepted, again.duplicates) == (300, 0, 0, 300)


async def test_a_bad_key_surfaces_as_unauthenticated_instead_of_retrying(running: Running) -> None:
    channel = connect(f"127.0.0.1:{running.server.port}", "bgk_0000000000000000_" + "x" * 43)
    async with channel, UsageEmitter.on(channel, initial_backoff=0.01) as emitter:
        await emitter.emit("api_calls", "1", organization_id="org_x")
        with pytest.raises(UsageEmitterError) as failed:
            await emitter.flush()
        assert failed.value.code == grpc.StatusCode.UNAUTHENTICATED
        assert failed.value.reason == "invalid_credentials"
        assert emitter.stats.reconnects == 0
        with pytest.raises(UsageEmitterError):
            await emitter.close()


class Watched:
    """Opens real StreamUsage calls for the emitter and tells the test how far they got."""

    def __init__(self, channel: aio.Channel, acked_events: int) -> None:
        self._stub = usage_pb2_grpc.UsageServiceStub(channel)
        self._acked_events = acked_events
        self.opened = 0
        self.acked = 0
        self.enough_acked = asyncio.Event()
        self.reopened_twice = asyncio.Event()  # two attempts after the first stream

    def open(self) -> UsageStream:
        self.opened += 1
        if self.opened >= 3:
            self.reopened_twice.set()
        call = self._stub.StreamUsage()
        original = call.read

        async def read() -> object:
            ack = await original()
            if ack is not aio.EOF:
                self.acked += len(ack.results)
                if self.acked >= self._acked_events:
                    self.enough_acked.set()
            return ack

        call.read = read
        return cast(UsageStream, call)


async def test_a_server_restart_mid_stream_loses_and_doubles_nothing(mongo_uri: str, database_name: str) -> None:
    starting: AsyncIterator[Running] = start_running(mongo_uri, database_name)
    running = await anext(starting)
    try:
        metered = await subscribe(running)
        port = running.server.port
        total = 4000
        channel = connect(f"127.0.0.1:{port}", metered.emitter_key)
        watched = Watched(channel, acked_events=600)
        emitter = UsageEmitter(
            watched.open,
            clock=running.clock.now,
            max_batch_size=200,
            linger=0.01,
            initial_backoff=0.02,
            max_backoff=0.2,
        )

        async def produce() -> None:
            for n in range(total):
                await emitter.emit("api_calls", "1", organization_id=metered.organization_id, idempotency_key=f"r{n}")

        producing = asyncio.create_task(produce())
        await watched.enough_acked.wait()
        await running.server.stop(grace=0)  # the server goes away with batches in flight
        await watched.reopened_twice.wait()  # the emitter found it gone, and keeps trying
        assert emitter.stats.acknowledged < total, "stopped too late to be mid-stream"
        # The same store and the same port: what a restarted instance looks like to the client.
        restarted = create_server(running.app, listen=f"127.0.0.1:{port}")
        await restarted.start()
        running.server = restarted  # start_running stops whichever server is current
        await producing
        await emitter.close()
        await channel.close()

        stats = emitter.stats
        assert stats.accepted + stats.duplicates == total and stats.rejected == 0
        assert stats.batches_resent >= 1
        async with BillingClient.connect(f"127.0.0.1:{port}", running.admin_token) as admin:
            assert await metered.counted(admin) == total  # every event once: none lost, none twice
    finally:
        await starting.aclose()
