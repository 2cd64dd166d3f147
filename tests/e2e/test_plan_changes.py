"""Plan changes, trials, cancellations and customer credit through the real server, on the test clock.

The e2e server's test clock starts 2026-01-15 09:00 UTC, so a monthly period runs to Feb 15 09:00
(31 days): a change on Jan 25 09:00 leaves 21/31 of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import pytest
from grpc import aio

from billing.v1 import billing_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from tests.e2e.conftest import Running
from tests.e2e.test_billing import ACCEPTED, Customer, at, ts
from tests.e2e.world import Stubs
from tests.rpc_errors import details_of


@dataclass
class Plans:
    basic: str  # 3100 a month, 1 per API call
    pro: str  # 6200 a month, 10 per API call
    yearly: str  # 36500 a year, 1 per API call


async def catalogue(running: Running) -> Plans:
    stubs, admin = Stubs.on(running.channel), running.admin
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=admin
    )
    ids = []
    for code, unit, fee, price in (
        ("basic", "month", 3100, "1"),
        ("pro", "month", 6200, "10"),
        ("yr", "year", 36500, "1"),
    ):
        charge = catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price=price))
        created = await stubs.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code=code, name=code.title(), currency="USD", interval_unit=unit, base_fee_minor=fee, charges=[charge]
            ),
            metadata=admin,
        )
        ids.append(created.plan.plan_id)
    return Plans(*ids)


async def customer_on(running: Running, plan_id: str, trial_days: int | None = None) -> Customer:
    stubs, admin = Stubs.on(running.channel), running.admin
    organization = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", payment_method="pm_ok"),
        metadata=admin,
    )
    request = subscriptions_pb2.StartSubscriptionRequest(
        organization_id=organization.organization.organization_id, plan_id=plan_id
    )
    if trial_days is not None:
        request.trial_days = trial_days
    started = await stubs.subscriptions.StartSubscription(request, metadata=admin)
    return Customer(running, stubs, organization.organization.organization_id, started.subscription.subscription_id)


async def change(customer: Customer, plan_id: str, **fields: object) -> subscriptions_pb2.ChangePlanResponse:
    request = subscriptions_pb2.ChangePlanRequest(subscription_id=customer.subscription_id, plan_id=plan_id, **fields)
    response: subscriptions_pb2.ChangePlanResponse = await customer.stubs.subscriptions.ChangePlan(
        request, metadata=customer.running.admin
    )
    return response


def lines_of(invoice: billing_pb2.Invoice) -> list[tuple[str, int]]:
    return sorted((line.kind, line.amount_minor) for line in invoice.lines)


@pytest.fixture
async def plans(running: Running) -> Plans:
    return await catalogue(running)


async def test_an_upgrade_is_previewed_then_prorated_to_the_second_and_usage_rated_by_each_plan(
    running: Running, plans: Plans
) -> None:
    customer = await customer_on(running, plans.basic)
    await customer.advance_to(at(1, 20))
    assert (await customer.use("before", "5", at(1, 20))).outcome == ACCEPTED
    await customer.advance_to(at(1, 25))
    head = await running.app.store.head_position()

    preview = await customer.stubs.usage.PreviewInvoice(
        usage_pb2.PreviewInvoiceRequest(
            subscription_id=customer.subscription_id, change_plan_id=plans.pro, proration_time=ts(at(1, 25))
        ),
        metadata=running.admin,
    )
    assert [line.amount_minor for line in preview.proration_lines] == [-2100, 4200]  # 21/31 of 3100 and 6200
    assert sorted((line.kind, line.amount_minor) for line in preview.lines) == [
        ("base_fee", 6200),
        ("proration", -2100),
        ("proration", 4200),
        ("usage", 5),
    ]
    assert await running.app.store.head_position() == head  # a preview commits nothing

    changed = await change(customer, plans.pro)
    assert changed.subscription.plan_id == plans.pro and changed.invoice_id == ""
    assert [p.amount_minor for p in changed.subscription.pending_prorations] == [-2100, 4200]
    await customer.advance_to(at(1, 26))
    assert (await customer.use("after", "2", at(1, 26))).outcome == ACCEPTED
    # Before the close, the preview rates each segment by its plan and carries the pending prorations.
    await running.app.projections.wait_until(await running.app.store.head_position())  # as test_usage does
    preview = await customer.stubs.usage.PreviewInvoice(
        usage_pb2.PreviewInvoiceRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    expected = [("base_fee", 6200), ("proration", -2100), ("proration", 4200), ("usage", 5), ("usage", 20)]
    assert sorted((line.kind, line.amount_minor) for line in preview.lines) == expected
    summary = await customer.stubs.usage.GetUsageSummary(
        usage_pb2.GetUsageSummaryRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    assert summary.period_start.ToDatetime(tzinfo=at(1, 1).tzinfo) == at(1, 25)  # the new plan's segment

    await customer.advance_to(at(2, 15, 10, 30))
    february = (await customer.invoices())[-1]
    assert lines_of(february) == [
        ("base_fee", 6200),
        ("proration", -2100),
        ("proration", 4200),
        ("usage", 5),
        ("usage", 20),
    ]
    assert (february.status, february.amount_paid_minor) == ("paid", 6200 - 2100 + 4200 + 5 + 20)


async def test_a_downgrade_at_period_end_takes_effect_at_the_close(running: Running, plans: Plans) -> None:
    customer = await customer_on(running, plans.pro)
    await customer.advance_to(at(1, 25))
    changed = await change(customer, plans.basic, at_period_end=True)
    assert (changed.subscription.plan_id, changed.subscription.scheduled_plan_id) == (plans.pro, plans.basic)
    assert not changed.proration_lines
    await customer.advance_to(at(2, 1))
    assert (await customer.use("pro", "1", at(2, 1))).outcome == ACCEPTED

    await customer.advance_to(at(2, 15, 10, 30))
    february = (await customer.invoices())[-1]
    assert lines_of(february) == [("base_fee", 3100), ("usage", 10)]  # January at Pro's rate, Basic's fee ahead
    got = await customer.stubs.subscriptions.GetSubscription(
        subscriptions_pb2.GetSubscriptionRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    assert (got.subscription.plan_id, got.subscription.scheduled_plan_id) == (plans.basic, "")


async def test_a_trial_converts_with_its_first_invoice_at_the_trial_end(running: Running, plans: Plans) -> None:
    customer = await customer_on(running, plans.basic, trial_days=14)
    assert await customer.subscription_status() == "trialing"
    await customer.advance_to(at(1, 28))
    assert await customer.invoices() == []  # no base fee during the trial
    await customer.advance_to(at(1, 29, 10, 30))
    [first] = await customer.invoices()
    assert (first.reason, first.status, lines_of(first)) == ("subscription_cycle", "paid", [("base_fee", 3100)])
    assert await customer.subscription_status() == "active"


async def test_an_immediate_prorated_cancellation_becomes_credit_that_pays_later_invoices(
    running: Running, plans: Plans
) -> None:
    customer = await customer_on(running, plans.basic)
    await customer.advance_to(at(1, 25))
    await customer.stubs.subscriptions.CancelSubscription(
        subscriptions_pb2.CancelSubscriptionRequest(subscription_id=customer.subscription_id, prorate=True),
        metadata=running.admin,
    )
    await customer.advance_to(at(1, 25, 10, 30))
    opening, final = await customer.invoices()
    assert (opening.status, opening.amount_paid_minor) == ("paid", 3100)
    assert (final.reason, lines_of(final)) == ("subscription_end", [("proration", -2100)])
    assert (final.total_minor, final.credit_applied_minor, final.status) == (-2100, -2100, "paid")

    granted = await customer.stubs.invoices.GrantCredit(
        billing_pb2.GrantCreditRequest(organization_id=customer.organization_id, amount_minor=400, description="sorry"),
        metadata=running.admin,
    )
    assert granted.balance.credit_minor == 2500
    balance = await customer.balance()
    assert balance.credit_minor == 2500
    assert balance.invoiced_minor == balance.paid_minor + balance.credit_applied_minor + balance.outstanding_minor

    # A new subscription's first invoice is paid from the credit before the card is charged.
    started = await customer.stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=customer.organization_id, plan_id=plans.basic),
        metadata=running.admin,
    )
    await customer.advance_to(at(1, 25, 10, 31))
    [opening] = [i for i in await customer.invoices() if i.subscription_id == started.subscription.subscription_id]
    assert (opening.credit_applied_minor, opening.amount_paid_minor, opening.status) == (2500, 600, "paid")
    assert (await customer.balance()).credit_minor == 0


async def test_bad_plan_changes_and_grants_are_refused_with_field_violations_and_write_nothing(
    running: Running, plans: Plans
) -> None:
    customer = await customer_on(running, plans.basic)
    head = await running.app.store.head_position()
    bad = [
        (subscriptions_pb2.ChangePlanRequest(subscription_id=customer.subscription_id), "plan_id"),
        (
            subscriptions_pb2.ChangePlanRequest(
                subscription_id=customer.subscription_id, plan_id=plans.pro, proration_behavior="sometimes"
            ),
            "proration_behavior",
        ),
    ]
    for request, field in bad:
        with pytest.raises(aio.AioRpcError) as refused:
            await customer.stubs.subscriptions.ChangePlan(request, metadata=running.admin)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in details_of(refused.value).fields
    with pytest.raises(aio.AioRpcError) as refused:
        await customer.stubs.subscriptions.CancelSubscription(
            subscriptions_pb2.CancelSubscriptionRequest(
                subscription_id=customer.subscription_id, at_period_end=True, prorate=True
            ),
            metadata=running.admin,
        )
    assert "prorate" in details_of(refused.value).fields
    long_trial = subscriptions_pb2.StartSubscriptionRequest(
        organization_id=customer.organization_id, plan_id=plans.pro, trial_days=731
    )
    with pytest.raises(aio.AioRpcError) as refused:
        await customer.stubs.subscriptions.StartSubscription(long_trial, metadata=running.admin)
    assert "trial_days" in details_of(refused.value).fields
    with pytest.raises(aio.AioRpcError) as refused:
        await customer.stubs.invoices.GrantCredit(
            billing_pb2.GrantCreditRequest(organization_id=customer.organization_id, amount_minor=-5),
            metadata=running.admin,
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "amount_minor" in details_of(refused.value).fields
    with pytest.raises(aio.AioRpcError) as same:
        await change(customer, plans.basic)
    assert (same.value.code(), details_of(same.value).reason) == (grpc.StatusCode.FAILED_PRECONDITION, "plan_unchanged")
    with pytest.raises(aio.AioRpcError) as outside:
        await customer.stubs.usage.PreviewInvoice(
            usage_pb2.PreviewInvoiceRequest(
                subscription_id=customer.subscription_id, change_plan_id=plans.pro, proration_time=ts(at(3, 1))
            ),
            metadata=running.admin,
        )
    assert outside.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "proration_time" in details_of(outside.value).fields
    assert await running.app.store.head_position() == head
