"""Billing alignment on plan changes through the handlers, on the in-memory store, with exact figures.

Every subscription starts 2026-01-01 00:00 UTC (2026 has 365 days), so the cycle day is the 1st
at midnight. Per interval pair (monthly <-> annual, monthly <-> quarterly), an upgrade and a
downgrade, each `unchanged` now, `now` now and at period end:

| Case | Change | Credit: old fee unused | Stub to the next cycle day | Then |
|---|---|---|---|---|
| monthly 3000 -> annual 73000 | Apr 15 | -3000 x 16/30 = -1600 | 73000 x 16/365 = 3200 | 73000 a year from May 1 |
| monthly 3000 -> annual 18250 | Apr 15 | -1600 | 18250 x 16/365 = 800 | 18250 a year from May 1 |
| annual 36500 -> monthly 6200 | Jul 10 | -36500 x 175/365 = -17500 | 6200 x 22/31 = 4400 | 6200 a month from Aug 1 |
| annual 36500 -> monthly 1550 | Jul 10 | -17500 | 1550 x 22/31 = 1100 | 1550 a month from Aug 1 |
| monthly 3000 -> quarterly 18000 | Apr 15 | -1600 | 18000 x 16/89 = 3235.96 -> 3236 | 18000 a quarter from May 1 |
| monthly 3000 -> quarterly 4500 | Apr 15 | -1600 | 4500 x 16/89 = 808.99 -> 809 | 4500 a quarter from May 1 |
| quarterly 9000 -> monthly 6200 | Feb 10 | -9000 x 50/90 = -5000 | 6200 x 19/28 = 4207.14 -> 4207 | 6200 a month |
| quarterly 9000 -> monthly 1550 | Feb 10 | -5000 | 1550 x 19/28 = 1051.79 -> 1052 | 1550 a month |

The stub's whole period is the new plan's period ending on the next cycle day: [May 1 2025,
May 1 2026) for annual (365 days), [Feb 1, May 1) for quarterly (89 days), [Jul 1, Aug 1) and
[Feb 1, Mar 1) for monthly.

Usage is 1 a call on monthly plans, 2 on quarterly ones and 3 on annual ones, so each usage
line shows which plan rated it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.application.usage_queries import ChangePreview, preview_lines
from billing_grpc.bootstrap import App, open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.cycle_changes import CycleAnchor
from billing_grpc.domain.errors import FailedPrecondition, InvalidArgument
from billing_grpc.domain.invoicing import stored_total
from billing_grpc.domain.periods import add_months
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.usage import UsageInput
from tests.unit.test_plan_change_handlers import shop_settings

START = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = system_context()
DAY = timedelta(days=1)
HOURS_2 = timedelta(hours=2)


def day(month: int, day_of_month: int, year: int = 2026) -> datetime:
    return datetime(year, month, day_of_month, tzinfo=UTC)


# code -> (interval unit, count, fee, price per call)
PLANS: dict[str, tuple[str, int, int, str]] = {
    "m": ("month", 1, 3000, "1"),
    "m_pro": ("month", 1, 6200, "1"),
    "m_lite": ("month", 1, 1550, "1"),
    "q": ("month", 3, 9000, "2"),
    "q_pro": ("month", 3, 18000, "2"),
    "q_lite": ("month", 3, 4500, "2"),
    "y": ("year", 1, 36500, "3"),
    "y_pro": ("year", 1, 73000, "3"),
    "y_lite": ("year", 1, 18250, "3"),
}
# code -> (interval unit, fee): base fees billed in arrears
ARREARS_PLANS: dict[str, tuple[str, int]] = {"m_arrears": ("month", 3000), "y_arrears": ("year", 73000)}


def months_of(code: str) -> int:
    unit, count, _, _ = PLANS[code]
    return count * 12 if unit == "year" else count


def fee_of(code: str) -> int:
    return PLANS[code][2]


def rate_of(code: str) -> int:
    return int(PLANS[code][3])


@dataclass
class World:
    app: App
    clock: TestClock
    organization_id: str
    plans: dict[str, str]

    async def subscribe(
        self, code: str, trial_days: int | None = None, organization_id: str = "", stub_proration: str = ""
    ) -> str:
        subscription_id, position = await self.app.subscriptions.start(
            CONTEXT, organization_id or self.organization_id, self.plans[code], None, None, trial_days, stub_proration
        )
        await self.app.projections.wait_until(position)
        return subscription_id

    async def use(self, key: str, quantity: str, when: datetime) -> None:
        if when > self.clock.now():
            self.clock.advance_to(when)
        [result] = await self.app.usage.ingest(
            CONTEXT, [UsageInput(self.organization_id, "calls", quantity, when, key, {})]
        )
        assert result.outcome is Outcome.ACCEPTED, result

    async def settle(self) -> None:
        await self.app.projections.wait_until(await self.app.store.head_position())

    async def invoices(self, subscription_id: str) -> list[dict[str, Any]]:
        await self.settle()
        return await self.app.read_models.find("invoices", {"subscription_id": subscription_id}, sort=[("_id", 1)])

    async def invoice(self, invoice_id: str) -> dict[str, Any]:
        await self.settle()
        doc = await self.app.read_models.get("invoices", invoice_id)
        assert doc is not None
        return doc

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        await self.settle()
        doc = await self.app.read_models.get("subscriptions", subscription_id)
        assert doc is not None
        return doc

    async def preview(self, subscription_id: str, code: str, alignment: CycleAnchor | None) -> Any:
        doc = await self.subscription(subscription_id)
        change = ChangePreview(self.plans[code], self.clock.now(), alignment)
        return await preview_lines(self.app.read_models, self.app.usage.catalog, doc, change)


@pytest.fixture
async def world(database_name: str) -> AsyncIterator[World]:
    clock = TestClock(START)
    async with open_in_memory_app(shop_settings(database_name), clock=clock) as app:
        await app.catalogue.create_meter(CONTEXT, "calls", "Calls", "sum", "")
        plans = {}
        for code, (unit, count, fee, price) in PLANS.items():
            charges = [Charge("calls", PerUnit(Decimal(price)))]
            plans[code], _ = await app.catalogue.create_plan(
                CONTEXT, NewPlan(code, code.title(), "USD", unit, count, fee, 0, charges)
            )
        for code, (unit, fee) in ARREARS_PLANS.items():
            charges = [Charge("calls", PerUnit(Decimal(1)))]
            plans[code], _ = await app.catalogue.create_plan(
                CONTEXT, NewPlan(code, code.title(), "USD", unit, 1, fee, 0, charges, base_fee_timing="arrears")
            )
        organization_id, _ = await app.organizations.create(
            CONTEXT, NewOrganization("Acme", "USD", payment_method="pm_ok")
        )
        yield World(app, clock, organization_id, plans)


@dataclass(frozen=True)
class Case:
    """One interval change: from and to which plan, when, and the figures it bills."""

    source: str
    target: str
    at: datetime  # the change, inside the current period
    period_end: datetime  # the end of the period the change falls in
    credit: int  # the old fee's unused part, credited
    next_cycle_day: datetime
    stub_fee: int  # the new plan's fee from the change to the next cycle day (unchanged)

    @property
    def id(self) -> str:
        return f"{self.source}->{self.target}"


CASES = [
    Case("m", "y_pro", day(4, 15), day(5, 1), -1600, day(5, 1), 3200),
    Case("m", "y_lite", day(4, 15), day(5, 1), -1600, day(5, 1), 800),
    Case("y", "m_pro", day(7, 10), day(1, 1, 2027), -17500, day(8, 1), 4400),
    Case("y", "m_lite", day(7, 10), day(1, 1, 2027), -17500, day(8, 1), 1100),
    Case("m", "q_pro", day(4, 15), day(5, 1), -1600, day(5, 1), 3236),
    Case("m", "q_lite", day(4, 15), day(5, 1), -1600, day(5, 1), 809),
    Case("q", "m_pro", day(2, 10), day(4, 1), -5000, day(3, 1), 4207),
    Case("q", "m_lite", day(2, 10), day(4, 1), -5000, day(3, 1), 1052),
]


def lines_of(invoice: dict[str, Any]) -> list[tuple[str, int]]:
    return sorted((line["kind"], line["amount_minor"]) for line in invoice["lines"])


def fee_period(invoice: dict[str, Any]) -> tuple[datetime, datetime]:
    [fee] = [line for line in invoice["lines"] if line["kind"] == "base_fee"]
    return fee["period_start"], fee["period_end"]


def comparable(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("kind", "description", "meter_code", "quantity", "unit_amount", "amount_minor", "period_start")
    return sorted(tuple(line[k] for k in (*keys, "period_end")) for line in lines)


async def _to_the_change(world: World, case: Case) -> str:
    """Subscribe on the old plan, bill every period before the change, use 3 calls the day before it."""
    sub = await world.subscribe(case.source)
    await world.app.cycle.advance(world.clock, case.at)
    await world.use("before", "3", case.at - DAY)
    world.clock.advance_to(case.at)
    await world.settle()
    return sub


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_unchanged_keeps_the_cycle_day_a_prorated_stub_to_it_then_full_periods(world: World, case: Case) -> None:
    sub = await _to_the_change(world, case)
    currency, previewed, prorations = await world.preview(sub, case.target, CycleAnchor.UNCHANGED)

    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans[case.target], "", False, "unchanged")

    assert [line["amount_minor"] for line in changed.proration_lines] == [case.credit]
    update = await world.invoice(changed.invoice_id)
    assert update["reason"] == "subscription_update"
    used = ("usage", 3 * rate_of(case.source))
    assert lines_of(update) == sorted([("base_fee", case.stub_fee), ("proration", case.credit), used])
    assert fee_period(update) == (case.at, case.next_cycle_day)
    [credit] = [line for line in update["lines"] if line["kind"] == "proration"]
    assert (credit["period_start"], credit["period_end"]) == (case.at, case.period_end)
    assert update["total_minor"] == case.stub_fee + case.credit + used[1]
    # The preview made at the same clock is the invoice the change issued.
    assert currency == "USD" and comparable(previewed) == comparable(update["lines"])
    assert stored_total(previewed) == update["total_minor"] and prorations == changed.proration_lines

    doc = await world.subscription(sub)
    assert (doc["current_period_start"], doc["current_period_end"]) == (case.at, case.next_cycle_day)
    assert doc["cycle_anchor"] == case.next_cycle_day
    await world.use("stub", "4", case.at + DAY)  # lands in the stub, rated by the new plan

    following_end = add_months(case.next_cycle_day, months_of(case.target))
    await world.app.cycle.advance(world.clock, case.next_cycle_day + HOURS_2)
    [cycle] = [i for i in await world.invoices(sub) if i["usage_period_start"] == case.at]
    assert cycle["reason"] == "subscription_cycle" and cycle["usage_period_end"] == case.next_cycle_day
    assert lines_of(cycle) == sorted([("base_fee", fee_of(case.target)), ("usage", 4 * rate_of(case.target))])
    assert fee_period(cycle) == (case.next_cycle_day, following_end)
    doc = await world.subscription(sub)
    assert (doc["current_period_start"], doc["current_period_end"]) == (case.next_cycle_day, following_end)
    assert (await world.invoice(changed.invoice_id))["status"] == "paid"
    assert cycle["status"] == "paid"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_now_restarts_the_cycle_at_the_change_with_a_full_first_period(world: World, case: Case) -> None:
    sub = await _to_the_change(world, case)
    _, previewed, _ = await world.preview(sub, case.target, CycleAnchor.NOW)

    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans[case.target], "", False, "now")

    restarted_end = add_months(case.at, months_of(case.target))
    update = await world.invoice(changed.invoice_id)
    used = ("usage", 3 * rate_of(case.source))
    assert lines_of(update) == sorted([("base_fee", fee_of(case.target)), ("proration", case.credit), used])
    assert fee_period(update) == (case.at, restarted_end)
    assert comparable(previewed) == comparable(update["lines"])
    assert stored_total(previewed) == update["total_minor"] == fee_of(case.target) + case.credit + used[1]
    doc = await world.subscription(sub)
    assert (doc["current_period_start"], doc["current_period_end"], doc["cycle_anchor"]) == (
        case.at,
        restarted_end,
        case.at,
    )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_the_default_for_an_interval_change_now_is_to_restart_the_cycle(world: World, case: Case) -> None:
    sub = await _to_the_change(world, case)
    _, previewed, _ = await world.preview(sub, case.target, None)
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans[case.target], "", False)
    update = await world.invoice(changed.invoice_id)
    assert fee_period(update) == (case.at, add_months(case.at, months_of(case.target)))
    assert comparable(previewed) == comparable(update["lines"])


@pytest.mark.parametrize("anchor", ["unchanged", ""])
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
async def test_at_period_end_the_new_interval_starts_on_the_period_end_a_cycle_day(
    world: World, case: Case, anchor: str
) -> None:
    sub = await _to_the_change(world, case)
    outcome = await world.app.plan_changes.change(CONTEXT, sub, world.plans[case.target], "", True, anchor)
    assert (outcome.invoice_id, outcome.proration_lines) == ("", [])

    await world.app.cycle.advance(world.clock, case.period_end + HOURS_2)
    [cycle] = [i for i in await world.invoices(sub) if i["usage_period_end"] == case.period_end]
    assert lines_of(cycle) == sorted([("base_fee", fee_of(case.target)), ("usage", 3 * rate_of(case.source))])
    following_end = add_months(case.period_end, months_of(case.target))
    assert fee_period(cycle) == (case.period_end, following_end)
    doc = await world.subscription(sub)
    assert (doc["plan_id"], doc["cycle_anchor"]) == (world.plans[case.target], case.period_end)
    assert (doc["current_period_start"], doc["current_period_end"]) == (case.period_end, following_end)


async def test_now_at_period_end_an_unknown_alignment_and_now_in_a_trial_are_refused_and_write_nothing(
    world: World,
) -> None:
    sub = await world.subscribe("m")
    other, _ = await world.app.organizations.create(CONTEXT, NewOrganization("Other", "USD", payment_method="pm_ok"))
    trial = await world.subscribe("m_pro", trial_days=14, organization_id=other)
    world.clock.advance_to(day(1, 10))
    head = await world.app.store.head_position()
    refusals = [
        (sub, "y", True, "now"),  # at period end the change happens on a cycle day: nothing to restart
        (sub, "y", False, "tomorrow"),
        (sub, "y", True, "tomorrow"),
        (sub, "m_pro", False, "NOW"),
        (trial, "y", False, "now"),  # the trial's end starts the paid cycle
    ]
    for subscription_id, code, at_period_end, anchor in refusals:
        with pytest.raises(InvalidArgument) as refused:
            await world.app.plan_changes.change(CONTEXT, subscription_id, world.plans[code], "", at_period_end, anchor)
        assert refused.value.reason == "invalid_billing_cycle_anchor"
        assert [v.field for v in refused.value.violations] == ["billing_cycle_anchor"]
    with pytest.raises(InvalidArgument) as previewed:
        await world.preview(trial, "y", CycleAnchor.NOW)
    assert previewed.value.reason == "invalid_billing_cycle_anchor"
    assert (await world.subscription(sub))["scheduled_plan_id"] is None
    assert await world.app.store.head_position() == head


async def test_now_with_the_same_interval_resets_the_anchor_to_the_change(world: World) -> None:
    """Stripe's billing_cycle_anchor=now: the unused part is credited and a full period starts now."""
    sub = await world.subscribe("m")
    await world.use("before", "3", day(1, 5))
    world.clock.advance_to(day(1, 11))
    await world.settle()
    _, previewed, _ = await world.preview(sub, "m_pro", CycleAnchor.NOW)
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["m_pro"], "", False, "now")
    update = await world.invoice(changed.invoice_id)
    # 21 of January's 31 days unused: -3000 x 21/31 = -2032.26; Pro's month from Jan 11 in full.
    assert lines_of(update) == [("base_fee", 6200), ("proration", -2032), ("usage", 3)]
    assert fee_period(update) == (day(1, 11), day(2, 11))
    assert comparable(previewed) == comparable(update["lines"])
    doc = await world.subscription(sub)
    assert (doc["cycle_anchor"], doc["current_period_end"]) == (day(1, 11), day(2, 11))
    await world.app.cycle.advance(world.clock, day(2, 11) + HOURS_2)
    [cycle] = [i for i in await world.invoices(sub) if i["usage_period_start"] == day(1, 11)]
    assert lines_of(cycle) == [("base_fee", 6200)] and fee_period(cycle) == (day(2, 11), day(3, 11))


