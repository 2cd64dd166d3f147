"""`billing-grpc features`: what plans entitle their subscribers to."""

from __future__ import annotations

import click

from billing.v1 import catalogue_pb2
from billing_grpc.cli.client_command import CALL_TIMEOUT_SECONDS, client_command
from billing_grpc.cli.console import Console
from billing_grpc.cli.tables import pairs, when
from billing_grpc.client import BillingClient


@click.group("features", short_help="Features: list, get, create.")
def features() -> None:
    """Features (what a plan entitles to): list, get, create."""


@features.command("list", short_help="List features.", help="List every feature, by code.")
@client_command
async def list_features(console: Console, client: BillingClient) -> None:
    """Every feature."""
    listed = await client.catalogue.ListFeatures(catalogue_pb2.ListFeaturesRequest(), timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.messages(listed.features)
        return
    rows = [(f.code, f.name, f.kind, f.meter_code, when(f, "created_at")) for f in listed.features]
    console.table(("CODE", "NAME", "KIND", "METER", "CREATED"), rows)


@features.command("get", short_help="Show a feature.", help="Show one feature.")
@click.argument("code", help="The feature's code.")
@client_command
async def get_feature(console: Console, client: BillingClient, code: str) -> None:
    """One feature."""
    request = catalogue_pb2.GetFeatureRequest(code=code)
    found = await client.catalogue.GetFeature(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(found.feature)
    else:
        console.record(pairs(found.feature))


@features.command("create", short_help="Create a feature.", help="Create a feature (platform admins).")
@click.option("--code", required=True, help="Its code, used by plans and entitlement checks.")
@click.option("--name", required=True, help="Its display name.")
@click.option("--kind", default="boolean", show_default=True, help="boolean, limit or metered.")
@click.option("--meter-code", default="", help="For a metered feature: the meter it caps.")
@client_command
async def create_feature(
    console: Console, client: BillingClient, code: str, name: str, kind: str, meter_code: str
) -> None:
    """Create a feature."""
    request = catalogue_pb2.CreateFeatureRequest(code=code, name=name, kind=kind, meter_code=meter_code)
    created = await client.catalogue.CreateFeature(request, timeout=CALL_TIMEOUT_SECONDS)
    if console.json:
        console.message(created.feature)
    else:
        console.record(pairs(created.feature))
