"""Stub proration and base fees in arrears through the handlers, on the in-memory store.

The shop's clock starts on Jan 1; Basic is 31.00 a month (1.00 a call), Pro 62.00 (10.00 a
call). January has 31 days, so a day is worth exactly 1.00 of Basic's fee and 2.00 of Pro's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.usage_queries import ChangePreview, preview_lines
from billing_grpc.domain.errors import InvalidArgument
from billing_grpc.domain.pricing import Charge, PerUnit
from tests.unit.test_plan_change_handlers import CONTEXT, FEB_1, START, Shop

DAY = timedelta(days=1)
JAN_15_9 = datetime(2026, 1, 15, 9, tzinfo=UTC)
GRACE = timedelta(hours=2)


async def new_plan(shop: Shop, code: str, fee: int, timing: str = "", unit: str = "", interval: str = "month") -> str:
    per_call = [Charge("calls", PerUnit(Decimal("1")))]
    plan_id, position = await shop.app.catalogue.create_plan(
        CONTEXT, NewPlan(code, code.title(), "USD", interval, 1, fee, 0, per_call, (), timing, unit)
    )
    await shop.app.projections.wait_until(position)
    return plan_id


async def start(
    shop: Shop, plan_id: str, anchor: datetime | None = None, trial_days: int | None = None, behavior: str = ""
) -> str:
    subscription_id, position = await shop.app.subscriptions.start(
        CONTEXT, shop.organization_id, plan_id, None, anchor, trial_days, behavior
    )
    await shop.app.projections.wait_until(position)
    return subscription_id


def fees(invoice: dict[str, Any]) -> list[tuple[str, int]]:
    return [(line["kind"], line["amount_minor"]) for line in invoice["lines"]]


async def by_reason(shop: Shop, subscription_id: str, reason: str) -> list[dict[str, Any]]:
    return [i for i in await shop.invoices(subscription_id) if i["reason"] == reason]


async def preview(shop: Shop, subscription_id: str, change: ChangePreview | None = None) -> list[dict[str, Any]]:
    await shop.settle()
    doc = await shop.subscription(subscription_id)
    _, lines, _ = await preview_lines(shop.app.read_models, shop.app.usage.catalog, doc, change)
    return lines


def same_lines(previewed: list[dict[str, Any]], issued: list[dict[str, Any]]) -> bool:
    keys = ("kind", "description", "amount_minor", "period_start", "period_end")
    return sorted(tuple(str(line[k]) for k in keys) for line in previewed) == sorted(
        tuple(str(line[k]) for k in keys) for line in issued
    )


# -- 1. a shortened period is prorated ------------------------------------------------------


async def test_a_start_anchored_on_the_first_bills_the_stub_prorated_to_the_second(shop: Shop) -> None:
    shop.clock.advance_to(JAN_15_9)
    sub = await start(shop, shop.basic, anchor=FEB_1)
    [opening] = await by_reason(shop, sub, "subscription_create")
    # 16 d 15 h of January's 31 days: 3100 * 1,436,400 / 2,678,400 = 1662.5, half-up once.
    assert fees(opening) == [("base_fee", 1663)] and opening["total_minor"] == 1663
    [line] = opening["lines"]
    assert (line["period_start"], line["period_end"]) == (JAN_15_9, FEB_1)
    await shop.use("stub", "4", JAN_15_9 + DAY)
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [cycle] = await by_reason(shop, sub, "subscription_cycle")
    assert sorted(fees(cycle)) == [("base_fee", 3100), ("usage", 4)]  # February in full, the stub's usage


async def test_a_plan_prorating_by_day_bills_the_started_days(shop: Shop) -> None:
    daily = await new_plan(shop, "daily", 3100, unit="day")
    shop.clock.advance_to(JAN_15_9)
    sub = await start(shop, daily, anchor=FEB_1)
    [opening] = await by_reason(shop, sub, "subscription_create")
    assert fees(opening) == [("base_fee", 1700)]  # Jan 15 to 31: 17 of 31 days
    assert opening["lines"][0]["description"].endswith("17 of 31 days")


async def test_proration_behavior_none_bills_nothing_until_the_anchor(shop: Shop) -> None:
    shop.clock.advance_to(JAN_15_9)
    sub = await start(shop, shop.basic, anchor=FEB_1, behavior="none")
    assert await shop.invoices(sub) == []
    assert (await shop.subscription(sub))["stub_proration"] == "none"
    await shop.use("stub", "4", JAN_15_9 + DAY)
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [cycle] = await by_reason(shop, sub, "subscription_cycle")
    assert sorted(fees(cycle)) == [("base_fee", 3100), ("usage", 4)]


async def test_a_change_inside_a_free_stub_prorates_nothing_and_a_paid_stub_over_the_whole_period(
    shop: Shop,
) -> None:
    shop.clock.advance_to(JAN_15_9)
    free = await start(shop, shop.basic, anchor=FEB_1, behavior="none")
    shop.clock.advance_to(datetime(2026, 1, 25, tzinfo=UTC))  # 7 of January's 31 days left
    assert (await shop.app.plan_changes.change(CONTEXT, free, shop.pro, "", False)).proration_lines == []
    await shop.app.subscriptions.cancel(CONTEXT, free, False)
    # A stub that was billed is prorated over January, not over the stub's 16 days.
    paid = await start(shop, shop.basic, anchor=FEB_1)
    changed = await shop.app.plan_changes.change(CONTEXT, paid, shop.pro, "", False)
    assert [line["amount_minor"] for line in changed.proration_lines] == [-700, 1400]


async def test_a_trial_ending_before_the_anchor_bills_the_stub_after_it_prorated(shop: Shop) -> None:
    shop.clock.advance_to(JAN_15_9)
    sub = await start(shop, shop.basic, anchor=FEB_1, trial_days=7)
    assert await shop.invoices(sub) == []
    doc = await shop.subscription(sub)
    assert (doc["current_period_end"], doc["cycle_anchor"]) == (JAN_15_9 + 7 * DAY, FEB_1)
    expected = await preview(shop, sub)
    await shop.app.cycle.advance(shop.clock, JAN_15_9 + 7 * DAY + GRACE)
    [trial_end] = await by_reason(shop, sub, "subscription_cycle")
    # Jan 22 09:00 to Feb 1: 9 d 15 h of 31 days = 962.5, half-up once.
    assert fees(trial_end) == [("base_fee", 963)]
    assert same_lines(expected, trial_end["lines"])


async def test_a_start_refuses_always_invoice_and_unknown_behaviours_writing_nothing(shop: Shop) -> None:
    head = await shop.app.store.head_position()
    for behavior in ("always_invoice", "sometimes"):
        with pytest.raises(InvalidArgument) as refused:
            await start(shop, shop.basic, anchor=FEB_1, behavior=behavior)
        assert [v.field for v in refused.value.violations] == ["proration_behavior"]
    assert await shop.app.store.head_position() == head


# -- 2. base fee in arrears -----------------------------------------------------------------


async def test_an_arrears_fee_is_billed_at_the_end_of_the_period_it_pays_for(shop: Shop) -> None:
    arrears = await new_plan(shop, "later", 3100, "arrears")
    sub = await start(shop, arrears)
    assert await shop.invoices(sub) == []  # nothing in advance
    await shop.use("january", "5", START + DAY)
    expected = await preview(shop, sub)
    assert sorted(fees({"lines": expected})) == [("base_fee", 3100), ("usage", 5)]
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [january] = await by_reason(shop, sub, "subscription_cycle")
    assert sorted(fees(january)) == [("base_fee", 3100), ("usage", 5)]
    [fee] = [line for line in january["lines"] if line["kind"] == "base_fee"]
    assert (fee["period_start"], fee["period_end"]) == (START, FEB_1)  # January's, not February's
    assert same_lines(expected, january["lines"]) and january["status"] == "paid"


async def test_canceling_now_bills_the_time_served_and_never_the_rest(shop: Shop) -> None:
    arrears = await new_plan(shop, "later", 3100, "arrears")
    sub = await start(shop, arrears)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.subscriptions.cancel(CONTEXT, sub, False, prorate=True)  # nothing to credit
    await shop.app.cycle.advance(shop.clock, START + 10 * DAY + GRACE)
    [final] = await by_reason(shop, sub, "subscription_end")
    assert fees(final) == [("base_fee", 1000)]  # Jan 1 to 11: 10 of 31 days


async def test_an_arrears_to_arrears_change_bills_each_plan_its_own_part_once(shop: Shop) -> None:
    basic = await new_plan(shop, "later", 3100, "arrears")
    pro = await new_plan(shop, "later-pro", 6200, "arrears")
    sub = await start(shop, basic)
    shop.clock.advance_to(START + 10 * DAY)
    expected = await preview(shop, sub, ChangePreview(pro, shop.clock.now()))
    changed = await shop.app.plan_changes.change(CONTEXT, sub, pro, "", False)
    assert [(line["description"], line["amount_minor"]) for line in changed.proration_lines] == [
        ("Used time on Later until 2026-01-11 00:00:00 UTC", 1000)
    ]
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [january] = await by_reason(shop, sub, "subscription_cycle")
    # Basic's 10 days at the change, Pro's 21 days at the close (6200 * 21 / 31), nothing twice.
    assert sorted(fees(january)) == [("base_fee", 4200), ("proration", 1000)]
    assert same_lines(expected, january["lines"])


async def test_always_invoice_bills_the_time_served_now_and_none_still_bills_it(shop: Shop) -> None:
    basic = await new_plan(shop, "later", 3100, "arrears")
    now_billed = await start(shop, basic)
    shop.clock.advance_to(START + 10 * DAY)
    changed = await shop.app.plan_changes.change(CONTEXT, now_billed, shop.pro, "always_invoice", False)
    [update] = [i for i in await shop.invoices(now_billed) if i["_id"] == changed.invoice_id]
    # Basic's time served, and Pro's remaining 21 days in advance (6200 * 21 / 31).
    assert sorted(fees(update)) == [("proration", 1000), ("proration", 4200)]
    await shop.app.subscriptions.cancel(CONTEXT, now_billed, False)
    unprorated = await start(shop, basic)
    shop.clock.advance_to(START + 20 * DAY)  # 10 days of Jan 11 to Feb 11 served
    changed = await shop.app.plan_changes.change(CONTEXT, unprorated, shop.pro, "none", False)
    assert [line["amount_minor"] for line in changed.proration_lines] == [1000]  # Pro's rest is not charged
    assert [p["amount_minor"] for p in (await shop.subscription(unprorated))["pending_prorations"]] == [1000]


async def test_under_none_an_advance_fee_paid_covers_the_period_an_arrears_plan_joins(shop: Shop) -> None:
    later = await new_plan(shop, "later-pro", 6200, "arrears")
    sub = await start(shop, shop.basic)  # January's 31.00 paid in advance
    shop.clock.advance_to(START + 10 * DAY)
    changed = await shop.app.plan_changes.change(CONTEXT, sub, later, "none", False)
    assert changed.proration_lines == []
    await shop.use("january", "2", START + 12 * DAY)
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [january] = await by_reason(shop, sub, "subscription_cycle")
    assert fees(january) == [("usage", 2)]  # no arrears fee for days Basic's fee paid
    await shop.app.cycle.advance(shop.clock, datetime(2026, 3, 1, tzinfo=UTC) + GRACE)
    february = (await by_reason(shop, sub, "subscription_cycle"))[-1]
    assert fees(february) == [("base_fee", 6200)]


async def test_a_trial_on_an_arrears_plan_bills_nothing_for_the_trial(shop: Shop) -> None:
    arrears = await new_plan(shop, "later", 3100, "arrears")
    sub = await start(shop, arrears, trial_days=10)
    await shop.app.cycle.advance(shop.clock, START + 10 * DAY + GRACE)
    [trial] = await by_reason(shop, sub, "subscription_cycle")
    assert (fees(trial), trial["total_minor"]) == ([], 0)  # the trial's usage (none) and no fee
    eleventh = START + 10 * DAY
    await shop.app.cycle.advance(shop.clock, eleventh.replace(month=2) + GRACE)
    [_, paid_period] = await by_reason(shop, sub, "subscription_cycle")
    assert fees(paid_period) == [("base_fee", 3100)]
    [fee] = paid_period["lines"]
    assert (fee["period_start"], fee["period_end"]) == (eleventh, eleventh.replace(month=2))


async def test_an_interval_change_from_arrears_bills_the_time_served_on_the_change_invoice(shop: Shop) -> None:
    arrears = await new_plan(shop, "later", 3100, "arrears")
    sub = await start(shop, arrears)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.settle()
    expected = await preview(shop, sub, ChangePreview(shop.yearly, shop.clock.now()))
    outcome = await shop.app.plan_changes.change(CONTEXT, sub, shop.yearly, "", False)
    [update] = [i for i in await shop.invoices(sub) if i["_id"] == outcome.invoice_id]
    # The monthly fee's 10 days served (no credit: nothing was paid ahead), the year in advance.
    assert sorted(fees(update)) == [("base_fee", 1000), ("base_fee", 36500)]
    assert same_lines(expected, update["lines"])


async def test_a_scheduled_change_from_arrears_bills_the_old_fee_and_the_new_one_in_advance(shop: Shop) -> None:
    arrears = await new_plan(shop, "later", 3100, "arrears")
    sub = await start(shop, arrears)
    await shop.app.plan_changes.change(CONTEXT, sub, shop.pro, "", True)
    await shop.app.cycle.advance(shop.clock, FEB_1 + GRACE)
    [january] = await by_reason(shop, sub, "subscription_cycle")
    lines = {line["description"]: (line["amount_minor"], line["period_start"]) for line in january["lines"]}
    assert lines == {"Later base fee": (3100, START), "Pro base fee": (6200, FEB_1)}