async def test_unchanged_with_the_same_interval_is_the_prorated_change_of_before(world: World) -> None:
    sub = await world.subscribe("m")
    world.clock.advance_to(day(1, 11))
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["m_pro"], "", False, "unchanged")
    # 21/31 of each fee: -2032.26 and 4200; they wait for the next invoice; the period stays.
    assert (changed.invoice_id, [line["amount_minor"] for line in changed.proration_lines]) == ("", [-2032, 4200])
    doc = await world.subscription(sub)
    assert (doc["cycle_anchor"], doc["current_period_start"], doc["current_period_end"]) == (
        START,
        START,
        day(2, 1),
    )


async def test_unchanged_during_a_trial_swaps_the_plan_and_the_trial_end_starts_the_new_interval(
    world: World,
) -> None:
    sub = await world.subscribe("m", trial_days=14)
    world.clock.advance_to(day(1, 5))
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["y"], "", False, "unchanged")
    assert (changed.invoice_id, changed.proration_lines) == ("", [])
    await world.app.cycle.advance(world.clock, day(1, 15) + HOURS_2)
    [first] = await world.invoices(sub)
    assert lines_of(first) == [("base_fee", 36500)] and fee_period(first) == (day(1, 15), day(1, 15, 2027))


async def test_a_cycle_day_on_the_31st_survives_short_months_after_an_unchanged_change(world: World) -> None:
    """Monthly from Jan 31; to quarterly on Apr 10: the stub ends Apr 30 and the quarters end Jul 31, Oct 31."""
    world.clock.advance_to(day(1, 31))
    sub = await world.subscribe("m")
    await world.app.cycle.advance(world.clock, day(4, 10))
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["q"], "", False, "unchanged")
    doc = await world.subscription(sub)
    assert (doc["current_period_start"], doc["current_period_end"]) == (day(4, 10), day(4, 30))
    # The anchor keeps the 31st: Jan 31, three months before Apr 30 (which is clamped).
    assert doc["cycle_anchor"] == day(1, 31)
    update = await world.invoice(changed.invoice_id)
    # [Apr 10, Apr 30) of the quarter [Jan 31, Apr 30) (89 days): 9000 x 20/89 = 2022.47.
    assert ("base_fee", 2022) in lines_of(update)
    await world.app.cycle.advance(world.clock, day(10, 31) + HOURS_2)
    fees = sorted(fee_period(i) for i in await world.invoices(sub) if i["_id"] != changed.invoice_id)
    assert fees[-3:] == [(day(4, 30), day(7, 31)), (day(7, 31), day(10, 31)), (day(10, 31), day(1, 31, 2027))]


