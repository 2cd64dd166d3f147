"""The billing cycle through the real server on the MongoDB-wire store, driven by the test clock.

The e2e server runs on a test clock starting 2026-01-15 09:00 UTC (see conftest).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2

from billing.v1 import billing_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from tests.e2e.conftest import Running
from tests.e2e.world import Stubs
from tests.rpc_errors import details_of

ACCEPTED = usage_pb2.UsageResult.OUTCOME_ACCEPTED
REJECTED = usage_pb2.UsageResult.OUTCOME_REJECTED


def ts(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Customer:
    """One organization on a metered plan, billed through the API."""

    running: Running
    stubs: Stubs
    organization_id: str
    subscription_id: str

    async def use(self, key: str, quantity: str, when: datetime) -> usage_pb2.UsageResult:
        event = usage_pb2.UsageEvent(
            organization_id=self.organization_id,
            meter_code="api_calls",
            quantity=quantity,
            idempotency_key=key,
            timestamp=ts(when),
        )
        response = await self.stubs.usage.RecordUsage(
            usage_pb2.RecordUsageRequest(events=[event]), metadata=self.running.admin
        )
        return response.results[0]

    async def advance_to(self, moment: datetime) -> billing_pb2.CycleReport:
        answer = await self.stubs.billing.AdvanceClock(
            billing_pb2.AdvanceClockRequest(to=ts(moment)), metadata=self.running.admin
        )
        return answer.report

    async def pay_with(self, payment_method: str) -> None:
        await self.stubs.organizations.UpdateOrganization(
            organizations_pb2.UpdateOrganizationRequest(
                organization_id=self.organization_id, payment_method=payment_method
            ),
            metadata=self.running.admin,
        )

    async def invoices(self) -> list[billing_pb2.Invoice]:
        listed = await self.stubs.invoices.ListInvoices(
            billing_pb2.ListInvoicesRequest(organization_id=self.organization_id), metadata=self.running.admin
        )
        return list(listed.invoices)

    async def subscription_status(self) -> str:
        got = await self.stubs.subscriptions.GetSubscription(
            subscriptions_pb2.GetSubscriptionRequest(subscription_id=self.subscription_id),
            metadata=self.running.admin,
        )
        return str(got.subscription.status)

    async def balance(self) -> billing_pb2.Balance:
        got = await self.stubs.invoices.GetBalance(
            billing_pb2.GetBalanceRequest(organization_id=self.organization_id), metadata=self.running.admin
        )
        [usd] = got.balances
        return usd

    async def payments(self) -> list[billing_pb2.Payment]:
        listed = await self.stubs.invoices.ListPayments(
            billing_pb2.ListPaymentsRequest(organization_id=self.organization_id), metadata=self.running.admin
        )
        return list(listed.payments)


async def subscribe(running: Running, payment_method: str) -> Customer:
    stubs = Stubs.on(running.channel)
    admin = running.admin
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=admin
    )
    tiers = [catalogue_pb2.Tier(up_to="1000", unit_price="0.5"), catalogue_pb2.Tier(unit_price="0.1")]
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code="pro",
            name="Pro",
            currency="USD",
            interval_unit="month",
            base_fee_minor=2900,
            charges=[catalogue_pb2.Charge(meter_code="api_calls", graduated=catalogue_pb2.Tiers(tiers=tiers))],
        ),
        metadata=admin,
    )
    organization = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", payment_method=payment_method),
        metadata=admin,
    )
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(
            organization_id=organization.organization.organization_id, plan_id=plan.plan.plan_id
        ),
        metadata=admin,
    )
    return Customer(running, stubs, organization.organization.organization_id, started.subscription.subscription_id)


@pytest.fixture
async def customer(running: Running) -> AsyncIterator[Customer]:
    yield await subscribe(running, "pm_ok")


async def test_three_months_of_billing_with_late_usage_a_declined_payment_and_recovery(customer: Customer) -> None:
    # January: the first period's fee is invoiced at the start and paid at the next run.
    await customer.advance_to(at(1, 15, 9, 1))
    [opening] = await customer.invoices()
    assert (opening.reason, opening.status, opening.total_minor) == ("subscription_create", "paid", 2900)

    await customer.advance_to(at(1, 20))
    assert (await customer.use("jan-1", "1200", at(1, 20))).outcome == ACCEPTED
    # The period ends Feb 15 09:00; its invoice stays a draft for the one-hour grace period.
    await customer.advance_to(at(2, 15, 9, 30))
    draft = (await customer.invoices())[-1]
    assert draft.status == "draft" and draft.total_minor == 2900 + 520  # 1000 at 0.5 + 200 at 0.1, then the fee
    late = await customer.use("jan-late", "300", at(2, 15, 8, 59))  # January usage, arriving in the grace window
    assert late.outcome == ACCEPTED

    await customer.advance_to(at(2, 15, 10, 30))
    february = (await customer.invoices())[-1]
    assert february.invoice_id == draft.invoice_id
    assert (february.status, february.total_minor) == ("paid", 2900 + 550)  # the late usage is on the invoice
    assert [(line.kind, line.quantity, line.amount_minor) for line in february.lines] == [
        ("usage", "1500", 550),
        ("base_fee", "1", 2900),
    ]
    closed = await customer.use("jan-too-late", "5", at(2, 15, 8, 59))
    assert (closed.outcome, closed.reason) == (REJECTED, "period_closed")

    # March: the card is declined; the subscription goes past due and dunning retries a day later.
    await customer.pay_with("pm_declined")
    await customer.advance_to(at(3, 15, 10, 30))
    march = (await customer.invoices())[-1]
    assert (march.status, march.attempts, march.last_failure_code) == ("open", 1, "card_declined")
    assert march.next_attempt_at.ToDatetime(tzinfo=UTC) == at(3, 15, 10) + timedelta(days=1)
    assert await customer.subscription_status() == "past_due"
    outstanding = await customer.balance()
    assert outstanding.outstanding_minor == march.total_minor == 2900

    await customer.pay_with("pm_ok")
    await customer.advance_to(at(3, 17))
    march = (await customer.invoices())[-1]
    assert (march.status, march.attempts) == ("paid", 2)
    assert await customer.subscription_status() == "active"

    numbers = [invoice.number for invoice in await customer.invoices()]
    assert [number[-4:] for number in numbers] == ["0001", "0002", "0003"]  # gapless per organization
    balance = await customer.balance()
    assert balance.invoiced_minor == 2900 + 3450 + 2900 == balance.paid_minor
    assert balance.outstanding_minor == balance.uncollectible_minor == 0
    payments = await customer.payments()
    assert [(p.status, p.failure_code) for p in payments] == [
        ("succeeded", ""),
        ("succeeded", ""),
        ("failed", "card_declined"),
        ("succeeded", ""),
    ]
    assert len({p.idempotency_key for p in payments}) == 4


async def test_when_dunning_runs_out_the_invoice_is_uncollectible_and_the_subscription_canceled(
    running: Running,
) -> None:
    customer = await subscribe(running, "pm_insufficient_funds")
    report = await customer.advance_to(at(1, 25))  # first failure on Jan 15; retries on days 1, 3, 5 and 7

    opening, final = await customer.invoices()
    assert (opening.status, opening.attempts, opening.last_failure_code) == ("uncollectible", 5, "insufficient_funds")
    assert report.payments_attempted == 5
    assert await customer.subscription_status() == "canceled"
    # The canceled subscription's last period [Jan 15, Jan 22) is closed: its usage (none) in arrears.
    assert (final.reason, final.status, final.total_minor) == ("subscription_end", "paid", 0)
    assert final.usage_period_end.ToDatetime(tzinfo=UTC) == at(1, 22)
    balance = await customer.balance()
    assert (balance.invoiced_minor, balance.uncollectible_minor, balance.paid_minor) == (2900, 2900, 0)


async def test_a_void_invoice_is_owed_no_more_and_a_paid_one_cannot_be_voided(customer: Customer) -> None:
    await customer.pay_with("pm_declined")
    await customer.advance_to(at(1, 15, 9, 1))
    [opening] = await customer.invoices()
    assert opening.status == "open"

    voided = await customer.stubs.invoices.VoidInvoice(
        billing_pb2.VoidInvoiceRequest(invoice_id=opening.invoice_id), metadata=customer.running.admin
    )
    assert voided.invoice.status == "void"
    assert (await customer.balance()).voided_minor == 2900
    report = await customer.advance_to(at(1, 20))
    assert report.payments_attempted == 0  # a void invoice is never charged again

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await customer.stubs.invoices.VoidInvoice(
            billing_pb2.VoidInvoiceRequest(invoice_id=opening.invoice_id), metadata=customer.running.admin
        )
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert details_of(refused.value).reason == "invoice_not_voidable"


async def test_advance_clock_refuses_to_go_backwards_or_without_a_target(customer: Customer) -> None:
    for request, field in [
        (billing_pb2.AdvanceClockRequest(to=ts(at(1, 1))), "to"),
        (billing_pb2.AdvanceClockRequest(), "to"),
        (billing_pb2.AdvanceClockRequest(by_seconds=-5), "by_seconds"),
    ]:
        before = await customer.running.app.store.head_position()
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await customer.stubs.billing.AdvanceClock(request, metadata=customer.running.admin)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert list(details_of(refused.value).fields) == [field]
        assert await customer.running.app.store.head_position() == before
