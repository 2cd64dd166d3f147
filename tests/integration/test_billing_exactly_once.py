"""Exactly one invoice per period and never a second charge: duplicates, races, restarts and crashes.

Each test runs on the in-memory store and on the MongoDB-wire store. A "crash" is an exception
thrown at a step boundary; recovery is a fresh application (a restarted instance) on the same
store running the billing cycle again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pymongo import AsyncMongoClient

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.bootstrap import App, open_app, open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.errors import ConcurrencyConflict
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.usage import UsageInput
from billing_grpc.eventstore import EventFilter
from billing_grpc.payments import ChargeRequest, ChargeResult
from billing_grpc.settings import Settings
from tests.e2e.conftest import TEST_KEY_HASH_SECRET

START = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
CONTEXT = system_context()

AppFactory = Callable[[], AbstractAsyncContextManager[App]]


@dataclass
class Deployment:
    """A store several app instances can open, one test clock, and one customer to bill."""

    open: AppFactory
    clock: TestClock
    organization_id: str = ""
    subscription_id: str = ""


@pytest.fixture(params=["memory", "mongo"])
async def deployment(request: pytest.FixtureRequest, database_name: str) -> AsyncIterator[Deployment]:
    clock = TestClock(START)
    settings = Settings(
        database=database_name, key_hash_secret=TEST_KEY_HASH_SECRET, grace_period_seconds=3600, scheduler=False
    )
    if request.param == "memory":
        # One in-memory application is the whole store: "instances" share it.
        async with open_in_memory_app(settings, clock=clock) as shared:

            def same() -> AbstractAsyncContextManager[App]:
                return _borrowed(shared)

            yield await _customer(Deployment(same, clock))
        return
    settings = settings.model_copy(update={"mongo_uri": request.getfixturevalue("mongo_uri")})

    def fresh() -> AbstractAsyncContextManager[App]:
        return open_app(settings, clock=clock)

    deployed = await _customer(Deployment(fresh, clock))
    yield deployed
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(settings.mongo_uri)
    await client.drop_database(database_name)
    await client.close()


class _borrowed(AbstractAsyncContextManager[App]):
    def __init__(self, app: App) -> None:
        self._app = app

    async def __aenter__(self) -> App:
        return self._app

    async def __aexit__(self, *exc: object) -> None:
        return None


async def _customer(deployment: Deployment) -> Deployment:
    async with deployment.open() as app:
        await app.catalogue.create_meter(CONTEXT, "calls", "Calls", "sum", "")
        plan_id, _ = await app.catalogue.create_plan(
            CONTEXT, NewPlan("pro", "Pro", "USD", "month", 1, 2900, 0, [Charge("calls", PerUnit(Decimal("0.5")))])
        )
        deployment.organization_id, _ = await app.organizations.create(
            CONTEXT, NewOrganization("Acme", "USD", payment_method="pm_ok")
        )
        deployment.subscription_id, position = await app.subscriptions.start(
            CONTEXT, deployment.organization_id, plan_id, None, None
        )
        await app.projections.wait_until(position)
        batch = [UsageInput(deployment.organization_id, "calls", "10", START, f"k{i}", {}) for i in range(5)]
        assert {r.outcome for r in await app.usage.ingest(CONTEXT, batch)} == {Outcome.ACCEPTED}
        await app.projections.wait_until(await app.store.head_position())
    return deployment


async def invoices_of(app: App, subscription_id: str) -> list[dict[str, object]]:
    await app.projections.wait_until(await app.store.head_position())
    return await app.read_models.find("invoices", {"subscription_id": subscription_id}, sort=[("_id", 1)])


async def cycle_invoice(app: App, subscription_id: str) -> dict[str, object]:
    [invoice] = [i for i in await invoices_of(app, subscription_id) if i["reason"] == "subscription_cycle"]
    return invoice


async def logged(app: App, event_type: str) -> int:
    return len(await app.store.read_all(0, EventFilter(types=frozenset({event_type})), 10_000))


PERIOD_END = datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
GRACE_OVER = PERIOD_END + timedelta(hours=1)


async def test_duplicate_and_concurrent_closes_issue_one_invoice(deployment: Deployment) -> None:
    deployment.clock.advance_to(PERIOD_END)
    async with deployment.open() as app:
        raced = await asyncio.gather(
            *(app.billing.close_period(CONTEXT, deployment.subscription_id) for _ in range(10)),
            return_exceptions=True,
        )
        # Losers of the race are refused (ABORTED), never a second invoice.
        assert all(isinstance(r, int | ConcurrencyConflict) for r in raced), raced
        assert await app.billing.close_period(CONTEXT, deployment.subscription_id) == 0  # later: nothing due

        invoice = await cycle_invoice(app, deployment.subscription_id)
        assert invoice["total_minor"] == 2900 + 25  # next month's fee in advance, 50 calls at 0.5 in arrears
        assert await logged(app, "subscription.period_closed") == 1


async def test_two_instances_running_the_cycle_at_once_bill_each_period_once(deployment: Deployment) -> None:
    period_ends = [PERIOD_END, datetime(2026, 3, 31, 10, tzinfo=UTC), datetime(2026, 4, 30, 10, tzinfo=UTC)]
    async with deployment.open() as first, deployment.open() as second:
        for end in period_ends:
            for moment in (end, end + timedelta(hours=1)):  # the close, then the end of the grace period
                deployment.clock.advance_to(moment)
                await asyncio.gather(first.cycle.run(), second.cycle.run(), first.cycle.run())

        invoices = await invoices_of(first, deployment.subscription_id)
        periods = [i["usage_period_start"] for i in invoices if i["reason"] == "subscription_cycle"]
        assert len(periods) == len(set(periods)) == 3
        assert {i["status"] for i in invoices} == {"paid"}
        assert sorted(str(i["number"])[-4:] for i in invoices) == ["0001", "0002", "0003", "0004"]  # gapless
        for invoice in invoices:
            assert await first.gateway.captured_total(str(invoice["_id"])) == invoice["total_minor"]


async def test_a_restarted_scheduler_does_not_bill_a_period_again(deployment: Deployment) -> None:
    async with deployment.open() as app:
        await app.cycle.advance(deployment.clock, GRACE_OVER + timedelta(minutes=5))
    async with deployment.open() as restarted:
        report = await restarted.cycle.run()
        assert not report.did_something
        assert (await cycle_invoice(restarted, deployment.subscription_id))["status"] == "paid"
        assert await logged(restarted, "payment.succeeded") == 2  # the opening invoice and this one


class Crash(Exception):
    """The process died here."""


async def close_then_end_grace(app: App, deployment: Deployment) -> str:
    """Close the period at its end, move past the grace period; return the draft's id."""
    deployment.clock.advance_to(PERIOD_END)
    await app.billing.close_period(CONTEXT, deployment.subscription_id)
    deployment.clock.advance_to(GRACE_OVER)
    return str((await cycle_invoice(app, deployment.subscription_id))["_id"])