async def test_usage_in_the_old_segment_is_billed_once_and_late_usage_still_lands_there(world: World) -> None:
    sub = await world.subscribe("m")
    await world.app.cycle.advance(world.clock, day(4, 15))
    await world.use("early", "2", day(4, 2))
    world.clock.advance_to(day(4, 15))
    await world.settle()
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["y"], "", False, "unchanged")
    await world.use("late-old", "5", day(4, 3))  # late, for the closed part: onto the change's invoice
    await world.use("new", "1", day(4, 20))
    await world.app.cycle.advance(world.clock, day(5, 1) + HOURS_2)
    update = await world.invoice(changed.invoice_id)
    assert ("usage", 7) in lines_of(update)  # 2 + 5 calls at the monthly 1
    [cycle] = [i for i in await world.invoices(sub) if i["usage_period_start"] == day(4, 15)]
    assert ("usage", 3) in lines_of(cycle)  # 1 call at the annual 3, once
    usage_lines = [line for i in await world.invoices(sub) for line in i["lines"] if line["kind"] == "usage"]
    assert sum(line["amount_minor"] for line in usage_lines) == 7 + 3


async def test_an_unchanged_change_at_the_instant_the_period_began_is_refused(world: World) -> None:
    sub = await world.subscribe("m")
    head = await world.app.store.head_position()
    with pytest.raises(FailedPrecondition) as refused:
        await world.app.plan_changes.change(CONTEXT, sub, world.plans["y"], "", False, "unchanged")
    assert refused.value.reason == "period_just_started"
    assert await world.app.store.head_position() == head


