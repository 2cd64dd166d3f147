"""Stub proration and base fees in arrears through the real server, on the MongoDB-wire store.

The worked example of docs/billing-rules/README.mds, driven by the test clock (it starts 2026-01-15 09:00 UTC): a
31.00 monthly fee anchored on Feb 1 bills its stub to the second (16 d 15 h of January's 31
days = 16.625 days' worth, 16.63 rounded half-up), by day (17 days), or nothing until the
anchor; a fee in arrears is billed at the end of the time it paid for.
"""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc import aio

from billing.v1 import billing_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from tests.e2e.conftest import Running
from tests.e2e.test_billing import ACCEPTED, Customer, at, ts
from tests.e2e.world import Stubs
from tests.rpc_errors import details_of

FEB_1 = at(2, 1, 0)


async def plan(running: Running, code: str, fee: int, **terms: str) -> str:
    stubs = Stubs.on(running.channel)
    charge = catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price="1"))
    created = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code=code,
            name=code.title(),
            currency="USD",
            interval_unit="month",
            base_fee_minor=fee,
            charges=[charge],
            **terms,
        ),
        metadata=running.admin,
    )
    return str(created.plan.plan_id)


async def meter(running: Running) -> None:
    await Stubs.on(running.channel).catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=running.admin
    )


async def customer(running: Running, plan_id: str, **start: object) -> Customer:
    stubs = Stubs.on(running.channel)
    organization = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", payment_method="pm_ok"),
        metadata=running.admin,
    )
    organization_id = organization.organization.organization_id
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plan_id, **start),
        metadata=running.admin,
    )
    return Customer(running, stubs, organization_id, started.subscription.subscription_id)


def lines_of(invoice: billing_pb2.Invoice) -> list[tuple[str, int, datetime, datetime]]:
    def moment(stamp: timestamp_pb2.Timestamp) -> datetime:
        return stamp.ToDatetime(tzinfo=UTC)

    return [
        (line.kind, line.amount_minor, moment(line.period_start), moment(line.period_end)) for line in invoice.lines
    ]


async def test_a_stub_before_the_billing_anchor_is_prorated_or_free_as_the_subscription_asks(
    running: Running,
) -> None:
    await meter(running)
    basic = await plan(running, "basic", 3100)
    daily = await plan(running, "daily", 3100, proration_unit="day")
    by_second = await customer(running, basic, billing_anchor=ts(FEB_1))
    by_day = await customer(running, daily, billing_anchor=ts(FEB_1))
    free = await customer(running, basic, billing_anchor=ts(FEB_1), proration_behavior="none")
    trial = await customer(running, basic, billing_anchor=ts(FEB_1), trial_days=7)

    [opening] = await by_second.invoices()
    assert lines_of(opening) == [("base_fee", 1663, at(1, 15), FEB_1)]  # 3100 * 16.625 / 31 = 1662.5
    [opening] = await by_day.invoices()
    assert lines_of(opening) == [("base_fee", 1700, at(1, 15), FEB_1)]  # 17 of 31 days
    assert opening.lines[0].description.endswith("17 of 31 days")
    assert await free.invoices() == [] and await trial.invoices() == []
    got = await free.stubs.subscriptions.GetSubscription(
        subscriptions_pb2.GetSubscriptionRequest(subscription_id=free.subscription_id), metadata=running.admin
    )
    assert got.subscription.stub_proration_behavior == "none"

    # The trial ends on Jan 22 09:00: its stub to Feb 1 is 9 d 15 h, 3100 * 9.625 / 31 = 962.5.
    preview = await trial.stubs.usage.PreviewInvoice(
        usage_pb2.PreviewInvoiceRequest(subscription_id=trial.subscription_id), metadata=running.admin
    )
    assert [(line.kind, line.amount_minor) for line in preview.lines] == [("base_fee", 963)]
    await trial.advance_to(at(1, 22, 11))
    [trial_end] = await trial.invoices()
    assert lines_of(trial_end) == [("base_fee", 963, at(1, 22), FEB_1)]
    assert trial_end.status == "paid" and trial_end.total_minor == preview.total_minor

    assert (await free.use("stub", "4", at(1, 20))).outcome == ACCEPTED
    await free.advance_to(at(2, 1, 2))
    [february] = await free.invoices()
    assert sorted(lines_of(february)) == [
        ("base_fee", 3100, FEB_1, at(3, 1, 0)),  # February in full
        ("usage", 4, at(1, 15), FEB_1),  # the free stub's usage is still billed
    ]
    assert [invoice.total_minor for invoice in await by_second.invoices()] == [1663, 3100]