async def test_a_crash_after_the_close_finalizes_once_after_restart(deployment: Deployment) -> None:
    async with deployment.open() as app:
        await close_then_end_grace(app, deployment)  # and the process dies
    async with deployment.open() as restarted:
        await restarted.cycle.run()
        invoice = await cycle_invoice(restarted, deployment.subscription_id)
        assert invoice["status"] == "paid"
        assert await logged(restarted, "invoice.finalized") == 2  # the opening invoice and this one


async def test_a_crash_between_the_seal_and_the_finalization_finalizes_once(deployment: Deployment) -> None:
    async with deployment.open() as app:
        draft = await close_then_end_grace(app, deployment)

        class CrashAfterSeal:
            async def wait_until(self, position: int, timeout: float = 5.0) -> bool:
                raise Crash()

        with pytest.raises(Crash):
            await replace(app.billing, progress=CrashAfterSeal()).finalize(CONTEXT, draft)
        assert await logged(app, "subscription.usage_sealed") == 1
        assert await logged(app, "invoice.finalized") == 0
    async with deployment.open() as restarted:
        await restarted.cycle.run()
        assert await logged(restarted, "subscription.usage_sealed") == 1  # not sealed twice
        assert await logged(restarted, "invoice.finalized") == 2
        assert (await cycle_invoice(restarted, deployment.subscription_id))["status"] == "paid"


async def test_a_crash_after_the_finalization_charges_once_after_restart(deployment: Deployment) -> None:
    async with deployment.open() as app:
        draft = await close_then_end_grace(app, deployment)
        await app.billing.finalize(CONTEXT, draft)  # and the process dies before charging
        assert await logged(app, "payment.started") == 0
    async with deployment.open() as restarted:
        await restarted.cycle.run()
        await restarted.cycle.run()
        invoice = await cycle_invoice(restarted, deployment.subscription_id)
        assert (invoice["status"], invoice["attempts"]) == ("paid", 1)
        assert await restarted.gateway.captured_total(draft) == invoice["total_minor"]


async def test_a_crash_before_the_gateway_call_charges_once_with_the_recorded_key(deployment: Deployment) -> None:
    async with deployment.open() as app:

        class CrashBeforeCharging:
            async def charge(self, request: ChargeRequest) -> ChargeResult:
                raise Crash()

        draft = await close_then_end_grace(app, deployment)
        await app.billing.finalize(CONTEXT, draft)
        with pytest.raises(Crash):
            await replace(app.billing, gateway=CrashBeforeCharging()).collect(CONTEXT, draft)
        assert await logged(app, "payment.started") == 1
        assert await app.gateway.captured_total(draft) == 0
    deployment.clock.advance(timedelta(minutes=2))  # an unresolved attempt is resumed after a minute
    async with deployment.open() as restarted:
        await restarted.cycle.run()
        invoice = await cycle_invoice(restarted, deployment.subscription_id)
        assert invoice["status"] == "paid" and invoice["attempts"] == 1
        assert await restarted.gateway.captured_total(draft) == invoice["total_minor"]


async def test_a_lost_gateway_answer_is_resumed_without_a_second_charge(deployment: Deployment) -> None:
    async with deployment.open() as app:
        # pm_timeout: the gateway captures the charge, but its answer never arrives.
        await app.organizations.update(CONTEXT, deployment.organization_id, None, None, "pm_timeout")
        draft = await close_then_end_grace(app, deployment)
        await app.billing.finalize(CONTEXT, draft)
        await app.billing.collect(CONTEXT, draft)
        invoice = await cycle_invoice(app, deployment.subscription_id)
        assert (invoice["status"], invoice["attempts"]) == ("open", 1)
        assert await app.gateway.captured_total(draft) == invoice["total_minor"]

        deployment.clock.advance(timedelta(minutes=2))
        await app.cycle.run()

        invoice = await cycle_invoice(app, deployment.subscription_id)
        assert (invoice["status"], invoice["attempts"]) == ("paid", 1)
        assert await app.gateway.captured_total(draft) == invoice["total_minor"]  # captured once
