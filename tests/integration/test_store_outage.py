"""The store goes away under traffic: calls fail fast with UNAVAILABLE, and the server recovers alone.

A real `billing-grpc serve` process runs on a MongoDB-wire store of its own (MONGO_URI), which
the test stops while usage is being recorded and starts again on the same data and port. While
it is down every call answers UNAVAILABLE within the store timeout (never hangs, never INTERNAL);
once it is back the same server process records usage and answers queries again, without a
restart, and nothing acknowledged before the outage is lost.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from billing.v1 import catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from billing_grpc.embedded import EmbeddedMongo, free_port
from tests.e2e.world import Stubs
from tests.integration.test_serve_process import auth, serve

pytestmark = pytest.mark.slow

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _usage(organization_id: str, keys: range, when: Timestamp) -> usage_pb2.RecordUsageRequest:
    events = [
        usage_pb2.UsageEvent(
            organization_id=organization_id, meter_code="calls", quantity="1", timestamp=when, idempotency_key=f"k{n}"
        )
        for n in keys
    ]
    return usage_pb2.RecordUsageRequest(events=events)


async def test_store_down_calls_fail_fast_and_health_is_not_serving_then_everything_recovers(tmp_path: Path) -> None:
    store = EmbeddedMongo(tmp_path / "mongo", port=free_port())
    store.start()
    try:
        async with serve(tmp_path / "data", mongo_uri=store.uri) as server:
            key = await server.admin_key()
            async with aio.insecure_channel(server.address) as channel:
                stubs = Stubs.on(channel)
                await stubs.catalogue.CreateMeter(
                    catalogue_pb2.CreateMeterRequest(code="calls", name="Calls", aggregation="count"),
                    metadata=auth(key),
                )
                charge = catalogue_pb2.Charge(meter_code="calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
                plan = await stubs.catalogue.CreatePlan(
                    catalogue_pb2.CreatePlanRequest(
                        code="metered", name="Metered", currency="USD", interval_unit="month", charges=[charge]
                    ),
                    metadata=auth(key),
                )
                created = await stubs.organizations.CreateOrganization(
                    organizations_pb2.CreateOrganizationRequest(name="Outage", currency="USD"), metadata=auth(key)
                )
                organization_id = created.organization.organization_id
                started = await stubs.subscriptions.StartSubscription(
                    subscriptions_pb2.StartSubscriptionRequest(
                        organization_id=organization_id, plan_id=plan.plan.plan_id
                    ),
                    metadata=auth(key),
                )
                when = Timestamp()
                when.FromDatetime(datetime.now(UTC))
                before = await stubs.usage.RecordUsage(_usage(organization_id, range(100), when), metadata=auth(key))
                assert before.accepted == 100

                # The balancer's view: health follows the store (a stream of status changes).
                health = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(), timeout=60)
                assert (await health.read()).status == SERVING

                store.stop()
                assert (await health.read()).status == NOT_SERVING
                for request in (
                    _usage(organization_id, range(100, 200), when),
                    _usage(organization_id, range(200, 300), when),
                ):
                    began = time.monotonic()
                    with pytest.raises(aio.AioRpcError) as refused:
                        await stubs.usage.RecordUsage(request, metadata=auth(key), timeout=30)
                    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, refused.value
                    assert time.monotonic() - began < 15  # fails fast: the store timeout, not the caller's

                store.start()  # same data, same port: the server was never restarted
                assert (await health.read()).status == SERVING
                health.cancel()
                after = await stubs.usage.RecordUsage(
                    _usage(organization_id, range(100, 300), when), metadata=auth(key)
                )
                assert after.accepted + after.duplicates == 200 and after.rejected == 0
                resent = await stubs.usage.RecordUsage(_usage(organization_id, range(100), when), metadata=auth(key))
                assert resent.duplicates == 100  # what was acknowledged before the outage survived it
                # The read side recovered too: the usage projection follows the log past the outage.
                request = usage_pb2.GetUsageSummaryRequest(subscription_id=started.subscription.subscription_id)
                for _ in range(100):
                    summary = await stubs.usage.GetUsageSummary(request, metadata=auth(key))
                    if sum(meter.event_count for meter in summary.meters) == 300:
                        break
                    await asyncio.sleep(0.1)
                assert sum(meter.event_count for meter in summary.meters) == 300
    finally:
        store.stop()
