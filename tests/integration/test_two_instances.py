"""Two server processes on one store: overlapping usage and two billing runs at once, then a verified replay.

Both instances take the same usage (every key sent to both, concurrently) and both run the
billing cycle for the same period end at the same moment (each on its test clock, advanced by
`AdvanceClock` on both at once; the schedulers are on too). Afterwards every key is counted
once, every period has one invoice charged once, and `billing-grpc replay --verify` finds the
hash chain intact and every read model identical to a rebuild from position 0.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio
from pymongo import AsyncMongoClient

from billing.v1 import billing_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from billing_grpc.embedded import EmbeddedMongo, free_port
from tests.e2e.world import Stubs
from tests.integration.test_audit_cli import cli
from tests.integration.test_serve_process import auth, serve

pytestmark = pytest.mark.slow

START = datetime(2026, 1, 1, tzinfo=UTC)
USAGE_AT = datetime(2026, 1, 10, tzinfo=UTC)
AFTER_PERIOD_END = datetime(2026, 2, 1, 1, tzinfo=UTC)
ORGANIZATIONS = 10
KEYS = 300


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def _customers(stubs: Stubs, key: str) -> list[tuple[str, str]]:
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="calls", name="Calls", aggregation="sum"), metadata=auth(key)
    )
    charge = catalogue_pb2.Charge(meter_code="calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="metered", name="Metered", currency="USD", interval_unit="month", base_fee_minor=500, charges=[charge]
        ),
        metadata=auth(key),
    )
    customers = []
    for number in range(ORGANIZATIONS):
        created = await stubs.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(name=f"C{number}", currency="USD", payment_method="pm_ok"),
            metadata=auth(key),
        )
        started = await stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(
                organization_id=created.organization.organization_id, plan_id=plan.plan.plan_id
            ),
            metadata=auth(key),
        )
        customers.append((created.organization.organization_id, started.subscription.subscription_id))
    return customers


async def _send_everything(stubs: Stubs, key: str, customers: list[tuple[str, str]]) -> int:
    """Every customer's keys in batches of 100; the number of events this instance accepted."""
    when = _timestamp(USAGE_AT)
    accepted = 0
    for organization_id, _ in customers:
        for first in range(0, KEYS, 100):
            events = [
                usage_pb2.UsageEvent(
                    organization_id=organization_id,
                    meter_code="calls",
                    quantity="2",
                    timestamp=when,
                    idempotency_key=f"k{n}",
                )
                for n in range(first, first + 100)
            ]
            answer = await stubs.usage.RecordUsage(usage_pb2.RecordUsageRequest(events=events), metadata=auth(key))
            assert answer.rejected == 0
            accepted += answer.accepted
    return accepted


async def test_two_instances_count_each_key_once_bill_each_period_once_and_replay_verifies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_TEST_CLOCK", START.isoformat())
    monkeypatch.setenv("BILLING_GRACE_PERIOD_SECONDS", "0")
    monkeypatch.setenv("BILLING_SCHEDULER", "true")
    # Instances of one deployment share the key-hashing secret (else each would keep its own).
    monkeypatch.setenv("BILLING_KEY_HASH_SECRET", "two-instances-share-this-secret-0123456789")
    store = EmbeddedMongo(tmp_path / "mongo", port=free_port())
    store.start()
    try:
        async with (
            serve(tmp_path / "one", mongo_uri=store.uri) as one,
            serve(tmp_path / "two", mongo_uri=store.uri) as two,
        ):
            key = await one.admin_key()  # the first start of the deployment printed it; the other found it
            async with aio.insecure_channel(one.address) as first, aio.insecure_channel(two.address) as second:
                stubs = [Stubs.on(first), Stubs.on(second)]
                customers = await _customers(stubs[0], key)
                await asyncio.sleep(1.0)  # the second instance's read models follow the log
                mid_january = billing_pb2.AdvanceClockRequest(to=_timestamp(USAGE_AT))
                await asyncio.gather(*(s.billing.AdvanceClock(mid_january, metadata=auth(key)) for s in stubs))
                accepted = await asyncio.gather(*(_send_everything(s, key, customers) for s in stubs))
                assert sum(accepted) == ORGANIZATIONS * KEYS  # overlapping keys: each accepted by one instance
                advance = billing_pb2.AdvanceClockRequest(to=_timestamp(AFTER_PERIOD_END))
                await asyncio.gather(*(s.billing.AdvanceClock(advance, metadata=auth(key)) for s in stubs))
                await asyncio.gather(*(s.billing.AdvanceClock(advance, metadata=auth(key)) for s in stubs))

        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(store.uri, tz_aware=True)
        try:
            database = client["billing"]
            invoices = await database["rm_invoices"].find({"reason": "subscription_cycle"}).to_list()
            charges = await database["gateway_charges"].find({"succeeded": True}).to_list()
            totals = await database["rm_usage_totals"].find({}).to_list()
        finally:
            await client.close()
        assert sum(int(str(t["event_count"])) for t in totals) == ORGANIZATIONS * KEYS
        periods = Counter((invoice["subscription_id"], invoice["usage_period_start"]) for invoice in invoices)
        assert len(periods) == ORGANIZATIONS and set(periods.values()) == {1}
        # 500 in advance for February + 300 keys x 2 calls x 1 in arrears for January, each invoice.
        assert {(invoice["status"], invoice["total_minor"]) for invoice in invoices} == {("paid", 500 + KEYS * 2)}
        captured = Counter(str(charge["invoice_id"]) for charge in charges)
        assert all(captured[str(invoice["_id"])] == 1 for invoice in invoices)

        verified = await cli(store.uri, "billing", "replay", "--verify")
        assert verified.code == 0, verified.stdout + verified.stderr
    finally:
        store.stop()
