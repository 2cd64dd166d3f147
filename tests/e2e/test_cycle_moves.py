"""Billing anchor changes, pauses and resumes through the real server, on the MongoDB-wire store.

The test clock starts 2026-01-15 09:00 UTC; a 31.00 monthly plan's first period runs to Feb 15
09:00 (31 days), so a day of it is worth exactly 1.00.
"""

from __future__ import annotations

from datetime import UTC

import grpc
import pytest
from grpc import aio

from billing.v1 import subscriptions_pb2
from tests.e2e.conftest import Running
from tests.e2e.test_billing import ACCEPTED, REJECTED, Customer, at, ts
from tests.e2e.test_fee_rules import customer, lines_of, meter, plan
from tests.rpc_errors import details_of


async def subscription(customer: Customer) -> subscriptions_pb2.Subscription:
    got = await customer.stubs.subscriptions.GetSubscription(
        subscriptions_pb2.GetSubscriptionRequest(subscription_id=customer.subscription_id),
        metadata=customer.running.admin,
    )
    return got.subscription


async def test_an_anchor_change_bills_a_prorated_stub_then_follows_the_new_anchor(running: Running) -> None:
    await meter(running)
    basic = await plan(running, "basic", 3100)
    moved = await customer(running, basic)
    request = subscriptions_pb2.ChangeBillingAnchorRequest(subscription_id=moved.subscription_id)
    request.billing_anchor.CopyFrom(ts(at(3, 1)))
    changed = await moved.stubs.subscriptions.ChangeBillingAnchor(request, metadata=running.admin)
    assert changed.subscription.scheduled_billing_anchor.ToDatetime(tzinfo=UTC) == at(3, 1)

    await moved.advance_to(at(2, 15, 11))
    [_, january] = await moved.invoices()
    # Feb 15 to Mar 1 09:00 of the new cycle's whole period Feb 1 to Mar 1 (28 days): 14/28.
    assert lines_of(january) == [("base_fee", 1550, at(2, 15), at(3, 1))]
    now = await subscription(moved)
    assert [moment.ToDatetime(tzinfo=UTC) for moment in (now.current_period_end, now.cycle_anchor)] == [at(3, 1)] * 2
    await moved.advance_to(at(2, 20))
    assert (await moved.use("stub", "3", at(2, 20))).outcome == ACCEPTED
    await moved.advance_to(at(3, 1, 11))
    march = (await moved.invoices())[-1]
    assert sorted(lines_of(march)) == [("base_fee", 3100, at(3, 1), at(4, 1)), ("usage", 3, at(2, 15), at(3, 1))]


async def test_a_pause_and_a_resume_bill_the_time_served_and_the_stub_to_the_next_cycle_day(
    running: Running,
) -> None:
    await meter(running)
    basic = await plan(running, "basic", 3100)
    paused = await customer(running, basic)
    await paused.advance_to(at(1, 16))
    assert (await paused.use("before", "5", at(1, 16))).outcome == ACCEPTED
    await paused.advance_to(at(1, 25))
    await running.app.projections.wait_until(await running.app.store.head_position())
    answer = await paused.stubs.subscriptions.PauseSubscription(
        subscriptions_pb2.PauseSubscriptionRequest(subscription_id=paused.subscription_id), metadata=running.admin
    )
    assert (answer.subscription.status, answer.subscription.paused_at.ToDatetime(tzinfo=UTC)) == (
        "paused",
        at(1, 25),
    )
    refused = await paused.use("during", "1", at(1, 25, 9, 1))
    assert (refused.outcome, refused.reason) == (REJECTED, "no_active_subscription")
    with pytest.raises(aio.AioRpcError) as not_live:
        await paused.stubs.subscriptions.ChangePlan(
            subscriptions_pb2.ChangePlanRequest(subscription_id=paused.subscription_id, plan_id=basic),
            metadata=running.admin,
        )
    assert not_live.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert details_of(not_live.value).reason in {"subscription_not_live", "plan_unchanged"}

    await paused.advance_to(at(2, 4))  # the paused period's invoice is finalized and paid meanwhile
    resumed = await paused.stubs.subscriptions.ResumeSubscription(
        subscriptions_pb2.ResumeSubscriptionRequest(subscription_id=paused.subscription_id), metadata=running.admin
    )
    assert resumed.subscription.status == "active"
    opening, pause_invoice, resume_invoice = await paused.invoices()
    assert (opening.total_minor, pause_invoice.reason, pause_invoice.status) == (3100, "subscription_pause", "paid")
    # The usage so far; the 21 days left of the period paid in advance (Jan 25 to Feb 15) credited.
    assert sorted(lines_of(pause_invoice)) == [
        ("proration", -2100, at(1, 25), at(2, 15)),
        ("usage", 5, at(1, 15), at(1, 25)),
    ]
    # Feb 4 to the next cycle day, Feb 15: 11 of the 31 days.
    assert (resume_invoice.reason, lines_of(resume_invoice)) == (
        "subscription_resume",
        [("base_fee", 1100, at(2, 4), at(2, 15))],
    )
    await paused.advance_to(at(2, 5))
    assert (await paused.use("after", "2", at(2, 5))).outcome == ACCEPTED
    await paused.advance_to(at(2, 15, 11))
    cycle = (await paused.invoices())[-1]
    assert sorted(lines_of(cycle)) == [("base_fee", 3100, at(2, 15), at(3, 15)), ("usage", 2, at(2, 4), at(2, 15))]