async def test_a_fee_in_arrears_is_billed_for_the_time_served_at_the_close_a_change_and_a_cancellation(
    running: Running,
) -> None:
    await meter(running)
    later = await plan(running, "later", 3100, base_fee_timing="arrears")
    later_pro = await plan(running, "later-pro", 6200, base_fee_timing="arrears")
    got = await Stubs.on(running.channel).catalogue.GetPlan(
        catalogue_pb2.GetPlanRequest(plan_id=later), metadata=running.admin
    )
    assert (got.plan.base_fee_timing, got.plan.proration_unit) == ("arrears", "second")
    closes, changes, cancels = [await customer(running, later) for _ in range(3)]
    assert await closes.invoices() == []  # nothing in advance

    # At the close: Jan 15 to Feb 15 in arrears, as the upcoming-invoice preview said.
    await closes.advance_to(at(1, 20))
    assert (await closes.use("jan", "5", at(1, 20))).outcome == ACCEPTED
    await running.app.projections.wait_until(await running.app.store.head_position())
    preview = await closes.stubs.usage.PreviewInvoice(
        usage_pb2.PreviewInvoiceRequest(subscription_id=closes.subscription_id), metadata=running.admin
    )
    assert sorted((line.kind, line.amount_minor) for line in preview.lines) == [("base_fee", 3100), ("usage", 5)]

    # A change on Jan 25 09:00 (10 of the period's 31 days served) to a dearer plan in arrears.
    await closes.advance_to(at(1, 25))
    changed = await changes.stubs.subscriptions.ChangePlan(
        subscriptions_pb2.ChangePlanRequest(subscription_id=changes.subscription_id, plan_id=later_pro),
        metadata=running.admin,
    )
    assert [(p.description, p.amount_minor) for p in changed.subscription.pending_prorations] == [
        ("Used time on Later until 2026-01-25 09:00:00 UTC", 1000)
    ]
    # A cancellation on Feb 1 00:00 (16 d 15 h served): 3100 * 16.625 / 31 = 1662.5, half-up.
    await cancels.advance_to(FEB_1)
    await cancels.stubs.subscriptions.CancelSubscription(
        subscriptions_pb2.CancelSubscriptionRequest(subscription_id=cancels.subscription_id, prorate=True),
        metadata=running.admin,
    )

    await closes.advance_to(at(2, 15, 11))
    [january] = await closes.invoices()
    assert sorted(lines_of(january)) == [("base_fee", 3100, at(1, 15), at(2, 15)), ("usage", 5, at(1, 15), at(2, 15))]
    assert (january.status, january.total_minor) == ("paid", preview.total_minor)
    [changed_period] = await changes.invoices()
    # Later's 10 days at the change, Later Pro's 21 days at the close (6200 * 21 / 31): each once.
    assert sorted((line.kind, line.amount_minor) for line in changed_period.lines) == [
        ("base_fee", 4200),
        ("proration", 1000),
    ]
    [final] = await cancels.invoices()
    assert (final.reason, lines_of(final)) == ("subscription_end", [("base_fee", 1663, at(1, 15), FEB_1)])


async def test_bad_fee_terms_are_refused_field_by_field_and_write_nothing(running: Running) -> None:
    await meter(running)
    basic = await plan(running, "basic", 3100)
    stubs = Stubs.on(running.channel)
    head = await running.app.store.head_position()
    with pytest.raises(aio.AioRpcError) as refused:
        await stubs.catalogue.CreatePlan(
            catalogue_pb2.CreatePlanRequest(
                code="odd",
                name="Odd",
                currency="USD",
                interval_unit="month",
                base_fee_timing="later",
                proration_unit="week",
            ),
            metadata=running.admin,
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert set(details_of(refused.value).fields) == {"base_fee_timing", "proration_unit"}
    assert await running.app.store.head_position() == head
    organization = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD"), metadata=running.admin
    )
    head = await running.app.store.head_position()
    with pytest.raises(aio.AioRpcError) as refused:
        await stubs.subscriptions.StartSubscription(
            subscriptions_pb2.StartSubscriptionRequest(
                organization_id=organization.organization.organization_id,
                plan_id=basic,
                billing_anchor=ts(FEB_1),
                proration_behavior="always_invoice",
            ),
            metadata=running.admin,
        )
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert list(details_of(refused.value).fields) == ["proration_behavior"]
    assert await running.app.store.head_position() == head
