"""Billing alignment on a plan change through the real server (MongoDB-wire store), on the test clock.

The worked example of docs/billing-rules/README.md ("Billing alignment on plan changes"): Basic (3100 a month, 1 per
call) from Jan 15 2026 09:00, so the cycle day is the 15th at 09:00; on Jan 25 09:00 it moves to
Yr (36500 a year, 1 per call) with `billing_cycle_anchor=unchanged`:

- the change's invoice: 5 calls (5), Basic's unused 21 of 31 days credited (-3100 x 21/31 =
  -2100), Yr from Jan 25 to the next cycle day Feb 15 (21 days of Yr's year Feb 15 2025 - Feb 15
  2026, 365 days: 36500 x 21/365 = 2100); total 5;
- at Feb 15 09:00 the stub closes: its 7 calls (7) and Yr's first full year, Feb 15 2026 - Feb 15
  2027 (36500); total 36507;
- then nothing until Feb 15 2027; usage after Feb 15 goes into that year.
"""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from grpc import aio

from billing.v1 import subscriptions_pb2, usage_pb2
from tests.e2e.conftest import Running
from tests.e2e.test_billing import ACCEPTED, at, ts
from tests.e2e.test_plan_changes import Plans, catalogue, change, customer_on
from tests.rpc_errors import details_of


def when(stamp: object) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)  # type: ignore[attr-defined,no-any-return]


def described(lines: object) -> list[tuple[str, str, int, datetime, datetime]]:
    return sorted(
        (line.kind, line.description, line.amount_minor, when(line.period_start), when(line.period_end))
        for line in lines  # type: ignore[attr-defined]
    )


@pytest.fixture
async def plans(running: Running) -> Plans:
    return await catalogue(running)


async def test_monthly_to_annual_keeping_the_cycle_day_bills_a_stub_then_whole_years(
    running: Running, plans: Plans
) -> None:
    customer = await customer_on(running, plans.basic)
    await customer.advance_to(at(1, 20))
    assert (await customer.use("before", "5", at(1, 20))).outcome == ACCEPTED
    await customer.advance_to(at(1, 25))
    await running.app.projections.wait_until(await running.app.store.head_position())
    head = await running.app.store.head_position()

    preview = await customer.stubs.usage.PreviewInvoice(
        usage_pb2.PreviewInvoiceRequest(
            subscription_id=customer.subscription_id,
            change_plan_id=plans.yearly,
            proration_time=ts(at(1, 25)),
            billing_cycle_anchor="unchanged",
        ),
        metadata=running.admin,
    )
    assert await running.app.store.head_position() == head  # a preview commits nothing

    changed = await change(customer, plans.yearly, billing_cycle_anchor="unchanged")
    assert [line.amount_minor for line in changed.proration_lines] == [-2100]
    subscription = changed.subscription
    assert (when(subscription.current_period_start), when(subscription.current_period_end)) == (at(1, 25), at(2, 15))
    assert when(subscription.cycle_anchor) == at(2, 15)

    opening, update = await customer.invoices()
    assert (opening.reason, [(line.kind, line.amount_minor) for line in opening.lines]) == (
        "subscription_create",
        [("base_fee", 3100)],
    )
    assert update.invoice_id == changed.invoice_id and update.reason == "subscription_update"
    assert described(update.lines) == [
        (
            "base_fee",
            "Yr base fee, prorated from 2026-01-25 09:00:00 UTC to 2026-02-15 09:00:00 UTC",
            2100,
            at(1, 25),
            at(2, 15),
        ),
        ("proration", "Unused time on Basic after 2026-01-25 09:00:00 UTC", -2100, at(1, 25), at(2, 15)),
        ("usage", "api_calls usage", 5, at(1, 15), at(1, 25)),
    ]
    assert update.total_minor == 5
    # The preview at the same clock is the invoice the change issued.
    assert described(preview.lines) == described(update.lines) and preview.total_minor == update.total_minor

    await customer.advance_to(at(2, 1))
    assert (await customer.use("stub", "7", at(2, 1))).outcome == ACCEPTED  # the stub, rated by Yr
    await customer.advance_to(at(2, 15, 10, 30))  # the next cycle day, and past its grace hour
    _, update, stub_close = await customer.invoices()
    assert (update.status, update.amount_paid_minor) == ("paid", 5)
    assert stub_close.reason == "subscription_cycle"
    assert (when(stub_close.usage_period_start), when(stub_close.usage_period_end)) == (at(1, 25), at(2, 15))
    next_year = datetime(2027, 2, 15, 9, tzinfo=UTC)
    assert described(stub_close.lines) == [
        ("base_fee", "Yr base fee", 36500, at(2, 15), next_year),
        ("usage", "api_calls usage", 7, at(1, 25), at(2, 15)),
    ]
    assert (stub_close.total_minor, stub_close.status, stub_close.amount_paid_minor) == (36507, "paid", 36507)

    # Past the cycle day: a whole year on Yr, anchored on the 15th at 09:00; nothing more is billed.
    await customer.advance_to(at(3, 20))
    assert (await customer.use("after", "2", at(3, 1))).outcome == ACCEPTED
    got = await customer.stubs.subscriptions.GetSubscription(
        subscriptions_pb2.GetSubscriptionRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    period = (when(got.subscription.current_period_start), when(got.subscription.current_period_end))
    assert period == (at(2, 15), next_year) and when(got.subscription.cycle_anchor) == at(2, 15)
    assert len(await customer.invoices()) == 3
    await running.app.projections.wait_until(await running.app.store.head_position())
    summary = await customer.stubs.usage.GetUsageSummary(
        usage_pb2.GetUsageSummaryRequest(subscription_id=customer.subscription_id), metadata=running.admin
    )
    assert (when(summary.period_start), when(summary.period_end)) == (at(2, 15), next_year)
    assert [meter.quantity for meter in summary.meters] == ["2"]
    balance = await customer.balance()
    assert (balance.invoiced_minor, balance.paid_minor) == (3100 + 5 + 36507, 3100 + 5 + 36507)


async def test_alignments_that_cannot_be_honoured_are_refused_with_a_field_violation_and_write_nothing(
    running: Running, plans: Plans
) -> None:
    customer = await customer_on(running, plans.basic)
    await customer.advance_to(at(1, 25))
    head = await running.app.store.head_position()
    refusals: list[tuple[dict[str, object], str]] = [
        ({"billing_cycle_anchor": "sometimes"}, "billing_cycle_anchor"),
        ({"billing_cycle_anchor": "now", "at_period_end": True}, "billing_cycle_anchor"),
    ]
    for fields, field in refusals:
        with pytest.raises(aio.AioRpcError) as refused:
            await change(customer, plans.yearly, **fields)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert details_of(refused.value).reason == "invalid_billing_cycle_anchor"
        assert field in details_of(refused.value).fields
    previews = [
        (usage_pb2.PreviewInvoiceRequest(billing_cycle_anchor="now"), "change_plan_id"),
        (
            usage_pb2.PreviewInvoiceRequest(change_plan_id=plans.yearly, billing_cycle_anchor="later"),
            "billing_cycle_anchor",
        ),
    ]
    for request, field in previews:
        request.subscription_id = customer.subscription_id
        with pytest.raises(aio.AioRpcError) as refused:
            await customer.stubs.usage.PreviewInvoice(request, metadata=running.admin)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in details_of(refused.value).fields
    assert await running.app.store.head_position() == head
