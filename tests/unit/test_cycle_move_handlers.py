"""Billing anchor changes, pauses and resumes through the handlers, on the in-memory store.

The shop's clock starts on Jan 1; Basic is 31.00 a month (1.00 a call), so a day of January is
worth exactly 1.00 of its fee.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from billing_grpc.application.usage import Outcome
from billing_grpc.domain.errors import FailedPrecondition, InvalidArgument
from billing_grpc.domain.usage import UsageInput
from tests.unit.test_fee_rule_handlers import by_reason, fees, new_plan, preview, same_lines
from tests.unit.test_plan_change_handlers import CONTEXT, FEB_1, START, Shop

DAY = timedelta(days=1)
GRACE = timedelta(hours=2)
FEB_15 = datetime(2026, 2, 15, tzinfo=UTC)
MAR_1 = datetime(2026, 3, 1, tzinfo=UTC)


async def usage_outcome(shop: Shop, key: str, when: datetime) -> str:
    [result] = await shop.app.usage.ingest(CONTEXT, [UsageInput(shop.organization_id, "calls", "1", when, key, {})])
    return result.outcome if result.outcome is not Outcome.REJECTED else result.reason


async def rebuilt_read_models_equal_live(shop: Shop) -> bool:
    runner = shop.app.projections
    collections = [name for p in runner.projections for name in p.collections]
    await shop.settle()
    live = {name: await shop.app.read_models.find(name, {}) for name in collections}
    for projection in runner.projections:
        await runner.rebuild(projection)
    return {name: await shop.app.read_models.find(name, {}) for name in collections} == live


# -- the billing anchor ---------------------------------------------------------------------


async def test_an_anchor_change_bills_a_prorated_stub_from_the_period_end_to_the_new_anchor(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 10 * DAY)
    position = await shop.app.cycle_moves.change_anchor(CONTEXT, sub, FEB_15, "")
    await shop.app.projections.wait_until(position)
    assert (await shop.subscription(sub))["pending_anchor"] == FEB_15
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [january] = await by_reason(shop, sub, "subscription_cycle")
    # Feb 1 to 15 of the new cycle's whole period Jan 15 to Feb 15 (31 days): 14 days = 14.00.
    [fee] = january["lines"]
    assert (fee["amount_minor"], fee["period_start"], fee["period_end"]) == (1400, FEB_1, FEB_15)
    doc = await shop.subscription(sub)
    assert (doc["current_period_start"], doc["current_period_end"], doc["cycle_anchor"]) == (FEB_1, FEB_15, FEB_15)
    assert doc["pending_anchor"] is None
    shop.clock.advance_to(FEB_1 + 3 * DAY)
    assert await usage_outcome(shop, "stub", FEB_1 + 3 * DAY) == "accepted"  # into the stub's period
    await shop.app.cycle.advance(shop.clock, FEB_15 + GRACE)
    stub_close = (await by_reason(shop, sub, "subscription_cycle"))[-1]
    assert sorted(fees(stub_close)) == [("base_fee", 3100), ("usage", 1)]
    [whole] = [line for line in stub_close["lines"] if line["kind"] == "base_fee"]
    assert (whole["period_start"], whole["period_end"]) == (FEB_15, datetime(2026, 3, 15, tzinfo=UTC))
    assert await rebuilt_read_models_equal_live(shop)


async def test_an_anchor_change_under_none_bills_nothing_until_the_anchor(shop: Shop) -> None:
    arrears = await new_plan(shop, "later", 3100, "arrears")
    sub_id, _ = await shop.app.subscriptions.start(CONTEXT, shop.organization_id, arrears, None, None)
    await shop.app.cycle_moves.change_anchor(CONTEXT, sub_id, FEB_15, "none")
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [january] = await by_reason(shop, sub_id, "subscription_cycle")
    assert fees(january) == [("base_fee", 3100)]  # January in arrears
    await shop.app.cycle.advance(shop.clock, FEB_15 + GRACE)
    stub = (await by_reason(shop, sub_id, "subscription_cycle"))[-1]
    assert fees(stub) == []  # the free stub bills no fee in arrears either
    assert (await shop.subscription(sub_id))["stub_proration"] == "none"


async def test_an_anchor_on_the_cycle_changes_nothing_and_one_out_of_range_is_refused(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    head = await shop.app.store.head_position()
    await shop.app.cycle_moves.change_anchor(CONTEXT, sub, MAR_1, "")  # a day of the cycle already
    assert await shop.app.store.head_position() == head
    for anchor in (FEB_1, START + 10 * DAY, datetime(2026, 3, 2, tzinfo=UTC), None):
        with pytest.raises(InvalidArgument) as refused:
            await shop.app.cycle_moves.change_anchor(CONTEXT, sub, anchor, "")
        assert refused.value.reason == "invalid_billing_anchor"
    with pytest.raises(InvalidArgument):
        await shop.app.cycle_moves.change_anchor(CONTEXT, sub, FEB_15, "always_invoice")
    await shop.app.cycle_moves.change_anchor(CONTEXT, sub, FEB_15, "")
    shop.clock.advance_to(START + DAY)
    # A change now that ends the period would take the waiting anchor change with it.
    with pytest.raises(FailedPrecondition) as waiting:
        await shop.app.plan_changes.change(CONTEXT, sub, shop.yearly, "", False)
    assert waiting.value.reason == "change_scheduled"
    await shop.app.subscriptions.cancel(CONTEXT, sub, True)
    with pytest.raises(FailedPrecondition) as ending:
        await shop.app.cycle_moves.change_anchor(CONTEXT, sub, datetime(2026, 2, 20, tzinfo=UTC), "")
    assert ending.value.reason == "change_scheduled"
    assert await shop.app.store.head_position() == head + 2  # the anchor change and the cancellation


# -- pause and resume -----------------------------------------------------------------------


async def test_a_pause_invoices_the_period_so_far_and_a_resume_bills_a_stub_to_the_next_cycle_day(
    shop: Shop,
) -> None:
    sub = await shop.subscribe(shop.basic)
    await shop.use("before", "5", START + 2 * DAY)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.settle()
    await shop.app.cycle_moves.pause(CONTEXT, sub)
    doc = await shop.subscription(sub)
    assert (doc["status"], doc["paused_at"]) == ("paused", START + 10 * DAY)
    [paused] = await by_reason(shop, sub, "subscription_pause")
    # January's usage so far, and the unused 21 days of the 31.00 paid in advance credited.
    assert sorted(fees(paused)) == [("proration", -2100), ("usage", 5)]
    assert await usage_outcome(shop, "late", START + 3 * DAY) == "accepted"  # the paused period, before its seal
    shop.clock.advance_to(START + 10 * DAY + timedelta(minutes=30))  # within the paused invoice's grace hour
    assert await usage_outcome(shop, "while-paused", START + 10 * DAY + timedelta(minutes=20)) == (
        "no_active_subscription"
    )
    await shop.app.cycle.advance(shop.clock, START + 20 * DAY)
    [paused] = await by_reason(shop, sub, "subscription_pause")
    assert sorted(fees(paused)) == [("proration", -2100), ("usage", 6)] and paused["status"] == "paid"

    await shop.app.cycle_moves.resume(CONTEXT, sub, "", "")
    [resumed] = await by_reason(shop, sub, "subscription_resume")
    [stub] = resumed["lines"]  # Jan 21 to Feb 1: 11 of January's 31 days
    assert (stub["amount_minor"], stub["period_start"], stub["period_end"]) == (1100, START + 20 * DAY, FEB_1)
    assert await usage_outcome(shop, "while-paused-again", START + 15 * DAY) == "no_active_subscription"
    shop.clock.advance_to(START + 25 * DAY)
    assert await usage_outcome(shop, "after", START + 25 * DAY) == "accepted"
    expected = await preview(shop, sub)
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [february] = await by_reason(shop, sub, "subscription_cycle")
    assert sorted(fees(february)) == [("base_fee", 3100), ("usage", 1)]
    assert same_lines(expected, february["lines"])
    assert await rebuilt_read_models_equal_live(shop)


async def test_resuming_now_starts_a_whole_period_anchored_there_and_none_bills_no_stub(shop: Shop) -> None:
    now_anchored = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.cycle_moves.pause(CONTEXT, now_anchored)
    shop.clock.advance_to(START + 20 * DAY)
    await shop.app.cycle_moves.resume(CONTEXT, now_anchored, "now", "")
    doc = await shop.subscription(now_anchored)
    resumed_at = START + 20 * DAY
    assert (doc["cycle_anchor"], doc["current_period_end"]) == (resumed_at, datetime(2026, 2, 21, tzinfo=UTC))
    [resumed] = await by_reason(shop, now_anchored, "subscription_resume")
    assert fees(resumed) == [("base_fee", 3100)]
    await shop.app.subscriptions.cancel(CONTEXT, now_anchored, False)

    free_stub = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 25 * DAY)
    await shop.app.cycle_moves.pause(CONTEXT, free_stub)
    await shop.app.cycle_moves.resume(CONTEXT, free_stub, "unchanged", "none")
    assert await by_reason(shop, free_stub, "subscription_resume") == []
    assert (await shop.subscription(free_stub))["current_period_end"] == datetime(2026, 2, 21, tzinfo=UTC)


async def test_a_pause_of_an_arrears_plan_bills_the_time_served(shop: Shop) -> None:
    arrears = await new_plan(shop, "later", 3100, "arrears")
    sub, _ = await shop.app.subscriptions.start(CONTEXT, shop.organization_id, arrears, None, None)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.cycle_moves.pause(CONTEXT, sub)
    [paused] = await by_reason(shop, sub, "subscription_pause")
    assert fees(paused) == [("base_fee", 1000)]  # Jan 1 to 11


async def test_pausing_twice_or_resuming_an_active_one_changes_nothing_and_a_trial_cannot_pause(
    shop: Shop,
) -> None:
    sub = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.cycle_moves.pause(CONTEXT, sub)
    head = await shop.app.store.head_position()
    await shop.app.cycle_moves.pause(CONTEXT, sub)
    await shop.app.cycle_moves.resume(CONTEXT, sub, "", "")
    await shop.app.cycle_moves.resume(CONTEXT, sub, "", "")
    assert await shop.app.store.head_position() == head + 3  # the resume, the entitlements back, its invoice
    # Paused again the instant the resumed period began: an empty period, nothing to close.
    await shop.app.cycle_moves.pause(CONTEXT, sub)
    assert (await shop.subscription(sub))["status"] == "paused"
    await shop.app.cycle_moves.resume(CONTEXT, sub, "", "")
    await shop.app.subscriptions.cancel(CONTEXT, sub, False)
    trial = await shop.subscribe(shop.basic, trial_days=7)
    with pytest.raises(FailedPrecondition) as refused:
        await shop.app.cycle_moves.pause(CONTEXT, trial)
    assert refused.value.reason == "subscription_not_active"
    with pytest.raises(FailedPrecondition) as refused:
        await shop.app.cycle_moves.resume(CONTEXT, trial, "", "")
    assert refused.value.reason == "subscription_not_paused"


def kinds_of(events: list[Any]) -> list[str]:
    return [event.type for event in events]


async def test_a_pause_suspends_the_entitlements_and_a_resume_restores_them(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.cycle_moves.pause(CONTEXT, sub)
    await shop.app.cycle_moves.resume(CONTEXT, sub, "", "")
    recorded = await shop.app.store.read_stream(f"subscription-{sub}")
    types = kinds_of(list(recorded))
    assert types.index("entitlements.suspended") == types.index("subscription.paused") + 1
    assert types.index("entitlements.restored") == types.index("subscription.resumed") + 1


async def test_usage_right_after_a_new_subscription_is_judged_on_fresh_state_not_a_cached_view(shop: Shop) -> None:
    first = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + DAY)
    await shop.app.subscriptions.cancel(CONTEXT, first, False)
    await shop.settle()
    # Refused, rightly, and the organization's views are now cached for up to a second.
    assert await usage_outcome(shop, "between", START + DAY) == "no_active_subscription"
    await shop.subscribe(shop.pro)
    # The cached view shows only the canceled subscription: judged on it, this would be refused.
    assert await usage_outcome(shop, "second", START + DAY) == "accepted"
