"""Percentage charges priced per transaction (Lago's rule) through the real server on the MongoDB-wire store.

The worked example of docs/billing-rules/README.md ("Percentage charges (Lago's rule)"): 2% of each transaction plus
a fixed fee of 0.10, 3 free transactions, a free amount of 100.00, a minimum of 0.50 and a
maximum of 5.00 per transaction; five payments in January, then a late one dated before them
all. The e2e server runs on a test clock starting 2026-01-15 09:00 UTC (see conftest).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import grpc
import pytest

from billing.v1 import audit_pb2, billing_pb2, catalogue_pb2, organizations_pb2, subscriptions_pb2, usage_pb2
from billing_grpc.domain.events import decode_event
from billing_grpc.domain.invoicing import MeterUsage, usage_lines
from billing_grpc.domain.meter import Aggregation
from billing_grpc.domain.periods import Period
from billing_grpc.domain.plan import evolve
from tests.e2e.conftest import Running
from tests.e2e.test_audit import read_events
from tests.e2e.test_billing import at, ts
from tests.e2e.world import Stubs
from tests.rpc_errors import details_of

ACCEPTED = usage_pb2.UsageResult.OUTCOME_ACCEPTED
# Amounts in cents: 2% + 10 per transaction, 3 free, 10000 free amount, 50 minimum, 500 maximum.
EXAMPLE = catalogue_pb2.Percentage(
    rate_percent="2",
    fixed_fee_per_event="10",
    free_transactions=3,
    free_amount="10000",
    per_transaction_min="50",
    per_transaction_max="500",
)
# (idempotency key, amount in cents, timestamp), sent in this (shuffled) order in one batch.
JANUARY = [
    ("e5", "40000", at(2, 10)),
    ("e1", "3000", at(1, 20)),
    ("e3", "1000", at(2, 1)),
    ("e2", "2000", at(1, 25)),
    ("e4", "1500", at(2, 5)),
]
LATE = ("e0", "9000", at(1, 16))  # sent after the period closed, dated before every other


async def create_plan(stubs: Stubs, running: Running, percentage: catalogue_pb2.Percentage, code: str) -> str:
    plan = await stubs.catalogue.CreatePlan(
        catalogue_pb2.CreatePlanRequest(
            code=code,
            name="Payments",
            currency="USD",
            interval_unit="month",
            base_fee_minor=2900,
            charges=[catalogue_pb2.Charge(meter_code="payments", percentage=percentage)],
        ),
        metadata=running.admin,
    )
    return plan.plan.plan_id


async def record(stubs: Stubs, running: Running, organization_id: str, *events: tuple[str, str, datetime]) -> None:
    batch = [
        usage_pb2.UsageEvent(
            organization_id=organization_id, meter_code="payments", quantity=q, idempotency_key=k, timestamp=ts(when)
        )
        for k, q, when in events
    ]
    answer = await stubs.usage.RecordUsage(usage_pb2.RecordUsageRequest(events=batch), metadata=running.admin)
    assert [result.outcome for result in answer.results] == [ACCEPTED] * len(events)
    # Usage queries read the read models, which follow the log: let them catch up.
    await running.app.projections.wait_until(await running.app.store.head_position())


async def advance(stubs: Stubs, running: Running, moment: datetime) -> None:
    await stubs.billing.AdvanceClock(billing_pb2.AdvanceClockRequest(to=ts(moment)), metadata=running.admin)


def usage_line(invoice: billing_pb2.Invoice) -> tuple[str, str, int]:
    [line] = [line for line in invoice.lines if line.kind == "usage"]
    return line.quantity, line.unit_amount, line.amount_minor


async def test_the_worked_example_late_event_reprices_the_period_in_time_order(running: Running) -> None:
    stubs, admin = Stubs.on(running.channel), running.admin
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="payments", name="Payments", aggregation="sum"), metadata=admin
    )
    plan_id = await create_plan(stubs, running, EXAMPLE, "payments-pro")
    got = await stubs.catalogue.GetPlan(catalogue_pb2.GetPlanRequest(plan_id=plan_id), metadata=admin)
    assert got.plan.charges[0].percentage == EXAMPLE  # the terms read back as sent
    organization = await stubs.organizations.CreateOrganization(
        organizations_pb2.CreateOrganizationRequest(name="Acme", currency="USD", payment_method="pm_ok"),
        metadata=admin,
    )
    organization_id = organization.organization.organization_id
    started = await stubs.subscriptions.StartSubscription(
        subscriptions_pb2.StartSubscriptionRequest(organization_id=organization_id, plan_id=plan_id), metadata=admin
    )
    subscription_id = started.subscription.subscription_id

    await advance(stubs, running, at(2, 14))
    await record(stubs, running, organization_id, *JANUARY)
    # The preview prices like the invoice: in time order, the 3 free transactions run out first
    # (30 + 20 + 10 of the 100.00), 15.00 pays 0.40 raised to 0.50, 400.00 pays 8.10 capped at 5.00.
    preview = await stubs.usage.PreviewInvoice(
        usage_pb2.PreviewInvoiceRequest(subscription_id=subscription_id), metadata=admin
    )
    assert [(line.kind, line.amount_minor) for line in preview.lines] == [("usage", 550), ("base_fee", 2900)]

    # The period (Jan 15 - Feb 15) closes: the draft prices what arrived.
    await advance(stubs, running, at(2, 15, 9, 1))
    listed = await stubs.invoices.ListInvoices(
        billing_pb2.ListInvoicesRequest(organization_id=organization_id), metadata=admin
    )
    [draft] = [i for i in listed.invoices if i.reason == "subscription_cycle"]
    assert draft.status == "draft"
    assert usage_line(draft)[::2] == ("47500", 550) and draft.total_minor == 3450

    # Within the grace hour, a 90.00 payment dated January 16 arrives: it is now the first
    # transaction, free; the free amount runs out 10.00 into the 30.00 one, and the rest is paid.
    await advance(stubs, running, at(2, 15, 9, 30))
    await record(stubs, running, organization_id, LATE)
    await advance(stubs, running, at(2, 15, 10, 30))
    got_invoice = await stubs.invoices.GetInvoice(
        billing_pb2.GetInvoiceRequest(invoice_id=draft.invoice_id), metadata=admin
    )
    final = got_invoice.invoice
    assert final.status == "paid" and final.number
    assert usage_line(final) == ("56500", "0.012389380531", 700)
    assert [(line.kind, line.amount_minor) for line in final.lines] == [("usage", 700), ("base_fee", 2900)]
    assert final.total_minor == 3600

    # The explanation shows the same arithmetic, and an auditor recomputes it from the log.
    explained = await stubs.audit.ExplainInvoice(
        audit_pb2.ExplainInvoiceRequest(invoice_id=draft.invoice_id), metadata=admin
    )
    calculation = json.loads(explained.calculation_json)
    [line] = [line for line in calculation["lines"] if line["kind"] == "usage"]
    assert [(step["description"], step["amount"]) for step in line["breakdown"]] == [
        ("free: 1 transaction and 1000 of the next (free amount 10000)", "0"),
        ("2% of 46500 (5 transactions)", "930"),
        ("5 transactions at 10 each", "50"),
        ("2 transactions raised to the minimum 50", "30"),
        ("1 transaction capped at the maximum 500", "-310"),
    ]
    [usage] = calculation["usage"]
    assert usage["priced_per_transaction"] and usage["event_count"] == 6
    events = await read_events(
        running,
        admin,
        after_position=usage["first_position"] - 1,
        limit=usage["last_position"] - usage["first_position"] + 1,
        event_types=["usage.recorded"],
        organization_id=organization_id,
    )
    ordered = sorted(
        (timestamp, event.position, index, Decimal(quantity))
        for event in events
        for series in json.loads(event.payload_json)["series"]
        if series["subscription_id"] == subscription_id
        for index, (timestamp, quantity) in enumerate(zip(series["timestamps"], series["quantities"], strict=True))
    )
    [fact] = explained.plans
    plan = evolve(None, decode_event("plan.created", json.loads(fact.plan_created_json)))
    assert plan is not None
    amounts = tuple(amount for *_, amount in ordered)
    metered = MeterUsage(Aggregation.SUM, len(amounts), sum(amounts, Decimal(0)), None, None, 0, amounts)
    [recomputed] = usage_lines(plan, {"payments": metered}, Period(at(1, 15), at(2, 15)))
    assert recomputed.amount_minor == 700


@pytest.mark.parametrize(
    ("percentage", "field"),
    [
        (catalogue_pb2.Percentage(rate_percent="2", free_transactions=-1), "charges[0].percentage.free_transactions"),
        (catalogue_pb2.Percentage(rate_percent="2", free_amount="-1"), "charges[0].percentage.free_amount"),
        (
            catalogue_pb2.Percentage(rate_percent="2", per_transaction_min="-1"),
            "charges[0].percentage.per_transaction_min",
        ),
        (
            catalogue_pb2.Percentage(rate_percent="2", per_transaction_min="50", per_transaction_max="40"),
            "charges[0].percentage.per_transaction_max",
        ),
    ],
)
async def test_bad_per_transaction_terms_are_refused_naming_the_field_and_write_nothing(
    running: Running, percentage: catalogue_pb2.Percentage, field: str
) -> None:
    stubs = Stubs.on(running.channel)
    await stubs.catalogue.CreateMeter(
        catalogue_pb2.CreateMeterRequest(code="payments", name="Payments", aggregation="sum"), metadata=running.admin
    )
    head = await running.app.store.head_position()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create_plan(stubs, running, percentage, "bad")
    details = details_of(refused.value)
    assert (refused.value.code(), details.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "invalid_pricing")
    assert details.fields == [field] or field in details.fields
    assert await running.app.store.head_position() == head
