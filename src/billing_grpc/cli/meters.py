"""`billing-grpc meters`: what usage is measured by."""

from __future__ import annotations

import click

from billing.v1 import catalogue_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.tables import pairs, when
from billing_grpc.client import BillingClient


@click.group("meters", short_help="Meters: list, get, create.")
def meters() -> None:
    """Meters (what usage events are counted by): list, get, create."""


@meters.command("list", short_help="List meters.", help="List every meter, by code.")
@client_command
async def list_meters(console: Console, client: BillingClient) -> None:
    """Every meter."""
    listed = await client.catalogue.ListMeters(catalogue_pb2.ListMetersRequest(), timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.messages(listed.meters)
        return
    rows = [(m.code, m.name, m.aggregation, m.property, when(m, "created_at")) for m in listed.meters]
    console.table(("CODE", "NAME", "AGGREGATION", "PROPERTY", "CREATED"), rows)


@meters.command("get", short_help="Show a meter.", help="Show one meter.")
@click.argument("code", help="The meter's code.")
@client_command
async def get_meter(console: Console, client: BillingClient, code: str) -> None:
    """One meter."""
    found = await client.catalogue.GetMeter(catalogue_pb2.GetMeterRequest(code=code), timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(found.meter)
    else:
        console.record(pairs(found.meter))


@meters.command("create", short_help="Create a meter.", help="Create a meter (platform admins).")
@click.option("--code", required=True, help="Its code, used by usage events and charges.")
@click.option("--name", required=True, help="Its display name.")
@click.option("--aggregation", default="sum", show_default=True, help="count, sum, max, unique_count or latest.")
@click.option("--property", "property_", default="", help="The event property aggregated (sum, max, unique_count).")
@client_command
async def create_meter(
    console: Console, client: BillingClient, code: str, name: str, aggregation: str, property_: str
) -> None:
    """Create a meter."""
    request = catalogue_pb2.CreateMeterRequest(code=code, name=name, aggregation=aggregation, property=property_)
    created = await client.catalogue.CreateMeter(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(created.meter)
    else:
        console.record(pairs(created.meter))
