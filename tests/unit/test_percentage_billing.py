"""Percentage charges priced per transaction through the handlers: time order, late events, plan changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.usage import Outcome
from billing_grpc.audit.verification import verify
from billing_grpc.domain.pricing import Charge, Percentage
from billing_grpc.domain.usage import UsageInput, micros, stamp
from projections.store import InMemoryReadModels
from projections.usage import USAGE_TRANSACTIONS
from tests.unit.test_plan_change_handlers import CONTEXT, DAY, FEB_1, START, Shop

HOUR = timedelta(hours=1)
# 10% of each transaction, no fixed fee; the first transaction of the period is free.
ONE_FREE = Percentage(Decimal(10), free_transactions=1)


async def percentage_plan(shop: Shop, model: Percentage, code: str = "pct") -> str:
    plan_id, _ = await shop.app.catalogue.create_plan(
        CONTEXT, NewPlan(code, code, "USD", "month", 1, 0, 0, [Charge("calls", model)])
    )
    return plan_id


async def send(shop: Shop, *events: tuple[str, str, datetime]) -> list[Any]:
    """One batch of (key, quantity, timestamp) usage events of the shop's organization."""
    batch = [UsageInput(shop.organization_id, "calls", q, when, key, {}) for key, q, when in events]
    return await shop.app.usage.ingest(CONTEXT, batch)


def usage_amounts(invoice: dict[str, Any]) -> list[int]:
    return [line["amount_minor"] for line in invoice["lines"] if line["kind"] == "usage"]


async def test_a_late_event_with_an_earlier_timestamp_takes_the_free_transaction(shop: Shop) -> None:
    sub = await shop.subscribe(await percentage_plan(shop, ONE_FREE))
    noon = START + 10 * DAY
    shop.clock.advance_to(START + 20 * DAY)
    # Two batches with the same timestamp: the earlier log position is the earlier transaction.
    assert [r.outcome for r in await send(shop, ("a", "1000", noon))] == [Outcome.ACCEPTED]
    assert [r.outcome for r in await send(shop, ("b", "500", noon))] == [Outcome.ACCEPTED]
    # The period closes on February 1; the draft prices what arrived: "a" free, "b" pays 50.
    await shop.app.cycle.advance(shop.clock, FEB_1 + timedelta(minutes=1))
    [draft] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert (draft["status"], usage_amounts(draft)) == ("draft", [50])
    # Within the grace hour a late event arrives, dated before both: it is now the free one.
    assert [r.outcome for r in await send(shop, ("late", "2000", START + DAY))] == [Outcome.ACCEPTED]
    await shop.app.cycle.advance(shop.clock, FEB_1 + 2 * HOUR)
    [final] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert final["status"] != "draft"
    assert usage_amounts(final) == [150]  # 10% of 1000 + 10% of 500: the late 2000 is free

    # Rebuilt from position 0, the read models (the transactions too) equal the live ones.
    await shop.settle()
    report = await verify(shop.app.store, shop.app.read_models, InMemoryReadModels(), shop.app.projections.projections)
    assert report.ok, report


async def test_only_meters_priced_per_transaction_keep_their_events_one_by_one(shop: Shop) -> None:
    per_unit = await shop.subscribe(shop.basic)
    await shop.use("per-unit", "5", START + DAY)
    await shop.settle()
    assert await shop.app.read_models.find(USAGE_TRANSACTIONS, {}) == []
    await shop.app.subscriptions.cancel(CONTEXT, per_unit, False)

    await shop.subscribe(await percentage_plan(shop, ONE_FREE))
    at = START + 2 * DAY
    shop.clock.advance_to(at + HOUR)
    await send(shop, ("p1", "7", at), ("p2", "8", at + HOUR))
    await shop.settle()
    [doc] = await shop.app.read_models.find(USAGE_TRANSACTIONS, {})
    assert (doc["quantities"], doc["timestamps"]) == (["7", "8"], [micros(at), micros(at + HOUR)])


async def test_a_negative_amount_is_refused_for_a_meter_priced_per_transaction(shop: Shop) -> None:
    await shop.subscribe(await percentage_plan(shop, ONE_FREE))
    shop.clock.advance_to(START + DAY)
    [result] = await send(shop, ("refund", "-5", START + HOUR))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, "negative_quantity_not_allowed")


async def test_a_plan_change_rates_each_segment_by_its_own_plan(shop: Shop) -> None:
    # Basic (1 per call) until January 11, then per transaction with the first one free.
    sub = await shop.subscribe(shop.basic)
    await shop.use("before", "5", START + DAY)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.plan_changes.change(CONTEXT, sub, await percentage_plan(shop, ONE_FREE), "", False)
    await shop.use("after-1", "300", START + 12 * DAY)
    await shop.use("after-2", "200", START + 13 * DAY)
    # A late event of the first segment goes to Basic, per unit (kept one by one all the same:
    # the subscription has been on a plan that prices the meter per transaction).
    await shop.use("late-before", "2", START + 2 * DAY)

    await shop.app.cycle.advance(shop.clock, FEB_1 + 2 * HOUR)
    [cycle] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert sorted(usage_amounts(cycle)) == [7, 20]  # Basic: 5 + 2 calls; percentage: 10% of 200
    kept = await shop.app.read_models.find(USAGE_TRANSACTIONS, {})
    assert sorted(q for doc in kept for q in doc["quantities"]) == ["2", "200", "300"]
    assert {doc["period_start"] for doc in kept if doc["quantities"] == ["2"]} == {stamp(START)}


async def test_late_usage_of_a_period_closed_under_an_earlier_plan_is_priced_by_that_plan(shop: Shop) -> None:
    # January per transaction, then a change to Basic scheduled for the period's end: usage that
    # arrives late for January, after the close, is January's and priced per transaction.
    sub = await shop.subscribe(await percentage_plan(shop, ONE_FREE))
    await shop.use("jan-1", "1000", START + 5 * DAY)
    await shop.app.plan_changes.change(CONTEXT, sub, shop.basic, "", True)
    await shop.app.cycle.advance(shop.clock, FEB_1 + timedelta(minutes=1))
    assert [r.outcome for r in await send(shop, ("jan-late", "400", START + 6 * DAY))] == [Outcome.ACCEPTED]
    await shop.app.cycle.advance(shop.clock, FEB_1 + 2 * HOUR)
    [cycle] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert cycle["status"] != "draft" and usage_amounts(cycle) == [40]  # jan-1 free; 10% of 400
