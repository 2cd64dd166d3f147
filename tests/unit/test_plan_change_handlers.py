"""Plan changes, trials, cancellations and customer credit through the handlers, on the in-memory store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.bootstrap import App, open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.errors import ConcurrencyConflict, FailedPrecondition, InvalidArgument
from billing_grpc.domain.pricing import Charge, PerUnit
from billing_grpc.domain.subscription import stream_of as subscription_stream
from billing_grpc.domain.usage import UsageInput
from billing_grpc.settings import Settings
from tests.e2e.conftest import TEST_KEY_HASH_SECRET

START = datetime(2026, 1, 1, tzinfo=UTC)
FEB_1 = datetime(2026, 2, 1, tzinfo=UTC)
CONTEXT = system_context()
DAY = timedelta(days=1)


@dataclass
class Shop:
    """An organization, two monthly plans (Basic 3100, Pro 6200, both rating `calls`) and a yearly one."""

    app: App
    clock: TestClock
    organization_id: str
    basic: str
    pro: str
    yearly: str
    calls_meter: str = "calls"

    async def subscribe(self, plan_id: str, trial_days: int | None = None) -> str:
        subscription_id, position = await self.app.subscriptions.start(
            CONTEXT, self.organization_id, plan_id, None, None, trial_days
        )
        await self.app.projections.wait_until(position)
        return subscription_id

    async def use(self, key: str, quantity: str, when: datetime) -> None:
        if when > self.clock.now():  # usage is never from the future: time passes up to it
            self.clock.advance_to(when)
        usage = UsageInput(self.organization_id, "calls", quantity, when, key, {})
        [result] = await self.app.usage.ingest(CONTEXT, [usage])
        assert result.outcome is Outcome.ACCEPTED, result

    async def invoices(self, subscription_id: str) -> list[dict[str, Any]]:
        await self.settle()
        return await self.app.read_models.find("invoices", {"subscription_id": subscription_id}, sort=[("_id", 1)])

    async def subscription(self, subscription_id: str) -> dict[str, Any]:
        await self.settle()
        doc = await self.app.read_models.get("subscriptions", subscription_id)
        assert doc is not None
        return doc

    async def balance(self) -> dict[str, Any]:
        await self.settle()
        [balance] = await self.app.read_models.find("balances", {"organization_id": self.organization_id})
        return balance

    async def settle(self) -> None:
        await self.app.projections.wait_until(await self.app.store.head_position())


def shop_settings(database_name: str) -> Settings:
    """One-hour grace, no scheduler: the tests drive the billing cycle."""
    return Settings(
        database=database_name, key_hash_secret=TEST_KEY_HASH_SECRET, grace_period_seconds=3600, scheduler=False
    )


async def open_shop(app: App, clock: TestClock) -> Shop:
    """The catalogue and the organization every test starts from."""
    await app.catalogue.create_meter(CONTEXT, "calls", "Calls", "sum", "")
    per_call = [Charge("calls", PerUnit(Decimal("1")))]
    ten_per_call = [Charge("calls", PerUnit(Decimal("10")))]
    basic, _ = await app.catalogue.create_plan(CONTEXT, NewPlan("basic", "Basic", "USD", "month", 1, 3100, 0, per_call))
    pro, _ = await app.catalogue.create_plan(CONTEXT, NewPlan("pro", "Pro", "USD", "month", 1, 6200, 0, ten_per_call))
    yearly, _ = await app.catalogue.create_plan(
        CONTEXT, NewPlan("yearly", "Yearly", "USD", "year", 1, 36500, 0, per_call)
    )
    organization_id, _ = await app.organizations.create(CONTEXT, NewOrganization("Acme", "USD", payment_method="pm_ok"))
    return Shop(app, clock, organization_id, basic, pro, yearly)


def kinds(invoice: dict[str, Any]) -> list[tuple[str, int]]:
    return [(line["kind"], line["amount_minor"]) for line in invoice["lines"]]


async def test_an_upgrade_mid_period_prorates_to_the_second_and_rates_usage_by_each_plan(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    await shop.use("before", "5", START + DAY)
    shop.clock.advance_to(START + 10 * DAY)  # 21 of January's 31 days remain
    changed = await shop.app.plan_changes.change(CONTEXT, sub, shop.pro, "", False)
    assert changed.invoice_id == ""
    assert [line["amount_minor"] for line in changed.proration_lines] == [-2100, 4200]
    pending = (await shop.subscription(sub))["pending_prorations"]
    assert [line["amount_minor"] for line in pending] == [-2100, 4200]
    await shop.use("after", "5", START + 11 * DAY)

    await shop.app.cycle.advance(shop.clock, FEB_1 + 2 * timedelta(hours=1))
    cycle = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert len(cycle) == 1
    # 5 calls at Basic's 1 and 5 calls at Pro's 10; the prorations; February's Pro fee in advance.
    assert sorted(kinds(cycle[0])) == sorted(
        [("usage", 5), ("usage", 50), ("proration", -2100), ("proration", 4200), ("base_fee", 6200)]
    )
    assert cycle[0]["status"] == "paid" and cycle[0]["total_minor"] == 5 + 50 - 2100 + 4200 + 6200
    assert (await shop.subscription(sub))["pending_prorations"] == []


async def test_always_invoice_issues_the_prorations_now_and_the_next_run_charges_them(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 10 * DAY)
    changed = await shop.app.plan_changes.change(CONTEXT, sub, shop.pro, "always_invoice", False)
    await shop.app.cycle.run()
    [update] = [i for i in await shop.invoices(sub) if i["_id"] == changed.invoice_id]
    assert update["reason"] == "subscription_update" and update["status"] == "paid"
    assert update["total_minor"] == 2100 and await shop.app.gateway.captured_total(changed.invoice_id) == 2100
    assert (await shop.subscription(sub))["pending_prorations"] == []


async def test_an_invoiced_downgrade_nets_negative_and_becomes_credit(shop: Shop) -> None:
    sub = await shop.subscribe(shop.pro)
    shop.clock.advance_to(START + 10 * DAY)
    changed = await shop.app.plan_changes.change(CONTEXT, sub, shop.basic, "always_invoice", False)
    assert [line["amount_minor"] for line in changed.proration_lines] == [-4200, 2100]
    await shop.app.cycle.run()
    [update] = [i for i in await shop.invoices(sub) if i["_id"] == changed.invoice_id]
    assert (update["total_minor"], update["credit_applied_minor"], update["status"]) == (-2100, -2100, "paid")
    assert await shop.app.gateway.captured_total(changed.invoice_id) == 0
    assert (await shop.balance())["credit_minor"] == 2100


async def test_a_downgrade_at_period_end_bills_the_next_period_on_the_new_plan(shop: Shop) -> None:
    sub = await shop.subscribe(shop.pro)
    shop.clock.advance_to(START + 10 * DAY)
    outcome = await shop.app.plan_changes.change(CONTEXT, sub, shop.basic, "", True)
    assert outcome.invoice_id == "" and outcome.proration_lines == []
    assert (await shop.subscription(sub))["scheduled_plan_id"] == shop.basic
    await shop.use("pro-usage", "3", START + 20 * DAY)
    await shop.app.cycle.advance(shop.clock, FEB_1 + timedelta(hours=2))
    [cycle] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert sorted(kinds(cycle)) == [("base_fee", 3100), ("usage", 30)]  # Pro's usage rate, Basic's fee
    doc = await shop.subscription(sub)
    assert (doc["plan_id"], doc["scheduled_plan_id"]) == (shop.basic, None)
    await shop.use("basic-usage", "3", FEB_1 + DAY)  # the meter is still claimed by this subscription


async def test_an_interval_change_ends_the_period_at_the_change_and_restarts_the_cycle(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    await shop.use("monthly", "4", START + DAY)
    change_at = START + 10 * DAY
    shop.clock.advance_to(change_at)
    await shop.settle()  # the draft is priced from the usage read model (final at the seal)
    outcome = await shop.app.plan_changes.change(CONTEXT, sub, shop.yearly, "", False)
    doc = await shop.subscription(sub)
    assert (doc["current_period_start"], doc["current_period_end"]) == (change_at, change_at.replace(year=2027))
    assert doc["cycle_anchor"] == change_at
    [update] = [i for i in await shop.invoices(sub) if i["_id"] == outcome.invoice_id]
    assert update["reason"] == "subscription_update"
    assert sorted(kinds(update)) == [("base_fee", 36500), ("proration", -2100), ("usage", 4)]
    await shop.use("late-monthly", "1", START + 2 * DAY)  # late usage still lands in the closed period
    await shop.app.cycle.advance(shop.clock, change_at + 2 * timedelta(hours=1))
    [update] = [i for i in await shop.invoices(sub) if i["_id"] == outcome.invoice_id]
    assert ("usage", 5) in kinds(update) and update["status"] == "paid"


async def test_a_scheduled_interval_change_restarts_the_cycle_at_the_period_end(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    await shop.app.plan_changes.change(CONTEXT, sub, shop.yearly, "", True)
    await shop.use("january", "2", START + 3 * DAY)
    await shop.app.cycle.advance(shop.clock, FEB_1 + 2 * timedelta(hours=1))
    [cycle] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert sorted(kinds(cycle)) == [("base_fee", 36500), ("usage", 2)]
    [fee] = [line for line in cycle["lines"] if line["kind"] == "base_fee"]
    assert (fee["period_start"], fee["period_end"]) == (FEB_1, FEB_1.replace(year=2027))
    doc = await shop.subscription(sub)
    assert (doc["plan_id"], doc["cycle_anchor"], doc["current_period_end"]) == (
        shop.yearly,
        FEB_1,
        FEB_1.replace(year=2027),
    )
    await shop.use("february", "1", FEB_1 + DAY)


async def test_a_prorated_immediate_cancellation_credits_the_unused_fee_and_the_credit_pays_the_next_invoice(
    shop: Shop,
) -> None:
    sub = await shop.subscribe(shop.basic)
    await shop.use("used", "7", START + DAY)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.subscriptions.cancel(CONTEXT, sub, False, prorate=True)
    await shop.app.cycle.advance(shop.clock, START + 10 * DAY + 2 * timedelta(hours=1))
    [final] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_end"]
    assert sorted(kinds(final)) == [("proration", -2100), ("usage", 7)]
    assert (final["total_minor"], final["credit_applied_minor"], final["amount_due_minor"]) == (-2093, -2093, 0)
    balance = await shop.balance()
    assert balance["credit_minor"] == 2093
    # The credit pays the next subscription's first invoice before the card is charged.
    second = await shop.subscribe(shop.basic)
    await shop.app.cycle.run()
    [opening] = await shop.invoices(second)
    assert (opening["credit_applied_minor"], opening["amount_paid_minor"], opening["status"]) == (2093, 1007, "paid")
    assert (opening["amount_due_minor"], opening["amount_remaining_minor"]) == (1007, 0)
    assert await shop.app.gateway.captured_total(opening["_id"]) == 1007
    balance = await shop.balance()
    assert balance["credit_minor"] == 0
    parts = ("paid_minor", "credit_applied_minor", "outstanding_minor", "uncollectible_minor", "voided_minor")
    assert balance["invoiced_minor"] == sum(balance[p] for p in parts)


async def test_a_granted_credit_is_spent_once_and_never_below_zero(shop: Shop) -> None:
    await shop.app.credit.grant(CONTEXT, shop.organization_id, 1000, "goodwill")
    sub = await shop.subscribe(shop.basic)
    await shop.app.cycle.run()
    [opening] = await shop.invoices(sub)
    assert (opening["credit_applied_minor"], opening["amount_paid_minor"]) == (1000, 2100)
    assert (await shop.balance())["credit_minor"] == 0
    with pytest.raises(InvalidArgument):
        await shop.app.credit.grant(CONTEXT, shop.organization_id, 0, "")


async def test_two_finalizations_racing_for_one_credit_spend_it_once(shop: Shop) -> None:
    flat, _ = await shop.app.catalogue.create_plan(CONTEXT, NewPlan("flat", "Flat", "USD", "month", 1, 900, 0, []))
    await shop.app.credit.grant(CONTEXT, shop.organization_id, 1000, "goodwill")
    drafts = [(await shop.invoices(await shop.subscribe(plan)))[0]["_id"] for plan in (shop.basic, flat)]
    raced = await asyncio.gather(
        *(shop.app.billing.finalize(CONTEXT, invoice_id) for invoice_id in drafts), return_exceptions=True
    )
    assert all(isinstance(r, int | ConcurrencyConflict) for r in raced), raced
    await shop.app.cycle.run()  # finalizes the loser, if there was one, on fresh credit
    invoices = [(await shop.app.read_models.get("invoices", invoice_id)) or {} for invoice_id in drafts]
    assert sum(i["credit_applied_minor"] for i in invoices) == 1000
    assert {i["status"] for i in invoices} == {"paid"}
    assert (await shop.balance())["credit_minor"] == 0


async def test_a_trial_from_the_subscription_costs_nothing_when_canceled(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic, trial_days=14)
    doc = await shop.subscription(sub)
    assert (doc["status"], doc["trial_end"]) == ("trialing", START + 14 * DAY)
    await shop.use("trial", "9", START + DAY)
    shop.clock.advance_to(START + 3 * DAY)
    await shop.app.subscriptions.cancel(CONTEXT, sub, False, prorate=True)
    await shop.app.cycle.advance(shop.clock, START + 20 * DAY)
    assert await shop.invoices(sub) == []
    assert (await shop.subscription(sub))["final_period_closed"]


async def test_a_trial_converts_with_the_first_invoice_at_its_end(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic, trial_days=7)
    await shop.app.cycle.advance(shop.clock, START + 7 * DAY + 2 * timedelta(hours=1))
    [first] = await shop.invoices(sub)
    assert kinds(first) == [("base_fee", 3100)]  # no usage in the trial: only the first paid month's fee
    assert first["status"] == "paid" and (await shop.subscription(sub))["status"] == "active"


async def test_bad_changes_write_nothing(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    head = await shop.app.store.head_position()
    with pytest.raises(InvalidArgument):
        await shop.app.plan_changes.change(CONTEXT, sub, shop.pro, "sometimes", False)
    with pytest.raises(InvalidArgument):
        await shop.app.plan_changes.change(CONTEXT, sub, "", "", False)
    with pytest.raises(FailedPrecondition) as same:
        await shop.app.plan_changes.change(CONTEXT, sub, shop.basic, "", False)
    assert same.value.reason == "plan_unchanged"
    shop.clock.advance_to(FEB_1)  # January has ended but no billing run closed it yet
    with pytest.raises(FailedPrecondition) as due:
        await shop.app.plan_changes.change(CONTEXT, sub, shop.pro, "", False)
    assert due.value.reason == "period_close_due"
    with pytest.raises(InvalidArgument):
        await shop.app.subscriptions.cancel(CONTEXT, sub, True, prorate=True)
    with pytest.raises(InvalidArgument):
        await shop.app.subscriptions.start(CONTEXT, shop.organization_id, shop.pro, None, None, 731)
    assert await shop.app.store.head_position() == head


async def test_an_interval_change_at_the_instant_the_period_began_is_refused_and_a_moment_later_closes_it(
    shop: Shop,
) -> None:
    """Found by the fuzz suite: the change closed the empty period [start, start) and failed with INTERNAL."""
    sub = await shop.subscribe(shop.basic)
    head = await shop.app.store.head_position()
    with pytest.raises(FailedPrecondition) as refused:
        await shop.app.plan_changes.change(CONTEXT, sub, shop.yearly, "create_prorations", False)
    assert refused.value.reason == "period_just_started"
    assert await shop.app.store.head_position() == head  # nothing written

    shop.clock.advance(timedelta(seconds=1))
    outcome = await shop.app.plan_changes.change(CONTEXT, sub, shop.yearly, "create_prorations", False)
    await shop.app.projections.wait_until(outcome.position)
    restarted = await shop.subscription(sub)
    assert restarted["current_period_start"] == START + timedelta(seconds=1)
    [opening, closing] = await shop.invoices(sub)
    assert opening["reason"] == "subscription_create"
    assert closing["usage_period_start"] == START and closing["reason"] == "subscription_update"


async def test_a_change_at_period_end_onto_a_charged_meter_is_refused_or_dropped_when_the_period_closes(
    shop: Shop,
) -> None:
    """Found by the fuzz suite: a scheduled change that could not take its meters kept its period due forever."""
    flat, _ = await shop.app.catalogue.create_plan(CONTEXT, NewPlan("flat", "Flat", "USD", "month", 1, 900, 0, []))
    first, second = await shop.subscribe(flat), await shop.subscribe(flat)
    charging = await shop.subscribe(shop.basic)  # charges `calls`
    with pytest.raises(FailedPrecondition) as refused:
        await shop.app.plan_changes.change(CONTEXT, first, shop.pro, "", True)
    assert refused.value.reason == "meter_already_charged"

    await shop.app.subscriptions.cancel(CONTEXT, charging, False)  # `calls` is free again
    await shop.app.plan_changes.change(CONTEXT, first, shop.pro, "", True)  # scheduled for Feb 1
    shop.clock.advance_to(START + 5 * DAY)
    await shop.app.plan_changes.change(CONTEXT, second, shop.basic, "none", False)  # `second` takes `calls`
    await shop.app.cycle.advance(shop.clock, FEB_1 + DAY)

    rolled = await shop.subscription(first)
    assert (rolled["plan_id"], rolled["scheduled_plan_id"]) == (flat, None)
    assert rolled["current_period_start"] == FEB_1 and rolled["close_due_at"] > FEB_1 + DAY
    recorded = await shop.app.store.read_stream(subscription_stream(first))
    [dropped] = [e for e in recorded if e.type == "subscription.plan_change_dropped"]
    assert dropped.payload["reason"] == "meter_already_charged"


async def test_voiding_an_invoice_gives_its_credit_back_and_read_models_rebuild_identically(shop: Shop) -> None:
    await shop.app.credit.grant(CONTEXT, shop.organization_id, 500, "goodwill")
    sub = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.plan_changes.change(CONTEXT, sub, shop.pro, "create_prorations", False)
    await shop.app.organizations.update(CONTEXT, shop.organization_id, None, None, "pm_declined")
    await shop.app.cycle.run()  # the opening invoice spends the credit, then its charge is declined
    [opening] = await shop.invoices(sub)
    assert (opening["credit_applied_minor"], opening["status"]) == (500, "open")
    await shop.app.billing.void(CONTEXT, opening["_id"])
    balance = await shop.balance()
    assert (balance["credit_minor"], balance["voided_minor"], balance["credit_applied_minor"]) == (500, 2600, 500)

    runner = shop.app.projections
    collections = [name for p in runner.projections for name in p.collections]
    await shop.settle()
    live = {name: await shop.app.read_models.find(name, {}) for name in collections}
    for projection in runner.projections:
        await runner.rebuild(projection)
    assert {name: await shop.app.read_models.find(name, {}) for name in collections} == live


actions = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), st.integers(min_value=1, max_value=5000)),
        st.tuples(
            st.just("change"),
            st.sampled_from(["basic", "pro"]),
            st.sampled_from(["create_prorations", "always_invoice", "none"]),
        ),
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=20)),
    ),
    max_size=6,
)


@settings(max_examples=15, deadline=None)
@given(steps=actions)
@example(
    steps=[
        ("grant", 100),
        ("wait", 5),
        ("change", "pro", "always_invoice"),
        ("wait", 3),
        ("change", "basic", "create_prorations"),
        ("grant", 4000),
    ]
)
def test_credits_and_charges_reconcile_with_the_balance_over_any_changes(steps: list[tuple[Any, ...]]) -> None:
    """Whatever the grants and plan changes, every balance adds up and credit is what was granted minus spent."""

    async def scenario() -> None:
        clock = TestClock(START)
        settings_ = Settings(database="reconcile", key_hash_secret=TEST_KEY_HASH_SECRET, scheduler=False)
        async with open_in_memory_app(settings_, clock=clock) as app:
            await app.catalogue.create_meter(CONTEXT, "calls", "Calls", "sum", "")
            ids = {
                name: (await app.catalogue.create_plan(CONTEXT, NewPlan(name, name, "USD", "month", 1, fee, 0, [])))[0]
                for name, fee in (("basic", 3100), ("pro", 6200))
            }
            org, _ = await app.organizations.create(CONTEXT, NewOrganization("Acme", "USD", payment_method="pm_ok"))
            sub, _ = await app.subscriptions.start(CONTEXT, org, ids["basic"], None, None)
            plan, granted = "basic", 0
            for step in steps:
                if step[0] == "grant":
                    await app.credit.grant(CONTEXT, org, step[1], "")
                    granted += step[1]
                elif step[0] == "change" and step[1] != plan:
                    await app.cycle.run()  # a due close first, as the scheduler would
                    await app.plan_changes.change(CONTEXT, sub, ids[step[1]], step[2], False)
                    plan = step[1]
                elif step[0] == "wait":
                    await app.cycle.advance(clock, clock.now() + step[1] * DAY)
            await app.cycle.advance(clock, clock.now() + 40 * DAY)
            await app.projections.wait_until(await app.store.head_position())
            [balance] = await app.read_models.find("balances", {"organization_id": org})
            invoices = await app.read_models.find("invoices", {"organization_id": org})
            parts = ("paid_minor", "credit_applied_minor", "outstanding_minor", "uncollectible_minor", "voided_minor")
            assert balance["invoiced_minor"] == sum(balance[p] for p in parts)
            assert balance["invoiced_minor"] == sum(i["total_minor"] for i in invoices if i["status"] != "draft")
            applied = sum(i["credit_applied_minor"] for i in invoices)
            assert balance["credit_minor"] == granted - applied >= 0
            for invoice in invoices:
                if invoice["status"] == "paid":
                    paid = invoice["amount_paid_minor"]
                    assert paid == invoice["total_minor"] - invoice["credit_applied_minor"] >= 0
                    assert await app.gateway.captured_total(invoice["_id"]) == paid

    asyncio.run(scenario())


async def test_late_usage_of_the_new_plans_segment_after_the_close_is_rated_by_the_new_plan(shop: Shop) -> None:
    sub = await shop.subscribe(shop.basic)
    shop.clock.advance_to(START + 10 * DAY)
    await shop.app.plan_changes.change(CONTEXT, sub, shop.pro, "none", False)
    await shop.app.cycle.advance(shop.clock, FEB_1 + timedelta(minutes=10))  # closed, still a draft
    # Dated in Pro's segment (Jan 11 to Feb 1), arriving in the grace period after the close.
    usage = UsageInput(shop.organization_id, "calls", "2", START + 20 * DAY, "late-pro", {})
    [result] = await shop.app.usage.ingest(CONTEXT, [usage])
    assert result.outcome is Outcome.ACCEPTED, result
    await shop.app.cycle.advance(shop.clock, FEB_1 + 2 * timedelta(hours=1))
    [cycle] = [i for i in await shop.invoices(sub) if i["reason"] == "subscription_cycle"]
    assert cycle["status"] == "paid"
    assert ("usage", 20) in kinds(cycle)  # 2 calls at Pro's 10, not at Basic's 1
