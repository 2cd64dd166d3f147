"""kill -9 the server in the middle of a billing run: after a restart, one invoice per period, charged once.

A real `billing-grpc serve` process on a test clock bills many subscriptions at a period end
(AdvanceClock runs the billing cycle). It is killed with SIGKILL while the run is under way,
started again on the same on-disk data, and the run is repeated. The read models and the
gateway's ledger, read straight from the store, then show exactly one invoice per subscription
period, every one paid, and every charge captured once.
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

from billing.v1 import billing_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2
from tests.e2e.world import Stubs
from tests.integration.test_serve_process import auth, serve

pytestmark = pytest.mark.slow

SUBSCRIPTIONS = 60
START = datetime(2026, 1, 1, tzinfo=UTC)
AFTER_PERIOD_END = datetime(2026, 2, 1, 1, tzinfo=UTC)


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


async def _subscribe_everyone(stubs: Stubs, key: str) -> None:
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="flat", name="Flat", currency="USD", interval_unit="month", base_fee_minor=1000
        ),
        metadata=auth(key),
    )
    for number in range(SUBSCRIPTIONS):
        created = await stubs.organizations.CreateOrganization(
            organizations_pb2.CreateOrganizationRequest(
                name=f"Customer {number}", currency="USD", payment_method="pm_ok"
            ),
            metadata=auth(key),
        )
        await stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(
                organization_id=created.organization.organization_id, plan_id=plan.plan.plan_id
            ),
            metadata=auth(key),
        )


async def _first_cycle_payments(store_uri: str) -> None:
    """Return once a few of the run's invoices are paid (the openings were paid before it)."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(store_uri)
    try:
        paid = {"type": "invoice.paid"}
        while await client["billing"]["events"].count_documents(paid) < SUBSCRIPTIONS + 3:  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.02)
    finally:
        await client.close()


async def test_a_billing_run_killed_midway_bills_each_period_once_after_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_TEST_CLOCK", START.isoformat())
    monkeypatch.setenv("BILLING_GRACE_PERIOD_SECONDS", "0")
    monkeypatch.setenv("BILLING_SCHEDULER", "false")
    data = tmp_path / "data"
    advance = billing_pb2.AdvanceClockRequest(to=_timestamp(AFTER_PERIOD_END))
    async with serve(data) as server:
        key = await server.admin_key()
        async with aio.insecure_channel(server.address) as channel:
            stubs = Stubs.on(channel)
            await _subscribe_everyone(stubs, key)
            await stubs.billing.RunBillingCycle(billing_pb2.RunBillingCycleRequest(), metadata=auth(key))
            running = asyncio.ensure_future(stubs.billing.AdvanceClock(advance, metadata=auth(key)))
            await _first_cycle_payments(server.store_uri())
            assert not running.done(), "the billing run ended before the kill"
            server.process.kill()
            with pytest.raises(aio.AioRpcError):
                await running

    async with serve(data) as restarted:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(restarted.store_uri(), tz_aware=True)
        database = client["billing"]
        # The log as the kill left it: the run had begun (periods closed) and not ended (some unpaid).
        issued = await database["events"].count_documents({"type": "invoice.issued"})
        paid = await database["events"].count_documents({"type": "invoice.paid"})
        assert SUBSCRIPTIONS < paid < 2 * SUBSCRIPTIONS, (issued, paid)  # openings count once each
        async with aio.insecure_channel(restarted.address) as channel:
            stubs = Stubs.on(channel)
            # The test clock starts again at its configured time; the run picks up where the log is.
            await stubs.billing.AdvanceClock(advance, metadata=auth(key))
            await stubs.billing.RunBillingCycle(billing_pb2.RunBillingCycleRequest(), metadata=auth(key))
        try:
            invoices = await database["rm_invoices"].find({"reason": "subscription_cycle"}).to_list()
            charges = await database["gateway_charges"].find({}).to_list()
        finally:
            await client.close()

    periods = Counter((invoice["subscription_id"], invoice["usage_period_start"]) for invoice in invoices)
    assert len(periods) == SUBSCRIPTIONS and set(periods.values()) == {1}  # one invoice per period
    assert {invoice["status"] for invoice in invoices} == {"paid"}
    cycle_ids = {invoice["_id"] for invoice in invoices}
    captured = Counter(charge["invoice_id"] for charge in charges if charge["succeeded"])
    assert {invoice_id: captured[invoice_id] for invoice_id in cycle_ids} == dict.fromkeys(cycle_ids, 1)