async def test_a_fee_in_arrears_is_billed_for_the_time_served_on_each_side_of_an_unchanged_change(
    world: World,
) -> None:
    """Monthly 3000 in arrears to annual 73000 in arrears on Apr 15: Apr 1 - Apr 15 served, then the stub."""
    sub = await world.subscribe("m_arrears")
    await world.app.cycle.advance(world.clock, day(4, 15))
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["y_arrears"], "", False, "unchanged")
    assert changed.proration_lines == []  # nothing was paid ahead: nothing to credit
    update = await world.invoice(changed.invoice_id)
    assert lines_of(update) == [("base_fee", 1400)]  # 3000 x 14/30, served Apr 1 - Apr 15; nothing ahead
    assert fee_period(update) == (day(4, 1), day(4, 15))
    await world.app.cycle.advance(world.clock, day(5, 1) + HOURS_2)
    [stub] = [i for i in await world.invoices(sub) if i["usage_period_start"] == day(4, 15)]
    assert lines_of(stub) == [("base_fee", 3200)]  # 73000 x 16/365, served Apr 15 - May 1, in arrears
    assert fee_period(stub) == (day(4, 15), day(5, 1))
    doc = await world.subscription(sub)
    assert (doc["current_period_start"], doc["current_period_end"]) == (day(5, 1), day(5, 1, 2027))


