"""Random command sequences against the whole application, with the invariants checked after every step.

Hypothesis draws subscriptions, usage (with repeated idempotency keys and late events), plan
changes, cancellations, payment-method changes (declines, timeouts), credit grants, voids and
clock advances through months of billing. After each step the read models must satisfy the
product's invariants (ARCHITECTURE.md §4): balances reconcile with invoices and with what the
gateway captured, one invoice per subscription period, no invoice captured twice, usage counted
exactly once, and entitlements granted by exactly the live subscriptions' current plans. A step
must also end: a billing run that never finishes is a failure. Runs on the in-memory store, so
hundreds of steps take seconds. It found two bugs (see test_plan_change_handlers.py).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from billing_grpc.application.catalogue import NewPlan
from billing_grpc.application.context import system_context
from billing_grpc.application.organizations import NewOrganization
from billing_grpc.application.usage import Outcome
from billing_grpc.bootstrap import App, open_in_memory_app
from billing_grpc.domain.clock import TestClock
from billing_grpc.domain.errors import BillingError
from billing_grpc.domain.pricing import Charge, Graduated, PerUnit, Tier
from billing_grpc.domain.usage import UsageInput
from billing_grpc.settings import Settings
from tests.e2e.conftest import TEST_KEY_HASH_SECRET

START = datetime(2026, 1, 31, 10, tzinfo=UTC)  # a month end: the calendar's hardest anchor
CONTEXT = system_context()
ORGANIZATIONS = 3
# Far above what any step takes (milliseconds): a step still running after this is stuck.
STEP_SECONDS = 20
PLANS = ("basic", "pro", "yearly", "flat")
METHODS = ("pm_ok", "pm_declined", "pm_fail_then_ok", "pm_timeout", "pm_insufficient_funds")
BEHAVIORS = ("create_prorations", "always_invoice", "none")
BALANCE_BUCKETS = ("paid_minor", "credit_applied_minor", "outstanding_minor", "uncollectible_minor", "voided_minor")

organization = st.integers(0, ORGANIZATIONS - 1)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("subscribe"), organization, st.sampled_from(PLANS), st.sampled_from([None, 0, 7])),
        st.tuples(st.just("usage"), organization, st.integers(0, 12), st.integers(1, 2500), st.integers(0, 90)),
        st.tuples(
            st.just("change"), st.integers(0, 5), st.sampled_from(PLANS), st.sampled_from(BEHAVIORS), st.booleans()
        ),
        st.tuples(st.just("cancel"), st.integers(0, 5), st.booleans(), st.booleans()),
        st.tuples(st.just("method"), organization, st.sampled_from(METHODS)),
        st.tuples(st.just("grant"), organization, st.integers(1, 10_000)),
        st.tuples(st.just("void"), st.integers(0, 20)),
        st.tuples(st.just("advance"), st.integers(1, 24 * 45)),
    ),
    min_size=5,
    max_size=40,
)


@dataclass
class Model:
    """What the test itself knows happened: the expected side of every invariant."""

    organizations: list[str] = field(default_factory=list)
    plans: dict[str, str] = field(default_factory=dict)
    subscriptions: list[str] = field(default_factory=list)
    accepted: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # (organization, key) → quantity


async def _catalogue(app: App, model: Model) -> None:
    await app.catalogue.create_meter(CONTEXT, "calls", "Calls", "sum", "")
    graduated = Graduated((Tier(Decimal(1000), Decimal("0.5")), Tier(None, Decimal("0.1"))))
    plans = {
        "basic": NewPlan("basic", "Basic", "USD", "month", 1, 3100, 0, [Charge("calls", PerUnit(Decimal("1")))]),
        "pro": NewPlan("pro", "Pro", "USD", "month", 1, 6200, 0, [Charge("calls", graduated)]),
        "yearly": NewPlan("yearly", "Yearly", "USD", "year", 1, 36500, 0, [Charge("calls", PerUnit(Decimal("2")))]),
        "flat": NewPlan("flat", "Flat", "USD", "month", 1, 900, 0, []),
    }
    for name, plan in plans.items():
        model.plans[name], _ = await app.catalogue.create_plan(CONTEXT, plan)
    for number in range(ORGANIZATIONS):
        created, _ = await app.organizations.create(
            CONTEXT, NewOrganization(f"Customer {number}", "USD", payment_method="pm_ok")
        )
        model.organizations.append(created)
    # A head start, so usage and changes meet live subscriptions from the first step.
    for number, plan in ((0, "basic"), (1, "flat")):
        subscribed, _ = await app.subscriptions.start(
            CONTEXT, model.organizations[number], model.plans[plan], None, None
        )
        model.subscriptions.append(subscribed)
    await app.projections.wait_until(await app.store.head_position())


async def _step(app: App, clock: TestClock, model: Model, step: tuple[Any, ...]) -> None:
    """Carry out one drawn step; refusals (a BillingError with a reason) are legitimate answers."""
    match step:
        case ("subscribe", org, plan, trial_days):
            created, _ = await app.subscriptions.start(
                CONTEXT, model.organizations[org], model.plans[plan], None, None, trial_days
            )
            model.subscriptions.append(created)
        case ("usage", org, key, quantity, minutes_ago):
            organization_id = model.organizations[org]
            at = max(START, clock.now() - timedelta(minutes=minutes_ago))
            usage = UsageInput(organization_id, "calls", str(quantity), at, f"k-{key}", {})
            [result] = await app.usage.ingest(CONTEXT, [usage])
            event(f"usage: {result.outcome.value} {result.reason}")
            known = (organization_id, f"k-{key}") in model.accepted
            if known:  # the same (organization, key) is counted once, ever
                assert result.outcome is Outcome.DUPLICATE, result
            elif result.outcome is Outcome.ACCEPTED:
                model.accepted[(organization_id, f"k-{key}")] = Decimal(quantity)
            else:  # nothing is silently dropped: a refusal says why
                assert result.outcome is Outcome.REJECTED and result.reason, result
        case ("change", which, plan, behavior, at_period_end) if model.subscriptions:
            subscription_id = model.subscriptions[which % len(model.subscriptions)]
            await app.plan_changes.change(CONTEXT, subscription_id, model.plans[plan], behavior, at_period_end)
        case ("cancel", which, at_period_end, prorate) if model.subscriptions:
            subscription_id = model.subscriptions[which % len(model.subscriptions)]
            await app.subscriptions.cancel(CONTEXT, subscription_id, at_period_end, prorate and not at_period_end)
        case ("method", org, method):
            await app.organizations.update(CONTEXT, model.organizations[org], None, None, method)
        case ("grant", org, amount):
            await app.credit.grant(CONTEXT, model.organizations[org], amount, "goodwill")
        case ("void", which):
            invoices = await app.read_models.find("invoices", {}, sort=[("_id", 1)])
            if invoices:
                await app.billing.void(CONTEXT, invoices[which % len(invoices)]["_id"])
        case ("advance", hours):
            await app.cycle.advance(clock, clock.now() + timedelta(hours=hours))


async def _check_invariants(app: App, model: Model) -> None:
    await app.projections.wait_until(await app.store.head_position())
    invoices = await app.read_models.find("invoices", {})

    # One invoice per subscription period, whatever the retries, changes and voids.
    periods = Counter((i["subscription_id"], i["usage_period_start"]) for i in invoices if i["usage_period_start"])
    assert all(count == 1 for count in periods.values()), periods.most_common(3)

    # No invoice is captured twice; every invoice's amount paid is exactly what the gateway
    # captured for it: its amount due once paid (0 if nothing was due), nothing in any other status.
    for invoice in invoices:
        captured = await app.gateway.captured(invoice["_id"])
        assert len(captured) <= 1, (invoice["_id"], captured)
        captured_total = await app.gateway.captured_total(invoice["_id"])
        assert captured_total == invoice["amount_paid_minor"], invoice
        if invoice["status"] == "paid":
            assert invoice["amount_paid_minor"] == invoice["amount_due_minor"], invoice
        else:
            assert invoice["amount_paid_minor"] == 0, invoice

    # Each invoice's figures agree: due = total - credit applied (fixed at finalization), and
    # remaining = due - paid until it is paid or void.
    for invoice in invoices:
        due, remaining = invoice["amount_due_minor"], invoice["amount_remaining_minor"]
        if invoice["finalized_at"] is not None:
            assert due == invoice["total_minor"] - invoice["credit_applied_minor"] >= 0, invoice
        else:  # a draft's (or a voided draft's) provisional figure
            assert (due, invoice["credit_applied_minor"]) == (max(invoice["total_minor"], 0), 0), invoice
        settled = invoice["status"] in ("paid", "void")
        assert remaining == (0 if settled else due - invoice["amount_paid_minor"]), invoice

    # Balances reconcile with themselves and with the invoices they count.
    finalized = [i for i in invoices if i["finalized_at"] is not None]
    for balance in await app.read_models.find("balances", {}):
        assert balance["invoiced_minor"] == sum(balance[bucket] for bucket in BALANCE_BUCKETS), balance
        assert all(balance[bucket] >= 0 for bucket in ("paid_minor", "outstanding_minor", "credit_minor")), balance
        mine = [i for i in finalized if i["organization_id"] == balance["organization_id"]]
        assert balance["invoiced_minor"] == sum(i["total_minor"] for i in mine), balance
        assert balance["credit_applied_minor"] == sum(i["credit_applied_minor"] for i in mine), balance
        assert balance["paid_minor"] == sum(i["amount_paid_minor"] for i in mine if i["status"] == "paid"), balance
        for bucket, status, figure in (
            ("outstanding_minor", "open", "amount_remaining_minor"),
            ("uncollectible_minor", "uncollectible", "amount_remaining_minor"),
            ("voided_minor", "void", "amount_due_minor"),
        ):
            assert balance[bucket] == sum(i[figure] for i in mine if i["status"] == status), (bucket, balance)

    # Entitlements follow the subscriptions: each live one grants its current plan, nothing else grants.
    granting = {doc["subscription_id"]: doc["plan_id"] for doc in await app.read_models.find("entitlements", {})}
    subscriptions = await app.read_models.find("subscriptions", {})
    live = {doc["_id"]: doc["plan_id"] for doc in subscriptions if doc["status"] not in ("canceled", "unpaid")}
    assert granting == live

    # Usage counted once: the read model holds exactly the accepted events, each once.
    totals = await app.read_models.find("usage_totals", {})
    assert sum(t["event_count"] for t in totals) == len(model.accepted)
    assert sum(Decimal(t["sum"]) for t in totals) == sum(model.accepted.values(), Decimal(0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=steps)
def test_invariants_hold_after_every_step_of_any_command_sequence(drawn: list[tuple[Any, ...]]) -> None:
    """Whatever customers, operators and time do, billing stays exact and exactly once."""

    async def scenario() -> None:
        clock = TestClock(START)
        settings_ = Settings(database="fuzz", key_hash_secret=TEST_KEY_HASH_SECRET, scheduler=False)
        async with open_in_memory_app(settings_, clock=clock) as app:
            model = Model()
            await _catalogue(app, model)
            for step in [*drawn, ("advance", 24 * 70)]:  # and two more months, to close what is open
                try:
                    async with asyncio.timeout(STEP_SECONDS):  # a step that never ends is a failure too
                        await _step(app, clock, model, step)
                    event(f"{step[0]}: done")
                except BillingError as refused:  # not allowed now, already ended, …: also an answer
                    event(f"{step[0]}: refused {refused.reason}")
                await _check_invariants(app, model)

    asyncio.run(scenario())
