"""`billing-grpc subscriptions`: start, change, cancel, pause and resume an organization's subscriptions."""

from __future__ import annotations

from datetime import datetime

import click

from billing.v1 import subscriptions_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.options import MOMENT
from billing_grpc.cli.remote import timestamp
from billing_grpc.cli.tables import pairs, period
from billing_grpc.client import BillingClient

HEADERS = ("ID", "PLAN", "STATUS", "CURRENT PERIOD", "SCHEDULED PLAN")


def show(console: Console, subscription: subscriptions_pb2.Subscription) -> None:
    """One subscription: a JSON line, or its fields."""
    if console.json:
        console.message(subscription)
    else:
        console.record(pairs(subscription))


@click.group("subscriptions", short_help="Subscriptions: list, get, start, change, cancel, pause, resume.")
def subscriptions() -> None:
    """An organization's subscriptions: list, get, start; change plan, cancel, pause, resume."""


@subscriptions.command(
    "list", short_help="List an organization's subscriptions.", help="List an organization's subscriptions."
)
@click.option("--org", "organization_id", required=True, help="The organization's id (org_…).")
@client_command
async def list_subscriptions(console: Console, client: BillingClient, organization_id: str) -> None:
    """An organization's subscriptions."""
    request = subscriptions_pb2.ListSubscriptionsRequest(organization_id=organization_id)
    listed = await client.subscriptions.ListSubscriptions(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.messages(listed.subscriptions)
        return
    rows = [
        (
            s.subscription_id,
            s.plan_id,
            s.status,
            period(s, "current_period_start", "current_period_end"),
            s.scheduled_plan_id,
        )
        for s in listed.subscriptions
    ]
    console.table(HEADERS, rows)


@subscriptions.command("get", short_help="Show a subscription.", help="Show one subscription.")
@click.argument("subscription_id", help="The subscription's id (sub_…).")
@client_command
async def get_subscription(console: Console, client: BillingClient, subscription_id: str) -> None:
    """One subscription."""
    request = subscriptions_pb2.GetSubscriptionRequest(subscription_id=subscription_id)
    found = await client.subscriptions.GetSubscription(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, found.subscription)


@subscriptions.command("start", short_help="Subscribe an organization to a plan.", help="Start a subscription.")
@click.option("--org", "organization_id", required=True, help="The organization's id (org_…).")
@click.option("--plan", "plan_id", required=True, help="The plan's id (plan_…).")
@click.option("--start-time", type=MOMENT, help="When it starts (ISO 8601; default: now).")
@click.option("--billing-anchor", type=MOMENT, help="Anchor of the billing cycle (ISO 8601).")
@click.option("--trial-days", type=click.IntRange(min=0), help="Trial days, overriding the plan's.")
@click.option("--proration-behavior", default="", help="create_prorations (default) or none (a short first period).")
@client_command
async def start_subscription(
    console: Console,
    client: BillingClient,
    organization_id: str,
    plan_id: str,
    start_time: datetime | None,
    billing_anchor: datetime | None,
    trial_days: int | None,
    proration_behavior: str,
) -> None:
    """Start a subscription."""
    request = subscriptions_pb2.StartSubscriptionRequest(
        organization_id=organization_id, plan_id=plan_id, proration_behavior=proration_behavior
    )
    if start_time is not None:
        request.start_time.CopyFrom(timestamp(start_time))
    if billing_anchor is not None:
        request.billing_anchor.CopyFrom(timestamp(billing_anchor))
    if trial_days is not None:
        request.trial_days = trial_days
    started = await client.subscriptions.StartSubscription(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, started.subscription)


@subscriptions.command(
    "change",
    short_help="Change a subscription's plan.",
    help="Change the plan now (prorated) or at the period's end. --json prints the ChangePlanResponse "
    "(the subscription, the invoice it issued if any, its proration lines).",
)
@click.argument("subscription_id", help="The subscription's id (sub_…).")
@click.option("--plan", "plan_id", required=True, help="The new plan's id (plan_…).")
@click.option("--at-period-end", is_flag=True, help="Change when the current period ends (no proration).")
@click.option("--proration-behavior", default="", help="create_prorations (default), always_invoice or none.")
@click.option("--billing-cycle-anchor", default="", help="unchanged or now (default: the server's rule).")
@client_command
async def change_plan(
    console: Console,
    client: BillingClient,
    subscription_id: str,
    plan_id: str,
    at_period_end: bool,
    proration_behavior: str,
    billing_cycle_anchor: str,
) -> None:
    """Change plan."""
    request = subscriptions_pb2.ChangePlanRequest(
        subscription_id=subscription_id,
        plan_id=plan_id,
        at_period_end=at_period_end,
        proration_behavior=proration_behavior,
        billing_cycle_anchor=billing_cycle_anchor,
    )
    changed = await client.subscriptions.ChangePlan(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(changed)
        return
    s = changed.subscription
    when = f"at the period's end ({s.current_period_end.ToJsonString()})" if at_period_end else "now"
    console.line(f"subscription {s.subscription_id}: plan {plan_id} {when}; status {s.status}")
    for line in changed.proration_lines:
        console.line(f"  proration: {line.description}  {line.amount_minor} minor units")
    if changed.invoice_id:
        console.line(f"  invoice issued: {changed.invoice_id}")


@subscriptions.command("cancel", short_help="Cancel a subscription.", help="Cancel now or at the period's end.")
@click.argument("subscription_id", help="The subscription's id (sub_…).")
@click.option("--at-period-end", is_flag=True, help="Cancel when the current period ends.")
@click.option("--prorate", is_flag=True, help="Credit the unused part of a fee paid in advance.")
@client_command
async def cancel_subscription(
    console: Console, client: BillingClient, subscription_id: str, at_period_end: bool, prorate: bool
) -> None:
    """Cancel."""
    request = subscriptions_pb2.CancelSubscriptionRequest(
        subscription_id=subscription_id, at_period_end=at_period_end, prorate=prorate
    )
    canceled = await client.subscriptions.CancelSubscription(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, canceled.subscription)


@subscriptions.command("pause", short_help="Pause a subscription.", help="Pause: no billing until resumed.")
@click.argument("subscription_id", help="The subscription's id (sub_…).")
@client_command
async def pause_subscription(console: Console, client: BillingClient, subscription_id: str) -> None:
    """Pause."""
    request = subscriptions_pb2.PauseSubscriptionRequest(subscription_id=subscription_id)
    paused = await client.subscriptions.PauseSubscription(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, paused.subscription)


@subscriptions.command("resume", short_help="Resume a paused subscription.", help="Resume a paused subscription.")
@click.argument("subscription_id", help="The subscription's id (sub_…).")
@click.option("--billing-cycle-anchor", default="", help="unchanged (default) or now.")
@click.option("--proration-behavior", default="", help="create_prorations (default) or none.")
@client_command
async def resume_subscription(
    console: Console, client: BillingClient, subscription_id: str, billing_cycle_anchor: str, proration_behavior: str
) -> None:
    """Resume."""
    request = subscriptions_pb2.ResumeSubscriptionRequest(
        subscription_id=subscription_id,
        billing_cycle_anchor=billing_cycle_anchor,
        proration_behavior=proration_behavior,
    )
    resumed = await client.subscriptions.ResumeSubscription(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, resumed.subscription)