async def test_an_arrears_fee_changed_to_an_advance_one_bills_the_time_served_and_the_stub_ahead(
    world: World,
) -> None:
    sub = await world.subscribe("m_arrears")
    await world.app.cycle.advance(world.clock, day(4, 15))
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["y_pro"], "", False, "unchanged")
    update = await world.invoice(changed.invoice_id)
    # Monthly's Apr 1 - Apr 15 in arrears (1400) and the annual stub Apr 15 - May 1 ahead (3200).
    assert lines_of(update) == [("base_fee", 1400), ("base_fee", 3200)]


async def test_a_subscription_that_bills_no_stub_pays_nothing_until_the_cycle_day(world: World) -> None:
    """Started with proration_behavior none: a period shortened by the anchor is free, the stub too."""
    sub = await world.subscribe("m", stub_proration="none")
    await world.app.cycle.advance(world.clock, day(4, 15))
    changed = await world.app.plan_changes.change(CONTEXT, sub, world.plans["y_pro"], "", False, "unchanged")
    update = await world.invoice(changed.invoice_id)
    assert lines_of(update) == [("proration", -1600)]
    await world.app.cycle.advance(world.clock, day(5, 1) + HOURS_2)
    [cycle] = [i for i in await world.invoices(sub) if i["usage_period_start"] == day(4, 15)]
    assert lines_of(cycle) == [("base_fee", 73000)] and fee_period(cycle) == (day(5, 1), day(5, 1, 2027))


