"""Every ISO 4217 currency, through the real server on the MongoDB-wire store.

Three organizations bill in three exponents (KWD 3 decimals, JPY none, AED 2) on plans with a
fractional per-unit price, so each usage line lands on exactly half a minor unit and shows the one
rounding rule (half-up): the preview, the issued invoice and ExplainInvoice agree to the minor
unit. An unknown or withdrawn currency is refused with a `currency` field violation and writes
nothing. The e2e server runs on a test clock starting 2026-01-15 09:00 UTC (see conftest).
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

import grpc
import pytest
from grpc import aio

from billing.v1 import audit_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from billing_grpc.demo.tables import invoice_table
from billing_grpc.domain.money import Money
from tests.e2e.conftest import Running
from tests.e2e.test_billing import Customer, at
from tests.e2e.world import Stubs
from tests.rpc_errors import details_of

ACCEPTED = usage_pb2.UsageResult.OUTCOME_ACCEPTED


@dataclass(frozen=True)
class Case:
    """A currency, its plan's prices (minor units) and a month's usage."""

    currency: str
    base_fee_minor: int
    unit_price: str  # minor units per API call, fractional on purpose
    calls: str
    usage_minor: int  # calls x unit price, rounded half-up once
    shown: str  # the invoice total as the currency writes it


CASES = [
    # 1,233 x 2.5 fils = 3,082.5 fils -> 3,083 (half-even would give 3,082).
    Case("KWD", 12_500, "2.5", "1233", 3_083, "15.583 KWD"),
    # 1,235 x 0.3 yen = 370.5 yen -> 371.
    Case("JPY", 1_500, "0.3", "1235", 371, "1871 JPY"),
    # 1,234 x 0.25 fils = 308.5 fils -> 309.
    Case("AED", 9_900, "0.25", "1234", 309, "102.09 AED"),
]


async def subscribe_in(running: Running, stubs: Stubs, case: Case) -> Customer:
    admin = running.admin
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code=f"pro-{case.currency.lower()}",
            name=f"Pro {case.currency}",
            currency=case.currency,
            interval_unit="month",
            base_fee_minor=case.base_fee_minor,
            charges=[
                catalogue_pb2.Charge(meter_code="api_calls", per_unit=catalogue_pb2.PerUnit(unit_price=case.unit_price))
            ],
        ),
        metadata=admin,
    )
    organization = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency=case.currency, payment_method="pm_ok"),
        metadata=admin,
    )
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(
            organization_id=organization.organization.organization_id, plan_id=plan.plan.plan_id
        ),
        metadata=admin,
    )
    return Customer(running, stubs, organization.organization.organization_id, started.subscription.subscription_id)


async def test_kwd_jpy_and_aed_are_billed_to_their_own_minor_unit_alike_in_preview_invoice_and_explanation(
    running: Running,
) -> None:
    stubs = Stubs.on(running.channel)
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="api_calls", name="API calls", aggregation="sum"), metadata=running.admin
    )
    customers = [await subscribe_in(running, stubs, case) for case in CASES]
    await customers[0].advance_to(at(1, 20))
    for case, customer in zip(CASES, customers, strict=True):
        assert (await customer.use("jan", case.calls, at(1, 20))).outcome == ACCEPTED
    await running.app.projections.wait_until(await running.app.store.head_position())

    previews = [
        await stubs.usage.PreviewInvoice(
            usage_pb2.PreviewInvoiceRequest(subscription_id=customer.subscription_id), metadata=running.admin
        )
        for customer in customers
    ]
    await customers[0].advance_to(at(2, 15, 10, 30))  # the period closes, its invoice is finalized and paid

    for case, customer, preview in zip(CASES, customers, previews, strict=True):
        opening, february = await customer.invoices()
        assert (opening.currency, opening.total_minor, opening.status) == (case.currency, case.base_fee_minor, "paid")
        lines = [(line.kind, line.quantity, line.unit_amount, line.amount_minor) for line in february.lines]
        assert lines == [
            ("usage", case.calls, case.unit_price, case.usage_minor),
            ("base_fee", "1", str(case.base_fee_minor), case.base_fee_minor),
        ], case.currency
        total = case.usage_minor + case.base_fee_minor
        assert (february.currency, february.total_minor, february.amount_paid_minor) == (case.currency, total, total)
        assert str(Money(february.total_minor, february.currency)) == case.shown

        # The preview priced the same lines with the same rounding.
        assert preview.currency == case.currency
        assert [(line.kind, line.amount_minor) for line in preview.lines] == [
            ("usage", case.usage_minor),
            ("base_fee", case.base_fee_minor),
        ]
        assert preview.total_minor == total

        # The explanation shows the recorded lines: nothing is rounded a second time.
        explained = await stubs.audit.ExplainInvoice(
            audit_pb2.ExplainInvoiceRequest(invoice_id=february.invoice_id), metadata=running.admin
        )
        assert [line.amount_minor for line in explained.invoice.lines] == [case.usage_minor, case.base_fee_minor]
        assert explained.invoice.total_minor == total

    # Written out, each amount has exactly its currency's decimals.
    kwd = invoice_table((await customers[0].invoices())[-1], [])
    assert "KWD 3.083" in kwd and "KWD 12.500" in kwd and "KWD 15.583" in kwd
    jpy = invoice_table((await customers[1].invoices())[-1], [])
    assert "JPY 371" in jpy and "JPY 1,500" in jpy and "JPY 1,871" in jpy and "JPY 1,871." not in jpy
    aed = invoice_table((await customers[2].invoices())[-1], [])
    assert "AED 3.09" in aed and "AED 99.00" in aed and "AED 102.09" in aed


# Not a code, withdrawn (Deutsche Mark, Croatian kuna), a unit of account without a minor unit
# (gold, "no currency"), and not written as ISO writes it.
REFUSED = ["XYZ", "DEM", "HRK", "XAU", "XXX", "usd", " KWD"]


async def test_an_unknown_withdrawn_or_non_money_currency_is_refused_and_writes_nothing(running: Running) -> None:
    stubs = Stubs.on(running.channel)
    admin = running.admin

    def organization(currency: str) -> Awaitable[object]:
        request = organizations_pb2.CreateOrganizationRequest(name="Acme", currency=currency)
        return stubs.organizations.CreateOrganization(request, metadata=admin)

    def plan(currency: str) -> Awaitable[object]:
        request = catalogue_pb2.CreatePlanRequest(
            code="pro", name="Pro", currency=currency, interval_unit="month", base_fee_minor=1000
        )
        return stubs.catalogue.CreatePlan(request, metadata=admin)

    head = await running.app.store.head_position()
    for currency in REFUSED:
        for create in (organization, plan):
            with pytest.raises(aio.AioRpcError) as refused:
                await create(currency)
            details = details_of(refused.value)
            label = f"{create.__name__} in {currency!r}"
            assert (refused.value.code(), details.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_argument"), (
                label
            )
            assert list(details.fields) == ["currency"], label
            assert repr(currency) in details.fields["currency"], label
            assert await running.app.store.head_position() == head, label
    # The same requests in an active currency succeed: the refusals were the currency's alone.
    await organization("HUF")
    await plan("HUF")
    assert await running.app.store.head_position() > head
