"""`billing-grpc plans`: what subscriptions are billed by."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import click
from google.protobuf import json_format

from billing.v1 import catalogue_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.paging import pages
from billing_grpc.cli.tables import money, pairs, when
from billing_grpc.client import BillingClient

Part = TypeVar("Part", catalogue_pb2.Charge, catalogue_pb2.PlanFeature)


def _interval(plan: catalogue_pb2.Plan) -> str:
    count = plan.interval_count or 1
    return plan.interval_unit if count == 1 else f"{count} {plan.interval_unit}s"


def show(console: Console, plan: catalogue_pb2.Plan) -> None:
    """One plan: a JSON line, or its fields."""
    if console.json:
        console.message(plan)
    else:
        console.record(pairs(plan))


@click.group("plans", short_help="Plans: list, get, create, archive.")
def plans() -> None:
    """Plans (prices, charges and features): list, get, create, archive."""


@plans.command("list", short_help="List plans.", help="List plans, a page at a time from the server.")
@click.option("--include-archived", is_flag=True, help="Archived plans too.")
@client_command
async def list_plans(console: Console, client: BillingClient, include_archived: bool) -> None:
    """Every plan."""

    async def page(token: str) -> tuple[Sequence[catalogue_pb2.Plan], str]:
        request = catalogue_pb2.ListPlansRequest(page_token=token, include_archived=include_archived)
        listed = await client.catalogue.ListPlans(request, timeout=CALL_TIMEOUT_SECONDS)
        return listed.plans, listed.next_page_token

    found = [plan async for plan in pages(page)]
    if console.json:
        console.messages(found)
        return
    rows = [
        (
            p.plan_id,
            p.code,
            p.name,
            _interval(p),
            money(p.base_fee_minor, p.currency),
            str(len(p.charges)),
            when(p, "archived_at"),
        )
        for p in found
    ]
    console.table(("ID", "CODE", "NAME", "EVERY", "BASE FEE", "CHARGES", "ARCHIVED"), rows)


@plans.command("get", short_help="Show a plan.", help="Show one plan with its charges and features.")
@click.argument("plan_id", help="The plan's id (plan_…).")
@client_command
async def get_plan(console: Console, client: BillingClient, plan_id: str) -> None:
    """One plan."""
    found = await client.catalogue.GetPlan(catalogue_pb2.GetPlanRequest(plan_id=plan_id), timeout=CALL_TIMEOUT_SECONDS)
    show(console, found.plan)


@plans.command(
    "create",
    short_help="Create a plan.",
    help="Create a plan (platform admins). Charges and features are protobuf JSON, one per option, e.g. "
    '--charge \'{"meter_code": "api_calls", "per_unit": {"unit_price": "0.1"}}\'. Prices are decimal strings '
    "in major units; the base fee is in minor units.",
)
@click.option("--code", required=True, help="Unique code.")
@click.option("--name", required=True, help="Display name.")
@click.option("--currency", required=True, help="ISO 4217 code of every price, e.g. USD.")
@click.option("--interval", "interval_unit", default="month", show_default=True, help="month or year.")
@click.option("--interval-count", type=click.IntRange(min=0), default=0, help="Every this many intervals (0: 1).")
@click.option("--base-fee-minor", type=click.IntRange(min=0), default=0, help="Base fee per period, minor units.")
@click.option("--trial-days", type=click.IntRange(min=0), default=0, help="Free trial days.")
@click.option("--base-fee-timing", default="", help="advance (default) or arrears.")
@click.option("--proration-unit", default="", help="second (default) or day.")
@click.option("--charge", "charges", multiple=True, help="A usage charge as protobuf JSON (repeatable).")
@click.option("--feature", "features", multiple=True, help="A granted feature as protobuf JSON (repeatable).")
@client_command
async def create_plan(
    console: Console,
    client: BillingClient,
    charges: tuple[str, ...],
    features: tuple[str, ...],
    **fields: str | int,
) -> None:
    """Create a plan."""
    request = catalogue_pb2.CreatePlanRequest(**fields)  # type: ignore[arg-type]
    for text in charges:
        request.charges.append(_parsed(text, catalogue_pb2.Charge(), "--charge"))
    for text in features:
        request.features.append(_parsed(text, catalogue_pb2.PlanFeature(), "--feature"))
    created = await client.catalogue.CreatePlan(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, created.plan)


def _parsed(text: str, message: Part, option: str) -> Part:
    try:
        return json_format.Parse(text, message)
    except json_format.ParseError as error:
        raise click.BadParameter(str(error).splitlines()[0], param_hint=option) from error


@plans.command(
    "archive",
    short_help="Archive a plan.",
    help="Archive a plan: it takes no new subscriptions; running ones go on (platform admins).",
)
@click.argument("plan_id", help="The plan's id (plan_…).")
@client_command
async def archive_plan(console: Console, client: BillingClient, plan_id: str) -> None:
    """Archive a plan."""
    request = catalogue_pb2.ArchivePlanRequest(plan_id=plan_id)
    archived = await client.catalogue.ArchivePlan(request, timeout=CALL_TIMEOUT_SECONDS)
    show(console, archived.plan)