async def test_a_scheduled_interval_change_keeps_an_anchor_change_scheduled_for_the_same_close(world: World) -> None:
    """Monthly on the 1st; the anchor moved to Feb 15 and annual scheduled, both at Feb 1: a stub, then years."""
    sub = await world.subscribe("m")
    world.clock.advance_to(day(1, 10))
    await world.app.cycle_moves.change_anchor(CONTEXT, sub, day(2, 15), "")
    await world.app.plan_changes.change(CONTEXT, sub, world.plans["y_pro"], "", True)
    await world.app.cycle.advance(world.clock, day(2, 1) + HOURS_2)
    [cycle] = [i for i in await world.invoices(sub) if i["usage_period_end"] == day(2, 1)]
    # [Feb 1, Feb 15) of the annual plan's year [Feb 15 2025, Feb 15 2026): 73000 x 14/365 = 2800.
    assert lines_of(cycle) == [("base_fee", 2800)] and fee_period(cycle) == (day(2, 1), day(2, 15))
    doc = await world.subscription(sub)
    assert (doc["cycle_anchor"], doc["current_period_end"]) == (day(2, 15), day(2, 15))
    await world.app.cycle.advance(world.clock, day(2, 15) + HOURS_2)
    [year] = [i for i in await world.invoices(sub) if i["usage_period_start"] == day(2, 1)]
    assert lines_of(year) == [("base_fee", 73000)] and fee_period(year) == (day(2, 15), day(2, 15, 2027))
