"""Usage metering through the real server on the MongoDB-wire store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc import aio

from billing.v1 import catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2, usage_pb2_grpc
from tests.e2e.conftest import Running, auth
from tests.e2e.world import Stubs, Tenant, World
from tests.rpc_errors import details_of

ACCEPTED = usage_pb2.UsageResult.OUTCOME_ACCEPTED
DUPLICATE = usage_pb2.UsageResult.OUTCOME_DUPLICATE
REJECTED = usage_pb2.UsageResult.OUTCOME_REJECTED


def ts(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


@dataclass
class Metered:
    running: Running
    stubs: Stubs
    usage: usage_pb2_grpc.UsageServiceStub
    organization_id: str
    subscription_id: str
    emitter: tuple[tuple[str, str], ...]

    def event(self, key: str, meter: str = "calls", quantity: str = "1", **fields: object) -> usage_pb2.UsageEvent:
        fields.setdefault("organization_id", self.organization_id)
        fields.setdefault("timestamp", ts(self.running.clock.now()))
        return usage_pb2.UsageEvent(meter_code=meter, quantity=quantity, idempotency_key=key, **fields)  # type: ignore[arg-type]

    async def record(self, *events: usage_pb2.UsageEvent) -> usage_pb2.RecordUsageResponse:
        return await self.usage.RecordUsage(usage_pb2.RecordUsageRequest(events=events), metadata=self.emitter)

    async def summary(self) -> dict[str, tuple[str, int]]:
        await self.running.app.projections.wait_until(await self.running.app.store.head_position())
        answer = await self.usage.GetUsageSummary(
            usage_pb2.GetUsageSummaryRequest(subscription_id=self.subscription_id), metadata=self.running.admin
        )
        return {m.meter_code: (m.quantity, m.event_count) for m in answer.meters}


@pytest.fixture
async def metered(running: Running) -> AsyncIterator[Metered]:
    stubs = Stubs.on(running.channel)
    admin = running.admin
    meters = [
        ("calls", "sum", ""),
        ("users", "unique_count", "user_id"),
        ("seats", "max", ""),
        ("storage", "latest", ""),
        ("logins", "count", ""),
        ("other", "sum", ""),
    ]
    for code, aggregation, prop in meters:
        await stubs.catalogue.CreateMeter(
            catalogue_pb2.CreateMeterRequest(code=code, name=code, aggregation=aggregation, property=prop),
            metadata=admin,
        )
    unit = catalogue_pb2.PerUnit(unit_price="0.5")
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="metered",
            name="Metered",
            currency="USD",
            interval_unit="month",
            base_fee_minor=1000,
            charges=[catalogue_pb2.Charge(meter_code=code, per_unit=unit) for code, _, _ in meters[:5]],
        ),
        metadata=admin,
    )
    org = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", external_id="acme"), metadata=admin
    )
    organization_id = org.organization.organization_id
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plan.plan.plan_id),
        metadata=admin,
    )
    world = World(running, stubs, Tenant(), Tenant())
    _, key = await world.user(organization_id, ("usage_emitter", organization_id))
    running.clock.advance(timedelta(hours=1))  # usage happens after the subscription started
    yield Metered(
        running,
        stubs,
        usage_pb2_grpc.UsageServiceStub(running.channel),
        organization_id,
        started.subscription.subscription_id,
        auth(key),
    )


async def test_every_aggregation_is_counted_and_priced(metered: Metered) -> None:
    response = await metered.record(
        metered.event("c1", "calls", "2.5"),
        metered.event("c2", "calls", "4"),
        metered.event("u1", "users", "1", properties={"user_id": "ada"}),
        metered.event("u2", "users", "1", properties={"user_id": "bob"}),
        metered.event("u3", "users", "1", properties={"user_id": "ada"}),
        metered.event("s1", "seats", "7"),
        metered.event("s2", "seats", "3"),
        metered.event("g1", "storage", "10", timestamp=ts(metered.running.clock.now() - timedelta(seconds=1))),
        metered.event("g2", "storage", "-2"),
        metered.event("l1", "logins", ""),
        metered.event("l2", "logins", ""),
    )

    assert [r.outcome for r in response.results] == [ACCEPTED] * 11
    assert (response.accepted, response.duplicates, response.rejected) == (11, 0, 0)
    assert await metered.summary() == {
        "calls": ("6.5", 2),
        "users": ("2", 3),
        "seats": ("7", 2),
        "storage": ("-2", 2),
        "logins": ("2", 2),
    }
    preview = await metered.usage.PreviewInvoice(
        usage_pb2.PreviewInvoiceRequest(subscription_id=metered.subscription_id), metadata=metered.running.admin
    )
    amounts = {line.meter_code or line.kind: line.amount_minor for line in preview.lines}
    # 6.5 x 0.5 = 3.25 → 3; 2 x 0.5 = 1; 7 x 0.5 = 3.5 → 4 (half-up); -2 x 0.5 → a negative
    # latest prices at zero; 2 x 0.5 = 1; the base fee of the next period in advance.
    assert amounts == {"calls": 3, "users": 1, "seats": 4, "logins": 1, "base_fee": 1000}
    assert preview.total_minor == 1009 and preview.currency == "USD"


async def test_a_key_counts_once_across_retries_batches_and_concurrent_streams(metered: Metered) -> None:
    first = await metered.record(metered.event("k1", quantity="1"), metered.event("k1", quantity="100"))
    assert [r.outcome for r in first.results] == [ACCEPTED, DUPLICATE]
    again = await metered.record(metered.event("k1", quantity="1"))
    assert [r.outcome for r in again.results] == [DUPLICATE]

    async def stream(offset: int) -> list[int]:
        async def batches() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
            for b in range(5):
                keys = [f"s{(offset + b * 10 + i) % 60}" for i in range(20)]
                yield usage_pb2.StreamUsageRequest(batch_id=b, events=[metered.event(k) for k in keys])

        call = metered.usage.StreamUsage(batches(), metadata=metered.emitter)
        return [r.outcome async for ack in call for r in ack.results]

    outcomes = [o for per_stream in await asyncio.gather(*(stream(o) for o in (0, 7, 13, 29))) for o in per_stream]
    assert outcomes.count(ACCEPTED) == 60  # 60 distinct keys among 400 overlapping events
    assert outcomes.count(DUPLICATE) == 340
    assert (await metered.summary())["calls"] == ("61", 61)


async def test_a_stream_broken_mid_batch_loses_nothing_acknowledged(metered: Metered) -> None:
    acknowledged: list[int] = []

    async def batches() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
        for b in range(10):
            yield usage_pb2.StreamUsageRequest(batch_id=b, events=[metered.event(f"b{b}-{i}") for i in range(50)])

    call = metered.usage.StreamUsage(batches(), metadata=metered.emitter)
    async for ack in call:
        acknowledged.append(ack.batch_id)
        if len(acknowledged) == 3:
            call.cancel()  # the client goes away with batches in flight
            break

    async def resend() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
        for b in range(10):  # everything not acknowledged, and the acknowledged ones again
            yield usage_pb2.StreamUsageRequest(batch_id=b, events=[metered.event(f"b{b}-{i}") for i in range(50)])

    outcomes = [ack async for ack in metered.usage.StreamUsage(resend(), metadata=metered.emitter)]
    for ack in outcomes:
        if ack.batch_id in acknowledged:
            assert ack.duplicates == 50
    assert (await metered.summary())["calls"] == ("500", 500)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"idempotency_key": ""}, "missing_idempotency_key"),
        ({"idempotency_key": "x" * 257}, "invalid_idempotency_key"),
        ({"organization_id": "org_missing"}, "unknown_organization"),
        ({"meter_code": "nope"}, "unknown_meter"),
        ({"meter_code": "other"}, "no_active_subscription"),
        ({"quantity": "NaN"}, "invalid_quantity"),
        ({"quantity": "Infinity"}, "invalid_quantity"),
        ({"quantity": "1e400"}, "invalid_quantity"),
        ({"quantity": "0.5e0.1"}, "invalid_quantity"),
        ({"quantity": ""}, "invalid_quantity"),
        ({"meter_code": "seats", "quantity": "-1"}, "negative_quantity_not_allowed"),
        ({"timestamp": None}, "missing_timestamp"),
        ({"timestamp": "future"}, "timestamp_in_future"),
        ({"timestamp": "before-start"}, "no_active_subscription"),
        ({"meter_code": "users"}, "invalid_properties"),
    ],
)
async def test_every_rejection_reason(metered: Metered, overrides: dict[str, object], reason: str) -> None:
    fields: dict[str, object] = {"idempotency_key": "r1", "meter_code": "calls", "quantity": "1"}
    fields.update(overrides)
    now = metered.running.clock.now()
    stamps = {"future": ts(now + timedelta(minutes=6)), "before-start": ts(now - timedelta(days=1))}
    event = usage_pb2.UsageEvent(
        organization_id=str(fields.get("organization_id", metered.organization_id)),
        meter_code=str(fields["meter_code"]),
        quantity=str(fields["quantity"]),
        idempotency_key=str(fields["idempotency_key"]),
    )
    if "timestamp" not in overrides:
        event.timestamp.CopyFrom(ts(now))
    elif overrides["timestamp"] is not None:
        event.timestamp.CopyFrom(stamps[str(overrides["timestamp"])])
    head = await metered.running.app.store.head_position()

    response = await metered.record(event)

    assert [(r.outcome, r.reason) for r in response.results] == [(REJECTED, reason)]
    assert response.results[0].message
    assert await metered.running.app.store.head_position() == head


async def test_usage_for_another_tenant_is_refused_like_an_unknown_organization(metered: Metered) -> None:
    other = await metered.stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Other", currency="USD"), metadata=metered.running.admin
    )
    response = await metered.record(metered.event("x1", organization_id=other.organization.organization_id))
    assert [(r.outcome, r.reason) for r in response.results] == [(REJECTED, "unknown_organization")]


async def test_organizations_can_be_named_by_external_id(metered: Metered) -> None:
    response = await metered.record(metered.event("e1", organization_id="", external_id="acme"))
    assert [r.outcome for r in response.results] == [ACCEPTED]


async def test_oversized_and_empty_batches_are_refused_whole(metered: Metered) -> None:
    with pytest.raises(aio.AioRpcError) as raised:
        await metered.record(*[metered.event(f"big{i}") for i in range(5001)])
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details_of(raised.value).reason == "batch_too_large"
    with pytest.raises(aio.AioRpcError) as raised:
        await metered.record()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await metered.summary())["calls"] == ("0", 0)


async def test_a_stream_is_read_one_batch_at_a_time_so_a_slow_store_slows_the_acks(metered: Metered) -> None:
    app = metered.running.app
    real = app.usage
    in_flight, peak = 0, 0

    class SlowStore:
        """Ingestion as if the store took 50 ms per batch, counting batches in progress."""

        catalog = real.catalog

        async def ingest(self, context: object, batch: list[object]) -> object:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await asyncio.sleep(0.05)
                return await real.ingest(context, batch)  # type: ignore[arg-type]
            finally:
                in_flight -= 1

    app.usage = SlowStore()  # type: ignore[assignment]
    try:

        async def eager() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
            for b in range(8):  # the client writes as fast as it can
                yield usage_pb2.StreamUsageRequest(
                    batch_id=b, events=[metered.event(f"slow{b}-{i}") for i in range(10)]
                )

        acks = [ack.batch_id async for ack in metered.usage.StreamUsage(eager(), metadata=metered.emitter)]
    finally:
        app.usage = real
    assert acks == list(range(8))
    assert peak == 1  # never more than one batch of a stream held by the server


async def test_streams_beyond_the_limit_are_refused_and_a_stream_ends_after_its_time(metered: Metered) -> None:
    app = metered.running.app
    app.settings = app.settings.model_copy(update={"max_usage_streams": 1, "max_stream_seconds": 0.5})
    more = asyncio.Event()

    async def held_open() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
        yield usage_pb2.StreamUsageRequest(batch_id=1, events=[metered.event("h1")])
        await more.wait()  # the stream stays open, between batches
        yield usage_pb2.StreamUsageRequest(batch_id=2, events=[metered.event("h2")])

    first = metered.usage.StreamUsage(held_open(), metadata=metered.emitter)
    assert (await first.read()).accepted == 1

    async def one() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
        yield usage_pb2.StreamUsageRequest(batch_id=1, events=[metered.event("o1")])

    with pytest.raises(aio.AioRpcError) as refused:
        [_ async for _ in metered.usage.StreamUsage(one(), metadata=metered.emitter)]
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details_of(refused.value).reason == "too_many_streams"

    await asyncio.sleep(0.6)  # past the first stream's time: its next ack is its last
    more.set()
    assert (await first.read()).accepted == 1  # the batch in flight is acknowledged (durable) first
    with pytest.raises(aio.AioRpcError) as ended:
        await first.read()
    assert ended.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert details_of(ended.value).reason == "stream_duration_exceeded"

    # Its slot is free again: a new stream is served, and everything acknowledged counted once.
    assert [a.accepted async for a in metered.usage.StreamUsage(one(), metadata=metered.emitter)] == [1]
    assert (await metered.summary())["calls"] == ("3", 3)
